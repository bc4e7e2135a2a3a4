"""The local learning coefficient as SLT defines it (Lau et al., AISTATS 2025, §3).

The localizer is a fixed prior: each run samples ∝ exp(−β·U(x) − γ/2·|x − x*|²) and the
sweep over β reads λ(x*) from β(⟨U⟩ − U(x*)). On x0²·x1²:
- at x* = (0.5, 0), a regular point of the singular set (the valley x1 = 0), the local λ is
  1/2 and m = 1: the prior (γ = 100, width 0.1) keeps x0 away from the crossing, and for
  each x0, x1 is Gaussian, so β⟨U⟩ = E[βx0²/(2βx0² + γ)] exactly → 1/2 as β·x0² ≫ γ;
- at the crossing x* = 0 the local λ is 1/2 with m = 2, as the global one.
Every run is checked against the exact law by quadrature (the prior enters as a bias
γ/(2β)·|x − x*|² of the energy, one quadrature per β), then the fit against λ and m.
"""

from __future__ import annotations

import numpy as np

from fastwalk.analysis.llc import llc_report
from fastwalk.analysis.quadrature import BoltzmannQuadrature
from fastwalk.api import simulate
from fastwalk.expression import Expression
from fastwalk.models.langevin import LangevinBrownian

U = "x0**2 * x1**2"


def _sweep(tmp_path, betas, *, gamma, at, start, walkers, steps, burn_in, seed):
    paths = []
    for i, beta in enumerate(betas):
        model = LangevinBrownian(U, 2, box=2.0, temperature=1.0 / beta, dt="auto", method="mala",
                                 start=start, localize=gamma, at=at)
        path = tmp_path / f"local-{i}.h5"
        simulate(model, walkers, steps, out=path, seed=seed * 100 + i, burn_in=burn_in,
                 observe_every=max(1, steps // 10), progress=False)
        paths.append(path)
    return paths


def _exact_lambda_hat(beta, gamma, at):
    """β⟨U⟩ under exp(−βU − γ/2|x − x*|²) on [−1, 1]² by quadrature."""
    energy = Expression(U, 2).energy_numpy
    anchor = np.asarray(at, dtype=float)

    def bias(points):
        return gamma / (2.0 * beta) * np.sum((points - anchor) ** 2, axis=-1)

    return beta * BoltzmannQuadrature(energy, [-1.0, -1.0], [1.0, 1.0], bias=bias).mean_energy(beta)


def _check(report, betas, gamma, at):
    for run, beta in zip(report["runs"], betas, strict=True):
        exact = _exact_lambda_hat(beta, gamma, at)
        # 4 standard errors: a run is outside with probability 6e-5 when the law is right
        assert abs(run["lambda_hat"] - exact) <= 4 * run["lambda_hat_stderr"], (beta, run, exact)


def test_local_lambda_at_a_regular_point_of_the_valley_is_one_half(tmp_path):
    betas = np.logspace(4.0, 6.0, 5)
    at = [0.5, 0.0]
    paths = _sweep(tmp_path, betas, gamma=100.0, at=at, start=at, walkers=300, steps=3000,
                   burn_in=2000, seed=1)
    report = llc_report(paths)
    assert report["local"] is True and report["u_min"] == 0.0
    _check(report, betas, 100.0, at)
    assert report["multiplicity"] == 1
    assert abs(report["lambda"] - 0.5) < 0.03
    assert abs(report["lambda"] - 0.5) <= 4 * report["lambda_stderr"]


def test_local_lambda_at_the_crossing_is_one_half_with_multiplicity_two(tmp_path):
    betas = np.logspace(1.0, 3.0, 7)
    paths = _sweep(tmp_path, betas, gamma=0.1, at=[0.0, 0.0], start="uniform", walkers=300,
                   steps=5000, burn_in=5000, seed=2)
    report = llc_report(paths)
    _check(report, betas, 0.1, [0.0, 0.0])
    assert report["multiplicity"] == 2
    assert abs(report["lambda"] - 0.5) < 0.03
    assert abs(report["lambda"] - 0.5) <= 4 * report["lambda_stderr"]


def test_the_localizer_is_not_divided_by_the_temperature(tmp_path):
    """The old localizer γ/2·|x − x*|² added to U (so γ/(2T) in the law) gave λ̂ ≈ 0.167 at x* = (0.5, 0)
    where the fixed prior gives 1/2: at β = 1e5 the two laws' β⟨U⟩ are 0.49990 and 0.16667."""
    beta, gamma, at = 1e5, 100.0, [0.5, 0.0]
    paths = _sweep(tmp_path, [beta], gamma=gamma, at=at, start=at, walkers=300, steps=3000,
                   burn_in=2000, seed=3)
    run = llc_report(paths)["runs"][0]
    old = 0.5 * (2 * 0.25) / (2 * 0.25 + gamma)  # x0 pinned at 0.5 by a prior of strength γ·β
    assert abs(run["lambda_hat"] - 0.5) < 0.01 and abs(run["lambda_hat"] - old) > 0.3


def test_an_undetermined_lambda_is_never_printed_without_its_warning(tmp_path):
    """At the crossing with γ = 1 over β = 10..1000 the power correction trades off against λ
    (± 0.2..1.1 on 0.5 over seeds 0..3): the estimate is honest only with the warning."""
    paths = _sweep(tmp_path, np.logspace(1.0, 3.0, 7), gamma=1.0, at=[0.0, 0.0], start="uniform",
                   walkers=400, steps=5000, burn_in=5000, seed=0)
    report = llc_report(paths)
    assert report["lambda_stderr"] >= 0.2 * abs(report["lambda"])
    assert any("λ is not determined" in w for w in report["warnings"]), report["warnings"]


def test_a_lambda_biased_by_a_too_hot_sweep_is_never_printed_without_its_warning(tmp_path):
    """The same prior over β = 10..100 only: the fit is good (χ² fine) but λ = 0.483 ± 0.002,
    8 standard errors from 1/2; leaving out the hottest runs moves λ, and the report says so."""
    paths = _sweep(tmp_path, np.logspace(1.0, 2.0, 5), gamma=1.0, at=[0.0, 0.0], start="uniform",
                   walkers=200, steps=3000, burn_in=3000, seed=0)
    report = llc_report(paths)
    assert abs(report["lambda"] - 0.5) > 4 * report["lambda_stderr"]  # the bias is real
    assert any("depends on the temperature range" in w for w in report["warnings"]), report["warnings"]
