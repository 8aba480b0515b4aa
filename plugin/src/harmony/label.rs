//! Labelling four-part (or any multi-voice) music with one chord per beat.
//!
//! The algorithm, for each beat `[b, b + 1)` (beats are quarter notes from the file start):
//! 1. *Legato*: a voice's note is taken to last until the voice's next note when the gap between
//!    them is under [`LEGATO_GAP_BEATS`] (the corpus' files detach every note a little).
//! 2. *Weights*: every note sounding in the beat adds to its pitch class the share of the beat it
//!    covers; a note that starts after the beat's start (a passing or neighbour note, an
//!    anticipation) counts [`OFF_BEAT_WEIGHT`] of that. Notes held into the beat count in full:
//!    the chord is what sounds on the beat.
//! 3. *Bass*: the pitch class of the lowest note sounding at the beat's start (or, if none, the
//!    lowest in the beat) is the bass, the template score's tie-breaker.
//! 4. *Template*: the best chord of the vocabulary by [`super::recognise::best_chord`] (weight on
//!    chord tones minus weight elsewhere, missing-tone penalties, sevenths only when heard). A beat
//!    with no note, or where nothing fits, stays N.

use super::chord::{Chord, HeardChord};
use super::recognise::best_chord;
use crate::model::Note;

/// A gap shorter than this (in beats) between a voice's notes is articulation, not a rest.
pub const LEGATO_GAP_BEATS: f64 = 0.25;
/// Weight of a note that starts inside the beat, relative to one sounding at its start.
pub const OFF_BEAT_WEIGHT: f32 = 0.5;
/// Onsets this close (in beats) to the beat's start count as on the beat.
const ON_BEAT_TOLERANCE: f64 = 1.0 / 48.0;

/// One voice's notes made legato: sorted by onset, each lengthened to the next onset when the
/// gap is short, shortened to it when they overlap. Notes with non-finite times are dropped.
pub fn legato(voice: &[Note]) -> Vec<Note> {
    let mut notes: Vec<Note> = voice
        .iter()
        .copied()
        .filter(|n| n.onset.is_finite() && n.duration.is_finite() && n.duration > 0.0)
        .collect();
    notes.sort_by(|a, b| a.onset.total_cmp(&b.onset));
    for i in 0..notes.len().saturating_sub(1) {
        let next = notes[i + 1].onset;
        let end = notes[i].onset + notes[i].duration;
        if end > next || next - end < LEGATO_GAP_BEATS {
            notes[i].duration = (next - notes[i].onset).max(0.0);
        }
    }
    notes.retain(|n| n.duration > 0.0);
    notes
}

/// The duration-weighted pitch classes of the notes sounding in `[start, start + length)` (see
/// the module doc) and the bass pitch class.
pub fn beat_weights(voices: &[Vec<Note>], start: f64, length: f64) -> ([f32; 12], Option<u8>) {
    let mut weights = [0f32; 12];
    let end = start + length;
    // (pitch, sounding at the start) of the lowest note so far.
    let mut lowest: Option<(u8, bool)> = None;
    for voice in voices {
        for n in voice {
            let (on, off) = (n.onset, n.onset + n.duration);
            if off <= start || on >= end {
                continue;
            }
            let share = ((off.min(end) - on.max(start)) / length) as f32;
            let at_start = on <= start + ON_BEAT_TOLERANCE;
            weights[(n.pitch % 12) as usize] +=
                share * if at_start { 1.0 } else { OFF_BEAT_WEIGHT };
            let better = match lowest {
                None => true,
                Some((p, s)) => (at_start && !s) || (at_start == s && n.pitch < p),
            };
            if better {
                lowest = Some((n.pitch, at_start));
            }
        }
    }
    (weights, lowest.map(|(p, _)| p % 12))
}

/// The chord of each of the `beats` beats from beat 0 of legato voices (see [`legato`]).
pub fn label_beats(voices: &[Vec<Note>], beats: usize) -> Vec<HeardChord> {
    (0..beats)
        .map(|b| {
            let (weights, bass) = beat_weights(voices, b as f64, 1.0);
            match best_chord(&weights, bass).0 {
                Chord::None => HeardChord {
                    chord: Chord::None,
                    bass: None,
                },
                chord => HeardChord { chord, bass },
            }
        })
        .collect()
}

/// The number of whole or part beats the voices span (the last note's end, rounded up).
pub fn beat_count(voices: &[Vec<Note>]) -> usize {
    let end = voices
        .iter()
        .flatten()
        .map(|n| n.onset + n.duration)
        .filter(|e| e.is_finite())
        .fold(0.0f64, f64::max);
    // Allow a little slack: a note ending just past a beat line does not add a beat.
    (end - 1e-3).ceil().max(0.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::Quality;

    fn note(pitch: u8, onset: f64, duration: f64) -> Note {
        Note {
            pitch,
            onset,
            duration,
            velocity: 80,
        }
    }

    /// Four voices holding the given chords (soprano, alto, tenor, bass) for a beat each.
    fn block_chords(chords: &[[u8; 4]]) -> Vec<Vec<Note>> {
        (0..4)
            .map(|v| {
                chords
                    .iter()
                    .enumerate()
                    .map(|(b, c)| note(c[v], b as f64, 0.9))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn block_chords_are_labelled() {
        // C/E, F, G7 (no fifth), C; then a beat of rest.
        let voices: Vec<Vec<Note>> = block_chords(&[
            [72, 67, 60, 52],
            [72, 69, 65, 53],
            [71, 65, 59, 55],
            [72, 64, 60, 48],
        ])
        .iter()
        .map(|v| legato(v))
        .collect();
        let labels = label_beats(&voices, 5);
        let names: Vec<String> = labels.iter().map(|h| h.name()).collect();
        assert_eq!(names, ["C/E", "F", "G7", "C", "N.C."]);
        assert_eq!(beat_count(&voices), 4);
    }

    #[test]
    fn passing_notes_do_not_change_the_chord() {
        // Beat 0: C major; the soprano moves E → D (an eighth, off the beat) → C on beat 1.
        let voices = vec![
            vec![note(76, 0.0, 0.5), note(74, 0.5, 0.5), note(72, 1.0, 1.0)],
            vec![note(67, 0.0, 2.0)],
            vec![note(64, 0.0, 2.0)],
            vec![note(48, 0.0, 2.0)],
        ];
        let labels = label_beats(&voices, 2);
        assert_eq!(labels[0].chord, Chord::new(0, Quality::Major));
        assert_eq!(labels[1].chord, Chord::new(0, Quality::Major));
    }

    #[test]
    fn a_seventh_on_the_beat_is_heard() {
        // G B D F on the beat: G7; A minor with G in the bass: Am7/G.
        let voices = block_chords(&[[77, 71, 62, 43], [72, 69, 64, 55]]);
        let labels = label_beats(&voices, 2);
        assert_eq!(labels[0].chord, Chord::new(7, Quality::Dominant7));
        assert_eq!(labels[1].name(), "Am7/G");
    }

    #[test]
    fn legato_closes_small_gaps_only() {
        let v = legato(&[
            note(60, 1.0, 0.9),
            note(62, 0.0, 0.95),
            note(64, 3.0, 1.0),
            note(65, 2.0, f64::NAN),
        ]);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].duration, 1.0); // gap 0.05 closed
        assert!((v[1].duration - 0.9).abs() < 1e-9); // gap 1.1 is a rest
        assert_eq!(v[2].onset, 3.0);
    }
}
