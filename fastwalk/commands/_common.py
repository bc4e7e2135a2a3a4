"""Options and the run helper shared by the simulation commands."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

from fastwalk.commands._types import (
    DIMENSION,
    INTERVAL,
    MOST_WALKERS,
    SEED,
    STEPS,
    THREADS,
    Count,
    nonnegative,
)

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
    from fastwalk.io.output import check_source

    path = Path(value)
    try:
        data = tomllib.loads(check_source(path, "config file").read_text())
    except tomllib.TOMLDecodeError as exc:
        raise click.BadParameter(f"config file {path} is not valid TOML: {exc}", param=param) from None
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"cannot read config file {path}: {exc}", param=param) from None
    except (FileNotFoundError, ValueError) as exc:  # missing, or not a regular file
        raise click.BadParameter(str(exc), param=param) from None
    except OSError as exc:
        raise click.BadParameter(f"cannot read config file {path}: {exc}", param=param) from None
    data = _command_section(ctx, data, path, param)
    known = {p.name: p for p in ctx.command.params if p.name != "config"}
    defaults = {}
    for key, item in data.items():
        name = _CONFIG_ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
        if name not in known:
            options = ", ".join(sorted(_option_text(k) for k in known))
            raise click.BadParameter(
                f"config file {path} sets unknown option {key!r}; known options: {options}",
                param=param,
            )
        defaults[name] = _config_value(ctx, known[name], key, item, path)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return str(path)


_CONFIG_ALIASES = {"json": "json_output"}


def _option_text(name: str) -> str:
    return {"json_output": "json"}.get(name, name).replace("_", "-")


def _command_section(ctx: click.Context, data: dict, path: Path, param) -> dict:
    """Return the top-level keys overlaid with this command's ``[section]``.

    Sections named after other commands are skipped (one file may serve several
    commands); any other section is an error naming it.
    """
    group = ctx.parent.command if ctx.parent is not None else None
    commands = set(group.list_commands(ctx.parent)) if isinstance(group, click.Group) else set()
    commands.add(ctx.command.name)
    for key, item in data.items():
        if isinstance(item, dict) and key not in commands:
            raise click.BadParameter(
                f"config file {path} has an unknown section [{key}]; sections name commands "
                f"(here [{ctx.command.name}])", param=param)
    section = data.get(ctx.command.name, {})
    for key, item in section.items():
        if isinstance(item, dict):
            raise click.BadParameter(
                f"config file {path} has a table {key!r} inside [{ctx.command.name}]; "
                "give options as key = value", param=param)
    return {**{k: v for k, v in data.items() if not isinstance(v, dict)}, **section}


def _config_value(ctx: click.Context, option: click.Parameter, key: str, value, path: Path):
    """Convert one config value exactly as the command line would, or name the key and why not."""
    def refuse(why: str):
        shown = json.dumps(value, default=str)
        raise click.BadParameter(f"config file {path}: {key} = {shown} {why}",
                                 param_hint="'--config'")

    if getattr(option, "is_flag", False):
        if not isinstance(value, bool):
            refuse("must be true or false")
        return value
    items = value if option.multiple and isinstance(value, list) else [value]
    texts = [_config_text(item, option.type, refuse) for item in items]
    try:
        converted = [option.type.convert(text, option, ctx) for text in texts]
    except click.BadParameter as exc:
        refuse(f"is not allowed: {exc.message}")
    return converted if option.multiple else converted[0]


def _config_text(item, kind: click.ParamType, refuse) -> str:
    """Return the command-line text of one TOML value.

    A TOML array of numbers is the comma-separated list that a text option
    taking several values (``--center``, ``--pin``) reads.
    """
    numeric = isinstance(kind, (click.types.IntParamType, click.types.FloatParamType))

    def is_number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if isinstance(item, list) and item and not numeric and all(map(is_number, item)):
        return ",".join(repr(v) for v in item)
    if not (isinstance(item, str) or is_number(item)):
        refuse(f"is not a valid {kind.name} (give a TOML {'number' if numeric else 'string'})")
    if isinstance(item, str) and numeric:
        refuse("must be a TOML number, not a string")
    if isinstance(item, float) and isinstance(kind, click.types.IntParamType):
        refuse("must be an integer")
    return item if isinstance(item, str) else repr(item)


def run_options(fn):
    """Add the options every simulation command shares."""
    options = [
        click.option("--walkers", "-n", type=Count(1, MOST_WALKERS), default=1000, show_default=True,
                     help="Number of independent walkers."),
        click.option("--steps", "-s", type=STEPS, default=10_000, show_default=True,
                     help="Steps after burn-in (lattice time counts steps; continuous time = steps × dt)."),
        click.option("--every", type=STEPS, default=0, show_default=True,
                     help="Record walker positions/nodes every K steps, first at step 0 (0 = never)."),
        click.option("--observe-every", type=INTERVAL, default=None,
                     help="Record observables every K steps [default: about 200 records]."),
        click.option("--burn-in", type=STEPS, default=0, show_default=True,
                     help="Steps run before step 0, neither recorded nor counted."),
        click.option("--seed", type=SEED, default=None,
                     help="Seed in [0, 2**128) [default: fresh from OS entropy, reported]."),
        click.option("--threads", type=THREADS, default=None,
                     help="Numba threads [default: all cores]."),
        click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
                     help="Output HDF5 file [default: <command>.h5]."),
        click.option("--overwrite", is_flag=True, help="Replace an existing output file."),
        click.option("--compress", is_flag=True, help="gzip-compress the datasets."),
        click.option("--commit-seconds", type=nonnegative(1e9), default=None,
                     help="Seconds between commits (flush + checkpoint) [default: 2, or "
                          "$FASTWALK_COMMIT_SECONDS]."),
        dask_option(),
        click.option("--partitions", type=Count(1, MOST_WALKERS), default=None,
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
             "machine, one thread each, at most 4 per core) [default: one process, no Dask].")


def check_dask(dask: str | None, threads: int | None) -> None:
    """Refuse a malformed ``--dask``, ``--threads`` with it, or a missing distributed extra."""
    if dask is None:
        return
    from fastwalk.cluster import DASK_MISSING, parse_address

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

    from fastwalk.cluster import connect
    from fastwalk.errors import ClusterError

    client, close = connect(dask)
    # Dask logs a lost connection as tracebacks; the run reports it in one line
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        result = work(client)
        result.extra["dask"] = dask  # so that a resume hint names the cluster too
        return result
    except ClusterError as exc:
        raise ClusterError(f"{exc}; continue with: fastwalk resume {out} --dask {dask}") from None
    finally:
        from fastwalk.engine import _StopFlag

        # the run has ended (its file says how): a signal while the cluster closes changes nothing
        with _StopFlag(True):
            try:
                close()
            except Exception:  # noqa: BLE001 - a lost cluster may fail to close
                pass


def crossing_options(fn):
    """Add ``--lines K`` or ``--dim D --pin SPEC ...`` (the crossing of DESIGN.md)."""
    options = [
        click.option("--lines", "-K", type=DIMENSION, default=None,
                     help="The original notebook's crossing: K axes of a K-torus meeting at the center."),
        click.option("--dim", "-d", type=DIMENSION, default=None,
                     help="Torus dimension D, with one --pin per subspace."),
        click.option("--pin", multiple=True,
                     help="Coordinates one subspace pins to the center, e.g. 0,2; repeat per subspace."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def parse_floats(name: str, text) -> float | list[float]:
    """Parse ``"0.5"`` or ``"0.5,0.25"`` into a float or a list of floats.

    Each value obeys the rules of every continuous option (finite, magnitude 0
    or within [SMALLEST, LARGEST]); an empty item (``"0.1,,0.2"``) is refused.
    """
    from fastwalk.commands._types import Real

    parts = [p.strip() for p in str(text).split(",")]
    wanted = f"{name} needs a number or comma-separated numbers, got {text!r}"
    if not all(parts):
        raise ValueError(wanted + " (an empty item)")
    values = []
    for part in parts:
        try:
            values.append(Real().convert(part, None, None))
        except click.BadParameter as exc:
            raise ValueError(f"{wanted}: {exc.message}") from None
    return values[0] if len(values) == 1 else values


#: options that act only together with another: command -> [(option, needed, why it is ignored)]
_DEPENDENT_OPTIONS = {
    "langevin": [("at", lambda o: o["localize"] > 0,
                  "--at places the localizing term, which is off without --localize G > 0")],
}


def refuse_ignored_options(command: str, options: dict) -> None:
    """Refuse an option given where it would have no effect, in one line naming it.

    Parameters
    ----------
    command : str
        The command's name (a key of the rules above).
    options : dict
        The command's options (given, from ``--config``, or defaults).

    Raises
    ------
    click.UsageError
        If an option is set but what it needs is not.
    """
    for name, needed, why in _DEPENDENT_OPTIONS.get(command, []):
        if options.get(name) is not None and not needed(options):
            raise click.UsageError(f"--{name.replace('_', '-')} {options[name]} would be ignored: "
                                   f"{why}; drop it or add what it needs")


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


def check_memory(model, walkers: int, threads: int | None = None) -> None:
    """Refuse a run whose state would not fit in the memory available now, with the estimate.

    The estimate is :meth:`fastwalk.models.base.Model.memory_estimate`: per-walker
    arrays times the walkers, per-thread arrays (visit slices, histograms) times
    the threads, and what all walkers share.

    Parameters
    ----------
    model : fastwalk.models.base.Model
        The model to run.
    walkers : int
        Number of walkers.
    threads : int, optional
        Numba threads of the run [default: numba's current number].
    """
    import numba

    parts = numba.get_num_threads() if threads is None else threads
    need = model.memory_estimate(walkers, parts)
    available = _available_memory()
    if available is not None and need["total"] > available:
        per_thread = need["total"] - 2 * walkers * need["per_walker"] - need["shared"]
        raise ValueError(
            f"this run needs about {_bytes(need['total'])} of memory ({walkers} walkers × "
            f"{_bytes(2 * need['per_walker'])}, {_bytes(per_thread)} for {min(parts, walkers)} "
            f"threads, plus {_bytes(need['shared'])}), more than the {_bytes(available)} "
            "available; use fewer walkers or a smaller system"
        )


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} PiB"


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
    out = Path(f"{kind}.h5") if run["out"] is None else run["out"]
    model = prepare_run(run, lambda: build_model(**model_options), [out])
    result = execute_run(kind, model, Path(out), run, options)
    report_result(result, model, as_json=run["json_output"], quiet=run["quiet"])


def prepare_run(run: dict, build, outs: list):
    """Check the run options, the output paths (the policy of :mod:`fastwalk.io.output`) and
    the memory the run needs; build the model.

    Parameters
    ----------
    run : dict
        The run options (see :func:`split_run_options`).
    build : callable
        ``build() -> Model``; its ValueError/TypeError become usage errors.
    outs : list of path-like
        The files the run will write.

    Returns
    -------
    fastwalk.models.base.Model
        The model ``build`` returned.
    """
    from fastwalk import validate
    from fastwalk.io.output import check_target, refuse_if_busy

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
        for out in outs:
            check_target(out, overwrite=run["overwrite"])
            refuse_if_busy(out, "replace")
        check_dask(run["dask"], run["threads"])
        if run["partitions"] is not None:
            if run["dask"] is None:
                raise click.UsageError("--partitions needs --dask (it splits the walkers across Dask "
                                       "workers); drop it or add --dask local")
            run["partitions"] = validate.integer("--partitions", run["partitions"], minimum=1,
                                                 maximum=run["walkers"])
        model = build()
        for each in model if isinstance(model, list) else [model]:  # a sweep builds several
            check_memory(each, run["walkers"], run["threads"])
    except (ValueError, TypeError, FileExistsError, FileNotFoundError) as exc:
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
        click.echo(json_text(summary))
    elif not quiet:
        echo_summary(result, summary["out"])
    echo_resume_advice(result, summary["out"])
    sys.exit(summary["exit_status"])


def echo_resume_advice(result, out) -> None:
    """Say on stderr how to resume an interrupted run (also with ``--quiet`` or ``--json``)."""
    if result.reason == "interrupted":
        dask = result.extra.get("dask")
        click.echo(f"resume with: fastwalk resume {out}" + (f" --dask {dask}" if dask else ""), err=True)


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
        "seed": str(result.seed),
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
    for key in ("dask", "partitions", "tasks", "task_seconds", "nothing_to_do"):
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
    """Print the one-line text summary of a run (:func:`report_result` says how to resume)."""
    if result.extra.get("nothing_to_do"):
        click.echo(f"already complete: {result.steps}/{result.target_steps} steps, nothing to do "
                   f"(--steps above {result.steps} runs on) -> {out}")
        return
    rate = f"{result.walker_steps_per_s:.3g}"
    partitions = result.extra.get("partitions")
    where = f" on {partitions} partitions" if partitions is not None else ""
    click.echo(
        f"{result.reason}: {result.steps}/{result.target_steps} steps{where} in {result.wall_s:.2f} s "
        f"({rate} walker-steps/s), seed {result.seed} -> {out}"
    )


#: integers beyond this lose digits in JSON readers that hold numbers as doubles (jq, JavaScript)
_EXACT_JSON_INT = 2**53


def json_text(data) -> str:
    """Return ``data`` as strict JSON text: string keys, big integers as strings, null for inf/NaN.

    Parameters
    ----------
    data : object
        Dicts, lists, numbers and strings.

    Returns
    -------
    str
        Text every JSON reader accepts (no ``Infinity`` or ``NaN``).
    """
    return json.dumps(_jsonable(data), allow_nan=False)


def _jsonable(value):
    """Return ``value`` with every key a string, every unsafe integer (seeds) a string, inf/NaN None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and abs(value) > _EXACT_JSON_INT:
        return str(value)
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
        click.echo(json_text(data))
    else:
        click.echo(text)


def picture_target(output, *, overwrite: bool, option: str) -> Path:
    """Check ``output`` before any work: a picture format, and no file fastwalk did not write.

    Parameters
    ----------
    output : str or path-like
        The picture to write.
    overwrite : bool
        Whether an existing picture fastwalk wrote may be replaced.
    option : str
        The option naming it, for messages (``-o``, ``--plot``).

    Returns
    -------
    pathlib.Path
        The checked path.

    Raises
    ------
    click.UsageError
        If the path cannot or may not be written, or its suffix is no format.
    """
    from fastwalk.analysis.plots import MISSING_MATPLOTLIB
    from fastwalk.errors import FastwalkError
    from fastwalk.io.output import check_target, is_picture

    try:
        out = check_target(output, overwrite=overwrite, what="picture", option=option,
                           ours=is_picture)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        raise click.UsageError(str(exc)) from None
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        raise FastwalkError(MISSING_MATPLOTLIB) from None
    formats = FigureCanvasAgg.get_supported_filetypes()
    if out.suffix.lower().lstrip(".") not in formats:
        raise click.UsageError(
            f"cannot write a picture named {out.name}: give {option} a name ending in .png "
            f"(or one of: {', '.join('.' + f for f in sorted(formats))})"
        )
    return out


def write_picture(draw, out: Path) -> Path:
    """Return ``draw()`` (which writes ``out``), a failure to write being one line about ``out``."""
    from fastwalk.errors import FastwalkError

    try:
        return draw()
    except OSError as exc:
        raise FastwalkError(f"cannot write the picture {out}: {exc.strerror or exc}") from None
