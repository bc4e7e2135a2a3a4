"""One H5MD time-dependent element (``step``, ``time``, ``value``) that grows, commits and trims.

Chunking and buffering follow the H5MD writer's durability rules (see
:mod:`fastwalk.io.h5md`): rows are appended as they come, ``committed`` is the
count a reader trusts, and a run's end trims every dataset to it.
"""

from __future__ import annotations

import math

import h5py
import numpy as np

from fastwalk.errors import FastwalkError

#: bytes per chunk we aim for (H5MD readers like 10 KiB .. 1 MiB chunks)
CHUNK_TARGET = 256 * 1024
#: chunk size for series of small records (scalars): little space lost to a part-filled chunk
SMALL_CHUNK = 16 * 1024
CHUNK_MIN = 10 * 1024
CHUNK_MAX = 1024 * 1024
COMMITTED = "committed"
#: rows of small records held in memory before they are written (and at most 1 MiB of them)
PENDING_ROWS = 4096


def chunk_shape(row_shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Choose a chunk of 10 KiB to 1 MiB (about 256 KiB) for ``[T, *row_shape]`` data.

    Records under 10 KiB are grouped in time, 16 to 26 KiB of them per chunk
    (a chunk is stored whole even when part-filled, so small series keep small
    chunks); a record of 10 KiB to 1 MiB is one chunk; a larger record is split
    along its leading axes into chunks of 128 to 256 KiB.

    Parameters
    ----------
    row_shape : tuple of int
        Shape of one record.
    itemsize : int
        Bytes per element.

    Returns
    -------
    tuple of int
        Chunk shape including the leading time axis.
    """
    row_bytes = itemsize * math.prod(row_shape)
    if row_bytes < CHUNK_MIN:
        return (-(-SMALL_CHUNK // max(row_bytes, 1)), *row_shape)
    if row_bytes <= CHUNK_MAX:
        return (1, *row_shape)
    chunk = [1]
    for axis, length in enumerate(row_shape):
        trailing = itemsize * math.prod(row_shape[axis + 1:])
        if trailing <= CHUNK_TARGET:
            chunk.append(max(1, min(length, CHUNK_TARGET // trailing)))
            chunk.extend(row_shape[axis + 1:])
            break
        chunk.append(1)
    return tuple(chunk)


def _index_chunk(rows: int) -> tuple[int]:
    """Chunk of a ``step`` or ``time`` dataset (8-byte items) next to ``rows``-row value chunks."""
    return (min(max(rows, 2048), CHUNK_MAX // 8),)


class Element:
    """One H5MD time-dependent element: ``step``, ``time`` and ``value`` datasets."""

    def __init__(self, group: h5py.Group, row_shape, dtype, compression):
        self.group = group
        if "value" not in group:
            dtype = np.dtype(dtype)
            chunks = chunk_shape(tuple(row_shape), dtype.itemsize)
            opts = {"compression": compression} if compression else {}
            group.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64,
                                 chunks=_index_chunk(chunks[0]), **opts)
            group.create_dataset("time", shape=(0,), maxshape=(None,), dtype=np.float64,
                                 chunks=_index_chunk(chunks[0]), **opts)
            group.create_dataset("value", shape=(0, *row_shape), maxshape=(None, *row_shape),
                                 dtype=dtype, chunks=chunks, **opts)
            group["step"].attrs["description"] = "step of each record, counted after burn-in"
            group["time"].attrs["description"] = "time of each record: step * dt, in reduced units"
            group.attrs[COMMITTED] = 0
        self.step, self.time, self.value = group["step"], group["time"], group["value"]
        self.count = int(group.attrs.get(COMMITTED, 0))
        self.block = max(self.value.chunks[0], 16)
        # h5py asks HDF5 for a shape at every call: keep our own copies
        self.row_shape = self.value.shape[1:]
        self.capacity = self.value.shape[0]
        # small rows (steps, times, scalars) wait in memory and are written in one slice at
        # the next commit (or when PENDING_ROWS gather, or 1 MiB of buffered values): an
        # h5py call costs tens of µs; large values go to the file at once, their steps wait
        row_bytes = self.value.dtype.itemsize * math.prod(self.row_shape)
        self._buffer_values = row_bytes < CHUNK_MIN
        self._pending_limit = (max(1, min(PENDING_ROWS, CHUNK_MAX // max(row_bytes, 1)))
                               if self._buffer_values else PENDING_ROWS)
        # a record that is exactly one unfiltered chunk goes straight to disk, skipping
        # HDF5's chunk cache (one copy instead of two)
        self._direct = (not self._buffer_values and self.value.chunks == (1, *self.row_shape)
                        and self.value.id.get_create_plist().get_nfilters() == 0)
        self._origin = (0,) * len(self.row_shape)
        self.stored_row_bytes = self._stored_row_bytes()
        self._steps: list[int] = []
        self._times: list[float] = []
        self._values: list[np.ndarray] = []

    def chunk_bytes(self) -> int:
        """Bytes the file may hold beyond :meth:`stored_row_bytes` per row appended.

        A chunk that groups several rows is stored whole while part-filled (one
        chunk per dataset), and a compressed chunk that grows moves (one more).
        """
        total = 0
        for ds in (self.step, self.time, self.value):
            chunk = math.prod(ds.chunks) * ds.dtype.itemsize
            filtered = ds.id.get_create_plist().get_nfilters() > 0
            total += chunk * ((ds.chunks[0] > 1) + filtered)
        return total

    def _stored_row_bytes(self) -> int:
        """Bytes one more row may add to the file, chunk padding included (+ step and time)."""
        padded = (-(-n // c) * c for n, c in zip(self.row_shape, self.value.chunks[1:], strict=True))
        return self.value.dtype.itemsize * math.prod(padded) + 16

    def append(self, step: int, time: float, value: np.ndarray) -> None:
        """Add one record (held in memory or written, see the chunking notes)."""
        if value.shape != self.row_shape:
            raise FastwalkError(
                f"record for {self.group.name} has shape {value.shape}, expected {self.row_shape}"
            )
        if self._buffer_values:
            self._values.append(np.array(value, dtype=self.value.dtype))
        else:
            self._grow(self.count + 1)
            if self._direct:
                data = np.ascontiguousarray(value, dtype=self.value.dtype)
                self.value.id.write_direct_chunk((self.count, *self._origin), data)
            else:
                self.value[self.count] = value
        self._steps.append(step)
        self._times.append(time)
        self.count += 1
        if len(self._steps) >= self._pending_limit:
            self.write_pending()

    def write_pending(self) -> None:
        """Write the rows still held in memory."""
        pending = len(self._steps)
        if not pending:
            return
        rows = slice(self.count - pending, self.count)
        self._grow(self.count)
        self.step[rows] = np.array(self._steps, dtype=np.int64)
        self.time[rows] = np.array(self._times, dtype=np.float64)
        if self._buffer_values:
            self.value[rows] = np.stack(self._values)
        self._steps.clear()
        self._times.clear()
        self._values.clear()

    def _grow(self, rows: int) -> None:
        if rows <= self.capacity:
            return
        self.capacity = max(rows, self.capacity + max(self.block, self.capacity // 2))
        for ds in (self.step, self.time, self.value):
            ds.resize(self.capacity, axis=0)

    def mark_committed(self) -> None:
        """Declare every record so far committed (the count a reader trusts)."""
        self.group.attrs[COMMITTED] = self.count

    def trim(self) -> None:
        """Write what is pending and shrink the datasets to the records held."""
        self.write_pending()
        if self.capacity != self.count:
            for ds in (self.step, self.time, self.value):
                ds.resize(self.count, axis=0)
            self.capacity = self.count

    def keep(self, mask_fn) -> None:
        """Keep only the committed leading records whose steps satisfy ``mask_fn``."""
        steps = self.step[: int(self.group.attrs.get(COMMITTED, 0))]
        keep = 0
        for s in steps:
            if not mask_fn(int(s)):
                break
            keep += 1
        self.count = keep
        self.mark_committed()
