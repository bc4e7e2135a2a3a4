"""Minibatch SGLD (``batch=B``): its exact stationary law on a Gaussian, its bias, bit-identity.

linear:1-1 on x_i = 1: U(w) = Σ(y_i − w)² = n(w − ȳ)² + C, C = Σ(y_i − ȳ)². An SGLD step is
w' = w − dt·2n(w − ȳ_b) + √(2T·dt)·ξ with ȳ_b the mean of B data drawn with replacement
(variance σ²/B, σ² the data's variance, ddof 0): an AR(1) w' − ȳ = a(w − ȳ) + noise, a = 1 − 2n·dt,
whose stationary variance is exactly (2T·dt + 4n²dt²σ²/B)/(1 − a²). The energy recorded is
the minibatch estimate Û, unbiased for U at the walker's position, so ⟨Û⟩ = n·Var + C, against
MALA's exact T/2 + C: the bias is n·Var − T/2 (EM's n·dt share plus the minibatch's
≈ n·dt·σ²/B·n/(1 − n·dt)), which shrinks as 1/B.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import fastwalk as fw
from fastwalk import rng
from fastwalk.engine import MemorySink, Simulation
from fastwalk.models.network import NetworkLangevin

N, T = 100, 1.0
DT = 0.1 / (2 * N)


def _data():
    generator = np.random.default_rng(0)
    return np.ones((N, 1)), generator.normal(size=(N, 1))


def _exact_mean_energy(y, batch):
    a = 1 - 2 * N * DT
    extra = 0.0 if batch is None else 4 * N * N * DT * DT * y.var() / batch
    return N * (2 * T * DT + extra) / (1 - a * a) + np.sum((y - y.mean()) ** 2)


def _mean_energy(batch, seed=1):
    x, y = _data()
    model = NetworkLangevin("linear:1-1", (x, y), temperature=T, dt=DT, method="em",
                            boundary="none", batch=batch)
    result = fw.simulate(model, 400, 4000, seed=seed, burn_in=1000, progress=False)
    means = result.accumulators["walker_energy_sum"] / result.accumulators["walker_energy_count"]
    return means.mean(), means.std(ddof=1) / np.sqrt(means.size)  # walkers are independent


def test_sgld_has_its_exact_stationary_law_and_a_bias_that_shrinks_with_the_batch():
    _, y = _data()
    mala_exact = T / 2 + np.sum((y - y.mean()) ** 2)  # MALA samples exp(−U/T) exactly
    biases = {}
    for batch in (5, 50):
        mean, se = _mean_energy(batch)
        # 4 standard errors of 400 independent walkers: fails for a wrong scale n/B, a batch
        # drawn differently (e.g. without replacement: variance × (n − B)/(n − 1)) or a wrong noise
        assert abs(mean - _exact_mean_energy(y, batch)) < 4 * se, (batch, mean, se)
        biases[batch] = (mean - mala_exact, se)
    bias5, se5 = biases[5]
    bias50, se50 = biases[50]
    assert bias5 > 10 * se5  # the bias exists ...
    assert bias50 + 4 * se50 < bias5 / 4  # ... and shrinks as the batch grows (≈ 1/B beside EM's)


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def _tanh(batch):
    generator = np.random.default_rng(3)
    x = generator.normal(size=(40, 3))
    y = np.tanh(x @ generator.normal(size=(3, 2))) + 0.1 * generator.normal(size=(40, 2))
    return NetworkLangevin("mlp:3-4-2:tanh", (x, y), temperature=0.1, dt=1e-3, method="em",
                           start="uniform", batch=batch)


def _records(model, walkers, first_walker=0, threads=None):
    sink = MemorySink()
    Simulation(model, walkers, 30, seed=5, sinks=[sink], progress=False, every=10, burn_in=5,
               first_walker=first_walker, threads=threads).run()
    return sink


def test_sgld_is_bit_identical_for_any_threads_split_and_chunking(restore_threads):
    model = _tanh(8)
    runs = [_records(model, 9, threads=t) for t in (1, 2)]
    parts = [_records(model, hi - lo, first_walker=lo) for lo, hi in ((0, 4), (4, 9))]
    for k, frame in enumerate(runs[0].frames):
        np.testing.assert_array_equal(frame, runs[1].frames[k])
        np.testing.assert_array_equal(frame, np.vstack([p.frames[k] for p in parts]))
    for key in ("walker_energy_sum", "walker_energy_count"):
        np.testing.assert_array_equal(runs[0].accumulators[key], runs[1].accumulators[key])
        np.testing.assert_array_equal(runs[0].accumulators[key],
                                      np.concatenate([p.accumulators[key] for p in parts]))
    # a resume cuts the steps anywhere: the batch is drawn from the walker's stream at each step
    once = model.initial_state(rng.seed_states(2, 0, 3))
    model.advance(once, 0, 25, True)
    stepped = model.initial_state(rng.seed_states(2, 0, 3))
    for step in range(25):
        model.advance(stepped, step, 1, True)
    for key in ("position", "walker_energy_sum", "rng", "energy"):
        np.testing.assert_array_equal(once[key], stepped[key], err_msg=key)
    again = NetworkLangevin.from_parameters(model.parameters(), model.parameter_arrays())
    assert again.batch == 8 and again.parameters() == model.parameters()


def test_bad_batches_are_refused():
    x, y = _data()
    with pytest.raises(ValueError, match="no Metropolis step"):
        NetworkLangevin("linear:1-1", (x, y), method="mala", batch=10)
    with pytest.raises(ValueError, match="exceeds the 100 data points"):
        NetworkLangevin("linear:1-1", (x, y), method="em", batch=101)
    with pytest.raises(ValueError, match="batch"):
        NetworkLangevin("linear:1-1", (x, y), method="em", batch=0)


def test_cli_batch_runs_sgld_and_refuses_mala(fastwalk_cli, tmp_path):
    x, y = _data()
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=y)
    base = ["langevin", "--network", "linear:1-1", "--data", data, "--walkers", "8", "--steps", "20",
            "--seed", "1", "--quiet", "--batch", "10"]
    done = fastwalk_cli.run(*base, "--method", "em", "--dt", "1e-4", "--out", tmp_path / "s.h5")
    assert done.returncode == 0, done.stderr
    with fw.open(tmp_path / "s.h5") as run:
        assert run.parameters["batch"] == 10 and run.model.batch == 10
    for extra, message in ((["--method", "mala"], "no Metropolis step"),
                           (["--batch", "1000"], "exceeds the 100 data points")):
        bad = fastwalk_cli.run(*base, *extra, "--out", tmp_path / "bad.h5")
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad.h5").exists()
    typed = fastwalk_cli.run("langevin", "--dim", "1", "--potential", "x0**2", "--batch", "4",
                             "--out", tmp_path / "t.h5")
    assert typed.returncode == 2 and "--batch belongs to --network" in typed.stderr, typed.stderr
