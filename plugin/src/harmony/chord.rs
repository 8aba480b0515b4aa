//! The chord vocabulary: 12 roots × 10 qualities, and "no chord" (N).
//!
//! Files and the command line write chords in Harte syntax (`C:maj`, `A:min7`, `Bb:hdim7`, `N`;
//! Harte et al., ISMIR 2005), the editor in a musician's names (C, Am7, Bø7). Everything here is
//! `Copy` and allocation-free except the text conversions.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of chord Continuo knows, by the intervals above the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Quality {
    /// Major triad: root, major third, fifth.
    Major,
    /// Minor triad: root, minor third, fifth.
    Minor,
    /// Diminished triad: root, minor third, diminished fifth.
    Diminished,
    /// Augmented triad: root, major third, augmented fifth.
    Augmented,
    /// Suspended fourth: root, fourth, fifth.
    Sus4,
    /// Dominant seventh: major triad and minor seventh.
    Dominant7,
    /// Major seventh: major triad and major seventh.
    Major7,
    /// Minor seventh: minor triad and minor seventh.
    Minor7,
    /// Half-diminished seventh: diminished triad and minor seventh.
    HalfDiminished7,
    /// Diminished seventh: diminished triad and diminished seventh.
    Diminished7,
}

impl Quality {
    /// Every quality, in the order of the vocabulary (triads first).
    pub const ALL: [Quality; 10] = [
        Quality::Major,
        Quality::Minor,
        Quality::Diminished,
        Quality::Augmented,
        Quality::Sus4,
        Quality::Dominant7,
        Quality::Major7,
        Quality::Minor7,
        Quality::HalfDiminished7,
        Quality::Diminished7,
    ];

    /// Semitones above the root, root first.
    pub const fn intervals(self) -> &'static [u8] {
        match self {
            Quality::Major => &[0, 4, 7],
            Quality::Minor => &[0, 3, 7],
            Quality::Diminished => &[0, 3, 6],
            Quality::Augmented => &[0, 4, 8],
            Quality::Sus4 => &[0, 5, 7],
            Quality::Dominant7 => &[0, 4, 7, 10],
            Quality::Major7 => &[0, 4, 7, 11],
            Quality::Minor7 => &[0, 3, 7, 10],
            Quality::HalfDiminished7 => &[0, 3, 6, 10],
            Quality::Diminished7 => &[0, 3, 6, 9],
        }
    }

    /// A 12-bit mask of the intervals above the root (bit 0 = the root).
    pub const fn interval_mask(self) -> u16 {
        let iv = self.intervals();
        let mut mask = 0u16;
        let mut i = 0;
        while i < iv.len() {
            mask |= 1 << iv[i];
            i += 1;
        }
        mask
    }

    /// The Harte shorthand (`maj`, `min7`, …).
    pub const fn harte(self) -> &'static str {
        match self {
            Quality::Major => "maj",
            Quality::Minor => "min",
            Quality::Diminished => "dim",
            Quality::Augmented => "aug",
            Quality::Sus4 => "sus4",
            Quality::Dominant7 => "7",
            Quality::Major7 => "maj7",
            Quality::Minor7 => "min7",
            Quality::HalfDiminished7 => "hdim7",
            Quality::Diminished7 => "dim7",
        }
    }

    /// What a musician writes after the root (C, Cm, C°, C+, Csus4, C7, Cmaj7, Cm7, Cø7, C°7).
    pub const fn symbol(self) -> &'static str {
        match self {
            Quality::Major => "",
            Quality::Minor => "m",
            Quality::Diminished => "°",
            Quality::Augmented => "+",
            Quality::Sus4 => "sus4",
            Quality::Dominant7 => "7",
            Quality::Major7 => "maj7",
            Quality::Minor7 => "m7",
            Quality::HalfDiminished7 => "ø7",
            Quality::Diminished7 => "°7",
        }
    }

    /// The quality of a Harte shorthand in the vocabulary.
    pub fn from_harte(text: &str) -> Option<Quality> {
        Quality::ALL.into_iter().find(|q| q.harte() == text)
    }

    /// Whether the chord has a seventh (four notes).
    pub const fn is_seventh(self) -> bool {
        self.intervals().len() == 4
    }

    /// The triad under the chord, as the MIREX "majmin" comparison reduces it: major for
    /// maj, 7 and maj7; minor for min and min7; `None` for the others (dim, aug, sus4, hdim7,
    /// dim7), which that comparison leaves out.
    pub const fn major_minor(self) -> Option<Quality> {
        match self {
            Quality::Major | Quality::Dominant7 | Quality::Major7 => Some(Quality::Major),
            Quality::Minor | Quality::Minor7 => Some(Quality::Minor),
            _ => None,
        }
    }

    /// Position in [`Quality::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// The spelling Continuo writes for each pitch class: the one most common in chord charts
/// (sharps for C#, F#; flats for Eb, Ab, Bb). Reading accepts every spelling.
pub const ROOT_NAMES: [&str; 12] = [
    "C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

/// A chord of the vocabulary, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Chord {
    /// No chord (silence, or notes no chord of the vocabulary explains): Harte `N`.
    None,
    /// A root pitch class (0 = C … 11 = B) and a quality.
    Some { root: u8, quality: Quality },
}

/// Number of chords in the vocabulary, N included.
pub const VOCABULARY_SIZE: usize = 12 * Quality::ALL.len() + 1;

impl Chord {
    /// A chord with `root` taken modulo 12.
    pub const fn new(root: u8, quality: Quality) -> Chord {
        Chord::Some {
            root: root % 12,
            quality,
        }
    }

    /// Every chord of the vocabulary: N first, then root by root, each with every quality.
    pub fn vocabulary() -> impl Iterator<Item = Chord> {
        std::iter::once(Chord::None).chain(
            (0..12u8).flat_map(|root| Quality::ALL.into_iter().map(move |q| Chord::new(root, q))),
        )
    }

    /// A dense index 0..[`VOCABULARY_SIZE`] (N = 0), matching [`Chord::vocabulary`].
    pub const fn index(self) -> usize {
        match self {
            Chord::None => 0,
            Chord::Some { root, quality } => 1 + root as usize * 10 + quality.index(),
        }
    }

    /// The chord of a dense index; out of range gives N.
    pub fn from_index(index: usize) -> Chord {
        if index == 0 || index >= VOCABULARY_SIZE {
            return Chord::None;
        }
        let i = index - 1;
        Chord::new((i / 10) as u8, Quality::ALL[i % 10])
    }

    /// The root pitch class, if a chord.
    pub const fn root(self) -> Option<u8> {
        match self {
            Chord::None => None,
            Chord::Some { root, .. } => Some(root),
        }
    }

    /// The quality, if a chord.
    pub const fn quality(self) -> Option<Quality> {
        match self {
            Chord::None => None,
            Chord::Some { quality, .. } => Some(quality),
        }
    }

    /// The chord's pitch classes as a 12-bit mask (bit 0 = C); 0 for N.
    pub const fn pitch_classes(self) -> u16 {
        match self {
            Chord::None => 0,
            Chord::Some { root, quality } => rotate_mask(quality.interval_mask(), root),
        }
    }

    /// Whether a pitch (MIDI note or pitch class) belongs to the chord.
    pub const fn contains(self, pitch: u8) -> bool {
        self.pitch_classes() & (1 << (pitch % 12)) != 0
    }

    /// The chord moved by `semitones` (N stays N).
    pub const fn transposed(self, semitones: i32) -> Chord {
        match self {
            Chord::None => Chord::None,
            Chord::Some { root, quality } => Chord::Some {
                root: (root as i32 + semitones).rem_euclid(12) as u8,
                quality,
            },
        }
    }

    /// The chord written in Harte syntax with Continuo's spelling (`C:maj`, `Bb:hdim7`, `N`).
    pub fn harte(self) -> String {
        match self {
            Chord::None => "N".to_string(),
            Chord::Some { root, quality } => {
                format!("{}:{}", ROOT_NAMES[root as usize], quality.harte())
            }
        }
    }

    /// A musician's name: C, Am7, Bø7, C°, C+, Csus4, Cmaj7, C7, C°7 (and "N.C." for none).
    pub fn name(self) -> String {
        match self {
            Chord::None => "N.C.".to_string(),
            Chord::Some { root, quality } => {
                format!("{}{}", ROOT_NAMES[root as usize], quality.symbol())
            }
        }
    }

    /// Reads a Harte label of the vocabulary: `N`, `C`, `C:maj`, `A:min7`, `Bb:hdim7`,
    /// `A#:hdim7`, `Cb:maj`, `C:maj/3` (a bass degree after `/` is accepted and dropped; see
    /// [`HeardChord::parse_harte`] to keep it). Qualities outside the vocabulary are an error.
    pub fn parse_harte(text: &str) -> Result<Chord, ChordError> {
        HeardChord::parse_harte(text).map(|h| h.chord)
    }
}

impl fmt::Display for Chord {
    /// Harte syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.harte())
    }
}

/// A 12-bit pitch-class mask rotated up by `by` semitones.
pub const fn rotate_mask(mask: u16, by: u8) -> u16 {
    let by = (by % 12) as u32;
    let m = mask as u32 & 0x0fff;
    (((m << by) | (m >> (12 - by))) & 0x0fff) as u16
}

/// Why a chord label could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChordError {
    #[error("empty chord label")]
    Empty,
    #[error("chord label {0:?}: the root must be a letter A–G with # or b after it")]
    Root(String),
    #[error("chord label {0:?}: quality {1:?} is not one of maj, min, dim, aug, sus4, 7, maj7, min7, hdim7, dim7")]
    Quality(String, String),
    #[error("chord label {0:?}: bass {1:?} is not a degree such as 3, b3, 5 or b7")]
    Bass(String, String),
}

/// A chord as heard or played: the chord and the pitch class in the bass, for inversions
/// (C/E is C major with E in the bass). Written in Harte syntax with the bass as a degree
/// (`C:maj/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HeardChord {
    /// What chord it is.
    pub chord: Chord,
    /// The lowest note's pitch class; `None` when unknown or for N.
    pub bass: Option<u8>,
}

impl HeardChord {
    /// A chord in root position (bass = root).
    pub const fn root_position(chord: Chord) -> HeardChord {
        HeardChord {
            chord,
            bass: chord.root(),
        }
    }

    /// Whether the bass is a note other than the root.
    pub fn is_inversion(&self) -> bool {
        matches!((self.chord.root(), self.bass), (Some(r), Some(b)) if r != b)
    }

    /// A musician's name with the bass after a slash for inversions: C, C/E, Am7/G.
    pub fn name(&self) -> String {
        match (self.is_inversion(), self.bass) {
            (true, Some(b)) => format!("{}/{}", self.chord.name(), ROOT_NAMES[b as usize]),
            _ => self.chord.name(),
        }
    }

    /// Harte syntax, with the bass as a degree above the root for inversions (`C:maj/3`).
    pub fn harte(&self) -> String {
        match (self.is_inversion(), self.chord.root(), self.bass) {
            (true, Some(r), Some(b)) => {
                format!(
                    "{}/{}",
                    self.chord.harte(),
                    DEGREE_NAMES[((b + 12 - r) % 12) as usize]
                )
            }
            _ => self.chord.harte(),
        }
    }

    /// Reads a Harte label of the vocabulary, keeping the bass (`C:maj/3` → C with E in the bass).
    pub fn parse_harte(text: &str) -> Result<HeardChord, ChordError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ChordError::Empty);
        }
        if text == "N" || text == "X" {
            return Ok(HeardChord {
                chord: Chord::None,
                bass: None,
            });
        }
        let (body, bass) = match text.split_once('/') {
            Some((b, d)) => (b, Some(d)),
            None => (text, None),
        };
        let (root_text, quality_text) = match body.split_once(':') {
            Some((r, q)) => (r, Some(q)),
            None => (body, None),
        };
        let root = parse_root(root_text).ok_or_else(|| ChordError::Root(text.to_string()))?;
        let quality = match quality_text {
            None => Quality::Major,
            Some(q) => Quality::from_harte(q)
                .ok_or_else(|| ChordError::Quality(text.to_string(), q.to_string()))?,
        };
        let bass = match bass {
            None => root,
            Some(d) => {
                let degree =
                    parse_degree(d).ok_or_else(|| ChordError::Bass(text.to_string(), d.into()))?;
                (root + degree) % 12
            }
        };
        Ok(HeardChord {
            chord: Chord::new(root, quality),
            bass: Some(bass),
        })
    }
}

/// Harte degree names for a bass 0–11 semitones above the root.
const DEGREE_NAMES: [&str; 12] = [
    "1", "b2", "2", "b3", "3", "4", "b5", "5", "b6", "6", "b7", "7",
];

/// A root letter with any number of `#` / `b` after it, as a pitch class.
pub(crate) fn parse_root(text: &str) -> Option<u8> {
    crate::music::pitch_class_from_name(text)
}

/// A Harte degree (`3`, `b3`, `#4`, `b7`, up to 13) as semitones above the root, modulo 12.
fn parse_degree(text: &str) -> Option<u8> {
    let digits_at = text.find(|c: char| c.is_ascii_digit())?;
    let (accidentals, number) = text.split_at(digits_at);
    let n: usize = number.parse().ok()?;
    const MAJOR_SCALE: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
    if !(1..=13).contains(&n) {
        return None;
    }
    let mut semitones = MAJOR_SCALE[(n - 1) % 7];
    for c in accidentals.chars() {
        match c {
            '#' => semitones += 1,
            'b' => semitones -= 1,
            _ => return None,
        }
    }
    Some(semitones.rem_euclid(12) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_121_distinct_chords_with_dense_indices() {
        let all: Vec<Chord> = Chord::vocabulary().collect();
        assert_eq!(all.len(), VOCABULARY_SIZE);
        assert_eq!(VOCABULARY_SIZE, 121);
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.index(), i, "{c}");
            assert_eq!(Chord::from_index(i), *c);
        }
        assert_eq!(Chord::from_index(999), Chord::None);
    }

    #[test]
    fn pitch_classes_of_chords() {
        let c = |t: &str| Chord::parse_harte(t).unwrap().pitch_classes();
        let mask = |pcs: &[u8]| pcs.iter().fold(0u16, |m, p| m | 1 << p);
        assert_eq!(c("C:maj"), mask(&[0, 4, 7]));
        assert_eq!(c("A:min7"), mask(&[9, 0, 4, 7]));
        assert_eq!(c("B:hdim7"), mask(&[11, 2, 5, 9]));
        assert_eq!(c("G:7"), mask(&[7, 11, 2, 5]));
        assert_eq!(c("B:dim7"), mask(&[11, 2, 5, 8]));
        assert_eq!(c("Ab:aug"), mask(&[8, 0, 4]));
        assert_eq!(c("D:sus4"), mask(&[2, 7, 9]));
        assert_eq!(c("F:maj7"), mask(&[5, 9, 0, 4]));
        assert_eq!(c("N"), 0);
        assert!(Chord::new(7, Quality::Dominant7).contains(65));
        assert!(!Chord::new(7, Quality::Dominant7).contains(64));
    }

    #[test]
    fn harte_round_trip_with_one_spelling() {
        for chord in Chord::vocabulary() {
            let text = chord.harte();
            assert_eq!(Chord::parse_harte(&text), Ok(chord), "{text}");
        }
        assert_eq!(Chord::new(10, Quality::HalfDiminished7).harte(), "Bb:hdim7");
        assert_eq!(
            Chord::parse_harte("A#:hdim7"),
            Chord::parse_harte("Bb:hdim7")
        );
        assert_eq!(
            Chord::parse_harte("Cb:maj"),
            Ok(Chord::new(11, Quality::Major))
        );
        assert_eq!(Chord::parse_harte("B#"), Ok(Chord::new(0, Quality::Major)));
        assert_eq!(
            Chord::parse_harte("Ebb:min"),
            Ok(Chord::new(2, Quality::Minor))
        );
        assert_eq!(Chord::parse_harte(" N "), Ok(Chord::None));
        assert_eq!(Chord::None.to_string(), "N");
    }

    #[test]
    fn bad_labels_are_errors_that_say_why() {
        assert_eq!(Chord::parse_harte(""), Err(ChordError::Empty));
        assert!(matches!(
            Chord::parse_harte("H:maj"),
            Err(ChordError::Root(_))
        ));
        assert!(matches!(Chord::parse_harte("C+"), Err(ChordError::Root(_))));
        assert!(matches!(
            Chord::parse_harte("C:maj9"),
            Err(ChordError::Quality(_, q)) if q == "maj9"
        ));
        assert!(matches!(
            Chord::parse_harte("C:maj/x"),
            Err(ChordError::Bass(..))
        ));
        assert!(matches!(
            Chord::parse_harte("C:maj/99"),
            Err(ChordError::Bass(..))
        ));
        assert!(Chord::parse_harte("C:").is_err());
        let e = Chord::parse_harte("C:maj9").unwrap_err().to_string();
        assert!(e.contains("maj9") && e.contains("hdim7"), "{e}");
    }

    #[test]
    fn inversions_in_harte_and_names() {
        let c_e = HeardChord::parse_harte("C:maj/3").unwrap();
        assert_eq!(c_e.chord, Chord::new(0, Quality::Major));
        assert_eq!(c_e.bass, Some(4));
        assert_eq!(c_e.name(), "C/E");
        assert_eq!(c_e.harte(), "C:maj/3");
        let am7_g = HeardChord::parse_harte("A:min7/b7").unwrap();
        assert_eq!(am7_g.name(), "Am7/G");
        assert_eq!(am7_g.harte(), "A:min7/b7");
        let root = HeardChord::root_position(Chord::new(11, Quality::HalfDiminished7));
        assert!(!root.is_inversion());
        assert_eq!(root.name(), "Bø7");
        assert_eq!(root.harte(), "B:hdim7");
    }

    #[test]
    fn musicians_names() {
        let n = |t: &str| Chord::parse_harte(t).unwrap().name();
        assert_eq!(n("C:maj"), "C");
        assert_eq!(n("A:min7"), "Am7");
        assert_eq!(n("B:hdim7"), "Bø7");
        assert_eq!(n("C:dim"), "C°");
        assert_eq!(n("C:aug"), "C+");
        assert_eq!(n("C:sus4"), "Csus4");
        assert_eq!(n("C:maj7"), "Cmaj7");
        assert_eq!(n("C:7"), "C7");
        assert_eq!(n("C:dim7"), "C°7");
        assert_eq!(n("A:min"), "Am");
        assert_eq!(n("N"), "N.C.");
    }

    #[test]
    fn major_minor_reduction() {
        assert_eq!(Quality::Dominant7.major_minor(), Some(Quality::Major));
        assert_eq!(Quality::Minor7.major_minor(), Some(Quality::Minor));
        assert_eq!(Quality::HalfDiminished7.major_minor(), None);
        assert_eq!(Quality::Sus4.major_minor(), None);
    }

    #[test]
    fn transposition_and_rotation() {
        assert_eq!(rotate_mask(0b1001_0001, 0), 0b1001_0001);
        assert_eq!(rotate_mask(1 << 11, 1), 1);
        assert_eq!(
            Chord::new(7, Quality::Major).transposed(-7),
            Chord::new(0, Quality::Major)
        );
        assert_eq!(Chord::None.transposed(3), Chord::None);
    }
}
