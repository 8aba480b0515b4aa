"""Synthetic renders for the frame model: the sounds the rendered instruments never make.

python3 synth.py OUT_DIR [COUNT] [SEED]      (defaults 240, 7)

The shipped network learned from FluidSynth renders only, and the note-start judge trusted it
on sounds it had never heard: mains hum under a quiet phrase (named G1, a note started in the
pause), an organ registration whose 16' stop is its loudest partial, struck bars whose top mode
is louder than the fundamental. Each file here is a melody of one synthetic kind, with its
written notes (NAME.wav, 16-bit mono, and NAME.notes.tsv: onset_s, offset_s, MIDI, as the
renders have):
  tone   harmonic spectra (sine, saw, 0.7^h, odd harmonics, random), 2-150 ms attacks, decays,
         vibrato, an envelope that dips after its attack and swells back, repeats at one pitch
         (20-60 % of the notes), glides into the note from up to two semitones under it,
         let-ring overlaps, a room that holds each released note 12-24 dB down (half the files:
         written as no note);
  organ  registrations of sines at 1/4, 1/2, 1, 3/2, 2, 3, 4 x the key at random levels (the
         written note is the key, the 8' pitch, whatever partial is loudest);
  bar    struck bars (modes 1, 2.756, 5.404 or 1, 3.9, 9.2 or 1, 4, 10 x the fundamental);
and, under any kind, mains hum (50 or 60 Hz with eight harmonics, 15-40 dB under the notes,
alone for 1-3 s before and after them: written as no note), or noise, at input levels from
-70 to -6 dBFS. Deterministic for a given seed; commit no audio.
"""
import sys, os, wave
import numpy as np

KINDS = ('tone', 'tone', 'organ', 'bar')


def midi_hz(m):
    return 440.0 * 2.0 ** ((np.asarray(m) - 69.0) / 12.0)


def partials(rng, kind, f0, sr):
    """(ratio, amplitude) pairs of one note of `kind`."""
    top = sr * 0.45
    if kind == 'organ':
        ratios = np.array([0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0])
        keep = rng.random(7) < np.array([0.15, 0.6, 1.0, 0.4, 0.7, 0.3, 0.5])
        keep[2] = True
        db = rng.uniform(-20, 0, 7)
        if keep[1] and rng.random() < 0.6:
            db[1] = max(db[1], db[2] + rng.uniform(0, 6))
        r, a = ratios[keep], 10 ** (db[keep] / 20)
    elif kind == 'bar':
        modes = [(1, 2.756, 5.404), (1, 3.9, 9.2), (1, 4.0, 10.0)][rng.integers(3)]
        r = np.array(modes, float)
        a = np.array([1.0, rng.uniform(0.1, 0.6), rng.uniform(0.2, 1.2)])
    else:
        shape = rng.integers(5)
        h = np.arange(1, 41, dtype=float)
        if shape == 0:
            a = (h == 1).astype(float)
        elif shape == 1:
            a = 1 / h
        elif shape == 2:
            a = 0.7 ** (h - 1)
        elif shape == 3:
            a = np.where(h % 2 == 1, 1 / h, 0.05 / h)
        else:
            a = rng.uniform(0.05, 1, 40) / h ** rng.uniform(0.3, 1.5)
        r = h
    ok = f0 * r < top
    return r[ok], a[ok]


def note(rng, kind, midi, dur, sr, style):
    """One note's samples (its decay or release runs past `dur` for let-ring and bars)."""
    ring = dur + (0.6 if kind == 'bar' or style['let_ring'] or style['room'] else 0.02)
    n = int(ring * sr)
    t = np.arange(n) / sr
    pitch = np.full(n, float(midi))
    if style['vibrato']:
        pitch += style['vibrato'] * np.sin(2 * np.pi * style['vib_hz'] * t) * np.minimum(t / 0.3, 1)
    if style['glide'] and rng.random() < 0.5:
        g = rng.uniform(0.03, 0.12)
        pitch -= rng.uniform(0.5, 2.0) * np.clip(1 - t / g, 0, 1)
    f = midi_hz(pitch)
    phase = 2 * np.pi * np.cumsum(f) / sr
    ratios, amps = partials(rng, kind, midi_hz(midi), sr)
    x = np.zeros(n)
    for r, a in zip(ratios, amps):
        dec = style['decay'] * (1 + 0.3 * r) if kind != 'organ' else 0
        if kind == 'bar':
            dec = 1.5 * r ** 0.7
        x += a * np.sin(r * phase + rng.uniform(0, 6.3)) * np.exp(-dec * t)
    att = 0.002 if kind == 'bar' else style['attack']
    env = np.minimum(t / att, 1)
    if style['dip']:
        d = style['dip']
        env *= np.where(t < 0.1, 1 - d * t / 0.1, 1 - d + d * np.minimum((t - 0.1) / 0.1, 1))
    end = dur if kind != 'bar' and not style['let_ring'] else ring
    env *= np.clip((end - t) / 0.02, 0, 1)
    if style['room'] and end == dur:
        # The room holds the released note: 12-24 dB down, dying away over 0.3-1.5 s.
        after = np.maximum(t - dur + 0.02, 0)
        env = np.where(t < dur - 0.02, env, np.maximum(env, style['room'] * 10 ** (-after * style['room_fall'])
                                                       * np.minimum(t / att, 1)))
        env *= np.clip((ring - t) / 0.02, 0, 1)
    x *= env
    return x / (np.max(np.abs(x)) + 1e-9)


def hum(rng, n, sr):
    hz = 50.0 if rng.random() < 0.5 else 60.0
    t = np.arange(n) / sr
    x = sum((1 if h % 2 else rng.uniform(0.2, 1)) / h * np.sin(2 * np.pi * hz * h * t + h)
            for h in range(1, 9))
    return x / np.max(np.abs(x))


def render(rng, sr):
    kind = KINDS[rng.integers(len(KINDS))]
    style = dict(
        attack=float(np.exp(rng.uniform(np.log(0.002), np.log(0.15)))),
        decay=float(rng.choice([0, 0, 0.5, 2, 5])),
        vibrato=float(rng.choice([0, 0, 0.1, 0.3])), vib_hz=float(rng.uniform(4.5, 6.5)),
        glide=bool(kind == 'tone' and rng.random() < 0.3),
        dip=float(rng.choice([0, 0, 0, 0.9, 0.6])) if kind == 'tone' else 0.0,
        let_ring=bool(kind == 'tone' and rng.random() < 0.2),
        room=float(10 ** (-rng.uniform(12, 24) / 20)) if rng.random() < 0.5 else 0.0,
        room_fall=float(rng.uniform(2, 10)),
    )
    repeats = rng.uniform(0.2, 0.6)
    centre = rng.integers(40, 84) if kind != 'bar' else rng.integers(62, 90)
    lead = rng.uniform(1, 3) if rng.random() < 0.5 else 0.3
    n_notes = rng.integers(8, 20)
    tempo = rng.uniform(0.12, 0.7)
    notes, pos, m = [], lead, centre
    for _ in range(n_notes):
        if rng.random() > repeats:  # a repeat keeps m
            m = int(np.clip(m + rng.integers(-5, 6), 28, 105))
        dur = tempo * rng.choice([0.5, 1, 1, 2, 3])
        gap = 0.0 if rng.random() < 0.3 else rng.uniform(0.03, 0.3)
        notes.append((pos, pos + dur, m))
        pos += dur + gap
    total = pos + (rng.uniform(1, 3) if rng.random() < 0.6 else 0.5)
    x = np.zeros(int(total * sr) + 1)
    for on, off, m in notes:
        s = note(rng, kind, m, off - on, sr, style) * rng.uniform(0.5, 1.0)
        i = int(on * sr)
        j = min(len(x), i + len(s))
        x[i:j] += s[:j - i]
    x /= np.max(np.abs(x)) + 1e-9
    extra = rng.random()
    if extra < 0.45:
        x += hum(rng, len(x), sr) * 10 ** (-rng.uniform(15, 40) / 20)
    elif extra < 0.65:
        x += rng.standard_normal(len(x)) * 10 ** (-rng.uniform(30, 50) / 20)
    x *= 10 ** (rng.uniform(-70, -6) / 20) / (np.max(np.abs(x)) + 1e-9)
    # The written notes: let-ring and bar notes are written as they are played (the key's length).
    return kind, x, notes


if __name__ == '__main__':
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 240
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    os.makedirs(out, exist_ok=True)
    for k in range(count):
        rng = np.random.default_rng([seed, k])
        sr = 48000 if rng.random() < 0.5 else 44100
        kind, x, notes = render(rng, sr)
        name = f'syn{kind}-{k:04d}-0-p0'
        with wave.open(f'{out}/{name}.wav', 'wb') as w:
            w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr)
            w.writeframes((np.clip(x, -1, 1) * 32767).astype('<i2').tobytes())
        with open(f'{out}/{name}.notes.tsv', 'w') as f:
            for on, off, m in notes:
                f.write(f'{on:.4f}\t{off:.4f}\t{m}\n')
    print(count, 'files ->', out)
