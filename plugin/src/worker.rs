//! MODEL THREAD: turns the player's notes into ranked continuations.
//!
//! Started in `activate()`, stopped and joined in `deactivate()` and on drop. It polls the rings
//! every few milliseconds (the audio thread never wakes it: no syscall there), keeps the context
//! of recent notes, feeds the short-term model, and whenever the context or the settings change
//! it draws new candidates and sends the selected one to the audio thread as a [`PhraseBuf`].
//!
//! Its long-lived state, [`Brain`], outlives the thread: a host that deactivates and re-activates
//! the plugin (sample-rate change, say) keeps the session's memory.

use crate::analysis::key::KeyEstimator;
use crate::bridge::{
    Candidate, Command, ModelEnds, PhraseBuf, PlaybackStatus, PlayerNote, RollNote, Shared,
    Snapshot,
};
use crate::model::{Continuator, Note, Phrase, SamplerSettings, TrainedModel};
use crate::music::{KeySignature, Scale};
use crate::params::{ContinuoParams, ResponseMode, ScaleLock, VelocitySource};
use parking_lot::Mutex;
use ringbuf::traits::{Consumer, Producer};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the thread looks at the rings.
const POLL: Duration = Duration::from_millis(3);
/// Notes of context the model sees.
const CONTEXT_NOTES: usize = 64;
/// Notes kept for the editor's roll.
const ROLL_NOTES: usize = 256;

/// The model thread's state that survives deactivation.
pub struct Brain {
    /// Requests from the editor (kept here so the channel outlives thread restarts).
    commands: Receiver<Command>,
    /// The model in use; loaded lazily on the model thread (never on the audio thread).
    model: Option<Arc<TrainedModel>>,
    continuator: Option<Continuator>,
    /// Completed player notes in beats, newest last.
    context: VecDeque<Note>,
    /// Start time and velocity of the player notes currently held, per key.
    open: [Option<(u64, f32)>; 128],
    /// Beats added to stream-time beats so the context stays monotonic across resets.
    beat_offset: f64,
    /// Last beat position seen (for the reset offset).
    last_beat: f64,
    played: VecDeque<RollNote>,
    candidates: Vec<Phrase>,
    selected: usize,
    generation: u32,
    /// Stream time of the newest player event processed.
    heard_until: u64,
    keys: KeyEstimator,
    key: Option<(KeySignature, f32)>,
    /// Settings the current candidates were drawn with.
    drawn_with: Option<SamplerSettings>,
    dirty: bool,
    seed: u64,
    message: Option<String>,
    generate_ms: f64,
    /// Notes the short-term model has learnt this session.
    session_notes: usize,
    learning: bool,
    /// The phrase being played (generation, start in stream seconds).
    playing: Option<(u32, f64, Phrase)>,
    /// Answers played recently (start in stream seconds), for the roll.
    answered: VecDeque<(f64, Phrase)>,
    /// Phrases sent, by generation, so a started one can be shown and (continuous mode) extended.
    sent: VecDeque<(u32, Phrase)>,
}

impl Brain {
    pub fn new(commands: Receiver<Command>) -> Self {
        Self {
            commands,
            model: None,
            continuator: None,
            context: VecDeque::with_capacity(CONTEXT_NOTES + 1),
            open: [None; 128],
            beat_offset: 0.0,
            last_beat: 0.0,
            played: VecDeque::with_capacity(ROLL_NOTES + 1),
            candidates: Vec::new(),
            selected: 0,
            generation: 0,
            heard_until: 0,
            keys: KeyEstimator::new(),
            key: None,
            drawn_with: None,
            dirty: false,
            seed: 0x5eed,
            message: None,
            generate_ms: 0.0,
            session_notes: 0,
            learning: true,
            playing: None,
            answered: VecDeque::new(),
            sent: VecDeque::new(),
        }
    }
}

impl Brain {
    pub fn candidates(&self) -> &[Phrase] {
        &self.candidates
    }

    pub fn key(&self) -> Option<(KeySignature, f32)> {
        self.key
    }
}

/// Handle to the running model thread.
pub struct ModelThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
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
                let Some(mut b) = brain.lock().take() else {
                    return;
                };
                shared.model_running.store(true, Ordering::Release);
                let mut ends = ends;
                let mut last_publish = Instant::now() - Duration::from_secs(1);
                while !stop_flag.load(Ordering::Acquire) {
                    let changed = step(&mut b, &mut ends, &shared, &params);
                    if changed || last_publish.elapsed() > Duration::from_millis(50) {
                        publish(&b, &snapshot);
                        last_publish = Instant::now();
                    }
                    std::thread::sleep(POLL);
                }
                publish(&b, &snapshot);
                shared.model_running.store(false, Ordering::Release);
                *brain.lock() = Some(b);
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

/// The sampler settings the parameters ask for.
pub fn sampler_settings(params: &ContinuoParams, key: Option<KeySignature>) -> SamplerSettings {
    let (low, high) = params.pitch_range();
    let scale_lock = match params.model.scale_lock.value() {
        ScaleLock::Off => None,
        ScaleLock::Detected => key.map(Scale::of_key),
        ScaleLock::Fixed => Some(params.fixed_scale()),
    };
    SamplerSettings {
        temperature: params.model.temperature.value(),
        top_k: 0,
        top_p: params.model.top_p.value(),
        scale_lock,
        low,
        high,
        length_notes: params
            .model
            .length
            .value()
            .clamp(1, crate::bridge::MAX_PHRASE_NOTES as i32) as usize,
        length_beats: None,
        density: params.model.density.value(),
        candidates: params.model.candidates.value().clamp(1, 32) as usize,
        seed: 0,
    }
}

fn stream_beats(t: u64, shared: &Shared) -> f64 {
    let sr = shared.sample_rate.load(Ordering::Relaxed).max(1.0) as f64;
    let tempo = shared.tempo.load(Ordering::Relaxed).clamp(1.0, 1000.0) as f64;
    t as f64 / sr * tempo / 60.0
}

fn stream_seconds(t: u64, shared: &Shared) -> f64 {
    t as f64 / shared.sample_rate.load(Ordering::Relaxed).max(1.0) as f64
}

fn ensure_model(b: &mut Brain, params: &ContinuoParams) {
    if b.continuator.is_some() {
        return;
    }
    let model = match b.model.clone() {
        Some(m) => m,
        None => {
            let path = params.model_path.read().clone();
            let from_file = (!path.is_empty()).then(|| TrainedModel::load(&path));
            match from_file {
                Some(Ok(m)) => Arc::new(m),
                other => {
                    if let Some(Err(e)) = other {
                        b.message = Some(format!(
                            "model {path} not loaded, using the built-in one: {e}"
                        ));
                    }
                    match TrainedModel::embedded() {
                        Ok(m) => Arc::new(m),
                        Err(e) => {
                            b.message =
                                Some(format!("the built-in model could not be loaded: {e:#}"));
                            return;
                        }
                    }
                }
            }
        }
    };
    b.model = Some(model.clone());
    let mut c = Continuator::new(model);
    c.set_learning(params.model.learn.value());
    for n in &b.context {
        c.observe(*n);
    }
    b.continuator = Some(c);
}

/// One poll of the rings and the editor's commands. Returns whether anything changed.
pub(crate) fn step(
    b: &mut Brain,
    ends: &mut ModelEnds,
    shared: &Shared,
    params: &ContinuoParams,
) -> bool {
    ensure_model(b, params);
    let mut changed = false;
    let learning = params.model.learn.value();
    if learning != b.learning {
        if let Some(c) = b.continuator.as_mut() {
            c.set_learning(learning);
        }
        b.learning = learning;
        changed = true;
    }

    // Playback news first: a Reset must not wipe notes that came after it in the same poll.
    while let Some(st) = ends.status.try_pop() {
        changed = true;
        match st {
            PlaybackStatus::Started { generation, at } => {
                let phrase = b
                    .sent
                    .iter()
                    .find(|(g, _)| *g == generation)
                    .map(|(_, p)| p.clone());
                if let Some(phrase) = phrase {
                    if params.response.mode.value() == ResponseMode::Continuous {
                        // Keep going: the next phrase continues the one now playing.
                        let start = stream_beats(at, shared) + b.beat_offset;
                        for n in &phrase.notes {
                            b.context.push_back(Note {
                                onset: start + n.onset,
                                ..*n
                            });
                        }
                        while b.context.len() > CONTEXT_NOTES {
                            b.context.pop_front();
                        }
                        b.dirty = true;
                    }
                    b.answered
                        .push_back((stream_seconds(at, shared), phrase.clone()));
                    while b.answered.len() > 16 {
                        b.answered.pop_front();
                    }
                    b.playing = Some((generation, stream_seconds(at, shared), phrase));
                }
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
                    // Show only what was really played of a cut answer.
                    let end_s = stream_seconds(at, shared);
                    let tempo = shared.tempo.load(Ordering::Relaxed).clamp(1.0, 1000.0) as f64;
                    if let Some((start_s, phrase)) = b.answered.back_mut() {
                        let end_beats = (end_s - *start_s) * tempo / 60.0;
                        phrase.notes.retain(|n| n.onset < end_beats);
                        for n in &mut phrase.notes {
                            n.duration = n.duration.min(end_beats - n.onset);
                        }
                    }
                }
            }
            PlaybackStatus::Reset => {
                // The stream clock restarts: shift the beat origin so the context stays in order.
                b.beat_offset = b.last_beat + 4.0;
                b.open = [None; 128];
                b.heard_until = 0;
                b.playing = None;
                for r in b.played.iter_mut() {
                    r.end_s.get_or_insert(r.start_s);
                }
                b.played.clear();
                b.answered.clear();
            }
        }
    }

    // Player notes.
    while let Some(ev) = ends.notes.try_pop() {
        changed = true;
        b.dirty = true;
        match ev {
            PlayerNote::On {
                pitch,
                velocity,
                time,
                ..
            } => {
                let p = (pitch & 127) as usize;
                b.open[p] = Some((time, velocity));
                b.heard_until = b.heard_until.max(time);
                b.played.push_back(RollNote {
                    pitch,
                    velocity,
                    start_s: stream_seconds(time, shared),
                    end_s: None,
                });
                while b.played.len() > ROLL_NOTES {
                    b.played.pop_front();
                }
            }
            PlayerNote::Off { pitch, time, .. } => {
                let p = (pitch & 127) as usize;
                b.heard_until = b.heard_until.max(time);
                if let Some((start, velocity)) = b.open[p].take() {
                    let onset = stream_beats(start, shared) + b.beat_offset;
                    let end = stream_beats(time.max(start), shared) + b.beat_offset;
                    b.last_beat = b.last_beat.max(end);
                    let note = Note {
                        pitch,
                        onset,
                        duration: (end - onset).max(1.0 / 64.0),
                        velocity: (velocity * 127.0).round().clamp(1.0, 127.0) as u8,
                    };
                    b.context.push_back(note);
                    while b.context.len() > CONTEXT_NOTES {
                        b.context.pop_front();
                    }
                    if let Some(c) = b.continuator.as_mut() {
                        c.observe(note);
                        if learning {
                            b.session_notes += 1;
                        }
                    }
                    let mut chroma = [0.0f32; 12];
                    chroma[(pitch % 12) as usize] = note.duration.min(4.0) as f32;
                    b.keys.push(&chroma);
                    let end_s = stream_seconds(time, shared);
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
    }

    // Features: only the chroma of confident, audible frames informs the key.
    let mut frames = 0;
    while let Some(f) = ends.frames.try_pop() {
        if f.level_db > -55.0 && f.confidence > 0.5 {
            b.keys.push(&f.chroma);
            frames += 1;
        }
    }
    if frames > 0 || changed {
        let key = b.keys.estimate();
        if key.map(|k| k.0) != b.key.map(|k| k.0) {
            b.key = key;
            if params.model.scale_lock.value() == ScaleLock::Detected {
                b.dirty = true;
            }
            changed = true;
        } else {
            b.key = key;
        }
    }

    // Editor requests.
    while let Ok(cmd) = b.commands.try_recv() {
        changed = true;
        match cmd {
            Command::Regenerate => b.dirty = true,
            Command::Next | Command::Previous | Command::Select(_) => {
                if !b.candidates.is_empty() {
                    let n = b.candidates.len();
                    b.selected = match cmd {
                        Command::Next => (b.selected + 1) % n,
                        Command::Previous => (b.selected + n - 1) % n,
                        Command::Select(i) => i.min(n - 1),
                        _ => b.selected,
                    };
                    send_selected(b, ends, shared);
                }
            }
            Command::Forget => {
                if let Some(c) = b.continuator.as_mut() {
                    c.forget();
                }
                b.context.clear();
                b.played.clear();
                b.candidates.clear();
                b.keys.reset();
                b.key = None;
                b.session_notes = 0;
                b.message = Some("session memory cleared".into());
            }
            Command::ExportPhrase(path) => {
                let msg = match b.candidates.get(b.selected) {
                    Some(p) => match crate::files::midi::write_phrase(
                        &path,
                        p,
                        shared.tempo.load(Ordering::Relaxed) as f64,
                    ) {
                        Ok(()) => format!("phrase saved to {}", path.display()),
                        Err(e) => format!("could not save the phrase: {e:#}"),
                    },
                    None => "no phrase to export yet: play something first".into(),
                };
                b.message = Some(msg);
            }
            Command::BuiltInModel => {
                params.model_path.write().clear();
                b.model = None;
                b.continuator = None;
                ensure_model(b, params);
                b.dirty = true;
                b.message = Some("using the built-in model".into());
            }
            Command::LoadModel(path) => match TrainedModel::load(&path) {
                Ok(m) => {
                    let m = Arc::new(m);
                    *params.model_path.write() = path.display().to_string();
                    b.model = Some(m.clone());
                    b.continuator = None;
                    ensure_model(b, params);
                    b.dirty = true;
                    b.message = Some(format!("model loaded from {}", path.display()));
                }
                Err(e) => {
                    b.message = Some(format!("model not loaded (keeping the current one): {e:#}"))
                }
            },
        }
    }

    // Settings that change what is drawn.
    let settings = sampler_settings(params, b.key.map(|k| k.0));
    if b.drawn_with.map(|d| d != settings).unwrap_or(true) && !b.context.is_empty() {
        b.dirty = true;
    }

    if b.dirty && !b.context.is_empty() {
        generate(b, ends, shared, settings, params);
        changed = true;
    }
    changed
}

fn generate(
    b: &mut Brain,
    ends: &mut ModelEnds,
    shared: &Shared,
    settings: SamplerSettings,
    params: &ContinuoParams,
) {
    b.dirty = false;
    b.drawn_with = Some(settings);
    let Some(c) = b.continuator.as_mut() else {
        return;
    };
    let t0 = Instant::now();
    b.seed = b
        .seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut s = settings;
    s.seed = b.seed;
    let context: Vec<Note> = b.context.iter().copied().collect();
    let mut phrases = c.continue_phrase(&context, b.key.map(|k| k.0), &s);
    phrases.retain(|p| !p.notes.is_empty());
    // Follow-the-player velocity is applied on the audio thread; keep the model's here.
    let _ = params.output.velocity.value() == VelocitySource::Model;
    b.generate_ms = t0.elapsed().as_secs_f64() * 1000.0;
    b.candidates = phrases;
    b.selected = 0;
    send_selected(b, ends, shared);
}

fn send_selected(b: &mut Brain, ends: &mut ModelEnds, shared: &Shared) {
    let Some(phrase) = b.candidates.get(b.selected) else {
        return;
    };
    b.generation = b.generation.wrapping_add(1).max(1);
    let buf = PhraseBuf::from_phrase(b.generation, b.heard_until, phrase);
    b.sent.push_back((b.generation, phrase.clone()));
    while b.sent.len() > 16 {
        b.sent.pop_front();
    }
    if ends.phrases.try_push(buf).is_err() {
        crate::bridge::Counters::bump(&shared.counters.phrases_dropped);
    }
}

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
    let mut s = snapshot.lock();
    s.played = b.played.iter().copied().collect();
    s.candidates = candidates;
    s.selected = b.selected;
    s.armed_generation = b.generation;
    s.playing = b.playing.clone();
    s.answered = b.answered.iter().cloned().collect();
    s.key = b.key;
    s.model_info = match &b.model {
        Some(m) if m.meta.train_notes > 0 => format!(
            "model: {} melodies, {} notes{}",
            m.meta.train_melodies,
            m.meta.train_notes,
            if m.meta.date.is_empty() {
                String::new()
            } else {
                format!(", trained {}", &m.meta.date[..m.meta.date.len().min(10)])
            }
        ),
        Some(_) => "model: untrained (session memory only)".into(),
        None => "no model loaded".into(),
    };
    s.session_notes = b.session_notes;
    s.learning = b.learning;
    s.message = b.message.clone();
    s.generate_ms = b.generate_ms;
}
