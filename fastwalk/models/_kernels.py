"""Kernel plumbing every model shares.

A kernel marks each walker whose state became non-finite with the (relative)
step at which it happened, ``bad[w] >= 0``, and returns the first such step
over all walkers (:func:`first_bad_step`); the model's ``advance`` then calls
:func:`raise_if_bad`, which names the global step. Observables are additive
sums over walkers; :func:`mean_and_sem` turns a sum and a sum of squares into
the mean and its standard error; :func:`squared_distances` gives each
walker's squared distance from its start (or from one point of the first axis);
:func:`prefetch` hints the CPU to fetch an array element (memory-bound kernels);
:func:`select` is a conditional move that LLVM may not turn into a branch.
"""

from __future__ import annotations

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
