//! Continuo: listens to a live instrument and answers with MIDI.
//!
//! This file is the nice-plug `Plugin`: ports, lifecycle and a `process()` that is a thin adapter
//! between the host and the audio-thread parts (`analysis`, `playback`), which talk to the model
//! thread (`worker`) only through `bridge`.

pub mod analysis;
pub mod bridge;
pub mod cli;
pub mod editor;
pub mod midi_file;
pub mod model;
pub mod music;
pub mod params;
pub mod playback;
pub mod preset;
pub mod worker;

use analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent as Detected};
use bridge::{
    AudioEnds, Command, Counters, NoteOrigin, PlaybackStatus, PlayerNote, Shared, Snapshot,
};
use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;
use params::{ContinuoParams, InputSource, ResponseMode, VelocitySource};
use parking_lot::Mutex;
use playback::{Clock, EventQueue, OutKind, Playback};
use ringbuf::traits::{Consumer, Producer};
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use worker::{Brain, ModelThread};

/// Most player notes one block can carry (detected plus received); more are dropped and counted.
const MAX_BLOCK_NOTES: usize = 512;

/// A player note inside the current block.
#[derive(Debug, Clone, Copy, Default)]
struct BlockNote {
    /// Offset in the block.
    at: u32,
    on: bool,
    pitch: u8,
    velocity: f32,
    /// Best estimate of the true start (stream samples), for notes from the analysis.
    onset: u64,
    from_midi: bool,
}

/// Everything the audio thread owns, allocated in `activate()` for the sample rate and the
/// largest block size.
struct AudioState {
    analyzer: Analyzer,
    /// Mono sum of the input for the analyser (max block size long).
    mono: Vec<f32>,
    ends: AudioEnds,
    playback: Playback,
    /// Player notes of the current block: analysis notes, then MIDI notes, then merged.
    detected: Box<[BlockNote; MAX_BLOCK_NOTES]>,
    detected_len: usize,
    received: Box<[BlockNote; MAX_BLOCK_NOTES]>,
    received_len: usize,
    sample_rate: f64,
    /// Samples since activation.
    stream_pos: u64,
    prev_host_playing: bool,
    prev_play_param: bool,
    prev_mode: ResponseMode,
    prev_channel: u8,
    was_bypassed: bool,
    /// Set by `reset()`: release whatever still sounds at the start of the next block.
    flush: bool,
    /// Recent player velocity (exponential average, 0..1).
    player_velocity: f32,
}

pub struct Continuo {
    params: Arc<ContinuoParams>,
    shared: Arc<Shared>,
    snapshot: Arc<Mutex<Snapshot>>,
    /// The model thread's long-lived state, lent to the thread while it runs.
    brain: Arc<Mutex<Option<Brain>>>,
    /// Editor → model thread requests.
    commands: SyncSender<Command>,
    audio: Option<AudioState>,
    model_thread: Option<ModelThread>,
    /// Output events and the set of sounding notes. Lives outside `AudioState` so notes still
    /// sounding at deactivation get their NoteOff in the first block after re-activation.
    queue: Box<EventQueue>,
}

impl Default for Continuo {
    fn default() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(64);
        Self {
            params: Arc::new(ContinuoParams::default()),
            shared: Arc::new(Shared::default()),
            snapshot: Arc::new(Mutex::new(Snapshot::default())),
            brain: Arc::new(Mutex::new(Some(Brain::new(rx)))),
            commands: tx,
            audio: None,
            model_thread: None,
            queue: Box::default(),
        }
    }
}

/// Collects the analyser's output inside `process()` without allocating.
struct Sink<'a> {
    frames: &'a mut ringbuf::HeapProd<FeatureFrame>,
    counters: &'a Counters,
    notes: &'a mut [BlockNote; MAX_BLOCK_NOTES],
    len: &'a mut usize,
    /// Offset of the current chunk inside the block.
    chunk: u32,
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
            Counters::bump(&self.counters.notes_dropped);
        }
    }
}

impl Continuo {
    fn stop_model_thread(&mut self) {
        if let Some(mut t) = self.model_thread.take() {
            t.stop();
        }
    }
}

impl Plugin for Continuo {
    const NAME: &'static str = "Continuo";
    const VENDOR: &'static str = "Continuo";
    const URL: &'static str = "https://example.invalid/continuo";
    const EMAIL: &'static str = "continuo@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            names: PortNames::const_default(),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            names: PortNames::const_default(),
            ..AudioIOLayout::const_default()
        },
    ];

    const MIDI_INPUT: MidiConfig = MidiConfig::Basic;
    const MIDI_OUTPUT: MidiConfig = MidiConfig::Basic;
    const SAMPLE_ACCURATE_AUTOMATION: bool = true;

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = nice_plug_egui::EguiEditor<editor::ContinuoEditor>;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(
            self.params.clone(),
            self.shared.clone(),
            self.snapshot.clone(),
            self.commands.clone(),
        )
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.stop_model_thread();
        let sample_rate = buffer_config.sample_rate;
        if !(sample_rate.is_finite() && (8_000.0..=768_000.0).contains(&sample_rate)) {
            nice_error!("Continuo: unsupported sample rate {sample_rate}");
            return false;
        }
        let max_block = (buffer_config.max_buffer_size as usize).clamp(1, 1 << 16);
        let (audio_ends, model_ends) = bridge::rings();
        self.shared
            .sample_rate
            .store(sample_rate, Ordering::Relaxed);
        self.audio = Some(AudioState {
            analyzer: Analyzer::new(sample_rate),
            mono: vec![0.0; max_block],
            ends: audio_ends,
            playback: Playback::default(),
            detected: Box::new([BlockNote::default(); MAX_BLOCK_NOTES]),
            detected_len: 0,
            received: Box::new([BlockNote::default(); MAX_BLOCK_NOTES]),
            received_len: 0,
            sample_rate: sample_rate as f64,
            stream_pos: 0,
            prev_host_playing: false,
            prev_play_param: self.params.response.play.value(),
            prev_mode: self.params.response.mode.value(),
            prev_channel: (self.params.output.channel.value() - 1).clamp(0, 15) as u8,
            was_bypassed: false,
            flush: true,
            player_velocity: 0.7,
        });
        match ModelThread::spawn(
            model_ends,
            self.shared.clone(),
            self.params.clone(),
            self.snapshot.clone(),
            self.brain.clone(),
        ) {
            Ok(t) => self.model_thread = Some(t),
            Err(e) => {
                nice_error!("Continuo: the model thread could not start: {e}");
                self.snapshot.lock().message = Some(format!("model thread could not start: {e}"));
            }
        }
        true
    }

    fn reset(&mut self) {
        if let Some(st) = self.audio.as_mut() {
            st.analyzer.reset();
            st.playback.reset();
            st.stream_pos = 0;
            st.flush = true;
            if st.ends.status.try_push(PlaybackStatus::Reset).is_err() {
                Counters::bump(&self.shared.counters.status_dropped);
            }
        }
    }

    fn deactivate(&mut self) {
        self.stop_model_thread();
        if let Some(st) = self.audio.as_mut() {
            st.flush = true;
        }
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let Some(st) = self.audio.as_mut() else {
            return ProcessStatus::Normal;
        };
        let p = &*self.params;
        let shared = &*self.shared;
        let q = &mut *self.queue;
        q.clear();
        let n = buffer.samples();

        // Where this block is in musical time.
        let transport = context.transport();
        let tempo = transport
            .tempo
            .filter(|t| t.is_finite() && *t >= 1.0 && *t <= 1000.0)
            .unwrap_or(p.response.tempo.value() as f64);
        let host_playing = transport.playing;
        let host_beats = transport.pos_beats().filter(|b| b.is_finite());
        let beat_at_start = match (host_playing, host_beats) {
            (true, Some(b)) => b,
            _ => st.stream_pos as f64 / st.sample_rate * tempo / 60.0,
        };
        let clock = Clock {
            start: st.stream_pos,
            len: n as u32,
            sample_rate: st.sample_rate,
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
                VelocitySource::Player => Some(st.player_velocity),
                VelocitySource::Model => None,
            },
        };
        let status_ring = &mut st.ends.status;
        let counters = &shared.counters;
        let mut status = |s: PlaybackStatus| {
            if status_ring.try_push(s).is_err() {
                Counters::bump(&counters.status_dropped);
            }
        };

        // Release what a reset or deactivation left sounding.
        if st.flush {
            q.all_off(0);
            st.flush = false;
        }

        // Anything that must silence the answer: bypass, transport stop, mode/channel change.
        let bypass = p.bypass.value();
        let stop_now = (bypass && !st.was_bypassed)
            || (st.prev_host_playing && !host_playing)
            || mode != st.prev_mode
            || channel != st.prev_channel
            || shared.stop_request.swap(false, Ordering::Relaxed);
        if stop_now {
            st.playback.stop(clock.start, &clock, q, &mut status);
            q.all_off(0);
        }
        st.was_bypassed = bypass;
        st.prev_host_playing = host_playing;
        st.prev_mode = mode;
        st.prev_channel = channel;

        // The newest phrase from the model thread is the armed one.
        while let Some(phrase) = st.ends.phrases.try_pop() {
            st.playback.arm(phrase);
        }

        // Incoming notes (keyboard players).
        st.received_len = 0;
        while let Some(event) = context.next_event() {
            let note = match event {
                NoteEvent::NoteOn {
                    timing,
                    key: Key::Number(k),
                    velocity,
                    ..
                } if velocity > 0.0 => Some(BlockNote {
                    at: timing,
                    on: true,
                    pitch: k,
                    velocity,
                    onset: 0,
                    from_midi: true,
                }),
                NoteEvent::NoteOn {
                    timing,
                    key: Key::Number(k),
                    ..
                }
                | NoteEvent::NoteOff {
                    timing,
                    key: Key::Number(k),
                    ..
                }
                | NoteEvent::Choke {
                    timing,
                    key: Key::Number(k),
                    ..
                } => Some(BlockNote {
                    at: timing,
                    on: false,
                    pitch: k,
                    velocity: 0.0,
                    onset: 0,
                    from_midi: true,
                }),
                _ => None,
            };
            if let Some(mut note) = note {
                note.at = note.at.min(n.saturating_sub(1) as u32);
                note.pitch &= 127;
                note.onset = clock.start + note.at as u64;
                if st.received_len < MAX_BLOCK_NOTES {
                    st.received[st.received_len] = note;
                    st.received_len += 1;
                } else {
                    Counters::bump(&counters.notes_dropped);
                }
            }
        }

        // Input meters and the analyser, on a mono sum (in chunks of the buffer we own).
        let channels = buffer.as_slice_immutable();
        let nch = channels.len().max(1) as f32;
        let mut peak = 0.0f32;
        let mut sum_sq = 0.0f64;
        st.detected_len = 0;
        let mut chunk_start = 0;
        while chunk_start < n {
            let len = (n - chunk_start).min(st.mono.len());
            let mono = &mut st.mono[..len];
            mono.fill(0.0);
            for ch in channels.iter() {
                if let Some(src) = ch.get(chunk_start..chunk_start + len) {
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
                    frames: &mut st.ends.frames,
                    counters,
                    notes: &mut st.detected,
                    len: &mut st.detected_len,
                    chunk: chunk_start as u32,
                };
                st.analyzer.process(mono, &mut sink);
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
        match st.analyzer.current_pitch() {
            Some((pitch, confidence)) => {
                shared.pitch.store(pitch, Ordering::Relaxed);
                shared.pitch_confidence.store(confidence, Ordering::Relaxed);
            }
            None => {
                shared.pitch.store(-1.0, Ordering::Relaxed);
                shared.pitch_confidence.store(0.0, Ordering::Relaxed);
            }
        }

        if !bypass {
            // Play requests: the parameter's off → on edge, or the editor's button.
            let play_param = p.response.play.value();
            if play_param && !st.prev_play_param {
                st.playback.request_play(clock.start);
            }
            st.prev_play_param = play_param;
            if shared.play_request.swap(false, Ordering::Relaxed) {
                st.playback.request_play(clock.start);
            }

            // Player notes in time order (analysis and MIDI merged), then the rest of the block.
            let source = p.input.source.value();
            let use_audio = source != InputSource::Midi;
            let use_midi = source != InputSource::Audio;
            let thru = p.input.midi_thru.value();
            let (mut i, mut j) = (0, 0);
            let (nd, nr) = (
                if use_audio { st.detected_len } else { 0 },
                if use_midi { st.received_len } else { 0 },
            );
            while i < nd || j < nr {
                let take_detected = j >= nr || (i < nd && st.detected[i].at <= st.received[j].at);
                let note = if take_detected {
                    i += 1;
                    st.detected[i - 1]
                } else {
                    j += 1;
                    st.received[j - 1]
                };
                let t = clock.start + note.at as u64;
                let origin = if note.from_midi {
                    NoteOrigin::Midi
                } else {
                    NoteOrigin::Audio
                };
                let msg = if note.on {
                    PlayerNote::On {
                        pitch: note.pitch,
                        velocity: note.velocity,
                        time: note.onset.min(t),
                        origin,
                    }
                } else {
                    PlayerNote::Off {
                        pitch: note.pitch,
                        time: t,
                        origin,
                    }
                };
                if st.ends.notes.try_push(msg).is_err() {
                    Counters::bump(&counters.notes_dropped);
                }
                if note.on {
                    shared.onsets.fetch_add(1, Ordering::Relaxed);
                    st.player_velocity =
                        0.7 * st.player_velocity + 0.3 * note.velocity.clamp(0.0, 1.0);
                    st.playback
                        .player_note_on(t, &clock, &settings, q, &mut status);
                    if thru {
                        q.note_on(note.at, channel, note.pitch, note.velocity);
                    }
                } else {
                    st.playback
                        .player_note_off(t, &clock, &settings, q, &mut status);
                    if thru {
                        q.note_off(note.at, channel, note.pitch);
                    }
                }
            }
            st.playback
                .advance_to(clock.end(), &clock, &settings, q, &mut status);
        }

        // Send the block's events in time order.
        for e in q.sorted() {
            let event = match e.kind {
                OutKind::On => NoteEvent::NoteOn {
                    timing: e.time,
                    voice_id: VoiceID::Wildcard,
                    channel: Channel::Number(e.channel),
                    key: Key::Number(e.pitch),
                    velocity: e.velocity,
                },
                OutKind::Off => NoteEvent::NoteOff {
                    timing: e.time,
                    voice_id: VoiceID::Wildcard,
                    channel: Channel::Number(e.channel),
                    key: Key::Number(e.pitch),
                    velocity: 0.0,
                },
            };
            if context.try_send_event(event).is_err() {
                Counters::bump(&counters.events_dropped);
            }
        }
        if q.dropped > 0 {
            counters
                .events_dropped
                .fetch_add(q.dropped, Ordering::Relaxed);
            q.dropped = 0;
        }

        // Audio passes through untouched, except that non-finite and subnormal samples become 0
        // so nothing downstream is poisoned.
        for ch in buffer.as_slice().iter_mut() {
            for x in ch.iter_mut() {
                if !x.is_finite() || x.is_subnormal() {
                    *x = 0.0;
                }
            }
        }

        st.stream_pos += n as u64;
        shared.stream_pos.store(st.stream_pos, Ordering::Relaxed);
        shared.tempo.store(tempo as f32, Ordering::Relaxed);
        shared.host_playing.store(host_playing, Ordering::Relaxed);
        shared.host_beats.store(
            host_beats.map(|b| b as f32).unwrap_or(f32::NAN),
            Ordering::Relaxed,
        );
        shared
            .playing_generation
            .store(st.playback.playing_generation(), Ordering::Relaxed);
        shared
            .playing_since
            .store(st.playback.phrase_start(), Ordering::Relaxed);
        shared
            .armed_generation
            .store(st.playback.armed_generation(), Ordering::Relaxed);
        shared
            .player_velocity
            .store(st.player_velocity, Ordering::Relaxed);
        ProcessStatus::Normal
    }
}

impl ClapPlugin for Continuo {
    const CLAP_ID: &'static str = "org.continuo.continuo";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Listens to your playing and answers with MIDI continuations of your phrase");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::NoteEffect,
        ClapFeature::NoteDetector,
        ClapFeature::Analyzer,
        ClapFeature::AudioEffect,
        ClapFeature::Utility,
        ClapFeature::Stereo,
        ClapFeature::Mono,
    ];
}

impl Vst3Plugin for Continuo {
    const VST3_CLASS_ID: [u8; 16] = *b"ContinuoMidiCont";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[
        Vst3SubCategory::Fx,
        Vst3SubCategory::Analyzer,
        Vst3SubCategory::Tools,
    ];
}

nice_export_clap!(Continuo);
nice_export_vst3!(Continuo);
