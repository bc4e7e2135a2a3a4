"""Issue 15, the second break-it pass (langevin, llc, plot, the expression cache, signals):
one test per defect, with real processes, files and signals. Each fails before its fix."""

from __future__ import annotations

import json
import signal
import time

import pytest
from test_hardening import _one_error_line

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


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_before_the_run_starts_says_interrupted(fastwalk_cli, tmp_path, signum, status):
    # click turned both into "Aborted." with status 130
    process = fastwalk_cli.start(*LANGEVIN, "--potential", "x0**2", "--out", tmp_path / "s.h5")
    time.sleep(0.3)  # importing: no run has begun
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert stderr.strip().splitlines() == [
        f"Interrupted: stopped by {signal.Signals(signum).name}; nothing was written that needs resuming"]
