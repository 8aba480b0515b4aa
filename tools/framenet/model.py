import numpy as np
from common import NB

class MLP:
    """plain MLP: 410 -> H relu -> 82"""
    kind = 'mlp'
    def __init__(self, nin=410, H=128, seed=0, params=None, nout=NB + 1):
        r = np.random.default_rng(seed)
        self.p = params or {
            'W1': (r.standard_normal((nin, H)) * np.sqrt(2 / nin)).astype(np.float32),
            'b1': np.zeros(H, np.float32),
            'W2': (r.standard_normal((H, nout)) * np.sqrt(1 / H)).astype(np.float32),
            'b2': np.zeros(nout, np.float32)}
    def macs(self):
        return self.p['W1'].size + self.p['W2'].size
    def forward(self, X, train=False):
        p = self.p
        a = X @ p['W1'] + p['b1']; h = np.maximum(a, 0)
        z = h @ p['W2'] + p['b2']
        if train: self.cache = (X, h)
        return z
    def backward(self, dz):
        X, h = self.cache; p = self.p
        g = {'W2': h.T @ dz, 'b2': dz.sum(0)}
        dh = dz @ p['W2'].T; dh[h <= 0] = 0
        g['W1'] = X.T @ dh; g['b1'] = dh.sum(0)
        return g

# harmonic / neighbour offsets in semitones relative to candidate pitch
OFFS = np.array([-12, -1, 0, 1, 7, 12, 19, 24, 28, 31, 34, 36])
PADL, PADR = 12, 36

class Equi:
    """pitch-shift-equivariant scorer: for each candidate pitch p, features read at
    bands p+OFFS in the 5 channels (B0, 4 diffs) + 5 global level inputs -> shared
    MLP (H relu) -> score + per-pitch bias.  'none' logit: linear on globals + B0."""
    kind = 'equi'
    def __init__(self, H=16, seed=0, params=None):
        r = np.random.default_rng(seed)
        F = 5 * len(OFFS) + 5
        self.F = F
        self.p = params or {
            'W1': (r.standard_normal((F, H)) * np.sqrt(2 / F)).astype(np.float32),
            'b1': np.zeros(H, np.float32),
            'w2': (r.standard_normal(H) * np.sqrt(1 / H)).astype(np.float32),
            'bp': np.zeros(NB, np.float32),
            'wn': np.zeros(NB + 5, np.float32), 'bn': np.zeros(1, np.float32)}
        self.G = (np.arange(NB)[:, None] + PADL + OFFS[None, :])  # (81, nO)
    def macs(self):
        H = self.p['W1'].shape[1]
        return NB * (self.F * H + H) + NB + 5
    def gather(self, X):
        n = X.shape[0]
        ch = X[:, :5 * NB].reshape(n, 5, NB)
        pad = np.zeros((n, 5, PADL + NB + PADR), np.float32)
        pad[:, 0, :] = (-20 + 10) / 5  # B0 floor (normalised)
        pad[:, :, PADL:PADL + NB] = ch
        f = pad[:, :, self.G]                      # (n,5,81,nO)
        f = f.transpose(0, 2, 1, 3).reshape(n, NB, -1)
        gl = np.broadcast_to(X[:, None, 5 * NB:], (n, NB, 5))
        return np.concatenate([f, gl], 2)          # (n,81,F)
    def forward(self, X, train=False):
        p = self.p
        Fx = self.gather(X)
        a = Fx @ p['W1'] + p['b1']; h = np.maximum(a, 0)
        s = h @ p['w2'] + p['bp']                   # (n,81)
        xn = np.concatenate([X[:, :NB], X[:, 5 * NB:]], 1)
        zn = xn @ p['wn'] + p['bn']
        if train: self.cache = (Fx, h, xn)
        return np.concatenate([s, zn[:, None]], 1)
    def backward(self, dz):
        Fx, h, xn = self.cache; p = self.p
        ds = dz[:, :NB]; dn = dz[:, NB]
        g = {'bp': ds.sum(0), 'w2': np.einsum('np,nph->h', ds, h),
             'wn': xn.T @ dn, 'bn': dn.sum(0, keepdims=True)}
        dh = ds[:, :, None] * p['w2'][None, None, :]; dh[h <= 0] = 0
        dh2 = dh.reshape(-1, dh.shape[2]); F2 = Fx.reshape(-1, Fx.shape[2])
        g['W1'] = F2.T @ dh2; g['b1'] = dh2.sum(0)
        return g

def load(path):
    z = np.load(path)
    kind = str(z['kind'])
    params = {k: z[k] for k in z.files if k != 'kind'}
    return MLP(params=params) if kind == 'mlp' else Equi(params=params)

def save(m, path):
    np.savez(path, kind=m.kind, **m.p)
