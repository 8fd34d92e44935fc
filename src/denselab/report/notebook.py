"""The report notebook's cells: Markdown for the task, the method (LaTeX) and the explanations (written from
the measured numbers by `denselab.report.text`), and code cells that load the saved results and show them.

The code cells only need the standard library and IPython (a setup cell defines the few helpers they call), so
the notebook runs in any Jupyter kernel, from any working directory; they never train anything.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from denselab import __version__
from denselab.report import text
from denselab.studies import STUDIES

TITLES = {
    "mnist": "Problem 1 — Looking inside an MNIST classifier",
    "denoise": "Problem 2 — Speech denoising with a fully connected network",
    "optim": "Problem 3 — Initialisation × activation × optimiser",
    "dropout": "Problem 4 — Dropout",
}
COMMANDS = {"mnist": "mnist", "denoise": "denoise train", "optim": "optim", "dropout": "dropout"}

SETUP = '''\
# Setup: where the results are, and the helpers every cell below uses. This notebook only reads files that
# `denselab` wrote (summary.json, figures/*.png, audio/*.wav); it trains nothing.
import base64
import json
import math
from html import escape
from pathlib import Path

from IPython.display import HTML, Audio, Image, Markdown, display

RESULTS = Path(__RESULTS__)  # the folder `denselab report` built this notebook from
if not RESULTS.is_dir():  # moved elsewhere: use the notebook's own folder (Jupyter's working directory)
    RESULTS = Path.cwd()


def load(study):
    """RESULTS/<study>/summary.json as a dict, or None when that study has not been run."""
    path = RESULTS / study / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else None


def last(values):
    """The last finite number of a per-epoch list (entries after a divergence are null), or None."""
    values = values if isinstance(values, list) else [values]
    good = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return good[-1] if good else None


def num(x, unit="", digits=3):
    """A measured number for a table; '—' when it is missing or not finite (null in the JSON)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "—" if x is None else str(x)
    return f"{x:.{digits}g}{unit}"


def diverged(run):
    """'no', or where the loss first became non-finite: 'step 37 (epoch 1)'."""
    at = run.get("diverged_at") or {}
    if not run.get("diverged"):
        return "no"
    return f"yes, step {at['global_step']} (epoch {at['epoch']})" if "global_step" in at else "yes"


def pct(x):
    """A fraction as a percentage: 0.9731 -> '97.3 %'."""
    return "—" if not isinstance(x, (int, float)) or isinstance(x, bool) else f"{100 * x:.1f} %"


def table(header, rows):
    """Show rows (lists of cells) as an HTML table."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    display(HTML(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"))


def figure(path, caption):
    """Show a saved PNG (embedded in the notebook) with its caption."""
    path = RESULTS / path
    if path.is_file():
        display(Image(filename=str(path), metadata={"alt": caption}))
        display(Markdown(f"*{caption}*"))
    else:
        display(Markdown(f"*Figure `{path}` is missing.*"))


def gallery(items, width=290):
    """Several saved PNGs side by side, each embedded as a data: URI with its caption."""
    html = []
    for rel, caption in items:
        path = RESULTS / rel
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            html.append(f'<figure style="width:{width}px;margin:4px">'
                        f'<img src="data:image/png;base64,{data}" alt="{escape(caption)}" style="width:100%">'
                        f'<figcaption><i>{escape(caption)}</i></figcaption></figure>')
        else:
            html.append(f"<p><i>Figure {escape(str(path))} is missing.</i></p>")
    display(HTML('<div style="display:flex;flex-wrap:wrap;align-items:flex-start">' + "".join(html) + "</div>"))


def play(path, label):
    """An audio player with the WAV embedded as a data: URI."""
    path = RESULTS / path  # an absolute path stays absolute
    if path.is_file():
        display(Markdown(f"**{label}** — `{path.name}`"))
        display(Audio(filename=str(path)))
    else:
        display(Markdown(f"*{label}: `{path}` is missing.*"))


found = [s for s in ("mnist", "denoise", "optim", "dropout") if load(s) is not None]
print(f"Results in {RESULTS}: {', '.join(found) or 'none'}")
'''


# ----------------------------------------------------------------------------------------------- results on disk

@dataclass
class Study:
    """What `denselab report` found of one study in the results folder."""

    name: str
    root: Path
    summary: dict | None = None
    record: dict | None = None
    figures: list[str] = field(default_factory=list)  # paths relative to the results folder
    problem: str | None = None  # why the summary could not be read

    @property
    def dir(self) -> Path:
        return self.root / self.name


def _read(path: Path) -> tuple[dict | None, str | None]:
    if not path.is_file():
        return None, None
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return None, f"{path.name} cannot be read ({type(e).__name__}: {e})"
    return (value, None) if isinstance(value, dict) else (None, f"{path.name} is not a JSON object")


_LAYER = re.compile(r"(raw|input|pixels?|hidden_?(\d+)|layer_?(\d+)|h(\d+)|output|logits?)")


def figure_key(path: str) -> tuple:
    """Sort figures by name with layers in network order: raw < hidden1 < … < hidden5 < output."""
    stem = Path(path).stem.lower()
    m = _LAYER.search(stem)
    rank = 50
    if m:
        digits = m.group(2) or m.group(3) or m.group(4)
        rank = 0 if m.group(1).startswith(("raw", "input", "pix")) else 99 if digits is None else 10 + int(digits)
        stem = stem[:m.start()] + "#" + stem[m.end():]
    return (stem, rank, path)


def find_study(root: Path, name: str) -> Study:
    study = Study(name, root)
    study.summary, study.problem = _read(study.dir / "summary.json")
    study.record, _ = _read(study.dir / "config.json")
    if (study.dir / "figures").is_dir():
        study.figures = sorted((p.relative_to(root).as_posix() for p in (study.dir / "figures").rglob("*.png")),
                               key=figure_key)
    return study


# ----------------------------------------------------------------------------------------------- cells

def md(source: str) -> nbformat.NotebookNode:
    return new_markdown_cell(source.strip())


def code(source: str) -> nbformat.NotebookNode:
    return new_code_cell(source.strip())


PRETTY = {"tsne": "t-SNE", "pca": "PCA", "knn": "k-NN", "sgd": "SGD", "adam": "Adam", "snr": "SNR", "relu": "ReLU",
          "lr": "lr", "he": "He", "xavier": "Xavier", "val": "validation", "recons": "reconstruction"}


CAPTIONS = [  # (file stem pattern, caption); \1 in the caption is the pattern's group
    (r"curves", "Training curves: loss and accuracy per epoch"),
    (r"output_grid", "Output layer: each unit's ten most confident images"),
    (r"penultimate_grid", "Ten random units of the last hidden layer, as if they were the output"),
    (r"overview", "t-SNE and PCA of every representation, side by side"),
    (r"separability", "k-NN accuracy in the 2-D maps against depth"),
    (r"tsne_(.+)", r"t-SNE of \1"),
    (r"pca_(.+)", r"PCA of \1"),
    (r"validation_spectrogram", "Validation audio: spectrograms of the noisy input, the network's output and the "
                                "clean speech"),
    (r"validation_curves", "Training loss and validation SNR per epoch"),
    (r"(.+)_spectrogram", r"\1: spectrograms of the noisy input and the network's output"),
    (r"optim_(sgd|adam)", r"\1: training loss and test accuracy per epoch, every arm"),
    (r"optim_probes_(.+)", r"\1: per-layer gradient norms and activation statistics at a few steps"),
    (r"optim_first_steps", "Loss at each of the first steps (a cross marks the first non-finite loss)"),
    (r"optim_lr_sweep", "Beyond the assignment: every arm under plain SGD at several learning rates"),
    (r"dropout_curves", "Train (solid) and test (dashed) loss and accuracy per epoch, without and with dropout"),
    (r"dropout_probes", "Per-layer gradient norms and activation statistics, without and with dropout"),
]


def pretty(words_: str) -> str:
    return " ".join(PRETTY.get(w.lower(), w) for w in re.split(r"[_\-\s]+", words_) if w)


def caption(path: str) -> str:
    """'mnist/figures/tsne_hidden3.png' -> 't-SNE of hidden3'; unknown names are prettified."""
    stem = Path(path).stem
    for pattern, text_ in CAPTIONS:
        m = re.fullmatch(pattern, stem)
        if m:
            return text_.replace("\\1", PRETTY.get(m.group(1), m.group(1))) if m.groups() else text_
    return pretty(stem)


def figure_cell(paths: Sequence[str]) -> nbformat.NotebookNode:
    return code("\n".join(f"figure({p!r}, {caption(p)!r})" for p in paths))


Rule = Callable[[str], bool]


def words(*any_of: str) -> Rule:
    """A figure rule: the file's stem contains one of `any_of`."""
    def rule(path: str) -> bool:
        stem = Path(path).stem.lower()
        return any(w in stem for w in any_of)
    return rule


def take(figures: list[str], rule: Rule) -> list[str]:
    """Remove and return the figures that `rule` accepts (each figure is shown once)."""
    picked = [f for f in figures if rule(f)]
    figures[:] = [f for f in figures if f not in picked]
    return picked


def gallery_cell(paths: Sequence[str]) -> nbformat.NotebookNode:
    items = ",\n    ".join(f"({p!r}, {caption(p)!r})" for p in paths)
    return code(f"gallery([\n    {items},\n])")


def figures_or_note(figures: Sequence[str], what: str) -> list[nbformat.NotebookNode]:
    if figures:
        return [figure_cell(figures)]
    return [md(f"*No {what} figure was found.*")]


def explain(build: Callable[..., str], *args: Any) -> nbformat.NotebookNode:
    """A Markdown cell of text written from the numbers; a note instead of a crash if the summary is odd."""
    try:
        body = build(*args)
    except Exception as e:  # an unexpected summary layout must not cost the whole report
        print(f"denselab report: warning: {build.__name__} failed: {type(e).__name__}: {e}", file=sys.stderr)
        body = f"*The explanation could not be written from this summary ({type(e).__name__}: {e}).*"
    sep = "\n\n" if body.lstrip().startswith("- ") else " "
    return md(f"**What the numbers say.**{sep}{body}")


def not_run(study: Study) -> list[nbformat.NotebookNode]:
    why = study.problem or (f"`{study.name}/` holds no `summary.json`" if study.dir.is_dir()
                            else f"there is no `{study.name}/` folder")
    return [md(f"> **Not run.** {why} in this results folder, so this section has nothing to show. Run "
               f"`denselab {COMMANDS[study.name]} --out {study.dir}` (or `denselab all --out {study.root}`, which "
               f"skips finished studies), then `denselab report {study.root}`.")]


def header(study: Study, task: str, method: str) -> list[nbformat.NotebookNode]:
    preset = text.preset_of(study.record)
    made = f" Preset `{preset}`." if preset else ""
    return [md(f"# {TITLES[study.name]}\n\n**The task.** {task}{made}"), md(f"**Method.** {method}")]


def other_figures(figures: list[str]) -> list[nbformat.NotebookNode]:
    return [md("### Other figures of this study"), figure_cell(figures)] if figures else []


# ----------------------------------------------------------------------------------------------- Problem 1

MNIST_TASK = (
    "Train a fully connected network with five hidden layers of 1 024 units on the 60 000 MNIST training images "
    "and reach at least 98.5 % accuracy on the 10 000 test images; then look inside it. Which images make each "
    "output unit fire most, and what happens when ten random units of the last hidden layer are treated as if "
    "they were the output? How do the ten classes arrange themselves in 2-D maps (t-SNE and PCA) of the raw "
    "pixels, of each hidden layer and of the output?")

MNIST_METHOD = r"""Each hidden layer computes $h_\ell = \mathrm{act}(W_\ell h_{\ell-1} + b_\ell)$ with
$h_0 = x \in \mathbb{R}^{784}$ and $W_\ell \in \mathbb{R}^{1024 \times 1024}$ (the first is $1024 \times 784$);
the output is $p = \mathrm{softmax}(W_6 h_5 + b_6) \in \mathbb{R}^{10}$, trained with the cross-entropy
$-\log p_y$.

*Grids.* 1 000 test images go through the net. In the output grid image $i$ goes to unit
$k_i = \arg\max_k p_{ik}$; row $k$ shows the ten images assigned to unit $k$ with the largest $p_{ik}$, in
order. The penultimate grid does the same with ten randomly chosen units $u_1,\dots,u_{10}$ of $h_5$:
image $i$ goes to $\arg\max_j h_{5,u_j}(x_i)$, so a row can be short or empty.

*Embeddings.* For each representation $r \in \{x, h_1,\dots,h_5, z\}$ ($z$ the logits), t-SNE and PCA map
the 1 000 vectors to 2-D. The separability of the classes in each map is measured by the cross-validated
accuracy of a $k$-nearest-neighbour classifier ($k = 5$) on the 2-D points."""


def grid_table(summary: dict, key: str, unit_label: str) -> list[nbformat.NotebookNode]:
    """A code cell with a per-row table of one of the grids (none when the summary has no such grid)."""
    if not isinstance(summary.get(key), dict):
        return []
    return [code(f'''\
mnist = load("mnist")
grid = mnist[{key!r}]
rows = grid.get("rows") or [{{"count": c}} for c in grid.get("counts") or []]
units = grid.get("units") or list(range(len(rows)))
table([{unit_label!r}, "images it wins", "most common class", "share of that class", "share among the ten shown"],
      [[u, r.get("count"), num(r.get("majority_class")), pct(r.get("purity")), pct(r.get("shown_purity"))]
       for u, r in zip(units, rows)])
if grid.get("unassigned"):
    print(f"{{grid['unassigned']}} images have all {{len(units)}} units silent and go to no row.")''')]


def mnist_cells(study: Study) -> list[nbformat.NotebookNode]:
    cells = header(study, MNIST_TASK, MNIST_METHOD)
    if study.summary is None:
        return cells + not_run(study)
    s, figs = study.summary, list(study.figures)
    grids_out = take(figs, lambda p: "grid" in p.lower() and "output" in Path(p).stem.lower())
    grids_pen = take(figs, words("penult"))
    overview = take(figs, words("overview", "embedding", "knn", "separab", "depth"))
    overview.sort(key=lambda p: "overview" not in p)
    tsne, pca = take(figs, words("tsne", "t-sne")), take(figs, words("pca"))
    curves = take(figs, words("curve", "history", "training", "loss", "accuracy"))
    cells += [md("## 1.1 The classifier"), *figures_or_note(curves, "training-curve"),
              code('''\
mnist = load("mnist")
table(["measure", "value"], [
    ["test accuracy (10 000 test images)", pct(mnist.get("test_accuracy"))],
    ["epochs", num(mnist.get("epochs"))],
    ["training time", num(mnist.get("train_seconds"), " s")],
])'''),
              explain(text.mnist_classifier, s, study.record),
              md("## 1.2 The output layer's top images"), *figures_or_note(grids_out, "output-grid"),
              *grid_table(s, "output_grid", "output unit"), explain(text.mnist_output_grid, s),
              md("## 1.3 Ten random units of the last hidden layer as if they were the output"),
              *figures_or_note(grids_pen, "penultimate-grid"),
              *grid_table(s, "penultimate_grid", "unit of the last hidden layer"), explain(text.mnist_penultimate, s),
              md("## 1.4 The classes layer by layer: t-SNE and PCA"), *figures_or_note(overview, "overview"),
              *([md("Each representation's t-SNE map, from the raw pixels to the output:"), gallery_cell(tsne)]
                if tsne else [md("*No t-SNE figure was found.*")]),
              *([md("The same images in each representation's PCA plane (the two directions of largest "
                    "variance):"), gallery_cell(pca)] if pca else [md("*No PCA figure was found.*")]),
              code('''\
mnist = load("mnist")
table(["representation", "k-NN accuracy in the 2-D t-SNE map", "k-NN accuracy in the 2-D PCA plane"],
      [[layer.get("name"), pct(layer.get("knn_accuracy_2d_tsne")), pct(layer.get("knn_accuracy_2d_pca"))]
       for layer in mnist.get("layers") or []])'''),
              explain(text.mnist_embeddings, s)]
    return cells + other_figures(figs)


# ----------------------------------------------------------------------------------------------- Problem 2

DENOISE_TASK = (
    "A male speaker was recorded clean ($s$) and with additive 'chip-eating' noise ($x = s + n$, about 6.5 dB "
    "SNR). Train a fully connected network that maps each noisy spectrogram frame to a clean one, turn its "
    "output back into audio, measure how much cleaner it is, and denoise two test recordings for which no "
    "clean reference exists.")

DENOISE_METHOD = r"""Features are the magnitudes of the short-time Fourier transform,
$X = \mathrm{STFT}(x)$ with a 1 024-sample window and a hop of 512 (513 frequency bins per frame): the
network sees one frame $|X_{:,t}| \in \mathbb{R}^{513}$ at a time and predicts a nonnegative
$|\hat S_{:,t}|$, nonnegative by construction. The `magnitude` variant regresses $|S|$ directly through a
softplus output; the `mask` variant predicts a bounded mask $m = \sigma(f(\tilde X)) \in (0, 1)^{513}$ from the
standardised log-magnitude $\tilde X = (\log(|X| + \epsilon) - \mu) / \sigma$ and outputs
$|\hat S| = m \odot |X|$. Every recording is scaled to a fixed RMS before the STFT and back afterwards, so
the result does not depend on the recording level. The phase is borrowed from the noisy input:
$$\hat S = \frac{X}{|X|} \odot |\hat S| \qquad (\text{with } X/|X| := 1 \text{ where } |X| = 0),$$
and $\hat s = \mathrm{ISTFT}(\hat S)$, cut to the input's length. Quality is the signal-to-noise ratio of the
time signal,
$$\mathrm{SNR}(s, \hat s) = 10 \log_{10} \frac{\sum_t s_t^2}{\sum_t (s_t - \hat s_t)^2} \ \text{dB}.$$
The last 10 % of the training recording is held out (contiguous in time) and never trained on. Baselines on
the same audio: the noisy input itself, a classic spectral-subtraction / Wiener filter with the noise spectrum
estimated from the training part, and the *oracle* $\frac{X}{|X|} \odot |S|$ — the true clean magnitude
with the noisy phase, the ceiling for any method that only changes magnitudes."""

AUDIO_ROLES = (  # (role, words in the file name), checked in order
    ("clean", ("clean", "target", "reference")),
    ("oracle", ("oracle", "ideal")),
    ("baseline", ("wiener", "spectral", "subtract", "baseline")),
    ("denoised", ("denois", "recons", "estimate", "enhanced", "output", "dnn", "pred")),
    ("noisy", ("noisy", "dirty", "input", "mix")),
)
AUDIO_LABELS = {"noisy": "noisy input", "denoised": "denoised by the network", "clean": "clean reference",
                "oracle": "oracle (true |S|, noisy phase)", "baseline": "classic baseline"}


def audio_role(name: str) -> str | None:
    low = name.lower()
    for role, keys in AUDIO_ROLES:
        if any(k in low for k in keys):
            return role
    return None


def locate(study: Study, path: str) -> str:
    """A path from the denoise summary (relative to the study's folder, or absolute) as `play` wants it:
    relative to the results folder when it lies inside, absolute otherwise."""
    p = Path(path)
    candidates = [p] if p.is_absolute() else [study.dir / p, study.root / p, study.dir / "audio" / p.name]
    found = next((c for c in candidates if c.is_file()), candidates[0])
    try:
        return found.resolve().relative_to(study.root.resolve()).as_posix()
    except ValueError:
        return str(found.resolve())


def test_audio(study: Study) -> list[tuple[str, str]]:
    """[(path, label)]: noisy input and denoised output of each test file, from the summary's `tests`."""
    items = []
    for test in study.summary.get("tests") or []:
        if not isinstance(test, dict):
            continue
        name = Path(str(test.get("input") or test.get("output") or "test")).name
        noisy = test.get("noisy") or test.get("input")  # prefer the study's copy inside the results folder
        if noisy:
            items.append((locate(study, str(noisy)), f"Test file {name} — noisy input"))
        if test.get("output"):
            items.append((locate(study, str(test["output"])), f"Test file {name} — denoised by the network"))
    return items


def validation_audio(study: Study, skip: set[str]) -> list[tuple[str, str]]:
    """[(path, label)]: the validation WAVs the study wrote (any under audio/ that is not a test file),
    in the order noisy, denoised, clean, baselines, oracle."""
    listed = study.summary.get("validation_audio")
    if isinstance(listed, dict):  # the study names them: {"noisy": path, "denoised": path, ...}
        paths = [(locate(study, str(v)), str(k)) for k, v in listed.items() if v]
    else:
        folder = study.dir / "audio"
        paths = [(p.relative_to(study.root).as_posix(), audio_role(p.stem) or p.stem)
                 for p in sorted(folder.rglob("*.wav")) if not p.name.startswith(".")] if folder.is_dir() else []
    order = ["noisy", "denoised", "clean", "baseline", "oracle"]
    out = [(p, role) for p, role in paths if p not in skip]
    out.sort(key=lambda pr: order.index(pr[1]) if pr[1] in order else len(order))
    return [(p, f"Validation — {AUDIO_LABELS.get(role, role.replace('_', ' '))}") for p, role in out]


def denoise_cells(study: Study) -> list[nbformat.NotebookNode]:
    cells = header(study, DENOISE_TASK, DENOISE_METHOD)
    if study.summary is None:
        return cells + not_run(study)
    s, figs = study.summary, list(study.figures)
    tests = test_audio(study)
    valid = validation_audio(study, {p for p, _ in tests})
    test_figs = take(figs, words("test"))
    cells += [md("## 2.1 Validation: the held-out end of the training recording"),
              *figures_or_note(take(figs, lambda p: True), "validation"),
              code('''\
denoise = load("denoise")
rows = [["noisy input", num(denoise.get("validation_input_snr_db"), " dB")],
        [f"network ({denoise.get('model', '?')})", num(denoise.get("validation_snr_db"), " dB")]]
for name, value in (denoise.get("baselines") or {}).items():
    if name == "noisy":
        continue  # the first row
    value = value.get("snr_db", value.get("validation_snr_db")) if isinstance(value, dict) else value
    rows.append([name.replace("_", " "), num(value, " dB")])
table(["validation audio", "SNR"], rows)
variants = denoise.get("variants") or {}
if variants:  # both variants are trained; the better one on validation is kept
    table(["variant", "validation SNR", "best epoch", "epochs run", "restarts after collapse"],
          [[name, num(v.get("validation_snr_db"), " dB"), num(v.get("best_epoch")), num(v.get("epochs_run")),
            num(v.get("collapse_restarts"))] for name, v in variants.items()])'''),
              explain(text.denoise_validation, s, study.record)]
    if valid:
        cells += [md("Listen: the noisy input, the network's output and the clean reference of the validation "
                     "audio."), code("\n".join(f"play({p!r}, {label!r})" for p, label in valid))]
    else:
        cells.append(md("*The denoise study wrote no validation audio under `denoise/audio/`.*"))
    # written next to the model by benchmarks/denoise_generalisation.py, when it was run
    gen, problem = _read(study.dir / "generalisation.json")
    if problem:
        cells.append(md(f"*The generalisation check's {problem}.*"))
    elif gen is not None:
        cells += [md("### Speech it never heard\n\nMeasured by `benchmarks/denoise_generalisation.py`, run "
                     "separately on this model (it needs espeak-ng), beyond the assignment."),
                  explain(text.denoise_generalisation, gen)]
    cells += [md("## 2.2 The test recordings\n\nNo clean reference exists for these files, so no SNR can be "
                 "measured: look at the spectrograms and listen.")]
    cells += [figure_cell(test_figs)] if test_figs else []
    if tests:
        cells.append(code("\n".join(f"play({p!r}, {label!r})" for p, label in tests)))
    else:
        cells.append(md("*The summary lists no test files (`tests`).*"))
    return cells


# ----------------------------------------------------------------------------------------------- Problems 3, 4

INIT_METHOD = r"""Every weight matrix $W \in \mathbb{R}^{n_\text{out} \times n_\text{in}}$ starts from a zero-mean
Gaussian, biases from zero; the initialisers differ only in the variance:
$$\text{N}(0, 0.01^2):\ \mathrm{Var}(W_{ij}) = 10^{-4}, \qquad
\text{Xavier:}\ \mathrm{Var}(W_{ij}) = \frac{2}{n_\text{in} + n_\text{out}}, \qquad
\text{He:}\ \mathrm{Var}(W_{ij}) = \frac{2}{n_\text{in}}.$$
A layer multiplies the variance of its input by about $n_\text{in} \mathrm{Var}(W_{ij})$ (times a factor of the
activation: ½ for ReLU, at most $1/16$ for the sigmoid's slope). With $n_\text{in} = WIDTH$, N(0, 0.01²) gives
$WIDTH \cdot 10^{-4} \approx GAIN$ per layer, so after five layers signals and gradients shrink by orders of
magnitude; Xavier keeps the variance about constant for a linear or tanh-like layer, He for a ReLU layer."""

OPTIM_TASK = (
    "Show how the choice of initialisation and activation decides whether a deep fully connected network "
    "(5 hidden layers × 512 units, MNIST) trains at all. Five arms — sigmoid + N(0, 0.01²), sigmoid + Xavier, "
    "ReLU + N(0, 0.01²), ReLU + Xavier, ReLU + He — each trained with plain SGD at a learning rate of 1.0 (no "
    "momentum, no weight decay, no schedule) and with Adam at its default settings, with the same batches, "
    "data order and epochs for every arm.")

def init_method(width: int) -> str:
    return INIT_METHOD.replace("WIDTH", str(width)).replace("GAIN", f"{width * 1e-4:.2f}")


OPTIM_METHOD = init_method(512) + r"""

Plain SGD updates $\theta \leftarrow \theta - \eta\, g$ with $\eta = 1$: the step is as large as the gradient.
Adam divides a running mean of the gradient by the root of a running mean of its square,
$\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$ ($\eta = 10^{-3}$), so each weight
moves by about $\eta$ whatever the gradient's scale. A run whose loss becomes non-finite is stopped and marked
*diverged*. Per-layer gradient norms and activation statistics (mean, the sigmoid's saturated fraction, the
ReLU's dead fraction) are recorded at a few points to explain *why* an arm fails."""

DROPOUT_TASK = (
    "Show how dropout changes overfitting. Four arms on MNIST with 5 hidden layers × 1 024 units and Adam: "
    "sigmoid + Xavier and ReLU + He, each without and with dropout; train and test curves side by side.")

DROPOUT_METHOD = r"""Dropout multiplies the input of a layer by a random mask during training,
$$\tilde h = \frac{1}{1 - p}\, m \odot h, \qquad m_j \sim \mathrm{Bernoulli}(1 - p),$$
with $p = 0.2$ on the pixels (the first layer's input) and $p = 0.5$ on the input of every later layer; at
test time $\tilde h = h$ (the $1/(1-p)$ keeps the expected activation the same). Each step trains a different
thinned network, so no unit can rely on particular others; the full net at test time acts like an average
of those thinned networks. Overfitting shows as a growing gap between the training curve (solid) and the
test curve (dashed), and as a test loss that rises after its minimum.

""" + init_method(1024)

STATS_WORDS = ("grad", "activ", "stat", "dead", "satur", "probe", "first_step")


def runs_table(columns: Sequence[tuple[str, str]]) -> str:
    """Notebook code for a one-row-per-run table; `columns` are (header, Python expression of `r`)."""
    header = ", ".join(repr(h) for h, _ in columns)
    cells = ", ".join(expr for _, expr in columns)
    return f"table([{header}],\n      [[{cells}] for r in summary.get(\"runs\") or []])"


def optim_cells(study: Study) -> list[nbformat.NotebookNode]:
    cells = header(study, OPTIM_TASK, OPTIM_METHOD)
    if study.summary is None:
        return cells + not_run(study)
    s, figs = study.summary, list(study.figures)
    sweep = take(figs, words("sweep", "lr_", "learning_rate", "_lr"))
    stats = take(figs, words(*STATS_WORDS))
    curves = take(figs, words("loss", "accuracy", "curve", "sgd", "adam"))
    for group in (stats, curves):  # the assignment's order: SGD, then Adam
        group.sort(key=lambda p: "adam" in Path(p).stem.lower())
    columns = [("optimizer", 'r.get("optimizer")'), ("lr", 'num(r.get("lr")) if r.get("lr") else "default"'),
               ("activation", 'r.get("activation")'),
               ("init", 'r.get("init")'), ("seed", 'r.get("seed")'),
               ("final train loss", '"—" if r.get("diverged") else num(last(r.get("train_loss")))'),
               ("final test accuracy", '"—" if r.get("diverged") else pct(last(r.get("test_accuracy")))'),
               ("diverged", 'diverged(r)')]
    cells += [md("## 3.1 Training curves"), *figures_or_note(curves, "training-curve"),
              code('summary = load("optim")\n' + runs_table(columns)),
              explain(text.optim_arms, s, study.record),
              md("## 3.2 Why: gradients and activations layer by layer"), *figures_or_note(stats, "statistics"),
              explain(text.optim_why, s, study.dir)]
    if sweep:
        cells += [md("## 3.3 Beyond the assignment: the same arms under SGD at smaller learning rates"),
                  figure_cell(sweep), explain(text.optim_sweep, s)]
    return cells + other_figures(figs)


def dropout_cells(study: Study) -> list[nbformat.NotebookNode]:
    cells = header(study, DROPOUT_TASK, DROPOUT_METHOD)
    if study.summary is None:
        return cells + not_run(study)
    s, figs = study.summary, list(study.figures)
    stats = take(figs, words(*STATS_WORDS))
    curves = take(figs, words("loss", "accuracy", "curve", "dropout", "overfit"))
    columns = [("activation", 'r.get("activation")'), ("init", 'r.get("init")'),
               ("dropout", '"yes" if r.get("dropout") else "no"'), ("seed", 'r.get("seed")'),
               ("train loss", 'num(last(r.get("train_loss")))'), ("test loss", 'num(last(r.get("test_loss")))'),
               ("train accuracy", 'pct(last(r.get("train_accuracy")))'),
               ("test accuracy", 'pct(last(r.get("test_accuracy")))'),
               ("gap (points)", 'num(100 * (last(r.get("train_accuracy")) - last(r.get("test_accuracy"))), "", 2) '
                                'if last(r.get("train_accuracy")) is not None '
                                'and last(r.get("test_accuracy")) is not None else "—"')]
    cells += [md("## 4.1 Train and test curves, without and with dropout"),
              *figures_or_note(curves, "training-curve"),
              md("Final epoch of every run:"), code('summary = load("dropout")\n' + runs_table(columns)),
              explain(text.dropout_gap, s, study.record)]
    if stats:
        cells += [md("## 4.2 Gradients and activations layer by layer"), figure_cell(stats)]
    return cells + other_figures(figs)


# ----------------------------------------------------------------------------------------------- the notebook

BUILDERS = {"mnist": mnist_cells, "denoise": denoise_cells, "optim": optim_cells, "dropout": dropout_cells}


def glance(studies: Sequence[Study]) -> str:
    """The opening table: each study's state and headline number."""
    rows = ["| problem | state | preset | headline |", "|---|---|---|---|"]
    for st in studies:
        s = st.summary
        if s is None:
            rows.append(f"| {TITLES[st.name]} | **not run** | | |")
            continue
        head = {"mnist": lambda: f"test accuracy {text.pct(s.get('test_accuracy'), 2)}",
                "denoise": lambda: f"validation SNR {text.db(s.get('validation_snr_db'))} "
                                   f"(input {text.db(s.get('validation_input_snr_db'))})",
                "optim": lambda: f"{len(s.get('runs') or [])} runs, "
                                 f"{sum(bool(r.get('diverged')) for r in s.get('runs') or [])} diverged",
                "dropout": lambda: f"{len(s.get('runs') or [])} runs"}[st.name]
        try:
            headline = head()
        except Exception:  # noqa: BLE001 - an odd summary still gets its row
            headline = ""
        rows.append(f"| {TITLES[st.name]} | done | {text.preset_of(st.record) or ''} | {headline} |")
    return "\n".join(rows)


def build_notebook(root: Path) -> nbformat.NotebookNode:
    """The report's cells for the results under `root` (not executed)."""
    root = Path(root).resolve()
    studies = [find_study(root, name) for name in STUDIES]
    intro = md(f"""
# denselab — four studies of fully connected networks

Generated by `denselab report` (denselab {__version__}) on {_dt.datetime.now():%Y-%m-%d %H:%M} from the results
in `{root}`. Every number, figure and sound below was produced by `denselab all` and read back from that
folder; the explanations are written from those numbers. Rebuild with `denselab report {root}`.
Figures, sounds and the MathJax that typesets the maths are embedded in `report.html`: it needs no network.

{glance(studies)}
""")
    setup = code(SETUP.replace("__RESULTS__", repr(str(root))))
    setup.metadata.update(tags=["hide-input"], jupyter={"source_hidden": True})  # helpers, not results
    cells = [intro, md("The first code cell (shown in `report.ipynb`, hidden in the HTML) defines where the results "
                       "are and the helpers `load`, `table`, `figure` and `play` that the cells below use."), setup]
    for st in studies:
        cells += BUILDERS[st.name](st)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb
