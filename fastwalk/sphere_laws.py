"""Laws of Brownian motion on the hypersphere S^n (pure NumPy/SciPy, no numba).

Lower-level than both the models and the analysis layer: the sphere model
(:mod:`fastwalk.models.sphere`) and the decay fit
(:mod:`fastwalk.analysis.decay`, which re-exports these) use them. Brownian
motion on ``S^n`` of radius R with generator ``D·Δ`` has
``⟨cos θ(t)⟩ = exp(−n D t / R²)`` and chordal displacement
``z = |x_t − x_0|`` with ``⟨z²⟩ = 2R²(1 − ⟨cos θ⟩)`` (DESIGN.md, "Sphere").
"""

from __future__ import annotations

import math

import numpy as np

from fastwalk import validate

__all__ = [
    "mean_cos_theta_law",
    "rms_chord_law",
    "stationary_mean_chord",
    "stationary_rms_chord",
    "step_cos_factor",
    "validated_sphere",
    "walk_rate",
]


def validated_sphere(dim, radius):
    """Return ``(dim, radius)`` validated: an integer n >= 1 and a real R > 0."""
    return (validate.integer("dim", dim, minimum=1),
            validate.real("radius", radius, minimum=0.0, strict_min=True))


def mean_cos_theta_law(t, dim: int, radius: float, diffusion: float) -> np.ndarray:
    """Return ``⟨cos θ(t)⟩ = exp(−n D t / R²)`` for Brownian motion on S^n.

    Parameters
    ----------
    t : array_like
        Times (>= 0).
    dim : int
        Sphere dimension n (>= 1).
    radius : float
        Radius R (> 0).
    diffusion : float
        Diffusion constant D (>= 0).

    Returns
    -------
    numpy.ndarray
        The law at each time.
    """
    dim, radius = validated_sphere(dim, radius)
    diffusion = validate.real("diffusion", diffusion, minimum=0.0)
    return np.exp(-dim * diffusion * np.asarray(t, dtype=float) / radius**2)


def rms_chord_law(t, dim: int, radius: float, diffusion: float) -> np.ndarray:
    """Return the RMS chordal displacement ``R·sqrt(2(1 − exp(−n D t/R²)))``.

    Parameters
    ----------
    t, dim, radius, diffusion
        As for :func:`mean_cos_theta_law`.

    Returns
    -------
    numpy.ndarray
        ``sqrt(⟨|x_t − x_0|²⟩)`` at each time; ``≈ sqrt(2 n D t)`` for small t,
        ``→ √2·R`` as t grows.
    """
    dim, radius = validated_sphere(dim, radius)
    diffusion = validate.real("diffusion", diffusion, minimum=0.0)
    rate_t = dim * diffusion * np.asarray(t, dtype=float) / radius**2
    return radius * np.sqrt(-2.0 * np.expm1(-rate_t))


def stationary_mean_chord(dim: int, radius: float = 1.0) -> float:
    """Return ``E|x − y|`` for independent uniform points x, y of S^n.

    With ``(1 − cos θ)/2 ~ Beta(n/2, n/2)`` for uniform points and
    ``|x − y| = 2R·sqrt((1 − cos θ)/2)``,

        E|x − y| = 2R · Γ((n+1)/2) Γ(n) / (Γ(n/2) Γ(n + 1/2)),

    e.g. ``4R/π`` on the circle and ``4R/3`` on S²; it increases to √2·R as
    n grows (``√2·R·(1 − 1/(8n) + O(n⁻²))``).

    Parameters
    ----------
    dim : int
        Sphere dimension n (>= 1).
    radius : float, optional
        Radius R (> 0).

    Returns
    -------
    float
        The stationary mean chord.
    """
    from scipy.special import gammaln

    dim, radius = validated_sphere(dim, radius)
    log_ratio = (gammaln((dim + 1) / 2) + gammaln(dim) - gammaln(dim / 2)
                 - gammaln(dim + 0.5))
    return float(2.0 * radius * math.exp(log_ratio))


def stationary_rms_chord(radius: float = 1.0) -> float:
    """Return the stationary RMS chord ``√2·R`` (the same for every n).

    Parameters
    ----------
    radius : float, optional
        Radius R (> 0).

    Returns
    -------
    float
        ``sqrt(E|x − y|²) = √2·R`` for independent uniform points.
    """
    radius = validate.real("radius", radius, minimum=0.0, strict_min=True)
    return math.sqrt(2.0) * radius


def step_cos_factor(method: str, dim: int, radius: float, diffusion: float, dt: float,
                    chord: float | None = None) -> float:
    """Return ``E[cos φ]`` of one step of a sphere walk (``⟨cos θ⟩ = factor^k``).

    Every method moves isotropically about the current point, so
    ``E[x' | x] = E[cos φ]·x`` and ⟨cos θ⟩ after k steps is exactly the
    k-th power of this factor.

    Parameters
    ----------
    method : {"ring", "geodesic", "exact"}
        The step method of :class:`fastwalk.models.sphere.SphereBrownian`.
    dim, radius, diffusion
        As for :func:`mean_cos_theta_law`.
    dt : float
        Time per step (> 0).
    chord : float, optional
        ring only: the chord δ (default: the one with the Brownian factor).

    Returns
    -------
    float
        ring: ``1 − δ²/(2R²)``; geodesic: ``E[cos(sqrt(τ)·χ_n)]`` with
        ``τ = 2 D dt/R²`` and χ_n a chi variable with n degrees of freedom;
        exact: ``exp(−n D dt/R²)``.
    """
    method = validate.choice("method", method, ("ring", "geodesic", "exact"))
    dim, radius = validated_sphere(dim, radius)
    diffusion = validate.real("diffusion", diffusion, minimum=0.0)
    dt = validate.real("dt", dt, minimum=0.0, strict_min=True)
    rate_dt = dim * diffusion * dt / radius**2
    if method == "exact":
        return math.exp(-rate_dt)
    if method == "ring":
        if chord is None:
            return math.exp(-rate_dt)
        chord = validate.real("chord", chord, minimum=0.0, maximum=2.0 * radius)
        return 1.0 - 0.5 * (chord / radius) ** 2
    return _geodesic_factor(dim, 2.0 * diffusion * dt / radius**2)


#: beyond this τ = 2 D dt/R² a geodesic step forgets its start (|factor| <= ~1e-6)
_TAU_DECORRELATED = 1e6


def _geodesic_factor(dim: int, tau: float) -> float:
    """Return E[cos(sqrt(τ)·χ_n)] by quadrature over the chi density."""
    from scipy import integrate, stats

    if tau == 0.0:
        return 1.0
    if dim == 1:
        return math.exp(-0.5 * tau)
    if tau > _TAU_DECORRELATED:
        # the chi density vanishes at 0 like x^(n-1), so its characteristic function at √τ is
        # O(τ^(-n/2)) <= ~1e-6: one step decorrelates (and the quadrature would need ~√τ cycles)
        return 0.0
    chi = stats.chi(dim)
    center, spread = chi.mean(), chi.std()
    low, high = max(0.0, center - 40.0 * spread), center + 40.0 * spread
    root = math.sqrt(tau)
    cycles = root * (high - low) / (2.0 * math.pi)
    value, _ = integrate.quad(lambda x: math.cos(root * x) * math.exp(chi.logpdf(x)), low, high,
                              limit=max(200, int(20 * cycles)), epsabs=1e-15, epsrel=1e-13)
    return float(value)


def walk_rate(method: str, dim: int, radius: float, diffusion: float, dt: float,
              chord: float | None = None) -> float | None:
    """Return the decay rate of ⟨cos θ⟩ that a sphere walk really has.

    Parameters
    ----------
    method, dim, radius, diffusion, dt, chord
        As for :func:`step_cos_factor`.

    Returns
    -------
    float or None
        ``−log(factor)/dt``: ``n D/R²`` for exact (and the default ring),
        within O(dt) of it for geodesic; None when the factor is not positive
        (a ring chord above √2·R makes ⟨cos θ⟩ alternate in sign).
    """
    factor = step_cos_factor(method, dim, radius, diffusion, dt, chord)
    return -math.log(factor) / dt if factor > 0.0 else None
