"""The report: built from a synthetic results folder (summary.json files with the CONTRACT's keys, tiny PNGs
and WAVs), executed, converted to one self-contained HTML file and rendered in headless Chromium."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
import struct
import subprocess
import wave
import zlib
from pathlib import Path

import nbformat
import pytest

from denselab.cli import main
from denselab.report import build_report, text
from denselab.report.notebook import build_notebook
from denselab.report.render import MATHJAX_CDN, execute, external_refs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAYERS = ["raw", "hidden1", "hidden2", "hidden3", "hidden4", "hidden5", "output"]


# ------------------------------------------------------------------------------------------ fixture files

def png(path: Path, rgb: tuple[int, int, int], size: tuple[int, int] = (120, 80)) -> None:
    """A small solid-colour PNG with a dark border (standard library only)."""
    w, h = size
    rows = []
    for y in range(h):
        row = bytearray([0])  # filter type 0
        for x in range(w):
            border = x < 3 or y < 3 or x >= w - 3 or y >= h - 3
            row += bytes((20, 20, 20) if border else rgb)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def wav(path: Path, freq: float, seconds: float = 0.25, sr: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / sr))) for i in range(n))
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sr)
        f.writeframes(frames)


def write(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def grid(counts, purity, majors, units=None):
    rows = [{"unit": i, "count": c, "purity": p if c else None, "majority_class": m if c else None,
             "shown_purity": p if c else None} for i, (c, p, m) in enumerate(zip(counts, purity, majors))]
    return {"units": units or list(range(len(counts))), "counts": counts, "unassigned": 1000 - sum(counts),
            "rows": rows}


def probe(label, grads, std, extra):
    return {"label": label, "step": 1, "epoch": 1, "loss": 2.3, "grad_norm": grads,
            "activation": {"mean": [0.5] * 5, "std": std, **extra}}


def optim_run(opt, act, init, diverged=False):
    small = init == "normal"
    grads = [1e-9, 1e-7, 1e-5, 1e-4, 1e-3, 1e-2] if small else [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    extra = {"saturated": [0.0, 0.1, 0.7, 0.2, 0.1]} if act == "sigmoid" else {"dead": [0.0, 0.1, 0.6, 0.2, 0.1]}
    acc = [0.11, 0.1135] if small and opt == "sgd" else [0.9, 0.95]
    run = {"optimizer": opt, "lr": 1.0 if opt == "sgd" else None, "activation": act, "init": init, "seed": 0, "train_loss": [2.3, 2.3] if small else
           [0.5, 0.2], "test_accuracy": acc, "test_loss": [2.3, 2.3], "train_accuracy": acc,
           "diverged": diverged, "diverged_at": None,
           "probes": [probe("step 1", grads, [1e-4 if small else 0.5] * 5, extra),
                      probe("end", grads, [0.4] * 5, extra)]}
    if diverged:
        run.update(train_loss=[None, None], test_accuracy=[None, None],
                   diverged_at={"epoch": 1, "step": 36, "global_step": 37, "last_grad_norm": [1e3, 1e4, 1e5, 1e5,
                                                                                           1e5, 1e6]})
    return run


def dropout_run(act, init, drop):
    train = [0.95, 0.99, 0.999] if not drop else [0.94, 0.975, 0.985]
    test = [0.95, 0.97, 0.972] if not drop else [0.95, 0.975, 0.98]
    return {"activation": act, "init": init, "dropout": drop, "seed": 0, "train_loss": [0.2, 0.05, 0.01],
            "test_loss": [0.15, 0.1, 0.14] if not drop else [0.15, 0.09, 0.08], "train_accuracy": train,
            "test_accuracy": test}


def make_results(root: Path, data: Path) -> Path:
    """A results folder shaped like `denselab all --preset quick` output, with made-up numbers."""
    colours = iter([(200, 60, 60), (60, 160, 60), (60, 60, 200), (200, 160, 40), (150, 60, 180)] * 20)
    record = {"preset": "quick", "device": "cpu", "config": {}}

    m = root / "mnist"
    write(m / "config.json", {**record, "command": "mnist"})
    layers = [{"name": n, "knn_accuracy_2d_tsne": t, "knn_accuracy_2d_pca": p}
              for n, t, p in zip(LAYERS, [0.80, 0.86, 0.91, 0.93, 0.95, 0.96, 0.97],
                                 [0.42, 0.45, 0.50, 0.58, 0.66, 0.72, 0.80])]
    write(m / "summary.json", {
        "test_accuracy": 0.9512, "epochs": 1, "train_seconds": 12.3, "layers": layers, "probe": {"accuracy": 0.95},
        "output_grid": grid([98, 112, 104, 95, 100, 90, 101, 99, 105, 96], [0.97] * 10, list(range(10))),
        "penultimate_grid": grid([412, 230, 0, 7, 3, 120, 55, 0, 40, 10], [0.3, 0.5, None, 0.9, 1.0, 0.4, 0.6, None,
                                                                           0.7, 0.8], [1, 7, 0, 3, 3, 0, 6, 0, 2, 9],
                                 units=[5, 88, 130, 301, 407, 512, 640, 777, 901, 1010]),
    })
    for name in ["curves", "output_grid", "penultimate_grid", "overview", "separability"] + \
            [f"{m_}_{n}" for m_ in ("tsne", "pca") for n in LAYERS]:
        png(m / "figures" / f"{name}.png", next(colours))

    d = root / "denoise"
    write(d / "config.json", {**record, "command": "denoise train"})
    wav(data / "test_x_01.wav", 330)
    tests = [{"input": str(Path("..", "..", data.name, "test_x_01.wav")), "output": "audio/test_x_01_recons.wav",
              "noisy": "audio/test_x_01_noisy.wav"},
             {"input": str(data / "test_x_02.wav"), "output": "audio/test_x_02_recons.wav"}]
    wav(data / "test_x_02.wav", 350)
    for i, name in enumerate(["validation_noisy", "validation_denoised", "validation_clean", "test_x_01_recons",
                              "test_x_01_noisy", "test_x_02_recons"]):
        wav(d / "audio" / f"{name}.wav", 220 + 40 * i)
    write(d / "summary.json", {
        "validation_snr_db": 9.87, "validation_input_snr_db": 1.62, "train_seconds": 20.0, "model": "mask",
        "tests": tests, "validation_audio": {k: f"audio/validation_{k}.wav" for k in ("noisy", "denoised", "clean")},
        "baselines": {"noisy": 1.62, "spectral_subtraction": 5.1, "wiener": 6.3, "oracle": 15.6},
        "variants": {"mask": {"validation_snr_db": 9.87, "collapse_restarts": 0},
                     "magnitude": {"validation_snr_db": 8.1, "collapse_restarts": 1}},
    })
    for name in ["validation_spectrogram", "validation_curves", "test_x_01_spectrogram", "test_x_02_spectrogram"]:
        png(d / "figures" / f"{name}.png", next(colours))

    o = root / "optim"
    write(o / "config.json", {**record, "command": "optim"})
    runs = [optim_run(opt, a, i, diverged=(opt == "sgd" and a == "relu" and i in ("xavier", "he")))
            for opt in ("sgd", "adam") for a, i in [("sigmoid", "normal"), ("sigmoid", "xavier"), ("relu", "normal"),
                                                    ("relu", "xavier"), ("relu", "he")]]
    write(o / "summary.json", {"runs": runs})
    for name in ["sgd_loss", "sgd_accuracy", "adam_loss", "adam_accuracy", "grad_norms", "activation_stats"]:
        png(o / "figures" / f"{name}.png", next(colours))

    p = root / "dropout"
    write(p / "config.json", {**record, "command": "dropout"})
    write(p / "summary.json", {"runs": [dropout_run(a, i, dr) for a, i in [("sigmoid", "xavier"), ("relu", "he")]
                                        for dr in (False, True)]})
    for name in ["curves_sigmoid", "curves_relu"]:
        png(p / "figures" / f"{name}.png", next(colours))
    return root


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("report")
    root = make_results(base / "results", base / "data")
    paths = build_report(root, quiet=True)
    assert paths == [root / "report.ipynb", root / "report.html"]
    return root


# ------------------------------------------------------------------------------------------ the built files

def test_notebook_is_executed_without_errors(report: Path) -> None:
    nb = nbformat.read(str(report / "report.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 10
    assert all(c.outputs for c in code), "every code cell shows something"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    data = [o.get("data", {}) for c in code for o in c.outputs]
    images = sum("image/png" in d for d in data) + sum(d.get("text/html", "").count("data:image/png;base64,")
                                                       for d in data)
    assert images == 19 + 4 + 6 + 2  # every PNG of the fixture, once
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for latex in (r"\odot", r"10 \log_{10}", r"\frac{2}{n_\text{in} + n_\text{out}}", r"\mathrm{Bernoulli}"):
        assert latex in markdown
    assert not list(report.glob(".*.tmp")), "atomic writes leave no temp files"


def test_html_embeds_every_image_and_clip(report: Path) -> None:
    html = (report / "report.html").read_text()
    # 31 PNGs; validation noisy/denoised/clean and two test files x noisy/denoised
    assert count_media(html) == (31, 3 + 4)
    assert not external_refs(html), "no media or script outside the file"
    assert "require.js" not in html and MATHJAX_CDN not in html and "window.MathJax" in html  # maths offline
    # the explanations carry the measured numbers and the conclusions they imply
    assert "95.12 %" in html and "short of the assignment" in html
    assert "9.9 dB" in html and "oracle" in html
    assert "hidden2" in html  # t-SNE separates (>= 90 %) from hidden2 on


def test_embedded_audio_is_the_wav_file(report: Path) -> None:
    html = (report / "report.html").read_text()
    wanted = base64.b64encode((report / "denoise" / "audio" / "validation_clean.wav").read_bytes()).decode()
    assert wanted in html


def render(html: Path, tmp: Path) -> tuple[str, int]:
    """(DOM after loading, number of distinct colours in a screenshot) of `html` in headless Chromium, with
    every host lookup failing: the page must show its content with no network at all."""
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp / 'profile'}"]
    url = html.resolve().as_uri()
    dom = subprocess.run(flags + ["--virtual-time-budget=5000", "--dump-dom", url], capture_output=True, text=True,
                         timeout=120).stdout
    shot = tmp / "shot.png"
    subprocess.run(flags + ["--window-size=1200,2400", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120)
    from PIL import Image

    with Image.open(shot) as im:
        colours = im.convert("RGB").resize((120, 240)).getcolors(maxcolors=120 * 240)
    return dom, len(colours or [])


def count_media(html: str) -> tuple[int, int]:
    """(<img> with a data: PNG, <audio> whose source is a data: URI) in an HTML text."""
    return (len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)),
            len(re.findall(r"<audio[^>]*>\s*<source src=\"data:audio/[^;\"]+;base64,", html)))


def unrendered_math(dom: str) -> list[str]:
    """LaTeX left as source in the visible text of a rendered page (MathJax's output removed first)."""
    text = re.sub(r"<(script|style)\b.*?</\1>|<mjx-container\b.*?</mjx-container>", " ", dom, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.findall(r"\$[^$]{1,60}\$|\\frac|\\odot", text)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_renders_figures_players_and_maths(report: Path, tmp_path: Path) -> None:
    dom, colours = render(report / "report.html", tmp_path)
    assert count_media(dom) == (31, 7)
    assert colours > 20, "the screenshot is not blank"
    # with every host lookup failing, the maths is typeset by the inlined MathJax, none left as LaTeX source
    assert dom.count("<mjx-container") >= 10
    assert not re.findall(r'data-mjx-error="([^"]*)"', dom)
    assert not unrendered_math(dom)


def test_maths_falls_back_to_the_cdn_without_the_vendored_file(monkeypatch, tmp_path: Path) -> None:
    from denselab.report import render as render_module

    monkeypatch.setattr(render_module, "MATHJAX_FILE", tmp_path / "absent.js")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("$$a = b$$")])
    html = render_module.to_html(nb)
    assert MATHJAX_CDN in html and "fontCache" not in html


def check_real_report(root: Path, tmp: Path) -> None:
    """Rebuild the report of a real `denselab all`-style folder and check it as issue 6's acceptance does:
    >= 20 figures and >= 4 players embedded, nothing linked outside the file, an executed notebook, and (with
    Chromium) the page showing all of them and its typeset maths with no network."""
    build_report(root, quiet=True)
    html = (root / "report.html").read_text()
    images, players = count_media(html)
    assert images >= 20 and players >= 4
    assert not external_refs(html)
    nb = nbformat.read(str(root / "report.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    if CHROMIUM:
        dom, colours = render(root / "report.html", tmp)
        assert count_media(dom) == (images, players) and colours > 20
        assert "<mjx-container" in dom and not unrendered_math(dom)


# every study's quick preset, cut down to seconds: the real code paths and files, tiny data
TINY_RUN = {
    "mnist": dict(train_subset=1000, test_subset=500, probe_images=200),
    "denoise": dict(hidden=(64, 64), epochs=1, frames_per_epoch=1024, speed_factors=(1.0,)),
    "optim": dict(arms=("sigmoid-normal", "relu-he"), hidden_width=64, epochs=1, train_subset=600,
                  test_subset=500, probe_size=128, trace_steps=8, batch_size=50, seeds=1, lr_sweep=False),
    "dropout": dict(hidden_width=64, epochs=2, train_subset=500, test_subset=400, probe_size=128, trace_steps=4,
                    batch_size=100, seeds=1),
}


def test_report_of_a_tiny_real_run(tmp_path: Path, data_dir: Path) -> None:
    from denselab.cli import run_study
    from denselab.config import Runtime

    root = tmp_path / "run"
    runtime = Runtime(device="cpu", data_dir=str(data_dir), quiet=True)
    for name, overrides in TINY_RUN.items():
        run_study(name, "quick", overrides, root / name, runtime, command="denoise train" if name == "denoise" else name)
    check_real_report(root, tmp_path)


@pytest.mark.skipif(not os.environ.get("DENSELAB_REPORT_RUN"),
                    reason="set DENSELAB_REPORT_RUN to a `denselab all` output folder")
def test_report_of_a_real_run(tmp_path: Path) -> None:
    """The acceptance check on a whole run, e.g. after `denselab all --preset quick --out runs/q`:
    DENSELAB_REPORT_RUN=runs/q pytest tests/test_report.py -k real_run"""
    check_real_report(Path(os.environ["DENSELAB_REPORT_RUN"]), tmp_path)


# ------------------------------------------------------------------------------------------ robustness

def test_missing_studies_and_keys_get_notes(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write(root / "mnist" / "summary.json", {"test_accuracy": 0.99})  # no layers, no grids, no figures
    wav(root / "denoise" / "audio" / "a_recons.wav", 300)
    write(root / "denoise" / "summary.json", {  # the CONTRACT's keys only, one test output missing
        "validation_snr_db": 12.5, "validation_input_snr_db": 1.6, "train_seconds": 3.0, "model": "mask",
        "tests": [{"input": "nowhere/a.wav", "output": "audio/a_recons.wav"}]})
    (root / "optim").mkdir()
    paths = build_report(root, quiet=True)
    nb = nbformat.read(str(paths[0]), as_version=4)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert markdown.count("**Not run.**") == 2
    assert "holds no `summary.json`" in markdown and "there is no `dropout/` folder" in markdown
    assert "meets the assignment" in markdown and "meets the project's 12.0 dB" in markdown
    html = paths[1].read_text()
    assert count_media(html) == (0, 1) and "a.wav</code> is missing" in html


def test_report_command(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "results folder not found" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no study results" in capsys.readouterr().err


def test_notebook_runs_from_a_moved_folder(tmp_path: Path) -> None:
    """The setup cell falls back to the notebook's own folder when the results were moved."""
    root = tmp_path / "a"
    write(root / "mnist" / "summary.json", {"test_accuracy": 0.9})
    nb = build_notebook(root)
    setup = next(c for c in nb.cells if "hide-input" in c.metadata.get("tags", []))
    assert f"RESULTS = Path({str(root.resolve())!r})" in setup.source
    moved = tmp_path / "b"
    root.rename(moved)
    execute(nb, cwd=moved)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert f"Results in {moved.resolve()}: mnist" in setup.outputs[0]["text"]
    assert not [o for o in outputs if o.output_type == "error"]


# ------------------------------------------------------------------------------------------ the explanations

def test_text_follows_the_numbers() -> None:
    assert "meets the assignment" in text.mnist_classifier({"test_accuracy": 0.9871})
    assert "1.2 points short" in text.mnist_classifier({"test_accuracy": 0.973})
    layers = [{"name": n, "knn_accuracy_2d_tsne": t, "knn_accuracy_2d_pca": 0.5}
              for n, t in zip(LAYERS, [0.8, 0.85, 0.92, 0.89, 0.93, 0.95, 0.96])]
    assert "from **`hidden4`** on" in text.mnist_embeddings({"layers": layers})  # hidden3 dips below again
    pen = text.mnist_penultimate({"penultimate_grid": grid([500, 0, 3] + [10] * 7, [0.4, None, 1.0] + [0.9] * 7,
                                                           [1, 0, 3] + [5] * 7)})
    assert "8 rows full, 1 short (1–9 images) and 1 empty" in pen and "Short and empty rows" in pen
    assert "ideal" in pen


def test_optim_text_names_diverged_and_vanishing_arms() -> None:
    runs = [optim_run("sgd", "sigmoid", "normal"), optim_run("sgd", "relu", "he", diverged=True),
            optim_run("adam", "relu", "he")]
    arms = text.optim_arms({"runs": runs})
    assert "diverged (non-finite loss): ReLU + He (at step 37, epoch 1)" in arms
    assert "stuck near chance: sigmoid + N(0, 0.01²) 11.3 %" in arms
    assert "Adam trains ReLU + He, which does not learn under plain SGD, lr 1:" in arms
    summary = {"runs": runs, "arms": [{"optimizer": "sgd", "lr": 1.0, "activation": "relu", "init": "he",
                                       "expected": "learns"},
                                      {"optimizer": "sgd", "lr": 1.0, "activation": "sigmoid", "init": "normal",
                                       "expected": "stuck"}]}
    assert "differ here: ReLU + He under plain SGD, lr 1 diverged" in text.optim_arms(summary)
    why = text.optim_why({"runs": runs})
    assert "**vanishes**" in why and "**explode**" in why and "saturated" in why


def test_dropout_text_compares_gaps() -> None:
    runs = [dropout_run("relu", "he", False), dropout_run("relu", "he", True)]
    out = text.dropout_gap({"runs": runs})
    assert "gap +2.7 points" in out and "gap +0.5 points" in out
    assert "Dropout shrinks the train–test accuracy gap by 2.2 points" in out
    assert "test loss lowest at epoch 2 of 3 and 40 % above that minimum" in out
    assert "**overfits**" in out and "holds the test loss near its minimum (0 % above it)" in out


def test_denoise_text_against_baselines() -> None:
    out = text.denoise_validation({"validation_snr_db": 13.0, "validation_input_snr_db": 1.0,
                                   "baselines": {"noisy": 1.0, "wiener": 6.0, "oracle": 16.0}})
    assert "gain of 12.0 dB" in out and "7.0 dB better" in out and "closes 80 %" in out
    assert "meets the project's 12.0 dB" in out
    assert "not run" not in text.denoise_validation({"validation_snr_db": None})


def test_generalisation_text_and_section(tmp_path: Path) -> None:
    rows = [{"voice": v, "input_snr_db": snr, "level_rms": lv, "gain_db": 9.0 - snr / 2, "wiener_gain_db": 1.0}
            for v in ("a", "b") for snr in (0.0, 10.0) for lv in (0.016, 0.06)]
    out = text.denoise_generalisation({"average_gain_db": 6.5, "rows": rows})
    assert "2 synthetic espeak-ng voices" in out and "**6.5 dB**" in out
    assert "9.0 dB at 0 dB, 4.0 dB at 10 dB" in out and "6.5 dB at speech RMS 0.016" in out
    assert "misses the project's 8.0 dB target" in out
    assert "no results" in text.denoise_generalisation({"rows": []})

    root = make_results(tmp_path / "results", tmp_path / "data")
    (root / "denoise" / "generalisation.json").write_text(json.dumps({"average_gain_db": 8.5, "rows": rows}))
    nb = build_notebook(root)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "Speech it never heard" in markdown and "meets the project's 8.0 dB target" in markdown
