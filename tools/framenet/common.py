import re, numpy as np
HOP, NB, NONE = 256, 81, 81
CTX_MS = (10, 25, 50, 100)

def melody(name):
    return re.sub(r'-\d+-p\d+$', '', name)

def load_set(path):
    z = np.load(path, allow_pickle=False)
    files = {}
    for k in z.files:
        n, f = k.split('|')
        files.setdefault(n, {})[f] = z[k]
    return files

def ctx_hops(fs):
    return [max(1, int(round(ms * fs / 1000 / HOP))) for ms in CTX_MS]

def build(d, idx):
    """inputs for hops idx of file dict d: [B0, B0-B(k) x4, L0, L0-L(k) x4] -> (n, 410)"""
    B = d['B'].astype(np.float32); L = d['L']; fs = int(d['fs'])
    parts = [B[idx]]; gl = [L[idx]]
    for k in ctx_hops(fs):
        j = np.maximum(idx - k, 0)
        parts.append(B[idx] - B[j]); gl.append(L[idx] - L[j])
    return np.concatenate(parts + [np.stack(gl, 1)], 1)

# per-channel normalisation (shared across bands -> keeps pitch-shift equivariance)
def normalise(X):
    X = X.copy()
    X[:, :NB] = (X[:, :NB] + 10) / 5
    X[:, NB:5 * NB] /= 3
    X[:, 5 * NB] = (X[:, 5 * NB] + 50) / 20
    X[:, 5 * NB + 1:] /= 10
    return X

def read_trk(p):
    """The tracker's notes (`continuo render --tsv`): rows of onset_s, offset_s, pitch, emitted_s."""
    r = []
    for ln in open(p):
        c = ln.split()
        try: r.append(tuple(float(x) for x in c[:4]))
        except ValueError: pass
    return r

def training_hops(d, rng, shift_ms):
    """The hops of render d a training set takes (every third, and all of the first 150 ms after
    each written onset), the targets (the written pitch SHIFT_MS earlier) and every hop's time."""
    T = len(d['y']); fs = int(d['fs'])
    t = (np.arange(T) + 1) * HOP / fs
    sel = np.zeros(T, bool); sel[rng.integers(0, 3)::3] = True
    for on in d['notes'][:, 0]:
        sel[(t >= on) & (t < on + 0.15)] = True
    y = d['y']
    if shift_ms:
        k = int(round(shift_ms / 1000 * fs / HOP))
        y = np.concatenate([np.full(k, NONE, np.int8), y[:T - k]])
    return np.where(sel)[0], y, t
