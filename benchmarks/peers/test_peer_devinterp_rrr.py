"""Reduced-rank regression linear:3-2-3 (12 parameters): fastwalk's network MALA beside devinterp's SGLD.

Run with ``pytest benchmarks/peers/test_peer_devinterp_rrr.py -s`` (needs torch and devinterp).

The work: x = √3·I₃ (n = 3, (1/n)Σxxᵀ = I), y = W0·x with W0 = diag(0.5, 0.3, 0) (rank 2 = H,
so the minimum is a regular orbit: Aoyagi & Watanabe's λ = (12 − 4)/2 = 4, m = 1), the local
law at w* (a factorisation B·A = W0) ∝ exp(−nβ·L_n(w) − γ/2·|w − w*|²), nβ = NBETA, γ = GAMMA,
L_n = (1/n)Σ|y_i − BAx_i|² (the same mean-of-summed-squares loss in both tools), and the local
λ̂ = nβ(⟨L_n⟩ − L_n(w*)). devinterp: ``SGMCMC.sgld`` (unadjusted, full batch, one chain per
model as its sampler runs them, one torch thread); fastwalk: ``NetworkLangevin`` MALA
(T = n/nβ, ``localize`` = γ, ``at`` = w*), 200 walkers, one thread. The exact answer
against which both λ̂ are compared is λ = 4 (finite nβ and γ bias both alike).
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np
from peerlib import FASTWALK, measure, peer, record, skipped

from fastwalk import rng
from fastwalk.analysis.llc import run_estimate
from fastwalk.models.network import NetworkLangevin

JOB = "local-llc-rrr-3-2-3"
UNIT = "chain-step"
NBETA, GAMMA = 1e4, 1.0
LR = 2e-5  # SGLD step ε: ε·nβ·(largest curvature of L_n ≈ 2)/2 ≈ 0.2
WALL_S = 3.0
BURN_IN = 1000
EXACT = 4.0


def _problem():
    x = np.sqrt(3.0) * np.eye(3)
    w0 = np.diag([0.5, 0.3, 0.0])
    a = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # A [2, 3]
    b = w0 @ a.T  # B [3, 2]: B·A = W0
    return x, x @ w0.T, np.concatenate([a.ravel(), b.ravel()])


def _model(dt):
    x, y, at = _problem()
    return NetworkLangevin("linear:3-2-3", (x, y), temperature=3 / NBETA, dt=dt, method="mala",
                           boundary="none", localize=GAMMA, at=at, start=at)


def _fastwalk_lambda(model, walkers, steps, seed=1):
    state = model.initial_state(rng.seed_states(seed, 0, walkers))
    model.advance(state, -BURN_IN, BURN_IN, False)
    model.advance(state, 0, steps, True)
    return run_estimate(1.0 / model.temperature, state["walker_energy_sum"],
                        state["walker_energy_count"])


def _sgld_chain(torch, optim, steps, seed=1):
    """One devinterp SGLD chain from w*; return the mean of L_n over its steps (as compute_llc)."""
    x, y, at = _problem()
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False), torch.nn.Linear(2, 3, bias=False))
    net = net.double()
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(at[:6].reshape(2, 3)))
        net[1].weight.copy_(torch.as_tensor(at[6:].reshape(3, 2)))
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    opt = optim.SGMCMC.sgld(list(net.parameters()), lr=LR, localization=GAMMA, nbeta=NBETA)
    total = 0.0
    for _ in range(steps):
        opt.zero_grad()
        loss = ((net(xt) - yt) ** 2).sum(dim=1).mean()
        loss.backward()
        opt.step()
        total += float(loss.detach())
    return total / steps


def test_rrr_local_llc_against_devinterp():
    numba.set_num_threads(1)
    chosen = _model("auto").for_run(1, 2000)
    walkers, steps = 200, 2000
    state = chosen.initial_state(rng.seed_states(1, 0, walkers))
    record(JOB, FASTWALK, measure(lambda: chosen.advance(state, 0, steps, True), walkers * steps),
           unit=UNIT, note=f"network MALA, dt auto = {chosen.dt:.3g}")
    t0 = time.perf_counter()
    _fastwalk_lambda(chosen, walkers, steps)
    rounds = max(1, int(WALL_S / (time.perf_counter() - t0)))
    est = _fastwalk_lambda(chosen, walkers, steps * rounds)
    print(f"[{JOB}] fastwalk: λ̂ = {est['lambda_hat']:.4f} ± {est['lambda_hat_stderr']:.4f} "
          f"in ~{WALL_S} s, |error| {abs(est['lambda_hat'] - EXACT):.4f} (exact {EXACT})")

    torch = peer("torch")
    optim = peer("devinterp.optim", "devinterp")
    if torch is None or optim is None:
        skipped(JOB, "devinterp", "devinterp", unit=UNIT)
        return
    torch.set_num_threads(1)
    record(JOB, "devinterp", measure(lambda: _sgld_chain(torch, optim, 2000), 2000, repeat=3),
           unit=UNIT, note="SGMCMC.sgld, full batch, one chain per model")
    t0, values = time.perf_counter(), []
    while time.perf_counter() - t0 < WALL_S:
        values.append(NBETA * _sgld_chain(torch, optim, 2000, seed=len(values) + 1))
    mean = float(np.mean(values))
    spread = float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
    print(f"[{JOB}] devinterp SGLD: λ̂ = {mean:.4f} ± {spread:.4f} from {len(values)} chains "
          f"in ~{WALL_S} s, |error| {abs(mean - EXACT):.4f}")
