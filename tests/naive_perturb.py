"""Pure-NumPy references for fastwalk.perturb: the original notebook's per-sample loop.

The seed samples a perturbation of ``w0`` one sample at a time (torch-style):
draw a point of the (D−2)-sphere of radius ``ρ sin φ`` in the hyperplane
orthogonal to ``n = e_D`` (D−1 normals, normalised, a zero appended), reflect
it with the Householder matrix ``H = I − 2ccᵀ/cᵀc``, ``c = n + ŵ0``, then
translate it by ``w0 cos φ``. (The original notebook's text writes ``ρ cos φ`` for the
radius where ``ρ sin φ`` is meant.) Here ``c = n + sign(w0_D)·ŵ0``: for
``w0_D >= 0`` that is the original notebook's vector; for ``w0_D < 0`` the sign avoids the
cancellation in ``1 + ŵ0_D`` that the original notebook's vector suffers when ``w0`` points
against ``n``, and it is the reflection fastwalk uses.

Fed the same normals as the kernel (``rng.draws(seed_states(seed, first, m),
D − 1)``), these agree with :func:`fastwalk.perturb.perturb` to rounding.
"""

from __future__ import annotations

import numpy as np


def householder_vector(w0):
    """Return the original notebook's ``c = e_D + sign(w0_D)·ŵ0`` (sign +1 when ``w0_D >= 0``)."""
    w0 = np.asarray(w0, dtype=np.float64).ravel()
    unit = w0 / np.linalg.norm(w0)
    sign = 1.0 if unit[-1] >= 0.0 else -1.0
    c = sign * unit
    c[-1] += 1.0
    return c


def householder_matrix(w0):
    """Return the explicit D×D reflection ``I − 2ccᵀ/cᵀc`` (small D only)."""
    c = householder_vector(w0)
    return np.eye(c.size) - 2.0 * np.outer(c, c) / (c @ c)


def perturb_loop(w0, epsilon, normals, explicit_matrix=False):
    """Perturb ``w0`` once per row of ``normals``, one sample at a time.

    Parameters
    ----------
    w0 : array_like
        Baseline (flattened), ``D >= 2`` entries.
    epsilon : float
        Absolute distance, ``0 < ε <= 2|w0|``.
    normals : numpy.ndarray
        ``(m, D − 1)`` standard normals, one row per sample.
    explicit_matrix : bool
        Multiply by the D×D Householder matrix instead of applying the
        reflection as ``y − 2 (cᵀy / cᵀc) c``.

    Returns
    -------
    numpy.ndarray
        ``(m, D)`` samples.
    """
    w0 = np.asarray(w0, dtype=np.float64).ravel()
    radius = np.linalg.norm(w0)
    cos_phi = 1.0 - epsilon**2 / (2.0 * radius**2)
    sin_phi = np.sqrt(max(1.0 - cos_phi**2, 0.0))
    c = householder_vector(w0)
    matrix = householder_matrix(w0) if explicit_matrix else None
    out = np.empty((normals.shape[0], w0.size))
    for j, g in enumerate(normals):
        y = np.zeros(w0.size)
        y[:-1] = radius * sin_phi * g / np.linalg.norm(g)
        if explicit_matrix:
            y = matrix @ y
        else:
            y = y - 2.0 * (c @ y) / (c @ c) * c
        out[j] = w0 * cos_phi + y
    return out


def seed_loop(w0, epsilon, m, generator):
    """The original notebook's loop as it would run in NumPy: its own normals, its ``c = n + ŵ0``.

    Used by the benchmarks as the plain-NumPy baseline (one sample per
    iteration, the reflection applied without the matrix).
    """
    w0 = np.asarray(w0, dtype=np.float64).ravel()
    radius = np.linalg.norm(w0)
    cos_phi = 1.0 - epsilon**2 / (2.0 * radius**2)
    sin_phi = np.sqrt(1.0 - cos_phi**2)
    c = w0 / radius
    c[-1] += 1.0
    cc = c @ c
    out = np.empty((m, w0.size))
    for j in range(m):
        y = np.zeros(w0.size)
        g = generator.standard_normal(w0.size - 1)
        y[:-1] = radius * sin_phi * g / np.linalg.norm(g)
        y -= 2.0 * (c @ y) / cc * c
        out[j] = w0 * cos_phi + y
    return out


def thin_shell(normals, radius):
    """Normalise a vector of normals to the given radius (the Muller method)."""
    normals = np.asarray(normals, dtype=np.float64)
    return normals * (radius / np.linalg.norm(normals.ravel()))
