"""Frame-model features at each dumped judge start (causal).
python3 judge_feats.py SET [WEIGHTS=w_mlp128.npz]  -> starts_SET.npz
Reads starts_SET.tsv (continuo eval-transcription ... --fit-judge --set fit_judging=1 --dump-judge):
cols name family path pitch onset_s decided_s label f0..f23. With fit_judging=1 the dump holds two
passes over the renders: pass 0 with the judge accepting everything, pass 1 with the shipped judge
vetoing (as in use); the pass is recovered from where the render order restarts.
Frame features (hop i_dec = latest hop whose frame ends at or before decided_s; i_on likewise for onset_s):
 fp_now, fp_10, fp_25 = P(start pitch) at i_dec, 10 ms, 25 ms earlier
 fp_none = P(none) at i_dec; fp_other = max P(any other pitch) at i_dec
 fp_isarg = argmax (P(none) divided by NONEDIV=4, as in eval.py's frame argmax) is the start pitch
 fp_onset = P(start pitch) at i_on (<= i_dec)
 fp_oct = max P(pitch+-12) at i_dec; fp_nb = max P(pitch+-1) at i_dec (extras)
"""
import sys, numpy as np
from common import load_set, build, normalise, HOP, NB, NONE
import model as M

NONEDIV = 4.0
FNAMES = ['fp_now', 'fp_10', 'fp_25', 'fp_none', 'fp_other', 'fp_isarg', 'fp_onset', 'fp_oct', 'fp_nb']

def read_dump(path):
    rows = [ln.rstrip('\n').split('\t') for ln in open(path) if ln.strip()]
    first = rows[0][0]; seen_other = False; pas = 0; P = []
    for r in rows:
        if r[0] != first: seen_other = True
        elif seen_other and pas == 0: pas = 1
        P.append(pas)
    name = np.array([r[0] for r in rows]); fam = np.array([r[1] for r in rows]); path = np.array([r[2] for r in rows])
    num = np.array([[float(x) for x in r[3:]] for r in rows])
    return dict(name=name, fam=fam, path=path, pitch=num[:, 0].astype(int), onset=num[:, 1], decided=num[:, 2],
                label=num[:, 3].astype(int), X=num[:, 4:], pas=np.array(P))

if __name__ == '__main__':
    s = sys.argv[1]; w = sys.argv[2] if len(sys.argv) > 2 else 'w_mlp128.npz'
    D = read_dump(f'starts_{s}.tsv'); m = M.load(w)
    F = load_set(f'feats/{s}.npz')
    n = len(D['name']); FF = np.zeros((n, len(FNAMES)), np.float32); ok = np.zeros(n, bool)
    for nm in np.unique(D['name']):
        if nm not in F: continue
        d = F[nm]; fs = int(d['fs']); T = len(d['y'])
        rows = np.where(D['name'] == nm)[0]
        hop = lambda ts: np.clip(np.floor(ts * fs / HOP + 1e-9).astype(int) - 1, 0, T - 1)
        idec = hop(D['decided'][rows]); ion = np.minimum(hop(D['onset'][rows]), idec)
        k10 = max(1, int(round(0.010 * fs / HOP))); k25 = max(1, int(round(0.025 * fs / HOP)))
        i10 = np.maximum(idec - k10, 0); i25 = np.maximum(idec - k25, 0)
        need = np.unique(np.concatenate([idec, ion, i10, i25]))
        z = m.forward(normalise(build(d, need)))[:, :NB + 1]
        z -= z.max(1, keepdims=True); P = np.exp(z); P /= P.sum(1, keepdims=True)
        Pp = np.concatenate([P[:, :NB], np.zeros((len(P), 13)), P[:, NB:]], 1)  # pad pitches 109..121 with 0
        pos = {h: j for j, h in enumerate(need)}
        g = lambda ii: np.array([pos[h] for h in ii])
        jd, jo, j10, j25 = g(idec), g(ion), g(i10), g(i25)
        pc = D['pitch'][rows] - 28; inr = (pc >= 0) & (pc < NB); pcc = np.clip(pc, 0, NB - 1)
        def pp(j, off=0):
            q = pcc + off; v = (q >= 0) & (q < NB)
            return np.where(inr & v, P[j, np.clip(q, 0, NB - 1)], 0.0)
        Q = P[jd].copy(); Q[:, NONE] /= NONEDIV
        other = P[jd, :NB].copy(); other[np.arange(len(rows))[inr], pcc[inr]] = -1
        FF[rows] = np.stack([pp(jd), pp(j10), pp(j25), P[jd, NONE], other.max(1),
                             (inr & (Q.argmax(1) == pcc)).astype(float), pp(jo),
                             np.maximum(pp(jd, 12), pp(jd, -12)), np.maximum(pp(jd, 1), pp(jd, -1))], 1)
        ok[rows] = True
    print(s, n, 'starts', ok.sum(), 'with frame feats; pass1 rows', (D['pas'] == 1).sum())
    np.savez(f'starts_{s}.npz', FF=FF, ok=ok, fnames=np.array(FNAMES), **D)
