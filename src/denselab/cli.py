"""The `denselab` command line. Study options are generated from each study's `Config` dataclass: every
field becomes `--field-name`, typed from its annotation, documented by its docstring, defaulted by the
chosen `--preset`."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from denselab import __version__
from denselab.config import (
    EXECUTORS,
    PRESET_NAMES,
    Runtime,
    check_runtime,
    default_data_dir,
    default_out,
    field_docs,
)
from denselab.errors import DenselabError, RunsFailed
from denselab.lock import out_lock
from denselab.pipeline import run_study
from denselab.registry import REGISTRY, Study

# fields that the shared options already cover
_SHARED_FIELDS = {"seed"}


class _Parser(argparse.ArgumentParser):
    """argparse with the contract's error format: one `denselab: error:` line, exit 2, no usage dump."""

    def error(self, message: str) -> typing.NoReturn:  # type: ignore[override]
        self.exit(2, f"denselab: error: {message} (see `{self.prog} --help`)\n")


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


_SCALARS: dict[Any, Callable[[str], Any]] = {int: _int, float: _float, str: str, bool: _parse_bool}


def _option_spec(tp: Any) -> dict[str, Any]:
    """argparse keyword arguments for a field annotation (int, float, str, bool, Literal, Optional, tuples)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _option_spec(args[0])
    if origin is Literal:
        choices = typing.get_args(tp)
        return {"type": type(choices[0]), "choices": choices}
    if origin in (tuple, list):
        inner = typing.get_args(tp)[0]
        spec = _option_spec(inner)
        return {**spec, "nargs": "+"}
    if tp is bool:
        return {"action": argparse.BooleanOptionalAction}
    if tp in _SCALARS:
        return {"type": _SCALARS[tp], "metavar": {int: "N", float: "X", str: "TEXT"}[tp]}
    raise TypeError(f"no CLI mapping for annotation {tp!r}")


def _fmt(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value)) if value else "none"
    return "none" if value is None else str(value)


def add_config_options(parser: argparse.ArgumentParser, config_cls: type, presets: dict[str, dict]) -> None:
    """One `--field-name` per dataclass field; help = the field's docstring plus its value per preset."""
    docs = field_docs(config_cls)
    hints = typing.get_type_hints(config_cls)
    group = parser.add_argument_group(f"{parser.prog.split()[-1]} settings (default: the --preset's value)")
    for f in dataclasses.fields(config_cls):
        if f.name in _SHARED_FIELDS:
            continue
        spec = _option_spec(hints[f.name])
        values = {p: presets[p].get(f.name, f.default) for p in presets}
        per_preset = ", ".join(f"{p}: {_fmt(v)}" for p, v in values.items())
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f"cfg.{f.name}",
            default=argparse.SUPPRESS,
            help=f"{docs.get(f.name, '')} [{per_preset}]".replace("%", "%%"),
            **spec,
        )


def add_shared_options(
    parser: argparse.ArgumentParser, command: str, study: bool = True, files: bool = True
) -> None:
    """The options every study command takes (CONTRACT.md), plus --force and --debug.

    `study=False` drops --preset/--seed/--force; `files=False` (apply, eval) also drops --out/--data-dir."""
    g = parser.add_argument_group("shared options")
    if files:
        g.add_argument(
            "--out",
            metavar="DIR",
            help=f"where everything this command writes goes "
            f"[default: runs/{command.replace(' ', '-')}-<YYYYmmdd-HHMMSS>]",
        )
    if study:
        g.add_argument(
            "--preset",
            choices=PRESET_NAMES,
            default="full",
            help="full = the assignment's settings; quick = a minutes-long smoke run of the same code "
            "[default: full]",
        )
        g.add_argument(
            "--seed",
            type=_int,
            default=0,
            metavar="N",
            help="one seed drives every random choice (init, data order, subsets) [default: 0]",
        )
    g.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to train: auto picks CUDA when present [default: auto]",
    )
    if files:
        g.add_argument(
            "--data-dir",
            metavar="DIR",
            default=None,
            help="folder holding mnist/ and speech/ [default: $DENSELAB_DATA, else ./data]",
        )
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    if study:
        g.add_argument(
            "--force",
            action="store_true",
            help="reuse --out even if it holds results of a different config (they are overwritten)",
        )
    g.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Where the independent training jobs of optim and dropout run. Runtime options, not config: a folder
    started with one executor resumes with the other, and neither changes which results --out holds."""
    g = parser.add_argument_group("where the training jobs run (optim, dropout; not part of the config)")
    g.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local = in this process, one batched group of runs after another; ray = groups cut so "
        "that every slot of a Ray cluster (its CPUs / --threads-per-job) gets one, each group a "
        "Ray task, many at once (needs `pip install 'denselab[ray]'`) [default: local]",
    )
    g.add_argument(
        "--ray-address",
        metavar="ADDR",
        default=None,
        help="with --executor ray: HOST:PORT of a Ray head to join, or `auto` for the cluster this "
        "machine belongs to (`ray start --head` / `ray start --address ...`) [default: start a "
        "Ray on this machine, for this command only, bound to 127.0.0.1]",
    )
    g.add_argument(
        "--threads-per-job",
        type=_int,
        metavar="N",
        default=None,
        help="torch threads per training job [default: local: all of this machine's cores "
        "(torch's default); ray: 1]. Why 1 on Ray: these nets are small, "
        "so jobs side by side, one per core, finish far sooner than one job spread over many "
        "threads, and a job's numbers do not depend on how many cores the cluster has. The thread "
        "count changes the order of float sums in matrix products, hence the last digits of a "
        "run's numbers; with the same count both executors write identical run files",
    )


def _runtime(args: argparse.Namespace) -> Runtime:
    from denselab.training import resolve_device

    executor = getattr(args, "executor", "local")
    # optim/dropout on Ray with --device cuda: the tasks run on the cluster's GPUs; this machine needs none
    remote_gpu = (
        executor == "ray"
        and args.device == "cuda"
        and REGISTRY.get(getattr(args, "study", ""), None) is not None
        and REGISTRY[args.study].jobs
    )
    runtime = Runtime(
        device="cuda" if remote_gpu else resolve_device(args.device),
        data_dir=args.data_dir or default_data_dir(),
        quiet=args.quiet,
        executor=executor,
        ray_address=getattr(args, "ray_address", None),
        threads_per_job=getattr(args, "threads_per_job", None),
    )
    check_runtime(runtime)
    return runtime


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    values = {
        k[4:]: (tuple(v) if isinstance(v, list) else v) for k, v in vars(args).items() if k.startswith("cfg.")
    }
    if getattr(args, "seed", None) is not None:
        values["seed"] = args.seed
    return values


def _cmd_study(args: argparse.Namespace) -> int:
    out = args.out or default_out(args.command_name)
    summary = run_study(args.study, args.preset, _overrides(args), out, _runtime(args), args.force)
    _print_done(out, summary)
    return 0


def _print_done(out: str | os.PathLike, summary: dict) -> None:
    keys = [k for k in ("test_accuracy", "validation_snr_db", "epochs", "train_seconds") if k in summary]
    facts = ", ".join(
        f"{k} = {summary[k]:.4g}" if isinstance(summary[k], float) else f"{k} = {summary[k]}" for k in keys
    )
    print(f"denselab: done{': ' + facts if facts else ''}. Results in {out}")


def _cmd_all(args: argparse.Namespace) -> int:
    from denselab.pipeline import run_all

    out = args.out or default_out("all")
    _, skipped = run_all(out, args.preset, args.seed, _runtime(args), force=args.force)
    for line in skipped:
        print(f"denselab all: {line}", file=sys.stderr)
    print(f"denselab: done. Report: {Path(out) / 'report.html'}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from denselab.report import build_report

    with out_lock(args.dir, "report", create=False):
        paths = build_report(args.dir, quiet=args.quiet)
    print(f"denselab: report written: {', '.join(map(str, paths))}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from denselab.bench import run_bench

    out = args.out or default_out("bench")
    runtime = _runtime(args)
    with out_lock(out, "bench"):
        run_bench(out, runtime, suite=args.suite, seed=args.seed)
    print(f"denselab: bench results in {Path(out) / 'bench.json'}")
    return 0


def _cmd_denoise_apply(args: argparse.Namespace) -> int:
    if (args.output is None) == (args.out_dir is None):
        raise DenselabError("give exactly one of -o OUT.wav (one input) or --out-dir DIR")
    if args.output is not None and len(args.inputs) != 1:
        raise DenselabError("-o OUT.wav takes one input file; use --out-dir DIR for several")
    from denselab.studies.denoise_model import apply_files
    from denselab.training import resolve_device

    written = apply_files(
        args.model,
        args.inputs,
        output=args.output,
        out_dir=args.out_dir,
        device=resolve_device(args.device),
        quiet=args.quiet,
    )
    for path in written:
        print(path)
    return 0


def _cmd_denoise_eval(args: argparse.Namespace) -> int:
    import json

    from denselab.studies.denoise_model import evaluate_files
    from denselab.training import resolve_device

    if (args.noisy is None) != (args.clean is None):
        raise DenselabError(
            "give both --noisy X.wav and --clean S.wav (one recording), or neither (a folder of "
            "clean speech mixed with noise: --speech DIR, --noise WAV)"
        )
    if args.noisy is not None:
        result = evaluate_files(args.model, args.noisy, args.clean, device=resolve_device(args.device))
    else:
        from denselab.studies.denoise_eval import evaluate_folder

        data_dir = args.data_dir or default_data_dir()
        speech = args.speech or Path(data_dir) / "speech" / "unseen"
        result = evaluate_folder(
            args.model,
            speech,
            args.noise,
            data_dir,
            seed=args.seed,
            snrs=tuple(args.snrs),
            device=resolve_device(args.device),
        )
    from denselab.io import to_jsonable

    print(json.dumps(to_jsonable(result), allow_nan=False))
    return 0


DENOISE_HELP = "Study 2: speech denoising with a fully connected net on STFT magnitudes"


def _add_study_parser(sub, study: Study) -> argparse.ArgumentParser:
    p = sub.add_parser(study.command.split()[-1], help=study.help, description=study.help)
    add_shared_options(p, study.command)
    if study.jobs:
        add_executor_options(p)
    add_config_options(p, study.config_class, study.presets)
    p.set_defaults(handler=_cmd_study, study=study.name, command_name=study.command)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="denselab",
        description=(
            "Four studies of fully connected networks (Deep Learning Systems, Homework 1), ending in one report. "
            "Start with `denselab all --preset quick --out runs/q`."
        ),
    )
    parser.add_argument("--version", action="version", version=f"denselab {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser, required=True)

    _add_study_parser(sub, REGISTRY["mnist"])

    dn = sub.add_parser("denoise", help=DENOISE_HELP, description=DENOISE_HELP)
    dsub = dn.add_subparsers(title="denoise commands", metavar="ACTION", parser_class=_Parser, required=True)
    _add_study_parser(dsub, REGISTRY["denoise"])
    ap = dsub.add_parser(
        "apply",
        help="denoise WAV files with a trained model.pt",
        description="Denoise any WAV (any length and sample rate; stereo is down-mixed) with a "
        "trained model; the output keeps the input's sample rate and length.",
    )
    ap.add_argument(
        "--model", required=True, metavar="PT", help="model.pt written by `denselab denoise train`"
    )
    ap.add_argument("inputs", nargs="+", metavar="IN.wav", help="noisy WAV file(s) to denoise")
    ap.add_argument("-o", "--output", metavar="OUT.wav", help="output file (one input only)")
    ap.add_argument("--out-dir", metavar="DIR", help="write <stem>_denoised.wav for each input here")
    add_shared_options(ap, "denoise apply", study=False, files=False)
    ap.set_defaults(handler=_cmd_denoise_apply, command_name="denoise apply")
    ev = dsub.add_parser(
        "eval",
        help="score a model: on one noisy/clean pair, or on a folder of clean speech mixed "
        "with noise at 0, 5 and 10 dB (JSON on stdout)",
        description="With --noisy X --clean S: denoise X and print one JSON object "
        '{"snr_db", "input_snr_db", "gain_db", "si_sdr_db", "input_si_sdr_db", "stoi", '
        '"input_stoi", "pesq", "input_pesq"}. Without them: mix every clean file of '
        "--speech with an excerpt of the noise (seeded offsets) at each --snrs value, "
        "denoise, and print per file, per speaker and per input SNR the output SNR, "
        "gain, SI-SDR, STOI, PESQ and the oracle's gain, plus how much of the clean "
        "files themselves the model leaves alone (passthrough).",
    )
    ev.add_argument(
        "--model", required=True, metavar="PT", help="model.pt written by `denselab denoise train`"
    )
    ev.add_argument("--noisy", metavar="X.wav", help="noisy recording (with --clean)")
    ev.add_argument("--clean", metavar="S.wav", help="clean reference of the same recording (with --noisy)")
    ev.add_argument(
        "--speech",
        metavar="DIR",
        help="folder of clean speech files (<speaker>_<name>.wav) [default: <data-dir>/speech/unseen]",
    )
    ev.add_argument(
        "--noise",
        metavar="WAV",
        help="noise-only recording [default: the training pair's noise, "
        "train_dirty_male.wav - train_clean_male.wav of <data-dir>/speech]",
    )
    ev.add_argument(
        "--snrs",
        type=float,
        nargs="+",
        default=[0.0, 5.0, 10.0],
        metavar="DB",
        help="input SNRs to mix at [default: 0 5 10]",
    )
    ev.add_argument(
        "--seed", type=_int, default=0, metavar="N", help="seed of the noise offsets [default: 0]"
    )
    ev.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder holding speech/ [default: $DENSELAB_DATA, else ./data]",
    )
    add_shared_options(ev, "denoise eval", study=False, files=False)
    ev.set_defaults(handler=_cmd_denoise_eval, command_name="denoise eval")

    _add_study_parser(sub, REGISTRY["optim"])
    _add_study_parser(sub, REGISTRY["dropout"])

    al = sub.add_parser(
        "all",
        help="run the four studies, then build the report",
        description="Run the four studies into OUT/mnist, OUT/denoise, OUT/optim, OUT/dropout "
        "(studies already complete there are skipped), then write OUT/report.ipynb "
        "and OUT/report.html.",
    )
    add_shared_options(al, "all")
    add_executor_options(al)
    al.set_defaults(handler=_cmd_all, command_name="all")

    rp = sub.add_parser(
        "report",
        help="(re)build the report from results already in DIR; trains nothing",
        description="Build DIR/report.ipynb (executed) and the self-contained DIR/report.html "
        "from the study results in DIR/mnist, DIR/denoise, DIR/optim, DIR/dropout.",
    )
    rp.add_argument("dir", metavar="DIR", help="a folder written by `denselab all`")
    rp.add_argument("--quiet", action="store_true", help="no progress output")
    rp.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    rp.set_defaults(handler=_cmd_report, command_name="report")

    be = sub.add_parser(
        "bench",
        help="measure SGEMM peak, training FLOP/s, time to 98.5%%, denoiser speed",
        description="Write OUT/bench.json and print a table of this machine's training speed.",
    )
    be.add_argument("--suite", action="store_true", help="also time each study's full preset (long)")
    be.add_argument("--seed", type=_int, default=0, metavar="N", help="seed for the timed runs [default: 0]")
    add_shared_options(be, "bench", study=False)
    be.set_defaults(handler=_cmd_bench, command_name="bench")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    # SIGTERM behaves like Ctrl-C: finished work is already on disk, partial work is redone on resume.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return int(args.handler(args) or 0)
    except DenselabError as e:
        if debug:
            raise
        print(f"denselab: error: {e}", file=sys.stderr)
        return 2
    except RunsFailed as e:
        print(f"denselab: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        out = getattr(args, "out", None)
        hint = (
            f"run the same command again with --out {out} to resume"
            if out
            else "run the same command again with the same --out to resume"
        )
        print(f"\ndenselab: interrupted; finished work is saved: {hint}", file=sys.stderr)
        return 130
    except Exception as e:  # an internal failure, not the user's fault
        if debug:
            raise
        print(
            f"denselab: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
