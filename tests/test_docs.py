"""Every code block of README.md and docs/ runs as pasted: page by page, in page order, in a fresh directory.

A page's fenced ``bash`` blocks run in ``bash`` (``set -euo pipefail``) with the installed
``fastwalk`` first on PATH; its ``python`` blocks run one by one as scripts (``python
block.py``), so each must import what it uses and a block that needs ``if __name__ ==
"__main__":`` (Dask) fails without it. Blocks of one page share the directory, so a
later block may read the files an earlier one wrote, exactly as a reader pasting them
in order would. Other fences are output (``text``) or configuration files written by
a marker (see below); a fence without a language fails here.

Markers, an HTML comment on the line just before a fence (invisible on the site and
on GitHub):

- ``<!-- not-run: REASON -->`` the block is not run (REASON is required: a remote
  scheduler's address, a placeholder the reader fills in, ...).
- ``<!-- requires: TOOL -->`` the block runs only where TOOL is on PATH (e.g. ``h5dump``
  from hdf5-tools, which .ci/run installs) or is an importable Python module (e.g.
  ``torch``, an optional extra); elsewhere the rest of the page still runs and the block
  is reported as skipped.
- ``<!-- file: NAME -->`` the block's text is written to NAME (a ``--config`` TOML file).

Pages come in reading order: README.md, then docs/index.md and the pages its toctrees
name, depth first. The time of each page is printed (``pytest -s``).
"""

from __future__ import annotations

import inspect
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUN = ("bash", "python")
SHOWN = ("text", "toml", "json")
FENCE = re.compile(r"^(?P<fence>```+|~~~+)(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M)
MARKER = re.compile(r"<!--\s*(not-run|requires|file):\s*(.*?)\s*-->\s*$")
TOCTREE = re.compile(r"^```\{toctree\}[^\n]*\n(.*?)^```", re.S | re.M)
INCLUDE = re.compile(r"^```\{include\}\s+(\S+)", re.M)


@dataclass
class Block:
    page: str
    line: int
    language: str
    text: str
    marker: tuple[str, str] | None

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.language})"


def pages() -> list[Path]:
    """README.md, then the docs pages in toctree order (depth first), each once.

    A file a page includes (```{include}```, e.g. DESIGN.md, CHANGELOG.md) follows that page.
    """
    order, seen = [ROOT / "README.md"], set()

    def visit(page: Path) -> None:
        if page in seen or not page.exists():
            return
        seen.add(page)
        order.append(page)
        text = page.read_text(encoding="utf-8")
        for included in INCLUDE.findall(text):
            path = (page.parent / included).resolve()
            if path.suffix == ".md" and path not in seen:
                seen.add(path)
                order.append(path)
        for tree in TOCTREE.findall(text):
            for entry in tree.splitlines():
                entry = entry.strip()
                if entry and not entry.startswith(":"):
                    visit((page.parent / entry).with_suffix(".md"))

    visit(DOCS / "index.md")
    return order


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a page with their marker; MyST directives (```{name}) are not code."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        info = match["info"].strip()
        if info.startswith("{"):
            continue
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        found.append(Block(str(page.relative_to(ROOT)), text.count("\n", 0, match.start()) + 1,
                           info.split()[0] if info else "", match["body"],
                           (marker[1], marker[2]) if marker else None))
    return found


PAGES = pages()


def test_every_block_is_runnable_or_marked():
    """Each fence is bash or python (run), output/config shown as such, or marked with a reason."""
    problems, runnable = [], 0
    for page in PAGES:
        # DESIGN.md's indented blocks are the commands' grammar, with placeholders: not commands
        if page.name != "DESIGN.md":
            assert "\n    fastwalk " not in page.read_text(encoding="utf-8"), (
                f"{page}: an indented code block; fence it (```bash) so that it runs")
        for block in blocks(page):
            if block.language not in RUN + SHOWN:
                problems.append(f"{block}: fence language must be one of {RUN + SHOWN}")
            elif block.marker and block.marker[0] == "not-run" and len(block.marker[1]) < 10:
                problems.append(f"{block}: not-run needs its reason")
            elif block.language in RUN and not (block.marker and block.marker[0] == "not-run"):
                runnable += 1
    assert not problems, "\n".join(problems)
    print(f"\n{runnable} runnable blocks on {len(PAGES)} pages")
    assert runnable >= 20


def environment() -> dict[str, str]:
    """The reader's shell: this interpreter's bin first on PATH (its ``fastwalk`` and ``python``)."""
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def available(tool: str) -> bool:
    """Whether a ``requires:`` marker's TOOL is a command on PATH or an importable module."""
    import importlib.util

    return shutil.which(tool) is not None or importlib.util.find_spec(tool) is not None


def run_block(block: Block, cwd: Path, env: dict[str, str], index: int) -> None:
    if block.language == "bash":
        command = ["bash", "-c", "set -euo pipefail\n" + block.text]
    else:
        script = cwd / f"_block{index}.py"
        script.write_text(block.text, encoding="utf-8")
        command = [sys.executable, script.name]
    out = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, (f"{block} failed with status {out.returncode}:\n{block.text}\n"
                                 f"--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_blocks_run_in_order(page, tmp_path):
    """The page's blocks, pasted in order into a fresh directory, all succeed."""
    env, ran, skipped, start = environment(), 0, [], time.perf_counter()
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    for index, block in enumerate(blocks(page)):
        kind, value = block.marker or ("", "")
        if kind == "file":
            (tmp_path / value).write_text(block.text, encoding="utf-8")
        elif block.language not in RUN or kind == "not-run":
            continue
        elif kind == "requires" and not available(value):
            skipped.append(f"{block} needs {value}")
        else:
            run_block(block, tmp_path, env, index)
            ran += 1
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = max(0.0, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime)
    print(f"\n{page.relative_to(ROOT)}: {ran} blocks in {time.perf_counter() - start:.1f} s "
          f"({used:.1f} s CPU)"
          + (f"; skipped: {'; '.join(skipped)}" if skipped else ""))


# --------------------------------------------------------------- the API reference's examples
REFERENCE = DOCS / "reference.md"
DOCUMENTED = re.compile(r"^\.\. auto(function|class):: (\S+)", re.M)
#: public objects whose docstrings have no Examples section yet, and why
NO_EXAMPLES_YET: set[str] = set()


def documented_objects() -> list[tuple[str, object]]:
    """The functions and classes of the reference's main sections (not its lower-level pieces)."""
    import importlib

    text = REFERENCE.read_text(encoding="utf-8").split("## Lower-level pieces")[0]
    found = []
    for _, name in DOCUMENTED.findall(text):
        module, _, attribute = name.rpartition(".")
        found.append((name, getattr(importlib.import_module(module), attribute)))
    return found


def test_reference_objects_have_examples():
    """Every public function and class in the API reference shows an Examples section."""
    missing = [name for name, obj in documented_objects()
               if "Examples\n" not in (obj.__doc__ or "") and name not in NO_EXAMPLES_YET]
    assert not missing, f"no Examples section: {missing}"


def test_reference_examples_run(tmp_path, monkeypatch):
    """The Examples of the reference's objects pass as doctests, in a fresh directory."""
    import doctest

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    examples, start, slow = 0, time.perf_counter(), []
    for name, obj in documented_objects():
        began = time.perf_counter()
        for test in finder.find(obj, name, module=inspect.getmodule(obj)):  # the module's names
            examples += len(test.examples)
            runner.run(test)
        slow.append((time.perf_counter() - began, name))
    print("\n".join(f"  {seconds:5.1f} s  {name}" for seconds, name in sorted(slow)[-5:]))
    summary = runner.summarize(verbose=False)
    print(f"\nreference examples: {examples} in {time.perf_counter() - start:.1f} s")
    assert summary.failed == 0, f"{summary.failed} of {summary.attempted} examples failed (output above)"
    assert examples >= 40


def test_readme_is_short_and_states_the_two_setup_commands():
    """README stays under 150 lines and names the two set-up commands exactly as CI runs the second."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    assert '\npip install ".[plot]" && fastwalk demo --out demo\n' in text
    assert '\npip install ".[test]" && pytest\n' in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[test]"\n' in ci and "\npytest\n" in ci


def test_output_fields_are_explained(tmp_path):
    """Every field `stationary`, `fit` and `llc --json` print is named in docs/outputs.md."""
    import json

    page = (DOCS / "outputs.md").read_text(encoding="utf-8")
    env = environment()

    def fields(*args) -> set[str]:
        out = subprocess.run(["fastwalk", *args], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        keys = set(report)
        for nested in ("fit", "mass_within_radius", "mass_ratio"):
            if isinstance(report.get(nested), dict):
                keys |= set(report[nested]) - {"candidates", "rivals"}
        for listed in ("runs", "free_energy"):
            for row in report.get(listed, ()):
                keys |= set(row)
        return keys

    small = ["--walkers", "50", "--steps", "200", "--seed", "1", "-q"]
    for command in (["lattice", "--lines", "3", "--length", "5", *small, "--out", "l.h5"],
                    ["potential", "--lines", "2", "--a", "1", "--center", "0.5", "--box", "1",
                     "--temperature", "0.05", "--dt", "1e-3", *small, "--out", "p.h5"],
                    ["langevin", "--dim", "2", "--potential", "x0**2 + x1**2", "--method", "mala",
                     "--dt", "0.05", "--temperature", "0.1,0.01", *small, "--out", "g.h5"],
                    ["sphere", "--dim", "9", "--diffusion", "0.1", "--dt", "0.01", *small,
                     "--out", "s.h5"]):
        subprocess.run(["fastwalk", *command], cwd=tmp_path, env=env, check=True, timeout=300)
    missing = set()
    for args in (["stationary", "l.h5", "--json"], ["stationary", "p.h5", "--json"],
                 ["stationary", "g-T0.1.h5", "--json"], ["fit", "s.h5", "--json"],
                 ["llc", "g-T0.1.h5", "g-T0.01.h5", "--json"]):
        missing |= {key for key in fields(*args) if f"`{key}`" not in page and key != "file"}
    assert not missing, f"docs/outputs.md does not explain: {sorted(missing)}"


def help_examples() -> dict[str, list[str]]:
    """The example commands of each command's ``--help`` (the CLI reference's code blocks)."""
    sys.path.insert(0, str(DOCS / "_ext"))
    import clidoc

    pages = {}
    top, *sections = clidoc.cli_reference().split(".. _cli-")
    for section in ["fastwalk:" + top, *sections]:
        name = section.split(":", 1)[0]
        blocks = re.findall(r"\.\. code-block:: bash\n\n((?:   .*\n)+)", section)
        pages[name] = [line.strip() for block in blocks for line in block.splitlines()]
    return pages


@pytest.mark.slow  # ~100 s here: the examples are --help's own, at their printed sizes
def test_cli_reference_examples_run(tmp_path):
    """Each command's --help examples run as printed, in a fresh directory per command.

    An example that reads a file another command writes (``fastwalk fit sphere.h5``) runs
    after the example of the reference that writes it (``fastwalk sphere ... --out
    sphere.h5``). ``fastwalk demo`` is left to tests/test_demo.py (its own half-minute run).
    The graph example names the repository's ``data/example_graph.txt``, so that file is
    copied in: help examples, unlike the pages, may assume a clone.
    """
    pages = help_examples()
    writers = {}
    for examples in pages.values():
        for command in examples:
            target = re.search(r"--out (\S+\.h5)", command)
            if target and not command.startswith("fastwalk demo"):
                writers.setdefault(target[1], command)
    env, start, ran = environment(), time.perf_counter(), 0
    for name, examples in pages.items():
        folder = tmp_path / name
        (folder / "data").mkdir(parents=True)
        shutil.copy(ROOT / "data" / "example_graph.txt", folder / "data")
        for command in examples:
            if command.startswith("fastwalk demo"):
                continue
            needed = [writers[f] for f in re.findall(r"(\S+\.h5)", command)
                      if f in writers and writers[f] != command and not (folder / f).exists()
                      and f"--out {f}" not in command]
            for step in [*needed, command]:
                out = subprocess.run(["bash", "-c", "set -euo pipefail\n" + step], cwd=folder,
                                     env=env, capture_output=True, text=True, timeout=600)
                assert out.returncode == 0, f"fastwalk {name} --help: {step}\n{out.stderr[-2000:]}"
            ran += 1
    print(f"\n--help examples: {ran} in {time.perf_counter() - start:.1f} s")
    assert ran >= 15
