import numpy as np
NONE = 81

def smooth(P, M):
    """causal moving average of probabilities over the last M hops"""
    if M <= 1: return P
    c = np.cumsum(np.vstack([np.zeros((1, P.shape[1]), P.dtype), P]), 0)
    i = np.arange(1, len(P) + 1)
    return (c[i] - c[np.maximum(i - M, 0)]) / np.minimum(i, M)[:, None]

def decode(P, t, K=3, M=1, thr=0.0, nonediv=1.0, Kn=None, back=0.0, backmax=40, shift_ms=0.0, age=None):
    """state machine over (smoothed) frame posteriors.
    A candidate = argmax of smoothed posterior with prob >= thr (else: no candidate, state kept).
    Switch state when the same candidate != state holds K hops; onset dated at the candidate run start.
    back>0: the onset is dated back from the run start to the earliest past hop (<= backmax hops, after the
    previous decision) from which the new pitch's posterior stayed >= back.
    shift_ms: constant extra back-dating of the onset.
    age: (T,21) posteriors of the age head (train.py age); if given, onset = decision time - E[age].
    Returns list of (onset_time, midi, decision_time)."""
    Kn = Kn or K
    if nonediv != 1.0:
        P = P.copy(); P[:, NONE] /= nonediv
    S = smooth(P, M)
    am = S.argmax(1); pm = S[np.arange(len(S)), am]
    cand = np.where(pm >= thr, am, -1)
    notes = []; state = NONE; rv = None; rs = 0; rn = 0; last_on = 0
    for i in range(len(cand)):
        v = cand[i]
        if v == rv: rn += 1
        else: rv, rs, rn = v, i, 1
        if v >= 0 and v != state and rn == (Kn if v == NONE else K):
            state = v
            if v != NONE:
                j = rs  # back-date: walk back while the new pitch already had posterior >= back
                if back > 0:
                    while j - 1 > max(last_on, rs - backmax) and P[j - 1, v] >= back: j -= 1
                on = t[j]
                if age is not None:  # learned dating: expected time since onset (age head) at the decision hop
                    a = age[i, :20] / max(age[i, :20].sum(), 1e-9)
                    on = t[i] - float(a @ (np.arange(20) * 0.01 + 0.005))
                notes.append((on - shift_ms / 1000, int(v) + 28, t[i])); last_on = i
    return notes

def match(ref, est, tol=0.05):
    """ref: (onset,pitch); est: (onset,pitch,decision). Greedy one-to-one by |dt| within tol, same pitch.
    Returns n_matched, list of latencies (decision - written onset)."""
    pairs = []
    est_by_p = {}
    for j, e in enumerate(est): est_by_p.setdefault(e[1], []).append(j)
    for i, (ro, rp) in enumerate(ref):
        for j in est_by_p.get(rp, []):
            d = abs(est[j][0] - ro)
            if d <= tol: pairs.append((d, i, j))
    pairs.sort(); ui, uj = set(), set(); lat = []
    for d, i, j in pairs:
        if i in ui or j in uj: continue
        ui.add(i); uj.add(j); lat.append(est[j][2] - ref[i][0])
    return len(ui), lat
