"""Issue 14 probe: test-time frequency warping (vocal-tract-length normalisation as an ensemble), no retraining.
The net sees log|X| read at bins f·a (a > 1: the voice moved down, towards the training voice), its mask is
moved back to the input's bins, and the masks of all factors are averaged.

usage: post-style: warp.py MODEL.pt 'name:[a1, a2, ...]' ..."""
import os, json, sys
from pathlib import Path
import torch
from denselab.studies import denoise_model as dm
from denselab.studies.denoise_eval import unseen_check, summarise
from denselab.studies.denoise_model import load_denoiser, load_pair

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", "../shared/data")) / "speech"
TUNE = {f"spk{a}_snt{b}.wav" for a in (1, 2) for b in (1, 2, 3)}
A = [1.0]

def warp(z, a):  # z (N, F): value at bin f taken from bin f*a (linear interpolation, clamped)
    F_ = z.shape[1]
    pos = (torch.arange(F_, dtype=torch.float32) * a).clamp(0, F_ - 1)
    lo = pos.floor().long(); hi = (lo + 1).clamp_max(F_ - 1); w = pos - lo
    return z[:, lo] * (1 - w) + z[:, hi] * w

def est(den, mag, training=False):
    lz = torch.log(mag + den.eps)
    ms = []
    for a in A:
        m = den.net((warp(lz, a) - den.feat_mean) / den.feat_std)
        ms.append(warp(m, 1.0 / a))
    m = torch.stack(ms).mean(0)
    if den.mask_power != 1.0 and not training:
        m = m ** den.mask_power
    return m * mag

dm.estimate_magnitude = est
den = load_denoiser(sys.argv[1])
clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
for spec in sys.argv[2:]:
    name, js = spec.split(":", 1)
    A[:] = json.loads(js)
    u = unseen_check(den, DATA / "unseen", noisy - clean, seed=0, metrics=False)
    rows = u["rows"]
    m = lambda sel: summarise([r for r in rows if sel(r)], ("gain_db",))["gain_db"]
    print(json.dumps({"name": name, "model": Path(sys.argv[1]).parent.name, "tune": round(m(lambda r: r["file"] in TUNE), 2),
          "held": round(m(lambda r: r["file"] not in TUNE), 2), "all": round(u["mean"]["gain_db"], 2),
          "spk": {k: round(v["gain_db"], 2) for k, v in u["per_speaker"].items()},
          "at": {k: round(v["gain_db"], 2) for k, v in u["per_snr"].items()},
          "pass": [round(u["passthrough"]["mean_snr_db"], 1), round(u["passthrough"]["worst_snr_db"], 1)]}), flush=True)
