"""A damaged or edited checkpoint is refused before a run continues from it.

``Model.check_state`` compares a state with the layout of the model's own
``initial_state`` (names, dtypes, one row per walker), then checks floats are
finite, counts and indices not negative, generators not all zero, and each
model's own bounds. Before it, a lattice node past the last one crashed the
interpreter (SIGSEGV), a short accumulator corrupted the heap (SIGABRT) and a
missing array was a KeyError traceback.
"""

from __future__ import annotations

import json
import re
import shutil

import h5py
import numpy as np
import pytest

from fastwalk import resume, rng, simulate
from fastwalk.distributed import PartitionedRun, join_states, partition_walkers
from fastwalk.engine import Simulation
from fastwalk.errors import FileFormatError
from fastwalk.io.checkpoint import checkpoint_path, read_checkpoint
from fastwalk.models import known_kinds, model_class
from fastwalk.models.free import FreeBrownian
from fastwalk.models.langevin import LangevinBrownian

WALKERS = 5


def _models():
    """One model of every kind (its first example), and a Langevin model in a reflecting box."""
    models = [model_class(kind).examples()[0] for kind in known_kinds() if model_class(kind).examples()]
    return [*models, LangevinBrownian("x0**2 + x1**2", dim=2, box=2.0, temperature=0.5, dt=1e-3)]


MODELS = _models()


def _state(model, walkers=WALKERS, first=0):
    state = model.initial_state(rng.seed_states(7, first, walkers))
    model.advance(state, 0, 3, True)
    return state


def _damaged(model, state):
    """Yield (what, damaged copy) for every generic way one array can be wrong."""
    for key, value in state.items():
        if key == "rng":
            zero = state.copy()
            zero["rng"] = value.copy()
            zero["rng"].view(np.uint64).reshape(-1, 4)[-1] = 0
            yield "zero generator", zero
            continue
        yield f"{key} missing", {k: v for k, v in state.items() if k != key}
        # arrays of thread parts may have any number of rows, never a short row
        yield f"{key} short", {**state, key: value[:, :-1] if key in model.per_part_state else value[:-1]}
        yield f"{key} retyped", {**state, key: value.astype(np.float32 if value.dtype.kind != "f"
                                                             else np.int64)}
        bad = value.copy()
        bad.reshape(-1)[-1] = np.nan if value.dtype.kind == "f" else -1
        yield f"{key} {'NaN' if value.dtype.kind == 'f' else 'negative'}", {**state, key: bad}
    yield "an extra array", {**state, "extra": np.zeros(WALKERS)}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.kind)
def test_a_state_the_model_wrote_passes(model):
    model.check_state(_state(model), WALKERS)
    for key in model.per_part_state:  # a state written with another number of threads
        state = _state(model)
        state[key] = np.concatenate([state[key]] * 3)
        model.check_state(state, WALKERS)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.kind)
def test_every_damaged_array_is_named(model):
    state = _state(model)
    cases = list(_damaged(model, state))
    assert len(cases) == 4 * (len(state) - 1) + 2
    for what, damaged in cases:
        with pytest.raises(ValueError) as refused:
            model.check_state(damaged, WALKERS)
        key = what.split()[0]
        if key in state and key != "rng" and "missing" not in what:
            assert repr(key) in str(refused.value), (what, refused.value)


def _bounds_cases():
    lattice, graph, potential, sphere = (model_class(k).examples()[0]
                                         for k in ("lattice", "graph", "potential", "sphere"))
    langevin = MODELS[-1]
    yield lattice, "node", lambda s: s["node"].__setitem__(0, lattice.nodes), "past the last one"
    yield graph, "node", lambda s: s["node"].__setitem__(0, graph.nodes + 10**9), "past the last one"
    yield potential, "position", lambda s: s["position"].__setitem__((0, 1), potential.box_side), \
        "outside the box"
    yield potential, "half", lambda s: s["half"].__setitem__(0, 2), "other than 0 and 1"
    yield sphere, "position", lambda s: s["position"].__setitem__((0, 0), s["position"][0, 0] + 1e-4), \
        "off the sphere"
    yield sphere, "position", lambda s: s["position"].__setitem__((0, 0), 1e300), "off the sphere"
    yield langevin, "position", lambda s: s["position"].__setitem__((WALKERS - 1, 1), 1.0 + 1e-9), \
        "coordinate 1 = 1 lies outside the box [-1, 1]"


@pytest.mark.parametrize(("model", "key", "damage", "text"), list(_bounds_cases()),
                         ids=lambda v: v.kind if hasattr(v, "kind") else None)
def test_values_only_the_model_can_judge(model, key, damage, text):
    state = _state(model)
    model.check_state(state, WALKERS)
    damage(state)
    with pytest.raises(ValueError, match=re.escape(text)) as refused:
        model.check_state(state, WALKERS)
    assert repr(key) in str(refused.value)


def test_a_simulation_and_a_partitioned_run_check_what_they_restore():
    model = model_class("lattice").examples()[0]
    blocks = partition_walkers(WALKERS, 2)
    partitions = [_state(model, count, first) for first, count in blocks]
    good = join_states(partitions)
    PartitionedRun(model, WALKERS, 10, blocks, seed=7, progress=False).restore(3, good)
    partitions[1]["node"][0] = model.nodes
    with pytest.raises(ValueError, match="'node' holds nodes past the last one"):
        PartitionedRun(model, WALKERS, 10, blocks, seed=7, progress=False).restore(3, join_states(partitions))
    state = _state(model)
    state["visit_slices"] = state["visit_slices"][:, :-1]
    with pytest.raises(ValueError, match="'visit_slices' is int64"):
        Simulation(model, WALKERS, 10, seed=7, progress=False).restore(3, state)


@pytest.mark.parametrize("damage", ["node past the last", "short accumulator", "no rng"])
def test_resume_of_a_damaged_checkpoint_is_one_line_and_touches_nothing(fastwalk_cli, tmp_path, damage):
    path = tmp_path / "walk.h5"
    done = fastwalk_cli.run("lattice", "--lines", 3, "--length", 5, "--walkers", 10, "--steps", 100,
                            "--seed", 1, "--quiet", "--out", path)
    assert done.returncode == 0, done.stderr
    ckpt = checkpoint_path(path)
    good = tmp_path / "good.ckpt"
    shutil.copy(ckpt, good)
    with np.load(ckpt) as data:
        arrays = {key: data[key] for key in data.files}
    if damage == "node past the last":
        arrays["state/node"] = arrays["state/node"] + 10**9  # was SIGSEGV
    elif damage == "short accumulator":
        arrays["state/walker_center_visits"] = arrays["state/walker_center_visits"][:3]
    else:
        del arrays["state/rng"]
    with open(ckpt, "wb") as f:
        np.savez(f, **arrays)
    before = path.read_bytes(), ckpt.read_bytes()
    out = fastwalk_cli.run("resume", path, "--steps", 200)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: checkpoint {ckpt} is damaged or edited: ")
    assert lines[0].endswith(f"put back a good copy, or start {path} again with --overwrite")
    assert (path.read_bytes(), ckpt.read_bytes()) == before
    shutil.copy(good, ckpt)
    assert fastwalk_cli.run("resume", path, "--steps", 200).returncode == 0
    assert read_checkpoint(path)[0] == 200


def _edit_description(ckpt, edit):
    with np.load(ckpt) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    edit(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(ckpt, "wb") as f:
        np.savez(f, **arrays)


INCOMPLETE = "damaged or edited: its description of the run is incomplete"
MALFORMED = "damaged or edited: its step or its description of the run is malformed"


@pytest.mark.parametrize(("edit", "text"), [
    (lambda m: m.__setitem__("step", "100"), MALFORMED),
    (lambda m: m.pop("settings"), MALFORMED),
    (lambda m: m["settings"].pop("model"), INCOMPLETE),
    (lambda m: m["settings"]["run"].pop("seed"), INCOMPLETE),
    (lambda m: m.__setitem__("settings", [1]), INCOMPLETE),
    (lambda m: m["settings"]["run"].__setitem__("every", 7), "belongs to another run"),
    (lambda m: m["settings"]["run"].__setitem__("seed", "x"), "belongs to another run"),
])
def test_an_edited_run_description_is_refused_and_touches_nothing(tmp_path, edit, text):
    # a missing key was a KeyError traceback; an edited recording schedule was resumed
    path = tmp_path / "free.h5"
    simulate(FreeBrownian(2), 6, 40, seed=3, every=10, out=path, progress=False)
    ckpt = checkpoint_path(path)
    _edit_description(ckpt, edit)
    before = path.read_bytes(), ckpt.read_bytes()
    with pytest.raises(FileFormatError, match=re.escape(text)):
        resume(path, 80, progress=False)
    assert (path.read_bytes(), ckpt.read_bytes()) == before


@pytest.mark.parametrize("edit", [lambda c: c.pop("model"), lambda c: c.pop("run"),
                                  lambda c: c["run"].pop("walkers"), lambda c: c.clear()],
                         ids=["no model", "no run", "no walkers", "empty"])
def test_a_file_with_an_edited_description_is_refused_by_every_reader(fastwalk_cli, tmp_path, edit):
    # each was a KeyError traceback from inspect, stationary or resume
    path = tmp_path / "free.h5"
    simulate(FreeBrownian(2), 6, 40, seed=3, every=10, out=path, progress=False)
    with h5py.File(path, "r+") as f:
        config = json.loads(f["parameters"].attrs["config"])
        edit(config)
        f["parameters"].attrs["config"] = json.dumps(config)
    before = path.read_bytes()
    for command in (["inspect", path], ["stationary", path], ["resume", path, "--steps", 80]):
        out = fastwalk_cli.run(*command)
        assert out.returncode == 2 and out.stderr.strip().splitlines() == [
            f"Error: {path} is not a fastwalk file (no valid /parameters)"], (command, out.stderr)
    assert path.read_bytes() == before
