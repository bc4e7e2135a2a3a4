"""``fastwalk potential``: overdamped Brownian motion under a min-potential."""

from __future__ import annotations

import click

from fastwalk.commands._common import crossing_options, parse_floats, run_command, run_options
from fastwalk.commands._types import Count, nonnegative, positive


@click.command("potential", epilog=(
    "Example (the original notebook's two crossing valleys):\n\n"
    "  fastwalk potential --lines 2 --a 1 --center 0.5 --box 1 --temperature 0.05 --dt 1e-3 "
    "--walkers 2000 --steps 20000 --out valleys.h5\n\n"
    "Example (the regular case, an isolated quadratic minimum: Ornstein–Uhlenbeck):\n\n"
    "  fastwalk potential --dim 1 --pin 0 --a 1 --center 2 --box 4 --temperature 0.5 "
    "--dt 1e-2 --out ou.h5\n\n"
    "U(x) = a·min_k Σ_{j∈S_k} (x_j − b_j)² on the periodic box [0, Λ)^D (minimum-image "
    "differences); dX = −∇U dt + √(2T) dW by Euler–Maruyama. Time = steps × dt. "
    "Observables: mean_energy, sem_energy; histograms of the first two coordinates and "
    "1-D marginals as accumulators."))
@crossing_options
@click.option("--a", "a", type=positive(), default=1.0, show_default=True,
              help="Valley stiffness a (> 0), energy per length².")
@click.option("--center", type=str, default="0.5", show_default=True,
              help="Center b: one value for every coordinate, or D comma-separated values.")
@click.option("--box", type=positive(), default=1.0, show_default=True,
              help="Side Λ of the periodic box [0, Λ)^D (length).")
@click.option("--temperature", "-T", type=nonnegative(), default=0.05, show_default=True,
              help="Temperature T (>= 0), energy units; noise √(2T dt) per coordinate.")
@click.option("--dt", type=positive(), default=1e-3, show_default=True,
              help="Euler–Maruyama time step (0 < dt < 1/a for stable valleys).")
@click.option("--confine", type=nonnegative(), default=0.0, show_default=True,
              help="Strength of the optional periodic confining term (0 = off).")
@click.option("--start", type=click.Choice(["center", "uniform"]), default="center",
              show_default=True, help="Start at the center b or uniformly in the box.")
@click.option("--bins", type=Count(1, 1024), default=64, show_default=True,
              help="Histogram bins per coordinate.")
@run_options
def command(**options):
    """Brownian motion in the valleys of a·min_k Σ_{j∈S_k}(x_j − b_j)² on a periodic box."""

    def build(lines, dim, pin, a, center, box, temperature, dt, confine, start, bins):
        from fastwalk.crossing import Crossing
        from fastwalk.models.potential import PotentialBrownian

        crossing = Crossing.from_options(lines, dim, pin)
        return PotentialBrownian(crossing, a=a, center=parse_floats("--center", center), box=box,
                                 temperature=temperature, dt=dt, confine=confine, start=start,
                                 bins=bins)

    run_command("potential", build, options)
