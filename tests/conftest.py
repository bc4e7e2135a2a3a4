"""Shared fixtures: the installed ``fastwalk`` command in real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# A suite started in the background of a script (`pytest &`, nohup) inherits SIGINT ignored, and
# the commands it starts would inherit that too: fastwalk leaves an ignored SIGINT ignored (a
# background job), so the tests that send one would fail. The tests run commands as a user at
# a terminal does: a handled signal returns to its default in a child, an ignored one does not.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


class FastwalkCLI:
    """Run the installed ``fastwalk`` command in subprocesses.

    ``run`` waits for the command and returns its ``CompletedProcess`` (text
    output captured); ``start`` returns the ``Popen`` of a running command.
    Extra environment variables are passed as ``env={...}`` and added to the
    current environment.
    """

    def __init__(self):
        script = Path(sys.executable).with_name("fastwalk")
        self.command = [str(script)] if script.exists() else [sys.executable, "-m", "fastwalk"]

    def _environment(self, env):
        return None if env is None else {**os.environ, **{k: str(v) for k, v in env.items()}}

    def run(self, *args, env=None, cwd=None, timeout=300, **popen_options):
        """Run ``fastwalk ARGS...`` to completion."""
        return subprocess.run([*self.command, *map(str, args)], capture_output=True, text=True,
                              env=self._environment(env), cwd=cwd, timeout=timeout, **popen_options)

    def start(self, *args, env=None, cwd=None, **popen_options):
        """Start ``fastwalk ARGS...`` and return without waiting."""
        return subprocess.Popen([*self.command, *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self._environment(env),
                                cwd=cwd, **popen_options)


@pytest.fixture(scope="session")
def fastwalk_cli(tmp_path_factory) -> FastwalkCLI:
    """Return a :class:`FastwalkCLI`, after one small run has loaded or built numba's cache."""
    cli = FastwalkCLI()
    warm = tmp_path_factory.mktemp("warm") / "warm.h5"
    out = cli.run("free", "--walkers", 8, "--steps", 20, "--every", 5, "--seed", 1,
                  "--out", warm, "--quiet")
    assert out.returncode == 0, out.stderr
    return cli
