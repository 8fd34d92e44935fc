"""Ensemble of saved mask models (the nets' outputs averaged before the sigmoid; the first model's mask power and
grids): unseen check on the seed-0 mixtures. The models must share the input features (`--act`, `--pow`, context
and phase probes cannot be mixed in). usage: ens.py NAME model.pt model.pt ..."""
import os
import json, sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from torch import nn
from denselab.studies.denoise_model import load_denoiser, load_pair
from denselab.studies.denoise_eval import unseen_check, summarise
DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
TUNE = {f"spk{a}_snt{b}.wav" for a in (1, 2) for b in (1, 2, 3)}
class Mean(nn.Module):
    def __init__(self, nets): super().__init__(); self.nets = nn.ModuleList(nets)
    def forward(self, x): return torch.stack([n(x) for n in self.nets]).mean(0)
dens = [load_denoiser(p) for p in sys.argv[2:]]
den = dens[0]; den.net = Mean([d.net for d in dens])
clean, noisy, sr, _ = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
u = unseen_check(den, DATA / "unseen", noisy - clean, seed=0, metrics=False)
rows = u["rows"]
m = lambda sel: summarise([r for r in rows if sel(r)], ("gain_db",))["gain_db"]
out = {"name": sys.argv[1], "tune": m(lambda r: r["file"] in TUNE), "held": m(lambda r: r["file"] not in TUNE),
       "all": u["mean"]["gain_db"], "spk": {k: v["gain_db"] for k, v in u["per_speaker"].items()},
       "at": {k: v["gain_db"] for k, v in u["per_snr"].items()},
       "pass": [u["passthrough"]["mean_snr_db"], u["passthrough"]["worst_snr_db"]]}
line = json.dumps(out, default=lambda x: round(x, 2)); print(line)
open(Path(__file__).with_name("results.jsonl"), "a").write(line + "\n")
