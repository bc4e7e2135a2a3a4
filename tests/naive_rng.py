"""An independent pure-Python model of fastwalk's random streams.

Written from the algorithm descriptions (fastwalk.rng's module docstring,
Blackman & Vigna's xoshiro256++ reference code, Lemire 2019, Marsaglia & Tsang
2000), with Python integers masked to 64 bits and no import from fastwalk, so
that the pinning tests in ``test_rng.py`` compare two separate implementations.
It is slow (about a microsecond per word) and meant for a few thousand draws.
"""

from __future__ import annotations

import math

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
DOMAIN = int.from_bytes(b"fastwalk", "big")  # 0x6661737477616C6B

ZIGGURAT_LAYERS = 256
ZIGGURAT_R = 3.6541528853610088  # Marsaglia & Tsang's r for 256 layers


def splitmix64_mix(z: int) -> int:
    """SplitMix64's output finaliser (Steele, Lea & Flood 2014)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def walker_state(seed: int, walker: int) -> list[int]:
    """The four xoshiro256++ words of ``walker`` under ``seed`` (< 2**128)."""
    low, high = seed & MASK64, seed >> 64
    key = splitmix64_mix(high ^ DOMAIN)
    key = splitmix64_mix(key ^ low)
    key = splitmix64_mix(key ^ walker)
    words = []
    for _ in range(4):
        key = (key + GOLDEN_GAMMA) & MASK64
        words.append(splitmix64_mix(key))
    if not any(words):
        words[0] = 1
    return words


def _rotate_left(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & MASK64


class Xoshiro256pp:
    """xoshiro256++ with the draws fastwalk derives from it."""

    def __init__(self, words):
        self.s = [int(w) for w in words]

    @classmethod
    def for_walker(cls, seed: int, walker: int) -> Xoshiro256pp:
        return cls(walker_state(seed, walker))

    def next_u64(self) -> int:
        s = self.s
        result = (_rotate_left((s[0] + s[3]) & MASK64, 23) + s[0]) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotate_left(s[3], 45)
        return result

    def uniform(self) -> float:
        """The top 53 bits over 2**53."""
        return (self.next_u64() >> 11) / 9007199254740992.0

    def exponential(self) -> float:
        return -math.log1p(-self.uniform())

    def integer(self, bound: int) -> int:
        """Uniform on [0, bound): Lemire's method on 32 bits, else mask-and-reject."""
        if bound <= 1 << 32:
            return self._lemire32(bound)
        mask = (1 << (bound - 1).bit_length()) - 1
        while True:
            candidate = self.next_u64() & mask
            if candidate < bound:
                return candidate

    def _lemire32(self, bound: int) -> int:
        product = (self.next_u64() >> 32) * bound
        if (product & 0xFFFFFFFF) < bound:
            # reject the (2**32 mod bound) low products that would over-represent some values
            threshold = ((1 << 32) - bound) % bound
            while (product & 0xFFFFFFFF) < threshold:
                product = (self.next_u64() >> 32) * bound
        return product >> 32

    def normal(self) -> float:
        """Marsaglia-Tsang ziggurat on fastwalk's bit layout.

        A 64-bit word gives the layer (bits 0-7), the sign (bit 8) and a 52-bit
        magnitude (bits 12-63); the candidate is magnitude * width / 2**52.
        """
        table = ziggurat()
        while True:
            bits = self.next_u64()
            layer = bits & 0xFF
            negative = (bits >> 8) & 1
            magnitude = bits >> 12
            x = magnitude * table.scaled_width[layer]
            if negative:
                x = -x
            if magnitude < table.accept[layer]:
                return x
            if layer == 0:
                tail = self._tail(table.r)
                return -tail if negative else tail
            height = table.f[layer - 1] + self.uniform() * (table.f[layer] - table.f[layer - 1])
            if height < math.exp(-0.5 * x * x):
                return x

    def _tail(self, r: float) -> float:
        """Marsaglia (1964): a normal conditioned on exceeding r."""
        while True:
            excess = -math.log1p(-self.uniform()) / r
            level = -math.log1p(-self.uniform())
            if level + level > excess * excess:
                return r + excess


class ZigguratTable:
    """The 256 equal-area layers of the normal density f(x) = exp(-x²/2).

    Layer boundaries x_0 = r > x_1 > ... > x_254 > x_255 = 0 satisfy
    x_{i-1} (f(x_i) - f(x_{i-1})) = v, where v = r f(r) + ∫_r^∞ f is the area of
    the base layer (the rectangle [0, r] × [0, f(r)] plus the tail).
    """

    def __init__(self, layers: int = ZIGGURAT_LAYERS, r: float = ZIGGURAT_R):
        def density(x):
            return math.exp(-0.5 * x * x)

        self.r = r
        self.area = r * density(r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
        x = [r]
        while len(x) < layers - 1:
            # f(x_i) = f(x_{i-1}) + v / x_{i-1}, solved for x_i
            x.append(math.sqrt(-2.0 * math.log(density(x[-1]) + self.area / x[-1])))
        x.append(0.0)
        self.x = x
        self.f = [density(b) for b in x]
        # the base layer's pseudo-width v/f(r) covers rectangle and tail together
        width = [self.area / density(r)] + x[:-1]
        inside = [r] + x[1:]  # part of each layer's width that lies wholly under f
        self.scaled_width = [w / 2.0**52 for w in width]
        self.accept = [math.floor(i / w * 2.0**52) for i, w in zip(inside, width, strict=True)]


_TABLE: ZigguratTable | None = None


def ziggurat() -> ZigguratTable:
    """The shared table (built once)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = ZigguratTable()
    return _TABLE


def stream(seed: int, walker: int, count: int, kind: str = "u64", bound: int = 2) -> list:
    """The first ``count`` draws of one kind from one walker's stream."""
    generator = Xoshiro256pp.for_walker(seed, walker)
    draw = {
        "u64": generator.next_u64,
        "uniform": generator.uniform,
        "normal": generator.normal,
        "exponential": generator.exponential,
        "integer": lambda: generator.integer(bound),
    }[kind]
    return [draw() for _ in range(count)]
