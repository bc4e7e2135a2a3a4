"""λ and m from MALA sweeps with --dt auto (global: x0²·x1², x0²·x1⁴) and the local λ at x* = (0.5, 0).

The seeds are the command line's: the i-th temperature of ``--seed 1`` runs on
``rng.derive_seed(1, "temperature", i)``, so these numbers are the guide's commands' numbers.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fastwalk as fw
from fastwalk.analysis.llc import curve_of, llc_report
from fastwalk.rng import derive_seed

folder = Path(tempfile.mkdtemp())


def sweep(name, potential, temperatures, walkers, steps, burn_in, **options):
    """Run one MALA sweep with dt = auto on the CLI's seeds; return its llc report."""
    paths = []
    for i, temperature in enumerate(temperatures):
        model = fw.LangevinBrownian(potential, 2, box=2.0, temperature=temperature, dt="auto",
                                    method="mala", **options)
        path = folder / f"{name}-{i}.h5"
        fw.simulate(model, walkers=walkers, steps=steps, seed=derive_seed(1, "temperature", i),
                    burn_in=burn_in, out=path, progress=False).close()
        paths.append(path)
    return llc_report(paths)


def draw(ax, report, exact, title, fitted=None):
    """Plot a report's λ̂(β) with ±2 s.e., the fit of ``fitted`` (default: the same) and λ."""
    fitted = fitted or report
    runs = report["runs"]
    log_beta = np.log([r["beta"] for r in runs])
    ax.errorbar(log_beta, [r["lambda_hat"] for r in runs], [2 * r["lambda_hat_stderr"] for r in runs],
                fmt="o", capsize=3, label="λ̂(β) = β(⟨U⟩ − U_min) (± 2 s.e.)")
    fitted_log_beta = np.log([r["beta"] for r in fitted["runs"]])
    grid = np.linspace(fitted_log_beta.min(), fitted_log_beta.max(), 200)
    ax.plot(grid, curve_of(fitted["fit"], grid),
            label=f"fit: λ = {fitted['lambda']:.4f} ± {fitted['lambda_stderr']:.4f}, "
                  f"m = {fitted['multiplicity']}")
    ax.axhline(exact, color="k", lw=1, ls="--", label=f"exact λ = {exact}")
    ax.set_title(title)
    ax.set_xlabel("log β")
    ax.legend(fontsize="small")


def say(label, report):
    """Print λ, m and the warnings of a report."""
    warnings = "; ".join(report["warnings"]).replace(f"{folder}/", "") or "none"
    print(f"{label}: λ = {report['lambda']:.4f} ± {report['lambda_stderr']:.4f}, "
          f"m = {report['multiplicity']}; warnings: {warnings}")


figure, axes = plt.subplots(1, 3, figsize=(15, 4))
sweep10 = (0.1, 0.0464, 0.0215, 0.01, 4.64e-3, 2.15e-3, 1e-3, 4.64e-4, 2.15e-4, 1e-4)  # β = 10 .. 10⁴
for ax, (name, potential, exact) in zip(axes, (("square", "x0**2 * x1**2", 0.5),
                                               ("quartic", "x0**2 * x1**4", 0.25)), strict=False):
    report = sweep(name, potential, sweep10, walkers=300, steps=20_000, burn_in=100_000, start="center")
    say(f"global {potential}", report)
    draw(ax, report, exact, potential.replace("**", "^").replace(" * ", "·") + " (global)")
# local at a regular point of the valley x1 = 0: γ = 100, β = 10² (prior dominates) .. 10⁶
local_t = (1e-2, 1e-3, 1e-4, 3.16e-5, 1e-5, 3.16e-6, 1e-6)
report = sweep("local", "x0**2 * x1**2", local_t, walkers=400, steps=4000, burn_in=2000,
               start=(0.5, 0.0), localize=100.0, at=(0.5, 0.0))
for run in report["runs"]:
    print(f"local γ = 100, β = {run['beta']:9.0f}: "
          f"λ̂ = {run['lambda_hat']:.4f} ± {run['lambda_hat_stderr']:.4f}")
cold = llc_report([folder / f"local-{i}.h5" for i in range(2, len(local_t))])
say("local, β = 1e4 .. 1e6", cold)
draw(axes[2], report, 0.5, "x0²·x1² at x* = (0.5, 0), γ = 100 (local)", fitted=cold)
axes[2].text(0.03, 0.05, "β·2x0*² ≫ γ needed:\nat β = 100 the prior dominates", transform=axes[2].transAxes,
             fontsize="small")
axes[0].set_ylabel("β (⟨U⟩ − U_min)")
figure.tight_layout()
figure.savefig("llc.png", dpi=80)
