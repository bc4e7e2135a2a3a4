"""Free Brownian motion in R^d: the engine's reference model.

dX = sqrt(2 D) dW, integrated exactly by Gaussian increments of variance
2 D dt per coordinate, so the mean squared displacement 2 d D t holds at every
step with no discretisation error.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from fastwalk import rng, validate
from fastwalk._jit import pjit
from fastwalk.models._kernels import (
    ExactSum,
    first_bad_step,
    mean_and_sem,
    raise_if_bad,
    rounded,
    squared_distances,
)
from fastwalk.models.base import Model

#: an empty start array: distances are taken from the point 0·e_0, the origin
_ORIGIN = np.empty((0, 0))


@pjit
def _advance_kernel(positions, states, steps, scale):
    """Add ``steps`` Gaussian increments of s.d. ``scale`` to every coordinate.

    Returns the first step (relative) at which a walker became non-finite, or -1.
    """
    walkers, dim = positions.shape
    bad = np.full(walkers, -1, dtype=np.int64)
    for w in prange(walkers):
        s = states[w]
        for step in range(steps):
            # x * 0.0 is 0 for finite x and NaN for NaN or inf: checks every coordinate
            check = 0.0
            for j in range(dim):
                positions[w, j] += scale * rng.normal(s)
                check += positions[w, j] * 0.0
            if not math.isfinite(check):
                bad[w] = step
                break
    return first_bad_step(bad)


class FreeBrownian(Model):
    """Brownian motion in R^d started at the origin.

    Parameters
    ----------
    dim : int
        Number of coordinates d (>= 1).
    diffusion : float
        Diffusion constant D (>= 0), in length² per unit time.
    dt : float
        Time per step (> 0).

    Examples
    --------
    >>> import fastwalk as fw
    >>> run = fw.simulate(fw.FreeBrownian(dim=2, diffusion=1.0, dt=0.01), walkers=100, steps=10,
    ...                   seed=1)
    >>> sorted(run.observables)       # msd: 2·d·D·t exactly in expectation
    ['msd', 'sem_msd']
    """

    kind = "free"
    frame_name = "position"

    def __init__(self, dim: int = 2, diffusion: float = 1.0, dt: float = 0.01):
        self.dim = validate.integer("dim", dim, minimum=1)
        self.diffusion = validate.real("diffusion", diffusion, minimum=0.0)
        self._dt = validate.real("dt", dt, minimum=0.0, strict_min=True)

    @property
    def dt(self) -> float:
        """Time per step."""
        return self._dt

    def parameters(self) -> dict:
        """Return the resolved parameters."""
        return {"kind": self.kind, "dim": self.dim, "diffusion": self.diffusion, "dt": self.dt}

    @classmethod
    def examples(cls) -> list[FreeBrownian]:
        """Return one small instance (see :meth:`Model.examples`)."""
        return [cls(2)]

    @classmethod
    def from_parameters(cls, parameters: dict, arrays: dict) -> FreeBrownian:
        """Rebuild from :meth:`parameters`."""
        return cls(parameters["dim"], parameters["diffusion"], parameters["dt"])

    def box(self) -> dict:
        """Describe the unbounded H5MD box."""
        return {"dimension": self.dim, "boundary": "none", "edges": None}

    def initial_state(self, rng_states: np.ndarray) -> dict:
        """Start every walker at the origin."""
        return {"rng": rng_states, "position": np.zeros((rng_states.shape[0], self.dim))}

    def advance(self, state: dict, first_step: int, steps: int, accumulate: bool) -> None:
        """Advance all walkers by ``steps`` exact Gaussian steps."""
        scale = math.sqrt(2.0 * self.diffusion * self.dt)
        raise_if_bad(_advance_kernel(state["position"], state["rng"], steps, scale), first_step)

    def frame(self, state: dict) -> np.ndarray:
        """Return positions ``[N][d]``."""
        return state["position"]

    def observe(self, state: dict) -> dict:
        """Return the sums of |x|² and |x|⁴ over walkers."""
        squared = squared_distances(state["position"], _ORIGIN, 0.0)  # start empty: origin
        return {"msd_sum": ExactSum(squared), "msd_sq_sum": ExactSum(squared**2)}

    def summarize(self, sums: dict, walkers: int) -> dict:
        """Return ``msd`` (mean |x|²) and its standard error ``sem_msd``."""
        sums = rounded(sums)
        mean, sem = mean_and_sem(sums["msd_sum"], sums["msd_sq_sum"], walkers)
        return {"msd": mean, "sem_msd": sem}
