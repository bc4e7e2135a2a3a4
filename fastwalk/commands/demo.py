"""``fastwalk demo``: the original notebook's three experiments, verified."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fastwalk.commands._types import SEED, THREADS


@click.command("demo", epilog="Example:\n\n  fastwalk demo --out demo/")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False), default="demo",
              show_default=True, help="Directory for the HDF5 files, pictures and table.")
@click.option("--seed", type=SEED, default=None, help="Base seed [default: the demo's fixed seed].")
@click.option("--no-pictures", is_flag=True, help="Skip the PNG pictures.")
@click.option("--threads", type=THREADS, default=None, help="Numba threads [default: all cores].")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
def command(out_dir, seed, no_pictures, threads, json_output):
    """Rerun the original notebook's experiments (lattices, crossing valleys, S^n) and verify them.

    Writes one HDF5 file and one picture per experiment into --out and prints
    a table of measured figures against predictions with standard errors. Exits
    1 if any check fails. About 40 s on two cores the first time (numba compiles the
    kernels into its cache), under 30 s after.
    """
    from fastwalk.commands._common import check_threads, print_json_or_text
    from fastwalk.demo import DEMO_SEED, format_table, run_demo

    check_threads(threads)
    if threads is not None:
        import numba

        numba.set_num_threads(threads)
    result = run_demo(out_dir, DEMO_SEED if seed is None else seed, pictures=not no_pictures)
    table = format_table(result)
    from fastwalk.io.output import check_target

    table_path = check_target(Path(out_dir) / "verification.txt", overwrite=True,
                              ours=lambda path: True)  # a regular file in the demo's directory
    table_path.write_text(table + "\n")
    print_json_or_text(result, json_output, table)
    sys.exit(0 if result["passed"] else 1)
