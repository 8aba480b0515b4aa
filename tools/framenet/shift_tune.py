"""val-split diagnosis: note F1 of the model decoder vs constant back-dating of its onsets, per group."""
import sys, numpy as np
from common import *
import model as M
from decode import decode, match
from tune import val_renders
FAM = {}
for pth in ('/work/dataset/manifest.tsv', '/tmp/jx/manifest.tsv', '/tmp/jw/manifest.tsv'):
    L = open(pth).read().splitlines(); h = L[0].split('\t')
    for ln in L[1:]:
        c = ln.split('\t'); FAM[c[h.index('name')]] = c[h.index('family')]
m = M.load(sys.argv[1]); cache = {}
R = {}
for s, n in val_renders():
    if s not in cache: cache = {s: load_set(f'feats/{s}.npz')}
    d = cache[s][n]; g = 'slow3' if FAM[n] in ('strings-ensemble', 'synth-pad', 'voice') else 'others'
    T = len(d['y']); t = (np.arange(T) + 1) * HOP / int(d['fs'])
    z = m.forward(normalise(build(d, np.arange(T)))); z -= z.max(1, keepdims=True); P = np.exp(z); P /= P.sum(1, keepdims=True)
    ref = [(on, int(p)) for on, off, p in d['notes']]
    for K in (5, 8):
      for bk in (0.0, 0.02, 0.05, 0.1, 0.2):
        est = decode(P, t, K, 1, 0.0, 1.0, 20, bk)
        for sh in (0, 20, 40):
            e2 = [(o - sh / 1000, p, dd) for o, p, dd in est]
            nm, lat = match(ref, e2)
            for key in (g, 'ALL'):
                A = R.setdefault((key, K, bk, sh), [0, 0, 0]); A[0] += nm; A[1] += len(ref); A[2] += len(e2)
for k in sorted(R):
    nm, nr, ne = R[k]; p = nm / ne; r = nm / nr
    print(k, f'F1 {2*p*r/(p+r):.3f} P {p:.3f} R {r:.3f}')
