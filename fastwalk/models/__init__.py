"""Models the engine can run, looked up by their ``kind`` name.

Each model module defines a :class:`~fastwalk.models.base.Model` subclass;
:func:`model_class` imports it lazily so that looking up a name costs nothing.
"""

from __future__ import annotations

import importlib

#: kind name -> "module:ClassName"
REGISTRY = {
    "free": "fastwalk.models.free:FreeBrownian",
    "lattice": "fastwalk.models.lattice:LatticeWalk",
    "graph": "fastwalk.models.graph:GraphWalk",
    "potential": "fastwalk.models.potential:PotentialBrownian",
    "sphere": "fastwalk.models.sphere:SphereBrownian",
    "langevin": "fastwalk.models.langevin:LangevinBrownian",
}


def model_class(kind: str):
    """Return the model class registered under ``kind``.

    Parameters
    ----------
    kind : str
        One of the keys of :data:`REGISTRY`.

    Returns
    -------
    type
        The :class:`~fastwalk.models.base.Model` subclass.
    """
    if kind not in REGISTRY:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {', '.join(sorted(REGISTRY))}")
    module, name = REGISTRY[kind].split(":")
    return getattr(importlib.import_module(module), name)
