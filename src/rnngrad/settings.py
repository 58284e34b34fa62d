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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BACKENDS = ("numpy", "torch")
MODELS = ("rnn", "lstm", "gru", "esn")
NONLINEARITIES = ("tanh", "relu", "sigmoid", "linear")
INITS = ("gaussian", "orthogonal", "identity", "sparse")
DTYPES = ("float64", "float32")
DEVICES = ("cpu", "cuda")
TASKS = ("adding", "copy", "temporal_order", "digits", "memory")
OPTIMIZERS = ("sgd", "momentum", "adam")
CLIP_KINDS = ("norm", "value")
PENALTY_KINDS = ("pascanu", "l2_wrec")
GATED = ("lstm", "gru")


class SettingsError(ValueError):
    """A setting that is unknown, of the wrong type, out of range, or that does not fit others.

    The message names the key path and the offending value.
    """


@dataclass(frozen=True)
class Clip:
    kind: str = "norm"  # norm: rescale the global norm (Pascanu et al. 2013, Alg. 1); value: clamp
    threshold: float = 1.0  # norm bound, or the bound on each component


@dataclass(frozen=True)
class Truncate:
    k1: int = 1  # update every k1 steps (Williams and Peng 1990)
    k2: int = 10  # backpropagate at most k2 steps back from each update


@dataclass(frozen=True)
class Penalty:
    kind: str = "pascanu"  # pascanu: Omega (their eq. 10); l2_wrec: ||W_hh||_F^2
    weight: float = 2.0  # multiplier of the penalty in the training objective


@dataclass(frozen=True)
class CellSettings:
    # the five required grid axes
    backend: str = "numpy"  # numpy (hand-written BPTT) | torch (autograd)
    seq_len: int = 30  # task length T before task-specific additions (copy adds 20)
    w_rec_scale: float = 1.0  # spectral radius of W_rec at initialization
    remedy: str = "none"  # name of the remedy preset that produced these settings
    seed: int = 0  # seeds weights and data; equal seeds pair cells across scale/remedy/backend
    # defaults (any scalar one may also be a grid axis)
    model: str = "rnn"  # rnn | lstm | gru | esn
    nonlinearity: str = "tanh"  # rnn and esn only; gated models are tanh
    init: str = "gaussian"  # base matrix of W_rec: gaussian | orthogonal | identity | sparse
    input_scale: float = 1.0  # std of the input weights
    hidden: int = 32  # number of hidden units H
    dtype: str = "float64"  # float64 | float32
    device: str = "cpu"  # torch backend only
    task: str = "adding"  # adding | copy | temporal_order | digits | memory
    batch: int = 32  # sequences per training batch and in the probe batch
    train_steps: int = 100  # 0 = gradient profile at initialization only
    optimizer: str = "sgd"  # sgd | momentum | adam
    lr: float = 0.01  # learning rate
    clip: Clip | None = None  # gradient clipping, off by default
    truncate: Truncate | None = None  # truncated BPTT(k1, k2), off by default
    penalty: Penalty | None = None  # gradient penalty, off by default
    jacobian: bool = True  # measure jacobian_norm and lyapunov_max
    eval_every: int = field(
        default=0,
        metadata={
            "unit": "steps",
            "help": "evaluate on a fixed held-out set every this many training steps (0: never)",
        },
    )
    stop_when_solved: bool = field(
        default=False,
        metadata={
            "unit": "",
            "help": "stop training at the first held-out evaluation that is solved "
            "(train_steps is then the budget); needs eval_every >= 1",
        },
    )
    leak: float = 1.0  # ESN leak rate a in h_t = (1 - a) h_{t-1} + a tanh(...)
    ridge: float = 1e-6  # ESN readout ridge regularization
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
                raise SettingsError(f"{path}{key}: unknown setting (value {values[key]!r})")
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                continue
            v = values[f.name]
            if f.name in ("clip", "truncate", "penalty"):
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
            if k in ("clip", "truncate", "penalty"):
                sub = {"clip": Clip, "truncate": Truncate, "penalty": Penalty}[k]
                for f in dataclasses.fields(sub):
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
            return SettingsError(f"{path}{key}: {why} (value {getattr(self, key.split('.')[0])!r})")

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

        choice("backend", BACKENDS)
        choice("model", MODELS)
        choice("nonlinearity", NONLINEARITIES)
        choice("init", INITS)
        choice("dtype", DTYPES)
        choice("device", DEVICES)
        choice("task", TASKS)
        choice("optimizer", OPTIMIZERS)
        if not isinstance(self.remedy, str) or not self.remedy:
            raise bad("remedy", "must be a non-empty name")
        integer("seq_len", 1)
        integer("seed", 0)
        integer("hidden", 1)
        integer("batch", 1)
        integer("train_steps", 0)
        integer("eval_every", 0)
        real("w_rec_scale", 0.0)
        real("input_scale", 0.0)
        real("lr", 0.0, low_open=True)
        real("leak", 0.0, 1.0, low_open=True)
        real("ridge", 0.0)
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
                    f"(value {self.clip.kind!r})"
                )
            _positive(self.clip.threshold, f"{path}clip.threshold")
        if self.truncate is not None:
            for k in ("k1", "k2"):
                v = getattr(self.truncate, k)
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise SettingsError(
                        f"{path}truncate.{k}: must be an integer >= 1 (value {v!r})"
                    )
        if self.penalty is not None:
            if self.penalty.kind not in PENALTY_KINDS:
                raise SettingsError(
                    f"{path}penalty.kind: must be one of "
                    f"{', '.join(PENALTY_KINDS)} (value {self.penalty.kind!r})"
                )
            w = self.penalty.weight
            if (
                isinstance(w, bool)
                or not isinstance(w, (int, float))
                or not math.isfinite(w)
                or w < 0
            ):
                raise SettingsError(
                    f"{path}penalty.weight: must be a finite number >= 0 (value {w!r})"
                )
        # settings that do not fit together
        if self.model in GATED and self.nonlinearity != "tanh":
            raise SettingsError(
                f"{path}nonlinearity: a {self.model} is gated and uses tanh; "
                f"it does not fit model {self.model!r} (value {self.nonlinearity!r})"
            )
        if self.model == "esn":
            for k in ("clip", "truncate", "penalty"):
                if getattr(self, k) is not None:
                    raise SettingsError(
                        f"{path}{k}: an esn is not trained by gradient descent, "
                        f"so {k} does not apply "
                        f"(value {dataclasses.asdict(getattr(self, k))!r})"
                    )
        if self.penalty is not None and self.penalty.kind == "pascanu" and self.model != "rnn":
            raise SettingsError(
                f"{path}penalty.kind: Pascanu's Omega is defined for the vanilla rnn, "
                f"not model {self.model!r} (value 'pascanu')"
            )
        if self.task == "memory" and self.model != "esn":
            raise SettingsError(
                f"{path}task: the memory task measures an esn's memory capacity; "
                f"model {self.model!r} does not fit (value 'memory')"
            )
        from rnngrad.tasks import min_seq_len

        need = min_seq_len(self.task)
        if self.seq_len < need:
            raise SettingsError(
                f"{path}seq_len: task {self.task!r} needs seq_len >= {need} "
                f"(value {self.seq_len!r})"
            )


def _positive(v: Any, key: str) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise SettingsError(f"{key}: must be a finite number > 0 (value {v!r})")


def _nested(name: str, v: Any, path: str):
    cls = {"clip": Clip, "truncate": Truncate, "penalty": Penalty}[name]
    if v is None or isinstance(v, cls):
        return v
    if not isinstance(v, Mapping):
        raise SettingsError(f"{path}{name}: must be a mapping or null (value {v!r})")
    allowed = {f.name for f in dataclasses.fields(cls)}
    for k in v:
        if k not in allowed:
            raise SettingsError(f"{path}{name}.{k}: unknown setting (value {v[k]!r})")
    return cls(**v)
