//! Key estimation for melodies: a duration-weighted pitch-class histogram ranked by the
//! analysis' Krumhansl–Schmuckler key finder (`analysis::key::rank`).
//!
//! Used for training files without a key-signature meta event and by the continuator when the
//! caller does not know the key.

use crate::music::{KeySignature, Mode};

/// The best-correlated key for a pitch-class histogram (the analysis' Krumhansl–Schmuckler
/// ranking), or `None` for an empty histogram.
pub fn estimate_key(histogram: &[f64; 12]) -> Option<KeySignature> {
    let total: f64 = histogram.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    crate::analysis::key::rank(ndarray::ArrayView1::from(histogram)).map(|(key, _, _)| key)
}

/// A duration-weighted pitch-class histogram of `(pitch, weight)` pairs.
pub fn histogram(notes: impl IntoIterator<Item = (u8, f64)>) -> [f64; 12] {
    let mut h = [0.0; 12];
    for (pitch, w) in notes {
        if w.is_finite() && w > 0.0 {
            h[(pitch % 12) as usize] += w;
        }
    }
    h
}

/// The key of a MIDI key-signature meta event (`sharps` < 0 for flats).
pub fn key_from_signature(sharps: i8, minor: bool) -> KeySignature {
    // Major tonic: C moved by fifths.
    let major_tonic = (sharps as i32 * 7).rem_euclid(12) as u8;
    if minor {
        KeySignature {
            tonic: (major_tonic + 9) % 12,
            mode: Mode::Minor,
        }
    } else {
        KeySignature {
            tonic: major_tonic,
            mode: Mode::Major,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_scales() {
        // D major scale, tonic weighted.
        let d_major = histogram([62, 64, 66, 67, 69, 71, 73, 74, 62, 69].map(|p| (p, 1.0)));
        assert_eq!(
            estimate_key(&d_major),
            Some(KeySignature {
                tonic: 2,
                mode: Mode::Major
            })
        );
        let a_minor = histogram([69, 71, 72, 74, 76, 77, 79, 81, 69, 76, 72].map(|p| (p, 1.0)));
        assert_eq!(
            estimate_key(&a_minor),
            Some(KeySignature {
                tonic: 9,
                mode: Mode::Minor
            })
        );
        assert_eq!(estimate_key(&[0.0; 12]), None);
    }

    #[test]
    fn signatures() {
        assert_eq!(
            key_from_signature(2, false),
            KeySignature {
                tonic: 2,
                mode: Mode::Major
            }
        );
        assert_eq!(
            key_from_signature(-3, true),
            KeySignature {
                tonic: 0,
                mode: Mode::Minor
            }
        );
        assert_eq!(
            key_from_signature(0, true),
            KeySignature {
                tonic: 9,
                mode: Mode::Minor
            }
        );
    }
}
