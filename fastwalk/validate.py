"""Argument checks shared by every public function.

Each check returns the cleaned value or raises ``TypeError``/``ValueError``
whose message names the parameter, the bad value and what is allowed, so the
CLI can show it as one line.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "integer",
    "real",
    "probability",
    "choice",
    "finite_array",
]


def integer(name: str, value, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer in ``[minimum, maximum]``.

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : object
        Value to check; integral floats such as ``1e6`` are accepted.
    minimum, maximum : int, optional
        Inclusive bounds.

    Returns
    -------
    int
        The value as a Python int.
    """
    wanted = _described("an integer", minimum, maximum)
    if isinstance(value, bool):
        raise TypeError(f"{name} must be {wanted}, got {value!r}")
    if isinstance(value, numbers.Integral):
        result = int(value)
    elif isinstance(value, numbers.Real) and not math.isfinite(value):
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        result = int(value)
    else:
        raise TypeError(f"{name} must be {wanted}, got {value!r}")
    _check_range(name, result, minimum, maximum)
    return result


def real(
    name: str,
    value,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
    strict_max: bool = False,
) -> float:
    """Check that ``value`` is a finite real number within the given bounds.

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : object
        Value to check.
    minimum, maximum : float, optional
        Bounds; inclusive unless ``strict_min``/``strict_max``.
    strict_min, strict_max : bool, optional
        Make the corresponding bound exclusive.

    Returns
    -------
    float
        The value as a Python float.
    """
    wanted = _described("a finite real number", minimum, maximum, strict_min, strict_max)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {wanted}, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be {wanted}, got {result}")
    allowed = _allowed_range(minimum, maximum, strict_min, strict_max)
    if minimum is not None and (result < minimum or (strict_min and result == minimum)):
        op = ">" if strict_min else ">="
        raise ValueError(f"{name} must be {op} {minimum:g}, got {result:g}{allowed}")
    if maximum is not None and (result > maximum or (strict_max and result == maximum)):
        op = "<" if strict_max else "<="
        raise ValueError(f"{name} must be {op} {maximum:g}, got {result:g}{allowed}")
    return result


def probability(name: str, value, *, allow_one: bool = False) -> float:
    """Check a probability in [0, 1) (or [0, 1] with ``allow_one``).

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : object
        Value to check.
    allow_one : bool, optional
        Whether 1 is allowed.

    Returns
    -------
    float
        The probability.
    """
    return real(name, value, minimum=0.0, maximum=1.0, strict_max=not allow_one)


def choice(name: str, value, options) -> str:
    """Check that ``value`` is one of ``options``.

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : object
        Value to check.
    options : iterable of str
        Allowed values.

    Returns
    -------
    str
        The value.
    """
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(str, options))}; got {value!r}")
    return value


def finite_array(name: str, value, *, shape: tuple | None = None, dtype=np.float64) -> np.ndarray:
    """Convert to a contiguous array and check it is finite (and its shape).

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : array_like
        Values to check.
    shape : tuple, optional
        Required shape; ``None`` entries match any length.
    dtype : numpy.dtype, optional
        Target dtype.

    Returns
    -------
    numpy.ndarray
        A C-contiguous array of ``dtype``.
    """
    try:
        array = np.ascontiguousarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric array-like: {exc}") from None
    if shape is not None:
        ok = array.ndim == len(shape) and all(
            want is None or want == got for want, got in zip(shape, array.shape, strict=False)
        )
        if not ok:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {array.shape}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.isfinite(array.ravel()))[0]
        raise ValueError(f"{name} must be finite; element {bad} is {array.ravel()[bad]}")
    return array


def _bound_text(bound):
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _interval(minimum, maximum, strict_min=False, strict_max=False):
    """Return e.g. ``"[0, 1)"`` for a two-sided range."""
    low, high = "(" if strict_min else "[", ")" if strict_max else "]"
    return f"{low}{_bound_text(minimum)}, {_bound_text(maximum)}{high}"


def _described(what, minimum, maximum, strict_min=False, strict_max=False):
    """Return e.g. ``"an integer >= 1"`` or ``"a finite real number in [0, 1)"``."""
    if minimum is not None and maximum is not None:
        return f"{what} in {_interval(minimum, maximum, strict_min, strict_max)}"
    if minimum is not None:
        return f"{what} {'>' if strict_min else '>='} {_bound_text(minimum)}"
    if maximum is not None:
        return f"{what} {'<' if strict_max else '<='} {_bound_text(maximum)}"
    return what


def _allowed_range(minimum, maximum, strict_min=False, strict_max=False):
    """Return ``"; allowed range [a, b]"`` for two-sided bounds, else ``""``."""
    if minimum is None or maximum is None:
        return ""
    return f"; allowed range {_interval(minimum, maximum, strict_min, strict_max)}"


def _check_range(name, value, minimum, maximum):
    allowed = _allowed_range(minimum, maximum)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}{allowed}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}{allowed}")
