"""Causal semitone-band features per hop.
Usage: python3 feat.py SET_NAME WAV_DIR OUT.npz
Per file: B (T,81) float16 = log(1e-6+band power) - frame max (clipped at -20),
          L (T,) float32 = frame level dB, y (T,) int8 written pitch-28 or 81 (none),
          t (T,) hop time (time of the last sample of the frame), fs.
Frame i = 2048 samples ending at sample (i+1)*256 (zero-padded before t=0), Hann.
"""
import sys, os, glob, wave, re
import numpy as np

N, HOP, LO, NB = 2048, 256, 28, 81
NONE = NB

_W = {}
def band_matrix(fs):
    if fs in _W: return _W[fs]
    nb = N // 2 + 1
    f = np.arange(nb) * fs / N
    W = np.zeros((NB, nb), np.float32)
    for b in range(NB):
        m = LO + b
        fc = 440 * 2 ** ((m - 69) / 12)
        lo, hi = fc * 2 ** (-0.5 / 12), fc * 2 ** (0.5 / 12)
        sel = (f >= lo) & (f < hi)
        if sel.any():
            W[b, sel] = 1.0
        else:  # band narrower than a bin: linear interpolation of power at fc
            x = fc / (fs / N); i = int(np.floor(x)); a = x - i
            W[b, i] += 1 - a; W[b, i + 1] += a
    _W[fs] = W
    return W

def read_wav(p):
    w = wave.open(p)
    fs, ch, sw, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
    raw = w.readframes(n)
    assert sw == 2
    x = np.frombuffer(raw, np.int16).astype(np.float32) / 32768
    if ch > 1: x = x.reshape(-1, ch).mean(1)
    return x, fs

WIN = np.hanning(N).astype(np.float32)
WIN /= WIN.sum()

def features(x, fs):
    T = len(x) // HOP
    xp = np.concatenate([np.zeros(N - HOP, np.float32), x])
    W = band_matrix(fs)
    B = np.empty((T, NB), np.float32); L = np.empty(T, np.float32)
    for s in range(0, T, 4096):
        e = min(T, s + 4096)
        idx = np.arange(s, e)[:, None] * HOP + np.arange(N)[None, :]
        fr = xp[idx] * WIN
        P = np.abs(np.fft.rfft(fr, axis=1)) ** 2
        bp = P @ W.T
        L[s:e] = 10 * np.log10(1e-12 + P.sum(1))
        lb = np.log(1e-6 + bp * 1e4)  # scale so quiet-but-real partials sit above the floor
        B[s:e] = np.maximum(lb - lb.max(1, keepdims=True), -20)
    t = (np.arange(T) + 1) * HOP / fs
    return B, L, t

def read_notes(p):
    rows = []
    for ln in open(p):
        s = ln.split()
        if len(s) < 3: continue
        try: rows.append((float(s[0]), float(s[1]), int(float(s[2]))))
        except ValueError: continue
    return np.array(rows, np.float64).reshape(-1, 3)

def labels(notes, t):
    y = np.full(len(t), NONE, np.int8)
    # latest onset <= t < offset
    for on, off, p in sorted(notes.tolist()):
        m = (t >= on) & (t < off)
        if LO <= p < LO + NB: y[m] = int(p) - LO
    return y

if __name__ == '__main__':
    setname, d, out = sys.argv[1:4]
    D = {}
    for wp in sorted(glob.glob(d + '/*.wav')):
        name = os.path.basename(wp)[:-4]
        x, fs = read_wav(wp)
        B, L, t = features(x, fs)
        notes = read_notes(wp[:-4] + '.notes.tsv')
        y = labels(notes, t)
        D[name + '|B'] = B.astype(np.float16); D[name + '|L'] = L
        D[name + '|y'] = y; D[name + '|fs'] = np.array(fs); D[name + '|notes'] = notes
    np.savez(out, **D)
    print(setname, len(D) // 5, 'files ->', out)
