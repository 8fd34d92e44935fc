"""Problem 2's values for `templates/denoise.md.j2`: the test recordings, clips and figures as the study
listed them, the baselines and the check on unseen voices arranged for the prose."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from denselab.reporting.fmt import dicts, finite
from denselab.reporting.results import StudyResults, figure_map, rel

TITLE = "Problem 2 — Speech denoising using deep learning"
NUMBER = 2

CAPTIONS = {
    "validation_spectrogram": "Validation part: the noisy input, the network's output and the clean speech",
    "validation_curves": "Validation SNR per epoch of each variant, with the baselines",
}
BASELINES = {
    "spectral_subtraction": "spectral subtraction",
    "wiener": "Wiener filter",
    "oracle": "oracle mask",
}
# the score columns of the tables, where the summary has them: (key, heading)
METRICS = (
    ("snr_db", "SNR"),
    ("si_sdr_db", "SI-SDR"),
    ("stoi", "STOI"),
    ("pesq", "PESQ"),
)


def tests(st: StudyResults) -> list[dict[str, Any]]:
    """Each test recording: its name, its figure's key, and its clips (noisy input, the network's output)."""
    paths = {p: k for k, p in figure_map(st).items()}
    out = []
    for t in dicts((st.summary or {}).get("tests")):
        name = Path(str(t.get("input") or t.get("output") or "test")).name
        figure = paths.get(rel(st, str(t["figure"]))) if t.get("figure") else None
        noisy = t.get("noisy") or t.get("input")
        clips = [
            (p, f"{name}: {label}") for p, label in ((noisy, "noisy input"), (t.get("output"), "denoised"))
        ]
        copies = [
            t[k] for k in ("assignment_output", f"output_{(st.summary or {}).get('model')}") if t.get(k)
        ]
        out.append(
            {
                "name": name,
                "figure": figure,
                "figure_path": t.get("figure"),
                "copies": copies,
                "clips": [(p, label) for p, label in clips if p],
                "seconds": t.get("seconds"),
            }
        )
    return out


def others(st: StudyResults, shown: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The clips listed under `audio` that the test section does not play (the variant not kept)."""
    listed = (st.summary or {}).get("audio")
    played = {rel(st, p) for t in shown for p, _ in t["clips"]}
    items = listed.items() if isinstance(listed, Mapping) else ()
    return [
        (str(p), _clip_label(str(k))) for k, p in items if isinstance(p, str) and rel(st, p) not in played
    ]


def _clip_label(key: str) -> str:
    """'test_x_01_output_magnitude' -> "test_x_01.wav: the magnitude variant's output"."""
    stem, found, variant = key.partition("_output_")
    return f"{stem}.wav: the {variant} variant's output" if found else key.replace("_", " ")


def scores(block: Any, prefix: str = "") -> dict[str, Any]:
    """{metric: (output, input)} of the metrics a block of the summary holds (keys `<prefix>snr_db` and
    `<prefix>input_snr_db`, ...)."""
    if not isinstance(block, Mapping):
        return {}
    return {
        key: (block.get(f"{prefix}{key}"), block.get(f"{prefix}input_{key}"))
        for key, _ in METRICS
        if finite(block.get(f"{prefix}{key}"))
    }


def context(st: StudyResults) -> dict[str, Any]:
    s = st.summary or {}
    shown = tests(st)
    base = s.get("baselines") if isinstance(s.get("baselines"), Mapping) else {}
    base = {k: (v.get("snr_db") if isinstance(v, Mapping) else v) for k, v in base.items() if k != "noisy"}
    classic = {k: v for k, v in base.items() if k != "oracle" and finite(v)}
    unseen = s.get("unseen") if isinstance(s.get("unseen"), Mapping) else {}
    has_pesq = s.get("pesq_available")
    if has_pesq is None:  # summaries from before the key: PESQ was measured when a pesq score is there
        has_pesq = any(k.endswith("pesq") for k in s)
    variants = s.get("variants") if isinstance(s.get("variants"), Mapping) else {}
    validation, heldout = scores(s, "validation_"), scores(s, "heldout_")
    return {
        "tests": shown,
        "other_clips": others(st, shown),
        "baselines": {k: v for k, v in base.items() if finite(v)},
        "best_classic": max(classic, key=classic.get) if classic else None,
        "baseline_words": BASELINES,
        "validation": validation,
        "heldout": heldout,
        "metrics": [(k, h) for k, h in METRICS if k in validation or k in heldout],
        "variants": {k: v for k, v in variants.items() if isinstance(v, Mapping)},
        "unseen": unseen,
        "unseen_metrics": [(k, h) for k, h in METRICS if k in (unseen.get("mean") or {})],
        "pesq": bool(has_pesq),
        "pair": s.get("training_pair") if isinstance(s.get("training_pair"), Mapping) else {},
        "split": s.get("split") if isinstance(s.get("split"), Mapping) else {},
        "validation_clips": [(p, k) for k, p in (s.get("validation_audio") or {}).items() if p],
    }
