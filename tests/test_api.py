"""The Python API (`denselab.run`, `denselab.report`, `denselab.Denoiser`): the same studies, files,
validation and errors as the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import TINY

import denselab
from denselab.io import read_json


def test_run_returns_the_summary_and_writes_the_cli_files(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "d"
    summary = denselab.run(
        "dropout", preset="quick", out=out, data_dir=data_dir, quiet=True, **TINY["dropout"]
    )
    assert summary == read_json(out / "summary.json")
    assert len(summary["runs"]) == 4 * TINY["dropout"]["seeds"]  # 2 settings x with/without dropout
    assert {r["dropout"] for r in summary["runs"]} == {True, False}
    config = read_json(out / "config.json")
    assert config["command"] == "dropout" and config["config"]["epochs"] == TINY["dropout"]["epochs"]
    html = denselab.report(out)
    assert html == out / "report.html" and html.stat().st_size > 0
    # `denselab.report` stays the function once the report package is imported (it is `denselab.reporting`)
    assert denselab.report(out) == html


def test_run_rejects_bad_input_like_the_cli(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "x"
    with pytest.raises(denselab.DenselabError, match=r"^--epochs must be at least 1, got 0$"):
        denselab.run("dropout", preset="quick", out=out, data_dir=data_dir, epochs=0)
    with pytest.raises(denselab.DenselabError, match=r"^unknown study 'mnsit' \(choose from mnist, denoise"):
        denselab.run("mnsit", out=out)
    with pytest.raises(
        denselab.DenselabError, match=r"^unknown device 'tpu' \(choose from auto, cpu, cuda\)$"
    ):
        denselab.run("dropout", out=out, data_dir=data_dir, device="tpu")
    with pytest.raises(denselab.DenselabError, match="unknown Config field"):
        denselab.run("mnist", out=out, data_dir=data_dir, epoch=3)
    with pytest.raises(denselab.DenselabError, match="--mnist-dir"):
        denselab.run("mnist", out=out, data_dir=data_dir, mnist_dir=str(tmp_path / "nowhere"))
    assert not out.exists()


def test_report_of_a_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(denselab.DenselabError):
        denselab.report(tmp_path / "nothing-here")


def test_denoiser_denoises_an_array_at_any_rate(tiny_run: Path, speech_dir: Path) -> None:
    den = denselab.Denoiser.load(tiny_run / "denoise" / "model.pt")
    noisy, rate = sf.read(speech_dir / "test_x_01.wav", dtype="float32")
    noisy = noisy[: 3 * rate]
    clean = den.apply(noisy, rate)
    assert isinstance(clean, np.ndarray) and clean.shape == noisy.shape and np.isfinite(clean).all()
    assert 0 < np.sqrt(np.mean(clean**2)) < 2 * np.sqrt(np.mean(noisy**2))
    stereo = np.stack([noisy[::2], noisy[::2]], axis=1)  # 8 kHz, two channels
    out = den.apply(stereo, rate // 2)
    assert out.shape == (len(stereo),)


def test_denoiser_load_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(denselab.DenselabError, match="model.pt"):
        denselab.Denoiser.load(tmp_path / "model.pt")
