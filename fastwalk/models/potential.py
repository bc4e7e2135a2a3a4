"""Overdamped Brownian motion under a min-potential on a periodic box.

The potential of a :class:`~fastwalk.crossing.Crossing` with subspaces
S_0 .. S_{K-1}, strength ``a``, center b and box side Λ is

    U(x) = a · min_k Σ_{j∈S_k} d_j(x)²  +  U_c(x),
    U_c(x) = c · (Λ² / 2π²) · Σ_j (1 − cos(2π d_j(x) / Λ)),

where d_j(x) = x_j − b_j taken as the minimum image (in [−Λ/2, Λ/2]) and
``c = confine >= 0`` is the optional confining term. U_c is smooth and
Λ-periodic and behaves like c·|d|² near the center (curvature 2c along every
coordinate), so it breaks the translation symmetry along the valleys (the
original notebook's "regularised" variant); ``confine=0`` is the pure
min-potential.

Dynamics: dX = −∇U(X) dt + √(2T) dW by Euler–Maruyama,

    x_j ← x_j − dt · F_j(x) + √(2T·dt) · N_j,
    F_j = 2a·d_j·[j ∈ S_k*] + c·(Λ/π)·sin(2π d_j / Λ),

where k* is the valley with the smallest Σ_{j∈S_k} d_j²; **ties go to the
lowest index k** (the subspace listed first in ``crossing.pins``). After
each step every coordinate is wrapped into the box [0, Λ). Each walker
draws its D normals per step with :func:`fastwalk.rng.normal` in coordinate
order j = 0 .. D−1 from its own stream.

Any D >= 1 and any valleys, including a subspace that pins every
coordinate (an isolated quadratic minimum, the regular case: ``--dim 1
--pin 0`` is the Ornstein–Uhlenbeck process). A 2-D crossing whose valleys
each pin one coordinate runs a kernel specialised to two coordinates and
vectorised across walkers (SIMD lanes), every other the general one; both do the same
floating-point operations on the same numbers of each walker's stream, which the pure-NumPy reference
in ``tests/naive_potential.py`` repeats to 1e-12. The minimum image makes U
periodic but not smooth at d_j = ±Λ/2 (a ridge far from the valleys when
Λ ≫ √(T/a)); the min makes it non-smooth where two valleys tie.

The pinned directions of a valley are an Euler–Maruyama Ornstein–Uhlenbeck
chain x ← (1 − 2(a + c)·dt)·x + noise near the center, stable only for
|1 − 2(a + c)·dt| < 1, i.e. dt < 1/(a + c) (dt < 1/a without confinement);
larger steps are refused.

Accumulators (counted once per step per walker after the step, never during
burn-in): ``histogram_2d`` [bins][bins] of the first two coordinates, the
same for a fixed random half of the walkers (``histogram_2d_half``, to
measure the sampling noise) and ``marginals`` [D][bins] of every
coordinate, int64 counts over the bins
[i·Λ/bins, (i+1)·Λ/bins) of the box (absolute coordinates, not relative to
the center). :mod:`fastwalk.analysis.boltzmann` bins its exact references the
same way.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Sequence

import numba
import numpy as np
from numba import prange

from fastwalk import rng, validate
from fastwalk._jit import jit, pjit
from fastwalk.crossing import Crossing
from fastwalk.models._kernels import ExactSum, first_bad_step, mean_and_sem, raise_if_bad, rounded
from fastwalk.models.base import Model

__all__ = ["PotentialBrownian", "stable_dt_bound"]

_STARTS = ("center", "uniform")


# ---------------------------------------------------------------------- kernels
@jit(inline="always")
def _minimum_image(x, b, box, half):
    """Return x − b as the minimum image, for x and b in [0, box)."""
    d = x - b
    if d > half:
        d -= box
    elif d < -half:
        d += box
    return d


@jit(inline="always")
def _wrap_near(x, box):
    """Map x into [0, box) when it lies within one box side of it (every usual step)."""
    if x < 0.0:
        x += box
    elif x >= box:
        x -= box
    return x


@jit(inline="always")
def _wrap_far(x, box):
    """Finish wrapping an x that :func:`_wrap_near` left outside [0, box).

    A step longer than the box lands in [0, box); a non-finite x comes back
    as NaN, so after wrapping "not finite" and "NaN" are the same test.
    """
    if not (0.0 <= x < box):
        x = x - box * np.floor(x / box)  # np.floor stays float (math.floor gives int64)
        if x < 0.0:  # box * floor(x / box) rounded above x
            x += box
        if x >= box:  # x was within rounding of a multiple of box
            x = 0.0
    return x


@jit(inline="always")
def _wrap(x, box):
    """Map x into [0, box); a non-finite x comes back as NaN."""
    return _wrap_far(_wrap_near(x, box), box)


@jit(inline="always")
def _best_valley(d, pin_ptr, pin_idx):
    """Return the valley k with the smallest Σ_{j∈S_k} d_j² (ties: lowest k)."""
    best = 0
    best_q = math.inf
    for k in range(pin_ptr.shape[0] - 1):
        q = 0.0
        for p in range(pin_ptr[k], pin_ptr[k + 1]):
            q += d[pin_idx[p]] * d[pin_idx[p]]
        if q < best_q:
            best_q = q
            best = k
    return best


@jit(inline="always")
def _bin_2d(x0, x1, to_bin, bins):
    """Return the flat index i0·bins + i1 of (x0, x1)'s histogram bin (x in [0, box))."""
    return min(int(x0 * to_bin), bins - 1) * bins + min(int(x1 * to_bin), bins - 1)


@jit(inline="always")
def _pins_x0(d0, d1, w0, w1, tie_to_x0):
    """Whether the valley pinning x0 wins at (d0, d1) (see :func:`_weights_2d`)."""
    q0 = w0 * (d0 * d0)
    q1 = w1 * (d1 * d1)
    return not (q1 < q0) if tie_to_x0 else q0 < q1


@jit(inline="always")
def _step_2d(x0, x1, n0, n1, b0, b1, w0, w1, tie_to_x0, box, a, confine, dt, noise):
    """One D = 2 Euler–Maruyama step from (x0, x1) with normals (n0, n1), wrapped once.

    The result is in [0, box) unless the step was longer than the box or
    not finite; :func:`_wrap_far` finishes those.
    """
    half = 0.5 * box
    d0 = _minimum_image(x0, b0, box, half)
    d1 = _minimum_image(x1, b1, box, half)
    pin_x0 = _pins_x0(d0, d1, w0, w1, tie_to_x0)
    f0 = 2.0 * a * d0 if pin_x0 else 0.0
    f1 = 0.0 if pin_x0 else 2.0 * a * d1
    if confine is not None:
        wave = 2.0 * math.pi / box
        f0 += confine * box / math.pi * math.sin(wave * d0)
        f1 += confine * box / math.pi * math.sin(wave * d1)
    return (_wrap_near(x0 - dt * f0 + noise * n0, box),
            _wrap_near(x1 - dt * f1 + noise * n1, box))


@pjit
def _advance_2d(positions, states, halves, steps, weights, center, box, a, confine, dt, noise,
                blocks, accumulate, histogram):
    """Advance every walker of a D = 2 crossing ``steps`` steps in place.

    The arithmetic of :func:`_advance_nd`, specialised to two coordinates and
    vectorised across ``rng.LANES`` walkers (DESIGN.md, "Derivations: the SIMD
    kernel of the 2-D potential"); every walker draws and computes exactly
    what the scalar code would. ``weights`` come from :func:`_weights_2d`
    (valley choice and tie rule without a loop); ``confine`` is None when the
    confining term is off. Block b of ``blocks`` contiguous walker blocks
    counts its steps in ``histogram[b, halves[w]]``. Returns the first step
    (relative to this call) after which a walker was not finite, or -1.
    """
    walkers = positions.shape[0]
    bins = histogram.shape[2]
    cells = histogram.reshape((histogram.shape[0], 2 * bins * bins))
    b0, b1 = center[0], center[1]
    w0, w1 = weights[0], weights[1]
    tie_to_x0 = weights[2] == 1.0
    to_bin = bins / box
    bad = np.full(blocks, -1, dtype=np.int64)  # first non-finite step of each block
    for block in prange(blocks):
        lanes = np.empty((4, rng.LANES), dtype=np.uint64)
        x0, x1 = np.empty(rng.LANES), np.empty(rng.LANES)
        normals = np.empty((2, rng.LANES))  # the step's two normals
        z0, z1 = normals[0], normals[1]
        first_cell = np.empty(rng.LANES, dtype=np.intp)  # of the walker's half
        cell = np.empty(rng.LANES, dtype=np.intp)
        flagged = np.empty(rng.LANES, dtype=np.bool_)
        counts = cells[block]
        block_bad = -1
        lo = block * walkers // blocks
        hi = (block + 1) * walkers // blocks
        for first in range(lo, hi, rng.LANES):
            count = min(rng.LANES, hi - first)
            rng.load_lanes(states, first, count, lanes)
            for i in range(count):
                x0[i] = positions[first + i, 0]
                x1[i] = positions[first + i, 1]
                first_cell[i] = halves[first + i] * bins * bins
            for step in range(steps):
                missed = rng.normal_rows(lanes, count, count, normals, 2)
                if missed:
                    rng.redraw_lanes(lanes, missed, states, first, normals, 2)
                far = 0
                for i in range(count):
                    u0, u1 = _step_2d(x0[i], x1[i], z0[i], z1[i], b0, b1, w0, w1, tie_to_x0, box,
                                      a, confine, dt, noise)
                    x0[i], x1[i] = u0, u1
                    flagged[i] = not ((0.0 <= u0) & (u0 < box) & (0.0 <= u1) & (u1 < box))
                    far += 1 if flagged[i] else 0
                    cell[i] = first_cell[i] + _bin_2d(u0, u1, to_bin, bins)
                finite = True
                if far:
                    for i in range(count):
                        if flagged[i]:
                            x0[i], x1[i] = _wrap_far(x0[i], box), _wrap_far(x1[i], box)
                            if math.isnan(x0[i] + x1[i]):
                                block_bad = step if block_bad < 0 else min(block_bad, step)
                                finite = False
                            else:
                                cell[i] = first_cell[i] + _bin_2d(x0[i], x1[i], to_bin, bins)
                if not finite:
                    break
                if accumulate:
                    for i in range(count):
                        counts[cell[i]] += 1
            rng.store_lanes(lanes, count, states, first)
            for i in range(count):
                positions[first + i, 0] = x0[i]
                positions[first + i, 1] = x1[i]
        bad[block] = block_bad
    return first_bad_step(bad)


def _weights_2d(crossing: Crossing) -> np.ndarray:
    """Encode a D = 2 crossing's valleys for :func:`_advance_2d` as (w0, w1, tie_to_x0).

    Two valleys ({0}, {1}) or ({1}, {0}): w = (1, 1), ties to x0 when valley
    0 pins x0. One valley pinning x0: w0 = 0 makes x0 always win
    (0 <= w1·d1², equality tied to x0); one valley pinning x1: w1 = 0 and
    ties to x1.
    """
    if crossing.count == 1:
        pins_x0 = crossing.pins[0] == (0,)
        return np.array([0.0, 1.0, 1.0]) if pins_x0 else np.array([1.0, 0.0, 0.0])
    return np.array([1.0, 1.0, 1.0 if crossing.pins[0] == (0,) else 0.0])


@pjit
def _advance_nd(positions, states, halves, steps, pin_ptr, pin_idx, pinned_mask, center, box, a,
                confine, dt, noise, blocks, accumulate, histogram, marginals):
    """Advance every walker ``steps`` Euler–Maruyama steps in place (any D >= 1).

    Valley k pins ``pin_idx[pin_ptr[k]:pin_ptr[k + 1]]`` (ascending);
    ``pinned_mask`` is the (K, D) bool form. Block b of ``blocks`` contiguous
    walker blocks counts coordinates (0, 1) in ``histogram[b, halves[w]]`` and coordinate
    j >= 2 in ``marginals[b, j]`` (the marginals of 0 and 1 follow from the
    histogram); with D = 1, coordinate 0 in ``marginals[b, 0]``. ``confine`` is
    None when the confining term is off. Returns
    the first step (relative to this call) after which a walker was not
    finite, or -1.
    """
    walkers, dim = positions.shape
    bins = histogram.shape[2]
    half = 0.5 * box
    two_a = 2.0 * a
    wave = 2.0 * math.pi / box
    to_bin = bins / box
    bad = np.full(walkers, -1, dtype=np.int64)
    for block in prange(blocks):
        d = np.empty(dim)
        for w in range(block * walkers // blocks, (block + 1) * walkers // blocks):
            s = states[w]
            for step in range(steps):
                for j in range(dim):
                    d[j] = _minimum_image(positions[w, j], center[j], box, half)
                best = _best_valley(d, pin_ptr, pin_idx)
                total = 0.0
                for j in range(dim):
                    force = two_a * d[j] if pinned_mask[best, j] else 0.0
                    if confine is not None:
                        force += confine * box / math.pi * math.sin(wave * d[j])
                    x = _wrap(positions[w, j] - dt * force + noise * rng.normal(s), box)
                    positions[w, j] = x
                    total += x
                if math.isnan(total):
                    bad[w] = step
                    break
                if accumulate:
                    i0 = min(int(positions[w, 0] * to_bin), bins - 1)
                    if dim == 1:
                        marginals[block, 0, i0] += 1
                        continue
                    i1 = min(int(positions[w, 1] * to_bin), bins - 1)
                    histogram[block, halves[w], i0, i1] += 1
                    for j in range(2, dim):
                        marginals[block, j, min(int(positions[w, j] * to_bin), bins - 1)] += 1
    return first_bad_step(bad)


@pjit
def _energy_2d(positions, weights, center, box, a, confine, energy):
    """Write U(x) of every walker of a D = 2 crossing to ``energy`` (as :func:`_energy_nd`)."""
    half = 0.5 * box
    wave = 2.0 * math.pi / box
    confine_energy = confine * box * box / (2.0 * math.pi * math.pi)
    tie_to_x0 = weights[2] == 1.0
    for w in prange(positions.shape[0]):
        d0 = _minimum_image(positions[w, 0], center[0], box, half)
        d1 = _minimum_image(positions[w, 1], center[1], box, half)
        pinned = d0 if _pins_x0(d0, d1, weights[0], weights[1], tie_to_x0) else d1
        total = a * (pinned * pinned)
        if confine > 0.0:
            total += confine_energy * ((1.0 - math.cos(wave * d0)) + (1.0 - math.cos(wave * d1)))
        energy[w] = total


@pjit
def _energy_nd(positions, pin_ptr, pin_idx, center, box, a, confine, energy):
    """Write U(x) of every walker to ``energy`` (``(walkers,)`` float64)."""
    walkers, dim = positions.shape
    half = 0.5 * box
    wave = 2.0 * math.pi / box
    confine_energy = confine * box * box / (2.0 * math.pi * math.pi)
    for w in prange(walkers):
        best_q = math.inf
        for k in range(pin_ptr.shape[0] - 1):
            q = 0.0
            for p in range(pin_ptr[k], pin_ptr[k + 1]):
                dj = _minimum_image(positions[w, pin_idx[p]], center[pin_idx[p]], box, half)
                q += dj * dj
            best_q = min(best_q, q)
        total = a * best_q
        if confine > 0.0:
            ripple = 0.0
            for j in range(dim):
                dj = _minimum_image(positions[w, j], center[j], box, half)
                ripple += 1.0 - math.cos(wave * dj)
            total += confine_energy * ripple
        energy[w] = total


@jit
def _fold_counts(histogram, marginals, histogram_2d, histogram_2d_half, totals):
    """Add the kernels' per-block counts to the run's accumulators (integers: any order).

    ``histogram[b, h]`` counts coordinates (0, 1) of block b's walkers of
    half h, and gives the marginals of 0 and 1; ``marginals[b, j]`` counts
    coordinate j >= 2 (with D = 1, coordinate 0: the histogram is empty).
    """
    blocks, _, bins, _ = histogram.shape
    for b in range(blocks):
        for h in range(2):
            for i in range(bins):
                for j in range(bins):
                    count = histogram[b, h, i, j]
                    histogram_2d[i, j] += count
                    if count:
                        totals[0, i] += count
                        totals[1, j] += count
                    if h == 1:
                        histogram_2d_half[i, j] += count
        for j in range(2 if totals.shape[0] >= 2 else 0, marginals.shape[1]):
            for i in range(bins):
                totals[j, i] += marginals[b, j, i]


_SCRATCH = threading.local()


def _scratch(slot: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """Return a work array of ``shape`` for ``slot``, reused by this thread from call to call.

    Kernels run as often as every 100 steps, and a fresh array of 100 kB or
    more costs page faults at every call. One array per slot and thread is
    kept (replaced when the shape changes).
    """
    cache = _SCRATCH.__dict__.setdefault("arrays", {})
    array = cache.get(slot)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = cache[slot] = np.empty(shape, dtype=dtype)
    return array


def _zeroed_counts(slot: str, shape: tuple[int, ...]) -> np.ndarray:
    """Return a zeroed int64 work array (see :func:`_scratch`)."""
    array = _scratch(slot, shape, np.int64)
    array.fill(0)
    return array


# ---------------------------------------------------------------------- model
def stable_dt_bound(a: float, confine: float = 0.0) -> float:
    """Return the largest stable Euler–Maruyama step (exclusive): 1 / (a + confine).

    Parameters
    ----------
    a : float
        Valley strength (> 0).
    confine : float, optional
        Strength of the confining term (>= 0).

    Returns
    -------
    float
        The bound: steps ``dt`` must satisfy ``dt < 1 / (a + confine)``, which
        is ``|1 − 2(a + confine)·dt| < 1`` for the stiffest direction.
    """
    return 1.0 / (a + confine)


class PotentialBrownian(Model):
    """Overdamped Langevin dynamics under a crossing's min-potential (module docstring).

    Parameters
    ----------
    crossing : fastwalk.crossing.Crossing
        The valleys: subspace k pins the coordinates ``crossing.pins[k]``.
        D = ``crossing.dim``.
    a : float
        Valley strength (> 0): U = a · min_k Σ_{j∈S_k} d_j².
    center : float or sequence of float
        Center b, one value for every coordinate or D values, each in [0, box).
    box : float
        Side Λ (> 0) of the periodic box [0, Λ)^D.
    temperature : float
        Temperature T (>= 0); the noise is √(2T·dt) per coordinate and step.
    dt : float
        Time step, 0 < dt < 1 / (a + confine) (see :func:`~fastwalk.models.potential.stable_dt_bound`).
    confine : float, optional
        Strength c (>= 0) of the periodic confining term
        c·(Λ²/2π²)·Σ_j (1 − cos(2π d_j/Λ)); 0 (default) switches it off.
    start : {"center", "uniform"}, optional
        Walkers start at b, or uniformly in the box (D uniforms per walker,
        in coordinate order, from the walker's own stream).
    bins : int, optional
        Histogram bins per coordinate (bin width Λ / bins).

    Raises
    ------
    TypeError
        If ``crossing`` is not a :class:`~fastwalk.crossing.Crossing` or a
        number is not a number.
    ValueError
        If a value is out of range (message names it and the fix).

    Examples
    --------
    >>> import fastwalk as fw
    >>> model = fw.PotentialBrownian(fw.Crossing.lines(2), a=1.0, center=0.5, box=1.0,
    ...                              temperature=0.05, dt=1e-3)
    >>> run = fw.simulate(model, walkers=50, steps=200, seed=1)
    >>> sorted(run.observables), run.accumulators["marginals"].shape
    (['mean_energy', 'sem_energy'], (2, 64))
    """

    kind = "potential"
    frame_name = "position"
    picture = "fastwalk.analysis.potential_plots:potential_run_figure"
    stationary_report = "fastwalk.analysis.boltzmann:potential_run_report"
    #: each thread fills its own histograms (both halves) and marginals (see advance)
    per_part_scratch = {"histogram_2d": 2, "marginals": 1}

    def __init__(
        self,
        crossing: Crossing,
        a: float,
        center: float | Sequence[float],
        box: float,
        temperature: float,
        dt: float,
        confine: float = 0.0,
        start: str = "center",
        bins: int = 64,
    ):
        if not isinstance(crossing, Crossing):
            raise TypeError(
                f"crossing must be a fastwalk.crossing.Crossing, got {type(crossing).__name__}; "
                "build one with Crossing(dim, pins) or a preset such as Crossing.lines(2)"
            )
        self.crossing = crossing
        self.a = validate.real("a (valley strength)", a, minimum=0.0, strict_min=True)
        self.box_side = validate.real("box (side of the periodic box)", box, minimum=0.0,
                                      strict_min=True)
        self.center = self._validate_center(center)
        self.temperature = validate.real("temperature", temperature, minimum=0.0)
        self.confine = validate.real("confine", confine, minimum=0.0)
        self._dt = validate.real("dt", dt, minimum=0.0, strict_min=True)
        bound = stable_dt_bound(self.a, self.confine)
        if self._dt >= bound:
            factor = abs(1.0 - 2.0 * (self.a + self.confine) * self._dt)
            stiffness = "1/a" if self.confine == 0.0 else "1/(a + confine)"
            raise ValueError(
                f"dt = {self._dt:g} makes the valley dynamics unstable "
                f"(|1 - 2(a + confine)·dt| = {factor:g} >= 1); use dt < {stiffness} = {bound:g}"
            )
        self.start = validate.choice("start", start, _STARTS)
        self.bins = validate.integer("bins", bins, minimum=1, maximum=1024)
        mask = crossing.pinned_mask()
        self._pinned_mask = mask
        # the confining force's sin: with Intel's SVML numba would vectorise it in some lanes of
        # the 2-D kernel and not in others (last-bit differences between walkers); the general
        # kernel computes it alike for every walker
        self._lanes_2d = (crossing.dim == 2 and all(len(p) == 1 for p in crossing.pins)
                          and not (self.confine > 0.0 and numba.config.USING_SVML))
        self._weights_2d = _weights_2d(crossing) if self._lanes_2d else None
        self._pin_ptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
        self._pin_idx = np.concatenate([np.flatnonzero(row) for row in mask]).astype(np.int64)

    def _validate_center(self, center) -> np.ndarray:
        dim = self.crossing.dim
        if isinstance(center, numbers.Real) and not isinstance(center, bool):
            values = np.full(dim, validate.real("center", center))
        else:
            values = validate.finite_array("center", center)
            if values.ndim != 1 or values.shape[0] != dim:
                raise ValueError(
                    f"center has shape {values.shape} but the crossing has D = {dim} coordinates; "
                    f"give one float or {dim} values"
                )
        outside = np.flatnonzero((values < 0.0) | (values >= self.box_side))
        if outside.size:
            j = outside[0]
            raise ValueError(
                f"center coordinate {j} = {values[j]:g} lies outside the box "
                f"[0, {self.box_side:g}); give a center in [0, box) (the box is [0, Λ)^D)"
            )
        return values

    # ------------------------------------------------------------------ description
    @property
    def dim(self) -> int:
        """Number of coordinates D."""
        return self.crossing.dim

    @property
    def dt(self) -> float:
        """Time step."""
        return self._dt

    def parameters(self) -> dict:
        """Return the resolved parameters (JSON-able)."""
        return {
            "kind": self.kind,
            "crossing": self.crossing.to_dict(),
            "a": self.a,
            "center": [float(c) for c in self.center],
            "box": self.box_side,
            "temperature": self.temperature,
            "dt": self.dt,
            "confine": self.confine,
            "start": self.start,
            "bins": self.bins,
        }

    @classmethod
    def examples(cls) -> list[PotentialBrownian]:
        """Return a 2-D and a 3-D crossing (the 2-D kernel is its own; see :meth:`Model.examples`)."""
        return [cls(Crossing.lines(k), a=1.0, center=0.5, box=1.0, temperature=0.1, dt=1e-3)
                for k in (2, 3)]

    @classmethod
    def from_parameters(cls, parameters: dict, arrays: dict) -> PotentialBrownian:
        """Rebuild from :meth:`parameters`."""
        return cls(
            Crossing.from_dict(parameters["crossing"]),
            a=parameters["a"],
            center=parameters["center"],
            box=parameters["box"],
            temperature=parameters["temperature"],
            dt=parameters["dt"],
            confine=parameters.get("confine", 0.0),
            start=parameters.get("start", "center"),
            bins=parameters.get("bins", 64),
        )

    def box(self) -> dict:
        """Describe the periodic H5MD box [0, Λ)^D."""
        return {"dimension": self.dim, "boundary": "periodic", "edges": [self.box_side] * self.dim}

    def bin_edges(self) -> np.ndarray:
        """Return the ``bins + 1`` histogram edges i·Λ/bins shared by every coordinate."""
        return np.linspace(0.0, self.box_side, self.bins + 1)

    # ------------------------------------------------------------------ dynamics
    def initial_state(self, rng_states: np.ndarray) -> dict:
        """Place the walkers at the center, or uniformly in the box (``start``).

        Each walker also gets its half (0 or 1, the lowest bit of its initial
        generator state: a fair coin fixed by seed and walker index alone);
        half 1's steps are counted again in ``histogram_2d_half`` so that
        the sampling noise can be measured (:mod:`fastwalk.analysis.boltzmann`).
        """
        walkers = rng_states.shape[0]
        halves = (rng.state_words(rng_states)[:, 0] & np.uint64(1)).astype(np.int64)
        if self.start == "uniform":
            positions = self.box_side * rng.draws(rng_states, self.dim, "uniform")
            positions[positions >= self.box_side] = 0.0
        else:
            positions = np.tile(self.center, (walkers, 1))
        return {
            "rng": rng_states,
            "position": np.ascontiguousarray(positions, dtype=np.float64),
            "half": halves,
            "histogram_2d": np.zeros((self.bins, self.bins), dtype=np.int64),
            "histogram_2d_half": np.zeros((self.bins, self.bins), dtype=np.int64),
            "marginals": np.zeros((self.dim, self.bins), dtype=np.int64),
        }

    def advance(self, state: dict, first_step: int, steps: int, accumulate: bool) -> None:
        """Advance all walkers ``steps`` Euler–Maruyama steps; count them if ``accumulate``."""
        positions = state["position"]
        walkers = positions.shape[0]
        blocks = max(1, min(numba.get_num_threads(), walkers))
        bins = self.bins if accumulate else 1
        histogram = _zeroed_counts("histogram", (blocks, 2, bins, bins))
        marginals = _zeroed_counts("marginals",
                                   (blocks, self.dim if accumulate and self.dim != 2 else 1, bins))
        noise = math.sqrt(2.0 * self.temperature * self.dt)
        confine = self.confine if self.confine > 0.0 else None
        if self._lanes_2d:
            bad = _advance_2d(
                positions, state["rng"], state["half"], steps, self._weights_2d, self.center,
                self.box_side, self.a, confine, self.dt, noise, blocks, accumulate, histogram,
            )
        else:
            bad = _advance_nd(
                positions, state["rng"], state["half"], steps, self._pin_ptr, self._pin_idx,
                self._pinned_mask, self.center, self.box_side, self.a, confine, self.dt, noise,
                blocks, accumulate, histogram, marginals,
            )
        if accumulate:
            _fold_counts(histogram, marginals, state["histogram_2d"], state["histogram_2d_half"],
                         state["marginals"])
        raise_if_bad(bad, first_step)

    def check_state_values(self, state: dict) -> None:
        """Refuse positions outside the periodic box [0, Λ) and halves other than 0 and 1."""
        x = state["position"]
        if ((x < 0.0) | (x >= self.box_side)).any():
            raise ValueError(f"state 'position' lies outside the box [0, {self.box_side:g})")
        if (state["half"] > 1).any():
            raise ValueError("state 'half' holds values other than 0 and 1")

    def frame(self, state: dict) -> np.ndarray:
        """Return positions ``[N][D]`` in the box [0, Λ)^D."""
        return state["position"]

    def energy(self, positions: np.ndarray) -> np.ndarray:
        """Return U at each row of ``positions`` (``[N][D]``, in the box).

        Parameters
        ----------
        positions : numpy.ndarray
            Points of the box, shape ``(N, D)``.

        Returns
        -------
        numpy.ndarray
            ``(N,)`` potential energies.
        """
        positions = validate.finite_array("positions", positions, shape=(None, self.dim))
        return self._energy(positions, np.empty(positions.shape[0]))

    def _energy(self, positions: np.ndarray, out: np.ndarray) -> np.ndarray:
        if self._lanes_2d:
            _energy_2d(positions, self._weights_2d, self.center, self.box_side, self.a,
                       self.confine, out)
        else:
            _energy_nd(positions, self._pin_ptr, self._pin_idx, self.center, self.box_side,
                       self.a, self.confine, out)
        return out

    def observe(self, state: dict) -> dict:
        """Return the sums of U and U² over these walkers."""
        positions = state["position"]
        energy = self._energy(positions, _scratch("energy", (positions.shape[0],), np.float64))
        return {"energy_sum": ExactSum(energy), "energy_sq_sum": ExactSum(energy * energy)}

    def summarize(self, sums: dict, walkers: int) -> dict:
        """Return ``mean_energy`` and its standard error ``sem_energy`` across walkers."""
        sums = rounded(sums)
        mean, sem = mean_and_sem(sums["energy_sum"], sums["energy_sq_sum"], walkers)
        return {"mean_energy": mean, "sem_energy": sem}

    def accumulators(self, state: dict) -> dict:
        """Return the position histograms counted so far (additive over walkers).

        ``histogram_2d`` counts every walker, ``histogram_2d_half`` only the
        walkers of half 1 (see :meth:`initial_state`), ``marginals`` every
        coordinate of every walker.
        """
        return {
            "histogram_2d": state["histogram_2d"],
            "histogram_2d_half": state["histogram_2d_half"],
            "marginals": state["marginals"],
        }
