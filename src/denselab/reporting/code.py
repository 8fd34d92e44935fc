"""The code the report shows: a few core lines per step, taken from the source each study recorded when it
started (`<study>/sources.json`, every function of its modules), whole functions in the appendix, and one
check of the recorded code against the installed denselab (said once, at the top of the report).

A function is found by its name wherever the study recorded it, so a function moved to another module is
still found; `EXCERPTS` says which lines of it are the core ones (the first line holding `start` to the
first after it holding `end`, extended until the brackets close)."""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
from typing import Any

from denselab.provenance import SNAPSHOT, source_text
from denselab.registry import REGISTRY
from denselab.reporting.results import StudyResults, read_json

MAX_LINES = 16  # an excerpt longer than this is cut (the appendix has the whole function)

# name (function, or Class.method) -> (start, end): the core lines; a function not listed is shown whole
EXCERPTS: dict[str, tuple[str, str]] = {
    "build_mlp": ("for i, (fan_in, fan_out)", "blocks.append"),
    "train_classifier": ("opt = make_optimizer", "label_smoothing="),
    "top_activation_grid": ("best = ", '"rows":'),
    "embed_2d": ("pca = PCA", "n_jobs=1"),
    "spectrum": ("window = ", "return torch.stft"),
    "estimate_magnitude": ("out = den.net", "return out * mag"),
    "_denoise_one_grid": ("spec = spectrum", "out[start:stop]"),
    "loss_fn": ("est = estimate_magnitude", "target = s.abs()"),
    "RunStack.forward": ("h = x", "return h"),
    "RunStack.step": ('if opt == "sgd"', "_foreach_add_"),
}
# whole functions the appendix adds for each study (the loops that trained it), besides the excerpted ones
APPENDIX = {
    "mnist": ["fit", "train_epoch"],
    "denoise": ["train_variant", "denoise_signal"],
    "optim": ["fit_group"],
    "dropout": ["fit_group", "evaluate_group"],
}


def recorded(st: StudyResults) -> dict[str, str]:
    """{dotted name: source} of the study's sources.json ({} when absent or unreadable)."""
    saved, _ = read_json(st.dir / SNAPSHOT)
    functions = (saved or {}).get("functions")
    return functions if isinstance(functions, dict) else {}


def installed(dotted: str, study: str) -> str | None:
    """The installed source of `dotted` (module.function or module.Class), or of a function of that name in
    the study's recorded modules when the module has moved; None when there is none."""
    module, _, name = dotted.rpartition(".")
    mods: list[Any] = []
    try:
        mods.append(importlib.import_module(module))
    except ImportError:
        pass
    mods += list(REGISTRY[study].recorded) if study in REGISTRY else []
    for mod in mods:
        obj = vars(mod).get(name)
        if obj is not None and getattr(obj, "__module__", None) == mod.__name__:
            return source_text(obj)
    return None


def lookup(st: StudyResults, name: str) -> tuple[str | None, str | None, bool]:
    """(dotted name, source as it ran, whether that is the installed source) of function `name` (or of the
    class of `Class.method`); the installed source when the folder has no record of it."""
    top = name.split(".")[0]
    ran = recorded(st)
    hits = [d for d in ran if d.rsplit(".", 1)[-1] == top]
    if hits:
        return hits[0], ran[hits[0]], installed(hits[0], st.name) == ran[hits[0]]
    mods = list(REGISTRY[st.name].recorded) if st.name in REGISTRY else []
    mods += [m for n, m in sys.modules.items() if n.startswith("denselab.") and m is not None]
    for mod in mods:
        obj = vars(mod).get(top)
        if obj is not None and getattr(obj, "__module__", None) == mod.__name__:
            return f"{mod.__name__}.{top}", source_text(obj), False
    return None, None, False


def method_of(source: str, name: str) -> str:
    """The source of method `name` inside a class's source (the class's own text when absent)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return textwrap.dedent("\n".join(source.splitlines()[start - 1 : node.end_lineno]))
    return source


def core_lines(source: str, name: str) -> str:
    """The lines `EXCERPTS[name]` marks (whole when short or unmarked), under the function's first line."""
    lines = source.splitlines()
    body = _after_docstring(source)
    if len(lines) <= MAX_LINES and name not in EXCERPTS:
        return source
    start_key, end_key = EXCERPTS.get(name, ("", ""))
    i = next((k for k in range(body, len(lines)) if start_key and start_key in lines[k]), body)
    j = next((k for k in range(i, len(lines)) if end_key and end_key in lines[k]), i + MAX_LINES - 1)
    while j + 1 < len(lines) and _depth(lines[i : j + 1]) > 0:
        j += 1
    j = min(j, i + MAX_LINES - 1, len(lines) - 1)
    head = next(line for line in lines if line.lstrip().startswith(("def ", "async def ")))
    indent = " " * (len(lines[i]) - len(lines[i].lstrip()))
    shown = [head.split("(")[0] + "(...):"] + ([indent + "..."] if i > body else []) + lines[i : j + 1]
    return "\n".join(shown + ([indent + "..."] if j < len(lines) - 1 else []))


def _after_docstring(source: str) -> int:
    """Index of the first line of the function's body after its docstring."""
    tree = ast.parse(source).body[0]
    first = tree.body[0] if isinstance(tree, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
    if first is None:
        return 0
    has_doc = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant)
    node = tree.body[1] if has_doc and len(tree.body) > 1 else first
    return node.lineno - 1


def _depth(lines: list[str]) -> int:
    text = "\n".join(line.split("#")[0] for line in lines)
    return sum(text.count(c) for c in "([{") - sum(text.count(c) for c in ")]}")


def excerpt(st: StudyResults, names: list[str]) -> str:
    """A Markdown code block of the core lines of `names`, with a note where the code that ran is not the
    installed code, or is not recorded."""
    parts, notes = [], []
    for name in names:
        dotted, source, same = lookup(st, name)
        if source is None:
            notes.append(f"*The source of `{name}` is not recorded in `{st.name}/{SNAPSHOT}`.*")
            continue
        if "." in name:
            source = method_of(source, name.split(".")[-1])
        parts.append(core_lines(source, name))
        if dotted not in st.code_shown:
            st.code_shown.append(dotted)
        if dotted not in recorded(st):
            notes.append(f"*`{name}` is not in `{SNAPSHOT}`: shown as installed now, which may differ.*")
        elif not same:
            notes.append(f"*`{name}` as it ran differs from the installed denselab (see the appendix).*")
    block = "```python\n" + "\n\n".join(parts) + "\n```" if parts else ""
    return "\n\n".join([block, *notes])


def appendix(st: StudyResults) -> list[tuple[str, str]]:
    """(dotted name, whole source as it ran) of every function excerpted for the study, then its loops."""
    found = {d: s for d in st.code_shown if (s := recorded(st).get(d) or installed(d, st.name))}
    for name in APPENDIX.get(st.name, []):
        dotted, source, _ = lookup(st, name)
        if source is not None:
            found.setdefault(dotted, source)
    return list(found.items())


def check(studies: list[StudyResults]) -> dict[str, Any]:
    """How the recorded code compares with the installed denselab: counts, and the names that differ."""
    total, differ, missing = 0, [], []
    for st in studies:
        ran = recorded(st)
        if st.summary is not None and not ran:
            missing.append(st.name)
        for dotted, source in ran.items():
            total += 1
            if installed(dotted, st.name) != source:
                differ.append(f"{st.name}: {dotted}")
    return {"total": total, "differ": differ, "missing": missing}
