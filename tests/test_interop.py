"""Other tools read fastwalk's H5MD files: MDAnalysis, plain h5py, h5dump."""

from __future__ import annotations

import shutil
import subprocess

import h5py
import numpy as np
import pytest

import fastwalk as fw


def _potential_3d():
    return fw.PotentialBrownian(fw.Crossing.lines(3), a=1.0, center=0.5, box=1.0, temperature=0.1,
                                dt=1e-3)


@pytest.fixture(scope="module")
def potential_run(tmp_path_factory):
    """A 3-D periodic run to a file, and the same run kept in memory."""
    path = tmp_path_factory.mktemp("interop") / "pot.h5"
    settings = dict(walkers=6, steps=60, seed=11, every=10, observe_every=10, progress=False)
    fw.simulate(_potential_3d(), out=path, **settings)
    return path, fw.simulate(_potential_3d(), **settings)


def test_mdanalysis_reads_every_frame_box_and_time(potential_run):
    mda = pytest.importorskip("MDAnalysis")
    path, memory = potential_run
    frames = memory.frames
    # reduced units carry no unit attribute: MDAnalysis reads them as they are
    universe = mda.Universe.empty(frames.shape[1], trajectory=True)
    universe.load_new(str(path), format="H5MD", convert_units=False)
    trajectory = universe.trajectory
    assert trajectory.n_frames == len(frames) == 7
    for i, ts in enumerate(trajectory):
        np.testing.assert_array_equal(ts.positions, frames[i].astype(np.float32))
        np.testing.assert_array_equal(ts.dimensions, np.float32([1.0, 1.0, 1.0, 90, 90, 90]))
        assert ts.time == pytest.approx(frames.times[i]) and ts.data["step"] == frames.steps[i]
    trajectory.close()


def test_plain_h5py_reads_what_the_run_recorded(potential_run):
    path, memory = potential_run
    with h5py.File(path, "r") as f:
        walkers = f["particles/walkers"]
        np.testing.assert_array_equal(walkers["position/value"][:], memory.frames[:])
        np.testing.assert_array_equal(walkers["position/step"][:], memory.frames.steps)
        np.testing.assert_array_equal(walkers["position/time"][:], memory.frames.times)
        np.testing.assert_array_equal(walkers["box/edges/value"][:], np.ones((7, 3)))
        assert list(walkers["box"].attrs["boundary"]) == ["periodic"] * 3
        assert sorted(f["observables"]) == memory.observable_names
        for name, series in memory.observables.items():
            np.testing.assert_array_equal(f[f"observables/{name}/value"][:], series.value)
            np.testing.assert_array_equal(f[f"observables/{name}/step"][:], series.step)
        for name, value in memory.accumulators.items():
            np.testing.assert_array_equal(f[f"fastwalk/accumulators/{name}"][()], value)


def test_every_dataset_and_group_says_what_it_holds(potential_run):
    path, _ = potential_run
    undescribed = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if name.startswith("h5md") or name == "particles" or name == "particles/walkers":
                return  # H5MD's own metadata groups, described by the standard
            if "description" not in obj.attrs:
                undescribed.append(name)
        f.visititems(visit)
        assert "reduced units" in f["particles/walkers/position/value"].attrs["description"]
    assert not undescribed, undescribed


@pytest.mark.skipif(shutil.which("h5dump") is None, reason="h5dump (hdf5-tools) not installed")
def test_h5dump_shows_what_each_dataset_holds(potential_run):
    path, _ = potential_run
    dump = subprocess.run(["h5dump", "-A", str(path)], capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    assert "walker positions [frame][walker][dimension], in reduced units" in dump.stdout
    assert "edge lengths of the periodic box" in dump.stdout


def _to_static_edges(path):
    """Rewrite a file's box edges the way fastwalk 0.1 wrote them: one dataset."""
    with h5py.File(path, "r+") as f:
        box = f["particles/walkers/box"]
        edges = box["edges/value"][0]
        del box["edges"]
        box.create_dataset("edges", data=edges)


def test_files_with_static_box_edges_still_read_and_resume(tmp_path):
    old, new = tmp_path / "old.h5", tmp_path / "new.h5"
    for path in (old, new):
        fw.simulate(_potential_3d(), 4, 20, seed=3, every=10, observe_every=10, out=path,
                    progress=False)
    _to_static_edges(old)
    for path in (old, new):
        with fw.open(path) as run:
            np.testing.assert_array_equal(run.box()["edges"], [1.0] * 3)
        fw.resume(path, 40, progress=False).close()
    with fw.open(old) as a, fw.open(new) as b:
        np.testing.assert_array_equal(a.frames[:], b.frames[:])
    with h5py.File(old, "r") as f:
        assert isinstance(f["particles/walkers/box/edges"], h5py.Dataset)  # left as it was
    with h5py.File(new, "r") as f:
        assert f["particles/walkers/box/edges/value"].shape == (5, 3)


def test_runs_without_frames_keep_one_edges_dataset(tmp_path):
    path = tmp_path / "noframes.h5"
    fw.simulate(_potential_3d(), 4, 20, seed=3, out=path, progress=False)
    with h5py.File(path, "r") as f:
        assert isinstance(f["particles/walkers/box/edges"], h5py.Dataset)
    with fw.open(path) as run:
        np.testing.assert_array_equal(run.box()["edges"], [1.0] * 3)
