"""The report: `denselab report DIR` (and the end of `denselab all`) turns the study results in DIR into an
executed notebook, DIR/report.ipynb, and one self-contained page, DIR/report.html, in which every figure and
sound clip is embedded as a data: URI.

    build_report("runs/q")  ->  [runs/q/report.ipynb, runs/q/report.html]

| module | what it does |
|---|---|
| `notebook.py` | the notebook: introduction, hidden setup cell (helpers, `%%code_that_ran`), one section per problem |
| `mnist.py`, `denoise.py`, `optim.py`, `dropout.py` | each problem's section, numbered and quoted like the assignment |
| `*_text.py` | each problem's prose: the method from config.json, the answers from summary.json |
| `cells.py` | shared pieces: results on disk, figures and clips *as summary.json lists them*, how each study ran |
| `sources.py` | which functions each section shows, by dotted name, in one table |
| `fmt.py` | numbers and words |
| `render.py` | executes the notebook with this interpreter's kernel, converts it to HTML |

Verdicts (stuck, diverged, overfits and their thresholds) and the lists of figures and audio are the studies'
(summary.json): the report reads them and never recomputes them or looks for files by name.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat

from denselab.errors import DenselabError
from denselab.io import atomic_path
from denselab.registry import REGISTRY as STUDIES

__all__ = ["build_report"]


def build_report(dir: str | os.PathLike, quiet: bool = False) -> list[Path]:
    """Build DIR/report.ipynb (executed) and DIR/report.html from the results in DIR; trains nothing.

    Studies that have not been run get a "not run" note instead of their section."""
    from denselab.report.notebook import build_notebook
    from denselab.report.render import MATHJAX_CDN, cell_errors, execute, external_refs, to_html

    root = Path(dir)
    if not root.is_dir():
        raise DenselabError(f"results folder not found: {root}")
    if not any((root / name).is_dir() for name in STUDIES):
        raise DenselabError(
            f"{root} holds no study results (expected one of {', '.join(f'{root / n}/' for n in STUDIES)}); "
            f"run `denselab all --out {root}` first"
        )
    say = (lambda msg: None) if quiet else (lambda msg: print(f"denselab report: {msg}", file=sys.stderr))

    say(f"writing and executing the notebook for {root}")
    nb = execute(build_notebook(root), cwd=root.resolve())
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
