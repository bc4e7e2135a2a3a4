""""Gobbles up probability mass", quantified: the crossing's mass over a valley point's.

For K valleys of U = a·min_k Σ_{j∈S_k} d_j² meeting at a crossing point b, the
ratio

    R(r) = P(|x − b| ≤ r) / P(|x − v| ≤ r),

v a generic point of one valley far from the crossing, compares the
Boltzmann mass of a disk (in the plane of x0, x1) centered on the crossing
with that of the same disk on one valley. Both centers have U = 0, so
R → 1 as r → 0; once r is many thermal widths w = √(T/a), the crossing's disk
holds K valley strips of length ~2r where the valley's holds one, so R → K
(minus the core, which both strips count: ∫∫ e^(−β max(x², y²)) = 4T/a, so
R ≈ K − 2w/(√π r) for two lines). It is the continuous
counterpart of the lattice's center/other visit ratio K. DESIGN.md's
amendment "The crossing's mass, measured" compares the crossing's mass with
the *regular* prediction (the mixture of separately normalised valleys,
which counts the crossing once per valley, so Boltzmann holds *less* than
it); R instead compares the crossing with a point of a single valley, under
the one Boltzmann law, and shows the crossing holding up to K times as much.

The exact R is integrated in polar coordinates around each center
(Gauss–Legendre in the radius; in the angle, panels split at every multiple
of π/8 so the min's kinks on the diagonals are panel edges). The binned R
counts whole histogram bins whose centers lie within r, for the empirical
histogram and the exact binned law alike.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastwalk import validate

__all__ = ["potential_energy", "disk_weight", "bins_within", "crossing_mass_ratio"]

_RADIAL_NODES = 96
_ANGLE_PANELS = 16
_ANGLE_NODES = 24


def potential_energy(model, points) -> np.ndarray:
    """Return the potential model's U at ``points`` [..., D] (NumPy, minimum-image differences).

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The model (crossing, a, center, box, confine).
    points : array_like
        Points ``[..., D]``.

    Returns
    -------
    numpy.ndarray
        U at each point.
    """
    points = np.asarray(points, dtype=np.float64)
    box = model.box_side
    d = points - model.center
    d = d - box * np.round(d / box)
    squares = d * d
    mask = model.crossing.pinned_mask()
    valleys = np.stack([squares[..., row].sum(axis=-1) for row in mask], axis=-1)
    energy = model.a * valleys.min(axis=-1)
    if model.confine:
        ripple = box * box / (2 * math.pi**2) * (1 - np.cos(2 * math.pi * d / box))
        energy = energy + model.confine * ripple.sum(axis=-1)
    return energy


def disk_weight(energy, point, radius: float, beta: float) -> float:
    """Return ∫_{|x − point| ≤ r} exp(−βU(x)) dx over a disk of the plane (x0, x1).

    Parameters
    ----------
    energy : callable
        Vectorised U of points ``[..., 2]``.
    point : array_like
        The disk's center (2 coordinates).
    radius : float
        r > 0.
    beta : float
        β > 0.

    Returns
    -------
    float
        The unnormalised Boltzmann weight of the disk.
    """
    t, w = np.polynomial.legendre.leggauss(_RADIAL_NODES)
    rho = 0.5 * radius * (t + 1)
    rho_w = 0.5 * radius * w * rho
    ta, wa = np.polynomial.legendre.leggauss(_ANGLE_NODES)
    width = 2 * math.pi / _ANGLE_PANELS
    starts = np.arange(_ANGLE_PANELS) * width
    theta = (starts[:, None] + 0.5 * width * (ta[None, :] + 1)).ravel()
    theta_w = np.tile(0.5 * width * wa, _ANGLE_PANELS)
    x = point[0] + rho[:, None] * np.cos(theta)[None, :]
    y = point[1] + rho[:, None] * np.sin(theta)[None, :]
    u = np.asarray(energy(np.stack([x, y], axis=-1)), dtype=np.float64)
    return float((rho_w[:, None] * theta_w[None, :] * np.exp(-beta * u)).sum())


def bins_within(model, point, radius: float) -> np.ndarray:
    """Return the ``[bins][bins]`` mask of the bins of (x0, x1) whose centers lie within r of a point.

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        Gives the box and the bins.
    point : array_like
        The point (x0, x1), minimum-image distances.
    radius : float
        r >= 0.

    Returns
    -------
    numpy.ndarray
        bool ``[bins][bins]``.
    """
    width = model.box_side / model.bins
    centers = (np.arange(model.bins) + 0.5) * width
    d0 = centers - point[0]
    d1 = centers - point[1]
    d0 = d0 - model.box_side * np.round(d0 / model.box_side)
    d1 = d1 - model.box_side * np.round(d1 / model.box_side)
    return d0[:, None] ** 2 + d1[None, :] ** 2 <= radius**2


def crossing_mass_ratio(model, radius: float, histogram_2d=None, exact_2d=None) -> dict[str, Any]:
    """Return R(r): the mass within r of the crossing over the mass within r of a valley point.

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The model (T > 0); the crossing point is its center b, the valley
        point b + (Λ/2)·e_j along the first of x0, x1 that valley 0 leaves free.
    radius : float
        r > 0 (below Λ/4, so that the two disks stay apart).
    histogram_2d : array_like, optional
        A run's ``[bins][bins]`` counts of (x0, x1), for the empirical R.
    exact_2d : array_like, optional
        The exact binned law of (x0, x1), for the binned exact R.

    Returns
    -------
    dict
        ``radius``, ``thermal_width`` √(T/a), ``valleys`` K, ``crossing_point``,
        ``valley_point``, ``exact`` (continuous disks, D = 2 only, else None),
        ``exact_binned`` and ``empirical`` (whole bins; None without the
        arrays).

    Raises
    ------
    ValueError
        If r is not in (0, Λ/4], or valley 0 pins both x0 and x1.

    Examples
    --------
    >>> import fastwalk as fw
    >>> from fastwalk.analysis.mass_ratio import crossing_mass_ratio
    >>> model = fw.PotentialBrownian(fw.Crossing.lines(2), a=1.0, center=0.5, box=1.0,
    ...                              temperature=0.05, dt=1e-3)
    >>> ratio = crossing_mass_ratio(model, 0.25)
    >>> round(ratio["exact"], 3)      # the crossing holds more than one valley's share
    1.177
    """
    radius = validate.real("radius", radius, minimum=0.0, maximum=model.box_side / 4,
                           strict_min=True)
    mask = model.crossing.pinned_mask()
    free = [j for j in (0, 1) if not mask[0, j]]
    if not free:
        raise ValueError("valley 0 pins both x0 and x1, so no valley runs in their plane; "
                         "the mass ratio needs a crossing of lines in (x0, x1)")
    crossing = np.array(model.center[:2], dtype=np.float64)
    valley = crossing.copy()
    valley[free[0]] += 0.5 * model.box_side
    result: dict[str, Any] = {
        "radius": radius,
        "thermal_width": math.sqrt(model.temperature / model.a),
        "valleys": int(mask.shape[0]),
        "crossing_point": crossing.tolist(),
        "valley_point": (valley % model.box_side).tolist(),
        "exact": None, "exact_binned": None, "empirical": None,
    }
    if model.dim == 2:
        def energy(points):
            return potential_energy(model, points)
        beta = 1.0 / model.temperature
        result["exact"] = (disk_weight(energy, crossing, radius, beta)
                           / disk_weight(energy, valley, radius, beta))
    inside_c, inside_v = bins_within(model, crossing, radius), bins_within(model, valley, radius)
    for key, law in (("exact_binned", exact_2d), ("empirical", histogram_2d)):
        if law is not None:
            law = np.asarray(law, dtype=np.float64)
            below = law[inside_v].sum()
            result[key] = float(law[inside_c].sum() / below) if below > 0 else None
    return result
