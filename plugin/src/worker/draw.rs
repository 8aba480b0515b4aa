//! MODEL THREAD, stage 4: when to draw candidates again, and drawing them.
//!
//! New notes, a new key (with the scale locked to it) and the editor's Regenerate draw at once. A
//! settings change (a knob turned, or automated) is debounced: it draws once the settings have
//! held still for [`SETTLE`], or at most every [`THROTTLE`] while they keep moving, so automation
//! does not re-arm a new phrase every poll.

use super::Brain;
use crate::meter::Meter;
use crate::model::PhraseLength;
use crate::model::{Note, SamplerSettings};
use crate::music::{KeySignature, Scale};
use crate::params::{ContinuoParams, PhraseLengthMode, ScaleLock};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Settings that have not changed for this long are drawn with.
pub const SETTLE: Duration = Duration::from_millis(120);
/// Settings that keep changing are drawn with at most this often.
pub const THROTTLE: Duration = Duration::from_millis(400);

/// The rhythm is drawn this much hotter than the pitch (chosen with `continuo eval-answers
/// --split tune`; see the README: 3× with the entropy-weighted mix, 2.5× since the learnt rhythm
/// gate, whose mix has heavier tails, 3× again since the tail is cut ([`RHYTHM_MIN_P`])).
pub const RHYTHM_TEMPERATURE: f32 = 3.0;

/// [`RHYTHM_TEMPERATURE`], or the environment's `CONTINUO_RHYTHM_TEMPERATURE` (read once) when
/// tuning with `continuo eval-answers`.
pub fn rhythm_temperature() -> f32 {
    static T: OnceLock<f32> = OnceLock::new();
    from_env(&T, "CONTINUO_RHYTHM_TEMPERATURE", RHYTHM_TEMPERATURE, |t| {
        t.is_finite() && t > 0.0
    })
}

/// A rhythm value under this share of the likeliest one is not drawn, however hot the rhythm
/// (the demo's answer opened with a note of 8 beats the model gave 0.3 %, lifted to 1.6 % by
/// the heat; chosen with `continuo eval-answers --split tune`, see the README's *Answers*).
pub const RHYTHM_MIN_P: f32 = 0.05;

/// [`RHYTHM_MIN_P`], or the environment's `CONTINUO_RHYTHM_MIN_P` (read once) when tuning.
pub fn rhythm_min_p() -> f32 {
    static P: OnceLock<f32> = OnceLock::new();
    from_env(&P, "CONTINUO_RHYTHM_MIN_P", RHYTHM_MIN_P, |p| {
        (0.0..=1.0).contains(&p)
    })
}

/// Whether an answer's inner notes are capped at the call's longest
/// (`SamplerSettings::call_rhythm_cap`): on, unless the environment's `CONTINUO_CALL_RHYTHM_CAP`
/// (read once) is 0, when comparing with `continuo eval-answers`.
pub fn call_rhythm_cap() -> bool {
    static C: OnceLock<f32> = OnceLock::new();
    from_env(&C, "CONTINUO_CALL_RHYTHM_CAP", 1.0, |c| {
        c == 0.0 || c == 1.0
    }) > 0.5
}

/// `default`, or the environment variable `var` when it reads as a value `valid` accepts; read
/// once, into `cell`.
fn from_env(cell: &OnceLock<f32>, var: &str, default: f32, valid: fn(f32) -> bool) -> f32 {
    *cell.get_or_init(|| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse::<f32>().ok())
            .filter(|v| valid(*v))
            .unwrap_or(default)
    })
}

/// The sampler settings the parameters ask for, in the bars of `meter`.
pub fn sampler_settings(
    params: &ContinuoParams,
    key: Option<KeySignature>,
    meter: Meter,
) -> SamplerSettings {
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
        rhythm_temperature: rhythm_temperature(),
        rhythm_min_p: rhythm_min_p(),
        call_rhythm_cap: call_rhythm_cap(),
        plan: None,
        meter,
    }
}

/// The seed after `seed` (the editor's Regenerate).
pub(super) fn next_seed(seed: u64) -> u64 {
    seed.wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
}

/// Steps of [`context_seed`]'s time grid per beat: far coarser than a sample at any tempo
/// (stamps are whole samples), far finer than any rhythm.
const SEED_STEPS_PER_BEAT: f64 = 96.0;

/// The sampler's seed for `context`: `seed` mixed with the context in beats — each note's pitch,
/// onset after the first note, and length, and the first onset's place in its bar of `meter`, on
/// a grid of 1/96 beat. The same call in beats gets the same seed at any tempo.
pub fn context_seed(seed: u64, context: &[Note], meter: &Meter) -> u64 {
    let step = |beats: f64| {
        let x = (beats * SEED_STEPS_PER_BEAT).round();
        if x.is_finite() {
            x as i64 as u64
        } else {
            0
        }
    };
    let first = context.first().map_or(0.0, |n| n.onset);
    let mut h = seed ^ 0xcbf2_9ce4_8422_2325;
    let mut mix = |v: u64| {
        h = (h ^ v).wrapping_mul(0x0100_0000_01b3);
        h ^= h >> 29;
    };
    mix(step(meter.in_bar(first)));
    for n in context {
        mix(n.pitch as u64);
        mix(step(n.onset - first));
        mix(step(n.duration));
    }
    h
}

/// Whether candidates should be drawn now.
pub(super) fn due(b: &mut Brain, params: &ContinuoParams, now: Instant) -> bool {
    if b.context.is_empty() {
        return false;
    }
    let settings = sampler_settings(params, b.key.map(|k| k.0), b.meter());
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
    let settings = sampler_settings(params, b.key.map(|k| k.0), b.meter());
    b.dirty = false;
    b.drawn_with = Some(settings);
    b.drawn_at = Some(now);
    let Some(c) = b.continuator.as_mut() else {
        return;
    };
    let t0 = Instant::now();
    let mut s = settings;
    let context: Vec<Note> = b.context.iter().copied().collect();
    s.seed = context_seed(b.seed, &context, &settings.meter);
    c.set_line_tolerance(b.line_tolerance);
    let mut phrases = c.continue_phrase(&context, b.key.map(|k| k.0), &s);
    phrases.retain(|p| !p.notes.is_empty());
    b.generate_ms = t0.elapsed().as_secs_f64() * 1000.0;
    b.candidates = phrases;
    b.selected = 0;
}
