"""Overdamped Langevin dynamics in R^d under any potential: Euler–Maruyama and MALA.

dX = −∇U_s(X) dt + √(2T) dW, U_s = U + T·γ/2·|x − x*|² (γ = 0 unless
localized), on the box [c − L/2, c + L/2]^d with a reflecting, periodic or no
boundary. The sampled law is ∝ exp(−U_s/T) = exp(−U/T − γ/2·|x − x*|²): the
localizer is a fixed Gaussian prior of precision γ about x*, not divided by T
(Lau et al., *The Local Learning Coefficient*, AISTATS 2025; devinterp). U is a
typed expression (:class:`fastwalk.expression.Expression`) or a pair of
numba-jitted functions ``energy(x)`` and ``gradient(x, out)``.

- ``em``: Euler–Maruyama, x ← boundary(x − dt·∇U_s + √(2T·dt)·ξ); its law
  is Boltzmann's up to an O(dt) bias.
- ``mala``: the same move is a proposal accepted with the Metropolis–Hastings
  ratio, so the stationary law is exactly ∝ exp(−U_s/T) on the box at any dt
  (with ``reflect``, proposals outside the box are refused).

The step itself is in :mod:`fastwalk.models._langevin_kernels`: serial
kernels that move tiles of up to ``rng.LANES`` walkers in SIMD lanes, one
call per block of walkers, the blocks run on ``numba.get_num_threads()``
Python threads (the kernels release the GIL); a walker's numbers depend on
nothing but its own stream, so the result is the same for any number of
blocks and any tiling. Observables:
``mean_energy`` and ``sem_energy`` of the user's U (never the localizing
term) across walkers, and ``acceptance_rate`` (MALA: accepted / proposed
since step 0). Accumulators: ``walker_energy_sum`` (float64 [N], Σ U over
the walker's counted steps) and ``walker_energy_count`` (int64 [N], its
counted steps, which for MALA are its proposals), with MALA
``walker_accepted`` (int64 [N], the walker's accepted proposals over its
counted steps: its own acceptance is ``walker_accepted /
walker_energy_count``, which names stuck walkers), the
``marginals`` [d][bins] of every coordinate and ``histogram_2d`` [bins][bins]
of (x0, x1) over the box (absolute coordinates: bin i of coordinate j covers
[lo_j + i·L/bins, lo_j + (i+1)·L/bins)), and ``samples`` (walker-steps
counted, so that with ``none`` the mass outside the box is known).
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.util
import itertools
import numbers
from collections.abc import Sequence

import numba
import numpy as np

from fastwalk import rng, validate
from fastwalk.errors import SimulationError
from fastwalk.models._kernels import energy_summary, energy_sums
from fastwalk.models.base import Model

__all__ = ["LangevinBrownian"]

_METHODS = ("em", "mala")
_BOUNDARIES = ("reflect", "periodic", "none")
_STARTS = ("center", "uniform")
_PAIR_MODULES = itertools.count()


def _is_auto(dt) -> bool:
    return isinstance(dt, str) and dt.strip().lower() == "auto"


def _function_path(fn) -> str | None:
    """Return ``"module:qualname"`` if importing it gives back ``fn``, else None."""
    py = getattr(fn, "py_func", fn)
    module, qualname = getattr(py, "__module__", None), getattr(py, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        return None
    try:
        found = _import_path(f"{module}:{qualname}")
    except (ImportError, AttributeError, ValueError):
        return None
    return f"{module}:{qualname}" if found is fn else None


def _import_path(path: str):
    module, _, qualname = path.partition(":")
    if not module or not qualname:
        raise ValueError(f"{path!r} is not a 'module:function' path")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


_PAIRS: dict = {}


def _pair_kernels(energy, gradient, dim: int):
    """Return a copy of the kernel module calling a Python-given jitted pair in ``dim`` coordinates.

    Not cached on disk (numba could not tell when the user's functions
    change); one copy per pair, dimension and process, so a rebuilt model reuses it.
    """
    key = (energy, gradient, dim)
    if key not in _PAIRS:
        from fastwalk.models import _langevin_kernels

        spec = importlib.util.spec_from_file_location(
            f"fastwalk._langevin_pair_{next(_PAIR_MODULES)}", _langevin_kernels.__file__)
        module = importlib.util.module_from_spec(spec)
        module.CACHE = False
        module.DIM = dim
        spec.loader.exec_module(module)
        module.energy = energy
        module.gradient = gradient
        _PAIRS[key] = module
    return _PAIRS[key]


@functools.lru_cache(maxsize=4)
def _pool(threads: int):
    """Return a thread pool of ``threads`` workers (the kernels release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fastwalk-langevin")


@functools.lru_cache(maxsize=64)
def _expression(text: str, dim: int, params: tuple):
    """Return the (shared) :class:`~fastwalk.expression.Expression` of these arguments."""
    from fastwalk.expression import Expression

    return Expression(text, dim, dict(params))


def _rebuild(parameters: dict) -> LangevinBrownian:
    """Rebuild a pickled model (see :meth:`LangevinBrownian.__reduce__`): this process's own model."""
    from fastwalk.models.base import trusting_imports

    with trusting_imports():
        return LangevinBrownian.from_parameters(parameters, {})


class LangevinBrownian(Model):
    """Overdamped Langevin dynamics under a user-given potential (module docstring).

    Parameters
    ----------
    potential : str or fastwalk.expression.Expression or numba dispatcher
        U as text in ``x0 .. x{dim-1}`` (and ``params``), an
        :class:`~fastwalk.expression.Expression`, or a jitted
        ``energy(x) -> float`` (then ``gradient`` is required).
    dim : int
        Number of coordinates d (>= 1).
    params : dict of str to float, optional
        Named constants of the text.
    box : float
        Side L (> 0) of the box [c − L/2, c + L/2]^d.
    center : float or sequence of float, optional
        Its center c (one value for all coordinates, or d values).
    boundary : {"reflect", "periodic", "none"}, optional
        Reflect at the walls (the uniform prior on the box), wrap (U should be
        periodic), or no boundary (U must confine; the box only frames the
        histograms).
    temperature : float
        T > 0.
    dt : float or "auto"
        Time step (> 0). For ``em`` it must keep the walk stable:
        dt·κ < 2 where κ is the largest curvature of U_s in the box
        (U's, plus T·γ). ``"auto"``: chosen for each run by ``for_run``
        (MALA: a pilot adapts it toward an acceptance of 0.574 during the
        burn-in; EM: 0.05 of the stability limit 2/κ), then fixed and
        recorded as the run's dt.
    method : {"em", "mala"}, optional
        Euler–Maruyama or Metropolis-adjusted Langevin.
    start : {"center", "uniform"} or sequence of float, optional
        Start at c, uniformly in the box (d uniforms per walker from its
        stream), or at the given point.
    localize : float, optional
        γ >= 0, the precision of the fixed Gaussian prior
        ``exp(−γ/2·|x − x*|²)`` that multiplies exp(−U/T) (0 = off); the
        dynamics sample ``U_s = U + T·γ/2·|x − x*|²`` at temperature T.
    at : float or sequence of float, optional
        The point x* (default: the center).
    bins : int, optional
        Histogram bins per coordinate.
    gradient : numba dispatcher, optional
        Jitted ``gradient(x, out)`` when ``potential`` is a jitted energy.

    Raises
    ------
    ValueError
        For a refused expression, a value out of range, a non-finite energy
        or gradient at the start, or a dt too large for Euler–Maruyama.

    Examples
    --------
    MALA at T = 0.01 on a regular minimum: β⟨U⟩ is λ = d/2 = 1.

    >>> import fastwalk as fw
    >>> model = fw.LangevinBrownian("x0**2 + x1**2", 2, temperature=0.01, dt="auto", method="mala")
    >>> run = fw.simulate(model, walkers=200, steps=2000, seed=1, burn_in=1000, progress=False)
    >>> sums = run.accumulators
    >>> beta_u = 100 * sums["walker_energy_sum"].sum() / sums["walker_energy_count"].sum()
    >>> round(float(beta_u), 1)
    1.0
    >>> round(run.model.dt, 2)  # what dt="auto" chose (recorded in the file)
    0.6

    The local learning coefficient's localizer: the fixed prior ``exp(−γ/2·|x − x*|²)``.

    >>> local = fw.LangevinBrownian("x0**2 * x1**2", 2, temperature=1e-4, dt="auto",
    ...                             method="mala", start=(0.5, 0.0), localize=100.0, at=(0.5, 0.0))
    >>> local.localize
    100.0
    """

    kind = "langevin"
    frame_name = "position"
    #: for d = 2 the empirical and exact 2-D laws with the zero set of U; else the series
    picture = "fastwalk.analysis.llc_plots:langevin_run_figure"
    #: the exact Boltzmann law by quadrature (d <= 3, typed expressions)
    stationary_report = "fastwalk.analysis.quadrature:langevin_run_report"
    #: each thread part fills its own histograms before they are added (memory_estimate)
    per_part_scratch = {"histogram_2d": 1, "marginals": 1}

    def __init__(self, potential, dim: int, params: dict | None = None, *, box: float = 2.0,
                 center: float | Sequence[float] = 0.0, boundary: str = "reflect",
                 temperature: float = 1.0, dt: float | str = 1e-3, method: str = "em",
                 start: str | Sequence[float] = "center", localize: float = 0.0,
                 at: float | Sequence[float] | None = None, bins: int = 64, gradient=None):
        from fastwalk.expression import MAX_DIM, Expression

        self.dim = validate.integer("dim", dim, minimum=1, maximum=MAX_DIM)
        self.box_side = validate.real("box", box, minimum=0.0, strict_min=True)
        self.center = self._point("center", center)
        self.boundary = validate.choice("boundary", boundary, _BOUNDARIES)
        self.temperature = validate.real("temperature", temperature, minimum=0.0, strict_min=True)
        if isinstance(dt, str) and not _is_auto(dt):
            raise ValueError(f"dt must be a number > 0 or 'auto', got {dt!r}")
        self._dt = None if _is_auto(dt) else validate.real("dt", dt, minimum=0.0, strict_min=True)
        #: how an automatic dt was chosen (None for a dt given by hand); see :meth:`for_run`
        self.dt_auto = None
        self.method = validate.choice("method", method, _METHODS)
        self.localize = validate.real("localize (gamma)", localize, minimum=0.0)
        if at is not None and self.localize == 0.0:
            raise ValueError("at is the point of the localizing prior, which is off (localize = 0): "
                             "give localize > 0, or leave at out")
        self.at = self.center.copy() if at is None else self._point("at", at)
        self._refuse_outside("at (x*)", self.at[None, :], "; put the localizer's point inside it")
        self.bins = validate.integer("bins", bins, minimum=1, maximum=1024)
        self.start = self._start(start)
        self.lower = self.center - 0.5 * self.box_side
        if isinstance(potential, str):
            from fastwalk.expression import check_params

            potential = _expression(potential, self.dim, tuple(check_params(params).items()))
        if isinstance(potential, Expression):
            if potential.dim != self.dim:
                raise ValueError(f"the expression has dim {potential.dim} but dim = {self.dim}")
            self.expression = potential
            self.energy_path = self.gradient_path = None
            self._kernels = None
        elif hasattr(potential, "py_func"):
            if gradient is None or not hasattr(gradient, "py_func"):
                raise TypeError("a jitted energy(x) needs a jitted gradient(x, out) as gradient=")
            if params:
                raise ValueError("params apply to typed expressions, not to jitted functions")
            self.expression = None
            self.energy_path = _function_path(potential)
            self.gradient_path = _function_path(gradient)
            self._kernels = _pair_kernels(potential, gradient, self.dim)
        else:
            raise TypeError("potential must be an expression string, an Expression or a numba-jitted "
                            f"energy(x) with gradient=, got {type(potential).__name__}")
        self._check_start()
        if self.method == "em" and self._dt is not None:
            self._check_em_step()

    # ------------------------------------------------------------------ validation
    def _point(self, name: str, value) -> np.ndarray:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return np.full(self.dim, validate.real(name, value))
        values = validate.finite_array(name, value)
        if values.shape != (self.dim,):
            raise ValueError(f"{name} has {values.size} values but dim = {self.dim}; give one number "
                             f"or {self.dim} comma-separated numbers")
        return values

    def _start(self, start):
        if isinstance(start, str):
            return validate.choice("start", start, _STARTS)
        point = self._point("start", start)
        self._refuse_outside("start", point[None, :], "; start inside it")
        return point

    def _refuse_outside(self, name: str, points: np.ndarray, fix: str = "") -> None:
        """Refuse ``points`` (rows) outside a reflecting or periodic box, naming a coordinate."""
        if self.boundary == "none":
            return
        lo = self.center - 0.5 * self.box_side  # self.lower (not set yet for the start)
        hi = lo + self.box_side  # the kernels' own bounds
        outside = np.argwhere((points < lo) | (points > hi))
        if outside.size:
            i, j = outside[0]
            raise ValueError(f"{name} coordinate {j} = {points[i, j]:g} lies outside the box "
                             f"[{lo[j]:g}, {hi[j]:g}]{fix}")

    def _start_points(self) -> np.ndarray:
        if isinstance(self.start, np.ndarray):
            return self.start[None, :]
        if self.start == "center":
            return self.center[None, :]
        probe = np.random.default_rng(0).uniform(size=(256, self.dim))
        return self.lower + self.box_side * probe

    def _check_start(self) -> None:
        points = self._start_points()
        energy, grad = self.energies_gradients(points)
        bad = np.flatnonzero(~(np.isfinite(energy) & np.all(np.isfinite(grad), axis=1)))
        if bad.size:
            point = ", ".join(f"{v:g}" for v in points[bad[0]])
            where = "at the start point" if len(points) == 1 else "at a point of the box"
            raise ValueError(f"the energy or gradient is not finite {where} ({point}): "
                             f"U = {energy[bad[0]]:g}; choose another --start, --center or potential")

    def _check_em_step(self) -> None:
        """Refuse a dt at which Euler–Maruyama is unstable somewhere in the box."""
        curvature, where = self.max_curvature()
        if curvature is None:
            return
        curvature += self.stiffness
        if self._dt * curvature >= 2.0:
            point = ", ".join(f"{v:.3g}" for v in where)
            raise ValueError(
                f"dt = {self._dt:g} is too large for Euler–Maruyama: the curvature of U"
                f"{' + T·γ/2·|x − x*|²' if self.stiffness else ''} reaches "
                f"{curvature:.4g} in the box (at {point}), and EM is unstable for dt >= 2/curvature = "
                f"{2.0 / curvature:.4g}; use a smaller --dt, or --method mala (exact at any dt)"
            )

    def max_curvature(self):
        """Return the largest Hessian eigenvalue of U over probe points of the box.

        Probes: the start point, the center and 512 fixed pseudo-random points
        of the box (not the run's streams). The Hessian is symbolic for a typed
        expression and, for a jitted pair, central differences of the gradient
        (step 1e-5 of the box side).

        Returns
        -------
        tuple
            ``(curvature, point)``, or ``(None, None)`` where U's Hessian is
            nowhere finite on the probes.
        """
        probe = np.random.default_rng(1).uniform(size=(512, self.dim))
        points = np.vstack([self._start_points()[:1], self.center[None, :],
                            self.lower + self.box_side * probe])
        top = self.curvatures(points)
        finite = np.isfinite(top)
        if not finite.any():
            return None, None
        k = int(np.argmax(top[finite]))
        return float(top[finite][k]), points[finite][k]

    def curvatures(self, points) -> np.ndarray:
        """Return the largest Hessian eigenvalue of U (not U_s) at each row of ``points``.

        Parameters
        ----------
        points : array_like
            Shape ``(N, d)``.

        Returns
        -------
        numpy.ndarray
            ``(N,)``; NaN where the Hessian is not finite.
        """
        points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, self.dim)
        hessian = self._hessian(points)
        finite = np.all(np.isfinite(hessian), axis=(1, 2))
        top = np.full(points.shape[0], np.nan)
        if finite.any():
            top[finite] = np.linalg.eigvalsh(hessian[finite])[:, -1]
        return top

    def _hessian(self, points: np.ndarray) -> np.ndarray:
        hessian = np.empty((points.shape[0], self.dim, self.dim))
        if self.expression is None:
            step = 1e-5 * self.box_side
            for i in range(self.dim):
                shift = np.zeros(self.dim)
                shift[i] = step
                column = (self.energies_gradients(points + shift)[1]
                          - self.energies_gradients(points - shift)[1]) / (2 * step)
                hessian[:, :, i] = column
            return 0.5 * (hessian + hessian.transpose(0, 2, 1))
        columns = [points[:, i] for i in range(self.dim)]
        for i, row in enumerate(self.expression.hessian_numpy):
            for k, entry in enumerate(row):
                with np.errstate(all="ignore"):
                    value = np.broadcast_to(entry(*columns), points.shape[:1])
                hessian[:, i, i + k] = hessian[:, i + k, i] = value
        return hessian

    # ------------------------------------------------------------------ description
    @property
    def kernels(self):
        """The module holding this potential's compiled kernels."""
        if self._kernels is None:
            self._kernels = self.expression.module
        return self._kernels

    @property
    def stiffness(self) -> float:
        """The localizer's curvature in U_s, T·γ (energy units; 0 when not localized)."""
        return self.temperature * self.localize

    @property
    def dt(self) -> float:
        """Time step (of the recorded part of a run)."""
        if self._dt is None:
            raise ValueError("dt is 'auto' until a run chooses it: simulate the model, or call "
                             "model.for_run(seed, burn_in)")
        return self._dt

    # ------------------------------------------------------------------ dt = "auto"
    def for_run(self, seed: int, burn_in: int) -> LangevinBrownian:
        """Return this model with ``dt="auto"`` resolved for a run (else the model itself).

        Deterministic in (parameters, ``seed``, ``burn_in``), so a run, its
        Dask partitions and its resumes all use one dt (DESIGN.md, "dt =
        auto"). Euler–Maruyama: dt = min(EM_FRACTION·2/κ, (L/20)²/(2T)), κ
        the largest curvature of U_s over the probe points of
        :meth:`max_curvature`. MALA: a pilot of :data:`PILOT_WALKERS`
        walkers on their own streams (``rng.derive_seed(seed, "dt-pilot")``)
        starts as the run does, relaxes ``burn_in // 4`` steps at the
        relaxation step min(1/κ, (L/20)²/(2T)), then adapts dt by dual
        averaging toward an acceptance of 0.574 for ``burn_in // 4`` steps,
        capped at 2/κ_typ (κ_typ: the 99 % quantile of U_s's curvature where
        the pilot's walkers went; :mod:`fastwalk.models._step_size`); the run
        then spends the first half of its burn-in at the smaller of that
        relaxation step and dt (walkers leave steep starts), the rest of it
        and every recorded step at dt. The record is :attr:`dt_auto` (in the
        parameters).

        Parameters
        ----------
        seed : int
            The run's seed.
        burn_in : int
            The run's burn-in steps (MALA needs at least 400).

        Returns
        -------
        LangevinBrownian
            A model with a numeric dt.

        Raises
        ------
        ValueError
            For MALA with too short a burn-in, or a pilot whose walkers
            became non-finite.
        """
        if self._dt is not None:
            return self
        from fastwalk.models import _step_size

        burn_in = validate.integer("burn_in", burn_in, minimum=0)
        chosen = (_step_size.euler_maruyama(self) if self.method == "em"
                  else _step_size.mala_pilot(self, seed, burn_in))
        resolved = copy.copy(self)
        resolved._dt, resolved.dt_auto = chosen["dt"], chosen["record"]
        return resolved

    def curvature_bound(self) -> float | None:
        """Return κ, the largest curvature of U_s on the probes (U's plus T·γ), or None.

        Returns
        -------
        float or None
            None where U's Hessian is nowhere finite on the probes (and no localizer).
        """
        curvature, _ = self.max_curvature()
        if curvature is None:
            return self.stiffness or None
        return curvature + self.stiffness

    def parameters(self) -> dict:
        """Return the resolved parameters (JSON-able)."""
        expr = self.expression
        start = self.start if isinstance(self.start, str) else [float(v) for v in self.start]
        return {
            "kind": self.kind,
            "potential": expr.text if expr is not None else None,
            "energy": self.energy_path,
            "gradient": self.gradient_path,
            "dim": self.dim,
            "params": dict(expr.params) if expr is not None else {},
            "box": self.box_side,
            "center": [float(v) for v in self.center],
            "boundary": self.boundary,
            "temperature": self.temperature,
            "dt": "auto" if self._dt is None else self._dt,
            "dt_auto": self.dt_auto,
            "method": self.method,
            "start": start,
            "localize": self.localize,
            "at": [float(v) for v in self.at],
            "bins": self.bins,
        }

    @classmethod
    def from_parameters(cls, parameters: dict, arrays: dict) -> LangevinBrownian:
        """Rebuild from :meth:`parameters` (a jitted pair is imported from its recorded path)."""
        p = parameters
        common = dict(box=p["box"], center=p["center"], boundary=p["boundary"],
                      temperature=p["temperature"], dt=p["dt"], method=p["method"], start=p["start"],
                      localize=p.get("localize", 0.0), bins=p.get("bins", 64),
                      at=p.get("at") if p.get("localize") else None)
        model = cls._from_parameters(p, common)
        if p.get("dt_auto") is not None:
            from fastwalk.models._step_size import check_record

            if model._dt is None:
                raise ValueError("the parameters record how dt was chosen (dt_auto) but dt is 'auto'")
            model.dt_auto = check_record(p["dt_auto"])
        return model

    @classmethod
    def _from_parameters(cls, p: dict, common: dict) -> LangevinBrownian:
        if p.get("potential") is not None:
            return cls(p["potential"], p["dim"], p.get("params") or {}, **common)
        if not p.get("energy") or not p.get("gradient"):
            raise ValueError("this run's potential was a pair of Python functions that cannot be "
                             "imported (defined in __main__ or locally), so it cannot be rebuilt; "
                             "define them at module level in an importable module")
        from fastwalk.models.base import imports_trusted

        if not imports_trusted():
            raise ValueError(f"this run's potential is the Python pair {p['energy']} / {p['gradient']}, "
                             "and fastwalk never imports code that a file names unless told to: "
                             "if you trust the file, resume it with --import-potential "
                             "(fw.resume(..., import_potential=True))")
        try:
            energy, gradient = _import_path(p["energy"]), _import_path(p["gradient"])
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(f"cannot import the run's potential {p['energy']} / {p['gradient']}: "
                             f"{exc}; make the module importable to rebuild it") from None
        return cls(energy, p["dim"], gradient=gradient, **common)

    def __reduce__(self):
        """Pickle as the parameters (for Dask workers): compiled modules do not pickle."""
        if self.expression is None and not (self.energy_path and self.gradient_path):
            raise TypeError("this model's jitted energy/gradient are defined in __main__ or locally "
                            "and cannot be sent to other processes; define them at module level in "
                            "an importable module")
        return (_rebuild, (self.parameters(),))

    def box(self) -> dict:
        """Describe the H5MD box (periodic or not; edges L)."""
        periodic = self.boundary == "periodic"
        return {"dimension": self.dim, "boundary": "periodic" if periodic else "none",
                "edges": [self.box_side] * self.dim}

    def bin_edges(self, coordinate: int = 0) -> np.ndarray:
        """Return the ``bins + 1`` histogram edges of one coordinate (absolute positions).

        Parameters
        ----------
        coordinate : int, optional
            Which coordinate.

        Returns
        -------
        numpy.ndarray
            ``lo + i·L/bins`` for i = 0 .. bins.
        """
        lo = self.lower[coordinate]
        return lo + np.linspace(0.0, self.box_side, self.bins + 1)

    # ------------------------------------------------------------------ energies
    def energies_gradients(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Return U and ∇U (the user's U, no localizing term) at each row of ``points``.

        Parameters
        ----------
        points : array_like
            Shape ``(N, d)``.

        Returns
        -------
        tuple of numpy.ndarray
            ``(N,)`` energies and ``(N, d)`` gradients.
        """
        points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, self.dim)
        energy = np.empty(points.shape[0])
        grad = np.empty_like(points)
        with np.errstate(all="ignore"):
            self.kernels.energies_gradients(points, energy, grad)
        return energy, grad

    def energy(self, positions) -> np.ndarray:
        """Return U at each row of ``positions`` (shape ``(N, d)``).

        Parameters
        ----------
        positions : array_like
            Points, shape ``(N, d)``.

        Returns
        -------
        numpy.ndarray
            ``(N,)`` energies.
        """
        positions = validate.finite_array("positions", positions, shape=(None, self.dim))
        out = np.empty(positions.shape[0])
        self.kernels.energies(positions, out)
        return out

    # ------------------------------------------------------------------ dynamics
    def initial_state(self, rng_states: np.ndarray) -> dict:
        """Place the walkers (center, explicit point, or uniform in the box) and zero the sums."""
        walkers = rng_states.shape[0]
        if isinstance(self.start, str) and self.start == "uniform":
            positions = self.lower + self.box_side * rng.draws(rng_states, self.dim, "uniform")
        else:
            positions = np.tile(self._start_points()[0], (walkers, 1))
        positions = np.ascontiguousarray(positions, dtype=np.float64)
        if isinstance(self.start, str) and self.start == "uniform":
            energy, grad = self.energies_gradients(positions)
            bad = np.flatnonzero(~(np.isfinite(energy) & np.all(np.isfinite(grad), axis=1)))
            if bad.size:
                point = ", ".join(f"{v:g}" for v in positions[bad[0]])
                raise ValueError(f"the energy or gradient is not finite at walker {bad[0]}'s "
                                 f"uniform start ({point}); use --start center or a point")
        pair_bins = self.bins if self.dim >= 2 else 1
        return {
            "rng": rng_states,
            "position": positions,
            "walker_energy_sum": np.zeros(walkers),
            "walker_energy_count": np.zeros(walkers, dtype=np.int64),
            "walker_accepted": np.zeros(walkers, dtype=np.int64),
            "histogram_2d": np.zeros((pair_bins, pair_bins), dtype=np.int64),
            "marginals": np.zeros((self.dim, self.bins), dtype=np.int64),
        }

    def advance(self, state: dict, first_step: int, steps: int, accumulate: bool) -> None:
        """Advance all walkers ``steps`` steps; count them if ``accumulate``.

        With an automatic dt, burn-in steps before ``dt_auto["relax_until"]``
        run at ``dt_auto["relax_dt"]`` (see :meth:`for_run`).
        """
        record = self.dt_auto or {}
        relax_dt, until = record.get("relax_dt"), record.get("relax_until", 0)
        if relax_dt is not None and first_step < until:
            early = min(steps, until - first_step)
            self._advance(state, first_step, early, accumulate, relax_dt)
            first_step, steps = first_step + early, steps - early
        if steps:
            self._advance(state, first_step, steps, accumulate, self.dt)

    def _advance(self, state: dict, first_step: int, steps: int, accumulate: bool, dt: float) -> None:
        from fastwalk.models._langevin_kernels import NONE, PERIODIC, REFLECT

        positions = state["position"]
        walkers = positions.shape[0]
        blocks = max(1, min(numba.get_num_threads(), walkers))
        bins = self.bins if accumulate else 1
        pair_bins = bins if self.dim >= 2 else 1
        histogram = np.zeros((blocks, pair_bins, pair_bins), dtype=np.int64)
        marginals = np.zeros((blocks, self.dim, bins), dtype=np.int64)
        boundary = {"reflect": REFLECT, "periodic": PERIODIC, "none": NONE}[self.boundary]
        settings = (steps, boundary, self.lower, self.box_side, dt, self.temperature,
                    self.stiffness, self.at, accumulate)
        mala = self.method == "mala"
        kernel = self.kernels.advance_mala if mala else self.kernels.advance_em

        def block(b: int) -> int:
            part = slice(b * walkers // blocks, (b + 1) * walkers // blocks)
            sums = (state["walker_energy_sum"][part], state["walker_energy_count"][part])
            if mala:
                sums += (state["walker_accepted"][part],)
            return kernel(positions[part], state["rng"][part], *settings, *sums, histogram[b],
                          marginals[b])

        bads = [block(0)] if blocks == 1 else list(_pool(blocks).map(block, range(blocks)))
        bad = min((b for b in bads if b >= 0), default=-1)
        if accumulate:
            state["marginals"] += marginals.sum(axis=0)
            for pairs in histogram:  # part by part: no summed copy (memory_estimate)
                state["histogram_2d"] += pairs
                if self.dim >= 2 and self.boundary != "none":  # the kernels leave these to the pairs
                    state["marginals"][0] += pairs.sum(axis=1)
                    state["marginals"][1] += pairs.sum(axis=0)
        if bad >= 0:
            raise SimulationError(
                f"a walker's position, energy or gradient became non-finite at step "
                f"{first_step + bad + 1}; use a smaller --dt or --method mala"
            )

    def check_state_values(self, state: dict) -> None:
        """Refuse positions outside a reflecting or periodic box."""
        self._refuse_outside("state 'position'", state["position"])

    def frame(self, state: dict) -> np.ndarray:
        """Return positions ``[N][d]``."""
        return state["position"]

    def observe(self, state: dict) -> dict:
        """Return the sums of U and U² over these walkers, and their MALA counts."""
        positions = state["position"]
        energy = np.empty(positions.shape[0])
        self.kernels.energies(positions, energy)
        return energy_sums(energy, state["walker_accepted"], state["walker_energy_count"])

    def summarize(self, sums: dict, walkers: int) -> dict:
        """Return ``mean_energy``, ``sem_energy`` and (MALA) ``acceptance_rate``."""
        return energy_summary(sums, walkers, self.method == "mala")

    def accumulators(self, state: dict) -> dict:
        """Return the per-walker energy sums, (MALA) acceptances and the histograms so far."""
        sums = {
            "walker_energy_sum": state["walker_energy_sum"],
            "walker_energy_count": state["walker_energy_count"],
        }
        if self.method == "mala":
            sums["walker_accepted"] = state["walker_accepted"]
        return {**sums, "histogram_2d": state["histogram_2d"], "marginals": state["marginals"]}
