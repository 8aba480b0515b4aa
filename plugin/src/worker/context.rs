//! MODEL THREAD, stage 2: the context the model sees — completed notes in beats that only go
//! forward — the short-term model's learning, and the key.

use super::{Brain, CONTEXT_NOTES};
use crate::bridge::ModelEnds;
use crate::model::Note;
use crate::params::{ContinuoParams, ScaleLock};
use ringbuf::traits::Consumer;

/// The key from notes: each note's weight fades by this at every later note (a memory of about
/// a hundred notes). On the development set's `dev/` split, the key shown at the end was exact for
/// 65.0 % of the renders with 0.97, 67.2 % with 0.99, 66.7 % with 0.995, 57.2 % with 0.93.
pub(super) const NOTE_KEY_DECAY: f64 = 0.99;
/// Notes heard before the key follows the notes rather than the spectral chroma.
const NOTES_FOR_KEY: u64 = 4;

/// Beats in a bar, for shifts that keep the beat phase.
const BAR: f64 = 4.0;

/// How far a stamp may fall behind the latest one without being a jump of the transport: a
/// detected note's start is dated back to its attack, before the end of the note it follows.
const BACKDATE_BEATS: f64 = 1.0;

/// The context beat of an audio-thread beat stamp. The stamps follow the host's grid while its
/// transport runs and accumulate at the block tempo otherwise; they jump back when the transport
/// relocates or loops (or the plugin is reset). The context must only go forward, so a stamp that
/// lands well before the latest one moves the origin on by whole bars (the phase in the bar is
/// kept).
pub(super) fn beat(b: &mut Brain, stamp: f64) -> f64 {
    let stamp = if stamp.is_finite() { stamp } else { 0.0 };
    let mut beat = stamp + b.beat_offset;
    if beat < b.last_beat - BACKDATE_BEATS {
        let bars = ((b.last_beat - beat) / BAR).ceil() + 1.0;
        b.beat_offset += bars * BAR;
        beat = stamp + b.beat_offset;
    }
    b.last_beat = b.last_beat.max(beat);
    beat
}

/// A completed player note: into the context, the short-term model and the key estimate.
pub(super) fn push(b: &mut Brain, note: Note, params: &ContinuoParams) {
    b.context.push_back(note);
    while b.context.len() > CONTEXT_NOTES {
        b.context.pop_front();
    }
    b.player_notes.push_back(note);
    while b.player_notes.len() > super::perform::PLAYER_NOTES {
        b.player_notes.pop_front();
    }
    if let Some(c) = b.continuator.as_mut() {
        c.observe(note);
        if params.model.learn.value() {
            b.session_notes += 1;
        }
    }
    let mut chroma = [0.0f32; 12];
    chroma[(note.pitch % 12) as usize] = 1.0;
    b.keys
        .push_weighted(&chroma, note.duration.clamp(0.25, 4.0) as f32);
}

/// Follows the *Learn from player* switch. Returns whether it changed.
pub(super) fn follow_learning(b: &mut Brain, params: &ContinuoParams) -> bool {
    let learning = params.model.learn.value();
    if learning == b.learning {
        return false;
    }
    if let Some(c) = b.continuator.as_mut() {
        c.set_learning(learning);
    }
    b.learning = learning;
    true
}

/// The key: from the player's notes once a few were heard, before that from the chroma of
/// confident, audible frames. Returns whether the key changed.
pub(super) fn update_key(
    b: &mut Brain,
    ends: &mut ModelEnds,
    params: &ContinuoParams,
    notes_came: bool,
) -> bool {
    let mut frames = 0;
    while let Some(f) = ends.frames.try_pop() {
        if f.level_db > -55.0 && f.confidence > 0.5 {
            b.chroma_keys.push(&f.chroma);
            frames += 1;
        }
    }
    if frames == 0 && !notes_came {
        return false;
    }
    let key = if b.keys.pushes() >= NOTES_FOR_KEY {
        b.keys.estimate()
    } else {
        b.chroma_keys.estimate()
    };
    let changed = key.map(|k| k.0) != b.key.map(|k| k.0);
    b.key = key;
    if changed && params.model.scale_lock.value() == ScaleLock::Detected {
        b.dirty = true;
    }
    changed
}
