//! MODEL THREAD: the chords Continuo plays — an answer's chords chosen with lookahead, and the
//! live harmoniser's choices for the coming beat — at the musician's harmonic rhythm and
//! complexity.
//!
//! The chord model ([`super::model`]) gives one chord per beat. Here:
//! - [`answer_chords`]: an answer is harmonised offline (every chord knowing the melody after it),
//!   then each span of the harmonic rhythm (a bar, half a bar, a beat) takes one of the chords the
//!   model chose inside it: the one whose tones cover most of the span's melody (the span's first
//!   chord on a tie).
//! - [`next_beat_options`]: the causal harmoniser's chord for the coming beat for each pitch class
//!   the player may be sounding when it starts (and for none), so the audio thread can pick the
//!   right one the moment the beat comes without waiting for the model thread.
//! - [`Complexity`]: triads only, or sevenths (the model's, and the dominant always with its
//!   seventh).

use super::chord::{Chord, Quality};
use super::model::{melody_beats, BeatMelody, HarmonyModel, LiveHarmoniser};
use super::output::Segment;
use super::place::Places;
use crate::meter::Meter;
use crate::model::Note;
use crate::music::KeySignature;

/// Longest answer harmonised, in beats (longer ones keep their first beats' chords).
pub const MAX_BEATS: usize = 64;

/// Which chords are played (the *Chords* parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complexity {
    /// A seventh chord is played as its triad (G7 → G, Bø7 → B°).
    Triads,
    /// The model's sevenths, and the major triad on the key's fifth degree as a dominant seventh.
    Sevenths,
}

impl Complexity {
    /// The chord as this complexity plays it in `key`.
    pub fn apply(self, chord: Chord, key: KeySignature) -> Chord {
        let Chord::Some { root, quality } = chord else {
            return chord;
        };
        let q = match (self, quality) {
            (Complexity::Triads, Quality::Dominant7 | Quality::Major7) => Quality::Major,
            (Complexity::Triads, Quality::Minor7) => Quality::Minor,
            (Complexity::Triads, Quality::HalfDiminished7 | Quality::Diminished7) => {
                Quality::Diminished
            }
            (Complexity::Sevenths, Quality::Major) if root == (key.tonic + 7) % 12 => {
                Quality::Dominant7
            }
            (_, q) => q,
        };
        Chord::new(root, q)
    }

    /// [`Self::apply`] for a chord that starts under the melody's pitch class `melody`: a
    /// seventh chord whose seventh is that note keeps it (G7 under an F stays G7, not G), since
    /// the melody sounds the seventh anyway and the triad would leave the held note outside the
    /// chord played and named.
    pub fn apply_under(self, chord: Chord, key: KeySignature, melody: Option<u8>) -> Chord {
        let applied = self.apply(chord, key);
        match melody {
            Some(pc) if chord.contains(pc) && !applied.contains(pc) => chord,
            _ => applied,
        }
    }
}

/// How well `chord` fits one span's melody: the share of the span's melody (on-beat notes count
/// one each, later notes by the share of the beat they take) that are its chord tones.
fn fit(chord: Chord, span: &[BeatMelody]) -> f32 {
    let mut score = 0.0;
    for beat in span {
        if let Some(pc) = beat.on_beat {
            if chord.contains(pc) {
                score += 1.0;
            }
        }
        for (pc, w) in beat.off_beat.iter().enumerate() {
            if chord.contains(pc as u8) {
                score += w;
            }
        }
    }
    score
}

/// One chord per span of `rhythm` beats from the model's chord per beat (see the module doc).
pub fn at_rhythm(per_beat: &[Chord], melody: &[BeatMelody], rhythm: usize) -> Vec<Chord> {
    let rhythm = rhythm.max(1);
    let mut out = Vec::with_capacity(per_beat.len());
    for (s, span) in per_beat.chunks(rhythm).enumerate() {
        let from = s * rhythm;
        let mel = &melody[from.min(melody.len())..(from + span.len()).min(melody.len())];
        let mut best = (fit(span[0], mel), span[0]);
        for &c in &span[1..] {
            let f = fit(c, mel);
            if f > best.0 {
                best = (f, c);
            }
        }
        out.extend(std::iter::repeat_n(best.1, span.len()));
    }
    out
}

/// The chords under an answer (onsets in beats from its start, which falls `start_in_bar` beats
/// after a bar line of `meter`): harmonised with lookahead, one chord per span of `rhythm` beats counted
/// from the bar lines (a pickup gets the chord of the beats before the bar), at `complexity`, as
/// segments (equal neighbours joined, beats from the answer's start) covering the answer up to
/// its last note's end rounded up to a beat of the bar. No chord for an empty answer.
pub fn answer_chords(
    model: &HarmonyModel,
    melody: &[Note],
    key: KeySignature,
    rhythm: usize,
    meter: Meter,
    start_in_bar: f64,
    complexity: Complexity,
) -> Vec<Segment> {
    let pad = if start_in_bar.is_finite() {
        start_in_bar.max(0.0)
    } else {
        0.0
    };
    // The melody from the bar line: beat `k` of the harmoniser is beat `k - pad` of the answer.
    let padded: Vec<Note> = melody
        .iter()
        .filter(|n| n.onset.is_finite() && n.duration.is_finite())
        .map(|n| Note {
            onset: n.onset + pad,
            ..*n
        })
        .collect();
    let end = padded
        .iter()
        .map(|n| n.onset + n.duration.max(0.0))
        .fold(0.0f64, f64::max);
    if padded.is_empty() || end <= pad {
        return Vec::new();
    }
    let beats = (end - 1e-6).ceil().clamp(1.0, MAX_BEATS as f64) as usize;
    let mel = melody_beats(&padded, beats);
    let mut per_beat = model.harmonise(&mel, key, Places::new(meter, 0.0));
    // The beats before the answer's first chord are empty or hold only its pickup ("no chord" to
    // the model): they take that first chord, so the pickup sounds over the chord it leads into.
    let first = pad.floor() as usize;
    if let Some(j) = (first..per_beat.len()).find(|&j| per_beat[j] != Chord::None) {
        let c = per_beat[j];
        per_beat[..j].fill(c);
    }
    let chords: Vec<Chord> = at_rhythm(&per_beat, &mel, rhythm)
        .into_iter()
        .map(|c| complexity.apply(c, key))
        .collect();
    super::output::segments(&chords)
        .into_iter()
        .filter(|s| s.end > pad + 1e-9)
        .map(|s| Segment {
            start: (s.start - pad).max(0.0),
            end: s.end - pad,
            chord: s.chord,
        })
        .collect()
}

/// Bends an answer's melody toward its chords: a note starting on a chord change or on a beat
/// `strong` calls strong (the caller's meter: beats 1 and 3 of 4/4) that is not a tone of the chord under
/// it moves to the nearest chord tone at most two semitones away that `allowed` accepts (the
/// range and the scale lock) — unless it resolves by step to a chord tone on the next note (an
/// appoggiatura or a suspension: what the model meant). Onsets and lengths never change. Returns
/// how many notes moved.
pub fn fit_melody(
    notes: &mut [Note],
    segments: &[Segment],
    allowed: &dyn Fn(u8) -> bool,
    strong: &dyn Fn(f64) -> bool,
) -> usize {
    let chord_at = |beat: f64| segments.iter().find(|s| s.start <= beat && beat < s.end);
    let mut moved = 0;
    for i in 0..notes.len() {
        let n = notes[i];
        let Some(seg) = chord_at(n.onset) else {
            continue;
        };
        let strong = (n.onset - seg.start).abs() < 1e-6 || strong(n.onset);
        if !strong || seg.chord == Chord::None || seg.chord.contains(n.pitch) {
            continue;
        }
        let resolves = notes.get(i + 1).is_some_and(|next| {
            let step = (next.pitch as i32 - n.pitch as i32).abs();
            (1..=2).contains(&step)
                && chord_at(next.onset).is_some_and(|c| c.chord.contains(next.pitch))
        });
        if resolves {
            continue;
        }
        let from = i.checked_sub(1).map(|p| notes[p].pitch as i32);
        let mut best: Option<(i32, u8)> = None;
        for d in [-2i32, -1, 1, 2] {
            let p = n.pitch as i32 + d;
            if !(0..=127).contains(&p) || !seg.chord.contains(p as u8) || !allowed(p as u8) {
                continue;
            }
            // Nearest first; between equals, the one nearer the note before.
            let cost = d.abs() * 16 + from.map_or(0, |f| (p - f).abs());
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, p as u8));
            }
        }
        if let Some((_, p)) = best {
            notes[i].pitch = p;
            moved += 1;
        }
    }
    moved
}

/// Number of options [`next_beat_options`] gives: one per pitch class, then "no note".
pub const OPTIONS: usize = 13;

/// The causal harmoniser's chord for the beat after `recent` (the last beats, oldest first, the
/// last one possibly still under way) for each pitch class the melody may sound when that beat
/// starts (index = pitch class), and for silence (index 12). `places` gives the place in the
/// bar of each beat from `recent[0]` on. The harmoniser starts afresh at `recent[0]`: a few beats are enough for
/// its belief to settle.
pub fn next_beat_options(
    model: &HarmonyModel,
    key: KeySignature,
    recent: &[BeatMelody],
    places: Places,
) -> [Chord; OPTIONS] {
    let mut live = LiveHarmoniser::new(model, key);
    for (t, beat) in recent.iter().enumerate() {
        live.chord_at_beat(beat, places.at(t));
        live.beat_done(beat);
    }
    let place = places.at(recent.len());
    let previous = recent.last().and_then(|b| b.on_beat);
    let mut out = [Chord::None; OPTIONS];
    for (i, slot) in out.iter_mut().enumerate() {
        let beat = BeatMelody {
            on_beat: (i < 12).then_some(i as u8),
            previous,
            ..BeatMelody::default()
        };
        *slot = live.chord_at_beat(&beat, place);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::Mode;

    const C_MAJOR: KeySignature = KeySignature {
        tonic: 0,
        mode: Mode::Major,
    };

    fn note(pitch: u8, onset: f64, duration: f64) -> Note {
        Note {
            pitch,
            onset,
            duration,
            velocity: 80,
        }
    }

    #[test]
    fn complexity_reduces_sevenths_or_makes_the_dominant_one() {
        let g = Chord::new(7, Quality::Major);
        let g7 = Chord::new(7, Quality::Dominant7);
        let am7 = Chord::new(9, Quality::Minor7);
        let b_hdim = Chord::new(11, Quality::HalfDiminished7);
        assert_eq!(Complexity::Triads.apply(g7, C_MAJOR), g);
        assert_eq!(
            Complexity::Triads.apply(am7, C_MAJOR),
            Chord::new(9, Quality::Minor)
        );
        assert_eq!(
            Complexity::Triads.apply(b_hdim, C_MAJOR),
            Chord::new(11, Quality::Diminished)
        );
        assert_eq!(Complexity::Sevenths.apply(g, C_MAJOR), g7);
        assert_eq!(Complexity::Sevenths.apply(am7, C_MAJOR), am7);
        // F major is not the dominant of C.
        let f = Chord::new(5, Quality::Major);
        assert_eq!(Complexity::Sevenths.apply(f, C_MAJOR), f);
        assert_eq!(Complexity::Triads.apply(Chord::None, C_MAJOR), Chord::None);
        // Under the melody's own seventh the seventh stays; under another note it goes.
        assert_eq!(Complexity::Triads.apply_under(g7, C_MAJOR, Some(5)), g7);
        assert_eq!(Complexity::Triads.apply_under(g7, C_MAJOR, Some(7)), g);
        assert_eq!(Complexity::Triads.apply_under(g7, C_MAJOR, None), g);
        assert_eq!(Complexity::Sevenths.apply_under(g, C_MAJOR, Some(7)), g7);
    }

    #[test]
    fn one_chord_per_span_the_one_that_fits_the_span_best() {
        let c = Chord::new(0, Quality::Major);
        let f = Chord::new(5, Quality::Major);
        let g = Chord::new(7, Quality::Major);
        // Melody E, A, F, F: F fits three beats of four; E and A tie C and F (C, the first).
        let mel = melody_beats(
            &[
                note(64, 0.0, 1.0),
                note(69, 1.0, 1.0),
                note(65, 2.0, 1.0),
                note(65, 3.0, 1.0),
            ],
            4,
        );
        assert_eq!(at_rhythm(&[c, f, f, g], &mel, 4), vec![f; 4]);
        assert_eq!(at_rhythm(&[c, f, f, g], &mel, 2), vec![c, c, f, f]);
        assert_eq!(at_rhythm(&[c, f, f, g], &mel, 1), vec![c, f, f, g]);
        // A short last span.
        assert_eq!(at_rhythm(&[c, f, g], &mel[..3], 2), vec![c, c, g]);
        assert!(at_rhythm(&[], &[], 4).is_empty());
    }

    /// A waltz whose bars each outline one chord: harmonised in its own bars (3/4 places, one
    /// chord a bar), each bar gets the chord it outlines.
    #[test]
    fn a_waltz_is_harmonised_in_its_own_bars() {
        let model = super::super::model::embedded().expect("built-in harmony model");
        let bars: [([u8; 3], &str); 8] = [
            ([60, 64, 67], "C:maj"),
            ([67, 71, 74], "G:maj"),
            ([64, 60, 64], "C:maj"),
            ([65, 69, 72], "F:maj"),
            ([72, 67, 64], "C:maj"),
            ([67, 71, 74], "G:maj"),
            ([72, 67, 64], "C:maj"),
            ([60, 60, 60], "C:maj"),
        ];
        let notes: Vec<Note> = bars
            .iter()
            .flat_map(|(bar, _)| bar)
            .enumerate()
            .map(|(i, &p)| note(p, i as f64, 1.0))
            .collect();
        let waltz = Meter {
            numerator: 3,
            denominator: 4,
            origin: 0.0,
        };
        let segs = answer_chords(model, &notes, C_MAJOR, 3, waltz, 0.0, Complexity::Triads);
        for (i, (_, want)) in bars.iter().enumerate() {
            let at = i as f64 * 3.0;
            let seg = segs.iter().find(|s| s.start <= at && at < s.end);
            assert_eq!(
                seg.map(|s| s.chord.to_string()).as_deref(),
                Some(*want),
                "bar {i}: {segs:?}"
            );
        }
        for s in &segs {
            assert_eq!(
                s.start % 3.0,
                0.0,
                "chords change on the bar lines: {segs:?}"
            );
        }
    }

    #[test]
    fn the_built_in_model_harmonises_an_answer_at_the_harmonic_rhythm() {
        let model = super::super::model::embedded().expect("built-in harmony model");
        // C D E F | G G A B | C (two beats) — half notes and quarter notes.
        let pitches = [60u8, 62, 64, 65, 67, 67, 69, 71, 72];
        let notes: Vec<Note> = pitches
            .iter()
            .enumerate()
            .map(|(i, &p)| note(p, i as f64, if i == 8 { 2.0 } else { 1.0 }))
            .collect();
        for (rhythm, most) in [(4, 3), (2, 5), (1, 10)] {
            let segs = answer_chords(
                model,
                &notes,
                C_MAJOR,
                rhythm,
                Meter::COMMON,
                0.0,
                Complexity::Triads,
            );
            assert!(!segs.is_empty() && segs.len() <= most, "{rhythm}: {segs:?}");
            assert_eq!(segs[0].start, 0.0);
            assert_eq!(segs.last().unwrap().end, 10.0);
            for s in &segs {
                assert!(
                    s.start % rhythm as f64 == 0.0,
                    "changes on the rhythm: {s:?}"
                );
                assert!(!s.chord.quality().is_some_and(|q| q.is_seventh()));
            }
            // Ends on the tonic.
            assert_eq!(segs.last().unwrap().chord, Chord::new(0, Quality::Major));
        }
        assert!(answer_chords(
            model,
            &[],
            C_MAJOR,
            2,
            Meter::COMMON,
            0.0,
            Complexity::Triads
        )
        .is_empty());
        // An answer from beat 4 of a bar (a one-beat pickup): the chords change on the bar
        // lines, one beat and five beats into the answer, and start at the answer.
        let segs = answer_chords(
            model,
            &notes,
            C_MAJOR,
            4,
            Meter::COMMON,
            3.0,
            Complexity::Triads,
        );
        assert_eq!(segs[0].start, 0.0);
        for s in &segs[1..] {
            assert_eq!(
                (s.start + 3.0) % 4.0,
                0.0,
                "changes on the bar lines: {segs:?}"
            );
        }
        assert_eq!(segs.last().unwrap().end, 10.0, "{segs:?}");
        // A sixteenth pickup before the half-bar line (the host tests' call): a chord sounds
        // from the answer's first note.
        let pickup = [
            note(67, 0.0, 0.25),
            note(72, 0.25, 1.75),
            note(71, 2.25, 1.75),
        ];
        let segs = answer_chords(
            model,
            &pickup,
            C_MAJOR,
            2,
            Meter::COMMON,
            1.75,
            Complexity::Triads,
        );
        assert_eq!(segs[0].start, 0.0);
        assert_ne!(segs[0].chord, Chord::None, "{segs:?}");
    }

    #[test]
    fn the_melody_bends_to_its_chords_on_strong_beats_only() {
        let c = Chord::new(0, Quality::Major);
        let g = Chord::new(7, Quality::Major);
        let segs = [
            Segment {
                start: 0.0,
                end: 2.0,
                chord: c,
            },
            Segment {
                start: 2.0,
                end: 4.0,
                chord: g,
            },
        ];
        let mut mel = vec![
            note(62, 0.0, 1.0), // D on the change to C, then F: moves to C (or E)
            note(65, 1.0, 1.0), // F on a weak beat: stays
            note(69, 2.0, 0.5), // A on the change to G, then G: an appoggiatura, stays
            note(67, 2.5, 0.5),
            note(72, 3.0, 1.0), // C on a weak beat: stays
        ];
        let all = |_p: u8| true;
        let strong = |beat: f64| crate::meter::Meter::COMMON.weight(beat) >= 0.6;
        assert_eq!(fit_melody(&mut mel, &segs, &all, &strong), 1);
        let pitches: Vec<u8> = mel.iter().map(|n| n.pitch).collect();
        assert!(pitches[0] == 60 || pitches[0] == 64, "{pitches:?}");
        assert_eq!(&pitches[1..], &[65, 69, 67, 72]);
        // Nothing allowed: nothing moves; onsets and lengths never change.
        let mut mel2 = vec![note(62, 0.0, 1.0), note(65, 1.0, 1.0)];
        assert_eq!(fit_melody(&mut mel2, &segs, &|_| false, &strong), 0);
        assert_eq!(mel2[0].pitch, 62);
        let mut mel3 = vec![note(62, 0.0, 1.0), note(65, 1.0, 1.0)];
        fit_melody(&mut mel3, &segs, &|p| p == 64, &strong);
        assert_eq!(
            (mel3[0].pitch, mel3[0].onset, mel3[0].duration),
            (64, 0.0, 1.0)
        );
    }

    #[test]
    fn live_options_hold_the_note_the_beat_starts_with() {
        let model = super::super::model::embedded().expect("built-in harmony model");
        let mel = melody_beats(
            &[note(60, 0.0, 1.0), note(64, 1.0, 1.0), note(67, 2.0, 1.0)],
            3,
        );
        let options = next_beat_options(model, C_MAJOR, &mel, Places::common(0));
        // Diatonic notes get a chord that holds them.
        for pc in [0u8, 2, 4, 5, 7, 9, 11] {
            assert!(
                options[pc as usize].contains(pc),
                "{pc}: {}",
                options[pc as usize]
            );
        }
        // Over a rest the model may choose a chord or none (the accompanist then holds the
        // chord that sounds).
        let _ = options[12];
    }
}

/// Cost on the model thread (`cargo test -p continuo --lib -- --ignored harmony_cost
/// --nocapture`): a 16-beat answer harmonised, and one live table (6 beats read, 13 options).
#[cfg(test)]
mod cost {
    use super::*;
    use crate::music::Mode;

    #[test]
    #[ignore = "a measurement, not a check"]
    fn harmony_cost() {
        let model = super::super::model::embedded().unwrap();
        let key = KeySignature {
            tonic: 0,
            mode: Mode::Major,
        };
        let notes: Vec<Note> = (0..16)
            .map(|i| Note {
                pitch: [60u8, 62, 64, 65, 67, 69, 71, 72][i % 8],
                onset: i as f64,
                duration: 1.0,
                velocity: 80,
            })
            .collect();
        let runs = 200;
        let t0 = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(answer_chords(
                model,
                &notes,
                key,
                2,
                Meter::COMMON,
                0.0,
                Complexity::Triads,
            ));
        }
        let answer = t0.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        let mel = melody_beats(&notes[..6], 6);
        let t0 = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(next_beat_options(model, key, &mel, Places::common(0)));
        }
        let live = t0.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        println!("16-beat answer harmonised: {answer:.3} ms; live table: {live:.3} ms");
    }
}
