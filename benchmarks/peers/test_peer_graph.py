"""Graph walks: fastwalk's CSR walker beside python-igraph, csrgraph, graph-walker and networkx.

Run with ``pytest benchmarks/peers/test_peer_graph.py -s``. Each job is one
graph; every tool walks it from node 0, uniformly (or by edge weight) to a
neighbour per step, and the figure is wall nanoseconds per walker-step at
the stated thread count (best of the repeats; the printed range is over
repeats). Each tool does what its API does: fastwalk counts visits per node
(its accumulators), igraph returns one walker's path per call (a Python loop
over walkers, as its users write it), csrgraph and graph-walker return a
walkers × steps path matrix, networkx has no walker and gets the plain
``random.choice`` over ``graph.neighbors`` loop. The amount of work per tool
is scaled to its speed (so that each repeat takes ~0.1-1 s); per-step cost
is what is compared. ``peak`` is the resident memory the walk call added.

Jobs: the seed crossing (K = 3 lines, L = 9), a 10^4-node Watts–Strogatz
graph (k = 10, p = 0.1) unweighted and with weights uniform in [0.5, 2], and
a random graph of 10^6 nodes and 10^7 undirected edges (2·10^7 CSR entries,
160 MB of int64 indices: far larger than the 32 MiB L3). The large job also
records the floor: a dependent random read (a pointer chase over an int64
array of the CSR's size), one and several chases interleaved per thread.
The small jobs record two floors on one thread, with fastwalk's own SIMD
lanes: the xoshiro draws alone (one per walker-step, nothing else), and on
the weighted job an O(1) alias-table step (draw, row, one table entry,
target, count: what Walker's alias method would cost, on random tables, so
not a walk of these weights) beside fastwalk's exact binary search.
"""

from __future__ import annotations

import functools
import random

import numba
import numpy as np
import pytest
from numba import prange
from peerlib import FASTWALK, measure, peer, record, skipped, version

from fastwalk import rng
from fastwalk._jit import pjit
from fastwalk.crossing import Crossing
from fastwalk.models._graph_kernels import LANES, _draw_lanes
from fastwalk.models._kernels import U as _U
from fastwalk.models._kernels import select
from fastwalk.models.graph import GraphWalk
from fastwalk.models.lattice import LatticeWalk

LARGE_NODES, LARGE_EDGES = 10**6, 10**7


# ---------------------------------------------------------------------- the graphs
@functools.cache
def graph(job: str) -> GraphWalk:
    """The job's graph as a fastwalk model (built once per run)."""
    if job == "crossing":
        return GraphWalk(*Crossing.lines(3).to_csr(9))
    if job.startswith("watts-strogatz"):
        import networkx as nx

        ws = nx.watts_strogatz_graph(10_000, 10, 0.1, seed=1)
        if job.endswith("weighted"):
            weights = np.random.default_rng(2).uniform(0.5, 2.0, ws.number_of_edges())
            for (u, v), weight in zip(ws.edges(), weights, strict=True):
                ws[u][v]["weight"] = float(weight)
        return GraphWalk.from_networkx(ws)
    if job == "random-1e6":
        generator = np.random.default_rng(3)
        u = generator.integers(0, LARGE_NODES, LARGE_EDGES)
        v = (u + generator.integers(1, LARGE_NODES, LARGE_EDGES)) % LARGE_NODES  # no self-loops
        sources, targets = np.concatenate([u, v]), np.concatenate([v, u])
        del u, v
        order = np.argsort(sources, kind="stable")
        indptr = np.zeros(LARGE_NODES + 1, dtype=np.int64)
        np.cumsum(np.bincount(sources, minlength=LARGE_NODES), out=indptr[1:])
        return GraphWalk(indptr, targets[order])
    raise KeyError(job)


JOBS = {  # job -> (fastwalk walkers, steps), peer walkers/steps scale from it
    "crossing": (20_000, 500),
    "watts-strogatz-1e4": (20_000, 500),
    "watts-strogatz-1e4-weighted": (20_000, 500),
    "random-1e6": (100_000, 200),
}
SMALL = [job for job in JOBS if job != "random-1e6"]


def edges(model: GraphWalk):
    """(sources, targets, weights or None) of every CSR entry."""
    sources = np.repeat(np.arange(model.nodes), model.degrees())
    return sources, model.indices, model.weights


def scipy_csr(model: GraphWalk):
    from scipy import sparse

    data = np.ones(model.indices.size) if model.weights is None else model.weights
    return sparse.csr_matrix((data, model.indices, model.indptr), shape=(model.nodes,) * 2)


# ---------------------------------------------------------------------- the tools
def run_fastwalk(job: str, threads: int):
    model = graph(job)
    walkers, steps = JOBS[job]
    state = model.initial_state(rng.seed_states(1, 0, walkers))
    numba.set_num_threads(threads)
    state["visit_slices"] = np.zeros((threads, state["visit_slices"].shape[1]), dtype=np.int64)
    model.advance(state, 0, 2, True)  # compile outside the memory measurement
    timing = measure(lambda: model.advance(state, 0, steps, True), walkers * steps)
    record(job, FASTWALK, timing, threads=threads, note="visit counts accumulated")


def run_igraph(job: str):
    igraph = peer("igraph", "python-igraph")
    if igraph is None:
        return skipped(job, "igraph", "python-igraph")
    model = graph(job)
    sources, targets, weights = edges(model)
    keep = sources <= targets  # each undirected edge once (the CSR holds both directions)
    g = igraph.Graph(n=model.nodes, edges=np.column_stack([sources[keep], targets[keep]]),
                     directed=False)
    if weights is not None:
        g.es["weight"] = weights[keep]
    walkers, steps = 20 if job == "random-1e6" else 40, 2_000

    def walk():
        for _ in range(walkers):
            g.random_walk(0, steps, weights="weight" if weights is not None else None)

    record(job, f"igraph {version('python-igraph')}", measure(walk, walkers * steps),
           note="Graph.random_walk: one walker's path per call")


def run_csrgraph(job: str, threads: int):
    csrgraph = peer("csrgraph")
    if csrgraph is None:
        return skipped(job, "csrgraph", threads=threads)
    from csrgraph.random_walks import _random_walk

    model = graph(job)
    transitions = csrgraph.csrgraph(scipy_csr(model)).normalize(return_self=False)
    walkers, length = 20_000, 101
    starts = np.zeros(walkers, dtype=np.int64)
    numba.set_num_threads(threads)
    timing = measure(lambda: _random_walk(transitions.weights, transitions.src, transitions.dst,
                                          starts, length), walkers * (length - 1))
    record(job, f"csrgraph {version('csrgraph')}", timing, threads=threads,
           note="its numba kernel on the normalised CSR (normalised once, untimed); path matrix")


def run_graph_walker(job: str):
    walker = peer("walker", "graph-walker")
    if walker is None:
        return skipped(job, "graph-walker")
    from _walker import random_walks as core
    from sklearn.preprocessing import normalize

    model = graph(job)
    matrix = normalize(scipy_csr(model).astype(np.float32), norm="l1", axis=1)
    indptr, indices = matrix.indptr.astype(np.uint32), matrix.indices.astype(np.uint32)
    data = matrix.data.astype(np.float32)
    walkers, length = 20_000, 101
    starts = np.zeros(walkers, dtype=np.uint32)
    timing = measure(lambda: core(indptr, indices, data, starts, 1, length),
                     walkers * (length - 1))
    record(job, f"graph-walker {version('graph-walker')}", timing,
           note="its C++ core on the row-normalised CSR (its random_walks needs a networkx "
                "graph and normalises per call); path matrix; it starts its own threads, one "
                "per core (CPU time counts them all)")


def run_networkx(job: str):
    nx = peer("networkx")
    if nx is None:
        return skipped(job, "networkx")
    model = graph(job)
    sources, targets, weights = edges(model)
    g = nx.Graph()
    keep = sources <= targets
    if weights is None:
        g.add_edges_from(zip(sources[keep].tolist(), targets[keep].tolist(), strict=True))
    else:
        g.add_weighted_edges_from(zip(sources[keep].tolist(), targets[keep].tolist(),
                                      weights[keep].tolist(), strict=True))
    chooser = random.Random(3)
    steps = 50_000

    def walk():
        node = 0
        for _ in range(steps):
            if weights is None:
                node = chooser.choice(list(g.neighbors(node)))
            else:
                row = g[node]
                node = chooser.choices(list(row), [d["weight"] for d in row.values()])[0]

    record(job, f"networkx {version('networkx')}", measure(walk, steps, repeat=3),
           note="random.choice over graph.neighbors, one walker")


# ---------------------------------------------------------------------- the floor
def _chain(size: int, seed: int) -> np.ndarray:
    """Next-pointers of one random cycle through all of range(size)."""
    order = np.random.default_rng(seed).permutation(size)
    chain = np.empty(size, dtype=np.int64)
    chain[order] = np.roll(order, -1)
    return chain


@pjit(cache=False)
def _chase(chain, reads, chasers, parts):
    """Follow ``chasers`` independent pointer chains per part, interleaved, ``reads`` each."""
    ends = np.zeros(parts, dtype=np.int64)
    size = chain.shape[0]
    for part in prange(parts):
        at = np.empty(chasers, dtype=np.int64)
        for c in range(chasers):
            at[c] = (part * 7919 + c * 104729) % size
        for _ in range(reads):
            for c in range(chasers):
                at[c] = chain[at[c]]
        ends[part] = at.sum()
    return ends.sum()


def floor(chasers: int, threads: int, chain):
    """Timing per read of a pointer chase over ``chain`` (``chasers`` interleaved per thread)."""
    reads = 2_000_000 // chasers
    numba.set_num_threads(threads)
    return measure(lambda: _chase(chain, reads, chasers, threads), reads * chasers * threads,
                   memory=False)


@pjit(cache=False)
def _lane_floor(states, steps, indptr, indices, thresholds, aliases, counts, alias):
    """One thread's floor, in lanes as fastwalk walks: the draws alone, or an alias-table walk.

    ``alias`` False: each walker-step is one xoshiro draw (vectorised) and
    nothing else. True: the draw, the row, entry j = the draw's top 32 bits
    times the degree, then j or ``aliases[j]`` as the low 32 bits fall
    below ``thresholds[j]``, the target node and its count: the work of an
    O(1) weighted step, with no search.
    """
    words = np.zeros(6 * LANES, dtype=np.uint64)
    node = np.zeros(LANES, dtype=np.int64)
    total = np.uint64(0)
    for first in range(0, states.shape[0], LANES):
        count = min(LANES, states.shape[0] - first)
        for i in range(count):
            s = states[first + i]
            words[i], words[LANES + i] = s.s0, s.s1
            words[2 * LANES + i], words[3 * LANES + i] = s.s2, s.s3
            node[i] = 0
        for _ in range(steps):
            _draw_lanes(words, count, 0.0)
            if not alias:
                for i in range(count):
                    total ^= words[4 * LANES + i]
                continue
            for i in range(count):
                low, high = indptr[_U(node[i])], indptr[_U(node[i] + 1)]
                bits = words[4 * LANES + i]
                j = low + np.int64(((bits >> np.uint64(32)) * np.uint64(high - low))
                                   >> np.uint64(32))
                entry = select((bits & np.uint64(0xFFFFFFFF)) < thresholds[_U(j)], j,
                                aliases[_U(j)])
                node[i] = indices[_U(entry)]
            for i in range(count):
                counts[_U(node[i])] += 1
    return total


def lane_floor(job: str, alias: bool):
    """Record a one-thread floor of ``job`` (see :func:`_lane_floor`)."""
    model = graph(job)
    walkers, steps = JOBS[job]
    generator = np.random.default_rng(4)
    size = model.indices.size
    thresholds = generator.integers(0, 2**32, size).astype(np.uint64)
    rows = np.repeat(np.arange(model.nodes), model.degrees())
    aliases = model.indptr[rows] + generator.integers(0, 2**62, size) % model.degrees()[rows]
    counts = np.zeros(model.nodes, dtype=np.int64)
    states = rng.seed_states(1, 0, walkers)
    numba.set_num_threads(1)

    def run():
        return _lane_floor(states, steps, model.indptr, model.indices, thresholds, aliases,
                           counts, alias)

    if alias:
        record(job, "floor: O(1) alias step in lanes", measure(run, walkers * steps, memory=False),
               note="draw + row + one alias-table entry + target + count, random tables: "
                    "the cost of Walker's O(1) method, not a walk of these weights")
    else:
        record(job, "floor: xoshiro draws in lanes", measure(run, walkers * steps, memory=False),
               note="one vectorised draw per walker-step, nothing else")


# ---------------------------------------------------------------------- the benchmarks
def run_fastwalk_lattice(threads: int):
    """The crossing as fastwalk users walk it: the implicit lattice walker (no CSR)."""
    model = LatticeWalk(Crossing.lines(3), 9)
    walkers, steps = JOBS["crossing"]
    numba.set_num_threads(threads)
    state = model.initial_state(rng.seed_states(1, 0, walkers))
    model.advance(state, 0, 2, True)
    record("crossing", f"{FASTWALK} lattice walker", measure(
        lambda: model.advance(state, 0, steps, True), walkers * steps), threads=threads,
        note="LatticeWalk (K = 3 lines, L = 9): the crossing without a CSR")


@pytest.mark.parametrize("job", SMALL)
def test_graph_walk_small(job):
    for threads in (1, 2):
        run_fastwalk(job, threads)
    lane_floor(job, alias=False)
    if job.endswith("weighted"):
        lane_floor(job, alias=True)
    if job == "crossing":
        for threads in (1, 2):
            run_fastwalk_lattice(threads)
    run_igraph(job)
    for threads in (1, 2):
        run_csrgraph(job, threads)
    run_graph_walker(job)
    run_networkx(job)


def test_graph_walk_large():
    """10^6 nodes, 10^7 edges: memory latency, against the pointer-chase floor."""
    job = "random-1e6"
    model = graph(job)
    chain = _chain(model.indices.size, 5)
    for chasers in (1, 16):
        for threads in (1, 2):
            record(job, f"floor: {chasers} pointer chase{'s' if chasers > 1 else ''}",
                   floor(chasers, threads, chain), unit="read",
                   threads=threads, note=f"int64 array of {model.indices.size:.2g} entries")
    del chain
    for threads in (1, 2):
        run_fastwalk(job, threads)
    run_igraph(job)
    for threads in (1, 2):
        run_csrgraph(job, threads)
    run_graph_walker(job)
    skipped(job, "networkx", reason="a networkx graph of 10^7 edges needs ~10 GB; not run")
