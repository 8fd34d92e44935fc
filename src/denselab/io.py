"""Crash-safe result files: every write goes to a temp file in the same folder and is renamed into place,
so a run killed at any moment leaves either the old complete file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from denselab.errors import DenselabError
from denselab.version import __version__


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it is fsynced and renamed onto `path`.

    The temp file is `.<name>.<random>.tmp`: a leftover from a SIGKILL never matches `*.json`, `*.pt`
    or `*.wav`, so it is never mistaken for a result. Writers that pick a format from the extension
    must be told the format explicitly."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; results should be readable like any other file
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def to_jsonable(obj: Any) -> Any:
    """Strict-JSON version of `obj`: non-finite floats become None, numpy/torch scalars and arrays become
    Python numbers and lists, paths become strings, dataclass-like tuples become lists."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if hasattr(obj, "tolist"):  # torch tensors
        return to_jsonable(obj.tolist())
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def json_roundtrip(obj: Any) -> Any:
    """The value `obj` has after a JSON round trip (tuples -> lists, NaN/Inf -> None), for comparing a
    config or spec in memory with one read back from a file."""
    return json.loads(json.dumps(to_jsonable(obj), allow_nan=False))


def finite(x: Any) -> bool:
    """A real, finite number (JSON null, strings, bools and NaN are not)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def last_finite(values: Any) -> float | None:
    """The last finite number of a per-epoch list (entries after a divergence are null/NaN); a bare number is
    returned when finite; None when there is none."""
    if not isinstance(values, (list, tuple)):
        return values if finite(values) else None
    good = [v for v in values if finite(v)]
    return good[-1] if good else None


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write `obj` as strict JSON (NaN/Inf -> null), indented for people to read."""
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file written by `write_json`."""
    with open(path) as f:
        return json.load(f)


def save_torch(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically `torch.save` a checkpoint dict."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Atomically write a compressed .npz."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return Path(path)


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Atomically save a matplotlib figure (format from the suffix) and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
    return Path(path)


def save_wav(path: str | os.PathLike, y: np.ndarray, sr: int) -> Path:
    """Atomically write a 16-bit PCM WAV; samples are clipped to [-1, 1] first."""
    import soundfile as sf

    y = np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(tmp, y, int(sr), subtype="PCM_16", format="WAV")
    return Path(path)


# ------------------------------------------------------------------------------------ checkpoint headers


def model_header(kind: str, version: int) -> dict[str, Any]:
    """The header every denselab model file starts with; `version` is bumped when the layout changes."""
    return {"format": f"denselab-{kind}", "version": version}


def _read_header(ckpt: Any) -> tuple[str | None, Any]:
    """(kind, version) from a model file's header; kind None when it is not a denselab header, "older" when
    it is the header layout of a denselab before 0.1 (`{"kind": ..., "format": int}`)."""
    if not isinstance(ckpt, dict):
        return None, None
    fmt, version = ckpt.get("format"), ckpt.get("version")
    if isinstance(ckpt.get("kind"), str) and str(ckpt["kind"]).startswith("denselab-"):
        return "older", None
    if isinstance(fmt, str) and fmt.startswith("denselab-"):
        return fmt[len("denselab-") :], version
    return None, None


def check_model_header(
    ckpt: Any,
    kind: str,
    version: int,
    path: str | os.PathLike,
    *,
    oldest: int | None = None,
    command: str | None = None,
) -> None:
    """Raise a one-line DenselabError unless `ckpt` is a denselab `kind` model whose version this code reads
    (`oldest`..`version`; `oldest` defaults to `version`). `command`
    (e.g. "denoise train") is named in the message as the way to make a readable file."""
    retrain = f"retrain it with `denselab {command}`" if command else "retrain it"
    found, found_version = _read_header(ckpt)
    if found == "older":
        raise DenselabError(
            f"{path} was written by an older denselab; this denselab {__version__} reads {kind} model "
            f"version {version}: {retrain}"
        )
    if found is None:
        train = f" (train one with `denselab {command}`)" if command else ""
        raise DenselabError(f"{path} is not a denselab {kind} model file{train}")
    if found != kind:
        raise DenselabError(f"{path} is a denselab {found} model, not a {kind} model")
    if not isinstance(found_version, int) or isinstance(found_version, bool):
        raise DenselabError(f"{path} has no readable model version: {retrain}")
    oldest = version if oldest is None else oldest
    if found_version > version:
        writer = ckpt.get("denselab_version")
        by = f"denselab {writer}" if writer else "a newer denselab"
        raise DenselabError(
            f"{path} was written by {by} as {kind} model version {found_version}; this denselab "
            f"{__version__} reads version {version}: upgrade denselab or {retrain}"
        )
    reads = f"version {version}" if oldest == version else f"versions {oldest}..{version}"
    if found_version < oldest:
        raise DenselabError(
            f"{path} is {kind} model version {found_version}; this denselab {__version__} "
            f"reads {reads}: {retrain}"
        )
