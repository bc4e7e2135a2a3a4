"""``fastwalk resume``: continue a stopped or killed run bit-identically."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from fastwalk.commands._common import check_dask, check_threads, dask_option, on_cluster, report_result
from fastwalk.commands._types import STEPS, THREADS


@click.command("resume", epilog="Example:\n\n  fastwalk resume lines.h5 --steps 200000")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--steps", type=STEPS, default=None,
              help="New total step count (at least the steps done) [default: the original target].")
@click.option("--threads", type=THREADS, default=None, help="Numba threads [default: all cores].")
@dask_option()
@click.option("--import-potential", is_flag=True,
              help="Import the module:function pair a Langevin run's file names as its potential "
                   "(only for a file you trust: importing runs that module's code).")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary.")
def command(file, steps, threads, dask, import_potential, json_output, quiet):
    """Continue FILE from its checkpoint (FILE.ckpt) to the original or a new total.

    The continuation is bit-identical to an uninterrupted run with the same
    parameters and seed. Record intervals stay those of the original run.
    A --dask run keeps its partitions (without --dask they run here, one
    after another).
    """
    if not Path(file).exists():
        raise click.UsageError(f"file {file} does not exist")
    if steps is not None and steps < 0:
        raise click.BadParameter(f"--steps must be >= 0, got {steps}", param_hint="'--steps'")
    check_threads(threads)
    check_dask(dask, threads)
    from fastwalk.api import resume

    progress = False if (quiet or json_output) else None
    result = on_cluster(dask, file, lambda client: resume(file, steps, threads=threads, progress=progress,
                                                          client=client, import_potential=import_potential))
    from fastwalk.io.reader import Run
    from fastwalk.models.base import trusting_imports

    with Run(file) as run, (trusting_imports() if import_potential else contextlib.nullcontext()):
        model = run.model
    report_result(result, model, as_json=json_output, quiet=quiet)
