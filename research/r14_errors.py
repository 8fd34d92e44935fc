"""Issue 14 diagnostic: on the unseen check's mixtures (seed-0 offsets), where a denoiser's error lies, per speaker,
input SNR and frequency band, as shares of the total error: `dist` = speech the mask removes, |(1 − m) S|²;
`resid` = noise it lets through, |m N|².

usage: DENSELAB_DATA=../shared/data python research/r14_errors.py MODEL.pt"""
import os
import sys
from pathlib import Path

import numpy as np
import torch

from denselab.data.audio import load_wav, spectrum
from denselab.data.speech_metrics import mix_at_snr, noise_excerpt
from denselab.studies.denoise_eval import clean_files, speaker_of
from denselab.studies.denoise_model import estimate_magnitude, load_denoiser, load_pair, signal_gain

D = Path(os.environ.get("DENSELAB_DATA", "../shared/data")) / "speech"
torch.set_num_threads(2)
den=load_denoiser(sys.argv[1]); den.net.eval()
clean,noisy,sr,_=load_pair(D/'train_clean_male.wav',D/'train_dirty_male.wav'); noise=noisy-clean
edges=[0,16,32,64,128,192,256,384,513]
print('band(Hz)   ', ' '.join(f'{int(a*15.625):>5}-{int(b*15.625):<5}' for a,b in zip(edges,edges[1:])))
acc={}
for i,p in enumerate(clean_files(D/'unseen')):
    s,_=load_wav(p,sr=sr)
    for j,snr in enumerate((0.,5.,10.)):
        off=int(np.random.default_rng([0,i,j]).integers(len(noise)))
        x,_=mix_at_snr(s,noise_excerpt(noise,len(s),off),snr)
        g=signal_gain(x,den.ref_rms)
        X=spectrum(torch.tensor(x*g,dtype=torch.float32)); S=spectrum(torch.tensor(s*g,dtype=torch.float32)); N=X-S
        with torch.no_grad(): M=estimate_magnitude(den,X.abs())/X.abs().clamp_min(1e-12)
        dist=((1-M)*S).abs().pow(2).sum(0); resn=(M*N).abs().pow(2).sum(0); es=S.abs().pow(2).sum()
        key=(speaker_of(p.stem),snr)
        a=acc.setdefault(key,[0,0]); a[0]=a[0]+dist/es; a[1]=a[1]+resn/es
for k,(d,r) in sorted(acc.items()):
    tot=float((d+r).sum())
    print(f'{k[0]:5s}{k[1]:4.0f} dist', ' '.join(f'{float(d[a:b].sum())/tot:11.3f}' for a,b in zip(edges,edges[1:])), f' total err frac {tot/ (6 if k[0]!="LJ" else 1):.3f}')
    print(f'{"":9s} resid', ' '.join(f'{float(r[a:b].sum())/tot:11.3f}' for a,b in zip(edges,edges[1:])))
