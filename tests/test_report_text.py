"""The report's words, from small hand-built summaries (no training, no kernel): every comparative sentence
flips with its inputs, the summary keys other studies add appear where they exist and leave no trace where
they do not, and the method follows config.json."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from denselab.registry import REGISTRY
from denselab.reporting import fmt, sections, text
from denselab.reporting.notebook import SECTIONS
from denselab.reporting.results import StudyResults


def study(name: str, summary: dict, preset: str = "full", **config: Any) -> StudyResults:
    record = {"preset": preset, "config": {**REGISTRY[name].preset_values("full"), **config}}
    return StudyResults(name, Path("/nowhere") / name, Path("/nowhere"), summary=summary, record=record)


def section(name: str, summary: dict, **config: Any) -> str:
    """The rendered text of one study's section (directive lines included)."""
    st = study(name, summary, **config)
    return text.render(f"{name}.md.j2", **sections.context(st, SECTIONS[name]))


def conclusion(name: str, summary: dict) -> str:
    st = study(name, summary)
    return text.render("conclusion.md.j2", by={name: st}, ctx={name: sections.context(st, SECTIONS[name])})


def clean(words: str) -> None:
    """No sign of a missing value or a template slip."""
    for slip in ("None", "Undefined", "nan", "(s)", "{{", "{%"):
        assert slip not in words, slip


# ------------------------------------------------------------------------------------------ Problem 1


def layer(name: str, tsne: float, pca: float) -> dict:
    return {"name": name, "dims": 10, "knn_accuracy_2d_tsne": tsne, "knn_accuracy_2d_pca": pca}


def mnist(acc: float = 0.985, h1=(0.83, 0.47), out_pca=0.6, softmax_pca=0.7, out_purity=0.9, pen=0.4) -> dict:
    def grid(purity: float, n: int) -> dict:
        rows = [{"unit": u, "count": 20, "majority_class": u % 10, "purity": purity, "shown_purity": 1.0}
                for u in range(n)]  # fmt: skip
        return {"counts": [20] * n, "unassigned": 0, "rows": rows}

    return {
        "test_accuracy": acc,
        "epochs": 5,
        "layers": [
            layer("raw", 0.80, 0.40),
            layer("hidden1", *h1),
            layer("output", 0.9, out_pca),
            layer("softmax", 0.9, softmax_pca),
        ],  # fmt: skip
        "output_grid": grid(out_purity, 10),
        "penultimate_grid": {**grid(pen, 10), "units": list(range(100, 110))},
    }


def test_1_1_the_bar() -> None:
    assert "above the assignment's 98 %" in section("mnist", mnist(acc=0.985))
    assert "1.0 points short of the assignment's 98 %" in section("mnist", mnist(acc=0.97))


def test_1_7_which_map_changes_more() -> None:
    pca_more = section("mnist", mnist(h1=(0.83, 0.47)))  # t-SNE +3 points, PCA +7
    assert "The PCA plane changes more than the t-SNE map" in pca_more and "**Yes, better**" in pca_more
    tsne_more = section("mnist", mnist(h1=(0.87, 0.43)))  # t-SNE +7, PCA +3
    assert "The t-SNE map changes more than the PCA plane" in tsne_more
    assert "The PCA plane changes more" not in tsne_more
    same = section("mnist", mnist(h1=(0.805, 0.41)))
    assert "**About the same**" in same and "**Yes, better**" not in same


def test_1_8_rises_or_falls_with_depth() -> None:
    up = section("mnist", mnist(out_pca=0.6, softmax_pca=0.7))
    assert "- **PCA** rises from 40.0 % (`raw`) to 70.0 % (`softmax`)" in up and "and here it does" in up
    down = section("mnist", mnist(h1=(0.83, 0.35), out_pca=0.3, softmax_pca=0.2))
    assert "- **PCA** falls from 40.0 % (`raw`) to 20.0 % (`softmax`)" in down and "here it does not" in down


def test_1_8_softmax_against_logits() -> None:
    assert "the PCA score rises from 60.0 % to 70.0 %" in section(
        "mnist", mnist(out_pca=0.6, softmax_pca=0.7)
    )
    assert "the PCA score falls from 70.0 % to 60.0 %" in section(
        "mnist", mnist(out_pca=0.7, softmax_pca=0.6)
    )


def test_1_4_purity_against_the_output_layer() -> None:
    assert "less pure than the output layer's rows in 1.3 (90 %)" in section("mnist", mnist(pen=0.4))
    assert "purer than the output layer's rows in 1.3 (30 %)" in section(
        "mnist", mnist(out_purity=0.3, pen=0.4)
    )


def test_1_4_the_rows_by_the_images_shown() -> None:
    """With `shown_class` (the class most common among the images a row shows), the table reports it."""
    s = mnist()
    for row in s["penultimate_grid"]["rows"]:
        row.update(shown=10, shown_class=2, shown_class_count=7)
    words = section("mnist", s)
    assert "most common class among those shown" in words and "| 2 (7 of 10) |" in words


def test_conclusion_1() -> None:
    words = conclusion("mnist", mnist(acc=0.985))
    assert "(above the assignment's 98 %)" in words and "move further apart with depth" in words
    assert "those are features for the output layer" in words
    words = conclusion("mnist", mnist(acc=0.9, h1=(0.83, 0.35), out_pca=0.3, softmax_pca=0.2, out_purity=0.3))
    assert "(below the assignment's 98 %)" in words and "move closer together with depth" in words
    assert "those are features" not in words


def test_method_1_from_config() -> None:
    words = section("mnist", mnist(), warmup_fraction=0.3, label_smoothing=0.0)
    assert "over the first 30 % of the steps" in words and "without label smoothing" in words
    assert "linear" not in words.split("## 1.1")[0]


# ------------------------------------------------------------------------------------------ Problem 2


def denoise(**extra: Any) -> dict:
    return {
        "validation_snr_db": 12.0,
        "validation_input_snr_db": 2.0,
        "heldout_snr_db": 11.0,
        "heldout_input_snr_db": 3.0,
        "heldout_seconds": 3.9,
        "model": "mask",
        "baselines": {"noisy": 2.0, "spectral_subtraction": 5.0, "wiener": 6.0, "oracle": 18.0},
        "variants": {
            "mask": {"validation_snr_db": 12.0, "widths": [513, 64, 64, 513]},
            "magnitude": {"validation_snr_db": 9.0, "widths": [513, 64, 64, 513]},
        },  # fmt: skip
        "tests": [{"input": "/d/test_x_01.wav", "output": "audio/test_x_01_recons.wav"}],
        **extra,
    }


NEW_KEYS = {
    "training_pair": {"sample_rate": 16000, "seconds": 78.7, "stft_shape": [513, 2459], "clip_seconds": 10.0,
                      "clips": {"clean": "audio/train_clean_excerpt.wav",
                                "noisy": "audio/train_noisy_excerpt.wav"}},
    "split": {"train_seconds": 66.9, "validation_seconds": 7.9, "heldout_seconds": 3.9, "train_frames": 2091,
              "frame_grids": 4},
    "pesq_available": False,
    "unseen": {"files": ["a.wav", "b.wav"], "input_snrs_db": [0, 5], "noise_seen_in_training": False,
               "noise_source": "The noise comes from the validation part of the noisy recording (7.9 s).",
               "per_speaker": {"spk1": {"input_snr_db": 2.5, "snr_db": 6.0, "gain_db": 3.5}},
               "mean": {"input_snr_db": 2.5, "snr_db": 6.0, "gain_db": 3.5}},
}  # fmt: skip


def test_2_the_training_pair_and_its_parts() -> None:
    words = section("denoise", denoise(**NEW_KEYS))
    assert "**513 × 2459** (frequency bins × frames)" in words
    assert "%%play audio/train_clean_excerpt.wav :: training pair: clean speech" in words
    assert "%%play audio/train_noisy_excerpt.wav :: training pair: speech with chip noise" in words
    assert (
        "a training part of 66.9 s (2 091 frames of one frame grid; training takes its frames on 4" in words
    )
    assert "1 speaker the model never heard (2 files)" in words
    assert "from the validation part of the noisy recording (7.9 s). The model never trained on that" in words
    assert "pip install 'denselab[pesq]'" in words and "PESQ:" not in words
    clean(words)


def test_2_without_the_new_keys() -> None:
    words = section("denoise", denoise())
    for absent in ("**513 ×", "%%play audio/train", "frames of one frame grid", "the model never heard"):
        assert absent not in words, absent
    clean(words)


def test_2_network_against_the_classic_methods() -> None:
    assert "the network is 6.0 dB above the better of them" in section("denoise", denoise())
    low = denoise(validation_snr_db=4.0)
    assert "the network is 2.0 dB below the better of them" in section("denoise", low)


def test_2_the_kept_variant() -> None:
    assert "The study keeps `mask`, the one with the higher validation SNR (3.0 dB ahead)" in section(
        "denoise", denoise()
    )
    other = denoise(model="magnitude")
    assert "The study keeps `magnitude`." in section("denoise", other)


def test_2_gains_are_signed() -> None:
    words = section("denoise", denoise())
    assert "into **12.0 dB** (+10.0 dB)" in words and "turns 3.0 dB into 11.0 dB (+8.0 dB)" in words
    worse = section("denoise", denoise(validation_snr_db=1.0, heldout_snr_db=2.0))
    assert "into **1.0 dB** (−1.0 dB)" in worse and "turns 3.0 dB into 2.0 dB (−1.0 dB)" in worse


def test_2_unseen_voices_gain_or_loss() -> None:
    keys = copy.deepcopy(NEW_KEYS)
    assert "the network raises the SNR by 3.5 dB" in section("denoise", denoise(**keys))
    assert "gains 3.5 dB on average" in conclusion("denoise", denoise(**keys))
    keys["unseen"]["mean"]["gain_db"] = -1.5
    assert "the network lowers the SNR by 1.5 dB" in section("denoise", denoise(**keys))
    assert "loses 1.5 dB on average" in conclusion("denoise", denoise(**keys))


def test_2_noise_heard_in_training() -> None:
    keys = copy.deepcopy(NEW_KEYS)
    keys["unseen"]["noise_seen_in_training"] = True
    words = section("denoise", denoise(**keys))
    assert "trained on part of that noise" in words and "never trained on that noise" not in words


def test_2_method_is_a_table_from_config() -> None:
    words = section("denoise", denoise(), remix_fraction=0.5, model_type="mask")
    assert "| remixing | 50 % of the frames pair" in words and "only this variant trained" in words
    assert "| networks | mask: $513 \\to 1024 \\to 1024 \\to 513$" in words


# ------------------------------------------------------------------------------------------ Problem 3


def arm(opt: str, act: str, init: str, outcome: str, expected: str, acc: float | None = 0.95) -> dict:
    return {"optimizer": opt, "lr": 1.0 if opt == "sgd" else None, "activation": act, "init": init,
            "seeds": [0, 1, 2], "outcome": outcome, "expected": expected,
            "final_test_accuracy": {"mean": acc, "min": acc, "max": acc}}  # fmt: skip


def run(act: str, init: str, seed: int, grads: list, diverged_at: int | None = None) -> dict:
    return {"optimizer": "sgd", "lr": 1.0, "activation": act, "init": init, "seed": seed,
            "diverged": diverged_at is not None, "step_loss": [2.3, 40.0, 9e18, None],
            "diverged_at": {"global_step": diverged_at, "epoch": 1} if diverged_at else None,
            "probes": [{"label": "step 1", "grad_norm": grads,
                        "activation": {"std": [0.5, 0.5]}}]}  # fmt: skip


def optim(**extra: Any) -> dict:
    arms = [
        arm("sgd", "sigmoid", "normal", "stuck", "stuck", 0.11),
        arm("sgd", "relu", "he", "diverged", "learns"),
    ]
    return {"arms": arms, "thresholds": {"stuck_below_test_accuracy": 0.2, "learns_from_test_accuracy": 0.9},
            **extra}  # fmt: skip


def test_3_verdicts_against_expectations() -> None:
    words = section("optim", optim())
    assert (
        "1 of 2 end with exactly that verdict; the others are ReLU + He under plain SGD (diverged)" in words
    )
    assert "A divergence is the learning rate's doing" in words
    assert "*learns* from 90 %, *stuck* below 20 %" in words
    agree = optim(arms=[arm("sgd", "sigmoid", "normal", "stuck", "stuck", 0.11)])
    words = section("optim", agree)
    assert "1 of 1 end with exactly that verdict." in words and "the others are" not in words


def test_3_learns_slowly_is_not_learns() -> None:
    """A network the study calls `learns slowly` where `learns` is expected does not count as expected."""
    words = section("optim", optim(arms=[arm("adam", "sigmoid", "xavier", "learns slowly", "learns", 0.22)]))
    assert "0 of 1 end with exactly that verdict" in words


def test_3_why_uses_seed_means_and_names_seeds() -> None:
    runs = [run("relu", "he", s, [4e-6 * (s + 1), 1.0], diverged_at=9 - s) for s in range(3)]
    words = section("optim", optim(runs=runs))
    assert (
        "gradient norm at step 1 8e-06 at the first layer, 1 at the output layer — it **vanishes**" in words
    )
    assert "non-finite at step 9 (seed 0), step 8 (seed 1), step 7 (seed 2)" in words
    assert "training loss of seed 0 grew from 2.3 to 9e+18" in words
    grows = section("optim", optim(runs=[run("relu", "he", 0, [500.0, 1.0])]))
    assert "it **grows** on the way back" in grows and "vanishes" not in grows


SGD_MAP = [
    {"scaling": s, "batch_size": 64, "train_size": 1000, "arm": a, "outcome": o, "final_test_accuracy": acc}
    for s in ("unit", "standard")
    for a, o, acc in (("sigmoid-normal", "stuck", 0.11), ("relu-he", "learns", 0.93))
]


def test_3_the_sgd_map_and_where_the_trend_appears() -> None:
    grid = {
        "scalings": ["unit", "standard"],
        "batch_sizes": [64],
        "train_sizes": [1000],
        "epochs": 3,
        "seed": 0,
    }
    trend = [{"scaling": "unit", "batch_size": 64, "train_size": 1000}]
    words = section("optim", optim(sgd_map=SGD_MAP, sgd_map_grid=grid, sgd_map_trend=trend))
    assert "| pixels, batch, training images | sigmoid + N(0, 0.01²) | ReLU + He |" in words
    assert "| [0, 1], 64, 1 000 | stuck (11 %) | learns (93 %) |" in words
    assert "appears in 1 of 2 settings: pixels in [0, 1], batch 64, 1 000 images" in words
    assert "%%figure sgd_map" in words and "%%figure sgd_trend" in words
    none = section("optim", optim(sgd_map=SGD_MAP, sgd_map_grid=grid, sgd_map_trend=[]))
    assert "appears in none of the 2 settings" in none


# ------------------------------------------------------------------------------------------ Problem 4


def dropout_arm(act: str, init: str, drop: bool, gap: float, overfits: bool) -> dict:
    return {"activation": act, "init": init, "dropout": drop, "seeds": [0], "overfits": overfits,
            "final_train_accuracy": {"mean": 0.99}, "final_test_accuracy": {"mean": 0.99 - gap},
            "final_gap_accuracy": {"mean": gap},
            "test_loss_rise": {"mean": 0.3 if overfits else 0.0}}  # fmt: skip


def dropout(passes_at: int | None, gaps=(0.05, 0.01), overfit=(True, False)) -> dict:
    comparison = [{"activation": "relu", "init": "he", "per_seed": [],
                   "mean": {"passes_at": passes_at, "best_epoch": {"plain": 3, "dropout": 9},
                            "final_gap": {"plain": gaps[0], "dropout": gaps[1]},
                            "final_test_accuracy": {"plain": 0.94, "dropout": 0.96}}}]  # fmt: skip
    arms = [
        dropout_arm("relu", "he", False, gaps[0], overfit[0]),
        dropout_arm("relu", "he", True, gaps[1], overfit[1]),
    ]
    return {"arms": arms, "comparison": comparison, "epochs": 10, "overfit_threshold": 0.05}


def test_4_when_dropout_passes_the_plain_net() -> None:
    words = section("dropout", dropout(passes_at=4))
    assert "passes the plain network's from epoch 4 on and stays above it to the end" in words
    assert "lowest at epoch 3 without dropout and 9 with it" in words
    assert "gap is +5.0 points without and +1.0 points with dropout" in words
    assert "from epoch 4 its test accuracy stays above the plain network's" in words  # the ReLU + He story
    never = section("dropout", dropout(passes_at=None))
    assert "never stays above the plain network's within the 10 epochs" in never
    assert "does not get above the plain network's within 10 epochs" in never
    assert "passes the plain network's from epoch" not in never
    assert "passes the plain network's from epoch 4" in conclusion("dropout", dropout(passes_at=4))
    assert "does not pass the plain network's" in conclusion("dropout", dropout(passes_at=None))


def test_4_gap_shrinks_or_widens() -> None:
    assert "Dropout shrinks the gap, as theory expects" in section("dropout", dropout(4, gaps=(0.05, 0.01)))
    assert "Dropout widens the gap, unlike what theory expects" in section(
        "dropout", dropout(4, gaps=(0.01, 0.05))
    )
    never = section("dropout", dropout(None, gaps=(0.01, 0.05)))
    assert "it does not reduce the train–test gap by more than a point either" in never


def test_4_the_trend_from_the_verdicts() -> None:
    assert "with dropout ReLU + He no longer does" in section("dropout", dropout(4, overfit=(True, False)))
    assert "does not remove the overfitting" in section("dropout", dropout(4, overfit=(True, True)))
    assert "No network without dropout overfits" in section("dropout", dropout(4, overfit=(False, False)))


# ------------------------------------------------------------------------------------------ odd summaries


@pytest.mark.parametrize("name", ["mnist", "denoise", "optim", "dropout"])
def test_a_summary_with_only_the_contract_keys(name: str) -> None:
    minimal = {
        "mnist": {"test_accuracy": 0.99, "epochs": 1},
        "denoise": {"validation_snr_db": 10.0, "validation_input_snr_db": 2.0, "model": "mask", "tests": []},
        "optim": {"runs": [], "failed_runs": []},
        "dropout": {"runs": [], "failed_runs": [{"name": "x-s0", "error": "JobFailed: boom"}]},
    }[name]
    words = section(name, minimal)
    clean(words)
    if name == "dropout":
        assert "**1 run failed** and is missing" in words


def test_the_formatter() -> None:
    assert fmt.plural(1, "speaker") == "1 speaker" and fmt.plural(3, "speaker") == "3 speakers"
    assert (
        fmt.pct(0.9731) == "97.3 %" and fmt.pct(None) == "n/a" and fmt.points(-0.031, True) == "−3.1 points"
    )
    assert fmt.db(-0.61) == "−0.6 dB" and fmt.db(2.0, True) == "+2.0 dB" and fmt.num(32768) == "32 768"
    assert fmt.arm("relu-he") == "ReLU + He" and fmt.arm({"activation": "sigmoid", "init": "normal"}) == (
        "sigmoid + N(0, 0.01²)"
    )
    assert fmt.names(["a", "b", "c"]) == "a, b and c" and fmt.seconds(3.94, 1) == "3.9 s"
