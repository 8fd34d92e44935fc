"""Training core: loss goes down, divergence is flagged, seeds reproduce, batching covers every sample."""

from __future__ import annotations

import math

import pytest
import torch

from denselab.data import load_mnist, normalize
from denselab.errors import DenselabError
from denselab.models import build_mlp
from denselab.training import (
    batch_indices,
    evaluate,
    fit,
    make_optimizer,
    one_cycle,
    resolve_device,
    seed_everything,
)


@pytest.fixture(scope="module")
def small_mnist(mnist_dir):
    d = load_mnist(mnist_dir, download=False)
    return (normalize(d.train_images[:2000]), d.train_labels[:2000]), (
        normalize(d.test_images[:500]),
        d.test_labels[:500],
    )


def _run(train, test, seed=0, lr=1e-3, opt="adam", epochs=2, activation="relu", init="he"):
    g = seed_everything(seed)
    model = build_mlp([784, 128, 128, 10], activation, init)
    optimizer = make_optimizer(opt, model.parameters(), lr=lr)
    return model, fit(model, optimizer, train, test, epochs=epochs, batch_size=100, generator=g, quiet=True)


def test_loss_goes_down_and_accuracy_up(small_mnist) -> None:
    train, test = small_mnist
    _, h = _run(train, test, epochs=3)
    assert h.epochs == 3 and not h.diverged
    assert h.train_loss[-1] < h.train_loss[0] < math.log(10) + 0.5
    assert h.test_accuracy[-1] > 0.85
    assert len(h.test_loss) == len(h.epoch_seconds) == 3


def test_absurd_learning_rate_is_flagged_not_raised(small_mnist) -> None:
    train, test = small_mnist
    _, h = _run(train, test, lr=1e8, opt="sgd", epochs=3)
    assert h.diverged and h.diverged_at["epoch"] == 1
    assert h.epochs == 1  # stopped at the first non-finite loss


def test_same_seed_same_numbers(small_mnist) -> None:
    train, test = small_mnist
    m1, h1 = _run(train, test, seed=3, epochs=1)
    m2, h2 = _run(train, test, seed=3, epochs=1)
    _, h3 = _run(train, test, seed=4, epochs=1)
    assert h1.train_loss == h2.train_loss and h1.test_accuracy == h2.test_accuracy
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters()))
    assert h1.train_loss != h3.train_loss


def test_batches_are_a_seeded_permutation() -> None:
    b1 = torch.cat(list(batch_indices(1003, 100, torch.Generator().manual_seed(1))))
    b2 = torch.cat(list(batch_indices(1003, 100, torch.Generator().manual_seed(1))))
    assert torch.equal(b1, b2) and sorted(b1.tolist()) == list(range(1003))
    assert [len(b) for b in batch_indices(250, 100, None)] == [100, 100, 50]


def test_regression_targets_have_no_accuracy() -> None:
    model = build_mlp([4, 8, 2], "relu", "he")
    loss, acc = evaluate(model, torch.randn(10, 4), torch.randn(10, 2), torch.nn.functional.mse_loss)
    assert loss > 0 and math.isnan(acc)


def test_sgd_is_plain() -> None:
    opt = make_optimizer("sgd", [torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert isinstance(opt, torch.optim.SGD)
    assert opt.defaults["momentum"] == 0 and opt.defaults["weight_decay"] == 0 and opt.defaults["lr"] == 1.0


def test_device_resolution() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(DenselabError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.parametrize("total, warmup", [(8, 0.25), (100, 0.1), (587, 0.25), (30, 0.5)])
def test_one_cycle_matches_torch(total: int, warmup: float) -> None:
    params = [torch.nn.Parameter(torch.zeros(1))]
    ours, ref = torch.optim.SGD(params, lr=0.1), torch.optim.SGD(params, lr=0.1)
    sched = one_cycle(ours, total, warmup)
    torch_sched = torch.optim.lr_scheduler.OneCycleLR(
        ref, max_lr=0.1, total_steps=total, pct_start=warmup, cycle_momentum=False, final_div_factor=1e3
    )
    for _ in range(total):
        assert ours.param_groups[0]["lr"] == pytest.approx(ref.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
        ours.step(), sched.step(), ref.step(), torch_sched.step()


@pytest.mark.parametrize("total", [1, 2, 3, 4, 5])
def test_one_cycle_short_runs_stay_finite(total: int) -> None:
    # torch's OneCycleLR divides by zero here (e.g. 4 steps at 25 % warm-up)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched, lrs = one_cycle(opt, total, 0.25), []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(), sched.step()
    assert all(0 < lr <= 0.1 for lr in lrs) and max(lrs) > 0.05
