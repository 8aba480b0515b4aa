//! Voicing: the MIDI notes a chord is played with.

use super::chord::Chord;

/// Lowest note a close voicing's root may take (C3).
pub const CLOSE_ROOT_FROM: u8 = 48;

/// A close voicing: the root in the octave from C3, every other chord tone the next one above
/// (C:maj → C3 E3 G3; B:hdim7 → B3 D4 F4 A4). N gives no notes.
pub fn close_voicing(chord: Chord) -> Vec<u8> {
    let Chord::Some { root, quality } = chord else {
        return Vec::new();
    };
    let base = CLOSE_ROOT_FROM + root % 12;
    quality.intervals().iter().map(|iv| base + iv).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::Quality;

    #[test]
    fn close_voicings() {
        assert_eq!(
            close_voicing(Chord::new(0, Quality::Major)),
            vec![48, 52, 55]
        );
        assert_eq!(
            close_voicing(Chord::new(11, Quality::HalfDiminished7)),
            vec![59, 62, 65, 69]
        );
        assert!(close_voicing(Chord::None).is_empty());
        for chord in Chord::vocabulary().skip(1) {
            let v = close_voicing(chord);
            assert!(
                v.windows(2).all(|w| w[0] < w[1] && w[1] - w[0] <= 5),
                "{chord}"
            );
            assert_eq!(
                crate::harmony::recognise::pitch_class_mask(&v),
                chord.pitch_classes()
            );
        }
    }
}
