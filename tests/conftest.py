"""Shared fixtures: where the data lies (CI sets $DENSELAB_DATA to ../shared/data), and the one table of tiny
settings every test that runs a whole study uses."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from denselab.runner import TINY, study_config  # TINY: study name -> overrides on top of the quick preset

REPO = Path(__file__).resolve().parents[1]

__all__ = ["REPO", "TINY"]


def _data_dir() -> Path:
    env = os.environ.get("DENSELAB_DATA")
    return Path(env) if env else (REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if not (d / "mnist").is_dir():
        pytest.skip(f"no MNIST data at {d} (set DENSELAB_DATA)")
    return d


@pytest.fixture(scope="session")
def mnist_dir(data_dir: Path) -> Path:
    return data_dir / "mnist"


@pytest.fixture(scope="session")
def speech_dir(data_dir: Path) -> Path:
    if not (data_dir / "speech" / "train_clean_male.wav").is_file():
        pytest.skip(f"no speech data at {data_dir / 'speech'} (set DENSELAB_DATA)")
    return data_dir / "speech"


@pytest.fixture(scope="session")
def tiny() -> Callable[..., Any]:
    """`tiny(name, **extra)`: study `name`'s validated config, the quick preset + TINY[name] + `extra`."""

    def make(name: str, **extra: Any) -> Any:
        return study_config(name, "quick", {**TINY[name], **extra})

    return make


def _flags(overrides: dict[str, Any]) -> list[str]:
    """Command-line flags that set `overrides` (what the CLI generates from the config fields)."""
    args: list[str] = []
    for key, value in overrides.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, (tuple, list)):
            args += [flag, *map(str, value)]
        else:
            args += [flag, str(value)]
    return args


@pytest.fixture(scope="session")
def tiny_args() -> Callable[..., list[str]]:
    """`tiny_args(name, **extra)`: the flags that give study `name` its tiny settings on top of --preset quick."""

    def make(name: str, **extra: Any) -> list[str]:
        return ["--preset", "quick", *_flags({**TINY[name], **extra})]

    return make
