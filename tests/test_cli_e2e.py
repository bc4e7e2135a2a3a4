"""End to end: every command of the installed ``fastwalk``, run as a user runs it.

Each test runs the real command line in subprocesses (the ``fastwalk_cli``
fixture of ``conftest.py``: the installed console script, or ``python -m
fastwalk``), parses its ``--json`` output and reads the files it wrote. The
simulation runs are made once per module and shared by the analysis,
``inspect``, ``plot`` and error tests. Statistical checks use fixed seeds and a
tolerance of 5 of the standard errors the commands report, and each is paired
with a slightly wrong law that the same tolerance must reject. Every error path
is checked for its exit status (2 for usage errors, 1 for runtime failures),
for exactly one line on stderr naming the problem, for an empty stdout and for
no traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import resource
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

DATA = Path(__file__).parents[1] / "data"
EDGE_LIST = DATA / "example_graph.txt"
SUMMARY_KEYS = ("seed", "out", "steps", "wall_s", "walker_steps_per_s", "parameters", "reason")
#: tolerance of every statistical check, in reported standard errors
SIGMAS = 5.0


@dataclass(frozen=True)
class Spec:
    """One simulation run: its command line (without --seed/--out/--json) and expectations."""

    args: tuple
    kind: str
    walkers: int
    steps: int
    seed: int
    burn_in: int = 0


SPECS = {
    "lines": Spec(("lattice", "--lines", 3, "--length", 9, "--every", 1000), "lattice", 400, 4000,
                  101),
    "planes": Spec(("lattice", "--dim", 3, "--pin", 0, "--pin", 1, "--length", 5), "lattice", 600,
                   4000, 102),
    "graph": Spec(("graph", EDGE_LIST), "graph", 300, 2000, 103),
    # a burn-in of 3 time units: the walkers spread from the center along the valleys first
    "potential": Spec(("potential", "--lines", 2, "--a", 1, "--center", 0.5, "--box", 1,
                       "--temperature", 0.05, "--dt", 2e-3, "--bins", 16), "potential", 500, 4000,
                      104, burn_in=1500),
    # S^3, R = 1, D = 0.1: <cos θ> = exp(-0.3 t) falls to exp(-0.9) by t = 3
    **{f"sphere-{method}": Spec(("sphere", "--dim", 3, "--radius", 1, "--diffusion", 0.1,
                                 "--dt", 0.015, "--method", method), "sphere", 4000, 200, 105)
       for method in ("ring", "geodesic", "exact")},
}
SIMULATIONS = ("lattice", "graph", "potential", "sphere", "free")


@dataclass(frozen=True)
class Result:
    """A finished run: its parsed ``--json`` summary and its file."""

    summary: dict
    path: Path


# ---------------------------------------------------------------------------- helpers
def _run_args(spec: Spec, path: Path) -> list:
    return [*spec.args, "--walkers", spec.walkers, "--steps", spec.steps, "--burn-in",
            spec.burn_in, "--seed", spec.seed, "--out", path, "--json"]


def _json(fastwalk_cli, *args, **options) -> dict:
    """Run a command with ``--json`` and return its one JSON object."""
    out = fastwalk_cli.run(*args, "--json", **options)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip().splitlines()) == 1, out.stdout
    return json.loads(out.stdout)


def _succeeds(fastwalk_cli, *args, **options):
    out = fastwalk_cli.run(*args, **options)
    assert out.returncode == 0, (args, out.stderr)
    return out


def _one_error_line(out, status: int | None = None) -> str:
    """Check an error's status, its single stderr line, an empty stdout and no traceback."""
    if status is not None:
        assert out.returncode == status, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("Error: "), out.stderr
    assert out.stdout == "", out.stdout
    return lines[0]


def _torus_degrees(coords: np.ndarray, length: int) -> np.ndarray:
    """Count each node's neighbours at torus distance 1 among the given nodes (independent of fastwalk)."""
    difference = np.abs(coords[:, None, :] - coords[None, :, :])
    distance = np.minimum(difference, length - difference).sum(axis=2)
    return (distance == 1).sum(axis=1)


def _edge_list(path: Path) -> tuple[list[str], dict[str, float]]:
    """Labels in order of first appearance, and strengths (a self-loop counts once)."""
    labels: list[str] = []
    strength: dict[str, float] = {}
    for line in path.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        u, v = fields[:2]
        weight = float(fields[2]) if len(fields) == 3 else 1.0
        for node in (u, v):
            if node not in strength:
                labels.append(node)
                strength[node] = 0.0
        strength[u] += weight
        if v != u:
            strength[v] += weight
    return labels, strength


def _datasets(path: Path) -> dict[str, np.ndarray]:
    """Every dataset a run records: frames, observables and accumulators."""
    found = {}
    with h5py.File(path, "r") as f:
        for group in ("particles", "observables", "fastwalk/accumulators"):
            f[group].visititems(lambda name, item, group=group: found.__setitem__(
                f"{group}/{name}", item[()]) if isinstance(item, h5py.Dataset) else None)
    return found


def _assert_same_content(first: Path, second: Path) -> None:
    """Frames, observables and accumulators of two files are bit-identical."""
    one, two = _datasets(first), _datasets(second)
    assert one.keys() == two.keys()
    assert any(name.startswith("particles/walkers/") and name.endswith("/value")
               for name in one), "no frames recorded"
    for name in one:
        assert one[name].dtype == two[name].dtype and one[name].shape == two[name].shape, name
        assert one[name].tobytes() == two[name].tobytes(), name


def _stored_config(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return json.loads(f["parameters"].attrs["config"])


def _assert_valid_png(path: Path) -> None:
    """Signature, IHDR first, every chunk's CRC, IEND last; PIL decodes it to a sensible size."""
    from PIL import Image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    position, names = 8, []
    while position < len(data):
        length, name = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert zlib.crc32(name + body) == crc, (path, name)
        names.append(name)
        position += 12 + length
    assert names[0] == b"IHDR" and names[-1] == b"IEND" and b"IDAT" in names, names
    with Image.open(path) as image:
        image.load()  # decodes every pixel
        width, height = image.size
        darkest, lightest = image.convert("L").getextrema()
    assert 200 <= width <= 6000 and 150 <= height <= 3000, (width, height)
    assert darkest < lightest, "blank picture"


# ---------------------------------------------------------------------------- the shared runs
@pytest.fixture(scope="module")
def runs(fastwalk_cli, tmp_path_factory) -> dict[str, Result]:
    """Run every spec once, keyed like SPECS (one after the other: concurrent numba
    processes oversubscribe the two cores and take four times as long)."""
    directory = tmp_path_factory.mktemp("runs")
    results = {}
    for name, spec in SPECS.items():
        path = directory / f"{name}.h5"
        out = fastwalk_cli.run(*_run_args(spec, path))
        assert out.returncode == 0, (name, out.stderr)
        results[name] = Result(json.loads(out.stdout), path)
    return results


# ---------------------------------------------------------------------------- simulation commands
@pytest.mark.parametrize("name", sorted(SPECS))
def test_json_summary_of_every_simulation_command(runs, name):
    spec, (summary, path) = SPECS[name], (runs[name].summary, runs[name].path)
    assert set(SUMMARY_KEYS) <= set(summary)
    assert summary["seed"] == str(spec.seed) and summary["steps"] == spec.steps
    assert Path(summary["out"]) == path and path.exists()
    assert summary["reason"] == "completed" and summary["exit_status"] == 0
    assert summary["walkers"] == spec.walkers and summary["run"]["burn_in"] == spec.burn_in
    assert summary["parameters"]["kind"] == spec.kind
    assert math.isfinite(summary["wall_s"]) and summary["wall_s"] > 0
    # the rate is walker-steps (burn-in included) over the wall time (rounded to microseconds)
    walker_steps = spec.walkers * (spec.steps + spec.burn_in)
    assert summary["walker_steps_per_s"] == pytest.approx(walker_steps / summary["wall_s"],
                                                          rel=1e-3)


def test_lattice_of_k_lines_stores_its_nodes_and_visits(runs):
    spec, summary, path = SPECS["lines"], runs["lines"].summary, runs["lines"].path
    lines, length = 3, 9
    assert summary["parameters"]["length"] == length
    assert summary["parameters"]["crossing"] == {"dim": 3, "pins": [[1, 2], [0, 2], [0, 1]]}
    with h5py.File(path, "r") as f:
        coords = f["parameters/lattice/coords"][()]
        visits = f["observables/visit_counts/value"][()]
        steps = f["observables/visit_counts/step"][()]
        frame_steps = f["particles/walkers/node/step"][()]
        frames = f["particles/walkers/node/value"][()]
    # K lines through the center 0 of (Z_L)^K: at most one non-zero coordinate per node
    assert coords.shape == (1 + lines * (length - 1), lines)
    assert ((coords != 0).sum(axis=1) <= 1).all() and len({tuple(c) for c in coords}) == len(coords)
    assert coords.min() >= 0 and coords.max() < length
    assert visits.shape == (steps.size, coords.shape[0]) and steps[0] == 0 and steps[-1] == spec.steps
    # one visit per walker per step, counted cumulatively
    assert visits[-1].sum() == spec.walkers * spec.steps and (np.diff(visits, axis=0) >= 0).all()
    # --every 1000: the nodes at steps 0, 1000, …, 4000, first frame at step 0 on the center
    np.testing.assert_array_equal(frame_steps, [0, 1000, 2000, 3000, 4000])
    assert frames.shape == (5, spec.walkers) and frames.dtype == np.int64
    assert (frames[0] == 0).all() and (frames >= 0).all() and (frames < coords.shape[0]).all()


def test_lattice_of_two_pinned_planes_stores_its_nodes(runs):
    spec, summary, path = SPECS["planes"], runs["planes"].summary, runs["planes"].path
    length = 5
    assert summary["parameters"]["crossing"] == {"dim": 3, "pins": [[0], [1]]}
    with h5py.File(path, "r") as f:
        coords = f["parameters/lattice/coords"][()]
        visits = f["observables/visit_counts/value"][()]
    # the planes x0 = 0 and x1 = 0 of (Z_5)^3, sharing the line x0 = x1 = 0
    assert coords.shape == (2 * length**2 - length, 3)
    assert ((coords[:, 0] == 0) | (coords[:, 1] == 0)).all()
    assert len({tuple(c) for c in coords}) == len(coords)
    assert visits.shape[1] == coords.shape[0] and visits[-1].sum() == spec.walkers * spec.steps


def test_graph_run_keeps_the_edge_list_labels(runs):
    spec, summary, path = SPECS["graph"], runs["graph"].summary, runs["graph"].path
    labels, _ = _edge_list(EDGE_LIST)
    assert summary["parameters"]["nodes"] == len(labels)
    with h5py.File(path, "r") as f:
        stored = [label.decode() if isinstance(label, bytes) else str(label)
                  for label in f["parameters/graph/labels"][()]]
        visits = f["observables/visit_counts/value"][()]
    assert stored == labels
    assert visits.shape[1] == len(labels) and visits[-1].sum() == spec.walkers * spec.steps


def test_potential_run_records_its_energy(runs):
    spec, summary, path = SPECS["potential"], runs["potential"].summary, runs["potential"].path
    parameters = summary["parameters"]
    assert parameters["a"] == 1.0 and parameters["dt"] == 2e-3 and parameters["bins"] == 16
    assert parameters["center"] == [0.5, 0.5] and parameters["temperature"] == 0.05
    with h5py.File(path, "r") as f:
        energy = f["observables/mean_energy/value"][()]
        steps = f["observables/mean_energy/step"][()]
        times = f["observables/mean_energy/time"][()]
        histogram = f["fastwalk/accumulators/histogram_2d"][()]
    assert steps[0] == 0 and steps[-1] == spec.steps and energy.shape == steps.shape
    np.testing.assert_allclose(times, steps * 2e-3)  # continuous time = steps × dt
    assert np.isfinite(energy).all() and (energy > 0).all()  # the burn-in left the center
    assert histogram.shape == (16, 16) and histogram.sum() == spec.walkers * spec.steps


@pytest.mark.parametrize("method", ["ring", "geodesic", "exact"])
def test_sphere_run_records_the_cosine_decay(runs, method):
    summary, path = runs[f"sphere-{method}"].summary, runs[f"sphere-{method}"].path
    assert summary["parameters"]["method"] == method and summary["parameters"]["dim"] == 3
    with h5py.File(path, "r") as f:
        mean = f["observables/mean_cos_theta/value"][()]
        sem = f["observables/sem_cos_theta/value"][()]
        times = f["observables/mean_cos_theta/time"][()]
    assert mean.shape == sem.shape == times.shape and mean[0] == 1.0  # all start at the pole
    assert (np.abs(mean) <= 1).all() and (sem >= 0).all() and sem[-1] > 0
    if method != "geodesic":  # exact and ring (default chord) follow exp(-n D t / R²) with no bias
        law = np.exp(-3 * 0.1 * times[-1])
        assert abs(mean[-1] - law) < SIGMAS * sem[-1], (mean[-1], law, sem[-1])
        # n - 1 in place of n (the original notebook's exponent read with n the sphere's own
        # dimension) is rejected
        assert abs(mean[-1] - np.exp(-2 * 0.1 * times[-1])) > SIGMAS * sem[-1]


# ---------------------------------------------------------------------------- analysis commands
@pytest.mark.parametrize("name", ["lines", "planes"])
def test_stationary_center_ratio_of_lattices_follows_the_degree_law(fastwalk_cli, runs, name):
    path = runs[name].path
    report = _json(fastwalk_cli, "stationary", path)
    with h5py.File(path, "r") as f:
        coords = f["parameters/lattice/coords"][()]
    length = runs[name].summary["parameters"]["length"]
    degrees = _torus_degrees(coords, length)
    center = int(np.flatnonzero((coords == 0).all(axis=1))[0])
    expected = degrees[center] / np.delete(degrees, center).mean()
    if name == "lines":
        assert expected == 3  # the center of K lines is visited K times as often
    assert report["kind"] == "lattice" and report["expected_center_ratio"] == pytest.approx(expected)
    ratio, se = report["center_ratio"], report["center_ratio_se"]
    assert 0 < se < 0.05 * expected
    assert abs(ratio - expected) < SIGMAS * se, report
    assert abs(ratio - 1.05 * expected) > SIGMAS * se, report  # a 5 % wrong law is rejected
    assert 0 <= report["total_variation"] < 1 and 0 <= report["pvalue"] <= 1
    assert report["walkers"] == SPECS[name].walkers
    assert report["steps_per_walker"] == SPECS[name].steps
    text = _succeeds(fastwalk_cli, "stationary", path).stdout
    assert "center_ratio" in text and not text.startswith("{")


def test_stationary_of_a_graph_follows_the_strength_law(fastwalk_cli, runs):
    report = _json(fastwalk_cli, "stationary", runs["graph"].path)
    labels, strength = _edge_list(EDGE_LIST)
    start = labels[0]  # the walk starts on the edge list's first node, the ratio's center
    others = [strength[label] for label in labels if label != start]
    expected = strength[start] / np.mean(others)
    assert report["kind"] == "graph" and report["center_label"] == start
    assert report["law"] == "strength-proportional"
    assert report["expected_center_ratio"] == pytest.approx(expected)
    ratio, se = report["center_ratio"], report["center_ratio_se"]
    assert abs(ratio - expected) < SIGMAS * se, report
    assert abs(ratio - 1.05 * expected) > SIGMAS * se, report
    assert 0 <= report["total_variation"] < 1 and 0 <= report["pvalue"] <= 1


def test_stationary_of_a_potential_compares_with_boltzmann(fastwalk_cli, runs):
    report = _json(fastwalk_cli, "stationary", runs["potential"].path)
    assert report["kind"] == "potential"
    for key in ("tv_boltzmann", "tv_floor", "tv_regular"):
        assert math.isfinite(report[key]) and 0 <= report[key] <= 1, (key, report)
    # tv_floor is the TV that sampling noise alone gives (measured on two halves of the
    # walkers); Euler–Maruyama's bias at a·dt = 2e-3 is far below it. The run sits within
    # a few floors of Boltzmann, and the regular prediction, which misses the mass the
    # crossing holds, lies well outside.
    assert report["tv_floor_method"] == "split-half" and report["tv_floor"] > 0
    assert report["tv_boltzmann"] <= 3.0 * report["tv_floor"], report
    assert report["tv_regular"] >= 3.0 * report["tv_floor"], report
    masses = report["mass_within_radius"]
    assert set(masses) >= {"empirical", "boltzmann", "regular"}
    assert all(0 < masses[key] < 1 for key in ("empirical", "boltzmann", "regular"))
    assert abs(masses["empirical"] - masses["boltzmann"]) < abs(masses["regular"]
                                                                - masses["boltzmann"])
    assert report["radius"] > 0


@pytest.mark.parametrize("method", ["ring", "geodesic", "exact"])
def test_fit_of_a_sphere_run(fastwalk_cli, runs, method):
    report = _json(fastwalk_cli, "fit", runs[f"sphere-{method}"].path)
    for key in ("D", "D_stderr", "rate", "rate_stderr", "chi2_dof"):
        assert math.isfinite(report[key]), (key, report)
    diffusion = 0.1
    # rate = n D / R² with n = 3, R = 1
    assert report["rate"] == pytest.approx(3 * report["D"]) and report["D_stderr"] > 0
    assert report["rate_stderr"] == pytest.approx(3 * report["D_stderr"])
    # every method against the exact rate of the walk it simulates (geodesic: O(dt) off n·D/R²)
    assert abs(report["rate"] - report["rate_walk"]) < SIGMAS * report["rate_stderr"], report
    if method != "geodesic":  # no discretisation bias: the simulated D within 5 standard errors
        assert 0 < report["D_stderr"] < 0.05 * diffusion
        assert abs(report["D"] - diffusion) < SIGMAS * report["D_stderr"], report
        assert abs(report["D"] - 1.1 * diffusion) > SIGMAS * report["D_stderr"], report
    else:
        assert report["D"] == pytest.approx(diffusion, rel=0.1)
    assert 0.5 <= report["chi2_dof"] <= 2.0  # ~200 records: chi2/dof = 1 ± 0.1
    text = _succeeds(fastwalk_cli, "fit", runs[f"sphere-{method}"].path).stdout
    assert "D_stderr" in text and not text.startswith("{")


@pytest.mark.parametrize("name", ["lines", "graph", "potential", "sphere-exact"])
def test_inspect_json_of_each_kind(fastwalk_cli, runs, name):
    spec, summary, path = SPECS[name], runs[name].summary, runs[name].path
    report = _json(fastwalk_cli, "inspect", path)
    assert report["kind"] == spec.kind and report["status"] == "completed"
    assert report["committed_step"] == report["target_steps"] == spec.steps
    assert str(report["seed"]) == str(spec.seed) and report["run"]["walkers"] == spec.walkers
    assert report["parameters"] == summary["parameters"]
    with h5py.File(path, "r") as f:
        records = {name: f[f"observables/{name}/step"].shape[0] for name in f["observables"]}
    assert {name: info["records"] for name, info in report["observables"].items()} == records
    if name == "lines":
        assert report["frames"] == {"name": "node", "count": 5, "shape": [5, spec.walkers],
                                    "first_step": 0, "last_step": spec.steps}
        text = _succeeds(fastwalk_cli, "inspect", path).stdout
        assert "lattice" in text and f"seed {spec.seed}" in text


def test_info_reports_versions_and_threads(fastwalk_cli):
    import numba

    import fastwalk

    info = _json(fastwalk_cli, "info")
    assert info["fastwalk"] == fastwalk.__version__ and info["numba"] == numba.__version__
    assert info["threads"] >= 1 and info["jit_cache"]


def test_resume_continues_to_a_new_total_bit_identically(fastwalk_cli, tmp_path):
    args = ("lattice", "--lines", 2, "--length", 7, "--walkers", 50, "--every", 250,
            "--observe-every", 50, "--seed", 21, "--quiet")
    resumed, straight = tmp_path / "resumed.h5", tmp_path / "straight.h5"
    _succeeds(fastwalk_cli, *args, "--steps", 500, "--out", resumed)
    summary = _json(fastwalk_cli, "resume", resumed, "--steps", 1500)
    assert summary["steps"] == 1500 and summary["reason"] == "completed"
    assert summary["seed"] == "21" and summary["walkers"] == 50
    _succeeds(fastwalk_cli, *args, "--steps", 1500, "--out", straight)
    _assert_same_content(resumed, straight)


def test_resuming_a_complete_run_leaves_it_untouched(fastwalk_cli, tmp_path):
    done = tmp_path / "done.h5"
    _succeeds(fastwalk_cli, "lattice", "--lines", 2, "--length", 5, "--walkers", 20, "--steps", 200,
              "--quiet", "--out", done)
    before = done.read_bytes(), Path(f"{done}.ckpt").read_bytes()
    text = fastwalk_cli.run("resume", done)
    assert text.returncode == 0 and "already complete: 200/200 steps, nothing to do" in text.stdout
    summary = _json(fastwalk_cli, "resume", done, "--steps", 200)
    assert summary["nothing_to_do"] is True and summary["steps"] == summary["target_steps"] == 200
    assert (done.read_bytes(), Path(f"{done}.ckpt").read_bytes()) == before
    assert _json(fastwalk_cli, "resume", done, "--steps", 300)["steps"] == 300


# ---------------------------------------------------------------------------- --config
def test_config_file_sits_between_command_line_and_defaults(fastwalk_cli, tmp_path):
    config = tmp_path / "walk.toml"
    config.write_text("length = 7\nlazy = 0.25\nwalkers = 50\nsteps = 300\nevery = 100\n"
                      "seed = 5\n\n[lattice]\nseed = 6\n")
    path = tmp_path / "configured.h5"
    summary = _json(fastwalk_cli, "lattice", "--lines", 2, "--config", config, "--length", 5,
                    "--walkers", 40, "--out", path)
    # command line wins (length, walkers); the file beats the defaults (lazy, steps, every);
    # the file's [lattice] section beats its top level (seed)
    assert summary["parameters"]["length"] == 5 and summary["parameters"]["lazy"] == 0.25
    assert summary["walkers"] == 40 and summary["steps"] == 300 and summary["seed"] == "6"
    with h5py.File(path, "r") as f:
        assert f["particles/walkers/node/value"].shape == (4, 40)  # steps 0, 100, 200, 300
    resolved = _stored_config(path)["config"]
    assert resolved["length"] == 5 and resolved["lazy"] == 0.25 and resolved["lines"] == 2
    assert resolved["walkers"] == 40 and resolved["steps"] == 300 and resolved["every"] == 100
    assert resolved["seed"] == 6 and resolved["burn_in"] == 0  # a default, resolved
    assert resolved["command"] == "lattice"


# ---------------------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("args", [
    ("lattice", "--lines", 3, "--length", 7, "--walkers", 1000, "--steps", 500, "--every", 100),
    ("potential", "--lines", 2, "--walkers", 501, "--steps", 300, "--every", 100, "--bins", 8),
    ("sphere", "--dim", 4, "--method", "exact", "--walkers", 500, "--steps", 100, "--every", 20),
], ids=["lattice", "potential", "sphere"])
def test_one_and_two_threads_write_bit_identical_files(fastwalk_cli, tmp_path, args):
    # NUMBA_NUM_THREADS=2 lets --threads 2 run on a one-core machine too
    paths = []
    for threads in (1, 2):
        path = tmp_path / f"threads{threads}.h5"
        _succeeds(fastwalk_cli, *args, "--seed", 2024, "--threads", threads, "--out", path,
                  "--quiet", env={"NUMBA_NUM_THREADS": 2})
        assert _stored_config(path)["config"]["threads"] == threads
        paths.append(path)
    _assert_same_content(*paths)


def test_frames_start_at_step_zero_and_burn_in_is_not_recorded(fastwalk_cli, tmp_path):
    common = ("lattice", "--lines", 2, "--length", 5, "--walkers", 6, "--every", 50, "--seed", 9,
              "--quiet")
    burnt, plain = tmp_path / "burnt.h5", tmp_path / "plain.h5"
    for path, extra in ((burnt, ("--burn-in", 100, "--steps", 200)), (plain, ("--steps", 300))):
        _succeeds(fastwalk_cli, *common, *extra, "--out", path)
    with h5py.File(burnt, "r") as b, h5py.File(plain, "r") as p:
        np.testing.assert_array_equal(b["particles/walkers/node/step"][()], [0, 50, 100, 150, 200])
        np.testing.assert_array_equal(p["particles/walkers/node/step"][()], np.arange(0, 301, 50))
        # a burn-in of 100 steps is the first 100 steps of the same walk, unrecorded
        np.testing.assert_array_equal(b["particles/walkers/node/value"][()],
                                      p["particles/walkers/node/value"][2:])
        assert (p["particles/walkers/node/value"][0] == 0).all()  # no burn-in: all at the center
        plain_steps = p["observables/visit_counts/step"][()]
        plain_visits = p["observables/visit_counts/value"][()]
        burnt_visits = b["observables/visit_counts/value"][()]
        assert b["observables/visit_counts/step"][0] == 0 and burnt_visits[0].sum() == 0
        np.testing.assert_array_equal(burnt_visits[-1],
                                      plain_visits[-1] - plain_visits[plain_steps == 100][0])
        assert burnt_visits[-1].sum() == 6 * 200


# ---------------------------------------------------------------------------- plots
@pytest.mark.parametrize("name", ["lines", "planes", "graph", "potential", "sphere-exact"])
def test_plot_writes_a_valid_png(fastwalk_cli, runs, tmp_path, name):
    picture = tmp_path / f"{name}.png"
    out = _succeeds(fastwalk_cli, "plot", runs[name].path, "-o", picture, "--dpi", 60)
    assert out.stdout.strip() == f"wrote {picture}" and out.stderr == ""
    _assert_valid_png(picture)


def test_plot_without_matplotlib_names_the_extra(fastwalk_cli, runs, tmp_path):
    blocker = tmp_path / "site" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    path = os.pathsep.join(filter(None, [str(blocker.parent), os.environ.get("PYTHONPATH")]))
    picture = tmp_path / "lines.png"
    out = fastwalk_cli.run("plot", runs["lines"].path, "-o", picture, env={"PYTHONPATH": path})
    line = _one_error_line(out, status=1)  # a runtime failure: the environment lacks a package
    assert line == "Error: plotting needs matplotlib: pip install 'fastwalk[plot]'"
    assert not picture.exists()


# ---------------------------------------------------------------------------- errors
BAD_EDGE_LIST = "# a comment and a blank line count as lines\n\nhub a\na b 2.0\nb c x y z\n"
#: (arguments, texts the one error line must contain); "{name}" stands for a file made below
USAGE_ERRORS = {
    "unknown option": (("lattice", "--lines", 2, "--length", 5, "--bogus"),
                       ("No such option '--bogus'",)),
    "unknown command": (("simulate",), ("No such command 'simulate'",)),
    "negative walkers": (("lattice", "--lines", 2, "--length", 5, "--walkers", -3),
                         ("--walkers must be >= 1", "-3")),
    "negative steps": (("sphere", "--steps", -1), ("--steps must be >= 0", "-1")),
    "L < 3": (("lattice", "--lines", 2, "--length", 2), ("--length must be >= 3", "got 2")),
    "K < 1": (("lattice", "--lines", 0, "--length", 5), ("--lines", "must be in [1,", "got 0")),
    "no crossing": (("lattice", "--length", 5), ("give --lines K, or --dim D",)),
    "pin out of range": (("lattice", "--dim", 2, "--pin", 5, "--length", 5),
                         ("pins coordinate 5", "0..1")),
    "lines and pin": (("lattice", "--lines", 2, "--pin", 0, "--length", 5), ("--lines", "--pin", "not both")),
    "unstable dt": (("potential", "--lines", 2, "--a", 4, "--dt", 0.5), ("unstable", "dt < 1/a = 0.25")),
    "center outside box": (("potential", "--lines", 2, "--center", 2),
                           ("center coordinate 0 = 2 lies outside the box",)),
    "negative temperature": (("potential", "--lines", 2, "--temperature", -1),
                             ("temperature must be >= 0",)),
    "chord too long": (("sphere", "--method", "ring", "--chord", 2.5), ("chord", "2.5", "(0, 2]")),
    "chord zero": (("sphere", "--method", "ring", "--chord", 0), ("--chord", "must be > 0")),
    "unknown method": (("sphere", "--method", "bogus"), ("--method", "bogus")),
    "sphere dim 0": (("sphere", "--dim", 0), ("--dim must be in [1,", "got 0")),
    "malformed edge": (("graph", "{edges.txt}"), ("edges.txt, line 5", "'b c x y z'")),
    "missing edge list": (("graph", "{absent.txt}"), ("absent.txt", "does not exist")),
    "output directory missing": (("lattice", "--lines", 2, "--length", 5, "--out", "{no/dir.h5}"),
                                 ("directory", "does not exist", "create it first")),
    "unknown config key": (("lattice", "--lines", 2, "--config", "{unknown.toml}"),
                           ("unknown.toml", "unknown option 'bogus'")),
    "missing config": (("lattice", "--lines", 2, "--config", "{absent.toml}"),
                       ("absent.toml", "does not exist")),
    "fit on a lattice": (("fit", "{lines}"), ("mean_cos_theta", "lattice run")),
    "stationary on a sphere": (("stationary", "{sphere-exact}"), ("is a sphere run", "fastwalk fit")),
    **{f"{command} on non-HDF5": ((command, "{junk.h5}", *extra), ("junk.h5", "is not an HDF5 file"))
       for command, extra in (("inspect", ()), ("fit", ()), ("stationary", ()), ("resume", ()),
                              ("plot", ("-o", "{junk.png}")))},
    **{f"{command} on a missing file": ((command, "{absent.h5}", *extra), ("absent.h5", "does not exist"))
       for command, extra in (("inspect", ()), ("fit", ()), ("stationary", ()), ("resume", ()),
                              ("plot", ("-o", "{absent.png}")))},
    "plot into a missing directory": (("plot", "{lines}", "-o", "{no/dir.png}"),
                                      ("directory", "does not exist", "create it first")),
    "plot to an unknown format": (("plot", "{lines}", "-o", "{lines.xyz}"),
                                  ("lines.xyz", "ending in .png")),
    "plot without -o": (("plot", "{lines}"), ("Missing option '--output' / '-o'",)),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_error_is_one_line_with_status_2(fastwalk_cli, runs, tmp_path, case):
    (tmp_path / "edges.txt").write_text(BAD_EDGE_LIST)
    (tmp_path / "unknown.toml").write_text("length = 5\nbogus = 3\n")
    (tmp_path / "junk.h5").write_text("not an HDF5 file\n")
    files = {name: str(result.path) for name, result in runs.items()}

    def fill(arg):
        if isinstance(arg, str) and arg.startswith("{"):
            return files.get(arg[1:-1], str(tmp_path / arg[1:-1]))
        return arg

    args = [fill(a) for a in USAGE_ERRORS[case][0]]
    needles = USAGE_ERRORS[case][1]
    simulation = args[0] in SIMULATIONS
    output = tmp_path / "never.h5"
    if simulation:
        args += [] if "--steps" in args else ["--steps", 10]
        args += [] if "--out" in args else ["--out", output]
    out = fastwalk_cli.run(*args, cwd=tmp_path)
    line = _one_error_line(out, status=2)
    assert all(needle in line for needle in needles), (needles, line)
    if simulation:
        assert {p.name for p in tmp_path.rglob("*.h5*")} == {"junk.h5"}  # nothing written


def test_existing_output_is_refused_and_left_untouched(fastwalk_cli, runs):
    spec, path = SPECS["lines"], runs["lines"].path
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    out = fastwalk_cli.run(*_run_args(spec, path))
    line = _one_error_line(out, status=2)
    assert str(path) in line and "--overwrite" in line
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before


def _file_size_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, resource.RLIM_INFINITY))


def test_runtime_failure_is_one_line_with_status_1(fastwalk_cli, tmp_path):
    # 4000 walkers on S^3 write a 128 KB frame each step: a 1 MB file-size limit stops the run
    path = tmp_path / "full.h5"
    out = fastwalk_cli.run("sphere", "--dim", 3, "--method", "geodesic", "--walkers", 4000,
                           "--steps", 400, "--every", 1, "--seed", 3, "--out", path,
                           preexec_fn=_file_size_limit)
    line = _one_error_line(out, status=1)
    assert str(path.name) in line and "file size limit" in line, line


def test_values_that_would_overflow_are_refused_up_front(fastwalk_cli, tmp_path):
    # the ranges of the continuous options keep positions finite (the runtime guard against
    # non-finite positions is tested on a model built to blow up, in test_engine.py)
    out = fastwalk_cli.run("free", "--diffusion", 1e300, "--dt", 1e300, "--walkers", 4,
                           "--steps", 10, "--out", tmp_path / "overflow.h5")
    line = _one_error_line(out, status=2)
    assert "--diffusion must be 0 or of magnitude" in line and not list(tmp_path.iterdir())


@pytest.mark.parametrize("args", [("fit", "{lines}"), ("lattice", "--lines", 0, "--length", 5)],
                         ids=["runtime", "usage"])
def test_debug_shows_the_traceback(fastwalk_cli, runs, tmp_path, args):
    args = [runs["lines"].path if a == "{lines}" else a for a in args]
    out = fastwalk_cli.run("--debug", *args, "--out", tmp_path / "x.h5") if args[0] == "lattice" \
        else fastwalk_cli.run("--debug", *args)
    assert out.returncode != 0
    assert "Traceback (most recent call last)" in out.stderr
    assert not (tmp_path / "x.h5").exists()
