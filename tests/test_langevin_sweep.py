"""A temperature sweep: every temperature on its own derived seed, recorded, rerun and resumed alike."""

from __future__ import annotations

import hashlib
import json
import time

import h5py
import numpy as np
from test_langevin_cli import _contents

from fastwalk.commands.langevin import sweep_seed
from fastwalk.rng import derive_seed

SWEEP = ["langevin", "--dim", "2", "--potential", "x0**2 * x1**2", "--method", "mala", "--dt", "0.05",
         "--start", "uniform", "--temperature", "0.3,0.1", "--walkers", "200", "--seed", "9",
         "--every", "100", "--quiet"]


def test_derived_seed_is_the_documented_blake2b():
    # the formula of rng.derive_seed's docstring, written out again
    def reference(seed, purpose, index):
        data = (b"fastwalk:" + purpose.encode() + b":" + seed.to_bytes(16, "little")
                + index.to_bytes(8, "little"))
        return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "little")

    for seed in (0, 9, 2**128 - 1):
        for index in (0, 1, 999):
            assert derive_seed(seed, "temperature", index) == reference(seed, "temperature", index)
            assert sweep_seed(seed, index) == reference(seed, "temperature", index)
    seeds = {sweep_seed(9, k) for k in range(1000)} | {derive_seed(9, "dt-pilot", 0), 9}
    assert len(seeds) == 1002


def _seeds_and_starts(path):
    with h5py.File(path, "r") as f:
        config = json.loads(f["parameters"].attrs["config"])
        start = f["particles/walkers/position/value"][0]
    return config, start


def test_each_temperature_has_its_own_recorded_seed_and_a_rerun_is_bit_identical(fastwalk_cli,
                                                                                 tmp_path):
    first, again = tmp_path / "a" / "s.h5", tmp_path / "b" / "s.h5"
    for out in (first, again):
        out.parent.mkdir()
        done = fastwalk_cli.run(*SWEEP, "--steps", "300", "--out", out, "--json")
        assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["seed"] == "9"
    assert [run["seed"] for run in summary["runs"]] == [str(sweep_seed(9, 0)), str(sweep_seed(9, 1))]
    assert [run["sweep_position"] for run in summary["runs"]] == [0, 1]
    starts = []
    for position, name in enumerate(("s-T0.3.h5", "s-T0.1.h5")):
        config, start = _seeds_and_starts(first.parent / name)
        assert config["run"]["seed"] == str(sweep_seed(9, position))
        assert config["config"]["sweep_seed"] == "9"
        assert config["config"]["sweep_position"] == position
        assert config["config"]["sweep_temperatures"] == [0.3, 0.1]
        starts.append(start)
        want, got = _contents(first.parent / name), _contents(again.parent / name)
        assert want.keys() == got.keys()
        for key in want:
            np.testing.assert_array_equal(want[key], got[key], err_msg=f"{name}: {key}")
    # the uniform start is the first draws of each walker's stream: a shared seed gave equal starts
    assert not np.any(starts[0] == starts[1])


def test_one_temperature_reruns_alone_with_its_recorded_seed(fastwalk_cli, tmp_path):
    sweep = tmp_path / "s.h5"
    assert fastwalk_cli.run(*SWEEP, "--steps", "200", "--out", sweep).returncode == 0
    alone = tmp_path / "alone.h5"
    args = [a if a != "0.3,0.1" else "0.1" for a in SWEEP]
    args[args.index("--seed") + 1] = str(sweep_seed(9, 1))
    assert fastwalk_cli.run(*args, "--steps", "200", "--out", alone).returncode == 0
    want, got = _contents(tmp_path / "s-T0.1.h5"), _contents(alone)
    for key in want:
        np.testing.assert_array_equal(want[key], got[key], err_msg=key)


def test_a_killed_sweep_file_resumes_bit_identically(fastwalk_cli, tmp_path):
    reference = tmp_path / "ref" / "s.h5"
    reference.parent.mkdir()
    assert fastwalk_cli.run(*SWEEP, "--steps", "20000", "--out", reference).returncode == 0
    path = tmp_path / "s.h5"
    process = fastwalk_cli.start(*SWEEP, "--steps", "20000", "--out", path,
                                 env={"FASTWALK_COMMIT_SECONDS": "0"})
    first = tmp_path / "s-T0.3.h5"
    ckpt = first.with_name(first.name + ".ckpt")
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the sweep ended before it could be killed"
    process.kill()
    process.communicate(timeout=60)
    with h5py.File(first, "r") as f:
        assert f["fastwalk"].attrs["status"] != "completed"  # killed mid-run
    for name in ("s-T0.3.h5", "s-T0.1.h5"):
        target = tmp_path / name
        if not target.exists():  # killed before the second temperature started: run it alone
            args = [a if a != "0.3,0.1" else "0.1" for a in SWEEP]
            args[args.index("--seed") + 1] = str(sweep_seed(9, 1))
            assert fastwalk_cli.run(*args, "--steps", "20000", "--out", target).returncode == 0
            continue
        resumed = fastwalk_cli.run("resume", target, "--quiet")
        assert resumed.returncode == 0, resumed.stderr
        want, got = _contents(reference.parent / name), _contents(target)
        assert want.keys() == got.keys()
        for key in want:
            np.testing.assert_array_equal(want[key], got[key], err_msg=f"{name}: {key}")
