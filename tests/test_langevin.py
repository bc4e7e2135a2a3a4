"""The langevin model: safe expressions, EM and MALA against references, invariants, CLI."""

from __future__ import annotations

import math

import naive_langevin
import numba
import numpy as np
import pytest

from fastwalk import rng
from fastwalk.engine import MemorySink, Simulation
from fastwalk.errors import SimulationError
from fastwalk.expression import Expression, numpy_function, parse
from fastwalk.models.base import trusting_imports
from fastwalk.models.langevin import LangevinBrownian

# one expression for most tests, so that numba compiles (or loads) one module
QUARTIC = "x0**2 * x1**4 + a*(x0 - 0.2)**2"
PARAMS = {"a": 0.5}


def make(**overrides):
    options = dict(box=2.0, temperature=0.3, dt=0.01, method="em")
    options.update(overrides)
    return LangevinBrownian(QUARTIC, 2, PARAMS, **options)


def advance(model, walkers, steps, seed=7, first=0):
    state = model.initial_state(rng.seed_states(seed, first, walkers))
    model.advance(state, 0, steps, True)
    return state


# ---------------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, message", [
    ("x0 +", "does not parse"),
    ("", "empty"),
    ("x2", "unknown symbol 'x2'"),
    ("y", "unknown symbol 'y'.*--param y=VALUE"),
    ("__import__('os').system('true')", "attribute access not allowed"),
    ("__import__('os')", "unknown function '__import__'"),
    ("__builtins__", "unknown symbol '__builtins__'"),
    ("x0.real", "attribute access not allowed"),
    ("().__class__", "attribute access not allowed"),
    ("x0[0]", "subscripts not allowed"),
    ("'a'", "only numbers"),
    ("lambda: 1", "lambda not allowed"),
    ("sin(x0, x1)", r"sin\(\) takes one argument"),
    ("exp(x=1)", "no keyword"),
    ("x0 if x1 else 0", "if/else not allowed"),
    ("x0 // 2", "operator FloorDiv is not allowed"),
    ("x0 < 1", "comparisons not allowed"),
    ("10**10**10", "not a finite real number"),
    ("sin", "is a function"),
    ("x0/0", "divides by the number zero"),
    ("(" * 300 + "x0" + ")" * 300, "does not parse|nested"),
])
def test_refused_expressions_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse(text, 2, {})


def test_parse_builds_the_expression_with_constants_substituted():
    import sympy

    expr = parse("a*Min((x0-b)**2, (x1-b)**2) + sqrt(2)*Abs(x1) + pi", 2, {"a": 2, "b": 0.5})
    x0, x1 = sympy.symbols("x0 x1", real=True)
    want = 2 * sympy.Min((x0 - 0.5) ** 2, (x1 - 0.5) ** 2) + sympy.sqrt(2) * sympy.Abs(x1) + sympy.pi
    assert sympy.simplify(expr - want) == 0


def test_constants_the_text_does_not_use_are_listed():  # the CLI refuses them: a typo, often
    assert Expression("a*x0**2", 1, {"a": 1.0, "b": 2.0, "c": 3.0}).unused_params == ["b", "c"]
    assert Expression("a*x0**2", 1, {"a": 1.0}).unused_params == []


@pytest.mark.parametrize("params, message", [
    ({"x0": 1.0}, "reserved"), ({"sin": 1.0}, "reserved"), ({"a b": 1.0}, "not a plain name"),
    ({"a": float("inf")}, "not finite"), ({"a": "1"}, "must be a number"),
])
def test_bad_constants_are_refused(params, message):
    with pytest.raises((ValueError, TypeError), match=message):
        parse("x0", 1, params)


def test_compiled_energy_and_gradient_match_sympy():
    expr = Expression(QUARTIC, 2, PARAMS)
    points = np.random.default_rng(3).uniform(-1, 1, size=(50, 2))
    gradient = [numpy_function(g, expr.variables) for g in expr.gradient_sympy]
    for p in points:
        g = np.empty(2)
        u = expr.energy_gradient(p, g)
        want_u = p[0] ** 2 * p[1] ** 4 + 0.5 * (p[0] - 0.2) ** 2
        np.testing.assert_allclose([u, expr.energy(p)], want_u, rtol=1e-14)
        want_g = [2 * p[0] * p[1] ** 4 + (p[0] - 0.2), 4 * p[0] ** 2 * p[1] ** 3]
        np.testing.assert_allclose(g, want_g, rtol=1e-13, atol=1e-15)
        expr.gradient(p, g)
        np.testing.assert_allclose(g, [f(*p) for f in gradient], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(expr.energy_numpy(points.reshape(5, 10, 2)).ravel(),
                               [expr.energy(p) for p in points], rtol=1e-14)


# ---------------------------------------------------------------------- dynamics
@pytest.mark.parametrize("method, boundary, gamma", [
    ("em", "reflect", 0.0), ("em", "periodic", 0.0), ("mala", "reflect", 0.0),
    ("mala", "none", 4.0), ("mala", "periodic", 0.0),  # γ = 4 at T = 0.5: U_s gains |x - x*|²
])
def test_walkers_follow_the_reference(method, boundary, gamma):
    model = make(method=method, boundary=boundary, temperature=0.5, dt=0.05, start="uniform",
                 localize=gamma, at=[0.3, -0.2] if gamma else None, box=1.6, center=[0.1, 0.0])
    expr = model.expression
    grads = [numpy_function(g, expr.variables) for g in expr.gradient_sympy]
    start = model.initial_state(rng.seed_states(11, 0, 6))["position"].copy()
    state = advance(model, 6, 40, seed=11)
    for w in range(6):
        x, total, accepted = naive_langevin.walk(
            lambda p: expr.energy_numpy(p), lambda p: [f(*p) for f in grads], start[w], 11, w, 40,
            method=method, boundary=boundary, lo=model.lower, side=model.box_side, dt=model.dt,
            temperature=model.temperature, gamma=gamma, anchor=model.at, skip=2)
        np.testing.assert_allclose(state["position"][w], x, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(state["walker_energy_sum"][w], total, rtol=1e-9)
        assert state["walker_accepted"][w] == accepted
    assert np.all(state["walker_energy_count"] == 40)
    if method == "mala":
        assert 0 < state["walker_accepted"].sum() < 6 * 40


def test_reflected_and_wrapped_walkers_stay_in_the_box():
    for boundary in ("reflect", "periodic"):
        model = make(boundary=boundary, temperature=50.0, dt=0.01, start="uniform")
        state = advance(model, 200, 30)
        x = state["position"]
        assert np.all((x >= model.lower) & (x <= model.lower + model.box_side))
        assert state["marginals"].sum() == 2 * 200 * 30
        assert state["histogram_2d"].sum() == 200 * 30


def test_same_result_for_any_thread_count_and_walker_split():
    model = make(method="mala", start="uniform", dt=0.05)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = advance(model, 301, 30)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        parallel = advance(model, 301, 30)
        chunks = [advance(model, 150, 30, first=0), advance(model, 151, 30, first=150)]
    finally:
        numba.set_num_threads(previous)
    joined = {key: (np.concatenate if key.startswith(("walker_", "position")) else sum)(
        [c[key] for c in chunks]) for key in ("position", "walker_energy_sum", "walker_energy_count",
                                             "walker_accepted", "histogram_2d", "marginals")}
    for other in (parallel, joined):
        for key in joined:
            np.testing.assert_array_equal(serial[key], other[key], err_msg=key)


def test_multi_step_calls_equal_single_steps():
    model = make(method="mala", start="uniform", dt=0.05)
    once = advance(model, 20, 12)
    state = model.initial_state(rng.seed_states(7, 0, 20))
    for step in range(12):
        model.advance(state, step, 1, True)
    for key in ("position", "walker_energy_sum", "walker_accepted", "marginals"):
        np.testing.assert_array_equal(once[key], state[key])


WALKER_KEYS = ("position", "walker_energy_sum", "walker_energy_count", "walker_accepted")


@pytest.mark.parametrize("method, boundary, gamma", [
    ("em", "reflect", 0.0), ("em", "none", 2.0), ("mala", "periodic", 0.0), ("mala", "reflect", 2.0),
])
def test_a_walker_moves_alike_in_any_lane_of_any_tile(method, boundary, gamma):
    # 130 walkers fill two tiles of rng.LANES lanes and part of a third; a walker alone fills one
    model = make(method=method, boundary=boundary, localize=gamma, at=[0.3, -0.2] if gamma else None,
                 start="uniform", dt=0.05 if method == "mala" else 0.01)
    together = advance(model, 130, 25)
    for w in (0, 63, 64, 127, 129):
        alone = advance(model, 1, 25, first=w)
        for key in WALKER_KEYS:
            np.testing.assert_array_equal(alone[key][0], together[key][w], err_msg=f"{key}, walker {w}")


def test_padded_tiles_give_every_walker_the_same_numbers():
    # with Intel's SVML numba vectorises math functions, so every tile then computes all
    # rng.LANES lanes (FULL_TILES); the padding lanes must leave the real ones untouched
    import importlib.util

    from fastwalk.models import _langevin_kernels

    model = LangevinBrownian(_stiff_energy, 2, gradient=_stiff_gradient, box=2.0, temperature=0.5,
                             dt=0.05, method="mala", start="uniform")
    plain = advance(model, 70, 20)
    spec = importlib.util.spec_from_file_location("fastwalk._langevin_full_tiles",
                                                  _langevin_kernels.__file__)
    padded = importlib.util.module_from_spec(spec)
    padded.CACHE, padded.DIM, padded.FULL_TILES = False, 2, True
    spec.loader.exec_module(padded)
    padded.energy, padded.gradient = _stiff_energy, _stiff_gradient
    model._kernels = padded
    again = advance(model, 70, 20)
    for key in WALKER_KEYS + ("histogram_2d", "marginals"):
        np.testing.assert_array_equal(plain[key], again[key], err_msg=key)


def test_marginals_are_the_histograms_sums_in_a_box_and_counted_alone_without_one():
    for boundary in ("reflect", "periodic"):
        state = advance(make(boundary=boundary, start="uniform"), 50, 20)
        np.testing.assert_array_equal(state["marginals"][0], state["histogram_2d"].sum(axis=1))
        np.testing.assert_array_equal(state["marginals"][1], state["histogram_2d"].sum(axis=0))
    # unbounded: a coordinate is counted while inside the box, a pair only when both are
    state = advance(make(boundary="none", temperature=2.0, localize=2.0, start="uniform"), 50, 40)
    pairs = state["histogram_2d"].sum()
    assert state["marginals"][0].sum() > pairs and state["marginals"][1].sum() > pairs
    assert state["marginals"].sum(axis=1).max() < 50 * 40


def test_localizing_term_is_sampled_but_not_recorded():
    # the prior exp(-γ/2·|x - x*|²) with γ = 800 is the energy term T·γ/2 = 20·|x - x*|² at T = 0.05
    model = make(localize=800.0, at=[0.5, 0.5], temperature=0.05, dt=0.005)
    sink = MemorySink()
    Simulation(model, 400, 600, seed=3, sinks=[sink], progress=False, burn_in=200).run()
    state = sink.state if hasattr(sink, "state") else None
    del state
    mean = sink.series("mean_energy")[-1]
    # walkers sit near x* = (0.5, 0.5), where U = 0.25*0.0625 + 0.5*0.09 = 0.06; U_s adds ~T
    assert abs(mean - 0.06) < 0.03


@pytest.mark.parametrize("method", ["em", "mala"])
@pytest.mark.parametrize("walker", [4, 100])  # in the first tile, or in the last (partial) one
def test_non_finite_state_names_the_step(method, walker):
    model = make(method=method)
    state = advance(model, 130, 3)
    state["position"][walker, 0] = np.nan
    with pytest.raises(SimulationError, match="non-finite at step 11"):
        model.advance(state, 10, 5, True)


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("overrides, message", [
    (dict(temperature=0.0), "temperature must be > 0"),
    (dict(temperature=-1.0), "temperature must be > 0"),
    (dict(box=0.0), "box must be > 0"),
    (dict(dt=0.0), "dt must be > 0"),
    (dict(dt=0.5), "too large for Euler–Maruyama.*--method mala"),
    (dict(method="rk4"), "method must be one of em, mala"),
    (dict(boundary="open"), "boundary must be one of"),
    (dict(center=[0.0, 1.0, 2.0]), "center has 3 values but dim = 2"),
    (dict(start=[5.0, 0.0]), "outside the box"),
    (dict(localize=-1.0), "localize"),
    (dict(localize=1.0, at=[0.0, 0.0, 0.0]), "at has 3 values but dim = 2"),
    (dict(localize=1.0, at=[5.0, 0.0]), r"at \(x\*\) coordinate 0 = 5 lies outside the box"),
    (dict(dt="fast"), "dt must be a number > 0 or 'auto', got 'fast'"),
    (dict(dt=-1.0), "dt must be > 0"),
])
def test_bad_input_is_refused_with_a_clear_message(overrides, message):
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_large_dt_is_fine_for_mala():
    assert make(dt=0.5, method="mala").dt == 0.5


def test_non_finite_start_is_refused():
    with pytest.raises(ValueError, match="not finite at the start point"):
        LangevinBrownian("log(x0)", 1, box=2.0, temperature=1.0, dt=1e-3)


def test_parameters_round_trip():
    model = make(method="mala", localize=1.0, at=[0.1, 0.2], start=[0.3, 0.4], boundary="periodic")
    again = LangevinBrownian.from_parameters(model.parameters(), {})
    assert again == model


@numba.njit
def _harmonic_energy(x):
    return x[0] * x[0]


@numba.njit
def _harmonic_gradient(x, out):
    out[0] = 2.0 * x[0]


def test_a_jitted_pair_runs_and_is_rebuilt_from_its_import_path():
    model = LangevinBrownian(_harmonic_energy, 1, gradient=_harmonic_gradient, box=2.0,
                             temperature=0.5, dt=0.01)
    params = model.parameters()
    assert params["energy"] == "test_langevin:_harmonic_energy"
    typed = LangevinBrownian("x0**2", 1, box=2.0, temperature=0.5, dt=0.01)
    a, b = advance(model, 10, 20), advance(typed, 10, 20)
    np.testing.assert_allclose(a["position"], b["position"], rtol=1e-12)
    with pytest.raises(ValueError, match="never imports code that a file names"):
        LangevinBrownian.from_parameters(params, {})
    with trusting_imports():
        assert LangevinBrownian.from_parameters(params, {}).parameters() == params


@numba.njit
def _stiff_energy(x):
    return x[0] ** 2 + 50.0 * x[1] ** 4


@numba.njit
def _stiff_gradient(x, out):
    out[0] = 2.0 * x[0]
    out[1] = 200.0 * x[1] ** 3


def test_a_jitted_pair_too_stiff_for_euler_maruyama_is_refused_like_an_expression():
    # curvature of 50·x1⁴ is 600·x1², 600 at the box's edge: EM is unstable for dt >= 1/300
    typed = LangevinBrownian("x0**2 + 50*x1**4", 2, box=2.0, temperature=0.5, dt=1e-3)
    pair = LangevinBrownian(_stiff_energy, 2, gradient=_stiff_gradient, box=2.0, temperature=0.5,
                            dt=1e-3)
    (exact, at), (differenced, where) = typed.max_curvature(), pair.max_curvature()
    np.testing.assert_array_equal(at, where)
    assert differenced == pytest.approx(exact, rel=1e-6)
    for potential, gradient in (("x0**2 + 50*x1**4", None), (_stiff_energy, _stiff_gradient)):
        with pytest.raises(ValueError, match="too large for Euler–Maruyama.*--method mala"):
            LangevinBrownian(potential, 2, gradient=gradient, box=2.0, temperature=0.5, dt=0.01)
        LangevinBrownian(potential, 2, gradient=gradient, box=2.0, temperature=0.5, dt=0.01,
                         method="mala")


@numba.njit
def _box_only_energy(x):
    if abs(x[0]) > 1.0 or abs(x[1]) > 1.0:
        raise ValueError("outside the box")
    return x[0] ** 2 + x[1] ** 2


@numba.njit
def _box_only_gradient(x, out):
    if abs(x[0]) > 1.0 or abs(x[1]) > 1.0:
        raise ValueError("outside the box")
    out[0], out[1] = 2.0 * x[0], 2.0 * x[1]


def test_a_pair_is_never_called_at_a_proposal_refused_outside_a_reflecting_box():
    model = LangevinBrownian(_box_only_energy, 2, gradient=_box_only_gradient, box=2.0,
                             temperature=1.0, dt=0.5, method="mala", start="uniform")
    state = advance(model, 100, 30)  # large steps: many proposals leave the box
    assert 0 < state["walker_accepted"].sum() < 100 * 30
    assert np.all(np.abs(state["position"]) <= 1.0)


def test_pickles_as_its_parameters_for_other_processes():
    import pickle

    model = make(method="mala", localize=1.0)
    advance(model, 2, 1)  # its compiled module is loaded, and must not be pickled
    again = pickle.loads(pickle.dumps(model))
    assert again == model
    np.testing.assert_array_equal(advance(again, 5, 10)["position"], advance(model, 5, 10)["position"])


def test_a_pair_that_cannot_be_imported_cannot_be_rebuilt():
    params = make().parameters()
    params.update(potential=None, energy=None, gradient=None)
    with pytest.raises(ValueError, match="cannot be rebuilt"):
        LangevinBrownian.from_parameters(params, {})


# ---------------------------------------------------------------------- exactness
def _exact_mean_energy(temperature, nodes=801):
    """<U> of exp(-U/T) on [-1, 1]^2 for QUARTIC by the trapezoidal rule (error ~1e-7)."""
    grid = np.linspace(-1.0, 1.0, nodes)
    weight = np.full(nodes, 2.0 / (nodes - 1))
    weight[[0, -1]] *= 0.5
    energy = Expression(QUARTIC, 2, PARAMS).energy_numpy(
        np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1))
    density = np.exp(-energy / temperature) * np.outer(weight, weight)
    return float((energy * density).sum() / density.sum())


def _time_averaged_energy(method, dt, temperature=0.3, walkers=2000, steps=1000):
    """Mean over walkers of each walker's time-averaged U, and its walker-to-walker error."""
    model = make(method=method, dt=dt, temperature=temperature, start="uniform")
    state = model.initial_state(rng.seed_states(1, 0, walkers))
    model.advance(state, -200, 200, False)  # ~20 relaxation times at dt = 0.1
    model.advance(state, 0, steps, True)
    averages = state["walker_energy_sum"] / state["walker_energy_count"]
    return averages.mean(), averages.std(ddof=1) / math.sqrt(walkers)


@pytest.mark.slow
def test_mala_is_exact_where_euler_maruyama_is_biased_and_em_bias_is_linear_in_dt():
    exact = _exact_mean_energy(0.3)
    mala, mala_se = _time_averaged_energy("mala", 0.1)
    em, em_se = _time_averaged_energy("em", 0.1)
    em_half, em_half_se = _time_averaged_energy("em", 0.05)
    assert abs(mala - exact) < 4 * mala_se, (mala, exact, mala_se)
    assert em - exact > 10 * em_se, (em, exact, em_se)  # visibly biased at the same dt
    # O(dt): halving dt halves the bias, up to the ratio's standard error (~0.14 here, from the
    # two walker-to-walker errors); an O(dt^2) or O(sqrt(dt)) bias gives 4 or 1.41
    bias, bias_half = em - exact, em_half - exact
    ratio = bias / bias_half
    ratio_se = ratio * math.hypot(em_se / bias, em_half_se / bias_half)
    assert abs(ratio - 2.0) < 3 * ratio_se < 0.5, (ratio, ratio_se)


def test_min_potential_typed_as_an_expression_follows_the_potential_model():
    # the seed's valleys a·min((x0-b)², (x1-b)²) on the periodic box [0, 1): the same normals
    # drive both models, so the walkers agree to rounding (the forces are computed in another
    # order), and hence so do their stationary laws
    from fastwalk.crossing import Crossing
    from fastwalk.models.potential import PotentialBrownian

    typed = LangevinBrownian("a*Min((x0-b)**2, (x1-b)**2)", 2, {"a": 1.0, "b": 0.5}, box=1.0,
                             center=0.5, boundary="periodic", temperature=0.05, dt=1e-3,
                             start="uniform", bins=16)
    seed = PotentialBrownian(Crossing.lines(2), a=1.0, center=0.5, box=1.0, temperature=0.05,
                             dt=1e-3, start="uniform", bins=16)
    ours, theirs = advance(typed, 200, 3000, seed=4), advance(seed, 200, 3000, seed=4)
    np.testing.assert_allclose(ours["position"], theirs["position"], atol=1e-9)
    # a handful of the 600 000 counts may sit within rounding of a bin edge
    assert np.abs(ours["histogram_2d"] - theirs["histogram_2d"]).sum() <= 10
    np.testing.assert_allclose(typed.energy(ours["position"]), seed.energy(theirs["position"]),
                               atol=1e-9)
