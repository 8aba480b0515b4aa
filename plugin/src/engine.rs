//! AUDIO THREAD: one block of Continuo, independent of the plugin API.
//!
//! `lib.rs` adapts nice-plug's buffers, events and transport to this; the offline session
//! (`session.rs`, used by `continuo render` and the tests) drives the very same code from a file.
//! Everything is allocated in [`Engine::new`]; [`Engine::process`] never allocates, locks or
//! blocks.
//!
//! A block goes through named steps, in this order: the block's clock (stream samples and musical
//! beats), the controls that silence or release (bypass, transport, mode, channel, source, thru,
//! Stop), the newest phrase, listening (meters and the analyser), the player's notes (detected and
//! received, merged in time order: to the model, to playback, to MIDI thru), and publishing the
//! meters.

use crate::accompanist::{Accompanist, LiveSettings};
use crate::analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent as Detected};
use crate::bridge::{
    AudioEnds, Counters, ModelEnds, NoteOrigin, PlaybackStatus, PlayerNote, Shared, ToModel,
};
use crate::meter::Meter;
use crate::params::{ContinuoParams, HarmonyMode, InputSource, ResponseMode, TempoSource};
use crate::playback::{self, Clock, EventQueue, OutKind, Playback, Voice};
use ringbuf::traits::Producer;
use std::sync::atomic::Ordering;

/// Most player events one block can carry (detected, and received); more are dropped and
/// counted.
pub const MAX_BLOCK_NOTES: usize = 512;

/// How long after the player's last note Continuo keeps the host from putting it to sleep while
/// no answer has started (seconds). Longer than the longest gap plus a bar at the slowest tempo.
const ANSWER_PATIENCE_S: f64 = 60.0;

/// A note the analyser detected inside the current block.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct DetectedNote {
    /// Offset in the block.
    at: u32,
    on: bool,
    pitch: u8,
    velocity: f32,
    /// Best estimate of the true start or end (stream samples).
    time: u64,
}

/// What arrives on the note input (a keyboard, the host's MIDI).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MidiIn {
    NoteOn {
        channel: u8,
        key: u8,
        velocity: f32,
    },
    /// A NoteOff or a Choke; `None` is a wildcard (every key, every channel).
    NoteOff {
        channel: Option<u8>,
        key: Option<u8>,
    },
    /// A controller, value 0..1. CC 64 is the sustain pedal.
    Cc {
        channel: u8,
        cc: u8,
        value: f32,
    },
    /// 0..1, 0.5 = centre.
    PitchBend {
        channel: u8,
        value: f32,
    },
    ChannelPressure {
        channel: u8,
        value: f32,
    },
    PolyPressure {
        channel: u8,
        key: u8,
        value: f32,
    },
    Program {
        channel: u8,
        program: u8,
    },
}

impl Default for MidiIn {
    fn default() -> Self {
        MidiIn::NoteOff {
            channel: None,
            key: None,
        }
    }
}

/// The sustain pedal's controller number.
const SUSTAIN_CC: u8 = 64;

/// What the host says about musical time for this block.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HostTime {
    pub tempo: Option<f64>,
    pub playing: bool,
    pub pos_beats: Option<f64>,
    /// The host's time signature (numerator, denominator), when it gives one.
    pub time_signature: Option<(i32, i32)>,
    /// The beat (quarter notes) of the bar line at or before `pos_beats`, when the host gives one.
    pub bar_start: Option<f64>,
}

/// This many controller, pressure or bend events at exactly 0.5 in one block are a host's
/// restore of the VST3 MIDI-controller parameters, not MIDI played (see [`Engine::receive`]).
const RESTORE_FLOOD: usize = 64;

/// A controller, channel pressure or pitch bend at exactly half way: the value nice-plug
/// reports for its VST3 MIDI-controller parameters.
fn is_half_way_controller(event: &MidiIn) -> bool {
    matches!(
        *event,
        MidiIn::Cc { value, .. }
            | MidiIn::ChannelPressure { value, .. }
            | MidiIn::PitchBend { value, .. } if value == 0.5
    )
}

/// The stack of the thread [`Engine::new`] builds the engine on: ample for a debug build.
const BUILD_STACK: usize = 16 << 20;

/// The audio-thread state, allocated for one sample rate and maximum block size.
pub struct Engine {
    analyzer: Analyzer,
    /// Mono sum of the input for the analyser (max block size long).
    mono: Vec<f32>,
    ends: AudioEnds,
    playback: Playback,
    /// Notes detected in this block (allocated in `new`).
    detected: Box<[DetectedNote; MAX_BLOCK_NOTES]>,
    detected_len: usize,
    /// Events received on the note input for this block (filled by [`Engine::receive`]).
    received: Box<[(u32, MidiIn); MAX_BLOCK_NOTES]>,
    received_len: usize,
    /// Controller, pressure and bend events at exactly 0.5 received for this block (see
    /// [`Engine::receive`]).
    half_way_controllers: usize,
    /// NoteOffs that did not fit this block's arrays, per source and key: released at the
    /// block's last sample, so a flood of notes can never leave a note stuck.
    overflow_offs: [u128; NoteOrigin::COUNT],
    sample_rate: f64,
    /// Samples since activation (or the last reset).
    stream_pos: u64,
    /// Musical beat position at `stream_pos`: the host's while its transport runs, otherwise
    /// accumulated block by block at the tempo of each block (never stream time × the current
    /// tempo, which would move the past when the tempo changes).
    beat: f64,
    /// Sustain pedal down, one bit per MIDI channel.
    pedal: u16,
    /// Keys released while the pedal was down, per channel: the model hears them until the
    /// pedal comes up (or the key is struck again).
    sustained: [u128; 16],
    /// Channels where MIDI thru passed the sustain pedal down / a pitch bend off centre: released
    /// when thru stops, so nothing downstream is left held or bent.
    thru_pedal: u16,
    thru_bent: u16,
    prev_host_playing: bool,
    /// The bar: the host's time signature and bar lines (kept while the transport stops, so the
    /// accumulated beats keep their bars); 4/4 from beat 0 until the host says otherwise.
    meter: Meter,
    prev_play_param: bool,
    prev_mode: Option<ResponseMode>,
    prev_channel: Option<u8>,
    prev_source: Option<InputSource>,
    prev_thru: bool,
    was_bypassed: bool,
    /// Set by `reset()` and at creation: release whatever still sounds at the next block.
    flush: bool,
    /// Recent player velocity (exponential average, 0..1).
    player_velocity: f32,
    /// The live chord voice (*Chords under me*).
    accompanist: Accompanist,
    /// The harmony mode and chord channel of the previous block: a change ends every chord note.
    prev_harmony: Option<(HarmonyMode, u8)>,
}

/// Collects the analyser's output inside `process()` without allocating.
struct Sink<'a> {
    frames: &'a mut ringbuf::HeapProd<FeatureFrame>,
    counters: &'a Counters,
    notes: &'a mut [DetectedNote; MAX_BLOCK_NOTES],
    len: &'a mut usize,
    /// Offset of the current chunk inside the block.
    chunk: u32,
    overflow_offs: &'a mut u128,
}

impl AnalysisOutput for Sink<'_> {
    fn frame(&mut self, frame: &FeatureFrame) {
        if self.frames.try_push(*frame).is_err() {
            Counters::bump(&self.counters.frames_dropped);
        }
    }

    fn note(&mut self, event: Detected) {
        let note = match event {
            Detected::On {
                pitch,
                velocity,
                onset_samples,
                at,
            } => DetectedNote {
                at: at + self.chunk,
                on: true,
                pitch,
                velocity,
                time: onset_samples,
            },
            Detected::Off {
                pitch,
                offset_samples,
                at,
            } => DetectedNote {
                at: at + self.chunk,
                on: false,
                pitch,
                velocity: 0.0,
                time: offset_samples,
            },
        };
        if *self.len < MAX_BLOCK_NOTES {
            self.notes[*self.len] = note;
            *self.len += 1;
        } else {
            if !note.on {
                *self.overflow_offs |= 1u128 << (note.pitch & 127);
            }
            Counters::bump(&self.counters.notes_dropped);
        }
    }
}

/// One block's fixed context, handed to the steps.
struct Block<'a> {
    clock: Clock,
    settings: playback::Settings,
    /// The live chord voice's settings.
    live: LiveSettings,
    harmony: HarmonyMode,
    source: InputSource,
    thru: bool,
    shared: &'a Shared,
}

impl Engine {
    /// Allocates everything for `sample_rate` and blocks of up to `max_block` samples, and the
    /// rings to the model thread (its ends are returned).
    ///
    /// The engine is built on a thread of its own with [`BUILD_STACK`] of stack and handed back
    /// boxed: its parts are built by value (the analyser's alone is some 100 KiB, several times
    /// that in a debug build), and hosts activate plugins on threads with small stacks. Ardour 7
    /// does it on its process thread, which has 512 KiB; Continuo overflowed it there. If that
    /// thread cannot be started, the engine is built on the caller's.
    pub fn new(sample_rate: f32, max_block: usize) -> (Box<Self>, ModelEnds) {
        let build = move || Self::build(sample_rate, max_block);
        let built = std::thread::Builder::new()
            .name("continuo-activate".into())
            .stack_size(BUILD_STACK)
            .spawn(build)
            .ok()
            .and_then(|t| t.join().ok());
        built.unwrap_or_else(build)
    }

    fn build(sample_rate: f32, max_block: usize) -> (Box<Self>, ModelEnds) {
        let (audio_ends, model_ends) = crate::bridge::rings();
        let engine = Box::new(Self {
            analyzer: Analyzer::new(sample_rate),
            mono: vec![0.0; max_block.clamp(1, 1 << 16)],
            ends: audio_ends,
            playback: Playback::default(),
            detected: Box::new([DetectedNote::default(); MAX_BLOCK_NOTES]),
            detected_len: 0,
            received: Box::new([(0, MidiIn::default()); MAX_BLOCK_NOTES]),
            received_len: 0,
            half_way_controllers: 0,
            overflow_offs: [0; NoteOrigin::COUNT],
            sample_rate: sample_rate as f64,
            stream_pos: 0,
            beat: 0.0,
            pedal: 0,
            sustained: [0; 16],
            thru_pedal: 0,
            thru_bent: 0,
            prev_host_playing: false,
            meter: Meter::COMMON,
            prev_play_param: false,
            prev_mode: None,
            prev_channel: None,
            prev_source: None,
            prev_thru: false,
            was_bypassed: false,
            flush: true,
            player_velocity: 0.7,
            accompanist: Accompanist::default(),
            prev_harmony: None,
        });
        (engine, model_ends)
    }

    /// Forgets the signal and playback (no allocation). Sounding notes are released next block.
    pub fn reset(&mut self, shared: &Shared) {
        self.analyzer.reset();
        self.playback.reset();
        self.accompanist.reset();
        self.stream_pos = 0;
        self.pedal = 0;
        self.sustained = [0; 16];
        self.flush = true;
        self.ends
            .send(ToModel::Playback(PlaybackStatus::Reset), &shared.counters);
    }

    /// An event arriving on the note input at offset `at` of the coming block. Hosts send events
    /// in time order; one that is not is moved to the previous one's time.
    ///
    /// VST3 has no MIDI controller events: nice-plug receives controllers, pressure and bend as
    /// 2,080 hidden parameters (16 channels × 130) and reports 0.5 as their value. A host that
    /// restores a session or a plugin state sends every one of them back at 0.5 in one block
    /// (Ardour 7 does, `cargo xtask ardour`): controller 64 at half way holds the sustain pedal
    /// down, and MIDI thru would send all 2,048 controllers at 64 to the instrument. A played
    /// 7-bit value is never exactly 0.5 (k / 127), so when a block brings
    /// [`RESTORE_FLOOD`] or more such events, they are a restore and are ignored (counted in
    /// `controllers_ignored`); a few of them, such as a host's automation at half way, pass.
    pub fn receive(&mut self, at: u32, event: MidiIn, counters: &Counters) {
        let half_way = is_half_way_controller(&event);
        self.half_way_controllers += half_way as usize;
        let at = match self.received_len {
            0 => at,
            len => at.max(self.received[len - 1].0),
        };
        if self.received_len < MAX_BLOCK_NOTES {
            self.received[self.received_len] = (at, event);
            self.received_len += 1;
            return;
        }
        if half_way && self.half_way_controllers >= RESTORE_FLOOD {
            Counters::bump(&counters.controllers_ignored);
            return;
        }
        Counters::bump(&counters.notes_dropped);
        // A dropped release must still release: at the block's end.
        if let MidiIn::NoteOff { channel, key } = event {
            for c in 0..16u8 {
                if channel.is_none_or(|ch| ch & 15 == c) {
                    let keys = key.map_or(u128::MAX, |k| 1u128 << (k & 127));
                    self.overflow_offs[NoteOrigin::Midi(c).index()] |= keys;
                }
            }
        }
    }

    pub fn stream_pos(&self) -> u64 {
        self.stream_pos
    }

    /// Removes a host's restore of the MIDI-controller parameters from the block's note input
    /// (see [`Engine::receive`]).
    fn ignore_restored_controllers(&mut self, counters: &Counters) {
        if self.half_way_controllers < RESTORE_FLOOD {
            return;
        }
        let mut kept = 0;
        for i in 0..self.received_len {
            if is_half_way_controller(&self.received[i].1) {
                Counters::bump(&counters.controllers_ignored);
            } else {
                self.received[kept] = self.received[i];
                kept += 1;
            }
        }
        self.received_len = kept;
    }

    /// Whether the host must keep calling `process()` even when the input is silent: a phrase
    /// plays or is due, a note sounds, or the player holds a key. Otherwise a host that suspends
    /// quiet plugins may do so.
    pub fn needs_processing(&self, q: &EventQueue, p: &ContinuoParams) -> bool {
        let settings = playback::Settings {
            mode: p.response.mode.value(),
            ..Default::default()
        };
        let patience = (ANSWER_PATIENCE_S * self.sample_rate) as u64;
        self.playback.busy(self.stream_pos, &settings, patience)
            || q.any_sounding()
            || self.playback.player_holding()
            || self.sustained.iter().any(|&k| k != 0)
            || self.analyzer.sounding_note().is_some()
    }

    /// Processes one block of `n` samples. `channels` is the input (read only). The output note
    /// events are left in `q`, in time order via `q.sorted()`.
    pub fn process<C: AsRef<[f32]>>(
        &mut self,
        channels: &[C],
        n: usize,
        host: HostTime,
        p: &ContinuoParams,
        shared: &Shared,
        q: &mut EventQueue,
    ) {
        q.clear();
        self.ignore_restored_controllers(&shared.counters);
        let clock = self.clock(n, host, p, shared);
        self.follow_meter(host);
        let block = Block {
            clock,
            settings: self.settings(p),
            live: self.live_settings(p),
            harmony: p.harmony.mode.value(),
            source: p.input.source.value(),
            thru: p.input.midi_thru.value(),
            shared,
        };
        let bypass = p.bypass.value();
        self.analyzer
            .set_fast_tracking(p.input.tracking.value() == crate::params::Tracking::Fast);
        self.analyzer
            .set_reference(p.input.concert_cents(), p.input.follow_tuning.value());

        // Release what a reset or deactivation left sounding.
        if self.flush {
            q.all_off(0);
            self.flush = false;
        }
        self.follow_controls(&block, host.playing, bypass, q);
        if let Some(phrase) = self.ends.new_phrase() {
            self.playback.arm(phrase);
        }
        if let Some(table) = self.ends.new_live_chords() {
            self.accompanist.set_table(table);
        }
        self.listen(channels, n, bypass, shared);

        self.serve_play_requests(&block, p, bypass);
        if bypass {
            self.pass_bypassed(q);
        } else {
            self.route_player_notes(&block, q);
            {
                let mut status = status_sender(&mut self.ends, &shared.counters);
                self.playback
                    .advance_to(clock.end(), &clock, &block.settings, q, &mut status);
            }
            self.accompany_until(clock.end(), &block, q);
        }
        self.received_len = 0;
        self.half_way_controllers = 0;
        self.detected_len = 0;
        self.overflow_offs = [0; NoteOrigin::COUNT];
        self.stream_pos += n as u64;
        self.beat = clock.beat_at(clock.end());
        self.publish(&clock, host, shared);
    }

    /// The block's clock: the host's tempo and beat position while its transport runs, else the
    /// internal tempo and the beats accumulated so far. In free time (transport stopped or no
    /// host tempo, *Tempo when stopped* = *Follow me*, and the model thread has heard the
    /// player's tempo) the beats accumulate at the player's tempo, their phase set on the
    /// player's beat (a correction of at most half a beat, once per new estimate).
    fn clock(&self, n: usize, host: HostTime, p: &ContinuoParams, shared: &Shared) -> Clock {
        let host_tempo = host
            .tempo
            .filter(|t| t.is_finite() && (1.0..=1000.0).contains(t));
        let host_beat = host.pos_beats.filter(|b| b.is_finite());
        let host_runs = host.playing && host_tempo.is_some();
        let free = (!host_runs && p.response.tempo_source.value() == TempoSource::FollowPlayer)
            .then(|| {
                crate::worker::tempo::unpack(
                    shared.free_time.load(Ordering::Relaxed),
                    self.stream_pos,
                )
            })
            .flatten()
            .filter(|(bpm, _)| bpm.is_finite() && (1.0..=1000.0).contains(bpm));
        shared
            .free_time_in_use
            .store(free.is_some(), Ordering::Relaxed);
        let mut clock = Clock {
            start: self.stream_pos,
            len: n as u32,
            sample_rate: self.sample_rate,
            tempo: host_tempo.unwrap_or(p.response.tempo.value() as f64),
            beat_at_start: match (host.playing, host_beat) {
                (true, Some(b)) => b,
                _ => self.beat,
            },
        };
        if let Some((bpm, beat_sample)) = free {
            clock.tempo = bpm;
            clock.beat_at_start = self.beat;
            let on_beat = (self.stream_pos as f64 - beat_sample as f64) / clock.samples_per_beat();
            let mut shift = on_beat.rem_euclid(1.0) - self.beat.rem_euclid(1.0);
            if shift > 0.5 {
                shift -= 1.0;
            } else if shift <= -0.5 {
                shift += 1.0;
            }
            if shift.is_finite() {
                clock.beat_at_start += shift;
            }
        }
        clock
    }

    fn settings(&self, p: &ContinuoParams) -> playback::Settings {
        playback::Settings {
            mode: p.response.mode.value(),
            gap_beats: p.response.gap.value() as f64,
            stop_on_return: p.response.stop_on_return.value(),
            grid: p.response.grid.value().beats(),
            swing: p.response.swing.value() as f64,
            channel: (p.output.channel.value() - 1).clamp(0, 15) as u8,
            transpose: p.output.transpose.value(),
            length_scale: p.output.length_scale.value() as f64,
            answer_chords: p.harmony.mode.value() == HarmonyMode::UnderAnswer,
            chord_channel: (p.harmony.channel.value() - 1).clamp(0, 15) as u8,
            chord_level: p.harmony.level.value(),
        }
    }

    /// Everything that must silence or release: bypass, transport stop, mode or channel change
    /// and Stop end the answer; bypass, a source change and MIDI thru going off release the
    /// player's thru notes (and the pedal and bend thru passed on) and the keys held on a source
    /// no longer listened to.
    fn follow_controls(&mut self, b: &Block, host_playing: bool, bypass: bool, q: &mut EventQueue) {
        let s = &b.settings;
        let stop_now = (bypass && !self.was_bypassed)
            || (self.prev_host_playing && !host_playing)
            || self.prev_mode.is_some_and(|m| m != s.mode)
            || self.prev_channel.is_some_and(|c| c != s.channel)
            || b.shared.stop_request.swap(false, Ordering::Relaxed);
        if stop_now {
            let mut status = status_sender(&mut self.ends, &b.shared.counters);
            self.playback.stop(b.clock.start, &b.clock, q, &mut status);
            self.playback.pause();
            q.release(0, Voice::Answer);
        }
        self.follow_harmony(b, stop_now || bypass, q);
        let source_changed = self.prev_source.is_some_and(|src| src != b.source);
        // At both edges of a bypass: what thru sent before it, or what the bypass passed on.
        let bypass_edge = bypass != self.was_bypassed;
        if bypass_edge || (!bypass && (source_changed || (self.prev_thru && !b.thru))) {
            self.release_thru(q);
        }
        if !bypass && self.was_bypassed {
            // The analyser did not run during the bypass: it starts afresh on the stream's clock.
            self.analyzer.restart_at(self.stream_pos);
        }
        // Keys held on a source no longer listened to (or through a bypass) are let go: the
        // model hears their end now, and they no longer hold back the answer.
        for c in 0..NoteOrigin::COUNT {
            let origin = if c == 0 {
                NoteOrigin::Audio
            } else {
                NoteOrigin::Midi(c as u8 - 1)
            };
            if bypass || !listens(b.source, origin) {
                self.let_go(origin, u128::MAX, b.clock.start, b);
            }
        }
        self.prev_source = Some(b.source);
        self.prev_thru = b.thru && !bypass;
        self.was_bypassed = bypass;
        self.prev_host_playing = host_playing;
        self.prev_mode = Some(s.mode);
        self.prev_channel = Some(s.channel);
    }

    // ---- Harmony (issue 16 part 4) --------------------------------------------------------

    /// The host's time signature and bar lines for this block. The bar start counts only while
    /// the transport runs (the clock's beats are the host's then); stopped, the bars go on from
    /// where they were, over the beats the clock accumulates.
    fn follow_meter(&mut self, host: HostTime) {
        let (numerator, denominator) = host.time_signature.unzip();
        let bar_start = host
            .bar_start
            .filter(|_| host.playing && host.pos_beats.is_some());
        self.meter = Meter::from_host(numerator, denominator, bar_start, self.meter);
    }

    /// The live chord voice's settings for the block.
    fn live_settings(&self, p: &ContinuoParams) -> LiveSettings {
        LiveSettings {
            on: p.harmony.mode.value() == HarmonyMode::UnderMe && !p.bypass.value(),
            rhythm: self.meter.harmonic_beats(p.harmony.rhythm.value()),
            bar_beat: self.meter.origin.round() as i64,
            channel: (p.harmony.channel.value() - 1).clamp(0, 15) as u8,
            velocity: (self.player_velocity * p.harmony.level.value()).clamp(1.0 / 127.0, 1.0),
        }
    }

    /// Chord notes end when the harmony mode or the chord channel changes, and the live chord
    /// ends on a stop, a transport stop or a bypass (`stop`): no chord note is ever left on.
    fn follow_harmony(&mut self, b: &Block, stop: bool, q: &mut EventQueue) {
        let now = (b.harmony, b.live.channel);
        let changed = self.prev_harmony.is_some_and(|h| h != now);
        if changed {
            self.playback.drop_chords(0, q);
        }
        if changed || stop || !b.live.on {
            self.accompanist.silence(0, q);
        }
        if changed {
            // Whatever else the chord voice holds ends too.
            q.release(0, Voice::Chord);
        }
        self.prev_harmony = Some(now);
    }

    /// The live chord voice up to stream sample `t` (the player's keys as they are now).
    fn accompany_until(&mut self, t: u64, b: &Block, q: &mut EventQueue) {
        let top = self.top_held_key();
        let ends = &mut self.ends;
        let counters = &b.shared.counters;
        self.accompanist
            .advance_to(t, top, &b.clock, &b.live, q, &mut |n| {
                ends.send(ToModel::Beat(n), counters)
            });
    }

    /// The highest key the player holds, on any source.
    fn top_held_key(&self) -> Option<u8> {
        let mut top: Option<u8> = None;
        for c in 0..NoteOrigin::COUNT {
            let origin = if c == 0 {
                NoteOrigin::Audio
            } else {
                NoteOrigin::Midi(c as u8 - 1)
            };
            let keys = self.playback.held_keys(origin);
            if keys != 0 {
                let k = 127 - keys.leading_zeros() as u8;
                top = Some(top.map_or(k, |t| t.max(k)));
            }
        }
        top
    }

    // ---- end Harmony ----------------------------------------------------------------------

    /// Ends every MIDI-thru note, and puts back the pedal and pitch bend thru changed.
    fn release_thru(&mut self, q: &mut EventQueue) {
        q.release(0, Voice::Thru);
        for c in 0..16u8 {
            if self.thru_pedal & (1 << c) != 0 {
                let kind = OutKind::Cc {
                    cc: SUSTAIN_CC,
                    value: 0.0,
                };
                q.midi(0, c, kind, 0);
            }
            if self.thru_bent & (1 << c) != 0 {
                q.midi(0, c, OutKind::PitchBend(0.5), 0);
            }
        }
        self.thru_pedal = 0;
        self.thru_bent = 0;
    }

    /// The model hears the end of the `keys` held or sustained on `origin` at stream time `t`;
    /// playback no longer counts them as held. No output event (thru notes are the queue's).
    fn let_go(&mut self, origin: NoteOrigin, keys: u128, t: u64, b: &Block) {
        let mut open = self.playback.held_keys(origin);
        if let NoteOrigin::Midi(c) = origin {
            open |= self.sustained[(c & 15) as usize];
            self.sustained[(c & 15) as usize] &= !keys;
        }
        open &= keys;
        while open != 0 {
            let pitch = open.trailing_zeros() as u8;
            open &= open - 1;
            self.ends.send(
                ToModel::Note(PlayerNote::Off {
                    pitch,
                    at: b.clock.stamp(t),
                    origin,
                }),
                &b.shared.counters,
            );
        }
        self.playback.forget_keys(origin, keys);
    }

    /// Input meters and the analyser, on a mono sum (in chunks of the buffer we own). The
    /// analyser sleeps through a bypass.
    fn listen<C: AsRef<[f32]>>(&mut self, channels: &[C], n: usize, bypass: bool, shared: &Shared) {
        let nch = channels.len().max(1) as f32;
        let mut peak = 0.0f32;
        let mut sum_sq = 0.0f64;
        if !bypass {
            self.detected_len = 0;
        }
        let mut chunk_start = 0;
        while chunk_start < n {
            let len = (n - chunk_start).min(self.mono.len());
            let mono = &mut self.mono[..len];
            mono.fill(0.0);
            for ch in channels.iter() {
                if let Some(src) = ch.as_ref().get(chunk_start..chunk_start + len) {
                    for (m, &x) in mono.iter_mut().zip(src) {
                        *m += x;
                    }
                }
            }
            for m in mono.iter_mut() {
                *m /= nch;
                if m.is_finite() {
                    peak = peak.max(m.abs());
                    sum_sq += (*m as f64) * (*m as f64);
                }
            }
            if !bypass {
                let mut sink = Sink {
                    frames: &mut self.ends.frames,
                    counters: &shared.counters,
                    notes: &mut self.detected,
                    len: &mut self.detected_len,
                    chunk: chunk_start as u32,
                    overflow_offs: &mut self.overflow_offs[NoteOrigin::Audio.index()],
                };
                self.analyzer.process(mono, &mut sink);
            }
            chunk_start += len;
        }
        shared.input_peak.store(peak, Ordering::Relaxed);
        let rms = if n > 0 {
            (sum_sq / n as f64).sqrt() as f32
        } else {
            0.0
        };
        shared.input_rms.store(rms, Ordering::Relaxed);
        shared
            .input_gain_db
            .store(self.analyzer.input_gain_db(), Ordering::Relaxed);
        shared
            .hum_hz
            .store(self.analyzer.hum_hz(), Ordering::Relaxed);
        shared
            .concert_cents
            .store(self.analyzer.concert_cents(), Ordering::Relaxed);
        let (pitch, confidence) = self.analyzer.current_pitch().unwrap_or((-1.0, 0.0));
        shared.pitch.store(pitch, Ordering::Relaxed);
        shared.pitch_confidence.store(confidence, Ordering::Relaxed);
        shared
            .polyphonic
            .store(self.analyzer.polyphonic(), Ordering::Relaxed);
    }

    /// Play requests: the parameter's off → on edge, or the editor's button.
    fn serve_play_requests(&mut self, b: &Block, p: &ContinuoParams, bypass: bool) {
        let play_param = p.response.play.value();
        let play_button = b.shared.play_request.swap(false, Ordering::Relaxed);
        if !bypass && ((play_param && !self.prev_play_param) || play_button) {
            self.playback.request_play(b.clock.start);
        }
        self.prev_play_param = play_param;
    }

    /// The player's notes in time order (analysis and note input merged): each goes to the
    /// model, to playback (stop when I play, the gap) and, with MIDI thru, out. The rest of the
    /// note input (pedal, bend, pressure, controllers) goes out with thru.
    fn route_player_notes(&mut self, b: &Block, q: &mut EventQueue) {
        let nd = if listens(b.source, NoteOrigin::Audio) {
            self.detected_len
        } else {
            0
        };
        let nr = if listens(b.source, NoteOrigin::Midi(0)) {
            self.received_len
        } else {
            0
        };
        let last = b.clock.len.saturating_sub(1);
        let (mut i, mut j) = (0, 0);
        while i < nd || j < nr {
            let take_detected = j >= nr || (i < nd && self.detected[i].at <= self.received[j].0);
            if take_detected {
                let d = self.detected[i];
                i += 1;
                let at = d.at.min(last);
                let t = b.clock.start + at as u64;
                let time = if d.on { d.time.min(t) } else { t };
                self.player_note(b, NoteOrigin::Audio, d.on, d.pitch, d.velocity, at, time, q);
            } else {
                let (at, event) = self.received[j];
                j += 1;
                self.received_event(b, at.min(last), event, q);
            }
        }
        self.received_len = 0;
        self.half_way_controllers = 0;
        self.detected_len = 0;
        // NoteOffs that did not fit: released at the block's last sample.
        for c in 0..NoteOrigin::COUNT {
            let mut late = std::mem::take(&mut self.overflow_offs[c]);
            let origin = if c == 0 {
                NoteOrigin::Audio
            } else {
                NoteOrigin::Midi(c as u8 - 1)
            };
            while late != 0 {
                let pitch = late.trailing_zeros() as u8;
                late &= late - 1;
                let t = b.clock.start + last as u64;
                self.player_note(b, origin, false, pitch, 0.0, last, t, q);
            }
        }
    }

    /// Bypassed, the plugin is a wire for MIDI as for audio: every event of the note input goes
    /// out unchanged, on its own channel, whatever MIDI thru says. Its notes, pedal and bend are
    /// the thru voice's, so the bypass's end releases them (`follow_controls`).
    fn pass_bypassed(&mut self, q: &mut EventQueue) {
        for i in 0..self.received_len {
            let (at, event) = self.received[i];
            match event {
                MidiIn::NoteOn {
                    channel,
                    key,
                    velocity,
                } if velocity > 0.0 => q.note_on(at, channel, key, velocity, Voice::Thru),
                MidiIn::NoteOn { channel, key, .. } => q.note_off(at, channel, key, Voice::Thru),
                MidiIn::NoteOff { channel, key } => {
                    for c in 0..16u8 {
                        if channel.is_some_and(|ch| ch & 15 != c) {
                            continue;
                        }
                        match key {
                            Some(k) => q.note_off(at, c, k, Voice::Thru),
                            None => q.release_channel(at, c, Voice::Thru),
                        }
                    }
                }
                MidiIn::Cc { channel, cc, value } => {
                    let c = channel & 15;
                    if cc == SUSTAIN_CC {
                        if value >= 0.5 {
                            self.thru_pedal |= 1 << c;
                        } else {
                            self.thru_pedal &= !(1 << c);
                        }
                    }
                    q.midi(at, c, OutKind::Cc { cc, value }, 0);
                }
                MidiIn::PitchBend { channel, value } => {
                    let c = channel & 15;
                    if (value - 0.5).abs() > 1e-4 {
                        self.thru_bent |= 1 << c;
                    } else {
                        self.thru_bent &= !(1 << c);
                    }
                    q.midi(at, c, OutKind::PitchBend(value), 0);
                }
                MidiIn::ChannelPressure { channel, value } => {
                    q.midi(at, channel, OutKind::ChannelPressure(value), 0)
                }
                MidiIn::PolyPressure {
                    channel,
                    key,
                    value,
                } => q.midi(at, channel, OutKind::PolyPressure(value), key),
                MidiIn::Program { channel, program } => {
                    q.midi(at, channel, OutKind::Program(program), 0)
                }
            }
        }
    }

    /// One event of the note input.
    fn received_event(&mut self, b: &Block, at: u32, event: MidiIn, q: &mut EventQueue) {
        let t = b.clock.start + at as u64;
        match event {
            MidiIn::NoteOn {
                channel,
                key,
                velocity,
            } if velocity > 0.0 => {
                let origin = NoteOrigin::Midi(channel & 15);
                self.player_note(b, origin, true, key, velocity, at, t, q);
            }
            MidiIn::NoteOn { channel, key, .. } => {
                let origin = NoteOrigin::Midi(channel & 15);
                self.player_note(b, origin, false, key, 0.0, at, t, q);
            }
            MidiIn::NoteOff { channel, key } => {
                for c in 0..16u8 {
                    if channel.is_some_and(|ch| ch & 15 != c) {
                        continue;
                    }
                    let origin = NoteOrigin::Midi(c);
                    let mut keys = match key {
                        Some(k) => 1u128 << (k & 127),
                        // A wildcard releases what is held (and what the pedal holds, below).
                        None => self.playback.held_keys(origin),
                    };
                    while keys != 0 {
                        let pitch = keys.trailing_zeros() as u8;
                        keys &= keys - 1;
                        self.player_note(b, origin, false, pitch, 0.0, at, t, q);
                    }
                    if key.is_none() && self.sustained[c as usize] != 0 {
                        self.let_go(origin, u128::MAX, t, b);
                    }
                }
            }
            MidiIn::Cc { channel, cc, value } => {
                let c = channel & 15;
                if cc == SUSTAIN_CC {
                    let down = value >= 0.5;
                    if down {
                        self.pedal |= 1 << c;
                    } else {
                        self.pedal &= !(1 << c);
                        // The pedal comes up: the keys it held end for the model.
                        let keys =
                            self.sustained[c as usize] & !self.playback.held_keys(origin_of(c));
                        self.let_go(origin_of(c), keys, t, b);
                    }
                    if b.thru {
                        if down {
                            self.thru_pedal |= 1 << c;
                        } else {
                            self.thru_pedal &= !(1 << c);
                        }
                    }
                }
                if b.thru {
                    q.midi(at, c, OutKind::Cc { cc, value }, 0);
                }
            }
            MidiIn::PitchBend { channel, value } => {
                let c = channel & 15;
                if b.thru {
                    if (value - 0.5).abs() > 1e-4 {
                        self.thru_bent |= 1 << c;
                    } else {
                        self.thru_bent &= !(1 << c);
                    }
                    q.midi(at, c, OutKind::PitchBend(value), 0);
                }
            }
            MidiIn::ChannelPressure { channel, value } => {
                if b.thru {
                    q.midi(at, channel, OutKind::ChannelPressure(value), 0);
                }
            }
            MidiIn::PolyPressure {
                channel,
                key,
                value,
            } => {
                if b.thru {
                    q.midi(at, channel, OutKind::PolyPressure(value), key);
                }
            }
            MidiIn::Program { channel, program } => {
                if b.thru {
                    q.midi(at, channel, OutKind::Program(program), 0);
                }
            }
        }
    }

    /// One player note start or end at stream time `t` (block offset `at`); `time` is the
    /// analyser's best estimate of a detected note's start.
    #[allow(clippy::too_many_arguments)]
    fn player_note(
        &mut self,
        b: &Block,
        origin: NoteOrigin,
        on: bool,
        pitch: u8,
        velocity: f32,
        at: u32,
        time: u64,
        q: &mut EventQueue,
    ) {
        let pitch = pitch & 127;
        let t = b.clock.start + at as u64;
        // The live chord voice hears the keys as they were up to this note.
        self.accompany_until(t, b, q);
        let counters = &b.shared.counters;
        // MIDI thru: the keyboard's notes on their own channel, detected ones on the output
        // channel.
        let thru_channel = match origin {
            NoteOrigin::Midi(c) => c & 15,
            NoteOrigin::Audio => b.settings.channel,
        };
        if on {
            // A key struck again while the pedal still holds it: the held note ends first.
            if let NoteOrigin::Midi(c) = origin {
                let bit = 1u128 << pitch;
                if self.sustained[c as usize] & bit != 0 {
                    self.sustained[c as usize] &= !bit;
                    let off = PlayerNote::Off {
                        pitch,
                        at: b.clock.stamp(t),
                        origin,
                    };
                    self.ends.send(ToModel::Note(off), counters);
                }
            }
            let on = PlayerNote::On {
                pitch,
                velocity,
                at: b.clock.stamp(time),
                origin,
            };
            self.ends.send(ToModel::Note(on), counters);
            b.shared.onsets.fetch_add(1, Ordering::Relaxed);
            self.player_velocity = 0.7 * self.player_velocity + 0.3 * velocity.clamp(0.0, 1.0);
            {
                let mut status = status_sender(&mut self.ends, counters);
                self.playback.player_note_on(
                    t,
                    origin,
                    pitch,
                    &b.clock,
                    &b.settings,
                    q,
                    &mut status,
                );
            }
            {
                let ends = &mut self.ends;
                self.accompanist
                    .player_note_on(t, pitch, &b.clock, &b.live, q, &mut |n| {
                        ends.send(ToModel::Beat(n), counters)
                    });
            }
            if b.thru {
                q.note_on(at, thru_channel, pitch, velocity, Voice::Thru);
            }
        } else {
            let held = self.playback.held_keys(origin) & (1u128 << pitch) != 0;
            {
                let mut status = status_sender(&mut self.ends, counters);
                self.playback.player_note_off(
                    t,
                    origin,
                    pitch,
                    &b.clock,
                    &b.settings,
                    q,
                    &mut status,
                );
            }
            let pedal = match origin {
                NoteOrigin::Midi(c) => self.pedal & (1 << c) != 0,
                NoteOrigin::Audio => false,
            };
            if pedal && held {
                if let NoteOrigin::Midi(c) = origin {
                    self.sustained[c as usize] |= 1u128 << pitch;
                }
            } else if held || origin == NoteOrigin::Audio {
                let off = PlayerNote::Off {
                    pitch,
                    at: b.clock.stamp(t),
                    origin,
                };
                self.ends.send(ToModel::Note(off), counters);
            }
            // The thru note ends with the key (the pedal itself goes through as CC 64).
            q.note_off(at, thru_channel, pitch, Voice::Thru);
        }
    }

    /// Meters and playback state for the editor and the model thread.
    fn publish(&self, clock: &Clock, host: HostTime, shared: &Shared) {
        shared.stream_pos.store(self.stream_pos, Ordering::Relaxed);
        shared.tempo.store(clock.tempo as f32, Ordering::Relaxed);
        shared.meter.store(self.meter.pack(), Ordering::Relaxed);
        shared.host_playing.store(host.playing, Ordering::Relaxed);
        let host_beats = host.pos_beats.filter(|b| b.is_finite());
        shared.host_beats.store(
            host_beats.map(|b| b as f32).unwrap_or(f32::NAN),
            Ordering::Relaxed,
        );
        shared
            .playing_generation
            .store(self.playback.playing_generation(), Ordering::Relaxed);
        shared
            .playing_since
            .store(self.playback.phrase_start(), Ordering::Relaxed);
        shared
            .armed_generation
            .store(self.playback.armed_generation(), Ordering::Relaxed);
        shared
            .player_velocity
            .store(self.player_velocity, Ordering::Relaxed);
    }
}

/// The MIDI source of channel `c`.
fn origin_of(c: u8) -> NoteOrigin {
    NoteOrigin::Midi(c & 15)
}

/// Whether the input source setting listens to `origin`.
fn listens(source: InputSource, origin: NoteOrigin) -> bool {
    match origin {
        NoteOrigin::Audio => source != InputSource::Midi,
        NoteOrigin::Midi(_) => source != InputSource::Audio,
    }
}

/// Playback news go into the ordered event ring to the model thread.
fn status_sender<'a>(
    ends: &'a mut AudioEnds,
    counters: &'a Counters,
) -> impl FnMut(PlaybackStatus) + 'a {
    move |s| ends.send(ToModel::Playback(s), counters)
}

#[cfg(test)]
mod tests;
