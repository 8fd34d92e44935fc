"""The report notebook: an introduction, a hidden setup cell (paths and the helpers the other cells call),
then one section per problem, each written by its module (`mnist`, `denoise`, `optim`, `dropout`).

The code cells that show results only need the standard library and IPython; the cells that show the code
that ran (`%%code_that_ran MODULE`) import denselab, which built the report. Nothing here trains anything.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbformat.v4 import new_notebook

from denselab.registry import REGISTRY as STUDIES
from denselab.report import denoise, dropout, mnist, optim
from denselab.report.cells import Study, code, find_study, md
from denselab.report.fmt import db, pct
from denselab.version import __version__

SECTIONS = {"mnist": mnist, "denoise": denoise, "optim": optim, "dropout": dropout}

SETUP = '''\
# Setup: where the results are, and the helpers every cell below uses. This notebook only reads files that
# `denselab` wrote (summary.json, figures/*.png, audio/*.wav); it trains nothing. The cell magic
# %%code_that_ran shows functions as they were when their study started (its sources.json) and says whether the
# installed denselab still has them, character for character.
import base64
import json
import math
import warnings
from html import escape
from pathlib import Path

from IPython.display import HTML, Audio, Image, Markdown, display

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook bar, imported with denselab

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
    return f"{x}{unit}" if isinstance(x, int) else f"{x:.{digits}g}{unit}"


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


def code_that_ran(line, cell):
    """%%code_that_ran MODULE: define the cell's functions (the code that ran) in a copy of MODULE's namespace, so
    every name they use resolves, and say whether each is, character for character, the installed source."""
    import __future__
    import ast
    import importlib
    import inspect
    import textwrap

    module = importlib.import_module(line.strip())
    namespace = dict(vars(module))
    exec(compile(cell, module.__name__, "exec", flags=__future__.annotations.compiler_flag, dont_inherit=True),
         namespace)
    shown = [node.name for node in ast.parse(cell).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    for name in shown:
        installed = textwrap.dedent(inspect.getsource(getattr(module, name))).rstrip()
        line_no = inspect.getsourcelines(getattr(module, name))[1]
        where = f"{module.__name__.replace('.', '/')}.py, line {line_no}"
        if installed in cell:
            print(f"identical to the installed {module.__name__}.{name} ({where})")
        else:
            print(f"DIFFERS from the installed {module.__name__}.{name} ({where}): the code above is what produced "
                  "these results; denselab has changed since")


get_ipython().register_magic_function(code_that_ran, magic_kind="cell")

found = [s for s in ("mnist", "denoise", "optim", "dropout") if load(s) is not None]
print(f"Results in {RESULTS}: {', '.join(found) or 'none'}")
'''


def headline(study: Study) -> str:
    s = study.summary or {}
    if study.name == "mnist":
        return f"test accuracy {pct(s.get('test_accuracy'), 2)}"
    if study.name == "denoise":
        held = s.get("heldout_snr_db")
        return (
            f"held-out test SNR {db(held)} (input {db(s.get('heldout_input_snr_db'))}); "
            if held is not None
            else ""
        ) + f"validation SNR {db(s.get('validation_snr_db'))} (input {db(s.get('validation_input_snr_db'))})"
    arms = [a for a in s.get("arms") or [] if isinstance(a, dict)]
    if study.name == "optim":
        return (
            f"{len(arms)} arm × optimiser pairs, {sum(a.get('outcome') == 'diverged' for a in arms)} diverged"
        )
    return f"{len(arms)} arms, {sum(bool(a.get('overfits')) for a in arms)} overfit"


def glance(studies: Sequence[Study]) -> str:
    """The opening table: each problem's state and headline number."""
    rows = ["| problem | state | preset | headline |", "|---|---|---|---|"]
    for st in studies:
        title = SECTIONS[st.name].TITLE
        if st.summary is None:
            rows.append(f"| {title} | **not run** | | |")
            continue
        try:
            head = headline(st)
        except Exception:  # noqa: BLE001 - an odd summary still gets its row
            head = ""
        n_failed = len((st.summary or {}).get("failed_runs") or [])
        state = f"done, **{n_failed} run(s) failed**" if n_failed else "done"
        rows.append(f"| {title} | {state} | {(st.record or {}).get('preset') or ''} | {head} |")
    return "\n".join(rows)


def build_notebook(root: Path) -> nbformat.NotebookNode:
    """The report's cells for the results under `root` (not executed)."""
    root = Path(root).resolve()
    studies = [find_study(root, name) for name in STUDIES]
    intro = md(f"""
# Deep Learning Systems, Homework 1 — four studies of fully connected networks

Generated by `denselab report` (denselab {__version__}) on {_dt.datetime.now():%Y-%m-%d %H:%M} from the results
in `{root}`. Every number, figure and sound below was produced by `denselab` and read back from that folder; the
explanations are written from those numbers, and each problem's method from the settings that ran
(`config.json`). Sections carry the assignment's numbers and quote its questions. Cells marked
`%%code_that_ran` show the functions that produced the results as they were when each study started (the
study folder's `sources.json`), and say on every run whether the installed denselab still is that code. Rebuild with `denselab report {root}`.
Figures, sounds and the MathJax that typesets the maths are embedded in `report.html`: it needs no network.

{glance(studies)}
""")
    setup = code(SETUP.replace("__RESULTS__", repr(str(root))))
    setup.metadata.update(tags=["hide-input"], jupyter={"source_hidden": True})  # helpers, not results
    cells = [
        intro,
        md(
            "The first code cell (shown in `report.ipynb`, hidden in the HTML) defines where the results "
            "are, the helpers `load`, `table`, `figure` and `play`, and the `%%code_that_ran` cell "
            "magic."
        ),
        setup,
    ]
    for st in studies:
        cells += SECTIONS[st.name].cells(st)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb
