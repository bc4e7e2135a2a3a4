"""Run a model to a file, and resume a stopped run: the glue the CLI uses.

:func:`simulate` wires a model, the engine and the H5MD writer together;
:func:`resume` rebuilds all three from a file and its checkpoint and carries
on bit-identically.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastwalk import validate
from fastwalk.engine import MemorySink, RunResult, Simulation
from fastwalk.errors import FileFormatError
from fastwalk.io.memory import MemoryRun
from fastwalk.models.base import Model

__all__ = ["simulate", "resume", "warm_cache", "COMMIT_SECONDS_ENV"]

#: environment variable that sets the default seconds between commits (flush + checkpoint)
COMMIT_SECONDS_ENV = "FASTWALK_COMMIT_SECONDS"
_DEFAULT_COMMIT_SECONDS = 2.0


def _commit_interval(commit_seconds: float | None) -> float:
    """Return ``commit_seconds``, or the environment's default, or 2 s."""
    if commit_seconds is not None:
        return validate.real("commit_seconds", commit_seconds, minimum=0.0)
    text = os.environ.get(COMMIT_SECONDS_ENV)
    if text is None or not text.strip():
        return _DEFAULT_COMMIT_SECONDS
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"{COMMIT_SECONDS_ENV}={text!r} is not a number; set it to the seconds between commits, e.g. 2"
        ) from None
    return validate.real(COMMIT_SECONDS_ENV, value, minimum=0.0)


def simulate(
    model: Model,
    walkers: int,
    steps: int,
    *,
    out=None,
    seed: int | None = None,
    every: int = 0,
    observe_every: int | None = None,
    burn_in: int = 0,
    threads: int | None = None,
    overwrite: bool = False,
    compression: str | None = None,
    progress: bool | None = None,
    config: dict | None = None,
    sinks=(),
    commit_seconds: float | None = None,
    client=None,
    partitions: int | None = None,
) -> RunResult:
    """Run ``model`` and stream it to ``out`` (an H5MD file), if given.

    With ``client`` (a ``distributed.Client``) the walkers are split into
    ``partitions`` blocks run on the Dask cluster; the file is the same as a
    one-process run's (see :mod:`fastwalk.distributed`).

    Parameters
    ----------
    model : fastwalk.models.base.Model
        What to simulate.
    walkers, steps : int
        Ensemble size (>= 1) and steps after burn-in (>= 0).
    out : path-like or None
        Output file; None keeps the records in memory instead.
    seed : int or None
        Run seed; None draws a fresh 128-bit seed (reported in the result).
    every : int
        Frame interval in steps (0 = no frames).
    observe_every : int or None
        Observable interval (None: about 200 records).
    burn_in : int
        Unrecorded steps before step 0.
    threads : int or None
        Numba threads.
    overwrite : bool
        Replace an existing ``out``.
    compression : str or None
        HDF5 compression filter.
    progress : bool or None
        Progress bar (None: when stderr is a terminal).
    config : dict or None
        Extra JSON-able configuration stored with the run.
    sinks : sequence
        Extra sinks (e.g. :class:`fastwalk.engine.MemorySink`).
    commit_seconds : float or None
        Seconds between commits (flush + checkpoint); None takes
        ``$FASTWALK_COMMIT_SECONDS``, else 2 s.
    client : distributed.Client or None
        Run on this Dask cluster (each task uses its worker's threads).
    partitions : int or None
        Walker blocks [default with a client: two per worker]; without a
        client they run one after another in this process (the file records
        them, as a cluster run's does, and is the same as a one-process run's).

    Returns
    -------
    RunResult
        Seed, steps, exit reason, timing; ``result.extra["out"]`` is the path
        (and ``result.extra["partitions"]`` for a partitioned run).
        It reads like the opened file (:func:`fastwalk.open`): ``frames``,
        ``observable(name)``, ``observables``, ``accumulators``,
        ``parameters``, ``model``, ... come from the records kept in memory
        or, with ``out``, from the file (opened on first use; ``with`` or
        ``result.close()`` closes it).

    Examples
    --------
    >>> import fastwalk as fw
    >>> run = fw.simulate(fw.LatticeWalk(fw.Crossing.lines(3), length=9), walkers=100,
    ...                   steps=1000, seed=1)
    >>> int(run.accumulators["visit_counts"].sum()) == 100 * 1000
    True
    """
    interval = _commit_interval(commit_seconds)
    check_client(client)
    _check_steps(steps)
    _check_sinks(sinks)
    if client is None and partitions is None:
        sim = Simulation(model, walkers, steps, seed=seed, every=every, observe_every=observe_every,
                         burn_in=burn_in, threads=threads, progress=progress, commit_seconds=interval)
    else:
        from fastwalk.cluster import default_partitions
        from fastwalk.distributed import PartitionedRun, partition_walkers

        walkers = validate.integer("walkers", walkers, minimum=1)
        blocks = partition_walkers(walkers, partitions or default_partitions(client, walkers))
        _set_threads(threads)
        sim = PartitionedRun(model, walkers, steps, blocks, client=client, seed=seed, every=every,
                             observe_every=observe_every, burn_in=burn_in, progress=progress,
                             commit_seconds=interval)
    all_sinks = list(sinks)
    if out is not None:
        from fastwalk.io.h5md import H5MDWriter

        all_sinks.insert(0, H5MDWriter(out, sim.model, overwrite=overwrite, compression=compression,
                                       extra_config=config))
    memory = None
    if out is None:
        memory = MemorySink()
        all_sinks.append(memory)
    sim.sinks = all_sinks
    result = sim.run()
    result.extra["out"] = None if out is None else str(out)
    resolved = getattr(sim, "inner", sim.model)  # the model as run (Model.for_run)
    result.data = str(out) if memory is None else MemoryRun(resolved, sim, memory, result, config)
    return result


#: the most steps a run may ask for, as on the command line: a step index and step × dt stay exact
MOST_STEPS = 2**53

#: what every sink answers (see :class:`fastwalk.engine.MemorySink`)
SINK_METHODS = ("start", "frame", "observables", "commit", "finish")


def _check_steps(steps) -> None:
    validate.integer("steps", steps, minimum=0, maximum=MOST_STEPS)


def _check_sinks(sinks) -> None:
    """Refuse a sink that lacks a method the engine calls (an AttributeError mid-run, before)."""
    for sink in sinks:
        missing = [name for name in SINK_METHODS if not callable(getattr(sink, name, None))]
        if missing:
            raise TypeError(f"a sink must have the methods {', '.join(SINK_METHODS)} (as "
                            f"fastwalk.engine.MemorySink does); {type(sink).__name__} lacks "
                            f"{', '.join(missing)}")


def check_client(client) -> None:
    """Refuse a ``client`` that is neither None nor a Dask ``distributed.Client``.

    Parameters
    ----------
    client : object
        What the caller passed as ``client``.

    Raises
    ------
    TypeError
        Naming what was given and what a client must be.
    """
    if client is None:
        return
    try:
        from distributed import Client
    except ImportError:
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}; "
                        "Dask is not installed (pip install 'fastwalk[distributed]')") from None
    if not isinstance(client, Client):
        raise TypeError(f"client must be a distributed.Client (or None to run in this process), "
                        f"got {type(client).__name__}")


def _set_threads(threads: int | None) -> None:
    """Set numba's threads for tasks run in this process (the engine does it for itself)."""
    if threads is not None:
        import numba

        threads = validate.integer("threads", threads, minimum=1)
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def resume(path, steps: int | None = None, *, threads: int | None = None,
           progress: bool | None = None, sinks=(), commit_seconds: float | None = None,
           client=None, import_potential: bool = False) -> RunResult:
    """Continue a stopped, killed or finished run from its checkpoint.

    A run that already reached the asked total is left untouched (the
    result's ``extra["nothing_to_do"]`` is True).

    Parameters
    ----------
    path : path-like
        The run's HDF5 file (its checkpoint is ``path + ".ckpt"``).
    steps : int or None
        New total number of steps (>= the steps already done); None keeps the
        original target. Record intervals stay those of the original run.
    threads : int or None
        Numba threads.
    progress : bool or None
        Progress bar.
    sinks : sequence
        Extra sinks.
    commit_seconds : float or None
        Seconds between commits (None: ``$FASTWALK_COMMIT_SECONDS``, else 2 s).
    client : distributed.Client or None
        Continue on this Dask cluster. A partitioned run keeps its partitions
        (and without a client runs them in this process); a one-process run
        continues on the cluster as one partition.
    import_potential : bool
        Import the ``module:function`` pair a Langevin run's file names as its
        potential. Off by default: reading or resuming a file never runs code
        it names unless you trust the file (DESIGN.md, "Trust model").

    Returns
    -------
    RunResult
        As for :func:`simulate`; it reads like the opened file.

    Raises
    ------
    fastwalk.errors.FileFormatError
        If the file is unreadable, has no checkpoint (it was stopped before
        its first checkpoint) or its checkpoint belongs to another run.

    Examples
    --------
    >>> import fastwalk as fw
    >>> walk = fw.LatticeWalk(fw.Crossing.lines(2), length=5)
    >>> fw.simulate(walk, walkers=10, steps=100, seed=1, out="r.h5", overwrite=True).close()
    >>> with fw.resume("r.h5", steps=200) as run:   # a new total: 100 more steps
    ...     print(run.reason, run.committed_step)
    completed 200
    """
    from fastwalk.io.checkpoint import checkpoint_path, damaged, read_checkpoint
    from fastwalk.io.output import OutputLock
    from fastwalk.io.reader import Run, describes_a_run
    from fastwalk.models import model_class
    from fastwalk.models.base import trusting_imports

    check_client(client)
    _check_sinks(sinks)
    if steps is not None:
        _check_steps(steps)
    if import_potential:
        with trusting_imports():
            return resume(path, steps, threads=threads, progress=progress, sinks=sinks,
                          commit_seconds=commit_seconds, client=client)
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"file {path} does not exist")
    lock = OutputLock(path, "resume")  # held until the run ends: no other run may touch the file
    try:
        with Run(path, lock=lock) as run:
            arrays = run.parameter_arrays()
            extra_config = run.config.get("config", {})
            file_model, file_seed = run.parameters, run.seed
            file_settings, status = run.settings, run.status
            marks = run._run_marks()
        if (not checkpoint_path(path).exists() and marks["committed_step"] <= 0
                and status in ("running", "error", "interrupted")):
            # stopped before its first checkpoint, having committed step 0 at most (a Dask run
            # interrupted before its first slab was written): a run's start is a function of its
            # settings and seed, so it starts again
            return _restart(path, model_class(file_model["kind"]).from_parameters(file_model, arrays),
                            file_settings, steps, extra_config, lock, threads=threads,
                            progress=progress, sinks=sinks, commit_seconds=commit_seconds,
                            client=client)
        if not checkpoint_path(path).exists():
            raise FileFormatError(
                f"{path} has no checkpoint {checkpoint_path(path).name} beside it; only a run written "
                "by fastwalk, with its .ckpt file, can be resumed"
            )
        step, description, state = read_checkpoint(path)
        if not describes_a_run(description):
            raise damaged(checkpoint_path(path), path, "its description of the run is incomplete")
        params, settings = description["model"], description["run"]
        if params != file_model or _schedule(settings) != _schedule(file_settings):
            raise FileFormatError(
                f"checkpoint {checkpoint_path(path)} belongs to another run than {path} "
                "(different model, seed, walkers or recording); it cannot be resumed"
            )
        _check_marks(path, marks, description.get("run_id"), step)
        if status == "completed" and (steps is None or steps == step):
            return _already_complete(path, file_seed, step)
        return _continue(path, params, arrays, settings, step, state, steps, extra_config, lock,
                         threads=threads, progress=progress, sinks=sinks,
                         commit_seconds=commit_seconds, client=client)
    finally:
        lock.release()


def _schedule(settings: dict) -> dict:
    """Return what a run's settings fix for good: all but the target ``steps`` (seed as text)."""
    return {**{key: value for key, value in settings.items() if key != "steps"},
            "seed": str(settings.get("seed"))}


def _check_marks(path: Path, marks: dict, run_id, step: int) -> None:
    """Refuse a checkpoint that is not of this file's run, or not of its last commits."""
    from fastwalk.io.checkpoint import checkpoint_path

    if marks.get("run_id") is None:  # a file written before run ids: nothing more to compare
        return
    ckpt = checkpoint_path(path)
    if run_id != marks["run_id"]:
        raise FileFormatError(
            f"checkpoint {ckpt} is of run {run_id or 'unknown'}, but {path} is of run "
            f"{marks['run_id']}: they do not belong together; it cannot be resumed"
        )
    if step not in marks["recent_steps"]:
        raise FileFormatError(
            f"checkpoint {ckpt} is at step {step}, but {path} was last committed at step "
            f"{marks['committed_step']}: the file and checkpoint are copies from different moments "
            "(an older file put back?); put back the matching pair to resume"
        )


def _already_complete(path: Path, seed: int, step: int) -> RunResult:
    """Return the result of resuming a run that reached its target: nothing runs or changes."""
    return RunResult(seed=seed, steps=step, target_steps=step, reason="completed", signal=None,
                     wall_s=0.0, walker_steps_per_s=0.0,
                     extra={"out": str(path), "nothing_to_do": True}, data=str(path))


def _restart(path, model, settings, steps, extra_config, lock, **options) -> RunResult:
    """Run again from step 0 into ``path`` (it committed nothing, so nothing is lost)."""
    from fastwalk.io.h5md import H5MDWriter

    total = settings["steps"] if steps is None else validate.integer("steps", steps, minimum=0)
    sim = _rebuilt(model, settings, total, options)
    sim.sinks = [H5MDWriter(path, sim.model, overwrite=True, extra_config=extra_config, lock=lock),
                 *options["sinks"]]
    result = sim.run()
    result.extra["out"] = str(path)
    return result


def _continue(path, params, arrays, settings, step, state, steps, extra_config, lock,
              **options) -> RunResult:
    """Continue ``path`` from its checkpoint at ``step``."""
    from fastwalk.io.checkpoint import checkpoint_path, damaged
    from fastwalk.io.h5md import H5MDWriter
    from fastwalk.models import model_class

    model = model_class(params["kind"]).from_parameters(params, arrays)
    total = settings["steps"] if steps is None else validate.integer("steps", steps, minimum=0)
    if total < step:
        raise ValueError(
            f"--steps {total} is less than the {step} steps already done; give a total of at least {step}"
        )
    if model.parameters() != params:
        raise FileFormatError(f"checkpoint of {path} does not match the file's model parameters")
    sim = _rebuilt(model, settings, total, options)
    try:
        sim.restore(step, state)
    except ValueError as exc:
        raise damaged(checkpoint_path(path), path, str(exc)) from None
    sim.sinks = [H5MDWriter.reopen(path, sim.model, step, extra_config=extra_config, lock=lock),
                 *options["sinks"]]
    result = sim.run()
    result.extra["out"] = result.data = str(path)
    return result


def _rebuilt(model: Model, settings: dict, total: int, options: dict):
    """Return the simulation a file's settings describe, run to ``total`` steps.

    A partitioned run keeps its partitions (run here without a client); a
    one-process run continues on ``options["client"]`` as one partition.
    """
    schedule = {"seed": int(settings["seed"]), "every": settings["every"],
                "observe_every": settings["observe_every"], "burn_in": settings["burn_in"],
                "progress": options["progress"],
                "commit_seconds": _commit_interval(options["commit_seconds"])}
    client = options["client"]
    if client is None and "partitions" not in settings:
        return Simulation(model, settings["walkers"], total,
                          first_walker=settings.get("first_walker", 0), threads=options["threads"],
                          **schedule)
    from fastwalk.distributed import PartitionedRun

    _set_threads(options["threads"])
    blocks = settings.get("partitions", [(0, settings["walkers"])])
    return PartitionedRun(model, settings["walkers"], total, blocks, client=client, **schedule)


def warm_cache(kinds=None) -> dict[str, float]:
    """Compile every model's kernels into numba's cache, so later runs start at once.

    Runs each :meth:`~fastwalk.models.base.Model.examples` instance of each
    registered model for a few steps, in memory, recording frames and
    observables. What is compiled stays in numba's on-disk cache (see
    ``fastwalk info``), so a warm cache costs nothing more.

    Parameters
    ----------
    kinds : iterable of str or None
        Model kinds to warm; None warms every registered model.

    Returns
    -------
    dict of str to float
        Seconds spent on each kind (compiling or loading from the cache).
    """
    import time

    from fastwalk.models import REGISTRY, model_class

    seconds = {}
    for kind in REGISTRY if kinds is None else kinds:
        start = time.perf_counter()
        for model in model_class(kind).examples():
            simulate(model, 4, 2, seed=0, every=1, observe_every=1, progress=False)
        seconds[kind] = time.perf_counter() - start
    return seconds
