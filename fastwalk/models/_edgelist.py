"""Edge-list reading for :meth:`fastwalk.models.graph.GraphWalk.from_edgelist`.

The format (one edge per line, ``u v`` or ``u v weight``, ``#`` comments,
labels numbered in order of first appearance, an undirected edge stored as
two CSR entries and a self-loop as one) is defined by the Python reader
:func:`_read_python`, which also names the file and line of any malformed
line. A file of 10^7 edges would take it a minute and gigabytes of Python
objects, so an ASCII file is read by a compiled scanner instead: one pass
over the bytes that numbers the labels with an open-addressing hash table of
their byte spans and collects each edge's two label numbers and its weight,
then a counting sort that lays the entries out exactly as the Python reader
does (rows in order, entries within a row in file order). Whatever the
scanner does not take on itself — a non-ASCII byte, a line without two or
three fields, a weight that is not a plain decimal, or not positive and
finite — hands the whole file to the Python reader, which reads it with
the same result or raises its message. Weights are converted exactly as
``float()`` does: a plain decimal of at most 15 significant digits times
10^±k, k <= 22, in the scanner (Clinger's fast path: one correctly rounded
operation on exact doubles), any other by NumPy's correctly rounded parser.
"""

from __future__ import annotations

import math
import os

import numpy as np

from fastwalk._jit import jit
from fastwalk.models._kernels import U as _U
from fastwalk.models._kernels import prefetch

_NEWLINE, _RETURN, _HASH = 10, 13, 35
_FALLBACK = -1  # scanner status: let the Python reader decide
_POWERS = np.array([10.0**k for k in range(23)])

#: longest node label an edge list may use (labels are stored with the run)
MAX_LABEL = 1000


@jit(inline="always")
def _blank(byte):
    """ASCII whitespace as ``str.split()`` sees it, line breaks excluded."""
    return byte == 32 or 9 <= byte <= 12 or 28 <= byte <= 31


@jit(inline="always")
def _label_key(data, start, end):
    """Return a label of at most 7 bytes packed with its length into one word; 0 if longer."""
    if end - start > 7:
        return np.uint64(0)
    key = np.uint64(end - start) << np.uint64(56)
    for i in range(start, end):
        key |= np.uint64(data[i]) << np.uint64(8 * (i - start))
    return key


@jit(inline="always")
def _label_hash(data, start, end, key):
    """Return the hash of a label: its packed key mixed (SplitMix64), or FNV-1a if long."""
    if key != 0:
        z = key * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        return z ^ (z >> np.uint64(31))
    h = np.uint64(14695981039346656037)
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * np.uint64(1099511628211)
    return h


@jit
def _grown(array, size):
    """Return ``array`` copied into a new array of ``size`` entries (the rest unset)."""
    out = np.empty(size, dtype=array.dtype)
    out[:array.shape[0]] = array
    return out


@jit
def _rehash(data, table, label_start, label_end, count):
    """Insert labels 0..count-1 into an empty ``table`` (pairs of key, label number)."""
    mask = np.uint64(table.shape[0] // 2 - 1)
    for known in range(count):
        key = _label_key(data, label_start[known], label_end[known])
        slot = _label_hash(data, label_start[known], label_end[known], key) & mask
        while table[_U(2 * slot + 1)] >= 0:
            slot = (slot + np.uint64(1)) & mask
        table[_U(2 * slot)] = np.int64(key)
        table[_U(2 * slot + 1)] = known


@jit
def _label_id(data, start, end, key, slot, table, label_start, label_end, count):
    """Return the number of the label data[start:end], giving it ``count`` if it is new.

    ``table`` holds (packed key, number) pairs, open addressing from ``slot``;
    a long label (key 0) is compared byte by byte.
    """
    mask = np.uint64(table.shape[0] // 2 - 1)
    length = end - start
    while True:
        known = table[_U(2 * slot + 1)]
        if known < 0:
            table[_U(2 * slot)] = np.int64(key)
            table[_U(2 * slot + 1)] = count
            return count
        if table[_U(2 * slot)] == np.int64(key):
            if key != 0:
                return known
            if label_end[known] - label_start[known] == length:
                same = True
                for i in range(length):
                    if data[label_start[known] + i] != data[start + i]:
                        same = False
                        break
                if same:
                    return known
        slot = (slot + np.uint64(1)) & mask


@jit
def _decimal(data, start, end, powers):
    """``float(data[start:end])`` for a plain decimal with <= 15 digits; NaN otherwise."""
    i = start
    negative = data[i] == 45
    if data[i] == 43 or data[i] == 45:
        i += 1
    mantissa, digits, scale, seen = 0, 0, 0, False
    while i < end and 48 <= data[i] <= 57:
        mantissa = mantissa * 10 + (data[i] - 48)
        digits += 1 if mantissa > 0 else 0
        seen = True
        i += 1
    if i < end and data[i] == 46:
        i += 1
        while i < end and 48 <= data[i] <= 57:
            mantissa = mantissa * 10 + (data[i] - 48)
            digits += 1 if mantissa > 0 else 0
            scale -= 1
            seen = True
            i += 1
    if i < end and (data[i] == 101 or data[i] == 69) and seen:
        i += 1
        sign = 1
        if i < end and (data[i] == 43 or data[i] == 45):
            sign = -1 if data[i] == 45 else 1
            i += 1
        exponent, any_digit = 0, False
        while i < end and 48 <= data[i] <= 57 and exponent < 10000:
            exponent = exponent * 10 + (data[i] - 48)
            any_digit = True
            i += 1
        if not any_digit:
            return math.nan
        scale += sign * exponent
    if i != end or not seen or digits > 15 or abs(scale) > 22:
        return math.nan
    value = float(mantissa) * powers[scale] if scale >= 0 else float(mantissa) / powers[-scale]
    return -value if negative else value


#: lines parsed before their labels are looked up (the table slots are prefetched meanwhile)
_BATCH = 64


@jit
def _scan(data, u, v, powers):
    """Read every edge (module docstring).

    Returns ``(status, edges, labels, u, v, weights, label_start, label_end,
    weighted, pending, pending_start, pending_end)``: ``status`` is 0, or
    :data:`_FALLBACK` when the Python reader must decide; ``pending`` lists the
    edges whose weight (left NaN) is not a plain decimal the scanner converts
    exactly, with the byte span of each. Lines are parsed in batches of
    :data:`_BATCH`, prefetching the table slots of their labels, and the labels
    are then numbered in file order: a table larger than the cache costs one
    overlapped miss per label instead of one in turn.
    """
    capacity = 1024
    table = np.full(8 * capacity, -1, dtype=np.int64)  # 4·capacity (key, number) pairs
    label_start = np.empty(capacity, dtype=np.int64)
    label_end = np.empty(capacity, dtype=np.int64)
    pending = np.empty(16, dtype=np.int64)
    pending_start = np.empty(16, dtype=np.int64)
    pending_end = np.empty(16, dtype=np.int64)
    weights = np.empty(0)  # allocated at the first weight
    edges, labels, weighted, waiting = 0, 0, False, 0
    starts = np.empty(2 * _BATCH, dtype=np.int64)  # label spans, keys and hashes of a batch
    ends = np.empty(2 * _BATCH, dtype=np.int64)
    keys = np.empty(2 * _BATCH, dtype=np.uint64)
    hashes = np.empty(2 * _BATCH, dtype=np.uint64)
    field_start = np.empty(3, dtype=np.int64)
    field_end = np.empty(3, dtype=np.int64)
    n, i, status = data.shape[0], 0, 0
    while i < n and status == 0:
        batch = 0
        while i < n and batch < _BATCH:
            fields, comment = 0, False
            while i < n and data[i] != _NEWLINE and data[i] != _RETURN:
                byte = data[i]
                if byte >= 128:
                    status = _FALLBACK
                if byte == _HASH:
                    comment = True
                if comment or _blank(byte):
                    i += 1
                    continue
                if fields == 3:
                    status = _FALLBACK
                    break
                field_start[fields] = i
                while i < n and not (_blank(data[i]) or data[i] == _NEWLINE or data[i] == _RETURN
                                     or data[i] == _HASH or data[i] >= 128):
                    i += 1
                field_end[fields] = i
                fields += 1
            if status == _FALLBACK or fields == 1:
                status = _FALLBACK
                break
            if i < n and data[i] == _RETURN and i + 1 < n and data[i + 1] == _NEWLINE:
                i += 1
            i += 1
            if fields == 0:
                continue
            weight = 1.0
            if fields == 3:
                if not weighted:
                    weights = np.ones(u.shape[0])
                    weighted = True
                weight = _decimal(data, field_start[2], field_end[2], powers)
                if weight != weight:  # not a plain decimal: float()'s rules convert it afterwards
                    if waiting == pending.shape[0]:
                        pending = _grown(pending, 2 * waiting)
                        pending_start = _grown(pending_start, 2 * waiting)
                        pending_end = _grown(pending_end, 2 * waiting)
                    pending[waiting] = edges + batch
                    pending_start[waiting], pending_end[waiting] = field_start[2], field_end[2]
                    waiting += 1
                elif not (weight > 0.0 and weight < np.inf):
                    status = _FALLBACK
                    break
            if weighted:
                weights[edges + batch] = weight
            mask = np.uint64(table.shape[0] // 2 - 1)
            for f in range(2):
                j = 2 * batch + f
                starts[j], ends[j] = field_start[f], field_end[f]
                keys[j] = _label_key(data, starts[j], ends[j])
                hashes[j] = _label_hash(data, starts[j], ends[j], keys[j])
                prefetch(table, 2 * (hashes[j] & mask))
            batch += 1
        for j in range(2 * batch):  # number the labels in file order
            if labels + 1 > capacity:  # grow, keeping the table at most a quarter full
                capacity *= 2
                label_start = _grown(label_start, capacity)
                label_end = _grown(label_end, capacity)
                table = np.full(8 * capacity, -1, dtype=np.int64)
                _rehash(data, table, label_start, label_end, labels)
            mask = np.uint64(table.shape[0] // 2 - 1)
            known = _label_id(data, starts[j], ends[j], keys[j], hashes[j] & mask, table,
                              label_start, label_end, labels)
            if known == labels:
                label_start[labels], label_end[labels] = starts[j], ends[j]
                labels += 1
            if j % 2 == 0:
                u[edges + j // 2] = known
            else:
                v[edges + j // 2] = known
        edges += batch
    return (status, edges, labels, u, v, weights, label_start, label_end, weighted,
            pending[:waiting], pending_start[:waiting], pending_end[:waiting])


@jit
def _spans(data, starts, ends, width):
    """Return the byte spans as rows of a zero-padded ``(len(starts), width)`` byte array."""
    out = np.zeros((starts.shape[0], width), dtype=np.uint8)
    for k in range(starts.shape[0]):
        out[k, :ends[k] - starts[k]] = data[starts[k]:ends[k]]
    return out


@jit
def _undirected_csr(nodes, u, v, weights, weighted):
    """CSR of the entries u->v and (unless a self-loop) v->u of each edge, in file order per row.

    Returns ``(indptr, indices, entry weights)``; the entry weights are empty unless ``weighted``.
    """
    indptr = np.zeros(nodes + 1, dtype=np.int64)
    for k in range(u.shape[0]):
        indptr[u[k] + 1] += 1
        if u[k] != v[k]:
            indptr[v[k] + 1] += 1
    for node in range(nodes):
        indptr[node + 1] += indptr[node]
    fill = indptr[:-1].copy()
    indices = np.empty(indptr[nodes], dtype=np.int64)
    out = np.empty(indptr[nodes] if weighted else 0)
    for k in range(u.shape[0]):
        a, b = u[k], v[k]
        indices[fill[a]] = b
        if weighted:
            out[fill[a]] = weights[k]
        fill[a] += 1
        if a != b:
            indices[fill[b]] = a
            if weighted:
                out[fill[b]] = weights[k]
            fill[b] += 1
    return indptr, indices, out


def read_edgelist(path):
    """Read an edge list (format: module docstring).

    Parameters
    ----------
    path : path-like
        The edge-list file.

    Returns
    -------
    labels : numpy.ndarray of str
        Node labels in order of first appearance.
    indptr, indices : numpy.ndarray
        int64 CSR of the undirected graph.
    weights : numpy.ndarray or None
        float64 weight of each entry, or None when no line gives a weight.

    Raises
    ------
    ValueError
        On a malformed line (naming file and line), a non-UTF-8 file or one without edges.
    FileNotFoundError
        If the file does not exist.
    """
    name = os.fspath(path)
    data = np.fromfile(name, dtype=np.uint8)
    lines = int(np.count_nonzero(data == _NEWLINE)) + int(np.count_nonzero(data == _RETURN)) + 1
    index = np.int32 if lines < 2**30 else np.int64  # label numbers < 2 · lines
    u, v = np.empty(lines, dtype=index), np.empty(lines, dtype=index)
    (status, edges, count, u, v, weights, starts, ends, weighted,
     pending, pending_start, pending_end) = _scan(data, u, v, _POWERS)
    if status == 0 and pending.size:
        status = _convert_pending(data, weights, pending, pending_start, pending_end)
    if status == _FALLBACK or edges == 0:
        del data, u, v, weights
        return _read_python(name)
    width = int((ends[:count] - starts[:count]).max())
    _check_label_length(name, width)  # the labels' array holds every label at the longest's width
    labels = _spans(data, starts[:count], ends[:count], width).view(f"S{width}").ravel()
    labels = labels.astype(f"U{width}")  # ASCII bytes: decoding cannot fail
    del data, starts, ends
    indptr, indices, entry_weights = _undirected_csr(count, u[:edges], v[:edges], weights,
                                                     weighted)
    return labels, indptr, indices, entry_weights if weighted else None


def _convert_pending(data, weights, pending, starts, ends) -> int:
    """Convert the weights the scanner left to ``float()``'s rules (NumPy's parser); return status."""
    width = int((ends - starts).max())
    text = _spans(data, starts, ends, width).view(f"S{width}").ravel()
    try:
        values = text.astype(np.float64)
    except ValueError:
        return _FALLBACK
    if not np.all(np.isfinite(values) & (values > 0)):
        return _FALLBACK
    weights[pending] = values
    return 0


def _check_label_length(where: str, length: int) -> None:
    if length > MAX_LABEL:
        raise ValueError(f"{where}: a node label of {length} characters; labels may have at most "
                         f"{MAX_LABEL}")


def _read_python(name: str):
    """Read the file the defining way (module docstring): slow, exact, naming bad lines."""
    labels: dict[str, int] = {}
    sources, targets, weights = [], [], []
    weighted = False
    try:
        with open(name, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                fields = line.split("#", 1)[0].split()
                if not fields:
                    continue
                u, v, w = _parse_edge(fields, name, number)
                _check_label_length(f"{name} line {number}", max(len(u), len(v)))
                weighted |= len(fields) == 3
                iu = labels.setdefault(u, len(labels))
                iv = labels.setdefault(v, len(labels))
                sources.append(iu)
                targets.append(iv)
                weights.append(w)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name} is not a UTF-8 text edge list: {exc}") from None
    if not labels:
        raise ValueError(f"{name} holds no edges; write one edge per line as 'u v' or 'u v weight'")
    indptr, indices, entry_weights = _undirected_csr(
        len(labels), np.asarray(sources, dtype=np.int64), np.asarray(targets, dtype=np.int64),
        np.asarray(weights, dtype=np.float64), weighted)
    return np.asarray(list(labels)), indptr, indices, entry_weights if weighted else None


def _parse_edge(fields: list[str], name: str, number: int) -> tuple[str, str, float]:
    """Return (u, v, weight) of one edge-list line, or raise naming file and line."""
    if len(fields) not in (2, 3):
        raise ValueError(
            f"{name}, line {number}: expected 'u v' or 'u v weight', got {len(fields)} "
            f"field{'s' if len(fields) != 1 else ''}: {' '.join(fields)!r}"
        )
    if len(fields) == 2:
        return fields[0], fields[1], 1.0
    try:
        weight = float(fields[2])
    except ValueError:
        raise ValueError(f"{name}, line {number}: weight {fields[2]!r} is not a number") from None
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(
            f"{name}, line {number}: weight {fields[2]} of edge {fields[0]} - {fields[1]} must be "
            "positive and finite (drop the line instead of giving it weight 0)"
        )
    return fields[0], fields[1], weight
