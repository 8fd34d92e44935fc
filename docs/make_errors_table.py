"""Regenerate docs/ERRORS.md: run every kind of bad input through the real CLI and record what it says.

    python docs/make_errors_table.py            # writes docs/ERRORS.md next to this file

Each row is produced by calling `denselab.cli.main` on a deliberately broken input built in a temporary
folder, so the table shows the exact message and exit status of the installed code, not a hand-copied one.
Needs no data: the MNIST files are tiny hand-written IDX files and the denoiser is an untrained small model.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from denselab.cli import main
from denselab.data.mnist import write_idx
from denselab.studies.denoise.model import MODEL_VERSION, new_denoiser, save_denoiser

SR = 16_000


def run(argv: list[str]) -> tuple[int, str]:
    """Exit status and the last stderr line of `denselab argv`."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse usage errors
            code = int(e.code or 0)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    return code, (lines[-1] if lines else "")


def mnist_folder(root: Path, name: str, n_train: int = 50, n_test: int = 20) -> Path:
    folder = root / name
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return folder


def speech(n: int) -> np.ndarray:
    t = np.arange(n) / SR
    return (0.05 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def cases(tmp: Path) -> list[tuple[str, str, list[str]]]:
    """(area, what is wrong, argv) for every bad input."""
    torch.manual_seed(0)
    pair = {"clean": None, "noisy": None, "samples": 0, "heldout_end": 0, "validation_start": 0}
    model = save_denoiser(
        tmp / "model.pt", new_denoiser("mask", (32, 32), np.zeros(513), np.ones(513), 1.0, SR), pair
    )
    good = tmp / "in.wav"
    sf.write(good, speech(20_000), SR)
    apply = ["denoise", "apply", "--model", str(model)]
    out_wav = ["-o", str(tmp / "out.wav")]

    (tmp / "text.wav").write_text("this is not a wav file\n")
    sf.write(tmp / "empty.wav", np.zeros(0, np.float32), SR)
    nan = speech(2000)
    nan[100] = np.nan
    sf.write(tmp / "nan.wav", nan, SR, subtype="FLOAT")
    (tmp / "text.pt").write_text("hello")
    torch.save({"weights": torch.zeros(3)}, tmp / "other.pt")
    ckpt = torch.load(model, weights_only=True)
    torch.save({**ckpt, "version": MODEL_VERSION + 1, "denselab_version": "9.9.9"}, tmp / "future.pt")
    torch.save({**ckpt, "version": MODEL_VERSION - 1}, tmp / "older.pt")
    torch.save({"format": "denselab-mnist", "version": 1}, tmp / "mnist.pt")
    sf.write(tmp / "clean.wav", speech(20_000), SR)
    sf.write(tmp / "rate.wav", speech(20_000), 22_050)
    sf.write(tmp / "long.wav", speech(20_600), SR)
    sf.write(tmp / "short.wav", speech(19_900), SR)
    evaluate = ["denoise", "eval", "--model", str(model), "--clean", str(tmp / "clean.wav"), "--noisy"]

    mnist = ["mnist", "--preset", "quick", "--quiet", "--mnist-dir"]
    (tmp / "empty_mnist").mkdir()
    magic = mnist_folder(tmp, "magic")
    (magic / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x12\x34\x08\x03" + bytes(100)))
    truncated = mnist_folder(tmp, "truncated")
    data = gzip.decompress((truncated / "train-images-idx3-ubyte.gz").read_bytes())
    (truncated / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(data[: len(data) // 2]))
    count = mnist_folder(tmp, "count")
    write_idx(count / "train-labels-idx1-ubyte.gz", np.arange(49) % 10)
    labels = mnist_folder(tmp, "labels")
    write_idx(labels / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 12)
    (tmp / "a_file").write_text("x")

    conflict = tmp / "conflict"
    conflict.mkdir()  # as if an earlier run with another config had written it
    (conflict / "config.json").write_text('{"command": "dropout", "config": {"epochs": 99}}')
    (tmp / "norep").mkdir()

    def mout(name: str) -> list[str]:
        return ["--out", str(tmp / f"run_{name}")]

    return [
        ("audio", "input WAV does not exist", apply + [str(tmp / "missing.wav")] + out_wav),
        ("audio", "input is not audio (a text file)", apply + [str(tmp / "text.wav")] + out_wav),
        ("audio", "WAV with no samples", apply + [str(tmp / "empty.wav")] + out_wav),
        ("audio", "WAV holding NaN/Inf samples", apply + [str(tmp / "nan.wav")] + out_wav),
        ("audio", "`apply` with several inputs and `-o`", apply + [str(good), str(good)] + out_wav),
        ("audio", "`apply` with neither `-o` nor `--out`", apply + [str(good)]),
        (
            "model",
            "model file does not exist",
            ["denoise", "apply", "--model", str(tmp / "none.pt"), str(good)] + out_wav,
        ),
        (
            "model",
            "model file is not a torch file",
            ["denoise", "apply", "--model", str(tmp / "text.pt"), str(good)] + out_wav,
        ),
        (
            "model",
            "a torch file that is not a denselab denoiser",
            ["denoise", "apply", "--model", str(tmp / "other.pt"), str(good)] + out_wav,
        ),
        (
            "model",
            "a denselab model of another kind (MNIST)",
            ["denoise", "apply", "--model", str(tmp / "mnist.pt"), str(good)] + out_wav,
        ),
        (
            "model",
            "denoiser from an incompatible denselab version",
            ["denoise", "apply", "--model", str(tmp / "future.pt"), str(good)] + out_wav,
        ),
        (
            "model",
            "denoiser written by an older denselab",
            ["denoise", "apply", "--model", str(tmp / "older.pt"), str(good)] + out_wav,
        ),
        ("pair", "clean and noisy at different sample rates", evaluate + [str(tmp / "rate.wav")]),
        ("pair", "lengths differ by more than one hop (512)", evaluate + [str(tmp / "long.wav")]),
        ("pair", "lengths differ by at most one hop: truncated, exit 0", evaluate + [str(tmp / "short.wav")]),
        (
            "pair",
            "`eval` with `--noisy` but no `--clean`",
            ["denoise", "eval", "--model", str(model), "--noisy", str(good)],
        ),
        (
            "pair",
            "`eval` on a folder of clean speech that does not exist",
            ["denoise", "eval", "--model", str(model), "--speech", str(tmp / "nowhere")],
        ),
        (
            "pair",
            "`eval` on a folder with no audio files",
            ["denoise", "eval", "--model", str(model), "--speech", str(tmp / "norep")],
        ),
        ("MNIST", "folder without the four IDX files", mnist + [str(tmp / "empty_mnist")] + mout("a")),
        ("MNIST", "`--mnist-dir` is a file", mnist + [str(tmp / "a_file")] + mout("b")),
        ("MNIST", "bad magic number", mnist + [str(magic)] + mout("c")),
        ("MNIST", "truncated image file", mnist + [str(truncated)] + mout("d")),
        ("MNIST", "image and label counts differ", mnist + [str(count)] + mout("e")),
        ("MNIST", "labels outside 0..9", mnist + [str(labels)] + mout("f")),
        ("options", "unknown preset", ["mnist", "--preset", "bogus"]),
        ("options", "not a number", ["mnist", "--epochs", "many"]),
        ("options", "unknown option", ["dropout", "--learning-rate", "0.1"]),
        ("options", "value out of range", ["dropout", "--input-dropout", "1.5", "--out", str(tmp / "o1")]),
        ("options", "unknown arm", ["optim", "--arms", "tanh-he", "--out", str(tmp / "o2")]),
        (
            "options",
            "`--threads-per-job` below 1",
            ["optim", "--threads-per-job", "0", "--out", str(tmp / "o3")],
        ),
        (
            "options",
            "`--ray-address` without `--executor ray`",
            ["dropout", "--ray-address", "auto", "--out", str(tmp / "o4")],
        ),
        (
            "options",
            "`--device cuda` on a machine without a GPU",
            ["mnist", "--device", "cuda", "--mnist-dir", str(tmp / "empty_mnist"), "--out", str(tmp / "o3")],
        ),
        (
            "results",
            "`--out` holds results of a different config",
            ["dropout", "--preset", "quick", "--out", str(conflict)],
        ),
        ("results", "`--out` is a file", ["dropout", "--preset", "quick", "--out", str(tmp / "a_file")]),
        ("results", "`report` on a missing folder", ["report", str(tmp / "nowhere")]),
        ("results", "`report` on a folder without results", ["report", str(tmp / "norep")]),
    ]


def table_rows(verbose: bool = False) -> list[str]:
    """The markdown rows of the table, one per bad input, from running each case now."""
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for area, what, argv in cases(tmp):
            code, line = run(argv)
            line = line.replace(str(tmp), "…")  # temp paths mean nothing to a reader
            line = re.sub(r"\s+", " ", line).replace("|", "\\|")
            rows.append(f"| {area} | {what} | {code} | `{line}` |")
            if verbose:
                print(f"{code}  {what}: {line}", file=sys.stderr)
    return rows


def main_() -> None:
    rows = table_rows(verbose=True)
    doc = Path(__file__).with_name("ERRORS.md")
    doc.write_text(
        "# Bad input and what denselab says\n\n"
        "Every row was produced by running the command on a deliberately broken input "
        "(`python docs/make_errors_table.py` regenerates this file; paths under its temporary folder are "
        "shown as `…`). Bad input always gets one `denselab: error:` line and exit status 2, never a "
        "traceback (`--debug` shows one); nothing already written under `--out` is touched. An internal "
        "failure exits 1; Ctrl-C (or SIGTERM) exits 130 with `denselab: interrupted; finished work is saved: "
        "run the same command again with --out OUT to resume`.\n\n"
        "| area | bad input | exit | message |\n|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    print(f"wrote {doc}", file=sys.stderr)


if __name__ == "__main__":
    main_()
