"""Captions of the study figures, in the report's order: what each shows and what to look at.

Kept apart from :mod:`rnngrad.report.figures` so that the workflow can list the figures without
importing matplotlib and seaborn (about 1.7 s at every Snakemake start).
"""

from __future__ import annotations

CAPTIONS = {
    "unrolled": (
        "The network unrolled through time, with the backward pass drawn from measured numbers. "
        "Inputs x_t enter the hidden states h_t, which chain left to right; the loss L reads "
        "h_T. Each backward arrow carries dL/dh_t: its width and colour are log10 of the measured "
        "grad_norm at that step relative to the last step. Look at how the arrows thin out and "
        "turn blue (vanishing), stay even (stable), or thicken and turn red (exploding) towards "
        "t = 0."
    ),
    "phase_diagram": (
        "Phase diagram: log10(grad_norm[T-1] / grad_norm[0]) at initialization over sequence "
        "length and the spectral radius of W_rec, a panel per remedy (columns) and backend (rows). "
        "Blue cells vanish, red ones explode, white ones keep the gradient; 'inf' marks overflow. "
        "Look for where the white boundary lies and how each remedy moves it."
    ),
    "decay_curves": (
        "Decay curves at initialization, longest sequence length: grad_norm at lag k relative "
        "to lag 0 (log scale), a line per w_rec_scale, a panel per remedy. A straight line means "
        "a constant factor per step (the decay_rate); the dashed vertical line marks truncated "
        "BPTT's k2, beyond which its training gradient is cut."
    ),
    "weight_grad_norm": (
        "Which steps the weights learn from: the norm of each step's term in dL/dW_rec against "
        "lag, at initialization and the longest sequence length. Where the curve falls, the "
        "weights receive almost nothing from early inputs; the first step contributes zero "
        "because h_0 = 0."
    ),
    "theory": (
        "Theory against measurement at initialization. Left: decay_rate against log10 of W_rec's "
        "spectral norm; Pascanu et al.'s bound says the Jacobian shrinks per step at most by "
        "gamma * sigma_max (gamma = 1 for tanh, relu and linear, 1/4 for sigmoid), so points lie "
        "on or below their line. Right: against log10 of the spectral radius, where a linear "
        "RNN with W = s*Q decays exactly as log10 s (the diagonal)."
    ),
    "remedy_decay": (
        "What training does to the gradient: decay_rate before (x) and after (y) training, a "
        "colour per remedy. Points above the diagonal propagate gradients further after training."
    ),
    "solved_vs_seq_len": (
        "Learning against sequence length, in the form of Pascanu et al.'s figures: normalized "
        "loss (final loss / the task's baseline, 1 = chance) and the fraction of cells solved "
        "(accuracy >= 0.99), a line per remedy, over seeds and scales. Look for the remedies "
        "that still learn at the longest sequences."
    ),
    "steps_to_solve": (
        "The papers' own form: success rate (Pascanu et al.'s fig. 7: the fraction of runs "
        "that reached accuracy >= 0.99 on fresh sequences, here the held-out evaluations, or "
        "the final 1000 sequences for runs without them) and steps to solve (the first held-out "
        "evaluation that reached 0.99; Hochreiter and Schmidhuber tabulate sequences = steps x "
        "batch) against sequence length, a line per remedy (the median over solved runs, a dot "
        "per run). Crosses mark runs that never solved, at the step they stopped (diverged runs "
        "are left out there); the dotted line is the budget. Look for the remedies that keep "
        "solving as T grows, and how fast."
    ),
    "training_curves": (
        "Training curves at the longest sequence length: loss / baseline loss against step, a "
        "line per remedy, a panel per w_rec_scale. Ticks below a curve mark steps where the "
        "gradient was clipped in at least half of the cells."
    ),
    "backend_agreement": (
        "Backend agreement (float64): the largest relative difference between the NumPy and "
        "PyTorch cells of a pair over log10_grad_ratio, decay_rate, jacobian_decay_rate, "
        "lyapunov_max and the grad_norm profile, against lyapunov_max. Pairs below the dashed "
        "line (1e-8) agree; chaotic cells (lyapunov_max > 0) amplify rounding by "
        "e^(lyapunov_max * steps) and are shown as chaotic, not as disagreeing."
    ),
    "speed": (
        "Speed: median wall time of one forward and full backward pass (profile_seconds) per "
        "backend against sequence length (the legend gives the log-log slope: 1 is linear in T) "
        "and hidden size; each job's overhead outside the cell (interpreter start, imports). "
        "Second row, where recorded: the achieved GFLOP/s as a share of this machine's GEMM rate "
        "at the cell's step shape, measured in the same job, and the pass's peak memory in units "
        "of one (T, B, H) state array."
    ),
    "memory_capacity": (
        "Short-term memory capacity of echo state networks (memory task): MC, the sum over delays "
        "k of the squared correlation between u(t-k) and the trained delay-k readout, divided by "
        "the number of reservoir units N, against the reservoir's spectral radius, a line per "
        "nonlinearity and init, a panel per readout ridge. MC never exceeds N (dashed line, "
        "Jaeger 2001); look at how close a linear reservoir comes to it, how the tanh reservoir "
        "falls below, and how, below radius 0.9, a smaller ridge raises a linear reservoir's MC: "
        "without noise MC = N at any radius, so there the ridge, not the reservoir, sets it."
    ),
    "curse_of_memory": (
        "The curse of memory (Zucchet and Orvieto 2024): at initialization, the sensitivity of "
        "the last hidden state to the recurrent weights (memory_sensitivity: the RMS of d(u . "
        "h_T)/dtheta_rec over one recurrent parameter a unit, over the RMS of one unit's h_T, u"
        " a fixed random unit vector; docs/metrics.md) against the memory timescale, the steps "
        "in which the step Jacobians' product falls by e, a colour per remedy (median over "
        "seeds; bars: min to max). Models whose Jacobians do not decay within the sequence (tau"
        " beyond T) are drawn as triangles at the right edge. Lines: the closed forms of a "
        "diagonal linear recurrence h = l h + x with white input, sqrt(1 + l^2) / (1 - l^2) "
        "(solid), and with the input normalized by gamma = sqrt(1 - l^2), 1 / (1 - l^2) "
        "(dashed), at tau = -1 / ln l. Both grow as the timescale squared: keeping the state's "
        "variance fixed does not cure it. Look at whether each model's points rise with its "
        "timescale along the lines, and which ones stay below them."
    ),
}

# text drawn inside the speed figure
GEMM_SHARE = "achieved GFLOP/s, % of this machine's GEMM rate"
SPEED_NOTE = (
    "GEMM rate: measured in each cell's job at its step shape\n"
    "(B, H) x (H, G H), same library, dtype and device.\n"
    "Useful FLOPs: 6 B G H^2 T a profile.\n"
    "Peak memory: tracemalloc (NumPy), peak RSS rise\n"
    "(torch on CPU), CUDA peak (cuda)."
)
