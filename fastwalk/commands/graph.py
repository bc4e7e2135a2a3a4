"""``fastwalk graph``: a random walk on a graph read from an edge list."""

from __future__ import annotations

import click

from fastwalk.commands._common import run_command, run_options
from fastwalk.commands._types import LAZY


@click.command("graph", epilog=(
    "Example:\n\n  fastwalk graph data/example_graph.txt --walkers 1000 --steps 10000 --out g.h5\n\n"
    "EDGELIST has one edge per line, 'u v' or 'u v weight' (positive weights; # comments). "
    "Node labels are kept in /parameters/graph/labels, in the order visit_counts uses."))
@click.argument("edgelist", type=click.Path(dir_okay=False))
@click.option("--lazy", type=LAZY, default=0.0, show_default=True,
              help="Probability of staying put at each step (lazy walk), in [0, 1).")
@click.option("--start", type=str, default=None,
              help="Start node label [default: the first node of the edge list].")
@run_options
def command(**options):
    """Random walk on the undirected (optionally weighted) graph in EDGELIST.

    The next node is a neighbour chosen with probability proportional to the edge
    weight; the stationary law is proportional to degree (strength when weighted).
    """
    from fastwalk.io.output import check_source

    try:
        check_source(options["edgelist"], "edge list")
    except (ValueError, FileNotFoundError) as exc:
        raise click.UsageError(str(exc)) from None

    def build(edgelist, lazy, start):
        from fastwalk.models.graph import GraphWalk

        return GraphWalk.from_edgelist(edgelist, lazy=lazy, start=start)

    run_command("graph", build, options)
