//! Attack habit (AUDIO THREAD): how long this stream's notes take to swell in.
//!
//! The notes the tracker starts without an onset (legato steps, notes out of silence,
//! newcomers, swells) are dated from the rise of their own partials: the hop where they were
//! still `rise_drop_db` under their energy at the decision, less `rise_backdate` (the time a
//! new note's partials take to fill the long window that far). That backdate fits a note whose
//! sound arrives at once. A warm pad's or a slow string section's note swells for 110–420 ms
//! before it comes within 10 dB of its peak (FluidSynth, one note alone; the others' attacks
//! take 3–100 ms): its partials cross the mark later after the note began, and the note is
//! dated 50–100 ms late, a miss and a wrong note for the evaluation's 50 ms. On the renders of
//! dev and of other melodies (`/tmp/jy`) those instruments scored best with 20 ms more backdate,
//! whatever the melody, and the quick ones with none more.
//!
//! So the tracker learns the instrument's swell. Per note, once the salience history (a quarter
//! second) spans the note from its onset: the time from the onset to the first hop where its
//! partials came within [`AttackHabitConfig::share`] of their climb over that span (from their
//! lowest to their highest, never less than 3 dB under the highest): a swell that is still
//! rising counts long, a sawtooth lead's attack whose filter keeps opening 12 dB more over
//! 200 ms counts short (it reached 70 % of its climb in 40 ms). Per stream: the median of the
//! last [`super::steadiness::NOTES`] notes ([`NoteMedian`]); a note shorter than the history
//! (a fast reel's) is not measured, so the habit comes from the held ones. Above
//! [`AttackHabitConfig::slow_s`] the slow paths' backdate grows, up to
//! [`AttackHabitConfig::extra`] at [`AttackHabitConfig::full_s`].
//!
//! Measured: see `docs/transcription-journal.md`, *Transcription, notes that swell in* (string
//! ensembles and pads up on dev and on three sets never tuned on; `attack_habit=0` turns it off).
//!
//! Cost: once per note, two passes over at most a quarter second of the note's partial
//! energies in the salience history (about 100 hops × 6 partials). No allocation.

use super::salience::Salience;
use super::steadiness::NoteMedian;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct AttackHabitConfig {
    /// Samples per second.
    pub sample_rate: f32,
    /// Samples per hop.
    pub hop: u64,
    /// A note's swell ends where its partials have come this share of the way up their climb
    /// (in dB, from their lowest to their highest since the onset).
    pub share: f32,
    /// Median swell (s) above which the backdate grows (0 turns the habit off) ...
    pub slow_s: f32,
    /// ... reaching `extra` at this median swell (s) ...
    pub full_s: f32,
    /// ... the most added to the slow paths' backdate (samples).
    pub extra: u64,
}

/// The stream's attack habit.
#[derive(Debug, Clone, Copy)]
pub struct AttackHabit {
    config: AttackHabitConfig,
    /// The last notes' swell times (s).
    swells: NoteMedian,
    /// Onset of the last note measured (each note is measured once).
    measured: Option<u64>,
}

impl AttackHabit {
    pub fn new(config: AttackHabitConfig) -> Self {
        Self {
            config,
            swells: NoteMedian::default(),
            measured: None,
        }
    }

    /// Every hop: `sounding` is the tracker's note (pitch, onset in stream samples), `now` this
    /// hop's time. Measures the note once the salience history spans it.
    pub fn hop(&mut self, sounding: Option<(u8, u64)>, now: u64, salience: &Salience) {
        let c = &self.config;
        let Some((pitch, since)) = sounding else {
            return;
        };
        if c.slow_s <= 0.0 || self.measured == Some(since) {
            return;
        }
        let history = salience.history_hops();
        let span = (now.saturating_sub(since) / c.hop.max(1)) as usize;
        if span + 2 < history {
            return;
        }
        self.measured = Some(since);
        let span = span.min(history);
        let mask = salience.exclusive_harmonics(pitch, None, 0.0);
        let energy = |ago: usize| salience.partial_value(pitch, mask, ago);
        if let Some(hops) = swell_hops(energy, span, c.share) {
            self.swells
                .push(hops as f32 * c.hop as f32 / c.sample_rate.max(1.0));
        }
    }

    /// Samples added to the backdate of notes dated from their partials' rise.
    pub fn extra_backdate(&self) -> u64 {
        let c = &self.config;
        match self.swells.median() {
            Some(m) if c.slow_s > 0.0 && m > c.slow_s => {
                let share = ((m - c.slow_s) / (c.full_s - c.slow_s).max(1e-3)).min(1.0);
                (c.extra as f32 * share) as u64
            }
            _ => 0,
        }
    }
}

/// Hops from a note's onset (`span` hops ago) to the first hop whose energy `energy(ago)` (dB,
/// `None` where unknown) came within `share` of its climb over the span (and within 3 dB of
/// its highest at most); `None` when no energy is known.
pub fn swell_hops(energy: impl Fn(usize) -> Option<f32>, span: usize, share: f32) -> Option<usize> {
    let (mut high, mut low) = (f32::NEG_INFINITY, f32::INFINITY);
    for v in (0..=span).filter_map(&energy) {
        high = high.max(v);
        low = low.min(v);
    }
    if !high.is_finite() {
        return None;
    }
    let mark = high - (3.0f32).max((1.0 - share) * (high - low));
    (0..=span)
        .rev()
        .find(|&ago| energy(ago).is_some_and(|v| v >= mark))
        .map(|ago| span - ago)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Energies (dB) per hop from the onset on, read `ago` hops back from the last.
    fn read(levels: &[f32]) -> impl Fn(usize) -> Option<f32> + '_ {
        move |ago| levels.len().checked_sub(ago + 1).map(|i| levels[i])
    }

    #[test]
    fn a_slow_swell_counts_long_and_a_quick_attack_short() {
        // A pad: from −60 dB up 1 dB a hop for 40 hops, then held.
        let pad: Vec<f32> = (0..90).map(|k| -60.0 + (k.min(40) as f32)).collect();
        // 70 % of its 40 dB climb: 28 hops in.
        assert_eq!(swell_hops(read(&pad), 89, 0.7), Some(28));
        // A pluck: at once to −20 dB, then decaying.
        let pluck: Vec<f32> = (0..90)
            .map(|k| {
                if k == 0 {
                    -80.0
                } else {
                    -20.0 - 0.1 * k as f32
                }
            })
            .collect();
        assert_eq!(swell_hops(read(&pluck), 89, 0.7), Some(1));
        // A saw lead: 30 dB in 4 hops, then its filter opens 12 dB more over 75 hops. Within
        // 3 dB of its highest only at hop 60; at 70 % of the climb after 4 hops.
        let saw: Vec<f32> = (0..90)
            .map(|k| {
                let k = k as f32;
                -70.0 + 7.5 * k.min(4.0) + 0.16 * (k - 4.0).clamp(0.0, 75.0)
            })
            .collect();
        assert_eq!(swell_hops(read(&saw), 89, 1.0), Some(61));
        assert_eq!(swell_hops(read(&saw), 89, 0.7), Some(4));
        // Nothing known: no measure.
        assert_eq!(swell_hops(|_| None, 10, 0.7), None);
    }

    #[test]
    fn the_backdate_grows_with_the_median_swell_of_the_last_notes() {
        let config = AttackHabitConfig {
            sample_rate: 48_000.0,
            hop: 128,
            share: 0.7,
            slow_s: 0.08,
            full_s: 0.2,
            extra: 960,
        };
        let mut habit = AttackHabit::new(config);
        for _ in 0..3 {
            habit.swells.push(0.3);
        }
        assert_eq!(habit.extra_backdate(), 0, "three notes are no habit yet");
        habit.swells.push(0.3);
        assert_eq!(habit.extra_backdate(), 960);
        // Quick attacks take over the median: no more backdate.
        for _ in 0..5 {
            habit.swells.push(0.03);
        }
        assert_eq!(habit.extra_backdate(), 0);
        // Half-way between `slow_s` and `full_s`: half the extra.
        for _ in 0..8 {
            habit.swells.push(0.14);
        }
        assert!(
            habit.extra_backdate().abs_diff(480) <= 1,
            "{}",
            habit.extra_backdate()
        );
        // Off: never.
        let mut off = AttackHabit::new(AttackHabitConfig {
            slow_s: 0.0,
            ..config
        });
        for _ in 0..8 {
            off.swells.push(0.3);
        }
        assert_eq!(off.extra_backdate(), 0);
    }
}
