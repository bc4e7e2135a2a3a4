"""Convergence diagnostics of a Langevin run: ESS, R̂, outlying walkers, acceptance, EM bias.

A run of W walkers is W chains. Two routes, by what the file holds:

- **Frames** (``--every K``): each walker's energy series U(x_w(t)) is
  recomputed from its positions with the run's own expression; then
  :func:`split_rhat` is the rank-normalised split-R̂ of Vehtari, Gelman,
  Simpson, Carpenter & Bürkner (*Rank-normalization, folding, and
  localization: an improved R̂*, Bayesian Analysis 16, 2021: the
  larger of the bulk and the folded R̂) and :func:`effective_sample_size`
  their bulk ESS (ibid.; Geyer's initial monotone sequence on the
  combined-chain autocorrelation).
- **Walker means only** (no frames): :func:`walker_mixing` uses each
  walker's time average Ū_w (the ``walker_energy_sum/count`` accumulators)
  and the stationary variance V of U across walkers at the recorded
  snapshots (``sem_energy``). A walker's mean over n steps has variance
  V·τ/n, so ESS = W·V/Var_w(Ū_w) (batch means with one batch per walker) and
  the classic (unsplit) R̂ of Gelman & Rubin (1992) is √(V/(V − Var_w(Ū_w)))
  (the within-chain variance is V less the between-chain part).

Thresholds: R̂ above :data:`RHAT_THRESHOLD` = 1.05 warns (Vehtari et al.
advise 1.01 for a few long chains; fastwalk runs hundreds of short ones, for
which R̂ ≈ 1 + 1/(2·ESS per walker), so 1.01 would flag healthy runs of
≲ 50 effective samples per walker, while stuck or unmixed walkers give
R̂ ≫ 1.05). A walker is *outlying* when the robust z-score (median,
1.4826·MAD) of log β(Ū_w − U_min) against the others exceeds :data:`OUTLIER_Z`
(above: a walker stuck on a steep start sits orders of magnitude up; the log
because the per-walker means of a small-λ law are Gamma-like, skewed up), or
the robust z-score of β(Ū_w − U_min) itself is below −:data:`OUTLIER_Z`
(below: the log's long lower tail would flag ~1 healthy walker in 1000 when
each walker holds a single effective sample; measured 0 in 200 000 Gamma(k)
walkers, k = 1..20, with this rule). A burn-in shorter than :data:`BURN_IN_TIMES` ×
the integrated autocorrelation time τ of the energy warns (an initial
offset of ~100 standard errors decays as e^(−t/τ) below one in ~5τ).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["effective_sample_size", "split_rhat", "walker_mixing", "outlying_walkers",
           "acceptance_summary", "em_bias", "drift", "RHAT_THRESHOLD", "OUTLIER_Z",
           "BURN_IN_TIMES", "DRIFT_Z"]

#: R̂ above this warns (see the module docstring for why not 1.01)
RHAT_THRESHOLD = 1.05
#: a walker whose robust z-score of log β(Ū − U_min) exceeds this is named as outlying
OUTLIER_Z = 5.0
#: the burn-in should last at least this many integrated autocorrelation times
BURN_IN_TIMES = 5.0
#: a difference of the two halves' mean energy beyond this many standard errors is a drift
DRIFT_Z = 4.0


def _chains(chains) -> np.ndarray:
    chains = np.asarray(chains, dtype=np.float64)
    if chains.ndim != 2 or chains.shape[0] < 1 or chains.shape[1] < 4:
        raise ValueError(f"chains must be [chains][draws] with >= 4 draws, got {chains.shape}")
    if not np.all(np.isfinite(chains)):
        raise ValueError("chains hold a non-finite value")
    return chains


def _split(chains: np.ndarray) -> np.ndarray:
    half = chains.shape[1] // 2
    return np.concatenate([chains[:, :half], chains[:, chains.shape[1] - half:]])


def _rank_normalise(chains: np.ndarray) -> np.ndarray:
    from scipy import special, stats

    ranks = stats.rankdata(chains, method="average").reshape(chains.shape)
    return special.ndtri((ranks - 0.375) / (chains.size + 0.25))


def _rhat(chains: np.ndarray) -> float:
    m, n = chains.shape
    within = float(np.mean(np.var(chains, axis=1, ddof=1)))
    between = float(n * np.var(chains.mean(axis=1), ddof=1)) if m > 1 else 0.0
    if within <= 0:
        return math.inf if between > 0 else 1.0
    return math.sqrt(((n - 1) / n * within + between / n) / within)


def split_rhat(chains) -> float:
    """Return the rank-normalised split-R̂ (Vehtari et al. 2021): max of bulk and folded.

    Parameters
    ----------
    chains : array_like
        ``[chains][draws]`` (>= 4 draws).

    Returns
    -------
    float
        R̂ (1 for perfectly mixed chains; inf when every chain is constant
        but they differ).
    """
    chains = _split(_chains(chains))
    bulk = _rhat(_rank_normalise(chains))
    folded = _rhat(_rank_normalise(np.abs(chains - np.median(chains))))
    return max(bulk, folded)


def _autocovariance(chains: np.ndarray) -> np.ndarray:
    """Biased autocovariance of each chain at lags 0..n−1 (FFT)."""
    n = chains.shape[1]
    centred = chains - chains.mean(axis=1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, size, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), size, axis=1)[:, :n] / n


def _ess(chains: np.ndarray) -> float:
    """ESS of ``[chains][draws]``: Geyer's initial monotone sequence on the combined ρ_t."""
    m, n = chains.shape
    acov = _autocovariance(chains)
    within = float(np.mean(acov[:, 0])) * n / (n - 1)
    var_plus = within * (n - 1) / n + (float(np.var(chains.mean(axis=1), ddof=1)) if m > 1 else 0.0)
    if var_plus <= 0:
        return float(m * n)
    rho = 1.0 - (within - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    pairs = rho[: 2 * (n // 2)].reshape(-1, 2).sum(axis=1)
    positive = np.flatnonzero(pairs <= 0)
    pairs = pairs[: positive[0]] if positive.size else pairs
    pairs = np.minimum.accumulate(pairs)  # the initial monotone sequence
    tau = max(-1.0 + 2.0 * float(pairs.sum()), 1.0 / math.log10(max(m * n, 10)))
    return float(m * n / tau)


def effective_sample_size(chains) -> float:
    """Return the bulk effective sample size (Vehtari et al. 2021) of ``[chains][draws]``.

    Parameters
    ----------
    chains : array_like
        ``[chains][draws]`` (>= 4 draws).

    Returns
    -------
    float
        ESS of the rank-normalised split chains (at most about draws × chains).
    """
    return _ess(_rank_normalise(_split(_chains(chains))))


def walker_mixing(walker_means, snapshot_variance: float) -> dict:
    """Return ESS and the classic R̂ from walkers' time averages and U's variance across walkers.

    Parameters
    ----------
    walker_means : array_like
        Each walker's time-averaged U after burn-in (>= 2 walkers).
    snapshot_variance : float
        The variance of U across walkers at a recorded step after burn-in
        (averaged over such steps): the stationary variance V.

    Returns
    -------
    dict
        ``ess`` = W·V/Var(Ū) (capped by nothing: compare with walker-steps),
        ``rhat`` = √(V/(V − Var(Ū))) (inf when Var(Ū) >= V: walkers that
        never mix), ``between_variance`` Var(Ū).
    """
    means = np.asarray(walker_means, dtype=np.float64)
    between = float(np.var(means, ddof=1))
    variance = float(snapshot_variance)
    if between <= 0:
        return {"ess": math.inf, "rhat": 1.0, "between_variance": between}
    ess = means.size * variance / between
    rhat = math.sqrt(variance / (variance - between)) if variance > between else math.inf
    return {"ess": float(ess), "rhat": rhat, "between_variance": between}


def outlying_walkers(walker_means, beta: float, u_min: float, threshold: float = OUTLIER_Z
                     ) -> dict:
    """Name the walkers whose time-averaged energy lies far from the others'.

    Parameters
    ----------
    walker_means : array_like
        Each walker's time-averaged U (walker index = position in the array).
    beta : float
        1/T.
    u_min : float
        U_min.
    threshold : float, optional
        The robust z-score beyond which a walker is named (module docstring).

    Returns
    -------
    dict
        ``walkers`` (indices, most extreme first), ``z`` (their scores) and
        ``lambda_hat`` (their β(Ū − U_min)); ``median_lambda_hat`` of all.
    """
    means = np.asarray(walker_means, dtype=np.float64)
    values = beta * (means - u_min)
    median = float(np.median(values))
    positive = values[values > 0]
    floor = 1e-12 * (float(np.median(positive)) if positive.size else 1.0)
    high = _robust_z(np.log(np.maximum(values, floor)))
    low = _robust_z(values)
    z = np.where(high > threshold, high, np.where(low < -threshold, low, 0.0))
    flagged = np.flatnonzero(z != 0.0)
    flagged = flagged[np.argsort(-np.abs(z[flagged]))]
    return {"walkers": [int(i) for i in flagged], "z": [float(z[i]) for i in flagged],
            "lambda_hat": [float(values[i]) for i in flagged], "median_lambda_hat": median}


def _robust_z(values: np.ndarray) -> np.ndarray:
    """(value − median)/(1.4826·MAD); zeros where the MAD vanishes."""
    centre = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - centre)))
    return (values - centre) / spread if spread > 0 else np.zeros_like(values)


def acceptance_summary(accepted, proposed) -> dict:
    """Summarise per-walker MALA acceptance and name walkers that accept almost nothing.

    Parameters
    ----------
    accepted, proposed : array_like
        Per-walker counts.

    Returns
    -------
    dict
        ``mean``, ``min``, ``median``, ``max`` of the per-walker rates and
        ``stuck`` (walkers whose rate is below a tenth of the median and below
        0.05).
    """
    accepted = np.asarray(accepted, dtype=np.float64)
    proposed = np.asarray(proposed, dtype=np.float64)
    rates = np.where(proposed > 0, accepted / np.maximum(proposed, 1), np.nan)
    valid = rates[np.isfinite(rates)]
    if not valid.size:
        return {"mean": None, "min": None, "median": None, "max": None, "stuck": []}
    median = float(np.median(valid))
    stuck = np.flatnonzero(np.isfinite(rates) & (rates < min(0.1 * median, 0.05)))
    return {"mean": float(accepted.sum() / max(proposed.sum(), 1)), "min": float(valid.min()),
            "median": median, "max": float(valid.max()), "stuck": [int(i) for i in stuck]}


def em_bias(dt: float, curvature: float) -> float:
    """Return the relative bias of ⟨U⟩ that Euler–Maruyama's step makes on a quadratic of curvature κ.

    On U = κx²/2 the EM chain x ← (1 − κ dt)x + √(2T dt)ξ has stationary
    variance T/(κ(1 − κ dt/2)), so ⟨U⟩ is too large by the factor
    1/(1 − κ dt/2): relative bias κ dt/(2 − κ dt) (x0² with dt 0.45: ×1.82,
    0.5 → 0.91). The largest curvature in the box bounds it for other U.

    Parameters
    ----------
    dt : float
        The step.
    curvature : float
        κ, the largest Hessian eigenvalue of U (+ γ).

    Returns
    -------
    float
        κ dt/(2 − κ dt) (inf at or past the stability limit κ dt >= 2).
    """
    product = dt * curvature
    return product / (2.0 - product) if product < 2.0 else math.inf


def drift(steps, means, stderrs, tau: float) -> dict | None:
    """Compare the walker-mean energy over the first and the second half of the records.

    Each record's mean over W independent walkers has standard error s_k;
    two records Δ steps apart are correlated as e^(−2Δ/τ) (an exponential
    of integrated time τ), so the difference D of the halves' means has
    variance Σ_ij w_i w_j s_i s_j e^(−2|Δ_ij|/τ) with w = +1/k_A, −1/k_B. A
    stationary run gives D/√Var(D) of order 1; energy still relaxing after
    burn-in gives a large one (its slow mode is in τ only as far as the
    walker means saw it, so this complements the burn-in-against-τ rule).

    Parameters
    ----------
    steps, means, stderrs : array_like
        The records after burn-in: step, mean energy over walkers, its standard error.
    tau : float
        Integrated autocorrelation time of the energy, in steps.

    Returns
    -------
    dict or None
        ``first``, ``second`` (the halves' means) and ``z`` = D/√Var(D);
        None with fewer than 6 records or no spread.
    """
    steps = np.asarray(steps, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    stderrs = np.asarray(stderrs, dtype=np.float64)
    k = steps.size
    if k < 6 or not np.all(np.isfinite(means)) or not np.any(stderrs > 0):
        return None
    half = k // 2
    weights = np.concatenate([np.full(half, 1.0 / half), np.full(k - half, -1.0 / (k - half))])
    lag = np.abs(steps[:, None] - steps[None, :])
    correlation = np.exp(-2.0 * lag / max(tau, 1e-12))
    variance = float((weights * stderrs) @ correlation @ (weights * stderrs))
    if variance <= 0:
        return None
    first, second = float(means[:half].mean()), float(means[half:].mean())
    return {"first": first, "second": second, "z": (first - second) / math.sqrt(variance)}
