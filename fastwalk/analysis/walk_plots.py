"""Pictures of lattice and graph walks (the lattice drawn as the original notebook draws it).

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
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fastwalk.analysis._figure import (
    counts_vector,
    new_figure,
    required_accumulator,
    save_figure,
    to_frequency,
)

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
    """Place a lines crossing's nodes in the plane, as the original notebook draws it.

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
    frequency = to_frequency(counts_vector("visit counts", counts, model.nodes))
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

    frequency = to_frequency(counts)
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

    counts = counts_vector("visit counts", counts, model.nodes)
    law, _ = model_law(model)
    ratio = center_ratio(counts, law, model.center, walker_center_visits)
    figure = new_figure((6.4, 6.4))
    ax = figure.subplots()
    if _line_axes(model.crossing) is not None:
        _draw_lines(ax, model, counts, max_nodes)
    else:
        _draw_profile(ax, model, counts, max_nodes)
    ax.set_title(_ratio_title(model, ratio), fontsize=10)
    return figure


def plot_lattice(model, counts, path, *, walker_center_visits=None,
                 max_nodes: int = MAX_DRAWN_NODES, dpi: int = 120) -> Path:
    """Draw :func:`lattice_figure` (same arguments) and save it to ``path`` at ``dpi``; return the path."""
    figure = lattice_figure(model, counts, walker_center_visits=walker_center_visits,
                            max_nodes=max_nodes)
    return save_figure(figure, path, dpi)


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
    from fastwalk.analysis.stationary import counts_total_variation, model_law

    counts = counts_vector("visit counts", counts, model.nodes)
    law, description = model_law(model)
    shown = np.argsort(-law, kind="stable")[:_MAX_BARS]
    labels = model.labels[shown] if model.labels is not None else shown.astype(str)
    figure = new_figure((max(6.0, 0.3 * len(shown)), 4.0))
    ax = figure.subplots()
    x = np.arange(len(shown))
    ax.bar(x - 0.2, to_frequency(counts)[shown], width=0.4, label="empirical (visits)")
    ax.bar(x + 0.2, law[shown], width=0.4, label=f"exact: {description}")
    ax.set_xticks(x, [str(label) for label in labels], rotation=60, fontsize=8)
    ax.set_xlabel("node" + ("" if len(shown) == model.nodes
                            else f" ({len(shown)} most probable of {model.nodes})"))
    ax.set_ylabel("stationary probability")
    tv = counts_total_variation(counts, law) if counts.sum() > 0 else math.nan
    ax.set_title(f"graph walk, {model.nodes} nodes: total variation to the exact law {tv:.3g}",
                 fontsize=10)
    ax.legend(fontsize=8)
    return figure


def plot_graph(model, counts, path, *, dpi: int = 120) -> Path:
    """Draw :func:`graph_figure` (same arguments) and save it to ``path`` at ``dpi``; return the path."""
    return save_figure(graph_figure(model, counts), path, dpi)


def lattice_run_figure(run):
    """Draw an open lattice file: :func:`lattice_figure` of its final visit counts."""
    accumulators = run.accumulators
    counts = required_accumulator(run, accumulators, "visit_counts")
    return lattice_figure(run.model, counts,
                          walker_center_visits=accumulators.get("walker_center_visits"))


def graph_run_figure(run):
    """Draw an open graph file: :func:`graph_figure` of its final visit counts."""
    counts = required_accumulator(run, run.accumulators, "visit_counts")
    return graph_figure(run.model, counts)
