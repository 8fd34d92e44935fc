"""Batched training (`training.batched`, `jobs.train_group`): a run trained in a group is the same run
trained alone, and a group of one is the plain single-model path (`build_mlp` + `make_optimizer` + `fit`).

Tolerance: per-epoch losses to a relative 1e-4, accuracies to one image. Float32 carries 24 bits (about 6e-8
relative); a batched product may sum its K <= 1024 terms in another order than a single one, which moves a
result by a few ulps (about 1e-6 relative after a layer, as measured: 3e-6 over two epochs in these tests),
and training carries such differences forward without a blow-up over a few dozen steps at these learning
rates. 1e-4 leaves that margin and is still a thousand times below the differences the studies report (the
third decimal of a loss). An accuracy may differ by one image whose two largest logits tie within the
noise."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from denselab.config import Runtime
from denselab.models.mlp import build_mlp
from denselab.studies.sweeps import base, dropout, optim
from denselab.studies.sweeps import jobs as job_table
from denselab.training import fit, make_optimizer, seed_everything
from denselab.training.batched import Member, RunStack, Shape, fit_group

REL = 1e-4
CURVES = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


def _close(a: list[float], b: list[float], n_images: int, key: str) -> None:
    assert len(a) == len(b), key
    for x, y in zip(a, b):
        if math.isnan(x) or math.isnan(y):
            assert math.isnan(x) and math.isnan(y), key
        elif "accuracy" in key:
            assert abs(x - y) <= 1.0 / n_images + 1e-12, key
        else:
            assert x == pytest.approx(y, rel=REL), key


@pytest.fixture(scope="module")
def data(data_dir):
    runtime = Runtime(device="cpu", data_dir=str(data_dir), quiet=True)
    return base.load_data(runtime, optim.Config(train_subset=640, test_subset=320))


def _jobs() -> list[job_table.Job]:
    config = optim.Config(
        hidden_width=48,
        hidden_layers=3,
        epochs=2,
        train_subset=640,
        test_subset=320,
        probe_size=64,
        trace_steps=6,
    )
    main, sweep, _, _ = optim.jobs(config)
    # every arm under both optimisers, one seed each, plus lr 1e3 that blows ReLU + He up in the first epoch
    picked = [j for j in main if j.seed == 0][::2] + [j for j in sweep][:2]
    blow = [job_table.make_job(config, "optim", "relu-he", 5, optimizer="sgd", lr=1e3)]
    return picked + blow


def test_a_run_in_a_group_equals_the_same_run_alone(data, data_dir):
    runtime = Runtime(device="cpu", data_dir=str(data_dir), quiet=True)
    jobs = _jobs()
    assert len(job_table.group_jobs(jobs)) == 1
    together = job_table.train_group(jobs, data, runtime)
    assert [r["group_size"] for r in together] == [len(jobs)] * len(jobs)  # trained as one group
    assert any(r["diverged"] for r in together) and not all(r["diverged"] for r in together)
    for job, grouped in zip(jobs, together):
        alone = job_table.train_group([job], data, runtime)[0]
        for key in CURVES:
            _close(grouped[key], alone[key], 320, f"{job.name} {key}")
        assert grouped["diverged"] == alone["diverged"] and grouped["diverged_at"] == alone["diverged_at"]
        assert [p["step"] for p in grouped["probes"]] == [p["step"] for p in alone["probes"]]
        assert len(grouped["trace"]["loss"]) == len(alone["trace"]["loss"])
        for a, b in zip(grouped["trace"]["loss"], alone["trace"]["loss"]):
            assert a == pytest.approx(b, rel=REL)


def test_a_group_of_one_is_the_plain_single_model_path(data):
    """Same init (build_mlp under the seed), data order, dropout masks and torch optimisers as `fit` alone."""
    (x_tr, y_tr), test = data
    widths = (784, 48, 48, 10)
    cases = [("relu", "he", (0.2, 0.5, 0.5), "adam", None), ("sigmoid", "xavier", (0.0,) * 3, "sgd", 0.5)]
    for activation, init, rates, opt, lr in cases:
        member = Member(activation, init, 0.01, rates, opt, lr, seed=3)
        shape = Shape(widths, epochs=2, batch_size=64, eval_train=opt == "adam", probe_size=32, trace_steps=4)
        grouped = fit_group([member], shape, data, quiet=True)[0]
        gen = seed_everything(3)
        model = build_mlp(widths, activation, init, rates)
        optimizer = make_optimizer(opt, model.parameters(), **({} if lr is None else {"lr": lr}))
        hist = fit(
            model,
            optimizer,
            (x_tr, y_tr),
            test,
            epochs=2,
            batch_size=64,
            generator=gen,
            eval_train=shape.eval_train,
            quiet=True,
        )
        for key in CURVES:
            _close(grouped[key], getattr(hist, key), len(test[0]), f"{activation} {opt} {key}")


def test_batched_updates_are_torch_sgd_and_adam_per_run():
    torch.manual_seed(0)
    members = [
        Member("relu", "he", 0.01, (0.0, 0.0), "sgd", 0.3, 0),
        Member("relu", "he", 0.01, (0.0, 0.0), "adam", None, 1),
        Member("relu", "he", 0.01, (0.0, 0.0), "adam", 0.01, 2),
    ]
    stack = RunStack(members, (5, 4, 3), "cpu")
    rows = [stack.ids.index(m) for m in range(len(members))]  # stacked order groups equal optimisers
    nets = [nn.ParameterList([nn.Parameter(p[r].detach().clone()) for p in stack.w + stack.b]) for r in rows]
    opts = [
        torch.optim.SGD(nets[0].parameters(), lr=0.3),
        torch.optim.Adam(nets[1].parameters()),
        torch.optim.Adam(nets[2].parameters(), lr=0.01),
    ]
    for _ in range(3):
        grads = [torch.randn_like(p) for p in stack.w + stack.b]
        for p, g in zip(stack.w + stack.b, grads):
            p.grad = g.clone()
        stack.step()
        for r, net, opt in zip(rows, nets, opts):
            for q, g in zip(net, grads):
                q.grad = g[r].clone()
            opt.step()
    for r, net in zip(rows, nets):
        for p, q in zip(stack.w + stack.b, net):
            torch.testing.assert_close(p[r].detach(), q.detach(), rtol=1e-6, atol=1e-7)


def test_jobs_of_one_shape_form_one_group_in_order():
    # 40 + 5 runs of 5x512: at most 32 MiB / (784 x 512 x 4 B) = 20 a group
    main, sweep, check, _ = optim.jobs(optim.Config())
    assert check and {j.input_scaling for j in check}.isdisjoint(
        {j.input_scaling for j in main}
    )  # other data
    assert job_table.group_jobs(main + sweep + check) == [(main + sweep)[:20], (main + sweep)[20:], check]
    assert [len(g) for g in job_table.group_jobs(main + sweep, max_size=16)] == [13, 14, 13]
    drop = dropout.jobs(dropout.Config(seeds=3))  # 12 runs of 5x1024: at most 8 a group
    short = [
        job_table.make_job(
            dropout.Config(epochs=3), "dropout", "relu-he", 0, optimizer="adam", eval_train=True
        )
    ]
    assert job_table.group_jobs(drop + short) == [drop[:6], drop[6:], short]
    small = optim.jobs(optim.Config(hidden_width=64))[0]  # 30 runs, 8 x 64 x 784 B a layer: one group
    assert job_table.group_jobs(small) == [small]
