"""Cost of ε-perturbation on hyperspheres against its floor and the original notebook's NumPy loop.

Run with ``pytest benchmarks/test_bench_perturb.py -s``. For D = 10^3 and 10^6
the figures, all measured in the same run, are:

- ``perturb / normals``: ``perturb`` of m samples over the time to draw the
  same m × D standard normals with fastwalk's streams, in parallel the same
  way (the floor: every sample needs D − 1 of them);
- ``seed loop / perturb``: the original notebook's per-sample loop rewritten in NumPy
  (``tests/naive_perturb.seed_loop``: NumPy's normals, the Householder
  reflection applied without the matrix) over ``perturb``: the speed-up;
- nanoseconds per output entry, for orientation.

The ring walk (``move_on_sphere`` applied repeatedly, the sphere model's
``ring`` step) is also timed per step at D = 3 against drawing its 2 normals.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import best_time

from fastwalk import rng
from fastwalk._jit import jit
from fastwalk.perturb import move_on_sphere, perturb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import naive_perturb  # noqa: E402

CASES = {1_000: 2_000, 1_000_000: 4}  # D: samples m
RING_STEPS = 1_000_000


@pytest.mark.parametrize("dim", sorted(CASES))
def test_perturb_cost(benchmark, ratio_report, dim):
    m = CASES[dim]
    w0 = np.random.default_rng(0).normal(size=dim)
    epsilon = 0.3 * np.linalg.norm(w0)

    def fast():
        return perturb(w0, epsilon, m=m, seed=1)

    def floor():
        return rng.draws(rng.seed_states(1, 0, m), dim, "normal")

    generator = np.random.default_rng(2)

    def seed_loop():
        return naive_perturb.seed_loop(w0, epsilon, m, generator)

    result = benchmark(fast)
    assert result.shape == (m, dim)
    t_fast = best_time(fast)
    t_floor = best_time(floor)
    t_seed = best_time(seed_loop, repeat=3)
    group = f"perturb D={dim:.0e}"
    ratio_report(group, f"perturb / {m}x{dim} normals (floor)", t_fast / t_floor, "close to 1")
    ratio_report(group, "seed's NumPy loop / perturb (speed-up)", t_seed / t_fast, "> 1")
    ratio_report(group, "perturb ns per entry", t_fast / (m * dim) * 1e9)


@jit(cache=False)
def _ring_walk(states, x, chord, steps):
    s = states[0]
    scratch = np.empty_like(x)
    for _ in range(steps):
        move_on_sphere(s, x, chord, scratch)
    return x[0]


@jit(cache=False)
def _normals(states, count):
    s = states[0]
    total = 0.0
    for _ in range(count):
        total += rng.normal(s)
    return total


def test_ring_step_cost(benchmark, ratio_report):
    x = np.array([0.0, 0.6, 0.8])

    def walk():
        return _ring_walk(rng.seed_states(3, 0, 1), x.copy(), 0.1, RING_STEPS)

    def normals():
        return _normals(rng.seed_states(3, 0, 1), 2 * RING_STEPS)

    benchmark(walk)
    t_walk = best_time(walk)
    t_normals = best_time(normals)
    ratio_report("ring D=3", "move_on_sphere step / its 2 normals", t_walk / t_normals, "< 3")
    ratio_report("ring D=3", "move_on_sphere ns per step", t_walk / RING_STEPS * 1e9)
