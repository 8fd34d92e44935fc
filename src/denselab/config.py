"""Configuration plumbing shared by every study.

Each study module defines a frozen dataclass `Config` (defaults = the assignment's `full` settings, a
one-line docstring under every field) and `PRESETS`, a dict of field overrides per preset name. The CLI is
generated from those dataclasses (see `cli/options.py`), so a new field is a new flag with no extra code.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as _dt
import functools
import inspect
import os
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from denselab.errors import DenselabError
from denselab.io import json_roundtrip, read_json, write_json

PRESET_NAMES = ("quick", "full")
EXECUTORS = ("local", "ray")  # where optim and dropout jobs run (studies/sweeps/executor.py)
RAY_INSTALL_HINT = "--executor ray needs Ray: pip install 'denselab[ray]'"


@dataclass(frozen=True)
class Runtime:
    """How and where a study runs; none of it is part of a study's config (so none of it changes which results
    a folder holds, or resumes). The numbers depend on nothing here but the torch thread count: it changes the
    order of float sums in matrix products, so the last bits of a run's numbers (see `threads_per_job`)."""

    device: str = "cpu"
    """Torch device the study trains on (already resolved from `auto`)."""
    data_dir: str = "data"
    """Folder that holds `mnist/` and `speech/`."""
    quiet: bool = False
    """No progress bars."""
    executor: str = "local"
    """Where the independent training jobs of optim and dropout run: `local` (this process) or `ray`."""
    ray_address: str | None = None
    """Ray cluster to join (`auto`: the one this machine belongs to); None starts a Ray on this machine."""
    threads_per_job: int | None = None
    """Torch threads per training job; None: all cores for `local`, 1 for `ray`."""


def check_runtime(runtime: Runtime) -> None:
    """DenselabError for an unknown executor, a thread count below 1, or `ray` without Ray installed."""
    import importlib.util

    if runtime.executor not in EXECUTORS:
        raise DenselabError(f"unknown --executor {runtime.executor} (choose from {' '.join(EXECUTORS)})")
    if runtime.threads_per_job is not None and runtime.threads_per_job < 1:
        raise DenselabError(f"--threads-per-job must be at least 1, got {runtime.threads_per_job}")
    if runtime.ray_address is not None and runtime.executor != "ray":
        raise DenselabError("--ray-address needs --executor ray")
    if runtime.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise DenselabError(RAY_INSTALL_HINT)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The one-line docstring written under each dataclass field, read from the source."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, nxt in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def resolve(
    config_cls: type,
    presets: Mapping[str, Mapping[str, Any]],
    preset: str,
    overrides: Mapping[str, Any] | None = None,
) -> Any:
    """Config for `preset` with explicit `overrides` (e.g. from the command line) applied on top."""
    if preset not in presets:
        raise DenselabError(f"unknown preset {preset!r} (choose from {', '.join(presets)})")
    values = {**presets[preset], **(overrides or {})}
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise DenselabError(f"unknown {config_cls.__name__} field(s): {', '.join(unknown)}")
    return config_cls(**values)


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [
        f"{k}: {old.get(k)!r} -> {new.get(k)!r}"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]


def prepare_out_dir(out_dir: str | os.PathLike, record: Mapping[str, Any], force: bool = False) -> Path:
    """Create `out_dir` and write `config.json`, refusing to mix results of two different configs.

    A folder that already holds a run of the same command with the same config is reused (finished work
    is skipped by the study); a different config is an error unless `force`."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DenselabError(f"--out {out} exists and is not a folder")
    cfg_path = out / "config.json"
    if cfg_path.exists() and not force:
        try:
            old = read_json(cfg_path)
        except (OSError, ValueError):
            old = None
        if isinstance(old, dict):
            if old.get("command") != record["command"]:
                raise DenselabError(
                    f"{out} holds results of `denselab {old.get('command')}`; "
                    f"choose another --out or pass --force"
                )
            changes = _diff(old.get("config") or {}, json_roundtrip(record["config"]))
            if changes:
                raise DenselabError(
                    f"{out} holds results of a different config ({'; '.join(changes[:3])}); "
                    f"choose another --out or pass --force"
                )
    out.mkdir(parents=True, exist_ok=True)
    write_json(cfg_path, record)
    return out


def is_complete(out_dir: str | os.PathLike, record: Mapping[str, Any]) -> bool:
    """True when `out_dir` holds a finished run (its summary.json) of the same command and config, with no
    failed runs (those are retried).

    A study writes summary.json last, so its presence means every other file is complete."""
    out = Path(out_dir)
    try:
        old = read_json(out / "config.json")
        summary = read_json(out / "summary.json")
    except (OSError, ValueError):
        return False
    return (
        isinstance(old, dict)
        and isinstance(summary, dict)
        and not summary.get("failed_runs")
        and old.get("command") == record["command"]
        and not _diff(old.get("config") or {}, json_roundtrip(record["config"]))
    )


def default_out(command: str) -> str:
    """`runs/<command>-<YYYYmmdd-HHMMSS>`, spaces in the command as dashes (`runs/denoise-train-...`)."""
    return os.path.join("runs", f"{command.replace(' ', '-')}-{_dt.datetime.now():%Y%m%d-%H%M%S}")


def default_data_dir() -> str:
    """`$DENSELAB_DATA`, else `./data`."""
    return os.environ.get("DENSELAB_DATA") or "data"
