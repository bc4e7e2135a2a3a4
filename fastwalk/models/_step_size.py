"""``dt="auto"`` for the Langevin model: a stability fraction (EM) or a pilot (MALA).

Both are deterministic functions of the model's parameters, the run's seed and
its burn-in, computed once before a run writes anything; the chosen dt is
recorded as the model's dt, with how it was chosen in ``dt_auto`` (DESIGN.md,
"dt = auto").

MALA's pilot adapts log √dt (MALA's proposal scale) by dual averaging
(Nesterov 2009, in the form of Hoffman & Gelman 2014, Algorithm 5, with their
constants γ = 0.05, t0 = 10, κ = 0.75 and μ = log(10·ε0)) toward an acceptance of
:data:`TARGET_ACCEPTANCE`, the optimum of Roberts & Rosenthal (1998) for MALA, and
caps it at 2/κ_typ, κ_typ the :data:`CURVATURE_QUANTILE` quantile of U_s's
largest curvature where the pilot's walkers went: an average acceptance is
dominated by the wide parts of a singular valley, and a dt tuned to it
overshoots (dt·κ >= 2) in the narrow parts, whose walkers then stick and whose
population stops exchanging with the rest (x0²·x1⁴ at T = 1e-3: dt = 29 from
the acceptance alone, λ̂ 8σ low). For a Gaussian the cap never binds: MALA's
acceptance reaches 0.574 at dt·κ ≈ 1.75, 1.2, 1.0 for d = 1, 2, 3.

A model may define ``_relax(state, step0, steps, accumulate, dt)`` (same arguments as
``_advance``) for the relaxation: the network model relaxes by unadjusted Langevin steps, since
MALA from a far start at a large β rejects nearly every move (DESIGN.md, "Networks and data").
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from fastwalk import rng, validate
from fastwalk.errors import SimulationError

#: MALA's target acceptance (Roberts & Rosenthal 1998: optimal as d → ∞; also what
#: devinterp and blackjax default to for MALA-type samplers)
TARGET_ACCEPTANCE = 0.574
#: EM's dt as a fraction of its stability limit 2/κ: for a quadratic of curvature κ the
#: discrete law's variance is 1/(1 − dt·κ/2) times the exact one, here 1/(1 − 0.05): +5.3 %
EM_FRACTION = 0.05
#: walkers of MALA's pilot (one SIMD tile; fixed, so dt does not depend on the run's walkers)
PILOT_WALKERS = 64
#: the shortest burn-in MALA's pilot accepts (a quarter of it adapts, a quarter relaxes)
MIN_AUTO_BURN_IN = 400
#: the noise step √(2T·dt) of EM's and the relaxation's dt is at most this fraction of the box side
NOISE_FRACTION = 0.05
#: MALA's dt never exceeds the dt whose noise step is the whole box side
#: (larger proposals only leave a reflecting box or wrap around a periodic one)
_LARGEST_NOISE = 1.0
#: the quantile of the pilot's curvatures that caps MALA's dt at 2/κ (module docstring)
CURVATURE_QUANTILE = 0.99
#: dual averaging's constants (Hoffman & Gelman 2014)
_GAMMA, _T0, _KAPPA = 0.05, 10.0, 0.75
#: adaptation rounds at most (each a few steps of every pilot walker)
_ROUNDS = 250


def noise_step_dt(model, fraction: float) -> float:
    """Return the dt whose noise step √(2T·dt) is ``fraction`` of the box side: (f·L)²/(2T).

    Parameters
    ----------
    model : fastwalk.models.base.Model
        A model with ``box_side`` and ``temperature`` (langevin, network).
    fraction : float
        Of the box side L.

    Returns
    -------
    float
        The time step.
    """
    return (fraction * model.box_side) ** 2 / (2.0 * model.temperature)


def _capped(model, inverse_curvature_fraction: float) -> tuple[float, float | None]:
    """Return (min(f/κ, noise-capped dt), κ), κ the curvature bound of U_s (None: unknown)."""
    kappa = model.curvature_bound()
    cap = noise_step_dt(model, NOISE_FRACTION)
    if kappa is None or not kappa > 0.0:
        return cap, kappa
    return min(inverse_curvature_fraction / kappa, cap), kappa


def euler_maruyama(model) -> dict:
    """Return EM's dt = min(EM_FRACTION·2/κ, (L/20)²/(2T)) and its record.

    Parameters
    ----------
    model : fastwalk.models.langevin.LangevinBrownian
        An EM model with ``dt="auto"``.

    Returns
    -------
    dict
        ``{"dt": float, "record": dict}``.
    """
    dt, kappa = _capped(model, EM_FRACTION * 2.0)
    return {"dt": dt, "record": {"rule": "stability", "fraction": EM_FRACTION,
                                 "max_curvature": kappa, "relax_dt": None, "relax_until": 0}}


def mala_pilot(model, seed: int, burn_in: int) -> dict:
    """Return MALA's dt from a pilot run (module docstring) and its record.

    Parameters
    ----------
    model : fastwalk.models.langevin.LangevinBrownian
        A MALA model with ``dt="auto"``.
    seed : int
        The run's seed (the pilot runs on ``rng.derive_seed(seed, "dt-pilot")``).
    burn_in : int
        The run's burn-in (>= :data:`MIN_AUTO_BURN_IN`).

    Returns
    -------
    dict
        ``{"dt": float, "record": dict}``.

    Raises
    ------
    ValueError
        If the burn-in is too short or a pilot walker became non-finite.
    """
    if burn_in < MIN_AUTO_BURN_IN:
        raise ValueError(f"dt 'auto' adapts MALA's step during the burn-in, which is {burn_in} steps; "
                         f"give a burn-in of at least {MIN_AUTO_BURN_IN} steps (--burn-in; a few "
                         "thousand is typical) or a numeric --dt")
    relax_dt, kappa = _capped(model, 1.0)
    pilot_seed = rng.derive_seed(seed, "dt-pilot")
    state = model.initial_state(rng.seed_states(pilot_seed, 0, PILOT_WALKERS))
    relax, adapt = burn_in // 4, burn_in // 4
    try:
        getattr(model, "_relax", model._advance)(state, -burn_in, relax, False, relax_dt)
        tuned, acceptance, visited = _dual_averaging(model, state, relax_dt, adapt)
    except SimulationError:
        raise ValueError("a walker of the dt 'auto' pilot became non-finite (the potential may not "
                         "confine, or be steep where the walkers go); give a numeric --dt") from None
    curvature = model.curvatures(visited)
    curvature = curvature[np.isfinite(curvature)]
    typical = (float(np.quantile(curvature, CURVATURE_QUANTILE)) + model.stiffness
               if curvature.size else None)
    dt = min(tuned, 2.0 / typical) if typical is not None and typical > 0.0 else tuned
    record = {"rule": "acceptance", "target_acceptance": TARGET_ACCEPTANCE,
              "acceptance_dt": tuned, "pilot_acceptance": acceptance,
              "typical_curvature": typical, "curvature_quantile": CURVATURE_QUANTILE,
              "pilot_seed": str(pilot_seed), "pilot_walkers": PILOT_WALKERS,
              "pilot_relax_steps": relax, "pilot_adapt_steps": adapt, "max_curvature": kappa,
              "relax_dt": min(relax_dt, dt), "relax_until": burn_in // 2 - burn_in}
    return {"dt": dt, "record": record}


def _dual_averaging(model, state: dict, dt0: float, steps: int) -> tuple[float, float, np.ndarray]:
    """Adapt dt toward TARGET_ACCEPTANCE over ``steps`` pilot steps.

    Returns the dt, the pilot's acceptance over the second half of its rounds,
    and the walkers' positions at the end of each of those rounds.
    """
    rounds = min(_ROUNDS, steps)
    per_round = steps // rounds
    log_eps0 = 0.5 * math.log(dt0)
    lowest, highest = log_eps0 - 20.0, 0.5 * math.log(noise_step_dt(model, _LARGEST_NOISE))
    mu = math.log(10.0) + log_eps0
    h_bar, log_eps, log_eps_bar = 0.0, min(log_eps0, highest), 0.0
    accepted_late = proposed_late = 0
    visited = []
    for t in range(1, rounds + 1):
        before = int(state["walker_accepted"].sum())
        model._advance(state, -1, per_round, True, math.exp(2.0 * log_eps))
        accepted = int(state["walker_accepted"].sum()) - before
        proposed = per_round * PILOT_WALKERS
        if 2 * t > rounds:
            accepted_late, proposed_late = accepted_late + accepted, proposed_late + proposed
            visited.append(state["position"].copy())
        weight = 1.0 / (t + _T0)
        h_bar = (1.0 - weight) * h_bar + weight * (TARGET_ACCEPTANCE - accepted / proposed)
        log_eps = min(max(mu - math.sqrt(t) / _GAMMA * h_bar, lowest), highest)
        eta = t ** -_KAPPA
        log_eps_bar = eta * log_eps + (1.0 - eta) * log_eps_bar
    return math.exp(2.0 * log_eps_bar), accepted_late / proposed_late, np.concatenate(visited)


def check_record(record) -> dict:
    """Return a recorded ``dt_auto`` after checking what :meth:`advance` reads from it.

    Parameters
    ----------
    record : dict
        A model's ``dt_auto`` as read from a file.

    Returns
    -------
    dict
        The record.

    Raises
    ------
    ValueError
        If it is not a dict, ``relax_dt`` is neither None nor a positive
        number, or ``relax_until`` is not an integer <= 0.
    """
    if not isinstance(record, dict):
        raise ValueError(f"dt_auto must be a dict, got {type(record).__name__}")
    relax_dt, until = record.get("relax_dt"), record.get("relax_until", 0)
    if relax_dt is not None:
        validate.real("dt_auto relax_dt", relax_dt, minimum=0.0, strict_min=True)
    if isinstance(until, bool) or not isinstance(until, (numbers.Integral, np.integer)) or until > 0:
        raise ValueError(f"dt_auto relax_until must be an integer <= 0, got {until!r}")
    return record
