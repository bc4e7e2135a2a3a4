"""The learning coefficient λ and its multiplicity m from Langevin runs at several temperatures.

**The law.** Near a minimum-loss set the partition function of the prior φ
(uniform on the box; times the fixed Gaussian localizer for a local run)
behaves as (Watanabe, *Algebraic Geometry and Statistical Learning Theory*,
2009: ch. 4, the zeta function and the state density; ch. 6, whose free
energy F_n = nS_n + λ log n − (m − 1) log log n + O_p(1) is the same law at
β = 1 with n in the place of β)

    Z(β) = ∫ exp(−β(U − U_min)) φ(x) dx ≈ C β^(−λ) P(log β) · (1 + O(β^(−δ))),

P a polynomial of degree m − 1 (monic after absorbing its leading
coefficient into C), λ the real log canonical threshold, m its order, δ > 0
the gap to the next pole of ζ(z) = ∫ (U − U_min)^z φ. Since ⟨U⟩ = −d log Z/dβ,

    β(⟨U⟩_β − U_min) = λ − P′(L)/P(L) + δρ/(1 + ρ) + …,   ρ = c β^(−δ),   L = log β,

whose first terms are λ − (m − 1)/log β: the tempered mean ⟨nL_n⟩_β ≈ nL_n(w0) + λ/β
of Watanabe (*A widely applicable Bayesian information criterion*, JMLR 14,
2013, 867–897) at leading order. P is fitted in
full, not as (L + κ)^(m−1): x0²x1²x2² has ζ = (2z + 1)^(−3) and
P(L) = (L − ψ(½))² + ψ′(½), a complex pair (the Mellin residue at z = −½).
Positivity of Z for large β makes P positive for L ≥ min log β, so P is a
product of real factors L + κ (κ > −min log β) and pairs (L + a)² + b².

**One run.** λ̂(β) = β(⟨U⟩_β − U_min), ⟨U⟩_β the mean over walkers of each
walker's time average of U after burn-in. Walkers are independent chains, so
their time averages are independent and identically distributed, and the
standard error is their standard deviation over √walkers: the walker-to-walker
spread of the per-walker means, which already holds every autocorrelation
along a trajectory (no per-step variance enters). What it cannot see is a
bias common to all walkers (a burn-in too short for the slowest mode); the
diagnostics (:mod:`fastwalk.analysis.diagnostics`: ESS, R̂, stuck walkers,
the burn-in against the energy's autocorrelation time) warn about it.

**Across runs.** λ, P, c, δ are fitted by generalised least squares to the
λ̂ with their covariance: diagonal for runs of distinct seeds (independent),
and for runs that share a seed (same random streams walker by walker) the
covariance measured from the paired walkers (:func:`shared_stream_covariance`).
Every m = 1 … d (the dimension; :data:`DEFAULT_MAX_MULTIPLICITY` when not
known) is fitted with every factorisation of P, with and without the power
term; the model of smallest AICc = χ² + 2k + 2k(k + 1)/(n − k − 1) wins (k
parameters, n runs; fewer parameters on a tie). Standard errors come from the
inverse Fisher matrix of the chosen model, scaled by √(χ²/dof) when that
exceeds 1; they do not include the model choice, so the models within 2 of the
best criterion are reported as *rivals*, and a rival of another m is a warning
("the data cannot settle m"). Calibrated in tests/test_llc_calibration.py: over
30 independent MALA sweeps each of x0² + x1⁴ (m = 1) and x0²x1² (m = 2) the 2σ
interval covers λ and m is right in >= 90 % (measured: 39/40 and 40/40).

**Warnings** (``report["warnings"]``, printed too): stuck or outlying walkers
(named), R̂ above :data:`~fastwalk.analysis.diagnostics.RHAT_THRESHOLD`, a burn-in
under 5 autocorrelation times, a drift of the mean energy between the halves of
the records, χ² p-value below 1e-3, a fitted parameter at its
bound, an m the data cannot settle, Euler–Maruyama's O(dt) bias (bounded by
κdt/(2 − κdt), κ the largest curvature in the box) when it can exceed the
error bar, U_min above ⟨U⟩, a negative λ, runs that share a seed, duplicates
(counted once), incomplete runs, one temperature only.

**Integrity.** Runs are combined only when every recorded parameter but the
temperature (and dt for MALA or an automatic dt, start, bins) is equal; a
typed potential is compared algebraically with its params substituted.
A file given twice, a hard link, a copy (same run id) or a same-seed rerun
(identical walker energies) counts once, with a warning.

**Free energy.** F(β) = −log Z(β) satisfies dF/dβ = ⟨U⟩, so relative to the
smallest β₀ (highest temperature) F(β) − F(β₀) = ∫ ⟨U⟩ dβ = ∫ β⟨U⟩ d log β,
integrated by the trapezoid rule in log β; independent runs add their variances.

**Beyond λ.** *Heat capacity* c(β) = β²Var_β(U) (from frames, with a
jackknife error over walkers; else from the walkers' spread at the recorded
steps, without one): −d⟨U⟩/dβ = Var_β(U) makes c = y − dy/dL with
y = β(⟨U⟩ − U_min), so c → λ as well, an independent check of λ̂(β). Watanabe's
*singular fluctuation* ν (Watanabe, *Asymptotic equivalence of Bayes cross
validation and widely applicable information criterion*, JMLR 11, 2010,
3571–3594: ν = lim E[(β/2)·V_n], V_n = Σ_i Var_w(log p(X_i|w)) the functional
variance) needs the per-datum
losses log p(X_i|w), which a potential U does not have; for a network run
with recorded positions it is ν = β/2·Σ_i Var_w(ℓ_i), ℓ_i the model's
``datum_losses`` at the frames, with a jackknife error over walkers
(:func:`singular_fluctuation`; for a regular model c = d/2 = ν at β = 1, in
general they differ). *WBIC*
(Watanabe 2013, the WBIC paper above: WBIC = ⟨nL_n⟩ at β = 1/log n,
= nL_n(w0) + λ log n + O_p(√log n)) is reported when U = nL_n of n data is declared
(``sample_size``, a network run's ``samples``) and the runs reach β = 1/log n:
⟨U⟩ there, interpolated linearly in log β between the two runs that bracket it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastwalk import validate
from fastwalk.errors import MissingDataError

__all__ = ["run_estimate", "fit_learning_coefficient", "free_energy", "model_curve", "curve_of",
           "log_derivative", "llc_report", "default_u_min", "shared_stream_covariance"]

#: the largest multiplicity tried when the dimension is not known
DEFAULT_MAX_MULTIPLICITY = 4
#: a model within this much of the best AICc is reported as a rival the data cannot exclude
_RIVAL_AICC = 2.0
#: the power correction's exponent δ is fitted within these bounds
_DELTA_BOUNDS = (0.05, 3.0)
#: the power term ρ = c·β^(−δ) must stay below this at the coldest β of the sweep: where ρ ≫ 1
#: the curve λ + δρ/(1 + ρ) is λ + δ − (δ/c)·β^δ, λ and δ trade off, and the fit describes no
#: asymptotic approach (linear:3-2-3 at r = H: λ = 2.26 with δ = 1.78 for data flat at 4.02)
_MAX_CORRECTION = 1.0
#: log of a real factor's L + κ at the smallest L, and of a complex pair's b, lie within these
_LOG_ROOT = (math.log(1e-3), math.log(1e4))
#: a complex pair's shift a lies within ±this
_SHIFT = 1e4


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
def _shapes(multiplicity: int) -> list[tuple[int, int]]:
    """(real roots, complex pairs) of every factorisation of a monic P of degree m − 1."""
    degree = multiplicity - 1
    return [(degree - 2 * pairs, pairs) for pairs in range(degree // 2 + 1)]


def log_derivative(log_beta, real_roots=(), pairs=()) -> np.ndarray:
    """Return P′(L)/P(L) for P(L) = Π (L + κ_j) · Π ((L + a_k)² + b_k²).

    Parameters
    ----------
    log_beta : array_like
        Values of L = log β.
    real_roots : sequence of float
        The κ_j.
    pairs : sequence of (float, float)
        The (a_k, b_k) of the complex-conjugate pairs (roots −a_k ± i b_k).

    Returns
    -------
    numpy.ndarray
        P′/P at ``log_beta`` (0 for m = 1, where P = 1).
    """
    log_beta = np.asarray(log_beta, dtype=np.float64)
    out = np.zeros_like(log_beta)
    for kappa in real_roots:
        out += 1.0 / (log_beta + kappa)
    for a, b in pairs:
        out += 2.0 * (log_beta + a) / ((log_beta + a) ** 2 + b * b)
    return out


def model_curve(log_beta, lam: float, real_roots=(), pairs=(), c: float = 0.0,
                delta: float = 1.0) -> np.ndarray:
    """Return β(⟨U⟩ − U_min) = λ − P′(L)/P(L) + δρ/(1 + ρ), ρ = c·β^(−δ), at L = log β.

    Parameters
    ----------
    log_beta : array_like
        Values of L = log β.
    lam : float
        λ.
    real_roots, pairs :
        P's factors (see :func:`log_derivative`); m − 1 = len(real_roots) + 2·len(pairs).
    c, delta : float, optional
        The power correction (default none).

    Returns
    -------
    numpy.ndarray
        The curve at ``log_beta``.
    """
    log_beta = np.asarray(log_beta, dtype=np.float64)
    ratio = np.maximum(c * np.exp(-delta * log_beta), -0.99)  # Z > 0 needs 1 + ρ > 0
    return lam + delta * ratio / (1.0 + ratio) - log_derivative(log_beta, real_roots, pairs)


def curve_of(fit: dict, log_beta) -> np.ndarray:
    """Return the fitted curve of a fit (``fit_learning_coefficient``'s or a candidate's)."""
    pc = fit["power_correction"] or {"c": 0.0, "delta": 1.0}
    return model_curve(log_beta, fit["lambda"], fit["real_roots"],
                       [tuple(p) for p in fit["complex_roots"]], pc["c"], pc["delta"])


class _Shape:
    """One model: m, its factorisation (real roots, complex pairs) and the power term."""

    def __init__(self, multiplicity: int, real: int, pairs: int, power: bool, floor: float):
        self.multiplicity, self.real, self.pairs, self.power = multiplicity, real, pairs, power
        self.floor = floor  # the smallest L: real factors L + κ stay > 0 from there on
        self.size = 1 + real + 2 * pairs + 2 * power

    def unpack(self, theta):
        theta = list(theta)
        lam = theta.pop(0)
        real = [math.exp(theta.pop(0)) - self.floor for _ in range(self.real)]
        pairs = [(theta.pop(0), math.exp(theta.pop(0))) for _ in range(self.pairs)]
        c, delta = (theta[0], _delta(theta[1])) if self.power else (0.0, 1.0)
        return lam, real, pairs, c, delta

    def at_bound(self, theta) -> list[str]:
        """Names of the parameters that ran to the edge of their range (module constants)."""
        theta = list(theta)
        hits = [False]
        hits += [not _LOG_ROOT[0] < t < _LOG_ROOT[1] for t in theta[1:1 + self.real]]
        rest = theta[1 + self.real:]
        for k in range(self.pairs):
            a, t = rest[2 * k], rest[2 * k + 1]
            hits += [abs(a) > _SHIFT, not _LOG_ROOT[0] < t < _LOG_ROOT[1]]
        if self.power:
            delta = _delta(theta[-1])
            span = _DELTA_BOUNDS[1] - _DELTA_BOUNDS[0]
            hits += [False, min(delta - _DELTA_BOUNDS[0], _DELTA_BOUNDS[1] - delta) < 1e-3 * span]
        return [name for name, hit in zip(self.names(), hits, strict=True) if hit]

    def starts(self, lam0: float):
        for kappa in (1.0, 3.0):
            for b in ((1.0, 3.0) if self.pairs else (1.0,)):
                for c in ((0.3, -0.3) if self.power else (0.0,)):
                    theta = [lam0]
                    theta += [math.log(self.floor + kappa * 1.5**j) for j in range(self.real)]
                    theta += [kappa, math.log(b)] * self.pairs
                    theta += [c, _delta_inverse(0.5)] if self.power else []
                    yield theta

    def names(self):
        return (["lambda"] + [f"real root {j + 1}" for j in range(self.real)]
                + [n for k in range(self.pairs) for n in (f"pair {k + 1} shift",
                                                           f"pair {k + 1} width")]
                + (["power c", "power delta"] if self.power else []))


def _delta(t: float) -> float:
    """δ = lo + (hi − lo)·sigmoid(t): the power exponent within its bounds, unconstrained t."""
    low, high = _DELTA_BOUNDS
    return low + (high - low) / (1.0 + math.exp(-max(min(t, 500.0), -500.0)))


def _delta_inverse(delta: float) -> float:
    low, high = _DELTA_BOUNDS
    return -math.log((high - low) / (delta - low) - 1.0)


def _jacobian(shape: _Shape, theta, log_beta) -> np.ndarray:
    """∂(model curve)/∂θ, columns in the order of :meth:`_Shape.names`."""
    lam, real, pairs, c, delta = shape.unpack(theta)
    columns = [np.ones_like(log_beta)]
    for kappa in real:  # κ = e^s − floor: ∂/∂s of −1/(L + κ)
        columns.append((kappa + shape.floor) / (log_beta + kappa) ** 2)
    for a, b in pairs:  # −2(L + a)/D, D = (L + a)² + b², b = e^t
        u = log_beta + a
        d = u * u + b * b
        columns.append(-2.0 * (b * b - u * u) / d**2)
        columns.append(4.0 * u * b * b / d**2)
    if shape.power:
        decay = np.exp(-delta * log_beta)
        rho = c * decay
        clipped = rho <= -0.99
        rho = np.maximum(rho, -0.99)
        low, high = _DELTA_BOUNDS
        slope = (delta - low) * (high - delta) / (high - low)
        d_c = np.where(clipped, 0.0, delta * decay / (1 + rho) ** 2)
        d_delta = np.where(clipped, 0.0, rho / (1 + rho) - delta * log_beta * rho / (1 + rho) ** 2)
        columns += [d_c, d_delta * slope]
    return np.stack(columns, axis=1)


def _fit_shape(shape: _Shape, log_beta, y, whiten):
    """Least squares (Levenberg–Marquardt, unconstrained parameters) from a few starts; best kept."""
    from scipy.optimize import least_squares

    def residuals(theta):
        lam, real, pairs, c, delta = shape.unpack(theta)
        with np.errstate(all="ignore"):
            r = whiten(model_curve(log_beta, lam, real, pairs, c, delta) - y)
        return np.where(np.isfinite(r), r, 1e12)

    def jacobian(theta):
        with np.errstate(all="ignore"):
            j = whiten(_jacobian(shape, theta, log_beta))
        return np.where(np.isfinite(j), j, 0.0)

    best = None
    if shape.size > y.size:
        return None
    for start in shape.starts(float(np.mean(y))):
        try:
            result = least_squares(residuals, start, jac=jacobian, method="lm", xtol=1e-10,
                                   ftol=1e-10, gtol=1e-10, max_nfev=400 * shape.size)
        except (ValueError, OverflowError):  # pragma: no cover - a start far off
            continue
        if shape.power:
            c, delta = shape.unpack(result.x)[3:]
            if abs(c) * math.exp(-delta * float(log_beta.max())) >= _MAX_CORRECTION:
                continue
        if np.all(np.abs(result.fun) < 1e11) and (best is None or result.cost < best.cost):
            best = result
    return best


def _summarise(shape: _Shape, result, n: int) -> dict[str, Any]:
    chi2 = float(np.sum(result.fun**2))
    k = shape.size
    dof = n - k
    covariance = np.linalg.pinv(result.jac.T @ result.jac)
    scale = max(1.0, chi2 / dof) if dof > 0 else 1.0
    lam, real, pairs, c, delta = shape.unpack(result.x)
    aicc = chi2 + 2 * k + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else np.inf)
    polynomial = np.poly1d([1.0])
    for kappa in real:
        polynomial = polynomial * np.poly1d([1.0, kappa])
    for a, b in pairs:
        polynomial = polynomial * np.poly1d([1.0, 2 * a, a * a + b * b])
    return {
        "lambda": float(lam),
        "lambda_stderr": float(math.sqrt(max(covariance[0, 0], 0.0) * scale)),
        "multiplicity": shape.multiplicity,
        "real_roots": [float(v) for v in real],
        "complex_roots": [[float(a), float(b)] for a, b in pairs],
        "polynomial": [float(v) for v in polynomial.coeffs],
        "kappa": float(real[0]) if shape.multiplicity == 2 else None,
        "power_correction": {"c": float(c), "delta": float(delta)} if shape.power else None,
        "chi2": chi2,
        "dof": dof,
        "chi2_pvalue": _chi2_pvalue(chi2, dof),
        "aicc": float(aicc),
        "parameters": k,
        "at_bound": shape.at_bound(result.x),
    }


def _chi2_pvalue(chi2: float, dof: int) -> float | None:
    from scipy import stats

    return float(stats.chi2.sf(chi2, dof)) if dof > 0 else None


def _whitener(sigma, covariance):
    """Return r ↦ L⁻¹r, L the Cholesky factor of the covariance (diag σ² when none is given)."""
    if covariance is None:
        return lambda r: r / (sigma if r.ndim == 1 else sigma[:, None])
    from scipy.linalg import solve_triangular

    factor = np.linalg.cholesky(covariance)
    return lambda r: solve_triangular(factor, r, lower=True)


def fit_learning_coefficient(beta, lambda_hat, lambda_hat_stderr, *, covariance=None,
                             multiplicity: int | None = None,
                             max_multiplicity: int = DEFAULT_MAX_MULTIPLICITY,
                             power_correction: bool | None = None) -> dict[str, Any]:
    """Fit λ and m to λ̂(β) = β(⟨U⟩_β − U_min) measured at several temperatures.

    The model (module docstring; DESIGN.md, "The learning coefficient") is
    λ̂(β) = λ − P′(L)/P(L) [+ δρ/(1 + ρ), ρ = c·β^(−δ)], L = log β, P monic of
    degree m − 1 and positive for L ≥ min log β: a product of real factors
    L + κ (κ > −min log β) and complex-conjugate pairs (L + a)² + b². Every m
    from 1 to ``max_multiplicity`` is fitted with every factorisation, with
    and without the power term, by (generalised) least squares; the model of
    smallest AICc = χ² + 2k + 2k(k + 1)/(n − k − 1) wins (fewer parameters on
    a tie).

    Parameters
    ----------
    beta : array_like
        Inverse temperatures (at least two distinct).
    lambda_hat, lambda_hat_stderr : array_like
        The runs' λ̂ and their standard errors (> 0).
    covariance : array_like, optional
        The full ``[n][n]`` covariance of the λ̂ (runs that share random
        streams are correlated); its diagonal should be the squared
        standard errors. Default: independent runs.
    multiplicity : int, optional
        Fix m (>= 1) instead of choosing it.
    max_multiplicity : int, optional
        The largest m tried when choosing (the dimension bounds it; default 4).
    power_correction : bool, optional
        Force the c·β^(−δ) term on or off instead of choosing.

    Returns
    -------
    dict
        The chosen fit: ``lambda``, ``lambda_stderr`` (inverse Fisher matrix,
        scaled by √(χ²/dof) when that exceeds 1), ``multiplicity``,
        ``real_roots`` (κ_j), ``complex_roots`` ([a, b] pairs),
        ``polynomial`` (P's coefficients, highest power first), ``kappa``
        (m = 2: the root κ, else None), ``power_correction`` ({c, delta} or
        None), ``chi2``, ``dof``, ``chi2_pvalue``, ``aicc``, ``parameters``,
        ``at_bound`` (names of parameters on their bounds); ``candidates``
        (the best factorisation of every m and power term, with their
        criteria); ``rivals`` (candidates within 2 of the best AICc: models
        the data cannot tell apart).

    Examples
    --------
    λ̂(β) = λ − 1/(log β + κ) is the law of m = 2 (here λ = 1/2, κ = 2, exact values):

    >>> import numpy as np
    >>> beta = np.logspace(1, 4, 7)
    >>> fit = fit_learning_coefficient(beta, 0.5 - 1 / (np.log(beta) + 2.0), np.full(7, 1e-3))
    >>> round(fit["lambda"], 3), fit["multiplicity"], round(fit["kappa"], 2)
    (0.5, 2, 2.0)

    Raises
    ------
    ValueError
        If the arrays differ in length, a value is not finite, a standard
        error is not positive, the covariance is not positive definite, or
        there are too few distinct temperatures for any model.
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
    if covariance is not None:
        covariance = np.asarray(covariance, dtype=np.float64)
        if covariance.shape != (y.size, y.size) or not np.all(np.isfinite(covariance)):
            raise ValueError(f"covariance must be a finite [{y.size}][{y.size}] matrix")
        if np.any(np.linalg.eigvalsh(0.5 * (covariance + covariance.T)) <= 0):
            raise ValueError("covariance is not positive definite")
    n = np.unique(beta).size
    if multiplicity is not None:
        multiplicity = validate.integer("multiplicity", multiplicity, minimum=1)
    max_multiplicity = validate.integer("max_multiplicity", max_multiplicity, minimum=1)
    multiplicities = [multiplicity] if multiplicity else list(range(1, max_multiplicity + 1))
    powers = [power_correction] if power_correction is not None else [False, True]
    log_beta = np.log(beta)
    whiten = _whitener(sigma, covariance)
    candidates = []
    for m in multiplicities:
        if m > n:  # no model of this m or above leaves a degree of freedom
            break
        for power in powers:
            k = m + 2 * power
            if n < k + (m > 1 or power):  # leave a degree of freedom to any curved model
                continue
            shapes = [_Shape(m, real, pairs, power, float(log_beta.min()))
                      for real, pairs in _shapes(m)]
            fits = [(s, _fit_shape(s, log_beta, y, whiten)) for s in shapes]
            fits = [(s, r) for s, r in fits if r is not None]
            if fits:
                shape, result = min(fits, key=lambda sr: sr[1].cost)
                candidates.append(_summarise(shape, result, y.size))
    if not candidates:
        raise ValueError(f"{n} distinct temperature(s) are too few for the requested model; "
                         "run a sweep over more temperatures")
    best = min(candidates, key=lambda f: (round(f["aicc"], 9), f["parameters"]))
    keys = ("multiplicity", "power_correction", "lambda", "lambda_stderr", "chi2", "aicc")
    summaries = [{key: f[key] for key in keys} for f in candidates]
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

    Examples
    --------
    ⟨U⟩ = λ/β exactly (λ = 1/2) integrates to F(β) − F(β₀) = λ·log(β/β₀):

    >>> out = free_energy([10, 100, 1000], [0.05, 0.005, 0.0005], [1e-4, 1e-5, 1e-6])
    >>> [round(float(f), 4) for f in out["free_energy"]]
    [0.0, 1.1513, 2.3026]

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
#: parameters that may differ between runs combined into one estimate (the rest must be equal;
#: dt matters only to Euler–Maruyama, whose bias the report bounds; MALA is exact at any dt)
_FREE = frozenset({"temperature", "dt", "dt_auto", "start", "bins"})
#: frames read for the energy series at most (walkers × frames); more are thinned
_FRAME_VALUES = 4_000_000
#: fewer walkers than this warn: ±2 standard errors of their spread cover < 94 % (Student t)
_FEW_WALKERS = 30
#: χ² p-value below which the fit is called poor
_POOR_FIT = 1e-3


def _potential(parameters: dict, path) -> Any:
    """Return the run's potential as a SymPy expression (params substituted), or its pair path."""
    from fastwalk.expression import parse

    text = parameters.get("potential")
    if text is None:
        return ("pair", parameters.get("energy"), parameters.get("gradient"))
    try:
        return parse(text, int(parameters["dim"]), parameters.get("params") or {})
    except ValueError as exc:
        raise MissingDataError(f"{path}: its recorded potential is refused ({exc})") from None


def _same_potential(a, b) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):
        return a == b
    if a == b:  # the same tree: no simplification needed
        return True
    import sympy

    return sympy.simplify(a - b) == 0


def walker_energies(run, walkers, frames: int = 2000) -> tuple[np.ndarray, np.ndarray | None]:
    """Return steps of the recorded frames and these walkers' U there, ``[frames][walkers]``.

    Parameters
    ----------
    run : fastwalk.io.reader.Run
        An open langevin run.
    walkers : sequence of int
        The walkers.
    frames : int, optional
        At most this many frames, evenly strided.

    Returns
    -------
    tuple
        ``(steps, energies)``; ``energies`` is None where the run recorded no
        frames or its potential is not a typed expression.
    """
    parameters = run.parameters
    if (run.frame_name != "position" or parameters.get("kind") != "langevin"
            or parameters.get("potential") is None or len(run.frames) == 0):
        return np.zeros(0), None
    recorded = run.frames
    stride = max(1, math.ceil(len(recorded) / frames))
    positions = np.stack([recorded[i][list(walkers)] for i in range(0, len(recorded), stride)])
    return recorded.steps[::stride], _expression_of(parameters).energy_numpy(positions)


def _energy_chains(run, parameters: dict, burn_in: int) -> np.ndarray | None:
    """Each walker's U at its recorded frames after burn-in, ``[walkers][frames]``, or None."""
    if (run.frame_name != "position" or parameters.get("kind") != "langevin"
            or parameters.get("potential") is None):
        return None
    frames = run.frames
    if len(frames) < 8:
        return None
    walkers = frames.shape[1]
    stride = max(1, math.ceil(len(frames) * walkers / _FRAME_VALUES))
    positions = frames[::stride]
    energy = _expression_of(parameters).energy_numpy(positions)  # [frames][walkers]
    return np.ascontiguousarray(energy.T) if np.all(np.isfinite(energy)) else None


#: model kinds whose runs have per-datum losses (a network's loss on data)
_DATUM_KINDS = frozenset({"network", "torch_network"})


def _datum_loss_moments(run, parameters: dict) -> dict | str:
    """Each walker's frame means of ℓ_i and ℓ_i², ``{"first", "second": [walkers][n]}``, or why not.

    ℓ_i are the per-datum losses of a network run (``datum_losses`` of its model) at the
    recorded positions; frames are thinned to at most :data:`_FRAME_VALUES` losses.
    """
    if parameters.get("kind") not in _DATUM_KINDS:
        return ("Watanabe's ν needs the per-datum losses log p(X_i|w) (functional variance), which "
                "a potential U does not have; heat_capacity = β²Var_β(U) is what U gives (→ λ)")
    if run.frame_name != "position" or len(run.frames) < 2:
        return "ν needs recorded positions (frames, --every) after burn-in; this run has fewer than 2"
    try:
        model = run.model
    except (ValueError, TypeError, ImportError, OSError) as exc:
        return f"ν needs the run's network and data to evaluate per-datum losses: {exc}"
    frames = run.frames
    count, walkers = len(frames), frames.shape[1]
    n = int(parameters.get("samples") or model.data.n)
    stride = max(1, math.ceil(count * walkers * n / _FRAME_VALUES))
    first = np.zeros((walkers, n))
    second = np.zeros((walkers, n))
    used = 0
    for k in range(0, count, stride):
        losses = model.datum_losses(np.asarray(frames[k]))
        first += losses
        second += losses * losses
        used += 1
    if not (np.all(np.isfinite(first)) and np.all(np.isfinite(second))):
        return "ν: a per-datum loss at a recorded position is not finite"
    return {"first": first / used, "second": second / used, "frames": used}


def singular_fluctuation(first, second, beta: float) -> tuple[float, float]:
    """Return ν = β/2·Σ_i Var_w(ℓ_i) and its jackknife standard error over walkers.

    Watanabe's functional variance V = Σ_i Var_w[log p(X_i|w)] over the (tempered)
    posterior, with log p(X_i|w) = −ℓ_i + const, and ν = (β/2)·V (Watanabe 2010, JMLR 11,
    3571–3594; *Mathematical Theory of Bayesian Statistics*, 2018, §3): WAIC = T_n + V/n·β.
    Var_w pools every walker's frames; walkers are independent, so leaving one out at a time
    gives an honest error whatever the correlation along a trajectory (as the heat capacity).

    Parameters
    ----------
    first, second : array_like
        Each walker's frame means of ℓ_i and ℓ_i², ``[walkers][n]`` (equal frame counts).
    beta : float
        The run's β = 1/T.

    Returns
    -------
    tuple of float
        ``(nu, stderr)``; stderr is NaN for one walker.
    """
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    w = first.shape[0]
    value = float(np.sum(second.mean(axis=0) - first.mean(axis=0) ** 2))
    if w < 2:
        return 0.5 * beta * value, math.nan
    m1 = (first.sum(axis=0) - first) / (w - 1)  # [walkers][n]: the others' means
    m2 = (second.sum(axis=0) - second) / (w - 1)
    left_out = np.sum(m2 - m1 * m1, axis=1)
    stderr = math.sqrt((w - 1) / w * float(np.sum((left_out - left_out.mean()) ** 2)))
    return 0.5 * beta * value, 0.5 * beta * stderr


def _expression_of(parameters: dict):
    from fastwalk.expression import Expression

    return Expression(parameters["potential"], int(parameters["dim"]),
                      parameters.get("params") or {})


def _read_run(path) -> dict[str, Any]:
    """Read what the estimate, its diagnostics and the integrity checks need from one file."""
    import os

    from fastwalk.io.reader import Run

    with Run(path) as run:
        parameters = run.parameters
        settings = run.settings
        accumulators = run.accumulators
        if "walker_energy_sum" not in accumulators or "walker_energy_count" not in accumulators:
            what = ("a langevin run with no committed steps after burn-in"
                    if run.kind == "langevin" else f"a {run.kind} run, not a langevin run")
            raise MissingDataError(
                f"{path} is {what}: it holds no per-walker energies (walker_energy_sum, "
                "walker_energy_count); `fastwalk llc` reads the files of `fastwalk langevin`")
        sem = run.observable("sem_energy") if run.has_observable("sem_energy") else None
        mean = run.observable("mean_energy") if run.has_observable("mean_energy") else None
        acceptance = (run.observable("acceptance_rate").value
                      if run.has_observable("acceptance_rate") else np.empty(0))
        chains = _energy_chains(run, parameters, int(settings.get("burn_in", 0)))
        fluctuation = _datum_loss_moments(run, parameters)
        record = {
            "file": str(path), "parameters": parameters, "settings": settings,
            "arrays": run.parameter_arrays(),
            "seed": run.seed, "status": run.status, "run_id": run._run_marks()["run_id"],
            "committed_step": run.committed_step, "target_steps": run.target_steps,
            "sums": np.asarray(accumulators["walker_energy_sum"], dtype=np.float64),
            "counts": np.asarray(accumulators["walker_energy_count"]),
            "accepted": accumulators.get("walker_accepted"),
            "snapshot_variance": (float(np.mean(sem.value**2)) * len(accumulators["walker_energy_sum"])
                                  if sem is not None and len(sem.value) else None),
            "acceptance_rate": float(acceptance[-1]) if acceptance.size else None,
            "series": (None if mean is None or sem is None or len(mean.step) != len(sem.step)
                       else (np.asarray(mean.step, dtype=np.float64),
                             np.asarray(mean.value, dtype=np.float64),
                             np.asarray(sem.value, dtype=np.float64))),
            "chains": chains,
            "fluctuation": fluctuation,
        }
    stat = os.stat(path)
    record["inode"] = (stat.st_dev, stat.st_ino)
    temperature = parameters.get("temperature")
    if not temperature or temperature <= 0:
        raise MissingDataError(f"{path} records no temperature T > 0")
    return record


def _drop_duplicates(records: list[dict], warnings: list[str]) -> list[dict]:
    """Keep one of each run given twice: one file, a hard link, a copy or a same-seed rerun."""
    kept: list[dict] = []
    for r in records:
        twin = next((k for k in kept if k["inode"] == r["inode"]
                     or (r["run_id"] and k["run_id"] == r["run_id"])
                     or (k["sums"].shape == r["sums"].shape and np.array_equal(k["sums"], r["sums"])
                         and k["parameters"]["temperature"] == r["parameters"]["temperature"])),
                    None)
        if twin is None:
            kept.append(r)
            continue
        why = ("the same file (a hard link or a repeated path)" if twin["inode"] == r["inode"]
               else "a copy of it (same run id)" if r["run_id"] and twin["run_id"] == r["run_id"]
               else "the same run again (identical walker energies: a same-seed rerun)")
        warnings.append(f"{r['file']} is {why} as {twin['file']}; counted once")
    return kept


def _check_compatible(records: list[dict]) -> None:
    """Refuse runs that differ in anything but the temperature (and seed, and a MALA or auto dt).

    Every recorded parameter is compared except :data:`_FREE`; a typed potential
    is compared algebraically with its params substituted (SymPy trees from the
    safe parser, never ``sympify``), so ``x1**4 + x0**2`` combines with
    ``x0**2 + x1**4``, and ``a*x0**2`` (a = 1) with ``x0**2``; parameter
    arrays (a network's w*, its inline data) must be equal too.
    """
    first = records[0]
    p0 = first["parameters"]
    typed = first["parameters"].get("kind") == "langevin"
    u0 = _potential(p0, first["file"]) if typed else None
    for r in records[1:]:
        p = r["parameters"]
        if typed and p.get("kind") == "langevin":
            if not _same_potential(u0, _potential(p, r["file"])):
                raise ValueError(f"{r['file']} is a run of U = {p.get('potential')!r} and "
                                 f"{first['file']} of U = {p0.get('potential')!r}; give the runs "
                                 "of one potential")
            skip = _FREE | {"potential", "params"}
        else:
            skip = _FREE
        for key in sorted(set(p0) | set(p)):
            a, b = p0.get(key), p.get(key)
            if key in skip or (key == "at" and not float(p0.get("localize") or 0.0)):
                continue  # x* means nothing without a localizer
            if key == "localize":
                a, b = float(a or 0.0), float(b or 0.0)
            if a != b:
                raise ValueError(f"{r['file']} has {key} = {b!r} but {first['file']} has {a!r}; "
                                 "runs are combined only when all but the temperature match")
        for key in sorted(set(first["arrays"]) | set(r["arrays"])):
            if key.endswith("start"):
                continue
            a, b = first["arrays"].get(key), r["arrays"].get(key)
            if a is None or b is None or not np.array_equal(a, b):
                raise ValueError(f"{r['file']} and {first['file']} differ in /parameters/{key}; "
                                 "runs are combined only when all but the temperature match")
        auto = p0.get("dt_auto") or p.get("dt_auto")
        if p0.get("method") == "em" and p0.get("dt") != p.get("dt") and not auto:
            raise ValueError(f"{r['file']} has dt = {p.get('dt')!r} but {first['file']} has "
                             f"{p0.get('dt')!r}; Euler–Maruyama's bias depends on dt, so its runs "
                             "are combined only at one dt")


def default_u_min(parameters: dict, path=None) -> float | None:
    """Return the default U_min: U(x*) for a localized run, else 0.

    Parameters
    ----------
    parameters : dict
        A run's parameters.
    path : path-like, optional
        The run's file: a built-in network's U(w*) needs its data, which the
        rebuilt model reads (data only, never code).

    Returns
    -------
    float or None
        U at ``at`` when ``localize`` > 0 (a typed expression, or a built-in
        network with its file), 0 when not localized, None when U(x*) cannot
        be computed here (a PyTorch module is not imported by a reader).
    """
    if not float(parameters.get("localize") or 0.0) > 0:
        return 0.0
    if parameters.get("kind") == "langevin" and parameters.get("potential") is not None:
        at = np.asarray(parameters["at"], dtype=np.float64)
        return float(_expression_of(parameters).energy_numpy(at))
    if parameters.get("kind") == "network" and path is not None:
        from fastwalk.io.reader import Run

        with Run(path) as run:
            model = run.model
        at = model.at if model.at is not None else np.full(model.dim, model.center, dtype=np.float64)
        return float(model.energy(at[None, :])[0])
    return None


def _max_curvature(parameters: dict) -> float | None:
    """Return the largest Hessian eigenvalue of U over the model's probe points (None: unknown)."""
    if parameters.get("kind") != "langevin" or parameters.get("potential") is None:
        return None
    from fastwalk.models.langevin import LangevinBrownian

    try:
        return LangevinBrownian.from_parameters(parameters, {}).max_curvature()[0]
    except ValueError:
        return None


def _diagnose_run(r: dict, u_min: float) -> dict[str, Any]:
    """λ̂(β) of one run with its diagnostics and warnings (module docstring, diagnostics module)."""
    from fastwalk.analysis import diagnostics as dx

    beta = 1.0 / float(r["parameters"]["temperature"])
    try:
        estimate = run_estimate(beta, r["sums"], r["counts"], u_min)
    except ValueError as exc:
        raise MissingDataError(f"{r['file']}: {exc}") from None
    counted = r["counts"] > 0
    means = r["sums"][counted] / r["counts"][counted]
    steps = float(np.mean(r["counts"][counted]))
    burn_in = int(r["settings"].get("burn_in", 0))
    warnings: list[str] = []
    name = r["file"]
    ess = rhat = tau = None
    method = None
    heat = ((beta * beta * r["snapshot_variance"], None) if r["snapshot_variance"] is not None
            else (None, None))
    if r["chains"] is not None:
        chains = r["chains"][counted] if r["chains"].shape[0] == counted.size else r["chains"]
        ess, rhat = dx.effective_sample_size(chains), dx.split_rhat(chains)
        heat = _heat_capacity(chains, beta)
        method = "frames: rank-normalised split R-hat and bulk ESS (Vehtari et al. 2021)"
    elif r["snapshot_variance"] is not None:
        mixing = dx.walker_mixing(means, r["snapshot_variance"])
        ess, rhat = mixing["ess"], mixing["rhat"]
        method = "walker means: ESS = W·Var(U)/Var(walker means), classic R-hat"
    if ess is not None and math.isfinite(ess) and ess > 0:
        tau = means.size * steps / ess
    outliers = dx.outlying_walkers(means, beta, u_min)
    walker_index = np.flatnonzero(counted)
    outlying = [int(walker_index[i]) for i in outliers["walkers"]]
    acceptance = None
    if r["accepted"] is not None:
        acceptance = dx.acceptance_summary(r["accepted"], r["counts"])
    elif r["acceptance_rate"] is not None:
        acceptance = {"mean": r["acceptance_rate"], "min": None, "median": None, "max": None,
                      "stuck": []}
    stuck = sorted(set(outlying) | set(acceptance["stuck"] if acceptance else []))
    if stuck:
        shown = ", ".join(str(i) for i in stuck[:10]) + (" …" if len(stuck) > 10 else "")
        why = []
        if outlying:
            why.append(f"time-averaged λ̂ from {min(outliers['lambda_hat']):.3g} to "
                       f"{max(outliers['lambda_hat']):.3g} against a median "
                       f"{outliers['median_lambda_hat']:.3g}")
        if acceptance and acceptance["stuck"]:
            why.append(f"{len(acceptance['stuck'])} accepting under a tenth of the median "
                       f"acceptance {acceptance['median']:.2g}")
        warnings.append(f"{name}: {len(stuck)} walker(s) stuck or outlying (walkers {shown}: "
                        f"{'; '.join(why)}); start them on the zero set, lower --dt, or lengthen "
                        "the burn-in")
    if rhat is not None and rhat > dx.RHAT_THRESHOLD:
        warnings.append(f"{name}: R-hat = {rhat:.3g} > {dx.RHAT_THRESHOLD} (the walkers have not "
                        "mixed: run longer)")
    if tau is not None and burn_in < dx.BURN_IN_TIMES * tau:
        warnings.append(f"{name}: burn-in {burn_in} steps is shorter than {dx.BURN_IN_TIMES:g} "
                        f"autocorrelation times of the energy ({tau:.3g} steps); lengthen --burn-in")
    if estimate["walkers"] < _FEW_WALKERS:
        from scipy import stats

        coverage = 2 * stats.t.cdf(2.0, estimate["walkers"] - 1) - 1
        warnings.append(f"{name}: only {estimate['walkers']} walkers: the standard error comes "
                        f"from their spread with {estimate['walkers'] - 1} degrees of freedom, and "
                        f"±2 standard errors cover only {100 * coverage:.0f} % (Student t); run "
                        f"at least {_FEW_WALKERS} walkers")
    if tau is not None and r["series"] is not None:
        from fastwalk.analysis.diagnostics import DRIFT_Z, drift

        found = drift(*r["series"], tau)
        if found is not None and abs(found["z"]) > DRIFT_Z:
            warnings.append(f"{name}: the mean energy still drifts after burn-in (first half of the "
                            f"records {found['first']:.6g}, second half {found['second']:.6g}: "
                            f"{found['z']:.3g} standard errors); lengthen --burn-in")
    se = estimate["mean_energy_stderr"]
    if estimate["mean_energy"] < u_min - 3 * se:
        warnings.append(f"{name}: U_min = {u_min:g} lies above ⟨U⟩ = {estimate['mean_energy']:.6g} "
                        f"± {se:.2g}, so λ̂ is negative; give --u-min the potential's minimum")
    nu = (singular_fluctuation(r["fluctuation"]["first"][counted], r["fluctuation"]["second"][counted],
                               beta) if isinstance(r["fluctuation"], dict) else (None, None))
    return {**estimate, "file": name, "temperature": float(r["parameters"]["temperature"]),
            "dt": float(r["parameters"]["dt"]),
            "localize": float(r["parameters"].get("localize") or 0.0), "seed": str(r["seed"]),
            "status": r["status"], "steps_counted": steps, "burn_in": burn_in,
            "ess": ess, "rhat": rhat, "diagnostics_method": method, "autocorrelation_steps": tau,
            "acceptance": acceptance, "outlying_walkers": stuck,
            "heat_capacity": heat[0], "heat_capacity_stderr": heat[1],
            "singular_fluctuation": nu[0], "singular_fluctuation_stderr": nu[1],
            "_nu_note": None if isinstance(r["fluctuation"], dict) else r["fluctuation"],
            "_means": r["sums"] / np.maximum(r["counts"], 1), "_counted": counted,
            "warnings": warnings}


def shared_stream_covariance(beta, walker_means, lambda_hat_stderr, seeds) -> np.ndarray | None:
    """Return the covariance of the runs' λ̂ when some share a seed (same streams), else None.

    Walker w of two runs with one seed draws the same random numbers (its
    stream depends on the seed and w alone), so their time averages are
    paired: cov(λ̂_i, λ̂_j) = β_i β_j cov_w(Ū_i,w, Ū_j,w)/W, estimated from the
    paired walkers. Runs of different seeds are independent (zero).

    Parameters
    ----------
    beta : array_like
        The runs' β.
    walker_means : sequence of array_like
        Each run's per-walker time averages Ū_w (NaN for a walker with no counted step).
    lambda_hat_stderr : array_like
        The runs' standard errors (the diagonal).
    seeds : sequence
        The runs' seeds.

    Returns
    -------
    numpy.ndarray or None
        ``[n][n]``, or None when no two runs share a seed.
    """
    groups: dict[Any, list[int]] = {}
    for i, seed in enumerate(seeds):
        groups.setdefault(seed, []).append(i)
    shared = [g for g in groups.values() if len(g) > 1]
    if not shared:
        return None
    covariance = np.diag(np.asarray(lambda_hat_stderr, dtype=np.float64) ** 2)
    for group in shared:
        for pos, i in enumerate(group):
            for j in group[pos + 1:]:
                a, b = np.asarray(walker_means[i]), np.asarray(walker_means[j])
                if a.shape != b.shape:
                    continue
                both = np.isfinite(a) & np.isfinite(b)
                if both.sum() < 3:
                    continue
                pair = np.cov(a[both], b[both])[0, 1]
                covariance[i, j] = covariance[j, i] = beta[i] * beta[j] * pair / both.sum()
    return covariance


def _heat_capacity(chains: np.ndarray, beta: float) -> tuple[float, float]:
    """β²Var(U) over every walker's frames, and its jackknife standard error over walkers.

    Walkers are independent, so leaving one out at a time gives an honest
    error whatever the correlation along each trajectory.
    """
    first = chains.mean(axis=1)
    second = (chains * chains).mean(axis=1)
    w = first.size
    variance = float(second.mean() - first.mean() ** 2)
    left_out = ((second.sum() - second) / (w - 1) - ((first.sum() - first) / (w - 1)) ** 2)
    stderr = math.sqrt((w - 1) / w * float(np.sum((left_out - left_out.mean()) ** 2)))
    return beta * beta * variance, beta * beta * stderr


def _covariance(runs: list[dict], warnings: list[str]) -> np.ndarray | None:
    """Return :func:`shared_stream_covariance` of the runs, with its warning."""
    seeds = [r["seed"] for r in runs]
    means = [np.where(r["_counted"], r["_means"], np.nan) for r in runs]
    covariance = shared_stream_covariance([r["beta"] for r in runs], means,
                                          [r["lambda_hat_stderr"] for r in runs], seeds)
    if covariance is None:
        return None
    shared = sorted({s for s in seeds if seeds.count(s) > 1})
    names = "; ".join(", ".join(r["file"] for r in runs if r["seed"] == s) for s in shared)
    if np.any(np.linalg.eigvalsh(covariance) <= 0):
        warnings.append(f"runs share a seed (so their walkers share random streams) and their "
                        f"covariance cannot be estimated from the walkers ({names}); the error "
                        "bars treat them as independent and are too small: give each run its own "
                        "seed")
        return None
    sd = np.sqrt(np.diag(covariance))
    largest = float(np.max(np.abs(covariance / np.outer(sd, sd) - np.eye(len(runs)))))
    warnings.append(f"runs share a seed, so their walkers share random streams and their λ̂ are "
                    f"correlated (up to {largest:.2f}): the fit uses their covariance measured "
                    f"from paired walkers ({names})")
    return covariance


#: a fitted λ whose standard error exceeds this fraction of |λ| is reported as undetermined
_IMPRECISE = 0.2


def _range_warning(beta, y, s, covariance, fit: dict, warnings: list[str]) -> None:
    """Warn when λ moves as the hottest third of the temperatures is left out.

    The law family is Watanabe's asymptotic expansion; where the sweep starts too hot for it,
    the fit can absorb the missing terms with a good χ² and a biased λ (x0²x1² under a
    Gaussian prior over β = 10..100: 0.483 ± 0.002 against 1/2). The refit of the same model on
    the colder runs is a Hausman-type check: under the model the difference of the nested
    estimates has variance se_sub² − se_full², and a difference beyond 3 of its standard errors
    (probability 0.3 % when the model holds) means finite-β terms the family lacks.
    """
    distinct = np.unique(beta)
    keep = beta >= distinct[distinct.size // 3]
    if distinct.size // 3 == 0 or np.unique(beta[keep]).size < fit["parameters"] + 1:
        return
    sub_covariance = None if covariance is None else covariance[np.ix_(keep, keep)]
    try:
        sub = fit_learning_coefficient(beta[keep], y[keep], s[keep], covariance=sub_covariance,
                                       multiplicity=fit["multiplicity"],
                                       power_correction=fit["power_correction"] is not None)
    except ValueError:
        return
    variance = max(sub["lambda_stderr"] ** 2 - fit["lambda_stderr"] ** 2, 0.25 * sub["lambda_stderr"] ** 2)
    shift = sub["lambda"] - fit["lambda"]
    if abs(shift) > 3.0 * math.sqrt(variance):
        warnings.append(f"λ depends on the temperature range: without the hottest third of the runs it "
                        f"is {sub['lambda']:.4g} ± {sub['lambda_stderr']:.2g} (all: {fit['lambda']:.4g}); "
                        "the hot runs are outside the asymptotic law: extend the sweep to higher β")


def _fit_warnings(fit: dict, warnings: list[str]) -> None:
    if fit["chi2_pvalue"] is not None and fit["chi2_pvalue"] < _POOR_FIT:
        warnings.append(f"the fit is poor: chi2 = {fit['chi2']:.3g} for {fit['dof']} degrees of "
                        f"freedom (p = {fit['chi2_pvalue']:.2g}); the runs disagree with every model "
                        "(not equilibrated, too hot for the box, or a bias): the error bar is "
                        "scaled up but λ may be wrong")
    if fit["at_bound"]:
        warnings.append(f"fitted parameter(s) at their bound: {', '.join(fit['at_bound'])}; the "
                        "model does not fit these data freely (widen the sweep or fix "
                        "--multiplicity)")
    if not fit["lambda_stderr"] < _IMPRECISE * max(abs(fit["lambda"]), _IMPRECISE):
        warnings.append(f"λ is not determined by these runs: ± {fit['lambda_stderr']:.2g} on "
                        f"{fit['lambda']:.4g} (the fitted corrections trade off against λ over this "
                        "β range); extend the sweep to higher β, or fix --multiplicity")
    others = sorted({r["multiplicity"] for r in fit["rivals"]} - {fit["multiplicity"]})
    if others:
        alternatives = "; ".join(f"m = {r['multiplicity']}: λ = {r['lambda']:.4g} ± "
                                 f"{r['lambda_stderr']:.2g}" for r in fit["rivals"]
                                 if r["multiplicity"] != fit["multiplicity"])
        warnings.append(f"the data cannot settle m: m = {fit['multiplicity']} is chosen but "
                        f"{alternatives} is within {_RIVAL_AICC:g} of the best AICc; sweep a wider "
                        "range of β or fix --multiplicity")


def llc_report(paths, *, u_min: float | None = None, multiplicity: int | None = None,
               sample_size: int | None = None) -> dict[str, Any]:
    """Return λ̂(β) of every run, the fitted λ and m, diagnostics, warnings and the free energy.

    Parameters
    ----------
    paths : sequence of path-like
        Langevin run files (one per temperature; several at one temperature
        are allowed and combined).
    u_min : float, optional
        The minimum of U (default: U(x*) for a localized run, else 0).
    multiplicity : int, optional
        Fix m instead of choosing it.
    sample_size : int, optional
        n, when U is a total loss nL_n of n data: then ``wbic`` is ⟨U⟩ at
        β = 1/log n (interpolated in log β between the runs that bracket it).

    Returns
    -------
    dict
        JSON-able: ``lambda``, ``lambda_stderr``, ``multiplicity`` (None for a
        single temperature), ``fit``, ``runs`` (per file: the estimate,
        ``ess``, ``rhat``, ``acceptance``, ``outlying_walkers``,
        ``heat_capacity``, ``warnings``), ``ess`` (smallest over runs),
        ``rhat`` (largest), ``free_energy``, ``heat_capacity`` (per β: the
        runs' β²Var(U) and, with a fit, ``from_fit`` = y − dy/d log β of the
        fitted curve), ``singular_fluctuation`` (None, with a note why),
        ``wbic``,
        ``u_min``, ``local`` and ``warnings`` (every warning of the runs and
        the fit).

    Raises
    ------
    fastwalk.errors.MissingDataError
        If a file is not a langevin run with per-walker energies.
    ValueError
        If no path is given, or the runs differ in anything but the temperature.

    Examples
    --------
    One MALA run at β = 100 on a regular minimum in d = 2 (λ = 1):

    >>> import fastwalk as fw
    >>> model = fw.LangevinBrownian("x0**2 + x1**2", 2, temperature=0.01, dt="auto", method="mala")
    >>> fw.simulate(model, walkers=200, steps=2000, seed=1, burn_in=1000, out="regular.h5",
    ...             progress=False).close()
    >>> report = llc_report(["regular.h5"])
    >>> round(report["lambda"], 1), report["multiplicity"], report["rhat"] < 1.05
    (1.0, None, True)
    """
    paths = list(paths)
    if not paths:
        raise ValueError("give at least one run file")
    warnings: list[str] = []
    records = _drop_duplicates([_read_run(p) for p in paths], warnings)
    _check_compatible(records)
    parameters = records[0]["parameters"]
    if u_min is None:
        u_min = default_u_min(parameters, records[0]["file"])
        if u_min is None:
            u_min = 0.0
            warnings.append(f"U_min defaults to 0 for a local {parameters.get('kind')} run; λ̂ needs "
                            "U(w*): give --u-min")
    else:
        u_min = validate.real("u_min", u_min)
    if sample_size is None and isinstance(parameters.get("samples"), int) and parameters["samples"] >= 2:
        sample_size = parameters["samples"]  # U = n·L_n of a network's n data
    for r in records:
        if r["status"] != "completed" or r["committed_step"] < r["target_steps"]:
            warnings.append(f"{r['file']} is incomplete (status {r['status']}, "
                            f"{r['committed_step']} of {r['target_steps']} steps committed): its "
                            "estimate uses the committed steps only")
    runs = sorted((_diagnose_run(r, u_min) for r in records), key=lambda r: r["beta"])
    for run in runs:
        warnings.extend(run["warnings"])
    covariance = _covariance(runs, warnings)
    beta = np.array([r["beta"] for r in runs])
    y = np.array([r["lambda_hat"] for r in runs])
    s = np.array([r["lambda_hat_stderr"] for r in runs])
    _em_warning(parameters, runs, warnings)
    report: dict[str, Any] = {"u_min": u_min, "local": float(parameters.get("localize") or 0) > 0}
    distinct = np.unique(beta)
    if distinct.size == 1 and multiplicity is None:
        weights = s**-2
        report.update(lambda_=float(np.sum(weights * y) / weights.sum()),
                      lambda_stderr=float(weights.sum() ** -0.5), multiplicity=None, fit=None)
        warnings.append("one temperature: λ̂(β) = β(⟨U⟩ − U_min) carries the −P′/P term "
                        "(−(m − 1)/log β for m > 1); λ and m need a sweep")
    else:
        fit = fit_learning_coefficient(beta, y, s, covariance=covariance, multiplicity=multiplicity,
                                       max_multiplicity=max(1, int(parameters.get("dim") or 1)))
        report.update(lambda_=fit["lambda"], lambda_stderr=fit["lambda_stderr"],
                      multiplicity=fit["multiplicity"], fit=fit)
        _fit_warnings(fit, warnings)
        _range_warning(beta, y, s, covariance, fit, warnings)
    report["lambda"] = report.pop("lambda_")
    if report["lambda"] + 2 * report["lambda_stderr"] < 0:
        warnings.append(f"λ = {report['lambda']:.4g} ± {report['lambda_stderr']:.2g} is negative, "
                        "which no potential has: U_min is wrong (give --u-min) or the runs are "
                        "not equilibrated")
    report.update(_thermodynamics(runs, distinct, beta, sample_size))
    if report["fit"] is not None:  # c = y − dy/dL of the fitted curve, to compare with the runs'
        for entry in report["heat_capacity"]:
            log_b, h = math.log(entry["beta"]), 1e-4
            slope = (curve_of(report["fit"], [log_b + h]) - curve_of(report["fit"], [log_b - h]))
            entry["from_fit"] = float(curve_of(report["fit"], [log_b])[0] - slope[0] / (2 * h))
    finite_ess = [r["ess"] for r in runs if r["ess"] is not None]
    finite_rhat = [r["rhat"] for r in runs if r["rhat"] is not None]
    report["ess"] = _plain(min(finite_ess)) if finite_ess else None
    report["rhat"] = _plain(max(finite_rhat)) if finite_rhat else None
    keys = ("file", "beta", "temperature", "dt", "mean_energy", "mean_energy_stderr", "lambda_hat",
            "lambda_hat_stderr", "walkers", "localize", "seed", "status", "steps_counted",
            "burn_in", "ess", "rhat", "diagnostics_method", "autocorrelation_steps", "acceptance",
            "outlying_walkers", "heat_capacity", "heat_capacity_stderr", "singular_fluctuation",
            "singular_fluctuation_stderr", "warnings")
    report["runs"] = [{key: _plain(r[key]) for key in keys} for r in runs]
    report["warnings"] = warnings
    return report


def _plain(value):
    """Return inf as the string "inf" (strict JSON would print null, which reads as "not computed")."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _em_warning(parameters: dict, runs: list[dict], warnings: list[str]) -> None:
    from fastwalk.analysis.diagnostics import em_bias

    if parameters.get("method") != "em":
        return
    curvature = _max_curvature(parameters)
    if curvature is None:
        warnings.append("Euler–Maruyama runs carry an O(dt) bias that cannot be bounded for "
                        "this potential; compare with a run at dt/2 or use --method mala")
        return
    gamma = float(parameters.get("localize") or 0.0)  # the fixed prior adds T·γ to U's curvature
    biases = [em_bias(r["dt"], curvature + r["temperature"] * gamma) for r in runs]
    worst = max(b * abs(r["lambda_hat"]) / r["lambda_hat_stderr"] for b, r in zip(biases, runs, strict=True))
    if worst > 1.0:
        warnings.append(f"Euler–Maruyama at dt = {parameters['dt']:g} biases ⟨U⟩ by up to a "
                        f"factor {1 + max(biases):.3g} (the curvature of U reaches {curvature:.3g} in "
                        f"the box; relative bias κdt/(2 − κdt)), up to {worst:.3g} standard errors of "
                        "λ̂: halve dt and compare, or use --method mala (exact at any dt)")


def _fluctuation_entries(runs, distinct) -> dict[str, Any]:
    """ν per β (runs of one β combined by inverse variance), or None with the reason."""
    entries = []
    for b in distinct:
        same = [r for r in runs if r["beta"] == b and r["singular_fluctuation"] is not None]
        errors = np.array([r["singular_fluctuation_stderr"] for r in same], dtype=np.float64)
        if not same or not np.all(errors > 0):
            continue
        weights = errors**-2.0
        values = np.array([r["singular_fluctuation"] for r in same])
        entries.append({"beta": float(b), "singular_fluctuation": float(np.sum(weights * values)
                                                                         / weights.sum()),
                        "stderr": float(weights.sum() ** -0.5)})
    if entries:
        return {"value": entries,
                "note": "ν = β/2·Σ_i Var_w(ℓ_i) from the recorded positions' per-datum losses "
                        "(Watanabe 2010), jackknife standard error over walkers"}
    notes = [r["_nu_note"] for r in runs if r["_nu_note"]]
    return {"value": None, "note": notes[0] if notes else "ν needs at least two walkers"}


def _thermodynamics(runs, distinct, beta, sample_size) -> dict[str, Any]:
    """Free energy by thermodynamic integration, heat capacity per β and WBIC where defined."""
    means, errors, heat = [], [], []
    for b in distinct:
        same = [r for r in runs if r["beta"] == b]
        w = np.array([r["mean_energy_stderr"] for r in same]) ** -2.0
        e = np.array([r["mean_energy"] for r in same])
        means.append(float(np.sum(w * e) / w.sum()))
        errors.append(float(w.sum() ** -0.5))
        values = [r["heat_capacity"] for r in same if r["heat_capacity"] is not None]
        heat.append(float(np.mean(values)) if values else None)
    energy = free_energy(distinct, means, errors)
    out: dict[str, Any] = {"free_energy": [
        {"beta": float(b), "free_energy": float(f), "free_energy_stderr": float(e)}
        for b, f, e in zip(energy["beta"], energy["free_energy"], energy["free_energy_stderr"],
                           strict=True)]}
    out["heat_capacity"] = [{"beta": float(b), "heat_capacity": h}
                            for b, h in zip(distinct, heat, strict=True)]
    out["singular_fluctuation"] = _fluctuation_entries(runs, distinct)
    out["wbic"] = None
    if sample_size is not None:
        n = validate.integer("sample_size", sample_size, minimum=2)
        target = 1.0 / math.log(n)
        out["wbic"] = _interpolate_energy(distinct, np.array(means), np.array(errors), target, n)
    return out


def _interpolate_energy(beta, energy, stderr, target, n) -> dict[str, Any]:
    """⟨U⟩ at β = target, linear in log β between the two runs that bracket it."""
    where = {"sample_size": n, "beta": target}
    if not beta.min() * (1 - 1e-3) <= target <= beta.max() * (1 + 1e-3):
        return {**where, "wbic": None, "wbic_stderr": None,
                "note": f"β = 1/log n = {target:.4g} lies outside the runs' β range "
                        f"[{beta.min():.4g}, {beta.max():.4g}]: add a run at T = log n"}
    nearest = int(np.argmin(np.abs(np.log(beta / target))))
    if abs(math.log(beta[nearest] / target)) < 1e-3:  # a run at T = log n, to the digits typed
        return {**where, "wbic": float(energy[nearest]), "wbic_stderr": float(stderr[nearest]),
                "note": f"the run at β = {beta[nearest]:.6g}"}
    j = int(np.searchsorted(beta, target))
    t = (math.log(target) - math.log(beta[j - 1])) / (math.log(beta[j]) - math.log(beta[j - 1]))
    return {**where, "wbic": float((1 - t) * energy[j - 1] + t * energy[j]),
            "wbic_stderr": float(math.hypot((1 - t) * stderr[j - 1], t * stderr[j])),
            "note": "interpolated linearly in log β between the two runs that bracket it"}
