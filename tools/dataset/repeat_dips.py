#!/usr/bin/env python3
"""How deep a repeated note's level dips, for the repeats the tracker found and missed.

    python3 tools/dataset/repeat_dips.py VERBOSE.txt SPLIT_DIR [--families voice,synth-pad]

VERBOSE.txt is what `continuo eval-transcription SPLIT_DIR --verbose` prints (its MISS lines
name the written notes no start matched); SPLIT_DIR is a `cargo xtask render-dataset` split
folder (NAME.wav, NAME.notes.tsv) whose parent holds `manifest.tsv` (each render's family).

For every written note that repeats the pitch before it after a gap of at most 0.3 s, in the
renders of the families asked for, the energy at the pitch's first five harmonics is read every
5 ms (2048-sample Hann frames ending at the instant, ±1 bin) from 50 ms into the note before
to 250 ms into the repeat. Per repeat: the *dip* (the note before's highest level over its
first 80 %, less the lowest level from its written end to 120 ms after the repeat's onset),
the *rise* out of the dip (the highest level of the repeat's first 250 ms less that lowest
one) and the *swing* (the note before's highest less lowest level over its last two thirds:
the beating a held note shows by itself). Prints, per family, for the repeats that were missed
and found, the median dip, how many dip under 6, 6–12 and 12 dB or more, the median rise and
swing; then the missed repeats whose dip is at least 12 dB, comes back within 3 dB and goes
6 dB or more past the swing (clear repeats a judge should not veto). 16-bit PCM (`pcm16.py`);
deterministic; needs numpy.
"""
import argparse
import csv
import pathlib
import re
import statistics

import numpy as np

import pcm16


def load(path):
    params, samples = pcm16.read(path)
    x = np.frombuffer(samples.tobytes(), np.int16).astype(np.float32) / 32768
    return x.reshape(-1, params.nchannels).mean(axis=1), params.framerate


def notes_of(path):
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0][0].isdigit():
            rows.append((float(parts[0]), float(parts[1]), int(round(float(parts[2])))))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("verbose")
    ap.add_argument("split_dir", type=pathlib.Path)
    ap.add_argument("--families", default="voice,strings-ensemble,synth-pad")
    args = ap.parse_args()
    families = args.families.split(",")
    manifest = args.split_dir.parent / "manifest.tsv"
    with open(manifest) as f:
        family_of = {r["name"]: r["family"] for r in csv.DictReader(f, delimiter="\t")}
    missed = {}
    for line in open(args.verbose):
        m = re.match(r"\s+(\S+) MISS\s+([\d.]+) (\d+)", line)
        if m:
            missed.setdefault(m[1], set()).add(round(float(m[2]), 3))

    n, hop_s = 2048, 0.005
    window = np.hanning(n)
    out = []
    for wav in sorted(args.split_dir.glob("*.wav")):
        name = wav.stem
        if family_of.get(name) not in families:
            continue
        x, rate = load(wav)
        notes = notes_of(wav.parent / f"{name}.notes.tsv")

        def energy(t, pitch):
            start = int(t * rate) - n
            if start < 0 or start + n > len(x):
                return -120.0
            spectrum = np.abs(np.fft.rfft(x[start : start + n] * window)) ** 2
            f0 = 440.0 * 2 ** ((pitch - 69) / 12)
            total = 0.0
            for h in range(1, 6):
                b = int(round(f0 * h * n / rate))
                total += spectrum[max(b - 1, 0) : b + 2].sum()
            return 10 * np.log10(total + 1e-12)

        for before, note in zip(notes, notes[1:]):
            if before[2] != note[2] or note[0] - before[1] > 0.3:
                continue
            times = np.arange(before[0] + 0.05, note[0] + min(0.25, note[1] - note[0]), hop_s)
            levels = np.array([energy(t, note[2]) for t in times])
            pre, post = levels[times < note[0] + 0.01], levels[times >= note[0]]
            if len(pre) < 4 or len(post) < 4:
                continue
            body = pre[: max(2, int(len(pre) * 0.8))]
            peak = body.max()
            swing = body.max() - body[len(body) // 3 :].min() if len(body) > 3 else 0.0
            gap = (times >= before[1]) & (times <= note[0] + 0.12)
            low = min(levels[gap].min(), peak) if gap.any() else peak
            miss = round(note[0], 3) in missed.get(name, set())
            out.append((family_of[name], miss, peak - low, post.max() - low, swing, name, note[0]))

    for family in families:
        for miss in (True, False):
            rows = [r for r in out if r[0] == family and r[1] == miss]
            if not rows:
                continue
            dips = [r[2] for r in rows]
            print(
                f"{family:18} {'missed' if miss else 'found':6} {len(rows):4}  "
                f"dip median {statistics.median(dips):5.1f} dB  "
                f"<6 {sum(d < 6 for d in dips):3}  6-12 {sum(6 <= d < 12 for d in dips):3}  "
                f">=12 {sum(d >= 12 for d in dips):3}  "
                f"rise median {statistics.median(r[3] for r in rows):5.1f}  "
                f"swing median {statistics.median(r[4] for r in rows):5.1f}"
            )
    clear = [r for r in out if r[1] and r[2] >= 12 and r[3] >= r[2] - 3 and r[2] - r[4] >= 6]
    print(f"\nmissed repeats that dip >= 12 dB, come back and go 6 dB past the swing: {len(clear)}")
    for r in clear:
        print(f"  {r[5]} {r[6]:.3f}  dip {r[2]:.1f}  rise {r[3]:.1f}  swing {r[4]:.1f}")


if __name__ == "__main__":
    main()
