"""The frame model's features as the plugin computes them, in feat.py's format.
Usage: python3 feat_rust.py SET_NAME WAV_DIR DUMP_DIR OUT.npz
DUMP_DIR holds what `continuo eval-transcription WAV_DIR --dump-frames DUMP_DIR` wrote: per
render NAME.npy, float32 rows (net hop end s, level dB, 81 bands). Labels as feat.py's: the
written pitch sounding at the hop's end, or none. The hop is the plugin's (about 5.3 ms): `fs`
is stored as the rate that makes feat.py's HOP of 256 samples that long, so common.py's context
offsets (in hops) come out the same.
"""
import sys, os, glob, wave
import numpy as np
from feat import read_notes, labels, HOP

if __name__ == '__main__':
    setname, wav_dir, dump_dir, out = sys.argv[1:5]
    D = {}
    for wp in sorted(glob.glob(wav_dir + '/*.wav')):
        name = os.path.basename(wp)[:-4]
        R = np.load(f'{dump_dir}/{name}.npy')
        t = R[:, 0].astype(np.float64)
        hop_s = np.median(np.diff(t)) if len(t) > 1 else HOP / 48000
        notes = read_notes(wp[:-4] + '.notes.tsv')
        D[name + '|B'] = R[:, 2:].astype(np.float16); D[name + '|L'] = R[:, 1].copy()
        D[name + '|y'] = labels(notes, t); D[name + '|fs'] = np.array(int(round(HOP / hop_s)))
        D[name + '|notes'] = notes; D[name + '|t'] = t
    np.savez(out, **D)
    print(setname, len(D) // 6, 'files ->', out)
