"""Tests of the exact Boltzmann references and of the run-versus-Boltzmann report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import erf
from scipy.stats import norm

from fastwalk import rng
from fastwalk.analysis import boltzmann
from fastwalk.crossing import Crossing
from fastwalk.models.potential import PotentialBrownian


def make(crossing, **overrides):
    settings = dict(a=1.0, center=2.0, box=4.0, temperature=0.5, dt=0.05, bins=16)
    settings.update(overrides)
    return PotentialBrownian(crossing, **settings)


def bin_integrals(density, box, bins, center):
    """Normalised integrals of a density of d = x − b over the model's bins, by adaptive quad."""
    edges = np.linspace(0, box, bins + 1)
    values = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        # every bin here lies on one side of the center and of the wrap point (center at box/2)
        values.append(integrate.quad(lambda x: density(x - center), lo, hi, epsabs=1e-13)[0])
    values = np.array(values)
    return values / values.sum()


# ---------------------------------------------------------------------- closed forms
def test_two_lines_marginal_matches_closed_form():
    # U = a·min(d0², d1²): integrating out d1 gives, with β = 1/T,
    # f(d0) = √(π/βa)·erf(√(βa)|d0|) + (Λ − 2|d0|)·exp(−βa d0²)
    model = make(Crossing.lines(2), a=1.3, temperature=0.7, box=6.0, center=3.0, bins=24)
    beta_a = model.a / model.temperature

    def density(d):
        d = abs(d)
        return math.sqrt(math.pi / beta_a) * erf(math.sqrt(beta_a) * d) + (
            6.0 - 2 * d) * math.exp(-beta_a * d * d)

    expected = bin_integrals(density, 6.0, 24, 3.0)
    reference = boltzmann.boltzmann_reference(model)
    np.testing.assert_allclose(reference["marginals"][0], expected, rtol=0, atol=1e-8)
    np.testing.assert_allclose(reference["marginals"][1], expected, rtol=0, atol=1e-8)
    # the 2-D law sums to the marginals (its kink runs along bin diagonals: ~1e-7 quadrature)
    np.testing.assert_allclose(reference["histogram_2d"].sum(axis=1), expected, atol=1e-7)
    # the regular law, ½(uniform + truncated Gaussian), is far from it
    gauss = bin_integrals(lambda d: math.exp(-beta_a * d * d), 6.0, 24, 3.0)
    regular = boltzmann.regular_reference(model)
    np.testing.assert_allclose(regular["marginals"][0], 0.5 * (gauss + 1 / 24), atol=1e-9)
    assert boltzmann.probabilities_total_variation(regular["marginals"][0], expected) > 0.04  # 0.043


def test_one_valley_is_a_truncated_gaussian_times_uniform():
    model = make(Crossing(2, [(0,)]), a=2.0, temperature=0.5, box=3.0, center=1.5, bins=12)
    sigma = math.sqrt(model.temperature / (2 * model.a))
    edges = np.linspace(-1.5, 1.5, 13)
    gauss = np.diff(norm.cdf(edges / sigma))
    gauss /= gauss.sum()
    reference = boltzmann.boltzmann_reference(model)
    assert reference["method"] == "factorised"
    np.testing.assert_allclose(reference["marginals"][0], gauss, atol=1e-12)
    np.testing.assert_allclose(reference["marginals"][1], np.full(12, 1 / 12), atol=1e-14)
    np.testing.assert_allclose(reference["histogram_2d"], np.outer(gauss, np.full(12, 1 / 12)),
                               atol=1e-14)


def test_confining_term_marginal_of_a_free_coordinate():
    # x1 is free in the only valley: its law is ∝ exp(−c(Λ²/2π²)(1 − cos(2π d/Λ))/T)
    model = make(Crossing(2, [(0,)]), confine=0.4, box=4.0, center=2.0, bins=16)
    scale = 0.4 * 16 / (2 * math.pi**2) / model.temperature
    expected = bin_integrals(lambda d: math.exp(-scale * (1 - math.cos(2 * math.pi * d / 4))),
                             4.0, 16, 2.0)
    np.testing.assert_allclose(boltzmann.boltzmann_reference(model)["marginals"][1], expected,
                               atol=1e-12)


# ---------------------------------------------------------------------- structured vs grid
@pytest.mark.parametrize(
    "crossing, method",
    [
        (Crossing.hyperplanes(3), "disjoint"),
        (Crossing.lines(3), "codisjoint"),
        (Crossing.lines(4), "codisjoint"),
        (Crossing(3, [(0, 2), (1, 2)]), "disjoint"),  # x2 in every valley: factored out
    ],
)
@pytest.mark.parametrize("confine", [0.0, 0.3])
def test_structured_integrals_equal_the_tensor_grid(crossing, method, confine):
    model = make(crossing, center=np.linspace(0.5, 3.5, crossing.dim), confine=confine, bins=8,
                 temperature=0.8)
    _, _, mixed = boltzmann._classify(crossing.pinned_mask())
    reference = boltzmann.boltzmann_reference(model)
    assert reference["method"] == method
    # on the same quadrature nodes both integrate the same discrete measure: equal to rounding
    marginals, joint = boltzmann._tensor_mixed(model, mixed, 3)
    same_nodes, same_joint = boltzmann._structured_mixed(model, mixed, method, 3, refinement=1)
    for j in mixed:
        np.testing.assert_allclose(same_nodes[j], marginals[j], rtol=1e-10, atol=1e-15)
        # the public (refined) reference differs by the coarse grid's quadrature error
        np.testing.assert_allclose(reference["marginals"][j], marginals[j], atol=1e-3)
    if joint is not None:
        np.testing.assert_allclose(same_joint, joint, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(reference["histogram_2d"], joint, atol=1e-3)


def test_general_crossing_uses_the_tensor_grid():
    crossing = Crossing(3, [(0,), (0, 1), (2,)])  # x0 in two of three valleys
    model = make(crossing, bins=8)
    reference = boltzmann.boltzmann_reference(model)
    assert reference["method"] == "tensor"
    np.testing.assert_allclose(reference["marginals"].sum(axis=1), 1.0)
    # x0 is pinned more often than x2: its law is narrower, more mass in the central bins
    assert reference["marginals"][0][3:5].sum() > reference["marginals"][2][3:5].sum()


def test_large_dimension_lines_are_symmetric_and_normalised():
    model = make(Crossing.lines(10), bins=16)
    reference = boltzmann.boltzmann_reference(model)
    assert reference["method"] == "codisjoint"
    for row in reference["marginals"][1:]:
        np.testing.assert_allclose(row, reference["marginals"][0], atol=1e-13)
    np.testing.assert_allclose(reference["histogram_2d"].sum(), 1.0)
    np.testing.assert_allclose(reference["histogram_2d"], reference["histogram_2d"].T, atol=1e-14)


def test_too_many_coupled_coordinates_are_refused():
    crossing = Crossing(6, [(0, 1, 2), (2, 3, 4), (4, 5, 0)])  # six mixed, not (co)disjoint
    with pytest.raises(ValueError, match="too many for a 64-bin tensor grid"):
        boltzmann.boltzmann_reference(make(crossing, bins=64))


def test_zero_temperature_is_refused():
    with pytest.raises(ValueError, match="temperature T > 0"):
        boltzmann.boltzmann_reference(make(Crossing.lines(2), temperature=0.0))


# ---------------------------------------------------------------------- helpers
def test_mass_within_radius_counts_bins_by_their_center():
    model = make(Crossing.lines(2), box=4.0, center=2.0, bins=4)  # bin centers 0.5, 1.5, ...
    uniform = np.full((4, 4), 1 / 16)
    assert boltzmann.mass_within(uniform, model, 0.0) == 0.0
    assert boltzmann.mass_within(uniform, model, math.sqrt(0.5)) == pytest.approx(4 / 16)
    assert boltzmann.mass_within(uniform, model, 1.6) == pytest.approx(12 / 16)
    assert boltzmann.mass_within(uniform, model, 3.0) == pytest.approx(1.0)


def test_multinomial_floor_matches_simulation():
    generator = np.random.default_rng(20240601)
    probabilities = np.array([0.5, 0.3, 0.15, 0.04, 0.009, 0.001])
    n, replicates = 200, 4000
    samples = generator.multinomial(n, probabilities, size=replicates) / n
    tv = 0.5 * np.abs(samples - probabilities).sum(axis=1)
    # 5 standard errors of the Monte Carlo mean
    expected = boltzmann.multinomial_tv_floor(probabilities, n)
    assert abs(expected - tv.mean()) < 5 * tv.std() / math.sqrt(replicates)
    # large n: the normal approximation ½ Σ sqrt(2 p (1 − p) / (π n))
    normal = 0.5 * np.sqrt(2 * probabilities * (1 - probabilities) / (math.pi * 1e8)).sum()
    assert boltzmann.multinomial_tv_floor(probabilities, 1e8) == pytest.approx(normal, rel=1e-3)


def test_split_half_floor_of_independent_multinomials():
    # independent samples: the split-half floor must find the multinomial floor
    generator = np.random.default_rng(11)
    probabilities = generator.dirichlet(np.full(100, 5.0))
    first = generator.multinomial(200_000, probabilities)
    second = generator.multinomial(300_000, probabilities)
    measured = boltzmann.split_half_floor(first + second, first)
    expected = boltzmann.multinomial_tv_floor(probabilities, 500_000)
    assert measured == pytest.approx(expected, rel=0.15)  # 100 bins: ~7% scatter
    assert boltzmann.split_half_floor(first, first) is None


def test_effective_samples_limits():
    model = make(Crossing.lines(2), dt=0.05)
    tau = boltzmann.relaxation_time(model)
    assert tau == pytest.approx(1 / (0.5 * (2 * math.pi / 4) ** 2))
    rho = math.exp(-0.05 / tau)
    # one sample per walker: independent
    assert boltzmann.effective_samples(model, 1000, walkers=1000) == pytest.approx(1000)
    # long runs: the lag-one factor (1 + ρ)/(1 − ρ)
    long_run = boltzmann.effective_samples(model, 10**9, walkers=10)
    assert long_run == pytest.approx(1e9 * (1 - rho) / (1 + rho), rel=1e-4)
    assert boltzmann.effective_samples(model, 10**9) == pytest.approx(long_run, rel=1e-4)


# ---------------------------------------------------------------------- against simulation
def run_histograms(model, walkers, batches, burn_in, steps, seed=7):
    """Histogram counts (all, half) of independent walker batches (split by first index)."""
    counts, halves = [], []
    for batch in range(batches):
        size = walkers // batches
        state = model.initial_state(rng.seed_states(seed, batch * size, size))
        model.advance(state, -burn_in, burn_in, False)
        model.advance(state, 0, steps, True)
        counts.append(state["histogram_2d"])
        halves.append(state["histogram_2d_half"])
    return np.array(counts), np.array(halves)


def test_euler_maruyama_converges_to_boltzmann_linearly_in_dt():
    # the original notebook's two lines; box 4 and T = 0.5 keep relaxation fast (τ ≈ 0.8)
    walkers, batches, dts = 100_000, 10, [0.2, 0.1, 0.05]
    distances, floors, masses = [], [], []
    for dt in dts:
        model = make(Crossing.lines(2), dt=dt, start="uniform")
        counts, halves = run_histograms(model, walkers, batches, burn_in=int(2 / dt),
                                        steps=int(16 / dt))
        total = counts.sum(axis=0)
        empirical = total / total.sum()
        exact = boltzmann.boltzmann_reference(model)["histogram_2d"]
        distances.append(boltzmann.probabilities_total_variation(empirical, exact))
        # sampling floor measured from independent batches: per-bin standard error of the
        # pooled frequency, E|N(0, s)| = s·sqrt(2/π)
        frequencies = counts / counts.sum(axis=(1, 2), keepdims=True)
        se = frequencies.std(axis=0, ddof=1) / math.sqrt(batches)
        floors.append(0.5 * math.sqrt(2 / math.pi) * se.sum())
        report = boltzmann.potential_report(
            model, {"histogram_2d": total, "histogram_2d_half": halves.sum(axis=0)},
            walkers=walkers)
        assert report["tv_boltzmann"] == pytest.approx(distances[-1])
        # the split-half floor measures the same noise as the ten batches (each estimate
        # scatters by ~25%), the relaxation-time estimate (slowest mode for every bin) is
        # conservative
        assert report["tv_floor_method"] == "split-half"
        assert 0.6 < report["tv_floor"] / floors[-1] < 1.6
        assert floors[-1] < 1.2 * report["tv_floor_estimate"]
        masses.append(report["mass_within_radius"])
    distances, floors = np.array(distances), np.array(floors)
    assert np.all(distances > 4 * floors)  # a bias, well above the sampling noise
    ratios = distances[:-1] / distances[1:]
    assert np.all((ratios > 1.6) & (ratios < 2.5)), ratios  # halving dt halves the bias
    # the mass near the center converges to Boltzmann's, and not to the regular prediction
    exact_mass = masses[0]["boltzmann"]
    errors = [abs(m["empirical"] - exact_mass) for m in masses]
    assert errors[2] < 0.5 * errors[0]
    assert abs(masses[2]["regular"] - exact_mass) > 10 * errors[2]


def test_report_is_json_and_checks_its_input():
    model = make(Crossing.lines(2), bins=8)
    counts, halves = run_histograms(model, 2000, 1, burn_in=40, steps=100)
    counts, half = counts[0], halves[0]
    state_marginals = np.stack([counts.sum(axis=1), counts.sum(axis=0)])
    report = boltzmann.potential_report(model, {"histogram_2d": counts, "histogram_2d_half": half,
                                                "marginals": state_marginals}, radius=0.8)
    json.dumps(report)
    assert report["samples"] == 200_000 and report["radius"] == 0.8
    assert report["tv_floor"] == report["tv_floor_measured"] > 0
    without_half = boltzmann.potential_report(model, {"histogram_2d": counts})
    assert without_half["tv_floor"] == without_half["tv_floor_estimate"]
    assert without_half["tv_floor_method"] == "relaxation-time estimate"
    assert set(report["mass_within_radius"]) == {"empirical", "boltzmann", "regular"}
    assert len(report["marginal_tv"]) == 2
    with pytest.raises(ValueError, match="histogram_2d has shape"):
        boltzmann.potential_report(model, {"histogram_2d": np.ones((4, 4))})
    with pytest.raises(ValueError, match="empty"):
        boltzmann.potential_report(model, {"histogram_2d": np.zeros((8, 8))})
    with pytest.raises(TypeError, match="PotentialBrownian"):
        boltzmann.potential_report(object(), {"histogram_2d": counts})


def test_one_dimensional_ornstein_uhlenbeck_run_is_compared_on_its_line():
    # D = 1, x0 pinned: the Ornstein–Uhlenbeck process; at a·dt = 0.002 Euler–Maruyama's variance
    # bias (a·dt/2 relative) is far below the sampling floor, so only noise separates the laws
    model = make(Crossing(1, [(0,)]), dt=0.002, start="uniform")
    walkers, steps = 2000, 2000
    state = model.initial_state(rng.seed_states(11, 0, walkers))
    model.advance(state, -1000, 1000, False)
    model.advance(state, 0, steps, True)
    report = boltzmann.potential_report(model, {"marginals": state["marginals"]}, walkers=walkers)
    json.dumps(report)
    assert report["samples"] == walkers * steps
    assert boltzmann.relaxation_time(model) == pytest.approx(0.5)  # 1/(2a): no valley to run along
    assert report["tv_boltzmann"] < 2 * report["tv_floor"], report
    # a law 20% stiffer is told apart from the same counts
    stiffer = make(Crossing(1, [(0,)]), a=1.2, dt=0.002)
    wrong = boltzmann.potential_report(stiffer, {"marginals": state["marginals"]}, walkers=walkers)
    assert wrong["tv_boltzmann"] > 3 * report["tv_floor"], (wrong, report)
