"""Command-line options generated from the study configs, and the options every command shares
(the contract every command keeps). Every config field becomes `--field-name`, typed from its annotation,
documented by its docstring and defaulted by the chosen `--preset`."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal

from denselab.config import EXECUTORS, PRESET_NAMES, field_docs

# fields that the shared options already cover
SHARED_FIELDS = {"seed"}
# what a text field holds, by its name (the metavar --help shows); anything else is TEXT
PATH_METAVARS = {"mnist_dir": "DIR", "unseen": "DIR", "clean": "WAV", "noisy": "WAV", "test": "WAV"}


class Parser(argparse.ArgumentParser):
    """argparse with the contract's error format (one `denselab: error:` line, exit 2, no usage dump) and
    no abbreviated options (`--hidden-w` is an error, not `--hidden-width`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> typing.NoReturn:  # type: ignore[override]
        self.exit(2, f"denselab: error: {message} (see `{self.prog} --help`)\n")


def parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


SCALARS: dict[Any, Callable[[str], Any]] = {int: parse_int, float: parse_float, str: str, bool: parse_bool}
SCALAR_METAVARS = {int: "N", float: "X", str: "TEXT"}


def option_spec(tp: Any, name: str = "") -> dict[str, Any]:
    """argparse keyword arguments for a field annotation (int, float, str, bool, Literal, Optional, tuple)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return option_spec(args[0], name)
    if origin is Literal:
        choices = typing.get_args(tp)
        return {"type": type(choices[0]), "choices": choices}
    if origin in (tuple, list):
        return {**option_spec(typing.get_args(tp)[0], name), "nargs": "+"}
    if tp is bool:
        return {"action": argparse.BooleanOptionalAction}
    if tp in SCALARS:
        return {"type": SCALARS[tp], "metavar": PATH_METAVARS.get(name) or SCALAR_METAVARS[tp]}
    raise TypeError(f"no CLI mapping for annotation {tp!r}")


def show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value)) if value else "none"
    return "none" if value is None else str(value)


def preset_note(values: Mapping[str, Any]) -> str:
    """` [quick: 3, full: 20]`, ` [default: 20]` when the presets agree, and nothing when both leave the
    field unset (its docstring says what happens then)."""
    distinct = {show(v) for v in values.values()}
    if distinct == {"none"}:
        return ""
    if len(distinct) == 1:
        return f" [default: {distinct.pop()}]"
    return " [" + ", ".join(f"{p}: {show(v)}" for p, v in values.items()) + "]"


def add_config_options(parser: argparse.ArgumentParser, config_cls: type, presets: dict[str, dict]) -> None:
    """One `--field-name` per dataclass field; help = the field's docstring plus its value per preset."""
    docs = field_docs(config_cls)
    hints = typing.get_type_hints(config_cls)
    group = parser.add_argument_group(f"{parser.prog.split()[-1]} settings (default: the --preset's value)")
    for f in dataclasses.fields(config_cls):
        if f.name in SHARED_FIELDS:
            continue
        values = {p: presets[p].get(f.name, f.default) for p in PRESET_NAMES}
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f"cfg.{f.name}",
            default=argparse.SUPPRESS,
            help=f"{docs.get(f.name, '')}{preset_note(values)}".replace("%", "%%"),
            **option_spec(hints[f.name], f.name),
        )


def preset_help(preset_help: Mapping[str, str] | None) -> str:
    lines = preset_help or {
        "full": "the assignment's settings",
        "quick": "a minutes-long smoke run of the same code (its numbers are not the assignment's)",
    }
    text = "; ".join(f"{p} = {lines[p]}" for p in ("full", "quick") if p in lines) + " [default: full]"
    return text.replace("%", "%%")


def add_run_options(g: Any, preset_lines: Mapping[str, str] | None) -> None:
    """--preset, --seed, --force: the options of a command that runs studies."""
    g.add_argument("--preset", choices=PRESET_NAMES, default="full", help=preset_help(preset_lines))
    g.add_argument(
        "--seed",
        type=parse_int,
        default=0,
        metavar="N",
        help="one seed drives every random choice (init, data order, subsets) [default: 0]",
    )
    g.add_argument(
        "--force",
        action="store_true",
        help="reuse --out even if it holds results of a different config (they are overwritten)",
    )


def add_shared_options(
    parser: argparse.ArgumentParser,
    command: str,
    *,
    device_help: str = "where to train",
    preset_lines: Mapping[str, str] | None = None,
    runs: bool = True,
    out: bool = True,
) -> None:
    """The options every study command takes (CONTRACT.md), plus --force and --debug.

    `runs=False` drops --preset/--seed/--force; `out=False` drops --out and --data-dir."""
    g = parser.add_argument_group("shared options")
    if out:
        default = f"runs/{command.replace(' ', '-')}-<YYYYmmdd-HHMMSS>"
        g.add_argument(
            "--out", metavar="DIR", help=f"where everything this command writes goes [default: {default}]"
        )
        g.add_argument(
            "--data-dir",
            metavar="DIR",
            default=None,
            help="folder holding mnist/ and speech/ [default: $DENSELAB_DATA, else ./data]",
        )
    if runs:
        add_run_options(g, preset_lines)
    g.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help=f"{device_help}: auto picks CUDA when torch sees a GPU, else the CPU [default: auto]",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bars")
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
        type=parse_int,
        metavar="N",
        default=None,
        help="torch threads per training job [default: local: all of this machine's cores "
        "(torch's default); ray: 1]. Small nets side by side, one per core, finish far sooner than "
        "one job spread over many threads. The thread count changes the order of float sums in "
        "matrix products, hence the last digits of a run's numbers; with the same count both "
        "executors write identical run files",
    )
