"""How a result was made, recorded when a study starts: the run record (`config.json`: the resolved config and
the software around it) and the source of the code that ran (`sources.json`), which the report shows."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect
import platform
import subprocess
import textwrap
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from denselab.config import Runtime
from denselab.version import __version__

SNAPSHOT = "sources.json"  # in each study's folder: {"format": 1, "functions": {dotted name: source}}


def git_commit() -> str | None:
    """The commit of the source tree denselab runs from, when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def run_record(command: str, config: Any, runtime: Runtime, preset: str | None) -> dict[str, Any]:
    """Everything needed to tell how a result was made: the resolved config and the software around it."""
    import torch

    return {
        "command": command,
        "preset": preset,
        "config": dataclasses.asdict(config),
        "seed": getattr(config, "seed", None),
        "device": runtime.device,
        "executor": runtime.executor,
        "threads_per_job": runtime.threads_per_job,
        "denselab_version": __version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "threads": torch.get_num_threads(),
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
    }


def _defined_in(module: ModuleType) -> Iterable[tuple[str, Any]]:
    """The functions and classes `module` defines itself (not the ones it imports), in source order."""
    own = [
        (name, obj)
        for name, obj in vars(module).items()
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__
    ]
    return sorted(own, key=lambda item: _first_line(item[1]))


def _first_line(obj: Any) -> int:
    try:
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return 0


def source_text(obj: Any) -> str | None:
    """The dedented source of a function or class, or None when it cannot be read."""
    try:
        return textwrap.dedent(inspect.getsource(obj)).rstrip()
    except (OSError, TypeError):
        return None


def snapshot(modules: Iterable[ModuleType]) -> dict[str, Any]:
    """The source of every function and class the `modules` define, as installed now: what a study writes to
    its folder when it starts, so a report rebuilt after an edit or an upgrade shows the code that ran."""
    functions: dict[str, str] = {}
    for module in modules:
        for name, obj in _defined_in(module):
            text = source_text(obj)
            if text is not None:
                functions[f"{module.__name__}.{name}"] = text
    return {"format": 1, "functions": functions}
