//! Continuo: listens to a live instrument and answers with MIDI.
//!
//! This file is the nice-plug `Plugin`: ports, lifecycle and a `process()` that is a thin adapter
//! between the host and the audio-thread parts (`analysis`, `playback`), which talk to the model
//! thread (`worker`) only through `bridge`.

pub mod accompanist;
pub mod analysis;
pub mod bridge;
pub mod cli;
pub mod editor;
pub mod engine;
pub mod files;
pub mod harmony;
pub mod meter;
pub mod model;
pub mod music;
pub mod params;
pub mod playback;
pub mod preset;
pub mod session;
pub mod worker;

use bridge::{Command, Counters, Shared, Snapshot};
use engine::{Engine, HostTime, MidiIn};
use nice_plug::midi::{Channel, Key, VoiceID};
use nice_plug::prelude::*;
use nice_plug::wrapper::clap::presets::{
    ClapPresetFileType, ClapPresetInfo, ClapPresetLocation, PluginState, PresetLocation,
};
use params::ContinuoParams;
use parking_lot::Mutex;
use playback::{EventQueue, OutKind};
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use worker::{Brain, ModelThread};

pub struct Continuo {
    params: Arc<ContinuoParams>,
    shared: Arc<Shared>,
    snapshot: Arc<Mutex<Snapshot>>,
    /// The model thread's long-lived state, lent to the thread while it runs.
    brain: Arc<Mutex<Option<Brain>>>,
    /// Editor → model thread requests.
    commands: SyncSender<Command>,
    /// The audio-thread state, made in `activate()` for the sample rate and block size. Boxed:
    /// it is large, and `activate()` runs on host threads with small stacks (see [`Engine::new`]).
    engine: Option<Box<Engine>>,
    model_thread: Option<ModelThread>,
    /// Output events and the set of sounding notes. Lives outside the [`Engine`] (which is made
    /// anew in every `activate()`) so notes still sounding at deactivation get their NoteOff in
    /// the first block after re-activation.
    queue: Box<EventQueue>,
    /// The active layout is mono in, stereo out: the input is copied to the right side.
    mono_to_stereo: bool,
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
            engine: None,
            model_thread: None,
            queue: Box::default(),
            mono_to_stereo: false,
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

    /// Stereo first: it is the default of hosts that take the first layout, and on a stereo track
    /// it passes both sides untouched (a mono-input default would drop the right side there).
    /// Mono in → stereo out is for mono tracks in hosts that negotiate (CLAP audio-ports-config,
    /// VST3 `setBusArrangements(mono, stereo)`): the input goes out on both sides.
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            names: PortNames {
                layout: Some("Stereo"),
                ..PortNames::const_default()
            },
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(2),
            names: PortNames {
                layout: Some("Mono in, stereo out"),
                ..PortNames::const_default()
            },
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            names: PortNames {
                layout: Some("Mono"),
                ..PortNames::const_default()
            },
            ..AudioIOLayout::const_default()
        },
    ];

    // Controllers, pitch bend and pressure too: a keyboard's pedal and bends pass through with
    // MIDI thru, and the sustain pedal lengthens the notes the model hears.
    const MIDI_INPUT: MidiConfig = MidiConfig::MidiCCs;
    const MIDI_OUTPUT: MidiConfig = MidiConfig::MidiCCs;
    const SAMPLE_ACCURATE_AUTOMATION: bool = true;
    /// Room for a VST3 host's restore in one block without an allocation on the audio thread:
    /// nice-plug's 2,080 MIDI-controller parameters, Continuo's own and the block's notes (the
    /// default 1,024 overflowed when Ardour opened a session).
    const INPUT_EVENT_CAPACITY: usize = 4096;

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
        audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        self.stop_model_thread();
        let sample_rate = buffer_config.sample_rate;
        // Any rate a host can run at is fine for the passthrough; the analyser only listens
        // where its windows work (`analysis::listens_at`), and the editor says so.
        if !(sample_rate.is_finite() && sample_rate > 0.0) {
            nice_error!("Continuo: unusable sample rate {sample_rate}");
            return false;
        }
        let listening = analysis::listens_at(sample_rate);
        if !listening {
            nice_warn!(
                "Continuo: analysis off at {sample_rate} Hz (it listens at {}–{} Hz)",
                analysis::MIN_SAMPLE_RATE,
                analysis::MAX_SAMPLE_RATE
            );
        }
        self.shared
            .analysis_listening
            .store(listening, Ordering::Relaxed);
        self.mono_to_stereo = audio_io_layout.main_input_channels.map(NonZeroU32::get) == Some(1)
            && audio_io_layout.main_output_channels.map(NonZeroU32::get) == Some(2);
        let max_block = (buffer_config.max_buffer_size as usize).clamp(1, 1 << 16);
        let (engine, model_ends) = Engine::new(sample_rate, max_block);
        self.shared
            .sample_rate
            .store(sample_rate, Ordering::Relaxed);
        self.engine = Some(engine);
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
        if let Some(engine) = self.engine.as_mut() {
            engine.reset(&self.shared);
        }
    }

    fn deactivate(&mut self) {
        self.stop_model_thread();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let Some(engine) = self.engine.as_mut() else {
            return ProcessStatus::Normal;
        };
        let counters = &self.shared.counters;
        let n = buffer.samples();
        // Mono in, stereo out: nice-plug put the input on the left and zeroed the right.
        if self.mono_to_stereo {
            if let [left, right, ..] = buffer.as_slice() {
                right.copy_from_slice(left);
            }
        }

        // The note input (keyboard players): notes, pedal, bends, pressure.
        while let Some(event) = context.next_event() {
            if let Some((timing, m)) = midi_in(event) {
                engine.receive(timing, m, counters);
            }
        }

        let transport = context.transport();
        let host = HostTime {
            tempo: transport.tempo,
            playing: transport.playing,
            pos_beats: transport.pos_beats(),
            time_signature: transport
                .time_sig_numerator
                .zip(transport.time_sig_denominator),
            bar_start: transport.bar_start_pos_beats(),
        };
        let q = &mut *self.queue;
        engine.process(
            buffer.as_slice_immutable(),
            n,
            host,
            &self.params,
            &self.shared,
            q,
        );

        for e in q.sorted() {
            let (timing, channel, key) = (e.time, e.channel, e.pitch);
            let event = match e.kind {
                OutKind::On => NoteEvent::NoteOn {
                    timing,
                    voice_id: VoiceID::Wildcard,
                    channel: Channel::Number(channel),
                    key: Key::Number(key),
                    velocity: e.velocity,
                },
                OutKind::Off => NoteEvent::NoteOff {
                    timing,
                    voice_id: VoiceID::Wildcard,
                    channel: Channel::Number(channel),
                    key: Key::Number(key),
                    velocity: 0.0,
                },
                OutKind::Cc { cc, value } => NoteEvent::MidiCC {
                    timing,
                    channel,
                    cc,
                    value,
                },
                OutKind::PitchBend(value) => NoteEvent::MidiPitchBend {
                    timing,
                    channel,
                    value,
                },
                OutKind::ChannelPressure(pressure) => NoteEvent::MidiChannelPressure {
                    timing,
                    channel,
                    pressure,
                },
                OutKind::PolyPressure(pressure) => NoteEvent::PolyPressure {
                    timing,
                    voice_id: VoiceID::Wildcard,
                    channel: Channel::Number(channel),
                    key: Key::Number(key),
                    pressure,
                },
                OutKind::Program(program) => NoteEvent::MidiProgramChange {
                    timing,
                    channel,
                    program,
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
        // Continuo answers when the input goes quiet: a host that suspends quiet plugins must
        // not do so while an answer is due or playing, or a note sounds.
        if engine.needs_processing(q, &self.params) {
            ProcessStatus::KeepAlive
        } else {
            ProcessStatus::Normal
        }
    }
}

/// What Continuo takes from a host note event: notes (a wildcard key or channel in a NoteOff or
/// Choke releases every key it covers), controllers, pitch bend, pressure and program changes.
fn midi_in(event: NoteEvent<()>) -> Option<(u32, MidiIn)> {
    Some(match event {
        NoteEvent::NoteOn {
            timing,
            channel,
            key: Key::Number(key),
            velocity,
            ..
        } => (
            timing,
            MidiIn::NoteOn {
                channel: channel.number().unwrap_or(0),
                key,
                velocity,
            },
        ),
        NoteEvent::NoteOff {
            timing,
            channel,
            key,
            ..
        }
        | NoteEvent::Choke {
            timing,
            channel,
            key,
            ..
        } => (
            timing,
            MidiIn::NoteOff {
                channel: channel.number(),
                key: key.number(),
            },
        ),
        NoteEvent::MidiCC {
            timing,
            channel,
            cc,
            value,
        } => (timing, MidiIn::Cc { channel, cc, value }),
        NoteEvent::MidiPitchBend {
            timing,
            channel,
            value,
        } => (timing, MidiIn::PitchBend { channel, value }),
        NoteEvent::MidiChannelPressure {
            timing,
            channel,
            pressure,
        } => (
            timing,
            MidiIn::ChannelPressure {
                channel,
                value: pressure,
            },
        ),
        NoteEvent::PolyPressure {
            timing,
            channel,
            key: Key::Number(key),
            pressure,
            ..
        } => (
            timing,
            MidiIn::PolyPressure {
                channel: channel.number().unwrap_or(0),
                key,
                value: pressure,
            },
        ),
        NoteEvent::MidiProgramChange {
            timing,
            channel,
            program,
        } => (timing, MidiIn::Program { channel, program }),
        _ => return None,
    })
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

    // The factory presets and the user's in the host's own preset browser.
    const CLAP_PRESET_DISCOVERY: bool = true;

    fn clap_preset_locations() -> Vec<ClapPresetLocation> {
        let factory = preset::factory_copy_dir();
        preset::host_browser::locations(&preset::user_dir(), factory.as_deref())
    }

    fn clap_preset_file_types() -> Vec<ClapPresetFileType> {
        preset::host_browser::file_types()
    }

    fn clap_presets_at(location: PresetLocation<'_>) -> Result<Vec<ClapPresetInfo>, String> {
        preset::host_browser::presets_at(location, preset::factory_copy_dir().as_deref())
    }

    fn clap_preset_state(
        location: PresetLocation<'_>,
        load_key: Option<&str>,
    ) -> Result<PluginState, String> {
        preset::host_browser::state(location, load_key)
    }
}

impl Vst3Plugin for Continuo {
    const VST3_CLASS_ID: [u8; 16] = *b"ContinuoMidiCont";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[
        Vst3SubCategory::Fx,
        Vst3SubCategory::Analyzer,
        Vst3SubCategory::Tools,
    ];

    // The factory presets in a VST3 host's preset menu, as its program list.
    fn vst3_programs() -> Vec<String> {
        preset::host_browser::programs()
    }

    fn vst3_program_state(index: usize) -> Result<PluginState, String> {
        preset::host_browser::program_state(index)
    }

    fn vst3_program_of(state: &PluginState) -> Option<usize> {
        preset::host_browser::program_of(state)
    }
}

nice_export_clap!(Continuo);
nice_export_vst3!(Continuo);
