"""Brownian motion on S^99: fastwalk's geodesic and exact methods beside geomstats.

Run with ``pytest benchmarks/peers/test_peer_sphere.py -s``. The work: 512
particles on the unit sphere S^99 in R^100, D = 1/99, dt = 0.01 (n·D·dt/R² =
0.01 per step), from the pole. Figures: CPU ns (all threads) per
particle-step, best of the repeats.

- fastwalk ``geodesic``: a normal tangent step of variance 2·D·dt per
  coordinate, then the exponential map; ``exact``: a step drawn from the
  exact law of the angle (same cost class, exact for any dt);
- geomstats: the geodesic random walk as its users write it:
  ``Hypersphere(99).to_tangent`` of a NumPy normal draw, scaled, then
  ``metric.exp`` (NumPy backend), on the whole ensemble at once (its best
  case) and on one particle at a time;
- the floor: the 100 normal draws a step needs, and nothing else. geomstats 2.8 imports
  ``numpy.trapz``, which NumPy 2.4 removed: the benchmark aliases it to
  ``numpy.trapezoid`` before importing geomstats.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from peerlib import FASTWALK, measure, normal_floor, peer, record, skipped, version

from fastwalk import rng
from fastwalk.models.sphere import SphereBrownian

JOB = "sphere-S99"
UNIT = "particle-step"
DIM, DIFFUSION, DT = 99, 1.0 / 99, 0.01
PARTICLES = 512


def test_sphere_peers():
    steps = 200
    for method in ("geodesic", "exact"):
        model = SphereBrownian(DIM, 1.0, DIFFUSION, DT, method=method)
        for threads in (1, 2):
            numba.set_num_threads(threads)
            state = model.initial_state(rng.seed_states(1, 0, PARTICLES))
            model.advance(state, 0, 2, True)
            tool = FASTWALK if method == "geodesic" else f"{FASTWALK} (exact method)"
            record(JOB, tool, measure(lambda st=state, m=model: m.advance(st, 0, steps, True),
                                      PARTICLES * steps), unit=UNIT, threads=threads,
                   note=f"method={method}, observables accumulated")
    numba.set_num_threads(1)
    record(JOB, "floor: 100 normal draws", normal_floor(PARTICLES, steps, DIM + 1), unit=UNIT,
           note="rng.normal 100 times per particle-step, nothing else")
    run_geomstats()


def run_geomstats():
    if not hasattr(np, "trapz"):
        setattr(np, "trapz", np.trapezoid)  # noqa: B010 - geomstats 2.8 still imports it
    geomstats = peer("geomstats.geometry.hypersphere", "geomstats")
    if geomstats is None:
        return skipped(JOB, "geomstats", unit=UNIT)
    sphere = geomstats.Hypersphere(dim=DIM)
    generator = np.random.default_rng(1)
    scale = math.sqrt(2 * DIFFUSION * DT)
    steps = 50
    start = np.zeros((PARTICLES, DIM + 1))
    start[:, 0] = 1.0

    def walk(x, steps):
        for _ in range(steps):
            tangent = sphere.to_tangent(scale * generator.normal(size=x.shape), x)
            x = sphere.metric.exp(tangent, x)
        return x

    record(JOB, f"geomstats {version('geomstats')}",
           measure(lambda: walk(start, steps), PARTICLES * steps, repeat=3), unit=UNIT,
           note="to_tangent + metric.exp on the whole ensemble at once (NumPy backend)")
    record(JOB, f"geomstats {version('geomstats')}, one particle per call",
           measure(lambda: [walk(start[:1], steps) for _ in range(4)], 4 * steps, repeat=3),
           unit=UNIT, note="the same loop on one particle's (1, 100) array")
