"""Onset-age network: 410 -> H relu -> 21 (time since the latest written onset: 0-10 ms, ...,
190-200 ms, >= 200 ms or no note). python3 train_onset.py OUT.npz H EPOCHS [repeats]
(FN_SETS as train.py, default dev,jx,syn). With `repeats`, the age only when that onset repeats
the pitch before it, within 0.3 s of its end (else >= 200 ms / none)."""
import sys, os, time, numpy as np
from common import *
import model as M
out, H, EPOCHS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
REPEATS = len(sys.argv) > 4 and sys.argv[4] == 'repeats'
NA = 21
SETS = os.environ.get('FN_SETS', 'dev,jx,syn')
cache = f"feats/train_{'rep' if REPEATS else 'age'}_{SETS.replace(',', '_')}.npz"
if not os.path.exists(cache):
    held = set()
    for s in ('jy', 'jq'):
        held |= {melody(n[:-4]) for n in os.listdir(f'/tmp/{s}/dev') if n.endswith('.wav')}
    rng = np.random.default_rng(1); Xs, ags, vs, mels = [], [], [], {}
    for s in SETS.split(','):
        for n, d in load_set(f'feats/{s}.npz').items():
            mm = melody(n)
            if mm in held: continue
            if mm not in mels: mels[mm] = rng.random() < 0.08
            idx, y, t = training_hops(d, rng, 0)
            NT = d['notes']; last_on = np.full(len(t), -1e9); rep = np.zeros(len(t), bool)
            for k, (on, off, p) in enumerate(NT):
                mk = t >= on; last_on[mk] = on
                rep[mk] = k > 0 and NT[k - 1][2] == p and on - NT[k - 1][1] < 0.3
            age = np.minimum(np.floor((t - last_on) * 100), NA - 1).astype(np.int8)
            age[(y == NONE) | (~rep if REPEATS else False)] = NA - 1
            Xs.append(normalise(build(d, idx)).astype(np.float16)); ags.append(age[idx]); vs.append(np.full(len(idx), mels[mm]))
    np.savez(cache, X=np.concatenate(Xs), a=np.concatenate(ags), v=np.concatenate(vs))
z = np.load(cache); X, a, v = z['X'], z['a'].astype(np.int64), z['v']
Xtr, atr, Xva, ava = X[~v], a[~v], X[v], a[v]
m = M.MLP(H=H, nout=NA)
print('H', H, 'MACs', m.macs(), 'train', len(atr), flush=True)
st = {k: [np.zeros_like(p), np.zeros_like(p)] for k, p in m.p.items()}
lr, b1, b2, bs, step = 2e-3, 0.9, 0.999, 256, 0
rng = np.random.default_rng(0); t0 = time.time()
def evaluate(Xe, ae, n=60000):
    i = rng.choice(len(ae), min(n, len(ae)), replace=False)
    z = np.concatenate([m.forward(Xe[j].astype(np.float32)) for j in np.array_split(i, 30)])
    z -= z.max(1, keepdims=True); P = np.exp(z); P /= P.sum(1, keepdims=True)
    return round(float(-np.log(P[np.arange(len(i)), ae[i]] + 1e-9).mean()), 4)
for ep in range(EPOCHS):
    perm = rng.permutation(len(atr)); L = 0
    if ep >= EPOCHS - 2: lr /= 3
    for bi in range(0, len(perm) - bs + 1, bs):
        j = perm[bi:bi + bs]
        z = m.forward(Xtr[j].astype(np.float32), train=True)
        z -= z.max(1, keepdims=True); e = np.exp(z); Q = e / e.sum(1, keepdims=True)
        L += -np.log(Q[np.arange(bs), atr[j]] + 1e-9).mean()
        Q[np.arange(bs), atr[j]] -= 1
        g = m.backward((Q / bs).astype(np.float32)); step += 1
        for k in m.p:
            s = st[k]; s[0] = b1 * s[0] + (1 - b1) * g[k]; s[1] = b2 * s[1] + (1 - b2) * g[k] ** 2
            m.p[k] -= (lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step) * s[0] / (np.sqrt(s[1]) + 1e-8)).astype(np.float32)
    print(f'ep {ep} loss {L / (len(perm) // bs):.4f} val {evaluate(Xva, ava)} {time.time() - t0:.0f}s', flush=True)
    M.save(m, out)
