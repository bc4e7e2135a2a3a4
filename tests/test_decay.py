"""Tests of the ⟨cos θ⟩ decay laws and fit (fastwalk.analysis.decay)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from fastwalk.analysis.decay import (
    DecayFit,
    fit_decay,
    fit_report,
    mean_cos_theta_law,
    rms_chord_law,
    stationary_mean_chord,
    stationary_rms_chord,
    step_cos_factor,
    walk_rate,
)
from fastwalk.engine import MemorySink, Simulation
from fastwalk.errors import MissingDataError
from fastwalk.models.sphere import SphereBrownian

# n = 99, R = 1, D = 1/99: rate n D/R² = 1
DIM, RADIUS, DIFFUSION = 99, 1.0, 1.0 / 99


def _run(seed, walkers, dt, steps):
    model = SphereBrownian(DIM, RADIUS, DIFFUSION, dt, method="exact")
    sink = MemorySink()
    Simulation(model, walkers, steps, seed=seed, observe_every=1, sinks=[sink],
               handle_signals=False).run()
    return (np.array(sink.observable_times), sink.series("mean_cos_theta"),
            sink.series("sem_cos_theta"), model)


# ------------------------------------------------------------------------------ fit


def test_fit_recovers_d_within_two_percent():
    times, mean, sem, model = _run(seed=5, walkers=10_000, dt=0.05, steps=80)
    fit = fit_decay(times, mean, sem, dim=DIM, radius=RADIUS)
    assert abs(fit.D / DIFFUSION - 1.0) < 0.02
    assert abs(fit.D - DIFFUSION) < 4.0 * fit.D_stderr  # and within its own error
    assert fit.points_used == 80  # t = 0 (sem 0) is left out
    assert fit.D_stderr == pytest.approx(fit.rate_stderr * RADIUS**2 / DIM)
    report = fit_report(times, mean, sem, model.parameters())
    assert report["D"] == fit.D and report["rate_walk"] == pytest.approx(1.0, rel=1e-12)
    json.dumps(report)  # the CLI prints it as JSON


def test_fit_standard_error_is_honest_over_fifty_seeds():
    # 50 independent runs; the true D must fall within ±2σ in ~95.4% of them.
    # Under an honest σ the count is Binomial(50, 0.954): P(count <= 43) = 0.4%,
    # so 44..50 accepts it; a σ too small by the factor ~2.5 that ignoring the
    # correlation of one run's records gives (measured below) covers ~55%.
    covered = covered_naive = 0
    chi2_dof = []
    for seed in range(50):
        times, mean, sem, _ = _run(seed=1000 + seed, walkers=2000, dt=0.15, steps=20)
        fit = fit_decay(times, mean, sem, dim=DIM, radius=RADIUS)
        covered += abs(fit.D - DIFFUSION) < 2.0 * fit.D_stderr
        covered_naive += abs(fit.rate - 1.0) < 2.0 * fit.rate_stderr_naive
        chi2_dof.append(fit.chi2_dof)
        assert fit.rate_stderr > 1.5 * fit.rate_stderr_naive
    assert stats.binom.cdf(43, 50, 0.9545) < 0.01
    assert 44 <= covered <= 50
    assert covered_naive < 44  # the uncorrected error would fail this test
    # the decorrelated chi² is calibrated: mean chi²/dof = 1 within 4σ
    dof = fit.dof
    assert abs(np.mean(chi2_dof) - 1.0) < 4.0 * math.sqrt(2.0 / dof / len(chi2_dof))


def test_fit_ignores_noise_at_late_times_without_logs_or_clipping():
    # independent points (correlated=False) from the exact law plus Gaussian
    # noise; beyond t ~ 5 the mean is lost in the noise and often negative
    rng = np.random.default_rng(3)
    rate = 0.7
    times = np.linspace(0.1, 20.0, 200)
    sem = np.full_like(times, 0.01)
    mean = np.exp(-rate * times) + sem * rng.standard_normal(times.size)
    assert np.sum(mean < 0) > 20
    fit = fit_decay(times, mean, sem, correlated=False)
    assert abs(fit.rate - rate) < 4.0 * fit.rate_stderr
    assert fit.rate_stderr == pytest.approx(fit.rate_stderr_naive)
    assert 0.001 < fit.p_value < 0.999 and fit.dof == times.size - 1
    # a wrong law is flagged by the goodness of fit
    bent = np.exp(-rate * times**1.2) + sem * rng.standard_normal(times.size)
    assert fit_decay(times, bent, sem, correlated=False).p_value < 1e-6


def test_fit_needs_three_usable_points():
    t = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    mean = np.array([1.0, 0.5, 0.25, np.nan, 0.1])
    sem = np.array([0.0, 0.01, 0.01, 0.01, np.inf])
    with pytest.raises(MissingDataError, match="three usable points.*got 2 of 5"):
        fit_decay(t, mean, sem)
    with pytest.raises(MissingDataError):
        fit_decay([], [], [])
    with pytest.raises(ValueError, match="same length"):
        fit_decay([1, 2, 3], [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match=">= 0"):
        fit_decay([-1.0, 1.0, 2.0], [1, 1, 1], [1, 1, 1])


def test_fit_result_dict_has_the_cli_keys():
    t = np.linspace(0.5, 5.0, 10)
    fit = fit_decay(t, np.exp(-0.3 * t), np.full(10, 1e-3), dim=3, radius=2.0,
                    correlated=False)
    assert isinstance(fit, DecayFit)
    assert fit.rate == pytest.approx(0.3, rel=1e-9)
    assert fit.D == pytest.approx(0.3 * 4.0 / 3.0, rel=1e-9)
    out = fit.to_dict()
    for key in ("D", "D_stderr", "rate", "rate_stderr", "chi2_dof", "p_value", "points_used"):
        assert key in out
    json.dumps(out)
    no_sphere = fit_decay(t, np.exp(-0.3 * t), np.full(10, 1e-3))
    assert no_sphere.D is None and no_sphere.D_stderr is None


# ----------------------------------------------------------------------------- laws


def test_stationary_mean_chord_closed_form():
    assert stationary_mean_chord(1, 2.0) == pytest.approx(8.0 / math.pi, rel=1e-14)
    assert stationary_mean_chord(2) == pytest.approx(4.0 / 3.0, rel=1e-14)
    assert stationary_mean_chord(3) == pytest.approx(64.0 / (15.0 * math.pi), rel=1e-14)
    for dim in (7, 50):  # the angle's density ∝ sin^(n−1) θ, integrated directly
        chord = integrate.quad(lambda a, n=dim: 2 * math.sin(a / 2) * math.sin(a) ** (n - 1),
                               0, math.pi)[0]
        norm = integrate.quad(lambda a, n=dim: math.sin(a) ** (n - 1), 0, math.pi)[0]
        assert stationary_mean_chord(dim) == pytest.approx(chord / norm, rel=1e-10)
    values = [stationary_mean_chord(n) for n in (1, 2, 10, 100, 10_000, 1_000_000)]
    assert all(a < b for a, b in zip(values, values[1:], strict=False))
    assert values[-1] < math.sqrt(2) and values[-1] == pytest.approx(
        math.sqrt(2) * (1 - 1 / 8e6), rel=1e-9)
    assert stationary_rms_chord(3.0) == pytest.approx(3.0 * math.sqrt(2))


def test_rms_chord_and_cos_laws():
    t = np.array([0.0, 1e-9, 0.5, 500.0])
    cos = mean_cos_theta_law(t, 4, 2.0, 0.3)
    rms = rms_chord_law(t, 4, 2.0, 0.3)
    np.testing.assert_allclose(cos, np.exp(-4 * 0.3 * t / 2.0**2), rtol=1e-15)
    # ⟨z²⟩ = 2R²(1 − ⟨cos θ⟩), kept accurate at tiny t (no 1 − cos cancellation)
    np.testing.assert_allclose(rms**2, -2 * 2.0**2 * np.expm1(-4 * 0.3 * t / 2.0**2),
                               rtol=1e-12, atol=1e-300)
    assert rms[1] == pytest.approx(math.sqrt(2 * 4 * 0.3 * 1e-9), rel=1e-8)
    assert rms[3] == pytest.approx(2.0 * math.sqrt(2), rel=1e-12)


def test_step_factors():
    # geodesic: E cos(√τ χ_n) = ₁F₁(n/2; 1/2; −τ/2) (Kummer), checked where stable
    for dim, tau in [(2, 0.3), (5, 0.05), (10, 0.01)]:
        expected = special.hyp1f1(dim / 2, 0.5, -tau / 2)
        assert step_cos_factor("geodesic", dim, 1.0, tau / 2, 1.0) == pytest.approx(
            expected, rel=1e-10)
    # its bias against exp(−nτ/2) is −n(n−1)τ²/12 at leading order (zero for n = 1)
    dim, tau = 50, 1e-4
    factor = step_cos_factor("geodesic", dim, 1.0, tau / 2, 1.0)
    assert factor - math.exp(-dim * tau / 2) == pytest.approx(-dim * (dim - 1) * tau**2 / 12,
                                                              rel=0.02)
    assert step_cos_factor("geodesic", 1, 1.0, 0.2, 1.0) == pytest.approx(math.exp(-0.2))
    assert step_cos_factor("ring", 3, 2.0, 0.1, 0.1, chord=1.0) == 1.0 - 1.0 / 8.0
    assert step_cos_factor("exact", 3, 2.0, 0.1, 0.1) == pytest.approx(math.exp(-0.0075))
    assert walk_rate("ring", 3, 1.0, 0.1, 0.1, chord=1.9) is None  # factor < 0
    assert walk_rate("exact", 3, 2.0, 0.1, 0.1) == pytest.approx(0.075)


def test_records_with_rounding_level_sem_do_not_pin_the_fit():
    """The ring walk's first step has cos θ = cos φ for every walker (sem ~ 1e-12)."""
    from fastwalk.analysis.decay import fit_decay

    t = np.linspace(0.0, 2.0, 21)
    rng_ = np.random.default_rng(5)
    sem = np.full(t.size, 0.004)
    mean = np.exp(-1.0 * t) + sem * rng_.standard_normal(t.size)
    mean[0], sem[0] = 1.0, 0.0  # every walker starts at cos θ = 1
    honest = fit_decay(t[2:], mean[2:], sem[2:], correlated=False)
    mean[1], sem[1] = np.exp(-1.3 * t[1]), 1e-12 * np.exp(-1.3 * t[1])  # a deterministic, off-law point
    fit = fit_decay(t, mean, sem, correlated=False)
    assert fit.points_used == t.size - 2  # t = 0 and the deterministic record are not used
    assert abs(fit.rate - honest.rate) < 1e-12 and fit.rate_stderr > 1e-3
