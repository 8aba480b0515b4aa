//! Key estimation for melodies: the Krumhansl–Kessler profiles correlated with a
//! duration-weighted pitch-class histogram (the Krumhansl–Schmuckler algorithm).
//!
//! Used for training files without a key-signature meta event and by the continuator when the
//! caller does not know the key.

use crate::music::{KeySignature, Mode};

/// Krumhansl–Kessler major profile (C major, C first).
const MAJOR: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
/// Krumhansl–Kessler minor profile (C minor, C first).
const MINOR: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

/// The best-correlated key for a pitch-class histogram, or `None` for an empty histogram.
pub fn estimate_key(histogram: &[f64; 12]) -> Option<KeySignature> {
    let total: f64 = histogram.iter().sum();
    if !(total > 0.0) {
        return None;
    }
    let mut best = (f64::NEG_INFINITY, KeySignature::default());
    for (mode, profile) in [(Mode::Major, &MAJOR), (Mode::Minor, &MINOR)] {
        for tonic in 0..12u8 {
            let r = correlation(histogram, profile, tonic as usize);
            if r > best.0 {
                best = (r, KeySignature { tonic, mode });
            }
        }
    }
    Some(best.1)
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

fn correlation(h: &[f64; 12], profile: &[f64; 12], tonic: usize) -> f64 {
    let mh = h.iter().sum::<f64>() / 12.0;
    let mp = profile.iter().sum::<f64>() / 12.0;
    let (mut num, mut dh, mut dp) = (0.0, 0.0, 0.0);
    for pc in 0..12 {
        let x = h[pc] - mh;
        let y = profile[(pc + 12 - tonic) % 12] - mp;
        num += x * y;
        dh += x * x;
        dp += y * y;
    }
    if dh <= 0.0 || dp <= 0.0 {
        return 0.0;
    }
    num / (dh * dp).sqrt()
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
