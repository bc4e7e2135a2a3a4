"""Tests of Brownian motion on S^n (fastwalk.models.sphere).

Statistical tests use fixed seeds and a 4σ tolerance built from the standard
error of the sample they compute; each also checks that a slightly wrong law
(a 5% change of rate, or the law of another walk) would be rejected.
"""

from __future__ import annotations

import math

import naive_sphere as naive
import numba
import numpy as np
import pytest

from fastwalk import rng
from fastwalk.analysis.decay import stationary_mean_chord, step_cos_factor
from fastwalk.engine import MemorySink, Simulation
from fastwalk.errors import SimulationError
from fastwalk.models.lineage import MAX_TABLE, lineage_distribution
from fastwalk.models.sphere import SphereBrownian, default_chord

SIGMAS = 4.0


def _one_step(model, walkers, seed, steps=1):
    state = model.initial_state(rng.seed_states(seed, 0, walkers))
    model.advance(state, 0, steps, True)
    return state


def _cos_theta(model, state):
    start = state["start"] if "start" in state else np.eye(1, model.dim + 1) * model.radius
    return np.sum(state["position"] * start, axis=1) / model.radius**2


def _mean_and_sem(values):
    return values.mean(), values.std(ddof=1) / math.sqrt(values.size)


# ----------------------------------------------------------------------------- exact


@pytest.mark.parametrize("dim, walkers", [(1, 200_000), (2, 200_000), (10, 100_000),
                                          (1000, 20_000), (10_000, 4000)])
@pytest.mark.parametrize("rate_dt", [1.0, 0.01])
def test_exact_single_large_step_matches_brownian_law(dim, walkers, rate_dt):
    radius, diffusion = 1.7, 0.3
    dt = rate_dt * radius**2 / (dim * diffusion)
    model = SphereBrownian(dim, radius, diffusion, dt, method="exact")
    cos_theta = _cos_theta(model, _one_step(model, walkers, seed=11 + dim))
    mean, sem = _mean_and_sem(cos_theta)
    assert abs(mean - math.exp(-rate_dt)) < SIGMAS * sem
    # the whole law, not only its mean: the degree-2 Gegenbauer moment
    # E[((n+1)cos²θ − 1)/n] = exp(−2(n+1) D t/R²) (eigenvalue 2(n+1) of −Δ on S^n)
    gegenbauer = ((dim + 1) * cos_theta**2 - 1.0) / dim
    g_mean, g_sem = _mean_and_sem(gegenbauer)
    assert abs(g_mean - math.exp(-2.0 * (dim + 1) * diffusion * dt / radius**2)) < SIGMAS * g_sem
    # power: a law with a 5% larger rate is rejected by this sample
    assert abs(mean - math.exp(-1.05 * rate_dt)) > SIGMAS * sem


def test_exact_uniform_start_and_many_steps():
    model = SphereBrownian(3, 2.0, 0.5, 0.4, method="exact", start="uniform")
    state = _one_step(model, 100_000, seed=5, steps=3)
    mean, sem = _mean_and_sem(_cos_theta(model, state))
    assert abs(mean - math.exp(-3 * 3 * 0.5 * 0.4 / 4.0)) < SIGMAS * sem


def test_lineage_table_matches_alternating_series():
    # where the series is well conditioned (largest term < 1e3) it is a reference
    for theta, rate_dt in [(2, 1.0), (10, 1.0), (2, 0.3), (5, 0.5)]:
        tau = 2.0 * rate_dt / theta
        first, cdf = lineage_distribution(theta, tau)
        reference = naive.lineage_cdf_series(theta, tau, first + cdf.size - 1)
        assert np.max(np.abs(reference[first:] - cdf)) < 1e-12
        assert first == 0 or reference[first - 1] < 1e-12


@pytest.mark.parametrize("theta, rate_dt", [(2, 0.01), (1000, 1.0), (1000, 0.01),
                                            (10_000, 0.01), (3, 40.0)])
def test_lineage_table_satisfies_exact_moment_identities(theta, rate_dt):
    # E[A/(A+n)] = e^{−nτ/2} and the Gegenbauer-2 moment of the Beta mixture are
    # exact; at 10^5–10^6 lineages the alternating series is useless (terms ~1e180)
    # and a normal approximation misses them by far more than 1e-12.
    tau = 2.0 * rate_dt / theta
    first, cdf = lineage_distribution(theta, tau)
    assert cdf[0] < 1e-12 or first == 0
    assert np.all(np.diff(cdf) >= 0.0) and cdf[-1] == 1.0
    counts = first + np.arange(cdf.size)
    pmf = np.diff(cdf, prepend=0.0)
    half = theta / 2
    beta_mean = half / (theta + counts)
    beta_square = half * (half + 1) / ((theta + counts) * (theta + counts + 1))
    gegenbauer = ((theta + 1) * (1 - 4 * beta_mean + 4 * beta_square) - 1) / theta
    assert abs(np.dot(pmf, counts / (counts + theta)) - math.exp(-rate_dt)) < 1e-12
    assert abs(np.dot(pmf, gegenbauer) - math.exp(-(theta + 1) * tau)) < 1e-12


def test_lineage_table_size_is_capped():
    with pytest.raises(ValueError, match="geodesic"):
        lineage_distribution(2, 1e-12)
    assert MAX_TABLE >= 1_000_000


# -------------------------------------------------------------------------- geodesic


def test_geodesic_bias_shrinks_with_dt_and_follows_its_own_law():
    dim, radius, diffusion, total_rate_t = 10, 1.0, 0.1, 1.0
    walkers = 100_000
    biases, sems = [], []
    for steps in (4, 8, 16):
        dt = total_rate_t * radius**2 / (dim * diffusion) / steps
        model = SphereBrownian(dim, radius, diffusion, dt, method="geodesic")
        mean, sem = _mean_and_sem(_cos_theta(model, _one_step(model, walkers, 3, steps)))
        # its own exact law: factor^k, factor = E[cos(sqrt(τ) χ_n)]
        own = step_cos_factor("geodesic", dim, radius, diffusion, dt) ** steps
        assert abs(mean - own) < SIGMAS * sem
        biases.append(mean - math.exp(-total_rate_t))
        sems.append(sem)
        # the exact method at the same dt has no bias
        exact = SphereBrownian(dim, radius, diffusion, dt, method="exact")
        e_mean, e_sem = _mean_and_sem(_cos_theta(exact, _one_step(exact, walkers, 4, steps)))
        assert abs(e_mean - math.exp(-total_rate_t)) < SIGMAS * e_sem
    for bias, sem in zip(biases, sems, strict=True):
        assert abs(bias) > SIGMAS * sem  # above the sampling floor
    for coarse, fine, s1, s2 in zip(biases, biases[1:], sems, sems[1:], strict=False):
        assert abs(coarse) - abs(fine) > SIGMAS * math.hypot(s1, s2)
        assert coarse / fine > 1.4 and coarse / fine < 2.8  # first order in dt: halving dt halves it


def test_geodesic_matches_numpy_reference_fed_the_same_normals():
    dim, radius, diffusion, dt, steps, walkers = 7, 2.5, 0.4, 0.05, 25, 40
    model = SphereBrownian(dim, radius, diffusion, dt, method="geodesic", start="uniform")
    states = rng.seed_states(99, 0, walkers)
    normals = rng.draws(states.copy(), (dim + 1) * (steps + 1), "normal")
    state = model.initial_state(states)
    start = naive.uniform_start(normals[:, : dim + 1], radius)
    np.testing.assert_allclose(state["start"], start, rtol=0, atol=1e-13 * radius)
    model.advance(state, 0, steps, True)
    expected = naive.geodesic_walk(start, normals[:, dim + 1:], model.tau, radius, steps)
    np.testing.assert_allclose(state["position"], expected, rtol=0, atol=1e-12 * radius)


# ------------------------------------------------------------------------------ ring


def test_ring_follows_its_exact_law():
    # one ring step from x: E[x'] = x cos φ, cos φ = 1 − δ²/(2R²), hence
    # ⟨cos θ⟩_k = (1 − δ²/(2R²))^k exactly
    dim, radius, chord = 5, 1.5, 0.6
    model = SphereBrownian(dim, radius, 0.2, 0.1, method="ring", chord=chord)
    cos_phi = 1.0 - chord**2 / (2 * radius**2)
    for steps in (2, 5, 10):
        mean, sem = _mean_and_sem(_cos_theta(model, _one_step(model, 100_000, 8, steps)))
        assert abs(mean - cos_phi**steps) < SIGMAS * sem
        # a tempting wrong law, exp(−kδ²/(2R²)), is rejected at k = 10
        if steps == 10:
            assert abs(mean - math.exp(-steps * chord**2 / (2 * radius**2))) > SIGMAS * sem


def test_ring_default_chord_gives_the_brownian_step_factor():
    dim, radius, diffusion, dt = 4, 2.0, 0.3, 0.2
    model = SphereBrownian(dim, radius, diffusion, dt, method="ring")
    delta = model.step_chord
    assert delta == pytest.approx(default_chord(dim, radius, diffusion, dt), rel=1e-15)
    target = math.exp(-dim * diffusion * dt / radius**2)
    cos_phi = 1.0 - delta**2 / (2 * radius**2)
    assert cos_phi == pytest.approx(target, rel=1e-14)
    mean, sem = _mean_and_sem(_cos_theta(model, _one_step(model, 100_000, 9, 6)))
    assert abs(mean - target**6) < SIGMAS * sem
    # every step moves exactly δ
    state = _one_step(model, 10, 1, 1)
    np.testing.assert_allclose(np.linalg.norm(state["position"] - [radius, 0, 0, 0, 0],
                                              axis=1), delta, rtol=1e-13)


# ------------------------------------------------------------------------ invariants


@pytest.mark.parametrize("method", ["geodesic", "exact", "ring"])
def test_norms_stay_on_the_sphere_over_a_million_steps(method):
    radius = 3.7
    model = SphereBrownian(3, radius, 0.05, 0.2, method=method)
    state = _one_step(model, 2, 21, steps=1_000_000)
    norms = np.linalg.norm(state["position"], axis=1)
    assert np.max(np.abs(norms - radius)) < 1e-12 * radius


@pytest.mark.parametrize("method, dim", [("geodesic", 6), ("exact", 6), ("exact", 1),
                                         ("ring", 6)])
def test_reproducible_across_threads_chunks_and_call_splits(method, dim):
    model = SphereBrownian(dim, 1.3, 0.2, 0.05, method=method, start="uniform")
    walkers, seed = 301, 17
    threads = numba.get_num_threads()
    results = []
    try:
        for count in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(count)
            results.append(_one_step(model, walkers, seed, steps=12)["position"])
    finally:
        numba.set_num_threads(threads)
    chunks = []
    for first, count in ((0, 150), (150, walkers - 150)):
        state = model.initial_state(rng.seed_states(seed, first, count))
        model.advance(state, 0, 5, True)  # and 12 steps as 5 + 7
        model.advance(state, 5, 7, True)
        chunks.append(state["position"])
    assert np.array_equal(results[0], results[1])
    assert np.array_equal(results[0], np.concatenate(chunks))


def test_observables_and_stationary_chord():
    dim, radius = 2, 1.5
    # exact: one huge step reaches the uniform law (n D t/R² = 30)
    model = SphereBrownian(dim, radius, 1.0, 30 * radius**2 / dim, method="exact",
                           start="uniform")
    walkers = 200_000
    state = model.initial_state(rng.seed_states(2, 0, walkers))
    at_start = model.summarize(model.observe(state), walkers)
    assert at_start["mean_cos_theta"] == 1.0 and at_start["rms_chord"] == 0.0
    model.advance(state, 0, 1, True)
    sums = model.observe(state)
    values = model.summarize(sums, walkers)
    # ⟨z²⟩ = 2R²(1 − ⟨cos θ⟩) holds to rounding
    assert values["rms_chord"] ** 2 == pytest.approx(
        2 * radius**2 * (1 - values["mean_cos_theta"]), rel=1e-12)
    expected = stationary_mean_chord(dim, radius)  # 4R/3 on S²
    assert expected == pytest.approx(4 * radius / 3, rel=1e-14)
    assert abs(values["mean_chord"] - expected) < SIGMAS * values["sem_chord"]
    assert abs(values["rms_chord"] - math.sqrt(2) * radius) < SIGMAS * values["sem_rms_chord"]
    assert abs(values["mean_cos_theta"]) < SIGMAS * values["sem_cos_theta"]
    # the sums are additive over walker subsets
    half = {k: v[: walkers // 2] for k, v in state.items()}
    rest = {k: v[walkers // 2:] for k, v in state.items()}
    combined = {k: model.observe(half)[k] + model.observe(rest)[k] for k in sums}
    for key in sums:  # exact sums: the halves add to the same bits
        assert combined[key].value() == sums[key].value()


def test_engine_run_records_frames_and_observables():
    model = SphereBrownian(4, 1.0, 0.1, 0.1, method="geodesic")
    sink = MemorySink()
    Simulation(model, 50, 20, seed=3, every=5, observe_every=2, sinks=[sink],
               handle_signals=False).run()
    assert sink.frame_steps == [0, 5, 10, 15, 20]
    assert all(frame.shape == (50, 5) for frame in sink.frames)
    assert np.array_equal(sink.frames[0][:, 0], np.ones(50))
    for name in ("mean_cos_theta", "sem_cos_theta", "mean_chord", "rms_chord"):
        assert sink.series(name).shape == (11,)
    assert sink.series("mean_cos_theta")[0] == 1.0


def test_parameters_round_trip():
    for model in (SphereBrownian(3, 2.0, 0.1, 0.01, method="ring"),
                  SphereBrownian(3, 2.0, 0.1, 0.01, method="ring", chord=0.5, start="uniform"),
                  SphereBrownian(1, 1.0, 0.0, 0.01, method="exact")):
        rebuilt = SphereBrownian.from_parameters(model.parameters(), model.parameter_arrays())
        assert rebuilt == model
        assert model.parameters()["kind"] == "sphere"
        assert model.box() == {"dimension": model.dim + 1, "boundary": "none", "edges": None}


def test_zero_diffusion_keeps_walkers_still():
    for method in ("geodesic", "exact", "ring"):
        model = SphereBrownian(3, 1.0, 0.0, 0.1, method=method)
        state = _one_step(model, 5, 1, steps=10)
        assert np.array_equal(state["position"], np.tile([1.0, 0, 0, 0], (5, 1)))


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs, error, text", [
    ({"dim": 0}, ValueError, "dim"),
    ({"dim": 2.5}, TypeError, "dim"),
    ({"radius": 0.0}, ValueError, "radius"),
    ({"radius": -1.0}, ValueError, "radius"),
    ({"diffusion": -0.1}, ValueError, "diffusion"),
    ({"dt": 0.0}, ValueError, "dt"),
    ({"dt": float("nan")}, ValueError, "dt"),
    ({"method": "euler"}, ValueError, "method"),
    ({"start": "north"}, ValueError, "start"),
    ({"method": "ring", "chord": 0.0}, ValueError, "chord"),
    ({"method": "ring", "chord": 2.0001}, ValueError, "chord"),
    ({"method": "geodesic", "chord": 0.1}, ValueError, "ring"),
    ({"method": "ring", "chord": "big"}, TypeError, "chord"),
])
def test_bad_input_is_refused_before_running(kwargs, error, text):
    arguments = {"dim": 2, "radius": 1.0, "diffusion": 0.1, "dt": 0.01, **kwargs}
    with pytest.raises(error, match=text):
        SphereBrownian(**arguments)


@pytest.mark.parametrize("method", ["geodesic", "exact", "ring"])
def test_non_finite_position_names_the_step(method):
    model = SphereBrownian(3, 1.0, 0.1, 0.01, method=method)
    state = model.initial_state(rng.seed_states(1, 0, 4))
    state["position"][2, 1] = np.nan
    with pytest.raises(SimulationError, match="step 42"):
        model.advance(state, 41, 3, True)
