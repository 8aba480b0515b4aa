//! The key a melody is harmonised in, from the melody alone.
//!
//! The project's key finder ([`crate::model::key::estimate_key`], Krumhansl–Schmuckler on
//! duration-weighted pitch classes) confuses a key with its relative (same notes) and with the
//! key a fifth up or down (one note apart). A hymn or chorale tune nearly always ends on its
//! tonic, so when the melody's last note is not the estimated key's tonic but is the tonic of
//! one of those neighbours, that neighbour is taken: the relative key first, then the key a
//! fifth below, then a fifth above (same mode).

use crate::model::key::{estimate_key, histogram};
use crate::model::Note;
use crate::music::{KeySignature, Mode};

/// The key of a melody (see the module doc); `None` for a melody without notes.
pub fn melody_key(melody: &[Note]) -> Option<KeySignature> {
    let key = estimate_key(&histogram(melody.iter().map(|n| (n.pitch, n.duration))))?;
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
