"""`fastwalk langevin --network SPEC --data FILE` through real subprocesses: runs, llc, resume, bad input."""

from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pytest


@pytest.fixture
def data(tmp_path):
    generator = np.random.default_rng(7)
    x = generator.normal(size=(30, 3))
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=x @ generator.normal(size=(3, 2)) * 0.3)
    return path


def _run_args(data, *extra):
    return ["langevin", "--network", "linear:3-2-2", "--data", data, "--method", "mala",
            "--dt", "1e-3", "--walkers", "40", "--seed", "3", "--quiet", *extra]


def test_a_sweep_is_read_by_llc_and_records_the_network(fastwalk_cli, tmp_path, data):
    out = tmp_path / "sweep.h5"
    run = fastwalk_cli.run(*_run_args(data, "--temperature", "1,0.5", "--steps", "300",
                                      "--burn-in", "100", "--out", out))
    assert run.returncode == 0, run.stderr
    files = [tmp_path / "sweep-T1.h5", tmp_path / "sweep-T0.5.h5"]
    from fastwalk.io.reader import Run

    with Run(files[0]) as opened:
        parameters = opened.parameters
    assert parameters["kind"] == "network" and parameters["network"] == "linear:3-2-2"
    assert parameters["dim"] == 10 and parameters["data"] == str(data)
    assert len(parameters["data_sha256"]) == 64
    assert [e["name"] for e in parameters["layout"]] == ["W1", "W2"]
    report = fastwalk_cli.run("llc", *files, "--json")
    assert report.returncode == 0, report.stderr
    assert len(json.loads(report.stdout)["runs"]) == 2


def _contents(path):
    found = {}
    with h5py.File(path, "r") as handle:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.startswith(("particles", "observables",
                                                                  "fastwalk/accumulators")):
                found[name] = obj[()]
        handle.visititems(visit)
    return found


def test_kill_and_resume_is_bit_identical_and_changed_data_are_refused(fastwalk_cli, tmp_path, data):
    args = _run_args(data, "--temperature", "0.2", "--steps", "20000", "--every", "2000")
    reference = tmp_path / "reference.h5"
    assert fastwalk_cli.run(*args, "--out", reference).returncode == 0
    path = tmp_path / "killed.h5"
    process = fastwalk_cli.start(*args, "--out", path, env={"FASTWALK_COMMIT_SECONDS": "0"})
    checkpoint = path.with_name(path.name + ".ckpt")
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.kill()
    process.communicate(timeout=60)
    resumed = fastwalk_cli.run("resume", path, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    want, got = _contents(reference), _contents(path)
    assert want.keys() == got.keys()
    for key in want:
        np.testing.assert_array_equal(want[key], got[key], err_msg=key)
    with np.load(data) as archive:
        x, y = archive["x"], archive["y"]
    np.savez(data, x=x, y=y + 1e-12)
    refused = fastwalk_cli.run("resume", reference, "--steps", "30000", "--quiet")
    assert refused.returncode != 0
    assert "changed since the run was written" in refused.stderr, refused.stderr


def _write(tmp_path, name, **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case, message", [
    ("spec", "unknown network 'conv'"),
    ("widths", "must be at least two positive integers"),
    ("activation", "unknown activation 'sigmoid'"),
    ("shape", "x has shape"),
    ("dtype", "it must hold real numbers"),
    ("nan", "NaN or infinite"),
    ("label", "label 3 is out of range"),
    ("float labels", "needs integer class labels"),
    ("missing y", "no array 'y'"),
    ("no file", "does not exist"),
    ("at", "--at has 2 values but the network has d = 10"),
    ("too large", "more than the"),
    ("dim", "--dim does not go with --network"),
    ("no data", "--network needs --data"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(fastwalk_cli, tmp_path, data, case, message):
    x = np.zeros((5, 3))
    args = {
        "spec": ["--network", "conv:3-2", "--data", data],
        "widths": ["--network", "linear:3", "--data", data],
        "activation": ["--network", "mlp:3-2-2:sigmoid", "--data", data],
        "shape": ["--network", "linear:2-2", "--data", data],
        "dtype": ["--network", "linear:3-2", "--data",
                  _write(tmp_path, "s.npz", x=x.astype(str), y=np.zeros((5, 2)))],
        "nan": ["--network", "linear:3-2", "--data",
                _write(tmp_path, "n.npz", x=np.full((5, 3), np.nan), y=np.zeros((5, 2)))],
        "label": ["--network", "mlp:3-4-3:relu", "--loss", "xent", "--data",
                  _write(tmp_path, "l.npz", x=x, y=np.array([0, 1, 2, 3, 0]))],
        "float labels": ["--network", "mlp:3-4-3:relu", "--loss", "xent", "--data",
                         _write(tmp_path, "f.npz", x=x, y=np.full(5, 0.5))],
        "missing y": ["--network", "linear:3-2", "--data", _write(tmp_path, "m.npz", x=x)],
        "no file": ["--network", "linear:3-2", "--data", tmp_path / "absent.npz"],
        "at": ["--network", "linear:3-2-2", "--data", data, "--at", "1,2", "--localize", "1"],
        "too large": ["--network", "mlp:3-100000-100000-2:tanh", "--data", data],
        "dim": ["--network", "linear:3-2-2", "--data", data, "--dim", "2"],
        "no data": ["--network", "linear:3-2-2"],
    }[case]
    out = tmp_path / "out.h5"
    result = fastwalk_cli.run("langevin", *args, "--out", out, "--quiet")
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_at_trained_and_at_a_npy_file_are_recorded(fastwalk_cli, tmp_path, data):
    from fastwalk.io.reader import Run
    from fastwalk.networks import trained_point

    out = tmp_path / "trained.h5"
    args = _run_args(data, "--temperature", "0.1", "--steps", "50", "--localize", "100",
                     "--boundary", "none")
    run = fastwalk_cli.run(*args, "--at", "trained", "--out", out)
    assert run.returncode == 0, run.stderr
    with np.load(data) as archive:
        want = trained_point("linear:3-2-2", (archive["x"], archive["y"]))
    with Run(out) as opened:
        assert opened.parameters["at_source"] == "trained: L-BFGS from seed 0"
        np.testing.assert_array_equal(opened.parameter_arrays()["network/at"], want)
    point = tmp_path / "w.npy"
    np.save(point, np.full(10, 0.25))
    second = tmp_path / "file.h5"
    run = fastwalk_cli.run(*args, "--at", point, "--out", second)
    assert run.returncode == 0, run.stderr
    with Run(second) as opened:
        np.testing.assert_array_equal(opened.parameter_arrays()["network/at"], np.full(10, 0.25))
