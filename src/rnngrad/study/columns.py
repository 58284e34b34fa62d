"""The data dictionary of a study's tables (docs/tables.md): the columns' types, that values
alone cannot tell (a column may be empty in every cell), and each column's unit and meaning
(:data:`COLUMNS`, :data:`METRIC_COLUMNS`, :func:`describe_column`); the report shows it and
:func:`rnngrad.study.tables.load` puts it in ``df.attrs``."""

from __future__ import annotations

import dataclasses

from rnngrad.core.settings import NESTED, CellSettings
from rnngrad.core.settings import describe as describe_settings
from rnngrad.core.theory import MEAN_FIELD_COLUMNS

PHASES = ("init", "trained")
# gradient metrics of a phase (docs/metrics.md), in column order; others a record has follow
PHASE_METRICS = (
    "log10_grad_ratio",
    "decay_rate",
    "jacobian_decay_rate",
    "horizon",
    "lyapunov_max",
    "spectral_radius",
    "spectral_norm",
    "memory_sensitivity",
    "profile_seconds",
    "jacobian_seconds",
)
TRAINING_METRICS = (
    "final_loss",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "baseline_loss",
    "short_memory_loss",
    "normalized_loss",
    "solved",
    "clip_fraction",
    "max_grad_norm",
    "diverged_at",
    "train_seconds",
    "steps_trained",
    "train_steps_per_s",
    "plain_train_steps_per_s",
    "train_vs_plain",
    "steps_to_solve",
    "sequences_to_solve",
)

# column types that values alone cannot tell (a column may be empty in every cell)
_SETTING_DTYPES = {
    "int": "int64",
    "float": "float64",
    "str": "object",
    "bool": "bool",
    "tuple[str, ...]": "object",  # plugins: one text column (CellSettings.flat)
}
_NULLABLE = {"int64": "Int64", "bool": "boolean", "float64": "float64", "object": "object"}
METRIC_DTYPES = {
    "horizon": "Int64",
    "solved": "boolean",
    "diverged_at": "Int64",
    "steps_trained": "Int64",
    "steps_to_solve": "Int64",
    "sequences_to_solve": "Int64",
    "status": "object",
    **dict.fromkeys(MEAN_FIELD_COLUMNS, "float64"),
}
PROFILE_DTYPES = {
    "cell_id": "object",
    "phase": "object",
    "lag": "int64",
    "grad_norm": "float64",
    "jacobian_norm": "float64",
    "weight_grad_norm": "float64",
    "jacobian_sv_median": "float64",
    "jacobian_sv_min": "float64",
    "log10_grad_norm": "float64",
    "log10_jacobian_norm": "float64",
    "log10_weight_grad_norm": "float64",
}
LOG10_COLUMNS = {f"log10_{c}": c for c in ("grad_norm", "jacobian_norm", "weight_grad_norm")}
TRAINING_DTYPES = {
    "cell_id": "object",
    "step": "int64",
    "loss": "float64",
    "param_grad_norm": "float64",
    "clipped": "bool",
    "penalty": "float64",
    "eval_loss": "float64",
    "eval_accuracy": "float64",
}


# the data dictionary (the report shows it, load() puts it in df.attrs): column -> (unit,
# meaning); init_/trained_ metrics are described once, without their prefix
METRIC_COLUMNS = {
    "decay_rate": (
        "log10 per step",
        "least-squares slope of log10 grad_norm[k] against lag k (lstm: lags 1 on)",
    ),
    "jacobian_decay_rate": ("log10 per step", "the same slope of jacobian_norm"),
    "log10_grad_ratio": (
        "log10 (ratio)",
        "log10(grad_norm[steps-1] / grad_norm[0]): < 0 vanishing, > 0 exploding (lstm: "
        "against grad_norm[1], the first lag covering both h and c, as dL/dc_T = 0)",
    ),
    "horizon": (
        "steps",
        "smallest lag with grad_norm below 1e-3 grad_norm[0] (lstm: grad_norm[1]); steps when none",
    ),
    "lyapunov_max": (
        "ln per step (natural log)",
        "finite-time largest Lyapunov exponent along the first probe sequence: (1/steps) ln "
        "||J_steps ... J_1 q_0|| from a fixed seeded unit vector q_0, no transient discarded; "
        "below the direction-free value by about (psi(N/2) - psi(1/2)) / (2 steps), i.e. "
        "2.35/steps at N 32 (measured 0.02-0.09 at steps 30); "
        "-inf when the product is exactly zero",
    ),
    "spectral_radius": ("1", "largest |eigenvalue| of W_rec (gated models: candidate block)"),
    "spectral_norm": ("1", "largest singular value of W_rec (gated models: candidate block)"),
    "memory_sensitivity": (
        "1",
        "the curse of memory (Zucchet and Orvieto 2024): sqrt((H / |theta_rec|) mean_b "
        "||dy_b/dtheta_rec||^2 / (mean_b ||h_T(b)||^2 / H)), y_b = u . h_T(b) for the first 16 "
        "probe sequences and a fixed seeded unit vector u, theta_rec the recurrent weights; "
        "the scalar linear recurrence with white input reads sqrt(1 + l^2) / (1 - l^2)",
    ),
    "profile_seconds": ("s", "median wall time of the forward + backward pass giving grad_norm"),
    "jacobian_seconds": ("s", "median wall time of the Jacobian norms and lyapunov_max"),
    "probe_loss": ("loss units of the task", "task loss of the probe batch"),
    "profile_gflops": (
        "GFLOP/s",
        "useful FLOPs of the profile pass (6BH^2T per gate block) per second of profile_seconds",
    ),
    "profile_peak_mb": (
        "MB",
        "peak memory of one profile pass above what was held before it "
        "(tracemalloc for NumPy, peak RSS rise or CUDA peak for torch)",
    ),
}
COLUMNS = {
    "cell_id": ("text", "stable id: backend, remedy, seq_len, w_rec_scale, seed, further axes"),
    "steps": ("steps", "actual sequence length the network reads"),
    "study": ("category", "the study of the row (rnngrad.load)"),
    **describe_settings(),
    "final_loss": (
        "loss units of the task",
        "loss on eval_sequences (>= 1000) fresh sequences that did not decide stopping",
    ),
    "accuracy": ("fraction", "fraction of evaluation sequences correct (the task's criterion)"),
    "accuracy_low": ("fraction", "lower end of the accuracy's 95% Wilson interval"),
    "accuracy_high": ("fraction", "upper end of the accuracy's 95% Wilson interval"),
    "baseline_loss": ("loss units of the task", "loss of the best memoryless predictor"),
    "short_memory_loss": (
        "loss units of the task",
        "loss of the best predictor remembering only the most recent marked item "
        "(adding: half the baseline); empty for digits and memory",
    ),
    "normalized_loss": ("1 (1 = chance)", "final_loss / baseline_loss"),
    "solved": (
        "bool",
        "accuracy >= 0.99 on the fresh evaluation set (Pascanu et al.'s fewer than 1% errors)",
    ),
    "memory_capacity": ("delays", "Jaeger's memory capacity (memory task)"),
    "clip_fraction": ("fraction", "fraction of training steps whose gradient was clipped"),
    "max_grad_norm": ("gradient units", "largest global gradient norm before clipping"),
    "diverged_at": ("step", "training step with a non-finite loss or gradient; empty if none"),
    "train_seconds": ("s", "wall time of training"),
    "steps_trained": ("steps", "training steps run (below train_steps when stopped when solved)"),
    "train_steps_per_s": ("steps/s", "steps_trained / train_seconds"),
    "plain_train_steps_per_s": (
        "steps/s",
        "plain PyTorch's training steps/s at the cell's shape, timed in the same job after "
        "training (plain_reference_steps); empty if not timed",
    ),
    "train_vs_plain": ("1", "train_steps_per_s / plain_train_steps_per_s"),
    "steps_to_solve": (
        "steps",
        "first step whose held-out evaluation reached accuracy 0.99; empty if never",
    ),
    "sequences_to_solve": ("sequences", "steps_to_solve x batch (Hochreiter and Schmidhuber)"),
    "sigma_w": (
        "1",
        "mean field, at initialization: RMS of W_rec's entries times sqrt(hidden), "
        "||W_rec||_F / sqrt(N); empty where the mean field does not apply (gated models, "
        "identity init, leaky esn)",
    ),
    "sigma_u": (
        "1",
        "RMS over units, steps and probe sequences of the input's contribution W_ih x_t to a "
        "pre-activation: sqrt(tr(W_ih M W_ih^T) / N), M the inputs' second moment",
    ),
    "sigma_b": ("1", "RMS of the bias b_ih + b_hh over units"),
    "mf_q": (
        "state units^2",
        "q*, fixed point of q = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_u^2 + sigma_b^2",
    ),
    "mf_chi": (
        "1 per step",
        "sigma_w^2 E[phi'(sqrt(q*) z)^2]: mean factor of the squared gradient norm a step; "
        "1 is the order/chaos boundary",
    ),
    "mf_decay_rate": (
        "log10 per step",
        "mean field's prediction of init_decay_rate along the probe batch's own inputs "
        "(q_t and chi_t step by step, the batch's norm by lag, its slope)",
    ),
    "mf_stationary_decay_rate": (
        "log10 per step",
        "log10(mf_chi) / 2: the stationary mean field's decay_rate (inputs of the same "
        "variance every step)",
    ),
    "mf_depth_scale": (
        "steps",
        "1 / |ln mf_chi|: steps over which the squared gradient norm changes by a factor e",
    ),
    "status": (
        "category",
        "ok, exploded (init profile's forward overflowed) or diverged (training)",
    ),
    "runtime_s": ("s", "wall time of the whole cell"),
    "overhead_s": ("s", "the job's time outside the cell (interpreter start, imports)"),
    "gemm_gflops": (
        "GFLOP/s",
        "this machine's GEMM rate at the cell's per-step matrix shape, measured in the same job",
    ),
    "rnngrad_version": ("text", "package version"),
    "code_hash": ("hex", "hash of the package source that computed the cell"),
    "numpy_version": ("text", "NumPy version"),
    "torch_version": ("text", "PyTorch version (empty if not installed)"),
    "git_commit": ("hex", "git commit of the checkout (empty outside git)"),
    "settings_hash": ("hex", "hash of the cell's resolved settings"),
    "plugin_sources": (
        "text",
        "the plugin files the cell ran, path@sha256 each (empty for built-ins; docs/plugins.md)",
    ),
    "host": ("text", "host name"),
    "python_version": ("text", "Python version"),
    # profiles
    "phase": ("category", "init (at initialization) or trained (after training)"),
    "lag": ("steps", "k = steps - t, steps back from the last step"),
    "grad_norm": (
        "loss units / state units",
        "||dL/ds_{steps-k}||, Frobenius over batch and units, of the last loss step's term of the "
        "loss (copy and memory score several steps)",
    ),
    "jacobian_norm": ("1", "||ds_steps / ds_{steps-k}||_2 on the first probe sequence"),
    "weight_grad_norm": ("loss units", "Frobenius norm of step (steps-k)'s term in dL/dW_rec"),
    "jacobian_sv_median": (
        "1",
        "median singular value of ds_steps / ds_{steps-k} on the first probe sequence "
        "(dynamical isometry: all near 1)",
    ),
    "jacobian_sv_min": (
        "1",
        "smallest singular value of ds_steps / ds_{steps-k} (rounding below 1e-8 of the largest)",
    ),
    "log10_grad_norm": (
        "log10 of grad_norm's units",
        "log10 grad_norm, exact at any depth (grad_norm is 0 or inf beyond float64's range)",
    ),
    "log10_jacobian_norm": ("log10", "log10 jacobian_norm, exact at any depth"),
    "log10_weight_grad_norm": ("log10 loss units", "log10 weight_grad_norm, exact at any depth"),
    # training
    "step": ("step", "training step"),
    "loss": ("loss units of the task", "training batch loss"),
    "param_grad_norm": ("gradient units", "global gradient norm before clipping"),
    "clipped": ("bool", "whether the step's gradient was clipped"),
    "penalty": ("1", "value of the penalty term (its form: penalty_kind)"),
    "eval_loss": ("loss units of the task", "held-out loss at a periodic evaluation; else empty"),
    "eval_accuracy": ("fraction", "held-out accuracy at a periodic evaluation; else empty"),
}


def describe_column(name: str) -> tuple[str, str]:
    """Unit and meaning of a table column (phase-prefixed metrics included)."""
    for prefix, phase in (("init_", "at initialization"), ("trained_", "after training")):
        if name.startswith(prefix) and name[len(prefix) :] in METRIC_COLUMNS:
            unit, meaning = METRIC_COLUMNS[name[len(prefix) :]]
            return unit, f"{meaning}, {phase}"
    return COLUMNS.get(name, ("", "further grid axis or setting (see the config)"))


def setting_dtypes() -> dict[str, str]:
    """The column type of every flattened setting (``seq_len``: int64, ``clip_kind``: object...)."""
    out = {}
    for f in dataclasses.fields(CellSettings):
        if f.name == "extra_axes":
            continue
        if f.name in NESTED:
            for sub in dataclasses.fields(NESTED[f.name]):
                out[f"{f.name}_{sub.name}"] = _NULLABLE[_SETTING_DTYPES[sub.type]]
        else:
            out[f.name] = _SETTING_DTYPES[f.type]
    return out
