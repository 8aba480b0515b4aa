//! Error buckets of `continuo eval-transcription --verbose`: every written note the tracker
//! missed is put in one bucket (found late, early, at another pitch, or never found, and then
//! after what), and the estimated notes left over are counted as extras. One definition for
//! every tuning round instead of a script per helper.

use super::transcription::{ScoredNote, ONSET_TOLERANCE_S, PITCH_TOLERANCE};

/// How far (seconds) an unmatched estimate of the same pitch may lie from a missed written note
/// and still count as that note found late or early.
pub const MISDATED_S: f64 = 0.25;
/// A missed written note whose previous written note began at most this long before (seconds)
/// counts as following a note, else as following a rest.
pub const AFTER_NOTE_S: f64 = 1.0;

/// What became of one missed written note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// Found at its pitch 50–250 ms after its onset.
    Late,
    /// Found at its pitch 50–250 ms before its onset.
    Early,
    /// An estimate within 50 ms, an octave (or octave + fifth, two octaves) off.
    Octave,
    /// An estimate within 50 ms, one or two semitones off.
    Semitone,
    /// An estimate within 50 ms at some other pitch.
    OtherPitch,
    /// Never found; the previous written note had the same pitch (a repeated note).
    NeverRepeat,
    /// Never found; it followed another note (previous onset within [`AFTER_NOTE_S`]).
    NeverAfterNote,
    /// Never found; the first note or after a rest.
    NeverAfterRest,
}

impl Miss {
    /// Every bucket, in the order printed.
    pub const ALL: [Miss; 8] = [
        Miss::Late,
        Miss::Early,
        Miss::Octave,
        Miss::Semitone,
        Miss::OtherPitch,
        Miss::NeverRepeat,
        Miss::NeverAfterNote,
        Miss::NeverAfterRest,
    ];

    /// Column header.
    pub fn name(self) -> &'static str {
        match self {
            Miss::Late => "late",
            Miss::Early => "early",
            Miss::Octave => "octave",
            Miss::Semitone => "semitone",
            Miss::OtherPitch => "other",
            Miss::NeverRepeat => "never:rep",
            Miss::NeverAfterNote => "never:note",
            Miss::NeverAfterRest => "never:rest",
        }
    }
}

/// Counts per bucket, plus the extras no missed note explains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Buckets {
    /// Missed written notes per [`Miss`] (index = position in [`Miss::ALL`]).
    pub misses: [usize; 8],
    /// Estimated notes matched to nothing and not used to explain a miss.
    pub extras: usize,
}

impl Buckets {
    /// Adds another file's counts.
    pub fn add(&mut self, other: &Buckets) {
        for (a, b) in self.misses.iter_mut().zip(other.misses) {
            *a += b;
        }
        self.extras += other.extras;
    }
}

/// Buckets the unmatched notes of one file. `pairs` are the (reference, estimate) matches of
/// `match_notes`; `reference` is in onset order. Each unmatched estimate explains at most one
/// miss (the first bucket that finds it, nearest onset first within a bucket).
pub fn bucket(
    reference: &[ScoredNote],
    estimate: &[ScoredNote],
    pairs: &[(usize, usize)],
) -> Buckets {
    let mut used = vec![false; estimate.len()];
    let mut matched_ref = vec![false; reference.len()];
    for &(r, e) in pairs {
        if let Some(u) = used.get_mut(e) {
            *u = true;
        }
        if let Some(m) = matched_ref.get_mut(r) {
            *m = true;
        }
    }
    let mut out = Buckets::default();
    for (i, r) in reference.iter().enumerate() {
        if matched_ref[i] {
            continue;
        }
        // The nearest unused estimate that satisfies `fits` (onset difference e − r).
        let mut find = |fits: &dyn Fn(f64, f64) -> bool| -> bool {
            let best = estimate
                .iter()
                .enumerate()
                .filter(|(j, e)| !used[*j] && fits(e.onset_s - r.onset_s, e.pitch - r.pitch))
                .min_by(|a, b| {
                    (a.1.onset_s - r.onset_s)
                        .abs()
                        .total_cmp(&(b.1.onset_s - r.onset_s).abs())
                })
                .map(|(j, _)| j);
            if let Some(j) = best {
                used[j] = true;
            }
            best.is_some()
        };
        let tol = ONSET_TOLERANCE_S + 1e-9;
        let same = |dp: f64| dp.abs() <= PITCH_TOLERANCE;
        let near = |dp: f64, steps: &[f64]| steps.iter().any(|s| (dp.abs() - s).abs() <= 0.5);
        let bucket = if find(&|dt, dp| same(dp) && dt > tol && dt <= MISDATED_S) {
            Miss::Late
        } else if find(&|dt, dp| same(dp) && dt < -tol && dt >= -MISDATED_S) {
            Miss::Early
        } else if find(&|dt, dp| dt.abs() <= tol && near(dp, &[12.0, 19.0, 24.0])) {
            Miss::Octave
        } else if find(&|dt, dp| dt.abs() <= tol && near(dp, &[1.0, 2.0])) {
            Miss::Semitone
        } else if find(&|dt, _| dt.abs() <= tol) {
            Miss::OtherPitch
        } else {
            match i.checked_sub(1).and_then(|p| reference.get(p)) {
                Some(p) if (p.pitch - r.pitch).abs() <= PITCH_TOLERANCE => Miss::NeverRepeat,
                Some(p) if r.onset_s - p.onset_s <= AFTER_NOTE_S => Miss::NeverAfterNote,
                _ => Miss::NeverAfterRest,
            }
        };
        if let Some(k) = Miss::ALL.iter().position(|&m| m == bucket) {
            out.misses[k] += 1;
        }
    }
    out.extras = used.iter().filter(|u| !**u).count();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(onset_s: f64, pitch: f64) -> ScoredNote {
        ScoredNote { onset_s, pitch }
    }

    fn count(b: &Buckets, m: Miss) -> usize {
        b.misses[Miss::ALL.iter().position(|&x| x == m).unwrap_or(0)]
    }

    #[test]
    fn every_miss_lands_in_its_bucket() {
        let reference = [
            n(0.0, 60.0),  // matched
            n(1.0, 62.0),  // found 100 ms late
            n(2.0, 64.0),  // found 100 ms early
            n(3.0, 65.0),  // found an octave low
            n(4.0, 67.0),  // found a semitone high
            n(5.0, 67.0),  // never found, repeated pitch
            n(5.5, 69.0),  // never found, after a note
            n(9.0, 71.0),  // never found, after a rest
            n(10.0, 72.0), // found at a fifth: other pitch
        ];
        let estimate = [
            n(0.01, 60.0),
            n(1.1, 62.0),
            n(1.9, 64.0),
            n(3.02, 53.0),
            n(4.0, 68.0),
            n(10.0, 79.0),
            n(12.0, 50.0), // an extra nothing explains
        ];
        let pairs = [(0, 0)];
        let b = bucket(&reference, &estimate, &pairs);
        assert_eq!(count(&b, Miss::Late), 1);
        assert_eq!(count(&b, Miss::Early), 1);
        assert_eq!(count(&b, Miss::Octave), 1);
        assert_eq!(count(&b, Miss::Semitone), 1);
        assert_eq!(count(&b, Miss::OtherPitch), 1);
        assert_eq!(count(&b, Miss::NeverRepeat), 1);
        assert_eq!(count(&b, Miss::NeverAfterNote), 1);
        assert_eq!(count(&b, Miss::NeverAfterRest), 1);
        assert_eq!(b.extras, 1);
    }

    #[test]
    fn an_extra_explains_one_miss_only() {
        // Two written notes 100 ms before one late estimate: one is late, the other never found.
        let reference = [n(1.0, 62.0), n(1.05, 62.0)];
        let estimate = [n(1.15, 62.0)];
        let pairs = [(1, 0)];
        let b = bucket(&reference, &estimate, &[]);
        assert_eq!(count(&b, Miss::Late), 1, "{b:?}");
        assert_eq!(count(&b, Miss::NeverRepeat), 1, "{b:?}");
        assert_eq!(b.extras, 0);
        // Matched notes are neither misses nor extras.
        let matched = bucket(&reference, &estimate, &pairs);
        assert_eq!(matched.misses.iter().sum::<usize>(), 1);
        assert_eq!(matched.extras, 0);
    }
}
