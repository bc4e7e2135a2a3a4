"""What lattice and graph walks share: nodes, visit counts, per-walker samples.

Visit counts are kept as one slice per walker part (the numba thread count
when the state is built), so threads never write to the same memory; they
are summed when read (integer sums, independent of the split).
"""

from __future__ import annotations

from typing import ClassVar

import numba
import numpy as np

#: visit counts are recorded as an observable at every record up to this many nodes
MAX_RECORDED_NODES = 100_000


def new_visit_slices(walkers: int, nodes: int) -> np.ndarray:
    """Return zeroed per-part visit counts, one row per walker part.

    There are as many parts as numba threads (at most one per walker). Rows
    span whole 64-byte cache lines plus a spare one, so two threads never
    write to the same line.
    """
    parts = max(1, min(numba.get_num_threads(), walkers))
    width = -(-nodes // 8) * 8 + 8
    return np.zeros((parts, width), dtype=np.int64)


def total_visits(slices: np.ndarray, nodes: int) -> np.ndarray:
    """Return the visit counts summed over the parts' slices, ``[nodes]`` int64."""
    return slices[:, :nodes].sum(axis=0)


class NodeWalkRecords:
    """What lattice and graph walks record: nodes, visit counts, per-walker samples.

    Needs ``self.nodes`` and ``self.start`` (the start node), and names in
    :attr:`reference_visits` the per-walker accumulator of visits to the
    reference node ``self.center`` (the crossing's center on a lattice, the
    start node on a graph).
    """

    #: state and accumulator name of each walker's visits of ``self.center``
    reference_visits: ClassVar[str] = "walker_center_visits"
    #: what ``self.center`` is, in the stationary report
    center_name: ClassVar[str] = "the crossing's center"
    per_part_state: ClassVar[tuple[str, ...]] = ("visit_slices",)
    #: node labels (graphs read from an edge list), or None
    labels = None
    stationary_report: ClassVar[str] = "fastwalk.analysis.stationary:walk_run_report"

    def mixing_steps(self) -> tuple[int, str] | None:
        """Return (steps, formula) a walker needs to mix, where there is a simple scale."""
        return None

    def initial_state(self, rng_states: np.ndarray) -> dict:
        """Put every walker on the start node with empty counts."""
        walkers = rng_states.shape[0]
        return {
            "rng": rng_states,
            "node": np.full(walkers, self.start, dtype=np.int64),
            "visit_slices": new_visit_slices(walkers, self.nodes),
            self.reference_visits: np.zeros(walkers, dtype=np.int64),
        }

    def check_state_values(self, state: dict) -> None:
        """Refuse nodes past the last one (the kernels index with them)."""
        if (state["node"] >= self.nodes).any():
            raise ValueError(f"state 'node' holds nodes past the last one, {self.nodes - 1}")

    def frame(self, state: dict) -> np.ndarray:
        """Return the walkers' nodes ``[N]`` int64."""
        return state["node"]

    def observe(self, state: dict) -> dict:
        """Return the cumulative ``visit_counts`` (additive over walkers), on small lattices."""
        if self.nodes > MAX_RECORDED_NODES:
            return {}
        return {"visit_counts": total_visits(state["visit_slices"], self.nodes)}

    def accumulators(self, state: dict) -> dict:
        """Return the final counts and the per-walker arrays the stationary report needs.

        ``visit_counts`` adds over walker subsets; :attr:`reference_visits` and
        ``walker_node`` (each walker's current node, an independent sample per
        walker) are per walker: concatenate them, in walker order, across subsets.
        """
        return {
            "visit_counts": total_visits(state["visit_slices"], self.nodes),
            self.reference_visits: state[self.reference_visits].copy(),
            "walker_node": state["node"].copy(),
        }
