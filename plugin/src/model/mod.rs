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
//! - [`phrase`]: the call's last phrase, pickup and the bar layout of a planned answer.
//! - [`sampler`], [`continuator`]: phrase drawing and the model thread's engine.
//! - [`midi_in`], [`train`], [`eval`], [`file`]: corpus reading, training, evaluation, model files.
//! - [`reference`]: the independent judge of answers (`continuo eval-answers`), never sampled.
//! - [`styles`]: the bundled style models, the user's own, and the recommendation score.

pub mod continuator;
pub mod eval;
pub mod file;
pub mod key;
pub mod midi_in;
pub mod neural;
pub mod note;
pub mod phrase;
pub mod ppm;
pub mod predictor;
pub mod reference;
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
    /// How the phrase's length is chosen: `Notes` is `length_notes` (and `length_beats`) as
    /// given; `Bars` and `FollowCall` plan a phrase of whole bars that closes on a strong beat
    /// ([`phrase`]), `length_notes` then only capping it.
    pub phrase: PhraseLength,
    /// Where the answer will start after the player's last note ends: the pause (beats) and the
    /// grid it is aligned to (beats; 0 = none), as the playback places it. Planned phrases are
    /// laid out from there; on a grid, only rhythms of whole grid steps are drawn (so no two
    /// onsets are quantised onto one line).
    pub gap_beats: f64,
    pub grid_beats: f64,
    /// Factor on the probability of a pitch that would repeat one of the context's 4-interval
    /// patterns (1 = no penalty, 0 = never copy a pattern).
    pub copy_penalty: f32,
    /// Rank the candidates most typical first (information per note closest to the model's
    /// entropy) instead of most likely first.
    pub typical: bool,
    /// The rhythm is drawn at `temperature` times this (above 1: hotter than the pitch, and
    /// without the top-p cut, which would otherwise leave a steady run of eighths one choice).
    pub rhythm_temperature: f32,
    /// A rhythm value less likely than this share of the likeliest one (after the density's
    /// tilt, among the values that fit) is not drawn (0: all are): drawn hot, the rhythm should
    /// spread over the values the model finds plausible, not over its tail.
    pub rhythm_min_p: f32,
    /// An inner note of the answer (every note but a planned phrase's closing one) lasts no
    /// longer than the longest one the call played (its longest inter-onset interval, the last
    /// note's ringing length left out) or [`sampler::INNER_CAP_FLOOR_BEATS`], whichever is
    /// longer: an answer to a reel in eighths should not stop on a note held for a bar and a
    /// half amid its line, however likely the corpus finds one there.
    pub call_rhythm_cap: bool,
    /// The bar layout of a planned phrase: set by the continuator from the context (a caller
    /// may set it directly); `None` draws without one.
    pub plan: Option<phrase::BarPlan>,
    /// The bars the context's beats are counted in (the host's time signature and bar line):
    /// planned phrases span whole bars of it and close on its strong beats.
    pub meter: crate::meter::Meter,
}

/// How long an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhraseLength {
    /// `length_notes` notes (`length_beats` limiting them when set).
    #[default]
    Notes,
    /// This many bars (1..=16), closing on a strong beat.
    Bars(u8),
    /// As many bars as the call's last phrase, rounded to whole bars.
    FollowCall,
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
            phrase: PhraseLength::Notes,
            gap_beats: 1.0,
            grid_beats: 0.25,
            copy_penalty: 1.0,
            typical: false,
            rhythm_temperature: 1.0,
            rhythm_min_p: 0.0,
            call_rhythm_cap: false,
            plan: None,
            meter: crate::meter::Meter::COMMON,
        }
    }
}
