"""Numbers and words for the report's prose: formatting only, no judgement (verdicts come from summary.json)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

ACTIVATION_NAMES = {"sigmoid": "sigmoid", "relu": "ReLU", "tanh": "tanh"}
INIT_NAMES = {"normal": "N(0, 0.01²)", "xavier": "Xavier", "he": "He"}
OPTIMIZER_NAMES = {"sgd": "plain SGD", "adam": "Adam", "adamw": "AdamW"}

# The papers the Problem 3/4 expectations come from (cited where the report states what theory predicts).
GLOROT = "Glorot & Bengio (2010), *Understanding the difficulty of training deep feedforward neural networks*"
HE = "He et al. (2015), *Delving deep into rectifiers*"
SRIVASTAVA = "Srivastava et al. (2014), *Dropout: a simple way to prevent neural networks from overfitting*"


def finite(x: Any) -> bool:
    """A real, finite number (JSON null, strings, booleans and NaN are not)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def pct(x: Any, digits: int = 1) -> str:
    """0.9731 -> '97.3 %'; missing -> 'n/a'."""
    return f"{100 * x:.{digits}f} %" if finite(x) else "n/a"


def points(x: float) -> str:
    """A difference of two fractions in percentage points: 0.031 -> '3.1 points'."""
    return f"{100 * abs(x):.1f} points"


def db(x: Any) -> str:
    return f"{x:.1f} dB" if finite(x) else "n/a"


def sci(x: Any) -> str:
    return f"{x:.2g}" if finite(x) else "n/a"


def num(x: Any) -> str:
    """A config value in prose: 0.001 -> '0.001', 1e-05 -> '1e-05', 32768 -> '32 768', None -> 'none'."""
    if x is None:
        return "none"
    if isinstance(x, bool):
        return "on" if x else "off"
    if isinstance(x, int):
        return f"{x:,}".replace(",", " ")
    if isinstance(x, float):
        return f"{x:g}"
    if isinstance(x, (list, tuple)):
        return ", ".join(num(v) for v in x)
    return str(x)


def plural(n: Any, word: str, many: str | None = None) -> str:
    """(3, 'epoch') -> '3 epochs'; (1, 'epoch') -> '1 epoch'."""
    return f"{num(n)} {word if n == 1 else (many or word + 's')}"


def last_finite(values: Any) -> float | None:
    """The last finite entry of a per-epoch list (entries after a divergence are null)."""
    if not isinstance(values, list):
        return values if finite(values) else None
    good = [v for v in values if finite(v)]
    return good[-1] if good else None


def mean(values: Iterable[Any]) -> float | None:
    good = [v for v in values if finite(v)]
    return statistics.fmean(good) if good else None


def names(items: Sequence[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def arm_name(run: Mapping[str, Any], init_std: Any = 0.01) -> str:
    """'sigmoid + N(0, 0.01²)', 'ReLU + He'."""
    act = ACTIVATION_NAMES.get(run.get("activation"), str(run.get("activation")))
    init = run.get("init")
    ini = f"N(0, {init_std:g}²)" if init == "normal" and finite(init_std) else INIT_NAMES.get(init, str(init))
    return f"{act} + {ini}"


def optimizer_name(opt: Any, lr: Any) -> str:
    name = OPTIMIZER_NAMES.get(opt, str(opt))
    return f"{name}, lr {lr:g}" if opt == "sgd" and finite(lr) else name


def stat(value: Any) -> float | None:
    """A study's seed statistic ({"mean", "min", "max"}) or a bare number, as its mean."""
    if isinstance(value, Mapping):
        value = value.get("mean")
    return value if finite(value) else None


def preset_of(record: Mapping[str, Any] | None) -> str | None:
    return record.get("preset") if isinstance(record, Mapping) else None


def config_of(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """The resolved config a study ran with (config.json's `config`); {} when there is none."""
    cfg = record.get("config") if isinstance(record, Mapping) else None
    return dict(cfg) if isinstance(cfg, Mapping) else {}


def quick_note(record: Mapping[str, Any] | None) -> str:
    if preset_of(record) == "quick":
        return (
            " These numbers come from the **quick** preset (a subset of the data, one or two epochs): a smoke "
            "run of the same code, not the assignment's settings; `--preset full` gives the real ones."
        )
    return ""


def quote(text: str) -> str:
    """The assignment's words as a Markdown block quote."""
    return "\n".join("> " + line if line else ">" for line in text.strip().splitlines())
