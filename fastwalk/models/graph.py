"""Random walk on an arbitrary graph stored in CSR form.

Row ``u`` of the CSR (``indices[indptr[u]:indptr[u + 1]]``) lists the nodes a
walker at ``u`` can move to, with optional positive ``weights``. Each step:

1. lazy walk only: draw ``uniform() < lazy`` and stay on success;
2. unweighted: take entry ``indptr[u] + integer(degree)``;
   weighted: draw ``t = uniform() * strength(u)`` and take the first entry
   whose running sum of weights along the row exceeds ``t`` (a binary
   search; the last entry if rounding leaves none), i.e. an entry with
   probability proportional to its weight.

Conventions (used by the walker and by the stationary law alike):

- Every CSR entry is one way out. An undirected edge ``u - v`` is two
  entries (``u -> v`` and ``v -> u``); a **self-loop ``u - u`` is one
  entry** in row u (as in the adjacency matrix, and as
  ``networkx.to_scipy_sparse_array`` writes it), so it adds 1 (its weight)
  to u's degree (strength); a multi-edge is one entry per copy.
- For a symmetric CSR the stationary law is proportional to the row sums
  (degree, or strength when weighted), laziness included; see
  :mod:`fastwalk.analysis.stationary`.

Checked before any step: a well-formed CSR, finite positive weights, a
start node in range, and that no node the walker can reach from the start
has an empty row (it would have nowhere to go).
"""

from __future__ import annotations

import os
from collections.abc import Hashable

import numpy as np

from fastwalk import validate
from fastwalk.graph_laws import unit_scaled
from fastwalk.models._graph_kernels import (
    STAGED_BYTES,
    _graph_kernel,
    _lanes_kernel,
    _reach,
    _row_cumulative,
)
from fastwalk.models.base import Model
from fastwalk.models.node_walk import NodeWalkRecords

__all__ = ["GraphWalk"]


def _integer_array(name: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 1 and array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu" or array.ndim != 1:
        raise TypeError(f"{name} must be a 1-D integer array, got dtype {array.dtype}, "
                        f"shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.int64)


class GraphWalk(NodeWalkRecords, Model):
    """Random walk on a graph given in CSR form (module docstring).

    Parameters
    ----------
    indptr : array_like of int
        ``nodes + 1`` row pointers (``indptr[0] == 0``, non-decreasing).
    indices : array_like of int
        Target node of each entry, in 0..nodes-1.
    weights : array_like of float, optional
        Positive finite weight of each entry; None for an unweighted walk.
    lazy : float, optional
        Probability in [0, 1) of staying put at each step.
    start : int or str, optional
        Start node of every walker: an index, or a label when ``labels`` are
        given (default node 0).
    labels : sequence of str, optional
        One unique label per node (e.g. from an edge list).

    Raises
    ------
    ValueError, TypeError
        On a malformed CSR, a negative, zero or NaN weight, a start node out of
        range, or a node without edges that the walker can reach from the start.

    Notes
    -----
    State keys: ``rng``, ``node`` (int64 [N]), ``visit_slices`` (int64
    [parts][≥ nodes], visits after each counted step, one row per walker part;
    :meth:`~fastwalk.models.base.Model.accumulators` sums them into ``visit_counts``) and
    ``walker_start_visits`` (int64 [N], each walker's visits of the start
    node, the graph's "center" in the stationary report). ``visit_counts`` is
    recorded at every record when the graph has at most
    :data:`fastwalk.models.node_walk.MAX_RECORDED_NODES` nodes, otherwise only as
    a final accumulator.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> import fastwalk as fw
    >>> path = sp.csr_matrix([[0, 1, 0], [1, 0, 1], [0, 1, 0]])   # a - b - c
    >>> walk = fw.GraphWalk.from_scipy(path)
    >>> walk.nodes, walk.indptr.tolist()
    (3, [0, 1, 3, 4])
    >>> run = fw.simulate(walk, walkers=50, steps=100, seed=1)
    >>> int(run.accumulators["visit_counts"].sum())
    5000
    """

    kind = "graph"
    frame_name = "node"
    reference_visits = "walker_start_visits"
    center_name = "the start node"
    picture = "fastwalk.analysis.walk_plots:graph_run_figure"

    def __init__(self, indptr, indices, weights=None, *, lazy: float = 0.0, start=0,
                 labels=None):
        self.indptr = _integer_array("indptr", indptr)
        self.indices = _integer_array("indices", indices)
        self._check_structure()
        self.nodes = self.indptr.size - 1
        self.labels = None if labels is None else self._check_labels(labels)
        self.weights = None if weights is None else self._check_weights(weights)
        self.lazy = validate.probability("lazy", lazy)
        self.start = self._resolve_start(start)
        self._check_reachable()
        self._cumulative = (np.zeros(1) if self.weights is None
                            else _row_cumulative(self.indptr, unit_scaled(self.weights)))
        self._staged = self.indptr.nbytes + self.indices.nbytes + self._cumulative.nbytes > STAGED_BYTES

    # ------------------------------------------------------------------ validation
    def _check_structure(self) -> None:
        indptr, indices = self.indptr, self.indices
        if indptr.size < 2:
            raise ValueError(f"indptr must have nodes + 1 >= 2 entries, got {indptr.size}; "
                             "a graph needs at least one node")
        if indptr[0] != 0:
            raise ValueError(f"indptr[0] must be 0, got {indptr[0]}")
        if np.any(np.diff(indptr) < 0):
            bad = int(np.flatnonzero(np.diff(indptr) < 0)[0])
            raise ValueError(f"indptr must be non-decreasing; indptr[{bad + 1}] = "
                             f"{indptr[bad + 1]} < indptr[{bad}] = {indptr[bad]}")
        if indptr[-1] != indices.size:
            raise ValueError(f"indptr[-1] = {indptr[-1]} must equal the number of entries "
                             f"len(indices) = {indices.size}")
        nodes = indptr.size - 1
        outside = (indices < 0) | (indices >= nodes)
        if np.any(outside):
            j = int(np.flatnonzero(outside)[0])
            raise ValueError(f"indices[{j}] = {indices[j]} is not a node; nodes are 0..{nodes - 1}")

    def _check_weights(self, weights) -> np.ndarray:
        try:
            weights = np.ascontiguousarray(weights, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"weights must be numeric: {exc}") from None
        if weights.shape != self.indices.shape:
            raise ValueError(f"weights must have one value per entry ({self.indices.size}), "
                             f"got shape {weights.shape}")
        bad = ~(np.isfinite(weights) & (weights > 0))
        if np.any(bad):
            j = int(np.flatnonzero(bad)[0])
            source = int(np.searchsorted(self.indptr, j, side="right") - 1)
            raise ValueError(
                f"the weight of edge {self._name(source)} -> {self._name(int(self.indices[j]))} "
                f"(entry {j}) is {weights[j]}; weights must be positive and finite "
                "(drop the edge instead of giving it weight 0)"
            )
        return weights

    def _check_labels(self, labels) -> np.ndarray:
        labels = np.asarray([str(label) for label in labels])
        if labels.shape != (self.nodes,):
            raise ValueError(f"labels must give one label per node ({self.nodes}), "
                             f"got {labels.size}")
        if np.unique(labels).size != labels.size:
            raise ValueError("node labels must be unique")
        return labels

    def _name(self, node: int) -> str:
        labels = getattr(self, "labels", None)
        return f"{node}" if labels is None else f"{node} ({str(labels[node])!r})"

    def _resolve_start(self, start) -> int:
        if isinstance(start, str):
            if self.labels is None:
                raise ValueError(f"start {start!r} is a label, but the graph has no labels; "
                                 "give a node index")
            where = np.flatnonzero(self.labels == start)
            if where.size == 0:
                raise ValueError(f"start label {start!r} is not a node of the graph")
            return int(where[0])
        return validate.integer("start node", start, minimum=0, maximum=self.nodes - 1)

    def _check_reachable(self) -> None:
        reached, empty = _reach(self.indptr, self.indices, self.start)
        if empty >= 0:
            where = "is the start node" if empty == self.start else (
                f"can be reached from the start node {self._name(self.start)}")
            raise ValueError(
                f"node {self._name(empty)} has no edges but {where}: a walker there has nowhere "
                "to go; give it an edge (a self-loop makes it stay) or start elsewhere"
            )
        self._reachable = np.flatnonzero(reached)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_scipy(cls, matrix, *, weighted: bool | None = None, lazy: float = 0.0, start=0,
                   labels=None) -> GraphWalk:
        """Build from a scipy.sparse matrix or array (row = from, column = to).

        Parameters
        ----------
        matrix : scipy.sparse matrix or array
            Square adjacency; entry (u, v) is the weight of the move u -> v.
            Stored entries are edges: duplicates already in a CSR are kept
            as multi-edges (scipy sums a COO matrix's duplicates into one
            entry of the summed weight, which moves the walker with the same
            probabilities); an explicit zero is refused.
        weighted : bool, optional
            Use the entries as weights; default: weighted unless every entry is 1.
        lazy : float, optional
            Probability of staying put at each step.
        start : int or str, optional
            Start node index (or label).
        labels : sequence of str, optional
            Node labels.

        Returns
        -------
        GraphWalk
            The walk.
        """
        from scipy import sparse

        if not sparse.issparse(matrix):
            raise TypeError(
                f"matrix must be a scipy.sparse matrix or array, got {type(matrix).__name__}"
            )
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"the adjacency matrix must be square, got shape {matrix.shape}")
        csr = sparse.csr_array(matrix)
        data = np.asarray(csr.data, dtype=np.float64)
        bad = ~(np.isfinite(data) & (data > 0))
        if np.any(bad):
            j = int(np.flatnonzero(bad)[0])
            row = int(np.searchsorted(csr.indptr, j, side="right") - 1)
            hint = ("; an explicit zero is not an edge: call matrix.eliminate_zeros()"
                    if data[j] == 0 else "")
            raise ValueError(f"matrix entry ({row}, {csr.indices[j]}) is {data[j]}; edge weights "
                             f"must be positive and finite{hint}")
        if weighted is None:
            weighted = not np.all(data == 1.0)
        return cls(csr.indptr, csr.indices, data if weighted else None, lazy=lazy, start=start,
                   labels=labels)

    @classmethod
    def from_networkx(cls, graph, *, weight: str | None = "weight", lazy: float = 0.0,
                      start: Hashable | None = None) -> GraphWalk:
        """Build from a networkx graph (networkx is imported only here).

        Parameters
        ----------
        graph : networkx.Graph, DiGraph, MultiGraph or MultiDiGraph
            Undirected edges become two entries, a self-loop one entry, each
            parallel edge of a multigraph its own entry; a directed graph's
            edges one entry each. Row order follows ``graph.edges``.
        weight : str or None, optional
            Edge attribute holding the weight; edges without it weigh 1. The
            walk is unweighted when None or when no edge has the attribute.
        lazy : float, optional
            Probability of staying put at each step.
        start : node, optional
            The start node (a node of ``graph``); default the first node.

        Returns
        -------
        GraphWalk
            The walk, with labels ``str(node)`` in ``graph.nodes`` order.
        """
        try:
            import networkx as nx
        except ImportError:  # pragma: no cover - networkx is optional
            raise ImportError("from_networkx needs networkx: pip install networkx") from None
        if not isinstance(graph, nx.Graph):
            raise TypeError(f"graph must be a networkx graph, got {type(graph).__name__}")
        order = list(graph.nodes)
        if not order:
            raise ValueError("the graph has no nodes")
        position = {node: i for i, node in enumerate(order)}
        sources, targets, weights = [], [], []
        weighted = False
        edges = (graph.edges(data=weight, default=None) if weight is not None
                 else ((u, v, None) for u, v in graph.edges()))
        for u, v, w in edges:
            weighted |= w is not None
            w = 1.0 if w is None else w
            sources.append(position[u])
            targets.append(position[v])
            weights.append(w)
            if not graph.is_directed() and u != v:
                sources.append(position[v])
                targets.append(position[u])
                weights.append(w)
        if start is None:
            start_index = 0
        elif start in position:
            start_index = position[start]
        else:
            raise ValueError(f"start {start!r} is not a node of the graph")
        indptr, indices, weights = _csr_from_entries(len(order), sources, targets, weights)
        return cls(indptr, indices, weights if weighted else None,
                   lazy=lazy, start=start_index, labels=[str(node) for node in order])

    @classmethod
    def from_edgelist(cls, path, *, lazy: float = 0.0, start: str | None = None) -> GraphWalk:
        """Read an undirected graph from an edge-list file.

        Parameters
        ----------
        path : path-like
            Text file with one edge per line, ``u v`` or ``u v weight``
            (whitespace-separated; lines without a weight weigh 1). ``#``
            starts a comment; blank lines are skipped. Labels are kept as
            strings, numbered in order of first appearance. ``u u`` is a
            self-loop (one entry); a repeated pair is a multi-edge.
        lazy : float, optional
            Probability of staying put at each step.
        start : str, optional
            Label of the start node; default the first label in the file.

        Returns
        -------
        GraphWalk
            The walk (weighted when any line gives a weight).

        Raises
        ------
        ValueError
            On a malformed line (the message names the file and line number),
            a negative, zero or NaN weight, or a file without edges.
        FileNotFoundError
            If the file does not exist.
        """
        from fastwalk.models._edgelist import read_edgelist

        labels, indptr, indices, weights = read_edgelist(path)
        first = 0
        if start is not None:
            where = np.flatnonzero(labels == str(start))
            if where.size == 0:
                raise ValueError(f"start node {str(start)!r} does not appear in {os.fspath(path)}")
            first = int(where[0])
        walk = cls(indptr, indices, weights, lazy=lazy, start=first)
        walk.labels = labels  # unique by construction: no need to check them again
        return walk

    # ------------------------------------------------------------------ description
    @property
    def dt(self) -> float:
        """One step per unit time."""
        return 1.0

    @property
    def weighted(self) -> bool:
        """Whether the walk uses edge weights."""
        return self.weights is not None

    @property
    def center(self) -> int:
        """The reference node of the stationary report: the start node."""
        return self.start

    @property
    def reachable(self) -> np.ndarray:
        """Nodes a walker can reach from the start, ascending (int64)."""
        return self._reachable

    def parameters(self) -> dict:
        """Return the resolved parameters (the CSR itself is in :meth:`parameter_arrays`)."""
        parameters = {
            "kind": self.kind,
            "nodes": self.nodes,
            "entries": int(self.indices.size),
            "weighted": self.weighted,
            "lazy": self.lazy,
            "start": self.start,
        }
        if self.labels is not None:
            parameters["start_label"] = str(self.labels[self.start])
        return parameters

    def parameter_arrays(self) -> dict:
        """Return ``graph/indptr``, ``graph/indices`` and, if present, weights and labels."""
        arrays = {"graph/indptr": self.indptr, "graph/indices": self.indices}
        if self.weights is not None:
            arrays["graph/weights"] = self.weights
        if self.labels is not None:
            arrays["graph/labels"] = self.labels
        return arrays

    @classmethod
    def examples(cls) -> list[GraphWalk]:
        """Return an unweighted and a weighted triangle (see :meth:`Model.examples`)."""
        indptr, indices = [0, 2, 4, 6], [1, 2, 0, 2, 0, 1]
        return [cls(indptr, indices), cls(indptr, indices, [1.0, 2.0, 1.0, 3.0, 2.0, 3.0])]

    @classmethod
    def from_parameters(cls, parameters: dict, arrays: dict) -> GraphWalk:
        """Rebuild from :meth:`parameters` and :meth:`parameter_arrays`."""
        return cls(arrays["graph/indptr"], arrays["graph/indices"], arrays.get("graph/weights"),
                   lazy=parameters["lazy"], start=int(parameters["start"]),
                   labels=arrays.get("graph/labels"))

    def box(self) -> dict:
        """Describe the H5MD box (a graph has no geometry: one dimension, no boundary)."""
        return {"dimension": 1, "boundary": "none", "edges": None}

    def stationary_law(self) -> tuple[np.ndarray, str]:
        """Return the exact stationary law and how it was obtained (degree, strength, or LU)."""
        from fastwalk.graph_laws import csr_law

        return csr_law(self.indptr, self.indices, self.weights, start=self.start)

    def periodic_classes(self) -> tuple[int, np.ndarray | None]:
        """Return the non-lazy walk's period and each node's cyclic class (None if 1)."""
        from fastwalk.graph_laws import csr_cyclic_classes

        return csr_cyclic_classes(self.indptr, self.indices, self.start)

    def degrees(self) -> np.ndarray:
        """Return each node's number of CSR entries (self-loop once, multi-edges each)."""
        return np.diff(self.indptr)

    def strengths(self) -> np.ndarray:
        """Return each node's row sum of weights (its degree, as float, when unweighted)."""
        if self.weights is None:
            return self.degrees().astype(np.float64)
        rows = np.repeat(np.arange(self.nodes), self.degrees())
        return np.bincount(rows, weights=self.weights, minlength=self.nodes)

    # ------------------------------------------------------------------ dynamics
    def advance(self, state: dict, first_step: int, steps: int, accumulate: bool) -> None:
        """Advance every walker ``steps`` steps; count visits when ``accumulate``."""
        steps = validate.integer("steps", steps, minimum=0)
        if self._staged:
            _graph_kernel(state["node"], state["rng"], state["visit_slices"],
                          state[self.reference_visits], steps, bool(accumulate), self.lazy,
                          self.start, self.indptr, self.indices, self._cumulative,
                          self.weights is not None)
        else:
            _lanes_kernel(state["node"], state["rng"], state["visit_slices"],
                          state[self.reference_visits], steps, bool(accumulate), self.lazy,
                          self.start, self.indptr, self.indices, self._cumulative,
                          self.weights is not None)


def _csr_from_entries(nodes: int, sources, targets, weights):
    """Sort entries by source, keeping their order within a row (a stable sort)."""
    sources = np.asarray(sources, dtype=np.int64)
    order = np.argsort(sources, kind="stable")
    indptr = np.zeros(nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(sources, minlength=nodes), out=indptr[1:])
    indices = np.asarray(targets, dtype=np.int64)[order]
    weights = np.asarray(weights, dtype=np.float64)[order]
    return indptr, indices, weights
