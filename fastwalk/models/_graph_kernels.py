"""The graph walker's kernels: the step rule of :mod:`fastwalk.models.graph`, twice.

A CSR of at most :data:`STAGED_BYTES` is walked by :func:`_lanes_kernel`
(64 walkers per thread as SIMD lanes of their xoshiro states); a larger one
by :func:`_graph_kernel` (groups of 32 walkers in lockstep, each step cut into
phases that prefetch what the next reads). Both make the same draws in the
same order and pick the same entry, so trajectories are bit-identical across
the two, thread counts and walker splits (DESIGN.md, "Graphs that fit in
cache" and "Graphs larger than the cache").
"""

from __future__ import annotations

import numpy as np
from numba import prange

from fastwalk import rng
from fastwalk._jit import jit, pjit
from fastwalk.models._kernels import U as _U
from fastwalk.models._kernels import prefetch, select
from fastwalk.rng import _xoshiro


@jit
def _row_cumulative(indptr, weights):
    """Return the running sums of the weights within each row (the walker's search keys)."""
    out = np.empty_like(weights)
    for u in range(indptr.shape[0] - 1):
        total = 0.0
        for j in range(indptr[u], indptr[u + 1]):
            total += weights[j]
            out[j] = total
    return out


@jit
def _reach(indptr, indices, start):
    """Breadth-first search from ``start``: (reached mask, first edgeless node reached or -1)."""
    reached = np.zeros(indptr.shape[0] - 1, dtype=np.bool_)
    queue = np.empty(indptr.shape[0] - 1, dtype=np.int64)
    queue[0], reached[start], tail = start, True, 1
    for head in range(indptr.shape[0] - 1):
        if head == tail:
            break
        node = queue[head]
        if indptr[node] == indptr[node + 1]:
            return reached, node
        for j in range(indptr[node], indptr[node + 1]):
            if not reached[indices[j]]:
                reached[indices[j]] = True
                queue[tail] = indices[j]
                tail += 1
    return reached, -1


#: walkers each thread advances in lockstep on a graph larger than the cache
GROUP = 32
#: walkers each thread advances in lockstep on a graph that fits in the cache (SIMD lanes)
LANES = 64
#: CSR size (bytes) above which the walker prefetches (:func:`_graph_kernel`) instead of
#: running SIMD lanes (:func:`_lanes_kernel`). Measured on a Xeon with 2 MiB of L2 per core
#: and a large L3: lanes are faster up to ~16 MiB weighted and up to the L3 size unweighted;
#: prefetching pays once the reads go to DRAM.
STAGED_BYTES = 2**23
_U64 = np.uint64
_LOW32 = np.uint64(0xFFFFFFFF)
_INV53 = 1.0 / 9007199254740992.0


@jit(inline="always")
def _search(cumulative, low, high, target):
    """Return the first entry of row [low, high) whose running sum exceeds ``target``.

    ``high - 1`` when none does (``target`` rounded up to the strength). A
    branch-free binary search: the answer stays in [base, base + n - 1], the
    probe is never the last entry, and each halving is a conditional move.
    """
    base, n = low, high - low
    while n > 1:
        half = n >> 1
        base = select(cumulative[_U(base + half - 1)] <= target, base + half, base)
        n -= half
    return base


@jit(inline="always")
def _weighted_entry(s, cumulative, low, high):
    """Draw the entry of row [low, high) whose running weight sum first exceeds u·strength."""
    return _search(cumulative, low, high, rng.uniform(s) * cumulative[_U(high - 1)])


@jit(inline="always")
def _staged_step(first, group, nodes, states, counts, lazy, indptr, indices, cumulative,
                 weighted, accumulate, entry, low, high):
    """Advance walkers ``first .. first + group - 1`` one step, in phases that prefetch."""
    for g in range(group):  # row bounds (prefetched), lazy draw; weighted: prefetch the row
        w = first + g
        low[g] = indptr[_U(nodes[w])]
        high[g] = indptr[_U(nodes[w] + 1)]
        entry[g] = -1 if lazy > 0.0 and rng.uniform(states[w]) < lazy else -2
        if weighted and entry[g] == -2:
            prefetch(cumulative, low[g])
            prefetch(cumulative, high[g] - 1)
    for g in range(group):  # draw the entry, prefetch it
        if entry[g] == -2:
            s = states[first + g]
            if weighted:
                entry[g] = _weighted_entry(s, cumulative, low[g], high[g])
            else:
                entry[g] = low[g] + rng.integer(s, high[g] - low[g])
            prefetch(indices, entry[g])
    for g in range(group):  # move; prefetch the next row and the count
        w = first + g
        if entry[g] >= 0:
            nodes[w] = indices[_U(entry[g])]
        prefetch(indptr, nodes[w])
        if accumulate:
            prefetch(counts, nodes[w])


@pjit
def _graph_kernel(nodes, states, slices, reference_visits, steps, accumulate, lazy,
                  reference, indptr, indices, cumulative, weighted):
    """Advance every walker ``steps`` steps on a graph larger than the cache (module docstring).

    Walkers are split into ``len(slices)`` contiguous parts; part p counts
    visits into ``slices[p]``. A thread advances its walkers in groups of
    :data:`GROUP`, one step of every walker of the group at a time: each
    step of a walker waits on its memory reads (row, entry), and walkers of a
    group are independent, so the CPU overlaps their reads. The step is cut
    into phases that each prefetch what the next phase reads
    (:func:`_staged_step`), which keeps ~GROUP cache misses in flight instead
    of the few the CPU finds by itself. Each walker still draws from its own
    stream in the same order, so the trajectories do not depend on the
    grouping (nor on threads or splits). A graph that fits in the cache is
    walked by :func:`_lanes_kernel` (the same trajectories).
    """
    walkers = nodes.shape[0]
    nblocks = slices.shape[0]
    for part in prange(nblocks):
        counts = slices[part]
        entry = np.empty(GROUP, dtype=np.int64)  # the entry a walker moves through; -1: stays
        low = np.empty(GROUP, dtype=np.int64)
        high = np.empty(GROUP, dtype=np.int64)
        end = (part + 1) * walkers // nblocks
        for first in range(part * walkers // nblocks, end, GROUP):
            group = min(GROUP, end - first)
            for _ in range(steps):
                _staged_step(first, group, nodes, states, counts, lazy, indptr, indices,
                             cumulative, weighted, accumulate, entry, low, high)
                if accumulate:
                    for w in range(first, first + group):
                        counts[_U(nodes[w])] += 1
                        reference_visits[w] += nodes[w] == reference


@jit(inline="always")
def _draw_lanes(words, count, lazy):
    """Draw each lane's random bits for one step; return how many lanes stay (lazy).

    Lane i's xoshiro state is ``words[k * LANES + i]`` (k = 0..3); the bits
    its move uses go to ``words[4 * LANES + i]`` and whether it stays to
    ``words[5 * LANES + i]``. A lazy lane draws the stay test and, only when
    it moves, the move's bits (both are computed, one state kept), so a
    walker's draws are those of the rule in the module docstring.
    Branch-free, so the loop vectorises (xoshiro on 4 or 8 walkers at once).
    """
    stays = 0
    for i in range(count):
        bits, s0, s1, s2, s3 = _xoshiro(words[i], words[LANES + i], words[2 * LANES + i],
                                        words[3 * LANES + i])
        stay = _U64(0)
        if lazy > 0.0:
            stay = _U64(float(np.int64(bits >> _U64(11))) * _INV53 < lazy)
            moved, t0, t1, t2, t3 = _xoshiro(s0, s1, s2, s3)
            if stay == 0:
                bits, s0, s1, s2, s3 = moved, t0, t1, t2, t3
            stays += stay
        words[i], words[LANES + i], words[2 * LANES + i], words[3 * LANES + i] = s0, s1, s2, s3
        words[4 * LANES + i] = bits
        words[5 * LANES + i] = stay
    return stays


@jit(inline="always")
def _lane_entries(words, count, node, entry, indptr, cumulative, weighted):
    """Turn each lane's bits into the CSR entry it moves through (``entry[i]``).

    Unweighted: Lemire's multiply on the top 32 bits, as :func:`rng.integer`;
    the rare lane whose low product word falls below the bound (p < degree /
    2**32) is finished by the same rejection test, drawing on from its state.
    Weighted: u from the top 53 bits, as :func:`rng.uniform`, then
    :func:`_search`. A lane that stays gets an entry it does not use.
    """
    if weighted:
        for i in range(count):
            low, high = indptr[_U(node[i])], indptr[_U(node[i] + 1)]
            u = float(np.int64(words[4 * LANES + i] >> _U64(11))) * _INV53
            entry[i] = _search(cumulative, low, high, u * cumulative[_U(high - 1)])
        return
    low_words = 0
    for i in range(count):
        low, high = indptr[_U(node[i])], indptr[_U(node[i] + 1)]
        bound = _U64(high - low)
        product = (words[4 * LANES + i] >> _U64(32)) * bound
        entry[i] = low + np.int64(product >> _U64(32))
        low_words += (product & _LOW32) < bound
    if low_words == 0:
        return
    for i in range(count):
        low, high = indptr[_U(node[i])], indptr[_U(node[i] + 1)]
        bound = _U64(high - low)
        product = (words[4 * LANES + i] >> _U64(32)) * bound
        if (product & _LOW32) < bound and words[5 * LANES + i] == 0:
            threshold = (_U64(0x100000000) - bound) % bound
            while (product & _LOW32) < threshold:
                bits, s0, s1, s2, s3 = _xoshiro(words[i], words[LANES + i],
                                                words[2 * LANES + i], words[3 * LANES + i])
                words[i], words[LANES + i] = s0, s1
                words[2 * LANES + i], words[3 * LANES + i] = s2, s3
                product = (bits >> _U64(32)) * bound
            entry[i] = low + np.int64(product >> _U64(32))


@pjit
def _lanes_kernel(nodes, states, slices, reference_visits, steps, accumulate, lazy,
                  reference, indptr, indices, cumulative, weighted):
    """:func:`_graph_kernel` for a graph that fits in the cache: walkers in SIMD lanes.

    A thread holds :data:`LANES` walkers' xoshiro states side by side
    (:func:`_draw_lanes`), so LLVM vectorises the generator across walkers;
    each step is three loops over the lanes (draw, entry, move and count)
    whose iterations are independent, so the CPU overlaps the lanes' reads.
    Every walker makes the draws of the rule in the module docstring, in the
    same order, and moves to the same neighbour: the trajectories are those
    of :func:`_graph_kernel`, bit for bit. (Rows here have fewer than 2**32
    entries, the range of the 32-bit multiply, since the CSR is small.)
    """
    walkers = nodes.shape[0]
    nblocks = slices.shape[0]
    for part in prange(nblocks):
        counts = slices[part]
        words = np.zeros(6 * LANES, dtype=np.uint64)
        node = np.empty(LANES, dtype=np.int64)
        entry = np.empty(LANES, dtype=np.int64)
        visits = np.empty(LANES, dtype=np.int64)
        end = (part + 1) * walkers // nblocks
        for first in range(part * walkers // nblocks, end, LANES):
            count = min(LANES, end - first)
            for i in range(count):
                s = states[first + i]
                words[i], words[LANES + i] = s.s0, s.s1
                words[2 * LANES + i], words[3 * LANES + i] = s.s2, s.s3
                node[i] = nodes[first + i]
                visits[i] = 0
            for _ in range(steps):
                stays = _draw_lanes(words, count, lazy)
                _lane_entries(words, count, node, entry, indptr, cumulative, weighted)
                if stays:
                    for i in range(count):
                        if words[5 * LANES + i] == 0:
                            node[i] = indices[_U(entry[i])]
                else:
                    for i in range(count):
                        node[i] = indices[_U(entry[i])]
                if accumulate:
                    for i in range(count):
                        counts[_U(node[i])] += 1
                        visits[i] += node[i] == reference
            for i in range(count):
                s = states[first + i]
                s.s0, s.s1 = words[i], words[LANES + i]
                s.s2, s.s3 = words[2 * LANES + i], words[3 * LANES + i]
                nodes[first + i] = node[i]
                if accumulate:
                    reference_visits[first + i] += visits[i]
