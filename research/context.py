"""Issue 14 probe: the mask net sees ±C neighbouring STFT frames (standardised log|X| of 2C+1 frames in, the
centre frame's mask out), on today's training data (frame grids, speed and WORLD copies). Swapped into
`denoise` / `denoise_model` by `install(C)` before `split_for`; windows never cross a copy's or a grid's edge
(clamped to it); at use, the file's edge frames are repeated. Research only: the saved model.pt does not reload."""
import torch
from denselab.models.mlp import build_mlp
from denselab.studies import denoise, denoise_data, denoise_model as dm

C = 1
POOL = 1  # the neighbours' standardised log|X| averaged over groups of POOL bins (1 = all 513 bins)
NOISE = "window"  # "window": contiguous noise frames; "indep": each window position draws its own noise frame
WINDOW = [None]  # the batch's (B, 2C+1, 513) |X| windows while the product's loss runs on their centre frames
SEGMENTS = []  # frame counts of the grids, the noise grids and the copies, in the order split_pair makes them


def _record_spectrum(f):
    def g(*a, **k):
        out = f(*a, **k); SEGMENTS.append(len(out)); return out
    return g


def _record_voices(f):
    def g(*a, **k):
        out = f(*a, **k); SEGMENTS.extend(len(o) for o in out); return out
    return g


def _window_table(lengths):  # (sum(lengths), 2C+1) indices of each frame's window, clamped to its segment
    rows, o = [], 0
    for n in lengths:
        i = torch.arange(o, o + n)[:, None] + torch.arange(-C, C + 1)[None]
        rows.append(i.clamp(o, o + n - 1)); o += n
    return torch.cat(rows)


def _inputs(z):  # (B, 2C+1, F) -> (B, F + 2C·ceil(F/POOL)): the centre frame whole, the neighbours pooled
    if POOL == 1:
        return z.flatten(1)
    B, W, F = z.shape
    nb = torch.cat([z[:, :C], z[:, C + 1:]], 1)
    nb = torch.nn.functional.pad(nb, (0, -F % POOL), mode="replicate").view(B, W - 1, -1, POOL).mean(-1)
    return torch.cat([z[:, C], nb.flatten(1)], 1)


def install(context: int, shifts: int, n_speed: int, noise: str = "window", pool: int = 1):
    global C, SPEECH_WIN, NOISE_WIN, NOISE, POOL
    C, NOISE, POOL = context, noise, pool
    denoise_data.spectrum = _record_spectrum(denoise_data.spectrum)
    denoise_data.voice_copies = _record_voices(denoise_data.voice_copies)
    plain_new = denoise.new_denoiser

    def new(variant, hidden, feat_mean, *a, **k):
        den = plain_new(variant, hidden, feat_mean, *a, **k)
        n = len(feat_mean)
        den.net = build_mlp((n + 2 * C * -(-n // POOL), *map(int, hidden), n), activation="relu", init="he",
                            dropout=list(den.dropout), output_activation=dm.OUTPUT_ACTIVATION[variant])
        return den

    def est(den, mag, training=False):
        if training and WINDOW[0] is not None:  # inside `loss`: the windows of the centre frames `mag`
            mag = WINDOW[0]
        elif mag.dim() == 2:  # consecutive frames of one signal
            idx = (torch.arange(len(mag))[:, None] + torch.arange(-C, C + 1)[None]).clamp(0, len(mag) - 1)
            mag = mag[idx]
        out = den.net(_inputs(dm.net_input(mag, den)))  # (B, 2C+1, 513) standardised, then flattened
        if den.mask_power != 1.0 and not training:
            out = out ** den.mask_power
        return out * mag[:, C]

    def remix(split, cfg, gen, device):  # the product's draws (`remix_draw`), then the window around each frame
        remix_, i_s, i_n, a, b = denoise.remix_draw(split, cfg, gen)
        s = a[:, None, None] * split.speech_frames[SPEECH_WIN[i_s]]  # (B, 2C+1, 513)
        if cfg.hf_boost_db > 0:
            s = s * denoise.speech_eq(remix_, cfg, s.shape[2], split.sample_rate, gen)[:, None]
        win_n = NOISE_WIN[i_n]
        if NOISE == "indep":  # remixed windows: a random noise frame at every position (no noise sequence to learn)
            win_n = torch.where(remix_[:, None], torch.randint(len(NOISE_WIN), win_n.shape, generator=gen), win_n)
        return s + b[:, None, None] * split.noise_frames[win_n], s

    plain_loss = denoise.loss_fn

    def loss(den, x, s, kind="seglog", **kw):  # the product's loss on the centre frames; the net sees the whole window
        WINDOW[0] = x.abs()
        try:
            return plain_loss(den, x[:, C], s[:, C], kind, **kw)
        finally:
            WINDOW[0] = None

    denoise.new_denoiser = new
    denoise.estimate_magnitude = dm.estimate_magnitude = est
    denoise.remix_batch = remix
    denoise.loss_fn = loss

    def finish(split):  # after split_for: the window tables from the recorded segment lengths
        global SPEECH_WIN, NOISE_WIN
        grids, noise, speed, voices = SEGMENTS[:shifts], SEGMENTS[shifts:2 * shifts], \
            SEGMENTS[2 * shifts:2 * shifts + n_speed], SEGMENTS[2 * shifts + n_speed:]
        SPEECH_WIN, NOISE_WIN = _window_table(grids + speed + voices), _window_table(noise)
        assert len(SPEECH_WIN) == len(split.speech_frames) and len(NOISE_WIN) == len(split.noise_frames), SEGMENTS
    return finish
