"""Sphinx configuration for fastwalk's documentation.

Build: ``pip install ".[docs]" && sphinx-build -W --keep-going -b html docs docs/_build``.
The pictures and numbers of the tutorial and the guide come from running
``docs/examples/*.py`` at the start of every build (small runs, a few seconds each
once compiled); ``_ext/clidoc.py`` writes the command-line reference from the Click
commands, and :func:`check_model_table` checks docs/models.md against what each model
records. Every code block of the pages runs in CI through ``tests/test_docs.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import sys
import time
from pathlib import Path

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
]


def run_examples(app) -> None:
    """Run each example script in docs/_generated/, keeping its pictures and what it prints."""
    out = HERE / "_generated"
    out.mkdir(exist_ok=True)
    os.environ.setdefault("MPLBACKEND", "Agg")
    for script in sorted((HERE / "examples").glob("*.py")):
        start = time.perf_counter()
        printed = io.StringIO()
        cwd = Path.cwd()
        try:
            os.chdir(out)
            with contextlib.redirect_stdout(printed):
                runpy.run_path(str(script), run_name="__main__")
        finally:
            os.chdir(cwd)
        (out / f"{script.stem}.txt").write_text(printed.getvalue(), encoding="utf-8")
        print(f"docs/examples/{script.name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)


def check_model_table(app) -> None:
    """Fail the build when a model records an observable or accumulator models.md does not name."""
    import importlib

    from fastwalk.models import REGISTRY

    page = (HERE / "models.md").read_text(encoding="utf-8")
    missing = []
    for kind, where in REGISTRY.items():
        module, name = where.split(":")
        cls = getattr(importlib.import_module(module), name)
        models = cls.examples()[:1] or ([fastwalk.LangevinBrownian("x0**2 * x1**2", 2, method="mala")]
                                       if kind == "langevin" else [])
        for model in models:
            run = fastwalk.simulate(model, walkers=4, steps=4, seed=1, progress=False)
            for key in [*run.observables, *run.accumulators]:
                if f"`{key}`" not in page:
                    missing.append(f"{kind}: {key}")
    if missing:
        raise RuntimeError("docs/models.md does not describe: " + ", ".join(missing))


def setup(app):
    """Run the examples and check the model table before the pages are read."""
    app.connect("builder-inited", run_examples)
    app.connect("builder-inited", check_model_table)
