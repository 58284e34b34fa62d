"""The docs against the code: files that commands name exist, and numbers the code computes
(cell counts, `rnngrad plan`'s cost estimates) are the code's, not copied by hand long ago.

Scans README.md, config/README.md, docs/*.md and the top-level help, whatever they hold (a
placeholder in a path is written `<name>`). A cost estimate is stated as "`rnngrad plan
--configfile config/studies/NAME.yaml` estimates (about) N cell-seconds"; a cell count as a
comment on a command, `rnngrad plan --configfile X  # N cells`.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from test_pipeline import REPO

from rnngrad import cli
from rnngrad.study.config import load_study

TOLERANCE = 0.05  # stated estimates are rounded ("about 260,000")


def doc_files():
    return [
        REPO / "README.md",
        REPO / "config" / "README.md",
        *sorted((REPO / "docs").glob("*.md")),
    ]


def texts() -> dict[str, str]:
    out = {str(p.relative_to(REPO)): p.read_text() for p in doc_files() if p.exists()}
    out["rnngrad --help"] = cli.parser().format_help()
    return out


def flat(text: str) -> str:
    return " ".join(text.split())


def plan_total(configfile: str) -> float:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["plan", "--configfile", configfile, "--root", str(REPO)]) == 0
    return float(re.search(r"estimated (\d+) cell-seconds in all", out.getvalue()).group(1))


def number(text: str) -> float:
    return float(text.replace(",", ""))


PATHS = re.compile(r"(?<![\w/.-])((?:config|profiles|workflow)/[\w./-]*\w)")
ESTIMATE = re.compile(
    r"`rnngrad plan --configfile (\S+?)`[^`]*?\bestimates(?: about)? ([\d,]+) cell-seconds"
)
CLAIMED = re.compile(r"\b(?:estimates|puts \w+ at)(?: about)? ([\d,]+) cell-seconds")
CELL_COUNT = re.compile(r"rnngrad (?:plan|grid|validate) --configfile (\S+)[^\n#]*#\D*?(\d+) cells")


@pytest.mark.parametrize("name", list(texts()))
def test_named_files_exist(name):
    text = texts()[name]
    missing = sorted({p for p in PATHS.findall(text) if "<" not in p and not (REPO / p).exists()})
    assert not missing, f"{name} names files that do not exist: {missing}"


@pytest.mark.parametrize("name", list(texts()))
def test_cell_counts_are_the_code_s(name):
    for configfile, n in CELL_COUNT.findall(texts()[name]):
        cells = len(load_study([REPO / configfile], REPO).cells)
        assert int(n) == cells, f"{name}: {configfile} has {cells} cells, the text says {n}"


@pytest.mark.parametrize("name", list(texts()))
def test_cost_estimates_are_rnngrad_plan_s(name):
    text = flat(texts()[name])
    stated = ESTIMATE.findall(text)
    # every estimate in the present tense names the study it is of, so that it can be checked
    assert len(CLAIMED.findall(text)) == len(stated), (
        f"{name}: state a cost estimate as "
        "'`rnngrad plan --configfile config/studies/NAME.yaml` estimates N cell-seconds'"
    )
    for configfile, n in stated:
        total = plan_total(configfile)
        assert abs(number(n) - total) <= TOLERANCE * total, (
            f"{name}: {configfile} is estimated at {total:.0f} cell-seconds, the text says {n}"
        )
