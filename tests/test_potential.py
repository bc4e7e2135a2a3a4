"""Tests of the potential model: reference trajectories, closed-form laws, invariants, errors."""

from __future__ import annotations

import json
import math

import numba
import numpy as np
import pytest
from naive_potential import energy as reference_energy
from naive_potential import run as reference_run

from fastwalk import rng
from fastwalk.crossing import Crossing
from fastwalk.engine import MemorySink, Simulation
from fastwalk.errors import SimulationError
from fastwalk.models import model_class
from fastwalk.models import potential as potential_module
from fastwalk.models.potential import PotentialBrownian, stable_dt_bound

ONE_VALLEY = Crossing(2, [(0,)])  # x0 harmonic (an Ornstein–Uhlenbeck process), x1 free


def make(crossing=None, **overrides):
    settings = dict(a=1.0, center=2.0, box=4.0, temperature=0.5, dt=0.05, bins=16)
    settings.update(overrides)
    return PotentialBrownian(Crossing.lines(2) if crossing is None else crossing, **settings)


def advance(model, walkers, steps, seed=1, first=0, accumulate=True, burn_in=0):
    state = model.initial_state(rng.seed_states(seed, first, walkers))
    if burn_in:
        model.advance(state, -burn_in, burn_in, False)
    model.advance(state, 0, steps, accumulate)
    return state


# ---------------------------------------------------------------------- reference
REFERENCE_CASES = [
    (Crossing.lines(2), 0.0, "center"),
    (Crossing.lines(2), 0.3, "uniform"),
    (Crossing(2, [(0,), (1,)]), 0.0, "uniform"),
    (ONE_VALLEY, 0.0, "uniform"),
    (Crossing(2, [(1,)]), 0.2, "uniform"),
    (Crossing.hyperplanes(3), 0.0, "uniform"),
    (Crossing.lines(3), 0.2, "uniform"),
    (Crossing(4, [(0, 1), (2, 3), (1,)]), 0.0, "uniform"),
    (Crossing.lines(10), 0.1, "uniform"),
]


@pytest.mark.parametrize("crossing, confine, start", REFERENCE_CASES)
def test_trajectory_matches_numpy_reference(crossing, confine, start):
    # a small box and a large noise make walkers wrap and switch valleys often
    center = np.linspace(0.3, 1.9, crossing.dim)
    model = PotentialBrownian(crossing, a=1.5, center=center, box=2.0, temperature=1.0,
                              dt=0.1, confine=confine, start=start, bins=8)
    walkers, steps = 300, 40
    state = model.initial_state(rng.seed_states(11, 0, walkers))
    start_positions = state["position"].copy()
    streams = rng.seed_states(11, 0, walkers)
    if start == "uniform":  # the start consumed D uniforms from each stream
        rng.draws(streams, crossing.dim, "uniform")
    normals = rng.draws(streams, steps * crossing.dim).reshape(walkers, steps, crossing.dim)
    trajectory, histogram, marginals = reference_run(
        start_positions, normals, crossing.pins, model.center, 2.0, 1.5, confine, 0.1, 1.0, 8
    )
    for i in range(steps):
        model.advance(state, i, 1, True)
        np.testing.assert_allclose(state["position"], trajectory[i], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(state["histogram_2d"], histogram)
    np.testing.assert_array_equal(state["marginals"], marginals)
    half = state["half"] == 1
    _, half_histogram, _ = reference_run(
        start_positions[half], normals[half], crossing.pins, model.center, 2.0, 1.5, confine, 0.1,
        1.0, 8,
    )
    np.testing.assert_array_equal(state["histogram_2d_half"], half_histogram)
    expected_energy = reference_energy(state["position"], crossing.pins, model.center, 2.0, 1.5,
                                       confine)
    np.testing.assert_allclose(model.energy(state["position"]), expected_energy, rtol=1e-12)


@pytest.mark.parametrize("walkers", [1, 130])
def test_lane_kernel_matches_reference_with_moves_longer_than_the_box(walkers):
    # noise √(2T·dt) = 4.5 boxes: most steps leave the box by more than a side and go
    # through the kernel's far-wrap path; many steps in one call, tiles cut mid-block
    model = make(temperature=100.0, dt=0.1, box=2.0, center=[0.5, 1.5], bins=8, start="uniform")
    state = model.initial_state(rng.seed_states(5, 0, walkers))
    start_positions = state["position"].copy()
    streams = rng.seed_states(5, 0, walkers)
    rng.draws(streams, 2, "uniform")
    steps = 50
    normals = rng.draws(streams, steps * 2).reshape(walkers, steps, 2)
    trajectory, histogram, _ = reference_run(start_positions, normals, model.crossing.pins,
                                             model.center, 2.0, 1.0, 0.0, 0.1, 100.0, 8)
    model.advance(state, 0, steps, True)
    np.testing.assert_allclose(state["position"], trajectory[-1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(state["histogram_2d"], histogram)
    np.testing.assert_array_equal(rng.state_words(state["rng"]), rng.state_words(streams))


def test_multi_step_calls_equal_single_steps():
    model = make(Crossing.lines(3), center=[0.5, 1.0, 3.9], temperature=2.0, dt=0.1)
    one = advance(model, 101, 30)
    other = model.initial_state(rng.seed_states(1, 0, 101))
    for i in range(30):
        model.advance(other, i, 1, True)
    np.testing.assert_array_equal(one["position"], other["position"])
    np.testing.assert_array_equal(one["histogram_2d"], other["histogram_2d"])


# ---------------------------------------------------------------------- tie rule
@pytest.mark.parametrize(
    "crossing, moved",
    [
        (Crossing.lines(2), 1),  # valley 0 pins x1
        (Crossing(2, [(0,), (1,)]), 0),  # valley 0 pins x0
        (Crossing.hyperplanes(3), 0),
        (Crossing(3, [(2,), (1,), (0,)]), 2),
    ],
)
def test_ties_go_to_the_lowest_valley(crossing, moved):
    # at T = 0 a step is pure drift: only the winning valley's pinned coordinate moves
    model = PotentialBrownian(crossing, a=1.0, center=2.0, box=4.0, temperature=0.0, dt=0.1)
    state = model.initial_state(rng.seed_states(0, 0, 1))
    state["position"][:] = 2.5  # d_j = 0.5 for every j: every valley ties
    model.advance(state, 0, 1, False)
    expected = np.full(crossing.dim, 2.5)
    expected[moved] = 2.5 - 0.1 * 2.0 * 0.5
    np.testing.assert_array_equal(state["position"][0], expected)


# ---------------------------------------------------------------------- closed-form laws
def stationary_variance_sample(model, walkers, steps, seed):
    """Variance of x0 − b0 over independent walkers after ``steps`` steps from the center."""
    state = advance(model, walkers, steps, seed=seed, accumulate=False)
    d = state["position"][:, 0] - model.center[0]
    variance = d.var()
    # standard error of a sample variance: sqrt((m4 - var^2) / n)
    se = math.sqrt(((d - d.mean()) ** 4).mean() - variance**2) / math.sqrt(walkers)
    return variance, se


def test_euler_maruyama_stationary_variance():
    a, temperature, dt = 1.0, 0.5, 0.2
    model = make(ONE_VALLEY, a=a, temperature=temperature, dt=dt, box=20.0, center=10.0)
    # from the center, var_n = var_inf (1 - (1 - 2a dt)^(2n)); 0.6^120 is negligible
    variance, se = stationary_variance_sample(model, 200_000, 60, seed=3)
    exact_chain = 2 * temperature * dt / (1 - (1 - 2 * a * dt) ** 2)  # 0.3125
    continuum = temperature / (2 * a)  # 0.25: 25% away, about 40 standard errors
    assert abs(variance - exact_chain) < 5 * se
    assert abs(variance - continuum) > 20 * se  # the chain's own law, not the continuum's


@pytest.mark.parametrize("crossing", [Crossing(1, [(0,)]), Crossing(2, [(0, 1)]),
                                      Crossing(3, [(0, 1, 2), (0,)])])
def test_a_subspace_pinning_every_coordinate_is_the_regular_quadratic_minimum(crossing):
    # D = 1 is the Ornstein–Uhlenbeck chain; every coordinate is an OU chain of its own in the
    # isolated minimum, whose Euler–Maruyama variance is exact (see the test above)
    a, temperature, dt = 1.0, 0.5, 0.2
    model = make(crossing, a=a, temperature=temperature, dt=dt, box=20.0, center=10.0)
    if crossing.count == 1:
        variance, se = stationary_variance_sample(model, 40_000, 60, seed=5)
        assert abs(variance - 2 * temperature * dt / (1 - (1 - 2 * a * dt) ** 2)) < 5 * se
    state = advance(model, 50, 20, seed=2)
    assert state["marginals"].sum() == 50 * 20 * crossing.dim
    energy = model.energy(state["position"])
    if crossing.count == 1:
        np.testing.assert_allclose(energy, a * ((state["position"] - 10.0) ** 2).sum(axis=1))


def test_continuum_stationary_variance_at_small_dt():
    a, temperature, dt = 1.0, 0.5, 0.002
    model = make(ONE_VALLEY, a=a, temperature=temperature, dt=dt, box=20.0, center=10.0)
    # t = 5: the transient (1 - 2a dt)^(2n) = e^-20 is negligible; the chain's O(a dt) = 0.2%
    # bias is below one standard error (~0.6%) of 50 000 independent walkers
    variance, se = stationary_variance_sample(model, 50_000, 2500, seed=4)
    assert abs(variance - temperature / (2 * a)) < 5 * se
    assert abs(variance - 1.05 * temperature / (2 * a)) > 5 * se  # a 5% error would show


def test_mean_energy_through_the_engine():
    a, temperature, dt = 1.0, 0.5, 0.2
    model = make(ONE_VALLEY, a=a, temperature=temperature, dt=dt, box=20.0, center=10.0)
    sink = MemorySink()
    walkers = 100_000
    Simulation(model, walkers, 10, seed=5, burn_in=60, observe_every=5, every=5,
               sinks=[sink], progress=False).run()
    mean, sem = sink.series("mean_energy"), sink.series("sem_energy")
    expected = a * temperature / (2 * a * (1 - a * dt))  # a · (chain variance)
    assert mean.shape == (3,) and sem.shape == (3,)
    assert np.all(np.abs(mean - expected) < 5 * sem)
    # U = a d² with d ~ N(0, v): sd(U) = sqrt(2) a v, so the standard error is known
    np.testing.assert_allclose(sem, math.sqrt(2) * expected / math.sqrt(walkers), rtol=0.05)
    assert sink.frame_steps == [0, 5, 10]
    assert all(np.all((f >= 0) & (f < 20.0)) for f in sink.frames)


def test_uniform_start_is_uniform_in_the_box():
    model = make(start="uniform", box=3.0)
    state = model.initial_state(rng.seed_states(9, 0, 100_000))
    x = state["position"]
    assert np.all((x >= 0) & (x < 3.0))
    # mean 1.5 and variance 0.75 of U(0, 3); 5 standard errors
    assert np.all(np.abs(x.mean(axis=0) - 1.5) < 5 * math.sqrt(0.75 / 1e5))
    assert np.all(np.abs(x.var(axis=0) - 0.75) < 5 * math.sqrt(0.45 / 1e5))


# ---------------------------------------------------------------------- accumulators
def test_accumulators_count_every_step_after_burn_in():
    model = make(Crossing.hyperplanes(3), center=[1.0, 2.0, 3.0])
    state = advance(model, 257, 13, burn_in=7)
    counts = model.accumulators(state)
    assert counts["histogram_2d"].sum() == 257 * 13
    np.testing.assert_array_equal(counts["marginals"].sum(axis=1), [257 * 13] * 3)
    np.testing.assert_array_equal(counts["marginals"][0], counts["histogram_2d"].sum(axis=1))
    np.testing.assert_array_equal(counts["marginals"][1], counts["histogram_2d"].sum(axis=0))
    halves = state["half"]
    assert set(np.unique(halves)) == {0, 1}
    assert counts["histogram_2d_half"].sum() == 13 * halves.sum()
    not_counted = advance(model, 257, 0, burn_in=20)
    assert not_counted["histogram_2d"].sum() == 0


def test_observe_sums_are_additive():
    model = make(Crossing.lines(3), center=1.0, start="uniform")
    state = advance(model, 500, 5)
    whole = model.observe(state)
    halves = [model.observe({"position": state["position"][s]})
              for s in (slice(0, 200), slice(200, 500))]
    for key in whole:  # exact sums: the halves add to the same bits
        assert whole[key].value() == (halves[0][key] + halves[1][key]).value()


@pytest.mark.parametrize("crossing", [Crossing.lines(2), Crossing(2, [(1,)]), Crossing.lines(3)])
@pytest.mark.parametrize("walkers", [1, 7, 501])
def test_observed_sums_are_those_of_the_reference_energies(crossing, walkers):
    model = make(crossing, center=1.0, start="uniform", confine=0.3)
    state = advance(model, walkers, 5)
    energy = reference_energy(state["position"], crossing.pins, model.center, 4.0, 1.0, 0.3)
    sums = model.observe(state)
    np.testing.assert_allclose(sums["energy_sum"].value(), energy.sum(), rtol=1e-12)
    np.testing.assert_allclose(sums["energy_sq_sum"].value(), (energy**2).sum(), rtol=1e-12)


# ---------------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("crossing", [Crossing.lines(2), Crossing.lines(4)])
def test_same_result_for_any_thread_count_and_chunking(crossing):
    model = make(crossing, center=1.5, temperature=1.0, start="uniform")
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = advance(model, 999, 40)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        parallel = advance(model, 999, 40)
        chunks = [advance(model, 499, 40, first=0), advance(model, 500, 40, first=499)]
    finally:
        numba.set_num_threads(previous)
    for other in (parallel, {
        "position": np.concatenate([c["position"] for c in chunks]),
        "histogram_2d": sum(c["histogram_2d"] for c in chunks),
        "histogram_2d_half": sum(c["histogram_2d_half"] for c in chunks),
        "marginals": sum(c["marginals"] for c in chunks),
    }):
        np.testing.assert_array_equal(serial["position"], other["position"])
        for key in ("histogram_2d", "histogram_2d_half", "marginals"):
            np.testing.assert_array_equal(serial[key], other[key])


def test_with_svml_a_confined_2d_run_takes_the_general_kernel_and_the_same_numbers(monkeypatch):
    # Intel's SVML would vectorise the confining force's sin in some lanes of the 2-D kernel
    # only; the general kernel computes it alike for every walker, with the same arithmetic
    lanes = make(confine=0.3)
    monkeypatch.setattr(numba.config, "USING_SVML", True)
    general = make(confine=0.3)
    assert lanes._lanes_2d and not general._lanes_2d
    assert make(confine=0.0)._lanes_2d  # no sin: nothing to guard
    a, b = advance(lanes, 150, 40), advance(general, 150, 40)
    for key in ("position", "rng", "histogram_2d", "histogram_2d_half", "marginals"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("crossing", [Crossing.lines(2), Crossing.lines(3)])
def test_non_finite_position_names_the_step(crossing):
    model = make(crossing)
    state = advance(model, 50, 3)
    state["position"][17, 1] = np.nan
    with pytest.raises(SimulationError, match="non-finite at step 11"):
        model.advance(state, 10, 5, True)


@pytest.mark.parametrize("dim", [2, 3])
def test_kernel_reports_an_overflowing_step(dim):
    # the validator refuses this (dt >= 1/a); called directly, the force overflows to inf
    positions = np.full((8, dim), 1.0)
    states = rng.seed_states(0, 0, 8)
    histogram = np.zeros((1, 2, 4, 4), dtype=np.int64)
    halves = np.zeros(8, dtype=np.int64)
    center = np.full(dim, 2.0)
    if dim == 2:
        weights = potential_module._weights_2d(Crossing(2, [(0,), (1,)]))
        bad = potential_module._advance_2d(positions, states, halves, 5, weights, center, 4.0,
                                           1e308, None, 1e10, 0.1, 1, True, histogram)
    else:
        crossing = Crossing.hyperplanes(dim)
        mask = crossing.pinned_mask()
        bad = potential_module._advance_nd(
            positions, states, halves, 5, np.arange(dim + 1), np.arange(dim), mask, center, 4.0,
            1e308, None, 1e10, 0.1, 1, True, histogram, np.zeros((1, dim, 4), dtype=np.int64),
        )
    assert bad == 0
    assert histogram.sum() == 0  # nothing non-finite was binned


def test_non_finite_run_stops_with_error_through_engine():
    model = make()
    sink = MemorySink()
    simulation = Simulation(model, 10, 5, seed=1, every=1, sinks=[sink], progress=False)
    simulation.restore(0, model.initial_state(rng.seed_states(1, 0, 10)))
    simulation.state["position"][3, 0] = np.inf  # restore refuses a non-finite state
    with pytest.raises(SimulationError, match="step 1"):
        simulation.run()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(dt=0.0), "dt must be > 0"),
        (dict(dt=-0.1), "dt must be > 0"),
        (dict(temperature=-1.0), "temperature must be >= 0"),
        (dict(a=0.0), "a .valley strength. must be > 0"),
        (dict(box=0.0), "box .side of the periodic box. must be > 0"),
        (dict(center=4.0), "outside the box"),
        (dict(center=-0.5), "outside the box"),
        (dict(center=[1.0, 2.0, 3.0]), "crossing has D = 2"),
        (dict(center=[1.0, float("nan")]), "center must be finite"),
        (dict(dt=1.0), r"unstable .* use dt < 1/a = 1"),
        (dict(dt=0.6, a=2.0), r"use dt < 1/a = 0.5"),
        (dict(dt=0.5, confine=1.0), r"use dt < 1/\(a \+ confine\) = 0.5"),
        (dict(confine=-1.0), "confine must be >= 0"),
        (dict(start="edge"), "start must be one of center, uniform"),
        (dict(bins=0), "bins must be >= 1"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(overrides, message):
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_crossing_must_be_a_crossing():
    with pytest.raises(TypeError, match="Crossing"):
        PotentialBrownian([(0,)], a=1.0, center=1.0, box=2.0, temperature=1.0, dt=0.1)


def test_stable_bound():
    assert stable_dt_bound(2.0) == 0.5
    assert stable_dt_bound(1.0, 1.0) == 0.5
    make(dt=0.999)  # just inside the bound is accepted


# ---------------------------------------------------------------------- description
def test_parameters_round_trip():
    model = make(Crossing.planes_meeting_in_line(), center=[1.0, 2.0, 3.0], confine=0.25,
                 start="uniform", bins=8)
    parameters = json.loads(json.dumps(model.parameters()))
    assert parameters["kind"] == "potential"
    rebuilt = model_class("potential").from_parameters(parameters, model.parameter_arrays())
    assert rebuilt == model
    assert model.box() == {"dimension": 3, "boundary": "periodic", "edges": [4.0] * 3}
    np.testing.assert_allclose(model.bin_edges(), np.linspace(0, 4.0, 9))
