"""Re-dating tracker notes with the frame model: python3 dsim.py SET B SHIFT_MS MODE [MINMOVE_MS]
For each tracker note (onset, pitch v, emitted): from the hop at emitted walk back while P[v] >= B
(at most 400 ms, not before the previous tracker note's onset + 30 ms); c = that hop's time - SHIFT.
MODE early: onset = min(onset, c) when c < onset - MINMOVE; MODE any: onset = c."""
import sys, os, numpy as np, collections
from common import *
from study import score, report, renders, probabilities, SLOW
import model as M
S, B, SH, MODE = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]) / 1000, sys.argv[4]
MM = float(sys.argv[5]) / 1000 if len(sys.argv) > 5 else 0.0
m = M.load('w_mlp64_devjxsyn2.npz')
R = {}
for n, d, fam, t, tp in renders(S, f'trk2/{S}'):
    T = len(t)
    P = probabilities(m, d)
    tr = [(on, int(p), em) for on, off, p, em in read_trk(tp)]
    nd = []
    for k, (on, v, em) in enumerate(tr):
        b = v - 28
        if not 0 <= b < 81: nd.append((on, v, em)); continue
        j = min(np.searchsorted(t, em), T - 1)
        lo = np.searchsorted(t, max(em - 0.4, (tr[k - 1][0] + 0.03) if k else 0))
        if P[j, b] < B: nd.append((on, v, em)); continue
        while j - 1 >= lo and P[j - 1, b] >= B: j -= 1
        c = t[j] - SH
        if MODE == 'early': nd.append((c if c < on - MM else on, v, em))
        else: nd.append((c, v, em))
    ref = [(on, int(p)) for on, off, p in d['notes']]
    score(R, fam, ref, (('trk', tr), ('redate', nd)))
print(f'{S} B={B} shift={SH} mode={MODE} minmove={MM}')
report(R, 4)
