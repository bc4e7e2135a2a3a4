"""Shared benchmark helpers: same-run timing and a ratio table.

Absolute times on shared 2-core machines are noise; the figures we report are
ratios measured in one run. Benchmarks call :func:`best_time` for the things
they compare and :func:`report` to add a row to the table printed at the end
(``pytest benchmarks -s`` or the terminal summary).
"""

from __future__ import annotations

import time

import pytest

_ROWS: list[tuple[str, str, float, str]] = []


def best_time(fn, *, repeat: int = 5, number: int = 1, setup=None) -> float:
    """Return the best wall time of ``number`` calls of ``fn`` over ``repeat`` tries (s).

    ``setup``, if given, is called untimed before each try (e.g. to delete an
    output file, whose removal is not part of what is measured).
    """
    if setup is not None:
        setup()
    fn()  # warm-up: JIT compilation and caches
    best = float("inf")
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def report(group: str, name: str, value: float, target: str = "") -> None:
    """Record a figure (a ratio or ns per step) for the end-of-run table."""
    _ROWS.append((group, name, value, target))


@pytest.fixture
def ratio_report():
    """Give a benchmark the :func:`report` function."""
    return report


def pytest_terminal_summary(terminalreporter):
    if not _ROWS:
        return
    terminalreporter.section("fastwalk figures (same-run ratios)")
    for group, name, value, target in _ROWS:
        terminalreporter.write_line(f"{group:<12} {name:<58} {value:>12.4g}  {target}")
