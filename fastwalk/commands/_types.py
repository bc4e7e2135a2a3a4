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
#: largest number of coordinates of a point (sphere, free): H5MD keeps one boundary per
#: coordinate in an attribute, and HDF5 limits attributes to 64 KiB
MOST_COORDINATES = 2048


class OptionError(click.BadParameter):
    """A bad option value, shown as the one line given (it names the option itself)."""

    def format_message(self) -> str:
        """Return the message as given."""
        return self.message


def _name(param) -> str:
    return max(param.opts, key=len) if param is not None and getattr(param, "opts", None) else "value"


def _bound(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _check_range(kind, value, param, ctx):
    low_ok = kind.min is None or value > kind.min or (value == kind.min and not kind.min_open)
    high_ok = kind.max is None or value < kind.max or (value == kind.max and not kind.max_open)
    if low_ok and high_ok:
        return value
    if getattr(kind, "wanted", None):
        wanted = kind.wanted
    elif kind.min is not None and kind.max is not None and kind.max != LARGEST and kind.max < 2**32:
        wanted = (f"in {'(' if kind.min_open else '['}{_bound(kind.min)}, {_bound(kind.max)}"
                  f"{')' if kind.max_open else ']'}")
    elif not low_ok:
        wanted = f"{'>' if kind.min_open else '>='} {_bound(kind.min)}"
    else:
        wanted = f"{'<' if kind.max_open else '<='} {_bound(kind.max)}"
    raise OptionError(f"{_name(param)} must be {wanted}, got {_bound(value)}", param=param, ctx=ctx)


class Real(click.FloatRange):
    """A finite float in a range, magnitude 0 or in [SMALLEST, LARGEST]."""

    name = "number"

    def _describe_range(self) -> str:
        if self.min is None and self.max is None:  # click would say "x<=None"
            return f"|x|<={LARGEST:g}"
        return super()._describe_range()

    def convert(self, value, param, ctx):
        """Convert ``value`` and check it is finite, of sane magnitude and in range."""
        if isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
            raise OptionError(f"{_name(param)} needs a number, got {value!r}", param=param, ctx=ctx)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise OptionError(f"{_name(param)} needs a number, got {value!r}", param=param,
                              ctx=ctx) from None
        if not math.isfinite(number):
            raise OptionError(f"{_name(param)} must be a finite number, got {value!r}", param=param,
                              ctx=ctx)
        if abs(number) > LARGEST or 0 < abs(number) < SMALLEST:
            zero = "" if self.min == 0 and self.min_open else "0 or "
            raise OptionError(f"{_name(param)} must be {zero}of magnitude {SMALLEST:g} to "
                              f"{LARGEST:g}, got {value!r}", param=param, ctx=ctx)
        return _check_range(self, number, param, ctx)


class Count(click.IntRange):
    """An integer in a range (never a bool; no silent rounding of 10.9)."""

    name = "integer"

    def __init__(self, minimum: int, maximum: int, wanted: str | None = None):
        super().__init__(minimum, maximum)
        self.wanted = wanted

    def convert(self, value, param, ctx):
        """Convert ``value`` and check it is a whole number in range."""
        text = value.strip() if isinstance(value, str) else value
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(text, str) and text.lstrip("+-").isdigit():
            number = int(text)
        else:
            raise OptionError(f"{_name(param)} needs an integer, got {value!r}", param=param, ctx=ctx)
        return _check_range(self, number, param, ctx)


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
SEED = Count(0, 2**128 - 1, wanted="in [0, 2**128)")
#: a thread count (the machine's own limit is checked when the command runs)
THREADS = Count(1, 4096)
