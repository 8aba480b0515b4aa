"""Written repeats (the pitch before, within 0.3 s of its end) the tracker found or missed
(trk2/SET/*.tsv, `continuo render --tsv` of the current main), and how many of each an onset-age
network marks (P(age in bins A0..A1-1) >= 0.6 within 20 hops). python3 rstudy.py WEIGHTS SET A0 A1"""
import sys, os, numpy as np, collections
from common import *
from study import families, score, report, SLOW
import model as M
m = M.load(sys.argv[1]); S = sys.argv[2]; A0 = int(sys.argv[3]); A1 = int(sys.argv[4])
FAM = families()
C = collections.defaultdict(lambda: [0, 0, 0, 0])
for n, d in load_set(f'feats/{S}.npz').items():
    tp = f'trk2/{S}/{n}.tsv'
    if not os.path.exists(tp): continue
    T = len(d['y']); fs = int(d['fs']); t = (np.arange(T) + 1) * HOP / fs
    z = m.forward(normalise(build(d, np.arange(T)))); z -= z.max(1, keepdims=True); P = np.exp(z); P /= P.sum(1, keepdims=True)
    s = P[:, A0:A1].sum(1)
    tr = read_trk(tp); notes = d['notes']
    for k in range(1, len(notes)):
        on, off, p = notes[k]
        if notes[k-1][2] != p or on - notes[k-1][1] > 0.3: continue
        found = any(int(e[2]) == p and abs(e[0] - on) <= 0.05 for e in tr)
        i0 = np.searchsorted(t, on); pk = s[i0:i0 + 20].max() if i0 < T else 0
        c = C[FAM[n]]; c[0 if found else 1] += 1
        if pk >= 0.6: c[2 if found else 3] += 1
tot = [0]*4
for f, c in sorted(C.items()):
    print(f'{f:22s} found {c[0]:4d} (head {c[2]:4d})  missed {c[1]:4d} (head {c[3]:4d})')
    tot = [a+b for a, b in zip(tot, c)]
print('all', tot)
