"""Reduced-rank regression: MALA sweeps of a linear network reproduce Aoyagi & Watanabe's λ and m.

With x = √M·I_M (n = M points, so (1/n)·Σ x xᵀ = I) and y = W0·x exactly,
U(w) = n·L_n(w) = n·|B·A − W0|²_F, and β⟨U⟩ at β = 1/T is β'⟨K⟩ at β' = n/T for
K = |B·A − W0|²: the sweep measures K's λ̂(β') on the box [−1, 1]^d (uniform prior), which
`fastwalk.analysis.llc` fits. W0 = 0.5·(e_1 e_1ᵀ + … + e_r e_rᵀ), factors inside the box.

Tolerances: λ within 5 % and m exact (the issue's criterion; the runs' standard errors are
~0.5 %, the fit's model choice is what can go wrong); and no run with a stuck walker (its
λ̂ standard error above 2 % of λ: a walker held far from the zero set by MALA's rejections
shows as a spread of many times that). The β' ranges avoid the regimes the estimator cannot
handle yet (DESIGN.md, "Networks and data"): for the m = 2 cases the logarithm must show
(β' = 10 … 1000); for r > 0 the hotter runs feel the rank-0 region (K = |W0|² there), so
those sweeps start at β' = 100. Every run chooses its own step (``dt="auto"``: a pilot's
curvature and acceptance, the first half of the burn-in unadjusted at a stable step, so that
walkers started anywhere in the box reach the valley; DESIGN.md, "dt = auto for networks").
"""

from __future__ import annotations

import numpy as np
import pytest

from fastwalk.analysis.llc import llc_report
from fastwalk.analysis.rlct import reduced_rank_regression
from fastwalk.api import simulate
from fastwalk.models.network import NetworkLangevin


def test_formula_matches_the_four_cases_of_the_theorem():
    # values by hand from Aoyagi & Watanabe (2005), Theorem 1
    assert reduced_rank_regression(1, 1, 1, 0) == {"lambda": 0.5, "lambda_fraction": "1/2",
                                                    "multiplicity": 2, "case": 1}
    assert reduced_rank_regression(3, 2, 3, 0)["lambda_fraction"] == "5/2"  # (2·2·6 − 4)/8
    assert reduced_rank_regression(3, 2, 3, 1)["multiplicity"] == 2  # 3 + 2 + 3 + 1 odd
    assert reduced_rank_regression(1, 1, 3, 1)["case"] == 2  # M + H < N + r
    assert reduced_rank_regression(1, 1, 3, 1)["lambda"] == 1.5  # (HM − Hr + Nr)/2
    assert reduced_rank_regression(3, 1, 1, 1)["case"] == 3
    assert reduced_rank_regression(1, 3, 1, 1) == {"lambda": 0.5, "lambda_fraction": "1/2",
                                                    "multiplicity": 1, "case": 4}
    # a regular case: full rank r = H, λ = (d − dim of the fibre)/2 = (12 − 4)/2
    assert reduced_rank_regression(3, 2, 3, 2)["lambda"] == 4.0
    with pytest.raises(ValueError, match="rank"):
        reduced_rank_regression(2, 1, 2, 2)


def _sweep(tmp_path, inputs, hidden, outputs, rank, betas, *, walkers=200, steps=2000,
           burn_in=10_000):
    x = np.sqrt(inputs) * np.eye(inputs)
    truth = np.zeros((outputs, inputs))
    truth[range(rank), range(rank)] = 0.5
    n = inputs
    paths = []
    for i, beta in enumerate(betas):
        model = NetworkLangevin(f"linear:{inputs}-{hidden}-{outputs}", (x, x @ truth.T),
                                temperature=n / beta, dt="auto", method="mala", start="uniform")
        path = tmp_path / f"run-{i}.h5"
        simulate(model, walkers, steps, out=path, seed=1000 + i, burn_in=burn_in,
                 observe_every=steps, progress=False)
        paths.append(path)
    return llc_report(paths)


@pytest.mark.parametrize("shape, betas", [
    ((1, 1, 1, 0), np.logspace(1, 3, 7)),    # case 1, odd: λ = 1/2, m = 2
    ((2, 1, 2, 0), np.logspace(1, 3, 7)),    # case 1, odd: λ = 1, m = 2
    ((2, 1, 2, 1), np.logspace(2, 4, 5)),    # case 1, even, r = 1: λ = 3/2
    ((1, 1, 3, 1), np.logspace(2, 4, 5)),    # case 2: λ = 3/2
    ((3, 1, 1, 1), np.logspace(2, 4, 5)),    # case 3: λ = 3/2
    ((1, 3, 1, 1), np.logspace(1.5, 2.6, 5)),  # case 4: λ = 1/2
    ((3, 2, 3, 2), np.logspace(2, 3, 5)),    # linear:3-2-3, r = H (regular): λ = 4
], ids=lambda v: str(v) if isinstance(v, tuple) else None)
def test_sweep_reproduces_aoyagi_watanabe(tmp_path, shape, betas):
    exact = reduced_rank_regression(*shape)
    report = _sweep(tmp_path, *shape, betas)
    for run in report["runs"]:
        assert run["lambda_hat_stderr"] < 0.02 * exact["lambda"], run  # no stuck walker
    assert report["multiplicity"] == exact["multiplicity"], report["fit"]["candidates"]
    assert abs(report["lambda"] - exact["lambda"]) < 0.05 * exact["lambda"], (report["lambda"], exact)


# Three-layer linear networks at points where they reduce to known answers (DESIGN.md,
# "Networks and data"): with W0 ≠ 0 every point of {C·B·A = W0} in these shapes has B·C ≠ 0,
# where (A, B, C) ↦ C·B·A is a submersion onto the N × M matrices of rank ≤ 1 near W0, so K is
# a sum of squares in codim = (dim of the image near W0) coordinates and λ = codim/2, m = 1:
# linear:1-1-1-1 (w0 = 0.5): the image is R, λ = 1/2; linear:2-1-1-1 (W0 = (0.5, 0)): the
# image is R², λ = 1.
@pytest.mark.parametrize("spec, truth, exact", [
    ("linear:1-1-1-1", [[0.5]], 0.5),
    ("linear:2-1-1-1", [[0.5, 0.0]], 1.0),
])
def test_three_layer_linear_networks_at_regular_points(tmp_path, spec, truth, exact):
    inputs = int(spec.split(":")[1].split("-")[0])
    x = np.sqrt(inputs) * np.eye(inputs)
    y = x @ np.array(truth).T
    paths = []
    for i, beta in enumerate(np.logspace(2, 4, 5)):
        model = NetworkLangevin(spec, (x, y), temperature=inputs / beta, dt="auto", method="mala",
                                start="uniform")
        path = tmp_path / f"run-{i}.h5"
        simulate(model, 200, 2000, out=path, seed=2000 + i, burn_in=10_000, observe_every=2000,
                 progress=False)
        paths.append(path)
    report = llc_report(paths)
    for run in report["runs"]:
        assert run["lambda_hat_stderr"] < 0.02 * exact, run
    assert report["multiplicity"] == 1
    assert abs(report["lambda"] - exact) < 0.05 * exact, report["lambda"]


def test_three_layer_linear_network_at_the_origin_with_dt_auto(tmp_path):
    # linear:2-1-1-1 at W0 = 0: K = (bc)²·|a|², λ = 1/2, m = 2 (DESIGN.md, "Networks and data").
    # The approach is slow (λ̂ = 0.31 at β' = 100, 0.45 at 10⁵), so the sweep must reach β' = 10⁵;
    # MALA with dt auto relaxes by unadjusted steps (no stuck walker from the uniform start) and a
    # burn-in of 20 000 lets the cold walkers spread along the valley. Seeds 1000-4000 gave
    # λ = 0.489, 0.487, 0.497, 0.489 (± 0.006) and m = 2 each; the tolerance is the 5 %.
    x = np.sqrt(2.0) * np.eye(2)
    paths = []
    for i, beta in enumerate(np.logspace(2, 5, 9)):
        model = NetworkLangevin("linear:2-1-1-1", (x, np.zeros((2, 1))), temperature=2 / beta,
                                dt="auto", method="mala", start="uniform")
        path = tmp_path / f"run-{i}.h5"
        simulate(model, 100, 2000, out=path, seed=1000 + i, burn_in=20_000, observe_every=2000,
                 progress=False)
        paths.append(path)
    report = llc_report(paths)
    for run in report["runs"]:
        assert not run["outlying_walkers"], run  # no stuck walker
    assert report["multiplicity"] == 2, report["fit"]["candidates"]
    assert abs(report["lambda"] - 0.5) < 0.05 * 0.5, report["lambda"]
