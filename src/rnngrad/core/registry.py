"""The registry of plugins: the models, remedies and tasks that a study's ``plugins:`` files
register by name (:mod:`rnngrad.plugins` loads and checks them), and how a cell's settings
declare the plugins it uses.

The core reads this table to treat a plugin's name like a built-in one (a model's initial
weights, a task's batches, baseline and criterion, validation); nothing here imports a plugin.
A cell declares each plugin it uses in its ``plugins`` setting, one entry
``<kind>:<name>=<source>@<sha>`` per name (the source as the config gave it, resolved, and the
first 16 hex digits of the SHA-256 of its file), so a cell's settings hash changes with the
code of exactly the plugins it uses, and its record says which code that was.

Example
-------
>>> e = entry("model", "mingru", "examples/plugins/mingru.py", "0123456789abcdef" * 4)
>>> e
'model:mingru=examples/plugins/mingru.py@0123456789abcdef'
>>> parse(e)
('model', 'mingru', 'examples/plugins/mingru.py', '0123456789abcdef')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

KINDS = ("model", "remedy", "task")
SHORT_SHA = 16  # hex digits of a plugin's SHA-256 in a cell's settings
ENTRY = re.compile(r"(model|remedy|task):([A-Za-z0-9][A-Za-z0-9_.-]*)=(.+)@([0-9a-f]{16})")


@dataclass(frozen=True)
class Plugin:
    """One registered name: its kind, the object, and where its code came from."""

    kind: str  # model, remedy or task
    name: str  # the name cells use (model: mingru, task: delayed_xor, ...)
    obj: Any  # the object following the kind's Protocol (rnngrad.plugins.protocols)
    source: str  # the file (resolved path) or module the config lists
    path: str  # the file it was loaded from, absolute
    sha256: str  # of that file's bytes
    params: tuple[str, ...] = ()  # a model's weight names, as its probe drew them

    @property
    def entry(self) -> str:
        """This plugin's entry in a cell's ``plugins`` setting."""
        return entry(self.kind, self.name, self.source, self.sha256)

    @property
    def doc(self) -> str:
        """The first paragraph of the object's docstring (its class's), one line."""
        text = (getattr(self.obj, "__doc__", None) or "").strip()
        return " ".join(text.split("\n\n")[0].split())

    @property
    def citation(self) -> str:
        """The work the plugin declares it follows (its ``citation`` attribute), or ""."""
        return str(getattr(self.obj, "citation", "") or "")


# (kind, name) -> the plugin registered under it in this process
PLUGINS: dict[tuple[str, str], Plugin] = {}


def entry(kind: str, name: str, source: str, sha256: str) -> str:
    """A cell's ``plugins`` entry for one registered name."""
    return f"{kind}:{name}={source}@{sha256[:SHORT_SHA]}"


def parse(text: str) -> tuple[str, str, str, str]:
    """An entry's (kind, name, source, short sha); ValueError naming it when malformed."""
    m = ENTRY.fullmatch(text)
    if m is None:
        raise ValueError(
            f"not a plugin entry <kind>:<name>=<source>@<16 hex digits>, kind one of "
            f"{', '.join(KINDS)} (value {text[:200]!r})"
        )
    kind, name, source, sha = m.groups()
    return kind, name, source, sha


def declared(entries) -> set[tuple[str, str]]:
    """The (kind, name) pairs a cell's ``plugins`` setting declares (malformed ones left out:
    validation names them)."""
    out = set()
    for e in entries:
        m = ENTRY.fullmatch(e) if isinstance(e, str) else None
        if m:
            out.add((m.group(1), m.group(2)))
    return out


def get(kind: str, name: str) -> Plugin | None:
    """The plugin registered as ``name`` of ``kind`` in this process, or None."""
    return PLUGINS.get((kind, name))


def obj(kind: str, name: str) -> Any:
    """The object of a registered plugin, or None (a built-in name, or one not loaded here)."""
    p = PLUGINS.get((kind, name))
    return None if p is None else p.obj


def register(plugin: Plugin) -> None:
    """Add ``plugin``; the same file loaded again (edited) replaces it, a name registered by
    another file is a ValueError naming both."""
    key = (plugin.kind, plugin.name)
    old = PLUGINS.get(key)
    if old is not None and old.path != plugin.path:
        raise ValueError(
            f"plugin {plugin.source}: {plugin.kind} {plugin.name!r} is already registered by "
            f"{old.source}; rename one of them"
        )
    PLUGINS[key] = plugin


def names(kind: str) -> tuple[str, ...]:
    """The names of ``kind`` registered in this process, in registration order."""
    return tuple(n for k, n in PLUGINS if k == kind)
