"""Cost of fastwalk's random draws against numba's own generators, same run.

Run with ``pytest benchmarks/test_bench_rng.py -s``. Each jitted loop sums one
draw per iteration (the sum keeps the draws from being optimised away); the
figures are ratios of best times of equal-length loops, plus nanoseconds per
draw for orientation. The target of the issue: one ``rng.normal`` costs no more
than numba's ``np.random.Generator(np.random.PCG64(...)).standard_normal()``.

The last benchmark times the first run of a representative simulation in a
fresh process with an empty ``NUMBA_CACHE_DIR`` (compilation) and the second
run with the cache it left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numba
import numpy as np
import pytest
from conftest import best_time

from fastwalk import rng
from fastwalk._jit import jit

DRAWS = 1_000_000
SMALL_BOUND = 1000  # Lemire branch, almost no rejection
LARGE_BOUND = 2**40 + 1  # mask branch, about half the words rejected


# cache=False: a cached kernel would keep an old copy of rng's inlined draws
@jit(cache=False)
def _fastwalk_normals(states, n):
    s = states[0]
    total = 0.0
    for _ in range(n):
        total += rng.normal(s)
    return total


@jit(cache=False)
def _fastwalk_uniforms(states, n):
    s = states[0]
    total = 0.0
    for _ in range(n):
        total += rng.uniform(s)
    return total


@jit(cache=False)
def _fastwalk_integers(states, n, bound):
    s = states[0]
    total = 0
    for _ in range(n):
        total += rng.integer(s, bound)
    return total


@jit(cache=False)
def _fastwalk_words(states, n):
    s = states[0]
    total = np.uint64(0)
    for _ in range(n):
        total ^= rng.next_u64(s)
    return total


@jit(cache=False)
def _pcg_normals(generator, n):
    total = 0.0
    for _ in range(n):
        total += generator.standard_normal()
    return total


@jit(cache=False)
def _pcg_uniforms(generator, n):
    total = 0.0
    for _ in range(n):
        total += generator.random()
    return total


@jit(cache=False)
def _pcg_integers(generator, n, bound):
    total = 0
    for _ in range(n):
        total += generator.integers(0, bound)
    return total


@jit(cache=False)
def _legacy_normals(n):
    total = 0.0
    for _ in range(n):
        total += np.random.standard_normal()  # noqa: NPY002 (numba's legacy generator, a peer)
    return total


@pytest.fixture
def states():
    return rng.seed_states(12345, 0, 1)


@pytest.fixture
def generator():
    return np.random.Generator(np.random.PCG64(12345))


def _ns(seconds):
    return seconds / DRAWS * 1e9


def test_normal_vs_numba_pcg64(benchmark, ratio_report, states, generator):
    benchmark(_fastwalk_normals, states, DRAWS)
    ours = best_time(lambda: _fastwalk_normals(states, DRAWS), repeat=7)
    pcg = best_time(lambda: _pcg_normals(generator, DRAWS), repeat=7)
    legacy = best_time(lambda: _legacy_normals(DRAWS), repeat=7)
    ratio_report("rng", "normal: rng.normal / Generator(PCG64).standard_normal", ours / pcg,
                 "<= 1")
    ratio_report("rng", "normal: rng.normal / legacy np.random.standard_normal", ours / legacy)
    ratio_report("rng", "normal: ns per rng.normal", _ns(ours))
    ratio_report("rng", "normal: ns per Generator(PCG64).standard_normal", _ns(pcg))


def test_uniform_vs_numba_pcg64(benchmark, ratio_report, states, generator):
    benchmark(_fastwalk_uniforms, states, DRAWS)
    ours = best_time(lambda: _fastwalk_uniforms(states, DRAWS), repeat=7)
    pcg = best_time(lambda: _pcg_uniforms(generator, DRAWS), repeat=7)
    ratio_report("rng", "uniform: rng.uniform / Generator(PCG64).random", ours / pcg, "<= 1")
    ratio_report("rng", "uniform: ns per rng.uniform", _ns(ours))


@pytest.mark.parametrize("bound", [SMALL_BOUND, LARGE_BOUND], ids=["lemire", "mask"])
def test_integer_vs_numba_pcg64(benchmark, ratio_report, states, generator, bound):
    benchmark(_fastwalk_integers, states, DRAWS, bound)
    ours = best_time(lambda: _fastwalk_integers(states, DRAWS, bound), repeat=7)
    pcg = best_time(lambda: _pcg_integers(generator, DRAWS, bound), repeat=7)
    name = f"integer(m={bound})"
    ratio_report("rng", f"{name}: rng.integer / Generator(PCG64).integers", ours / pcg, "<= 1")
    ratio_report("rng", f"{name}: ns per rng.integer", _ns(ours))


def test_raw_words(benchmark, ratio_report, states):
    benchmark(_fastwalk_words, states, DRAWS)
    words = best_time(lambda: _fastwalk_words(states, DRAWS), repeat=7)
    normals = best_time(lambda: _fastwalk_normals(states, DRAWS), repeat=7)
    ratio_report("rng", "raw: ns per rng.next_u64", _ns(words))
    ratio_report("rng", "raw: rng.normal / rng.next_u64 (ziggurat overhead)", normals / words)


def test_bulk_normals_vs_numpy(benchmark, ratio_report):
    walkers, per_walker = 1000, DRAWS // 1000
    states = rng.seed_states(7, 0, walkers)
    benchmark(rng.draws, states, per_walker, "normal")
    ours = best_time(lambda: rng.draws(states, per_walker, "normal"))
    numpy_generator = np.random.Generator(np.random.PCG64(7))
    plain = best_time(lambda: numpy_generator.standard_normal((walkers, per_walker)))
    ratio_report("rng", f"bulk: rng.draws ({numba.get_num_threads()} threads) / "
                 "NumPy standard_normal(size)", ours / plain, "<= 1")


_COLD_RUN = """
import json, time
t0 = time.perf_counter()
from fastwalk.engine import MemorySink, Simulation
from fastwalk.models.free import FreeBrownian
t1 = time.perf_counter()
Simulation(FreeBrownian(2), 100, 50, seed=1, every=10, progress=False,
           sinks=[MemorySink()]).run()
t2 = time.perf_counter()
Simulation(FreeBrownian(2), 100, 50, seed=2, progress=False).run()
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_run_s": t2 - t1, "second_run_s": t3 - t2}))
"""


def _fresh_process(cache_dir):
    environment = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    output = subprocess.run([sys.executable, "-c", _COLD_RUN], env=environment, check=True,
                            capture_output=True, text=True, timeout=600).stdout
    return json.loads(output.strip().splitlines()[-1])


def test_compile_time_first_run_vs_cached(ratio_report):
    with tempfile.TemporaryDirectory() as cache_dir:
        compiling = _fresh_process(cache_dir)
        cached = _fresh_process(cache_dir)
        assert os.listdir(cache_dir), "the first process should have filled the cache"
    ratio_report("compile", "free-Brownian run, empty cache: first run (s)",
                 compiling["first_run_s"])
    ratio_report("compile", "free-Brownian run, warm cache: first run (s)", cached["first_run_s"])
    ratio_report("compile", "same run again in-process, compiled (s)", cached["second_run_s"])
    ratio_report("compile", "import fastwalk.engine + free model (s)", cached["import_s"])
    ratio_report("compile", "empty-cache / warm-cache first run",
                 compiling["first_run_s"] / cached["first_run_s"])
