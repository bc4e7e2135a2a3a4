"""Ensembles on Dask: split the walkers across workers, combine exactly.

Walker ``i`` draws from the stream of (seed, i) wherever it runs, so a
partitioned ensemble is the same ensemble: frames, nodes and integer
accumulators are bit-identical to a single-process run. Observables are
combined from each partition's additive sums (:meth:`Model.observe`), so
float means agree with a single-process run to rounding (the summation order
differs).

Needs the ``distributed`` extra (``pip install "fastwalk[distributed]"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fastwalk import rng, validate
from fastwalk.engine import MemorySink, Simulation
from fastwalk.models.base import Model

__all__ = ["EnsembleResult", "simulate_ensemble", "partition_walkers"]


def partition_walkers(walkers: int, partitions: int) -> list[tuple[int, int]]:
    """Split ``walkers`` into ``partitions`` contiguous (first, count) blocks.

    Parameters
    ----------
    walkers : int
        Ensemble size (>= 1).
    partitions : int
        Number of blocks (1 .. walkers).

    Returns
    -------
    list of (int, int)
        ``(first_walker, count)`` for each block, in walker order.
    """
    walkers = validate.integer("walkers", walkers, minimum=1)
    partitions = validate.integer("partitions", partitions, minimum=1, maximum=walkers)
    bounds = np.linspace(0, walkers, partitions + 1).round().astype(int)
    return [(int(a), int(b - a)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _run_partition(model: Model, first: int, count: int, steps: int, seed: int, every: int,
                   observe_every: int, burn_in: int) -> dict:
    sink = MemorySink()
    sim = Simulation(model, count, steps, seed=seed, every=every,
                     observe_every=observe_every, burn_in=burn_in, first_walker=first,
                     sinks=[sink], progress=False, handle_signals=False, summarize=False)
    sim.run()
    return {
        "frame_steps": np.array(sink.frame_steps, dtype=np.int64),
        "frames": np.stack(sink.frames) if sink.frames else None,
        "observable_steps": np.array(sink.observable_steps, dtype=np.int64),
        "sums": {k: np.stack(v) for k, v in sink.observed.items()},
        "accumulators": model.accumulators(sim.state),
    }


@dataclass
class EnsembleResult:
    """A partitioned ensemble, combined.

    Attributes
    ----------
    seed : int
        The run seed.
    frame_steps : numpy.ndarray
        Steps of the frames.
    frames : numpy.ndarray or None
        Frames over all walkers, ``[T][N]...`` in walker order.
    observable_steps : numpy.ndarray
        Steps of the observable records.
    observables : dict of numpy.ndarray
        Combined observables (``[records, ...]``).
    accumulators : dict of numpy.ndarray
        Summed accumulators.
    partitions : list of (int, int)
        The walker blocks that were run.
    """

    seed: int
    frame_steps: np.ndarray
    frames: np.ndarray | None
    observable_steps: np.ndarray
    observables: dict[str, np.ndarray]
    accumulators: dict[str, np.ndarray]
    partitions: list[tuple[int, int]] = field(default_factory=list)


def simulate_ensemble(
    model: Model,
    walkers: int,
    steps: int,
    *,
    seed: int | None = None,
    partitions: int | None = None,
    client=None,
    every: int = 0,
    observe_every: int | None = None,
    burn_in: int = 0,
) -> EnsembleResult:
    """Run an ensemble split into walker blocks, on a Dask cluster or locally.

    Parameters
    ----------
    model : fastwalk.models.base.Model
        What to simulate (shipped to the workers).
    walkers, steps : int
        Ensemble size and steps after burn-in.
    seed : int or None
        Run seed (None: fresh; the seed used is in the result).
    partitions : int or None
        Number of walker blocks [default: the cluster's thread count, or 1].
    client : distributed.Client or None
        Dask client; None runs the blocks one after another in this process.
    every : int
        Frame interval (0 = none).
    observe_every : int or None
        Observable interval (None: about 200 records).
    burn_in : int
        Unrecorded steps before step 0.

    Returns
    -------
    EnsembleResult
        Combined frames, observables and accumulators.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a fastwalk Model, got {type(model).__name__}")
    walkers = validate.integer("walkers", walkers, minimum=1)
    steps = validate.integer("steps", steps, minimum=0)
    seed = rng.resolve_seed(seed)
    if observe_every is None:
        observe_every = max(1, steps // 200)
    if partitions is None:
        partitions = 1
        if client is not None:
            partitions = max(1, sum(client.nthreads().values()))
    blocks = partition_walkers(walkers, min(partitions, walkers))
    args = (steps, seed, every, observe_every, burn_in)
    if client is None:
        parts = [_run_partition(model, first, count, *args) for first, count in blocks]
    else:
        futures = [client.submit(_run_partition, model, first, count, *args, pure=False)
                   for first, count in blocks]
        parts = client.gather(futures)
    return _combine(model, walkers, seed, blocks, parts)


def _combine(model, walkers, seed, blocks, parts) -> EnsembleResult:
    first = parts[0]
    frames = None
    if first["frames"] is not None:
        frames = np.concatenate([p["frames"] for p in parts], axis=1)
    sums = {name: sum(p["sums"][name] for p in parts) for name in first["sums"]}
    observables: dict[str, list] = {}
    for record in range(len(first["observable_steps"])):
        values = model.summarize({k: v[record] for k, v in sums.items()}, walkers)
        for name, value in values.items():
            observables.setdefault(name, []).append(np.asarray(value))
    accumulators = {}
    for name in first["accumulators"]:
        pieces = [p["accumulators"][name] for p in parts]
        # per-walker accumulators ("walker_*") line up with walkers; the others add
        accumulators[name] = np.concatenate(pieces) if name.startswith("walker_") else sum(pieces)
    return EnsembleResult(
        seed=seed,
        frame_steps=first["frame_steps"],
        frames=frames,
        observable_steps=first["observable_steps"],
        observables={k: np.stack(v) for k, v in observables.items()},
        accumulators=accumulators,
        partitions=blocks,
    )
