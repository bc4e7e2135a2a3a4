"""``fastwalk lattice``: a simple random walk on a crossing of periodic lattices."""

from __future__ import annotations

import click

from fastwalk.commands._common import crossing_options, run_command, run_options
from fastwalk.commands._types import LAZY, Count


@click.command("lattice", epilog=(
    "Examples:\n\n"
    "  fastwalk lattice --lines 3 --length 9 --walkers 1000 --steps 100000 --out lines.h5\n\n"
    "  fastwalk lattice --dim 3 --pin 0 --pin 1 --length 100 --out planes.h5\n\n"
    "Time counts steps. Observables: visit_counts (cumulative over walkers, per node); "
    "/parameters/lattice/coords maps nodes to lattice coordinates."))
@crossing_options
@click.option("--length", "-L", type=Count(3, 2**40), required=True,
              help="Lattice length L (>= 3): each axis is the cycle Z_L, the center at 0.")
@click.option("--lazy", type=LAZY, default=0.0, show_default=True,
              help="Probability of staying put at each step (lazy walk), in [0, 1).")
@click.option("--start", type=Count(0, 2**62), default=None,
              help="Start node index [default: the crossing's center].")
@run_options
def command(**options):
    """Random walk on K periodic lattices glued at one point (or a --pin crossing).

    At a node the walker moves to one of its lattice neighbours on the crossing,
    chosen uniformly; the center of K lines has 2K neighbours. The stationary law
    is proportional to degree, so the center is visited K times as often as any
    other node.
    """

    def build(lines, dim, pin, length, lazy, start):
        from fastwalk.crossing import Crossing
        from fastwalk.models.lattice import LatticeWalk

        crossing = Crossing.from_options(lines, dim, pin)
        return LatticeWalk(crossing, length, lazy=lazy, start=start)

    run_command("lattice", build, options)
