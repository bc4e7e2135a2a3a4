"""`fastwalk langevin` through real subprocesses: runs, sweeps, bad input, kill and resume."""

from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pytest

RUN = ["langevin", "--dim", "2", "--potential", "x0**2 * x1**4 + a*(x0 - 0.2)**2", "--param",
       "a=0.5", "--temperature", "0.3", "--dt", "0.01", "--method", "mala", "--walkers", "300",
       "--seed", "5", "--every", "500", "--quiet"]


def _contents(path):
    """Every dataset of a run that must be bit-identical (not timing or status)."""
    data = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and (name.startswith(("particles", "observables"))
                                                  or name.startswith("fastwalk/accumulators")):
                data[name] = obj[()]
        f.visititems(visit)
    return data


@pytest.mark.parametrize("args, message", [
    (["--potential", "x0 +"], "does not parse"),
    (["--potential", "x0 * y"], "unknown symbol 'y'"),
    (["--potential", "__import__('os')"], "unknown function '__import__'"),
    (["--potential", "x0.real"], "attribute access"),
    (["--potential", "log(x0)"], "not finite at the start point"),
    (["--potential", "x0**2", "--dt", "2"], "too large for Euler–Maruyama.*--method mala"),
    (["--potential", "x0**2", "--temperature", "0"], "temperature must be > 0"),
    (["--potential", "x0**2", "--temperature", "-1"], "temperature must be > 0"),
    (["--potential", "x0**2", "--box", "0"], "box must be > 0"),
    (["--potential", "x0**2", "--box", "-2"], "box must be > 0"),
    (["--potential", "a*x0**2", "--param", "a"], "NAME=VALUE"),
    (["--potential", "a*x0**2", "--param", "a=b"], "needs a number"),
    (["--potential", "A*x0**2", "--param", "A=1", "--param", "a=2"],
     "--param a: declared but the potential does not use it; check the expression for a typo"),
    (["--potential", "x0**2", "--start", "9"], "outside the box"),
    (["--potential", "x0**2", "--temperature", "1,1"], "temperature twice"),
    (["--potential", "x0**2", "--temperature", ",".join(f"{1 + i / 1e4:g}" for i in range(1001))],
     "lists 1001 temperatures, at most 1000"),
    (["--potential", "x0**2", "--localize", "-1"], "--localize must be >= 0, got -1"),
    (["--potential", "x0**2", "--localize", "nan"], "--localize must be a finite number"),
    (["--potential", "x0**2", "--localize", "1", "--at", "0.1,0.2"],
     "at has 2 values but dim = 1; give one number or 1 comma-separated numbers"),
    (["--potential", "x0**2", "--localize", "1", "--at", "5"],
     r"at \(x\*\) coordinate 0 = 5 lies outside the box \[-1, 1\]; put the localizer's point"),
    (["--potential", "x0**2", "--localize", "1", "--at", "x"], "--at needs a number"),
    (["--potential", "x0**2", "--dt", "automatic"],
     "--dt needs a number, got 'automatic'; give a time step > 0, or auto to choose one"),
    (["--potential", "x0**2", "--dt", "0"], "--dt must be > 0, got 0; give a time step > 0, or auto"),
    (["--potential", "x0**2", "--dt", "-0.1"], "--dt must be > 0, got -0.1"),
    (["--potential", "x0**2", "--dt", "inf"], "--dt must be a finite number"),
    (["--potential", "x0**2", "--dt", "auto", "--method", "mala", "--burn-in", "399"],
     "adapts MALA's step during the burn-in, which is 399 steps; give a burn-in of at least 400"),
])
def test_bad_input_is_one_line_and_exit_2(fastwalk_cli, tmp_path, args, message):
    out = fastwalk_cli.run("langevin", "--dim", "1", *args, "--out", tmp_path / "x.h5")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), out.stderr
    import re

    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "x.h5").exists()


def test_run_inspect_and_temperature_sweep(fastwalk_cli, tmp_path):
    out = fastwalk_cli.run(*RUN, "--steps", "200", "--temperature", "0.3,0.1", "--out",
                           tmp_path / "sweep.h5", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    files = [run["out"] for run in summary["runs"]]
    assert files == [str(tmp_path / "sweep-T0.3.h5"), str(tmp_path / "sweep-T0.1.h5")]
    assert [run["parameters"]["temperature"] for run in summary["runs"]] == [0.3, 0.1]
    assert len({run["seed"] for run in summary["runs"]}) == 2  # one derived seed per temperature
    shown = json.loads(fastwalk_cli.run("inspect", files[1], "--json").stdout)
    assert shown["kind"] == "langevin"
    with h5py.File(files[1], "r") as f:
        assert f["observables/acceptance_rate/value"].shape == (201,)
        counts = f["fastwalk/accumulators/walker_energy_count"][()]
        assert counts.shape == (300,) and np.all(counts == 200)


def test_kill_and_resume_is_bit_identical(fastwalk_cli, tmp_path):
    reference = tmp_path / "reference.h5"
    assert fastwalk_cli.run(*RUN, "--steps", "3000", "--out", reference).returncode == 0
    path = tmp_path / "killed.h5"
    process = fastwalk_cli.start(*RUN, "--steps", "3000", "--out", path,
                                 env={"FASTWALK_COMMIT_SECONDS": "0"})
    ckpt = path.with_name(path.name + ".ckpt")
    deadline = time.monotonic() + 600  # ends a hung test only; compiling under load takes long
    while not ckpt.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert ckpt.exists(), "no checkpoint before the kill"
    process.kill()
    process.communicate(timeout=60)
    resumed = fastwalk_cli.run("resume", path, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    want, got = _contents(reference), _contents(path)
    assert want.keys() == got.keys()
    for key in want:
        np.testing.assert_array_equal(want[key], got[key], err_msg=key)


def test_non_finite_state_during_a_run_exits_1_naming_the_step(fastwalk_cli, tmp_path):
    # U = -x0**4 pushes walkers out to infinity without a boundary
    path = tmp_path / "blowup.h5"
    out = fastwalk_cli.run("langevin", "--dim", "1", "--potential", "-x0**4", "--boundary", "none",
                           "--start", "0.5", "--temperature", "0.1", "--dt", "0.01", "--walkers",
                           "4", "--steps", "5000", "--seed", "1", "--every", "10", "--out", path,
                           "--quiet")
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "non-finite at step" in lines[0], out.stderr
    with h5py.File(path, "r") as f:
        frames = f["particles/walkers/position/value"][()]
    assert np.all(np.isfinite(frames))


def test_dt_auto_from_a_config_file_and_a_bad_one(fastwalk_cli, tmp_path):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('[langevin]\ndt = "auto"\nmethod = "em"\n')
    bad.write_text('[langevin]\ndt = "fast"\n')
    out = fastwalk_cli.run("langevin", "--dim", "1", "--potential", "1.5*x0**2", "--config", good,
                           "--temperature", "0.1", "--walkers", "4", "--steps", "10", "--out",
                           tmp_path / "g.h5", "--json")
    assert out.returncode == 0, out.stderr
    parameters = json.loads(out.stdout)["parameters"]
    # EM: 0.05 of the stability limit 2/3 (the noise cap (0.1)²/(2T) = 0.05 does not bind)
    assert parameters["dt"] == pytest.approx(0.05 * 2 / 3) and parameters["dt_auto"]["rule"] == "stability"
    out = fastwalk_cli.run("langevin", "--dim", "1", "--potential", "x0**2", "--config", bad,
                           "--out", tmp_path / "b.h5")
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "'fast'" in lines[0] and "auto" in lines[0], \
        out.stderr
    assert not (tmp_path / "b.h5").exists()
