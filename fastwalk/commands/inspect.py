"""``fastwalk inspect``: summarise a file."""

from __future__ import annotations

import click

from fastwalk.commands._common import print_json_or_text


def _text(summary: dict) -> str:
    lines = [
        f"file            {summary['path']}",
        f"model           {summary['kind']}  ({summary['status']}, fastwalk {summary['version']})",
        f"steps           {summary['committed_step']} committed of {summary['target_steps']}"
        if summary.get("commits", 1) else
        f"steps           nothing committed yet of {summary['target_steps']}",
        f"walkers         {summary['run'].get('walkers')}   seed {summary['seed']}",
        "parameters      " + ", ".join(f"{k}={v}" for k, v in summary["parameters"].items() if k != "kind"),
    ]
    frames = summary["frames"]
    if frames:
        lines.append(f"frames          {frames['name']} {frames['shape']}"
                     + (f" steps {frames['first_step']}..{frames['last_step']}" if frames["count"] else ""))
    else:
        lines.append("frames          none (run with --every K to record them)")
    for name, info in summary["observables"].items():
        lines.append(f"observable      {name:<18} {info['records']} records, shape {info['shape']}")
    if summary["accumulators"]:
        lines.append("accumulators    " + ", ".join(summary["accumulators"]))
    return "\n".join(lines)


@click.command("inspect", epilog="Example:\n\n  fastwalk inspect lines.h5 --json")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
def command(file, json_output):
    """Summarise FILE: model, parameters, seed, committed frames and observables."""
    from fastwalk.io.reader import Run

    with Run(file) as run:
        summary = run.summary()
    print_json_or_text(summary, json_output, _text(summary))
