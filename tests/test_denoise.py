"""Study 2 (speech denoising): the STFT against librosa, features, reconstruction, SNR, the apply/eval paths,
bad inputs, a quick run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from denselab.cli import main
from denselab.data.audio import HOP, N_BINS, N_FFT, inverse_spectrum, snr_db, spectrum
from denselab.studies import denoise, denoise_data
from denselab.studies.denoise_model import (
    MODEL_VERSION,
    denoise_any_rate,
    denoise_signal,
    load_denoiser,
    new_denoiser,
    save_denoiser,
    with_noisy_phase,
)

SR = 16000


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    """Harmonic bursts plus a little noise: enough structure for STFT tests without reading files."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    y = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 1100), start=1))
    return (0.05 * envelope * y + 0.005 * rng.standard_normal(n)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained small denoiser saved as model.pt: enough for shape, rate, level and error paths."""
    torch.manual_seed(0)
    den = new_denoiser("mask", (32, 32), np.zeros(513), np.ones(513), 1.0, SR)
    return save_denoiser(tmp_path_factory.mktemp("model") / "model.pt", den)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, speech_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("denoise_quick")
    assert (
        main(
            [
                "denoise",
                "train",
                "--preset",
                "quick",
                "--data-dir",
                str(speech_dir.parent),
                "--out",
                str(out),
                "--quiet",
                "--unseen",
                "none",  # the unseen check: test_denoise_eval
                "--magnitude-hidden",
                "128",
                "128",
            ]
        )
        == 0
    )
    return out


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("denselab: error:"), err
    return err[0]


# --------------------------------------------------------------------------------- features and maths


@pytest.mark.parametrize("n", [12345, 20480])  # a ragged length and a whole number of hops
def test_spectrum_is_librosa_stft(n: int) -> None:
    import librosa

    y = _speechlike(n)
    ref = librosa.stft(y, n_fft=N_FFT, hop_length=HOP)
    ours = spectrum(y).numpy().T
    assert ours.shape == ref.shape == (N_BINS, 1 + n // HOP)
    assert np.abs(ours - ref).max() < 1e-4 * np.abs(ref).max()


def test_inverse_spectrum_is_librosa_istft() -> None:
    import librosa

    y = _speechlike(12345, seed=1)
    ref = librosa.istft(
        librosa.stft(y, n_fft=N_FFT, hop_length=HOP), n_fft=N_FFT, hop_length=HOP, length=len(y)
    )
    ours = inverse_spectrum(spectrum(y), len(y)).numpy()
    assert ours.shape == ref.shape == y.shape
    assert np.abs(ours - ref).max() < 1e-5
    assert np.abs(ours - y).max() < 1e-5 and snr_db(y, ours) > 80  # the round trip returns the input


def test_oracle_magnitude_round_trip_returns_the_input() -> None:
    y = _speechlike(20000)
    X = spectrum(y)
    rec = inverse_spectrum(with_noisy_phase(X, X.abs()), len(y)).numpy()
    assert rec.shape == y.shape
    assert np.abs(rec - y).max() < 1e-5
    assert snr_db(y, rec) > 80


def test_snr_against_hand_computed_values() -> None:
    s = np.array([1.0, 2.0, 3.0])
    assert snr_db(s, np.array([1.0, 2.0, 2.0])) == pytest.approx(10 * np.log10(14.0))  # 11.46 dB
    assert snr_db(np.array([3.0, 4.0]), np.array([3.0, 3.0])) == pytest.approx(10 * np.log10(25.0))
    assert snr_db(s, np.zeros(3)) == pytest.approx(0.0)
    assert snr_db(s, 2 * s) == pytest.approx(0.0)
    assert snr_db(s, s) == pytest.approx(10 * np.log10((14.0 + 1e-20) / 1e-20))  # the 1e-20 guard
    assert snr_db(np.zeros(3), np.zeros(3)) == pytest.approx(0.0)


def test_zero_magnitude_bins_are_guarded() -> None:
    X = torch.zeros(3, 513, dtype=torch.complex64)
    out = with_noisy_phase(X, torch.ones(3, 513))
    assert torch.isfinite(out.real).all() and (out.abs() == 0).all()


# --------------------------------------------------------------------------------------- inference


def test_level_invariance_and_chunking(tiny_model: Path) -> None:
    den = load_denoiser(tiny_model)
    y = _speechlike(40000)
    ref = denoise_signal(den, y)
    for gain in (0.1, 10.0):  # -20 dB and +20 dB
        np.testing.assert_allclose(denoise_signal(den, gain * y) / gain, ref, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(denoise_signal(den, y, chunk_frames=7), ref, atol=1e-5 * np.abs(ref).max())
    assert not np.allclose(ref, y)  # the net did something


def test_short_and_silent_clips(tiny_model: Path) -> None:
    den = load_denoiser(tiny_model)
    for n in (1, 300, 1023):
        assert denoise_any_rate(den, _speechlike(n), 44100).shape == (n,)
    assert not denoise_signal(den, np.zeros(5000, np.float32)).any()


def test_apply_stereo_44k_keeps_rate_and_length(tiny_model: Path, tmp_path: Path) -> None:
    n = 44100 + 123
    stereo = np.stack([_speechlike(n, 1), _speechlike(n, 2)], axis=1)
    sf.write(tmp_path / "in.wav", stereo, 44100, subtype="PCM_16")
    assert (
        main(
            [
                "denoise",
                "apply",
                "--model",
                str(tiny_model),
                str(tmp_path / "in.wav"),
                "-o",
                str(tmp_path / "out.wav"),
                "--quiet",
            ]
        )
        == 0
    )
    info = sf.info(tmp_path / "out.wav")
    assert (info.samplerate, info.frames, info.channels) == (44100, n, 1)


@pytest.mark.parametrize("subtype", ["PCM_U8", "FLOAT"])
def test_apply_8bit_and_float_wavs(tiny_model: Path, tmp_path: Path, subtype: str) -> None:
    sf.write(tmp_path / "in.wav", _speechlike(9000), 48000 if subtype == "FLOAT" else SR, subtype=subtype)
    assert (
        main(
            [
                "denoise",
                "apply",
                "--model",
                str(tiny_model),
                str(tmp_path / "in.wav"),
                "--out-dir",
                str(tmp_path / "o"),
                "--quiet",
            ]
        )
        == 0
    )
    assert sf.info(tmp_path / "o" / "in_denoised.wav").frames == 9000


# ------------------------------------------------------------------------------------------ bad input


def _write_bad(kind: str, path: Path) -> Path:
    if kind == "not_audio":
        path.write_text("this is not a wav file\n")
    elif kind == "empty":
        sf.write(path, np.zeros(0, np.float32), SR)
    elif kind == "nan":
        y = _speechlike(2000)
        y[100] = np.nan
        sf.write(path, y, SR, subtype="FLOAT")
    return path


@pytest.mark.parametrize(
    "kind,message",
    [("missing", "not found"), ("not_audio", "cannot read"), ("empty", "no audio samples"), ("nan", "NaN")],
)
def test_bad_wav_is_one_line_exit_2(
    tiny_model: Path, tmp_path: Path, capsys, kind: str, message: str
) -> None:
    bad = _write_bad(kind, tmp_path / "bad.wav")
    assert (
        main(["denoise", "apply", "--model", str(tiny_model), str(bad), "-o", str(tmp_path / "o.wav")]) == 2
    )
    assert message in _error_line(capsys)
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize(
    "kind,message",
    [
        ("missing", "not found"),
        ("text", "not a denselab model"),
        ("other_torch", "not a denselab denoiser"),
        ("mnist", "is a denselab mnist"),
        ("format", "upgrade denselab"),
    ],
)
def test_bad_model_file(tiny_model: Path, tmp_path: Path, capsys, kind: str, message: str) -> None:
    sf.write(tmp_path / "in.wav", _speechlike(3000), SR)
    model = tmp_path / "model.pt"
    if kind == "text":
        model.write_text("hello")
    elif kind == "other_torch":
        torch.save({"weights": torch.zeros(3)}, model)
    elif kind == "mnist":
        torch.save({"format": "denselab-mnist", "version": 1}, model)
    elif kind == "format":
        ckpt = torch.load(tiny_model, weights_only=True)
        torch.save({**ckpt, "version": MODEL_VERSION + 1, "denselab_version": "9.9.9"}, model)
    assert (
        main(
            [
                "denoise",
                "apply",
                "--model",
                str(model),
                str(tmp_path / "in.wav"),
                "-o",
                str(tmp_path / "o.wav"),
            ]
        )
        == 2
    )
    assert message in _error_line(capsys)


def test_model_header_and_the_older_header_still_loads(tiny_model: Path, tmp_path: Path) -> None:
    ckpt = torch.load(tiny_model, weights_only=True)
    assert (ckpt["format"], ckpt["version"]) == ("denselab-denoiser", MODEL_VERSION) and "kind" not in ckpt
    old = {k: v for k, v in ckpt.items() if k != "version"} | {"kind": "denselab-denoiser", "format": 1}
    torch.save(old, tmp_path / "old.pt")
    y = _speechlike(5000)
    assert np.array_equal(
        denoise_signal(load_denoiser(tmp_path / "old.pt"), y), denoise_signal(load_denoiser(tiny_model), y)
    )


def test_apply_and_eval_import_no_training_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from denselab.studies.denoise_model import apply_files, evaluate_files; "
        "print(sorted(m for m in sys.modules if m.startswith(('denselab.training', 'denselab.studies.denoise'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['denselab.studies.denoise_model']"


def test_eval_pair_checks(tiny_model: Path, tmp_path: Path, capsys) -> None:
    clean = _speechlike(20000)
    noisy = clean + 0.01 * np.random.default_rng(0).standard_normal(20000).astype(np.float32)
    sf.write(tmp_path / "clean.wav", clean, SR, subtype="FLOAT")
    sf.write(tmp_path / "rate.wav", noisy, 22050, subtype="FLOAT")
    sf.write(tmp_path / "long.wav", np.concatenate([noisy, noisy[:600]]), SR, subtype="FLOAT")
    sf.write(tmp_path / "short.wav", noisy[:-100], SR, subtype="FLOAT")
    args = ["denoise", "eval", "--model", str(tiny_model), "--clean", str(tmp_path / "clean.wav"), "--noisy"]
    assert main(args + [str(tmp_path / "rate.wav")]) == 2
    assert "sample rate" in _error_line(capsys)
    assert main(args + [str(tmp_path / "long.wav")]) == 2
    assert "at most one hop" in _error_line(capsys)
    assert main(args + [str(tmp_path / "short.wav")]) == 0
    captured = capsys.readouterr()
    assert "truncated to 19900" in captured.err
    result = json.loads(captured.out)
    assert result["input_snr_db"] == pytest.approx(snr_db(clean[:-100], noisy[:-100]), abs=1e-6)


def test_training_is_deterministic(speech_dir: Path) -> None:
    from denselab.studies.denoise_model import load_pair

    clean, noisy, sr, _ = load_pair(speech_dir / "train_clean_male.wav", speech_dir / "train_dirty_male.wav")
    split = denoise_data.split_pair(clean[:200000], noisy[:200000], sr, 0.1)
    cfg = denoise.Config(hidden=(32, 32), epochs=2, frames_per_epoch=512, batch_size=128)
    a, b = (denoise.train_variant("magnitude", split, cfg, "cpu", True) for _ in range(2))
    assert a.validation_snr_curve == b.validation_snr_curve and len(a.validation_snr_curve) == 2


def test_early_stopping_waits_for_min_epochs(speech_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from denselab.studies.denoise_model import load_pair

    clean, noisy, sr, _ = load_pair(speech_dir / "train_clean_male.wav", speech_dir / "train_dirty_male.wav")
    split = denoise_data.split_pair(clean[:100000], noisy[:100000], sr, 0.1)
    monkeypatch.setattr(
        denoise, "snr_db", lambda clean, estimate: 5.0
    )  # a validation SNR that never improves
    for floor, stopped_after in ((1, 2), (4, 4)):
        cfg = denoise.Config(
            hidden=(16, 16), epochs=6, frames_per_epoch=128, batch_size=64, patience=1, min_epochs=floor
        )
        result = denoise.train_variant("mask", split, cfg, "cpu", True)
        assert len(result.validation_snr_curve) == stopped_after and result.best_epoch == 1


# ----------------------------------------------------------------------------------------- end to end


def test_quick_train_files_and_keys(quick_run: Path) -> None:
    summary = json.loads((quick_run / "summary.json").read_text())
    for key in (
        "validation_snr_db",
        "validation_input_snr_db",
        "train_seconds",
        "model",
        "tests",
        "baselines",
    ):
        assert key in summary
    assert summary["model"] in ("mask", "magnitude") and set(summary["variants"]) == {"mask", "magnitude"}
    assert set(summary["baselines"]) == {"noisy", "spectral_subtraction", "wiener", "oracle"}
    assert summary["baselines"]["oracle"] > summary["validation_snr_db"] > summary["validation_input_snr_db"]
    assert [Path(t["output"]).name for t in summary["tests"]] == [
        "test_x_01_recons.wav",
        "test_x_02_recons.wav",
    ]
    for t in summary["tests"]:
        out, src = sf.info(quick_run / t["output"]), sf.info(t["source"])
        assert (out.frames, out.samplerate) == (src.frames, src.samplerate)
        assert (quick_run / t["figure"]).is_file()
    for rel in [
        *summary["validation_audio"].values(),
        *summary["figures"].values(),
        *summary["audio"].values(),
        "model.pt",
    ]:
        assert (quick_run / rel).is_file(), rel
    written = {
        p.relative_to(quick_run).as_posix() for p in quick_run.glob("*/*") if p.suffix in (".wav", ".png")
    }
    listed = {
        *summary["audio"].values(),
        *summary["figures"].values(),
        *summary["validation_audio"].values(),
        *(
            t[k]
            for t in summary["tests"]
            for k in ("output", "noisy", "output_mask", "output_magnitude", "assignment_output")
        ),
    }
    assert written == listed  # every file the study wrote is listed, `audio` only those no other key lists
    other = (
        "magnitude" if summary["model"] == "mask" else "mask"
    )  # the variant not kept: the only extra players
    assert summary["audio"] == {
        f"test_x_0{i}_output_{other}": f"audio/test_x_0{i}_recons_{other}.wav" for i in (1, 2)
    }
    assert [t["assignment_output"] for t in summary["tests"]] == [
        "audio/test_s_01_recons.wav",
        "audio/test_s_02_recons.wav",
    ]
    # three-way split: the held-out part is scored for both variants, the chosen one's numbers at the top
    for v in summary["variants"].values():
        assert {
            "heldout_snr_db",
            "heldout_input_snr_db",
            "heldout_si_sdr_db",
            "heldout_stoi",
            "validation_si_sdr_db",
            "validation_stoi",
        } <= set(v)
    assert summary["heldout_snr_db"] == summary["variants"][summary["model"]]["heldout_snr_db"]
    assert summary["heldout_input_snr_db"] < summary["heldout_snr_db"] and summary["unseen"] is None
    ckpt = torch.load(quick_run / "model.pt", weights_only=True)
    assert ckpt["variant"] == summary["model"] and ckpt["sample_rate"] == SR and ckpt["n_fft"] == 1024
    # each variant has its own widths; the mask denoises with the configured power
    assert summary["variants"]["mask"]["widths"] == [513, 256, 256, 513]
    assert summary["variants"]["magnitude"]["widths"] == [513, 128, 128, 513]
    assert ckpt["widths"] == summary["widths"] == summary["variants"][summary["model"]]["widths"]
    assert ckpt["mask_power"] == (denoise.Config().mask_power if summary["model"] == "mask" else 1.0)


def test_eval_prints_json(quick_run: Path, capsys) -> None:
    audio = quick_run / "audio"
    assert (
        main(
            [
                "denoise",
                "eval",
                "--model",
                str(quick_run / "model.pt"),
                "--noisy",
                str(audio / "validation_noisy.wav"),
                "--clean",
                str(audio / "validation_clean.wav"),
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {
        "snr_db",
        "input_snr_db",
        "gain_db",
        "si_sdr_db",
        "input_si_sdr_db",
        "stoi",
        "input_stoi",
        "pesq",
        "input_pesq",
    }
    assert (
        result["si_sdr_db"] > result["input_si_sdr_db"]
        and 0 < result["input_stoi"] <= 1
        and 0 < result["stoi"] <= 1
    )
    assert result["gain_db"] == pytest.approx(result["snr_db"] - result["input_snr_db"])
    assert (
        result["gain_db"] > 2.0
    )  # the quick preset's 3-epoch model: 1.6 -> 4.4 dB on validation (seed 0, m^0.9)


def test_trained_model_level_invariance_through_files(quick_run: Path, tmp_path: Path) -> None:
    y, sr = sf.read(quick_run / "audio" / "validation_noisy.wav", dtype="float32")
    outs = {}
    for gain in (0.1, 1.0, 4.0):  # -20 dB, as recorded, +12 dB (louder would clip the 16-bit file)
        sf.write(tmp_path / f"in{gain}.wav", gain * y, sr, subtype="FLOAT")
        main(
            [
                "denoise",
                "apply",
                "--model",
                str(quick_run / "model.pt"),
                str(tmp_path / f"in{gain}.wav"),
                "-o",
                str(tmp_path / f"out{gain}.wav"),
                "--quiet",
            ]
        )
        outs[gain] = sf.read(tmp_path / f"out{gain}.wav", dtype="float32")[0] / gain
    for gain in (0.1, 4.0):  # equal up to the gain, within 16-bit rounding of the quiet file
        assert snr_db(outs[1.0], outs[gain]) > 35


def test_speed_perturbed_copies_join_only_the_remix_pool(speech_dir: Path) -> None:
    from denselab.studies.denoise_model import load_pair

    clean, noisy, sr, _ = load_pair(speech_dir / "train_clean_male.wav", speech_dir / "train_dirty_male.wav")
    split = denoise_data.split_pair(clean[:100000], noisy[:100000], sr, 0.1, speed_factors=(0.9, 1.1))
    T = len(split.clean_frames)
    assert len(split.speech_frames) > 2.9 * T  # 1/0.9 + 1/1.1 ≈ 2.02 more copies' worth of frames
    # recorded pairs only, no level jitter: every example is g·(S[t] + N[t]) for one recorded frame t
    cfg = denoise.Config(remix_fraction=0.0, level_jitter_db=0.0, batch_size=64)
    x, s = denoise.remix_batch(split, cfg, torch.Generator().manual_seed(0), "cpu")
    g = denoise.REF_RMS / np.sqrt(split.noisy_power)
    recorded = g * (split.clean_frames + split.noise_frames)
    dist = torch.cdist(
        torch.view_as_real(x).flatten(1).double(), torch.view_as_real(recorded).flatten(1).double()
    )
    assert x.shape == (64, 513) and float(dist.min(1).values.max()) < 1e-3 * float(x.abs().max())


def test_voice_copies_move_pitch_and_formants_and_keep_power_and_length() -> None:
    import pyworld

    from denselab.data.audio import voice_copies

    # a 120 Hz pulse train through one resonance at 800 Hz: a vowel with a known f0 and formant
    n = SR
    x = np.zeros(n)
    x[:: SR // 120] = 1.0
    r, w = 0.97, 2 * np.pi * 800 / SR
    y = np.zeros(n)
    for i in range(2, n):  # two-pole resonator (a few thousand samples: fine in a test)
        y[i] = x[i] + 2 * r * np.cos(w) * y[i - 1] - r * r * y[i - 2]
    y = (0.1 * y / np.sqrt(np.mean(y**2))).astype(np.float32)
    copies = voice_copies(y, SR, ((1.5, 1.0), (1.0, 1.25)))
    ref = spectrum(y)
    assert [c.shape for c in copies] == [ref.shape] * 2
    for c in copies:  # each copy at the input's power
        assert float((c.abs() ** 2).mean()) == pytest.approx(float((ref.abs() ** 2).mean()), rel=1e-4)
    again = voice_copies(y, SR, ((1.5, 1.0), (1.0, 1.25)))
    assert all(torch.equal(a, b) for a, b in zip(copies, again))  # deterministic

    def f0_and_formant(z: torch.Tensor) -> tuple[float, float]:
        sig = inverse_spectrum(z, n).numpy().astype(np.float64)
        f0, t = pyworld.dio(sig, SR)
        env = pyworld.cheaptrick(sig, f0, t, SR).mean(0)
        freqs = np.arange(len(env)) * SR / (2 * (len(env) - 1))
        band = (freqs > 300) & (freqs < 2000)  # the envelope's centroid around the formant
        return float(np.median(f0[f0 > 0])), float(np.sum(freqs[band] * env[band]) / np.sum(env[band]))

    f0, formant = f0_and_formant(ref)
    assert f0 == pytest.approx(120, rel=0.03) and formant == pytest.approx(800, rel=0.1)
    f0_a, formant_a = f0_and_formant(copies[0])  # pitch × 1.5, envelope kept
    assert f0_a == pytest.approx(1.5 * f0, rel=0.03) and formant_a == pytest.approx(formant, rel=0.05)
    f0_b, formant_b = f0_and_formant(copies[1])  # pitch kept, envelope × 1.25
    assert f0_b == pytest.approx(f0, rel=0.03) and formant_b == pytest.approx(1.25 * formant, rel=0.05)
    assert voice_copies(y, SR, ()) == []


def test_frame_shifts_add_frames_on_shifted_grids_with_pairs_aligned(speech_dir: Path) -> None:
    from denselab.studies.denoise_model import load_pair

    clean, noisy, sr, _ = load_pair(speech_dir / "train_clean_male.wav", speech_dir / "train_dirty_male.wav")
    clean, noisy = clean[:100000], noisy[:100000]
    one = denoise_data.split_pair(clean, noisy, sr, 0.1)
    four = denoise_data.split_pair(clean, noisy, sr, 0.1, shifts=4)
    T = len(one.clean_frames)
    assert (
        len(four.clean_frames) == len(four.noise_frames) == len(four.speech_frames)
        and 4 * T - 4 <= len(four.clean_frames) <= 4 * T
    )
    assert torch.equal(four.clean_frames[:T], one.clean_frames)  # the first grid is the test-time STFT's
    cut = int(len(clean) * 0.9) // HOP * HOP
    second = spectrum(
        noisy[HOP // 4 : cut]
    )  # the second grid starts a quarter hop later; clean + noise = noisy
    assert torch.allclose(
        four.clean_frames[T : T + len(second)] + four.noise_frames[T : T + len(second)], second, atol=1e-4
    )
    assert not torch.allclose(second[: len(second) - 1], spectrum(noisy[:cut])[: len(second) - 1], atol=1e-2)
    np.testing.assert_array_equal(four.val_noisy, one.val_noisy)


def test_high_shelf_boost_touches_only_remixed_speech_above_the_corner() -> None:
    cfg = denoise.Config(hf_boost_db=20.0, hf_boost_hz=3000.0)
    remix = torch.tensor([True] * 4000 + [False] * 10)
    gain_db = 20 * torch.log10(denoise.speech_eq(remix, cfg, 513, 16000, torch.Generator().manual_seed(0)))
    assert gain_db.shape == (4010, 513) and torch.all(gain_db[4000:] == 0)  # recorded pairs keep their speech
    f = torch.linspace(0, 8000, 513)
    low, high = gain_db[:4000, f < 1000], gain_db[:4000, -1]
    assert (
        float(low.max()) < 0.4 and float(low.min()) >= 0
    )  # the voice's body (below 1 kHz) is all but untouched
    # the top bin's gain is uniform in [0, 20] dB: mean 10, spread 20/sqrt(12)
    assert 0 <= float(high.min()) and float(high.max()) <= 20 and abs(float(high.mean()) - 10) < 0.5
    assert abs(float(high.std()) - 20 / 12**0.5) < 0.3


def test_mask_power_shapes_the_output_not_the_loss(tmp_path: Path) -> None:
    from denselab.studies.denoise_model import estimate_magnitude, net_input

    torch.manual_seed(0)
    den = new_denoiser("mask", (32, 32), np.zeros(513), np.ones(513), 1.0, SR, mask_power=0.8)
    mag = torch.rand(7, 513) + 0.1
    with torch.no_grad():
        mask = den.net(net_input(mag, den))
        assert torch.allclose(estimate_magnitude(den, mag), mask**0.8 * mag, rtol=1e-6)
        assert torch.allclose(estimate_magnitude(den, mag, training=True), mask * mag, rtol=1e-6)
        assert bool((mask**0.8 >= mask).all())  # a power below 1 only ever removes less
    # the loss trains the plain mask: the same net at power 1 gives the same loss
    x = torch.polar(mag, torch.rand(7, 513))
    s = 0.5 * x
    plain = new_denoiser("mask", (32, 32), np.zeros(513), np.ones(513), 1.0, SR)
    plain.net.load_state_dict(den.net.state_dict())
    with torch.no_grad():
        assert float(denoise.loss_fn(den, x, s, "seglog")) == float(denoise.loss_fn(plain, x, s, "seglog"))
    # model.pt keeps the power (since model version 2); a version-1 file, from before it existed, loads with power 1
    path = save_denoiser(tmp_path / "p.pt", den)
    assert load_denoiser(path).mask_power == 0.8
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["version"] == MODEL_VERSION == 3
    del ckpt["mask_power"], ckpt["grids"]
    ckpt["version"] = 1
    torch.save(ckpt, tmp_path / "old.pt")
    assert load_denoiser(tmp_path / "old.pt").mask_power == 1.0


def test_cycle_spinning_averages_the_outputs_of_shifted_grids(tmp_path: Path) -> None:
    from denselab.studies.denoise_model import CHUNK_FRAMES, _denoise_one_grid

    torch.manual_seed(0)
    den = new_denoiser("mask", (32, 32), np.zeros(513), np.ones(513), 1.0, SR, grids=4)
    one = new_denoiser("mask", (32, 32), np.zeros(513), np.ones(513), 1.0, SR)
    one.net.load_state_dict(den.net.state_dict())
    y = _speechlike(6000)
    gain = np.float32(0.1 / np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    # the signal delayed by 0, 128, 256, 384 samples, each denoised at the level `y` sets, moved back, averaged
    shifted = [
        _denoise_one_grid(one, np.concatenate([np.zeros(d, np.float32), y]), gain, CHUNK_FRAMES)[d:]
        for d in (0, 128, 256, 384)
    ]
    out = denoise_signal(den, y)
    assert out.shape == y.shape
    np.testing.assert_allclose(out * gain, np.mean(shifted, 0), atol=1e-5)
    np.testing.assert_allclose(shifted[0] / gain, denoise_signal(one, y), atol=1e-6)
    with torch.no_grad():  # a mask of 1 gives back every grid's input exactly, so the average is the input
        den.net[-1][-2].bias.fill_(30.0)
        den.net[-1][-2].weight.zero_()
    np.testing.assert_allclose(denoise_signal(den, y), y, atol=1e-5)
    den.net.load_state_dict(one.net.state_dict())
    assert not np.allclose(out, denoise_signal(one, y), atol=1e-4)  # the grids do differ
    np.testing.assert_allclose(denoise_signal(den, 3 * y), 3 * out, rtol=1e-4, atol=1e-5)  # level invariant
    np.testing.assert_allclose(
        denoise_signal(den, y, chunk_frames=3), out, atol=1e-5
    )  # chunking changes nothing
    # model.pt keeps the grids (model version 3); files from before load with one grid
    path = save_denoiser(tmp_path / "g.pt", den)
    assert load_denoiser(path).grids == 4
    ckpt = torch.load(path, weights_only=True)
    del ckpt["grids"]
    ckpt["version"] = 2
    torch.save(ckpt, tmp_path / "old.pt")
    assert load_denoiser(tmp_path / "old.pt").grids == 1


@pytest.mark.parametrize(
    "flag",
    [
        ["--hidden", "64"],
        ["--validation-fraction", "1.5"],
        ["--ema-decay", "1"],
        ["--hf-boost-db", "-3"],
        ["--mask-power", "0"],
        ["--frame-shifts", "0"],
        ["--min-epochs", "0"],
        ["--denoise-grids", "65"],
    ],
)
def test_bad_option_values(tmp_path: Path, speech_dir: Path, capsys, flag: list[str]) -> None:
    assert (
        main(
            [
                "denoise",
                "train",
                "--preset",
                "quick",
                "--data-dir",
                str(speech_dir.parent),
                "--out",
                str(tmp_path / "o"),
                *flag,
            ]
        )
        == 2
    )
    _error_line(capsys)


def test_the_refit_trains_on_validation_and_validation_is_scored_by_the_first_fit(
    tiny, tmp_path: Path, speech_dir: Path
) -> None:
    """The kept variant is trained again on training + validation for the first fit's best epoch count; the
    validation numbers stay the first fit's (the same with the refit off), the saved model is the refit's."""
    import dataclasses

    from denselab.config import Runtime

    runtime = Runtime(data_dir=str(speech_dir.parent), quiet=True)
    cfg = tiny("denoise", model_type="mask", test=(), epochs=2, refit=True)
    on = denoise.run(cfg, tmp_path / "on", runtime)
    off = denoise.run(dataclasses.replace(cfg, refit=False), tmp_path / "off", runtime)
    assert off["refit"] is None and on["refit"]["variant"] == "mask"
    assert on["validation_snr_db"] == off["validation_snr_db"] and on["epochs"] == off["epochs"]
    assert on["refit"]["epochs"] == on["epochs"] and on["refit"]["train_seconds"] > 0
    # the validation part (10 % of the pair) joined the training frames
    assert on["refit"]["train_frames"] == pytest.approx(
        on["train_frames"] + cfg.frame_shifts * on["validation_seconds"] * 16000 / HOP,
        abs=2 * cfg.frame_shifts,
    )
    assert on["train_seconds"] > on["variants"]["mask"]["train_seconds"]
    refit, first = load_denoiser(tmp_path / "on" / "model.pt"), load_denoiser(tmp_path / "off" / "model.pt")
    assert not torch.equal(refit.net[0][0].weight, first.net[0][0].weight)
    clean, noisy = (
        sf.read(speech_dir / f, dtype="float32")[0] for f in ("train_clean_male.wav", "train_dirty_male.wav")
    )
    n = int(len(clean) * cfg.heldout_fraction) // HOP * HOP  # the held-out part is scored by the saved model
    assert on["heldout_snr_db"] == pytest.approx(
        snr_db(clean[:n], denoise_signal(refit, noisy[:n])), abs=1e-4
    )
