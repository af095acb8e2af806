"""Where trials run: one local worker process, or the workers of a Dask cluster.

An executor takes the search's training data once (``payload``) and then runs requests on
it: ``'trial'`` (a :class:`~modelloop.tuning._worker.Job`, cross-validated) and
``'refit'`` (the winner on all rows). Two kinds exist:

* :class:`LocalExecutor` -- ``slots`` spawned worker processes on this machine (one per
  core by default), each running one request at a time; a worker whose request overruns its
  time limit is killed and started again for the next one.
* :class:`DaskExecutor` -- a ``distributed.Client`` on a scheduler (``tcp://host:8786``) or
  on a ``LocalCluster`` it starts (``local[:N]``). The data is scattered to every worker
  once; each trial is one Dask task; ``slots`` trials run at once. A trial past its time
  limit is cancelled (its worker restarted when the scheduler says which one it is); a
  worker that dies costs only the trial it ran (Dask retries it elsewhere, else the trial
  is recorded as failed).

Both raise :class:`~modelloop.tuning._worker.WorkerTimeout` and
:class:`~modelloop.tuning._worker.WorkerError` the same way, so the search does not care
where its trials ran.

>>> parse_cluster("local:2"), parse_cluster("tcp://10.0.0.5:8786")
(('local', 2), ('address', 'tcp://10.0.0.5:8786'))
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any, Protocol

from modelloop.exceptions import ClusterError, ConfigurationError
from modelloop.tuning._worker import (
    Worker,
    WorkerError,
    WorkerTimeout,
    run_request,
)

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "connect",
    "make_executor",
    "parse_cluster",
]

log = logging.getLogger("modelloop.tuning")

CONNECT_TIMEOUT_S = 5.0
_LOCAL_RE = re.compile(r"^local(?::(\d+))?$")
_ADDRESS_RE = re.compile(r"^(tcp|tls|ws|wss|inproc|ucx)://[^\s/]+$")


class Executor(Protocol):
    """What the search needs from the place its trials run.

    ``submit`` starts one request and returns a handle; ``wait`` returns the handles that
    finished within a timeout; ``result`` gives a finished handle's value (or raises
    ``WorkerError``); ``cancel`` stops one. ``run`` sends one request and waits for it.
    ``slots`` requests run at once.
    """

    slots: int
    startup_s: float

    @property
    def alive(self) -> bool: ...

    def prepare(self) -> None: ...

    def submit(self, kind: str, payload: Any, on_fold: Any = None) -> Any: ...

    def wait(self, handles: list[Any], timeout: float) -> list[Any]: ...

    def result(self, handle: Any) -> Any: ...

    def cancel(self, handle: Any) -> None: ...

    def run(self, kind: str, payload: Any, timeout: float, on_fold: Any = None) -> Any: ...

    def close(self) -> None: ...


class _Job:
    """A request in flight on one local worker."""

    def __init__(self, worker: Worker, on_fold: Any) -> None:
        self.worker, self.on_fold = worker, on_fold
        self.done = False
        self.value: Any = None
        self.error: WorkerError | None = None


class LocalExecutor:
    """``slots`` local worker processes (see ``_worker.Worker``), one request each at a time.

    A worker is started when a request first needs it (and again after it was killed), so a
    search that never runs two trials at once starts one process.
    """

    def __init__(self, payload: dict[str, Any], slots: int = 1) -> None:
        self.slots = max(1, int(slots))
        self._workers = [Worker(payload) for _ in range(self.slots)]
        self._busy: dict[int, _Job] = {}

    @property
    def startup_s(self) -> float:
        return max(w.startup_s for w in self._workers)

    @property
    def alive(self) -> bool:
        """Whether a worker is running and idle: a request can start without a restart."""
        return any(w.alive and id(w) not in self._busy for w in self._workers)

    def _idle(self) -> Worker:
        idle = [w for w in self._workers if id(w) not in self._busy]
        if not idle:
            raise RuntimeError("every local worker is busy: wait for one first")
        return next((w for w in idle if w.alive), idle[0])

    def prepare(self) -> None:
        """Start an idle worker's process now, if none is running, so that the next
        request's time limit is not spent starting one."""
        try:
            self._idle().start(timeout=120.0)
        except (WorkerError, WorkerTimeout) as exc:
            # the request that needs it starts it again, and fails with the reason
            log.warning("A worker process did not start: %s", exc)

    def submit(self, kind: str, payload: Any, on_fold: Any = None) -> _Job:
        """Start ``kind`` on an idle worker (starting its process first, if need be)."""
        worker = self._idle()
        job = _Job(worker, on_fold)
        try:
            worker.start(timeout=120.0)
            worker.send(kind, payload)
        except (WorkerError, WorkerTimeout, OSError) as exc:
            worker.kill()
            job.done, job.error = True, WorkerError(str(exc))
            return job
        self._busy[id(worker)] = job
        return job

    def wait(self, handles: list[_Job], timeout: float) -> list[_Job]:
        """The handles among ``handles`` that finished within ``timeout`` seconds."""
        from multiprocessing.connection import wait as wait_conns

        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            finished = [h for h in handles if h.done]
            if finished:
                return finished
            pending = {h.worker.conn: h for h in handles if h.worker.conn is not None}
            left = deadline - time.monotonic()
            if not pending or left <= 0:
                return []
            for conn in wait_conns(list(pending), timeout=min(left, 86_400)):
                job = pending[conn]
                try:
                    done, value = job.worker.receive(job.on_fold)
                except WorkerError as exc:
                    done, value, job.error = True, None, exc
                if done:
                    job.done, job.value = True, value
                    self._busy.pop(id(job.worker), None)

    def result(self, handle: _Job) -> Any:
        if handle.error is not None:
            raise handle.error
        return handle.value

    def cancel(self, handle: _Job) -> None:
        """Stop ``handle``'s request: its worker is killed (and restarted when next needed)."""
        if not handle.done:
            handle.worker.kill()
            handle.done, handle.error = True, WorkerError("cancelled")
        self._busy.pop(id(handle.worker), None)

    def run(self, kind: str, payload: Any, timeout: float, on_fold: Any = None) -> Any:
        """One request on an idle worker, waited for at most ``timeout`` seconds (its start
        included); ``WorkerTimeout`` when it overruns."""
        return self._idle().run(kind, payload, timeout, on_fold)

    def close(self) -> None:
        for worker in self._workers:
            worker.close()
        self._busy.clear()


def parse_cluster(spec: str) -> tuple[str, Any]:
    """``('local', n_workers)`` for ``local[:N]``, ``('address', url)`` for a scheduler URL.

    >>> parse_cluster("local")
    ('local', 2)
    >>> parse_cluster("8786")
    Traceback (most recent call last):
    ...
    modelloop.exceptions.ConfigurationError: --cluster must be 'local', 'local:N' (N worker processes) or a scheduler address such as 'tcp://host:8786'. Got '8786'.
    """
    text = str(spec).strip()
    local = _LOCAL_RE.match(text)
    if local:
        n = int(local.group(1)) if local.group(1) else min(os.cpu_count() or 1, 2)
        if n < 1:
            raise ConfigurationError(f"--cluster local:N needs N >= 1 worker. Got {text!r}.")
        return "local", n
    if _ADDRESS_RE.match(text):
        return "address", text
    raise ConfigurationError(
        "--cluster must be 'local', 'local:N' (N worker processes) or a scheduler address "
        f"such as 'tcp://host:8786'. Got {text!r}."
    )


def connect(spec: str, *, timeout: float = CONNECT_TIMEOUT_S) -> tuple[Any, Any]:
    """A ``distributed.Client`` for ``spec`` and the ``LocalCluster`` it started (or ``None``).

    An unreachable scheduler raises ``ClusterError`` after ``timeout`` seconds.
    """
    kind, value = parse_cluster(spec)
    from distributed import Client, LocalCluster

    if kind == "local":
        try:
            cluster = LocalCluster(
                n_workers=value,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        except Exception as exc:
            raise ClusterError(
                f"Could not start a local Dask cluster of {value} worker processes: {exc}"
            ) from exc
        try:
            return Client(cluster, timeout=max(timeout, 30.0)), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        client = Client(value, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"Cannot reach the Dask scheduler at {value} within {timeout:g} s ({exc}). "
            "Check the address and that `dask scheduler` runs there, or use --cluster local."
        ) from exc
    return client, None


class DaskExecutor:
    """Trials as Dask tasks on the workers of a cluster; the data scattered once.

    Parameters
    ----------
    payload : the training data and settings every trial needs (as ``WorkerPool`` takes).
    spec : ``'local[:N]'``, a scheduler address, or a ``distributed.Client`` of the caller's
        (used as it is and left open).
    """

    def __init__(self, payload: dict[str, Any], spec: Any) -> None:
        started = time.monotonic()
        self.spec = spec
        self._owns = isinstance(spec, str)
        if self._owns:
            self.client, self._cluster = connect(spec)
        else:
            self.client, self._cluster = spec, None
        try:
            if not self.client.scheduler_info().get("workers"):
                self.client.wait_for_workers(1, timeout=30)
            self._payload = payload
            self._scatter()
        except Exception as exc:
            self.close()
            raise ClusterError(
                f"The Dask cluster at {spec} has no worker that accepts the data: {exc}"
            ) from exc
        self.startup_s = time.monotonic() - started
        self._slots = self._count_slots()

    def _scatter(self) -> None:
        # One copy per worker: trials refer to it, nothing is sent again per trial.
        [self._data] = self.client.scatter([self._payload], broadcast=True, hash=False)

    def _count_slots(self) -> int:
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    @property
    def slots(self) -> int:
        return self._slots

    @property
    def alive(self) -> bool:
        return self.client.status == "running"

    def prepare(self) -> None:
        """Nothing to start: the cluster's workers are running."""

    def submit(self, kind: str, payload: Any, on_fold: Any = None) -> Any:
        """Start one request; returns its future (fold scores are not streamed back)."""
        if self._data.status != "finished":  # every worker holding the data died
            self._scatter()
        return self.client.submit(run_request, kind, payload, self._data, pure=False)

    def wait(self, futures: list[Any], timeout: float) -> list[Any]:
        """The futures that finished (or failed) within ``timeout`` seconds."""
        from distributed import wait
        from distributed.client import CancelledError

        try:
            wait(futures, timeout=max(timeout, 0.0), return_when="FIRST_COMPLETED")
        except TimeoutError:
            pass  # nothing finished in time: the caller decides what that means
        except CancelledError:
            pass  # a future whose worker died came back cancelled: that ends the wait too
        return [f for f in futures if f.done() or f.status in ("cancelled", "lost")]

    def result(self, future: Any) -> Any:
        """The value of a finished future; ``WorkerError`` when it failed or its worker died."""
        from distributed import KilledWorker

        if future.status == "finished":
            return future.result()
        try:
            exc = future.exception(timeout=5)
        except Exception as inner:  # cancelled, or the scheduler forgot it
            raise WorkerError(f"the Dask task was lost ({type(inner).__name__})") from None
        if exc is None or isinstance(exc, KilledWorker):
            raise WorkerError("the Dask worker running it died (out of memory?)")
        if isinstance(exc, WorkerError):
            raise exc
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        raise WorkerError(message)

    def cancel(self, future: Any) -> None:
        """Stop waiting for ``future``; restart the worker still computing it, where known."""
        address = None
        try:
            address = self.client.run_on_scheduler(_processing_on, future.key)
        except Exception:
            address = None
        future.cancel()
        if address:
            try:
                self.client.restart_workers([address], timeout=30, raise_for_error=False)
            except Exception as exc:  # the trial is cancelled either way; say why not restarted
                log.warning("Could not restart the Dask worker at %s: %s", address, exc)

    def run(self, kind: str, payload: Any, timeout: float, on_fold: Any = None) -> Any:
        """One request, waited for at most ``timeout`` seconds (``on_fold`` is not called)."""
        future = self.submit(kind, payload)
        done = self.wait([future], timeout)
        if not done:
            self.cancel(future)
            raise WorkerTimeout(f"stopped at its time limit of {timeout:.1f} s")
        return self.result(future)

    def close(self) -> None:
        """Release the data (a caller's client stays open) or shut down what was started.

        Shutting down cannot fail the search, whose results are made: a failure is logged.
        """
        if not self._owns:
            _logged("release the scattered data", self.client.cancel, [self._data])
            return
        _logged("close the Dask client", self.client.close, timeout=10)
        if self._cluster is not None:
            _logged("close the local Dask cluster", self._cluster.close, timeout=10)


def _logged(what: str, call: Any, *args: Any, **kwargs: Any) -> None:
    """``call(*args, **kwargs)``; a failure is logged at WARNING, not raised."""
    try:
        call(*args, **kwargs)
    except Exception as exc:
        log.warning("Could not %s: %s", what, exc)


def _processing_on(key: Any, dask_scheduler: Any = None) -> str | None:
    task = dask_scheduler.tasks.get(key) if dask_scheduler is not None else None
    worker = getattr(task, "processing_on", None)
    return None if worker is None else worker.address


def make_executor(payload: dict[str, Any], cluster: Any, slots: int = 1) -> Any:
    """A ``LocalExecutor`` of ``slots`` worker processes without ``cluster``, else a
    ``DaskExecutor`` on it (a spec string or a ``distributed.Client``)."""
    if not cluster:
        return LocalExecutor(payload, slots)
    return DaskExecutor(payload, cluster)
