"""``fastwalk langevin``: overdamped Langevin sampling of a user-typed potential."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fastwalk.commands._common import (
    echo_resume_advice,
    echo_summary,
    execute_run,
    json_text,
    parse_floats,
    prepare_run,
    refuse_ignored_options,
    run_options,
    run_summary,
    split_run_options,
)
from fastwalk.commands._network import NETWORK_EPILOG, network_options, refuse_typed_options, run_network
from fastwalk.commands._types import Count, OptionError, nonnegative, positive
from fastwalk.expression import MAX_DIM

EPILOG = (
    "Examples:\n\n"
    "  fastwalk langevin --dim 2 --potential 'x0**2 * x1**4' --box 2 --temperature 1e-3 "
    "--dt 1e-3 --method mala --walkers 2000 --steps 20000 --out quartic.h5\n\n"
    "  fastwalk langevin --dim 2 --potential 'a*Min((x0-b)**2, (x1-b)**2)' --param a=1 "
    "--param b=0.5 --box 1 --center 0.5 --boundary periodic --temperature 0.05 --dt 1e-3 "
    "--out valleys.h5\n\n"
    "  fastwalk langevin --dim 2 --potential 'x0**2 * x1**2' --method mala --dt auto "
    "--temperature 0.1,0.01,1e-3,1e-4 --walkers 300 --steps 20000 --burn-in 100000 "
    "--out sweep.h5   # writes sweep-T0.1.h5, sweep-T0.01.h5, ... each on its own seed, derived "
    "from --seed and the temperature's position; fastwalk llc sweep-T*.h5 gives λ = 1/2, m = 2\n\n"
    "  fastwalk langevin --dim 2 --potential 'x0**2 * x1**4' --method mala --start uniform "
    "--temperature 1e-3 --dt auto --walkers 300 --steps 5000 --burn-in 15000 --out auto.h5   "
    "# dt chosen by a pilot during burn-in, then fixed and recorded\n\n"
    "U is an expression in x0..x{d-1}, --param constants, pi, E, + - * / ** and the functions "
    "sin cos tan exp log sqrt tanh sinh cosh atan asin acos Abs Min Max (never evaluated as "
    "Python). dX = -grad U dt + sqrt(2T) dW on the box [c - L/2, c + L/2]^d. --method em is "
    "Euler-Maruyama (O(dt) bias); mala accepts each move with the Metropolis-Hastings ratio, "
    "so the law is exactly exp(-U/T) at any dt. --localize G --at X multiplies the law by the "
    "fixed Gaussian prior exp(-G/2*|x - X|^2) (not divided by T: the local learning coefficient's "
    "localizer); mean_energy and the per-walker energy sums record U alone. "
    "Observables: mean_energy, sem_energy, acceptance_rate (mala); accumulators: "
    "walker_energy_sum, walker_energy_count, walker_accepted (mala: each walker's accepted "
    "proposals), marginals, histogram_2d.\n\n" + NETWORK_EPILOG)


def sweep_paths(out: Path, temperatures: list[float]) -> list[Path]:
    """Return the output file of each temperature: ``out`` alone, or ``<stem>-T<T><suffix>``.

    Parameters
    ----------
    out : pathlib.Path
        The ``--out`` path.
    temperatures : list of float
        The temperatures of the sweep.

    Returns
    -------
    list of pathlib.Path
        One path per temperature.
    """
    if len(temperatures) == 1:
        return [out]
    if len(set(temperatures)) != len(temperatures):
        raise ValueError("--temperature lists a temperature twice; give distinct values")
    return [out.with_name(f"{out.stem}-T{_label(t)}{out.suffix}") for t in temperatures]


def _label(temperature: float) -> str:
    """Return the short form of ``temperature`` (``%g``), or every digit where that is ambiguous."""
    short = f"{temperature:g}"
    return short if float(short) == temperature else repr(temperature)


class StepType(click.ParamType):
    """``--dt``: a time step > 0, or ``auto``."""

    name = "dt"

    def convert(self, value, param, ctx):
        """Return ``"auto"`` or the positive number ``value`` names."""
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            return positive().convert(value, param, ctx)
        except click.BadParameter as exc:
            raise OptionError(f"{exc.message}; give a time step > 0, or auto to choose one",
                              param=param, ctx=ctx) from None


@click.command("langevin", epilog=EPILOG)
@click.option("--dim", "-d", type=Count(1, MAX_DIM), default=None,
              help="Number of coordinates d (x0 .. x{d-1}).")
@click.option("--potential", "-U", type=str, default=None,
              help="U as an expression, e.g. 'x0**2 * x1**4' or 'a*(x0**2 + x1**2)**2'.")
@click.option("--param", multiple=True,
              help="A constant of the expression, NAME=VALUE (repeat for each).")
@click.option("--box", type=positive(), default=2.0, show_default=True,
              help="Side L of the box [c - L/2, c + L/2]^d.")
@click.option("--center", type=str, default="0", show_default=True,
              help="Box center c: one value, or d comma-separated values.")
@click.option("--boundary", type=click.Choice(["reflect", "periodic", "none"]), default="reflect",
              show_default=True, help="Reflect at the walls (uniform prior on the box), wrap "
                                      "(U should be periodic) or unbounded (U must confine).")
@click.option("--temperature", "-T", type=str, default="1", show_default=True,
              help="Temperature T > 0; a comma-separated list (at most 1000) runs a sweep, one file per T.")
@click.option("--dt", type=StepType(), default="1e-3", show_default=True,
              help="Time step (> 0), or auto: MALA adapts it during --burn-in toward acceptance "
                   "0.574, EM takes 0.05 of its stability limit; then fixed and recorded.")
@click.option("--method", type=click.Choice(["em", "mala"]), default="em", show_default=True,
              help="Euler-Maruyama, or Metropolis-adjusted Langevin (exact law at any dt).")
@click.option("--start", type=str, default="center", show_default=True,
              help="center, uniform (in the box), or a point X0,X1,...")
@click.option("--localize", type=nonnegative(), default=0.0, show_default=True,
              help="gamma >= 0: multiply the law by the fixed prior exp(-gamma/2*|x - x*|^2) "
                   "(0 = off).")
@click.option("--at", "at", type=str, default=None,
              help="The point x* of --localize [default: the center].")
@click.option("--bins", type=int, default=64, show_default=True,
              help="Histogram bins per coordinate.")
@network_options
@run_options
def command(**options):
    """Overdamped Langevin dynamics (EM or MALA) under a potential you type, or a network's loss."""
    if options["network"] is not None:
        run_network(options)
    refuse_typed_options(options)
    for name in ("network", "data", "loss", "batch"):
        options.pop(name)
    run, model_options = split_run_options(options)
    refuse_ignored_options("langevin", model_options)
    temperatures = _temperatures(model_options.pop("temperature"))
    out = Path(run["out"] or "langevin.h5")
    outs = _checked(lambda: sweep_paths(out, temperatures))
    expression = _checked(lambda: _expression(model_options.pop("potential"), model_options["dim"],
                                              model_options.pop("param")))
    models = prepare_run(run, lambda: [_build(potential=expression, temperature=t, **model_options)
                                       for t in temperatures], outs)
    launch(models, outs, run, options)


def launch(models, outs, run: dict, options: dict) -> None:
    """Run one model, or a sweep of one per temperature each on its own seed; print; exit."""
    from fastwalk.rng import resolve_seed

    base = resolve_seed(run["seed"])
    seeds = [base] if len(models) == 1 else [sweep_seed(base, k) for k in range(len(models))]
    models = [_for_run(model, seed, run) for model, seed in zip(models, seeds, strict=True)]
    if len(models) == 1:
        from fastwalk.commands._common import report_result

        result = execute_run("langevin", models[0], outs[0], run, options, seed=base)
        report_result(result, models[0], as_json=run["json_output"], quiet=run["quiet"])
    _sweep(models, outs, run, options, base)


def _for_run(model, seed: int, run: dict):
    """Resolve ``--dt auto`` for this run before anything is written, and say what was chosen."""
    resolved = _checked(lambda: model.for_run(seed, run["burn_in"]))
    record = getattr(resolved, "dt_auto", None)
    if record is not None and not (run["quiet"] or run["json_output"]):
        click.echo(f"dt auto -> {resolved.dt:.6g} at T = {resolved.temperature:g} ({_how(record)})")
    return resolved


def _how(record: dict) -> str:
    kappa = record.get("max_curvature")
    if record["rule"] == "stability":
        limit = f"2/curvature = {2.0 / kappa:.4g}" if kappa else "no curvature found"
        return f"em: {record['fraction']:g} of the stability limit, {limit}, noise step <= box/20"
    typical = record.get("typical_curvature")
    cap = f", capped at 2/curvature = {2.0 / typical:.4g}" if typical else ""
    return (f"mala: {record['acceptance_dt']:.4g} for acceptance {record['target_acceptance']:g} "
            f"(pilot {record['pilot_acceptance']:.3f}){cap}; the first half of the burn-in at "
            f"{record['relax_dt']:.4g}")


def sweep_seed(seed: int, position: int) -> int:
    """Return the seed of the temperature at ``position`` (0-based) in a sweep's list.

    ``rng.derive_seed(seed, "temperature", position)``: every temperature has
    its own streams, so the λ̂(β) of a sweep are independent; the file
    records this seed as its own (it resumes and reruns alone with it), and
    the sweep's ``seed`` and the ``position`` in its configuration.

    Parameters
    ----------
    seed : int
        The sweep's seed (``--seed``, or a fresh one).
    position : int
        The temperature's index in ``--temperature``.

    Returns
    -------
    int
        A seed in [0, 2**128).
    """
    from fastwalk.rng import derive_seed

    return derive_seed(seed, "temperature", position)


def _sweep(models, outs, run, options, base: int) -> None:
    """Run one file per temperature, each on its own seed; print one JSON object with every run."""
    temperatures = [model.temperature for model in models]
    summaries = []
    for position, (model, out) in enumerate(zip(models, outs, strict=True)):
        config = {**options, "temperature": model.temperature, "sweep_seed": str(base),
                  "sweep_position": position, "sweep_temperatures": temperatures}
        result = execute_run("langevin", model, out, run, config, seed=sweep_seed(base, position))
        summary = {**run_summary(result, model), "sweep_position": position}
        summaries.append(summary)
        if not run["json_output"] and not run["quiet"]:
            echo_summary(result, out)
        echo_resume_advice(result, out)
        if summary["exit_status"] != 0:
            break
    skipped = [str(out) for out in outs[len(summaries):]]
    if skipped and not run["json_output"] and not run["quiet"]:
        click.echo(f"not started: {', '.join(skipped)} (rerun the sweep with the remaining "
                   "--temperature values)", err=True)
    if not run["json_output"] and not run["quiet"]:
        click.echo(f"sweep seed {base}: each file's seed derives from it and its position")
    if run["json_output"]:
        click.echo(json_text({"seed": str(base), "runs": summaries, "not_started": skipped}))
    sys.exit(summaries[-1]["exit_status"])


def _checked(fn):
    try:
        return fn()
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None


#: temperatures one sweep may list (one output file each)
MAX_SWEEP = 1000


def _temperatures(text) -> list[float]:
    values = _checked(lambda: parse_floats("--temperature", text))
    values = values if isinstance(values, list) else [values]
    if len(values) > MAX_SWEEP:
        raise click.BadParameter(f"lists {len(values)} temperatures, at most {MAX_SWEEP} (one file "
                                 "each); split the sweep", param_hint="'--temperature'")
    return values


def _params(pairs) -> dict[str, float]:
    params = {}
    for pair in pairs:
        name, sep, value = str(pair).partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--param needs NAME=VALUE, got {pair!r}")
        if name in params:
            raise ValueError(f"--param {name} is given twice; give each constant once")
        try:
            params[name] = float(value)
        except ValueError:
            raise ValueError(f"--param {name} needs a number, got {value.strip()!r}") from None
    return params


def _expression(text, dim, pairs):
    """Parse the potential once for every temperature; refuse constants it does not use."""
    from fastwalk.expression import Expression

    expression = Expression(text, dim, _params(pairs))
    unused = expression.unused_params
    if unused:
        raise ValueError(f"--param {', '.join(unused)}: declared but the potential does not use "
                         f"{'it' if len(unused) == 1 else 'them'}; check the expression for a typo, "
                         "or drop the --param")
    return expression


def _build(dim, potential, box, center, boundary, temperature, dt, method, start, localize, at,
           bins):
    from fastwalk.models.langevin import LangevinBrownian

    if start not in ("center", "uniform"):
        start = parse_floats("--start", start)
    return LangevinBrownian(
        potential, dim, box=box, center=parse_floats("--center", center),
        boundary=boundary, temperature=temperature, dt=dt, method=method, start=start,
        localize=localize, at=None if at is None else parse_floats("--at", at), bins=bins,
    )
