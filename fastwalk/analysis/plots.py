"""Pictures of runs: lattices as the seed draws them, potentials, sphere decay.

matplotlib is imported lazily (the ``plot`` extra) with the Agg backend, so
plotting works without a display. :func:`plot_run` draws any fastwalk file;
the per-kind functions take models and arrays, for scripts and the demo.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fastwalk.errors import FastwalkError

__all__ = [
    "plot_run",
    "lattice_layout",
    "plot_lattice",
    "plot_graph",
    "plot_potential",
    "plot_sphere",
    "plot_series",
]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise FastwalkError("plotting needs matplotlib: pip install 'fastwalk[plot]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, dpi: int) -> Path:
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"directory {path.parent} for the picture does not exist; create it first")
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def lattice_layout(model) -> tuple[np.ndarray, np.ndarray] | None:
    """Place a lines crossing's nodes in the plane, as the seed draws it.

    Line k is drawn through the origin at angle π·k/K; a node sits at its
    signed minimum-image coordinate along its line (the centre at the origin).

    Parameters
    ----------
    model : fastwalk.models.lattice.LatticeWalk
        A lattice whose subspaces each have exactly one free coordinate.

    Returns
    -------
    xy : numpy.ndarray or None
        ``[nodes][2]`` positions, or None when some subspace is not a line.
    line : numpy.ndarray or None
        ``[nodes]`` index of the line each node lies on (−1 for the centre).
    """
    crossing = model.crossing
    free_axes = [crossing.free(k) for k in range(crossing.count)]
    if any(len(axes) != 1 for axes in free_axes):
        return None
    coords = model.coords()
    length = model.length
    signed = np.where(coords > length // 2, coords - length, coords)
    angles = np.pi * np.arange(crossing.count) / crossing.count
    xy = np.zeros((model.nodes, 2))
    line = np.full(model.nodes, -1, dtype=np.int64)
    for k, (axis,) in enumerate(free_axes):
        on_line = np.all(np.delete(coords, axis, axis=1) == 0, axis=1) & (coords[:, axis] != 0)
        line[on_line] = k
        xy[on_line, 0] = signed[on_line, axis] * math.cos(angles[k])
        xy[on_line, 1] = signed[on_line, axis] * math.sin(angles[k])
    return xy, line


def plot_lattice(model, counts, path, *, dpi: int = 120) -> Path:
    """Draw visit frequencies on a crossing lattice and save a PNG.

    Lines crossings are drawn as the seed does (circles of area ∝ visits on
    the crossing's lines); other crossings as visit frequency over the exact
    degree law against the distance from the centre.

    Parameters
    ----------
    model : fastwalk.models.lattice.LatticeWalk
        The lattice.
    counts : array_like
        Visit counts per node.
    path : path-like
        Output PNG.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    from fastwalk.analysis.stationary import model_law

    plt = _pyplot()
    counts = np.asarray(counts, dtype=np.float64)
    frequency = counts / counts.sum() if counts.sum() > 0 else counts
    law, _ = model_law(model)
    others = np.delete(frequency, model.centre)
    ratio = frequency[model.centre] / others.mean() if others.size and others.mean() > 0 else math.nan
    placed = lattice_layout(model)
    fig, ax = plt.subplots(figsize=(6, 6))
    if placed is not None:
        xy, line = placed
        half = model.length // 2
        for k in range(model.crossing.count):
            angle = math.pi * k / model.crossing.count
            ax.plot([-half * math.cos(angle), half * math.cos(angle)],
                    [-half * math.sin(angle), half * math.sin(angle)], color="0.8", zorder=0)
        sizes = 2000.0 * frequency / max(frequency.max(), 1e-300)
        ax.scatter(xy[:, 0], xy[:, 1], s=sizes, c=np.where(line < 0, "C3", "C0"), alpha=0.7)
        ax.set_aspect("equal")
        ax.set_xlabel("position along each line (lattice units)")
    else:
        distance = np.abs(np.where(model.coords() > model.length // 2,
                                   model.coords() - model.length, model.coords())).sum(axis=1)
        ax.scatter(distance, frequency / law, s=8)
        ax.axhline(1.0, color="k", lw=1)
        ax.set_xlabel("lattice distance from the centre")
        ax.set_ylabel("visit frequency / exact degree law")
    expected = law[model.centre] / np.delete(law, model.centre).mean()
    ax.set_title(f"{model.crossing.count} subspaces, L={model.length}: "
                 f"centre/other visits {ratio:.3g} (degree law: {expected:.3g})")
    return _save(fig, path, dpi)


def plot_graph(model, counts, path, *, dpi: int = 120) -> Path:
    """Bar chart of empirical vs exact stationary probability per node; save a PNG.

    Parameters
    ----------
    model : fastwalk.models.graph.GraphWalk
        The graph walk.
    counts : array_like
        Visit counts per node.
    path : path-like
        Output PNG.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    from fastwalk.analysis.stationary import model_law

    plt = _pyplot()
    counts = np.asarray(counts, dtype=np.float64)
    law, description = model_law(model)
    shown = np.argsort(law)[::-1][:40]
    labels = (model.labels[shown] if model.labels is not None else shown.astype(str))
    fig, ax = plt.subplots(figsize=(max(6, 0.3 * len(shown)), 4))
    x = np.arange(len(shown))
    ax.bar(x - 0.2, counts[shown] / counts.sum(), width=0.4, label="empirical")
    ax.bar(x + 0.2, law[shown], width=0.4, label=f"exact ({description})")
    ax.set_xticks(x, labels, rotation=60, fontsize=8)
    ax.set_ylabel("stationary probability")
    ax.legend()
    return _save(fig, path, dpi)


def plot_potential(model, histogram_2d, path, *, dpi: int = 120) -> Path:
    """Landscape, empirical density and Boltzmann density of the first two coordinates.

    Parameters
    ----------
    model : fastwalk.models.potential.PotentialBrownian
        The potential model.
    histogram_2d : array_like
        ``[bins][bins]`` counts of (x0, x1) over the box.
    path : path-like
        Output PNG.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    from fastwalk.analysis.boltzmann import boltzmann_reference, regular_reference

    plt = _pyplot()
    counts = np.asarray(histogram_2d, dtype=np.float64)
    side, bins = model.box_side, model.bins
    centres = (np.arange(bins) + 0.5) * side / bins
    grid = np.tile(np.asarray(model.center, dtype=np.float64), (bins * bins, 1))
    xx, yy = np.meshgrid(centres, centres, indexing="ij")
    grid[:, 0], grid[:, 1] = xx.ravel(), yy.ravel()
    landscape = model.energy(grid).reshape(bins, bins)
    panels = [
        ("U(x0, x1), others at b", landscape, "viridis"),
        ("empirical density", counts / max(counts.sum(), 1.0), "magma"),
        ("Boltzmann ∝ exp(−U/T)", boltzmann_reference(model)["histogram_2d"], "magma"),
        ("regular (valleys apart)", regular_reference(model)["histogram_2d"], "magma"),
    ]
    vmax = max(p[1].max() for p in panels[1:])
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.5))
    for ax, (title, values, cmap) in zip(axes, panels, strict=True):
        image = ax.imshow(values.T, origin="lower", extent=(0, side, 0, side), cmap=cmap,
                          vmax=None if cmap == "viridis" else vmax)
        ax.set_title(title)
        ax.set_xlabel("x0")
        ax.set_ylabel("x1")
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(f"a={model.a:g}, T={model.temperature:g}, dt={model.dt:g}, box={side:g}")
    return _save(fig, path, dpi)


def plot_sphere(parameters: dict, times, mean, sem, mean_chord, rms_chord, path, *,
                dpi: int = 120) -> Path:
    """⟨cos θ⟩ with the fitted and exact laws, and the chordal displacements.

    Parameters
    ----------
    parameters : dict
        The sphere model's parameters (``dim``, ``radius``, ``diffusion``).
    times, mean, sem : array_like
        Record times, ``mean_cos_theta`` and ``sem_cos_theta``.
    mean_chord, rms_chord : array_like or None
        Mean and RMS chordal displacement per record.
    path : path-like
        Output PNG.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    from fastwalk.analysis.decay import (
        fit_decay,
        mean_cos_theta_law,
        rms_chord_law,
        stationary_mean_chord,
        stationary_rms_chord,
    )

    plt = _pyplot()
    n, radius, diffusion = parameters["dim"], parameters["radius"], parameters["diffusion"]
    t = np.asarray(times, dtype=np.float64)
    fine = np.linspace(0.0, t.max() if t.size else 1.0, 400)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.errorbar(t, mean, yerr=sem, fmt=".", ms=3, label="simulated ⟨cos θ⟩")
    left.plot(fine, mean_cos_theta_law(fine, n, radius, diffusion), "k-",
              label="exact exp(−nDt/R²)")
    try:
        fit = fit_decay(t, mean, sem, dim=n, radius=radius)
        left.plot(fine, np.exp(-fit.rate * fine), "C3--",
                  label=f"fit: D = {fit.D:.4g} ± {fit.D_stderr:.2g}")
    except FastwalkError:
        pass
    left.set_xlabel("t")
    left.set_ylabel("⟨cos θ⟩")
    left.set_title(f"S^{n}, R={radius:g}, D={diffusion:g}")
    left.legend()
    if mean_chord is not None:
        right.plot(t, mean_chord, ".", ms=3, label="mean chord ⟨z⟩")
    if rms_chord is not None:
        right.plot(t, rms_chord, ".", ms=3, label="RMS chord")
    right.plot(fine, rms_chord_law(fine, n, radius, diffusion), "k-", label="RMS law R√(2(1−e^{−nDt/R²}))")
    right.axhline(stationary_rms_chord(radius), color="C1", ls=":", label="stationary RMS √2·R")
    right.axhline(stationary_mean_chord(n, radius), color="C2", ls=":", label="stationary mean chord")
    right.set_xlabel("t")
    right.set_ylabel("chordal displacement")
    right.legend(fontsize=8)
    return _save(fig, path, dpi)


def plot_series(series: dict, path, *, title: str = "", dpi: int = 120) -> Path:
    """Plot each observable against time, one panel each, and save a PNG.

    Parameters
    ----------
    series : dict
        ``name -> (times, values)`` for scalar observables.
    path : path-like
        Output PNG.
    title : str
        Figure title.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    plt = _pyplot()
    names = list(series)
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(5 * max(1, len(names)), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=False):
        t, v = series[name]
        ax.plot(t, v, ".-", ms=3)
        ax.set_xlabel("t")
        ax.set_title(name)
    fig.suptitle(title)
    return _save(fig, path, dpi)


def plot_run(run, path, *, dpi: int = 120) -> Path:
    """Draw any fastwalk file in the way that suits its model.

    Parameters
    ----------
    run : fastwalk.io.reader.Run
        An open file.
    path : path-like
        Output PNG.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        The picture.
    """
    from fastwalk.errors import MissingDataError

    kind = run.kind
    accumulators = run.accumulators
    if kind in ("lattice", "graph", "potential") and not accumulators:
        raise MissingDataError(f"{run.path} holds no committed accumulators yet; nothing to draw")
    if kind == "lattice":
        return plot_lattice(run.model, accumulators["visit_counts"], path, dpi=dpi)
    if kind == "graph":
        return plot_graph(run.model, accumulators["visit_counts"], path, dpi=dpi)
    if kind == "potential":
        return plot_potential(run.model, accumulators["histogram_2d"], path, dpi=dpi)
    if kind == "sphere":
        mean, sem = run.observable("mean_cos_theta"), run.observable("sem_cos_theta")
        chords = {name: run.observable(name).value if run.has_observable(name) else None
                  for name in ("mean_chord", "rms_chord")}
        return plot_sphere(run.parameters, mean.time, mean.value, sem.value,
                           chords["mean_chord"], chords["rms_chord"], path, dpi=dpi)
    scalar = {}
    for name in run.observable_names:
        series = run.observable(name)
        if series.value.ndim == 1:
            scalar[name] = (series.time, series.value)
    if not scalar:
        raise MissingDataError(f"{run.path} has no scalar observables to draw")
    return plot_series(scalar, path, title=f"{kind} run", dpi=dpi)
