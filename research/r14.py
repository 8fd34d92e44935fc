"""Issue 14 research driver: train one denoiser variant with config overrides, run the unseen check.

usage: r14.py NAME '{"loss": "seglog", ...}' [--variant mask] [--seed 0] [--metrics] [--refit] [--freqmask W P]
       [--wd W] [--innoise S] [--f0range R ...] [--lowshelf DB HZ] [--breathy B ...] [--vwarp W] [--floor F]
       [--act silu|gelu|leaky] [--pow P] [--phase] [--lowboost DB LO HI] [--noisespeed F ... [--noiseshare P]]
       [--context C [--ctxnoise window|indep] [--ctxpool K]] [--noisemix P]   (see --help)
Appends one JSON line to research/results.jsonl."""
import os
import argparse, functools, json, time
from pathlib import Path
import torch
from denselab.studies import denoise
from denselab.studies.denoise_model import load_pair
from denselab.studies.denoise_eval import unseen_check, summarise

DATA = Path(os.environ.get("DENSELAB_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "speech"
TUNE = {f"spk{a}_snt{b}.wav" for a in (1, 2) for b in (1, 2, 3)}

ap = argparse.ArgumentParser()
ap.add_argument("name"); ap.add_argument("overrides", nargs="?", default="{}")
ap.add_argument("--variant", default="mask"); ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--metrics", action="store_true")
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--refit", action="store_true", help="train again on training + validation for the best epoch count")
ap.add_argument("--freqmask", type=float, nargs=2, default=None, metavar=("WIDTH", "P"), help="training only: with probability P per frame, one random band of up to WIDTH bins of the standardised input set to 0")
ap.add_argument("--wd", type=float, default=0.0, help="AdamW weight decay instead of Adam")
ap.add_argument("--innoise", type=float, default=0.0, help="training only: Gaussian noise of this std on the standardised input")
ap.add_argument("--f0range", type=float, nargs="+", default=None, help="voice copy i scales its f0 contour's spread by F0RANGE[i %% n]")
ap.add_argument("--context", type=int, default=0, help="the mask net sees ±CONTEXT neighbouring frames (research/context.py)")
ap.add_argument("--noisemix", type=float, default=0.0, help="probability of a two-frame noise mixture per training frame (research/noisemix.py)")
ap.add_argument("--ctxnoise", default="window", choices=("window", "indep"))
ap.add_argument("--ctxpool", type=int, default=1, help="neighbour frames averaged over groups of this many bins")
ap.add_argument("--lowshelf", type=float, nargs=2, default=None, metavar=("DB", "HZ"), help="voice copies' envelope: a low shelf of DB below HZ")
ap.add_argument("--floor", type=float, default=None, help="seglog floor: δ = FLOOR · the batch's mean ‖S_f‖² (loss_fn's `floor`, 1e-3)")
ap.add_argument("--breathy", type=float, nargs="+", default=None, help="voice copy i's periodic share x BREATHY[i %% n]")
ap.add_argument("--vwarp", type=float, default=0.0, help="voice copies: random piecewise-linear envelope warp of +-VWARP per band")
ap.add_argument("--pow", type=float, default=0.0, help="the mask net reads standardised |X|**POW (stats over the recorded training part) instead of log(|X| + eps); in-process only: the saved model reloads with the log input")
ap.add_argument("--eq", type=float, default=0.0, help="remixed speech also gets a random smooth EQ: a gain uniform in +-EQ dB at 125, 250, 500, 1000, 2000 and 4000 Hz per frame, linear in log frequency between them")
ap.add_argument("--act", default=None, choices=("silu", "gelu", "leaky"), help="the mask net's hidden activation instead of ReLU (He init kept); in-process only: the saved model reloads as ReLU")
ap.add_argument("--lowboost", type=float, nargs=3, default=None, metavar=("DB", "LO", "HI"), help="remixed speech also gets a random gain, uniform in 0..DB dB per frame, between LO and HI Hz (edges ~20 Hz wide): a stronger fundamental, as the unseen voices have (research/levels.py)")
ap.add_argument("--phase", action="store_true", help="the mask net also reads the neighbouring-bin phase steps (research/phase.py)")
ap.add_argument("--noisespeed", type=float, nargs="+", default=None, help="speed-perturbed copies of the training noise (research/noise_copies.py); --noiseshare of the remixed frames draw from them")
ap.add_argument("--noiseshare", type=float, default=0.5)
a = ap.parse_args()
if a.phase:
    import sys; sys.path.insert(0, str(Path(__file__).parent))
    import phase; phase.install()
if a.act:
    from torch import nn
    from denselab.models import mlp
    mlp.ACTIVATIONS["relu"] = {"silu": nn.SiLU, "gelu": nn.GELU, "leaky": lambda: nn.LeakyReLU(0.1)}[a.act]
if a.lowshelf or a.f0range or a.breathy or a.vwarp:
    import sys; sys.path.insert(0, str(Path(__file__).parent))
    import world_voices; world_voices.install(a.f0range or (1.0,), a.lowshelf or (0.0, 300.0), a.breathy or (1.0,), a.vwarp)
torch.set_num_threads(a.threads)
ov = json.loads(a.overrides)
for k, v in list(ov.items()):
    if isinstance(v, list): ov[k] = tuple(v)
cfg = denoise.Config(seed=a.seed, **ov)
if a.context:
    import sys; sys.path.insert(0, str(Path(__file__).parent))
    import context
    ctx_finish = context.install(a.context, cfg.frame_shifts, sum(1 for f in cfg.speed_factors if f > 0 and f != 1.0), a.ctxnoise, a.ctxpool)
clean, noisy, sr, tr = load_pair(DATA / "train_clean_male.wav", DATA / "train_dirty_male.wav")
split = denoise.split_for(cfg, clean, noisy, sr, tr)
if a.pow:
    import math
    from denselab.studies import denoise_model as dm
    gx = dm.REF_RMS / math.sqrt(split.noisy_power)
    px = ((gx * (split.clean_frames + split.noise_frames)).abs().double() ** a.pow)
    pmu, psd = px.mean(0).float(), px.std(0).clamp_min(1e-6).float()
    dm.net_input = lambda mag, den: (mag ** a.pow - pmu) / psd
if a.context:
    ctx_finish(split)
if a.noisespeed:
    import sys; sys.path.insert(0, str(Path(__file__).parent))
    import noise_copies
    split = noise_copies.install(split, clean, noisy, tuple(a.noisespeed), a.noiseshare)
def perturb_training_input(transform):
    """While training only, the net's standardised input (B, 513) goes through `transform` first."""
    from denselab.studies import denoise_model as dm
    plain = dm.estimate_magnitude
    def est(den, mag, training=False):
        if not training:
            return plain(den, mag, training)
        z = transform(dm.net_input(mag, den))
        return den.net(z) * mag if den.variant == "mask" else den.net(z) * den.mag_scale
    denoise.estimate_magnitude = est
if a.freqmask:
    width, prob = int(a.freqmask[0]), a.freqmask[1]
    fm_gen = torch.Generator().manual_seed(a.seed + 77)
    def band_zeroed(z):  # with probability `prob` per frame, one random band of up to `width` bins set to 0
        B, F = z.shape
        w = (torch.rand(B, generator=fm_gen) * (width + 1)).long() * (torch.rand(B, generator=fm_gen) < prob)
        lo = (torch.rand(B, generator=fm_gen) * (F - w)).long()
        f = torch.arange(F)[None]
        return torch.where((f >= lo[:, None]) & (f < (lo + w)[:, None]), 0.0, z)
    perturb_training_input(band_zeroed)
if a.wd:
    from denselab.training import make_optimizer as mk
    denoise.make_optimizer = lambda name, params, **kw: mk("adamw", params, weight_decay=a.wd, **kw)
if a.innoise:
    in_gen = torch.Generator().manual_seed(a.seed + 99)
    perturb_training_input(lambda z: z + a.innoise * torch.randn(z.shape, generator=in_gen))
if a.noisemix:
    import sys; sys.path.insert(0, str(Path(__file__).parent))
    import noisemix; noisemix.install(a.noisemix)
def extra_speech_eq(curve_db):
    """Remixed speech also gets `curve_db(remix, gen)`, a (B, 513) gain in dB drawn before the speech EQ so far."""
    inner = denoise.speech_eq
    def eq(remix, cfg_, n_bins, sr_, gen):
        curve = curve_db(remix, gen)  # drawn first: the order of the generator's draws is that of the rows' runs
        return inner(remix, cfg_, n_bins, sr_, gen) * 10.0 ** (curve / 20.0)
    denoise.speech_eq = eq
if a.eq:
    knots = torch.log2(torch.tensor([125.0, 250, 500, 1000, 2000, 4000]))
    lf = torch.log2(torch.linspace(0.0, split.sample_rate / 2, 513).clamp_min(1.0)).clamp(knots[0], knots[-1])
    ki = torch.searchsorted(knots, lf).clamp(1, len(knots) - 1)  # each bin lies between knots ki-1 and ki
    kw = (lf - knots[ki - 1]) / (knots[ki] - knots[ki - 1])
    def smooth_eq(remix, gen):  # a random smooth EQ on the remixed frames, linear in log frequency between knots
        db = (2 * torch.rand(len(remix), len(knots), generator=gen) - 1) * a.eq * remix[:, None]  # (B, 6)
        return db[:, ki - 1] * (1 - kw) + db[:, ki] * kw  # (B, 513) dB
    extra_speech_eq(smooth_eq)
if a.lowboost:
    lb_db, lb_lo, lb_hi = a.lowboost
    lb_f = torch.linspace(0.0, split.sample_rate / 2, 513)
    lb_shape = torch.sigmoid((lb_f - lb_lo) / 10.0) * torch.sigmoid((lb_hi - lb_f) / 10.0)  # (513,) 0..1
    extra_speech_eq(lambda remix, gen: (torch.rand(len(remix), generator=gen) * lb_db * remix)[:, None] * lb_shape)
if a.floor is not None:
    denoise.loss_fn = functools.partial(denoise.loss_fn, floor=a.floor)
t0 = time.time()
res = denoise.train_variant(a.variant, split, cfg, "cpu", True)
if a.refit:
    val1, epoch1 = res.validation_snr_db, res.best_epoch
    split2 = denoise.split_for(cfg, clean, noisy, sr, tr, refit=True)
    res = denoise.train_variant(a.variant, split2, cfg, "cpu", True, fixed_epochs=epoch1)
    res.validation_snr_db, res.best_epoch = val1, epoch1
secs = time.time() - t0
from denselab.studies.denoise_model import save_denoiser
models = Path(__file__).with_name("models")
models.mkdir(exist_ok=True)
if not (a.context or a.phase):
    save_denoiser(models / f"{a.name}_s{a.seed}.pt", res.den)
u = unseen_check(res.den, DATA / "unseen", noisy - clean, seed=0, metrics=a.metrics)
rows = u["rows"]
def m(sel, key="gain_db"):
    return summarise([r for r in rows if sel(r)], (key,))[key]
out = {"name": a.name, "overrides": a.overrides, "variant": a.variant, "seed": a.seed, "val": res.validation_snr_db,
       "epoch": res.best_epoch, "secs": round(secs, 1),
       "tune": m(lambda r: r["file"] in TUNE), "held": m(lambda r: r["file"] not in TUNE),
       "tune10": m(lambda r: r["file"] in TUNE and r["target_snr_db"] == 10),
       "all": u["mean"]["gain_db"], "spk": {k: v["gain_db"] for k, v in u["per_speaker"].items()},
       "at": {k: v["gain_db"] for k, v in u["per_snr"].items()},
       "pass": [u["passthrough"]["mean_snr_db"], u["passthrough"]["worst_snr_db"]],
       "oracle": u["mean"]["oracle_gain_db"]}
if a.metrics:
    out["si_sdr"] = u["mean"]["si_sdr_db"]; out["stoi"] = [u["mean"]["input_stoi"], u["mean"]["stoi"]]
    out["pesq"] = [u["mean"].get("input_pesq"), u["mean"].get("pesq")]
line = json.dumps(out, default=lambda x: round(x, 2))
print(line)
with open(Path(__file__).with_name("results.jsonl"), "a") as f:
    f.write(line + "\n")
