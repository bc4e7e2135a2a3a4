"""Tests of fastwalk.engine with the free Brownian reference model.

Statistical checks use a fixed seed and |z| < 4.5 with the exact standard error
of the quantity; each is paired with a wrong law that the same check rejects.
"""

from __future__ import annotations

import io
import math
import os
import signal
import sys
import threading
import time

import numba
import numpy as np
import pytest
from scipy import stats

from fastwalk import rng
from fastwalk.engine import MemorySink, Simulation, schedule_size
from fastwalk.errors import SimulationError
from fastwalk.models.base import Model
from fastwalk.models.free import FreeBrownian

SEED = 8675309
Z_MAX = 4.5


def _run(model, walkers, steps, **options):
    """Run a simulation into a fresh MemorySink; return (sink, simulation, result)."""
    sink = MemorySink()
    options.setdefault("seed", SEED)
    options.setdefault("progress", False)
    simulation = Simulation(model, walkers, steps, sinks=[sink], **options)
    result = simulation.run()
    return sink, simulation, result


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


class SpyModel(Model):
    """A model that only counts steps and logs how the engine calls it."""

    kind = "spy"

    def __init__(self, dt=0.25):
        self._dt = dt
        self.calls: list[tuple[int, int, bool]] = []

    @property
    def dt(self):
        return self._dt

    def parameters(self):
        return {"kind": self.kind, "dt": self._dt}

    @classmethod
    def from_parameters(cls, parameters, arrays):
        return cls(parameters["dt"])

    def box(self):
        return {"dimension": 1, "boundary": "none", "edges": None}

    def initial_state(self, rng_states):
        return {"rng": rng_states, "clock": np.zeros(rng_states.shape[0], dtype=np.int64)}

    def advance(self, state, first_step, steps, accumulate):
        self.calls.append((first_step, steps, accumulate))
        state["clock"] += steps

    def frame(self, state):
        return state["clock"]

    def observe(self, state):
        return {"clock": state["clock"].astype(float)}


# --------------------------------------------------------------------------- physics


def _msd_z(msd, dim, diffusion, time, walkers, law=1.0):
    """z-score of the sample MSD against ``law`` times 2·d·D·t.

    |x|²/(2Dt) is chi-square with d degrees of freedom (variance 2d), so the
    standard error of the mean over N walkers is 2Dt·√(2d/N).
    """
    expected = law * 2 * dim * diffusion * time
    return abs(msd - expected) / (2 * diffusion * time * math.sqrt(2 * dim / walkers))


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_free_msd_is_2_d_D_t(dim):
    diffusion, dt, walkers = 0.7, 0.02, 100_000
    # separate seeds make the tested times independent (records of one run are correlated)
    for offset, steps in enumerate([1, 7, 50]):
        model = FreeBrownian(dim=dim, diffusion=diffusion, dt=dt)
        sink, _, _ = _run(model, walkers, steps, seed=SEED + 10 * dim + offset,
                          observe_every=steps)
        assert sink.observable_steps == [0, steps]
        time = sink.observable_times[-1]
        assert time == steps * dt
        msd, sem = sink.series("msd")[-1], sink.series("sem_msd")[-1]
        assert _msd_z(msd, dim, diffusion, time, walkers) < Z_MAX
        # the reported standard error agrees with the exact one to a few percent
        assert sem == pytest.approx(2 * diffusion * time * math.sqrt(2 * dim / walkers), rel=0.05)
        # the same check rejects a 5% error and the law 2(d-1)Dt
        assert _msd_z(msd, dim, diffusion, time, walkers, law=1.05) > Z_MAX
        assert _msd_z(msd, dim, diffusion, time, walkers, law=(dim - 1) / dim) > Z_MAX


def test_free_displacement_law_is_chi_square():
    dim, diffusion, dt, steps, walkers = 3, 1.3, 0.01, 20, 200_000
    sink, _, _ = _run(FreeBrownian(dim, diffusion, dt), walkers, steps, every=steps)
    scaled = np.sum(sink.frames[-1] ** 2, axis=1) / (2 * diffusion * dt * steps)
    alpha = 2 * stats.norm.sf(5.0)
    assert stats.kstest(scaled, stats.chi2(dim).cdf).pvalue > alpha
    # a 2% error in the diffusion constant is rejected by the same test
    assert stats.kstest(scaled / 1.02, stats.chi2(dim).cdf).pvalue < alpha


def test_free_positions_match_numpy_reference_fed_the_same_numbers():
    dim, diffusion, dt, steps, walkers = 2, 0.3, 0.05, 40, 300
    sink, _, _ = _run(FreeBrownian(dim, diffusion, dt), walkers, steps, every=8, burn_in=5)
    normals = rng.draws(rng.seed_states(SEED, 0, walkers), (5 + steps) * dim, "normal")
    normals = normals.reshape(walkers, 5 + steps, dim)
    scale = math.sqrt(2 * diffusion * dt)
    position = np.zeros((walkers, dim))
    expected = {}
    for i in range(-5, steps):
        position += scale * normals[:, i + 5, :]
        expected[i + 1] = position.copy()
    assert sink.frame_steps == [0, 8, 16, 24, 32, 40]
    for step, frame in zip(sink.frame_steps, sink.frames, strict=True):
        np.testing.assert_allclose(frame, expected[step], rtol=1e-12, atol=1e-15)


def test_free_model_parameters_round_trip():
    model = FreeBrownian(dim=4, diffusion=0.5, dt=0.125)
    assert FreeBrownian.from_parameters(model.parameters(), model.parameter_arrays()) == model
    assert model != FreeBrownian(dim=4, diffusion=0.5, dt=0.25)
    assert model.box() == {"dimension": 4, "boundary": "none", "edges": None}
    assert "diffusion=0.5" in repr(model)


# --------------------------------------------------------------------------- reproducibility


def test_identical_with_one_and_two_threads(restore_threads):
    runs = [
        _run(FreeBrownian(2, 1.0, 0.01), 501, 60, every=20, observe_every=15, threads=threads)[0]
        for threads in (1, 2)
    ]
    for a, b in zip(runs[0].frames, runs[1].frames, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(runs[0].series("msd"), runs[1].series("msd"))


@pytest.mark.parametrize("split", [[500], [137, 600, 999]])
def test_identical_for_any_split_into_chunks(split):
    model = FreeBrownian(3, 0.4, 0.1)
    whole, _, _ = _run(model, 1000, 30, every=10, burn_in=3)
    edges = [0, *split, 1000]
    parts = [
        _run(model, hi - lo, 30, every=10, burn_in=3, first_walker=lo)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    for k, frame in enumerate(whole.frames):
        np.testing.assert_array_equal(frame, np.vstack([p[0].frames[k] for p in parts]))
    # the observables' additive sums combine across chunks
    sums = [model.observe(p[1].state) for p in parts]
    combined = {name: sum(s[name] for s in sums) for name in sums[0]}
    assert model.summarize(combined, 1000)["msd"] == pytest.approx(whole.series("msd")[-1],
                                                                   rel=1e-12)


def test_seed_none_is_resolved_reported_and_reproducible():
    model = FreeBrownian(2, 1.0, 0.01)
    simulation = Simulation(model, 50, 20, seed=None, every=5, sinks=[MemorySink()],
                            progress=False)
    other = Simulation(model, 50, 20, seed=None, progress=False)
    assert isinstance(simulation.seed, int) and 0 <= simulation.seed < 2**128
    assert simulation.seed != other.seed
    assert simulation.settings()["seed"] == str(simulation.seed)
    result = simulation.run()
    assert result.seed == simulation.seed
    again, _, _ = _run(model, 50, 20, every=5, seed=result.seed)
    for a, b in zip(simulation.sinks[0].frames, again.frames, strict=True):
        np.testing.assert_array_equal(a, b)
    different, _, _ = _run(model, 50, 20, every=5, seed=result.seed ^ 1)
    assert not np.array_equal(different.frames[-1], again.frames[-1])


# --------------------------------------------------------------------------- schedule


def test_record_schedule_and_bookkeeping():
    model = SpyModel(dt=0.25)
    sink, simulation, result = _run(model, 3, 23, every=5, observe_every=7, burn_in=4)
    assert sink.frame_steps == [0, 5, 10, 15, 20]
    assert sink.observable_steps == [0, 7, 14, 21, 23]
    assert sink.frame_times == [0.25 * s for s in sink.frame_steps]
    assert sink.observable_times == [0.25 * s for s in sink.observable_steps]
    # each record sees the state after burn-in + step steps, never a burn-in state
    assert [int(f[0]) for f in sink.frames] == [4 + s for s in sink.frame_steps]
    assert [float(c[0]) for c in sink.observed["clock"]] == [4 + s for s in sink.observable_steps]
    assert len(sink.frames) == schedule_size(23, 5)
    assert len(sink.observable_steps) == schedule_size(23, 7, include_last=True)
    assert (result.steps, result.target_steps, result.reason, result.signal) == (23, 23,
                                                                                "completed", None)
    assert simulation.step == 23 and sink.result is result and sink.commits[-1] == 23
    # calls tile [-4, 23) in order, burn-in calls do not accumulate and no call
    # crosses step 0 or a record
    position = -4
    records = set(sink.frame_steps) | set(sink.observable_steps)
    for first, steps, accumulate in model.calls:
        assert first == position and steps >= 1
        assert accumulate == (first >= 0)
        assert first >= 0 or first + steps <= 0
        assert not any(first < r < first + steps for r in records)
        position += steps
    assert position == 23


def test_schedule_without_frames_and_default_observe_every():
    sink, simulation, _ = _run(SpyModel(), 2, 1000)
    assert sink.frames == [] and simulation.every == 0
    assert simulation.observe_every == 5  # about 200 records
    assert sink.observable_steps == list(range(0, 1001, 5))
    sink, _, _ = _run(SpyModel(), 2, 0, every=3)
    assert sink.frame_steps == [0] and sink.observable_steps == [0]


def test_burn_in_is_not_recorded_and_continues_the_stream():
    model = FreeBrownian(2, 0.5, 0.1)
    burnt, _, _ = _run(model, 40, 10, every=1, burn_in=6)
    straight, _, _ = _run(model, 40, 16, every=1)
    assert burnt.frame_steps == list(range(11))
    for k, frame in enumerate(burnt.frames):
        np.testing.assert_array_equal(frame, straight.frames[k + 6])


# --------------------------------------------------------------------------- progress bar


def test_progress_is_off_when_stderr_is_not_a_terminal(capsys):
    _run(FreeBrownian(), 10, 50, progress=None)
    _run(FreeBrownian(), 10, 50, progress=False)
    assert capsys.readouterr().err == ""


class _FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("progress", [True, None])
def test_progress_shows_rate_and_eta(monkeypatch, progress):
    terminal = _FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _run(FreeBrownian(), 10, 50, progress=progress)
    text = terminal.getvalue()
    assert "step 50/50" in text and "100.0%" in text
    assert " walker-steps/s" in text
    assert "ETA" in text and text.endswith("\n")


def test_quiet_run_on_a_terminal_prints_nothing(monkeypatch):
    terminal = _FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _run(FreeBrownian(), 10, 50, progress=False)
    assert terminal.getvalue() == ""


# --------------------------------------------------------------------------- signals


class _SignalSink(MemorySink):
    """A MemorySink that sends the process a real signal when a given frame arrives."""

    def __init__(self, signum, at_step):
        super().__init__()
        self.signum, self.at_step = signum, at_step

    def frame(self, step, time, values):
        super().frame(step, time, values)
        if step == self.at_step:
            os.kill(os.getpid(), self.signum)


def _continue(model, walkers, steps, step, state, **options):
    sink = MemorySink()
    simulation = Simulation(model, walkers, steps, seed=SEED, sinks=[sink], progress=False,
                            **options)
    simulation.restore(step, state)
    return sink, simulation.run()


def _same_records(whole, *pieces):
    assert whole.frame_steps == sum((p.frame_steps for p in pieces), [])
    assert whole.observable_steps == sum((p.observable_steps for p in pieces), [])
    frames = [f for p in pieces for f in p.frames]
    for a, b in zip(whole.frames, frames, strict=True):
        np.testing.assert_array_equal(a, b)
    pieced = np.concatenate([p.series("msd") for p in pieces])
    np.testing.assert_array_equal(whole.series("msd"), pieced)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_at_the_next_boundary_and_resume_is_bit_identical(signum):
    model = FreeBrownian(2, 1.0, 0.01)
    options = {"every": 10, "observe_every": 4, "burn_in": 5}
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    sink = _SignalSink(signum, at_step=40)
    simulation = Simulation(model, 64, 100, seed=SEED, sinks=[sink], progress=False, **options)
    result = simulation.run()
    assert (result.reason, result.signal, result.steps) == ("interrupted", signum, 40)
    assert simulation.step == 40 and sink.commits[-1] == 40
    assert {s: signal.getsignal(s) for s in before} == before
    rest, finished = _continue(model, 64, 100, simulation.step, simulation.state, **options)
    assert finished.reason == "completed" and finished.steps == 100
    whole, _, _ = _run(model, 64, 100, **options)
    _same_records(whole, sink, rest)


class _SignalledFree(FreeBrownian):
    """Free Brownian motion that signals itself when a given step is first reached."""

    signal_at = -3

    def advance(self, state, first_step, steps, accumulate):
        super().advance(state, first_step, steps, accumulate)
        if first_step < self.signal_at <= first_step + steps:
            os.kill(os.getpid(), signal.SIGINT)


def test_signal_during_burn_in_then_resume():
    options = {"every": 3, "observe_every": 5, "burn_in": 8}
    sink = MemorySink()
    simulation = Simulation(_SignalledFree(1, 1.0, 0.1), 20, 12, seed=SEED, sinks=[sink],
                            progress=False, **options)
    result = simulation.run()
    assert result.reason == "interrupted" and -8 < simulation.step < 0
    assert sink.frames == [] and sink.observable_steps == []
    rest, _ = _continue(FreeBrownian(1, 1.0, 0.1), 20, 12, simulation.step, simulation.state,
                        **options)
    whole, _, _ = _run(FreeBrownian(1, 1.0, 0.1), 20, 12, **options)
    _same_records(whole, rest)


class _StartedSink(MemorySink):
    """Sets an event once the run is in its stepping loop (signal handlers installed)."""

    def __init__(self):
        super().__init__()
        self.stepping = threading.Event()

    def observables(self, step, time, values):
        super().observables(step, time, values)
        if step > 0:
            self.stepping.set()


def test_real_asynchronous_sigint_stops_a_long_run():
    model = FreeBrownian(1, 1.0, 0.01)
    options = {"observe_every": 1000, "call_seconds": 0.05}
    _run(model, 64, 2000, **options)  # compile before timing the signal
    sink = _StartedSink()
    simulation = Simulation(model, 64, 10**10, seed=SEED, sinks=[sink], progress=False,
                            **options)

    def interrupt():
        # once the run steps (measured, not assumed: a loaded machine may take long to start)
        if sink.stepping.wait(timeout=600):
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    timer = threading.Thread(target=interrupt, daemon=True)
    timer.start()
    result = simulation.run()
    timer.join()
    assert (result.reason, result.signal) == ("interrupted", signal.SIGINT)
    assert 0 < simulation.step < 10**10 and result.steps == simulation.step
    assert signal.getsignal(signal.SIGINT) is before
    # the stopped state is the state of an uninterrupted run of that length
    _, reference, _ = _run(model, 64, simulation.step, **options)
    np.testing.assert_array_equal(simulation.state["position"], reference.state["position"])
    # and continuing from it is bit-identical to running straight through
    target = simulation.step + 2500
    rest, _ = _continue(model, 64, target, simulation.step, simulation.state, **options)
    straight, _, _ = _run(model, 64, target, **options)
    tail = [k for k, s in enumerate(straight.observable_steps) if s > simulation.step]
    assert rest.observable_steps == [straight.observable_steps[k] for k in tail]
    np.testing.assert_array_equal(rest.series("msd"), straight.series("msd")[tail])


# --------------------------------------------------------------------------- failures


def test_non_finite_state_raises_naming_the_step():
    model = FreeBrownian(3, 1.0, 0.01)
    _, simulation, _ = _run(model, 30, 10)
    sink = MemorySink()
    continued = Simulation(model, 30, 20, seed=SEED, sinks=[sink], progress=False)
    continued.restore(10, simulation.state)
    continued.state["position"][7, 2] = np.nan  # not the first coordinate (restore refuses NaN)
    with pytest.raises(SimulationError, match=r"non-finite at step 11\b"):
        continued.run()
    assert sink.result.reason == "error"


def test_infinite_state_during_burn_in_names_the_negative_step():
    model = FreeBrownian(2, 1.0, 0.01)
    simulation = Simulation(model, 5, 10, seed=SEED, burn_in=8, progress=False)
    simulation.restore(-3, model.initial_state(rng.seed_states(SEED, 0, 5)))
    simulation.state["position"][4, 0] = np.inf
    with pytest.raises(SimulationError, match=r"step -2\b"):
        simulation.run()


class _PoisoningSink(MemorySink):
    """Writes NaN into the live positions when frame ``at_step`` is recorded."""

    def __init__(self, at_step):
        super().__init__()
        self.at_step = at_step

    def frame(self, step, time, values):
        super().frame(step, time, values)
        if step == self.at_step:
            values[3, 1] = np.nan


def test_nan_appearing_mid_run_is_reported_at_the_next_step():
    sink = _PoisoningSink(at_step=30)
    simulation = Simulation(FreeBrownian(2), 8, 100, seed=SEED, every=10, sinks=[sink],
                            progress=False)
    with pytest.raises(SimulationError, match=r"step 31\b"):
        simulation.run()
    assert sink.frame_steps == [0, 10, 20, 30]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "option, value, error, text",
    [
        ("walkers", 0, ValueError, r"walkers must be >= 1, got 0"),
        ("walkers", -3, ValueError, r"walkers must be >= 1, got -3"),
        ("walkers", 2.5, TypeError, r"walkers must be an integer >= 1, got 2.5"),
        ("walkers", "3", TypeError, r"walkers must be an integer >= 1, got '3'"),
        ("walkers", float("nan"), ValueError, r"walkers must be an integer >= 1, got nan"),
        ("steps", -1, ValueError, r"steps must be >= 0, got -1"),
        ("steps", 2.5, TypeError, r"steps must be an integer >= 0"),
        ("steps", float("inf"), ValueError, r"steps must be an integer >= 0, got inf"),
        ("every", -1, ValueError, r"every must be >= 0"),
        ("observe_every", 0, ValueError, r"observe_every must be >= 1"),
        ("burn_in", -2, ValueError, r"burn_in must be >= 0"),
        ("first_walker", -1, ValueError, r"first_walker must be >= 0"),
        ("threads", 0, ValueError, r"threads must be >= 1"),
        ("seed", -5, ValueError, r"seed must be in \[0, 2\*\*128\)"),
        ("seed", 2**128, ValueError, r"seed must be in \[0, 2\*\*128\)"),
        ("seed", 3.0, TypeError, r"seed must be an integer"),
        ("seed", False, TypeError, r"seed must be an integer"),
        ("call_seconds", 0.0, ValueError, r"call_seconds must be > 0"),
    ],
)
def test_bad_simulation_input_is_refused_before_any_step(option, value, error, text):
    model = SpyModel()
    arguments = {"walkers": 4, "steps": 10, option: value}
    walkers, steps = arguments.pop("walkers"), arguments.pop("steps")
    with pytest.raises(error, match=text):
        Simulation(model, walkers, steps, **arguments)
    assert model.calls == []


def test_model_must_be_a_model():
    with pytest.raises(TypeError, match="model must be a fastwalk Model, got dict"):
        Simulation({"kind": "free"}, 4, 10)


@pytest.mark.parametrize(
    "parameters, error, text",
    [
        ({"diffusion": float("nan")}, ValueError, r"diffusion must be a finite real number >= 0"),
        ({"diffusion": -1.0}, ValueError, r"diffusion must be >= 0, got -1"),
        ({"dt": float("inf")}, ValueError, r"dt must be a finite real number > 0, got inf"),
        ({"dt": 0.0}, ValueError, r"dt must be > 0, got 0"),
        ({"dt": "0.1"}, TypeError, r"dt must be a finite real number > 0, got '0.1'"),
        ({"dim": 0}, ValueError, r"dim must be >= 1, got 0"),
        ({"dim": 1.5}, TypeError, r"dim must be an integer >= 1, got 1.5"),
    ],
)
def test_bad_free_parameters_are_refused(parameters, error, text):
    with pytest.raises(error, match=text):
        FreeBrownian(**parameters)


def test_restore_refuses_bad_checkpoints():
    model = FreeBrownian(2)
    simulation = Simulation(model, 4, 10, seed=SEED, burn_in=2, progress=False)
    state = model.initial_state(rng.seed_states(SEED, 0, 4))
    with pytest.raises(ValueError, match=r"step must be <= 10, got 11"):
        simulation.restore(11, state)
    with pytest.raises(ValueError, match=r"step must be >= -2, got -3"):
        simulation.restore(-3, state)
    with pytest.raises(ValueError, match="its state holds 5 walkers, the run has 4"):
        simulation.restore(0, model.initial_state(rng.seed_states(SEED, 0, 5)))
