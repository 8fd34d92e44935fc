"""Issue 14 probes (rows WV8_rng and WV8_ls6 of docs/BENCHMARKS.md): the product's WORLD voice copies
(`audio.voice_copies`) with one of three changes, swapped into `denoise_data` by `install`:
- RANGES: copy i scales its f0 contour's spread around the mean log f0 by RANGES[i % len(RANGES)] (intonation);
- LOWSHELF: every copy's envelope gets a LOWSHELF[0] dB low shelf below ~LOWSHELF[1] Hz (a stronger fundamental);
- BREATHY: copy i's periodic share 1 − aperiodicity is scaled by BREATHY[i % len(BREATHY)] (< 1: a breathier voice).
The defaults change nothing."""
import math
import numpy as np
import pyworld as pw
from denselab.data.audio import WORLD_FRAME_MS, spectrum

RANGES = [1.0]
LOWSHELF = [0.0, 300.0]  # gain (dB) and corner (Hz)
BREATHY = [1.0]  # copy i's periodic share (1 − aperiodicity) times BREATHY[i % len]: < 1 = breathier


def _stretch(env, formant):  # (T, F) along frequency: value at bin f read from bin f / formant
    F = env.shape[1]
    pos = np.clip(np.arange(F) / formant, 0, F - 1)
    lo = np.floor(pos).astype(int); hi = np.minimum(lo + 1, F - 1); w = pos - lo
    return np.ascontiguousarray(env[:, lo] * (1 - w) + env[:, hi] * w)


def voice_copies_probe(s, sr, voices):
    x = s.astype(np.float64)
    f0, t = pw.dio(x, sr, frame_period=WORLD_FRAME_MS)
    f0 = pw.stonemask(x, f0, t, sr)
    sp, ap = pw.cheaptrick(x, f0, t, sr), pw.d4c(x, f0, t, sr)
    freqs = np.arange(sp.shape[1]) * sr / (2 * (sp.shape[1] - 1))
    shelf = 10 ** (LOWSHELF[0] / 10 / (1 + np.exp((freqs - LOWSHELF[1]) / 50.0)))  # power gain, after the stretch
    voiced = f0 > 0
    mean = np.mean(np.log(f0[voiced]))
    ref = float((spectrum(s).abs() ** 2).mean())
    out = []
    for i, (pitch, formant) in enumerate(voices):
        r = RANGES[i % len(RANGES)]
        g = f0.copy()
        if r != 1.0:
            g[voiced] = np.exp(mean + r * (np.log(f0[voiced]) - mean))
        env = _stretch(sp, formant) * shelf if LOWSHELF[0] else _stretch(sp, formant)
        a = np.clip(_stretch(ap, formant), 0, 1)
        if BREATHY[i % len(BREATHY)] != 1.0:
            a = 1.0 - (1.0 - a) * BREATHY[i % len(BREATHY)]
        y = pw.synthesize(g * pitch, np.ascontiguousarray(env), np.ascontiguousarray(a), sr, WORLD_FRAME_MS)
        z = spectrum(y[:len(s)].astype(np.float32))
        out.append(z * math.sqrt(ref / max(float((z.abs() ** 2).mean()), 1e-30)))
    return out


def install(ranges=(1.0,), lowshelf=(0.0, 300.0), breathy=(1.0,)):
    from denselab.studies import denoise_data
    BREATHY[:] = list(breathy)
    RANGES[:] = list(ranges)
    LOWSHELF[:] = list(lowshelf)
    denoise_data.voice_copies = voice_copies_probe
