"""Loading plugins: import each file or module a config lists, check its objects against the
Protocols (:mod:`.protocols`), probe them on a tiny batch, and register their names
(:mod:`rnngrad.core.registry`, and a model in the backends through :mod:`rnngrad.backends`).

Every problem is a :class:`PluginError` naming the plugin (its source) and what is wrong, raised
when the config is read (``rnngrad validate``, Snakemake's parse), before any job runs: a missing
file, an import that fails, a name that clashes with a built-in, an object without a required
member, a probe whose output has the wrong type or shape, a NumPy step that disagrees with the
torch step.

Example
-------
>>> plugins = load(["examples/plugins/mingru.py"], ".")  # doctest: +SKIP
>>> [p.name for p in plugins]  # doctest: +SKIP
['mingru']
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from rnngrad import backends
from rnngrad.core import choices, registry
from rnngrad.core.registry import Plugin
from rnngrad.core.validation import NAME
from rnngrad.plugins import probe
from rnngrad.plugins.protocols import KINDS, PluginError

BUILT_IN = {"model": choices.MODELS, "task": choices.TASKS, "remedy": choices.PENALTY_KINDS}
_LOADED: dict[tuple[str, str], list[Plugin]] = {}  # (path, sha256) -> its plugins, this process


def is_file(source: str) -> bool:
    """Whether a ``plugins:`` entry names a file (``*.py`` or a path) rather than a module."""
    return source.endswith(".py") or "/" in source or os.sep in source


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory (the workflow's folder) when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def locate(source: str, base: str | os.PathLike) -> tuple[str, Path]:
    """The source as cells name it and the file it loads from (a file relative to ``base``,
    the folder of the config that lists it; a module by its import path)."""
    if is_file(source):
        path = Path(base) / source
        if not path.is_file():
            raise PluginError(
                f"plugin {source}: no such file {path} (a plugin's path is relative to the "
                "config file that lists it)"
            )
        return shown_path(path), path.resolve()
    try:
        spec = importlib.util.find_spec(source)
    except (ImportError, ValueError) as e:
        raise PluginError(f"plugin {source}: cannot find the module ({e})") from e
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        raise PluginError(
            f"plugin {source}: no importable module of that name (nor a file: a file's "
            "name ends in .py)"
        )
    return source, Path(spec.origin).resolve()


def _import(source: str, path: Path, sha: str):
    try:
        if is_file(source):
            name = f"rnngrad_plugin_{path.stem}_{sha[:12]}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses and pickling look modules up by name
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(source)
    except Exception as e:
        raise PluginError(
            f"plugin {source}: importing {path} failed: {type(e).__name__}: {e}"
        ) from e


def load_one(source: str, base: str | os.PathLike = ".", probed: bool = True) -> list[Plugin]:
    """Import, check, probe (unless ``probed`` is False: a cell's job, whose config was
    probed when the workflow read it) and register the plugins of one source."""
    shown, path = locate(source, base)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if (str(path), sha) in _LOADED:
        return _LOADED[str(path), sha]
    module = _import(source, path, sha)
    found: list[Plugin] = []
    for kind, (attr, _) in KINDS.items():
        table = getattr(module, attr, None)
        if table is None:
            continue
        if not isinstance(table, dict):
            raise PluginError(f"plugin {shown}: {attr} must be a dict of name -> object")
        for name, obj in table.items():
            found.append(_checked(kind, name, obj, shown, path, sha, probed))
    if not found:
        raise PluginError(
            f"plugin {shown}: registers nothing; define MODELS, REMEDIES or TASKS, a dict of "
            "name -> object (docs/plugins.md)"
        )
    for p in found:
        try:
            registry.register(p)
        except ValueError as e:
            raise PluginError(str(e)) from e
        if p.kind == "model":
            recurrent = tuple(getattr(p.obj, "recurrent", p.params))
            backends.register_plugin_model(p.name, p.obj, recurrent)
    _LOADED[str(path), sha] = found
    return found


def _checked(
    kind: str, name: Any, obj: Any, shown: str, path: Path, sha: str, probed: bool = True
) -> Plugin:
    """The plugin ``name`` of ``kind`` once it satisfies its Protocol and passes its probe."""
    _, protocols = KINDS[kind]
    where = f"plugin {shown}: {kind} {name!r}"
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise PluginError(f"{where}: a name is made of letters, digits, '_', '.' and '-'")
    if name in BUILT_IN[kind]:
        raise PluginError(f"{where}: the name is a built-in {kind}'s; choose another")
    if not any(isinstance(obj, p) for p in protocols):
        missing = sorted(
            {m for p in protocols for m in _members(p) if not hasattr(obj, m)},
        )
        need = " or ".join(p.__name__ for p in protocols)
        raise PluginError(
            f"{where} ({type(obj).__name__}) does not satisfy the {need} Protocol: it has no "
            f"{', '.join(missing)} (docs/plugins.md)"
        )
    plugin = Plugin(kind, name, obj, shown, str(path), sha)
    if not probed:  # the weights' names still come from one draw of a model's init
        return Plugin(kind, name, obj, shown, str(path), sha, probe.weight_names(plugin))
    try:
        params = getattr(probe, kind)(plugin)
    except PluginError:
        raise
    except Exception as e:  # the plugin's own code raised on the probe
        raise PluginError(f"{where}: the probe raised {type(e).__name__}: {e}") from e
    return Plugin(kind, name, obj, shown, str(path), sha, tuple(params))


def _members(protocol) -> list[str]:
    """The members a Protocol requires: its methods and annotated attributes."""
    own = [n for n in vars(protocol) if not n.startswith("_")]
    return sorted({*own, *getattr(protocol, "__annotations__", {})})


def load(sources, base: str | os.PathLike = ".") -> list[Plugin]:
    """Load every source of a config's ``plugins:`` (relative to ``base``) in order."""
    return [p for source in sources for p in load_one(source, base)]


def load_declared(entries) -> list[Plugin]:
    """Load the plugins a cell's ``plugins`` setting names (sources relative to the working
    directory, the workflow's folder, as the config resolved them), each checked to be the code
    the settings were made with: a plugin edited since is a PluginError (rerun the workflow,
    which reruns the cells that use it)."""
    out = []
    for e in entries:
        try:
            kind, name, source, sha = registry.parse(e)
        except ValueError as err:
            raise PluginError(f"plugins: {err}") from err
        loaded = {(p.kind, p.name): p for p in load_one(source, ".", probed=False)}
        p = loaded.get((kind, name))
        if p is None:
            raise PluginError(f"plugin {source}: registers no {kind} {name!r} (any more?)")
        if p.sha256[: registry.SHORT_SHA] != sha:
            raise PluginError(
                f"plugin {source}: its file changed since the settings were made (sha256 "
                f"{sha}... then, {p.sha256[: registry.SHORT_SHA]}... now); run the workflow "
                "again, which reruns exactly the cells that use it"
            )
        out.append(p)
    return out
