"""The argument checks: accepted values come back cleaned, refusals name the
parameter, the bad value and the allowed range."""

from __future__ import annotations

import numpy as np
import pytest

from fastwalk import validate


@pytest.mark.parametrize("value, expected", [(3, 3), (np.int64(7), 7), (1e6, 1_000_000),
                                             (np.float64(4.0), 4), (0, 0)])
def test_integer_accepts_integers_and_integral_floats(value, expected):
    result = validate.integer("count", value, minimum=0)
    assert result == expected and type(result) is int


@pytest.mark.parametrize(
    "value, minimum, maximum, error, text",
    [
        (0, 1, None, ValueError, r"^walkers must be >= 1, got 0$"),
        (11, 0, 10, ValueError, r"^walkers must be <= 10, got 11; allowed range \[0, 10\]$"),
        (-1, 0, 10, ValueError, r"^walkers must be >= 0, got -1; allowed range \[0, 10\]$"),
        (2.5, 1, None, TypeError, r"^walkers must be an integer >= 1, got 2\.5$"),
        ("3", 1, None, TypeError, r"^walkers must be an integer >= 1, got '3'$"),
        (True, 1, None, TypeError, r"^walkers must be an integer >= 1, got True$"),
        (None, None, None, TypeError, r"^walkers must be an integer, got None$"),
        (2.5, None, 9, TypeError, r"^walkers must be an integer <= 9, got 2\.5$"),
        (2.5, 0, 9, TypeError, r"^walkers must be an integer in \[0, 9\], got 2\.5$"),
        (float("nan"), 1, None, ValueError, r"^walkers must be an integer >= 1, got nan$"),
        (float("inf"), 1, None, ValueError, r"^walkers must be an integer >= 1, got inf$"),
    ],
)
def test_integer_refusals_name_parameter_value_and_range(value, minimum, maximum, error, text):
    with pytest.raises(error, match=text):
        validate.integer("walkers", value, minimum=minimum, maximum=maximum)


def test_real_accepts_and_converts():
    assert validate.real("dt", 1, minimum=0.0, strict_min=True) == 1.0
    assert type(validate.real("dt", np.float32(0.5))) is float
    assert validate.real("a", 0.0, minimum=0.0) == 0.0
    assert validate.real("a", 1.0, maximum=1.0) == 1.0


@pytest.mark.parametrize(
    "value, bounds, error, text",
    [
        (0.0, {"minimum": 0.0, "strict_min": True}, ValueError, r"^dt must be > 0, got 0$"),
        (-1.0, {"minimum": 0.0}, ValueError, r"^dt must be >= 0, got -1$"),
        (2.0, {"maximum": 1.0}, ValueError, r"^dt must be <= 1, got 2$"),
        (1.0, {"maximum": 1.0, "strict_max": True}, ValueError, r"^dt must be < 1, got 1$"),
        (1.5, {"minimum": 0.0, "maximum": 1.0}, ValueError,
         r"^dt must be <= 1, got 1\.5; allowed range \[0, 1\]$"),
        (float("nan"), {"minimum": 0.0, "strict_min": True}, ValueError,
         r"^dt must be a finite real number > 0, got nan$"),
        (float("inf"), {"minimum": 0.0, "maximum": 2.0, "strict_max": True}, ValueError,
         r"^dt must be a finite real number in \[0, 2\), got inf$"),
        (-float("inf"), {}, ValueError, r"^dt must be a finite real number, got -inf$"),
        ("0.1", {"minimum": 0.0}, TypeError, r"^dt must be a finite real number >= 0, got '0\.1'$"),
        (True, {}, TypeError, r"^dt must be a finite real number, got True$"),
        (1 + 2j, {}, TypeError, r"^dt must be a finite real number, got \(1\+2j\)$"),
    ],
)
def test_real_refusals_name_parameter_value_and_range(value, bounds, error, text):
    with pytest.raises(error, match=text):
        validate.real("dt", value, **bounds)


def test_probability_range():
    assert validate.probability("lazy", 0.0) == 0.0
    assert validate.probability("lazy", 1.0, allow_one=True) == 1.0
    with pytest.raises(ValueError, match=r"^lazy must be < 1, got 1; allowed range \[0, 1\)$"):
        validate.probability("lazy", 1.0)
    with pytest.raises(ValueError, match=r"^lazy must be >= 0, got -0\.1; allowed range \[0, 1\]$"):
        validate.probability("lazy", -0.1, allow_one=True)
    with pytest.raises(ValueError, match=r"^lazy must be a finite real number in \[0, 1\), got"):
        validate.probability("lazy", float("nan"))


def test_choice_names_the_options():
    assert validate.choice("method", "ring", ["ring", "exact"]) == "ring"
    with pytest.raises(ValueError, match=r"^method must be one of ring, exact; got 'fast'$"):
        validate.choice("method", "fast", ("ring", "exact"))


def test_finite_array_converts_and_checks():
    array = validate.finite_array("center", [[1, 2], [3, 4]], shape=(None, 2))
    assert array.dtype == np.float64 and array.flags.c_contiguous and array.shape == (2, 2)
    ints = validate.finite_array("nodes", [1, 2], dtype=np.int64)
    assert ints.dtype == np.int64
    with pytest.raises(ValueError, match=r"^center must have shape \(any, 3\), got \(2, 2\)$"):
        validate.finite_array("center", [[1, 2], [3, 4]], shape=(None, 3))
    with pytest.raises(ValueError, match=r"^center must have shape \(2\), got \(2, 2\)$"):
        validate.finite_array("center", [[1, 2], [3, 4]], shape=(2,))
    with pytest.raises(ValueError, match=r"^center must be finite; element 3 is nan$"):
        validate.finite_array("center", [0.0, 1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match=r"^center must be finite; element 0 is inf$"):
        validate.finite_array("center", [np.inf])
    with pytest.raises(TypeError, match=r"^center must be numeric array-like"):
        validate.finite_array("center", ["a", "b"])
