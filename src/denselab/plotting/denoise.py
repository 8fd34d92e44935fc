"""Study 2 figures, drawn from audio arrays and the study's validation curves (never trains).

`spectrogram_figure` stacks log-magnitude spectrograms (noisy / denoised / clean) on one colour scale;
`validation_curves_figure` shows validation SNR per epoch of each variant against the baselines.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from denselab.data.audio import spectrum

BASELINE_STYLE = {
    "noisy": ("noisy input", ":"),
    "spectral_subtraction": ("spectral subtraction", "-."),
    "wiener": ("Wiener filter", "--"),
    "oracle": ("oracle |S|, noisy phase", "-"),
}


def spectrogram_figure(
    panels: Sequence[tuple[str, np.ndarray]], sr: int, title: str, dynamic_range_db: float = 80.0
) -> plt.Figure:
    """One spectrogram per (label, mono signal), same dB scale (0 dB = loudest bin of the first panel)."""
    specs = [20 * np.log10(spectrum(y).abs().numpy().T + 1e-10) for _, y in panels]  # (513, frames)
    top = float(specs[0].max())
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(10, 2.4 * len(panels) + 0.6), sharex=True, squeeze=False
    )
    duration = len(panels[0][1]) / sr
    image = None
    for ax, (label, _), spec in zip(axes[:, 0], panels, specs):
        image = ax.imshow(
            spec - top,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=-dynamic_range_db,
            vmax=0,
            extent=(0, duration, 0, sr / 2000),
            interpolation="nearest",
        )
        ax.set_ylabel("frequency (kHz)")
        ax.set_title(label, fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title)
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="magnitude (dB re. noisy max)", pad=0.01)
    return fig


def validation_curves_figure(curves: dict[str, Sequence[float]], baselines: dict[str, float]) -> plt.Figure:
    """Validation SNR (dB) per epoch for each trained variant, with each baseline as a horizontal line."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    for name, curve in curves.items():
        epochs = np.arange(1, len(curve) + 1)
        (line,) = ax.plot(epochs, curve, marker="o", ms=3, label=f"{name} net")
        if len(curve):
            best = int(np.argmax(curve))
            ax.plot(epochs[best], curve[best], marker="*", ms=12, color=line.get_color(), linestyle="none")
    for name, value in baselines.items():
        label, style = BASELINE_STYLE.get(name, (name, "-"))
        ax.axhline(value, color="gray", linestyle=style, linewidth=1, label=f"{label}: {value:.1f} dB")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation SNR (dB)")
    ax.set_title("Validation SNR per epoch (star = kept weights)")
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
