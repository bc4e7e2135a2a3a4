"""The ``fastwalk`` command's entry point: a signal is answered from its first line.

Loading the command (Click, then NumPy, numba and h5py as a subcommand needs them)
takes a tenth of a second or more. A SIGINT or SIGTERM that comes meanwhile must end
like one that comes before a run starts: one line and status 130 or 143, never a
traceback. This module imports nothing but the standard library, so its handlers are
in place before anything slow loads; :mod:`fastwalk.cli` answers signals the same way
from then on, and the engine takes over during a run.

A handler's exception can be lost: raised while Python code runs inside a C callback
(llvmlite calls one as numba loads cached code), it is printed as "Exception ignored"
and the command goes on. So the handlers also record the signal, such exceptions are
not printed, and the engine, when it takes the signals over, stops at once for a
recorded one (:func:`take_pending_signal`): the run ends "interrupted" at its first
step, resumable, instead of running to the end.
"""

from __future__ import annotations

import signal
import sys

#: the signals the handlers below received, newest last (see the module notes)
_received: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM outside a run (a run's engine handles both signals itself)."""


def interrupt(signum, frame):
    """Record the signal and stop: KeyboardInterrupt, or :class:`Terminated` for SIGTERM."""
    _received.append(signum)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def take_pending_signal() -> int | None:
    """Return the newest signal the handlers received and forget them all (None if none).

    Returns
    -------
    int or None
        A signal that came before the engine took the signals over and did not stop the
        command (its exception was lost in a C callback).
    """
    pending = _received[-1] if _received else None
    _received.clear()
    return pending


def install_handlers(whole_process: bool = False) -> None:
    """Answer SIGTERM, and SIGINT unless it is ignored (a background job), with :func:`interrupt`.

    Parameters
    ----------
    whole_process : bool, optional
        Also keep lost interrupts (recorded) off stderr, through :data:`sys.unraisablehook`:
        for the ``fastwalk`` process itself, not for a caller of :func:`fastwalk.cli.main`.
    """
    signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt)
    if whole_process:
        sys.unraisablehook = _unraisable


def _unraisable(unraisable) -> None:
    """Print what Python could not raise, except a recorded signal's interrupt."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


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
    _received.clear()  # answered: no run is to stop for it
    terminated = isinstance(exc, Terminated)
    name = "SIGTERM" if terminated else "SIGINT"
    sys.stderr.write(f"Interrupted: stopped by {name}; nothing was written that needs resuming\n")
    sys.stderr.flush()
    return 143 if terminated else 130


def main() -> None:
    """Run the ``fastwalk`` command (``python -m fastwalk`` too); exit with its status."""
    try:
        install_handlers(whole_process=True)  # a signal may come between its first and last line
        from fastwalk.cli import main as run

        run()  # answers signals itself, but for the few lines around its own try
    except SystemExit:
        _exiting()
        raise
    except KeyboardInterrupt as exc:
        status = stopped(exc)
        _exiting()
        sys.exit(status)


def _exiting() -> None:
    """Ignore SIGINT and SIGTERM while the interpreter shuts down: the status is decided.

    Python's shutdown puts the default action back for signals it handled, so a SIGTERM
    while it waits for Dask's threads or runs exit hooks killed the process by the signal
    (status −15, no message); an ignored signal keeps the status the command chose.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
