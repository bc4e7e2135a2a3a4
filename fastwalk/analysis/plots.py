"""Pictures of runs: lattices as the seed draws them, potentials, sphere decay.

matplotlib (the ``plot`` extra) is imported only when a picture is drawn, and
every figure is a :class:`matplotlib.figure.Figure` on its own Agg canvas:
no display is needed and pyplot's global state (the user's backend, its list
of open figures) is never touched.

Two layers:

- ``*_figure`` functions build a figure from a model and arrays (for scripts,
  notebooks and the demo) and return it;
- ``plot_*`` functions build the same figure and save it, and
  :func:`plot_run` draws any fastwalk file in the way that suits its model.

What is drawn
-------------
- **lattice** (lines crossings): line k of K drawn through the center at angle
  π·k/K, each node at its signed minimum-image coordinate along its line, a
  circle of area ∝ its visit frequency, the center marked; the title gives the
  measured center/other visit ratio with its standard error against the
  degree law's K. Lattices with more than ``max_nodes`` nodes are drawn with
  neighbouring nodes of a line grouped into one circle (area ∝ their mean
  frequency per node). Other crossings (planes, hyperplanes): each node's
  visit frequency over the exact degree law against its lattice distance
  from the center, with the mean per distance.
- **graph**: empirical against exact stationary probability per node label.
- **potential**: the landscape U over (x0, x1), the other coordinates at the
  center; the empirical 2-D density; the Boltzmann density; the regular
  prediction; with the total variation distances and the masses near the
  center.
- **sphere**: ⟨cos θ⟩ against t with error bars, the fitted law and the exact
  exp(−nDt/R²); mean and RMS chordal displacement with the RMS law and the
  stationary limits (exact finite-n mean chord, RMS √2·R).
- anything else: its scalar observables against time (``sem_<name>`` as
  error bars of ``<name>``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fastwalk.errors import FastwalkError, MissingDataError

__all__ = [
    "MAX_DRAWN_NODES",
    "lattice_layout",
    "lattice_groups",
    "lattice_figure",
    "graph_figure",
    "potential_figure",
    "sphere_figure",
    "series_figure",
    "run_figure",
    "plot_lattice",
    "plot_graph",
    "plot_potential",
    "plot_sphere",
    "plot_series",
    "plot_run",
]

#: lattices with more nodes than this are drawn with nodes grouped along each line
MAX_DRAWN_NODES = 4000
#: nodes whose coordinates are computed at once (bounds memory on huge lattices)
_CHUNK = 1 << 18
#: graph nodes shown in the bar chart (the most probable ones)
_MAX_BARS = 40
#: circle diameter of a node with the mean non-center frequency, in node spacings
_TYPICAL_DIAMETER = 0.7
#: largest circle diameter, as a fraction of the axes' width
_LARGEST_DIAMETER = 0.3

MISSING_MATPLOTLIB = "plotting needs matplotlib: pip install 'fastwalk[plot]'"


# ---------------------------------------------------------------------- figures
def _new_figure(figsize: tuple[float, float]):
    """Return an empty Figure on its own Agg canvas (no pyplot, no display)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise FastwalkError(MISSING_MATPLOTLIB) from None
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path, dpi: int) -> Path:
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(
            f"directory {path.parent} for the picture does not exist; create it first"
        )
    dpi = int(dpi)
    if dpi < 1:
        raise ValueError(f"dpi must be a positive integer, got {dpi}")
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _counts_vector(name: str, counts, nodes: int) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (nodes,):
        raise ValueError(f"{name} has shape {counts.shape}; the model has {nodes} nodes")
    if np.any(~np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    return counts


def _frequency(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else counts


# ---------------------------------------------------------------------- lattices
def _line_axes(crossing) -> list[int] | None:
    """Return each subspace's free axis when every subspace is a line, else None."""
    free = [crossing.free(k) for k in range(crossing.count)]
    if any(len(axes) != 1 for axes in free):
        return None
    return [axes[0] for axes in free]


def _signed(coords: np.ndarray, length: int) -> np.ndarray:
    """Return minimum-image coordinates in −⌈L/2⌉+1 .. ⌊L/2⌋ (the center at 0)."""
    return np.where(coords > length // 2, coords - length, coords)


def _line_positions(model, nodes: np.ndarray, axes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Return (line index, signed position along it) of ``nodes`` of a lines crossing."""
    coords = model.coords()[nodes] if model.nodes <= _CHUNK else model.layout.coords(nodes)
    on_axis = coords != 0
    axis = np.argmax(on_axis, axis=1)
    line_of_axis = np.full(model.crossing.dim, -1, dtype=np.int64)
    line_of_axis[axes] = np.arange(len(axes))
    line = np.where(on_axis.any(axis=1), line_of_axis[axis], -1)
    position = _signed(coords[np.arange(nodes.size), axis], model.length)
    return line, np.where(line >= 0, position, 0)


def lattice_layout(model, nodes=None) -> tuple[np.ndarray, np.ndarray] | None:
    """Place a lines crossing's nodes in the plane, as the seed draws it.

    Line k of K is drawn through the origin at angle π·k/K; a node sits at
    its signed minimum-image coordinate along its line (the center at the
    origin; for even L the node at L/2 on the positive side).

    Parameters
    ----------
    model : fastwalk.models.lattice.LatticeWalk
        A lattice whose subspaces each have exactly one free coordinate.
    nodes : array_like of int, optional
        Node indices to place (default all, in order).

    Returns
    -------
    xy : numpy.ndarray
        ``[n][2]`` positions in lattice units.
    line : numpy.ndarray
        ``[n]`` index of the line each node lies on (−1 for the center).

    Or None when some subspace is not a line.
    """
    axes = _line_axes(model.crossing)
    if axes is None:
        return None
    nodes = np.arange(model.nodes) if nodes is None else np.asarray(nodes, dtype=np.int64).ravel()
    line, position = _line_positions(model, nodes, axes)
    angle = np.pi * np.maximum(line, 0) / model.crossing.count
    xy = np.column_stack([position * np.cos(angle), position * np.sin(angle)])
    return xy, line


def lattice_groups(model, counts, max_nodes: int = MAX_DRAWN_NODES) -> dict[str, Any] | None:
    """Group a lines crossing's nodes into at most ``max_nodes`` circles along the lines.

    With at most ``max_nodes`` nodes every node is its own group. Otherwise
    each line is cut into runs of ``width`` consecutive nodes on each side of
    the center; the center always stays alone. Coordinates are computed in
    chunks, so memory stays bounded on huge lattices (L = 10^6).

    Parameters
    ----------
    model : fastwalk.models.lattice.LatticeWalk
        A lines crossing's lattice.
    counts : array_like
        Visits per node.
    max_nodes : int, optional
        Most circles to draw.

    Returns
    -------
    dict or None
        ``xy`` ``[G][2]`` mean position of each group (lattice units),
        ``line`` ``[G]`` (−1 for the center), ``frequency`` ``[G]`` mean visit
        frequency per node of the group, ``law`` ``[G]`` mean degree-law
        probability per node, ``size`` ``[G]`` nodes per group, ``width``
        (nodes per group along a line), ``center`` (index of the center's
        group); None when some subspace is not a line.
    """
    from fastwalk.analysis.stationary import model_law

    axes = _line_axes(model.crossing)
    if axes is None:
        return None
    frequency = _frequency(_counts_vector("visit counts", counts, model.nodes))
    law, _ = model_law(model)
    count, half = model.crossing.count, model.length // 2
    per_side = max(1, (int(max_nodes) - 1) // (2 * count))
    width = max(1, math.ceil(half / per_side))
    side = math.ceil(half / width)
    slots = 2 * side + 1  # group slot −side..side on each line, 0 unused except by the center
    sums = np.zeros((4, count * slots + 1))  # frequency, law, position, size; last slot: center
    for first in range(0, model.nodes, _CHUNK):
        nodes = np.arange(first, min(first + _CHUNK, model.nodes))
        line, position = _line_positions(model, nodes, axes)
        group = np.sign(position) * ((np.abs(position) - 1) // width + 1)
        slot = np.where(line >= 0, line * slots + group + side, count * slots)
        for row, weights in enumerate((frequency[nodes], law[nodes], position, None)):
            sums[row] += np.bincount(slot, weights=weights, minlength=sums.shape[1])
    used = np.flatnonzero(sums[3] > 0)
    size = sums[3, used]
    line = np.where(used == count * slots, -1, used // slots)
    position = sums[2, used] / size
    angle = np.pi * np.maximum(line, 0) / count
    return {
        "xy": np.column_stack([position * np.cos(angle), position * np.sin(angle)]),
        "line": line,
        "frequency": sums[0, used] / size,
        "law": sums[1, used] / size,
        "size": size.astype(np.int64),
        "width": width,
        "center": int(np.flatnonzero(line < 0)[0]),
    }


def _ratio_title(model, ratio: dict) -> str:
    lines = _line_axes(model.crossing) is not None
    what = (f"K = {model.crossing.count} lines" if lines
            else f"{model.crossing.count} subspaces in D = {model.crossing.dim}")
    measured = "n/a" if ratio["ratio"] is None else f"{ratio['ratio']:.4g}"
    if ratio["ratio"] is not None and ratio.get("se"):
        digits = max(0, 1 - math.floor(math.log10(ratio["se"])))  # two significant digits of se
        measured = f"{ratio['ratio']:.{digits}f} ± {ratio['se']:.{digits}f}"
    expected = ratio["expected"]
    law = "n/a" if expected is None else f"{expected:.4g}"
    return (f"{what}, L = {model.length}: center/other visits {measured}\n"
            f"(degree law: {'K = ' if lines else ''}{law})")


def _draw_lines(ax, model, counts, max_nodes: int) -> None:
    groups = lattice_groups(model, counts, max_nodes)
    count, half, width = model.crossing.count, model.length // 2, groups["width"]
    reach = half + 0.5
    for k in range(count):
        c, s = math.cos(math.pi * k / count), math.sin(math.pi * k / count)
        ax.plot([-reach * c, reach * c], [-reach * s, reach * s], color="0.75", lw=1, zorder=0)
    ax.set_xlim(-reach - 0.5 * width, reach + 0.5 * width)
    ax.set_ylim(-reach - 0.5 * width, reach + 0.5 * width)
    ax.set_aspect("equal")
    # area ∝ frequency; a node with the law's mean non-center probability gets a circle
    # _TYPICAL_DIAMETER node spacings across (the axes are about 330 points wide)
    spacing_points = 330.0 * width / (2 * reach + width)
    others = np.delete(groups["law"], groups["center"])
    typical = others.mean() if others.size and others.mean() > 0 else 1.0
    scale = (_TYPICAL_DIAMETER * spacing_points) ** 2 / typical
    largest = groups["frequency"].max()
    if largest > 0:  # an unmixed run piles its visits on the center: keep that circle in view
        scale = min(scale, (_LARGEST_DIAMETER * 330.0) ** 2 / largest)
    center = groups["center"]
    is_center = np.arange(groups["line"].size) == center
    ax.scatter(*groups["xy"][~is_center].T, s=scale * groups["frequency"][~is_center],
               color="C0", alpha=0.65, edgecolors="C0")
    ax.scatter(*groups["xy"][center], s=scale * groups["frequency"][center], color="C3",
               alpha=0.65, edgecolors="C3")
    ax.plot(0, 0, "k+", ms=10, mew=1.5, zorder=3)
    unit = "lattice units" if width == 1 else f"lattice units; {width} nodes per circle"
    ax.set_xlabel(f"position along each line ({unit})")
    ax.legend(handles=_legend_proxies([("C0", "node: area ∝ visit frequency"),
                                       ("C3", "center (+)")]), loc="upper right", fontsize=8)


def _legend_proxies(entries):
    from matplotlib.lines import Line2D

    return [Line2D([], [], ls="", marker="o", ms=8, color=colour, alpha=0.65, label=label)
            for colour, label in entries]


def _distance_profile(model, frequency: np.ndarray, law: np.ndarray):
    """Return per-node (distance, frequency / law, degree) chunk by chunk."""
    degrees = model.degrees()
    for first in range(0, model.nodes, _CHUNK):
        nodes = np.arange(first, min(first + _CHUNK, model.nodes))
        coords = model.layout.coords(nodes)
        distance = np.abs(_signed(coords, model.length)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(law[nodes] > 0, frequency[nodes] / law[nodes], np.nan)
        yield distance, relative, degrees[nodes]


def _draw_profile(ax, model, counts, max_nodes: int) -> None:
    from fastwalk.analysis.stationary import model_law

    frequency = _frequency(counts)
    law, _ = model_law(model)
    reach = model.crossing.dim * (model.length // 2)
    sums = np.zeros((2, reach + 1))
    scatter = model.nodes <= max_nodes
    for distance, relative, degree in _distance_profile(model, frequency, law):
        finite = np.isfinite(relative)
        sums[0] += np.bincount(distance[finite], weights=relative[finite], minlength=reach + 1)
        sums[1] += np.bincount(distance[finite], minlength=reach + 1)
        if scatter:
            for value in np.unique(degree):
                pick = degree == value
                ax.scatter(distance[pick], relative[pick], s=10, alpha=0.5,
                           label=f"nodes of degree {value}")
    center_law = law[model.center]
    ax.plot(0, frequency[model.center] / center_law if center_law > 0 else np.nan, "r*", ms=12,
            label="center", zorder=3)
    present = sums[1] > 0
    ax.plot(np.flatnonzero(present), sums[0, present] / sums[1, present], "k.-", lw=1, ms=3,
            label="mean over nodes at that distance")
    ax.axhline(1.0, color="C3", lw=1, ls="--", label="exact degree law")
    ax.set_xlabel("lattice distance from the center")
    ax.set_ylabel("visit frequency / exact degree law")
    ax.legend(fontsize=8)


def lattice_figure(model, counts, *, walker_center_visits=None, max_nodes: int = MAX_DRAWN_NODES):
    """Draw visit frequencies on a crossing lattice.

    Parameters
    ----------
    model : fastwalk.models.lattice.LatticeWalk
        The lattice.
    counts : array_like
        Visit counts per node (``visit_counts``).
    walker_center_visits : array_like, optional
        Each walker's center visits, for the ratio's standard error.
    max_nodes : int, optional
        Most circles (lines) or scattered points (other crossings) to draw.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (module docstring).
    """
    from fastwalk.analysis.stationary import center_ratio, model_law

    counts = _counts_vector("visit counts", counts, model.nodes)
    law, _ = model_law(model)
    ratio = center_ratio(counts, law, model.center, walker_center_visits)
    figure = _new_figure((6.4, 6.4))
    ax = figure.subplots()
    if _line_axes(model.crossing) is not None:
        _draw_lines(ax, model, counts, max_nodes)
    else:
        _draw_profile(ax, model, counts, max_nodes)
    ax.set_title(_ratio_title(model, ratio), fontsize=10)
    return figure


def plot_lattice(model, counts, path, *, walker_center_visits=None,
                 max_nodes: int = MAX_DRAWN_NODES, dpi: int = 120) -> Path:
    """Draw a lattice run with :func:`lattice_figure` and save it.

    Parameters
    ----------
    model : fastwalk.models.lattice.LatticeWalk
        The lattice.
    counts : array_like
        Visit counts per node.
    path : path-like
        Output picture (PNG by its suffix).
    walker_center_visits : array_like, optional
        Each walker's center visits, for the ratio's standard error.
    max_nodes : int, optional
        Most circles or points to draw.
    dpi : int, optional
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    figure = lattice_figure(model, counts, walker_center_visits=walker_center_visits,
                            max_nodes=max_nodes)
    return _save(figure, path, dpi)


# ---------------------------------------------------------------------- graphs
def graph_figure(model, counts):
    """Bar chart of empirical against exact stationary probability per node.

    Parameters
    ----------
    model : fastwalk.models.graph.GraphWalk
        The graph walk.
    counts : array_like
        Visit counts per node.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; graphs with more than 40 nodes show their 40 most
        probable nodes.
    """
    from fastwalk.analysis.stationary import model_law, total_variation

    counts = _counts_vector("visit counts", counts, model.nodes)
    law, description = model_law(model)
    shown = np.argsort(-law, kind="stable")[:_MAX_BARS]
    labels = model.labels[shown] if model.labels is not None else shown.astype(str)
    figure = _new_figure((max(6.0, 0.3 * len(shown)), 4.0))
    ax = figure.subplots()
    x = np.arange(len(shown))
    ax.bar(x - 0.2, _frequency(counts)[shown], width=0.4, label="empirical (visits)")
    ax.bar(x + 0.2, law[shown], width=0.4, label=f"exact: {description}")
    ax.set_xticks(x, [str(label) for label in labels], rotation=60, fontsize=8)
    ax.set_xlabel("node" + ("" if len(shown) == model.nodes
                            else f" ({len(shown)} most probable of {model.nodes})"))
    ax.set_ylabel("stationary probability")
    tv = total_variation(counts, law) if counts.sum() > 0 else math.nan
    ax.set_title(f"graph walk, {model.nodes} nodes: total variation to the exact law {tv:.3g}",
                 fontsize=10)
    ax.legend(fontsize=8)
    return figure


def plot_graph(model, counts, path, *, dpi: int = 120) -> Path:
    """Draw a graph run with :func:`graph_figure` and save it.

    Parameters
    ----------
    model : fastwalk.models.graph.GraphWalk
        The graph walk.
    counts : array_like
        Visit counts per node.
    path : path-like
        Output picture.
    dpi : int, optional
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    return _save(graph_figure(model, counts), path, dpi)


# ---------------------------------------------------------------------- potentials
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
    from fastwalk.analysis.boltzmann import mass_within, total_variation

    names = {"Boltzmann ∝ exp(−U/T)": "Boltzmann", "regular prediction (valleys apart)": "regular"}
    parts, masses = [], [f"empirical {mass_within(empirical, model, radius):.3f}"]
    for title, law in references.items():
        parts.append(f"TV(empirical, {names[title]}) = {total_variation(empirical, law):.3g}")
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
    figure = _new_figure((4.6 * len(panels), 4.6))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    b0, b1 = model.center[0], model.center[1]
    from matplotlib.colors import Normalize, PowerNorm

    for ax, (title, values, cmap, unit) in zip(axes, panels, strict=True):
        # a square-root scale opens up the valleys of the landscape
        norm = Normalize(0.0, vmax) if cmap == "magma" else PowerNorm(0.5)
        image = ax.imshow(values.T, origin="lower", extent=(0, side, 0, side), cmap=cmap,
                          norm=norm, interpolation="nearest")
        ax.plot(b0, b1, "w+", ms=8)
        if cmap == "magma":
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
    """Draw a potential run with :func:`potential_figure` and save it.

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The potential model.
    histogram_2d : array_like
        ``[bins][bins]`` counts of (x0, x1).
    path : path-like
        Output picture.
    radius : float, optional
        Radius of the central disc.
    dpi : int, optional
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    return _save(potential_figure(model, histogram_2d, radius=radius), path, dpi)


# ---------------------------------------------------------------------- spheres
def _optional(values, size: int) -> np.ndarray | None:
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (size,):
        raise ValueError(f"a chord series has shape {values.shape}, the times {(size,)}")
    return values


def sphere_figure(parameters: dict, times, mean, sem, mean_chord=None, rms_chord=None, *,
                  sem_chord=None, sem_rms_chord=None):
    """⟨cos θ⟩ with the fitted and exact laws, and the chordal displacements.

    Parameters
    ----------
    parameters : dict
        The sphere model's parameters (``dim``, ``radius``, ``diffusion``;
        ``method``, ``dt``, ``step_chord`` to draw the simulated walk's own
        law when it differs from Brownian motion's).
    times, mean, sem : array_like
        Record times, ``mean_cos_theta`` and ``sem_cos_theta``.
    mean_chord, rms_chord : array_like, optional
        Mean and RMS chordal displacement per record.
    sem_chord, sem_rms_chord : array_like, optional
        Their standard errors (error bars).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels.
    """
    from fastwalk.analysis.decay import (
        fit_report,
        mean_cos_theta_law,
        rms_chord_law,
        stationary_mean_chord,
        stationary_rms_chord,
    )

    n, radius, diffusion = parameters["dim"], parameters["radius"], parameters["diffusion"]
    t = np.asarray(times, dtype=np.float64)
    mean, sem = np.asarray(mean, dtype=np.float64), np.asarray(sem, dtype=np.float64)
    if not (t.ndim == 1 and mean.shape == t.shape and sem.shape == t.shape):
        raise ValueError(f"times {t.shape}, mean {mean.shape} and sem {sem.shape} must be "
                         "1-D of one length")
    fine = np.linspace(0.0, float(t.max()) if t.size else 1.0, 400)
    figure = _new_figure((12.5, 4.6))
    left, right = figure.subplots(1, 2)
    left.errorbar(t, mean, yerr=sem, fmt=".", ms=3, elinewidth=0.8, label="simulated ⟨cos θ⟩ ± s.e.")
    left.plot(fine, mean_cos_theta_law(fine, n, radius, diffusion), "k-", lw=1,
              label=f"exact exp(−nDt/R²), D = {diffusion:g}")
    try:
        fit = fit_report(t, mean, sem, parameters)
    except FastwalkError as exc:  # too few usable records
        left.text(0.5, 0.5, f"no fit: {exc}", transform=left.transAxes, ha="center", wrap=True)
    else:
        left.plot(fine, np.exp(-fit["rate"] * fine), "C3--",
                  label=f"fit: D = {fit['D']:.5g} ± {fit['D_stderr']:.2g}, "
                        f"χ²/dof = {fit['chi2_dof']:.3g}")
        walk = fit.get("rate_walk")
        if walk is not None and not math.isclose(walk, fit["rate_brownian"], rel_tol=1e-6):
            left.plot(fine, np.exp(-walk * fine), "C2:",
                      label=f"the {parameters.get('method')} walk's own law")
    left.set_xlabel("t")
    left.set_ylabel("⟨cos θ⟩")
    left.set_title(f"$S^{{{n}}}$, R = {radius:g}, D = {diffusion:g}, method {parameters.get('method')}",
                   fontsize=10)
    left.legend(fontsize=8)
    for values, errors, label in ((mean_chord, sem_chord, "mean chord ⟨z⟩"),
                                  (rms_chord, sem_rms_chord, "RMS chord √⟨z²⟩")):
        values, errors = _optional(values, t.size), _optional(errors, t.size)
        if values is not None:
            right.errorbar(t, values, yerr=errors, fmt=".", ms=3, elinewidth=0.8, label=label)
    right.plot(fine, rms_chord_law(fine, n, radius, diffusion), "k-", lw=1,
               label="RMS law R·√(2(1 − exp(−nDt/R²)))")
    right.axhline(stationary_rms_chord(radius), color="C1", ls=":",
                  label=f"stationary RMS √2·R = {stationary_rms_chord(radius):.4g}")
    right.axhline(stationary_mean_chord(n, radius), color="C0", ls="--", lw=1,
                  label=f"stationary mean chord = {stationary_mean_chord(n, radius):.4g}")
    right.set_xlabel("t")
    right.set_ylabel("chordal displacement z = |x_t − x_0|")
    right.legend(fontsize=8, loc="lower right")
    return figure


def plot_sphere(parameters: dict, times, mean, sem, mean_chord, rms_chord, path, *,
                sem_chord=None, sem_rms_chord=None, dpi: int = 120) -> Path:
    """Draw a sphere run with :func:`sphere_figure` and save it.

    Parameters
    ----------
    parameters : dict
        The sphere model's parameters.
    times, mean, sem : array_like
        Record times, ``mean_cos_theta`` and ``sem_cos_theta``.
    mean_chord, rms_chord : array_like or None
        Mean and RMS chordal displacement per record.
    path : path-like
        Output picture.
    sem_chord, sem_rms_chord : array_like, optional
        Standard errors of the chords.
    dpi : int, optional
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    figure = sphere_figure(parameters, times, mean, sem, mean_chord, rms_chord,
                           sem_chord=sem_chord, sem_rms_chord=sem_rms_chord)
    return _save(figure, path, dpi)


# ---------------------------------------------------------------------- any series
def series_figure(series: dict, *, errors: dict | None = None, title: str = ""):
    """Each scalar observable against time, one panel each.

    Parameters
    ----------
    series : dict
        ``name -> (times, values)``.
    errors : dict, optional
        ``name -> standard errors`` drawn as error bars.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    errors = errors or {}
    names = list(series) or ["(no observables)"]
    figure = _new_figure((4.8 * len(names), 4.0))
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        if name in series:
            t, values = series[name]
            ax.errorbar(t, values, yerr=errors.get(name), fmt=".-", ms=3, lw=0.8, elinewidth=0.8)
        ax.set_xlabel("t")
        ax.set_title(name, fontsize=10)
    figure.suptitle(title)
    return figure


def plot_series(series: dict, path, *, errors: dict | None = None, title: str = "",
                dpi: int = 120) -> Path:
    """Draw observables with :func:`series_figure` and save them.

    Parameters
    ----------
    series : dict
        ``name -> (times, values)`` for scalar observables.
    path : path-like
        Output picture.
    errors : dict, optional
        ``name -> standard errors``.
    title : str, optional
        Figure title.
    dpi : int, optional
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    return _save(series_figure(series, errors=errors, title=title), path, dpi)


# ---------------------------------------------------------------------- files
def _accumulator(run, accumulators: dict, name: str) -> np.ndarray:
    if name not in accumulators:
        raise MissingDataError(
            f"{run.path} holds no committed {name!r} accumulator yet (no commit happened?); "
            "nothing to draw"
        )
    return accumulators[name]


def _scalar_series(run) -> tuple[dict, dict]:
    series, errors = {}, {}
    for name in run.observable_names:
        data = run.observable(name)
        if data.value.ndim == 1 and data.value.size:
            series[name] = (data.time, data.value)
    for name in list(series):
        if name.startswith("sem_") and name[4:] in series:
            errors[name[4:]] = series.pop(name)[1]
    return series, errors


def run_figure(run):
    """Return the figure that suits a fastwalk file's model (see the module docstring).

    Parameters
    ----------
    run : fastwalk.io.reader.Run
        An open file.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    fastwalk.errors.MissingDataError
        If the file holds nothing committed to draw.
    """
    kind = run.kind
    if kind in ("lattice", "graph", "potential"):
        accumulators = run.accumulators
        counts = _accumulator(run, accumulators,
                              "histogram_2d" if kind == "potential" else "visit_counts")
        if kind == "lattice":
            return lattice_figure(run.model, counts,
                                  walker_center_visits=accumulators.get("walker_center_visits"))
        if kind == "graph":
            return graph_figure(run.model, counts)
        if run.model.dim >= 2:  # a D = 1 potential run has no (x0, x1) picture: its series
            return potential_figure(run.model, counts)
    if kind == "sphere":
        records = {name: run.observable(name).value if run.has_observable(name) else None
                   for name in ("mean_chord", "rms_chord", "sem_chord", "sem_rms_chord")}
        mean, sem = run.observable("mean_cos_theta"), run.observable("sem_cos_theta")
        if not mean.time.size:
            raise MissingDataError(f"{run.path} holds no committed records yet; nothing to draw")
        return sphere_figure(run.parameters, mean.time, mean.value, sem.value,
                             records["mean_chord"], records["rms_chord"],
                             sem_chord=records["sem_chord"], sem_rms_chord=records["sem_rms_chord"])
    series, errors = _scalar_series(run)
    if not series:
        raise MissingDataError(f"{run.path} holds no committed scalar observables to draw")
    return series_figure(series, errors=errors, title=f"{kind} run")


def plot_run(run, path, *, dpi: int = 120) -> Path:
    """Draw any fastwalk file in the way that suits its model and save the picture.

    Parameters
    ----------
    run : fastwalk.io.reader.Run
        An open file.
    path : path-like
        Output picture (PNG by its suffix).
    dpi : int, optional
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    return _save(run_figure(run), path, dpi)
