"""A cell's record: one JSON file per cell, written atomically, read and checked by the study.

The cell runner (:mod:`rnngrad.run.cell`) writes it; the tables (:mod:`rnngrad.study.tables`)
and the status (:mod:`rnngrad.study.status`) read it, without importing the runner.
docs/tables.md describes its keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rnngrad.core.cellid import cell_id
from rnngrad.core.files import atomic_write
from rnngrad.core.settings import CellSettings
from rnngrad.core.validation import SettingsError, shown
from rnngrad.run.provenance import settings_hash


def write_record(record: dict[str, Any], path: str | os.PathLike) -> None:
    """Write a record as JSON atomically (a temporary file in the same folder, then rename)."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record)))


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


class RecordError(ValueError):
    """A record file that is missing, unreadable or not a cell record."""


RECORD_KEYS = {"cell_id", "settings", "steps", "metrics", "profiles", "provenance"}


def check_record(record: Any, path: str | os.PathLike) -> CellSettings:
    """The settings of a record that is whole and says consistently which cell it is.

    Raises :class:`RecordError` naming ``path`` when the JSON is not a record (``{}``,
    ``[]``, ``null``), when its ``cell_id`` is not the id of its own settings or of the file
    it is in (a record relabelled or copied to another cell's name), or when its
    ``settings_hash`` is not that of its settings (settings edited by hand).
    """
    if not isinstance(record, dict) or not RECORD_KEYS <= set(record):
        what = type(record).__name__ if not isinstance(record, dict) else "mapping"
        missing = sorted(RECORD_KEYS - set(record)) if isinstance(record, dict) else []
        raise RecordError(
            f"{path}: valid JSON but not a cell record (a {what}"
            + (f" without {', '.join(missing)})" if missing else ")")
        )
    try:
        s = CellSettings.from_dict(record["settings"])
    except (SettingsError, TypeError, AttributeError) as e:
        raise RecordError(f"{path}: the record's settings are not valid ({e})") from e
    cid, own = record["cell_id"], cell_id(s)
    if cid != own:
        raise RecordError(
            f"{path}: the record says cell {shown(cid)} but its settings are those of "
            f"cell {own!r} (relabelled?); delete it and rerun the workflow"
        )
    posix = Path(path).as_posix()
    if "/cells/" in f"/{posix}" and not posix.endswith(f"cells/{cid}.json"):
        raise RecordError(
            f"{path}: holds the record of cell {cid!r}, not of the cell its name says "
            "(copied or renamed?); delete it and rerun the workflow"
        )
    recorded = (
        record["provenance"].get("settings_hash")
        if isinstance(record["provenance"], dict)
        else None
    )
    if recorded != settings_hash(s):
        raise RecordError(
            f"{path}: the record's settings_hash {shown(recorded)} is not that of its "
            f"settings ({settings_hash(s)}): edited by hand?; delete it and rerun the workflow"
        )
    return s
