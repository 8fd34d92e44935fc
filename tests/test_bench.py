"""`denselab bench` and the speed levers it measures. Nothing here is timed: speed is a benchmark, not a
test."""

from __future__ import annotations

import copy
import json
import math
from types import SimpleNamespace

import pytest
import torch
from conftest import TINY, run_cli, tiny_presets
from torch import nn

from denselab.bench import format_table, run_bench, step_gemms, time_to_accuracy
from denselab.cli import main
from denselab.config import Runtime
from denselab.errors import DenselabError
from denselab.models.mlp import Dropout, build_mlp
from denselab.training import History, make_optimizer

KEYS = [
    "peak_gflops",
    "train_gflops",
    "train_to_peak_ratio",
    "optim_train_to_peak_ratio",
    "dropout_train_to_peak_ratio",
    "mnist_epochs_to_98_5",
    "mnist_seconds_to_98_5",
    "denoise_realtime_factor",
    "suite_seconds",
    "machine",
]


@pytest.fixture
def one_thread():
    # the smoke run is tiny: on a shared 2-core machine, OpenMP barriers between busy cores cost more than
    # the work
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_quick_bench_succeeds_and_writes_every_key(tmp_path, data_dir, tiny_run, one_thread, capsys) -> None:
    # `--preset quick` on the tests' tiny presets; the denoiser timed is the one tiny_run trained
    with tiny_presets():
        status = run_cli(
            "bench",
            "--preset",
            "quick",
            "--out",
            tmp_path / "b",
            "--data-dir",
            data_dir,
            "--device",
            "cpu",
            "--quiet",
            "--denoise-model",
            tiny_run / "denoise" / "model.pt",
        )
    assert status == 0
    table = capsys.readouterr().out
    assert "bench results in" in table
    text = (tmp_path / "b" / "bench.json").read_text()
    result = json.loads(text)
    assert "NaN" not in text and "Infinity" not in text  # non-finite numbers are written as null
    for key in KEYS:
        assert key in result, key
    assert result["preset"] == "quick" and result["run"]["preset"] == "quick"
    assert (
        result["run"]["config"]["hidden_width"] == TINY["mnist"]["hidden_width"]
    )  # the study's quick preset
    assert result["train"]["widths"] == [784, 64, 64, 10] and result["train"]["steps_per_window"] == 4
    assert len(result["train"]["window_seconds"]) == 2  # PRESETS["quick"]: 2 windows of 4 steps
    assert result["peak_gflops"] > 0 and result["train_gflops"] > 0
    # the peak is the best block of all studies' windows, so Study 1's ratio is recomputed against it
    assert result["train_to_peak_ratio"] == pytest.approx(result["train_gflops"] / result["peak_gflops"])
    for study, width in (
        ("optim", TINY["optim"]["hidden_width"]),
        ("dropout", TINY["dropout"]["hidden_width"]),
    ):
        arm = result["arm_training"][study]
        assert arm["widths"] == [784] + [width] * 5 + [10] and arm["steps_per_window"] == 2
        assert arm["window_flops"] > 0 and len(arm["window_seconds"]) == 2
        assert result[f"{study}_train_to_peak_ratio"] == pytest.approx(arm["gflops"] / result["peak_gflops"])
        assert len(arm["group_gemm_block_seconds"]) == 2 and arm["group_gemm_gflops"] > 0
    # tiny optim: 2 arms x 2 optimisers, one seed, trained as one group; tiny dropout: 2 arms x (off, on)
    assert result["arm_training"]["optim"]["group_size"] == 4
    assert result["arm_training"]["dropout"]["group_size"] == 4
    assert result["mnist"]["epochs"] == len(result["mnist"]["test_accuracy"]) == 1
    assert result["mnist"]["train_images"] == TINY["mnist"]["train_subset"]
    assert result["mnist_epochs_to_98_5"] is None and result["mnist_seconds_to_98_5"] is None  # 1 tiny epoch
    assert result["suite_seconds"] is None
    assert result["denoise"]["model_source"] == "given" and result["denoise"]["audio_seconds"] > 0
    assert result["denoise_realtime_factor"] > 0
    machine = result["machine"]
    assert machine["torch_version"] == torch.__version__ and machine["torch_threads"] == 1
    assert machine["device"] == "cpu"
    assert "training / peak" in table and "MNIST epochs to 98.5 %" in table
    assert table.count("its batched products alone / peak") == 2


def test_unknown_bench_preset_is_an_error(tmp_path) -> None:
    with pytest.raises(DenselabError, match="unknown bench preset 'huge'"):
        run_bench(tmp_path / "b", Runtime("cpu", str(tmp_path), quiet=True), preset="huge")
    assert not (tmp_path / "b").exists()


def test_bench_out_must_be_a_folder(tmp_path, capsys) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["bench", "--out", str(target), "--quiet"]) == 2
    assert "denselab: error:" in capsys.readouterr().err


def test_step_gemms_cover_forward_and_both_gradients() -> None:
    gemms = step_gemms([12, 8, 3], 5, "cpu")
    assert len(gemms) == 6  # forward, grad-input, grad-weight per layer
    assert sum(f for _, f, _ in gemms) == 6 * 5 * (12 * 8 + 8 * 3)  # the 6 x weights x samples count
    for _, _, run in gemms:
        run()


def _fake_study(accuracies: list[float]):
    hist = History(
        test_accuracy=accuracies,
        train_loss=[1.0] * len(accuracies),
        epoch_seconds=[1.0, 2.0, 4.0][: len(accuracies)],
    )
    return SimpleNamespace(
        train_classifier=lambda config, data, device, quiet: (None, hist, 7.0),
        build_classifier=lambda config, n_inputs: nn.Linear(n_inputs, 2),
    )


@pytest.mark.parametrize(
    "accuracies, epochs, seconds",
    [
        ([0.97, 0.986, 0.99], 2, 3.0),  # first epoch at or above the target, time up to its end
        ([0.985, 0.99, 0.99], 1, 1.0),
        ([0.97, 0.98, 0.984], None, None),  # never reached -> null
    ],
)
def test_time_to_accuracy_reads_the_first_epoch_at_target(accuracies, epochs, seconds) -> None:
    data = SimpleNamespace(x_train=torch.zeros(10, 4), x_test=torch.zeros(5, 4))
    config = SimpleNamespace(epochs=len(accuracies))
    r = time_to_accuracy(_fake_study(accuracies), config, data, "cpu", quiet=True)
    assert r["mnist_epochs_to_98_5"] == epochs and r["mnist_seconds_to_98_5"] == seconds


def test_table_shows_null_for_missing_numbers() -> None:
    machine = {
        k: "x"
        for k in ("cpu_model", "cores_physical", "torch_threads", "torch_version", "blas", "onednn", "device")
    }
    table = format_table(
        {
            "peak_gflops": 100.0,
            "train_gflops": 80.0,
            "train_to_peak_ratio": 0.8,
            "optim_train_to_peak_ratio": 0.71,
            "dropout_train_to_peak_ratio": 0.76,
            "mnist_epochs_to_98_5": None,
            "mnist_seconds_to_98_5": None,
            "denoise_realtime_factor": None,
            "suite_seconds": {"mnist": 50.0, "denoise": None},
            "machine": machine,
        }
    )
    assert (
        "0.800" in table
        and "0.710" in table
        and "0.760" in table
        and table.count("null") == 3
        and "failed" in table
    )


# ---- the levers keep the semantics


def test_fast_dropout_rate_scale_and_gradient() -> None:
    torch.manual_seed(0)
    drop = Dropout(0.1)
    x = torch.ones(1000, 1000, requires_grad=True)
    y = drop(x)
    values = torch.unique(y.detach()).tolist()
    assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(1 / (1 - 6554 / 65536))
    assert float((y == 0).float().mean()) == pytest.approx(6554 / 65536, abs=0.002)  # p rounded to 1/65536
    assert float(y.detach().mean()) == pytest.approx(1.0, abs=0.003)  # kept values scaled: expectation kept
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # gradient flows through the same mask and scale
    assert not torch.equal(drop(x), drop(x))  # a fresh mask per call
    drop.eval()
    assert drop(x) is x


def test_fast_dropout_is_seeded_and_used_by_build_mlp() -> None:
    model = build_mlp([20, 30, 3], "relu", "he", dropout=0.5)
    assert isinstance(model[0][0], Dropout) and isinstance(model[0][0], nn.Dropout)
    torch.manual_seed(4)
    a = model[0][0](torch.ones(7, 20))
    torch.manual_seed(4)
    assert torch.equal(a, model[0][0](torch.ones(7, 20)))


def test_adam_uses_the_fused_kernel_unless_told_otherwise() -> None:
    model = build_mlp([6, 5, 2], "relu", "he")
    assert make_optimizer("adam", model.parameters()).defaults["fused"] is True
    assert make_optimizer("adamw", model.parameters(), weight_decay=0.1).defaults["fused"] is True
    assert not make_optimizer("adam", model.parameters(), foreach=True).defaults["fused"]
    assert not make_optimizer("adam", [{"params": list(model.parameters())}]).defaults["fused"]


def test_fused_adam_takes_the_same_steps(one_thread) -> None:
    torch.manual_seed(0)
    m1 = build_mlp([30, 40, 10], "relu", "he")
    m2 = copy.deepcopy(m1)
    o1 = make_optimizer("adamw", m1.parameters(), lr=1e-2, weight_decay=1e-2)
    o2 = torch.optim.AdamW(m2.parameters(), lr=1e-2, weight_decay=1e-2, foreach=False)
    x, y = torch.randn(16, 30), torch.randint(0, 10, (16,))
    for _ in range(20):
        for m, o in ((m1, o1), (m2, o2)):
            o.zero_grad()
            nn.functional.cross_entropy(m(x), y).backward()
            o.step()
    with torch.no_grad():
        assert max(float((a - b).abs().max()) for a, b in zip(m1.parameters(), m2.parameters())) < 1e-5
        assert not math.isnan(float(next(m1.parameters()).sum()))
