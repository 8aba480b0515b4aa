//! Scoring chord sequences against reference labels, beat by beat, weighted by duration.
//!
//! - *Root*: the estimated root is the reference's (N counts as right only against N).
//! - *Maj/min* (MIREX "majmin"): both chords reduced to their triad, major (maj, 7, maj7) or
//!   minor (min, min7), and compared with their root; N against N is right. Reference beats whose
//!   chord reduces to neither (dim, aug, sus4, hdim7, dim7) are left out of this score, as MIREX
//!   does; an estimate of such a chord is simply wrong.

use super::chord::Chord;

/// Duration-weighted agreement: the weight scored right and the weight scored at all.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Agreement {
    /// Seconds where the estimate agrees.
    pub right: f64,
    /// Seconds compared.
    pub total: f64,
}

impl Agreement {
    /// The share right (0 when nothing was compared).
    pub fn accuracy(&self) -> f64 {
        if self.total > 0.0 {
            self.right / self.total
        } else {
            0.0
        }
    }

    /// Adds another agreement.
    pub fn add(&mut self, other: Agreement) {
        self.right += other.right;
        self.total += other.total;
    }
}

/// Root and maj/min agreement of a sequence.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChordScores {
    /// Root agreement.
    pub root: Agreement,
    /// MIREX maj/min agreement.
    pub major_minor: Agreement,
}

impl ChordScores {
    /// Adds another sequence's scores.
    pub fn add(&mut self, other: ChordScores) {
        self.root.add(other.root);
        self.major_minor.add(other.major_minor);
    }
}

/// A chord reduced for the maj/min comparison: `Some(N)`, `Some(root + major/minor triad)`, or
/// `None` for chords outside that vocabulary.
fn major_minor(chord: Chord) -> Option<Chord> {
    match chord {
        Chord::None => Some(Chord::None),
        Chord::Some { root, quality } => quality.major_minor().map(|q| Chord::new(root, q)),
    }
}

/// Scores `estimate` against `reference`, beat by beat, each beat weighing `beat_seconds`
/// (beats past the shorter of the two are not scored).
pub fn score(reference: &[Chord], estimate: &[Chord], beat_seconds: f64) -> ChordScores {
    let mut s = ChordScores::default();
    let w = if beat_seconds.is_finite() && beat_seconds > 0.0 {
        beat_seconds
    } else {
        1.0
    };
    for (r, e) in reference.iter().zip(estimate) {
        s.root.total += w;
        if r.root() == e.root() {
            s.root.right += w;
        }
        if let Some(r) = major_minor(*r) {
            s.major_minor.total += w;
            if major_minor(*e) == Some(r) {
                s.major_minor.right += w;
            }
        }
    }
    s
}

/// A chord held over a time span (seconds, end exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedChord {
    pub start: f64,
    pub end: f64,
    pub chord: Chord,
}

/// Scores `estimate` against `reference` over time, mir_eval style: every stretch of the
/// reference's spans weighs its duration and is compared with the estimated chord sounding then
/// (where no estimate covers it, the estimate is N). Spans must be in time order; empty or
/// reversed spans count nothing.
pub fn score_timed(reference: &[TimedChord], estimate: &[TimedChord]) -> ChordScores {
    let mut s = ChordScores::default();
    let mut add = |r: Chord, e: Chord, w: f64| {
        if !(w.is_finite() && w > 0.0) {
            return;
        }
        s.root.total += w;
        if r.root() == e.root() {
            s.root.right += w;
        }
        if let Some(r) = major_minor(r) {
            s.major_minor.total += w;
            if major_minor(e) == Some(r) {
                s.major_minor.right += w;
            }
        }
    };
    let mut j = 0;
    for r in reference {
        let mut t = r.start;
        while t < r.end {
            while j < estimate.len() && estimate[j].end <= t {
                j += 1;
            }
            match estimate.get(j) {
                Some(e) if e.start <= t => {
                    let until = e.end.min(r.end);
                    add(r.chord, e.chord, until - t);
                    t = until;
                }
                Some(e) => {
                    let until = e.start.min(r.end);
                    add(r.chord, Chord::None, until - t);
                    t = until;
                }
                None => {
                    add(r.chord, Chord::None, r.end - t);
                    t = r.end;
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::Quality;

    #[test]
    fn timed_scores_weigh_overlaps() {
        let c = |t: &str| Chord::parse_harte(t).unwrap();
        let t = |start, end, label| TimedChord {
            start,
            end,
            chord: c(label),
        };
        let reference = [
            t(0.0, 1.0, "C:maj"),
            t(1.0, 2.0, "G:7"),
            t(2.0, 3.0, "B:dim"),
        ];
        // C for 0.75 s then A minor; G:maj from 1.0 to 1.5, a gap (N), then nothing after 2.5.
        let estimate = [
            t(0.0, 0.75, "C:maj7"),
            t(0.75, 1.0, "A:min"),
            t(1.0, 1.5, "G:maj"),
            t(1.75, 2.5, "B:dim"),
        ];
        let s = score_timed(&reference, &estimate);
        assert!((s.root.total - 3.0).abs() < 1e-12);
        // Roots right: 0.75 (C) + 0.5 (G) + 0.5 (B dim from 2.0 to 2.5).
        assert!((s.root.right - 1.75).abs() < 1e-12, "{s:?}");
        // Maj/min over C and G only (B:dim left out): 0.75 + 0.5 right of 2.
        assert!((s.major_minor.total - 2.0).abs() < 1e-12);
        assert!((s.major_minor.right - 1.25).abs() < 1e-12, "{s:?}");
        assert_eq!(score_timed(&[], &estimate).root.total, 0.0);
    }

    #[test]
    fn root_and_major_minor() {
        let c = |t: &str| Chord::parse_harte(t).unwrap();
        let reference = [
            c("C:maj"),
            c("A:min7"),
            c("G:7"),
            c("B:dim"),
            c("N"),
            c("F:maj"),
        ];
        let estimate = [
            c("C:maj7"),
            c("A:min"),
            c("G:min"),
            c("B:dim"),
            c("N"),
            c("F:sus4"),
        ];
        let s = score(&reference, &estimate, 0.5);
        // Roots: all six agree but the last (F:sus4 has root F: agrees too).
        assert_eq!(s.root.total, 3.0);
        assert_eq!(s.root.right, 3.0);
        // Maj/min: B:dim left out; C:maj7~C:maj right, A:min~A:min7 right, G:min vs G:7
        // wrong, N right, F:sus4 vs F:maj wrong.
        assert_eq!(s.major_minor.total, 2.5);
        assert_eq!(s.major_minor.right, 1.5);
        assert!((s.major_minor.accuracy() - 0.6).abs() < 1e-12);
        let none = score(&[], &[], 1.0);
        assert_eq!(none.root.accuracy(), 0.0);
        // A wrong root is wrong in both.
        let s = score(
            &[Chord::new(0, Quality::Major)],
            &[Chord::new(7, Quality::Major)],
            f64::NAN,
        );
        assert_eq!(
            (s.root.right, s.major_minor.right, s.root.total),
            (0.0, 0.0, 1.0)
        );
    }
}
