"""The one place that holds fastwalk's numba options.

Every kernel is compiled through :func:`jit` or :func:`pjit`, so caching and
math flags are decided here once. Fast-math is restricted to flags that keep
NaN and infinity semantics intact (no ``nnan``/``ninf``), because the engine
detects blow-ups by checking ``np.isfinite`` on the state.
"""

from __future__ import annotations

import numba

#: fast-math flags that leave NaN/inf handling exact
FASTMATH = frozenset({"contract", "arcp", "nsz", "reassoc"})

_BASE_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}


def jit(*args, fastmath: bool = False, **kwargs):
    """Compile a serial kernel with fastwalk's options.

    Parameters
    ----------
    *args
        Forwarded to :func:`numba.njit` (a function or a signature).
    fastmath : bool, optional
        Use the NaN-safe fast-math flag set :data:`FASTMATH`.
    **kwargs
        Extra numba options; they override the defaults.

    Returns
    -------
    callable
        The compiled function or a decorator.
    """
    options = dict(_BASE_OPTIONS)
    if fastmath:
        options["fastmath"] = set(FASTMATH)
    options.update(kwargs)
    return numba.njit(*args, **options)


def pjit(*args, fastmath: bool = False, **kwargs):
    """Compile a ``prange`` kernel (``parallel=True``) with fastwalk's options.

    Parameters
    ----------
    *args, fastmath, **kwargs
        As for :func:`jit`.

    Returns
    -------
    callable
        The compiled function or a decorator.
    """
    return jit(*args, fastmath=fastmath, parallel=True, **kwargs)
