//! A small headless CLAP host for Continuo's host-level tests and the demo.
//!
//! It loads the built `Continuo.clap` with clack-host the way a DAW does: one [`PluginEntry`] per
//! process (kept in a [`OnceLock`], never unloaded: unloading a nice-plug `.so` while its
//! thread-local destructors are pending crashes at thread exit), one [`Plugin`] per instance on
//! the thread that created it (nice-plug treats that thread as the main thread), and a
//! [`Session`] that runs on a separate audio thread (see [`Plugin::run`]) while the main thread
//! answers the plugin's `request_callback`.
//!
//! Parameters are addressed by their `#[id]` strings; CLAP sees them as hashes of those strings
//! (see [`param_hash`]) with normalised values (`plain = normalised × step count`, or the
//! normalised value for continuous parameters). [`Plugin::value_from_text`] converts a value in
//! the musician's units ("3", "MIDI", "1.5") with the plugin's own parser.

use clack_extensions::audio_ports::{AudioPortInfoBuffer, PluginAudioPorts};
use clack_extensions::audio_ports_config::{AudioPortsConfigBuffer, PluginAudioPortsConfig};
use clack_extensions::note_ports::{NotePortInfoBuffer, PluginNotePorts};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::preset_discovery::prelude::{Location, PluginPresetLoad};
use clack_extensions::state::PluginState;
use clack_host::events::event_types::{
    MidiEvent, NoteOffEvent, NoteOnEvent, ParamValueEvent, TransportEvent, TransportFlags,
};
use clack_host::events::spaces::CoreEventSpace;
use clack_host::events::{EventFlags, Match};
pub use clack_host::prelude::*;
use clack_host::utils::{BeatTime, SecondsTime};
use std::ffi::CString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The plugin's CLAP id.
pub const PLUGIN_ID: &str = "org.continuo.continuo";

pub type Result<T> = std::result::Result<T, Error>;

/// A host-side failure, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err(msg: impl Into<String>) -> Error {
    Error(msg.into())
}

/// The CLAP parameter id nice-plug derives from an `#[id]` string (a Java-style string hash with
/// the top bit cleared, see nice-plug's `wrapper::util::hash_param_id`).
pub fn param_hash(id: &str) -> u32 {
    let mut hash: u32 = 0;
    for b in id.bytes() {
        hash = hash.wrapping_mul(31).wrapping_add(b as u32);
    }
    hash & !(1 << 31)
}

/// Where the bundle under test is: `$CONTINUO_CLAP`, else `target/test-bundle/Continuo.clap`,
/// else `target/bundled/Continuo.clap` (relative to the workspace root). `None` when none exists.
pub fn bundle_path() -> Option<PathBuf> {
    bundle_file("CONTINUO_CLAP", "Continuo.clap")
}

/// A built bundle named `name`: `$var` if set (`None`, said, when it does not exist), else
/// `target/test-bundle/NAME`, else `target/bundled/NAME` (relative to the workspace root).
pub fn bundle_file(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        let p = PathBuf::from(p);
        if p.exists() {
            return Some(p);
        }
        eprintln!("{var}={} does not exist", p.display());
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    ["target/test-bundle", "target/bundled"]
        .iter()
        .map(|dir| root.join(dir).join(name))
        .find(|p| p.exists())
}

static ENTRY: OnceLock<std::result::Result<(PathBuf, PluginEntry), String>> = OnceLock::new();

/// Loads the entry from `path` once per process (later calls return the first one, whatever the
/// path).
pub fn load_entry(path: &Path) -> Result<&'static PluginEntry> {
    let r = ENTRY.get_or_init(|| {
        // SAFETY: loading a CLAP bundle runs its initialisation code; the bundle under test is
        // ours and stays loaded for the whole process.
        unsafe { PluginEntry::load(path) }
            .map(|e| (path.to_path_buf(), e))
            .map_err(|e| format!("could not load {}: {e}", path.display()))
    });
    match r {
        Ok((_, e)) => Ok(e),
        Err(e) => Err(err(e.clone())),
    }
}

/// The entry of the bundle found by [`bundle_path`], or `None` (after printing why) when no
/// bundle is built: tests then skip.
pub fn entry() -> Option<&'static PluginEntry> {
    let Some(path) = bundle_path() else {
        eprintln!(
            "SKIPPED: no Continuo.clap found (set CONTINUO_CLAP, or run `cargo xtask test`, which \
             builds target/test-bundle/Continuo.clap)"
        );
        return None;
    };
    match load_entry(&path) {
        Ok(e) => Some(e),
        Err(e) => panic!("{e}"),
    }
}

/// For work that may kill the whole process (an allocation on the audio thread aborts under
/// `assert_process_allocs`; a stack overflow aborts): runs this test binary's test `test` again
/// in a child process with `child_env` set, where the test does the work and prints
/// "CHILD DONE", and checks that the child exits normally. `killed` says what a signal means.
pub fn run_in_child(test: &str, child_env: &str, killed: &str) {
    if bundle_path().is_none() {
        eprintln!("SKIPPED: no Continuo.clap found");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(child_env, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "child status: {:?}\n--- child stdout\n{stdout}\n--- child stderr\n{stderr}",
        out.status
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            None,
            "the child was killed by a signal ({killed})"
        );
    }
    assert!(out.status.success(), "the child exits normally");
    assert!(
        stdout.contains("CHILD DONE"),
        "the child ran the whole session"
    );
}

/// The path the entry was loaded from.
pub fn loaded_path() -> Option<PathBuf> {
    match ENTRY.get() {
        Some(Ok((p, _))) => Some(p.clone()),
        _ => None,
    }
}

/// The plugin descriptor as plain strings.
#[derive(Debug, Clone, Default)]
pub struct Descriptor {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub version: String,
    pub description: String,
    pub url: String,
    pub features: Vec<String>,
}

fn cstr(s: Option<&std::ffi::CStr>) -> String {
    s.map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every plugin descriptor the entry's factory lists.
pub fn descriptors(entry: &PluginEntry) -> Vec<Descriptor> {
    let Some(factory) = entry.get_plugin_factory() else {
        return vec![];
    };
    factory
        .plugin_descriptors()
        .map(|d| Descriptor {
            id: cstr(d.id()),
            name: cstr(d.name()),
            vendor: cstr(d.vendor()),
            version: cstr(d.version()),
            description: cstr(d.description()),
            url: cstr(d.url()),
            features: d
                .features()
                .map(|f| f.to_string_lossy().into_owned())
                .collect(),
        })
        .collect()
}

/// The host's thread-safe side: records the plugin's requests.
#[derive(Default)]
pub struct HostShared {
    pub callback_requested: AtomicBool,
    pub restart_requested: AtomicBool,
    pub process_requested: AtomicBool,
    /// How many `request_callback`s were answered (main thread).
    pub callbacks_served: AtomicU32,
}

impl SharedHandler<'_> for HostShared {
    fn request_restart(&self) {
        self.restart_requested.store(true, Ordering::SeqCst);
    }
    fn request_process(&self) {
        self.process_requested.store(true, Ordering::SeqCst);
    }
    fn request_callback(&self) {
        self.callback_requested.store(true, Ordering::SeqCst);
    }
}

/// The host's handler set.
pub struct TestHost;

impl HostHandlers for TestHost {
    type Shared<'a> = HostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

/// A parameter as the plugin describes it.
#[derive(Debug, Clone)]
pub struct ParamDesc {
    /// CLAP id (the hash of the `#[id]` string).
    pub hash: u32,
    pub name: String,
    pub module: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    pub stepped: bool,
    pub hidden: bool,
    pub bypass: bool,
}

/// An audio port as the plugin describes it.
#[derive(Debug, Clone)]
pub struct AudioPortDesc {
    pub id: u32,
    pub name: String,
    pub channels: u32,
}

/// A note port as the plugin describes it.
#[derive(Debug, Clone)]
pub struct NotePortDesc {
    pub id: u32,
    pub name: String,
}

/// An input event, at a sample offset inside its block (or absolute, in [`Feed`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InEvent {
    NoteOn {
        channel: u8,
        key: u8,
        velocity: f64,
    },
    NoteOff {
        channel: u8,
        key: u8,
    },
    /// A NoteOff with a wildcard key (every key), on one channel or (`None`) every channel.
    NoteOffAll {
        channel: Option<u8>,
    },
    /// A raw MIDI 1.0 message (controllers, pitch bend, pressure) on the note input.
    Midi([u8; 3]),
    /// A parameter change: CLAP id and CLAP ("plain") value.
    Param {
        id: u32,
        value: f64,
    },
}

/// An output note event with its absolute sample time (samples since the session's stream
/// origin: block start + event time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutNote {
    pub time: u64,
    pub on: bool,
    pub channel: u8,
    pub key: u8,
    pub velocity: f64,
}

impl fmt::Display for OutNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>9} {} ch{} {} ({})",
            self.time,
            if self.on { "On " } else { "Off" },
            self.channel + 1,
            note_name(self.key),
            self.key
        )
    }
}

/// "C4" for 60.
pub fn note_name(key: u8) -> String {
    const N: [&str; 12] = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    format!("{}{}", N[(key % 12) as usize], key as i32 / 12 - 1)
}

/// The transport the host reports. The position advances with the processed samples while
/// `playing`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transport {
    pub tempo: f64,
    pub playing: bool,
    /// Beat position at the stream position where the transport was set.
    pub beat: f64,
    /// Time signature (numerator, denominator); bar lines from beat 0.
    pub meter: (u16, u16),
}

impl Transport {
    pub fn playing(tempo: f64) -> Self {
        Self {
            tempo,
            playing: true,
            beat: 0.0,
            meter: (4, 4),
        }
    }

    /// Quarter-note beats in a bar of the time signature.
    pub fn bar_beats(&self) -> f64 {
        self.meter.0.max(1) as f64 * 4.0 / self.meter.1.max(1) as f64
    }
}

/// The audio configuration of an activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    pub sample_rate: f64,
    pub max_block: u32,
    /// Audio channels of the main input port (1 or 2).
    pub in_channels: usize,
    /// Audio channels of the main output port (1 or 2).
    pub out_channels: usize,
}

impl Config {
    /// The same number of channels in and out.
    pub fn new(sample_rate: f64, max_block: u32, channels: usize) -> Self {
        Self {
            sample_rate,
            max_block,
            in_channels: channels,
            out_channels: channels,
        }
    }
}

/// The stack of the test's audio thread: a host's, not a test's 2 MiB. Ardour's process
/// thread has 512 KiB (and activates plugins there), as have macOS's threads other than the
/// main one; a plugin that needs more crashes those hosts.
pub const AUDIO_THREAD_STACK: usize = 512 * 1024;

/// One plugin instance, living on the thread that created it.
pub struct Plugin {
    instance: PluginInstance<TestHost>,
    params_ext: Option<PluginParams>,
    state_ext: Option<PluginState>,
    audio_ports_ext: Option<PluginAudioPorts>,
    note_ports_ext: Option<PluginNotePorts>,
    ports_config_ext: Option<PluginAudioPortsConfig>,
    processor: Option<StoppedPluginAudioProcessor<TestHost>>,
    config: Option<Config>,
    /// Parameter changes made while active, sent at the start of the next processed block.
    pending: Vec<InEvent>,
    /// Stream position (samples since activation) carried between runs of one activation.
    stream_pos: u64,
    transport: Option<(u64, Transport)>,
}

impl Plugin {
    /// Instantiates Continuo from the process's entry.
    pub fn new(entry: &PluginEntry) -> Result<Self> {
        let host_info = HostInfo::new(
            "continuo-host-tests",
            "Continuo developers",
            "https://example.invalid/continuo",
            env!("CARGO_PKG_VERSION"),
        )
        .map_err(|e| err(format!("host info: {e}")))?;
        let id = CString::new(PLUGIN_ID).unwrap();
        let mut instance = PluginInstance::<TestHost>::new(
            |_| HostShared::default(),
            |_| (),
            entry,
            &id,
            &host_info,
        )
        .map_err(|e| err(format!("could not instantiate {PLUGIN_ID}: {e}")))?;
        let (params_ext, state_ext, audio_ports_ext, note_ports_ext, ports_config_ext) = {
            let h = instance.plugin_handle();
            (
                h.get_extension::<PluginParams>(),
                h.get_extension::<PluginState>(),
                h.get_extension::<PluginAudioPorts>(),
                h.get_extension::<PluginNotePorts>(),
                h.get_extension::<PluginAudioPortsConfig>(),
            )
        };
        Ok(Self {
            instance,
            params_ext,
            state_ext,
            audio_ports_ext,
            note_ports_ext,
            ports_config_ext,
            processor: None,
            config: None,
            pending: Vec::new(),
            stream_pos: 0,
            transport: None,
        })
    }

    /// Answers a pending `request_callback` on this (the main) thread.
    pub fn poll_main_thread(&mut self) {
        let requested = self
            .instance
            .access_shared_handler(|h| h.callback_requested.swap(false, Ordering::SeqCst));
        if requested {
            self.instance.call_on_main_thread_callback();
            self.instance
                .access_shared_handler(|h| h.callbacks_served.fetch_add(1, Ordering::SeqCst));
        }
    }

    /// Whether the plugin asked for a restart since the last call.
    pub fn take_restart_request(&mut self) -> bool {
        self.instance
            .access_shared_handler(|h| h.restart_requested.swap(false, Ordering::SeqCst))
    }

    pub fn audio_ports(&mut self) -> (Vec<AudioPortDesc>, Vec<AudioPortDesc>) {
        let Some(ext) = self.audio_ports_ext else {
            return (vec![], vec![]);
        };
        let h = self.instance.plugin_handle();
        let mut out = (vec![], vec![]);
        for is_input in [true, false] {
            let mut buf = AudioPortInfoBuffer::new();
            for i in 0..ext.count(&h, is_input) {
                if let Some(info) = ext.get(&h, i, is_input, &mut buf) {
                    let d = AudioPortDesc {
                        id: info.id.get(),
                        name: String::from_utf8_lossy(info.name).into_owned(),
                        channels: info.channel_count,
                    };
                    if is_input {
                        out.0.push(d)
                    } else {
                        out.1.push(d)
                    }
                }
            }
        }
        out
    }

    /// The audio port configurations the plugin offers: `(id, name, main input channels, main
    /// output channels)`.
    pub fn audio_configs(&mut self) -> Vec<(u32, String, u32, u32)> {
        let Some(ext) = self.ports_config_ext else {
            return vec![];
        };
        let h = self.instance.plugin_handle();
        let mut buf = AudioPortsConfigBuffer::new();
        (0..ext.count(&h))
            .filter_map(|i| {
                let c = ext.get(&h, i, &mut buf)?;
                Some((
                    c.id.get(),
                    String::from_utf8_lossy(c.name).into_owned(),
                    c.main_input.as_ref().map(|m| m.channel_count).unwrap_or(0),
                    c.main_output.as_ref().map(|m| m.channel_count).unwrap_or(0),
                ))
            })
            .collect()
    }

    /// Selects the (inactive) plugin's audio configuration with `channels` main input and output
    /// channels.
    pub fn select_channels(&mut self, channels: u32) -> Result<()> {
        self.select_layout(channels, channels)
    }

    /// Selects the (inactive) plugin's audio configuration with `inputs` main input and
    /// `outputs` main output channels.
    pub fn select_layout(&mut self, inputs: u32, outputs: u32) -> Result<()> {
        let ext = self
            .ports_config_ext
            .ok_or_else(|| err("no audio-ports-config extension"))?;
        let id = self
            .audio_configs()
            .into_iter()
            .find(|c| c.2 == inputs && c.3 == outputs)
            .ok_or_else(|| err(format!("no {inputs} in, {outputs} out configuration")))?
            .0;
        let h = self.instance.plugin_handle();
        ext.select(&h, ClapId::new(id))
            .map_err(|_| err(format!("selecting configuration {id} failed")))
    }

    pub fn note_ports(&mut self) -> (Vec<NotePortDesc>, Vec<NotePortDesc>) {
        let Some(ext) = self.note_ports_ext else {
            return (vec![], vec![]);
        };
        let h = self.instance.plugin_handle();
        let mut out = (vec![], vec![]);
        for is_input in [true, false] {
            let mut buf = NotePortInfoBuffer::new();
            for i in 0..ext.count(&h, is_input) {
                if let Some(info) = ext.get(&h, i, is_input, &mut buf) {
                    let d = NotePortDesc {
                        id: info.id.get(),
                        name: String::from_utf8_lossy(info.name).into_owned(),
                    };
                    if is_input {
                        out.0.push(d)
                    } else {
                        out.1.push(d)
                    }
                }
            }
        }
        out
    }

    /// All parameters, in the plugin's order.
    pub fn params(&mut self) -> Vec<ParamDesc> {
        let Some(ext) = self.params_ext else {
            return vec![];
        };
        let h = self.instance.plugin_handle();
        let mut buf = ParamInfoBuffer::new();
        (0..ext.count(&h))
            .filter_map(|i| {
                let info = ext.get_info(&h, i, &mut buf)?;
                use clack_extensions::params::ParamInfoFlags as F;
                Some(ParamDesc {
                    hash: info.id.get(),
                    name: trim_nul(info.name),
                    module: trim_nul(info.module),
                    min: info.min_value,
                    max: info.max_value,
                    default: info.default_value,
                    stepped: info.flags.contains(F::IS_STEPPED),
                    hidden: info.flags.contains(F::IS_HIDDEN),
                    bypass: info.flags.contains(F::IS_BYPASS),
                })
            })
            .collect()
    }

    /// The CLAP value of a parameter (by `#[id]` string).
    pub fn get(&mut self, id: &str) -> Option<f64> {
        self.get_hash(param_hash(id))
    }

    pub fn get_hash(&mut self, hash: u32) -> Option<f64> {
        let ext = self.params_ext?;
        let h = self.instance.plugin_handle();
        ext.get_value(&h, ClapId::new(hash))
    }

    /// The plugin's own text for a parameter's current value.
    pub fn get_text(&mut self, id: &str) -> Option<String> {
        let value = self.get(id)?;
        self.text_of(id, value)
    }

    /// The plugin's text for a CLAP value.
    pub fn text_of(&mut self, id: &str, value: f64) -> Option<String> {
        let ext = self.params_ext?;
        let h = self.instance.plugin_handle();
        let mut buf = [0u8; 256];
        ext.value_to_text(&h, ClapId::new(param_hash(id)), value, &mut buf)
            .ok()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The CLAP value for a text in the musician's units ("3", "MIDI", "On", "1.5"), parsed by
    /// the plugin.
    pub fn value_from_text(&mut self, id: &str, text: &str) -> Result<f64> {
        let ext = self.params_ext.ok_or_else(|| err("no params extension"))?;
        let h = self.instance.plugin_handle();
        let c = CString::new(text).map_err(|e| err(e.to_string()))?;
        ext.text_to_value(&h, ClapId::new(param_hash(id)), &c)
            .ok_or_else(|| err(format!("parameter {id:?} does not accept {text:?}")))
    }

    /// Sets a parameter to a text value (see [`Self::value_from_text`]).
    pub fn set_text(&mut self, id: &str, text: &str) -> Result<()> {
        let v = self.value_from_text(id, text)?;
        self.set(id, v)
    }

    /// Sets a parameter's CLAP value: flushed right away when inactive, else sent at the start
    /// of the next processed block.
    pub fn set(&mut self, id: &str, value: f64) -> Result<()> {
        let hash = param_hash(id);
        let ev = InEvent::Param { id: hash, value };
        if self.processor.is_some() {
            self.pending.push(ev);
            return Ok(());
        }
        let ext = self.params_ext.ok_or_else(|| err("no params extension"))?;
        let mut input = EventBuffer::with_capacity(1);
        input.push(&ParamValueEvent::new(
            0,
            ClapId::new(hash),
            Pckn::match_all(),
            value,
        ));
        let mut output = EventBuffer::with_capacity(16);
        let mut h = self
            .instance
            .inactive_plugin_handle()
            .ok_or_else(|| err("plugin unexpectedly active"))?;
        ext.flush(&mut h, &input.as_input(), &mut output.as_output());
        Ok(())
    }

    /// Saves the plugin's state.
    pub fn save_state(&mut self) -> Result<Vec<u8>> {
        let ext = self.state_ext.ok_or_else(|| err("no state extension"))?;
        let h = self.instance.plugin_handle();
        let mut out = Vec::new();
        ext.save(&h, &mut out)
            .map_err(|e| err(format!("state save failed: {e}")))?;
        Ok(out)
    }

    /// Loads a preset as a host's own preset browser does (CLAP's preset-load extension), from
    /// a location and load key the plugin's preset-discovery provider gave.
    pub fn load_preset(
        &mut self,
        location: Location,
        load_key: Option<&std::ffi::CStr>,
    ) -> Result<()> {
        let h = self.instance.plugin_handle();
        let ext = h
            .get_extension::<PluginPresetLoad>()
            .ok_or_else(|| err("no preset-load extension"))?;
        ext.load_from_location(&h, location, load_key)
            .map_err(|e| err(format!("preset load failed: {e}")))
    }

    /// Loads a state blob.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<()> {
        let ext = self.state_ext.ok_or_else(|| err("no state extension"))?;
        let h = self.instance.plugin_handle();
        let mut r = bytes;
        ext.load(&h, &mut r)
            .map_err(|e| err(format!("state load failed: {e}")))
    }

    pub fn is_active(&self) -> bool {
        self.processor.is_some()
    }

    pub fn config(&self) -> Option<Config> {
        self.config
    }

    /// Activates with a stereo configuration.
    pub fn activate(&mut self, sample_rate: f64, max_block: u32) -> Result<()> {
        self.activate_with(Config::new(sample_rate, max_block, 2))
    }

    pub fn activate_with(&mut self, config: Config) -> Result<()> {
        if self.processor.is_some() {
            return Err(err("already active"));
        }
        let p = self
            .instance
            .activate(
                |_, _| (),
                PluginAudioConfiguration {
                    sample_rate: config.sample_rate,
                    min_frames_count: 1,
                    max_frames_count: config.max_block.max(1),
                },
            )
            .map_err(|e| err(format!("activate({config:?}) failed: {e}")))?;
        self.processor = Some(p);
        self.config = Some(config);
        self.stream_pos = 0;
        self.poll_main_thread();
        Ok(())
    }

    pub fn deactivate(&mut self) {
        if let Some(p) = self.processor.take() {
            self.instance.deactivate(p);
        }
        self.config = None;
        self.poll_main_thread();
    }

    /// Runs `f` with a [`Session`] on a fresh audio thread (processing started before and
    /// stopped after), answering `request_callback` on this thread meanwhile. The stream
    /// position and transport carry over to the next run of the same activation.
    pub fn run<R: Send>(&mut self, f: impl FnOnce(&mut Session) -> R + Send) -> Result<R> {
        let config = self.config.ok_or_else(|| err("not active"))?;
        let stopped = self.processor.take().ok_or_else(|| err("not active"))?;
        let pending = std::mem::take(&mut self.pending);
        let (pos, transport) = (self.stream_pos, self.transport);
        let shared_done = AtomicBool::new(false);
        let result = std::thread::scope(|scope| {
            let done = &shared_done;
            let handle = std::thread::Builder::new()
                .name("host-audio".into())
                .stack_size(AUDIO_THREAD_STACK)
                .spawn_scoped(scope, move || {
                    let out = (|| {
                        let started = stopped
                            .start_processing()
                            .map_err(|e| (err(format!("start_processing failed: {e}")), None))?;
                        let mut s = Session::new(started, config, pending, pos, transport);
                        let r =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut s)));
                        let (stopped, pos, transport) = s.finish();
                        match r {
                            Ok(r) => Ok((r, stopped, pos, transport)),
                            Err(panic) => Err((err("panic"), Some((stopped, panic)))),
                        }
                    })();
                    done.store(true, Ordering::SeqCst);
                    out
                })
                .expect("spawn the audio thread");
            while !shared_done.load(Ordering::SeqCst) {
                self.poll_main_thread();
                std::thread::sleep(Duration::from_millis(1));
            }
            handle.join()
        });
        self.poll_main_thread();
        match result {
            Ok(Ok((r, stopped, pos, transport))) => {
                self.processor = Some(stopped);
                self.stream_pos = pos;
                self.transport = transport;
                Ok(r)
            }
            Ok(Err((e, Some((stopped, panic))))) => {
                self.processor = Some(stopped);
                let _ = e;
                std::panic::resume_unwind(panic)
            }
            Ok(Err((e, None))) => Err(e),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Shorthand: run and feed (see [`Session::feed`]).
    pub fn feed(&mut self, feed: Feed) -> Result<Fed> {
        self.run(move |s| s.feed(feed))?
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.deactivate();
    }
}

fn trim_nul(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// An activated, processing plugin on the audio thread.
pub struct Session {
    processor: Option<StartedPluginAudioProcessor<TestHost>>,
    pub config: Config,
    in_ports: AudioPorts,
    out_ports: AudioPorts,
    in_bufs: Vec<Vec<f32>>,
    out_bufs: Vec<Vec<f32>>,
    in_events: EventBuffer,
    out_events: EventBuffer,
    pending: Vec<InEvent>,
    /// Samples processed since activation (the steady time and the stream origin of
    /// [`OutNote::time`]).
    pub pos: u64,
    /// The transport and the stream position at which it was set.
    transport: Option<(u64, Transport)>,
    /// Process calls that returned an error.
    pub errors: u32,
}

/// What one block produced.
#[derive(Debug, Clone, Default)]
pub struct BlockOut {
    pub notes: Vec<OutNote>,
    /// Output audio, one vector per channel (the block's length).
    pub audio: Vec<Vec<f32>>,
    /// Events the plugin sent that are not notes (parameter gestures...).
    pub other_events: usize,
    pub ok: bool,
    /// Output events out of time order or past the block's end (CLAP wants them sorted and
    /// inside the block).
    pub violations: Vec<String>,
    /// Raw MIDI messages sent (absolute time, bytes): controllers, pitch bend, pressure.
    pub midi: Vec<(u64, [u8; 3])>,
    /// What `process()` returned (`None` when it failed or was not called).
    pub status: Option<ProcessStatus>,
}

impl Session {
    fn new(
        processor: StartedPluginAudioProcessor<TestHost>,
        config: Config,
        pending: Vec<InEvent>,
        pos: u64,
        transport: Option<(u64, Transport)>,
    ) -> Self {
        let n = config.max_block.max(1) as usize;
        Self {
            processor: Some(processor),
            config,
            in_ports: AudioPorts::with_capacity(config.in_channels, 1),
            out_ports: AudioPorts::with_capacity(config.out_channels, 1),
            in_bufs: vec![vec![0.0; n]; config.in_channels],
            out_bufs: vec![vec![0.0; n]; config.out_channels],
            in_events: EventBuffer::with_capacity(1024),
            out_events: EventBuffer::with_capacity(1024),
            pending,
            pos,
            transport,
            errors: 0,
        }
    }

    fn finish(
        mut self,
    ) -> (
        StoppedPluginAudioProcessor<TestHost>,
        u64,
        Option<(u64, Transport)>,
    ) {
        let p = self.processor.take().expect("processor");
        (p.stop_processing(), self.pos, self.transport)
    }

    /// Sets (or removes) the host transport from the current position on.
    pub fn set_transport(&mut self, t: Option<Transport>) {
        self.transport = t.map(|t| (self.pos, t));
    }

    pub fn transport(&self) -> Option<Transport> {
        self.transport.map(|(_, t)| t)
    }

    /// The transport's beat position at stream position `pos`.
    pub fn beat_at(&self, pos: u64) -> Option<f64> {
        let (origin, t) = self.transport?;
        Some(if t.playing {
            t.beat + (pos as f64 - origin as f64) * t.tempo / 60.0 / self.config.sample_rate
        } else {
            t.beat
        })
    }

    /// Stops the transport where it is now (the position stays).
    pub fn stop_transport(&mut self) {
        if let Some(b) = self.beat_at(self.pos) {
            let t = self.transport().unwrap();
            self.set_transport(Some(Transport {
                playing: false,
                beat: b,
                ..t
            }));
        }
    }

    /// Resets the plugin (`clap_plugin.reset`) on the audio thread; the stream restarts at 0.
    pub fn reset(&mut self) {
        if let Some(p) = self.processor.as_mut() {
            p.reset();
        }
    }

    /// Processes one block of `n` samples. `input` gives each channel's samples (missing
    /// channels or samples are silence); `events` are `(offset, event)` pairs inside the block.
    pub fn process(&mut self, n: usize, input: &[&[f32]], events: &[(u32, InEvent)]) -> BlockOut {
        let mut out = BlockOut::default();
        self.process_into(n, input, events, &mut out, true);
        out
    }

    /// Like [`Self::process`], reusing `out` (notes are appended; audio is kept only when
    /// `keep_audio`).
    pub fn process_into(
        &mut self,
        n: usize,
        input: &[&[f32]],
        events: &[(u32, InEvent)],
        out: &mut BlockOut,
        keep_audio: bool,
    ) {
        let (in_channels, out_channels) = (self.config.in_channels, self.config.out_channels);
        for (c, buf) in self.in_bufs.iter_mut().enumerate() {
            if buf.len() < n {
                buf.resize(n, 0.0);
            }
            let src = input.get(c).copied().unwrap_or(&[]);
            for (i, x) in buf[..n].iter_mut().enumerate() {
                *x = src.get(i).copied().unwrap_or(0.0);
            }
        }
        for buf in self.out_bufs.iter_mut() {
            if buf.len() < n {
                buf.resize(n, 0.0);
            }
            // Poison the output so an unwritten buffer shows.
            buf[..n].fill(f32::NAN);
        }

        self.in_events.clear();
        let mut all: Vec<(u32, InEvent)> = self.pending.drain(..).map(|e| (0, e)).collect();
        all.extend_from_slice(events);
        all.sort_by_key(|e| e.0);
        for (t, e) in all {
            let t = t.min(n.saturating_sub(1) as u32);
            match e {
                InEvent::NoteOn {
                    channel,
                    key,
                    velocity,
                } => self.in_events.push(&NoteOnEvent::new(
                    t,
                    Pckn::new(0u16, channel as u16, key as u16, Match::All),
                    velocity,
                )),
                InEvent::NoteOff { channel, key } => self.in_events.push(&NoteOffEvent::new(
                    t,
                    Pckn::new(0u16, channel as u16, key as u16, Match::All),
                    0.0,
                )),
                InEvent::NoteOffAll { channel } => {
                    let channel = match channel {
                        Some(c) => Match::Specific(c as u16),
                        None => Match::All,
                    };
                    self.in_events.push(&NoteOffEvent::new(
                        t,
                        Pckn::new(0u16, channel, Match::All, Match::All),
                        0.0,
                    ))
                }
                InEvent::Midi(data) => self.in_events.push(&MidiEvent::new(t, 0, data)),
                InEvent::Param { id, value } => self.in_events.push(&ParamValueEvent::new(
                    t,
                    ClapId::new(id),
                    Pckn::match_all(),
                    value,
                )),
            }
        }
        self.out_events.clear();

        let transport = self.transport.map(|(_, t)| {
            let beat = self.beat_at(self.pos).unwrap_or(0.0);
            let seconds = beat * 60.0 / t.tempo;
            let mut flags = TransportFlags::HAS_TEMPO
                | TransportFlags::HAS_BEATS_TIMELINE
                | TransportFlags::HAS_SECONDS_TIMELINE
                | TransportFlags::HAS_TIME_SIGNATURE;
            if t.playing {
                flags |= TransportFlags::IS_PLAYING;
            }
            let bar_beats = t.bar_beats();
            let bar = (beat / bar_beats).floor();
            TransportEvent {
                header: EventHeader::new_core(0, EventFlags::empty()),
                flags,
                song_pos_beats: BeatTime::from_float(beat),
                song_pos_seconds: SecondsTime::from_float(seconds),
                tempo: t.tempo,
                tempo_inc: 0.0,
                loop_start_beats: BeatTime::from_float(0.0),
                loop_end_beats: BeatTime::from_float(0.0),
                loop_start_seconds: SecondsTime::from_float(0.0),
                loop_end_seconds: SecondsTime::from_float(0.0),
                bar_start: BeatTime::from_float(bar * bar_beats),
                bar_number: bar as i32,
                time_signature_numerator: t.meter.0,
                time_signature_denominator: t.meter.1,
            }
        });

        let (in_bufs, out_bufs) = (&mut self.in_bufs, &mut self.out_bufs);
        let inputs = self.in_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                in_bufs
                    .iter_mut()
                    .take(in_channels)
                    .map(|b| InputChannel::variable(&mut b[..n])),
            ),
        }]);
        let mut outputs = self.out_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                out_bufs.iter_mut().take(out_channels).map(|b| &mut b[..n]),
            ),
        }]);
        let status = self.processor.as_mut().expect("processor").process(
            &inputs,
            &mut outputs,
            &self.in_events.as_input(),
            &mut self.out_events.as_output(),
            Some(self.pos),
            transport.as_ref(),
        );
        out.ok = status.is_ok();
        out.status = status.as_ref().ok().copied();
        if status.is_err() {
            self.errors += 1;
        }
        let mut last_time = 0u32;
        for e in self.out_events.iter() {
            let et = e.header().time();
            if et < last_time {
                out.violations.push(format!(
                    "block at {}: event at {et} after one at {last_time}",
                    self.pos
                ));
            }
            if n > 0 && et as usize >= n {
                out.violations.push(format!(
                    "block at {} of {n} samples: event at {et} past its end",
                    self.pos
                ));
            }
            last_time = last_time.max(et);
            let t = self.pos + et as u64;
            match e.as_core_event() {
                Some(CoreEventSpace::NoteOn(ev)) => out.notes.push(OutNote {
                    time: t,
                    on: true,
                    channel: match_u16(ev.channel()) as u8,
                    key: match_u16(ev.key()) as u8,
                    velocity: ev.velocity(),
                }),
                Some(CoreEventSpace::NoteOff(ev)) => out.notes.push(OutNote {
                    time: t,
                    on: false,
                    channel: match_u16(ev.channel()) as u8,
                    key: match_u16(ev.key()) as u8,
                    velocity: ev.velocity(),
                }),
                Some(CoreEventSpace::Midi(ev)) => out.midi.push((t, ev.data())),
                _ => out.other_events += 1,
            }
        }
        if keep_audio {
            out.audio = self
                .out_bufs
                .iter()
                .take(out_channels)
                .map(|b| b[..n].to_vec())
                .collect();
        }
        self.pos += n as u64;
    }

    /// Processes a whole stream (see [`Feed`]) and collects the output notes (absolute times)
    /// and, if asked, the output audio.
    pub fn feed(&mut self, feed: Feed) -> Result<Fed> {
        let start = self.pos;
        let mut events = feed.events.clone();
        events.sort_by_key(|e| e.0);
        let mut next_event = 0;
        let mut fed = Fed {
            start,
            ..Default::default()
        };
        if feed.keep_audio {
            fed.audio = vec![Vec::with_capacity(feed.total as usize); self.config.out_channels];
        }
        let mut fired = vec![false; feed.actions.len()];
        let mut block_index = 0usize;
        let mut done = 0u64;
        let mut scratch = BlockOut::default();
        let mut chans: Vec<Vec<f32>> = vec![Vec::new(); self.config.in_channels];
        while done < feed.total {
            let want = match &feed.blocks {
                Blocks::Fixed(n) => *n,
                Blocks::Cycle(list) => list[block_index % list.len()],
            };
            block_index += 1;
            let n = (want as u64).min(feed.total - done) as usize;
            // Audio of this block.
            for (c, ch) in chans.iter_mut().enumerate() {
                ch.clear();
                let src = feed.audio.get(c).or_else(|| feed.audio.first());
                for i in 0..n {
                    let idx = (done as usize) + i;
                    ch.push(src.and_then(|s| s.get(idx)).copied().unwrap_or(0.0));
                }
            }
            // Events of this block (times relative to the feed's start).
            let mut block_events = Vec::new();
            while next_event < events.len() && events[next_event].0 < done + n as u64 {
                let (t, e) = events[next_event];
                block_events.push(((t.saturating_sub(done)) as u32, e));
                next_event += 1;
            }
            // Host actions due by this block's start (each once).
            for (a, fired) in feed.actions.iter().zip(fired.iter_mut()) {
                if !*fired && a.at <= done {
                    *fired = true;
                    match a.what {
                        Action::StopTransport => self.stop_transport(),
                        Action::SetTransport(t) => self.set_transport(t),
                        Action::Reset => self.reset(),
                    }
                }
            }
            let inputs: Vec<&[f32]> = chans.iter().map(|c| c.as_slice()).collect();
            let quiet = block_events.is_empty() && chans.iter().flatten().all(|&x| x == 0.0);
            let may_sleep = matches!(
                fed.last_status,
                Some(ProcessStatus::ContinueIfNotQuiet | ProcessStatus::Sleep)
            );
            if feed.sleep_when_quiet && quiet && may_sleep {
                fed.slept.push(self.pos);
                self.pos += n as u64;
                done += n as u64;
                fed.blocks += 1;
                continue;
            }
            scratch.notes.clear();
            scratch.midi.clear();
            scratch.violations.clear();
            self.process_into(n, &inputs, &block_events, &mut scratch, feed.keep_audio);
            if !scratch.ok {
                fed.errors += 1;
            }
            fed.violations.append(&mut scratch.violations);
            fed.midi.append(&mut scratch.midi);
            fed.last_status = scratch.status;
            for note in &scratch.notes {
                fed.notes.push(*note);
            }
            if feed.keep_audio {
                for (c, a) in scratch.audio.iter().enumerate() {
                    fed.audio[c].extend_from_slice(a);
                }
            }
            fed.blocks += 1;
            if !block_events.is_empty() && !feed.pause_after_events.is_zero() {
                std::thread::sleep(feed.pause_after_events);
            }
            if let Some(p) = feed.pause_every_block {
                std::thread::sleep(p);
            }
            done += n as u64;
            // Zero-length blocks do not advance the stream: a feed of only those would never end.
            if n == 0 && (matches!(feed.blocks, Blocks::Fixed(0)) || fed.blocks > 1_000_000) {
                return Err(err("a feed of empty blocks never ends"));
            }
        }
        Ok(fed)
    }
}

fn match_u16(m: Match<u16>) -> i32 {
    match m {
        Match::Specific(v) => v as i32,
        Match::All => -1,
    }
}

/// Block sizes of a feed.
#[derive(Debug, Clone)]
pub enum Blocks {
    Fixed(usize),
    /// Cycles through the list (sizes may be 0).
    Cycle(Vec<usize>),
}

/// Something the host does before processing the first block that starts at or after a stream
/// position (relative to the feed's start).
#[derive(Debug, Clone, Copy)]
pub struct HostAction {
    pub at: u64,
    pub what: Action,
}

#[derive(Debug, Clone, Copy)]
pub enum Action {
    StopTransport,
    SetTransport(Option<Transport>),
    Reset,
}

/// A stream to process: `total` samples in `blocks`, input audio per channel (silence past the
/// end; a single channel feeds every channel), input events at times relative to the feed's
/// start.
#[derive(Debug, Clone)]
pub struct Feed {
    pub total: u64,
    pub blocks: Blocks,
    pub audio: Vec<Vec<f32>>,
    pub events: Vec<(u64, InEvent)>,
    pub actions: Vec<HostAction>,
    pub keep_audio: bool,
    /// Sleep after each block that carried input events (lets the model thread, which polls
    /// every few ms, see each event batch on its own).
    pub pause_after_events: Duration,
    pub pause_every_block: Option<Duration>,
    /// Behave like a host that suspends quiet plugins (Bitwig, Cubase): after a block for which
    /// the plugin answered "continue if not quiet" (or "sleep"), blocks with silent input and no
    /// input events are not processed (the plugin hears nothing and sends nothing) until input
    /// comes again.
    pub sleep_when_quiet: bool,
}

impl Feed {
    pub fn silence(total: u64, block: usize) -> Self {
        Self {
            total,
            blocks: Blocks::Fixed(block),
            audio: vec![],
            events: vec![],
            actions: vec![],
            keep_audio: false,
            pause_after_events: Duration::ZERO,
            pause_every_block: None,
            sleep_when_quiet: false,
        }
    }
}

/// What a feed produced.
#[derive(Debug, Clone, Default)]
pub struct Fed {
    /// Stream position of the feed's first sample.
    pub start: u64,
    /// Output notes, absolute stream times.
    pub notes: Vec<OutNote>,
    pub audio: Vec<Vec<f32>>,
    pub blocks: usize,
    pub errors: usize,
    /// See [`BlockOut::violations`].
    pub violations: Vec<String>,
    /// See [`BlockOut::midi`].
    pub midi: Vec<(u64, [u8; 3])>,
    /// Blocks the host skipped because the plugin let it sleep (see [`Feed::sleep_when_quiet`]),
    /// and the stream position of each skipped block.
    pub slept: Vec<u64>,
    /// The last status `process()` returned.
    pub last_status: Option<ProcessStatus>,
}

/// A completed output note: (NoteOn time, NoteOff time, channel, key, velocity).
pub type Played = (u64, u64, u8, u8, f64);

/// A named sub-case of a test binary (see [`run_cases`]).
pub type Case = (&'static str, fn(&'static PluginEntry));

/// Checks that every NoteOn has exactly one later (or same-sample) NoteOff on the same channel
/// and key, no key is started twice while sounding, and (unless `allow_open`) nothing sounds at
/// the end. Returns the completed notes as `(on, off, channel, key, velocity)`.
pub fn pair_notes(notes: &[OutNote], allow_open: bool) -> std::result::Result<Vec<Played>, String> {
    let mut open: std::collections::HashMap<(u8, u8), (u64, f64)> = Default::default();
    let mut out = vec![];
    for n in notes {
        if n.on {
            if open
                .insert((n.channel, n.key), (n.time, n.velocity))
                .is_some()
            {
                return Err(format!("NoteOn while the key sounds: {n}"));
            }
        } else {
            match open.remove(&(n.channel, n.key)) {
                Some((t, v)) => {
                    if n.time < t {
                        return Err(format!("NoteOff before its NoteOn: {n}"));
                    }
                    out.push((t, n.time, n.channel, n.key, v));
                }
                None => return Err(format!("NoteOff without a NoteOn: {n}")),
            }
        }
    }
    if !open.is_empty() && !allow_open {
        return Err(format!("notes still sounding at the end: {open:?}"));
    }
    out.sort_by_key(|n| (n.0, n.3));
    Ok(out)
}

/// A deterministic noise source (xorshift), -1..1.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Sine + noise test audio, `channels` × `len` samples (channels differ slightly).
pub fn test_audio(sample_rate: f64, len: usize, channels: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut noise = Noise::new(seed);
    (0..channels)
        .map(|c| {
            (0..len)
                .map(|i| {
                    let t = i as f64 / sample_rate;
                    let f = 220.0 * (1.0 + c as f64 * 0.5);
                    let env = 0.5 + 0.5 * (t * 2.0 * std::f64::consts::PI * 1.5).sin();
                    (0.4 * env * (2.0 * std::f64::consts::PI * f * t).sin()) as f32
                        + 0.05 * noise.next_f32()
                })
                .collect()
        })
        .collect()
}

/// A monophonic phrase as input events at absolute times: `(key, onset beat, length beats)`.
pub fn phrase_events(
    notes: &[(u8, f64, f64)],
    tempo: f64,
    sample_rate: f64,
    channel: u8,
    offset: u64,
) -> Vec<(u64, InEvent)> {
    let spb = sample_rate * 60.0 / tempo;
    let mut ev = vec![];
    for &(key, on, len) in notes {
        let t_on = offset + (on * spb).round() as u64;
        let t_off = offset + ((on + len) * spb).round() as u64;
        ev.push((
            t_on,
            InEvent::NoteOn {
                channel,
                key,
                velocity: 0.8,
            },
        ));
        ev.push((t_off, InEvent::NoteOff { channel, key }));
    }
    ev.sort_by_key(|e| e.0);
    ev
}

/// Runs named sub-cases one after the other in this thread (one plugin entry per process, one
/// instance at a time), printing PASS/FAIL for each, and panics at the end listing the failures.
/// Skips everything (with a message) when no bundle is built.
pub fn run_cases(cases: &[Case]) {
    let Some(entry) = entry() else { return };
    if let Some(p) = loaded_path() {
        eprintln!("bundle: {}", p.display());
    }
    let only = std::env::var("CONTINUO_CASE").ok();
    let mut failed = vec![];
    for (name, case) in cases {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let t0 = std::time::Instant::now();
        eprintln!("--- {name}");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(entry)));
        let dt = t0.elapsed().as_secs_f64();
        match r {
            Ok(()) => eprintln!("PASS {name} ({dt:.2} s)"),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!("FAIL {name} ({dt:.2} s): {msg}");
                failed.push(format!("{name}: {msg}"));
            }
        }
    }
    if !failed.is_empty() {
        panic!(
            "{} case(s) failed:\n  {}",
            failed.len(),
            failed.join("\n  ")
        );
    }
}

/// The call the MIDI tests play: eight notes, each a quarter beat long, half a beat apart,
/// starting at beat 1: `(key, onset beat, length beats)`. Every two events are at least a
/// quarter beat apart (≥ 4096 samples up to 174 bpm at 48 kHz), so no block of ≤ 4096 samples
/// carries more than one of them.
pub const CALL: [(u8, f64, f64); 8] = [
    (60, 1.0, 0.25),
    (62, 1.5, 0.25),
    (64, 2.0, 0.25),
    (65, 2.5, 0.25),
    (67, 3.0, 0.25),
    (65, 3.5, 0.25),
    (64, 4.0, 0.25),
    (62, 4.5, 0.25),
];

/// How long the host pauses after a block that carried a player note, when a test needs the
/// model to draw the same phrases in every run (see [`set_deterministic`]). The model thread
/// polls every 3 ms and, after each poll with player notes, draws new candidates — advancing
/// its seeded sampler. If two notes reach it in one poll it draws once instead of twice and the
/// phrase changes; the pause must outlast one drawing. Measured on the shared 2-core machine
/// with the debug bundle and the trained model: 40 ms were enough once the model had loaded
/// (see [`model_load_wait`]) at a load average of 5–6, 60 ms were not always at 11; 120 ms.
pub const DETERMINISTIC_PAUSE: Duration = Duration::from_millis(120);

/// The pause after each player note otherwise: enough for the model to keep up roughly.
pub const MODEL_PAUSE: Duration = Duration::from_millis(30);

/// After the call's last note, the host waits this long before processing the gap, so the
/// model's answer to the whole call is ready whatever the pauses before.
pub const ANSWER_WAIT: Duration = Duration::from_millis(400);

static DETERMINISTIC: AtomicBool = AtomicBool::new(false);

/// Makes [`model_pause`] return [`DETERMINISTIC_PAUSE`] (for this whole test process).
pub fn set_deterministic(on: bool) {
    DETERMINISTIC.store(on, Ordering::SeqCst);
}

/// The pause after each block with a player note: `$CONTINUO_MODEL_PAUSE_MS` milliseconds, else
/// [`DETERMINISTIC_PAUSE`] after [`set_deterministic`]`(true)`, else [`MODEL_PAUSE`].
pub fn model_pause() -> Duration {
    std::env::var("CONTINUO_MODEL_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(if DETERMINISTIC.load(Ordering::SeqCst) {
            DETERMINISTIC_PAUSE
        } else {
            MODEL_PAUSE
        })
}

/// How long a test waits after activating a fresh instance before playing to it: the model
/// thread starts in `activate()` and first loads the built-in model (a 2.7 MB gzipped JSON,
/// slow in the debug bundle, slower on a busy machine); notes played meanwhile pile up until it
/// is ready, which changes how many phrases it draws and delays the first answer.
///
/// The time is measured once per process (see [`model_ready_time`]): 1.5× that (+100 ms)
/// normally, 2× (+300 ms) after [`set_deterministic`]`(true)`. `$CONTINUO_MODEL_LOAD_MS`
/// overrides.
pub fn model_load_wait() -> Duration {
    if let Some(ms) = std::env::var("CONTINUO_MODEL_LOAD_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Duration::from_millis(ms);
    }
    let t = model_ready_time();
    if DETERMINISTIC.load(Ordering::SeqCst) {
        t * 2 + Duration::from_millis(300)
    } else {
        t * 3 / 2 + Duration::from_millis(100)
    }
}

static MODEL_READY: OnceLock<Duration> = OnceLock::new();

/// How long a fresh instance takes, from `activate()`, to answer a two-note call — less the gap
/// (a quarter beat at 120 bpm, grid off) — measured once per process on a throwaway instance,
/// with the stream processed in real time. At least 100 ms; [`MODEL_LOAD_WAIT`] when no bundle
/// is loaded or no answer came within 20 s.
pub fn model_ready_time() -> Duration {
    *MODEL_READY.get_or_init(|| {
        let Some(Ok((_, entry))) = ENTRY.get() else {
            return MODEL_LOAD_WAIT;
        };
        let measure = || -> Result<Option<Duration>> {
            let mut p = Plugin::new(entry)?;
            p.set_text("source", "MIDI")?;
            p.set_text("grid", "Off")?;
            p.set_text("gap", "0.25")?;
            p.set_text("tempo", "120")?;
            p.activate(48_000.0, 512)?;
            let t0 = std::time::Instant::now();
            p.run(move |s| {
                // Notes that reach the model thread while it still loads are wiped by the Reset
                // queued at start_processing (see the `note_right_after_start` test): play a
                // short call every 20 blocks until one is answered.
                let call = [
                    (
                        0,
                        InEvent::NoteOn {
                            channel: 0,
                            key: 60,
                            velocity: 0.8,
                        },
                    ),
                    (
                        100,
                        InEvent::NoteOff {
                            channel: 0,
                            key: 60,
                        },
                    ),
                    (
                        200,
                        InEvent::NoteOn {
                            channel: 0,
                            key: 62,
                            velocity: 0.8,
                        },
                    ),
                    (
                        300,
                        InEvent::NoteOff {
                            channel: 0,
                            key: 62,
                        },
                    ),
                ];
                let mut block = 0u64;
                while t0.elapsed() < Duration::from_secs(20) {
                    let events: &[(u32, InEvent)] =
                        if block.is_multiple_of(20) { &call } else { &[] };
                    block += 1;
                    if s.process(512, &[], events).notes.iter().any(|n| n.on) {
                        return Some(t0.elapsed().saturating_sub(Duration::from_millis(125)));
                    }
                    std::thread::sleep(Duration::from_secs_f64(512.0 / 48_000.0));
                }
                None
            })
        };
        let t = match measure() {
            Ok(Some(t)) => t.max(Duration::from_millis(100)),
            Ok(None) => MODEL_LOAD_WAIT,
            Err(e) => {
                eprintln!("model calibration failed: {e}");
                MODEL_LOAD_WAIT
            }
        };
        eprintln!(
            "calibration: a fresh instance answers {t:?} after activate (model load + one drawing)"
        );
        t
    })
}

/// See [`model_load_wait`].
pub const MODEL_LOAD_WAIT: Duration = Duration::from_millis(1000);

/// How long [`call_and_answer`] waits after the session starts before playing the call.
pub const START_PAUSE: Duration = Duration::from_millis(30);

/// When [`call_and_answer`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopWhen {
    /// The answer has ended (nothing sounds for 4 beats after it started), or `max_beats`.
    AnswerDone,
    /// Right after a block that leaves an answer note sounding.
    AnswerSounding,
}

/// The outcome of [`call_and_answer`].
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Stream time of the call's last NoteOff.
    pub call_end: u64,
    /// Every output note (absolute stream times).
    pub notes: Vec<OutNote>,
    /// Output notes after the call's end.
    pub answer: Vec<OutNote>,
    /// Samples per beat.
    pub spb: f64,
    /// Output notes sounding at the end.
    pub sounding: Vec<(u8, u8)>,
    /// Output events out of order or outside their block (see [`BlockOut::violations`]).
    pub violations: Vec<String>,
    /// Stream position where the transport was set, and its beat there.
    pub origin: u64,
    pub start_beat: f64,
}

impl Answer {
    pub fn first_on(&self) -> Option<u64> {
        self.answer.iter().find(|n| n.on).map(|n| n.time)
    }

    /// The host's beat position at a stream time.
    pub fn beat_at(&self, t: u64) -> f64 {
        self.start_beat + (t as f64 - self.origin as f64) / self.spb
    }
}

/// Plays [`CALL`] into the note input at `tempo` with the transport playing from beat 0 at the
/// current stream position, in blocks of `block` samples, then keeps processing silent blocks
/// until `stop` (or `max_beats` beats in all).
pub fn call_and_answer(
    s: &mut Session,
    tempo: f64,
    block: usize,
    stop: StopWhen,
    max_beats: f64,
) -> Result<Answer> {
    call_and_answer_from(s, tempo, 0.0, block, stop, max_beats)
}

/// [`call_and_answer`] with the transport at `start_beat` where the call's beat 0 is.
pub fn call_and_answer_from(
    s: &mut Session,
    tempo: f64,
    start_beat: f64,
    block: usize,
    stop: StopWhen,
    max_beats: f64,
) -> Result<Answer> {
    let sr = s.config.sample_rate;
    let spb = sr * 60.0 / tempo;
    let origin = s.pos;
    // `start_processing` made nice-plug call the plugin's `reset()`, which tells the model thread
    // to forget the notes it holds open; give it a poll to do so before the call begins (see the
    // `note_right_after_start` test for why).
    std::thread::sleep(START_PAUSE);
    // The time signature of a transport the test set before stays.
    let meter = s.transport().map_or((4, 4), |t| t.meter);
    s.set_transport(Some(Transport {
        tempo,
        playing: true,
        beat: start_beat,
        meter,
    }));
    let events = phrase_events(&CALL, tempo, sr, 0, 0);
    let call_end = origin + events.last().map(|e| e.0).unwrap_or(0);
    // The call itself, up to just after its last note-off.
    let call_len = (call_end - origin) + 1;
    let fed = s.feed(Feed {
        events,
        pause_after_events: model_pause(),
        ..Feed::silence(call_len, block)
    })?;
    std::thread::sleep(ANSWER_WAIT);
    let mut out = Answer {
        call_end,
        violations: fed.violations,
        notes: fed.notes,
        spb,
        origin,
        start_beat,
        ..Default::default()
    };
    let limit = origin + (max_beats * spb) as u64;
    let mut sounding: std::collections::HashSet<(u8, u8)> = Default::default();
    for n in &out.notes {
        if n.on {
            sounding.insert((n.channel, n.key));
        } else {
            sounding.remove(&(n.channel, n.key));
        }
    }
    let mut scratch = BlockOut::default();
    let mut last_event = call_end;
    let mut started = false;
    while s.pos < limit {
        scratch.notes.clear();
        scratch.violations.clear();
        s.process_into(block, &[], &[], &mut scratch, false);
        out.violations.append(&mut scratch.violations);
        if !started && s.pos < call_end + (4.0 * spb) as u64 {
            // Until the answer starts, run at no more than 4× real time, so a model thread slowed
            // down by a busy machine still answers before the gap ends.
            std::thread::sleep(Duration::from_secs_f64(block as f64 / sr / 4.0));
        }
        for n in &scratch.notes {
            out.notes.push(*n);
            if n.on {
                sounding.insert((n.channel, n.key));
            } else {
                sounding.remove(&(n.channel, n.key));
            }
            if n.time > call_end {
                started |= n.on;
                last_event = n.time;
            }
        }
        match stop {
            StopWhen::AnswerDone => {
                if started && sounding.is_empty() && s.pos > last_event + (4.0 * spb) as u64 {
                    break;
                }
            }
            StopWhen::AnswerSounding => {
                if started && !sounding.is_empty() {
                    break;
                }
            }
        }
    }
    out.answer = out
        .notes
        .iter()
        .filter(|n| n.time > call_end)
        .copied()
        .collect();
    out.sounding = sounding.into_iter().collect();
    out.sounding.sort();
    Ok(out)
}

/// Reads a WAV file as mono f32 (channels averaged) and its sample rate.
pub fn read_wav_mono(path: &Path) -> Result<(Vec<f32>, f64)> {
    let mut r =
        hound::WavReader::open(path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let spec = r.spec();
    let channels = spec.channels.max(1) as usize;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r
            .samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| err(e.to_string()))?
        }
    };
    let mono = samples
        .chunks(channels)
        .map(|c| c.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok((mono, spec.sample_rate as f64))
}

/// The written notes next to a WAV (`NAME.notes.tsv`: onset_s, offset_s, MIDI pitch), if any.
pub fn reference_notes(wav: &Path) -> Option<Vec<(f64, f64, u8)>> {
    let stem = wav.file_stem()?.to_string_lossy().into_owned();
    let tsv = wav.with_file_name(format!("{stem}.notes.tsv"));
    let text = std::fs::read_to_string(tsv).ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some((
                    f.first()?.parse().ok()?,
                    f.get(1)?.parse().ok()?,
                    f.get(2)?.parse::<f64>().ok()?.round() as u8,
                ))
            })
            .collect(),
    )
}

/// Note-level scores of detected notes `(onset s, key)` against written notes: an onset within
/// `tolerance` seconds and the same key is a match (each written note matched at most once).
/// Returns (matches, precision, recall, F1, onset → detection delays in seconds).
pub fn note_scores(
    written: &[(f64, f64, u8)],
    detected: &[(f64, u8)],
    tolerance: f64,
) -> (usize, f64, f64, f64, Vec<f64>) {
    let mut used = vec![false; detected.len()];
    let mut delays = vec![];
    let mut matches = 0;
    for w in written {
        let best = detected
            .iter()
            .enumerate()
            .filter(|(i, d)| !used[*i] && d.1 == w.2 && (d.0 - w.0).abs() <= tolerance)
            .min_by(|a, b| (a.1 .0 - w.0).abs().total_cmp(&(b.1 .0 - w.0).abs()));
        if let Some((i, d)) = best {
            used[i] = true;
            matches += 1;
            delays.push(d.0 - w.0);
        }
    }
    let p = if detected.is_empty() {
        0.0
    } else {
        matches as f64 / detected.len() as f64
    };
    let r = if written.is_empty() {
        0.0
    } else {
        matches as f64 / written.len() as f64
    };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (matches, p, r, f, delays)
}

/// The demo recording shipped in `assets/demo`.
pub fn demo_wav() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo/phrase-piano.wav")
}
