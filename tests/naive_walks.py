"""Pure-Python reference walkers, fed the same random numbers as the kernels.

Nothing here imports fastwalk: lattice points are handled as coordinate
tuples found by brute force from the definition (points of (Z_L)^D lying on
a subspace; neighbours one step along an axis that is free in a subspace
holding the point), and the random numbers come from the independent
xoshiro256++ model in ``naive_rng``. Each reference consumes a walker's
stream in the order the kernels promise: a lazy walk draws ``uniform() <
lazy`` first; an unweighted move draws ``integer(degree)``; a weighted move
draws ``uniform()`` and takes the first entry whose running weight sum
exceeds ``uniform() * strength``. They are slow: use a few walkers and a
few hundred steps.
"""

from __future__ import annotations

import itertools

from naive_rng import Xoshiro256pp


def on_crossing(point, pins) -> bool:
    """Whether the point lies on a subspace (all its pinned coordinates 0)."""
    return any(all(point[j] == 0 for j in subspace) for subspace in pins)


def crossing_points(dim: int, pins, length: int) -> list[tuple[int, ...]]:
    """Every lattice point on the crossing, by brute force over (Z_L)^D."""
    return [p for p in itertools.product(range(length), repeat=dim) if on_crossing(p, pins)]


def available_axes(point, dim: int, pins) -> list[int]:
    """Sorted axes free in at least one subspace holding ``point``."""
    axes = set()
    for subspace in pins:
        if all(point[j] == 0 for j in subspace):
            axes |= {j for j in range(dim) if j not in subspace}
    return sorted(axes)


def lattice_neighbours(point, dim: int, pins, length: int) -> list[tuple[int, ...]]:
    """Neighbours in the walkers' order: +1 then -1 along each available axis."""
    out = []
    for axis in available_axes(point, dim, pins):
        for step in (1, -1):
            moved = list(point)
            moved[axis] = (moved[axis] + step) % length
            out.append(tuple(moved))
    return out


def lattice_walk(dim: int, pins, length: int, start, steps: int, generator: Xoshiro256pp,
                 lazy: float = 0.0) -> list[tuple[int, ...]]:
    """Return the points after steps 1..steps of one walker."""
    point = tuple(start)
    path = []
    for _ in range(steps):
        if not (lazy > 0 and generator.uniform() < lazy):
            neighbours = lattice_neighbours(point, dim, pins, length)
            point = neighbours[generator.integer(len(neighbours))]
        path.append(point)
    return path


def graph_walk(rows, start: int, steps: int, generator: Xoshiro256pp, lazy: float = 0.0,
               row_weights=None) -> list[int]:
    """Return the nodes after steps 1..steps of one walker on adjacency lists ``rows``."""
    node = start
    path = []
    for _ in range(steps):
        if not (lazy > 0 and generator.uniform() < lazy):
            row = rows[node]
            if row_weights is None:
                node = row[generator.integer(len(row))]
            else:
                running, total = [], 0.0
                for weight in row_weights[node]:
                    total += weight
                    running.append(total)
                target = generator.uniform() * running[-1]
                chosen = next((j for j, value in enumerate(running) if value > target),
                              len(row) - 1)
                node = row[chosen]
        path.append(node)
    return path


def rows_from_csr(indptr, indices, weights=None):
    """Adjacency lists (and weight lists) from CSR arrays."""
    rows = [list(map(int, indices[indptr[u]:indptr[u + 1]])) for u in range(len(indptr) - 1)]
    if weights is None:
        return rows, None
    return rows, [list(map(float, weights[indptr[u]:indptr[u + 1]]))
                  for u in range(len(indptr) - 1)]

