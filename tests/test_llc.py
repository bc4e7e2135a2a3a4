"""The learning coefficient: estimator, λ/m fit and free energy against exact references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from fastwalk.analysis.llc import fit_learning_coefficient, free_energy, model_curve, run_estimate
from fastwalk.analysis.quadrature import BoltzmannQuadrature

#: the sweep the singular known-answer fits use: T from 0.1 to 1e-4, 7 temperatures (hotter
#: runs carry the box's e^(−β) terms, ~5% at β = 3, which no model form holds)
SWEEP = np.logspace(1.0, 4.0, 7)
#: the regular quadratic's sweep: from T = 0.1, where the box's e^(−β) terms have died out
REGULAR_SWEEP = np.logspace(1.0, 3.5, 6)

POTENTIALS = {  # name: (U on [−1, 1]², λ, m)
    "x0^2 x1^4": (lambda p: p[..., 0] ** 2 * p[..., 1] ** 4, 0.25, 1),
    "x0^2 x1^2": (lambda p: p[..., 0] ** 2 * p[..., 1] ** 2, 0.5, 2),
    "min(x0^2, x1^2)": (lambda p: np.minimum(p[..., 0] ** 2, p[..., 1] ** 2), 0.5, 1),
}


def _quadratic_lambda_hat(beta, dim):
    """β⟨U⟩ of |x|² on [−1, 1]^d, closed form (erf)."""
    s = np.sqrt(beta)
    return dim * (0.5 - s * np.exp(-beta) / (math.sqrt(math.pi) * special.erf(s)))


@pytest.fixture(scope="module")
def exact_sweeps():
    return {name: (np.array([b * BoltzmannQuadrature(u, [-1, -1], [1, 1]).mean_energy(b)
                             for b in SWEEP]), lam, m)
            for name, (u, lam, m) in POTENTIALS.items()}


@pytest.mark.parametrize("name", list(POTENTIALS))
def test_fit_recovers_lambda_and_m_from_exact_values(exact_sweeps, name):
    y, lam, m = exact_sweeps[name]
    fit = fit_learning_coefficient(SWEEP, y, np.full(y.size, 1e-6), max_multiplicity=2)  # m <= d
    assert fit["multiplicity"] == m
    assert fit["lambda"] == pytest.approx(lam, abs=0.005)  # targets: 0.02 (m = 1), 0.05 (m = 2)


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_fit_recovers_regular_quadratic_in_d_1_2_5(dim):
    y = _quadratic_lambda_hat(REGULAR_SWEEP, dim)
    # σ of a real run; the box's e^(−β) terms (4e-4 at β = 10, d = 5) are not in the fit's forms
    fit = fit_learning_coefficient(REGULAR_SWEEP, y, np.full(y.size, 2e-3), max_multiplicity=dim)
    assert fit["multiplicity"] == 1
    assert fit["lambda"] == pytest.approx(dim / 2, abs=1e-3)


def test_kappa_is_needed_for_multiplicity_two(exact_sweeps):
    """β⟨U⟩ = ½ − 1/(log β + κ) exactly for x0²x1²; κ = 2 − ψ(3/2); without κ the curve misses."""
    y, _, _ = exact_sweeps["x0^2 x1^2"]
    cold = SWEEP >= 10  # e^(−β) terms of the box below 5e-5
    y = y[cold]
    fit = fit_learning_coefficient(SWEEP[cold], y, np.full(y.size, 1e-6), multiplicity=2,
                                   power_correction=False)
    assert fit["kappa"] == pytest.approx(2 - special.digamma(1.5), abs=1e-3)
    assert np.max(np.abs(model_curve(np.log(SWEEP[cold]), 0.5, [0.0]) - y)) > 0.02


@pytest.mark.slow
@pytest.mark.parametrize("name", ["x0^2 x1^4", "x0^2 x1^2", "min(x0^2, x1^2)"])
def test_fit_error_bars_cover_the_truth_at_their_rate(exact_sweeps, name):
    """Gaussian noise of σ = 0.002 (a run of ~1000 walkers) on the exact values, 40 seeds."""
    y, lam, m = exact_sweeps[name]
    rng = np.random.default_rng(12)
    sigma = 0.002
    inside, right_m, errors = 0, 0, []
    for _ in range(40):
        fit = fit_learning_coefficient(SWEEP, y + rng.normal(0, sigma, y.size), np.full(y.size, sigma),
                                       max_multiplicity=2)
        inside += abs(fit["lambda"] - lam) <= 2 * fit["lambda_stderr"]
        right_m += fit["multiplicity"] == m
        errors.append(abs(fit["lambda"] - lam))
    # 2σ covers 95%: P(at most 33 of 40) < 1% for a true rate of 0.95
    assert inside >= 34
    assert right_m >= 36
    assert np.median(errors) < (0.02 if m == 1 else 0.05)


def test_walker_spread_standard_error_covers_at_its_rate():
    """Per-walker AR(1) energies (strongly correlated in time): the standard error is honest."""
    rng = np.random.default_rng(5)
    walkers, steps, rho, mean = 100, 200, 0.95, 0.7
    repeats = 300
    noise = rng.normal(size=(repeats, walkers, steps)) * math.sqrt(1 - rho**2)
    x = np.empty_like(noise)
    x[..., 0] = rng.normal(size=(repeats, walkers))
    for t in range(1, steps):
        x[..., t] = rho * x[..., t - 1] + noise[..., t]
    sums = (mean + x).sum(axis=-1)
    counts = np.full(walkers, steps)
    z = []
    for r in range(repeats):
        est = run_estimate(2.0, sums[r], counts)
        assert est["lambda_hat"] == pytest.approx(2.0 * est["mean_energy"])
        z.append((est["mean_energy"] - mean) / est["mean_energy_stderr"])
    covered = np.mean(np.abs(z) <= 1.0)
    # 68.3% ± 2.7% (binomial, 300 repeats): 3.5 standard deviations either side
    assert 0.683 - 0.095 < covered < 0.683 + 0.095
    # the naive i.i.d. error of all walker-steps would be ~(1−ρ)/(1+ρ) too small
    naive = x[0].std() / math.sqrt(walkers * steps)
    assert run_estimate(2.0, sums[0], counts)["mean_energy_stderr"] > 3 * naive


def test_free_energy_matches_exact_log_partition():
    u = POTENTIALS["x0^2 x1^2"][0]
    q = BoltzmannQuadrature(u, [-1, -1], [1, 1])
    beta = np.logspace(0.5, 3.5, 25)
    energy = np.array([q.mean_energy(b) for b in beta])
    result = free_energy(beta, energy, 1e-3 * energy)
    exact = np.array([-(q.log_partition(b) - q.log_partition(beta[0])) for b in beta])
    np.testing.assert_allclose(result["free_energy"], exact, atol=2e-3)
    assert result["free_energy_stderr"][0] == 0.0
    assert np.all(np.diff(result["free_energy_stderr"]) > 0)


@pytest.mark.parametrize("args, needle", [
    (([1.0, 2.0], [0.1], [0.1]), "differ in length"),
    (([1.0, 2.0], [0.1, 0.2], [0.1, 0.0]), "> 0"),
    (([1.0], [0.1], [0.1]), None),
])
def test_fit_input_checks(args, needle):
    if needle is None:
        assert fit_learning_coefficient(*args)["lambda"] == pytest.approx(0.1)
        with pytest.raises(ValueError, match="too few"):
            fit_learning_coefficient(*args, multiplicity=2)
    else:
        with pytest.raises(ValueError, match=needle):
            fit_learning_coefficient(*args)


def test_run_estimate_input_checks():
    with pytest.raises(ValueError, match="fewer than two walkers"):
        run_estimate(1.0, [1.0, 0.0], [5, 0])
    with pytest.raises(ValueError, match="not finite"):
        run_estimate(1.0, [1.0, np.nan], [5, 5])
    with pytest.raises(ValueError, match="beta"):
        run_estimate(0.0, [1.0, 1.0], [5, 5])


def test_cli_refuses_runs_without_walker_energies(fastwalk_cli, tmp_path):
    out = tmp_path / "free.h5"
    assert fastwalk_cli.run("free", "--walkers", 4, "--steps", 10, "--out", out,
                            "--quiet").returncode == 0
    result = fastwalk_cli.run("llc", out, "--json")
    assert result.returncode == 2
    assert "not a langevin run" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = fastwalk_cli.run("llc", tmp_path / "nope.h5")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


@pytest.mark.slow
def test_multiplicity_three_error_bars_cover_at_their_rate():
    """x0²x1²x2²'s exact curve (P with a complex pair) plus noise growing with β like real runs.

    Coverage of ±2σ measured 39/40 at these errors; 20 seeds: P(at most 17 | 0.954) = 0.06
    for an arbitrary seed, and m = 3 must be chosen in >= 18.
    """
    a, b = -special.digamma(0.5), special.polygamma(1, 0.5)
    betas = np.logspace(1.0, 4.0, 7)
    log_beta = np.log(betas)
    y = 0.5 - 2 * (log_beta + a) / ((log_beta + a) ** 2 + b)
    sigma = 1e-3 * (betas / 10) ** 0.25
    rng = np.random.default_rng(1)
    inside = right = 0
    for _ in range(20):
        fit = fit_learning_coefficient(betas, y + rng.normal(0, 1, 7) * sigma, sigma,
                                       max_multiplicity=3)
        inside += abs(fit["lambda"] - 0.5) <= 2 * fit["lambda_stderr"]
        right += fit["multiplicity"] == 3
    assert inside >= 18
    assert right >= 18


def test_a_power_term_that_is_no_correction_is_not_fitted():
    # λ̂(β) of linear:3-2-3 at r = H (λ = 4, m = 1), a dt-auto sweep: flat at 4.01-4.04 after the
    # hottest run. A power term ρ = c·β^(−δ) ≫ 1 turns λ + δρ/(1 + ρ) into λ + δ − (δ/c)·β^δ,
    # so λ traded for δ: the refit of the 4 colder runs gave λ = 2.57 (c = 3·10⁵, δ = 1.47), and
    # the range check warned that λ depends on the temperature range. ρ must be < 1 at the
    # coldest β of a fit.
    from fastwalk.analysis.llc import _range_warning

    beta = np.logspace(2, 3, 5) / 3
    y = np.array([4.108, 4.0373, 4.0256, 4.0288, 4.0122])
    s = np.array([0.012, 0.011, 0.010, 0.010, 0.010])
    fit = fit_learning_coefficient(beta, y, s)
    assert fit["multiplicity"] == 1 and abs(fit["lambda"] - 4.0) < 3 * fit["lambda_stderr"] + 0.01
    for subset in (slice(None), slice(1, None)):
        try:
            power = fit_learning_coefficient(beta[subset], y[subset], s[subset], multiplicity=1,
                                             power_correction=True)
        except ValueError:  # no admissible power fit on these points
            continue
        pc = power["power_correction"]
        assert abs(pc["c"]) * beta[subset].max() ** -pc["delta"] < 1.0, pc
        assert abs(power["lambda"] - 4.0) < 0.1, power["lambda"]
    warnings = []
    _range_warning(beta, y, s, None, fit, warnings)
    assert warnings == []
