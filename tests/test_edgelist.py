"""The compiled edge-list scanner against the defining Python reader (fastwalk.models._edgelist)."""

from __future__ import annotations

import numpy as np
import pytest

from fastwalk.models import _edgelist
from fastwalk.models.graph import GraphWalk


def both(path, scanner_alone=False):
    slow = _edgelist._read_python(str(path))
    with pytest.MonkeyPatch.context() as patch:
        if scanner_alone:  # no falling back to the Python reader
            patch.setattr(_edgelist, "_read_python", None)
        return _edgelist.read_edgelist(path), slow


def assert_same(fast, slow):
    assert fast[0].tolist() == slow[0].tolist()
    np.testing.assert_array_equal(fast[1], slow[1])
    np.testing.assert_array_equal(fast[2], slow[2])
    if slow[3] is None:
        assert fast[3] is None
    else:
        assert fast[3].tobytes() == slow[3].tobytes()  # bit for bit, as float() converts


def test_scanner_reads_what_the_python_reader_reads(tmp_path):
    generator = np.random.default_rng(7)
    lines = ["# header", "", "a b 2", "b\tc 1.5  # tail", "c c 0.25", "a b 3e-1\r\n", "d a .5\r",
             "e\x0bf 1.\x0c", "f a +7E+2"]
    weights = generator.uniform(1e-3, 10, 3000)  # 16-17 digit reprs: NumPy's parser
    labels = generator.integers(0, 5000, (3000, 2))  # > 1024 labels: the table grows
    lines += [f"n{u} n{v} {w!r}" for (u, v), w in zip(labels.tolist(), weights.tolist(), strict=True)]
    lines += ["n1 n2 1e-30", "n3 n4 123456789012345678", "x y 5"]
    path = tmp_path / "mixed.txt"
    path.write_bytes("\n".join(lines).encode())
    fast, slow = both(path, scanner_alone=True)
    assert_same(fast, slow)
    assert fast[3] is not None and len(fast[0]) > 1024


def test_unweighted_and_fallbacks_agree(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("1 2\n2 3\n3 1\n1 1\n1 2\n")
    assert_same(*both(plain, scanner_alone=True))
    assert _edgelist.read_edgelist(plain)[3] is None
    unicode = tmp_path / "unicode.txt"
    unicode.write_text("ü v 2\nv w\u00a01\n", encoding="utf-8")  # non-ASCII: the Python reader
    assert_same(*both(unicode))
    underscore = tmp_path / "underscore.txt"
    underscore.write_text("a b 1_0\n")  # float() takes it
    assert _edgelist.read_edgelist(underscore)[3].tolist() == [10.0, 10.0]


@pytest.mark.parametrize("text, message", [
    ("a b\na b c d\n", "line 2: expected"),
    ("a b 1\nb c nan\n", "line 2: weight nan"),
    ("a b 1\nb c 1e400\n", "line 2: weight 1e400"),
    ("a b 1\nb c -0.5\n", "line 2: weight -0.5"),
    ("a b 1\nb c .\n", "line 2: weight '.' is not a number"),
    ("a b\r\nc\r\n", "line 2: expected"),
])
def test_bad_lines_still_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(text.encode())
    with pytest.raises(ValueError, match=message):
        GraphWalk.from_edgelist(path)
