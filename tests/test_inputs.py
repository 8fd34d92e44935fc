"""Every command checks its inputs (options, files, folders, model, data) before it writes anything under
--out: a rejected command leaves --out as it found it, and the corrected command runs there without
--force. One `denselab: error:` line, exit 2, for each bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import run_cli

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _one_error_line(capsys: pytest.CaptureFixture, *names: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("denselab: error:"), err
    for name in names:
        assert name in err[0], (name, err[0])
    return err[0]


@pytest.fixture(scope="module")
def broken_data(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """A data folder whose mnist/ holds a truncated training-image file and no test labels."""
    data = tmp_path_factory.mktemp("broken-data")
    (data / "mnist").mkdir()
    for name in MNIST_FILES[1:3]:
        src = next(mnist_dir.glob(name + "*"))
        shutil.copy(src, data / "mnist" / src.name)
    (data / "mnist" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03not an idx file")
    return data


def test_mnist_dir_that_is_not_there(tmp_path: Path, data_dir: Path, capsys) -> None:
    out = tmp_path / "o"
    status = run_cli(
        "mnist",
        "--preset",
        "quick",
        "--mnist-dir",
        tmp_path / "nowhere",
        "--data-dir",
        data_dir,
        "--out",
        out,
    )
    assert status == 2 and not out.exists()
    _one_error_line(capsys, "--mnist-dir", "nowhere")


@pytest.mark.parametrize("command", [["mnist"], ["optim"], ["dropout"], ["all"]])
def test_a_broken_mnist_folder_is_refused_before_writing(
    tmp_path: Path, broken_data: Path, command, capsys
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("results written before")
    status = run_cli(*command, "--preset", "quick", "--data-dir", broken_data, "--out", out, "--quiet")
    assert status == 2
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    _one_error_line(capsys, "mnist")


@pytest.mark.parametrize(
    "flag, value, named",
    [
        ("--clean", "missing.wav", "missing.wav"),
        ("--noisy", "not-audio.wav", "not-audio.wav"),
        ("--test", "missing-test.wav", "missing-test.wav"),
        ("--unseen", "no-such-folder", "no-such-folder"),
    ],
)
def test_denoise_train_checks_every_input_first(
    tmp_path: Path, data_dir: Path, speech_dir: Path, tiny_args, flag: str, value: str, named: str, capsys
) -> None:
    (tmp_path / "not-audio.wav").write_text("this is text, not a WAV file")
    out = tmp_path / "o"
    args = tiny_args("denoise", model_type="mask")
    status = run_cli("denoise", "train", *args, flag, tmp_path / value, "--data-dir", data_dir, "--out", out)
    assert status == 2 and not out.exists()
    _one_error_line(capsys, named)
    # the corrected command into the same --out runs without --force
    assert (
        run_cli(
            "denoise",
            "train",
            *args,
            "--test",
            speech_dir / "test_x_01.wav",
            "--data-dir",
            data_dir,
            "--out",
            out,
            "--quiet",
        )
        == 0
    )
    assert (out / "audio" / "test_x_01_recons.wav").is_file()


def test_denoise_apply_checks_the_model_and_every_input_first(
    tmp_path: Path, tiny_run: Path, speech_dir: Path, capsys
) -> None:
    model = tiny_run / "denoise" / "model.pt"
    good = tmp_path / "x.wav"
    shutil.copy(speech_dir / "test_x_01.wav", good)
    (tmp_path / "bad.wav").write_text("not audio")
    out = tmp_path / "o"
    cases = [
        (["--model", tmp_path / "missing.pt", good], "missing.pt"),
        (["--model", model, good, tmp_path / "missing.wav"], "missing.wav"),
        (["--model", model, good, tmp_path / "bad.wav"], "bad.wav"),
        (["--model", speech_dir / "test_x_01.wav", good], "model"),
    ]
    for args, named in cases:
        assert run_cli("denoise", "apply", *args, "--out", out, "--quiet") == 2
        assert not out.exists()
        _one_error_line(capsys, named)
    assert run_cli("denoise", "apply", "--model", model, good, "--out", out, "--quiet") == 0
    assert sorted(p.name for p in out.iterdir()) == ["x_denoised.wav"]
    assert run_cli("denoise", "apply", "--model", model, good, good, "-o", tmp_path / "y.wav") == 2
    _one_error_line(capsys, "--output")


def test_no_abbreviated_options(tmp_path: Path, capsys) -> None:
    assert run_cli("dropout", "--epoch", "1", "--out", tmp_path / "o") == 2
    _one_error_line(capsys, "--epoch")
    assert run_cli("mnist", "--hidden-w", "8", "--out", tmp_path / "o") == 2
    _one_error_line(capsys, "--hidden-w")
    assert not (tmp_path / "o").exists()
