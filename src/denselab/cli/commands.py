"""What each command does once its arguments are parsed: one `cmd_*` function per command, each returning
the exit status. The denoiser's apply/eval live in `denselab.studies.denoise.commands`; this module only maps
arguments onto them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from denselab.config import Runtime, check_runtime, default_data_dir, default_out
from denselab.errors import DenselabError
from denselab.io import to_jsonable
from denselab.lock import out_lock
from denselab.pipeline import run_study, write_report
from denselab.registry import REGISTRY


def runtime_of(args: argparse.Namespace) -> Runtime:
    from denselab.training import resolve_device

    executor = getattr(args, "executor", "local")
    study = REGISTRY.get(getattr(args, "study", ""))
    # optim/dropout on Ray with --device cuda: the tasks run on the cluster's GPUs; this machine needs none
    remote_gpu = executor == "ray" and args.device == "cuda" and study is not None and study.jobs
    runtime = Runtime(
        device="cuda" if remote_gpu else resolve_device(args.device),
        data_dir=getattr(args, "data_dir", None) or default_data_dir(),
        quiet=args.quiet,
        executor=executor,
        ray_address=getattr(args, "ray_address", None),
        threads_per_job=getattr(args, "threads_per_job", None),
    )
    check_runtime(runtime)
    return runtime


def overrides_of(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the command line (`cfg.<field>` in the namespace), plus --seed."""
    values = {
        k[4:]: (tuple(v) if isinstance(v, list) else v) for k, v in vars(args).items() if k.startswith("cfg.")
    }
    if getattr(args, "seed", None) is not None:
        values["seed"] = args.seed
    return values


def cmd_study(args: argparse.Namespace) -> int:
    out = args.out or default_out(args.command_name)
    summary = run_study(args.study, args.preset, overrides_of(args), out, runtime_of(args), args.force)
    keys = [k for k in ("test_accuracy", "validation_snr_db", "epochs", "train_seconds") if k in summary]
    facts = ", ".join(
        f"{k} = {summary[k]:.4g}" if isinstance(summary[k], float) else f"{k} = {summary[k]}" for k in keys
    )
    print(f"denselab: done{': ' + facts if facts else ''}. Results in {out}")
    return 0


def cmd_all(args: argparse.Namespace) -> int:
    from denselab.pipeline import run_all

    out = args.out or default_out("all")
    _, skipped = run_all(out, args.preset, args.seed, runtime_of(args), force=args.force)
    for line in skipped:
        print(f"denselab all: {line}", file=sys.stderr)
    print(f"denselab: done. Report: {Path(out) / 'report.html'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    paths = write_report(args.dir, quiet=args.quiet)
    print(f"denselab: report written: {', '.join(map(str, paths))}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from denselab.bench import run_bench

    out = args.out or default_out("bench")
    runtime = runtime_of(args)
    with out_lock(out, "bench"):
        run_bench(
            out,
            runtime,
            suite=args.suite,
            seed=args.seed,
            preset=args.preset,
            denoise_model=args.denoise_model,
        )
    print(f"denselab: bench results in {Path(out) / 'bench.json'}")
    return 0


def cmd_denoise_apply(args: argparse.Namespace) -> int:
    from denselab.studies.denoise.commands import apply_files
    from denselab.training import resolve_device

    if (args.output is None) == (args.out is None):
        raise DenselabError("give exactly one of -o/--output OUT.wav (one input) or --out DIR")
    if args.output is not None and len(args.inputs) != 1:
        raise DenselabError("-o/--output OUT.wav takes one input file; use --out DIR for several")
    written = apply_files(
        args.model,
        args.inputs,
        output=args.output,
        out_dir=args.out,
        device=resolve_device(args.device),
        quiet=args.quiet,
    )
    for path in written:
        print(path)
    return 0


def cmd_denoise_eval(args: argparse.Namespace) -> int:
    from denselab.studies.denoise.commands import evaluate_files, evaluate_folder
    from denselab.training import resolve_device

    if (args.noisy is None) != (args.clean is None):
        raise DenselabError(
            "give both --noisy X.wav and --clean S.wav (one recording), or neither (a folder of "
            "clean speech mixed with noise: --speech DIR, --noise WAV)"
        )
    device = resolve_device(args.device)
    if args.noisy is not None:
        result = evaluate_files(args.model, args.noisy, args.clean, device=device)
    else:
        data_dir = args.data_dir or default_data_dir()
        speech = args.speech or Path(data_dir) / "speech" / "unseen"
        result = evaluate_folder(
            args.model, speech, args.noise, data_dir, seed=args.seed, snrs=tuple(args.snrs), device=device
        )
    print(json.dumps(to_jsonable(result), allow_nan=False))
    return 0


def interrupted_hint(args: argparse.Namespace) -> str:
    out: str | os.PathLike | None = getattr(args, "out", None)
    if out:
        return f"run the same command again with --out {out} to resume"
    return "run the same command again with the same --out to resume"
