"""The ⟨cos θ⟩ decay law on S^n: laws for plots and checks, and its fit.

Brownian motion on ``S^n`` of radius R with generator ``D·Δ`` has

    ⟨cos θ(t)⟩ = exp(−rate·t),    rate = n D / R²,

and chordal displacement ``z = |x_t − x_0|`` with ``⟨z²⟩ = 2R²(1 − ⟨cos θ⟩)``,
so the RMS displacement is ``R·sqrt(2(1 − exp(−rate·t)))``: it grows like
``sqrt(2 n D t)`` at first and saturates at ``√2·R``. The *mean* chord
saturates at the finite-n value :func:`stationary_mean_chord`, below √2·R.

Fitting (:func:`fit_decay`)
---------------------------
``mean ≈ exp(−rate·t)`` is fitted by weighted nonlinear least squares on the
linear scale with weights ``1/sem²``: no logarithm is taken, so records
where ⟨cos θ⟩ is lost in the noise (even negative) simply carry their large
relative uncertainty and pull nothing. Only points with finite t and mean
and ``0 < sem < ∞`` are used (the t = 0 record has sem 0: it is exact).

Records of one run share their walkers, so they are strongly correlated and
the textbook standard error ``1/sqrt(Σ J²/sem²)`` is too small. For any
isotropic walk on the sphere ``E[cos θ_t | past at s] = e^{−rate(t−s)} cos θ_s``
(``e^{rate·t} cos θ_t`` is a martingale), hence, exactly,

    Cov(mean_i, mean_j) = exp(−rate·(t_j − t_i)) · sem_i²    (t_i ≤ t_j).

The reported ``rate_stderr`` is the sandwich (robust) standard error of the
weighted estimate under this covariance, computed in O(points); the naive
one is kept as ``rate_stderr_naive``. The goodness of fit uses the same
structure: the innovations ``ε_i = res_i − e^{−rate(t_i − t_j)} res_j``
(``res = mean − model``, j the previous point kept) are uncorrelated with
variance ``sem_i² − e^{−2 rate(t_i − t_j)} sem_j²``; ``chi2`` is
``Σ ε²/var`` over the points whose innovation variance is at least a tenth
of ``sem_i²`` (closer records add almost no new information, and their
variance, a small difference of estimated ones, would be noise), ``dof``
is that count minus one. Pass ``correlated=False`` for points that come
from independent runs: then ``Cov`` is diagonal and both reduce to the
textbook forms.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fastwalk.errors import MissingDataError
from fastwalk.sphere_laws import (
    mean_cos_theta_law,
    rms_chord_law,
    stationary_mean_chord,
    stationary_rms_chord,
    step_cos_factor,
    validated_sphere,
    walk_rate,
)

__all__ = [
    "DecayFit",
    "fit_decay",
    "fit_report",
    "mean_cos_theta_law",
    "rms_chord_law",
    "stationary_mean_chord",
    "stationary_rms_chord",
    "step_cos_factor",
    "walk_rate",
]

#: innovations smaller than this fraction of sem² are merged into the next point
_MIN_INNOVATION = 0.1


# ----------------------------------------------------------------------------
# The fit.


@dataclass(frozen=True)
class DecayFit:
    """Result of :func:`fit_decay`.

    Attributes
    ----------
    rate : float
        Fitted rate of ``exp(−rate·t)``.
    rate_stderr : float
        Its standard error (sandwich, for the correlation of one run's records).
    D : float or None
        ``rate·R²/n`` when ``dim`` and ``radius`` were given.
    D_stderr : float or None
        Its standard error.
    chi2 : float
        Goodness-of-fit statistic (decorrelated innovations, see the module).
    dof : int
        Its degrees of freedom.
    chi2_dof : float
        ``chi2 / dof`` (nan when dof is 0).
    p_value : float
        Probability of a chi2 at least this large if the law holds.
    points_used : int
        Usable points in the fit.
    rate_stderr_naive : float
        The textbook standard error that ignores the correlation.
    correlated : bool
        Whether the records were treated as one run's (correlated) records.
    """

    rate: float
    rate_stderr: float
    D: float | None
    D_stderr: float | None
    chi2: float
    dof: int
    chi2_dof: float
    p_value: float
    points_used: int
    rate_stderr_naive: float
    correlated: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-serialisable dict (nan becomes None)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out


#: standard errors below this fraction of |mean| are rounding noise, not statistics
_SEM_RELATIVE_FLOOR = 1e-9


def _usable_points(t, mean, sem):
    arrays = []
    for name, values in (("t", t), ("mean", mean), ("sem", sem)):
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a numeric 1-D array: {exc}") from None
        if array.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
        arrays.append(array)
    t, mean, sem = arrays
    if not t.shape == mean.shape == sem.shape:
        raise ValueError(
            f"t, mean and sem must have the same length, got {t.size}, {mean.size}, {sem.size}"
        )
    if np.any(t[np.isfinite(t)] < 0.0):
        raise ValueError("times must be >= 0 (measured from the walkers' start)")
    # A standard error that is zero to rounding marks a deterministic record (t = 0, or
    # the ring walk's first step where every walker has cos θ = cos φ); as a weight it
    # would decide the fit alone, so such records are not used.
    resolvable = sem > _SEM_RELATIVE_FLOOR * np.abs(mean)
    usable = np.isfinite(t) & np.isfinite(mean) & np.isfinite(sem) & (sem > 0.0) & resolvable
    count = int(usable.sum())
    if count < 3:
        raise MissingDataError(
            f"the decay fit needs at least three usable points (finite time and mean, "
            f"{_SEM_RELATIVE_FLOOR:g}·|mean| < sem < inf); got {count} of {t.size}"
        )
    order = np.argsort(t[usable], kind="stable")
    return t[usable][order], mean[usable][order], sem[usable][order]


def _chi2_diagonal(rate, t, mean, sem):
    return float(np.sum(((mean - np.exp(-rate * t)) / sem) ** 2))


def _best_rate(t, mean, sem):
    """Minimise the weighted chi² over the rate: a grid, then bounded Brent."""
    from scipy import optimize

    positive = t[t > 0.0]
    t_small = positive.min() if positive.size else 1.0
    t_large = t.max() if t.max() > 0.0 else 1.0
    magnitudes = np.geomspace(1e-6 / t_large, 1e3 / t_small, 400)
    negatives = -np.geomspace(10.0 / t_large, 1e-6 / t_large, 50)  # rising data: rate < 0
    grid = np.concatenate([negatives, [0.0], magnitudes])
    values = np.array([_chi2_diagonal(r, t, mean, sem) for r in grid])
    best = int(np.nanargmin(values))
    low = grid[max(best - 1, 0)]
    high = grid[min(best + 1, grid.size - 1)]
    if low == high:
        return float(grid[best])
    found = optimize.minimize_scalar(_chi2_diagonal, bounds=(low, high), method="bounded",
                                     args=(t, mean, sem),
                                     options={"xatol": 1e-12 * max(abs(grid[best]), 1e-300)})
    return float(found.x)


def _sandwich_variance(rate, t, sem, correlated):
    """Return (robust, naive) variances of the weighted least-squares rate."""
    slope = -t * np.exp(-rate * t)  # d model / d rate
    weights = 1.0 / sem**2
    information = float(np.sum(weights * slope**2))
    naive = 1.0 / information
    a = weights * slope
    quadratic = float(np.sum(a**2 * sem**2))
    if correlated:
        # Σ_{i<j} a_i a_j sem_i² e^{−rate(t_j − t_i)}: a backward recursion in O(points)
        later = 0.0
        cross = 0.0
        for i in range(t.size - 2, -1, -1):
            later = math.exp(-rate * (t[i + 1] - t[i])) * (a[i + 1] + later)
            cross += a[i] * sem[i] ** 2 * later
        quadratic += 2.0 * cross
    return max(quadratic, 0.0) * naive**2, naive


def _innovation_chi2(rate, t, mean, sem, correlated):
    """Return (chi2, points) of the decorrelated residuals (see the module docstring)."""
    residual = mean - np.exp(-rate * t)
    if not correlated:
        return float(np.sum((residual / sem) ** 2)), int(t.size)
    chi2 = 0.0
    kept = 0
    previous_t, previous_res, previous_var = 0.0, 0.0, 0.0  # the exact t = 0 record
    for i in range(t.size):
        decay = math.exp(-rate * (t[i] - previous_t))
        variance = sem[i] ** 2 - decay**2 * previous_var
        if variance < _MIN_INNOVATION * sem[i] ** 2:
            continue
        chi2 += (residual[i] - decay * previous_res) ** 2 / variance
        kept += 1
        previous_t, previous_res, previous_var = t[i], residual[i], sem[i] ** 2
    return float(chi2), kept


def fit_decay(t, mean, sem, dim: int | None = None, radius: float | None = None, *,
              correlated: bool = True) -> DecayFit:
    """Fit ``mean ≈ exp(−rate·t)`` with standard errors ``sem``.

    Weighted nonlinear least squares on the linear scale (no logarithm, no
    clipping), with a standard error that accounts for the correlation of
    the records of one run; see the module docstring.

    Parameters
    ----------
    t : array_like
        Record times (>= 0), e.g. steps × dt.
    mean : array_like
        ⟨cos θ⟩ at those times.
    sem : array_like
        Standard errors of ``mean``; points with ``sem <= 0`` or any
        non-finite value are left out.
    dim : int, optional
        Sphere dimension n, to convert the rate into D.
    radius : float, optional
        Radius R, to convert the rate into ``D = rate·R²/n``.
    correlated : bool, optional
        True (default) for the records of one run (same walkers at every
        time); False for points from independent runs.

    Returns
    -------
    DecayFit
        Rate and D with standard errors, chi2, dof, p-value.

    Raises
    ------
    fastwalk.errors.MissingDataError
        If fewer than three points are usable.
    ValueError
        For arrays of different lengths or negative times.
    """
    from scipy import stats

    times, means, sems = _usable_points(t, mean, sem)
    rate = _best_rate(times, means, sems)
    variance, naive = _sandwich_variance(rate, times, sems, bool(correlated))
    chi2, points = _innovation_chi2(rate, times, means, sems, bool(correlated))
    dof = points - 1
    rate_stderr = math.sqrt(variance)
    d_value = d_stderr = None
    if dim is not None and radius is not None:
        dim, radius = validated_sphere(dim, radius)
        d_value = rate * radius**2 / dim
        d_stderr = rate_stderr * radius**2 / dim
    return DecayFit(
        rate=rate,
        rate_stderr=rate_stderr,
        D=d_value,
        D_stderr=d_stderr,
        chi2=chi2,
        dof=dof,
        chi2_dof=chi2 / dof if dof > 0 else math.nan,
        p_value=float(stats.chi2.sf(chi2, dof)) if dof > 0 else math.nan,
        points_used=int(times.size),
        rate_stderr_naive=math.sqrt(naive),
        correlated=bool(correlated),
    )


def fit_report(times, mean, sem, parameters: dict) -> dict[str, Any]:
    """Fit a sphere run's ⟨cos θ⟩ records and compare with the simulated D.

    Parameters
    ----------
    times : array_like
        Record times.
    mean : array_like
        ``mean_cos_theta`` records.
    sem : array_like
        ``sem_cos_theta`` records.
    parameters : dict
        The run's model parameters (``dim``, ``radius``, ``diffusion``,
        ``dt``, ``method``, ``step_chord`` are used when present).

    Returns
    -------
    dict
        JSON-serialisable: ``D``, ``D_stderr``, ``rate``, ``rate_stderr``,
        ``chi2``, ``dof``, ``chi2_dof``, ``p_value``, ``points_used``,
        ``rate_stderr_naive``; with the run's parameters also
        ``D_simulated``, ``rate_brownian`` (n D/R²), ``rate_walk`` (the
        exact rate of the simulated walk, which for ``geodesic`` differs
        from the Brownian one by O(dt)) and ``deviation_sigma``
        (``(rate − rate_walk)/rate_stderr``).

    Raises
    ------
    fastwalk.errors.MissingDataError
        If fewer than three records are usable.

    Examples
    --------
    >>> import fastwalk as fw
    >>> from fastwalk.analysis.decay import fit_report
    >>> run = fw.simulate(fw.SphereBrownian(20, radius=1.0, diffusion=0.05, dt=0.01, method="exact"),
    ...                   walkers=500, steps=200, seed=1, observe_every=4)
    >>> mean, sem = run.observable("mean_cos_theta"), run.observable("sem_cos_theta")
    >>> fit = fit_report(mean.time, mean.value, sem.value, run.parameters)
    >>> fit["D_simulated"], abs(fit["deviation_sigma"]) < 4
    (0.05, True)
    """
    dim, radius = parameters.get("dim"), parameters.get("radius")
    fit = fit_decay(times, mean, sem, dim=dim, radius=radius)
    report = fit.to_dict()
    report.pop("correlated")
    diffusion, dt = parameters.get("diffusion"), parameters.get("dt")
    if None not in (dim, radius, diffusion):
        report["D_simulated"] = float(diffusion)
        report["rate_brownian"] = dim * diffusion / radius**2
        method = parameters.get("method")
        if method in ("ring", "geodesic", "exact") and dt is not None:
            chord = parameters.get("step_chord", parameters.get("chord"))
            rate_walk = walk_rate(method, dim, radius, diffusion, dt, chord)
            report["rate_walk"] = rate_walk
            if rate_walk is not None and fit.rate_stderr > 0.0:
                report["deviation_sigma"] = (fit.rate - rate_walk) / fit.rate_stderr
    return report
