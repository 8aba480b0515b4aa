//! The key a melody is harmonised in, from the melody alone.
//!
//! The project's key finder ([`crate::model::key::estimate_key`], Krumhansl–Schmuckler on
//! duration-weighted pitch classes) confuses a key with its relative (same notes) and with the
//! key a fifth up or down (one note apart). A hymn or chorale tune nearly always ends on its
//! tonic, so when the melody's last note is not the estimated key's tonic but is the tonic of
//! one of those neighbours, that neighbour is taken: the relative key first, then the key a
//! fifth below, then a fifth above (same mode).

//!
//! [`key_with_chords`] estimates again with the chords a harmonisation gave as well as the
//! melody's notes (each beat's chord tones weigh [`CHORD_WEIGHT`] beats shared between them), the
//! same last-note rule after.

use super::chord::Chord;
use crate::model::key::{estimate_key, histogram};
use crate::model::Note;
use crate::music::KeySignature;

/// The weight of one beat's chord in [`key_with_chords`], in beats of melody.
pub const CHORD_WEIGHT: f64 = 1.0;

/// The key of a melody (see the module doc); `None` for a melody without notes.
pub fn melody_key(melody: &[Note]) -> Option<KeySignature> {
    let key = estimate_key(&histogram(melody.iter().map(|n| (n.pitch, n.duration))))?;
    settle(key, melody)
}

/// The key of a melody and the chords of its beats (one chord a beat, N counting nothing): the
/// key finder on the melody's duration-weighted pitch classes plus the chord tones, then the
/// module's last-note rule. `None` for a melody without notes.
pub fn key_with_chords(melody: &[Note], chords: &[Chord]) -> Option<KeySignature> {
    let mut h = histogram(melody.iter().map(|n| (n.pitch, n.duration)));
    for chord in chords {
        let tones: Vec<u8> = (0..12).filter(|pc| chord.contains(*pc)).collect();
        for pc in &tones {
            h[*pc as usize] += CHORD_WEIGHT / tones.len() as f64;
        }
    }
    settle(estimate_key(&h)?, melody)
}

/// The module's last-note rule: `key`, or the neighbour whose tonic the melody ends on.
fn settle(key: KeySignature, melody: &[Note]) -> Option<KeySignature> {
    let last = melody
        .iter()
        .filter(|n| n.onset.is_finite())
        .max_by(|a, b| a.onset.total_cmp(&b.onset))?
        .pitch
        % 12;
    if last == key.tonic {
        return Some(key);
    }
    let relative = key.relative();
    let fifth_below = KeySignature {
        tonic: (key.tonic + 5) % 12,
        mode: key.mode,
    };
    let fifth_above = KeySignature {
        tonic: (key.tonic + 7) % 12,
        mode: key.mode,
    };
    Some(
        [relative, fifth_below, fifth_above]
            .into_iter()
            .find(|k| k.tonic == last)
            .unwrap_or(key),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::Quality;
    use crate::music::Mode;

    #[test]
    fn chords_move_an_ambiguous_melody_to_their_key() {
        // E and G alternating, ending on E: alone, E minor. Under C F G C chords (F natural:
        // no E minor) notes and chords together say C major, and E is no neighbour's tonic.
        let m = line(&[64, 67, 64, 67, 64, 67, 64, 64]);
        let alone = melody_key(&m).unwrap();
        assert_eq!(
            alone,
            KeySignature {
                tonic: 4,
                mode: Mode::Minor
            }
        );
        let [c, f, g] = [0, 5, 7].map(|r| Chord::new(r, Quality::Major));
        // Four beats of melody under 24 beats of chords (the melody over and over).
        let chords: Vec<Chord> = [c, f, g, c].repeat(6);
        let with = key_with_chords(&m, &chords).unwrap();
        assert_eq!(
            with,
            KeySignature {
                tonic: 0,
                mode: Mode::Major
            }
        );
        // Without chords it is the melody's key.
        assert_eq!(key_with_chords(&m, &[]), Some(alone));
        assert_eq!(key_with_chords(&[], &[c]), None);
        assert_eq!(key_with_chords(&m, &[Chord::None; 4]), Some(alone));
    }

    fn line(pitches: &[u8]) -> Vec<Note> {
        Note::eighths(pitches, 80)
    }

    #[test]
    fn the_last_note_settles_relatives_and_fifths() {
        // C major scale material ending on C: C major.
        let c = line(&[60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 62, 60]);
        assert_eq!(
            melody_key(&c),
            Some(KeySignature {
                tonic: 0,
                mode: Mode::Major
            })
        );
        // The same notes ending on A: A minor.
        let a = line(&[60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 71, 69]);
        assert_eq!(
            melody_key(&a),
            Some(KeySignature {
                tonic: 9,
                mode: Mode::Minor
            })
        );
        // Ending on a note that is no neighbour's tonic: the estimate stands.
        let e = line(&[60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 62, 64]);
        let plain = estimate_key(&histogram(e.iter().map(|n| (n.pitch, n.duration))));
        assert_eq!(melody_key(&e), plain);
        assert_eq!(melody_key(&[]), None);
    }
}
