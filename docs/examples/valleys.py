"""Brownian motion in two valleys that cross: the time spent near the crossing follows Boltzmann."""

import fastwalk as fw
from fastwalk.analysis.boltzmann import potential_report
from fastwalk.analysis.plots import run_figure

walkers = 2000
model = fw.PotentialBrownian(fw.Crossing.lines(2), a=1.0, center=0.5, box=1.0, temperature=0.05,
                             dt=1e-3, start="uniform")
run = fw.simulate(model, walkers, 10_000, seed=7, burn_in=3000)
report = potential_report(run.model, run.accumulators, walkers=walkers)
masses = report["mass_within_radius"]
print(f"mass within r={report['radius']:.3g} of the crossing: measured {masses['empirical']:.4f}, "
      f"Boltzmann {masses['boltzmann']:.4f}, two separate valleys {masses['regular']:.4f}")
print(f"total variation to Boltzmann {report['tv_boltzmann']:.4f} "
      f"(sampling floor {report['tv_floor']:.4f})")
run_figure(run).savefig("valleys.png", dpi=80)
