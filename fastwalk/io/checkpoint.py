"""Atomic checkpoints of a run's full state, beside its HDF5 file.

A checkpoint holds the step, the run settings and every state array (the
generator records as ``uint64`` words), so a resumed run continues
bit-identically. It is written to a temporary file in the same directory,
fsynced, renamed over ``<output>.ckpt`` and the directory fsynced: a kill
at any moment leaves either the old or the new checkpoint, never a mix.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from fastwalk import rng
from fastwalk.errors import FileFormatError
from fastwalk.io.output import sidecar

SUFFIX = ".ckpt"
_FORMAT = 1


def checkpoint_path(output: str | os.PathLike) -> Path:
    """Return the checkpoint path that belongs to an output file (see :func:`~fastwalk.io.output.sidecar`)."""
    return sidecar(output, SUFFIX)


#: what :func:`tempfile.mkstemp` adds to a staged checkpoint's prefix: 8 random characters, ".tmp"
_STAGED_ROOM = 8 + len(".tmp")


def _staged_prefix(output) -> str:
    """Return the name prefix of ``output``'s staged checkpoints (``<output>.ckpt.``, fitted)."""
    return sidecar(output, SUFFIX + ".", room=_STAGED_ROOM).name


def write_checkpoint(output, step: int, settings: dict, state: dict[str, np.ndarray]) -> Path:
    """Atomically write the checkpoint of ``output`` at ``step``.

    Parameters
    ----------
    output : path-like
        The run's HDF5 file; the checkpoint goes to ``output + ".ckpt"``.
    step : int
        Steps done after burn-in (negative during burn-in).
    settings : dict
        JSON-able run description (model parameters, run settings).
    state : dict of numpy.ndarray
        The model state; ``state["rng"]`` holds generator records.

    Returns
    -------
    pathlib.Path
        The checkpoint path.
    """
    return publish_checkpoint(stage_checkpoint(output, step, settings, state), output)


def stage_checkpoint(output, step: int, settings: dict, state: dict[str, np.ndarray]) -> Path:
    """Write the checkpoint to a temporary file beside ``output``; :func:`publish_checkpoint` it.

    The two halves of :func:`write_checkpoint`: staging copies the state (so
    the caller may go on changing it at once), publishing makes it durable
    and visible, and may run later on another thread. Parameters as for
    :func:`write_checkpoint`.

    Returns
    -------
    pathlib.Path
        The temporary file (removed again if writing it failed).
    """
    target = checkpoint_path(output)
    arrays = {f"state/{k}": (rng.state_words(v) if k == "rng" else v) for k, v in state.items()}
    meta = {"format": _FORMAT, "step": int(step), "settings": settings}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=_staged_prefix(output), suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def remove_staged(output) -> None:
    """Delete staged checkpoints of ``output`` that a killed run left unpublished.

    Call only while holding ``output`` open for writing (HDF5 locks it, so
    no other run of it can be staging one).

    Parameters
    ----------
    output : path-like
        The run's HDF5 file.
    """
    target = checkpoint_path(output)
    for stale in target.parent.glob(glob.escape(_staged_prefix(output)) + "*.tmp"):
        stale.unlink(missing_ok=True)


def publish_checkpoint(staged: Path, output) -> Path:
    """Make a staged checkpoint durable and replace ``output``'s checkpoint with it.

    fsync the staged file, rename it over ``<output>.ckpt``, fsync the
    directory: a kill at any moment leaves the old or the new checkpoint.

    Parameters
    ----------
    staged : pathlib.Path
        The file :func:`stage_checkpoint` returned (removed if this fails).
    output : path-like
        The run's HDF5 file.

    Returns
    -------
    pathlib.Path
        The checkpoint path.
    """
    target = checkpoint_path(output)
    try:
        fd = os.open(staged, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(staged, target)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)
    return target


def read_checkpoint(output) -> tuple[int, dict, dict[str, np.ndarray]]:
    """Read the checkpoint of ``output``.

    Parameters
    ----------
    output : path-like
        The run's HDF5 file.

    Returns
    -------
    step : int
        Steps done after burn-in when it was written.
    settings : dict
        The run description given to :func:`write_checkpoint`.
    state : dict of numpy.ndarray
        The model state, generator records restored.
    """
    path = checkpoint_path(output)
    if not path.exists():
        raise FileFormatError(
            f"no checkpoint {path} next to {output}; only runs written by fastwalk with their "
            ".ckpt file can be resumed"
        )
    if not path.is_file():  # a FIFO would block np.load
        from fastwalk.io.output import describe_kind

        raise FileFormatError(f"checkpoint {path} is {describe_kind(path)}, not a regular file")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            state = {
                key.removeprefix("state/"): data[key] for key in data.files if key.startswith("state/")
            }
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise FileFormatError(
            f"checkpoint {path} is damaged or not a fastwalk checkpoint ({type(exc).__name__}); "
            f"put back a good copy, or start {output} again with --overwrite"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise FileFormatError(f"checkpoint {path} has unknown format {found!r}")
    if type(meta.get("step")) is not int or "settings" not in meta:
        raise damaged(path, output, "its step or its description of the run is malformed")
    words = state.get("rng")
    if words is None or words.dtype != np.uint64 or words.ndim != 2 or words.shape[1] != 4:
        raise damaged(path, output, "its generator states are missing or malformed")
    state["rng"] = rng.states_from_words(words)
    return int(meta["step"]), meta["settings"], state


def damaged(path: Path, output, problem: str) -> FileFormatError:
    """Return the error for a checkpoint that cannot be trusted, and what to do about it.

    Parameters
    ----------
    path : pathlib.Path
        The checkpoint.
    output : path-like
        The run's HDF5 file.
    problem : str
        What is wrong with the checkpoint.

    Returns
    -------
    fastwalk.errors.FileFormatError
        To raise.
    """
    return FileFormatError(f"checkpoint {path} is damaged or edited: {problem}; put back a good copy, "
                           f"or start {output} again with --overwrite")


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort where unsupported).

    Parameters
    ----------
    directory : pathlib.Path
        The directory whose entries changed.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
