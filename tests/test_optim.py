"""Study 3 (optim): arms are built as named, SGD is plain, divergence is data, runs resume from their files."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from conftest import TINY as _TINY
from torch import nn

from denselab import cli
from denselab.config import Runtime
from denselab.models.mlp import init_variance
from denselab.studies.sweeps import base, optim
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
    main, sweep, check = optim.jobs(optim.Config())
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
    # lr 1e4 blows ReLU + He up at once; sigmoid + N(0, 0.01²) stays finite; Adam runs are unaffected
    config = optim.Config(**{**TINY, "sgd_lr": 1e4})
    summary = optim.run(config, tmp_path, _runtime(data_dir))
    saved = _strict(tmp_path / "summary.json")
    assert saved["runs"] == json.loads(json.dumps(summary["runs"]))
    runs = {(r["optimizer"], r["activation"], r["init"]): r for r in saved["runs"]}
    assert set(runs) == {
        (o, a, i) for o in ("sgd", "adam") for a, i in (("sigmoid", "normal"), ("relu", "he"))
    }
    blown = runs[("sgd", "relu", "he")]
    assert blown["diverged"] is True
    assert blown["diverged_at"]["epoch"] == 1 and blown["diverged_at"]["global_step"] >= 1
    assert blown["test_accuracy"][-1] is None  # not NaN: strict JSON
    assert "sgd" in [a["optimizer"] for a in saved["arms"] if a["outcome"] == "diverged"]
    for key in (("adam", "relu", "he"), ("adam", "sigmoid", "normal")):
        r = runs[key]
        assert r["diverged"] is False and len(r["train_loss"]) == 1 and 0.0 <= r["test_accuracy"][0] <= 1.0
    for r in saved["runs"]:  # the CONTRACT's keys
        assert {"optimizer", "activation", "init", "seed", "train_loss", "test_accuracy", "diverged"} <= set(
            r
        )
    assert "notes" not in saved
    labels = {(a["optimizer"], a["activation"]): a["label"] for a in saved["arms"]}
    assert labels[("sgd", "sigmoid")] == "SGD lr 10000, sigmoid + N(0, 0.01²)"
    assert labels[("adam", "relu")] == "Adam (defaults), ReLU + He"
    for name in ("optim_sgd.png", "optim_adam.png", "optim_probes_sgd.png", "optim_first_steps.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 10_000
    for f in (tmp_path / "runs").glob("*.json"):
        _strict(f)


def test_probes_show_vanishing_gradients(tmp_path, data_dir):
    config = optim.Config(**{**TINY, "optimizers": ("adam",)})
    summary = optim.run(config, tmp_path, _runtime(data_dir))
    for r in summary["runs"]:
        assert sorted(p["label"] for p in r["probes"]) == ["end", "middle", "step 1", "step 10"]
        for p in r["probes"]:
            assert len(p["grad_norm"]) == 6 and len(p["activation"]["mean"]) == 5
            assert ("saturated" if r["activation"] == "sigmoid" else "dead") in p["activation"]
        stored = _strict(tmp_path / r["run_file"])["result"]["trace"]
        assert len(stored["loss"]) == 8 and len(stored["grad_norm"][0]) == 6
    small = next(a for a in summary["arms"] if a["init"] == "normal")
    he = next(a for a in summary["arms"] if a["init"] == "he")
    # N(0, 0.01²) through 5 sigmoid layers: the first layer's gradient is orders of magnitude below the last's
    assert small["grad_ratio_first_last"]["mean"] < 1e-3 < he["grad_ratio_first_last"]["mean"]


def test_resume_reuses_finished_runs_and_redoes_missing_ones(tmp_path, data_dir):
    config = optim.Config(**{**TINY, "optimizers": ("sgd",), "lr_sweep": True, "sweep_lrs": (0.1,)})
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


def test_input_scaling_and_the_check_under_the_other_one(tmp_path, data_dir):
    """The assignment's standardised pixels by default; the check trains the SGD arms on [0, 1] pixels too."""
    (x, _), _ = base.load_data(_runtime(data_dir), optim.Config(**TINY), "unit")
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    (x, _), _ = base.load_data(_runtime(data_dir), optim.Config(**TINY))
    assert float(x.min()) == pytest.approx(-0.1307 / 0.3081)
    config = optim.Config(**{**TINY, "scaling_check": True})
    main, _, check = optim.jobs(config)
    assert {j.input_scaling for j in main} == {"standardise"} and {j.input_scaling for j in check} == {"unit"}
    assert [j.optimizer for j in check] == ["sgd", "sgd"] and all(j.name.endswith("-unit-s0") for j in check)
    assert "input_scaling" not in main[0].spec() and check[0].spec()["input_scaling"] == "unit"
    summary = optim.run(config, tmp_path, _runtime(data_dir))
    block = summary["scaling"]
    assert block["default"] == "standardise" and block["other"] == "unit" and len(block["runs"]) == 2
    assert sorted(a["input_scaling"] for a in block["arms"]) == ["standardise"] * 2 + ["unit"] * 2
    assert all(a["outcome"] in ("learns", "learns slowly", "stuck", "diverged") for a in block["arms"])
    assert len(list((tmp_path / "runs").glob("*-unit-*.json"))) == 2


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
