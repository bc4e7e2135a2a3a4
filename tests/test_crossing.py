"""Tests of fastwalk.crossing: the spec, its presets, and the lattice numbering.

The numbering is checked against a brute-force enumeration of (Z_L)^D from
the definition (``naive_walks``), so an enumeration bug cannot hide behind
a consistent index <-> coordinate round trip.
"""

from __future__ import annotations

import naive_walks
import numpy as np
import pytest

from fastwalk.crossing import CENTRE_NODE, MAX_PINNED_AXES, Crossing, parse_pin

# crossings covering lines, hyperplanes, a shared line with an unpinned axis,
# nested/overlapping pins, and lines in more dimensions than lines
CROSSINGS = {
    "lines2": Crossing.lines(2),
    "lines3": Crossing.lines(3),
    "lines4": Crossing.lines(4),
    "one_cycle": Crossing.lines(1),
    "hyperplanes2": Crossing.hyperplanes(2),
    "hyperplanes3": Crossing.hyperplanes(3),
    "planes_in_line": Crossing.planes_meeting_in_line(),
    "overlapping": Crossing(4, [(0, 1), (0, 2), (3,)]),
    "nested": Crossing(3, [(0,), (0, 1)]),
    "lines_in_4d": Crossing(4, [(1, 2, 3), (0, 2, 3), (0, 1, 3)]),
}


# ---------------------------------------------------------------------- the spec
def test_presets_pin_what_the_design_says():
    assert Crossing.lines(3).pins == ((1, 2), (0, 2), (0, 1))
    assert Crossing.lines(3).dim == 3
    assert Crossing.hyperplanes(2, 4).pins == ((0,), (1,))
    assert Crossing.hyperplanes(2, 4).dim == 4
    assert Crossing.planes_meeting_in_line().pins == ((0,), (1,))
    assert Crossing.lines(3).count == 3
    assert Crossing.lines(3).free(1) == (1,)
    mask = Crossing.lines(2).pinned_mask()
    assert mask.tolist() == [[False, True], [True, False]]


def test_dict_and_options_round_trip():
    crossing = Crossing(4, [(0, 1), (3,)])
    assert Crossing.from_dict(crossing.to_dict()) == crossing
    assert Crossing.from_options(None, 4, ["0,1", "3"]) == crossing
    assert Crossing.from_options(3, None, []) == Crossing.lines(3)
    assert parse_pin(" 0, 2 ") == (0, 2)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Crossing.lines(0), ">= 1"),
        (lambda: Crossing(2, [(2,)]), "outside 0..1"),
        (lambda: Crossing(2, [(-1,)]), "outside 0..1"),
        (lambda: Crossing(2, [(0, 1)]).layout(5), "no free coordinate"),
        (lambda: Crossing(2, [()]), "pins no coordinate"),
        (lambda: Crossing(2, []), "at least one subspace"),
        (lambda: Crossing(3, [(0,), (0,)]), "repeats"),
        (lambda: Crossing(0, [(0,)]), ">= 1"),
        (lambda: Crossing.from_options(3, 3, ["0"]), "not both"),
        (lambda: Crossing.from_options(None, 3, []), "--pin"),
        (lambda: parse_pin("0,x"), "integer"),
    ],
)
def test_bad_crossings_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("length", [2, 0, -5])
def test_lattice_length_below_three_is_refused(length):
    with pytest.raises(ValueError, match="L"):
        Crossing.lines(3).layout(length)


def test_lattice_length_must_be_an_integer():
    with pytest.raises(TypeError, match="L"):
        Crossing.lines(3).layout(4.5)


def test_too_many_pinned_axes_are_refused():
    count = MAX_PINNED_AXES + 1
    with pytest.raises(ValueError, match="distinct axes"):
        Crossing.hyperplanes(count).layout(3)


# ---------------------------------------------------------------------- numbering
@pytest.mark.parametrize("name", sorted(CROSSINGS))
@pytest.mark.parametrize("length", [3, 4, 5])
def test_nodes_are_exactly_the_crossing_points(name, length):
    crossing = CROSSINGS[name]
    layout = crossing.layout(length)
    brute = naive_walks.crossing_points(crossing.dim, crossing.pins, length)
    coords = layout.coords()
    assert layout.nodes == len(brute) == coords.shape[0]
    assert sorted(map(tuple, coords.tolist())) == sorted(brute)
    np.testing.assert_array_equal(layout.index(coords), np.arange(layout.nodes))
    assert coords[CENTRE_NODE].tolist() == [0] * crossing.dim
    assert crossing.node_index([0] * crossing.dim, length) == CENTRE_NODE


@pytest.mark.parametrize("name", sorted(CROSSINGS))
def test_degrees_count_the_neighbours_on_the_crossing(name):
    crossing, length = CROSSINGS[name], 5
    layout = crossing.layout(length)
    expected = [len(naive_walks.lattice_neighbours(p, crossing.dim, crossing.pins, length))
                for p in map(tuple, layout.coords().tolist())]
    np.testing.assert_array_equal(layout.degrees(), expected)


@pytest.mark.parametrize("lines", [1, 2, 3, 10])
def test_the_seed_lines_numbering(lines):
    length = 9
    layout = Crossing.lines(lines).layout(length)
    assert layout.nodes == lines * (length - 1) + 1
    degrees = layout.degrees()
    assert degrees[0] == 2 * max(lines, 1)
    assert np.all(degrees[1:] == 2)
    # node 1 + r (L - 1) + (x - 1) is x on line r (the r-th free axis)
    coords = layout.coords()
    for line in range(lines):
        block = coords[1 + line * (length - 1): 1 + (line + 1) * (length - 1)]
        axis = Crossing.lines(lines).free(line)[0]
        np.testing.assert_array_equal(block[:, axis], np.arange(1, length))


def test_known_node_counts():
    assert Crossing.planes_meeting_in_line().node_count(7) == 7 * (2 * 7 - 1)
    assert Crossing.hyperplanes(2).node_count(7) == 2 * 7 - 1
    assert Crossing.hyperplanes(3).node_count(4) == 4**3 - 3**3


def test_huge_lattices_are_numbered_without_enumerating_them():
    ten_lines = Crossing.lines(10).layout(10**6)
    assert ten_lines.nodes == 10 * (10**6 - 1) + 1
    planes = Crossing.planes_meeting_in_line().layout(1000)
    assert planes.nodes == 1000 * 1999
    for layout in (ten_lines, planes):
        nodes = np.array([0, 1, layout.nodes // 2, layout.nodes - 1])
        np.testing.assert_array_equal(layout.index(layout.coords(nodes)), nodes)


def test_points_off_the_crossing_and_bad_nodes_are_refused():
    layout = Crossing.lines(3).layout(5)
    with pytest.raises(ValueError, match="not on the crossing"):
        layout.index([1, 1, 0])
    with pytest.raises(ValueError, match="outside"):
        layout.coords([layout.nodes])
    with pytest.raises(ValueError, match="shape"):
        layout.index([0, 0])
    with pytest.raises(TypeError, match="integers"):
        layout.index([0.0, 0.0, 0.0])


# ---------------------------------------------------------------------- explicit graph
@pytest.mark.parametrize("name", sorted(CROSSINGS))
def test_to_csr_lists_neighbours_in_the_walker_order(name):
    crossing, length = CROSSINGS[name], 4
    layout = crossing.layout(length)
    indptr, indices = crossing.to_csr(length)
    coords = layout.coords()
    for node in range(layout.nodes):
        expected = naive_walks.lattice_neighbours(tuple(coords[node]), crossing.dim,
                                                  crossing.pins, length)
        got = [tuple(coords[v]) for v in indices[indptr[node]:indptr[node + 1]]]
        assert got == expected


@pytest.mark.parametrize("name", sorted(CROSSINGS))
def test_to_csr_is_a_simple_undirected_graph(name):
    from scipy.sparse import csr_array

    indptr, indices = CROSSINGS[name].to_csr(5)
    nodes = indptr.size - 1
    matrix = csr_array((np.ones(indices.size), indices, indptr), shape=(nodes, nodes))
    assert (matrix != matrix.T).nnz == 0
    assert np.all(matrix.diagonal() == 0)
    matrix.sum_duplicates()
    assert matrix.nnz == indices.size  # no multi-edges
