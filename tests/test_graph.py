"""Tests of the CSR graph walker (fastwalk.models.graph): inputs, checks, trajectories."""

from __future__ import annotations

from pathlib import Path

import naive_walks
import networkx as nx
import numba
import numpy as np
import pytest
from naive_rng import Xoshiro256pp
from scipy import sparse

from fastwalk.engine import MemorySink, Simulation
from fastwalk.models.graph import GraphWalk

SEED = 77031
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example_graph.txt"


def run(model, walkers=40, steps=300, *, seed=SEED, every=0, burn_in=0, first_walker=0,
        threads=None):
    sink = MemorySink()
    sim = Simulation(model, walkers, steps, seed=seed, every=every, burn_in=burn_in,
                     first_walker=first_walker, sinks=[sink], progress=False, threads=threads,
                     handle_signals=False)
    sim.run()
    state = sim.state
    return sink, {**model.accumulators(state), "rng": state["rng"], "node": state["node"]}


def write(tmp_path, text, name="edges.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def directed_example() -> GraphWalk:
    """A strongly connected directed graph with a self-loop and a 2-cycle."""
    edges = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 3), (3, 1), (1, 0)]
    return GraphWalk.from_networkx(nx.DiGraph(edges))


# ---------------------------------------------------------------------- edge lists
def test_example_edge_list_is_read_as_documented():
    graph = GraphWalk.from_edgelist(EXAMPLE)
    assert graph.labels.tolist() == ["hub", "a", "b", "c", "d", "e", "f", "g"]
    assert graph.weighted and graph.start == 0
    hub, a = 0, 1
    row = slice(graph.indptr[hub], graph.indptr[hub + 1])
    # file order within the row; the self-loop is ONE entry of weight 2.5
    assert graph.indices[row].tolist() == [1, 2, 3, 4, 6, 0]
    assert graph.weights[row].tolist() == [2.0, 1.5, 1.0, 0.5, 1.0, 2.5]
    row = slice(graph.indptr[a], graph.indptr[a + 1])
    assert graph.indices[row].tolist() == [0, 2, 2]  # the multi-edge a - b twice
    assert graph.weights[row].tolist() == [2.0, 1.0, 3.0]
    assert graph.strengths()[hub] == pytest.approx(2 + 1.5 + 1 + 0.5 + 1 + 2.5)
    assert graph.degrees()[hub] == 6


def test_unweighted_edge_list_comments_and_start_label(tmp_path):
    path = write(tmp_path, "# a triangle and a tail\n\nx y\ny z  # trailing comment\nz x\nz t\n")
    graph = GraphWalk.from_edgelist(path, start="z", lazy=0.5)
    assert not graph.weighted and graph.weights is None
    assert graph.labels.tolist() == ["x", "y", "z", "t"]
    assert graph.start == 2 and graph.lazy == 0.5
    assert graph.degrees().tolist() == [2, 2, 3, 1]


@pytest.mark.parametrize("text, line, message", [
    ("a b\na b c d\n", 2, "expected 'u v' or 'u v weight'"),
    ("# c\na b 1\n\nb c heavy\n", 4, "is not a number"),
    ("a b nan\n", 1, "positive and finite"),
    ("a b 1\nb c -2\n", 2, "positive and finite"),
    ("a b 0\n", 1, "positive and finite"),
    ("a b inf\n", 1, "positive and finite"),
    ("lonely\n", 1, "expected 'u v'"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as error:
        GraphWalk.from_edgelist(path)
    assert f"{path}, line {line}:" in str(error.value)


def test_empty_and_unknown_start_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="no edges"):
        GraphWalk.from_edgelist(write(tmp_path, "# nothing\n\n"))
    with pytest.raises(ValueError, match="does not appear"):
        GraphWalk.from_edgelist(write(tmp_path, "a b\n"), start="q")
    with pytest.raises(FileNotFoundError):
        GraphWalk.from_edgelist(tmp_path / "absent.txt")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe a b\n")
    with pytest.raises(ValueError, match="UTF-8"):
        GraphWalk.from_edgelist(binary)


# ---------------------------------------------------------------------- CSR checks
@pytest.mark.parametrize("args, kwargs, error, message", [
    (([1, 1], [0]), {}, ValueError, r"indptr\[0\] must be 0"),
    (([0, 2, 1], [1, 0]), {}, ValueError, "non-decreasing"),
    (([0, 1, 2], [1, 5]), {}, ValueError, "not a node"),
    (([0, 1, 2], [1]), {}, ValueError, "must equal the number of entries"),
    (([0], []), {}, ValueError, "at least one node"),
    (([0.0, 1.0, 2.0], [1, 0]), {}, TypeError, "integer array"),
    (([0, 1, 2], [1, 0], [1.0]), {}, ValueError, "one value per entry"),
    (([0, 1, 2], [1, 0], [1.0, np.nan]), {}, ValueError, r"1 -> 0 \(entry 1\) is nan"),
    (([0, 1, 2], [1, 0], [-1.0, 1.0]), {}, ValueError, "positive and finite"),
    (([0, 1, 2], [1, 0]), {"start": 2}, ValueError, "start"),
    (([0, 1, 2], [1, 0]), {"start": -1}, ValueError, "start"),
    (([0, 1, 2], [1, 0]), {"lazy": 1.0}, ValueError, "lazy"),
    (([0, 1, 2], [1, 0]), {"labels": ["a", "a"]}, ValueError, "unique"),
    (([0, 1, 2], [1, 0]), {"start": "b"}, ValueError, "no labels"),
])
def test_bad_csr_input_is_refused_before_any_step(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        GraphWalk(*args, **kwargs)


def test_edgeless_nodes_the_walker_can_reach_are_refused():
    # node 2 has no edges: fine while unreachable, refused as a start
    GraphWalk([0, 1, 2, 2], [1, 0], start=0)
    with pytest.raises(ValueError, match="node 2 has no edges but is the start node"):
        GraphWalk([0, 1, 2, 2], [1, 0], start=2)
    # directed: 0 -> 1 -> 2, and 2 is a dead end reachable from 0 but not from 3
    indptr, indices = [0, 1, 2, 2, 3], [1, 2, 3]
    with pytest.raises(ValueError, match="node 2 has no edges but can be reached"):
        GraphWalk(indptr, indices, start=0)
    with pytest.raises(ValueError, match=r"node 2 \('c'\)"):
        GraphWalk(indptr, indices, start="a", labels=["a", "b", "c", "d"])
    GraphWalk([0, 1, 2, 2, 3], [1, 0, 3], start=3)  # 3 -> 3 never meets node 2


# ---------------------------------------------------------------------- other inputs
def test_from_scipy_weighted_and_unweighted():
    dense = np.array([[0, 2.0, 1.0], [2.0, 0, 0], [1.0, 0, 3.0]])
    weighted = GraphWalk.from_scipy(sparse.csr_matrix(dense))
    assert weighted.weighted
    np.testing.assert_allclose(weighted.strengths(), dense.sum(axis=1))
    unweighted = GraphWalk.from_scipy(sparse.coo_array(dense > 0).astype(float), start=2)
    assert not unweighted.weighted and unweighted.start == 2
    assert unweighted.degrees().tolist() == [2, 1, 2]
    ignoring = GraphWalk.from_scipy(sparse.csr_matrix(dense), weighted=False)
    assert not ignoring.weighted


def test_from_scipy_refuses_bad_matrices():
    with pytest.raises(TypeError, match="scipy.sparse"):
        GraphWalk.from_scipy(np.eye(3))
    with pytest.raises(ValueError, match="square"):
        GraphWalk.from_scipy(sparse.csr_array(np.ones((2, 3))))
    explicit_zero = sparse.csr_array((np.array([1.0, 0.0]), np.array([1, 0]), np.array([0, 1, 2])))
    with pytest.raises(ValueError, match="eliminate_zeros"):
        GraphWalk.from_scipy(explicit_zero)
    negative = sparse.csr_array(np.array([[0, -1.0], [1.0, 0]]))
    with pytest.raises(ValueError, match=r"entry \(0, 1\) is -1"):
        GraphWalk.from_scipy(negative)


def test_from_networkx_graphs_multigraphs_and_digraphs():
    graph = nx.Graph()
    graph.add_edge("p", "q", weight=2.0)
    graph.add_edge("q", "q", weight=0.5)  # self-loop: one entry
    graph.add_edge("q", "r")  # no weight attribute: weighs 1
    walk = GraphWalk.from_networkx(graph, start="q")
    assert walk.labels.tolist() == ["p", "q", "r"] and walk.start == 1 and walk.weighted
    row = slice(walk.indptr[1], walk.indptr[2])
    entries = zip(walk.indices[row].tolist(), walk.weights[row].tolist(), strict=True)
    assert sorted(entries) == [(0, 2.0), (1, 0.5), (2, 1.0)]
    assert not GraphWalk.from_networkx(graph, weight=None).weighted

    multi = nx.MultiGraph([(0, 1), (0, 1), (1, 2), (2, 2)])
    walk = GraphWalk.from_networkx(multi)
    assert walk.degrees().tolist() == [2, 3, 2]  # parallel edges twice, the loop once
    assert not walk.weighted

    directed = directed_example()
    assert directed.degrees().tolist() == [1, 2, 2, 2]
    with pytest.raises(ValueError, match="not a node"):
        GraphWalk.from_networkx(multi, start=9)
    with pytest.raises(TypeError, match="networkx"):
        GraphWalk.from_networkx({0: [1]})


# ---------------------------------------------------------------------- trajectories
def reference_cases():
    example = GraphWalk.from_edgelist(EXAMPLE)
    lollipop = GraphWalk.from_networkx(nx.lollipop_graph(5, 4))
    return {"weighted": example, "unweighted": lollipop, "directed": directed_example()}


def kernel_path(model, staged: bool) -> GraphWalk:
    """Force the lane kernel (cache-sized graphs) or the prefetching one (large graphs)."""
    model._staged = staged
    return model


@pytest.mark.parametrize("staged", [False, True], ids=["lanes", "prefetch"])
@pytest.mark.parametrize("name", ["weighted", "unweighted", "directed"])
@pytest.mark.parametrize("lazy", [0.0, 0.4])
def test_trajectories_match_the_pure_python_walker(name, lazy, staged):
    base = reference_cases()[name]
    model = kernel_path(GraphWalk(base.indptr, base.indices, base.weights, lazy=lazy,
                                  start=base.start), staged)
    walkers, steps = 70, 300  # a full lane of 64 and a part-filled one; groups of 32 and a rest
    sink, _ = run(model, walkers, steps, every=1)
    got = np.array(sink.frames)
    rows, row_weights = naive_walks.rows_from_csr(model.indptr, model.indices, model.weights)
    for w in range(walkers):
        path = naive_walks.graph_walk(rows, model.start, steps, Xoshiro256pp.for_walker(SEED, w),
                                      lazy, row_weights)
        assert got[1:, w].tolist() == path


def _rejecting_words(words: np.ndarray, walkers: int) -> np.ndarray:
    """Rewrite s3 of the first ``walkers`` states so that their next draw's top 32 bits are 0.

    xoshiro256++ outputs r = rotl(s0 + s3, 23) + s0; with r < 2**32, Lemire's bounded draw
    gets a zero low product, below the threshold 2**32 mod m of every m that is not a power of
    two: the draw is rejected and redrawn (probability ~m / 2**32 in a real run).
    """
    words = words.copy()
    low = np.random.default_rng(5).integers(1, 2**32, size=walkers, dtype=np.uint64)
    for w in range(walkers):
        s0 = int(words[w, 0])
        x = (int(low[w]) - s0) % 2**64
        x = ((x >> 23) | (x << 41)) % 2**64  # rotr by 23
        words[w, 3] = np.uint64((x - s0) % 2**64)
    return words


@pytest.mark.parametrize("staged", [False, True], ids=["lanes", "prefetch"])
def test_rejected_bounded_draws_are_redrawn_as_the_reference_does(staged):
    from fastwalk import rng

    base = reference_cases()["unweighted"]
    model = kernel_path(GraphWalk(base.indptr, base.indices, start=base.start), staged)
    walkers, steps = 70, 40
    words = _rejecting_words(rng.state_words(rng.seed_states(SEED, 0, walkers)), 20)
    state = model.initial_state(rng.states_from_words(words))
    paths = []
    for step in range(steps):
        model.advance(state, step, 1, True)
        paths.append(state["node"].copy())
    rows, _ = naive_walks.rows_from_csr(model.indptr, model.indices)
    for w in range(walkers):
        generator = Xoshiro256pp(words[w])
        if w < 20:
            assert generator.next_u64() >> 32 == 0  # the crafted first draw
            generator = Xoshiro256pp(words[w])
        path = naive_walks.graph_walk(rows, model.start, steps, generator)
        assert [int(p[w]) for p in paths] == path
    np.testing.assert_array_equal(rng.state_words(state["rng"])[:walkers],
                                  [reference_words_after(words[w], rows, model.start, steps)
                                   for w in range(walkers)])


def reference_words_after(words, rows, start, steps):
    """The reference generator's words after a walker's ``steps`` steps."""
    generator = Xoshiro256pp(words)
    naive_walks.graph_walk(rows, start, steps, generator)
    return generator.s


def test_weighted_moves_follow_the_weights():
    # a star: center 0 with leaves weighted 1, 2, 3, 4; leaves return to 0
    weights = [1.0, 2.0, 3.0, 4.0]
    indptr = [0, 4, 5, 6, 7, 8]
    indices = [1, 2, 3, 4, 0, 0, 0, 0]
    model = GraphWalk(indptr, indices, weights + [1.0] * 4)
    walkers = 20000
    sink, _ = run(model, walkers, 1, every=1)
    leaves = np.bincount(sink.frames[1], minlength=5)[1:]
    expected = walkers * np.array(weights) / 10
    # multinomial: each leaf within 5 binomial standard errors
    se = np.sqrt(expected * (1 - np.array(weights) / 10))
    assert np.all(np.abs(leaves - expected) < 5 * se)
    wrong = walkers / 4  # equal weights would put ~5000 on each leaf
    assert abs(leaves[0] - wrong) > 5 * se[0]


# ---------------------------------------------------------------------- reproducibility
def test_one_and_two_threads_are_bit_identical():
    model = GraphWalk.from_edgelist(EXAMPLE, lazy=0.2)
    before = numba.get_num_threads()
    try:
        one = run(model, 257, 600, burn_in=15, every=50, threads=1)
        two = run(model, 257, 600, burn_in=15, every=50, threads=2)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(np.array(one[0].frames), np.array(two[0].frames))
    for key in ("visit_counts", "walker_start_visits", "walker_node"):
        np.testing.assert_array_equal(one[1][key], two[1][key])


def test_walker_chunks_combine_to_the_whole_run():
    model = GraphWalk.from_edgelist(EXAMPLE)
    whole = run(model, 200, 300)[1]
    first = run(model, 71, 300)[1]
    rest = run(model, 129, 300, first_walker=71)[1]
    combined = first["visit_counts"] + rest["visit_counts"]
    np.testing.assert_array_equal(whole["visit_counts"], combined)
    for key in ("walker_start_visits", "walker_node"):
        np.testing.assert_array_equal(whole[key], np.concatenate([first[key], rest[key]]))


# ---------------------------------------------------------------------- description
def test_parameters_round_trip_with_labels_and_weights():
    model = GraphWalk.from_edgelist(EXAMPLE, lazy=0.1, start="e")
    arrays = model.parameter_arrays()
    assert set(arrays) == {"graph/indptr", "graph/indices", "graph/weights", "graph/labels"}
    assert arrays["graph/labels"].dtype.kind == "U"
    assert model.parameters()["start_label"] == "e"
    rebuilt = GraphWalk.from_parameters(model.parameters(), arrays)
    assert rebuilt == model
    plain = GraphWalk([0, 1, 2], [1, 0])
    assert set(plain.parameter_arrays()) == {"graph/indptr", "graph/indices"}
    assert GraphWalk.from_parameters(plain.parameters(), plain.parameter_arrays()) == plain
    assert plain.box()["dimension"] == 1 and plain.frame_name == "node"


def test_counts_cover_counted_steps_only():
    model = GraphWalk.from_edgelist(EXAMPLE)
    sink, state = run(model, 50, 200, burn_in=40)
    assert state["visit_counts"].sum() == 50 * 200
    assert state["walker_start_visits"].sum() == state["visit_counts"][model.start]
    np.testing.assert_array_equal(sink.series("visit_counts")[-1], state["visit_counts"])
