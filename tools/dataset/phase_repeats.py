#!/usr/bin/env python3
"""How far a repeated note turns its partials' phase, against held notes, per family.

    python3 tools/dataset/phase_repeats.py SPLIT_DIR

SPLIT_DIR is a `cargo xtask render-dataset` split folder (NAME.wav, NAME.notes.tsv; the General
MIDI program is the name's `-pNN`). Every render is read in 512-sample Hann frames, 128-sample
hops (the analyser's short frame at 48 kHz). Per frame and written note, the complex-domain
deviation at the note's first 8 partials (their nearest bins, under 8 kHz): sum of |X - X^|
over the partials divided by the sum of |X|, X^ the value predicted from the two frames
before (the previous magnitude, the phase advanced as it advanced between them). Near 0 while
a partial is steady; a note played again starts its partials at a new phase.

Prints per family: the renders, the median of the renders' *habit* (the median over their
notes of each note's median deviation in its body, 100 ms after its onset to 20 ms before its
end), the written repeats (the pitch before, after a gap of at most 0.3 s), and the median
ratio of a repeat's largest deviation in its first 50 ms to the note before's body median,
beside the median ratio of a held note's largest deviation in its body (from 150 ms in) to
its own median: the cue is of use where the first is well above the second. Journal:
`docs/transcription-journal.md`, *Repeats heard in the partials' phase*. 16-bit or 32-bit PCM;
deterministic; needs numpy; about a minute for dev.
"""
import argparse
import pathlib
import statistics
import wave
from collections import defaultdict

import numpy as np

FRAME = 512
HOP = 128
FAMILIES = ["piano", "chromatic", "organ", "guitar", "bass", "strings", "ensemble", "brass",
            "reed", "pipe", "lead", "pad", "effects", "ethnic", "percussive", "sfx"]


def family(program):
    if 52 <= program <= 55:
        return "voice"
    return FAMILIES[program // 8]


def read(path):
    with wave.open(str(path)) as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        data = w.readframes(w.getnframes())
    kind = {2: np.int16, 4: np.int32}[width]
    x = np.frombuffer(data, dtype=kind).astype(np.float64).reshape(-1, channels).mean(axis=1)
    return x / float(np.iinfo(kind).max), rate


def deviation(x):
    """Spectra and the complex-domain deviation per frame and bin."""
    frames = (len(x) - FRAME) // HOP
    index = np.arange(FRAME)[None, :] + HOP * np.arange(frames)[:, None]
    spectra = np.fft.rfft(x[index] * np.hanning(FRAME), axis=1)
    predicted = np.zeros_like(spectra)
    one, two = spectra[1:-1], spectra[:-2]
    predicted[2:] = np.abs(one) * np.exp(1j * (2 * np.angle(one) - np.angle(two)))
    dev = np.abs(spectra - predicted)
    dev[:2] = 0.0
    return np.abs(spectra), dev


def partial_bins(pitch, rate):
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    bins = {round(h * f0 * FRAME / rate) for h in range(1, 9) if h * f0 < min(8000.0, 0.45 * rate)}
    return sorted(b for b in bins if b >= 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("split_dir", type=pathlib.Path)
    args = parser.parse_args()
    per_family = defaultdict(lambda: defaultdict(list))
    for wav in sorted(args.split_dir.glob("*.wav")):
        program = int(wav.stem.rsplit("-p", 1)[1])
        notes = np.loadtxt(wav.parent / (wav.stem + ".notes.tsv"), ndmin=2)
        x, rate = read(wav)
        mags, dev = deviation(x)
        ends = (np.arange(len(mags)) * HOP + FRAME) / rate

        def trace(pitch, start, end):
            bins = partial_bins(int(pitch), rate)
            keep = (ends >= start) & (ends < end)
            if not bins or keep.sum() == 0:
                return None
            return dev[keep][:, bins].sum(axis=1) / (mags[keep][:, bins].sum(axis=1) + 1e-9)

        fam = per_family[family(program)]
        medians = []
        for i, (onset, offset, pitch) in enumerate(notes):
            body = trace(pitch, onset + 0.1, offset - 0.02)
            if body is not None and len(body) >= 8:
                medians.append(float(np.median(body)))
                if len(body) > 40:
                    fam["held"].append(body[20:].max() / max(np.median(body), 1e-3))
            if i > 0 and notes[i - 1][2] == pitch and onset - notes[i - 1][1] <= 0.3:
                start = trace(pitch, onset, onset + 0.05)
                before = trace(pitch, notes[i - 1][0] + 0.1, notes[i - 1][1] - 0.02)
                if start is not None and before is not None and len(before) >= 8:
                    fam["repeat"].append(start.max() / max(np.median(before), 1e-3))
        if medians:
            fam["habit"].append(statistics.median(medians))
    print(f"{'family':<11}{'renders':>8}{'habit':>8}{'repeats':>9}{'repeat x':>10}{'held x':>8}")
    for name, fam in sorted(per_family.items()):
        median = lambda k: statistics.median(fam[k]) if fam[k] else float("nan")
        print(f"{name:<11}{len(fam['habit']):>8}{median('habit'):>8.3f}{len(fam['repeat']):>9}"
              f"{median('repeat'):>10.2f}{median('held'):>8.2f}")


if __name__ == "__main__":
    main()
