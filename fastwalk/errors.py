"""Exceptions that carry a user-facing message.

The CLI prints ``str(error)`` on one line and exits with the error's
``exit_code``; the Python API lets them propagate.
"""

from __future__ import annotations

import errno

#: failures of a place the command named (its path, permissions, a read-only file system):
#: fixed by changing the command, so status 2; any other OSError (a full disk, an I/O
#: error) is the run failing while it works, status 1 (DESIGN.md, "The command line")
USAGE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR,
                          errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.EEXIST})


def os_error_status(exc: OSError) -> int:
    """Return the exit status of an operating-system failure: 2 for a usage one, else 1.

    Parameters
    ----------
    exc : OSError
        The failure.

    Returns
    -------
    int
        2 if its errno is in :data:`USAGE_ERRNOS`, else 1.
    """
    return 2 if exc.errno in USAGE_ERRNOS else 1


class FastwalkError(Exception):
    """Base class of fastwalk's runtime failures (exit status 1 from the CLI)."""

    exit_code = 1


class SimulationError(FastwalkError):
    """A run cannot go on: for example a walker's position became NaN or infinite."""


class FileFormatError(FastwalkError):
    """A file is missing, unreadable, truncated, or not written by fastwalk (a usage error)."""

    exit_code = 2


class MissingDataError(FastwalkError):
    """A file lacks what an analysis needs (for example no ``mean_cos_theta``); a usage error."""

    exit_code = 2


class ClusterError(FastwalkError):
    """The Dask cluster cannot be reached or was lost during a run.

    Parameters
    ----------
    message : str
        What happened and what to do.
    exit_code : int
        1 for a cluster lost mid-run, 2 for an address that cannot be reached.
    """

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class Interrupted(FastwalkError):
    """A command stopped by a signal; the message says what is kept and resumable.

    Parameters
    ----------
    message : str
        What was kept and how to go on.
    signum : int
        The signal (the exit status is 128 + ``signum``).
    """

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class PlaceError(FastwalkError):
    """A file or directory the command must write cannot be used.

    Parameters
    ----------
    message : str
        What and why, one line.
    cause : OSError
        The failure; its errno sets the exit status (:func:`os_error_status`).
    """

    def __init__(self, message: str, cause: OSError):
        super().__init__(message)
        self.exit_code = os_error_status(cause)
