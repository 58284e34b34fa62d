"""One cell's resolved settings: a frozen dataclass, validated once, at the edge.

A cell's settings resolve as ``defaults``, then the grid's values for that cell, then its
remedy's overrides (see :mod:`rnngrad.config`). Everything downstream (initializers, tasks,
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

BACKENDS = ("numpy", "torch")
MODELS = ("rnn", "lstm", "gru", "esn", "exprnn", "antisymmetric", "indrnn", "lru")
NONLINEARITIES = ("tanh", "relu", "sigmoid", "linear", "modrelu")
INITS = ("gaussian", "orthogonal", "identity", "sparse")
DTYPES = ("float64", "float32")
DEVICES = ("cpu", "cuda")
TASKS = ("adding", "copy", "temporal_order", "digits", "memory")
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
    "dtype": DTYPES,
    "device": DEVICES,
    "task": TASKS,
    "optimizer": OPTIMIZERS,
    "clip.kind": CLIP_KINDS,
    "penalty.kind": PENALTY_KINDS,
}
# study and remedy names: the whole string (fullmatch; `$` would let a final newline through)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
SHOWN_CHARS = 300  # at most this many characters of a value in a message

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother = 3, 120, 120
_repr.maxdict = _repr.maxlist = _repr.maxtuple = _repr.maxset = 8


def shown(value: Any) -> str:
    """``repr(value)`` bounded to SHOWN_CHARS characters (a few levels, a few items each), so a
    message never expands a huge value (a YAML alias bomb)."""
    text = _repr.repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


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
    input_scale: float = setting(1.0, "1", "standard deviation of the input weights")
    hidden: int = setting(32, "units", "number of hidden units H")
    dtype: str = setting("float64", "category", "float64 or float32")
    device: str = setting(
        "cpu", "category", "cpu or cuda: the torch backend's device (numpy ignores it)"
    )
    task: str = setting("adding", "category", "adding, copy, temporal_order, digits or memory")
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
        from rnngrad.tasks import task_steps

        return task_steps(self.task, self.seq_len)

    # -- validation -----------------------------------------------------------------------
    def validate(self, path: str = "") -> None:
        def bad(key: str, why: str) -> SettingsError:
            return SettingsError(
                f"{path}{key}: {why} (value {shown(getattr(self, key.split('.')[0]))})"
            )

        def choice(key: str, options: tuple[str, ...]) -> None:
            if getattr(self, key) not in options:
                raise bad(key, f"must be one of {', '.join(options)}")

        def integer(key: str, low: int) -> None:
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int):
                raise bad(key, "must be an integer")
            if v < low:
                raise bad(key, f"must be >= {low}")

        def real(key: str, low: float, high: float = math.inf, low_open: bool = False) -> None:
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad(key, "must be a number")
            if not math.isfinite(v):
                raise bad(key, "must be finite")
            if v < low or v > high or (low_open and v == low):
                lo = f"> {low}" if low_open else f">= {low}"
                raise bad(key, f"must be {lo}" + ("" if high == math.inf else f" and <= {high}"))

        for key, options in CHOICES.items():
            if "." not in key:
                choice(key, options)
        if not isinstance(self.remedy, str) or not NAME.fullmatch(self.remedy):
            raise bad("remedy", "must be a name made of letters, digits, '_', '.' and '-'")
        integer("seq_len", 1)
        integer("seed", 0)
        integer("hidden", 1)
        integer("batch", 1)
        integer("train_steps", 0)
        integer("eval_every", 0)
        integer("plain_reference_steps", 0)
        integer("layers", 1)
        real("w_rec_scale", 0.0)
        real("input_scale", 0.0)
        real("lr", 0.0, low_open=True)
        real("leak", 0.0, 1.0, low_open=True)
        real("ridge", 0.0)
        real("r_min", 0.0, 1.0)
        if not isinstance(self.jacobian, bool):
            raise bad("jacobian", "must be true or false")
        if not isinstance(self.stop_when_solved, bool):
            raise bad("stop_when_solved", "must be true or false")
        if self.stop_when_solved and self.eval_every < 1:
            raise SettingsError(
                f"{path}stop_when_solved: stopping when solved needs evaluations, "
                f"eval_every >= 1 (value True, eval_every {self.eval_every!r})"
            )
        if self.clip is not None:
            if self.clip.kind not in CLIP_KINDS:
                raise SettingsError(
                    f"{path}clip.kind: must be one of {', '.join(CLIP_KINDS)} "
                    f"(value {shown(self.clip.kind)})"
                )
            _positive(self.clip.threshold, f"{path}clip.threshold")
        if self.truncate is not None:
            for k in ("k1", "k2"):
                v = getattr(self.truncate, k)
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise SettingsError(
                        f"{path}truncate.{k}: must be an integer >= 1 (value {shown(v)})"
                    )
        if self.penalty is not None:
            if self.penalty.kind not in PENALTY_KINDS:
                raise SettingsError(
                    f"{path}penalty.kind: must be one of "
                    f"{', '.join(PENALTY_KINDS)} (value {shown(self.penalty.kind)})"
                )
            w = self.penalty.weight
            if (
                isinstance(w, bool)
                or not isinstance(w, (int, float))
                or not math.isfinite(w)
                or w < 0
            ):
                raise SettingsError(
                    f"{path}penalty.weight: must be a finite number >= 0 (value {shown(w)})"
                )
        # settings that do not fit together
        if self.model in GATED and self.nonlinearity != "tanh":
            raise SettingsError(
                f"{path}nonlinearity: a {self.model} is gated and uses tanh; "
                f"it does not fit model {shown(self.model)} (value {shown(self.nonlinearity)})"
            )
        allowed = MODEL_NONLINEARITIES.get(self.model)
        if allowed is not None and self.nonlinearity not in allowed:
            raise SettingsError(
                f"{path}nonlinearity: model {self.model} takes {' or '.join(allowed)} "
                f"(value {shown(self.nonlinearity)})"
            )
        if self.nonlinearity == "modrelu" and self.model != "exprnn":
            raise SettingsError(
                f"{path}nonlinearity: modrelu (with its own bias) is the exprnn's; "
                f"model {shown(self.model)} does not take it (value 'modrelu')"
            )
        if self.model == "exprnn" and self.penalty is not None:
            raise SettingsError(
                f"{path}penalty.kind: the exprnn's W_hh is orthogonal (||W_hh||_F^2 = hidden "
                f"always), so no penalty on it applies (value {shown(self.penalty.kind)})"
            )
        if self.model == "esn":
            for k in NESTED:
                if getattr(self, k) is not None:
                    raise SettingsError(
                        f"{path}{k}: an esn is not trained by gradient descent, "
                        f"so {k} does not apply "
                        f"(value {shown(dataclasses.asdict(getattr(self, k)))})"
                    )
        if self.penalty is not None and self.penalty.kind in OMEGA_KINDS and self.model != "rnn":
            raise SettingsError(
                f"{path}penalty.kind: Pascanu's Omega is defined for the vanilla rnn, "
                f"not model {shown(self.model)} (value {self.penalty.kind!r})"
            )
        _validate_own_recurrence(self, path)
        if self.task == "memory" and self.model != "esn":
            raise SettingsError(
                f"{path}task: the memory task measures an esn's memory capacity; "
                f"model {shown(self.model)} does not fit (value 'memory')"
            )
        from rnngrad.tasks import min_seq_len

        need = min_seq_len(self.task)
        if self.seq_len < need:
            raise SettingsError(
                f"{path}seq_len: task {shown(self.task)} needs seq_len >= {need} "
                f"(value {shown(self.seq_len)})"
            )
        if self.truncate is not None:
            for k in ("k1", "k2"):
                v = getattr(self.truncate, k)
                if v > self.steps:  # a longer truncation than the sequence is full BPTT
                    raise SettingsError(
                        f"{path}truncate.{k}: must be <= the {self.steps} steps of a "
                        f"{self.task} sequence of seq_len {self.seq_len}, else truncated "
                        f"BPTT is full BPTT (value {shown(v)})"
                    )


# the nested settings: a field of CellSettings -> its dataclass (flattened as clip_kind, ...)
NESTED = {"clip": Clip, "truncate": Truncate, "penalty": Penalty}
# settings that change no trained result, added after records existed: left out of the
# settings hash at their default, so that the records made before them stay done
HASHED_WHEN_SET = {"plain_reference_steps": 0, "layers": 1, "r_min": 0.0}


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


def _validate_own_recurrence(s: CellSettings, path: str) -> None:
    """The rules of the indrnn and the lru (their nonlinearities: MODEL_NONLINEARITIES): layers
    stack indrnns alone; the lru's ring of eigenvalues lies in [r_min, w_rec_scale] inside the
    unit disc, and it has no W_hh for a penalty (the indrnn's u takes l2_wrec; Omega is the
    rnn's alone); both draw their recurrent weights their own way."""
    if s.layers != 1 and s.model != "indrnn":
        raise SettingsError(
            f"{path}layers: only the indrnn stacks layers; model {shown(s.model)} has one "
            f"(value {shown(s.layers)})"
        )
    if s.model != "lru" and s.r_min != 0.0:
        raise SettingsError(
            f"{path}r_min: the ring initialization's smallest |lambda| belongs to the lru, "
            f"not model {shown(s.model)} (value {shown(s.r_min)})"
        )
    if s.model == "lru":
        if s.w_rec_scale > 1.0:
            raise SettingsError(
                f"{path}w_rec_scale: the lru's w_rec_scale is r_max, the largest |lambda| of "
                f"its ring, and lambda = exp(-exp(nu) + i exp(theta)) lies inside the unit "
                f"disc: it must be <= 1 (value {shown(s.w_rec_scale)})"
            )
        if s.r_min > s.w_rec_scale or s.r_min >= 1.0:
            raise SettingsError(
                f"{path}r_min: the ring [r_min, r_max] needs r_min <= r_max = w_rec_scale "
                f"{shown(s.w_rec_scale)} and r_min < 1 (value {shown(s.r_min)})"
            )
        if s.penalty is not None:
            raise SettingsError(
                f"{path}penalty.kind: the lru has no W_hh to penalize "
                f"(value {shown(s.penalty.kind)})"
            )
    if s.model in OWN_RECURRENCE and s.init != "gaussian":
        raise SettingsError(
            f"{path}init: a {s.model} draws its recurrent weights its own way "
            f"(docs/config.md); leave init at gaussian (value {shown(s.init)})"
        )


def _positive(v: Any, key: str) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise SettingsError(f"{key}: must be a finite number > 0 (value {shown(v)})")


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
