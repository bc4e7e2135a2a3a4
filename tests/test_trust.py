"""Issue 20, security first: nothing runs that the user did not write.

A typed potential reaches the generated module only as the printed SymPy tree; reading a
file (inspect, stationary, plot, llc, fit, ``fw.open(f).model``) never imports or executes
anything the file names; ``resume`` imports a recorded ``module:function`` pair only with
``--import-potential``. Each test fails before its fix (the comment payload ran at import).
"""

from __future__ import annotations

import ast
import json
import os
import sys

import h5py
import pytest

from fastwalk.expression import Expression

#: a comment that ends the old docstring and runs code: creates a file named RAN in the cwd
PAYLOAD = 'x0**2 # """;import os;os.mkdir(os.getcwd()+chr(47)+chr(82)+chr(65)+chr(78));"""'

#: texts a user may type, accepted or refused, with every character that has meaning in source
TEXTS = [
    "x0**2", "x0**2 # plain comment", PAYLOAD, "x0**2 # '''; import os; '''",
    'x0**2 # \\"""; import os', "x0**2 # \\\n import os", "x0**2 # \u2028import os",
    "x0**2 # \r import os", "x0 ** 2  # é ü 中 \U0001F600", "(x0 - 0.5)**2 # \\x00",
    "x0**2 #" + "\\" * 7, "x0**2\n", "x0**2 # )))\"\"\"'''", "sin(x0)**2 # \x0c\x0b",
    "x0*x1 # {0} %s {{}}", "x0**2 # \\N{BULLET}", "1e-3*x0**2 # \"\\'",
    "__import__('os')", "x0.__class__", "'''x0'''", "x0**2; import os", "x0 if 1 else 2",
    "exec('1')", "lambda: 1", "x0\n import os", "\"\"\"\nx0**2\n\"\"\"",
]

def _top_level(source: str) -> tuple[set[str], list[ast.stmt]]:
    tree = ast.parse(source)
    body = tree.body[1:] if isinstance(tree.body[0], ast.Expr) else tree.body  # the docstring
    names = {node.name for node in body if isinstance(node, ast.FunctionDef)}
    return names, body


def _reference() -> tuple[set[str], list[str]]:
    names, body = _top_level(Expression("x0**2", 2).module_source())
    return names, [type(node).__name__ for node in body]


@pytest.mark.parametrize("text", TEXTS)
def test_a_typed_potential_reaches_generated_source_only_as_its_tree(text):
    try:
        expr = Expression(text, 2)
    except ValueError:
        return  # refused before any source exists
    source = expr.module_source()
    for fragment in ("import os", "os.mkdir", "chr(", "\u2028", "'''", "__import__", "é"):
        assert fragment not in source, fragment
    names, body = _top_level(source)
    # the same statements, of the same kinds, as a plain potential's module: nothing added
    assert (names, [type(node).__name__ for node in body]) == _reference()
    docstring = ast.parse(source).body[0]
    assert isinstance(docstring, ast.Expr) and "fastwalk" in docstring.value.value
    # a comment changes nothing: the module is printed from the tree
    assert expr.module_source() == Expression(text.split("#")[0], 2).module_source()


def test_the_comment_payload_does_not_run_from_the_cli(fastwalk_cli, tmp_path):
    env = {"FASTWALK_CACHE_DIR": tmp_path / "cache"}
    done = fastwalk_cli.run("langevin", "--dim", 1, "--potential", PAYLOAD, "--walkers", 2, "--steps", 5,
                            "--out", tmp_path / "c.h5", "--quiet", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "RAN").exists()
    # and importing the cached module again (a second run loads it) runs nothing either
    done = fastwalk_cli.run("langevin", "--dim", 1, "--potential", PAYLOAD, "--walkers", 2, "--steps", 5,
                            "--out", tmp_path / "d.h5", "--quiet", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "RAN").exists()
    for module in (tmp_path / "cache").rglob("*.py"):
        assert "mkdir" not in module.read_text()


def _plant(path, key: str, value) -> None:
    """Rewrite one entry of a file's recorded model description, as an attacker would."""
    with h5py.File(path, "r+") as f:
        attrs = f["parameters"].attrs
        config = json.loads(attrs["config"])
        config["model"][key] = value
        attrs["config"] = json.dumps(config)


@pytest.fixture()
def sent_file(fastwalk_cli, tmp_path):
    """A real langevin run whose recorded potential text carries the payload."""
    out = tmp_path / "sent.h5"
    done = fastwalk_cli.run("langevin", "--dim", 2, "--potential", "x0**2*x1**2", "--walkers", 4,
                            "--steps", 50, "--every", 10, "--out", out, "--quiet",
                            env={"FASTWALK_CACHE_DIR": tmp_path / "cache"})
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("command", [["inspect"], ["stationary"], ["resume"], ["llc"], ["fit"]])
def test_reading_a_file_with_a_payload_in_its_potential_runs_nothing(fastwalk_cli, sent_file, tmp_path,
                                                                      command):
    _plant(sent_file, "potential", PAYLOAD.replace("x0**2", "x0**2*x1**2"))
    fastwalk_cli.run(*command, sent_file, env={"FASTWALK_CACHE_DIR": tmp_path / "cache"}, cwd=tmp_path)
    assert not (tmp_path / "RAN").exists()


def _plant_pair(path, module: str) -> None:
    _plant(path, "potential", None)
    _plant(path, "energy", f"{module}:energy")
    _plant(path, "gradient", f"{module}:gradient")


def test_a_recorded_pair_is_not_imported_by_any_reader(fastwalk_cli, sent_file, tmp_path):
    (tmp_path / "evil_pair.py").write_text("import os\nos.mkdir(os.path.join(os.getcwd(), 'RAN'))\n")
    _plant_pair(sent_file, "evil_pair")
    env = {"FASTWALK_CACHE_DIR": tmp_path / "cache", "PYTHONPATH": tmp_path}
    for command in (["inspect"], ["stationary"], ["plot", "-o", tmp_path / "p.png"], ["llc"], ["fit"]):
        done = fastwalk_cli.run(*command, sent_file, env=env, cwd=tmp_path)
        assert not (tmp_path / "RAN").exists(), command
        assert "Traceback" not in done.stderr, (command, done.stderr)


GOOD_PAIR = """import numba

@numba.njit
def energy(x):
    return x[0] * x[0]

@numba.njit
def gradient(x, out):
    out[0] = 2.0 * x[0]
"""


def test_resume_imports_a_recorded_pair_only_with_import_potential(fastwalk_cli, tmp_path, monkeypatch):
    import fastwalk as fw

    (tmp_path / "trusted_pair.py").write_text(GOOD_PAIR)
    monkeypatch.syspath_prepend(str(tmp_path))
    import trusted_pair

    out = tmp_path / "pair.h5"
    model = fw.LangevinBrownian(trusted_pair.energy, 1, gradient=trusted_pair.gradient, box=2.0,
                                temperature=0.5, dt=0.01)
    fw.simulate(model, 4, 20, out=out, seed=3, progress=False)
    # keep the PYTHONPATH the tests run under (a worktree's fastwalk), with the pair's module
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    refused = fastwalk_cli.run("resume", out, "--steps", 40, "--quiet", env=env)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr
    assert "--import-potential" in lines[0] and "trusted_pair:energy" in lines[0]
    done = fastwalk_cli.run("resume", out, "--steps", 40, "--quiet", "--import-potential", env=env)
    assert done.returncode == 0, done.stderr


def test_fw_open_model_of_a_recorded_pair_refuses_without_importing(sent_file, tmp_path, monkeypatch):
    import fastwalk as fw

    (tmp_path / "evil_pair2.py").write_text("import os\nos.mkdir(os.path.join(os.getcwd(), 'RAN'))\n")
    _plant_pair(sent_file, "evil_pair2")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with fw.open(sent_file) as run, pytest.raises(ValueError, match="--import-potential"):
        run.model  # noqa: B018
    assert not (tmp_path / "RAN").exists() and "evil_pair2" not in sys.modules
