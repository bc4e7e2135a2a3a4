"""Exact stationary laws of walks on lattices and graphs, and honest comparisons.

The law (:mod:`fastwalk.graph_laws`): π(u) ∝ s_u, the strength (degree) of u, on
the start's component of an undirected graph; solved numerically when directed.

Honest statistics
-----------------
Visits along one trajectory are strongly correlated, so a chi-square test
on cumulative visit counts treats ~N T correlated visits as independent and
rejects correct laws. :func:`walk_report` therefore uses

- for the p-value, each walker's **final node**: N independent draws (the
  walkers have independent streams) from the law at time burn-in + T, which
  is π once the walkers have mixed. For a periodic walk (a bipartite graph
  or a lattice with even L, not lazy) all walkers sit in the same cyclic
  class at a given time, and the law of the final node is π restricted to
  that class, renormalised; the report says which was used;
- for the center-to-other visit ratio's standard error, the spread of the
  per-walker center visits c_w (independent across walkers; their variance
  includes all the autocorrelation within a trajectory), propagated by the
  delta method;
- the cumulative counts only for descriptive figures (total variation
  distance, the ratio itself).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastwalk._jit import jit
from fastwalk.errors import MissingDataError
from fastwalk.graph_laws import stationary_law, strengths

__all__ = [
    "strengths",
    "stationary_law",
    "model_law",
    "cyclic_classes",
    "counts_total_variation",
    "chi_square",
    "center_ratio",
    "compare_visits",
    "walk_report",
]

#: smallest expected count per chi-square bin (Cochran's rule)
MIN_EXPECTED = 5.0

_PVALUE_METHOD = (
    "chi-square goodness of fit of the walkers' final nodes (one independent draw per walker; "
    "visits along a trajectory are correlated and are not used) against the exact law{period}; "
    "nodes pooled in index order into bins expecting >= 5; valid once walkers have mixed "
    "(burn-in + steps well above the mixing time)"
)
_RATIO_METHOD = (
    "delta method on the mean of the per-walker center visits c_w, with the variance taken "
    "from the walker-to-walker spread of c_w (walkers are independent; the spread includes "
    "the autocorrelation within each trajectory)"
)


# ---------------------------------------------------------------------- laws


def model_law(model) -> tuple[np.ndarray, str]:
    """Return a walk's exact stationary law and how it was obtained.

    Parameters
    ----------
    model : LatticeWalk or GraphWalk
        The walk (any model with a ``stationary_law()`` method).

    Returns
    -------
    law : numpy.ndarray
        ``[nodes]`` float64.
    description : str
        ``"degree-proportional"``, ``"strength-proportional"`` or the
        numerical method for a directed graph.
    """
    if not hasattr(model, "stationary_law"):
        raise ValueError(f"a {model.kind} model has no stationary law on nodes; the walk report "
                         "covers lattice and graph runs")
    return model.stationary_law()


def cyclic_classes(model) -> tuple[int, np.ndarray | None]:
    """Return the walk's period d and each node's cyclic class (None when d = 1).

    A walker started at the start node is, after t steps, in class
    ``(class(start) + t) mod d``. Lazy walks, and graphs with an odd cycle or
    a self-loop, have d = 1; the model's ``periodic_classes()`` gives the
    others (for the lattice d = 2 exactly when L is even).

    Parameters
    ----------
    model : LatticeWalk or GraphWalk
        The walk.

    Returns
    -------
    period : int
        d >= 1.
    classes : numpy.ndarray or None
        ``[nodes]`` int64 class in 0..d-1 (-1 where unreachable), or None if d = 1.
    """
    return (1, None) if model.lazy > 0 else model.periodic_classes()


# ---------------------------------------------------------------------- comparisons
def counts_total_variation(counts, law) -> float:
    """Return the total variation distance between normalised ``counts`` and ``law``.

    Parameters
    ----------
    counts : array_like
        Non-negative counts per node.
    law : array_like
        Probabilities per node (summing to 1).

    Returns
    -------
    float
        ½ Σ |counts/Σcounts − law|, or NaN when there are no counts.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return math.nan
    return float(0.5 * np.abs(counts / total - np.asarray(law, dtype=np.float64)).sum())


@jit
def _pool(expected, minimum):
    """Bin ids pooling consecutive nodes until each bin expects >= ``minimum``."""
    ids = np.empty(expected.shape[0], dtype=np.int64)
    current, filled = 0, 0.0
    for j in range(expected.shape[0]):
        ids[j] = current
        filled += expected[j]
        if filled >= minimum:
            current += 1
            filled = 0.0
    if filled > 0.0 and current > 0:  # a short last bin joins the one before
        for j in range(expected.shape[0] - 1, -1, -1):
            if ids[j] != current:
                break
            ids[j] = current - 1
    return ids


def chi_square(counts, law, *, min_expected: float = MIN_EXPECTED) -> dict[str, Any]:
    """Chi-square goodness-of-fit of independent draws ``counts`` against ``law``.

    Nodes with positive probability are pooled, in index order (a choice that
    depends on the law only), into bins expecting at least ``min_expected``
    draws each.

    Parameters
    ----------
    counts : array_like of int
        How many of the independent draws fell on each node. Do NOT pass
        cumulative visit counts of trajectories: they are correlated, and the
        p-value would be far too small (module docstring).
    law : array_like of float
        The hypothesised law.
    min_expected : float, optional
        Smallest expected count per bin.

    Returns
    -------
    dict
        ``chi2``, ``dof``, ``bins``, ``pvalue`` (None when fewer than two bins)
        and ``impossible`` (draws on nodes the law gives probability 0, which
        make the p-value 0).
    """
    from scipy.stats import chi2 as chi2_law

    counts = np.asarray(counts, dtype=np.float64)
    law = np.asarray(law, dtype=np.float64)
    if counts.shape != law.shape:
        raise ValueError(f"counts {counts.shape} and law {law.shape} must have the same shape")
    total = counts.sum()
    support = law > 0
    impossible = int(counts[~support].sum())
    expected = total * law[support]
    ids = _pool(expected, float(min_expected))
    bins = int(ids[-1]) + 1 if ids.size else 0
    observed = np.bincount(ids, weights=counts[support], minlength=bins)
    expect = np.bincount(ids, weights=expected, minlength=bins)
    if bins < 2:
        return {"chi2": None, "dof": 0, "bins": bins, "pvalue": None, "impossible": impossible}
    statistic = float(np.sum((observed - expect) ** 2 / expect))
    pvalue = 0.0 if impossible else float(chi2_law.sf(statistic, bins - 1))
    return {"chi2": statistic, "dof": bins - 1, "bins": bins, "pvalue": pvalue,
            "impossible": impossible}


def center_ratio(counts, law, center: int, walker_center_visits=None) -> dict[str, Any]:
    """Compare the center's visits with the mean visits of the other nodes.

    The ratio R = c / (o / m), with c the center's visits, o those of the m
    other nodes the law gives positive probability. Its expectation under the
    law is π_c m / (1 − π_c) (K for the original notebook's K lines).

    Parameters
    ----------
    counts : array_like of int
        Cumulative visits per node, summed over walkers.
    law : array_like of float
        The exact law.
    center : int
        The center (reference) node.
    walker_center_visits : array_like of int, optional
        Each walker's own center visits c_w (all walkers counted the same
        number of steps T = Σ counts / N). Gives the standard error from the
        walker-to-walker variance: with c̄ the mean of c_w,
        R = m c̄ / (T − c̄) and se(R) = m T se(c̄) / (T − c̄)².

    Returns
    -------
    dict
        ``ratio``, ``expected``, ``se`` and ``z`` (None where undefined).
    """
    counts = np.asarray(counts, dtype=np.float64)
    law = np.asarray(law, dtype=np.float64)
    support = law > 0
    others = int(support.sum()) - 1
    expected = float(law[center] * others / (1.0 - law[center])) if others > 0 else None
    other_visits = counts[support].sum() - counts[center]
    result = {"ratio": None, "expected": expected, "se": None, "z": None}
    if others <= 0 or other_visits <= 0:
        return result
    result["ratio"] = float(counts[center] * others / other_visits)
    if walker_center_visits is None:
        return result
    visits = np.asarray(walker_center_visits, dtype=np.float64)
    walkers = visits.size
    if walkers < 2:
        return result
    steps = counts.sum() / walkers
    mean = visits.mean()
    se_mean = visits.std(ddof=1) / math.sqrt(walkers)
    se = others * steps * se_mean / (steps - mean) ** 2
    result["se"] = float(se)
    if se > 0 and expected is not None:
        result["z"] = float((result["ratio"] - expected) / se)
    return result


def compare_visits(counts, law, *, center: int | None = None, walker_center_visits=None,
                   min_expected: float = MIN_EXPECTED) -> dict[str, Any]:
    """Compare counts per node with an exact law: TV distance, chi-square, center ratio.

    Parameters
    ----------
    counts : array_like of int
        Counts per node. The chi-square p-value is calibrated only when these
        are independent draws (e.g. the walkers' final nodes); for cumulative
        visit counts along trajectories use the total variation and the
        center ratio only (module docstring).
    law : array_like of float
        The exact law (sums to 1).
    center : int, optional
        Node whose visits are compared with the others' mean.
    walker_center_visits : array_like of int, optional
        Per-walker center visits, for the ratio's standard error.
    min_expected : float, optional
        Smallest expected count per chi-square bin.

    Returns
    -------
    dict
        ``total_variation``, ``chi2``, ``dof``, ``bins``, ``pvalue``,
        ``impossible`` and, with ``center``, ``ratio``, ``ratio_expected``,
        ``ratio_se``, ``ratio_z``.
    """
    counts = np.asarray(counts)
    law = np.asarray(law, dtype=np.float64)
    if counts.shape != law.shape or counts.ndim != 1:
        raise ValueError(
            f"counts {counts.shape} and law {law.shape} must be 1-D of the same length"
        )
    if np.any(counts < 0):
        raise ValueError("counts must be non-negative")
    if np.any(law < 0) or not math.isclose(law.sum(), 1.0, rel_tol=1e-9):
        raise ValueError(f"law must be non-negative and sum to 1, sums to {law.sum()}")
    result: dict[str, Any] = {"total_variation": _finite(counts_total_variation(counts, law))}
    result.update(chi_square(counts, law, min_expected=min_expected))
    if center is not None:
        ratio = center_ratio(counts, law, center, walker_center_visits)
        result.update({f"ratio{'' if k == 'ratio' else '_' + k}": v for k, v in ratio.items()})
    return result


def _finite(value):
    return None if value is None or not math.isfinite(value) else float(value)


# ---------------------------------------------------------------------- report
def walk_report(model, accumulators: dict) -> dict[str, Any]:
    """Return the stationary-law report of a lattice or graph run (JSON-able).

    Parameters
    ----------
    model : LatticeWalk or GraphWalk
        The run's model.
    accumulators : dict
        The run's accumulators: ``visit_counts`` ([nodes], cumulative),
        the per-walker visits of the center (``model.reference_visits``:
        ``walker_center_visits`` of a lattice, ``walker_start_visits`` of a
        graph, [N]) and ``walker_node`` ([N]).

    Returns
    -------
    dict
        Flat JSON-able figures: the law and how it was obtained, node,
        walker and step counts, ``total_variation`` of the cumulative visits,
        the center ratio with its standard error and z-score, the final-node
        chi-square (``chi2``, ``chi2_dof``, ``pvalue``, ``final_total_variation``),
        the walk's period, and ``pvalue_method``/``ratio_se_method`` saying how
        they were computed. ``warning`` appears when the run looks too short.

    Raises
    ------
    fastwalk.errors.MissingDataError
        If the accumulators lack what the report needs.

    Examples
    --------
    >>> import fastwalk as fw
    >>> from fastwalk.analysis.stationary import walk_report
    >>> run = fw.simulate(fw.LatticeWalk(fw.Crossing.lines(3), length=9), walkers=500,
    ...                   steps=2000, seed=1, burn_in=100)
    >>> report = walk_report(run.model, run.accumulators)
    >>> report["expected_center_ratio"], abs(report["center_ratio_z"]) < 4
    (3.0, True)
    """
    needed = ("visit_counts", model.reference_visits, "walker_node")
    missing = [name for name in needed if name not in accumulators]
    if missing:
        raise MissingDataError(
            f"the run's accumulators lack {', '.join(missing)}; the stationary report needs "
            f"{', '.join(needed)} (written at every commit of a lattice or graph run)"
        )
    counts = np.asarray(accumulators["visit_counts"])
    center_visits = np.asarray(accumulators[model.reference_visits])
    final = np.asarray(accumulators["walker_node"])
    if counts.shape != (model.nodes,):
        raise MissingDataError(f"visit_counts has shape {counts.shape}, the model has "
                               f"{model.nodes} nodes")
    law, law_method = model_law(model)
    walkers = int(final.size)
    steps = int(counts.sum() // walkers) if walkers else 0
    report: dict[str, Any] = {
        "law": law_method,
        "nodes": int(model.nodes),
        "support_nodes": int(np.count_nonzero(law)),
        "walkers": walkers,
        "steps_per_walker": steps,
        "center_node": int(model.center),
        "center_is": model.center_name,
    }
    if model.labels is not None:
        report["center_label"] = str(model.labels[model.center])
    report["total_variation"] = _finite(counts_total_variation(counts, law)) if steps else None
    ratio = center_ratio(counts, law, model.center, center_visits) if steps else {}
    report["center_ratio"] = ratio.get("ratio")
    report["center_ratio_se"] = ratio.get("se")
    report["expected_center_ratio"] = ratio.get("expected")
    report["center_ratio_z"] = ratio.get("z")
    report["ratio_se_method"] = _RATIO_METHOD
    report.update(_final_node_test(model, law, final))
    warning = _warning(model, steps)
    if warning:
        report["warning"] = warning
    return report


def walk_run_report(run, **options) -> dict[str, Any]:
    """Return :func:`walk_report` of an open lattice or graph file (options are ignored)."""
    return walk_report(run.model, run.accumulators)


def _final_node_test(model, law: np.ndarray, final: np.ndarray) -> dict[str, Any]:
    period, classes = cyclic_classes(model)
    final_law, note = law, ""
    if period > 1 and final.size:
        current = classes[final[0]]
        if np.any(classes[final] != current):
            raise ValueError("walkers of one run lie in different cyclic classes; "
                             "the accumulators do not belong to this model")
        final_law = np.where(classes == current, law, 0.0)
        final_law /= final_law.sum()
        note = (f" restricted to the walkers' cyclic class {int(current)} of {period} "
                "(periodic walk), renormalised")
    histogram = np.bincount(final, minlength=model.nodes).astype(np.float64)
    test = chi_square(histogram, final_law)
    return {
        "chi2": _finite(test["chi2"]),
        "chi2_dof": test["dof"],
        "chi2_bins": test["bins"],
        "pvalue": test["pvalue"],
        "impossible_final_nodes": test["impossible"],
        "final_total_variation": _finite(counts_total_variation(histogram, final_law)),
        "period": period,
        "pvalue_method": _PVALUE_METHOD.format(period=note),
    }


def _warning(model, steps: int) -> str | None:
    if steps == 0:
        return "no counted steps: the ratio and the total variation are undefined"
    mixing = model.mixing_steps()
    if mixing is not None and steps < mixing[0]:
        return (f"steps per walker ({steps}) < {mixing[1]} = {mixing[0]}: unless the burn-in was "
                "long, walkers may not have mixed, and the final-node p-value would then reject "
                "the stationary law")
    return None
