//! Drawing phrases from a predictor: temperature, top-k / top-p, scale lock, pitch range, length in
//! notes or beats, note density, several candidates ranked by likelihood; deterministic per seed.

use super::note::{Event, N_RHYTHM, RHYTHM_BEATS};
use super::predictor::{fast_exp2, fast_log2, Prediction, Predictor};
use super::viewpoints::History;
use super::{Note, Phrase, SamplerSettings};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Duration of a drawn note as a share of its rhythm class: 1, the notated value. How long it
/// sounds is the performance stage's business (`worker/perform.rs`).
pub const ARTICULATION: f64 = 1.0;
/// How strongly `density` tilts the rhythm distribution (log2 units per octave of length).
const DENSITY_TILT: f64 = 3.0;
/// At most this many notes per phrase, whatever the settings say.
pub const MAX_PHRASE_NOTES: usize = 256;

/// Reusable buffers for [`sample_phrases`].
#[derive(Debug, Clone)]
pub struct Sampler {
    prediction: Prediction,
    order: Vec<usize>,
    keys: Vec<u128>,
    weights: Vec<f64>,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            prediction: Prediction::full_range(),
            order: Vec::new(),
            keys: Vec::new(),
            weights: Vec::new(),
        }
    }
}

impl Sampler {
    /// Draws `settings.candidates` phrases continuing `history`, best (highest mean log2
    /// probability per note under the model, restricted to the allowed pitches) first. Identical
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
        let base_phase = history.next_phase;
        let mut phrases: Vec<(Phrase, Vec<(u8, u8)>)> = Vec::with_capacity(settings.candidates);
        let attempts = settings.candidates * 3;
        let mut first: Option<Prediction> = None;
        // Density tilts the rhythm distribution towards shorter (dense) or longer notes.
        let tilt = (settings.density.clamp(0.0, 1.0) as f64 - 0.5) * 2.0 * DENSITY_TILT;
        let mut tilt_factors = [1.0; N_RHYTHM];
        for (f, beats) in tilt_factors.iter_mut().zip(RHYTHM_BEATS) {
            *f = (-tilt * beats.log2()).exp2();
        }
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
            let mut onset = 0.0;
            history.next_phase = base_phase;
            for _ in 0..length {
                if settings.length_beats.is_some_and(|b| onset >= b - 1e-9) {
                    break;
                }
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
                let pi = draw(
                    dist,
                    total,
                    settings,
                    &mut self.order,
                    &mut self.keys,
                    &mut self.weights,
                    &mut rng,
                );
                let pitch = pitch_lo + pi as u8;
                let p_pitch = dist[pi] / total;
                let mut rhythm = self.prediction.rhythm;
                for (p, f) in rhythm.iter_mut().zip(tilt_factors) {
                    *p *= f;
                }
                let rtotal: f64 = rhythm.iter().sum();
                let ri = draw(
                    &rhythm,
                    rtotal,
                    settings,
                    &mut self.order,
                    &mut self.keys,
                    &mut self.weights,
                    &mut rng,
                );
                let p_rhythm = self.prediction.rhythm[ri];
                phrase.log2_prob += (p_pitch.max(1e-300)).log2() + p_rhythm.max(1e-300).log2();
                let beats = RHYTHM_BEATS[ri];
                let mut duration = beats * ARTICULATION;
                if let Some(limit) = settings.length_beats {
                    duration = duration.min(limit - onset);
                }
                phrase.notes.push(Note {
                    pitch,
                    onset,
                    duration,
                    velocity,
                });
                key.push((pitch, ri as u8));
                history.push(Event {
                    pitch,
                    rhythm: ri as u8,
                    phase: history.next_phase,
                });
                onset += beats;
            }
            history.truncate(base);
            history.next_phase = base_phase;
            if !phrase.notes.is_empty() && !phrases.iter().any(|(_, k)| *k == key) {
                phrases.push((phrase, key));
            } else if phrase.notes.is_empty() {
                break;
            }
        }
        let mut out: Vec<Phrase> = phrases.into_iter().map(|(p, _)| p).collect();
        out.sort_by(|a, b| mean(b).total_cmp(&mean(a)));
        out
    }
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
