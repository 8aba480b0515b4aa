//! MODEL THREAD, stage 4: when to draw candidates again, and drawing them.
//!
//! New notes, a new key (with the scale locked to it) and the editor's Regenerate draw at once. A
//! settings change (a knob turned, or automated) is debounced: it draws once the settings have
//! held still for [`SETTLE`], or at most every [`THROTTLE`] while they keep moving, so automation
//! does not re-arm a new phrase every poll.

use super::Brain;
use crate::model::PhraseLength;
use crate::model::{Note, SamplerSettings};
use crate::music::{KeySignature, Scale};
use crate::params::{ContinuoParams, PhraseLengthMode, ScaleLock};
use std::time::{Duration, Instant};

/// Settings that have not changed for this long are drawn with.
pub const SETTLE: Duration = Duration::from_millis(120);
/// Settings that keep changing are drawn with at most this often.
pub const THROTTLE: Duration = Duration::from_millis(400);

/// The rhythm is drawn this much hotter than the pitch (chosen with `continuo eval-answers
/// --split tune`; see the README).
pub const RHYTHM_TEMPERATURE: f32 = 2.0;

/// The sampler settings the parameters ask for.
pub fn sampler_settings(params: &ContinuoParams, key: Option<KeySignature>) -> SamplerSettings {
    let (low, high) = params.pitch_range();
    let scale_lock = match params.model.scale_lock.value() {
        ScaleLock::Off => None,
        ScaleLock::Detected => key.map(Scale::of_key),
        ScaleLock::Fixed => Some(params.fixed_scale()),
    };
    SamplerSettings {
        temperature: params.model.temperature.value(),
        top_k: 0,
        top_p: params.model.top_p.value(),
        scale_lock,
        low,
        high,
        length_notes: params
            .model
            .length
            .value()
            .clamp(1, crate::bridge::MAX_PHRASE_NOTES as i32) as usize,
        length_beats: None,
        density: params.model.density.value(),
        candidates: params.model.candidates.value().clamp(1, 32) as usize,
        seed: 0,
        phrase: match params.model.phrase_length.value() {
            PhraseLengthMode::FollowCall => PhraseLength::FollowCall,
            PhraseLengthMode::Bars => {
                PhraseLength::Bars(params.model.phrase_bars.value().clamp(1, 16) as u8)
            }
            PhraseLengthMode::Notes => PhraseLength::Notes,
        },
        gap_beats: params.response.gap.value() as f64,
        grid_beats: params.response.grid.value().beats().unwrap_or(0.0),
        copy_penalty: params.model.echo.value(),
        typical: true,
        rhythm_temperature: RHYTHM_TEMPERATURE,
        plan: None,
    }
}

/// Whether candidates should be drawn now.
pub(super) fn due(b: &mut Brain, params: &ContinuoParams, now: Instant) -> bool {
    if b.context.is_empty() {
        return false;
    }
    let settings = sampler_settings(params, b.key.map(|k| k.0));
    if b.seen_settings != Some(settings) {
        b.seen_settings = Some(settings);
        b.settings_changed_at = Some(now);
    }
    if b.dirty {
        return true;
    }
    if b.drawn_with == Some(settings) {
        return false;
    }
    let settled = b
        .settings_changed_at
        .is_none_or(|t| now.saturating_duration_since(t) >= SETTLE);
    let stale = b
        .drawn_at
        .is_none_or(|t| now.saturating_duration_since(t) >= THROTTLE);
    settled || stale
}

/// Draws the candidates for the current context and settings (best first).
pub(super) fn generate(b: &mut Brain, params: &ContinuoParams, now: Instant) {
    let settings = sampler_settings(params, b.key.map(|k| k.0));
    b.dirty = false;
    b.drawn_with = Some(settings);
    b.drawn_at = Some(now);
    let Some(c) = b.continuator.as_mut() else {
        return;
    };
    let t0 = Instant::now();
    b.seed = b
        .seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut s = settings;
    s.seed = b.seed;
    let context: Vec<Note> = b.context.iter().copied().collect();
    let mut phrases = c.continue_phrase(&context, b.key.map(|k| k.0), &s);
    phrases.retain(|p| !p.notes.is_empty());
    b.generate_ms = t0.elapsed().as_secs_f64() * 1000.0;
    b.candidates = phrases;
    b.selected = 0;
}
