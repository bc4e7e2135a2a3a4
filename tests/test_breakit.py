"""Issue 15, the second break-it pass (langevin, llc, plot, the expression cache, signals):
one test per defect, with real processes, files and signals. Each fails before its fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_hardening import _one_error_line, _wait_for

#: a small langevin run; FASTWALK_CACHE_DIR is set per test
LANGEVIN = ["langevin", "--dim", 2, "--walkers", 5, "--steps", 20, "--seed", 1, "--quiet"]


def _strict_json(text: str):
    """Parse ``text`` as one JSON object, refusing ``Infinity`` and ``NaN`` as jq does."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture()
def cache(tmp_path):
    """An expression cache of this test's own."""
    return {"FASTWALK_CACHE_DIR": tmp_path / "cache"}


def test_a_negative_power_at_zero_is_a_start_point_error(fastwalk_cli, tmp_path, cache):
    # numba's integer power raised ZeroDivisionError: "the numbers overflowed (division by zero)"
    out = tmp_path / "p.h5"
    done = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**-3", "--out", out, env=cache)
    line = _one_error_line(done, 2)
    assert "not finite at the start point (0, 0)" in line and "--start" in line
    assert not list(tmp_path.glob("p.h5*"))


@pytest.mark.parametrize("name", ["lambda", "None", "class"])
def test_a_python_keyword_is_no_constant_name(fastwalk_cli, tmp_path, cache, name):
    # accepted before, yet no expression could use it ("does not parse")
    done = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**2", "--param", f"{name}=1",
                            "--out", tmp_path / "k.h5", env=cache)
    assert f"constant name '{name}' is reserved" in _one_error_line(done, 2)


def test_a_cache_that_is_not_a_directory_is_one_line(fastwalk_cli, tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("mine\n")
    done = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**2", "--out", tmp_path / "c.h5",
                            env={"FASTWALK_CACHE_DIR": not_a_directory})
    assert "FASTWALK_CACHE_DIR" in _one_error_line(done, 2)
    assert not_a_directory.read_text() == "mine\n"
    assert not list(tmp_path.glob("c.h5*"))


def test_a_damaged_numba_cache_is_compiled_again(fastwalk_cli, tmp_path, cache):
    args = [*LANGEVIN, "--potential", "x0**2 + x1**4", "--out", tmp_path / "n.h5", "--overwrite"]
    assert fastwalk_cli.run(*args, env=cache).returncode == 0
    index = list((cache["FASTWALK_CACHE_DIR"] / "expressions" / "__pycache__").glob("*.nb[ic]"))
    assert index
    for path in index:  # "invalid literal for int() with base 10: 'arbage'", every run, before
        path.write_bytes(b"garbage\n")
    done = fastwalk_cli.run(*args, env=cache)
    assert done.returncode == 0, done.stderr
    assert fastwalk_cli.run("resume", tmp_path / "n.h5", "--steps", 40, "--quiet",
                            env=cache).returncode == 0


def test_an_intact_numba_cache_is_reused_not_compiled_again(fastwalk_cli, tmp_path, cache):
    args = [*LANGEVIN, "--potential", "x0**2 + 3*x1**4", "--out", tmp_path / "k.h5", "--overwrite"]
    assert fastwalk_cli.run(*args, env=cache).returncode == 0
    folder = cache["FASTWALK_CACHE_DIR"] / "expressions" / "__pycache__"
    first = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.nb[ic]")}
    assert any(name.endswith(".nbc") for name in first)
    assert fastwalk_cli.run(*args, env=cache).returncode == 0
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.nb[ic]")} == first


def test_the_entry_point_answers_signals_before_anything_slow_loads():
    # the SIGTERM handler went in after `import fastwalk` had loaded NumPy (0.1-0.3 s)
    code = ("import sys, fastwalk._entry\n"
            "print(sorted(m for m in ('click', 'numpy', 'numba', 'h5py') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_signal_whose_interrupt_is_lost_in_a_c_callback_still_stops_the_run():
    # while numba loaded cached code, llvmlite's C callback swallowed the handler's exception:
    # stderr got "Exception ignored ... Terminated" and the run went on to the end, status 0
    code = (
        "import ctypes, os, signal\n"
        "from fastwalk import _entry\n"
        "_entry.install_handlers(whole_process=True)\n"
        "@ctypes.CFUNCTYPE(None)\n"
        "def callback():\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    for _ in range(1000):  # the handler runs here; its exception cannot leave the callback\n"
        "        pass\n"
        "callback()\n"
        "print('went on')\n"
        "import fastwalk as fw\n"
        "result = fw.simulate(fw.FreeBrownian(2), 10, 1000, seed=1, progress=False)\n"
        "print(result.reason, result.steps, result.signal)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["went", "on", "interrupted", "0", str(int(signal.SIGTERM))], out.stderr
    assert out.stderr == ""


def _catches_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has its own SIGTERM handler (Linux: ``SigCgt`` in /proc)."""
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc/PID/status")
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3])
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_before_the_run_starts_says_interrupted(fastwalk_cli, tmp_path, signum, status,
                                                         delay):
    # click turned both into "Aborted." with status 130; and while the command was still
    # loading (NumPy came with `import fastwalk`, ~0.1 s), SIGINT was a KeyboardInterrupt
    # traceback and SIGTERM killed it silently. The entry point's handler is in place once the
    # interpreter is up (~20 ms); the signal comes from then on, as the command loads
    # (0, 0.05 s) or compiles (0.3 s).
    process = fastwalk_cli.start(*LANGEVIN, "--potential", "x0**2", "--out", tmp_path / "s.h5")
    deadline = time.monotonic() + 60
    while not _catches_sigterm(process.pid):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    time.sleep(delay)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert stderr.strip().splitlines() == [
        f"Interrupted: stopped by {signal.Signals(signum).name}; nothing was written that needs resuming"]


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc/PID/status")
def test_a_background_job_leaves_an_ignored_sigint_ignored(fastwalk_cli, tmp_path):
    # `fastwalk ... &` in a script starts with SIGINT ignored, so that a Ctrl-C at the terminal
    # does not stop it; it keeps it ignored (as Python itself does) and still answers SIGTERM
    process = fastwalk_cli.start(*LANGEVIN, "--potential", "x0**2", "--out", tmp_path / "b.h5",
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.monotonic() + 60
    while not _catches_sigterm(process.pid):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and stderr == "", stderr
    import fastwalk as fw

    with fw.open(tmp_path / "b.h5") as run:
        assert run.committed_step == 20


def test_a_sweep_json_seed_is_a_string(fastwalk_cli, tmp_path, cache):
    seed = 2**128 - 1
    done = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**2", "--temperature", "0.1,0.2",
                            "--seed", seed, "--json", "--out", tmp_path / "j.h5", env=cache)
    summary = _strict_json(done.stdout)
    assert summary["seed"] == str(seed)
    assert summary["not_started"] == []


def test_distinct_temperatures_get_distinct_files(fastwalk_cli, tmp_path, cache):
    # both were named j-T1e-07.h5 and refused as "a temperature twice"
    done = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**2", "--temperature",
                            "1e-7,1.00000001e-7", "--out", tmp_path / "j.h5", env=cache)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("j-T*.h5")) == ["j-T1.00000001e-07.h5", "j-T1e-07.h5"]


def test_an_interrupted_sweep_names_the_temperatures_not_started(fastwalk_cli, tmp_path, cache):
    args = ["langevin", "--dim", 2, "--potential", "x0**2", "--walkers", 1000, "--steps", 10**8,
            "--seed", 1, "--temperature", "0.1,0.2,0.3", "--commit-seconds", 0.2]
    process = fastwalk_cli.start(*args, "--out", tmp_path / "w.h5", env=cache)
    # the first file's checkpoint: its run is under way however long compiling took
    assert _wait_for(lambda: (tmp_path / "w-T0.1.h5.ckpt").exists(), process=process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"not started: {tmp_path / 'w-T0.2.h5'}, {tmp_path / 'w-T0.3.h5'}" in stderr


@pytest.mark.parametrize("option, value", [("--box", "1e308"), ("--dt", "1e-320"),
                                           ("--localize", "1e-320")])
def test_langevin_numbers_have_the_common_ranges(fastwalk_cli, tmp_path, cache, option, value):
    done = fastwalk_cli.run(*LANGEVIN, "--potential", "x0**2", option, value,
                            "--out", tmp_path / "r.h5", env=cache)
    assert "of magnitude 1e-50 to 1e+50" in _one_error_line(done, 2)
    assert not list(tmp_path.glob("r.h5*"))


@pytest.fixture(scope="module")
def sweep(fastwalk_cli, tmp_path_factory):
    """Two langevin runs of one sweep, and a langevin run of no steps."""
    where = tmp_path_factory.mktemp("sweep")
    env = {"FASTWALK_CACHE_DIR": where / "cache"}
    base = ["langevin", "--dim", 2, "--potential", "x0**2 * x1**2", "--method", "mala",
            "--start", "uniform", "--walkers", 20, "--seed", 1, "--quiet"]
    assert fastwalk_cli.run(*base, "--steps", 300, "--temperature", "0.1,0.03",
                            "--out", where / "sw.h5", env=env).returncode == 0
    assert fastwalk_cli.run(*base, "--steps", 0, "--out", where / "zero.h5", env=env).returncode == 0
    return where


@pytest.mark.parametrize("u_min", ["1e308", "-1e300"])
def test_llc_u_min_has_the_common_range(fastwalk_cli, sweep, u_min):
    # lambda was inf ("-Infinity" in the JSON) or scipy's overflow warnings and "numbers overflowed"
    done = fastwalk_cli.run("llc", sweep / "sw-T0.1.h5", sweep / "sw-T0.03.h5", "--u-min", u_min,
                            "--json")
    assert "--u-min must be 0 or of magnitude" in _one_error_line(done, 2)
    assert done.stdout == ""


def test_llc_json_is_strict_json(fastwalk_cli, sweep):
    # a two-temperature fit printed "aicc": Infinity
    done = fastwalk_cli.run("llc", sweep / "sw-T0.1.h5", sweep / "sw-T0.03.h5", "--json")
    assert done.returncode == 0, done.stderr
    _strict_json(done.stdout)


@pytest.mark.parametrize("picture, status, needle", [
    ("nosuffix", 2, "give --plot a name ending in .png"),  # was "Format 'tmp' is not supported"
    ("/proc/fastwalk-llc.png", 1, "cannot write the picture /proc/fastwalk-llc.png"),  # a temp name
])
def test_llc_plot_names_the_picture(fastwalk_cli, sweep, tmp_path, picture, status, needle):
    target = tmp_path / picture if not picture.startswith("/") else picture
    done = fastwalk_cli.run("llc", sweep / "sw-T0.1.h5", sweep / "sw-T0.03.h5", "--plot", target,
                            "--json")
    assert needle in _one_error_line(done, status)
    assert done.stdout == ""


def test_plot_of_a_langevin_run_without_steps(fastwalk_cli, sweep, tmp_path):
    # "the numbers overflowed (invalid value encountered in divide)"
    done = fastwalk_cli.run("plot", sweep / "zero.h5", "-o", tmp_path / "zero.png")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "zero.png").stat().st_size > 0


def test_messages_about_a_foreign_file_read_well(fastwalk_cli, sweep, tmp_path):
    mine = tmp_path / "notes.png"
    mine.write_text("mine\n")
    done = fastwalk_cli.run("llc", sweep / "sw-T0.1.h5", "--plot", mine)
    assert "choose another --plot or remove it" in _one_error_line(done, 2)
    done = fastwalk_cli.run("free", "--walkers", 2, "--steps", 2, "--out", mine, "--overwrite")
    assert "is not an output file fastwalk wrote" in _one_error_line(done, 2)
    assert mine.read_text() == "mine\n"
