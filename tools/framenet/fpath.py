"""Simulated frame path: tracker notes + starts proposed by the frame model where the tracker has
none. python3 fpath.py SET TRKDIR K THR [W_MS] [ONLYSLOW]
A frame start at hop i: argmax (not none) band v with P>=THR on each of the last K hops, v is not
the tracker's sounding note at t_i (a tracker note with onset<=t_i<offset, emitted<=t_i), no tracker
note of v emitted within W ms before, and no frame start of v in the last 150 ms. Dated at the run
start walked back while P[v]>=0.1 (<=40 hops), less 40 ms. A tracker note of the same pitch emitted
later with onset within 80 ms of a frame start is dropped (the frame start took it)."""
import sys, numpy as np
from common import *
from study import score, report, renders, probabilities, SLOW
import model as M
S, TD, K, THR = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
W = float(sys.argv[5]) / 1000 if len(sys.argv) > 5 else 0.15
ONLYSLOW = len(sys.argv) > 6 and sys.argv[6] == '1'
m = M.load('w_mlp64_devjxsyn2.npz')
R = {}
for n, d, fam, t, tp in renders(S, TD):
    T = len(t)
    P = probabilities(m, d)
    am = P.argmax(1); pm = P[np.arange(T), am]
    tr = [(on, int(p), em, off) for on, off, p, em in read_trk(tp)]
    fr = []
    if not ONLYSLOW or fam in SLOW:
        run_v, run_n, run_s = -1, 0, 0
        for i in range(T):
            v = am[i] if pm[i] >= THR and am[i] != NONE else -1
            if v == run_v: run_n += 1
            else: run_v, run_n, run_s = v, 1, i
            if v < 0 or run_n != K: continue
            mp = v + 28; ti = t[i]
            if any(e[2] <= ti and e[0] <= ti < e[3] and e[1] == mp for e in tr): continue
            if any(e[1] == mp and ti - W <= e[2] <= ti for e in tr): continue
            if any(f[1] == mp and ti - f[2] < 0.15 for f in fr): continue
            j = run_s
            while j - 1 > max(run_s - 40, 0) and P[j - 1, v] >= 0.1: j -= 1
            fr.append((t[j] - 0.04, mp, ti))
    un = list(fr)
    for e in tr:
        if any(f[1] == e[1] and abs(f[0] - e[0]) < 0.08 and f[2] <= e[2] for f in fr): continue
        un.append(e[:3])
    ref = [(on, int(p)) for on, off, p in d['notes']]
    score(R, fam, ref, (('trk', [e[:3] for e in tr]), ('union', un)))
print(f'{S} K={K} thr={THR} W={W} onlyslow={ONLYSLOW}')
report(R)
