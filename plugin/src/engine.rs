//! AUDIO THREAD: one block of Continuo, independent of the plugin API.
//!
//! `lib.rs` adapts nice-plug's buffers, events and transport to this; the offline session
//! (`session.rs`, used by `continuo render` and the tests) drives the very same code from a file.
//! Everything is allocated in [`Engine::new`]; [`Engine::process`] never allocates, locks or
//! blocks.

use crate::analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent as Detected};
use crate::bridge::{
    AudioEnds, Counters, ModelEnds, NoteOrigin, PlaybackStatus, PlayerNote, Shared,
};
use crate::params::{ContinuoParams, InputSource, ResponseMode, VelocitySource};
use crate::playback::{self, Clock, EventQueue, Playback};
use ringbuf::traits::{Consumer, Producer};
use std::sync::atomic::Ordering;

/// Most player notes one block can carry (detected plus received); more are dropped and counted.
pub const MAX_BLOCK_NOTES: usize = 512;

/// A player note inside the current block.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BlockNote {
    /// Offset in the block.
    pub at: u32,
    pub on: bool,
    pub pitch: u8,
    pub velocity: f32,
    /// Best estimate of the true start (stream samples), for notes from the analysis.
    pub onset: u64,
    pub from_midi: bool,
}

/// What the host says about musical time for this block.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HostTime {
    pub tempo: Option<f64>,
    pub playing: bool,
    pub pos_beats: Option<f64>,
}

/// The audio-thread state, allocated for one sample rate and maximum block size.
pub struct Engine {
    analyzer: Analyzer,
    /// Mono sum of the input for the analyser (max block size long).
    mono: Vec<f32>,
    ends: AudioEnds,
    playback: Playback,
    /// Notes detected in this block.
    detected: Box<[BlockNote; MAX_BLOCK_NOTES]>,
    detected_len: usize,
    /// Keys whose NoteOff did not fit this block's arrays: released at the block's last sample,
    /// so a flood of notes can never leave a note stuck.
    overflow_offs: u128,
    /// Notes received on the note input for this block (filled by [`Engine::receive`]).
    received: Box<[BlockNote; MAX_BLOCK_NOTES]>,
    received_len: usize,
    sample_rate: f64,
    /// Samples since activation (or the last reset).
    stream_pos: u64,
    prev_host_playing: bool,
    prev_play_param: bool,
    prev_mode: Option<ResponseMode>,
    prev_channel: Option<u8>,
    prev_source: Option<InputSource>,
    was_bypassed: bool,
    /// Set by `reset()` and at creation: release whatever still sounds at the next block.
    flush: bool,
    /// Recent player velocity (exponential average, 0..1).
    player_velocity: f32,
}

/// Collects the analyser's output inside `process()` without allocating.
struct Sink<'a> {
    frames: &'a mut ringbuf::HeapProd<FeatureFrame>,
    counters: &'a Counters,
    notes: &'a mut [BlockNote; MAX_BLOCK_NOTES],
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
            } => BlockNote {
                at: at + self.chunk,
                on: true,
                pitch,
                velocity,
                onset: onset_samples,
                from_midi: false,
            },
            Detected::Off {
                pitch,
                offset_samples,
                at,
            } => BlockNote {
                at: at + self.chunk,
                on: false,
                pitch,
                velocity: 0.0,
                onset: offset_samples,
                from_midi: false,
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

impl Engine {
    /// Allocates everything for `sample_rate` and blocks of up to `max_block` samples, and the
    /// rings to the model thread (its ends are returned).
    pub fn new(sample_rate: f32, max_block: usize) -> (Self, ModelEnds) {
        let (audio_ends, model_ends) = crate::bridge::rings();
        let engine = Self {
            analyzer: Analyzer::new(sample_rate),
            mono: vec![0.0; max_block.clamp(1, 1 << 16)],
            ends: audio_ends,
            playback: Playback::default(),
            detected: Box::new([BlockNote::default(); MAX_BLOCK_NOTES]),
            detected_len: 0,
            received: Box::new([BlockNote::default(); MAX_BLOCK_NOTES]),
            received_len: 0,
            overflow_offs: 0,
            sample_rate: sample_rate as f64,
            stream_pos: 0,
            prev_host_playing: false,
            prev_play_param: false,
            prev_mode: None,
            prev_channel: None,
            prev_source: None,
            was_bypassed: false,
            flush: true,
            player_velocity: 0.7,
        };
        (engine, model_ends)
    }

    /// Forgets the signal and playback (no allocation). Sounding notes are released next block.
    pub fn reset(&mut self, shared: &Shared) {
        self.analyzer.reset();
        self.playback.reset();
        self.stream_pos = 0;
        self.flush = true;
        if self.ends.status.try_push(PlaybackStatus::Reset).is_err() {
            Counters::bump(&shared.counters.status_dropped);
        }
    }

    /// Releases sounding notes at the start of the next block (after a deactivation).
    pub fn flush_next_block(&mut self) {
        self.flush = true;
    }

    /// A note arriving on the note input at offset `at` of the coming block.
    pub fn receive(&mut self, at: u32, on: bool, pitch: u8, velocity: f32, counters: &Counters) {
        if self.received_len < MAX_BLOCK_NOTES {
            self.received[self.received_len] = BlockNote {
                at,
                on,
                pitch: pitch & 127,
                velocity,
                onset: 0,
                from_midi: true,
            };
            self.received_len += 1;
        } else {
            if !on {
                self.overflow_offs |= 1u128 << (pitch & 127);
            }
            Counters::bump(&counters.notes_dropped);
        }
    }

    pub fn stream_pos(&self) -> u64 {
        self.stream_pos
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
        let tempo = host
            .tempo
            .filter(|t| t.is_finite() && (1.0..=1000.0).contains(t))
            .unwrap_or(p.response.tempo.value() as f64);
        let host_beats = host.pos_beats.filter(|b| b.is_finite());
        let beat_at_start = match (host.playing, host_beats) {
            (true, Some(b)) => b,
            _ => self.stream_pos as f64 / self.sample_rate * tempo / 60.0,
        };
        let clock = Clock {
            start: self.stream_pos,
            len: n as u32,
            sample_rate: self.sample_rate,
            tempo,
            beat_at_start,
        };
        let channel = (p.output.channel.value() - 1).clamp(0, 15) as u8;
        let mode = p.response.mode.value();
        let settings = playback::Settings {
            mode,
            gap_beats: p.response.gap.value() as f64,
            stop_on_return: p.response.stop_on_return.value(),
            grid: p.response.grid.value().beats(),
            swing: p.response.swing.value() as f64,
            channel,
            transpose: p.output.transpose.value(),
            length_scale: p.output.length_scale.value() as f64,
            velocity: match p.output.velocity.value() {
                VelocitySource::Player => Some(self.player_velocity),
                VelocitySource::Model => None,
            },
        };
        let status_ring = &mut self.ends.status;
        let counters = &shared.counters;
        let mut status = |s: PlaybackStatus| {
            if status_ring.try_push(s).is_err() {
                Counters::bump(&counters.status_dropped);
            }
        };

        // Release what a reset or deactivation left sounding.
        if self.flush {
            q.all_off(0);
            self.flush = false;
        }

        // Anything that must silence the answer: bypass, transport stop, mode/channel change, Stop.
        let bypass = p.bypass.value();
        let stop_now = (bypass && !self.was_bypassed)
            || (self.prev_host_playing && !host.playing)
            || self.prev_mode.is_some_and(|m| m != mode)
            || self.prev_channel.is_some_and(|c| c != channel)
            || shared.stop_request.swap(false, Ordering::Relaxed);
        if stop_now {
            self.playback.stop(clock.start, &clock, q, &mut status);
            self.playback.pause();
            q.all_off(0);
        }
        // Notes the player held before a bypass or a source change will never be released here.
        let source = p.input.source.value();
        self.analyzer
            .set_fast_tracking(p.input.tracking.value() == crate::params::Tracking::Fast);
        if bypass || self.prev_source.is_some_and(|s| s != source) {
            self.playback.forget_held();
        }
        self.prev_source = Some(source);
        self.was_bypassed = bypass;
        self.prev_host_playing = host.playing;
        self.prev_mode = Some(mode);
        self.prev_channel = Some(channel);

        // The newest phrase from the model thread is the armed one.
        while let Some(phrase) = self.ends.phrases.try_pop() {
            self.playback.arm(phrase);
        }

        // Input meters and the analyser, on a mono sum (in chunks of the buffer we own).
        let nch = channels.len().max(1) as f32;
        let mut peak = 0.0f32;
        let mut sum_sq = 0.0f64;
        self.detected_len = 0;
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
                    counters,
                    notes: &mut self.detected,
                    len: &mut self.detected_len,
                    chunk: chunk_start as u32,
                    overflow_offs: &mut self.overflow_offs,
                };
                self.analyzer.process(mono, &mut sink);
            }
            chunk_start += len;
        }
        shared.input_peak.store(peak, Ordering::Relaxed);
        shared.input_rms.store(
            if n > 0 {
                (sum_sq / n as f64).sqrt() as f32
            } else {
                0.0
            },
            Ordering::Relaxed,
        );
        let (pitch, confidence) = self.analyzer.current_pitch().unwrap_or((-1.0, 0.0));
        shared.pitch.store(pitch, Ordering::Relaxed);
        shared.pitch_confidence.store(confidence, Ordering::Relaxed);

        if !bypass {
            // Play requests: the parameter's off → on edge, or the editor's button.
            let play_param = p.response.play.value();
            if play_param && !self.prev_play_param {
                self.playback.request_play(clock.start);
            }
            self.prev_play_param = play_param;
            if shared.play_request.swap(false, Ordering::Relaxed) {
                self.playback.request_play(clock.start);
            }

            // Player notes in time order (analysis and MIDI merged), then the rest of the block.
            let thru = p.input.midi_thru.value();
            let nd = if source != InputSource::Midi {
                self.detected_len
            } else {
                0
            };
            let nr = if source != InputSource::Audio {
                self.received_len
            } else {
                0
            };
            // Host events are sorted by time, but be safe: an insertion sort on a fixed array.
            self.received[..nr].sort_unstable_by_key(|b| (b.at, b.on));
            let last = n.saturating_sub(1) as u32;
            let (mut i, mut j) = (0, 0);
            while i < nd || j < nr {
                let take_detected =
                    j >= nr || (i < nd && self.detected[i].at <= self.received[j].at);
                let mut note = if take_detected {
                    i += 1;
                    self.detected[i - 1]
                } else {
                    j += 1;
                    self.received[j - 1]
                };
                note.at = note.at.min(last);
                let t = clock.start + note.at as u64;
                let origin = if note.from_midi {
                    NoteOrigin::Midi
                } else {
                    NoteOrigin::Audio
                };
                let msg = if note.on {
                    let onset = if note.from_midi { t } else { note.onset.min(t) };
                    PlayerNote::On {
                        pitch: note.pitch,
                        velocity: note.velocity,
                        time: onset,
                        origin,
                    }
                } else {
                    PlayerNote::Off {
                        pitch: note.pitch,
                        time: t,
                        origin,
                    }
                };
                if self.ends.notes.try_push(msg).is_err() {
                    Counters::bump(&counters.notes_dropped);
                }
                if note.on {
                    shared.onsets.fetch_add(1, Ordering::Relaxed);
                    self.player_velocity =
                        0.7 * self.player_velocity + 0.3 * note.velocity.clamp(0.0, 1.0);
                    self.playback
                        .player_note_on(t, note.pitch, &clock, &settings, q, &mut status);
                    if thru {
                        q.note_on(note.at, channel, note.pitch, note.velocity);
                    }
                } else {
                    self.playback
                        .player_note_off(t, note.pitch, &clock, &settings, q, &mut status);
                    if thru {
                        q.note_off(note.at, channel, note.pitch);
                    }
                }
            }
            // NoteOffs that did not fit: released at the block's last sample.
            let mut late = std::mem::take(&mut self.overflow_offs);
            while late != 0 {
                let pitch = late.trailing_zeros() as u8;
                late &= late - 1;
                let t = clock.start + last as u64;
                if self
                    .ends
                    .notes
                    .try_push(PlayerNote::Off {
                        pitch,
                        time: t,
                        origin: NoteOrigin::Midi,
                    })
                    .is_err()
                {
                    Counters::bump(&counters.notes_dropped);
                }
                self.playback
                    .player_note_off(t, pitch, &clock, &settings, q, &mut status);
                if thru {
                    q.note_off(last, channel, pitch);
                }
            }
            self.playback
                .advance_to(clock.end(), &clock, &settings, q, &mut status);
        }
        self.received_len = 0;
        self.overflow_offs = 0;

        self.stream_pos += n as u64;
        shared.stream_pos.store(self.stream_pos, Ordering::Relaxed);
        shared.tempo.store(tempo as f32, Ordering::Relaxed);
        shared.host_playing.store(host.playing, Ordering::Relaxed);
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
