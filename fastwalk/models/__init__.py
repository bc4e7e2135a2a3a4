"""Models the engine can run, looked up by their ``kind`` name.

A model of kind ``K`` is the :class:`~fastwalk.models.base.Model` subclass
with ``kind = "K"`` defined in ``fastwalk/models/K.py``: it registers itself
when its module is imported (``Model.__init_subclass__``), and
:func:`model_class` imports that module on first use, so looking up a name
costs nothing. :data:`REGISTRY` names the package's models for the lazy
top-level exports (``fastwalk.LatticeWalk``); models defined elsewhere (plugins,
tests) are found once imported, or through an entry added to it.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastwalk.models.base import Model, resolve

__all__ = ["REGISTRY", "known_kinds", "model_class", "resolve"]

#: kind name -> ``"module:ClassName"``: the top-level package exports these classes
#: lazily by name (``fw.LatticeWalk``) without importing numba; models found only by
#: the module convention or imported from elsewhere work too, but are not exported there
REGISTRY: dict[str, str] = {
    "free": "fastwalk.models.free:FreeBrownian",
    "lattice": "fastwalk.models.lattice:LatticeWalk",
    "graph": "fastwalk.models.graph:GraphWalk",
    "potential": "fastwalk.models.potential:PotentialBrownian",
    "sphere": "fastwalk.models.sphere:SphereBrownian",
    "langevin": "fastwalk.models.langevin:LangevinBrownian",
}


def _import_kind(kind: str) -> None:
    """Import ``fastwalk.models.<kind>`` if there is such a module."""
    name = f"{__name__}.{kind}"
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise


def known_kinds() -> list[str]:
    """Return every model kind there is (imports each model module).

    Returns
    -------
    list of str
        Sorted kind names.
    """
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            _import_kind(module.name)
    return sorted({*Model.kinds, *REGISTRY})


def model_class(kind: str) -> type[Model]:
    """Return the model class of ``kind``.

    Parameters
    ----------
    kind : str
        A model's ``kind``, e.g. ``"lattice"``.

    Returns
    -------
    type
        The :class:`~fastwalk.models.base.Model` subclass.

    Raises
    ------
    ValueError
        If no model has that kind.
    """
    if kind in REGISTRY:
        return resolve(REGISTRY[kind])
    if kind not in Model.kinds and kind.isidentifier() and not kind.startswith("_"):
        _import_kind(kind)
    if kind not in Model.kinds:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {', '.join(known_kinds())}")
    return Model.kinds[kind]
