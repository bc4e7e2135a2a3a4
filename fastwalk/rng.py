"""Per-walker random streams and jitted draws.

Every walker owns a xoshiro256++ generator (Blackman & Vigna 2019) whose
256-bit state is one record of a ``(walkers,)`` array of :data:`STATE_DTYPE`
(four ``uint64`` words). Kernels take ``s = states[w]`` and pass the record to
the draws below; a record is a plain pointer for numba, so unlike an array
row it costs no reference counting in the hot loop. The record
of walker ``i`` is derived from the run's 128-bit seed and ``i`` alone, so a
walker's numbers do not depend on the thread count, on how walkers are split
into chunks, processes or machines, or on checkpoint/resume: the state array
*is* the checkpoint of the randomness.

Seeding, all arithmetic modulo 2**64, with ``mix`` the SplitMix64 finaliser
``z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
z ^= z >> 31``: split the seed into ``lo = seed % 2**64`` and ``hi = seed >> 64``;
``key = mix(hi ^ 0x6661737477616C6B)`` (ASCII "fastwalk"), ``key = mix(key ^ lo)``,
``key = mix(key ^ i)``; then the four words are the next four outputs of a
SplitMix64 stream started at ``key`` (``key += 0x9E3779B97F4A7C15``, word =
``mix(key)``). An all-zero state (xoshiro's fixed point) gets ``s0 = 1``.
Runs that need streams apart from a run's own (the temperatures of a sweep,
a step-size pilot) take a seed from :func:`derive_seed` (BLAKE2b of the
seed, a purpose and an index).

Draws, all jitted and taking the walker's state record ``s`` (advanced in place):

``next_u64(s)``
    raw 64-bit output.
``uniform(s)``
    double in [0, 1) with 53 random bits.
``normal(s)``
    standard normal by a 256-layer ziggurat (Marsaglia & Tsang 2000).
``exponential(s)``
    standard exponential (rate 1) by inversion.
``integer(s, m)``
    unbiased integer in [0, m) for any ``m >= 1`` (Lemire's multiply-and-
    reject for ``m <= 2**32``, bit-mask rejection above).

Lanes, for kernels that SIMD-vectorise across walkers: ``load_lanes`` copies
up to :data:`LANES` walkers' states into a ``(4, LANES)`` word array,
``normal_fast`` takes the ziggurat's branch-free fast path on one lane's
words, ``rewind_lane`` steps a lane back (xoshiro's state update is
invertible) so that a miss is redrawn by ``normal`` from where it started,
and ``store_lane``/``store_lanes`` write back; ``normal_rows`` draws any
number of normals in every lane that way (``redraw_lanes`` finishes the
misses), and ``uniform_lane`` a uniform in a lane that asks for one. A
walker's numbers are the same as by the scalar draws.
"""

from __future__ import annotations

import math
import numbers
import secrets

import numpy as np
from numba import prange
from numba.core import cgutils, types
from numba.extending import intrinsic

from fastwalk import validate
from fastwalk._jit import jit, pjit

__all__ = [
    "SEED_BITS",
    "STATE_DTYPE",
    "state_words",
    "states_from_words",
    "resolve_seed",
    "derive_seed",
    "seed_states",
    "next_u64",
    "uniform",
    "normal",
    "exponential",
    "integer",
    "LANES",
    "load_lanes",
    "store_lanes",
    "normal_fast",
    "rewind_lane",
    "store_lane",
    "normal_rows",
    "redraw_lanes",
    "uniform_lane",
    "lowest_lane",
]

#: size of a run seed in bits
SEED_BITS = 128

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_DOMAIN = _U64(0x66617374_77616C6B)  # "fastwalk": separates our seeding from plain SplitMix
_MASK64 = (1 << 64) - 1

#: one walker's xoshiro256++ state
STATE_DTYPE = np.dtype([("s0", np.uint64), ("s1", np.uint64), ("s2", np.uint64), ("s3", np.uint64)])


def resolve_seed(seed: int | None) -> int:
    """Return the seed a run will use, drawing a fresh one when ``seed`` is None.

    Parameters
    ----------
    seed : int or None
        A non-negative integer below ``2**128``, or None for 128 bits of OS
        entropy (:func:`secrets.randbits`). Report the returned value so the
        run can be repeated.

    Returns
    -------
    int
        The seed actually used.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (booleans and floats are refused).
    ValueError
        If ``seed`` is negative or does not fit in 128 bits.
    """
    if seed is None:
        return secrets.randbits(SEED_BITS)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer in [0, 2**128) or None, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 1 << SEED_BITS:
        raise ValueError(
            f"seed must be in [0, 2**128), got {seed}; pass a smaller non-negative seed"
        )
    return seed


@jit(inline="always")
def _fmix64(z):
    z = (z ^ (z >> _U64(30))) * _MIX1
    z = (z ^ (z >> _U64(27))) * _MIX2
    return z ^ (z >> _U64(31))


@jit
def _fill_states(seed_lo, seed_hi, first, out):
    for i in range(out.shape[0]):
        walker = _U64(first + i)
        key = _fmix64(seed_hi ^ _DOMAIN)
        key = _fmix64(key ^ seed_lo)
        key = _fmix64(key ^ walker)
        for j in range(4):
            key += _GOLDEN
            out[i, j] = _fmix64(key)
        if out[i, 0] == 0 and out[i, 1] == 0 and out[i, 2] == 0 and out[i, 3] == 0:
            out[i, 0] = _U64(1)  # the all-zero state is xoshiro's only fixed point


def state_words(states: np.ndarray) -> np.ndarray:
    """View generator states as a ``(walkers, 4)`` ``uint64`` array (no copy).

    Parameters
    ----------
    states : numpy.ndarray
        ``(walkers,)`` array of :data:`STATE_DTYPE`.

    Returns
    -------
    numpy.ndarray
        The same memory as ``uint64`` words, for saving in checkpoints.
    """
    return np.ascontiguousarray(states).view(np.uint64).reshape(-1, 4)


def states_from_words(words: np.ndarray) -> np.ndarray:
    """Turn a ``(walkers, 4)`` ``uint64`` array back into generator states.

    Parameters
    ----------
    words : numpy.ndarray
        Words as returned by :func:`state_words`.

    Returns
    -------
    numpy.ndarray
        A new contiguous ``(walkers,)`` array of :data:`STATE_DTYPE`.
    """
    words = np.asarray(words)
    if words.ndim != 2 or words.shape[1] != 4:
        raise ValueError(f"generator words must have shape (walkers, 4), got {words.shape}")
    return np.ascontiguousarray(words, dtype=np.uint64).view(STATE_DTYPE).reshape(-1).copy()


def derive_seed(seed: int, purpose: str, index: int = 0) -> int:
    """Return a 128-bit seed derived from a run seed, a purpose and an index.

    The derived seed is the first 16 bytes, little-endian, of the BLAKE2b
    hash (``digest_size=16``) of ``b"fastwalk:" + purpose (UTF-8) + b":" +
    seed (16 bytes, little-endian) + index (8 bytes, little-endian)``:
    fixed forever, independent of NumPy, and as unrelated to ``seed`` and to
    other indices as a cryptographic hash makes it. Used for the temperatures
    of a sweep (purpose ``"temperature"``, index = position in the list) and
    for the pilot of ``dt="auto"`` (purpose ``"dt-pilot"``).

    Parameters
    ----------
    seed : int
        Run seed in [0, 2**128).
    purpose : str
        What the streams are for (keeps unrelated derivations apart).
    index : int, optional
        Which one (>= 0, below 2**64).

    Returns
    -------
    int
        A seed in [0, 2**128).
    """
    import hashlib

    seed = resolve_seed(seed)
    index = validate.integer("index", index, minimum=0, maximum=_MASK64)
    data = (b"fastwalk:" + purpose.encode() + b":" + seed.to_bytes(16, "little")
            + index.to_bytes(8, "little"))
    return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "little")


def seed_states(seed: int, first: int, count: int) -> np.ndarray:
    """Build the generator states of walkers ``first .. first + count - 1``.

    Parameters
    ----------
    seed : int
        Run seed in [0, 2**128) (see :func:`resolve_seed`).
    first : int
        Global index of the first walker (>= 0).
    count : int
        Number of walkers (>= 0).

    Returns
    -------
    numpy.ndarray
        ``(count,)`` array of :data:`STATE_DTYPE`; element ``i`` is walker
        ``first + i``'s xoshiro256++ state.
    """
    seed = resolve_seed(seed)
    first = validate.integer("first", first, minimum=0, maximum=_MASK64)
    count = validate.integer("count", count, minimum=0)
    out = np.empty((count, 4), dtype=np.uint64)
    _fill_states(_U64(seed & _MASK64), _U64(seed >> 64), _U64(first), out)
    return out.view(STATE_DTYPE).reshape(-1)


@jit(inline="always")
def _rotl(x, k):
    return (x << _U64(k)) | (x >> _U64(64 - k))


@jit(inline="always")
def _xoshiro(s0, s1, s2, s3):
    """One xoshiro256++ step: return (64 random bits, s0, s1, s2, s3 advanced)."""
    result = _rotl(s0 + s3, 23) + s0
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    return result, s0, s1, s2, _rotl(s3, 45)


@jit(inline="always")
def next_u64(s):
    """Advance a xoshiro256++ state record and return 64 random bits."""
    result, s.s0, s.s1, s.s2, s.s3 = _xoshiro(s.s0, s.s1, s.s2, s.s3)
    return result


@jit(inline="always")
def _unit_double(bits):
    """Return the double in [0, 1) of the top 53 of 64 random bits."""
    return float(np.int64(bits >> _U64(11))) * (1.0 / 9007199254740992.0)


@jit(inline="always")
def uniform(s):
    """Return a double uniform on [0, 1) (53 random bits)."""
    return _unit_double(next_u64(s))


@jit(inline="always")
def exponential(s):
    """Return a standard exponential variate (rate 1) by inversion."""
    return -math.log1p(-uniform(s))


@jit(inline="always")
def integer(s, m):
    """Return an unbiased integer in [0, m) for ``1 <= m < 2**63``.

    Lemire's multiply-and-reject on the top 32 bits when ``m <= 2**32``;
    otherwise bit-mask rejection on the full 64 bits.
    """
    bound = _U64(m)
    if bound <= _U64(0x100000000):
        product = (next_u64(s) >> _U64(32)) * bound
        low = product & _U64(0xFFFFFFFF)
        if low < bound:
            threshold = (_U64(0x100000000) - bound) % bound
            while low < threshold:
                product = (next_u64(s) >> _U64(32)) * bound
                low = product & _U64(0xFFFFFFFF)
        return np.int64(product >> _U64(32))
    mask = bound - _U64(1)
    for shift in (1, 2, 4, 8, 16, 32):
        mask |= mask >> _U64(shift)
    x = next_u64(s) & mask
    while x >= bound:
        x = next_u64(s) & mask
    return np.int64(x)


def _ziggurat_tables(layers: int = 256, r: float = 3.6541528853610088):
    """Layer widths and acceptance thresholds of the normal ziggurat.

    Layer 0 is the base strip plus the tail (pseudo-width v/f(r)); layer
    i >= 1 is the rectangle of width x[i-1] between heights f(x[i-1]) and
    f(x[i]). ``accept[i]`` is ``2**52 * inner[i] / width[i]``.

    The tables are built with Python's scalar :mod:`math` functions (the
    platform libm, which the kernels' ``math.exp``/``math.log1p`` also call),
    not NumPy ufuncs: NumPy's SIMD ``exp`` rounds differently on CPUs with
    and without AVX-512, which would make the normals machine-dependent.
    """

    def f(x):
        return math.exp(-0.5 * x * x)

    area = r * f(r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    x = [r]
    for _ in range(1, layers - 1):
        x.append(math.sqrt(-2.0 * math.log(f(x[-1]) + area / x[-1])))
    x.append(0.0)
    width = [area / f(r)] + x[:-1]
    inner = [r] + x[1:]
    scale = 2.0**52
    ratios = [i / w * scale for i, w in zip(inner, width, strict=True)]
    accept = np.array([math.floor(q) for q in ratios], dtype=np.int64)
    fx = np.array([f(v) for v in x])
    return np.array(width) / scale, accept, fx, r


_ZIG_WIDTH, _ZIG_ACCEPT, _ZIG_F, _ZIG_R = _ziggurat_tables()


@jit(inline="always")
def _ziggurat_candidate(bits):
    """Split 64 bits into (layer, candidate x, whether x is accepted at once)."""
    layer = np.intp(bits & _U64(0xFF))
    magnitude = np.int64(bits >> _U64(12))  # 52 bits: int64 converts to float cheaply
    x = float(magnitude) * _ZIG_WIDTH[layer]
    if (bits >> _U64(8)) & _U64(1):
        x = -x
    return layer, x, magnitude < _ZIG_ACCEPT[layer]


@jit
def _normal_slow(s, layer, x):
    """Finish :func:`normal` after a fast-path miss (rare, ~1.5% of draws).

    Layer 0 samples the tail beyond r (Marsaglia 1964); other layers make the
    wedge test and, on rejection, draw a fresh candidate.
    """
    while True:
        if layer == 0:
            while True:
                xx = -math.log1p(-uniform(s)) / _ZIG_R
                yy = -math.log1p(-uniform(s))
                if yy + yy > xx * xx:
                    return _ZIG_R + xx if x > 0.0 else -(_ZIG_R + xx)
        y = _ZIG_F[layer - 1] + uniform(s) * (_ZIG_F[layer] - _ZIG_F[layer - 1])
        if y < math.exp(-0.5 * x * x):
            return x
        layer, x, accepted = _ziggurat_candidate(next_u64(s))
        if accepted:
            return x


@jit(inline="always")
def normal(s):
    """Return a standard normal variate (256-layer ziggurat, ~99% one draw)."""
    layer, x, accepted = _ziggurat_candidate(next_u64(s))
    if not accepted:
        x = _normal_slow(s, layer, x)
    return x


# --------------------------------------------------------------------------
# Lanes: the streams of up to LANES walkers held side by side as four word
# arrays, so that a kernel looping over walkers in its innermost loop can be
# SIMD-vectorised by LLVM (AVX-512: eight walkers per instruction). A walker's
# numbers are exactly those of the scalar draws above, in the same order.

#: walkers held at once by a lane kernel (a few AVX-512 vectors, all in L1)
LANES = 64


@jit(inline="always")
def load_lanes(states, first, count, lanes):
    """Copy the states of walkers ``first .. first + count - 1`` into ``lanes[:, :count]``.

    ``lanes`` is a ``(4, LANES)`` ``uint64`` work array; while a tile is
    loaded the records in ``states`` are stale until :func:`store_lanes`.
    """
    for i in range(count):
        s = states[first + i]
        lanes[0, i] = s.s0
        lanes[1, i] = s.s1
        lanes[2, i] = s.s2
        lanes[3, i] = s.s3


@jit(inline="always")
def store_lanes(lanes, count, states, first):
    """Write ``lanes[:, :count]`` back to the records of walkers ``first ..``."""
    for i in range(count):
        s = states[first + i]
        s.s0 = lanes[0, i]
        s.s1 = lanes[1, i]
        s.s2 = lanes[2, i]
        s.s3 = lanes[3, i]


@jit(inline="always")
def normal_fast(s0, s1, s2, s3):
    """Take the one-draw fast path of :func:`normal` on a stream's state words.

    Returns ``(x, accepted, s0, s1, s2, s3)``: when ``accepted`` (~99% of
    draws) ``x`` is the normal :func:`normal` would return and the words are
    advanced past it; otherwise ``x`` is meaningless and the caller must
    rewind the lane (:func:`rewind_lane`) and draw with :func:`normal`.
    Branch-free, so a loop of it over lanes vectorises.
    """
    bits, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
    layer, x, accepted = _ziggurat_candidate(bits)
    return x, accepted, s0, s1, s2, s3


@jit(inline="always")
def _xoshiro_back(s0, s1, s2, s3):
    """Undo one xoshiro256++ step (the inverse of :func:`_xoshiro`'s state update)."""
    s3 = _rotl(s3, 19)  # rotate right by 45; now s3_old ^ s1_old
    s0 ^= s3
    x = s1 ^ s2  # s1_old ^ (s1_old << 17)
    s1 = x ^ (x << _U64(17)) ^ (x << _U64(34)) ^ (x << _U64(51))
    s2 ^= s0 ^ (s1 << _U64(17))
    s3 ^= s1
    return s0, s1, s2, s3


@jit(inline="always")
def rewind_lane(lanes, i, draws, s):
    """Set record ``s`` to lane ``i``'s state as it was ``draws`` raw draws ago."""
    s0, s1, s2, s3 = lanes[0, i], lanes[1, i], lanes[2, i], lanes[3, i]
    for _ in range(draws):
        s0, s1, s2, s3 = _xoshiro_back(s0, s1, s2, s3)
    s.s0, s.s1, s.s2, s.s3 = s0, s1, s2, s3


@jit(inline="always")
def store_lane(s, lanes, i):
    """Copy record ``s`` into lane ``i``."""
    lanes[0, i], lanes[1, i], lanes[2, i], lanes[3, i] = s.s0, s.s1, s.s2, s.s3


@intrinsic
def lowest_lane(typingctx, mask):
    """Return the index of the lowest set bit of a ``uint64`` lane mask (LLVM's ``cttz``; 64 for 0).

    A lane loop ORs ``1 << i`` into a mask for the lanes that need more work;
    ``while mask: i = lowest_lane(mask); mask &= mask - 1`` then visits just
    those, instead of testing every lane's flag.
    """
    from llvmlite import ir

    if mask != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        word = ir.IntType(64)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(word, [word, ir.IntType(1)]), "llvm.cttz.i64")
        return builder.call(function, [args[0], ir.IntType(1)(0)])

    return types.intp(mask), codegen


@jit(inline="always")
def normal_rows(lanes, width, count, z, rows):
    """Draw ``rows`` normals in each of lanes ``0 .. width - 1`` into ``z[j, i]``, j = 0 .. rows - 1.

    Lane ``i`` holds one walker's stream (:func:`load_lanes`). Every draw
    takes the ziggurat's branch-free fast path (:func:`normal_fast`), so the
    loop over lanes vectorises (a constant ``rows`` unrolls the inner loop).
    Returns the mask of lanes ``< count`` in which some draw missed the fast
    path: pass it to :func:`redraw_lanes` before using ``z``. Lanes
    ``count .. width - 1`` are padding: their numbers are not used
    (``count <= width <= LANES``).
    """
    missed = _U64(0)
    for i in range(width):
        s0, s1, s2, s3 = lanes[0, i], lanes[1, i], lanes[2, i], lanes[3, i]
        hit = True
        for j in range(rows):
            x, ok, s0, s1, s2, s3 = normal_fast(s0, s1, s2, s3)
            z[j, i] = x
            hit &= ok
        lanes[0, i], lanes[1, i], lanes[2, i], lanes[3, i] = s0, s1, s2, s3
        missed |= _U64(0 if hit else 1) << _U64(i)
    if count < width:
        missed &= (_U64(1) << _U64(count)) - _U64(1)
    return missed


@jit
def redraw_lanes(lanes, missed, states, first, z, rows):
    """Redraw the ``rows`` normals of the lanes in the mask ``missed`` (from :func:`normal_rows`).

    Each is rewound and drawn again by :func:`normal`, with
    ``states[first + i]`` as scratch. Not inlined, and called only when a
    lane missed: inside the caller, the call to the ziggurat's slow path
    would keep numba from pruning the atomic reference counts of the
    caller's arrays (~30 ns on every pass, miss or not).
    """
    while missed:
        i = lowest_lane(missed)
        missed &= missed - _U64(1)
        s = states[first + i]
        rewind_lane(lanes, i, rows, s)
        for j in range(rows):
            z[j, i] = normal(s)
        store_lane(s, lanes, i)


@jit(inline="always")
def uniform_lane(lanes, i, draw):
    """Return a uniform from lane ``i`` if ``draw``, advancing it as :func:`uniform`; branch-free.

    Without ``draw`` the lane keeps its state and the value is meaningless,
    so that a loop over lanes that draws in some of them vectorises.
    """
    s0, s1, s2, s3 = lanes[0, i], lanes[1, i], lanes[2, i], lanes[3, i]
    bits, t0, t1, t2, t3 = _xoshiro(s0, s1, s2, s3)
    lanes[0, i] = t0 if draw else s0
    lanes[1, i] = t1 if draw else s1
    lanes[2, i] = t2 if draw else s2
    lanes[3, i] = t3 if draw else s3
    return _unit_double(bits)


# --------------------------------------------------------------------------
# Bulk draws, used by tests, benchmarks and the pure-NumPy references.


@pjit
def _fill(states, out, kind, bound):
    for w in prange(states.shape[0]):
        s = states[w]
        for j in range(out.shape[1]):
            if kind == 0:
                out[w, j] = uniform(s)
            elif kind == 1:
                out[w, j] = normal(s)
            elif kind == 2:
                out[w, j] = integer(s, bound)
            else:
                out[w, j] = float(next_u64(s))


def draws(states: np.ndarray, per_walker: int, kind: str = "normal", bound: int = 2) -> np.ndarray:
    """Draw ``per_walker`` numbers from each walker's stream, in stream order.

    Parameters
    ----------
    states : numpy.ndarray
        ``(walkers,)`` generator states (:data:`STATE_DTYPE`), advanced in place.
    per_walker : int
        Draws per walker (>= 0).
    kind : {"uniform", "normal", "integer"}
        Which draw to make.
    bound : int, optional
        Upper bound (exclusive) for ``kind="integer"``.

    Returns
    -------
    numpy.ndarray
        Shape ``(walkers, per_walker)``: float64, or int64 for integers.
    """
    kinds = {"uniform": 0, "normal": 1, "integer": 2}
    if kind not in kinds:
        raise ValueError(f"kind must be one of {sorted(kinds)}, got {kind!r}")
    if kind == "integer" and not 1 <= bound < 2**63:
        raise ValueError(f"bound must be in [1, 2**63), got {bound}")
    dtype = np.int64 if kind == "integer" else np.float64
    out = np.empty((states.shape[0], per_walker), dtype=dtype)
    _fill(states, out, kinds[kind], np.uint64(bound))
    return out
