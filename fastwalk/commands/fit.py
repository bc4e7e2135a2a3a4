"""``fastwalk fit``: fit the ⟨cos θ⟩ decay law to a sphere run."""

from __future__ import annotations

import click

from fastwalk.commands._common import print_json_or_text


def fit_file(path) -> dict:
    """Fit exp(−rate·t) to FILE's ``mean_cos_theta`` and return the report."""
    from fastwalk.analysis.decay import fit_report
    from fastwalk.errors import MissingDataError
    from fastwalk.io.reader import Run

    with Run(path) as run:
        if not run.has_observable("mean_cos_theta"):
            raise MissingDataError(
                f"{path} is a {run.kind} run without mean_cos_theta; `fastwalk fit` fits sphere "
                "runs (for lattice, graph and potential runs use `fastwalk stationary`)"
            )
        mean = run.observable("mean_cos_theta")
        sem = run.observable("sem_cos_theta")
        report = fit_report(mean.time, mean.value, sem.value, run.parameters)
    return {"file": str(path), **report}


@click.command("fit", epilog="Example:\n\n  fastwalk fit sphere.h5 --json")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
def command(file, json_output):
    """Fit ⟨cos θ(t)⟩ = exp(−rate·t) to FILE and report D = rate·R²/n.

    Prints D, its standard error, the rate n·D/R² with its standard error, and
    the fit quality (chi²/dof), from a weighted fit on the linear scale.
    """
    report = fit_file(file)
    text = "\n".join(
        f"{k:<16} {v:.6g}" if isinstance(v, float) else f"{k:<16} {v}" for k, v in report.items()
    )
    print_json_or_text(report, json_output, text)
