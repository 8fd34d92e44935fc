"""The report: `denselab report DIR` (and the end of `denselab all`) turns the study results in DIR into an
executed notebook, DIR/report.ipynb, and one self-contained page, DIR/report.html, in which every figure and
sound clip is embedded as a data: URI. DIR is the folder `denselab all` writes (DIR/mnist, DIR/denoise, ...)
or one study's `--out` (its config.json and summary.json).

    build_report("runs/q")  ->  [runs/q/report.ipynb, runs/q/report.html]

| module | what it does |
|---|---|
| `results.py` | what DIR holds: each study's summary.json, config.json and figures (`StudyResults`) |
| `templates/*.md.j2` | every word of the report: one Jinja2 template per section, numbers as placeholders |
| `mnist.py`, `denoise.py`, `optim.py`, `dropout.py` | each problem's values for its template |
| `sections.py`, `notebook.py` | how each study ran (config.json); the notebook from the templates |
| `text.py` | templates to cells: prose, figures, sound players, code excerpts |
| `code.py` | the code shown: core lines from each study's sources.json, whole functions in the appendix |
| `fmt.py` | the one number formatter (the templates' filters) |
| `render.py` | executes the notebook with this interpreter's kernel, converts it to HTML |

Verdicts (stuck, diverged, overfits and their thresholds) and the lists of figures and audio are the studies'
(summary.json): the report reads them and never recomputes them or looks for files by name.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat

from denselab.io import atomic_path

__all__ = ["build_report"]


def build_report(
    dir: str | os.PathLike, quiet: bool = False, skipped: dict[str, str] | None = None
) -> list[Path]:
    """Build DIR/report.ipynb (executed) and DIR/report.html from the results in DIR; trains nothing.

    Studies that have not been run get a note saying what they need (`skipped`: {study: why}, when the
    caller knows). Returns the paths written."""
    from denselab.reporting.notebook import build_notebook
    from denselab.reporting.render import MATHJAX_CDN, cell_errors, execute, external_refs, to_html

    root = Path(dir)
    say = (lambda msg: None) if quiet else (lambda msg: print(f"denselab report: {msg}", file=sys.stderr))
    nb = build_notebook(root, skipped)  # DenselabError when DIR holds no study results
    say(f"executing the notebook for {root}")
    nb = execute(nb, cwd=root.resolve())
    for error in cell_errors(nb):
        print(f"denselab report: warning: a notebook cell failed: {error}", file=sys.stderr)

    ipynb, html_path = root / "report.ipynb", root / "report.html"
    with atomic_path(ipynb) as tmp:
        nbformat.write(nb, str(tmp))
    say("converting to HTML")
    html = to_html(nb)
    for ref in external_refs(html, allow=(MATHJAX_CDN,)):
        print(
            f"denselab report: warning: report.html refers to something outside itself: {ref}",
            file=sys.stderr,
        )
    with atomic_path(html_path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return [ipynb, html_path]
