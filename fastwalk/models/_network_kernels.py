"""Kernels of the network model: n·L_n(w), its gradient, and EM and MALA steps on heap arrays.

The loss and gradient are hand-written backpropagation; a step moves one walker at a time.

The network is described by arrays the kernels index (built by
:class:`fastwalk.models.network.NetworkLangevin`): ``widths`` [L + 1], the parameter
offsets ``w_offsets``/``b_offsets`` [L] of each layer's weight W_l [out, in] (row-major)
and bias (−1: none), ``a_offsets`` [L] of each layer's activations in the work buffers.
Matrix products (one per layer forward, two backward) go to BLAS through ``np.dot``
above :data:`SMALL_PRODUCT` multiply-adds and are loops below it; the rest are loops in a
fixed order, so a walker's numbers depend on its
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


#: below this many multiply-adds a matrix product is a loop here, above it a BLAS call
#: (a BLAS call and the 2-D views it needs cost ~0.3 µs: more than a small network's step)
SMALL_PRODUCT = 4096


@jit(cache=True, inline="always")
def _product_nt(a, a0, rows, inner, b, b0, cols, out, o0):
    """out[o0:] = a[a0:]·b[b0:]ᵀ, row-major blocks a [rows, inner], b [cols, inner], out [rows, cols]."""
    if rows * inner * cols > SMALL_PRODUCT:
        np.dot(a[a0:a0 + rows * inner].reshape(rows, inner),
               b[b0:b0 + cols * inner].reshape(cols, inner).T,
               out[o0:o0 + rows * cols].reshape(rows, cols))
        return
    for i in range(rows):
        for j in range(cols):
            s = 0.0
            for k in range(inner):
                s += a[a0 + i * inner + k] * b[b0 + j * inner + k]
            out[o0 + i * cols + j] = s


@jit(cache=True, inline="always")
def _product_tn(a, a0, rows, left, b, b0, right, out, o0):
    """out[o0:] = a[a0:]ᵀ·b[b0:], blocks a [rows, left], b [rows, right], out [left, right]."""
    if rows * left * right > SMALL_PRODUCT:
        np.dot(a[a0:a0 + rows * left].reshape(rows, left).T,
               b[b0:b0 + rows * right].reshape(rows, right),
               out[o0:o0 + left * right].reshape(left, right))
        return
    for j in range(left):
        for k in range(right):
            s = 0.0
            for i in range(rows):
                s += a[a0 + i * left + j] * b[b0 + i * right + k]
            out[o0 + j * right + k] = s


@jit(cache=True, inline="always")
def _product_nn(a, a0, rows, inner, b, b0, cols, out, o0):
    """out[o0:] = a[a0:]·b[b0:], blocks a [rows, inner], b [inner, cols], out [rows, cols]."""
    if rows * inner * cols > SMALL_PRODUCT:
        np.dot(a[a0:a0 + rows * inner].reshape(rows, inner),
               b[b0:b0 + inner * cols].reshape(inner, cols),
               out[o0:o0 + rows * cols].reshape(rows, cols))
        return
    for i in range(rows):
        for k in range(cols):
            s = 0.0
            for j in range(inner):
                s += a[a0 + i * inner + j] * b[b0 + j * cols + k]
            out[o0 + i * cols + k] = s


@jit(cache=True)
def loss_gradient(w, x, y, labels, widths, w_offsets, b_offsets, a_offsets, activation, loss,
                  pre, post, delta_a, delta_b, grad):
    """Return U = n·L_n(w) and write ∇U into ``grad``.

    ``x`` [n·in] and ``y`` [n·out] are the data row-major and flat; ``pre``/``post`` hold
    the layers' pre- and post-activations (n·Σ widths[1:]), ``delta_a``/``delta_b`` the
    back-propagated errors (n·max widths each), all row-major [n, width] blocks.
    """
    layers = widths.shape[0] - 1
    n = x.shape[0] // widths[0]
    h, h0 = x, 0
    for layer in range(layers):
        fan_in, fan_out, z0 = widths[layer], widths[layer + 1], a_offsets[layer]
        _product_nt(h, h0, n, fan_in, w, w_offsets[layer], fan_out, pre, z0)
        b0 = b_offsets[layer]
        kind = activation if layer < layers - 1 else IDENTITY
        for i in range(n):
            for j in range(fan_out):
                v = pre[z0 + i * fan_out + j]
                if b0 >= 0:
                    v += w[b0 + j]
                    pre[z0 + i * fan_out + j] = v
                post[z0 + i * fan_out + j] = _act(v, kind)
        h, h0 = post, z0
    outputs = widths[layers]
    total = 0.0
    if loss == MSE:
        for i in range(n * outputs):
            r = h[h0 + i] - y[i]
            total += r * r
            delta_a[i] = 2.0 * r
    else:
        for i in range(n):
            row = h0 + i * outputs
            top = h[row]
            for j in range(1, outputs):
                top = max(top, h[row + j])
            s = 0.0
            for j in range(outputs):
                delta_a[i * outputs + j] = math.exp(h[row + j] - top)
                s += delta_a[i * outputs + j]
            total += top + math.log(s) - h[row + labels[i]]
            for j in range(outputs):
                delta_a[i * outputs + j] /= s
            delta_a[i * outputs + labels[i]] -= 1.0
    this, other = delta_a, delta_b
    for layer in range(layers - 1, -1, -1):
        fan_in, fan_out = widths[layer], widths[layer + 1]
        below, below0 = (x, 0) if layer == 0 else (post, a_offsets[layer - 1])
        _product_tn(this, 0, n, fan_out, below, below0, fan_in, grad, w_offsets[layer])
        b0 = b_offsets[layer]
        if b0 >= 0:
            for j in range(fan_out):
                grad[b0 + j] = 0.0
            for i in range(n):
                for j in range(fan_out):
                    grad[b0 + j] += this[i * fan_out + j]
        if layer > 0:
            _product_nn(this, 0, n, fan_out, w, w_offsets[layer], fan_in, other, 0)
            for i in range(n * fan_in):
                other[i] *= _act_slope(pre[below0 + i], post[below0 + i], activation)
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
                if accumulate:  # the acceptance of counted steps only, as the typed kernels
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
                        if accumulate:
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


@jit(cache=True, nogil=True)
def advance_sgld(positions, states, steps, batch, boundary, lo, side, dt, temperature, gamma, anchor,
                 accumulate, energy_sum, energy_count, energy_now, x_data, y_data, labels, widths,
                 w_offsets, b_offsets, a_offsets, activation, loss, pre, post, delta_a, delta_b,
                 x_batch, y_batch, labels_batch, grad):
    """Advance each walker ``steps`` minibatch SGLD steps; return the first failing step or −1.

    A step draws ``batch`` uniforms (data indices i = ⌊u·n⌋, with replacement), evaluates
    Û = (n/B)·Σ_batch ℓ_i and its gradient at x (``a_offsets`` laid out for B rows), then d
    normals: x ← boundary(x − dt·(∇Û + T·γ·(x − w*)) + √(2T·dt)·ξ). No Metropolis step.
    ``energy_sum`` counts Û at x before the move (an unbiased estimate of U there).
    """
    walkers, dim = positions.shape
    inputs, outputs = widths[0], widths[widths.shape[0] - 1]
    n = x_data.shape[0] // inputs
    scale = n / batch
    noise = math.sqrt(2.0 * temperature * dt)
    gamma_t = gamma * temperature
    first_bad = -1
    for walker in range(walkers):
        x = positions[walker]
        s = states[walker]
        estimate = 0.0
        for step in range(steps):
            for k in range(batch):
                i = min(int(rng.uniform(s) * n), n - 1)
                for j in range(inputs):
                    x_batch[k * inputs + j] = x_data[i * inputs + j]
                if loss == MSE:
                    for j in range(outputs):
                        y_batch[k * outputs + j] = y_data[i * outputs + j]
                else:
                    labels_batch[k] = labels[i]
            estimate = scale * loss_gradient(x, x_batch, y_batch, labels_batch, widths, w_offsets,
                                             b_offsets, a_offsets, activation, loss, pre, post,
                                             delta_a, delta_b, grad)
            ok = math.isfinite(estimate)
            for j in range(dim):
                ok = ok and math.isfinite(grad[j])
            if not ok:
                if first_bad < 0 or step < first_bad:
                    first_bad = step
                break
            for j in range(dim):
                drift = scale * grad[j] + gamma_t * (x[j] - anchor[j])
                x[j] = _into_box(x[j] - dt * drift + noise * rng.normal(s), boundary, lo, side)
            if accumulate:
                energy_sum[walker] += estimate
                energy_count[walker] += 1
        if steps > 0:
            energy_now[walker] = estimate
    return first_bad
