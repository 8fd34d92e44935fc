"""The report notebook: the opening (what ran, where, with which code), a hidden setup cell, one section per
problem (`templates/<study>.md.j2`), the conclusion, and an appendix with the whole functions.

The code cells only show figures and sounds (standard library and IPython); nothing here trains anything."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import nbformat
from nbformat.v4 import new_notebook

from denselab.reporting import code, denoise, dropout, mnist, optim, sections, text
from denselab.reporting.results import find_results
from denselab.version import __version__

# each study's section: the module of this package named after it (its values) and templates/<name>.md.j2
SECTIONS = {module.__name__.rsplit(".", 1)[1]: module for module in (mnist, denoise, optim, dropout)}

SETUP = '''\
# Setup: where the results are, and the helpers the cells below use to show figures and sounds. This notebook
# only reads files that `denselab` wrote; it trains nothing.
import base64
from html import escape
from pathlib import Path

from IPython.display import HTML, Image, Markdown, display

RESULTS = Path(__RESULTS__)  # the folder `denselab report` built this notebook from
if not RESULTS.is_dir():  # moved elsewhere: use the notebook's own folder (Jupyter's working directory)
    RESULTS = Path.cwd()


def figure(path, caption):
    """A saved PNG, embedded, with its caption."""
    path = RESULTS / path
    if not path.is_file():
        return display(Markdown(f"*Figure `{path}` is missing.*"))
    display(Image(filename=str(path), metadata={"alt": caption}))
    display(Markdown(f"*{caption}*"))


def gallery(items):
    """Saved PNGs two per row, each embedded as a data: URI with its caption."""
    html = []
    for rel, caption in items:
        path = RESULTS / rel
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            html.append(f'<figure class="pair"><img src="data:image/png;base64,{data}" '
                        f'alt="{escape(caption)}">'
                        f"<figcaption><i>{escape(caption)}</i></figcaption></figure>")
        else:
            html.append(f"<p><i>Figure {escape(str(path))} is missing.</i></p>")
    rows = ['<div class="gallery">' + "".join(html[i : i + 2]) + "</div>" for i in range(0, len(html), 2)]
    display(HTML("".join(rows)))  # one row per block: a printed page can break between rows


def players(items):
    """Audio players, two per row, each WAV embedded as a data: URI under its label."""
    html = []
    for rel, label in items:
        path = RESULTS / rel  # an absolute path stays absolute
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode()
            html.append(f'<div class="clip"><b>{escape(label)}</b><br><audio controls preload="none">'
                        f'<source src="data:audio/wav;base64,{data}" type="audio/wav"></audio></div>')
        else:
            html.append(f"<p><i>{escape(label)}: {escape(str(path))} is missing.</i></p>")
    display(HTML('<div class="gallery">' + "".join(html) + "</div>"))


print(f"Results in {RESULTS}")
'''


def provenance(contexts: dict[str, dict]) -> dict[str, list]:
    """The distinct commits (short), software lines and devices the studies ran with."""
    runs = [c["run"] for c in contexts.values() if c["st"].record]
    distinct = {
        k: list(dict.fromkeys(r[k] for r in runs if r.get(k))) for k in ("commit", "software", "device")
    }
    return {**distinct, "commit": [c[:12] for c in distinct["commit"]], "ran": bool(runs)}


def build_notebook(root: str | Path, skipped: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The report's cells for the results under `root` (not executed). `skipped`: {study: why it was not
    run}, as `denselab all` knows it."""
    root = Path(root).resolve()
    studies = find_results(root)
    contexts = {st.name: sections.context(st, SECTIONS[st.name]) for st in studies}
    for st in studies:
        if st.summary is None and skipped and st.name in skipped:
            st.problem = skipped[st.name]
    body = [sections.section(st, SECTIONS[st.name], contexts[st.name]) for st in studies]
    opening = text.render(
        "intro.md.j2",
        root=root,
        version=__version__,
        date=f"{_dt.datetime.now():%Y-%m-%d %H:%M}",
        studies=studies,
        ctx=contexts,
        check=code.check(studies),
        prov=provenance(contexts),
        titles={name: module.TITLE for name, module in SECTIONS.items()},
    )
    setup = text.code_cell(SETUP.replace("__RESULTS__", repr(str(root))), hidden=True)
    end = text.render("conclusion.md.j2", by={st.name: st for st in studies}, ctx=contexts)
    appendix = text.render("appendix.md.j2", parts=[(st, code.appendix(st)) for st in studies], ctx=contexts)
    cells = [*text.cells(opening), setup, *(c for part in body for c in part), *text.cells(end)]
    nb = new_notebook(cells=cells + text.cells(appendix))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb
