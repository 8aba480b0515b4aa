"""Train a frame model.
python3 train.py KIND OUT.npz [H] [EPOCHS] [SHIFT_MS]
KIND: mlp | equi | age (an MLP with a second softmax head: the time since the latest written
onset, 21 classes: 0-10, ..., 190-200 ms, >= 200 ms or no note; 82 pitch logits + 21 age
logits; decode.py dates onsets with it).
SHIFT_MS: target = written pitch at t - SHIFT_MS (delayed target), default 0.
Training renders: feats/{dev,jx,jw}.npz (or the sets FN_SETS names, e.g. dev,jx) minus any
render whose melody occurs in jy or jq.
8% of the remaining melodies are held out for validation.
"""
import sys, os, time, numpy as np
from common import *
import model as M

kind, out = sys.argv[1], sys.argv[2]
H = int(sys.argv[3]) if len(sys.argv) > 3 else (128 if kind == 'mlp' else 16)
EPOCHS = int(sys.argv[4]) if len(sys.argv) > 4 else 8
SHIFT = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
AGE = kind == 'age'
NA = 21
SETS = os.environ.get('FN_SETS', 'dev,jx,jw')
cache = f"feats/train_{'age' if AGE else f'shift{int(SHIFT)}'}_{SETS.replace(',', '_')}.npz"

def make():
    held = set()
    for s in ('jy', 'jq'):
        held |= {melody(n[:-4]) for n in os.listdir(f'/tmp/{s}/dev') if n.endswith('.wav')}
    rng = np.random.default_rng(1)
    Xs, ys, vs, ages = [], [], [], []
    mels = {}
    for s in SETS.split(','):
        F = load_set(f'feats/{s}.npz')
        for n, d in F.items():
            m = melody(n)
            if m in held: continue
            if m not in mels: mels[m] = rng.random() < 0.08
            idx, y, t = training_hops(d, rng, SHIFT)
            if AGE:
                since = np.full(len(t), 1e9)
                for on in d['notes'][:, 0]:
                    mk = t >= on; since[mk] = np.minimum(since[mk], t[mk] - on)
                age = np.minimum(np.floor(since * 100), NA - 1).astype(np.int8); age[y == NONE] = NA - 1
                ages.append(age[idx])
            Xs.append(normalise(build(d, idx)).astype(np.float16)); ys.append(y[idx])
            vs.append(np.full(len(idx), mels[m]))
    X = np.concatenate(Xs); y = np.concatenate(ys).astype(np.int64); v = np.concatenate(vs)
    extra = {'a': np.concatenate(ages).astype(np.int64)} if AGE else {}
    np.savez(cache, X=X, y=y, v=v, **extra)
    print('built', X.shape, 'val frac', v.mean(), 'train melodies', sum(not x for x in mels.values()),
          'val melodies', sum(mels.values()), flush=True)

if not os.path.exists(cache): make()
z = np.load(cache); X, y, v = z['X'], z['y'], z['v']
Xtr, ytr, Xva, yva = X[~v], y[~v], X[v], y[v]
atr = z['a'][~v] if AGE else None
m = M.MLP(H=H, nout=NB + 1 + NA) if AGE else M.MLP(H=H) if kind == 'mlp' else M.Equi(H=H)
print(kind, 'H', H, 'params', sum(p.size for p in m.p.values()), 'MACs/hop', m.macs(), flush=True)
st = {k: [np.zeros_like(p), np.zeros_like(p)] for k, p in m.p.items()}
lr, b1, b2, bs, step = 2e-3, 0.9, 0.999, 256, 0
rng = np.random.default_rng(0)

def evaluate(Xe, ye, n=60000):
    i = rng.choice(len(ye), min(n, len(ye)), replace=False)
    z = np.concatenate([m.forward(Xe[j].astype(np.float32)) for j in np.array_split(i, 30)])
    pr = z[:, :NB + 1].argmax(1); yy = ye[i]
    return (pr == yy).mean(), (pr == yy)[yy != NONE].mean()

t0 = time.time()
for ep in range(EPOCHS):
    perm = rng.permutation(len(ytr)); L = 0
    if ep == EPOCHS - 2: lr /= 3
    if ep == EPOCHS - 1: lr /= 3
    for bi in range(0, len(perm) - bs + 1, bs):
        j = perm[bi:bi + bs]
        xb = Xtr[j].astype(np.float32); yb = ytr[j]
        z = m.forward(xb, train=True)
        z1 = z[:, :NB + 1] - z[:, :NB + 1].max(1, keepdims=True); e = np.exp(z1); P = e / e.sum(1, keepdims=True)
        L += -np.log(P[np.arange(bs), yb] + 1e-9).mean()
        P[np.arange(bs), yb] -= 1
        if AGE:  # the age head's softmax, at half the pitch head's weight
            z2 = z[:, NB + 1:] - z[:, NB + 1:].max(1, keepdims=True); e = np.exp(z2); Q = e / e.sum(1, keepdims=True)
            Q[np.arange(bs), atr[j]] -= 1
            P = np.concatenate([P, 0.5 * Q], 1)
        g = m.backward((P / bs).astype(np.float32)); step += 1
        for k in m.p:
            s = st[k]; s[0] = b1 * s[0] + (1 - b1) * g[k]; s[1] = b2 * s[1] + (1 - b2) * g[k] ** 2
            m.p[k] -= (lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step) * s[0] / (np.sqrt(s[1]) + 1e-8)).astype(np.float32)
    print(f'ep {ep} loss {L / (len(perm) // bs):.4f} train(all,sounding) {evaluate(Xtr, ytr)} '
          f'val {evaluate(Xva, yva)} {time.time() - t0:.0f}s', flush=True)
    M.save(m, out)
