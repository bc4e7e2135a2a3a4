"""Pictures of the learning coefficient: β⟨U⟩ against log β, and a 2-D law with U's zero set.

- :func:`llc_figure`: each run's λ̂(β) = β(⟨U⟩ − U_min) with its standard
  error against log β, the fitted curve λ − (m − 1)/(log β + κ) [+ power
  term], and λ with its standard error as a band.
- :func:`zero_set_figure`: the empirical and the exact 2-D Boltzmann laws of
  (x0, x1) side by side, with the zero set {U = U_min} drawn on both (the
  contour of U at U_min + 1e-6 of its range, which hugs the set from both
  sides).
"""

from __future__ import annotations

import numpy as np

__all__ = ["llc_figure", "zero_set_figure", "plot_llc", "langevin_run_figure"]


def _figure(figsize):
    from fastwalk.analysis._figure import new_figure

    return new_figure(figsize)


def llc_figure(report: dict):
    """Return the figure of β⟨U⟩ against log β with the fitted curve.

    Parameters
    ----------
    report : dict
        The object of :func:`fastwalk.analysis.llc.llc_report`.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from fastwalk.analysis.llc import curve_of

    runs = report["runs"]
    beta = np.array([r["beta"] for r in runs])
    y = np.array([r["lambda_hat"] for r in runs])
    s = np.array([r["lambda_hat_stderr"] for r in runs])
    figure = _figure((6.4, 4.4))
    ax = figure.add_subplot()
    ax.errorbar(np.log(beta), y, yerr=s, fmt="o", capsize=3, label="runs: λ̂(β) = β(⟨U⟩ − U_min)")
    lam, se = report["lambda"], report["lambda_stderr"]
    grid = np.linspace(np.log(beta).min(), np.log(beta).max(), 200)
    fit = report.get("fit")
    if fit is not None:
        ax.plot(grid, curve_of(fit, grid), label="fit")
    ax.axhspan(lam - se, lam + se, alpha=0.25, color="C2")
    ax.axhline(lam, color="C2", lw=1, label=f"λ = {lam:.4g} ± {se:.2g}")
    m = report["multiplicity"]
    ax.set_xlabel("log β")
    ax.set_ylabel("β ⟨U⟩")
    ax.set_title(f"learning coefficient: λ = {lam:.4g} ± {se:.2g}" + (f", m = {m}" if m else ""))
    ax.legend(loc="best", fontsize="small")
    return figure


def zero_set_figure(energy, low, high, empirical_2d, exact_2d=None, *, title: str = ""):
    """Return the 2-D laws of (x0, x1) with the zero set of U drawn on them.

    Parameters
    ----------
    energy : callable
        Vectorised U of points ``[..., 2]`` (the other coordinates fixed).
    low, high : sequence of float
        The box of (x0, x1).
    empirical_2d : array_like
        ``[bins][bins]`` counts or probabilities of a run.
    exact_2d : array_like, optional
        The exact binned law (same shape).
    title : str, optional
        A title above both panels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    panels = [("empirical", np.asarray(empirical_2d, dtype=np.float64))]
    if exact_2d is not None:
        panels.append(("Boltzmann (quadrature)", np.asarray(exact_2d, dtype=np.float64)))
    x = np.linspace(low[0], high[0], 401)
    y = np.linspace(low[1], high[1], 401)
    grid = np.stack(np.meshgrid(x, y, indexing="ij"), axis=-1)
    u = np.asarray(energy(grid), dtype=np.float64)
    level = u.min() + 1e-6 * (u.max() - u.min())
    figure = _figure((5.0 * len(panels), 4.4))
    for i, (name, law) in enumerate(panels):
        ax = figure.add_subplot(1, len(panels), i + 1)
        total = law.sum()
        law = law / total if total > 0 else law  # a run with no counted steps: all zeros
        extent = (low[0], high[0], low[1], high[1])
        image = ax.imshow(law.T, origin="lower", extent=extent, cmap="viridis", aspect="equal")
        ax.contour(x, y, u.T, levels=[level], colors="white", linewidths=0.8)
        ax.set_title(f"{name}; white: U = U_min")
        ax.set_xlabel("x0")
        ax.set_ylabel("x1")
        figure.colorbar(image, ax=ax, shrink=0.8, label="bin probability")
    if title:
        figure.suptitle(title)
    return figure


def plot_llc(report: dict, path, *, dpi: int = 120):
    """Draw :func:`llc_figure` and save it.

    Parameters
    ----------
    report : dict
        The object of :func:`fastwalk.analysis.llc.llc_report`.
    path : path-like
        The picture to write (its suffix picks the format).
    dpi : int, optional
        Resolution.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from fastwalk.analysis._figure import save_figure

    return save_figure(llc_figure(report), path, dpi)


def langevin_run_figure(run):
    """Draw an open Langevin file: for d = 2 its 2-D law beside the exact one, with U's zero set.

    Parameters
    ----------
    run : fastwalk.io.reader.Run
        The open file (d = 2 and a typed expression for the exact panel and
        the zero set; otherwise the observables against time).

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from fastwalk.analysis.quadrature import model_quadrature

    model = run.model
    histogram = run.accumulators.get("histogram_2d")
    if model.dim != 2 or histogram is None or getattr(model, "expression", None) is None:
        from fastwalk.analysis import plots

        # the observables against time (series_run_figure where models declare their picture)
        return getattr(plots, "series_run_figure", plots.run_figure)(run)
    beta = 1.0 / model.temperature
    quadrature = model_quadrature(model)
    exact = quadrature.density_2d(beta)
    low = np.asarray(model.lower, dtype=np.float64)
    title = (f"U = {model.expression.text},  T = {model.temperature:g},  "
             f"λ̂ = β⟨U⟩ (exact) = {beta * quadrature.mean_energy(beta):.4g}")
    return zero_set_figure(model.expression.energy_numpy, low, low + model.box_side, histogram,
                           exact, title=title)
