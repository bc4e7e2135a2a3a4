"""Pictures: valid PNG files for every kind, and the seed's lattice geometry."""

import math

import numpy as np
import pytest

import fastwalk
from fastwalk.analysis.plots import lattice_layout, plot_run
from fastwalk.api import simulate
from fastwalk.crossing import Crossing
from fastwalk.models.free import FreeBrownian
from fastwalk.models.graph import GraphWalk
from fastwalk.models.lattice import LatticeWalk
from fastwalk.models.potential import PotentialBrownian
from fastwalk.models.sphere import SphereBrownian

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    import matplotlib.image

    data = path.read_bytes()
    assert data[:8] == PNG
    return matplotlib.image.imread(path).shape


MODELS = {
    "lattice": lambda: LatticeWalk(Crossing.lines(3), 9),
    "planes": lambda: LatticeWalk(Crossing.planes_meeting_in_line(), 5),
    "graph": lambda: GraphWalk(np.array([0, 2, 4, 6]), np.array([1, 2, 0, 2, 0, 1])),
    "potential": lambda: PotentialBrownian(Crossing.lines(2), a=1.0, center=0.5, box=1.0,
                                           temperature=0.05, dt=1e-3, bins=16),
    "sphere": lambda: SphereBrownian(9, 1.0, 0.05, 0.01, method="exact"),
    "free": lambda: FreeBrownian(2, 1.0, 0.01),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_kind_draws_a_valid_png(tmp_path, name):
    path = tmp_path / f"{name}.h5"
    simulate(MODELS[name](), 64, 200, out=path, seed=1, progress=False)
    with fastwalk.open(path) as run:
        written = plot_run(run, tmp_path / f"{name}.png", dpi=50)
    height, width = _png_size(written)[:2]
    assert height > 100 and width > 100


def test_lattice_layout_puts_lines_through_the_centre_at_their_angles():
    model = LatticeWalk(Crossing.lines(4), 9)
    xy, line = lattice_layout(model)
    centre = model.centre
    assert line[centre] == -1 and np.allclose(xy[centre], 0.0)
    coords = model.coords()
    for node in range(model.nodes):
        if node == centre:
            continue
        k = line[node]
        axis = k  # lines(K): line k is free along axis k
        signed = coords[node, axis] if coords[node, axis] <= 4 else coords[node, axis] - 9
        angle = math.pi * k / 4
        assert np.allclose(xy[node], [signed * math.cos(angle), signed * math.sin(angle)])
    # every line holds L - 1 nodes besides the centre, spread over both sides
    assert np.all(np.bincount(line[line >= 0]) == 8)


def test_non_line_crossings_have_no_seed_layout():
    assert lattice_layout(LatticeWalk(Crossing.planes_meeting_in_line(), 5)) is None


def test_missing_directory_is_a_clear_error(tmp_path):
    path = tmp_path / "s.h5"
    simulate(MODELS["sphere"](), 16, 50, out=path, seed=2, progress=False)
    with fastwalk.open(path) as run, pytest.raises(FileNotFoundError, match="does not exist"):
        plot_run(run, tmp_path / "nope" / "s.png")
