//! Steadiness (AUDIO THREAD): does this stream's sound hold its level while a note is held?
//!
//! The swell path (`tracker.rs`) restarts the sounding note when its level dips and rises
//! again without an onset: a bowed, blown or organ note repeated at its pitch. Its thresholds
//! (a 15 dB rise, a note at least 250 ms old) are set for the sounds that swing on their own
//! within a note: an ensemble's detuned layers beat 7–10 dB deep, a voice's vibrato and a
//! pad's filter move the level as much. An organ pipe, a flute, a clarinet or a trumpet holds
//! its level within a few dB, and their repeats dipped 9 dB and rose 10 dB over 50 ms, which
//! the swell path missed (dev's organs: 23 of 32 repeats after a 30–60 ms gap).
//!
//! So the tracker asks how much the stream's recent notes swung while they were held. Per note
//! ([`HeldSwing`]): the largest rise of its short-term level over its lowest so far, from
//! `TrackerConfig::steady_skip` after its onset (past the attack) on. The levels are counted
//! `TrackerConfig::steady_lag_hops` late (at most [`LAG`]), so the next note's own rise, heard
//! before the tracker decides it and dates it back, mostly stays out of the note before. Per
//! stream ([`Steadiness`]): the median swing of the last [`NOTES`] notes held long enough;
//! below `TrackerConfig::steady_swing_db` the stream is steady, and the swell path takes a
//! smaller rise and a younger note (`steady_rise_db`, `steady_min_age`). The median keeps a
//! missed repeat (its dip and rise counted as a swing) from setting the habit alone.
//!
//! Measured (`continuo eval-transcription DIR`, mean F1; from the per-file swings of dev and
//! `/tmp/jy`: the looser swell path gains on renders whose notes swing less than 4–5 dB and
//! loses on the rest, accordions and ensembles): see `docs/transcription-journal.md`,
//! *Transcription, steady sounds' quick repeats*. Notes held under about 0.33 s (a fast reel) never
//! teach the habit: the lag, `steady_skip` and `steady_min_held_hops` leave too little of them.
//!
//! No allocation: two fixed rings (the notes' ring, [`NoteMedian`], also keeps
//! `attack_habit.rs`'s attack times).

/// The longest lag a level may wait before it counts for the sounding note (the ring's length;
/// about 0.26 s at the 2.7 ms hop). The tracker's lag is `TrackerConfig::steady_lag_hops`.
pub const LAG: usize = 96;
/// Notes whose swings make the stream's habit.
pub const NOTES: usize = 8;
/// Notes needed before the stream may be called steady.
const MIN_NOTES: usize = 4;

/// One note's swing while it was held (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct HeldSwing {
    /// Lowest level counted so far (dB).
    low: f32,
    /// Largest rise of a counted level over `low` before it (dB).
    swing: f32,
    /// Levels counted.
    hops: u32,
}

impl Default for HeldSwing {
    fn default() -> Self {
        Self {
            low: f32::INFINITY,
            swing: 0.0,
            hops: 0,
        }
    }
}

impl HeldSwing {
    /// Counts one level (dB).
    pub fn add(&mut self, level_db: f32) {
        self.low = self.low.min(level_db);
        self.swing = self.swing.max(level_db - self.low);
        self.hops = self.hops.saturating_add(1);
    }
}

/// A measure of the stream's last [`NOTES`] notes and its median, once [`MIN_NOTES`] were
/// measured (a habit of the stream: this stage's swings, `attack_habit.rs`'s attack times).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoteMedian {
    /// The last notes' measures (ring).
    values: [f32; NOTES],
    /// Measures written since the reset (the ring's next slot is this modulo [`NOTES`]).
    notes: usize,
    /// The median of `values`, updated on each `push`; `None` until [`MIN_NOTES`] were.
    median: Option<f32>,
}

impl NoteMedian {
    /// Counts one note's measure.
    pub fn push(&mut self, value: f32) {
        self.values[self.notes % NOTES] = value;
        self.notes = self.notes.wrapping_add(1);
        let n = self.notes.min(NOTES);
        if n >= MIN_NOTES {
            let mut sorted = self.values;
            let sorted = &mut sorted[..n];
            sorted.sort_unstable_by(f32::total_cmp);
            self.median = Some(sorted[n / 2]);
        }
    }

    /// The median of the last notes' measures, once [`MIN_NOTES`] were counted.
    pub fn median(&self) -> Option<f32> {
        self.median
    }
}

/// The stream's habit: the delayed levels and the last notes' swings.
#[derive(Debug, Clone, Copy)]
pub struct Steadiness {
    /// The last [`LAG`] levels (ring), oldest at `pos` once full.
    levels: [f32; LAG],
    /// Next slot of `levels`.
    pos: usize,
    /// Levels written, up to [`LAG`].
    filled: usize,
    /// The last notes' swings (dB).
    swings: NoteMedian,
}

impl Default for Steadiness {
    fn default() -> Self {
        Self {
            levels: [0.0; LAG],
            pos: 0,
            filled: 0,
            swings: NoteMedian::default(),
        }
    }
}

impl Steadiness {
    /// Stores this hop's level and returns the one from `lag` hops ago (1 to [`LAG`]), once
    /// there is one.
    pub fn delay(&mut self, level_db: f32, lag: usize) -> Option<f32> {
        let lag = lag.clamp(1, LAG);
        let old = (self.filled >= lag).then(|| self.levels[(self.pos + LAG - lag) % LAG]);
        self.levels[self.pos] = level_db;
        self.pos = (self.pos + 1) % LAG;
        self.filled = (self.filled + 1).min(LAG);
        old
    }

    /// Learns a finished note's swing, when at least `min_hops` of its levels were counted.
    pub fn learn(&mut self, held: &HeldSwing, min_hops: u32) {
        if held.hops < min_hops || !held.swing.is_finite() {
            return;
        }
        self.swings.push(held.swing);
    }

    /// Whether the stream's recent notes swung less than `below_db` (median).
    pub fn steady(&self, below_db: f32) -> bool {
        self.swings.median().is_some_and(|m| m < below_db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(levels: &[f32]) -> HeldSwing {
        let mut h = HeldSwing::default();
        for &l in levels {
            h.add(l);
        }
        h
    }

    #[test]
    fn the_swing_is_a_rise_after_a_dip_not_a_fall() {
        // A note that only fades swings 0 dB; one that dips 6 dB and comes back 4 dB swings 4.
        assert_eq!(note(&[-20.0, -22.0, -26.0, -30.0]).swing, 0.0);
        assert_eq!(note(&[-20.0, -26.0, -22.0, -25.0]).swing, 4.0);
    }

    #[test]
    fn the_median_of_the_last_notes_decides_and_short_notes_do_not_count() {
        let mut s = Steadiness::default();
        let steady = note(&[-20.0; 60]);
        let swinging = note(&[-20.0, -30.0, -20.0, -30.0, -20.0]);
        for _ in 0..3 {
            s.learn(&steady, 50);
        }
        assert!(!s.steady(5.0), "three notes are not a habit yet");
        s.learn(&steady, 50);
        assert!(s.steady(5.0));
        // Notes too short to count change nothing; one swinging note among steady ones neither.
        for _ in 0..10 {
            s.learn(&swinging, 50);
        }
        assert!(s.steady(5.0));
        let mut swinging_long = swinging;
        swinging_long.hops = 60;
        s.learn(&swinging_long, 50);
        assert!(s.steady(5.0));
        for _ in 0..4 {
            s.learn(&swinging_long, 50);
        }
        assert!(!s.steady(5.0), "most recent notes swing 10 dB");
    }

    #[test]
    fn levels_come_back_lag_hops_late() {
        let mut s = Steadiness::default();
        for k in 0..LAG {
            assert_eq!(s.delay(k as f32, LAG), None);
        }
        assert_eq!(s.delay(-1.0, LAG), Some(0.0));
        assert_eq!(s.delay(-2.0, LAG), Some(1.0));
        // A shorter lag reads the same ring nearer its head.
        let mut s = Steadiness::default();
        for k in 0..3 {
            assert_eq!(s.delay(k as f32, 3), None);
        }
        for k in 3..(2 * LAG) {
            assert_eq!(s.delay(k as f32, 3), Some((k - 3) as f32));
        }
    }
}
