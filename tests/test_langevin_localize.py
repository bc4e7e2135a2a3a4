"""The localizer is a fixed Gaussian prior: exact laws of a 1-D quadratic under EM and MALA.

U = a·x², localizer γ at x*: the law exp(−U/T − γ/2·(x − x*)²) is Gaussian with precision
p = 2a/T + γ and mean γ·x*/p (Lau et al., AISTATS 2025). The kernels sample
U_s = U + T·γ/2·(x − x*)², whose drift is k·(x − m) with k = 2a + T·γ = T·p and m = γ·x*/p,
so Euler–Maruyama's own stationary law is exactly Gaussian too: mean m, variance
2T·dt/(1 − (1 − dt·k)²) = (1/p)/(1 − dt·k/2). The old reading (γ/2·(x − x*)² added to U,
then divided by T) has precision (2a + γ)/T and mean γ·x*/(2a + γ): far outside the tolerances.
"""

from __future__ import annotations

import math

import pytest

from fastwalk import rng
from fastwalk.models.langevin import LangevinBrownian

A, T, GAMMA, AT = 1.5, 0.2, 8.0, 0.6
PRECISION = 2 * A / T + GAMMA
MEAN = GAMMA * AT / PRECISION
WALKERS = 4000


def _final_positions(method, dt):
    model = LangevinBrownian(f"{A}*x0**2", 1, box=4.0, boundary="none", temperature=T, dt=dt,
                             method=method, start=[AT], localize=GAMMA, at=[AT])
    state = model.initial_state(rng.seed_states(21, 0, WALKERS))
    model.advance(state, -400, 400, False)  # relaxation time 1/k = 0.22: ~90 of them at dt 0.05
    model.advance(state, 0, 200, True)
    return model, state


@pytest.mark.parametrize("method", ["mala", "em"])
def test_localizer_is_a_fixed_prior_whatever_the_temperature(method):
    dt = 0.05
    model, state = _final_positions(method, dt)
    assert model.stiffness == pytest.approx(T * GAMMA)
    variance = 1.0 / PRECISION
    if method == "em":
        k = 2 * A + T * GAMMA
        variance /= 1.0 - 0.5 * dt * k  # EM's exact discrete law (13 % wider here)
    x = state["position"][:, 0]  # independent walkers: exact sampling errors
    mean_se = math.sqrt(variance / WALKERS)
    var_se = variance * math.sqrt(2.0 / (WALKERS - 1))
    assert abs(x.mean() - MEAN) < 4 * mean_se, (x.mean(), MEAN, mean_se)
    assert abs(x.var(ddof=1) - variance) < 4 * var_se, (x.var(ddof=1), variance, var_se)
    # the recorded energy is U alone: time averages of a·x² against a·(σ² + m²)
    averages = state["walker_energy_sum"] / state["walker_energy_count"]
    energy_se = averages.std(ddof=1) / math.sqrt(WALKERS)
    want = A * (variance + MEAN**2)
    assert abs(averages.mean() - want) < 4 * energy_se, (averages.mean(), want, energy_se)


def test_euler_maruyama_stability_counts_the_localizer_times_temperature():
    # U's curvature is 2a = 3; the localizer adds T·γ: dt·(3 + T·γ) >= 2 is refused
    def build(temperature, dt):
        return LangevinBrownian(f"{A}*x0**2", 1, box=4.0, temperature=temperature, dt=dt,
                                localize=GAMMA, at=[AT])

    build(0.2, 0.99 * 2 / (3 + 0.2 * GAMMA))
    with pytest.raises(ValueError, match="too large for Euler–Maruyama"):
        build(0.2, 1.01 * 2 / (3 + 0.2 * GAMMA))
    build(2.0, 0.99 * 2 / (3 + 2.0 * GAMMA))
    with pytest.raises(ValueError, match=r"curvature of U \+ T·γ/2"):
        build(2.0, 1.01 * 2 / (3 + 2.0 * GAMMA))


def test_quadrature_reference_of_a_localized_run_is_the_fixed_prior_law():
    from fastwalk.analysis.quadrature import model_quadrature

    model = LangevinBrownian(f"{A}*x0**2", 1, box=8.0, temperature=T, dt=0.05, method="mala",
                             localize=GAMMA, at=[AT])
    law = model_quadrature(model)
    want = A * (1.0 / PRECISION + MEAN**2)
    assert law.mean_energy(1.0 / T) == pytest.approx(want, rel=1e-8)


def test_at_without_the_localizer_is_refused_from_python():
    # the command line refused --at without --localize; the API silently ignored it
    with pytest.raises(ValueError, match="localize > 0"):
        LangevinBrownian("x0**2", 1, at=0.5)
    model = LangevinBrownian("x0**2", 1, localize=2.0, at=0.5)
    assert LangevinBrownian.from_parameters(model.parameters(), {}).parameters() == model.parameters()
    plain = LangevinBrownian("x0**2", 1)
    assert LangevinBrownian.from_parameters(plain.parameters(), {}).parameters() == plain.parameters()
