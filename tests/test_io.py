"""The H5MD writer, the reader and resume, on real files (in-process API and CLI)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tracemalloc

import h5py
import numpy as np
import pytest

import fastwalk
from fastwalk.api import COMMIT_SECONDS_ENV, resume, simulate
from fastwalk.engine import MemorySink, Simulation, schedule_size
from fastwalk.errors import FastwalkError, FileFormatError, MissingDataError
from fastwalk.io import checkpoint
from fastwalk.io import h5md as h5md_module
from fastwalk.io.element import CHUNK_MAX, CHUNK_MIN, chunk_shape
from fastwalk.io.h5md import H5MDWriter
from fastwalk.models.base import Model
from fastwalk.models.free import FreeBrownian

KIB = 1024


class TorusDrift(Model):
    """Deterministic test model: walker w sits at (w + 0.5·step) mod L on a periodic torus.

    It exercises what the free model does not: a periodic box with edges, string and
    number arrays under /parameters, and accumulators.
    """

    kind = "torus_drift_test"

    def __init__(self, dim=2, length=5.0):
        self.dim, self.length = dim, length

    @property
    def dt(self):
        return 0.5

    def parameters(self):
        return {"kind": self.kind, "dim": self.dim, "length": self.length}

    def parameter_arrays(self):
        return {"labels/names": np.array(["origin", "far"]), "labels/weights": np.arange(3.0)}

    @classmethod
    def from_parameters(cls, parameters, arrays):
        return cls(parameters["dim"], parameters["length"])

    def box(self):
        return {"dimension": self.dim, "boundary": "periodic", "edges": [self.length] * self.dim}

    def initial_state(self, rng_states):
        walkers = rng_states.shape[0]
        start = np.repeat(np.arange(walkers, dtype=np.float64)[:, None], self.dim, axis=1)
        return {"rng": rng_states, "position": start % self.length,
                "steps_done": np.zeros(1, dtype=np.int64)}

    def advance(self, state, first_step, steps, accumulate):
        state["position"][:] = (state["position"] + 0.5 * steps) % self.length
        if accumulate:
            state["steps_done"] += steps

    def frame(self, state):
        return state["position"]

    def observe(self, state):
        return {"position_sum": state["position"].sum(axis=0)}

    def accumulators(self, state):
        return {"steps_done": state["steps_done"].copy()}


def _free_run(path, walkers=40, steps=120, *, seed=7, every=10, observe_every=20, dim=2,
              **options):
    memory = MemorySink()
    result = simulate(FreeBrownian(dim, 0.5, 0.01), walkers, steps, out=path, seed=seed,
                      every=every, observe_every=observe_every, progress=False,
                      sinks=[memory], **options)
    return result, memory


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _elements(f):
    """Yield the H5MD time-dependent element groups of an open file."""
    for name, group in f["particles/walkers"].items():
        if name != "box":
            yield group
    yield from f["observables"].values()


# ---------------------------------------------------------------------------- layout
def test_h5md_layout_metadata_parameters_and_box(tmp_path):
    path = tmp_path / "torus.h5"
    result = simulate(TorusDrift(dim=3, length=5.0), 4, 6, out=path, seed=1234, every=2,
                      observe_every=3, progress=False, config={"command": "test"})
    with h5py.File(path, "r") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["h5md/author"].attrs["name"]
        assert f["h5md/creator"].attrs["name"] == "fastwalk"
        assert f["h5md/creator"].attrs["version"] == fastwalk.__version__
        assert len(f["h5md/modules/fastwalk"].attrs["version"]) == 2
        box = f["particles/walkers/box"]
        assert box.attrs["dimension"] == 3
        assert [b.decode() if isinstance(b, bytes) else b for b in box.attrs["boundary"]] == [
            "periodic"] * 3
        position = f["particles/walkers/position"]
        # periodic box with position frames: edges is a time-dependent element beside the frames
        np.testing.assert_array_equal(box["edges/value"][()], [[5.0] * 3] * 4)
        np.testing.assert_array_equal(box["edges/step"][()], position["step"][()])
        np.testing.assert_array_equal(box["edges/time"][()], position["time"][()])
        np.testing.assert_array_equal(position["step"][()], [0, 2, 4, 6])
        np.testing.assert_array_equal(position["time"][()], [0.0, 1.0, 2.0, 3.0])
        # walker w at (w + 0.5 step) mod 5 in every coordinate
        expected = (np.arange(4.0)[None, :, None] + 0.5 * np.array([0, 2, 4, 6])[:, None, None]) % 5
        np.testing.assert_array_equal(position["value"][()], np.broadcast_to(expected, (4, 4, 3)))
        observed = f["observables/position_sum"]
        np.testing.assert_array_equal(observed["step"][()], [0, 3, 6])
        np.testing.assert_array_equal(observed["time"][()], [0.0, 1.5, 3.0])
        sums = [((np.arange(4.0) + 0.5 * step) % 5).sum() for step in (0, 3, 6)]
        np.testing.assert_array_equal(observed["value"][()], np.repeat(sums, 3).reshape(3, 3))
        params = f["parameters"]
        config = json.loads(params.attrs["config"])
        assert config["model"] == TorusDrift(3, 5.0).parameters()
        assert config["run"]["walkers"] == 4 and config["run"]["steps"] == 6
        assert config["run"]["every"] == 2 and config["run"]["observe_every"] == 3
        assert config["config"] == {"command": "test"}
        assert params.attrs["seed"] == "1234" and result.seed == 1234
        assert params.attrs["version"] == fastwalk.__version__
        assert [x.decode() for x in params["labels/names"][()]] == ["origin", "far"]
        np.testing.assert_array_equal(params["labels/weights"][()], np.arange(3.0))
        meta = f["fastwalk"]
        assert meta.attrs["status"] == "completed" and meta.attrs["committed_step"] == 6
        np.testing.assert_array_equal(meta["accumulators/steps_done"][()], [6])


def test_128_bit_seed_is_stored_exactly(tmp_path):
    seed = 2**127 + 12345
    _free_run(tmp_path / "big.h5", walkers=3, steps=2, seed=seed)
    with fastwalk.open(tmp_path / "big.h5") as run:
        assert run.seed == seed and int(run.settings["seed"]) == seed


@pytest.mark.parametrize(("steps", "every", "observe_every"),
                         [(120, 10, 20), (125, 10, 20), (7, 3, 100), (50, 0, 7), (0, 1, 1),
                          (4000, 1, 1)])  # the last holds small rows back past their limit
def test_finished_file_holds_exactly_its_frames(tmp_path, steps, every, observe_every):
    path = tmp_path / "exact.h5"
    _, memory = _free_run(path, steps=steps, every=every, observe_every=observe_every)
    with h5py.File(path, "r") as f:
        groups = list(_elements(f))
        assert ("position" in f["particles/walkers"]) == (every > 0)
        for group in groups:
            committed = int(group.attrs["committed"])
            lengths = {group[name].shape[0] for name in ("step", "time", "value")}
            assert lengths == {committed}, group.name
        if every:
            frames = f["particles/walkers/position"]
            assert frames["value"].shape[0] == schedule_size(steps, every) == len(memory.frames)
            np.testing.assert_array_equal(frames["value"][()], np.array(memory.frames))
            np.testing.assert_array_equal(frames["step"][()], memory.frame_steps)
        msd = f["observables/msd"]
        assert msd["value"].shape[0] == schedule_size(steps, observe_every, include_last=True)
        np.testing.assert_array_equal(msd["step"][()], memory.observable_steps)
        np.testing.assert_array_equal(msd["time"][()], np.array(memory.observable_steps) * 0.01)
        np.testing.assert_array_equal(msd["value"][()], memory.series("msd"))


# ---------------------------------------------------------------------------- chunks
@pytest.mark.parametrize("walkers", [1, 100, 1000, 10_000, 100_000])
def test_chunks_are_between_10_kib_and_1_mib(tmp_path, walkers):
    path = tmp_path / "chunks.h5"
    _free_run(path, walkers=walkers, steps=2, every=1, observe_every=1)
    with h5py.File(path, "r") as f:
        for group in _elements(f):
            for name in ("step", "time", "value"):
                dataset = group[name]
                assert dataset.chunks is not None and dataset.maxshape[0] is None
                size = math.prod(dataset.chunks) * dataset.dtype.itemsize
                assert CHUNK_MIN <= size <= CHUNK_MAX, (dataset.name, dataset.chunks)


@pytest.mark.parametrize(("row_shape", "itemsize"), [
    ((), 8), ((1,), 8), ((1279,), 8), ((1280,), 8), ((640, 2), 8), ((65536, 2), 8),
    ((65537, 2), 8), ((10**6,), 8), ((10**7,), 4), ((1, 200_000), 8), ((3, 10**6), 8),
    ((1000, 1000), 1), ((10, 10, 10**5), 8),
])
def test_chunk_shape_rule_for_large_and_odd_records(row_shape, itemsize):
    chunk = chunk_shape(row_shape, itemsize)
    assert len(chunk) == len(row_shape) + 1
    assert all(1 <= c <= n for c, n in zip(chunk[1:], row_shape, strict=True))
    assert CHUNK_MIN <= math.prod(chunk) * itemsize <= CHUNK_MAX


def test_finished_file_gives_back_the_space_reserved_ahead(tmp_path):
    # the writer reserves megabytes past the end of the file while it runs (see io._space)
    path = tmp_path / "lean.h5"
    _free_run(path, walkers=2000, steps=300, every=10)
    resume(path, 400, progress=False)
    stat = path.stat()
    assert stat.st_blocks * 512 <= stat.st_size + 256 * KIB


# ---------------------------------------------------------------------------- format
def test_compression_is_optional_and_lossless(tmp_path):
    plain, packed = tmp_path / "plain.h5", tmp_path / "packed.h5"
    _free_run(plain, walkers=2000, steps=40, every=2)
    _free_run(packed, walkers=2000, steps=40, every=2, compression="gzip")
    with h5py.File(plain, "r") as a, h5py.File(packed, "r") as b:
        for group in _elements(a):
            for name in ("step", "time", "value"):
                assert a[group.name][name].compression is None
                assert b[group.name][name].compression == "gzip"
                np.testing.assert_array_equal(a[group.name][name][()], b[group.name][name][()])


def test_file_format_is_pinned_to_hdf5_1_10_and_later(tmp_path):
    path = tmp_path / "fmt.h5"
    _free_run(path, steps=40)
    resume(path, 60, progress=False)  # reopening for append keeps the format
    # superblock version 0: readable by every HDF5 since 1.8 (1.10 reads versions 0..3)
    with h5py.File(path, "r") as f:
        assert f.id.get_create_plist().get_version()[0] == 0
    assert path.read_bytes()[:9] == b"\x89HDF\r\n\x1a\n\x00"


@pytest.mark.skipif(shutil.which("h5dump") is None, reason="h5dump (Debian hdf5-tools) not installed")
def test_h5dump_reads_the_file(tmp_path):
    path = tmp_path / "dump.h5"
    _free_run(path, walkers=5, steps=30, every=10, observe_every=10)
    header = subprocess.run(["h5dump", "-H", str(path)], capture_output=True, text=True, timeout=60)
    assert header.returncode == 0, header.stderr
    for name in ("h5md", "position", "observables", "parameters", "box"):
        assert f'GROUP "{name}"' in header.stdout
    steps = subprocess.run(["h5dump", "-d", "/particles/walkers/position/step", "-y", "-w", "0",
                            str(path)], capture_output=True, text=True, timeout=60)
    assert steps.returncode == 0, steps.stderr
    data = steps.stdout.split("DATA {")[1].split("}")[0]
    assert [int(x) for x in re.findall(r"-?\d+", data)] == [0, 10, 20, 30]


# ---------------------------------------------------------------------------- reader
def test_reader_gives_parameters_model_observables_and_summary(tmp_path):
    path = tmp_path / "read.h5"
    result, memory = _free_run(path, walkers=30, steps=100, seed=99, every=25, dim=3)
    with fastwalk.open(path) as run:
        assert run.kind == "free" and run.status == "completed"
        assert run.seed == 99 == result.seed and run.version == fastwalk.__version__
        assert run.model == FreeBrownian(3, 0.5, 0.01)
        assert run.settings["walkers"] == 30 and run.settings["every"] == 25
        assert run.committed_step == 100 == run.target_steps
        assert run.observable_names == ["msd", "sem_msd"]
        msd = run.observable("msd")
        np.testing.assert_array_equal(msd.step, memory.observable_steps)
        np.testing.assert_array_equal(msd.time, np.array(memory.observable_steps) * 0.01)
        np.testing.assert_array_equal(msd.value, memory.series("msd"))
        with pytest.raises(MissingDataError, match=r"no observable 'mean_cos_theta'.*msd"):
            run.observable("mean_cos_theta")
        assert run.box() == {"dimension": 3, "boundary": ["none"] * 3, "edges": None}
        summary = run.summary()
        json.dumps(summary)
        assert summary["frames"] == {"name": "position", "count": 5, "shape": [5, 30, 3],
                                     "first_step": 0, "last_step": 100}
        assert summary["observables"]["msd"]["records"] == len(memory.observable_steps)


def test_file_without_frames_says_how_to_record_them(tmp_path):
    path = tmp_path / "noframes.h5"
    _free_run(path, every=0)
    with fastwalk.open(path) as run:
        assert run.frame_name is None and run.summary()["frames"] is None
        with pytest.raises(MissingDataError, match="--every"):
            run.frames  # noqa: B018 - the property raises


def test_frames_index_like_an_array(tmp_path):
    path = tmp_path / "slices.h5"
    _, memory = _free_run(path, walkers=7, steps=110, every=10)
    reference = np.array(memory.frames)  # (12, 7, 2)
    with fastwalk.open(path) as run:
        frames = run.frames
        assert len(frames) == 12 and frames.shape == (12, 7, 2)
        np.testing.assert_array_equal(frames.steps, np.arange(0, 111, 10))
        np.testing.assert_array_equal(frames.times, np.arange(0, 111, 10) * 0.01)
        keys = [3, -1, -12, np.int64(5), slice(None), slice(2, 9, 3), slice(None, None, -1),
                slice(None, None, -2), slice(10, 1, -3), slice(-3, None), slice(5, 2), slice(20, 30),
                (4, slice(1, 3)), (slice(1, 4), 2, 0), (slice(None, None, -5), slice(None), 1),
                [0, 11, 4], np.array([2, 2]), np.arange(12) % 3 == 0, [], ([1, 3], slice(0, 2))]
        for key in keys:
            np.testing.assert_array_equal(frames[key], reference[key], err_msg=repr(key))
        for bad in (12, -13):
            with pytest.raises(IndexError, match="12 committed frames"):
                frames[bad]


def test_frame_slices_read_only_what_they_ask_for(tmp_path):
    path = tmp_path / "lazy.h5"
    walkers, frame_bytes = 10_000, 10_000 * 2 * 8
    _, memory = _free_run(path, walkers=walkers, steps=390, every=10)  # 40 frames, 6.4 MB
    with fastwalk.open(path) as run:
        frames = run.frames
        for key, limit in (((17,), 1.5 * frame_bytes), ((slice(3, 6), slice(0, 100)), 64 * KIB),
                           ((-1, 5), 64 * KIB)):
            tracemalloc.start()
            try:
                part = frames[key]
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            np.testing.assert_array_equal(part, np.array(memory.frames)[key])
            assert peak < limit, (key, peak)  # the whole run is 6.4 MB


def test_reader_sees_only_committed_records(tmp_path):
    path = tmp_path / "partial.h5"
    model = FreeBrownian(2, 1.0, 0.1)
    walkers = 1000  # 16 kB frames: written to disk at once, not held back like small records
    simulation = Simulation(model, walkers, 100, seed=3, every=1, observe_every=1)
    writer = H5MDWriter(path, model)
    writer.start(simulation)
    for step in range(8):
        writer.frame(step, 0.1 * step, np.full((walkers, 2), float(step)))
        writer.observables(step, 0.1 * step, {"msd": np.array(float(step))})
        if step == 4:
            writer.commit(step, None)
    # like a kill: rows 5..7 reached the file but were never committed (a kill also ends the
    # background fsync, which would otherwise hold HDF5's file lock a moment longer)
    writer._sync.close()
    writer.file.close()
    writer._lock.release()  # the kernel drops a killed process's lock
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["particles/walkers/position/value"][7], 7.0)
    with fastwalk.open(path) as run:
        assert len(run.frames) == 5 and run.committed_step == 4 and run.status == "running"
        assert run.commits == 1
        np.testing.assert_array_equal(run.frames.steps, np.arange(5))
        np.testing.assert_array_equal(run.frames[-1], np.full((walkers, 2), 4.0))
        np.testing.assert_array_equal(run.frames[5:], np.empty((0, walkers, 2)))
        np.testing.assert_array_equal(run.observable("msd").value, np.arange(5.0))
        assert run.summary()["frames"]["count"] == 5


# ---------------------------------------------------------------------------- safety
def test_existing_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "keep.h5"
    _free_run(path, seed=1)
    before, mtime = _sha256(path), path.stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="--overwrite"):
        _free_run(path, seed=2)
    assert _sha256(path) == before and path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.h5", "keep.h5.ckpt"]
    _free_run(path, seed=2, overwrite=True)
    with fastwalk.open(path) as run:
        assert run.seed == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.h5", "keep.h5.ckpt"]


def test_missing_output_directory_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        _free_run(tmp_path / "nowhere" / "x.h5")


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def _foreign_hdf5(path):
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.arange(10))


def _truncated(path):
    _free_run(path, walkers=500, steps=50, every=5)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)


def _empty(path):
    path.write_bytes(b"")


def _without_config(path):
    _free_run(path, steps=10)
    with h5py.File(path, "r+") as f:
        del f["parameters"].attrs["config"]


BAD_FILES = {
    "random bytes": (_random_bytes, "is not an HDF5 file"),
    "foreign HDF5": (_foreign_hdf5, "not one written by fastwalk (missing /h5md"),
    "truncated": (_truncated, "is truncated: it holds"),
    "empty": (_empty, "is not an HDF5 file"),
    "no config": (_without_config, "is not a fastwalk file"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_unreadable_files_get_a_clear_error(tmp_path, case, fastwalk_cli):
    make, needle = BAD_FILES[case]
    path = tmp_path / "bad.h5"
    make(path)
    with pytest.raises(FileFormatError, match=re.escape(needle)) as error:
        fastwalk.open(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    for command in (["inspect", path], ["resume", path]):
        out = fastwalk_cli.run(*command)
        assert out.returncode == 2, (command, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], out.stderr
        assert out.stdout == ""


def test_missing_file_gets_a_clear_error(tmp_path):
    with pytest.raises(FileFormatError, match="does not exist"):
        fastwalk.open(tmp_path / "absent.h5")


# ---------------------------------------------------------------------------- resume (API)
def test_resume_to_a_longer_total_equals_one_long_run(tmp_path):
    short, long = tmp_path / "short.h5", tmp_path / "long.h5"
    # 300 is not a multiple of observe_every: its final record must go when the run goes on
    _free_run(short, walkers=50, steps=300, every=30, observe_every=40, seed=5)
    with fastwalk.open(short) as run:
        assert run.observable("msd").step[-1] == 300
    result = resume(short, 520, progress=False)
    assert result.reason == "completed" and result.steps == 520
    _free_run(long, walkers=50, steps=520, every=30, observe_every=40, seed=5)
    _assert_same_records(short, long)


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    path = tmp_path / "done.h5"
    _free_run(path, steps=60)
    copy = tmp_path / "copy.h5"
    shutil.copy(path, copy)
    result = resume(path, progress=False)
    assert result.reason == "completed" and result.steps == 60
    _assert_same_records(path, copy)


def test_resume_refuses_fewer_steps_than_done(tmp_path):
    path = tmp_path / "r.h5"
    _free_run(path, steps=60)
    with pytest.raises(ValueError, match="less than the 60 steps already done"):
        resume(path, 59, progress=False)


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    first, second = tmp_path / "first.h5", tmp_path / "second.h5"
    _free_run(first, seed=1)
    _free_run(second, seed=2)
    shutil.copy(checkpoint.checkpoint_path(first), checkpoint.checkpoint_path(second))
    with pytest.raises(FileFormatError, match="belongs to another run"):
        resume(second, progress=False)


def test_damaged_checkpoint_gets_a_clear_error(tmp_path):
    path = tmp_path / "r.h5"
    _free_run(path, steps=30)
    checkpoint.checkpoint_path(path).write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FileFormatError, match="checkpoint .* is damaged or not a fastwalk checkpoint"):
        resume(path, progress=False)


def test_commit_interval_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "env.h5"
    monkeypatch.setenv(COMMIT_SECONDS_ENV, "soon")
    with pytest.raises(ValueError, match=f"{COMMIT_SECONDS_ENV}='soon' is not a number"):
        _free_run(path)
    assert not path.exists()
    monkeypatch.setenv(COMMIT_SECONDS_ENV, "0")
    _, memory = _free_run(path, steps=50, every=10)
    assert len(memory.commits) > 1  # zero seconds: a commit after every kernel call


def _assert_same_records(a, b):
    """Both files hold the same committed frames, observables and accumulators, exactly."""
    with fastwalk.open(a) as x, fastwalk.open(b) as y:
        assert x.frame_name == y.frame_name and x.committed_step == y.committed_step
        if x.frame_name:
            np.testing.assert_array_equal(x.frames.steps, y.frames.steps)
            np.testing.assert_array_equal(x.frames.times, y.frames.times)
            np.testing.assert_array_equal(x.frames[:], y.frames[:])
        assert x.observable_names == y.observable_names
        for name in x.observable_names:
            for field in ("step", "time", "value"):
                np.testing.assert_array_equal(getattr(x.observable(name), field),
                                              getattr(y.observable(name), field))
        assert x.accumulators.keys() == y.accumulators.keys()
        for name in x.accumulators:
            np.testing.assert_array_equal(x.accumulators[name], y.accumulators[name])


# ---------------------------------------------------------------------- background durability
def test_background_sync_publishes_the_staged_checkpoint(tmp_path):
    out = tmp_path / "run.h5"
    out.write_bytes(b"data")
    state = {"rng": fastwalk.rng.seed_states(1, 0, 3), "position": np.arange(6.0).reshape(3, 2)}
    staged = checkpoint.stage_checkpoint(out, 7, {"k": 1}, state)
    assert staged.exists() and not checkpoint.checkpoint_path(out).exists()  # staged, not yet visible
    fd = os.open(out, os.O_RDWR)
    try:
        sync = h5md_module._BackgroundSync(fd, out)
        sync.submit(7, staged)
        sync.close()
    finally:
        os.close(fd)
    assert not staged.exists()
    step, settings, restored = checkpoint.read_checkpoint(out)
    assert (step, settings) == (7, {"k": 1})
    np.testing.assert_array_equal(restored["position"], state["position"])


def test_background_sync_failure_is_raised_and_drops_the_staged_checkpoint(tmp_path):
    out = tmp_path / "run.h5"
    out.write_bytes(b"data")
    staged = checkpoint.stage_checkpoint(out, 3, {}, {"rng": fastwalk.rng.seed_states(1, 0, 2)})
    fd = os.open(out, os.O_RDWR)
    os.close(fd)  # fsync on a closed descriptor fails for real (EBADF)
    sync = h5md_module._BackgroundSync(fd, out)
    sync.submit(3, staged)
    with pytest.raises(FastwalkError, match=rf"cannot write {re.escape(str(out))} .*step 3"):
        sync.close()
    assert not staged.exists() and not checkpoint.checkpoint_path(out).exists()


def test_frames_are_fsynced_in_the_background_between_commits(tmp_path, monkeypatch):
    # 10^4 1-D walkers: 80 kB frames; a 200 kB writeback threshold queues an fsync every 3 frames.
    # A writeback is skipped while the thread is still busy (a slow disk); waiting for it here
    # makes the count independent of the disk's speed (CI's failed 1 run in ~20 without).
    monkeypatch.setattr(h5md_module, "WRITEBACK_BYTES", 200_000)
    monkeypatch.setattr(h5md_module._BackgroundSync, "idle", lambda self: self.wait() or True)
    queued = []
    original = h5md_module._BackgroundSync.submit
    monkeypatch.setattr(h5md_module._BackgroundSync, "submit",
                        lambda self, step, staged: (queued.append(staged), original(self, step, staged)))
    path = tmp_path / "wb.h5"
    simulate(FreeBrownian(1, 1.0, 0.01), 10_000, 300, seed=1, every=10, out=path, progress=False)
    assert queued.count(None) >= 3  # writeback-only jobs, besides the commits' checkpoints
    assert queued[-1] is not None  # the final commit publishes a checkpoint
    with fastwalk.open(path) as run:
        assert run.frames.shape[0] == 31 and run.status == "completed"


def test_resume_removes_checkpoints_a_kill_left_staged(tmp_path):
    path = tmp_path / "staged.h5"
    _free_run(path, steps=40)
    stale = checkpoint.checkpoint_path(path).with_name(
        checkpoint.checkpoint_path(path).name + ".k1ll3d.tmp")
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / "other.h5.ckpt.k1ll3d.tmp"  # another run's: not ours to delete
    other.write_bytes(b"x")
    resume(path, 60, progress=False)
    assert not stale.exists() and other.exists()
    assert checkpoint.read_checkpoint(path)[0] == 60


def _with_a_dangling_frames_link(path, commits):
    """Stand in for a kill during a flush: the frames element links to nowhere."""
    with h5py.File(path, "r+") as f:
        del f["particles/walkers/position"]
        f["particles/walkers/position"] = h5py.SoftLink("/nowhere")
        f["fastwalk"].attrs["commits"] = commits


def test_before_the_first_commit_a_reader_sees_no_records_and_opens_none(tmp_path):
    # CI 12-07: a kill during the first commit's flush left a link to an object past the
    # end of the file; reading frames raised h5py's KeyError ("addr overflow")
    path = tmp_path / "first.h5"
    simulate(FreeBrownian(2, 1.0, 0.01), 5, 20, seed=1, every=10, out=path, progress=False)
    _with_a_dangling_frames_link(path, commits=0)
    with fastwalk.open(path) as run:
        assert (run.frame_name, run.observable_names, run.accumulators) == (None, [], {})
        with pytest.raises(MissingDataError, match="nothing was committed"):
            _ = run.frames


def test_a_damaged_record_after_a_commit_is_one_clear_error(fastwalk_cli, tmp_path):
    path = tmp_path / "later.h5"
    simulate(FreeBrownian(2, 1.0, 0.01), 5, 20, seed=1, every=10, out=path, progress=False)
    _with_a_dangling_frames_link(path, commits=3)
    with fastwalk.open(path) as run, pytest.raises(FileFormatError, match="is damaged: /particles"):
        _ = run.frames
    out = fastwalk_cli.run("inspect", path)
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [
        f"Error: {path} is damaged: /particles/walkers/position cannot be read (Unable to "
        "synchronously open object (component not found)); the file cannot be resumed or read "
        "further, start the run again with --overwrite"], out.stderr
