"""Kernel plumbing every model shares.

A kernel marks each walker whose state became non-finite with the (relative)
step at which it happened, ``bad[w] >= 0``, and returns the first such step
over all walkers (:func:`first_bad_step`); the model's ``advance`` then calls
:func:`raise_if_bad`, which names the global step. Observables are additive
sums over walkers (float ones as :class:`ExactSum`, so that any split of the
walkers gives the same bits); :func:`mean_and_sem` turns a sum and a sum of squares into
the mean and its standard error; :func:`squared_distances` gives each
walker's squared distance from its start (or from one point of the first axis);
:func:`prefetch` hints the CPU to fetch an array element (memory-bound kernels);
:func:`select` is a conditional move that LLVM may not turn into a branch.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange
from numba.core import cgutils, types
from numba.extending import intrinsic

from fastwalk._jit import jit, pjit
from fastwalk.errors import SimulationError

#: unsigned index type: numba emits no negative-index wraparound for ``a[_U(i)]``
U = np.uintp


@jit
def first_bad_step(bad):
    """Return the smallest non-negative entry of ``bad`` (the first failing step), or -1."""
    worst = -1
    for value in bad:
        if value >= 0 and (worst < 0 or value < worst):
            worst = value
    return worst


def raise_if_bad(bad: int, first_step: int) -> None:
    """Raise :class:`~fastwalk.errors.SimulationError` if a kernel reported a failing step.

    Parameters
    ----------
    bad : int
        The kernel's :func:`first_bad_step` (relative to the call), or -1.
    first_step : int
        Global index of the call's first step.
    """
    if bad >= 0:
        raise SimulationError(
            f"a walker's position became non-finite at step {first_step + bad + 1}"
        )


# ---------------------------------------------------------------------- exact sums
#: limbs of 32 bits; bit 0 of limb 0 weighs 2^-_LOWEST, below the smallest subnormal's
#: integer mantissa (frexp gives f·2^e, f·2^53 an integer, e - 53 >= -1126)
_LIMBS, _LOWEST = 72, 1126
_MASK = (1 << 32) - 1


@jit
def _carry(limbs):
    """Bring every limb but the last into [0, 2^32), carrying upward (the value is unchanged)."""
    for i in range(limbs.shape[0] - 1):
        carry = limbs[i] >> 32
        limbs[i] -= carry << 32
        limbs[i + 1] += carry


@jit
def _add_exactly(values, first, stop, limbs):
    """Add ``values[first:stop]`` exactly into ``limbs``; return the sum of the non-finite ones."""
    special = 0.0
    for n in range(first, stop):
        x = values[n]
        if not math.isfinite(x):
            special += x
            continue
        if x == 0.0:
            continue
        fraction, exponent = math.frexp(abs(x))
        mantissa = np.int64(fraction * 9007199254740992.0)  # f·2^53, exact
        shift = exponent - 53 + _LOWEST
        i, r = shift >> 5, shift & 31
        low, high = (mantissa & _MASK) << r, (mantissa >> 32) << r
        sign = 1 if x > 0.0 else -1
        limbs[i] += sign * (low & _MASK)
        limbs[i + 1] += sign * ((low >> 32) + (high & _MASK))
        limbs[i + 2] += sign * (high >> 32)
        if (n - first) & 0xFFFFFFF == 0xFFFFFFF:  # 2^28 values: no limb nears 2^63
            _carry(limbs)
    _carry(limbs)
    return special


@pjit
def _exact_sum_kernel(values, limbs):
    """Add ``values`` exactly into ``limbs``; return the sum of the non-finite values (0 if none).

    Chunks run in parallel: the sum is exact, so any split gives the same limbs.
    """
    chunks = max(1, min(64, values.shape[0] // 65536))
    parts = np.zeros((chunks, limbs.shape[0]), dtype=np.int64)
    specials = np.zeros(chunks)
    for c in prange(chunks):
        first = values.shape[0] * c // chunks
        stop = values.shape[0] * (c + 1) // chunks
        specials[c] = _add_exactly(values, first, stop, parts[c])
    special = 0.0
    for c in range(chunks):
        limbs += parts[c]  # each in [0, 2^32): no overflow
        special += specials[c]
    _carry(limbs)
    return special


class ExactSum:
    """The exact sum of float64 values, rounded once when it is read (:meth:`value`).

    Sums of disjoint sets of walkers add exactly (integer limbs), so an
    observable is the same to the last bit however the walkers are split
    (threads, Dask partitions) and in whatever order the parts are added:
    the correctly rounded sum of all the values. DESIGN.md, "Dask runs".

    Parameters
    ----------
    values : array_like of float, optional
        Values to sum (none: zero).
    """

    __slots__ = ("limbs", "special")

    def __init__(self, values=()):
        self.limbs = np.zeros(_LIMBS, dtype=np.int64)
        values = np.ascontiguousarray(values, dtype=np.float64).ravel()
        self.special = float(_exact_sum_kernel(values, self.limbs)) if values.size else 0.0

    def __add__(self, other: ExactSum) -> ExactSum:
        if not isinstance(other, ExactSum):
            return NotImplemented
        out = ExactSum()
        out.limbs = self.limbs + other.limbs  # limbs in [0, 2^32): no overflow
        _carry(out.limbs)
        out.special = self.special + other.special
        return out

    def __radd__(self, other) -> ExactSum:
        if isinstance(other, int) and other == 0:  # sum() starts from 0
            return self
        return NotImplemented

    def __float__(self) -> float:
        return self.value()

    def value(self) -> float:
        """Return the correctly rounded sum (non-finite values dominate, as in a float sum).

        Raises
        ------
        OverflowError
            If the exact sum is beyond the largest double.
        """
        if self.special != 0.0 or math.isnan(self.special):
            return self.special
        total = sum(int(limb) << (32 * i) for i, limb in enumerate(self.limbs))
        return total / (1 << _LOWEST)  # int / int: correctly rounded

    def __reduce__(self):
        return _exact_sum_from, (self.limbs, self.special)


def _exact_sum_from(limbs, special) -> ExactSum:
    out = ExactSum()
    out.limbs, out.special = np.array(limbs, dtype=np.int64), float(special)
    return out


def rounded(sums: dict) -> dict:
    """Return ``sums`` with every :class:`ExactSum` read as a 0-d float64 array."""
    return {name: np.array(value.value()) if isinstance(value, ExactSum) else value
            for name, value in sums.items()}


def mean_and_sem(total, squares, walkers: int):
    """Return the mean over ``walkers`` and its standard error from additive sums.

    Parameters
    ----------
    total, squares : array_like
        Sum of a per-walker value and of its square, over the walkers.
    walkers : int
        Number of walkers summed.

    Returns
    -------
    mean, sem : numpy.ndarray
        ``total / N`` and ``sqrt(max(squares/N − mean², 0) / max(N − 1, 1))``.
    """
    mean = total / walkers
    variance = np.maximum(squares / walkers - mean**2, 0.0)
    return mean, np.sqrt(variance / max(walkers - 1, 1))


@pjit
def squared_distances(positions, start, pole):
    """Return |x_w − start_w|² per walker; with ``start`` empty, to the point ``pole``·e_0."""
    walkers, size = positions.shape
    out = np.empty(walkers)
    from_pole = start.shape[0] == 0
    for w in prange(walkers):
        total = 0.0
        if from_pole:
            d = positions[w, 0] - pole
            total = d * d
            for j in range(1, size):
                total += positions[w, j] * positions[w, j]
        else:
            for j in range(size):
                d = positions[w, j] - start[w, j]
                total += d * d
        out[w] = total
    return out



@intrinsic
def prefetch(typingctx, array, index):
    """Hint the CPU to fetch ``array[index]`` into cache (LLVM's ``llvm.prefetch``; no bounds check).

    A prefetch never faults, so an index past the end is harmless. A memory-bound
    kernel issues it for the reads of several independent walkers before making
    them, so that their cache misses overlap instead of queueing.
    """
    from llvmlite import ir

    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        address = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]],
                                           wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        # read access, keep in all cache levels, data cache
        builder.call(function, [builder.bitcast(address, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@intrinsic
def select(typingctx, condition, if_true, if_false):
    """``if_true if condition else if_false``, compiled to a conditional move, never a branch.

    An LLVM ``select`` marked ``!unpredictable``: without the mark LLVM turns a
    select on a loop's critical path back into a branch, which a binary
    search (the weighted graph step) mispredicts half the time (~15 cycles each).
    """
    if not isinstance(condition, types.Boolean) or if_true != if_false:
        return None

    def codegen(context, builder, signature, args):
        choice = builder.select(args[0], args[1], args[2])
        choice.set_metadata("unpredictable", builder.module.add_metadata([]))
        return choice

    return if_true(condition, if_true, if_false), codegen


@intrinsic
def stack_array(typingctx, rows, columns, dtype):
    """Return a C-contiguous ``(rows, columns)`` work array on the stack (constant shape; no NRT).

    Allocated once in the function's entry block, so LLVM knows it is
    distinct from every other array: loops over it vectorise without
    run-time overlap checks, and it needs no reference counting (a kernel
    compiled with ``_nrt=False`` may use it). It lives until the function
    returns; never return it.
    """
    from llvmlite import ir

    if not (isinstance(rows, types.IntegerLiteral) and isinstance(columns, types.IntegerLiteral)
            and isinstance(dtype, (types.DTypeSpec, types.NumberClass))):
        return None
    element = dtype.dtype if isinstance(dtype, types.DTypeSpec) else dtype.instance_type
    array_type = types.Array(element, 2, "C")
    shape = (rows.literal_value, columns.literal_value)

    def codegen(context, builder, signature, args):
        item = context.get_data_type(element)
        itemsize = context.get_abi_sizeof(item)
        storage = cgutils.alloca_once(builder, ir.ArrayType(item, shape[0] * shape[1]))
        storage.align = 64
        array = context.make_array(array_type)(context, builder)
        intp = context.get_value_type(types.intp)
        from numba.np.arrayobj import populate_array

        populate_array(array, data=builder.bitcast(storage, item.as_pointer()),
                       shape=[intp(n) for n in shape],
                       strides=[intp(shape[1] * itemsize), intp(itemsize)],
                       itemsize=intp(itemsize), meminfo=None)
        return array._getvalue()

    return array_type(rows, columns, dtype), codegen


def energy_sums(energy: np.ndarray, accepted: np.ndarray, proposed: np.ndarray) -> dict:
    """Return the additive sums of a Langevin-type model's observables over these walkers.

    Parameters
    ----------
    energy : numpy.ndarray
        Each walker's U now.
    accepted, proposed : numpy.ndarray
        Each walker's accepted and proposed MALA moves so far.

    Returns
    -------
    dict
        ``energy_sum`` and ``energy_sq_sum`` (:class:`ExactSum`), ``accepted``
        and ``proposed`` (integers): what :func:`energy_summary` reads.
    """
    return {"energy_sum": ExactSum(energy), "energy_sq_sum": ExactSum(energy * energy),
            "accepted": np.array(int(accepted.sum())), "proposed": np.array(int(proposed.sum()))}


def energy_summary(sums: dict, walkers: int, mala: bool) -> dict:
    """Return ``mean_energy``, ``sem_energy`` and (MALA) ``acceptance_rate`` from :func:`energy_sums`.

    Parameters
    ----------
    sums : dict
        Sums over all walkers (added across parts).
    walkers : int
        Number of walkers.
    mala : bool
        Whether the model accepts moves (adds ``acceptance_rate``; NaN before any proposal).

    Returns
    -------
    dict
        The observables.
    """
    sums = rounded(sums)
    mean, sem = mean_and_sem(sums["energy_sum"], sums["energy_sq_sum"], walkers)
    result = {"mean_energy": mean, "sem_energy": sem}
    if mala:
        proposed = sums["proposed"]
        result["acceptance_rate"] = np.where(proposed > 0, sums["accepted"] / np.maximum(proposed, 1), np.nan)
    return result
