"""Cost of the lattice walker (K = 3 lines, L = 9) against its floor and its peers.

Run with ``pytest benchmarks/test_bench_lattice.py -s``. Figures, all measured
in the same run (best of several repeats; wall time with every numba thread
unless said otherwise):

- ``ns per walker-step``: one step of one walker, visit counting included;
- ``walk / integer draw``: over one ``rng.integer(s, 6)`` in a jitted
  ``prange`` loop over the same walkers (the floor: a step needs one such draw);
  target <= 3;
- ``python notebook / walk``: the original notebook's walker (a dict of neighbour
  lists and ``random.choice`` per step, one walker) over our walker-step;
  target >= 1000;
- ``networkx / walk``: a networkx graph's neighbour list and ``random.choice``
  per step, over our walker-step;
- ``2-thread speed-up``: 1-thread time over 2-thread time; target >= 1.8;
- the same ratios in CPU time (``time.process_time``, all threads summed):
  robust when other jobs share the 2 cores, which corrupts wall times.
  ``2-thread CPU efficiency`` = CPU per step with 1 thread / with 2 threads:
  1 means the threads do not slow each other (no false sharing), and the
  wall speed-up on an idle machine is then 2 × efficiency;
- for orientation: the CSR graph walker on ``crossing.to_csr(9)``, the general
  lattice kernel on the same crossing, and two planes in 3-D (general kernel).
"""

from __future__ import annotations

import random
import time

import networkx as nx
import numba
import numpy as np
import pytest
from conftest import best_time
from numba import prange

from fastwalk import rng
from fastwalk._jit import pjit
from fastwalk.crossing import Crossing
from fastwalk.models.graph import GraphWalk
from fastwalk.models.lattice import LatticeWalk

WALKERS = 20_000
STEPS = 500
PYTHON_STEPS = 200_000
GROUP = "lattice"


@pjit(cache=False)
def _integer_floor(states, steps, bound):
    total = np.zeros(states.shape[0], dtype=np.int64)
    for w in prange(states.shape[0]):
        s = states[w]
        acc = 0
        for _ in range(steps):
            acc += rng.integer(s, bound)
        total[w] = acc
    return total.sum()


@pjit(cache=False)
def _u64_floor(states, steps):
    total = np.zeros(states.shape[0], dtype=np.uint64)
    for w in prange(states.shape[0]):
        s = states[w]
        acc = np.uint64(0)
        for _ in range(steps):
            acc ^= rng.next_u64(s)
        total[w] = acc
    return total.sum()


def notebook_walk(adjacency: dict, start, steps: int, chooser: random.Random) -> dict:
    """The original notebook's way: neighbour lists in a dict, ``random.choice`` per step."""
    counts = dict.fromkeys(adjacency, 0)
    node = start
    for _ in range(steps):
        node = chooser.choice(adjacency[node])
        counts[node] += 1
    return counts


def numpy_notebook_walk(adjacency: dict, start, steps: int, generator) -> dict:
    """The same loop drawing each step with NumPy (``generator.choice`` per step)."""
    counts = dict.fromkeys(adjacency, 0)
    node = start
    for _ in range(steps):
        node = int(generator.choice(adjacency[node]))
        counts[node] += 1
    return counts


def networkx_walk(graph, start, steps: int, chooser: random.Random) -> dict:
    """A networkx user's way: the node's neighbour list and ``random.choice`` per step."""
    counts = dict.fromkeys(graph.nodes, 0)
    node = start
    for _ in range(steps):
        node = chooser.choice(list(graph.neighbors(node)))
        counts[node] += 1
    return counts


def best_cpu_time(fn, repeat: int = 5) -> float:
    """Best CPU time (all threads) of one call of ``fn`` over ``repeat`` tries (s)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def per_step(model, threads=None, clock=best_time):
    """Best seconds per walker-step of ``model.advance`` (visits counted)."""
    state = model.initial_state(rng.seed_states(1, 0, WALKERS))
    before = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        return clock(lambda: model.advance(state, 0, STEPS, True)) / (WALKERS * STEPS)
    finally:
        numba.set_num_threads(before)


def floor_per_draw(threads=None, clock=best_time):
    """Best seconds per ``rng.integer(s, 6)`` in a jitted prange loop over the walkers."""
    states = rng.seed_states(2, 0, WALKERS)
    before = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        return clock(lambda: _integer_floor(states, STEPS, 6)) / (WALKERS * STEPS)
    finally:
        numba.set_num_threads(before)


def test_lattice_walk_cost(benchmark, ratio_report):
    crossing, length = Crossing.lines(3), 9
    model = LatticeWalk(crossing, length)
    state = model.initial_state(rng.seed_states(1, 0, WALKERS))
    model.advance(state, 0, 10, True)  # compile
    benchmark.pedantic(model.advance, args=(state, 0, STEPS, True), rounds=5, warmup_rounds=1)

    walk = per_step(model)
    integer = floor_per_draw()
    states = rng.seed_states(2, 0, WALKERS)
    raw = best_time(lambda: _u64_floor(states, STEPS)) / (WALKERS * STEPS)
    walk_cpu = per_step(model, threads=1, clock=best_cpu_time)
    integer_cpu = floor_per_draw(threads=1, clock=best_cpu_time)
    cpu_two = per_step(model, threads=2, clock=best_cpu_time)

    indptr, indices = crossing.to_csr(length)
    adjacency = {u: indices[indptr[u]:indptr[u + 1]].tolist() for u in range(model.nodes)}
    chooser = random.Random(3)
    python = best_time(lambda: notebook_walk(adjacency, 0, PYTHON_STEPS, chooser),
                       repeat=3) / PYTHON_STEPS
    generator = np.random.default_rng(3)
    numpy_python = best_time(lambda: numpy_notebook_walk(adjacency, 0, PYTHON_STEPS // 10, generator),
                             repeat=3) / (PYTHON_STEPS // 10)
    graph = nx.Graph([(u, v) for u, row in adjacency.items() for v in row])
    networkx = best_time(lambda: networkx_walk(graph, 0, PYTHON_STEPS, chooser),
                         repeat=3) / PYTHON_STEPS

    one, two = per_step(model, threads=1), per_step(model, threads=2)
    csr = per_step(GraphWalk(indptr, indices))
    general_model = LatticeWalk(crossing, length)
    general_model._lines = False  # the general kernel on the same lattice
    general = per_step(general_model)
    planes = per_step(LatticeWalk(Crossing.planes_meeting_in_line(), length))

    ratio_report(GROUP, "ns per walker-step (K=3, L=9, all threads)", walk * 1e9)
    ratio_report(GROUP, "ns per integer draw (floor)", integer * 1e9)
    ratio_report(GROUP, "ns per next_u64 draw", raw * 1e9)
    ratio_report(GROUP, "walk / integer draw", walk / integer, "target <= 3")
    ratio_report(GROUP, "walk / next_u64 draw", walk / raw)
    ratio_report(GROUP, "python notebook / walk (speed-up)", python / walk, "target >= 1000")
    ratio_report(GROUP, "python notebook ns per step", python * 1e9)
    ratio_report(GROUP, "python loop + NumPy choice per step / walk (speed-up)",
                 numpy_python / walk, "target >= 1000")
    ratio_report(GROUP, "networkx random.choice / walk (speed-up)", networkx / walk)
    ratio_report(GROUP, "2-thread speed-up (1 thread / 2 threads)", one / two, "target >= 1.8")
    ratio_report(GROUP, "CPU time, 1 thread: ns per walker-step", walk_cpu * 1e9)
    ratio_report(GROUP, "CPU time, 1 thread: walk / integer draw", walk_cpu / integer_cpu,
                 "target <= 3")
    ratio_report(GROUP, "2-thread CPU efficiency (CPU/step 1 thread / 2 threads)",
                 walk_cpu / cpu_two, "1 = perfect")
    ratio_report(GROUP, "CSR graph walker / implicit walk", csr / walk)
    ratio_report(GROUP, "general kernel / lines kernel (K=3 lines)", general / walk)
    ratio_report(GROUP, "two planes L=9: ns per walker-step", planes * 1e9)
    ratio_report(GROUP, "two planes L=9 / integer draw", planes / integer)
    assert walk > 0 and python > walk


@pytest.mark.parametrize("lines, length", [(10, 10**6)])
def test_huge_lattice_step_cost(ratio_report, lines, length):
    """K = 10 lines of L = 10^6 (10^7 nodes): visit counts no longer fit in cache."""
    model = LatticeWalk(Crossing.lines(lines), length)
    state = model.initial_state(rng.seed_states(4, 0, 2000))
    model.advance(state, 0, 10, True)
    steps = 5000
    seconds = best_time(lambda: model.advance(state, 0, steps, True), repeat=3)
    per_step_ns = seconds / (2000 * steps) * 1e9
    ratio_report(GROUP, f"K={lines}, L={length}: ns per walker-step", per_step_ns)
