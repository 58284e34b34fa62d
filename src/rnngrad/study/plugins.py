"""A study's plugins: the config's ``plugins:`` list loaded (:mod:`rnngrad.plugins.load`), the
folder its paths are relative to, the schema with the plugins' names allowed, and each cell's
``plugins`` entries (the plugins it uses, with their code's hash: rnngrad.core.registry)."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from rnngrad.core import registry
from rnngrad.core.validation import PLUGGABLE, shown
from rnngrad.plugins.load import load
from rnngrad.plugins.protocols import PluginError


def plugin_dir(paths: Iterable[str | os.PathLike]) -> Path:
    """The folder that a config's ``plugins:`` paths are relative to: that of the last of
    ``paths`` (merged in order) that sets ``plugins``, else the working directory."""
    base = Path(".")
    for path in paths:
        with open(path) as f:
            data = yaml.safe_load(f)
        if isinstance(data, dict) and "plugins" in data:
            base = Path(path).parent
    return base


def load_plugins(sources: Any, base: str | os.PathLike) -> list[registry.Plugin]:
    """The plugins of a config's ``plugins:`` list, loaded and registered
    (:mod:`rnngrad.plugins.load`; a bad one is a PluginError naming it)."""
    if not isinstance(sources, list) or not all(isinstance(x, str) and x for x in sources):
        raise PluginError(
            f"plugins: must be a list of Python files or module names (value {shown(sources)})"
        )
    if not sources:
        return []
    try:
        return load(sources, base)
    except PluginError as e:
        raise PluginError(f"plugins: {e}") from e


def schema_with(sch: dict[str, Any], plugins: list[registry.Plugin]) -> dict[str, Any]:
    """The config schema ``sch`` with the plugins' names among the allowed models, tasks,
    penalties and gradient transforms (a copy; ``sch`` itself when there are none)."""
    if not plugins:
        return sch
    sch = copy.deepcopy(sch)
    defs = sch["$defs"]
    for p in plugins:
        if p.kind == "model":
            defs["model"]["enum"].append(p.name)
        elif p.kind == "task":
            defs["task"]["enum"].append(p.name)
        else:
            if hasattr(p.obj, "penalty"):
                defs["penalty"]["properties"]["kind"]["enum"].append(p.name)
            if hasattr(p.obj, "transform"):
                defs["gradient_transform"]["enum"].append(p.name)
    return sch


def plugin_entries(values: Mapping[str, Any]) -> list[str]:
    """The ``plugins`` entries of a cell's resolved values: one per plugin name it uses."""
    out = set()
    for key, kind in PLUGGABLE.items():
        parent, _, child = key.partition(".")
        v = values.get(parent)
        if child:
            v = v.get(child) if isinstance(v, Mapping) else None
        p = registry.get(kind, v) if isinstance(v, str) else None
        if p is not None:
            out.add(p.entry)
    return sorted(out)


def cell_plugin_files(s) -> list[str]:
    """The files of the plugins a cell's settings use (its job's inputs), as loaded here."""
    out = []
    for e in s.plugins:
        kind, name, source, _ = registry.parse(e)
        p = registry.get(kind, name)
        path = p.source if p is not None and os.path.exists(p.source) else None
        path = path or (p.path if p is not None else source)
        if path not in out:
            out.append(path)
    return out


def plugin_notes(cells) -> dict[str, dict[str, str]]:
    """What the report says of each plugin the cells use: kind, first docstring paragraph,
    declared citation, source and SHA-256, by name."""
    notes = {}
    for c in cells:
        for e in c.settings.plugins:
            kind, name, _, _ = registry.parse(e)
            p = registry.get(kind, name)
            if p is not None and name not in notes:
                notes[name] = {
                    "kind": kind,
                    "doc": p.doc,
                    "citation": p.citation,
                    "source": p.source,
                    "sha256": p.sha256,
                }
    return notes
