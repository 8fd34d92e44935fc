"""Problem 2's prose: the method from config.json, the numbers from summary.json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from denselab.data.audio import HOP
from denselab.report.fmt import db, finite, names, num, pct, quick_note

SNR_TARGET_DB = 12.0  # this project's validation target for the full preset (issue 4)
BASELINE_NAMES = {
    "spectral_subtraction": "spectral subtraction",
    "wiener": "the Wiener filter",
    "oracle": "the oracle",
}
VARIANT_WORDS = {
    "magnitude": "the literal regression |X| → |S| (`magnitude`)",
    "mask": "the bounded mask on |X| (`mask`)",
}

FORMULAS = r"""Features are the magnitudes of the short-time Fourier transform, $X = \mathrm{STFT}(x)$ with a
1 024-sample window and a hop of 512 (513 frequency bins per frame): the network sees one frame
$|X_{:,t}| \in \mathbb{R}^{513}$ at a time and predicts a nonnegative $|\hat S_{:,t}|$. The `magnitude`
variant is the assignment's literal regression, $|\hat S| = \mathrm{softplus}(f(|X|))$, trained against $|S|$;
the `mask` variant predicts $m = \sigma(f(\tilde X)) \in (0, 1)^{513}$ from the standardised log-magnitude
$\tilde X$ and outputs $|\hat S| = m \odot |X|$. Both end in a nonnegative activation (softplus, sigmoid) as
the assignment asks. The phase is borrowed from the noisy input (equation 1 of the assignment):
$$\hat S = \frac{X}{|X|} \odot |\hat S|, \qquad \hat s = \mathrm{ISTFT}(\hat S),$$
and quality is the signal-to-noise ratio of the time signal (equation 2),
$$\mathrm{SNR}(s, \hat s) = 10 \log_{10} \frac{\sum_t s_t^2}{\sum_t (s_t - \hat s_t)^2} \ \text{dB}.$$"""

# config fields the recipe paragraph below puts in words; any other field is listed after it with its meaning
DESCRIBED = {
    "seed",
    "model_type",
    "hidden",
    "magnitude_hidden",
    "epochs",
    "frames_per_epoch",
    "batch_size",
    "lr",
    "patience",
    "min_epochs",
    "validation_fraction",
    "heldout_fraction",
    "remix_fraction",
    "snr_low_db",
    "snr_high_db",
    "level_jitter_db",
    "speed_factors",
    "speed_share",
    "dropout",
    "ema_decay",
    "features",
    "loss",
    "pitch_factors",
    "formant_factors",
    "hf_boost_db",
    "hf_boost_hz",
    "mask_power",
    "refit",
    "frame_shifts",
    "denoise_grids",
}


def min_epochs_text(cfg: Mapping[str, Any]) -> str:
    """The floor under early stopping, when it can bind (configs from before the field have none)."""
    floor = cfg.get("min_epochs") or 1
    return f", but never before epoch {num(floor)}," if 1 < floor <= (cfg.get("epochs") or 0) else ""


def method(cfg: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> str:
    """Every setting that trained the denoiser, in sentences, from the resolved config."""
    s = summary or {}
    hidden = cfg.get("hidden") or []
    kind = cfg.get("model_type", "auto")
    variant = (
        "both variants are trained and the one with the better validation SNR is kept"
        if kind == "auto"
        else f"only {VARIANT_WORDS.get(kind, kind)} is trained"
    )
    val = cfg.get("validation_fraction")
    held = cfg.get("heldout_fraction")
    split = (
        f"The training pair is cut in time into three contiguous parts: a held-out test part (the first "
        f"{pct(held, 0)}, never trained on and scored once at the end), training, and validation (the last "
        f"{pct(val, 0)}, used for early stopping and the choice of variant)"
        if finite(held) and held > 0
        else f"The last {pct(val, 0)} of the training pair (contiguous in time) is held out for validation, used "
        f"for early stopping and the choice of variant; the rest trains"
    )
    remix = cfg.get("remix_fraction") or 0.0
    speeds = [f for f in cfg.get("speed_factors") or [] if f != 1]
    remix_text = (
        f"{pct(remix, 0)} of the frames pair a random clean frame with a random noise frame "
        f"(noise = noisy − clean over the training part) scaled to a random recording SNR between "
        f"{num(cfg.get('snr_low_db'))} and {num(cfg.get('snr_high_db'))} dB; the rest keep the recorded "
        f"pairing"
        if remix
        else "every frame keeps the recorded pairing (no remixing)"
    )
    speed_text = (
        f"Speed perturbation: copies of the clean training speech played {num(speeds)} times as fast "
        f"(another pitch and formants, like another voice)"
        if speeds and remix
        else "No speed perturbation"
    )
    jitter = cfg.get("level_jitter_db") or 0
    drop = cfg.get("dropout") or 0
    ema = cfg.get("ema_decay") or 0
    feats = cfg.get("features", "log")
    pitches, formants = list(cfg.get("pitch_factors") or []), list(cfg.get("formant_factors") or [1.0])
    has_voices = remix and any((p, v) != (1, 1) for p in pitches for v in formants)
    voices = (
        f" Voice copies: the clean training speech re-synthesised by the WORLD vocoder with its f0 × "
        f"{num(pitches)} and its spectral envelope stretched in frequency by × {num(formants)} (each pitch with "
        f"each envelope; the duration kept)."
        if has_voices
        else ""
    )
    copies_share = (
        f" The copies supply {pct(cfg.get('speed_share'), 0)} of the remixed speech."
        if remix and (speeds or has_voices)
        else ""
    )
    shifts = cfg.get("frame_shifts") or 1
    shifts_text = (
        f" The training part's STFT frames are taken on {num(shifts)} frame grids, each started "
        f"{num(HOP // shifts)} samples after the last, so the one recording gives {num(shifts)} times "
        f"as many distinct frames (the test-time STFT uses the first grid)."
        if shifts > 1
        else ""
    )
    boost = cfg.get("hf_boost_db") or 0
    boost_text = (
        f" Spectral balance: every remixed speech frame is given a random high-shelf gain, drawn "
        f"uniformly between 0 and {num(boost)} dB, above about {num(cfg.get('hf_boost_hz'))} Hz (the "
        f"training voice has little energy up there; other voices' fricatives do), after the frame's SNR "
        f"is set, so it raises that SNR slightly."
        if boost and remix
        else ""
    )
    mask_loss = (
        "the mask variant minimises the mean over frames of log10 of each frame's error energy (a "
        "segmental SNR: quiet and loud frames weigh alike)"
        if cfg.get("loss") == "seglog"
        else "the mask variant minimises the squared error over all bins and frames"
    )
    mask_loss += (
        " between its |Ŝ| and the phase-sensitive target |S| cos(∠S − ∠X), whose error equals the "
        "complex error of the reconstruction with the noisy phase"
    )
    magnitude_loss = (
        "the magnitude variant minimises the squared error between its |Ŝ| and |S| (the assignment's MSE)"
    )
    loss = {"mask": mask_loss, "magnitude": magnitude_loss}.get(kind, f"{mask_loss}; {magnitude_loss}")
    power = cfg.get("mask_power", 1.0)
    power_text = (
        f"When it denoises (the reported validation and held-out scores, the checks, `denoise apply`), "
        f"the mask variant uses $m^{{{num(power)}}}$ instead of the trained $m$: a milder mask, which keeps "
        f"more speech where the net is unsure; the per-epoch validation curve and early stopping follow the "
        f"trained $m$. "
        if kind != "magnitude" and finite(power) and power != 1
        else ""
    )
    grids = cfg.get("denoise_grids") or 1
    grids_text = (
        f"Every denoising (the reported scores, the test recordings, the checks, `denoise apply`) is done "
        f"on {num(grids)} STFT frame grids, the input delayed by multiples of {num(HOP // grids)} samples, "
        f"and the {num(grids)} outputs, moved back into place, are averaged (cycle spinning: each grid's "
        f"errors differ, so they partly cancel); the per-epoch validation curve and early stopping use the "
        f"one grid. "
        if grids > 1
        else ""
    )
    ema_text = (
        f"Validation uses an exponential moving average of the weights (decay {num(ema)} per step). "
        if ema
        else ""
    )
    mag_hidden = cfg.get("magnitude_hidden") or hidden  # configs from before the field: one width for both

    def net(widths: Any) -> str:
        return "$513 \\to " + " \\to ".join(str(h) for h in widths) + " \\to 513$"

    if kind == "magnitude":
        nets = f"The net is {net(mag_hidden)}"
    elif kind == "mask" or list(mag_hidden) == list(hidden):
        nets = f"The net is {net(hidden)}"
    else:
        nets = f"The mask net is {net(hidden)} and the magnitude net {net(mag_hidden)}"
    out = [
        f"""*Recipe (from `config.json`).* {nets}
with ReLU hidden layers{f", dropout {num(drop)} on every hidden layer input" if drop else ", no dropout"}; {variant}.
The `magnitude` variant's input is {"|X| scaled to unit mean" if feats == "linear" else "the standardised log(|X| + ε)"};
the mask always sees the log-magnitude. Every recording is scaled to a fixed RMS before the STFT and back
afterwards. {split}. Each epoch draws {num(cfg.get("frames_per_epoch"))} training frames in mini-batches of
{num(cfg.get("batch_size"))}: {remix_text}.{shifts_text} {speed_text}.{voices}{copies_share}{boost_text}
{f"Every training frame gets a random gain of ±{num(jitter)} dB. " if jitter else ""}Adam (learning rate
{num(cfg.get("lr"))}, cosine-decayed to 5 % of it over {num(cfg.get("epochs"))} epochs) trains the net:
{loss}. {power_text}{grids_text}{ema_text}Early
stopping: training stops after {num(cfg.get("patience"))} epochs without a better validation SNR{min_epochs_text(cfg)}
and keeps the best weights. {refit_text(cfg, s)}Seed {cfg.get("seed", 0)}."""
    ]
    if s.get("train_frames"):
        out.append(
            f" The training part holds {num(s['train_frames'])} STFT frames; remixing draws from "
            f"{num(s.get('speech_frames') or s['train_frames'])} speech frames."
        )
    if finite(s.get("data_seconds")) and finite(s.get("train_seconds")):
        out.append(
            f" Making those frames (the grids and the copies) took {s['data_seconds']:.0f} s, and training "
            f"{s['train_seconds']:.0f} s."
        )
    return "".join(out)


def refit_text(cfg: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    """The refit, in a sentence, when the config asked for it (configs from before the field: none)."""
    if not cfg.get("refit"):
        return ""
    r = summary.get("refit")
    epochs = (
        f"{num(r['epochs'])} epochs, the first fit's best"
        if isinstance(r, Mapping) and finite(r.get("epochs"))
        else "the first fit's best epoch count"
    )
    return (
        f"Refit: the kept variant is then trained again from a fresh initialisation (same seed and schedule) on "
        f"the training and validation parts together for {epochs}, and that model is the one saved and used for "
        f"the held-out part, the test recordings and the check on unseen voices; the validation numbers are "
        f"the first fit's, which never trained on validation. "
    )


def tests_note(summary: Mapping[str, Any]) -> str:
    names_ = [
        str(t.get("input", "?")).rsplit("/", 1)[-1] for t in summary.get("tests") or [] if isinstance(t, dict)
    ]
    return (
        f"The test recordings {names(names_)} have no clean reference, so no SNR can be measured on them: "
        f"look at the spectrograms and listen."
        if names_
        else "The summary lists no test recordings."
    )


def baselines_of(summary: Mapping[str, Any]) -> dict[str, float]:
    """{'oracle': dB, 'wiener': dB, ...}: the validation SNRs in the summary's `baselines`."""
    found: dict[str, float] = {}
    base = summary.get("baselines")
    for name, value in base.items() if isinstance(base, Mapping) else ():
        if isinstance(value, Mapping):
            value = value.get("snr_db", value.get("validation_snr_db"))
        if finite(value) and name != "noisy":
            found[str(name)] = float(value)
    return found


def validation(summary: Mapping[str, Any], record: Mapping[str, Any] | None = None) -> str:
    """2.13: held-out test SNR as the headline (when the study measured it), validation beside it."""
    snr, inp = summary.get("validation_snr_db"), summary.get("validation_input_snr_db")
    held, held_in = summary.get("heldout_snr_db"), summary.get("heldout_input_snr_db")
    if not finite(snr):
        return "The summary holds no validation SNR."
    model = summary.get("model")
    refit = isinstance(summary.get("refit"), Mapping)
    out = []
    if finite(held):
        out.append(
            f"On the **held-out test part** of the training pair — never trained on and not used to pick "
            f"the epoch or the variant, touched once at the end — the `{model}` denoiser"
            f"{' (refit on training + validation)' if refit else ''} scores "
            f"**{db(held)}**"
            + (
                f" against {db(held_in)} for the noisy input (a gain of {db(held - held_in)})"
                if finite(held_in)
                else ""
            )
            + ". "
        )
        out.append(
            f"On the validation part, which chose the epoch and the variant (so it flatters the model a "
            f"little), {'its first fit, before the refit,' if refit else 'it'} scores {db(snr)}"
            + (f" against {db(inp)}" if finite(inp) else "")
            + ". "
        )
    else:
        out.append(
            f"On the validation audio (the last part of the training recording, never trained on, but used "
            f"to choose the epoch and the variant) the `{model}` denoiser scores **{db(snr)}**"
            + (f", against {db(inp)} for the noisy input: a gain of {db(snr - inp)}" if finite(inp) else "")
            + ". This run's summary has no separate held-out test part, so this number is slightly "
            "optimistic. "
        )
    found = baselines_of(summary)
    classic = {k: v for k, v in found.items() if k != "oracle"}
    if classic:
        best = max(classic, key=classic.get)
        diff = snr - classic[best]
        out.append(
            "On the same validation audio the classic baselines, with the noise spectrum taken from the "
            "training part, score "
            + ", ".join(f"{BASELINE_NAMES.get(k, k.replace('_', ' '))} {db(v)}" for k, v in classic.items())
            + f"; the network is {db(abs(diff))} {'better' if diff >= 0 else 'worse'} than the best. "
        )
    if "oracle" in found:
        out.append(
            f"The oracle — the true |S| with the noisy phase — scores {db(found['oracle'])}, the ceiling "
            f"for any method that only changes magnitudes"
        )
        if finite(inp) and found["oracle"] > inp:
            out.append(
                f"; the network closes {pct((snr - inp) / (found['oracle'] - inp), 0)} of the distance "
                f"from the input to it"
            )
        out.append(". ")
    meets = snr >= SNR_TARGET_DB
    out.append(
        f"The validation SNR {'meets' if meets else f'is {db(SNR_TARGET_DB - snr)} below'} our own "
        f"{db(SNR_TARGET_DB)} target for the full preset."
    )
    out.append(quick_note(record))
    return "".join(out)


def variants(summary: Mapping[str, Any]) -> str:
    """2.8-2.9: the literal regression next to the mask."""
    vs = summary.get("variants")
    if not isinstance(vs, Mapping) or not vs:
        return "The summary holds no per-variant results."
    parts = []
    chosen = summary.get("model")
    refit = isinstance(summary.get("refit"), Mapping)
    for name, v in vs.items():
        if not isinstance(v, Mapping):
            continue
        text = f"{VARIANT_WORDS.get(name, name)} reaches {db(v.get('validation_snr_db'))} on validation"
        if finite(v.get("heldout_snr_db")):
            text += f" and {db(v['heldout_snr_db'])} on the held-out test part"
            if name == chosen and refit:
                text += " (after its refit)"
        if finite(v.get("best_epoch")):
            text += f" (best epoch {v['best_epoch']} of {v.get('epochs_run', '?')}" + (
                ", stopped early)" if v.get("stopped_early") else ")"
            )
        if v.get("collapse_restarts"):
            text += f"; it collapsed to an all-zero output and was restarted {v['collapse_restarts']} time(s)"
        parts.append(text)
    fair = (
        "chosen on validation; the held-out numbers compare them, though the kept one's comes after its refit "
        "on more data"
        if refit
        else "chosen on validation, so the held-out numbers are the fair comparison"
    )
    return (
        "; ".join(parts)
        + f". The one kept is `{chosen}`"
        + (f" — the better on validation ({fair})." if len(parts) > 1 else ".")
    )


UNSEEN_COLUMNS = (
    ("input_snr_db", "input SNR"),
    ("snr_db", "output SNR"),
    ("gain_db", "gain"),
    ("oracle_gain_db", "oracle gain"),
    ("si_sdr_db", "SI-SDR"),
    ("stoi", "STOI"),
    ("pesq", "PESQ"),
)


def unseen(summary: Mapping[str, Any]) -> str:
    """The check on voices never heard (the study's `unseen` key), in words."""
    u = summary.get("unseen")
    mean = u.get("mean") if isinstance(u, Mapping) else None
    if not isinstance(mean, Mapping) or not finite(mean.get("gain_db")):
        return "The summary holds no results of the check on unseen voices."
    speakers = u.get("per_speaker") if isinstance(u.get("per_speaker"), Mapping) else {}
    per_snr = u.get("per_snr") if isinstance(u.get("per_snr"), Mapping) else {}
    out = [
        f"On clean speech of {len(speakers) or 'several'} speaker(s) the model never heard, mixed with the "
        f"chip noise, the denoiser gains **{db(mean['gain_db'])}** on average"
    ]
    if finite(mean.get("oracle_gain_db")):
        out.append(f" (the oracle gains {db(mean['oracle_gain_db'])})")
    out.append(". ")
    if speakers:
        out.append(
            "Per speaker: "
            + ", ".join(f"{k} {db(v.get('gain_db'))}" for k, v in speakers.items() if isinstance(v, Mapping))
            + ". "
        )
    if per_snr:
        out.append(
            "Per input SNR: "
            + ", ".join(
                f"{db(v.get('gain_db'))} at {k} dB" for k, v in per_snr.items() if isinstance(v, Mapping)
            )
            + "."
        )
    return "".join(out)
