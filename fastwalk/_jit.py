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


def _keep_compiled_code_when_cache_fails() -> None:
    """Let a kernel whose compiled code cannot be saved (a full disk) run all the same.

    numba falls back to another directory when its cache directory is read-only, but a
    write that fails later (ENOSPC, EIO) escapes from the call that compiled the kernel,
    as a traceback, although the code is compiled and in memory. Here such a failure is
    one note on stderr (once per process); the next run compiles again.
    """
    from numba.core import caching

    save = caching.Cache.save_overload
    if getattr(save, "fastwalk_tolerant", False):
        return

    def save_overload(self, sig, data):
        try:
            save(self, sig, data)
        except OSError as exc:
            _note_unsaved(self._cache_path, exc)

    save_overload.fastwalk_tolerant = True
    caching.Cache.save_overload = save_overload


_noted: list[str] = []


def _note_unsaved(directory: str, exc: OSError) -> None:
    import sys

    if _noted:
        return
    _noted.append(directory)
    try:
        sys.stderr.write(f"Note: numba could not save compiled code in {directory} "
                         f"({exc.strerror or exc}); this run goes on, the next one compiles again\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


_keep_compiled_code_when_cache_fails()


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
