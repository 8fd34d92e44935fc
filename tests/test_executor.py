"""Where the studies' jobs run (denselab.studies.executor): local and Ray give the same run files; a killed
driver resumes; a failing job is recorded, not fatal; one writer per --out. Ray starts once per test session,
on 127.0.0.1 with 2 CPUs; the Ray tests skip where Ray is not installed (CI installs the `ray` extra)."""

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
from denselab.studies.sweeps import executor

# how a job ran, not what it computed: the only entries of a run file allowed to differ between executors
HOW_IT_RAN = {"epoch_seconds", "train_seconds", "train_cpu_seconds", "epoch_cpu_seconds", "group_size"}


@pytest.fixture(scope="session")
def ray_address() -> Any:
    """A Ray for the whole session: this process is its driver; subprocesses join it at the yielded address."""
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


def _cmd(study: str, tiny_args, out: Path, *extra: str) -> list[str]:
    return [study, *tiny_args(study), "--out", str(out), "--quiet", *extra]


@pytest.mark.parametrize("study", ["optim", "dropout"])
def test_ray_run_files_equal_local_ones(study, tmp_path, data_dir, tiny_args, ray_address):
    # the same thread count (1: Ray's default; it changes the last bits); the groups differ (local: one of 4 runs,
    # Ray on 2 CPUs: two of 2), which must not matter
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert cli.main(_cmd(study, tiny_args, local, "--threads-per-job", "1")) == 0
    assert cli.main(_cmd(study, tiny_args, on_ray, "--executor", "ray")) == 0
    a, b = _run_files(local), _run_files(on_ray)
    assert len(a) == 4 and a == b
    cfg = [json.loads((d / "config.json").read_text()) for d in (local, on_ray)]
    assert cfg[0]["config"] == cfg[1]["config"] and cfg[1]["executor"] == "ray"
    assert not (on_ray / LOCK_NAME).exists()


def test_sigkill_of_the_ray_driver_then_rerun_reuses_finished_jobs(
    tmp_path, data_dir, tiny_args, ray_address
):
    out = tmp_path / "X"
    args = _cmd(
        "dropout",
        tiny_args,
        out,
        "--epochs",
        "3",
        "--seeds",
        "2",
        "--group-size",
        "2",
        "--executor",
        "ray",
        "--ray-address",
        ray_address,
    )  # 4 groups on 2 slots: the kill lands between two waves
    cmd = [sys.executable, "-m", "denselab", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 240
        while not list((out / "runs").glob("*.json")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    finished = {p.name for p in (out / "runs").glob("*.json")}
    assert 1 <= len(finished) < 8 and not (out / "summary.json").exists()
    for f in out.rglob("*"):  # complete files only: temp files are hidden and never end in .json
        assert f.is_dir() or f.name.startswith(".") or json.loads(f.read_text())
    assert cli.main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reused_runs"] >= len(finished) and len(summary["runs"]) == 8
    assert not (out / LOCK_NAME).exists()
    # a temp file the kill cut short may stay, hidden (`.<name>.<random>.tmp`): never read as a result
    assert all(p.name.startswith(".") for p in out.rglob("*.tmp"))


def test_a_job_failing_inside_its_task_is_recorded_and_retried_on_rerun(
    tmp_path, data_dir, tiny_args, ray_address, monkeypatch, capsys
):
    from denselab.report.notebook import build_notebook

    out = tmp_path / "X"
    monkeypatch.setenv(executor.FAIL_JOB_ENV, "adam-relu-he-s0")
    marker = tmp_path / "crashed"  # and a worker that dies under another job: Ray retries that task
    monkeypatch.setenv(executor.CRASH_JOB_ENV, f"sgd-lr1-relu-he-s0={marker}")
    assert cli.main(_cmd("optim", tiny_args, out, "--executor", "ray")) == 1
    assert marker.exists() and (out / "runs" / "sgd-lr1-relu-he-s0.json").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert "1 run(s) of `denselab optim` failed" in err[-1] and "adam-relu-he-s0: JobFailed" in err[-1]
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["runs"]) == 3 and not (out / "runs" / "adam-relu-he-s0.json").exists()
    [failed] = summary["failed_runs"]
    assert (failed["name"], failed["optimizer"], failed["activation"], failed["seed"]) == (
        "adam-relu-he-s0",
        "adam",
        "relu",
        0,
    )
    assert failed["error"].startswith("JobFailed: job adam-relu-he-s0 made to fail")
    (tmp_path / "optim").symlink_to(out)  # the report reads DIR/optim
    notebook = json.dumps(build_notebook(tmp_path))
    assert "1 run(s) failed" in notebook and "`adam-relu-he-s0` **failed**: `JobFailed" in notebook
    monkeypatch.delenv(executor.FAIL_JOB_ENV)
    monkeypatch.delenv(executor.CRASH_JOB_ENV)
    assert cli.main(_cmd("optim", tiny_args, out, "--executor", "ray")) == 0  # not "already complete"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reused_runs"] == 3 and len(summary["runs"]) == 4 and summary["failed_runs"] == []


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
    args = _cmd("dropout", tiny_args, out, "--epochs", "4")
    first = subprocess.Popen(
        [sys.executable, "-m", "denselab", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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
