"""Exact Boltzmann references for any potential in d <= 3 dimensions, by quadrature.

The stationary law of overdamped Langevin dynamics on a box is
p(x) ∝ exp(−βU(x)), β = 1/T. With ``reflect`` (the uniform prior on the box)
and ``periodic`` (U periodic, one period is the box) the law lives on the box
itself; with ``none`` it lives on R^d and the box is grown until the weight on
its faces is negligible (U must confine).

:class:`BoltzmannQuadrature` evaluates U once on a tensor grid of composite
Gauss–Legendre nodes and then gives, for any β, log Z(β), ⟨U⟩_β, Var_β(U),
binned marginals, the binned 2-D law of (x0, x1) and the mass of a disk.
Singular potentials concentrate the law on a thin neighbourhood of their zero
set, of width ~β^(−1/2) or narrower, so the panels of every axis are graded
geometrically toward *focus* coordinates (the box center, the grid minimiser,
any point the caller names): panel widths shrink by ``ratio`` per level down to
``smallest`` × the box side. Every zero set through a focus point along the
axes is then resolved at all scales down to that width (the known-answer
potentials x0²x1², x0²x1⁴, min(x0², x1²) agree with their closed forms to
~1e-10 relative at β up to 1e8 in 2-D, see tests/test_quadrature.py). Zero
sets elsewhere are resolved only as far as the uniform panels allow;
:meth:`BoltzmannQuadrature.mean_energy_error` compares with a rule of fewer
nodes per panel to say how far.

Bin edges are panel breakpoints, so a bin's probability is a sum over whole
panels. The weights are summed in log space (shifted by the grid minimum of
βU), so β up to ~1e12 neither underflows nor overflows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from fastwalk import validate

__all__ = ["BoltzmannQuadrature", "BOUNDARIES", "model_quadrature", "langevin_report"]

#: boundary conditions the references understand
BOUNDARIES = ("reflect", "periodic", "none")
#: (Gauss–Legendre nodes per panel, geometric ratio, smallest panel / side) per dimension
_RULES = {1: (10, 0.5, 1e-13), 2: (8, 0.5, 1e-10), 3: (5, 0.4, 1e-4)}
#: uniform panels per axis before grading
_PANELS = {1: 32, 2: 24, 3: 12}
#: a face weight exp(−β(U − U_min)) below this counts as confined (boundary ``none``)
_CONFINED = 1e-30


def _graded_breakpoints(low: float, high: float, focus: Sequence[float], panels: int,
                        ratio: float, smallest: float, edges: np.ndarray | None) -> np.ndarray:
    side = high - low
    points = [np.linspace(low, high, panels + 1)]
    if edges is not None:
        points.append(np.asarray(edges, dtype=np.float64))
    width = side / panels
    levels = int(math.ceil(math.log(smallest * panels) / math.log(ratio))) + 1
    steps = width * ratio ** np.arange(levels)
    for f in focus:
        points.append(f - steps)
        points.append(f + steps)
        points.append([f])
    merged = np.unique(np.clip(np.concatenate(points), low, high))
    keep = np.concatenate([[True], np.diff(merged) > side * smallest * 0.5])
    return merged[keep]


def _panel_nodes(breakpoints: np.ndarray, per_panel: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(per_panel)
    mids = 0.5 * (breakpoints[1:] + breakpoints[:-1])
    halves = 0.5 * np.diff(breakpoints)
    nodes = (mids[:, None] + halves[:, None] * t[None, :]).ravel()
    weights = (halves[:, None] * w[None, :]).ravel()
    return nodes, weights


class BoltzmannQuadrature:
    """The Boltzmann law exp(−βU) of a potential on a box, integrated on a graded grid.

    Parameters
    ----------
    energy : callable
        Vectorised U: an array of points ``[..., d]`` to energies ``[...]``
        (e.g. ``Expression.energy_numpy``).
    low, high : sequence of float
        The box [low_j, high_j] of every coordinate, d = len(low) in 1..3.
    boundary : {"reflect", "periodic", "none"}, optional
        ``reflect`` and ``periodic`` integrate over the box; ``none`` over
        R^d, growing the box about its middle until the weight on its faces
        at ``beta_min`` is below 1e-30 relative to the maximum.
    focus : sequence of sequence of float, optional
        Points toward which every axis is graded (besides the box center and
        the grid minimiser of U).
    bins : int, optional
        Bins per coordinate for :meth:`marginals` and :meth:`density_2d`
        (their edges become panel breakpoints). Default 64.
    beta_min : float, optional
        The smallest β the grid must serve (boundary ``none`` only).
    nodes_per_panel : int, optional
        Gauss–Legendre nodes per panel (default by dimension: 10, 8, 5).
    bias : callable, optional
        A vectorised term added to U in the law but not in the energy whose
        mean is reported (the localizing γ/2·|x − x*|²): the law is
        ∝ exp(−β(U + bias)), :meth:`mean_energy` is ⟨U⟩ under it.

    Raises
    ------
    ValueError
        If d is not 1..3, the box is empty, U is not finite on the grid, or
        with ``none`` the potential does not confine.
    """

    def __init__(self, energy: Callable[[np.ndarray], np.ndarray], low, high, *,
                 boundary: str = "reflect", focus=None, bins: int = 64,
                 beta_min: float = 1.0, nodes_per_panel: int | None = None, bias=None):
        low = np.atleast_1d(np.asarray(low, dtype=np.float64))
        high = np.atleast_1d(np.asarray(high, dtype=np.float64))
        if low.ndim != 1 or low.shape != high.shape or not 1 <= low.size <= 3:
            raise ValueError(
                f"the box needs matching low/high of 1 to 3 coordinates, got {low.tolist()} and "
                f"{high.tolist()}; exact references are computed for d <= 3 only"
            )
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
            raise ValueError(f"the box [{low.tolist()}, {high.tolist()}] is empty or not finite; "
                             "give high > low in every coordinate")
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary {boundary!r} is not one of {', '.join(BOUNDARIES)}")
        self.energy = energy
        self.bias = bias
        self.dim = low.size
        self.boundary = boundary
        self.bins = validate.integer("bins", bins, minimum=1, maximum=4096)
        per_panel, self._ratio, self._smallest = _RULES[self.dim]
        self._per_panel = per_panel if nodes_per_panel is None else validate.integer(
            "nodes_per_panel", nodes_per_panel, minimum=2, maximum=64)
        focus = [] if focus is None else [np.asarray(f, dtype=np.float64).reshape(self.dim)
                                          for f in focus]
        self._focus = [0.5 * (low + high), *focus]
        if boundary == "none":
            low, high = self._confining_box(low, high, validate.real("beta_min", beta_min,
                                                                     minimum=0.0, strict_min=True))
        self.low, self.high = low, high
        self._build()

    # ---------------------------------------------------------------- construction
    def _law_energy(self, points) -> np.ndarray:
        values = np.asarray(self.energy(points), dtype=np.float64)
        return values if self.bias is None else values + np.asarray(self.bias(points))

    def _coarse_minimiser(self, low, high) -> np.ndarray:
        count = {1: 2001, 2: 201, 3: 41}[self.dim]
        axes = [np.linspace(lo, hi, count) for lo, hi in zip(low, high, strict=True)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
        values = self._law_energy(grid)
        values = np.where(np.isfinite(values), values, np.inf)
        index = np.unravel_index(int(np.argmin(values)), values.shape)
        return np.array([axes[j][index[j]] for j in range(self.dim)])

    def _confining_box(self, low, high, beta_min):
        middle, half = 0.5 * (low + high), 0.5 * (high - low)
        for _ in range(40):
            lo, hi = middle - half, middle + half
            faces = []
            for j in range(self.dim):
                axes = [np.linspace(a, b, 33) for a, b in zip(lo, hi, strict=True)]
                for value in (lo[j], hi[j]):
                    axes_j = list(axes)
                    axes_j[j] = np.array([value])
                    faces.append(np.stack(np.meshgrid(*axes_j, indexing="ij"), -1).reshape(-1, self.dim))
            face_energy = self._law_energy(np.concatenate(faces))
            inner = self._law_energy(self._coarse_minimiser(lo, hi))
            if np.all(np.isfinite(face_energy)) and np.all(
                    beta_min * (face_energy - inner) > -math.log(_CONFINED)):
                return lo, hi
            half = 2.0 * half
        raise ValueError("the potential does not confine: exp(−βU) does not vanish far from the box; "
                         "use boundary 'reflect' or a confining U")

    def _build(self) -> None:
        self._focus.append(self._coarse_minimiser(self.low, self.high))
        self.nodes, self.weights, self.bin_index = [], [], []
        for j in range(self.dim):
            edges = np.linspace(self.low[j], self.high[j], self.bins + 1)
            breaks = _graded_breakpoints(self.low[j], self.high[j], [f[j] for f in self._focus],
                                         _PANELS[self.dim], self._ratio, self._smallest, edges)
            nodes, weights = _panel_nodes(breaks, self._per_panel)
            self.nodes.append(nodes)
            self.weights.append(weights)
            self.bin_index.append(np.clip(np.searchsorted(edges, nodes, side="right") - 1,
                                          0, self.bins - 1))
        grid = np.stack(np.meshgrid(*self.nodes, indexing="ij"), axis=-1)
        values = np.asarray(self.energy(grid), dtype=np.float64)
        if values.shape != grid.shape[:-1] or not np.all(np.isfinite(values)):
            raise ValueError("the energy is not finite on the whole box (or returned the wrong "
                             "shape); the Boltzmann law needs a finite U on the box")
        self.values = values
        self.u_grid_min = float(values.min())
        law = values if self.bias is None else values + np.asarray(self.bias(grid))
        self._law_min = float(law.min())
        self._law = law - self._law_min
        log_w = np.zeros(values.shape)
        for j, w in enumerate(self.weights):
            shape = [1] * self.dim
            shape[j] = w.size
            log_w = log_w + np.log(w).reshape(shape)
        self._log_weights = log_w

    # ---------------------------------------------------------------- laws
    def _probabilities(self, beta: float) -> tuple[np.ndarray, float]:
        beta = validate.real("beta", beta, minimum=0.0, strict_min=True)
        exponent = self._log_weights - beta * self._law
        top = float(exponent.max())
        p = np.exp(exponent - top)
        total = float(p.sum())
        return p / total, top + math.log(total) - beta * self._law_min

    def log_partition(self, beta: float) -> float:
        """Return log Z(β) = log ∫ exp(−β(U + bias)(x)) dx over the box (Lebesgue measure).

        Parameters
        ----------
        beta : float
            Inverse temperature β > 0.

        Returns
        -------
        float
            log Z; subtract log(box volume) for the uniform-prior normalisation.
        """
        return self._probabilities(beta)[1]

    def mean_energy(self, beta: float) -> float:
        """Return ⟨U⟩_β under the Boltzmann law.

        Parameters
        ----------
        beta : float
            Inverse temperature β > 0.

        Returns
        -------
        float
            The exact mean energy (to the quadrature's accuracy).
        """
        p, _ = self._probabilities(beta)
        # relative to the grid minimum, so a large constant in U costs no digits
        return float((p * (self.values - self.u_grid_min)).sum()) + self.u_grid_min

    def energy_variance(self, beta: float) -> float:
        """Return Var_β(U) = −d⟨U⟩/dβ.

        Parameters
        ----------
        beta : float
            Inverse temperature β > 0.

        Returns
        -------
        float
            The variance of U under the Boltzmann law.
        """
        p, _ = self._probabilities(beta)
        shifted = self.values - self.u_grid_min
        mean = float((p * shifted).sum())
        return float((p * (shifted - mean) ** 2).sum())

    def mean_energy_error(self, beta: float) -> float:
        """Return |⟨U⟩ − ⟨U⟩'|, ⟨U⟩' from the same panels with two nodes fewer each.

        Parameters
        ----------
        beta : float
            Inverse temperature β > 0.

        Returns
        -------
        float
            An upper estimate of the quadrature error of :meth:`mean_energy`.
        """
        coarse = BoltzmannQuadrature(self.energy, self.low, self.high, boundary="reflect",
                                     focus=self._focus[1:-1], bins=self.bins,
                                     nodes_per_panel=max(2, self._per_panel - 2), bias=self.bias)
        return abs(self.mean_energy(beta) - coarse.mean_energy(beta))

    def marginals(self, beta: float) -> np.ndarray:
        """Return the bin probabilities of every coordinate.

        Parameters
        ----------
        beta : float
            Inverse temperature β > 0.

        Returns
        -------
        numpy.ndarray
            float64 ``[d][bins]``, bins of equal width over [low_j, high_j].
        """
        p, _ = self._probabilities(beta)
        out = np.empty((self.dim, self.bins))
        for j in range(self.dim):
            axis_p = p.sum(axis=tuple(a for a in range(self.dim) if a != j))
            out[j] = np.bincount(self.bin_index[j], weights=axis_p, minlength=self.bins)
        return out

    def density_2d(self, beta: float) -> np.ndarray:
        """Return the bin probabilities of (x0, x1) (other coordinates integrated out).

        Parameters
        ----------
        beta : float
            Inverse temperature β > 0.

        Returns
        -------
        numpy.ndarray
            float64 ``[bins][bins]``.

        Raises
        ------
        ValueError
            If d = 1.
        """
        if self.dim < 2:
            raise ValueError("a 2-D law needs d >= 2")
        p, _ = self._probabilities(beta)
        if self.dim == 3:
            p = p.sum(axis=2)
        flat = self.bin_index[0][:, None] * self.bins + self.bin_index[1][None, :]
        counts = np.bincount(flat.ravel(), weights=p.ravel(), minlength=self.bins**2)
        return counts.reshape(self.bins, self.bins)


# ---------------------------------------------------------------------- runs
def model_quadrature(model, bins: int | None = None) -> BoltzmannQuadrature:
    """Return the quadrature of a Langevin model's stationary law on its box (d <= 3).

    Parameters
    ----------
    model : fastwalk.models.langevin.LangevinBrownian
        A model with a typed expression (``model.expression.energy_numpy``),
        its box (``lower``, ``box_side``), ``boundary``, ``center``, the
        localizing ``localize`` γ and point ``at``, and ``bins``. With a
        localizer the law is the run's own, exp(−U/T − γ/2·|x − x*|²),
        exact at β = 1/T only (the bias is T·γ/2·|x − x*|²).
    bins : int, optional
        Bins per coordinate (default the model's).

    Returns
    -------
    BoltzmannQuadrature
        Over the model's box; with boundary ``none`` the law is the one on
        R^d restricted to the box (see :func:`langevin_report`).

    Raises
    ------
    ValueError
        If the model has no typed expression or d > 3.
    """
    expression = getattr(model, "expression", None)
    if expression is None:
        raise ValueError("exact references need a typed expression; this run's potential is a "
                         "pair of jitted functions")
    if model.dim > 3:
        raise ValueError(f"exact references are computed for d <= 3, this run has d = {model.dim}")
    bias = None
    if model.localize > 0:
        # the localizer is a fixed prior exp(−γ/2·|x − x*|²): at the run's own β = 1/T it is
        # the energy term T·γ/2·|x − x*|² (model.stiffness), which this law is built for
        stiffness, at = float(model.temperature * model.localize), np.asarray(model.at, dtype=np.float64)

        def bias(points):
            return 0.5 * stiffness * ((points - at) ** 2).sum(axis=-1)
    low = np.asarray(model.lower, dtype=np.float64)
    focus = [np.asarray(model.center, dtype=np.float64), np.asarray(model.at, dtype=np.float64)]
    return BoltzmannQuadrature(expression.energy_numpy, low, low + model.box_side,
                               focus=focus, bins=model.bins if bins is None else bins, bias=bias)


def langevin_report(model, accumulators: dict) -> dict:
    """Compare a Langevin run (d <= 3) with its exact Boltzmann law.

    Parameters
    ----------
    model : fastwalk.models.langevin.LangevinBrownian
        The model that was run.
    accumulators : dict
        ``walker_energy_sum``, ``walker_energy_count``, ``histogram_2d``
        (d >= 2), ``marginals`` and (boundary ``none``) ``samples``.

    Returns
    -------
    dict
        JSON-able: ``mean_energy`` (the walkers' time averages, with
        ``mean_energy_stderr`` from their spread), ``mean_energy_exact``,
        ``energy_z`` (their difference in standard errors),
        ``lambda_hat`` and ``lambda_hat_exact`` (β⟨U⟩), ``marginal_tv``
        (per coordinate, empirical to exact), ``tv_2d`` (for d >= 2) with
        ``tv_2d_floor_walkers`` (the TV expected from as many independent
        samples as walkers: an upper floor, since each walker contributes
        at least one), and
        ``box_mass_exact`` (the exact mass inside the box: 1 unless the
        boundary is ``none``).

    Examples
    --------
    >>> import fastwalk as fw
    >>> from fastwalk.analysis.quadrature import langevin_report
    >>> model = fw.LangevinBrownian("x0**2 + x1**2", 2, temperature=0.1, dt=0.05, method="mala")
    >>> run = fw.simulate(model, walkers=200, steps=1000, seed=1, burn_in=200)
    >>> report = langevin_report(run.model, run.accumulators)
    >>> abs(report["energy_z"]) < 4, round(report["lambda_hat_exact"], 2)   # a regular minimum: d/2
    (True, 1.0)
    """
    from fastwalk.analysis.boltzmann import multinomial_tv_floor, probabilities_total_variation
    from fastwalk.analysis.llc import run_estimate

    beta = 1.0 / model.temperature
    estimate = run_estimate(beta, accumulators["walker_energy_sum"],
                            accumulators["walker_energy_count"])
    inside = model_quadrature(model)
    box_mass = 1.0
    if model.boundary == "none":
        low = np.asarray(model.lower, dtype=np.float64)
        everywhere = BoltzmannQuadrature(inside.energy, low, low + model.box_side, boundary="none",
                                         beta_min=beta, bias=inside.bias,
                                         focus=inside._focus[1:-1])
        box_mass = math.exp(inside.log_partition(beta) - everywhere.log_partition(beta))
        exact_energy = everywhere.mean_energy(beta)
    else:
        exact_energy = inside.mean_energy(beta)
    report = {
        "mean_energy": estimate["mean_energy"],
        "mean_energy_stderr": estimate["mean_energy_stderr"],
        "mean_energy_exact": exact_energy,
        # no spread between the walkers (all pinned to one energy): no z to give
        "energy_z": ((estimate["mean_energy"] - exact_energy) / estimate["mean_energy_stderr"]
                     if estimate["mean_energy_stderr"] > 0 else None),
        "lambda_hat": estimate["lambda_hat"],
        "lambda_hat_exact": beta * exact_energy,
        "box_mass_exact": box_mass,
    }
    samples = accumulators.get("samples")
    if accumulators.get("marginals") is not None:
        counts = np.asarray(accumulators["marginals"], dtype=np.float64)
        total = float(np.sum(samples)) if samples is not None else counts[0].sum()
        exact = inside.marginals(beta) * box_mass
        report["marginal_tv"] = [probabilities_total_variation(row / total, law)
                                 for row, law in zip(counts, exact, strict=True)]
    if model.dim >= 2 and accumulators.get("histogram_2d") is not None:
        counts = np.asarray(accumulators["histogram_2d"], dtype=np.float64)
        total = float(np.sum(samples)) if samples is not None else counts.sum()
        exact = inside.density_2d(beta) * box_mass
        report["tv_2d"] = probabilities_total_variation(counts / total, exact)
        report["tv_2d_floor_walkers"] = multinomial_tv_floor(exact / exact.sum(),
                                                             estimate["walkers"])
    return report


def langevin_run_report(run, **options) -> dict:
    """Return :func:`langevin_report` for an open Langevin file (``fastwalk stationary``).

    Parameters
    ----------
    run : fastwalk.io.reader.Run
        The open file.
    **options
        Options of ``fastwalk stationary`` that other models use (ignored).

    Returns
    -------
    dict
        The report.
    """
    return langevin_report(run.model, run.accumulators)
