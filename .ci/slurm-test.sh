#!/usr/bin/env bash
# The SLURM stage of CI, run after the local tests (the executor plugin slows every Snakemake
# start where SLURM is installed but not up, so it lives in a venv of its own):
# a venv with the [slurm] extra, a one-node SLURM (.ci/slurm-up.sh), tests/test_slurm.py, and the
# daemons stopped by their PIDs (.ci/slurm-down.sh), also when the tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=${RNNGRAD_SLURM_DIR:-$(mktemp -d /tmp/rnngrad-slurm.XXXXXX)}
chmod 755 "$scratch"  # munged needs every folder above its socket open to all
venv=$scratch/venv
python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install -q -e '.[slurm]'  # the plugin; everything else comes from the system

trap '.ci/slurm-down.sh "$scratch/slurm"' EXIT
.ci/slurm-up.sh "$scratch/slurm"
export SLURM_CONF=$scratch/slurm/slurm.conf
"$venv/bin/python" -m pytest tests/test_slurm.py -q -m slurm "$@"
