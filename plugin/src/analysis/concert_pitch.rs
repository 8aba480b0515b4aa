//! The player's concert pitch (AUDIO THREAD): how far from A4 = 440 Hz the instrument is tuned.
//!
//! Every stage names notes on the equal-tempered grid of A4 = 440 Hz. An instrument tuned by
//! ear, to A4 = 432 Hz (−32 cents) or to an old piano, sits between two of its semitones, and a
//! few cents of vibrato or a pluck's sharp start then cross into the next one: on
//! `../shared/audio` played 25 cents flat F1 fell 0.945 → 0.889, 35 cents flat 0.808, 45 cents
//! 0.628. The analyser names notes in the player's tuning instead (`Analyzer::set_reference`:
//! every frequency ↔ note conversion and every stage's candidate bins, retuned in place); this
//! stage finds that tuning from what is played.
//!
//! Per note the tracker holds, the estimates that name it (confident, one voice, within a
//! semitone of it, moving less than `max_step` semitones a hop: no glide) are averaged: one
//! vibrato cycle or many, the mean is the note's centre. Each note's centre gives its place
//! between two semitones as an angle (a whole semitone is a turn), weighted by its hops (at
//! most `max_note_hops`: a held note is one note), and the mean of those angles, fading with
//! `memory_hops`, is the tuning. It is trusted once `min_hops` have counted and the note
//! centres agree (the mean angle's length at least `min_concentration`: a singer's ±15 cents
//! from note to note still agree; notes scattered over the semitone do not). An angle cannot
//! tell −50 from +50 cents: there the notes are named on either side, as any tuner would.
//!
//! Estimates come in the analyser's grid; the caller passes the concert pitch that grid is in,
//! so the tuning heard is absolute and stays valid when the grid moves. The analyser decides
//! whether to follow it (`renamed_share` guards against an instrument whose notes are tuned
//! apart). Cost: a few additions per hop; per note one `sin_cos` and a 50-bin histogram
//! update. No allocation.

use std::f32::consts::TAU;

/// Bins of the note centres' histogram over one semitone (2 cents each).
const BINS: usize = 50;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct ConcertPitchConfig {
    /// A note's estimates count only when it has at least this many.
    pub min_note_hops: u32,
    /// A note counts at most this many hops.
    pub max_note_hops: u32,
    /// Estimates moving more than this (semitones) from the previous hop are not counted.
    pub max_step: f32,
    /// The mean's memory (counted hops): older notes fade with this time constant.
    pub memory_hops: f32,
    /// Counted hops (after the fading) before the mean is trusted.
    pub min_hops: f32,
    /// Least length of the mean angle (0..1) for the note centres to agree.
    pub min_concentration: f32,
}

impl ConcertPitchConfig {
    /// Defaults for a hop of `hop_s` seconds.
    pub fn new(hop_s: f32, tuning: &super::Tuning) -> Self {
        let hops = |name: &str, default_s: f32| {
            (tuning.get(name, default_s) / hop_s.max(1e-6))
                .round()
                .max(1.0)
        };
        Self {
            min_note_hops: hops("concert_min_note_s", 0.04) as u32,
            max_note_hops: hops("concert_max_note_s", 0.5) as u32,
            max_step: tuning.get("concert_max_step", 0.1),
            memory_hops: hops("concert_memory_s", 20.0),
            min_hops: hops("concert_min_s", 0.6),
            min_concentration: tuning.get("concert_concentration", 0.7),
        }
    }
}

/// Concert-pitch stage.
#[derive(Debug, Clone)]
pub struct ConcertPitch {
    /// Settings, fixed at construction.
    config: ConcertPitchConfig,
    /// The note being measured (the tracker's), the sum of its counted estimates (fractional
    /// MIDI, absolute) and how many.
    note: Option<u8>,
    sum: f64,
    hops: u32,
    /// The previous hop's estimate (absolute MIDI; 0 when none).
    last: f32,
    /// The fading sums of the note centres' unit vectors (times their weights) and weights.
    re: f32,
    im: f32,
    weight: f32,
    /// The note centres' weights by place between two semitones (bin `b` from
    /// `−50 + 2b` cents), fading as the sums do.
    histogram: [f32; BINS],
    /// Notes counted so far.
    notes: u64,
}

impl ConcertPitch {
    pub fn new(config: ConcertPitchConfig) -> Self {
        Self {
            config,
            note: None,
            sum: 0.0,
            hops: 0,
            last: 0.0,
            re: 0.0,
            im: 0.0,
            weight: 0.0,
            histogram: [0.0; BINS],
            notes: 0,
        }
    }

    /// One hop: the note the tracker holds (if any) and the estimate (fractional MIDI on the
    /// analyser's grid, which lies `reference_cents` from A4 = 440 Hz) when it is one that may
    /// count (confident, one voice); `None` otherwise.
    pub fn hop(&mut self, note: Option<u8>, estimate: Option<f32>, reference_cents: f32) {
        if note != self.note {
            self.close();
            self.note = note;
        }
        let (Some(p), Some(m)) = (note, estimate) else {
            self.last = 0.0;
            return;
        };
        let steady = self.last > 0.0 && (m - self.last).abs() <= self.config.max_step;
        self.last = m;
        if steady && (m - f32::from(p)).abs() <= 1.0 && self.hops < self.config.max_note_hops {
            self.sum += f64::from(m + reference_cents / 100.0);
            self.hops += 1;
        }
    }

    /// The tuning heard: cents from A4 = 440 Hz, in (−50, 50], once trusted.
    pub fn cents(&self) -> Option<f32> {
        if self.weight < self.config.min_hops.max(f32::MIN_POSITIVE) {
            return None;
        }
        let length = self.re.hypot(self.im) / self.weight;
        (length >= self.config.min_concentration)
            .then(|| 100.0 * self.im.atan2(self.re) / TAU)
            .map(|c| if c <= -50.0 { c + 100.0 } else { c })
    }

    /// Notes counted so far (a new one means a new answer).
    pub fn notes(&self) -> u64 {
        self.notes
    }

    /// Enough notes have counted for [`ConcertPitch::cents`] to answer (whether or not they
    /// agree).
    pub fn is_heard(&self) -> bool {
        self.weight >= self.config.min_hops.max(f32::MIN_POSITIVE)
    }

    /// The share of the notes heard (by weight) that moving the grid from `from` to `to`
    /// cents would name another semitone although they lie within `settled` cents of `from`'s
    /// grid: notes that grid names without doubt. An accordion's reeds tuned apart put some
    /// notes 28 cents under the grid and most 35 over: their mean, 40 over, would rename the
    /// first. A true change of tuning renames only notes that were near the edge already.
    pub fn renamed_share(&self, from: f32, to: f32, settled: f32) -> f32 {
        if self.weight <= 0.0 {
            return 0.0;
        }
        let mut renamed = 0.0;
        for (b, &w) in self.histogram.iter().enumerate() {
            let centre = -50.0 + (b as f32 + 0.5) * (100.0 / BINS as f32);
            let named = |grid: f32| ((centre - grid) / 100.0).round();
            if named(from) != named(to) && fold_cents(centre - from).abs() < settled {
                renamed += w;
            }
        }
        renamed / self.weight
    }

    /// Forgets the note being measured (the stream restarts); what was heard of the tuning is
    /// kept (it belongs to the instrument).
    pub fn restart(&mut self) {
        self.note = None;
        self.sum = 0.0;
        self.hops = 0;
        self.last = 0.0;
    }

    /// Counts the note being measured, if it has enough estimates.
    fn close(&mut self) {
        if self.hops >= self.config.min_note_hops.max(1) {
            let centre = self.sum / f64::from(self.hops);
            let turn = (centre - centre.round()) as f32;
            let w = self.hops as f32;
            let fade = (-w / self.config.memory_hops.max(1.0)).exp();
            let (sin, cos) = (TAU * turn).sin_cos();
            self.re = self.re * fade + w * cos;
            self.im = self.im * fade + w * sin;
            self.weight = self.weight * fade + w;
            self.histogram.iter_mut().for_each(|h| *h *= fade);
            let bin = (((turn + 0.5) * BINS as f32) as usize).min(BINS - 1);
            if let Some(h) = self.histogram.get_mut(bin) {
                *h += w;
            }
            self.notes += 1;
        }
        self.sum = 0.0;
        self.hops = 0;
        self.last = 0.0;
    }
}

/// `cents` folded into (−50, 50]: the same place between two semitones.
pub fn fold_cents(cents: f32) -> f32 {
    let c = cents - 100.0 * (cents / 100.0).round();
    if c <= -50.0 {
        c + 100.0
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> ConcertPitch {
        ConcertPitch::new(ConcertPitchConfig::new(
            0.003,
            &super::super::Tuning::default(),
        ))
    }

    /// Plays `notes` (MIDI, each `hops` long) `cents` off, with a vibrato of `depth`
    /// semitones over `period` hops, and returns the tuning heard.
    fn play(s: &mut ConcertPitch, notes: &[u8], cents: f32, depth: f32, hops: u32) {
        for &n in notes {
            for h in 0..hops {
                let vib = depth * (TAU * h as f32 / 60.0).sin();
                let m = f32::from(n) + cents / 100.0 + vib;
                s.hop(Some(n), Some(m), 0.0);
            }
            s.hop(None, None, 0.0);
        }
    }

    #[test]
    fn finds_the_tuning_of_a_melody_despite_vibrato() {
        let melody = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60];
        for cents in [-45.0, -32.0, -12.0, 0.0, 20.0, 40.0] {
            for depth in [0.0, 0.3, 0.5] {
                let mut s = stage();
                play(&mut s, &melody, cents, depth, 120);
                let heard = s.cents().expect("trusted after 15 notes of 0.36 s");
                assert!(
                    fold_cents(heard - cents).abs() < 2.0,
                    "{cents} cents, vibrato {depth}: heard {heard}"
                );
            }
        }
    }

    #[test]
    fn short_notes_glides_and_scattered_notes_are_not_trusted() {
        // Two hops a note: none counts.
        let mut s = stage();
        play(&mut s, &[60; 200], -30.0, 0.0, 2);
        assert_eq!(s.cents(), None);
        // A glide all the way: no steady estimate.
        let mut s = stage();
        for h in 0..2000 {
            let m = 60.0 + h as f32 * 0.2;
            s.hop(Some(60), Some(m), 0.0);
        }
        s.hop(None, None, 0.0);
        assert_eq!(s.cents(), None);
        // Notes a quarter tone either way of the grid in turn: no tuning.
        let mut s = stage();
        for (i, n) in [60u8, 62, 64, 65, 67, 69, 71, 72]
            .iter()
            .cycle()
            .take(40)
            .enumerate()
        {
            let off = if i % 2 == 0 { 0.25 } else { -0.25 };
            play(&mut s, &[*n], off * 100.0, 0.0, 100);
        }
        assert_eq!(s.cents(), None, "scattered centres agree on nothing");
    }

    #[test]
    fn a_new_tuning_replaces_the_old_one() {
        let melody = [60, 62, 64, 65, 67, 65, 64, 62];
        let mut s = stage();
        for _ in 0..4 {
            play(&mut s, &melody, 0.0, 0.2, 120);
        }
        assert!(s.cents().is_some_and(|c| c.abs() < 2.0));
        // The player retunes 30 cents flat: after 58 s of it, the old tuning has faded.
        for _ in 0..20 {
            play(&mut s, &melody, -30.0, 0.2, 120);
        }
        let heard = s.cents().expect("trusted");
        assert!((heard + 30.0).abs() < 3.0, "{heard}");
    }

    #[test]
    fn a_move_that_renames_settled_notes_is_seen() {
        // An accordion whose reeds are tuned apart: most notes 40 cents sharp, one in six 28
        // cents flat.
        let mut s = stage();
        for i in 0..42 {
            let cents = if i % 6 == 0 { -28.0 } else { 40.0 };
            play(&mut s, &[60 + (i % 7) as u8], cents, 0.0, 100);
        }
        let heard = s.cents().expect("the sharp notes dominate the mean");
        assert!(heard > 20.0, "{heard}");
        // Moving 440's grid to it would name the flat notes a semitone lower.
        let renamed = s.renamed_share(0.0, heard, 40.0);
        assert!((0.1..0.25).contains(&renamed), "{renamed}");
        // A guitar tuned 35 cents flat: the same move renames nothing.
        let mut s = stage();
        play(&mut s, &[60, 62, 64, 65, 67, 69, 71, 72], -35.0, 0.2, 120);
        assert!(s.renamed_share(0.0, -35.0, 40.0) < 0.01);
        // Nor does a tuning right on the edge of two semitones (notes on either side).
        let mut s = stage();
        for i in 0..16 {
            let cents = if i % 2 == 0 { -46.0 } else { -54.0 };
            play(&mut s, &[60 + (i % 5) as u8], cents, 0.0, 100);
        }
        assert!(s.renamed_share(0.0, -50.0, 40.0) < 0.01);
    }

    #[test]
    fn folds_cents_onto_one_semitone() {
        assert_eq!(fold_cents(0.0), 0.0);
        assert!((fold_cents(-130.0) + 30.0).abs() < 1e-4);
        assert!((fold_cents(70.0) + 30.0).abs() < 1e-4);
        assert_eq!(fold_cents(-50.0), 50.0);
        assert_eq!(fold_cents(50.0), 50.0);
    }
}
