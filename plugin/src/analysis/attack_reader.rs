//! Reading the pitch of an attack (AUDIO THREAD): a small learned classifier that names the new
//! note in the first hops after an onset, before any window holds enough periods of it.
//!
//! After a struck or plucked attack the pitch estimate (NSDF on the ¼, ½ and long frames) names
//! the new note on about a fifth of the first hops after the onset detector fired, a third of
//! the second and half of the third: the first 10–15 ms of a pluck are not periodic enough
//! beside the old note's ring. The tracker waits for a stable run of estimates, and the
//! struck/plucked/synth NoteOns come about 28 ms after the written onset. Yet the attack's
//! partials are there: this stage compares, for every candidate note (MIDI 28–100), the energy
//! at each of its six first harmonics now with the same energy two hops before the onset fired,
//! in the long frame (the salience stage's partials) and in the short frame the onset detector
//! reads (the last ≈ 10 ms: the new note's share of it is largest), with the same measures of
//! the candidate's neighbours (a semitone, a fifth, octaves away), what the estimate says and
//! which note was sounding. One small network ([`HIDDEN`] tanh units, the same weights for
//! every candidate) gives each candidate a score; a softmax over the candidates and a "none of
//! them" score says how sure it is. Two habits of the stream join each candidate's measures
//! (the tracker's share of attacks that settled off their first reading, the judge's running
//! mean of the attacks' sharpness): renders that glide into their notes from a semitone below
//! sound the wrong semitone at the attack. From the onset's hop to [`HOPS`] − 1 hops after it,
//! a candidate at [`AttackReaderConfig::threshold`] or more is reported; the tracker starts it
//! at once.
//!
//! The weights (`attack_reader_weights.rs`) were fitted by the numpy scripts in
//! `tools/attack-reader/` on probe dumps (`continuo eval-transcription DIR --probe-attacks FILE
//! --set attack_threshold=2`) of development-split renders only: dev's 214 (its held-out fifth
//! of melodies left out), 600 more renders of dev melodies (`cargo xtask render-dataset --out
//! /tmp/jx --count 300 --seed 2027 --programs …`, and `/tmp/jz` with `--seed 2029`) and 192
//! renders of dev-split melodies that dev does not hold (the `dev/` renders of `cargo xtask
//! render-dataset --out /tmp/jt --count 400 --seed 77` whose melody is not in dev), 54,131
//! onsets; labels: the written note that began 10 ms after to 50 ms before the onset fired, or
//! none. Refit when the stages before it or the tracker's habits change (last refit on
//! 2026-12-05, after the reader's hold and the soft-onset dating had changed; see
//! `docs/transcription-journal.md`), and choose the threshold again on renders it never saw. Twelve
//! hops rather than six: a steel guitar's or an organ's run of estimates starts 18–26 ms after its
//! onset fired, and the reader answers on 37 % of the steel guitar's onsets by the sixth hop, 66 %
//! by the eighth; 32 units rather than 16 answer on 52 % of all held-out onsets by the sixth hop
//! instead of 47 %, as often right.
//!
//! Cost: one copy of the short frame's magnitudes per hop; on the [`HOPS`] hops after each onset
//! (fewer once the onset's note has started, [`AttackReader::after_tracker`])
//! about a thousand logarithms and [`CANDIDATES`] × [`HIDDEN`] tanh (both computed here, to
//! 1e-6, at a fraction of the library's cost) and [`CANDIDATES`] × [`FEATURES`] × [`HIDDEN`]
//! multiply-adds. Every buffer is allocated in `new`.

use super::attack_reader_weights as weights;
use super::loudness::FLOOR_DB;
use super::salience::Salience;
use crate::music::midi_to_hz;

/// Lowest candidate note.
pub const LOW_MIDI: u8 = 28;
/// Number of candidate notes (MIDI 28–100).
pub const CANDIDATES: usize = 73;
/// Highest candidate note.
pub const HIGH_MIDI: u8 = LOW_MIDI + (CANDIDATES - 1) as u8;
/// Harmonics read per candidate.
pub const HARMONICS: usize = 6;
/// Inputs of the network per candidate.
pub const FEATURES: usize = 63;
/// Hidden units.
pub const HIDDEN: usize = 32;
/// Hops read per onset (the onset's own hop and the next ones).
pub const HOPS: u32 = 12;
/// The reference is the hop this many hops before the onset fired.
const REFERENCE_BACK: usize = 2;
/// Neighbours whose measures join a candidate's (semitones away).
const NEIGHBOURS: [i32; 8] = [-12, -7, -1, 1, 7, 12, 19, 24];
/// A neighbour beyond the candidates reads as this (a level 60 dB down).
const OUTSIDE: f32 = -3.0;
/// The floor of a magnitude before its logarithm (−120 dB).
const MAG_FLOOR: f32 = 1e-6;
/// The floor of a power before its logarithm (−120 dB), as `loudness::power_to_db` floors it.
const POWER_FLOOR: f32 = 1e-12;

/// Whether a reader with this [`AttackReaderConfig::threshold`] reads at all (over 1 it is off).
pub fn reads_at(threshold: f32) -> bool {
    threshold <= 1.0
}

/// The network, one set of weights for every candidate.
#[derive(Debug, Clone, Copy)]
pub struct Network {
    /// `FEATURES × HIDDEN`, feature-major.
    pub hidden: [[f32; HIDDEN]; FEATURES],
    pub hidden_bias: [f32; HIDDEN],
    pub output: [f32; HIDDEN],
    /// The score of "none of the candidates".
    pub none: f32,
}

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct AttackReaderConfig {
    pub sample_rate: f32,
    /// Length of the short frame whose magnitudes [`AttackReader::push_short`] gets.
    pub short_len: usize,
    /// Number of those magnitudes (bins 0 …).
    pub short_bins: usize,
    /// A candidate this likely is reported; above 1 the stage is off.
    pub threshold: f32,
}

/// What the reader says on a hop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackReading {
    pub pitch: u8,
    pub probability: f32,
}

/// For each candidate and harmonic, the short-frame bin below its frequency and the weight of
/// the bin above, for a concert pitch `grid` semitones from A4 = 440 Hz.
fn fill_short_at(short_at: &mut [(usize, f32)], bin_hz: f32, grid: f32) {
    for (i, slot) in short_at.iter_mut().enumerate() {
        let (c, h) = (i / HARMONICS, i % HARMONICS + 1);
        let x = midi_to_hz(f32::from(LOW_MIDI) + c as f32 + grid) * h as f32 / bin_hz.max(1e-3);
        *slot = (x.floor() as usize, x - x.floor());
    }
}

/// The stage.
pub struct AttackReader {
    config: AttackReaderConfig,
    network: Network,
    /// For each candidate and harmonic, the short-frame bin below its frequency and the weight
    /// of the bin above (linear interpolation); computed in `new`.
    short_at: Vec<(usize, f32)>,
    /// The short frame's magnitudes of the last `REFERENCE_BACK + 1` hops, allocated in `new`.
    short_ring: Vec<f32>,
    /// Slot of the newest row of `short_ring`.
    ring_newest: usize,
    /// Rows pushed since reset (saturating).
    ring_filled: usize,
    /// Per candidate and harmonic (dB): the long and short frames' partials at the reference
    /// hop, set when an onset fires.
    ref_long: Vec<f32>,
    ref_short: Vec<f32>,
    /// The same, summed over the harmonics, per candidate.
    ref_long_sum: Vec<f32>,
    ref_short_sum: Vec<f32>,
    /// This hop's partials (scratch).
    now_long: Vec<f32>,
    now_short: Vec<f32>,
    /// Per candidate (scratch): normalised levels and rises summed over the harmonics.
    long_sum: Vec<f32>,
    short_sum: Vec<f32>,
    short_rise: Vec<f32>,
    /// `CANDIDATES × FEATURES` (scratch; read by the fitting command).
    features: Vec<f32>,
    /// Hops since the onset fired (`u32::MAX`: none yet).
    since_onset: u32,
    /// The short frame's bin width (Hz), for `retune`.
    short_bin_hz: f32,
    /// The note sounding when the onset fired.
    sounding: Option<u8>,
}

impl AttackReader {
    pub fn new(config: AttackReaderConfig) -> Self {
        Self::with_network(config, weights::network())
    }

    pub fn with_network(config: AttackReaderConfig, network: Network) -> Self {
        let bin_hz = config.sample_rate / config.short_len.max(1) as f32;
        let mut short_at = vec![(0, 0.0); CANDIDATES * HARMONICS];
        fill_short_at(&mut short_at, bin_hz, 0.0);
        let n = CANDIDATES * HARMONICS;
        Self {
            config,
            network,
            short_at,
            short_ring: vec![0.0; (REFERENCE_BACK + 1) * config.short_bins],
            ring_newest: 0,
            ring_filled: 0,
            ref_long: vec![0.0; n],
            ref_short: vec![0.0; n],
            ref_long_sum: vec![0.0; CANDIDATES],
            ref_short_sum: vec![0.0; CANDIDATES],
            now_long: vec![0.0; n],
            now_short: vec![0.0; n],
            long_sum: vec![0.0; CANDIDATES],
            short_sum: vec![0.0; CANDIDATES],
            short_rise: vec![0.0; CANDIDATES],
            features: vec![0.0; CANDIDATES * FEATURES],
            since_onset: u32::MAX,
            short_bin_hz: bin_hz,
            sounding: None,
        }
    }

    /// Whether the stage reads at all.
    pub fn enabled(&self) -> bool {
        reads_at(self.config.threshold)
    }

    /// Every hop: the short frame's magnitudes (bin 0 first, as the onset detector reads them).
    pub fn push_short(&mut self, mags: &[f32]) {
        let bins = self.config.short_bins;
        let rows = REFERENCE_BACK + 1;
        self.ring_newest = (self.ring_newest + 1) % rows;
        self.ring_filled = (self.ring_filled + 1).min(rows);
        if let Some(row) = self
            .short_ring
            .get_mut(self.ring_newest * bins..(self.ring_newest + 1) * bins)
        {
            for (slot, m) in row
                .iter_mut()
                .zip(mags.iter().chain(std::iter::repeat(&0.0)))
            {
                *slot = *m;
            }
        }
    }

    /// Every hop, after the salience stage: `onset` fired on this hop, `sounding` is the
    /// tracker's note before this hop, `midi`/`confidence` the estimate it will get. Returns the
    /// candidate read at the threshold or more, on the hops after an onset.
    pub fn process(
        &mut self,
        onset: bool,
        sounding: Option<u8>,
        midi: f32,
        confidence: f32,
        habits: [f32; 2],
        salience: &Salience,
    ) -> Option<AttackReading> {
        if !self.enabled() {
            return None;
        }
        if onset {
            self.since_onset = 0;
            self.sounding = sounding;
            self.read_reference(salience);
        } else {
            self.since_onset = self.since_onset.saturating_add(1);
        }
        if self.since_onset >= HOPS {
            return None;
        }
        self.read_features(midi, confidence, habits, salience);
        let (best, probability) = self.classify();
        (best < CANDIDATES && probability >= self.config.threshold).then(|| AttackReading {
            pitch: LOW_MIDI + best as u8,
            probability,
        })
    }

    /// After the tracker's hop: once a note other than the one sounding at the onset has
    /// started (this stage's or the onset path's), the rest of this onset's hops are not read
    /// (a later reading could only name that note, or rarely overrule it; the notes of dev's
    /// held-out fifth and of 200 other renders were the same): the stage's instructions on
    /// three files of `../shared/audio` fell by 28 %.
    pub fn after_tracker(&mut self, active: Option<u8>) {
        if self.since_onset < HOPS && active.is_some() && active != self.sounding {
            self.since_onset = HOPS;
        }
    }

    /// Forgets the signal.
    /// Reads the candidates in a concert pitch `grid` semitones from A4 = 440 Hz (their bins
    /// made again in place; no allocation).
    pub fn retune(&mut self, grid: f32) {
        fill_short_at(&mut self.short_at, self.short_bin_hz, grid);
    }

    pub fn reset(&mut self) {
        self.short_ring.fill(0.0);
        self.ring_filled = 0;
        self.since_onset = u32::MAX;
        self.sounding = None;
    }

    /// The last hop's features, `CANDIDATES × FEATURES` (for fitting), and the hop's index
    /// after the onset; `None` outside the hops read.
    pub fn last_features(&self) -> Option<(u32, &[f32])> {
        (self.enabled() && self.since_onset < HOPS).then_some((self.since_onset, &self.features))
    }

    /// The reference hop's partials, when the onset fires.
    fn read_reference(&mut self, salience: &Salience) {
        Self::long_partials(
            salience,
            REFERENCE_BACK,
            &mut self.ref_long,
            &mut self.ref_long_sum,
        );
        let bins = self.config.short_bins;
        let rows = REFERENCE_BACK + 1;
        if self.ring_filled > REFERENCE_BACK {
            let slot = (self.ring_newest + rows - REFERENCE_BACK) % rows;
            let mags = ring_row(&self.short_ring, bins, slot);
            Self::short_partials(
                mags,
                &self.short_at,
                &mut self.ref_short,
                Some(&mut self.ref_short_sum),
            );
        } else {
            self.ref_short.fill(FLOOR_DB);
            self.ref_short_sum
                .fill(db(HARMONICS as f32 * MAG_FLOOR * MAG_FLOOR + POWER_FLOOR));
        }
    }

    /// The long frame's partials (dB) `hops_ago` hops back, −120 where unknown, and per
    /// candidate their power sum (dB), from the salience stage's linear energies.
    fn long_partials(salience: &Salience, hops_ago: usize, out: &mut [f32], sums: &mut [f32]) {
        for ((c, row), sum) in out.chunks_exact_mut(HARMONICS).enumerate().zip(sums) {
            let pitch = LOW_MIDI + c as u8;
            let mut power = 0.0;
            match salience.partials(pitch, hops_ago) {
                Some(energies) => {
                    for (slot, &e) in row.iter_mut().zip(energies) {
                        let e = e.max(POWER_FLOOR);
                        *slot = db(e);
                        power += e;
                    }
                }
                None => {
                    row.fill(FLOOR_DB);
                    power = HARMONICS as f32 * POWER_FLOOR;
                }
            }
            *sum = db(power + POWER_FLOOR);
        }
    }

    /// The short frame's magnitude (dB) at each candidate's harmonics, from `mags` (the
    /// training dump, `Analyzer::attack_probe`, reads it so).
    pub fn short_partials_of(&self, mags: &[f32], out: &mut [f32]) {
        Self::short_partials(mags, &self.short_at, out, None);
    }

    /// The short frame's magnitude (dB) at each candidate's harmonics, and per candidate their
    /// power sum (dB) when `sums` is given.
    fn short_partials(
        mags: &[f32],
        at: &[(usize, f32)],
        out: &mut [f32],
        sums: Option<&mut [f32]>,
    ) {
        let mut sums = sums;
        for (c, (row, at)) in out
            .chunks_exact_mut(HARMONICS)
            .zip(at.chunks_exact(HARMONICS))
            .enumerate()
        {
            let mut power = 0.0;
            for (slot, &(i, t)) in row.iter_mut().zip(at) {
                let a = mags.get(i).copied().unwrap_or(0.0);
                let b = mags.get(i + 1).copied().unwrap_or(0.0);
                let mag = (a * (1.0 - t) + b * t).max(MAG_FLOOR);
                *slot = db(mag * mag);
                power += mag * mag;
            }
            if let Some(slot) = sums.as_deref_mut().and_then(|s| s.get_mut(c)) {
                *slot = db(power + POWER_FLOOR);
            }
        }
    }

    /// This hop's features of every candidate into `features`.
    #[allow(clippy::needless_range_loop)]
    fn read_features(&mut self, midi: f32, confidence: f32, habits: [f32; 2], salience: &Salience) {
        Self::long_partials(salience, 0, &mut self.now_long, &mut self.long_sum);
        let mags = ring_row(&self.short_ring, self.config.short_bins, self.ring_newest);
        Self::short_partials(
            mags,
            &self.short_at,
            &mut self.now_short,
            Some(&mut self.short_sum),
        );
        let long_max = self.now_long.iter().fold(f32::MIN, |a, &b| a.max(b));
        let short_max = self.now_short.iter().fold(f32::MIN, |a, &b| a.max(b));
        let long_sum_max = self.long_sum.iter().fold(f32::MIN, |a, &b| a.max(b));
        let short_sum_max = self.short_sum.iter().fold(f32::MIN, |a, &b| a.max(b));
        // Normalised sums and the short frame's rise, per candidate; the rises of the long
        // sums are read below, before their slot is overwritten.
        let mut long_rise = [0.0f32; CANDIDATES];
        for c in 0..CANDIDATES {
            long_rise[c] = rise(self.long_sum[c], self.ref_long_sum[c]);
            self.short_rise[c] = rise(self.short_sum[c], self.ref_short_sum[c]);
            self.long_sum[c] = level(self.long_sum[c], long_sum_max);
            self.short_sum[c] = level(self.short_sum[c], short_sum_max);
        }
        let estimate = (midi > 0.0).then(|| midi.round());
        let sounding = self.sounding.map(f32::from);
        let k = self.since_onset as f32 / 4.0;
        for c in 0..CANDIDATES {
            let f = &mut self.features[c * FEATURES..(c + 1) * FEATURES];
            let h0 = c * HARMONICS;
            for h in 0..HARMONICS {
                let (l, s) = (self.now_long[h0 + h], self.now_short[h0 + h]);
                f[h] = level(l, long_max);
                f[HARMONICS + h] = level(s, short_max);
                f[2 * HARMONICS + h] = rise(l, self.ref_long[h0 + h]);
                f[3 * HARMONICS + h] = rise(s, self.ref_short[h0 + h]);
            }
            let mut i = 4 * HARMONICS;
            for v in [
                self.long_sum[c],
                self.short_sum[c],
                long_rise[c],
                self.short_rise[c],
            ] {
                f[i] = v;
                i += 1;
            }
            for s in NEIGHBOURS {
                let n = c as i32 + s;
                let (l, sh, sr) = if (0..CANDIDATES as i32).contains(&n) {
                    let n = n as usize;
                    (self.long_sum[n], self.short_sum[n], self.short_rise[n])
                } else {
                    (OUTSIDE, OUTSIDE, OUTSIDE)
                };
                f[i] = l - self.long_sum[c];
                f[i + 1] = sh - self.short_sum[c];
                f[i + 2] = sr - self.short_rise[c];
                i += 3;
            }
            let m = f32::from(LOW_MIDI) + c as f32;
            let near = |d: f32| estimate.map_or(0.0, |e| if m == e + d { confidence } else { 0.0 });
            let one = |b: bool| if b { 1.0 } else { 0.0 };
            for v in [
                one(sounding == Some(m)),
                one(sounding.is_some_and(|s| (m - s).abs() <= 2.0)),
                (m - 60.0) / 24.0,
                near(0.0),
                near(12.0),
                near(-12.0),
                near(1.0) + near(-1.0),
                k,
                habits[0],
                habits[1],
                1.0,
            ] {
                f[i] = v;
                i += 1;
            }
        }
    }

    /// The likeliest candidate (`CANDIDATES` for none) and its probability.
    fn classify(&self) -> (usize, f32) {
        let mut scores = [0.0f32; CANDIDATES];
        for (c, score) in scores.iter_mut().enumerate() {
            *score = score_of(
                &self.network,
                &self.features[c * FEATURES..(c + 1) * FEATURES],
            );
        }
        let top = scores.iter().fold(self.network.none, |a, &b| a.max(b));
        let mut total = (self.network.none - top).exp();
        let mut best = (CANDIDATES, self.network.none);
        for (c, &s) in scores.iter().enumerate() {
            total += (s - top).exp();
            if s > best.1 {
                best = (c, s);
            }
        }
        (best.0, (best.1 - top).exp() / total)
    }
}

/// One candidate's score.
pub fn score_of(network: &Network, features: &[f32]) -> f32 {
    let mut hidden = network.hidden_bias;
    for (x, row) in features.iter().zip(network.hidden.iter()) {
        for (h, w) in hidden.iter_mut().zip(row) {
            *h += x * w;
        }
    }
    // The units' activations first (a loop that vectorises), then their weighted sum in
    // order (a float sum is not reordered).
    for h in hidden.iter_mut() {
        *h = tanh(*h);
    }
    hidden
        .iter()
        .zip(network.output.iter())
        .map(|(h, w)| h * w)
        .sum()
}

/// Row `slot` of the short frame's magnitude ring (`bins` wide; empty if out of range).
fn ring_row(ring: &[f32], bins: usize, slot: usize) -> &[f32] {
    ring.get(slot * bins..(slot + 1) * bins).unwrap_or(&[])
}

/// A level against the loudest, in units of 20 dB, floored at −60 dB.
fn level(db: f32, max_db: f32) -> f32 {
    (db - max_db).max(-60.0) / 20.0
}

/// A rise in units of 20 dB, clamped to −30 … +60 dB.
fn rise(now_db: f32, then_db: f32) -> f32 {
    (now_db - then_db).clamp(-30.0, 60.0) / 20.0
}

/// 10·log10 of a power (> 0, finite), to about 1e-6 dB: the stage converts a thousand partials
/// a hop, and `log10` was a third of its cost.
fn db(power: f32) -> f32 {
    super::loudness::quick_db(power)
}

/// tanh to about 2e-7 (the network's [`HIDDEN`] units on every candidate: a thousand a hop,
/// where the library's took a quarter of the stage's cost).
fn tanh(x: f32) -> f32 {
    let a = x.abs().min(9.0);
    let e = exp_neg(-2.0 * a);
    ((1.0 - e) / (1.0 + e)).copysign(x)
}

/// e^y for y in −18 … 0: 2 to the nearest integer power (exponent bits) times a Taylor
/// polynomial of 2^f for |f| ≤ ½, to about 2e-7 relative.
fn exp_neg(y: f32) -> f32 {
    let z = y.clamp(-18.0, 0.0) * std::f32::consts::LOG2_E;
    // `z.round()` for z in −26 … 0 (halves away from zero), as a truncation and a select, so
    // that the units' loop vectorises (the library's `round` is a call on baseline x86-64).
    let t = z as i32;
    let n = if z - t as f32 <= -0.5 { t - 1 } else { t };
    let g = (z - n as f32) * std::f32::consts::LN_2;
    let p = 1.0
        + g * (1.0
            + g * (0.5 + g * (1.0 / 6.0 + g * (1.0 / 24.0 + g * (1.0 / 120.0 + g / 720.0)))));
    p * f32::from_bits(((n + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_tanh_matches_the_library() {
        for i in -2000..=2000 {
            let x = i as f32 / 100.0;
            assert!(
                (tanh(x) - x.tanh()).abs() < 1e-6,
                "{x}: {} vs {}",
                tanh(x),
                x.tanh()
            );
        }
        assert_eq!(tanh(0.0), 0.0);
        assert!(tanh(f32::NAN).is_finite());
    }
}
