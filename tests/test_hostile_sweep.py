"""Property-style sweep: every command's every option and argument, given hostile values.

Commands and their parameters are discovered from the Click group, so commands and options
added later are swept too. Each case runs ``fastwalk.cli.main`` in-process (a few ms) in a
scratch directory holding copies of the fixtures; one case per command also runs as a real
subprocess and must behave identically. Asserted for every case: the exit status is 0, 1 or 2
and, when not 0, stderr is exactly one ``Error:`` line, no file appeared, nothing that was there
changed; never a traceback (an exception escaping ``main`` fails the test).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import click
import pytest

from fastwalk.cli import cli, main

#: commands whose valid runs take minutes: only values their option types refuse are tried
SLOW = {"demo"}
LONG_TEXT = "x" * 5000

INTEGERS = ["-1", "1.5", "9" * 40, "", "nan", "0x10", "1e3", LONG_TEXT]
REALS = ["-1", "nan", "inf", "-inf", "1e308", "1e-308", "", "abc", "0x1p3", LONG_TEXT]
TEXTS = ["", ",", "nan", "1e308,2", "-", LONG_TEXT]
CHOICES = ["bogus", "", LONG_TEXT]
PATHS = ["", "-", "fifo", "folder", "foreign.txt", "missing/x.h5", LONG_TEXT]
PER_OPTION = 3  # values tried per option, rotating so every value meets every kind of option


def _hostile(param: click.Parameter) -> list[str]:
    kind = param.type
    if isinstance(kind, click.Choice):
        return CHOICES
    if isinstance(kind, click.types.IntParamType):
        return INTEGERS
    if isinstance(kind, click.types.FloatParamType):
        return REALS
    if isinstance(kind, click.Path):
        return PATHS
    return TEXTS


def _commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    return {name: cli.get_command(ctx, name) for name in cli.list_commands(ctx)}


def _base(command: click.Command) -> list[str]:
    """Arguments that make a small valid call (as far as the parameters tell)."""
    args = []
    names = {p.name for p in command.params}
    for param in command.params:
        if isinstance(param, click.Argument):
            args.append("edges.txt" if "edge" in param.name else "run.h5")
        elif param.required:
            kind = param.type
            args += [param.opts[0], str(getattr(kind, "min", None) or 1)]
    # required unless another option replaces them (langevin's, unless --network is given)
    for name, value in {"dim": "1", "potential": "1"}.items():
        param = next((p for p in command.params if p.name == name), None)
        if param is not None and not param.required:
            args += [param.opts[0], value]
    small = {"lines": "2", "walkers": "3", "steps": "5", "out": "out.h5", "output": "out.png",
             "out_dir": "demo_out"}
    for name, value in small.items():
        if name in names:
            args += [next(p for p in command.params if p.name == name).opts[0], value]
    if "quiet" in names:
        args.append("--quiet")
    return args


def _replace(args: list[str], param: click.Parameter, value: str, command) -> list[str]:
    if isinstance(param, click.Argument):
        position = [p for p in command.params if isinstance(p, click.Argument)].index(param)
        args = list(args)
        args[position] = value
        return args
    args = list(args)
    if param.opts[0] in args:
        i = args.index(param.opts[0])
        del args[i:i + 2]
    return [*args, param.opts[0], value]


def _refused(param: click.Parameter, value: str) -> bool:
    try:
        param.type.convert(value, param, None)
    except click.BadParameter:
        return True
    return not value  # an empty path or text is refused by the command itself


def _cases():
    cases = []
    for name, command in _commands().items():
        base = _base(command)
        turn = 0
        for param in command.params:
            if getattr(param, "is_flag", False) or param.name in ("help", "config"):
                continue
            values = _hostile(param)
            if name in SLOW:  # only values the option's type refuses
                values = [v for v in values if _refused(param, v)] or []
            for k in range(min(PER_OPTION, len(values))):
                value = values[(turn + k) % len(values)]
                cases.append(pytest.param(name, _replace(base, param, value, command), value,
                                          id=f"{name}-{param.name}-{k}"))
            turn += 1
    return cases


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """A directory with a fastwalk run, an edge list, a foreign file, a folder and a FIFO."""
    from fastwalk.api import simulate
    from fastwalk.models.free import FreeBrownian

    root = tmp_path_factory.mktemp("fixtures")
    simulate(FreeBrownian(2, 1.0, 0.01), 4, 10, out=root / "run.h5", seed=1, progress=False)
    (root / "edges.txt").write_text("a b\nb c\nc a\n")
    (root / "foreign.txt").write_text("not fastwalk's\n")
    (root / "folder").mkdir()
    return root


def _scratch(fixtures: Path, where: Path) -> Path:
    shutil.copytree(fixtures, where)
    os.mkfifo(where / "fifo")
    return where


def _snapshot(directory: Path) -> dict:
    found = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        found[str(path.relative_to(directory))] = (info.st_mode, digest)
    return found


def _in_process(args: list[str], cwd: Path) -> tuple[int, str]:
    err = io.StringIO()
    handler, cwd_before = signal.getsignal(signal.SIGTERM), os.getcwd()
    os.chdir(cwd)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            try:
                main(args)
                status = 0
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(cwd_before)
        signal.signal(signal.SIGTERM, handler)
    return status, err.getvalue()


def _check(status: int, stderr: str, before: dict, after: dict, args) -> None:
    assert "Traceback" not in stderr, (args, stderr)
    assert status in (0, 1, 2), (args, status, stderr)
    if status:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, stderr)
        assert after == before, (args, set(after) ^ set(before))


@pytest.mark.parametrize(("name", "args", "value"), _cases())
def test_hostile_value(fixtures, tmp_path, name, args, value):
    cwd = _scratch(fixtures, tmp_path / "w")
    before = _snapshot(cwd)
    status, stderr = _in_process([name, *args], cwd)
    _check(status, stderr, before, _snapshot(cwd), args)


def test_subprocess_runs_match_the_in_process_sweep(fixtures, tmp_path):
    """One case per command as a real process: the same status and the same error line."""
    script = Path(sys.executable).with_name("fastwalk")
    seen = set()
    for case in _cases():
        name, args, value = case.values
        if name in seen or name in SLOW or value in ("", LONG_TEXT):
            continue
        seen.add(name)
        cwd = _scratch(fixtures, tmp_path / name)
        before = _snapshot(cwd)
        done = subprocess.run([str(script), name, *args], cwd=cwd, capture_output=True, text=True,
                              timeout=120)
        _check(done.returncode, done.stderr, before, _snapshot(cwd), args)
        shutil.rmtree(cwd)
        cwd = _scratch(fixtures, tmp_path / f"{name}-in")
        assert _in_process([name, *args], cwd) == (done.returncode, done.stderr), args
    assert seen


@pytest.mark.parametrize("name", sorted(_commands()))
def test_help_states_every_range_in_numbers(name):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "None" not in result.output, result.output
