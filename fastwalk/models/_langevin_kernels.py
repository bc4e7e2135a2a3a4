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
y = x − dt·∇U_s(x) + √(2T·dt)·ξ with U_s = U + γ/2·|x − x*|² (the
localizing term, off when γ = 0);

- ``em``: x ← boundary(y);
- ``mala``: y is a proposal, refused outright when it leaves a reflecting
  box; otherwise one uniform u is drawn and y is accepted when u < exp(ρ),
  ρ = −(U_s(y) − U_s(x))/T − |r|²/(4T·dt) + |ξ|²/2 (no uniform when ρ = −∞), with
  r = dt·(∇U_s(x) + ∇U_s(y)) − √(2T·dt)·ξ (the reverse move's residual;
  for a periodic box computed from the unwrapped move, which is exact).

After each counted step: U(x) (the user's U, without the localizing term)
is added to ``energy_sum[w]`` and 1 to ``energy_count[w]``, x is binned.
"""

import math

import numpy as np

from fastwalk import rng
from fastwalk._jit import jit

CACHE = globals().get("CACHE", False)
#: the number of coordinates when known before compiling (0: read it from the arrays); numba
#: freezes module globals as constants, so the loops over coordinates are unrolled
DIM = globals().get("DIM", 0)

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
def _sampled(x, g, gamma, anchor):
    """Evaluate U and ∇U_s at x: returns (U, U_s); g holds ∇U_s."""
    u = energy_gradient(x, g)
    if gamma == 0.0:
        return u, u
    extra = 0.0
    for j in range(x.shape[0]):
        d = x[j] - anchor[j]
        g[j] += gamma * d
        extra += d * d
    return u, u + 0.5 * gamma * extra


@jit(cache=CACHE, inline="always")
def _accept(u, rho):
    """Return u < exp(ρ) for u in [0, 1), mostly without the exponential.

    1 + ρ <= exp(ρ) always, and exp(ρ) <= 1 + ρ + ρ²/2 for ρ <= 0: u below
    the first bound accepts (every ρ >= 0 does, as u < 1), u at or above the
    second refuses, and exp is needed only in between (probability ~ρ²/2).
    The first test is true for almost every proposal, so the branch is
    predictable, which testing ρ >= 0 first (true about half the time) is not.
    """
    low = 1.0 + rho
    if u < low:
        return True
    if u >= low + 0.5 * rho * rho:
        return False
    return u < math.exp(rho)


@jit(cache=CACHE, inline="always")
def _count(x, dim, lo, scale, bins, boundary, hist, marg):
    """Bin x into the marginals and the 2-D histogram of (x0, x1).

    Coordinates at the upper wall go to the last bin; with ``none`` a
    coordinate outside the box is not counted.
    """
    i0 = -1
    for j in range(dim):
        t = (x[j] - lo[j]) * scale
        if boundary == NONE and not (0.0 <= t < bins):
            continue
        i = min(max(int(t), 0), bins - 1)
        marg[j, i] += 1
        if j == 0:
            i0 = i
        elif j == 1 and i0 >= 0:
            hist[i0, i] += 1


@jit(cache=CACHE, inline="always")
def _earlier(bad, step):
    """Return the earlier of a failure step ``bad`` (-1: none yet) and ``step``."""
    return step if bad < 0 or step < bad else bad


@jit(cache=CACHE)
def advance_em(positions, states, steps, boundary, lo, side, dt, temperature, gamma, anchor,
               accumulate, energy_sum, energy_count, hist, marg):
    """Advance these walkers ``steps`` Euler–Maruyama steps in place (module docstring).

    Serial (one thread's block of walkers; the model runs blocks on threads,
    which compiles in a third of the time of a ``prange`` kernel); counts
    into ``hist`` and ``marg``. Returns the first step (relative to this
    call) after which some walker's position, energy or gradient was not
    finite, or -1.
    """
    walkers = positions.shape[0]
    dim = DIM if DIM > 0 else positions.shape[1]
    bins = marg.shape[1]
    scale = bins / side
    noise = math.sqrt(2.0 * temperature * dt)
    bad = -1
    x = np.empty(dim)
    g = np.empty(dim)
    for w in range(walkers):
        s = states[w]
        for j in range(dim):
            x[j] = positions[w, j]
        u, _ = _sampled(x, g, gamma, anchor)
        total, counted = energy_sum[w], energy_count[w]
        for step in range(steps):
            for j in range(dim):
                x[j] = _into_box(x[j] - dt * g[j] + noise * rng.normal(s), boundary, lo[j], side)
            u, _ = _sampled(x, g, gamma, anchor)
            check = u * 0.0  # 0 for finite values, NaN for NaN or inf
            for j in range(dim):
                check += (x[j] + g[j]) * 0.0
            if check != 0.0:
                bad = _earlier(bad, step)
                break
            if accumulate:  # in locals: a sum in memory would chain every step through a store
                total += u
                counted += 1
                _count(x, dim, lo, scale, bins, boundary, hist, marg)
        for j in range(dim):
            positions[w, j] = x[j]
        energy_sum[w], energy_count[w] = total, counted
    return bad


@jit(cache=CACHE)
def advance_mala(positions, states, steps, boundary, lo, side, dt, temperature, gamma, anchor,
                 accumulate, energy_sum, energy_count, accepted, hist, marg):
    """Advance every walker ``steps`` MALA steps in place (module docstring).

    As :func:`advance_em`; ``accepted[w]`` counts walker w's accepted
    proposals. A log ratio of −inf (U_s(y) = +inf, or an infinite gradient) refuses the
    proposal without a uniform; NaN (a NaN energy or gradient) or +inf
    (U_s(y) = −inf) is a non-finite state and stops the walker.
    """
    walkers = positions.shape[0]
    dim = DIM if DIM > 0 else positions.shape[1]
    bins = marg.shape[1]
    scale = bins / side
    noise = math.sqrt(2.0 * temperature * dt)
    inv_t = 1.0 / temperature
    k_noise = noise * 0.5 * inv_t
    k_drift = dt * 0.25 * inv_t
    bad = -1
    x = np.empty(dim)
    y = np.empty(dim)
    gx = np.empty(dim)
    gy = np.empty(dim)
    xi = np.empty(dim)
    for w in range(walkers):
        s = states[w]
        for j in range(dim):
            x[j] = positions[w, j]
        ux, usx = _sampled(x, gx, gamma, anchor)
        total, counted, moves = energy_sum[w], energy_count[w], accepted[w]
        failed = False
        for step in range(steps):
            inside = True
            for j in range(dim):
                xi[j] = rng.normal(s)
                y[j] = x[j] - dt * gx[j] + noise * xi[j]
                if boundary == REFLECT and not (lo[j] <= y[j] <= lo[j] + side):
                    inside = False
            if inside:
                if boundary == PERIODIC:
                    for j in range(dim):
                        y[j] = _into_box(y[j], boundary, lo[j], side)
                uy, usy = _sampled(y, gy, gamma, anchor)
                # |ξ|²/2 − |r|²/(4T·dt) = Σ_j a_j·(√(2T·dt)·ξ_j/(2T) − dt·a_j/(4T)), a = ∇U_s(x) + ∇U_s(y)
                log_ratio = (usx - usy) * inv_t
                for j in range(dim):
                    a = gx[j] + gy[j]
                    log_ratio += a * (k_noise * xi[j] - k_drift * a)
                if log_ratio != log_ratio or log_ratio == math.inf:
                    failed = usy != math.inf  # U_s(y) = +inf: zero weight, refused
                elif log_ratio > -math.inf and _accept(rng.uniform(s), log_ratio):
                    for j in range(dim):
                        x[j] = y[j]
                        gx[j] = gy[j]
                    ux, usx = uy, usy
                    if accumulate:
                        moves += 1
            if failed or x[0] != x[0]:
                bad = _earlier(bad, step)
                break
            if accumulate:
                total += ux
                counted += 1
                _count(x, dim, lo, scale, bins, boundary, hist, marg)
        for j in range(dim):
            positions[w, j] = x[j]
        energy_sum[w], energy_count[w], accepted[w] = total, counted, moves
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
