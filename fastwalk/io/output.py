"""The one policy for every file fastwalk writes: what it may replace, and who owns it.

- :func:`check_target` says whether a path may be written: a name that is
  not empty and not ``-``; never a directory, device, FIFO, socket or
  symbolic link; an existing file only with ``overwrite`` and only if
  fastwalk wrote it (an HDF5 run file with fastwalk's ``/h5md`` creator, or
  a picture), or if it is empty.
- :class:`OutputLock` is the advisory lock a writer holds for a whole run:
  ``fcntl.flock`` on ``<output>.lock``, which holds the writer's pid. A
  second run, ``resume``, ``--overwrite`` and the readers all consult it and
  refuse with "being written by another process (pid N)"; the lock file is
  removed when the run ends (a killed run leaves an unlocked one, which the
  next writer takes over).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fastwalk.errors import FastwalkError

__all__ = ["check_target", "OutputLock", "BusyError", "writer_pid", "lock_path", "sidecar",
           "is_fastwalk_file", "is_picture"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
LOCK_SUFFIX = ".lock"


class BusyError(FastwalkError):
    """Another process holds the file's lock (a runtime error: exit status 1)."""


def lock_path(path) -> Path:
    """Return the lock file that belongs to an output file (see :func:`sidecar`)."""
    return sidecar(path, LOCK_SUFFIX)


#: the longest file name (bytes) where the directory's file system does not say
NAME_MAX = 255


def sidecar(path, suffix: str, prefix: str = "", room: int = 0) -> Path:
    """Return the file ``prefix + name + suffix`` beside ``path``, its name fitted to the file system.

    A name that fits is used as it is. One that would exceed the directory's longest
    file name (a legal 255-byte output name plus ``.lock``) keeps the start of the
    output's name and replaces the rest by a hash of the whole name, so it is still
    the same for every process and distinct for every output.

    Parameters
    ----------
    path : path-like
        The output file.
    suffix, prefix : str
        What the sidecar adds to the output's name.
    room : int, optional
        Bytes more that the caller will add (a random part of a temporary name).

    Returns
    -------
    pathlib.Path
        The sidecar's path.
    """
    import hashlib

    path = Path(path)
    name = path.name
    extra = len(os.fsencode(prefix + suffix)) + room
    limit = _name_max(path.parent)
    if len(os.fsencode(name)) + extra <= limit:
        return path.with_name(prefix + name + suffix)
    digest = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    keep = os.fsencode(name)[: max(0, limit - extra - len(digest))]
    return path.with_name(prefix + keep.decode(errors="ignore") + digest + suffix)


def _name_max(directory: Path) -> int:
    try:
        return int(os.pathconf(directory if str(directory) else ".", "PC_NAME_MAX"))
    except (OSError, ValueError):
        return NAME_MAX


def is_fastwalk_file(path) -> bool:
    """Whether ``path`` is an HDF5 file whose ``/h5md/creator`` is fastwalk."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                return False
        import h5py

        with h5py.File(path, "r", locking=False) as f:
            return f["h5md/creator"].attrs.get("name") in ("fastwalk", b"fastwalk")
    except (OSError, KeyError, ValueError, RuntimeError):
        return False


def is_picture(path) -> bool:
    """Whether ``path`` starts like a PNG, PDF, SVG, JPEG, TIFF, PostScript or WebP picture."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    signatures = (b"\x89PNG\r\n\x1a\n", b"%PDF", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"%!PS")
    return (head.startswith(signatures) or (head.startswith(b"RIFF") and head[8:12] == b"WEBP")
            or b"<svg" in head or head.lstrip().startswith(b"<?xml"))


def check_target(path, *, overwrite: bool, what: str = "output file", option: str = "--out",
                 ours=is_fastwalk_file) -> Path:
    """Refuse a path that must not be written (see the module notes); return it as a Path.

    Parameters
    ----------
    path : path-like
        The file to write.
    overwrite : bool
        Whether an existing file may be replaced.
    what, option : str
        How messages name the file and the option that sets it.
    ours : callable
        ``ours(path) -> bool``: whether an existing file is one fastwalk wrote.

    Returns
    -------
    pathlib.Path
        The path.

    Raises
    ------
    FileExistsError, ValueError
        Usage errors (exit status 2), each one line naming the file and the fix.
    """
    text = os.fspath(path)
    if not str(text).strip():
        raise ValueError(f"{option} is empty; give a file name")
    if text == "-":
        raise ValueError(f"{option} - (standard output) is not supported; give a file name")
    path = Path(text)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise FileNotFoundError(
                f"directory {path.parent} for {option} does not exist; create it first") from None
        return path
    except OSError as exc:
        raise ValueError(f"cannot use {option} {path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise ValueError(f"{option} {path} is a symbolic link; give the path of a regular file")
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        raise ValueError(f"{option} {path} is {kind}, not a regular file; fastwalk writes only "
                         "regular files")
    if not overwrite:
        raise FileExistsError(f"{what} {path} already exists; choose another {option} or pass "
                              "--overwrite")
    if info.st_size and not ours(path):
        article = "an" if what[:1] in "aeiou" else "a"
        raise FileExistsError(f"{path} is not {article} {what} fastwalk wrote, so it will not be "
                              f"replaced; choose another {option} or remove it yourself")
    return path


def check_source(path, what: str) -> Path:
    """Refuse to read anything but an existing regular file (a FIFO would block, a device mislead).

    Parameters
    ----------
    path : path-like
        The file to read.
    what : str
        How messages name it, e.g. ``"edge list"``.

    Returns
    -------
    pathlib.Path
        The path.
    """
    path = Path(path)
    if not os.fspath(path).strip() or not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    if not path.is_file():
        raise ValueError(f"{what} {path} is {describe_kind(path)}, not a regular file")
    return path


def describe_kind(path) -> str:
    """Say what kind of file ``path`` is ("a directory", "a FIFO (named pipe)", ...)."""
    return _kind(os.stat(path).st_mode)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def writer_pid(path) -> int | None:
    """Return the pid of the process writing ``path``, or None when none is.

    Parameters
    ----------
    path : path-like
        The output file.

    Returns
    -------
    int or None
        The writer's pid (0 when it cannot be read).
    """
    import fcntl

    try:
        fd = os.open(lock_path(path), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def refuse_if_busy(path, doing: str) -> None:
    """Raise :class:`BusyError` if another process is writing ``path``.

    Parameters
    ----------
    path : path-like
        The file.
    doing : str
        What was refused, e.g. ``"read"``.
    """
    pid = writer_pid(path)
    if pid is not None:
        raise BusyError(_busy_message(path, pid, doing))


def _busy_message(path, pid: int, doing: str) -> str:
    who = f"pid {pid}" if pid else "pid unknown"
    return (f"{path} is being written by another process ({who}); cannot {doing} it until that "
            "run ends (stop it with SIGINT to keep what it has, then `fastwalk resume`)")


def _read_pid(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).split()[0])
    except (OSError, ValueError, IndexError):
        return 0


class OutputLock:
    """The advisory lock a run holds on its output for its whole life.

    Parameters
    ----------
    path : path-like
        The output file (the lock is ``path + ".lock"``).
    doing : str
        What the holder does, for the message another process gets.
    """

    def __init__(self, path, doing: str = "write"):
        import fcntl

        self.path = lock_path(path)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                from fastwalk.errors import PlaceError

                raise PlaceError(f"cannot create the lock file {self.path}: {exc.strerror}",
                                 exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pid = _read_pid(fd)
                os.close(fd)
                raise BusyError(_busy_message(path, pid, doing)) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else its last holder removed it between our open and flock: again
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
