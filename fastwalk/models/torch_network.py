"""Langevin sampling of the loss of your own PyTorch module: all walkers in one batched call.

``fastwalk langevin --network FILE.py:FUNCTION --data FILE`` (or a ``torch.nn.Module`` from
Python): ``FUNCTION()`` returns the module; its parameters, flattened in
``module.named_parameters()`` order (recorded as ``layout``), are the walker's w. The law,
losses, box, localizer, start and observables are those of
:class:`~fastwalk.models.network.NetworkLangevin` (the ``network`` model); only the
evaluation differs: U = n·L_n and ∇U for all walkers together, by
``torch.func.vmap(torch.func.grad_and_value(...))`` over ``functional_call`` in float64, on
the device of the module's parameters (CPU unless the module was built elsewhere). The step
is the same Euler–Maruyama/MALA move as the numba kernels', written with NumPy over the walkers
(d normals per walker per step from its own stream, coordinate order; for MALA one uniform
for a walker whose proposal is inside a reflecting box and whose ρ > −∞).

Reproducibility, the stated guarantee: the same seed, walkers, thread count and PyTorch build
give bit-identical runs and checkpoint/resume continues them bit-identically (a walker's
draws are its own stream's, as everywhere); a walker's energies come from batched matrix
products whose rounding may depend on how many walkers share the batch, so across walker
splits (Dask partitions) results agree in law, not bit for bit.

PyTorch is an optional extra (``pip install 'fastwalk[torch]'``); it is imported only here,
and only when such a model is built.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np

from fastwalk import rng
from fastwalk.errors import SimulationError
from fastwalk.models.network import NetworkLangevin

__all__ = ["TorchNetworkLangevin"]

_MODULES = itertools.count()


def _torch():
    try:
        import torch
    except ImportError:
        raise ValueError("--network FILE.py:FUNCTION needs PyTorch, which is not installed: "
                         "pip install 'fastwalk[torch]' (or use a built-in linear:/mlp: network)") from None
    return torch


def _load_module(source):
    """Return ``(module, spec, file_sha256)`` for a ``FILE.py:FUNCTION`` text or a module object."""
    torch = _torch()
    if isinstance(source, torch.nn.Module):
        return source, f"<module {type(source).__name__}>", None
    text = str(source)
    path, sep, function = text.rpartition(":")
    if not sep or not path.endswith(".py") or not function.isidentifier():
        raise ValueError(f"--network {text!r}: write FILE.py:FUNCTION (a function returning a "
                         "torch.nn.Module) or a built-in linear:/mlp: network")
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"--network {text!r}: the module file {path} does not exist")
    content = file.read_bytes()
    spec = importlib.util.spec_from_file_location(f"fastwalk_user_network_{next(_MODULES)}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        built = getattr(module, function)()
    except AttributeError as exc:
        raise ValueError(f"--network {text!r}: the file does not define {function} ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - any failure of the user's file is one line
        raise ValueError(f"--network {text!r}: the module file does not load "
                         f"({type(exc).__name__}: {exc})") from None
    if not isinstance(built, torch.nn.Module):
        raise ValueError(f"--network {text!r}: {function}() returned a {type(built).__name__}, "
                         "not a torch.nn.Module")
    return built, f"{file.resolve()}:{function}", hashlib.sha256(content).hexdigest()


class _TorchNet:
    """What the network model reads of a network (spec, d, widths, layout) for a torch module."""

    def __init__(self, module, spec: str, inputs: int, outputs: int):
        self.module, self.spec, self.inputs, self.outputs = module, spec, inputs, outputs
        self.names = [name for name, _ in module.named_parameters()]
        self.shapes = [tuple(p.shape) for _, p in module.named_parameters()]
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.dim = sum(self.sizes)
        self.widths = (inputs, outputs)

    def layout(self) -> list[dict]:
        offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(int)
        return [{"name": n, "shape": list(s), "offset": int(o)}
                for n, s, o in zip(self.names, self.shapes, offsets, strict=True)]


def _rebuild(parameters: dict, arrays: dict) -> TorchNetworkLangevin:
    from fastwalk.models.base import trusting_imports

    with trusting_imports():
        return TorchNetworkLangevin.from_parameters(parameters, arrays)


class TorchNetworkLangevin(NetworkLangevin):
    """Langevin dynamics on the loss of a PyTorch module (module docstring).

    Parameters
    ----------
    network : str or torch.nn.Module
        ``"FILE.py:FUNCTION"`` (``FUNCTION()`` returns the module) or the module itself.
    data, loss, box, center, boundary, temperature, dt, method, start, localize, at, at_source
        As for :class:`~fastwalk.models.network.NetworkLangevin`.

    Raises
    ------
    ValueError
        If PyTorch is missing, the file does not load or does not return a module, the
        module's forward fails on the data, or any check of the network model fails.

    Examples
    --------
    The module of ``linear:2-1-2`` (PyTorch is an optional extra; without it the example
    prints what the built-in network gives):

    >>> import importlib.util
    >>> import numpy as np
    >>> import fastwalk as fw
    >>> data = (np.sqrt(2) * np.eye(2), np.zeros((2, 2)))
    >>> if importlib.util.find_spec("torch") is None:
    ...     model = fw.NetworkLangevin("linear:2-1-2", data, temperature=0.02, dt=0.05)
    ... else:
    ...     import torch
    ...     module = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False),
    ...                                  torch.nn.Linear(1, 2, bias=False))
    ...     model = fw.TorchNetworkLangevin(module, data, temperature=0.02, dt=0.05)
    >>> model.dim
    4
    """

    kind = "torch_network"

    def _network_and_data(self, network, data):
        from fastwalk.data import Dataset, make_dataset, read_arrays

        torch = _torch()
        module, spec, self.module_sha256 = _load_module(network)
        module = module.double()
        path = None
        if isinstance(data, Dataset):
            x, y, path = data.x, data.y, data.path
        elif isinstance(data, tuple) and len(data) == 2:
            x, y = data
        else:
            path = str(data)
            x, y = read_arrays(data)
        x = np.asarray(x)
        if x.ndim != 2 or x.dtype.kind not in "fiu" or x.shape[0] < 1:
            raise ValueError(f"data: x has shape {x.shape} and dtype {x.dtype}; it must be real [n, in]")
        try:
            with torch.no_grad():
                probe = module(torch.as_tensor(np.asarray(x[:1], dtype=np.float64)))
        except Exception as exc:  # noqa: BLE001 - the user's forward fails: one line
            raise ValueError(f"the module's forward fails on one row of x [1, {x.shape[1]}] "
                             f"({type(exc).__name__}: {exc})") from None
        if probe.ndim != 2 or probe.shape[0] != 1:
            raise ValueError(f"the module maps x [1, {x.shape[1]}] to shape {tuple(probe.shape)}; "
                             "it must return [batch, out]")
        net = _TorchNet(module, spec, x.shape[1], int(probe.shape[1]))
        self.network, self.dim = net, net.dim
        return net, make_dataset(x, y, self.loss, net.inputs, net.outputs, path)

    def _check_memory(self, samples: int) -> None:
        """Check nothing: the memory of the batched evaluation is PyTorch's to report."""

    def _tables(self) -> None:
        torch = _torch()
        from torch.func import functional_call, grad_and_value, vmap

        net = self.network
        device = next(net.module.parameters()).device if net.dim else torch.device("cpu")
        x = torch.as_tensor(self.data.x, device=device)
        y = torch.as_tensor(self.data.y, device=device)
        buffers = dict(net.module.named_buffers())
        mse = self.loss == "mse"

        def loss(flat):
            params, offset = {}, 0
            for name, shape, size in zip(net.names, net.shapes, net.sizes, strict=True):
                params[name] = flat[offset:offset + size].view(shape)
                offset += size
            out = functional_call(net.module, {**params, **buffers}, (x,))
            if mse:
                return ((out - y) ** 2).sum()
            return torch.nn.functional.cross_entropy(out, y, reduction="sum")

        self._device = device
        self._batched = vmap(grad_and_value(loss))

    def parameters(self) -> dict:
        """Return the network model's parameters plus the module file's SHA-256."""
        return {**super().parameters(), "module_sha256": self.module_sha256}

    @classmethod
    def from_parameters(cls, parameters: dict, arrays: dict) -> TorchNetworkLangevin:
        """Rebuild from a file: imports the recorded module file only when imports are trusted."""
        from fastwalk.models.base import imports_trusted

        p = parameters
        if p.get("module_sha256") is None:
            raise ValueError("this run's network was a PyTorch module given from Python, which a file "
                             "cannot rebuild; give it as FILE.py:FUNCTION to make runs resumable")
        if not imports_trusted():
            raise ValueError(f"this run's network is the PyTorch module {p['network']}, and fastwalk "
                             "never runs code that a file names unless told to: if you trust the file, "
                             "resume it with --import-potential (fw.resume(..., import_potential=True))")
        file = Path(p["network"].rpartition(":")[0])
        if file.is_file() and hashlib.sha256(file.read_bytes()).hexdigest() != p["module_sha256"]:
            raise ValueError(f"the module file {file} changed since the run was written; restore it "
                             "or start a new run")
        return super().from_parameters(p, arrays)

    def __reduce__(self):
        """Pickle as the parameters (Dask workers load the module file themselves)."""
        if self.module_sha256 is None:
            raise TypeError("a PyTorch module given from Python cannot be sent to other processes; "
                            "give it as FILE.py:FUNCTION")
        return (_rebuild, (self.parameters(), self.parameter_arrays()))

    def energies_gradients(self, points) -> tuple[np.ndarray, np.ndarray]:
        """Return U = n·L_n and ∇U at each row of ``points`` (one batched PyTorch call).

        Parameters
        ----------
        points : array_like
            Shape ``(N, d)``.

        Returns
        -------
        tuple of numpy.ndarray
            ``(N,)`` energies and ``(N, d)`` gradients.
        """
        torch = _torch()
        points = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, self.dim)
        if points.shape[0] == 0:
            return np.zeros(0), np.zeros((0, self.dim))
        gradient, energy = self._batched(torch.as_tensor(points, device=self._device))
        return energy.detach().cpu().numpy().copy(), gradient.detach().cpu().numpy().copy()

    def datum_losses(self, points) -> np.ndarray:
        """Return each datum's loss ℓ_i(w) at each row of ``points``, ``(N, n)`` (the module's outputs).

        Parameters
        ----------
        points : array_like
            Shape ``(N, d)``.

        Returns
        -------
        numpy.ndarray
            ``(N, n)``.
        """
        torch = _torch()
        from torch.func import functional_call

        net = self.network
        x = torch.as_tensor(self.data.x, device=self._device)
        buffers = dict(net.module.named_buffers())
        points = np.asarray(points, dtype=np.float64).reshape(-1, self.dim)
        rows = []
        with torch.no_grad():
            for w in points:
                flat, params, offset = torch.as_tensor(w, device=self._device), {}, 0
                for name, shape, size in zip(net.names, net.shapes, net.sizes, strict=True):
                    params[name] = flat[offset:offset + size].view(shape)
                    offset += size
                out = functional_call(net.module, {**params, **buffers}, (x,))
                rows.append(self._losses_of(out.detach().cpu().numpy().astype(np.float64)))
        return np.array(rows).reshape(points.shape[0], self.data.n)

    def _into_box(self, points: np.ndarray) -> np.ndarray:
        lo, hi, side = self.lower, self.lower + self.box_side, self.box_side
        if self.boundary == "periodic":
            wrapped = points - side * np.floor((points - lo) / side)
            return np.where(wrapped < hi, wrapped, lo)
        if self.boundary == "none":
            return points.copy()
        out = points.copy()
        finite = np.isfinite(out)
        while True:
            low, high = finite & (out < lo), finite & (out > hi)
            if not (low.any() or high.any()):
                return out
            out = np.where(low, 2.0 * lo - out, np.where(high, 2.0 * hi - out, out))

    def _advance(self, state: dict, first_step: int, steps: int, accumulate: bool, dt: float,
                 adjusted: bool = True) -> None:
        """Advance all walkers ``steps`` steps of ``dt`` together; count them if ``accumulate``."""
        x, states = state["position"], state["rng"]
        anchor = np.full(self.dim, self.center) if self.at is None else self.at
        temperature = self.temperature
        gamma_t, noise = self.localize * temperature, math.sqrt(2.0 * temperature * dt)
        ux, gx = self.energies_gradients(x)
        for step in range(steps):
            xi = rng.draws(states, self.dim, "normal")
            proposal = x - dt * (gx + gamma_t * (x - anchor)) + noise * xi
            wrapped = self._into_box(proposal)
            if self.method == "em" or not adjusted:
                x[:] = wrapped
                ux, gx = self.energies_gradients(x)
                if not (np.all(np.isfinite(ux)) and np.all(np.isfinite(gx))):
                    self._fail(first_step + step)
            else:
                ux, gx = self._mala(state, x, ux, gx, xi, proposal, wrapped, anchor, gamma_t, noise,
                                    first_step + step, dt, accumulate)
            if accumulate:
                state["walker_energy_sum"] += ux
                state["walker_energy_count"] += 1
        state["energy"][:] = ux

    def _mala(self, state, x, ux, gx, xi, proposal, wrapped, anchor, gamma_t, noise, step, dt,
              accumulate):
        temperature = self.temperature
        state["walker_proposed"] += accumulate  # counted steps only, as the kernels
        inside = np.all(wrapped == proposal, axis=1) if self.boundary == "reflect" else \
            np.ones(x.shape[0], dtype=bool)
        idx = np.flatnonzero(inside)
        uy, gy = self.energies_gradients(wrapped[idx])
        xs, ys = x[idx], wrapped[idx]
        vx = ux[idx] + 0.5 * gamma_t * np.sum((xs - anchor) ** 2, axis=1)
        vy = uy + 0.5 * gamma_t * np.sum((ys - anchor) ** 2, axis=1)
        r = dt * (gx[idx] + gamma_t * (xs - anchor) + gy + gamma_t * (ys - anchor)) - noise * xi[idx]
        with np.errstate(invalid="ignore", over="ignore"):
            rho = (vx - vy) / temperature + 0.5 * np.sum(xi[idx] ** 2, axis=1) \
                - np.sum(r * r, axis=1) / (4.0 * temperature * dt)
        if np.any(np.isnan(rho) | (rho == np.inf)):
            self._fail(step)
        draw = rho > -np.inf
        chosen = idx[draw]
        streams = state["rng"][chosen]
        u = rng.draws(streams, 1, "uniform")[:, 0]
        state["rng"][chosen] = streams
        accept = np.zeros(x.shape[0], dtype=bool)
        accept[chosen] = u < np.exp(np.minimum(rho[draw], 0.0))
        taken = accept[idx]
        if accumulate:
            state["walker_accepted"] += accept
        ux, gx = ux.copy(), gx.copy()
        x[idx[taken]] = ys[taken]
        ux[idx[taken]] = uy[taken]
        gx[idx[taken]] = gy[taken]
        return ux, gx

    @staticmethod
    def _fail(step: int):
        raise SimulationError(f"a walker's parameters, loss or gradient became non-finite at step "
                              f"{step + 1}; use a smaller --dt or --method mala")

    @classmethod
    def examples(cls) -> list:
        """None: building one needs PyTorch, an optional extra."""
        return []
