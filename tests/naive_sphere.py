"""Pure-NumPy references for the sphere model, fed the same random numbers.

``geodesic_walk`` repeats the geodesic step of :mod:`fastwalk.models.sphere`
in plain vectorised NumPy (normalising after every step), consuming the
normals in the kernel's stream order; ``lineage_cdf_series`` is the textbook
alternating series for the law of the ancestral process, usable in double
precision only where it does not cancel (large τ, small n).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln


def uniform_start(normals: np.ndarray, radius: float) -> np.ndarray:
    """Normalise one row of n+1 normals per walker to the sphere of radius R."""
    return radius * normals / np.linalg.norm(normals, axis=1, keepdims=True)


def geodesic_walk(start: np.ndarray, normals: np.ndarray, tau: float, radius: float,
                  steps: int) -> np.ndarray:
    """Run ``steps`` geodesic steps; ``normals[w]`` holds walker w's draws in order.

    Each step uses the next n+1 normals g: v = g − (x·g/R²)x, angle
    ``sqrt(τ)|v|``, ``x ← x cos(angle) + R sin(angle) v/|v|``, then ``|x| = R``.
    """
    x = start.copy()
    size = x.shape[1]
    for step in range(steps):
        g = normals[:, step * size:(step + 1) * size]
        k = np.sum(x * g, axis=1, keepdims=True) / radius**2
        v = g - k * x
        v_norm = np.linalg.norm(v, axis=1, keepdims=True)
        angle = math.sqrt(tau) * v_norm
        x = x * np.cos(angle) + radius * np.sin(angle) * v / v_norm
        x *= radius / np.linalg.norm(x, axis=1, keepdims=True)
    return x


def lineage_cdf_series(theta: int, tau: float, last: int, terms: int = 400) -> np.ndarray:
    """Return P(A_∞^θ(τ) ≤ m) for m = 0..last from the alternating series.

    ``P(A = m) = Σ_{k≥m} (−1)^(k−m) (2k+θ−1) (θ+m)_(k−1) / (m! (k−m)!) e^{−k(k+θ−1)τ/2}``
    (Griffiths 1980; Tavaré 1984), with ``(x)_(j)`` the rising factorial and
    the k = m = 0 term equal to 1 (θ >= 2). Each term follows from the previous
    one by its exact ratio; the sum is only trustworthy when the largest term
    is modest, which is checked.
    """
    pmf = np.empty(last + 1)
    largest = 0.0
    for m in range(last + 1):
        # first term k = m in log space (small arguments), then the exact ratio
        # b_{k+1}/b_k = (θ+2k+1)/(θ+2k−1) · (θ+m+k−1)/(k−m+1) · e^{−(2k+θ)τ/2}
        if m == 0:
            log_first = 0.0
        else:
            log_first = (math.log(theta + 2 * m - 1) + gammaln(theta + 2 * m - 1)
                         - gammaln(theta + m) - gammaln(m + 1))
        term = math.exp(log_first - m * (m + theta - 1) * tau / 2)
        total = 0.0
        for k in range(m, m + terms):
            largest = max(largest, term)
            total += term if (k - m) % 2 == 0 else -term
            term *= ((theta + 2 * k + 1) / (theta + 2 * k - 1) * (theta + m + k - 1)
                     / (k - m + 1) * math.exp(-(2 * k + theta) * tau / 2))
            if term == 0.0:
                break
        pmf[m] = total
    if largest > 1e3:
        raise ValueError(f"the series cancels (largest term {largest:.3g}); not a reference")
    return np.cumsum(pmf)
