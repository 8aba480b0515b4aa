"""Decoder tuning + error analysis on the VALIDATION melodies of the training split (not jy/jq).
python3 tune.py WEIGHTS.npz
"""
import sys, os, itertools, numpy as np
from common import *
import model as M
from decode import decode, match

def val_renders():
    held = set()
    for s in ('jy', 'jq'):
        held |= {melody(n[:-4]) for n in os.listdir(f'/tmp/{s}/dev') if n.endswith('.wav')}
    rng = np.random.default_rng(1); mels = {}; out = []
    for s in ('dev', 'jx', 'jw'):
        z = np.load(f'feats/{s}.npz')
        names = []
        for k in z.files:
            n = k.split('|')[0]
            if not names or names[-1] != n: names.append(n)
        for n in names:
            m = melody(n)
            if m in held: continue
            if m not in mels: mels[m] = rng.random() < 0.08
            rng.integers(0, 3)
            if mels[m]: out.append((s, n))
    return out

if __name__ == '__main__':
    m = M.load(sys.argv[1])
    vr = val_renders(); print(len(vr), 'val renders')
    cache = {}
    data = []
    for s, n in vr:
        if s not in cache: cache = {s: load_set(f'feats/{s}.npz')}
        d = cache[s][n]
        T = len(d['y']); fs = int(d['fs']); t = (np.arange(T) + 1) * HOP / fs
        X = normalise(build(d, np.arange(T)))
        z = m.forward(X); z -= z.max(1, keepdims=True); P = np.exp(z); P /= P.sum(1, keepdims=True)
        data.append((P.astype(np.float32), t, d['y'].astype(int), d['notes']))
    # error analysis for hops >= 100 ms after onset
    kinds = {'none': 0, 'oct': 0, 'semi': 0, 'fifth': 0, 'other': 0}; tot = 0; ok = 0
    for P, t, y, notes in data:
        since = np.full(len(t), 1e9)
        for on in notes[:, 0]:
            mk = t >= on; since[mk] = np.minimum(since[mk], t[mk] - on)
        mk = (y != NONE) & (since >= 0.1); pr = P.argmax(1)[mk]; yy = y[mk]
        tot += mk.sum(); ok += (pr == yy).sum()
        bad = pr != yy; dp = np.abs(pr[bad] - yy[bad])
        kinds['none'] += (pr[bad] == NONE).sum(); nn = pr[bad] != NONE
        kinds['oct'] += (nn & (dp % 12 == 0)).sum(); kinds['semi'] += (nn & (dp <= 2)).sum()
        kinds['fifth'] += (nn & ((dp == 7) | (dp == 19))).sum()
    print('late (>=100ms) frame acc', ok / tot, {k: round(v / tot, 3) for k, v in kinds.items()})
    for nb in (1.0, 2.0, 4.0, 8.0):
        tot = ok = 0
        for P, t, y, notes in data:
            Q = P.copy(); Q[:, NONE] /= nb; pr = Q.argmax(1); mk = y != NONE
            tot += mk.sum(); ok += (pr[mk] == y[mk]).sum()
        print('none divided by', nb, 'sounding frame acc', round(ok / tot, 4))
    for nd, K, Kn, thr in itertools.product((1.0, 4.0, 8.0), (3, 4, 5, 8), (0, 20), (0.0, 0.5)):
        nm = nr = ne = 0; lat = []
        for P, t, y, notes in data:
            est = decode(P, t, K, 1, thr, nd, Kn)
            a, l = match([(on, int(p)) for on, off, p in notes], est)
            nm += a; nr += len(notes); ne += len(est); lat += l
        p = nm / max(ne, 1); r = nm / nr
        print(f'nonediv={nd} K={K} Kn={Kn} thr={thr}: F1 {2 * p * r / max(p + r, 1e-9):.3f} P {p:.3f} R {r:.3f} med lat {1000 * np.median(lat):.0f} ms', flush=True)
