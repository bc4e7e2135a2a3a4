"""The public API: one import, lazy names, and an in-memory run that reads like a file."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastwalk as fw
from fastwalk.errors import MissingDataError
from fastwalk.io.memory import MemoryRun
from fastwalk.io.reader import Run
from fastwalk.models import REGISTRY, model_class


def test_import_fastwalk_loads_no_numba_and_lists_every_name():
    code = (
        "import sys, json\nimport fastwalk as fw\n"
        "names = sorted(set(fw.__all__) & set(dir(fw)))\n"
        "print(json.dumps({'numba': 'numba' in sys.modules, 'names': names, 'all': fw.__all__}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    info = json.loads(out.stdout)
    assert info["numba"] is False, "import fastwalk must not import numba"
    assert info["names"] == sorted(info["all"])
    for name in ("simulate", "resume", "open", "Crossing", "perturb", "sphere_init", "LatticeWalk",
                 "GraphWalk", "PotentialBrownian", "SphereBrownian", "FreeBrownian"):
        assert name in info["all"], name


def test_every_exported_name_resolves_to_its_object():
    from fastwalk import api, crossing

    perturb = importlib.import_module("fastwalk.perturb")  # `from fastwalk import perturb` is the function
    assert fw.simulate is api.simulate and fw.resume is api.resume
    assert fw.Crossing is crossing.Crossing
    assert fw.perturb is perturb.perturb and fw.sphere_init is perturb.sphere_init
    for name in fw.__all__:
        assert getattr(fw, name) is not None, name


def test_every_registered_model_is_exported_under_its_class_name():
    # derived from the registry: a model registered later appears without touching __init__
    for kind in REGISTRY:
        cls = model_class(kind)
        assert getattr(fw, cls.__name__) is cls
        assert cls.__name__ in fw.__all__ and cls.__name__ in dir(fw)


def test_the_registry_read_from_the_sources_names_every_model_class_of_the_package():
    from fastwalk.models import known_kinds
    from fastwalk.models.base import Model

    imported = {kind: f"{cls.__module__}:{cls.__qualname__}" for kind, cls in Model.kinds.items()
                if kind in known_kinds() and cls.__module__.startswith("fastwalk.models.")}
    assert REGISTRY == imported and len(REGISTRY) >= 6


def test_a_new_model_module_is_exported_without_touching_a_table(tmp_path):
    # a copy of the package with one more model module: fw.<Class> appears, numba not loaded
    import shutil

    package = tmp_path / "fastwalk"
    shutil.copytree(Path(fw.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "models" / "toy.py").write_text(
        "from fastwalk.models.free import FreeBrownian\n\n\n"
        "class ToyBrownian(FreeBrownian):\n    \"\"\"A toy.\"\"\"\n\n    kind = \"toy\"\n")
    code = ("import sys, fastwalk as fw\nassert 'ToyBrownian' in fw.__all__\n"
            "assert 'numba' not in sys.modules\nprint(fw.ToyBrownian.kind)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "toy"


def test_importing_the_perturb_module_keeps_the_perturb_function():
    import fastwalk.perturb  # noqa: F401 - the import sets the package attribute

    assert callable(fw.perturb) and fw.perturb.__name__ == "perturb"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        fw.nonesuch  # noqa: B018


def _sphere():
    return fw.SphereBrownian(3, 1.0, 0.1, 0.01, method="exact")


def test_in_memory_run_reads_like_the_file_of_the_same_run(tmp_path):
    path = tmp_path / "s.h5"
    settings = dict(walkers=7, steps=40, seed=5, every=10, observe_every=8, progress=False)
    memory = fw.simulate(_sphere(), **settings)
    with fw.simulate(_sphere(), out=path, **settings) as on_disk:
        assert isinstance(memory.data, MemoryRun) and isinstance(on_disk.data, str)
        for result in (memory, on_disk):  # RunResult's own fields stay reachable
            assert result.seed == 5 and result.steps == 40 and result.reason == "completed"
            assert result.wall_s > 0
        np.testing.assert_array_equal(memory.frames[:], on_disk.frames[:])
        assert isinstance(on_disk.data, Run)  # opened by the first read
        np.testing.assert_array_equal(memory.frames.steps, on_disk.frames.steps)
        np.testing.assert_array_equal(memory.frames.times, on_disk.frames.times)
        assert memory.frames.shape == on_disk.frames.shape and len(memory.frames) == len(on_disk.frames)
        np.testing.assert_array_equal(memory.frames[-1, 2:4], on_disk.frames[-1, 2:4])
        assert memory.observable_names == on_disk.observable_names
        for name, series in on_disk.observables.items():
            mine = memory.observable(name)
            np.testing.assert_array_equal(mine.step, series.step)
            np.testing.assert_array_equal(mine.time, series.time)
            np.testing.assert_array_equal(mine.value, series.value)
        assert memory.accumulators.keys() == on_disk.accumulators.keys()
        for name, value in on_disk.accumulators.items():
            np.testing.assert_array_equal(memory.accumulators[name], value)
        assert memory.parameters == on_disk.parameters and memory.settings == on_disk.settings
        assert memory.model == on_disk.model and memory.kind == on_disk.kind == "sphere"
        assert memory.status == on_disk.status == "completed"
        assert memory.committed_step == on_disk.committed_step == 40
        assert memory.frame_name == on_disk.frame_name == "position"
        assert memory.box()["boundary"] == on_disk.box()["boundary"]
        summary_memory, summary_file = memory.summary(), on_disk.summary()
        assert summary_memory.pop("path") is None and summary_file.pop("path") == str(path)
        summary_memory.pop("commits"), summary_file.pop("commits")
        assert summary_memory == summary_file
    assert not on_disk.data._file  # the with block closed the file


def test_memory_run_has_every_public_name_of_a_file_run():
    public = {name for name in dir(Run) if not name.startswith("_")}
    assert public <= set(dir(MemoryRun)) | {"path", "config", "seed", "version", "status",
                                           "committed_step", "commits", "target_steps", "model"}
    run = fw.simulate(_sphere(), 3, 4, seed=1, every=2, progress=False)
    missing = [name for name in public if not hasattr(run.data, name)]
    assert not missing, missing


def test_in_memory_run_without_frames_says_how_to_record_them():
    run = fw.simulate(_sphere(), 3, 4, seed=1, progress=False)
    assert run.frame_name is None
    with pytest.raises(MissingDataError, match="every"):
        run.frames  # noqa: B018


def test_resume_result_reads_the_file(tmp_path):
    path = tmp_path / "r.h5"
    fw.simulate(_sphere(), 4, 20, seed=3, out=path, observe_every=5, progress=False).close()
    with fw.resume(path, 30, progress=False) as result:
        assert result.steps == 30 and result.committed_step == 30
        assert result.observable("mean_cos_theta").step[-1] == 30


def test_registered_models_give_small_examples_to_warm_the_cache():
    for kind in REGISTRY:
        cls = model_class(kind)
        assert all(type(model) is cls for model in cls.examples())
    # models whose kernels do not depend on user input: `fastwalk info --warm` compiles them all
    for kind in ("free", "lattice", "graph", "potential", "sphere"):
        assert model_class(kind).examples(), kind


@pytest.mark.slow
def test_info_warm_compiles_every_model(fastwalk_cli):
    out = fastwalk_cli.run("info", "--warm", "--json", timeout=900)
    assert out.returncode == 0, out.stderr
    warmed = json.loads(out.stdout)["warmed_s"]
    assert sorted(warmed) == sorted(REGISTRY) and all(s >= 0 for s in warmed.values())


def test_partitioned_in_memory_run_reads_like_one_process():
    model = fw.LatticeWalk(fw.Crossing.lines(2), length=5)
    one = fw.simulate(model, 8, 50, seed=4, every=10, progress=False)
    split = fw.simulate(model, 8, 50, seed=4, every=10, partitions=2, progress=False)
    assert split.model == model and split.settings["partitions"] == [[0, 4], [4, 4]]
    np.testing.assert_array_equal(split.frames[:], one.frames[:])
    assert split.accumulators.keys() == one.accumulators.keys()
    for name, value in one.accumulators.items():
        np.testing.assert_array_equal(split.accumulators[name], value)
