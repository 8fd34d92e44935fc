"""The report built from the session's tiny `denselab all` (conftest's `tiny_run`): executed, one
self-contained HTML file, printed once by headless Chromium; a single study's --out; missing studies.
The prose itself (every comparative sentence, every new summary key) is tested in test_report_text.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from denselab.cli import main
from denselab.reporting import code
from denselab.reporting.notebook import build_notebook
from denselab.reporting.render import MATHJAX_CDN, external_refs
from denselab.reporting.results import StudyResults

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOTEXT = shutil.which("pdftotext")
STUDIES = ("mnist", "denoise", "optim", "dropout")
SKIPPED_FIGURES = {"overview"}  # listed by the MNIST study, left out of the report on purpose


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def listed_media(root: Path, studies=STUDIES) -> tuple[int, int]:
    """(figures, clips) the studies list in their summaries: what the report must show, each once."""
    figures, clips = set(), set()
    for name in studies:
        s = summary(root / name)
        listed = s.get("figures") or []
        items = listed.items() if isinstance(listed, dict) else ((Path(p).stem, p) for p in listed)
        figures |= {(name, p) for k, p in items if k not in SKIPPED_FIGURES}
        if name == "denoise":
            clips |= {t[k] for t in s.get("tests") or [] for k in ("noisy", "output") if t.get(k)}
            clips |= set((s.get("validation_audio") or {}).values()) | set((s.get("audio") or {}).values())
            clips |= set(((s.get("training_pair") or {}).get("clips") or {}).values())
    return len(figures), len(clips)


def count_media(html: str) -> tuple[int, int]:
    """(<img> with a data: PNG, <audio> whose source is a data: URI) in an HTML text."""
    return (
        len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)),
        len(re.findall(r"<audio[^>]*>\s*<source src=\"data:audio/[^;\"]+;base64,", html)),
    )


def errors(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


# ------------------------------------------------------------------------------------------ the built report


def test_the_report_of_a_whole_run(tiny_run: Path) -> None:
    nb = nbformat.read(str(tiny_run / "report.ipynb"), as_version=4)
    assert not errors(nb) and all(c.outputs for c in nb.cells if c.cell_type == "code")
    html = (tiny_run / "report.html").read_text()
    assert count_media(html) == listed_media(tiny_run)
    assert not external_refs(html) and MATHJAX_CDN not in html and "window.MathJax" in html
    text = markdown(nb)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    for number in ("1.1", "1.4", "1.8", "2.6–2.7", "2.13", "3.4–3.5", "3.6", "4.3–4.4", "4.5"):
        assert any(h.split(" ")[1] == number for h in headings), number
    assert "# Conclusion" in headings and "# Appendix: the code that ran" in headings
    assert html.count("identical to the installed") == 1, "provenance is said once, at the top"
    assert "What would have been the ideal" in text and "Glorot & Bengio 2010" in text
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for slip in (r"\(s\)", r"\bNone\b", r"\bnan\b", "n/a %", r"\bwiener\b"):
        assert not re.search(slip, prose), slip
    pair = summary(tiny_run / "denoise").get("training_pair")
    if pair:  # the denoise study writes its training pair's shape and two excerpts to play
        assert "**{} × {}**".format(*pair["stft_shape"]) in text and "training pair: clean speech" in html
    # the appendix is collapsed in the HTML and holds each excerpted function whole
    appendix = html[html.index("Appendix: the code that ran") :]
    assert appendix.count("<details>") == 4 and "build_mlp" in appendix and "fit_group" in appendix
    assert not list(tiny_run.glob(".*.tmp")), "atomic writes leave no temp files"


@pytest.mark.skipif(CHROMIUM is None or PDFTOTEXT is None, reason="needs chromium and pdftotext")
def test_printed_to_a4_by_chromium(tiny_run: Path, tmp_path: Path) -> None:
    """The one Chromium launch: the page prints to at most 30 A4 pages with no network at all, the maths
    typeset by the inlined MathJax (no LaTeX source left in the printed text)."""
    pdf = tmp_path / "report.pdf"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND",
         f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer", "--virtual-time-budget=10000",
         f"--print-to-pdf={pdf}", (tiny_run / "report.html").resolve().as_uri()],
        capture_output=True, timeout=180, check=True,
    )  # fmt: skip
    printed = subprocess.run([PDFTOTEXT, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = printed.count("\f")
    assert 5 <= pages <= 30, pages
    assert "Conclusion" in printed and "Problem 4" in printed
    assert not re.findall(r"\\frac|\\odot|\$\$", printed), "maths left as LaTeX source"
    assert "def fit_group" not in printed, "the appendix stays collapsed in print"


def test_one_study_folder(tiny_run: Path, tmp_path: Path) -> None:
    """`denselab report DIR` on one study's --out (DIR/config.json + DIR/summary.json)."""
    out = tmp_path / "m"
    shutil.copytree(tiny_run / "dropout", out)
    assert main(["report", str(out), "--quiet"]) == 0
    nb = nbformat.read(str(out / "report.ipynb"), as_version=4)
    text = markdown(nb)
    assert not errors(nb) and "# Problem 4 — Dropout" in text and "Problem 1" not in text
    html = (out / "report.html").read_text()
    fig = summary(out)["figures"]
    assert count_media(html) == (len(fig), 0)


def test_studies_that_did_not_run_say_what_they_need(tiny_run: Path, tmp_path: Path) -> None:
    root = tmp_path / "r"
    shutil.copytree(tiny_run / "mnist", root / "mnist", ignore=shutil.ignore_patterns("*.pt", "*.npz"))
    (root / "optim").mkdir()
    text = markdown(build_notebook(root, skipped={"dropout": "no MNIST files in /data/mnist"}))
    assert text.count("**Not run.**") == 3
    denoise = text[text.index("# Problem 2") : text.index("# Problem 3")]
    for name in ("train_clean_male.wav", "train_dirty_male.wav", "test_x_01.wav", "`unseen/`"):
        assert name in denoise, name
    assert "`<data-dir>/speech/`" in denoise and "denselab denoise train --out" in denoise
    assert "`optim/` holds no `summary.json`" in text and "No MNIST files in /data/mnist" in text


def test_report_command_errors(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "results folder not found" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no study results" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ the code it shows


def test_excerpts_come_from_the_recorded_source(tiny_run: Path, tmp_path: Path) -> None:
    """The excerpt is the recorded text (found by name even when its module moved), its core lines only,
    with a note when it differs from the installed code."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    ran = json.loads((tiny_run / "mnist" / "sources.json").read_text())["functions"]
    source = ran["denselab.models.mlp.build_mlp"].replace("blocks = []", "blocks = []  # as it ran")
    moved = {"denselab.models.old_place.build_mlp": source}
    (folder / "sources.json").write_text(json.dumps({"format": 1, "functions": moved}))
    st = StudyResults("mnist", folder, tmp_path)
    shown = code.excerpt(st, ["build_mlp"])
    assert "def build_mlp(...):" in shown and "nn.Linear(" in shown and "raise ValueError" not in shown
    assert "differs from the installed denselab" in shown
    assert code.appendix(st)[0] == ("denselab.models.old_place.build_mlp", source)
    assert "not recorded" in code.excerpt(st, ["no_such_function"])


def test_every_excerpt_named_in_the_templates_exists() -> None:
    """A function renamed or removed must be fixed in the templates, not silently dropped."""
    folder = Path(code.__file__).with_name("templates")
    names = {
        (t.stem.split(".")[0], n)
        for t in folder.glob("*.md.j2")
        for line in t.read_text().splitlines()
        if line.startswith("%%code ")
        for n in line.split()[1:]
    }
    assert len(names) >= 10
    for study, name in sorted(names):
        dotted, source, _ = code.lookup(StudyResults(study, Path("/nowhere"), Path("/nowhere")), name)
        assert source is not None, f"{study}: {name}"
        assert code.core_lines(code.method_of(source, name.split(".")[-1]), name).count("\n") <= 18, name
