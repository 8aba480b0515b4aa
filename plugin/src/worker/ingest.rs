//! MODEL THREAD, stage 1: take in what the audio thread sent — the player's notes and playback
//! news — in the order it happened (one ring carries both).

use super::{context, harmony, tempo, Brain, OpenNote, CONTEXT_NOTES, ROLL_NOTES};
use crate::bridge::{ModelEnds, PlaybackStatus, PlayerNote, RollNote, Shared, Stamp, ToModel};
use crate::model::Note;
use crate::params::{ContinuoParams, ResponseMode};
use ringbuf::traits::Consumer;
use std::sync::atomic::Ordering;

/// Takes every event waiting in the ring. Returns whether anything came.
pub(super) fn take_events(
    b: &mut Brain,
    ends: &mut ModelEnds,
    shared: &Shared,
    params: &ContinuoParams,
) -> bool {
    let mut changed = false;
    while let Some(event) = ends.events.try_pop() {
        changed = true;
        match event {
            ToModel::Note(note) => player_note(b, note, shared, params),
            ToModel::Playback(status) => playback(b, status, shared, params),
            ToModel::Beat(news) => harmony::beat_news(b, news, seconds(news.at.sample, shared)),
        }
    }
    changed
}

fn seconds(t: u64, shared: &Shared) -> f64 {
    t as f64 / shared.sample_rate.load(Ordering::Relaxed).max(1.0) as f64
}

/// A player's note start or end: the context, the short-term model, the key and the roll.
fn player_note(b: &mut Brain, note: PlayerNote, shared: &Shared, params: &ContinuoParams) {
    b.dirty = true;
    let at_sample = match note {
        PlayerNote::On { at, .. } | PlayerNote::Off { at, .. } => at.sample,
    };
    harmony::player_note(b, note, seconds(at_sample, shared));
    match note {
        PlayerNote::On {
            pitch,
            velocity,
            at,
            origin,
        } => {
            let beat = context::beat(b, at.beat);
            context::key_moves(b, seconds(at.sample, shared));
            b.open[origin.index()][(pitch & 127) as usize] = Some(OpenNote {
                beat,
                velocity,
                start_s: seconds(at.sample, shared),
                covered_s: 0.0,
            });
            follow_tempo(b, seconds(at.sample, shared), velocity, shared);
            b.chords.note_on(pitch, seconds(at.sample, shared));
            b.heard_until = b.heard_until.max(at.sample);
            b.played.push_back(RollNote {
                pitch,
                velocity,
                start_s: seconds(at.sample, shared),
                end_s: None,
            });
            while b.played.len() > ROLL_NOTES {
                b.played.pop_front();
            }
        }
        PlayerNote::Off { pitch, at, origin } => {
            b.heard_until = b.heard_until.max(at.sample);
            context::key_moves(b, seconds(at.sample, shared));
            let Some(open) = b.open[origin.index()][(pitch & 127) as usize].take() else {
                return;
            };
            b.chords.note_off(pitch, seconds(at.sample, shared));
            let end = context::beat(b, at.beat);
            let note = Note {
                pitch,
                onset: open.beat,
                duration: (end - open.beat).clamp(1.0 / 64.0, 16.0),
                velocity: (open.velocity * 127.0).round().clamp(1.0, 127.0) as u8,
            };
            // Only the top voice is the melody the model hears; a note struck under a higher key
            // was an inner voice of a chord (the key still hears it).
            let window = context::VOICE_WINDOW_S.min(seconds(at.sample, shared) - open.start_s);
            if open.covered_s <= 0.5 * window.max(0.0) {
                context::push(b, note, params);
            } else {
                context::key_note(b, note, false);
            }
            let end_s = seconds(at.sample, shared);
            if let Some(r) = b
                .played
                .iter_mut()
                .rev()
                .find(|r| r.pitch == pitch && r.end_s.is_none())
            {
                r.end_s = Some(end_s);
            }
        }
    }
}

/// A player's onset: into the tempo follower; a new confident estimate goes to the audio thread
/// (free time) as one atomic word.
fn follow_tempo(b: &mut Brain, seconds: f64, velocity: f32, shared: &Shared) {
    let changed = b.tempo.onset(seconds, velocity);
    if let Some(latest) = b.tempo.latest {
        shared
            .free_time_confidence
            .store(latest.confidence as f32, Ordering::Relaxed);
    }
    if let (true, Some(e)) = (changed, b.tempo.locked) {
        let rate = shared.sample_rate.load(Ordering::Relaxed).max(1.0) as f64;
        let beat_sample = (e.beat_s * rate).round().max(0.0) as u64;
        shared
            .free_time
            .store(tempo::pack(e.bpm, beat_sample), Ordering::Relaxed);
    }
}

/// Playback news: what is playing (the roll), continuous mode's context, a reset.
fn playback(b: &mut Brain, status: PlaybackStatus, shared: &Shared, params: &ContinuoParams) {
    match status {
        PlaybackStatus::Started { generation, at } => {
            let Some(phrase) = b
                .sent
                .iter()
                .find(|(g, _)| *g == generation)
                .map(|(_, p)| p.clone())
            else {
                return;
            };
            if params.response.mode.value() == ResponseMode::Continuous {
                // Keep going: the next phrase continues the one now playing.
                let start = context::beat(b, at.beat);
                for n in &phrase.notes {
                    b.context.push_back(Note {
                        onset: start + n.onset,
                        ..*n
                    });
                    b.last_beat = b.last_beat.max(start + n.onset);
                }
                while b.context.len() > CONTEXT_NOTES {
                    b.context.pop_front();
                }
                b.dirty = true;
            }
            let start_s = seconds(at.sample, shared);
            b.answered.push_back((start_s, phrase.clone()));
            while b.answered.len() > 16 {
                b.answered.pop_front();
            }
            b.answer_beat = at.beat;
            b.playing = Some((generation, start_s, phrase));
            harmony::answer_started(b, generation);
        }
        PlaybackStatus::Ended {
            generation,
            at,
            cut,
        } => {
            if b.playing.as_ref().is_some_and(|p| p.0 == generation) {
                b.playing = None;
            }
            if cut {
                trim_cut_answer(b, at);
                harmony::answer_cut(b, at.beat - b.answer_beat);
            }
        }
        PlaybackStatus::Reset => {
            // The stream clock restarts: nothing sounds any more.
            for open in b.open.iter_mut() {
                *open = [None; 128];
            }
            b.heard_until = 0;
            b.tempo.reset();
            shared.free_time.store(0, Ordering::Relaxed);
            shared.free_time_confidence.store(0.0, Ordering::Relaxed);
            b.playing = None;
            b.played.clear();
            b.answered.clear();
            b.chords.reset();
            b.last_move_s = None;
            harmony::reset(b);
            b.audio_chords.reset();
        }
    }
}

/// Shows only what was really played of a cut answer (beats from its start, whatever the tempo
/// did meanwhile).
fn trim_cut_answer(b: &mut Brain, at: Stamp) {
    let end_beats = at.beat - b.answer_beat;
    if let Some((_, phrase)) = b.answered.back_mut() {
        phrase.notes.retain(|n| n.onset < end_beats);
        for n in &mut phrase.notes {
            n.duration = n.duration.min(end_beats - n.onset);
        }
    }
}
