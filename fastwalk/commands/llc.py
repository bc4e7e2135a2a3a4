"""``fastwalk llc``: the learning coefficient λ and its multiplicity from Langevin runs."""

from __future__ import annotations

import click

from fastwalk.commands._common import picture_target, print_json_or_text, write_picture
from fastwalk.commands._types import Real

EPILOG = (
    "Example (a sweep, then the estimate):\n\n"
    "  fastwalk langevin --dim 2 --potential 'x0**2 * x1**2' --method mala --dt 0.05 "
    "--start uniform --temperature 0.3,0.1,0.03,0.01,3e-3,1e-3 --walkers 1000 "
    "--steps 40000 --burn-in 10000 --out sweep.h5\n\n"
    "  fastwalk llc sweep-T*.h5 --json\n\n"
    "One file gives λ̂(β) = β(⟨U⟩ − U_min) at its temperature; several temperatures give "
    "λ and m fitted to β⟨U⟩ = λ − (m − 1)/(log β + κ) [+ one power correction], and the "
    "free energy F(β) − F(β₀) by thermodynamic integration (β₀: the highest temperature)."
)


def _text(report: dict) -> str:
    lines = [f"lambda          {report['lambda']:.5g} ± {report['lambda_stderr']:.2g}"
             + ("   (local)" if report["local"] else ""),
             f"multiplicity    {report['multiplicity'] if report['multiplicity'] else '-'}"]
    if report["fit"] is None:
        lines.append("                (one temperature: lambda is λ̂(β); λ and m need a sweep)")
    fit = report["fit"]
    if fit is not None:
        extra = f"   kappa {fit['kappa']:.4g}" if fit["kappa"] is not None else ""
        if fit["power_correction"] is not None:
            pc = fit["power_correction"]
            extra += f"   power correction c {pc['c']:.3g}, delta {pc['delta']:.3g}"
        lines.append(f"fit             chi2 {fit['chi2']:.3g} / dof {fit['dof']}{extra}")
        for rival in fit["rivals"]:
            lines.append(f"rival model     m = {rival['multiplicity']}"
                         f"{' + power term' if rival['power_correction'] else ''}: lambda "
                         f"{rival['lambda']:.5g} ± {rival['lambda_stderr']:.2g} (the data do not "
                         "exclude it; --multiplicity fixes m)")
    lines.append(f"{'beta':>12} {'<U>':>12} {'± se':>10} {'lambda_hat':>11} {'± se':>9} "
                 f"{'F-F0':>10} {'± se':>9}  file")
    free = {f["beta"]: f for f in report["free_energy"]}
    for run in report["runs"]:
        f = free[run["beta"]]
        lines.append(f"{run['beta']:12.5g} {run['mean_energy']:12.5g} {run['mean_energy_stderr']:10.2g} "
                     f"{run['lambda_hat']:11.5g} {run['lambda_hat_stderr']:9.2g} "
                     f"{f['free_energy']:10.5g} {f['free_energy_stderr']:9.2g}  {run['file']}")
    return "\n".join(lines)


@click.command("llc", epilog=EPILOG)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--u-min", type=Real(), default=0.0, show_default=True,
              help="The minimum U_min of the potential; λ̂ = β(⟨U⟩ − U_min).")
@click.option("--multiplicity", type=click.IntRange(1, 2), default=None,
              help="Fix m instead of choosing it from the sweep.")
@click.option("--plot", "picture", type=click.Path(dir_okay=False), default=None,
              help="Also draw β⟨U⟩ against log β with the fitted curve to this picture (.png).")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
def command(files, u_min, multiplicity, picture, json_output):
    """Estimate the learning coefficient λ (and m) from langevin runs FILES.

    Per run: λ̂(β) with a standard error from the walker-to-walker spread of the
    walkers' time-averaged energies after burn-in (walkers are independent, so
    the correlation along each trajectory is inside that spread). Across
    temperatures: λ, m, and the free energy by thermodynamic integration.
    """
    from fastwalk.analysis.llc import llc_report

    if picture is not None:
        picture = picture_target(picture, overwrite=True, option="--plot")
    report = llc_report(files, u_min=u_min, multiplicity=multiplicity)
    if picture is not None:
        from fastwalk.analysis.llc_plots import plot_llc

        report["picture"] = str(write_picture(lambda: plot_llc(report, picture), picture))
    print_json_or_text(report, json_output, _text(report))
