//! MODEL THREAD, stage 2: the context the model sees — completed notes in beats that only go
//! forward — the short-term model's learning, and the key.

use super::{Brain, CONTEXT_NOTES};
use crate::bridge::{ModelEnds, Shared};
use crate::harmony::audio::{join_steps, ChordListener, ListenerSettings};
use crate::harmony::hearing::{ChordSpan, RECENT_CHORDS};
use crate::harmony::key::CHORD_WEIGHT;
use crate::harmony::Chord;
use crate::model::key::KeyEstimator;
use crate::model::Note;
use crate::params::{ContinuoParams, ScaleLock};
use ringbuf::traits::Consumer;
use std::collections::VecDeque;

/// The key from notes: each note's weight fades by this at every later note (a memory of about
/// a hundred notes). On the development set's `dev/` split, the key shown at the end was exact for
/// 65.0 % of the renders with 0.97, 67.2 % with 0.99, 66.7 % with 0.995, 57.2 % with 0.93; with
/// the corpus profiles and the first note's weight, 81.6 % with 0.97, 83.5 % with 0.99, 82.9 %
/// with 0.995.
pub(super) const NOTE_KEY_DECAY: f64 = 0.99;
/// Notes heard before the key follows the notes rather than the spectral chroma.
const NOTES_FOR_KEY: u64 = 4;
/// The first melody note heard (since the plugin started or its memory was cleared) counts in
/// the key this many times more than its length says: a tune starts on its tonic more than on
/// any other note, and a phrase's pitch classes alone can leave a minor key and its relative
/// major (the same notes) to the notes' lengths, as in the demo's G-minor phrase. On the
/// development split the key shown at the end is exact for 82.3 % of the renders with 0,
/// 82.9 % with 2, 83.5 % with 3 and 4 (README, *Key from the notes played*).
pub(super) const FIRST_NOTE_WEIGHT: f64 = 3.0;

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
        let bar = b.host_meter.bar();
        let bars = ((b.last_beat - beat) / bar).ceil() + 1.0;
        b.beat_offset += bars * bar;
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
    key_note(b, note, true);
}

/// A completed note into the key estimate (alone for an inner voice of a chord: the key hears
/// it, the melody model does not). Its length in beats is its weight; the first `melody` note
/// weighs [`FIRST_NOTE_WEIGHT`] times more.
pub(super) fn key_note(b: &mut Brain, note: Note, melody: bool) {
    let mut chroma = [0.0f32; 12];
    chroma[(note.pitch % 12) as usize] = 1.0;
    let mut weight = note.duration.clamp(0.25, 4.0);
    if melody && b.keys.pushes() == 0 {
        weight *= 1.0 + FIRST_NOTE_WEIGHT;
    }
    b.keys.push_weighted(&chroma, weight as f32);
}

/// A chord heard in the audio into the key estimate, as `harmony::key::key_with_chords` weighs
/// one (a keyboard's chords count through their notes, `key_note`): its tones
/// share `beats` × [`CHORD_WEIGHT`] (a beat of chord counts as much as a beat of melody), at
/// most 4 beats at a time like a note. N and non-finite or negative lengths add nothing.
pub(super) fn push_chord(keys: &mut KeyEstimator, chord: Chord, beats: f64) {
    if !(beats.is_finite() && beats > 0.0) {
        return;
    }
    let mut tones = [0.0f32; 12];
    for (pc, t) in (0u8..).zip(tones.iter_mut()) {
        if chord.contains(pc) {
            *t = 1.0;
        }
    }
    keys.push_weighted(&tones, (CHORD_WEIGHT * beats).min(4.0) as f32);
}

/// How long after its start (s) a note is watched for a higher key held with it: struck
/// together (or under a held key) it is an inner voice; a legato melody's overlaps (tens of ms)
/// and a pedal's sustain (which follows the start by more) leave it the top voice.
pub(super) const VOICE_WINDOW_S: f64 = 0.1;

/// Called before a key goes down or up at `t` (stream seconds): every open MIDI note under
/// the highest open one was covered by a higher voice since the last key moved (which voice is
/// on top changes only when keys move); the part within its first [`VOICE_WINDOW_S`] counts.
/// The audio tracker's notes (origin index 0) are one voice already: their overlaps are the
/// tracker's release, not a chord.
pub(super) fn key_moves(b: &mut Brain, t: f64) {
    if let Some(from) = b.last_move_s.filter(|&from| t > from) {
        let top = b
            .open
            .iter()
            .skip(1)
            .flat_map(|keys| keys.iter().enumerate())
            .filter(|(_, n)| n.is_some())
            .map(|(pitch, _)| pitch)
            .max();
        if let Some(top) = top {
            for keys in b.open.iter_mut().skip(1) {
                for n in keys[..top].iter_mut().flatten() {
                    let end = t.min(n.start_s + VOICE_WINDOW_S);
                    n.covered_s += (end - from.max(n.start_s)).max(0.0);
                }
            }
        }
    }
    if t.is_finite() {
        b.last_move_s = Some(t);
    }
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
    shared: &Shared,
    params: &ContinuoParams,
    notes_came: bool,
) -> bool {
    let mut frames = 0;
    let sample_rate = shared
        .sample_rate
        .load(std::sync::atomic::Ordering::Relaxed);
    while let Some(f) = ends.frames.try_pop() {
        b.audio_chords.push(&f, sample_rate);
        if f.level_db > -55.0 && f.confidence > 0.5 {
            b.chroma_keys.push(&f.chroma);
            frames += 1;
        }
    }
    let beats_per_s = shared.tempo.load(std::sync::atomic::Ordering::Relaxed) as f64 / 60.0;
    let keys = &mut b.keys;
    let chords_count = b.audio_chords.in_chords();
    b.audio_chords.take_decisions(|chord, seconds| {
        if chords_count {
            push_chord(keys, chord, seconds * beats_per_s);
        }
    });
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

/// The chords heard in the audio input: the recogniser (made for the stream's sample rate when
/// the first frame comes, made again when the rate changes) and its recent chords.
#[derive(Default)]
pub(super) struct AudioChords {
    /// The recogniser; `None` until a frame came.
    listener: Option<ChordListener>,
    /// The recent chords (N left out), oldest first, at most [`RECENT_CHORDS`].
    recent: VecDeque<ChordSpan>,
    /// Stream time (s) of the newest frame: the last chord is shown as still sounding until its
    /// decision is older than the recogniser's lag.
    newest_s: f64,
    /// Leaky mean of the frames' polyphony flag (time constant [`POLY_MEMORY_S`]): the heard
    /// chords count in the key while it is at least [`POLY_SHARE_FOR_KEY`].
    poly_share: f32,
    /// The chord the recogniser has been deciding and for how long (s): handed to the key
    /// estimate when another chord follows.
    key_run: Option<(Chord, f64)>,
}

/// Time constant (s) of [`AudioChords::poly_share`].
const POLY_MEMORY_S: f64 = 2.0;

/// Share of polyphonic frames from which the chords heard in the audio count in the key. A
/// melody played alone carries its key in its notes (the recogniser reads a melody's notes and
/// their reverberation as chords); chords played together leave the note tracker little to hear.
const POLY_SHARE_FOR_KEY: f32 = 0.2;

impl AudioChords {
    /// One feature frame from the audio thread, at `sample_rate`.
    pub(super) fn push(&mut self, frame: &crate::analysis::FeatureFrame, sample_rate: f32) {
        let rate = sample_rate as f64;
        if self
            .listener
            .as_ref()
            .is_none_or(|l| (l.sample_rate() - rate).abs() > 0.5)
        {
            self.listener = Some(ChordListener::new(
                sample_rate,
                crate::analysis::window_len(sample_rate),
                ListenerSettings::default(),
            ));
        }
        if let Some(l) = self.listener.as_mut() {
            let t = frame.time_samples as f64 / l.sample_rate();
            let dt = (t - self.newest_s).clamp(0.0, POLY_MEMORY_S);
            let a = (dt / POLY_MEMORY_S) as f32;
            let flag = if frame.polyphonic { 1.0 } else { 0.0 };
            self.poly_share += (flag - self.poly_share) * a;
            l.push(frame);
            self.newest_s = t;
        }
    }

    /// Whether the input has lately been chords rather than one voice (see
    /// [`POLY_SHARE_FOR_KEY`]).
    pub(super) fn in_chords(&self) -> bool {
        self.poly_share >= POLY_SHARE_FOR_KEY
    }

    /// Takes the recogniser's new decisions into the recent chords; `each` gets every finished
    /// run of one chord (its length in seconds) for the key estimate: a run, not each 0.1 s
    /// step, so that the key's memory (a decay per push) counts chords as it counts notes.
    pub(super) fn take_decisions(&mut self, mut each: impl FnMut(Chord, f64)) {
        if let Some(l) = self.listener.as_mut() {
            let rate = l.sample_rate();
            let run = &mut self.key_run;
            let steps = l.drain().inspect(|s| {
                let seconds = s.end.saturating_sub(s.start) as f64 / rate.max(1.0);
                match run {
                    Some((chord, length)) if *chord == s.chord => *length += seconds,
                    _ => {
                        if let Some((chord, length)) = run.replace((s.chord, seconds)) {
                            each(chord, length);
                        }
                    }
                }
            });
            join_steps(&mut self.recent, steps, rate, RECENT_CHORDS, false);
        }
    }

    /// The recent chords for the editor; the newest is open (`end_s` `None`) while no later
    /// decision can have ended it yet.
    pub(super) fn recent(&self) -> impl Iterator<Item = ChordSpan> + '_ {
        let lag_s = self.listener.as_ref().map_or(0.0, |l| {
            let s = l.settings();
            (s.lag_steps + 2) as f64 * s.step_s
        });
        let last = self.recent.len().saturating_sub(1);
        self.recent.iter().enumerate().map(move |(i, span)| {
            let mut span = *span;
            if i == last && span.end_s.is_some_and(|e| e + lag_s >= self.newest_s) {
                span.end_s = None;
            }
            span
        })
    }

    /// Forgets the chords (the stream clock restarted).
    pub(super) fn reset(&mut self) {
        if let Some(l) = self.listener.as_mut() {
            l.reset();
        }
        self.recent.clear();
        self.newest_s = 0.0;
        self.poly_share = 0.0;
        self.key_run = None;
    }
}
