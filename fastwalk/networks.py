"""Built-in networks: the ``--network`` SPEC, the parameter layout, and a NumPy reference loss.

Two families, written as text:

``linear:M-H-…-N``
    a deep linear network without biases, f(x) = W_L ⋯ W_2 W_1 x; ``linear:3-2-3`` is
    reduced-rank regression y = B·A·x (A = W_1 is 2×3, B = W_2 is 3×2).
``mlp:IN-H1-…-OUT:ACT``
    a multilayer perceptron with biases, ACT ∈ {tanh, relu, gelu} after every hidden
    layer and none after the last: f(x) = W_L σ(⋯ σ(W_1 x + b_1) ⋯) + b_L. ``gelu`` is the
    exact x·Φ(x) (PyTorch's default).

**Parameter order** (recorded in every file as ``layout``): layer by layer from the input,
each layer's weight matrix W_l of shape [out, in] in row-major order, then (``mlp`` only)
its bias b_l [out]. This is the order of ``torch.nn.Sequential(Linear, act, …).parameters()``
flattened, so a point w is interchangeable with a PyTorch model of the same architecture.

**Losses**, on data x [n, in], y [n, out] (DESIGN.md, "Networks and data"):

``mse``
    L_n(w) = (1/n) Σ_i |y_i − f(x_i; w)|², the squared error summed over the outputs and
    averaged over the samples (no factor ½; PyTorch's ``MSELoss`` also divides by ``out``).
``xent``
    L_n(w) = (1/n) Σ_i −log softmax(f(x_i; w))[y_i], y holding integer labels 0 … out − 1.

The sampled energy is U(w) = n·L_n(w).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

__all__ = ["Network", "parse_network", "ACTIVATIONS", "LOSSES"]

#: activation names of ``mlp`` networks, in the kernels' code order
ACTIVATIONS = ("tanh", "relu", "gelu")
#: loss names, in the kernels' code order
LOSSES = ("mse", "xent")
#: the widest layer a spec may name (a larger one is a typo, and would not fit in memory)
MAX_WIDTH = 10**7

_WIDTHS = re.compile(r"^\d+(-\d+)+$")


@dataclass(frozen=True)
class Network:
    """A built-in network: its family, layer widths and activation.

    Attributes
    ----------
    family : {"linear", "mlp"}
        Deep linear (no biases) or multilayer perceptron (biases, activation).
    widths : tuple of int
        Input width, hidden widths, output width.
    activation : str or None
        ``tanh``, ``relu`` or ``gelu`` for ``mlp``; None for ``linear``.

    Examples
    --------
    >>> net = parse_network("mlp:3-4-2:tanh")
    >>> net.spec, net.dim, [entry["name"] for entry in net.layout()]
    ('mlp:3-4-2:tanh', 26, ['W1', 'b1', 'W2', 'b2'])
    """

    family: str
    widths: tuple[int, ...]
    activation: str | None = None

    @property
    def spec(self) -> str:
        """The canonical SPEC text, e.g. ``"mlp:2-8-1:tanh"``."""
        text = f"{self.family}:{'-'.join(map(str, self.widths))}"
        return text if self.activation is None else f"{text}:{self.activation}"

    @property
    def biases(self) -> bool:
        """Whether the layers have biases (``mlp``)."""
        return self.family == "mlp"

    @property
    def inputs(self) -> int:
        """Input width."""
        return self.widths[0]

    @property
    def outputs(self) -> int:
        """Output width."""
        return self.widths[-1]

    @property
    def dim(self) -> int:
        """Number of parameters d."""
        return sum(b * a + (b if self.biases else 0) for a, b in itertools.pairwise(self.widths))

    def layout(self) -> list[dict]:
        """Return the parameter layout: one entry per weight and bias block, in order.

        Returns
        -------
        list of dict
            ``{"name": "W1" | "b1" | …, "shape": [out, in] or [out], "offset": int}``.
        """
        entries, offset = [], 0
        for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(self.widths), start=1):
            entries.append({"name": f"W{layer}", "shape": [fan_out, fan_in], "offset": offset})
            offset += fan_in * fan_out
            if self.biases:
                entries.append({"name": f"b{layer}", "shape": [fan_out], "offset": offset})
                offset += fan_out
        return entries

    def unpack(self, w):
        """Return the list of weight (and bias) arrays of the flat parameter vector ``w``.

        Parameters
        ----------
        w : numpy.ndarray
            Shape ``(d,)``.

        Returns
        -------
        list of numpy.ndarray
            Views into ``w`` in :meth:`layout` order.
        """
        return [w[e["offset"]:e["offset"] + math.prod(e["shape"])].reshape(e["shape"])
                for e in self.layout()]

    def forward(self, w, x):
        """Return f(x; w) for the rows of ``x`` (NumPy; the reference the kernels are tested against).

        Parameters
        ----------
        w : numpy.ndarray
            Parameters, shape ``(d,)``.
        x : numpy.ndarray
            Inputs, shape ``(n, in)``.

        Returns
        -------
        numpy.ndarray
            Outputs, shape ``(n, out)``.
        """
        blocks = self.unpack(w)
        step = 2 if self.biases else 1
        layers = len(self.widths) - 1
        h = x
        for layer in range(layers):
            h = h @ blocks[step * layer].T
            if self.biases:
                h = h + blocks[step * layer + 1]
            if self.activation is not None and layer < layers - 1:
                h = _activate(self.activation, h)
        return h


def _activate(name: str, z):
    import numpy as np

    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    from scipy.special import erf

    return 0.5 * z * (1.0 + erf(z / math.sqrt(2.0)))


def parse_network(spec) -> Network:
    """Return the :class:`~fastwalk.networks.Network` a SPEC names.

    Parameters
    ----------
    spec : str or Network
        ``linear:M-H-…-N`` or ``mlp:IN-H1-…-OUT:tanh|relu|gelu`` (module docstring).

    Returns
    -------
    fastwalk.networks.Network
        The parsed network.

    Raises
    ------
    ValueError
        Naming what is wrong with the text and how to write it.

    Examples
    --------
    >>> parse_network("linear:3-2-3").dim
    12
    >>> parse_network("mlp:10-100-100-1:tanh").dim
    11301
    """
    if isinstance(spec, Network):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"--network must be a SPEC string, got {type(spec).__name__}")
    how = "write linear:M-H-N (widths joined by '-') or mlp:IN-H-OUT:tanh|relu|gelu"
    parts = spec.strip().split(":")
    family = parts[0]
    if family not in ("linear", "mlp"):
        raise ValueError(f"--network {spec!r}: unknown network {family!r}; {how} "
                         "(or FILE.py:FUNCTION for a PyTorch module)")
    expected = 2 if family == "linear" else 3
    if len(parts) != expected:
        raise ValueError(f"--network {spec!r}: a {family} network has {expected} ':'-separated "
                         f"parts; {how}")
    if not _WIDTHS.match(parts[1]):
        raise ValueError(f"--network {spec!r}: the widths {parts[1]!r} must be at least two positive "
                         f"integers joined by '-'; {how}")
    widths = tuple(int(v) for v in parts[1].split("-"))
    if any(v < 1 or v > MAX_WIDTH for v in widths):
        raise ValueError(f"--network {spec!r}: every width must be between 1 and {MAX_WIDTH}")
    activation = None
    if family == "mlp":
        activation = parts[2]
        if activation not in ACTIVATIONS:
            raise ValueError(f"--network {spec!r}: unknown activation {activation!r}; use one of "
                             f"{', '.join(ACTIVATIONS)}")
    return Network(family, widths, activation)


def trained_point(network, data, *, seed: int = 0, scale: float = 0.5, max_iterations: int = 10_000):
    """Return a minimum of L_n found by L-BFGS from a seeded start (deterministic).

    The start is ``scale`` times standard normals from ``numpy.random.default_rng(seed)``; the
    minimiser is SciPy's L-BFGS-B on U = n·L_n with the exact gradient (the model's kernels),
    to a projected gradient of 1e-10·n. The same network, data and seed give the same point.

    Parameters
    ----------
    network : str or Network
        The network.
    data : fastwalk.data.Dataset or path-like or tuple
        The data (as for :class:`~fastwalk.models.network.NetworkLangevin`); a Dataset's loss is used.
    seed : int, optional
        Seed of the start point.
    scale : float, optional
        Standard deviation of the start point.
    max_iterations : int, optional
        L-BFGS iterations at most.

    Returns
    -------
    numpy.ndarray
        w*, shape ``(d,)``.

    Examples
    --------
    ``linear:1-1-1`` (y = b·a·x) on data with y = 0.5·x: any w* has b·a = 0.5.

    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 8)[:, None]
    >>> w = trained_point("linear:1-1-1", (x, 0.5 * x))
    >>> w.shape, round(float(w[0] * w[1]), 6)
    ((2,), 0.5)
    """
    import numpy as np
    from scipy.optimize import minimize

    from fastwalk.data import Dataset
    from fastwalk.models.network import NetworkLangevin

    loss = data.loss if isinstance(data, Dataset) else "mse"
    model = NetworkLangevin(network, data, loss, boundary="none")
    start = scale * np.random.default_rng(seed).standard_normal(model.dim)

    def value_and_gradient(w):
        energy, gradient = model.energies_gradients(w[None, :])
        return float(energy[0]), gradient[0]

    result = minimize(value_and_gradient, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iterations, "gtol": 1e-10 * model.data.n,
                               "ftol": 1e-15})
    return np.ascontiguousarray(result.x)


def sample_network(network, data, *, loss: str = "mse", temperature=1.0, walkers: int = 1000,
                   steps: int = 10_000, out=None, seed: int | None = None, burn_in: int = 0,
                   at=None, **options):
    """Sample exp(−n·L_n(w)/T − γ/2·‖w − w*‖²) of a built-in network on data: one call.

    ``fastwalk langevin --network SPEC --data FILE`` from Python. A list of temperatures runs a
    sweep, one run per temperature, each on its own seed ``rng.derive_seed(seed, "temperature",
    position)`` as on the command line, so the λ̂(β) are independent (``out`` gets ``-T<T>``
    before its suffix).

    Parameters
    ----------
    network : str or Network
        ``linear:M-H-…-N`` or ``mlp:IN-H1-…-OUT:tanh|relu|gelu``.
    data : path-like or tuple or fastwalk.data.Dataset
        A data file (``.npz``/HDF5 with ``x`` and ``y``) or ``(x, y)`` arrays.
    loss : {"mse", "xent"}, optional
        The loss.
    temperature : float or sequence of float, optional
        T, or several for a sweep.
    walkers, steps, out, seed, burn_in : optional
        As for :func:`fastwalk.simulate`.
    at : array_like or "trained", optional
        w* of the localizer (``localize=γ`` in ``options``); ``"trained"`` runs :func:`trained_point`.
    **options
        Further keywords of :class:`~fastwalk.models.network.NetworkLangevin` (``box``, ``center``,
        ``boundary``, ``dt`` (a number or ``"auto"``), ``method``, ``start``, ``localize``,
        ``batch``) or of :func:`fastwalk.simulate`
        (``every``, ``observe_every``, ``threads``, ``overwrite``, ``progress``).

    Returns
    -------
    fastwalk.engine.RunResult or list of RunResult
        One result, or one per temperature.

    Examples
    --------
    >>> import numpy as np
    >>> data = (np.sqrt(2) * np.eye(2), np.zeros((2, 2)))
    >>> run = sample_network("linear:2-1-2", data, temperature=0.02, walkers=100, steps=500,
    ...                      burn_in=2000, seed=1, dt=0.05, start="uniform", method="mala",
    ...                      out="rrr.h5", progress=False)
    >>> run.model.dim, run.model.temperature
    (4, 0.02)
    >>> run.close()
    """
    import inspect
    from pathlib import Path

    from fastwalk.api import simulate
    from fastwalk.data import load_data, make_dataset
    from fastwalk.models.network import NetworkLangevin
    from fastwalk.rng import derive_seed, resolve_seed

    spec = parse_network(network)
    if isinstance(data, tuple):
        data = make_dataset(*data, loss, spec.inputs, spec.outputs)
    elif not hasattr(data, "sha256"):
        data = load_data(data, loss, spec.inputs, spec.outputs)
    source = None
    if isinstance(at, str) and at == "trained":
        at, source = trained_point(spec, data), "trained: L-BFGS from seed 0"
    model_keys = set(inspect.signature(NetworkLangevin).parameters)
    model_options = {k: v for k, v in options.items() if k in model_keys}
    run_options = {k: v for k, v in options.items() if k not in model_keys}
    sweep = not isinstance(temperature, (int, float))
    temperatures = list(temperature) if sweep else [temperature]
    seed = resolve_seed(seed)
    results = []
    for position, t in enumerate(temperatures):
        model = NetworkLangevin(spec, data, loss, temperature=t, at=at, at_source=source,
                                **model_options)
        path = out
        if out is not None and sweep:
            path = Path(out).with_name(f"{Path(out).stem}-T{t:g}{Path(out).suffix}")
        run_seed = derive_seed(seed, "temperature", position) if sweep else seed
        results.append(simulate(model, walkers, steps, out=path, seed=run_seed, burn_in=burn_in,
                                **run_options))
    return results if sweep else results[0]
