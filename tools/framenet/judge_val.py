"""Pick the judge-fit L2 on a melody-held-out validation split of the TRAINING starts only (dev+jx+jw,
minus jy/jq melodies; 15% of melodies, seeded). python3 judge_val.py"""
import numpy as np
from common import melody
import judge_study as J
import glob, os
S = {s: J.load(s) for s in ['dev', 'jx', 'jw']}
held = set(melody(os.path.basename(p)[:-4]) for s in ['jy', 'jq'] for p in glob.glob(f'/tmp/{s}/dev/*.wav'))
X, F, y, mel, pas = [], [], [], [], []
for s in ['dev', 'jx', 'jw']:
    D, j = S[s]; fn = list(D['fnames'])
    m = j & np.array([melody(n) not in held for n in D['name']])
    X.append(D['X'][m, 1:]); F.append(D['FF'][m][:, [fn.index(c) for c in J.BASE]]); y.append(D['label'][m])
    mel += [melody(n) for n in D['name'][m]]; pas.append(D['pas'][m])
X, F, y, pas = np.concatenate(X), np.concatenate(F), np.concatenate(y).astype(float), np.concatenate(pas)
um = sorted(set(mel)); r = np.random.default_rng(7); vm = set(r.choice(um, int(0.15 * len(um)), replace=False))
va = np.array([m in vm for m in mel]); tr = ~va; ve = va & (pas == 1)
print('train', tr.sum(), 'val(pass1)', ve.sum())
for tag, Z in [('a', X), ('b', np.concatenate([X, F], 1))]:
    mu = Z[tr].mean(0); sd = Z[tr].std(0); sd[sd < 1e-6] = 1; Z = (Z - mu) / sd
    for l2 in (1e-3, 1e-2, 3e-2):
        pred, _ = J.fit(Z[tr], y[tr], 14, 0, 1500, 0.01, l2)
        a, b = J.metrics(y[tr], pred(Z[tr])), J.metrics(y[ve], pred(Z[ve]))
        print(f"({tag}) l2={l2:g}: train ll {a['ll']:.4f} f1 {a['f1']:.4f} | val ll {b['ll']:.4f} f1 {b['f1']:.4f} gv {b['gv']} ba {b['ba']}", flush=True)
