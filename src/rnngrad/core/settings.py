"""One cell's resolved settings: a frozen dataclass, validated once, at the edge.

A cell's settings resolve as ``defaults``, then the grid's values for that cell, then its
remedy's overrides (see :mod:`rnngrad.study.config`). Everything downstream (initializers, tasks,
backends, training) reads a :class:`CellSettings` and never re-validates.

Example
-------
>>> s = CellSettings.from_dict({"backend": "numpy", "seq_len": 30, "w_rec_scale": 0.9})
>>> s.hidden, s.clip
(32, None)
"""

from __future__ import annotations

import dataclasses
import math
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

BACKENDS = ("numpy", "torch")
MODELS = ("rnn", "lstm", "gru", "esn", "exprnn", "antisymmetric", "indrnn", "lru")
NONLINEARITIES = ("tanh", "relu", "sigmoid", "linear", "modrelu")
INITS = ("gaussian", "orthogonal", "identity", "sparse")
W_REC_SCALINGS = ("radius", "sigma_w")  # what w_rec_scale sets (rnngrad.init.recurrent_matrix)
DTYPES = ("float64", "float32")
DEVICES = ("cpu", "cuda")
TASKS = (
    "adding",
    "adding_hs",
    "adding_pascanu",
    "copy",
    "temporal_order",
    "temporal_order_hs",
    "digits",
    "memory",
)
OPTIMIZERS = ("sgd", "momentum", "adam")
CLIP_KINDS = ("norm", "value")
PENALTY_KINDS = ("pascanu", "pascanu_printed", "l2_wrec")
OMEGA_KINDS = ("pascanu", "pascanu_printed")  # Omega as in their code, and as printed
GATED = ("lstm", "gru")
# models with a closed set of nonlinearities other than the rnn's: model -> allowed
MODEL_NONLINEARITIES = {
    "exprnn": ("tanh", "modrelu"),
    "antisymmetric": ("tanh",),
    "indrnn": ("relu",),
    "lru": ("linear",),  # its recurrence is linear; the nonlinear maps sit around it
}
# models with a recurrence of their own, not W_hh h: relu units (indrnn), linear complex (lru)
OWN_RECURRENCE = ("indrnn", "lru")
# the allowed values of each setting that has a closed set (validation and `rnngrad cell --help`)
CHOICES = {
    "backend": BACKENDS,
    "model": MODELS,
    "nonlinearity": NONLINEARITIES,
    "init": INITS,
    "w_rec_scaling": W_REC_SCALINGS,
    "dtype": DTYPES,
    "device": DEVICES,
    "task": TASKS,
    "optimizer": OPTIMIZERS,
    "clip.kind": CLIP_KINDS,
    "penalty.kind": PENALTY_KINDS,
}
# study and remedy names: the whole string (fullmatch; `$` would let a final newline through)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MIN_EVAL_SEQUENCES = 1000  # the final evaluation's smallest set
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


def setting(default: Any, unit: str, help: str) -> Any:
    """A settings field with its ``unit`` and ``help`` (the data dictionary of the report and
    ``rnngrad cell --help`` read them; docs/config.md lists them)."""
    return field(default=default, metadata={"unit": unit, "help": help})


@dataclass(frozen=True)
class Clip:
    kind: str = setting(
        "norm",
        "category",
        "clipping by norm (rescale the global norm; Pascanu et al. 2013, Alg. 1) or by value "
        "(clamp each component)",
    )
    threshold: float = setting(
        1.0, "gradient units", "the norm bound, or the bound on each component"
    )


@dataclass(frozen=True)
class Truncate:
    k1: int = setting(1, "steps", "truncated BPTT: update every k1 steps (Williams and Peng 1990)")
    k2: int = setting(
        10, "steps", "truncated BPTT: backpropagate at most k2 steps back from each update"
    )


@dataclass(frozen=True)
class Penalty:
    kind: str = setting(
        "pascanu",
        "category",
        "pascanu: Omega as in the authors' code (ratio of squared norms, mean over the valid "
        "(k, b) terms); pascanu_printed: as printed in their eqs. 9-10 (ratio of norms, summed "
        "over k, mean over sequences); l2_wrec: ||W_hh||_F^2",
    )
    weight: float = setting(2.0, "1", "multiplier of the penalty in the training objective")


@dataclass(frozen=True)
class CellSettings:
    # the five required grid axes
    backend: str = setting("numpy", "category", "numpy (hand-written BPTT) or torch (autograd)")
    seq_len: int = setting(
        30, "steps", "task length T before task-specific additions (copy adds 20)"
    )
    w_rec_scale: float = setting(
        1.0,
        "1",
        "spectral radius of W_rec at initialization (exprnn, orthogonal: the largest rotation "
        "angle of W_rec at initialization, in units of pi)",
    )
    remedy: str = setting(
        "none", "category", "name of the remedy preset that produced these settings"
    )
    seed: int = setting(
        0, "integer", "seeds weights and data; equal seeds pair cells across scale, remedy, backend"
    )
    # defaults (any scalar one may also be a grid axis)
    model: str = setting(
        "rnn", "category", "rnn, lstm, gru, esn, exprnn, antisymmetric, indrnn or lru"
    )
    nonlinearity: str = setting(
        "tanh",
        "category",
        "tanh, relu, sigmoid or linear (rnn and esn; gated models and antisymmetric are tanh, "
        "the indrnn relu, the lru linear); tanh or modrelu (exprnn)",
    )
    init: str = setting(
        "gaussian", "category", "base matrix of W_rec: gaussian, orthogonal, identity or sparse"
    )
    w_rec_scaling: str = setting(
        "radius",
        "category",
        "what w_rec_scale sets: radius (W_rec's spectral radius) or sigma_w (the RMS of its "
        "entries times sqrt(hidden), mean field's control parameter)",
    )
    input_scale: float = setting(1.0, "1", "standard deviation of the input weights")
    hidden: int = setting(32, "units", "number of hidden units H")
    dtype: str = setting("float64", "category", "float64 or float32")
    device: str = setting(
        "cpu", "category", "cpu or cuda: the torch backend's device (numpy ignores it)"
    )
    task: str = setting(
        "adding",
        "category",
        "adding (fixed length), adding_hs, adding_pascanu, copy, temporal_order (Pascanu's), "
        "temporal_order_hs, digits or memory",
    )
    batch: int = setting(32, "sequences", "sequences per training batch and in the probe batch")
    train_steps: int = setting(
        100, "steps", "training steps (0 = gradient profile at initialization only)"
    )
    optimizer: str = setting("sgd", "category", "sgd, momentum or adam")
    lr: float = setting(0.01, "1", "learning rate")
    # (written out: ruff asks nested defaults to be field() calls)
    clip: Clip | None = field(
        default=None, metadata={"unit": "mapping", "help": "gradient clipping, off by default"}
    )
    truncate: Truncate | None = field(
        default=None, metadata={"unit": "mapping", "help": "truncated BPTT(k1, k2), off by default"}
    )
    penalty: Penalty | None = field(
        default=None, metadata={"unit": "mapping", "help": "gradient penalty, off by default"}
    )
    jacobian: bool = setting(True, "bool", "measure jacobian_norm and lyapunov_max")
    eval_every: int = setting(
        0, "steps", "evaluate on a fixed held-out set every this many training steps (0: never)"
    )
    stop_when_solved: bool = setting(
        False,
        "bool",
        "stop training at the first held-out evaluation that is solved "
        "(train_steps is then the budget); needs eval_every >= 1",
    )
    eval_sequences: int = setting(
        1000,
        "sequences",
        "fresh sequences that judge the trained run (never the held-out set that decides "
        "stopping), a multiple of 50 and at least 1000; Pascanu et al.'s code uses 10000",
    )
    leak: float = setting(1.0, "1", "ESN leak rate a in h_t = (1 - a) h_{t-1} + a tanh(...)")
    ridge: float = setting(
        1e-6,
        "1",
        "ESN readout ridge regularization; below radius 0.9 it, not the reservoir, sets "
        "memory_capacity (1e-3/1e-6/1e-9/1e-12 give 13.2/18.0/22.7/27.1 at radius 0.5, N 50)",
    )
    layers: int = setting(
        1, "layers", "stacked recurrent layers (indrnn only; every other model has one)"
    )
    r_min: float = setting(
        0.0,
        "1",
        "lru only: the smallest |lambda| of the ring initialization (w_rec_scale is the largest)",
    )
    plain_reference_steps: int = setting(
        0,
        "steps",
        "after training, time rounds of this many steps of plain PyTorch (torch.nn.RNN/LSTM/GRU, "
        "a Linear readout, the cell's optimizer) at the cell's shape: plain_train_steps_per_s "
        "(0: never; rnn with tanh or relu units, lstm and gru only)",
    )
    # any further grid axes (their names, in config order); part of the cell id
    extra_axes: tuple[str, ...] = field(default=(), compare=False)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: Mapping[str, Any], path: str = "") -> CellSettings:
        """Build settings from a flat mapping (nested clip/truncate/penalty as mappings or None).

        Unknown keys, wrong types, out-of-range values and settings that do not fit together
        raise :class:`SettingsError` naming ``path + key`` and the value.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in names:
                raise SettingsError(f"{path}{key}: unknown setting (value {shown(values[key])})")
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                continue
            v = values[f.name]
            if f.name in NESTED:
                v = _nested(f.name, v, path)
            elif f.name == "extra_axes":
                v = tuple(v)
            kwargs[f.name] = v
        s = cls(**kwargs)
        s.validate(path)
        return s

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (JSON-safe), the inverse of :meth:`from_dict`."""
        d = dataclasses.asdict(self)
        d["extra_axes"] = list(self.extra_axes)
        return d

    def flat(self) -> dict[str, Any]:
        """One column per setting, nested ones flattened (``clip_kind``, ``truncate_k1``, ...)."""
        d = self.to_dict()
        d.pop("extra_axes")
        out: dict[str, Any] = {}
        for k, v in d.items():
            if k in NESTED:
                for f in dataclasses.fields(NESTED[k]):
                    out[f"{k}_{f.name}"] = None if v is None else v[f.name]
            else:
                out[k] = v
        return out

    def replace(self, **changes: Any) -> CellSettings:
        """A copy with some settings changed, validated again."""
        d = self.to_dict()
        d.update(changes)
        return CellSettings.from_dict(d)

    # -- derived --------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """The actual sequence length the network reads."""
        from rnngrad.core.tasks import task_steps

        return task_steps(self.task, self.seq_len)

    # -- validation -----------------------------------------------------------------------
    def validate(self, path: str = "") -> None:
        """Check every field against its checker in :data:`FIELDS`, then the settings that
        must fit together (:data:`RULES`); the first problem raises :class:`SettingsError`
        naming ``path`` + the key and the value."""
        for key, check in FIELDS.items():
            parent, _, child = key.partition(".")
            value = getattr(self, parent)
            if child:
                if value is None:
                    continue
                value = getattr(value, child)
            why = check(value)
            if why:
                raise SettingsError(f"{path}{key}: {why} (value {shown(value)})")
        for rule in RULES:
            problem = rule(self)
            if problem:
                key, why, value = problem
                raise SettingsError(f"{path}{key}: {why} (value {shown(value)})")


# the nested settings: a field of CellSettings -> its dataclass (flattened as clip_kind, ...)
NESTED = {"clip": Clip, "truncate": Truncate, "penalty": Penalty}
# settings added after records existed, whose default reproduces what was done before them:
# left out of the settings hash at their default, so that the records made before them stay done
HASHED_WHEN_SET = {
    "plain_reference_steps": 0,
    "w_rec_scaling": "radius",
    "layers": 1,
    "r_min": 0.0,
}


# -- validation: a checker per field, then the settings that must fit together ------------------
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
    "plain_reference_steps": integer(0),
    "layers": integer(1),
    "w_rec_scale": real(0.0),
    "input_scale": real(0.0),
    "lr": real(0.0, low_open=True),
    "leak": real(0.0, 1.0, low_open=True),
    "ridge": real(0.0),
    "r_min": real(0.0, 1.0),
    "jacobian": boolean,
    "stop_when_solved": boolean,
    "clip.threshold": real(0.0, low_open=True),
    "truncate.k1": integer(1),
    "truncate.k2": integer(1),
    "penalty.weight": real(0.0),
}
Problem = tuple[str, str, Any] | None  # (key, what does not fit, the value) or None


def _stopping_needs_evaluations(s: CellSettings) -> Problem:
    if s.stop_when_solved and s.eval_every < 1:
        why = f"stopping when solved needs evaluations, eval_every >= 1 (eval_every {s.eval_every})"
        return "stop_when_solved", why, True
    return None


def _gated_models_use_tanh(s: CellSettings) -> Problem:
    if s.model in GATED and s.nonlinearity != "tanh":
        why = f"a {s.model} is gated and uses tanh; it does not fit model {shown(s.model)}"
        return "nonlinearity", why, s.nonlinearity
    return None


def _model_takes_its_nonlinearity(s: CellSettings) -> Problem:
    allowed = MODEL_NONLINEARITIES.get(s.model)
    if allowed is not None and s.nonlinearity not in allowed:
        return "nonlinearity", f"model {s.model} takes {' or '.join(allowed)}", s.nonlinearity
    if s.nonlinearity == "modrelu" and s.model != "exprnn":
        why = (
            f"modrelu (with its own bias) is the exprnn's; model {shown(s.model)} does not take it"
        )
        return "nonlinearity", why, s.nonlinearity
    return None


def _no_penalty_on_an_orthogonal_recurrence(s: CellSettings) -> Problem:
    if s.model == "exprnn" and s.penalty is not None:
        why = (
            "the exprnn's W_hh is orthogonal (||W_hh||_F^2 = hidden always), "
            "so no penalty on it applies"
        )
        return "penalty.kind", why, s.penalty.kind
    return None


def _esn_is_not_trained_by_gradient(s: CellSettings) -> Problem:
    for k in NESTED:
        if s.model == "esn" and getattr(s, k) is not None:
            why = f"an esn is not trained by gradient descent, so {k} does not apply"
            return k, why, dataclasses.asdict(getattr(s, k))
    return None


def _omega_is_for_the_rnn(s: CellSettings) -> Problem:
    if s.penalty is not None and s.penalty.kind in OMEGA_KINDS and s.model != "rnn":
        why = f"Pascanu's Omega is defined for the vanilla rnn, not model {shown(s.model)}"
        return "penalty.kind", why, s.penalty.kind
    return None


def _memory_task_is_for_the_esn(s: CellSettings) -> Problem:
    if s.task == "memory" and s.model != "esn":
        why = (
            "the memory task measures an esn's memory capacity; "
            f"model {shown(s.model)} does not fit"
        )
        return "task", why, s.task
    return None


def _task_is_long_enough(s: CellSettings) -> Problem:
    from rnngrad.core.tasks import min_seq_len

    need = min_seq_len(s.task)
    if s.seq_len < need:
        return "seq_len", f"task {shown(s.task)} needs seq_len >= {need}", s.seq_len
    return None


def _truncation_is_shorter_than_the_sequence(s: CellSettings) -> Problem:
    for k in ("k1", "k2") if s.truncate is not None else ():
        v = getattr(s.truncate, k)
        if v > s.steps:  # a longer truncation than the sequence is full BPTT
            why = (
                f"must be <= the {s.steps} steps of a {s.task} sequence of seq_len "
                f"{s.seq_len}, else truncated BPTT is full BPTT"
            )
            return f"truncate.{k}", why, v
    return None


def _evaluation_in_whole_chunks(s: CellSettings) -> Problem:
    from rnngrad.core.tasks import EVAL_CHUNK

    if s.eval_sequences % EVAL_CHUNK:
        return "eval_sequences", f"must be a multiple of {EVAL_CHUNK}", s.eval_sequences
    return None


def _no_penalty_on_the_lru(s: CellSettings) -> Problem:
    if s.model == "lru" and s.penalty is not None:
        return "penalty.kind", "the lru has no W_hh to penalize", s.penalty.kind
    return None


def _layers_stack_indrnns(s: CellSettings) -> Problem:
    if s.layers != 1 and s.model != "indrnn":
        why = f"only the indrnn stacks layers; model {shown(s.model)} has one"
        return "layers", why, s.layers
    return None


def _the_ring_is_the_lrus(s: CellSettings) -> Problem:
    if s.model != "lru" and s.r_min != 0.0:
        why = (
            "the ring initialization's smallest |lambda| belongs to the lru, "
            f"not model {shown(s.model)}"
        )
        return "r_min", why, s.r_min
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


def _own_recurrences_draw_their_own_weights(s: CellSettings) -> Problem:
    if s.model in OWN_RECURRENCE and s.init != "gaussian":
        why = (
            f"a {s.model} draws its recurrent weights its own way (docs/config.md); "
            "leave init at gaussian"
        )
        return "init", why, s.init
    return None


# the settings that must fit together, checked in this order after every field
RULES: tuple[Callable[[CellSettings], Problem], ...] = (
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


def describe() -> dict[str, tuple[str, str]]:
    """Unit and meaning of every flattened setting (``seq_len``, ``clip_kind``, ...), from the
    fields' metadata; a nested one's meaning says what empty means."""
    out = {}
    for f in dataclasses.fields(CellSettings):
        if f.name in NESTED:
            off = f"empty = no {f.name}"
            for sub in dataclasses.fields(NESTED[f.name]):
                out[f"{f.name}_{sub.name}"] = (
                    sub.metadata["unit"],
                    f"{sub.metadata['help']}; {off}",
                )
        elif f.metadata:
            out[f.name] = (f.metadata["unit"], f.metadata["help"])
    return out


def _nested(name: str, v: Any, path: str):
    cls = NESTED[name]
    if v is None or isinstance(v, cls):
        return v
    if not isinstance(v, Mapping):
        raise SettingsError(f"{path}{name}: must be a mapping or null (value {shown(v)})")
    allowed = [f.name for f in dataclasses.fields(cls)]
    for k in v:
        if k not in allowed:
            raise SettingsError(f"{path}{name}.{k}: unknown setting (value {shown(v[k])})")
    for k in allowed:  # as in the config schema: no silent default inside a remedy
        if k not in v:
            raise SettingsError(
                f"{path}{name}.{k}: required key is missing (value {shown(dict(v))})"
            )
    return cls(**v)
