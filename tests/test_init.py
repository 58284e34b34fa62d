"""Initializers: spectral radius as asked, pairing across cells, PyTorch layout."""

import numpy as np
import pytest

from rnngrad.core.settings import CellSettings
from rnngrad.core.weights import init_params, recurrent_matrix, stream


def _params(**kw):
    s = CellSettings.from_dict({"hidden": 20, **kw})
    return init_params(s, 2, 1)


@pytest.mark.parametrize("init", ["gaussian", "orthogonal", "identity", "sparse"])
@pytest.mark.parametrize("scale", [0.5, 1.0, 1.7])
def test_spectral_radius_is_the_scale(init, scale):
    W = recurrent_matrix(init, 30, scale, np.random.default_rng(0))
    assert np.max(np.abs(np.linalg.eigvals(W))) == pytest.approx(scale, rel=1e-10)


def test_orthogonal_is_scaled_orthogonal():
    W = recurrent_matrix("orthogonal", 12, 0.9, np.random.default_rng(5))
    np.testing.assert_allclose(W @ W.T, 0.81 * np.eye(12), atol=1e-13)


def test_sparse_has_fifteen_inputs_per_unit():
    W = recurrent_matrix("sparse", 40, 0.95, np.random.default_rng(2))
    assert np.all((W != 0).sum(axis=1) == 15)
    W_small = recurrent_matrix("sparse", 10, 0.95, np.random.default_rng(2))
    assert np.all((W_small != 0).sum(axis=1) == 10)  # all when hidden < 15


def test_scale_only_rescales_w_hh_and_pairs_cells():
    a = _params(w_rec_scale=0.5, remedy="none", backend="numpy")
    b = _params(w_rec_scale=1.5, remedy="clip_norm", backend="torch")
    np.testing.assert_allclose(b["weight_hh"], 3.0 * a["weight_hh"], rtol=1e-14)
    for k in a:
        if k != "weight_hh":
            assert np.array_equal(a[k], b[k]), k


def test_seed_changes_weights_and_is_deterministic():
    assert np.array_equal(_params(seed=1)["weight_hh"], _params(seed=1)["weight_hh"])
    assert not np.array_equal(_params(seed=1)["weight_hh"], _params(seed=2)["weight_hh"])


@pytest.mark.parametrize("model,gates", [("rnn", 1), ("esn", 1), ("lstm", 4), ("gru", 3)])
def test_pytorch_layout(model, gates):
    p = _params(model=model, input_scale=0.3)
    H = 20
    assert p["weight_ih"].shape == (gates * H, 2)
    assert p["weight_hh"].shape == (gates * H, H)
    assert p["bias_ih"].shape == p["bias_hh"].shape == (gates * H,)
    assert p["weight_out"].shape == (1, H)
    for g in range(gates):  # each gate's block has the cell's spectral radius
        block = p["weight_hh"][g * H : (g + 1) * H]
        assert np.max(np.abs(np.linalg.eigvals(block))) == pytest.approx(1.0, rel=1e-10)


def test_lstm_forget_bias_is_one_in_bias_ih():
    p = _params(model="lstm")
    H = 20
    assert np.all(p["bias_ih"][H : 2 * H] == 1.0) and np.all(p["bias_hh"] == 0.0)
    assert np.all(p["bias_ih"][:H] == 0.0) and np.all(p["bias_ih"][2 * H :] == 0.0)


def test_input_scale_is_the_std():
    p = init_params(CellSettings.from_dict({"hidden": 400, "input_scale": 0.25}), 50, 1)
    assert np.std(p["weight_ih"]) == pytest.approx(0.25, rel=0.02)


def test_streams_are_independent_and_stable():
    a = stream(0, "data", "adding").standard_normal(3)
    assert np.array_equal(a, stream(0, "data", "adding").standard_normal(3))
    assert not np.array_equal(a, stream(0, "data", "copy").standard_normal(3))
