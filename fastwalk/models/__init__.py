"""Models the engine can run, looked up by their ``kind`` name.

A model of kind ``K`` is the :class:`~fastwalk.models.base.Model` subclass
with ``kind = "K"`` defined in ``fastwalk/models/K.py``: it registers itself
when its module is imported (``Model.__init_subclass__``), and
:func:`model_class` imports that module on first use, so looking up a name
costs nothing. :data:`REGISTRY` names the package's models for the lazy
top-level exports (``fastwalk.LatticeWalk``): it is read off the model modules'
text (a top-level class whose body says ``kind = "K"``), so a new module is all
it takes, and nothing is imported to build it. Models defined elsewhere
(plugins, tests) are found once imported, or through an entry added to it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastwalk.models.base import Model

__all__ = ["REGISTRY", "known_kinds", "model_class", "resolve"]

_CLASS = re.compile(r"^class (\w+)\b")
_KIND = re.compile(r'^    kind = "(\w+)"')


def _declared_models() -> dict[str, str]:
    """Return ``{kind: "module:ClassName"}`` for the model classes in this package's modules.

    The modules are read as text, not imported (``fastwalk --help`` must not load numba):
    a top-level ``class`` line names the class that a following ``    kind = "K"`` belongs to.
    """
    found = {}
    for path in sorted(Path(__file__).parent.glob("[!_]*.py")):
        owner = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("class "):
                owner = _CLASS.match(line).group(1)
            elif owner is not None and (kind := _KIND.match(line)):
                found[kind.group(1)] = f"{__name__}.{path.stem}:{owner}"
    return found


#: kind name -> ``"module:ClassName"``: the top-level package exports these classes
#: lazily by name (``fw.LatticeWalk``) without importing numba
REGISTRY: dict[str, str] = _declared_models()


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
    from fastwalk.models.base import Model

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
    from fastwalk.models.base import Model, resolve

    if kind in REGISTRY:
        return resolve(REGISTRY[kind])
    if kind not in Model.kinds and kind.isidentifier() and not kind.startswith("_"):
        _import_kind(kind)
    if kind not in Model.kinds:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {', '.join(known_kinds())}")
    return Model.kinds[kind]


def __getattr__(name: str):
    # Model and resolve load NumPy: imported on first use, so that ``import fastwalk`` stays cheap
    if name in ("Model", "resolve"):
        from fastwalk.models import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
