#!/usr/bin/env python3
"""Where a rendered note's sound begins, and the NoteOn latency counted from there.

    python3 tools/dataset/sound_start.py LATENCY.tsv MANIFEST.tsv [OUT.tsv]

LATENCY.tsv is `continuo eval-transcription DIR --dump-latency LATENCY.tsv` (one row per
matched note: file, family, pitch, written_s, emitted_s, path, …); MANIFEST.tsv is the
`manifest.tsv` of `cargo xtask render-dataset` (each render's soundfont and program).

The written onset is when the MIDI note begins; the sound begins later by what the soundfont's
sample holds before its attack (leading silence, a slow first millisecond) — a delay no
listener and no analyser can hear through. For every (soundfont, program, pitch) the matched
notes use, this script renders that note alone with FluidSynth (48 kHz, velocity 100, no
reverb or chorus; the soundfonts the Debian packages install, as the renders used) and finds
where its 1 ms RMS envelope first comes within 20 dB of the note's peak in its first 300 ms
(`start_ms`; and within 40 dB: `first_ms`). The NoteOn latency from the sound's start is then
`emitted − written − start`. Prints the medians over the struck, plucked and synth programs
(GM 0–39 and 80–87, as the eval counts them), overall and per soundfont, family and start path;
OUT.tsv (optional) gets one row per note. Deterministic; needs numpy and fluidsynth.
"""
import collections
import pathlib
import statistics
import subprocess
import sys
import tempfile
import wave

import numpy as np

SOUNDFONTS = {
    "FluidR3_GM": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "TimGM6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "MuseScore_General": "/usr/share/sounds/sf3/MuseScore_General.sf3",
}
RATE = 48000
# Each note is rendered alone: one second of it, then silence until the next.
SPACING_S = 1.5
NOTE_S = 1.0


def struck_plucked_synth(program):
    return program <= 39 or 80 <= program <= 87


def varlen(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_file(program, pitches):
    """A one-track MIDI file (480 ticks a beat at 120 bpm: 960 ticks a second) playing each
    pitch alone, SPACING_S apart, on channel 1 with `program`."""
    tps = 960
    events = [(0, bytes([0xC0, program]))]
    for i, p in enumerate(pitches):
        on = round(i * SPACING_S * tps)
        events.append((on, bytes([0x90, p, 100])))
        events.append((on + round(NOTE_S * tps), bytes([0x80, p, 0])))
    events.sort(key=lambda e: e[0])
    track, now = b"", 0
    for t, e in events:
        track += varlen(t - now) + e
        now = t
    track += varlen(round(SPACING_S * tps)) + b"\xff\x2f\x00"
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
    header += (480).to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + track


def render(soundfont, program, pitches, tmp):
    mid = pathlib.Path(tmp) / "notes.mid"
    wav = pathlib.Path(tmp) / "notes.wav"
    mid.write_bytes(midi_file(program, pitches))
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-C", "0", "-R", "0", "-g", "0.5", "-r", str(RATE),
         "-T", "wav", "-F", str(wav), SOUNDFONTS[soundfont], str(mid)],
        check=True, capture_output=True)
    with wave.open(str(wav)) as w:
        channels, width = w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    kind = {2: np.int16, 4: np.int32}[width]
    x = np.frombuffer(raw, dtype=kind).astype(np.float64).reshape(-1, channels).mean(axis=1)
    starts = {}
    ms = RATE // 1000
    for i, p in enumerate(pitches):
        a = round(i * SPACING_S * RATE)
        seg = x[a:a + round(0.3 * RATE)]
        frames = len(seg) // ms
        env = np.sqrt(np.mean(seg[:frames * ms].reshape(frames, ms) ** 2, axis=1)) + 1e-12
        db = 20 * np.log10(env / env.max())
        start = int(np.argmax(db >= -20.0))
        first = int(np.argmax(db >= -40.0))
        starts[p] = (start + 0.5, first + 0.5)
    return starts


def main():
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    rows = list(csvrows(sys.argv[1]))
    manifest = {r["name"]: r for r in csvrows(sys.argv[2])}
    wanted = collections.defaultdict(set)
    notes = []
    for r in rows:
        m = manifest.get(r["file"])
        if m is None:
            continue
        program = int(m["program"])
        if not struck_plucked_synth(program):
            continue
        key = (m["soundfont"], program)
        wanted[key].add(int(r["pitch"]))
        notes.append((r, key))
    starts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for (sf, program), pitches in sorted(wanted.items()):
            for p, s in render(sf, program, sorted(pitches), tmp).items():
                starts[(sf, program, p)] = s
    groups = collections.defaultdict(lambda: ([], []))
    out = []
    for r, (sf, program) in notes:
        start, first = starts[(sf, program, int(r["pitch"]))]
        written = 1000 * (float(r["emitted_s"]) - float(r["written_s"]))
        sound = written - start
        out.append((r["file"], sf, program, r["pitch"], r["path"], written, start, first, sound))
        for g in ("all", "soundfont " + sf, "family " + r["family"], "path " + r["path"]):
            groups[g][0].append(written)
            groups[g][1].append(sound)
    print("struck/plucked/synth NoteOn latency, medians (ms): after the written onset, after "
          "the sound's start (−20 dB of its peak), the start itself")
    print(f"{'group':<34}{'notes':>7}{'written':>9}{'sound':>8}{'start':>8}")
    for g, (w, s) in sorted(groups.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        start = statistics.median(a - b for a, b in zip(w, s))
        print(f"{g:<34}{len(w):>7}{statistics.median(w):>9.1f}{statistics.median(s):>8.1f}"
              f"{start:>8.1f}")
    if len(sys.argv) == 4:
        with open(sys.argv[3], "w") as f:
            f.write("file\tsoundfont\tprogram\tpitch\tpath\tafter_written_ms\tstart_ms\t"
                    "first_ms\tafter_sound_ms\n")
            for o in out:
                f.write("\t".join(str(v) if not isinstance(v, float) else f"{v:.1f}"
                                  for v in o) + "\n")


def csvrows(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            yield dict(zip(header, line.rstrip("\n").split("\t")))


if __name__ == "__main__":
    main()
