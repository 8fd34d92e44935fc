"""The study registry and `run_study`: one map from study to command, every config validated before --out
is touched (so the corrected command needs no --force)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import TINY

from denselab.cli import main
from denselab.config import PRESET_NAMES
from denselab.io import read_json
from denselab.registry import REGISTRY


def test_registry_names_every_study_once() -> None:
    assert tuple(REGISTRY) == ("mnist", "denoise", "optim", "dropout") == tuple(TINY)
    assert [s.command for s in REGISTRY.values()] == ["mnist", "denoise train", "optim", "dropout"]
    for study in REGISTRY.values():
        assert study.module.__name__.startswith("denselab.studies.")
        assert study.module.__name__.rsplit(".", 1)[1] == study.name
        assert set(study.presets) == set(PRESET_NAMES)
        for fn in ("validate", "check_inputs", "run"):
            assert callable(getattr(study.module, fn, None)), f"{study.name} has no {fn}"
        fields = {f.name for f in dataclasses.fields(study.config_class)}
        assert set(TINY[study.name]) <= fields, f"TINY[{study.name!r}] names fields {study.name}.Config lacks"


@pytest.mark.parametrize(
    "cmd, bad",
    [
        (["mnist"], ["--epochs", "0"]),
        (["denoise", "train"], ["--hidden", "64"]),
        (["optim"], ["--epochs", "0"]),
        (["dropout"], ["--epochs", "0"]),
    ],
    ids=lambda v: " ".join(v),
)
def test_bad_value_fails_before_out_is_touched(
    tmp_path: Path, capsys, cmd: list[str], bad: list[str]
) -> None:
    out = tmp_path / "x"
    assert main([*cmd, "--preset", "quick", *bad, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("denselab: error: --")
    assert not out.exists()


def test_corrected_command_runs_without_force(tmp_path: Path, data_dir: Path, tiny_args, capsys) -> None:
    """A typo'd run must not write config.json, else the fix is refused as 'a different config'."""
    out = tmp_path / "x"
    assert main(["mnist", "--epochs", "0", "--out", str(out), "--data-dir", str(data_dir), "--quiet"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
    assert (
        main(
            [
                "mnist",
                *tiny_args("mnist", tsne_iterations=250),
                "--out",
                str(out),
                "--data-dir",
                str(data_dir),
                "--quiet",
            ]
        )
        == 0
    )
    assert read_json(out / "config.json")["config"]["epochs"] == 1
    assert (out / "summary.json").is_file()
