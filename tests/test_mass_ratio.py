"""The crossing's mass over a valley point's: exact, binned and empirical."""

from __future__ import annotations

import math

import pytest
from scipy import integrate

from fastwalk.analysis.mass_ratio import crossing_mass_ratio
from fastwalk.crossing import Crossing
from fastwalk.models.potential import PotentialBrownian


def _model(temperature, bins=64):
    return PotentialBrownian(Crossing.lines(2), a=1.0, center=0.5, box=1.0,
                             temperature=temperature, dt=1e-3, bins=bins)


def _one_dimensional_ratio(beta, r):
    """Closed reductions: valley disk ∫ e^(−βx²)·2√(r² − x²) dx; crossing: 8 octants."""
    valley = integrate.quad(lambda x: math.exp(-beta * x * x) * 2 * math.sqrt(r * r - x * x),
                            -r, r, epsabs=0, epsrel=1e-12, limit=200)[0]
    octant = integrate.quad(lambda x: math.exp(-beta * x * x) * (math.sqrt(r * r - x * x) - x),
                            0, r / math.sqrt(2), epsabs=0, epsrel=1e-12, limit=200)[0]
    return 8 * octant / valley


@pytest.mark.parametrize("temperature, radius", [(1e-2, 0.05), (1e-3, 0.2), (1e-4, 0.2)])
def test_exact_ratio_against_one_dimensional_integrals(temperature, radius):
    result = crossing_mass_ratio(_model(temperature), radius)
    assert result["exact"] == pytest.approx(_one_dimensional_ratio(1 / temperature, radius),
                                            rel=1e-6)


def test_ratio_tends_to_one_and_to_k():
    model = _model(1e-4)  # thermal width 0.01
    assert crossing_mass_ratio(model, 1e-4)["exact"] == pytest.approx(1.0, abs=1e-3)
    wide = crossing_mass_ratio(model, 0.25)["exact"]
    # both strips count the core ∫∫ e^(−β max(x², y²)) = 4/β: R ≈ 2 − 2w/(√π r)
    assert wide == pytest.approx(2 - 2 * 0.01 / (math.sqrt(math.pi) * 0.25), abs=1e-4)


def test_binned_ratio_uses_whole_bins():
    from fastwalk.analysis.boltzmann import boltzmann_reference

    model = _model(1e-2, bins=64)
    exact = boltzmann_reference(model)["histogram_2d"]
    result = crossing_mass_ratio(model, 0.2, histogram_2d=exact * 1e6, exact_2d=exact)
    assert result["empirical"] == pytest.approx(result["exact_binned"], rel=1e-12)
    assert result["exact_binned"] == pytest.approx(result["exact"], rel=0.05)


def test_bad_radius_is_refused():
    with pytest.raises(ValueError, match="radius"):
        crossing_mass_ratio(_model(1e-2), 0.5)
