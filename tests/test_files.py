"""Atomic writes: whole files only, with the mode the umask gives."""

from __future__ import annotations

import os
import stat

import pytest

from rnngrad.core.files import atomic_write
from rnngrad.run.record import write_record
from rnngrad.study.tables import build_tables, write_tables


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_results_get_the_mode_the_umask_gives(tmp_path, umask):
    """Records, tables and anything written atomically (the report) are 0644 under umask
    022 and 0640 under 027, as a plain open() would make them (mkstemp alone gives 0600)."""
    want = 0o666 & ~umask
    open(tmp_path / "plain", "w").close()
    assert _mode(tmp_path / "plain") == want  # what the umask gives, independently
    atomic_write(tmp_path / "report.html", lambda tmp: tmp.write_text("<html></html>"))
    write_record({"cell_id": "x"}, tmp_path / "cells" / "x.json")
    written = write_tables(build_tables([]), tmp_path / "tables")
    for path in [tmp_path / "report.html", tmp_path / "cells" / "x.json", *written]:
        assert _mode(path) == want, (path, oct(_mode(path)))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["r.json"]
