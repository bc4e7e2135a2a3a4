"""Options and the run helper shared by the simulation commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

#: exit status when a run is stopped by a signal (128 + signal number)
SIGNAL_EXIT = {2: 130, 15: 143}

RUN_OPTION_NAMES = {
    "walkers", "steps", "every", "observe_every", "burn_in", "seed", "threads", "out",
    "overwrite", "config", "json_output", "quiet", "compress", "commit_seconds", "dask", "partitions",
}


def _load_config(ctx: click.Context, param, value):
    """Read ``--config FILE.toml`` into the command's defaults (command line wins)."""
    if value is None:
        return None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(value)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise click.BadParameter(f"config file {path} does not exist", param=param) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read config file {path}: {exc}", param=param) from None
    except tomllib.TOMLDecodeError as exc:
        raise click.BadParameter(f"config file {path} is not valid TOML: {exc}", param=param) from None
    section = data.get(ctx.command.name, None)
    if isinstance(section, dict):
        data = {**{k: v for k, v in data.items() if not isinstance(v, dict)}, **section}
    known = {p.name: p for p in ctx.command.params}
    aliases = {"json": "json_output"}
    defaults = {}
    for key, item in data.items():
        if isinstance(item, dict):
            continue
        name = aliases.get(key.replace("-", "_"), key.replace("-", "_"))
        if name not in known or name == "config":
            shown = {"json_output": "json"}
            options = ", ".join(sorted(shown.get(k, k).replace("_", "-")
                                       for k in known if k != "config"))
            raise click.BadParameter(
                f"config file {path} sets unknown option {key!r}; known options: {options}",
                param=param,
            )
        defaults[name] = item
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return str(path)


def run_options(fn):
    """Add the options every simulation command shares."""
    options = [
        click.option("--walkers", "-n", type=int, default=1000, show_default=True,
                     help="Number of independent walkers."),
        click.option("--steps", "-s", type=int, default=10_000, show_default=True,
                     help="Steps after burn-in (lattice time counts steps; continuous time = steps × dt)."),
        click.option("--every", type=int, default=0, show_default=True,
                     help="Record walker positions/nodes every K steps, first at step 0 (0 = never)."),
        click.option("--observe-every", type=int, default=None,
                     help="Record observables every K steps [default: about 200 records]."),
        click.option("--burn-in", type=int, default=0, show_default=True,
                     help="Steps run before step 0, neither recorded nor counted."),
        click.option("--seed", type=int, default=None,
                     help="Seed in [0, 2**128) [default: fresh from OS entropy, reported]."),
        click.option("--threads", type=int, default=None,
                     help="Numba threads [default: all cores]."),
        click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
                     help="Output HDF5 file [default: <command>.h5]."),
        click.option("--overwrite", is_flag=True, help="Replace an existing output file."),
        click.option("--compress", is_flag=True, help="gzip-compress the datasets."),
        click.option("--commit-seconds", type=float, default=None,
                     help="Seconds between commits (flush + checkpoint) [default: 2, or "
                          "$FASTWALK_COMMIT_SECONDS]."),
        dask_option(),
        click.option("--partitions", type=int, default=None,
                     help="Walker blocks of a --dask run, 1..walkers [default: two per worker]."),
        click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary."),
        click.option("--config", type=click.Path(dir_okay=False), is_eager=True,
                     callback=_load_config, expose_value=True,
                     help="TOML file supplying any option (the command line wins)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def dask_option():
    """Return the ``--dask ADDRESS|local[:N]`` option."""
    return click.option(
        "--dask", default=None, metavar="ADDRESS",
        help="Run on Dask: a scheduler (tcp://HOST:PORT) or local[:N] (N worker processes on this "
             "machine, one thread each) [default: one process, no Dask].")


def check_dask(dask: str | None, threads: int | None) -> None:
    """Refuse a malformed ``--dask``, ``--threads`` with it, or a missing distributed extra."""
    if dask is None:
        return
    from fastwalk.distributed import DASK_MISSING, parse_address

    try:
        parse_address(dask)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--dask'") from None
    if threads is not None:
        raise click.UsageError("--threads does not apply with --dask: each task uses its worker's "
                               "threads (start workers with dask worker --nthreads N)")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise click.UsageError(DASK_MISSING) from None


def on_cluster(dask: str | None, out, work):
    """Call ``work(client)`` with a client for ``--dask`` (None without), closing it after.

    A cluster lost mid-run ends with one line saying how to resume ``out``.
    """
    if dask is None:
        return work(None)
    import logging

    from fastwalk.distributed import connect
    from fastwalk.errors import ClusterError

    client, close = connect(dask)
    # Dask logs a lost connection as tracebacks; the run reports it in one line
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return work(client)
    except ClusterError as exc:
        raise ClusterError(f"{exc}; continue with: fastwalk resume {out} --dask {dask}") from None
    finally:
        try:
            close()
        except Exception:  # noqa: BLE001 - a lost cluster may fail to close
            pass


def crossing_options(fn):
    """Add ``--lines K`` or ``--dim D --pin SPEC ...`` (the crossing of DESIGN.md)."""
    options = [
        click.option("--lines", "-K", type=int, default=None,
                     help="The seed's crossing: K axes of a K-torus meeting at the center."),
        click.option("--dim", "-d", type=int, default=None,
                     help="Torus dimension D, with one --pin per subspace."),
        click.option("--pin", multiple=True,
                     help="Coordinates one subspace pins to the center, e.g. 0,2; repeat per subspace."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def parse_floats(name: str, text) -> float | list[float]:
    """Parse ``"0.5"`` or ``"0.5,0.25"`` into a float or a list of floats."""
    if isinstance(text, (int, float)):
        return float(text)
    if isinstance(text, (list, tuple)):
        return [float(v) for v in text]
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{name} needs a number or comma-separated numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"{name} needs a number or comma-separated numbers, got {text!r}")
    return values[0] if len(values) == 1 else values


def split_run_options(options: dict) -> tuple[dict, dict]:
    """Split a command's keyword arguments into (run options, model options)."""
    run = {k: v for k, v in options.items() if k in RUN_OPTION_NAMES}
    model = {k: v for k, v in options.items() if k not in RUN_OPTION_NAMES}
    return run, model


def check_threads(threads: int | None) -> None:
    """Refuse a thread count numba cannot provide."""
    if threads is None:
        return
    import numba

    most = numba.config.NUMBA_NUM_THREADS
    if not 1 <= threads <= most:
        raise click.BadParameter(f"--threads must be between 1 and {most} on this machine, got {threads}",
                                 param_hint="'--threads'")


def run_command(kind: str, build_model, options: dict) -> None:
    """Validate, build the model, run it to a file and report, then exit.

    Parameters
    ----------
    kind : str
        Command name, used for the default output file.
    build_model : callable
        ``build_model(**model_options) -> Model``; its ValueError/TypeError
        become usage errors.
    options : dict
        All of the command's keyword arguments.
    """
    run, model_options = split_run_options(options)
    out = Path(run["out"] or f"{kind}.h5")
    model = prepare_run(run, lambda: build_model(**model_options), [out])
    result = execute_run(kind, model, out, run, options)
    report_result(result, model, as_json=run["json_output"], quiet=run["quiet"])


def prepare_run(run: dict, build, outs: list[Path]):
    """Check the run options, build the model and check the output paths.

    Parameters
    ----------
    run : dict
        The run options (see :func:`split_run_options`).
    build : callable
        ``build() -> Model``; its ValueError/TypeError become usage errors.
    outs : list of pathlib.Path
        The files the run will write.

    Returns
    -------
    fastwalk.models.base.Model
        The model ``build`` returned.
    """
    from fastwalk import validate

    try:
        run["walkers"] = validate.integer("--walkers", run["walkers"], minimum=1)
        run["steps"] = validate.integer("--steps", run["steps"], minimum=0)
        run["every"] = validate.integer("--every", run["every"], minimum=0)
        if run["observe_every"] is not None:
            run["observe_every"] = validate.integer("--observe-every", run["observe_every"], minimum=1)
        run["burn_in"] = validate.integer("--burn-in", run["burn_in"], minimum=0)
        if run["commit_seconds"] is not None:
            validate.real("--commit-seconds", run["commit_seconds"], minimum=0.0)
        if run["seed"] is not None:
            from fastwalk.rng import resolve_seed

            resolve_seed(run["seed"])
        check_threads(run["threads"])
        check_dask(run["dask"], run["threads"])
        if run["partitions"] is not None:
            if run["dask"] is None:
                raise click.UsageError("--partitions needs --dask (it splits the walkers across Dask "
                                       "workers); drop it or add --dask local")
            run["partitions"] = validate.integer("--partitions", run["partitions"], minimum=1,
                                                 maximum=run["walkers"])
        model = build()
        for out in outs:
            if out.exists() and not run["overwrite"]:
                raise click.UsageError(
                    f"output file {out} already exists; choose another --out or pass --overwrite"
                )
            if not out.parent.exists():
                raise click.UsageError(f"directory {out.parent} for --out does not exist; create it first")
    except (ValueError, TypeError) as exc:
        raise click.UsageError(str(exc)) from None
    return model


def execute_run(kind: str, model, out: Path, run: dict, options: dict, seed=None):
    """Run ``model`` to ``out`` with the run options; return the :class:`RunResult`.

    Parameters
    ----------
    kind : str
        Command name (stored with the configuration).
    model : fastwalk.models.base.Model
        What to run.
    out : pathlib.Path
        Output file.
    run : dict
        The run options.
    options : dict
        All of the command's options (stored as the run's configuration).
    seed : int, optional
        Overrides ``run["seed"]`` (a sweep gives every run the same seed).

    Returns
    -------
    fastwalk.engine.RunResult
        The run's result.
    """
    from fastwalk.api import simulate

    config = {"command": kind, **{k: v for k, v in options.items() if k not in {"config"}}}
    config["out"] = str(out)
    quiet, as_json = run["quiet"], run["json_output"]
    return on_cluster(run["dask"], out, lambda client: simulate(
        model, run["walkers"], run["steps"], out=out, seed=run["seed"] if seed is None else seed,
        every=run["every"], observe_every=run["observe_every"], burn_in=run["burn_in"],
        threads=run["threads"], overwrite=run["overwrite"],
        compression="gzip" if run["compress"] else None,
        progress=False if (quiet or as_json) else None, config=_jsonable(config),
        commit_seconds=run["commit_seconds"], client=client, partitions=run["partitions"],
    ))


def report_result(result, model, *, as_json: bool, quiet: bool) -> None:
    """Print the run summary (text or JSON) and exit with the run's status."""
    summary = run_summary(result, model)
    if as_json:
        click.echo(json.dumps(summary))
    elif not quiet:
        echo_summary(result, summary["out"])
    sys.exit(summary["exit_status"])


def run_summary(result, model) -> dict:
    """Return the JSON summary of a finished (or stopped) run.

    Parameters
    ----------
    result : fastwalk.engine.RunResult
        The run's result.
    model : fastwalk.models.base.Model
        The model it ran.

    Returns
    -------
    dict
        Seed, output, steps, timing, exit status, parameters and settings.
    """
    status = SIGNAL_EXIT.get(result.signal, 128 + (result.signal or 0)) if result.signal else 0
    summary = {
        "seed": result.seed,
        "out": result.extra.get("out"),
        "steps": result.steps,
        "target_steps": result.target_steps,
        "walkers": None,
        "wall_s": round(result.wall_s, 6),
        "walker_steps_per_s": result.walker_steps_per_s,
        "reason": result.reason,
        "exit_status": status,
        "parameters": model.parameters(),
    }
    for key in ("partitions", "tasks", "task_seconds"):
        if key in result.extra:
            summary[key] = result.extra[key]
    try:
        from fastwalk.io.reader import Run

        with Run(summary["out"]) as run:
            summary["walkers"] = run.settings["walkers"]
            summary["run"] = run.settings
    except Exception:  # noqa: BLE001 - the summary is best effort; the run itself succeeded
        summary.pop("walkers")
    return summary


def echo_summary(result, out) -> None:
    """Print the one-line text summary of a run (and how to resume a stopped one)."""
    rate = f"{result.walker_steps_per_s:.3g}"
    partitions = result.extra.get("partitions")
    where = f" on {partitions} partitions" if partitions is not None else ""
    click.echo(
        f"{result.reason}: {result.steps}/{result.target_steps} steps{where} in {result.wall_s:.2f} s "
        f"({rate} walker-steps/s), seed {result.seed} -> {out}"
    )
    if result.reason == "interrupted":
        click.echo(f"resume with: fastwalk resume {out}", err=True)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def print_json_or_text(data: dict, as_json: bool, text: str) -> None:
    """Print ``data`` as one JSON object, or ``text``."""
    if as_json:
        click.echo(json.dumps(_jsonable(data)))
    else:
        click.echo(text)
