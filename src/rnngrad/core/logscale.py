"""Gradients carried backwards with a log-scale, so that no value underflows or overflows.

A backward pass holds dL/ds_t as 2^E g: the arrays g it works on (h's part, and c's for the
lstm) and an integer E. The recursion dL/ds_{t-1} = direct_{t-1} + dL/ds_t J_t is linear in
dL/ds, so it runs on g unchanged; whenever ||g|| leaves a band ([2^-32, 2^32] in float32,
[2^-200, 2^200] in float64), g is multiplied by a power of two that brings its norm into
[1/2, 1) and E takes the power back. Multiplying by a power of two is exact in binary floating
point, so the scaled pass computes the same numbers as an unscaled one, digit for digit
(but for the numbers far below the norm that it flushes, below), wherever the unscaled one
stays in range, and keeps going (log10 ||dL/ds_t|| = log10 ||g|| +
E log10 2) where it would have underflowed to subnormal numbers and then to zero, or
overflowed to inf. The numbers of g far below its norm (2^62 below in float32, 2^250 in
float64: far below its rounding) are set to 0 at each look, as a CPU's flush-to-zero would set
them, so that no step computes on subnormal numbers (tests/test_logscale_subnormals.py watches
every operation).

A direct term (the readout's dL/ds_t at a scored step) enters as 2^-E direct; where that would
leave the format, both terms are brought to the scale of the larger one first (the smaller may
then lose digits below the larger's rounding, which changes nothing). Weight gradients gather
terms in E's units run by run: a run of steps shares one E (:meth:`LogScale.step` says where a
run ends), and its sum is multiplied by 2^E as it is added to the total (:func:`flushed_pow2`).

Both backends use it: every function takes NumPy arrays and torch tensors alike.

Example
-------
>>> import numpy as np
>>> g = np.full(4, 1e-30, dtype=np.float32)  # its float32 squares underflow to 0
>>> ls = LogScale(g.itemsize)  # float32: the band is [2^-32, 2^32]
>>> ls.settle([g], sq_norm([g]))
True
>>> g, ls.E  # norm 0.634 in [1/2, 1), times 2^-98
(array([0.31691265, 0.31691265, 0.31691265, 0.31691265], dtype=float32), -98)
>>> round(float(ls.log10_norm(sq_norm([g]))), 4)  # log10 of 2e-30, the norm of the four 1e-30
-29.699
"""

from __future__ import annotations

import itertools
import math

import numpy as np

LOG10_2 = math.log10(2.0)
# rescale when the carried norm leaves [2^-band, 2^band], band by the dtype's size in bytes:
# float32 2^+-32 (its normal numbers reach 2^-126), float64 2^+-200 (2^-1022)
BANDS = {4: 32, 8: 200}
# numbers of a carried gradient below 2^floor are set to 0 (LogScale.flush), floor by the size
# in bytes: a few steps' products of the numbers left, and their squares (summed in float64
# for float32), are normal numbers (float32 down to 2^-126, float64 to 2^-1022), and what is
# set to 0 lies at least 2^62 (float32) or 2^250 (float64) below the norm, far below its
# rounding
FLOORS = {4: -94, 8: -450}
# the exponents e of the smallest normal number (2^e) and of the first power of two beyond the
# largest, by the size in bytes
MIN_EXP = {4: -126, 8: -1022}
MAX_EXP = {4: 128, 8: 1024}
STEP = 100  # largest power of two applied at once (2^100 and 2^-100 are normal in float32)
# training's backward (which measures no norm) checks the carried norm every this many steps:
# a float32 norm of 2^-32 reaches the subnormal range only after a factor 2^-94, and the
# numbers that flush left only after 2^-32, more than a few steps ever shrink them
RESCALE_EVERY = 4


def times_pow2(v, k: int):
    """v * 2^k in place (a NumPy array or torch tensor), exact unless the result leaves the
    format; returns v. Applied in powers of at most 2^STEP, so every factor is a normal number
    of v's dtype."""
    while k:
        j = max(-STEP, min(STEP, k))
        v *= 2.0**j
        k -= j
    return v


def flushed_pow2(v, k: int):
    """v * 2^k in place, as :func:`times_pow2`, with what falls below the format's smallest
    normal number set to 0 first (as a CPU's flush-to-zero mode would set it), so that no
    subnormal number is computed or left behind; returns v. A term carried at a scale E far
    below its total's (a deep run's share of a weight gradient, dL/ds_0 of a vanishing profile)
    comes back to its true scale this way."""
    if k < 0:
        e = MIN_EXP[_itemsize(v)] - k  # |v| < 2^e ends below the smallest normal number
        floor = math.ldexp(1.0, e) if e < MAX_EXP[_itemsize(v)] else math.inf
        v[abs(v) < floor] = 0
    return times_pow2(v, k)


def flush_small(v):
    """v (a NumPy array or torch tensor) with its numbers below 2^(FLOORS + BANDS) times its
    largest set to 0, a new array: what :meth:`LogScale.flush` sets to 0 at the band's lower
    end, relative to v's own largest number (for the torch profile's backward hooks, which see
    one step's gradient and not its scale)."""
    n = _itemsize(v)
    a = abs(v)
    return v * (a * 2.0 ** -(FLOORS[n] + BANDS[n]) >= a.max())  # scaled up: no subnormal


def runs(E) -> list[tuple[int, int, int]]:
    """The runs [lo, hi) of consecutive steps that share one scale, with that scale, from
    ``E`` (n,), each step's scale: sums over a run's steps are taken in its units."""
    cut = [0, *(np.flatnonzero(np.diff(E)) + 1).tolist(), len(E)]
    return [(lo, hi, int(E[lo])) for lo, hi in itertools.pairwise(cut) if hi > lo]


def _itemsize(v) -> int:
    """Bytes of v's real numbers (a NumPy array or torch tensor): 4 float32, 8 float64."""
    return v.real.itemsize if isinstance(v, np.ndarray) else v.real.element_size()


def sq_norm(parts) -> float:
    """The squared Frobenius norm of the arrays ``parts`` together, as a Python float.

    Summed in float64: the squares of float32 numbers are float64's normal numbers, while in
    float32 they would be subnormal below 2^-63 and overflow above 2^64."""
    if _itemsize(parts[0]) == 4:
        parts = [_float64(p) for p in parts]
    return float(_dot(parts[0], parts[0]) if len(parts) == 1 else sum(_dot(p, p) for p in parts))


def _dot(a, b):
    return np.vdot(a, b).real if isinstance(a, np.ndarray) else (a * b).sum()  # complex: |a|^2


def _float64(p):
    if isinstance(p, np.ndarray):
        return p.astype(np.result_type(p.dtype, np.float64))  # complex64 to complex128
    return p.double()


def exponent(sq: float) -> int:
    """The e with sqrt(sq) = m 2^e, 1/2 <= m < 1."""
    return math.frexp(math.sqrt(sq))[1]


class LogScale:
    """The log-scale E of a gradient carried backwards as 2^E g (see the module docstring)."""

    __slots__ = ("E", "_floor", "_sq_band", "band")

    def __init__(self, itemsize: int = 8) -> None:
        self.E = 0
        self.band = BANDS[itemsize]  # of the arrays' dtype: 4 float32, 8 float64
        self._sq_band = (2.0 ** (-2 * self.band), 2.0 ** (2 * self.band))  # of squared norms
        self._floor = 2.0 ** FLOORS[itemsize]  # what :meth:`flush` sets to 0

    def settle(self, parts, sq: float) -> bool:
        """Bring g (``parts``, squared norm ``sq``) into [1/2, 1) in place when its norm is out
        of the band; returns whether E changed. A zero or non-finite g is left alone."""
        lo, hi = self._sq_band
        if not (0.0 < sq < math.inf) or lo <= sq <= hi:
            return False
        e = exponent(sq)
        for p in parts:
            times_pow2(p, -e)
        self.E += e
        return True

    def check(self, parts, log10_norms=None, t: int = 0) -> bool:
        """One step's look at g (``parts``): its true log10 norm into ``log10_norms[t]`` (when
        given), then :meth:`settle`, then :meth:`flush`; returns whether E changed."""
        sq = sq_norm(parts)
        if log10_norms is not None:
            log10_norms[t] = self.log10_norm(sq)
        changed = self.settle(parts, sq)
        self.flush(parts)
        return changed

    def flush(self, parts) -> None:
        """Set to 0 the numbers of g below 2^FLOORS (far below its norm's rounding: they change
        no digit of anything computed from g). A unit whose gradient shrinks faster than the
        others' (a saturated pair of the exprnn's block-diagonal W_hh, an lru unit of small
        |lambda|) would otherwise reach subnormal numbers, in its squares first."""
        for p in parts:
            a = abs(p)
            if a.size and a.min() < self._floor:  # one pass where nothing is flushed
                p[a < self._floor] = 0

    def step(self, parts, direct, scored, t: int, log10_norms, norms: bool, T=False) -> bool:
        """What a backward pass does with g = ``parts`` once it holds dL/ds_t: add the direct
        term ``direct[t]`` (transposed with ``T``) where t is ``scored`` (a set of steps, or
        None for every step), then :meth:`check` it (its log10 norm into ``log10_norms[t]``)
        every step with ``norms``, else every RESCALE_EVERY steps. Returns whether E changed:
        the steps before t then start a new run of one scale."""
        changed = (scored is None or t in scored) and self.add(
            parts, direct[t].T if T else direct[t]
        )
        if norms or t % RESCALE_EVERY == 0:
            changed = self.check(parts, log10_norms, t) or changed
        return changed

    def add(self, parts, direct) -> bool:
        """parts[0] += 2^-E direct (``direct`` at its true scale, parts[0]'s shape), exactly:
        when the larger of the two terms is more than 2^band from the scale, both are brought
        to the larger one's first. Returns whether E changed."""
        d_sq = sq_norm([direct])
        if not 0.0 < d_sq < math.inf:
            if d_sq != 0.0:  # not finite: keep it (the forward overflowed)
                parts[0] += direct
            return False
        c_sq = sq_norm(parts)
        changed = False
        if c_sq < math.inf:  # else its squares overflowed (or it is not finite): keep E
            top = exponent(d_sq) if c_sq == 0.0 else max(exponent(d_sq), self.E + exponent(c_sq))
            changed = abs(top - self.E) > self.band
        if changed:
            for p in parts:
                flushed_pow2(p, self.E - top)
            self.E = top
        if self.E == 0:
            parts[0] += direct
        else:
            parts[0] += flushed_pow2(direct * 1.0, -self.E)  # a copy, scaled
        return changed

    def log10_norm(self, sq: float) -> float:
        """log10 of the true norm, from the squared norm ``sq`` of g (-inf for 0)."""
        if 0.0 < sq < math.inf:
            return 0.5 * math.log10(sq) + self.E * LOG10_2
        return -math.inf if sq == 0.0 else sq  # inf or NaN stay what they are

    def log10(self, norms):
        """log10 of true norms from norms in E's units (a float, array or tensor)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(norms) + self.E * LOG10_2


def from_log10(log10_norms: np.ndarray) -> np.ndarray:
    """The norms themselves (float64): 0 below the format's smallest number, inf above its
    largest (the tables' plain columns; their log10 columns hold the exact values)."""
    with np.errstate(over="ignore", under="ignore"):
        return np.power(10.0, np.asarray(log10_norms, dtype=np.float64))
