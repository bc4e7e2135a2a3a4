"""Exact Boltzmann references by quadrature against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special

from fastwalk.analysis.quadrature import BoltzmannQuadrature


def _quadratic_mean(beta: float, a: float = 1.0) -> float:
    """⟨a x²⟩ on [−1, 1] under exp(−βa x²): 1/(2β) − √(a/(πβ)) e^(−aβ) / erf(√(aβ))."""
    s = math.sqrt(a * beta)
    return 0.5 / beta - math.sqrt(a / (math.pi * beta)) * math.exp(-a * beta) / special.erf(s)


def x2y2(p):
    return p[..., 0] ** 2 * p[..., 1] ** 2


def x2y4(p):
    return p[..., 0] ** 2 * p[..., 1] ** 4


def valleys(p):
    return np.minimum(p[..., 0] ** 2, p[..., 1] ** 2)


@pytest.mark.parametrize("beta", [0.5, 30.0, 1e4, 1e8])
def test_one_dimensional_quadratic_to_rounding(beta):
    q = BoltzmannQuadrature(lambda p: 3.0 * p[..., 0] ** 2, [-1.0], [1.0])
    assert q.mean_energy(beta) == pytest.approx(_quadratic_mean(beta, 3.0), rel=1e-12)
    z = math.sqrt(math.pi / (3 * beta)) * special.erf(math.sqrt(3 * beta))
    assert q.log_partition(beta) == pytest.approx(math.log(z), abs=1e-12)


@pytest.mark.parametrize("dim, rel", [(2, 1e-9), (3, 1e-6)])
def test_quadratic_mean_variance_and_marginals(dim, rel):
    beta = 50.0
    q = BoltzmannQuadrature(lambda p: (p**2).sum(-1), [-1.0] * dim, [1.0] * dim, bins=8)
    assert q.mean_energy(beta) == pytest.approx(dim * _quadratic_mean(beta), rel=rel)
    # Var(U) = −d⟨U⟩/dβ, checked by a central difference of the closed form
    h = 1e-4 * beta
    slope = dim * (_quadratic_mean(beta + h) - _quadratic_mean(beta - h)) / (2 * h)
    assert q.energy_variance(beta) == pytest.approx(-slope, rel=max(1e-6, 10 * rel))
    edges = np.linspace(-1, 1, 9)
    cdf = special.erf(math.sqrt(beta) * edges)
    exact = np.diff(cdf) / (cdf[-1] - cdf[0])
    for row in q.marginals(beta):
        np.testing.assert_allclose(row, exact, rtol=rel, atol=1e-10)
    np.testing.assert_allclose(q.density_2d(beta), np.outer(exact, exact), rtol=rel, atol=1e-10)


def test_x2y2_against_a_one_dimensional_integral():
    """∫ exp(−βx²y²) dy = √π erf(√β|x|)/(√β|x|) leaves one smooth integral in x."""
    q = BoltzmannQuadrature(x2y2, [-1.0, -1.0], [1.0, 1.0])
    for beta in (10.0, 1e3, 1e6):
        def inner(x, beta=beta):
            s = math.sqrt(beta) * x
            return math.sqrt(math.pi) * special.erf(s) / s if s > 0 else 2.0
        z = 2 * integrate.quad(inner, 0, 1, epsabs=0, epsrel=1e-13, limit=400)[0]
        assert q.log_partition(beta) == pytest.approx(math.log(z), abs=1e-9)
        # exact for β ≫ 1: Z = 2Γ(3/2) β^(−1/2) (log β + 2 − ψ(3/2)) (up to e^(−β) terms)
        exact = 0.5 - 1 / (math.log(beta) + 2 - special.digamma(1.5))
        tolerance = 1e-4 if beta == 10.0 else 1e-9
        assert beta * q.mean_energy(beta) == pytest.approx(exact, abs=tolerance)


@pytest.mark.parametrize("beta", [1e3, 1e5, 1e7])
def test_two_pole_potentials_against_their_volume_laws(beta):
    """Vol{U ≤ t} is exact on [0, 1]²: x²y⁴: 2t^(1/4) − t^(1/2); min(x², y²): 2√t − t."""
    rho = special.gamma(1.5) * beta**-0.25 / (2 * special.gamma(1.25))
    q = BoltzmannQuadrature(x2y4, [-1.0, -1.0], [1.0, 1.0])
    assert beta * q.mean_energy(beta) == pytest.approx(0.25 - 0.25 * rho / (1 - rho), abs=1e-8)
    rho = beta**-0.5 / (2 * special.gamma(1.5))
    q = BoltzmannQuadrature(valleys, [-1.0, -1.0], [1.0, 1.0])
    # the kinks on the diagonals are not graded toward: ~1e-6 relative
    assert beta * q.mean_energy(beta) == pytest.approx(0.5 - 0.5 * rho / (1 - rho), abs=3e-6)


def test_unbounded_ornstein_uhlenbeck_grows_the_box():
    q = BoltzmannQuadrature(lambda p: 0.5 * (p**2).sum(-1), [-0.1, -0.1], [0.1, 0.1],
                            boundary="none", beta_min=2.0)
    assert q.high[0] > 5.0
    assert q.mean_energy(2.0) == pytest.approx(2 * 0.5 / 2.0, rel=1e-10)  # equipartition


def test_off_center_zero_set_through_focus_point():
    q = BoltzmannQuadrature(lambda p: (p[..., 0] - 0.3) ** 2 * p[..., 1] ** 2, [-1.0, -1.0],
                            [1.0, 1.0], focus=[[0.3, 0.0]])
    assert q.mean_energy_error(1e5) < 1e-8 * q.mean_energy(1e5)


@pytest.mark.parametrize("kwargs, needle", [
    ({"low": [0, 0, 0, 0], "high": [1, 1, 1, 1]}, "d <= 3"),
    ({"low": [0.0], "high": [0.0]}, "empty"),
    ({"low": [0.0], "high": [1.0], "boundary": "wrap"}, "boundary"),
])
def test_bad_boxes_are_refused(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        BoltzmannQuadrature(lambda p: p[..., 0], **kwargs)


def test_non_confining_potential_is_refused():
    with pytest.raises(ValueError, match="does not confine"):
        BoltzmannQuadrature(lambda p: p[..., 0] ** 2 * p[..., 1] ** 2, [-1, -1], [1, 1],
                            boundary="none")


def test_localizing_bias_enters_the_law_but_not_the_energy():
    """U = x², bias γ/2·x²: the law is a Gaussian of precision β(2 + γ), ⟨U⟩ = 1/(β(2 + γ))."""
    gamma, beta = 6.0, 50.0
    q = BoltzmannQuadrature(lambda p: p[..., 0] ** 2, [-4.0], [4.0],
                            bias=lambda p: 0.5 * gamma * p[..., 0] ** 2)
    assert q.mean_energy(beta) == pytest.approx(1 / (beta * (2 + gamma)), rel=1e-10)
    expected = 0.5 * math.log(2 * math.pi / (beta * (2 + gamma)))
    assert q.log_partition(beta) == pytest.approx(expected, abs=1e-10)
