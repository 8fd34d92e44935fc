"""Issue 14 probe: cycle spinning at use. The noisy signal is denoised on K STFT frame grids (the signal delayed
by k·HOP/K samples, then advanced back) and the K outputs are averaged. No retraining. (The numbers in
docs/BENCHMARKS.md came from this script's first version, which spun the grids itself around the one-grid
`denoise_signal`, with each delayed copy's level normalised on its own; the product's version normalises once.)

usage: DENSELAB_DATA=../shared/data python research/cycle.py MODEL.pt K [K ...]"""
import json
import os
import sys
from pathlib import Path

import torch

from denselab.data.audio import HOP, snr_db
from denselab.studies import denoise_eval
from denselab.studies.denoise_model import denoise_signal, load_denoiser, load_pair

torch.set_num_threads(1)
DATA = Path(os.environ.get("DENSELAB_DATA", "../shared/data")) / "speech"
TUNE = {f"spk{a}_snt{b}.wav" for a in (1, 2) for b in (1, 2, 3)}
den = load_denoiser(sys.argv[1])
clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
n_val = len(clean) - int(len(clean) * 0.9) // HOP * HOP  # the product's validation part (last 10 %)


for K in map(int, sys.argv[2:]):
    den.grids = K  # the product's cycle spinning (`denoise_signal`); models from before it have grids = 1
    val = snr_db(clean[-n_val:], denoise_signal(den, noisy[-n_val:]))
    u = denoise_eval.unseen_check(den, DATA / "unseen", noisy - clean, seed=0, metrics=False)
    rows = u["rows"]
    m = lambda sel: denoise_eval.summarise([r for r in rows if sel(r)], ("gain_db",))["gain_db"]
    print(json.dumps({"model": Path(sys.argv[1]).parent.parent.name + "/" + Path(sys.argv[1]).stem, "K": K,
                      "val": round(val, 2), "tune": round(m(lambda r: r["file"] in TUNE), 2),
                      "held": round(m(lambda r: r["file"] not in TUNE), 2), "all": round(u["mean"]["gain_db"], 2),
                      "spk": {k: round(v["gain_db"], 2) for k, v in u["per_speaker"].items()},
                      "at": {k: round(v["gain_db"], 2) for k, v in u["per_snr"].items()},
                      "pass": [round(u["passthrough"]["mean_snr_db"], 2), round(u["passthrough"]["worst_snr_db"], 2)]}),
          flush=True)
