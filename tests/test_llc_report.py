"""`fastwalk llc` reports: diagnostics, warnings, integrity of combined runs, the picture.

Every file here is a real langevin run (MALA or Euler–Maruyama) written by
:func:`fastwalk.simulate`; the CLI runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil

import h5py
import numpy as np
import pytest

from fastwalk.analysis.llc import llc_report
from fastwalk.api import simulate
from fastwalk.models.langevin import LangevinBrownian

BETAS = np.logspace(1.0, 3.0, 5)
REPORT_KEYS = {"lambda", "lambda_stderr", "multiplicity", "fit", "runs", "ess", "rhat",
               "free_energy", "heat_capacity", "singular_fluctuation", "wbic", "u_min", "local",
               "warnings"}
RUN_KEYS = {"file", "beta", "temperature", "mean_energy", "mean_energy_stderr", "lambda_hat",
            "lambda_hat_stderr", "walkers", "localize", "seed", "status", "steps_counted",
            "burn_in", "ess", "rhat", "diagnostics_method", "autocorrelation_steps", "acceptance",
            "outlying_walkers", "heat_capacity", "heat_capacity_stderr", "warnings"}


def _run(path, potential="x0**2 + x1**4", dim=2, *, temperature, seed, walkers=100, steps=2000,
         burn_in=2000, dt=0.2, method="mala", start="center", every=0, **options):
    model = LangevinBrownian(potential, dim, box=2.0, temperature=temperature, dt=dt,
                             method=method, start=start, **options)
    simulate(model, walkers, steps, out=path, seed=seed, burn_in=burn_in, every=every,
             observe_every=max(1, steps // 10), overwrite=True, progress=False)
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A healthy sweep of x0² + x1⁴ (λ = 3/4, m = 1), one seed per temperature."""
    folder = tmp_path_factory.mktemp("sweep")
    return [_run(folder / f"T{i}.h5", temperature=1 / b, seed=40 + i) for i, b in enumerate(BETAS)]


def test_healthy_sweep_reports_diagnostics_and_no_warning(sweep):
    report = llc_report(sweep)
    assert REPORT_KEYS <= set(report)
    assert all(RUN_KEYS <= set(run) for run in report["runs"])
    assert report["warnings"] == []
    assert report["multiplicity"] == 1
    # 5 independent runs of 100 walkers: λ within 4 standard errors
    assert abs(report["lambda"] - 0.75) <= 4 * report["lambda_stderr"]
    assert 1.0 <= report["rhat"] < 1.05
    # ESS at most the walker-steps (plus the estimator's noise) and far above the walkers
    assert 100 < report["ess"] < 1.2 * 100 * 2000
    for run in report["runs"]:
        assert run["acceptance"]["mean"] > 0.5
        assert run["outlying_walkers"] == []
        # heat capacity β²Var(U) → λ = 3/4 for this regular-times-quartic U (within 20 %)
        assert 0.6 < run["heat_capacity"] < 0.9


def test_frames_give_rank_normalised_split_rhat(tmp_path):
    from fastwalk.analysis.quadrature import BoltzmannQuadrature

    path = _run(tmp_path / "framed.h5", temperature=0.01, seed=3, every=20)
    run = llc_report([path])["runs"][0]
    assert run["diagnostics_method"].startswith("frames")
    assert 1.0 <= run["rhat"] < 1.05
    assert 100 < run["ess"] <= 1.1 * 100 * 2000 / 20
    # β²Var_β(U) from the frames, with its jackknife error over walkers, against quadrature
    q = BoltzmannQuadrature(lambda p: p[..., 0] ** 2 + p[..., 1] ** 4, [-1, -1], [1, 1])
    exact = 100.0**2 * q.energy_variance(100.0)
    assert abs(run["heat_capacity"] - exact) <= 4 * run["heat_capacity_stderr"], (run, exact)


def test_cli_json_and_text_carry_the_diagnostics(sweep, fastwalk_cli, tmp_path):
    out = fastwalk_cli.run("llc", *sweep, "--json")
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    assert REPORT_KEYS <= set(printed)
    picture = tmp_path / "llc.png"
    text = fastwalk_cli.run("llc", *sweep, "--multiplicity", "auto", "--plot", picture)
    assert text.returncode == 0 and "R-hat" in text.stdout and "ESS" in text.stdout
    assert picture.stat().st_size > 5000
    fixed = json.loads(fastwalk_cli.run("llc", *sweep, "--json", "--multiplicity", "3").stdout)
    assert fixed["multiplicity"] == 3
    for bad in ("0", "two", "-1"):
        refused = fastwalk_cli.run("llc", *sweep, "--multiplicity", bad)
        assert refused.returncode == 2 and "--multiplicity" in refused.stderr
        assert "Traceback" not in refused.stderr


def test_stuck_walkers_are_named(tmp_path, fastwalk_cli):
    """The README's old recipe (--start uniform --dt 0.5) at T = 1e-3: MALA rejects nearly every
    move of a walker on a steep start, and its time average stays orders of magnitude up."""
    path = _run(tmp_path / "stuck.h5", temperature=1e-3, seed=5, dt=0.5, start="uniform")
    report = llc_report([path])
    stuck = report["runs"][0]["outlying_walkers"]
    assert stuck
    assert any(f"walkers {stuck[0]}" in w for w in report["warnings"])
    assert any("R-hat" in w for w in report["warnings"])
    text = fastwalk_cli.run("llc", path)
    assert text.returncode == 0 and f"warning: {path}: " in text.stdout  # printed with the estimate
    as_json = fastwalk_cli.run("llc", path, "--json")
    assert json.loads(as_json.stdout)["warnings"] == report["warnings"]
    assert "stuck or outlying" in as_json.stderr


def test_euler_maruyama_bias_and_impossible_lambda_warn(tmp_path):
    """x0² with EM at dt = 0.45 reports 0.91 for λ = 0.5 (the factor 1/(1 − κdt/2) = 1.82)."""
    paths = [_run(tmp_path / f"em{i}.h5", "x0**2", 1, temperature=t, seed=5 + i, dt=0.45,
                  method="em") for i, t in enumerate([0.1, 0.05, 0.02])]
    report = llc_report(paths)
    # EM's stationary law on x0² (curvature 2): ⟨U⟩ too large by 1/(1 − dt) = 1.82 → λ̂ ≈ 0.909
    assert abs(report["lambda"] - 0.5 / (1 - 0.45)) <= 4 * report["lambda_stderr"]
    assert any("Euler–Maruyama" in w and "1.82" in w for w in report["warnings"])
    wrong = llc_report(paths, u_min=10.0)
    assert any("lies above ⟨U⟩" in w for w in wrong["warnings"])
    assert any("is negative" in w for w in wrong["warnings"])


def test_duplicates_are_counted_once(sweep, tmp_path):
    copy = tmp_path / "copy.h5"
    shutil.copyfile(sweep[0], copy)
    link = tmp_path / "link.h5"
    os.link(sweep[1], link)
    rerun = _run(tmp_path / "rerun.h5", temperature=1 / BETAS[2], seed=42)  # sweep[2]'s seed
    report = llc_report([*sweep, copy, link, sweep[3], rerun])
    assert len(report["runs"]) == len(sweep)
    assert report["lambda"] == llc_report(sweep)["lambda"]
    joined = "\n".join(report["warnings"])
    assert "same run id" in joined and "hard link" in joined and "same-seed rerun" in joined


def test_runs_differing_in_more_than_temperature_are_refused(sweep, tmp_path, fastwalk_cli):
    same = _run(tmp_path / "reordered.h5", "x1**4 + 1*x0**2", temperature=0.05, seed=9)
    assert len(llc_report([*sweep, same])["runs"]) == len(sweep) + 1  # algebraically equal
    with_params = _run(tmp_path / "a1.h5", "a*x0**2 + x1**4", temperature=0.05, seed=9,
                       params={"a": 1.0})
    assert len(llc_report([*sweep, with_params])["runs"]) == len(sweep) + 1
    others = {
        "potential ": _run(tmp_path / "a2.h5", "a*x0**2 + x1**4", temperature=0.05, seed=9,
                           params={"a": 2.0}),
        "potential": _run(tmp_path / "other.h5", "x0**2 + x1**2", temperature=0.05, seed=9),
        "localize": _run(tmp_path / "local.h5", temperature=0.05, seed=9, localize=1.0),
        "boundary": _run(tmp_path / "periodic.h5", temperature=0.05, seed=9, boundary="periodic"),
        "center": _run(tmp_path / "center.h5", temperature=0.05, seed=9, center=0.1,
                       start=[0.1, 0.1]),
    }
    for what, path in others.items():
        result = fastwalk_cli.run("llc", sweep[0], path)
        assert result.returncode == 2, (what, result.stderr)
        assert what.strip() in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_incomplete_runs_are_noted(sweep, tmp_path):
    cut = tmp_path / "cut.h5"
    shutil.copyfile(sweep[0], cut)
    with h5py.File(cut, "r+") as f:  # what a run stopped by SIGINT leaves behind
        f["fastwalk"].attrs["status"] = "interrupted"
        f["fastwalk"].attrs["run_id"] = "another"
    report = llc_report([cut, *sweep[1:]])
    assert any("incomplete" in w and "interrupted" in w for w in report["warnings"])


def test_local_run_takes_u_min_at_the_centre_of_the_localizer(tmp_path):
    path = _run(tmp_path / "local.h5", "x0**2 * x1**2", temperature=0.01, seed=2,
                localize=10.0, at=[0.5, 0.5], start=[0.5, 0.5])
    report = llc_report([path])
    assert report["local"] and report["u_min"] == pytest.approx(0.0625)
    assert llc_report([path], u_min=0.0)["u_min"] == 0.0


def test_wbic_is_the_mean_energy_at_one_over_log_n(sweep, tmp_path):
    """WBIC = ⟨U⟩ at β = 1/log n (Watanabe 2013): a run there, or between two that bracket it."""
    from fastwalk.analysis.quadrature import BoltzmannQuadrature

    outside = llc_report(sweep, sample_size=100)  # β = 0.217, the sweep covers 10 .. 1000
    assert outside["wbic"]["wbic"] is None and "outside" in outside["wbic"]["note"]
    hot = [_run(tmp_path / f"hot{n}.h5", temperature=float(np.log(n)), seed=n, walkers=400)
           for n in (50, 100)]
    exact = llc_report(hot, sample_size=100)
    at_100 = next(r for r in exact["runs"] if r["temperature"] == pytest.approx(np.log(100)))
    assert exact["wbic"]["wbic"] == pytest.approx(at_100["mean_energy"], rel=1e-12)
    middle = llc_report(hot, sample_size=70)["wbic"]
    q = BoltzmannQuadrature(lambda p: p[..., 0] ** 2 + p[..., 1] ** 4, [-1, -1], [1, 1])
    truth = q.mean_energy(1 / np.log(70))
    # linear interpolation in log β of the exact ⟨U⟩: its own error bounds the method's
    t = (np.log(1 / np.log(70)) - np.log(1 / np.log(50))) / (np.log(1 / np.log(100))
                                                            - np.log(1 / np.log(50)))
    interpolation = abs((1 - t) * q.mean_energy(1 / np.log(50)) + t * q.mean_energy(1 / np.log(100))
                        - truth)
    assert abs(middle["wbic"] - truth) <= 4 * middle["wbic_stderr"] + interpolation


def test_plot_stays_readable_with_one_huge_error_bar(sweep, tmp_path):
    from fastwalk.analysis.llc_plots import llc_figure, plot_llc

    report = llc_report(sweep)
    report["runs"][2]["lambda_hat"] += 50.0
    report["runs"][2]["lambda_hat_stderr"] = 1e3
    figure = llc_figure(report)
    top = figure.axes[0]
    low, high = top.get_ylim()
    assert high - low < 0.5  # the other points still fill the axis
    assert any("clipped" in t.get_text() for t in top.get_legend().get_texts())
    assert len(figure.axes) == 3
    assert plot_llc(report, tmp_path / "llc.png").stat().st_size > 5000


def test_few_walkers_warn_that_two_standard_errors_cover_less(tmp_path):
    path = _run(tmp_path / "few.h5", temperature=0.01, seed=8, walkers=10)
    warnings = llc_report([path])["warnings"]
    # Student t with 9 degrees of freedom: P(|t| <= 2) = 0.92
    assert any("only 10 walkers" in w and "92 %" in w for w in warnings)


def test_energy_still_relaxing_after_burn_in_warns(tmp_path):
    """No burn-in from uniform starts at T = 1e-3: the mean energy falls by 30× over the run."""
    path = _run(tmp_path / "short.h5", "x0**2 * x1**2", temperature=1e-3, seed=3, walkers=200,
                steps=4000, burn_in=0, dt=0.05, start="uniform")
    warnings = llc_report([path])["warnings"]
    assert any("still drifts" in w for w in warnings), warnings
    assert any("burn-in 0 steps" in w for w in warnings), warnings


def test_per_walker_acceptance_names_walkers_that_accept_nothing(sweep, tmp_path):
    """A file with the ``walker_accepted`` accumulator (MALA's accepted proposals per walker)."""
    path = tmp_path / "accepted.h5"
    shutil.copyfile(sweep[0], path)
    with h5py.File(path, "r+") as f:
        counts = f["fastwalk/accumulators/walker_energy_count"][()]
        accepted = (0.8 * counts).astype(np.int64)
        accepted[[3, 7]] = 0
        group = f["fastwalk/accumulators"]
        if "walker_accepted" in group:  # MALA runs record it; plant the two stuck walkers
            del group["walker_accepted"]
        group.create_dataset("walker_accepted", data=accepted)
    run = llc_report([path])["runs"][0]
    assert run["acceptance"]["stuck"] == [3, 7]
    assert run["acceptance"]["median"] == pytest.approx(0.8, abs=1e-3)
    assert 3 in run["outlying_walkers"] and 7 in run["outlying_walkers"]
    assert any("walkers 3, 7" in w for w in run["warnings"])
