"""``fastwalk sphere``: Brownian motion on the hypersphere S^n."""

from __future__ import annotations

import click

from fastwalk.commands._common import run_command, run_options
from fastwalk.commands._types import MOST_COORDINATES, Count, nonnegative, positive


@click.command("sphere", epilog=(
    "Example:\n\n  fastwalk sphere --dim 99 --radius 1 --diffusion 0.01 --dt 0.01 --method exact "
    "--walkers 10000 --steps 500 --out sphere.h5 && fastwalk fit sphere.h5\n\n"
    "S^n = {x in R^(n+1): |x| = R}; generator D·Δ; ⟨cos θ(t)⟩ = exp(−n D t / R²). "
    "Time = steps × dt. Observables: mean_cos_theta, sem_cos_theta, mean_chord, rms_chord."))
@click.option("--dim", "dim", type=Count(1, MOST_COORDINATES), default=2, show_default=True,
              help="Sphere dimension n (the sphere lives in R^(n+1)).")
@click.option("--radius", "-R", type=positive(), default=1.0, show_default=True, help="Radius R (length).")
@click.option("--diffusion", "-D", type=nonnegative(), default=0.1, show_default=True,
              help="Diffusion constant D (length²/time).")
@click.option("--dt", type=positive(), default=0.01, show_default=True, help="Time per step.")
@click.option("--method", type=click.Choice(["ring", "geodesic", "exact"]), default="exact",
              show_default=True,
              help="ring: fixed chord to a random point of the ring; geodesic: Gaussian tangent "
                   "step + exponential map; exact: the transition law itself.")
@click.option("--chord", type=positive(), default=None,
              help="ring only: chord δ in (0, 2R] [default: one step's ⟨cos θ⟩ = exp(−nDdt/R²)].")
@click.option("--start", type=click.Choice(["pole", "uniform"]), default="pole", show_default=True,
              help="All walkers at the pole, or each at its own uniform random point.")
@run_options
def command(**options):
    """Brownian motion on S^n of radius R; ⟨cos θ⟩ decays as exp(−n D t / R²)."""

    def build(dim, radius, diffusion, dt, method, chord, start):
        from fastwalk.models.sphere import SphereBrownian

        return SphereBrownian(dim, radius, diffusion, dt, method=method, chord=chord, start=start)

    run_command("sphere", build, options)
