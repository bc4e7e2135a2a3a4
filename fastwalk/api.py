"""Run a model to a file, and resume a stopped run: the glue the CLI uses.

:func:`simulate` wires a model, the engine and the H5MD writer together;
:func:`resume` rebuilds all three from a file and its checkpoint and carries
on bit-identically.
"""

from __future__ import annotations

from pathlib import Path

from fastwalk import validate
from fastwalk.engine import RunResult, Simulation
from fastwalk.errors import FileFormatError
from fastwalk.models.base import Model

__all__ = ["simulate", "resume"]


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
    commit_seconds: float = 2.0,
) -> RunResult:
    """Run ``model`` and stream it to ``out`` (an H5MD file), if given.

    Parameters
    ----------
    model : fastwalk.models.base.Model
        What to simulate.
    walkers, steps : int
        Ensemble size (>= 1) and steps after burn-in (>= 0).
    out : path-like or None
        Output file; None keeps nothing on disk (pass ``sinks`` to collect).
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
    commit_seconds : float
        Seconds between commits (flush + checkpoint).

    Returns
    -------
    RunResult
        Seed, steps, exit reason, timing; ``result.extra["out"]`` is the path.
    """
    sim = Simulation(model, walkers, steps, seed=seed, every=every, observe_every=observe_every,
                     burn_in=burn_in, threads=threads, progress=progress,
                     commit_seconds=commit_seconds)
    all_sinks = list(sinks)
    if out is not None:
        from fastwalk.io.h5md import H5MDWriter

        all_sinks.insert(0, H5MDWriter(out, model, overwrite=overwrite, compression=compression,
                                       extra_config=config))
    sim.sinks = all_sinks
    result = sim.run()
    result.extra["out"] = None if out is None else str(out)
    return result


def resume(path, steps: int | None = None, *, threads: int | None = None,
           progress: bool | None = None, sinks=(), commit_seconds: float = 2.0) -> RunResult:
    """Continue a stopped, killed or finished run from its checkpoint.

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
    commit_seconds : float
        Seconds between commits.

    Returns
    -------
    RunResult
        As for :func:`simulate`.
    """
    from fastwalk.io.checkpoint import read_checkpoint
    from fastwalk.io.h5md import H5MDWriter
    from fastwalk.io.reader import Run
    from fastwalk.models import model_class

    path = Path(path)
    with Run(path) as run:
        arrays = run.parameter_arrays()
        extra_config = run.config.get("config", {})
    step, description, state = read_checkpoint(path)
    params, settings = description["model"], description["run"]
    model = model_class(params["kind"]).from_parameters(params, arrays)
    total = settings["steps"] if steps is None else validate.integer("steps", steps, minimum=0)
    if total < step:
        raise ValueError(
            f"--steps {total} is less than the {step} steps already done; give a total of at least {step}"
        )
    if model.parameters() != params:
        raise FileFormatError(f"checkpoint of {path} does not match the file's model parameters")
    sim = Simulation(model, settings["walkers"], total, seed=int(settings["seed"]),
                     every=settings["every"], observe_every=settings["observe_every"],
                     burn_in=settings["burn_in"], first_walker=settings.get("first_walker", 0),
                     threads=threads, progress=progress, commit_seconds=commit_seconds)
    sim.restore(step, state)
    sim.sinks = [H5MDWriter.reopen(path, model, step, extra_config=extra_config), *sinks]
    result = sim.run()
    result.extra["out"] = str(path)
    return result
