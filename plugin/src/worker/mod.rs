//! MODEL THREAD: turns the player's notes into ranked continuations.
//!
//! Started in `activate()`, stopped and joined in `deactivate()` and on drop. It polls the rings
//! every few milliseconds (the audio thread never wakes it: no syscall there). Each poll is one
//! [`step`], made of named stages, each in its own file:
//! - [`ingest`]: the player's notes and playback news, in the order the audio thread sent them;
//! - [`context`]: the context of recent notes in beats, the key;
//! - [`commands`]: the editor's requests (a model or network file it loads, and a style chosen
//!   before it was loaded, are parsed on a helper thread: [`parse`]);
//! - [`learn`]: the user's own styles (learnt from MIDI files or from the session, renamed,
//!   deleted), on a background thread;
//! - [`styles`]: the recommendation (the player's notes scored under every style) and the style
//!   model in use (the *Style* parameter, Auto's choice);
//! - [`neural`]: the neural network mixed with the style's model (the *Neural network*
//!   parameter), loaded once;
//! - [`draw`]: whether to draw again (debounced settings), and drawing the candidates;
//! - [`perform`]: each candidate note's sounding length and velocity (articulation, dynamics);
//! - [`send`]: handing the selected phrase to the audio thread;
//! - [`harmony`]: the answer's chords (and its strong beats bent to them), the live harmoniser's
//!   tables (*Chords under me*), chord symbols for the roll.
//!
//! Its long-lived state, [`Brain`], outlives the thread: a host that deactivates and re-activates
//! the plugin (sample-rate change, say) keeps the session's memory. A panic inside a step is
//! caught at the thread's edge: it is reported in the status line and the model restarts with the
//! built-in model, keeping the session.

mod commands;
mod context;
pub(crate) mod draw;
pub mod harmony;
mod ingest;
pub mod learn;
pub mod neural;
mod parse;
pub mod perform;
mod send;
pub mod styles;
pub mod tempo;

use crate::bridge::{Candidate, Command, ModelEnds, RollNote, Shared, Snapshot};
use crate::model::key::{KeyEstimator, Profiles};
use crate::model::{Continuator, Note, Phrase, SamplerSettings, TrainedModel};
use crate::music::KeySignature;
use crate::params::ContinuoParams;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use draw::sampler_settings;

/// How often the thread looks at the rings.
const POLL: Duration = Duration::from_millis(3);
/// Notes of context the model sees.
const CONTEXT_NOTES: usize = 64;
/// Notes kept for the editor's roll.
const ROLL_NOTES: usize = 256;

/// A player note that has started and not yet ended, as the model thread knows it.
#[derive(Debug, Clone, Copy)]
struct OpenNote {
    /// Start in context beats.
    beat: f64,
    velocity: f32,
    /// Start in stream seconds.
    start_s: f64,
    /// Seconds of its first [`context::VOICE_WINDOW_S`] during which a higher key was held: a
    /// note under a higher one for most of that window was struck as an inner voice of a chord,
    /// and only the top voice goes to the model.
    covered_s: f64,
}

/// Where the model in use came from.
#[derive(Debug, Clone, PartialEq)]
enum ModelSource {
    /// A style the *Style* parameter chose (bundled, or the user's own; Blend by default).
    BuiltIn,
    /// A model file (the path as the `model-path` state holds it).
    File(String),
}

/// The model thread's state that survives deactivation.
pub struct Brain {
    /// Requests from the editor (kept here so the channel outlives thread restarts).
    commands: Receiver<Command>,
    /// The model in use; loaded lazily on the model thread (never on the audio thread).
    model: Option<Arc<TrainedModel>>,
    /// The `model-path` the model in use answers to (a failed or crashed file counts as
    /// answered, so it is not loaded again and again).
    model_path: Option<String>,
    model_source: ModelSource,
    continuator: Option<Continuator>,
    /// Completed player notes in context beats, newest last.
    context: VecDeque<Note>,
    /// The player's own recent notes (the context also holds continuous mode's answers), newest
    /// last, at most `perform::PLAYER_NOTES`: the articulation and dynamics to follow.
    player_notes: VecDeque<Note>,
    /// The candidates are played legato (the *Articulation* of the last draw).
    legato: bool,
    /// The player's tempo and beat from their onsets (free time).
    tempo: tempo::TempoFollower,
    /// The player's sounding notes per source (audio, MIDI channels) and key.
    open: Box<[[Option<OpenNote>; 128]; crate::bridge::NoteOrigin::COUNT]>,
    /// Added to the audio thread's beat stamps so the context's beats only go forward (across
    /// resets, transport jumps and loops), by whole bars so the beat phase is kept.
    beat_offset: f64,
    /// The latest context beat seen.
    last_beat: f64,
    played: VecDeque<RollNote>,
    candidates: Vec<Phrase>,
    selected: usize,
    generation: u32,
    /// Stream time of the newest player event processed.
    heard_until: u64,
    /// The key from the player's notes (pitch classes weighted by length, ranked with the corpus
    /// profiles, a memory of a few dozen notes): what a listener hears as the key.
    keys: KeyEstimator,
    /// The key from spectral chroma frames, used only until notes have been heard (the frames'
    /// harmonics pull a major key towards the minor key a third up).
    chroma_keys: KeyEstimator,
    key: Option<(KeySignature, f32)>,
    /// Settings the current candidates were drawn with, and when they were drawn.
    drawn_with: Option<SamplerSettings>,
    drawn_at: Option<Instant>,
    /// The settings seen at the previous step and when they last changed (debounce).
    seen_settings: Option<SamplerSettings>,
    settings_changed_at: Option<Instant>,
    dirty: bool,
    /// The sampler's seed is this mixed with the context in beats ([`draw::context_seed`]), so
    /// an answer is a function of the call, not of how many times the model thread happened to
    /// draw while it came in (which depends on its timing, and so on the tempo). Advances with
    /// the editor's Regenerate only.
    seed: u64,
    /// Beats after a grid line within which the call's end counts as on it when the answer is
    /// planned: one and a half samples at the block tempo (the playback counts one sample; the
    /// call's times and the gap are whole samples). Updated at every step.
    line_tolerance: f64,
    /// The audio thread's bar (time signature and bar line in its beats), read at every step:
    /// [`Brain::meter`] gives it in the context's beats.
    host_meter: crate::meter::Meter,
    message: Option<String>,
    generate_ms: f64,
    /// Notes the short-term model has learnt this session.
    session_notes: usize,
    learning: bool,
    /// The phrase being played (generation, start in stream seconds).
    playing: Option<(u32, f64, Phrase)>,
    /// Start (audio-thread beats) of the last answer that started, to trim a cut one.
    answer_beat: f64,
    /// Answers played recently (start in stream seconds), for the roll.
    answered: VecDeque<(f64, Phrase)>,
    /// Phrases sent, by generation, so a started one can be shown and (continuous mode) extended.
    sent: VecDeque<(u32, Phrase)>,
    /// Panics caught so far (the status line says so).
    panics: u32,
    /// The style models, the recommendation, Auto's choice.
    styles: styles::Styles,
    /// The neural network: which weights, parsed once, whether it is mixed in.
    neural: neural::NeuralState,
    /// The chords the player's held notes make (a keyboard's chords), for the editor.
    chords: crate::harmony::hearing::ChordHearing,
    /// Stream seconds of the last key that went down or up: which voice was on top since then is
    /// counted when the next one moves (`context::key_moves`); `None` after a stream reset.
    last_move_s: Option<f64>,
    /// Harmony: the answers' chords, the live harmoniser, chord symbols for the roll.
    harmony: harmony::HarmonyState,
    /// The chords heard in the audio input (see `harmony::audio`), for the editor.
    audio_chords: context::AudioChords,
    /// A model or network file loaded from the editor, being parsed on a helper thread, and the
    /// file asked for while it was (loaded next; the running parse's result is then dropped).
    file_load: commands::FileLoad,
    /// Whether a style or file that takes long to parse is parsed on a helper thread while the
    /// model in use answers on ([`parse`]). The plugin's model thread sets it; offline runs and
    /// tests leave it off and parse in place, so that a run does not depend on the wall clock.
    background: bool,
}

impl Brain {
    pub fn new(commands: Receiver<Command>) -> Self {
        Self {
            commands,
            model: None,
            model_path: None,
            model_source: ModelSource::BuiltIn,
            continuator: None,
            context: VecDeque::with_capacity(CONTEXT_NOTES + 1),
            player_notes: VecDeque::with_capacity(perform::PLAYER_NOTES + 1),
            legato: false,
            tempo: tempo::TempoFollower::default(),
            open: Box::new([[None; 128]; crate::bridge::NoteOrigin::COUNT]),
            beat_offset: 0.0,
            last_beat: 0.0,
            played: VecDeque::with_capacity(ROLL_NOTES + 1),
            candidates: Vec::new(),
            selected: 0,
            generation: 0,
            heard_until: 0,
            keys: KeyEstimator::with_decay(
                std::env::var("CONTINUO_KEY_DECAY")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(context::NOTE_KEY_DECAY),
            )
            .with_profiles(Profiles::Corpus),
            chroma_keys: KeyEstimator::new(),
            key: None,
            drawn_with: None,
            drawn_at: None,
            seen_settings: None,
            settings_changed_at: None,
            dirty: false,
            seed: 0x5eed,
            line_tolerance: crate::model::phrase::LINE_TOLERANCE_BEATS,
            host_meter: crate::meter::Meter::COMMON,
            message: None,
            generate_ms: 0.0,
            session_notes: 0,
            learning: true,
            playing: None,
            answer_beat: 0.0,
            answered: VecDeque::new(),
            sent: VecDeque::new(),
            panics: 0,
            styles: styles::Styles::default(),
            neural: Default::default(),
            chords: Default::default(),
            last_move_s: None,
            harmony: Default::default(),
            audio_chords: Default::default(),
            file_load: Default::default(),
            background: false,
        }
    }

    /// Notes the short-term model has learnt (it survives style changes).
    pub fn learnt_notes(&self) -> usize {
        self.continuator
            .as_ref()
            .map_or(0, Continuator::observed_notes)
    }

    /// The styles' state: the ranking, the style in use, what is loaded.
    pub fn styles(&mut self) -> &mut styles::Styles {
        &mut self.styles
    }

    /// The bar in the context's beats: the audio thread's, its bar line moved by the context's
    /// offset (whole bars of the meter it was made in, so usually not at all).
    pub(crate) fn meter(&self) -> crate::meter::Meter {
        let m = self.host_meter;
        let origin = (m.origin + self.beat_offset).rem_euclid(m.bar());
        crate::meter::Meter {
            origin: if origin.is_finite() { origin } else { 0.0 },
            ..m
        }
    }

    /// Whether the neural network is mixed into the answers.
    pub fn neural_in_use(&self) -> bool {
        self.neural.in_use()
    }

    /// The style whose model answers ("" when a model file is in use).
    pub fn style_in_use(&self) -> &str {
        if self.model_source == ModelSource::BuiltIn {
            &self.styles.in_use
        } else {
            ""
        }
    }

    pub fn candidates(&self) -> &[Phrase] {
        &self.candidates
    }

    pub fn key(&self) -> Option<(KeySignature, f32)> {
        self.key
    }

    /// The player's tempo and beat as heard so far (free time).
    pub fn tempo(&self) -> &tempo::TempoFollower {
        &self.tempo
    }

    /// The notes the model sees, oldest first (context beats).
    pub fn context(&self) -> impl Iterator<Item = &Note> {
        self.context.iter()
    }

    /// Times the candidates were drawn (the generation of the last phrase sent).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Stream time of the newest player event taken in.
    pub fn heard_until(&self) -> u64 {
        self.heard_until
    }

    /// The last message for the status line.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Whether the model in use is a bundled style (not a model file, not a user style).
    pub fn uses_built_in_model(&self) -> bool {
        self.model.is_some() && self.model_source == ModelSource::BuiltIn
    }

    /// After a panic inside a step: the model restarts with the built-in model; the context and
    /// the roll are kept, the candidates drawn anew.
    fn recover(&mut self, what: &str, params: &ContinuoParams) {
        self.panics += 1;
        self.model = None;
        self.continuator = None;
        self.styles.in_use.clear();
        self.candidates.clear();
        self.selected = 0;
        self.drawn_with = None;
        // The path that was in force is answered: it is not loaded again until it changes.
        self.model_path = Some(params.model_path.read().clone());
        self.model_source = ModelSource::BuiltIn;
        self.message = Some(format!(
            "the model hit an internal error ({what}); restarted with the built-in model"
        ));
        self.dirty = !self.context.is_empty();
    }
}

/// Handle to the running model thread.
pub struct ModelThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// Puts the brain back in its slot and clears `model_running` however the thread ends.
struct Lease<'a> {
    brain: Option<Brain>,
    slot: &'a Mutex<Option<Brain>>,
    shared: &'a Shared,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.brain.take() {
            *self.slot.lock() = Some(b);
        }
        self.shared.model_running.store(false, Ordering::Release);
    }
}

impl ModelThread {
    /// Starts the thread. The brain is taken out of its slot and put back when the thread ends.
    pub fn spawn(
        ends: ModelEnds,
        shared: Arc<Shared>,
        params: Arc<ContinuoParams>,
        snapshot: Arc<Mutex<Snapshot>>,
        brain: Arc<Mutex<Option<Brain>>>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("continuo-model".into())
            .spawn(move || {
                leave_realtime_class();
                let Some(b) = brain.lock().take() else {
                    return;
                };
                shared.model_running.store(true, Ordering::Release);
                let mut lease = Lease {
                    brain: Some(b),
                    slot: &brain,
                    shared: &shared,
                };
                let b = lease.brain.as_mut().expect("the brain was just put there");
                // A style chosen or a file loaded while playing is parsed beside this thread.
                b.background = true;
                let mut ends = ends;
                let mut last_publish = Instant::now() - Duration::from_secs(1);
                while !stop_flag.load(Ordering::Acquire) {
                    let run = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        let changed = step(b, &mut ends, &shared, &params, Instant::now());
                        if changed || last_publish.elapsed() > Duration::from_millis(50) {
                            publish(b, &snapshot);
                            last_publish = Instant::now();
                        }
                    }));
                    if let Err(panic) = run {
                        b.recover(&panic_message(&panic), &params);
                        publish(b, &snapshot);
                    }
                    std::thread::sleep(POLL);
                }
                publish(b, &snapshot);
            })?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for ModelThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Moves the calling thread to the normal scheduling class. A thread inherits its creator's
/// class, and hosts activate plugins on realtime threads (Ardour on its SCHED_FIFO process
/// thread); the model thread's work is not bounded like the audio thread's and must not run
/// above every ordinary thread of the machine. Lowering the class needs no privilege.
fn leave_realtime_class() {
    #[cfg(unix)]
    {
        // SAFETY: plain libc calls on this thread's own handle with a valid parameter.
        unsafe {
            let mut policy = 0;
            let mut param: libc::sched_param = std::mem::zeroed();
            if libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param) == 0
                && policy != libc::SCHED_OTHER
            {
                param.sched_priority = 0;
                libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_OTHER, &param);
            }
        }
    }
}

/// A panic's message in words.
fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// Makes sure a model is loaded: the file `model-path` names (when it changed since the model in
/// use was chosen: a preset or a host state restored it), else the style the *Style* parameter
/// asks for (Blend by default). A file or style that cannot be loaded leaves the model in use (or
/// Blend) and says why.
fn ensure_model(b: &mut Brain, params: &ContinuoParams) {
    follow_model_path(b, params);
    if b.model.is_none() {
        // Nothing answers yet: the style is loaded now. Once a model answers, [`step`] follows
        // the Style parameter, once per step, so a parse started at a step is taken at a later
        // one.
        b.model_source = ModelSource::BuiltIn;
        styles::follow(b, params);
        if b.model.is_none() {
            b.message = Some("the built-in model could not be loaded".into());
            return;
        }
    }
    if b.continuator.is_some() {
        return;
    }
    let Some(model) = b.model.clone() else { return };
    let mut c = Continuator::new(model);
    c.set_learning(params.model.learn.value());
    for n in &b.context {
        c.observe(*n);
    }
    b.continuator = Some(c);
}

/// Acts on a model path the host or a preset restored, when it changed since it was last seen:
/// an empty path goes back to the styles (a file still being parsed is dropped), another path is
/// parsed. Returns whether a parse started now.
fn follow_model_path(b: &mut Brain, params: &ContinuoParams) -> bool {
    let path = params.model_path.read().clone();
    let idle = b.file_load.running.is_none();
    if b.model_path.as_deref() != Some(path.as_str()) {
        b.model_path = Some(path.clone());
        if path.is_empty() {
            // A file still being parsed does not replace the built-in model later.
            commands::cancel_file(b);
            if b.model_source != ModelSource::BuiltIn {
                // Back to the styles: the Style parameter chooses again.
                b.model_source = ModelSource::BuiltIn;
                b.styles.in_use.clear();
            }
        } else {
            // A path the host or a preset restored is parsed as the editor's *Load* is: beside
            // the model thread, while the model in use answers on.
            commands::ask_file(b, params, path.into());
        }
    }
    idle && b.file_load.running.is_some()
}

/// Makes `model` the one that answers, keeping the session's short-term model. `redraw`: draw
/// the candidates again with it now (otherwise from the next draw on).
fn use_model(b: &mut Brain, model: Arc<TrainedModel>, redraw: bool) {
    if let Some(c) = b.continuator.as_mut() {
        c.set_model(model.clone());
    }
    b.model = Some(model);
    if redraw {
        b.dirty = !b.context.is_empty();
    }
}

/// One poll of the rings and the editor's commands, at time `now` (wall clock on the model
/// thread, stream time offline). Returns whether anything changed.
pub fn step(
    b: &mut Brain,
    ends: &mut ModelEnds,
    shared: &Shared,
    params: &ContinuoParams,
    now: Instant,
) -> bool {
    // The path the host or a preset restored first, so a parse that ends now never undoes it;
    // then a file parse started at an earlier step: one started now (for that path, or by
    // `commands::serve` below) is never taken now.
    let started = follow_model_path(b, params);
    let parsed = !started && commands::poll_file(b, params);
    ensure_model(b, params);
    b.host_meter =
        crate::meter::Meter::unpack(shared.meter.load(std::sync::atomic::Ordering::Relaxed));
    let mut changed = parsed | context::follow_learning(b, params);
    changed |= ingest::take_events(b, ends, shared, params);
    harmony::warm_up(params);
    changed |= harmony::live(b, ends, params);
    changed |= harmony::show(b, params, shared);
    changed |= context::update_key(b, ends, shared, params, changed);
    changed |= commands::serve(b, ends, shared, params);
    changed |= learn::poll(b, params);
    // The recommendation, before drawing, so Auto's choice answers this phrase already.
    changed |= styles::score(b);
    if b.model_source == ModelSource::BuiltIn {
        changed |= styles::follow(b, params);
    }
    changed |= neural::follow(b, params);
    let tempo = shared.tempo.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let rate = shared
        .sample_rate
        .load(std::sync::atomic::Ordering::Relaxed) as f64;
    if tempo > 0.0 && rate > 0.0 && (tempo / rate).is_finite() {
        b.line_tolerance = 1.5 * tempo.clamp(1.0, 1000.0) / 60.0 / rate;
    }
    if draw::due(b, params, now) {
        draw::generate(b, params, now);
        perform::candidates(b, params);
        send::selected(b, ends, shared, params);
        changed = true;
    }
    changed
}

/// Publishes what the editor shows (behind the snapshot mutex the audio thread never takes).
fn publish(b: &Brain, snapshot: &Mutex<Snapshot>) {
    let total: f64 = b.candidates.iter().map(|p| p.log2_prob.exp2()).sum();
    let candidates = b
        .candidates
        .iter()
        .map(|p| Candidate {
            phrase: p.clone(),
            bits_per_note: -p.log2_prob / p.notes.len().max(1) as f64,
            share: if total > 0.0 {
                p.log2_prob.exp2() / total
            } else {
                0.0
            },
        })
        .collect();
    let model_info = model_info(b.model.as_deref());
    let style = b.style_in_use().to_string();
    let user_styles = b.styles.user_styles();
    let mut s = snapshot.lock();
    s.played = b.played.iter().copied().collect();
    s.candidates = candidates;
    s.selected = b.selected;
    s.armed_generation = b.generation;
    s.playing = b.playing.clone();
    s.answered = b.answered.iter().cloned().collect();
    s.key = b.key;
    s.model_info = model_info;
    s.session_notes = b.session_notes;
    s.learning = b.learning;
    s.message = b.message.clone();
    s.generate_ms = b.generate_ms;
    s.style = style;
    s.neural = b.neural.in_use();
    s.styles.clone_from(&b.styles.ranking);
    s.user_styles = user_styles;
    s.style_job = b.styles.learner.view();
    s.score_ms = b.styles.score_ms;
    s.chords.clear();
    s.chords.extend(b.chords.recent().copied());
    s.chords.extend(b.audio_chords.recent());
    s.chords.sort_by(|x, y| x.start_s.total_cmp(&y.start_s));
    let extra = s
        .chords
        .len()
        .saturating_sub(crate::harmony::hearing::RECENT_CHORDS);
    s.chords.drain(..extra);
    s.player_harmony.clear();
    s.player_harmony
        .extend(b.harmony.player_spans.iter().copied());
    s.candidate_harmony = harmony::candidate_chords(b);
    s.answered_harmony.clear();
    s.answered_harmony
        .extend(b.harmony.answered.iter().cloned());
}

/// A short description of the model in use (its training date cut to the day, by characters:
/// the date comes from a file and may be anything).
fn model_info(model: Option<&TrainedModel>) -> String {
    match model {
        Some(m) if m.meta.train_notes > 0 => {
            let day: String = m.meta.date.chars().take(10).collect();
            format!(
                "model: {}{} melodies, {} notes{}",
                if m.meta.name.is_empty() {
                    String::new()
                } else {
                    format!("{}, ", m.meta.name.chars().take(40).collect::<String>())
                },
                m.meta.train_melodies,
                m.meta.train_notes,
                if day.is_empty() {
                    String::new()
                } else {
                    format!(", trained {day}")
                }
            )
        }
        Some(_) => "model: untrained (session memory only)".into(),
        None => "no model loaded".into(),
    }
}

#[cfg(test)]
mod tests;
