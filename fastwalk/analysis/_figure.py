"""What every figure module shares: a figure without pyplot, saving, count checks.

matplotlib (the ``plot`` extra) is imported only when a picture is drawn, and
every figure is a :class:`matplotlib.figure.Figure` on its own Agg canvas: no
display is needed and pyplot's global state is never touched.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fastwalk.errors import FastwalkError, MissingDataError

MISSING_MATPLOTLIB = "plotting needs matplotlib: pip install 'fastwalk[plot]'"


def new_figure(figsize: tuple[float, float]):
    """Return an empty Figure on its own Agg canvas (no pyplot, no display)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise FastwalkError(MISSING_MATPLOTLIB) from None
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure, path, dpi: int) -> Path:
    """Save ``figure`` to ``path`` (its suffix picks the format) at ``dpi``; return the path."""
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(
            f"directory {path.parent} for the picture does not exist; create it first"
        )
    dpi = int(dpi)
    if dpi < 1:
        raise ValueError(f"dpi must be a positive integer, got {dpi}")
    from fastwalk.io.output import check_target, is_picture, sidecar

    check_target(path, overwrite=True, what="picture", option="picture path", ours=is_picture)
    # drawn beside the target and renamed over it: a kill or a full disk never leaves half a picture
    tmp = sidecar(path, f".{os.getpid()}.tmp", prefix=".")
    try:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lstrip(".").lower() or None)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def counts_vector(name: str, counts, nodes: int) -> np.ndarray:
    """Return ``counts`` as ``[nodes]`` float64, refusing other shapes and negative values."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (nodes,):
        raise ValueError(f"{name} has shape {counts.shape}; the model has {nodes} nodes")
    if np.any(~np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    return counts


def to_frequency(counts: np.ndarray) -> np.ndarray:
    """Return counts normalised to sum 1 (unchanged when all are zero)."""
    total = counts.sum()
    return counts / total if total > 0 else counts


def required_accumulator(run, accumulators: dict, name: str) -> np.ndarray:
    """Return ``accumulators[name]`` or say that the file holds nothing to draw yet."""
    if name not in accumulators:
        raise MissingDataError(
            f"{run.path} holds no committed {name!r} accumulator yet (no commit happened?); "
            "nothing to draw"
        )
    return accumulators[name]
