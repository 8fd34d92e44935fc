"""What every study's section is made of: the results a study left on disk (`Study`), Markdown and code cells,
figures and sound clips *as the study's summary.json lists them*, the code that ran, and how it was run.

The report never looks for files by name: a figure or clip appears when the study listed it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

from denselab.provenance import SNAPSHOT
from denselab.report import fmt, sources

Cell = nbformat.NotebookNode
COMMANDS = {"mnist": "mnist", "denoise": "denoise train", "optim": "optim", "dropout": "dropout"}


# ----------------------------------------------------------------------------------------------- results on disk


@dataclass
class Study:
    """What `denselab report` found of one study in the results folder."""

    name: str
    root: Path
    summary: dict | None = None
    record: dict | None = None  # config.json: command, preset, the resolved config, device, versions
    problem: str | None = None  # why the summary could not be read
    shown: set[str] = field(default_factory=set)  # figures and clips already placed (each is shown once)

    @property
    def dir(self) -> Path:
        return self.root / self.name

    @property
    def config(self) -> dict[str, Any]:
        return fmt.config_of(self.record)


def read_json(path: Path) -> tuple[dict | None, str | None]:
    """(object, None), (None, why it cannot be read) or (None, None) when the file does not exist."""
    if not path.is_file():
        return None, None
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return None, f"{path.name} cannot be read ({type(e).__name__}: {e})"
    return (value, None) if isinstance(value, dict) else (None, f"{path.name} is not a JSON object")


def find_study(root: Path, name: str) -> Study:
    study = Study(name, root)
    study.summary, study.problem = read_json(study.dir / "summary.json")
    study.record, _ = read_json(study.dir / "config.json")
    return study


def figure_map(study: Study) -> dict[str, str]:
    """{key: path relative to the results folder} of the figures the study listed in summary["figures"]: a
    dict {key: path} as written, or a list of paths keyed by file stem. Paths in the summary are relative to
    the study's folder."""
    listed = (study.summary or {}).get("figures")
    items = (
        listed.items()
        if isinstance(listed, Mapping)
        else ((Path(str(p)).stem, p) for p in listed)
        if isinstance(listed, list)
        else ()
    )
    return {str(k): rel(study, str(p)) for k, p in items if p}


def rel(study: Study, path: str) -> str:
    """A path from a study's summary (relative to its folder, or absolute) as the notebook's helpers want it:
    relative to the results folder when it lies inside, absolute otherwise."""
    p = Path(path)
    full = p if p.is_absolute() else study.dir / p
    try:
        return full.resolve().relative_to(study.root.resolve()).as_posix()
    except ValueError:
        return str(full.resolve())


# ----------------------------------------------------------------------------------------------- cells


def md(source: str) -> Cell:
    return new_markdown_cell(source.strip())


def code(source: str) -> Cell:
    return new_code_cell(source.strip())


def heading(number: str, title: str, level: int = 2, question: str | None = None) -> Cell:
    """'## 1.4 Title' with the assignment's words quoted below it."""
    body = f"{'#' * level} {' '.join(w for w in (number, title) if w)}"
    return md(body + (f"\n\n{fmt.quote(question)}" if question else ""))


def explain(build: Callable[..., str], *args: Any, label: str = "What the numbers say.") -> Cell:
    """A Markdown cell written from the numbers; a note instead of a crash if the summary is odd."""
    try:
        body = build(*args)
    except Exception as e:  # noqa: BLE001 - an unexpected summary layout must not cost the whole report
        print(f"denselab report: warning: {build.__name__} failed: {type(e).__name__}: {e}", file=sys.stderr)
        body = f"*The explanation could not be written from this summary ({type(e).__name__}: {e}).*"
    body = body.strip()
    body = body[:1].upper() + body[1:]
    sep = "\n\n" if body.startswith("- ") else " "
    return md(f"**{label}**{sep}{body}" if label else body)


def figures(study: Study, keys: Sequence[str], captions: Mapping[str, str], what: str = "") -> list[Cell]:
    """One cell showing the listed figures among `keys` (in that order); a note when none of them is listed."""
    found = figure_map(study)
    picked = [k for k in dict.fromkeys(keys) if k in found and k not in study.shown]
    study.shown.update(picked)
    if not picked:
        return [md(f"*The study's summary lists no {what or 'such'} figure.*")] if what else []
    return [code("\n".join(f"figure({found[k]!r}, {captions.get(k, pretty(k))!r})" for k in picked))]


def gallery(study: Study, keys: Sequence[str], captions: Mapping[str, str]) -> list[Cell]:
    """The listed figures among `keys` side by side."""
    found = figure_map(study)
    picked = [k for k in dict.fromkeys(keys) if k in found and k not in study.shown]
    study.shown.update(picked)
    if not picked:
        return []
    items = ",\n    ".join(f"({found[k]!r}, {captions.get(k, pretty(k))!r})" for k in picked)
    return [code(f"gallery([\n    {items},\n])")]


def other_figures(study: Study, captions: Mapping[str, str]) -> list[Cell]:
    """Every listed figure no section has shown yet."""
    rest = [k for k in figure_map(study) if k not in study.shown]
    return [md("### Other figures of this study"), *figures(study, rest, captions)] if rest else []


def players(items: Sequence[tuple[str, str]]) -> list[Cell]:
    """A code cell of audio players: (path relative to the results folder, label)."""
    return [code("\n".join(f"play({p!r}, {label!r})" for p, label in items))] if items else []


def pretty(key: str) -> str:
    return key.replace("_", " ")


# ----------------------------------------------------------------------------------------------- how it ran


def failed_runs(study: Study) -> list[Cell]:
    """A note listing the training runs that failed for good (summary `failed_runs`), if any."""
    failed = (study.summary or {}).get("failed_runs") or []
    if not failed:
        return []
    rows = "\n".join(f"- `{f.get('name')}` **failed**: `{f.get('error')}`" for f in failed)
    return [
        md(
            f"**{len(failed)} run(s) failed** and are missing from the figures, tables and numbers of this "
            f"section (run the same command again to retry them):\n\n{rows}"
        )
    ]


def not_run(study: Study) -> list[Cell]:
    why = study.problem or (
        f"`{study.name}/` holds no `summary.json`"
        if study.dir.is_dir()
        else f"there is no `{study.name}/` folder"
    )
    return [
        md(
            f"> **Not run.** {why[0].upper() + why[1:]} in this results folder, so this section has nothing to show. Run "
            f"`denselab {COMMANDS[study.name]} --out {study.dir}` (or `denselab all --out {study.root}`, which "
            f"skips finished studies), then `denselab report {study.root}`."
        )
    ]


def _flag(name: str, value: Any) -> str:
    opt = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return opt if value else "--no-" + name.replace("_", "-")
    if isinstance(value, (list, tuple)):
        return f"{opt} {' '.join(str(v) for v in value)}"
    return f"{opt} {0 if value is None else value}"


def command_line(study: Study) -> str:
    """The `denselab ...` command that reproduces the run: the preset plus every setting that differs from it."""
    record = study.record or {}
    preset = record.get("preset") or "full"
    words = [f"denselab {record.get('command') or COMMANDS[study.name]}", f"--preset {preset}"]
    cfg = study.config
    if "seed" in cfg:
        words.append(f"--seed {cfg['seed']}")
    base = sources.preset_values(study.name, preset)
    for name, value in cfg.items():
        if name != "seed" and name in base and _same(value, base[name]) is False:
            words.append(_flag(name, value))
    if record.get("device"):
        words.append(f"--device {record['device']}")
    words.append(f"--out {study.dir}")
    return " \\\n    ".join(words)


def _same(a: Any, b: Any) -> bool:
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731 - JSON turns tuples into lists
    return norm(a) == norm(b)


def differs_from_full(study: Study) -> list[str]:
    """Settings of the run that differ from the full preset (the assignment's settings), as 'name = value'."""
    base = sources.preset_values(study.name, "full")
    return [
        f"`{k}` = {fmt.num(v)} (full: {fmt.num(base[k])})"
        for k, v in study.config.items()
        if k in base and k != "seed" and not _same(v, base[k])
    ]


def how_it_ran(study: Study) -> list[Cell]:
    """The exact command and the resolved config (config.json), each setting with its one-line meaning."""
    record = study.record or {}
    if not study.config:
        return [
            md("*This study's folder holds no `config.json`, so the command and settings cannot be shown.*")
        ]
    docs = sources.field_docs(study.name)
    rows = "".join(
        f"<tr><td><code>{escape(k)}</code></td><td>{escape(fmt.num(v))}</td><td>{escape(docs.get(k, ''))}"
        f"</td></tr>"
        for k, v in study.config.items()
    )
    software = ", ".join(
        f"{label} {record[key]}"
        for key, label in (
            ("denselab_version", "denselab"),
            ("git_commit", "commit"),
            ("torch_version", "torch"),
            ("python_version", "Python"),
        )
        if record.get(key)
    )
    diff = differs_from_full(study)
    note = (
        f"It differs from the full preset (the assignment's settings) in {fmt.names(diff)}."
        if diff
        else "Every setting is the full preset's."
    )
    return [
        md(
            f"**How it was run.** {note} The results below come from this command (preset "
            f"`{record.get('preset')}`{', on ' + record['device'] if record.get('device') else ''}"
            f"{'; ' + software if software else ''}):\n\n```\n{command_line(study)}\n```\n\n"
            f"<details><summary>The resolved config (<code>{study.name}/config.json</code>): every setting, "
            f"its value and its meaning</summary><table><thead><tr><th>setting</th><th>value</th>"
            f"<th>meaning</th></tr></thead><tbody>{rows}</tbody></table></details>"
        )
    ]


def code_that_ran(study: Study, section: str) -> list[Cell]:
    """Each entry of `sources.SOURCES[study][section]`: its sentence, then the functions' source as the study
    recorded it when it started (`<study>/sources.json`); the installed source for a folder without that file."""
    saved, _ = read_json(study.dir / SNAPSHOT)
    ran = (
        saved.get("functions") if isinstance(saved, dict) and isinstance(saved.get("functions"), dict) else {}
    )
    cells = []
    for sentence, dotted in sources.SOURCES.get(study.name, {}).get(section, ()):
        unrecorded = [d for d in dotted if d not in ran]
        if not ran:
            sentence += (
                f" *(`{study.name}/{SNAPSHOT}` is missing, so this is the code installed when the "
                "report was built, which may not be the code that ran.)*"
            )
        elif unrecorded:
            names = ", ".join(f"`{d.rsplit('.', 1)[1]}`" for d in unrecorded)
            sentence += (
                f" *(`{study.name}/{SNAPSHOT}` does not record {names}, so that is the code "
                "installed when the report was built, which may not be the code that ran.)*"
            )
        cells.append(md(sentence))
        for module, names_ in sources.by_module(dotted):
            try:
                body = "\n\n\n".join(
                    ran.get(f"{module}.{n}") or sources.source_of(f"{module}.{n}") for n in names_
                )
            except LookupError as e:
                print(f"denselab report: warning: {e}", file=sys.stderr)
                cells.append(md(f"*The source of `{module}` ({', '.join(names_)}) cannot be shown: {e}.*"))
                continue
            cells.append(code(f"%%code_that_ran {module}\n{body}"))
    return cells


def method(study: Study, formulas: str, recipe: Callable[..., str], described: set[str]) -> str:
    """The method paragraph: the formulas, the recipe in words (from config.json), then any setting of the
    config that the recipe's sentences do not cover and that differs from the full preset, with its meaning, so
    that every setting that is not the default is named."""
    cfg = study.config
    text = (
        recipe(cfg, study.summary)
        if cfg
        else ("*No `config.json` was found, so the settings that ran cannot be stated.*")
    )
    docs = sources.field_docs(study.name)
    full = sources.preset_values(study.name, "full")
    rest = [
        f"`{k}` = {fmt.num(v)} ({docs.get(k, 'no description').rstrip('.')})"
        for k, v in cfg.items()
        if k not in described and (k not in full or not _same(v, full[k]))
    ]
    if rest:
        text += " Other settings: " + "; ".join(rest) + "."
    return f"**Method.** {formulas}\n\n{text}" if formulas else f"**Method.** {text}"


def opening(
    study: Study, title: str, formulas: str, recipe: Callable[..., str], described: set[str]
) -> list[Cell]:
    """A problem's first cells: its title and method, then how it was run (or why there is nothing to show)."""
    intro = md(f"# {title}\n\n" + method(study, formulas, recipe, described))
    return [intro, *(not_run(study) if study.summary is None else how_it_ran(study))]
