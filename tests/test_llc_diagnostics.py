"""Convergence diagnostics against chains whose answers are known (AR(1), planted outliers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastwalk.analysis import diagnostics as dx


def _ar1(seed: int, chains: int, draws: int, rho: float) -> np.ndarray:
    """Stationary AR(1) chains of unit variance; τ_int = (1 + ρ)/(1 − ρ)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(chains, draws)) * math.sqrt(1 - rho**2)
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + noise[:, t]
    return x


def test_bulk_ess_of_ar1_chains_matches_its_autocorrelation_time():
    x = _ar1(0, 50, 1000, 0.8)
    expected = 50 * 1000 * (1 - 0.8) / (1 + 0.8)
    # over 10 seeds the ratio measured 0.99 ± 0.056: 4 of its standard deviations
    assert dx.effective_sample_size(x) == pytest.approx(expected, rel=0.23)


def test_walker_mixing_ess_of_ar1_chains():
    x = _ar1(1, 400, 1000, 0.8)
    expected = 400 * 1000 * (1 - 0.8) / (1 + 0.8)
    mixing = dx.walker_mixing(x.mean(axis=1), 1.0)
    # W·V/Var(means): relative error √(2/(W − 1)) = 7 % for 400 walkers, 3.5 of them
    assert mixing["ess"] == pytest.approx(expected, rel=0.25)
    assert 1.0 < mixing["rhat"] < 1.01
    assert dx.walker_mixing(np.array([0.0, 10.0]), 1.0)["rhat"] == math.inf


def test_split_rhat_flags_walkers_that_do_not_mix():
    x = _ar1(2, 40, 400, 0.5)
    assert 1.0 <= dx.split_rhat(x) < 1.02  # 40 chains of ~130 effective draws each
    shifted = x.copy()
    shifted[:4] += 3.0  # four walkers in another mode
    assert dx.split_rhat(shifted) > dx.RHAT_THRESHOLD
    drifting = x + np.linspace(0, 2, 400)  # not stationary: the split halves disagree
    assert dx.split_rhat(drifting) > dx.RHAT_THRESHOLD


def test_outlying_walkers_named_and_healthy_gamma_means_not():
    rng = np.random.default_rng(3)
    for shape in (1, 2, 5, 20):  # per-walker means of a healthy run: Gamma-like
        healthy = rng.gamma(shape, size=2000) / shape
        assert dx.outlying_walkers(healthy, 1.0, 0.0)["walkers"] == []
    means = rng.gamma(2, size=300) / 2
    means[[5, 77]] = 100.0 * np.median(means)  # stuck far up
    means[9] = -3.0  # below U_min
    found = dx.outlying_walkers(means, 1.0, 0.0)
    assert sorted(found["walkers"]) == [5, 9, 77]


def test_acceptance_summary_names_walkers_that_accept_nothing():
    proposed = np.full(10, 1000)
    accepted = np.full(10, 700)
    accepted[[2, 8]] = [3, 0]
    summary = dx.acceptance_summary(accepted, proposed)
    assert summary["stuck"] == [2, 8]
    assert summary["median"] == pytest.approx(0.7)
    assert summary["mean"] == pytest.approx(accepted.sum() / proposed.sum())


def test_em_bias_is_the_ou_variance_factor():
    """EM on κx²/2: stationary variance T/(κ(1 − κdt/2)); compare with the recursion's own sum."""
    kappa, dt, temperature = 2.0, 0.45, 0.1
    a = 1 - kappa * dt
    variance = 2 * temperature * dt / (1 - a * a)  # Σ a^{2k}·2T dt
    exact = variance / (temperature / kappa)
    assert 1 + dx.em_bias(dt, kappa) == pytest.approx(exact, rel=1e-12)
    assert dx.em_bias(1.0, 2.0) == math.inf
