//! The analysis's input gain (AUDIO THREAD): a quiet input is raised to the level the
//! analysis was tuned at, so that a musician whose interface gain is low is heard as well as
//! one whose gain is high.
//!
//! Every level the analysis compares with a fixed number is in dBFS: the onset detector's gate
//! and its log compression, the tracker's silence gate, the top voice's gate, the chord
//! listener's floor. The development renders peak at −18 to −1 dBFS (median −11), and the
//! tracker holds up within a few dB of that; 12 dB lower, dev's F1 fell 0.912 → 0.893 and its
//! struck latency rose 26 → 29 ms, 24 dB lower to 0.708 and 39 ms. A mic'd voice or a guitar
//! DI recorded with headroom easily sits there.
//!
//! What is measured is the loudness of the notes heard: the peak of the short-term level while
//! a note sounds, one value per note (taken when the note ends or the next begins), in the
//! input's own scale (the gain applied at the time taken off). Notes are the tracker's and the
//! top voice's, and, since an input too quiet for the tracker's gates starts none of those,
//! also every *attack*: a strongly periodic stretch of hops that began at least `anchor_db`
//! over the level's recent floor (a floor that follows the level down at once and up
//! `floor_up_per_hop` a hop), lasting from `anchor_hops` to `anchor_max_hops` (a hum or a
//! drone switched on is no note). The reference is the loudest of the last [`NOTES`] notes
//! heard to their end, so a ghost note, a release tail the tracker started or a quiet passage
//! note does not pull the gain up; a note louder than them lowers it while it sounds. The gain
//! is `target − reference`, never below 0 dB (a hot input is left as it is: clipping cannot be
//! undone) and never above `max_gain_db`; it moves at most `up_per_hop` dB a hop up and
//! `down_per_hop` down, and only notes that ended raise it, so a held note does not seem to
//! swell. Hum, noise and room tone start no note, so they never set the gain: a pause is
//! heard at the gain of the playing before it.
//!
//! The gain acts on the analysis's copy of the input only; the audio passes through untouched.
//! Cost: a scan of [`NOTES`] numbers and a few comparisons per hop, one `powf` per hop while
//! the gain moves, one multiply per input sample; no allocation.

use super::loudness::FLOOR_DB;

/// Notes remembered for the reference level.
pub const NOTES: usize = 8;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct InputLevelConfig {
    /// The level (dBFS, the peak short-term level of a note) the reference is raised to.
    /// `None`: the stage is off (gain 0 dB).
    pub target_db: Option<f32>,
    /// The largest gain (dB).
    pub max_gain_db: f32,
    /// Largest rise of the gain per hop (dB).
    pub up_per_hop: f32,
    /// Largest fall of the gain per hop (dB).
    pub down_per_hop: f32,
    /// Notes whose peak is under this (dBFS, input scale) are not counted: nothing is raised
    /// out of the dither.
    pub floor_db: f32,
    /// An attack: the level this far (dB) over its recent floor ...
    pub anchor_db: f32,
    /// ... on a hop at least this periodic (pitch confidence) ...
    pub anchor_confidence: f32,
    /// ... and the stretch of such hops from it at least this long (hops) and at most
    /// `anchor_max_hops` (a hum or a drone switched on is no note).
    pub anchor_hops: u32,
    /// See `anchor_hops`.
    pub anchor_max_hops: u32,
    /// The floor rises at most this much a hop (dB) towards the level.
    pub floor_up_per_hop: f32,
}

impl InputLevelConfig {
    /// Defaults for a hop of `hop_s` seconds.
    pub fn new(hop_s: f32, tuning: &super::Tuning) -> Self {
        Self {
            target_db: (tuning.get("input_level", 1.0) > 0.5)
                .then(|| tuning.get("input_target_db", -18.0)),
            max_gain_db: tuning.get("input_max_gain_db", 36.0).max(0.0),
            up_per_hop: tuning.get("input_up_db_s", 40.0).max(0.0) * hop_s,
            down_per_hop: tuning.get("input_down_db_s", 30.0).max(0.0) * hop_s,
            floor_db: tuning.get("input_floor_db", -80.0),
            anchor_db: tuning.get("input_anchor_db", 12.0),
            anchor_confidence: tuning.get("input_anchor_confidence", 0.9),
            anchor_hops: (tuning.get("input_anchor_s", 0.03) / hop_s.max(1e-6)).round() as u32,
            anchor_max_hops: (tuning.get("input_anchor_max_s", 4.0) / hop_s.max(1e-6)).round()
                as u32,
            floor_up_per_hop: tuning.get("input_floor_up_db_s", 20.0).max(0.0) * hop_s,
        }
    }
}

/// The analysis's input gain.
#[derive(Debug, Clone)]
pub struct InputLevel {
    /// Settings, fixed at construction.
    config: InputLevelConfig,
    /// Peak levels (dBFS, input scale) of the last notes; `FLOOR_DB` where none yet.
    peaks: [f32; NOTES],
    /// Next slot of `peaks`.
    next: usize,
    /// The peak of the note sounding now (input scale), while one sounds.
    note_peak: Option<f32>,
    /// The level's recent floor (input scale).
    floor: f32,
    /// The peak of the attack's periodic stretch (input scale) and its length (hops), while
    /// one lasts.
    attack: Option<(f32, u32)>,
    /// The gain now (dB) and as a factor.
    gain_db: f32,
    gain: f32,
    /// The note sounding is not measured (`forget_current`), until it ends.
    skip_note: bool,
}

impl InputLevel {
    pub fn new(config: InputLevelConfig) -> Self {
        Self {
            config,
            peaks: [FLOOR_DB; NOTES],
            next: 0,
            note_peak: None,
            floor: FLOOR_DB,
            attack: None,
            gain_db: 0.0,
            gain: 1.0,
            skip_note: false,
        }
    }

    /// The factor the input is multiplied by before the analysis.
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// The gain now (dB).
    pub fn gain_db(&self) -> f32 {
        self.gain_db
    }

    /// One hop: `recent_db` is the short-term level the analysis measured (with the gain
    /// applied), `confidence` the pitch estimate's, `sounding` whether a note sounds after
    /// this hop, `boundary` whether a note began or ended on it (the note before it is then
    /// complete).
    pub fn hop(&mut self, recent_db: f32, confidence: f32, sounding: bool, boundary: bool) {
        let Some(target) = self.config.target_db else {
            return;
        };
        let level = if recent_db.is_finite() {
            recent_db - self.gain_db
        } else {
            FLOOR_DB
        };
        if boundary {
            if let Some(peak) = self.note_peak.take() {
                self.remember(peak);
            }
            self.skip_note = false;
        }
        if sounding && !self.skip_note {
            self.note_peak = Some(self.note_peak.map_or(level, |p| p.max(level)));
        } else {
            self.note_peak = None;
            self.skip_note &= sounding;
        }
        // Attacks out of the floor, whether or not a note was started.
        let c = self.config;
        let periodic = confidence >= c.anchor_confidence;
        self.attack = match self.attack {
            Some((peak, hops)) if periodic => Some((peak.max(level), hops.saturating_add(1))),
            Some((peak, hops)) => {
                if (c.anchor_hops..=c.anchor_max_hops).contains(&hops) {
                    self.remember(peak);
                }
                None
            }
            None if periodic && level >= self.floor + c.anchor_db => Some((level, 1)),
            None => None,
        };
        self.floor = level.min(self.floor + c.floor_up_per_hop);
        // Only notes heard to their end raise the gain; one louder than them lowers it while
        // it sounds.
        let heard = self.peaks.iter().fold(FLOOR_DB, |a, &b| a.max(b));
        let now = self
            .note_peak
            .iter()
            .chain(self.attack.iter().map(|(peak, _)| peak))
            .fold(heard, |a, &b| a.max(b));
        let goal = if heard > FLOOR_DB {
            (target - now).clamp(0.0, self.config.max_gain_db)
        } else {
            0.0
        };
        if goal == self.gain_db {
            return;
        }
        let step = (goal - self.gain_db).clamp(-self.config.down_per_hop, self.config.up_per_hop);
        self.gain_db = if (goal - self.gain_db).abs() <= step.abs() {
            goal
        } else {
            self.gain_db + step
        };
        self.gain = 10f32.powf(self.gain_db / 20.0);
    }

    /// Forgets the note sounding and the attack under way, and does not measure that note
    /// any further: they were not played (the hum stage just found them to be a hum).
    pub fn forget_current(&mut self) {
        self.note_peak = None;
        self.attack = None;
        self.skip_note = true;
        // The level heard on the next hop is the floor: no attack out of the one before.
        self.floor = f32::MAX;
    }

    /// Counts a note's peak (input scale) in the reference.
    fn remember(&mut self, peak: f32) {
        if peak >= self.config.floor_db {
            if let Some(slot) = self.peaks.get_mut(self.next) {
                *slot = peak;
            }
            self.next = (self.next + 1) % NOTES;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> InputLevel {
        InputLevel::new(InputLevelConfig {
            target_db: Some(-12.0),
            max_gain_db: 36.0,
            up_per_hop: 0.5,
            down_per_hop: 2.0,
            floor_db: -80.0,
            anchor_db: 12.0,
            anchor_confidence: 0.9,
            anchor_hops: 10,
            anchor_max_hops: 400,
            floor_up_per_hop: 0.05,
        })
    }

    /// Plays `notes` notes of `hops` hops at `level_db` (input scale) with a hop of silence
    /// between them; returns the stage.
    fn play(s: &mut InputLevel, notes: usize, hops: usize, level_db: f32) {
        for _ in 0..notes {
            for h in 0..hops {
                let heard = level_db + s.gain_db();
                s.hop(heard, 0.5, true, h == 0);
            }
            s.hop(FLOOR_DB, 0.0, false, true);
        }
    }

    #[test]
    fn a_quiet_player_is_raised_to_the_target() {
        let mut s = stage();
        play(&mut s, 12, 40, -36.0);
        assert!((s.gain_db() - 24.0).abs() < 1e-3, "{}", s.gain_db());
        assert!((s.gain() - 10f32.powf(1.2)).abs() < 1e-3);
    }

    #[test]
    fn a_loud_player_is_left_alone() {
        let mut s = stage();
        play(&mut s, 12, 40, -3.0);
        assert_eq!(s.gain_db(), 0.0);
    }

    #[test]
    fn the_gain_rises_slowly_and_falls_at_once() {
        let mut s = stage();
        // One quiet note: the goal is 24 dB, but the gain rises 0.5 dB a hop.
        play(&mut s, 1, 10, -36.0);
        let after_one = s.gain_db();
        assert!(after_one > 0.0 && after_one <= 0.5 + 1e-6, "{after_one}");
        play(&mut s, 10, 40, -36.0);
        assert!((s.gain_db() - 24.0).abs() < 1e-3);
        // A loud note: down 2 dB a hop while it sounds, within a dozen hops.
        for h in 0..12 {
            let heard = -6.0 + s.gain_db();
            s.hop(heard, 0.5, true, h == 0);
        }
        assert!(s.gain_db() < 1e-3, "{}", s.gain_db());
    }

    #[test]
    fn ghost_notes_do_not_raise_the_gain() {
        let mut s = stage();
        play(&mut s, 8, 40, -20.0);
        let gain = s.gain_db();
        assert!((gain - 8.0).abs() < 1e-3, "{gain}");
        // Five notes 25 dB softer among the loud ones: the loudest of the last eight rules.
        play(&mut s, 5, 10, -45.0);
        assert!((s.gain_db() - gain).abs() < 1e-3, "{}", s.gain_db());
    }

    #[test]
    fn nothing_is_raised_without_notes_or_out_of_the_floor() {
        let mut s = stage();
        // A hum switched on, however periodic, is no attack: it goes on too long.
        for _ in 0..1000 {
            s.hop(-60.0, 1.0, false, false);
        }
        s.hop(-60.0, 0.0, false, false);
        assert_eq!(s.gain_db(), 0.0);
        play(&mut s, 10, 40, -95.0);
        assert_eq!(s.gain_db(), 0.0);
    }

    #[test]
    fn attacks_the_tracker_does_not_hear_set_the_gain_too() {
        let mut s = stage();
        // Quiet phrases no note was started for: periodic stretches out of silence.
        for _ in 0..4 {
            for _ in 0..20 {
                s.hop(FLOOR_DB, 0.0, false, false);
            }
            for _ in 0..40 {
                let heard = -40.0 + s.gain_db();
                s.hop(heard, 0.95, false, false);
            }
        }
        s.hop(FLOOR_DB, 0.0, false, false);
        assert!(s.gain_db() > 10.0, "{}", s.gain_db());
        // Stretches shorter than `anchor_hops` or weakly periodic do not count.
        let mut t = stage();
        for _ in 0..10 {
            for _ in 0..20 {
                t.hop(FLOOR_DB, 0.0, false, false);
            }
            for _ in 0..5 {
                t.hop(-40.0, 0.95, false, false);
            }
            for _ in 0..40 {
                t.hop(-40.0, 0.5, false, false);
            }
        }
        assert_eq!(t.gain_db(), 0.0);
    }

    #[test]
    fn off_is_unity() {
        let mut off = InputLevel::new(InputLevelConfig {
            target_db: None,
            ..stage().config
        });
        play(&mut off, 12, 40, -36.0);
        assert_eq!((off.gain_db(), off.gain()), (0.0, 1.0));
    }
}
