"""The network model: n·L_n and its gradient, the sampled law, bit-identity, the data's hash.

Statistical checks use a fixed seed and |z| < 4.5 with the standard error of the walkers'
time averages (independent walkers); each is paired with a wrong law the same check rejects.
"""

from __future__ import annotations

import os
import signal

import numba
import numpy as np
import pytest
from scipy import stats

from fastwalk.engine import MemorySink, Simulation
from fastwalk.models.network import NetworkLangevin
from fastwalk.networks import parse_network

SEED = 20261207
Z_MAX = 4.5


def _reference_loss(network, loss, w, x, y):
    f = network.forward(w, x)
    if loss == "mse":
        return float(((f - y) ** 2).sum())
    z = f - f.max(axis=1, keepdims=True)
    return float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).sum())


@pytest.mark.parametrize("spec, loss", [
    ("linear:3-2-3", "mse"), ("linear:3-2-4-2", "mse"), ("mlp:3-4-5-2:tanh", "mse"),
    ("mlp:3-4-2:relu", "mse"), ("mlp:3-4-3:gelu", "xent"), ("mlp:3-5-4:tanh", "xent"),
])
def test_loss_and_gradient_match_numpy_and_finite_differences(spec, loss):
    network = parse_network(spec)
    generator = np.random.default_rng(1)
    x = generator.normal(size=(7, 3))
    y = (generator.integers(0, network.outputs, 7) if loss == "xent"
         else generator.normal(size=(7, network.outputs)))
    model = NetworkLangevin(spec, (x, y), loss)
    points = 0.7 * generator.normal(size=(3, network.dim))
    energy, gradient = model.energies_gradients(points)
    want = [_reference_loss(network, loss, w, x, y) for w in points]
    np.testing.assert_allclose(energy, want, rtol=1e-12, atol=1e-12)
    h = 1e-6  # central differences: error O(h²·U''') + O(eps·U/h) ~ 1e-8 here
    numeric = np.array([[(_reference_loss(network, loss, w + h * e, x, y)
                          - _reference_loss(network, loss, w - h * e, x, y)) / (2 * h)
                         for e in np.eye(network.dim)] for w in points])
    np.testing.assert_allclose(gradient, numeric, atol=1e-6)


def test_parameter_order_is_pytorchs_weight_then_bias_per_layer():
    network = parse_network("mlp:2-3-1:tanh")
    assert [(e["name"], e["shape"], e["offset"]) for e in network.layout()] == [
        ("W1", [3, 2], 0), ("b1", [3], 6), ("W2", [1, 3], 9), ("b2", [1], 12)]
    w = np.arange(13.0) / 10
    x = np.array([[0.5, -1.0]])
    hidden = np.tanh(w[:6].reshape(3, 2) @ x[0] + w[6:9])
    assert network.forward(w, x)[0, 0] == pytest.approx(w[9:12] @ hidden + w[12])


def _mean_energy(model, walkers, steps, burn_in, seed=SEED):
    sink = MemorySink()
    Simulation(model, walkers, steps, seed=seed, burn_in=burn_in, sinks=[sink], progress=False).run()
    state = sink.accumulators
    averages = state["walker_energy_sum"] / state["walker_energy_count"]
    return averages.mean(), averages.std(ddof=1) / np.sqrt(averages.size)


# U(w) = n·w² on x = 1, y = 0: with the fixed localizer the law is Gaussian of precision
# 2n/T + γ and mean γ·a/(2n/T + γ); a localizer divided by T (the wrong law) has 2n/T + γ/T.
@pytest.mark.parametrize("method", ["mala"])
def test_mala_samples_the_posterior_with_a_fixed_localizer(method):
    n, temperature, gamma, anchor = 5, 0.5, 3.0, 0.4
    data = (np.ones((n, 1)), np.zeros((n, 1)))
    model = NetworkLangevin("linear:1-1", data, box=20.0, temperature=temperature, dt=0.05,
                            method=method, localize=gamma, at=[anchor])
    mean, stderr = _mean_energy(model, 2000, 300, 100)

    def expected(precision):
        return n * (1.0 / precision + (gamma * anchor / precision) ** 2)

    right = expected(2 * n / temperature + gamma)
    wrong = expected(2 * n / temperature + gamma / temperature)
    assert abs(mean - right) < Z_MAX * stderr, (mean, stderr, right)
    assert abs(mean - wrong) > Z_MAX * stderr, (mean, stderr, wrong)


# A box narrower than the Gaussian: the law is the Gaussian truncated to the box, for a
# reflecting box (refused proposals) and for a periodic one (the torus law), from a uniform start.
@pytest.mark.parametrize("boundary", ["reflect", "periodic"])
def test_mala_law_on_a_narrow_box_is_the_truncated_gaussian(boundary):
    n, temperature, side = 5, 0.5, 0.4
    data = (np.ones((n, 1)), np.zeros((n, 1)))
    model = NetworkLangevin("linear:1-1", data, box=side, boundary=boundary, temperature=temperature,
                            dt=0.02, method="mala", start="uniform")
    mean, stderr = _mean_energy(model, 2000, 300, 50)
    sd = np.sqrt(temperature / (2 * n))
    half = side / 2 / sd
    truncated = n * stats.truncnorm(-half, half, scale=sd).moment(2)
    free = n * sd**2
    assert abs(mean - truncated) < Z_MAX * stderr, (mean, stderr, truncated)
    assert abs(mean - free) > Z_MAX * stderr


def _records(model, walkers, steps, first_walker=0, threads=None, **options):
    sink = MemorySink()
    Simulation(model, walkers, steps, seed=SEED, sinks=[sink], progress=False, every=5,
               observe_every=3, burn_in=4, first_walker=first_walker, threads=threads,
               **options).run()
    return sink


def _model(method="mala", **options):
    generator = np.random.default_rng(3)
    x = generator.normal(size=(20, 3))
    y = x @ generator.normal(size=(3, 2)) + 0.1 * generator.normal(size=(20, 2))
    return NetworkLangevin("mlp:3-4-2:tanh", (x, y), temperature=0.1, dt=1e-3, method=method,
                           start="uniform", **options)


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@pytest.mark.parametrize("method", ["em", "mala"])
def test_identical_with_one_and_two_threads_and_any_walker_split(method, restore_threads):
    model = _model(method, localize=2.0)
    one, two = (_records(model, 9, 20, threads=t) for t in (1, 2))
    parts = [_records(model, hi - lo, 20, first_walker=lo) for lo, hi in ((0, 4), (4, 9))]
    for k, frame in enumerate(one.frames):
        np.testing.assert_array_equal(frame, two.frames[k])
        np.testing.assert_array_equal(frame, np.vstack([p.frames[k] for p in parts]))
    np.testing.assert_array_equal(one.series("mean_energy"), two.series("mean_energy"))
    for key in ("walker_energy_sum", "walker_energy_count"):
        np.testing.assert_array_equal(one.accumulators[key], two.accumulators[key])
        np.testing.assert_array_equal(one.accumulators[key],
                                      np.concatenate([p.accumulators[key] for p in parts]))


class _SignalSink(MemorySink):
    """A MemorySink that sends the process a real signal when a given frame arrives."""

    def __init__(self, at_step):
        super().__init__()
        self.at_step = at_step

    def frame(self, step, time, values):
        super().frame(step, time, values)
        if step == self.at_step:
            os.kill(os.getpid(), signal.SIGINT)


def test_signal_then_resume_is_bit_identical():
    model = _model()
    options = {"every": 5, "observe_every": 3, "burn_in": 4}
    sink = _SignalSink(at_step=10)
    stopped = Simulation(model, 6, 25, seed=SEED, sinks=[sink], progress=False, **options)
    assert stopped.run().reason == "interrupted"
    rest = MemorySink()
    again = Simulation(model, 6, 25, seed=SEED, sinks=[rest], progress=False, **options)
    again.restore(stopped.step, stopped.state)
    assert again.run().reason == "completed"
    whole = _records(model, 6, 25)
    frames = sink.frames + rest.frames
    assert len(frames) == len(whole.frames)
    for a, b in zip(whole.frames, frames, strict=True):
        np.testing.assert_array_equal(a, b)
    for key in ("walker_energy_sum", "walker_energy_count"):
        np.testing.assert_array_equal(whole.accumulators[key], rest.accumulators[key])


def test_parameters_round_trip_and_changed_data_are_refused(tmp_path):
    generator = np.random.default_rng(4)
    x, y = generator.normal(size=(10, 2)), generator.normal(size=(10, 1))
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=y)
    model = NetworkLangevin("mlp:2-3-1:relu", path, localize=1.5, at=np.full(13, 0.1),
                            start=np.zeros(13))
    again = NetworkLangevin.from_parameters(model.parameters(), model.parameter_arrays())
    assert again == model
    np.savez(path, x=x, y=y + 1e-9)
    with pytest.raises(ValueError, match="changed since the run was written"):
        NetworkLangevin.from_parameters(model.parameters(), model.parameter_arrays())
    in_memory = NetworkLangevin("mlp:2-3-1:relu", (x, y))
    arrays = in_memory.parameter_arrays()
    assert set(arrays) == {"network/x", "network/y"}
    assert NetworkLangevin.from_parameters(in_memory.parameters(), arrays) == in_memory


def test_trained_point_is_a_deterministic_minimum():
    from fastwalk.networks import trained_point

    generator = np.random.default_rng(5)
    x = generator.normal(size=(40, 2))
    y = np.tanh(x @ np.array([[1.0], [-0.5]])) + 0.05 * generator.normal(size=(40, 1))
    first = trained_point("mlp:2-3-1:tanh", (x, y))
    again = trained_point("mlp:2-3-1:tanh", (x, y))
    np.testing.assert_array_equal(first, again)
    model = NetworkLangevin("mlp:2-3-1:tanh", (x, y), boundary="none")
    energy, gradient = model.energies_gradients(first[None, :])
    start = model.energies_gradients(0.5 * np.random.default_rng(0).standard_normal((1, 13)))[0]
    assert energy[0] < 0.1 * start[0]
    assert np.abs(gradient).max() < 1e-4  # a stationary point: L-BFGS ran to its tolerance
    # the noise floor: a minimum fits no better than the noise it cannot explain, 40·0.05² = 0.1
    assert 0.02 < energy[0] < 0.2


def test_hdf5_data_and_a_pickled_model_reload_the_same_data(tmp_path):
    import pickle

    import h5py

    generator = np.random.default_rng(6)
    x, y = generator.normal(size=(12, 2)), generator.normal(size=12)
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as handle:
        handle["x"], handle["y"] = x, y  # y [n] is one output's targets
    model = NetworkLangevin("mlp:2-3-1:gelu", path)
    np.testing.assert_array_equal(model.data.y[:, 0], y)
    again = pickle.loads(pickle.dumps(model))  # what a Dask worker receives: parameters, not data
    assert again == model and again.data.sha256 == model.data.sha256
    points = generator.normal(size=(2, model.dim))
    np.testing.assert_array_equal(again.energy(points), model.energy(points))


def test_a_network_past_a_thousand_parameters_writes_and_reads_its_file(tmp_path):
    # the H5MD box holds one boundary string per dimension: past 1024 it needs HDF5 1.8's
    # dense attribute storage (a 2-D-era compact attribute refused d = 10,501)
    import fastwalk as fw

    generator = np.random.default_rng(8)
    x = generator.normal(size=(8, 2))
    model = NetworkLangevin("mlp:2-100-100-1:tanh", (x, np.sin(x[:, :1])), temperature=0.01, dt=1e-6,
                            box=0.5, start="uniform")
    assert model.dim == 10501
    path = tmp_path / "wide.h5"
    fw.simulate(model, 3, 4, seed=1, every=2, out=path, progress=False)
    with fw.open(path) as run:
        assert run.frames[-1].shape == (3, 10501)
        assert len(run.box()["boundary"]) == 10501


def test_runs_around_different_points_are_not_combined_by_llc(tmp_path):
    import fastwalk as fw
    from fastwalk.analysis.llc import llc_report

    data = (np.ones((2, 1)), np.zeros((2, 1)))
    paths = []
    for i, at in enumerate(([0.1], [0.2], [0.1])):
        model = NetworkLangevin("linear:1-1", data, temperature=0.1 * (i + 1), dt=0.01, localize=1.0,
                                at=at)
        paths.append(tmp_path / f"r{i}.h5")
        fw.simulate(model, 4, 20, seed=1, out=paths[-1], progress=False)
    assert len(llc_report([paths[0], paths[2]])["runs"]) == 2  # one w*: one sweep
    with pytest.raises(ValueError, match="has potential = .* at sha256"):  # the refusal names both
        llc_report(paths[:2])


def test_local_lambda_at_the_trained_minimum_of_a_regression(tmp_path):
    # linear:2-2 (y = W·x) is quadratic: U = U* + (w − w*)ᵀH(w − w*)/2 with H = 2·(I ⊗ XᵀX) in
    # the row-major order of W. Under exp(−βU − γ/2|w − w*|²) (fixed localizer, no walls)
    # β⟨U − U*⟩ = ½ Σ βh/(βh + γ) over H's eigenvalues h: the local λ̂ at this β and γ
    import fastwalk as fw
    from fastwalk.analysis.llc import llc_report
    from fastwalk.networks import trained_point

    generator = np.random.default_rng(9)
    x = generator.normal(size=(30, 2))
    y = x @ np.array([[1.0, -0.5], [0.3, 0.8]]).T + 0.3 * generator.normal(size=(30, 2))
    w_star = trained_point("linear:2-2", (x, y))
    np.testing.assert_allclose(w_star.reshape(2, 2).T, np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-8)
    beta, gamma = 2.0, 30.0
    model = NetworkLangevin("linear:2-2", (x, y), temperature=1 / beta, dt=2e-3, boundary="none",
                            localize=gamma, at=w_star, start=w_star, method="mala")
    u_star = float(model.energy(w_star[None, :])[0])
    path = tmp_path / "local.h5"
    fw.simulate(model, 500, 400, seed=4, burn_in=100, out=path, progress=False)
    report = llc_report([path], u_min=u_star)
    h = np.linalg.eigvalsh(2 * np.kron(np.eye(2), x.T @ x))
    right = 0.5 * np.sum(beta * h / (beta * h + gamma))
    wrong = 0.5 * np.sum(beta * h / (beta * h + gamma * beta))  # a localizer divided by T
    assert abs(report["lambda"] - right) < Z_MAX * report["lambda_stderr"], (report["lambda"], right)
    assert abs(report["lambda"] - wrong) > Z_MAX * report["lambda_stderr"], (report["lambda"], wrong)
