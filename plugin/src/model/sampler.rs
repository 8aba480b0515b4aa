//! Drawing phrases from a predictor: temperature, top-k / top-p, scale lock, pitch range, length in
//! notes or beats, note density, several candidates ranked by likelihood; deterministic per seed.
//!
//! Two things make answers less safe than the model's most likely line, as a composer's are:
//! a pitch that would repeat one of the context's 4-interval patterns is made less likely by
//! `copy_penalty` (an answer answers the call, it does not echo it), and a planned phrase
//! ([`super::phrase`]) has its rhythm laid out in whole bars, ending with a closing note on the
//! last strong beat on the tonic, third or fifth of the key.

use super::note::{phase_class, rhythm_class, Event, N_RHYTHM, RHYTHM_BEATS};
use super::phrase::{fillable_table, grid_classes, nearest_classes, Layout, UNITS_PER_BEAT};
use super::predictor::{fast_exp2, fast_log2, Prediction, Predictor};
use super::viewpoints::History;
use super::{Note, Phrase, SamplerSettings};
use crate::music::{KeySignature, Mode};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Duration of a drawn note as a share of its rhythm class: 1, the notated value. How long it
/// sounds is the performance stage's business (`worker/perform.rs`).
pub const ARTICULATION: f64 = 1.0;
/// How strongly `density` tilts the rhythm distribution (log2 units per octave of length).
const DENSITY_TILT: f64 = 3.0;
/// At most this many notes per phrase, whatever the settings say.
pub const MAX_PHRASE_NOTES: usize = 256;

/// With `SamplerSettings::call_rhythm_cap`, an inner note may always last this long (beats),
/// however short the call's notes: a half note amid an answer to a run of eighths is a phrase's
/// breath, a held bar is not.
pub const INNER_CAP_FLOOR_BEATS: f64 = 2.0;

/// Context notes whose 4-interval patterns an answer should not copy (the newest ones).
pub const COPY_WINDOW: usize = 32;
/// Planned phrases are laid out over at most this many units (16 bars of 4 beats).
const MAX_PLAN_UNITS: usize = 16 * 4 * UNITS_PER_BEAT as usize + 1;

/// Reusable buffers for [`Sampler::sample_phrases`].
#[derive(Debug, Clone)]
pub struct Sampler {
    /// The predictor's output for the next note (its pitch range follows the settings).
    prediction: Prediction,
    /// Scratch of [`draw`]: candidate indices, sort keys and cumulative weights.
    order: Vec<usize>,
    keys: Vec<u128>,
    weights: Vec<f64>,
    /// The context's 4-interval patterns, packed and sorted (refilled for every draw).
    call_patterns: Vec<u32>,
    /// Pitches of the context's newest notes then of the phrase being drawn (anti-copy).
    line: Vec<u8>,
    /// `fillable[u]`: whether `u` units of time can be filled with the rhythm classes of
    /// `fillable_classes`; made again only when the grid's classes change.
    fillable: Vec<bool>,
    /// The rhythm classes (one bit each) `fillable` was made for: those of the grid.
    fillable_classes: u64,
    /// For each rhythm class, the nearest one of `fillable_classes`: where its probability goes
    /// on the grid (made with `fillable`).
    on_grid: [u8; N_RHYTHM],
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            prediction: Prediction::full_range(),
            order: Vec::new(),
            keys: Vec::new(),
            weights: Vec::new(),
            call_patterns: Vec::with_capacity(COPY_WINDOW),
            line: Vec::with_capacity(COPY_WINDOW + 2 * MAX_PHRASE_NOTES),
            fillable: fillable_table(MAX_PLAN_UNITS, grid_classes(0.0)),
            fillable_classes: grid_classes(0.0),
            on_grid: nearest_classes(grid_classes(0.0)),
        }
    }
}

/// A 4-interval pattern packed one byte per interval (clamped to ±127 semitones).
fn pack(steps: impl Iterator<Item = i32>) -> u32 {
    steps.fold(0u32, |k, i| (k << 8) | (i.clamp(-127, 127) + 128) as u32)
}

/// Whether a pitch is the tonic, third or fifth of the key: a closing note's degrees.
pub fn stable_degree(key: KeySignature, pitch: u8) -> bool {
    let third = if key.mode == Mode::Minor { 3 } else { 4 };
    let d = key.degree(pitch);
    d == 0 || d == third || d == 7
}

/// The rhythm class units ([`UNITS_PER_BEAT`]) of each class.
fn class_units(class: usize) -> u32 {
    (RHYTHM_BEATS[class] * UNITS_PER_BEAT as f64).round() as u32
}

impl Sampler {
    /// Draws `settings.candidates` phrases continuing `history`, best first: the highest mean log2
    /// probability per note under the model (restricted to the allowed pitches), or with
    /// `settings.typical` the most typical (the information of its notes closest to the model's
    /// entropy along it: a line as surprising as the model expects music to be, rather than the
    /// safest of the draws). Identical
    /// candidates are drawn again (a few times) so the list offers real alternatives.
    /// `history` is restored before returning. `velocity` is given to every note.
    pub fn sample_phrases(
        &mut self,
        predictor: &mut dyn Predictor,
        history: &mut History,
        settings: &SamplerSettings,
        velocity: u8,
    ) -> Vec<Phrase> {
        let (lo, hi) = (
            settings.low.min(settings.high).min(127),
            settings.high.max(settings.low).min(127),
        );
        let allowed = |p: u8| settings.scale_lock.is_none_or(|s| s.contains(p));
        let length = settings.length_notes.min(MAX_PHRASE_NOTES);
        if settings.candidates == 0 || length == 0 || !(lo..=hi).any(allowed) {
            return Vec::new();
        }
        if self.prediction.pitch_lo != lo || self.prediction.pitch_hi() != hi {
            self.prediction = Prediction::new(lo, hi);
        }
        let base = history.len();
        // On a grid, only rhythms of whole grid steps: what is drawn is what plays, and no two
        // onsets are quantised onto one line. A value off the grid gives its probability to the
        // nearest one on it.
        let classes = grid_classes(settings.grid_beats);
        if classes != self.fillable_classes {
            self.fillable = fillable_table(MAX_PLAN_UNITS, classes);
            self.fillable_classes = classes;
            self.on_grid = nearest_classes(classes);
        }
        let on_grid = self.on_grid;
        let fold = |rhythm: &mut [f64; N_RHYTHM]| {
            for c in 0..N_RHYTHM {
                let to = on_grid[c] as usize;
                if to != c {
                    rhythm[to] += rhythm[c];
                    rhythm[c] = 0.0;
                }
            }
        };
        let layout: Option<Layout> = settings.plan.map(|p| p.layout());
        let length = if layout.is_some() {
            crate::bridge::MAX_PHRASE_NOTES.min(MAX_PHRASE_NOTES)
        } else {
            length
        };
        let base_phase = match (settings.plan, layout) {
            (Some(p), Some(l)) => {
                phase_class(p.start_in_bar + l.lead as f64 / UNITS_PER_BEAT as f64)
            }
            _ => history.next_phase,
        };
        // The context's patterns the answer should not repeat.
        let penalty = (settings.copy_penalty.clamp(0.0, 1.0) as f64).max(1e-6);
        self.line.clear();
        let from = base.saturating_sub(COPY_WINDOW);
        self.line
            .extend(history.events[from..].iter().map(|e| e.pitch));
        let call_len = self.line.len();
        self.call_patterns.clear();
        if penalty < 1.0 {
            for w in self.line.windows(5) {
                let steps = w.windows(2).map(|p| p[1] as i32 - p[0] as i32);
                self.call_patterns.push(pack(steps));
            }
            self.call_patterns.sort_unstable();
            self.call_patterns.dedup();
        }
        let mut phrases: Vec<Drawn> = Vec::with_capacity(settings.candidates);
        let attempts = settings.candidates * 3;
        let mut first: Option<Prediction> = None;
        // Density tilts the rhythm distribution towards shorter (dense) or longer notes.
        let tilt = (settings.density.clamp(0.0, 1.0) as f64 - 0.5) * 2.0 * DENSITY_TILT;
        let mut tilt_factors = [1.0; N_RHYTHM];
        for (f, beats) in tilt_factors.iter_mut().zip(RHYTHM_BEATS) {
            *f = (-tilt * beats.log2()).exp2();
        }
        let min_p = settings.rhythm_min_p.clamp(0.0, 1.0) as f64;
        // The longest inner note the answer may hold (`SamplerSettings::call_rhythm_cap`): the
        // call's events but its last, whose rhythm is its sounding length, not an interval.
        let inner_cap = match base.checked_sub(1) {
            Some(last) if settings.call_rhythm_cap && last > 0 => history.events[..last]
                .iter()
                .map(|e| RHYTHM_BEATS[e.rhythm as usize % N_RHYTHM])
                .fold(INNER_CAP_FLOOR_BEATS, f64::max),
            _ => f64::INFINITY,
        };
        // Rhythm is drawn hotter than pitch and without the top-p cut (see `rhythm_temperature`).
        let rhythm_settings = SamplerSettings {
            temperature: settings.temperature * settings.rhythm_temperature.max(0.0),
            top_p: if settings.rhythm_temperature > 1.0 {
                1.0
            } else {
                settings.top_p
            },
            ..*settings
        };
        for attempt in 0..attempts {
            if phrases.len() == settings.candidates {
                break;
            }
            let mut rng = SmallRng::seed_from_u64(
                settings.seed ^ (attempt as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mut phrase = Phrase {
                notes: Vec::with_capacity(length),
                log2_prob: 0.0,
            };
            let mut key = Vec::with_capacity(length);
            let mut entropy = 0.0;
            let mut onset = 0.0;
            // Planned phrases count time in units, so the close lands exactly on its beat.
            let mut at = layout.map_or(0, |l| l.lead);
            if layout.is_some() {
                onset = at as f64 / UNITS_PER_BEAT as f64;
            }
            self.line.truncate(call_len);
            history.next_phase = base_phase;
            for n in 0..length {
                if settings.length_beats.is_some_and(|b| onset >= b - 1e-9) {
                    break;
                }
                // A planned phrase's closing note: on the last strong beat, or the last note.
                let closing = layout.is_some_and(|l| at >= l.close || n + 1 == length);
                // Every candidate starts from the same context: predict its first note once.
                if phrase.notes.is_empty() && first.is_some() {
                    if let Some(f) = &first {
                        self.prediction.clone_from(f);
                    }
                } else {
                    predictor.predict(history, &mut self.prediction);
                    if phrase.notes.is_empty() {
                        first = Some(self.prediction.clone());
                    }
                }
                // Pitch: the model's distribution restricted to the allowed pitches.
                let pitch_lo = self.prediction.pitch_lo;
                let dist = &mut self.prediction.pitch;
                for (i, p) in dist.iter_mut().enumerate() {
                    if !allowed(pitch_lo + i as u8) {
                        *p = 0.0;
                    }
                }
                let total: f64 = dist.iter().sum();
                if total.is_nan() || total <= 0.0 {
                    break;
                }
                entropy += entropy_of(dist, total);
                let mut shaped = total;
                if closing {
                    // The close: the tonic, third or fifth, as the model weighs them.
                    let k = history.key;
                    let stable: f64 = dist
                        .iter()
                        .enumerate()
                        .filter(|&(i, _)| stable_degree(k, pitch_lo + i as u8))
                        .map(|(_, p)| p)
                        .sum();
                    if stable > 0.0 {
                        for (i, p) in dist.iter_mut().enumerate() {
                            if !stable_degree(k, pitch_lo + i as u8) {
                                *p = 0.0;
                            }
                        }
                        shaped = stable;
                    }
                }
                // Anti-copy: the pattern of the last three steps plus this one.
                let head = (!self.call_patterns.is_empty() && self.line.len() >= 4).then(|| {
                    let l = &self.line[self.line.len() - 4..];
                    pack(l.windows(2).map(|p| p[1] as i32 - p[0] as i32)) << 8
                });
                let last = self.line.last().copied().unwrap_or(0) as i32;
                let copies = |i: usize, head: u32| {
                    let step = (pitch_lo as i32 + i as i32 - last).clamp(-127, 127);
                    self.call_patterns
                        .binary_search(&(head | (step + 128) as u32))
                        .is_ok()
                };
                if let Some(head) = head {
                    let mut sum = 0.0;
                    for (i, p) in dist.iter_mut().enumerate() {
                        if *p > 0.0 && copies(i, head) {
                            *p *= penalty;
                        }
                        sum += *p;
                    }
                    if sum > 0.0 {
                        shaped = sum;
                    }
                }
                let pi = draw(
                    dist,
                    shaped,
                    settings,
                    &mut self.order,
                    &mut self.keys,
                    &mut self.weights,
                    &mut rng,
                );
                let pitch = pitch_lo + pi as u8;
                // Candidates are ranked by the model's own probability of what was drawn.
                let unpenalised = match head {
                    Some(h) if copies(pi, h) => dist[pi] / penalty,
                    _ => dist[pi],
                };
                let p_pitch = unpenalised / total;
                let ri = match layout {
                    Some(l) if closing => {
                        rhythm_class(l.end.saturating_sub(at).max(1) as f64 / UNITS_PER_BEAT as f64)
                            as usize
                    }
                    Some(l) => {
                        let mut rhythm = self.prediction.rhythm;
                        fold(&mut rhythm);
                        let mut fallback = None;
                        for (c, (p, f)) in rhythm.iter_mut().zip(tilt_factors).enumerate() {
                            let next = at + class_units(c);
                            let fits = classes & (1 << c) != 0
                                && RHYTHM_BEATS[c] <= inner_cap
                                && next <= l.close
                                && self.fillable.get((l.close - next) as usize) == Some(&true);
                            if fits {
                                *p *= f;
                                fallback = Some(c);
                            } else {
                                *p = 0.0;
                            }
                        }
                        cut_tail(&mut rhythm, min_p);
                        let rtotal: f64 = rhythm.iter().sum();
                        match fallback {
                            None => rhythm_class(
                                (l.close.saturating_sub(at).max(1)) as f64 / UNITS_PER_BEAT as f64,
                            ) as usize,
                            Some(c) if rtotal.is_nan() || rtotal <= 0.0 => c,
                            Some(_) => draw(
                                &rhythm,
                                rtotal,
                                &rhythm_settings,
                                &mut self.order,
                                &mut self.keys,
                                &mut self.weights,
                                &mut rng,
                            ),
                        }
                    }
                    None => {
                        let mut rhythm = self.prediction.rhythm;
                        fold(&mut rhythm);
                        for ((p, f), beats) in rhythm.iter_mut().zip(tilt_factors).zip(RHYTHM_BEATS)
                        {
                            *p *= if beats <= inner_cap { f } else { 0.0 };
                        }
                        cut_tail(&mut rhythm, min_p);
                        let mut rtotal: f64 = rhythm.iter().sum();
                        if rtotal.is_nan() || rtotal <= 0.0 {
                            // Nothing under the cap (a model that gives short values nothing):
                            // the model's own values, uncut.
                            rhythm = self.prediction.rhythm;
                            fold(&mut rhythm);
                            rtotal = rhythm.iter().sum();
                        }
                        draw(
                            &rhythm,
                            rtotal,
                            &rhythm_settings,
                            &mut self.order,
                            &mut self.keys,
                            &mut self.weights,
                            &mut rng,
                        )
                    }
                };
                let rhythm_total: f64 = self.prediction.rhythm.iter().sum();
                entropy += entropy_of(&self.prediction.rhythm, rhythm_total);
                let p_rhythm = self.prediction.rhythm[ri] / rhythm_total.max(1e-300);
                phrase.log2_prob += p_pitch.max(1e-300).log2() + p_rhythm.max(1e-300).log2();
                let beats = RHYTHM_BEATS[ri];
                let mut duration = beats * ARTICULATION;
                if let Some(limit) = settings.length_beats {
                    duration = duration.min(limit - onset);
                }
                if let (Some(l), true) = (layout, closing) {
                    // The closing note lasts to the end of the bar.
                    duration =
                        duration.min(l.end.saturating_sub(at) as f64 / UNITS_PER_BEAT as f64);
                }
                phrase.notes.push(Note {
                    pitch,
                    onset,
                    duration,
                    velocity,
                });
                key.push((pitch, ri as u8));
                self.line.push(pitch);
                history.push(Event {
                    pitch,
                    rhythm: ri as u8,
                    phase: history.next_phase,
                });
                if closing {
                    break;
                }
                at += class_units(ri);
                onset = match layout {
                    Some(_) => at as f64 / UNITS_PER_BEAT as f64,
                    None => onset + beats,
                };
            }
            history.truncate(base);
            history.next_phase = base_phase;
            if !phrase.notes.is_empty() && !phrases.iter().any(|(_, k, _)| *k == key) {
                phrases.push((phrase, key, entropy));
            } else if phrase.notes.is_empty() {
                break;
            }
        }
        if settings.typical {
            // Most typical first: information per note closest to the model's expectation.
            let atypical =
                |(p, _, h): &Drawn| (-p.log2_prob - h).abs() / p.notes.len().max(1) as f64;
            phrases.sort_by(|a, b| atypical(a).total_cmp(&atypical(b)));
        } else {
            phrases.sort_by(|a, b| mean(&b.0).total_cmp(&mean(&a.0)));
        }
        phrases.into_iter().map(|(p, _, _)| p).collect()
    }
}

/// Leaves out the rhythm values under `min_p` times the likeliest (of `rhythm`, unnormalised):
/// the hot draw then spreads over the values the model finds plausible, never its tail.
fn cut_tail(rhythm: &mut [f64; N_RHYTHM], min_p: f64) {
    let top = rhythm.iter().copied().fold(0.0, f64::max);
    if min_p > 0.0 && top > 0.0 {
        for p in rhythm.iter_mut() {
            if *p < min_p * top {
                *p = 0.0;
            }
        }
    }
}

/// A candidate drawn: the phrase, its notes' (pitch, rhythm class) to spot duplicates, and the
/// model's entropy summed along it (bits), for the typical ranking.
type Drawn = (Phrase, Vec<(u8, u8)>, f64);

/// Entropy (bits) of the unnormalised distribution `dist` summing to `total` > 0.
fn entropy_of(dist: &[f64], total: f64) -> f64 {
    let mut h = 0.0;
    for &p in dist {
        if p > 0.0 {
            let q = p / total;
            h -= q * fast_log2(q);
        }
    }
    h
}

fn mean(p: &Phrase) -> f64 {
    p.log2_prob / p.notes.len().max(1) as f64
}

/// Draws an index from the (unnormalised, `total` > 0) distribution `dist` after temperature,
/// top-k and top-p. Zero-probability entries are never drawn.
fn draw(
    dist: &[f64],
    total: f64,
    s: &SamplerSettings,
    order: &mut Vec<usize>,
    keys: &mut Vec<u128>,
    weights: &mut Vec<f64>,
    rng: &mut SmallRng,
) -> usize {
    // Most likely first, ties by index: for positive floats the bit patterns order like the
    // values, so one integer sort of (inverted bits, index) does it without a comparator.
    keys.clear();
    keys.extend(
        dist.iter()
            .enumerate()
            .filter(|(_, &p)| p > 0.0)
            .map(|(i, &p)| ((!p.to_bits() as u128) << 64) | i as u128),
    );
    keys.sort_unstable();
    order.clear();
    order.extend(keys.iter().map(|&k| k as u64 as usize));
    let t = s.temperature as f64;
    if t.is_nan() || t <= 0.01 || order.len() == 1 {
        return order[0];
    }
    if s.top_k > 0 {
        order.truncate(s.top_k);
    }
    if s.top_p > 0.0 && s.top_p < 1.0 {
        let mut acc = 0.0;
        let mut keep = order.len();
        for (n, &i) in order.iter().enumerate() {
            acc += dist[i] / total;
            if acc >= s.top_p as f64 {
                keep = n + 1;
                break;
            }
        }
        order.truncate(keep);
    }
    weights.clear();
    let mut sum = 0.0;
    for &i in order.iter() {
        let w = if t == 1.0 {
            dist[i]
        } else {
            fast_exp2(fast_log2(dist[i] / total) / t)
        };
        sum += w;
        weights.push(sum);
    }
    let x = rng.random::<f64>() * sum;
    let n = weights.partition_point(|&c| c <= x).min(order.len() - 1);
    order[n]
}

const _: () = assert!(N_RHYTHM <= 64);
