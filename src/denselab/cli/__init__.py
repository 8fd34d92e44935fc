"""The `denselab` command line. Study options are generated from each study's `Config` dataclass
(`options.py`); what each command does is in `commands.py`."""

from __future__ import annotations

import argparse
import signal
import sys

from denselab.cli import commands
from denselab.cli.options import (
    Parser,
    add_config_options,
    add_executor_options,
    add_shared_options,
    parse_int,
    preset_help,
)
from denselab.errors import DenselabError, RunsFailed
from denselab.registry import REGISTRY, Study
from denselab.version import __version__

BENCH_PRESETS = {
    "full": "5 timed windows per study on the full presets' nets and data, and MNIST's full run to 98.5 %",
    "quick": "a minutes-long smoke run of the same measurements on the studies' quick presets",
}
DENOISE_HELP = "Study 2: speech denoising with a fully connected net on STFT magnitudes"
EVAL_DESCRIPTION = (
    "With --noisy X --clean S: denoise X and print one JSON object "
    '{"snr_db", "input_snr_db", "gain_db", "si_sdr_db", "input_si_sdr_db", "stoi", "input_stoi"} '
    '(plus "pesq", "input_pesq" where PESQ is installed: pip install \'denselab[pesq]\'). Without them: mix '
    "every clean file of --speech with an excerpt of the noise (seeded offsets) at each --snrs value, "
    "denoise, and print per file, per speaker and per input SNR the output SNR, gain, SI-SDR, STOI, PESQ "
    "and the oracle's gain, plus how much of the clean files themselves the model leaves alone (passthrough)."
)


def add_study_parser(sub: argparse._SubParsersAction, study: Study) -> argparse.ArgumentParser:
    p = sub.add_parser(study.command.split()[-1], help=study.help, description=study.help)
    add_shared_options(p, study.command, preset_lines=getattr(study.module, "PRESET_HELP", None))
    if study.jobs:
        add_executor_options(p)
    add_config_options(p, study.config_class, study.presets)
    p.set_defaults(handler=commands.cmd_study, study=study.name, command_name=study.command)
    return p


def add_apply_parser(dsub: argparse._SubParsersAction) -> None:
    ap = dsub.add_parser(
        "apply",
        help="denoise WAV files with a trained model.pt",
        description="Denoise any WAV (any length and sample rate; stereo is down-mixed) with a trained "
        "model; the output keeps the input's sample rate and length. Every input is checked before "
        "anything is written.",
    )
    ap.add_argument(
        "--model", required=True, metavar="PT", help="model.pt written by `denselab denoise train`"
    )
    ap.add_argument("inputs", nargs="+", metavar="IN.wav", help="noisy WAV file(s) to denoise")
    ap.add_argument("-o", "--output", metavar="WAV", help="output file (one input only)")
    ap.add_argument(
        "--out", "--out-dir", dest="out", metavar="DIR", help="write DIR/<stem>_denoised.wav for each input"
    )
    add_shared_options(ap, "denoise apply", device_help="where to run the model", runs=False, out=False)
    ap.set_defaults(handler=commands.cmd_denoise_apply, command_name="denoise apply")


def add_eval_parser(dsub: argparse._SubParsersAction) -> None:
    ev = dsub.add_parser(
        "eval",
        help="score a model: on one noisy/clean pair, or on a folder of clean speech mixed with noise at "
        "0, 5 and 10 dB (JSON on stdout)",
        description=EVAL_DESCRIPTION,
    )
    ev.add_argument(
        "--model", required=True, metavar="PT", help="model.pt written by `denselab denoise train`"
    )
    ev.add_argument("--noisy", metavar="WAV", help="noisy recording (with --clean)")
    ev.add_argument("--clean", metavar="WAV", help="clean reference of the same recording (with --noisy)")
    ev.add_argument(
        "--speech",
        metavar="DIR",
        help="folder of clean speech files (<speaker>_<name>.wav) [default: <data-dir>/speech/unseen]",
    )
    ev.add_argument(
        "--noise",
        metavar="WAV",
        help="noise-only recording [default: the parts of the training pair's noise (train_dirty_male.wav "
        "- train_clean_male.wav in <data-dir>/speech) that the model never trained on]",
    )
    ev.add_argument(
        "--snrs",
        type=float,
        nargs="+",
        default=[0.0, 5.0, 10.0],
        metavar="DB",
        help="input SNRs [default: 0 5 10]",
    )
    ev.add_argument(
        "--seed", type=parse_int, default=0, metavar="N", help="seed of the noise offsets [default: 0]"
    )
    ev.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="folder holding speech/ [default: $DENSELAB_DATA, else ./data]",
    )
    add_shared_options(ev, "denoise eval", device_help="where to run the model", runs=False, out=False)
    ev.set_defaults(handler=commands.cmd_denoise_eval, command_name="denoise eval")


def add_denoise_parsers(sub: argparse._SubParsersAction) -> None:
    dn = sub.add_parser("denoise", help=DENOISE_HELP, description=DENOISE_HELP)
    dsub = dn.add_subparsers(title="denoise commands", metavar="ACTION", parser_class=Parser, required=True)
    add_study_parser(dsub, REGISTRY["denoise"])
    add_apply_parser(dsub)
    add_eval_parser(dsub)


def add_all_parser(sub: argparse._SubParsersAction) -> None:
    al = sub.add_parser(
        "all",
        help="run the four studies, then build the report",
        description="Run the four studies into OUT/mnist, OUT/denoise, OUT/optim, OUT/dropout (studies "
        "already complete there are reused), then write OUT/report.ipynb and OUT/report.html. A study "
        "whose input files are missing (Study 2 without the speech recordings) is skipped with one line "
        "on stderr and the report says what is missing; the exit status is then still 0.",
    )
    add_shared_options(al, "all", device_help="where to train")
    add_executor_options(al)
    al.set_defaults(handler=commands.cmd_all, command_name="all")


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser(
        "report",
        help="(re)build the report from results already in DIR; trains nothing",
        description="Build DIR/report.ipynb (executed) and the self-contained DIR/report.html from the study "
        "results in DIR: the folder `denselab all` writes, or one study's --out.",
    )
    rp.add_argument("dir", metavar="DIR", help="a folder written by `denselab all` or by one study command")
    rp.add_argument("--quiet", action="store_true", help="no progress output")
    rp.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    rp.set_defaults(handler=commands.cmd_report, command_name="report")


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    be = sub.add_parser(
        "bench",
        help="measure SGEMM peak, training FLOP/s, time to 98.5%%, denoiser speed",
        description="Write OUT/bench.json and print a table of this machine's training speed.",
    )
    be.add_argument("--suite", action="store_true", help="also time each study's full preset (long)")
    be.add_argument(
        "--seed", type=parse_int, default=0, metavar="N", help="seed for the timed runs [default: 0]"
    )
    be.add_argument("--preset", choices=("quick", "full"), default="full", help=preset_help(BENCH_PRESETS))
    be.add_argument(
        "--denoise-model",
        metavar="PT",
        help="time `denoise apply` with this model.pt [default: train a full-size one for 1 epoch]",
    )
    add_shared_options(be, "bench", device_help="where to measure", runs=False)
    be.set_defaults(handler=commands.cmd_bench, command_name="bench")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="denselab",
        description="Four studies of fully connected networks (Deep Learning Systems, Homework 1), ending "
        "in one report. Start with `denselab all --preset quick --out runs/q`.",
    )
    parser.add_argument("--version", action="version", version=f"denselab {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser, required=True)
    add_study_parser(sub, REGISTRY["mnist"])
    add_denoise_parsers(sub)
    add_study_parser(sub, REGISTRY["optim"])
    add_study_parser(sub, REGISTRY["dropout"])
    add_all_parser(sub)
    add_report_parser(sub)
    add_bench_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already printed: its exit status
        return e.code if isinstance(e.code, int) else 2
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
        print(
            f"\ndenselab: interrupted; finished work is saved: {commands.interrupted_hint(args)}",
            file=sys.stderr,
        )
        return 130
    except Exception as e:  # an internal failure, not the user's fault
        if debug:
            raise
        print(
            f"denselab: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


__all__ = ["build_parser", "main"]
