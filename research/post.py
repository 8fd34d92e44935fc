"""Inference-time mask transforms on a trained mask model (no retraining): floor, power, time smoothing.

usage: post.py MODEL.pt 'name:json' ...   json keys: floor, gamma, ss (over-subtraction), ssband ([lo, hi] bins), lfgamma ([bins, power]), tsmooth (frames, odd), fsmooth (bins, odd), lf (bins), lfmin, warp (list of factors), twice (second pass's mask power), gl (Griffin-Lim steps), zclip, levels (dB list: masks averaged)"""
import os
import json, sys
from pathlib import Path
import torch
import torch.nn.functional as F
from denselab.data.audio import inverse_spectrum, spectrum
from denselab.studies import denoise_model as dm
from denselab.studies.denoise_eval import unseen_check, summarise
from denselab.studies.denoise_model import load_denoiser, load_pair

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
TUNE = {f"spk{a}_snt{b}.wav" for a in (1, 2) for b in (1, 2, 3)}
P = {}

def warp(z, a):  # z (N, F): the value at bin f read from bin f·a (linear interpolation, clamped)
    F_ = z.shape[1]
    pos = (torch.arange(F_, dtype=torch.float32) * a).clamp(0, F_ - 1)
    lo = pos.floor().long(); hi = (lo + 1).clamp_max(F_ - 1); w = pos - lo
    return z[:, lo] * (1 - w) + z[:, hi] * w

def est(den, mag, training=False):
    if "warp" in P:  # vocal-tract-length normalisation at use: the net reads log|X| at bins f·a, its mask is
        lz = torch.log(mag + den.eps)  # moved back, and the masks of all factors a are averaged
        m = torch.stack([warp(den.net((warp(lz, a) - den.feat_mean) / den.feat_std), 1.0 / a) for a in P["warp"]]).mean(0)
    else:
        ms = []
        for db in P.get("levels", [0.0]):  # the masks of the input at these levels (dB) averaged
            z = dm.net_input(mag * 10.0 ** (db / 20.0), den)
            if "zclip" in P:  # standardised inputs clamped to ±zclip (out-of-range bins of voices never heard)
                z = z.clamp(-P["zclip"], P["zclip"])
            ms.append(den.net(z))
        m = torch.stack(ms).mean(0)  # (N, 513) mask
    if P.get("tsmooth", 1) > 1:
        k = P["tsmooth"]; m = F.avg_pool1d(m.T[None], k, 1, k // 2, count_include_pad=False)[0].T
    if P.get("fsmooth", 1) > 1:
        k = P["fsmooth"]; m = F.avg_pool1d(m[:, None], k, 1, k // 2, count_include_pad=False)[:, 0]
    if "gamma" in P: m = m ** P["gamma"]
    if "lfgamma" in P:  # the lowest lfgamma[0] bins: mask ** lfgamma[1] on top (< 1: milder there)
        k, g = P["lfgamma"]; m = torch.cat([m[:, :k] ** g, m[:, k:]], 1)
    if "ss" in P:  # a spectral-subtraction gain from the training noise's mean spectrum, scaled to the noise energy the
        # net removes from this chunk; the mask is raised to it where it removes more than that (P["ss"] = over-subtraction)
        e_n = ((mag * (1 - m)) ** 2).sum() / len(mag)  # per frame
        lam = NPSD * (e_n / NPSD.sum())  # (513,)
        m_ss = (1 - P["ss"] * lam / (mag ** 2).clamp_min(1e-20)).clamp_min(0).sqrt()
        lo, hi = P.get("ssband", [0, 513])
        m_ss[:, :lo] = 0; m_ss[:, hi:] = 0
        m = torch.maximum(m, m_ss)
    if "twice" in P:  # a second pass: the net denoises its own output (brought back to the chunk's level), mask**twice
        out = m * mag
        g = ((mag ** 2).sum() / (out ** 2).sum().clamp_min(1e-20)).sqrt()
        m = m * den.net(dm.net_input(out * g, den)) ** P["twice"]
    if "floor" in P: m = m.clamp_min(P["floor"])
    if "lf" in P:  # the lowest P["lf"] bins (15.6 Hz each) get a mask of at least P["lfmin"] (default 1: passed)
        m = torch.cat([m[:, :P["lf"]].clamp_min(P.get("lfmin", 1.0)), m[:, P["lf"]:]], 1)
    return m * mag

dm.estimate_magnitude = est
_one_grid = dm._denoise_one_grid

def one_grid_gl(den, y, gain, chunk_frames):
    """`gl` > 0: Griffin-Lim steps after the noisy-phase reconstruction (the estimate's magnitude, the phase of the
    STFT of the last reconstruction), on the whole signal as one chunk (the check's files are short)."""
    if not P.get("gl"):
        return _one_grid(den, y, gain, chunk_frames)
    pad = den.n_fft
    z = torch.zeros(len(y) + 2 * pad)
    z[pad:pad + len(y)] = torch.from_numpy(y) * gain
    spec = spectrum(z, den.n_fft, den.hop)
    est_mag = dm.estimate_magnitude(den, spec.abs())
    phase = spec
    for _ in range(1 + P["gl"]):
        rec = inverse_spectrum(dm.with_noisy_phase(phase, est_mag), len(z), den.n_fft, den.hop)
        phase = spectrum(rec, den.n_fft, den.hop)
    return rec[pad:pad + len(y)].numpy()

dm._denoise_one_grid = one_grid_gl
den = load_denoiser(sys.argv[1])
clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
NPSD = (spectrum((noisy - clean).astype("float32")).abs() ** 2).mean(0)  # (513,) shape of the noise spectrum
for spec in sys.argv[2:]:
    name, js = spec.split(":", 1)
    P.clear(); P.update(json.loads(js))
    u = unseen_check(den, DATA / "unseen", noisy - clean, seed=0, metrics=False)
    rows = u["rows"]
    m = lambda sel: summarise([r for r in rows if sel(r)], ("gain_db",))["gain_db"]
    print(json.dumps({"name": name, "model": Path(sys.argv[1]).stem, "tune": round(m(lambda r: r["file"] in TUNE), 2),
          "held": round(m(lambda r: r["file"] not in TUNE), 2), "all": round(u["mean"]["gain_db"], 2),
          "at": {k: round(v["gain_db"], 2) for k, v in u["per_snr"].items()},
          "pass": [round(u["passthrough"]["mean_snr_db"], 1), round(u["passthrough"]["worst_snr_db"], 1)]}), flush=True)
