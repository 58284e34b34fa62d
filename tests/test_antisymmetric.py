"""The AntisymmetricRNN's stability (Chang et al. 2019, Sec. 3): its step Jacobians
I + eps diag(tanh') (W - W^T - gamma I) have eigenvalues of modulus at most
sqrt((1 - eps gamma tanh')^2 + (eps tanh' omega)^2), omega the frequencies of W - W^T, so its
largest Lyapunov exponent stays near 0 at every length, where the tanh rnn with the same W
contracts. Its BPTT against autograd and finite differences runs with every model in
test_numpy_backend.py and test_torch_backend.py."""

from __future__ import annotations

import numpy as np
import pytest

import rnngrad.numpy_backend as nb
from rnngrad.core import metrics
from rnngrad.core.shared import ANTISYMMETRIC_EPS, ANTISYMMETRIC_GAMMA


@pytest.mark.parametrize("seq_len", [30, 300, 1000])
def test_lyapunov_max_is_near_zero_at_every_length(case, seq_len):
    s, params, batch = case(model="antisymmetric", seq_len=seq_len, hidden=32, w_rec_scale=1.0)
    lyap = metrics.lyapunov_max(nb.step_jacobians(s, params, batch))
    W = params["weight_hh"]
    omega = np.linalg.norm(W - W.T, 2)  # the largest frequency of the skew-symmetric part
    # the frozen-Jacobian bound: log of the largest eigenvalue modulus above, at tanh' = 1
    bound = 0.5 * np.log1p((ANTISYMMETRIC_EPS * omega) ** 2)
    assert -ANTISYMMETRIC_EPS * ANTISYMMETRIC_GAMMA - 1e-3 < lyap < bound
    assert abs(lyap) < 0.05
    # the tanh rnn with the same W_hh and inputs contracts instead
    r = s.replace(model="rnn")
    assert metrics.lyapunov_max(nb.step_jacobians(r, params, batch)) < -0.1
