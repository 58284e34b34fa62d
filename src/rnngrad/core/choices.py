"""The closed sets of values a cell's settings take (models, tasks, optimizers, ...), the
pattern of study and remedy names, and the models that constrain other settings; validation
(:mod:`rnngrad.core.validation`) and ``rnngrad cell --help`` read them."""

from __future__ import annotations

import math
import re

BACKENDS = ("numpy", "torch")
MODELS = ("rnn", "lstm", "gru", "esn", "exprnn", "antisymmetric", "indrnn", "lru")
NONLINEARITIES = ("tanh", "relu", "sigmoid", "linear", "modrelu")
INITS = ("gaussian", "orthogonal", "identity", "sparse")
W_REC_SCALINGS = ("radius", "sigma_w")  # what w_rec_scale sets (rnngrad.init.recurrent_matrix)
DTYPES = ("float64", "float32")
DEVICES = ("cpu", "cuda")
# the LRU's largest phase at initialization: arg(lambda) uniform in [0, 2 pi) (Orvieto et al.)
LRU_MAX_PHASE = 2 * math.pi
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
MIN_HELDOUT_SEQUENCES = 50  # the periodic evaluations' smallest held-out set (one chunk)
# the nested settings, in order (the keys of rnngrad.core.settings.NESTED)
NESTED_NAMES = ("clip", "truncate", "penalty")
