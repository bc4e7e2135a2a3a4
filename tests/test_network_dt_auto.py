"""``dt="auto"`` for network runs: curvature by Lanczos, EM's stability fraction, MALA's pilot, CLI."""

from __future__ import annotations

import json

import numba
import numpy as np
import pytest

import fastwalk as fw
from fastwalk import rng
from fastwalk.engine import MemorySink, Simulation
from fastwalk.models import _step_size
from fastwalk.models.network import NetworkLangevin


def _fd_hessian_top(model, point):
    """The largest eigenvalue of U's Hessian by central differences of the exact gradient."""
    d, step = model.dim, 1e-5
    hessian = np.empty((d, d))
    for i in range(d):
        shift = np.zeros(d)
        shift[i] = step
        hessian[:, i] = (model.energies_gradients(point + shift)[1]
                         - model.energies_gradients(point - shift)[1])[0] / (2 * step)
    return np.linalg.eigvalsh(0.5 * (hessian + hessian.T))


def _gaussian(**overrides):
    # linear:2-1 on x = diag(1, √2), y = 0: U(w) = w0² + 2·w1², the typed tests' Gaussian, whose
    # largest curvature is 4 everywhere (d = 1 is no test of the pilot: MALA's acceptance there
    # is not monotone in dt near dt·κ = 2, and the pilot's average over its dt's misleads)
    options = dict(box=4.0, temperature=0.1, dt="auto", method="mala", start="uniform")
    options.update(overrides)
    return NetworkLangevin("linear:2-1", (np.diag([1.0, np.sqrt(2.0)]), np.zeros((2, 1))), **options)


def _tanh(**overrides):
    generator = np.random.default_rng(3)
    x = generator.normal(size=(20, 3))
    y = x @ generator.normal(size=(3, 2)) + 0.1 * generator.normal(size=(20, 2))
    options = dict(temperature=0.1, dt="auto", method="mala", start="uniform", box=2.0)
    options.update(overrides)
    return NetworkLangevin("mlp:3-4-2:tanh", (x, y), **options)


def test_lanczos_curvature_equals_the_hessians_top_eigenvalue():
    model = _tanh(box=6.0)
    points = np.random.default_rng(5).uniform(-3, 3, size=(12, model.dim))
    top = model.curvatures(points)
    for point, value in zip(points, top, strict=True):
        eigenvalues = _fd_hessian_top(model, point[None, :])
        # the test points include ones where the most negative eigenvalue has the larger
        # modulus (power iteration came out 15 % low there); Lanczos with d > 20 rounds found
        # every one to 1e-7 relative; 1e-4 leaves room for the differences' rounding
        assert value == pytest.approx(eigenvalues[-1], rel=1e-4), eigenvalues
    assert any(-ev[0] > ev[-1] for ev in (_fd_hessian_top(model, p[None, :]) for p in points))


def test_euler_maruyama_takes_a_fraction_of_its_stability_limit():
    cold = _gaussian(method="em").for_run(1, 0)
    assert cold.dt == pytest.approx(_step_size.EM_FRACTION * 2.0 / 4.0, rel=1e-6)
    assert cold.dt_auto["rule"] == "stability" and cold.dt_auto["max_curvature"] == pytest.approx(4.0)
    hot = _gaussian(method="em", temperature=50.0).for_run(1, 0)  # the noise cap binds
    assert hot.dt == pytest.approx((0.05 * 4.0) ** 2 / (2 * 50.0), rel=1e-12)
    local = _gaussian(method="em", localize=20.0, at=[0.2, 0.0]).for_run(1, 0)  # 4 + T·γ
    assert local.dt == pytest.approx(_step_size.EM_FRACTION * 2.0 / 6.0, rel=1e-6)


def test_mala_dt_gives_the_target_acceptance_and_is_recorded(tmp_path):
    result = fw.simulate(_gaussian(), 500, 2000, out=tmp_path / "r.h5", seed=3, burn_in=2000,
                         progress=False)
    with result:
        params = result.parameters
        rate = result.observable("acceptance_rate").value[-1]
    record = params["dt_auto"]
    assert isinstance(params["dt"], float) and params["dt"] == record["acceptance_dt"]  # no cap
    assert record["relax_until"] == -1000 and record["relax_dt"] <= params["dt"]
    # as for typed Gaussians (tests/test_langevin_dt_auto.py): the pilot's seed-to-seed
    # spread of the acceptance is ~0.003; 0.02 is 7 of them, a dt off by 25 % moves it ~0.07
    assert abs(rate - 0.574) < 0.02, rate
    with fw.open(tmp_path / "r.h5") as run:
        assert run.model.dt == params["dt"] and run.model.dt_auto == record


def _records(model, walkers, first_walker=0, threads=None):
    sink = MemorySink()
    Simulation(model, walkers, 20, seed=11, sinks=[sink], progress=False, every=5, observe_every=5,
               burn_in=400, first_walker=first_walker, threads=threads).run()
    return sink


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def test_auto_runs_are_identical_for_any_threads_split_and_burn_in_calls(restore_threads):
    model = _tanh(localize=1.0)
    one, two = (_records(model, 9, threads=t) for t in (1, 2))
    parts = [_records(model, hi - lo, first_walker=lo) for lo, hi in ((0, 4), (4, 9))]
    for k, frame in enumerate(one.frames):
        np.testing.assert_array_equal(frame, two.frames[k])
        np.testing.assert_array_equal(frame, np.vstack([p.frames[k] for p in parts]))
    # a resume may cut the burn-in anywhere: one call across the relaxation's end equals steps
    resolved = _gaussian().for_run(11, 400)
    assert resolved.dt_auto["relax_until"] == -200
    assert resolved.dt_auto["relax_dt"] < resolved.dt  # the relaxation matters here
    once = resolved.initial_state(rng.seed_states(4, 0, 5))
    resolved.advance(once, -400, 410, False)
    stepped = resolved.initial_state(rng.seed_states(4, 0, 5))
    for step in range(-400, 10):
        resolved.advance(stepped, step, 1, False)
    for key in ("position", "walker_accepted", "rng"):
        np.testing.assert_array_equal(once[key], stepped[key], err_msg=key)
    again = NetworkLangevin.from_parameters(resolved.parameters(), resolved.parameter_arrays())
    assert again.parameters() == resolved.parameters()
    with pytest.raises(ValueError, match="burn-in of at least 400"):
        model.for_run(1, 399)
    with pytest.raises(ValueError, match="dt is 'auto' until a run chooses it"):
        _ = model.dt


def test_cli_dt_auto_for_a_network_says_what_it_chose(fastwalk_cli, tmp_path):
    data = tmp_path / "d.npz"
    x = np.sqrt(2.0) * np.eye(2)
    np.savez(data, x=x, y=x @ np.array([[0.5, 0.0], [0.0, 0.0]]).T)
    done = fastwalk_cli.run("langevin", "--network", "linear:2-1-2", "--data", data, "--method",
                            "mala", "--dt", "auto", "--start", "uniform", "--temperature",
                            "0.02,0.01", "--walkers", "20", "--steps", "50", "--burn-in", "400",
                            "--seed", "2", "--out", tmp_path / "s.h5")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("dt auto -> ")]
    assert len(lines) == 2 and "T = 0.02 " in lines[0] and "mala:" in lines[0], done.stdout
    for name in ("s-T0.02.h5", "s-T0.01.h5"):
        with fw.open(tmp_path / name) as run:
            assert run.parameters["dt_auto"]["rule"] == "acceptance"
            assert f"{run.parameters['dt']:.6g}" in done.stdout
    em = fastwalk_cli.run("langevin", "--network", "linear:2-1-2", "--data", data, "--dt", "auto",
                          "--walkers", "4", "--steps", "10", "--seed", "2", "--json",
                          "--out", tmp_path / "em.h5")
    assert em.returncode == 0, em.stderr
    assert json.loads(em.stdout)["parameters"]["dt_auto"]["rule"] == "stability"


def _cold_rank_one_walker_lambdas(seed):
    # K = |BA − W0|² of linear:2-2-2, W0 of rank 1, at β' = n/T = 10⁴ from a uniform start
    x = np.sqrt(2.0) * np.eye(2)
    model = NetworkLangevin("linear:2-2-2", (x, x @ np.diag([0.5, 0.0]).T), temperature=2 / 1e4,
                            dt="auto", method="mala", start="uniform")
    sink = MemorySink()
    Simulation(model, 100, 300, seed=seed, sinks=[sink], progress=False, burn_in=4000).run()
    sums, counts = sink.accumulators["walker_energy_sum"], sink.accumulators["walker_energy_count"]
    return sums / counts * (1e4 / 2)  # each walker's time-averaged λ̂ = β⟨U⟩


def test_the_unadjusted_relaxation_unsticks_walkers_at_a_large_beta(monkeypatch):
    # λ = 2 here; a walker whose λ̂ exceeds 20 never reached the valley. With MALA relaxing
    # (the typed potentials' way) 10-30 % of the walkers stuck (DESIGN.md, "Networks and data")
    assert np.max(_cold_rank_one_walker_lambdas(4)) < 20
    monkeypatch.setattr(NetworkLangevin, "_relax", NetworkLangevin._advance)
    assert np.sum(_cold_rank_one_walker_lambdas(4) > 20) >= 3


def test_a_killed_auto_network_run_resumes_bit_identically(fastwalk_cli, tmp_path):
    import time

    from test_network_cli import _contents

    generator = np.random.default_rng(7)
    x = generator.normal(size=(30, 3))
    data = tmp_path / "data.npz"
    np.savez(data, x=x, y=x @ generator.normal(size=(3, 2)) * 0.3)
    args = ["langevin", "--network", "linear:3-2-2", "--data", data, "--method", "mala", "--dt",
            "auto", "--start", "uniform", "--walkers", "40", "--seed", "3", "--quiet",
            "--temperature", "0.05", "--burn-in", "4000", "--steps", "20000", "--every", "2000"]
    reference = tmp_path / "reference.h5"
    assert fastwalk_cli.run(*args, "--out", reference).returncode == 0
    path = tmp_path / "killed.h5"
    process = fastwalk_cli.start(*args, "--out", path, env={"FASTWALK_COMMIT_SECONDS": "0"})
    checkpoint = path.with_name(path.name + ".ckpt")
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    process.kill()
    process.communicate(timeout=60)
    resumed = fastwalk_cli.run("resume", path, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    want, got = _contents(reference), _contents(path)
    assert want.keys() == got.keys()
    for key in want:
        np.testing.assert_array_equal(want[key], got[key], err_msg=key)
    with fw.open(path) as run, fw.open(reference) as ref:
        assert run.parameters == ref.parameters and run.parameters["dt_auto"]["rule"] == "acceptance"
