"""Writes an MLP's weights (model.py's .npz) for the plugin (`analysis/frame_net.rs`,
`Weights::from_bytes`): the hidden size as a little-endian u32, then W1 (410 x H, input-major),
b1, W2 (H x 82), b2 as little-endian float32. With FEATS.npz, also writes CHECK.bin, which
the plugin's tests replay: the row count and the rate (u32), 64 feature rows of FEATS's first
render (level, then the bands) and the probabilities model.py gives for the last 8 of them.
Usage: python3 export.py WEIGHTS.npz OUT.bin [FEATS.npz CHECK.bin]
"""
import sys, numpy as np
import model as M
from common import build, normalise, NB

m = M.load(sys.argv[1])
assert m.kind == 'mlp'
p = m.p
H = p['W1'].shape[1]
with open(sys.argv[2], 'wb') as f:
    f.write(np.uint32(H).tobytes())
    for k in ('W1', 'b1', 'W2', 'b2'):
        f.write(np.ascontiguousarray(p[k], '<f4').tobytes())
print('hidden', H, '->', sys.argv[2])
if len(sys.argv) > 4:
    from common import load_set
    F = load_set(sys.argv[3])
    name = sorted(F)[0]
    d = F[name]
    # 64 rows from the middle of the render: the plugin replays all of them, then compares the
    # probabilities of the last 8 (every context offset lies within the 64).
    T = len(d['y']); a = T // 2; rows = np.arange(a, a + 64)
    X = normalise(build(d, rows))
    z = m.forward(X); z -= z.max(1, keepdims=True); pr = np.exp(z); pr /= pr.sum(1, keepdims=True)
    with open(sys.argv[4], 'wb') as f:
        f.write(np.uint32(64).tobytes()); f.write(np.uint32(int(d['fs'])).tobytes())
        f.write(np.ascontiguousarray(np.c_[d['L'][rows], d['B'][rows].astype(np.float32)], '<f4').tobytes())
        f.write(np.ascontiguousarray(pr[-8:], '<f4').tobytes())
    print('check from', name, '->', sys.argv[4])
