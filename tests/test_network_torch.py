"""The PyTorch path: a user's nn.Module, all walkers in one batched call (optional extra ``torch``).

Skipped where PyTorch is not installed, except the checks that the core never imports it
and that a missing PyTorch is one clear line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastwalk.engine import MemorySink, Simulation

SEED = 99
Z_MAX = 4.5


def test_the_core_never_imports_torch():
    code = ("import sys, numpy as np, fastwalk as fw; "
            "m = fw.NetworkLangevin('mlp:2-3-1:tanh', (np.ones((4, 2)), np.zeros((4, 1)))); "
            "fw.simulate(m, 4, 3, seed=1); import fastwalk.models; fastwalk.models.known_kinds(); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def test_missing_torch_is_one_line_exit_2(fastwalk_cli, tmp_path):
    blocker = tmp_path / "block" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('no torch here')\n")
    data = tmp_path / "d.npz"
    np.savez(data, x=np.ones((4, 2)), y=np.zeros((4, 1)))
    (tmp_path / "net.py").write_text("def build():\n    import torch\n    return torch.nn.Linear(2, 1)\n")
    path = os.pathsep.join([str(tmp_path / "block"), os.environ.get("PYTHONPATH", "")])
    out = tmp_path / "out.h5"
    done = fastwalk_cli.run("langevin", "--network", f"{tmp_path / 'net.py'}:build", "--data", data,
                            "--out", out, env={"PYTHONPATH": path})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs PyTorch" in lines[0], done.stderr
    assert not out.exists()


torch = pytest.importorskip("torch")
from fastwalk.models.network import NetworkLangevin  # noqa: E402
from fastwalk.models.torch_network import TorchNetworkLangevin  # noqa: E402


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


@pytest.mark.parametrize("loss", ["mse", "xent"])
def test_module_and_builtin_network_give_the_same_loss_and_gradient(loss):
    generator = np.random.default_rng(0)
    x = generator.normal(size=(20, 3))
    y = generator.integers(0, 2, 20) if loss == "xent" else generator.normal(size=(20, 2))
    mine = TorchNetworkLangevin(_mlp(), (x, y), loss)
    builtin = NetworkLangevin("mlp:3-4-2:tanh", (x, y), loss)
    assert [e["shape"] for e in mine.network.layout()] == [e["shape"] for e in builtin.network.layout()]
    points = generator.normal(size=(5, builtin.dim))
    for a, b in zip(mine.energies_gradients(points), builtin.energies_gradients(points), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


def _mean_energy(model, walkers, steps, burn_in):
    sink = MemorySink()
    Simulation(model, walkers, steps, seed=SEED, burn_in=burn_in, sinks=[sink], progress=False).run()
    averages = sink.accumulators["walker_energy_sum"] / sink.accumulators["walker_energy_count"]
    return averages.mean(), averages.std(ddof=1) / np.sqrt(averages.size)


def test_mala_samples_the_posterior_with_a_fixed_localizer():
    # as tests/test_network.py: U = n·w², Gaussian of precision 2n/T + γ; the wrong law has γ/T
    n, temperature, gamma, anchor = 5, 0.5, 3.0, 0.4
    module = torch.nn.Linear(1, 1, bias=False)
    model = TorchNetworkLangevin(module, (np.ones((n, 1)), np.zeros((n, 1))), box=20.0,
                                 temperature=temperature, dt=0.05, method="mala", localize=gamma,
                                 at=[anchor])
    mean, stderr = _mean_energy(model, 1000, 200, 50)

    def expected(precision):
        return n * (1.0 / precision + (gamma * anchor / precision) ** 2)

    assert abs(mean - expected(2 * n / temperature + gamma)) < Z_MAX * stderr
    assert abs(mean - expected(2 * n / temperature + gamma / temperature)) > Z_MAX * stderr


def test_same_settings_are_bit_identical_and_resume_continues_bit_identically():
    generator = np.random.default_rng(1)
    x = generator.normal(size=(10, 3))
    model = TorchNetworkLangevin(_mlp(), (x, generator.normal(size=(10, 2))), temperature=0.1,
                                 dt=1e-3, start="uniform")
    options = {"every": 5, "observe_every": 5, "burn_in": 2}

    def whole():
        sink = MemorySink()
        Simulation(model, 8, 20, seed=SEED, sinks=[sink], progress=False, **options).run()
        return sink

    a, b = whole(), whole()
    first = MemorySink()
    stopped = Simulation(model, 8, 10, seed=SEED, sinks=[first], progress=False, **options)
    stopped.run()
    rest = MemorySink()
    again = Simulation(model, 8, 20, seed=SEED, sinks=[rest], progress=False, **options)
    again.restore(stopped.step, stopped.state)
    again.run()
    for k, frame in enumerate(a.frames):
        np.testing.assert_array_equal(frame, b.frames[k])
    np.testing.assert_array_equal(a.frames[-1], rest.frames[-1])
    for key in ("walker_energy_sum", "walker_energy_count"):
        np.testing.assert_array_equal(a.accumulators[key], rest.accumulators[key])


def _module_file(tmp_path, body):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_cli_runs_a_module_file_and_resume_needs_import_permission(fastwalk_cli, tmp_path):
    data = tmp_path / "d.npz"
    generator = np.random.default_rng(2)
    np.savez(data, x=generator.normal(size=(10, 3)), y=generator.normal(size=(10, 2)))
    module = _module_file(tmp_path, """
        import torch
        def build():
            torch.manual_seed(0)
            return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    """)
    out = tmp_path / "run.h5"
    args = ["langevin", "--network", f"{module}:build", "--data", data, "--method", "mala",
            "--dt", "1e-3", "--temperature", "0.1", "--walkers", "8", "--seed", "1", "--quiet"]
    done = fastwalk_cli.run(*args, "--steps", "20", "--out", out)
    assert done.returncode == 0, done.stderr
    refused = fastwalk_cli.run("resume", out, "--steps", "40", "--quiet")
    assert refused.returncode != 0 and "--import-potential" in refused.stderr, refused.stderr
    resumed = fastwalk_cli.run("resume", out, "--steps", "40", "--import-potential", "--quiet")
    assert resumed.returncode == 0, resumed.stderr


@pytest.mark.parametrize("body, message", [
    ("raise RuntimeError('broken')\n", "does not load (RuntimeError: broken)"),
    ("def build():\n    return 3\n", "returned a int, not a torch.nn.Module"),
    ("x = 1\n", "does not define build"),
])
def test_a_bad_module_file_is_one_line_exit_2(fastwalk_cli, tmp_path, body, message):
    data = tmp_path / "d.npz"
    np.savez(data, x=np.ones((4, 3)), y=np.zeros((4, 2)))
    module = _module_file(tmp_path, body)
    out = tmp_path / "out.h5"
    done = fastwalk_cli.run("langevin", "--network", f"{module}:build", "--data", data, "--out", out)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not out.exists()


@pytest.mark.slow  # ~30 s: the torch path evaluates 900 batches of 300 walkers
def test_module_and_builtin_network_give_the_same_lambda_hat():
    # U = n·(a·b − 0)² on x = 1, y = 0 (linear:1-1-1, the m = 2 singularity) at β = 20 on
    # [−1, 1]²: each path's λ̂(β) = β⟨U⟩ from independent walkers; the two must agree within
    # 4.5 combined standard errors (the same law), and a wrong law (T doubled) must not
    from fastwalk.analysis.llc import run_estimate

    data = (np.ones((1, 1)), np.zeros((1, 1)))
    module = torch.nn.Sequential(torch.nn.Linear(1, 1, bias=False), torch.nn.Linear(1, 1, bias=False))
    settings = dict(temperature=0.05, dt=0.2, method="mala", start="uniform")
    estimates = []
    for model in (NetworkLangevin("linear:1-1-1", data, **settings),
                  TorchNetworkLangevin(module, data, **settings),
                  NetworkLangevin("linear:1-1-1", data, **{**settings, "temperature": 0.1})):
        sink = MemorySink()
        Simulation(model, 300, 600, seed=SEED, burn_in=300, sinks=[sink], progress=False).run()
        estimates.append(run_estimate(20.0, sink.accumulators["walker_energy_sum"],
                                      sink.accumulators["walker_energy_count"]))
    builtin, mine, wrong = estimates
    combined = np.hypot(builtin["lambda_hat_stderr"], mine["lambda_hat_stderr"])
    assert abs(builtin["lambda_hat"] - mine["lambda_hat"]) < Z_MAX * combined, estimates
    assert abs(wrong["lambda_hat"] - mine["lambda_hat"]) > Z_MAX * combined, estimates


def test_dt_auto_for_a_module_resolves_like_the_builtin_network(tmp_path):
    # U = w0² + 2·w1² through torch.nn.Linear(2, 1, bias=False): the builtin linear:2-1 on the
    # same data; the curvatures agree to the gradients' rounding, and the run records its dt
    data = (np.diag([1.0, np.sqrt(2.0)]), np.zeros((2, 1)))
    settings = dict(box=4.0, temperature=0.1, dt="auto", method="mala", start="uniform")
    mine = TorchNetworkLangevin(torch.nn.Linear(2, 1, bias=False), data, **settings)
    builtin = NetworkLangevin("linear:2-1", data, **settings)
    points = np.random.default_rng(1).uniform(-2, 2, size=(4, 2))
    np.testing.assert_allclose(mine.curvatures(points), builtin.curvatures(points), rtol=1e-8)
    np.testing.assert_allclose(mine.curvatures(points), 4.0, rtol=1e-6)
    resolved = mine.for_run(3, 400)
    assert resolved.dt_auto["rule"] == "acceptance" and resolved.dt > 0
    sink = MemorySink()
    Simulation(mine, 50, 200, seed=3, burn_in=400, sinks=[sink], progress=False).run()
    # counted steps only: the proposals of the 200 recorded steps of 50 walkers
    assert sink.accumulators["walker_energy_count"].sum() == 50 * 200


@pytest.mark.parametrize("loss", ["mse", "xent"])
def test_module_and_builtin_network_give_the_same_per_datum_losses(loss):
    # what the singular fluctuation reads (fastwalk.analysis.llc); their sum is U
    generator = np.random.default_rng(4)
    x = generator.normal(size=(9, 3))
    y = generator.integers(0, 2, 9) if loss == "xent" else generator.normal(size=(9, 2))
    mine = TorchNetworkLangevin(_mlp(), (x, y), loss)
    builtin = NetworkLangevin("mlp:3-4-2:tanh", (x, y), loss)
    points = generator.normal(size=(4, builtin.dim))
    losses = builtin.datum_losses(points)
    np.testing.assert_allclose(mine.datum_losses(points), losses, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(losses.sum(axis=1), builtin.energy(points), rtol=1e-12)
