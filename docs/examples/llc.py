"""λ and m from MALA temperature sweeps: x0²·x1² (λ = 1/2, m = 2) and x0²·x1⁴ (λ = 1/4, m = 1)."""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fastwalk as fw
from fastwalk.analysis.llc import llc_report, model_curve

temperatures = (0.1, 0.0464, 0.0215, 0.01, 4.64e-3, 2.15e-3, 1e-3, 4.64e-4, 2.15e-4, 1e-4)  # β = 10 .. 10⁴
cases = (("x0**2 * x1**2", 0.5, 2), ("x0**2 * x1**4", 0.25, 1))
figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
folder = Path(tempfile.mkdtemp())
for ax, (potential, exact, m) in zip(axes, cases, strict=True):
    paths = []
    for i, temperature in enumerate(temperatures):
        model = fw.LangevinBrownian(potential, 2, box=2.0, temperature=temperature, dt=0.1,
                                    method="mala", start="center")
        path = folder / f"{len(paths)}-{potential.count('4')}.h5"
        fw.simulate(model, walkers=300, steps=20_000, seed=1 + i, burn_in=100_000, out=path,
                    progress=False).close()
        paths.append(path)
    free = llc_report(paths)
    fixed = llc_report(paths, multiplicity=m)
    rivals = ", ".join(f"m = {r['multiplicity']}{' + power' if r['power_correction'] else ''}: "
                       f"{r['lambda']:.3f} ± {r['lambda_stderr']:.3f}" for r in free["fit"]["rivals"])
    print(f"{potential}: m chosen by the fit = {free['multiplicity']}, λ = {free['lambda']:.4f} "
          f"± {free['lambda_stderr']:.4f}; rivals: {rivals or 'none'}")
    print(f"{'':15} m = {m} fixed (theory): λ = {fixed['lambda']:.4f} ± {fixed['lambda_stderr']:.4f}"
          f" (exact {exact})")
    runs = fixed["runs"]
    log_beta = np.log([r["beta"] for r in runs])
    ax.errorbar(log_beta, [r["lambda_hat"] for r in runs], [r["lambda_hat_stderr"] for r in runs],
                fmt="o", capsize=3, label="λ̂(β) = β⟨U⟩ per run")
    grid = np.linspace(log_beta.min(), log_beta.max(), 200)
    fit = fixed["fit"]
    power = fit["power_correction"] or {"c": 0.0, "delta": 1.0}
    ax.plot(grid, model_curve(grid, fit["lambda"], m, fit["kappa"], power["c"], power["delta"]),
            label=f"fit, m = {m}: λ = {fixed['lambda']:.3f} ± {fixed['lambda_stderr']:.3f}")
    ax.axhline(exact, color="k", lw=1, ls="--", label=f"exact λ = {exact}")
    ax.set_title(potential.replace("**", "^").replace(" * ", "·"))
    ax.set_xlabel("log β")
    ax.legend(fontsize="small")
axes[0].set_ylabel("β ⟨U⟩")
figure.tight_layout()
figure.savefig("llc.png", dpi=80)
