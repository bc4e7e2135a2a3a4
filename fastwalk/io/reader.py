"""Read fastwalk's H5MD files: parameters, model, frames and observables.

Only *committed* records are visible: a file from a killed run reads exactly
as far as its last commit. Frames are read lazily, so slicing a long run does
not load it whole.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from fastwalk.errors import FileFormatError, MissingDataError
from fastwalk.io.element import COMMITTED


@dataclass(frozen=True)
class Series:
    """An observable's committed records.

    Attributes
    ----------
    step : numpy.ndarray
        Step of each record (int64).
    time : numpy.ndarray
        Time of each record (step × dt).
    value : numpy.ndarray
        Values, first axis over records.

    Examples
    --------
    >>> import fastwalk as fw
    >>> run = fw.simulate(fw.FreeBrownian(dim=1, diffusion=1.0, dt=0.1), walkers=10, steps=4,
    ...                   seed=1, observe_every=2)
    >>> msd = run.observable("msd")
    >>> msd.step.tolist(), msd.time.tolist(), msd.value.shape
    ([0, 2, 4], [0.0, 0.2, 0.4], (3,))
    """

    step: np.ndarray
    time: np.ndarray
    value: np.ndarray


class Frames:
    """Lazy view of the committed frames (positions ``[T][N][D]`` or nodes ``[T][N]``).

    Index it like an array (``frames[-1]``, ``frames[::10, :5]``); only the
    requested part is read from disk.

    Examples
    --------
    >>> import fastwalk as fw
    >>> fw.simulate(fw.FreeBrownian(dim=2, diffusion=1.0, dt=0.1), walkers=30, steps=100,
    ...             seed=1, every=10, out="f.h5", overwrite=True).close()
    >>> with fw.open("f.h5") as run:
    ...     print(run.frames.shape, run.frames[-1].shape, run.frames[::5, :3].shape)
    (11, 30, 2) (30, 2) (3, 3, 2)
    """

    def __init__(self, group: h5py.Group):
        self._group = group
        self._count = int(group.attrs.get(COMMITTED, 0))

    def __len__(self) -> int:
        return self._count

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the committed frames."""
        return (self._count, *self._group["value"].shape[1:])

    @property
    def steps(self) -> np.ndarray:
        """Steps of the committed frames."""
        return self._group["step"][: self._count]

    @property
    def times(self) -> np.ndarray:
        """Times of the committed frames."""
        return self._group["time"][: self._count]

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            index = int(first)
            if index < 0:
                index += self._count
            if not 0 <= index < self._count:
                raise IndexError(f"frame {first} out of range for {self._count} committed frames")
            return self._group["value"][(index, *rest)]
        if isinstance(first, slice):
            selected = range(*first.indices(self._count))
            if not selected:
                return self._group["value"][(slice(0, 0), *rest)]
            if selected.step < 0:
                # HDF5 reads forward only: read the same frames in ascending order, then reverse
                ascending = slice(selected[-1], selected[0] + 1, -selected.step)
                return self._group["value"][(ascending, *rest)][::-1]
            return self._group["value"][(slice(selected.start, selected.stop, selected.step), *rest)]
        indices = np.arange(self._count)[first]
        if not len(indices):
            return self._group["value"][(slice(0, 0), *rest)]
        return np.stack([self._group["value"][(int(i), *rest)] for i in indices])


class RunView:
    """What a run read from a file and a run kept in memory share.

    Subclasses give ``config``, ``path``, ``close``, ``observable_names`` and ``_records(name)``.
    """

    @property
    def kind(self) -> str:
        """Model kind, e.g. ``"lattice"``."""
        return self.config["model"]["kind"]

    @property
    def parameters(self) -> dict:
        """The model's resolved parameters."""
        return self.config["model"]

    @property
    def settings(self) -> dict:
        """Run settings: walkers, steps, seed, every, observe_every, burn_in."""
        return self.config["run"]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has_observable(self, name: str) -> bool:
        """Whether ``name`` was recorded."""
        return name in self.observable_names

    def observable(self, name: str) -> Series:
        """Return an observable's (committed) records.

        Raises
        ------
        fastwalk.errors.MissingDataError
            If the run has no such observable.
        """
        if not self.has_observable(name):
            have = ", ".join(self.observable_names) or "none"
            where = "this run" if self.path is None else str(self.path)
            raise MissingDataError(f"{where} has no observable {name!r} (it has: {have}); "
                                   f"it was written by a {self.kind} run")
        return self._records(name)

    @property
    def observables(self) -> dict[str, Series]:
        """Every observable's (committed) records, by name."""
        return {name: self.observable(name) for name in self.observable_names}

    def summary(self) -> dict:
        """Return a JSON-able summary (what ``fastwalk inspect`` prints for a file)."""
        return summarize(self)


class Run(RunView):
    """A fastwalk output file opened for reading (use as a context manager).

    Parameters
    ----------
    path : path-like
        The HDF5 file.
    lock : fastwalk.io.output.OutputLock or None
        The file's lock when the caller holds it; otherwise a file that
        another process is writing is refused (:class:`~fastwalk.io.output.BusyError`).

    Examples
    --------
    >>> import fastwalk as fw
    >>> fw.simulate(fw.LatticeWalk(fw.Crossing.lines(2), length=5), walkers=20, steps=100,
    ...             seed=3, out="w.h5", overwrite=True).close()
    >>> with fw.open("w.h5") as run:      # a Run
    ...     print(run.model.kind, run.seed, run.committed_step, sorted(run.accumulators)[0])
    lattice 3 100 visit_counts
    """

    def __init__(self, path, lock=None):
        from fastwalk.io.output import refuse_if_busy

        self.path = Path(path)
        if not self.path.exists():
            raise FileFormatError(f"file {self.path} does not exist")
        if not self.path.is_file():  # a FIFO or device would block or mislead h5py
            from fastwalk.io.output import describe_kind

            raise FileFormatError(f"{self.path} is {describe_kind(self.path)}, not a fastwalk file")
        if lock is None:
            refuse_if_busy(self.path, "read")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            if lock is None:
                refuse_if_busy(self.path, "read")  # it began being written meanwhile
            raise FileFormatError(_open_failure(self.path, exc)) from None
        try:
            self._check_layout()
            config = json.loads(self._file["parameters"].attrs["config"])
            if not describes_a_run(config):
                raise ValueError("an incomplete description")
        except (KeyError, ValueError, TypeError, OSError) as exc:
            self._file.close()
            if isinstance(exc, FileFormatError):
                raise
            raise FileFormatError(f"{self.path} is not a fastwalk file (no valid /parameters)") from None
        self.config: dict = config
        self._model = None

    def _check_layout(self) -> None:
        f = self._file
        missing = [name for name in ("h5md", "particles", "parameters", "fastwalk") if name not in f]
        if missing:
            self._file.close()
            raise FileFormatError(
                f"{self.path} is an HDF5 file but not one written by fastwalk "
                f"(missing /{', /'.join(missing)})"
            )

    # ------------------------------------------------------------------ context
    def close(self) -> None:
        """Close the file."""
        self._file.close()

    # ------------------------------------------------------------------ description
    @property
    def seed(self) -> int:
        """The seed the run used."""
        return self._attribute("parameters", "seed", int)

    @property
    def version(self) -> str:
        """Return the fastwalk version that wrote the file."""
        return self._attribute("parameters", "version", str)

    @property
    def status(self) -> str:
        """``running`` (killed or still going), ``completed``, ``interrupted`` or ``error``."""
        return self._attribute("fastwalk", "status", str, "unknown")

    @property
    def committed_step(self) -> int:
        """Last step whose records are committed."""
        return self._attribute("fastwalk", "committed_step", int, 0)

    @property
    def commits(self) -> int:
        """Number of commits so far; 0 means nothing at all is committed yet."""
        return self._attribute("fastwalk", "commits", int, 0)

    def _run_marks(self) -> dict:
        """Return the run id, the last committed step and the last commits' steps.

        A checkpoint beside the file must be of this run and of one of these commits.
        """
        meta = self._file["fastwalk"].attrs
        run_id = meta.get("run_id")
        committed = int(meta.get("committed_step", 0))
        recent = [int(s) for s in meta.get("recent_steps", [committed])]
        return {"run_id": None if run_id is None else str(run_id), "committed_step": committed,
                "recent_steps": recent}

    @property
    def target_steps(self) -> int:
        """Steps the run was asked for."""
        return self._attribute("fastwalk", "target_steps", int, 0)

    def parameter_arrays(self) -> dict[str, np.ndarray]:
        """Return every array stored under ``/parameters`` (e.g. ``graph/indptr``)."""
        arrays: dict[str, np.ndarray] = {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                if obj.dtype.kind == "O" or h5py.check_string_dtype(obj.dtype):
                    data = np.array([x.decode() if isinstance(x, bytes) else str(x)
                                     for x in np.ravel(data)]).reshape(np.shape(data))
                arrays[name] = data

        self._file["parameters"].visititems(visit)
        return arrays

    @property
    def model(self):
        """The model, rebuilt from the stored parameters."""
        if self._model is None:
            from fastwalk.models import model_class

            self._model = model_class(self.kind).from_parameters(self.parameters,
                                                                 self.parameter_arrays())
        return self._model

    # ------------------------------------------------------------------ data
    @property
    def frames(self) -> Frames:
        """Lazy committed frames (positions or nodes)."""
        name = self.frame_name
        if name is None:
            raise MissingDataError(
                f"{self.path} holds no walker frames; run with --every K to record them"
                if self.commits else f"{self.path} holds no frames yet: nothing was committed"
            )
        where = f"particles/walkers/{name}"
        rows = self._committed_rows(where)
        for part in ("step", "time", "value"):
            self._dataset(f"{where}/{part}", rows)
        return Frames(self._open(where))

    @property
    def frame_name(self) -> str | None:
        """``"position"``, ``"node"`` or None when no frames were recorded."""
        names = [n for n in self._written("particles/walkers") if n != "box"]
        return names[0] if names else None

    @property
    def observable_names(self) -> list[str]:
        """Names of the recorded observables."""
        return sorted(self._written("observables"))

    def _records(self, name: str) -> Series:
        where = f"observables/{name}"
        n = self._committed_rows(where)
        step, time, value = (self._read(f"{where}/{part}", n) for part in ("step", "time", "value"))
        if n > 1 and not (np.all(np.diff(step) > 0) and np.all(np.diff(time) >= 0)):
            raise self._refused(f"/{where} records steps or times that do not increase")
        return Series(step, time, value)

    def _committed_rows(self, where: str) -> int:
        """Return the committed row count of the time series at ``where``."""
        try:
            n = int(self._open(where).attrs.get(COMMITTED, 0))
        except (TypeError, ValueError) as exc:
            raise self._damaged(f"/{where} attribute {COMMITTED}", exc) from None
        if n < 0:
            raise self._refused(f"/{where} records {n} committed rows")
        return n

    def _dataset(self, name: str, rows: int) -> h5py.Dataset:
        """Return dataset ``name``, refusing one that is missing or holds fewer than ``rows`` rows."""
        dataset = self._open(name)
        if not isinstance(dataset, h5py.Dataset) or not dataset.shape or len(dataset) < rows:
            have = len(dataset) if isinstance(dataset, h5py.Dataset) and dataset.shape else 0
            raise self._refused(f"/{name} holds {have} of its {rows} committed records")
        return dataset

    def _read(self, name: str, rows: int) -> np.ndarray:
        """Read the first ``rows`` rows of dataset ``name`` (see :meth:`_dataset`)."""
        dataset = self._dataset(name, rows)
        try:
            return dataset[:rows]
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            raise self._damaged(f"/{name}", exc) from None

    @property
    def accumulators(self) -> dict[str, np.ndarray]:
        """In-kernel accumulators (visit counts, histograms) as of the last commit.

        Raises
        ------
        fastwalk.errors.FileFormatError
            If one cannot be read, or a count is negative or not an integer (an edited file).
        """
        arrays = {}
        for name in self._written("fastwalk/accumulators"):
            dataset = self._open(f"fastwalk/accumulators/{name}")
            try:
                arrays[name] = np.asarray(dataset[()])
            except (OSError, RuntimeError, ValueError, TypeError, AttributeError) as exc:
                raise self._damaged(f"/fastwalk/accumulators/{name}", exc) from None
            self._check_counts(name, arrays[name])
        return arrays

    def _check_counts(self, name: str, data: np.ndarray) -> None:
        """Refuse an accumulator that is no number array, or a count (integer) below zero.

        Every integer accumulator counts something (visits, histogram entries) or names a
        node, so none is ever negative; only floating sums (``*_sum``) may be.
        """
        if data.dtype.kind not in "iuf":
            raise self._refused(f"/fastwalk/accumulators/{name} holds {data.dtype} data, not numbers")
        if data.dtype.kind == "i" and data.size and data.min() < 0:
            index = np.unravel_index(int(np.argmin(data)), data.shape)
            where = ", ".join(map(str, index))
            raise self._refused(f"/fastwalk/accumulators/{name} holds the negative count "
                                f"{int(data[index])} at [{where}] (counts are never negative)")

    def _written(self, group: str) -> list[str]:
        """Names of the records under ``group``; none before the first commit.

        Until then a reader has nothing to see, and must not look: a kill during that
        commit's flush can leave links to objects HDF5 had not finished writing.
        """
        if not self.commits:
            return []
        found = self._open(group)
        if not isinstance(found, h5py.Group):
            raise self._refused(f"/{group} is not a group")
        return list(found)

    def _open(self, name: str):
        """Open the object at ``name``, or refuse the file as damaged in one line."""
        try:
            return self._file[name]
        except (KeyError, OSError, RuntimeError) as exc:
            raise self._damaged(f"/{name}", exc) from None

    def _attribute(self, group: str, name: str, convert, default=None):
        """Return attribute ``name`` of ``group`` through ``convert`` (required without a default)."""
        attrs = self._open(group).attrs
        try:
            return convert(attrs[name] if default is None else attrs.get(name, default))
        except (KeyError, OSError, RuntimeError, TypeError, ValueError, OverflowError) as exc:
            raise self._damaged(f"/{group} attribute {name}", exc) from None

    def _damaged(self, what: str, why) -> FileFormatError:
        """Return the one-line refusal of a file whose ``what`` cannot be read (``why``)."""
        if isinstance(why, BaseException):
            why = why.args[0] if why.args else type(why).__name__  # a KeyError's str() quotes
        return self._refused(f"{what} cannot be read ({why})")

    def _refused(self, problem: str) -> FileFormatError:
        return FileFormatError(f"{self.path} is damaged: {problem}; the file cannot be resumed or "
                               "read further, start the run again with --overwrite")

    def box(self) -> dict:
        """Return the H5MD box: dimension, boundary and edges (None when it has none)."""
        box = self._file["particles/walkers/box"]
        boundary = [b.decode() if isinstance(b, bytes) else str(b) for b in box.attrs["boundary"]]
        edges = box.get("edges")
        if isinstance(edges, h5py.Group):  # time-dependent (one row per frame), the same at every frame
            rows = int(edges.attrs.get(COMMITTED, 0))
            edges = edges["value"][0] if rows else np.asarray(self.model.box()["edges"], dtype=np.float64)
        elif edges is not None:  # one dataset (no frames recorded, or a file from fastwalk 0.1)
            edges = edges[()]
        return {"dimension": int(box.attrs["dimension"]), "boundary": boundary, "edges": edges}



def summarize(run) -> dict:
    """Return a JSON-able summary of a run read from a file or held in memory.

    Parameters
    ----------
    run : Run or fastwalk.io.memory.MemoryRun
        The run.

    Returns
    -------
    dict
        Path, kind, status, seed, steps, parameters, settings, and what was recorded.
    """
    frames = None
    if run.frame_name is not None:
        f = run.frames
        frames = {"name": run.frame_name, "count": len(f), "shape": list(f.shape)}
        if len(f):
            frames["first_step"] = int(f.steps[0])
            frames["last_step"] = int(f.steps[-1])
    observables = {name: {"records": len(series.step), "shape": list(series.value.shape[1:])}
                   for name, series in run.observables.items()}
    return {
        "path": None if run.path is None else str(run.path),
        "kind": run.kind,
        "status": run.status,
        "version": run.version,
        "seed": str(run.seed),
        "committed_step": run.committed_step,
        "commits": run.commits,
        "target_steps": run.target_steps,
        "parameters": run.parameters,
        "run": run.settings,
        "frames": frames,
        "observables": observables,
        "accumulators": sorted(run.accumulators),
    }


#: what every run description holds besides the model's parameters (file and checkpoint alike)
RUN_KEYS = ("walkers", "steps", "seed", "every", "observe_every", "burn_in")


def describes_a_run(description) -> bool:
    """Whether ``description`` has the shape fastwalk writes: ``{"model": {"kind": ...}, "run": {...}}``.

    Parameters
    ----------
    description : object
        The JSON read from a file's ``/parameters`` or from a checkpoint.

    Returns
    -------
    bool
        True if the model has a kind and the run every key of :data:`RUN_KEYS`.
    """
    return (isinstance(description, dict) and isinstance(description.get("model"), dict)
            and isinstance(description["model"].get("kind"), str)
            and isinstance(description.get("run"), dict)
            and all(key in description["run"] for key in RUN_KEYS))


def _open_failure(path: Path, exc: OSError) -> str:
    """Explain why h5py could not open ``path``, in one line."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    truncated = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", text)
    if truncated:
        have, need = truncated.groups()
        return (f"{path} is truncated: it holds {have} of the {need} bytes its HDF5 header "
                "records (an incomplete copy or download?)")
    if "signature not found" in text:
        return f"{path} is not an HDF5 file (no HDF5 signature; empty or another format)"
    if isinstance(exc, IsADirectoryError):
        return f"{path} is a directory, not an HDF5 file"
    return f"cannot open {path} as HDF5 ({text}); it may be damaged or not an HDF5 file"


def open_run(path) -> Run:
    """Open a fastwalk HDF5 file for reading.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    Run
        The reader.
    """
    return Run(path)
