"""Simulated integration of the frame model with the tracker's notes (causal merges).
python3 hybrid.py WEIGHTS.npz SETS K THR [BACK SHIFT_MS]
SETS: comma list of jy,jq or 'val' (validation melodies of the training split; tracker run on them into trk/val/).
Variants (note F1, +-50 ms, same pitch; median latency = decision - written onset):
  trk      : tracker alone (onset_s dated, emitted_s decision)
  model    : frame-model decoder alone (decode.py, K hops, thr)
  union    : causal merge: whichever source announces a note first emits it; a later announcement of
             the same pitch whose dated onset is within 80 ms of an already emitted one is dropped
  repitch  : tracker's notes, pitch replaced by the model's argmax pitch averaged over the hops
             from the tracker's onset_s to emitted_s (replacement pitch estimate, no extra latency)
"""
import sys, os, numpy as np
from common import *
import model as M
from decode import decode, match
from tune import val_renders

wpath, SETS, K, THR = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), float(sys.argv[4])
BACK, SHMS = (float(sys.argv[5]), float(sys.argv[6])) if len(sys.argv) > 6 else (0.0, 0.0)
m = M.load(wpath)
GROUPS = {'strings-ensemble': 'slow3', 'synth-pad': 'slow3', 'voice': 'slow3'}
WAVDIR = {'dev': '/work/dataset/dev', 'jx': '/tmp/jx/dev', 'jw': '/tmp/jw/dev'}

def fams():
    out = {}
    for p in ('/work/dataset/manifest.tsv', '/tmp/jx/manifest.tsv', '/tmp/jw/manifest.tsv', '/tmp/jy/manifest.tsv', '/tmp/jq/manifest.tsv'):
        L = open(p).read().splitlines(); h = L[0].split('\t')
        for ln in L[1:]:
            c = ln.split('\t'); out[c[h.index('name')]] = c[h.index('family')]
    return out
FAM = fams()


def items():
    if SETS == ['val']:
        os.makedirs('trk/val', exist_ok=True)
        cache = {}
        for s, n in val_renders():
            if s not in cache: cache = {s: load_set(f'feats/{s}.npz')}
            tp = f'trk/val/{n}.tsv'
            if not os.path.exists(tp):
                os.system(f'/tmp/mp/release/continuo render {WAVDIR[s]}/{n}.wav --tsv {tp} > /dev/null 2>&1')
            yield n, cache[s][n], tp
    else:
        for s in SETS:
            F = load_set(f'feats/{s}.npz')
            for n, d in F.items(): yield n, d, f'trk/{s}/{n}.tsv'

R = {}
for n, d, tp in items():
    g = GROUPS.get(FAM.get(n, '?'), 'others')
    T = len(d['y']); fs = int(d['fs']); t = (np.arange(T) + 1) * HOP / fs
    X = normalise(build(d, np.arange(T)))
    z = m.forward(X); AG = None
    if z.shape[1] > NB + 1:
        za = z[:, NB + 1:]; za = np.exp(za - za.max(1, keepdims=True)); AG = za / za.sum(1, keepdims=True); z = z[:, :NB + 1]
    z -= z.max(1, keepdims=True); P = np.exp(z); P /= P.sum(1, keepdims=True)
    ref = [(on, int(p)) for on, off, p in d['notes']]
    tr = [(on, int(p), em) for on, off, p, em in read_trk(tp)]
    mo = decode(P, t, K, 1, THR, 1.0, 20, BACK, 40, SHMS, AG)
    # union
    ev = sorted([(e[2], 0, e) for e in tr] + [(e[2], 1, e) for e in mo])
    un = []
    for dt, src, e in ev:
        if any(u[1] == e[1] and abs(u[0] - e[0]) < 0.08 for u in un[-4:]): continue
        un.append(e)
    # repitch
    Pp = P[:, :NONE]
    rp = []
    for on, p, em in tr:
        a, b = np.searchsorted(t, on), np.searchsorted(t, em, side='right')
        b = max(b, a + 1)
        rp.append((on, int(Pp[a:b].mean(0).argmax()) + 28, em))
    for key in (g, 'ALL'):
        A = R.setdefault(key, {v: [0, 0, 0, []] for v in ('trk', 'model', 'union', 'repitch')})
        for v, est in (('trk', tr), ('model', mo), ('union', un), ('repitch', rp)):
            nm, lat = match(ref, est)
            A[v][0] += nm; A[v][1] += len(ref); A[v][2] += len(est); A[v][3] += lat

print(f'{wpath} sets={SETS} K={K} thr={THR} Kn=20 back={BACK} shift_ms={SHMS}')
for key in ('slow3', 'others', 'ALL'):
    if key not in R: continue
    out = []
    for v, N in R[key].items():
        p = N[0] / max(N[2], 1); r = N[0] / max(N[1], 1); f = 2 * p * r / max(p + r, 1e-9)
        out.append(f'{v} F1 {f:.3f} (P {p:.3f} R {r:.3f}, lat {1000 * np.median(N[3]):.0f}ms)')
    print(f'{key:7s} ' + ' | '.join(out))
