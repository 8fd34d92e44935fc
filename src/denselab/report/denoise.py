"""Problem 2's section: 2.6-2.13 where there is something to show. Audio and figures are the ones the study
listed in summary.json (`tests`, `validation_audio`, `audio`, `figures`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from denselab.report import denoise_text as text
from denselab.report.cells import (
    Cell,
    Study,
    code,
    code_that_ran,
    explain,
    figure_map,
    figures,
    heading,
    md,
    opening,
    other_figures,
    players,
    rel,
)

TITLE = "Problem 2 — Speech denoising using deep learning"

Q = {
    "2.6": "Load them and covert them into spectrograms [...] `S=librosa.stft(s, n_fft=1024, hop_length=512)` "
    "[...] which is going to give you two matrices S and X of size 513 × 2459.\n\n"
    "7. Take their magnitudes [...] Let's call them |S| and |X|.",
    "2.8": "Train a fully-connected deep neural network. [...] The input to the network is a column vector of |X| "
    "(a 513-dim vector) and the target is its corresponding one in |S|. [...]\n\n"
    "9. But, remember that your network should predict nonnegative magnitudes as output.",
    "2.10": "`test_01_x.wav` is the test noisy signal. [...] Feed the magnitude spectra of this test mixture "
    "|X_test| to your network and predict their clean magnitude spectra [...] take the phase information of "
    "the input noisy signal [...]\n\n11. Recover the time domain speech signal by applying an inverse-STFT "
    "[...] `sf.write('test_s_01_recons.wav', sh_test, sr)`\n\n12. Do the same testing procedure for "
    "`test_02_x.wav`, which actually contains Prof. K's voice along with the chip eating noise.",
    "2.13": "[...] you can also set aside a small number of training examples for validation, i.e., you don't "
    "include them during training. Once the training process is done, you apply your model to this "
    "validation set, and compute the SNR values. [...] The second approach is related to the early "
    "stopping technique [...]",
}

CAPTIONS = {
    "validation_spectrogram": "Validation audio: spectrograms of the noisy input, the network's output and the "
    "clean speech",
    "validation_curves": "Validation SNR per epoch of each variant, with the baselines",
}
VALIDATION_LABELS = {
    "noisy": "noisy input",
    "denoised": "denoised by the network",
    "clean": "clean reference",
}

SNR_TABLE = """\
denoise = load("denoise")
rows = []
for label, out, inp in (("held-out test part (touched once)", "heldout_snr_db", "heldout_input_snr_db"),
                        ("validation part (chose epoch and variant)", "validation_snr_db", "validation_input_snr_db")):
    if denoise.get(out) is not None:
        rows.append([label, num(denoise.get(inp), " dB"), num(denoise.get(out), " dB"),
                     num(denoise[out] - denoise[inp], " dB") if denoise.get(inp) is not None else "—"])
table(["audio", "noisy input SNR", f"network ({denoise.get('model')}) SNR", "gain"], rows)
base = {k: v for k, v in (denoise.get("baselines") or {}).items() if k != "noisy"}
if base:
    table(["baseline on the validation part", "SNR"],
          [[k.replace("_", " "), num(v.get("snr_db") if isinstance(v, dict) else v, " dB")] for k, v in base.items()])"""

VARIANTS_TABLE = """\
denoise = load("denoise")
variants = denoise.get("variants") or {}
held = any(v.get("heldout_snr_db") is not None for v in variants.values())  # measured by newer studies only
table(["variant", "validation SNR"] + ["held-out test SNR"] * held + ["best epoch", "epochs run", "restarts"],
      [[name, num(v.get("validation_snr_db"), " dB")] + [num(v.get("heldout_snr_db"), " dB")] * held
       + [num(v.get("best_epoch")), num(v.get("epochs_run")), num(v.get("collapse_restarts"))]
       for name, v in variants.items()])"""

UNSEEN_TABLE = """\
unseen = load("denoise")["unseen"]
speakers = (unseen.get("per_speaker") or {}).values()
# dB, STOI and PESQ to 0.001: a mix made at 0 dB measures 2e-9 dB, shown as 0
to_thousandth = lambda x: round(x, 3) if isinstance(x, float) else x
columns = [(k, label) for k, label in (("input_snr_db", "input SNR"), ("snr_db", "output SNR"), ("gain_db", "gain"),
                                      ("oracle_gain_db", "oracle gain"), ("si_sdr_db", "SI-SDR"), ("stoi", "STOI"),
                                      ("pesq", "PESQ")) if any(k in (v or {}) for v in speakers)]
for group, title in (("per_speaker", "speaker"), ("per_snr", "input SNR (dB)")):
    rows = [[name] + [num(to_thousandth((v or {}).get(k))) for k, _ in columns]
            for name, v in (unseen.get(group) or {}).items()]
    if rows:
        table([title] + [label for _, label in columns], rows)"""


def _test_items(study: Study) -> list[dict[str, Any]]:
    return [t for t in (study.summary or {}).get("tests") or [] if isinstance(t, dict)]


def _shown_clips(study: Study) -> set[str]:
    """The clips the test and validation sections play (paths relative to the results folder)."""
    s = study.summary or {}
    paths = [str(t[k]) for t in _test_items(study) for k in ("noisy", "output", "input") if t.get(k)]
    paths += [str(p) for p in (s.get("validation_audio") or {}).values() if p]
    return {rel(study, p) for p in paths}


def _audio_listing(study: Study) -> list[tuple[str, str]]:
    """The clips the study lists under `audio` ({label: path} or [{"path", "label"}] or [path]) that the test
    and validation sections do not already play: the variant that was not kept."""
    listed = (study.summary or {}).get("audio")
    if isinstance(listed, dict):
        items = [(str(v), str(k)) for k, v in listed.items() if isinstance(v, str)]
    elif isinstance(listed, list):
        items = [
            (str(a.get("path")), str(a.get("label") or Path(str(a.get("path"))).name))
            if isinstance(a, dict)
            else (str(a), Path(str(a)).name)
            for a in listed
        ]
    else:
        items = []
    shown = _shown_clips(study)
    return [
        (rel(study, p), _clip_label(study, label))
        for p, label in items
        if p and p != "None" and rel(study, p) not in shown
    ]


def _copies_note(study: Study) -> str:
    """One sentence naming the files that hold the kept output again (same audio, so not played twice)."""
    kept, items = f"output_{(study.summary or {}).get('model')}", _test_items(study)
    names = [f"`{t[k]}`" for t in items for k in ("assignment_output", kept) if t.get(k)]
    if not names:
        return ""
    listed = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]
    many = len(items) > 1
    return (
        f"The kept network's {'outputs above are' if many else 'output above is'} also saved as {listed}: the "
        f"same audio under the assignment's file {'names' if many else 'name'} and under the variant's name."
    )


CLIP_LABELS = {
    "output_mask": "the mask variant's output",
    "output_magnitude": "the literal regression's output",
}


def _clip_label(study: Study, key: str) -> str:
    """'test_x_01_output_magnitude' -> "test_x_01.wav — the literal regression's output"."""
    for t in _test_items(study):
        stem = Path(str(t.get("input") or "")).stem
        if stem and key.startswith(stem + "_"):
            rest = key[len(stem) + 1 :]
            return f"{stem}.wav — {CLIP_LABELS.get(rest, rest.replace('_', ' '))}"
    return key.replace("_", " ")


def _tests(study: Study) -> list[Cell]:
    out = []
    for t in _test_items(study):
        name = Path(str(t.get("input") or t.get("output") or "test")).name
        out.append(md(f"**{name}**"))
        if t.get("figure"):
            path = rel(study, str(t["figure"]))
            study.shown.update(k for k, p in figure_map(study).items() if p == path)
            out.append(
                code(
                    f"figure({path!r}, {f'{name}: spectrograms of the noisy input and the network output'!r})"
                )
            )
        clips = [
            (rel(study, str(t[k])), f"{name} — {label}")
            for k, label in (("noisy", "noisy input"), ("output", "denoised by the network"))
            if t.get(k)
        ]
        if not t.get("noisy") and t.get("input"):
            clips.insert(0, (rel(study, str(t["input"])), f"{name} — noisy input"))
        out += players(clips)
    return out or [md("*The summary lists no test files (`tests`).*")]


def cells(study: Study) -> list[Cell]:
    out = opening(study, TITLE, text.FORMULAS, text.method, text.DESCRIBED)
    if study.summary is None:
        return out
    s = study.summary
    frames = s.get("train_frames")
    out += [
        heading("2.6–2.7", "Spectrograms and their magnitudes", question=Q["2.6"]),
        md(
            "`torch.stft` with librosa's settings gives the same $513 \\times T$ matrices as `librosa.stft`"
            + (f"; the training part of the pair has {frames} frames" if frames else "")
            + "."
        ),
        *code_that_ran(study, "2.6"),
    ]
    out += [
        heading("2.8–2.9", "The network, and its nonnegative output", question=Q["2.8"]),
        *code_that_ran(study, "2.8"),
        md("The assignment's literal regression and the mask, side by side:"),
        code(VARIANTS_TABLE),
        *figures(study, ["validation_curves"], CAPTIONS),
        explain(text.variants, s),
    ]
    out += [
        heading("2.10–2.12", "The test recordings", question=Q["2.10"]),
        *code_that_ran(study, "2.10"),
        md(text.tests_note(s)),
        *_tests(study),
    ]
    named = _audio_listing(study)
    if named:
        out += [md("For comparison, the variant that was not kept:"), *players(named)]
    copies = _copies_note(study)
    if copies:
        out.append(md(copies))
    title = "Validation, and a held-out test part" if s.get("heldout_snr_db") is not None else "Validation"
    out += [
        heading("2.13", title, question=Q["2.13"]),
        *code_that_ran(study, "2.13"),
        code(SNR_TABLE),
        explain(text.validation, s, study.record, label="Answer."),
        *figures(study, ["validation_spectrogram"], CAPTIONS),
    ]
    valid = s.get("validation_audio")
    if isinstance(valid, dict):
        out += [
            md("Listen: the validation part's noisy input, the network's output and the clean reference."),
            *players(
                [
                    (rel(study, str(p)), f"Validation — {VALIDATION_LABELS.get(k, k.replace('_', ' '))}")
                    for k, p in valid.items()
                    if p
                ]
            ),
        ]
    if isinstance(s.get("unseen"), dict):
        out += [
            heading("", "Beyond the assignment: voices it never heard", level=3),
            code(UNSEEN_TABLE),
            explain(text.unseen, s, label=""),
        ]
    return out + other_figures(study, CAPTIONS)
