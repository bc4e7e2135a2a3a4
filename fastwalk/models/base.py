"""The contract between a model and the engine.

A model is a validated, immutable set of parameters plus jitted kernels. The
engine (:mod:`fastwalk.engine`) only ever calls the methods below; it knows no
particular model. State is a ``dict`` of NumPy arrays so that checkpoints can
save and restore any model generically:

``state["rng"]``
    ``(walkers,)`` generator states (:data:`fastwalk.rng.STATE_DTYPE`).
other keys
    positions or nodes, start points, accumulators (visit counts,
    histograms) — whatever the model needs, all advanced in place.

Ensemble observables are produced in two phases so that walkers can be split
across threads, processes or machines: :meth:`Model.observe` returns
*additive* per-record sums over the walkers it is given, and
:meth:`Model.summarize` turns the (possibly combined) sums into the
observables written to file (means, standard errors, ...).
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import importlib
from typing import Any, ClassVar

import numpy as np


def resolve(spec: str):
    """Return the object a ``"package.module:name"`` string names, importing the module now.

    Parameters
    ----------
    spec : str
        ``"module:attribute"``, e.g. ``"fastwalk.analysis.plots:series_run_figure"``.

    Returns
    -------
    object
        The attribute.
    """
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


_TRUSTED_IMPORTS = contextvars.ContextVar("fastwalk_trusted_imports", default=False)


@contextlib.contextmanager
def trusting_imports():
    """Let models rebuilt inside this block import the ``module:function`` paths they record.

    Rebuilding a model from a file (:meth:`Model.from_parameters`) never
    imports code a file names unless the user said so: ``fastwalk resume
    --import-potential``, ``fw.resume(..., import_potential=True)``, or a
    model pickled by this process for its own Dask workers (DESIGN.md, "Trust model").

    Examples
    --------
    >>> from fastwalk.models.base import imports_trusted, trusting_imports
    >>> with trusting_imports():
    ...     imports_trusted()
    True
    >>> imports_trusted()
    False
    """
    token = _TRUSTED_IMPORTS.set(True)
    try:
        yield
    finally:
        _TRUSTED_IMPORTS.reset(token)


def imports_trusted() -> bool:
    """Return whether this context may import code that a file names (:func:`trusting_imports`)."""
    return _TRUSTED_IMPORTS.get()


class Model(abc.ABC):
    """Base class of every model the engine can run.

    Subclasses set the class attributes and implement the abstract methods.
    A subclass that sets ``kind`` registers itself under that name
    (:data:`kinds`). The analysis layer asks the class, never the kind name,
    what to do with a run: :attr:`picture` and :attr:`stationary_report` name
    functions as ``"module:function"`` strings, imported only when used
    (:func:`resolve`), so a model module never imports the analysis layer.

    Examples
    --------
    Every model is one of these; :func:`fastwalk.simulate` runs any of them:

    >>> import fastwalk as fw
    >>> from fastwalk.models.base import Model
    >>> model = fw.SphereBrownian(2, radius=1.0, diffusion=0.1, dt=0.01)
    >>> isinstance(model, Model), model.kind, model.dt
    (True, 'sphere', 0.01)
    """

    #: registry name, e.g. ``"lattice"``
    kind: ClassVar[str]
    #: H5MD particle element written by :meth:`frame`: ``"position"`` or ``"node"``
    frame_name: ClassVar[str] = "position"
    #: ``"module:function"`` drawing an open run of this model, ``f(run) -> Figure``
    picture: ClassVar[str] = "fastwalk.analysis.plots:series_run_figure"
    #: ``"module:function"`` comparing an open run with the model's exact stationary
    #: law, ``f(run, **options) -> dict``; None when the model has none
    stationary_report: ClassVar[str | None] = None
    #: what ``fastwalk stationary`` suggests for a model without a stationary law
    no_stationary_hint: ClassVar[str] = ""
    #: state arrays with one row per thread part (as many rows as threads when the state was
    #: built, so any number once it is read back); :meth:`check_state` checks only their rows
    per_part_state: ClassVar[tuple[str, ...]] = ()
    #: work arrays :meth:`advance` allocates for each thread part beside the state, as
    #: ``{state array name: copies}`` (e.g. a histogram each thread fills before they are
    #: added up); read by :meth:`memory_estimate`
    per_part_scratch: ClassVar[dict[str, int]] = {}
    #: every registered model class by kind (filled by ``__init_subclass__``)
    kinds: ClassVar[dict[str, type]] = {}

    def __init_subclass__(cls, **kwargs):
        """Register a subclass that declares its own ``kind``."""
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            Model.kinds[cls.kind] = cls

    # ------------------------------------------------------------------ description
    @property
    @abc.abstractmethod
    def dt(self) -> float:
        """Time per step: the integrator step for continuous models, 1 for walks."""

    @abc.abstractmethod
    def parameters(self) -> dict[str, Any]:
        """Return the resolved, JSON-serialisable parameters.

        ``type(self).from_parameters(self.parameters(), self.parameter_arrays())``
        must rebuild an equal model.
        """

    def for_run(self, seed: int, burn_in: int) -> Model:
        """Return the model a run of this seed and burn-in simulates (by default itself).

        A model whose settings are chosen per run (the Langevin model's
        ``dt="auto"``) resolves them here, deterministically from ``seed``
        and ``burn_in``. The engine calls it once, before anything is
        written, and records the returned model, so readers and resume
        need nothing more.

        Parameters
        ----------
        seed : int
            The run's seed.
        burn_in : int
            The run's burn-in steps.

        Returns
        -------
        Model
            A model whose parameters are all fixed.
        """
        return self

    def parameter_arrays(self) -> dict[str, np.ndarray]:
        """Return arrays stored under ``/parameters`` (e.g. ``"graph/indptr"``)."""
        return {}

    @classmethod
    def examples(cls) -> list[Model]:
        """Return small instances that between them call every compiled kernel of the model.

        ``fastwalk info --warm`` runs each for a few steps so that numba's cache
        holds every kernel before the first real run. The default is none.
        """
        return []

    @classmethod
    @abc.abstractmethod
    def from_parameters(cls, parameters: dict[str, Any], arrays: dict[str, np.ndarray]) -> Model:
        """Rebuild a model from :meth:`parameters` and :meth:`parameter_arrays`."""

    @abc.abstractmethod
    def box(self) -> dict[str, Any]:
        """Describe the H5MD box.

        Returns
        -------
        dict
            ``{"dimension": int, "boundary": "periodic" | "none",
            "edges": sequence of float or None}``.
        """

    # ------------------------------------------------------------------ dynamics
    @abc.abstractmethod
    def initial_state(self, rng_states: np.ndarray) -> dict[str, np.ndarray]:
        """Build the state of the walkers whose generators are ``rng_states``.

        Any random initial condition must be drawn from these streams, so that
        a walker's start depends only on (seed, walker index).
        """

    @abc.abstractmethod
    def advance(self, state: dict[str, np.ndarray], first_step: int, steps: int,
                accumulate: bool) -> None:
        """Advance every walker by ``steps`` steps, in place.

        Parameters
        ----------
        state : dict
            As returned by :meth:`initial_state`.
        first_step : int
            Global index of the first of these steps (negative during burn-in);
            used to name the step in error messages.
        steps : int
            Number of steps (>= 0).
        accumulate : bool
            Whether in-kernel accumulators (visit counts, histograms) count
            these steps; False during burn-in.

        Raises
        ------
        fastwalk.errors.SimulationError
            If the state became non-finite; the message names the step.
        """

    @abc.abstractmethod
    def frame(self, state: dict[str, np.ndarray]) -> np.ndarray:
        """Return the per-walker record: positions ``[N][D]`` or nodes ``[N]``."""

    def observe(self, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return additive sums over these walkers for one observable record."""
        return {}

    def summarize(self, sums: dict[str, np.ndarray], walkers: int) -> dict[str, np.ndarray]:
        """Turn the sums of :meth:`observe` over ``walkers`` walkers into observables."""
        return dict(sums)

    def accumulators(self, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Return the additive in-kernel accumulators (e.g. final histograms)."""
        return {}

    def check_state(self, state: dict[str, np.ndarray], walkers: int) -> None:
        """Refuse a state this model could not have written for ``walkers`` walkers.

        A checkpoint read back from disk passes here before a run continues from
        it, so that a damaged or edited one is an error, not a crash or quietly
        wrong numbers: the arrays must be those of :meth:`initial_state` (names,
        dtypes, shapes), floats finite, integers (counts and indices) not
        negative, and no generator in xoshiro's all-zero fixed point; then
        :meth:`check_state_values` checks what only the model knows.

        Parameters
        ----------
        state : dict of numpy.ndarray
            The state to check.
        walkers : int
            The number of walkers it must hold.

        Raises
        ------
        ValueError
            Naming the first array that is wrong, and how.
        """
        expected = self._state_layout(walkers)
        if state.keys() != expected.keys():
            raise ValueError(f"its state has arrays {sorted(state)}, not {sorted(expected)}")
        for key, (dtype, shape) in expected.items():
            value = state[key]
            if key in self.per_part_state and value.ndim and value.shape[0] >= 1:
                shape = value.shape[:1] + shape[1:]
            if value.dtype != dtype or value.shape != shape:
                raise ValueError(f"state {key!r} is {value.dtype} {value.shape}, not {dtype} {shape}")
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise ValueError(f"state {key!r} holds non-finite numbers")
            if value.dtype.kind == "i" and (value < 0).any():
                raise ValueError(f"state {key!r} holds negative counts or indices")
        if (state["rng"].view(np.uint64).reshape(-1, 4) == 0).all(axis=1).any():
            raise ValueError("a walker's generator state is all zeros")
        self.check_state_values(state)

    def check_state_values(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Refuse values only this model knows to be impossible (nodes, boxes); see :meth:`check_state`.

        Parameters
        ----------
        state : dict of numpy.ndarray
            A state whose arrays have the right names, dtypes and shapes.

        Raises
        ------
        ValueError
            Naming the array and what is wrong with it.
        """

    def _state_layout(self, walkers: int) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
        """Return ``{name: (dtype, shape)}`` of the state of ``walkers`` walkers.

        Read off the states of one and two walkers: an array whose length differs
        between them holds one row per walker.
        """
        from fastwalk import rng

        one, two = (self.initial_state(rng.seed_states(0, 0, n)) for n in (1, 2))
        return {key: (value.dtype,
                      (walkers, *value.shape[1:]) if value.shape != two[key].shape else value.shape)
                for key, value in one.items()}

    def memory_estimate(self, walkers: int, parts: int) -> dict[str, int]:
        """Return the bytes a run of ``walkers`` walkers on ``parts`` threads needs, by kind.

        Read off the states of one and two walkers (as ``_state_layout``): an
        array of :attr:`per_part_state` has one row per thread part, and two more
        (their sum, and its copy as it is written out); another array whose length grows with the
        walkers is per walker, counted twice (a frame or an observable may copy
        it); the rest is shared. :attr:`per_part_scratch` adds the work arrays of
        :meth:`advance`. Arrays the model itself holds (a graph, a table) are not
        counted: they exist before the run. DESIGN.md, "Memory estimate", gives
        the factor within which this matches a measured peak.

        Parameters
        ----------
        walkers : int
            Number of walkers (>= 1).
        parts : int
            Numba threads of the run; parts are ``min(parts, walkers)``.

        Returns
        -------
        dict
            ``per_walker`` (bytes of one walker's arrays), ``per_part`` (one
            row of every per-part array), ``shared``, ``scratch`` and ``total``
            (what the run needs beyond the model).
        """
        from fastwalk import rng

        parts = max(1, min(int(parts), int(walkers)))
        one, two = (self.initial_state(rng.seed_states(0, 0, n)) for n in (1, 2))
        per_walker = per_part = shared = 0
        for key, value in one.items():
            value = np.asarray(value)
            if key in self.per_part_state:
                per_part += value.nbytes // max(1, value.shape[0])
            elif value.shape != np.shape(two[key]):
                per_walker += value.nbytes
            else:
                shared += value.nbytes
        scratch = parts * sum(copies * np.asarray(one[key]).nbytes
                              for key, copies in self.per_part_scratch.items())
        total = 2 * walkers * per_walker + (parts + 2) * per_part + shared + scratch
        return {"per_walker": per_walker, "per_part": per_part, "shared": shared,
                "scratch": scratch, "total": total}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        if self.parameters() != other.parameters():
            return False
        mine, theirs = self.parameter_arrays(), other.parameter_arrays()
        return mine.keys() == theirs.keys() and all(
            np.array_equal(mine[k], theirs[k]) for k in mine
        )

    __hash__ = None  # mutable-looking containers of arrays: not hashable

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.parameters().items() if k != "kind")
        return f"{type(self).__name__}({args})"
