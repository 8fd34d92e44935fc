"""Issue 14 probes (rows WV8_rng and WV8_ls6 of docs/BENCHMARKS.md): the product's WORLD voice copies
(`audio.voice_copies`) with one of four changes, swapped into `denoise_data` by `install`:
- RANGES: copy i scales its f0 contour's spread around the mean log f0 by RANGES[i % len(RANGES)] (intonation);
- LOWSHELF: every copy's envelope gets a LOWSHELF[0] dB low shelf below ~LOWSHELF[1] Hz (a stronger fundamental);
- WARP: copy i's envelope and aperiodicity warped piecewise-linearly in frequency, each band its own random factor;
- BREATHY: copy i's periodic share 1 − aperiodicity is scaled by BREATHY[i % len(BREATHY)] (< 1: a breathier voice).
The defaults change nothing."""
import math
import numpy as np
import pyworld as pw
from denselab.data.audio import WORLD_FRAME_MS, spectrum

RANGES = [1.0]
LOWSHELF = [0.0, 300.0]  # gain (dB) and corner (Hz)
BREATHY = [1.0]  # copy i's periodic share (1 − aperiodicity) times BREATHY[i % len]: < 1 = breathier


WARP = [0.0]  # copy i's envelope also warped piecewise-linearly: each of the bands 0-500-1500-3000 Hz-top
# stretched by its own random factor in [1 − WARP, 1 + WARP] (seeded by i; 0 = none): other vowel spaces
KNOTS_HZ = (0.0, 500.0, 1500.0, 3000.0)


def _stretch(env, formant, i=0, sr=16000):  # (T, F) along frequency: value at bin f read from bin f / formant
    F = env.shape[1]
    pos = np.arange(F) / formant
    if WARP[0]:  # output knots -> source knots, each band's width divided by its factor
        out = np.array([*KNOTS_HZ, sr / 2]) * (F - 1) / (sr / 2)
        r = np.random.default_rng(1000 + i).uniform(1 - WARP[0], 1 + WARP[0], len(out) - 1)
        src = np.concatenate([[0.0], np.cumsum(np.diff(out) / r)])
        pos = np.interp(pos, out, src)
    pos = np.clip(pos, 0, F - 1)
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
        env = _stretch(sp, formant, i, sr) * shelf if LOWSHELF[0] else _stretch(sp, formant, i, sr)
        a = np.clip(_stretch(ap, formant, i, sr), 0, 1)
        if BREATHY[i % len(BREATHY)] != 1.0:
            a = 1.0 - (1.0 - a) * BREATHY[i % len(BREATHY)]
        y = pw.synthesize(g * pitch, np.ascontiguousarray(env), np.ascontiguousarray(a), sr, WORLD_FRAME_MS)
        z = spectrum(y[:len(s)].astype(np.float32))
        out.append(z * math.sqrt(ref / max(float((z.abs() ** 2).mean()), 1e-30)))
    return out


def install(ranges=(1.0,), lowshelf=(0.0, 300.0), breathy=(1.0,), warp=0.0):
    from denselab.studies import denoise_data
    WARP[:] = [warp]
    BREATHY[:] = list(breathy)
    RANGES[:] = list(ranges)
    LOWSHELF[:] = list(lowshelf)
    denoise_data.voice_copies = voice_copies_probe
