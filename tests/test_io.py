"""Results helpers and config plumbing: strict atomic JSON, config docs, presets, resume checks."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from denselab.config import Runtime, field_docs, is_complete, prepare_out_dir, resolve
from denselab.errors import DenselabError
from denselab.io import atomic_path, read_json, save_npz, write_json
from denselab.provenance import run_record


def test_json_is_strict_and_nan_becomes_null(tmp_path: Path) -> None:
    p = write_json(
        tmp_path / "s.json",
        {"a": math.nan, "b": [1.0, math.inf, np.float32(2.5)], "c": np.arange(3), "d": (1, 2)},
    )
    text = p.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.0, None, 2.5], "c": [0, 1, 2], "d": [1, 2]}


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"v": 2, "half')
            raise RuntimeError("killed mid-write")
    assert read_json(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # temp file cleaned up


def test_npz_roundtrip(tmp_path: Path) -> None:
    save_npz(tmp_path / "a.npz", x=np.arange(5))
    assert np.load(tmp_path / "a.npz")["x"].tolist() == [0, 1, 2, 3, 4]


@dataclass(frozen=True)
class Toy:
    """A toy study config."""

    seed: int = 0
    """One seed drives every random choice."""
    epochs: int = 8
    """Training epochs."""
    names: tuple[str, ...] = ("a", "b")
    """Some names."""


PRESETS = {"full": {}, "quick": {"epochs": 1}}


def test_field_docs_and_presets() -> None:
    assert field_docs(Toy) == {
        "seed": "One seed drives every random choice.",
        "epochs": "Training epochs.",
        "names": "Some names.",
    }
    assert resolve(Toy, PRESETS, "quick").epochs == 1
    assert resolve(Toy, PRESETS, "quick", {"epochs": 3}).epochs == 3
    with pytest.raises(DenselabError, match="unknown preset"):
        resolve(Toy, PRESETS, "bogus")


def test_every_study_config_documents_every_field() -> None:
    import dataclasses

    from denselab.registry import REGISTRY

    for name, study in REGISTRY.items():
        docs = field_docs(study.config_class)
        missing = [f.name for f in dataclasses.fields(study.config_class) if not docs.get(f.name)]
        assert not missing, f"{name}.Config fields without a docstring: {missing}"
        assert set(study.presets) == {"quick", "full"}
        for preset in study.presets:
            study.config(preset)  # presets name real fields and pass the study's validate


def test_out_dir_resume_and_conflict(tmp_path: Path) -> None:
    rt = Runtime()
    rec = run_record("toy", Toy(), rt, "full")
    out = prepare_out_dir(tmp_path / "o", rec)
    cfg = read_json(out / "config.json")
    assert cfg["config"] == {"seed": 0, "epochs": 8, "names": ["a", "b"]}
    assert cfg["seed"] == 0 and cfg["torch_version"] and cfg["denselab_version"] and "git_commit" in cfg
    assert not is_complete(out, rec)
    write_json(out / "summary.json", {"ok": True})
    assert is_complete(out, rec)
    prepare_out_dir(out, rec)  # same config: fine
    other = run_record("toy", Toy(epochs=2), rt, "full")
    assert not is_complete(out, other)
    with pytest.raises(DenselabError, match="different config .*epochs: 8 -> 2.*--force"):
        prepare_out_dir(out, other)
    prepare_out_dir(out, other, force=True)
    assert read_json(out / "config.json")["config"]["epochs"] == 2
    with pytest.raises(DenselabError, match="holds results of `denselab toy`"):
        prepare_out_dir(out, run_record("other", Toy(), rt, "full"))


def test_json_roundtrip_is_what_a_file_reads_back(tmp_path: Path) -> None:
    from denselab.io import json_roundtrip

    value = {"a": (1, 2), "b": math.nan, "c": {"d": (np.float32(0.5),)}, 3: "x"}
    assert json_roundtrip(value) == {"a": [1, 2], "b": None, "c": {"d": [0.5]}, "3": "x"}
    assert json_roundtrip(value) == read_json(write_json(tmp_path / "v.json", value))


@pytest.mark.parametrize(
    "ckpt",
    [
        {"format": "denselab-mnist", "version": 1},  # current header (mnist always wrote it)
        {"format": "denselab-denoiser", "version": 1},  # current header
    ],
)
def test_model_header_accepts_current_headers(ckpt: dict) -> None:
    from denselab.io import check_model_header, model_header

    kind = "mnist" if "mnist" in str(ckpt) else "denoiser"
    assert model_header(kind, 1) == {"format": f"denselab-{kind}", "version": 1}
    check_model_header(ckpt, kind, 1, "m.pt")  # no error


@pytest.mark.parametrize(
    "ckpt, match",
    [
        (
            "not a dict",
            r"^m\.pt is not a denselab denoiser model file \(train one with `denselab denoise train`\)$",
        ),
        ({"format": "other"}, "is not a denselab denoiser model file"),
        ({"kind": "somebody-else", "format": 1}, "is not a denselab denoiser model file"),
        ({"format": "denselab-mnist", "version": 1}, "is a denselab mnist model, not a denoiser model"),
        ({"format": "denselab-denoiser"}, "no readable model version"),
        (
            {"format": "denselab-denoiser", "version": 3, "denselab_version": "9.9.9"},
            r"written by denselab 9\.9\.9 as denoiser model version 3; "
            r"this denselab .* reads version 2: upgrade",
        ),
        (
            {"kind": "denselab-denoiser", "format": 1},
            r"^m\.pt was written by an older denselab; this denselab .* reads denoiser model version 2: "
            r"retrain it with `denselab denoise train`$",
        ),
        (
            {"format": "denselab-denoiser", "version": 1},
            r"denoiser model version 1; .* reads version 2: retrain it with `denselab denoise train`",
        ),
    ],
)
def test_model_header_refusals_are_one_clear_line(ckpt, match: str) -> None:
    from denselab.io import check_model_header

    with pytest.raises(DenselabError, match=match) as e:
        check_model_header(ckpt, "denoiser", 2, "m.pt", command="denoise train")
    assert "\n" not in str(e.value)


def test_last_finite_skips_what_follows_a_divergence() -> None:
    from denselab.io import finite, last_finite

    assert last_finite([0.5, 0.7, None, math.nan]) == 0.7
    assert last_finite([None, math.inf]) is None and last_finite([]) is None
    assert last_finite(0.25) == 0.25 and last_finite(math.nan) is None and last_finite(None) is None
    assert last_finite((1, 2)) == 2 and last_finite([True]) is None
    assert finite(3) and not finite(True) and not finite("1") and not finite(math.inf)


def test_default_out_is_one_folder_name_per_command() -> None:
    from denselab.config import default_out

    path = Path(default_out("denoise train"))
    assert path.parent == Path("runs") and path.name.startswith("denoise-train-") and " " not in path.name
