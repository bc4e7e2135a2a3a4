"""Cost of streaming a run to HDF5, measured against not recording and against plain h5py.

Run with ``pytest benchmarks/test_bench_io.py -s``. Figures are ratios of best
times measured in this run, interleaved so that a burst of load on the shared
machine hits every variant alike:

- recording overhead, for 10^4 two-dimensional walkers recorded every 100
  steps (160 kB frames) to a new H5MD file (the final commit's fsync and
  checkpoint included), against the same run recording nothing (target: at most
  5 % more). Two models: the original notebook's 2-D valleys and free Brownian motion (the
  cheapest step there is, ~2 ns, so the hardest case). Two record schedules:
  frames every 100 steps with observables at their default cadence (what
  ``--every 100`` does), and frames *and* observables every 100 steps. For
  scale, the floor any recorder pays: the same schedule with nothing written
  (the run stops every 100 steps), and each frame appended to a flat file by one
  ``os.write`` (the copy into the page cache);
- the same for the seed potential over 2·10^5 steps (4.5 s), where the per-run
  costs (creating the file, the final fsync and checkpoint) fade;
- writer throughput: the same 160 kB frames appended through :class:`H5MDWriter`
  (step and time datasets, a commit with fsync at the end) against one
  preallocated h5py dataset written frame by frame, with and without an fsync.
"""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
from conftest import best_time

from fastwalk.api import simulate
from fastwalk.engine import RunResult, Simulation
from fastwalk.io.checkpoint import checkpoint_path
from fastwalk.io.h5md import H5MDWriter
from fastwalk.models.free import FreeBrownian

WALKERS, EVERY = 10_000, 100
FRAMES = 200


@pytest.fixture
def model():
    return FreeBrownian(2, 1.0, 0.01)


class RawSink:
    """The floor: each frame appended to a flat file with one ``os.write`` (or, with no
    path, dropped: the cost of the record schedule alone)."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def start(self, simulation):
        if self.path is not None:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)

    def frame(self, step, time, values):
        if self.path is not None:
            os.write(self.fd, memoryview(np.ascontiguousarray(values)).cast("B"))

    def observables(self, step, time, values):
        pass

    def commit(self, step, state):
        pass

    def finish(self, result):
        if self.path is not None:
            os.close(self.fd)


def _seed_potential():
    from fastwalk.crossing import Crossing
    from fastwalk.models.potential import PotentialBrownian

    return PotentialBrownian(Crossing.lines(2), a=1.0, center=0.5, box=1.0, temperature=0.05,
                             dt=1e-3)


@pytest.mark.parametrize("name, make_model, steps", [
    ("seed potential", _seed_potential, 50_000),
    ("free motion", lambda: FreeBrownian(2, 1.0, 0.01), 50_000),
])
def test_recording_every_100_steps_costs_little(ratio_report, tmp_path, name, make_model, steps):
    model = make_model()
    out = tmp_path / "recorded.h5"

    def run(**options):
        simulate(model, WALKERS, steps, seed=1, progress=False, **options)

    def bare():
        run(every=0, observe_every=steps)

    def schedule_only():  # frames due every 100 steps, nothing written
        run(every=EVERY, sinks=[RawSink(None)])

    raw = tmp_path / "raw.bin"

    def floor():  # the same schedule, frames appended to a flat file
        run(every=EVERY, sinks=[RawSink(raw)])

    def recorded():  # frames every 100 steps, observables at their default cadence
        run(every=EVERY, out=out)

    def recorded_with_observables():  # frames and observables every 100 steps
        run(every=EVERY, observe_every=EVERY, out=out)

    def no_output():  # new files every time: deleting the last ones is not recording
        for path in (out, checkpoint_path(out), raw):
            path.unlink(missing_ok=True)

    variants = (bare, schedule_only, floor, recorded, recorded_with_observables)
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(3):
        for variant in variants:
            best[variant] = min(best[variant], best_time(variant, repeat=2, setup=no_output))
    megabytes = out.stat().st_size / 1e6
    ratio_report("io", f"{name}: record every {EVERY} steps / no recording ({megabytes:.0f} MB)",
                 best[recorded] / best[bare], "<= 1.05")
    ratio_report("io", f"{name}: frames + observables every {EVERY} / no recording",
                 best[recorded_with_observables] / best[bare], "")
    ratio_report("io", f"{name}: same schedule, nothing written / no recording",
                 best[schedule_only] / best[bare], "")
    ratio_report("io", f"{name}: same schedule, raw os.write of frames / no recording",
                 best[floor] / best[bare], "")
    ratio_report("io", f"{name}: record every {EVERY} steps / raw os.write floor",
                 best[recorded] / best[floor], "")
    ratio_report("io", f"{name}: ns per walker-step, no recording",
                 best[bare] / (WALKERS * steps) * 1e9, "")


def test_recording_overhead_in_a_long_run(ratio_report, tmp_path):
    """The seed potential for 2·10^5 steps (4.5 s): the per-run costs (creating the file,
    the final fsync and checkpoint) fade, what remains is the cost per record."""
    model, steps = _seed_potential(), 200_000
    out, raw = tmp_path / "long.h5", tmp_path / "long.bin"

    def run(**options):
        simulate(model, WALKERS, steps, seed=1, progress=False, **options)

    def bare():
        run(every=0, observe_every=steps)

    def floor():
        run(every=EVERY, sinks=[RawSink(raw)])

    def recorded():
        run(every=EVERY, out=out)

    def no_output():
        for path in (out, checkpoint_path(out), raw):
            path.unlink(missing_ok=True)

    variants = (bare, floor, recorded)
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(3):
        for variant in variants:
            best[variant] = min(best[variant], best_time(variant, repeat=1, setup=no_output))
    ratio_report("io", f"seed potential, {steps} steps: record every {EVERY} / no recording",
                 best[recorded] / best[bare], "<= 1.05")
    ratio_report("io", f"seed potential, {steps} steps: raw os.write floor / no recording",
                 best[floor] / best[bare], "")


def _frames():
    return np.random.default_rng(1).standard_normal((WALKERS, 2))


def test_writer_throughput_against_plain_h5py(benchmark, ratio_report, tmp_path, model):
    frame = _frames()
    total_mb = FRAMES * frame.nbytes / 1e6
    writer_path, plain_path = tmp_path / "writer.h5", tmp_path / "plain.h5"
    simulation = Simulation(model, WALKERS, FRAMES, seed=1, every=1)
    result = RunResult(seed=1, steps=FRAMES, target_steps=FRAMES, reason="completed", signal=None,
                       wall_s=0.0, walker_steps_per_s=0.0)

    def through_writer():
        writer_path.unlink(missing_ok=True)
        writer = H5MDWriter(writer_path, model)
        writer.start(simulation)
        for step in range(FRAMES):
            writer.frame(step, step * 0.01, frame)
        writer.commit(FRAMES, None)
        writer.finish(result)

    def plain(fsync):
        with h5py.File(plain_path, "w") as f:
            dataset = f.create_dataset("position", shape=(FRAMES, WALKERS, 2), dtype=np.float64,
                                       chunks=(1, WALKERS, 2))
            for step in range(FRAMES):
                dataset[step] = frame
            f.flush()
            if fsync:
                os.fsync(f.id.get_vfd_handle())

    benchmark.pedantic(through_writer, rounds=3, iterations=1, warmup_rounds=1)
    t_writer = best_time(through_writer)
    t_plain = best_time(lambda: plain(False))
    t_plain_fsync = best_time(lambda: plain(True))
    with h5py.File(writer_path, "r") as a, h5py.File(plain_path, "r") as b:
        np.testing.assert_array_equal(a["particles/walkers/position/value"][-1], b["position"][-1])
    ratio_report("io", "H5MDWriter MB/s", total_mb / t_writer, "")
    ratio_report("io", "plain h5py MB/s (no fsync)", total_mb / t_plain, "")
    ratio_report("io", "H5MDWriter throughput / plain h5py", t_plain / t_writer, "")
    ratio_report("io", "H5MDWriter throughput / plain h5py + fsync", t_plain_fsync / t_writer, "")
