//! The note representation the predictors work on: an [`Event`] per note with its pitch, its
//! rhythm class (how long until the next note starts) and its onset phase within the beat.
//!
//! Notes arrive with real-valued times in beats ([`super::Note`]); the model only ever sees
//! these small integer classes, so a melody played slightly off the grid still finds its
//! contexts in the corpus.

use super::Note;

/// Rhythm classes: inter-onset intervals (IOI, the time from one note's onset to the next, rests
/// included) in beats. A note's IOI is its "length in the rhythm"; the last note of a melody uses
/// its own duration. Values are snapped to the nearest class on a log scale.
pub const RHYTHM_BEATS: [f64; 16] = [
    0.125,
    1.0 / 6.0,
    0.25,
    1.0 / 3.0,
    0.375,
    0.5,
    2.0 / 3.0,
    0.75,
    1.0,
    1.5,
    2.0,
    2.5,
    3.0,
    4.0,
    6.0,
    8.0,
];

/// Number of rhythm classes.
pub const N_RHYTHM: usize = RHYTHM_BEATS.len();

/// Onset phases within a beat, in twelfths (covers sixteenths and triplets).
pub const N_PHASE: usize = 12;

/// Number of MIDI pitches.
pub const N_PITCH: usize = 128;

/// One note as the predictors see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event {
    /// MIDI pitch.
    pub pitch: u8,
    /// Index into [`RHYTHM_BEATS`]: time until the next onset (or the note's own duration).
    pub rhythm: u8,
    /// Onset position within the beat, in twelfths of a beat (0 = on the beat).
    pub phase: u8,
}

/// The rhythm class nearest (on a log scale) to a length in beats.
pub fn rhythm_class(beats: f64) -> u8 {
    if beats.is_nan() || beats <= 0.0 || !beats.is_finite() {
        return if beats.is_infinite() {
            (N_RHYTHM - 1) as u8
        } else {
            0
        };
    }
    let l = beats.log2();
    let mut best = 0;
    let mut best_d = f64::INFINITY;
    for (i, &b) in RHYTHM_BEATS.iter().enumerate() {
        let d = (b.log2() - l).abs();
        if d < best_d {
            best_d = d;
            best = i;
        }
    }
    best as u8
}

/// The phase class (twelfths of a beat) of an onset in beats.
pub fn phase_class(onset: f64) -> u8 {
    if !onset.is_finite() {
        return 0;
    }
    let frac = onset.rem_euclid(1.0);
    ((frac * N_PHASE as f64).round() as usize % N_PHASE) as u8
}

/// The phase that follows a note at `phase` lasting `rhythm`.
pub fn next_phase(phase: u8, rhythm: u8) -> u8 {
    let beats = RHYTHM_BEATS[rhythm as usize % N_RHYTHM];
    phase_class(phase as f64 / N_PHASE as f64 + beats)
}

/// Turns a melody (sorted by onset, monophonic) into events. The IOI of each note is the time to
/// the next onset; the last note uses its duration. Notes starting together keep only the highest.
pub fn events_from_notes(notes: &[Note]) -> Vec<Event> {
    let melody = skyline(notes);
    let mut out = Vec::with_capacity(melody.len());
    for (i, n) in melody.iter().enumerate() {
        let ioi = match melody.get(i + 1) {
            Some(next) => next.onset - n.onset,
            None => n.duration,
        };
        out.push(Event {
            pitch: n.pitch.min(127),
            rhythm: rhythm_class(ioi),
            phase: phase_class(n.onset),
        });
    }
    out
}

/// The top voice of possibly polyphonic notes: sorted by onset; of notes starting within
/// 1/24 beat of each other only the highest is kept; a note still sounding when the next starts is
/// cut there.
pub fn skyline(notes: &[Note]) -> Vec<Note> {
    let mut sorted: Vec<Note> = notes
        .iter()
        .copied()
        .filter(|n| n.onset.is_finite() && n.duration.is_finite())
        .collect();
    sorted.sort_by(|a, b| a.onset.total_cmp(&b.onset).then(b.pitch.cmp(&a.pitch)));
    let mut out: Vec<Note> = Vec::with_capacity(sorted.len());
    for n in sorted {
        if let Some(last) = out.last_mut() {
            if n.onset - last.onset < 1.0 / 24.0 {
                // Same onset: the first (highest) wins.
                continue;
            }
            if last.onset + last.duration > n.onset {
                last.duration = n.onset - last.onset;
            }
        }
        out.push(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8, onset: f64, duration: f64) -> Note {
        Note {
            pitch,
            onset,
            duration,
            velocity: 90,
        }
    }

    #[test]
    fn classes() {
        assert_eq!(RHYTHM_BEATS[rhythm_class(1.0) as usize], 1.0);
        assert_eq!(RHYTHM_BEATS[rhythm_class(0.49) as usize], 0.5);
        assert_eq!(RHYTHM_BEATS[rhythm_class(0.34) as usize], 1.0 / 3.0);
        assert_eq!(RHYTHM_BEATS[rhythm_class(100.0) as usize], 8.0);
        assert_eq!(rhythm_class(0.0), 0);
        assert_eq!(rhythm_class(f64::NAN), 0);
        assert_eq!(phase_class(3.5), 6);
        assert_eq!(phase_class(-0.25), 9);
        assert_eq!(next_phase(6, rhythm_class(0.5)), 0);
    }

    #[test]
    fn skyline_keeps_top_voice() {
        let notes = [
            note(60, 0.0, 2.0),
            note(64, 0.0, 1.0),
            note(62, 1.0, 1.0),
            note(59, 1.0, 1.0),
        ];
        let top = skyline(&notes);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].pitch, 64);
        assert_eq!(top[1].pitch, 62);
        let ev = events_from_notes(&notes);
        assert_eq!(ev[0].rhythm, rhythm_class(1.0));
        assert_eq!(ev[1].phase, 0);
    }
}
