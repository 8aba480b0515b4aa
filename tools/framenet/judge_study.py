"""Offline judge refit with/without frame-model inputs.
python3 judge_study.py [H=14] [SEEDS=2] [DROP=1] [L2=1e-2] [STEPS=2500]  (needs starts_{dev,jx,jw,jy,jq}.npz from judge_feats.py)
Train: judged starts (paths other than attack/newcomer, which the tracker does not judge) of dev+jx+jw,
both dump passes, minus renders whose melody occurs in jy/jq. Eval: judged starts of jy, jq, pass 1
(shipped judge vetoing, as in use); pass 0 (judge off) also reported for ALL.
(a) original 23 inputs (constant dropped); (b) (a) + frame features. Standardised; MLP H tanh -> sigmoid,
full-batch Adam lr 0.01, STEPS (1500) steps, L2 (default 1e-3, picked for both (a) and (b) on a melody-held-out val split of the training starts, judge_val.py; 1e-4 overfit badly across files); and logistic regression (same optimiser) as sanity check.
Shipped judge: recomputed from analysis/judge.rs weights on the dumped (3-decimal) inputs.
"""
import sys, numpy as np
from common import melody
H = int(sys.argv[1]) if len(sys.argv) > 1 else 14
SEEDS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
DROP = int(sys.argv[3]) if len(sys.argv) > 3 else 1
L2 = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-3
STEPS = int(sys.argv[5]) if len(sys.argv) > 5 else 1500
GROUPS = {'strings-ensemble': 'str-ens', 'synth-pad': 'synth-pad', 'voice': 'voice'}
BASE = ['fp_now', 'fp_10', 'fp_25', 'fp_none', 'fp_other', 'fp_isarg', 'fp_onset']  # (b); extras tried separately

def load(s):
    z = np.load(f'starts_{s}.npz')
    D = {k: z[k] for k in z.files}
    judged = (D['X'][:, 0] > 0.5) & ~np.isin(D['path'], ['attack', 'newcomer']) & D['ok']
    return D, judged

# shipped judge weights parsed from the source (read only)
def shipped():
    src = open('/work/main/plugin/src/analysis/judge.rs').read()
    import re
    hw = src.split('pub const HIDDEN_WEIGHTS')[1].split('];\n')[0]
    ow = src.split('pub const OUTPUT_WEIGHTS')[1].split('];')[0]
    num = lambda t: [float(x) for x in re.findall(r'-?\d+\.\d+', t)]
    Wh = np.array(num(hw.split('=', 1)[1])).reshape(8, 24); Wo = np.array(num(ow.split('=', 1)[1]))
    return lambda X: 1 / (1 + np.exp(-np.clip(Wo[0] + np.tanh(X @ Wh.T) @ Wo[1:], -30, 30)))

def fit(X, y, H, seed, steps=2500, lr=0.01, l2=1e-4):
    r = np.random.default_rng(seed); n, d = X.shape
    if H == 0: p = {'w': np.zeros(d), 'b': np.zeros(1)}
    else: p = {'W': r.standard_normal((d, H)) / np.sqrt(d), 'c': np.zeros(H), 'w': r.standard_normal(H) / np.sqrt(H), 'b': np.zeros(1)}
    mo = {k: np.zeros_like(v) for k, v in p.items()}; ve = {k: np.zeros_like(v) for k, v in p.items()}
    for t in range(1, steps + 1):
        if H == 0: h = X
        else: h = np.tanh(X @ p['W'] + p['c'])
        z = h @ p['w'] + p['b']; q = 1 / (1 + np.exp(-z)); dz = (q - y) / n
        g = {'w': h.T @ dz + l2 * p['w'], 'b': dz.sum(keepdims=True)}
        if H:
            dh = np.outer(dz, p['w']) * (1 - h * h)
            g['W'] = X.T @ dh + l2 * p['W']; g['c'] = dh.sum(0)
        for k in p:
            mo[k] = 0.9 * mo[k] + 0.1 * g[k]; ve[k] = 0.999 * ve[k] + 0.001 * g[k] ** 2
            p[k] -= lr * (mo[k] / (1 - 0.9 ** t)) / (np.sqrt(ve[k] / (1 - 0.999 ** t)) + 1e-8)
    def pred(Xe):
        h = Xe if H == 0 else np.tanh(Xe @ p['W'] + p['c'])
        return 1 / (1 + np.exp(-(h @ p['w'] + p['b'])))
    return pred, p

def metrics(y, q, thr=0.5):
    a = q >= thr; g = y == 1
    tp = (a & g).sum(); pr = tp / max(a.sum(), 1); rc = tp / max(g.sum(), 1)
    ll = -np.mean(y * np.log(np.clip(q, 1e-7, 1)) + (1 - y) * np.log(np.clip(1 - q, 1e-7, 1)))
    return dict(n=len(y), good=int(g.sum()), bad=int((~g).sum()), prec=pr, rec=rc, f1=2 * pr * rc / max(pr + rc, 1e-9),
                gv=int((g & ~a).sum()), ba=int((~g & a).sum()), ll=ll)

if __name__ == '__main__':
    S = {s: load(s) for s in ['dev', 'jx', 'jw', 'jy', 'jq']}
    held_mel = set(melody(n) for s in ['jy', 'jq'] for n in np.unique(S[s][0]['name']))
    def mats(s, cols, extra=True, pas=None):
        D, j = S[s]
        m = j.copy()
        if pas is not None: m &= D['pas'] == pas
        fn = list(D['fnames'])
        Xf = D['FF'][:, [fn.index(c) for c in cols]] if cols else np.zeros((len(j), 0))
        return D['X'][m], Xf[m], D['label'][m].astype(float), D['fam'][m], D['name'][m]
    tr = [mats(s, None) for s in ['dev', 'jx', 'jw']]
    keep = [np.array([melody(n) not in held_mel for n in t[4]]) for t in tr]
    Xo_tr = np.concatenate([t[0][k] for t, k in zip(tr, keep)]); y_tr = np.concatenate([t[2][k] for t, k in zip(tr, keep)])
    def frame_tr(cols):
        out = []
        for s, k in zip(['dev', 'jx', 'jw'], keep): out.append(mats(s, cols)[1][k])
        return np.concatenate(out)
    print('drop/add runs: seed 0 only'); print(f'train starts {len(y_tr)} (good {int(y_tr.sum())}), H={H}, seeds={SEEDS}')
    ship = shipped()
    EV = {(s, pas): mats(s, None, pas=pas) for s in ['jy', 'jq'] for pas in (1, 0)}
    def run(cols, Hh, seed):
        A = Xo_tr[:, 1:]; F = frame_tr(cols) if cols else np.zeros((len(A), 0))
        Xt = np.concatenate([A, F], 1); mu = Xt.mean(0); sd = Xt.std(0); sd[sd < 1e-6] = 1
        pred, p = fit((Xt - mu) / sd, y_tr, Hh, seed, STEPS, 0.01, L2)
        Q = {}
        for (s, pas), (Xo, _, y, fam, nm) in EV.items():
            D, j = S[s]; m = j & (D['pas'] == pas); fn = list(D['fnames'])
            Fe = D['FF'][m][:, [fn.index(c) for c in cols]] if cols else np.zeros((m.sum(), 0))
            Q[(s, pas)] = pred((np.concatenate([Xo[:, 1:], Fe], 1) - mu) / sd)
        return Q, p, mu, sd
    def groups(fam):
        g = np.array([GROUPS.get(f, 'others') for f in fam])
        return {'str-ens': g == 'str-ens', 'synth-pad': g == 'synth-pad', 'voice': g == 'voice',
                'slow3': g != 'others', 'others': g == 'others', 'ALL': np.ones(len(g), bool)}
    def avg(models):  # average probabilities over seeds; also per-seed metrics
        return {k: np.mean([M[k] for M in models], 0) for k in models[0]}
    res = {}
    for tag, cols, Hh in [('LR-a', [], 0), ('LR-b', BASE, 0), ('MLP-a', [], H), ('MLP-b', BASE, H),
                          ('MLP-b+', BASE + ['fp_oct', 'fp_nb'], H)]:
        runs = [run(cols, Hh, sd)[0] for sd in range(SEEDS if Hh else 1)]
        res[tag] = runs
    print('\nper-seed metrics are averaged (prec/rec/F1/counts: mean over seeds). gv = good starts vetoed, ba = bad starts accepted')
    print(f"{'set':4s} {'pass':4s} {'group':9s} {'n':>5s} {'good':>5s} {'bad':>4s} | " +
          ' | '.join(f'{t:>27s}' for t in ['shipped(recomp)'] + list(res)))
    print(' ' * 36 + ' | '.join(f'{"F1   prec  rec    gv   ba":>27s}' for _ in range(len(res) + 1)))
    for (s, pas), (Xo, _, y, fam, nm) in EV.items():
        G = groups(fam)
        for gname, gm in G.items():
            if pas == 0 and gname not in ('slow3', 'ALL'): continue
            if gm.sum() == 0: continue
            cells = []
            ms = metrics(y[gm], ship(Xo[gm])); base = ms
            cells.append(f"{ms['f1']:.3f} {ms['prec']:.3f} {ms['rec']:.3f} {ms['gv']:4d} {ms['ba']:4d}")
            for tag, runs in res.items():
                mm = [metrics(y[gm], R[(s, pas)][gm]) for R in runs]
                f = lambda k: np.mean([x[k] for x in mm])
                cells.append(f"{f('f1'):.3f} {f('prec'):.3f} {f('rec'):.3f} {f('gv'):4.0f} {f('ba'):4.0f}")
            print(f"{s:4s} {pas:4d} {gname:9s} {base['n']:5d} {base['good']:5d} {base['bad']:4d} | " + ' | '.join(f'{c:>27s}' for c in cells))
    # log-loss summary
    print('\nlog-loss (pass 1, jy+jq pooled): ', end='')
    yy = np.concatenate([EV[(s, 1)][2] for s in ['jy', 'jq']]); fam = np.concatenate([EV[(s, 1)][3] for s in ['jy', 'jq']])
    G = groups(fam)
    for tag, runs in res.items():
        q = np.mean([np.concatenate([R[(s, 1)] for s in ['jy', 'jq']]) for R in runs], 0)
        print(f"{tag}: all {metrics(yy, q)['ll']:.4f} slow3 {metrics(yy[G['slow3']], q[G['slow3']])['ll']:.4f}; ", end='')
    print()
    if DROP:
        print('\ndrop-one / add-one frame features (MLP seed 0, pass 1, jy+jq pooled): F1 all, F1 slow3, gv+ba all, gv+ba slow3, logloss all')
        def pooled(runs):
            out = []
            for R in runs:
                q = np.concatenate([R[(s, 1)] for s in ['jy', 'jq']])
                a, b = metrics(yy, q), metrics(yy[G['slow3']], q[G['slow3']])
                out.append((a['f1'], b['f1'], a['gv'] + a['ba'], b['gv'] + b['ba'], a['ll']))
            return np.mean(out, 0)
        print(f"{'(a) none':22s}", ' '.join(f'{v:.4f}' for v in pooled(res['MLP-a'][:1])))
        print(f"{'(b) all':22s}", ' '.join(f'{v:.4f}' for v in pooled(res['MLP-b'][:1])))
        for c in BASE:
            runs = [run([x for x in BASE if x != c], H, sd)[0] for sd in range(1)]
            print(f"{'(b) minus ' + c:22s}", ' '.join(f'{v:.4f}' for v in pooled(runs)))
        for c in BASE:
            runs = [run([c], H, sd)[0] for sd in range(1)]
            print(f"{'(a) plus ' + c:22s}", ' '.join(f'{v:.4f}' for v in pooled(runs)))
