"""Evaluate a frame model vs the plugin tracker on held-out sets.
python3 eval.py WEIGHTS.npz [SETS=jy,jq] [K list=2,3,5] [FRAME_NONEDIV=1] [DEC_NONEDIV=1] [Kn=0] [thr=0] [BACK=0] [SHIFT_MS=0]
FRAME_NONEDIV: P(none) divided by this before the frame argmax (tuned on val split, tune.py).
Decoder (decode.py): new note when the argmax pitch (prob>=thr) holds K hops; 'none' must hold Kn hops.
Needs feats/<set>.npz (feat.py) and trk/<set>/<name>.tsv (continuo render output).
"""
import sys, json, numpy as np
from common import *
import model as M

wpath = sys.argv[1]
SETS = (sys.argv[2] if len(sys.argv) > 2 else 'jy,jq').split(',')
KS = [int(k) for k in (sys.argv[3] if len(sys.argv) > 3 else '2,3,5').split(',')]
FND, DND, KN, THR, BACK, SHMS = [float(x) for x in (sys.argv[4:10] + ['1', '1', '0', '0', '0', '0'][len(sys.argv[4:10]):])]
from decode import decode as dec2, match
m = M.load(wpath)
GROUPS = {'strings-ensemble': 'str-ens', 'synth-pad': 'synth-pad', 'voice': 'voice'}
EXCL = (0, 30, 60, 100)
CURVE = np.arange(0, 310, 10)  # ms bins since written onset

def fam_of(s):
    out = {}
    lines = open(f'/tmp/{s}/manifest.tsv').read().splitlines()
    h = lines[0].split('\t'); ni, fi = h.index('name'), h.index('family')
    for ln in lines[1:]:
        c = ln.split('\t'); out[c[ni]] = c[fi]
    return out


def newacc():
    return {'fr': {e: [0, 0, 0] for e in EXCL}, 'curve': np.zeros((2, 2, len(CURVE))),
            'notes': {k: [0, 0, 0, []] for k in ['trk'] + KS}, 'sil': [0, 0, 0]}

res = {}
for s in SETS:
    F = load_set(f'feats/{s}.npz'); fam = fam_of(s)
    for n, d in F.items():
        g = GROUPS.get(fam.get(n, '?'), 'others')
        T = len(d['y']); fs = int(d['fs']); t = (np.arange(T) + 1) * HOP / fs
        X = normalise(build(d, np.arange(T)))
        z = np.concatenate([m.forward(X[a:a + 8192]) for a in range(0, T, 8192)])
        AG = None
        if z.shape[1] > NB + 1:
            za = z[:, NB + 1:]; za = np.exp(za - za.max(1, keepdims=True)); AG = za / za.sum(1, keepdims=True); z = z[:, :NB + 1]
        z -= z.max(1, keepdims=True); P = np.exp(z); P /= P.sum(1, keepdims=True)
        Q = P.copy(); Q[:, NONE] /= FND; pred = Q.argmax(1)
        y = d['y'].astype(int)
        tr = np.array(read_trk(f'trk/{s}/{n}.tsv')).reshape(-1, 4)
        ty = np.full(T, NONE)
        for on, off, p, em in sorted(tr.tolist(), key=lambda r: r[3]):
            if 28 <= p < 109: ty[(t >= em) & (t < off)] = int(p) - 28
        notes = d['notes']
        since = np.full(T, 1e9)
        for on in notes[:, 0]:
            mk = t >= on; since[mk] = np.minimum(since[mk], t[mk] - on)
        snd = y != NONE
        for key in ((s, g), (s, 'ALL'), (s, 'slow3'), (s, 'fam:' + fam.get(n, '?'))):
            if key[1] == 'slow3' and g == 'others': continue
            A = res.setdefault(key, newacc())
            for e in EXCL:
                mk = snd & (since >= e / 1000)
                A['fr'][e][0] += mk.sum(); A['fr'][e][1] += (pred[mk] == y[mk]).sum(); A['fr'][e][2] += (ty[mk] == y[mk]).sum()
            A['sil'][0] += (~snd).sum(); A['sil'][1] += (pred[~snd] != NONE).sum(); A['sil'][2] += (ty[~snd] != NONE).sum()
            b = np.floor(since * 100).astype(int)  # 10 ms bins
            ok = snd & (b < len(CURVE))
            for which, pr in ((0, pred), (1, ty)):
                np.add.at(A['curve'][which, 0], b[ok], 1); np.add.at(A['curve'][which, 1], b[ok], pr[ok] == y[ok])
            ref = [(on, int(p)) for on, off, p in notes]
            est = {'trk': [(on, int(p), em) for on, off, p, em in tr]}
            for K in KS: est[K] = dec2(P, t, K, 1, THR, DND, int(KN), BACK, 40, SHMS, AG)
            for k, e in est.items():
                nm, lat = match(ref, e)
                N = A['notes'][k]; N[0] += nm; N[1] += len(ref); N[2] += len(e); N[3] += lat

def f1(N):
    p = N[0] / max(N[2], 1); r = N[0] / max(N[1], 1)
    return 2 * p * r / max(p + r, 1e-9), p, r

rows = []
print(f'frame none-div {FND}; decoder none-div {DND} Kn {KN} thr {THR} back {BACK} shift_ms {SHMS}')
print(f'model {wpath} kind={m.kind} MACs/hop={m.macs()} params={sum(p.size for p in m.p.values())}')
hdr = 'set  group            hops   frame acc model/trk (all | >=30ms | >=60ms | >=100ms)            ' + \
      ' noteF1 trk | ' + ' | '.join(f'F1 K={k}' for k in KS) + ' | med.lat ms trk / ' + '/'.join(f'K{k}' for k in KS)
print(hdr)
order = ['str-ens', 'synth-pad', 'voice', 'slow3', 'others', 'ALL']
keys = sorted(res, key=lambda k: (k[0], order.index(k[1]) if k[1] in order else 99, k[1]))
summary = {}
for k in keys:
    A = res[k]
    fr = ' | '.join(f"{A['fr'][e][1] / max(A['fr'][e][0], 1):.3f}/{A['fr'][e][2] / max(A['fr'][e][0], 1):.3f}" for e in EXCL)
    nf = ' | '.join(f"{f1(A['notes'][kk])[0]:.3f}" for kk in KS)
    lat = '/'.join(f"{1000 * np.median(A['notes'][kk][3]) if A['notes'][kk][3] else float('nan'):.0f}" for kk in ['trk'] + KS)
    sil = f"{A['sil'][1] / max(A['sil'][0], 1):.3f}/{A['sil'][2] / max(A['sil'][0], 1):.3f}"
    print(f"{k[0]:4s} {k[1]:28s} {A['fr'][0][0]:7d}  {fr}   {f1(A['notes']['trk'])[0]:.3f} | {nf} | {lat} | silent-active {sil}")
    summary['%s/%s' % k] = {'frame': {e: [int(A['fr'][e][0]), A['fr'][e][1] / max(A['fr'][e][0], 1), A['fr'][e][2] / max(A['fr'][e][0], 1)] for e in EXCL},
                            'noteF1': {str(kk): f1(A['notes'][kk]) for kk in ['trk'] + KS},
                            'silent_active_model_trk': [A['sil'][1] / max(A['sil'][0], 1), A['sil'][2] / max(A['sil'][0], 1)],
                            'lat_ms': {str(kk): (1000 * float(np.median(A['notes'][kk][3])) if A['notes'][kk][3] else None) for kk in ['trk'] + KS},
                            'curve_model': (A['curve'][0, 1] / np.maximum(A['curve'][0, 0], 1)).round(3).tolist(),
                            'curve_trk': (A['curve'][1, 1] / np.maximum(A['curve'][1, 0], 1)).round(3).tolist()}
for s in SETS:
    for g in ('slow3', 'others'):
        if (s, g) in res:
            c = summary[f'{s}/{g}']
            print(f'{s} {g} acc vs ms since written onset (0,10,..150): model', ' '.join(f'{x:.2f}' for x in c['curve_model'][:16]))
            print(f'{s} {g} acc vs ms since written onset (0,10,..150): trk  ', ' '.join(f'{x:.2f}' for x in c['curve_trk'][:16]))
json.dump(summary, open(wpath.replace('.npz', '') + '.eval.json', 'w'), indent=1)
