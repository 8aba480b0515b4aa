//! Musical vocabulary shared by every thread: pitch names, keys and scales.
//!
//! Everything here is `Copy`, allocation-free and usable on the audio thread.

use serde::{Deserialize, Serialize};

/// Pitch-class names with sharps, the spelling most tuners show.
pub const PITCH_CLASS_NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// The name of a MIDI note, e.g. 60 → "C4" (octave numbering where middle C is C4).
pub fn note_name(pitch: u8) -> (&'static str, i32) {
    (
        PITCH_CLASS_NAMES[(pitch % 12) as usize],
        pitch as i32 / 12 - 1,
    )
}

/// A note name without octave (`C`, `F#`, `Bb`, `Cb`, any number of `#` / `b` after an
/// upper-case letter) as a pitch class; `None` for anything else.
pub fn pitch_class_from_name(text: &str) -> Option<u8> {
    let mut chars = text.chars();
    let natural: i32 = match chars.next()? {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let mut shift = 0i32;
    for c in chars {
        match c {
            '#' => shift += 1,
            'b' => shift -= 1,
            _ => return None,
        }
    }
    Some((natural + shift).rem_euclid(12) as u8)
}

/// Frequency in Hz → fractional MIDI pitch (A4 = 440 Hz = 69).
#[inline]
pub fn hz_to_midi(hz: f32) -> f32 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

/// An A4 tuned to `hz` → its cents from A4 = 440 Hz (0 for a frequency that is not positive
/// and finite).
pub fn hz_to_cents_from_a440(hz: f32) -> f32 {
    if hz.is_finite() && hz > 0.0 {
        1200.0 * (hz / 440.0).log2()
    } else {
        0.0
    }
}

/// Cents from A4 = 440 Hz → the frequency of that A4.
pub fn a4_hz_of_cents(cents: f32) -> f32 {
    440.0 * (cents / 1200.0).exp2()
}

/// Fractional MIDI pitch → frequency in Hz.
#[inline]
pub fn midi_to_hz(pitch: f32) -> f32 {
    440.0 * ((pitch - 69.0) / 12.0).exp2()
}

/// The mode of a key, as the key finder and the scale lock understand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Mode {
    #[default]
    Major,
    Minor,
}

/// A key: tonic pitch class (0 = C … 11 = B) and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct KeySignature {
    pub tonic: u8,
    pub mode: Mode,
}

impl KeySignature {
    /// The relative key: A minor for C major, C major for A minor.
    pub fn relative(self) -> KeySignature {
        match self.mode {
            Mode::Major => KeySignature {
                tonic: (self.tonic + 9) % 12,
                mode: Mode::Minor,
            },
            Mode::Minor => KeySignature {
                tonic: (self.tonic + 3) % 12,
                mode: Mode::Major,
            },
        }
    }

    /// Scale degree (0–11 semitones above the tonic) of a pitch.
    #[inline]
    pub fn degree(&self, pitch: u8) -> u8 {
        ((pitch as i32 - self.tonic as i32).rem_euclid(12)) as u8
    }

    /// Human name, e.g. "A minor".
    pub fn name(&self) -> String {
        format!(
            "{} {}",
            PITCH_CLASS_NAMES[(self.tonic % 12) as usize],
            match self.mode {
                Mode::Major => "major",
                Mode::Minor => "minor",
            }
        )
    }
}

/// Scales the sampler can lock to. Intervals are semitone sets above the tonic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum ScaleKind {
    #[default]
    Major,
    NaturalMinor,
    HarmonicMinor,
    Dorian,
    Mixolydian,
    MajorPentatonic,
    MinorPentatonic,
    Blues,
    Chromatic,
}

impl ScaleKind {
    pub const ALL: [ScaleKind; 9] = [
        ScaleKind::Major,
        ScaleKind::NaturalMinor,
        ScaleKind::HarmonicMinor,
        ScaleKind::Dorian,
        ScaleKind::Mixolydian,
        ScaleKind::MajorPentatonic,
        ScaleKind::MinorPentatonic,
        ScaleKind::Blues,
        ScaleKind::Chromatic,
    ];

    /// A 12-bit mask: bit `d` set when degree `d` belongs to the scale.
    pub const fn mask(self) -> u16 {
        const fn m(degrees: &[u8]) -> u16 {
            let mut mask = 0u16;
            let mut i = 0;
            while i < degrees.len() {
                mask |= 1 << degrees[i];
                i += 1;
            }
            mask
        }
        match self {
            ScaleKind::Major => m(&[0, 2, 4, 5, 7, 9, 11]),
            ScaleKind::NaturalMinor => m(&[0, 2, 3, 5, 7, 8, 10]),
            ScaleKind::HarmonicMinor => m(&[0, 2, 3, 5, 7, 8, 11]),
            ScaleKind::Dorian => m(&[0, 2, 3, 5, 7, 9, 10]),
            ScaleKind::Mixolydian => m(&[0, 2, 4, 5, 7, 9, 10]),
            ScaleKind::MajorPentatonic => m(&[0, 2, 4, 7, 9]),
            ScaleKind::MinorPentatonic => m(&[0, 3, 5, 7, 10]),
            ScaleKind::Blues => m(&[0, 3, 5, 6, 7, 10]),
            ScaleKind::Chromatic => 0x0fff,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScaleKind::Major => "major",
            ScaleKind::NaturalMinor => "natural minor",
            ScaleKind::HarmonicMinor => "harmonic minor",
            ScaleKind::Dorian => "dorian",
            ScaleKind::Mixolydian => "mixolydian",
            ScaleKind::MajorPentatonic => "major pentatonic",
            ScaleKind::MinorPentatonic => "minor pentatonic",
            ScaleKind::Blues => "blues",
            ScaleKind::Chromatic => "chromatic",
        }
    }
}

/// A concrete scale: a tonic plus a scale kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Scale {
    pub tonic: u8,
    pub kind: ScaleKind,
}

impl Scale {
    #[inline]
    pub fn contains(&self, pitch: u8) -> bool {
        let degree = (pitch as i32 - self.tonic as i32).rem_euclid(12);
        self.kind.mask() & (1 << degree) != 0
    }

    /// The natural scale of a key (major → major, minor → natural minor).
    pub fn of_key(key: KeySignature) -> Self {
        Scale {
            tonic: key.tonic % 12,
            kind: match key.mode {
                Mode::Major => ScaleKind::Major,
                Mode::Minor => ScaleKind::NaturalMinor,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_frequencies() {
        assert_eq!(note_name(60), ("C", 4));
        assert_eq!(note_name(69), ("A", 4));
        assert!((midi_to_hz(69.0) - 440.0).abs() < 1e-3);
        assert!((hz_to_midi(261.6256) - 60.0).abs() < 1e-3);
    }

    #[test]
    fn scales() {
        let a_minor_pent = Scale {
            tonic: 9,
            kind: ScaleKind::MinorPentatonic,
        };
        let members: Vec<u8> = (60..72).filter(|&p| a_minor_pent.contains(p)).collect();
        assert_eq!(members, vec![60, 62, 64, 67, 69]);
        for kind in ScaleKind::ALL {
            assert!(
                Scale { tonic: 0, kind }.contains(0),
                "{kind:?} must contain its tonic"
            );
        }
        assert_eq!(
            KeySignature {
                tonic: 9,
                mode: Mode::Minor
            }
            .degree(60),
            3
        );
    }
}
