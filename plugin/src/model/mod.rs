//! MODEL THREAD: note representation, predictors, sampler, training and evaluation.
//!
//! CONTRACT (relied on by the model thread in `worker.rs`, the editor and the CLI; keep it):
//! - `Note` (pitch, onset and duration in beats, velocity), `Phrase` (notes + likelihood).
//! - `TrainedModel::embedded()` loads the default model (the Blend style) shipped in `assets/`;
//!   `TrainedModel::from_bytes(&[u8])` / `TrainedModel::load(path)` give clear errors on bad files.
//! - `Continuator::new(Arc<TrainedModel>)` holds the long-term model plus the short-term one
//!   learnt from the player; `observe(note)` learns online (when learning is on), `forget()` clears
//!   the session, `continue_phrase(context, key, settings)` returns candidates ranked best first.
//!
//! Map of the module:
//! - [`note`]: notes → events (pitch, rhythm class, onset phase); skyline.
//! - [`key`]: Krumhansl–Schmuckler key estimation, key-signature events.
//! - [`viewpoints`]: pitch, interval, interval × scale degree, pitch above tonic, rhythm,
//!   rhythm × phase; [`viewpoints::History`] holds a melody seen through all of them.
//! - [`ppm`]: variable-order Markov counts with PPM-C/X interpolated smoothing.
//! - [`predictor`]: the [`predictor::Predictor`] trait; [`predictor::MultiViewpoint`] mixes the
//!   viewpoints and the long-/short-term models by entropy weighting.
//! - [`sampler`], [`continuator`]: phrase drawing and the model thread's engine.
//! - [`midi_in`], [`train`], [`eval`], [`file`]: corpus reading, training, evaluation, model files.
//! - [`styles`]: the bundled style models, the user's own, and the recommendation score.

pub mod continuator;
pub mod eval;
pub mod file;
pub mod key;
pub mod midi_in;
pub mod note;
pub mod ppm;
pub mod predictor;
pub mod sampler;
pub mod styles;
pub mod train;
pub mod viewpoints;

#[cfg(test)]
mod tests;

pub use continuator::Continuator;
pub use file::{ModelError, TrainedModel, TrainingMeta};

use crate::music::Scale;

/// A note as the model sees it: time in beats, relative to an arbitrary origin.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Note {
    pub pitch: u8,
    pub onset: f64,
    pub duration: f64,
    pub velocity: u8,
}

impl Note {
    /// A line of even eighth notes from beat 0 (0.5 beats apart, 0.45 long, slightly detached):
    /// the phrases the tests, benchmarks and examples play to the model.
    pub fn eighths(pitches: &[u8], velocity: u8) -> Vec<Note> {
        pitches
            .iter()
            .enumerate()
            .map(|(i, &pitch)| Note {
                pitch,
                onset: i as f64 * 0.5,
                duration: 0.45,
                velocity,
            })
            .collect()
    }
}

/// A proposed continuation: onsets are relative to the phrase start (the first note at >= 0).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Phrase {
    pub notes: Vec<Note>,
    /// Sum of log2 probabilities of the sampled events (higher is more likely).
    pub log2_prob: f64,
}

/// How the sampler draws phrases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerSettings {
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
    /// When set, only pitches of this scale are drawn.
    pub scale_lock: Option<Scale>,
    pub low: u8,
    pub high: u8,
    /// Phrase length in notes.
    pub length_notes: usize,
    /// Optional phrase length limit in beats.
    pub length_beats: Option<f64>,
    /// 0..1: below 0.5 favours longer notes and rests, above favours shorter notes.
    pub density: f32,
    pub candidates: usize,
    pub seed: u64,
}

impl Default for SamplerSettings {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.95,
            scale_lock: None,
            low: 36,
            high: 96,
            length_notes: 8,
            length_beats: None,
            density: 0.5,
            candidates: 8,
            seed: 1,
        }
    }
}
