"""The simulation engine: chunked stepping, record schedule, progress, signals.

:class:`Simulation` advances any :class:`~fastwalk.models.base.Model` and
hands what it records to *sinks* (the HDF5 writer, an in-memory recorder). It
knows no particular model and no file format.

Schedule, in steps counted after burn-in:

- frames (positions or nodes) at every multiple of ``every`` (0 = none),
  the first at step 0;
- observables at every multiple of ``observe_every`` and at the last step;
- a *commit* (sinks flush and checkpoint) about every ``commit_seconds`` of
  wall time, at the end, and when a stop is requested.

Kernel calls are sized to last about ``call_seconds`` so that SIGINT/SIGTERM
(which only set a flag) stop the run promptly at the next call boundary.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fastwalk import rng, validate
from fastwalk.errors import SimulationError
from fastwalk.models.base import Model

__all__ = ["Simulation", "RunResult", "Sink", "MemorySink", "schedule_size"]

#: exit reasons reported in :class:`RunResult`
COMPLETED, INTERRUPTED = "completed", "interrupted"


class Sink(Protocol):
    """Receiver of what a run records (the HDF5 writer implements this)."""

    def start(self, simulation: Simulation) -> None:
        """Prepare for the first record (called once)."""

    def frame(self, step: int, time: float, values: np.ndarray) -> None:
        """Receive one frame of positions or nodes."""

    def observables(self, step: int, time: float, values: dict[str, np.ndarray]) -> None:
        """Receive one record of ensemble observables."""

    def commit(self, step: int, state: dict[str, np.ndarray] | None) -> None:
        """Make everything received so far durable; checkpoint ``state`` if given."""

    def finish(self, result: RunResult) -> None:
        """Close up when the run ends, whatever the reason (called once)."""


@dataclass
class RunResult:
    """What a finished (or stopped) run reports.

    Attributes
    ----------
    seed : int
        The seed actually used.
    steps : int
        Steps completed after burn-in.
    target_steps : int
        Steps the run was asked for.
    reason : str
        ``"completed"``, ``"interrupted"`` or ``"error"``.
    signal : int or None
        The signal that stopped it, if any.
    wall_s : float
        Wall-clock seconds spent stepping and recording.
    walker_steps_per_s : float
        Walker-steps (burn-in included) per wall-clock second.
    data : object or None
        The run's records, set by :func:`fastwalk.simulate` and
        :func:`fastwalk.resume`: a :class:`fastwalk.io.memory.MemoryRun`, or
        the output path, opened with :func:`fastwalk.open` on first use. Every
        name of that reader (``frames``, ``observable``, ``observables``,
        ``accumulators``, ``parameters``, ``model``, ...) is also read through
        the result, so an in-memory run and a file are used the same way;
        :meth:`close` (or a ``with`` block) closes an opened file.

    Examples
    --------
    >>> import fastwalk as fw
    >>> result = fw.simulate(fw.SphereBrownian(2, radius=1.0, diffusion=0.1, dt=0.01), walkers=20,
    ...                      steps=50, seed=1)
    >>> result.reason, result.seed, result.committed_step
    ('completed', 1, 50)
    """

    seed: int
    steps: int
    target_steps: int
    reason: str
    signal: int | None
    wall_s: float
    walker_steps_per_s: float
    extra: dict[str, Any] = field(default_factory=dict)
    data: Any = field(default=None, repr=False, compare=False)

    def __getattr__(self, name: str) -> Any:
        # only names the dataclass lacks come here: read them from the run's records
        if name.startswith("_") or name in ("data", "extra"):
            raise AttributeError(name)
        if self.data is None:
            raise AttributeError(f"RunResult has no attribute {name!r} (this result carries no records)")
        if isinstance(self.data, (str, os.PathLike)):
            from fastwalk.io.reader import open_run

            self.data = open_run(self.data)
        return getattr(self.data, name)

    def close(self) -> None:
        """Close the output file if reading the result opened it."""
        if self.data is not None and not isinstance(self.data, (str, os.PathLike)):
            self.data.close()

    def __enter__(self) -> RunResult:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def schedule_size(steps: int, interval: int, include_last: bool = False) -> int:
    """Return how many records fall on multiples of ``interval`` in ``[0, steps]``.

    Parameters
    ----------
    steps : int
        Last step of the run.
    interval : int
        Record interval (0 means no records).
    include_last : bool
        Count ``steps`` itself even when it is not a multiple.

    Returns
    -------
    int
        The number of records.
    """
    if interval <= 0:
        return 0
    count = steps // interval + 1
    if include_last and steps % interval:
        count += 1
    return count


class _StopFlag:
    """SIGINT/SIGTERM handlers that only record the signal (main thread only)."""

    def __init__(self, enabled: bool):
        self.signal: int | None = None
        self._enabled = enabled and threading.current_thread() is threading.main_thread()
        self._previous: dict[int, Any] = {}

    def __enter__(self):
        if self._enabled:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
            from fastwalk._entry import take_pending_signal

            self.signal = take_pending_signal()  # one whose interrupt was lost before the run
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


class _Progress:
    """A one-line progress bar with rate and ETA on stderr.

    Rate and ETA count from the first update, after the first kernel call:
    that call includes the JIT compilation, which says nothing about the rest.
    """

    def __init__(self, total: int, walkers: int, enabled: bool):
        self.total, self.walkers, self.enabled = total, walkers, enabled
        self._first: tuple[float, int] | None = None
        self._last = 0.0

    def update(self, done: int, force: bool = False):
        if not self.enabled:
            return
        now = time.perf_counter()
        if self._first is None:
            self._first = (now, done)
        if not force and now - self._last < 0.2:
            return
        self._last = now
        elapsed, progressed = now - self._first[0], done - self._first[1]
        fraction = done / self.total if self.total else 1.0
        rate = progressed * self.walkers / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (self.total - done) / progressed if progressed > 0 else math.inf
        bar = "#" * int(30 * fraction)
        eta_text = "?" if not math.isfinite(eta) else f"{eta:6.1f}s"
        rate_text = f"{rate:.3g}" if progressed > 0 else "?"
        sys.stderr.write(
            f"\r[{bar:<30}] {100 * fraction:5.1f}%  step {done}/{self.total}  "
            f"{rate_text} walker-steps/s  ETA {eta_text} "
        )
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


class Simulation:
    """Run a model's walkers for a number of steps and record what it asks for.

    Parameters
    ----------
    model : fastwalk.models.base.Model
        What to simulate; :attr:`model` is ``model.for_run(seed, burn_in)``,
        the model with any per-run settings resolved (``dt="auto"``).
    walkers : int
        Number of walkers (>= 1).
    steps : int
        Steps to run after burn-in (>= 0).
    seed : int or None
        Run seed in [0, 2**128); None draws one from OS entropy. The seed used
        is in :attr:`seed` and in the result.
    every : int
        Record a frame every ``every`` steps, the first at step 0 (0 = never).
    observe_every : int or None
        Record observables every this many steps (and at the last step);
        None chooses about 200 records.
    burn_in : int
        Steps run before step 0 that are not recorded or accumulated.
    first_walker : int
        Global index of the first walker: walkers ``first_walker ..
        first_walker + walkers - 1`` are simulated (used to split ensembles).
    sinks : sequence of Sink
        Receivers of records and commits.
    progress : bool or None
        Show a progress bar on stderr; None means only when stderr is a terminal.
    threads : int or None
        Numba thread count for this run (None leaves numba's setting).
    handle_signals : bool
        Stop at the next call boundary on SIGINT/SIGTERM.
    commit_seconds : float
        Wall-clock seconds between commits.
    call_seconds : float
        Target duration of one kernel call.
    """

    def __init__(
        self,
        model: Model,
        walkers: int,
        steps: int,
        *,
        seed: int | None = None,
        every: int = 0,
        observe_every: int | None = None,
        burn_in: int = 0,
        first_walker: int = 0,
        sinks=(),
        progress: bool | None = None,
        threads: int | None = None,
        handle_signals: bool = True,
        commit_seconds: float = 2.0,
        call_seconds: float = 0.25,
    ):
        if not isinstance(model, Model):
            raise TypeError(f"model must be a fastwalk Model, got {type(model).__name__}")
        self.model = model
        self.walkers = validate.integer("walkers", walkers, minimum=1)
        self.steps = validate.integer("steps", steps, minimum=0)
        self.seed = rng.resolve_seed(seed)
        self.every = validate.integer("every", every, minimum=0)
        if observe_every is None:
            observe_every = max(1, self.steps // 200)
        self.observe_every = validate.integer("observe_every", observe_every, minimum=1)
        self.burn_in = validate.integer("burn_in", burn_in, minimum=0)
        self.model = model.for_run(self.seed, self.burn_in)  # settings chosen per run (dt="auto")
        self.first_walker = validate.integer("first_walker", first_walker, minimum=0)
        self.sinks = list(sinks)
        self.progress = progress
        self.threads = None if threads is None else validate.integer("threads", threads, minimum=1)
        self.handle_signals = handle_signals
        self.commit_seconds = validate.real("commit_seconds", commit_seconds, minimum=0.0)
        self.call_seconds = validate.real(
            "call_seconds", call_seconds, minimum=0.0, strict_min=True
        )
        self.state: dict[str, np.ndarray] | None = None
        self.step = 0

    # ------------------------------------------------------------------ settings
    def settings(self) -> dict[str, Any]:
        """Return the run settings (everything but the model) as JSON-able values."""
        return {
            "walkers": self.walkers,
            "steps": self.steps,
            "seed": str(self.seed),
            "every": self.every,
            "observe_every": self.observe_every,
            "burn_in": self.burn_in,
            "first_walker": self.first_walker,
        }

    def restore(self, step: int, state: dict[str, np.ndarray]) -> None:
        """Continue from a checkpoint taken at ``step`` (after burn-in).

        Parameters
        ----------
        step : int
            Steps already done after burn-in (negative while still burning in).
        state : dict
            The model state saved at that step.
        """
        self.step = validate.integer("step", step, minimum=-self.burn_in, maximum=self.steps)
        check_walkers(state, self.walkers)
        self.model.check_state(state, self.walkers)
        self.state = state

    # ------------------------------------------------------------------ running
    def _next_boundary(self, step: int) -> int:
        candidates = [self.steps]
        if self.every:
            candidates.append((step // self.every + 1) * self.every)
        candidates.append((step // self.observe_every + 1) * self.observe_every)
        return min(candidates)

    def _record(self, step: int) -> None:
        time_now = step * self.model.dt
        if self.every and step % self.every == 0:
            values = self.model.frame(self.state)
            for sink in self.sinks:
                sink.frame(step, time_now, values)
        if step % self.observe_every == 0 or step == self.steps:
            sums = self.model.observe(self.state)
            if sums:
                from fastwalk.models._kernels import rounded

                values = self.model.summarize(rounded(sums), self.walkers)
                for sink in self.sinks:
                    sink.observables(step, time_now, values)

    def _commit(self, checkpoint: bool) -> None:
        for sink in self.sinks:
            sink.commit(self.step, self.state if checkpoint else None)

    def run(self) -> RunResult:
        """Run (or continue) the simulation.

        Returns
        -------
        RunResult
            Seed, steps done, exit reason, timing.

        Raises
        ------
        fastwalk.errors.SimulationError
            If the model reports a non-finite state; everything recorded
            before the failing call has been committed.
        """
        if self.threads is not None:
            import numba

            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        show = sys.stderr.isatty() if self.progress is None else bool(self.progress)
        progress = _Progress(self.steps, self.walkers, show)
        t0 = time.perf_counter()
        walker_steps = 0
        reason, stop_signal = COMPLETED, None
        started = []  # the sinks to finish, whatever happens from here
        # a signal from here to the end is recorded, never raised: one during start-up stops the
        # run at its first step, one while the sinks finish leaves a completed run completed
        with _StopFlag(self.handle_signals) as stop:
            try:
                for sink in self.sinks:
                    sink.start(self)
                    started.append(sink)
                if self.state is None:
                    states = rng.seed_states(self.seed, self.first_walker, self.walkers)
                    self.state = self.model.initial_state(states)
                    self.step = -self.burn_in
                    if self.step == 0:
                        self._record(0)
                        self._commit(checkpoint=True)  # a file declares its records from the start
                walker_steps = self._loop(stop, progress)
                if stop.signal is not None and self.step < self.steps:
                    reason, stop_signal = INTERRUPTED, stop.signal
                self._commit(checkpoint=True)
            except SimulationError:
                reason = "error"
                self._commit(checkpoint=False)
                raise
            except BaseException:
                reason = "error"  # e.g. a sink could not write; it keeps its committed state
                raise
            finally:
                progress.update(max(self.step, 0), force=True)
                progress.close()
                wall = time.perf_counter() - t0
                result = RunResult(
                    seed=self.seed,
                    steps=self.step,
                    target_steps=self.steps,
                    reason=reason,
                    signal=stop_signal,
                    wall_s=wall,
                    walker_steps_per_s=walker_steps / wall if wall > 0 else 0.0,
                )
                for sink in started:
                    sink.finish(result)
        return result

    def _resize(self, per_call: int, n: int, seconds: float) -> int:
        if seconds <= 0:
            return per_call * 4
        ideal = int(n * self.call_seconds / seconds)
        return max(1, min(ideal, per_call * 4))

    def _loop(self, stop: _StopFlag, progress: _Progress) -> int:
        """Step until the end or a stop; burn-in runs at negative steps."""
        walker_steps = 0
        per_call = 1
        last_commit = time.perf_counter()
        while self.step < self.steps and stop.signal is None:
            burning = self.step < 0
            limit = 0 if burning else self._next_boundary(self.step)
            n = min(per_call, limit - self.step)
            t = time.perf_counter()
            self.model.advance(self.state, self.step, n, not burning)
            self.step += n
            walker_steps += n * self.walkers
            per_call = self._resize(per_call, n, time.perf_counter() - t)
            if self.step >= 0:
                self._record(self.step)
                progress.update(self.step)
                if self.step == 0:  # burn-in just ended: commit step 0 (see run)
                    self._commit(checkpoint=True)
                    last_commit = time.perf_counter()
            if time.perf_counter() - last_commit >= self.commit_seconds and self.step < self.steps:
                self._commit(checkpoint=True)
                last_commit = time.perf_counter()
        return walker_steps


class MemorySink:
    """Keep every record in memory (for the Python API and tests).

    Attributes
    ----------
    frame_steps, frame_times : list
        Steps and times of the frames.
    frames : list of numpy.ndarray
        Copies of the frames.
    observable_steps, observable_times : list
        Steps and times of the observable records.
    observed : dict of list
        Per-name lists of observable values.
    commits : list of int
        Steps at which commits happened.
    accumulators : dict of numpy.ndarray
        The model's accumulators as of the last commit that carried a state.
    result : RunResult or None
        Set when the run finishes.
    """

    def __init__(self):
        self.frame_steps: list[int] = []
        self.frame_times: list[float] = []
        self.frames: list[np.ndarray] = []
        self.observable_steps: list[int] = []
        self.observable_times: list[float] = []
        self.observed: dict[str, list[np.ndarray]] = {}
        self.commits: list[int] = []
        self.accumulators: dict[str, np.ndarray] = {}
        self.result: RunResult | None = None
        self._model = None

    def start(self, simulation):
        """Remember the model (it turns committed states into accumulators)."""
        self._model = simulation.model

    def frame(self, step, time, values):
        """Store a copy of the frame."""
        self.frame_steps.append(step)
        self.frame_times.append(time)
        self.frames.append(np.array(values, copy=True))

    def observables(self, step, time, values):
        """Store the observables."""
        self.observable_steps.append(step)
        self.observable_times.append(time)
        for name, value in values.items():
            self.observed.setdefault(name, []).append(np.array(value, copy=True))

    def commit(self, step, state):
        """Note the commit step; keep a copy of the accumulators of ``state``, if given."""
        self.commits.append(step)
        if state is not None:
            self.accumulators = {name: np.array(value, copy=True)
                                 for name, value in self._model.accumulators(state).items()}

    def finish(self, result):
        """Keep the result."""
        self.result = result

    def series(self, name: str) -> np.ndarray:
        """Return one observable as an array ``[records, ...]``."""
        return np.array(self.observed[name])


def check_walkers(state: dict[str, np.ndarray], walkers: int) -> None:
    """Refuse a checkpoint state of another number of walkers than the run's."""
    held = state["rng"].shape[0] if "rng" in state else 0
    if held != walkers:
        raise ValueError(f"its state holds {held} walkers, the run has {walkers}")
