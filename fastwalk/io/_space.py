"""Reserve disk space ahead of HDF5, so that a full disk is met here and not inside HDF5.

HDF5 cannot recover from a write that fails while it flushes: its caches stay
in a broken state (closing the file or its datasets afterwards may even crash
the interpreter), and a flush cut short may already have rewritten some
structures in place. So before HDF5 may write, :class:`SpaceGuard` reserves the
blocks it could need (``fallocate`` with ``FALLOC_FL_KEEP_SIZE``: the file's size
does not change) and checks the process's file-size limit. A full disk or a
reached limit then raises :class:`NoSpace` from a plain system call, while HDF5
is still healthy and the file can be closed normally.

Bound on how far the file may grow before the next check: its size at the
last flush, plus every byte appended since, plus a chunk per dataset (a partly
filled chunk is stored whole; two if compressed, as a compressed chunk that
grows moves), plus a margin for metadata. Where ``fallocate`` is unsupported (not Linux, some network file
systems) only the file-size limit is checked.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

#: bytes reserved for HDF5 metadata (B-tree nodes, object headers, attributes)
METADATA_MARGIN = 1024 * 1024
#: extra bytes reserved at once beyond what is needed, to spare system calls
RESERVE_AHEAD = 4 * 1024 * 1024
_KEEP_SIZE, _PUNCH_HOLE = 0x01, 0x02


class NoSpace(OSError):
    """The disk is full or the file-size limit is reached; nothing was written."""


def _load_fallocate():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = getattr(libc, "fallocate64", None) or libc.fallocate
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    return function


_FALLOCATE = _load_fallocate()


def _file_size_limit() -> int | None:
    try:
        import resource
    except ImportError:  # not Unix
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


class SpaceGuard:
    """Keep disk space reserved ahead of the HDF5 file open on descriptor ``fd``.

    Parameters
    ----------
    fd : int
        The file descriptor HDF5 writes through.
    """

    def __init__(self, fd: int):
        self.fd = fd
        self.enabled = _FALLOCATE is not None
        self._chunks = 0
        self._appended = 0
        self._flushed_size = os.fstat(fd).st_size
        self._reserved_end = 0
        self._furthest = 0  # the furthest end ever asked of fallocate (a failed call may leave blocks)

    def add_chunks(self, nbytes: int) -> None:
        """Allow for ``nbytes`` more that a new element's chunks may add beyond its rows."""
        self._chunks += int(nbytes)

    def before_write(self, nbytes: int) -> None:
        """Reserve room for ``nbytes`` more bytes (and all not yet flushed).

        Raises
        ------
        NoSpace
            If the disk is full or the file-size limit would be passed.
        """
        self._appended += int(nbytes)
        self._reserve()

    def after_flush(self) -> None:
        """Note that everything so far is on disk, and reserve for what comes next."""
        self._appended = 0
        self._flushed_size = os.fstat(self.fd).st_size
        self._reserved_end = 0  # a flush may truncate the file and free the reserved blocks
        self._reserve()

    def release(self, path: str | os.PathLike | None = None) -> None:
        """Return the blocks reserved past the end of the file.

        Parameters
        ----------
        path : path-like, optional
            Reopen this path to do it (after HDF5 has closed the file);
            default: through the descriptor HDF5 still holds.
        """
        if not self.enabled or self._furthest == 0:
            return
        try:
            fd = self.fd if path is None else os.open(path, os.O_RDWR)
        except OSError:
            return
        try:
            size = os.fstat(fd).st_size
            if self._furthest > size:
                # tmpfs and xfs free blocks past the end on a punched hole, ext4 on a truncate
                _FALLOCATE(fd, _KEEP_SIZE | _PUNCH_HOLE, size, self._furthest - size)
                os.ftruncate(fd, size)
        except OSError:
            pass
        finally:
            if path is not None:
                os.close(fd)
        self._reserved_end = self._furthest = 0

    def _reserve(self) -> None:
        # the file cannot grow past this bound before the next check (see the module notes)
        end = self._flushed_size + self._appended + self._chunks + METADATA_MARGIN
        if end <= self._reserved_end:
            return  # reserved earlier with headroom: no system call
        limit = _file_size_limit()
        if limit is not None and end > limit:
            raise NoSpace(errno.EFBIG, f"File too large: the file-size limit is {limit} bytes")
        # reserve ahead, so that most records need no system call
        target = end + max(RESERVE_AHEAD, end // 8)
        if limit is not None:
            target = min(target, limit)
        if self.enabled:
            size = os.fstat(self.fd).st_size
            self._furthest = max(self._furthest, target)
            if target > size and _FALLOCATE(self.fd, _KEEP_SIZE, size, target - size) != 0:
                code = ctypes.get_errno()
                if code not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    self.enabled = False  # this file system cannot reserve: rely on HDF5's errors
                elif end > size and _FALLOCATE(self.fd, _KEEP_SIZE, size, end - size) != 0:
                    code = ctypes.get_errno()
                    raise NoSpace(code, os.strerror(code))
                else:
                    target = end  # no room for the headroom, but for what is needed now
        self._reserved_end = target
