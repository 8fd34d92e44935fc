"""Templates to notebook cells. Each section is one Jinja2 template in `templates/`: the prose with
placeholders, and directive lines that place what is not prose:

    %%figure KEY ...       the figures the study listed under these keys, one below the other
    %%gallery KEY ...      the same, two per row
    %%play PATH :: LABEL   an audio player (PATH relative to the study's folder); a run of them is one cell
    %%code NAME ...        the core lines of these functions, as they ran (`code.py`)
    %%other                every listed figure not shown yet
    %%skip KEY ...         figures deliberately left out (the study lists them for other readers)
    %%raw ... %%endraw     HTML passed through as it is (a raw cell: `<details>` blocks)
    %%cell                 start a new Markdown cell

Everything between directives is one Markdown cell."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_raw_cell

from denselab.reporting import code, fmt
from denselab.reporting.results import StudyResults, figure_map, rel

Cell = nbformat.NotebookNode
TEMPLATES = Path(__file__).with_name("templates")

ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    undefined=jinja2.ChainableUndefined,  # a key a summary lacks reads as undefined: templates test for it
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)
ENV.filters.update(fmt.FILTERS, python=fmt.python_html)
ENV.tests["number"] = fmt.finite


def render(template: str, **context: Any) -> str:
    """The template's text for these values."""
    return ENV.get_template(template).render(**context)


def md(source: str) -> Cell:
    return new_markdown_cell(source.strip())


def code_cell(source: str, hidden: bool = False) -> Cell:
    """A code cell; `hidden`: its input is left out of the HTML (a helper call, not a result)."""
    cell = new_code_cell(source.strip())
    if hidden:
        cell.metadata.update(tags=["hide-input"], jupyter={"source_hidden": True})
    return cell


def cells(text: str, st: StudyResults | None = None, captions: Mapping[str, str] | None = None) -> list[Cell]:
    """Split rendered section text into Markdown cells and the directives' cells."""
    out: list[Cell] = []
    prose: list[str] = []
    plays: list[str] = []
    raw: list[str] | None = None  # inside %%raw ... %%endraw

    def flush() -> None:
        if "".join(prose).strip():
            out.append(md("\n".join(prose)))
        prose.clear()
        if plays:
            out.append(code_cell("players([\n" + "\n".join(plays) + "\n])", hidden=True))
            plays.clear()

    for line in text.splitlines():
        if raw is not None and line != "%%endraw":
            raw.append(line)
            continue
        if not line.startswith("%%"):
            if plays:
                flush()
            prose.append(line)
            continue
        word, _, rest = line[2:].partition(" ")
        if word in ("raw", "endraw"):
            flush()
            if raw:
                out.append(new_raw_cell("\n".join(raw), metadata={"raw_mimetype": "text/html"}))
            raw = [] if word == "raw" else None
            continue
        if word == "play" and st is not None:
            if prose:
                flush()
            path, _, label = rest.partition("::")
            plays.append(f"    ({rel(st, path.strip())!r}, {label.strip()!r}),")
            continue
        flush()
        try:
            out += directive(word, rest.split(), st, captions or {})
        except Exception as e:  # noqa: BLE001 - an odd summary must not cost the whole report
            print(f"denselab report: warning: %%{word} {rest}: {type(e).__name__}: {e}", file=sys.stderr)
    flush()
    return out


def directive(word: str, args: list[str], st: StudyResults | None, captions: Mapping[str, str]) -> list[Cell]:
    if word == "cell" or st is None:
        return []
    if word == "code":
        return [md(code.excerpt(st, args))]
    found = figure_map(st)
    if word == "skip":
        st.shown.update(args)
        return []
    if word == "other":
        args = [k for k in found if k not in st.shown]
    keys = [k for k in dict.fromkeys(args) if k in found and k not in st.shown]
    st.shown.update(keys)
    items = [(found[k], captions.get(k) or k.replace("_", " ")) for k in keys]
    if not items:
        return []
    if word == "gallery":
        return [code_cell("gallery([\n" + "".join(f"    ({p!r}, {c!r}),\n" for p, c in items) + "])", True)]
    return [code_cell("\n".join(f"figure({p!r}, {c!r})" for p, c in items), hidden=True)]
