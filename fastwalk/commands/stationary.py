"""``fastwalk stationary``: compare a run's occupation with the exact stationary law."""

from __future__ import annotations

import inspect

import click

from fastwalk.commands._common import print_json_or_text
from fastwalk.commands._types import positive


def stationary_report(path, radius: float | None = None) -> dict:
    """Return the stationary-law comparison of a file whose model declares one."""
    from fastwalk.errors import MissingDataError
    from fastwalk.io.reader import Run
    from fastwalk.models import model_class, resolve

    with Run(path) as run:
        kind = run.kind
        model = model_class(kind)
        if model.stationary_report is None:
            raise MissingDataError(
                f"{path} is a {kind} run, whose model declares no stationary law to check"
                + (f"; {model.no_stationary_hint}" if model.no_stationary_hint else "")
            )
        report_of = resolve(model.stationary_report)
        if radius is not None and "radius" not in inspect.signature(report_of).parameters:
            raise click.UsageError(f"--radius {radius} would be ignored: {path} is a {kind} run, "
                                   "whose report has no radius (it sets the disk of potential runs' "
                                   "probability masses); drop it")
        check_visit_total(run)
        report = report_of(run, radius=radius)
        if not run.accumulators:
            raise MissingDataError(f"{path} holds no committed accumulators yet (no commit happened)")
    return {"file": str(path), "kind": kind, **report}


def check_visit_total(run) -> None:
    """Refuse visit counts that do not add up to walkers × committed steps (an edited file).

    Every walker adds one visit per step after burn-in, so the total is known exactly; counts
    that are not integers, or sum to anything else, would give a law and a p-value of data
    no run produced.

    Parameters
    ----------
    run : fastwalk.io.reader.Run
        The open file.

    Raises
    ------
    fastwalk.errors.FileFormatError
        Naming the total found and the one expected.
    """
    from fastwalk.errors import FileFormatError

    counts = run.accumulators.get("visit_counts")
    if counts is None:
        return
    expected = int(run.settings["walkers"]) * run.committed_step
    total = int(counts.astype(object).sum()) if counts.dtype.kind in "iu" else None
    if total != expected:
        found = f"sum to {total}" if total is not None else f"are {counts.dtype} numbers, not integers"
        raise FileFormatError(
            f"{run.path} is damaged: its visit_counts {found}, where walkers × committed steps = "
            f"{expected}; start the run again with --overwrite")


def _text(report: dict) -> str:
    lines = []
    for key, value in report.items():
        if isinstance(value, float):
            value = f"{value:.6g}"
        elif isinstance(value, (list, dict)) and len(str(value)) > 90:
            value = str(value)[:87] + "..."
        lines.append(f"{key:<28} {value}")
    return "\n".join(lines)


@click.command("stationary", epilog="Example:\n\n  fastwalk stationary lines.h5 --json")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--radius", type=positive(), default=None,
              help="potential runs: radius r around the center for the probability masses "
                   "[default: max(2·√(T/2a), 2 bin widths), twice a valley's thermal width].")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
def command(file, radius, json_output):
    """Compare FILE's occupation with the exact stationary law.

    Lattice and graph runs: the degree (strength) law, total variation distance,
    a chi-square p-value and the center-to-other visit ratio with its standard
    error. Potential runs: the Boltzmann law, the TV distance and its sampling
    floor, and the mass near the center (empirical, Boltzmann, regular).
    """
    report = stationary_report(file, radius)
    print_json_or_text(report, json_output, _text(report))
