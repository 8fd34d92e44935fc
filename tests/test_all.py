"""The headline paths, run as a user runs them (`cli.main`): `denselab all` with and without the speech
recordings, a study that fails on bad input, and `denselab report DIR` on the folder `all` writes and on
one study's folder. They read the session's one tiny `denselab all` run (`tiny_run`) or copy it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import run_cli, tiny_presets

from denselab.errors import DenselabError
from denselab.io import read_json
from denselab.registry import REGISTRY

STUDIES = tuple(REGISTRY)


def _copy_studies(run: Path, to: Path, names: tuple[str, ...]) -> None:
    to.mkdir(parents=True)
    for name in names:
        shutil.copytree(run / name, to / name)


def test_all_writes_every_study_and_the_report(tiny_run: Path) -> None:
    for name in STUDIES:
        summary = read_json(tiny_run / name / "summary.json")
        config = read_json(tiny_run / name / "config.json")
        assert config["command"] == REGISTRY[name].command and config["preset"] == "quick"
        assert read_json(tiny_run / name / "sources.json")["functions"], name
        assert not summary.get("failed_runs")
    html = (tiny_run / "report.html").read_text(encoding="utf-8")
    for problem in ("Problem 1", "Problem 2", "Problem 3", "Problem 4"):
        assert problem in html
    assert (tiny_run / "report.ipynb").stat().st_size > 0
    assert not (tiny_run / ".denselab.lock").exists()


def test_all_without_the_speech_recordings_still_ends_in_a_report(
    tmp_path: Path, tiny_run: Path, mnist_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "mnist").symlink_to(mnist_dir)
    out = tmp_path / "run"
    _copy_studies(tiny_run, out, ("mnist", "optim", "dropout"))  # same settings: reused, not retrained
    with tiny_presets():
        status = run_cli("all", "--preset", "quick", "--out", out, "--data-dir", data, "--quiet")
    err = capsys.readouterr().err
    assert status == 0, err
    skipped = [line for line in err.splitlines() if "denoise skipped" in line]
    assert len(skipped) == 1 and "train_clean_male.wav" in skipped[0], err
    assert not (out / "denoise").exists()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "train_clean_male.wav" in html and "speech" in html


def test_a_study_failing_on_bad_input_fails_all_after_the_report(
    tmp_path: Path, tiny_run: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    out = tmp_path / "run"
    _copy_studies(tiny_run, out, ("mnist", "denoise", "optim"))

    def broken(config, out_dir, runtime):
        raise DenselabError("the dropout study met a bad input")

    monkeypatch.setattr(REGISTRY["dropout"].module, "run", broken)
    with tiny_presets(
        denoise={"unseen": read_json(tiny_run / "denoise" / "config.json")["config"]["unseen"]}
    ):
        status = run_cli("all", "--preset", "quick", "--out", out, "--data-dir", data_dir, "--quiet")
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err[-1].startswith("denselab: error: report built without dropout: the dropout study met")
    assert (out / "report.html").is_file() and not (out / "dropout").exists()


def test_report_rebuilds_from_the_folder_all_writes(tmp_path: Path, tiny_run: Path, capsys) -> None:
    out = tmp_path / "run"
    _copy_studies(tiny_run, out, STUDIES)
    assert run_cli("report", out, "--quiet") == 0
    assert "report written" in capsys.readouterr().out
    html = (out / "report.html").read_text(encoding="utf-8")
    assert all(p in html for p in ("Problem 1", "Problem 2", "Problem 3", "Problem 4"))


@pytest.mark.parametrize("name", ["mnist", "dropout"])
def test_report_of_one_study_folder(tmp_path: Path, tiny_run: Path, name: str) -> None:
    folder = tmp_path / name
    shutil.copytree(tiny_run / name, folder)
    assert run_cli("report", folder, "--quiet") == 0
    assert (folder / "report.html").stat().st_size > 0


def test_report_of_a_folder_without_results_is_one_clear_line(tmp_path: Path, capsys) -> None:
    assert run_cli("report", tmp_path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("denselab: error:")
    assert not (tmp_path / "report.html").exists()
