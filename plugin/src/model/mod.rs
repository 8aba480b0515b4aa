//! MODEL THREAD: note representation, predictors, sampler, training and evaluation.
//!
//! CONTRACT (relied on by the model thread in `worker.rs`, the editor and the CLI; keep it):
//! - `Note` (pitch, onset and duration in beats, velocity), `Phrase` (notes + likelihood).
//! - `TrainedModel::embedded()` loads the default model shipped in `assets/`;
//!   `TrainedModel::from_bytes(&[u8])` / `TrainedModel::load(path)` give clear errors on bad files.
//! - `Continuator::new(Arc<TrainedModel>)` holds the long-term model plus the short-term one
//!   learnt from the player; `observe(note)` learns online (when learning is on), `forget()` clears
//!   the session, `continue_phrase(context, key, settings)` returns candidates ranked best first.
//!
//! PLACEHOLDER: the real implementation lands with the model issue.

use crate::music::{KeySignature, Scale};
use std::sync::Arc;

/// A note as the model sees it: time in beats, relative to an arbitrary origin.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Note {
    pub pitch: u8,
    pub onset: f64,
    pub duration: f64,
    pub velocity: u8,
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

/// Placeholder model.
#[derive(Debug, Default)]
pub struct TrainedModel;

impl TrainedModel {
    pub fn embedded() -> anyhow::Result<Self> {
        Ok(Self)
    }
}

/// Placeholder continuator: repeats the context's last notes.
pub struct Continuator {
    _model: Arc<TrainedModel>,
    learning: bool,
}

impl Continuator {
    pub fn new(model: Arc<TrainedModel>) -> Self {
        Self { _model: model, learning: true }
    }
    pub fn set_learning(&mut self, on: bool) {
        self.learning = on;
    }
    pub fn observe(&mut self, _note: Note) {}
    pub fn forget(&mut self) {}
    pub fn continue_phrase(
        &mut self,
        context: &[Note],
        _key: Option<KeySignature>,
        settings: &SamplerSettings,
    ) -> Vec<Phrase> {
        let mut notes: Vec<Note> = context.iter().rev().take(settings.length_notes).rev().copied().collect();
        let start = notes.first().map(|n| n.onset).unwrap_or(0.0);
        for n in &mut notes {
            n.onset -= start;
        }
        vec![Phrase { notes, log2_prob: 0.0 }]
    }
}
