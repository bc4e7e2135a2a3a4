"""Dask runs to one H5MD file on a real LocalCluster of processes on loopback.

One cluster of two single-thread worker processes serves the whole module.
Files written on it are compared, dataset by dataset, with one-process runs
of the same (parameters, seed): every dataset bit for bit (float observables
are exact sums, rounded once).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest

from fastwalk.api import simulate
from fastwalk.crossing import Crossing
from fastwalk.distributed import PartitionedRun, join_states, partition_walkers, split_state
from fastwalk.engine import MemorySink
from fastwalk.io.h5md import H5MDWriter

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _models():
    from fastwalk.models.free import FreeBrownian
    from fastwalk.models.graph import GraphWalk
    from fastwalk.models.langevin import LangevinBrownian
    from fastwalk.models.lattice import LatticeWalk
    from fastwalk.models.potential import PotentialBrownian
    from fastwalk.models.sphere import SphereBrownian

    ring = np.arange(6)
    return {
        "free": FreeBrownian(dim=2, diffusion=0.5, dt=0.01),
        "lattice": LatticeWalk(Crossing.lines(3), 9),
        "graph": GraphWalk(np.arange(0, 13, 2), np.stack([(ring - 1) % 6, (ring + 1) % 6], 1).ravel(),
                           lazy=0.25),
        "potential": PotentialBrownian(Crossing.lines(2), a=1.0, center=0.5, box=2.0, temperature=0.5,
                                       dt=0.01, start="uniform", bins=16),
        "sphere": SphereBrownian(dim=3, radius=1.0, diffusion=1.0, dt=0.01, start="uniform"),
        "langevin": LangevinBrownian("a * x0**2 * x1**2", 2, {"a": 2.0}, box=2.0, temperature=0.1,
                                     dt=0.02, method="mala", start="uniform", bins=16),
    }


def assert_same_run(path, reference):
    """Every dataset of ``reference`` is in ``path``, bit for bit."""
    with h5py.File(path, "r") as mine, h5py.File(reference, "r") as ref:
        def check(name, obj):
            if not isinstance(obj, h5py.Dataset):
                return
            got, want = mine[name][()], obj[()]
            nan = want.dtype.kind in "fc"  # NaN where nothing is defined yet (acceptance at step 0)
            assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=nan), name

        ref.visititems(check)
        assert mine["fastwalk"].attrs["status"] == ref["fastwalk"].attrs["status"] == "completed"


@pytest.mark.parametrize("kind", ["free", "lattice", "graph", "potential", "sphere", "langevin"])
def test_every_model_kind_on_the_cluster_equals_one_process(client, kind, tmp_path):
    model = _models()[kind]
    options = {"seed": 41, "every": 25, "observe_every": 20, "burn_in": 7, "commit_seconds": 0}
    simulate(model, 120, 130, out=tmp_path / "one.h5", **options)
    result = simulate(model, 120, 130, out=tmp_path / "dask.h5", client=client, partitions=5, **options)
    assert result.extra["partitions"] == 5 and result.reason == "completed"
    assert_same_run(tmp_path / "dask.h5", tmp_path / "one.h5")


def test_an_automatic_dt_is_chosen_once_and_the_cluster_run_equals_one_process(client, tmp_path):
    from fastwalk.models.langevin import LangevinBrownian

    model = LangevinBrownian("x0**2 * x1**4", 2, box=2.0, temperature=0.01, dt="auto",
                             method="mala", start="uniform", bins=16)
    options = {"seed": 43, "every": 25, "observe_every": 20, "burn_in": 400, "commit_seconds": 0}
    simulate(model, 120, 130, out=tmp_path / "one.h5", **options)
    result = simulate(model, 120, 130, out=tmp_path / "dask.h5", client=client, partitions=5, **options)
    assert result.reason == "completed"
    assert_same_run(tmp_path / "dask.h5", tmp_path / "one.h5")
    with h5py.File(tmp_path / "dask.h5", "r") as f:
        parameters = json.loads(f["parameters"].attrs["config"])["model"]
    assert isinstance(parameters["dt"], float) and parameters["dt_auto"]["rule"] == "acceptance"


def _rebuilds():
    from fastwalk.models import network

    return network.REBUILDS["count"]


def test_a_network_run_on_the_cluster_equals_one_process_and_loads_its_data_once_per_worker(
        client, tmp_path):
    from fastwalk.models.network import NetworkLangevin

    generator = np.random.default_rng(8)
    x = generator.normal(size=(50, 3))
    np.savez(tmp_path / "data.npz", x=x, y=np.tanh(x @ generator.normal(size=(3, 2))))
    model = NetworkLangevin("mlp:3-4-2:tanh", tmp_path / "data.npz", temperature=0.05, dt="auto",
                            method="mala", start="uniform")
    options = {"seed": 44, "every": 10, "observe_every": 10, "burn_in": 400, "commit_seconds": 0}
    simulate(model, 60, 100, out=tmp_path / "one.h5", **options)
    before = client.run(_rebuilds)
    result = simulate(model, 60, 100, out=tmp_path / "dask.h5", client=client, partitions=5, **options)
    assert result.reason == "completed" and result.extra["partitions"] == 5
    assert_same_run(tmp_path / "dask.h5", tmp_path / "one.h5")
    # every task (5 partitions × several slabs) carries the model; a worker process rebuilds it,
    # loading and hashing the data file, on the first task only (a counter in the worker, read
    # through client.run): at most once per worker, at least once in all
    after = client.run(_rebuilds)
    loads = [after[w] - before.get(w, 0) for w in after]
    assert max(loads) <= 1 and sum(loads) >= 1, loads


def _unpickled():
    from fastwalk.models import network

    return network.REBUILDS["unpickled"]


def test_data_given_from_python_go_to_each_worker_once(client, tmp_path, monkeypatch):
    from fastwalk import cluster
    from fastwalk.models.network import NetworkLangevin

    generator = np.random.default_rng(9)
    x = generator.normal(size=(40, 3))
    model = NetworkLangevin("mlp:3-4-2:tanh", (x, np.tanh(x @ generator.normal(size=(3, 2)))),
                            temperature=0.05, dt=0.002, method="mala", start="uniform")
    options = {"seed": 45, "every": 10, "observe_every": 10, "burn_in": 100, "commit_seconds": 0}
    simulate(model, 40, 60, out=tmp_path / "one.h5", **options)

    def unpickled_per_worker(name):
        before = client.run(_unpickled)
        run = PartitionedRun(model, 40, 60, partition_walkers(40, 4), client=client, slab_steps=10,
                             **options)
        run.sinks = [H5MDWriter(tmp_path / name, run.model)]
        result = run.run()
        assert result.reason == "completed" and result.extra["tasks"] >= 24
        assert_same_run(tmp_path / name, tmp_path / "one.h5")
        after = client.run(_unpickled)
        return [after[w] - before.get(w, 0) for w in after]

    # a small model travels inside every task (a fresh worker can rerun any task alone) ...
    assert sum(unpickled_per_worker("inside.h5")) >= 24
    # ... one whose pickle is large is broadcast once: the threshold, lowered, is the only change.
    # Dask's active memory manager may drop a worker's replica between tasks, so that a later task
    # there fetches it again (seen once in ten runs); paused, the count is exact
    monkeypatch.setattr(cluster.DaskExecutor, "SHARE_BYTES", 0)
    client.amm.stop()
    try:
        assert set(unpickled_per_worker("shared.h5")) == {1}  # every worker once
    finally:
        client.amm.start()
    monkeypatch.undo()
    big = np.zeros(2**18)  # 2 MiB > SHARE_BYTES
    assert isinstance(cluster.DaskExecutor(client).share(big), distributed.Future)
    assert cluster.DaskExecutor(client).share(x) is x
    assert cluster.InProcessExecutor().share(big) is big


def test_a_module_given_from_python_is_refused_for_the_cluster_in_one_message(client, tmp_path):
    # the model is pickled once, when it is shared: our message, not Dask's "Could not serialize
    # object of type LLGExpr", and no file
    torch = pytest.importorskip("torch")
    from fastwalk.models.torch_network import TorchNetworkLangevin

    net = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False), torch.nn.Linear(1, 2, bias=False))
    model = TorchNetworkLangevin(net, (np.sqrt(2) * np.eye(2), np.zeros((2, 2))), temperature=0.1,
                                 dt=0.01)
    with pytest.raises(TypeError, match="cannot be sent to other processes; give it as FILE.py"):
        simulate(model, 10, 20, client=client, out=tmp_path / "t.h5", progress=False)
    assert not list(tmp_path.glob("t.h5*"))


def test_packed_state_round_trip_and_one_process_state():
    blocks = partition_walkers(10, 3)
    states = [{"rng": np.arange(n), "x": np.full(n, i)} for i, (_, n) in enumerate(blocks)]
    back = split_state(join_states(states), blocks)
    for a, b in zip(states, back, strict=True):
        assert np.array_equal(a["rng"], b["rng"]) and np.array_equal(a["x"], b["x"])
    assert split_state({"rng": np.arange(10), "x": np.ones(10)}, [(0, 10)])[0]["x"].shape == (10,)
    with pytest.raises(ValueError, match="one partition"):
        split_state({"rng": np.arange(10)}, blocks)


def _worker_pids(client):
    return set(client.run(os.getpid).values())


class _KillWorkerAt:
    """A sink that SIGKILLs one worker process when the frame at ``step`` is written."""

    def __init__(self, client, step):
        self.client, self.step, self.killed = client, step, None

    def start(self, run):
        pass

    def frame(self, step, time, values):
        if step == self.step:
            self.killed = next(iter(_worker_pids(self.client)))
            os.kill(self.killed, signal.SIGKILL)

    def observables(self, step, time, values):
        pass

    def commit(self, step, state):
        pass

    def finish(self, result):
        pass


def test_worker_killed_mid_run_costs_a_rerun_and_changes_nothing(client, tmp_path):
    model = _models()["lattice"]
    walkers, steps, seed = 2000, 6000, 5
    simulate(model, walkers, steps, out=tmp_path / "one.h5", seed=seed, every=200, observe_every=100)
    before = _worker_pids(client)
    killer = _KillWorkerAt(client, step=400)
    run = PartitionedRun(model, walkers, steps, partition_walkers(walkers, 4), client=client, seed=seed,
                         every=200, observe_every=100, slab_steps=200, commit_seconds=0)
    writer = H5MDWriter(tmp_path / "dask.h5", run.model)
    run.sinks = [writer, killer]
    result = run.run()
    assert result.reason == "completed" and killer.killed in before
    assert_same_run(tmp_path / "dask.h5", tmp_path / "one.h5")
    client.wait_for_workers(2, timeout=120)
    after = _worker_pids(client)
    assert killer.killed not in after and len(after) == 2  # the nanny started a new worker


def test_cluster_and_in_process_partitions_give_the_same_memory_records(client):
    model = _models()["free"]
    sinks = [MemorySink(), MemorySink()]
    for sink, where in zip(sinks, (client, None), strict=True):
        simulate(model, 90, 50, seed=3, every=10, client=where, partitions=4, sinks=[sink])
    assert sinks[0].frame_steps == sinks[1].frame_steps == list(range(0, 51, 10))
    assert np.array_equal(np.stack(sinks[0].frames), np.stack(sinks[1].frames))


def _address(client):
    return client.scheduler.address


def test_client_killed_mid_run_resumes_on_dask_bit_identically(client, fastwalk_cli, tmp_path):
    args = ["lattice", "--lines", 3, "--length", 9, "--walkers", 400, "--steps", 60_000, "--every", 2000,
            "--seed", 8]
    out = tmp_path / "killed.h5"
    proc = fastwalk_cli.start(*args, "--dask", _address(client), "--commit-seconds", 0, "--out", out,
                              "--quiet")
    ckpt = out.with_name(out.name + ".ckpt")
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()
    proc.communicate()
    assert ckpt.exists(), "no checkpoint before the kill"
    import fastwalk

    with fastwalk.open(out) as run:  # readable, everything committed is there
        assert run.status == "running"
        committed = len(run.frames)
        # the checkpoint means a commit (frame 0 at least); the kill came before the last of 31
        assert 1 <= committed < 31
    resumed = fastwalk_cli.run("resume", out, "--dask", _address(client), "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["steps"] == 60_000 and summary["partitions"] == 4
    reference = fastwalk_cli.run(*args, "--out", tmp_path / "one.h5", "--quiet")
    assert reference.returncode == 0, reference.stderr
    assert_same_run(out, tmp_path / "one.h5")


def test_interrupted_dask_run_says_how_to_resume_on_the_cluster(client, fastwalk_cli, tmp_path):
    out = tmp_path / "stopped.h5"
    proc = fastwalk_cli.start("lattice", "--lines", 3, "--length", 9, "--walkers", 400, "--steps", 10**7,
                              "--dask", _address(client), "--commit-seconds", 0, "--out", out)
    ckpt = out.with_name(out.name + ".ckpt")
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"fastwalk resume {out} --dask {_address(client)}" in stderr
    assert "Traceback" not in stderr


CLUSTER_SCRIPT = textwrap.dedent("""
    import time, distributed
    if __name__ == "__main__":
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=":0")
        print(cluster.scheduler_address, flush=True)
        while True:
            time.sleep(1)
""")


def test_lost_scheduler_stops_with_one_line_and_a_resumable_file(fastwalk_cli, tmp_path):
    script = tmp_path / "cluster.py"
    script.write_text(CLUSTER_SCRIPT)
    cluster = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        address = cluster.stdout.readline().strip()
        args = ["lattice", "--lines", 3, "--length", 9, "--walkers", 400, "--steps", 60_000,
                "--every", 2000, "--seed", 5]
        out = tmp_path / "lost.h5"
        proc = fastwalk_cli.start(*args, "--dask", address, "--commit-seconds", 0, "--out", out,
                                  "--quiet")
        ckpt = out.with_name(out.name + ".ckpt")
        deadline = time.monotonic() + 120
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.killpg(cluster.pid, signal.SIGKILL)  # the scheduler and its worker, at once
        cluster.wait()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: lost the Dask scheduler"), stderr
    assert f"continue with: fastwalk resume {out} --dask {address}" in lines[0]
    resumed = fastwalk_cli.run("resume", out, "--quiet")  # on one process: the same run
    assert resumed.returncode == 0, resumed.stderr
    reference = fastwalk_cli.run(*args, "--out", tmp_path / "one.h5", "--quiet")
    assert reference.returncode == 0, reference.stderr
    assert_same_run(out, tmp_path / "one.h5")


RSS_SCRIPT = textwrap.dedent("""
    import resource, sys
    import distributed
    from fastwalk.distributed import PartitionedRun, partition_walkers
    from fastwalk.io.h5md import H5MDWriter
    from fastwalk.models.free import FreeBrownian

    client = distributed.Client(sys.argv[1])
    model = FreeBrownian(dim=3, diffusion=1.0, dt=0.01)
    peaks = []
    for steps in (1_000, 13_000):
        run = PartitionedRun(model, 10_000, steps, partition_walkers(10_000, 4), client=client, seed=1,
                             every=100, slab_bytes=2**20, commit_seconds=1)
        run.sinks = [H5MDWriter(f"{sys.argv[2]}/rss{steps}.h5", run.model)]
        run.run()
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(*peaks)
""")


@pytest.mark.slow
def test_client_memory_does_not_grow_with_the_trajectory(client, tmp_path):
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, _address(client), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    small, large = map(float, out.stdout.split())
    # 11 frames of 10 000 3-D walkers (2.6 MB) against 131 frames (31 MB): the client holds
    # at most a few 1 MiB slabs, so its peak may not follow the trajectory
    with h5py.File(tmp_path / "rss13000.h5") as f:
        assert f["particles/walkers/position/value"].shape == (131, 10_000, 3)
    assert large - small < 10, (small, large)


# ----------------------------------------------------------------------------- bad input
def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("extra, needle", [
    (["--dask", "tcp://nowhere"], "is not a scheduler address"),
    (["--dask", "local:0"], "N >= 1"),
    (["--dask", "local", "--partitions", 0], "--partitions must be"),
    (["--dask", "local", "--partitions", 11], "--partitions must be"),
    (["--partitions", 2], "--partitions needs --dask"),
    (["--dask", "local", "--threads", 1], "--threads does not apply with --dask"),
])
def test_bad_dask_options_exit_2_with_one_line(fastwalk_cli, tmp_path, extra, needle):
    out = fastwalk_cli.run("free", "--walkers", 10, "--steps", 5, "--out", tmp_path / "x.h5", *extra)
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "x.h5").exists()


def test_unreachable_scheduler_fails_fast(fastwalk_cli, tmp_path):
    t0 = time.monotonic()
    out = fastwalk_cli.run("free", "--walkers", 10, "--steps", 5, "--out", tmp_path / "x.h5",
                           "--dask", f"tcp://127.0.0.1:{_closed_port()}")
    assert out.returncode == 2, out.stderr
    assert "cannot reach the Dask scheduler" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert time.monotonic() - t0 < 60 and not (tmp_path / "x.h5").exists()


def test_dask_without_the_distributed_extra(tmp_path):
    code = ("import sys\nsys.modules['distributed'] = None\nfrom fastwalk.cli import main\n"
            f"main(['free', '--walkers', '10', '--steps', '5', '--out', {str(tmp_path / 'x.h5')!r}, "
            "'--dask', 'local:2'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "pip install" in out.stderr and "fastwalk[distributed]" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    info = subprocess.run([sys.executable, "-c", "import sys\nsys.modules['distributed'] = None\n"
                           "from fastwalk.cli import main\nmain(['info', '--json'])"],
                          capture_output=True, text=True, timeout=120)
    assert json.loads(info.stdout)["dask"].startswith("not installed")


def test_resume_across_one_process_and_the_cluster(client, tmp_path):
    from fastwalk.api import resume

    model = _models()["potential"]
    options = {"seed": 12, "every": 30, "observe_every": 25, "burn_in": 5, "commit_seconds": 0}
    simulate(model, 60, 240, out=tmp_path / "one.h5", **options)
    # a Dask run stopped at 90 steps continues in this process, partitions kept
    simulate(model, 60, 90, out=tmp_path / "dask.h5", client=client, partitions=3, **options)
    assert resume(tmp_path / "dask.h5", 240, commit_seconds=0).extra["partitions"] == 3
    assert_same_run(tmp_path / "dask.h5", tmp_path / "one.h5")
    # a one-process run continues on the cluster as one partition
    simulate(model, 60, 90, out=tmp_path / "local.h5", **options)
    assert resume(tmp_path / "local.h5", 240, client=client, commit_seconds=0).extra["partitions"] == 1
    assert_same_run(tmp_path / "local.h5", tmp_path / "one.h5")


def test_config_file_sets_the_dask_options(fastwalk_cli, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("walkers = 10\nsteps = 5\npartitions = 2\n")
    out = fastwalk_cli.run("free", "--config", config, "--out", tmp_path / "x.h5")
    assert out.returncode == 2 and "--partitions needs --dask" in out.stderr, out.stderr


def test_one_progress_line_over_all_partitions(client, capfd):
    simulate(_models()["free"], 40, 60, seed=2, client=client, partitions=3, progress=True)
    err = capfd.readouterr().err
    assert "step 60/60" in err and "ETA" in err and "walker-steps/s" in err


# ---------------------------------------------------------------------------- signals
class _SignalAtStart:
    """A sink that sends this process ``signum`` as the run starts (before any slab is written)."""

    def __init__(self, signum):
        self.signum = signum

    def start(self, run):
        os.kill(os.getpid(), self.signum)

    def frame(self, step, time, values):
        pass

    def observables(self, step, time, values):
        pass

    def commit(self, step, state):
        pass

    def finish(self, result):
        pass


def test_dask_run_signalled_before_its_first_commit_resumes_from_step_0(client, tmp_path):
    """Repro: a --dask run SIGTERM-ed before its first commit left a file with no checkpoint
    that 'fastwalk resume' refused; it now starts again from step 0, as one process does."""
    import fastwalk
    from fastwalk.api import resume

    model = _models()["sphere"]
    options = {"seed": 12, "every": 10, "observe_every": 10}
    simulate(model, 60, 50, out=tmp_path / "one.h5", **options)
    out = tmp_path / "stopped.h5"
    result = simulate(model, 60, 50, out=out, client=client, partitions=3, commit_seconds=1000,
                      sinks=[_SignalAtStart(signal.SIGTERM)], **options)
    assert result.reason == "interrupted" and result.steps == 0 and result.signal == signal.SIGTERM
    assert not out.with_name(out.name + ".ckpt").exists()
    with fastwalk.open(out) as run:
        assert run.status == "interrupted"
    resumed = resume(out, client=client)
    assert resumed.reason == "completed" and resumed.steps == 50
    assert_same_run(out, tmp_path / "one.h5")


@pytest.mark.parametrize("dask", [True, False])
def test_interrupt_advice_is_printed_with_quiet(client, fastwalk_cli, tmp_path, dask):
    """Repro: with -q an interrupted run printed nothing, not even how to resume it."""
    out = tmp_path / "stopped.h5"
    where = ["--dask", _address(client)] if dask else []
    proc = fastwalk_cli.start("lattice", "--lines", 3, "--length", 9, "--walkers", 400, "--steps", 10**8,
                              *where, "--commit-seconds", 0, "--out", out, "-q")
    ckpt = out.with_name(out.name + ".ckpt")
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    advice = f"resume with: fastwalk resume {out}" + (f" --dask {_address(client)}" if dask else "")
    assert stderr.strip().splitlines() == [advice], stderr


def test_sigterm_at_any_moment_of_a_dask_run_exits_as_its_file_says(client, fastwalk_cli, tmp_path):
    """Repro: a SIGTERM near the end killed the client by the signal (status −15, no message,
    Python's shutdown had put the default action back), or made a completed run exit 143.

    The run's own duration is measured first; signals then come at 50 % to 110 % of it. Each
    ends with 0 and a completed file, or 143, the resume advice and an interrupted (or, before
    the file exists, no) file; never a death by the signal."""
    args = ["lattice", "--lines", 3, "--length", 9, "--walkers", 400, "--steps", 20_000, "--seed", 3,
            "--dask", _address(client), "--commit-seconds", 0, "-q"]
    t0 = time.monotonic()
    whole = fastwalk_cli.run(*args, "--out", tmp_path / "whole.h5")
    duration = time.monotonic() - t0
    assert whole.returncode == 0, whole.stderr
    import fastwalk

    for i, fraction in enumerate((0.5, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1)):
        out = tmp_path / f"run{i}.h5"
        proc = fastwalk_cli.start(*args, "--out", out)
        time.sleep(fraction * duration)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode in (0, 143), (fraction, proc.returncode, stderr)
        status = None
        if out.exists():
            with fastwalk.open(out) as run:
                status = run.status
        if proc.returncode == 0:
            assert status == "completed" and stderr == "", (fraction, stderr)
        elif status is None:
            assert "nothing was written" in stderr, (fraction, stderr)
        else:
            assert status == "interrupted" and f"fastwalk resume {out}" in stderr, (fraction, stderr)


@pytest.mark.parametrize("kind", ["sphere", "free", "potential"])
def test_float_observables_are_bit_identical_to_one_process(client, kind, tmp_path):
    """Repro: sphere mean_cos_theta differed in the last ulp in 141 of 201 records (partition
    sums added in another order than one process's); sums are now exact, rounded once."""
    model = _models()[kind]
    options = {"seed": 9, "observe_every": 1}
    simulate(model, 3000, 200, out=tmp_path / "one.h5", **options)
    simulate(model, 3000, 200, out=tmp_path / "dask.h5", client=client, partitions=7, **options)
    with h5py.File(tmp_path / "one.h5", "r") as one, h5py.File(tmp_path / "dask.h5", "r") as dask:
        names = [name for name in one["observables"] if one[f"observables/{name}/value"].dtype.kind == "f"]
        assert names
        for name in names:
            want, got = one[f"observables/{name}/value"][()], dask[f"observables/{name}/value"][()]
            assert want.shape == (201,) and np.array_equal(got, want), name
