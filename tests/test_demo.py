"""``fastwalk demo``: the original notebook's experiments, run end to end and verified."""

import json
import subprocess
import sys
from pathlib import Path

import h5py

from fastwalk.demo import Row, _agree, format_table


def fastwalk_cmd():
    script = Path(sys.executable).with_name("fastwalk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fastwalk"]


def test_demo_table_rows_all_within_tolerance(tmp_path):
    out = subprocess.run([*fastwalk_cmd(), "demo", "--out", str(tmp_path / "demo"), "--json"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr + out.stdout
    result = json.loads(out.stdout)
    assert result["passed"]
    rows = {row["quantity"]: row for row in result["rows"]}
    ratios = [row for row in result["rows"] if row["experiment"] == "lattice"]
    assert [round(r["predicted"]) for r in ratios] == [2, 3, 4, 10]
    for row in ratios:
        assert abs(row["measured"] - row["predicted"]) <= 4 * row["stderr"]
        assert 0 < row["stderr"] < 0.05 * row["predicted"]  # an informative error bar
    fitted = next(r for q, r in rows.items() if q.startswith("diffusion constant"))
    assert abs(fitted["measured"] - 0.01) <= 4 * fitted["stderr"] and fitted["stderr"] < 2e-4
    regular = next(r for q, r in rows.items() if "regular" in q)
    assert abs(regular["measured"] - regular["predicted"]) > 4 * regular["stderr"]
    for path in result["files"]:
        with h5py.File(path, "r") as f:
            assert "h5md" in f and f["fastwalk"].attrs["status"] == "completed"
    for picture in result["pictures"]:
        assert Path(picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "demo" / "verification.txt").read_text()
    assert "all checks passed" in table and table.count("PASS") == len(result["rows"])


def test_agreement_rule_rejects_a_wrong_prediction():
    assert _agree("x", "q", 3.0, 0.01, 3.02).passed
    assert not _agree("x", "q", 3.0, 0.01, 3.05).passed  # 5 sigma away
    failing = {"rows": [{**Row("x", "q", 1.0, 0.1, 2.0, "|Δ| <= 4σ", False).__dict__,
                         "sigma": -10.0}],
               "passed": False, "files": [], "pictures": [], "wall_s": 0.0}
    assert "FAIL" in format_table(failing) and "SOME CHECKS FAILED" in format_table(failing)
