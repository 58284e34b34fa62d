"""A study's config: read, fill defaults, validate, and expand the grid into cells.

A config (``config/config.yaml``, plus any ``--configfile`` merged key by key) has a ``study``
name, a ``grid`` of axes, the ``defaults`` of every cell and named ``remedies`` (overrides of the
defaults). A cell's settings resolve as ``defaults``, then the grid's values for that cell, then
its remedy's overrides, then the remedy's ``by_task`` settings for the cell's task. Validation
happens here, once, before any job runs: the JSON schema (``config.schema.yaml``, shipped in the
package, which also holds the defaults), then what a schema cannot say (remedies missing, a key
set by both a grid axis and a remedy, settings that do not fit together). Every message names
the key path and the value. Torch is never imported.

Example
-------
>>> study = study_from_config({"grid": {"backend": ["numpy"], "seq_len": [10, 30],
...     "w_rec_scale": [0.9], "remedy": ["none"], "seed": [0]}})
>>> list(study.cells)
['backend=numpy/remedy=none/seq_len=10/w_rec_scale=0.9/seed=0', \
'backend=numpy/remedy=none/seq_len=30/w_rec_scale=0.9/seed=0']
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import itertools
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rnngrad.core.cellid import AXES, id_of
from rnngrad.core.settings import CellSettings
from rnngrad.core.validation import SettingsError, shown
from rnngrad.study.paths import CELL_RECORD, fill
from rnngrad.study.plugins import load_plugins, plugin_dir, plugin_entries, schema_with

# YAML 1.2's core-schema float (exponent without a dot, e.g. 1e-3), plus PyYAML's forms
FLOAT_RE = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


@lru_cache(maxsize=1)
def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:float"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_RE, list("-+0123456789."))
    return Loader


def yaml_load(stream: Any) -> Any:
    """YAML (safe) with YAML 1.2's floats: ``1e-3`` is the number 0.001, as users write it
    (YAML 1.1, PyYAML's default, reads it as a string)."""
    import yaml

    return yaml.load(stream, Loader=_yaml_loader())


# settings that are real numbers: YAML's `1` becomes 1.0, so ids and params have one form
FLOATS = {f.name for f in dataclasses.fields(CellSettings) if f.type == "float"}
NESTED_FLOATS = {"clip": ("threshold",), "penalty": ("weight",)}
BY_TASK = "by_task"  # a remedy's settings for the cells of one task, over its own
MAX_CONFIG_VALUES = 100_000  # a config expanding to more values is refused (a YAML alias bomb)
DEFAULT_CONFIG = Path("config") / "config.yaml"
SCHEMA = Path(__file__).with_name("config.schema.yaml")  # package data: works from a wheel


class ConfigError(SettingsError):
    """A config that does not validate; the message names each key path and value."""


@dataclass(frozen=True)
class Cell:
    cell_id: str  # e.g. backend=numpy/remedy=none/seq_len=100/w_rec_scale=0.9/seed=0
    settings: CellSettings

    @property
    def settings_json(self) -> str:
        """The resolved settings as canonical JSON (the cell job's only parameter), without the
        later settings that hold their default (:meth:`CellSettings.canonical`)."""
        return json.dumps(self.settings.canonical(), sort_keys=True)


@dataclass(frozen=True)
class Study:
    name: str
    config: dict[str, Any]  # validated, defaults filled in
    cells: dict[str, Cell]  # by cell id, in grid order

    def record_path(self, cell_id: str, root: str | os.PathLike = ".") -> Path:
        """Where the pipeline writes a cell's record."""
        return fill(CELL_RECORD, root, study=self.name, cell_id=cell_id)


# -- reading ------------------------------------------------------------------------------------
def read_config(paths: Iterable[str | os.PathLike]) -> dict[str, Any]:
    """Read YAML configs and merge them in order, key by key, as Snakemake merges
    ``--configfile`` over ``configfile:`` (nested mappings merge, anything else is replaced)."""
    import yaml

    merged: dict[str, Any] = {}
    for path in paths:
        with open(path) as f:
            try:
                data = yaml_load(f)
            except yaml.YAMLError as e:
                raise ConfigError(f"{path}: not valid YAML ({e})") from e
        if data is None:
            continue
        check_size(data, str(path))
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a config must be a mapping (value {shown(data)})")
        _merge(merged, data)
    return merged


def _merge(base: dict[str, Any], new: Mapping[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)


def load_study(
    configfiles: Iterable[str | os.PathLike] = (), root: str | os.PathLike = "."
) -> Study:
    """The study of ``root/config/config.yaml`` with ``configfiles`` merged over it.

    Outside a workflow checkout (no ``root/config/config.yaml``) the ``configfiles`` alone are
    merged over the schema's defaults; with neither, a :class:`ConfigError` says what to pass.
    """
    base = Path(root) / DEFAULT_CONFIG
    paths = [*([base] if base.exists() else []), *configfiles]
    if not paths:
        raise ConfigError(
            f"{base}: no such file; run from a checkout of the workflow, pass its folder "
            "with --root, or pass a study file with --configfile"
        )
    return study_from_config(read_config(paths), plugin_dir(paths))


@lru_cache(maxsize=1)
def config_schema() -> dict[str, Any]:
    """The config's JSON schema (package data, with the defaults)."""
    import yaml

    with open(SCHEMA) as f:
        return yaml.safe_load(f)


# -- validation ---------------------------------------------------------------------------------
def study_from_config(config: Mapping[str, Any], plugin_base: str | os.PathLike = ".") -> Study:
    """Load the config's plugins (paths relative to ``plugin_base``, the folder of the config
    file that lists them: :func:`plugin_dir`), fill defaults, validate and expand a config into
    its cells.

    Raises
    ------
    ConfigError
        naming the key path and value of every problem found.
    """
    check_size(config)
    cfg = copy.deepcopy(dict(config))
    try:
        loaded = load_plugins(cfg.get("plugins", []), plugin_base)
    except SettingsError as e:
        raise ConfigError(str(e)) from e
    sch = schema_with(config_schema(), loaded)
    _numbers(cfg, sch, sch)
    _fill_defaults(cfg, sch, sch)
    _check_schema(cfg, sch)
    _check_remedies(cfg)
    return Study(cfg["study"], cfg, _expand(cfg))


def check_size(config: Any, where: str = "config") -> None:
    """Refuse a config that expands to more than MAX_CONFIG_VALUES values, counting each
    value every time it is reached (a YAML alias is a shared reference that repr, JSON and the
    schema check expand), before anything walks it whole."""
    stack, n = [config], 0
    while stack:
        value = stack.pop()
        n += 1
        if n > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"{where}: expands to more than {MAX_CONFIG_VALUES:,} values (YAML anchors "
                "and aliases nested in one another?); a study config holds a few hundred"
            )
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)


def _numbers(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """Strings that the schema wants as numbers and that read as one (``1e-3``: YAML 1.1, as
    Snakemake reads config files, takes it for a string) become floats, in place."""
    schema = _resolve_ref(schema, root)
    types = schema.get("type", [])
    if isinstance(instance, str) and "number" in ([types] if isinstance(types, str) else types):
        try:
            number = float(instance)
        except ValueError:
            return instance
        return number if math.isfinite(number) else instance
    if isinstance(instance, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, value in instance.items():
            sub = props.get(key, extra if isinstance(extra, Mapping) else None)
            if sub is not None:
                instance[key] = _numbers(value, sub, root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        instance[:] = [_numbers(v, schema["items"], root) for v in instance]
    return instance


def _resolve_ref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _fill_defaults(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> None:
    """Insert the schema's defaults of missing keys, recursively (jsonschema does not)."""
    schema = _resolve_ref(schema, root)
    if not isinstance(instance, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        sub = _resolve_ref(sub, root)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub, root)


def _key_path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(config)"


_TYPES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def _expected(schema: Mapping[str, Any]) -> str:
    """What a schema accepts, in words: 'an integer >= 1', 'one of tanh, relu', ..."""
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    types = schema.get("type", [])
    words = " or ".join(_TYPES[t] for t in ([types] if isinstance(types, str) else types))
    bounds = [
        f"{op} {schema[k]}"
        for k, op in (
            ("minimum", ">="),
            ("exclusiveMinimum", ">"),
            ("maximum", "<="),
            ("exclusiveMaximum", "<"),
        )
        if k in schema
    ]
    if "pattern" in schema:
        bounds.append("made of letters, digits, '_', '.' and '-'")
    return " ".join([words or "a valid value", " and ".join(bounds)]).strip()


def _schema_messages(error) -> list[str]:
    path = list(error.absolute_path)
    where = _key_path(path)
    kind = error.validator
    if kind == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                also = (
                    f"; did you mean {shown(hint[0])}?"
                    if hint
                    else f"; allowed: {', '.join(allowed)}"
                )
                value = shown(error.instance[key])
                out.append(f"{_key_path([*path, key])}: unknown key{also} (value {value})")
        return out
    if kind == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [f"{_key_path([*path, k])}: required key is missing (in {where})" for k in missing]
    if kind == "propertyNames":
        return [
            f"{_key_path([*path, error.instance])}: not a valid name, must be "
            f"{_expected(error.schema['propertyNames'])} (value {shown(error.instance)})"
        ]
    if kind == "minItems":
        return [f"{where}: must list at least one value (value {shown(error.instance)})"]
    if kind == "uniqueItems":
        return [f"{where}: lists a value twice (value {shown(error.instance)})"]
    return [f"{where}: must be {_expected(error.schema)} (value {shown(error.instance)})"]


def _check_schema(cfg: dict[str, Any], schema: Mapping[str, Any]) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    messages: list[str] = []
    for error in sorted(
        validator.iter_errors(cfg), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        for m in _schema_messages(error):
            if m not in messages:
                messages.append(m)
    if messages:
        raise ConfigError("\n".join(messages))


def _check_remedies(cfg: dict[str, Any]) -> None:
    grid, remedies = cfg["grid"], cfg["remedies"]
    messages = []
    for i, name in enumerate(grid["remedy"]):
        if name not in remedies:
            messages.append(
                f"grid.remedy[{i}]: remedy {shown(name)} is not defined under remedies "
                f"(defined: {', '.join(remedies) or 'none'}) (value {shown(name)})"
            )
            continue
        # the remedy's own settings, then each task's: none may set what a grid axis sets
        sources = [(f"remedies.{name}", f"remedy {shown(name)}", remedies[name])] + [
            (f"remedies.{name}.{BY_TASK}.{task}", f"remedy {shown(name)} for task {shown(task)}", o)
            for task, o in remedies[name].get(BY_TASK, {}).items()
        ]
        for i_src, (where, owner, overrides) in enumerate(sources):
            for key, value in overrides.items():
                if i_src and key in ("task", BY_TASK):
                    messages.append(
                        f"{where}.{key}: a task's settings cannot set {key} (value {shown(value)})"
                    )
                elif key in grid:
                    messages.append(
                        f"{where}.{key}: set both by the grid axis grid.{key} and by {owner}; "
                        f"keep one of the two (value {shown(value)})"
                    )
    if messages:
        raise ConfigError("\n".join(messages))


# -- expansion ----------------------------------------------------------------------------------
def _canonical(key: str, value: Any) -> Any:
    if key in FLOATS and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if key in NESTED_FLOATS and isinstance(value, dict):
        return {
            k: float(v) if k in NESTED_FLOATS[key] and type(v) is int else v
            for k, v in value.items()
        }
    return value


def _expand(cfg: dict[str, Any]) -> dict[str, Cell]:
    grid = cfg["grid"]
    axes = [*AXES, *(a for a in grid if a not in AXES)]
    extra = tuple(axes[len(AXES) :])
    cells: dict[str, Cell] = {}
    failures: dict[str, tuple[str, int]] = {}  # message -> (first cell id, count)
    for combo in itertools.product(*(enumerate(grid[a]) for a in axes)):
        values = {k: _canonical(k, v) for k, v in cfg["defaults"].items()}
        origin = {k: f"defaults.{k}" for k in values}
        for axis, (i, v) in zip(axes, combo, strict=False):
            values[axis] = _canonical(axis, v)
            origin[axis] = f"grid.{axis}[{i}]"
        remedy = values["remedy"]
        overrides = cfg["remedies"][remedy]
        for k, v in overrides.items():
            if k != BY_TASK:
                values[k] = _canonical(k, v)
                origin[k] = f"remedies.{remedy}.{k}"
        task = values["task"]  # the defaults' when neither the grid nor the remedy sets it
        for k, v in overrides.get(BY_TASK, {}).get(task, {}).items():
            values[k] = _canonical(k, v)
            origin[k] = f"remedies.{remedy}.{BY_TASK}.{task}.{k}"
        cell_id = id_of(values, axes)
        values["plugins"] = plugin_entries(values)
        try:
            s = CellSettings.from_dict({**values, "extra_axes": extra})
        except SettingsError as e:
            msg = _attribute(str(e), origin)
            first, n = failures.get(msg, (cell_id, 0))
            failures[msg] = (first, n + 1)
            continue
        cells[cell_id] = Cell(cell_id, s)
    if failures:
        raise ConfigError(
            "\n".join(
                f"{msg} [in cell {first}" + (f" and {n - 1} more]" if n > 1 else "]")
                for msg, (first, n) in failures.items()
            )
        )
    return cells


def _attribute(message: str, origin: Mapping[str, str]) -> str:
    """Rewrite a settings message ``key.sub: why`` to name where the key was set."""
    key, sep, why = message.partition(": ")
    top, _, sub = key.partition(".")
    if not sep or top not in origin:
        return message
    return f"{origin[top]}{'.' + sub if sub else ''}: {why}"
