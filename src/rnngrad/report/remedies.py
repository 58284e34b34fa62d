"""What the report's remedies section says of each remedy: the built-ins' descriptions and
references, and a plugin's first docstring paragraph and declared citation (from the config's
``plugin_notes``, :func:`rnngrad.study.status.report_config`), each with its fixed colour and
its settings."""

from __future__ import annotations

from typing import Any

import yaml

from rnngrad.report import figstyle

# the settings whose value may name a plugin (rnngrad.core.validation.PLUGGABLE)
PLUGIN_KEYS = ("model", "task", "gradient_transform")
DEFINED_BY_CONFIG = "A remedy defined by this study's config."

REMEDY_TEXT = {
    "none": (
        "Plain full backpropagation through time with the study's optimizer: the baseline "
        "every remedy is compared with.",
        "Rumelhart, Hinton and Williams 1986; Werbos 1990.",
    ),
    "clip_norm": (
        "Gradient clipping by global norm: when the norm of the whole gradient exceeds "
        "a threshold, the gradient is rescaled to the threshold, keeping its direction. "
        "It tames exploding gradients and does nothing for vanishing ones.",
        "Pascanu, Mikolov and Bengio 2013, On the difficulty of training recurrent "
        "neural networks, ICML, Algorithm 1.",
    ),
    "clip_value": (
        "Gradient clipping by value: each component is clamped to [-threshold, "
        "threshold], which also changes the gradient's direction.",
        "Mikolov 2012, Statistical language models based on neural networks (thesis); "
        "compared in Pascanu et al. 2013.",
    ),
    "truncated_bptt": (
        "Truncated BPTT(k1, k2): every k1 steps the losses are backpropagated at "
        "most k2 steps back. It bounds cost and explosion but cannot learn "
        "dependencies longer than k2 (marked on the profiles).",
        "Williams and Peng 1990, An efficient gradient-based algorithm for on-line "
        "training of recurrent network trajectories, Neural Computation.",
    ),
    "penalty": (
        "Pascanu's regularizer Omega, which pushes each step's Jacobian to preserve the "
        "norm of the backpropagated error (their eq. 10, with dL/ds_{k+1} and s_k held "
        "constant), combined with clipping by norm: their SGD-CR. Kind pascanu follows "
        "their Theano code (ratio of squared norms, averaged over steps and sequences), not "
        "the formula as printed (ratio of norms, summed over steps: kind pascanu_printed).",
        "Pascanu, Mikolov and Bengio 2013, ICML, section 3.3.",
    ),
    "l2_penalty": (
        "An L2 penalty on W_rec (weight decay on the recurrent matrix), which pulls its "
        "spectral radius down: it fights explosion and favours vanishing.",
        "Pascanu et al. 2013 discuss it as the classic alternative; Bengio et al. 1994.",
    ),
    "orthogonal_init": (
        "W_rec initialized as s times a random orthogonal matrix: every singular "
        "value equals s, so a linear network neither shrinks nor grows any "
        "direction at s = 1.",
        "Saxe, McClelland and Ganguli 2014, Exact solutions to the nonlinear "
        "dynamics of learning in deep linear neural networks, ICLR.",
    ),
    "identity_init": (
        "W_rec = s times the identity with ReLU units and input weights of std 0.001; at "
        "s = 1 (Le et al.'s IRNN, the only scale the claims call IRNN) the state is copied "
        "forward and the gradient passes back unchanged through active units.",
        "Le, Jaitly and Hinton 2015, A simple way to initialize recurrent networks "
        "of rectified linear units, arXiv:1504.00941.",
    ),
    "smart_init": (
        "Pascanu's 'smart' initialization as their code: sparse W_rec (15 nonzero outgoing "
        "weights per unit) scaled to spectral radius s (0.95 in their runs), input and output "
        "weights of std 0.01.",
        "Pascanu, Mikolov and Bengio 2013, section 4.1; trainingRNNs RNN.py lines 125-138.",
    ),
    "esn": (
        "Echo state network: a fixed random leaky reservoir whose output weights are fitted "
        "by ridge regression in closed form, so no gradient flows through time at all.",
        "Jaeger 2001, The 'echo state' approach to analysing and training recurrent neural "
        "networks, GMD Report 148; Jaeger and Haas 2004, Science.",
    ),
    "lstm": (
        "Long short-term memory: a gated cell state with an additive update (forget-gate "
        "bias 1) gives the error a path that neither vanishes nor explodes when the gates "
        "stay open.",
        "Hochreiter and Schmidhuber 1997, Long short-term memory, Neural Computation; Gers, "
        "Schmidhuber and Cummins 2000 (forget gate).",
    ),
    "gru": (
        "Gated recurrent unit: update and reset gates interpolate between the old state and "
        "a candidate, a lighter gated path for the gradient.",
        "Cho et al. 2014, Learning phrase representations using RNN encoder-decoder, EMNLP.",
    ),
    "exprnn": (
        "Orthogonal recurrence through training: W_rec = expm(A) with A skew-symmetric, "
        "trained in A, so every eigenvalue of W_rec keeps modulus 1 and the linear part of "
        "the backward pass neither shrinks nor grows; modrelu units.",
        "Lezcano-Casado and Martinez-Rubio 2019, Cheap orthogonal constraints in neural "
        "networks, ICML; after Arjovsky, Shah and Bengio 2016, Unitary evolution RNNs.",
    ),
    "antisymmetric": (
        "AntisymmetricRNN: a forward Euler step of an ODE whose Jacobian W - W^T is "
        "antisymmetric (eigenvalues on the imaginary axis), with a small diffusion gamma: "
        "the state map neither contracts nor expands, by construction.",
        "Chang, Chen, Haber and Chi 2019, AntisymmetricRNN: a dynamical system view on "
        "recurrent neural networks, ICLR.",
    ),
    "indrnn": (
        "Independently recurrent units: each unit's recurrent weight is a scalar u_n, so its "
        "gradient through time is a product of u_n and relu', kept from vanishing or exploding "
        "by bounding |u_n| <= 2^(1/T); layers are stacked so units can interact.",
        "Li, Li, Cook, Zhu and Gao 2018, Independently recurrent neural network (IndRNN): "
        "building a longer and deeper RNN, CVPR.",
    ),
    "lru": (
        "Linear recurrent unit: a complex diagonal linear recurrence, its eigenvalues "
        "initialized on a ring near the unit circle in an exponential parametrization and its "
        "input normalized by sqrt(1 - |lambda|^2), between position-wise nonlinear maps.",
        "Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu and De 2023, Resurrecting recurrent "
        "neural networks for long sequences, ICML.",
    ),
}


def _plugins_of(overrides: dict, notes: dict) -> list[str]:
    """The plugin names a remedy's overrides use, in notes' order."""
    used = set()
    for o in (overrides, *overrides.get("by_task", {}).values()):  # its own, and its tasks'
        used |= {o.get(k) for k in PLUGIN_KEYS}
        penalty = o.get("penalty")
        if isinstance(penalty, dict):
            used.add(penalty.get("kind"))
    return [n for n in notes if n in used]


def remedy_notes(remedies: list[str], config: dict[str, Any]) -> list[dict[str, str]]:
    """One note per remedy: name, colour, description, reference and its settings; a remedy
    that uses a plugin is described by the plugin's docstring and citation."""
    remedy_cfg = config.get("remedies", {})
    notes = config.get("plugin_notes", {})
    out = []
    for r in remedies:
        text, ref = REMEDY_TEXT.get(r, (DEFINED_BY_CONFIG, ""))
        used = _plugins_of(remedy_cfg.get(r, {}), notes) if r not in REMEDY_TEXT else []
        if used:
            text = " ".join(f"Plugin {n} ({notes[n]['kind']}): {notes[n]['doc']}" for n in used)
            ref = "; ".join(notes[n]["citation"] for n in used if notes[n]["citation"])
        settings = remedy_cfg.get(r)
        out.append(
            {
                "name": r,
                "colour": figstyle.remedy_colour(r),
                "text": text,
                "ref": ref,
                "settings": yaml.safe_dump(settings, default_flow_style=True).strip()
                if settings is not None
                else "",
            }
        )
    return out


def plugin_list(config: dict[str, Any]) -> list[dict[str, str]]:
    """Every plugin the study's cells use: name, kind, description, citation, source and the
    first 16 hex digits of its SHA-256."""
    return [
        {"name": n, **v, "sha": v["sha256"][:16]} for n, v in config.get("plugin_notes", {}).items()
    ]
