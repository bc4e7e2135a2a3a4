"""Pure-Python/NumPy reference for the langevin model's EM and MALA steps.

Written from the definitions in fastwalk/models/_langevin_kernels.py's
docstring, one walker at a time, with its own stream from ``naive_rng``
(d normals per step in coordinate order; MALA draws one uniform when the
proposal is not refused at a reflecting wall).
U and ∇U are NumPy functions printed from the same SymPy expression.
"""

from __future__ import annotations

import math

import numpy as np
from naive_rng import Xoshiro256pp


def into_box(v, boundary, lo, side):
    """Reflect, wrap or keep one coordinate (the kernel's rule)."""
    if boundary == "none" or lo <= v < lo + side:
        return v
    if boundary == "periodic":
        v = v - side * math.floor((v - lo) / side)
        return lo if v >= lo + side else v
    y = (v - lo) % (2.0 * side)
    return lo + (2.0 * side - y if y > side else y)


def walk(energy, gradient, x, seed, walker, steps, *, method, boundary, lo, side, dt, temperature,
         gamma=0.0, anchor=None, skip=0):
    """Return (final x, Σ U after each step, accepted count) of one walker.

    ``gamma``: precision of the fixed Gaussian prior about ``anchor``.
    ``skip`` uniforms are drawn first (a uniform start draws d of them).
    """
    stream = Xoshiro256pp.for_walker(seed, walker)
    for _ in range(skip):
        stream.uniform()
    x = np.array(x, dtype=float)
    dim = x.size
    anchor = np.zeros(dim) if anchor is None else np.asarray(anchor, dtype=float)

    # the law is exp(-U/T - gamma/2 |x - x*|^2): U_s = U + T gamma/2 |x - x*|^2 at temperature T
    stiffness = temperature * gamma

    def sampled(p):
        u = float(energy(p))
        g = np.array(gradient(p), dtype=float)
        return u, u + 0.5 * stiffness * float(np.sum((p - anchor) ** 2)), g + stiffness * (p - anchor)

    noise = math.sqrt(2.0 * temperature * dt)
    u, us, g = sampled(x)
    total, accepted = 0.0, 0
    for _ in range(steps):
        xi = np.array([stream.normal() for _ in range(dim)])
        y = x - dt * g + noise * xi
        if method == "em":
            x = np.array([into_box(v, boundary, lo[j], side) for j, v in enumerate(y)])
            u, us, g = sampled(x)
        else:
            inside = boundary != "reflect" or bool(np.all((lo <= y) & (y <= lo + side)))
            if inside:
                y = np.array([into_box(v, boundary, lo[j], side) for j, v in enumerate(y)])
                uy, usy, gy = sampled(y)
                r = dt * (g + gy) - noise * xi
                log_ratio = 0.5 * float(xi @ xi) - float(r @ r) / (4.0 * temperature * dt)
                log_ratio -= (usy - us) / temperature
                if stream.uniform() < math.exp(min(log_ratio, 0.0)):
                    x, u, us, g = y, uy, usy, gy
                    accepted += 1
        total += u
    return x, total, accepted
