//! AUDIO THREAD: turns the armed phrase into sample-accurate NoteOn/NoteOff events.
//!
//! Playback is a small state machine driven in stream time (samples since activation):
//! `advance_to(t)` emits every event before `t`; player notes arrive through
//! [`Playback::player_note_on`] / [`Playback::player_note_off`] at their exact sample, so the
//! result does not depend on how the host slices the stream into blocks. Note times are computed
//! once, when a phrase starts, from the tempo at that moment and rounded to whole samples.
//!
//! Nothing here allocates: phrases arrive as fixed-size [`PhraseBuf`]s and events go into the
//! fixed-capacity [`EventQueue`].

use crate::bridge::{
    NoteOrigin, PhraseBuf, PlaybackStatus, Stamp, MAX_CHORD_NOTES, MAX_PHRASE_NOTES,
};
use crate::params::ResponseMode;

/// Largest number of output events one block can hold; more are dropped and counted.
pub const EVENT_CAPACITY: usize = 1024;

/// What an output event does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutKind {
    On,
    Off,
    /// A MIDI controller (MIDI thru of the player's keyboard); value 0..1.
    Cc {
        cc: u8,
        value: f32,
    },
    /// Pitch bend, 0..1 with 0.5 the centre.
    PitchBend(f32),
    ChannelPressure(f32),
    /// Polyphonic key pressure of `pitch`.
    PolyPressure(f32),
    Program(u8),
}

/// Who owns a sounding output note. The answer and the player's MIDI thru share the MIDI
/// channels but never each other's notes: the answer does not start a key the player holds, a
/// player's key takes over a key the answer sounds, and each one's NoteOff only ends its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    Answer = 0,
    Thru = 1,
    /// Chord notes (under the answer, or under the player), on the chord channel. Like the
    /// answer, a chord never takes a key the player holds through thru.
    Chord = 2,
}

/// Every owner of output notes.
const VOICES: [Voice; 3] = [Voice::Answer, Voice::Thru, Voice::Chord];

/// An output event, `time` relative to the current block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutEvent {
    pub time: u32,
    pub kind: OutKind,
    /// 0..15
    pub channel: u8,
    pub pitch: u8,
    pub velocity: f32,
    /// Order of insertion, to keep the sort stable without allocating.
    seq: u32,
}

/// The block's outgoing events plus the set of sounding output notes per owner, so that every
/// NoteOn gets exactly one NoteOff and a key is never switched on twice.
pub struct EventQueue {
    events: [OutEvent; EVENT_CAPACITY],
    len: usize,
    seq: u32,
    /// Sounding output notes per owner ([`Voice`]) and channel, one bit per key.
    sounding: [[u128; 16]; 3],
    /// Events that did not fit (the matching NoteOff is still sent later by `all_off`).
    pub dropped: u64,
}

impl Default for EventQueue {
    fn default() -> Self {
        Self {
            events: [OutEvent {
                time: 0,
                kind: OutKind::Off,
                channel: 0,
                pitch: 0,
                velocity: 0.0,
                seq: 0,
            }; EVENT_CAPACITY],
            len: 0,
            seq: 0,
            sounding: [[0; 16]; 3],
            dropped: 0,
        }
    }
}

impl EventQueue {
    fn push(&mut self, time: u32, kind: OutKind, channel: u8, pitch: u8, velocity: f32) -> bool {
        if self.len >= EVENT_CAPACITY {
            self.dropped += 1;
            return false;
        }
        self.events[self.len] = OutEvent {
            time,
            kind,
            channel,
            pitch,
            velocity,
            seq: self.seq,
        };
        self.seq = self.seq.wrapping_add(1);
        self.len += 1;
        true
    }

    /// Whether `pitch` sounds on `channel`, whoever owns it.
    pub fn is_sounding(&self, channel: u8, pitch: u8) -> bool {
        VOICES.iter().any(|&v| self.owns(v, channel, pitch))
    }

    /// Whether `voice` sounds any note.
    pub fn voice_sounding(&self, voice: Voice) -> bool {
        self.sounding[voice as usize].iter().any(|&b| b != 0)
    }

    fn owns(&self, voice: Voice, channel: u8, pitch: u8) -> bool {
        self.sounding[voice as usize][(channel & 15) as usize] & (1u128 << (pitch & 127)) != 0
    }

    /// Starts a note for `voice`. A key that already sounds is released first; the answer does
    /// not take a key the player holds through MIDI thru.
    pub fn note_on(&mut self, time: u32, channel: u8, pitch: u8, velocity: f32, voice: Voice) {
        let (channel, pitch) = (channel & 15, pitch & 127);
        if voice != Voice::Thru && self.owns(Voice::Thru, channel, pitch) {
            return;
        }
        for owner in VOICES {
            self.note_off(time, channel, pitch, owner);
        }
        // Reserve room for the matching NoteOff so a full queue cannot strand a note.
        if self.len + 2 > EVENT_CAPACITY {
            self.dropped += 1;
            return;
        }
        if self.push(
            time,
            OutKind::On,
            channel,
            pitch,
            velocity.clamp(1.0 / 127.0, 1.0),
        ) {
            self.sounding[voice as usize][channel as usize] |= 1u128 << pitch;
        }
    }

    /// Releases a note if `voice` sounds it (otherwise nothing is sent).
    pub fn note_off(&mut self, time: u32, channel: u8, pitch: u8, voice: Voice) {
        let (channel, pitch) = (channel & 15, pitch & 127);
        if self.owns(voice, channel, pitch) && self.push(time, OutKind::Off, channel, pitch, 0.0) {
            self.sounding[voice as usize][channel as usize] &= !(1u128 << pitch);
        }
    }

    /// A controller, bend, pressure or program change (MIDI thru); dropped and counted when the
    /// block is full, keeping room for NoteOffs.
    pub fn midi(&mut self, time: u32, channel: u8, kind: OutKind, pitch: u8) {
        if self.len + 2 > EVENT_CAPACITY {
            self.dropped += 1;
            return;
        }
        self.push(time, kind, channel & 15, pitch & 127, 0.0);
    }

    /// Releases every note `voice` sounds at `time`.
    pub fn release(&mut self, time: u32, voice: Voice) {
        for channel in 0..16u8 {
            self.release_channel(time, channel, voice);
        }
    }

    /// Releases every note `voice` sounds on `channel` at `time`.
    pub fn release_channel(&mut self, time: u32, channel: u8, voice: Voice) {
        let mut bits = self.sounding[voice as usize][(channel & 15) as usize];
        while bits != 0 {
            let pitch = bits.trailing_zeros() as u8;
            bits &= bits - 1;
            self.note_off(time, channel, pitch, voice);
        }
    }

    /// Releases every sounding note at `time`.
    pub fn all_off(&mut self, time: u32) {
        for voice in VOICES {
            self.release(time, voice);
        }
    }

    pub fn any_sounding(&self) -> bool {
        self.sounding.iter().flatten().any(|&b| b != 0)
    }

    /// The block's events in time order (NoteOff before NoteOn at the same sample as inserted).
    pub fn sorted(&mut self) -> &[OutEvent] {
        let events = &mut self.events[..self.len];
        events.sort_unstable_by_key(|e| (e.time, e.seq));
        events
    }

    /// Empties the block's events (sounding notes are remembered).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The current block's place in time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Stream sample of the block's first sample.
    pub start: u64,
    pub len: u32,
    pub sample_rate: f64,
    /// Beats per minute in force for this block.
    pub tempo: f64,
    /// Beat position of the block's first sample (the host's when it runs, else internal).
    pub beat_at_start: f64,
}

impl Clock {
    pub fn samples_per_beat(&self) -> f64 {
        self.sample_rate * 60.0 / self.tempo.clamp(1.0, 1000.0)
    }

    pub fn end(&self) -> u64 {
        self.start + self.len as u64
    }

    pub fn beat_at(&self, t: u64) -> f64 {
        self.beat_at_start + (t as f64 - self.start as f64) / self.samples_per_beat()
    }

    /// Stream sample `t` in both clocks.
    pub fn stamp(&self, t: u64) -> Stamp {
        Stamp {
            sample: t,
            beat: self.beat_at(t),
        }
    }

    fn sample_at_beat(&self, beat: f64) -> u64 {
        let s = self.start as f64 + (beat - self.beat_at_start) * self.samples_per_beat();
        if s.is_finite() && s > 0.0 {
            s.round() as u64
        } else {
            0
        }
    }

    /// The first grid line at or after `t` (or `t` when the grid is off).
    pub fn align(&self, t: u64, grid: Option<f64>) -> u64 {
        match grid {
            Some(g) if g > 0.0 => {
                let b = self.beat_at(t);
                // Within one sample of a line counts as on it (note times are whole samples).
                let tolerance = 1.0 / (g * self.samples_per_beat()) + 1e-9;
                let line = (b / g - tolerance).ceil() * g;
                self.sample_at_beat(line).max(t)
            }
            _ => t,
        }
    }
}

/// Playback settings read from the parameters once per block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub mode: ResponseMode,
    pub gap_beats: f64,
    pub stop_on_return: bool,
    pub grid: Option<f64>,
    pub swing: f64,
    /// 0..15
    pub channel: u8,
    pub transpose: i32,
    pub length_scale: f64,
    /// Play the answer's chord notes (*Harmony* = *Chords under the answer*).
    pub answer_chords: bool,
    /// Channel of the chord notes, 0..15.
    pub chord_channel: u8,
    /// Chord velocity scale (*Chord level*).
    pub chord_level: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: ResponseMode::CallAndResponse,
            gap_beats: 1.0,
            stop_on_return: true,
            grid: Some(0.25),
            swing: 0.0,
            channel: 0,
            transpose: 0,
            length_scale: 1.0,
            answer_chords: false,
            chord_channel: 1,
            chord_level: 0.7,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Scheduled {
    channel: u8,
    pitch: u8,
    velocity: f32,
    on: u64,
    off: u64,
    started: bool,
    ended: bool,
}

/// The playback state machine.
pub struct Playback {
    /// The newest phrase from the model thread, ready to play.
    armed: Option<PhraseBuf>,
    /// The phrase being played, with absolute note times.
    sched: [Scheduled; MAX_PHRASE_NOTES],
    sched_len: usize,
    /// The chord notes under the playing phrase (absolute times, ending by the phrase's end);
    /// played with [`Voice::Chord`].
    chord_sched: [Scheduled; MAX_CHORD_NOTES],
    chord_len: usize,
    /// Generation of the scheduled phrase (0 = none).
    generation: u32,
    /// Stream sample at which the scheduled phrase starts.
    phrase_start: u64,
    /// Generation of the last phrase started (never replay the same answer to one call).
    last_started: u32,
    /// Keys the player holds now, per source (audio, each MIDI channel), one bit per key (a set,
    /// not a count: a doubled NoteOn or a NoteOff lost during bypass cannot leave the player
    /// "holding" forever; a NoteOff on one channel does not release a key held on another).
    held: [u128; NoteOrigin::COUNT],
    /// Stream sample of the player's last note start or end.
    last_player_event: Option<u64>,
    /// Set by the Play button/parameter; served at the next `advance_to`.
    play_requested: Option<u64>,
    /// Where `advance_to` has got to.
    now: u64,
    /// Set when the answer was stopped (transport stop, bypass, Stop): no automatic start until
    /// the player plays again or Play is pressed.
    paused: bool,
    /// The playing phrase came again with its chords (the model thread sends the melody first):
    /// they are scheduled at the next `advance_to`, those already due skipped.
    late_chords: bool,
}

impl Default for Playback {
    fn default() -> Self {
        Self {
            armed: None,
            sched: [Scheduled::default(); MAX_PHRASE_NOTES],
            sched_len: 0,
            chord_sched: [Scheduled::default(); MAX_CHORD_NOTES],
            chord_len: 0,
            generation: 0,
            phrase_start: 0,
            last_started: 0,
            held: [0; NoteOrigin::COUNT],
            last_player_event: None,
            play_requested: None,
            now: 0,
            paused: false,
            late_chords: false,
        }
    }
}

impl Playback {
    /// Forgets everything but the armed phrase (stream clock restarts). Sounding notes are the
    /// [`EventQueue`]'s business: the caller releases them.
    pub fn reset(&mut self) {
        let armed = self.armed.take();
        *self = Self::default();
        self.armed = armed;
    }

    pub fn playing_generation(&self) -> u32 {
        if self.sched_len > 0 {
            self.generation
        } else {
            0
        }
    }

    pub fn phrase_start(&self) -> u64 {
        self.phrase_start
    }

    pub fn armed_generation(&self) -> u32 {
        self.armed.map(|a| a.generation).unwrap_or(0)
    }

    pub fn is_playing(&self) -> bool {
        self.sched_len > 0
    }

    /// A new phrase from the model thread replaces the armed one.
    pub fn arm(&mut self, phrase: PhraseBuf) {
        if phrase.generation == self.generation && self.is_playing() && phrase.chords_len > 0 {
            self.late_chords = self.chord_len == 0;
        }
        self.armed = Some(phrase);
    }

    /// Starts the armed phrase at the next grid line from `at`.
    pub fn request_play(&mut self, at: u64) {
        // Nothing to play yet: the request is not kept for later (no surprise answers).
        if self.armed.is_some_and(|a| a.len > 0) {
            self.play_requested = Some(at);
        }
    }

    /// Stops automatic answers (continuous mode included) until the player plays again or Play is
    /// pressed.
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Forgets that the player holds `keys` on `origin` (released elsewhere: a bypass, a source
    /// no longer listened to).
    pub fn forget_keys(&mut self, origin: NoteOrigin, keys: u128) {
        self.held[origin.index()] &= !keys;
    }

    /// Whether the player holds any key (any source).
    pub fn player_holding(&self) -> bool {
        self.held.iter().any(|&h| h != 0)
    }

    /// The keys the player holds on `origin`, one bit per key.
    pub fn held_keys(&self, origin: NoteOrigin) -> u128 {
        self.held[origin.index()]
    }

    /// Whether Continuo still has something to do with no input: a phrase playing, or a call
    /// that an automatic answer (call and response, continuous) has not followed yet — for at
    /// most `patience` samples after the call's last note, so a model that cannot answer does
    /// not keep the host awake for ever.
    pub fn busy(&self, now: u64, s: &Settings, patience: u64) -> bool {
        if self.is_playing() || self.play_requested.is_some() {
            return true;
        }
        let answers_itself = s.mode != ResponseMode::SuggestOnly && !self.paused;
        let awaiting = self.last_started == 0
            && self
                .last_player_event
                .is_some_and(|last| now.saturating_sub(last) < patience);
        answers_itself && awaiting
    }

    #[allow(clippy::too_many_arguments)]
    pub fn player_note_on(
        &mut self,
        t: u64,
        origin: NoteOrigin,
        pitch: u8,
        clock: &Clock,
        s: &Settings,
        out: &mut EventQueue,
        status: &mut impl FnMut(PlaybackStatus),
    ) {
        self.advance_to(t, clock, s, out, status);
        self.held[origin.index()] |= 1u128 << (pitch & 127);
        self.paused = false;
        self.last_player_event = Some(t);
        // The player is back: the next pause deserves a new answer.
        self.last_started = 0;
        if s.stop_on_return && s.mode == ResponseMode::CallAndResponse && self.is_playing() {
            self.stop(t, clock, out, status);
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn player_note_off(
        &mut self,
        t: u64,
        origin: NoteOrigin,
        pitch: u8,
        clock: &Clock,
        s: &Settings,
        out: &mut EventQueue,
        status: &mut impl FnMut(PlaybackStatus),
    ) {
        self.advance_to(t, clock, s, out, status);
        self.held[origin.index()] &= !(1u128 << (pitch & 127));
        self.last_player_event = Some(t);
    }

    /// Cuts the playing phrase at `t`: its sounding notes get their NoteOff at `t`.
    pub fn stop(
        &mut self,
        t: u64,
        clock: &Clock,
        out: &mut EventQueue,
        status: &mut impl FnMut(PlaybackStatus),
    ) {
        if self.sched_len == 0 {
            return;
        }
        let at = offset(t, clock);
        for n in &mut self.sched[..self.sched_len] {
            if n.started && !n.ended {
                out.note_off(at, n.channel, n.pitch, Voice::Answer);
            }
            n.ended = true;
        }
        self.drop_chords(at, out);
        status(PlaybackStatus::Ended {
            generation: self.generation,
            at: clock.stamp(t),
            cut: true,
        });
        self.sched_len = 0;
        self.play_requested = None;
    }

    /// Emits every event before `t` (which must lie within the current block or at its end).
    pub fn advance_to(
        &mut self,
        t: u64,
        clock: &Clock,
        s: &Settings,
        out: &mut EventQueue,
        status: &mut impl FnMut(PlaybackStatus),
    ) {
        let t = t.max(self.now);
        self.add_late_chords(clock, s);
        // Phrases may end and new ones start within the window: loop over those moments
        // (bounded: each pass either ends a phrase or starts one, at most twice per call).
        for _ in 0..4 {
            self.maybe_start(t, clock, s, out, status);
            if !self.emit_until(t, clock, out, status) {
                break;
            }
        }
        self.now = t;
    }

    /// Decides whether the armed phrase starts before `t`; if so schedules it.
    fn maybe_start(
        &mut self,
        t: u64,
        clock: &Clock,
        s: &Settings,
        out: &mut EventQueue,
        status: &mut impl FnMut(PlaybackStatus),
    ) {
        let Some(armed) = self.armed else { return };
        if armed.len == 0 {
            return;
        }
        if let Some(at) = self.play_requested {
            if !self.is_playing() || s.mode != ResponseMode::Continuous {
                if at >= t {
                    return;
                }
                let at = at.max(self.now);
                // A new phrase replaces the playing one: its sounding notes end now.
                self.stop(at, clock, out, status);
                let start = clock.align(at, s.grid);
                self.play_requested = None;
                self.schedule(armed, start, clock, s, status);
                return;
            }
        }
        if self.is_playing() || armed.generation == self.last_started || self.paused {
            return;
        }
        match s.mode {
            ResponseMode::SuggestOnly => {}
            ResponseMode::CallAndResponse | ResponseMode::Continuous => {
                if self.player_holding() {
                    return;
                }
                let Some(last) = self.last_player_event else {
                    return;
                };
                if s.mode == ResponseMode::CallAndResponse && armed.heard_until < last {
                    // The model has not yet answered the latest call.
                    return;
                }
                // In continuous mode the next phrase follows the previous one without a gap.
                let gap = (s.gap_beats.max(0.0) * clock.samples_per_beat()).round() as u64;
                let due = if s.mode == ResponseMode::Continuous && self.last_started != 0 {
                    self.now
                } else {
                    last + gap
                };
                if due < t {
                    let start = clock.align(due.max(self.now), s.grid);
                    self.schedule(armed, start, clock, s, status);
                }
            }
        }
    }

    fn schedule(
        &mut self,
        phrase: PhraseBuf,
        start: u64,
        clock: &Clock,
        s: &Settings,
        status: &mut impl FnMut(PlaybackStatus),
    ) {
        let spb = clock.samples_per_beat();
        let start_beat = clock.beat_at(start);
        let mut len = 0;
        // How far the previous note moved to its grid line (beats).
        let mut moved = 0.0;
        for n in phrase.notes() {
            let mut onset = n.onset_beats.max(0.0);
            let drawn = onset;
            if let Some(g) = s.grid {
                // Quantise relative to the (grid-aligned) start, then swing the off-beats.
                onset = (onset / g).round() * g;
                let k = ((start_beat + onset) / g).round() as i64;
                if s.swing > 0.0 && k.rem_euclid(2) == 1 {
                    onset += s.swing.clamp(0.0, 0.9) * g;
                }
            }
            let length = (n.length_beats * s.length_scale).max(1.0 / 64.0);
            let on = start + (onset * spb).round() as u64;
            let off = on + ((length * spb).round() as u64).max(1);
            let distance = (onset - drawn).abs();
            if len > 0 && on == self.sched[len - 1].on {
                // Quantised onto the previous note's onset: a melody never starts two notes at
                // once (the sampler draws on the grid; this is the net). The note drawn nearer
                // the line stays (the earlier one on a tie).
                if distance >= moved - 1e-9 {
                    continue;
                }
                len -= 1;
            }
            moved = distance;
            let pitch = (n.pitch as i32 + s.transpose).clamp(0, 127) as u8;
            // The model thread shaped the velocities on the player's dynamics (worker/perform.rs).
            let velocity = n.velocity.clamp(1.0 / 127.0, 1.0);
            self.sched[len] = Scheduled {
                channel: s.channel & 15,
                pitch,
                velocity,
                on,
                off,
                started: false,
                ended: false,
            };
            len += 1;
        }
        // Notes in time order; a note never outlasts the next start of the same key.
        self.sched[..len].sort_unstable_by_key(|n| n.on);
        // Out of order in the phrase, two notes may still share an onset: keep one.
        let mut kept = 0;
        for i in 0..len {
            if kept == 0 || self.sched[i].on != self.sched[kept - 1].on {
                self.sched[kept] = self.sched[i];
                kept += 1;
            }
        }
        let len = kept;
        if !phrase.legato {
            // Not legato: a note ends by the next onset, also after the grid moved that onset
            // earlier than the note's drawn end (issue 15: 150 ms notes on a 125 ms grid).
            let mut next_on = u64::MAX;
            for i in (0..len).rev() {
                let n = &mut self.sched[i];
                if next_on > n.on {
                    n.off = n.off.min(next_on);
                }
                if i > 0 && self.sched[i - 1].on < self.sched[i].on {
                    next_on = self.sched[i].on;
                }
            }
        }
        for i in 0..len {
            for j in i + 1..len {
                if self.sched[j].pitch == self.sched[i].pitch {
                    if self.sched[j].on <= self.sched[i].off {
                        self.sched[i].off = self.sched[j].on.max(self.sched[i].on + 1);
                    }
                    break;
                }
            }
        }
        self.sched_len = len;
        self.schedule_chords(&phrase, start, spb, s);
        self.generation = phrase.generation;
        self.last_started = phrase.generation;
        self.phrase_start = start;
        status(PlaybackStatus::Started {
            generation: phrase.generation,
            at: clock.stamp(start),
        });
    }

    /// Emits the scheduled events before `t`. Returns true when the phrase ended in the window
    /// (so the caller can consider starting the next one).
    fn emit_until(
        &mut self,
        t: u64,
        clock: &Clock,
        out: &mut EventQueue,
        status: &mut impl FnMut(PlaybackStatus),
    ) -> bool {
        if self.sched_len == 0 {
            return false;
        }
        self.emit_chords_until(t, clock, out);
        // Offs first at equal times, so repeated keys re-trigger cleanly.
        let mut last_off = 0;
        for n in &mut self.sched[..self.sched_len] {
            if n.started && !n.ended && n.off < t {
                out.note_off(offset(n.off, clock), n.channel, n.pitch, Voice::Answer);
                n.ended = true;
            }
            if !n.started && n.on < t {
                let at = offset(n.on, clock);
                out.note_on(at, n.channel, n.pitch, n.velocity, Voice::Answer);
                n.started = true;
                if n.off < t {
                    out.note_off(offset(n.off, clock), n.channel, n.pitch, Voice::Answer);
                    n.ended = true;
                }
            }
            last_off = last_off.max(n.off);
        }
        if self.sched[..self.sched_len].iter().all(|n| n.ended) {
            // The chords end with the melody (their offs are capped there already).
            self.drop_chords(offset(last_off, clock), out);
            status(PlaybackStatus::Ended {
                generation: self.generation,
                at: clock.stamp(last_off),
                cut: false,
            });
            self.sched_len = 0;
            self.now = last_off.max(self.now);
            return true;
        }
        false
    }
}

// ---- Chords under the answer (issue 16 part 4) ---------------------------------------------

impl Playback {
    /// Schedules the phrase's chord notes from `start` (stream samples; `spb` samples per
    /// beat), when the settings play them: on the chord channel at the chord level, each ending
    /// by the melody's last note off so no chord outlasts the answer. Their onsets are whole
    /// beats of the answer (the grid moved the start, not them); no swing.
    fn schedule_chords(&mut self, phrase: &PhraseBuf, start: u64, spb: f64, s: &Settings) {
        self.chord_len = 0;
        if !s.answer_chords {
            return;
        }
        let end = self.sched[..self.sched_len]
            .iter()
            .map(|n| n.off)
            .max()
            .unwrap_or(start);
        for n in phrase.chord_notes() {
            let on = start + (n.onset_beats.max(0.0) * spb).round() as u64;
            let off = (on + ((n.length_beats.max(0.0) * spb).round() as u64).max(1)).min(end);
            if on >= off || self.chord_len >= MAX_CHORD_NOTES {
                continue;
            }
            self.chord_sched[self.chord_len] = Scheduled {
                channel: s.chord_channel & 15,
                pitch: n.pitch.min(127),
                velocity: (n.velocity * s.chord_level).clamp(1.0 / 127.0, 1.0),
                on,
                off,
                started: false,
                ended: false,
            };
            self.chord_len += 1;
        }
        // The same key in consecutive chords: the earlier one ends by the later one's start.
        let len = self.chord_len;
        self.chord_sched[..len].sort_unstable_by_key(|n| n.on);
        for i in 0..len {
            for j in i + 1..len {
                if self.chord_sched[j].pitch == self.chord_sched[i].pitch {
                    if self.chord_sched[j].on <= self.chord_sched[i].off {
                        self.chord_sched[i].off = self.chord_sched[j].on;
                    }
                    break;
                }
            }
        }
    }

    /// Emits the chord notes' events before `t` (offs first, so a key held over a chord change
    /// re-triggers cleanly).
    fn emit_chords_until(&mut self, t: u64, clock: &Clock, out: &mut EventQueue) {
        for n in &mut self.chord_sched[..self.chord_len] {
            if n.started && !n.ended && n.off < t {
                out.note_off(offset(n.off, clock), n.channel, n.pitch, Voice::Chord);
                n.ended = true;
            }
        }
        for n in &mut self.chord_sched[..self.chord_len] {
            if !n.started && n.on < t {
                out.note_on(
                    offset(n.on, clock),
                    n.channel,
                    n.pitch,
                    n.velocity,
                    Voice::Chord,
                );
                n.started = true;
                if n.off < t {
                    out.note_off(offset(n.off, clock), n.channel, n.pitch, Voice::Chord);
                    n.ended = true;
                }
            }
        }
    }

    /// Ends the answer's chord notes at block offset `at` (those sounding get their NoteOff);
    /// none is started afterwards. Called when the answer ends or is cut, and when the harmony
    /// mode or the chord channel changes.
    pub fn drop_chords(&mut self, at: u32, out: &mut EventQueue) {
        for n in &mut self.chord_sched[..self.chord_len] {
            if n.started && !n.ended {
                out.note_off(at, n.channel, n.pitch, Voice::Chord);
            }
            n.ended = true;
        }
        self.chord_len = 0;
    }

    /// The playing phrase's chords when they came after it started: those not yet due.
    fn add_late_chords(&mut self, clock: &Clock, s: &Settings) {
        if !std::mem::take(&mut self.late_chords) {
            return;
        }
        let Some(phrase) = self.armed.filter(|a| a.generation == self.generation) else {
            return;
        };
        if !self.is_playing() {
            return;
        }
        self.schedule_chords(&phrase, self.phrase_start, clock.samples_per_beat(), s);
        let now = self.now;
        for n in &mut self.chord_sched[..self.chord_len] {
            if n.on < now {
                n.started = true;
                n.ended = true;
            }
        }
    }

    /// Whether any of the answer's chord notes sounds.
    pub fn chords_sounding(&self) -> bool {
        self.chord_sched[..self.chord_len]
            .iter()
            .any(|n| n.started && !n.ended)
    }
}

// ---- end chords under the answer -----------------------------------------------------------

/// Position of stream sample `t` inside the block, clamped to it.
fn offset(t: u64, clock: &Clock) -> u32 {
    let max = clock.len.saturating_sub(1) as u64;
    t.saturating_sub(clock.start).min(max) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::PhraseNote;

    const SR: f64 = 48_000.0;
    const MIDI: NoteOrigin = NoteOrigin::Midi(0);

    fn phrase(generation: u32, heard_until: u64, notes: &[(u8, f64, f64)]) -> PhraseBuf {
        let mut buf = PhraseBuf {
            generation,
            heard_until,
            ..Default::default()
        };
        for (i, &(pitch, onset, len)) in notes.iter().enumerate() {
            buf.notes[i] = PhraseNote {
                pitch,
                velocity: 0.8,
                onset_beats: onset,
                length_beats: len,
            };
            buf.len += 1;
        }
        buf
    }

    /// Runs the state machine over `total` samples in blocks of `block`, with player notes
    /// `(time, on, pitch)`, and returns the output as `(absolute time, kind, channel, pitch)`.
    fn simulate(
        block: usize,
        tempo: f64,
        player: &[(u64, bool, u8)],
        armed: PhraseBuf,
        total: u64,
        s: Settings,
    ) -> Vec<(u64, OutKind, u8, u8)> {
        let mut pb = Playback::default();
        pb.arm(armed);
        let mut q = EventQueue::default();
        let mut out = vec![];
        let mut start = 0u64;
        let mut status = |_s: PlaybackStatus| {};
        while start < total {
            let len = (block as u64).min(total - start) as u32;
            let clock = Clock {
                start,
                len,
                sample_rate: SR,
                tempo,
                beat_at_start: start as f64 / SR * tempo / 60.0,
            };
            q.clear();
            for &(t, on, _pitch) in player
                .iter()
                .filter(|(t, _, _)| *t >= start && *t < clock.end())
            {
                if on {
                    pb.player_note_on(t, MIDI, _pitch, &clock, &s, &mut q, &mut status);
                } else {
                    pb.player_note_off(t, MIDI, _pitch, &clock, &s, &mut q, &mut status);
                }
            }
            pb.advance_to(clock.end(), &clock, &s, &mut q, &mut status);
            for e in q.sorted() {
                out.push((start + e.time as u64, e.kind, e.channel, e.pitch));
            }
            start = clock.end();
        }
        out
    }

    fn balanced(events: &[(u64, OutKind, u8, u8)]) -> bool {
        let mut on = std::collections::HashSet::new();
        for &(_, kind, ch, p) in events {
            match kind {
                OutKind::On if !on.insert((ch, p)) => return false,
                OutKind::Off if !on.remove(&(ch, p)) => return false,
                _ => {}
            }
        }
        on.is_empty()
    }

    #[test]
    fn answers_after_the_gap_on_the_grid_in_every_block_size() {
        // 120 bpm at 48 kHz: a beat is 24 000 samples. The player's note ends at 30 000; the gap
        // is one beat, so the answer is due at 54 000 and starts on the next 1/4 line, 72 000.
        let s = Settings {
            grid: Some(1.0),
            channel: 2,
            ..Default::default()
        };
        let player = [(1000, true, 60), (30_000, false, 60)];
        let armed = phrase(1, 30_000, &[(62, 0.0, 0.5), (64, 0.5, 0.5), (65, 1.0, 1.0)]);
        let reference = simulate(64, 120.0, &player, armed, 200_000, s);
        assert_eq!(
            reference.first().map(|e| (e.0, e.1, e.2, e.3)),
            Some((72_000, OutKind::On, 2, 62))
        );
        // 64 (drawn at 0.5) and 65 (at 1.0) meet on the 1/4 line at 1.0: 65, drawn there, stays
        // (two notes used to start at once).
        let keys: Vec<u8> = reference.iter().map(|e| e.3).collect();
        assert_eq!(keys, vec![62, 62, 65, 65], "{reference:?}");
        assert!(balanced(&reference));
        for block in [1, 7, 512, 4096, 16384] {
            assert_eq!(
                simulate(block, 120.0, &player, armed, 200_000, s),
                reference,
                "block size {block}"
            );
        }
    }

    #[test]
    fn doubled_note_on_does_not_hold_forever() {
        let s = Settings {
            grid: None,
            ..Default::default()
        };
        let player = [(0, true, 60), (100, true, 60), (10_000, false, 60)];
        let armed = phrase(1, 10_000, &[(62, 0.0, 1.0)]);
        let out = simulate(256, 120.0, &player, armed, 100_000, s);
        assert_eq!(out.first().map(|e| e.0), Some(10_000 + 24_000));
    }

    #[test]
    fn tempo_sets_note_times() {
        let s = Settings {
            grid: None,
            gap_beats: 0.5,
            ..Default::default()
        };
        let player = [(0, true, 60), (1000, false, 60)];
        let armed = phrase(1, 1000, &[(62, 0.0, 1.0), (64, 1.0, 1.0)]);
        for tempo in [60.0, 120.0, 174.0] {
            let spb = SR * 60.0 / tempo;
            let out = simulate(100, tempo, &player, armed, 400_000, s);
            let start = 1000 + (0.5 * spb).round() as u64;
            let ons: Vec<u64> = out
                .iter()
                .filter(|e| e.1 == OutKind::On)
                .map(|e| e.0)
                .collect();
            assert_eq!(
                ons,
                vec![start, start + spb.round() as u64],
                "tempo {tempo}"
            );
            assert!(balanced(&out));
        }
    }

    #[test]
    fn waits_for_a_phrase_that_heard_the_whole_call() {
        let s = Settings {
            grid: None,
            ..Default::default()
        };
        let player = [(0, true, 60), (10_000, false, 60)];
        // Computed before the last note-off: not an answer to this call.
        let stale = phrase(1, 0, &[(62, 0.0, 1.0)]);
        assert!(simulate(256, 120.0, &player, stale, 200_000, s).is_empty());
    }

    #[test]
    fn the_player_coming_back_cuts_the_answer() {
        let s = Settings {
            grid: None,
            gap_beats: 0.25,
            ..Default::default()
        };
        // Answer due at 2000 + 6000 = 8000; its first note lasts 4 beats (96 000 samples).
        let player = [
            (0, true, 60),
            (2000, false, 60),
            (20_000, true, 67),
            (30_000, false, 67),
        ];
        let armed = phrase(1, 2000, &[(62, 0.0, 4.0), (64, 4.0, 1.0)]);
        let out = simulate(128, 120.0, &player, armed, 300_000, s);
        assert_eq!(out[0], (8000, OutKind::On, 0, 62));
        assert_eq!(
            out[1],
            (20_000, OutKind::Off, 0, 62),
            "cut exactly when the player returns"
        );
        assert!(balanced(&out));
        // The same phrase is not replayed after the player's second call (it has not heard it).
        assert_eq!(out.len(), 2, "{out:?}");
    }

    #[test]
    fn suggest_only_plays_on_request_and_swing_delays_off_beats() {
        let s = Settings {
            mode: ResponseMode::SuggestOnly,
            grid: Some(0.5),
            swing: 0.5,
            ..Default::default()
        };
        let mut pb = Playback::default();
        pb.arm(phrase(
            1,
            0,
            &[(60, 0.0, 0.25), (62, 0.5, 0.25), (64, 1.0, 0.25)],
        ));
        let mut q = EventQueue::default();
        let mut status = |_s: PlaybackStatus| {};
        let clock = Clock {
            start: 0,
            len: 48_000,
            sample_rate: SR,
            tempo: 120.0,
            beat_at_start: 0.0,
        };
        pb.advance_to(10_000, &clock, &s, &mut q, &mut status);
        assert!(q.is_empty(), "suggest only: nothing without a request");
        pb.request_play(10_000);
        pb.advance_to(48_000, &clock, &s, &mut q, &mut status);
        let ons: Vec<u32> = q
            .sorted()
            .iter()
            .filter(|e| e.kind == OutKind::On)
            .map(|e| e.time)
            .collect();
        // Next 1/8 line after 10 000 is 12 000 (beat 0.5, an off-beat: swung by 0.25 beat = 6000).
        assert_eq!(ons, vec![18_000, 24_000, 42_000]);
    }

    #[test]
    fn queue_never_double_starts_or_strands_a_key() {
        let mut q = EventQueue::default();
        q.note_on(0, 0, 60, 0.5, Voice::Answer);
        q.note_on(10, 0, 60, 0.5, Voice::Answer);
        q.note_off(20, 0, 61, Voice::Answer);
        q.all_off(30);
        let ev: Vec<(u32, OutKind)> = q.sorted().iter().map(|e| (e.time, e.kind)).collect();
        assert_eq!(
            ev,
            vec![
                (0, OutKind::On),
                (10, OutKind::Off),
                (10, OutKind::On),
                (30, OutKind::Off)
            ]
        );
        assert!(!q.any_sounding());
        // A full queue drops note-ons but keeps room for the offs of what sounds.
        let mut q = EventQueue::default();
        for i in 0..(EVENT_CAPACITY as u32) {
            q.note_on(i, (i % 16) as u8, (i / 16) as u8, 0.5, Voice::Answer);
        }
        assert!(q.dropped > 0);
        // Offs that do not fit this block stay pending and go out in the next one.
        q.all_off(0);
        q.clear();
        q.all_off(0);
        assert!(!q.any_sounding());
    }

    /// Issue 15: triplet-eighth notes sounding 0.3 beats (150 ms at 120 bpm) quantised to the
    /// 1/16 grid (125 ms): the second onset moves from 1/3 to 1/4 beat, before the first note's
    /// end. A note that did not overlap the next as drawn must not overlap it once quantised;
    /// a legato phrase keeps its overlaps.
    #[test]
    fn quantising_never_makes_a_note_overlap_the_next() {
        let s = Settings {
            grid: Some(0.25),
            ..Default::default()
        };
        let player = [(0, true, 60), (1000, false, 60)];
        let third = 1.0 / 3.0;
        let notes = [
            (62, 0.0, 0.3),
            (64, third, 0.3),
            (65, 2.0 * third, 0.3),
            (67, 1.0, 0.9),
            (69, 2.0, 0.5),
        ];
        let armed = phrase(1, 1000, &notes);
        for block in [1, 64, 4096] {
            let out = simulate(block, 120.0, &player, armed, 300_000, s);
            assert!(balanced(&out));
            assert_eq!(out.iter().filter(|e| e.1 == OutKind::On).count(), 5);
            let mut sounding: Option<u8> = None;
            for &(t, kind, _, pitch) in &out {
                match kind {
                    OutKind::On => {
                        assert!(
                            sounding.is_none(),
                            "block {block}: {pitch} starts at {t} while {sounding:?} sounds: {out:?}"
                        );
                        sounding = Some(pitch);
                    }
                    OutKind::Off => sounding = None,
                    _ => {}
                }
            }
        }
        // Legato: overlaps are the point.
        let mut legato = phrase(2, 1000, &[(62, 0.0, 0.6), (64, 0.5, 0.6)]);
        legato.legato = true;
        let out = simulate(64, 120.0, &player, legato, 300_000, s);
        let kinds: Vec<OutKind> = out.iter().map(|e| e.1).collect();
        assert_eq!(
            kinds,
            vec![OutKind::On, OutKind::On, OutKind::Off, OutKind::Off],
            "{out:?}"
        );
    }

    /// Host test `call_response`: onsets 1/6 and 1/3 beat both quantise to the 1/16 line at 1/4
    /// beat, and two answer notes started at once. A melody never starts two notes on one
    /// quantised onset: the later one is dropped (the sampler draws on the grid; this is the net).
    #[test]
    fn two_onsets_quantised_onto_one_line_never_sound_together() {
        let s = Settings {
            grid: Some(0.25),
            ..Default::default()
        };
        let player = [(0, true, 60), (1000, false, 60)];
        let notes = [
            (62, 0.0, 1.0 / 6.0),
            (64, 1.0 / 6.0, 1.0 / 6.0),
            (65, 1.0 / 3.0, 0.5),
            (67, 1.0, 0.5),
        ];
        for block in [1, 64, 4096] {
            let out = simulate(block, 120.0, &player, phrase(1, 1000, &notes), 300_000, s);
            assert!(balanced(&out), "{out:?}");
            let ons: Vec<(u64, u8)> = out
                .iter()
                .filter(|e| e.1 == OutKind::On)
                .map(|e| (e.0, e.3))
                .collect();
            assert!(
                ons.windows(2).all(|w| w[1].0 > w[0].0),
                "block {block}: two NoteOns at once: {ons:?}"
            );
            let keys: Vec<u8> = ons.iter().map(|o| o.1).collect();
            assert_eq!(
                keys,
                vec![62, 64, 67],
                "block {block}: the later of the two goes"
            );
        }
    }

    /// The answer and the player's thru notes on one channel: neither ends the other's note.
    #[test]
    fn answer_and_thru_never_cut_each_others_notes() {
        let mut q = EventQueue::default();
        // The player holds 60 (thru); the answer wants 60 too: it is skipped, and its NoteOff
        // does not cut the player's key.
        q.note_on(0, 0, 60, 0.5, Voice::Thru);
        q.note_on(5, 0, 60, 0.5, Voice::Answer);
        q.note_off(9, 0, 60, Voice::Answer);
        assert!(q.is_sounding(0, 60), "the player's key still sounds");
        // The answer sounds 62; the player presses 62: the key is retriggered and becomes the
        // player's, so the answer's later NoteOff leaves it alone.
        q.note_on(10, 0, 62, 0.5, Voice::Answer);
        q.note_on(12, 0, 62, 0.7, Voice::Thru);
        q.note_off(15, 0, 62, Voice::Answer);
        assert!(
            q.is_sounding(0, 62),
            "the player's retriggered key still sounds"
        );
        q.note_off(20, 0, 62, Voice::Thru);
        q.release(30, Voice::Thru);
        let ev: Vec<(u32, OutKind, u8)> = q
            .sorted()
            .iter()
            .map(|e| (e.time, e.kind, e.pitch))
            .collect();
        assert_eq!(
            ev,
            vec![
                (0, OutKind::On, 60),
                (10, OutKind::On, 62),
                (12, OutKind::Off, 62),
                (12, OutKind::On, 62),
                (20, OutKind::Off, 62),
                (30, OutKind::Off, 60),
            ]
        );
        assert!(!q.any_sounding());
    }

    // ---- Chords under the answer ----

    /// `phrase` with chord notes `(pitch, onset, length)` (beats from its start).
    fn with_chords(mut buf: PhraseBuf, chords: &[(u8, f64, f64)]) -> PhraseBuf {
        for &(pitch, onset, len) in chords {
            assert!(buf.push_chord_note(PhraseNote {
                pitch,
                velocity: 0.5,
                onset_beats: onset,
                length_beats: len,
            }));
        }
        buf
    }

    /// C major for two beats, then F major for two (the last chord longer than the melody).
    const C_THEN_F: [(u8, f64, f64); 6] = [
        (48, 0.0, 2.0),
        (52, 0.0, 2.0),
        (55, 0.0, 2.0),
        (53, 2.0, 4.0),
        (57, 2.0, 4.0),
        (60, 2.0, 4.0),
    ];

    #[test]
    fn answer_chords_play_on_their_channel_on_the_answers_beats_and_end_with_it() {
        let s = Settings {
            grid: Some(1.0),
            channel: 0,
            answer_chords: true,
            chord_channel: 1,
            ..Default::default()
        };
        let player = [(1000, true, 60), (30_000, false, 60)];
        let melody = phrase(1, 30_000, &[(64, 0.0, 1.0), (65, 1.0, 1.0), (67, 2.0, 1.5)]);
        let armed = with_chords(melody, &C_THEN_F);
        let with = simulate(64, 120.0, &player, armed, 300_000, s);
        assert!(balanced(&with), "{with:?}");
        // The answer starts at 72 000 (see above); chords at its beats 0 and 2.
        let chord_ons: Vec<(u64, u8)> = with
            .iter()
            .filter(|e| e.1 == OutKind::On && e.2 == 1)
            .map(|e| (e.0, e.3))
            .collect();
        assert_eq!(
            chord_ons,
            vec![
                (72_000, 48),
                (72_000, 52),
                (72_000, 55),
                (120_000, 53),
                (120_000, 57),
                (120_000, 60)
            ]
        );
        // The melody's last note ends at beat 3.5 (156 000): so does the F chord.
        let melody_end = with
            .iter()
            .filter(|e| e.1 == OutKind::Off && e.2 == 0)
            .map(|e| e.0)
            .max()
            .unwrap();
        assert_eq!(melody_end, 156_000);
        let chord_offs: Vec<u64> = with
            .iter()
            .filter(|e| e.1 == OutKind::Off && e.2 == 1)
            .map(|e| e.0)
            .collect();
        assert_eq!(
            chord_offs,
            vec![120_000, 120_000, 120_000, 156_000, 156_000, 156_000]
        );
        // The melody is the same with and without chords, in every block size.
        let melody_only = |events: &[(u64, OutKind, u8, u8)]| -> Vec<(u64, OutKind, u8, u8)> {
            events.iter().copied().filter(|e| e.2 == 0).collect()
        };
        let off = Settings {
            answer_chords: false,
            ..s
        };
        let without = simulate(64, 120.0, &player, armed, 300_000, off);
        assert!(without.iter().all(|e| e.2 == 0), "no chord when off");
        assert_eq!(melody_only(&with), without);
        for block in [1, 333, 8192] {
            assert_eq!(
                simulate(block, 120.0, &player, armed, 300_000, s),
                with,
                "{block}"
            );
        }
    }

    #[test]
    fn a_cut_answer_ends_its_chords_at_once() {
        let s = Settings {
            grid: None,
            gap_beats: 0.25,
            answer_chords: true,
            chord_channel: 3,
            ..Default::default()
        };
        // The answer starts at 8000; the player comes back at 20 000.
        let player = [(0, true, 60), (2000, false, 60), (20_000, true, 67)];
        let armed = with_chords(phrase(1, 2000, &[(62, 0.0, 4.0)]), &C_THEN_F);
        let out = simulate(128, 120.0, &player, armed, 300_000, s);
        assert!(balanced(&out), "{out:?}");
        let chord: Vec<(u64, OutKind)> = out
            .iter()
            .filter(|e| e.2 == 3)
            .map(|e| (e.0, e.1))
            .collect();
        assert_eq!(
            chord,
            [[(8000, OutKind::On); 3], [(20_000, OutKind::Off); 3]].concat()
        );
    }

    /// The model thread sends the melody first and the same phrase again with its chords: the
    /// chords join the playing answer from their next onset; none that is already due starts.
    #[test]
    fn chords_that_come_after_the_answer_started_join_it() {
        let s = Settings {
            grid: None,
            gap_beats: 0.25,
            answer_chords: true,
            chord_channel: 1,
            ..Default::default()
        };
        let melody = phrase(7, 2000, &[(62, 0.0, 1.0), (64, 1.0, 1.0), (65, 2.0, 2.0)]);
        let mut pb = Playback::default();
        let mut q = EventQueue::default();
        let mut status = |_s: PlaybackStatus| {};
        let mut out = vec![];
        let mut start = 0u64;
        let mut armed_chords = false;
        while start < 200_000 {
            let clock = Clock {
                start,
                len: 500,
                sample_rate: SR,
                tempo: 120.0,
                beat_at_start: start as f64 / 24_000.0,
            };
            q.clear();
            if start == 0 {
                pb.arm(melody);
                pb.player_note_on(0, MIDI, 60, &clock, &s, &mut q, &mut status);
                pb.player_note_off(2000, MIDI, 60, &clock, &s, &mut q, &mut status);
            }
            // The answer starts at 8000; its chords arrive a beat into it.
            if start >= 32_000 && !armed_chords {
                pb.arm(with_chords(melody, &C_THEN_F));
                armed_chords = true;
            }
            pb.advance_to(clock.end(), &clock, &s, &mut q, &mut status);
            for e in q.sorted() {
                out.push((start + e.time as u64, e.kind, e.channel, e.pitch));
            }
            start = clock.end();
        }
        assert!(balanced(&out), "{out:?}");
        let chord_ons: Vec<(u64, u8)> = out
            .iter()
            .filter(|e| e.1 == OutKind::On && e.2 == 1)
            .map(|e| (e.0, e.3))
            .collect();
        // C (due at 8000) is skipped; F at beat 2 of the answer (56 000) plays.
        assert_eq!(chord_ons, vec![(56_000, 53), (56_000, 57), (56_000, 60)]);
        // The melody was not restarted.
        assert_eq!(
            out.iter()
                .filter(|e| e.1 == OutKind::On && e.2 == 0)
                .count(),
            3
        );
    }

    #[test]
    fn the_chord_voice_never_takes_a_players_key_and_releases_alone() {
        let mut q = EventQueue::default();
        q.note_on(0, 1, 60, 0.5, Voice::Thru);
        q.note_on(1, 1, 60, 0.5, Voice::Chord);
        q.note_on(1, 1, 64, 0.5, Voice::Chord);
        q.note_on(1, 0, 64, 0.5, Voice::Answer);
        assert!(q.voice_sounding(Voice::Chord));
        q.release(5, Voice::Chord);
        assert!(!q.voice_sounding(Voice::Chord));
        assert!(
            q.is_sounding(1, 60) && q.is_sounding(0, 64),
            "thru and answer untouched"
        );
        q.all_off(9);
        assert!(!q.any_sounding());
        let ev: Vec<(u32, OutKind, u8, u8)> = q
            .sorted()
            .iter()
            .map(|e| (e.time, e.kind, e.channel, e.pitch))
            .collect();
        assert_eq!(
            ev,
            vec![
                (0, OutKind::On, 1, 60),
                (1, OutKind::On, 1, 64),
                (1, OutKind::On, 0, 64),
                (5, OutKind::Off, 1, 64),
                (9, OutKind::Off, 0, 64),
                (9, OutKind::Off, 1, 60),
            ]
        );
    }
}
