"""Cost of Euler–Maruyama under the original notebook's min-potential against its floor and its peers.

Run with ``pytest benchmarks/test_bench_potential.py -s``. Figures, all
measured in the same run (best of several repeats; wall time with every numba
thread unless said otherwise), for U = a·min((x0 − b)², (x1 − b)²) on a box
(``Crossing.lines(2)``), histogram accumulation on:

- ``ns per walker-step``: one Euler–Maruyama step of one walker;
- ``step / two normal draws``: over two ``rng.normal(s)`` in a jitted
  ``prange`` loop over the same walkers (the floor: a step needs two normals);
  target <= 1.5;
- ``step / two normals in lanes``: over the same two draws made the way the
  2-D kernel makes them, vectorised across walkers (``rng.normal_rows``:
  the fast path in SIMD lanes; ``rng.redraw_lanes``: misses rewound and
  redrawn): the floor of this kernel's design;
- ``numpy / step``: a vectorised NumPy Euler–Maruyama over all walkers
  (``Generator.normal`` for the noise, ``np.bincount`` for the histogram)
  over our walker-step; target >= 5;
- ``python notebook / step``: a per-step, per-walker Python loop as a
  notebook writes it over our walker-step; target >= 300;
- ``2-thread speed-up``: 1-thread time over 2-thread time; target >= 1.8;
- the same for D = 10 (``Crossing.lines(10)``, general kernel) against ten
  normal draws and NumPy.
"""

from __future__ import annotations

import numba
import numpy as np
from conftest import best_time
from numba import prange

from fastwalk import rng
from fastwalk._jit import pjit
from fastwalk.crossing import Crossing
from fastwalk.models.potential import PotentialBrownian

GROUP = "potential"
WALKERS = 20_000
STEPS = 200
NUMPY_STEPS = 20
PYTHON_WALKERS, PYTHON_STEPS = 100, 100


@pjit(cache=False)
def _normal_floor(states, draws):
    total = np.zeros(states.shape[0])
    for w in prange(states.shape[0]):
        s = states[w]
        acc = 0.0
        for _ in range(draws):
            acc += rng.normal(s)
        total[w] = acc
    return total.sum()


@pjit(cache=False)
def _lane_normal_floor(states, draws, blocks):
    totals = np.zeros(blocks)
    for block in prange(blocks):
        lanes = np.empty((4, rng.LANES), dtype=np.uint64)
        sums = np.zeros(rng.LANES)
        z = np.empty((2, rng.LANES))
        lo, hi = block * states.shape[0] // blocks, (block + 1) * states.shape[0] // blocks
        for first in range(lo, hi, rng.LANES):
            count = min(rng.LANES, hi - first)
            rng.load_lanes(states, first, count, lanes)
            for _ in range(draws // 2):
                missed = rng.normal_rows(lanes, count, count, z, 2)
                if missed:
                    rng.redraw_lanes(lanes, missed, states, first, z, 2)
                for i in range(count):
                    sums[i] += z[0, i] + z[1, i]
            rng.store_lanes(lanes, count, states, first)
        totals[block] = sums.sum()
    return totals.sum()


def make(crossing):
    return PotentialBrownian(crossing, a=1.0, center=5.0, box=10.0, temperature=0.5, dt=0.05)


def per_step(model, threads=None, walkers=WALKERS, steps=STEPS):
    """Best seconds per walker-step of ``model.advance`` (histograms counted)."""
    state = model.initial_state(rng.seed_states(1, 0, walkers))
    model.advance(state, -50, 50, False)  # compile, and leave the center
    before = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        return best_time(lambda: model.advance(state, 0, steps, True)) / (walkers * steps)
    finally:
        numba.set_num_threads(before)


def numpy_euler_maruyama(x, pins, center, box, a, dt, temperature, bins, steps, generator):
    """Vectorised NumPy Euler–Maruyama over all walkers, with the 2-D histogram."""
    noise = np.sqrt(2 * temperature * dt)
    histogram = np.zeros(bins * bins, dtype=np.int64)
    for _ in range(steps):
        d = x - center
        d -= box * np.round(d / box)
        q = np.stack([(d[:, list(p)] ** 2).sum(axis=1) for p in pins], axis=1)
        best = q.argmin(axis=1)
        mask = np.zeros_like(x, dtype=bool)
        for k, p in enumerate(pins):
            mask[np.ix_(best == k, list(p))] = True
        x = x - dt * 2 * a * d * mask + noise * generator.normal(size=x.shape)
        x %= box
        index = np.minimum((x[:, :2] * (bins / box)).astype(np.int64), bins - 1)
        histogram += np.bincount(index[:, 0] * bins + index[:, 1], minlength=bins * bins)
    return x, histogram


def notebook_loop(positions, a, b, box, dt, temperature, steps, generator):
    """A notebook's way: Python loops over steps and walkers, NumPy per walker-step."""
    noise = np.sqrt(2 * temperature * dt)
    for _ in range(steps):
        for w in range(len(positions)):
            x = positions[w]
            d = (x - b + box / 2) % box - box / 2
            grad = np.zeros(2)
            if d[0] ** 2 < d[1] ** 2:
                grad[0] = 2 * a * d[0]
            else:
                grad[1] = 2 * a * d[1]
            positions[w] = (x - grad * dt + noise * generator.normal(size=2)) % box
    return positions


def test_potential_step_cost(benchmark, ratio_report):
    model = make(Crossing.lines(2))
    state = model.initial_state(rng.seed_states(1, 0, WALKERS))
    model.advance(state, -50, 50, False)
    benchmark.pedantic(model.advance, args=(state, 0, STEPS, True), rounds=5, warmup_rounds=1)

    step = per_step(model)
    states = rng.seed_states(2, 0, WALKERS)
    normals = best_time(lambda: _normal_floor(states, 2 * STEPS)) / (WALKERS * STEPS)
    blocks = numba.get_num_threads()
    lane_normals = best_time(lambda: _lane_normal_floor(states, 2 * STEPS, blocks)) / (
        WALKERS * STEPS)

    generator = np.random.default_rng(3)
    start = np.random.default_rng(4).uniform(0, 10.0, size=(WALKERS, 2))
    numpy = best_time(
        lambda: numpy_euler_maruyama(start, model.crossing.pins, model.center, 10.0, 1.0, 0.05,
                                     0.5, model.bins, NUMPY_STEPS, generator),
        repeat=3,
    ) / (WALKERS * NUMPY_STEPS)
    small = start[:PYTHON_WALKERS].copy()
    python = best_time(
        lambda: notebook_loop(small, 1.0, 5.0, 10.0, 0.05, 0.5, PYTHON_STEPS, generator),
        repeat=2,
    ) / (PYTHON_WALKERS * PYTHON_STEPS)

    one, two = per_step(model, threads=1), per_step(model, threads=2)
    no_histogram_state = model.initial_state(rng.seed_states(1, 0, WALKERS))
    bare = best_time(lambda: model.advance(no_histogram_state, 0, STEPS, False)) / (
        WALKERS * STEPS)

    ratio_report(GROUP, "2-D lines: ns per walker-step (all threads)", step * 1e9)
    ratio_report(GROUP, "2-D lines: ns per two normal draws (floor)", normals * 1e9)
    ratio_report(GROUP, "2-D lines: step / two normal draws", step / normals, "target <= 1.5")
    ratio_report(GROUP, "2-D lines: step without histogram / two normals", bare / normals)
    ratio_report(GROUP, "2-D lines: ns per two normals drawn in SIMD lanes", lane_normals * 1e9)
    ratio_report(GROUP, "2-D lines: step / two normals drawn in SIMD lanes", step / lane_normals)
    ratio_report(GROUP, "2-D lines: numpy vectorised / step (speed-up)", numpy / step,
                 "target >= 5")
    ratio_report(GROUP, "2-D lines: python notebook / step (speed-up)", python / step,
                 "target >= 300")
    ratio_report(GROUP, "2-D lines: python notebook ns per walker-step", python * 1e9)
    ratio_report(GROUP, "2-D lines: 2-thread speed-up (1 thread / 2 threads)", one / two,
                 "target >= 1.8")
    assert step > 0 and python > step


def test_potential_ten_dimensions(ratio_report):
    walkers = WALKERS // 4
    for name, crossing in [("D=10 lines", Crossing.lines(10)),
                           ("D=10 hyperplanes", Crossing.hyperplanes(10))]:
        model = make(crossing)
        step = per_step(model, walkers=walkers)
        states = rng.seed_states(2, 0, walkers)
        normals = best_time(lambda s=states: _normal_floor(s, 10 * STEPS)) / (walkers * STEPS)
        generator = np.random.default_rng(5)
        start = np.random.default_rng(6).uniform(0, 10.0, size=(walkers, 10))
        numpy = best_time(
            lambda m=model, c=crossing, x=start, g=generator: numpy_euler_maruyama(
                x, c.pins, m.center, 10.0, 1.0, 0.05, 0.5, m.bins, NUMPY_STEPS, g),
            repeat=3,
        ) / (walkers * NUMPY_STEPS)
        one = per_step(model, threads=1, walkers=walkers)
        two = per_step(model, threads=2, walkers=walkers)
        ratio_report(GROUP, f"{name}: ns per walker-step", step * 1e9)
        ratio_report(GROUP, f"{name}: step / ten normal draws", step / normals)
        ratio_report(GROUP, f"{name}: numpy vectorised / step (speed-up)", numpy / step)
        ratio_report(GROUP, f"{name}: 2-thread speed-up", one / two)
