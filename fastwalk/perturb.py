"""Weight initialisation and ε-perturbation on hyperspheres.

Kaiming-normal weights of a layer with fan-in ``d`` and ``D`` entries lie near
the shell ``|w| = √D·σ``; the *thin-shell* initialisation samples that sphere
exactly (a normalised Gaussian vector). An ε-perturbation of ``w0`` then draws
a point uniformly from

    {w : |w| = |w0|, |w − w0| = ε},

a (D−2)-sphere of radius ``ρ sin φ`` centred at ``w0 cos φ``, where
``ρ = |w0|`` and ``cos φ = 1 − ε²/(2ρ²)``.

The one implementation of that move is :func:`move_on_sphere`, a kernel-level
function shared with the sphere model's ``ring`` walk (a ring step is one
ε-perturbation of the current position). Its geometry:

1. draw ``g`` = D−1 standard normals, a uniform direction in the hyperplane
   ``e_D^⊥`` once normalised (``e_D`` is the reference axis, the last one);
2. map it into ``x^⊥`` with the Householder reflection ``H`` that sends
   ``e_D`` to ``−sign(x_D)·x̂``. Its vector is ``v = e_D + sign(x_D)·x̂``, whose
   last component ``1 + |x̂_D|`` is at least 1, so no cancellation happens for
   any direction of ``x``, including ``x`` along or against ``e_D``. ``H`` is
   applied as ``Hg = g − 2 (v·g)/|v|² v`` without forming the matrix;
3. ``y = x cos φ + ρ sin φ · Hg/|g|``, then ``y`` is rescaled to ``|y| = ρ``
   so norms do not drift over millions of repeated moves.

Random numbers come from the per-sample xoshiro256++ streams of
:mod:`fastwalk.rng`: sample ``j`` of a call with seed ``s`` uses stream
``(s, first_sample + j)``, so results do not depend on the thread count or on
how samples are split between calls.
"""

from __future__ import annotations

import math

import numpy as np

from fastwalk import rng
from fastwalk._jit import jit

__all__ = [
    "move_on_sphere",
]

# A chord within this fraction of 2ρ (about 10 ulp) is the antipode: near
# φ = π the ring radius ρ sin φ ~ ρ·sqrt(2(2 − h)) is so sensitive to the chord
# that rounding in ρ would otherwise leave a spurious ring of radius ~1e-8·ρ.
_ANTIPODE_TOLERANCE = 1e-14


@jit(inline="always")
def _ring_point(s, x, chord, out):
    """Write into ``out`` a uniform point at distance ``chord`` from ``x``.

    ``out`` (distinct from ``x``) first receives the D−1 normals, then the
    unnormalised point. Returns the factor ``ρ/|out|`` that puts ``out`` on the
    sphere ``|y| = ρ = |x|``.
    """
    dim = x.shape[0]
    last = dim - 1
    normals_sq = 0.0
    x_dot_g = 0.0
    x_sq = 0.0
    for i in range(last):
        g = rng.normal(s)
        out[i] = g
        normals_sq += g * g
        x_dot_g += x[i] * g
        x_sq += x[i] * x[i]
    while normals_sq == 0.0:  # all D−1 normals exactly 0: probability ~2^-60 or less
        for i in range(last):
            g = rng.normal(s)
            out[i] = g
            normals_sq += g * g
            x_dot_g += x[i] * g
    x_sq += x[last] * x[last]
    rho = math.sqrt(x_sq)
    # h = 1 − cos φ, clamped to [0, 2] (a chord a rounding error above 2ρ is the antipode)
    h = min(0.5 * chord * chord / x_sq, 2.0)
    if h >= 2.0 - 2.0 * _ANTIPODE_TOLERANCE:
        for i in range(dim):
            out[i] = -x[i]
        return 1.0
    if h == 0.0:
        for i in range(dim):
            out[i] = x[i]
        return 1.0
    cos_phi = 1.0 - h
    sin_phi = math.sqrt(h * (2.0 - h))
    scale_u = rho * sin_phi / math.sqrt(normals_sq)
    sign = 1.0 if x[last] >= 0.0 else -1.0
    # Hg_i = g_i − x_i (x·g) / (ρ (ρ + |x_D|))  for i < D−1,  Hg_D = −sign (x·g)/ρ
    k = x_dot_g / (rho * (rho + abs(x[last])))
    y_sq = 0.0
    for i in range(last):
        y = x[i] * cos_phi + scale_u * (out[i] - k * x[i])
        out[i] = y
        y_sq += y * y
    y = x[last] * cos_phi - scale_u * sign * x_dot_g / rho
    out[last] = y
    y_sq += y * y
    return rho / math.sqrt(y_sq)


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
    factor = _ring_point(s, x, chord, scratch)
    for i in range(x.shape[0]):
        x[i] = scratch[i] * factor
