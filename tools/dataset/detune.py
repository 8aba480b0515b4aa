#!/usr/bin/env python3
"""Copy a folder of renders played off-pitch.

    python3 tools/dataset/detune.py FROM OUT CENTS

Every 16-bit PCM NAME.wav in FROM that has a NAME.notes.tsv is written to OUT with its sample
rate relabelled by 2^(CENTS / 1200) (rounded to a whole rate): played back, every pitch moves
by CENTS and every time by the inverse, as on an instrument tuned CENTS away from A4 = 440 Hz
(−32 for A4 = 432 Hz). The samples are copied as they are; the NAME.notes.tsv written beside
keeps the written pitches and moves the onsets and offsets to the new time; NAME.json is
copied. So `continuo eval-transcription OUT` scores the same melodies played off-pitch. The
figures of `docs/transcription-journal.md` for `analysis/concert_pitch.rs` were made this way, e.g.
`detune.py /work/dataset/test /tmp/test-det-30 -30`. Standard library only; deterministic;
prints how many files it wrote.
"""
import pathlib
import shutil
import sys

import pcm16


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    cents = float(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for wav in sorted(src.glob("*.wav")):
        tsv = wav.with_name(wav.stem + ".notes.tsv")
        if not tsv.exists():
            continue
        params, samples = pcm16.read(wav)
        rate = round(params.framerate * 2 ** (cents / 1200))
        stretch = rate / params.framerate
        pcm16.write(out / wav.name, params._replace(framerate=rate), samples)
        with open(tsv) as f, open(out / tsv.name, "w") as g:
            for line in f:
                cols = line.split()
                if len(cols) < 3:
                    continue
                g.write(f"{float(cols[0]) / stretch:.4f}\t{float(cols[1]) / stretch:.4f}\t{cols[2]}\n")
        meta = wav.with_name(wav.stem + ".json")
        if meta.exists():
            shutil.copy(meta, out / meta.name)
        written += 1
    print(f"{written} renders written to {out}")


if __name__ == "__main__":
    main()
