"""What `denselab report DIR` finds in DIR: either the folder `denselab all` writes (DIR/mnist, DIR/denoise,
...) or one study's `--out` (DIR/config.json and DIR/summary.json of a single study)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from denselab.errors import DenselabError
from denselab.registry import REGISTRY


@dataclass
class StudyResults:
    """One study's results as the report found them."""

    name: str
    dir: Path  # the study's folder
    root: Path  # the results folder the notebook's paths are relative to
    summary: dict | None = None
    record: dict | None = None  # config.json: command, preset, the resolved config, device, versions
    problem: str | None = None  # why the summary could not be read
    shown: set[str] = field(default_factory=set)  # figure keys already placed (each figure is shown once)
    code_shown: list[str] = field(default_factory=list)  # functions excerpted (their full text: appendix)

    @property
    def config(self) -> dict[str, Any]:
        cfg = (self.record or {}).get("config")
        return dict(cfg) if isinstance(cfg, Mapping) else {}

    @property
    def preset(self) -> str | None:
        return (self.record or {}).get("preset")


def read_json(path: Path) -> tuple[dict | None, str | None]:
    """(object, None), (None, why it cannot be read) or (None, None) when the file does not exist."""
    if not path.is_file():
        return None, None
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return None, f"`{path.name}` cannot be read ({type(e).__name__}: {e})"
    return (value, None) if isinstance(value, dict) else (None, f"`{path.name}` is not a JSON object")


def load(name: str, folder: Path, root: Path) -> StudyResults:
    st = StudyResults(name, folder, root)
    st.summary, st.problem = read_json(folder / "summary.json")
    st.record, _ = read_json(folder / "config.json")
    return st


def single_study(root: Path) -> str | None:
    """The study whose `--out` `root` is (from its config.json's command), or None."""
    record, _ = read_json(root / "config.json")
    command = (record or {}).get("command")
    return next((s.name for s in REGISTRY.values() if command in (s.command, s.name)), None)


def find_results(root: Path) -> list[StudyResults]:
    """Every study of the registry as found under `root` (one only when `root` is that study's --out)."""
    if not root.is_dir():
        raise DenselabError(f"results folder not found: {root}")
    one = single_study(root)
    if one is not None:
        return [load(one, root, root)]
    if not any((root / name).is_dir() for name in REGISTRY):
        raise DenselabError(
            f"{root} holds no study results (expected one study's config.json and summary.json, or the "
            f"folders {', '.join(f'{n}/' for n in REGISTRY)} that `denselab all --out {root}` writes)"
        )
    return [load(name, root / name, root) for name in REGISTRY]


def rel(st: StudyResults, path: str) -> str:
    """A path from a study's summary (relative to its folder, or absolute) relative to the results folder
    when it lies inside it (the notebook's helpers take such paths), absolute otherwise."""
    p = Path(str(path))
    full = (p if p.is_absolute() else st.dir / p).resolve()
    try:
        return full.relative_to(st.root.resolve()).as_posix()
    except ValueError:
        return str(full)


def figure_map(st: StudyResults) -> dict[str, str]:
    """{key: path for the notebook} of the figures the study listed in summary["figures"]: a dict {key: path},
    or a list of paths keyed by file stem."""
    listed = (st.summary or {}).get("figures")
    if isinstance(listed, Mapping):
        items = listed.items()
    elif isinstance(listed, list):
        items = ((Path(str(p)).stem, p) for p in listed)
    else:
        items = ()
    return {str(k): rel(st, str(p)) for k, p in items if p}
