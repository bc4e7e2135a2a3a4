"""``fastwalk plot``: draw a run as a PNG picture."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("plot", epilog=(
    "Example:\n\n  fastwalk plot lines.h5 -o lines.png\n\n"
    "Lattices: circles sized by visits on the crossing's lines; graphs: empirical vs exact "
    "stationary law; potentials: landscape, empirical, Boltzmann and regular densities; "
    "spheres: ⟨cos θ⟩ with the fitted and exact laws, and the chordal displacements. "
    "Needs the plot extra: pip install 'fastwalk[plot]'."))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True,
              help="Picture to write (PNG).")
@click.option("--dpi", type=click.IntRange(20, 1200), default=120, show_default=True,
              help="Resolution in dots per inch.")
def command(file, output, dpi):
    """Draw FILE in the way that suits its model and write a PNG."""
    if not Path(file).exists():
        raise click.UsageError(f"file {file} does not exist")
    if not Path(output).parent.exists():
        raise click.UsageError(f"directory {Path(output).parent} for -o does not exist; create it first")
    from fastwalk.analysis.plots import plot_run
    from fastwalk.io.reader import Run

    with Run(file) as run:
        written = plot_run(run, output, dpi=dpi)
    click.echo(f"wrote {written}")
