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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rnngrad.core.choices import LRU_MAX_PHASE, NESTED_NAMES
from rnngrad.core.validation import SettingsError, check, shown


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
    gradient_transform: str = setting(
        "",
        "category",
        "a plugin remedy's gradient transform, applied to every update's gradients before "
        "clipping ('': none; docs/plugins.md)",
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
    stop_accuracy: float = setting(
        0.99,
        "1",
        "the held-out accuracy at which stop_when_solved stops training, from 0.99 (the solved "
        "criterion) to 1; a margin above 0.99 lets the fresh set confirm the run: the "
        "reproduction studies stop at 0.995",
    )
    heldout_sequences: int = setting(
        300,
        "sequences",
        "the fixed held-out set that the periodic evaluations score and stop_when_solved "
        "stops on, a multiple of 50; a run stopped at its first held-out 297 of 300 often "
        "misses 0.99 on the fresh set, so reproductions use thousands",
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
    max_phase: float = setting(
        LRU_MAX_PHASE,
        "rad",
        "lru only: arg(lambda) is drawn uniform in [0, max_phase) (Orvieto et al.'s Appendix A "
        "code, whose default is 2 pi)",
    )
    plain_reference_steps: int = setting(
        0,
        "steps",
        "after training, time rounds of this many steps of plain PyTorch (torch.nn.RNN/LSTM/GRU, "
        "a Linear readout, the cell's optimizer) at the cell's shape: plain_train_steps_per_s "
        "(0: never; rnn with tanh or relu units, lstm and gru only)",
    )
    # the plugins the cell uses, <kind>:<name>=<source>@<sha> each (rnngrad.core.registry):
    # filled in by the config, never written by hand; the code's hash enters the settings hash
    plugins: tuple[str, ...] = field(
        default=(),
        metadata={
            "unit": "text",
            "help": "the plugins the cell uses, kind:name=source@sha256 (16 hex digits) each",
        },
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
            elif f.name in ("extra_axes", "plugins") and isinstance(v, (list, tuple)):
                v = tuple(v)
            kwargs[f.name] = v
        s = cls(**kwargs)
        s.validate(path)
        return s

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (JSON-safe), the inverse of :meth:`from_dict`."""
        d = dataclasses.asdict(self)
        d["extra_axes"] = list(self.extra_axes)
        d["plugins"] = list(self.plugins)
        return d

    def canonical(self) -> dict[str, Any]:
        """:meth:`to_dict` without the settings of :data:`HASHED_WHEN_SET` that hold their
        default: what the settings hash reads, and the cell job's parameter, so that a setting
        added later leaves every record made before it done (Snakemake reruns a job whose
        parameter changed). :meth:`from_dict` fills the defaults back in."""
        d = self.to_dict()
        for key, default in HASHED_WHEN_SET.items():
            if d[key] == default:
                d.pop(key)
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
            elif k == "plugins":  # one text column
                out[k] = " ".join(v)
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
        """Check every field against its checker, then the settings that must fit together
        (:func:`rnngrad.core.validation.check`); the first problem raises
        :class:`~rnngrad.core.validation.SettingsError` naming ``path`` + the key and the value."""
        check(self, path)


# the nested settings: a field of CellSettings -> its dataclass (flattened as clip_kind, ...)
NESTED = dict(zip(NESTED_NAMES, (Clip, Truncate, Penalty), strict=True))
# settings added after records existed, whose default reproduces what was done before them:
# left out of the settings hash at their default, so that the records made before them stay done
HASHED_WHEN_SET = {
    "plain_reference_steps": 0,
    "w_rec_scaling": "radius",
    "layers": 1,
    "r_min": 0.0,
    "heldout_sequences": 300,
    "stop_accuracy": 0.99,
    "gradient_transform": "",
    "plugins": [],
    "max_phase": LRU_MAX_PHASE,
}


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
