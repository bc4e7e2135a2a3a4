"""Crossings: unions of coordinate subspaces of the D-torus through one center.

Subspace k pins the coordinates in a set S_k to the center; the others are
free. The same :class:`Crossing` defines the lattice model (the points of
(Z_L)^D on the crossing) and the potential model
U(x) = a · min_k Σ_{j∈S_k} (x_j − b_j)².

Presets:

- :meth:`~fastwalk.Crossing.lines` — the original notebook's experiment: K lines in K dimensions,
  S_k = every axis but k;
- :meth:`~fastwalk.Crossing.hyperplanes` — K hyperplanes x_k = b_k in D ≥ K dimensions;
- :meth:`~fastwalk.Crossing.planes_meeting_in_line` — the planes x_0 = b_0 and
  x_1 = b_1 in 3-D, which share the line along axis 2.

The lattice
-----------
For a lattice length L >= 3 the crossing's lattice is the set of points of
(Z_L)^D lying on at least one subspace, with coordinates in 0..L-1 and the
center at 0 on every axis, joined by nearest-neighbour edges (the induced
subgraph, which is exactly the sublattices glued along their intersections).
:meth:`~fastwalk.Crossing.layout` numbers its nodes arithmetically, without storing
any adjacency:

- Let P be the set of axes pinned by some subspace. A node's *zero pattern*
  Z is the set of axes of P on which its coordinate is 0; it decides which
  subspaces hold the node (those with S_k ⊆ Z), hence its neighbours.
- Nodes are grouped into *blocks*, one per zero pattern that lies on the
  crossing. Inside a block every axis of Z is 0, every other axis of P runs
  over 1..L-1 and every axis outside P over 0..L-1, so a block is a product
  set and a node's rank in it is a mixed-radix number (lowest axis fastest).
- Blocks are ordered by decreasing size of Z, then by decreasing bit mask of
  Z (bit i is the i-th axis of P). The first block is Z = P, whose first node
  is the center: **the center is node 0**. For the original notebook's K lines this gives
  node 0 = center, then line 0's nodes x_0 = 1..L-1, then line 1's, ...
- At a node whose subspaces have free axes A (sorted), the neighbours are,
  in this order, ``+1`` then ``-1`` along A[0], then along A[1], ...: the
  degree is 2|A| (L >= 3 keeps the two directions distinct). The implicit
  walker picks neighbour ``i = integer(degree)`` in this order and
  :meth:`~fastwalk.crossing.LatticeLayout.to_csr` stores the same order, so both walkers follow
  bit-identical trajectories from the same seed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fastwalk import validate

__all__ = ["Crossing", "LatticeLayout", "parse_pin", "CENTRE_NODE", "MAX_PINNED_AXES"]

#: node index of the crossing's center in every lattice layout
CENTRE_NODE = 0
#: most distinct pinned axes a lattice layout supports (its tables hold 2**|P| entries)
MAX_PINNED_AXES = 20
#: most blocks (zero patterns on the crossing) a lattice layout supports
_MAX_BLOCKS = 1 << 16


def parse_pin(text: str) -> tuple[int, ...]:
    """Parse a ``--pin`` value such as ``"0,2"`` into pinned coordinates.

    Parameters
    ----------
    text : str
        Comma-separated coordinate indices.

    Returns
    -------
    tuple of int
        The indices, in the order given.
    """
    parts = [p.strip() for p in str(text).split(",")]
    if not all(parts):
        raise ValueError(
            f"--pin needs comma-separated coordinate indices such as 0,2; got {text!r}"
        )
    try:
        coords = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"--pin needs comma-separated integer coordinate indices such as 0,2; got {text!r}"
        ) from None
    if len(set(coords)) != len(coords):
        raise ValueError(f"--pin {text!r} names a coordinate twice; name each once, e.g. 0,2")
    return coords


@dataclass(frozen=True)
class Crossing:
    """K coordinate subspaces of the D-torus meeting at one center.

    Parameters
    ----------
    dim : int
        Dimension D of the torus (>= 1).
    pins : sequence of sequence of int
        For each subspace, the coordinates it pins (each in 0..D-1, at least
        one). A subspace may pin every coordinate (an isolated point: the
        potential model's regular quadratic minimum); the lattice needs a free
        coordinate in each. Duplicated subspaces are refused.

    Examples
    --------
    >>> import fastwalk as fw
    >>> crossing = fw.Crossing.lines(3)
    >>> crossing.count, crossing.dim
    (3, 3)
    >>> crossing.degrees(9)[:3]      # the center has 2K neighbours, the others 2
    array([6, 2, 2])
    """

    dim: int
    pins: tuple[tuple[int, ...], ...]

    def __init__(self, dim: int, pins: Iterable[Iterable[int]]):
        dim = validate.integer("dimension D", dim, minimum=1)
        cleaned, seen = [], set()
        for k, subspace in enumerate(pins):
            coords = tuple(sorted({validate.integer(f"pinned coordinate of subspace {k}", c)
                                   for c in subspace}))
            for c in coords:
                if not 0 <= c < dim:
                    raise ValueError(
                        f"subspace {k} pins coordinate {c}, outside 0..{dim - 1}; "
                        f"pin coordinates between 0 and D-1 = {dim - 1}"
                    )
            if not coords:
                raise ValueError(f"subspace {k} pins no coordinate; pin at least one")
            if coords in seen:
                raise ValueError(
                    f"subspace {k} repeats pins {list(coords)}; give each subspace once"
                )
            cleaned.append(coords)
            seen.add(coords)
        if not cleaned:
            raise ValueError("a crossing needs at least one subspace (K >= 1)")
        object.__setattr__(self, "dim", dim)
        object.__setattr__(self, "pins", tuple(cleaned))

    # ------------------------------------------------------------------ presets
    @classmethod
    def lines(cls, count: int) -> Crossing:
        """Return the original notebook's crossing: ``count`` lines of a ``count``-torus at one point.

        For ``count = 1`` this is a single cycle (D = 2 with axis 1 pinned is
        not needed: one line in one dimension is the whole 1-torus, so the
        preset uses D = 2, S_0 = {1}).
        """
        count = validate.integer("K (number of lines)", count, minimum=1)
        if count == 1:
            return cls(2, [(1,)])
        return cls(count, [tuple(j for j in range(count) if j != k) for k in range(count)])

    @classmethod
    def hyperplanes(cls, count: int, dim: int | None = None) -> Crossing:
        """Return ``count`` hyperplanes x_k = b_k in ``dim`` dimensions (default ``count``)."""
        count = validate.integer("K (number of hyperplanes)", count, minimum=1)
        dim = max(count, 2) if dim is None else validate.integer("dimension D", dim, minimum=count)
        return cls(dim, [(k,) for k in range(count)])

    @classmethod
    def planes_meeting_in_line(cls) -> Crossing:
        """Return the planes x_0 = b_0 and x_1 = b_1 in 3-D (they share axis 2)."""
        return cls(3, [(0,), (1,)])

    # ------------------------------------------------------------------ views
    @property
    def count(self) -> int:
        """Number of subspaces K."""
        return len(self.pins)

    def free(self, k: int) -> tuple[int, ...]:
        """Return the free coordinates of subspace ``k``."""
        return tuple(j for j in range(self.dim) if j not in self.pins[k])

    def pinned_mask(self) -> np.ndarray:
        """Return a ``(K, D)`` bool array, True where subspace k pins coordinate j."""
        mask = np.zeros((self.count, self.dim), dtype=np.bool_)
        for k, coords in enumerate(self.pins):
            mask[k, list(coords)] = True
        return mask

    def to_dict(self) -> dict:
        """Return a JSON-able description (``dim`` and ``pins``)."""
        return {"dim": self.dim, "pins": [list(p) for p in self.pins]}

    @classmethod
    def from_dict(cls, data: dict) -> Crossing:
        """Rebuild from :meth:`to_dict`."""
        return cls(data["dim"], data["pins"])

    @classmethod
    def from_options(cls, lines: int | None, dim: int | None, pins: Sequence[str]) -> Crossing:
        """Build from the CLI's ``--lines K`` or ``--dim D --pin SPEC ...``.

        Parameters
        ----------
        lines : int or None
            The original notebook's K lines.
        dim : int or None
            Torus dimension for ``--pin``.
        pins : sequence of str
            ``--pin`` values such as ``"0,2"``.

        Returns
        -------
        Crossing
            The crossing.
        """
        if lines is not None and (pins or dim is not None):
            raise ValueError("give either --lines K or --dim D with --pin SPEC, not both")
        if lines is not None:
            return cls.lines(lines)
        if dim is None or not pins:
            raise ValueError("give --lines K, or --dim D with one --pin SPEC per subspace")
        return cls(dim, [parse_pin(p) for p in pins])

    # ------------------------------------------------------------------ lattice
    def layout(self, length: int) -> LatticeLayout:
        """Return the node numbering of this crossing's lattice of length ``length``.

        Parameters
        ----------
        length : int
            Lattice length L (>= 3): every axis is the cycle Z_L.

        Returns
        -------
        LatticeLayout
            Node index <-> coordinates arithmetic, degrees and the explicit
            graph (cached per crossing and length).

        Raises
        ------
        ValueError
            If L < 3, or the crossing pins more than :data:`~fastwalk.crossing.MAX_PINNED_AXES`
            distinct axes.
        """
        return _layout(self, validate.integer("lattice length L", length, minimum=3))

    def node_count(self, length: int) -> int:
        """Return the number of lattice points on the crossing for length ``length``."""
        return self.layout(length).nodes

    def node_coords(self, length: int, nodes=None) -> np.ndarray:
        """Return the lattice coordinates of ``nodes`` (default: all), ``[n][D]`` int64."""
        return self.layout(length).coords(nodes)

    def node_index(self, coords, length: int) -> np.ndarray:
        """Return the node indices of lattice points ``coords`` (``[..., D]``)."""
        return self.layout(length).index(coords)

    def degrees(self, length: int) -> np.ndarray:
        """Return every node's degree (number of lattice neighbours on the crossing)."""
        return self.layout(length).degrees()

    def to_csr(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the lattice as an explicit graph ``(indptr, indices)``.

        Each node's neighbours are listed in the implicit walker's order
        (see :mod:`fastwalk.crossing`), so a graph walker on this CSR follows the same
        trajectories as :class:`fastwalk.models.lattice.LatticeWalk`.

        Parameters
        ----------
        length : int
            Lattice length L (>= 3).

        Returns
        -------
        indptr, indices : numpy.ndarray
            int64 CSR arrays (``nodes + 1`` and ``sum(degrees)`` entries).
        """
        return self.layout(length).to_csr()


@functools.lru_cache(maxsize=16)
def _layout(crossing: Crossing, length: int) -> LatticeLayout:
    return LatticeLayout(crossing, length)


class LatticeLayout:
    """Arithmetic node numbering of a crossing's lattice (see the module docstring).

    Build it with :meth:`~fastwalk.Crossing.layout`. The block tables below are what the
    implicit walker's kernel reads; they hold O(blocks × D) numbers, never
    O(nodes).

    Parameters
    ----------
    crossing : Crossing
        The subspaces.
    length : int
        Lattice length L (>= 3).

    Attributes
    ----------
    crossing : Crossing
        The subspaces.
    length : int
        L.
    nodes : int
        Number of lattice points on the crossing.
    center : int
        The center's node index (always ``CENTRE_NODE`` = 0).
    pinned_axes : tuple of int
        P, the axes some subspace pins, ascending (bit i of a mask is P[i]).
    axis_bit : numpy.ndarray
        ``[D]`` int64: ``1 << i`` for axis P[i], 0 for unpinned axes.
    axis_pinned : numpy.ndarray
        ``[D]`` int64: 1 for axes in P, else 0 (the digit of a P axis is x - 1).
    block_mask : numpy.ndarray
        ``[B]`` int64 zero pattern of each block.
    block_of_mask : numpy.ndarray
        ``[2**|P|]`` int64 block of each zero pattern, -1 off the crossing.
    block_offset : numpy.ndarray
        ``[B + 1]`` int64 first node of each block (and the node count).
    block_radix, block_stride : numpy.ndarray
        ``[B][D]`` int64 mixed-radix digits' ranges and weights (1 and 0 on
        the block's zero axes).
    block_degree : numpy.ndarray
        ``[B]`` int64 degree of the block's nodes.
    block_axes : numpy.ndarray
        ``[B][D]`` int64 the block's available axes, ascending, padded with -1.
    """

    def __init__(self, crossing: Crossing, length: int):
        if not isinstance(crossing, Crossing):
            raise TypeError(f"crossing must be a Crossing, got {type(crossing).__name__}")
        self.crossing = crossing
        self.length = validate.integer("lattice length L", length, minimum=3)
        self.center = CENTRE_NODE
        dim = crossing.dim
        pinned = sorted(set().union(*crossing.pins))
        if len(pinned) > MAX_PINNED_AXES:
            raise ValueError(
                f"the crossing pins {len(pinned)} distinct axes; the lattice walker supports "
                f"at most {MAX_PINNED_AXES}"
            )
        for k, pins in enumerate(crossing.pins):
            if len(pins) == dim:
                raise ValueError(
                    f"subspace {k} pins all {dim} coordinates and has no free coordinate; "
                    "a lattice needs at least one unpinned coordinate per subspace"
                )
        self.pinned_axes = tuple(pinned)
        bit_of = {axis: 1 << i for i, axis in enumerate(pinned)}
        self.axis_bit = np.array([bit_of.get(a, 0) for a in range(dim)], dtype=np.int64)
        self.axis_pinned = (self.axis_bit != 0).astype(np.int64)
        subspace_masks = [sum(bit_of[a] for a in pins) for pins in crossing.pins]
        self._build_blocks(subspace_masks)

    def _build_blocks(self, subspace_masks: list[int]) -> None:
        dim, length, crossing = self.crossing.dim, self.length, self.crossing
        masks = np.arange(1 << len(self.pinned_axes), dtype=np.int64)
        on_crossing = np.zeros(masks.shape, dtype=np.bool_)
        for sub in subspace_masks:
            on_crossing |= (masks & sub) == sub
        valid = masks[on_crossing]
        if valid.size > _MAX_BLOCKS:
            raise ValueError(
                f"the crossing's lattice has {valid.size} zero patterns (blocks); "
                f"at most {_MAX_BLOCKS} are supported"
            )
        popcount = sum((valid >> i) & 1 for i in range(len(self.pinned_axes)))
        order = np.lexsort((-valid, -popcount))
        self.block_mask = valid[order]
        blocks = self.block_mask.size
        self.block_of_mask = np.full(masks.size, -1, dtype=np.int64)
        self.block_of_mask[self.block_mask] = np.arange(blocks)
        self.block_radix = np.ones((blocks, dim), dtype=np.int64)
        self.block_stride = np.zeros((blocks, dim), dtype=np.int64)
        self.block_axes = np.full((blocks, dim), -1, dtype=np.int64)
        self.block_degree = np.zeros(blocks, dtype=np.int64)
        sizes = []
        free_sets = [set(crossing.free(k)) for k in range(crossing.count)]
        for b, zero in enumerate(self.block_mask.tolist()):
            available = set()
            for sub, free in zip(subspace_masks, free_sets, strict=True):
                if sub & ~zero == 0:
                    available |= free
            axes = sorted(available)
            self.block_axes[b, : len(axes)] = axes
            self.block_degree[b] = 2 * len(axes)
            size = 1  # Python int: no overflow while counting
            for a in range(dim):
                bit = int(self.axis_bit[a])
                if bit and zero & bit:
                    continue  # a zero axis: one value, no digit
                radix = length - 1 if bit else length
                self.block_radix[b, a] = radix
                self.block_stride[b, a] = size if size < 2**62 else 0
                size *= radix
            sizes.append(size)
        total = sum(sizes)
        if total >= 2**62:
            raise ValueError(
                f"the crossing's lattice with L = {length} has {total} nodes, more than "
                "int64 indices allow; use a smaller L"
            )
        self.block_size = np.array(sizes, dtype=np.int64)
        self.block_offset = np.zeros(blocks + 1, dtype=np.int64)
        np.cumsum(self.block_size, out=self.block_offset[1:])
        self.nodes = total

    # ------------------------------------------------------------------ numbering
    def coords(self, nodes=None) -> np.ndarray:
        """Return the lattice coordinates of ``nodes``.

        Parameters
        ----------
        nodes : array_like of int, optional
            Node indices in 0..nodes-1; default all nodes in order.

        Returns
        -------
        numpy.ndarray
            ``[n][D]`` int64 coordinates in 0..L-1 (the center is all zeros).
        """
        if nodes is None:
            nodes = np.arange(self.nodes, dtype=np.int64)
        else:
            nodes = np.asarray(nodes)
            if nodes.dtype.kind not in "iu":
                raise TypeError(f"nodes must be integers, got dtype {nodes.dtype}")
            nodes = nodes.astype(np.int64).ravel()
            if nodes.size and (nodes.min() < 0 or nodes.max() >= self.nodes):
                bad = nodes[(nodes < 0) | (nodes >= self.nodes)][0]
                raise ValueError(f"node {bad} is outside 0..{self.nodes - 1}")
        block = np.searchsorted(self.block_offset, nodes, side="right") - 1
        rank = nodes - self.block_offset[block]
        out = np.empty((nodes.size, self.crossing.dim), dtype=np.int64)
        for a in range(self.crossing.dim):
            radix = self.block_radix[block, a]
            digit = rank % radix
            rank //= radix
            # a zero axis has radix 1, so its digit is 0 and x = 0 there
            out[:, a] = digit + self.axis_pinned[a] * (radix != 1)
        return out

    def index(self, coords) -> np.ndarray:
        """Return the node indices of lattice points.

        Parameters
        ----------
        coords : array_like of int
            ``[..., D]`` coordinates; taken modulo L.

        Returns
        -------
        numpy.ndarray
            int64 node indices, shape ``coords.shape[:-1]``.

        Raises
        ------
        ValueError
            If a point is not on the crossing.
        """
        coords = np.asarray(coords)
        dim = self.crossing.dim
        if coords.dtype.kind not in "iu":
            raise TypeError(f"coordinates must be integers, got dtype {coords.dtype}")
        if coords.ndim == 0 or coords.shape[-1] != dim:
            raise ValueError(f"coordinates must have shape [..., {dim}], got {coords.shape}")
        shape = coords.shape[:-1]
        flat = np.mod(coords.reshape(-1, dim).astype(np.int64), self.length)
        mask = np.zeros(flat.shape[0], dtype=np.int64)
        for a in self.pinned_axes:
            mask |= np.where(flat[:, a] == 0, self.axis_bit[a], 0)
        block = self.block_of_mask[mask]
        if np.any(block < 0):
            bad = flat[np.flatnonzero(block < 0)[0]]
            raise ValueError(
                f"point {bad.tolist()} is not on the crossing (subspaces pin "
                f"{[list(p) for p in self.crossing.pins]} to 0)"
            )
        digits = flat - self.axis_pinned
        index = self.block_offset[block] + np.sum(digits * self.block_stride[block], axis=1)
        return index.reshape(shape)

    def blocks(self, nodes) -> np.ndarray:
        """Return the block of each node (int64, same shape as ``nodes``)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        return np.searchsorted(self.block_offset, nodes, side="right") - 1

    def degrees(self) -> np.ndarray:
        """Return the degree of every node, ``[nodes]`` int64."""
        return np.repeat(self.block_degree, self.block_size)

    def parities(self, nodes=None, chunk: int = 1 << 20) -> np.ndarray:
        """Return the parity of each node's coordinate sum (``[n]`` int8).

        With L even every edge flips it, so it is the bipartition of the
        lattice. Computed in chunks to keep memory O(nodes).
        """
        if nodes is None:
            nodes = np.arange(self.nodes, dtype=np.int64)
        nodes = np.asarray(nodes, dtype=np.int64)
        out = np.empty(nodes.size, dtype=np.int8)
        for start in range(0, nodes.size, chunk):
            part = nodes[start : start + chunk]
            out[start : start + chunk] = self.coords(part).sum(axis=1) % 2
        return out

    def to_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the lattice as CSR ``(indptr, indices)``, neighbours in walker order.

        Returns
        -------
        indptr, indices : numpy.ndarray
            int64 arrays; row n lists, for each available axis in ascending
            order, the ``+1`` neighbour then the ``-1`` neighbour.
        """
        degrees = self.degrees()
        indptr = np.zeros(self.nodes + 1, dtype=np.int64)
        np.cumsum(degrees, out=indptr[1:])
        source = np.repeat(np.arange(self.nodes, dtype=np.int64), degrees)
        slot = np.arange(source.size, dtype=np.int64) - indptr[source]
        axis = self.block_axes[self.blocks(source), slot >> 1]
        neighbour = self.coords()[source]
        rows = np.arange(source.size)
        neighbour[rows, axis] = (neighbour[rows, axis] + 1 - 2 * (slot & 1)) % self.length
        return indptr, self.index(neighbour)

    def __repr__(self) -> str:
        pins = [list(p) for p in self.crossing.pins]
        return (f"LatticeLayout(dim={self.crossing.dim}, pins={pins}, length={self.length}, "
                f"nodes={self.nodes}, blocks={self.block_mask.size})")
