"""Shared fixtures: where the data lies (CI sets $DENSELAB_DATA to ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    env = os.environ.get("DENSELAB_DATA")
    return Path(env) if env else (REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if not (d / "mnist").is_dir():
        pytest.skip(f"no data at {d} (set DENSELAB_DATA)")
    return d


@pytest.fixture(scope="session")
def mnist_dir(data_dir: Path) -> Path:
    return data_dir / "mnist"


@pytest.fixture(scope="session")
def speech_dir(data_dir: Path) -> Path:
    return data_dir / "speech"
