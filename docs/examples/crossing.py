"""Walks on K lines crossing at one point: the crossing holds K times the mass of another node."""

import fastwalk as fw
from fastwalk.analysis.plots import run_figure
from fastwalk.analysis.stationary import walk_report

for k in (2, 3, 4):
    run = fw.simulate(fw.LatticeWalk(fw.Crossing.lines(k), length=9), walkers=1000, steps=10_000,
                      seed=k, burn_in=200)
    report = walk_report(run.model, run.accumulators)
    print(f"K={k}: center/other visits {report['center_ratio']:.3f} "
          f"± {report['center_ratio_se']:.3f} (stationary law: {k})")
run_figure(run).savefig("crossing.png", dpi=80)
