"""Tests of hypersphere initialisation and ε-perturbation (fastwalk.perturb)."""

from __future__ import annotations

import naive_perturb as naive
import numba
import numpy as np
import pytest
from scipy import stats

from fastwalk import rng
from fastwalk._jit import jit
from fastwalk.perturb import (
    INIT_STREAM,
    _perturb_kernel_serial,
    layer_fan_in,
    move_on_sphere,
    perturb,
    perturb_layers,
    sphere_init,
)


# cache=False: a cached copy would keep an old inlined move_on_sphere
@jit(cache=False)
def _ring_walk(states, x, chord, steps):
    """Apply ``move_on_sphere`` ``steps`` times to ``x`` with walker 0's stream."""
    s = states[0]
    scratch = np.empty_like(x)
    for _ in range(steps):
        move_on_sphere(s, x, chord, scratch)


def _axis(dim, sign=1.0, tilt=0.0):
    """Return ±e_D, optionally tilted by ``tilt`` towards e_0, scaled to radius 3."""
    x = np.zeros(dim)
    x[-1] = sign
    x[0] += tilt
    return 3.0 * x / np.linalg.norm(x)


@pytest.mark.parametrize("dim", [2, 3, 10, 1000])
@pytest.mark.parametrize("kind", ["+axis", "-axis", "near+axis", "near-axis", "random"])
@pytest.mark.parametrize("fraction", [1e-3, 0.5, 1.0, 1.9])
def test_move_on_sphere_keeps_radius_and_chord(dim, kind, fraction):
    if kind == "random":
        x0 = np.random.default_rng(dim).normal(size=dim)
    else:
        x0 = _axis(dim, -1.0 if "-" in kind else 1.0, 1e-9 if "near" in kind else 0.0)
    radius = np.linalg.norm(x0)
    chord = fraction * radius
    x = x0.copy()
    _ring_walk(rng.seed_states(11, 0, 1), x, chord, 1)
    assert abs(np.linalg.norm(x) / radius - 1.0) < 1e-12
    assert abs(np.linalg.norm(x - x0) / chord - 1.0) < 1e-12


@pytest.mark.parametrize("dim", [2, 3, 50])
def test_move_on_sphere_degenerate_chords_are_exact(dim):
    x0 = np.random.default_rng(dim).normal(size=dim)
    x = x0.copy()
    _ring_walk(rng.seed_states(3, 0, 1), x, 0.0, 1)
    assert np.array_equal(x, x0)
    _ring_walk(rng.seed_states(3, 0, 1), x, 2.0 * np.linalg.norm(x0), 1)
    assert np.array_equal(x, -x0)


@pytest.mark.parametrize("dim", [2, 3, 10])
def test_repeated_moves_stay_on_the_sphere(dim):
    # the sphere model's ring walk: 10^6 moves must not drift off |x| = R
    x = np.random.default_rng(dim).normal(size=dim)
    radius = np.linalg.norm(x)
    _ring_walk(rng.seed_states(5, 0, 1), x, 0.3 * radius, 10**6)
    assert abs(np.linalg.norm(x) / radius - 1.0) < 1e-12


# --------------------------------------------------------------------------
# helpers for the public API tests

RELATIVE_TOL = 1e-12
# Statistical tests: Kolmogorov–Smirnov p-value threshold. With a fixed seed
# each test is deterministic; a correct sampler gives p > 1e-5 except with
# probability 1e-5 (a ~4.4 sigma two-sided tail), and every KS test is paired
# with a check that the same samples reject a slightly wrong law at that level.
KS_ALPHA = 1e-5


def _baseline(dim, kind, radius=2.5):
    """A baseline of norm ``radius``: along ±e_D, 1e-9 off it, or random."""
    if kind == "random":
        w0 = np.random.default_rng(dim + 17).normal(size=dim)
    else:
        w0 = np.zeros(dim)
        w0[-1] = -1.0 if kind.endswith("-axis") else 1.0
        if kind.startswith("near"):
            w0[0] = 1e-9
    return radius * w0 / np.linalg.norm(w0)


def _sphere_marginal(ambient_dim):
    """Law of one coordinate of a uniform point of the unit sphere in R^n, mapped to [0, 1].

    Its density is ∝ (1 − t²)^((n−3)/2), so (t + 1)/2 ~ Beta((n−1)/2, (n−1)/2).
    """
    a = (ambient_dim - 1) / 2.0
    return stats.beta(a, a)


def _ks_pvalue(t, ambient_dim):
    return stats.kstest((np.asarray(t) + 1.0) / 2.0, _sphere_marginal(ambient_dim).cdf).pvalue


def _unit_orthogonal(w0, direction):
    """``direction`` made orthogonal to ``w0`` and normalised."""
    a = direction - (direction @ w0) / (w0 @ w0) * w0
    return a / np.linalg.norm(a)


# --------------------------------------------------------------------------
# geometry: radius and chord


@pytest.mark.parametrize("dim", [2, 3, 7, 1000, 10**6])
@pytest.mark.parametrize("kind", ["+axis", "-axis", "near+axis", "near-axis", "random"])
def test_perturb_keeps_radius_and_chord(dim, kind):
    w0 = _baseline(dim, kind)
    radius = np.linalg.norm(w0)
    fractions = [1e-3, 0.5, 1.0, 1.9] if dim < 10**6 else [1e-2, 1.3]
    m = 16 if dim < 10**6 else 2
    for fraction in fractions:
        w = perturb(w0, fraction, m=m, relative=True, seed=dim)
        assert w.shape == (m, dim)
        norms = np.linalg.norm(w, axis=1)
        chords = np.linalg.norm(w - w0, axis=1)
        assert np.max(np.abs(norms / radius - 1.0)) < RELATIVE_TOL
        assert np.max(np.abs(chords / (fraction * radius) - 1.0)) < RELATIVE_TOL


def test_perturb_absolute_epsilon_and_shapes():
    w0 = 0.1 * np.arange(1.0, 25.0).reshape(2, 3, 4)
    w = perturb(w0, 0.3, m=5, seed=2)
    assert w.shape == (5, 2, 3, 4)
    flat = w.reshape(5, -1)
    assert np.allclose(np.linalg.norm(flat - w0.ravel(), axis=1), 0.3, rtol=RELATIVE_TOL, atol=0)
    assert np.allclose(np.linalg.norm(flat, axis=1), np.linalg.norm(w0), rtol=RELATIVE_TOL, atol=0)


@pytest.mark.parametrize("dim", [2, 3, 1000])
@pytest.mark.parametrize("kind", ["+axis", "-axis", "random"])
def test_degenerate_distances_are_exact(dim, kind):
    w0 = _baseline(dim, kind)
    radius = np.linalg.norm(w0)
    assert np.array_equal(perturb(w0, 0.0, m=3, seed=1), np.broadcast_to(w0, (3, dim)))
    assert np.array_equal(perturb(w0, 2.0 * radius, m=3, seed=1), np.broadcast_to(-w0, (3, dim)))
    assert np.array_equal(perturb(w0, 2.0, m=2, relative=True, seed=1)[1], -w0)
    # a diameter a rounding error above 2|w0| is still the antipode
    assert np.array_equal(perturb(w0, 2.0 * radius * (1 + 2e-16), seed=1)[0], -w0)


@pytest.mark.parametrize("dim", [2, 3, 400])
@pytest.mark.parametrize("kind", ["-axis", "random"])
def test_perturb_sample_is_one_ring_move(dim, kind):
    # one implementation serves perturb and the sphere model's ring walk
    w0 = _baseline(dim, kind)
    samples = perturb(w0, 0.9, m=3, seed=21, first_sample=5)
    for j in range(3):
        x = w0.copy()
        _ring_walk(rng.seed_states(21, 5 + j, 1), x, 0.9, 1)
        assert np.array_equal(x, samples[j])


# --------------------------------------------------------------------------
# the pure-NumPy reference fed the same normals


@pytest.mark.parametrize("dim", [2, 3, 5, 20, 1000])
@pytest.mark.parametrize("kind", ["+axis", "-axis", "near-axis", "random"])
def test_agrees_with_numpy_reference(dim, kind):
    w0 = _baseline(dim, kind)
    radius = np.linalg.norm(w0)
    seed, first, m = 99, 7, 12
    normals = rng.draws(rng.seed_states(seed, first, m), dim - 1, "normal")
    for fraction in (0.05, 1.0, 1.7):
        fast = perturb(w0, fraction * radius, m=m, seed=seed, first_sample=first)
        reference = naive.perturb_loop(w0, fraction * radius, normals, explicit_matrix=dim <= 20)
        assert np.max(np.abs(fast - reference)) < 1e-13 * radius


def test_reference_householder_matrix_is_the_stable_reflection():
    # for w0 against e_D the original notebook's c = n + ŵ0 vanishes; the signed one does not
    for kind in ("+axis", "-axis", "near-axis", "random"):
        w0 = _baseline(6, kind)
        h = naive.householder_matrix(w0)
        assert np.allclose(h @ h.T, np.eye(6), atol=1e-14)
        sign = 1.0 if w0[-1] >= 0 else -1.0
        assert np.allclose(h[:, -1], -sign * w0 / np.linalg.norm(w0), atol=1e-14)


# --------------------------------------------------------------------------
# uniformity


@pytest.mark.parametrize("dim", [3, 4, 10, 50])
@pytest.mark.parametrize("kind", ["random", "-axis", "near+axis"])
def test_uniform_on_the_intersection_sphere(dim, kind):
    """The ring direction u, projected on a fixed unit a ⊥ w0, has the (D−2)-sphere's marginal."""
    w0 = _baseline(dim, kind)
    radius = np.linalg.norm(w0)
    epsilon = 0.8 * radius
    cos_phi = 1.0 - epsilon**2 / (2.0 * radius**2)
    sin_phi = np.sqrt(1.0 - cos_phi**2)
    w = perturb(w0, epsilon, m=20_000, seed=1000 + dim)
    u = (w - cos_phi * w0) / (radius * sin_phi)
    assert np.allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-12)
    assert np.max(np.abs(u @ w0)) < 1e-12 * radius
    # u lives on the unit sphere of the (D−1)-dimensional space w0^⊥
    directions = [np.ones(dim), np.eye(dim)[-1] if kind == "random" else np.eye(dim)[0]]
    for direction in directions:
        t = u @ _unit_orthogonal(w0, direction)
        assert _ks_pvalue(t, dim - 1) > KS_ALPHA
        if dim <= 10:  # the test has the power to see a neighbouring dimension's law
            assert _ks_pvalue(t, dim + 1) < KS_ALPHA


def test_uniform_on_the_two_point_ring_in_the_plane():
    # D = 2: the "ring" is two points, each with probability 1/2
    w0 = np.array([0.6, -0.8])
    w = perturb(w0, 0.5, m=40_000, seed=8)
    side = np.sign(w @ np.array([0.8, 0.6]))
    plus = np.mean(side > 0)
    assert abs(plus - 0.5) < 4.5 * np.sqrt(0.25 / side.size)  # 4.5 sigma binomial


@pytest.mark.parametrize("dim", [3, 10])
@pytest.mark.parametrize("fraction", [0.5, np.sqrt(2.0)])
def test_uniform_baseline_gives_uniform_samples(dim, fraction):
    """w0 from sphere_init (uniform) perturbed once each: w/|w| is uniform too."""
    count = 4000
    w = np.empty((count, dim))
    for i in range(count):
        w0 = sphere_init(dim, gain="linear", fan_in=dim, seed=i)
        w[i] = perturb(w0, fraction, relative=True, seed=i)[0]
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    for coordinate in (0, dim - 1):
        assert _ks_pvalue(unit[:, coordinate], dim) > KS_ALPHA
        # a law of 1.5 times the dimension (variance off by a third) is rejected
        assert _ks_pvalue(unit[:, coordinate], dim + dim // 2 + 1) < KS_ALPHA


# --------------------------------------------------------------------------
# reproducibility


def test_thread_count_does_not_change_samples():
    w0 = _baseline(500, "random")
    m = 256  # m × D above the size where samples run in parallel
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = perturb(w0, 0.7, m=m, seed=5)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = perturb(w0, 0.7, m=m, seed=5)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one, two)
    # the single-thread kernel used for small batches gives the same bits
    serial = np.empty_like(one)
    _perturb_kernel_serial(rng.seed_states(5, 0, m), w0, 0.7, serial)
    assert np.array_equal(one, serial)


def test_sample_splits_are_bit_identical():
    w0 = _baseline(300, "-axis")
    whole = perturb(w0, 1.1, m=10, seed=123)
    parts = [perturb(w0, 1.1, m=4, seed=123), perturb(w0, 1.1, m=6, seed=123, first_sample=4)]
    assert np.array_equal(whole, np.concatenate(parts))
    assert np.array_equal(whole[7], perturb(w0, 1.1, seed=123, first_sample=7)[0])


def test_seed_is_returned_and_reproduces():
    w0 = _baseline(40, "random")
    first, seed = perturb(w0, 0.2, m=3, return_seed=True)
    assert 0 <= seed < 2**128
    assert np.array_equal(first, perturb(w0, 0.2, m=3, seed=seed))
    _, other_seed = perturb(w0, 0.2, return_seed=True)
    assert other_seed != seed
    assert not np.array_equal(perturb(w0, 0.2, seed=1), perturb(w0, 0.2, seed=2))


# --------------------------------------------------------------------------
# per-layer perturbation


def test_perturb_layers_is_perturb_per_layer():
    layers = [sphere_init((16, 8), seed=1), sphere_init((4, 16, 3, 3), seed=2), np.ones(7)]
    for epsilon in (0.3, [0.1, 0.5, 1.9]):
        out = perturb_layers(layers, epsilon, relative=True, seed=77)
        epsilons = np.broadcast_to(epsilon, (3,))
        for k, (layer, new) in enumerate(zip(layers, out, strict=True)):
            assert new.shape == layer.shape
            expected = perturb(layer, epsilons[k], relative=True, seed=77, first_sample=k)[0]
            assert np.array_equal(new, expected)
            radius = np.linalg.norm(layer)
            assert abs(np.linalg.norm(new - layer) / (epsilons[k] * radius) - 1) < RELATIVE_TOL
            assert abs(np.linalg.norm(new) / radius - 1) < RELATIVE_TOL
    absolute = perturb_layers(layers, [0.1, 0.2, 0.3], seed=4)
    for layer, new, eps in zip(layers, absolute, [0.1, 0.2, 0.3], strict=True):
        assert abs(np.linalg.norm(new - layer) / eps - 1) < RELATIVE_TOL
    out, seed = perturb_layers(layers, 0.1, return_seed=True)
    assert np.array_equal(out[2], perturb_layers(layers, 0.1, seed=seed)[2])


def test_perturb_layers_rejects_bad_input_naming_the_layer():
    layers = [np.ones((3, 3)), np.zeros(4)]
    with pytest.raises(ValueError, match=r"layers\[1\]"):
        perturb_layers(layers, 0.1)
    with pytest.raises(ValueError, match=r"epsilon\[0\]"):
        perturb_layers([np.ones(3), np.ones(3)], [-0.1, 0.1])
    with pytest.raises(ValueError, match="one per layer"):
        perturb_layers([np.ones(3), np.ones(3)], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="at least one"):
        perturb_layers([], 0.1)
    with pytest.raises(TypeError, match="list of arrays"):
        perturb_layers(np.ones((2, 3)), 0.1)


# --------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"epsilon": -0.1}, ValueError, "epsilon must be >= 0"),
        ({"epsilon": 6.0 + 1e-9}, ValueError, "diameter"),
        ({"epsilon": 2.1, "relative": True}, ValueError, "must be <= 2"),
        ({"epsilon": float("nan")}, ValueError, "finite"),
        ({"epsilon": float("inf")}, ValueError, "finite"),
        ({"epsilon": "0.1"}, TypeError, "real number"),
        ({"m": 0}, ValueError, "m must be >= 1"),
        ({"m": 1.5}, TypeError, "m must be an integer"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 0.5}, TypeError, "seed"),
        ({"first_sample": -2}, ValueError, "first_sample"),
        ({"w0": np.zeros(5)}, ValueError, "all zeros"),
        ({"w0": np.array([1.0, np.nan])}, ValueError, "finite"),
        ({"w0": np.array([1.0, np.inf])}, ValueError, "finite"),
        ({"w0": np.array([3.0])}, ValueError, "at least 2 entries"),
        ({"w0": np.array([1e300, 1e300])}, ValueError, "overflows"),
        ({"w0": np.array([1e200, 1.0])}, ValueError, "overflows"),
        ({"w0": np.array([1e-200, 0.0])}, ValueError, "underflows"),
        ({"w0": ["a", "b"]}, TypeError, "numeric"),
    ],
)
def test_perturb_rejects_bad_input(kwargs, error, pattern):
    arguments = {"w0": np.array([3.0, 0.0, 0.0]), "epsilon": 1.0} | kwargs
    with pytest.raises(error, match=pattern):
        perturb(**arguments)


# --------------------------------------------------------------------------
# thin-shell initialisation


@pytest.mark.parametrize(
    ("shape", "fan", "gain", "gain_value"),
    [
        ((256, 784), 784, "relu", np.sqrt(2.0)),
        ((8, 3, 5, 5), 75, "linear", 1.0),
        ((10, 20), 20, "tanh", 5.0 / 3.0),
        ((6, 4, 3), 12, 0.7, 0.7),
    ],
)
def test_sphere_init_radius_and_fan_in_convention(shape, fan, gain, gain_value):
    assert layer_fan_in(shape) == fan
    w = sphere_init(shape, gain=gain, seed=3)
    assert w.shape == shape
    size = int(np.prod(shape))
    expected = np.sqrt(size) * gain_value / np.sqrt(fan)
    assert abs(np.linalg.norm(w) / expected - 1.0) < RELATIVE_TOL
    override = sphere_init(shape, gain=gain, seed=3, fan_in=5)
    assert abs(np.linalg.norm(override) / (np.sqrt(size) * gain_value / np.sqrt(5)) - 1) < 1e-12


def test_sphere_init_agrees_with_normalised_stream():
    w, seed = sphere_init((7, 9), seed=31, return_seed=True)
    assert seed == 31
    normals = rng.draws(rng.seed_states(31, INIT_STREAM, 1), 63, "normal")[0]
    reference = naive.thin_shell(normals, np.sqrt(63 * 2.0 / 9)).reshape(7, 9)
    assert np.max(np.abs(w - reference)) < 1e-14
    # perturbation samples use streams 0, 1, ...: the same seed shares no numbers
    stream0 = rng.draws(rng.seed_states(31, 0, 1), 63, "normal")[0]
    assert not np.allclose(normals, stream0)
    again, fresh = sphere_init((7, 9), return_seed=True)
    assert np.array_equal(again, sphere_init((7, 9), seed=fresh))
    assert fresh != sphere_init((7, 9), return_seed=True)[1]


def test_sphere_init_is_uniform_on_its_sphere():
    count, shape = 5000, (3, 4)
    samples = np.array([sphere_init(shape, gain="linear", seed=s).ravel() for s in range(count)])
    radius = np.sqrt(12 / 4)
    assert np.allclose(np.linalg.norm(samples, axis=1), radius, rtol=RELATIVE_TOL, atol=0)
    for coordinate in (0, 11):
        assert _ks_pvalue(samples[:, coordinate] / radius, 12) > KS_ALPHA
        assert _ks_pvalue(samples[:, coordinate] / radius, 16) < KS_ALPHA


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"shape": (5,)}, ValueError, "fan_in="),
        ({"shape": ()}, ValueError, "at least one entry"),
        ({"shape": (0, 3)}, ValueError, r"shape\[0\]"),
        ({"shape": (2.5, 3)}, TypeError, r"shape\[0\]"),
        ({"shape": "ab"}, TypeError, r"shape\[0\]"),
        ({"gain": "sigmoid"}, ValueError, "gain must be one of"),
        ({"gain": -1.0}, ValueError, "gain must be > 0"),
        ({"gain": True}, TypeError, "gain"),
        ({"fan_in": 0}, ValueError, "fan_in must be >= 1"),
        ({"seed": 2**128}, ValueError, "seed"),
    ],
)
def test_sphere_init_rejects_bad_input(kwargs, error, pattern):
    arguments = {"shape": (4, 3)} | kwargs
    with pytest.raises(error, match=pattern):
        sphere_init(**arguments)
