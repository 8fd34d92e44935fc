"""The denoiser's scoring: the check on voices never heard (its noise from parts of the recording the model
never trained on, its means), the classic baselines against their formulas, `denoise eval` on a folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from denselab.cli import main
from denselab.config import Runtime
from denselab.data.audio import snr_db
from denselab.studies import denoise
from denselab.studies.denoise.evaluate import (
    SUMMARY_KEYS,
    baselines,
    speaker_of,
    unseen_check,
    unseen_noise,
)
from denselab.studies.denoise.model import new_denoiser, save_denoiser

SR = 16000
PAIR = {"clean": "c.wav", "noisy": "n.wav", "samples": 0, "heldout_end": 0, "validation_start": 0}


def _voice(n: int, f0: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 12)) * (
        0.5 + 0.5 * np.sin(2 * np.pi * 2 * t) ** 2
    )
    return (0.05 * y + 0.002 * rng.standard_normal(n)).astype(np.float32)


def _untrained():
    torch.manual_seed(0)
    return new_denoiser("mask", (16, 16), np.zeros(513), np.ones(513), 1.0, SR)


@pytest.fixture(scope="module")
def voices(tmp_path_factory, speech_dir: Path) -> Path:
    """Two one-second utterances of two unseen speakers."""
    folder = tmp_path_factory.mktemp("voices")
    for name in ("spk1_snt1.wav", "spk2_snt1.wav"):
        y, sr = sf.read(speech_dir / "unseen" / name, dtype="float32")
        sf.write(folder / name, y[:sr], sr)
    return folder


@pytest.fixture(scope="module")
def own_run(tmp_path_factory, tiny, voices: Path, speech_dir: Path) -> tuple[Path, dict]:
    """One tiny `denoise train` of the mask with a short unseen folder (this file's one training run)."""
    out = tmp_path_factory.mktemp("denoise-unseen") / "run"
    runtime = Runtime(data_dir=str(speech_dir.parent), quiet=True)
    return out, denoise.run(tiny("denoise", unseen=str(voices), test=(), model_type="mask"), out, runtime)


def _unseen_summaries(own_run, tiny_run: Path) -> list[dict]:
    """summary["unseen"] of this file's run, and of the session's tiny run when it ran the check."""
    found = [own_run[1]["unseen"]]
    path = tiny_run / "denoise" / "summary.json"
    if path.is_file() and json.loads(path.read_text()).get("unseen"):
        found.append(json.loads(path.read_text())["unseen"])
    return found


def test_speaker_names() -> None:
    assert speaker_of("spk1_snt3") == "spk1"
    assert speaker_of("LJ050-0131") == "LJ"


def test_unseen_check_summary_shape(tmp_path: Path) -> None:
    for name, f0 in (("a_1", 120), ("a_2", 130), ("b_1", 210)):
        sf.write(tmp_path / f"{name}.wav", _voice(SR, f0, int(f0)), SR)
    den = _untrained()
    noise = np.random.default_rng(3).standard_normal(SR // 2).astype(np.float32) * 0.01
    u = unseen_check(den, tmp_path, noise, seed=0)
    assert u["input_snrs_db"] == [0.0, 5.0, 10.0] and u["files"] == ["a_1.wav", "a_2.wav", "b_1.wav"]
    assert len(u["rows"]) == 9
    assert set(u["per_speaker"]) == {"a", "b"} and set(u["per_snr"]) == {"0", "5", "10"}
    assert [r["input_snr_db"] for r in u["rows"][:3]] == pytest.approx([0.0, 5.0, 10.0], abs=1e-3)
    assert u["per_snr"]["10"]["input_snr_db"] == pytest.approx(10.0, abs=1e-3)
    assert u["mean"]["oracle_gain_db"] > 0
    assert len(u["passthrough"]["files"]) == 3 and u["passthrough"]["worst_file"] in u["files"]
    # seeded offsets: the same seed gives the same mixtures, another seed others
    again = unseen_check(den, tmp_path, noise, seed=0, snrs=(0.0,))
    assert [r["noise_offset"] for r in again["rows"]] == [r["noise_offset"] for r in u["rows"][::3]]
    other = unseen_check(den, tmp_path, noise, seed=1, snrs=(0.0,))
    assert [r["noise_offset"] for r in other["rows"]] != [r["noise_offset"] for r in again["rows"]]


def test_unseen_noise_is_the_held_out_and_validation_parts() -> None:
    noise = np.arange(100, dtype=np.float32)
    track, seen, sentence = unseen_noise(noise, 10, 80, longest=30, sr=10, name="n - c")
    assert track.tolist() == list(range(10)) + list(range(80, 100)) and seen is False
    assert (
        "held-out and validation parts" in sentence
        and "3.0 s" in sentence
        and "training part" not in sentence
    )
    track, seen, sentence = unseen_noise(noise, 0, 80, longest=20, sr=10, name="n - c")
    assert track.tolist() == list(range(80, 100)) and not seen and "validation part of" in sentence
    # too short for the longest utterance: the whole track, and it says so
    track, seen, sentence = unseen_noise(noise, 10, 80, longest=31, sr=10, name="n - c")
    assert track.tolist() == list(range(100)) and seen is True
    assert "training part included" in sentence and "3.1 s" in sentence


def test_baselines_follow_their_formulas(speech_dir: Path) -> None:
    """Spectral subtraction |Ŝ|² = max(|X|² − P_N, 0.01·|X|²) and Wiener |Ŝ| = ξ/(1+ξ)·|X|,
    ξ = max(|X|²/P_N − 1, 0), computed here with librosa and NumPy, each with the noisy phase, scored by the
    assignment's SNR."""
    import librosa

    clean = sf.read(speech_dir / "train_clean_male.wav", dtype="float32")[0][: 4 * SR]
    noisy = sf.read(speech_dir / "train_dirty_male.wav", dtype="float32")[0][: 4 * SR]
    stft = lambda y: librosa.stft(y, n_fft=1024, hop_length=512)  # (513, frames)
    psd = np.mean(np.abs(stft(noisy - clean)) ** 2, axis=1)  # the true noise's mean power per bin
    X = stft(noisy)
    power = np.abs(X) ** 2
    xi = np.maximum(power / psd[:, None] - 1.0, 0.0)
    phase = np.where(np.abs(X) > 0, X / np.maximum(np.abs(X), 1e-30), 0)
    back = lambda mag: librosa.istft(mag * phase, n_fft=1024, hop_length=512, length=len(noisy))
    expected = {
        "noisy": snr_db(clean, noisy),
        "spectral_subtraction": snr_db(clean, back(np.sqrt(np.maximum(power - psd[:, None], 0.01 * power)))),
        "wiener": snr_db(clean, back(xi / (1.0 + xi) * np.abs(X))),
        "oracle": snr_db(clean, back(np.abs(stft(clean)))),
    }
    ours = baselines(clean, noisy, psd.astype(np.float32))
    assert set(ours) == set(expected)
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, abs=1e-3), key
    assert ours["oracle"] > ours["wiener"] != ours["spectral_subtraction"]


def test_train_writes_the_unseen_check_with_noise_it_never_trained_on(own_run, voices: Path) -> None:
    out, summary = own_run
    u = summary["unseen"]
    assert u["files"] == ["spk1_snt1.wav", "spk2_snt1.wav"] and set(u["per_speaker"]) == {"spk1", "spk2"}
    assert len(u["rows"]) == 6 and u["folder"] == str(voices.resolve())
    assert u["noise_seen_in_training"] is False
    assert "held-out and validation parts" in u["noise_source"] and "training part" not in u["noise_source"]
    # every excerpt starts inside the held-out + validation track (11.8 s of the 78.7 s noise recording)
    pair = torch.load(out / "model.pt", weights_only=True)["training_pair"]
    unseen_samples = pair["heldout_end"] + pair["samples"] - pair["validation_start"]
    assert unseen_samples < 0.2 * pair["samples"]
    assert all(0 <= r["noise_offset"] < unseen_samples for r in u["rows"])
    assert all(v["unseen"]["files"] == u["files"] for v in summary["variants"].values())
    assert u == summary["variants"][summary["model"]]["unseen"]
    assert summary["pesq_available"] == ("pesq" in u["mean"])


def test_unseen_means_are_the_means_of_the_rows(own_run, tiny_run: Path) -> None:
    for u in _unseen_summaries(own_run, tiny_run):
        rows = u["rows"]
        keys = [k for k in SUMMARY_KEYS if any(k in r for r in rows)]
        assert {"snr_db", "gain_db", "stoi", "oracle_gain_db"} <= set(keys) == set(u["mean"])

        def mean(selected: list[dict], key: str) -> float:
            return float(np.mean([r[key] for r in selected if r.get(key) is not None]))

        for key in keys:
            assert u["mean"][key] == pytest.approx(mean(rows, key), abs=1e-9), key
            for spk, means in u["per_speaker"].items():
                assert means[key] == pytest.approx(
                    mean([r for r in rows if r["speaker"] == spk], key), abs=1e-9
                )
            for snr, means in u["per_snr"].items():
                assert means[key] == pytest.approx(
                    mean([r for r in rows if f"{r['target_snr_db']:g}" == snr], key)
                )
        for r in rows:
            assert r["gain_db"] == pytest.approx(r["snr_db"] - r["input_snr_db"])


def test_eval_on_a_folder_reproduces_the_runs_check(own_run, voices: Path, speech_dir: Path, capsys) -> None:
    """Without --noise, `denoise eval` finds the training pair and its unseen parts from model.pt: the same
    seed gives the run's own rows. With --noise, whether the model heard that noise is unknown (null)."""
    out, summary = own_run
    args = ["denoise", "eval", "--model", str(out / "model.pt"), "--speech", str(voices)]
    assert main([*args, "--data-dir", str(speech_dir.parent)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (
        result["noise_seen_in_training"] is False
        and result["noise_source"] == summary["unseen"]["noise_source"]
    )
    assert result["rows"] == summary["unseen"]["rows"] and result["mean"] == summary["unseen"]["mean"]
    sf.write(
        out.parent / "noise.wav", 0.01 * np.random.default_rng(0).standard_normal(SR).astype(np.float32), SR
    )
    assert main([*args, "--noise", str(out.parent / "noise.wav"), "--snrs", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["noise_seen_in_training"] is None and "--noise" in result["noise_source"]
    assert set(result["per_snr"]) == {"0"}


def test_eval_on_a_folder_with_a_noise_file_and_its_errors(tmp_path: Path, capsys) -> None:
    model = save_denoiser(tmp_path / "model.pt", _untrained(), PAIR)
    folder = tmp_path / "voices"
    folder.mkdir()
    sf.write(folder / "a_1.wav", _voice(SR, 150, 0), SR)
    sf.write(
        tmp_path / "noise.wav", 0.01 * np.random.default_rng(0).standard_normal(SR).astype(np.float32), SR
    )
    args = ["denoise", "eval", "--model", str(model), "--speech", str(folder)]
    assert main([*args, "--noise", str(tmp_path / "noise.wav"), "--snrs", "0", "10"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["per_snr"]) == {"0", "10"}
    assert result["per_speaker"]["a"]["input_snr_db"] == pytest.approx(5.0, abs=1e-3)
    assert main(["denoise", "eval", "--model", str(model), "--noisy", str(folder / "a_1.wav")]) == 2
    assert "give both --noisy" in capsys.readouterr().err
    assert main(["denoise", "eval", "--model", str(model), "--speech", str(tmp_path / "nothing")]) == 2
    assert "folder of clean speech not found" in capsys.readouterr().err
    # without --noise, the training pair model.pt names must be found
    assert main([*args, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "training pair" in err and "--noise WAV" in err and len(err.strip().splitlines()) == 1
