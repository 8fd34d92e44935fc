"""What every problem's section shares: how the study ran (its command, settings and software, from
config.json), the section built from its template, and the note for a study that was not run."""

from __future__ import annotations

from typing import Any

from denselab.data.mnist import MNIST_FILES
from denselab.registry import REGISTRY
from denselab.reporting import fmt, text
from denselab.reporting.results import StudyResults

SOFTWARE = (("denselab_version", "denselab"), ("torch_version", "torch"), ("python_version", "Python"))


def _same(a: Any, b: Any) -> bool:
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731 - JSON turns tuples into lists
    return norm(a) == norm(b)


def preset_values(study: str, preset: str | None) -> dict[str, Any]:
    """Every config field's value under `preset` ({} when the study or preset is unknown)."""
    try:
        return REGISTRY[study].preset_values(preset or "full")
    except (KeyError, TypeError):
        return {}


def preset_help(study: str, preset: str | None) -> str:
    helps = getattr(REGISTRY[study].module, "PRESET_HELP", {}) if study in REGISTRY else {}
    return str(helps.get(preset, "")) if isinstance(helps, dict) else ""


def _flag(name: str, value: Any) -> str:
    opt = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return opt if value else "--no-" + name.replace("_", "-")
    if isinstance(value, (list, tuple)):
        return f"{opt} {' '.join(str(v) for v in value)}"
    return f"{opt} {'none' if value is None else value}"


def command_line(st: StudyResults) -> str:
    """The `denselab ...` command that reproduces the run: its preset plus every setting that differs."""
    record = st.record or {}
    words = [
        f"denselab {record.get('command') or REGISTRY[st.name].command}",
        f"--preset {st.preset or 'full'}",
    ]
    base = preset_values(st.name, st.preset)
    words += [_flag(k, v) for k, v in st.config.items() if k in base and not _same(v, base[k])]
    return " \\\n    ".join(words + [f"--out {st.dir}"])


def run_info(st: StudyResults) -> dict[str, Any]:
    """How the study ran, for the templates: command, preset and what it means, device, software, and every
    setting (value and meaning), those that differ from the full preset (the assignment's settings) apart."""
    record = st.record or {}
    docs = REGISTRY[st.name].field_docs() if st.name in REGISTRY else {}
    full = preset_values(st.name, "full")
    return {
        "command": command_line(st) if st.config else None,
        "preset": st.preset,
        "preset_help": preset_help(st.name, st.preset),
        "device": record.get("device"),
        "commit": record.get("git_commit"),
        "software": ", ".join(f"{label} {record[k]}" for k, label in SOFTWARE if record.get(k)),
        "settings": [(k, fmt.num(v), docs.get(k, "")) for k, v in st.config.items()],
        "differs": [
            (k, fmt.num(v), fmt.num(full[k]))
            for k, v in st.config.items()
            if k in full and k != "seed" and not _same(v, full[k])
        ],
    }


def inputs(study: str) -> dict[str, Any]:
    """The files a study reads from the data folder, and where they go (from the study modules' tables)."""
    speech = getattr(REGISTRY["denoise"].module, "SPEECH_FILES", None) if "denoise" in REGISTRY else None
    speech = speech if isinstance(speech, dict) else {}
    if study == "denoise":
        return {
            "folder": "speech",
            "needed": [
                speech.get("clean", "train_clean_male.wav"),
                speech.get("noisy", "train_dirty_male.wav"),
            ],
            "optional": [*speech.get("test", ("test_x_01.wav", "test_x_02.wav")), "unseen/"],
        }
    return {"folder": "mnist", "needed": list(MNIST_FILES.values()), "optional": [], "download": True}


def context(st: StudyResults, module: Any) -> dict[str, Any]:
    """Everything a study's templates read: its summary, config, how it ran, and the module's values."""
    base = {"st": st, "run": run_info(st), "title": module.TITLE, "number": module.NUMBER}
    if st.summary is None:
        return base
    return {**base, "s": st.summary, "cfg": st.config, **module.context(st)}


def section(st: StudyResults, module: Any, ctx: dict[str, Any]) -> list[text.Cell]:
    """A problem's cells: its template filled with the study's values, or the note that it did not run."""
    if st.summary is None:
        why = st.problem or (
            f"`{st.dir.name}/` holds no `summary.json`"
            if st.dir.is_dir()
            else f"there is no `{st.dir.name}/`"
        )
        body = text.render(
            "not_run.md.j2", **ctx, why=why, inputs=inputs(st.name), command=REGISTRY[st.name].command
        )
        return text.cells(body, st)
    return text.cells(text.render(f"{st.name}.md.j2", **ctx), st, module.CAPTIONS)
