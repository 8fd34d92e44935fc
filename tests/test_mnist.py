"""Study 1: grid logic, label placement, the quick preset end to end, and bad --mnist-dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from denselab.cli import main
from denselab.data.mnist import write_idx
from denselab.io import read_json
from denselab.plotting.mnist import class_means
from denselab.studies.mnist import random_shift, row_purity, top_activation_grid

ROOT = Path(__file__).resolve().parents[1]


def test_grid_assigns_by_argmax_and_orders_rows_by_score():
    # 6 images, 3 units. Winners: unit 0 <- images 0, 2, 4 ; unit 1 <- image 1 ; unit 2 <- none.
    scores = np.array(
        [
            [0.6, 0.3, 0.1],
            [0.2, 0.7, 0.1],
            [0.9, 0.05, 0.05],
            [0.1, 0.8, 0.1],
            [0.5, 0.4, 0.1],
            [0.3, 0.6, 0.1],
        ]
    )
    grid = top_activation_grid(scores, top=2)
    assert grid["counts"] == [3, 3, 0]
    assert grid["members"] == [[2, 0, 4], [3, 1, 5], []]
    assert grid["rows"] == [
        [2, 0],
        [3, 1],
        [],
    ]  # top-2 by the unit's own score, highest first; empty row stays empty
    assert grid["unassigned"] == 0


def test_grid_short_rows_ties_and_floor():
    scores = np.array(
        [
            [0.0, 0.0, 0.0],  # every unit silent: unassigned under floor=0
            [2.0, 0.0, 1.0],
            [2.0, 0.0, 0.5],  # ties with image 1 at unit 0: lower index first
            [0.0, 0.0, 3.0],
        ]
    )
    grid = top_activation_grid(scores, top=10, floor=0.0)
    assert grid["rows"] == [[1, 2], [], [3]]  # short rows are not padded
    assert grid["counts"] == [2, 0, 1]
    assert grid["unassigned"] == 1
    # without a floor the all-zero image goes to argmax's first unit
    assert top_activation_grid(scores, top=10)["rows"][0] == [1, 2, 0]


def test_row_purity():
    scores = np.eye(3)[[0, 0, 0, 1]] * np.array([[3.0], [2.0], [1.0], [1.0]])
    labels = np.array([7, 7, 4, 2])
    rows = row_purity(top_activation_grid(scores, top=1), labels)
    assert rows[0] == {
        "unit": 0,
        "count": 3,
        "majority_class": 7,
        "purity": pytest.approx(2 / 3),
        "shown": 1,
        "shown_purity": 1.0,
        "shown_class": 7,
        "shown_class_count": 1,
    }
    assert rows[1]["purity"] == 1.0 and rows[1]["majority_class"] == 2
    assert rows[2] == {
        "unit": 2,
        "count": 0,
        "majority_class": None,
        "purity": None,
        "shown": 0,
        "shown_purity": None,
        "shown_class": None,
        "shown_class_count": 0,
    }


def test_class_means_place_labels_at_each_class_centre():
    points = np.array([[0.0, 0.0], [2.0, 4.0], [10.0, 10.0], [-1.0, 3.0]])
    labels = np.array([0, 0, 2, 2])
    means = class_means(points, labels, n_classes=3)
    assert means.shape == (3, 2)
    np.testing.assert_allclose(means[0], [1.0, 2.0])
    np.testing.assert_allclose(means[2], [4.5, 6.5])
    assert np.isnan(means[1]).all()  # absent class: no label drawn


def test_random_shift_moves_whole_images_and_fills_blank():
    x = torch.zeros(64, 5 * 4)
    x[:, 2 * 4 + 1] = 1.0  # one lit pixel at (2, 1) in every 5x4 image
    shifted = random_shift(x, (5, 4), 1, fill=-0.5, generator=torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    img = shifted.view(64, 5, 4)
    assert torch.all((img == 1.0).sum(dim=(1, 2)) == 1)  # the lit pixel survives, moved by at most 1
    rows, cols = torch.nonzero(img == 1.0)[:, 1], torch.nonzero(img == 1.0)[:, 2]
    assert rows.sub(2).abs().max() <= 1 and cols.sub(1).abs().max() <= 1
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 1  # images are shifted independently
    assert set(shifted.unique().tolist()) <= {0.0, 1.0, -0.5}


def test_quick_preset_end_to_end(tmp_path, data_dir, tiny_args, capsys):
    out = tmp_path / "m"
    args = ["mnist", *tiny_args("mnist"), "--data-dir", str(data_dir), "--out", str(out), "--quiet"]
    assert main(args) == 0
    summary = read_json(out / "summary.json")
    assert summary["epochs"] == 1 and summary["train_seconds"] > 0
    layers = ["raw", "hidden1", "hidden2", "output", "softmax"]  # softmax: the assignment's last layer (1.8)
    assert [layer["name"] for layer in summary["layers"]] == layers
    assert summary["knn"]["separated_threshold"] == 0.9
    for layer in summary["layers"]:
        assert 0.0 <= layer["knn_accuracy_2d_tsne"] <= 1.0 and 0.0 <= layer["knn_accuracy_2d_pca"] <= 1.0
    pen = summary["penultimate_grid"]
    assert len(pen["units"]) == 10 and sum(pen["counts"]) + pen["unassigned"] == 200
    assert [row["unit"] for row in pen["rows"]] == pen["units"]  # rows name the layer's real unit indices
    assert sum(summary["output_grid"]["counts"]) == 200
    figures = {p.name for p in (out / "figures").glob("*.png")}
    expected = {"curves.png", "output_grid.png", "penultimate_grid.png", "overview.png", "separability.png"}
    expected |= {f"{m}_{n}.png" for m in ("tsne", "pca") for n in layers}
    assert expected <= figures and len(expected) == 15
    assert {Path(p).name for p in summary["figures"]} == figures  # the study lists every figure it drew
    assert (out / "model.pt").is_file() and (out / "arrays.npz").is_file()
    with np.load(out / "arrays.npz") as arrays:
        assert arrays["images"].shape == (200, 28, 28) and arrays["tsne_hidden2"].shape == (200, 2)
        assert arrays["output_grid"].shape == (10, 10)

    # the reported accuracy is the saved model's on the test subset, and the tiny run learned (chance: 0.1;
    # seed 0 gives 0.71)
    from denselab.studies.mnist import Config, load_data, load_model

    model, meta = load_model(out / "model.pt")
    assert meta["image_shape"] == [28, 28] and meta["config"]["train_subset"] == 1000
    data = load_data(Config(**meta["config"]), data_dir)
    with torch.no_grad():
        accuracy = (model(data.x_test).argmax(1) == data.y_test).float().mean().item()
    assert summary["test_accuracy"] == pytest.approx(accuracy, abs=1e-6) and accuracy >= 0.5

    # the same command again reuses the finished run (without --quiet it says so)
    capsys.readouterr()
    args.remove("--quiet")
    assert main(args) == 0
    assert read_json(out / "summary.json") == summary
    assert "already complete" in capsys.readouterr().err

    # determinism: the same command and seed into a fresh folder gives the same numbers
    again = tmp_path / "m2"
    assert main([a if a != str(out) else str(again) for a in args] + ["--quiet"]) == 0
    summary2 = read_json(again / "summary.json")
    for key in ("test_accuracy", "layers", "output_grid", "penultimate_grid"):
        assert summary2[key] == summary[key], key
    assert summary2["curves"]["train_loss"] == summary["curves"]["train_loss"]


def test_bad_option_value_is_a_one_line_error(tmp_path, capsys):
    code = main(
        ["mnist", "--preset", "quick", "--input-dropout", "1.5", "--out", str(tmp_path / "o"), "--quiet"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "denselab: error: --input-dropout must be in [0, 1), got 1.5"


def test_bad_mnist_dir_is_a_one_line_error(tmp_path, capsys):
    missing = tmp_path / "no-such-mnist"
    code = main(
        ["mnist", "--preset", "quick", "--mnist-dir", str(missing), "--out", str(tmp_path / "o"), "--quiet"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("denselab: error:") and "\n" not in err and str(missing) in err

    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(
        ["mnist", "--preset", "quick", "--mnist-dir", str(empty), "--out", str(tmp_path / "o2"), "--quiet"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and str(empty) in err and "train-images-idx3-ubyte" in err and "\n" not in err


def test_load_model_rejects_missing_and_foreign_files(tmp_path):
    from denselab.errors import DenselabError
    from denselab.io import save_torch
    from denselab.studies.mnist import load_model

    with pytest.raises(DenselabError, match="does not exist"):
        load_model(tmp_path / "nope.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(DenselabError, match="not a denselab model file"):
        load_model(tmp_path / "text.pt")
    save_torch(tmp_path / "other.pt", {"format": "something-else"})
    with pytest.raises(DenselabError, match="not a denselab mnist model file"):
        load_model(tmp_path / "other.pt")
    save_torch(tmp_path / "old.pt", {"format": "denselab-mnist", "version": 0})
    with pytest.raises(DenselabError, match="mnist model version 0"):
        load_model(tmp_path / "old.pt")
    save_torch(tmp_path / "den.pt", {"kind": "denselab-denoiser", "format": 1})
    with pytest.raises(DenselabError, match="denoiser model, not a mnist model"):
        load_model(tmp_path / "den.pt")


def test_any_idx_dataset_with_other_image_size_works(tmp_path):
    # 10 classes of 12x10 images that are not digits: class c lights row c
    rng = np.random.default_rng(0)
    folder = tmp_path / "idx"
    folder.mkdir()
    for split, n in (("train", 300), ("t10k", 80)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 12, 10))
        images[np.arange(n), labels] = 255
        write_idx(folder / f"{split}-images-idx3-ubyte", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels)
    out = tmp_path / "o"
    assert (
        main(
            [
                "mnist",
                "--preset",
                "quick",
                "--mnist-dir",
                str(folder),
                "--out",
                str(out),
                "--quiet",
                "--probe-images",
                "60",
                "--hidden-width",
                "64",
            ]
        )
        == 0
    )
    summary = read_json(out / "summary.json")
    assert (
        summary["image_shape"] == [12, 10] and summary["train_images"] == 300 and summary["test_images"] == 80
    )
    with np.load(out / "arrays.npz") as arrays:
        assert arrays["images"].shape == (60, 12, 10)
    assert (out / "figures" / "output_grid.png").is_file()


@pytest.mark.slow
def test_full_preset_reaches_98_5_percent(data_dir):
    """Opt-in (`pytest -m slow`, minutes on a CPU): Study 1's full recipe on all 60000 images, tested on all
    10000, reaches the assignment's 98.5 % (measured 0.9870 / 0.9863 / 0.9867 for seeds 0 / 1 / 2)."""
    from denselab.registry import REGISTRY
    from denselab.studies.mnist import load_data, train_classifier
    from denselab.training import resolve_device

    config = REGISTRY["mnist"].config("full")
    device = resolve_device("auto")
    data = load_data(config, data_dir, device)
    assert len(data.x_train) == 60000 and len(data.x_test) == 10000
    _, history, _ = train_classifier(config, data, device, quiet=True)
    assert len(history.test_accuracy) == config.epochs == 5
    assert history.test_accuracy[-1] >= 0.985, history.test_accuracy
