"""Data sets for network losses: ``.npz`` or HDF5 files holding ``x`` [n, in] and ``y``.

``x`` is real [n, in]; ``y`` is real [n, out] for the ``mse`` loss and integer labels
[n] (or [n, 1]) in 0 … out − 1 for ``xent``. Both are read into float64 (labels int64),
C-ordered. A data set is identified by the SHA-256 of its contents (:func:`content_hash`:
shapes, dtypes and bytes of the arrays as used), recorded with the file's path in every
run, so that ``resume`` refuses data that changed since.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "load_data", "make_dataset", "content_hash", "read_arrays"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Validated inputs and targets of a network loss.

    Attributes
    ----------
    x : numpy.ndarray
        float64 [n, in], C-ordered.
    y : numpy.ndarray
        float64 [n, out] (``mse``) or int64 [n] labels (``xent``).
    loss : str
        ``mse`` or ``xent``.
    path : str or None
        The file it was read from (None for arrays given in Python).
    sha256 : str
        ``content_hash`` of (x, y).
    """

    x: np.ndarray
    y: np.ndarray
    loss: str
    path: str | None
    sha256: str

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.x.shape[0]


def content_hash(x: np.ndarray, y: np.ndarray) -> str:
    """Return the SHA-256 (hex) of the arrays' dtypes, shapes and bytes.

    Parameters
    ----------
    x, y : numpy.ndarray
        The arrays as the loss uses them (float64 x, float64 or int64 y).

    Returns
    -------
    str
        64 hex digits.
    """
    digest = hashlib.sha256()
    for array in (x, y):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def make_dataset(x, y, loss: str, inputs: int, outputs: int, path: str | None = None) -> Dataset:
    """Check arrays against a network's widths and a loss; return the :class:`Dataset`.

    Parameters
    ----------
    x, y : array_like
        Inputs [n, in] and targets [n, out] (``mse``) or labels [n] (``xent``).
    loss : {"mse", "xent"}
        The loss.
    inputs, outputs : int
        The network's input and output widths.
    path : str, optional
        Where the arrays came from (named in messages).

    Returns
    -------
    fastwalk.data.Dataset
        The arrays as float64 (labels int64), C-ordered, and their hash.

    Raises
    ------
    ValueError
        Naming the array, what is wrong (shape, dtype, NaN, a label out of range) and the fix.

    Examples
    --------
    >>> data = make_dataset([[0.0, 1.0], [1.0, 0.0]], [0, 1], "xent", inputs=2, outputs=2)
    >>> data.x.dtype, data.y.tolist(), len(data.sha256)
    (dtype('float64'), [0, 1], 64)
    """
    where = f"data {path}" if path else "data"
    x = _real(where, "x", x)
    if x.ndim != 2 or x.shape[1] != inputs or x.shape[0] < 1:
        raise ValueError(f"{where}: x has shape {x.shape}, the network needs [n, {inputs}] with n >= 1")
    y = np.asarray(y)
    if loss == "mse":
        y = _real(where, "y", y)
        if y.ndim == 1 and outputs == 1:
            y = y[:, None]
        if y.shape != (x.shape[0], outputs):
            raise ValueError(f"{where}: y has shape {y.shape}, the network and x need "
                             f"[{x.shape[0]}, {outputs}]")
    else:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(np.isfinite(y))
                                             and np.all(y == np.round(y))):
            raise ValueError(f"{where}: y is {y.dtype}; the xent loss needs integer class labels")
        if y.shape != (x.shape[0],):
            raise ValueError(f"{where}: y has shape {y.shape}, xent needs [{x.shape[0]}] labels")
        if y.size and (y.min() < 0 or y.max() >= outputs):
            bad = y[(y < 0) | (y >= outputs)][0]
            raise ValueError(f"{where}: label {bad} is out of range; the network has {outputs} "
                             f"outputs, so labels must be 0 .. {outputs - 1}")
        y = np.ascontiguousarray(y, dtype=np.int64)
    return Dataset(x, y, loss, path, content_hash(x, y))


def _real(where: str, name: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "fiu" or array.dtype == bool:
        raise ValueError(f"{where}: {name} is {array.dtype}; it must hold real numbers")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: {name} holds NaN or infinite values; remove or impute them")
    return array


def load_data(path, loss: str, inputs: int, outputs: int) -> Dataset:
    """Read and check a data file (``.npz``, or HDF5 ``.h5``/``.hdf5``) with arrays ``x`` and ``y``.

    Parameters
    ----------
    path : path-like
        The file.
    loss : {"mse", "xent"}
        The loss the data are for.
    inputs, outputs : int
        The network's input and output widths.

    Returns
    -------
    fastwalk.data.Dataset
        See :func:`make_dataset`.

    Raises
    ------
    ValueError
        If the file is missing, unreadable, lacks ``x`` or ``y``, or fails :func:`make_dataset`.

    Examples
    --------
    >>> import numpy as np
    >>> np.savez("data.npz", x=np.eye(3), y=np.eye(3))
    >>> data = load_data("data.npz", "mse", inputs=3, outputs=3)
    >>> data.x.shape, data.path
    ((3, 3), 'data.npz')
    """
    x, y = read_arrays(path)
    return make_dataset(x, y, loss, inputs, outputs, str(path))


def read_arrays(path):
    """Return the raw arrays ``x`` and ``y`` of a data file (unchecked; see :func:`load_data`).

    Parameters
    ----------
    path : path-like
        An ``.npz`` or HDF5 file.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y)`` as stored.

    Raises
    ------
    ValueError
        If the file is missing, unreadable or lacks ``x`` or ``y``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist; give an .npz or HDF5 file with arrays x and y")
    try:
        return _read_arrays(path)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ValueError(f"data file {path} cannot be read as .npz or HDF5 with arrays x and y "
                         f"({type(exc).__name__}: {exc})") from None


def _read_arrays(path: Path):
    import h5py

    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as handle:
            missing = [k for k in ("x", "y") if not isinstance(handle.get(k), h5py.Dataset)]
            if missing:
                raise KeyError(f"no dataset {missing[0]!r}")
            return handle["x"][()], handle["y"][()]
    with np.load(path, allow_pickle=False) as archive:
        missing = [k for k in ("x", "y") if k not in archive.files]
        if missing:
            raise KeyError(f"no array {missing[0]!r}")
        return archive["x"], archive["y"]
