"""Ensembles on Dask: walker blocks advanced in time slabs, written to one file.

Walker ``i`` draws from the stream of (seed, i) wherever it runs, so a
partitioned ensemble is the same ensemble: frames, nodes and integer
accumulators are bit-identical to a single-process run. Observables are
combined from each partition's additive sums (:meth:`~fastwalk.models.base.Model.observe`);
float sums are exact (``fastwalk.models._kernels.ExactSum``), rounded once, so
they are bit-identical too.

A run is split into walker *partitions* and time *slabs*. One task
(``advance_block``) advances one partition's state from step ``a`` to step
``b`` and returns what it recorded on the way plus the new state: a pure
function of its arguments, so Dask simply runs it again when a worker dies.
The client (``PartitionedRun``) writes each slab through the ordinary
sinks (the H5MD writer) once every partition has finished it, in step order,
and checkpoints the partitions' states at its commits; it holds only the
slabs in flight, never the trajectory. See DESIGN.md, "Dask runs".

Needs the ``distributed`` extra (``pip install "fastwalk[distributed]"``).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from fastwalk import cluster, rng, validate
from fastwalk.engine import COMPLETED, INTERRUPTED, RunResult, Simulation, _Progress, _StopFlag, check_walkers
from fastwalk.errors import ClusterError, SimulationError
from fastwalk.models._kernels import ExactSum, rounded
from fastwalk.models.base import Model

__all__ = ["EnsembleResult", "simulate_ensemble", "partition_walkers", "advance_block",
           "PartitionedRun"]

#: tasks per second the scheduler is asked for at most (Dask: ~1 ms of scheduler time per task)
SCHEDULER_TASKS_PER_S = 200
#: bytes per second of walker state the client ships out and back at most (slabs grow instead)
CLIENT_STATE_BYTES_PER_S = 200e6
#: state keys of partition ``i`` inside a checkpoint are ``partition/<i>/<key>``
_PART = "partition/{}/{}"

# one fastwalk task at a time per worker process: each uses all of the worker's threads
_TASK_LOCK = threading.Lock()


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


# ---------------------------------------------------------------------------------- the task
def _thread_budget() -> int:
    """Numba threads a task may use: its worker's thread count (1 outside a worker)."""
    import numba

    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        threads = numba.get_num_threads()
    return max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))


def _on_schedule(step: int, every: int, observe_every: int, total: int) -> tuple[bool, bool]:
    frame = every > 0 and step % every == 0
    return frame, step % observe_every == 0 or step == total


def _next_stop(step: int, b: int, every: int, observe_every: int) -> int:
    if step < 0:
        return min(b, 0)
    stops = [b, (step // observe_every + 1) * observe_every]
    if every:
        stops.append((step // every + 1) * every)
    return min(stops)


def advance_block(model: Model, block: tuple[int, int], seed: int, burn_in: int, every: int,
                  observe_every: int, total: int, state: dict | None, a: int, b: int) -> dict:
    """Advance one walker block from step ``a`` to step ``b``; return what it recorded.

    A pure function of its arguments (the Dask task of a partitioned run):
    run again, it returns the same arrays bit for bit.

    Parameters
    ----------
    model : fastwalk.models.base.Model
        What to simulate.
    block : (int, int)
        ``(first_walker, count)``.
    seed : int
        Run seed.
    burn_in, every, observe_every, total : int
        The run's schedule (see :class:`fastwalk.engine.Simulation`).
    state : dict or None
        The block's state at step ``a``; None starts it (``a`` must then be
        ``-burn_in``), recording step 0 if ``a`` is 0.
    a, b : int
        First and last step of the slab (``-burn_in <= a <= b <= total``).

    Returns
    -------
    dict
        ``frame_steps``, ``frames`` (``[frames][count]...`` or None),
        ``observable_steps``, ``sums`` (name -> ``[records, ...]`` additive
        sums), ``state`` (at step ``b``) and ``seconds`` (compute time).
    """
    import numba

    with _TASK_LOCK:
        numba.set_num_threads(_thread_budget())
        t0 = time.perf_counter()
        first, count = block
        frame_steps, frames, observable_steps, sums = [], [], [], {}

        def record(step):
            frame, observe = _on_schedule(step, every, observe_every, total)
            if frame:
                frame_steps.append(step)
                frames.append(np.array(model.frame(state), copy=True))
            if observe:
                values = model.observe(state)
                if values:
                    observable_steps.append(step)
                    for name, value in values.items():
                        kept = value if isinstance(value, ExactSum) else np.array(value, copy=True)
                        sums.setdefault(name, []).append(kept)

        if state is None:
            state = model.initial_state(rng.seed_states(seed, first, count))
            if a == 0:
                record(0)
        else:
            state = {key: np.array(value, copy=True) for key, value in state.items()}
        step = a
        while step < b:
            stop = _next_stop(step, b, every, observe_every)
            model.advance(state, step, stop - step, step >= 0)
            step = stop
            if step >= 0:
                record(step)
        return {
            "frame_steps": np.array(frame_steps, dtype=np.int64),
            "frames": np.stack(frames) if frames else None,
            "observable_steps": np.array(observable_steps, dtype=np.int64),
            "sums": {name: values if isinstance(values[0], ExactSum) else np.stack(values)
                     for name, values in sums.items()},
            "state": state,
            "seconds": time.perf_counter() - t0,
        }


# ---------------------------------------------------------------------------------- states
def combine_accumulators(pieces: list[dict]) -> dict[str, np.ndarray]:
    """Combine per-partition accumulators: ``walker_*`` concatenate, the others add.

    Parameters
    ----------
    pieces : list of dict
        Each partition's :meth:`Model.accumulators`, in walker order.

    Returns
    -------
    dict of numpy.ndarray
        The ensemble's accumulators.
    """
    combined = {}
    for name in pieces[0] if pieces else ():
        values = [np.asarray(p[name]) for p in pieces]
        combined[name] = np.concatenate(values) if name.startswith("walker_") else sum(values[1:], values[0])
    return combined


def join_states(states: list[dict]) -> dict[str, np.ndarray]:
    """Pack partition states into one checkpointable state.

    ``rng`` is concatenated in walker order (as a one-process run's); every
    other array is kept as ``partition/<i>/<key>``.

    Parameters
    ----------
    states : list of dict
        The partitions' states, in walker order.

    Returns
    -------
    dict of numpy.ndarray
        The packed state.
    """
    packed = {"rng": np.concatenate([s["rng"] for s in states])}
    for i, state in enumerate(states):
        for key, value in state.items():
            if key != "rng":
                packed[_PART.format(i, key)] = value
    return packed


def split_state(packed: dict, blocks: list[tuple[int, int]]) -> list[dict]:
    """Unpack :func:`join_states`; a one-process state becomes one partition.

    Parameters
    ----------
    packed : dict of numpy.ndarray
        A checkpoint's state.
    blocks : list of (int, int)
        The partitions' walker blocks.

    Returns
    -------
    list of dict
        One state per block.
    """
    if not any(key.startswith("partition/") for key in packed):
        if len(blocks) != 1:
            raise ValueError("a one-process checkpoint continues as one partition")
        return [dict(packed)]
    states = []
    for i, (first, count) in enumerate(blocks):
        prefix = _PART.format(i, "")
        state = {key[len(prefix):]: value for key, value in packed.items() if key.startswith(prefix)}
        state["rng"] = packed["rng"][first:first + count]
        states.append(state)
    return states


class PartitionedModel:
    """What the H5MD writer sees of a partitioned run's model.

    Everything is the model's, except that :meth:`accumulators` reads a
    packed state (:func:`join_states`) and combines the partitions'.

    Parameters
    ----------
    model : fastwalk.models.base.Model
        The model that is run.
    blocks : list of (int, int)
        The partitions' walker blocks.
    """

    def __init__(self, model: Model, blocks: list[tuple[int, int]]):
        self.inner, self.blocks = model, blocks
        self.kind, self.frame_name, self.dt = model.kind, model.frame_name, model.dt

    def parameters(self):
        """Return the model's parameters."""
        return self.inner.parameters()

    def parameter_arrays(self):
        """Return the model's parameter arrays."""
        return self.inner.parameter_arrays()

    def box(self):
        """Return the model's box."""
        return self.inner.box()

    def accumulators(self, packed):
        """Return the ensemble's accumulators from a packed state."""
        return combine_accumulators([self.inner.accumulators(s) for s in split_state(packed, self.blocks)])

# ---------------------------------------------------------------------------------- the driver
@dataclass
class _Slab:
    """Results of one slab, gathered partition by partition."""

    start: int
    end: int
    parts: dict = field(default_factory=dict)


class PartitionedRun:
    """Run walker partitions in time slabs and stream them, in step order, to sinks.

    The sinks (e.g. :class:`fastwalk.io.h5md.H5MDWriter`) see what a
    :class:`fastwalk.engine.Simulation` would show them: frames over all
    walkers, combined observables, commits with a (packed) state.

    Parameters
    ----------
    model : fastwalk.models.base.Model
        What to simulate.
    walkers, steps : int
        Ensemble size and steps after burn-in.
    blocks : list of (int, int)
        Walker partitions (see :func:`partition_walkers`).
    client : distributed.Client or None
        Dask client; None runs the tasks in this process.
    seed : int or None
        Run seed (None: fresh).
    every, observe_every, burn_in : int
        The schedule, as for the engine.
    sinks : sequence
        Receivers of records and commits.
    progress : bool or None
        Progress line on stderr (None: when stderr is a terminal).
    commit_seconds : float
        Least wall-clock seconds between commits.
    slab_seconds : float
        Target compute time of one task.
    slab_bytes : int
        Most bytes of frames one slab may hold (over all partitions).
    slab_steps : int or None
        Fixed slab length in steps (None: sized by ``slab_seconds``).
    window : int
        Slabs a partition may run ahead of the last one written.
    handle_signals : bool
        Stop at the next slab on SIGINT/SIGTERM.
    """

    def __init__(self, model: Model, walkers: int, steps: int, blocks, *, client=None,
                 seed: int | None = None, every: int = 0, observe_every: int | None = None,
                 burn_in: int = 0, sinks=(), progress: bool | None = None,
                 commit_seconds: float = 2.0, slab_seconds: float = 1.0,
                 slab_bytes: int = 32 * 2**20, slab_steps: int | None = None, window: int = 3,
                 handle_signals: bool = True):
        # the one-process engine validates the schedule (and the model) the same way
        plain = Simulation(model, walkers, steps, seed=seed, every=every, observe_every=observe_every,
                           burn_in=burn_in, commit_seconds=commit_seconds)
        model = plain.model  # resolved for this run (Model.for_run), once, here
        self.walkers, self.steps, self.seed = plain.walkers, plain.steps, plain.seed
        self.every, self.observe_every, self.burn_in = plain.every, plain.observe_every, plain.burn_in
        self.commit_seconds = plain.commit_seconds
        self.blocks = [(int(a), int(n)) for a, n in blocks]
        if sum(n for _, n in self.blocks) != self.walkers:
            raise ValueError(f"partitions {self.blocks} do not cover {self.walkers} walkers")
        self.inner = model
        self.model = PartitionedModel(model, self.blocks)
        self.client, self.sinks, self.progress = client, list(sinks), progress
        self.slab_seconds = validate.real("slab_seconds", slab_seconds, minimum=0.0, strict_min=True)
        self.slab_bytes = validate.integer("slab_bytes", slab_bytes, minimum=1)
        self.window = validate.integer("window", window, minimum=1)
        self.slab_steps = None if slab_steps is None else validate.integer("slab_steps", slab_steps,
                                                                          minimum=1)
        self.handle_signals = handle_signals
        self.step = -self.burn_in
        self.states: list | None = None

    def settings(self) -> dict:
        """Return the run settings (as :meth:`Simulation.settings`, plus the partitions)."""
        return {"walkers": self.walkers, "steps": self.steps, "seed": str(self.seed),
                "every": self.every, "observe_every": self.observe_every, "burn_in": self.burn_in,
                "first_walker": 0, "partitions": [list(b) for b in self.blocks]}

    def restore(self, step: int, packed: dict) -> None:
        """Continue from a checkpoint (packed state) taken at ``step``.

        Parameters
        ----------
        step : int
            Steps done after burn-in.
        packed : dict
            The checkpoint's state (:func:`join_states`, or a one-process state
            for a single partition).
        """
        self.step = validate.integer("step", step, minimum=-self.burn_in, maximum=self.steps)
        check_walkers(packed, self.walkers)
        states = split_state(packed, self.blocks)
        for state, (_, count) in zip(states, self.blocks, strict=True):
            self.inner.check_state(state, count)
        self.states = states

    # -------------------------------------------------------------- planning
    def _plan_slab(self, start: int) -> _Slab:
        """Choose the next slab's end: about ``slab_seconds`` of work, bounded frame bytes."""
        length = self._length
        if self.every:
            frames = max(1, self.slab_bytes // max(1, self._row_bytes * self.walkers))
            length = min(length, frames * self.every)
        return _Slab(start, min(self.steps, start + max(1, length)))

    def _learn(self, slab: _Slab, result: dict, count: int) -> None:
        """Resize later slabs from a task's compute time (growing at most fourfold)."""
        if result["frames"] is not None:
            self._row_bytes = result["frames"][0].nbytes // count
        span = slab.end - slab.start
        self._state_bytes = sum(v.nbytes for v in result["state"].values()) * self.walkers // count
        if self.slab_steps is None and result["seconds"] > 0 and span:
            ideal = int(span * self._target_seconds() / result["seconds"])
            self._length = max(1, min(ideal, 4 * max(span, self._length)))

    def _target_seconds(self) -> float:
        """Return the compute time one task aims at.

        ``slab_seconds``, or longer where the scheduler or the client's link
        would otherwise be the bottleneck (see DESIGN.md, "Dask runs").
        """
        return max(self.slab_seconds, len(self.blocks) / SCHEDULER_TASKS_PER_S,
                   2 * self._state_bytes / CLIENT_STATE_BYTES_PER_S)

    # -------------------------------------------------------------- running
    def run(self) -> RunResult:
        """Run (or continue) to ``steps``; return as :meth:`Simulation.run` does.

        Returns
        -------
        RunResult
            Seed, steps written, exit reason, timing; ``extra`` holds ``partitions``,
            ``tasks`` (tasks finished) and ``task_seconds`` (their compute time).

        Raises
        ------
        fastwalk.errors.SimulationError
            If a task reports a non-finite state (what was written is committed).
        fastwalk.errors.ClusterError
            If the cluster is lost (what was written is committed and checkpointed).
        """
        executor = cluster.executor(self.client)
        fresh = self.states is None
        if fresh:
            self.states = [None] * len(self.blocks)
        largest = max(n for _, n in self.blocks)
        self._length = self.slab_steps or max(1, 2**19 // largest)
        self._row_bytes = 8 * int(self.inner.box().get("dimension", 1))
        self._state_bytes = 0
        show = sys.stderr.isatty() if self.progress is None else bool(self.progress)
        progress = _Progress(self.steps, self.walkers, show)
        self._t0 = time.perf_counter()
        self._walker_steps = 0
        self._tasks, self._task_seconds = 0, 0.0
        reason, stop_signal = COMPLETED, None
        # as the one-process engine: a signal is recorded from start-up to the sinks' finish
        started = []  # the sinks to finish, whatever happens from here
        with _StopFlag(self.handle_signals) as stop:
            try:
                for sink in self.sinks:
                    sink.start(self)
                    started.append(sink)
                self._loop(executor, stop, progress, fresh)
                if stop.signal is not None and self.step < self.steps:
                    reason, stop_signal = INTERRUPTED, stop.signal
                self._commit(checkpoint=True)
            except SimulationError:
                reason = "error"
                executor.cancel_all()
                self._commit(checkpoint=False)
                raise
            except ClusterError as exc:
                reason = "error"
                executor.cancel_all()
                self._commit(checkpoint=True)
                raise ClusterError(f"{exc}; everything up to step {self.step} is committed") from None
            except BaseException:
                reason = "error"
                executor.cancel_all()
                raise
            finally:
                progress.update(max(self.step, 0), force=True)
                progress.close()
                wall = time.perf_counter() - self._t0
                result = RunResult(seed=self.seed, steps=self.step, target_steps=self.steps,
                                   reason=reason, signal=stop_signal, wall_s=wall,
                                   walker_steps_per_s=self._walker_steps / wall if wall > 0 else 0.0,
                                   extra={"partitions": len(self.blocks), "tasks": self._tasks,
                                          "task_seconds": self._task_seconds})
                for sink in started:
                    sink.finish(result)
        return result

    def _loop(self, executor, stop, progress, fresh: bool) -> None:
        slabs: list[_Slab] = []  # planned, not yet written, in step order
        planned = [0]
        running: dict = {}
        reached = [self.step] * len(self.blocks)  # each partition's latest finished step
        waiting = set(range(len(self.blocks)))
        last_commit = time.perf_counter()

        def submit_ready():
            for p in sorted(waiting):
                k = next((k for k, s in enumerate(slabs) if p not in s.parts and s.start == reached[p]),
                         None)
                if k is None:
                    start = slabs[-1].end if slabs else self.step
                    # a fresh run of 0 steps still has one (empty) slab: it records step 0
                    ended = start >= self.steps and not (fresh and not planned[0])
                    if ended or len(slabs) >= self.window or reached[p] != start:
                        continue
                    slabs.append(self._plan_slab(start))
                    planned[0] += 1
                    k = len(slabs) - 1
                slab = slabs[k]
                state = self._state_at(p, slabs, k)
                token = executor.submit(advance_block, model, self.blocks[p], self.seed,
                                        self.burn_in, self.every, self.observe_every, self.steps,
                                        state, slab.start, slab.end)
                running[token] = (p, slab)
                waiting.discard(p)

        if self.step >= self.steps and not fresh:
            return
        model = executor.share(self.inner)
        submit_ready()
        while running:
            item = executor.next_done(stop)
            if item is None:
                executor.cancel_all()
                return
            token, result = item
            p, slab = running.pop(token)
            slab.parts[p] = result
            reached[p] = slab.end
            self._walker_steps += (slab.end - slab.start) * self.blocks[p][1]
            self._tasks += 1
            self._task_seconds += result["seconds"]
            self._learn(slab, result, self.blocks[p][1])
            waiting.add(p)
            while slabs and len(slabs[0].parts) == len(self.blocks):
                self._write(slabs.pop(0))
                if time.perf_counter() - last_commit >= self.commit_seconds and self.step < self.steps:
                    self._commit(checkpoint=True)
                    last_commit = time.perf_counter()
            done = sum(max(r, 0) * n for r, (_, n) in zip(reached, self.blocks, strict=True))
            progress.update(done // self.walkers)
            if stop.signal is not None:
                executor.cancel_all()
                return
            submit_ready()

    def _state_at(self, p: int, slabs: list[_Slab], k: int):
        """Partition ``p``'s state at the start of slab ``k``."""
        if k > 0 and p in slabs[k - 1].parts:
            return slabs[k - 1].parts[p]["state"]
        return self.states[p]

    def _write(self, slab: _Slab) -> None:
        """Hand one finished slab to the sinks, in step order, and keep its states."""
        parts = [slab.parts[p] for p in range(len(self.blocks))]
        dt = self.inner.dt
        first = parts[0]
        for i, step in enumerate(first["frame_steps"]):
            values = np.concatenate([part["frames"][i] for part in parts])
            for sink in self.sinks:
                sink.frame(int(step), int(step) * dt, values)
        for j, step in enumerate(first["observable_steps"]):
            sums = {name: sum((part["sums"][name][j] for part in parts[1:]), first["sums"][name][j])
                    for name in first["sums"]}
            values = self.inner.summarize(rounded(sums), self.walkers)
            for sink in self.sinks:
                sink.observables(int(step), int(step) * dt, values)
        self.states = [part["state"] for part in parts]
        self.step = slab.end

    def _commit(self, checkpoint: bool) -> None:
        packed = None
        if checkpoint and self.states is not None and all(s is not None for s in self.states):
            packed = join_states(self.states)
        for sink in self.sinks:
            sink.commit(self.step, packed)


# ---------------------------------------------------------------------------------- in memory
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
    """Run a small ensemble split into walker blocks and return it in memory.

    Every frame of every block is gathered here; for long runs write a file
    with :func:`fastwalk.simulate` and ``client=``, which streams.

    Parameters
    ----------
    model : fastwalk.models.base.Model
        What to simulate (shipped to the workers).
    walkers, steps : int
        Ensemble size and steps after burn-in.
    seed : int or None
        Run seed (None: fresh; the seed used is in the result).
    partitions : int or None
        Number of walker blocks [default: two per worker, or 1 without a client].
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

    Examples
    --------
    >>> import numpy as np
    >>> import fastwalk as fw
    >>> walk = fw.LatticeWalk(fw.Crossing.lines(3), length=9)
    >>> blocks = fw.simulate_ensemble(walk, walkers=100, steps=500, seed=4, partitions=4)
    >>> one = fw.simulate(walk, walkers=100, steps=500, seed=4)
    >>> np.array_equal(blocks.accumulators["visit_counts"], one.accumulators["visit_counts"])
    True
    """
    from fastwalk.engine import MemorySink

    if not isinstance(model, Model):
        raise TypeError(f"model must be a fastwalk Model, got {type(model).__name__}")
    walkers = validate.integer("walkers", walkers, minimum=1)
    if partitions is None:
        partitions = cluster.default_partitions(client, walkers)
    blocks = partition_walkers(walkers, min(partitions, walkers))
    sink = _AccumulatorSink()
    memory = MemorySink()
    run = PartitionedRun(model, walkers, steps, blocks, client=client, seed=seed, every=every,
                         observe_every=observe_every, burn_in=burn_in, sinks=[memory, sink],
                         progress=False, commit_seconds=1e300, slab_bytes=2**62,
                         slab_steps=max(1, burn_in + steps), window=1, handle_signals=False)
    run.run()
    return EnsembleResult(
        seed=run.seed,
        frame_steps=np.array(memory.frame_steps, dtype=np.int64),
        frames=np.stack(memory.frames) if memory.frames else None,
        observable_steps=np.array(memory.observable_steps, dtype=np.int64),
        observables={name: np.stack(values) for name, values in memory.observed.items()},
        accumulators=sink.accumulators,
        partitions=blocks,
    )


class _AccumulatorSink:
    """Keep the accumulators of the last commit."""

    def __init__(self):
        self.accumulators: dict = {}
        self._model = None

    def start(self, run):
        self._model = run.model

    def frame(self, step, time, values):
        pass

    def observables(self, step, time, values):
        pass

    def commit(self, step, state):
        if state is not None:
            self.accumulators = self._model.accumulators(state)

    def finish(self, result):
        pass
