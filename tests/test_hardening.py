"""Issue 15, one test per class of defect found by the break-it trial: real processes, files,
signals, FIFOs and locks. Each fails on the behaviour before the fix (see report-harden.md)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import time

import numpy as np
import pytest

import fastwalk
from fastwalk.api import simulate
from fastwalk.engine import Simulation
from fastwalk.io.checkpoint import checkpoint_path
from fastwalk.io.h5md import H5MDWriter
from fastwalk.models.free import FreeBrownian

SMALL = ["free", "--walkers", 20, "--steps", 200, "--every", 50, "--seed", 3, "--quiet"]
#: a run that lasts minutes unless stopped: 10^4 walkers of 20 coordinates, many steps
LONG = ["free", "--dim", 20, "--walkers", 10_000, "--steps", 10**9, "--seed", 4, "--quiet"]


def _one_error_line(completed, status):
    assert completed.returncode == status, (completed.returncode, completed.stderr)
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(("Error: ", "Interrupted: ")), completed.stderr
    return lines[0]


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wait_for(predicate, seconds=600.0, process=None):
    """Wait until ``predicate()`` holds; False if ``process`` ends first or ``seconds`` pass.

    The wait is measured on what the run does (a file appearing), not on a clock: the
    generous limit only ends a hung test, so a loaded machine merely waits longer.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process is not None and process.poll() is not None:
            return predicate()
        time.sleep(0.02)
    return False


@pytest.fixture()
def running(fastwalk_cli, tmp_path):
    """A long run writing ``busy.h5``, stopped with SIGINT at the end of the test."""
    path = tmp_path / "busy.h5"
    process = fastwalk_cli.start(*LONG, "--out", path)
    assert _wait_for(lambda: checkpoint_path(path).exists(), process=process), "never committed"
    yield process, path
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)


# ---------------------------------------------------------------------------- 1. damage outside
@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "symlink to fifo", "foreign file"])
def test_overwrite_replaces_only_a_regular_file_fastwalk_wrote(fastwalk_cli, tmp_path, kind):
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "device":
        if os.geteuid() != 0:
            pytest.xfail("creating a device node needs root")
        os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # like /dev/null
    elif kind == "directory":
        target.mkdir()
    elif kind == "symlink to fifo":
        os.mkfifo(tmp_path / "pipe")
        target.symlink_to(tmp_path / "pipe")
    else:
        target.write_text("my notes\n")
    before = os.lstat(target)
    out = fastwalk_cli.run(*SMALL, "--out", target, "--overwrite", timeout=60)
    line = _one_error_line(out, 2)
    assert str(target) in line
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_size) == (before.st_mode, before.st_ino, before.st_size)
    if kind == "foreign file":
        assert target.read_text() == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["target", "pipe"] if kind == "symlink to fifo" else ["target"])


# ---------------------------------------------------------------------------- 2. two writers
def test_a_file_being_written_is_refused_by_every_other_command(fastwalk_cli, running):
    process, path = running
    for args, doing in ((SMALL + ["--out", path, "--overwrite"], "replace"),
                        (["resume", path], "resume"), (["inspect", path], "read")):
        line = _one_error_line(fastwalk_cli.run(*args, timeout=60), 1)
        assert f"being written by another process (pid {process.pid})" in line and doing in line
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    with fastwalk.open(path) as run:  # the first run's data are all there
        assert run.status == "interrupted" and run.committed_step > 0


# ---------------------------------------------------------------------------- 3. stale file
def test_resume_refuses_an_older_file_beside_a_newer_checkpoint(fastwalk_cli, tmp_path):
    path = tmp_path / "run.h5"
    assert fastwalk_cli.run(*SMALL, "--out", path).returncode == 0
    old = tmp_path / "old.h5"
    shutil.copy(path, old)
    assert fastwalk_cli.run("resume", path, "--steps", 600, "--quiet").returncode == 0
    shutil.copy(old, path)  # the older file put back beside the newer checkpoint
    before = _digest(path), _digest(checkpoint_path(path))
    line = _one_error_line(fastwalk_cli.run("resume", path, "--steps", 900), 2)
    assert "step 600" in line and "last committed at step 200" in line
    assert (_digest(path), _digest(checkpoint_path(path))) == before


# ---------------------------------------------------------------------------- 4. early kill
def test_a_run_that_committed_nothing_resumes_from_step_zero(fastwalk_cli, tmp_path):
    path, reference = tmp_path / "early.h5", tmp_path / "reference.h5"
    model = FreeBrownian(2, 1.0, 0.01)
    simulate(model, 20, 200, out=reference, seed=3, every=50, progress=False)
    writer = H5MDWriter(path, model)  # what a kill right after start-up leaves
    writer.start(Simulation(model, 20, 200, seed=3, every=50))
    writer._sync.close()
    writer.file.close()
    writer._lock.release()
    with fastwalk.open(path) as run:
        assert run.commits == 0 and not checkpoint_path(path).exists()
    out = fastwalk_cli.run("resume", path)
    assert out.returncode == 0, out.stderr
    with fastwalk.open(path) as run, fastwalk.open(reference) as ref:
        assert run.status == "completed"
        np.testing.assert_array_equal(run.frames[:], ref.frames[:])


def test_a_run_killed_early_already_declares_its_frames(fastwalk_cli, tmp_path):
    path = tmp_path / "declared.h5"
    process = fastwalk_cli.start(*LONG, "--every", 10**6, "--commit-seconds", 1000, "--out", path)
    try:
        assert _wait_for(lambda: checkpoint_path(path).exists(), process=process), \
            "no commit after step 0"
    finally:
        process.kill()
        process.communicate(timeout=60)
    out = fastwalk_cli.run("inspect", path, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["frames"]["name"] == "position" and summary["frames"]["count"] == 1
    assert fastwalk_cli.run("inspect", path).stdout.count("--every") == 0


# ---------------------------------------------------------------------------- 5. signals
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_demo_stopped_by_a_signal_says_so_and_what_is_resumable(fastwalk_cli, tmp_path, signum,
                                                                 status):
    # the signal goes to the S^n stage, the longest (~1 s here; a lattice stage, ~50 ms, could
    # end before the signal arrives, and a stop between stages leaves nothing to resume)
    out_dir = tmp_path / "demo"
    process = fastwalk_cli.start("demo", "--out", out_dir, "--no-pictures", "--threads", 1)
    try:
        assert _wait_for(lambda: (out_dir / "sphere.h5.ckpt").exists(), process=process)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == status, stderr
    assert "all checks passed" not in stdout and "Traceback" not in stderr
    assert f"fastwalk resume {out_dir / 'sphere.h5'}" in stderr


# ---------------------------------------------------------------------------- 6. sizes first
@pytest.mark.parametrize("args", [
    ["lattice", "--lines", 30_000, "--length", 5],
    ["potential", "--lines", 30_000],
    ["free", "--walkers", 2**40, "--dim", 1000],
])
def test_huge_sizes_are_refused_before_allocating(fastwalk_cli, tmp_path, args):
    out = fastwalk_cli.run(*args, "--steps", 1, "--out", tmp_path / "x.h5", timeout=60)
    line = _one_error_line(out, 2)
    assert ("needs about" in line) == (args[0] == "free")
    assert list(tmp_path.iterdir()) == []


def test_an_over_long_node_label_is_refused(fastwalk_cli, tmp_path):
    edges = tmp_path / "edges.txt"
    edges.write_text("a b\nb " + "x" * 5_000_000 + "\n")
    out = fastwalk_cli.run("graph", edges, "--steps", 1, "--out", tmp_path / "g.h5", timeout=60)
    assert "labels may have at most" in _one_error_line(out, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edges.txt"]


# ---------------------------------------------------------------------------- 7. extreme values
@pytest.mark.parametrize("args", [
    ["sphere", "--dim", 5, "--radius", "1e-300"],
    ["sphere", "--radius", "1e49", "--diffusion", "1e-49", "--dt", "1e-49"],
    ["potential", "--lines", 2, "--box", "1e308", "--temperature", "1e-308"],
    ["free", "--diffusion", "1e300", "--dt", "1e300"],
    ["lattice", "--lines", 2, "--length", 5, "--walkers", 10**30],
    ["lattice", "--lines", 2, "--length", 5, "--bogus", "--debug"],
])
def test_extreme_values_give_one_line_and_no_file(fastwalk_cli, tmp_path, args):
    out = fastwalk_cli.run(*args, "--steps", 5, "--walkers", 4, "--out", tmp_path / "x.h5",
                           timeout=120) if "--walkers" not in args else fastwalk_cli.run(
        *args, "--steps", 5, "--out", tmp_path / "x.h5", timeout=120)
    assert out.returncode in (1, 2), out.stderr
    _one_error_line(out, out.returncode)
    assert list(tmp_path.iterdir()) == []


def test_plot_to_an_unwritable_place_is_one_line(fastwalk_cli, tmp_path):
    path = tmp_path / "r.h5"
    assert fastwalk_cli.run(*SMALL, "--out", path).returncode == 0
    _one_error_line(fastwalk_cli.run("plot", path, "-o", "/proc/fastwalk-test.png"), 1)


# ---------------------------------------------------------------------------- 8. no stubs
def test_a_failed_run_leaves_no_stub_and_a_rerun_needs_no_overwrite(fastwalk_cli, tmp_path):
    path = tmp_path / "stub.h5"
    bad = ["sphere", "--radius", "1e45", "--diffusion", "1e-45", "--dt", "1e-45", "--walkers", 4,
           "--steps", 5, "--out", path]
    _one_error_line(fastwalk_cli.run(*bad), 2)
    assert list(tmp_path.iterdir()) == []
    assert fastwalk_cli.run("sphere", "--walkers", 4, "--steps", 5, "--out", path,
                            "--quiet").returncode == 0


# ---------------------------------------------------------------------------- 9. config files
@pytest.mark.parametrize(("text", "needle"), [
    ("walkers = 10.9", "must be an integer"),
    ("seed = 1.7", "must be an integer"),
    ("lines = true", "lines = true"),
    ("[nonsense]\nwalkers = 3", "unknown section [nonsense]"),
    ("[potential]\nbogus = 1", "unknown option 'bogus'"),
    ("steps = -5", "--steps must be >= 0"),
    ("quiet = 1", "must be true or false"),
])
def test_config_files_obey_the_command_line_types(fastwalk_cli, tmp_path, text, needle):
    config = tmp_path / "c.toml"
    config.write_text(text + "\n")
    out = fastwalk_cli.run("potential", "--lines", 2, "--walkers", 4, "--steps", 5, "--config",
                           config, "--out", tmp_path / "p.h5")
    assert needle in _one_error_line(out, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_config_arrays_feed_options_taking_several_values(fastwalk_cli, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[potential]\ndim = 3\npin = [[0, 1], [2]]\ncenter = [0.25, 0.5, 0.75]\n")
    out = fastwalk_cli.run("potential", "--walkers", 4, "--steps", 5, "--config", config,
                           "--out", tmp_path / "p.h5", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["parameters"]["center"] == [0.25, 0.5, 0.75]


# ---------------------------------------------------------------------------- 10. JSON seeds
def test_json_seed_is_a_string_everywhere(fastwalk_cli, tmp_path):
    path = tmp_path / "s.h5"
    seed = 2**128 - 1
    run = fastwalk_cli.run(*SMALL[:-3], "--seed", seed, "--quiet", "--out", path, "--json")
    assert run.returncode == 0, run.stderr
    inspected = fastwalk_cli.run("inspect", path, "--json")
    for text in (run.stdout, inspected.stdout):
        summary = json.loads(text, parse_int=float)  # as jq or JavaScript read it
        assert summary["seed"] == str(seed)


# ---------------------------------------------------------------------------- 11. smaller ones
@pytest.mark.parametrize(("args", "needle"), [
    (["--out", ""], "--out is empty"),
    (["--out", "-"], "standard output"),
])
def test_out_must_name_a_file(fastwalk_cli, tmp_path, args, needle):
    out = fastwalk_cli.run(*SMALL, *args, cwd=tmp_path)
    assert needle in _one_error_line(out, 2)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [
    ["potential", "--lines", 2, "--center", "0.1,,0.2"],
    ["potential", "--dim", 3, "--pin", "0,0"],
])
def test_malformed_lists_are_refused(fastwalk_cli, tmp_path, args):
    _one_error_line(fastwalk_cli.run(*args, "--steps", 1, "--out", tmp_path / "x.h5"), 2)
    assert list(tmp_path.iterdir()) == []


def test_plot_keeps_an_existing_picture_without_overwrite(fastwalk_cli, tmp_path):
    path, picture = tmp_path / "r.h5", tmp_path / "r.png"
    assert fastwalk_cli.run(*SMALL, "--out", path).returncode == 0
    picture.write_bytes(b"\x89PNG\r\n\x1a\nmine")
    assert "--overwrite" in _one_error_line(fastwalk_cli.run("plot", path, "-o", picture), 2)
    assert picture.read_bytes() == b"\x89PNG\r\n\x1a\nmine"
    assert fastwalk_cli.run("plot", path, "-o", picture, "--overwrite").returncode == 0
    assert picture.read_bytes() != b"\x89PNG\r\n\x1a\nmine"


def test_a_corrupt_checkpoint_is_named_without_numpy_advice(fastwalk_cli, tmp_path):
    path = tmp_path / "r.h5"
    assert fastwalk_cli.run(*SMALL, "--out", path).returncode == 0
    checkpoint_path(path).write_bytes(b"PK\x03\x04 not really a zip")
    line = _one_error_line(fastwalk_cli.run("resume", path, "--steps", 400), 2)
    assert "allow_pickle" not in line and "damaged" in line


def test_no_arguments_prints_help_without_error(fastwalk_cli):
    out = fastwalk_cli.run()
    assert out.returncode == 0 and "Error" not in out.stdout + out.stderr and "Usage:" in out.stdout


def test_demo_refuses_a_bad_seed_before_creating_anything(fastwalk_cli, tmp_path):
    out = fastwalk_cli.run("demo", "--seed", 2**128 - 1, "--out", tmp_path / "d")
    assert "seed" in _one_error_line(out, 2)
    assert list(tmp_path.iterdir()) == []


def test_progress_eta_ignores_the_first_call(monkeypatch, capsys):
    from fastwalk import engine

    now = [0.0]
    monkeypatch.setattr(engine.time, "perf_counter", lambda: now[0])
    progress = engine._Progress(1000, 10, True)
    now[0] = 30.0  # the first call took 30 s (compiling) ...
    progress.update(100, force=True)
    now[0] = 31.0  # ... the next 100 steps 1 s: 800 steps to go take 8 s
    progress.update(200, force=True)
    assert "ETA    8.0s" in capsys.readouterr().err.split("\r")[-1]
