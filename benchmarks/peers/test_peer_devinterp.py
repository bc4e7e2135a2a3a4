"""The local learning coefficient: fastwalk's MALA beside devinterp's SGLD on a 2-D toy loss.

Run with ``pytest benchmarks/peers/test_peer_devinterp.py -s`` (needs the
``peers`` extra; devinterp needs torch: install the CPU wheel first,
``pip install torch==2.13.0``, then ``pip install devinterp``).

The work: the local posterior of U(w) = w0²·w1² at its crossing w* = 0,
∝ exp(−nβ·U(w) − γ/2·|w − w*|²), nβ = 1000, γ = 10 (a localization width
1/√γ ≈ 0.3, wide against the valleys' width ~1/√(nβ)), and the local learning
coefficient λ̂ = nβ(⟨U⟩ − U(w*)). devinterp's SGLD (``SGMCMC.sgld``,
Lau et al. 2023) steps Δw = −(ε/2)(nβ∇U + γ(w − w*)) + N(0, ε), unadjusted,
so its law carries an O(ε) bias; fastwalk's ``langevin`` model runs MALA on
the same law (T = 1/nβ, ``localize`` = γ/nβ), exact at any dt. The truth is
the quadrature of that law (:mod:`fastwalk.analysis.quadrature`).

Figures:
- CPU ns per chain-step: devinterp as its sampler runs chains (one model, one
  chain at a time, one torch thread), and SGLD with 1000 chains batched in one
  tensor (not how devinterp runs them: a lower bound on its cost); fastwalk,
  1000 walkers, one thread.
- |λ̂ − exact| at equal wall time (``WALL_S`` seconds each): printed in the note.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
from peerlib import FASTWALK, measure, peer, record, skipped

from fastwalk import rng
from fastwalk.analysis.llc import run_estimate
from fastwalk.analysis.quadrature import model_quadrature
from fastwalk.models.langevin import LangevinBrownian

JOB = "local-llc-2d"
UNIT = "chain-step"
NBETA, GAMMA = 1000.0, 10.0
LR = 1e-4  # SGLD step ε: ε·nβ·max curvature/2 ~ 0.1 on the local law's support
DT = 0.05  # MALA step (same law at any dt)
BURN_IN = 2000  # fastwalk steps before averaging (along-valley relaxation ~ 1000 steps)
WALL_S = 2.0


def _model():
    return LangevinBrownian("x0**2 * x1**2", 2, box=2.0, boundary="none",
                            temperature=1.0 / NBETA, dt=DT, method="mala",
                            localize=GAMMA / NBETA, at=[0.0, 0.0])


def _exact(model) -> float:
    return NBETA * model_quadrature(model).mean_energy(NBETA)


def _fastwalk_lambda(model, walkers: int, steps: int, seed: int = 1) -> float:
    state = model.initial_state(rng.seed_states(seed, 0, walkers))
    model.advance(state, -BURN_IN, BURN_IN, False)
    model.advance(state, 0, steps, True)
    return run_estimate(NBETA, state["walker_energy_sum"], state["walker_energy_count"])


def _sgld_chains(torch, devinterp_optim, chains: int, steps: int, seed: int = 1):
    """Run ``chains`` SGLD chains batched in one tensor; return the mean of U over all steps.

    Like devinterp's ``compute_llc``, the mean runs over every step from w*.
    """
    torch.manual_seed(seed)
    w = torch.zeros((chains, 2), dtype=torch.float64, requires_grad=True)
    opt = devinterp_optim.SGMCMC.sgld([w], lr=LR, localization=GAMMA, nbeta=NBETA)
    total = 0.0
    for _ in range(steps):
        opt.zero_grad()
        u = (w[:, 0] ** 2 * w[:, 1] ** 2)
        u.sum().backward()
        opt.step()
        total += float(u.detach().sum())
    return total / (chains * steps)


def test_local_llc_against_devinterp():
    model = _model()
    exact = _exact(model)
    numba.set_num_threads(1)
    walkers, steps = 1000, 2000
    state = model.initial_state(rng.seed_states(1, 0, walkers))
    model.advance(state, 0, 2, True)
    record(JOB, FASTWALK, measure(lambda: model.advance(state, 0, steps, True), walkers * steps),
           unit=UNIT, note=f"MALA, exact λ̂ = {exact:.4f}")
    # equal wall time: as many steps as fit in WALL_S
    t0 = time.perf_counter()
    est = _fastwalk_lambda(model, walkers, steps)
    per_round = time.perf_counter() - t0
    rounds = max(1, int(WALL_S / per_round))
    est = _fastwalk_lambda(model, walkers, steps * rounds)
    fastwalk_error = abs(est["lambda_hat"] - exact)
    print(f"[{JOB}] fastwalk: λ̂ = {est['lambda_hat']:.4f} ± {est['lambda_hat_stderr']:.4f} "
          f"in ~{WALL_S} s, |error| {fastwalk_error:.4f} (exact {exact:.4f})")

    torch = peer("torch")
    devinterp_optim = peer("devinterp.optim", "devinterp")
    if torch is None or devinterp_optim is None:
        skipped(JOB, "devinterp", "devinterp", unit=UNIT)
        return
    torch.set_num_threads(1)
    sgld_steps = 2000
    record(JOB, "devinterp", measure(lambda: _sgld_chains(torch, devinterp_optim, 1, sgld_steps),
                                     sgld_steps, repeat=3),
           unit=UNIT, note="SGMCMC.sgld, one chain per model as devinterp's sampler runs them")
    record(JOB, "devinterp (1000 chains in one tensor)",
           measure(lambda: _sgld_chains(torch, devinterp_optim, 1000, 200), 1000 * 200, repeat=3),
           unit=UNIT, note="SGLD on a (1000, 2) tensor: not how devinterp runs chains")
    # equal wall time, devinterp as it runs: sequential chains of 2000 steps
    t0, values = time.perf_counter(), []
    while time.perf_counter() - t0 < WALL_S:
        values.append(NBETA * _sgld_chains(torch, devinterp_optim, 1, sgld_steps,
                                           seed=len(values) + 1))
    mean = float(np.mean(values))
    spread = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
    print(f"[{JOB}] devinterp SGLD: λ̂ = {mean:.4f} ± {spread:.4f} from {len(values)} chains "
          f"in ~{WALL_S} s, |error| {abs(mean - exact):.4f}")
