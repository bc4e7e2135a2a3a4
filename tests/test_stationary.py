"""Tests of fastwalk.analysis.stationary: exact laws, honest comparisons, the report.

Statistical checks use fixed seeds. A z-score must stay below 4 (the issue's
"within its stated standard error", at 4 sigma) and a p-value above
``ALPHA`` = 1e-3; each is paired with a slightly wrong law that the same
check must reject (p < ``REJECT`` = 1e-6, or |z| > 4), so none can pass
whatever the walker does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy import stats

from fastwalk.analysis import stationary
from fastwalk.crossing import Crossing
from fastwalk.engine import Simulation
from fastwalk.errors import MissingDataError
from fastwalk.models.graph import GraphWalk
from fastwalk.models.lattice import LatticeWalk

SEED = 5150
ALPHA = 1e-3
REJECT = 1e-6
Z_MAX = 4.0
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example_graph.txt"


def run(model, walkers, steps, burn_in, seed=SEED):
    sim = Simulation(model, walkers, steps, seed=seed, burn_in=burn_in, progress=False,
                     handle_signals=False)
    sim.run()
    return model.accumulators(sim.state)


def dense_stationary(indptr, indices, weights=None):
    """Left eigenvector of the dense transition matrix for eigenvalue 1."""
    nodes = len(indptr) - 1
    matrix = np.zeros((nodes, nodes))
    weights = np.ones(len(indices)) if weights is None else weights
    for u in range(nodes):
        for j in range(indptr[u], indptr[u + 1]):
            matrix[u, indices[j]] += weights[j]
    transition = matrix / matrix.sum(axis=1, keepdims=True)
    values, vectors = np.linalg.eig(transition.T)
    vector = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    return vector / vector.sum()


# ---------------------------------------------------------------------- the original notebook's table
@pytest.mark.parametrize("lines", [2, 3, 4, 10])
def test_center_is_visited_k_times_as_often(lines):
    """The original notebook's table: K lines of length L = 9, center/other visit ratio = K."""
    model = LatticeWalk(Crossing.lines(lines), 9)
    report = stationary.walk_report(model, run(model, 1000, 20_000, burn_in=1000))
    ratio, se = report["center_ratio"], report["center_ratio_se"]
    assert report["expected_center_ratio"] == pytest.approx(lines, rel=1e-12)
    assert abs(ratio - lines) < Z_MAX * se
    assert abs(ratio - 1.05 * lines) > Z_MAX * se  # a law 5% off is rejected
    assert report["pvalue"] > ALPHA
    assert report["period"] == 1


def test_ratio_standard_error_is_calibrated_and_the_naive_one_is_not():
    """Across 40 independent runs the z-scores have unit variance.

    Σ z² over 40 runs is χ²(40); the naive error (all N·T visits treated as
    independent draws) makes it far too large, which the same check rejects.
    L = 25 makes excursions from the center long, hence visits correlated.
    """
    length = 25
    model = LatticeWalk(Crossing.lines(3), length)
    honest, naive = [], []
    for replica in range(40):
        acc = run(model, 100, 10_000, burn_in=3000, seed=SEED + 1000 + replica)
        result = stationary.center_ratio(acc["visit_counts"], stationary.model_law(model)[0],
                                         model.center, acc["walker_center_visits"])
        honest.append(result["z"])
        visits = acc["visit_counts"].sum()
        steps, center = visits / 100, acc["visit_counts"][0] / 100
        share = center / steps
        # naive: the center's visits as a binomial over N·T independent visits
        naive_se_mean = math.sqrt(visits * share * (1 - share)) / 100
        naive_se = (model.nodes - 1) * steps * naive_se_mean / (steps - center) ** 2
        naive.append((result["ratio"] - 3.0) / naive_se)
    honest_sum, naive_sum = np.sum(np.square(honest)), np.sum(np.square(naive))
    assert stats.chi2.sf(honest_sum, 40) > ALPHA and stats.chi2.cdf(honest_sum, 40) > ALPHA
    assert stats.chi2.sf(naive_sum, 40) < REJECT


def test_cumulative_visits_would_fail_a_naive_chi_square():
    """Why the p-value uses final nodes: correlated visits inflate chi-square."""
    model = LatticeWalk(Crossing.lines(3), 9)
    acc = run(model, 1000, 20_000, burn_in=1000)
    law = stationary.model_law(model)[0]
    assert stationary.chi_square(acc["visit_counts"], law)["pvalue"] < REJECT
    assert stationary.walk_report(model, acc)["pvalue"] > ALPHA


def test_periodic_lattice_compares_final_nodes_within_their_class():
    model = LatticeWalk(Crossing.lines(3), 8)  # even L: bipartite
    acc = run(model, 4000, 2000, burn_in=500)
    report = stationary.walk_report(model, acc)
    assert report["period"] == 2 and "cyclic class" in report["pvalue_method"]
    assert report["pvalue"] > ALPHA
    assert abs(report["center_ratio_z"]) < Z_MAX
    histogram = np.bincount(acc["walker_node"], minlength=model.nodes)
    ignoring_period = stationary.chi_square(histogram, stationary.model_law(model)[0])
    assert ignoring_period["pvalue"] < REJECT


@pytest.mark.parametrize("graph, period", [(nx.cycle_graph(6), 2),
                                           (nx.DiGraph([(u, v) for u in range(6) for v in range(6)
                                                        if v // 2 == (u // 2 + 1) % 3]), 3)])
def test_periodic_graphs_use_the_cyclic_class_and_lazy_walks_do_not(graph, period):
    model = GraphWalk.from_networkx(graph)
    assert stationary.cyclic_classes(model)[0] == period
    report = stationary.walk_report(model, run(model, 3000, 101, burn_in=0))
    assert report["period"] == period and report["pvalue"] > ALPHA
    lazy = GraphWalk.from_networkx(graph, lazy=0.5)
    assert stationary.cyclic_classes(lazy) == (1, None)
    assert stationary.walk_report(lazy, run(lazy, 3000, 200, burn_in=100))["pvalue"] > ALPHA


# ---------------------------------------------------------------------- degree law on graphs
def multigraph_with_loops() -> GraphWalk:
    graph = nx.MultiGraph([(0, 1), (1, 2), (2, 0), (2, 3), (2, 3), (3, 3), (3, 4), (4, 4), (4, 4)])
    return GraphWalk.from_networkx(graph)


def wrong_law(name: str, model) -> np.ndarray:
    """A plausible but wrong law for each graph."""
    if name == "multigraph":  # networkx's degree counts each self-loop twice
        graph = nx.MultiGraph([(0, 1), (1, 2), (2, 0), (2, 3), (2, 3), (3, 3), (3, 4), (4, 4),
                               (4, 4)])
        law = np.array([graph.degree(n) for n in graph.nodes], dtype=float)
    elif name.startswith("weighted"):  # ignore the weights
        law = model.degrees().astype(float)
    else:  # uniform
        law = np.ones(model.nodes)
    return law / law.sum()


GRAPHS = {
    "unweighted": lambda: GraphWalk.from_networkx(nx.lollipop_graph(6, 8)),
    "weighted": lambda: GraphWalk.from_edgelist(EXAMPLE),
    "weighted_lazy": lambda: GraphWalk.from_edgelist(EXAMPLE, lazy=0.3),
    "multigraph": multigraph_with_loops,
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_degree_law_on_graphs(name):
    model = GRAPHS[name]()
    acc = run(model, 20_000, 200, burn_in=3000)
    report = stationary.walk_report(model, acc)
    assert report["pvalue"] > ALPHA, report
    assert abs(report["center_ratio_z"]) < Z_MAX
    histogram = np.bincount(acc["walker_node"], minlength=model.nodes)
    assert stationary.chi_square(histogram, wrong_law(name, model))["pvalue"] < REJECT


def test_graph_report_names_the_start_node_and_is_json():
    model = GraphWalk.from_edgelist(EXAMPLE)
    report = stationary.walk_report(model, run(model, 500, 500, burn_in=100))
    json.dumps(report, allow_nan=False)
    assert report["center_label"] == "hub" and report["center_is"] == "the start node"
    assert report["law"] == "strength-proportional"
    for key in ("total_variation", "center_ratio", "center_ratio_se", "expected_center_ratio",
                "chi2", "chi2_dof", "pvalue", "pvalue_method", "ratio_se_method", "walkers",
                "steps_per_walker"):
        assert key in report
    assert report["walkers"] == 500 and report["steps_per_walker"] == 500


def test_report_needs_the_accumulators_and_flags_empty_runs():
    model = LatticeWalk(Crossing.lines(2), 5)
    with pytest.raises(MissingDataError, match="visit_counts"):
        stationary.walk_report(model, {})
    report = stationary.walk_report(model, run(model, 10, 0, burn_in=0))
    assert report["center_ratio"] is None and "no counted steps" in report["warning"]
    json.dumps(report, allow_nan=False)
    short = stationary.walk_report(model, run(model, 10, 5, burn_in=0))
    assert "may not have mixed" in short["warning"]


# ---------------------------------------------------------------------- exact laws
def test_strength_law_matches_the_transition_matrix():
    model = GraphWalk.from_edgelist(EXAMPLE)  # weights, a self-loop and a multi-edge
    law = stationary.stationary_law(model.indptr, model.indices, model.weights, start=0)
    np.testing.assert_allclose(law, dense_stationary(model.indptr, model.indices, model.weights),
                               rtol=1e-10)
    np.testing.assert_allclose(law, model.strengths() / model.strengths().sum(), rtol=1e-14)


def test_directed_law_is_solved_numerically():
    model = GraphWalk.from_networkx(nx.DiGraph([(0, 1), (1, 2), (2, 0), (2, 3), (3, 3), (3, 1),
                                                (1, 0)]))
    law, method = stationary.model_law(model)
    assert "directed" in method
    np.testing.assert_allclose(law, dense_stationary(model.indptr, model.indices), rtol=1e-10)
    with pytest.raises(ValueError, match="start"):
        stationary.stationary_law(model.indptr, model.indices)
    # 0 -> 1 <-> 2: reachable from 0 but not strongly connected
    with pytest.raises(ValueError, match="strongly connected"):
        stationary.stationary_law([0, 1, 2, 3], [1, 2, 1], start=0)


def test_law_lives_on_the_start_component():
    indptr, indices = [0, 1, 2, 5, 6, 8], [1, 0, 3, 4, 4, 2, 2, 2]
    # component {0, 1} and component {2, 3, 4} (with a multi-edge 2 - 4)
    law = stationary.stationary_law(indptr, indices, start=3)
    np.testing.assert_allclose(law, [0, 0, 3 / 6, 1 / 6, 2 / 6])
    everywhere = stationary.stationary_law(indptr, indices)
    np.testing.assert_allclose(everywhere, np.array([1, 1, 3, 1, 2]) / 8)


@pytest.mark.parametrize("crossing", [Crossing.lines(3), Crossing.planes_meeting_in_line()])
def test_lattice_law_is_the_degree_law_of_its_csr(crossing):
    model = LatticeWalk(crossing, 5)
    law, method = stationary.model_law(model)
    assert "degree" in method
    np.testing.assert_allclose(law, stationary.stationary_law(*crossing.to_csr(5), start=0),
                               rtol=1e-14)


# ---------------------------------------------------------------------- comparisons
def test_chi_square_p_values_are_uniform_for_independent_draws():
    generator = np.random.default_rng(SEED)
    law = generator.dirichlet(np.full(60, 0.5))  # many tiny cells: pooling matters
    pvalues = [stationary.chi_square(generator.multinomial(2000, law), law)["pvalue"]
               for _ in range(300)]
    assert stats.kstest(pvalues, "uniform").pvalue > ALPHA
    wrong = law * np.where(np.arange(60) < 30, 1.1, 0.9)
    wrong /= wrong.sum()
    sample = generator.multinomial(50_000, law)
    assert stationary.chi_square(sample, wrong)["pvalue"] < REJECT


def test_pooled_bins_each_expect_enough():
    expected = np.array([0.1, 7.0, 0.5, 0.5, 3.0, 3.0, 0.2, 0.1, 9.0, 1.0])
    ids = stationary._pool(expected, 5.0)
    sums = np.bincount(ids, weights=expected)
    assert np.all(sums >= 5.0) and np.all(np.diff(ids) >= 0)
    assert ids.tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]  # the short last bin joins bin 2


def test_center_ratio_and_its_walker_standard_error():
    counts = np.array([30, 10, 10, 10])
    law = np.array([0.5, 1 / 6, 1 / 6, 1 / 6])
    result = stationary.center_ratio(counts, law, 0, walker_center_visits=[14, 16])
    # R = 30 / (30 / 3) = 3; T = 30 steps a walker; se(c̄) = 1; se = 3·30·1 / 15²
    assert result["ratio"] == pytest.approx(3.0)
    assert result["expected"] == pytest.approx(3.0)
    assert result["se"] == pytest.approx(3 * 30 / 15**2)
    assert result["z"] == pytest.approx(0.0, abs=1e-12)


def test_compare_visits_figures_and_bad_input():
    law = np.array([0.4, 0.3, 0.2, 0.1])
    exact = stationary.compare_visits(np.round(law * 1000).astype(int), law, center=0)
    assert exact["total_variation"] == pytest.approx(0.0, abs=1e-12)
    assert exact["chi2"] == pytest.approx(0.0, abs=1e-12)
    assert exact["ratio"] == pytest.approx(exact["ratio_expected"])
    off = stationary.compare_visits(np.array([500, 300, 200, 0]), law)
    assert off["total_variation"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="same length"):
        stationary.compare_visits(np.ones(3), law)
    with pytest.raises(ValueError, match="non-negative"):
        stationary.compare_visits(np.array([1, -1, 0, 0]), law)
    with pytest.raises(ValueError, match="sum to 1"):
        stationary.compare_visits(np.ones(4), law * 2)
