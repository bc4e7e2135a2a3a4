"""fastwalk: random motion near singular minimum-loss sets.

Numba-compiled random walks on intersecting lattices and graphs, Brownian
motion under min-potentials and on hyperspheres, streamed to H5MD files.

The main names are here, imported on first use (PEP 562) so that
``import fastwalk`` and ``fastwalk --help`` stay cheap and load no numba::

    import fastwalk as fw
    run = fw.simulate(fw.LatticeWalk(fw.Crossing.lines(3), length=9), walkers=100, steps=1000, seed=1)
    run.accumulators["visit_counts"]

Every model class of :data:`fastwalk.models.REGISTRY` is exported under its
class name; the registry is read off the model modules, so a new model module
appears here without further change.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from fastwalk._version import __version__
from fastwalk.models import REGISTRY as _MODELS

#: public name -> module that defines it (model classes come from the model registry)
_EXPORTS = {
    "simulate": "fastwalk.api",
    "resume": "fastwalk.api",
    "Crossing": "fastwalk.crossing",
    "perturb": "fastwalk.perturb",
    "sphere_init": "fastwalk.perturb",
    "simulate_ensemble": "fastwalk.distributed",
    "RunResult": "fastwalk.engine",
    "sample_network": "fastwalk.networks",
    "trained_point": "fastwalk.networks",
    "parse_network": "fastwalk.networks",
    "reduced_rank_regression": "fastwalk.analysis.rlct",
    **{target.split(":")[1]: target.split(":")[0] for target in _MODELS.values()},
}

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

__all__ = ["__version__", "open", *sorted(_EXPORTS)]


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

    Examples
    --------
    >>> import fastwalk as fw
    >>> fw.simulate(fw.SphereBrownian(3, radius=1.0, diffusion=0.1, dt=0.01), walkers=10,
    ...             steps=100, seed=2, every=50, out="o.h5", overwrite=True).close()
    >>> with fw.open("o.h5") as run:
    ...     print(run.model.dim, run.frames.shape, run.seed)
    3 (3, 10, 4) 2
    """
    from fastwalk.io.reader import open_run

    return open_run(path)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"fastwalk.{name}")
    raise AttributeError(f"module 'fastwalk' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *_LAZY_SUBMODULES})


class _Package(types.ModuleType):
    """The package module; an export keeps its name when a submodule of that name is imported.

    Importing ``fastwalk.perturb`` (the module) sets the package attribute
    ``perturb``; the function :func:`fastwalk.perturb.perturb` keeps it.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _EXPORTS and name in self.__dict__:
            return
        if isinstance(value, types.ModuleType) and name in _EXPORTS:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
