"""Study 4 (dropout): the arms carry the assignment's dropout, results are strict JSON, SIGKILL-safe,
resumable and deterministic; the verdict and the comparison turn where their numbers say."""

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
from torch import nn

from denselab.config import Runtime
from denselab.models.mlp import init_variance
from denselab.studies.sweeps import base, comparison, dropout
from denselab.studies.sweeps import jobs as job_table
from denselab.training.batched import RunStack

SRC = Path(__file__).resolve().parents[1] / "src"
STALL_PLUGIN = Path(__file__).resolve().parent / "stall_plugin"  # its sitecustomize.py


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


def test_summary_follows_the_contract_and_is_deterministic(tmp_path, data_dir, tiny, tiny_run):
    runtime = Runtime(device="cpu", data_dir=str(data_dir), quiet=True)
    saved = _strict(tiny_run / "dropout" / "summary.json")
    again = dropout.run(tiny("dropout"), tmp_path / "b", runtime)  # the same settings as tiny_run's
    assert _numbers(again) == _numbers(saved)
    assert (
        again["arms"] == saved["arms"] and again["comparison"] == saved["comparison"] and "notes" not in saved
    )
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
        stored = _strict(tiny_run / "dropout" / r["run_file"])["result"]
        assert r["test_accuracy"] == stored["test_accuracy"] and r["train_loss"] == stored["train_loss"]
    for row in saved["arms"]:
        [run] = [
            r for r in saved["runs"] if (r["activation"], r["dropout"]) == (row["activation"], row["dropout"])
        ]
        lowest = min(run["test_loss"])
        assert row["test_loss_rise"]["mean"] == pytest.approx((run["test_loss"][-1] - lowest) / lowest)
        assert row["overfits"] is dropout.overfits(row["test_loss_rise"]["mean"])
    assert saved["overfit_threshold"] == dropout.OVERFIT_RISE and saved["epochs"] == 2
    assert [(c["activation"], c["init"]) for c in saved["comparison"]] == [
        ("sigmoid", "xavier"),
        ("relu", "he"),
    ]
    for c in saved["comparison"]:
        plain, drop = (
            next(r for r in saved["runs"] if r["activation"] == c["activation"] and r["dropout"] is d)
            for d in (False, True)
        )
        [seed] = c["per_seed"]
        assert seed["best_epoch"]["plain"] == 1 + plain["test_loss"].index(min(plain["test_loss"]))
        gap = plain["train_accuracy"][-1] - plain["test_accuracy"][-1]
        assert seed["final_gap"]["plain"] == pytest.approx(gap)
        assert c["mean"]["final_test_accuracy"] == {
            "plain": plain["test_accuracy"][-1],
            "dropout": drop["test_accuracy"][-1],
        }
        mean = {k: v for k, v in c["mean"].items() if k != "final_test_accuracy"}
        assert {k: v for k, v in seed.items() if k != "seed"} == mean  # one seed: its mean curves are its own
    assert saved["dropout_rates"] == [0.2, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert {row["label"] for row in saved["arms"]} == {
        "sigmoid + Xavier, no dropout",
        "sigmoid + Xavier, with dropout",
        "ReLU + He, no dropout",
        "ReLU + He, with dropout",
    }
    for name in ("dropout_curves.png", "dropout_probes.png"):
        assert (tiny_run / "dropout" / "figures" / name).stat().st_size > 10_000
    other = dropout.run(tiny("dropout", seed=1), tmp_path / "c", runtime)
    assert _numbers(other) != _numbers(saved)


def test_the_overfits_verdict_turns_at_its_threshold():
    t = dropout.OVERFIT_RISE
    assert not dropout.overfits(t) and dropout.overfits(t + 1e-9) and not dropout.overfits(t - 1e-9)
    assert not dropout.overfits(None)
    # a run whose test loss falls to 1.0 and climbs back to 1 + rise: it overfits exactly when rise > t
    for rise, verdict in ((t * 0.5, False), (t * 1.5, True)):
        run = {"activation": "relu", "init": "he", "dropout": False, "seed": 0, "diverged": False}
        run |= {"test_loss": [2.0, 1.0, 1.0 + rise], "train_loss": [1.0, 0.5, 0.2]}
        run |= {"train_accuracy": [0.5, 0.8, 0.9], "test_accuracy": [0.5, 0.7, 0.7]}
        row = dropout.arm_summary([run])
        assert row["test_loss_rise"]["mean"] == pytest.approx(rise) and row["overfits"] is verdict


def _curves(drop: bool, seed: int, test_acc: list[float]) -> dict:
    loss = [1.0 - a for a in test_acc]
    return {"activation": "sigmoid", "init": "xavier", "dropout": drop, "seed": seed, "test_loss": loss} | {
        "train_loss": loss,
        "train_accuracy": [1.0] * len(test_acc),
        "test_accuracy": test_acc,
    }


def test_comparison_finds_where_dropout_passes_and_each_lowest_test_loss():
    assert comparison.passes_at([0.5, 0.6, 0.7, 0.8], [0.4, 0.7, 0.6, 0.9]) == 4  # ahead, behind, ahead again
    assert comparison.passes_at([0.5, 0.6, 0.7], [0.6, 0.7, 0.8]) == 1
    assert comparison.passes_at([0.5, 0.6, 0.7], [0.6, 0.7, 0.7]) is None  # a tie at the end is not ahead
    assert comparison.passes_at([0.5, None], [0.6, 0.7]) is None
    assert comparison.best_epoch([0.9, 0.5, 0.5, 0.7]) == 2 and comparison.best_epoch([None, None]) is None
    runs = [
        _curves(False, 0, [0.80, 0.90, 0.85, 0.84]),
        _curves(True, 0, [0.70, 0.88, 0.89, 0.90]),
        _curves(False, 1, [0.80, 0.90, 0.88, 0.87]),
        _curves(True, 1, [0.70, 0.80, 0.85, 0.90]),
    ]
    [c] = comparison.compare(runs)
    assert [s["passes_at"] for s in c["per_seed"]] == [3, 4]
    assert [s["best_epoch"] for s in c["per_seed"]] == [
        {"plain": 2, "dropout": 4},
        {"plain": 2, "dropout": 4},
    ]
    # the seed-mean curves: plain 0.80 0.90 0.865 0.855, dropout 0.70 0.84 0.87 0.90 -> ahead from epoch 3
    assert c["mean"]["passes_at"] == 3
    assert c["mean"]["final_gap"] == {"plain": pytest.approx(0.145), "dropout": pytest.approx(0.10)}
    assert c["mean"]["final_test_accuracy"] == {"plain": pytest.approx(0.855), "dropout": pytest.approx(0.90)}
    assert comparison.compare([runs[0], runs[2]]) == []  # no dropout net: nothing to compare


def _tiny_dropout(out, data_dir, tiny_args) -> tuple[list[str], dict[str, str]]:
    """(argv, env) of a tiny `denselab dropout` of this checkout in a child process (signals need a real
    process), in groups of 2 runs; the stall plugin makes its driver wait before the third run file, so a
    signal sent once two files exist lands between the groups."""
    cmd = [sys.executable, "-m", "denselab", "dropout", *tiny_args("dropout", group_size=2)]
    cmd += ["--out", str(out), "--quiet", "--data-dir", str(data_dir), "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(STALL_PLUGIN), str(SRC)])}
    return cmd, env


def _wait_for_first_group(proc: subprocess.Popen, out, limit_s: float = 240) -> None:
    """Return once the study has written the first group's 2 run files, or the child ended, or time ran
    out."""
    deadline = time.time() + limit_s
    while len(list((out / "runs").glob("*.json"))) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_numbers(tmp_path, data_dir, tiny_args, tiny):
    out = tmp_path / "X"
    cmd, env = _tiny_dropout(out, data_dir, tiny_args)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_first_group(proc, out)
        killed_with = sorted(p.name for p in (out / "runs").glob("*.json"))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert killed_with == ["adam-sigmoid-xavier-dropout-s0.json", "adam-sigmoid-xavier-s0.json"]
    assert not (out / "summary.json").exists()
    for f in out.rglob("*.json"):  # whatever was there at the kill is complete
        _strict(f)
    resumed = subprocess.run(cmd, env={**env, "PYTHONPATH": str(SRC)}, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = _strict(out / "summary.json")
    assert summary["reused_runs"] == 2 and len(summary["runs"]) == 4
    assert all(p.name.startswith(".") for p in out.rglob("*.tmp"))
    # the same study never interrupted (same settings, the same thread count as the child's): the same numbers
    runtime = Runtime("cpu", str(data_dir), quiet=True)
    whole = dropout.run(tiny("dropout", group_size=2), tmp_path / "whole", runtime)
    assert _numbers(summary) == _numbers(whole)


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, data_dir, tiny_args):
    out = tmp_path / "X"
    cmd, env = _tiny_dropout(out, data_dir, tiny_args)
    # A shell runs background jobs (a CI script's, say) with SIGINT ignored, and a child inherits that:
    # Python then installs no Ctrl-C handler. Give the child the default disposition, as a terminal's Ctrl-C
    # finds it.
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        _wait_for_first_group(proc, out)
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
    assert (d.hidden_width, d.epochs, d.seeds, d.batch_size, d.train_subset) == (1024, 35, 1, 128, 5000)
    assert (o.hidden_width, o.epochs, o.batch_size, o.train_subset, o.trace_steps) == (512, 8, 64, 10000, 100)
    assert base.widths(d) == [784] + [1024] * 5 + [10]
    docs_d, docs_o = field_docs(dropout.Config), field_docs(optim.Config)
    assert "dropout masks" in docs_d["seed"] and "dropout masks" not in docs_o["seed"]
    assert docs_d["batch_size"] == "Images per optimiser step." and "main run" in docs_o["batch_size"]
    # --help and PRESET_HELP state the full preset's sizes from the presets themselves
    assert "35 epochs, 1 seed" in dropout.PRESET_HELP["full"] and set(dropout.PRESET_HELP) == {
        "full",
        "quick",
    }
    assert "8 epochs, 3 seeds" in optim.PRESET_HELP["full"] and "2 epochs" in optim.PRESET_HELP["quick"]
    assert all(docs_d.get(f.name) for f in dataclasses.fields(dropout.Config))
