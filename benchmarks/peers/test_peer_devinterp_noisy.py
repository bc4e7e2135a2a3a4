"""Local λ̂ at the trained w* of reduced-rank regression on noisy data as n grows, beside devinterp.

Run with ``pytest benchmarks/peers/test_peer_devinterp_noisy.py -s`` (needs torch and devinterp
for the devinterp column; fastwalk's runs alone otherwise).

The model ``linear:3-2-3`` (y = B·A·x, d = 12). The data, for n = 10², 10³, 10⁴: x_i ~ N(0, I₃),
y_i = W0·x_i + ε_i with ε_i ~ N(0, ½·I₃) (the noise under which the loss |y − BAx|² is the
negative log-likelihood up to a constant), W0 = diag(1, 0.5, 0) of rank 2 = H. w* is
``fw.trained_point``. Both tools sample the same law ∝ exp(−nβ·L_n(w) − γ/2·|w − w*|²) with
nβ = n/log n (WBIC's and devinterp's default) and γ = 1, with no walls, and estimate
λ̂ = nβ·(⟨L_n⟩ − L_n(w*)) (Lau et al., AISTATS 2025, §3):

- fastwalk: ``NetworkLangevin`` (T = log n, ``localize`` = γ, ``at`` = ``start`` = w*), MALA with
  ``dt="auto"``, full batch, independent walkers; λ̂ and its standard error by ``run_estimate``;
- devinterp: its ``SGMCMC.sgld`` optimizer on the PyTorch module with w*'s weights (float64),
  with minibatches of 32 drawn without replacement each epoch (its sampler's default) and with
  the full batch, step ε = 0.05/(nβ·h_max + γ), where h_max is L_n's largest curvature at w*;
  8 chains of 1000 burn-in steps and 2000 draws; λ̂ per chain from the (minibatch) losses of
  the draws, mean ± standard error over chains.

The exact answer: the true set {B·A = W0} is, for W0 of rank H, one orbit of GL(2) (A → GA,
B → BG⁻¹), a smooth 4-dimensional manifold, so λ = (12 − 4)/2 = 4 at each of its points and
m = 1 (Aoyagi & Watanabe 2005, r = H). At finite n, the local law at w* is nearly Gaussian and
λ̂ approaches ½·Σ βh/(βh + γ) over the eigenvalues h of ∇²U(w*) (U = n·L_n, β = 1/log n): the
"Gaussian" column, which tends to 4 as βh ≫ γ.
"""

from __future__ import annotations

import math
import time

import numpy as np
from peerlib import peer

from fastwalk import rng
from fastwalk.analysis.llc import run_estimate
from fastwalk.models.network import NetworkLangevin
from fastwalk.networks import trained_point

SPEC, GAMMA, EXACT = "linear:3-2-3", 1.0, 4.0
W0 = np.diag([1.0, 0.5, 0.0])
WALKERS, STEPS, BURN_IN = 100, 1000, 1000
CHAINS, DRAWS, CHAIN_BURN_IN = 8, 2000, 1000
BATCHES = {"devinterp SGLD, batch 32": 32, "devinterp SGLD, full batch": None}


def _data(n: int, seed: int = 0):
    generator = np.random.default_rng(seed)
    x = generator.standard_normal((n, 3))
    return x, x @ W0.T + math.sqrt(0.5) * generator.standard_normal((n, 3))


def _hessian(model: NetworkLangevin, w: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """∇²U at w by central differences of the exact gradient (d = 12)."""
    points = np.concatenate([w + step * np.eye(w.size), w - step * np.eye(w.size)])
    _, gradients = model.energies_gradients(points)
    columns = (gradients[:w.size] - gradients[w.size:]) / (2 * step)
    return 0.5 * (columns + columns.T)


def _fastwalk(x, y, w_star, temperature, seed=1):
    model = NetworkLangevin(SPEC, (x, y), temperature=temperature, dt="auto", method="mala",
                            boundary="none", localize=GAMMA, at=w_star, start=w_star)
    model = model.for_run(WALKERS, STEPS + BURN_IN)
    u_star = float(model.energy(w_star[None, :])[0])
    state = model.initial_state(rng.seed_states(seed, 0, WALKERS))
    model.advance(state, -BURN_IN, BURN_IN, False)
    model.advance(state, 0, STEPS, True)
    estimate = run_estimate(1.0 / temperature, state["walker_energy_sum"],
                            state["walker_energy_count"], u_min=u_star)
    return estimate["lambda_hat"], estimate["lambda_hat_stderr"], model.dt


def _devinterp(torch, optim, x, y, w_star, nbeta, lr, batch):
    """devinterp SGLD chains from w*; λ̂ = nβ·(mean minibatch loss after burn-in − L_n(w*))."""
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    n = len(x)

    def loss_of(net, rows=slice(None)):
        return ((net(xt[rows]) - yt[rows]) ** 2).sum(dim=1).mean()

    values = []
    for chain in range(CHAINS):
        torch.manual_seed(chain)
        net = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False),
                                  torch.nn.Linear(2, 3, bias=False)).double()
        with torch.no_grad():
            torch.nn.utils.vector_to_parameters(torch.tensor(w_star), net.parameters())  # a copy
            init = float(loss_of(net))
        sgld = optim.SGMCMC.sgld(list(net.parameters()), lr=lr, localization=GAMMA, nbeta=nbeta)
        batches, total = [], 0.0
        for step in range(CHAIN_BURN_IN + DRAWS):
            if not batches:
                order = torch.randperm(n)
                batches = list(torch.split(order, batch or n))[::-1]
            sgld.zero_grad()
            loss = loss_of(net, batches.pop())
            loss.backward()
            sgld.step()
            if step >= CHAIN_BURN_IN:
                total += float(loss.detach())
        values.append(nbeta * (total / DRAWS - init))
    return float(np.mean(values)), float(np.std(values, ddof=1) / math.sqrt(CHAINS))


def test_local_llc_at_the_trained_point_as_n_grows_beside_devinterp():
    torch = peer("torch")
    optim = peer("devinterp.optim", "devinterp")
    if torch is not None:
        torch.set_num_threads(1)
    rows = []
    for n in (100, 1000, 10_000):
        x, y = _data(n)
        w_star = trained_point(SPEC, (x, y))
        temperature = math.log(n)  # nβ = n/log n
        plain = NetworkLangevin(SPEC, (x, y), boundary="none")
        h = np.linalg.eigvalsh(_hessian(plain, w_star))
        beta_h = np.clip(h, 0.0, None) / temperature  # the orbit's zero modes add nothing
        gaussian = 0.5 * float(np.sum(beta_h / (beta_h + GAMMA)))
        t0 = time.perf_counter()
        ours, ours_se, dt = _fastwalk(x, y, w_star, temperature)
        ours_s = time.perf_counter() - t0
        row = {"n": n, "gaussian": gaussian, "fastwalk": (ours, ours_se, ours_s, dt)}
        if optim is not None and torch is not None:
            nbeta = n / temperature
            lr = 0.05 / (nbeta * h.max() / n + GAMMA)
            for name, batch in BATCHES.items():
                t0 = time.perf_counter()
                theirs, theirs_se = _devinterp(torch, optim, x, y, w_star, nbeta, lr, batch)
                row[name] = (theirs, theirs_se, time.perf_counter() - t0)
        rows.append(row)
        # the local law at w* is nearly Gaussian: fastwalk's exact sampler must find its λ̂
        assert abs(ours - gaussian) < 0.05 * gaussian + 5 * ours_se, row
    print(f"\nlocal λ̂ at the trained w* of {SPEC} (noisy data, W0 of rank 2: λ = {EXACT:g}), "
          f"nβ = n/log n, γ = {GAMMA:g}; the Gaussian approximation at w*; value ± SE (seconds)")
    columns = ["fastwalk MALA", *(name for name in BATCHES if name in rows[0])]
    print(f"{'n':>6} {'Gaussian':>9} " + " ".join(f"{c:>28}" for c in columns))
    for row in rows:
        row["fastwalk MALA"] = row["fastwalk"][:3]
        cells = [f"{v:8.4f} ± {se:.4f} ({s:5.1f} s)" for v, se, s in (row[c] for c in columns)]
        print(f"{row['n']:>6} {row['gaussian']:>9.4f} " + " ".join(f"{c:>28}" for c in cells)
              + f"   fastwalk dt = {row['fastwalk'][3]:.3g}")
