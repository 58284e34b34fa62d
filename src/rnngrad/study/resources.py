"""Cost model of a cell: estimated seconds, memory and the SLURM resources to ask for.

A cell's time is dominated by passes of the recurrence over ``steps`` time steps. One forward and
backward pass over a batch of B sequences costs, per step,

    t_step = G (c0 + c_elem B H) + (6 B G H^2 + 4 B^2 H) / R

(G gate blocks: 1 rnn/esn, 4 lstm, 3 gru; c0 the fixed cost of the step's calls, c_elem the
elementwise passes, R the GEMM rate; 4 B^2 H is the Gram trick of ``weight_grad_norm``). The
jacobian metrics cost, per step, a + b S^2 + c S^3 on the S x S state Jacobian (S = 2H for the
lstm): the running product, the eigvalsh of the products and the QR step of the Lyapunov exponent.
A cell runs the profile pass and the jacobian several times per phase (a warm-up, then timed runs
as rnngrad.run.cell does), ``train_steps`` training steps of about one pass each (measured against a
live pass in one process), and forward passes over the evaluation sequences in chunks.

The constants were fitted on one core of the reference machine (numpy on OpenBLAS, one thread);
how, and how well the model predicts measured cells, is in docs/performance.md. Cluster cores are
usually no slower; the requested time limit carries a margin of 3x plus a minute.

Example
-------
>>> from rnngrad.core.settings import CellSettings
>>> r = cell_resources(CellSettings(seq_len=100, hidden=32, batch=32, train_steps=100))
>>> sorted(r)
['cpus_per_task', 'estimated_seconds', 'mem_mb', 'runtime']
"""

from __future__ import annotations

import math
from dataclasses import replace

from rnngrad.core.choices import OMEGA_KINDS
from rnngrad.core.memory import MEMORY_SEQUENCES
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import EVAL_CHUNK
from rnngrad.core.weights import gates
from rnngrad.run.plain import ROUNDS, supported
from rnngrad.run.timing import TIMING_BUDGET, TIMING_REPEATS

# per-step costs on one core (seconds), numpy backend, fitted by least squares (relative error)
STEP_SECONDS = {"numpy": 7.4e-6, "torch": 20e-6}  # c0: torch's autograd loop records every op
ELEM_SECONDS = {"float64": 16.5e-9, "float32": 6.4e-9}  # c_elem, per batch x unit
GEMM_RATE = {"float64": 57e9, "float32": 102e9}  # R, FLOP/s for the batched recurrence
TORCH_SLOWDOWN = 1.5  # torch autograd vs hand-written BPTT at equal size
TORCH_LONG_T = 4000  # ... growing with T: TORCH_SLOWDOWN * (1 + T / TORCH_LONG_T)
FORWARD_SHARE = 0.5  # of the calls and elementwise passes of a step, in the forward alone
JACOBIAN_STEP = (22e-6, 47e-9, 0.23e-9)  # a, b per S^2, c per S^3 (product + eigvalsh + QR)

# a cell's work in passes, measured against a live pass in the same process (load-independent)
PROFILE_EXTRA = 1.0  # passes of bookkeeping a profile adds to its warm-up and timed runs
TRAIN_STEP_PASSES = {"none": 1.0, "truncate": 1.3, "pascanu": 2.0}  # a training step, in passes
# a training step's fixed cost beside its pass: a fresh batch, the norm, clipping, the update
TRAIN_STEP_SECONDS = {"numpy": 0.5e-3, "torch": 3e-3}
START_SECONDS = {"numpy": 0.4, "torch": 1.9}  # interpreter, imports (torch: 1.45 s), data

# memory: the interpreter with its libraries, and how many (T+1, B, S) arrays one pass keeps
INTERPRETER_MB = {"numpy": 300, "torch": 500}
# (T+1, B, H) arrays a forward pass keeps: h; the esn's f(a_t) too; the lstm's gates i, f, g, o,
# c and tanh(c); the gru's r, z, n
# the indrnn's h of each layer (times `layers`); the lru's complex h and v, (Re h, Im h), the
# encoder's and the MLP's pre-activations, tanh and outputs, y
FORWARD_ARRAYS = {
    "rnn": 1,
    "esn": 2,
    "lstm": 7,
    "gru": 4,
    "exprnn": 1,
    "antisymmetric": 2,
    "indrnn": 1,
    "lru": 12,
}
PLUGIN_ARRAYS = 4  # a plugin model's, as a gru's (an estimate: its step is not known here)
TORCH_ARRAYS = 6.5  # torch's peak of forward + backward over the numpy forward's
MEMORY_MARGIN = 1.25
TIME_MARGIN = 3.0  # the time limit over the estimate: slower nodes, shared cores
TIME_EXTRA_MINUTES = 1  # job start, writing the record; summed over a bundle's layers
BIG_STEP_FLOPS = 6 * 32 * 128 * 128  # at and above this a step's GEMMs gain from a second core
# models whose recurrence is elementwise (a diagonal): their GEMMs are few and batched over time,
# and a second thread does not pay (indrnn, 2 x 128 units, B = 32, T = 200, float32: 31 ms a
# training step on one thread, 34 ms on two; AMD EPYC, quiet)
DIAGONAL_MODELS = frozenset({"indrnn", "lru"})


def state_size(s: CellSettings) -> int:
    """S, the size of the recurrent state s_t (the lstm's is (h_t, c_t), the lru's (Re h_t,
    Im h_t), the indrnn's every layer's h_t)."""
    return (2 if s.model in ("lstm", "lru") else s.layers) * s.hidden


def pass_seconds(s: CellSettings, batch: int | None = None, backward: bool = True) -> float:
    """Estimated seconds of one pass over ``steps`` with ``batch`` sequences (default s.batch)."""
    B, H, G, T = batch or s.batch, s.hidden, gates(s.model) * s.layers, s.steps
    if backward:  # three GEMMs a step, and the Gram trick of weight_grad_norm
        share, flops = 1.0, 6 * B * G * H * H + 4 * B * B * H
    else:  # one GEMM a step, FORWARD_SHARE of the calls and elementwise passes
        share, flops = FORWARD_SHARE, 2 * B * G * H * H
    calls = share * G * STEP_SECONDS[s.backend]
    work = share * G * ELEM_SECONDS[s.dtype] * B * H + flops / GEMM_RATE[s.dtype]
    slowdown = TORCH_SLOWDOWN * (1 + T / TORCH_LONG_T) if s.backend == "torch" else 1.0
    return T * (calls + slowdown * work)


def jacobian_seconds(s: CellSettings) -> float:
    """Estimated seconds of one measurement of jacobian_norm and lyapunov_max."""
    a, b, c = JACOBIAN_STEP
    S = state_size(s)
    return s.steps * (a + b * S * S + c * S**3)


def timed_runs(seconds: float) -> int:
    """Runs of a measurement of ``seconds`` in rnngrad.run.cell: a warm-up, then timed repeats
    within the timing budget (at least one)."""
    return 1 + min(TIMING_REPEATS, max(1, math.ceil(TIMING_BUDGET / max(seconds, 1e-9))))


def cell_seconds(s: CellSettings) -> float:
    """Estimated wall seconds of a whole cell on one core of the reference machine."""
    phases = 2 if s.train_steps > 0 else 1  # init, and trained after training
    p = pass_seconds(s)
    t = START_SECONDS[s.backend] + phases * (timed_runs(p) + PROFILE_EXTRA) * p
    if s.jacobian:
        j = jacobian_seconds(s)
        t += phases * timed_runs(j) * j
    # memory_sensitivity: a pass of one sequence for each of its sequences, each phase
    t += phases * min(MEMORY_SEQUENCES, s.batch) * pass_seconds(s, batch=1)
    if s.train_steps > 0:
        if s.model == "esn":  # states of the training sequences, then one ridge fit
            t += s.train_steps * pass_seconds(s, backward=False)
        else:
            kind = (
                "truncate"
                if s.truncate is not None
                else "pascanu"
                if s.penalty is not None and s.penalty.kind in OMEGA_KINDS
                else "none"
            )
            t += s.train_steps * (TRAIN_STEP_PASSES[kind] * p + TRAIN_STEP_SECONDS[s.backend])
        evaluations = s.train_steps // s.eval_every if s.eval_every else 0  # the held-out ones
        chunks = s.eval_sequences // EVAL_CHUNK + evaluations * (s.heldout_sequences // EVAL_CHUNK)
        t += chunks * pass_seconds(s, batch=EVAL_CHUNK, backward=False)
    if s.plain_reference_steps > 0 and supported(s):  # fused torch: about a numpy step
        plain = pass_seconds(replace(s, backend="numpy")) + TRAIN_STEP_SECONDS["numpy"]
        t += (ROUNDS + 1) * s.plain_reference_steps * plain
        if s.backend == "numpy":  # the reference imports torch
            t += START_SECONDS["torch"] - START_SECONDS["numpy"]
    return t


def cell_memory_mb(s: CellSettings) -> float:
    """Estimated peak resident memory of a cell in MB (10^6 bytes), without margin."""
    arrays = FORWARD_ARRAYS.get(s.model, PLUGIN_ARRAYS) * s.layers
    per_seq = (s.steps + 1) * s.hidden * (4 if s.dtype == "float32" else 8)  # one (T+1, H), bytes
    # numpy's backward adds about one array (dL/da chunks, dL/dh); autograd keeps every op's inputs
    train = s.batch * per_seq * (TORCH_ARRAYS * arrays if s.backend == "torch" else arrays + 1)
    evaluation = EVAL_CHUNK * per_seq * arrays if s.train_steps > 0 else 0.0
    S = state_size(s)  # the step Jacobians and their running products, (T, S, S) each, float64
    jac = 2 * s.steps * S * S * 8 if s.jacobian else 0.0
    return INTERPRETER_MB[s.backend] + max(train, evaluation, jac) / 1e6


def cell_resources(s: CellSettings) -> dict:
    """The SLURM resources of a cell and its estimated seconds.

    Returns
    -------
    dict
        ``runtime`` (minutes, the time limit: 3x the estimate plus 1), ``mem_mb``
        (peak estimate plus 25%, rounded up to 100 MB), ``cpus_per_task`` (2 where a step's
        recurrent GEMMs are big enough to use a second core, else 1: a diagonal recurrence has
        none) and ``estimated_seconds`` (float).
    """
    seconds = cell_seconds(s)
    step_flops = 6 * s.batch * gates(s.model) * s.hidden * s.hidden
    return {
        "runtime": max(1, math.ceil(TIME_MARGIN * seconds / 60) + TIME_EXTRA_MINUTES),
        "mem_mb": int(100 * math.ceil(MEMORY_MARGIN * cell_memory_mb(s) / 100)),
        "cpus_per_task": 2
        if step_flops >= BIG_STEP_FLOPS and s.model not in DIAGONAL_MODELS
        else 1,
        "estimated_seconds": float(seconds),
    }
