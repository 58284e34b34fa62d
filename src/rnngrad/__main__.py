"""``python -m rnngrad``: the ``rnngrad`` command."""

import sys

from rnngrad.cli import main

sys.exit(main())
