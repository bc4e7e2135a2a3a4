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

    def release(self) -> None:
        """Return the blocks reserved past the end of the file (before it is closed)."""
        try:
            size = os.fstat(self.fd).st_size
        except OSError:
            return
        if self.enabled and self._reserved_end > size:
            _FALLOCATE(self.fd, _KEEP_SIZE | _PUNCH_HOLE, size, self._reserved_end - size)
        self._reserved_end = 0

    def _reserve(self) -> None:
        size = os.fstat(self.fd).st_size
        end = max(size, self._flushed_size + self._appended) + self._chunks + METADATA_MARGIN
        limit = _file_size_limit()
        if limit is not None and end > limit:
            raise NoSpace(errno.EFBIG, f"File too large: the file-size limit is {limit} bytes")
        if not self.enabled or end <= self._reserved_end:
            return
        if _FALLOCATE(self.fd, _KEEP_SIZE, size, end - size) != 0:
            code = ctypes.get_errno()
            if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise NoSpace(code, os.strerror(code))
            self.enabled = False  # this file system cannot reserve: rely on HDF5's own errors
            return
        self._reserved_end = end
