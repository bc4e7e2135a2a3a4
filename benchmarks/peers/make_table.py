"""Run the peer benchmarks once; write the full table (docs/peers.md), its chart and the README summary.

Usage (from the repository root, with the ``peers`` extra installed)::

    python benchmarks/peers/make_table.py                 # run pytest benchmarks/peers, then write
    python benchmarks/peers/make_table.py --tests test_peer_graph.py   # run only these files
    python benchmarks/peers/make_table.py --results r.jsonl   # write from a finished run's results

Writes the full table between the ``<!-- peers-table -->`` markers of
docs/peers.md (``--page`` to choose another file), a one-line-per-job summary
between the ``<!-- peers-summary -->`` markers of README.md (``--readme``) and the
chart to ``benchmarks/peers/peers.png`` (``--chart``). Every figure of a job comes
from one run: CPU ns per step (all threads summed, i.e. per thread), best of
its repeats, with the range over repeats and the ratio to fastwalk's time on
the same job and thread count.

A job the run did not record (its benchmark file was not run) keeps its rows
from the table already on the page, marked ¹, ², ... with the run they come
from (named under the table's first line); ``--fresh`` drops them instead.
A peer that is not installed is a "skipped" row of the new run, never a kept one.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
START, END = "<!-- peers-table -->", "<!-- /peers-table -->"
SUMMARY = "<!-- peers-summary -->", "<!-- /peers-summary -->"
MARKS = "¹²³⁴⁵⁶⁷⁸⁹"
_KEPT = re.compile(r"^Jobs marked (\S+) were not re-run here: their rows are from the run of (.+)\.$")
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512vl", "avx512_fp16", "amx_tile")
PACKAGES = ("numba", "numpy", "python-igraph", "csrgraph", "graph-walker", "networkx", "torch",
            "torchsde", "jax", "diffrax", "sdeint", "geomstats", "devinterp")

sys.path.insert(0, str(HERE))
from peerlib import FASTWALK, OUT_VARIABLE, Result, load  # noqa: E402


def machine() -> str:
    """One line: CPU model, cores, vector extensions, memory, Python and the packages' versions."""
    model, flags = platform.processor() or "?", set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name") and model in ("?", "x86_64", ""):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vectors = ", ".join(flag.upper() for flag in VECTOR_FLAGS if flag in flags) or "?"
    if "avx512f" not in flags:
        vectors += " (no AVX-512)"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = []
    for package in ("fastwalk", *PACKAGES):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return (f"{model}, {os.cpu_count()} logical CPUs, {memory:.0f} GiB; vector extensions: "
            f"{vectors}. Python {platform.python_version()}; " + ", ".join(versions))


def run(path: str, tests=()) -> None:
    """Run the peer benchmarks once (or only the files ``tests``), appending results to ``path``."""
    env = dict(os.environ, **{OUT_VARIABLE: path})
    targets = [str(HERE / test) for test in tests] or [str(HERE)]
    command = [sys.executable, "-m", "pytest", *targets, "-s", "-q", "-p", "no:cacheprovider"]
    subprocess.run(command, cwd=ROOT, env=env, check=False)


def previous(page: Path) -> list[Result]:
    """The rows of the table now on ``page``, as results tagged with the run they come from."""
    body = page.read_text() if page.exists() else ""
    if START not in body or END not in body:
        return []
    lines = body.split(START, 1)[1].split(END, 1)[0].strip().splitlines()
    header = re.match(r"^Measured (.+)$", lines[0]) if lines else None
    if header is None:
        return []
    runs = {"": header.group(1)}
    results = []
    for line in lines[1:]:
        kept = _KEPT.match(line)
        if kept:
            runs[kept.group(1)] = kept.group(2)
        if not line.startswith("| ") or line.startswith(("| job ", "| ---")):
            continue
        job, tool, threads, cell, ratio, peak, note = line[2:-2].split(" | ", 6)
        job, _, mark = job.partition(" ")
        value, _, unit = cell.rpartition(" / ")
        samples = ([] if value == "skipped" else
                   [float(x) for x in re.findall(r"[-+0-9.e]+", value.replace("–", " "))])
        results.append(Result(job, tool, samples[0] if samples else None, unit,
                              int(threads), float(peak) if peak else None, note,
                              samples[1:] or samples[:1], run=runs.get(mark, runs[""]),
                              ratio=ratio))
    return results


def _ratio(result: Result, ours: dict) -> str:
    if result.run:
        return result.ratio
    base = ours.get((result.job, result.threads))
    if result.skipped or base is None or result.tool == FASTWALK:
        return ""
    return f"{result.ns_per_step / base:.3g}×"


def _cell(result: Result) -> str:
    if result.skipped:
        return "skipped"
    low, high = min(result.samples), max(result.samples)
    spread = f" ({low:.3g}–{high:.3g})" if high > low * 1.005 else ""
    return f"{result.ns_per_step:.3g}{spread}"


def _marks(results: list[Result]) -> dict[str, str]:
    """Earlier run -> its mark, in order of first appearance."""
    runs = list(dict.fromkeys(r.run for r in results if r.run))
    return {run: MARKS[i] for i, run in enumerate(runs)}


def table(results: list[Result], when: str) -> str:
    """The markdown table (and its header lines) of one run's results and the rows kept."""
    ours = {(r.job, r.threads): r.ns_per_step for r in results
            if r.tool == FASTWALK and not r.skipped}
    marks = _marks(results)
    lines = [f"Measured {when} on {machine()}", ""]
    for run, mark in marks.items():
        lines += [f"Jobs marked {mark} were not re-run here: their rows are from the run of "
                  f"{run}.", ""]
    lines += [
        "CPU ns per step (all threads summed: per thread), best of the repeats (range); "
        "× = the tool's time over fastwalk's on the same job and threads (higher: fastwalk "
        "faster); peak = resident memory the call added. The machine was shared with other "
        "jobs, which inflates every figure alike; ratios are from the same run.",
        "",
        "| job | tool | threads | ns per step (range) | × fastwalk | peak MiB | notes |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        peak = "" if result.peak_mib is None else f"{max(result.peak_mib, 0):.0f}"
        job = f"{result.job} {marks[result.run]}" if result.run else result.job
        lines.append(f"| {job} | {result.tool} | {result.threads} | {_cell(result)} "
                     f"/ {result.unit} | {_ratio(result, ours)} | {peak} | {result.note} |")
    return "\n".join(lines)


def chart(results: list[Result], path: Path, when: str) -> None:
    """Bar chart, log scale: ns per step of each tool (one thread) on each job."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jobs = defaultdict(list)
    for result in results:
        if not result.skipped and result.threads == 1:
            jobs[result.job].append(result)
    columns = 2
    rows = -(-len(jobs) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(12, 2.2 + 1.9 * rows), squeeze=False)
    for ax, (job, group) in zip(axes.flat, jobs.items(), strict=False):
        names = [r.tool for r in group]
        values = [r.ns_per_step for r in group]
        colors = ["tab:green" if r.tool.startswith(FASTWALK) else
                  "tab:gray" if r.tool.startswith("floor") else "tab:blue" for r in group]
        ax.barh(range(len(group)), values, color=colors)
        ax.set_yticks(range(len(group)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        unit = next((r.unit for r in group if r.tool == FASTWALK), group[0].unit)
        mark = _marks(results).get(group[0].run, "")
        ax.set_title(f"{job}{' ' + mark if mark else ''} (ns per {unit}, 1 thread)", fontsize=10)
        for i, value in enumerate(values):
            ax.text(value, i, f" {value:.3g}", va="center", fontsize=7)
    for ax in list(axes.flat)[len(jobs):]:
        ax.set_visible(False)
    kept = ", ".join(f"{mark}: run of {run.split(' on ')[0]}" for run, mark in
                     _marks(results).items())
    figure.suptitle(f"fastwalk and its peers, CPU ns per step, log scale ({when}"
                    f"{'; ' + kept if kept else ''})", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def summary(results: list[Result]) -> str:
    """One line per job: fastwalk's one-thread time and how many times longer the fastest peer takes."""
    lines = ["| job | fastwalk, 1 thread | fastest peer | × fastwalk |", "| --- | ---: | --- | ---: |"]
    jobs = defaultdict(list)
    for result in results:
        if not result.skipped and result.threads == 1:
            jobs[result.job].append(result)
    for job, group in jobs.items():
        ours = next((r for r in group if r.tool == FASTWALK), None)
        peers = [r for r in group if not r.tool.startswith((FASTWALK, "floor"))]
        if ours is None or not peers:
            continue
        best = min(peers, key=lambda r: r.ns_per_step)
        lines.append(f"| {job} | {ours.ns_per_step:.3g} ns / {ours.unit} | {best.tool} | "
                     f"{best.ns_per_step / ours.ns_per_step:.3g}× |")
    return "\n".join(lines)


def write_between(path: Path, markers: tuple[str, str], text: str) -> None:
    """Put ``text`` between ``markers`` in ``path`` (appending them if absent)."""
    body = path.read_text() if path.exists() else ""
    start, end = markers
    block = f"{start}\n{text}\n{end}"
    if start in body and end in body:
        head, rest = body.split(start, 1)
        body = head + block + rest.split(end, 1)[1]
    else:
        body = body.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(body)


def write_outputs(page: Path, readme: Path, text: str, results: list[Result], chart_path: Path) -> None:
    """The full table and the chart on ``page``; the summary and the chart in ``readme``."""
    image = os.path.relpath(chart_path, page.parent)
    write_between(page, (START, END), f"{text}\n\n![ns per step, fastwalk and its peers]({image})")
    image = os.path.relpath(chart_path, readme.parent)
    write_between(readme, SUMMARY, f"{summary(results)}\n\n![ns per step, fastwalk and its peers]({image})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", help="results of a finished run (JSON lines); default: run now")
    parser.add_argument("--page", default=str(ROOT / "docs" / "peers.md"),
                        help="the page that holds the full table (default docs/peers.md)")
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="the page of the summary")
    parser.add_argument("--chart", default=str(HERE / "peers.png"))
    parser.add_argument("--tests", nargs="+", default=(),
                        help="benchmark files (in benchmarks/peers) to run; default all")
    parser.add_argument("--fresh", action="store_true",
                        help="drop the page's rows of jobs this run did not record")
    args = parser.parse_args(argv)
    path = args.results
    if path is None:
        path = tempfile.mkstemp(suffix=".jsonl", prefix="peers-")[1]
        run(path, args.tests)
    results = load(path)
    if not results:
        print(f"no results in {path}", file=sys.stderr)
        return 1
    if not args.fresh:
        measured = {r.job for r in results}
        results += [r for r in previous(Path(args.page)) if r.job not in measured]
    when = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    when = when.strftime("%Y-%m-%d %H:%M UTC")
    chart(results, Path(args.chart), when)
    write_outputs(Path(args.page), Path(args.readme), table(results, when), results, Path(args.chart))
    print(f"wrote the table into {args.page}, the summary into {args.readme} and the chart "
          f"{args.chart} (results: {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
