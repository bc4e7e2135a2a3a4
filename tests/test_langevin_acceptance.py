"""MALA's per-walker acceptance: the walker_accepted accumulator, split-proof and naming stuck walkers."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from fastwalk.api import simulate
from fastwalk.models.langevin import LangevinBrownian


def _model(**overrides):
    options = dict(box=2.0, temperature=1e-3, dt=0.5, method="mala", start="uniform")
    options.update(overrides)
    return LangevinBrownian("x0**2 * x1**4", 2, **options)


def test_walker_accepted_is_recorded_and_adds_up_to_the_acceptance_rate(tmp_path):
    path = tmp_path / "run.h5"
    result = simulate(_model(), 130, 400, out=path, seed=3, burn_in=100, progress=False)
    with result:
        accepted = result.accumulators["walker_accepted"]
        proposed = result.accumulators["walker_energy_count"]
        rate = result.observable("acceptance_rate")
    assert accepted.dtype == np.int64 and accepted.shape == (130,)
    assert np.all(proposed == 400) and np.all((0 <= accepted) & (accepted <= proposed))
    # the observable is accepted / proposed over all walkers since step 0
    assert rate.value[-1] == accepted.sum() / proposed.sum()
    # README's stuck case (dt = 0.5 from a steep uniform start at T = 1e-3): some walkers never
    # move, while the ensemble's rate looks healthy; per walker they are named
    stuck = np.flatnonzero(accepted == 0)
    assert stuck.size > 0 and rate.value[-1] > 0.5, (stuck.size, rate.value[-1])


def test_euler_maruyama_has_no_acceptance_accumulator():
    model = _model(method="em", dt=1e-3)
    result = simulate(model, 10, 20, seed=1, progress=False)
    assert "walker_accepted" not in result.accumulators


@pytest.mark.parametrize("partitions", [None, 3])
def test_walker_accepted_is_the_same_for_any_threads_and_walker_split(partitions):
    # partitions without a Dask client run the blocks one after another in this process
    model = _model(temperature=0.05, dt=0.2)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = simulate(model, 131, 300, seed=5, burn_in=50, progress=False)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        other = simulate(model, 131, 300, seed=5, burn_in=50, progress=False, partitions=partitions)
    finally:
        numba.set_num_threads(previous)
    for name, want in serial.accumulators.items():
        np.testing.assert_array_equal(other.accumulators[name], want, err_msg=name)
    assert 0 < serial.accumulators["walker_accepted"].sum() < 131 * 300
