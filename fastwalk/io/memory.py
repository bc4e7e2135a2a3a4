"""A run held in memory that reads like an opened file.

:class:`MemoryRun` answers the same names as :class:`fastwalk.io.reader.Run`
(``frames``, ``observable``, ``observables``, ``accumulators``,
``parameters``, ``seed``, ...), so code written against a file works on a run
that never touched the disk, and the other way round.
"""

from __future__ import annotations

import numpy as np

from fastwalk._version import __version__
from fastwalk.errors import MissingDataError
from fastwalk.io.reader import RunView, Series


class ArrayFrames:
    """Frames held in memory, indexed like :class:`fastwalk.io.reader.Frames`.

    Parameters
    ----------
    steps, times : numpy.ndarray
        Step and time of each frame.
    values : numpy.ndarray
        Frames, first axis over time.
    """

    def __init__(self, steps: np.ndarray, times: np.ndarray, values: np.ndarray):
        self.steps, self.times, self._values = steps, times, values

    def __len__(self) -> int:
        return len(self._values)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the frames ``[T][N]...``."""
        return self._values.shape

    def __getitem__(self, key):
        return self._values[key]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._values, dtype=dtype)


class MemoryRun(RunView):
    """The records of a run kept in memory, with the reading interface of a file.

    Parameters
    ----------
    model : fastwalk.models.base.Model
        The model that ran.
    simulation : fastwalk.engine.Simulation or fastwalk.distributed.PartitionedRun
        The run, after it ran (its settings and seed).
    sink : fastwalk.engine.MemorySink
        The sink that collected its records and accumulators.
    result : fastwalk.engine.RunResult
        Its result.
    extra_config : dict or None
        Extra configuration stored with the run (as a file stores it).

    Examples
    --------
    A run without ``out`` keeps its records in memory and reads like a file:

    >>> import fastwalk as fw
    >>> run = fw.simulate(fw.FreeBrownian(dim=2, diffusion=1.0, dt=0.1), walkers=30, steps=100,
    ...                   seed=1, every=50)
    >>> run.frames.shape, sorted(run.observables)
    ((3, 30, 2), ['msd', 'sem_msd'])
    """

    path = None

    def __init__(self, model, simulation, sink, result, extra_config: dict | None = None):
        self.model = model
        self.config: dict = {"model": self.model.parameters(), "run": simulation.settings(),
                             "config": dict(extra_config or {})}
        self.seed: int = simulation.seed
        self.version: str = __version__
        self.status: str = result.reason
        self.committed_step: int = result.steps
        self.commits: int = len(sink.commits)
        self.target_steps: int = result.target_steps
        self._sink = sink

    def close(self) -> None:
        """Do nothing (nothing is open; a file run closes its file)."""

    def parameter_arrays(self) -> dict[str, np.ndarray]:
        """Return the model's arrays (what a file stores under ``/parameters``)."""
        return {name: np.asarray(value) for name, value in self.model.parameter_arrays().items()}

    @property
    def frames(self) -> ArrayFrames:
        """The recorded frames (positions or nodes)."""
        if not self._sink.frames:
            raise MissingDataError("this run holds no walker frames; run with every=K to record them")
        return ArrayFrames(np.array(self._sink.frame_steps, dtype=np.int64),
                           np.array(self._sink.frame_times, dtype=np.float64),
                           np.stack(self._sink.frames))

    @property
    def frame_name(self) -> str | None:
        """``"position"``, ``"node"`` or None when no frames were recorded."""
        return self.model.frame_name if self._sink.frames else None

    @property
    def observable_names(self) -> list[str]:
        """Names of the recorded observables."""
        return sorted(self._sink.observed)

    def _records(self, name: str) -> Series:
        return Series(np.array(self._sink.observable_steps, dtype=np.int64),
                      np.array(self._sink.observable_times, dtype=np.float64),
                      self._sink.series(name))

    @property
    def accumulators(self) -> dict[str, np.ndarray]:
        """In-kernel accumulators (visit counts, histograms) as of the last commit (the end)."""
        return dict(self._sink.accumulators)

    def box(self) -> dict:
        """Return the H5MD box: dimension, boundary and edges."""
        info = self.model.box()
        dim = int(info["dimension"])
        edges = info.get("edges")
        return {"dimension": dim, "boundary": [info.get("boundary", "none")] * dim,
                "edges": None if edges is None else np.asarray(edges, dtype=np.float64)}
