"""Study 3 (optim): arms are built as named, SGD is plain, divergence is data, runs resume from their files,
the verdicts turn at their thresholds, the SGD map covers its grid."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from conftest import TINY as _TINY
from torch import nn

from denselab import cli
from denselab.config import Runtime
from denselab.models.mlp import init_variance
from denselab.studies.sweeps import base, optim, optim_summary, sgd_map
from denselab.studies.sweeps import jobs as job_table
from denselab.training.batched import RunStack

TINY = _TINY["optim"]


def _strict(path):
    """Parse JSON refusing NaN/Infinity (the contract's strict JSON)."""

    def bad(token):
        raise ValueError(f"non-strict JSON constant {token} in {path}")

    with open(path) as f:
        return json.load(f, parse_constant=bad)


def _runtime(data_dir) -> Runtime:
    return Runtime(device="cpu", data_dir=str(data_dir), quiet=True)


def test_every_arm_has_the_named_activation_and_init():
    # the nets as training builds them: each job's Member, stacked by training.batched
    main, sweep, _, _ = optim.jobs(optim.Config())
    assert len(main) == 5 * 2 * 3 and {j.lr for j in sweep} == {0.01, 0.1}
    jobs = main[::3]  # one seed per (optimiser, arm)
    members = [job_table.member(j) for j in jobs]
    stack = RunStack(members, jobs[0].widths, "cpu")
    assert [tuple(w.shape[1:]) for w in stack.w] == [(784, 512)] + [(512, 512)] * 4 + [(512, 10)]
    assert not stack.drop_layers  # no dropout anywhere in Study 3
    for r, m in enumerate(stack.members):
        job = jobs[stack.ids[r]]  # stacked order -> the jobs' order
        assert (m.activation, m.init, m.optimizer) == (job.activation, job.init, job.optimizer)
        fn = next(f for f, s, e in stack.act_segments if s <= r < e)
        assert type(fn) is (nn.Sigmoid if job.activation == "sigmoid" else nn.ReLU)
        for w, b in zip(stack.w[:-1], stack.b[:-1]):  # w: (runs, in, out)
            w, fan_in, fan_out = w[r].detach(), w.shape[1], w.shape[2]
            target = math.sqrt(init_variance(job.init, fan_in, fan_out, job.init_std))
            assert float(w.std()) == pytest.approx(target, rel=0.03), (job.arm, w.shape)
            assert abs(float(w.mean())) < 0.1 * target
            assert float(b[r].detach().abs().max()) == 0.0


def test_divergent_run_is_flagged_and_study_goes_on(tmp_path, data_dir):
    # lr 1e4 blows ReLU + He up at once; sigmoid + N(0, 0.01²) stays finite; Adam runs are unaffected; the
    # scaling check trains the SGD arms on [0, 1] pixels too
    config = optim.Config(**{**TINY, "sgd_lr": 1e4, "scaling_check": True, "sgd_map": False})
    summary = optim.run(config, tmp_path, _runtime(data_dir))
    saved = _strict(tmp_path / "summary.json")
    assert saved["runs"] == json.loads(json.dumps(summary["runs"]))
    runs = {(r["optimizer"], r["activation"], r["init"]): r for r in saved["runs"]}
    assert set(runs) == {
        (o, a, i) for o in ("sgd", "adam") for a, i in (("sigmoid", "normal"), ("relu", "he"))
    }
    blown = runs[("sgd", "relu", "he")]
    assert blown["diverged"] is True
    at = blown["diverged_at"]
    assert at["epoch"] == 1 and at["global_step"] >= 1
    assert blown["test_accuracy"][-1] is None  # not NaN: strict JSON
    # the first epoch step by step: finite losses up to the blow-up, null from it on
    steps = blown["step_loss"]
    assert len(steps) == saved["steps_per_epoch"] == 12
    assert all(v is not None for v in steps[: at["step"]]) and all(v is None for v in steps[at["step"] :])
    assert [a["outcome"] for a in saved["arms"] if a["optimizer"] == "sgd" and a["activation"] == "relu"] == [
        "diverged"
    ]
    adam_he, adam_sigmoid = runs[("adam", "relu", "he")], runs[("adam", "sigmoid", "normal")]
    for r in (adam_he, adam_sigmoid):
        assert r["diverged"] is False and len(r["train_loss"]) == 1 and None not in r["step_loss"]
        assert r["test_accuracy"] == _strict(tmp_path / r["run_file"])["result"]["test_accuracy"]
    assert adam_he["test_accuracy"][0] > adam_he["initial"]["test_accuracy"] + 0.2  # one epoch of Adam learns
    for r in saved["runs"]:  # the CONTRACT's keys
        assert {"optimizer", "activation", "init", "seed", "train_loss", "test_accuracy", "diverged"} <= set(
            r
        )
    assert "notes" not in saved
    labels = {(a["optimizer"], a["activation"]): a["label"] for a in saved["arms"]}
    assert labels[("sgd", "sigmoid")] == "SGD lr 10000, sigmoid + N(0, 0.01²)"
    assert labels[("adam", "relu")] == "Adam (defaults), ReLU + He"
    block = saved["scaling"]
    assert block["default"] == "standardise" and block["other"] == "unit" and len(block["runs"]) == 2
    assert sorted(a["input_scaling"] for a in block["arms"]) == ["standardise"] * 2 + ["unit"] * 2
    assert len(list((tmp_path / "runs").glob("*-unit-*.json"))) == 2
    assert saved["sgd_map"] == [] and saved["sgd_map_trend"] == []
    assert saved["outcome_thresholds"] == optim_summary.outcome_thresholds()
    for name in ("optim_sgd.png", "optim_adam.png", "optim_probes_sgd.png", "optim_first_steps.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 10_000
    assert "figures/sgd_first_epoch.png" in saved["figures"] and "figures/sgd_map.png" not in saved["figures"]
    for f in (tmp_path / "runs").glob("*.json"):
        _strict(f)


def test_probes_show_vanishing_gradients(tiny_run):
    summary = _strict(tiny_run / "optim" / "summary.json")
    adam = [r for r in summary["runs"] if r["optimizer"] == "adam"]
    assert len(adam) == 2
    for r in adam:
        assert sorted(p["label"] for p in r["probes"]) == ["end", "middle", "step 1", "step 10"]
        for p in r["probes"]:
            assert len(p["grad_norm"]) == 6 and len(p["activation"]["mean"]) == 5
            assert ("saturated" if r["activation"] == "sigmoid" else "dead") in p["activation"]
        stored = _strict(tiny_run / "optim" / r["run_file"])["result"]["trace"]
        assert len(stored["loss"]) == 8 and len(stored["grad_norm"][0]) == 6
        assert stored["loss"] == r["step_loss"][:8]
    arms = [a for a in summary["arms"] if a["optimizer"] == "adam"]
    small = next(a for a in arms if a["init"] == "normal")
    he = next(a for a in arms if a["init"] == "he")
    # N(0, 0.01²) through 5 sigmoid layers: the first layer's gradient is orders of magnitude below the last's
    assert small["grad_ratio_first_last"]["mean"] < 1e-3 < he["grad_ratio_first_last"]["mean"]


def test_the_sgd_map_covers_its_grid_with_the_studys_verdicts(tiny_run, tiny):
    summary = _strict(tiny_run / "optim" / "summary.json")
    config = tiny("optim")  # tiny_run's settings
    grid = summary["sgd_map_grid"]
    assert grid == sgd_map.grid(config)
    assert grid["scalings"] == ["unit", "standard"] and grid["epochs"] == config.map_epochs
    cells = [(e["scaling"], e["batch_size"], e["train_size"], e["arm"]) for e in summary["sgd_map"]]
    assert cells == [
        (s, b, n, a)
        for s in grid["scalings"]
        for b in grid["batch_sizes"]
        for n in grid["train_sizes"]
        for a in config.arms
    ]
    for entry, run in zip(summary["sgd_map"], summary["sgd_map_runs"]):
        stored = _strict(tiny_run / "optim" / run["run_file"])
        assert stored["spec"]["batch_size"] == entry["batch_size"] and stored["spec"]["lr"] == 1.0
        assert stored["spec"]["train_subset"] == entry["train_size"] == stored["result"]["train_size"]
        scaling = stored["spec"].get("input_scaling", "standardise")  # the default is left out of a spec
        assert scaling == sgd_map.MAP_SCALINGS[entry["scaling"]]
        res = stored["result"]
        final = None if res["diverged"] else res["test_accuracy"][-1]
        assert entry["final_test_accuracy"] == final
        assert entry["outcome"] == optim_summary.outcome(final, int(res["diverged"]), 1)
    assert summary["sgd_map_trend"] == sgd_map.trend(summary["sgd_map"])
    assert "figures/sgd_map.png" in summary["figures"]
    assert ("figures/sgd_trend.png" in summary["figures"]) is bool(summary["sgd_map_trend"])


def test_the_map_reuses_the_main_runs_and_is_fixed_before_training():
    config = optim.Config()
    main, sweep, check, cells = optim.jobs(config)
    every = sgd_map.cells(config)
    assert len(every) == 2 * 2 * 2 * 5  # scalings x batch sizes x training sizes x arms
    # the (standard, 64, 10000) cell is the first seed's main SGD runs, (unit, 64, 10000) the scaling check
    names = {j.name for j in main + check}
    reused = [c for c in every if c.job.name in names]
    assert {(c.scaling, c.batch_size, c.train_size) for c in reused} == {
        ("standard", 64, 10000),
        ("unit", 64, 10000),
    }
    assert len(cells) == len(every) - len(reused) == 30 and not {j.name for j in cells} & names
    b256 = next(
        c for c in every if (c.scaling, c.batch_size, c.train_size, c.arm) == ("unit", 256, 2000, "relu-he")
    )
    assert (
        b256.job.name == "sgd-lr1-relu-he-unit-b256-n2000-e8-s0" and b256.job.spec()["tag"] == "b256-n2000-e8"
    )
    assert (b256.job.batch_size, b256.job.train_subset, b256.job.epochs, b256.job.lr) == (256, 2000, 8, 1.0)
    assert "tag" not in main[0].spec()
    # the map's cells of one shape and data train as one batched group of the five arms
    assert [len(g) for g in job_table.group_jobs(cells)] == [5] * 6


def test_the_outcome_turns_at_each_threshold():
    stuck, learns = optim_summary.STUCK_BELOW_ACCURACY, optim_summary.LEARNS_FROM_ACCURACY
    eps = 1e-9
    assert optim_summary.outcome(stuck - eps, 0, 3) == "stuck"
    assert optim_summary.outcome(stuck, 0, 3) == "learns slowly"
    assert optim_summary.outcome(learns - eps, 0, 3) == "learns slowly"
    assert optim_summary.outcome(learns, 0, 3) == "learns"
    assert optim_summary.outcome(None, 0, 1) == "stuck"
    assert optim_summary.outcome(None, 3, 3) == "diverged"
    assert optim_summary.outcome(0.95, 2, 3) == "learns"  # one seed that did not blow up learned
    assert optim_summary.outcome_thresholds() == {
        "stuck_below_test_accuracy": stuck,
        "learns_from_test_accuracy": learns,
    }


def _entry(arm: str, acc: float | None, outcome: str, batch: int = 64) -> dict:
    cell = {"scaling": "unit", "batch_size": batch, "train_size": 2000}
    return {**cell, "arm": arm, "outcome": outcome, "final_test_accuracy": acc}


def test_the_trend_needs_he_strictly_ahead_and_sigmoid_normal_stuck():
    base_row = [_entry("sigmoid-normal", 0.11, "stuck"), _entry("relu-xavier", 0.95, "learns")]
    assert sgd_map.trend(base_row + [_entry("relu-he", 0.96, "learns")]) == [
        {"scaling": "unit", "batch_size": 64, "train_size": 2000}
    ]
    assert sgd_map.trend(base_row + [_entry("relu-he", 0.95, "learns")]) == []  # a tie is not ahead
    assert sgd_map.trend(base_row + [_entry("relu-he", None, "diverged")]) == []
    slow = [_entry("sigmoid-normal", 0.5, "learns slowly"), _entry("relu-he", 0.96, "learns")]
    assert sgd_map.trend(slow) == []
    # diverged arms have no accuracy: He ahead of the rest; only the setting where it holds is listed
    other = [
        _entry(a, acc, o, batch=256)
        for a, acc, o in (("sigmoid-normal", 0.1, "stuck"), ("relu-he", 0.5, "learns slowly"))
    ]
    assert sgd_map.trend(base_row + [_entry("relu-he", None, "diverged")] + other) == [
        {"scaling": "unit", "batch_size": 256, "train_size": 2000}
    ]


def test_resume_reuses_finished_runs_and_redoes_missing_ones(tmp_path, data_dir):
    config = optim.Config(
        **{**TINY, "optimizers": ("sgd",), "lr_sweep": True, "sweep_lrs": (0.1,), "sgd_map": False}
    )
    first = optim.run(config, tmp_path, _runtime(data_dir))
    files = sorted((tmp_path / "runs").glob("*.json"))
    assert len(files) == 4 and first["reused_runs"] == 0
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    second = optim.run(config, tmp_path, _runtime(data_dir))
    assert second["reused_runs"] == 4
    assert {f: f.stat().st_mtime_ns for f in files} == mtimes
    # a lost file and a file of another spec are trained again; the rest are reused (the spec on disk is the
    # job's fields as JSON: the same keys as before the job became a dataclass, so older run files resume)
    assert set(_strict(files[0])["spec"]) == {
        "study",
        "arm",
        "activation",
        "init",
        "init_std",
        "widths",
        "dropout",
        "optimizer",
        "lr",
        "epochs",
        "batch_size",
        "train_subset",
        "test_subset",
        "data_seed",
        "seed",
        "eval_train",
        "probe_size",
        "trace_steps",
    }
    files[0].unlink()
    other = _strict(files[1])
    other["spec"]["epochs"] = 99
    files[1].write_text(json.dumps(other))
    third = optim.run(config, tmp_path, _runtime(data_dir))
    assert third["reused_runs"] == 2
    assert _strict(files[1])["spec"]["epochs"] == 1
    drop = lambda s: [{k: v for k, v in r.items() if "seconds" not in k} for r in s["runs"]]  # noqa: E731
    assert drop(third) == drop(first)  # retrained runs give the same numbers (determinism)


def test_input_scaling_and_the_check_under_the_other_one(data_dir):
    """The assignment's standardised pixels by default; the check trains the SGD arms on [0, 1] pixels too."""
    (x, _), _ = base.load_data(_runtime(data_dir), optim.Config(**TINY), "unit")
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    (x, _), _ = base.load_data(_runtime(data_dir), optim.Config(**TINY))
    assert float(x.min()) == pytest.approx(-0.1307 / 0.3081)
    config = optim.Config(**{**TINY, "scaling_check": True})
    main, _, check, _ = optim.jobs(config)
    assert {j.input_scaling for j in main} == {"standardise"} and {j.input_scaling for j in check} == {"unit"}
    assert [j.optimizer for j in check] == ["sgd", "sgd"] and all(j.name.endswith("-unit-s0") for j in check)
    assert "input_scaling" not in main[0].spec() and check[0].spec()["input_scaling"] == "unit"
    # the map's training subsets nest, and every one is tested on the main runs' test images
    small = base.load_data(_runtime(data_dir), optim.Config(**{**TINY, "train_subset": 300}))
    large = base.load_data(_runtime(data_dir), optim.Config(**TINY))
    assert torch.equal(small[1][0], large[1][0])
    rows = {tuple(r.tolist()) for r in large[0][0]}
    assert all(tuple(r.tolist()) in rows for r in small[0][0])


def test_cli_rejects_unknown_arm(tmp_path, capsys):
    code = cli.main(["optim", "--preset", "quick", "--arms", "tanh-he", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("denselab: error:") and "tanh-he" in err and "Traceback" not in err


def test_quick_preset_is_small_and_full_preset_meets_the_assignment():
    quick = dataclasses.replace(optim.Config(), **optim.PRESETS["quick"])
    full = optim.Config()
    assert full.seeds >= 3 and full.sgd_lr == 1.0 and full.hidden_width == 512 and full.hidden_layers == 5
    assert set(full.arms) == set(optim.ARMS) and set(full.optimizers) == {"sgd", "adam"}
    assert quick.epochs <= 2 and quick.seeds == 1 and quick.train_subset <= 5000
