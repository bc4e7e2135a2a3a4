"""Pictures of runs: lattices as the original notebook draws them, potentials, sphere decay.

matplotlib (the ``plot`` extra) is imported only when a picture is drawn, and
every figure is a :class:`matplotlib.figure.Figure` on its own Agg canvas:
no display is needed and pyplot's global state (the user's backend, its list
of open figures) is never touched.

Two layers:

- ``*_figure`` functions build a figure from a model and arrays (for scripts,
  notebooks and the demo) and return it;
- ``plot_*`` functions build the same figure and save it, and
  :func:`plot_run` draws any fastwalk file in the way that suits its model.

What is drawn is each model's choice: a model class names its picture in
its ``picture`` attribute (``"module:function"``, a function of an open
:class:`~fastwalk.io.reader.Run`), and :func:`run_figure` calls it. The
figures live in :mod:`~fastwalk.analysis.walk_plots` (lattices, graphs),
:mod:`~fastwalk.analysis.potential_plots` and
:mod:`~fastwalk.analysis.sphere_plots`, and are re-exported here; a model
without a picture gets its scalar observables against time
(:func:`series_run_figure`, ``sem_<name>`` as error bars of ``<name>``).
"""

from __future__ import annotations

from pathlib import Path

from fastwalk.analysis._figure import MISSING_MATPLOTLIB, new_figure, save_figure
from fastwalk.analysis.potential_plots import plot_potential, potential_figure
from fastwalk.analysis.sphere_plots import plot_sphere, sphere_figure
from fastwalk.analysis.walk_plots import (
    MAX_DRAWN_NODES,
    graph_figure,
    lattice_figure,
    lattice_groups,
    lattice_layout,
    plot_graph,
    plot_lattice,
)
from fastwalk.errors import MissingDataError

__all__ = [
    "MAX_DRAWN_NODES",
    "MISSING_MATPLOTLIB",
    "lattice_layout",
    "lattice_groups",
    "lattice_figure",
    "graph_figure",
    "potential_figure",
    "sphere_figure",
    "series_figure",
    "run_figure",
    "series_run_figure",
    "plot_lattice",
    "plot_graph",
    "plot_potential",
    "plot_sphere",
    "plot_series",
    "plot_run",
]


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
    figure = new_figure((4.8 * len(names), 4.0))
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
    """Draw :func:`series_figure` (same arguments) and save it to ``path`` at ``dpi``; return the path."""
    return save_figure(series_figure(series, errors=errors, title=title), path, dpi)


# ---------------------------------------------------------------------- files
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
    """Return the figure that suits a fastwalk file's model.

    The model class names its picture in ``picture`` (``"module:function"``,
    imported only now); models that name none get :func:`series_run_figure`.

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

    Examples
    --------
    >>> import fastwalk as fw
    >>> from fastwalk.analysis.plots import plot_run, run_figure
    >>> run = fw.simulate(fw.LatticeWalk(fw.Crossing.lines(3), length=9), walkers=50, steps=500,
    ...                   seed=1)
    >>> figure = run_figure(run)             # needs matplotlib (the plot extra)
    >>> figure.savefig("lines.png")
    >>> plot_run(run, "lines2.png").name     # the same, written to a file
    'lines2.png'
    """
    from fastwalk.models import model_class, resolve

    return resolve(model_class(run.kind).picture)(run)


def series_run_figure(run):
    """Draw an open file's scalar observables against time (``sem_<name>`` as error bars)."""
    series, errors = _scalar_series(run)
    if not series:
        raise MissingDataError(f"{run.path} holds no committed scalar observables to draw")
    return series_figure(series, errors=errors, title=f"{run.kind} run")


def plot_run(run, path, *, dpi: int = 120) -> Path:
    """Draw :func:`run_figure` of an open file and save it to ``path`` at ``dpi``; return the path.

    Examples
    --------
    >>> import fastwalk as fw
    >>> from fastwalk.analysis.plots import plot_run
    >>> run = fw.simulate(fw.SphereBrownian(9, radius=1.0, diffusion=0.1, dt=0.01), walkers=50,
    ...                   steps=200, seed=1)
    >>> plot_run(run, "sphere.png").name      # needs matplotlib (the plot extra)
    'sphere.png'
    """
    return save_figure(run_figure(run), path, dpi)
