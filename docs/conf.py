"""Sphinx configuration for fastwalk's documentation.

Build: ``pip install ".[docs]" && sphinx-build -W --keep-going -b html docs docs/_build``.
The tutorial's pictures and numbers come from running ``docs/examples/*.py``
at the start of every build (small runs, a few seconds each once compiled).
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
from pathlib import Path

import sys

import fastwalk

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "fastwalk"
author = "the fastwalk developers"
copyright = "the fastwalk developers"  # noqa: A001 - Sphinx's name
release = version = fastwalk.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "clidoc",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "examples", "_ext"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_member_order = "bysource"
html_theme = "alabaster"
html_static_path: list[str] = []
# types live in numpydoc's Parameters/Returns; signatures stay short and need no cross-reference
autodoc_typehints = "none"

# Every cross-reference must resolve (sphinx-build -n -W). Types of other packages are
# named, not linked: the build runs offline, so there is no intersphinx inventory.
nitpicky = True
nitpick_ignore_regex = [
    ("py:.*", r"(numpy|np|collections\.abc|pathlib|h5py|dask|distributed|scipy|sympy|numba|click"
              r"|matplotlib|networkx|os|typing)(\..*)?"),
    ("py:.*", r"(ndarray|array_like|array-like|optional|callable|iterable|sequence|mapping|path-like)"),
]


def run_examples(app) -> None:
    """Run each example script in docs/_generated/, keeping its pictures and what it prints."""
    out = HERE / "_generated"
    out.mkdir(exist_ok=True)
    os.environ.setdefault("MPLBACKEND", "Agg")
    for script in sorted((HERE / "examples").glob("*.py")):
        printed = io.StringIO()
        cwd = Path.cwd()
        try:
            os.chdir(out)
            with contextlib.redirect_stdout(printed):
                runpy.run_path(str(script), run_name="__main__")
        finally:
            os.chdir(cwd)
        (out / f"{script.stem}.txt").write_text(printed.getvalue(), encoding="utf-8")


def setup(app):
    """Run the examples before the pages are read."""
    app.connect("builder-inited", run_examples)
