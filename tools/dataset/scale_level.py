#!/usr/bin/env python3
"""Copy a folder of renders at another input level.

    python3 tools/dataset/scale_level.py FROM OUT DB

Every 16-bit PCM NAME.wav in FROM is written to OUT multiplied by DB decibels (rounded to the
nearest sample value and clipped to 16 bits), with its NAME.notes.tsv beside it, so that
`continuo eval-transcription OUT` scores the same melodies as a musician whose interface gain
is DB lower (or higher). The level figures of `docs/transcription-journal.md`
(`analysis/input_level.rs`) were made this way, e.g. `scale_level.py /work/dataset/test
/tmp/test-24 -24`. Standard library only; deterministic; prints how many files it wrote.
"""
import array
import pathlib
import shutil
import sys

import pcm16


def scale(src, dst, gain):
    params, samples = pcm16.read(src)
    out = array.array("h", (max(-32768, min(32767, round(s * gain))) for s in samples))
    pcm16.write(dst, params, out)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    src, dst, db = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), float(sys.argv[3])
    dst.mkdir(parents=True, exist_ok=True)
    gain = 10.0 ** (db / 20.0)
    written = 0
    for wav in sorted(src.glob("*.wav")):
        scale(wav, dst / wav.name, gain)
        notes = wav.with_suffix(".notes.tsv")
        if notes.exists():
            shutil.copyfile(notes, dst / notes.name)
        written += 1
    print(f"{written} renders written to {dst} at {db:+.1f} dB")


if __name__ == "__main__":
    main()
