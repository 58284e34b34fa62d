"""Validation of a cell's settings, table-driven: a checker per field (:data:`FIELDS`), then
the settings that must fit together (:data:`RULES`); :class:`SettingsError` and :func:`shown`,
the bounded value in every message. :meth:`rnngrad.core.settings.CellSettings.validate` calls
:func:`check`."""

from __future__ import annotations

import dataclasses
import math
import reprlib
from collections.abc import Callable
from typing import Any

from rnngrad.core import registry
from rnngrad.core.choices import (
    CHOICES,
    GATED,
    LRU_MAX_PHASE,
    MIN_EVAL_SEQUENCES,
    MIN_HELDOUT_SEQUENCES,
    MODEL_NONLINEARITIES,
    NAME,
    NESTED_NAMES,
    OMEGA_KINDS,
    OWN_RECURRENCE,
)

# a rnngrad.core.settings.CellSettings: not imported, as settings imports this module
# (tests/test_imports.py counts every import, so one under TYPE_CHECKING would be a cycle)
Settings = Any

SHOWN_CHARS = 300  # at most this many characters of a value in a message

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother = 3, 120, 120
_repr.maxdict = _repr.maxlist = _repr.maxtuple = _repr.maxset = 8


def shown(value: Any) -> str:
    """``repr(value)`` bounded to SHOWN_CHARS characters (a few levels, a few items each), so a
    message never expands a huge value (a YAML alias bomb)."""
    text = _repr.repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


class SettingsError(ValueError):
    """A setting that is unknown, of the wrong type, out of range, or that does not fit others.

    The message names the key path and the offending value.
    """


Checker = Callable[[Any], str | None]  # a value -> what is wrong with it, or None


def one_of(options: tuple[str, ...]) -> Checker:
    return lambda v: None if v in options else f"must be one of {', '.join(options)}"


def integer(low: int) -> Checker:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int):
            return "must be an integer"
        return f"must be >= {low}" if v < low else None

    return check


def real(low: float, high: float = math.inf, low_open: bool = False) -> Checker:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return "must be a number"
        if not math.isfinite(v):
            return "must be finite"
        if v < low or v > high or (low_open and v == low):
            lo = f"> {low}" if low_open else f">= {low}"
            return f"must be {lo}" + ("" if high == math.inf else f" and <= {high}")
        return None

    return check


def boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def name(v: Any) -> str | None:
    if isinstance(v, str) and NAME.fullmatch(v):
        return None
    return "must be a name made of letters, digits, '_', '.' and '-'"


# every field's checker, top-level and nested (``clip.kind``) alike, in the order checked
FIELDS: dict[str, Checker] = {
    **{key: one_of(options) for key, options in CHOICES.items()},
    "remedy": name,
    "seq_len": integer(1),
    "seed": integer(0),
    "hidden": integer(1),
    "batch": integer(1),
    "train_steps": integer(0),
    "eval_every": integer(0),
    "eval_sequences": integer(MIN_EVAL_SEQUENCES),
    "heldout_sequences": integer(MIN_HELDOUT_SEQUENCES),
    "stop_accuracy": real(0.99, 1.0),
    "plain_reference_steps": integer(0),
    "layers": integer(1),
    "w_rec_scale": real(0.0),
    "input_scale": real(0.0),
    "lr": real(0.0, low_open=True),
    "leak": real(0.0, 1.0, low_open=True),
    "ridge": real(0.0),
    "r_min": real(0.0, 1.0),
    "max_phase": real(0.0, LRU_MAX_PHASE, low_open=True),
    "jacobian": boolean,
    "stop_when_solved": boolean,
    "clip.threshold": real(0.0, low_open=True),
    "truncate.k1": integer(1),
    "truncate.k2": integer(1),
    "penalty.weight": real(0.0),
    "gradient_transform": lambda v: None if v == "" else "must be '' (none)",
}
# the settings a plugin's name may take, and the kind of plugin that registers it
PLUGGABLE = {
    "model": "model",
    "task": "task",
    "penalty.kind": "remedy",
    "gradient_transform": "remedy",
}
Problem = tuple[str, str, Any] | None  # (key, what does not fit, the value) or None


def _plugins_are_declared(s: Settings) -> Problem:
    """Each ``plugins`` entry well formed and used by the cell; each plugin loaded in this
    process of the kind its entry says."""
    used = {
        (kind, getattr(s, k) if "." not in k else _nested_value(s, k))
        for k, kind in PLUGGABLE.items()
    }
    for e in s.plugins:
        try:
            kind, name, _, _ = registry.parse(e)
        except ValueError as err:
            return "plugins", str(err), e
        if (kind, name) not in used:
            return "plugins", f"the cell uses no {kind} {name!r}", e
    return None


def _torch_only_plugins_run_in_torch(s: Settings) -> Problem:
    model = registry.obj("model", s.model)
    if s.backend == "numpy" and model is not None and not hasattr(model, "numpy_step"):
        why = (
            f"plugin model {s.model!r} has a torch step only (no numpy_step and "
            "numpy_step_vjp), so it runs in the torch backend alone; set backend: torch"
        )
        return "backend", why, s.backend
    if s.backend == "numpy" and s.penalty is not None and registry.get("remedy", s.penalty.kind):
        why = f"plugin penalty {s.penalty.kind!r} is a torch function; set backend: torch"
        return "backend", why, s.backend
    return None


def _esn_takes_no_gradient_transform(s: Settings) -> Problem:
    if s.model == "esn" and s.gradient_transform:
        why = "an esn is not trained by gradient descent, so a gradient transform does not apply"
        return "gradient_transform", why, s.gradient_transform
    return None


def _plugin_penalties_are_penalties(s: Settings) -> Problem:
    for key in ("penalty.kind", "gradient_transform"):
        name = _nested_value(s, key) if "." in key else s.gradient_transform
        obj = registry.obj("remedy", name) if name else None
        method = "penalty" if key == "penalty.kind" else "transform"
        if obj is not None and not hasattr(obj, method):
            return key, f"plugin remedy {name!r} has no {method}()", name
    return None


def _l2_penalty_needs_a_weight_hh(s: Settings) -> Problem:
    model = registry.get("model", s.model)
    pen = s.penalty
    if model and pen is not None and pen.kind == "l2_wrec" and "weight_hh" not in model.params:
        own = ", ".join(model.params)
        why = f"plugin model {s.model!r} has no weight_hh to penalize (its weights: {own})"
        return "penalty.kind", why, pen.kind
    return None


def _nested_value(s: Settings, key: str) -> Any:
    parent, _, child = key.partition(".")
    value = getattr(s, parent)
    return None if value is None else getattr(value, child)


def _stopping_needs_evaluations(s: Settings) -> Problem:
    if s.stop_when_solved and s.eval_every < 1:
        why = f"stopping when solved needs evaluations, eval_every >= 1 (eval_every {s.eval_every})"
        return "stop_when_solved", why, True
    return None


def _gated_models_use_tanh(s: Settings) -> Problem:
    if s.model in GATED and s.nonlinearity != "tanh":
        why = f"a {s.model} is gated and uses tanh; it does not fit model {shown(s.model)}"
        return "nonlinearity", why, s.nonlinearity
    return None


def _model_takes_its_nonlinearity(s: Settings) -> Problem:
    allowed = MODEL_NONLINEARITIES.get(s.model)
    if allowed is not None and s.nonlinearity not in allowed:
        return "nonlinearity", f"model {s.model} takes {' or '.join(allowed)}", s.nonlinearity
    if s.nonlinearity == "modrelu" and s.model != "exprnn":
        why = (
            f"modrelu (with its own bias) is the exprnn's; model {shown(s.model)} does not take it"
        )
        return "nonlinearity", why, s.nonlinearity
    return None


def _no_penalty_on_an_orthogonal_recurrence(s: Settings) -> Problem:
    if s.model == "exprnn" and s.penalty is not None:
        why = (
            "the exprnn's W_hh is orthogonal (||W_hh||_F^2 = hidden always), "
            "so no penalty on it applies"
        )
        return "penalty.kind", why, s.penalty.kind
    return None


def _esn_is_not_trained_by_gradient(s: Settings) -> Problem:
    for k in NESTED_NAMES:
        if s.model == "esn" and getattr(s, k) is not None:
            why = f"an esn is not trained by gradient descent, so {k} does not apply"
            return k, why, dataclasses.asdict(getattr(s, k))
    return None


def _omega_is_for_the_rnn(s: Settings) -> Problem:
    if s.penalty is not None and s.penalty.kind in OMEGA_KINDS and s.model != "rnn":
        why = f"Pascanu's Omega is defined for the vanilla rnn, not model {shown(s.model)}"
        return "penalty.kind", why, s.penalty.kind
    return None


def _memory_task_is_for_the_esn(s: Settings) -> Problem:
    if s.task == "memory" and s.model != "esn":
        why = (
            "the memory task measures an esn's memory capacity; "
            f"model {shown(s.model)} does not fit"
        )
        return "task", why, s.task
    return None


def _task_is_long_enough(s: Settings) -> Problem:
    from rnngrad.core.tasks import min_seq_len

    need = min_seq_len(s.task)
    if s.seq_len < need:
        return "seq_len", f"task {shown(s.task)} needs seq_len >= {need}", s.seq_len
    return None


def _truncation_is_shorter_than_the_sequence(s: Settings) -> Problem:
    for k in ("k1", "k2") if s.truncate is not None else ():
        v = getattr(s.truncate, k)
        if v > s.steps:  # a longer truncation than the sequence is full BPTT
            why = (
                f"must be <= the {s.steps} steps of a {s.task} sequence of seq_len "
                f"{s.seq_len}, else truncated BPTT is full BPTT"
            )
            return f"truncate.{k}", why, v
    return None


def _evaluation_in_whole_chunks(s: Settings) -> Problem:
    from rnngrad.core.tasks import EVAL_CHUNK

    for key in ("eval_sequences", "heldout_sequences"):
        if getattr(s, key) % EVAL_CHUNK:
            return key, f"must be a multiple of {EVAL_CHUNK}", getattr(s, key)
    return None


def _no_penalty_on_the_lru(s: Settings) -> Problem:
    if s.model == "lru" and s.penalty is not None:
        return "penalty.kind", "the lru has no W_hh to penalize", s.penalty.kind
    return None


def _layers_stack_indrnns(s: Settings) -> Problem:
    if s.layers != 1 and s.model != "indrnn":
        why = f"only the indrnn stacks layers; model {shown(s.model)} has one"
        return "layers", why, s.layers
    return None


def _the_ring_is_the_lrus(s: Settings) -> Problem:
    if s.model != "lru" and s.r_min != 0.0:
        why = (
            "the ring initialization's smallest |lambda| belongs to the lru, "
            f"not model {shown(s.model)}"
        )
        return "r_min", why, s.r_min
    if s.model != "lru" and s.max_phase != LRU_MAX_PHASE:
        why = (
            f"the ring initialization's phase range belongs to the lru, not model {shown(s.model)}"
        )
        return "max_phase", why, s.max_phase
    if s.model == "lru" and s.w_rec_scale > 1.0:
        why = (
            "the lru's w_rec_scale is r_max, the largest |lambda| of its ring, and lambda = "
            "exp(-exp(nu) + i exp(theta)) lies inside the unit disc: it must be <= 1"
        )
        return "w_rec_scale", why, s.w_rec_scale
    if s.model == "lru" and (s.r_min > s.w_rec_scale or s.r_min >= 1.0):
        why = (
            f"the ring [r_min, r_max] needs r_min <= r_max = w_rec_scale "
            f"{shown(s.w_rec_scale)} and r_min < 1"
        )
        return "r_min", why, s.r_min
    return None


def _own_recurrences_draw_their_own_weights(s: Settings) -> Problem:
    if s.model in OWN_RECURRENCE and s.init != "gaussian":
        why = (
            f"a {s.model} draws its recurrent weights its own way (docs/config.md); "
            "leave init at gaussian"
        )
        return "init", why, s.init
    return None


# the settings that must fit together, checked in this order after every field
RULES: tuple[Callable[[Settings], Problem], ...] = (
    _plugins_are_declared,
    _torch_only_plugins_run_in_torch,
    _plugin_penalties_are_penalties,
    _esn_takes_no_gradient_transform,
    _l2_penalty_needs_a_weight_hh,
    _stopping_needs_evaluations,
    _evaluation_in_whole_chunks,
    _gated_models_use_tanh,
    _model_takes_its_nonlinearity,
    _no_penalty_on_an_orthogonal_recurrence,
    _no_penalty_on_the_lru,
    _layers_stack_indrnns,
    _the_ring_is_the_lrus,
    _own_recurrences_draw_their_own_weights,
    _esn_is_not_trained_by_gradient,
    _omega_is_for_the_rnn,
    _memory_task_is_for_the_esn,
    _task_is_long_enough,
    _truncation_is_shorter_than_the_sequence,
)


def check(s: Settings, path: str = "") -> None:
    """Check every field of ``s`` against its checker in :data:`FIELDS`, then the settings that
    must fit together (:data:`RULES`); the first problem raises :class:`SettingsError` naming
    ``path`` + the key and the value."""
    plugins = registry.declared(s.plugins)
    for key, checker in FIELDS.items():
        parent, _, child = key.partition(".")
        value = getattr(s, parent)
        if child:
            if value is None:
                continue
            value = getattr(value, child)
        if key in PLUGGABLE and (PLUGGABLE[key], value) in plugins:
            continue  # a plugin's name, declared by the cell (the config loaded it)
        why = checker(value)
        if why and key in PLUGGABLE:
            loaded = registry.names(PLUGGABLE[key])
            why += f", or a {PLUGGABLE[key]} a plugin registers" + (
                f" ({', '.join(loaded)})" if loaded else " (none is loaded: see plugins:)"
            )
        if why:
            raise SettingsError(f"{path}{key}: {why} (value {shown(value)})")
    for rule in RULES:
        problem = rule(s)
        if problem:
            key, why, value = problem
            raise SettingsError(f"{path}{key}: {why} (value {shown(value)})")
