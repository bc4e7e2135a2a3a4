"""The learning coefficient λ and its multiplicity m from Langevin runs at several temperatures.

Near a minimum-loss set the partition function of the prior φ (uniform on the
box) behaves as (Watanabe, *Algebraic Geometry and Statistical Learning
Theory*, 2009, ch. 2 and 4)

    Z(β) = ∫ exp(−β(U − U_min)) φ(x) dx ≈ C β^(−λ) P(log β) · (1 + O(β^(−δ))),

P a polynomial of degree m − 1 (leading coefficient 1 after absorbing it into
C), λ the real log canonical threshold and δ > 0 the gap to the next pole of
the zeta function ∫ (U − U_min)^z φ. Since ⟨U⟩ = −d log Z/dβ,

    β(⟨U⟩_β − U_min) = λ − P′(L)/P(L) + δρ/(1 + ρ) + …,   ρ = c β^(−δ),   L = log β.

For m = 2, P(L) = L + κ exactly, so β⟨U⟩ = λ − 1/(log β + κ): the familiar
λ − (m − 1)/log β is its first term, and the next, κ/log²β, is *not* small
(x0²x1² on [−1, 1]²: κ = 2 − ψ(3/2) ≈ 1.96, so at β = 10⁴ dropping it shifts
the curve by 0.02). The fit uses P(L) = (L + κ)^(m−1), exact for m ≤ 2 and
correct to O(L^(−3)) for m = 3. On a compact box the power corrections matter
too: x0²x1⁴ has poles at −1/4 and −1/2, so β⟨U⟩ = 1/4 − ρ/(4(1 − ρ)),
ρ ≈ 0.489 β^(−1/4) (−0.013 at β = 10⁴); a·min(x0², x1²) has δ = 1/2; a regular
quadratic only exponentially small boundary terms e^(−aβ). The fit therefore
offers the term δρ/(1 + ρ) of one further pole, with fitted c and δ. Derivations: DESIGN.md, "The
learning coefficient".

**One run.** λ̂(β) = β(⟨U⟩_β − U_min), ⟨U⟩_β the mean over walkers of each
walker's time average of U after burn-in. Walkers are independent, so their
time averages are independent, identically distributed samples, and the
standard error is their standard deviation over √walkers. The time
correlation within one walker needs no model: it only widens the spread of
the time averages, which is measured. What it cannot see is a bias common to
all walkers — a burn-in too short for the slowest mode (diffusion along a
valley at low T takes ~L²/T) — so the runs must be long against that time.

**Across runs.** λ, κ, c, δ are fitted by weighted least squares to the runs'
λ̂ with their standard errors, for m = 1, 2, 3 with and without the power
term; the model with the smallest corrected Akaike criterion wins (fewer
parameters on a tie). Standard errors come from the inverse Fisher matrix of
the chosen model, scaled by √(χ²/dof) when that exceeds 1; they do not
include the uncertainty of the model choice, so the models within 2 of the
best criterion are reported as *rivals*. A slow power correction and a
logarithm look alike over a few decades of β: x0²x1⁴ (δ = 1/4) swept over
β = 10..1000 fits m = 2 as well as m = 1 with the power term, and only
fixing m = 1 (``--multiplicity 1``) or a far wider sweep settles it.

**Free energy.** F(β) = −log Z(β) satisfies dF/dβ = ⟨U⟩, so relative to the
smallest β₀ (highest temperature) F(β) − F(β₀) = ∫ ⟨U⟩ dβ = ∫ β⟨U⟩ d log β,
integrated by the trapezoid rule in log β (β⟨U⟩ is nearly constant there);
independent runs add their variances.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fastwalk import validate

__all__ = ["run_estimate", "fit_learning_coefficient", "free_energy", "model_curve", "llc_report"]

#: multiplicities the fit tries
MAX_MULTIPLICITY = 2
#: a model within this much of the best AICc is reported as a rival the data cannot exclude
_RIVAL_AICC = 2.0
#: the power correction's exponent δ is fitted within these bounds
_DELTA_BOUNDS = (0.05, 3.0)


def run_estimate(beta: float, walker_energy_sum, walker_energy_count, u_min: float = 0.0
                 ) -> dict[str, float]:
    """Return λ̂(β) of one run from its walkers' time-averaged energies.

    Parameters
    ----------
    beta : float
        Inverse temperature β = 1/T > 0.
    walker_energy_sum : array_like
        float64 ``[walkers]``: each walker's sum of U over the recorded steps
        after burn-in.
    walker_energy_count : array_like
        int ``[walkers]``: how many steps each sum holds.
    u_min : float, optional
        The minimum of U (default 0).

    Returns
    -------
    dict
        ``beta``, ``walkers``, ``mean_energy`` and ``mean_energy_stderr``
        (mean and standard error of the walkers' time averages),
        ``lambda_hat`` = β(⟨U⟩ − U_min) and ``lambda_hat_stderr``.

    Raises
    ------
    ValueError
        If β is not positive, the arrays differ in shape, fewer than two
        walkers have counted steps, or a sum is not finite.
    """
    beta = validate.real("beta", beta, minimum=0.0, strict_min=True)
    u_min = validate.real("u_min", u_min)
    sums = np.asarray(walker_energy_sum, dtype=np.float64).ravel()
    counts = np.asarray(walker_energy_count).ravel()
    if sums.shape != counts.shape:
        raise ValueError(f"walker_energy_sum has {sums.size} walkers but walker_energy_count "
                         f"{counts.size}; pass the two accumulators of one run")
    counted = counts > 0
    if counted.sum() < 2:
        raise ValueError("fewer than two walkers have recorded energies after burn-in; "
                         "run more walkers or more steps")
    if not np.all(np.isfinite(sums[counted])):
        raise ValueError("a walker's energy sum is not finite; the run diverged")
    averages = sums[counted] / counts[counted]
    walkers = averages.size
    mean = float(averages.mean())
    stderr = float(averages.std(ddof=1) / math.sqrt(walkers))
    return {"beta": beta, "walkers": walkers, "mean_energy": mean, "mean_energy_stderr": stderr,
            "lambda_hat": beta * (mean - u_min), "lambda_hat_stderr": beta * stderr}


# ------------------------------------------------------------------------ the fit
def model_curve(log_beta, lam: float, multiplicity: int, kappa: float | None = None,
                c: float = 0.0, delta: float = 1.0) -> np.ndarray:
    """Return β⟨U⟩ = λ − (m − 1)/(log β + κ) + δρ/(1 + ρ), ρ = c·β^(−δ), at the given log β.

    Parameters
    ----------
    log_beta : array_like
        Values of L = log β.
    lam : float
        λ.
    multiplicity : int
        m >= 1.
    kappa : float, optional
        κ (needed when m >= 2).
    c, delta : float, optional
        The power correction (default none).

    Returns
    -------
    numpy.ndarray
        The curve at ``log_beta``.
    """
    log_beta = np.asarray(log_beta, dtype=np.float64)
    ratio = np.maximum(c * np.exp(-delta * log_beta), -0.99)  # Z > 0 needs 1 + ρ > 0
    curve = lam + delta * ratio / (1.0 + ratio)
    if multiplicity > 1:
        curve = curve - (multiplicity - 1) / (log_beta + kappa)
    return curve


def _fit_one(log_beta, y, sigma, multiplicity: int, power: bool):
    from scipy.optimize import least_squares

    floor = float(log_beta.min())

    def unpack(theta):
        lam, rest = theta[0], list(theta[1:])
        kappa = math.exp(rest.pop(0)) - floor if multiplicity > 1 else None
        c, delta = (rest[0], rest[1]) if power else (0.0, 1.0)
        return lam, kappa, c, delta

    def residuals(theta):
        lam, kappa, c, delta = unpack(theta)
        return (model_curve(log_beta, lam, multiplicity, kappa, c, delta) - y) / sigma

    start = [float(np.average(y, weights=sigma**-2))]
    low, high = [-np.inf], [np.inf]
    if multiplicity > 1:
        start.append(math.log(max(2.0 + floor, 1.0)))
        low.append(-20.0)
        high.append(20.0)
    if power:
        start += [0.0, 0.5]
        low += [-np.inf, _DELTA_BOUNDS[0]]
        high += [np.inf, _DELTA_BOUNDS[1]]
    result = least_squares(residuals, start, bounds=(low, high), x_scale="jac", method="trf",
                           xtol=1e-14, ftol=1e-14, gtol=1e-14, max_nfev=20000)
    chi2 = float(np.sum(result.fun**2))
    k = len(start)
    n = y.size
    dof = n - k
    jac = result.jac
    try:
        covariance = np.linalg.pinv(jac.T @ jac)
    except np.linalg.LinAlgError:  # pragma: no cover - pinv converges for finite input
        covariance = np.full((k, k), np.nan)
    scale = max(1.0, chi2 / dof) if dof > 0 else 1.0
    lam, kappa, c, delta = unpack(result.x)
    aicc = chi2 + 2 * k + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else np.inf)
    return {
        "lambda": float(lam),
        "lambda_stderr": float(math.sqrt(max(covariance[0, 0], 0.0) * scale)),
        "multiplicity": multiplicity,
        "kappa": None if kappa is None else float(kappa),
        "power_correction": {"c": float(c), "delta": float(delta)} if power else None,
        "chi2": chi2,
        "dof": dof,
        "aicc": float(aicc),
        "parameters": k,
    }


def fit_learning_coefficient(beta, lambda_hat, lambda_hat_stderr, *, multiplicity: int | None = None,
                             power_correction: bool | None = None) -> dict[str, Any]:
    """Fit λ and m to λ̂(β) = β⟨U⟩_β measured at several temperatures.

    Parameters
    ----------
    beta : array_like
        Inverse temperatures (at least two distinct).
    lambda_hat, lambda_hat_stderr : array_like
        The runs' λ̂ and their standard errors (> 0).
    multiplicity : int, optional
        Fix m (1..3) instead of choosing it.
    power_correction : bool, optional
        Force the c·β^(−δ) term on or off instead of choosing.

    Returns
    -------
    dict
        The chosen fit: ``lambda``, ``lambda_stderr``, ``multiplicity``,
        ``kappa`` (m >= 2), ``power_correction`` ({c, delta} or None),
        ``chi2``, ``dof``, ``aicc``, ``parameters``; ``candidates``, every
        model tried with its criterion; and ``rivals``, the candidates within 2
        of the best criterion (models the data cannot tell apart: then λ and
        m depend on the choice, and a wider β range or fixing m settles it).

    Raises
    ------
    ValueError
        If the arrays differ in length, a value is not finite, a standard
        error is not positive, or there are too few distinct temperatures for
        any model.
    """
    beta = np.asarray(beta, dtype=np.float64).ravel()
    y = np.asarray(lambda_hat, dtype=np.float64).ravel()
    sigma = np.asarray(lambda_hat_stderr, dtype=np.float64).ravel()
    if not beta.size == y.size == sigma.size:
        raise ValueError(f"beta, lambda_hat and lambda_hat_stderr differ in length "
                         f"({beta.size}, {y.size}, {sigma.size})")
    if not (np.all(np.isfinite(beta)) and np.all(np.isfinite(y)) and np.all(np.isfinite(sigma))):
        raise ValueError("beta, lambda_hat and their standard errors must be finite")
    if np.any(beta <= 0) or np.any(sigma <= 0):
        raise ValueError("every beta and every standard error must be > 0 "
                         "(a zero standard error means a run with one walker or no spread)")
    n = np.unique(beta).size
    if multiplicity is not None:
        multiplicity = validate.integer("multiplicity", multiplicity, minimum=1,
                                        maximum=MAX_MULTIPLICITY)
    multiplicities = [multiplicity] if multiplicity else list(range(1, MAX_MULTIPLICITY + 1))
    powers = [power_correction] if power_correction is not None else [False, True]
    log_beta = np.log(beta)
    candidates = []
    for m in multiplicities:
        for power in powers:
            k = 1 + (m > 1) + 2 * power
            if n < k + (m > 1 or power):  # leave a degree of freedom to any curved model
                continue
            candidates.append(_fit_one(log_beta, y, sigma, m, power))
    if not candidates:
        raise ValueError(f"{n} distinct temperature(s) are too few for the requested model; "
                         "run a sweep over more temperatures")
    best = min(candidates, key=lambda f: (round(f["aicc"], 9), f["parameters"]))
    keys = ("multiplicity", "power_correction", "lambda", "lambda_stderr", "chi2", "aicc")
    summaries = [{key: f[key] for key in keys} for f in candidates]
    # within 2 of the best criterion: models these data cannot tell apart
    rivals = [c for c, f in zip(summaries, candidates, strict=True)
              if f is not best and f["aicc"] - best["aicc"] < _RIVAL_AICC]
    return {**best, "candidates": summaries, "rivals": rivals}


def free_energy(beta, mean_energy, mean_energy_stderr) -> dict[str, np.ndarray]:
    """Return F(β) − F(β₀) = ∫_{β₀}^{β} ⟨U⟩ dβ' by the trapezoid rule in log β.

    Parameters
    ----------
    beta : array_like
        Inverse temperatures (distinct); β₀ is the smallest.
    mean_energy, mean_energy_stderr : array_like
        ⟨U⟩ at each β and its standard error.

    Returns
    -------
    dict
        ``beta`` (sorted), ``free_energy`` (F − F(β₀), 0 at β₀) and
        ``free_energy_stderr``; F = −log Z with Z = ∫ exp(−βU) φ.

    Raises
    ------
    ValueError
        If the arrays differ in length or two β coincide.
    """
    beta = np.asarray(beta, dtype=np.float64).ravel()
    energy = np.asarray(mean_energy, dtype=np.float64).ravel()
    stderr = np.asarray(mean_energy_stderr, dtype=np.float64).ravel()
    if not beta.size == energy.size == stderr.size:
        raise ValueError("beta, mean_energy and mean_energy_stderr differ in length")
    order = np.argsort(beta)
    beta, energy, stderr = beta[order], energy[order], stderr[order]
    if np.any(np.diff(beta) <= 0):
        raise ValueError("two runs share one temperature; the free energy needs distinct β")
    log_beta = np.log(beta)
    y, s = beta * energy, beta * stderr
    widths = np.diff(log_beta)
    # F(β_j) = Σ_{i<j} (y_i + y_{i+1}) w_i / 2: each y_i enters with weight (w_{i−1} + w_i)/2
    values = np.concatenate([[0.0], np.cumsum(0.5 * widths * (y[:-1] + y[1:]))])
    errors = np.zeros_like(values)
    for j in range(1, beta.size):
        weights = np.zeros(j + 1)
        weights[:-1] += 0.5 * widths[:j]
        weights[1:] += 0.5 * widths[:j]
        errors[j] = math.sqrt(float(np.sum((weights * s[: j + 1]) ** 2)))
    return {"beta": beta, "free_energy": values, "free_energy_stderr": errors}


# ------------------------------------------------------------------------ files
def _run_from_file(path, u_min: float) -> dict[str, Any]:
    from fastwalk.errors import MissingDataError
    from fastwalk.io.reader import Run

    with Run(path) as run:
        parameters = run.parameters
        accumulators = run.accumulators
    if "walker_energy_sum" not in accumulators or "walker_energy_count" not in accumulators:
        raise MissingDataError(
            f"{path} holds no per-walker energy sums (walker_energy_sum, walker_energy_count): "
            "`fastwalk llc` reads langevin runs that have committed steps after burn-in"
        )
    temperature = parameters.get("temperature")
    if not temperature or temperature <= 0:
        raise MissingDataError(f"{path} records no temperature T > 0")
    try:
        estimate = run_estimate(1.0 / temperature, accumulators["walker_energy_sum"],
                                accumulators["walker_energy_count"], u_min)
    except ValueError as exc:
        raise MissingDataError(f"{path}: {exc}") from None
    return {"file": str(path), **estimate, "temperature": float(temperature),
            "localize": float(parameters.get("localize") or 0.0),
            "potential": parameters.get("potential"), "dim": parameters.get("dim")}


def llc_report(paths, *, u_min: float = 0.0, multiplicity: int | None = None) -> dict[str, Any]:
    """Return λ̂(β) of every run, the fitted λ and m, and the free energy, from files.

    Parameters
    ----------
    paths : sequence of path-like
        Langevin run files (one per temperature; several at one temperature
        are allowed and combined).
    u_min : float, optional
        The minimum of U (default 0).
    multiplicity : int, optional
        Fix m instead of choosing it.

    Returns
    -------
    dict
        JSON-able: ``lambda``, ``lambda_stderr``, ``multiplicity`` (None for
        a single temperature, where λ̂(β) itself is the estimate), ``fit``
        (the chosen model and the candidates), ``runs`` (per file: ``file``,
        ``beta``, ``mean_energy``, ``mean_energy_stderr``, ``lambda_hat``,
        ``lambda_hat_stderr``, ``walkers``, ``temperature``, ``localize``),
        ``free_energy`` (per distinct β: ``beta``, ``free_energy``,
        ``free_energy_stderr``), ``u_min``.

    Raises
    ------
    fastwalk.errors.MissingDataError
        If a file is not a run with per-walker energies.
    ValueError
        If no path is given, a file is given twice, or the runs mix potentials.
    """
    paths = list(paths)
    if not paths:
        raise ValueError("give at least one run file")
    seen = [Path(p).resolve() for p in paths]
    for i, path in enumerate(seen):
        if path in seen[:i]:
            raise ValueError(f"{paths[i]} is given twice; give each run once")
    u_min = validate.real("u_min", u_min)
    runs = [_run_from_file(path, u_min) for path in paths]
    potentials = {(r["potential"], r["dim"], r["localize"]) for r in runs}
    if len(potentials) > 1:
        raise ValueError("the files are runs of different potentials, dimensions or localizing "
                         "strengths; give the runs of one sweep")
    beta = np.array([r["beta"] for r in runs])
    y = np.array([r["lambda_hat"] for r in runs])
    s = np.array([r["lambda_hat_stderr"] for r in runs])
    report: dict[str, Any] = {"u_min": u_min, "local": runs[0]["localize"] > 0}
    distinct = np.unique(beta)
    if distinct.size == 1 and multiplicity is None:
        weights = s**-2
        report.update(lambda_=float(np.sum(weights * y) / weights.sum()),
                      lambda_stderr=float(weights.sum() ** -0.5), multiplicity=None, fit=None)
    else:
        fit = fit_learning_coefficient(beta, y, s, multiplicity=multiplicity)
        report.update(lambda_=fit["lambda"], lambda_stderr=fit["lambda_stderr"],
                      multiplicity=fit["multiplicity"], fit=fit)
    report["lambda"] = report.pop("lambda_")
    means, errors = [], []
    for b in distinct:
        same = beta == b
        w = np.array([r["mean_energy_stderr"] for r in runs])[same] ** -2.0
        e = np.array([r["mean_energy"] for r in runs])[same]
        means.append(float(np.sum(w * e) / w.sum()))
        errors.append(float(w.sum() ** -0.5))
    energy = free_energy(distinct, means, errors)
    report["free_energy"] = [
        {"beta": float(b), "free_energy": float(f), "free_energy_stderr": float(e)}
        for b, f, e in zip(energy["beta"], energy["free_energy"], energy["free_energy_stderr"],
                           strict=True)
    ]
    keys = ("file", "beta", "mean_energy", "mean_energy_stderr", "lambda_hat", "lambda_hat_stderr",
            "walkers", "temperature", "localize")
    report["runs"] = [{key: r[key] for key in keys} for r in sorted(runs, key=lambda r: r["beta"])]
    return report
