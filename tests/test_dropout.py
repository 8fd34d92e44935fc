"""Study 4 (dropout): the arms carry the assignment's dropout, results are strict JSON, SIGKILL-safe, resumable
and deterministic."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY as _TINY
from torch import nn

from denselab.config import Runtime
from denselab.models.mlp import init_variance
from denselab.studies.sweeps import base, dropout
from denselab.studies.sweeps import jobs as job_table
from denselab.training.batched import RunStack

REPO = Path(__file__).resolve().parents[1]
TINY = _TINY["dropout"]


def _strict(path):
    def bad(token):
        raise ValueError(f"non-strict JSON constant {token} in {path}")

    with open(path) as f:
        return json.load(f, parse_constant=bad)


def _numbers(summary: dict) -> list[dict]:
    """The runs without wall-clock timings (which legitimately differ between two runs)."""
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in summary["runs"]]


def test_arms_carry_the_assignments_dropout_and_init():
    # the nets as training builds them: each job's Member, stacked by training.batched
    jobs = dropout.jobs(dropout.Config(seeds=1))
    assert [(j.arm, bool(j.dropout)) for j in jobs] == [
        ("sigmoid-xavier", False),
        ("sigmoid-xavier", True),
        ("relu-he", False),
        ("relu-he", True),
    ]
    members = [job_table.member(j) for j in jobs]
    stack = RunStack(members, jobs[0].widths, "cpu")
    assert stack.drop_layers == list(range(6))  # some run drops on every layer's input
    for r, m in enumerate(stack.members):
        job = jobs[stack.ids[r]]  # stacked order -> the jobs' order
        assert job.optimizer == "adam" and job.lr is None and job.eval_train is True
        # 0.2 on the pixels, 0.5 on the input of each later layer (4 hidden-to-hidden + the output layer)
        assert m.dropout == ((0.2, 0.5, 0.5, 0.5, 0.5, 0.5) if job.dropout else (0.0,) * 6)
        fn = next(f for f, s, e in stack.act_segments if s <= r < e)
        assert type(fn) is (nn.Sigmoid if job.activation == "sigmoid" else nn.ReLU)
        for w in stack.w[:-1]:  # (runs, in, out)
            w, fan_in, fan_out = w[r].detach(), w.shape[1], w.shape[2]
            assert fan_in in (784, 1024) and fan_out == 1024
            target = math.sqrt(init_variance(job.init, fan_in, fan_out))
            assert float(w.std()) == pytest.approx(target, rel=0.03)


def test_batched_dropout_acts_on_each_layers_input():
    # the batched training path (what Study 4 trains with): a run dropping only layer l's input keeps every
    # hidden output before layer l and changes layer l's own output (test_mlp checks the nn.Module builder)
    widths = (6, 5, 4, 3)
    job = dropout.jobs(dropout.Config(seeds=1))[1]
    x = torch.ones(1, 64, 6)
    for layer in range(3):
        rates = tuple(0.5 if l == layer else 0.0 for l in range(3))
        stack = RunStack(
            [job_table.member(dataclasses.replace(job, widths=widths, dropout=rates))], widths, "cpu"
        )
        assert stack.drop_layers == [layer]
        dropped: list = []
        clean: list = []
        out_dropped = stack.forward(x, train=True, hidden=dropped)
        out_clean = stack.forward(x, hidden=clean)
        for l in range(layer):
            torch.testing.assert_close(dropped[l], clean[l])
        after = (dropped + [out_dropped])[layer], (clean + [out_clean])[layer]
        assert not torch.allclose(*after)


def test_summary_follows_the_contract_and_is_deterministic(tmp_path, data_dir):
    runtime = Runtime(device="cpu", data_dir=str(data_dir), quiet=True)
    config = dropout.Config(**TINY)
    a = dropout.run(config, tmp_path / "a", runtime)
    b = dropout.run(config, tmp_path / "b", runtime)
    assert _numbers(a) == _numbers(b)
    assert a["arms"] == b["arms"] and "notes" not in a
    saved = _strict(tmp_path / "a" / "summary.json")
    assert len(saved["runs"]) == 4
    assert {(r["activation"], r["init"], r["dropout"]) for r in saved["runs"]} == {
        ("sigmoid", "xavier", False),
        ("sigmoid", "xavier", True),
        ("relu", "he", False),
        ("relu", "he", True),
    }
    for r in saved["runs"]:
        assert r["seed"] == 0 and r["dropout"] is bool(r["dropout_rates"])
        for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
            assert len(r[key]) == 2 and all(isinstance(v, float) for v in r[key])
    for row in saved["arms"]:
        assert {"final_gap_loss", "final_test_accuracy", "test_loss_rise", "overfits"} <= set(row)
    assert saved["dropout_rates"] == [0.2, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert {row["label"] for row in saved["arms"]} == {
        "sigmoid + Xavier, no dropout",
        "sigmoid + Xavier, with dropout",
        "ReLU + He, no dropout",
        "ReLU + He, with dropout",
    }
    for name in ("dropout_curves.png", "dropout_probes.png"):
        assert (tmp_path / "a" / "figures" / name).stat().st_size > 10_000
    c = dropout.run(dropout.Config(**{**TINY, "seed": 1}), tmp_path / "c", runtime)
    assert _numbers(c) != _numbers(a)


def _quick_dropout(out, data_dir) -> tuple[list[str], dict[str, str]]:
    """(argv, env) of a short `denselab dropout` run in a child process (signals need a real process)."""
    cmd = [
        sys.executable,
        "-m",
        "denselab",
        "dropout",
        "--preset",
        "quick",
        "--out",
        str(out),
        "--quiet",
        "--data-dir",
        str(data_dir),
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--train-subset",
        "1000",
        "--test-subset",
        "1000",
        "--group-size",
        "2",
    ]  # 2 groups: the kill lands between their files
    return cmd, {**os.environ, "PYTHONPATH": str(REPO / "src")}


def _wait_for_first_run(proc: subprocess.Popen, out, limit_s: float = 240) -> None:
    """Return once the study has finished one run (its file under OUT/runs/), or the child ended, or time ran out."""
    deadline = time.time() + limit_s
    while not list((out / "runs").glob("*.json")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)


def test_sigkill_mid_run_then_resume_finishes_all_four_arms(tmp_path, data_dir):
    out = tmp_path / "X"
    cmd, env = _quick_dropout(out, data_dir)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_first_run(proc, out)
        killed_with = len(list((out / "runs").glob("*.json")))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert 1 <= killed_with < 4 and not (out / "summary.json").exists()
    for f in out.rglob("*.json"):  # whatever was there at the kill is complete
        _strict(f)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = _strict(out / "summary.json")
    assert summary["reused_runs"] >= 1
    assert len(summary["runs"]) == 4 and len(list((out / "runs").glob("*.json"))) == 4
    for f in out.rglob("*.json"):
        _strict(f)
    assert not list(out.rglob("*.tmp")) or all(p.name.startswith(".") for p in out.rglob("*.tmp"))


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, data_dir):
    out = tmp_path / "X"
    cmd, env = _quick_dropout(out, data_dir)
    # A shell runs background jobs (a CI script's, say) with SIGINT ignored, and a child inherits that: Python
    # then installs no Ctrl-C handler. Give the child the default disposition, as a terminal's Ctrl-C finds it.
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        _wait_for_first_run(proc, out)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("denselab: interrupted") and f"--out {out} to resume" in last
    assert not list(out.rglob("*.tmp")) and not (out / "summary.json").exists()
    for f in out.rglob("*.json"):
        _strict(f)


def test_shared_config_base_keeps_each_studys_defaults_and_help():
    from denselab.config import field_docs
    from denselab.studies.sweeps import optim

    d, o = dropout.Config(), optim.Config()
    assert isinstance(d, base.ArmConfig) and isinstance(o, base.ArmConfig)
    assert (d.hidden_width, d.epochs, d.batch_size, d.train_subset, d.trace_steps) == (
        1024,
        12,
        128,
        5000,
        50,
    )
    assert (o.hidden_width, o.epochs, o.batch_size, o.train_subset, o.trace_steps) == (512, 8, 64, 10000, 100)
    assert base.widths(d) == [784] + [1024] * 5 + [10]
    docs_d, docs_o = field_docs(dropout.Config), field_docs(optim.Config)
    assert "dropout masks" in docs_d["seed"] and "dropout masks" not in docs_o["seed"]
    assert docs_d["batch_size"] == "Images per optimiser step." and "1250 steps" in docs_o["batch_size"]
    assert all(docs_d.get(f.name) for f in dataclasses.fields(dropout.Config))
