"""Watanabe's singular fluctuation ν of network runs, against the exact answer of a regular model.

linear:M-1 is linear regression: U(w) = |y − Xw|², and the law ∝ exp(−βU) (no walls) is the
Gaussian N(ŵ, Σ), Σ = (2βXᵀX)⁻¹. With r_i = y_i − x_iᵀŵ and h_i = x_iᵀΣx_i, the per-datum loss
ℓ_i = (r_i − x_iᵀδ)², δ ~ N(0, Σ), has Var ℓ_i = 4r_i²h_i + 2h_i², so exactly

    ν = β/2 · Σ_i (4 r_i² h_i + 2 h_i²)                                    (DESIGN.md)

for the given data. With an orthogonal design (XᵀX = n·I, x_i = √n·q_i) and noise of the model's
own law (y = Xw0 + ε, ε ~ N(0, 1/2): p(y|x, w) ∝ exp(−(y − xᵀw)²)), h_i = |q_i|²/(2β) and
E_ε[ν] = M/2 − Σ_i |q_i|⁴/4 → d/2 as n grows: the regular theory's ν = d/2.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastwalk.analysis.llc import llc_report
from fastwalk.api import simulate
from fastwalk.models.network import NetworkLangevin


def _design(n, m, seed):
    generator = np.random.default_rng(seed)
    q, _ = np.linalg.qr(generator.normal(size=(n, m)))
    x = np.sqrt(n) * q
    y = x @ np.full(m, 0.3) + generator.normal(scale=np.sqrt(0.5), size=n)
    return x, y[:, None]


def _exact_nu(x, y, beta):
    y = y[:, 0]
    w_hat = np.linalg.solve(x.T @ x, x.T @ y)
    r = y - x @ w_hat
    h = np.einsum("ij,jk,ik->i", x, np.linalg.inv(2 * beta * x.T @ x), x)
    return beta / 2 * np.sum(4 * r * r * h + 2 * h * h)


def test_the_exact_regular_answer_tends_to_half_the_dimension():
    # the formula's average over noise draws is M/2 − Σ|q_i|⁴/4 (module docstring), which is
    # within 0.02 of d/2 = 1.5 at n = 200; 400 draws bring its Monte Carlo error to ~0.01
    x, _ = _design(200, 3, 0)
    q4 = np.sum((np.sum(x * x, axis=1) / 200) ** 2)
    generator = np.random.default_rng(1)
    values = [_exact_nu(x, (x @ np.full(3, 0.3) + generator.normal(scale=np.sqrt(0.5), size=200))
                        [:, None], 1.0) for _ in range(400)]
    assert abs(np.mean(values) - (1.5 - q4 / 4)) < 4 * np.std(values) / np.sqrt(400)
    assert 1.5 - q4 / 4 == pytest.approx(1.5, abs=0.02)


@pytest.mark.parametrize("m, beta", [(1, 1.0), (3, 1.0), (3, 4.0)])
def test_singular_fluctuation_of_a_regression_matches_the_exact_answer(tmp_path, m, beta):
    x, y = _design(200, m, 2)
    model = NetworkLangevin(f"linear:{m}-1", (x, y), temperature=1 / beta, dt="auto",
                            method="mala", boundary="none", start="uniform")
    path = tmp_path / "nu.h5"
    simulate(model, 200, 2000, out=path, seed=5, burn_in=1000, every=20, progress=False)
    report = llc_report([path])
    run = report["runs"][0]
    nu, se = run["singular_fluctuation"], run["singular_fluctuation_stderr"]
    exact = _exact_nu(x, y, beta)
    # the jackknife SE over 200 independent walkers; 4 of them bounds a correct estimate's
    # deviation at the 1e-4 level; ν's bias from 100 correlated frames per walker is far smaller
    assert abs(nu - exact) < 4 * se, (nu, se, exact)
    assert se < 0.05 * exact  # the test can tell ν from the heat capacity's d/2 ± 5 % and worse
    entry = report["singular_fluctuation"]["value"][0]
    assert entry["singular_fluctuation"] == pytest.approx(nu) and entry["beta"] == pytest.approx(beta)
