"""Shared by the integration studies (fpath.py, rpath.py, dsim.py, rstudy.py): each render's
instrument family from the render sets' manifests, and the per-family note scores."""
import numpy as np
from decode import match

MANIFESTS = ('/work/dataset/manifest.tsv', '/tmp/jx/manifest.tsv', '/tmp/jw/manifest.tsv',
             '/tmp/jy/manifest.tsv', '/tmp/jq/manifest.tsv')
SLOW = {'strings-ensemble', 'synth-pad', 'voice'}


def families():
    """Render name -> instrument family, from every manifest there is."""
    fam = {}
    for path in MANIFESTS:
        try:
            lines = open(path).read().splitlines()
        except OSError:
            continue
        head = lines[0].split('\t')
        for ln in lines[1:]:
            c = ln.split('\t')
            fam[c[head.index('name')]] = c[head.index('family')]
    return fam


def score(R, fam, ref, variants):
    """Adds one render's notes to R: under its family, SLOW or OTHER, and ALL, for each
    (name, est) of `variants` (est: (onset, pitch, decision) rows; ref: (onset, pitch))."""
    for key in (fam, 'SLOW' if fam in SLOW else 'OTHER', 'ALL'):
        A = R.setdefault(key, {})
        for v, est in variants:
            N = A.setdefault(v, [0, 0, 0, []])
            nm, lat = match(ref, est)
            N[0] += nm; N[1] += len(ref); N[2] += len(est); N[3] += lat


def report(R, digits=3):
    """One line per family or group: F1 (P, R, median decision latency) of each variant."""
    for key in sorted(R):
        out = []
        for v, N in R[key].items():
            p = N[0] / max(N[2], 1); r = N[0] / max(N[1], 1); f = 2 * p * r / max(p + r, 1e-9)
            lat = 1000 * np.median(N[3]) if N[3] else float('nan')
            out.append(f'{v} {f:.{digits}f} (P {p:.3f} R {r:.3f} {lat:.0f}ms)')
        print(f'{key:22s} ' + ' | '.join(out))


def renders(S, trk_dir):
    """(name, features, family, hop times, tracker TSV) of every render of feats/S.npz whose
    tracker notes are in trk_dir."""
    import os
    from common import load_set, HOP
    fam = families()
    for n, d in load_set(f'feats/{S}.npz').items():
        tp = f'{trk_dir}/{n}.tsv'
        if os.path.exists(tp):
            T = len(d['y'])
            yield n, d, fam.get(n, '?'), (np.arange(T) + 1) * HOP / int(d['fs']), tp


def probabilities(model, d):
    """The model's softmax on every hop of render d."""
    from common import normalise, build
    z = model.forward(normalise(build(d, np.arange(len(d['y'])))))
    z -= z.max(1, keepdims=True); P = np.exp(z)
    return P / P.sum(1, keepdims=True)
