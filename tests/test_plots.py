"""Pictures: valid PNG files for every kind, and what each picture shows is right.

The figures are checked through what matplotlib holds (circle positions and
areas, bar heights, image arrays, curves) against values computed here
independently from the model's coordinates and the analysis layer.
"""

import math
import sys

import numpy as np
import pytest
from PIL import Image

import fastwalk
from fastwalk.analysis.boltzmann import boltzmann_reference, regular_reference
from fastwalk.analysis.decay import fit_report, stationary_mean_chord
from fastwalk.analysis.plots import (
    MISSING_MATPLOTLIB,
    graph_figure,
    lattice_figure,
    lattice_groups,
    lattice_layout,
    plot_lattice,
    plot_run,
    potential_figure,
    run_figure,
    sphere_figure,
)
from fastwalk.api import simulate
from fastwalk.crossing import Crossing
from fastwalk.errors import FastwalkError, MissingDataError
from fastwalk.models.free import FreeBrownian
from fastwalk.models.graph import GraphWalk
from fastwalk.models.lattice import LatticeWalk
from fastwalk.models.potential import PotentialBrownian
from fastwalk.models.sphere import SphereBrownian

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

MODELS = {
    "lattice": lambda: LatticeWalk(Crossing.lines(3), 9),
    "planes": lambda: LatticeWalk(Crossing.planes_meeting_in_line(), 5),
    "graph": lambda: GraphWalk(np.array([0, 2, 4, 6]), np.array([1, 2, 0, 2, 0, 1])),
    "potential": lambda: PotentialBrownian(Crossing.lines(2), a=1.0, center=0.5, box=1.0,
                                           temperature=0.05, dt=1e-3, bins=16),
    "sphere": lambda: SphereBrownian(9, 1.0, 0.05, 0.01, method="exact"),
    "free": lambda: FreeBrownian(2, 1.0, 0.01),
}


def assert_png(path, min_width=200, min_height=150):
    """Check the PNG signature, that PIL decodes the whole image, and its size."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()  # decodes every pixel: fails on a truncated or corrupt file
        width, height = image.size
        colours = image.convert("L").getextrema()
    assert width >= min_width and height >= min_height, (width, height)
    assert width <= 6000 and height <= 3000, (width, height)
    assert colours[0] < colours[1], "the picture is blank"


def signed(coords, length):
    return np.where(coords > length // 2, coords - length, coords)


# ---------------------------------------------------------------------- every kind, as files
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_kind_draws_a_valid_png(tmp_path, name):
    path = tmp_path / f"{name}.h5"
    simulate(MODELS[name](), 64, 200, out=path, seed=1, progress=False)
    with fastwalk.open(path) as run:
        written = plot_run(run, tmp_path / f"{name}.png", dpi=60)
    assert written == tmp_path / f"{name}.png"
    assert_png(written)


def test_resolution_follows_dpi(tmp_path):
    model = MODELS["lattice"]()
    counts = model.degrees() * 10
    small = plot_lattice(model, counts, tmp_path / "small.png", dpi=40)
    large = plot_lattice(model, counts, tmp_path / "large.png", dpi=80)
    with Image.open(small) as a, Image.open(large) as b:
        ratio = b.size[0] / a.size[0]
    assert ratio > 1.8 and ratio < 2.2


def test_a_run_with_no_counted_steps_still_draws(tmp_path):
    path = tmp_path / "empty.h5"
    simulate(MODELS["lattice"](), 8, 0, out=path, seed=3, progress=False)
    with fastwalk.open(path) as run:
        figure = run_figure(run)
        assert "center/other visits n/a" in figure.axes[0].get_title()
        assert_png(plot_run(run, tmp_path / "empty.png", dpi=40))


# ---------------------------------------------------------------------- lattice geometry
@pytest.mark.parametrize("lines", [1, 2, 4, 10])
@pytest.mark.parametrize("length", [9, 10])
def test_lattice_layout_puts_lines_through_the_center_at_their_angles(lines, length):
    model = LatticeWalk(Crossing.lines(lines), length)
    xy, line = lattice_layout(model)
    coords = model.coords()
    center = model.center
    assert line[center] == -1 and np.all(xy[center] == 0.0)
    others = np.arange(model.nodes) != center
    # line k is free along axis crossing.free(k) (axis k for K >= 2 lines)
    axis = np.array([model.crossing.free(k)[0] for k in range(lines)])[line[others]]
    position = signed(coords[others], length)[np.arange(others.sum()), axis]
    angle = math.pi * line[others] / lines
    expected = np.column_stack([position * np.cos(angle), position * np.sin(angle)])
    np.testing.assert_allclose(xy[others], expected, atol=1e-12)
    # every line holds L − 1 nodes besides the center: ⌈L/2⌉ − 1 on the negative side
    assert np.all(np.bincount(line[others], minlength=lines) == length - 1)
    for k in range(lines):
        on = position[line[others] == k]
        assert sorted(on) == [p for p in range(-((length - 1) // 2), length // 2 + 1) if p != 0]
    # minimum image: no node is farther than L/2 from the center
    assert np.max(np.hypot(*xy.T)) <= length / 2 + 1e-12


def test_lattice_layout_of_selected_nodes_matches_the_full_layout():
    model = LatticeWalk(Crossing.lines(3), 11)
    xy, line = lattice_layout(model)
    nodes = np.array([5, 0, 17, 29])
    sub_xy, sub_line = lattice_layout(model, nodes)
    np.testing.assert_array_equal(sub_xy, xy[nodes])
    np.testing.assert_array_equal(sub_line, line[nodes])


def test_non_line_crossings_have_no_seed_layout():
    assert lattice_layout(LatticeWalk(Crossing.planes_meeting_in_line(), 5)) is None
    assert lattice_groups(LatticeWalk(Crossing.hyperplanes(2, 3), 5), np.ones(LatticeWalk(
        Crossing.hyperplanes(2, 3), 5).nodes)) is None


def _drawn_circles(figure):
    """Return (offsets, areas) of all circles of the lattice drawing, center last."""
    ax = figure.axes[0]
    offsets = np.concatenate([c.get_offsets() for c in ax.collections])
    sizes = np.concatenate([np.broadcast_to(c.get_sizes(), (len(c.get_offsets()),))
                            for c in ax.collections])
    return np.asarray(offsets), sizes


def test_circle_areas_are_proportional_to_visits_and_sit_on_the_nodes():
    model = LatticeWalk(Crossing.lines(4), 9)
    counts = np.random.default_rng(5).integers(50, 500, size=model.nodes)
    counts[model.center] = 4 * 300
    figure = lattice_figure(model, counts)
    offsets, areas = _drawn_circles(figure)
    xy, _ = lattice_layout(model)
    assert len(areas) == model.nodes
    # each drawn circle is one node: match them by position
    order = [int(np.argmin(np.hypot(*(xy - point).T))) for point in offsets]
    assert sorted(order) == list(range(model.nodes))
    np.testing.assert_allclose(offsets, xy[order], atol=1e-12)
    per_visit = areas / counts[order]
    np.testing.assert_allclose(per_visit, per_visit[0], rtol=1e-12)
    # the center is drawn last, on its own, at the origin
    assert np.all(offsets[-1] == 0.0) and order[-1] == model.center


def test_title_gives_the_measured_ratio_with_its_error_against_k():
    model = LatticeWalk(Crossing.lines(4), 9)
    counts = model.degrees() * 250  # exactly the degree law: ratio K
    visits = np.array([240, 260, 250, 250])  # per-walker center visits, 4 walkers
    counts[model.center] = visits.sum()
    counts[model.center + 1:] = (counts.sum() - visits.sum()) // (model.nodes - 1)
    title = lattice_figure(model, counts, walker_center_visits=visits).axes[0].get_title()
    steps = counts.sum() / 4
    mean = visits.mean()
    se = (model.nodes - 1) * steps * visits.std(ddof=1) / 2 / (steps - mean) ** 2  # delta method
    ratio = counts[model.center] * (model.nodes - 1) / (counts.sum() - counts[model.center])
    digits = max(0, 1 - math.floor(math.log10(se)))
    assert f"K = 4 lines, L = 9: center/other visits {ratio:.{digits}f} ± {se:.{digits}f}" in title
    assert "degree law: K = 4" in title


def test_huge_lattices_are_drawn_with_grouped_nodes_and_nothing_lost():
    length = 101
    model = LatticeWalk(Crossing.lines(3), length)
    counts = np.random.default_rng(9).integers(0, 1000, size=model.nodes).astype(np.int64)
    groups = lattice_groups(model, counts, max_nodes=61)  # 10 groups per side of 3 lines
    assert groups["width"] == 5 and len(groups["size"]) <= 61
    assert groups["size"].sum() == model.nodes
    center = groups["center"]
    assert groups["size"][center] == 1 and groups["line"][center] == -1
    frequency = counts / counts.sum()
    assert math.isclose((groups["frequency"] * groups["size"]).sum(), 1.0, rel_tol=1e-12)
    assert math.isclose(groups["frequency"][center], frequency[model.center], rel_tol=1e-12)
    # brute force: group g > 0 of line k holds positions (g−1)·w+1 .. g·w, mirrored for g < 0
    xy, line = lattice_layout(model)
    position = np.rint(np.hypot(*xy.T)) * np.sign(xy[:, 0] + 1e-9 * xy[:, 1])
    for k in range(3):
        for g in (1, 2, 10, -1, -10):
            pick = (line == k) & (np.abs(position) >= (abs(g) - 1) * 5 + 1) & \
                   (np.abs(position) <= abs(g) * 5) & (np.sign(position) == np.sign(g))
            mean_xy = xy[pick].mean(axis=0)
            match = np.flatnonzero(np.all(np.isclose(groups["xy"], mean_xy), axis=1))
            assert len(match) == 1, (k, g)
            assert groups["size"][match[0]] == pick.sum()
            assert math.isclose(groups["frequency"][match[0]], frequency[pick].mean(),
                                rel_tol=1e-12)
    # the drawing uses the groups, and the x label says so
    figure = lattice_figure(model, counts, max_nodes=61)
    _, areas = _drawn_circles(figure)
    assert len(areas) == len(groups["size"])
    assert "5 nodes per circle" in figure.axes[0].get_xlabel()


def test_other_crossings_show_visits_over_the_degree_law_against_distance():
    model = LatticeWalk(Crossing.planes_meeting_in_line(), 6)
    counts = model.degrees() * 40  # exactly the degree law
    counts[7] += 400  # one node over-visited
    ax = lattice_figure(model, counts).axes[0]
    mean_line = next(line for line in ax.get_lines() if line.get_label().startswith("mean"))
    distance = np.abs(signed(model.coords(), 6)).sum(axis=1)
    frequency = counts / counts.sum()
    law = model.degrees() / model.degrees().sum()
    expected = [np.mean(frequency[distance == d] / law[distance == d])
                for d in np.unique(distance)]
    np.testing.assert_array_equal(mean_line.get_xdata(), np.unique(distance))
    np.testing.assert_allclose(mean_line.get_ydata(), expected, rtol=1e-12)
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == model.nodes
    assert "visit frequency / exact degree law" in ax.get_ylabel()


# ---------------------------------------------------------------------- other kinds
def test_graph_bars_are_the_empirical_and_exact_laws():
    model = GraphWalk.from_edgelist(_example_graph())
    counts = np.arange(1, model.nodes + 1)
    ax = graph_figure(model, counts).axes[0]
    empirical, exact = ax.containers
    law = model.strengths() / model.strengths().sum()
    order = np.argsort(-law, kind="stable")
    np.testing.assert_allclose([bar.get_height() for bar in exact], law[order], rtol=1e-12)
    np.testing.assert_allclose([bar.get_height() for bar in empirical],
                               counts[order] / counts.sum(), rtol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(model.labels[order])


def _example_graph():
    from pathlib import Path

    return Path(__file__).parents[1] / "data" / "example_graph.txt"


def test_potential_panels_are_landscape_empirical_boltzmann_and_regular():
    model = MODELS["potential"]()
    counts = np.random.default_rng(2).integers(0, 100, size=(16, 16))
    figure = potential_figure(model, counts)
    images = [ax.get_images()[0].get_array() for ax in figure.axes if ax.get_images()]
    assert len(images) == 4
    centers = (np.arange(16) + 0.5) / 16
    d0, d1 = np.meshgrid(centers - 0.5, centers - 0.5, indexing="ij")
    np.testing.assert_allclose(images[0].T, np.minimum(d0**2, d1**2), atol=1e-12)  # a = 1
    np.testing.assert_allclose(images[1].T, counts / counts.sum(), rtol=1e-12)
    np.testing.assert_allclose(images[2].T, boltzmann_reference(model)["histogram_2d"])
    np.testing.assert_allclose(images[3].T, regular_reference(model)["histogram_2d"])
    assert "TV(empirical, Boltzmann)" in figure.get_suptitle()


def test_potential_at_zero_temperature_says_why_boltzmann_is_missing():
    model = PotentialBrownian(Crossing.lines(2), a=1.0, center=0.5, box=1.0, temperature=0.0,
                              dt=1e-3, bins=8)
    figure = potential_figure(model, np.ones((8, 8)))
    assert sum(1 for ax in figure.axes if ax.get_images()) == 2
    assert "temperature T > 0" in figure.get_suptitle()


def test_sphere_panels_show_the_fit_and_the_stationary_limits():
    parameters = SphereBrownian(9, 2.0, 0.05, 0.01, method="exact").parameters()
    t = np.linspace(0.0, 10.0, 41)
    rate = 9 * 0.05 / 4.0
    mean, sem = np.exp(-rate * t), np.full(t.size, 0.01)
    sem[0] = 0.0
    left, right = sphere_figure(parameters, t, mean, sem, 2.0 * np.sqrt(1 - mean),
                                2.0 * np.sqrt(2 * (1 - mean))).axes
    fit = fit_report(t, mean, sem, parameters)
    labels = [line.get_label() for line in left.get_lines()]
    assert any(f"D = {fit['D']:.5g}" in label for label in labels)
    fitted = next(line for line in left.get_lines() if line.get_label().startswith("fit"))
    np.testing.assert_allclose(fitted.get_ydata(), np.exp(-fit["rate"] * fitted.get_xdata()))
    limits = sorted(line.get_ydata()[0] for line in right.get_lines()
                    if line.get_label().startswith("stationary"))
    np.testing.assert_allclose(limits, sorted([math.sqrt(2) * 2.0,
                                               stationary_mean_chord(9, 2.0)]))
    rms_law = next(line for line in right.get_lines() if line.get_label().startswith("RMS law"))
    x = rms_law.get_xdata()
    np.testing.assert_allclose(rms_law.get_ydata(), 2.0 * np.sqrt(2 * (1 - np.exp(-rate * x))))


def test_sphere_with_too_few_records_draws_without_a_fit():
    parameters = SphereBrownian(2, 1.0, 0.1, 0.01).parameters()
    figure = sphere_figure(parameters, [0.0, 0.01], [1.0, 0.99], [0.0, 0.001])
    assert any("no fit" in text.get_text() for text in figure.axes[0].texts)


# ---------------------------------------------------------------------- errors
def test_missing_directory_is_a_clear_error(tmp_path):
    path = tmp_path / "s.h5"
    simulate(MODELS["sphere"](), 16, 50, out=path, seed=2, progress=False)
    with fastwalk.open(path) as run, pytest.raises(FileNotFoundError, match="does not exist"):
        plot_run(run, tmp_path / "nope" / "s.png")


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    model = MODELS["lattice"]()
    with pytest.raises(FastwalkError, match=r"pip install 'fastwalk\[plot\]'") as info:
        lattice_figure(model, model.degrees())
    assert str(info.value) == MISSING_MATPLOTLIB


def test_counts_of_the_wrong_shape_are_refused():
    model = MODELS["lattice"]()
    with pytest.raises(ValueError, match="25 nodes"):
        lattice_figure(model, np.ones(7))


class _NothingCommitted:
    """A file as the reader shows it before its first commit."""

    path = "pending.h5"
    observable_names: list = []
    accumulators: dict = {}

    def __init__(self, kind):
        self.kind = kind


@pytest.mark.parametrize(("kind", "needle"), [("lattice", "'visit_counts'"),
                                              ("potential", "'histogram_2d'"),
                                              ("free", "scalar observables")])
def test_file_with_nothing_committed_is_a_missing_data_error(kind, needle):
    with pytest.raises(MissingDataError, match=needle):
        run_figure(_NothingCommitted(kind))
