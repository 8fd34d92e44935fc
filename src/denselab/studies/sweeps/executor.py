"""Where a study's training jobs run. A study hands over *units* (lists of jobs trained by one call of `work`,
e.g. `jobs.train_group`; a unit of one job is the single-run path), cut to fit the number of slots (tasks
that run at once), and gets a callback per finished job, so the driver writes each result file as soon as it
exists.

- `local`: this process, one unit after another (today's behaviour), torch using `threads` threads.
- `ray`: every unit is a Ray task (https://docs.ray.io) asking for `threads` CPUs, or one GPU on CUDA. The
  data goes into Ray's object store once (`ray.put`), so each node receives it once and its workers map it
  without copying. A task whose worker process dies is retried (`max_retries`); a task that raises is not.

Either way a unit that fails for good is reported with its error instead of stopping the study; a failed unit
of several jobs is first split and its jobs rerun one by one, so only the job that fails is reported failed.
Ray is an optional extra, imported only here and only for `ray`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from denselab.config import RAY_INSTALL_HINT, Runtime, check_runtime
from denselab.errors import DenselabError

MAX_RETRIES = 3  # Ray reruns a task this many times when its worker process dies (not when the task raises)

Job = Any  # whatever `work` trains (a study's job); the executor only passes it on
Unit = Sequence[tuple[str, Job]]  # (job name, job) pairs that one call of `work` trains together
MakeUnits = Callable[[int], Sequence[Unit]]  # slots (units that run at once) -> the units
Work = Callable[
    [list[Job], Any, Runtime], list[dict[str, Any]]
]  # (jobs, data, runtime) -> one result per job
OnResult = Callable[[str, Job, "dict[str, Any] | None", "str | None"], None]  # (name, job, result, error)


def default_threads(executor: str) -> int:
    """Torch threads per job when --threads-per-job is not given: all of this machine's (torch's default)
    for `local`, one job after another; 1 for `ray`, where jobs run side by side one per core."""
    return torch.get_num_threads() if executor == "local" else 1


def run_units(
    make_units: MakeUnits,
    work: Work,
    data_fn: Callable[[Runtime], Any],
    runtime: Runtime,
    on_result: OnResult,
    done_before: int = 0,
) -> None:
    """Train the units `make_units(slots)` returns on `runtime.executor` (`slots`: how many run at once: 1 for
    `local`, the cluster's CPUs / threads per job (or GPUs) for `ray`) and call `on_result(name, job, result,
    None)` for each job as its unit returns, or `on_result(name, job, None, error)` for a job that failed for
    good (error: one line).

    `data_fn(runtime)` is called once, before the first unit (for `ray` with the device set to cpu: the driver
    needs no GPU). `done_before` jobs (finished earlier) start the progress bar. Raises DenselabError for a
    bad runtime, a missing Ray, an unreachable cluster or a CUDA run on a cluster without GPUs."""
    check_runtime(runtime)
    threads = runtime.threads_per_job or default_threads(runtime.executor)
    run = _run_ray if runtime.executor == "ray" else _run_local
    run(make_units, work, data_fn, runtime, on_result, threads, done_before)


# ------------------------------------------------------------------------------------------------ progress


class _Bar:
    """One bar over jobs: done (finished or failed) out of all, with running / queued / failed counts."""

    def __init__(self, bar: tqdm):
        self.bar, self.failed, self.running, self.queued = bar, 0, 0, 0

    def show(self, running: int, queued: int = 0) -> None:
        if (running, queued) != (self.running, self.queued):
            self.running, self.queued = running, queued
            self._post()

    def _post(self) -> None:
        post = {"running": self.running, "failed": self.failed}
        if self.queued:
            post["queued"] = self.queued
        self.bar.set_postfix(post, refresh=False)

    def finish(self, failed: bool) -> None:
        self.failed += failed
        self._post()
        self.bar.update(1)


@contextlib.contextmanager
def _progress(units: list[Unit], done: int, quiet: bool) -> Iterator[_Bar]:
    bar = tqdm(
        total=done + sum(map(len, units)),
        initial=done,
        desc="jobs",
        unit="job",
        disable=quiet,
        dynamic_ncols=True,
    )
    try:
        yield _Bar(bar)
    finally:
        bar.close()


# --------------------------------------------------------------------------------------------------- units


def _error_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or "(no message)"
    return f"{type(e).__name__}: {text}"


def _train_unit(work: Work, unit: Unit, data: Any, runtime: Runtime) -> list[dict]:
    """What one task runs: `work` on the unit's jobs (one result per job, in order)."""
    results = work([job for _, job in unit], data, runtime)
    if len(results) != len(unit):
        raise RuntimeError(f"training returned {len(results)} results for {len(unit)} jobs")
    return results


def _settle(
    unit: Unit, outcome: list[dict] | BaseException, on_result: OnResult, bar: _Bar, retry: list[Unit]
) -> None:
    """Report a returned unit; a failed unit of several jobs goes back (split into single jobs) to `retry`."""
    if not isinstance(outcome, BaseException):
        for (name, job), result in zip(unit, outcome):
            on_result(name, job, result, None)
            bar.finish(False)
    elif len(unit) > 1:
        retry.extend([pair] for pair in unit)
    else:
        name, job = unit[0]
        on_result(name, job, None, _error_line(outcome))
        bar.finish(True)


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_local(
    make_units: MakeUnits,
    work: Work,
    data_fn: Callable[[Runtime], Any],
    runtime: Runtime,
    on_result: OnResult,
    threads: int,
    done_before: int,
) -> None:
    queue = [list(u) for u in make_units(1) if u]
    if not queue:
        return
    data = data_fn(runtime)
    with _torch_threads(threads), _progress(queue, done_before, runtime.quiet) as bar:
        while queue:
            unit = queue.pop(0)
            bar.show(running=len(unit), queued=sum(map(len, queue)))
            try:
                outcome: list[dict] | BaseException = _train_unit(work, unit, data, runtime)
            except (KeyboardInterrupt, DenselabError):
                raise
            except Exception as e:  # recorded as this job's failure; the study goes on
                outcome = e
            retry: list[Unit] = []
            _settle(unit, outcome, on_result, bar, retry)
            queue[:0] = retry
        bar.show(running=0)


# ----------------------------------------------------------------------------------------------------- ray


def _import_ray(address: str | None):
    """The `ray` module, set up to use 127.0.0.1 when `address` is on this machine (see `loopback_only`)."""
    if _is_loopback(address):
        loopback_only()
    try:
        import ray
    except ImportError:
        raise DenselabError(RAY_INSTALL_HINT) from None
    return ray


def loopback_only() -> None:
    """Make a Ray started (or joined) on this machine use 127.0.0.1 for everything: Ray otherwise advertises,
    and resolves 127.0.0.1 to, this machine's network address. Its switch for that is read when Ray is
    imported (inherited by the processes it starts), so it is also set on an already imported Ray."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = False


def _is_loopback(address: str | None) -> bool:
    """True for no address / `local` (a new Ray on this machine) and for 127.x / localhost addresses."""
    if address in (None, "local"):
        return True
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect(address: str | None, quiet: bool = False) -> bool:
    """Connect this process to Ray: `address` None starts a new Ray on this machine, `auto` joins the cluster
    this machine belongs to, HOST:PORT joins that head. Returns True when it started or joined (the caller
    disconnects), False when this process was already connected (a test, a notebook)."""
    ray = _import_ray(address)
    if ray.is_initialized():
        return False
    start = address in (None, "local")
    try:
        ray.init(
            address=address or "local",
            log_to_driver=not quiet,
            logging_level="WARNING",
            **({"include_dashboard": False} if start else {}),
        )
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise DenselabError(
            f"cannot reach the Ray cluster at --ray-address {address}: {_error_line(e)}"
        ) from None
    return True


def _to_numpy(data: Any) -> Any:
    """`data` with every tensor as a CPU numpy array: Ray stores those once per node and maps them
    zero-copy."""
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    if isinstance(data, (tuple, list)):
        return type(data)(_to_numpy(d) for d in data)
    return data


def _to_torch(data: Any, device: str) -> Any:
    if isinstance(data, np.ndarray):
        with warnings.catch_warnings():  # the mapped array is read-only; training never writes its data
            warnings.simplefilter("ignore", UserWarning)
            return torch.as_tensor(data).to(device)
    if isinstance(data, (tuple, list)):
        return type(data)(_to_torch(d, device) for d in data)
    return data


def _ray_task(
    work: Work,
    unit: Unit,
    data: Any,
    runtime: Runtime,
    threads: int,
) -> list[dict]:
    """Body of one Ray task (a worker process): `threads` torch threads, the shared data as tensors."""
    torch.set_num_threads(threads)
    return _train_unit(work, unit, _to_torch(data, runtime.device), runtime)


def _slots(ray, threads: int, gpu: bool) -> int:
    """How many tasks the cluster runs at once (for the progress bar's running / queued split)."""
    res = ray.cluster_resources()
    return max(1, int(res.get("GPU", 0)) if gpu else int(res.get("CPU", 1) // threads))


def _run_ray(
    make_units: MakeUnits,
    work: Work,
    data_fn: Callable[[Runtime], Any],
    runtime: Runtime,
    on_result: OnResult,
    threads: int,
    done_before: int,
) -> None:
    ray = _import_ray(runtime.ray_address)
    started = connect(runtime.ray_address, quiet=runtime.quiet)
    try:
        gpu = runtime.device.startswith("cuda")
        if gpu and not ray.cluster_resources().get("GPU"):
            raise DenselabError("--device cuda: the Ray cluster has no GPU")
        slots = _slots(ray, threads, gpu)
        units = [list(u) for u in make_units(slots) if u]
        if units:
            with _progress(units, done_before, runtime.quiet) as bar:
                _dispatch(ray, units, work, data_fn, runtime, on_result, bar, threads, slots)
    finally:
        if started:
            ray.shutdown()


def _dispatch(
    ray,
    units: list[Unit],
    work: Work,
    data_fn: Callable[[Runtime], Any],
    runtime: Runtime,
    on_result: OnResult,
    bar: _Bar,
    threads: int,
    slots: int,
) -> None:
    """Submit every unit as a task, settle each as it returns (failed groups are resubmitted job by job)."""
    task = ray.remote(_ray_task).options(
        num_cpus=threads,
        num_gpus=1 if runtime.device.startswith("cuda") else 0,
        max_retries=MAX_RETRIES,
        retry_exceptions=False,
    )
    task_runtime = dataclasses.replace(runtime, quiet=True)  # no progress bars from the workers
    data_ref = ray.put(_to_numpy(data_fn(dataclasses.replace(runtime, device="cpu"))))  # once, for every task
    pending: dict[Any, Unit] = {}

    def submit(batch: list[Unit]) -> None:
        for unit in batch:
            pending[task.remote(work, unit, data_ref, task_runtime, threads)] = unit

    submit(units)
    while pending:
        sizes = [len(u) for u in pending.values()]  # in submission order, the order Ray starts them in
        bar.show(running=sum(sizes[:slots]), queued=sum(sizes[slots:]))
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=2.0)
        for ref in ready:
            unit = pending.pop(ref)
            try:
                outcome: list[dict] | BaseException = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # the task raised: its own exception, not Ray's wrapper
                outcome = e.cause if isinstance(getattr(e, "cause", None), BaseException) else e
            except ray.exceptions.RayError as e:  # worker died MAX_RETRIES + 1 times, object lost, ...
                outcome = e
            retry: list[Unit] = []
            _settle(unit, outcome, on_result, bar, retry)
            submit(retry)
    bar.show(running=0)
