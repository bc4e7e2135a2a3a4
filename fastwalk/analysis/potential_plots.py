"""Pictures of potential runs: landscape, empirical density, Boltzmann and regular laws.

The landscape U over (x0, x1), the other coordinates at the center; the
empirical 2-D density; the Boltzmann density; the regular prediction; with
the total variation distances and the masses near the center.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fastwalk.analysis._figure import new_figure, required_accumulator, save_figure


def _landscape(model) -> np.ndarray:
    """Return U at the bin centers of (x0, x1), the other coordinates at the center."""
    bins = model.bins
    centers = (np.arange(bins) + 0.5) * model.box_side / bins
    grid = np.tile(np.asarray(model.center, dtype=np.float64), (bins * bins, 1))
    x0, x1 = np.meshgrid(centers, centers, indexing="ij")
    grid[:, 0], grid[:, 1] = x0.ravel(), x1.ravel()
    return model.energy(grid).reshape(bins, bins)


def _references(model) -> tuple[dict, str | None]:
    """Return the Boltzmann and regular 2-D laws, or why they are unavailable."""
    from fastwalk.analysis.boltzmann import boltzmann_reference, regular_reference

    try:
        return {"Boltzmann ∝ exp(−U/T)": boltzmann_reference(model)["histogram_2d"],
                "regular prediction (valleys apart)": regular_reference(model)["histogram_2d"]}, None
    except ValueError as exc:
        return {}, str(exc)


def _potential_summary(model, empirical, references: dict, radius: float) -> str:
    from fastwalk.analysis.boltzmann import mass_within, probabilities_total_variation

    names = {"Boltzmann ∝ exp(−U/T)": "Boltzmann", "regular prediction (valleys apart)": "regular"}
    parts, masses = [], [f"empirical {mass_within(empirical, model, radius):.3f}"]
    for title, law in references.items():
        parts.append(f"TV(empirical, {names[title]}) = {probabilities_total_variation(empirical, law):.3g}")
        masses.append(f"{names[title]} {mass_within(law, model, radius):.3f}")
    lines = ["; ".join(parts)] if parts else []
    lines.append(f"mass within r = {radius:.3g} of the center: " + ", ".join(masses))
    return "\n".join(lines)


def potential_figure(model, histogram_2d, *, radius: float | None = None):
    """Landscape, empirical density, Boltzmann density and the regular prediction.

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The potential model.
    histogram_2d : array_like
        ``[bins][bins]`` counts of (x0, x1) over the box.
    radius : float, optional
        Radius of the central disc whose mass is compared (drawn dashed);
        default twice a valley's thermal width (as ``fastwalk stationary``).

    Returns
    -------
    matplotlib.figure.Figure
        Four panels (two when T = 0, where there is no Boltzmann density).
    """
    counts = np.asarray(histogram_2d, dtype=np.float64)
    if counts.shape != (model.bins, model.bins):
        raise ValueError(f"histogram_2d has shape {counts.shape}; the model has "
                         f"{model.bins} × {model.bins} bins")
    side = model.box_side
    empirical = counts / counts.sum() if counts.sum() > 0 else counts
    references, missing = _references(model)
    if radius is None:
        thermal = math.sqrt(model.temperature / (2.0 * model.a))
        radius = max(2.0 * thermal, 2.0 * side / model.bins)
    panels = [("U(x0, x1), other coordinates at b", _landscape(model), "viridis", "energy"),
              ("empirical density", empirical, "magma", "probability per bin")]
    panels += [(title, law, "magma", "probability per bin") for title, law in references.items()]
    vmax = max(float(values.max()) for _, values, cmap, _ in panels if cmap == "magma")
    figure = new_figure((4.6 * len(panels), 4.6))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    b0, b1 = model.center[0], model.center[1]
    from matplotlib.colors import Normalize, PowerNorm

    for ax, (title, values, cmap, unit) in zip(axes, panels, strict=True):
        # a square-root scale opens up the valleys of the landscape
        norm = Normalize(0.0, vmax) if cmap == "magma" else PowerNorm(0.5)
        image = ax.imshow(values.T, origin="lower", extent=(0, side, 0, side), cmap=cmap,
                          norm=norm, interpolation="nearest")
        ax.plot(b0, b1, "w+", ms=8)
        # a disc wider than the box's diagonal covers all of it: not drawn (a dashed circle
        # of radius 1e24 kept Agg drawing dashes for hours)
        if cmap == "magma" and radius < math.sqrt(2.0) * side:
            for dx in (-side, 0.0, side):  # the disc wraps around the periodic box
                for dy in (-side, 0.0, side):
                    ax.add_patch(_circle((b0 + dx, b1 + dy), radius))
        ax.set_xlim(0, side)
        ax.set_ylim(0, side)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x0")
        ax.set_ylabel("x1")
        figure.colorbar(image, ax=ax, shrink=0.8, label=unit)
    summary = (_potential_summary(model, empirical, references, radius) if counts.sum() > 0
               else "no counted samples")
    if missing:
        summary += f"\nno Boltzmann panel: {missing}"
    figure.suptitle(f"U = a·min_k Σ (x_j − b_j)²: a = {model.a:g}, T = {model.temperature:g}, "
                    f"dt = {model.dt:g}, box = {side:g}, D = {model.dim}\n{summary}", fontsize=10)
    return figure


def _circle(center, radius):
    from matplotlib.patches import Circle

    return Circle(center, radius, fill=False, ls="--", lw=1, color="w", alpha=0.8)


def plot_potential(model, histogram_2d, path, *, radius: float | None = None,
                   dpi: int = 120) -> Path:
    """Draw :func:`potential_figure` (same arguments) and save it to ``path`` at ``dpi``; return the path."""
    return save_figure(potential_figure(model, histogram_2d, radius=radius), path, dpi)


def potential_run_figure(run):
    """Draw an open potential file: :func:`potential_figure` of its final 2-D histogram.

    A D = 1 run has no (x0, x1) picture: its observables against time instead.
    """
    histogram = required_accumulator(run, run.accumulators, "histogram_2d")
    if run.model.dim < 2:
        from fastwalk.analysis.plots import series_run_figure

        return series_run_figure(run)
    return potential_figure(run.model, histogram)
