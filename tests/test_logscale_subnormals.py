"""No subnormal arithmetic in a vanishing profile (rnngrad.core.logscale), checked on any CPU.

Subnormal numbers cost an Intel Xeon about 13x a normal number's time and an AMD EPYC little,
so a timing proves nothing on AMD. These tests instead watch the arithmetic itself: every NumPy
call of a model's backward pass (ufuncs and array functions, through an ndarray subclass), and
every aten operation of torch's (a dispatch mode, which sees autograd's backward too), counting
the subnormal numbers in the arrays each one takes and gives, and in the squares of the sums of
squares (vdot, einsum of an array with itself), whose products never appear as an array. Each
profile is long enough, at a small enough w_rec_scale, that an unscaled backward falls far into
the subnormal range, and the tests show that the same watch counts thousands there."""

import itertools
from typing import ClassVar

import numpy as np
import pytest

import rnngrad.core.logscale as logscale
import rnngrad.numpy_backend as nb
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import make_batch, spec
from rnngrad.core.weights import data_stream, init_params
from rnngrad.numpy_backend.readout import DirectGrad

# each model with a scale, and the steps after which its float32 and its float64 gradient
# would have left the format (float32 below 1e-46, float64 below 1e-330; the lstm's and the
# exprnn's vanish slowest)
CASES = [
    ({"model": "rnn", "nonlinearity": "tanh"}, 0.5, 300, 1000),
    ({"model": "rnn", "nonlinearity": "relu"}, 0.5, 300, 1000),
    ({"model": "rnn", "nonlinearity": "sigmoid"}, 0.5, 300, 1000),
    ({"model": "esn"}, 0.5, 300, 1000),
    ({"model": "lstm"}, 0.5, 1000, 6200),
    ({"model": "gru"}, 0.5, 400, 2400),
    ({"model": "exprnn"}, 0.1, 600, 4200),
    ({"model": "indrnn", "nonlinearity": "relu", "layers": 2}, 0.5, 200, 1200),
    ({"model": "lru", "nonlinearity": "linear"}, 0.5, 200, 1100),
]
IDS = ["-".join(str(v) for v in m.values()) for m, *_ in CASES]


def _count(a) -> int:
    """Subnormal numbers in a (real and imaginary parts apart); 0 for other dtypes."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        return 0
    tiny = np.finfo(a.dtype).tiny
    parts = (a.real, a.imag) if a.dtype.kind == "c" else (a,)
    return sum(int(np.count_nonzero((abs(p) < tiny) & (p != 0))) for p in parts)


def _arrays(obj):
    """The arrays in obj (an array, or tuples, lists and dicts of them)."""
    if isinstance(obj, np.ndarray | np.generic):
        yield obj
    elif isinstance(obj, tuple | list):
        for o in obj:
            yield from _arrays(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _arrays(o)


def _plain(obj):
    if isinstance(obj, Watched):
        return obj.view(np.ndarray)
    if isinstance(obj, tuple | list):
        return type(obj)(_plain(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _watched(obj):
    if type(obj) is np.ndarray:
        return obj.view(Watched)
    if isinstance(obj, tuple):
        return tuple(_watched(o) for o in obj)
    return obj


class Watched(np.ndarray):
    """An array that notes, in ``Watched.found``, each NumPy call it takes part in whose
    arrays (inputs and result) hold subnormal numbers; what a call returns is watched too."""

    found: ClassVar[list] = []

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs, kwargs = _plain(inputs), _plain(kwargs)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        _note(f"{ufunc.__name__}.{method}", inputs, result)
        return _watched(result)

    def __array_function__(self, func, types, args, kwargs):
        # a sum of squares: the squares themselves, which no array holds
        pairs = [(a, b) for a, b in itertools.pairwise(args) if a is b]
        args, kwargs = _plain(args), _plain(kwargs)
        result = func(*args, **kwargs)
        if func is not np.empty_like:  # uninitialized memory
            dtype = kwargs.get("dtype")  # the dtype the sum is taken in
            squares = [np.multiply(a, np.conj(a), dtype=dtype) for a, _ in _plain(pairs)]
            _note(func.__name__, (args, kwargs, squares), result)
        return _watched(result)


def _note(name, inputs, result):
    n = sum(_count(a) for a in _arrays((inputs, result)))
    if n:
        Watched.found.append((name, n))


def _watch(obj):
    """obj with its arrays watched (a dict's values, a DirectGrad's values)."""
    if isinstance(obj, DirectGrad):
        return DirectGrad(obj.steps, _watch(obj.values), len(obj))
    if isinstance(obj, dict):
        return {k: _watch(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "fc":
        return obj.view(Watched)
    return obj


def _profile(dtype, model, scale, T):
    """A cell's forward and readout, unwatched, and its weights, cache and the readout's
    gradient to give a backward pass, watched."""
    s = CellSettings.from_dict(
        {"train_steps": 0, "hidden": 8, "batch": 4, "dtype": dtype, "seq_len": T}
        | {"w_rec_scale": scale, **model}
    )
    sp = spec(s.task, s.seq_len, s.hidden)
    p = nb.to_backend(s, init_params(s, sp.n_in, sp.n_out))
    batch = make_batch(s.task, s.seq_len, s.batch, data_stream(s, "probe"), s.hidden)
    h, cache = nb.forward(s, p, batch.x)
    direct = nb.readout.loss_forward_backward(p, h, batch)["dh_direct"]
    return s, _watch(p), _watch(cache), _watch(direct)


def _backward(dtype, model, scale, T, norms=True):
    s, p, cache, direct = _profile(dtype, model, scale, T)
    Watched.found = []
    out = nb.model(s).backward(p, cache, direct, norms=norms)
    return out, Watched.found


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("model,scale,T32,T64", CASES, ids=IDS)
def test_a_vanishing_numpy_backward_computes_on_no_subnormal_number(model, scale, T32, T64, dtype):
    T = T32 if dtype == "float32" else T64
    out, found = _backward(dtype, model, scale, T)
    limit = -46 if dtype == "float32" else -330
    assert np.nanmin(out["log10_grad_norm"]) < limit  # unscaled, it would have underflowed
    assert found == []
    _, found = _backward(dtype, model, scale, T, norms=False)  # training's backward
    assert found == []


@pytest.mark.parametrize("model,scale,T32,T64", CASES, ids=IDS)
def test_the_watch_counts_the_subnormal_numbers_of_an_unscaled_backward(
    model, scale, T32, T64, monkeypatch
):
    # the same backward with a band wider than float32's range never rescales, and with no
    # floor never flushes: an unscaled recursion, which falls through the subnormal numbers
    monkeypatch.setitem(logscale.BANDS, 4, 500)
    monkeypatch.setitem(logscale.FLOORS, 4, -1000)
    _, found = _backward("float32", model, scale, T32)
    assert sum(n for _, n in found) > 100


def test_the_watch_counts_the_subnormal_numbers_of_the_textbook_float64_recursion():
    # float64 has no band to widen (its squares leave the range at 2^-511): the plain BPTT
    # of a tanh rnn, written out, watched the same way
    _, p, cache, direct = _profile("float64", {"model": "rnn"}, 0.5, 1000)
    h, W = cache["h"], p["weight_hh"]
    Watched.found = []
    dh = direct[1000].copy()
    with np.errstate(under="ignore"):
        for t in range(1000, 0, -1):
            dh = direct[t - 1] + (dh * (1 - h[t] * h[t])) @ W
    assert sum(n for _, n in Watched.found) > 100


def _torch_profile(dtype, model, scale, T):
    """The torch backend's profile of a cell, every aten operation watched (forward, autograd's
    backward); returns the profile and what the watch found."""
    torch = pytest.importorskip("torch")
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    import rnngrad.torch_backend as tb

    def count(t) -> int:
        if not isinstance(t, torch.Tensor) or not (t.is_floating_point() or t.is_complex()):
            return 0
        parts = (t.real, t.imag) if t.is_complex() else (t,)
        tiny = torch.finfo(parts[0].dtype).tiny
        return sum(int(((p.abs() < tiny) & (p != 0)).sum()) for p in parts)

    class Watch(TorchDispatchMode):
        found: ClassVar[list] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            name = str(func)
            if "empty" not in name:  # uninitialized memory
                seen = [args, kwargs, out]
                if "vector_norm" in name:  # the squares it sums, which no tensor holds
                    seen.append(
                        args[0].double() ** 2 if args[0].dtype == torch.float32 else args[0] ** 2
                    )
                n = sum(count(t) for t in tree_leaves(seen))
                if n:
                    Watch.found.append((name, n))
            return out

    s = CellSettings.from_dict(
        {"train_steps": 0, "hidden": 8, "batch": 4, "dtype": dtype, "seq_len": T}
        | {"w_rec_scale": scale, "backend": "torch", **model}
    )
    sp = spec(s.task, s.seq_len, s.hidden)
    p = tb.to_backend(s, init_params(s, sp.n_in, sp.n_out))
    batch = make_batch(s.task, s.seq_len, s.batch, data_stream(s, "probe"), s.hidden)
    Watch.found = []
    with Watch():
        out = tb.loss_and_grads(s, p, batch)
    return out, Watch.found


@pytest.mark.slow  # the watch sees every aten operation: about 45 s in all
@pytest.mark.parametrize("model,scale,T32,T64", CASES, ids=IDS)
def test_a_vanishing_torch_profile_computes_on_no_subnormal_number(model, scale, T32, T64):
    out, found = _torch_profile("float32", model, scale, T32)
    assert np.nanmin(out["log10_grad_norm"]) < -46
    assert found == []


def test_the_torch_watch_counts_the_subnormal_numbers_of_one_autograd_call(monkeypatch):
    # one chunk: a single autograd call over all steps, its upstream gradient scaled once
    monkeypatch.setattr(pytest.importorskip("rnngrad.torch_backend"), "PROFILE_CHUNK", 300)
    _, found = _torch_profile("float32", {"model": "rnn"}, 0.5, 300)
    assert sum(n for _, n in found) > 100
