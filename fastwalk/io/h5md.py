"""Streaming H5MD 1.1 writer with committed-frame counts and checkpoints.

Layout (see DESIGN.md)::

    /h5md                      version [1, 1]; author, creator, modules/fastwalk
    /particles/walkers/box     dimension, boundary (+ edges when periodic: {step, time, value}
                               beside position frames, else one dataset)
    /particles/walkers/<frame> {step, time, value}   position [T][N][D] or node [T][N]
    /observables/<name>        {step, time, value}
    /parameters                config (JSON), seed, version, kind; model arrays
    /fastwalk                  status, committed step; accumulators/<name>

Every group and dataset carries a ``description`` attribute (what it holds, its
shape and units), so ``h5dump -A`` explains the file. Quantities are in the
model's reduced units, so no H5MD ``unit`` attribute is written (the H5MD units
module attaches units to dimensionful data only, and MDAnalysis refuses unit
strings it does not know); MDAnalysis reads the files with
``convert_units=False``.

Durability: rows are written as they come; at a *commit* the file is first
flushed with the old counts (so rows, chunk index and shapes are on disk), then
the per-element ``committed`` attribute (the count a reader trusts) is advanced
and the file flushed again; the checkpoint is staged in a temporary file. A
background thread then fsyncs the HDF5 file and only after that publishes the
checkpoint (fsync, atomic rename), so the run computes on while the disk
catches up; the next commit and the end of the run wait for it. The thread
also fsyncs after every :data:`WRITEBACK_BYTES` of frames, so that a commit
never waits for much. A kill (or a power cut) at any moment therefore leaves
a file whose committed rows are complete, and a checkpoint no newer than
them. A new file is built under a temporary name and renamed into place once its description is on
disk, so a run killed during start-up leaves either no file or a valid one with
nothing committed (and an existing file it overwrites stays intact until
then). Datasets grow in blocks and are trimmed to their committed length when
the run ends; records under 10 KiB (steps, times, scalars) are held in memory
and written in one slice per commit, and a record that is exactly one chunk is
written straight to disk past HDF5's chunk cache.

A full disk: disk space is reserved ahead of HDF5 (:mod:`fastwalk.io._space`),
so a full disk or a file-size limit is met before HDF5 writes; the run stops
with one clear error, and the file, still consistent, is closed normally with
status ``error``. Should HDF5 itself fail a write (where space cannot be
reserved), the file is abandoned open: after a failed flush HDF5 can crash the
interpreter when the file or its datasets are closed, and the file on disk is
then exactly what a kill at that moment would leave.
"""

from __future__ import annotations

import ctypes
import getpass
import json
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

from fastwalk._version import __version__
from fastwalk.errors import FastwalkError, FileFormatError
from fastwalk.io import checkpoint, output
from fastwalk.io._space import NoSpace, SpaceGuard
from fastwalk.io.element import Element

#: HDF5 file-format range: readable by HDF5 1.10 and later tools
LIBVER = ("earliest", "v110")
#: past this many box dimensions the H5MD box's ``boundary`` attribute (one string per
#: dimension) outgrows the 64 KiB of a compact attribute: such files (a network's weights)
#: are written with HDF5 1.8's object headers, whose dense attribute storage holds it
COMPACT_DIMENSIONS = 1024
LARGE_LIBVER = ("v108", "v110")
#: bytes of frames after which the background thread fsyncs the file between commits
WRITEBACK_BYTES = 8 * 1024 * 1024
MODULE_VERSION = [1, 0]


class _BackgroundSync:
    """One thread that makes commits durable while the run goes on (see the module notes).

    Jobs run one at a time in order: fsync the HDF5 file's descriptor, then
    publish a staged checkpoint if there is one. A failed job is raised, as
    :class:`~fastwalk.errors.FastwalkError`, by the next :meth:`wait`.
    """

    def __init__(self, fd: int, output: Path):
        self.fd = fd
        self.output = output
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastwalk-sync")
        self._job = None

    def idle(self) -> bool:
        """Whether no job is pending."""
        return self._job is None or self._job.done()

    def submit(self, step: int, staged: Path | None) -> None:
        """Queue: fsync the file, then publish ``staged`` (the checkpoint at ``step``)."""
        self.wait()
        self._job = self._pool.submit(self._run, step, staged)

    def wait(self) -> None:
        """Wait for the pending job; raise its failure."""
        job, self._job = self._job, None
        if job is not None:
            job.result()

    def abandon(self) -> None:
        """Stop taking jobs; a pending one finishes on its own."""
        self._job = None
        self._pool.shutdown(wait=False)

    def close(self) -> None:
        """Wait for the pending job (raising its failure) and stop the thread."""
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)

    def _run(self, step: int, staged: Path | None) -> None:
        try:
            os.fsync(self.fd)
        except OSError as exc:
            if staged is not None:
                staged.unlink(missing_ok=True)
            raise FastwalkError(
                f"cannot write {self.output} ({_short(exc)}); the data written up to step {step} "
                "did not reach the disk"
            ) from None
        if staged is None:
            return
        try:
            checkpoint.publish_checkpoint(staged, self.output)
        except OSError as exc:
            problem = _short(exc)
            raise FastwalkError(_checkpoint_failure(self.output, step, problem)) from None


def _checkpoint_failure(output: Path, step: int, problem: str) -> str:
    return (
        f"cannot write checkpoint {checkpoint.checkpoint_path(output)} ({problem}); "
        f"{output} holds everything up to step {step} — {_remedy(problem)}, then "
        f"`fastwalk resume {output}` goes on from the last checkpoint written"
    )


class H5MDWriter:
    """Sink that streams a run to an H5MD file and checkpoints it.

    Parameters
    ----------
    path : path-like
        Output file.
    model : fastwalk.models.base.Model
        The model being run (its parameters and arrays are stored).
    overwrite : bool
        Replace an existing file; otherwise an existing file is refused
        before anything is written.
    compression : str or None
        HDF5 filter for every dataset (e.g. ``"gzip"``), off by default.
    checkpoints : bool
        Write ``<path>.ckpt`` at every commit so the run can be resumed.
    extra_config : dict or None
        More JSON-able configuration to store (e.g. the CLI's resolved options).
    lock : fastwalk.io.output.OutputLock or None
        The output's lock, when the caller already holds it (else :meth:`start`
        takes it and :meth:`finish` drops it).
    resume_step : int or None
        Continue the existing file ``path`` from its checkpoint at this step
        (see :meth:`reopen`) instead of creating a new file.

    The path must pass :func:`fastwalk.io.output.check_target`: a run replaces
    only a regular file fastwalk wrote, and never one another run is writing.
    A run that fails before its first commit removes its file.
    """

    def __init__(self, path, model, *, overwrite: bool = False, compression: str | None = None,
                 checkpoints: bool = True, extra_config: dict | None = None, lock=None,
                 resume_step: int | None = None):
        self.path = Path(path)
        self.model = model
        self.compression = compression
        self.checkpoints = checkpoints
        self.extra_config = dict(extra_config or {})
        self.file: h5py.File | None = None
        self._elements: dict[str, Element] = {}
        self._resume_step = resume_step
        self._settings: dict = {}
        self._failure: str | None = None
        self._space: SpaceGuard | None = None
        self._sync: _BackgroundSync | None = None
        self._unsynced = 0  # frame bytes written since the last fsync was queued
        self._overwrite = overwrite
        self._lock = lock
        self._created = False
        if resume_step is None:  # a new file; a resumed one was checked by resume
            if lock is None:
                output.refuse_if_busy(self.path, "replace")
            output.check_target(self.path, overwrite=overwrite)
        self._edges: np.ndarray | None = None  # box edges recorded beside each position frame

    @classmethod
    def reopen(cls, path, model, resume_step: int, extra_config: dict | None = None,
               lock=None) -> H5MDWriter:
        """Reopen an existing file to continue it from a checkpoint at ``resume_step``."""
        return cls(path, model, extra_config=extra_config, lock=lock, resume_step=resume_step)

    # ------------------------------------------------------------------ sink protocol
    def start(self, simulation) -> None:
        """Create (or reopen) the file and write the run description."""
        self._settings = simulation.settings()
        self._simulation = simulation
        if self._lock is None:
            self._lock = output.OutputLock(self.path)
        try:
            self._open(simulation)
        except BaseException:
            self._release_lock()
            raise

    def _open(self, simulation) -> None:
        try:
            if self._resume_step is None:
                output.check_target(self.path, overwrite=self._overwrite)
                self._create(simulation)
            else:
                self._reopen(simulation)
        except NoSpace as exc:
            self._close_quietly()
            raise FastwalkError(f"cannot write {self.path} ({_short(exc)})") from None
        except (OSError, RuntimeError) as exc:
            self._abandon()
            raise FastwalkError(f"cannot write {self.path}: {_short(exc)}") from None
        except (KeyError, ValueError, TypeError) as exc:  # an object resume needs is missing or edited
            self._close_quietly()
            detail = exc.args[0] if exc.args else type(exc).__name__  # a KeyError's str() quotes
            raise FileFormatError(f"{self.path} is damaged: {detail}; it cannot be resumed, start "
                                  "the run again with --overwrite") from None

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def frame(self, step: int, time: float, values: np.ndarray) -> None:
        """Append one frame of positions or nodes."""
        self._guarded(self._append, f"particles/walkers/{self.model.frame_name}", step, time,
                      values)
        if self._edges is not None:
            self._guarded(self._append, EDGES, step, time, self._edges)
        self._unsynced += values.nbytes
        if self._unsynced >= WRITEBACK_BYTES and self._sync.idle():
            self._wait_sync()
            self._sync.submit(step, None)
            self._unsynced = 0

    def observables(self, step: int, time: float, values: dict) -> None:
        """Append one record of every observable."""
        for name, value in values.items():
            self._guarded(self._append, f"observables/{name}", step, time, value)

    def commit(self, step: int, state) -> None:
        """Commit everything so far, checkpoint ``state`` (if given); fsync in the background."""
        self._guarded(self._commit_file, step, state)
        self._wait_sync()
        staged = None
        if state is not None and self.checkpoints:
            description = {"model": self.model.parameters(), "run": self._settings,
                           "config": self.extra_config, "run_id": self._run_id()}
            try:
                staged = checkpoint.stage_checkpoint(self.path, step, description, state)
            except OSError as exc:
                self._failure = self._failure or "checkpoint"
                raise FastwalkError(_checkpoint_failure(self.path, step, _short(exc))) from None
        self._sync.submit(step, staged)
        self._unsynced = 0

    def _run_id(self) -> str:
        return str(self.file["fastwalk"].attrs.get("run_id", ""))

    def _wait_sync(self) -> None:
        """Wait for the background job; its failure stops the run like a failed write."""
        if self._sync is None:
            return
        try:
            self._sync.wait()
        except FastwalkError:
            self._failure = self._failure or "checkpoint"
            raise

    def finish(self, result) -> None:
        """Wait for the last commit to be durable; record the exit reason, trim, close.

        Raises
        ------
        fastwalk.errors.FastwalkError
            If the last commit's fsync or checkpoint failed (the file is then
            closed with status ``error``).
        """
        try:
            self._finish(result)
        finally:
            self._release_lock()

    def _finish(self, result) -> None:
        if self.file is None:
            return
        earlier, late = self._failure, None
        try:
            self._wait_sync()
        except FastwalkError as exc:
            late = exc if earlier is None else None  # else the first failure is the one to tell
        if self._failure == "hdf5":
            self._abandon()
            return
        reason = "error" if self._failure else result.reason
        try:
            meta = self.file["fastwalk"]
            stub = reason == "error" and self._created and not int(meta.attrs.get("commits", 0))
            meta.attrs["status"] = reason
            meta.attrs["wall_s"] = float(result.wall_s)
            if reason != "error":
                for element in self._elements.values():
                    element.trim()
            self.file.flush()
        except (OSError, RuntimeError, ValueError):
            self._abandon()  # the committed state on disk stays valid
            return
        self._close_quietly()
        if self._space is not None:
            self._space.release(self.path)
        if stub:  # a run that failed before committing anything leaves nothing behind
            self.path.unlink(missing_ok=True)
            checkpoint.checkpoint_path(self.path).unlink(missing_ok=True)
        if late is not None:
            raise late

    # ------------------------------------------------------------------ helpers
    def _create(self, simulation) -> None:
        # a fresh name (not mkstemp, whose 0600 mode the file would keep) created exclusively
        tmp = output.sidecar(self.path, f".{os.getpid()}.{secrets.token_hex(4)}.tmp", prefix=".")
        try:
            large = int(self.model.box()["dimension"]) > COMPACT_DIMENSIONS
            self.file = h5py.File(tmp, "x", libver=LARGE_LIBVER if large else LIBVER)
            self._space = _guard(self.file)
            self._sync = _BackgroundSync(self.file.id.get_vfd_handle(), self.path)
            self._describe(simulation)
            self._space.after_flush()
            _fsync_h5(self.file)
            # a checkpoint left by an earlier run of this name belongs to another file
            checkpoint.checkpoint_path(self.path).unlink(missing_ok=True)
            checkpoint.remove_staged(self.path)
            os.replace(tmp, self.path)
            self._created = True
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        checkpoint.fsync_directory(self.path.parent)

    def _describe(self, simulation) -> None:
        f = self.file
        h5md = f.create_group("h5md")
        h5md.attrs["version"] = np.array([1, 1], dtype=np.int32)
        author = h5md.create_group("author")
        author.attrs["name"] = _user_name()
        creator = h5md.create_group("creator")
        creator.attrs["name"] = "fastwalk"
        creator.attrs["version"] = __version__
        module = h5md.create_group("modules").create_group("fastwalk")
        module.attrs["version"] = np.array(MODULE_VERSION, dtype=np.int32)
        walkers = f.create_group("particles").create_group("walkers")
        self._write_box(walkers.create_group("box"), simulation.every > 0)
        f.create_group("observables").attrs["description"] = (
            "ensemble observables: {step, time, value} series, recorded every observe_every steps")
        params = f.create_group("parameters")
        params.attrs["description"] = ("the run's description: config (JSON: model parameters, run "
                                       "settings, options), kind, seed, version; model arrays below")
        config = {"model": self.model.parameters(), "run": self._settings, "config": self.extra_config}
        params.attrs["config"] = json.dumps(config)
        params.attrs["kind"] = self.model.kind
        params.attrs["seed"] = str(simulation.seed)
        params.attrs["version"] = __version__
        for name, array in self.model.parameter_arrays().items():
            array = np.asarray(array)
            if array.dtype.kind in "UO":
                params.create_dataset(name, data=array.astype(object), dtype=h5py.string_dtype())
            else:
                params.create_dataset(name, data=array)
            params[name].attrs["description"] = f"model parameter array {name} (see config)"
        meta = f.create_group("fastwalk")
        meta.attrs["run_id"] = secrets.token_hex(8)  # names this file's run in its checkpoints
        meta.attrs["recent_steps"] = np.array([-simulation.burn_in], dtype=np.int64)
        meta.attrs["description"] = ("run status (running, completed, interrupted, error), last "
                                     "committed step, commits; in-kernel accumulators below")
        meta.attrs["status"] = "running"
        meta.attrs["committed_step"] = -simulation.burn_in
        meta.attrs["commits"] = 0  # until the first commit, nothing (not even step 0) is committed
        meta.attrs["target_steps"] = simulation.steps
        meta.create_group("accumulators").attrs["description"] = (
            "in-kernel accumulators (visit counts, histograms) as of the last commit")
        f.flush()

    def _reopen(self, simulation) -> None:
        self.file = h5py.File(self.path, "r+", libver=LIBVER)
        for group in ("fastwalk/accumulators", "observables", "particles/walkers/box", "parameters"):
            if not isinstance(self.file[group], h5py.Group):  # a KeyError where it is missing
                raise TypeError(f"/{group} is not a group")
        self._space = _guard(self.file)
        self._sync = _BackgroundSync(self.file.id.get_vfd_handle(), self.path)
        checkpoint.remove_staged(self.path)  # left by a run killed while publishing one
        if not isinstance(self.file["particles/walkers/box"].get("edges"), h5py.Dataset):
            self._edges = self._edges_beside_frames(simulation.every > 0)  # (older files: one dataset)
        step = self._resume_step
        every, observe_every, total = simulation.every, simulation.observe_every, simulation.steps

        def on_frame_schedule(s):
            return s <= step and every > 0 and s % every == 0

        def on_observable_schedule(s):
            return s <= step and (s % observe_every == 0 or s == total)

        for path, is_frame in self._existing_elements():
            element = Element(self.file[path], None, None, None)
            element.keep(on_frame_schedule if is_frame else on_observable_schedule)
            self._elements[path] = element
            self._space.add_chunks(element.chunk_bytes())
        meta = self.file["fastwalk"]
        meta.attrs["status"] = "running"
        meta.attrs["target_steps"] = total
        meta.attrs["committed_step"] = step  # what the file now holds: up to the checkpoint
        meta.attrs["recent_steps"] = np.array([step], dtype=np.int64)
        params = self.file["parameters"]
        config = json.loads(params.attrs["config"])
        config["run"] = self._settings
        params.attrs["config"] = json.dumps(config)
        self.file.flush()
        self._space.after_flush()

    def _existing_elements(self):
        found = []
        walkers = self.file["particles/walkers"]
        for name in walkers:
            if name != "box":
                found.append((f"particles/walkers/{name}", True))
        if isinstance(walkers["box"].get("edges"), h5py.Group):
            found.append((EDGES, True))
        for name in self.file["observables"]:
            found.append((f"observables/{name}", False))
        return found

    def _write_box(self, box: h5py.Group, frames: bool) -> None:
        """Write the H5MD box; edges go beside each position frame when frames are recorded.

        H5MD 1.1 lets ``edges`` be a time-dependent element, and MDAnalysis
        reads the box of frame ``i`` from row ``i`` of ``edges/value``.
        """
        info = self.model.box()
        dim = int(info["dimension"])
        box.attrs["dimension"] = dim
        boundary = info.get("boundary", "none")
        box.attrs["boundary"] = np.array([boundary] * dim, dtype=h5py.string_dtype())
        box.attrs["description"] = (f"simulation box: {dim} dimensions, boundary {boundary}"
                                    + (", edge lengths in edges" if info.get("edges") is not None else ""))
        self._edges = self._edges_beside_frames(frames)
        if info.get("edges") is not None and self._edges is None:
            box.create_dataset("edges", data=np.asarray(info["edges"], dtype=np.float64))
            box["edges"].attrs["description"] = _DESCRIPTIONS[EDGES]

    def _edges_beside_frames(self, frames: bool) -> np.ndarray | None:
        """Return the box edges to record with each position frame, or None (static or no edges)."""
        edges = self.model.box().get("edges")
        if edges is None or not frames or self.model.frame_name != "position":
            return None
        return np.asarray(edges, dtype=np.float64)

    def _append(self, path: str, step: int, time: float, value) -> None:
        value = np.asarray(value)
        element = self._elements.get(path)
        if element is None:
            self._space.before_write(0)
            group = self.file.require_group(path)
            element = Element(group, value.shape, value.dtype, self.compression)
            group.attrs["description"] = group["value"].attrs["description"] = _describe_values(
                path, value.shape)
            self._elements[path] = element
            self._space.add_chunks(element.chunk_bytes())
        self._space.before_write(element.stored_row_bytes)
        element.append(step, time, value)

    def _commit_file(self, step, state) -> None:
        f = self.file
        if state is not None:
            acc = f["fastwalk/accumulators"]
            for name, value in self.model.accumulators(state).items():
                value = np.asarray(value)
                self._space.before_write(2 * value.nbytes)
                if name in acc and acc[name].shape == value.shape and acc[name].dtype == value.dtype:
                    acc[name][...] = value
                else:
                    if name in acc:
                        del acc[name]
                    acc.create_dataset(name, data=value)
                    acc[name].attrs["description"] = (f"in-kernel accumulator {name} as of the step "
                                                      "in its step attribute")
                acc[name].attrs["step"] = step
        for element in self._elements.values():
            element.write_pending()
        # rows, shapes and chunk index reach the disk before any count that points at them
        f.flush()
        for element in self._elements.values():
            element.mark_committed()
        meta = f["fastwalk"]
        # the checkpoint beside the file is of one of its last three commits: a commit's checkpoint
        # is published in the background while the run goes on to the next (see api.resume)
        recent = [int(s) for s in meta.attrs.get("recent_steps", [])][-2:] + [int(step)]
        meta.attrs["recent_steps"] = np.array(recent, dtype=np.int64)
        meta.attrs["committed_step"] = step
        meta.attrs["commits"] = int(meta.attrs.get("commits", 0)) + 1
        f.flush()
        self._space.after_flush()

    def _guarded(self, fn, *args):
        try:
            return fn(*args)
        except NoSpace as exc:
            self._failure = self._failure or "space"
            problem = _short(exc)
            raise FastwalkError(f"cannot write {self.path} ({problem}); {self._salvage(problem)}") from None
        except (OSError, RuntimeError) as exc:
            self._failure = "hdf5"
            problem = _short(exc)
            raise FastwalkError(f"cannot write {self.path} ({problem}); {self._salvage(problem)}") from None

    def _salvage(self, problem: str) -> str:
        """Say what survives a write error and what to do next."""
        remedy = _remedy(problem)
        try:
            meta = self.file["fastwalk"]
            commits, step = int(meta.attrs.get("commits", 0)), int(meta.attrs["committed_step"])
        except (OSError, RuntimeError, ValueError, KeyError, TypeError):
            commits, step = 0, 0
        if commits == 0:
            return f"nothing was committed yet — {remedy} and start the run again"
        return (f"everything committed up to step {step} is intact — {remedy} and run "
                f"`fastwalk resume {self.path}`")

    def _abandon(self) -> None:
        """Leave the file open for good after HDF5 failed a write.

        Closing the file or its datasets after a failed flush can crash HDF5;
        holding one extra reference to each of them for the rest of the process
        keeps HDF5 from ever closing them. The file on disk stays as the last
        successful flush left it (what a kill at that moment would leave).
        """
        if self.file is None:
            return
        if self._space is not None:
            self._space.release()
        if self._sync is not None:
            self._sync.abandon()
            self._sync = None
        held = [self.file, *(ds for element in self._elements.values()
                             for ds in (element.group, element.step, element.time, element.value))]
        for obj in held:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))
        _ABANDONED.extend(held)
        self.file = None

    def _close_quietly(self) -> None:
        if self._sync is not None:
            try:
                self._sync.close()  # it fsyncs through the file's descriptor
            except FastwalkError:
                pass
            self._sync = None
        if self.file is not None:
            try:
                self.file.close()
            except (OSError, RuntimeError, ValueError):
                pass
            self.file = None


#: the time-dependent box edges element
EDGES = "particles/walkers/box/edges"
_DESCRIPTIONS = {
    "particles/walkers/position": "walker positions [frame][walker][dimension], in reduced units",
    "particles/walkers/node": "node index of each walker [frame][walker]",
    EDGES: "edge lengths of the periodic box [dimension], in reduced units (the same at every frame)",
}


def _describe_values(path: str, shape: tuple[int, ...]) -> str:
    """Say what the ``value`` dataset of the element at ``path`` holds."""
    if path in _DESCRIPTIONS:
        return _DESCRIPTIONS[path]
    name = path.rsplit("/", 1)[-1]
    per = f" of shape {list(shape)}" if shape else ""
    return f"ensemble observable {name}{per} at each record, in reduced units (see /parameters)"


#: HDF5 objects of files abandoned after a failed write (see :meth:`H5MDWriter._abandon`)
_ABANDONED: list = []


def _guard(f: h5py.File) -> SpaceGuard:
    return SpaceGuard(f.id.get_vfd_handle())


def _fsync_h5(f: h5py.File) -> None:
    try:
        handle = f.id.get_vfd_handle()
        os.fsync(handle)
    except (OSError, ValueError, TypeError):
        pass


def _short(exc: BaseException) -> str:
    text = str(exc)
    if "No space" in text or "errno = 28" in text:
        return "disk full"
    if "File too large" in text or "errno = 27" in text or "file-size limit" in text:
        return "file size limit reached"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _remedy(problem: str) -> str:
    return "raise the file-size limit (ulimit -f)" if "limit" in problem else "free disk space"


def _user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"
