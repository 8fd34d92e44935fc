"""Where the studies' jobs run (denselab.studies.sweeps.executor): local and Ray give the same run files; a
killed driver resumes to the numbers of an uninterrupted run; a failing job is recorded, not fatal; one writer
per --out. Ray starts once per test session, on 127.0.0.1 with 2 CPUs; the Ray tests skip where Ray is not
installed (CI installs the `ray` extra). Failures are injected from here: `jobs.train_group` is replaced
(monkeypatch) by a wrapper defined inside a test function, which Ray pickles by value into its workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from denselab import cli
from denselab.config import Runtime
from denselab.errors import DenselabError
from denselab.lock import LOCK_NAME
from denselab.registry import REGISTRY
from denselab.studies.sweeps import executor
from denselab.studies.sweeps import jobs as job_table

# how a job ran, not what it computed: the only entries of a run file allowed to differ between executors
HOW_IT_RAN = {"epoch_seconds", "train_seconds", "train_cpu_seconds", "epoch_cpu_seconds", "group_size"}
SRC = Path(__file__).resolve().parents[1] / "src"
STALL_PLUGIN = Path(__file__).resolve().parent / "stall_plugin"  # its sitecustomize.py: a wait after 2 files


def _child_env(*first: Path) -> dict[str, str]:
    """The environment of a child `python -m denselab` of this checkout: this process's as it is now (a Ray
    started by this session may have set what a driver needs to join it), PYTHONPATH `first` then src."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [*first, SRC]))}


@pytest.fixture(scope="session")
def ray_address() -> Any:
    """A Ray for the whole session: this process is its driver; subprocesses join it at the yielded
    address."""
    executor.loopback_only()  # 127.0.0.1 only
    ray = pytest.importorskip("ray")
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False
    )
    try:
        address = ray.get_runtime_context().gcs_address
        assert address.startswith("127.0.0.1:"), address
        yield address
    finally:
        ray.shutdown()


def _run_files(out: Path) -> dict[str, dict]:
    """name -> run file without its timings (and the size of the group it trained in)."""
    files = {}
    for p in sorted((out / "runs").glob("*.json")):
        record = json.loads(p.read_text())
        record["result"] = {k: v for k, v in record["result"].items() if k not in HOW_IT_RAN}
        files[p.name] = record
    return files


def _cmd(study: str, tiny_args, out: Path, data_dir: Path, *extra: str) -> list[str]:
    return [study, *tiny_args(study), "--out", str(out), "--data-dir", str(data_dir), "--quiet", *extra]


def _failing(fail: str, crash: str | None = None, marker: Path | None = None):
    """A `jobs.train_group` that raises for a unit holding job `fail`, and (Ray) the first time a unit holding
    job `crash` runs, creates `marker` and kills its own worker process, as an out-of-memory kill would."""
    real = job_table.train_group

    def work(jobs, data, runtime, desc="train"):
        names = {job.name for job in jobs}
        if crash in names and not marker.exists():
            marker.touch()
            os._exit(1)
        if fail in names:
            raise RuntimeError(f"job {fail} made to fail by the test")
        return real(jobs, data, runtime, desc)

    return work


@pytest.mark.parametrize("study", ["optim", "dropout"])
def test_ray_run_files_equal_local_ones(study, tmp_path, data_dir, tiny_args, tiny, ray_address):
    # the same thread count (1: Ray's default; it changes the last bits); the groups differ (local: one of 4
    # runs, Ray on 2 CPUs: two of 2), which must not matter
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert cli.main(_cmd(study, tiny_args, local, data_dir, "--threads-per-job", "1")) == 0
    assert cli.main(_cmd(study, tiny_args, on_ray, data_dir, "--executor", "ray")) == 0
    a, b = _run_files(local), _run_files(on_ray)
    jobs = REGISTRY[study].module.jobs(tiny(study))  # optim: its parts, the SGD map's runs included
    assert a == b and len(a) == (len(jobs) if study == "dropout" else sum(map(len, jobs)))
    cfg = [json.loads((d / "config.json").read_text()) for d in (local, on_ray)]
    assert cfg[0]["config"] == cfg[1]["config"] and cfg[1]["executor"] == "ray"
    assert not (on_ray / LOCK_NAME).exists()


def test_sigkill_of_the_ray_driver_then_rerun_gives_the_uninterrupted_numbers(
    tmp_path, data_dir, tiny_args, ray_address
):
    out, whole = tmp_path / "X", tmp_path / "whole"
    extra = ("--epochs", "3", "--seeds", "2", "--group-size", "2", "--executor", "ray")
    args = _cmd("dropout", tiny_args, out, data_dir, *extra, "--ray-address", ray_address)
    # 4 groups of 2 on 2 slots; the stall plugin holds the driver before its third run file
    env = _child_env(STALL_PLUGIN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "denselab", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.time() + 240
        while len(list((out / "runs").glob("*.json"))) < 2 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    finished = {p.name for p in (out / "runs").glob("*.json")}
    assert len(finished) == 2 and not (out / "summary.json").exists()
    for f in out.rglob("*"):  # complete files only: temp files are hidden and never end in .json
        assert f.is_dir() or f.name.startswith(".") or json.loads(f.read_text())
    assert cli.main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reused_runs"] >= len(finished) and len(summary["runs"]) == 8
    assert not (out / LOCK_NAME).exists()
    # a temp file the kill cut short may stay, hidden (`.<name>.<random>.tmp`): never read as a result
    assert all(p.name.startswith(".") for p in out.rglob("*.tmp"))
    # the same study never interrupted (local, 1 thread as on Ray): the same run files
    assert cli.main(_cmd("dropout", tiny_args, whole, data_dir, *extra[:6], "--threads-per-job", "1")) == 0
    assert _run_files(out) == _run_files(whole)


def _check_failed_then_rerun(out: Path, rerun: list[str], tmp_path: Path, capsys) -> None:
    """The optim folder `out` of a run where job adam-relu-he-s0 failed: the error line, the summary, the
    report; then `rerun` (no failure) trains that job and reuses the rest."""
    from denselab.reporting.notebook import build_notebook

    err = capsys.readouterr().err.strip().splitlines()
    assert "1 run(s) of `denselab optim` failed" in err[-1] and "adam-relu-he-s0: RuntimeError" in err[-1]
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["runs"]) == 3 and not (out / "runs" / "adam-relu-he-s0.json").exists()
    [failed] = summary["failed_runs"]
    assert (failed["name"], failed["optimizer"], failed["activation"], failed["seed"]) == (
        "adam-relu-he-s0",
        "adam",
        "relu",
        0,
    )
    assert failed["error"] == "RuntimeError: job adam-relu-he-s0 made to fail by the test"
    (tmp_path / "optim").symlink_to(out)  # the report reads DIR/optim
    notebook = json.dumps(build_notebook(tmp_path))
    assert "1 run failed" in notebook and "`adam-relu-he-s0` **failed**: `RuntimeError" in notebook
    assert cli.main(rerun) == 0  # not "already complete"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reused_runs"] == 3 and len(summary["runs"]) == 4 and summary["failed_runs"] == []


def test_a_failing_job_is_recorded_and_trained_on_rerun(tmp_path, data_dir, tiny_args, monkeypatch, capsys):
    out = tmp_path / "X"
    args = _cmd("optim", tiny_args, out, data_dir, "--no-sgd-map")
    with monkeypatch.context() as patch:
        patch.setattr(job_table, "train_group", _failing("adam-relu-he-s0"))
        assert cli.main(args) == 1
    _check_failed_then_rerun(out, args, tmp_path, capsys)


def test_a_job_failing_inside_its_ray_task_is_recorded_and_trained_on_rerun(
    tmp_path, data_dir, tiny_args, ray_address, monkeypatch, capsys
):
    out, marker = tmp_path / "X", tmp_path / "crashed"
    args = _cmd("optim", tiny_args, out, data_dir, "--no-sgd-map", "--executor", "ray")
    # and a worker that dies under another job: Ray retries that task
    with monkeypatch.context() as patch:
        patch.setattr(job_table, "train_group", _failing("adam-relu-he-s0", "sgd-lr1-relu-he-s0", marker))
        assert cli.main(args) == 1
    assert marker.exists() and (out / "runs" / "sgd-lr1-relu-he-s0.json").exists()
    _check_failed_then_rerun(out, args, tmp_path, capsys)


def _toy_work(jobs: list[str], data: Any, runtime: Runtime) -> list[dict]:
    if "bad" in jobs:
        raise ValueError("bad job\nsecond line")
    return [{"job": j, "data": data} for j in jobs]


def test_local_executor_splits_a_failed_group_and_reports_only_the_failing_job():
    seen: list[tuple] = []
    units = [[("a", "a"), ("bad", "bad"), ("b", "b")], [("c", "c")]]
    executor.run_units(
        lambda slots: units,
        _toy_work,
        lambda rt: 7,
        Runtime(quiet=True),
        lambda name, job, result, error: seen.append((name, result, error)),
    )
    assert sorted(seen, key=str) == sorted(
        [
            ("a", {"job": "a", "data": 7}, None),
            ("b", {"job": "b", "data": 7}, None),
            ("c", {"job": "c", "data": 7}, None),
            ("bad", None, "ValueError: bad job second line"),
        ],
        key=str,
    )


def test_bad_executor_settings_exit_2(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    for extra, message in [
        (["--executor", "ray"], "--executor ray needs Ray: pip install 'denselab[ray]'"),
        (["--threads-per-job", "0"], "--threads-per-job must be at least 1, got 0"),
        (["--ray-address", "auto"], "--ray-address needs --executor ray"),
    ]:
        assert cli.main(["optim", "--preset", "quick", "--out", str(tmp_path / "x"), *extra]) == 2
        assert capsys.readouterr().err == f"denselab: error: {message}\n"
    assert not (tmp_path / "x").exists()
    with pytest.raises(DenselabError, match="--threads-per-job"):
        executor.run_units(
            lambda slots: [[("a", "a")]], _toy_work, lambda rt: 0, Runtime(threads_per_job=0), print
        )


def test_two_drivers_on_one_out_then_a_stale_lock_is_taken_over(tmp_path, data_dir, tiny_args, capsys):
    out = tmp_path / "X"
    args = _cmd("dropout", tiny_args, out, data_dir, "--epochs", "4")
    first = subprocess.Popen(
        [sys.executable, "-m", "denselab", *args],
        env=_child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 120
        while not (out / "config.json").exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(
            f"denselab: error: {out} is in use by `denselab dropout` (pid {first.pid} on host "
        )
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait()
    assert (out / LOCK_NAME).exists() and not (out / "summary.json").exists()
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert f"denselab: taking over the lock on {out} left by `denselab dropout` (pid {first.pid}" in err
    assert (out / "summary.json").exists() and not (out / LOCK_NAME).exists()
