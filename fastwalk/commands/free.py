"""``fastwalk free``: free Brownian motion in R^d (the engine's reference model)."""

from __future__ import annotations

import click

from fastwalk.commands._common import run_command, run_options
from fastwalk.commands._types import MOST_COORDINATES, Count, nonnegative, positive


@click.command("free", epilog=(
    "Example:\n\n  fastwalk free --dim 3 --diffusion 0.5 --dt 0.01 --walkers 10000 --steps 1000 "
    "--out free.h5\n\nObservables: msd (mean |x|², length²) and sem_msd."))
@click.option("--dim", type=Count(1, MOST_COORDINATES), default=2, show_default=True,
              help="Number of coordinates d.")
@click.option("--diffusion", type=nonnegative(), default=1.0, show_default=True,
              help="Diffusion constant D (length²/time); MSD = 2·d·D·t.")
@click.option("--dt", type=positive(), default=0.01, show_default=True, help="Time per step.")
@run_options
def command(**options):
    """Free Brownian motion in R^d from the origin, with exact Gaussian steps."""

    def build(dim, diffusion, dt):
        from fastwalk.models.free import FreeBrownian

        return FreeBrownian(dim, diffusion, dt)

    run_command("free", build, options)
