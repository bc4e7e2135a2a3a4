"""Kernels of the network model: n·L_n(w), its gradient, and EM and MALA steps on heap arrays.

The loss and gradient are hand-written backpropagation; a step moves one walker at a time.

The network is described by arrays the kernels index (built by
:class:`fastwalk.models.network.NetworkLangevin`): ``widths`` [L + 1], the parameter
offsets ``w_offsets``/``b_offsets`` [L] of each layer's weight W_l [out, in] (row-major)
and bias (−1: none), ``a_offsets`` [L] of each layer's activations in the work buffers.
Matrix products go to BLAS through ``np.dot`` (one call per layer forward, two
backward), the rest are loops in a fixed order, so a walker's numbers depend on its
parameters, its stream and the data only (not on threads or on other walkers).

The step of one walker (its numbers from its own stream): ξ_j = normal, j = 0 … d − 1
in order; y = x − dt·∇V(x) + √(2T·dt)·ξ with V = U + T·γ/2·|w − w*|², the drift of the
law ∝ exp(−U/T − γ/2·|w − w*|²) (the localizer is fixed, not divided by T). ``em``:
x ← boundary(y). ``mala``: refused outright when y leaves a reflecting box, else one
uniform u, accepted when u < exp(ρ), ρ = (V(x) − V(y))/T − |r|²/(4T·dt) + |ξ|²/2,
r = dt·(∇V(x) + ∇V(y)) − √(2T·dt)·ξ (periodic: V and ∇V at the wrapped point, r from
the unwrapped move). DESIGN.md, "Networks and data".
"""

import math

import numpy as np

from fastwalk import rng
from fastwalk._jit import jit

REFLECT, PERIODIC, NONE = 0, 1, 2
TANH, RELU, GELU, IDENTITY = 0, 1, 2, 3
MSE, XENT = 0, 1

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@jit(cache=True, inline="always")
def _act(z, activation):
    if activation == TANH:
        return math.tanh(z)
    if activation == RELU:
        return z if z > 0.0 else 0.0
    if activation == GELU:
        return 0.5 * z * (1.0 + math.erf(z * _SQRT_HALF))
    return z


@jit(cache=True, inline="always")
def _act_slope(z, a, activation):
    """Return σ′(z), given a = σ(z)."""
    if activation == TANH:
        return 1.0 - a * a
    if activation == RELU:
        return 1.0 if z > 0.0 else 0.0
    if activation == GELU:
        return 0.5 * (1.0 + math.erf(z * _SQRT_HALF)) + z * _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    return 1.0


@jit(cache=True)
def loss_gradient(w, x, y, labels, widths, w_offsets, b_offsets, a_offsets, activation, loss,
                  pre, post, delta_a, delta_b, grad):
    """Return U = n·L_n(w) and write ∇U into ``grad``.

    ``pre``/``post`` hold the layers' pre- and post-activations (n·Σ widths[1:]),
    ``delta_a``/``delta_b`` the back-propagated errors (n·max widths each).
    """
    n = x.shape[0]
    layers = widths.shape[0] - 1
    h = x
    for layer in range(layers):
        fan_in, fan_out = widths[layer], widths[layer + 1]
        weights = w[w_offsets[layer]:w_offsets[layer] + fan_out * fan_in].reshape(fan_out, fan_in)
        z = pre[a_offsets[layer]:a_offsets[layer] + n * fan_out].reshape(n, fan_out)
        np.dot(h, weights.T, z)
        if b_offsets[layer] >= 0:
            bias = w[b_offsets[layer]:b_offsets[layer] + fan_out]
            for i in range(n):
                for j in range(fan_out):
                    z[i, j] += bias[j]
        a = post[a_offsets[layer]:a_offsets[layer] + n * fan_out].reshape(n, fan_out)
        kind = activation if layer < layers - 1 else IDENTITY
        for i in range(n):
            for j in range(fan_out):
                a[i, j] = _act(z[i, j], kind)
        h = a
    outputs = widths[layers]
    delta = delta_a[:n * outputs].reshape(n, outputs)
    total = 0.0
    if loss == MSE:
        for i in range(n):
            for j in range(outputs):
                r = h[i, j] - y[i, j]
                total += r * r
                delta[i, j] = 2.0 * r
    else:
        for i in range(n):
            top = h[i, 0]
            for j in range(1, outputs):
                top = max(top, h[i, j])
            s = 0.0
            for j in range(outputs):
                delta[i, j] = math.exp(h[i, j] - top)
                s += delta[i, j]
            total += top + math.log(s) - h[i, labels[i]]
            for j in range(outputs):
                delta[i, j] /= s
            delta[i, labels[i]] -= 1.0
    this, other = delta_a, delta_b
    for layer in range(layers - 1, -1, -1):
        fan_in, fan_out = widths[layer], widths[layer + 1]
        dz = this[:n * fan_out].reshape(n, fan_out)
        if layer == 0:
            below = x
        else:
            below = post[a_offsets[layer - 1]:a_offsets[layer - 1] + n * fan_in].reshape(n, fan_in)
        gw = grad[w_offsets[layer]:w_offsets[layer] + fan_out * fan_in].reshape(fan_out, fan_in)
        np.dot(dz.T, below, gw)
        if b_offsets[layer] >= 0:
            gb = grad[b_offsets[layer]:b_offsets[layer] + fan_out]
            for j in range(fan_out):
                gb[j] = 0.0
            for i in range(n):
                for j in range(fan_out):
                    gb[j] += dz[i, j]
        if layer > 0:
            weights = w[w_offsets[layer]:w_offsets[layer] + fan_out * fan_in].reshape(fan_out, fan_in)
            da = other[:n * fan_in].reshape(n, fan_in)
            np.dot(dz, weights, da)
            z = pre[a_offsets[layer - 1]:a_offsets[layer - 1] + n * fan_in].reshape(n, fan_in)
            for i in range(n):
                for j in range(fan_in):
                    da[i, j] *= _act_slope(z[i, j], below[i, j], activation)
            this, other = other, this
    return total


@jit(cache=True, inline="always")
def _into_box(v, boundary, lo, side):
    if not math.isfinite(v):
        return v
    if boundary == REFLECT:
        while v < lo or v > lo + side:
            v = 2.0 * lo - v if v < lo else 2.0 * (lo + side) - v
        return v
    if boundary == PERIODIC:
        u = v - side * math.floor((v - lo) / side)
        return u if u < lo + side else lo
    return v


@jit(cache=True, inline="always")
def _anchor_term(x, anchor, gamma_t):
    """Return T·γ/2·|x − x*|²."""
    if gamma_t == 0.0:
        return 0.0
    s = 0.0
    for j in range(x.shape[0]):
        s += (x[j] - anchor[j]) ** 2
    return 0.5 * gamma_t * s


@jit(cache=True, nogil=True)
def advance(positions, states, steps, mala, boundary, lo, side, dt, temperature, gamma, anchor,
            accumulate, energy_sum, energy_count, accepted, proposed, energy_now,
            x_data, y_data, labels, widths, w_offsets, b_offsets, a_offsets, activation, loss,
            pre, post, delta_a, delta_b):
    """Advance each walker (rows of ``positions``) ``steps`` steps; return the first failing step or −1.

    The walkers are done one after the other, each for all ``steps``; ``energy_now`` receives
    each walker's U at its last position.
    """
    walkers, dim = positions.shape
    noise = math.sqrt(2.0 * temperature * dt)
    gamma_t = gamma * temperature
    inv_t = 1.0 / temperature
    gx = np.empty(dim)
    y = np.empty(dim)
    yw = np.empty(dim)
    gy = np.empty(dim)
    xi = np.empty(dim)
    first_bad = -1
    for walker in range(walkers):
        x = positions[walker]
        s = states[walker]
        ux = loss_gradient(x, x_data, y_data, labels, widths, w_offsets, b_offsets, a_offsets,
                           activation, loss, pre, post, delta_a, delta_b, gx)
        for step in range(steps):
            for j in range(dim):
                xi[j] = rng.normal(s)
            outside = False
            for j in range(dim):
                drift = gx[j] + gamma_t * (x[j] - anchor[j])
                y[j] = x[j] - dt * drift + noise * xi[j]
                yw[j] = _into_box(y[j], boundary, lo, side)
                if boundary == REFLECT and yw[j] != y[j]:
                    outside = True
            if not mala:
                for j in range(dim):
                    x[j] = yw[j]
                ux = loss_gradient(x, x_data, y_data, labels, widths, w_offsets, b_offsets, a_offsets,
                                   activation, loss, pre, post, delta_a, delta_b, gx)
                ok = math.isfinite(ux)
                for j in range(dim):
                    ok = ok and math.isfinite(gx[j])
                if not ok:
                    if first_bad < 0 or step < first_bad:
                        first_bad = step
                    break
            else:
                proposed[walker] += 1
                if not outside:
                    uy = loss_gradient(yw, x_data, y_data, labels, widths, w_offsets, b_offsets,
                                       a_offsets, activation, loss, pre, post, delta_a, delta_b, gy)
                    rho = (ux + _anchor_term(x, anchor, gamma_t) - uy
                           - _anchor_term(yw, anchor, gamma_t)) * inv_t
                    quad = 0.0
                    for j in range(dim):
                        r = dt * (gx[j] + gamma_t * (x[j] - anchor[j]) + gy[j]
                                  + gamma_t * (yw[j] - anchor[j])) - noise * xi[j]
                        rho += 0.5 * xi[j] * xi[j]
                        quad += r * r
                    rho -= quad * inv_t / (4.0 * dt)
                    if math.isnan(rho) or rho == math.inf:
                        if first_bad < 0 or step < first_bad:
                            first_bad = step
                        break
                    if rho > -math.inf and rng.uniform(s) < math.exp(min(rho, 0.0)):
                        accepted[walker] += 1
                        ux = uy
                        for j in range(dim):
                            x[j] = yw[j]
                            gx[j] = gy[j]
            if accumulate:
                energy_sum[walker] += ux
                energy_count[walker] += 1
        energy_now[walker] = ux
    return first_bad


@jit(cache=True)
def energies(positions, out, x_data, y_data, labels, widths, w_offsets, b_offsets, a_offsets,
             activation, loss, pre, post, delta_a, delta_b, grads):
    """Write U at each row of ``positions`` into ``out`` and ∇U into the rows of ``grads``."""
    for walker in range(positions.shape[0]):
        out[walker] = loss_gradient(positions[walker], x_data, y_data, labels, widths, w_offsets,
                                    b_offsets, a_offsets, activation, loss, pre, post, delta_a,
                                    delta_b, grads[walker])
