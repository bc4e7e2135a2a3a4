"""Exact stationary laws of walks on graphs given as CSR arrays (NumPy/SciPy only).

A walk that leaves u through CSR entry u -> v with probability w_uv / s_u
(s_u = Σ_v w_uv, the *strength*; the degree when unweighted) has, when the
CSR is symmetric (an undirected graph), the stationary law

    π(u) = s_u / Σ_v s_v      on the connected component of the start,

because π(u) P(u, v) = w_uv / Σ s is symmetric (detailed balance). A lazy
walk (stay with probability p) has P' = p I + (1 - p) P and the same π.
Self-loops and multi-edges enter through the CSR entries exactly as the
walker uses them (:mod:`fastwalk.models.graph`: a self-loop is one entry).
For the crossing's lattice this is the degree law: the center of K lines has
degree 2K and every other node 2, so it is visited K times as often.
A non-symmetric CSR (directed graph) has no closed form; its law is solved
numerically (sparse LU) on the nodes reachable from the start, which must
form one strongly connected class.

Models (:mod:`fastwalk.models.graph`) and the analysis layer
(:mod:`fastwalk.analysis.stationary`) both use these.
"""

from __future__ import annotations

import numpy as np

__all__ = ["strengths", "stationary_law", "csr_law", "csr_cyclic_classes"]


def strengths(indptr, indices, weights=None) -> np.ndarray:
    """Return each node's row sum of weights (its number of CSR entries when unweighted).

    Parameters
    ----------
    indptr, indices : array_like of int
        The CSR structure (``nodes + 1`` and ``entries`` values).
    weights : array_like of float, optional
        Entry weights.

    Returns
    -------
    numpy.ndarray
        ``[nodes]`` float64.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    degrees = np.diff(indptr)
    if weights is None:
        return degrees.astype(np.float64)
    rows = np.repeat(np.arange(degrees.size), degrees)
    return np.bincount(rows, weights=np.asarray(weights, dtype=np.float64), minlength=degrees.size)


def unit_scaled(weights: np.ndarray) -> np.ndarray:
    """Return ``weights`` times the power of two that brings the largest into [0.5, 1).

    A walk's law and its choices depend only on weight ratios; scaling by a power
    of two is exact, so sums of up to 2^1023 such weights stay finite (weights of
    1e308 overflowed a row's total) and ordinary weights give the same bits.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.size == 0:
        return weights
    _, exponent = np.frexp(weights.max())
    return np.ldexp(weights, -int(exponent))


def _adjacency(indptr, indices, weights):
    from scipy.sparse import csr_array

    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    data = np.ones(indices.size) if weights is None else unit_scaled(weights)
    nodes = indptr.size - 1
    matrix = csr_array((data, indices, indptr), shape=(nodes, nodes)).copy()
    matrix.sum_duplicates()
    return matrix


def _is_symmetric(matrix) -> bool:
    difference = abs(matrix - matrix.T)
    scale = abs(matrix).max() if matrix.nnz else 0.0
    return difference.nnz == 0 or difference.max() <= 1e-12 * scale


def _reachable(matrix, start: int) -> np.ndarray:
    from scipy.sparse.csgraph import breadth_first_order

    return np.sort(breadth_first_order(matrix, start, directed=True, return_predecessors=False))


def stationary_law(indptr, indices, weights=None, *, start: int | None = None) -> np.ndarray:
    """Return the exact stationary law of the walk on a CSR graph (see :mod:`fastwalk.graph_laws`).

    Parameters
    ----------
    indptr, indices : array_like of int
        The CSR structure.
    weights : array_like of float, optional
        Positive entry weights (strength-proportional law).
    start : int, optional
        Start node: the law lives on the nodes reachable from it. Without it
        the strength-proportional law over all nodes is returned (for a
        disconnected graph that is one of several stationary laws).

    Returns
    -------
    numpy.ndarray
        ``[nodes]`` float64 summing to 1, zero off the start's class.

    Raises
    ------
    ValueError
        For a directed graph without ``start``, or whose nodes reachable from
        the start are not one strongly connected class (no unique law).

    Examples
    --------
    >>> import numpy as np
    >>> from fastwalk.graph_laws import stationary_law
    >>> stationary_law(np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]))   # the path a - b - c
    array([0.25, 0.5 , 0.25])
    """
    matrix = _adjacency(indptr, indices, weights)
    nodes = matrix.shape[0]
    strength = np.asarray(matrix.sum(axis=1)).ravel()
    if _is_symmetric(matrix):
        law = strength.copy()
        if start is not None:
            keep = np.zeros(nodes, dtype=np.bool_)
            keep[_reachable(matrix, start)] = True
            law[~keep] = 0.0
        total = law.sum()
        if total <= 0:
            raise ValueError("the graph has no edges where the walk lives; its law is undefined")
        return law / total
    if start is None:
        raise ValueError("the graph is directed (its CSR is not symmetric); give the start node, "
                         "whose reachable class carries the law")
    return _directed_law(matrix, strength, start)


def _directed_law(matrix, strength, start: int) -> np.ndarray:
    from scipy.sparse import csc_array, diags_array, identity
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import spsolve

    reach = _reachable(matrix, start)
    sub = matrix[reach][:, reach]
    if np.any(strength[reach] <= 0):
        raise ValueError("a node reachable from the start has no way out; the law is undefined")
    classes, _ = connected_components(sub, directed=True, connection="strong")
    if classes != 1:
        raise ValueError(
            f"the nodes reachable from start node {start} split into {classes} strongly connected "
            "classes; the walk has no unique stationary law from there"
        )
    transition = diags_array(1.0 / strength[reach]) @ sub
    system = (transition.T - identity(reach.size)).tolil()
    system[reach.size - 1, :] = 1.0  # replace one balance equation by the normalisation
    rhs = np.zeros(reach.size)
    rhs[-1] = 1.0
    solution = spsolve(csc_array(system), rhs) if reach.size > 1 else np.ones(1)
    law = np.zeros(matrix.shape[0])
    law[reach] = np.clip(solution, 0.0, None)
    return law / law.sum()


def csr_law(indptr, indices, weights=None, *, start: int = 0) -> tuple[np.ndarray, str]:
    """Return a CSR walk's stationary law and how it was obtained (the description as for model_law).

    Parameters
    ----------
    indptr, indices, weights
        The CSR, as for :func:`stationary_law`.
    start : int, optional
        The start node.

    Returns
    -------
    law : numpy.ndarray
        ``[nodes]`` float64.
    description : str
        How it was obtained.
    """
    law = stationary_law(indptr, indices, weights, start=start)
    if not _is_symmetric(_adjacency(indptr, indices, weights)):
        return law, "directed graph: balance equations solved numerically (sparse LU)"
    return law, "strength-proportional" if weights is not None else "degree-proportional"


def csr_cyclic_classes(indptr, indices, start: int) -> tuple[int, np.ndarray | None]:
    """Return the period and cyclic classes of the (non-lazy) walk on a CSR graph.

    Parameters
    ----------
    indptr, indices : array_like
        The CSR.
    start : int
        The start node.

    Returns
    -------
    period : int
        d >= 1 (gcd of the level shifts along the edges reachable from ``start``).
    classes : numpy.ndarray or None
        As for :func:`fastwalk.analysis.stationary.cyclic_classes`.
    """
    from scipy.sparse.csgraph import shortest_path

    indptr, indices = np.asarray(indptr), np.asarray(indices)
    matrix = _adjacency(indptr, indices, None)
    distance = shortest_path(matrix, directed=True, unweighted=True, indices=start)
    reach = np.isfinite(distance)
    level = np.where(reach, distance, -1).astype(np.int64)
    rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    inside = reach[rows]
    shifts = np.abs(level[rows[inside]] + 1 - level[indices[inside]])
    period = int(np.gcd.reduce(shifts)) if shifts.size else 1
    if period <= 1:
        return 1, None
    return period, np.where(reach, level % period, -1)
