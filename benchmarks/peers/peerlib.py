"""Shared machinery of the peer benchmarks: optional peers, timing, memory, results.

A peer benchmark measures fastwalk and each installed peer on the same work in
the same run and records one :class:`Result` per (job, tool) with
:func:`record`. Results are printed as ratios at the end of the pytest run
(through ``benchmarks/conftest.py``'s ratio table) and, when the environment
variable ``FASTWALK_PEERS_OUT`` names a JSON file, appended to it; the table
script (``python benchmarks/peers/make_table.py``) turns that file into the
README table and the bar chart. A peer that is not installed, or that fails to
import, is recorded as skipped with the reason, never as a failure.

Adding a benchmark (e.g. ``test_peer_devinterp.py``): import :func:`peer`,
:func:`measure` and :func:`record` from here, give the job a short name and a
``unit`` ("walker-step", "particle-step", ...), record fastwalk's result first
under ``tool="fastwalk"`` and every peer after it. Jobs appear in the table in
the order they were first recorded; :data:`JOB_ORDER` only fixes the order of
the built-in ones.
"""

from __future__ import annotations

import functools
import gc
import importlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

FASTWALK = "fastwalk"
#: environment variable naming the JSON file results are appended to
OUT_VARIABLE = "FASTWALK_PEERS_OUT"
_RESULTS: list[Result] = []
_SKIPS: dict[str, str] = {}


@dataclass
class Result:
    """One tool's figure on one job."""

    job: str
    tool: str
    ns_per_step: float | None  # best CPU ns (all threads summed) per step; None when skipped
    unit: str = "walker-step"
    threads: int = 1
    peak_mib: float | None = None  # extra resident memory while running, MiB
    note: str = ""
    samples: list[float] = field(default_factory=list)  # CPU ns per step of each repeat
    wall: list[float] = field(default_factory=list)  # wall ns per step of each repeat
    run: str = ""  # "" for this run; "<when> on <machine>" for a row kept from an earlier table
    ratio: str = ""  # a kept row's "× fastwalk" cell as its table printed it

    @property
    def skipped(self) -> bool:
        return self.ns_per_step is None


def peer(module: str, package: str | None = None):
    """Import an optional peer, or return None and remember why it is skipped.

    Parameters
    ----------
    module : str
        Module to import (e.g. ``"igraph"``).
    package : str, optional
        The PyPI name for the skip message (default ``module``).
    """
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure means "skipped"
        _SKIPS[package or module] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        return None


def skip_reason(package: str) -> str:
    """Why ``package`` was skipped ("" if it was not)."""
    return _SKIPS.get(package, "")


def version(package: str) -> str:
    """The installed version of a distribution (e.g. ``"python-igraph"``), or "?"."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


class _PeakRSS:
    """Sample this process's resident set every millisecond in a thread."""

    def __init__(self):
        self._page = os.sysconf("SC_PAGE_SIZE")
        self.peak = self.base = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * self._page

    def _run(self):
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self._rss())

    def __enter__(self):
        gc.collect()
        self.peak = self.base = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def peak_mib(fn) -> tuple[float, object]:
    """Run ``fn`` once; return (the resident memory it added at its peak in MiB, its result)."""
    with _PeakRSS() as meter:
        value = fn()
    return (meter.peak - meter.base) / 2**20, value


@dataclass
class Timing:
    """What :func:`measure` returns: per-repeat CPU and wall ns per step, and the peak memory."""

    cpu: list[float]
    wall: list[float]
    peak: float | None


def measure(fn, steps: int, *, repeat: int = 5, setup=None, memory: bool = True) -> Timing:
    """Time ``repeat`` calls of ``fn`` after an untimed warm-up call (compilation, caches).

    The figure that counts is CPU time (``time.process_time``: every thread of
    the process summed) per step, i.e. ns per step per thread: on a machine
    shared with other jobs, wall time counts the time slices the others took.
    ``setup``, if given, runs untimed before each call. The peak memory is
    that of the warm-up call, measured by sampling the resident set.
    """
    if setup is not None:
        setup()
    peak = peak_mib(fn)[0] if memory else (fn(), None)[1]
    cpu, wall = [], []
    for _ in range(repeat):
        if setup is not None:
            setup()
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) / steps * 1e9)
        cpu.append((time.process_time() - c0) / steps * 1e9)
    return Timing(cpu, wall, peak)


def record(job: str, tool: str, timing: Timing | None, *, unit: str = "walker-step",
           threads: int = 1, note: str = "") -> Result:
    """Record a tool's :class:`Timing` on a job; None means skipped (``note`` says why).

    Prints the ratio to fastwalk's best on the same job and thread count, adds it
    to the end-of-run table, and appends the result to ``$FASTWALK_PEERS_OUT``.
    """
    samples = None if timing is None else timing.cpu
    best = None if samples is None else min(samples)
    peak = None if timing is None else timing.peak
    result = Result(job, tool, best, unit, threads, peak, note, list(samples or []),
                    [] if timing is None else list(timing.wall))
    _RESULTS.append(result)
    from conftest import report  # benchmarks/conftest.py: the end-of-run figure table

    label = f"{tool} ({threads} thr)"
    if result.skipped:
        print(f"[{job}] {label}: skipped ({note})")
        report(job, f"{label}: skipped", float("nan"), note[:60])
    else:
        ours = fastwalk_best(job, threads)
        ratio = "" if ours is None or tool == FASTWALK else f", {best / ours:.3g}x fastwalk's time"
        spread = f"{min(samples):.4g}-{max(samples):.4g}"
        memory = "" if peak is None else f", peak +{peak:.0f} MiB"
        wall = f", wall {min(timing.wall):.4g}"
        print(f"[{job}] {label}: {spread} CPU ns per {unit}{wall}{memory}{ratio}")
        report(job, f"{label}: CPU ns per {unit}", best)
        if ours is not None and tool != FASTWALK:
            report(job, f"{tool} / fastwalk ({threads} thr)", best / ours)
    path = os.environ.get(OUT_VARIABLE)
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps(asdict(result)) + "\n")
    return result


def skipped(job: str, tool: str, package: str | None = None, reason: str = "", **kwargs) -> Result:
    """Record that ``tool`` was not run on ``job`` (not installed, or ``reason``)."""
    return record(job, tool, None, note=reason or f"not installed ({skip_reason(package or tool)})",
                  **kwargs)


def fastwalk_best(job: str, threads: int) -> float | None:
    """fastwalk's best ns per step on ``job`` at ``threads`` threads, if recorded."""
    for result in _RESULTS:
        if result.job == job and result.tool == FASTWALK and result.threads == threads:
            return result.ns_per_step
    return None


def load(path: str) -> list[Result]:
    """Read the results a run appended to ``path``."""
    with open(path) as handle:
        return [Result(**json.loads(line)) for line in handle if line.strip()]


def normal_floor(walkers: int, steps: int, per_step: int) -> Timing:
    """Time ``per_step`` scalar ``rng.normal`` draws per walker-step and nothing else (a floor)."""
    from fastwalk import rng

    states = rng.seed_states(2, 0, walkers)
    _normals(states, 1, per_step)
    return measure(lambda: _normals(states, steps, per_step), walkers * steps, memory=False)


def _normals(states, steps, per_step):
    return _normals_kernel()(states, steps, per_step)


@functools.cache
def _normals_kernel():
    from numba import prange

    from fastwalk import rng
    from fastwalk._jit import pjit

    @pjit(cache=False)
    def kernel(states, steps, per_step):
        total = np.zeros(states.shape[0])
        for w in prange(states.shape[0]):
            s = states[w]
            acc = 0.0
            for _ in range(steps * per_step):
                acc += rng.normal(s)
            total[w] = acc
        return total.sum()

    return kernel
