"""Tests of fastwalk.rng: pinned output, reproducibility, distributions, seeds.

Statistical checks use a fixed seed and a two-sided 5-sigma level: a z-score
must stay below 5, and a p-value (KS, chi-square) above ``ALPHA`` = 2·Φ(−5)
≈ 5.7e-7. Each check is paired with a deliberately broken sample that the same
check rejects, so none of them can pass whatever the generator does.
"""

from __future__ import annotations

import math

import naive_rng
import numba
import numpy as np
import pytest
from scipy import stats

from fastwalk import rng
from fastwalk._jit import jit

SEED = 20240613
ALPHA = 2 * stats.norm.sf(5.0)  # two-sided 5 sigma
Z_MAX = 5.0
N_DRAWS = 1_000_000

# seeds for the pins: small, large, above 2**64 (the high word used) and the extremes
PIN_SEEDS = [0, 42, 2**64 + 12345, 0xC0FFEE << 90, 2**128 - 1]
PIN_WALKERS = [0, 1, 7, 1000]


# cache=False: numba's cache would not notice an edit of rng's inlined draws
@jit(cache=False)
def _raw_words(states, count):
    out = np.empty((states.shape[0], count), dtype=np.uint64)
    for w in range(states.shape[0]):
        s = states[w]
        for j in range(count):
            out[w, j] = rng.next_u64(s)
    return out


@jit(cache=False)
def _exponentials(states, count):
    out = np.empty((states.shape[0], count))
    for w in range(states.shape[0]):
        s = states[w]
        for j in range(count):
            out[w, j] = rng.exponential(s)
    return out


def _states_for(seed, walkers):
    """States of an arbitrary list of walker indices (one seed_states call each)."""
    return np.concatenate([rng.seed_states(seed, w, 1) for w in walkers])


def _z(sample_mean, expected, variance, n):
    """z-score of a sample mean whose summands have the given variance."""
    return abs(sample_mean - expected) / math.sqrt(variance / n)


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


# --------------------------------------------------------------------------- pins


@pytest.mark.parametrize("seed", PIN_SEEDS + [1, 2**64 - 1, 2**64])
def test_seeding_matches_naive(seed):
    walkers = [0, 1, 2, 999, 2**40 + 3, 2**63, 2**64 - 1]
    words = rng.state_words(_states_for(seed, walkers))
    expected = [naive_rng.walker_state(seed, w) for w in walkers]
    assert words.tolist() == expected


def test_contiguous_seeding_matches_naive():
    first = 2**53 - 2  # crosses 2**53: indices must not pass through float64
    words = rng.state_words(rng.seed_states(SEED, first, 5))
    assert words.tolist() == [naive_rng.walker_state(SEED, first + i) for i in range(5)]
    assert len({tuple(row) for row in words.tolist()}) == 5


@pytest.mark.parametrize("seed", PIN_SEEDS)
def test_raw_output_pinned(seed):
    states = _states_for(seed, PIN_WALKERS)
    words = _raw_words(states, 2000)
    for row, walker in zip(words, PIN_WALKERS, strict=True):
        assert row.tolist() == naive_rng.stream(seed, walker, 2000, "u64")
    # the states were advanced in place, exactly as the reference's
    after = [naive_rng.Xoshiro256pp.for_walker(seed, w) for w in PIN_WALKERS]
    for generator in after:
        for _ in range(2000):
            generator.next_u64()
    assert rng.state_words(states).tolist() == [g.s for g in after]


def test_uniform_pinned():
    for seed in PIN_SEEDS[:3]:
        got = rng.draws(_states_for(seed, PIN_WALKERS), 1000, "uniform")
        for row, walker in zip(got, PIN_WALKERS, strict=True):
            assert row.tolist() == naive_rng.stream(seed, walker, 1000, "uniform")


def test_exponential_pinned():
    got = _exponentials(_states_for(SEED, PIN_WALKERS), 500)
    for row, walker in zip(got, PIN_WALKERS, strict=True):
        assert row.tolist() == naive_rng.stream(SEED, walker, 500, "exponential")


# Lemire branch (m <= 2**32): 2**31 + 1 rejects almost half the products; mask branch above,
# where 2**32 + 1 rejects almost half the masked words.
INTEGER_BOUNDS = [1, 2, 3, 6, 7, 1000, 2**31 + 1, 2**32 - 1, 2**32, 2**32 + 1,
                  3 * 2**40 + 5, 2**62, 2**63 - 1]


@pytest.mark.parametrize("bound", INTEGER_BOUNDS)
def test_integer_pinned(bound):
    seed = PIN_SEEDS[2]
    states = _states_for(seed, PIN_WALKERS)
    got = rng.draws(states, 1000, "integer", bound=bound)
    for row, walker in zip(got, PIN_WALKERS, strict=True):
        assert row.tolist() == naive_rng.stream(seed, walker, 1000, "integer", bound)
    # same number of words consumed (rejections included)
    reference = [naive_rng.Xoshiro256pp.for_walker(seed, w) for w in PIN_WALKERS]
    for generator in reference:
        for _ in range(1000):
            generator.integer(bound)
    assert rng.state_words(states).tolist() == [g.s for g in reference]


def test_normal_pinned_exactly():
    walkers = list(range(6)) + [10**6]
    seed = PIN_SEEDS[2]
    states = _states_for(seed, walkers)
    got = rng.draws(states, 6000, "normal")
    words_used = 0
    tail_draws = 0
    for row, walker in zip(got, walkers, strict=True):
        reference = naive_rng.Xoshiro256pp.for_walker(seed, walker)
        counter = _CountingGenerator(reference)
        expected = [counter.normal() for _ in range(6000)]
        np.testing.assert_array_equal(row, expected)
        words_used += counter.words
        tail_draws += int(np.sum(np.abs(row) > naive_rng.ZIGGURAT_R))
    # the sample exercised the slow paths: wedge tests (extra words) and the tail
    assert words_used > 1.005 * got.size
    assert tail_draws >= 3
    np.testing.assert_array_equal(
        rng.state_words(states),
        [_advanced(seed, w, "normal", 6000) for w in walkers],
    )


class _CountingGenerator:
    """Wrap the reference generator and count the 64-bit words it uses."""

    def __init__(self, generator):
        self.generator = generator
        self.words = 0
        original = generator.next_u64

        def counted():
            self.words += 1
            return original()

        generator.next_u64 = counted

    def normal(self):
        return self.generator.normal()


def _advanced(seed, walker, kind, count):
    generator = naive_rng.Xoshiro256pp.for_walker(seed, walker)
    draw = getattr(generator, kind)
    for _ in range(count):
        draw()
    return generator.s


def test_ziggurat_tables_match_independent_construction():
    table = naive_rng.ziggurat()
    assert rng._ZIG_R == table.r
    np.testing.assert_array_equal(rng._ZIG_WIDTH, table.scaled_width)
    np.testing.assert_array_equal(rng._ZIG_ACCEPT, table.accept)
    np.testing.assert_array_equal(rng._ZIG_F, table.f)


def test_ziggurat_layers_have_equal_area():
    table = naive_rng.ziggurat()
    x, f = np.array(table.x), np.array(table.f)
    areas = x[:-1] * (f[1:] - f[:-1])  # layers 1..255, the top one closed by x_255 = 0
    np.testing.assert_allclose(areas, table.area, rtol=1e-11)
    exact_tail = math.sqrt(math.pi / 2) * math.erfc(table.r / math.sqrt(2))
    assert table.area == pytest.approx(table.r * f[0] + exact_tail, rel=1e-15)


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("kind, bound", [("uniform", 2), ("normal", 2), ("integer", 7),
                                         ("integer", 2**40 + 1)])
def test_draws_identical_with_one_and_two_threads(kind, bound, restore_threads):
    results = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        states = rng.seed_states(SEED, 0, 1000)
        results.append(rng.draws(states, 300, kind, bound=bound))
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("split", [[500], [1, 137, 500, 999], list(range(50, 1000, 50))])
@pytest.mark.parametrize("kind", ["uniform", "normal", "integer"])
def test_draws_identical_for_any_split_into_chunks(split, kind):
    whole = rng.draws(rng.seed_states(SEED, 0, 1000), 200, kind, bound=1000)
    edges = [0, *split, 1000]
    parts = [
        rng.draws(rng.seed_states(SEED, lo, hi - lo), 200, kind, bound=1000)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    np.testing.assert_array_equal(whole, np.concatenate(parts))


@jit(cache=False)
def _lane_normals(states, count):
    """Draw ``count`` normals per walker the way lane kernels do: fast path, then rewind."""
    out = np.empty((states.shape[0], count))
    lanes = np.empty((4, rng.LANES), dtype=np.uint64)
    accepted = np.empty(rng.LANES, dtype=np.bool_)
    for first in range(0, states.shape[0], rng.LANES):
        width = min(rng.LANES, states.shape[0] - first)
        rng.load_lanes(states, first, width, lanes)
        for j in range(count):
            for i in range(width):
                x, ok, s0, s1, s2, s3 = rng.normal_fast(lanes[0, i], lanes[1, i], lanes[2, i],
                                                        lanes[3, i])
                lanes[0, i], lanes[1, i], lanes[2, i], lanes[3, i] = s0, s1, s2, s3
                out[first + i, j] = x
                accepted[i] = ok
            for i in range(width):
                if not accepted[i]:
                    s = states[first + i]
                    rng.rewind_lane(lanes, i, 1, s)
                    out[first + i, j] = rng.normal(s)
                    rng.store_lane(s, lanes, i)
        rng.store_lanes(lanes, width, states, first)
    return out


@jit(cache=False)
def _lane_normal_rows(states, rows, calls, pad):
    """Draw ``rows`` normals per call, ``calls`` times, in tiles padded by up to ``pad`` spare lanes."""
    out = np.empty((states.shape[0], rows * calls))
    lanes = np.zeros((4, rng.LANES), dtype=np.uint64)
    z = np.empty((rows, rng.LANES))
    for first in range(0, states.shape[0], rng.LANES):
        count = min(rng.LANES, states.shape[0] - first)
        rng.load_lanes(states, first, count, lanes)
        for j in range(calls):
            missed = rng.normal_rows(lanes, min(count + pad, rng.LANES), count, z, rows)
            if missed:
                rng.redraw_lanes(lanes, missed, states, first, z, rows)
            for i in range(count):
                for r in range(rows):
                    out[first + i, rows * j + r] = z[r, i]
        rng.store_lanes(lanes, count, states, first)
    return out


@jit(cache=False)
def _uniforms_where(states, draw):
    """Draw a uniform in the lanes of ``draw`` (one tile), as the MALA kernel does."""
    lanes = np.empty((4, states.shape[0]), dtype=np.uint64)
    rng.load_lanes(states, 0, states.shape[0], lanes)
    out = np.full(states.shape[0], np.nan)
    for i in range(states.shape[0]):
        u = rng.uniform_lane(lanes, i, draw[i])
        out[i] = u if draw[i] else np.nan
    rng.store_lanes(lanes, states.shape[0], states, 0)
    return out


@jit(cache=False)
def _lowest_lanes(mask):
    found = []
    while mask:
        found.append(rng.lowest_lane(mask))
        mask &= mask - np.uint64(1)
    return found


@jit(cache=False)
def _rewound_words(states, draws):
    """Advance each state ``draws`` raw draws, then rewind it as lane kernels do."""
    lanes = np.empty((4, states.shape[0]), dtype=np.uint64)
    for w in range(states.shape[0]):
        s = states[w]
        for _ in range(draws):
            rng.next_u64(s)
        rng.store_lane(s, lanes, w)
        rng.rewind_lane(lanes, w, draws, s)
    return states


@pytest.mark.parametrize("draws", [1, 2, 5])
def test_rewinding_a_lane_undoes_its_draws(draws):
    states = rng.seed_states(SEED, 0, 300)
    before = rng.state_words(states).copy()
    np.testing.assert_array_equal(rng.state_words(_rewound_words(states, draws)), before)


@pytest.mark.parametrize("walkers", [1, 63, 64, 150])
def test_lane_normals_equal_the_scalar_stream(walkers):
    # 150 walkers x 60 normals: ~100 fast-path misses, each finished by rewind + normal
    lane_states, scalar_states = rng.seed_states(SEED, 0, walkers), rng.seed_states(SEED, 0, walkers)
    np.testing.assert_array_equal(_lane_normals(lane_states, 60), rng.draws(scalar_states, 60))
    np.testing.assert_array_equal(rng.state_words(lane_states), rng.state_words(scalar_states))
    for rows, pad in ((1, 0), (2, 3), (3, 0), (5, 1)):
        np.testing.assert_array_equal(_lane_normal_rows(lane_states, rows, 60 // rows, pad),
                                      rng.draws(scalar_states, 60), err_msg=f"{rows} rows")
        np.testing.assert_array_equal(rng.state_words(lane_states), rng.state_words(scalar_states))


def test_a_lane_draws_a_uniform_only_when_asked():
    draw = np.random.default_rng(1).random(40) < 0.5
    lane_states, scalar_states = rng.seed_states(SEED, 0, 40), rng.seed_states(SEED, 0, 40)
    got = _uniforms_where(lane_states, draw)
    want = rng.draws(scalar_states[draw], 1, "uniform")[:, 0]
    np.testing.assert_array_equal(got[draw], want)
    assert np.all(np.isnan(got[~draw]))
    moved = rng.state_words(lane_states) != rng.state_words(rng.seed_states(SEED, 0, 40))
    np.testing.assert_array_equal(moved.any(axis=1), draw)


def test_lowest_lane_visits_the_set_bits_in_order():
    bits = [0, 5, 31, 32, 63]
    mask = np.uint64(sum(1 << b for b in bits))
    assert _lowest_lanes(mask) == bits


def test_states_round_trip_through_words_continue_the_stream():
    states = rng.seed_states(SEED, 0, 64)
    straight = rng.draws(states.copy(), 200, "normal")
    first = rng.draws(states, 100, "normal")
    restored = rng.states_from_words(rng.state_words(states).copy())
    second = rng.draws(restored, 100, "normal")
    np.testing.assert_array_equal(straight, np.hstack([first, second]))


def test_states_from_words_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"shape \(walkers, 4\)"):
        rng.states_from_words(np.zeros((3, 5), dtype=np.uint64))


def test_different_seeds_and_walkers_give_different_streams():
    seeds = [SEED, SEED + 1, SEED + 2**64, SEED << 64, SEED ^ 1 << 127]
    first_words = {int(_raw_words(rng.seed_states(s, 0, 1), 1)[0, 0]) for s in seeds}
    assert len(first_words) == len(set(seeds))
    words = _raw_words(rng.seed_states(SEED, 0, 10_000), 1)[:, 0]
    assert np.unique(words).size == words.size


# --------------------------------------------------------------------------- seeds


def test_seed_none_draws_fresh_128_bit_seeds():
    seeds = [rng.resolve_seed(None) for _ in range(8)]
    assert len(set(seeds)) == len(seeds)
    assert all(isinstance(s, int) and 0 <= s < 2**128 for s in seeds)
    # a 64-bit seed would be below 2**64 every time; a 128-bit one is below it with p = 2**-64
    assert any(s >= 2**64 for s in seeds)


@pytest.mark.parametrize("seed", [0, 1, 2**64, 2**128 - 1, np.int64(5), np.uint64(2**64 - 1)])
def test_valid_seeds_are_kept(seed):
    assert rng.resolve_seed(seed) == int(seed)


@pytest.mark.parametrize(
    "seed, error, text",
    [
        (-1, ValueError, r"seed must be in \[0, 2\*\*128\), got -1"),
        (2**128, ValueError, r"seed must be in \[0, 2\*\*128\)"),
        (1.0, TypeError, r"seed must be an integer in \[0, 2\*\*128\) or None, got 1.0"),
        (True, TypeError, r"seed must be an integer.*got True"),
        ("7", TypeError, r"seed must be an integer.*got '7'"),
    ],
)
def test_bad_seeds_are_refused(seed, error, text):
    with pytest.raises(error, match=text):
        rng.resolve_seed(seed)
    with pytest.raises(error, match=text):
        rng.seed_states(seed, 0, 1)


@pytest.mark.parametrize(
    "first, count, error, name",
    [(-1, 1, ValueError, "first"), (0, -1, ValueError, "count"), (2.5, 1, TypeError, "first"),
     (0, "3", TypeError, "count")],
)
def test_bad_walker_ranges_are_refused(first, count, error, name):
    with pytest.raises(error, match=name):
        rng.seed_states(SEED, first, count)


def test_draws_rejects_bad_kind_and_bound():
    states = rng.seed_states(SEED, 0, 2)
    with pytest.raises(ValueError, match="kind must be one of"):
        rng.draws(states, 3, "gamma")
    with pytest.raises(ValueError, match=r"bound must be in \[1, 2\*\*63\)"):
        rng.draws(states, 3, "integer", bound=0)


# --------------------------------------------------------------------------- distributions


@pytest.fixture(scope="module")
def uniforms():
    return rng.draws(rng.seed_states(SEED, 0, 1000), N_DRAWS // 1000, "uniform").ravel()


@pytest.fixture(scope="module")
def normals():
    # 4 * 10**6 draws: about a thousand of them from the tail beyond r
    return rng.draws(rng.seed_states(SEED + 1, 0, 2000), 2000, "normal").ravel()


def _ks_uniform_p(sample):
    return stats.kstest(sample, "uniform").pvalue


def _uniform_moment_z(sample):
    """z-scores of the mean (Var U = 1/12) and of E(U - 1/2)² = 1/12 (Var = 1/180)."""
    n = sample.size
    return (_z(sample.mean(), 0.5, 1 / 12, n),
            _z(np.mean((sample - 0.5) ** 2), 1 / 12, 1 / 180, n))


def test_uniform_range_ks_and_moments(uniforms):
    assert uniforms.size >= 10**6
    assert uniforms.min() >= 0.0 and uniforms.max() < 1.0
    assert _ks_uniform_p(uniforms) > ALPHA
    assert max(_uniform_moment_z(uniforms)) < Z_MAX
    # the same checks reject a 2% power distortion
    distorted = uniforms**1.02
    assert _ks_uniform_p(distorted) < ALPHA
    assert max(_uniform_moment_z(distorted)) > Z_MAX


def _normal_moment_z(sample):
    """z-scores of the raw moments E x^k for k = 1..4 (true 0, 1, 0, 3).

    The true variance is 1, so E x³ and E x⁴ are the skewness and the kurtosis;
    the variance of x^k is E x^(2k) - (E x^k)²: 1, 2, 15 and 105 - 9 = 96.
    """
    n = sample.size
    return [
        _z(np.mean(sample), 0.0, 1.0, n),
        _z(np.mean(sample**2), 1.0, 2.0, n),
        _z(np.mean(sample**3), 0.0, 15.0, n),
        _z(np.mean(sample**4), 3.0, 96.0, n),
    ]


def test_normal_ks_and_moments(normals):
    assert normals.size >= 10**6
    assert stats.kstest(normals, "norm").pvalue > ALPHA
    assert max(_normal_moment_z(normals)) < Z_MAX
    # a 2% scale error fails the KS test and the variance; a scale mixture with the
    # right variance (half the draws 20% wider in variance, half narrower) fails the kurtosis
    assert stats.kstest(1.02 * normals, "norm").pvalue < ALPHA
    assert _normal_moment_z(1.02 * normals)[1] > Z_MAX
    mixture = normals * np.where(np.arange(normals.size) % 2, math.sqrt(1.2), math.sqrt(0.8))
    assert max(_normal_moment_z(mixture)[:3]) < Z_MAX
    assert _normal_moment_z(mixture)[3] > Z_MAX


def _ziggurat_layer_chi2_p(sample):
    """Chi-square of |x| binned at the ziggurat's layer edges (one bin per layer)."""
    edges = np.array(sorted(naive_rng.ziggurat().x) + [np.inf])
    counts, _ = np.histogram(np.abs(sample), bins=edges)
    expected = 2 * np.diff(stats.norm.cdf(edges)) * sample.size
    return stats.chisquare(counts, expected * counts.sum() / expected.sum()).pvalue


def test_normal_layers_and_tail(normals):
    assert _ziggurat_layer_chi2_p(normals) > ALPHA
    r = naive_rng.ZIGGURAT_R
    tail = np.abs(normals[np.abs(normals) > r])
    p_tail = 2 * stats.norm.sf(r)
    # binomial count of tail draws, SE sqrt(n p (1 - p))
    assert _z(tail.size / normals.size, p_tail, p_tail * (1 - p_tail), normals.size) < Z_MAX

    # a ziggurat that clipped its tail at r would have no draw beyond it
    clipped = np.clip(normals, -r, r)
    assert _z(np.mean(np.abs(clipped) > r), p_tail, p_tail * (1 - p_tail), normals.size) > Z_MAX

    def conditional_cdf(x):
        return 1 - stats.norm.sf(x) / stats.norm.sf(r)

    assert stats.kstest(tail, conditional_cdf).pvalue > ALPHA
    # a wedge test that accepted too often in one layer would fail the layer chi-square
    broken = normals.copy()
    layer = (np.abs(broken) > 1.0) & (np.abs(broken) < 1.0105)
    broken = np.concatenate([broken, broken[layer][: layer.sum() // 10]])
    assert _ziggurat_layer_chi2_p(broken) < ALPHA
    # an exponential tail of the wrong rate fails the tail KS test
    assert stats.kstest(r + (tail - r) * 1.5, conditional_cdf).pvalue < ALPHA


def test_exponential_ks_and_mean():
    sample = _exponentials(rng.seed_states(SEED + 2, 0, 1000), 1000).ravel()
    assert sample.min() >= 0.0
    assert stats.kstest(sample, "expon").pvalue > ALPHA
    assert _z(sample.mean(), 1.0, 1.0, sample.size) < Z_MAX  # Var = 1


def _binned_integer_chi2_p(values, bound, bins=1000):
    """Chi-square of integers in [0, bound) grouped into at most ``bins`` equal ranges."""
    width = -(-bound // bins)  # ceil
    groups = -(-bound // width)
    sizes = np.full(groups, width, dtype=np.float64)
    sizes[-1] = bound - (groups - 1) * width  # the last range may be shorter
    counts = np.bincount(values // width, minlength=groups)
    return stats.chisquare(counts, sizes / bound * values.size).pvalue


@pytest.mark.parametrize("bound", [2, 3, 6, 7, 1000, 2**31 + 1, 2**32 - 1, 2**32, 2**32 + 1,
                                   3 * 2**40 + 5, 2**63 - 1])
def test_integer_chi_square(bound):
    values = rng.draws(rng.seed_states(SEED + bound % 1000, 0, 1000), N_DRAWS // 1000,
                       "integer", bound=bound).ravel()
    assert values.min() >= 0 and values.max() < bound
    assert _binned_integer_chi2_p(values, bound) > ALPHA
    if bound <= 1000:
        assert np.unique(values).size == bound


def test_integer_chi_square_rejects_modulo_bias(uniforms):
    # the naive "32 random bits modulo m" favours [0, 2**32 - m); for m = 3 * 2**30
    # those values are twice as likely as the others
    bound = 3 * 2**30
    biased = (uniforms * 2**32).astype(np.int64) % bound
    assert _binned_integer_chi2_p(biased, bound) < ALPHA
    # and a 0.3% excess of zeros for m = 3
    values = rng.draws(rng.seed_states(SEED, 0, 1000), 1000, "integer", bound=3).ravel()
    values[:3000] = 0
    assert _binned_integer_chi2_p(values, 3) < ALPHA


# --------------------------------------------------------------------------- independence


def _neighbour_correlations(rows):
    """Pearson correlation of each row with the next."""
    centered = rows - rows.mean(axis=1, keepdims=True)
    centered /= np.linalg.norm(centered, axis=1, keepdims=True)
    return np.sum(centered[:-1] * centered[1:], axis=1)


def _correlation_z(rows):
    """Largest single-pair |r|·√k, pooled mean r·√(k·pairs) and χ² z of k·Σr² (pairs dof).

    Under independence each r is about N(0, 1/k) for k draws per row.
    """
    k = rows.shape[1]
    r = _neighbour_correlations(rows)
    single = np.max(np.abs(r)) * math.sqrt(k)
    pooled = abs(r.mean()) * math.sqrt(k * r.size)
    spread = abs(k * np.sum(r**2) - r.size) / math.sqrt(2 * r.size)
    return single, pooled, spread


def test_neighbouring_walkers_are_uncorrelated():
    rows = rng.draws(rng.seed_states(SEED + 3, 0, 2001), 1000, "normal")
    assert max(_correlation_z(rows)) < Z_MAX
    # mixing 1% of each walker's neighbour into it is caught by the pooled statistic
    mixed = rows.copy()
    mixed[1:] += 0.01 * rows[:-1]
    assert _correlation_z(mixed)[1] > Z_MAX


def test_first_draws_across_a_million_walkers():
    states = rng.seed_states(SEED + 4, 0, 10**6)
    words = _raw_words(states.copy(), 1)[:, 0]
    first = rng.draws(states, 1, "uniform")[:, 0]
    n = first.size
    assert _ks_uniform_p(first) > ALPHA
    # neighbouring walkers' first draws: Pearson r is about N(0, 1/n)
    assert abs(np.corrcoef(first[:-1], first[1:])[0, 1]) * math.sqrt(n) < Z_MAX
    # every bit of the first word is set in half the walkers (binomial SE √(n/4))
    bit_counts = np.array([np.count_nonzero((words >> np.uint64(b)) & np.uint64(1))
                           for b in range(64)])
    assert np.max(np.abs(bit_counts - n / 2)) / math.sqrt(n / 4) < Z_MAX
    # the same checks reject consecutive walkers that share their draws in pairs
    paired = first.copy()
    paired[1::2] = paired[::2]
    assert abs(np.corrcoef(paired[:-1], paired[1:])[0, 1]) * math.sqrt(n) > Z_MAX
