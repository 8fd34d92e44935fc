"""The denoiser's unseen-speech check and the speech metrics beside SNR (SI-SDR, STOI, PESQ, mixing)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from denselab.data.audio import snr_db
from denselab.data.speech_metrics import mix_at_snr, noise_excerpt, si_sdr_db, stoi
from denselab.studies.denoise_eval import speaker_of, unseen_check
from denselab.studies.denoise_model import new_denoiser

SR = 16000


def _voice(n: int, f0: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 12)) * (
        0.5 + 0.5 * np.sin(2 * np.pi * 2 * t) ** 2
    )
    return (0.05 * y + 0.002 * rng.standard_normal(n)).astype(np.float32)


def test_si_sdr_matches_its_definition() -> None:
    rng = np.random.default_rng(0)
    s = rng.standard_normal(8000)
    s -= s.mean()
    e = rng.standard_normal(8000)
    e -= e.mean()
    e -= np.dot(e, s) / np.dot(s, s) * s  # orthogonal to s: the projection of s + e onto s is s itself
    e *= np.sqrt(np.sum(s**2) / np.sum(e**2) / 10.0)  # ‖s‖²/‖e‖² = 10 -> 10 dB
    assert si_sdr_db(s, s + e) == pytest.approx(10.0, abs=1e-6)
    assert si_sdr_db(s, 0.3 * (s + e)) == pytest.approx(10.0, abs=1e-6)  # scale-invariant; SNR is not
    assert snr_db(s, 0.3 * (s + e)) < 5.0
    assert si_sdr_db(s, s + 0.5) > 100  # an offset is removed first


@pytest.mark.parametrize("snr", [0.0, 5.0, 10.0, -3.0])
def test_mix_at_snr_gives_that_snr(snr: float) -> None:
    rng = np.random.default_rng(1)
    speech, noise = _voice(12000, 150, 0), rng.standard_normal(5000).astype(np.float32)
    x, n = mix_at_snr(speech, noise_excerpt(noise, len(speech), offset=4321), snr)
    assert len(x) == len(speech)
    assert snr_db(speech, x) == pytest.approx(snr, abs=1e-3)
    assert np.allclose(x - speech, n, atol=1e-6)


def test_noise_excerpt_wraps() -> None:
    noise = np.arange(10, dtype=np.float32)
    assert noise_excerpt(noise, 6, 7).tolist() == [7, 8, 9, 0, 1, 2]


def test_stoi_is_one_for_clean_and_lower_for_noisy() -> None:
    s = _voice(SR * 2, 120, 0)
    noisy = s + 0.05 * np.random.default_rng(2).standard_normal(len(s)).astype(np.float32)
    assert stoi(s, s, SR) == pytest.approx(1.0, abs=1e-3)
    assert stoi(s, noisy, SR) < 0.95


def test_speaker_names() -> None:
    assert speaker_of("spk1_snt3") == "spk1"
    assert speaker_of("LJ050-0131") == "LJ"


def test_unseen_check_summary_shape(tmp_path: Path) -> None:
    for name, f0 in (("a_1", 120), ("a_2", 130), ("b_1", 210)):
        sf.write(tmp_path / f"{name}.wav", _voice(SR, f0, int(f0)), SR)
    torch.manual_seed(0)
    den = new_denoiser("mask", (16, 16), np.zeros(513), np.ones(513), 1.0, SR)
    noise = np.random.default_rng(3).standard_normal(SR // 2).astype(np.float32) * 0.01
    u = unseen_check(den, tmp_path, noise, seed=0)
    assert u["input_snrs_db"] == [0.0, 5.0, 10.0] and u["files"] == ["a_1.wav", "a_2.wav", "b_1.wav"]
    assert len(u["rows"]) == 9
    assert set(u["per_speaker"]) == {"a", "b"} and set(u["per_snr"]) == {"0", "5", "10"}
    for key in (
        "gain_db",
        "snr_db",
        "input_snr_db",
        "si_sdr_db",
        "input_si_sdr_db",
        "stoi",
        "input_stoi",
        "oracle_gain_db",
    ):
        assert np.isfinite(u["mean"][key]), key
    assert [r["input_snr_db"] for r in u["rows"][:3]] == pytest.approx([0.0, 5.0, 10.0], abs=1e-3)
    assert u["per_snr"]["10"]["input_snr_db"] == pytest.approx(10.0, abs=1e-3)
    assert u["mean"]["oracle_gain_db"] > 0
    assert len(u["passthrough"]["files"]) == 3 and u["passthrough"]["worst_file"] in u["files"]
    # seeded offsets: the same seed gives the same mixtures, another seed others
    again = unseen_check(den, tmp_path, noise, seed=0, metrics=False)
    assert [r["noise_offset"] for r in again["rows"]] == [r["noise_offset"] for r in u["rows"]]
    other = unseen_check(den, tmp_path, noise, seed=1, metrics=False)
    assert [r["noise_offset"] for r in other["rows"]] != [r["noise_offset"] for r in u["rows"]]


def test_train_writes_the_unseen_check(tiny, tmp_path: Path, speech_dir: Path) -> None:
    """`denoise train` scores the unseen folder with every variant; the kept one's result is summary["unseen"]."""
    from denselab.studies import denoise

    folder = tmp_path / "voices"
    folder.mkdir()
    for name in ("spk1_snt1.wav", "spk2_snt1.wav"):
        y, sr = sf.read(speech_dir / "unseen" / name, dtype="float32")
        sf.write(folder / name, y[:sr], sr)  # one second each
    from denselab.config import Runtime

    runtime = Runtime(data_dir=str(speech_dir.parent), quiet=True)
    summary = denoise.run(tiny("denoise", unseen=str(folder)), tmp_path / "out", runtime)
    u = summary["unseen"]
    assert u["files"] == ["spk1_snt1.wav", "spk2_snt1.wav"] and set(u["per_speaker"]) == {"spk1", "spk2"}
    assert (
        len(u["rows"]) == 6 and np.isfinite(u["mean"]["stoi"]) and u["passthrough"]["mean_snr_db"] is not None
    )
    assert u == {
        **summary["variants"][summary["model"]]["unseen"],
        "folder": u["folder"],
        "noise": u["noise"],
    }
    assert all("unseen" in v for v in summary["variants"].values())


def test_eval_on_a_folder_prints_the_check(tmp_path: Path, speech_dir: Path, capsys) -> None:
    from denselab.cli import main
    from denselab.studies.denoise_model import save_denoiser

    torch.manual_seed(0)
    model = save_denoiser(
        tmp_path / "model.pt", new_denoiser("mask", (16, 16), np.zeros(513), np.ones(513), 1.0, SR)
    )
    folder = tmp_path / "voices"
    folder.mkdir()
    sf.write(folder / "a_1.wav", _voice(SR, 150, 0), SR)
    sf.write(
        tmp_path / "noise.wav", 0.01 * np.random.default_rng(0).standard_normal(SR).astype(np.float32), SR
    )
    assert (
        main(
            [
                "denoise",
                "eval",
                "--model",
                str(model),
                "--speech",
                str(folder),
                "--noise",
                str(tmp_path / "noise.wav"),
                "--snrs",
                "0",
                "10",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert set(result["per_snr"]) == {"0", "10"} and result["per_speaker"]["a"][
        "input_snr_db"
    ] == pytest.approx(5.0, abs=1e-3)
    assert main(["denoise", "eval", "--model", str(model), "--noisy", str(folder / "a_1.wav")]) == 2
    assert "give both --noisy" in capsys.readouterr().err
    assert main(["denoise", "eval", "--model", str(model), "--speech", str(tmp_path / "nothing")]) == 2
