"""``fastwalk langevin --network SPEC --data FILE``: the options and the run of a network's loss.

Kept apart from :mod:`fastwalk.commands.langevin` (which calls :func:`run_network` when
``--network`` is given) so that typed potentials and networks evolve separately. Only
Click is imported here at module level (``fastwalk --help`` loads no NumPy).
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["network_options", "run_network", "NETWORK_EPILOG"]

NETWORK_EPILOG = (
    "Networks: --network linear:3-2-3 (deep linear, no biases; reduced-rank regression) or "
    "mlp:IN-H-...-OUT:tanh|relu|gelu with --data FILE (.npz or HDF5 with arrays x [n, in] and "
    "y [n, out], integer labels [n] for --loss xent) samples exp(-n L_n(w)/T - gamma/2|w - w*|^2) "
    "on the box (the localizer is a fixed prior, not divided by T); d follows from the network "
    "(no --dim/--potential). --start and --at also take a .npy file of d values; --at trained "
    "takes a minimum of L_n found by L-BFGS.")


def network_options(fn):
    """Add ``--network``, ``--data`` and ``--loss`` to a command."""
    options = [
        click.option("--network", type=str, default=None,
                     help="A built-in network instead of --potential: linear:M-H-N or "
                          "mlp:IN-H1-...-OUT:tanh|relu|gelu (needs --data)."),
        click.option("--data", type=click.Path(dir_okay=False), default=None,
                     help="Data of --network: .npz or HDF5 with arrays x [n, in] and y."),
        click.option("--loss", type=click.Choice(["mse", "xent"]), default="mse", show_default=True,
                     help="Loss of --network: squared error, or cross-entropy on integer labels."),
        click.option("--batch", type=click.IntRange(min=1), default=None,
                     help="Minibatch SGLD for --network (with --method em): each step's gradient "
                          "from B data drawn from the walker's stream, scaled by n/B; no "
                          "Metropolis step (a bias that shrinks as B grows) [default: all data]."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _usage(fn):
    try:
        return fn()
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None


def refuse_typed_options(options: dict) -> None:
    """Refuse typed-potential options beside ``--network``, and ``--network`` options without it."""
    if options.get("network") is None:
        for name in ("data", "batch"):
            if options.get(name) is not None:
                raise click.UsageError(f"--{name} belongs to --network; give --network SPEC or "
                                       f"drop --{name}")
        if options.get("dim") is None or options.get("potential") is None:
            raise click.UsageError("give --dim and --potential (a typed U), or --network SPEC "
                                   "--data FILE (a network's loss)")
        return
    for name, flag in (("dim", "--dim"), ("potential", "--potential")):
        if options.get(name) is not None:
            raise click.UsageError(f"{flag} does not go with --network (d and U follow from the "
                                   f"network and the data); drop {flag}")
    if options.get("param"):
        raise click.UsageError("--param does not go with --network; drop it")
    if options.get("data") is None:
        raise click.UsageError("--network needs --data FILE (.npz or HDF5 with arrays x and y)")


def _point(name: str, text, dim: int):
    """Parse a point: a .npy file of d values or d comma-separated numbers."""
    import numpy as np

    from fastwalk.commands._common import parse_floats

    if str(text).endswith(".npy"):
        try:
            values = np.load(text, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{name} {text}: cannot read a .npy array ({exc})") from None
        values = np.asarray(values, dtype=np.float64) if values.dtype.kind in "fiu" else values
        if values.dtype.kind != "f" or values.ndim != 1:
            raise ValueError(f"{name} {text}: needs a 1-D array of {dim} real numbers, got "
                             f"{values.dtype} {values.shape}")
    else:
        values = np.atleast_1d(parse_floats(name, text))
    if values.shape != (dim,):
        raise ValueError(f"{name} has {values.size} values but the network has d = {dim} "
                         "parameters; give d values in the documented order")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return values


def build_network_models(options: dict, temperatures: list[float]) -> list:
    """Return one network model per temperature (built-in, or a PyTorch module for FILE.py:FUNCTION)."""
    from fastwalk.commands._common import parse_floats
    from fastwalk.data import load_data
    from fastwalk.models.network import NetworkLangevin
    from fastwalk.networks import parse_network

    center = parse_floats("--center", options["center"])
    if isinstance(center, list):
        raise ValueError("--center takes one value for a network (the same for every parameter)")
    common = dict(box=options["box"], center=center, boundary=options["boundary"], dt=options["dt"],
                  method=options["method"])
    if options.get("batch") is not None:
        common["batch"] = options["batch"]
    spec, loss = options["network"], options["loss"]
    if ".py:" in str(spec):
        from fastwalk.models.torch_network import TorchNetworkLangevin as model_class

        data = options["data"]
        first = model_class(spec, data, loss, temperature=temperatures[0], **common)
        network, dim = first.network, first.dim
        if options.get("at") == "trained":
            raise ValueError("--at trained is for built-in networks; train your module and give "
                             "--at FILE.npy (its parameters flattened in named_parameters() order)")
    else:
        model_class = NetworkLangevin
        network = parse_network(spec)
        data = load_data(options["data"], loss, network.inputs, network.outputs)
        dim = network.dim
    start = options["start"]
    if start not in ("center", "uniform"):
        start = _point("--start", start, dim)
    at, source = options.get("at"), None
    if at is not None:
        if at == "trained":
            from fastwalk.networks import trained_point

            at, source = trained_point(network, data), "trained: L-BFGS from seed 0"
        else:
            at, source = _point("--at", at, dim), f"--at {at}"
    return [model_class(spec if model_class is not NetworkLangevin else network, data, loss,
                        temperature=t, start=start, localize=options["localize"], at=at,
                        at_source=source, **common)
            for t in temperatures]


def run_network(options: dict) -> None:
    """Run ``fastwalk langevin --network SPEC --data FILE …`` (one file per temperature); exit."""
    from fastwalk.commands import langevin
    from fastwalk.commands._common import prepare_run, split_run_options

    refuse_typed_options(options)
    run, model_options = split_run_options(options)
    temperatures = langevin._temperatures(model_options.pop("temperature"))
    out = Path(run["out"] or "langevin.h5")
    outs = _usage(lambda: langevin.sweep_paths(out, temperatures))
    models = prepare_run(run, lambda: build_network_models(model_options, temperatures), outs)
    langevin.launch(models, outs, run, options)
