"""Simple random walk on a crossing's lattice, with no adjacency stored.

The lattice and its node numbering are those of
:class:`fastwalk.crossing.LatticeLayout`: each walker's state is one node
index; the kernel decodes it once per call into lattice coordinates and a
*block* (the node's zero pattern on the pinned axes, which fixes its
available axes and degree), then steps arithmetically:

- at a node of degree 2|A| it draws ``i = integer(2|A|)`` and moves ``+1``
  (i even) or ``-1`` (i odd) along axis ``A[i // 2]``, periodic in L;
- while the move keeps the block (a pinned coordinate neither leaves nor
  reaches 0) the node index changes by ± the axis' mixed-radix stride;
  otherwise the new block is looked up from the new zero pattern and the
  index recomputed (O(D), on a fraction ~1/L of steps).

Crossings of lines (every subspace has one free axis, as in the original notebook's K
cycles glued at one point) use a specialised kernel that keeps the walker's
line and coordinate in registers; it makes the same draws and uses the same
numbering, so its trajectories are those of the general kernel.

A lazy walk first draws ``uniform() < lazy`` each step and stays on success.
The same draws in the same order are made by
:class:`fastwalk.models.graph.GraphWalk` on ``crossing.to_csr(L)``, so both
produce bit-identical trajectories.

Memory is O(walkers + nodes): the node of each walker, its visits of the
center, and the visit counts, kept as one slice per walker part (the numba
thread count when the state is built): part p counts its walkers' visits in
its own slice, so threads never write to the same memory, and the slices are
summed when counts are read (integer sums: the totals do not depend on the
thread count or the split).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from fastwalk import rng, validate
from fastwalk._jit import jit, pjit
from fastwalk.crossing import Crossing, LatticeLayout
from fastwalk.models._kernels import U as _U
from fastwalk.models.base import Model
from fastwalk.models.node_walk import MAX_RECORDED_NODES, NodeWalkRecords

__all__ = ["LatticeWalk", "MAX_NODES", "MAX_RECORDED_NODES", "MAX_STORED_COORDS"]

#: largest lattice accepted (visit counts take 8 bytes per node, per thread)
MAX_NODES = 200_000_000
#: ``lattice/coords`` is stored in /parameters up to this many nodes
MAX_STORED_COORDS = 1_000_000


# Row layout of the packed per-block table (see _pack_tables); D = dimension.
_DEGREE, _OFFSET, _SLOTS = 0, 1, 2  # slot axes at 2 .. 2+2D, leave flags at 2+2D .. 2+4D


def _row_width(dim: int) -> int:
    return 2 + 7 * dim  # degree, offset, 2D slot axes, 2D leave flags, D strides, D radices, D pins


def _pack_tables(layout: LatticeLayout) -> tuple[np.ndarray, int]:
    """Pack a layout's block tables into one flat int64 array (few pointers for the kernel).

    Row b holds: degree, first node, the axis of each neighbour slot, whether a
    move through the slot always leaves the block (the axis is one of the
    block's zero axes), then the mixed-radix strides, radices and pinned flags.
    """
    dim = layout.crossing.dim
    width = _row_width(dim)
    table = np.zeros((layout.block_mask.size, width), dtype=np.int64)
    table[:, _DEGREE] = layout.block_degree
    table[:, _OFFSET] = layout.block_offset[:-1]
    for b, degree in enumerate(layout.block_degree.tolist()):
        slots = np.arange(degree)
        axes = layout.block_axes[b, slots >> 1]
        table[b, _SLOTS + slots] = axes
        table[b, _SLOTS + 2 * dim + slots] = (layout.block_mask[b] & layout.axis_bit[axes]) != 0
    table[:, 2 + 4 * dim : 2 + 5 * dim] = layout.block_stride
    table[:, 2 + 5 * dim : 2 + 6 * dim] = layout.block_radix
    table[:, 2 + 6 * dim : 2 + 7 * dim] = layout.axis_pinned
    return table.ravel(), width


def _is_lines(crossing: Crossing) -> bool:
    """Whether every subspace is a line (one free axis): K cycles glued at the center."""
    return all(len(crossing.free(k)) == 1 for k in range(crossing.count))


@jit(inline="always")
def _decode(node, coords, table, width, blocks):
    """Write ``node``'s coordinates into ``coords``; return its block."""
    dim = coords.shape[0]
    block = 0
    while block + 1 < blocks and table[_U((block + 1) * width + _OFFSET)] <= node:
        block += 1
    base = block * width
    rank = node - table[_U(base + _OFFSET)]
    for a in range(dim):
        radix = table[_U(base + 2 + 5 * dim + a)]
        digit = rank % radix
        rank //= radix
        coords[a] = 0 if radix == 1 else digit + table[_U(base + 2 + 6 * dim + a)]
    return block


@pjit
def _walk_kernel(nodes, states, slices, center_visits, steps, accumulate, lazy,
                 center, length, table, width, blocks, axis_bit, block_of_mask):
    """Advance every walker ``steps`` steps on any crossing (module docstring).

    Walkers are split into ``len(slices)`` contiguous parts; part p counts
    visits into ``slices[p]``.
    """
    walkers = nodes.shape[0]
    dim = axis_bit.shape[0]
    nblocks = slices.shape[0]
    for part in prange(nblocks):
        coords = np.empty(dim, dtype=np.int64)
        counts = slices[part]
        for w in range(part * walkers // nblocks, (part + 1) * walkers // nblocks):
            s = states[w]
            node = nodes[w]
            block = _decode(node, coords, table, width, blocks)
            mask = 0
            for a in range(dim):
                if coords[a] == 0:
                    mask |= axis_bit[a]
            base = block * width
            visits = 0
            for _ in range(steps):
                if not (lazy > 0.0 and rng.uniform(s) < lazy):
                    i = rng.integer(s, table[_U(base + _DEGREE)])
                    a = table[_U(base + _SLOTS + i)]
                    x = coords[_U(a)]
                    xn = x + 1 - 2 * (i & 1)
                    # rare: the move leaves the block, or crosses 0 on any axis
                    if (table[_U(base + _SLOTS + 2 * dim + i)] != 0) | (xn <= 0) | (xn >= length):
                        if xn < 0:
                            xn += length
                        elif xn == length:
                            xn = 0
                        coords[_U(a)] = xn
                        if (x == 0) | (xn == 0):
                            mask ^= axis_bit[_U(a)]
                        block = block_of_mask[_U(mask)]
                        base = block * width
                        node = table[_U(base + _OFFSET)]
                        for j in range(dim):
                            node += ((coords[j] - table[_U(base + 2 + 6 * dim + j)])
                                     * table[_U(base + 2 + 4 * dim + j)])
                    else:
                        coords[_U(a)] = xn
                        node += (xn - x) * table[_U(base + 2 + 4 * dim + a)]
                if accumulate:
                    counts[_U(node)] += 1
                    visits += node == center
            nodes[w] = node
            if accumulate:
                center_visits[w] += visits


@pjit
def _lines_kernel(nodes, states, slices, center_visits, steps, accumulate, lazy,
                  length, lines):
    """:func:`_walk_kernel` specialised to K lines glued at the center (node 0).

    Node ``1 + r (L - 1) + (x - 1)`` is coordinate x in 1..L-1 of the r-th line
    (lines in ascending order of their free axis); the center's neighbour i is
    line ``i // 2`` at x = 1 (i even) or x = L - 1 (i odd). The same draws and
    the same numbering as the general kernel, so the trajectories are identical.
    """
    walkers = nodes.shape[0]
    span = length - 1
    nblocks = slices.shape[0]
    for part in prange(nblocks):
        counts = slices[part]
        for w in range(part * walkers // nblocks, (part + 1) * walkers // nblocks):
            s = states[w]
            node = nodes[w]
            first = 0  # on a line, node = first + x
            x = 0
            if node != 0:
                first = (node - 1) // span * span
                x = node - first
            visits = 0
            for _ in range(steps):
                if not (lazy > 0.0 and rng.uniform(s) < lazy):
                    if node == 0:
                        i = rng.integer(s, 2 * lines)
                        first = (i >> 1) * span
                        x = 1 + (i & 1) * (length - 2)
                    else:
                        x += 1 - 2 * (rng.integer(s, 2) & 1)
                    node = 0 if (x == 0) | (x == length) else first + x
                if accumulate:
                    counts[_U(node)] += 1
                    visits += node == 0
            nodes[w] = node
            if accumulate:
                center_visits[w] += visits


class LatticeWalk(NodeWalkRecords, Model):
    """Simple (optionally lazy) random walk on a crossing's lattice.

    Parameters
    ----------
    crossing : fastwalk.crossing.Crossing
        The subspaces (e.g. ``Crossing.lines(3)``).
    length : int
        Lattice length L (>= 3); coordinates run over 0..L-1, the center at 0.
    lazy : float, optional
        Probability in [0, 1) of staying put at each step.
    start : int or sequence of int, optional
        Start node index, or the start's D lattice coordinates; default the
        center (node 0). All walkers start there.

    Attributes
    ----------
    nodes : int
        Number of lattice nodes.
    center : int
        The center's node index (0).
    start : int
        The start node index.

    Notes
    -----
    State keys: ``rng``, ``node`` (int64 [N]), ``visit_slices`` (int64
    [parts][≥ nodes], visits after each counted step, one row per walker part;
    :meth:`~fastwalk.models.base.Model.accumulators` sums them into ``visit_counts``) and
    ``walker_center_visits`` (int64 [N], each walker's own visits of the
    center, from which the center/other ratio's standard error is computed
    across independent walkers). Burn-in steps (``accumulate=False``) move
    walkers but count nothing.

    ``visit_counts`` is recorded as an observable at every record when the
    lattice has at most :data:`~fastwalk.models.node_walk.MAX_RECORDED_NODES` nodes; larger lattices keep
    only the final counts (in :meth:`~fastwalk.models.base.Model.accumulators`) so files stay bounded.
    ``lattice/coords`` is stored in /parameters up to
    :data:`~fastwalk.models.lattice.MAX_STORED_COORDS` nodes (larger ones would take ``8 D`` bytes a
    node); :meth:`~fastwalk.LatticeWalk.coords` recomputes them from ``crossing`` and ``length``.

    Examples
    --------
    >>> import fastwalk as fw
    >>> walk = fw.LatticeWalk(fw.Crossing.lines(3), length=9)
    >>> walk.nodes                    # 3 cycles of 9 nodes sharing the center
    25
    >>> run = fw.simulate(walk, walkers=200, steps=2000, seed=1)
    >>> run.accumulators["visit_counts"].shape
    (25,)
    """

    kind = "lattice"
    frame_name = "node"
    picture = "fastwalk.analysis.walk_plots:lattice_run_figure"

    def __init__(self, crossing: Crossing, length: int, lazy: float = 0.0, start=None):
        if not isinstance(crossing, Crossing):
            raise TypeError(
                f"crossing must be a fastwalk.crossing.Crossing, got {type(crossing).__name__}; "
                "build one with Crossing(dim, pins) or a preset such as Crossing.lines(3)"
            )
        self.crossing = crossing
        self.length = validate.integer("lattice length L", length, minimum=3)
        self.lazy = validate.probability("lazy", lazy)
        self.layout: LatticeLayout = crossing.layout(self.length)
        if self.layout.nodes > MAX_NODES:
            raise ValueError(
                f"the lattice has {self.layout.nodes} nodes, more than the {MAX_NODES} whose "
                "visit counts fit in memory; use a smaller L"
            )
        self.nodes = self.layout.nodes
        self.center = self.layout.center
        self.start = self._resolve_start(start)
        self._coords = None
        self._table, self._width = _pack_tables(self.layout)
        self._lines = _is_lines(crossing)

    def _resolve_start(self, start) -> int:
        if start is None:
            return self.center
        if isinstance(start, (list, tuple, np.ndarray)):
            point = np.asarray(start)
            if point.shape != (self.crossing.dim,) or point.dtype.kind not in "iu":
                raise ValueError(
                    f"start coordinates must be {self.crossing.dim} integers, got {start!r}"
                )
            return int(self.layout.index(point))
        return validate.integer("start node", start, minimum=0, maximum=self.nodes - 1)

    # ------------------------------------------------------------------ description
    @property
    def dt(self) -> float:
        """One step per unit time."""
        return 1.0

    def parameters(self) -> dict:
        """Return the resolved parameters (crossing, L, lazy, start, node count)."""
        return {
            "kind": self.kind,
            "crossing": self.crossing.to_dict(),
            "length": self.length,
            "lazy": self.lazy,
            "start": self.start,
            "nodes": self.nodes,
        }

    def parameter_arrays(self) -> dict:
        """Return ``lattice/coords`` ([nodes][D] int64) when the lattice is small enough."""
        if self.nodes > MAX_STORED_COORDS:
            return {}
        return {"lattice/coords": self.coords()}

    @classmethod
    def examples(cls) -> list[LatticeWalk]:
        """Return a small crossing (see :meth:`Model.examples`)."""
        return [cls(Crossing.lines(2), 5)]

    @classmethod
    def from_parameters(cls, parameters: dict, arrays: dict) -> LatticeWalk:
        """Rebuild from :meth:`parameters` (the stored coordinates are derived data)."""
        return cls(Crossing.from_dict(parameters["crossing"]), parameters["length"],
                   lazy=parameters["lazy"], start=parameters["start"])

    def box(self) -> dict:
        """Describe the periodic H5MD box of side L."""
        return {"dimension": self.crossing.dim, "boundary": "periodic",
                "edges": [float(self.length)] * self.crossing.dim}

    def coords(self) -> np.ndarray:
        """Return every node's lattice coordinates, ``[nodes][D]`` int64 (computed once)."""
        if self._coords is None:
            self._coords = self.layout.coords()
            self._coords.flags.writeable = False
        return self._coords

    def stationary_law(self) -> tuple[np.ndarray, str]:
        """Return the exact stationary law, proportional to degree, and its name."""
        degrees = self.degrees().astype(np.float64)
        return degrees / degrees.sum(), "degree-proportional (crossing lattice)"

    def periodic_classes(self) -> tuple[int, np.ndarray | None]:
        """Return the non-lazy walk's period (2 for even L, else 1) and parity classes."""
        if self.length % 2:
            return 1, None
        return 2, self.layout.parities().astype(np.int64)

    def mixing_steps(self) -> tuple[int, str]:
        """Return (L², "L²"): fewer steps than this leave walkers unmixed."""
        return self.length**2, "L²"

    def degrees(self) -> np.ndarray:
        """Return every node's degree, ``[nodes]`` int64."""
        return self.layout.degrees()

    # ------------------------------------------------------------------ dynamics
    def advance(self, state: dict, first_step: int, steps: int, accumulate: bool) -> None:
        """Advance every walker ``steps`` steps; count visits when ``accumulate``."""
        steps = validate.integer("steps", steps, minimum=0)
        if self._lines:
            _lines_kernel(state["node"], state["rng"], state["visit_slices"],
                          state["walker_center_visits"], steps, bool(accumulate), self.lazy,
                          self.length, self.crossing.count)
        else:
            _walk_kernel(state["node"], state["rng"], state["visit_slices"],
                         state["walker_center_visits"], steps, bool(accumulate), self.lazy,
                         self.center, self.length, self._table, self._width,
                         self.layout.block_mask.size, self.layout.axis_bit,
                         self.layout.block_of_mask)

