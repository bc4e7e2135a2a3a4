"""Crossings: unions of coordinate subspaces of the D-torus through one centre.

Subspace k pins the coordinates in a set S_k to the centre; the others are
free. The same :class:`Crossing` defines the lattice model (the points of
(Z_L)^D on the crossing) and the potential model
U(x) = a · min_k Σ_{j∈S_k} (x_j − b_j)².

Presets:

- :meth:`Crossing.lines` — the seed experiment: K lines in K dimensions,
  S_k = every axis but k;
- :meth:`Crossing.hyperplanes` — K hyperplanes x_k = b_k in D ≥ K dimensions;
- :meth:`Crossing.planes_meeting_in_line` — the planes x_0 = b_0 and
  x_1 = b_1 in 3-D, which share the line along axis 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fastwalk import validate

__all__ = ["Crossing", "parse_pin"]


def parse_pin(text: str) -> tuple[int, ...]:
    """Parse a ``--pin`` value such as ``"0,2"`` into pinned coordinates.

    Parameters
    ----------
    text : str
        Comma-separated coordinate indices.

    Returns
    -------
    tuple of int
        The indices, in the order given.
    """
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ValueError(f"--pin needs comma-separated coordinate indices such as 0,2; got {text!r}")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"--pin needs comma-separated integer coordinate indices such as 0,2; got {text!r}"
        ) from None


@dataclass(frozen=True)
class Crossing:
    """K coordinate subspaces of the D-torus meeting at one centre.

    Parameters
    ----------
    dim : int
        Dimension D of the torus (>= 1).
    pins : sequence of sequence of int
        For each subspace, the coordinates it pins (each in 0..D-1, at least
        one pinned and at least one free). Duplicated subspaces are refused.
    """

    dim: int
    pins: tuple[tuple[int, ...], ...]

    def __init__(self, dim: int, pins: Iterable[Iterable[int]]):
        dim = validate.integer("dimension D", dim, minimum=1)
        cleaned = []
        for k, subspace in enumerate(pins):
            coords = tuple(sorted({validate.integer(f"pinned coordinate of subspace {k}", c)
                                   for c in subspace}))
            for c in coords:
                if not 0 <= c < dim:
                    raise ValueError(
                        f"subspace {k} pins coordinate {c}, outside 0..{dim - 1}; "
                        f"pin coordinates between 0 and D-1 = {dim - 1}"
                    )
            if not coords:
                raise ValueError(f"subspace {k} pins no coordinate; pin at least one")
            if len(coords) == dim:
                raise ValueError(
                    f"subspace {k} pins all {dim} coordinates and has no free coordinate; "
                    "leave at least one coordinate unpinned"
                )
            if coords in cleaned:
                raise ValueError(f"subspace {k} repeats pins {list(coords)}; give each subspace once")
            cleaned.append(coords)
        if not cleaned:
            raise ValueError("a crossing needs at least one subspace (K >= 1)")
        object.__setattr__(self, "dim", dim)
        object.__setattr__(self, "pins", tuple(cleaned))

    # ------------------------------------------------------------------ presets
    @classmethod
    def lines(cls, count: int) -> Crossing:
        """Return the seed's crossing: ``count`` lines of a ``count``-torus at one point.

        For ``count = 1`` this is a single cycle (D = 2 with axis 1 pinned is
        not needed: one line in one dimension is the whole 1-torus, so the
        preset uses D = 2, S_0 = {1}).
        """
        count = validate.integer("K (number of lines)", count, minimum=1)
        if count == 1:
            return cls(2, [(1,)])
        return cls(count, [tuple(j for j in range(count) if j != k) for k in range(count)])

    @classmethod
    def hyperplanes(cls, count: int, dim: int | None = None) -> Crossing:
        """Return ``count`` hyperplanes x_k = b_k in ``dim`` dimensions (default ``count``)."""
        count = validate.integer("K (number of hyperplanes)", count, minimum=1)
        dim = max(count, 2) if dim is None else validate.integer("dimension D", dim, minimum=count)
        return cls(dim, [(k,) for k in range(count)])

    @classmethod
    def planes_meeting_in_line(cls) -> Crossing:
        """Return the planes x_0 = b_0 and x_1 = b_1 in 3-D (they share axis 2)."""
        return cls(3, [(0,), (1,)])

    # ------------------------------------------------------------------ views
    @property
    def count(self) -> int:
        """Number of subspaces K."""
        return len(self.pins)

    def free(self, k: int) -> tuple[int, ...]:
        """Return the free coordinates of subspace ``k``."""
        return tuple(j for j in range(self.dim) if j not in self.pins[k])

    def pinned_mask(self) -> np.ndarray:
        """Return a ``(K, D)`` bool array, True where subspace k pins coordinate j."""
        mask = np.zeros((self.count, self.dim), dtype=np.bool_)
        for k, coords in enumerate(self.pins):
            mask[k, list(coords)] = True
        return mask

    def to_dict(self) -> dict:
        """Return a JSON-able description (``dim`` and ``pins``)."""
        return {"dim": self.dim, "pins": [list(p) for p in self.pins]}

    @classmethod
    def from_dict(cls, data: dict) -> Crossing:
        """Rebuild from :meth:`to_dict`."""
        return cls(data["dim"], data["pins"])

    @classmethod
    def from_options(cls, lines: int | None, dim: int | None, pins: Sequence[str]) -> Crossing:
        """Build from the CLI's ``--lines K`` or ``--dim D --pin SPEC ...``.

        Parameters
        ----------
        lines : int or None
            The seed's K lines.
        dim : int or None
            Torus dimension for ``--pin``.
        pins : sequence of str
            ``--pin`` values such as ``"0,2"``.

        Returns
        -------
        Crossing
            The crossing.
        """
        if lines is not None and (pins or dim is not None):
            raise ValueError("give either --lines K or --dim D with --pin SPEC, not both")
        if lines is not None:
            return cls.lines(lines)
        if dim is None or not pins:
            raise ValueError("give --lines K, or --dim D with one --pin SPEC per subspace")
        return cls(dim, [parse_pin(p) for p in pins])
