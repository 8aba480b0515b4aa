//! MODEL THREAD: the player's tempo and beat, heard from the onsets of their notes, for *free
//! time* — when the host's transport is stopped or the host sends no tempo, the audio thread's
//! beat clock follows this estimate (the *Tempo when stopped* parameter: *Follow me*).
//!
//! The estimate looks at the newest [`MAX_ONSETS`] onsets (stream samples, from the player
//! notes' stamps), the newer weighted more (a half-life of [`HALF_LIFE_S`], so a tempo change is
//! followed within a phrase):
//! 1. **Tempo.** Every pair of onsets votes for the beat periods it is a whole multiple of (1 to
//!    4 beats, within a tolerance for a human's timing). Faster subdivisions would always fit,
//!    so a preference for moderate tempi (a log-normal around [`PREFERRED_BPM`]) and, once
//!    locked, for the tempo in use, choose the level of the beat. The best period is refined by
//!    least squares on the pairs that voted for it.
//! 2. **Beat.** The phase that puts the most weight on beats: notes that last longer (an agogic
//!    accent) and louder notes weigh more; half-beats and triplet beats count a little.
//! 3. **Confidence.** The weighted share of onsets on the estimated grid of eighths (or of
//!    triplets, whichever fits better), with a tighter tolerance than the search. An estimate is
//!    published from [`MIN_ONSETS`] onsets on, when it and the one before reach
//!    [`MIN_CONFIDENCE`] and agree on the tempo; a later unsure estimate keeps the last one.
//!
//! It is published to the audio thread as one atomic word ([`pack`]), never through a lock.

use std::collections::VecDeque;

/// Onsets the estimate looks at (newest).
pub const MAX_ONSETS: usize = 24;
/// Onsets heard before an estimate is published.
pub const MIN_ONSETS: usize = 8;
/// Confidence needed to publish an estimate.
pub const MIN_CONFIDENCE: f64 = 0.8;
/// An onset's weight halves every this many seconds before the newest.
const HALF_LIFE_S: f64 = 6.0;
/// Two estimates agree when their tempi are within this ratio.
const AGREEMENT: f64 = 0.04;
/// Onsets older than this (seconds before the newest) are left out.
const MEMORY_S: f64 = 20.0;
/// Tempi considered (bpm).
pub const SLOWEST_BPM: f64 = 40.0;
pub const FASTEST_BPM: f64 = 240.0;
/// The tempo a listener most readily taps to; the preference's width in octaves.
pub const PREFERRED_BPM: f64 = 110.0;
pub const PREFERENCE_OCTAVES: f64 = 0.8;
/// Weight of the preference for the tempo in use (once locked), and its width (log). It favours
/// the tempo's double and half as much: they keep its grid lines, and which level is the beat is
/// chosen as for a first estimate (the demo's tune at 103 bpm opens with four sixteenths and four
/// eighths, heard at 206 until its quarters come; held to 206, its answer came in notes twice as
/// fast as the tune's).
const CONTINUITY: f64 = 1.0;
const CONTINUITY_WIDTH: f64 = 0.05;
/// Steps of the tempo search (ratio between neighbouring candidates).
const STEP: f64 = 1.01;
/// Pairs further apart than this many beats do not vote.
const MAX_MULTIPLE: f64 = 4.0;

/// One estimate of the player's tempo and beat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TempoEstimate {
    /// Beats per minute.
    pub bpm: f64,
    /// A beat (stream seconds): the beat nearest the newest onset.
    pub beat_s: f64,
    /// 0..1: the weighted share of onsets on the estimated grid.
    pub confidence: f64,
}

/// Timing tolerance of a human player at beat period `period` (seconds).
fn tolerance(period: f64) -> f64 {
    (0.07 * period).clamp(0.03, 0.06)
}

/// The estimator's tunable choices (the defaults are what the plugin uses; `continuo eval-tempo
/// --set` tries others on the development split).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Centre of the tempo preference (bpm).
    pub preferred_bpm: f64,
    /// Width of the tempo preference (octaves).
    pub preference_octaves: f64,
    /// How a pair `k` beats apart votes: `1 / k^lag_decay` (0: all alike).
    pub lag_decay: f64,
    /// How much longer notes weigh for the beat: `(0.5 + beats to the next onset)^agogic`.
    pub agogic: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            preferred_bpm: PREFERRED_BPM,
            preference_octaves: PREFERENCE_OCTAVES,
            lag_decay: LAG_DECAY,
            agogic: AGOGIC,
        }
    }
}

/// Weight of a note's length for the beat (see [`Tuning::agogic`]).
pub const AGOGIC: f64 = 1.0;
/// A pair `k` beats apart votes `1 / k^LAG_DECAY`: 0, every multiple alike (on the dev split,
/// 0 gave 75 % exact-or-octave against 71 % with 1, which favours pairs one beat apart).
pub const LAG_DECAY: f64 = 0.0;

/// The tempo and beat of `onsets` (seconds, any order; `velocities` 0..1 alongside, or empty),
/// preferring `current` bpm when given. `None` with fewer than two onsets.
pub fn estimate(onsets: &[f64], velocities: &[f32], current: Option<f64>) -> Option<TempoEstimate> {
    estimate_with(&Tuning::default(), onsets, velocities, current)
}

/// [`estimate`] with other tuning.
pub fn estimate_with(
    tuning: &Tuning,
    onsets: &[f64],
    velocities: &[f32],
    current: Option<f64>,
) -> Option<TempoEstimate> {
    let mut notes: Vec<(f64, f64)> = onsets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_finite())
        .map(|(i, &t)| (t, velocities.get(i).map_or(1.0, |&v| v as f64)))
        .collect();
    notes.sort_by(|a, b| a.0.total_cmp(&b.0));
    notes.dedup_by(|b, a| b.0 - a.0 < 0.02);
    let newest = notes.last()?.0;
    notes.retain(|n| newest - n.0 <= MEMORY_S);
    if notes.len() > MAX_ONSETS {
        notes.drain(..notes.len() - MAX_ONSETS);
    }
    if notes.len() < 2 {
        return None;
    }
    let times: Vec<f64> = notes.iter().map(|n| n.0).collect();
    let recency: Vec<f64> = times
        .iter()
        .map(|t| 0.5f64.powf((newest - t) / HALF_LIFE_S))
        .collect();
    let period = best_period(tuning, &times, &recency, current)?;
    let (mut beat_s, _) = best_beat(tuning, &notes, &recency, period);
    // Over the whole span: the onsets' places on the grid (nearest half or third of a beat),
    // fitted by a line whose slope is the period (pairs a few beats apart only see the jitter).
    let period = refine(&times, &recency, period, beat_s);
    let confidence;
    (beat_s, confidence) = best_beat(tuning, &notes, &recency, period);
    Some(TempoEstimate {
        bpm: 60.0 / period,
        beat_s,
        confidence,
    })
}

/// The beat period (seconds) the onset pairs vote for most, with the tempo preferences.
fn best_period(
    tuning: &Tuning,
    times: &[f64],
    recency: &[f64],
    current: Option<f64>,
) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = (0..times.len())
        .flat_map(|i| (i + 1..times.len()).map(move |j| (i, j)))
        .map(|(i, j)| (times[j] - times[i], recency[i] * recency[j]))
        .filter(|(d, _)| *d <= MAX_MULTIPLE * 60.0 / SLOWEST_BPM + 0.1)
        .collect();
    let vote = |period: f64| -> f64 {
        let tol = tolerance(period);
        let mut score = 0.0;
        for &(d, w) in &pairs {
            let k = (d / period).round();
            if (1.0..=MAX_MULTIPLE).contains(&k) {
                let e = (d - k * period) / tol;
                if e.abs() < 1.0 {
                    score += w * (1.0 - e * e) / k.powf(tuning.lag_decay);
                }
            }
        }
        score
    };
    let preference = |period: f64| -> f64 {
        let octaves = (60.0 / period / tuning.preferred_bpm).log2() / tuning.preference_octaves;
        let mut p = (-0.5 * octaves * octaves).exp();
        if let Some(c) = current.filter(|c| c.is_finite() && *c > 0.0) {
            // The tempo in use, its double or its half: whichever is nearest.
            let octaves = (60.0 / period / c).log2();
            let l = (octaves - octaves.round().clamp(-1.0, 1.0)) * std::f64::consts::LN_2
                / CONTINUITY_WIDTH;
            p *= 1.0 + CONTINUITY * (-0.5 * l * l).exp();
        }
        p
    };
    let mut best: Option<(f64, f64)> = None;
    let mut period = 60.0 / FASTEST_BPM;
    while period <= 60.0 / SLOWEST_BPM {
        let score = vote(period) * preference(period);
        if score > best.map_or(0.0, |b| b.1) {
            best = Some((period, score));
        }
        period *= STEP;
    }
    let (p0, _) = best?;
    // Least squares on the pairs that voted for it: d ≈ k·P.
    let tol = tolerance(p0);
    let (mut num, mut den) = (0.0, 0.0);
    for &(d, w) in &pairs {
        let k = (d / p0).round();
        if (1.0..=MAX_MULTIPLE).contains(&k) && (d - k * p0).abs() < tol {
            num += w * d * k;
            den += w * k * k;
        }
    }
    let p = if den > 0.0 { num / den } else { p0 };
    Some(p.clamp(60.0 / FASTEST_BPM, 60.0 / SLOWEST_BPM))
}

/// The period that best fits the onsets near the grid of `period` through `beat_s` (weighted
/// least squares of onset time on grid position, in beats; half and third beats count).
fn refine(times: &[f64], weights: &[f64], period: f64, beat_s: f64) -> f64 {
    let tol = tolerance(period);
    let mut points = vec![];
    for (&t, &w) in times.iter().zip(weights) {
        let x = (t - beat_s) / period;
        let place = [2.0, 3.0]
            .iter()
            .map(|d| (x * d).round() / d)
            .min_by(|a, b| (x - a).abs().total_cmp(&(x - b).abs()))
            .unwrap_or(x);
        if ((x - place) * period).abs() < tol {
            points.push((place, t, w));
        }
    }
    let sw: f64 = points.iter().map(|p| p.2).sum();
    if points.len() < 3 || sw <= 0.0 {
        return period;
    }
    let mx = points.iter().map(|p| p.2 * p.0).sum::<f64>() / sw;
    let mt = points.iter().map(|p| p.2 * p.1).sum::<f64>() / sw;
    let sxx: f64 = points.iter().map(|p| p.2 * (p.0 - mx) * (p.0 - mx)).sum();
    let sxt: f64 = points.iter().map(|p| p.2 * (p.0 - mx) * (p.1 - mt)).sum();
    let fitted = if sxx > 1e-9 { sxt / sxx } else { period };
    if fitted.is_finite() && (fitted / period - 1.0).abs() < 0.05 {
        fitted.clamp(60.0 / FASTEST_BPM, 60.0 / SLOWEST_BPM)
    } else {
        period
    }
}

/// The beat (a beat time near the newest onset) and the confidence, for `period`.
fn best_beat(tuning: &Tuning, notes: &[(f64, f64)], recency: &[f64], period: f64) -> (f64, f64) {
    let tol = tolerance(period) / period;
    let mean_velocity = (notes.iter().map(|n| n.1).sum::<f64>() / notes.len() as f64).max(1e-6);
    // Salience: recent, long (time to the next onset, up to two beats) and loud notes.
    let salience: Vec<f64> = (0..notes.len())
        .map(|i| {
            let ioi = notes
                .get(i + 1)
                .map_or(1.0, |n| ((n.0 - notes[i].0) / period).min(2.0));
            let loud = (notes[i].1 / mean_velocity).clamp(0.5, 1.5);
            recency[i] * (0.5 + ioi).powf(tuning.agogic) * loud
        })
        .collect();
    let origin = notes[0].0;
    let position = |t: f64, phase: f64| ((t - origin) / period - phase).rem_euclid(1.0);
    let near = |x: f64, target: f64| (x - target).abs() < tol;
    // The confidence asks for tighter timing than the search.
    let strict = (0.055 * period).clamp(0.025, 0.045) / period;
    let on_grid = |x: f64, step: f64| {
        let r = x / step;
        (r - r.round()).abs() * step < strict
    };
    // Phases in 1/96 beat steps: the one with the most salient weight on beats.
    let mut best = (0.0, f64::NEG_INFINITY);
    for s in 0..96 {
        let phase = s as f64 / 96.0;
        let mut score = 0.0;
        for (i, n) in notes.iter().enumerate() {
            let x = position(n.0, phase);
            score += salience[i]
                * if near(x, 0.0) || near(x, 1.0) {
                    1.0
                } else if near(x, 0.5) {
                    0.35
                } else if near(x, 1.0 / 3.0) || near(x, 2.0 / 3.0) {
                    0.3
                } else {
                    0.0
                };
        }
        if score > best.1 {
            best = (phase, score);
        }
    }
    // Refine: the mean deviation of the onsets on the beat.
    let (mut dev, mut w) = (0.0, 0.0);
    for (i, n) in notes.iter().enumerate() {
        let x = position(n.0, best.0);
        let d = if x > 0.5 { x - 1.0 } else { x };
        if d.abs() < tol {
            dev += salience[i] * d;
            w += salience[i];
        }
    }
    let phase = best.0 + if w > 0.0 { dev / w } else { 0.0 };
    let weight: f64 = recency.iter().sum::<f64>().max(1e-12);
    let share = |step: f64| {
        notes
            .iter()
            .enumerate()
            .filter(|(_, n)| on_grid(position(n.0, phase), step))
            .map(|(i, _)| recency[i])
            .sum::<f64>()
            / weight
    };
    let confidence = share(0.5).max(share(1.0 / 3.0));
    let newest = notes[notes.len() - 1].0;
    let k = ((newest - origin) / period - phase).round();
    (origin + (k + phase) * period, confidence)
}

/// The model thread's estimator: the newest onsets and the estimate in force.
#[derive(Debug, Clone, Default)]
pub struct TempoFollower {
    /// (stream seconds, velocity 0..1) of the newest onsets; bounded by [`MAX_ONSETS`].
    onsets: VecDeque<(f64, f32)>,
    /// The estimate published (the last confident one), `None` until there is one.
    pub locked: Option<TempoEstimate>,
    /// The latest estimate, confident or not (for the editor).
    pub latest: Option<TempoEstimate>,
    /// The estimator's choices (the defaults, except in `continuo eval-tempo --set`).
    pub tuning: Tuning,
}

impl TempoFollower {
    /// A follower with other tuning (`continuo eval-tempo --set`).
    pub fn with_tuning(tuning: Tuning) -> Self {
        Self {
            tuning,
            ..Default::default()
        }
    }

    /// A player's onset at `seconds` (stream time). Returns whether the published estimate
    /// changed.
    pub fn onset(&mut self, seconds: f64, velocity: f32) -> bool {
        if !seconds.is_finite() {
            return false;
        }
        // Onsets come in stream order; one from before the newest means the clock restarted.
        if self.onsets.back().is_some_and(|&(t, _)| seconds + 1.0 < t) {
            self.reset();
        }
        self.onsets.push_back((seconds, velocity));
        while self.onsets.len() > MAX_ONSETS {
            self.onsets.pop_front();
        }
        if self.onsets.len() < MIN_ONSETS {
            return false;
        }
        let (times, velocities): (Vec<f64>, Vec<f32>) = self.onsets.iter().copied().unzip();
        let previous = self.latest;
        self.latest = estimate_with(
            &self.tuning,
            &times,
            &velocities,
            self.locked.map(|e| e.bpm),
        );
        let sure = |e: Option<TempoEstimate>| e.filter(|e| e.confidence >= MIN_CONFIDENCE);
        match (sure(previous), sure(self.latest)) {
            // Two sure estimates in a row that agree (a chance fit of a few onsets rarely lasts).
            (Some(a), Some(e)) if (e.bpm / a.bpm - 1.0).abs() < AGREEMENT => {
                self.locked = Some(e);
                true
            }
            _ => false,
        }
    }

    /// Forgets everything (the stream clock restarted).
    pub fn reset(&mut self) {
        self.onsets.clear();
        self.locked = None;
        self.latest = None;
    }
}

/// Bits of the packed word that hold the beat's stream sample (the rest: tempo in mbpm).
const SAMPLE_BITS: u32 = 40;
const SAMPLE_MASK: u64 = (1 << SAMPLE_BITS) - 1;

/// An estimate as one word for the audio thread: the tempo in thousandths of a bpm (24 bits)
/// and the stream sample of a beat (the low 40 bits, wrapping). 0 means none.
pub fn pack(bpm: f64, beat_sample: u64) -> u64 {
    let mbpm = (bpm * 1000.0).round().clamp(1.0, ((1u64 << 24) - 1) as f64) as u64;
    (mbpm << SAMPLE_BITS) | (beat_sample & SAMPLE_MASK)
}

/// The tempo (bpm) and a beat's stream sample from a packed word, the sample placed within
/// 2^39 samples of `now` (`None` for 0). No allocation (the audio thread calls it).
pub fn unpack(word: u64, now: u64) -> Option<(f64, i64)> {
    if word == 0 {
        return None;
    }
    let bpm = (word >> SAMPLE_BITS) as f64 / 1000.0;
    let low = (word & SAMPLE_MASK) as i64;
    let now = now as i64;
    let base = now & !(SAMPLE_MASK as i64);
    let mut sample = base | low;
    let half = 1i64 << (SAMPLE_BITS - 1);
    if sample > now + half {
        sample -= 1 << SAMPLE_BITS;
    } else if sample < now - half {
        sample += 1 << SAMPLE_BITS;
    }
    Some((bpm, sample))
}
