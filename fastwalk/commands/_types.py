"""Click types for the CLI's numbers: each option's range keeps a run's arithmetic finite.

Every continuous option is a finite float whose magnitude is 0 or within
[:data:`SMALLEST`, :data:`LARGEST`], so products and quotients of a few of
them (D·dt/R², a·Λ², √(2T·dt)) stay finite in float64; counts of steps are at
most :data:`MOST_STEPS`, so a step index and step × dt stay exact. Config files
go through the same types (see :func:`fastwalk.commands._common._load_config`).
"""

from __future__ import annotations

import math

import click

#: largest magnitude of a continuous option
LARGEST = 1e50
#: smallest nonzero magnitude of a continuous option
SMALLEST = 1e-50
#: largest count of steps (steps, burn-in, record intervals): exact in float64
MOST_STEPS = 2**53
#: largest number of walkers (memory is checked against the machine too)
MOST_WALKERS = 2**40
#: largest torus dimension or number of subspaces of a crossing
MOST_DIMENSIONS = 256
#: largest number of coordinates of a point (sphere and free Brownian motion)
MOST_COORDINATES = 2**20


class Real(click.FloatRange):
    """A finite float in a range, magnitude 0 or in [SMALLEST, LARGEST]."""

    name = "number"

    def convert(self, value, param, ctx):
        """Convert ``value`` and check it is finite, of sane magnitude and in range."""
        if isinstance(value, bool):
            self.fail(f"{value!r} is not a number", param, ctx)
        if isinstance(value, str) and not value.strip():
            self.fail("an empty value is not a number", param, ctx)
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if abs(number) > LARGEST or 0 < abs(number) < SMALLEST:
            self.fail(f"{value!r} is out of range: give 0 or a magnitude between {SMALLEST:g} "
                      f"and {LARGEST:g}", param, ctx)
        return super().convert(number, param, ctx)


class Count(click.IntRange):
    """An integer in a range (never a bool; no silent rounding of 10.9)."""

    name = "integer"

    def convert(self, value, param, ctx):
        """Convert ``value`` and check it is a whole number in range."""
        if isinstance(value, bool) or isinstance(value, float):
            self.fail(f"{value!r} is not an integer", param, ctx)
        return super().convert(value, param, ctx)


def positive(largest: float = LARGEST) -> Real:
    """Return the type of a quantity > 0."""
    return Real(0.0, largest, min_open=True)


def nonnegative(largest: float = LARGEST) -> Real:
    """Return the type of a quantity >= 0."""
    return Real(0.0, largest)


#: a probability of staying put: [0, 1)
LAZY = Real(0.0, 1.0, max_open=True)
#: a count of steps (steps, burn-in, every): 0 .. MOST_STEPS
STEPS = Count(0, MOST_STEPS)
#: an interval of at least one step
INTERVAL = Count(1, MOST_STEPS)
#: a dimension or count of subspaces
DIMENSION = Count(1, MOST_DIMENSIONS)
#: a 128-bit seed
SEED = Count(0, 2**128 - 1)
#: a thread count (the machine's own limit is checked when the command runs)
THREADS = Count(1, 4096)
