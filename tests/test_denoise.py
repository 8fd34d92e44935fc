"""Study 2 (speech denoising): reconstruction, inference, model.pt, the Python API, `denoise apply` / `eval`,
bad input, the training data and loop, and the files of the session's tiny run (`tiny_run / "denoise"`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from denselab.cli import main
from denselab.data.audio import HOP, inverse_spectrum, snr_db, spectrum
from denselab.errors import DenselabError
from denselab.studies.denoise import Config, augment, data, train
from denselab.studies.denoise.model import (
    MODEL_VERSION,
    REF_RMS,
    Denoiser,
    denoise_any_rate,
    denoise_signal,
    load_denoiser,
    new_denoiser,
    save_denoiser,
    with_noisy_phase,
)

SR = 16000
PAIR = {"clean": "c.wav", "noisy": "n.wav", "samples": 0, "heldout_end": 0, "validation_start": 0}


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    """Harmonic bursts plus a little noise: enough structure for these tests without reading files."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    y = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 1100), start=1))
    return (0.05 * envelope * y + 0.005 * rng.standard_normal(n)).astype(np.float32)


def _untrained(**kwargs) -> Denoiser:
    torch.manual_seed(0)
    return new_denoiser("mask", (32, 32), np.zeros(513), np.ones(513), 1.0, SR, **kwargs)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained small denoiser saved as model.pt: enough for shape, rate, level and error paths."""
    return save_denoiser(tmp_path_factory.mktemp("model") / "model.pt", _untrained(), PAIR)


@pytest.fixture(scope="module")
def trained(tiny_run: Path) -> Path:
    """The denoise folder of the session's tiny `denselab all` (read only)."""
    folder = tiny_run / "denoise"
    if not (folder / "model.pt").is_file():
        pytest.skip(f"the session's tiny run wrote no denoiser ({folder})")
    return folder


@pytest.fixture(scope="module")
def pair_head(speech_dir: Path) -> tuple[np.ndarray, np.ndarray, int]:
    clean, noisy, sr, _ = data.load_pair(
        speech_dir / "train_clean_male.wav", speech_dir / "train_dirty_male.wav"
    )
    return clean[:200000], noisy[:200000], sr


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("denselab: error:"), err
    return err[0]


# --------------------------------------------------------------------------------------- inference


def test_oracle_magnitude_round_trip_returns_the_input() -> None:
    y = _speechlike(20000)
    X = spectrum(y)
    rec = inverse_spectrum(with_noisy_phase(X, X.abs()), len(y)).numpy()
    assert rec.shape == y.shape
    assert np.abs(rec - y).max() < 1e-5 and snr_db(y, rec) > 80


def test_zero_magnitude_bins_are_guarded() -> None:
    out = with_noisy_phase(torch.zeros(3, 513, dtype=torch.complex64), torch.ones(3, 513))
    assert torch.isfinite(out.real).all() and (out.abs() == 0).all()


def test_level_invariance_and_chunking(tiny_model: Path) -> None:
    den = load_denoiser(tiny_model)
    y = _speechlike(40000)
    ref = denoise_signal(den, y)
    for gain in (0.1, 10.0):  # -20 dB and +20 dB
        np.testing.assert_allclose(denoise_signal(den, gain * y) / gain, ref, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(denoise_signal(den, y, chunk_frames=7), ref, atol=1e-5 * np.abs(ref).max())
    assert snr_db(y, ref) < 20  # the net changed the signal


def test_short_and_silent_clips(tiny_model: Path) -> None:
    den = load_denoiser(tiny_model)
    for n in (1, 300, 1023):
        assert denoise_any_rate(den, _speechlike(n), 44100).shape == (n,)
    assert not denoise_signal(den, np.zeros(5000, np.float32)).any()


def test_mask_power_shapes_the_output_not_the_loss(tmp_path: Path) -> None:
    from denselab.studies.denoise.model import estimate_magnitude, net_input

    den = _untrained(mask_power=0.8)
    mag = torch.rand(7, 513) + 0.1
    with torch.no_grad():
        mask = den.net(net_input(mag, den))
        assert torch.allclose(estimate_magnitude(den, mag), mask**0.8 * mag, rtol=1e-6)
        assert torch.allclose(estimate_magnitude(den, mag, training=True), mask * mag, rtol=1e-6)
    # the loss trains the plain mask: the same net at power 1 gives the same loss
    x = torch.polar(mag, torch.rand(7, 513))
    plain = _untrained()
    plain.net.load_state_dict(den.net.state_dict())
    with torch.no_grad():
        assert float(train.loss_fn(den, x, 0.5 * x, "seglog")) == float(
            train.loss_fn(plain, x, 0.5 * x, "seglog")
        )
    assert load_denoiser(save_denoiser(tmp_path / "p.pt", den, PAIR)).mask_power == 0.8


def test_cycle_spinning_averages_the_outputs_of_shifted_grids(tmp_path: Path) -> None:
    from denselab.studies.denoise.model import CHUNK_FRAMES, _denoise_one_grid

    den, one = _untrained(grids=4), _untrained()
    y = _speechlike(6000)
    gain = np.float32(0.1 / np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    # the signal delayed by 0, 128, 256, 384 samples, each denoised at the level of `y`, moved back, averaged
    shifted = [
        _denoise_one_grid(one, np.concatenate([np.zeros(d, np.float32), y]), gain, CHUNK_FRAMES)[d:]
        for d in (0, 128, 256, 384)
    ]
    out = denoise_signal(den, y)
    np.testing.assert_allclose(out * gain, np.mean(shifted, 0), atol=1e-5)
    np.testing.assert_allclose(shifted[0] / gain, denoise_signal(one, y), atol=1e-6)
    assert not np.allclose(out, denoise_signal(one, y), atol=1e-4)  # the grids do differ
    np.testing.assert_allclose(denoise_signal(den, 3 * y), 3 * out, rtol=1e-4, atol=1e-5)  # level invariant
    np.testing.assert_allclose(
        denoise_signal(den, y, chunk_frames=3), out, atol=1e-5
    )  # chunks change nothing
    with torch.no_grad():  # a mask of 1 gives back every grid's input exactly, so the average is the input
        den.net[-1][-2].bias.fill_(30.0)
        den.net[-1][-2].weight.zero_()
    np.testing.assert_allclose(denoise_signal(den, y), y, atol=1e-5)
    assert load_denoiser(save_denoiser(tmp_path / "g.pt", den, PAIR)).grids == 4


# ------------------------------------------------------------------------------------ the Python API


def test_denoiser_load_and_apply(tiny_model: Path, tmp_path: Path) -> None:
    den = Denoiser.load(tiny_model)
    y = _speechlike(30000)
    out = den.apply(y, SR)
    assert out.dtype == np.float32 and out.shape == y.shape
    np.testing.assert_array_equal(out, denoise_signal(den, y))
    stereo = np.stack([y, 0.5 * y], axis=1)  # (n, channels): down-mixed by averaging, like `denoise apply`
    np.testing.assert_allclose(den.apply(stereo, SR), denoise_signal(den, 0.75 * y), atol=1e-6)
    at_44k = den.apply(_speechlike(44100), 44100)
    assert at_44k.shape == (44100,)
    np.testing.assert_array_equal(den.apply(y.astype(np.float64).tolist(), SR), out)  # any real array-like
    for bad, message in (
        (np.zeros((4, 2, 2)), "shape"),
        (np.array([1.0, np.nan]), "NaN"),
        (np.array(["a", "b"]), "real samples"),
    ):
        with pytest.raises(DenselabError, match=message):
            den.apply(bad, SR)
    with pytest.raises(DenselabError, match="sample_rate"):
        den.apply(y, 0)
    with pytest.raises(DenselabError, match="model file not found"):
        Denoiser.load(tmp_path / "nothing.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(DenselabError, match="not a denselab model file"):
        Denoiser.load(tmp_path / "text.pt")


# ---------------------------------------------------------------------------------- apply, model.pt


def test_apply_stereo_44k_keeps_rate_and_length(tiny_model: Path, tmp_path: Path) -> None:
    n = 44100 + 123
    stereo = np.stack([_speechlike(n, 1), _speechlike(n, 2)], axis=1)
    sf.write(tmp_path / "in.wav", stereo, 44100, subtype="PCM_16")
    args = [
        "denoise",
        "apply",
        "--model",
        tiny_model,
        tmp_path / "in.wav",
        "-o",
        tmp_path / "out.wav",
        "--quiet",
    ]
    assert main([str(a) for a in args]) == 0
    info = sf.info(tmp_path / "out.wav")
    assert (info.samplerate, info.frames, info.channels) == (44100, n, 1)
    y = sf.read(tmp_path / "in.wav", dtype="float32")[0]
    expected = Denoiser.load(tiny_model).apply(y, 44100)  # what the Python API gives, up to 16-bit rounding
    assert np.abs(sf.read(tmp_path / "out.wav", dtype="float32")[0] - expected).max() < 2 / 32768


@pytest.mark.parametrize("subtype", ["PCM_U8", "FLOAT"])
def test_apply_8bit_and_float_wavs(tiny_model: Path, tmp_path: Path, subtype: str) -> None:
    sf.write(tmp_path / "in.wav", _speechlike(9000), 48000 if subtype == "FLOAT" else SR, subtype=subtype)
    out = tmp_path / "o"
    assert (
        main(
            ["denoise", "apply", "--model", str(tiny_model), str(tmp_path / "in.wav"), "--out-dir", str(out)]
        )
        == 0
    )
    assert sf.info(out / "in_denoised.wav").frames == 9000


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
def test_a_bad_input_wav_writes_nothing(
    tiny_model: Path, tmp_path: Path, capsys, kind: str, message: str
) -> None:
    """Every input is checked before the first output is written: a good file before the bad one is not
    denoised either, and the output folder is not even made."""
    sf.write(tmp_path / "good.wav", _speechlike(3000), SR)
    bad = _write_bad(kind, tmp_path / "bad.wav")
    out = tmp_path / "out"
    args = ["denoise", "apply", "--model", str(tiny_model), str(tmp_path / "good.wav"), str(bad)]
    assert main([*args, "--out-dir", str(out)]) == 2
    line = _error_line(capsys)
    assert message in line and "bad.wav" in line
    assert not out.exists()
    assert (
        main(["denoise", "apply", "--model", str(tiny_model), str(bad), "-o", str(tmp_path / "o.wav")]) == 2
    )
    assert message in _error_line(capsys) and not (tmp_path / "o.wav").exists()


def test_apply_refuses_two_inputs_with_one_output_name(tiny_model: Path, tmp_path: Path, capsys) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        sf.write(tmp_path / sub / "x.wav", _speechlike(3000), SR)
    args = [
        "denoise",
        "apply",
        "--model",
        str(tiny_model),
        str(tmp_path / "a" / "x.wav"),
        str(tmp_path / "b" / "x.wav"),
    ]
    assert main([*args, "--out-dir", str(tmp_path / "out")]) == 2
    assert "would both be written to" in _error_line(capsys) and not (tmp_path / "out").exists()


def _model_file(kind: str, tiny_model: Path, path: Path) -> Path:
    ckpt = torch.load(tiny_model, weights_only=True)
    if kind == "text":
        path.write_text("hello")
    elif kind == "other_torch":
        torch.save({"weights": torch.zeros(3)}, path)
    elif kind == "mnist":
        torch.save({"format": "denselab-mnist", "version": 1}, path)
    elif kind == "newer":
        torch.save({**ckpt, "version": MODEL_VERSION + 1, "denselab_version": "9.9.9"}, path)
    elif kind == "older":  # version 3: the layout before `training_pair`
        torch.save({**{k: v for k, v in ckpt.items() if k != "training_pair"}, "version": 3}, path)
    elif kind == "older_header":  # the first header, {"kind": ..., "format": 1}
        old = {k: v for k, v in ckpt.items() if k != "version"}
        torch.save({**old, "kind": "denselab-denoiser", "format": 1}, path)
    return path


@pytest.mark.parametrize(
    "kind,messages",
    [
        ("missing", ["model file not found"]),
        ("text", ["not a denselab model"]),
        ("other_torch", ["not a denselab denoiser"]),
        ("mnist", ["is a denselab mnist"]),
        ("newer", ["version 5", "upgrade denselab"]),
        ("older", ["version 3", f"{MODEL_VERSION}", "retrain it with `denselab denoise train`"]),
        ("older_header", ["older denselab", f"{MODEL_VERSION}", "retrain it with `denselab denoise train`"]),
    ],
)
def test_bad_model_file(tiny_model: Path, tmp_path: Path, capsys, kind: str, messages: list[str]) -> None:
    sf.write(tmp_path / "in.wav", _speechlike(3000), SR)
    model = _model_file(kind, tiny_model, tmp_path / "model.pt")
    args = [
        "denoise",
        "apply",
        "--model",
        str(model),
        str(tmp_path / "in.wav"),
        "-o",
        str(tmp_path / "o.wav"),
    ]
    assert main(args) == 2
    line = _error_line(capsys)
    assert all(m in line for m in messages), line
    assert not (tmp_path / "o.wav").exists()


def test_model_file_header_and_training_pair(tiny_model: Path) -> None:
    ckpt = torch.load(tiny_model, weights_only=True)
    assert (
        (ckpt["format"], ckpt["version"]) == ("denselab-denoiser", MODEL_VERSION) == ("denselab-denoiser", 4)
    )
    assert "kind" not in ckpt and "dropout" not in ckpt and ckpt["training_pair"] == PAIR


def test_apply_and_eval_import_no_training_code() -> None:
    code = (
        "import sys; from denselab.studies.denoise.commands import apply_files, evaluate_folder; "
        "print(sorted(m for m in sys.modules "
        "if m.startswith(('denselab.training', 'denselab.studies.denoise'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(eval(out))  # noqa: S307 - a list of module names printed by the line above
    assert loaded == {
        f"denselab.studies.denoise{m}" for m in ("", ".config", ".data", ".model", ".evaluate", ".commands")
    }


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


def test_eval_without_pesq_says_how_to_add_it(tiny_model: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pesq", None)  # as if the optional package were not installed
    clean = _speechlike(20000)
    sf.write(tmp_path / "clean.wav", clean, SR, subtype="FLOAT")
    sf.write(tmp_path / "noisy.wav", clean + 0.01 * _speechlike(20000, 3), SR, subtype="FLOAT")
    args = ["--model", tiny_model, "--clean", tmp_path / "clean.wav", "--noisy", tmp_path / "noisy.wav"]
    assert main(["denoise", "eval", *map(str, args)]) == 0
    captured = capsys.readouterr()
    assert set(json.loads(captured.out)) == {
        "snr_db", "input_snr_db", "gain_db", "si_sdr_db", "input_si_sdr_db", "stoi", "input_stoi"
    }  # fmt: skip
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "pip install 'denselab[pesq]'" in err[0] and "C compiler" in err[0]


# --------------------------------------------------------------------------------------- bad settings


@pytest.mark.parametrize(
    "flag,named",
    [
        (["--hidden", "64"], "--hidden"),
        (["--magnitude-hidden", "0", "8"], "--magnitude-hidden"),
        (["--validation-fraction", "1.5"], "--validation-fraction"),
        (["--heldout-fraction", "0.95"], "--heldout-fraction"),
        (["--ema-decay", "1"], "--ema-decay"),
        (["--hf-boost-db", "-3"], "--hf-boost-db"),
        (["--mask-power", "0"], "--mask-power"),
        (["--frame-shifts", "0"], "--frame-shifts"),
        (["--min-epochs", "0"], "--min-epochs"),
        (["--denoise-grids", "65"], "--denoise-grids"),
    ],
)
def test_bad_option_values_name_the_option(tmp_path: Path, speech_dir: Path, capsys, flag, named) -> None:
    args = [
        "denoise",
        "train",
        "--preset",
        "quick",
        "--data-dir",
        str(speech_dir.parent),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main([*args, *flag]) == 2
    line = _error_line(capsys)
    assert line.startswith(f"denselab: error: {named} ") or f" {named} " in line, line
    assert not (tmp_path / "o").exists()


def test_removed_settings_are_gone() -> None:
    fields = set(Config.__dataclass_fields__)
    assert not fields & {"refit", "level_jitter_db", "dropout"}


def _train_args(tmp_path: Path, data_dir: Path, *extra: str) -> list[str]:
    return [
        "denoise",
        "train",
        "--preset",
        "quick",
        "--data-dir",
        str(data_dir),
        "--out",
        str(tmp_path / "o"),
        *extra,
    ]


def test_missing_or_unreadable_inputs_are_named_before_anything_is_written(
    tmp_path: Path, speech_dir: Path, capsys
) -> None:
    empty = tmp_path / "data"
    (empty / "speech").mkdir(parents=True)
    assert main(_train_args(tmp_path, empty)) == 2
    line = _error_line(capsys)
    assert "train_clean_male.wav" in line and "<data-dir>/speech/" in line
    text = tmp_path / "noisy.wav"
    text.write_text("not audio")
    clean = str(speech_dir / "train_clean_male.wav")
    assert main(_train_args(tmp_path, speech_dir.parent, "--noisy", str(text))) == 2
    assert "cannot read" in (line := _error_line(capsys)) and str(text) in line and "<data-dir>" not in line
    sf.write(tmp_path / "rate.wav", _speechlike(SR), 22050)
    assert (
        main(
            _train_args(tmp_path, speech_dir.parent, "--clean", clean, "--noisy", str(tmp_path / "rate.wav"))
        )
        == 2
    )
    assert "share one sample rate" in _error_line(capsys)
    assert main(_train_args(tmp_path, speech_dir.parent, "--test", str(tmp_path / "nope.wav"))) == 2
    assert "nope.wav" in _error_line(capsys)
    (tmp_path / "voices").mkdir()
    (tmp_path / "voices" / "notes.txt").write_text("no audio here")
    assert main(_train_args(tmp_path, speech_dir.parent, "--unseen", str(tmp_path / "voices"))) == 2
    assert "no audio files" in _error_line(capsys)
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------- training data, loop


def test_training_is_deterministic(pair_head) -> None:
    split = data.split_pair(*pair_head, 0.1)
    cfg = Config(hidden=(32, 32), epochs=2, frames_per_epoch=512, batch_size=128)
    a, b = (train.train_variant("magnitude", split, cfg, "cpu", True) for _ in range(2))
    assert a.validation_snr_curve == b.validation_snr_curve and len(a.validation_snr_curve) == 2


def test_early_stopping_waits_for_min_epochs(pair_head, monkeypatch: pytest.MonkeyPatch) -> None:
    clean, noisy, sr = pair_head
    split = data.split_pair(clean[:100000], noisy[:100000], sr, 0.1)
    monkeypatch.setattr(train, "snr_db", lambda clean, estimate: 5.0)  # a validation SNR that never improves
    for floor, stopped_after in ((1, 2), (4, 4)):
        cfg = Config(
            hidden=(16, 16), epochs=6, frames_per_epoch=128, batch_size=64, patience=1, min_epochs=floor
        )
        result = train.train_variant("mask", split, cfg, "cpu", True)
        assert len(result.validation_snr_curve) == stopped_after and result.best_epoch == 1


def test_speed_perturbed_copies_join_only_the_remix_pool(pair_head) -> None:
    clean, noisy, sr = pair_head
    plain = data.split_pair(clean[:100000], noisy[:100000], sr, 0.1)
    split = augment.with_copies(plain, augment.speech_copies(plain.train_clean, sr, (0.9, 1.1), ()))
    T = len(split.clean_frames)
    assert len(split.speech_frames) > 2.9 * T  # 1/0.9 + 1/1.1 ≈ 2.02 more copies' worth of frames
    # recorded pairs only: every example is g·(S[t] + N[t]) for one recorded frame t
    x, s = augment.remix_batch(
        split, Config(remix_fraction=0.0, batch_size=64), torch.Generator().manual_seed(0), "cpu"
    )
    recorded = REF_RMS / np.sqrt(split.noisy_power) * (split.clean_frames + split.noise_frames)
    dist = torch.cdist(
        torch.view_as_real(x).flatten(1).double(), torch.view_as_real(recorded).flatten(1).double()
    )
    assert x.shape == (64, 513) and float(dist.min(1).values.max()) < 1e-3 * float(x.abs().max())


def test_frame_shifts_add_frames_on_shifted_grids_with_pairs_aligned(pair_head) -> None:
    clean, noisy, sr = pair_head
    clean, noisy = clean[:100000], noisy[:100000]
    one = data.split_pair(clean, noisy, sr, 0.1)
    four = data.split_pair(clean, noisy, sr, 0.1, shifts=4)
    T = len(one.clean_frames)
    assert len(four.clean_frames) == len(four.noise_frames) == len(four.speech_frames)
    assert 4 * T - 4 <= len(four.clean_frames) <= 4 * T
    assert torch.equal(four.clean_frames[:T], one.clean_frames)  # the first grid is the test-time STFT's
    cut = int(len(clean) * 0.9) // HOP * HOP
    second = spectrum(
        noisy[HOP // 4 : cut]
    )  # the second grid starts a quarter hop later; clean + noise = noisy
    both = four.clean_frames[T : T + len(second)] + four.noise_frames[T : T + len(second)]
    assert torch.allclose(both, second, atol=1e-4)
    assert not torch.allclose(second[: len(second) - 1], spectrum(noisy[:cut])[: len(second) - 1], atol=1e-2)
    np.testing.assert_array_equal(four.val_noisy, one.val_noisy)


def test_high_shelf_boost_touches_only_remixed_speech_above_the_corner() -> None:
    cfg = Config(hf_boost_db=20.0, hf_boost_hz=3000.0)
    remix = torch.tensor([True] * 4000 + [False] * 10)
    gain_db = 20 * torch.log10(augment.speech_eq(remix, cfg, 513, 16000, torch.Generator().manual_seed(0)))
    assert gain_db.shape == (4010, 513) and torch.all(gain_db[4000:] == 0)  # recorded pairs keep their speech
    f = torch.linspace(0, 8000, 513)
    low, high = gain_db[:4000, f < 1000], gain_db[:4000, -1]
    assert (
        float(low.max()) < 0.4 and float(low.min()) >= 0
    )  # the voice's body (below 1 kHz) all but untouched
    # the top bin's gain is uniform in [0, 20] dB: mean 10, spread 20/sqrt(12)
    assert 0 <= float(high.min()) and float(high.max()) <= 20 and abs(float(high.mean()) - 10) < 0.5
    assert abs(float(high.std()) - 20 / 12**0.5) < 0.3


# ------------------------------------------------------------------------- the session's tiny run


def test_tiny_run_files_and_keys(trained: Path) -> None:
    summary = json.loads((trained / "summary.json").read_text())
    config = json.loads((trained / "config.json").read_text())["config"]
    assert summary["model"] in ("mask", "magnitude") and set(summary["variants"]) == {"mask", "magnitude"}
    assert set(summary["baselines"]) == {"noisy", "spectral_subtraction", "wiener", "oracle"}
    assert summary["baselines"]["noisy"] == summary["validation_input_snr_db"]
    assert "refit" not in summary
    tests = summary["tests"]
    assert [Path(t["output"]).name for t in tests] == ["test_x_01_recons.wav", "test_x_02_recons.wav"]
    assert [t["assignment_output"] for t in tests] == [
        "audio/test_s_01_recons.wav",
        "audio/test_s_02_recons.wav",
    ]
    for t in tests:
        out, src = sf.info(trained / t["output"]), sf.info(t["source"])
        assert (out.frames, out.samplerate) == (src.frames, src.samplerate)
    listed = {
        *summary["audio"].values(),
        *summary["figures"].values(),
        *summary["validation_audio"].values(),
        *summary["training_pair"]["clips"].values(),
        *(
            t[k]
            for t in tests
            for k in ("output", "noisy", "output_mask", "output_magnitude", "assignment_output")
        ),
    }
    written = {p.relative_to(trained).as_posix() for p in trained.glob("*/*") if p.suffix in (".wav", ".png")}
    assert written == listed  # every file the study wrote is listed, `audio` only those no other key lists
    other = (
        "magnitude" if summary["model"] == "mask" else "mask"
    )  # the variant not kept: the only extra players
    assert summary["audio"] == {
        f"test_x_0{i}_output_{other}": f"audio/test_x_0{i}_recons_{other}.wav" for i in (1, 2)
    }
    for v in summary["variants"].values():  # the held-out part is scored for both variants
        assert {"heldout_snr_db", "heldout_input_snr_db", "heldout_stoi", "validation_si_sdr_db"} <= set(v)
    assert summary["heldout_snr_db"] == summary["variants"][summary["model"]]["heldout_snr_db"]
    ckpt = torch.load(trained / "model.pt", weights_only=True)
    assert ckpt["variant"] == summary["model"] and ckpt["sample_rate"] == SR and ckpt["n_fft"] == 1024
    assert summary["variants"]["mask"]["widths"] == [513, *config["hidden"], 513]
    assert summary["variants"]["magnitude"]["widths"] == [513, *config["magnitude_hidden"], 513]
    assert ckpt["widths"] == summary["widths"] == summary["variants"][summary["model"]]["widths"]
    assert ckpt["mask_power"] == (config["mask_power"] if summary["model"] == "mask" else 1.0)


def test_tiny_run_training_pair_and_split(trained: Path, speech_dir: Path) -> None:
    summary = json.loads((trained / "summary.json").read_text())
    config = json.loads((trained / "config.json").read_text())["config"]
    pair, split = summary["training_pair"], summary["split"]
    clean = sf.read(speech_dir / "train_clean_male.wav", dtype="float32")[0]
    assert pair["sample_rate"] == SR and pair["seconds"] == pytest.approx(len(clean) / SR)
    assert pair["stft_shape"] == [513, 2459] == list(spectrum(clean).T.shape)
    for key, name in (("clean", "train_clean_male.wav"), ("noisy", "train_dirty_male.wav")):
        clip = sf.read(trained / pair["clips"][key], dtype="float32")[0]
        source = sf.read(speech_dir / name, dtype="float32")[0]
        assert len(clip) == round(pair["clip_seconds"] * SR) == 10 * SR
        np.testing.assert_allclose(clip, source[: len(clip)], atol=1 / 32768)
    parts = split["train_seconds"] + split["validation_seconds"] + split["heldout_seconds"]
    assert parts == pytest.approx(pair["seconds"])
    assert split["validation_seconds"] == pytest.approx(
        config["validation_fraction"] * pair["seconds"], abs=HOP / SR
    )
    assert split["heldout_seconds"] == pytest.approx(
        config["heldout_fraction"] * pair["seconds"], abs=HOP / SR
    )
    assert split["train_frames"] == 1 + round(split["train_seconds"] * SR) // HOP
    assert split["frame_grids"] == config["frame_shifts"]
    assert summary["train_frames"] == pytest.approx(
        split["frame_grids"] * split["train_frames"], abs=split["frame_grids"]
    )
    ckpt = torch.load(trained / "model.pt", weights_only=True)
    assert ckpt["training_pair"]["heldout_end"] == round(split["heldout_seconds"] * SR)
    assert ckpt["training_pair"]["samples"] - ckpt["training_pair"]["validation_start"] == round(
        split["validation_seconds"] * SR
    )


def test_eval_of_the_validation_part_gives_the_runs_numbers(trained: Path, capsys) -> None:
    """`denoise eval` on the run's own validation WAVs reproduces the run's validation scores (up to the WAVs'
    16-bit rounding); with `pesq` installed its PESQ is a number on its 1..4.64 scale."""
    summary = json.loads((trained / "summary.json").read_text())
    audio = trained / "audio"
    args = [
        "--model",
        trained / "model.pt",
        "--noisy",
        audio / "validation_noisy.wav",
        "--clean",
        audio / "validation_clean.wav",
    ]
    assert main(["denoise", "eval", *map(str, args)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["gain_db"] == pytest.approx(result["snr_db"] - result["input_snr_db"])
    assert result["input_snr_db"] == pytest.approx(summary["validation_input_snr_db"], abs=0.01)
    assert result["snr_db"] == pytest.approx(summary["validation_snr_db"], abs=0.05)
    assert result["stoi"] == pytest.approx(summary["validation_stoi"], abs=0.01)
    if not summary["pesq_available"]:
        pytest.skip("the pesq package is not installed: no PESQ to check")
    assert "pesq_error" not in result
    assert 1.0 <= result["pesq"] <= 4.65 and result["pesq"] == pytest.approx(
        summary["validation_pesq"], abs=0.05
    )


def test_trained_model_level_invariance_through_files(trained: Path, tmp_path: Path) -> None:
    y, sr = sf.read(trained / "audio" / "validation_noisy.wav", dtype="float32")
    outs = {}
    for gain in (0.25, 1.0, 4.0):  # -12 dB, as recorded, +12 dB (louder would clip the 16-bit file)
        sf.write(tmp_path / f"in{gain}.wav", gain * y, sr, subtype="FLOAT")
        args = [
            "--model",
            trained / "model.pt",
            tmp_path / f"in{gain}.wav",
            "-o",
            tmp_path / f"out{gain}.wav",
        ]
        assert main(["denoise", "apply", "--quiet", *map(str, args)]) == 0
        outs[gain] = sf.read(tmp_path / f"out{gain}.wav", dtype="float32")[0] / gain
    for gain in (0.25, 4.0):  # equal up to the gain, within 16-bit rounding of the quiet file
        assert snr_db(outs[1.0], outs[gain]) > 35
