"""Tests of the implicit lattice walker (fastwalk.models.lattice).

Trajectories are compared step by step with a pure-Python walker that finds
neighbours from the definition and draws from an independent model of the
same random streams; then with the CSR graph walker on ``crossing.to_csr``.
"""

from __future__ import annotations

import naive_walks
import numba
import numpy as np
import pytest
from naive_rng import Xoshiro256pp

from fastwalk import rng
from fastwalk.crossing import Crossing
from fastwalk.engine import MemorySink, Simulation
from fastwalk.models.graph import GraphWalk
from fastwalk.models.lattice import MAX_RECORDED_NODES, MAX_STORED_COORDS, LatticeWalk

SEED = 20240917

REFERENCE_CASES = {
    "lines3": (Crossing.lines(3), 5),  # the specialised lines kernel
    "lines_in_4d": (Crossing(4, [(1, 2, 3), (0, 2, 3), (0, 1, 3)]), 4),  # lines kernel, D > K
    "planes_in_line": (Crossing.planes_meeting_in_line(), 4),  # general kernel, unpinned axis
    "overlapping": (Crossing(4, [(0, 1), (0, 2), (3,)]), 3),  # general kernel, L = 3
    "hyperplanes3": (Crossing.hyperplanes(3), 5),
}


def run(model, walkers=40, steps=300, *, seed=SEED, every=0, burn_in=0, first_walker=0,
        threads=None):
    """Run ``model`` through the engine; return (sink, accumulators + final rng and nodes)."""
    sink = MemorySink()
    sim = Simulation(model, walkers, steps, seed=seed, every=every, burn_in=burn_in,
                     first_walker=first_walker, sinks=[sink], progress=False, threads=threads,
                     handle_signals=False)
    sim.run()
    state = sim.state
    return sink, {**model.accumulators(state), "rng": state["rng"], "node": state["node"]}


def frames(sink) -> np.ndarray:
    return np.array(sink.frames)


# ---------------------------------------------------------------------- reference
@pytest.mark.parametrize("name", sorted(REFERENCE_CASES))
@pytest.mark.parametrize("lazy", [0.0, 0.3])
def test_trajectories_match_the_pure_python_walker(name, lazy):
    crossing, length = REFERENCE_CASES[name]
    model = LatticeWalk(crossing, length, lazy=lazy)
    walkers, steps = 5, 200
    sink, _ = run(model, walkers, steps, every=1)
    got = model.coords()[frames(sink)]  # [steps + 1][walkers][D]
    for w in range(walkers):
        path = naive_walks.lattice_walk(crossing.dim, crossing.pins, length,
                                        [0] * crossing.dim, steps,
                                        Xoshiro256pp.for_walker(SEED, w), lazy)
        assert [tuple(p) for p in got[1:, w].tolist()] == path


@pytest.mark.parametrize("lazy", [0.0, 0.25])
def test_lines_kernel_equals_the_general_kernel(lazy):
    crossing = Crossing.lines(4)
    fast = LatticeWalk(crossing, 7, lazy=lazy)
    general = LatticeWalk(crossing, 7, lazy=lazy)
    general._lines = False  # force the general kernel on the same lattice
    states = [run(m, 200, 500, burn_in=50, every=100) for m in (fast, general)]
    np.testing.assert_array_equal(frames(states[0][0]), frames(states[1][0]))
    for key in ("visit_counts", "walker_center_visits", "walker_node"):
        np.testing.assert_array_equal(states[0][1][key], states[1][1][key])


@pytest.mark.parametrize("crossing, length", [
    (Crossing.lines(3), 9), (Crossing.planes_meeting_in_line(), 5),
    (Crossing.hyperplanes(3), 4), (Crossing(4, [(0, 1), (0, 2), (3,)]), 3),
])
@pytest.mark.parametrize("lazy", [0.0, 0.25])
def test_implicit_and_csr_walkers_are_bit_identical(crossing, length, lazy):
    implicit = LatticeWalk(crossing, length, lazy=lazy)
    explicit = GraphWalk(*crossing.to_csr(length), lazy=lazy, start=implicit.center)
    (sink_a, state_a), (sink_b, state_b) = (run(m, 300, 400, burn_in=30, every=7)
                                            for m in (implicit, explicit))
    np.testing.assert_array_equal(frames(sink_a), frames(sink_b))
    np.testing.assert_array_equal(sink_a.series("visit_counts"), sink_b.series("visit_counts"))
    for key in ("visit_counts", "walker_node"):
        np.testing.assert_array_equal(state_a[key], state_b[key])
    # the lattice's center is the graph's start node
    np.testing.assert_array_equal(state_a["walker_center_visits"], state_b["walker_start_visits"])
    np.testing.assert_array_equal(rng.state_words(state_a["rng"]), rng.state_words(state_b["rng"]))


# ---------------------------------------------------------------------- bookkeeping
def test_counts_cover_counted_steps_only():
    model = LatticeWalk(Crossing.lines(3), 9)
    walkers, steps = 64, 500
    sink, state = run(model, walkers, steps, burn_in=123)
    counts = state["visit_counts"]
    assert counts.sum() == walkers * steps  # burn-in moved walkers but counted nothing
    assert state["walker_center_visits"].sum() == counts[model.center]
    series = sink.series("visit_counts")
    assert series[0].sum() == 0  # step 0 is after burn-in
    np.testing.assert_array_equal(series[-1], counts)
    assert np.all(np.diff(series.sum(axis=1)) >= 0)
    assert set(state) - {"rng", "node"} == {"visit_counts", "walker_center_visits", "walker_node"}
    np.testing.assert_array_equal(state["walker_node"], state["node"])


def test_burn_in_does_not_change_trajectories_only_what_is_counted():
    model = LatticeWalk(Crossing.hyperplanes(2), 6)
    state = model.initial_state(rng.seed_states(SEED, 0, 50))
    model.advance(state, -40, 40, False)
    counts = model.accumulators(state)["visit_counts"]
    assert counts.sum() == 0 and state["walker_center_visits"].sum() == 0
    moved = state["node"].copy()
    other = model.initial_state(rng.seed_states(SEED, 0, 50))
    model.advance(other, -40, 40, True)
    np.testing.assert_array_equal(moved, other["node"])


def test_lazy_walk_stays_put_about_lazy_of_the_time():
    lazy, walkers, steps = 0.3, 200, 100
    model = LatticeWalk(Crossing.lines(2), 5, lazy=lazy)
    sink, _ = run(model, walkers, steps, every=1)
    stays = np.mean(frames(sink)[1:] == frames(sink)[:-1])
    # stays = lazy exactly (moves never return at once), binomial se ~ 1e-3: 5 sigma
    se = np.sqrt(lazy * (1 - lazy) / (walkers * steps))
    assert abs(stays - lazy) < 5 * se


# ---------------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("crossing, length", [(Crossing.lines(3), 9),
                                              (Crossing.planes_meeting_in_line(), 6)])
def test_one_and_two_threads_are_bit_identical(crossing, length):
    model = LatticeWalk(crossing, length, lazy=0.1)
    before = numba.get_num_threads()
    try:
        one = run(model, 301, 700, burn_in=20, every=100, threads=1)
        two = run(model, 301, 700, burn_in=20, every=100, threads=2)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(frames(one[0]), frames(two[0]))
    for key in ("visit_counts", "walker_center_visits", "walker_node"):
        np.testing.assert_array_equal(one[1][key], two[1][key])


def test_walker_chunks_combine_to_the_whole_run():
    model = LatticeWalk(Crossing.lines(3), 9)
    whole = run(model, 300, 400, burn_in=10)[1]
    first = run(model, 113, 400, burn_in=10)[1]
    rest = run(model, 187, 400, burn_in=10, first_walker=113)[1]
    combined = first["visit_counts"] + rest["visit_counts"]
    np.testing.assert_array_equal(whole["visit_counts"], combined)
    for key in ("walker_center_visits", "walker_node"):
        np.testing.assert_array_equal(whole[key], np.concatenate([first[key], rest[key]]))


def test_counts_do_not_depend_on_the_threads_a_state_is_advanced_with():
    """A state built with 2 parts (e.g. a checkpoint) may be resumed with 1 thread."""
    model = LatticeWalk(Crossing.hyperplanes(2), 7)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        state = model.initial_state(rng.seed_states(SEED, 0, 101))
        other = model.initial_state(rng.seed_states(SEED, 0, 101))
        assert state["visit_slices"].shape[0] == 2
        assert state["visit_slices"].shape[1] % 8 == 0
        assert state["visit_slices"].shape[1] >= model.nodes + 8  # a spare cache line
        model.advance(state, 0, 300, True)
        numba.set_num_threads(1)
        model.advance(other, 0, 100, True)
        numba.set_num_threads(2)
        model.advance(other, 100, 200, True)
    finally:
        numba.set_num_threads(before)
    mine, theirs = model.accumulators(state), model.accumulators(other)
    for key in mine:
        np.testing.assert_array_equal(mine[key], theirs[key])


# ---------------------------------------------------------------------- big lattices
def test_ten_lines_of_a_million_nodes():
    model = LatticeWalk(Crossing.lines(10), 10**6)
    assert model.nodes == 10 * (10**6 - 1) + 1
    sink, state = run(model, 64, 2000)
    assert state["visit_counts"].sum() == 64 * 2000
    assert state["node"].min() >= 0 and state["node"].max() < model.nodes
    assert sink.observed == {}  # too many nodes to record counts at every record
    assert "lattice/coords" not in model.parameter_arrays()
    # a walker 2000 steps from the center is within 2000 of it along its line
    coords = model.layout.coords(state["node"])
    distance = np.minimum(coords, 10**6 - coords).max(axis=1)
    assert distance.max() <= 2000


def test_two_planes_in_3d_with_length_1000():
    model = LatticeWalk(Crossing.planes_meeting_in_line(), 1000)
    assert model.nodes == 1000 * 1999
    _, state = run(model, 100, 2000)
    assert state["visit_counts"].sum() == 100 * 2000
    assert model.nodes > MAX_RECORDED_NODES
    assert model.nodes > MAX_STORED_COORDS  # coordinates recomputed, not stored


# ---------------------------------------------------------------------- description
def test_parameters_round_trip_and_describe_the_lattice():
    model = LatticeWalk(Crossing.planes_meeting_in_line(), 5, lazy=0.2, start=[0, 3, 1])
    rebuilt = LatticeWalk.from_parameters(model.parameters(), model.parameter_arrays())
    assert rebuilt == model
    assert model.parameters()["kind"] == "lattice"
    assert model.coords()[model.start].tolist() == [0, 3, 1]
    arrays = model.parameter_arrays()
    np.testing.assert_array_equal(arrays["lattice/coords"], model.coords())
    assert model.box() == {"dimension": 3, "boundary": "periodic", "edges": [5.0] * 3}
    assert model.frame_name == "node" and model.dt == 1.0
    np.testing.assert_array_equal(model.degrees(), model.crossing.degrees(5))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"length": 2}, ValueError, "L"),
    ({"lazy": 1.0}, ValueError, "lazy"),
    ({"lazy": -0.1}, ValueError, "lazy"),
    ({"start": 25}, ValueError, "start"),
    ({"start": -1}, ValueError, "start"),
    ({"start": [1, 1, 0]}, ValueError, "not on the crossing"),
    ({"start": [0, 1]}, ValueError, "3 integers"),
])
def test_bad_parameters_are_refused(kwargs, error, message):
    arguments = {"crossing": Crossing.lines(3), "length": 9, **kwargs}
    with pytest.raises(error, match=message):
        LatticeWalk(**arguments)


def test_a_crossing_is_required():
    with pytest.raises(TypeError, match="Crossing"):
        LatticeWalk([(1, 2), (0, 2)], 9)
