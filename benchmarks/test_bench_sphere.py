"""Benchmarks of the sphere walks at n = 999 (run: pytest benchmarks/test_bench_sphere.py -s).

Figures are ratios measured in the same run: each method against the cost of
the normal draws its step needs (the floor), against a vectorised NumPy
geodesic walk and the original notebook's per-walker, per-step Householder loop,
the exact method's cost as n·D·dt/R² varies, and the 2-thread speed-up.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
from conftest import best_time
from numba import prange

from fastwalk import rng
from fastwalk._jit import pjit
from fastwalk.models import lineage
from fastwalk.models.sphere import SphereBrownian, lineage_distribution

DIM = 999
WALKERS = 512
STEPS = 40
RATE_DT = 0.01  # n·D·dt/R² per step


@pjit
def _normal_floor(states, steps, per_step):
    """Draw ``per_step`` normals per walker-step and nothing else (the floor)."""
    out = np.empty(states.shape[0])
    for w in prange(states.shape[0]):
        s = states[w]
        total = 0.0
        for _ in range(steps):
            for _ in range(per_step):
                total += rng.normal(s)
        out[w] = total
    return out


def _model(method, rate_dt=RATE_DT):
    return SphereBrownian(DIM, 1.0, 1.0 / DIM, rate_dt, method=method)


def _advance_timer(model, walkers=WALKERS, steps=STEPS):
    state = model.initial_state(rng.seed_states(1, 0, walkers))
    return lambda: model.advance(state, 0, steps, True)


def _interleaved(timers, rounds=7):
    """Return the best time of each timer, measured in alternation (load-fair)."""
    for fn in timers.values():
        fn()  # warm-up: compilation, tables
    best = dict.fromkeys(timers, math.inf)
    for _ in range(rounds):
        for name, fn in timers.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _per_walker_step(seconds, walkers=WALKERS, steps=STEPS):
    return 1e9 * seconds / (walkers * steps)


def numpy_geodesic(x, steps, tau, radius, generator):
    """Vectorised NumPy geodesic walk (all walkers at once, one step at a time)."""
    for _ in range(steps):
        g = generator.standard_normal(x.shape)
        k = np.einsum("ij,ij->i", x, g)[:, None] / radius**2
        v = g - k * x
        v_norm = np.linalg.norm(v, axis=1, keepdims=True)
        angle = math.sqrt(tau) * v_norm
        x = x * np.cos(angle) + radius * np.sin(angle) * v / v_norm
        x *= radius / np.linalg.norm(x, axis=1, keepdims=True)
    return x


def seed_householder_walk(positions, steps, chord, generator):
    """The original notebook's ring walk: a Python loop over walkers and steps.

    Each step samples a point of the (D−2)-sphere of radius ρ sin φ in the
    hyperplane e_D^⊥, reflects it into x^⊥ with the Householder reflection
    sending e_D to x/|x| (applied as a vector formula, not a matrix), and
    adds x cos φ.
    """
    size = positions.shape[1]
    for w in range(positions.shape[0]):
        x = positions[w]
        for _ in range(steps):
            rho = np.linalg.norm(x)
            cos_phi = 1.0 - chord**2 / (2.0 * rho**2)
            sin_phi = math.sqrt(max(0.0, 1.0 - cos_phi**2))
            u = np.zeros(size)
            u[:-1] = generator.standard_normal(size - 1)
            u *= rho * sin_phi / np.linalg.norm(u)
            v = -x / rho
            v[-1] += 1.0  # v = e_D − x̂; H = I − 2 v vᵀ/|v|² maps e_D to x̂
            u -= 2.0 * v * (v @ u) / (v @ v)
            x = x * cos_phi + u
        positions[w] = x
    return positions


def test_bench_geodesic(benchmark, ratio_report):
    benchmark(_advance_timer(_model("geodesic")))

    floor_states = rng.seed_states(2, 0, WALKERS)
    timers = {"floor": lambda: _normal_floor(floor_states, STEPS, DIM + 1)}
    for method in ("geodesic", "exact", "ring"):
        timers[method] = _advance_timer(_model(method))
    best = _interleaved(timers)
    floor = best["floor"]
    ratio_report("sphere", "floor: n+1 normals, ns per walker-step", _per_walker_step(floor))
    for method, normals in (("geodesic", DIM + 1), ("exact", DIM + 1), ("ring", DIM)):
        seconds = best[method]
        ratio_report("sphere", f"{method}: ns per walker-step (n = {DIM})",
                     _per_walker_step(seconds))
        per_normal_floor = floor * normals / (DIM + 1)
        target = "target <= 1.5" if method == "geodesic" else ""
        ratio_report("sphere", f"{method} / its {normals} normal draws", seconds / per_normal_floor,
                     target)

    generator = np.random.default_rng(5)
    start = np.zeros((WALKERS, DIM + 1))
    start[:, 0] = 1.0
    numpy_time = best_time(lambda: numpy_geodesic(start, STEPS, 2 * RATE_DT / DIM, 1.0, generator),
                           repeat=3)
    ratio_report("sphere", "vectorised NumPy geodesic / fastwalk geodesic",
                 numpy_time / best["geodesic"])

    chord = _model("ring").step_chord
    few_walkers, few_steps = 8, 25
    seed_time = best_time(
        lambda: seed_householder_walk(start[:few_walkers].copy(), few_steps, chord, generator),
        repeat=3)
    seed_per = seed_time / (few_walkers * few_steps)
    ratio_report("sphere", "seed Householder loop: ns per walker-step", 1e9 * seed_per)
    ratio_report("sphere", "seed Householder loop / fastwalk ring",
                 seed_per / (best["ring"] / (WALKERS * STEPS)))


def test_bench_exact_cost_vs_step_size(ratio_report):
    sizes = (1e-4, 1e-2, 1.0, 10.0)
    builds = {}
    lineage._lineage_table.cache_clear()  # time the builds, not the cache
    for rate_dt in sizes:
        t0 = time.perf_counter()
        builds[rate_dt] = lineage_distribution(DIM, 2.0 * rate_dt / DIM)[1].size
        builds[rate_dt] = (builds[rate_dt], time.perf_counter() - t0)
    timers = {"geodesic": _advance_timer(_model("geodesic"))}
    for rate_dt in sizes:
        timers[rate_dt] = _advance_timer(_model("exact", rate_dt))
    best = _interleaved(timers, rounds=5)
    for rate_dt in sizes:
        counts, build = builds[rate_dt]
        ratio_report("sphere-exact", f"nDdt/R²={rate_dt:g}: ns per draw ({counts} counts)",
                     _per_walker_step(best[rate_dt]))
        ratio_report("sphere-exact", f"nDdt/R²={rate_dt:g}: / geodesic",
                     best[rate_dt] / best["geodesic"])
        ratio_report("sphere-exact", f"nDdt/R²={rate_dt:g}: table build (s, once, cached)", build)


def test_bench_two_thread_speedup(ratio_report):
    available = numba.config.NUMBA_NUM_THREADS
    before = numba.get_num_threads()
    timer = _advance_timer(_model("geodesic"), walkers=2 * WALKERS)

    def with_threads(count):
        def run():
            numba.set_num_threads(count)
            timer()
        return run

    try:
        best = _interleaved({1: with_threads(1), 2: with_threads(min(2, available))})
    finally:
        numba.set_num_threads(before)
    ratio_report("sphere", f"geodesic speed-up, 2 threads vs 1 ({available} available)",
                 best[1] / best[2], "target >= 1.8")
