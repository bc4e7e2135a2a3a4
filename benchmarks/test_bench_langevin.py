"""Cost of the langevin model's steps against their floor, a hand-written kernel, and compile time.

Run with ``pytest benchmarks/test_bench_langevin.py -s``. Figures, all
measured in the same run (best CPU time of nine interleaved rounds, one
numba thread, so that the ratios are per-core costs), for
the 2-D polynomial U = x0²·x1⁴ + (x0² + x1²)/2 on the reflecting box
[−1, 1]², T = 0.3, dt = 0.01:

- ``EM step / two normal draws``: one Euler–Maruyama walker-step (energy
  sums and histograms counted) over two ``rng.normal(s)`` in a jitted
  ``prange`` loop over the same walkers (the floor: a step needs two
  normals); target <= 2;
- ``MALA step / two normal draws``: the same for MALA (two normals, one
  uniform, two energy-and-gradient evaluations per step); target <= 3;
- ``... / two normals in lanes``: the same steps over two normals drawn the
  way the kernels draw them, in SIMD lanes (``rng.normal_rows`` and
  ``rng.redraw_lanes``): the floor of the kernels' design;
- ``typed expression / hand-written pair``: the EM step of the typed
  expression over the same kernel calling hand-written jitted
  ``energy``/``gradient`` functions; target <= 1.3;
- ``typed expression / hand-written loop``: the EM step without counting
  (``accumulate=False``) over a self-contained hand-written numba EM loop for
  this U with the same reflection (no energy sums, no histograms);
  target <= 1.3;
- ``compile, cold`` and ``compile, cached``: CPU seconds of a fresh
  process that builds the model of a new expression and runs one EM step,
  with an empty cache directory and then with the cache the first process
  left; and of one that only imports (the floor).
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numba
import numpy as np
from conftest import report
from numba import prange
from test_bench_potential import _lane_normal_floor, _normal_floor

from fastwalk import rng
from fastwalk._jit import pjit
from fastwalk.models.langevin import LangevinBrownian

GROUP = "langevin"
WALKERS = 5_000
STEPS = 200
POLYNOMIAL = "x0**2 * x1**4 + (x0**2 + x1**2)/2"
SETTINGS = dict(box=2.0, temperature=0.3, dt=0.01, start="uniform")


@numba.njit(cache=False)
def hand_energy(x):
    """U = x0²·x1⁴ + (x0² + x1²)/2, written by hand."""
    a, b = x[0], x[1]
    b2 = b * b
    return a * a * b2 * b2 + 0.5 * (a * a + b2)


@numba.njit(cache=False)
def hand_gradient(x, out):
    """∇U, written by hand."""
    a, b = x[0], x[1]
    b2 = b * b
    out[0] = 2.0 * a * b2 * b2 + a
    out[1] = 4.0 * a * a * b2 * b + b


@numba.njit(cache=False, inline="always")
def _reflect(v):
    if -1.0 <= v < 1.0:
        return v
    y = (v + 1.0) % 4.0
    return -1.0 + (4.0 - y if y > 2.0 else y)


@pjit(cache=False)
def hand_loop(positions, states, steps, dt, noise):
    """A self-contained Euler–Maruyama loop for this U on the reflecting box [−1, 1]²."""
    for w in prange(positions.shape[0]):
        s = states[w]
        a, b = positions[w, 0], positions[w, 1]
        for _ in range(steps):
            b2 = b * b
            g0 = 2.0 * a * b2 * b2 + a
            g1 = 4.0 * a * a * b2 * b + b
            a = _reflect(a - dt * g0 + noise * rng.normal(s))
            b = _reflect(b - dt * g1 + noise * rng.normal(s))
        positions[w, 0], positions[w, 1] = a, b


@pjit(cache=False)
def hand_loop_pairs(positions, states, steps, dt, noise):
    """:func:`hand_loop` with two walkers per iteration: their dependent chains overlap."""
    for p in prange(positions.shape[0] // 2):
        s, t = states[2 * p], states[2 * p + 1]
        a, b = positions[2 * p, 0], positions[2 * p, 1]
        c, d = positions[2 * p + 1, 0], positions[2 * p + 1, 1]
        for _ in range(steps):
            b2, d2 = b * b, d * d
            g0, h0 = 2.0 * a * b2 * b2 + a, 2.0 * c * d2 * d2 + c
            g1, h1 = 4.0 * a * a * b2 * b + b, 4.0 * c * c * d2 * d + d
            a = _reflect(a - dt * g0 + noise * rng.normal(s))
            b = _reflect(b - dt * g1 + noise * rng.normal(s))
            c = _reflect(c - dt * h0 + noise * rng.normal(t))
            d = _reflect(d - dt * h1 + noise * rng.normal(t))
        positions[2 * p, 0], positions[2 * p, 1] = a, b
        positions[2 * p + 1, 0], positions[2 * p + 1, 1] = c, d


def _interleaved(functions: dict, rounds: int = 9) -> dict:
    """Best CPU seconds of each function over ``rounds`` rounds, one call of each per round.

    With one numba thread the process's CPU time is the kernel's own: on a
    machine shared with other jobs the wall time of one thread stretches
    with the load (several times over here), its CPU time does not.
    Interleaving keeps what load effects remain (caches) alike on both sides
    of every ratio.
    """
    for fn in functions.values():
        fn()  # compile
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(rounds):
        for name, fn in functions.items():
            t0 = time.process_time()
            fn()
            best[name] = min(best[name], time.process_time() - t0)
    return best


def _stepper(model, accumulate=True):
    state = model.initial_state(rng.seed_states(1, 0, WALKERS))
    model.advance(state, -20, 20, False)  # compile, and leave the start
    return lambda: model.advance(state, 0, STEPS, accumulate)


def test_langevin_step_cost(benchmark):
    em = LangevinBrownian(POLYNOMIAL, 2, method="em", **SETTINGS)
    mala = LangevinBrownian(POLYNOMIAL, 2, method="mala", **SETTINGS)
    pair = LangevinBrownian(hand_energy, 2, gradient=hand_gradient, method="em", **SETTINGS)
    benchmark.pedantic(_stepper(em), rounds=3, warmup_rounds=1)

    states = rng.seed_states(2, 0, WALKERS)
    positions = np.random.default_rng(3).uniform(-1, 1, size=(WALKERS, 2))
    noise = math.sqrt(2 * 0.3 * 0.01)
    previous = numba.get_num_threads()
    numba.set_num_threads(1)  # per-core costs: no thread start-up or imbalance in the ratios
    try:
        best = _interleaved({
            "normals": lambda: _normal_floor(states, 2 * STEPS),
            "lane normals": lambda: _lane_normal_floor(states, 2 * STEPS, 1),
            "em": _stepper(em), "mala": _stepper(mala), "pair": _stepper(pair),
            "bare": _stepper(em, accumulate=False),
            "loop": lambda: hand_loop(positions, states, STEPS, 0.01, noise),
            "pairs": lambda: hand_loop_pairs(positions, states, STEPS, 0.01, noise),
        })
    finally:
        numba.set_num_threads(previous)
    ns = {name: seconds / (WALKERS * STEPS) * 1e9 for name, seconds in best.items()}

    report(GROUP, "2-D polynomial, 1 thread: ns per two normal draws (floor)", ns["normals"])
    report(GROUP, "2-D polynomial, 1 thread: EM ns per walker-step", ns["em"])
    report(GROUP, "2-D polynomial: EM step / two normal draws", ns["em"] / ns["normals"],
           "target <= 2")
    report(GROUP, "2-D polynomial, 1 thread: MALA ns per walker-step", ns["mala"])
    report(GROUP, "2-D polynomial: MALA step / two normal draws", ns["mala"] / ns["normals"],
           "target <= 3")
    report(GROUP, "2-D polynomial, 1 thread: ns per two normals drawn in SIMD lanes",
           ns["lane normals"])
    report(GROUP, "2-D polynomial: EM step / two normals in lanes", ns["em"] / ns["lane normals"])
    report(GROUP, "2-D polynomial: MALA step / two normals in lanes",
           ns["mala"] / ns["lane normals"])
    report(GROUP, "2-D polynomial: typed expression / hand-written pair", ns["em"] / ns["pair"],
           "target <= 1.3")
    report(GROUP, "2-D polynomial: typed EM, not counting / hand-written loop",
           ns["bare"] / ns["loop"], "target <= 1.3")
    # the same step written by hand, one walker at a time, nothing counted: what the loop's
    # dependent chain x -> grad U(x) -> x' costs beside the draws it waits on
    report(GROUP, "2-D polynomial, 1 thread: hand-written EM loop, ns per walker-step", ns["loop"])
    report(GROUP, "2-D polynomial: hand-written EM loop / two normal draws",
           ns["loop"] / ns["normals"])
    report(GROUP, "2-D polynomial: hand-written EM loop, two walkers interleaved / two normal draws",
           ns["pairs"] / ns["normals"])


_COMPILE = """
import sys, time
import numpy as np
from fastwalk import rng
from fastwalk.models.langevin import LangevinBrownian
if sys.argv[1] == "run":
    model = LangevinBrownian({text!r}, 2, box=2.0, temperature=0.3, dt=0.01)
    state = model.initial_state(rng.seed_states(1, 0, 4))
    model.advance(state, 0, 1, True)
print(time.process_time())  # CPU seconds of the whole process: robust to other jobs' load
"""


def test_langevin_compile_time(tmp_path):
    # a new expression each run, so that "cold" is cold whatever numba cached before
    text = f"x0**2 * x1**4 + {time.time_ns() % 10**9}e-12 * x0"
    script = _COMPILE.format(text=text)
    env = {"FASTWALK_CACHE_DIR": str(tmp_path)}

    def seconds(mode):
        import os

        out = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True)
        return float(out.stdout.split()[-1])

    floor = seconds("import")
    cold = seconds("run")
    cached = min(seconds("run") for _ in range(2))
    report(GROUP, "compile: new expression, cold (CPU s, incl. imports)", cold)
    report(GROUP, "compile: same expression, cached (CPU s, incl. imports)", cached)
    report(GROUP, "compile: imports alone (CPU s)", floor)
    assert cached < cold
