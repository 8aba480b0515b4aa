//! Chord recognition: which chord of the vocabulary a set of notes is.
//!
//! Two entry points share one scoring rule:
//! - [`recognise_notes`]: MIDI notes held together (a keyboard chord). An exact pitch-class match
//!   wins (any inversion, any doubling); chords that share their notes with another root (the
//!   augmented triad and the diminished seventh are symmetric) take their root from the bass.
//!   Otherwise the best template match, provided at least three pitch classes sound.
//! - [`best_chord`]: weighted pitch classes (the beat labeller's duration-weighted notes).
//!
//! The template score of a chord, with the weights normalised to sum to 1, is
//! `weight on chord tones − weight on other notes − penalties for missing chord tones`
//! (root 0.30, third 0.15, fifth 0.05, seventh 0.30), minus 0.10 for a seventh chord (a seventh
//! must be heard, not guessed from a passing note), plus 0.05 when the bass is the root. Ties go
//! to the vocabulary order (triads before sevenths, major first). A best score under
//! [`MIN_SCORE`] is no chord (N).

use super::chord::{Chord, HeardChord, Quality};

/// Below this template score nothing fits well enough: N.
pub const MIN_SCORE: f32 = 0.25;
/// Penalty for a missing root.
const MISSING_ROOT: f32 = 0.30;
/// Penalty for a missing third (or fourth of a sus4).
const MISSING_THIRD: f32 = 0.15;
/// Penalty for a missing fifth (often left out in four-part writing).
const MISSING_FIFTH: f32 = 0.05;
/// Penalty for a missing seventh: a seventh chord without it is its triad.
const MISSING_SEVENTH: f32 = 0.30;
/// A seventh chord must explain clearly more than its triad.
const SEVENTH_COST: f32 = 0.10;
/// Bonus for the bass being the root (root position is the most common reading).
const BASS_IS_ROOT: f32 = 0.05;

/// The template score of `chord` for weights normalised to sum 1 (see the module doc).
pub fn template_score(chord: Chord, weights: &[f32; 12], bass: Option<u8>) -> f32 {
    let (root, quality) = match chord {
        Chord::None => return f32::NEG_INFINITY,
        Chord::Some { root, quality } => (root, quality),
    };
    let mask = chord.pitch_classes();
    let mut inside = 0.0;
    let mut outside = 0.0;
    for (pc, &w) in weights.iter().enumerate() {
        if mask & (1 << pc) != 0 {
            inside += w;
        } else {
            outside += w;
        }
    }
    let mut score = inside - outside;
    for (i, &iv) in quality.intervals().iter().enumerate() {
        if weights[((root + iv) % 12) as usize] <= 0.0 {
            score -= match i {
                0 => MISSING_ROOT,
                1 => MISSING_THIRD,
                2 => MISSING_FIFTH,
                _ => MISSING_SEVENTH,
            };
        }
    }
    if quality.is_seventh() {
        score -= SEVENTH_COST;
    }
    if bass == Some(root) {
        score += BASS_IS_ROOT;
    }
    score
}

/// The best chord for pitch-class weights (any scale; negative and NaN weights count as 0) and
/// an optional bass pitch class, with its score; N (and `NEG_INFINITY`) when nothing sounds or
/// nothing scores [`MIN_SCORE`].
pub fn best_chord(weights: &[f32; 12], bass: Option<u8>) -> (Chord, f32) {
    let mut w = [0f32; 12];
    let mut total = 0.0;
    for (d, &s) in w.iter_mut().zip(weights) {
        *d = if s.is_finite() && s > 0.0 { s } else { 0.0 };
        total += *d;
    }
    if total <= 0.0 || !total.is_finite() {
        return (Chord::None, f32::NEG_INFINITY);
    }
    for x in &mut w {
        *x /= total;
    }
    let mut best = (Chord::None, f32::NEG_INFINITY);
    for chord in Chord::vocabulary().skip(1) {
        let s = template_score(chord, &w, bass);
        if s > best.1 {
            best = (chord, s);
        }
    }
    if best.1 < MIN_SCORE {
        (Chord::None, best.1)
    } else {
        best
    }
}

/// A pitch-class set (12-bit mask) from MIDI notes.
pub fn pitch_class_mask(pitches: &[u8]) -> u16 {
    pitches.iter().fold(0u16, |m, &p| m | 1 << (p % 12))
}

/// The chord that MIDI notes held together make, with the lowest note as the bass. Fewer than
/// three distinct pitch classes is no chord (N, bass `None`).
pub fn recognise_notes(pitches: &[u8]) -> HeardChord {
    let none = HeardChord {
        chord: Chord::None,
        bass: None,
    };
    let Some(&lowest) = pitches.iter().min() else {
        return none;
    };
    let mask = pitch_class_mask(pitches);
    if mask.count_ones() < 3 {
        return none;
    }
    let bass = lowest % 12;
    // Exact matches; for symmetric chords the one whose root is the bass, else the first.
    let mut exact = None;
    for chord in Chord::vocabulary().skip(1) {
        if chord.pitch_classes() == mask {
            if chord.root() == Some(bass) {
                exact = Some(chord);
                break;
            }
            exact.get_or_insert(chord);
        }
    }
    let chord = match exact {
        Some(c) => c,
        None => {
            let mut w = [0f32; 12];
            for (pc, x) in w.iter_mut().enumerate() {
                if mask & (1 << pc) != 0 {
                    *x = 1.0;
                }
            }
            best_chord(&w, Some(bass)).0
        }
    };
    match chord {
        Chord::None => none,
        c => HeardChord {
            chord: c,
            bass: Some(bass),
        },
    }
}

/// Whether two chords share their notes with another root (augmented triads and diminished
/// sevenths): the notes alone cannot tell their root, only the bass does.
pub fn is_symmetric(quality: Quality) -> bool {
    matches!(quality, Quality::Augmented | Quality::Diminished7)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The notes of `chord` voiced from `bass_index` (0 = root position, 1 = first inversion…)
    /// upwards from C3, with the root doubled an octave up when `double`.
    fn voiced(chord: Chord, inversion: usize, double: bool) -> Vec<u8> {
        let (root, quality) = match chord {
            Chord::Some { root, quality } => (root, quality),
            Chord::None => unreachable!(),
        };
        let iv = quality.intervals();
        let mut notes = Vec::new();
        let mut last = 47u8; // below C3
        for k in 0..iv.len() {
            let pc = (root + iv[(inversion + k) % iv.len()]) % 12;
            let mut p = 48 + pc;
            while p <= last {
                p += 12;
            }
            notes.push(p);
            last = p;
        }
        if double {
            notes.push(notes[0] + 24);
            notes.push(48 + root + 24);
        }
        notes
    }

    #[test]
    fn every_chord_in_every_inversion_is_recognised_from_midi() {
        for chord in Chord::vocabulary().skip(1) {
            let quality = chord.quality().unwrap();
            for inversion in 0..quality.intervals().len() {
                for double in [false, true] {
                    let mut notes = voiced(chord, inversion, double);
                    notes.reverse(); // order does not matter
                    let heard = recognise_notes(&notes);
                    let bass = notes.iter().min().unwrap() % 12;
                    assert_eq!(heard.bass, Some(bass), "{chord} inv {inversion}");
                    if is_symmetric(quality) {
                        // Same notes; the root is read from the bass.
                        assert_eq!(heard.chord.pitch_classes(), chord.pitch_classes());
                        assert_eq!(heard.chord.quality(), Some(quality));
                        assert_eq!(heard.chord.root(), Some(bass), "{chord} inv {inversion}");
                    } else {
                        assert_eq!(heard.chord, chord, "{chord} inv {inversion} {notes:?}");
                        assert_eq!(heard.is_inversion(), inversion != 0);
                    }
                }
            }
        }
    }

    #[test]
    fn inversion_names_keep_the_bass() {
        let heard = recognise_notes(&[52, 55, 60]); // E G C
        assert_eq!(heard.name(), "C/E");
        assert_eq!(heard.harte(), "C:maj/3");
        let heard = recognise_notes(&[43, 57, 60, 64]); // G A C E
        assert_eq!(heard.name(), "Am7/G");
    }

    #[test]
    fn incomplete_and_crowded_chords() {
        // A seventh without its fifth: G B F.
        assert_eq!(
            recognise_notes(&[43, 59, 65]).chord,
            Chord::new(7, Quality::Dominant7)
        );
        // A triad with an added note still reads as the triad when the note is light.
        let mut w = [0f32; 12];
        w[0] = 1.0;
        w[4] = 1.0;
        w[7] = 1.0;
        w[2] = 0.1;
        assert_eq!(best_chord(&w, Some(0)).0, Chord::new(0, Quality::Major));
        // A passing sixth does not turn C into Am7.
        w[2] = 0.0;
        w[9] = 0.1;
        assert_eq!(best_chord(&w, Some(0)).0, Chord::new(0, Quality::Major));
    }

    #[test]
    fn no_chord_for_silence_dyads_and_clusters() {
        assert_eq!(recognise_notes(&[]).chord, Chord::None);
        assert_eq!(recognise_notes(&[60]).chord, Chord::None);
        assert_eq!(recognise_notes(&[60, 64, 72]).chord, Chord::None);
        assert_eq!(
            recognise_notes(&[60, 61, 62, 63, 64, 65]).chord,
            Chord::None
        );
        assert_eq!(best_chord(&[0.0; 12], None).0, Chord::None);
        assert_eq!(best_chord(&[f32::NAN; 12], None).0, Chord::None);
        let mut w = [0f32; 12];
        w[0] = f32::INFINITY;
        assert_eq!(best_chord(&w, None).0, Chord::None);
    }
}
