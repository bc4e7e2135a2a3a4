"""The CLI core, in real subprocesses of the installed ``fastwalk``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest


def fastwalk_cmd():
    script = Path(sys.executable).with_name("fastwalk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fastwalk"]


def run_cli(*args, cwd=None, env=None):
    return subprocess.run([*fastwalk_cmd(), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_help_imports_neither_numba_nor_numpy():
    # `fastwalk langevin --help` loaded NumPy through fastwalk.expression (for --dim's limit)
    code = (
        "import sys\nfrom fastwalk.cli import main\n"
        "try:\n    main(['--help'])\n"
        "except SystemExit as e:\n    assert e.code == 0\n"
        "from fastwalk.cli import cli\n"
        "names = cli.list_commands(None)\nassert 'free' in names and 'info' in names\n"
        "for name in names:\n"
        "    try:\n        main([name, '--help'])\n"
        "    except SystemExit as e:\n        assert e.code == 0, name\n"
        "print(' '.join(m for m in ('numba', 'numpy') if m in sys.modules) or 'CLEAN')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "CLEAN", out.stdout + out.stderr


def test_info_json_reports_versions_threads_and_cache():
    out = run_cli("info", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    import h5py as h5
    import numba

    import fastwalk

    assert info["fastwalk"] == fastwalk.__version__
    assert info["numba"] == numba.__version__
    assert info["hdf5"] == h5.version.hdf5_version
    assert info["threads"] >= 1 and info["jit_cache"]


def test_free_run_json_config_and_file(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("walkers = 64\nsteps = 500\ndim = 3\nevery = 100\n")
    out = run_cli("free", "--config", config, "--steps", 200, "--seed", 11, "--out",
                  tmp_path / "f.h5", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    for key in ("seed", "out", "steps", "wall_s", "walker_steps_per_s", "parameters", "reason"):
        assert key in summary
    assert summary["seed"] == "11" and summary["steps"] == 200 and summary["walkers"] == 64
    assert summary["parameters"]["dim"] == 3 and summary["reason"] == "completed"
    with h5py.File(tmp_path / "f.h5", "r") as f:
        assert f["particles/walkers/position/value"].shape == (3, 64, 3)  # steps 0, 100, 200
        stored = json.loads(f["parameters"].attrs["config"])
        assert stored["config"]["walkers"] == 64 and stored["config"]["steps"] == 200


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["free", "--walkers", "0"], "--walkers must be >= 1"),
        (["free", "--steps", "-5"], "--steps must be >= 0"),
        (["free", "--dt", "nan"], "dt must be a finite"),
        (["free", "--diffusion", "inf"], "diffusion must be a finite"),
        (["free", "--seed", "-1"], "seed must be in [0, 2**128)"),
        (["free", "--bogus"], "No such option"),
        (["free", "--threads", "999"], "--threads must be between 1"),
        (["nosuchcommand"], "No such command"),
        (["inspect", "missing.h5"], "does not exist"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(tmp_path, args, needle):
    out = run_cli(*args, "--out", tmp_path / "x.h5") if args[0] == "free" else run_cli(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "x.h5").exists()


def test_existing_output_is_refused_and_left_untouched(tmp_path):
    target = tmp_path / "keep.h5"
    target.write_bytes(b"precious")
    out = run_cli("free", "--steps", 10, "--out", target)
    assert out.returncode == 2 and "--overwrite" in out.stderr
    assert target.read_bytes() == b"precious"


def test_debug_shows_traceback(tmp_path):
    out = run_cli("--debug", "inspect", tmp_path / "missing.h5")
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "fastwalk", "--version"], capture_output=True,
                         text=True, timeout=60, env={**os.environ})
    assert out.returncode == 0 and "fastwalk" in out.stdout
