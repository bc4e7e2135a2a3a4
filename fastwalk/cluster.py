"""Reaching a Dask cluster and running tasks on it (or here, one at a time).

:func:`connect` turns a ``--dask`` value into a client; the executors give
:class:`fastwalk.distributed.PartitionedRun` one interface to submit tasks and
wait for the next finished one, whether they run on a cluster or in this
process. Needs the ``distributed`` extra only when a cluster is used.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections import deque

from fastwalk.errors import ClusterError, FastwalkError

__all__ = ["connect", "parse_address", "default_partitions", "executor", "DASK_MISSING", "CONNECT_TIMEOUT_S"]

#: the one line shown when --dask is used without the extra installed
DASK_MISSING = ('--dask needs Dask\'s distributed scheduler, which is not installed; '
                'install it with: pip install "fastwalk[distributed]"')
#: seconds to wait for a scheduler before giving up
CONNECT_TIMEOUT_S = 5.0
#: seconds a failed task waits to tell a lost scheduler from a failed task
LOST_WAIT_S = 2.0
#: ``local:N`` starts at most this many worker processes per core this process may use
#: (each is a Python process with NumPy and numba loaded, ~200 MB, and one thread)
LOCAL_WORKERS_PER_CORE = 4

_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss)://)?(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")
_LOCAL = re.compile(r"^local(?::(\d+))?$")


def parse_address(text: str) -> tuple[str, int | None]:
    """Check a ``--dask`` value: ``local``, ``local:N`` or a scheduler address.

    Parameters
    ----------
    text : str
        ``local`` (one worker per core), ``local:N`` (N worker processes, at
        most ``LOCAL_WORKERS_PER_CORE`` per core) or
        ``[tcp://]host:port``.

    Returns
    -------
    (str, int or None)
        ``("local", workers)`` or ``(address, None)``.

    Raises
    ------
    ValueError
        If ``text`` is none of these, or ``local:N`` asks for more than
        ``LOCAL_WORKERS_PER_CORE`` processes per core of this machine.
    """
    text = str(text).strip()
    local = _LOCAL.match(text)
    if local:
        workers = int(local.group(1)) if local.group(1) else _cores()
        most = LOCAL_WORKERS_PER_CORE * _cores()
        if workers < 1:
            raise ValueError(f"--dask {text}: local:N needs N >= 1 worker processes")
        if workers > most:
            raise ValueError(f"--dask {text}: at most {most} local worker processes on this machine "
                             f"({LOCAL_WORKERS_PER_CORE} per core, {_cores()} cores); use local:{most} "
                             "or fewer, or the address of a cluster")
        return "local", workers
    if not _ADDRESS.match(text):
        raise ValueError(f"--dask {text!r} is not a scheduler address; give tcp://HOST:PORT, "
                         "local (one worker per core) or local:N")
    port = int(text.rsplit(":", 1)[1])
    if not 0 < port < 65536:
        raise ValueError(f"--dask {text!r}: port {port} is out of range 1..65535")
    return (text if "://" in text else f"tcp://{text}"), None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def connect(text: str, timeout: float = CONNECT_TIMEOUT_S):
    """Connect to ``--dask`` (or start a local cluster of processes); return ``(client, close)``.

    Parameters
    ----------
    text : str
        As for :func:`parse_address`.
    timeout : float
        Seconds to wait for the scheduler.

    Returns
    -------
    (distributed.Client, callable)
        The client, and a function that closes it (and the local cluster).

    Raises
    ------
    ImportError
        If ``distributed`` is not installed (message :data:`DASK_MISSING`).
    ValueError
        If the address is malformed.
    fastwalk.errors.ClusterError
        If the scheduler cannot be reached within ``timeout`` (exit status 2).

    Examples
    --------
    A scheduler address connects to it; ``local:N`` starts N single-thread worker
    processes (a script doing so needs the ``if __name__ == "__main__":`` guard):

    >>> from fastwalk.cluster import connect
    >>> client = connect("tcp://127.0.0.1:8786")   # doctest: +SKIP
    """
    address, workers = parse_address(text)
    try:
        import distributed
    except ImportError:
        raise ImportError(DASK_MISSING) from None
    if workers is not None:
        import logging

        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=":0",
                                           silence_logs=logging.CRITICAL)
        client = distributed.Client(cluster)

        def close():
            client.close()
            cluster.close()

        return client, close
    try:
        client = distributed.Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                           f"({_short(exc)}); start one (dask scheduler) or check the address",
                           exit_code=2) from None
    return client, client.close


def default_partitions(client, walkers: int) -> int:
    """Return two partitions per worker (for load balance), at most one per walker.

    Parameters
    ----------
    client : distributed.Client or None
        The cluster's client (None: one partition).
    walkers : int
        Ensemble size.

    Returns
    -------
    int
        The number of partitions.
    """
    if client is None:
        return 1
    workers = len(client.scheduler_info(n_workers=-1)["workers"]) or 1
    return max(1, min(walkers, 2 * workers))


# ---------------------------------------------------------------------------------- executors
def executor(client):
    """Return where tasks run: on ``client``'s cluster, or here when it is None."""
    return InProcessExecutor() if client is None else DaskExecutor(client)


class InProcessExecutor:
    """Run tasks here, one at a time, in submission order."""

    def __init__(self):
        self._queue: deque = deque()

    def share(self, value):
        """Return ``value``: tasks here take it as it is."""
        return value

    def submit(self, fn, *args):
        token = object()
        self._queue.append((token, fn, args))
        return token

    def next_done(self, stop):
        token, fn, args = self._queue.popleft()
        return token, fn(*args)

    def cancel_all(self):
        self._queue.clear()


class DaskExecutor:
    """Run tasks on a Dask cluster; wait in short slices so signals are honoured."""

    #: an argument of every task (the model) whose pickle exceeds this many bytes is sent to each
    #: worker once (:meth:`share`) instead of inside every task
    SHARE_BYTES = 1 << 20

    def __init__(self, client):
        from distributed import wait

        self.client, self._wait = client, wait
        self.pending: set = set()

    def share(self, value):
        """Return ``value``, or a future of it held by every worker when its pickle is large.

        A model that carries arrays (data given from Python) would otherwise travel inside
        every task; shared, a worker receives it once (again only where Dask's active memory
        manager dropped its replica and a later task there needs it). Broadcast, not scattered
        to one worker, so that losing a worker loses no copy while another worker lives; small
        values stay inside the tasks, which a fresh worker can rerun from what the scheduler
        holds alone.
        """
        import pickle

        if len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)) <= self.SHARE_BYTES:
            return value
        return self.client.scatter(value, broadcast=True, hash=False)

    def submit(self, fn, *args):
        with warnings.catch_warnings():
            # a task's state travels inside the task, so that a lost worker's task can be
            # rerun from what the scheduler holds; Dask warns about large graphs
            warnings.filterwarnings("ignore", message=".*[Ll]arge .*")
            future = self.client.submit(fn, *args, pure=False)
        self.pending.add(future)
        return future

    def next_done(self, stop):
        while True:
            if stop.signal is not None:
                return None
            done = next((f for f in self.pending if f.done()), None)
            if done is not None:
                self.pending.discard(done)
                return done, self._result(done)
            if self.client.status not in ("running", "connecting"):
                raise self._lost(None)
            try:
                self._wait(list(self.pending), timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
            except Exception as exc:  # noqa: BLE001 - anything here means the cluster failed
                raise self._lost(exc) from None

    def _lost(self, exc: BaseException) -> ClusterError:
        cancelled = exc is not None and "Cancelled" in type(exc).__name__
        if cancelled or not self._scheduler_answers():
            return ClusterError(f"lost the Dask scheduler at {self.client.scheduler.address}")
        return ClusterError(f"the Dask cluster failed a task ({type(exc).__name__}: {_short(exc)})")

    def _scheduler_answers(self, wait_s: float = LOST_WAIT_S) -> bool:
        """Whether the client is still connected, ``wait_s`` after a task failed.

        A dead scheduler can surface first as a closed connection while results
        are gathered, a moment before the client notices that it lost the scheduler.
        """
        deadline = time.monotonic() + wait_s
        while self.client.status == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.client.status == "running"

    def _result(self, future):
        try:
            return future.result()
        except FastwalkError:
            raise
        except Exception as exc:  # noqa: BLE001 - KilledWorker, CancelledError, comm errors
            raise self._lost(exc) from None

    def cancel_all(self):
        try:
            self.client.cancel(list(self.pending))
        except Exception:  # noqa: BLE001 - the cluster may be gone already
            pass
        self.pending.clear()


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
