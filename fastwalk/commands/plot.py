"""``fastwalk plot``: draw a run as a PNG picture."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("plot", epilog=(
    "Example:\n\n  fastwalk plot lines.h5 -o lines.png\n\n"
    "Lattices: the original notebook's drawing, each line of the crossing through the center with circles "
    "of area proportional to visits (other crossings: visits over the degree law against the "
    "distance from the center); graphs: empirical vs exact stationary law per node; "
    "potentials: landscape, empirical, Boltzmann and regular densities of (x0, x1); spheres: "
    "⟨cos θ⟩ with the fitted and exact laws, and the mean and RMS chordal displacement with "
    "their stationary limits; other runs: observables against time. "
    "Needs the plot extra: pip install 'fastwalk[plot]'."))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True,
              help="Picture to write; its suffix picks the format (.png; .svg and .pdf work too).")
@click.option("--dpi", type=click.IntRange(20, 1200), default=120, show_default=True,
              help="Resolution in dots per inch.")
@click.option("--overwrite", is_flag=True, help="Replace an existing picture.")
def command(file, output, dpi, overwrite):
    """Draw FILE in the way that suits its model and write the picture."""
    from fastwalk.commands._common import picture_target, write_picture

    if not Path(file).exists():
        raise click.UsageError(f"file {file} does not exist")
    if Path(file).is_dir():
        raise click.UsageError(f"{file} is a directory, not a fastwalk file")
    out = picture_target(output, overwrite=overwrite, option="-o")
    from fastwalk.analysis.plots import plot_run
    from fastwalk.io.reader import Run

    with Run(file) as run:
        written = write_picture(lambda: plot_run(run, out, dpi=dpi), out)
    click.echo(f"wrote {written}")
