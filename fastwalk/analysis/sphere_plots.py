"""Pictures of sphere runs: the decay of ⟨cos θ⟩ and the chordal displacements.

⟨cos θ⟩ against t with error bars, the fitted law and the exact
exp(−nDt/R²); mean and RMS chordal displacement with the RMS law and the
stationary limits (exact finite-n mean chord, RMS √2·R).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fastwalk.analysis._figure import new_figure, save_figure
from fastwalk.errors import FastwalkError, MissingDataError


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
    figure = new_figure((12.5, 4.6))
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
    """Draw :func:`sphere_figure` (same arguments) and save it to ``path`` at ``dpi``; return the path."""
    figure = sphere_figure(parameters, times, mean, sem, mean_chord, rms_chord,
                           sem_chord=sem_chord, sem_rms_chord=sem_rms_chord)
    return save_figure(figure, path, dpi)


# ---------------------------------------------------------------------- any series


def sphere_run_figure(run):
    """Draw an open sphere file: :func:`sphere_figure` of its recorded observables."""
    records = {name: run.observable(name).value if run.has_observable(name) else None
               for name in ("mean_chord", "rms_chord", "sem_chord", "sem_rms_chord")}
    mean, sem = run.observable("mean_cos_theta"), run.observable("sem_cos_theta")
    if not mean.time.size:
        raise MissingDataError(f"{run.path} holds no committed records yet; nothing to draw")
    return sphere_figure(run.parameters, mean.time, mean.value, sem.value,
                         records["mean_chord"], records["rms_chord"],
                         sem_chord=records["sem_chord"], sem_rms_chord=records["sem_rms_chord"])
