"""Langevin sampling of a network's loss on data: U(w) = n·L_n(w), any number of parameters.

The law sampled is ∝ exp(−U(w)/T − γ/2·‖w − w*‖²) on the box [c − L/2, c + L/2]^d
(``reflect``: the uniform prior on the box; ``periodic``; ``none``), so T = 1 is the
Bayesian posterior with the box prior and β = 1/T is singular learning theory's β.
The localizer γ/2·‖w − w*‖² (``localize=γ``, ``at=w*``) is a *fixed* Gaussian prior, not
divided by T (Lau et al., *The Local Learning Coefficient*, AISTATS 2025). The network
(:mod:`fastwalk.networks`) and the data (:mod:`fastwalk.data`) define U; the step
(Euler–Maruyama or MALA) is in :mod:`fastwalk.models._network_kernels`: one walker at a
time on heap arrays (no limit on d), the walkers split into blocks run on
``numba.get_num_threads()`` Python threads. A walker's numbers depend only on its own
stream, so results are bit-identical for any thread count, walker split and
checkpoint/resume.

``dt="auto"`` is chosen per run as for typed potentials (:meth:`NetworkLangevin.for_run`; the
curvature by Lanczos on Hessian-vector products, no Hessian formed); ``batch=B`` runs
minibatch SGLD (EM only). :meth:`NetworkLangevin.datum_losses` gives the per-datum losses
the singular fluctuation reads.

Observables and accumulators are those of the ``langevin`` model, so that
``fastwalk llc`` reads these runs: ``mean_energy``, ``sem_energy`` (of U, never the
localizer), ``acceptance_rate`` (MALA: accepted / proposed since step 0);
``walker_energy_sum`` and ``walker_energy_count`` (Σ U after each counted step).
"""

from __future__ import annotations

import functools
import numbers
import threading

import numba
import numpy as np

from fastwalk import rng, validate
from fastwalk.errors import SimulationError
from fastwalk.models._kernels import energy_summary, energy_sums
from fastwalk.models.base import Model

__all__ = ["NetworkLangevin"]

_METHODS = ("em", "mala")
_BOUNDARIES = ("reflect", "periodic", "none")
_STARTS = ("center", "uniform")
#: Lanczos rounds of a curvature (each two gradients: a central difference of ∇U along v)
CURVATURE_ITERATIONS = 20
#: points at most at which :meth:`NetworkLangevin.curvatures` evaluates (evenly spaced rows; NaN elsewhere)
CURVATURE_POINTS = 256
#: uniform probe points of the box for :meth:`NetworkLangevin.curvature_bound` (plus start and center)
CURVATURE_PROBES = 64


def _is_auto(dt) -> bool:
    return isinstance(dt, str) and dt.strip().lower() == "auto"


@functools.lru_cache(maxsize=4)
def _pool(threads: int):
    """Return a thread pool of ``threads`` workers (the kernel releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fastwalk-network")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """Return threadpoolctl's controller of this process's BLAS libraries (found once), or None."""
    import scipy.linalg.cython_blas  # noqa: F401 - the BLAS numba's np.dot calls: load it first

    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with SciPy's usual installs
        return None
    return ThreadpoolController()


def _one_blas_thread():
    """Return a context holding BLAS to one thread (the walkers are the parallelism), if possible."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


#: models rebuilt in this process from pickles (Dask tasks), by their parameters and arrays
_REBUILT: dict = {}
_REBUILT_LOCK = threading.Lock()
#: how many times this process rebuilt a model, i.e. loaded and hashed its data (``count``),
#: and unpickled one (``unpickled``: once per task, or once per worker when shared); tests read it
REBUILDS = {"count": 0, "unpickled": 0}


def _rebuild(parameters: dict, arrays: dict) -> NetworkLangevin:
    """Rebuild a pickled model once per process: a Dask worker loads and hashes the data once.

    Every Dask task carries the model; later tasks with the same parameters (and start, w*
    and data arrays) reuse the first one's model instead of reloading the data file.
    """
    import hashlib
    import json

    key = hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode())
    for name in sorted(arrays):
        key.update(name.encode() + np.ascontiguousarray(arrays[name]).tobytes())
    key = key.hexdigest()
    with _REBUILT_LOCK:
        REBUILDS["unpickled"] += 1
        model = _REBUILT.get(key)
        if model is None:
            model = _REBUILT[key] = NetworkLangevin.from_parameters(parameters, arrays)
            REBUILDS["count"] += 1
            while len(_REBUILT) > 8:  # a worker serving many runs keeps the latest few
                _REBUILT.pop(next(iter(_REBUILT)))
    return model


class NetworkLangevin(Model):
    """Overdamped Langevin dynamics (EM or MALA) on the loss of a built-in network (module docstring).

    Parameters
    ----------
    network : str or fastwalk.networks.Network
        ``linear:M-H-…-N`` or ``mlp:IN-H1-…-OUT:tanh|relu|gelu``.
    data : path-like or fastwalk.data.Dataset or tuple
        An ``.npz``/HDF5 file with arrays ``x`` and ``y``, a Dataset, or ``(x, y)`` arrays
        (then stored in the run file so that it can be resumed).
    loss : {"mse", "xent"}, optional
        Squared error or cross-entropy (``fastwalk.networks`` gives the exact convention).
    box : float, optional
        Side L of the box [c − L/2, c + L/2]^d.
    center : float, optional
        Its center c (the same for every parameter).
    boundary : {"reflect", "periodic", "none"}, optional
        Reflect at the walls (uniform prior on the box), wrap, or no walls.
    temperature : float, optional
        T > 0; β = 1/T.
    dt : float or "auto", optional
        Time step (> 0). ``"auto"``: chosen for each run by ``for_run`` as for typed
        potentials (MALA: a pilot toward acceptance 0.574; EM: 0.05 of the stability limit),
        with the curvature of U from Lanczos iteration on Hessian-vector products (``curvatures``).
    method : {"em", "mala"}, optional
        Euler–Maruyama (O(dt) bias) or Metropolis-adjusted Langevin (exact at any dt).
    start : {"center", "uniform"} or array_like, optional
        Start at c, uniformly in the box (d uniforms per walker from its stream), or at a point.
    localize : float, optional
        γ >= 0 of the fixed localizing prior exp(−γ/2·‖w − w*‖²) (0 = off).
    at : array_like, optional
        w* (default: the center), d values.
    at_source : str, optional
        Where w* came from (recorded), e.g. ``"trained: L-BFGS from seed 0"``.
    batch : int, optional
        Minibatch SGLD (``method="em"`` only): each step's gradient from ``batch`` data drawn
        with replacement from the walker's stream, scaled by n/batch; no Metropolis step, so
        the law carries a bias that shrinks as the batch grows (DESIGN.md). None: full batch.

    Raises
    ------
    ValueError
        For a malformed network, data that do not fit it, a value out of range, a point of
        the wrong length, or a problem too large for the memory available.

    Examples
    --------
    Reduced-rank regression ``linear:2-1-2`` on an identity design (n = 2, y = 0), where
    ``U = n·|B·A|²`` and λ = 1, m = 2; at β′ = n/T = 100, β⟨U⟩ sits below λ by the log term:

    >>> import numpy as np
    >>> import fastwalk as fw
    >>> data = (np.sqrt(2) * np.eye(2), np.zeros((2, 2)))
    >>> model = fw.NetworkLangevin("linear:2-1-2", data, temperature=0.02, dt=0.05, start="uniform")
    >>> model.dim, model.network.spec
    (4, 'linear:2-1-2')
    >>> run = fw.simulate(model, walkers=200, steps=1000, seed=1, burn_in=5000, progress=False)
    >>> sums = run.accumulators
    >>> beta_u = sums["walker_energy_sum"].sum() / sums["walker_energy_count"].sum() / 0.02
    >>> bool(0.6 < beta_u < 1.0)
    True
    """

    kind = "network"
    frame_name = "position"
    no_stationary_hint = "for a network's loss use `fastwalk llc` on a temperature sweep"

    def __init__(self, network, data, loss: str = "mse", *, box: float = 2.0, center: float = 0.0,
                 boundary: str = "reflect", temperature: float = 1.0, dt: float = 1e-3,
                 method: str = "mala", start="center", localize: float = 0.0, at=None,
                 at_source: str | None = None, batch: int | None = None):
        from fastwalk.networks import LOSSES

        self.loss = validate.choice("loss", loss, LOSSES)
        self.network, self.data = self._network_and_data(network, data)
        if self.loss == "xent" and self.network.outputs < 2:
            raise ValueError(f"the xent loss needs a network with at least 2 outputs (classes); "
                             f"{self.network.spec} has {self.network.outputs}")
        self.dim = self.network.dim
        self._check_memory(self.data.n)
        self.box_side = validate.real("box", box, minimum=0.0, strict_min=True)
        self.center = validate.real("center", center)
        self.lower = self.center - 0.5 * self.box_side
        self.boundary = validate.choice("boundary", boundary, _BOUNDARIES)
        self.temperature = validate.real("temperature", temperature, minimum=0.0, strict_min=True)
        if isinstance(dt, str) and not _is_auto(dt):
            raise ValueError(f"dt must be a number > 0 or 'auto', got {dt!r}")
        self._dt = None if _is_auto(dt) else validate.real("dt", dt, minimum=0.0, strict_min=True)
        #: how an automatic dt was chosen (None for a dt given by hand); see ``for_run``
        self.dt_auto = None
        self.method = validate.choice("method", method, _METHODS)
        self.batch = self._batch(batch)
        self.localize = validate.real("localize (gamma)", localize, minimum=0.0)
        self.at = None if at is None else self._point("at", at)
        self.at_source = None if at_source is None else str(at_source)
        self.start = start if isinstance(start, str) else self._point("start", start)
        if isinstance(self.start, str):
            validate.choice("start", self.start, _STARTS)
        else:
            self._refuse_outside("start", self.start)
        self._tables()

    # ------------------------------------------------------------------ validation
    def _network_and_data(self, network, data):
        """Return the parsed network and the checked :class:`~fastwalk.data.Dataset` (a subclass hook)."""
        from fastwalk.data import Dataset, load_data, make_dataset
        from fastwalk.networks import parse_network

        network = parse_network(network)
        if self.loss == "xent" and network.outputs < 2:
            raise ValueError(f"the xent loss needs a network with at least 2 outputs (classes); "
                             f"{network.spec} has {network.outputs}")
        self.network, self.dim = network, network.dim
        self._check_memory(1)
        shape = (self.loss, network.inputs, network.outputs)
        if isinstance(data, Dataset):
            if data.loss != self.loss:
                raise ValueError(f"the data set was checked for the {data.loss} loss, not {self.loss}")
            return network, make_dataset(data.x, data.y, *shape, data.path)
        if isinstance(data, tuple):
            if len(data) != 2:
                raise ValueError("data given as a tuple must be (x, y)")
            return network, make_dataset(*data, *shape)
        return network, load_data(data, *shape)

    def _batch(self, batch) -> int | None:
        """Check the minibatch size: 1 … n, with EM only, built-in networks only."""
        if batch is None:
            return None
        batch = validate.integer("batch", batch, minimum=1)
        if batch > self.data.n:
            raise ValueError(f"batch = {batch} exceeds the {self.data.n} data points; give a batch "
                             f"of at most {self.data.n} (or none: the full batch)")
        if self.method != "em":
            raise ValueError("batch (minibatch SGLD) has no Metropolis step: use method 'em' "
                             "(--method em) with it, or drop it for MALA on the full batch")
        if self.kind != "network":
            raise ValueError("batch (minibatch SGLD) is for built-in networks; drop it")
        return batch

    def _check_memory(self, samples: int) -> None:
        """Refuse a network whose work arrays for one walker and one thread exceed the memory now.

        A thread holds a walker's position, gradients, proposal and draws (~8 d floats) and the
        activations and errors of ``samples`` data points (2 n Σ widths + 2 n max width floats).
        """
        from fastwalk.commands._common import _available_memory, _bytes

        widths = self.network.widths
        threads = numba.get_num_threads()
        need = 8 * threads * (8 * self.dim + 2 * samples * (sum(widths[1:]) + max(widths)))
        available = _available_memory()
        if available is not None and need > available:
            raise ValueError(f"{self.network.spec} (d = {self.dim} parameters) on {samples} data "
                             f"points needs about {_bytes(need)} of work memory on {threads} "
                             f"thread(s), more than the {_bytes(available)} available; use a smaller "
                             "network or less data")

    def _point(self, name: str, value) -> np.ndarray:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return np.full(self.dim, validate.real(name, value))
        values = validate.finite_array(name, value)
        if values.shape != (self.dim,):
            raise ValueError(f"{name} has {values.size} values but {self.network.spec} has d = "
                             f"{self.dim} parameters; give {self.dim} values in the documented order")
        return values

    def _refuse_outside(self, name: str, points: np.ndarray) -> None:
        if self.boundary == "none":
            return
        points = np.atleast_2d(points)
        outside = np.argwhere((points < self.lower) | (points > self.lower + self.box_side))
        if outside.size:
            i, j = outside[0]
            raise ValueError(f"{name} parameter {j} = {points[i, j]:g} lies outside the box "
                             f"[{self.lower:g}, {self.lower + self.box_side:g}]; enlarge --box or move "
                             "--center")

    def _tables(self) -> None:
        """Build the index arrays the kernels read (offsets of weights, biases, activations)."""
        widths = np.array(self.network.widths, dtype=np.int64)
        layout = self.network.layout()
        weights = [e["offset"] for e in layout if e["name"].startswith("W")]
        biases = [e["offset"] for e in layout if e["name"].startswith("b")] or [-1] * len(weights)
        n = self.data.n
        self._widths = widths
        self._w_offsets = np.array(weights, dtype=np.int64)
        self._b_offsets = np.array(biases, dtype=np.int64)
        self._a_offsets = np.concatenate([[0], np.cumsum(n * widths[1:])[:-1]]).astype(np.int64)
        self._work_sizes = (int(n * widths[1:].sum()), int(n * widths.max()))
        from fastwalk.models._network_kernels import GELU, IDENTITY, MSE, RELU, TANH, XENT

        self._activation = {"tanh": TANH, "relu": RELU, "gelu": GELU, None: IDENTITY}[
            self.network.activation]
        self._loss = {"mse": MSE, "xent": XENT}[self.loss]
        self._x = self.data.x.ravel()
        if self.loss == "mse":
            self._y, self._labels = self.data.y.ravel(), np.zeros(1, dtype=np.int64)
        else:
            self._y, self._labels = np.zeros(1), self.data.y

    def _work(self):
        activations, widest = self._work_sizes
        return (np.empty(activations), np.empty(activations), np.empty(widest), np.empty(widest))

    def _data_args(self):
        return (self._x, self._y, self._labels, self._widths, self._w_offsets, self._b_offsets,
                self._a_offsets, self._activation, self._loss)

    # ------------------------------------------------------------------ description
    @property
    def dt(self) -> float:
        """Time step (of the recorded part of a run)."""
        if self._dt is None:
            raise ValueError("dt is 'auto' until a run chooses it: simulate the model, or call "
                             "model.for_run(seed, burn_in)")
        return self._dt

    @property
    def stiffness(self) -> float:
        """The localizer's curvature in U_s = U + T·γ/2·|w − w*|², T·γ (0 when not localized)."""
        return self.temperature * self.localize

    def label(self) -> str:
        """Return the text that identifies this loss in a sweep: network, loss, data hash (and w*'s).

        ``fastwalk llc`` combines only runs of one label (its ``potential``), so local runs
        around different points w* are never mixed.
        """
        text = f"{self.network.spec} {self.loss} sha256:{self.data.sha256}"
        if self.at is not None:
            import hashlib

            text += f" at sha256:{hashlib.sha256(self.at.tobytes()).hexdigest()[:16]}"
        return text

    def parameters(self) -> dict:
        """Return the resolved parameters (JSON-able); points live in :meth:`parameter_arrays`."""
        return {
            "kind": self.kind,
            "network": self.network.spec,
            "loss": self.loss,
            "data": self.data.path,
            "data_sha256": self.data.sha256,
            "samples": self.data.n,
            "dim": self.dim,
            "layout": self.network.layout(),
            "potential": self.label(),
            "box": self.box_side,
            "center": self.center,
            "boundary": self.boundary,
            "temperature": self.temperature,
            "dt": "auto" if self._dt is None else self._dt,
            "dt_auto": self.dt_auto,
            "method": self.method,
            "start": self.start if isinstance(self.start, str) else "point",
            "localize": self.localize,
            "at": "center" if self.at is None else "point",
            "at_source": self.at_source,
            "batch": self.batch,
        }

    def parameter_arrays(self) -> dict:
        """Return the start point and w* where given, and the data where no file holds them."""
        arrays = {}
        if not isinstance(self.start, str):
            arrays["network/start"] = self.start
        if self.at is not None:
            arrays["network/at"] = self.at
        if self.data.path is None:
            arrays["network/x"] = self.data.x
            arrays["network/y"] = self.data.y
        return arrays

    @classmethod
    def from_parameters(cls, parameters: dict, arrays: dict) -> NetworkLangevin:
        """Rebuild from :meth:`parameters`, refusing data whose content hash changed."""
        p = parameters
        if p.get("data") is None:
            data = (np.asarray(arrays["network/x"]), np.asarray(arrays["network/y"]))
        else:
            data = p["data"]
        model = cls(p["network"], data, p["loss"], box=p["box"], center=p["center"],
                    boundary=p["boundary"], temperature=p["temperature"], dt=p["dt"], method=p["method"],
                    start=np.asarray(arrays["network/start"]) if p["start"] == "point" else p["start"],
                    localize=p["localize"],
                    at=np.asarray(arrays["network/at"]) if p["at"] == "point" else None,
                    at_source=p.get("at_source"), batch=p.get("batch"))
        if p.get("dt_auto") is not None:
            from fastwalk.models._step_size import check_record

            if model._dt is None:
                raise ValueError("the parameters record how dt was chosen (dt_auto) but dt is 'auto'")
            model.dt_auto = check_record(p["dt_auto"])
        if model.data.sha256 != p["data_sha256"]:
            raise ValueError(f"the data in {p['data']} changed since the run was written (sha256 "
                             f"{model.data.sha256[:12]}… against the recorded {p['data_sha256'][:12]}…); "
                             "restore the original data or start a new run")
        return model

    def __reduce__(self):
        """Pickle as the parameters (for Dask workers): they reload the data and check its hash."""
        return (_rebuild, (self.parameters(), self.parameter_arrays()))

    def box(self) -> dict:
        """Describe the H5MD box (periodic or not; edges L)."""
        periodic = self.boundary == "periodic"
        return {"dimension": self.dim, "boundary": "periodic" if periodic else "none",
                "edges": [self.box_side] * self.dim}

    # ------------------------------------------------------------------ energies
    def energies_gradients(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Return U = n·L_n and ∇U at each row of ``points``.

        Parameters
        ----------
        points : array_like
            Shape ``(N, d)``.

        Returns
        -------
        tuple of numpy.ndarray
            ``(N,)`` energies and ``(N, d)`` gradients.
        """
        from fastwalk.models._network_kernels import energies

        points = validate.finite_array("points", points).reshape(-1, self.dim)
        points = np.ascontiguousarray(points)
        out = np.empty(points.shape[0])
        grads = np.empty_like(points)
        with _one_blas_thread():
            energies(points, out, *self._data_args(), *self._work(), grads)
        return out, grads

    def energy(self, positions) -> np.ndarray:
        """Return U = n·L_n at each row of ``positions`` (shape ``(N, d)``).

        Parameters
        ----------
        positions : array_like
            Points, shape ``(N, d)``.

        Returns
        -------
        numpy.ndarray
            ``(N,)`` energies.
        """
        return self.energies_gradients(positions)[0]

    def datum_losses(self, points) -> np.ndarray:
        """Return each datum's loss ℓ_i(w) at each row of ``points`` (U = Σ_i ℓ_i).

        ``mse``: ℓ_i = |y_i − f(x_i; w)|²; ``xent``: ℓ_i = −log softmax(f(x_i; w))[y_i]; so
        the law ∝ exp(−U/T) is Π_i p(y_i|x_i, w)^β with p ∝ exp(−ℓ_i), whose functional
        variance gives Watanabe's singular fluctuation (:mod:`fastwalk.analysis.llc`).

        Parameters
        ----------
        points : array_like
            Shape ``(N, d)``.

        Returns
        -------
        numpy.ndarray
            ``(N, n)``.
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, self.dim)
        return np.array([self._losses_of(self.network.forward(w, self.data.x)) for w in points]
                        ).reshape(points.shape[0], self.data.n)

    def _losses_of(self, outputs: np.ndarray) -> np.ndarray:
        """Return the per-datum losses of the network's outputs ``[n, out]`` on the data."""
        if self.loss == "mse":
            return np.sum((outputs - self.data.y.reshape(outputs.shape)) ** 2, axis=1)
        z = outputs - outputs.max(axis=1, keepdims=True)
        return np.log(np.exp(z).sum(axis=1)) - z[np.arange(z.shape[0]), self.data.y]

    # ------------------------------------------------------------------ dt = "auto"
    def for_run(self, seed: int, burn_in: int) -> NetworkLangevin:
        """Return this model with ``dt="auto"`` resolved for a run (else the model itself).

        As :meth:`fastwalk.models.langevin.LangevinBrownian.for_run` (DESIGN.md, "dt = auto"):
        EM takes min(0.05·2/κ, (L/20)²/(2T)), κ from :meth:`curvature_bound`; MALA runs the
        pilot of :mod:`fastwalk.models._step_size` (dual averaging toward acceptance 0.574,
        capped at 2/κ_typ). Deterministic in (parameters, ``seed``, ``burn_in``).

        Parameters
        ----------
        seed : int
            The run's seed.
        burn_in : int
            The run's burn-in steps (MALA needs at least 400).

        Returns
        -------
        NetworkLangevin
            A model with a numeric dt and its record in :attr:`dt_auto`.

        Raises
        ------
        ValueError
            For MALA with too short a burn-in, or a pilot whose walkers became non-finite.
        """
        if self._dt is not None:
            return self
        from fastwalk.models import _step_size

        burn_in = validate.integer("burn_in", burn_in, minimum=0)
        chosen = (_step_size.euler_maruyama(self) if self.method == "em"
                  else _step_size.mala_pilot(self, seed, burn_in))
        resolved = object.__new__(type(self))  # not copy.copy: __reduce__ rebuilds from the data
        resolved.__dict__.update(self.__dict__)
        resolved._dt, resolved.dt_auto = chosen["dt"], chosen["record"]
        return resolved

    def curvature_bound(self) -> float | None:
        """Return κ, the largest curvature of U_s = U + T·γ/2·|w − w*|² over probe points, or None.

        Probes: the start (its point, the center, or :data:`CURVATURE_PROBES` fixed uniform
        points of the box from ``numpy.random.default_rng(1)``, not the run's streams) and the
        center; U's curvature by ``curvatures``.

        Returns
        -------
        float or None
            None where the curvature is nowhere finite on the probes (and no localizer).
        """
        probe = self.lower + self.box_side * np.random.default_rng(1).uniform(
            size=(CURVATURE_PROBES, self.dim))
        points = [np.full((1, self.dim), self.center), probe]
        if not isinstance(self.start, str):
            points.append(self.start[None, :])
        top = self.curvatures(np.vstack(points))
        top = top[np.isfinite(top)]
        if not top.size:
            return self.stiffness or None
        return float(top.max()) + self.stiffness

    def curvatures(self, points) -> np.ndarray:
        """Return the largest Hessian eigenvalue of U (not U_s) at rows of ``points``.

        No Hessian is formed (d may be 10⁴ and more): Lanczos iteration on v ↦ H·v,
        :data:`CURVATURE_ITERATIONS` = k rounds (k = d when d is smaller) from a fixed random
        unit vector with full reorthogonalization, H·v by central differences of ∇U along v
        (step 10⁻⁵·max(1, |w|)); the largest Ritz value, the top eigenvalue of the k × k
        tridiagonal matrix, approaches the largest eigenvalue from below and is exact (up to
        the differences' error) for k = d. Power iteration was tried first and stalls where
        the most negative eigenvalue has about the largest one's modulus (15 % low on
        mlp:3-4-2:tanh). At most :data:`CURVATURE_POINTS` evenly spaced rows are evaluated
        (the others are NaN, which the pilot's quantile skips): at most 256·2k gradients.

        Parameters
        ----------
        points : array_like
            Shape ``(N, d)``.

        Returns
        -------
        numpy.ndarray
            ``(N,)``; NaN where not evaluated or not finite.
        """
        points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, self.dim)
        top = np.full(points.shape[0], np.nan)
        if not points.shape[0]:
            return top
        rows = np.unique(np.linspace(0, points.shape[0] - 1, min(points.shape[0], CURVATURE_POINTS))
                         .round().astype(np.int64))
        rounds = min(CURVATURE_ITERATIONS, self.dim)
        chunk = max(1, 2_000_000 // (rounds * self.dim))  # the Krylov bases held at once
        for lo in range(0, rows.size, chunk):
            part = rows[lo:lo + chunk]
            top[part] = self._lanczos(points[part], rounds)
        return top

    def _lanczos(self, points: np.ndarray, rounds: int) -> np.ndarray:
        """Return the largest Ritz value of U's Hessian at each point after ``rounds`` steps."""
        count = points.shape[0]
        start = np.random.default_rng(2).normal(size=self.dim)
        basis = np.zeros((count, rounds, self.dim))
        basis[:, 0] = start / np.linalg.norm(start)
        step = 1e-5 * np.maximum(1.0, np.linalg.norm(points, axis=1))[:, None]
        alpha, beta = np.zeros((count, rounds)), np.zeros((count, rounds))
        with np.errstate(all="ignore"):
            for j in range(rounds):
                q = basis[:, j]
                w = (self.energies_gradients(points + step * q)[1]
                     - self.energies_gradients(points - step * q)[1]) / (2.0 * step)
                alpha[:, j] = np.sum(q * w, axis=1)
                for _ in range(2):  # full reorthogonalization, twice is enough (Parlett)
                    w -= np.einsum("nk,nkd->nd", np.einsum("nkd,nd->nk", basis[:, :j + 1], w),
                                   basis[:, :j + 1])
                if j + 1 < rounds:
                    beta[:, j] = np.linalg.norm(w, axis=1)
                    alive = beta[:, j] > 1e-12 * np.maximum(1.0, np.abs(alpha[:, j]))
                    beta[~alive, j] = 0.0
                    basis[alive, j + 1] = w[alive] / beta[alive, j, None]
        tridiagonal = np.zeros((count, rounds, rounds))
        index = np.arange(rounds)
        tridiagonal[:, index, index] = alpha
        tridiagonal[:, index[:-1], index[1:]] = tridiagonal[:, index[1:], index[:-1]] = beta[:, :-1]
        finite = np.all(np.isfinite(tridiagonal), axis=(1, 2))
        top = np.full(count, np.nan)
        if finite.any():
            top[finite] = np.linalg.eigvalsh(tridiagonal[finite])[:, -1]
        return top

    # ------------------------------------------------------------------ dynamics
    def _start_rows(self, rng_states: np.ndarray) -> np.ndarray:
        walkers = rng_states.shape[0]
        if isinstance(self.start, str) and self.start == "uniform":
            return self.lower + self.box_side * rng.draws(rng_states, self.dim, "uniform")
        point = np.full(self.dim, self.center) if isinstance(self.start, str) else self.start
        return np.tile(point, (walkers, 1))

    def initial_state(self, rng_states: np.ndarray) -> dict:
        """Place the walkers (center, point or uniform in the box); zero the sums; U at the start."""
        walkers = rng_states.shape[0]
        positions = np.ascontiguousarray(self._start_rows(rng_states), dtype=np.float64)
        energy = self.energies_gradients(positions)[0] if walkers else np.zeros(0)
        return {
            "rng": rng_states,
            "position": positions,
            "energy": energy,
            "walker_energy_sum": np.zeros(walkers),
            "walker_energy_count": np.zeros(walkers, dtype=np.int64),
            "walker_accepted": np.zeros(walkers, dtype=np.int64),
            "walker_proposed": np.zeros(walkers, dtype=np.int64),
        }

    def advance(self, state: dict, first_step: int, steps: int, accumulate: bool) -> None:
        """Advance all walkers ``steps`` steps; count them if ``accumulate``.

        With an automatic dt, burn-in steps before ``dt_auto["relax_until"]`` run at
        ``dt_auto["relax_dt"]`` (see ``for_run``).
        """
        record = self.dt_auto or {}
        relax_dt, until = record.get("relax_dt"), record.get("relax_until", 0)
        if relax_dt is not None and first_step < until:
            early = min(steps, until - first_step)
            self._relax(state, first_step, early, accumulate, relax_dt)
            first_step, steps = first_step + early, steps - early
        if steps:
            self._advance(state, first_step, steps, accumulate, self.dt)

    def _relax(self, state: dict, first_step: int, steps: int, accumulate: bool, dt: float) -> None:
        """Relax for an automatic dt: unadjusted (EM) steps of ``dt``, whatever the method.

        At relax_dt <= 1/κ_max EM is stable and descends from a far start, where MALA at a
        large β rejects nearly every move; only burn-in steps relax, so the recorded law is
        still MALA's exact one.
        """
        self._advance(state, first_step, steps, accumulate, dt, adjusted=False)

    def _advance(self, state: dict, first_step: int, steps: int, accumulate: bool, dt: float,
                 adjusted: bool = True) -> None:
        from fastwalk.models._network_kernels import NONE, PERIODIC, REFLECT, advance

        positions = state["position"]
        walkers = positions.shape[0]
        blocks = max(1, min(numba.get_num_threads(), walkers))
        boundary = {"reflect": REFLECT, "periodic": PERIODIC, "none": NONE}[self.boundary]
        anchor = np.full(self.dim, self.center) if self.at is None else self.at
        gamma = self.localize
        settings = (steps, adjusted and self.method == "mala", boundary, self.lower, self.box_side, dt,
                    self.temperature, gamma, anchor, accumulate)

        def block(b: int) -> int:
            part = slice(b * walkers // blocks, (b + 1) * walkers // blocks)
            return advance(positions[part], state["rng"][part], *settings,
                           state["walker_energy_sum"][part], state["walker_energy_count"][part],
                           state["walker_accepted"][part], state["walker_proposed"][part],
                           state["energy"][part], *self._data_args(), *self._work())

        if self.batch is not None:
            block = self._sgld_block(state, walkers, blocks, settings)
        with _one_blas_thread():
            bads = [block(0)] if blocks == 1 else list(_pool(blocks).map(block, range(blocks)))
        bad = min((b for b in bads if b >= 0), default=-1)
        if bad >= 0:
            raise SimulationError(
                f"a walker's parameters, loss or gradient became non-finite at step "
                f"{first_step + bad + 1}; use a smaller --dt or --method mala"
            )

    def _sgld_block(self, state: dict, walkers: int, blocks: int, settings: tuple):
        """Return the block function of minibatch SGLD (the kernel ``advance_sgld``)."""
        from fastwalk.models._network_kernels import MSE, advance_sgld

        steps, _, boundary, lo, side, dt, temperature, gamma, anchor, accumulate = settings
        widths, batch = self._widths, self.batch
        a_offsets = np.concatenate([[0], np.cumsum(batch * widths[1:])[:-1]]).astype(np.int64)
        mse = self._loss == MSE

        def block(b: int) -> int:
            part = slice(b * walkers // blocks, (b + 1) * walkers // blocks)
            buffers = (np.empty(batch * widths[0]), np.empty(batch * widths[-1] if mse else 1),
                       np.zeros(1 if mse else batch, dtype=np.int64), np.empty(self.dim))
            return advance_sgld(state["position"][part], state["rng"][part], steps, batch,
                                boundary, lo, side, dt, temperature, gamma, anchor, accumulate,
                                state["walker_energy_sum"][part], state["walker_energy_count"][part],
                                state["energy"][part], self._x, self._y, self._labels, widths,
                                self._w_offsets, self._b_offsets, a_offsets, self._activation,
                                self._loss, *self._work(), *buffers)

        return block

    def check_state_values(self, state: dict) -> None:
        """Refuse positions outside a reflecting or periodic box."""
        self._refuse_outside("state 'position'", state["position"])

    def frame(self, state: dict) -> np.ndarray:
        """Return positions ``[N][d]``."""
        return state["position"]

    def observe(self, state: dict) -> dict:
        """Return the sums of U and U² over these walkers, and their MALA counts."""
        return energy_sums(state["energy"], state["walker_accepted"], state["walker_proposed"])

    def summarize(self, sums: dict, walkers: int) -> dict:
        """Return ``mean_energy``, ``sem_energy`` and (MALA) ``acceptance_rate``."""
        return energy_summary(sums, walkers, self.method == "mala")

    def accumulators(self, state: dict) -> dict:
        """Return the per-walker energy sums and counts."""
        return {"walker_energy_sum": state["walker_energy_sum"],
                "walker_energy_count": state["walker_energy_count"]}

    @classmethod
    def examples(cls) -> list[Model]:
        """Small instances calling every kernel (MSE and cross-entropy, EM and MALA)."""
        x = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
        return [cls("linear:2-1-1", (x, x[:, :1]), method="mala"),
                cls("mlp:2-2-2:tanh", (x, np.array([0, 1, 1])), "xent", method="em")]
