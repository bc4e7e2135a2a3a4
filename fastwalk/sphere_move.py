"""The ring move on a hypersphere, a kernel-level function (numba).

:func:`move_on_sphere` moves a point x to a uniform point of the ring
``{y : |y| = ρ = |x|, |y − x| = chord}``, ``cos φ = 1 − chord²/(2ρ²)``: the
sphere model's ``ring`` step and :func:`fastwalk.perturb.perturb`'s sample
(both import it from here). Its geometry:

1. draw ``g`` = D−1 standard normals, a uniform direction in the hyperplane
   ``e_D^⊥`` once normalised (``e_D`` is the reference axis, the last one);
2. map it into ``x^⊥`` with the Householder reflection ``H`` that sends
   ``e_D`` to ``−sign(x_D)·x̂``. Its vector is ``v = e_D + sign(x_D)·x̂``, whose
   last component ``1 + |x̂_D|`` is at least 1, so no cancellation happens for
   any direction of ``x``, including ``x`` along or against ``e_D``. ``H`` is
   applied as ``Hg = g − 2 (v·g)/|v|² v`` without forming the matrix;
3. ``y = x cos φ + ρ sin φ · Hg/|g|``, then ``y`` is rescaled to ``|y| = ρ``
   so norms do not drift over millions of repeated moves.
"""

from __future__ import annotations

import math

from fastwalk import rng
from fastwalk._jit import jit

__all__ = ["ANTIPODE_TOLERANCE", "move_on_sphere", "ring_move"]

# A chord within this fraction of 2ρ (about 10 ulp) is the antipode: near
# φ = π the ring radius ρ sin φ ~ ρ·sqrt(2(2 − h)) is so sensitive to the chord
# that rounding in ρ would otherwise leave a spurious ring of radius ~1e-8·ρ.
ANTIPODE_TOLERANCE = 1e-14


@jit(inline="always")
def ring_move(s, x, chord, normals, dest):
    """Write into ``dest`` a uniform point at distance ``chord`` from ``x``, ``|dest| = |x|``.

    ``normals`` receives the D−1 normals; ``dest`` may be ``x`` itself (a move
    in place) or ``normals`` (component ``i`` of both is read before
    ``dest[i]`` is written). The point is rescaled onto ``|y| = ρ = |x|`` by
    ``y_i − y_i·c`` with ``c = 1 − ρ/|y|``: applying the correction as a small
    difference rounds each component once, without bias; multiplying by a
    rounded factor ``ρ/|y|`` ≈ 1 would not (the float grid is twice as coarse
    just above 1 as just below), and repeated moves would drift off the sphere
    by ~1e-11 per 10^6 steps.
    """
    dim = x.shape[0]
    last = dim - 1
    normals_sq = 0.0
    x_dot_g = 0.0
    x_sq = 0.0
    for i in range(last):
        g = rng.normal(s)
        normals[i] = g
        normals_sq += g * g
        x_dot_g += x[i] * g
        x_sq += x[i] * x[i]
    while normals_sq == 0.0:  # all D−1 normals exactly 0: probability ~2^-60 or less
        for i in range(last):
            g = rng.normal(s)
            normals[i] = g
            normals_sq += g * g
            x_dot_g += x[i] * g
    x_last = x[last]
    x_sq += x_last * x_last
    inv_normals = 1.0 / math.sqrt(normals_sq)  # independent of x: off the critical path
    # A ring walk is one long chain of dependent steps, so latency counts: the
    # divisions and square roots below are few and mostly independent of each other
    rho = math.sqrt(x_sq)
    inv_rho = 1.0 / rho
    inv_x_sq = inv_rho * inv_rho
    chord_sq = chord * chord
    # h = 1 − cos φ = chord²/(2ρ²), clamped to [0, 2] (a chord a rounding error above 2ρ is
    # the antipode)
    h = min(0.5 * chord_sq * inv_x_sq, 2.0)
    if h >= 2.0 - 2.0 * ANTIPODE_TOLERANCE:
        for i in range(dim):
            dest[i] = -x[i]
        return
    if h == 0.0:
        for i in range(dim):
            dest[i] = x[i]
        return
    cos_phi = 1.0 - h
    # ρ sin φ = chord·sqrt(4ρ² − chord²)/(2ρ); divided by |g| it scales the normals
    ring_term = math.sqrt(max(4.0 * x_sq - chord_sq, 0.0))
    scale_u = (0.5 * chord * inv_normals) * ring_term * inv_rho
    sign = 1.0 if x_last >= 0.0 else -1.0
    # Hg_i = g_i − x_i (x·g) / (ρ (ρ + |x_D|))  for i < D−1,  Hg_D = −sign (x·g)/ρ
    k = x_dot_g * inv_rho / (rho + abs(x_last))
    y_sq = 0.0
    for i in range(last):
        y = x[i] * cos_phi + scale_u * (normals[i] - k * x[i])
        dest[i] = y
        y_sq += y * y
    y = x_last * cos_phi - scale_u * sign * x_dot_g * inv_rho
    dest[last] = y
    y_sq += y * y
    # 1 − ρ/|y| = δ/2 + O(δ²) with δ = (|y|² − ρ²)/ρ², a few ulp: δ² is far below
    # rounding. The two sums are that close, so their difference is exact.
    correction = 0.5 * (y_sq - x_sq) * inv_x_sq
    for i in range(dim):
        dest[i] -= dest[i] * correction


@jit(inline="always")
def move_on_sphere(s, x, chord, scratch):
    """Move ``x`` in place to a uniform point at distance ``chord`` on its sphere.

    The new point is drawn uniformly from ``{y : |y| = ρ, |y − x| = chord}``
    with ``ρ = |x|``: ``y = x cos φ + ρ sin φ · u``, ``cos φ = 1 − chord²/(2ρ²)``,
    ``u`` uniform on the unit sphere of ``x^⊥``, obtained by the Householder
    reflection sending ``e_D`` to ``−sign(x_D)·x̂`` applied to D−1 normalised
    normals (stable for every direction of ``x``). The result is rescaled to
    ``|y| = ρ`` to rounding. ``chord = 0`` leaves ``x`` unchanged and
    ``chord = 2ρ`` (to ~1e-14 relative, or above) gives exactly ``−x``.

    Parameters
    ----------
    s : STATE_DTYPE record
        The generator state ``states[w]``, advanced in place. Exactly D−1
        normals are drawn, ``scratch[i] = rng.normal(s)`` for ``i = 0 .. D−2``
        in order, whatever the chord (a further D−1 only in the probability
        ~0 event that all of them are exactly zero).
    x : numpy.ndarray
        1-D float64 vector of length ``D >= 2`` with ``|x| > 0``; overwritten.
    chord : float
        Distance to move, ``0 <= chord <= 2|x|`` (not checked).
    scratch : numpy.ndarray
        1-D float64 work array of the same length as ``x``; overwritten.
    """
    ring_move(s, x, chord, scratch, x)
