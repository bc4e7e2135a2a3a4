"""Pictures of the learning coefficient: β⟨U⟩ against log β, and a 2-D law with U's zero set.

- :func:`llc_figure`: each run's λ̂(β) = β(⟨U⟩ − U_min) with its standard
  error against log β, the fitted curve λ − P′(log β)/P(log β) [+ power
  term] and λ with its standard error as a band; the residuals in standard
  errors; and the free energy. Axes come from :func:`robust_limits`: a huge
  error bar or a wild point does not squash the rest, and points outside are
  drawn on the edge as ▲/▼.
- :func:`walker_traces_figure`: one run's walkers: β(U − U_min) along the
  recorded frames of the flagged walkers and a few typical ones, and every
  walker's time-averaged λ̂ (what ``llc --plot`` draws for a single run).
- :func:`zero_set_figure`: the empirical and the exact 2-D Boltzmann laws of
  (x0, x1) side by side, with the zero set {U = U_min} drawn on both (the
  contour of U at U_min + 1e-6 of its range, which hugs the set from both
  sides).
"""

from __future__ import annotations

import numpy as np

__all__ = ["llc_figure", "zero_set_figure", "plot_llc", "langevin_run_figure", "robust_limits",
           "walker_traces_figure"]


def _figure(figsize):
    from fastwalk.analysis._figure import new_figure

    return new_figure(figsize)


def robust_limits(values, errors) -> tuple[float, float]:
    """Return y-limits that show the bulk of the points with their error bars.

    A point farther than 8 robust spreads (1.4826·MAD, at least the median
    error) from the median is left out of the range, and an error bar is
    counted at most as 3 median errors, so one huge bar or one wild point
    cannot squash the others; callers mark what falls outside.

    Parameters
    ----------
    values, errors : array_like
        The points and their standard errors.

    Returns
    -------
    tuple of float
        ``(low, high)``.
    """
    y = np.asarray(values, dtype=np.float64)
    s = np.asarray(errors, dtype=np.float64)
    finite = np.isfinite(y)
    y, s = y[finite], np.where(np.isfinite(s[finite]), s[finite], 0.0)
    if not y.size:
        return -1.0, 1.0
    median = float(np.median(y))
    typical = float(np.median(s)) if s.size else 0.0
    spread = max(1.4826 * float(np.median(np.abs(y - median))), typical, 1e-12 * max(abs(median), 1))
    core = np.abs(y - median) <= 8 * spread
    bars = np.minimum(s[core], 3 * typical) if typical > 0 else s[core]
    low, high = float(np.min(y[core] - bars)), float(np.max(y[core] + bars))
    pad = 0.08 * (high - low) if high > low else 0.1 * max(abs(median), 1e-3)
    return low - pad, high + pad


def _points(ax, x, y, s, label, limits, color="C0"):
    """Error bars within ``limits``; points outside drawn on the edge as ▲/▼ and labelled."""
    low, high = limits
    above, below = y > high, y < low
    inside = ~(above | below)
    # bars cut at the axis (an artist reaching far outside would stretch a tight bounding box)
    down = np.clip(np.minimum(s, y - low), 0.0, None)
    up = np.clip(np.minimum(s, high - y), 0.0, None)
    ax.errorbar(x[inside], y[inside], yerr=[down[inside], up[inside]], fmt="o", capsize=3,
                color=color, label=label)
    label = "outside the axis (value clipped)"
    for outside, edge, marker in ((above, high, "^"), (below, low, "v")):
        if outside.any():  # an empty unclipped line would sit at the figure's origin
            ax.plot(x[outside], np.full(outside.sum(), edge), marker, color="C3", ms=9,
                    clip_on=False, label=label)
            label = None
    ax.set_ylim(low, high)


def llc_figure(report: dict):
    """Return the figure of β⟨U⟩ against log β with the fit, its residuals and the free energy.

    Parameters
    ----------
    report : dict
        The object of :func:`fastwalk.analysis.llc.llc_report`.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels sharing log β: λ̂(β) = β(⟨U⟩ − U_min) with the fitted
        curve and λ ± its error; the residuals in standard errors; and
        F(β) − F(β₀). Axes are set by :func:`robust_limits`, so one huge
        error bar or a wild point does not flatten the rest (it is marked).
    """
    from fastwalk.analysis.llc import curve_of

    runs = report["runs"]
    beta = np.array([r["beta"] for r in runs])
    x = np.log(beta)
    y = np.array([r["lambda_hat"] for r in runs])
    s = np.array([r["lambda_hat_stderr"] for r in runs])
    figure = _figure((6.4, 8.2))
    top, middle, bottom = (figure.add_subplot(3, 1, i) for i in (1, 2, 3))
    lam, se = report["lambda"], report["lambda_stderr"]
    fit = report.get("fit")
    limits = robust_limits(np.append(y, lam), np.append(s, se))
    _points(top, x, y, s, "runs: λ̂(β) = β(⟨U⟩ − U_min)", limits)
    grid = np.linspace(x.min(), x.max(), 200)
    if fit is not None:
        top.plot(grid, curve_of(fit, grid), color="C1", label="fit")
    top.axhspan(lam - se, lam + se, alpha=0.25, color="C2")
    top.axhline(lam, color="C2", lw=1, label=f"λ = {lam:.4g} ± {se:.2g}")
    top.set_ylim(*limits)
    top.set_ylabel("β (⟨U⟩ − U_min)")
    m = report["multiplicity"]
    top.set_title(f"learning coefficient: λ = {lam:.4g} ± {se:.2g}" + (f", m = {m}" if m else "")
                  + (f"   ({len(report['warnings'])} warning(s))" if report.get("warnings") else ""))
    top.legend(loc="best", fontsize="small")
    if fit is not None:
        z = (y - curve_of(fit, x)) / s
        _points(middle, x, z, np.ones_like(z), "(λ̂ − fit) / standard error",
                robust_limits(np.append(z, [-2.5, 2.5]), np.ones(z.size + 2)), color="C1")
        middle.axhline(0, color="k", lw=0.8)
        middle.axhspan(-2, 2, color="0.9", zorder=0)
        middle.legend(loc="best", fontsize="small")
    else:
        middle.text(0.5, 0.5, "one temperature: no fit", ha="center", va="center",
                    transform=middle.transAxes)
    middle.set_ylabel("residual / se")
    free = report["free_energy"]
    fx = np.log([f["beta"] for f in free])
    fy = np.array([f["free_energy"] for f in free])
    fs = np.array([f["free_energy_stderr"] for f in free])
    _points(bottom, fx, fy, fs, "F(β) − F(β₀), thermodynamic integration",
            robust_limits(fy, fs), color="C4")
    bottom.set_ylabel("F − F(β₀)")
    bottom.set_xlabel("log β")
    bottom.legend(loc="best", fontsize="small")
    for ax in (top, middle):
        ax.set_xlim(bottom.get_xlim())
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


def walker_traces_figure(report_run: dict, u_min: float = 0.0, typical: int = 4):
    """Return one run's per-walker picture: energy traces and time-averaged λ̂.

    Parameters
    ----------
    report_run : dict
        One entry of the report's ``runs`` (its ``file``, ``beta`` and
        ``outlying_walkers`` are used).
    u_min : float, optional
        U_min of the report.
    typical : int, optional
        How many typical walkers (nearest the median λ̂) to trace beside the
        flagged ones.

    Returns
    -------
    matplotlib.figure.Figure
        Top: β(U − U_min) of the flagged walkers (red) and ``typical`` others
        against the step, from the recorded frames (a note where the run
        recorded none); bottom: the histogram of every walker's λ̂ from its
        energy sums, flagged walkers marked.
    """
    from fastwalk.analysis.llc import walker_energies
    from fastwalk.io.reader import Run

    beta = report_run["beta"]
    with Run(report_run["file"]) as run:
        sums = run.accumulators["walker_energy_sum"]
        counts = np.maximum(run.accumulators["walker_energy_count"], 1)
        means = beta * (sums / counts - u_min)
        flagged = [int(w) for w in report_run.get("outlying_walkers") or []][:8]
        order = np.argsort(np.abs(means - np.median(means)))
        chosen = flagged + [int(w) for w in order if int(w) not in flagged][:typical]
        steps, energies = walker_energies(run, chosen)
    figure = _figure((6.4, 6.4))
    top, bottom = figure.add_subplot(2, 1, 1), figure.add_subplot(2, 1, 2)
    if energies is None:
        top.text(0.5, 0.5, "no frames recorded (run with --every K to trace walkers)",
                 ha="center", va="center", transform=top.transAxes)
    else:
        others = iter(f"C{i}" for i in (0, 1, 2, 4, 5, 6, 7, 8, 9) * len(chosen))  # C3 is the flag
        for k, w in enumerate(chosen):
            red = w in flagged
            top.plot(steps, beta * (energies[:, k] - u_min), lw=1.2 if red else 0.7,
                     color="C3" if red else next(others), label=f"walker {w}" + (" (flagged)" if red else ""))
        top.set_yscale("symlog", linthresh=max(1e-3, float(np.median(np.abs(means))) or 1e-3))
        top.legend(fontsize="small", ncol=2)
    top.set_xlabel("step")
    top.set_ylabel("β(U − U_min)")
    top.set_title(f"{report_run['file']}  (β = {beta:.4g})", fontsize="small")
    low, high = robust_limits(means, np.zeros_like(means))
    inside = means[(means >= low) & (means <= high)]
    bottom.hist(inside, bins=min(60, max(10, means.size // 10)), color="C0")
    for w in flagged:
        bottom.axvline(np.clip(means[w], low, high), color="C3", lw=1)
    bottom.set_xlabel("walker's time-averaged λ̂ = β(⟨U⟩_walker − U_min)  (red: flagged; clipped to the axis)")
    bottom.set_ylabel("walkers")
    return figure


def plot_llc(report: dict, path, *, dpi: int = 120):
    """Draw :func:`llc_figure` (or, for one run, :func:`walker_traces_figure`) and save it.

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

    if len(report["runs"]) == 1:
        return save_figure(walker_traces_figure(report["runs"][0], report["u_min"]), path, dpi)
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
