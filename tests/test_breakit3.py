"""Issue 20, "Tracebacks and exits": one test per defect the third break-it trial found, and
per defect the break-it pass after it found, with real processes, files, devices and mounts.
Each fails on the behaviour before its fix. The exit rule they check (2: the command is
wrong; 1: the work failed) is DESIGN.md's, "The command line"."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from test_hardening import _one_error_line

import fastwalk as fw
from fastwalk.io.checkpoint import checkpoint_path
from fastwalk.io.output import lock_path, sidecar

SPHERE = ["sphere", "--walkers", 8, "--steps", 40, "--seed", 1, "--quiet"]
LATTICE = ["lattice", "--lines", 2, "--length", 5, "--walkers", 10, "--steps", 50, "--seed", 1,
           "--quiet"]
LANGEVIN = ["langevin", "--dim", 2, "--walkers", 5, "--steps", 20, "--seed", 1, "--quiet"]


@pytest.fixture()
def sphere_file(fastwalk_cli, tmp_path):
    out = tmp_path / "s.h5"
    done = fastwalk_cli.run(*SPHERE, "--out", out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture()
def lattice_file(fastwalk_cli, tmp_path):
    out = tmp_path / "lat.h5"
    done = fastwalk_cli.run(*LATTICE, "--out", out)
    assert done.returncode == 0, done.stderr
    return out


#: the full-disk tests mount a real tmpfs, which needs root (CI runs as root)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@contextlib.contextmanager
def _tmpfs(where: Path, options: str):
    """Mount a tmpfs with ``options`` at ``where`` (tests marked ``needs_root``)."""
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"cannot mount a tmpfs as root: {done.stderr.strip()}"
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


# ------------------------------------------------------------------ files edited by an attacker
@pytest.mark.parametrize("command", [["inspect"], ["fit"], ["plot", "-o", "picture.png"]])
def test_a_missing_value_dataset_is_one_damaged_line(fastwalk_cli, sphere_file, command):
    with h5py.File(sphere_file, "a") as f:  # KeyError "object 'value' doesn't exist", before
        del f["observables/mean_cos_theta/value"]
    done = fastwalk_cli.run(command[0], sphere_file, *command[1:], cwd=sphere_file.parent)
    line = _one_error_line(done, 2)
    assert "is damaged: /observables/mean_cos_theta/value cannot be read" in line
    assert not (sphere_file.parent / "picture.png").exists()


def test_fewer_rows_than_committed_is_one_damaged_line(fastwalk_cli, sphere_file):
    with h5py.File(sphere_file, "a") as f:  # a shortened dataset read silently as fewer records
        group = f["observables/mean_cos_theta"]
        del group["step"]
        group["step"] = list(range(3))
    line = _one_error_line(fastwalk_cli.run("fit", sphere_file), 2)
    assert "/observables/mean_cos_theta/step holds 3 of its" in line


def test_an_unreadable_seed_attribute_is_one_damaged_line(fastwalk_cli, sphere_file):
    with h5py.File(sphere_file, "a") as f:  # KeyError 'seed' traceback, before
        del f["parameters"].attrs["seed"]
    line = _one_error_line(fastwalk_cli.run("inspect", sphere_file), 2)
    assert "is damaged: /parameters attribute seed cannot be read" in line


def test_stationary_refuses_a_negative_visit_count(fastwalk_cli, lattice_file):
    with h5py.File(lattice_file, "a") as f:  # reported a law and a p-value from it, before
        counts = f["fastwalk/accumulators/visit_counts"]
        edited = counts[()]
        edited[3] = -5
        counts[...] = edited
    line = _one_error_line(fastwalk_cli.run("stationary", lattice_file), 2)
    assert "visit_counts holds the negative count -5 at [3]" in line


# ------------------------------------------------------------------ stdout and disks that are full
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("args", [["info"], ["inspect", "{file}", "--json"], ["--help"],
                                  ["--version"]])
def test_stdout_on_a_full_device_is_one_line(fastwalk_cli, sphere_file, args):
    args = [str(sphere_file) if a == "{file}" else a for a in args]
    with open("/dev/full", "w") as full:  # OSError [Errno 28] traceback, before
        done = subprocess.run([*fastwalk_cli.command, *args], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=300)
    line = _one_error_line(done, 1)
    assert line == "Error: cannot print the output (No space left on device)"


@needs_root
def test_an_expression_cache_on_a_full_disk_is_one_line(fastwalk_cli, tmp_path):
    with _tmpfs(tmp_path / "tiny", "size=8k") as tiny:  # the module (about 20 kB) does not fit
        done = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**2 + x1**4", "--out",
                                tmp_path / "l.h5", env={"FASTWALK_CACHE_DIR": tiny})
        line = _one_error_line(done, 1)  # a full disk: the work failed (status 1)
        assert "cannot write the compiled potential" in line and "No space left" in line
        assert not [p for p in tiny.rglob("*") if p.is_file()]  # no half-written module left
    assert not (tmp_path / "l.h5").exists()


@needs_root
def test_compiled_code_that_cannot_be_saved_does_not_fail_the_run(fastwalk_cli, tmp_path):
    with _tmpfs(tmp_path / "tiny", "size=64k") as tiny:  # the module fits, numba's cache not
        done = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**2 + 2*x1**4", "--out",
                                tmp_path / "l.h5", env={"FASTWALK_CACHE_DIR": tiny})
    assert done.returncode == 0, done.stderr  # OSError traceback from numba's cache, before
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("Note: numba could not save compiled code")
    assert len(done.stderr.strip().splitlines()) == 1
    with fw.open(tmp_path / "l.h5") as run:
        assert run.status == "completed"


# ------------------------------------------------------------------ exit 2 vs 1 for places
@needs_root
def test_a_read_only_output_place_exits_2_like_a_read_only_cache(fastwalk_cli, tmp_path):
    with _tmpfs(tmp_path / "ro", "size=64k,ro") as read_only:  # exit 1 for the output, before
        output = fastwalk_cli.run(*LATTICE, "--out", read_only / "x.h5")
        cache = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**2", "--out", tmp_path / "c.h5",
                                 env={"FASTWALK_CACHE_DIR": read_only})
    assert "Read-only file system" in _one_error_line(output, 2)
    assert "Read-only file system" in _one_error_line(cache, 2)


def test_a_legal_255_byte_output_name_runs_and_resumes(fastwalk_cli, tmp_path):
    out = tmp_path / ("w" * 252 + ".h5")  # 255 bytes: "<name>.lock" was ENAMETOOLONG, before
    done = fastwalk_cli.run(*LATTICE, "--steps", 20, "--out", out)
    assert done.returncode == 0, done.stderr
    assert checkpoint_path(out).exists() and len(checkpoint_path(out).name) <= 255
    resumed = fastwalk_cli.run("resume", out, "--steps", 40, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    with fw.open(out) as run:
        assert run.committed_step == 40
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, checkpoint_path(out).name])


def test_sidecar_names_fit_and_stay_distinct():
    short = Path("/tmp/run.h5")
    assert lock_path(short) == Path("/tmp/run.h5.lock")  # unchanged where the name fits
    long_a, long_b = Path("/tmp") / ("a" * 255), Path("/tmp") / ("a" * 254 + "b")
    for suffix in (".lock", ".ckpt"):
        a, b = sidecar(long_a, suffix), sidecar(long_b, suffix)
        assert len(a.name.encode()) <= 255 and a.name.endswith(suffix) and a != b
        assert a == sidecar(long_a, suffix)  # the same for every process
    multibyte = Path("/tmp") / ("é" * 127)  # 254 bytes: the cut keeps whole characters
    assert len(sidecar(multibyte, ".lock").name.encode()) <= 255


# ------------------------------------------------------------------ the environment
@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", "99999999999999999999"])
def test_numba_num_threads_that_is_no_count_is_one_line(fastwalk_cli, tmp_path, value):
    # "abc": numba's warning with its traceback block, then a run on the default; "0": a line
    # without the variable's name; 10^20 (found by the break-it pass): never returned
    done = fastwalk_cli.run(*LATTICE, "--out", tmp_path / "t.h5", env={"NUMBA_NUM_THREADS": value})
    assert f"NUMBA_NUM_THREADS={value!r}" in _one_error_line(done, 2)
    assert not (tmp_path / "t.h5").exists()


def test_another_numba_setting_numba_cannot_parse_is_one_line(fastwalk_cli, tmp_path):
    done = fastwalk_cli.run(*LATTICE, "--out", tmp_path / "t.h5", env={"NUMBA_OPT": "fast"})
    assert "NUMBA_OPT='fast'" in _one_error_line(done, 2)


def test_numba_disable_jit_is_refused_by_name(fastwalk_cli, tmp_path):
    # "the numbers overflowed (overflow encountered in scalar multiply)", before
    done = fastwalk_cli.run(*LATTICE, "--out", tmp_path / "t.h5", env={"NUMBA_DISABLE_JIT": "1"})
    assert "NUMBA_DISABLE_JIT='1'" in _one_error_line(done, 2)
    assert fastwalk_cli.run(*LATTICE, "--out", tmp_path / "t.h5",
                            env={"NUMBA_DISABLE_JIT": "0"}).returncode == 0


@pytest.mark.parametrize("args", [["--help"], ["sphere", "--help"], ["langevin", "--help"]])
def test_help_prints_under_a_latin_1_stdout(fastwalk_cli, args):
    done = fastwalk_cli.run(*args, env={"PYTHONIOENCODING": "latin-1"},  # UnicodeEncodeError
                            encoding="latin-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: fastwalk") and "Traceback" not in done.stderr


# ------------------------------------------------------------------ options that would be ignored
def test_at_without_localize_is_refused(fastwalk_cli, tmp_path):
    done = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**2", "--at", "0.5,0.5",
                            "--out", tmp_path / "a.h5", env={"FASTWALK_CACHE_DIR": tmp_path / "c"})
    assert "--at 0.5,0.5 would be ignored" in _one_error_line(done, 2)
    assert not (tmp_path / "a.h5").exists()


def test_stationary_radius_on_a_lattice_run_is_refused(fastwalk_cli, lattice_file):
    done = fastwalk_cli.run("stationary", lattice_file, "--radius", "0.3")
    assert "--radius 0.3 would be ignored" in _one_error_line(done, 2)


@pytest.mark.parametrize("client", [object(), "tcp://127.0.0.1:8786", 3])
def test_a_client_that_is_no_dask_client_is_a_type_error(client):
    # AttributeError 'object' object has no attribute 'scheduler_info', before
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        fw.simulate(fw.FreeBrownian(dim=1), 4, 10, client=client, progress=False)


# ------------------------------------------------------------------ found by the break-it pass
@pytest.mark.parametrize("missing", ["particles/walkers/node/step", "particles/walkers/box",
                                     "fastwalk/accumulators"])
def test_resume_of_a_file_missing_an_object_is_one_damaged_line(fastwalk_cli, tmp_path, missing):
    out = tmp_path / "lat.h5"
    assert fastwalk_cli.run(*LATTICE, "--every", 10, "--out", out).returncode == 0
    with h5py.File(out, "a") as f:  # KeyError traceback from the writer reopening it, before
        del f[missing]
    line = _one_error_line(fastwalk_cli.run("resume", out, "--steps", 80), 2)
    assert f"{out} is damaged" in line and "cannot be resumed" in line
    assert fastwalk_cli.run("resume", out, "--steps", 80).returncode == 2  # and the lock is gone


@pytest.mark.parametrize("counts", [[0.5] * 9, [2**62] * 9])
def test_stationary_refuses_visit_counts_no_run_could_write(fastwalk_cli, lattice_file, counts):
    # non-integer counts, or counts that sum past walkers × steps: a law and a p-value, before
    with h5py.File(lattice_file, "a") as f:
        del f["fastwalk/accumulators/visit_counts"]
        f["fastwalk/accumulators/visit_counts"] = counts
    line = _one_error_line(fastwalk_cli.run("stationary", lattice_file), 2)
    assert "visit_counts" in line and "walkers × committed steps = 500" in line


def test_fit_refuses_times_that_do_not_increase(fastwalk_cli, sphere_file):
    with h5py.File(sphere_file, "a") as f:  # a fit of reversed times, silently, before
        times = f["observables/mean_cos_theta/time"]
        times[...] = times[()][::-1]
    line = _one_error_line(fastwalk_cli.run("fit", sphere_file), 2)
    assert "mean_cos_theta records steps or times that do not increase" in line


_SIGTERM_AFTER_THE_FIRST_COMMIT = """
import os, signal, sys
import fastwalk as fw
from fastwalk import _entry
from fastwalk.engine import MemorySink

_entry.install_handlers(whole_process=True)


class SignalAtFirstCommit(MemorySink):
    def commit(self, step, state):
        super().commit(step, state)
        if step == 0:  # the step-0 checkpoint is on disk; the engine has not taken the signals yet
            os.kill(os.getpid(), signal.SIGTERM)


try:
    result = fw.simulate(fw.FreeBrownian(1), 4, 10**6, out=sys.argv[1], seed=1, progress=False,
                         sinks=[SignalAtFirstCommit()])
    print(result.reason, result.signal)
except KeyboardInterrupt as exc:
    print("raised", type(exc).__name__)
"""


def test_a_signal_just_after_the_first_commit_interrupts_the_run(tmp_path):
    """A SIGTERM between the step-0 commit and the engine's own handlers escaped the run, and the
    CLI said 'nothing was written that needs resuming' beside a resumable file (the engines now
    hold signals from the sinks' start)."""
    out = tmp_path / "early.h5"
    done = subprocess.run([sys.executable, "-c", _SIGTERM_AFTER_THE_FIRST_COMMIT,
                           str(out)], capture_output=True, text=True, timeout=300)
    assert checkpoint_path(out).exists()  # resumable from step 0
    assert done.stdout.split() == ["interrupted", str(int(signal.SIGTERM))], done.stdout + done.stderr


def test_the_api_caps_steps_as_the_command_line_does(lattice_file):
    # 2**63 steps was accepted and run (for ever, and past int64 step counters)
    with pytest.raises(ValueError, match="steps"):
        fw.simulate(fw.FreeBrownian(1), 4, 2**63, progress=False)
    with pytest.raises(ValueError, match="steps"):
        fw.resume(lattice_file, 2**63, progress=False)


@pytest.mark.parametrize("sink", [object(), 1])
def test_a_sink_without_the_sink_methods_is_a_type_error(sink):
    # AttributeError 'object' object has no attribute 'start', from inside the engine, before
    with pytest.raises(TypeError, match="a sink must have the methods start, frame"):
        fw.simulate(fw.FreeBrownian(1), 4, 10, sinks=[sink], progress=False)
