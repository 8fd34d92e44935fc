"""The report's one number formatter: every number and list in the prose and tables goes through these
functions (they are the templates' filters). Formatting only: verdicts come from summary.json."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from denselab.models.mlp import arm_label

MISSING = "n/a"  # what a missing or non-finite number (null in the JSON) prints as


def finite(x: Any) -> bool:
    """A real, finite number (JSON null, strings, booleans and NaN are not)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def pct(x: Any, digits: int = 1) -> str:
    """0.9731 -> '97.3 %'."""
    return f"{100 * x:.{digits}f} %" if finite(x) else MISSING


def points(x: Any, signed: bool = False) -> str:
    """A difference of two fractions in percentage points: 0.031 -> '3.1 points' ('+3.1 points' signed)."""
    if not finite(x):
        return MISSING
    sign = ("+" if x >= 0 else "−") if signed else ""
    return f"{sign}{100 * abs(x):.1f} points"


def db(x: Any, signed: bool = False) -> str:
    """12.04 -> '12.0 dB' ('+12.0 dB' signed)."""
    if not finite(x):
        return MISSING
    return f"{'+' if signed and x >= 0 else ''}{x:.1f} dB".replace("-", "−")


def sci(x: Any) -> str:
    """Two significant digits: 0.003162 -> '0.0032', 2.3e18 -> '2.3e+18'."""
    return f"{x:.2g}" if finite(x) else MISSING


def seconds(x: Any, digits: int = 0) -> str:
    """3.904 -> '4 s' ('3.9 s' with digits=1)."""
    return f"{x:.{digits}f} s" if finite(x) else MISSING


def num(x: Any) -> str:
    """A setting or a count: 0.001 -> '0.001', 32768 -> '32 768', None -> 'none', True -> 'on'."""
    if x is None:
        return "none"
    if isinstance(x, bool):
        return "on" if x else "off"
    if isinstance(x, int):
        return f"{x:,}".replace(",", " ")
    if isinstance(x, float):
        return f"{x:g}" if finite(x) else MISSING
    if isinstance(x, (list, tuple)):
        return ", ".join(num(v) for v in x)
    return str(x)


def plural(n: Any, word: str, many: str | None = None) -> str:
    """(3, 'epoch') -> '3 epochs'; (1, 'speaker') -> '1 speaker'; (2, 'class', 'classes') -> '2 classes'."""
    return f"{num(n)} {word if n == 1 else (many or word + 's')}"


def verdict_for(verdict: str, n: int) -> str:
    """A study's verdict as the verb of `n` networks: ('learns', 3) -> 'learn'; 'learns slowly' keeps its
    adverb; 'stuck' and 'diverged' do not change."""
    first, _, rest = str(verdict).partition(" ")
    if n != 1 and first == "learns":
        first = "learn"
    return " ".join(w for w in (first, rest) if w)


def names(items: Iterable[Any]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    items = [str(i) for i in items]
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def arm(item: Mapping[str, Any], init_std: Any = 0.01) -> str:
    """A run or arm dict ({"activation", "init"}) or 'relu-he' as 'ReLU + He'."""
    if isinstance(item, str):
        item = dict(zip(("activation", "init"), item.split("-", 1)))
    return arm_label(
        str(item.get("activation")), str(item.get("init")), init_std if finite(init_std) else 0.01
    )


def stat(value: Any) -> float | None:
    """A study's seed statistic ({"mean", "min", "max"}) or a bare number, as its mean."""
    if isinstance(value, Mapping):
        value = value.get("mean")
    return value if finite(value) else None


def last(values: Any) -> float | None:
    """The last finite entry of a per-epoch list (entries after a divergence are null)."""
    good = [v for v in (values if isinstance(values, list) else [values]) if finite(v)]
    return good[-1] if good else None


def mean(values: Iterable[Any]) -> float | None:
    good = [v for v in values if finite(v)]
    return statistics.fmean(good) if good else None


def dicts(values: Any) -> list[Mapping[str, Any]]:
    """The dict entries of a summary list (anything else: [])."""
    return [v for v in values if isinstance(v, Mapping)] if isinstance(values, Sequence) else []


def quote(text: str) -> str:
    """The assignment's words as a Markdown block quote."""
    return "\n".join("> " + line if line else ">" for line in str(text).strip().splitlines())


def cell(x: Any) -> str:
    """A value for a Markdown table cell (no pipes, no line breaks)."""
    return str(x).replace("|", "\\|").replace("\n", " ")


def python_html(source: str) -> str:
    """Python source as highlighted HTML (the notebook's own `highlight` colours)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return highlight(source, PythonLexer(), HtmlFormatter(cssclass="highlight"))


def code(x: Any) -> str:
    """A file or setting name as inline code: `x`."""
    return f"`{x}`"


FILTERS = {
    f.__name__: f
    for f in (
        pct,
        points,
        db,
        sci,
        seconds,
        num,
        plural,
        verdict_for,
        names,
        arm,
        stat,
        last,
        mean,
        quote,
        cell,
        code,
    )
}
