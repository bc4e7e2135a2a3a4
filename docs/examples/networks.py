"""Reduced-rank regression linear:2-1-2, rank 0: a MALA sweep gives Aoyagi & Watanabe's λ = 1, m = 2.

The guide's command from Python, on the command line's seeds (temperature i of ``--seed 1``
runs on ``rng.derive_seed(1, "temperature", i)``).
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fastwalk as fw
from fastwalk.analysis.llc import curve_of, llc_report
from fastwalk.rng import derive_seed

folder = Path(tempfile.mkdtemp())
data = (np.sqrt(2) * np.eye(2), np.zeros((2, 2)))  # identity design, n = 2, no signal
temperatures = (0.2, 0.093, 0.043, 0.02, 0.0093, 0.0043, 0.002)
paths = []
for i, temperature in enumerate(temperatures):
    path = folder / f"rrr-{i}.h5"
    fw.sample_network("linear:2-1-2", data, temperature=temperature, walkers=200, steps=2000,
                      burn_in=10_000, seed=derive_seed(1, "temperature", i), out=path, dt=0.05,
                      method="mala", start="uniform", progress=False)
    paths.append(path)
report = llc_report(paths)
exact = fw.reduced_rank_regression(2, 1, 2, 0)
print(f"linear:2-1-2, rank 0: λ = {report['lambda']:.4f} ± {report['lambda_stderr']:.4f}, "
      f"m = {report['multiplicity']} (Aoyagi & Watanabe: λ = {exact['lambda_fraction']}, "
      f"m = {exact['multiplicity']}); warnings: {len(report['warnings'])}")

runs = report["runs"]
log_beta = np.log([r["beta"] for r in runs])
figure, ax = plt.subplots(figsize=(6, 3.8))
ax.errorbar(log_beta, [r["lambda_hat"] for r in runs], [2 * r["lambda_hat_stderr"] for r in runs],
            fmt="o", capsize=3, label="λ̂(β) = β⟨n·L_n⟩ (± 2 s.e.)")
grid = np.linspace(log_beta.min(), log_beta.max(), 200)
ax.plot(grid, curve_of(report["fit"], grid),
        label=f"fit: λ = {report['lambda']:.3f} ± {report['lambda_stderr']:.3f}, "
              f"m = {report['multiplicity']}")
ax.axhline(exact["lambda"], color="k", lw=1, ls="--", label="Aoyagi & Watanabe: λ = 1 (m = 2)")
ax.set_xlabel("log β")
ax.set_ylabel("β⟨U⟩")
ax.set_title("reduced-rank regression linear:2-1-2, rank 0")
ax.legend(fontsize="small")
figure.tight_layout()
figure.savefig("networks.png", dpi=80)
