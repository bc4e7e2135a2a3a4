"""Euler–Maruyama ensembles in the 2-D valleys potential: fastwalk beside torchsde, diffrax, sdeint.

Run with ``pytest benchmarks/peers/test_peer_sde.py -s``. The work: particles
under U(x) = a·min((x0 − b)², (x1 − b)²) with the minimum image on a
periodic box of side Λ (fastwalk's ``potential --lines 2``; a = 1, b = 5,
Λ = 10, T = 0.5, dt = 0.05), dX = −∇U dt + √(2T) dW, fixed steps, from the
center. Figures: CPU ns (all threads) per particle-step, best of the repeats.

- fastwalk: ``PotentialBrownian.advance`` with its histograms accumulated
  (more work than the peers do) and coordinates wrapped into the box;
- torchsde: ``torchsde.sdeint(method="euler")`` on a ``(particles, 2)``
  tensor, diagonal noise, only the end state saved, one torch thread;
- diffrax: ``diffeqsolve`` with ``Euler`` and an ``UnsafeBrownianPath`` (its
  fastest path for fixed steps), one particle per solve, ``jax.vmap`` over
  particles, ``jax.jit``-compiled once before timing;
- sdeint: ``sdeint.itoEuler`` (one particle per call, its NumPy loop).

The peers integrate the same drift with unwrapped coordinates (the drift
uses the minimum image, so the dynamics is the same modulo the box).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from peerlib import FASTWALK, measure, normal_floor, peer, record, skipped, version

from fastwalk import rng
from fastwalk.crossing import Crossing
from fastwalk.models.potential import PotentialBrownian

JOB = "euler-maruyama-2d"
UNIT = "particle-step"
A, CENTER, BOX, TEMPERATURE, DT = 1.0, 5.0, 10.0, 0.5, 0.05
SIGMA = math.sqrt(2 * TEMPERATURE)


def test_euler_maruyama_peers():
    model = PotentialBrownian(Crossing.lines(2), a=A, center=CENTER, box=BOX,
                              temperature=TEMPERATURE, dt=DT)
    walkers, steps = 20_000, 200
    for threads in (1, 2):
        numba.set_num_threads(threads)
        state = model.initial_state(rng.seed_states(1, 0, walkers))
        model.advance(state, 0, 2, True)
        record(JOB, FASTWALK, measure(lambda st=state: model.advance(st, 0, steps, True),
                                      walkers * steps), unit=UNIT, threads=threads,
               note="histograms accumulated, coordinates wrapped")
    numba.set_num_threads(1)
    record(JOB, "floor: two normal draws", normal_floor(walkers, steps, 2), unit=UNIT,
           note="rng.normal twice per particle-step, nothing else")
    run_bulk_normals(walkers * steps)
    run_torchsde()
    run_diffrax()
    run_sdeint()


def run_bulk_normals(count: int):
    """The same two normals per particle-step drawn in bulk by NumPy and torch (one thread)."""
    out = np.empty(2 * count)
    generator = np.random.default_rng(1)
    record(JOB, "floor: two normals, NumPy bulk", measure(lambda: generator.standard_normal(out=out),
                                                          count, memory=False),
           unit=UNIT, note="Generator.standard_normal into one float64 array (its ziggurat)")
    torch = peer("torch")
    if torch is None:
        return skipped(JOB, "floor: two normals, torch bulk", "torch", unit=UNIT)
    torch.set_num_threads(1)
    tensor = torch.empty(2 * count, dtype=torch.float32)
    return record(JOB, "floor: two normals, torch bulk",
                  measure(lambda: torch.randn(2 * count, out=tensor), count, memory=False),
                  unit=UNIT, note="torch.randn float32 into one tensor (vectorised Box–Muller)")


def run_torchsde():
    torch, torchsde = peer("torch"), peer("torchsde")
    if torch is None or torchsde is None:
        return skipped(JOB, "torchsde", "torchsde" if torchsde is None else "torch", unit=UNIT)
    torch.set_num_threads(1)

    class Valleys(torch.nn.Module):
        noise_type, sde_type = "diagonal", "ito"

        def f(self, t, y):
            d = torch.remainder(y - CENTER + BOX / 2, BOX) - BOX / 2
            first = (d[:, 0] ** 2 <= d[:, 1] ** 2).to(y.dtype)  # ties to the first valley
            return -2 * A * d * torch.stack([first, 1 - first], dim=1)

        def g(self, t, y):
            return torch.full_like(y, SIGMA)

    particles, steps = 20_000, 50
    y0 = torch.full((particles, 2), CENTER, dtype=torch.float64)
    times = torch.tensor([0.0, steps * DT], dtype=torch.float64)
    sde = Valleys()

    def solve():
        with torch.no_grad():
            return torchsde.sdeint(sde, y0, times, method="euler", dt=DT)

    record(JOB, f"torchsde {version('torchsde')}", measure(solve, particles * steps, repeat=3),
           unit=UNIT, note=f"torch {version('torch')}, one thread, end state saved")


def run_diffrax():
    jax, diffrax = peer("jax"), peer("diffrax")
    if jax is None or diffrax is None:
        return skipped(JOB, "diffrax", "diffrax" if diffrax is None else "jax", unit=UNIT)
    import jax.numpy as jnp
    import lineax

    jax.config.update("jax_enable_x64", True)
    particles, steps = 20_000, 100

    def drift(t, y, args):
        d = jnp.remainder(y - CENTER + BOX / 2, BOX) - BOX / 2
        first = d[0] ** 2 <= d[1] ** 2
        return -2 * A * d * jnp.where(first, jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]))

    def diffusion(t, y, args):
        return lineax.DiagonalLinearOperator(jnp.full(2, SIGMA))

    def one(key, y0):
        path = diffrax.UnsafeBrownianPath(shape=(2,), key=key)
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, path))
        return diffrax.diffeqsolve(terms, diffrax.Euler(), 0.0, steps * DT, dt0=DT, y0=y0,
                                   saveat=diffrax.SaveAt(t1=True), max_steps=steps + 1,
                                   adjoint=diffrax.ForwardMode()).ys

    solve = jax.jit(jax.vmap(one))
    keys = jax.random.split(jax.random.PRNGKey(0), particles)
    y0 = jnp.full((particles, 2), CENTER)
    record(JOB, f"diffrax {version('diffrax')}",
           measure(lambda: solve(keys, y0).block_until_ready(), particles * steps, repeat=3),
           unit=UNIT, note=f"jax {version('jax')} (CPU), vmapped, jitted once before timing")


def run_sdeint():
    sdeint = peer("sdeint")
    if sdeint is None:
        return skipped(JOB, "sdeint", unit=UNIT)

    def drift(x, t):
        d = np.remainder(x - CENTER + BOX / 2, BOX) - BOX / 2
        return -2 * A * d * (np.array([1.0, 0.0]) if d[0] ** 2 <= d[1] ** 2 else np.array([0.0, 1.0]))

    def noise(x, t):
        return np.diag([SIGMA, SIGMA])

    particles, steps = 4, 500
    times = np.linspace(0.0, steps * DT, steps + 1)
    generator = np.random.default_rng(1)

    def solve():
        for _ in range(particles):
            sdeint.itoEuler(drift, noise, np.full(2, CENTER), times, generator=generator)

    record(JOB, f"sdeint {version('sdeint')}", measure(solve, particles * steps, repeat=3),
           unit=UNIT, note="itoEuler, one particle per call")
