"""Known answers for the learning coefficient from real Langevin runs (MALA on [−1, 1]^d, reflect).

MALA is exact at any dt, so every run's λ̂(β) must agree with the exact
β⟨U⟩_β by quadrature within its standard error, and the sweep's fit must
find λ (and m). The constraint is mixing: at low T, motion along a valley is
diffusion at rate T, so a walker needs a time ~L²/T to equilibrate along the
valleys (here 1/T, up to 1000 time units at T = 1e-3). With dt = 0.5 that is
2000 steps; the burn-in is several of those. MALA at low T also rejects
nearly every move from a steep start (dt·|∇U|² ≳ T), so the singular sweeps
use potentials and starts where the walkers reach the valleys at once.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import special

from fastwalk.analysis.llc import llc_report
from fastwalk.analysis.quadrature import BoltzmannQuadrature
from fastwalk.api import simulate
from fastwalk.models.langevin import LangevinBrownian

#: singular sweeps: T from 0.1 to 1e-3 (hotter runs feel the box's e^(−β) terms)
SWEEP = np.logspace(1.0, 3.0, 7)


def _sweep(tmp_path, potential, dim, betas, *, walkers, steps, burn_in, dt, start="uniform",
           seed=3):
    paths = []
    for i, beta in enumerate(betas):
        model = LangevinBrownian(potential, dim, box=2.0, temperature=1.0 / beta, dt=dt,
                                 method="mala", start=start)
        path = tmp_path / f"run-{i}.h5"
        simulate(model, walkers, steps, out=path, seed=seed * 1000 + i, burn_in=burn_in,
                 observe_every=max(1, steps // 10), overwrite=True, progress=False)
        paths.append(path)
    return paths, model


def _check_runs_against(report, exact_lambda_hat):
    """Every run's λ̂ within 4 standard errors of the exact β⟨U⟩_β."""
    for run in report["runs"]:
        exact = exact_lambda_hat(run["beta"])
        assert abs(run["lambda_hat"] - exact) <= 4 * run["lambda_hat_stderr"], (run, exact)


def _quadrature_lambda_hat(model):
    q = BoltzmannQuadrature(model.expression.energy_numpy, [-1.0] * model.dim, [1.0] * model.dim)
    return lambda beta: beta * q.mean_energy(beta)


@pytest.mark.parametrize("dim", [pytest.param(1, marks=pytest.mark.slow), 2,
                                 pytest.param(5, marks=pytest.mark.slow)])
def test_regular_quadratic_lambda_is_half_the_dimension(tmp_path, dim):
    potential = " + ".join(f"x{j}**2" for j in range(dim))
    betas = np.logspace(1.0, 3.0, 5)
    paths, _ = _sweep(tmp_path, potential, dim, betas, walkers=200, steps=2000, burn_in=500,
                      dt=0.1)
    report = llc_report(paths)

    def exact(beta):
        s = math.sqrt(beta)
        return dim * (0.5 - s * math.exp(-beta) / (math.sqrt(math.pi) * special.erf(s)))

    _check_runs_against(report, exact)
    assert report["multiplicity"] == 1
    assert abs(report["lambda"] - dim / 2) < 0.02
    assert abs(report["lambda"] - dim / 2) <= 4 * report["lambda_stderr"]


def test_x0sq_x1sq_has_lambda_half_and_multiplicity_two(tmp_path, fastwalk_cli):
    paths, model = _sweep(tmp_path, "x0**2 * x1**2", 2, SWEEP, walkers=300, steps=5000,
                          burn_in=15000, dt=0.5)
    report = llc_report(paths)
    _check_runs_against(report, _quadrature_lambda_hat(model))
    assert report["multiplicity"] == 2
    assert abs(report["lambda"] - 0.5) < 0.05
    assert abs(report["lambda"] - 0.5) <= 4 * report["lambda_stderr"]
    assert report["warnings"] == [], report["warnings"]
    # the command prints the same object
    out = fastwalk_cli.run("llc", *paths, "--json")
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    assert printed["lambda"] == pytest.approx(report["lambda"], rel=1e-9)
    assert printed["multiplicity"] == 2
    assert [r["file"] for r in printed["runs"]] == [str(p) for p in paths]
    assert {"file", "beta", "mean_energy", "mean_energy_stderr", "lambda_hat",
            "lambda_hat_stderr"} <= set(printed["runs"][0])


def test_three_planes_have_lambda_half_and_multiplicity_three(tmp_path):
    """x0²x1²x2² on [−1, 1]³: ζ(z) = (2z + 1)^(−3), so λ = ½, m = 3 and exactly
    β⟨U⟩ = ½ − P′/P with P(L) = (L − ψ(½))² + ψ′(½), a pair of complex roots
    (the Mellin residue at z = −½; checked against quadrature to 1e-8).

    β reaches 1e4 because the log terms are large (β⟨U⟩ = 0.33 there); the burn-in
    covers the along-plane diffusion time ~L²/(T·dt) = 8000 steps at T = 1e-4.
    """
    betas = np.logspace(1.0, 4.0, 7)
    paths, _ = _sweep(tmp_path, "x0**2 * x1**2 * x2**2", 3, betas, walkers=300, steps=20000,
                      burn_in=40000, dt=0.5, start="center")
    report = llc_report(paths)
    a, b = -special.digamma(0.5), special.polygamma(1, 0.5)
    _check_runs_against(report, lambda beta: 0.5 - 2 * (math.log(beta) + a)
                        / ((math.log(beta) + a) ** 2 + b))
    assert report["multiplicity"] == 3
    assert abs(report["lambda"] - 0.5) < 0.05
    assert abs(report["lambda"] - 0.5) <= 4 * report["lambda_stderr"]
    assert report["warnings"] == []


@pytest.mark.slow
def test_min_valleys_have_lambda_half(tmp_path):
    paths, model = _sweep(tmp_path, "Min(x0**2, x1**2)", 2, SWEEP, walkers=300, steps=5000,
                          burn_in=15000, dt=0.5)
    report = llc_report(paths)
    _check_runs_against(report, _quadrature_lambda_hat(model))
    assert report["multiplicity"] == 1
    assert abs(report["lambda"] - 0.5) < 0.02
    assert abs(report["lambda"] - 0.5) <= 4 * report["lambda_stderr"]


@pytest.mark.slow
def test_run_error_bars_cover_exact_values_at_their_rate(tmp_path):
    """20 seeds at one temperature: |λ̂ − exact| <= 2 standard errors in ~95% of them."""
    beta = 100.0
    inside = 0
    for seed in range(20):
        paths, model = _sweep(tmp_path, "x0**2 * x1**2", 2, [beta], walkers=100, steps=2000,
                              burn_in=4000, dt=0.5, seed=seed)
        run = llc_report(paths)["runs"][0]
        if seed == 0:
            exact = _quadrature_lambda_hat(model)(beta)
        inside += abs(run["lambda_hat"] - exact) <= 2 * run["lambda_hat_stderr"]
    # P(at most 15 of 20 | 0.95) < 0.3%
    assert inside >= 16


@pytest.mark.slow
def test_x0sq_x1_fourth_has_lambda_quarter(tmp_path):
    """λ = 1/4 with a slow power correction (δ = 1/4) that mimics a logarithm over β = 10..1000.

    The walkers start at the crossing (MALA from a steep uniform start at T = 1e-3 would
    reject nearly every move) and dt = 0.1 keeps dt·|∇U| small where they go; with m fixed
    to 1 (the data cannot tell m = 2 apart: see the module docstring of analysis/llc.py)
    the fit with the power term finds λ.
    """
    paths, model = _sweep(tmp_path, "x0**2 * x1**4", 2, SWEEP, walkers=300, steps=10000,
                          burn_in=30000, dt=0.1, start="center")
    _check_runs_against(llc_report(paths), _quadrature_lambda_hat(model))
    report = llc_report(paths, multiplicity=1)
    assert report["fit"]["power_correction"] is not None
    assert abs(report["lambda"] - 0.25) < 0.02
    assert abs(report["lambda"] - 0.25) <= 4 * report["lambda_stderr"]


@pytest.mark.parametrize("potential, options", [
    ("x0**2 * x1**2", {}),
    ("x0**2 * x1**2", {"localize": 10.0, "at": [0.5, 0.0]}),
    ("x0**2 + x1**4", {"boundary": "none"}),
])
def test_langevin_runs_match_their_exact_law(tmp_path, potential, options):
    from fastwalk.analysis.quadrature import langevin_report
    from fastwalk.io.reader import Run

    # MALA from a steep start rejects nearly every move: the localized and unbounded runs
    # start where the law lives
    start = options.get("at", "uniform" if options.get("boundary") != "none" else "center")
    model = LangevinBrownian(potential, 2, box=2.0, temperature=0.05, dt=0.05, method="mala",
                             start=start, bins=16, **options)
    path = tmp_path / "run.h5"
    simulate(model, 200, 3000, out=path, seed=11, burn_in=1000, observe_every=3000,
             overwrite=True, progress=False)
    with Run(path) as run:
        report = langevin_report(model, run.accumulators)
    assert abs(report["energy_z"]) < 4, report
    assert report["tv_2d"] < report["tv_2d_floor_walkers"], report
    if options.get("boundary") == "none":
        assert 0.9 < report["box_mass_exact"] < 1.0


def test_langevin_picture_and_stationary_report(tmp_path):
    from fastwalk.analysis.llc_plots import langevin_run_figure
    from fastwalk.analysis.quadrature import langevin_run_report
    from fastwalk.io.reader import Run

    model = LangevinBrownian("x0**2 * x1**2", 2, box=2.0, temperature=0.05, dt=0.05,
                             method="mala", start="uniform", bins=16)
    path = tmp_path / "run.h5"
    simulate(model, 100, 1000, out=path, seed=2, burn_in=500, observe_every=500,
             overwrite=True, progress=False)
    with Run(path) as run:
        report = langevin_run_report(run)
        figure = langevin_run_figure(run)
    assert abs(report["energy_z"]) < 4
    assert len(figure.axes) == 4  # two laws, two colour bars
    figure.savefig(tmp_path / "run.png")
    assert (tmp_path / "run.png").stat().st_size > 1000
