"""Brownian motion on the hypersphere S^n of radius R.

Conventions (``DESIGN.md``): ``S^n = {x ∈ R^(n+1) : |x| = R}``, ``dim`` is
``n``; the generator is ``D·Δ`` (Laplace–Beltrami operator of the sphere of
radius R), so that

    ⟨cos θ(t)⟩ = exp(−n D t / R²),    cos θ = ⟨x_t, x_0⟩ / R²,

and the chordal displacement ``z = |x_t − x_0|`` obeys
``⟨z²⟩ = 2R²(1 − ⟨cos θ⟩)`` exactly. A walker at x moves *isotropically*
under every method below (the law of a step is invariant under rotations
fixing x), so ``E[x' | x] = c·x`` with ``c = E[cos φ]`` for the step's angle
φ, and ``⟨cos θ⟩`` after k steps is exactly ``c^k``: each method has its own
exact decay law, and ``exact`` has the Brownian one.

Step methods
------------
``ring`` (the seed's walk)
    Every step moves a fixed chord δ to a uniformly random point of the ring
    ``{x' : |x'| = R, |x' − x| = δ}``: ``cos φ = 1 − δ²/(2R²)`` for every
    step, so ``⟨cos θ⟩ = (1 − δ²/(2R²))^k`` after k steps, exactly. Without
    an explicit chord, δ is chosen so that one step's factor equals the
    Brownian one, ``1 − δ²/(2R²) = exp(−n D dt/R²)``, i.e.
    ``δ = R·sqrt(2(1 − exp(−n D dt/R²)))``; the ring walk then has exactly
    the Brownian ``⟨cos θ⟩`` at every step (but not its other moments). The
    move itself is :func:`fastwalk.perturb.move_on_sphere`.
``geodesic``
    A Gaussian tangent vector v of variance ``2D·dt`` per tangent direction
    (n+1 normals with the radial part projected out), mapped back by the
    exponential map ``x' = x cos(|v|/R) + R sin(|v|/R) v/|v|``. Its step
    factor is ``E[cos(sqrt(τ)·χ_n)]`` with ``τ = 2D dt/R²``: it equals
    ``exp(−nτ/2)`` up to a relative ``−n(n−1)τ²/12`` per step, so the bias
    vanishes linearly in dt (and is zero for the circle, n = 1).
``exact``
    Draws the transition law of Brownian motion itself, at any dt, with no
    discretisation bias (Mijatović, Mramor & Uribe Bravo 2020, *A note on the
    exact simulation of spherical Brownian motion*, Statist. Probab. Lett.
    163). Their result is stated for the standard Brownian motion on
    ``S^{d−1} ⊂ R^d`` (generator Δ/2 on the unit sphere): at time τ, given
    the value m of the ancestral process ``A_∞^θ(τ)`` of the Wright–Fisher
    diffusion with ``θ = d − 1``, the angle φ from the start satisfies
    ``(1 − cos φ)/2 ~ Beta(θ/2, θ/2 + m)``, and the direction is uniform
    among the tangent directions. **Conversion**: our ``S^n`` lives in
    ``R^(n+1)``, so ``d = n + 1`` and ``θ = n``; ``x/R`` has generator
    ``(D/R²)Δ_unit = (1/2)Δ_unit`` run at time ``τ = 2 D dt / R²``. So one
    step draws ``A ~ A_∞^n(2D dt/R²)`` and then
    ``(1 − cos φ)/2 ~ Beta(n/2, n/2 + A)``. (Check: ``E[cos φ | A] = A/(A+n)``
    and ``E[A/(A+n)] = exp(−nτ/2) = exp(−n D dt/R²)``.)

    ``A_∞^θ(τ)`` is the pure-death process started at infinity with death
    rates ``λ_k = k(k+θ−1)/2``. Its law is usually written as an alternating
    series (Griffiths 1980; Tavaré 1984), which cancels catastrophically
    for small τ or large θ (terms of size 10^180 at n = 1000, nD dt/R² = 1);
    Jenkins & Spanò 2017 and MMUB fall back on a normal approximation there.
    Instead, fastwalk computes the same law exactly at every τ from the
    hitting times ``T_m = Σ_{k>m} E_k/λ_k`` (``E_k`` i.i.d. standard
    exponentials): ``P(A ≤ m) = P(T_m ≤ τ)``. The characteristic function of
    ``T_m`` is the closed form
    ``Γ(m+1−r)Γ(m+n+r) / (Γ(m+1)Γ(m+n))``, ``r = 4iu/(n−1 + sqrt((n−1)² + 8iu))``,
    and the Gil-Pelaez inversion discretised on the shifted grid
    ``u_j = (j+½)h`` is *exact* for a variable supported within
    ``τ ± 2π/h`` (a Fourier-series identity), so with ``2π/h`` beyond
    Chernoff bounds on the support (mass outside below 1e-20) and the sum
    carried until ``|ψ| < 1e-18``, the only errors are rounding: the table
    ``P(A ≤ m)`` is accurate to about 1e-13 absolute up to ~10^7 lineages
    (3e-12 at 10^10), checked against the alternating series where that is
    well conditioned and against the exact identities
    ``E[A/(A+n)] = e^{−nτ/2}`` and the Gegenbauer-2 moment elsewhere.
    Values of m whose probability is below 1e-20 on either side are left
    out. A is then drawn by inversion of the table,
    the Beta variable as ``G₁/(G₁+G₂)`` with ``G₁ ~ Gamma(n/2)``,
    ``G₂ ~ Gamma(n/2 + A)`` (Marsaglia–Tsang), the direction from n+1
    normals projected on the tangent space. The table depends only on
    ``(n, τ)``, is built once per model (cached; 10^5 entries take ~0.3 s),
    and grows like ``sqrt(n/(n D dt/R²))`` entries for small steps (at most
    :data:`MAX_TABLE`). For the circle, n = 1,
    the exact law is the wrapped normal, ``φ ~ N(0, τ)``, used directly.

Start
-----
``"pole"``: every walker starts at ``R·e_0`` (the first coordinate axis).
``"uniform"``: each walker starts at its own uniform random point, drawn
from its own stream (n+1 normals, normalised) before its first step; cos θ
is measured from each walker's own start, kept in ``state["start"]``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numba import prange

from fastwalk import rng, validate
from fastwalk._jit import jit, pjit
from fastwalk.analysis.decay import rms_chord_law
from fastwalk.errors import SimulationError
from fastwalk.models.base import Model
from fastwalk.perturb import move_on_sphere

__all__ = [
    "METHODS",
    "STARTS",
    "SphereBrownian",
    "default_chord",
    "lineage_distribution",
]

#: step methods, see the module docstring
METHODS = ("ring", "geodesic", "exact")
#: start options
STARTS = ("pole", "uniform")

#: log of the probability left out of the lineage table on either side (~1e-20)
_TAIL_LOG = 46.0
#: the Gil-Pelaez sum stops where |characteristic function| < exp(-_PSI_LOG) (~1e-18)
_PSI_LOG = 41.5
#: refuse exact-method tables longer than this (n·D·dt/R² far too small)
MAX_TABLE = 5_000_000


def default_chord(dim: int, radius: float, diffusion: float, dt: float) -> float:
    """Return the ring chord δ whose step factor is the Brownian one.

    Parameters
    ----------
    dim : int
        Sphere dimension n (>= 1).
    radius : float
        Radius R (> 0).
    diffusion : float
        Diffusion constant D (>= 0).
    dt : float
        Time per step (> 0).

    Returns
    -------
    float
        ``δ = R·sqrt(2(1 − exp(−n D dt/R²)))``, so that
        ``1 − δ²/(2R²) = exp(−n D dt/R²)``; in ``[0, √2·R)``.
    """
    # one ring step of this chord has the RMS displacement Brownian motion has at dt
    return float(rms_chord_law(dt, dim, radius, diffusion))


# ----------------------------------------------------------------------------
# The law of the ancestral process A_∞^θ(τ) (θ = n), exact at every τ.


def _cgf(m: int, theta: int, s: float) -> float:
    """Return log E[exp(s·T_m)] for s < λ_{m+1} (T_m: hitting time of level m)."""
    from scipy import special

    a = theta - 1.0
    root = np.sqrt(complex(a * a + 8.0 * s))
    p, q = (-a + root) / 2.0, (-a - root) / 2.0
    value = special.loggamma(m + 1.0 - p) + special.loggamma(m + 1.0 - q)
    return float(value.real) - special.gammaln(m + 1.0) - special.gammaln(m + float(theta))


def _log_upper_tail(m: int, theta: int, y: float) -> float:
    """Return a Chernoff bound on log P(T_m >= y)."""
    from scipy import optimize

    s_max = 0.5 * (m + 1.0) * (m + theta)

    def bound(z):
        s = s_max / (1.0 + math.exp(-z))
        return _cgf(m, theta, s) - s * y

    found = optimize.minimize_scalar(bound, bounds=(-60.0, 36.0), method="bounded",
                                     options={"xatol": 1e-8})
    return min(float(found.fun), 0.0)


def _log_lower_tail(m: int, theta: int, y: float) -> float:
    """Return a Chernoff bound on log P(T_m <= y)."""
    from scipy import optimize

    if y <= 0.0:
        return -math.inf
    log_y = math.log(y)

    def bound(z):
        s = math.exp(z - log_y)
        return _cgf(m, theta, -s) + s * y

    found = optimize.minimize_scalar(bound, bounds=(-40.0, 60.0), method="bounded",
                                     options={"xatol": 1e-8})
    return min(float(found.fun), 0.0)


def _support_end(m: int, theta: int, upper: bool) -> float:
    """Return y with P(T_m > y) (upper) or P(T_m < y) (lower) below exp(-_TAIL_LOG)."""
    from scipy import optimize

    if upper:
        s_max = 0.5 * (m + 1.0) * (m + theta)

        def edge(z):
            s = s_max / (1.0 + math.exp(-z))
            return (_cgf(m, theta, s) + _TAIL_LOG) / s

        found = optimize.minimize_scalar(edge, bounds=(-40.0, 36.0), method="bounded",
                                         options={"xatol": 1e-8})
        return float(found.fun)
    scale = 0.5 * (m + 1.0) * (m + theta)

    def negative_edge(z):
        s = scale * math.exp(z)
        return (_cgf(m, theta, -s) + _TAIL_LOG) / s

    found = optimize.minimize_scalar(negative_edge, bounds=(-30.0, 40.0), method="bounded",
                                     options={"xatol": 1e-8})
    return max(-float(found.fun), 0.0)


def _table_range(theta: int, tau: float) -> tuple[int, int]:
    """Return (first, last): P(A < first) and P(A > last) are below exp(-_TAIL_LOG)."""

    def above_negligible(m):  # P(A > m) = P(T_m > τ) negligible
        return _log_upper_tail(m, theta, tau) <= -_TAIL_LOG

    def below_negligible(m):  # P(A <= m) = P(T_m <= τ) negligible
        return _log_lower_tail(m, theta, tau) <= -_TAIL_LOG

    high = 1
    while not above_negligible(high):
        high *= 2
    if above_negligible(0):
        last = 0
    else:
        low = high // 2 if high > 1 else 0
        while high - low > 1:
            middle = (low + high) // 2
            if above_negligible(middle):
                high = middle
            else:
                low = middle
        last = high
    # F(m) is increasing in m: step down from the top until the lower tail is
    # negligible, then bisect between that point and the last one where it is not.
    gap = 1
    while gap <= last and not below_negligible(last - gap):
        gap *= 2
    if gap > last:
        return 0, last
    low, high = last - gap, last - gap // 2
    while high - low > 1:
        middle = (low + high) // 2
        if below_negligible(middle):
            low = middle
        else:
            high = middle
    return low + 1, last


_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)


def _stirling_tail(z):
    """Return Σ_k B_2k / (2k(2k−1) z^(2k−1)), the tail of Stirling's series."""
    inverse = 1.0 / z
    square = inverse * inverse
    total = np.zeros_like(z)
    power = inverse
    for coefficient in _STIRLING:
        total = total + coefficient * power
        power = power * square
    return total


def _complex_log1p(z):
    x, y = z.real, z.imag
    return 0.5 * np.log1p(2.0 * x + x * x + y * y) + 1j * np.arctan2(y, 1.0 + x)


def _log1p_minus(z):
    """Return log(1 + z) − z for complex z, without cancellation for small |z|."""
    series = np.zeros_like(z)
    power = z * z
    for j in range(2, 24):  # log(1+z) − z = Σ_{j≥2} (−1)^(j+1) z^j / j
        series = series + (-power / j if j % 2 == 0 else power / j)
        power = power * z
    small = np.abs(z) < 0.1
    direct = _complex_log1p(np.where(small, 0.0, z)) - np.where(small, 0.0, z)
    return np.where(small, series, direct)


def _digamma_minus_log(x: float) -> float:
    """Return ψ(x) − log(x) for x >= 200 (asymptotic series, error < 1e-25)."""
    inverse = 1.0 / x
    square = inverse * inverse
    return -0.5 * inverse - square * (1 / 12 - square * (1 / 120 - square * (
        1 / 252 - square * (1 / 240 - square / 132))))


def _centered_log_cf(m: int, theta: int, u: np.ndarray, mean: float) -> np.ndarray:
    """Return log E[exp(iuT_m)] − iu·E[T_m] at the nodes ``u``.

    ``E[e^{iuT_m}] = Γ(m+1−r)Γ(m+n+r)/(Γ(m+1)Γ(m+n))`` and
    ``E[T_m] = (2/(n−1))(ψ(m+n) − ψ(m+1))``. For m >= 200 the log-gamma
    differences come from Stirling's series, rearranged so that no term of
    size ``m·log m`` or ``|r|`` has to cancel: with ``x₁ = m+1``, ``x₂ = m+n``,
    ``a = n−1`` and ``φ(z) = log(1+z) − z``, the result is
    ``(r − 2iu/a)·log(x₂/x₁) − (2iu/a)[(ψ−log)(x₂) − (ψ−log)(x₁)]
    + x₁φ(−r/x₁) + x₂φ(r/x₂) − (½+r)log(1−r/x₁) + (r−½)log(1+r/x₂)``
    plus the differences of Stirling's tails, where
    ``r − 2iu/a = 16u²/(a(w+a)²)``. ``mean`` (used for m < 200) is E[T_m].
    """
    from scipy import special

    a = theta - 1.0
    root = np.sqrt(a * a + 8j * u)
    r = 4j * u / (root + a)
    x1, x2 = m + 1.0, m + float(theta)
    if m < 200:
        value = (special.loggamma(x1 - r) - special.loggamma(x1)
                 + special.loggamma(x2 + r) - special.loggamma(x2))
        return value - 1j * u * mean
    return (
        16.0 * u * u / (a * (root + a) ** 2) * math.log1p(a / x1)
        - 2j * u / a * (_digamma_minus_log(x2) - _digamma_minus_log(x1))
        + x1 * _log1p_minus(-r / x1) + x2 * _log1p_minus(r / x2)
        - (0.5 + r) * _complex_log1p(-r / x1) + (r - 0.5) * _complex_log1p(r / x2)
        + _stirling_tail(x1 - r) - _stirling_tail(np.full_like(r, x1))
        + _stirling_tail(x2 + r) - _stirling_tail(np.full_like(r, x2))
    )


@jit
def _gil_pelaez(first, a, tau, mean_last, h, real, imag, cdf):
    """Fill cdf[i] = P(T_{first+i} <= τ) from the top level down.

    ``real + i·imag`` holds ``log ψ_m(u_j) − iu_j E[T_m]`` at the nodes
    ``u_j = (j+½)h`` for the top level; each level below adds
    ``−log(1 − iu/λ_m) − iu/λ_m`` and ``E[T_{m−1}] = E[T_m] + 1/λ_m``, all
    summed with Neumaier compensation. Then, exactly for a variable within
    ``τ ± 2π/h``, ``P(T ≤ τ) = ½ − (1/π) Σ_j Im[e^{−iu_jτ}ψ(u_j)]/(j+½)``.
    """
    size = cdf.shape[0]
    nodes = real.shape[0]
    real_carry = np.zeros(nodes)
    imag_carry = np.zeros(nodes)
    mean = mean_last
    mean_carry = 0.0
    for i in range(size - 1, -1, -1):
        if i < size - 1:
            level = first + i + 1.0
            rate = 0.5 * level * (level + a)
            mean, mean_carry = _neumaier_step(mean, mean_carry, 1.0 / rate)
            for j in range(nodes):
                x = (j + 0.5) * h / rate
                real[j], real_carry[j] = _neumaier_step(real[j], real_carry[j],
                                                        -0.5 * math.log1p(x * x))
                imag[j], imag_carry[j] = _neumaier_step(imag[j], imag_carry[j],
                                                        math.atan(x) - x)
        offset = mean + mean_carry - tau
        total = 0.0
        for j in range(nodes):
            u = (j + 0.5) * h
            angle = imag[j] + imag_carry[j] + u * offset
            total += math.exp(real[j] + real_carry[j]) * math.sin(angle) / (j + 0.5)
        cdf[i] = 0.5 - total / math.pi


@jit(inline="always")
def _neumaier_step(total, carry, increment):
    """Return the compensated sum (total + increment, carry) (Neumaier)."""
    updated = total + increment
    if abs(total) >= abs(increment):
        carry += (total - updated) + increment
    else:
        carry += (increment - updated) + total
    return updated, carry


@functools.lru_cache(maxsize=16)
def _lineage_table(theta: int, tau: float) -> tuple[int, np.ndarray]:
    first, last = _table_range(theta, tau)
    size = last - first + 1
    if size > MAX_TABLE:
        raise ValueError(
            f"the exact method at n·D·dt/R² = {theta * tau / 2:.3g} (n = {theta}) needs a "
            f"table of {size} lineage counts (> {MAX_TABLE}); use a larger dt or "
            "method='geodesic'"
        )
    a = theta - 1.0
    # E[T_last] = (2/(n−1)) Σ_{j=1}^{n−1} 1/(last + j); lower levels add 1/λ_m
    mean_last = (2.0 / a) * math.fsum(1.0 / (last + j) for j in range(1, theta))
    # period 2π/h beyond the support of every T_m in the table
    right = _support_end(first, theta, upper=True)
    left = _support_end(last, theta, upper=False)
    period = 1.05 * max(right - tau, tau - left, 1e-300)
    h = 2.0 * math.pi / period
    count = 16
    while _centered_log_cf(last, theta, np.array([(count - 0.5) * h]),
                          mean_last)[0].real > -_PSI_LOG:
        count *= 2
        if count > MAX_TABLE:
            raise ValueError(
                f"the exact method at n·D·dt/R² = {theta * tau / 2:.3g} (n = {theta}) needs more "
                f"than {MAX_TABLE} quadrature nodes; use a larger dt or method='geodesic'"
            )
    u = (np.arange(count) + 0.5) * h
    centered = _centered_log_cf(last, theta, u, mean_last)
    cdf = np.empty(size)
    _gil_pelaez(first, a, tau, mean_last, h, centered.real.copy(), centered.imag.copy(), cdf)
    return first, _tidy_cdf(cdf)


def _tidy_cdf(cdf: np.ndarray) -> np.ndarray:
    """Remove rounding noise (~1e-13) from a computed CDF; refuse anything larger."""
    noise = max(float(np.max(np.maximum.accumulate(cdf) - cdf)), float(np.max(-cdf)),
                float(np.max(cdf - 1.0)), 0.0)
    if noise > 1e-9 or not np.all(np.isfinite(cdf)):
        raise RuntimeError(f"the lineage table lost accuracy (error {noise:.3g}); please report")
    tidy = np.clip(np.maximum.accumulate(cdf), 0.0, 1.0)
    tidy[-1] = 1.0
    return tidy


def lineage_distribution(dim: int, tau: float) -> tuple[int, np.ndarray]:
    """Return the law of the ancestral process ``A_∞^n(τ)`` as a CDF table.

    ``A_∞^θ`` is the pure-death process from infinity with death rates
    ``k(k+θ−1)/2`` (the number of lineages of Kingman's coalescent with
    mutation rate θ); ``θ = n`` for ``S^n``, and τ is the standard time
    ``2 D t / R²`` (see the module docstring for the method).

    Parameters
    ----------
    dim : int
        Sphere dimension n (>= 2).
    tau : float
        Standard time τ (> 0).

    Returns
    -------
    first : int
        The smallest count kept; ``P(A < first) < 1e-20``.
    cdf : numpy.ndarray
        ``cdf[i] = P(A ≤ first + i)``, non-decreasing, ending at exactly 1
        (``P(A > first + len(cdf) − 1) < 1e-20``). Read-only (cached).

    Raises
    ------
    ValueError
        If ``dim < 2`` or ``tau <= 0``, or the table would exceed
        :data:`MAX_TABLE` entries.
    """
    dim = validate.integer("dim", dim, minimum=2)
    tau = validate.real("tau", tau, minimum=0.0, strict_min=True)
    first, cdf = _lineage_table(dim, tau)
    cdf.setflags(write=False)
    return first, cdf


# ----------------------------------------------------------------------------
# Jitted draws and steps.


@jit(inline="always")
def _gamma(s, shape):
    """Return a Gamma(shape) variate, ``shape >= 1`` (Marsaglia & Tsang 2000)."""
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = rng.normal(s)
        cx = c * x
        if cx <= -1.0:
            continue
        w = cx * (3.0 + cx * (3.0 + cx))  # (1 + cx)³ − 1 without cancellation
        u = rng.uniform(s)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * (1.0 + w)
        if math.log(u) < 0.5 * x2 + d * (math.log1p(w) - w):
            return d * (1.0 + w)


@jit(inline="always")
def _table_index(s, cdf):
    """Return the smallest i with u < cdf[i] for a fresh uniform u (inversion)."""
    u = rng.uniform(s)
    low = 0
    high = cdf.shape[0] - 1
    while low < high:
        middle = (low + high) >> 1
        if u < cdf[middle]:
            high = middle
        else:
            low = middle + 1
    return low


# A geodesic or exact step of walker x (|x| = R up to rounding) with n+1
# normals g: the tangent vector is v = g − k x̃ with x̃ = q x the normalised
# position (q = R/|x|) and k = x̃·g/R², and the step is
#     x ← cos φ · x̃ + (R sin φ/|v|) · v = a·x + b·g,
#     a = (cos φ − b k) q,  b = R sin φ / |v|.
# Normalisation is folded into a (it corrects the current |x| each step, so
# rounding does not accumulate), and one pass over x per step both applies
# a step and draws the next step's normals. Every sum is taken in the same
# order whether or not a call ends between two steps, so results do not
# depend on how steps are split into calls; the stored position is the raw
# x, within a few ulp of the sphere.


@jit(inline="always")
def _first_draw(s, x, g):
    """Draw g; return (x·g, g·g, x·x) for the stored x."""
    x_dot_g = 0.0
    g_sq = 0.0
    x_sq = 0.0
    for j in range(x.shape[0]):
        xj = x[j]
        gj = rng.normal(s)
        g[j] = gj
        x_dot_g += xj * gj
        g_sq += gj * gj
        x_sq += xj * xj
    return x_dot_g, g_sq, x_sq


@jit(inline="always")
def _step_and_draw(s, x, g, a, b):
    """Set x ← a·x + b·g and draw the next g in the same pass; return the sums."""
    x_dot_g = 0.0
    g_sq = 0.0
    x_sq = 0.0
    for j in range(x.shape[0]):
        xj = a * x[j] + b * g[j]
        x[j] = xj
        gj = rng.normal(s)
        g[j] = gj
        x_dot_g += xj * gj
        g_sq += gj * gj
        x_sq += xj * xj
    return x_dot_g, g_sq, x_sq


@jit(inline="always")
def _last_step(x, g, a, b):
    """Set x ← a·x + b·g; return |x|²."""
    x_sq = 0.0
    for j in range(x.shape[0]):
        xj = a * x[j] + b * g[j]
        x[j] = xj
        x_sq += xj * xj
    return x_sq


@jit(inline="always")
def _tangent(x, g, x_dot_g, g_sq, x_sq, radius):
    """Return (q, k, |v|²) for the stored x and normals g (see the comment above)."""
    q = radius / math.sqrt(x_sq)
    k = q * x_dot_g / (radius * radius)
    v_sq = g_sq - q * x_dot_g * k
    if v_sq < 0.5 * g_sq:  # g nearly radial: recompute |g − k q x|² without cancellation
        v_sq = 0.0
        kq = k * q
        for j in range(x.shape[0]):
            d = g[j] - kq * x[j]
            v_sq += d * d
    return q, k, v_sq


@jit(inline="always")
def _geodesic_coefficients(x, g, x_dot_g, g_sq, x_sq, radius, root_tau):
    """Return (a, b) of a geodesic step: angle sqrt(τ)|v| along v."""
    q, k, v_sq = _tangent(x, g, x_dot_g, g_sq, x_sq, radius)
    v_norm = math.sqrt(v_sq)
    angle = root_tau * v_norm
    b = radius * math.sin(angle) / v_norm if v_norm > 0.0 else 0.0
    return (math.cos(angle) - b * k) * q, b


@jit(inline="always")
def _exact_coefficients(x, g, x_dot_g, g_sq, x_sq, radius, cos_phi, sin_phi):
    """Return (a, b) of a step by the angle φ along v."""
    q, k, v_sq = _tangent(x, g, x_dot_g, g_sq, x_sq, radius)
    b = radius * sin_phi / math.sqrt(v_sq) if v_sq > 0.0 else 0.0
    return (cos_phi - b * k) * q, b


@jit(inline="always")
def _exact_angle(s, half_dim, first, cdf):
    """Draw (cos φ, sin φ) of Brownian motion on S^n over one step (n >= 2).

    A = first + (inversion of the lineage table), then with G₁ ~ Gamma(n/2),
    G₂ ~ Gamma(n/2 + A): (1 − cos φ)/2 = G₁/(G₁+G₂) ~ Beta(n/2, n/2 + A).
    """
    lineages = first + _table_index(s, cdf)
    g1 = _gamma(s, half_dim)
    g2 = _gamma(s, half_dim + lineages)
    total = g1 + g2
    return (g2 - g1) / total, 2.0 * math.sqrt(g1 * g2) / total


@jit(inline="always")
def _rescale(norm_sq, r_sq, radius):
    """Return c with x − x·c on the sphere: c = (|x|² − R²)/(|x|(|x| + R))."""
    norm = math.sqrt(norm_sq)
    return (norm_sq - r_sq) / (norm * (norm + radius))


@jit(inline="always")
def _apply_rescale(x, rescale):
    for j in range(x.shape[0]):
        x[j] = x[j] - x[j] * rescale


@jit(inline="always")
def _worst(bad):
    worst = -1
    for w in range(bad.shape[0]):
        if bad[w] >= 0 and (worst < 0 or bad[w] < worst):
            worst = bad[w]
    return worst


@pjit
def _advance_geodesic(positions, states, steps, root_tau, radius):
    """Geodesic random walk: Gaussian tangent step of s.d. sqrt(τ)·R, exponential map.

    Returns the first (relative) step at which a walker became non-finite, or -1.
    """
    walkers, size = positions.shape
    bad = np.full(walkers, -1, dtype=np.int64)
    active = walkers if steps > 0 else 0  # no draws at all for zero steps
    for w in prange(active):
        s = states[w]
        x = positions[w]
        g = np.empty(size)
        x_dot_g, g_sq, x_sq = _first_draw(s, x, g)
        for step in range(steps):
            if not math.isfinite(x_sq + x_dot_g):
                bad[w] = step
                break
            a, b = _geodesic_coefficients(x, g, x_dot_g, g_sq, x_sq, radius, root_tau)
            if step + 1 < steps:
                x_dot_g, g_sq, x_sq = _step_and_draw(s, x, g, a, b)
            elif not math.isfinite(_last_step(x, g, a, b)):
                bad[w] = step
    return _worst(bad)


@pjit
def _advance_exact(positions, states, steps, radius, half_dim, first, cdf):
    """Exact Brownian transition of S^n, n >= 2 (Beta mixture over the lineage count).

    Each step draws its angle (uniform, two gammas) and then its n+1 normals.
    """
    walkers, size = positions.shape
    bad = np.full(walkers, -1, dtype=np.int64)
    active = walkers if steps > 0 else 0  # no draws at all for zero steps
    for w in prange(active):
        s = states[w]
        x = positions[w]
        g = np.empty(size)
        cos_phi, sin_phi = _exact_angle(s, half_dim, first, cdf)
        x_dot_g, g_sq, x_sq = _first_draw(s, x, g)
        for step in range(steps):
            if not math.isfinite(x_sq + x_dot_g):
                bad[w] = step
                break
            a, b = _exact_coefficients(x, g, x_dot_g, g_sq, x_sq, radius, cos_phi, sin_phi)
            if step + 1 < steps:
                cos_phi, sin_phi = _exact_angle(s, half_dim, first, cdf)
                x_dot_g, g_sq, x_sq = _step_and_draw(s, x, g, a, b)
            elif not math.isfinite(_last_step(x, g, a, b)):
                bad[w] = step
    return _worst(bad)


@pjit
def _advance_circle(positions, states, steps, root_tau, radius):
    """Exact Brownian motion on the circle: wrapped-normal angle increments."""
    walkers = positions.shape[0]
    r_sq = radius * radius
    bad = np.full(walkers, -1, dtype=np.int64)
    for w in prange(walkers):
        s = states[w]
        x0 = positions[w, 0]
        x1 = positions[w, 1]
        for step in range(steps):
            angle = root_tau * rng.normal(s)
            c = math.cos(angle)
            sn = math.sin(angle)
            y0 = c * x0 - sn * x1
            y1 = sn * x0 + c * x1
            norm_sq = y0 * y0 + y1 * y1
            if not math.isfinite(norm_sq):
                bad[w] = step
                break
            fix = _rescale(norm_sq, r_sq, radius)
            x0 = y0 - y0 * fix
            x1 = y1 - y1 * fix
        positions[w, 0] = x0
        positions[w, 1] = x1
    return _worst(bad)


@pjit
def _advance_ring(positions, states, steps, chord):
    """Run the seed's ring walk: every step a fixed chord to a uniform point of the ring."""
    walkers, size = positions.shape
    bad = np.full(walkers, -1, dtype=np.int64)
    for w in prange(walkers):
        s = states[w]
        x = positions[w]
        scratch = np.empty(size)
        for step in range(steps):
            move_on_sphere(s, x, chord, scratch)
            if not math.isfinite(x[0]):
                bad[w] = step
                break
    return _worst(bad)


@pjit
def _uniform_points(positions, states, radius):
    """Put each walker at a uniform point of the sphere, drawn from its own stream."""
    walkers, size = positions.shape
    r_sq = radius * radius
    for w in prange(walkers):
        s = states[w]
        x = positions[w]
        total = 0.0
        while total == 0.0:
            total = 0.0
            for j in range(size):
                gj = rng.normal(s)
                x[j] = gj
                total += gj * gj
        scale = radius / math.sqrt(total)
        norm_sq = 0.0
        for j in range(size):
            x[j] *= scale
            norm_sq += x[j] * x[j]
        _apply_rescale(x, _rescale(norm_sq, r_sq, radius))


@pjit
def _chord_sq(positions, start, radius):
    """Return |x_w − start_w|² per walker (``start`` empty: the pole R·e_0)."""
    walkers, size = positions.shape
    out = np.empty(walkers)
    from_pole = start.shape[0] == 0
    for w in prange(walkers):
        total = 0.0
        if from_pole:
            d = positions[w, 0] - radius
            total = d * d
            for j in range(1, size):
                total += positions[w, j] * positions[w, j]
        else:
            for j in range(size):
                d = positions[w, j] - start[w, j]
                total += d * d
        out[w] = total
    return out


# ----------------------------------------------------------------------------
# The model.


class SphereBrownian(Model):
    """Brownian motion (or the seed's ring walk) on ``S^n`` of radius R.

    Parameters
    ----------
    dim : int
        Sphere dimension n (>= 1); positions live in ``R^(n+1)``.
    radius : float
        Radius R (> 0).
    diffusion : float
        Diffusion constant D (>= 0), generator ``D·Δ``.
    dt : float
        Time per step (> 0).
    method : {"geodesic", "exact", "ring"}, optional
        Step method (see the module docstring).
    chord : float, optional
        ``ring`` only: the chord δ of every step, in ``(0, 2R]``. Default:
        :func:`default_chord`, the δ whose step factor is ``exp(−n D dt/R²)``.
    start : {"pole", "uniform"}, optional
        All walkers at ``R·e_0``, or each at its own uniform random point.

    Raises
    ------
    ValueError
        For ``dim < 1``, ``radius <= 0``, ``diffusion < 0``, ``dt <= 0``, a
        chord outside ``(0, 2R]`` or with a method other than ring, an
        unknown method or start.
    TypeError
        For non-numeric parameters.
    """

    kind = "sphere"
    frame_name = "position"

    def __init__(
        self,
        dim: int,
        radius: float = 1.0,
        diffusion: float = 1.0,
        dt: float = 0.01,
        method: str = "geodesic",
        chord: float | None = None,
        start: str = "pole",
    ):
        self.dim = validate.integer("dim", dim, minimum=1)
        self.radius = validate.real("radius", radius, minimum=0.0, strict_min=True)
        self.diffusion = validate.real("diffusion", diffusion, minimum=0.0)
        self._dt = validate.real("dt", dt, minimum=0.0, strict_min=True)
        self.method = validate.choice("method", method, METHODS)
        self.start = validate.choice("start", start, STARTS)
        if chord is not None:
            if self.method != "ring":
                raise ValueError(
                    f"chord applies only to method='ring', got chord={chord!r} with "
                    f"method={self.method!r}; drop the chord or use method='ring'"
                )
            chord = validate.real("chord", chord, minimum=0.0, strict_min=True,
                                  maximum=2.0 * self.radius)
        self.chord = chord
        #: the chord every ring step moves (None for the other methods)
        self.step_chord = None
        if self.method == "ring":
            self.step_chord = chord if chord is not None else default_chord(
                self.dim, self.radius, self.diffusion, self._dt)
        #: standard time per step, τ = 2 D dt / R²
        self.tau = 2.0 * self.diffusion * self._dt / self.radius**2
        if not math.isfinite(self.tau):
            raise ValueError(f"2·D·dt/R² overflows (D={diffusion!r}, dt={dt!r}, R={radius!r})")

    # ------------------------------------------------------------------ description
    @property
    def dt(self) -> float:
        """Time per step."""
        return self._dt

    @property
    def rate(self) -> float:
        """Return the Brownian decay rate ``n D / R²`` of ⟨cos θ⟩."""
        return self.dim * self.diffusion / self.radius**2

    def step_factor(self) -> float:
        """Return this walk's exact ``E[cos φ]`` per step (``⟨cos θ⟩ = factor^k``).

        Returns
        -------
        float
            ring: ``1 − δ²/(2R²)``; geodesic: ``E[cos(sqrt(τ)·χ_n)]``; exact:
            ``exp(−n D dt/R²)``.
        """
        from fastwalk.analysis.decay import step_cos_factor

        return step_cos_factor(self.method, self.dim, self.radius, self.diffusion, self.dt,
                               self.step_chord)

    def parameters(self) -> dict[str, Any]:
        """Return the resolved parameters (``step_chord``: the ring chord used)."""
        return {
            "kind": self.kind,
            "dim": self.dim,
            "radius": self.radius,
            "diffusion": self.diffusion,
            "dt": self.dt,
            "method": self.method,
            "chord": self.chord,
            "step_chord": self.step_chord,
            "start": self.start,
        }

    @classmethod
    def examples(cls) -> list[SphereBrownian]:
        """Return one instance per step method (see :meth:`Model.examples`)."""
        return [cls(2, method=method) for method in METHODS]

    @classmethod
    def from_parameters(cls, parameters: dict, arrays: dict) -> SphereBrownian:
        """Rebuild from :meth:`parameters`."""
        return cls(
            parameters["dim"],
            parameters["radius"],
            parameters["diffusion"],
            parameters["dt"],
            method=parameters.get("method", "geodesic"),
            chord=parameters.get("chord"),
            start=parameters.get("start", "pole"),
        )

    def box(self) -> dict:
        """Describe the unbounded H5MD box of the ambient space ``R^(n+1)``."""
        return {"dimension": self.dim + 1, "boundary": "none", "edges": None}

    # ------------------------------------------------------------------ dynamics
    def _table(self) -> tuple[int, np.ndarray]:
        return lineage_distribution(self.dim, self.tau)

    def initial_state(self, rng_states: np.ndarray) -> dict:
        """Place the walkers (pole, or uniform points drawn from their streams)."""
        walkers = rng_states.shape[0]
        if self.method == "exact" and self.dim >= 2 and self.tau > 0.0:
            self._table()  # build (and check the size of) the lineage table before any step
        positions = np.zeros((walkers, self.dim + 1))
        state = {"rng": rng_states, "position": positions}
        if self.start == "pole":
            positions[:, 0] = self.radius
        else:
            _uniform_points(positions, rng_states, self.radius)
            state["start"] = positions.copy()
        return state

    def advance(self, state: dict, first_step: int, steps: int, accumulate: bool) -> None:
        """Advance all walkers by ``steps`` steps of the chosen method."""
        if steps <= 0 or self.tau == 0.0 and self.method != "ring":
            return
        positions, states = state["position"], state["rng"]
        if self.method == "geodesic":
            bad = _advance_geodesic(positions, states, steps, math.sqrt(self.tau), self.radius)
        elif self.method == "exact" and self.dim == 1:
            bad = _advance_circle(positions, states, steps, math.sqrt(self.tau), self.radius)
        elif self.method == "exact":
            first, cdf = self._table()
            bad = _advance_exact(positions, states, steps, self.radius, 0.5 * self.dim,
                                 first, cdf)
        else:
            bad = _advance_ring(positions, states, steps, self.step_chord)
        if bad >= 0:
            raise SimulationError(
                f"a walker's position became non-finite at step {first_step + bad + 1}"
            )

    def frame(self, state: dict) -> np.ndarray:
        """Return positions ``[N][n+1]``."""
        return state["position"]

    def _start(self, state: dict) -> np.ndarray:
        return state["start"] if self.start == "uniform" else np.empty((0, self.dim + 1))

    def observe(self, state: dict) -> dict:
        """Return sums over walkers of cos θ, cos²θ, z, z² and z⁴ (z = |x − x₀|)."""
        chord_sq = _chord_sq(state["position"], self._start(state), self.radius)
        cos_theta = 1.0 - chord_sq / (2.0 * self.radius**2)
        return {
            "cos_sum": np.array(cos_theta.sum()),
            "cos_sq_sum": np.array((cos_theta**2).sum()),
            "chord_sum": np.array(np.sqrt(chord_sq).sum()),
            "chord_sq_sum": np.array(chord_sq.sum()),
            "chord_4th_sum": np.array((chord_sq**2).sum()),
        }

    def summarize(self, sums: dict, walkers: int) -> dict:
        """Return ``mean_cos_theta``, ``sem_cos_theta``, ``mean_chord``, ``rms_chord``, SEMs.

        ``sem_cos_theta`` comes from the moments of z² (``1 − cos θ = z²/(2R²)``),
        which keep their precision when cos θ is close to 1.
        """
        n = walkers
        denominator = max(n - 1, 1)
        mean_cos = sums["cos_sum"] / n
        mean_z2 = sums["chord_sq_sum"] / n
        var_z2 = np.maximum(sums["chord_4th_sum"] / n - mean_z2**2, 0.0)
        mean_z = sums["chord_sum"] / n
        var_z = np.maximum(mean_z2 - mean_z**2, 0.0)
        rms = np.sqrt(mean_z2)
        sem_z2 = np.sqrt(var_z2 / denominator)
        sem_rms = np.where(rms > 0.0, sem_z2 / (2.0 * np.where(rms > 0.0, rms, 1.0)), 0.0)
        return {
            "mean_cos_theta": mean_cos,
            "sem_cos_theta": sem_z2 / (2.0 * self.radius**2),
            "mean_chord": mean_z,
            "sem_chord": np.sqrt(var_z / denominator),
            "rms_chord": rms,
            "sem_rms_chord": sem_rms,
        }
