"""The law of the ancestral process ``A_∞^θ(τ)``, exact at every τ.

The exact step of :class:`fastwalk.models.sphere.SphereBrownian` draws the
number A of lineages at standard time τ, the pure-death process from infinity
with death rates ``λ_k = k(k+θ−1)/2`` (θ = n on ``S^n``), then an angle given
A (Mijatović, Mramor & Uribe Bravo 2020). :func:`lineage_distribution` tables
``P(A ≤ m)`` from the hitting times ``T_m = Σ_{k>m} E_k/λ_k``, whose
characteristic function is a ratio of gamma functions, by a Gil-Pelaez
inversion that is exact for a variable of bounded support, so the only
errors are rounding (about 1e-13 absolute up to ~10^7 lineages). The
derivation, the error budget and the checks are in DESIGN.md, "Derivations:
the exact sphere step". :func:`draw_index` inverts the table inside a kernel.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from fastwalk import rng, validate
from fastwalk._jit import jit

__all__ = ["MAX_TABLE", "draw_index", "lineage_distribution"]

#: log of the probability left out of the lineage table on either side (~1e-20)
_TAIL_LOG = 46.0
#: the Gil-Pelaez sum stops where |characteristic function| < exp(-_PSI_LOG) (~1e-18)
_PSI_LOG = 41.5
#: refuse exact-method tables longer than this (n·D·dt/R² far too small)
MAX_TABLE = 5_000_000


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
    ``2 D t / R²`` (see DESIGN.md, "Derivations: the sphere steps").

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




@jit(inline="always")
def draw_index(s, cdf):
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
