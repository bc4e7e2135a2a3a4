"""Issue 21 item 7: one run's walkers drawn: traces of the flagged walkers and the λ̂ histogram."""

from __future__ import annotations

import numpy as np

from fastwalk.analysis.llc import llc_report, walker_energies
from fastwalk.analysis.llc_plots import walker_traces_figure
from fastwalk.api import simulate
from fastwalk.io.reader import Run
from fastwalk.models.langevin import LangevinBrownian


def test_a_single_run_draws_its_stuck_walkers_traces(tmp_path, fastwalk_cli):
    # the README's old recipe: dt 0.5 from a uniform start at T = 1e-3 leaves walkers stuck
    model = LangevinBrownian("x0**2 * x1**4", 2, box=2.0, temperature=1e-3, dt=0.5, method="mala",
                             start="uniform")
    path = tmp_path / "stuck.h5"
    simulate(model, 100, 1000, out=path, seed=5, burn_in=1000, every=50, progress=False)
    run = llc_report([path])["runs"][0]
    flagged = run["outlying_walkers"]
    assert flagged, run["warnings"]
    with Run(path) as opened:
        steps, energies = walker_energies(opened, flagged[:2])
        # the traces are the walkers' own energies: U at the last frame of the positions
        last = opened.frames[len(opened.frames) - 1][flagged[:2]]
    np.testing.assert_allclose(energies[-1], model.energies_gradients(last)[0], rtol=1e-12)
    assert steps[0] == 0 and energies.shape == (len(steps), 2)
    figure = walker_traces_figure(run)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert any(f"walker {flagged[0]} (flagged)" == label for label in labels), labels
    picture = tmp_path / "traces.png"
    done = fastwalk_cli.run("llc", path, "--plot", picture, "--json")
    assert done.returncode == 0, done.stderr
    assert picture.stat().st_size > 1000


def test_without_frames_the_traces_panel_says_how_to_get_them(tmp_path):
    model = LangevinBrownian("x0**2", 1, box=2.0, temperature=0.1, dt=0.1, method="mala")
    path = tmp_path / "plain.h5"
    simulate(model, 50, 200, out=path, seed=1, burn_in=100, progress=False)
    figure = walker_traces_figure(llc_report([path])["runs"][0])
    assert "--every" in figure.axes[0].texts[0].get_text()
