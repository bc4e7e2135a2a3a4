"""fastwalk: random motion near singular minimum-loss sets.

Numba-compiled random walks on intersecting lattices and graphs, Brownian
motion under min-potentials and on hyperspheres, streamed to H5MD files.
Submodules are imported lazily so that ``import fastwalk`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastwalk._version import __version__

__all__ = ["__version__", "open"]

_LAZY_SUBMODULES = {
    "rng",
    "engine",
    "crossing",
    "models",
    "io",
    "analysis",
    "perturb",
    "distributed",
}


def open(path: str):  # noqa: A001 - mirrors h5py.File / builtins.open on purpose
    """Open a fastwalk HDF5 file for reading.

    Parameters
    ----------
    path : str
        A file written by fastwalk.

    Returns
    -------
    fastwalk.io.reader.Run
        Lazy view of the run: parameters, model, frames and observables.
    """
    from fastwalk.io.reader import open_run

    return open_run(path)


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"fastwalk.{name}")
    raise AttributeError(f"module 'fastwalk' has no attribute {name!r}")
