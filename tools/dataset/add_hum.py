#!/usr/bin/env python3
"""Copy a folder of renders with mains hum added.

    python3 tools/dataset/add_hum.py FROM OUT DB HZ [LEAD_S]

Every 16-bit PCM NAME.wav in FROM is written to OUT with a hum at HZ (50 or 60: the mains
frequency) and its first eight harmonics added to every channel, from the first sample to the
last, DB decibels under the render's own peak (the hum's peak), with its NAME.notes.tsv beside
it. With LEAD_S, the render is first delayed by that many seconds (the notes' times too): the
hum sounds alone before the playing, as an amplifier's does before the musician starts. So `continuo eval-transcription OUT` scores the same melodies played through an
amplifier, a single-coil pickup or a ground loop that hums. The odd harmonics are at 1/h of
the fundamental, the even ones at half that (a transformer's hum), each with a fixed phase.
The hum figures of `docs/transcription-journal.md` (`analysis/hum.rs`) were made this way, e.g.
`add_hum.py /work/dataset/test /tmp/test-hum40 -40 50`. Standard library only; deterministic;
prints how many files it wrote.
"""
import array
import math
import pathlib
import shutil
import sys

import pcm16

HARMONICS = 8


def hum_wave(rate, hz, n):
    """The hum, peak 1, for `n` samples: one period computed and repeated where the period is
    a whole number of samples (50 and 60 Hz at 44.1, 48, 88.2 and 96 kHz), else every
    sample computed."""
    amps = [(1.0 if h % 2 == 1 else 0.5) / h for h in range(1, HARMONICS + 1)]
    w = [2.0 * math.pi * hz * h / rate for h in range(1, HARMONICS + 1)]
    period = rate / hz
    whole = int(round(period)) if abs(period - round(period)) < 1e-9 else n
    one = [sum(a * math.sin(wh * i + h) for h, (a, wh) in enumerate(zip(amps, w), 1))
           for i in range(min(whole, n))]
    peak = max((abs(v) for v in one), default=1.0) or 1.0
    one = [v / peak for v in one]
    return (one * (n // len(one) + 1))[:n] if one else []


def add(src, dst, db, hz, lead_s):
    params, samples = pcm16.read(src)
    ch = params.nchannels
    lead = int(round(lead_s * params.framerate))
    samples = array.array("h", bytes(2 * ch * lead)) + samples
    peak = max((abs(s) for s in samples), default=0)
    level = peak * 10.0 ** (db / 20.0)
    hum = hum_wave(params.framerate, hz, len(samples) // ch)
    out = array.array(
        "h",
        (max(-32768, min(32767, round(s + level * hum[i // ch]))) for i, s in enumerate(samples)),
    )
    pcm16.write(dst, params, out)


def shift(src, dst, lead_s):
    """The notes file with every time (the first two columns) later by `lead_s`; lines that
    are not notes (a header, comments) are copied as they are."""
    if lead_s == 0.0:
        shutil.copyfile(src, dst)
        return
    out = []
    for line in src.read_text().splitlines():
        cols = line.split("\t")
        try:
            cols[0] = f"{float(cols[0]) + lead_s:.6f}"
            cols[1] = f"{float(cols[1]) + lead_s:.6f}"
        except (ValueError, IndexError):
            pass
        out.append("\t".join(cols))
    dst.write_text("\n".join(out) + "\n")


def main():
    if len(sys.argv) not in (5, 6):
        raise SystemExit(__doc__)
    src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    db, hz = float(sys.argv[3]), float(sys.argv[4])
    lead_s = float(sys.argv[5]) if len(sys.argv) == 6 else 0.0
    dst.mkdir(parents=True, exist_ok=True)
    written = 0
    for wav in sorted(src.glob("*.wav")):
        add(wav, dst / wav.name, db, hz, lead_s)
        notes = wav.with_suffix(".notes.tsv")
        if notes.exists():
            shift(notes, dst / notes.name, lead_s)
        written += 1
    print(f"{written} renders written to {dst} with {hz:g} Hz hum {db:+.1f} dB under their peak"
          f", {lead_s:g} s before them")


if __name__ == "__main__":
    main()
