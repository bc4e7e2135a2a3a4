"""The ``fastwalk`` command's entry point: a signal is answered from its first line.

Loading the command (Click, then NumPy, numba and h5py as a subcommand needs them)
takes a tenth of a second or more. A SIGINT or SIGTERM that comes meanwhile must end
like one that comes before a run starts: one line and status 130 or 143, never a
traceback. This module imports nothing but the standard library, so its handlers are
in place before anything slow loads; :mod:`fastwalk.cli` answers signals the same way
from then on, and the engine takes over during a run.
"""

from __future__ import annotations

import signal
import sys


class Terminated(KeyboardInterrupt):
    """SIGTERM outside a run (a run's engine handles both signals itself)."""


def terminate(signum, frame):
    """Stop on SIGTERM as on SIGINT; the status is then 143."""
    raise Terminated()


def stopped(exc: KeyboardInterrupt) -> int:
    """Say that a signal stopped the command before any run began; return 130 or 143.

    Parameters
    ----------
    exc : KeyboardInterrupt
        The interrupt; :class:`Terminated` for SIGTERM.

    Returns
    -------
    int
        The exit status: 143 for SIGTERM, 130 for SIGINT.
    """
    terminated = isinstance(exc, Terminated)
    name = "SIGTERM" if terminated else "SIGINT"
    sys.stderr.write(f"Interrupted: stopped by {name}; nothing was written that needs resuming\n")
    sys.stderr.flush()
    return 143 if terminated else 130


def main() -> None:
    """Run the ``fastwalk`` command (``python -m fastwalk`` too); exit with its status."""
    signal.signal(signal.SIGTERM, terminate)
    try:
        from fastwalk.cli import main as run
    except KeyboardInterrupt as exc:
        sys.exit(stopped(exc))
    run()
