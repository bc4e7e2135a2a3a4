"""Crashes, signals, a full disk, NaN blow-ups and memory: real ``fastwalk`` processes.

Every check compares with an uninterrupted reference run of the same parameters
and seed, bit for bit. Runs commit every 50 ms here (``FASTWALK_COMMIT_SECONDS``)
so that a kill can land between many commits.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import fastwalk
from fastwalk.api import COMMIT_SECONDS_ENV, simulate
from fastwalk.engine import MemorySink
from fastwalk.errors import FileFormatError, SimulationError
from fastwalk.io.checkpoint import checkpoint_path, read_checkpoint
from fastwalk.models.free import FreeBrownian

FAST_COMMITS = {COMMIT_SECONDS_ENV: "0.05"}
#: a ~2 s run (half of it start-up): 2000 two-dimensional walkers, a 32 KB frame every 100 steps
FREE_RUN = ["free", "--walkers", 2000, "--steps", 30_000, "--every", 100, "--observe-every", 50,
            "--seed", 20240521, "--threads", 1, "--quiet"]
#: node frames and visit-count accumulators: three 9-cycles glued at one node
LATTICE_RUN = ["lattice", "--lines", 3, "--length", 9, "--walkers", 2000, "--steps", 100_000,
               "--every", 500, "--seed", 77, "--threads", 1, "--quiet"]


# ---------------------------------------------------------------------------- helpers
def _records(path):
    """Return a file's committed records as ``{name: array}``, and its committed step.

    The step is None when nothing has been committed yet.
    """
    out = {}
    with fastwalk.open(path) as run:
        if run.frame_name:
            frames = run.frames
            out["frames/step"], out["frames/time"], out["frames/value"] = (
                frames.steps, frames.times, frames[:])
        for name in run.observable_names:
            series = run.observable(name)
            out[f"{name}/step"], out[f"{name}/time"], out[f"{name}/value"] = (
                series.step, series.time, series.value)
        for name, value in run.accumulators.items():
            out[f"accumulators/{name}"] = value
        return out, (run.committed_step if run.commits else None)


def _assert_committed_prefix(path, reference):
    """``path`` holds exactly the reference records up to its committed step; return that step."""
    records, committed = _records(path)
    for name, value in reference.items():
        if name.startswith("accumulators/"):
            continue  # accumulators are as of the last commit, checked after resume
        steps = reference[name.rsplit("/", 1)[0] + "/step"]
        count = 0 if committed is None else int(np.searchsorted(steps, committed, side="right"))
        if count == 0 and name not in records:
            continue  # the element was not even created before the kill
        np.testing.assert_array_equal(records[name], value[:count], err_msg=f"{name} at {committed}")
    return committed


def _assert_same_as_reference(path, reference):
    records, _ = _records(path)
    assert records.keys() == reference.keys()
    for name, value in reference.items():
        np.testing.assert_array_equal(records[name], value, err_msg=name)
    with fastwalk.open(path) as run:
        assert run.status == "completed"
        with h5py.File(path, "r") as f:
            for group in _element_groups(f):
                lengths = {group[k].shape[0] for k in ("step", "time", "value")}
                assert lengths == {int(group.attrs["committed"])}, group.name


def _element_groups(f):
    for name, group in f["particles/walkers"].items():
        if name != "box":
            yield group
    yield from f["observables"].values()


def _one_error_line(completed):
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), completed.stderr
    assert "Traceback" not in completed.stderr
    return lines[0]


@pytest.fixture(scope="module")
def free_reference(fastwalk_cli, tmp_path_factory):
    """The uninterrupted reference run: its records and its wall time (process start to exit)."""
    path = tmp_path_factory.mktemp("reference") / "reference.h5"
    t0 = time.perf_counter()
    out = fastwalk_cli.run(*FREE_RUN, "--out", path)
    duration = time.perf_counter() - t0
    assert out.returncode == 0, out.stderr
    records, committed = _records(path)
    assert committed == 30_000 and len(records["frames/step"]) == 301
    return records, duration


# ---------------------------------------------------------------------------- SIGKILL
def _kill_at(cli, args, path, delay, env):
    """Start ``fastwalk ARGS --out PATH`` and SIGKILL it after ``delay`` seconds."""
    process = cli.start(*args, "--out", path, env=env)
    time.sleep(delay)
    process.kill()
    process.communicate(timeout=60)


def _checkpointed_step(path) -> int | None:
    """Return the step of ``path``'s checkpoint, or None while it has none.

    The checkpoint is replaced atomically: a reader sees the old or the new one, whole.
    """
    try:
        return read_checkpoint(path)[0]
    except (FileFormatError, OSError):
        return None


def _kill_after_progress(cli, args, path, env, step: int, delay: float) -> None:
    """Start ``fastwalk ARGS --out PATH``; SIGKILL it ``delay`` s after it has checkpointed ``step``.

    The kill moment is measured on the run itself (its checkpoint's step), not on a clock,
    so it lands mid-run however slowly a loaded machine runs it.
    """
    process = cli.start(*args, "--out", path, env=env)
    ckpt, seen = checkpoint_path(path), None
    deadline = time.monotonic() + 600
    while True:
        assert process.poll() is None, ("the run ended before step", step, process.communicate())
        assert time.monotonic() < deadline, f"no checkpoint of step {step} within 600 s"
        mark = ckpt.stat().st_mtime_ns if ckpt.exists() else None
        if mark is not None and mark != seen:
            seen = mark
            done = _checkpointed_step(path)
            if done is not None and done >= step:
                break
        time.sleep(0.005)
    time.sleep(delay)
    process.kill()
    process.communicate(timeout=60)


def _check_killed_run(cli, args, path, reference, outcomes, restart):
    """Check the file a kill left and complete it; record what the kill hit in ``outcomes``."""
    ckpt = checkpoint_path(path)
    if not path.exists():
        # killed before the file was renamed into place: nothing to open or resume
        outcomes["no file"] += 1
        assert not ckpt.exists()
        out = cli.run("resume", path)
        assert out.returncode == 2 and "does not exist" in _one_error_line(out)
        if restart:
            assert cli.run(*args, "--out", path).returncode == 0
            _assert_same_as_reference(path, reference)
        return
    committed = _assert_committed_prefix(path, reference)  # the file always opens
    if not ckpt.exists():
        # killed after start-up, before the first checkpoint (of step 0): a valid file holding
        # nothing, or step 0 alone; a run's start is a function of its seed, so resume restarts it
        outcomes["no commit"] += 1
        with fastwalk.open(path) as run:
            assert run.status == "running" and run.commits <= 1 and run.committed_step <= 0
        out = cli.run("resume", path)
        assert out.returncode == 0, out.stderr
        _assert_same_as_reference(path, reference)
        return
    target = int(args[args.index("--steps") + 1])
    assert committed is not None  # a checkpoint is written only after a commit
    outcomes["completed" if committed == target else "partial"] += 1
    step, _, _ = read_checkpoint(path)
    assert 0 <= step <= committed  # the file is committed before the checkpoint is replaced
    out = cli.run("resume", path)
    assert out.returncode == 0, out.stderr
    _assert_same_as_reference(path, reference)


def test_sigkill_at_random_moments_loses_only_uncommitted_work(fastwalk_cli, free_reference,
                                                               tmp_path):
    reference, duration = free_reference
    moments = np.random.default_rng(20240521)  # fixed kill moments
    # four during start-up (the first before the interpreter is even up), as fractions of
    # the reference's wall time: any outcome is checked, none is counted on
    early = [0.0, 0.05, 0.15, 0.3]
    # the rest mid-run, at a step the run itself reports (its checkpoint), plus up to two
    # commit intervals (0.05 s each), so that the kill falls anywhere between two commits
    steps = moments.uniform(0.05, 0.7, 18) * 30_000
    delays = moments.uniform(0.0, 0.1, 18)
    outcomes = {"no file": 0, "no commit": 0, "partial": 0, "completed": 0}
    kills = [("early", fraction, 0.0) for fraction in early]
    kills += [("mid-run", step, delay) for step, delay in zip(steps, delays, strict=True)]
    for i, (when, at, delay) in enumerate(kills):
        path = tmp_path / f"kill{i}.h5"
        if when == "early":
            _kill_at(fastwalk_cli, FREE_RUN, path, at * duration, FAST_COMMITS)
        else:
            _kill_after_progress(fastwalk_cli, FREE_RUN, path, FAST_COMMITS, int(at), delay)
        restart = (outcomes["no file"] == 0 and not path.exists()) or (
            outcomes["no commit"] == 0 and path.exists() and not checkpoint_path(path).exists())
        _check_killed_run(fastwalk_cli, FREE_RUN, path, reference, outcomes, restart)
        path.unlink(missing_ok=True)
    print("SIGKILL outcomes:", outcomes)
    assert sum(outcomes.values()) == len(kills) >= 20
    # the kills must have exercised the interesting case: a run cut between two commits
    # (mid-run kills land there unless a run finishes in the 0.1 s after 70 % of it)
    assert outcomes["partial"] >= 5, outcomes


def _start_and_wait_for_a_commit(cli, args, path, env):
    """Start ``fastwalk ARGS`` and return it once it has written a new checkpoint."""
    ckpt = checkpoint_path(path)
    before = ckpt.stat().st_mtime_ns if ckpt.exists() else None
    process = cli.start(*args, env=env)
    deadline = time.monotonic() + 120
    while not ckpt.exists() or ckpt.stat().st_mtime_ns == before:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return process


def test_sigkill_of_a_lattice_run_and_of_its_resume(fastwalk_cli, tmp_path):
    # node frames (int64) and visit-count accumulators; each kill lands after a commit
    reference_path = tmp_path / "reference.h5"
    assert fastwalk_cli.run(*LATTICE_RUN, "--out", reference_path).returncode == 0
    reference, _ = _records(reference_path)
    assert reference["frames/value"].dtype == np.int64
    assert reference["frames/value"].shape == (201, 2000)
    assert reference["accumulators/visit_counts"].sum() > 0
    path = tmp_path / "lattice.h5"
    outcomes = {"no file": 0, "no commit": 0, "partial": 0, "completed": 0}
    for delay in (0.0, 0.15):
        process = _start_and_wait_for_a_commit(fastwalk_cli, [*LATTICE_RUN, "--out", path], path,
                                               FAST_COMMITS)
        time.sleep(delay)
        process.kill()
        process.communicate(timeout=60)
        first = _assert_committed_prefix(path, reference)
        # kill the resumed run too, after it has committed more, then resume again
        process = _start_and_wait_for_a_commit(fastwalk_cli, ["resume", path], path, FAST_COMMITS)
        process.kill()
        process.communicate(timeout=60)
        _check_killed_run(fastwalk_cli, LATTICE_RUN, path, reference, outcomes, restart=False)
        assert first is not None
        path.unlink()
        checkpoint_path(path).unlink()
    assert outcomes["partial"] >= 1, outcomes


# ---------------------------------------------------------------------------- SIGINT / SIGTERM
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_cleanly_at_a_chunk_boundary_and_resumes(fastwalk_cli, free_reference,
                                                              tmp_path, signum, status):
    reference, _ = free_reference
    path = tmp_path / "signal.h5"
    args = [a for a in FREE_RUN if a != "--quiet"]  # without it the CLI says how to go on
    process = _start_and_wait_for_a_commit(fastwalk_cli, [*args, "--out", path], path,
                                           FAST_COMMITS)
    process.send_signal(signum)  # about 0.05 s into a run of about 1 s
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert stdout.startswith("interrupted: ")
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == f"resume with: fastwalk resume {path}"
    committed = _assert_committed_prefix(path, reference)
    step, _, _ = read_checkpoint(path)
    assert 0 < committed == step < 30_000  # stopped mid-run, checkpointed where it stopped
    with fastwalk.open(path) as run:
        assert run.status == "interrupted"
        assert len(run.frames) == committed // 100 + 1  # every frame up to the stop is there
    with h5py.File(path, "r") as f:  # trimmed like a finished file
        for group in _element_groups(f):
            assert group["value"].shape[0] == int(group.attrs["committed"])
    out = fastwalk_cli.run("resume", path, "--json")
    assert out.returncode == 0, out.stderr
    _assert_same_as_reference(path, reference)


# ---------------------------------------------------------------------------- full disk
@pytest.fixture
def small_disk(tmp_path):
    """Yield ``(directory, preexec_fn)`` where files cannot grow past about 3 MB.

    A 3 MB tmpfs where this process may mount one (the disk really fills: ENOSPC);
    elsewhere a 3 MB file-size limit on the child (EFBIG; the CLI ignores SIGXFSZ).
    """
    directory = tmp_path / "small"
    directory.mkdir()
    mounted = os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(directory)],
        capture_output=True).returncode == 0
    if mounted:
        yield directory, None
        subprocess.run(["umount", "-l", str(directory)], capture_output=True)
    else:
        yield directory, _file_size_limit


def _file_size_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (3 * 2**20, resource.RLIM_INFINITY))


@pytest.mark.parametrize("kind", ["small filesystem", "file-size limit"])
def test_full_disk_gives_one_clear_line_and_keeps_committed_frames(
        fastwalk_cli, free_reference, small_disk, tmp_path, kind):
    reference, _ = free_reference
    directory, limit = small_disk
    if kind == "file-size limit":
        directory, limit = tmp_path, _file_size_limit
    path = directory / "full.h5"
    out = fastwalk_cli.run(*FREE_RUN, "--out", path, env=FAST_COMMITS, preexec_fn=limit)
    assert out.returncode == 1, out.stderr
    line = _one_error_line(out)
    assert ("(file size limit reached)" if limit else "(disk full)") in line, line
    # the disk fills while writing the file or while staging a checkpoint: both keep the commits
    assert ("intact" in line or "holds everything up to step" in line) and f"fastwalk resume {path}" in line
    committed = _assert_committed_prefix(path, reference)
    assert 0 <= committed < 30_000
    # after freeing space (here: moving the files to a roomy disk) the run resumes exactly
    roomy = tmp_path / "roomy.h5"
    os.replace(path, roomy) if directory == tmp_path else roomy.write_bytes(path.read_bytes())
    checkpoint_path(roomy).write_bytes(checkpoint_path(path).read_bytes())
    resumed = fastwalk_cli.run("resume", roomy)
    assert resumed.returncode == 0, resumed.stderr
    _assert_same_as_reference(roomy, reference)


def test_checkpoint_that_cannot_be_written_gives_one_clear_line(fastwalk_cli, tmp_path):
    # 10^5 one-dimensional walkers: 0.8 MB frames, but a 4 MB checkpoint (the generator
    # states): under a 3.5 MB file-size limit the file fits and the checkpoint does not
    path = tmp_path / "nockpt.h5"
    args = ["free", "--dim", 1, "--walkers", 100_000, "--steps", 20, "--every", 20, "--seed", 5,
            "--quiet", "--out", path]
    out = fastwalk_cli.run(*args, preexec_fn=lambda: resource.setrlimit(
        resource.RLIMIT_FSIZE, (3_500_000, resource.RLIM_INFINITY)))
    assert out.returncode == 1, out.stderr
    line = _one_error_line(out)
    assert line.startswith(f"Error: cannot write checkpoint {checkpoint_path(path)} (file size "
                           "limit reached)"), line
    assert "holds everything up to step 0" in line  # the first commit is right after step 0
    assert not checkpoint_path(path).exists()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    memory = MemorySink()
    simulate(FreeBrownian(1, 1.0, 0.01), 100_000, 20, seed=5, every=20, progress=False,
             sinks=[memory])
    with fastwalk.open(path) as run:
        assert run.status == "error" and run.committed_step == 0
        np.testing.assert_array_equal(run.frames.steps, [0])
        np.testing.assert_array_equal(run.frames[:], np.array(memory.frames[:1]))
    # only step 0 was committed: resume runs it again from the start, now with room
    resumed = fastwalk_cli.run("resume", path)
    assert resumed.returncode == 0, resumed.stderr
    with fastwalk.open(path) as run:
        assert run.status == "completed"
        np.testing.assert_array_equal(run.frames[:], np.array(memory.frames))


# ---------------------------------------------------------------------------- memory
#: a fresh, small launcher: a child forked from this (large) test process would count the
#: parent's resident pages up to its exec in ru_maxrss
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(done.stderr)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def _peak_rss_mb(cli, args):
    """Run ``fastwalk ARGS`` in a fresh child and return its peak resident memory (MB)."""
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, *cli.command, *map(str, args)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1]) / 1024  # kB on Linux


def test_memory_is_bounded_and_independent_of_the_step_count(fastwalk_cli, tmp_path):
    common = ["free", "--walkers", 10_000, "--every", 1000, "--observe-every", 1000,
              "--seed", 3, "--quiet"]
    small = _peak_rss_mb(fastwalk_cli, [*common, "--steps", 1000, "--out", tmp_path / "a.h5"])
    large = _peak_rss_mb(fastwalk_cli, [*common, "--steps", 10_000, "--out", tmp_path / "b.h5"])
    print(f"peak RSS: 10^7 walker-steps {small:.0f} MB, 10^8 walker-steps {large:.0f} MB")
    assert large < 300 and small < 300
    # 10x the steps: a leak of even one 160 kB frame per record (10 more) would add 1.6 MB;
    # the state itself is 0.5 MB. Allow run-to-run noise of the interpreter and allocator.
    assert large - small < 8, (small, large)


# ---------------------------------------------------------------------------- NaN blow-up
class NanAt(FreeBrownian):
    """Free Brownian motion whose walker 0 becomes NaN at step ``nan_step`` (test only)."""

    kind = "nan_test"

    def __init__(self, dim=2, diffusion=1.0, dt=0.01, nan_step=537):
        super().__init__(dim, diffusion, dt)
        self.nan_step = nan_step

    def parameters(self):
        return {**super().parameters(), "kind": self.kind, "nan_step": self.nan_step}

    @classmethod
    def from_parameters(cls, parameters, arrays):
        return cls(parameters["dim"], parameters["diffusion"], parameters["dt"],
                   parameters["nan_step"])

    def advance(self, state, first_step, steps, accumulate):
        if not first_step < self.nan_step <= first_step + steps:
            return super().advance(state, first_step, steps, accumulate)
        before = self.nan_step - 1 - first_step
        super().advance(state, first_step, before, accumulate)
        state["position"][0, 0] = np.nan  # the blow-up; the real kernel must catch it
        super().advance(state, self.nan_step - 1, steps - before, accumulate)


def _free_reference(walkers, steps, seed, every):
    memory = MemorySink()
    simulate(FreeBrownian(2, 1.0, 0.01), walkers, steps, seed=seed, every=every,
             observe_every=every, progress=False, sinks=[memory])
    return memory


def test_nan_blow_up_names_the_step_and_keeps_earlier_frames(tmp_path):
    path = tmp_path / "nan.h5"
    with pytest.raises(SimulationError, match=r"non-finite at step 537$"):
        simulate(NanAt(nan_step=537), 100, 1000, out=path, seed=3, every=10, observe_every=10,
                 progress=False)
    memory = _free_reference(100, 530, 3, 10)
    with fastwalk.open(path) as run:
        assert run.status == "error" and run.committed_step == 530  # the failing call began there
        np.testing.assert_array_equal(run.frames.steps, memory.frame_steps)  # 0, 10, ..., 530
        np.testing.assert_array_equal(run.frames[:], np.array(memory.frames))
        np.testing.assert_array_equal(run.observable("msd").value, memory.series("msd"))


def test_nan_blow_up_through_the_cli_exits_1_with_one_line(fastwalk_cli, tmp_path):
    path = tmp_path / "nan_cli.h5"
    simulate(NanAt(nan_step=537), 100, 400, out=path, seed=3, every=10, observe_every=10,
             progress=False)
    # `fastwalk resume` in a child that registers the test model, as a plug-in model would be
    code = ("import sys; sys.path.insert(0, sys.argv[1]);"
            "from fastwalk.models import REGISTRY; REGISTRY['nan_test'] = 'test_durability:NanAt';"
            "from fastwalk.cli import main; main(['resume', sys.argv[2], '--steps', '1000'])")
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr
    assert _one_error_line(out) == "Error: a walker's position became non-finite at step 537"
    memory = _free_reference(100, 530, 3, 10)
    with fastwalk.open(path) as run:
        assert run.status == "error"
        np.testing.assert_array_equal(run.frames.steps, memory.frame_steps)
        np.testing.assert_array_equal(run.frames[:], np.array(memory.frames))
        np.testing.assert_array_equal(run.observable("msd").step, memory.observable_steps)


def test_rerun_with_overwrite_drops_the_old_checkpoint(fastwalk_cli, tmp_path):
    # a run that fails before its first checkpoint must not leave the earlier run's checkpoint
    # beside the new file: resuming would graft the old state onto the new run
    path = tmp_path / "again.h5"
    simulate(FreeBrownian(), 50, 100, out=path, seed=1, every=10, progress=False)
    assert checkpoint_path(path).exists()
    with pytest.raises(SimulationError):
        simulate(NanAt(nan_step=20), 50, 100, out=path, seed=2, every=10, progress=False,
                 overwrite=True, commit_seconds=60)
    # the checkpoint beside the file is the new run's own, of its step 0
    step, description, _ = read_checkpoint(path)
    assert step == 0 and description["run"]["seed"] == "2"

