"""Brownian motion on the hypersphere S^n of radius R.

``S^n = {x ∈ R^(n+1) : |x| = R}``, ``dim`` is n, the generator is ``D·Δ``, so
``⟨cos θ(t)⟩ = exp(−n D t / R²)`` with ``cos θ = ⟨x_t, x_0⟩ / R²``. Every
method moves isotropically, so ``⟨cos θ⟩`` after k steps is exactly
``c^k`` with ``c = E[cos φ]`` of one step (:meth:`SphereBrownian.step_factor`).

Step methods (derivations in DESIGN.md, "Derivations: the sphere steps"):

``ring`` (the original notebook's walk)
    a fixed chord δ to a uniform point of the ring ``|x'| = R, |x' − x| = δ``
    (:func:`fastwalk.sphere_move.move_on_sphere`); by default δ gives the
    Brownian step factor, :func:`~fastwalk.models.sphere.default_chord`.
``geodesic``
    a Gaussian tangent step of variance ``2D·dt`` per tangent direction,
    mapped back by the exponential map; its bias vanishes linearly in dt.
``exact``
    the Brownian transition law itself at any dt (Mijatović, Mramor & Uribe
    Bravo 2020, Statist. Probab. Lett. 163): a lineage count A from
    :func:`fastwalk.models.lineage.lineage_distribution` at ``τ = 2D dt/R²``,
    then ``(1 − cos φ)/2 ~ Beta(n/2, n/2 + A)`` and a uniform tangent
    direction; the wrapped normal on the circle (n = 1).

Start: ``"pole"`` puts every walker at ``R·e_0``; ``"uniform"`` draws each
walker's own uniform point from its own stream before its first step, and
cos θ is measured from each walker's start (``state["start"]``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import prange

from fastwalk import rng, validate
from fastwalk._jit import jit, pjit
from fastwalk.models._kernels import (
    ExactSum,
    first_bad_step,
    mean_and_sem,
    raise_if_bad,
    rounded,
    squared_distances,
)
from fastwalk.models.base import Model
from fastwalk.models.lineage import draw_index, lineage_distribution
from fastwalk.sphere_laws import rms_chord_law, step_cos_factor
from fastwalk.sphere_move import move_on_sphere

__all__ = [
    "METHODS",
    "STARTS",
    "SphereBrownian",
    "default_chord",
]

#: step methods, see the module docstring
METHODS = ("ring", "geodesic", "exact")
#: start options
STARTS = ("pole", "uniform")
#: the geodesic method's (empty) lineage table
_NO_TABLE = np.zeros(0)


def default_chord(dim: int, radius: float, diffusion: float, dt: float) -> float:
    """Return the ring chord δ whose step factor is the Brownian one.

    Parameters
    ----------
    dim, radius, diffusion, dt
        Sphere dimension n, radius R, diffusion constant D and time per step,
        as for :func:`fastwalk.sphere_laws.step_cos_factor`.

    Returns
    -------
    float
        ``δ = R·sqrt(2(1 − exp(−n D dt/R²)))``, so that
        ``1 − δ²/(2R²) = exp(−n D dt/R²)``; in ``[0, √2·R)``.
    """
    # one ring step of this chord has the RMS displacement Brownian motion has at dt
    return float(rms_chord_law(dt, dim, radius, diffusion))


# ----------------------------------------------------------------------------
# Jitted draws and steps.


@jit(inline="always")
def _gamma(s, shape):
    """Return a Gamma(shape) variate, ``shape >= 1`` (Marsaglia & Tsang 2000)."""
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = rng.normal(s)
        cx = c * x
        if cx <= -1.0:
            continue
        w = cx * (3.0 + cx * (3.0 + cx))  # (1 + cx)³ − 1 without cancellation
        u = rng.uniform(s)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * (1.0 + w)
        if math.log(u) < 0.5 * x2 + d * (math.log1p(w) - w):
            return d * (1.0 + w)


# A geodesic or exact step of walker x (|x| = R up to rounding) with n+1
# normals g: the tangent vector is v = g − k x̃ with x̃ = q x the normalised
# position (q = R/|x|) and k = x̃·g/R², and the step is
#     x ← cos φ · x̃ + (R sin φ/|v|) · v = a·x + b·g,
#     a = (cos φ − b k) q,  b = R sin φ / |v|.
# Normalisation is folded into a (it corrects the current |x| each step, so
# rounding does not accumulate), and one pass over x per step both applies
# a step and draws the next step's normals. Every sum is taken in the same
# order whether or not a call ends between two steps, so results do not
# depend on how steps are split into calls; the stored position is the raw
# x, within a few ulp of the sphere.


@jit(inline="always")
def _first_draw(s, x, g):
    """Draw g; return (x·g, g·g, x·x) for the stored x."""
    x_dot_g = 0.0
    g_sq = 0.0
    x_sq = 0.0
    for j in range(x.shape[0]):
        xj = x[j]
        gj = rng.normal(s)
        g[j] = gj
        x_dot_g += xj * gj
        g_sq += gj * gj
        x_sq += xj * xj
    return x_dot_g, g_sq, x_sq


@jit(inline="always")
def _step_and_draw(s, x, g, a, b):
    """Set x ← a·x + b·g and draw the next g in the same pass; return the sums."""
    x_dot_g = 0.0
    g_sq = 0.0
    x_sq = 0.0
    for j in range(x.shape[0]):
        xj = a * x[j] + b * g[j]
        x[j] = xj
        gj = rng.normal(s)
        g[j] = gj
        x_dot_g += xj * gj
        g_sq += gj * gj
        x_sq += xj * xj
    return x_dot_g, g_sq, x_sq


@jit(inline="always")
def _last_step(x, g, a, b):
    """Set x ← a·x + b·g; return |x|²."""
    x_sq = 0.0
    for j in range(x.shape[0]):
        xj = a * x[j] + b * g[j]
        x[j] = xj
        x_sq += xj * xj
    return x_sq


@jit(inline="always")
def _tangent(x, g, x_dot_g, g_sq, x_sq, radius):
    """Return (q, k, |v|²) for the stored x and normals g (see the comment above)."""
    q = radius / math.sqrt(x_sq)
    k = q * x_dot_g / (radius * radius)
    v_sq = g_sq - q * x_dot_g * k
    if v_sq < 0.5 * g_sq:  # g nearly radial: recompute |g − k q x|² without cancellation
        v_sq = 0.0
        kq = k * q
        for j in range(x.shape[0]):
            d = g[j] - kq * x[j]
            v_sq += d * d
    return q, k, v_sq


@jit(inline="always")
def _coefficients(x, g, x_dot_g, g_sq, x_sq, radius, root_tau, exact, cos_phi, sin_phi):
    """Return (a, b) of a step along v: by the drawn angle φ (exact), else by sqrt(τ)|v|."""
    q, k, v_sq = _tangent(x, g, x_dot_g, g_sq, x_sq, radius)
    v_norm = math.sqrt(v_sq)
    if not exact:  # geodesic: the angle is the tangent vector's length
        angle = root_tau * v_norm
        cos_phi, sin_phi = math.cos(angle), math.sin(angle)
    b = radius * sin_phi / v_norm if v_norm > 0.0 else 0.0
    return (cos_phi - b * k) * q, b


@jit(inline="always")
def _exact_angle(s, half_dim, first, cdf):
    """Draw (cos φ, sin φ) of Brownian motion on S^n over one step (n >= 2).

    A = first + (inversion of the lineage table), then with G₁ ~ Gamma(n/2),
    G₂ ~ Gamma(n/2 + A): (1 − cos φ)/2 = G₁/(G₁+G₂) ~ Beta(n/2, n/2 + A).
    """
    lineages = first + draw_index(s, cdf)
    g1 = _gamma(s, half_dim)
    g2 = _gamma(s, half_dim + lineages)
    total = g1 + g2
    return (g2 - g1) / total, 2.0 * math.sqrt(g1 * g2) / total


@jit(inline="always")
def _rescale(norm_sq, r_sq, radius):
    """Return c with x − x·c on the sphere: c = (|x|² − R²)/(|x|(|x| + R))."""
    norm = math.sqrt(norm_sq)
    return (norm_sq - r_sq) / (norm * (norm + radius))


@jit(inline="always")
def _apply_rescale(x, rescale):
    for j in range(x.shape[0]):
        x[j] = x[j] - x[j] * rescale


@pjit
def _advance_tangent(positions, states, steps, radius, root_tau, half_dim, first, cdf):
    """Geodesic or exact step of S^n, n >= 2, by n+1 normals and an angle along them.

    Geodesic (``cdf`` empty): a Gaussian tangent step of s.d. sqrt(τ)·R mapped back by the
    exponential map. Exact: each step first draws its angle (uniform, two gammas; a Beta
    mixture over the lineage count of the table ``first, cdf``), then its n+1 normals.
    Returns the first (relative) step at which a walker became non-finite, or -1.
    """
    walkers, size = positions.shape
    exact = cdf.shape[0] > 0
    bad = np.full(walkers, -1, dtype=np.int64)
    active = walkers if steps > 0 else 0  # no draws at all for zero steps
    for w in prange(active):
        s = states[w]
        x = positions[w]
        g = np.empty(size)
        cos_phi, sin_phi = _exact_angle(s, half_dim, first, cdf) if exact else (1.0, 0.0)
        x_dot_g, g_sq, x_sq = _first_draw(s, x, g)
        for step in range(steps):
            if not math.isfinite(x_sq + x_dot_g):
                bad[w] = step
                break
            a, b = _coefficients(x, g, x_dot_g, g_sq, x_sq, radius, root_tau, exact,
                                 cos_phi, sin_phi)
            if step + 1 < steps:
                if exact:
                    cos_phi, sin_phi = _exact_angle(s, half_dim, first, cdf)
                x_dot_g, g_sq, x_sq = _step_and_draw(s, x, g, a, b)
            elif not math.isfinite(_last_step(x, g, a, b)):
                bad[w] = step
    return first_bad_step(bad)


@pjit
def _advance_circle(positions, states, steps, root_tau, radius):
    """Exact Brownian motion on the circle: wrapped-normal angle increments."""
    walkers = positions.shape[0]
    r_sq = radius * radius
    bad = np.full(walkers, -1, dtype=np.int64)
    for w in prange(walkers):
        s = states[w]
        x0 = positions[w, 0]
        x1 = positions[w, 1]
        for step in range(steps):
            angle = root_tau * rng.normal(s)
            c = math.cos(angle)
            sn = math.sin(angle)
            y0 = c * x0 - sn * x1
            y1 = sn * x0 + c * x1
            norm_sq = y0 * y0 + y1 * y1
            if not math.isfinite(norm_sq):
                bad[w] = step
                break
            fix = _rescale(norm_sq, r_sq, radius)
            x0 = y0 - y0 * fix
            x1 = y1 - y1 * fix
        positions[w, 0] = x0
        positions[w, 1] = x1
    return first_bad_step(bad)


@pjit
def _advance_ring(positions, states, steps, chord):
    """Run the original notebook's ring walk: every step a fixed chord to a uniform point of the ring."""
    walkers, size = positions.shape
    bad = np.full(walkers, -1, dtype=np.int64)
    for w in prange(walkers):
        s = states[w]
        x = positions[w]
        scratch = np.empty(size)
        for step in range(steps):
            move_on_sphere(s, x, chord, scratch)
            if not math.isfinite(x[0]):
                bad[w] = step
                break
    return first_bad_step(bad)


@pjit
def _uniform_points(positions, states, radius):
    """Put each walker at a uniform point of the sphere, drawn from its own stream."""
    walkers, size = positions.shape
    r_sq = radius * radius
    for w in prange(walkers):
        s = states[w]
        x = positions[w]
        total = 0.0
        while total == 0.0:
            total = 0.0
            for j in range(size):
                gj = rng.normal(s)
                x[j] = gj
                total += gj * gj
        scale = radius / math.sqrt(total)
        norm_sq = 0.0
        for j in range(size):
            x[j] *= scale
            norm_sq += x[j] * x[j]
        _apply_rescale(x, _rescale(norm_sq, r_sq, radius))


# ----------------------------------------------------------------------------
# The model.


class SphereBrownian(Model):
    """Brownian motion (or the original notebook's ring walk) on ``S^n`` of radius R.

    Parameters
    ----------
    dim : int
        Sphere dimension n (>= 1); positions live in ``R^(n+1)``.
    radius : float
        Radius R (> 0).
    diffusion : float
        Diffusion constant D (>= 0), generator ``D·Δ``.
    dt : float
        Time per step (> 0).
    method : {"geodesic", "exact", "ring"}, optional
        Step method (see the module docstring).
    chord : float, optional
        ``ring`` only: the chord δ of every step, in ``(0, 2R]``. Default:
        :func:`~fastwalk.models.sphere.default_chord`, the δ whose step factor is ``exp(−n D dt/R²)``.
    start : {"pole", "uniform"}, optional
        All walkers at ``R·e_0``, or each at its own uniform random point.

    Raises
    ------
    ValueError
        For ``dim < 1``, ``radius <= 0``, ``diffusion < 0``, ``dt <= 0``, a
        chord outside ``(0, 2R]`` or with a method other than ring, an
        unknown method or start.
    TypeError
        For non-numeric parameters.

    Examples
    --------
    >>> import fastwalk as fw
    >>> model = fw.SphereBrownian(99, radius=1.0, diffusion=0.01, dt=0.01, method="exact")
    >>> run = fw.simulate(model, walkers=100, steps=100, seed=1, observe_every=50)
    >>> cos = run.observable("mean_cos_theta")
    >>> cos.step.tolist(), float(cos.value[0])     # every walker starts at the pole
    ([0, 50, 100], 1.0)
    """

    kind = "sphere"
    frame_name = "position"
    picture = "fastwalk.analysis.sphere_plots:sphere_run_figure"
    no_stationary_hint = "for sphere runs use `fastwalk fit`"

    def __init__(
        self,
        dim: int,
        radius: float = 1.0,
        diffusion: float = 1.0,
        dt: float = 0.01,
        method: str = "geodesic",
        chord: float | None = None,
        start: str = "pole",
    ):
        self.dim = validate.integer("dim", dim, minimum=1)
        self.radius = validate.real("radius", radius, minimum=0.0, strict_min=True)
        self.diffusion = validate.real("diffusion", diffusion, minimum=0.0)
        self._dt = validate.real("dt", dt, minimum=0.0, strict_min=True)
        self.method = validate.choice("method", method, METHODS)
        self.start = validate.choice("start", start, STARTS)
        if chord is not None:
            if self.method != "ring":
                raise ValueError(
                    f"chord applies only to method='ring', got chord={chord!r} with "
                    f"method={self.method!r}; drop the chord or use method='ring'"
                )
            chord = validate.real("chord", chord, minimum=0.0, strict_min=True,
                                  maximum=2.0 * self.radius)
        self.chord = chord
        #: the chord every ring step moves (None for the other methods)
        self.step_chord = None
        if self.method == "ring":
            self.step_chord = chord if chord is not None else default_chord(
                self.dim, self.radius, self.diffusion, self._dt)
        #: standard time per step, τ = 2 D dt / R²
        self.tau = 2.0 * self.diffusion * self._dt / self.radius**2
        if not math.isfinite(self.tau):
            raise ValueError(f"2·D·dt/R² overflows (D={diffusion!r}, dt={dt!r}, R={radius!r})")

    # ------------------------------------------------------------------ description
    @property
    def dt(self) -> float:
        """Time per step."""
        return self._dt

    @property
    def rate(self) -> float:
        """Return the Brownian decay rate ``n D / R²`` of ⟨cos θ⟩."""
        return self.dim * self.diffusion / self.radius**2

    def step_factor(self) -> float:
        """Return this walk's exact ``E[cos φ]`` per step (``⟨cos θ⟩ = factor^k``).

        Returns
        -------
        float
            ring: ``1 − δ²/(2R²)``; geodesic: ``E[cos(sqrt(τ)·χ_n)]``; exact:
            ``exp(−n D dt/R²)``.
        """
        return step_cos_factor(self.method, self.dim, self.radius, self.diffusion, self.dt,
                               self.step_chord)

    def parameters(self) -> dict[str, Any]:
        """Return the resolved parameters (``step_chord``: the ring chord used)."""
        return {
            "kind": self.kind,
            "dim": self.dim,
            "radius": self.radius,
            "diffusion": self.diffusion,
            "dt": self.dt,
            "method": self.method,
            "chord": self.chord,
            "step_chord": self.step_chord,
            "start": self.start,
        }

    @classmethod
    def examples(cls) -> list[SphereBrownian]:
        """Return one instance per step method (see :meth:`Model.examples`)."""
        return [cls(2, method=method) for method in METHODS]

    @classmethod
    def from_parameters(cls, parameters: dict, arrays: dict) -> SphereBrownian:
        """Rebuild from :meth:`parameters`."""
        return cls(
            parameters["dim"],
            parameters["radius"],
            parameters["diffusion"],
            parameters["dt"],
            method=parameters.get("method", "geodesic"),
            chord=parameters.get("chord"),
            start=parameters.get("start", "pole"),
        )

    def box(self) -> dict:
        """Describe the unbounded H5MD box of the ambient space ``R^(n+1)``."""
        return {"dimension": self.dim + 1, "boundary": "none", "edges": None}

    # ------------------------------------------------------------------ dynamics
    def _table(self) -> tuple[int, np.ndarray]:
        return lineage_distribution(self.dim, self.tau)

    def initial_state(self, rng_states: np.ndarray) -> dict:
        """Place the walkers (pole, or uniform points drawn from their streams)."""
        walkers = rng_states.shape[0]
        if self.method == "exact" and self.dim >= 2 and self.tau > 0.0:
            self._table()  # build (and check the size of) the lineage table before any step
        positions = np.zeros((walkers, self.dim + 1))
        state = {"rng": rng_states, "position": positions}
        if self.start == "pole":
            positions[:, 0] = self.radius
        else:
            _uniform_points(positions, rng_states, self.radius)
            state["start"] = positions.copy()
        return state

    def check_state_values(self, state: dict) -> None:
        """Refuse points off the sphere (every step keeps |x| = R to rounding)."""
        for key in ("position", "start"):
            if key in state:
                with np.errstate(over="ignore"):  # 1e300: off the sphere, not an overflow error
                    radii = np.linalg.norm(state[key], axis=1)
                if (np.abs(radii - self.radius) > 1e-6 * self.radius).any():
                    raise ValueError(f"state {key!r} holds points off the sphere of radius {self.radius:g}")

    def advance(self, state: dict, first_step: int, steps: int, accumulate: bool) -> None:
        """Advance all walkers by ``steps`` steps of the chosen method."""
        if steps <= 0 or self.tau == 0.0 and self.method != "ring":
            return
        positions, states = state["position"], state["rng"]
        root_tau = math.sqrt(self.tau)
        if self.method == "ring":
            bad = _advance_ring(positions, states, steps, self.step_chord)
        elif self.method == "exact" and self.dim == 1:
            bad = _advance_circle(positions, states, steps, root_tau, self.radius)
        else:
            first, cdf = self._table() if self.method == "exact" else (0, _NO_TABLE)
            bad = _advance_tangent(positions, states, steps, self.radius, root_tau,
                                   0.5 * self.dim, first, cdf)
        raise_if_bad(bad, first_step)

    def frame(self, state: dict) -> np.ndarray:
        """Return positions ``[N][n+1]``."""
        return state["position"]

    def _start(self, state: dict) -> np.ndarray:
        return state["start"] if self.start == "uniform" else np.empty((0, self.dim + 1))

    def observe(self, state: dict) -> dict:
        """Return sums over walkers of cos θ, cos²θ, z, z² and z⁴ (z = |x − x₀|)."""
        chord_sq = squared_distances(state["position"], self._start(state), self.radius)
        cos_theta = 1.0 - chord_sq / (2.0 * self.radius**2)
        return {
            "cos_sum": ExactSum(cos_theta),
            "cos_sq_sum": ExactSum(cos_theta**2),
            "chord_sum": ExactSum(np.sqrt(chord_sq)),
            "chord_sq_sum": ExactSum(chord_sq),
            "chord_4th_sum": ExactSum(chord_sq**2),
        }

    def summarize(self, sums: dict, walkers: int) -> dict:
        """Return ``mean_cos_theta``, ``sem_cos_theta``, ``mean_chord``, ``rms_chord``, SEMs.

        ``sem_cos_theta`` comes from the moments of z² (``1 − cos θ = z²/(2R²)``),
        which keep their precision when cos θ is close to 1.
        """
        sums = rounded(sums)
        mean_cos = sums["cos_sum"] / walkers
        mean_z2, sem_z2 = mean_and_sem(sums["chord_sq_sum"], sums["chord_4th_sum"], walkers)
        mean_z, sem_z = mean_and_sem(sums["chord_sum"], sums["chord_sq_sum"], walkers)
        rms = np.sqrt(mean_z2)
        sem_rms = np.where(rms > 0.0, sem_z2 / (2.0 * np.where(rms > 0.0, rms, 1.0)), 0.0)
        return {
            "mean_cos_theta": mean_cos,
            "sem_cos_theta": sem_z2 / (2.0 * self.radius**2),
            "mean_chord": mean_z,
            "sem_chord": sem_z,
            "rms_chord": rms,
            "sem_rms_chord": sem_rms,
        }
