"""Langevin kernels, written once for every potential.

This file is a template as well as a module. The kernels call the module
globals ``energy(x)``, ``gradient(x, out)`` and ``energy_gradient(x, out)``;
numba resolves them when a kernel is first compiled. Here they are a
placeholder (U = |x|²/2). :class:`fastwalk.expression.Expression` writes a
module holding this file's text followed by the generated functions (which
replace the placeholders), with ``CACHE = True`` defined first so that numba
caches the kernels beside it; a Python-given pair of jitted functions is set
on a fresh copy of the module instead (not cached). The derivation of the
MALA ratio and the boundary rules is in DESIGN.md ("Langevin").

One step of walker w (the numbers drawn from its own stream, coordinate
order): ξ_j = normal, j = 0 .. d−1; the move
y = x − dt·∇U_s(x) + √(2T·dt)·ξ with U_s = U + k/2·|x − x*|², k the
``stiffness`` argument (the localizing term, off when k = 0). The model
passes k = T·γ, so that exp(−U_s/T) = exp(−U/T − γ/2·|x − x*|²): the
localizer is a fixed Gaussian prior of precision γ, whatever T (DESIGN.md,
"The localizer is a fixed prior");

- ``em``: x ← boundary(y);
- ``mala``: y is a proposal, refused outright when it leaves a reflecting
  box; otherwise one uniform u is drawn and y is accepted when u < exp(ρ),
  ρ = −(U_s(y) − U_s(x))/T − |r|²/(4T·dt) + |ξ|²/2 (no uniform when ρ = −∞), with
  r = dt·(∇U_s(x) + ∇U_s(y)) − √(2T·dt)·ξ (the reverse move's residual;
  for a periodic box computed from the unwrapped move, which is exact).

After each counted step: U(x) (the user's U, without the localizing term)
is added to ``energy_sum[w]`` and 1 to ``energy_count[w]``, x is binned.

Layout (DESIGN.md, "Derivations: the SIMD kernels of the Langevin model"):
a kernel holds a tile of up to ``rng.LANES`` walkers side by side, coordinate
j of lane i in ``X[j, i]``, and each stage of a step is a loop over lanes
that LLVM vectorises (the draws, the move, U and ∇U, the MALA ratio and
choice); the rare lanes that need more (a ziggurat miss, a wall crossed, an
acceptance too close to call without ``exp``) are finished one by one
between the stages. Every walker draws and computes exactly what one walker
alone would, so results do not depend on how walkers are tiled.
"""

import math

import numba
import numpy as np

from fastwalk import rng
from fastwalk._jit import jit
from fastwalk.models._kernels import select, stack_array

CACHE = globals().get("CACHE", False)
#: the number of coordinates, set before compiling (0 here: the template itself never runs);
#: numba freezes module globals as constants, so loops over coordinates unroll and the work
#: arrays' sizes are known (they live on the stack)
DIM = globals().get("DIM", 0)
#: compute every lane of every tile: with Intel's SVML numba vectorises math functions, whose
#: vector and scalar results may differ in the last bit, so no lane may fall to a scalar remainder
FULL_TILES = globals().get("FULL_TILES", numba.config.USING_SVML)
LANES = rng.LANES

REFLECT, PERIODIC, NONE = 0, 1, 2


@jit(cache=CACHE)
def energy(x):
    """Return the placeholder potential |x|²/2 (replaced in generated modules)."""
    total = 0.0
    for j in range(x.shape[0]):
        total += 0.5 * x[j] * x[j]
    return total


@jit(cache=CACHE)
def gradient(x, out):
    """Write the placeholder gradient x (replaced in generated modules)."""
    for j in range(x.shape[0]):
        out[j] = x[j]


@jit(cache=CACHE)
def energy_gradient(x, out):
    """Return the energy and write the gradient (one call each of the two above)."""
    gradient(x, out)
    return energy(x)


@jit(cache=CACHE, inline="always")
def _sign(v):
    return 1.0 if v > 0.0 else (-1.0 if v < 0.0 else (0.0 if v == 0.0 else v))


@jit(cache=CACHE, inline="always")
def _heaviside(v):
    return 1.0 if v > 0.0 else (0.0 if v < 0.0 else (0.5 if v == 0.0 else v))


@jit(cache=CACHE, inline="always")
def _into_box(v, boundary, lo, side):
    """Map a coordinate into the box: reflect at its walls, wrap, or leave it (``none``)."""
    if boundary == NONE or (lo <= v < lo + side):
        return v
    if boundary == PERIODIC:
        v = v - side * np.floor((v - lo) / side)
        return lo if v >= lo + side else v
    y = (v - lo) % (2.0 * side)  # reflect: a triangle wave of period 2·side
    return lo + (2.0 * side - y if y > side else y)


@jit(cache=CACHE, inline="always")
def lane_energy_gradient(X, G, U, width, x, g, skip):
    """Evaluate U and ∇U in lanes ``0 .. width − 1``: ``U[i]`` and ``G[:, i]`` at ``X[:, i]``.

    This placeholder calls :func:`energy_gradient` through the work arrays
    ``x`` and ``g`` (a Python-given pair), except in the lanes of the mask
    ``skip`` (MALA proposals refused outside a reflecting box: the user's
    functions may not accept points outside it). Generated modules replace
    it by the potential's straight-line code, which LLVM vectorises across
    lanes and which evaluates every lane (it cannot fail).
    """
    for i in range(width):
        if (skip >> np.uint64(i)) & np.uint64(1):
            U[i] = math.inf  # never used: the proposal is refused
            continue
        for j in range(x.shape[0]):
            x[j] = X[j, i]
        U[i] = energy_gradient(x, g)
        for j in range(x.shape[0]):
            G[j, i] = g[j]


@jit(cache=CACHE, inline="always")
def _lane_sampled(X, G, U, US, width, dim, stiffness, anchor, x, g, with_us, skip):
    """Evaluate U (into ``U``) and ∇U_s (into ``G``) in the lanes, and U_s (into ``US``) if ``with_us``.

    ``skip``: lanes whose values will not be used (see :func:`lane_energy_gradient`).
    """
    lane_energy_gradient(X, G, U, width, x, g, skip)
    if stiffness == 0.0:
        if with_us:
            for i in range(width):
                US[i] = U[i]
        return
    for i in range(width):
        extra = 0.0
        for j in range(dim):
            d = X[j, i] - anchor[j]
            G[j, i] += stiffness * d
            extra += d * d
        US[i] = U[i] + 0.5 * stiffness * extra


@jit(cache=CACHE, inline="always")
def _tile_width(count):
    """Return how many lanes a tile of ``count`` walkers computes (the rest pad)."""
    return LANES if FULL_TILES else count


@jit(cache=CACHE, inline="always")
def _load_tile(positions, states, sums, first, count, width, dim, lanes, X, total):
    """Load walkers ``first ..`` into the lanes; padding lanes repeat walker ``first``."""
    rng.load_lanes(states, first, count, lanes)
    for i in range(width):
        k = i if i < count else 0
        for j in range(dim):
            X[j, i] = positions[first + k, j]
        total[i] = sums[first + i] if i < count else 0.0
    for i in range(count, width):
        for r in range(4):
            lanes[r, i] = lanes[r, 0]


@jit(cache=CACHE, inline="always")
def _store_tile(positions, states, sums, counts, first, count, dim, lanes, X, total, counted):
    """Write the tile's walkers back, adding ``counted`` to their counts of counted steps."""
    rng.store_lanes(lanes, count, states, first)
    for i in range(count):
        for j in range(dim):
            positions[first + i, j] = X[j, i]
        sums[first + i] = total[i]
        counts[first + i] += counted


@jit(cache=CACHE, inline="always")
def _lane_move(X, G, Z, Y, width, dim, dt, noise, wraps, lo, side):
    """Set Y = X − dt·G + √(2T·dt)·Z in every lane; return two lane masks.

    ``leaving`` (when ``wraps``): some coordinate is outside [lo, lo + side),
    so that :func:`_into_box` would move it; ``outside``: some coordinate
    is outside the closed box.
    """
    leaving = np.uint64(0)
    outside = np.uint64(0)
    for i in range(width):
        closed = True
        half_open = True
        for j in range(dim):
            y = X[j, i] - dt * G[j, i] + noise * Z[j, i]
            Y[j, i] = y
            closed &= lo[j] <= y <= lo[j] + side
            half_open &= lo[j] <= y < lo[j] + side
        bit = np.uint64(1) << np.uint64(i)
        leaving |= select(wraps and not half_open, bit, np.uint64(0))
        outside |= select(closed, np.uint64(0), bit)
    return leaving, outside


@jit(cache=CACHE, inline="always")
def _lane_into_box(Y, leaving, dim, boundary, lo, side):
    """Apply :func:`_into_box` to the lanes of the mask ``leaving`` (from :func:`_lane_move`)."""
    while leaving:
        i = rng.lowest_lane(leaving)
        leaving &= leaving - np.uint64(1)
        for j in range(dim):
            Y[j, i] = _into_box(Y[j, i], boundary, lo[j], side)


@jit(cache=CACHE, inline="always")
def _bin(v, lo, scale, bins):
    return min(max(int((v - lo) * scale), 0), bins - 1)


@jit(cache=CACHE, inline="always")
def _lane_count(X, width, count, dim, lo, scale, bins, boundary, hist, marg, cells):
    """Bin the positions of lanes ``0 .. count − 1`` into the marginals and the (x0, x1) histogram.

    Coordinates at the upper wall go to the last bin; with ``none`` a
    coordinate outside the box is not counted. With a box boundary every
    coordinate is counted, so for d >= 2 the marginals of x0 and x1 are the
    histogram's sums: they are left to the caller (one increment, not three),
    and the histogram's cells are computed in a loop over lanes first
    (``cells``: a work array; ``hist`` is flat, ``bins``² long).
    """
    if boundary != NONE and dim >= 2:
        for i in range(width):
            cells[i] = _bin(X[0, i], lo[0], scale, bins) * bins + _bin(X[1, i], lo[1], scale, bins)
        for i in range(count):
            hist[np.uintp(cells[i])] += 1
        for j in range(2, dim):
            for i in range(count):
                marg[j, _bin(X[j, i], lo[j], scale, bins)] += 1
        return
    for i in range(count):
        if boundary != NONE:
            marg[0, _bin(X[0, i], lo[0], scale, bins)] += 1
            continue
        i0 = -1
        for j in range(dim):
            t = (X[j, i] - lo[j]) * scale
            if not (0.0 <= t < bins):
                continue
            k = min(int(t), bins - 1)
            marg[j, k] += 1
            if j == 0:
                i0 = k
            elif j == 1 and i0 >= 0:
                hist[i0 * bins + k] += 1


@jit(cache=CACHE, inline="always")
def _lane_record(U, total, X, width, count, dim, lo, scale, bins, boundary, hist, marg, cells):
    """Count a step: add each lane's U to its total and bin its position (:func:`_lane_count`)."""
    for i in range(width):
        total[i] += U[i]
    _lane_count(X, width, count, dim, lo, scale, bins, boundary, hist, marg, cells)


@jit(cache=CACHE, inline="always")
def _not_finite(X, G, U, width, count, dim):
    """Whether U, a coordinate or a gradient component is not finite in some lane ``< count``."""
    bad = False
    for i in range(width):
        check = U[i] * 0.0  # 0 for finite values, NaN for NaN or inf
        for j in range(dim):
            check += (X[j, i] + G[j, i]) * 0.0
        bad |= (check != 0.0) & (i < count)
    return bad


@jit(cache=CACHE, inline="always")
def _earlier(bad, step):
    """Return the earlier of a failure step ``bad`` (-1: none yet) and ``step``."""
    return step if bad < 0 or step < bad else bad


@jit(cache=CACHE, _nrt=False)
def advance_em(positions, states, steps, boundary, lo, side, dt, temperature, stiffness, anchor,
               accumulate, energy_sum, energy_count, hist, marg):
    """Advance these walkers ``steps`` Euler–Maruyama steps in place (module docstring).

    Serial (one thread's block of walkers; the model runs blocks on threads,
    which compiles in a third of the time of a ``prange`` kernel), in tiles
    of up to ``rng.LANES`` walkers whose stages are loops over lanes;
    counts into ``hist`` and ``marg`` (see :func:`_lane_count`). Returns
    the first step (relative to this call) after which some walker's
    position, energy or gradient was not finite, or -1.

    Compiled without numba's reference counts (``_nrt=False``; the work
    arrays are on the stack): with them, every array handed to an inlined
    stage was counted up and down atomically on every step.
    """
    walkers, dim, bins = positions.shape[0], DIM, marg.shape[1]
    scale = bins / side
    noise = math.sqrt(2.0 * temperature * dt)
    flat = hist.reshape(hist.size)
    lanes, point = stack_array(4, LANES, np.uint64), stack_array(2, DIM, np.float64)
    X, G, Z = (stack_array(DIM, LANES, np.float64), stack_array(DIM, LANES, np.float64),
               stack_array(DIM, LANES, np.float64))
    U, US = stack_array(1, LANES, np.float64)[0], stack_array(1, LANES, np.float64)[0]
    total, cells = stack_array(1, LANES, np.float64)[0], stack_array(1, LANES, np.intp)[0]
    x, g = point[0], point[1]
    bad = -1
    for first in range(0, walkers, LANES):
        count = min(LANES, walkers - first)
        width = _tile_width(count)
        _load_tile(positions, states, energy_sum, first, count, width, dim, lanes, X, total)
        _lane_sampled(X, G, U, US, width, dim, stiffness, anchor, x, g, False, np.uint64(0))
        done = steps
        for step in range(steps):
            missed = rng.normal_rows(lanes, width, count, Z, dim)
            if missed:
                rng.redraw_lanes(lanes, missed, states, first, Z, dim)
            leaving, _ = _lane_move(X, G, Z, X, width, dim, dt, noise, boundary != NONE, lo, side)
            _lane_into_box(X, leaving, dim, boundary, lo, side)
            _lane_sampled(X, G, U, US, width, dim, stiffness, anchor, x, g, False, np.uint64(0))
            if _not_finite(X, G, U, width, count, dim):
                bad, done = _earlier(bad, step), step
                break
            if accumulate:
                _lane_record(U, total, X, width, count, dim, lo, scale, bins, boundary, flat, marg, cells)
        _store_tile(positions, states, energy_sum, energy_count, first, count, dim, lanes, X, total,
                    done if accumulate else 0)
    return bad


@jit(cache=CACHE, inline="always")
def _take(take, i, dim, X, GX, UX, USX, Y, GY, UY, USY, moves):
    """Move lane ``i`` to its proposal if ``take`` (branch-free), counting the move."""
    for j in range(dim):
        X[j, i] = select(take, Y[j, i], X[j, i])
        GX[j, i] = select(take, GY[j, i], GX[j, i])
    UX[i] = select(take, UY[i], UX[i])
    USX[i] = select(take, USY[i], USX[i])
    moves[i] += select(take, np.int64(1), np.int64(0))


@jit(cache=CACHE, inline="always")
def _lane_decide(lanes, refused, width, dim, inv_t, k_noise, k_drift, Z, X, GX, UX, USX, Y, GY, UY,
                 USY, moves, rho, uniforms, failed):
    """Accept or refuse each lane's proposal (module docstring); return the lanes left unsure.

    A proposal in the lane mask ``refused`` (outside a reflecting box) draws nothing; a
    finite ρ draws u and is accepted when u < exp(ρ), mostly decided without
    the exponential: 1 + ρ <= exp(ρ) always, and exp(ρ) <= 1 + ρ + ρ²/2 for
    ρ <= 0, so u below the first bound accepts (every ρ >= 0 does, as u < 1)
    and u at or above the second refuses. The lanes in between (probability
    ~ρ²/2) are returned as a mask, with ρ and u in ``rho`` and ``uniforms``,
    for :func:`_finish_unsure`. ρ NaN, or +inf unless U_s(y) = +inf, sets
    ``failed[i]`` (a non-finite state).
    """
    unsure = np.uint64(0)
    for i in range(width):
        # |ξ|²/2 − |r|²/(4T·dt) = Σ_j a_j·(√(2T·dt)·ξ_j/(2T) − dt·a_j/(4T)), a = ∇U_s(x) + ∇U_s(y)
        r = (USX[i] - USY[i]) * inv_t
        for j in range(dim):
            a = GX[j, i] + GY[j, i]
            r += a * (k_noise * Z[j, i] - k_drift * a)
        inside = ((refused >> np.uint64(i)) & np.uint64(1)) == np.uint64(0)
        draw = inside & (-math.inf < r) & (r < math.inf)
        failed[i] = inside & ((r != r) | (r == math.inf)) & (USY[i] != math.inf)
        u = rng.uniform_lane(lanes, i, draw)
        low = 1.0 + r
        below = u < low
        close = draw & (not below) & (not (u >= low + 0.5 * r * r))
        unsure |= np.uint64(1 if close else 0) << np.uint64(i)
        rho[i], uniforms[i] = r, u
        _take(draw & below, i, dim, X, GX, UX, USX, Y, GY, UY, USY, moves)
    return unsure


@jit(cache=CACHE, inline="always")
def _finish_unsure(unsure, rho, uniforms, dim, X, GX, UX, USX, Y, GY, UY, USY, moves):
    """Decide the lanes of the mask ``unsure`` (from :func:`_lane_decide`) with the exponential."""
    while unsure:
        i = rng.lowest_lane(unsure)
        unsure &= unsure - np.uint64(1)
        if uniforms[i] < math.exp(rho[i]):
            _take(True, i, dim, X, GX, UX, USX, Y, GY, UY, USY, moves)


@jit(cache=CACHE, _nrt=False)
def advance_mala(positions, states, steps, boundary, lo, side, dt, temperature, stiffness, anchor,
                 accumulate, energy_sum, energy_count, accepted, hist, marg):
    """Advance every walker ``steps`` MALA steps in place (module docstring).

    As :func:`advance_em`; ``accepted[w]`` counts walker w's accepted
    proposals. A log ratio of −inf (U_s(y) = +inf, or an infinite gradient) refuses the
    proposal without a uniform; NaN (a NaN energy or gradient) or +inf
    (U_s(y) = −inf) is a non-finite state and stops the walker.
    """
    walkers, dim, bins = positions.shape[0], DIM, marg.shape[1]
    scale = bins / side
    noise = math.sqrt(2.0 * temperature * dt)
    inv_t = 1.0 / temperature
    k_noise = noise * 0.5 * inv_t
    k_drift = dt * 0.25 * inv_t
    flat = hist.reshape(hist.size)
    lanes, point = stack_array(4, LANES, np.uint64), stack_array(2, DIM, np.float64)
    X, GX, Z = (stack_array(DIM, LANES, np.float64), stack_array(DIM, LANES, np.float64),
                stack_array(DIM, LANES, np.float64))
    Y, GY = stack_array(DIM, LANES, np.float64), stack_array(DIM, LANES, np.float64)
    UX, USX = stack_array(1, LANES, np.float64)[0], stack_array(1, LANES, np.float64)[0]
    UY, USY = stack_array(1, LANES, np.float64)[0], stack_array(1, LANES, np.float64)[0]
    rho, uniforms = stack_array(1, LANES, np.float64)[0], stack_array(1, LANES, np.float64)[0]
    total, cells = stack_array(1, LANES, np.float64)[0], stack_array(1, LANES, np.intp)[0]
    moves, failed = stack_array(1, LANES, np.int64)[0], stack_array(1, LANES, np.bool_)[0]
    x, g = point[0], point[1]
    bad = -1
    for first in range(0, walkers, LANES):
        count = min(LANES, walkers - first)
        width = _tile_width(count)
        _load_tile(positions, states, energy_sum, first, count, width, dim, lanes, X, total)
        for i in range(width):
            moves[i] = accepted[first + i] if i < count else 0
        _lane_sampled(X, GX, UX, USX, width, dim, stiffness, anchor, x, g, True, np.uint64(0))
        done = steps
        for step in range(steps):
            missed = rng.normal_rows(lanes, width, count, Z, dim)
            if missed:
                rng.redraw_lanes(lanes, missed, states, first, Z, dim)
            leaving, outside = _lane_move(X, GX, Z, Y, width, dim, dt, noise, boundary == PERIODIC,
                                          lo, side)
            _lane_into_box(Y, leaving, dim, boundary, lo, side)
            refused = outside if boundary == REFLECT else np.uint64(0)
            _lane_sampled(Y, GY, UY, USY, width, dim, stiffness, anchor, x, g, True, refused)
            unsure = _lane_decide(lanes, refused, width, dim, inv_t, k_noise, k_drift, Z, X, GX, UX,
                                  USX, Y, GY, UY, USY, moves, rho, uniforms, failed)
            _finish_unsure(unsure, rho, uniforms, dim, X, GX, UX, USX, Y, GY, UY, USY, moves)
            if _mala_failed(failed, X, width, count):
                bad, done = _earlier(bad, step), step
                break
            if accumulate:
                _lane_record(UX, total, X, width, count, dim, lo, scale, bins, boundary, flat, marg, cells)
        _store_tile(positions, states, energy_sum, energy_count, first, count, dim, lanes, X, total,
                    done if accumulate else 0)
        for i in range(count):
            accepted[first + i] = moves[i] if accumulate else accepted[first + i]
    return bad


@jit(cache=CACHE, inline="always")
def _mala_failed(failed, X, width, count):
    """Whether a lane ``< count`` failed its proposal or holds a NaN first coordinate."""
    bad = False
    for i in range(width):
        bad |= (failed[i] | (X[0, i] != X[0, i])) & (i < count)
    return bad


@jit(cache=CACHE)
def energies(positions, out):
    """Write U at every row of ``positions`` into ``out`` (serial: quick to compile)."""
    for w in range(positions.shape[0]):
        out[w] = energy(positions[w])


@jit(cache=CACHE)
def energies_gradients(positions, energies_out, gradients_out):
    """Write U and ∇U at every row of ``positions`` (serial: quick to compile)."""
    for w in range(positions.shape[0]):
        energies_out[w] = energy_gradient(positions[w], gradients_out[w])
