"""Simulated learned repeat path: tracker notes (trk2/SET) + re-starts of the tracker's last
note where an onset-age network (train_onset.py / train_rep.py) says a note began.
python3 rpath.py WEIGHTS SET TRKDIR THR [A1=6] [W_MS=150] [SLOWONLY]; env A0 (first age bin, 0), PF (0).
s(i) = P(age in bins A0..A1-1) at hop i. A repeat at hop i: v = the last tracker note known at t_i
(emitted <= t_i, ended at most 0.3 s before), the frame model's P(v) >= PF, s(i) >= THR, and no
tracker start or learned repeat within W ms before t_i. Dated at t_i - E[age | those bins].
Also prints how s peaks at written repeats, at new-pitch onsets and inside notes."""
import sys, os, numpy as np
from common import *
from study import score, report, renders, probabilities, SLOW
import model as M
wp, S, TD, THR = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
NBINS = int(sys.argv[5]) if len(sys.argv) > 5 else 6
W = float(sys.argv[6]) / 1000 if len(sys.argv) > 6 else 0.15
SLOWONLY = len(sys.argv) > 7 and sys.argv[7] == '1'
m = M.load(wp); mf = M.load('w_mlp64_devjxsyn2.npz')
A0 = int(os.environ.get('A0', '0')); PF = float(os.environ.get('PF', '0'))
R = {}; peaks = {'rep': [], 'new': [], 'inside': []}
for n, d, fam, t, tp in renders(S, TD):
    T = len(t)
    P = probabilities(m, d)
    s = P[:, A0:NBINS].sum(1)
    ea = (P[:, A0:NBINS] * (np.arange(A0, NBINS) * 0.01 + 0.005)).sum(1) / np.maximum(s, 1e-9)
    PFm = probabilities(mf, d)
    notes = d['notes']
    for k, (on, off, p) in enumerate(notes):
        i0 = np.searchsorted(t, on); seg = s[i0:i0 + 12]
        if len(seg) == 0: continue
        kind = 'rep' if k > 0 and notes[k - 1][2] == p and on - notes[k - 1][1] < 0.3 else 'new'
        peaks[kind].append(seg.max())
        j0 = np.searchsorted(t, on + 0.12); j1 = np.searchsorted(t, off - 0.0)
        if j1 > j0: peaks['inside'].append(s[j0:j1].max())
    tr = [(on, int(p), em, off) for on, off, p, em in read_trk(tp)]
    add = []
    if not SLOWONLY or fam in SLOW:
        last = -1.0
        for i in range(T):
            if s[i] < THR: continue
            ti = t[i]
            known = [e for e in tr if e[2] <= ti]
            if not known or ti - known[-1][3] > 0.3: continue
            v = known[-1][1]
            if PF > 0 and not (28 <= v < 109 and PFm[i, v - 28] >= PF): continue
            if any(ti - W <= e[2] <= ti for e in tr) or ti - last < W: continue
            add.append((ti - ea[i], v, ti)); last = ti
    ref = [(on, int(p)) for on, off, p in notes]
    un = [e[:3] for e in tr] + add
    score(R, fam, ref, (('trk', [e[:3] for e in tr]), ('rep', un)))
print(f'{wp} {S} thr={THR} bins={NBINS} W={W} slowonly={SLOWONLY}')
for k, v in peaks.items():
    v = np.array(v); print(f'  peak s in first 12 hops / inside notes: {k:6s} n={len(v)} >=0.3 {np.mean(v>=0.3):.3f} >=0.5 {np.mean(v>=0.5):.3f} >=0.7 {np.mean(v>=0.7):.3f}')
report(R)
