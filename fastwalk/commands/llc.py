"""``fastwalk llc``: the learning coefficient λ and its multiplicity from Langevin runs."""

from __future__ import annotations

import click

from fastwalk.commands._common import picture_target, print_json_or_text, write_picture
from fastwalk.commands._types import Real

EPILOG = (
    "Example (a sweep over β = 10 .. 10⁴, then the estimate: λ = 1/4, m = 1):\n\n"
    "  fastwalk langevin --dim 2 --potential 'x0**2 * x1**4' --method mala --dt auto "
    "--start center --temperature 0.1,0.0464,0.0215,0.01,4.64e-3,2.15e-3,1e-3,4.64e-4,2.15e-4,1e-4 "
    "--walkers 300 --steps 20000 --burn-in 100000 --seed 1 --out sweep.h5\n\n"
    "  fastwalk llc sweep-T*.h5 --json\n\n"
    "One file gives λ̂(β) = β(⟨U⟩ − U_min) at its temperature; several temperatures give "
    "λ and m fitted to β⟨U⟩ = λ − P′(log β)/P(log β) [+ one power correction], P of degree "
    "m − 1, and the free energy F(β) − F(β₀) by thermodynamic integration (β₀: the highest "
    "temperature)."
)


def _multiplicity(ctx, param, value):
    """``auto`` (choose m) or an integer m >= 1."""
    if value is None or value.strip().lower() == "auto":
        return None
    try:
        m = int(value)
    except ValueError:
        m = 0
    if m < 1 or str(m) != value.strip():
        raise click.BadParameter(f"--multiplicity must be 'auto' or an integer >= 1, got {value!r}",
                                 param=param)
    return m


def _number(value, spec: str) -> str:
    """A number in ``spec``, "-" for none, a string ("inf") as it is."""
    if value is None:
        return "-"
    return value if isinstance(value, str) else format(value, spec)


def _polynomial(coefficients) -> str:
    """``L² + 3.93 L + 8.79`` from coefficients, highest power first."""
    degree = len(coefficients) - 1
    terms = []
    for k, c in enumerate(coefficients):
        power = degree - k
        variable = "" if power == 0 else "L" if power == 1 else f"L^{power}"
        number = "" if (c == 1 and power) else f"{abs(c):.4g}"
        sign = "-" if c < 0 else "+"
        terms.append((sign, f"{number} {variable}".strip()))
    text = " ".join(f"{sign} {term}" for sign, term in terms)
    return text[2:] if text.startswith("+ ") else text


def _text(report: dict) -> str:
    lines = [f"lambda          {report['lambda']:.5g} ± {report['lambda_stderr']:.2g}"
             + ("   (local)" if report["local"] else ""),
             f"multiplicity    {report['multiplicity'] if report['multiplicity'] else '-'}"]
    if report["fit"] is None:
        lines.append("                (one temperature: lambda is λ̂(β); λ and m need a sweep)")
    fit = report["fit"]
    if fit is not None:
        extra = ""
        if fit["multiplicity"] > 1:
            extra = "   P(L) = " + _polynomial(fit["polynomial"]) + ", L = log β"
        if fit["power_correction"] is not None:
            pc = fit["power_correction"]
            extra += f"   power correction c {pc['c']:.3g}, delta {pc['delta']:.3g}"
        lines.append(f"fit             chi2 {fit['chi2']:.3g} / dof {fit['dof']}{extra}")
        for rival in fit["rivals"]:
            lines.append(f"rival model     m = {rival['multiplicity']}"
                         f"{' + power term' if rival['power_correction'] else ''}: lambda "
                         f"{rival['lambda']:.5g} ± {rival['lambda_stderr']:.2g} (the data do not "
                         "exclude it; --multiplicity fixes m)")
    ess, rhat = report["ess"], report["rhat"]
    lines.append(f"diagnostics     u_min {report['u_min']:.6g}   smallest ESS {_number(ess, '.3g')}"
                 f"   largest R-hat {_number(rhat, '.4g')}")
    if report.get("wbic"):
        w = report["wbic"]
        value = "-" if w["wbic"] is None else f"{w['wbic']:.6g} ± {w['wbic_stderr']:.2g}"
        lines.append(f"WBIC            {value}   (n = {w['sample_size']}, β = 1/log n = "
                     f"{w['beta']:.4g}){'   ' + w['note'] if w.get('note') else ''}")
    lines.append(f"{'beta':>12} {'<U>':>12} {'± se':>10} {'lambda_hat':>11} {'± se':>9} "
                 f"{'F-F0':>10} {'± se':>9} {'ESS':>8} {'R-hat':>7}  file")
    free = {f["beta"]: f for f in report["free_energy"]}
    for run in report["runs"]:
        f = free[run["beta"]]
        ess, rhat = _number(run["ess"], ".3g"), _number(run["rhat"], ".4g")
        lines.append(f"{run['beta']:12.5g} {run['mean_energy']:12.5g} {run['mean_energy_stderr']:10.2g} "
                     f"{run['lambda_hat']:11.5g} {run['lambda_hat_stderr']:9.2g} "
                     f"{f['free_energy']:10.5g} {f['free_energy_stderr']:9.2g} {ess:>8} {rhat:>7}"
                     f"  {run['file']}")
    lines.extend(f"warning: {w}" for w in report["warnings"])
    return "\n".join(lines)


@click.command("llc", epilog=EPILOG)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--u-min", type=Real(), default=None,
              help="The minimum U_min of the potential; λ̂ = β(⟨U⟩ − U_min) [default: U(x*) for a "
                   "localized run (--localize), else 0].")
@click.option("--multiplicity", callback=_multiplicity, default=None, metavar="auto|M",
              help="Fix m (an integer >= 1) instead of choosing it from the sweep by AICc "
                   "[default: auto, m = 1 .. dimension].")
@click.option("--sample-size", type=click.IntRange(min=2), default=None,
              help="n, when U is a total loss nL_n of n data: also report WBIC = ⟨U⟩ at "
                   "β = 1/log n (the sweep must bracket that β).")
@click.option("--plot", "picture", type=click.Path(dir_okay=False), default=None,
              help="Also draw β⟨U⟩ against log β with the fit, its residuals and the free "
                   "energy to this picture (.png).")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object on stdout.")
def command(files, u_min, multiplicity, sample_size, picture, json_output):
    """Estimate the learning coefficient λ (and m) from langevin runs FILES.

    Per run: λ̂(β) with a standard error from the walker-to-walker spread of the
    walkers' time-averaged energies after burn-in (walkers are independent, so
    the correlation along each trajectory is inside that spread), its ESS,
    R-hat and stuck walkers. Across temperatures: λ, m (by AICc), the free
    energy by thermodynamic integration, and warnings for every estimate the
    diagnostics question (also in --json under "warnings").
    """
    from fastwalk.analysis.llc import llc_report

    if picture is not None:
        picture = picture_target(picture, overwrite=True, option="--plot")
    report = llc_report(files, u_min=u_min, multiplicity=multiplicity, sample_size=sample_size)
    if picture is not None:
        from fastwalk.analysis.llc_plots import plot_llc

        report["picture"] = str(write_picture(lambda: plot_llc(report, picture), picture))
    if json_output:
        for warning in report["warnings"]:
            click.echo(f"warning: {warning}", err=True)
    print_json_or_text(report, json_output, _text(report))
