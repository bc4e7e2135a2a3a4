"""Kernel plumbing every model shares."""

from __future__ import annotations

import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic


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


#: unsigned index type: numba emits no negative-index wraparound for ``a[_U(i)]``
U = np.uintp
