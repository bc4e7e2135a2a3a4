"""Exact stationary laws of the potential model, and the report that compares a run with them.

The stationary law of dX = −∇U dt + √(2T) dW on the periodic box [0, Λ)^D is
Boltzmann's, p(x) ∝ exp(−U(x)/T) (U: :mod:`fastwalk.models.potential`),
binned exactly like the model's histograms (``bins`` equal bins per
coordinate, absolute coordinates). Bin probabilities come from Gauss–Legendre
quadrature inside each bin; the coordinates the min couples are integrated
through the exact law of a min (valleys pinning disjoint coordinates, or all
but one each) or on a tensor grid. The *regular* prediction is the equal
mixture of the valleys' separately normalised laws, as if there were no
crossing. :func:`potential_report` measures the total variation distance
between a run's 2-D histogram and the Boltzmann bins against two sampling
floors: the measured split-half one and an estimate from the slowest
relaxation time. Derivations and error levels: DESIGN.md, "Derivations: the
Boltzmann references".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import gammaln

from fastwalk import validate

__all__ = [
    "boltzmann_reference",
    "regular_reference",
    "mass_within",
    "multinomial_tv_floor",
    "relaxation_time",
    "effective_samples",
    "probabilities_total_variation",
    "split_half_floor",
    "potential_report",
]

#: grid points the tensor-product fallback may use (computed in slices)
_TENSOR_BUDGET = 2**26
#: default Gauss–Legendre nodes per bin for the one-dimensional structured paths
_NODES_PER_BIN = 8
#: grid points of the 2-D law of (x0, x1) on the structured paths
_JOINT_BUDGET = 2**22
#: how many times more nodes the structured paths give the coordinates they integrate out
_REST_REFINEMENT = 8


# ---------------------------------------------------------------------- quadrature
def _check_model(model) -> None:
    if getattr(model, "kind", None) != "potential":
        raise TypeError(
            f"expected a PotentialBrownian model (kind 'potential'), got {type(model).__name__}"
        )
    if model.temperature <= 0.0:
        raise ValueError(
            f"the Boltzmann law needs temperature T > 0, got T = {model.temperature:g}; "
            "at T = 0 the stationary law is concentrated on the minimum set"
        )


def _check_resolved(model, per_bin: int) -> None:
    """Refuse a law narrower than the quadrature's node spacing (its bins would be wrong).

    Across a valley the law is a Gaussian of width σ = √(T / 2(a + c)); Gauss–Legendre
    nodes spaced h = Λ / (bins · nodes per bin) integrate it only while σ ≥ h. Narrower,
    every node but the nearest sees exp(−(h/σ)²/2) → 0 (0/0 once it underflows).
    """
    width = math.sqrt(model.temperature / (2.0 * (model.a + model.confine)))
    spacing = model.box_side / (model.bins * per_bin)
    if not width >= spacing:
        raise ValueError(
            f"the Boltzmann law is narrower (thermal width √(T/2(a + confine)) = {width:.3g}) than its "
            f"quadrature resolves (node spacing box/(bins·{per_bin}) = {spacing:.3g}); compare "
            "runs whose thermal width spans a bin's nodes: a smaller --box, more --bins or a higher T"
        )


def _nodes(box: float, bins: int, per_bin: int) -> tuple[np.ndarray, np.ndarray]:
    """Return Gauss–Legendre nodes and weights inside every bin, flattened bin by bin."""
    t, w = np.polynomial.legendre.leggauss(per_bin)
    width = box / bins
    mids = (np.arange(bins) + 0.5) * width
    nodes = (mids[:, None] + 0.5 * width * t[None, :]).ravel()
    weights = np.tile(0.5 * width * w, bins)
    return nodes, weights


def _minimum_image(d: np.ndarray, box: float) -> np.ndarray:
    d = np.where(d > 0.5 * box, d - box, d)
    return np.where(d < -0.5 * box, d + box, d)


def _coordinate(model, j: int, per_bin: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (e_j, h_j) at coordinate j's nodes: valley energy a·d²/T and weight × g_j."""
    box, temperature = model.box_side, model.temperature
    nodes, weights = _nodes(box, model.bins, per_bin)
    d = _minimum_image(nodes - model.center[j], box)
    energy = model.a * d * d / temperature
    ripple = model.confine * box * box / (2 * math.pi**2) * (1 - np.cos(2 * math.pi * d / box))
    return energy, weights * np.exp(-ripple / temperature)


def _to_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """Sum node values bin by bin along every axis (nodes are stored bin by bin)."""
    for axis in range(values.ndim):
        shape = values.shape[:axis] + (bins, -1) + values.shape[axis + 1:]
        values = values.reshape(shape).sum(axis=axis + 1)
    return values


def _normalised(values: np.ndarray) -> np.ndarray:
    return values / values.sum()


def _classify(mask: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """Split coordinates into (pinned by none, pinned by all, mixed)."""
    pinned_by = mask.sum(axis=0)
    count = mask.shape[0]
    none = [j for j in range(mask.shape[1]) if pinned_by[j] == 0]
    every = [j for j in range(mask.shape[1]) if pinned_by[j] == count]
    mixed = [j for j in range(mask.shape[1]) if 0 < pinned_by[j] < count]
    return none, every, mixed


def _structure(mask: np.ndarray, mixed: list[int]) -> str:
    """Return "disjoint", "codisjoint" or "tensor" for the mixed coordinates."""
    count = mask.shape[0]
    if len(mixed) != count:
        return "tensor"
    columns = mask[:, mixed]
    if np.all(columns.sum(axis=0) == 1) and np.all(columns.sum(axis=1) == 1):
        return "disjoint"
    if np.all(columns.sum(axis=0) == count - 1) and np.all(columns.sum(axis=1) == count - 1):
        return "codisjoint"
    return "tensor"


# -------- disjoint: exp(−min_k e_k) with independent e_k
def _min_law(rest: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Return the atoms and masses of min_k e_k under the product of the weights h_k."""
    atoms = np.unique(np.concatenate([e for e, _ in rest]))
    above_or_at = np.ones_like(atoms)
    above = np.ones_like(atoms)
    for energy, weight in rest:
        order = np.argsort(energy, kind="stable")
        cumulative = np.concatenate([[0.0], np.cumsum(weight[order])])
        total = cumulative[-1]
        sorted_energy = energy[order]
        above_or_at *= total - cumulative[np.searchsorted(sorted_energy, atoms, side="left")]
        above *= total - cumulative[np.searchsorted(sorted_energy, atoms, side="right")]
    return atoms, above_or_at - above


def _disjoint_factor(rest, fixed_min: np.ndarray) -> np.ndarray:
    """Return ∫ exp(−min(m, min_rest e)) over the rest, for each m in ``fixed_min``."""
    if not rest:
        return np.exp(-fixed_min)
    atoms, masses = _min_law(rest)
    below = np.concatenate([[0.0], np.cumsum(masses * np.exp(-atoms))])
    at_or_above = np.concatenate([np.cumsum(masses[::-1])[::-1], [0.0]])
    index = np.searchsorted(atoms, fixed_min, side="left")
    return below[index] + np.exp(-fixed_min) * at_or_above[index]


# -------- co-disjoint: exp(−Σ e + max e)
def _codisjoint_factor(rest, fixed_sum: np.ndarray, fixed_max: np.ndarray) -> np.ndarray:
    """Return ∫ exp(−(s + Σ_rest e) + max(E, max_rest e)) over the rest.

    ``s`` and ``E`` are the sum and max of the fixed coordinates' energies.
    Split by which coordinate holds the max: a fixed one (every rest energy
    <= E), or rest coordinate l (ties go to the lowest l among the rest).
    """
    sorted_rest = []
    for energy, weight in rest:
        order = np.argsort(energy, kind="stable")
        e_sorted = energy[order]
        cumulative = np.concatenate([[0.0], np.cumsum((weight * np.exp(-energy))[order])])
        sorted_rest.append((e_sorted, weight[order], cumulative))

    def below(k, t, strict):
        e_sorted, _, cumulative = sorted_rest[k]
        return cumulative[np.searchsorted(e_sorted, t, side="left" if strict else "right")]

    fixed_holds_max = np.ones_like(fixed_max)
    for k in range(len(rest)):
        fixed_holds_max = fixed_holds_max * below(k, fixed_max, strict=False)
    rest_holds_max = np.zeros_like(fixed_max)
    for l_index, (e_sorted, w_sorted, _) in enumerate(sorted_rest):
        term = w_sorted.copy()
        for k in range(len(rest)):
            if k != l_index:
                term *= below(k, e_sorted, strict=k < l_index)
        tail = np.concatenate([np.cumsum(term[::-1])[::-1], [0.0]])
        rest_holds_max += tail[np.searchsorted(e_sorted, fixed_max, side="right")]
    return np.exp(-(fixed_sum - fixed_max)) * fixed_holds_max + np.exp(-fixed_sum) * rest_holds_max


def _structured_mixed(model, mixed, structure, per_bin, refinement=_REST_REFINEMENT):
    """Return binned marginals of the mixed coordinates and, if 0 and 1 are mixed, their 2-D law."""
    mask = model.crossing.pinned_mask()
    coords = {j: _coordinate(model, j, per_bin) for j in mixed}
    # the integrated-out coordinates get finer nodes: their integrands have a kink where the
    # winning valley changes, at a place no bin edge knows
    fine = {j: _coordinate(model, j, per_bin * refinement) for j in mixed}
    # order the mixed coordinates by the valley that pins (disjoint) or skips (co-disjoint) them
    key = {j: int(np.flatnonzero(mask[:, j] == (structure == "disjoint"))[0]) for j in mixed}
    ordered = sorted(mixed, key=lambda j: key[j])

    # the 2-D law has its kink along the bins' diagonals: refine it as far as _JOINT_BUDGET allows
    joint_per_bin = per_bin * max(1, min(refinement,
                                         int(math.sqrt(_JOINT_BUDGET)) // (model.bins * per_bin)))
    joint_coords = {j: _coordinate(model, j, joint_per_bin) for j in mixed if j in (0, 1)}

    def law(fixed: list[int]) -> np.ndarray:
        rest = [fine[j] for j in ordered if j not in fixed]
        nodes = coords if len(fixed) == 1 else joint_coords
        energies = np.meshgrid(*[nodes[j][0] for j in fixed], indexing="ij")
        weights = np.ones(energies[0].shape)
        for grid in np.meshgrid(*[nodes[j][1] for j in fixed], indexing="ij"):
            weights = weights * grid
        if structure == "disjoint":
            factor = _disjoint_factor(rest, np.minimum.reduce(energies))
        else:
            factor = _codisjoint_factor(rest, np.add.reduce(energies), np.maximum.reduce(energies))
        return _normalised(_to_bins(weights * factor, model.bins))

    marginals = {j: law([j]) for j in mixed}
    joint = law([0, 1]) if 0 in mixed and 1 in mixed else None
    return marginals, joint


def _tensor_mixed(model, mixed, per_bin_max):
    """Integrate the mixed coordinates on their full tensor grid (any crossing, few of them)."""
    bins = model.bins
    count = len(mixed)
    per_bin = int(min(per_bin_max, (_TENSOR_BUDGET ** (1 / count)) // bins))
    if per_bin < 1:
        raise ValueError(
            f"the Boltzmann reference of this crossing couples {count} coordinates through the "
            f"min, too many for a {bins}-bin tensor grid ({bins}^{count} points > "
            f"{_TENSOR_BUDGET}); use fewer bins, or a crossing whose valleys pin disjoint "
            "coordinates (hyperplanes) or all but one coordinate each (lines), which work in any D"
        )
    mask = model.crossing.pinned_mask()[:, mixed]
    coords = [_coordinate(model, j, per_bin) for j in mixed]
    nodes = coords[0][0].shape[0]
    marginals = [np.zeros(nodes) for _ in mixed]
    joint = np.zeros((nodes, nodes)) if count >= 2 and mixed[:2] == [0, 1] else None
    # grids over all mixed coordinates but the first, broadcast against each other
    shape = [1] * (count - 1)
    others_e, others_h = [], []
    for axis, (energy, weight) in enumerate(coords[1:]):
        view = shape.copy()
        view[axis] = nodes
        others_e.append(energy.reshape(view))
        others_h.append(weight.reshape(view))
    weight_rest = np.ones([nodes] * (count - 1))
    for weight in others_h:
        weight_rest = weight_rest * weight
    first_e, first_h = coords[0]
    for i in range(nodes):
        best = np.full(weight_rest.shape, np.inf)
        for k in range(mask.shape[0]):
            q = np.zeros(weight_rest.shape) + (first_e[i] if mask[k, 0] else 0.0)
            for axis in range(1, count):
                if mask[k, axis]:
                    q = q + others_e[axis - 1]
            best = np.minimum(best, q)
        slab = first_h[i] * weight_rest * np.exp(-best)
        marginals[0][i] += slab.sum()
        for axis in range(1, count):
            marginals[axis] += slab.sum(axis=tuple(a for a in range(count - 1) if a != axis - 1))
        if joint is not None:
            joint[i] += slab.sum(axis=tuple(range(1, count - 1)))
    binned = {j: _normalised(_to_bins(m, bins)) for j, m in zip(mixed, marginals, strict=True)}
    return binned, (None if joint is None else _normalised(_to_bins(joint, bins)))


def boltzmann_reference(model, nodes_per_bin: int = _NODES_PER_BIN) -> dict[str, Any]:
    """Return the binned Boltzmann law of a potential model.

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The model (its crossing, a, center, box, temperature > 0, confine, bins).
    nodes_per_bin : int, optional
        Gauss–Legendre nodes per bin and coordinate (the tensor fallback may
        use fewer, see the module docstring).

    Returns
    -------
    dict
        ``"marginals"``: float64 ``[D][bins]`` bin probabilities of every
        coordinate; ``"histogram_2d"``: ``[bins][bins]`` bin probabilities of
        the first two coordinates (None when D = 1); ``"method"``: ``"disjoint"``,
        ``"codisjoint"``, ``"tensor"`` or ``"factorised"`` (how the coupled
        coordinates were integrated).

    Raises
    ------
    ValueError
        If T = 0, or the crossing needs a tensor grid too large to integrate.
    """
    _check_model(model)
    per_bin = validate.integer("nodes_per_bin", nodes_per_bin, minimum=1, maximum=64)
    _check_resolved(model, per_bin)
    mask = model.crossing.pinned_mask()
    none, every, mixed = _classify(mask)
    marginals = np.empty((model.dim, model.bins))
    for j in none + every:
        energy, weight = _coordinate(model, j, per_bin)
        density = weight * np.exp(-energy) if j in every else weight
        marginals[j] = _normalised(_to_bins(density, model.bins))
    method = "factorised"
    joint = None
    if mixed:
        method = _structure(mask, mixed)
        if method == "tensor":
            mixed_marginals, joint = _tensor_mixed(model, mixed, per_bin)
        else:
            mixed_marginals, joint = _structured_mixed(model, mixed, method, per_bin)
        for j, law in mixed_marginals.items():
            marginals[j] = law
    if joint is None and model.dim >= 2:  # 0 or 1 is independent of everything else
        joint = np.outer(marginals[0], marginals[1])
    return {"marginals": marginals, "histogram_2d": joint, "method": method}


def regular_reference(model, nodes_per_bin: int = _NODES_PER_BIN) -> dict[str, np.ndarray]:
    """Return the binned "regular" prediction: the equal mixture of the separate valleys.

    Valley k's law is p_k ∝ exp(−(a Σ_{j∈S_k} d_j² + U_c)/T), normalised on
    the box on its own (harmonic across the valley, free along it); the
    regular prediction is (1/K) Σ_k p_k, as if the valleys did not cross.

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The model (temperature > 0).
    nodes_per_bin : int, optional
        Gauss–Legendre nodes per bin.

    Returns
    -------
    dict
        ``"marginals"`` ``[D][bins]`` and ``"histogram_2d"`` ``[bins][bins]``
        bin probabilities (``"histogram_2d"`` is None when D = 1).
    """
    _check_model(model)
    per_bin = validate.integer("nodes_per_bin", nodes_per_bin, minimum=1, maximum=64)
    _check_resolved(model, per_bin)
    mask = model.crossing.pinned_mask()
    pinned, free = [], []
    for j in range(model.dim):
        energy, weight = _coordinate(model, j, per_bin)
        pinned.append(_normalised(_to_bins(weight * np.exp(-energy), model.bins)))
        free.append(_normalised(_to_bins(weight, model.bins)))
    marginals = np.zeros((model.dim, model.bins))
    joint = np.zeros((model.bins, model.bins)) if model.dim >= 2 else None
    for row in mask:
        laws = [pinned[j] if row[j] else free[j] for j in range(model.dim)]
        marginals += np.array(laws)
        if joint is not None:
            joint += np.outer(laws[0], laws[1])
    return {"marginals": marginals / len(mask), "histogram_2d": None if joint is None else joint / len(mask)}


# ---------------------------------------------------------------------- comparisons
def probabilities_total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Return ½ Σ |p − q| for two probability arrays of one shape.

    Parameters
    ----------
    p, q : numpy.ndarray
        Bin probabilities (each summing to 1).

    Returns
    -------
    float
        The total variation distance, in [0, 1].
    """
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


def mass_within(probabilities_2d: np.ndarray, model, radius: float) -> float:
    """Return the probability of the bins of (x0, x1) within ``radius`` of the center.

    A bin counts when its center's minimum-image distance to (b0, b1) is at
    most ``radius``; using whole bins keeps empirical and exact masses
    comparable.

    Parameters
    ----------
    probabilities_2d : numpy.ndarray
        ``[bins][bins]`` bin probabilities (empirical or exact).
    model : fastwalk.models.potential.PotentialBrownian
        Gives the box, the center and the bins.
    radius : float
        Radius r (>= 0).

    Returns
    -------
    float
        The mass.
    """
    radius = validate.real("radius", radius, minimum=0.0)
    width = model.box_side / model.bins
    centers = (np.arange(model.bins) + 0.5) * width
    d0 = _minimum_image(centers - model.center[0], model.box_side)
    d1 = _minimum_image(centers - model.center[1], model.box_side)
    inside = d0[:, None] ** 2 + d1[None, :] ** 2 <= radius**2
    return float(np.asarray(probabilities_2d)[inside].sum())


def multinomial_tv_floor(probabilities: np.ndarray, samples: float) -> float:
    """Return E[TV] between a multinomial sample's frequencies and its own law.

    Each bin count is binomial(n, p_i), whose mean absolute deviation is de
    Moivre's 2ν·C(n, ν)·p^ν·(1 − p)^(n−ν+1), ν = ⌊np⌋ + 1; E[TV] = ½ Σ_i
    E|X_i − n p_i| / n. Exact, also for sparse tail bins where a normal
    approximation overstates the noise.

    Parameters
    ----------
    probabilities : numpy.ndarray
        Bin probabilities summing to 1.
    samples : float
        Sample size n (rounded to an integer >= 1).

    Returns
    -------
    float
        The expected total variation distance due to sampling alone.
    """
    n = max(1, int(round(validate.real("samples", samples, minimum=1.0))))
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    p = p[(p > 0.0) & (p < 1.0)]
    nu = np.floor(n * p) + 1.0
    log_mad = (
        math.log(2.0) + np.log(nu) + gammaln(n + 1.0) - gammaln(nu + 1.0) - gammaln(n - nu + 1.0)
        + nu * np.log(p) + (n - nu + 1.0) * np.log1p(-p)
    )
    return 0.5 * float(np.exp(log_mad).sum()) / n


def relaxation_time(model) -> float:
    """Return the slowest relaxation time τ of the dynamics (an estimate).

    τ = max(1 / (2(a + c)), 1 / (T·(2π/Λ)² + 2c)): the first is the decay
    time across a valley, the second that of free diffusion around the box
    along a valley (slowest Fourier mode), shortened by the confining
    curvature 2c. A crossing that pins every coordinate has no valley to
    diffuse along: τ = 1 / (2(a + c)).

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The model (temperature > 0).

    Returns
    -------
    float
        τ in time units.
    """
    _check_model(model)
    across = 1.0 / (2.0 * (model.a + model.confine))
    if model.crossing.pinned_mask().all():  # one isolated minimum: no direction along a valley
        return across
    along = 1.0 / (model.temperature * (2 * math.pi / model.box_side) ** 2 + 2.0 * model.confine)
    return max(across, along)


def effective_samples(model, samples: int, walkers: int | None = None) -> float:
    """Return the effective number of independent samples in a run's histogram.

    Every walker contributes ``n = samples / walkers`` successive positions
    with lag-one correlation ρ = exp(−dt/τ) (τ from :func:`relaxation_time`);
    the variance of their mean is σ²/n · [(1 + ρ)/(1 − ρ) − 2ρ(1 − ρⁿ)/(n(1 − ρ)²)],
    so each walker is worth n divided by that factor; walkers are independent.
    Without ``walkers`` the long-run limit samples·(1 − ρ)/(1 + ρ) is used.

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The model.
    samples : int
        Walker-steps counted in the histogram.
    walkers : int, optional
        Number of walkers that produced them.

    Returns
    -------
    float
        The effective sample size, between 1 and ``samples``.
    """
    samples = validate.integer("samples", samples, minimum=1)
    x = model.dt / relaxation_time(model)
    rho, gap = math.exp(-x), -math.expm1(-x)  # ρ and 1 − ρ, the latter exact for tiny x
    if walkers is None:
        return max(1.0, samples * gap / (1.0 + rho))
    walkers = validate.integer("walkers", walkers, minimum=1, maximum=samples)
    n = samples / walkers
    if n * x < 1e-4:  # the successive positions of a walker are one sample: factor → n
        factor = n * (1.0 - n * x / 3.0)  # the series of the formula below, to O((nx)²)
    else:
        factor = (1.0 + rho) / gap - 2.0 * rho * -math.expm1(-n * x) / (n * gap * gap)
    return float(min(samples, max(walkers, walkers * n / max(factor, 1.0))))


def split_half_floor(total: np.ndarray, half: np.ndarray) -> float | None:
    """Return the sampling floor of a pooled histogram, measured from two independent halves.

    Parameters
    ----------
    total : numpy.ndarray
        Counts of all walkers.
    half : numpy.ndarray
        Counts of a fixed subset of the walkers (same shape); the others are
        ``total - half``.

    Returns
    -------
    float or None
        TV(p̂₁, p̂₂)·√(n₁n₂)/(n₁ + n₂), the expected TV of the pooled
        frequencies from their mean (Gaussian regime, see the module
        docstring); None when a half is empty.
    """
    total = np.asarray(total, dtype=np.float64)
    first = np.asarray(half, dtype=np.float64)
    second = total - first
    n1, n2 = first.sum(), second.sum()
    if n1 <= 0 or n2 <= 0:
        return None
    return probabilities_total_variation(first / n1, second / n2) * math.sqrt(n1 * n2) / (n1 + n2)


def potential_report(model, accumulators: dict, radius: float | None = None,
                     walkers: int | None = None) -> dict[str, Any]:
    """Compare a potential run's histograms with Boltzmann and the regular prediction.

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The model that was run (temperature > 0).
    accumulators : dict
        The run's ``histogram_2d`` ``[bins][bins]`` counts, and optionally
        ``histogram_2d_half`` (for the measured floor) and ``marginals``
        ``[D][bins]``.
    radius : float, optional
        Radius r of the central mass; default max(2·√(T/2a), 2·Λ/bins), twice
        a valley's thermal width.
    walkers : int, optional
        Number of walkers, for the estimated effective sample size (see
        :func:`effective_samples`).

    Returns
    -------
    dict
        JSON-able: ``samples``; ``tv_boltzmann`` (TV of the empirical 2-D
        histogram to Boltzmann); ``tv_floor`` (its expected value from
        sampling alone: the measured floor when available, else the
        estimate) with ``tv_floor_method``, ``tv_floor_measured``,
        ``tv_floor_estimate``, ``effective_samples`` (estimate) and
        ``relaxation_time``; ``tv_regular`` (empirical to the regular
        prediction) and ``tv_boltzmann_regular``; ``marginal_tv`` (per
        coordinate, when marginals are given); ``radius`` and
        ``mass_within_radius`` (``empirical``, ``boltzmann``, ``regular``);
        ``method`` (how the Boltzmann law was integrated).

    Raises
    ------
    ValueError
        If the histograms are empty or do not match the model's bins.

    Examples
    --------
    >>> import fastwalk as fw
    >>> from fastwalk.analysis.boltzmann import potential_report
    >>> model = fw.PotentialBrownian(fw.Crossing.lines(2), a=1.0, center=0.5, box=1.0,
    ...                              temperature=0.05, dt=1e-3, start="uniform")
    >>> run = fw.simulate(model, walkers=200, steps=2000, seed=7, burn_in=1000)
    >>> report = potential_report(run.model, run.accumulators, walkers=200)
    >>> sorted(report["mass_within_radius"])
    ['boltzmann', 'empirical', 'regular']
    """
    _check_model(model)
    if model.dim == 1:
        return _line_report(model, accumulators, walkers)
    counts = _counts(accumulators, "histogram_2d", (model.bins, model.bins))
    samples = int(counts.sum())
    if samples <= 0:
        raise ValueError("histogram_2d is empty: run some steps after burn-in before comparing")
    empirical = counts / samples
    exact = boltzmann_reference(model)
    regular = regular_reference(model)
    n_eff = effective_samples(model, samples, walkers)
    estimate = multinomial_tv_floor(exact["histogram_2d"], n_eff)
    measured = None
    if accumulators.get("histogram_2d_half") is not None:
        half = _counts(accumulators, "histogram_2d_half", (model.bins, model.bins))
        measured = split_half_floor(counts, half)
    if radius is None:
        radius = max(2.0 * math.sqrt(model.temperature / (2.0 * model.a)),
                     2.0 * model.box_side / model.bins)
    radius = validate.real("radius", radius, minimum=0.0)
    report: dict[str, Any] = {
        "samples": samples,
        "method": exact["method"],
        "tv_boltzmann": probabilities_total_variation(empirical, exact["histogram_2d"]),
        "tv_floor": estimate if measured is None else measured,
        "tv_floor_method": "relaxation-time estimate" if measured is None else "split-half",
        "tv_floor_measured": measured,
        "tv_floor_estimate": estimate,
        "effective_samples": n_eff,
        "relaxation_time": relaxation_time(model),
        "tv_regular": probabilities_total_variation(empirical, regular["histogram_2d"]),
        "tv_boltzmann_regular": probabilities_total_variation(exact["histogram_2d"], regular["histogram_2d"]),
        "radius": radius,
        "mass_within_radius": {
            "empirical": mass_within(empirical, model, radius),
            "boltzmann": mass_within(exact["histogram_2d"], model, radius),
            "regular": mass_within(regular["histogram_2d"], model, radius),
        },
    }
    report["mass_ratio"] = _mass_ratio(model, min(radius, model.box_side / 4), counts,
                                       exact["histogram_2d"], n_eff)
    if accumulators.get("marginals") is not None:
        marginal_counts = _counts(accumulators, "marginals", (model.dim, model.bins))
        report["marginal_tv"] = [
            probabilities_total_variation(row / row.sum(), law)
            for row, law in zip(marginal_counts, exact["marginals"], strict=True)
        ]
    return report


def _line_report(model, accumulators: dict, walkers: int | None) -> dict[str, Any]:
    """Compare a D = 1 run (e.g. the Ornstein–Uhlenbeck process) on the law of x0."""
    counts = _counts(accumulators, "marginals", (1, model.bins))[0]
    samples = int(counts.sum())
    if samples <= 0:
        raise ValueError("marginals is empty: run some steps after burn-in before comparing")
    exact = boltzmann_reference(model)["marginals"][0]
    n_eff = effective_samples(model, samples, walkers)
    estimate = multinomial_tv_floor(exact, n_eff)
    tv = probabilities_total_variation(counts / samples, exact)
    return {"samples": samples, "method": "factorised", "tv_boltzmann": tv, "tv_floor": estimate,
            "tv_floor_method": "relaxation-time estimate", "tv_floor_measured": None,
            "tv_floor_estimate": estimate, "effective_samples": n_eff,
            "relaxation_time": relaxation_time(model), "marginal_tv": [tv]}


def potential_run_report(run, radius: float | None = None, **options) -> dict[str, Any]:
    """Return :func:`potential_report` for an open potential file.

    Parameters
    ----------
    run : fastwalk.io.reader.Run
        The open file.
    radius : float, optional
        As for :func:`potential_report`.
    **options
        Options of ``fastwalk stationary`` that other models use (ignored).

    Returns
    -------
    dict
        As for :func:`potential_report`.
    """
    return potential_report(run.model, run.accumulators, radius=radius,
                            walkers=run.settings.get("walkers"))


def _mass_ratio(model, radius, counts, exact_2d, samples) -> dict[str, Any] | None:
    """Return the crossing's mass over a valley point's (:mod:`fastwalk.analysis.mass_ratio`)."""
    from fastwalk.analysis.mass_ratio import bins_within, crossing_mass_ratio

    if model.crossing.pinned_mask()[0, :2].all() or radius <= 0:
        return None
    ratio = crossing_mass_ratio(model, radius, histogram_2d=counts, exact_2d=exact_2d)
    p_c = float(exact_2d[bins_within(model, ratio["crossing_point"], radius)].sum())
    p_v = float(exact_2d[bins_within(model, ratio["valley_point"], radius)].sum())
    # delta method for the log of a ratio of two multinomial cells of n_eff samples
    variance = (1 - p_c) / (samples * p_c) + (1 - p_v) / (samples * p_v) + 2 / samples
    ratio["empirical_stderr"] = (ratio["exact_binned"] * math.sqrt(variance)
                                 if p_c > 0 and p_v > 0 else None)
    ratio["effective_samples"] = samples
    return ratio


def _counts(accumulators: dict, name: str, shape: tuple[int, int]) -> np.ndarray:
    counts = np.asarray(accumulators.get(name))
    if counts.shape != shape:
        raise ValueError(
            f"{name} has shape {counts.shape}, the model needs {shape}; "
            "pass the accumulators of a run of this model"
        )
    return counts
