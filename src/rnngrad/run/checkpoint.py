"""Checkpoints of a training run: saved every few seconds of training, resumed after a crash.

A checkpoint is one npz (no pickle) holding the settings' hash, the code's hash, the weights, the
optimizer state, the curve so far, the data stream's state and the seconds trained, written
atomically. One that cannot be read, or that other settings or other code saved, is discarded
with a warning and training starts over.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from rnngrad.core.files import atomic_write
from rnngrad.core.settings import CellSettings
from rnngrad.run.optim import init_optimizer
from rnngrad.run.provenance import code_hash, settings_hash

log = logging.getLogger("rnngrad.run.loop")  # one logger for a cell's training and its saves

CHECKPOINT_EVERY = 60.0  # seconds of training between checkpoint saves, unless set otherwise
CHECKPOINT_EVERY_ENV = "RNNGRAD_CHECKPOINT_EVERY"  # the interval from the environment (tests)
# the training curve: one list per field, one entry per training step, as the loop records it
CURVE = ("step", "loss", "param_grad_norm", "clipped", "penalty", "eval_loss", "eval_accuracy")
EVAL_CURVE = ("eval_loss", "eval_accuracy")  # None on steps without a periodic evaluation


def checkpoint_interval() -> float:
    """Seconds between checkpoint saves: ``$RNNGRAD_CHECKPOINT_EVERY`` when set, else
    CHECKPOINT_EVERY. Not a cell setting (it changes no result, so it must not rerun cells);
    ``rnngrad cell --checkpoint-every`` and the config's ``checkpoint_every`` override it."""
    raw = os.environ.get(CHECKPOINT_EVERY_ENV)
    if raw is None:
        return CHECKPOINT_EVERY
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(
            f"${CHECKPOINT_EVERY_ENV}: must be a number of seconds >= 0 (value {raw!r})"
        )
    return seconds


CHECKPOINT_KEYS = ("settings", "code_hash", "opt_step", "rng", "seconds")


def same_settings(path: str, s: CellSettings) -> bool:
    """Whether the checkpoint at ``path`` can be resumed: whole (every array reads back, so a
    truncated, empty or bit-flipped file fails its zip checksums here), saved by a cell of
    these very settings and by this very code (else the record would claim the new code_hash
    for steps the old code ran). Otherwise it is deleted with a warning naming the file and
    why, and training starts over; a resume is logged too."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        missing = [k for k in (*CHECKPOINT_KEYS, *(f"curve/{k}" for k in CURVE)) if k not in arrays]
        if missing:
            why = f"is incomplete or older (no {', '.join(missing)})"
        elif str(arrays["settings"]) != settings_hash(s):
            why = "was saved by other settings"
        elif str(arrays["code_hash"]) != code_hash():
            why = f"was saved by code {arrays['code_hash']}, this is {code_hash()}"
        else:
            log.info("checkpoint %s: resuming after step %d", path, len(arrays["curve/step"]))
            return True
    except Exception as e:  # zipfile, zlib, numpy and OS errors alike: the file is unusable
        why = f"cannot be read ({type(e).__name__}: {e})"
    log.warning("checkpoint %s %s: discarded, training starts over", path, why)
    Path(path).unlink(missing_ok=True)
    return False


def save(
    path: str,
    s: CellSettings,
    be,
    p: dict,
    opt: dict,
    curve: dict,
    rng: np.random.Generator,
    seconds: float,
) -> None:
    """Settings, weights, optimizer state, curve, data stream and time so far, as one npz
    (no pickle), written atomically."""
    arrays: dict[str, np.ndarray] = {f"param/{k}": be.from_backend(v) for k, v in p.items()}
    arrays["settings"] = np.array(settings_hash(s))
    arrays["code_hash"] = np.array(code_hash())
    for name, value in opt.items():
        if isinstance(value, dict):
            for k, v in value.items():
                arrays[f"opt/{name}/{k}"] = be.from_backend(v)
    arrays["opt_step"] = np.array(opt["step"])
    for k in CURVE:
        if k in EVAL_CURVE:  # None (no evaluation at that step) is stored as nan
            values = [np.nan if v is None else v for v in curve[k]]
            arrays[f"curve/{k}"] = np.asarray(values, dtype=np.float64)
        else:
            arrays[f"curve/{k}"] = np.asarray(curve[k], dtype=bool if k == "clipped" else None)
    arrays["rng"] = np.array(json.dumps(rng.bit_generator.state))
    arrays["seconds"] = np.array(seconds)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a name
            np.savez(f, **arrays)

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, write)
    log.info("checkpoint %s: saved after step %d", path, len(curve["step"]))


def load(path: str, s: CellSettings, be, rng: np.random.Generator):
    """Inverse of :func:`save`; sets ``rng``'s state and returns weights, optimizer state,
    curve and seconds."""
    with np.load(path, allow_pickle=False) as z:
        p = be.to_backend(s, {k[6:]: z[k] for k in z.files if k.startswith("param/")})
        opt: dict[str, Any] = {"step": int(z["opt_step"])}
        for name, value in init_optimizer(s, p).items():
            if isinstance(value, dict):
                prefix = f"opt/{name}/"
                opt[name] = be.to_backend(
                    s, {k[len(prefix) :]: z[k] for k in z.files if k.startswith(prefix)}
                )
        curve = {k: z[f"curve/{k}"].tolist() for k in CURVE}
        for k in EVAL_CURVE:
            curve[k] = [None if np.isnan(v) else v for v in curve[k]]
        rng.bit_generator.state = json.loads(str(z["rng"]))
        return p, opt, curve, float(z["seconds"])
