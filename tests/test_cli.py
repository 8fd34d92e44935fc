"""The command line: --help everywhere, the error format, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from denselab.cli import main

COMMANDS = [["mnist"], ["denoise", "train"], ["denoise", "apply"], ["denoise", "eval"], ["optim"], ["dropout"],
            ["all"], ["report"], ["bench"]]
STUDY_COMMANDS = [["mnist"], ["denoise", "train"], ["optim"], ["dropout"], ["all"]]
SHARED = ["--out", "--preset", "--seed", "--device", "--data-dir", "--quiet"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "denselab", *args], capture_output=True, text=True, timeout=120)


def test_top_level_help_lists_every_command() -> None:
    r = _run("--help")
    assert r.returncode == 0
    for cmd in ("mnist", "denoise", "optim", "dropout", "all", "report", "bench"):
        assert cmd in r.stdout


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_help_for_each_command(cmd: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: denselab " + " ".join(cmd))
    if cmd in STUDY_COMMANDS:
        for opt in SHARED:
            assert opt in text, f"{cmd}: {opt} missing from --help"


def test_bad_preset_is_one_line_exit_2() -> None:
    r = _run("mnist", "--preset", "bogus")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("denselab: error:") and "bogus" in lines[0]
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args, needle", [
    (["optim", "--seed", "x"], "expected an integer"),
    (["nonsense"], "invalid choice"),
    (["mnist", "--device", "tpu"], "invalid choice"),
    (["denoise"], "required"),
    (["denoise", "apply", "--model", "m.pt", "a.wav"], "give exactly one of"),
])
def test_usage_errors(args: list[str], needle: str, capsys: pytest.CaptureFixture) -> None:
    try:
        code = main(args)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("denselab: error:") and needle in err[0]


def test_generated_options_come_from_the_config() -> None:
    import dataclasses

    from denselab.cli import build_parser
    from denselab.studies import load_study

    parser = build_parser()
    module = load_study("optim") or load_study("mnist") or load_study("dropout")
    if module is None:
        pytest.skip("no study built")
    text = subprocess.run([sys.executable, "-m", "denselab", module.__name__.rsplit(".", 1)[-1], "--help"],
                          capture_output=True, text=True).stdout
    for f in dataclasses.fields(module.Config):
        if f.name != "seed":
            assert "--" + f.name.replace("_", "-") in text
    assert parser.prog == "denselab"
