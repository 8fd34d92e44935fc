"""Issue 14 diagnostic: the unseen-voice gain after every epoch beside the validation SNR (does early stopping on
the training voice stop where unseen voices peak?).

usage: epochs.py NAME '{"patience": 20}' [--seed N]   -> one JSON line per epoch on stdout"""
import argparse, dataclasses, json, os
from pathlib import Path
import torch
from denselab.studies import denoise
from denselab.studies.denoise_eval import unseen_check, summarise
from denselab.studies.denoise_model import load_pair

DATA = Path(os.environ.get("DENSELAB_DATA", "../shared/data")) / "speech"
TUNE = {f"spk{a}_snt{b}.wav" for a in (1, 2) for b in (1, 2, 3)}
ap = argparse.ArgumentParser(); ap.add_argument("name"); ap.add_argument("overrides", nargs="?", default="{}")
ap.add_argument("--seed", type=int, default=0); a = ap.parse_args()
torch.set_num_threads(1)
ov = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(a.overrides).items()}
cfg = denoise.Config(seed=a.seed, **ov)
clean, noisy, sr, tr = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
split = denoise.split_for(cfg, clean, noisy, sr, tr)
plain = denoise.denoise_signal
epoch = [0]
def spy(den, y, *args):
    out = plain(den, y, *args)
    if den.grids == 1:
        epoch[0] += 1
        full = dataclasses.replace(den, grids=cfg.denoise_grids, mask_power=cfg.mask_power)
        u = unseen_check(full, DATA / "unseen", noisy - clean, seed=0, metrics=False)
        rows = u["rows"]
        m = lambda sel: summarise([r for r in rows if sel(r)], ("gain_db",))["gain_db"]
        print(json.dumps({"name": a.name, "seed": a.seed, "epoch": epoch[0], "val1": round(denoise.snr_db(split.val_clean, out), 2),
                          "tune": round(m(lambda r: r["file"] in TUNE), 2), "held": round(m(lambda r: r["file"] not in TUNE), 2),
                          "all": round(u["mean"]["gain_db"], 2),
                          "spk": {k: round(v["gain_db"], 2) for k, v in u["per_speaker"].items()}}), flush=True)
    return out
denoise.denoise_signal = spy
res = denoise.train_variant("mask", split, cfg, "cpu", True)
print(json.dumps({"name": a.name, "seed": a.seed, "best_epoch": res.best_epoch, "val": round(res.validation_snr_db, 2)}))
