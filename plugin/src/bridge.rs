//! Everything the audio thread shares with the other threads: SPSC rings, a latest-value phrase
//! handoff, atomics, snapshots.
//!
//! The audio thread only ever touches the rings and the phrase handoff (wait-free, on memory
//! allocated in `activate()`) and the atomics in [`Shared`]. It never takes the snapshot mutex:
//! that one is shared by the model thread and the editor only.
//! Every ring is bounded; a full ring drops the item and counts it in [`Counters`].
//!
//! Two paths cross from the audio thread to the model thread: feature frames (many, lossy by
//! nature) and [`ToModel`] events — player notes and playback news in ONE ring, so the model
//! thread sees them in the order they happened (a reset is never handled before the notes that
//! came before it). The model thread hands phrases back through a triple buffer: the audio thread
//! always arms the newest one, whatever happened while it was not running.

use crate::analysis::FeatureFrame;
use crate::model::Phrase;
use crate::music::KeySignature;
use atomic_float::AtomicF32;
use ringbuf::traits::{Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Capacity of the feature-frame ring (≈ 5 s of hops at 2.7 ms).
pub const FRAME_RING: usize = 2048;
/// Capacity of the audio → model event ring (player notes and playback news, in order).
pub const EVENT_RING: usize = 1024;
/// Longest phrase the audio thread can hold, in notes.
pub const MAX_PHRASE_NOTES: usize = 64;
/// Most chord notes an answer carries (32 four-note chords).
pub const MAX_CHORD_NOTES: usize = 128;

/// Which input a player note came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteOrigin {
    Audio,
    /// The note input, with the MIDI channel (0..15) the note came on.
    Midi(u8),
}

impl NoteOrigin {
    /// A small index per source (audio, then the 16 MIDI channels), for per-source note tables.
    pub fn index(self) -> usize {
        match self {
            NoteOrigin::Audio => 0,
            NoteOrigin::Midi(c) => 1 + (c & 15) as usize,
        }
    }

    /// Number of distinct [`NoteOrigin::index`] values.
    pub const COUNT: usize = 17;
}

/// A moment of the stream in both clocks: samples since activation (exact, for ordering and the
/// roll) and the musical beat position (the host's grid when its transport runs, else beats
/// accumulated block by block at the tempo in force, so a tempo change never moves the past).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stamp {
    pub sample: u64,
    pub beat: f64,
}

/// A player note start or end (audio → model).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlayerNote {
    On {
        pitch: u8,
        velocity: f32,
        at: Stamp,
        origin: NoteOrigin,
    },
    Off {
        pitch: u8,
        at: Stamp,
        origin: NoteOrigin,
    },
}

/// What the audio thread tells the model thread, in the order it happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToModel {
    Note(PlayerNote),
    Playback(PlaybackStatus),
    /// A beat of the live harmoniser (*Chords under me*) came: what the player sounded on it and
    /// the chord that started.
    Beat(BeatNews),
}

/// One note of a phrase as the audio thread plays it. Times are beats from the phrase start.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhraseNote {
    pub pitch: u8,
    /// 0..1
    pub velocity: f32,
    pub onset_beats: f64,
    pub length_beats: f64,
}

/// A whole phrase in one fixed-size `Copy` value, so it crosses the ring without allocating.
#[derive(Debug, Clone, Copy)]
pub struct PhraseBuf {
    /// Increases with every phrase the model thread sends; lets the editor and the model thread
    /// know which phrase is playing.
    pub generation: u32,
    /// Stream time of the newest player event the phrase was computed from: call and response
    /// only answers with a phrase that has heard the whole call.
    pub heard_until: u64,
    pub len: usize,
    pub notes: [PhraseNote; MAX_PHRASE_NOTES],
    /// The phrase is played legato (the *Articulation* parameter): its notes may overlap the
    /// next. Otherwise playback keeps every note inside the time to the next note, whatever the
    /// grid does to the onsets.
    pub legato: bool,
    /// Chord notes under the answer (*Chords under the answer*), beats from the phrase start,
    /// velocity before the *Chord level*; the first `chords_len` count. Empty when harmony is
    /// off or the harmony model was not ready: the melody never waits for its chords.
    pub chords: [PhraseNote; MAX_CHORD_NOTES],
    pub chords_len: usize,
}

impl Default for PhraseBuf {
    fn default() -> Self {
        Self {
            generation: 0,
            heard_until: 0,
            len: 0,
            notes: [PhraseNote::default(); MAX_PHRASE_NOTES],
            legato: false,
            chords: [PhraseNote::default(); MAX_CHORD_NOTES],
            chords_len: 0,
        }
    }
}

impl PhraseBuf {
    pub fn notes(&self) -> &[PhraseNote] {
        &self.notes[..self.len.min(MAX_PHRASE_NOTES)]
    }

    /// The chord notes under the phrase.
    pub fn chord_notes(&self) -> &[PhraseNote] {
        &self.chords[..self.chords_len.min(MAX_CHORD_NOTES)]
    }

    /// Adds a chord note (beats from the phrase start); false when the phrase holds no more.
    pub fn push_chord_note(&mut self, note: PhraseNote) -> bool {
        if self.chords_len >= MAX_CHORD_NOTES {
            return false;
        }
        self.chords[self.chords_len] = note;
        self.chords_len += 1;
        true
    }

    /// Converts a model phrase (onsets relative to its start), keeping at most
    /// [`MAX_PHRASE_NOTES`] notes.
    pub fn from_phrase(generation: u32, heard_until: u64, phrase: &Phrase) -> Self {
        let mut buf = PhraseBuf {
            generation,
            heard_until,
            ..Default::default()
        };
        for (slot, n) in buf.notes.iter_mut().zip(phrase.notes.iter()) {
            *slot = PhraseNote {
                pitch: n.pitch.min(127),
                velocity: (n.velocity as f32 / 127.0).clamp(0.0, 1.0),
                onset_beats: n.onset.max(0.0),
                length_beats: n.duration.max(1.0 / 64.0),
            };
            buf.len += 1;
        }
        buf
    }
}

/// A chord as the live harmoniser plays it: which chord and its notes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChordVoicing {
    /// The chord's dense index (`harmony::Chord::index`; 0 = none).
    pub chord: u8,
    /// Its notes, lowest first; the first `len` count.
    pub notes: [u8; 4],
    pub len: u8,
}

impl ChordVoicing {
    /// The notes that count.
    pub fn notes(&self) -> &[u8] {
        &self.notes[..(self.len as usize).min(4)]
    }
}

/// The live harmoniser's choice for a coming beat (model → audio): one chord per pitch class the
/// player may sound when the beat starts (index = pitch class) and one for silence (index 12),
/// so the audio thread plays the right one at once without waiting for the model thread.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LiveChords {
    /// The audio-thread beat (whole beats of its clock) the options are for; a table for
    /// another beat is still used when it is at most [`LIVE_TABLE_SLACK`] beats old.
    pub beat: i64,
    pub options: [ChordVoicing; 13],
}

/// How many beats old a live chord table may be and still be played.
pub const LIVE_TABLE_SLACK: i64 = 2;

/// A beat of the live harmoniser (audio → model).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeatNews {
    /// The beat (whole beats of the audio thread's clock).
    pub beat: i64,
    /// The pitch class the player sounded when it started (the highest held key, or a note
    /// starting just after), if any.
    pub on_beat: Option<u8>,
    /// The chord that started on it (a change of the harmonic rhythm), if one did.
    pub started: Option<ChordVoicing>,
    /// The live chord stopped (the player has been silent for a bar).
    pub silenced: bool,
    /// When the beat was heard (its start, or the late note that settled it).
    pub at: Stamp,
}

/// What the audio thread tells the model thread about playback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlaybackStatus {
    /// The phrase with this generation started then.
    Started { generation: u32, at: Stamp },
    /// The phrase ended (played out or cut).
    Ended {
        generation: u32,
        at: Stamp,
        cut: bool,
    },
    /// The audio thread was reset (stream clock restarts at 0).
    Reset,
}

/// Drop counters (every bounded queue has one) shown in the editor's status line.
#[derive(Debug, Default)]
pub struct Counters {
    pub frames_dropped: AtomicU64,
    /// Player notes or playback news that did not fit the event ring (or a block's arrays).
    pub notes_dropped: AtomicU64,
    /// Phrases the model thread sent that were replaced by a newer one before the audio thread
    /// armed them (not an error: only the newest phrase matters).
    pub phrases_replaced: AtomicU64,
    /// Output events the host's queue refused.
    pub events_dropped: AtomicU64,
    /// Controller events of a host's restore of nice-plug's VST3 MIDI-controller parameters,
    /// not played and ignored (see [`crate::engine::Engine::receive`]).
    pub controllers_ignored: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Lock-free values published by the audio thread (and a few requests to it).
#[derive(Debug)]
pub struct Shared {
    /// Input peak of the last block (linear).
    pub input_peak: AtomicF32,
    /// Input RMS of the last block (linear).
    pub input_rms: AtomicF32,
    /// The gain (dB) the analysis applies to its copy of a quiet input
    /// (`analysis/input_level.rs`), for the editor's level meter.
    pub input_gain_db: AtomicF32,
    /// The mains hum (Hz: 50 or 60) the analysis takes out of its copy of the input
    /// (`analysis/hum.rs`), 0 when none, for the editor.
    pub hum_hz: AtomicF32,
    /// The concert pitch notes are heard in (cents from A4 = 440 Hz): *Concert pitch*, or the
    /// player's own when *Follow tuning* heard it (`analysis/concert_pitch.rs`), for the editor.
    pub concert_cents: AtomicF32,
    /// Current detected pitch (fractional MIDI), < 0 when none.
    pub pitch: AtomicF32,
    pub pitch_confidence: AtomicF32,
    /// Several notes sound (a chord): the analyser follows one voice and starts no note.
    pub polyphonic: AtomicBool,
    /// Counts detected note-ons (the editor flashes when it changes).
    pub onsets: AtomicU64,
    /// Stream position (samples since activation) at the end of the last block.
    pub stream_pos: AtomicU64,
    pub sample_rate: AtomicF32,
    /// False while the analyser cannot listen at `sample_rate` (see
    /// `analysis::listens_at`): the audio passes through and only MIDI input is heard.
    /// Set in `activate()`.
    pub analysis_listening: AtomicBool,
    /// Tempo in use (host's or internal), bpm.
    pub tempo: AtomicF32,
    pub host_playing: AtomicBool,
    /// Host beat position at `stream_pos`, NaN when the host gives none.
    pub host_beats: AtomicF32,
    /// The bar the audio thread's beats are counted in (`Meter::pack`: time signature and bar
    /// line in one word), for the model thread's phrases, accents and harmonic rhythm and the
    /// editor's bar lines.
    pub meter: AtomicU64,
    /// Generation of the phrase being played, 0 when none.
    pub playing_generation: AtomicU32,
    /// Stream sample at which the playing phrase started.
    pub playing_since: AtomicU64,
    /// Generation of the phrase the audio thread holds ready.
    pub armed_generation: AtomicU32,
    /// The editor's Play button: the audio thread swaps it back to false.
    pub play_request: AtomicBool,
    /// The editor's Stop button.
    pub stop_request: AtomicBool,
    /// Velocity the player has been using recently (0..1).
    pub player_velocity: AtomicF32,
    /// Free time: the player's tempo and a beat, estimated on the model thread from the onsets
    /// (`worker::tempo::pack`: tempo in mbpm and a beat's stream sample in one word, so the
    /// audio thread never reads half of one estimate and half of the next); 0 = none yet.
    pub free_time: AtomicU64,
    /// Confidence of the latest estimate (0..1), for the editor.
    pub free_time_confidence: AtomicF32,
    /// Set by the audio thread while its beat clock follows the estimate (transport stopped or
    /// no host tempo, and *Tempo when stopped* is *Follow me*), for the editor.
    pub free_time_in_use: AtomicBool,
    /// Set while the model thread runs.
    pub model_running: AtomicBool,
    pub counters: Counters,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            input_peak: AtomicF32::new(0.0),
            input_rms: AtomicF32::new(0.0),
            input_gain_db: AtomicF32::new(0.0),
            hum_hz: AtomicF32::new(0.0),
            concert_cents: AtomicF32::new(0.0),
            pitch: AtomicF32::new(-1.0),
            pitch_confidence: AtomicF32::new(0.0),
            polyphonic: AtomicBool::new(false),
            onsets: AtomicU64::new(0),
            stream_pos: AtomicU64::new(0),
            sample_rate: AtomicF32::new(48_000.0),
            analysis_listening: AtomicBool::new(true),
            tempo: AtomicF32::new(120.0),
            host_playing: AtomicBool::new(false),
            host_beats: AtomicF32::new(f32::NAN),
            meter: AtomicU64::new(crate::meter::Meter::COMMON.pack()),
            playing_generation: AtomicU32::new(0),
            playing_since: AtomicU64::new(0),
            armed_generation: AtomicU32::new(0),
            play_request: AtomicBool::new(false),
            stop_request: AtomicBool::new(false),
            player_velocity: AtomicF32::new(0.7),
            free_time: AtomicU64::new(0),
            free_time_confidence: AtomicF32::new(0.0),
            free_time_in_use: AtomicBool::new(false),
            model_running: AtomicBool::new(false),
            counters: Counters::default(),
        }
    }
}

/// The audio thread's ends of the rings.
pub struct AudioEnds {
    pub frames: HeapProd<FeatureFrame>,
    pub events: HeapProd<ToModel>,
    /// The newest phrase the model thread published (`update()` tells whether it is new).
    pub phrase: triple_buffer::Output<PhraseBuf>,
    /// The newest live chord table (*Chords under me*).
    pub live_chords: triple_buffer::Output<LiveChords>,
}

impl AudioEnds {
    /// Sends an event to the model thread; a full ring drops it and counts it.
    pub fn send(&mut self, event: ToModel, counters: &Counters) {
        if self.events.try_push(event).is_err() {
            Counters::bump(&counters.notes_dropped);
        }
    }

    /// The phrase published since the last call, if any (wait-free, no allocation).
    pub fn new_phrase(&mut self) -> Option<PhraseBuf> {
        if self.phrase.update() {
            Some(*self.phrase.output_buffer_mut())
        } else {
            None
        }
    }

    /// The live chord table published since the last call, if any (wait-free, no allocation).
    pub fn new_live_chords(&mut self) -> Option<LiveChords> {
        if self.live_chords.update() {
            Some(*self.live_chords.output_buffer_mut())
        } else {
            None
        }
    }
}

/// The model thread's ends of the rings.
pub struct ModelEnds {
    pub frames: HeapCons<FeatureFrame>,
    pub events: HeapCons<ToModel>,
    phrase: triple_buffer::Input<PhraseBuf>,
    /// The live chord table's input (*Chords under me*).
    live_chords: triple_buffer::Input<LiveChords>,
}

impl ModelEnds {
    /// Publishes a phrase: it replaces any phrase the audio thread has not armed yet.
    pub fn publish_phrase(&mut self, phrase: PhraseBuf, counters: &Counters) {
        if !self.phrase.consumed() {
            Counters::bump(&counters.phrases_replaced);
        }
        self.phrase.write(phrase);
    }

    /// Publishes a live chord table: it replaces any the audio thread has not read yet.
    pub fn publish_live_chords(&mut self, table: LiveChords) {
        self.live_chords.write(table);
    }
}

/// Allocates all rings and the phrase handoff (called from `activate()`, never on the audio
/// thread).
pub fn rings() -> (AudioEnds, ModelEnds) {
    let (fp, fc) = HeapRb::<FeatureFrame>::new(FRAME_RING).split();
    let (ep, ec) = HeapRb::<ToModel>::new(EVENT_RING).split();
    let (pi, mut po) = triple_buffer::triple_buffer(&PhraseBuf::default());
    // The initial (empty) value is not a phrase: mark it read.
    po.update();
    let (li, mut lo) = triple_buffer::triple_buffer(&LiveChords::default());
    lo.update();
    (
        AudioEnds {
            frames: fp,
            events: ep,
            phrase: po,
            live_chords: lo,
        },
        ModelEnds {
            frames: fc,
            events: ec,
            phrase: pi,
            live_chords: li,
        },
    )
}

/// A note in the editor's piano roll (stream seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RollNote {
    pub pitch: u8,
    pub velocity: f32,
    pub start_s: f64,
    /// `None` while the note is still sounding.
    pub end_s: Option<f64>,
}

/// A ranked candidate as the editor lists it.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub phrase: Phrase,
    /// Mean bits per note (lower = more likely).
    pub bits_per_note: f64,
    /// The phrase's probability share among the candidates (0..1).
    pub share: f64,
}

/// What the model thread publishes for the editor (behind a mutex the audio thread never takes).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The player's recent notes (newest last, bounded).
    pub played: Vec<RollNote>,
    /// Ranked candidates, best first.
    pub candidates: Vec<Candidate>,
    /// Which candidate is armed for playback.
    pub selected: usize,
    /// Generation of the armed candidate.
    pub armed_generation: u32,
    /// The phrase being played and its start (stream seconds), for the roll.
    pub playing: Option<(u32, f64, Phrase)>,
    /// Recent answers that were played (start in stream seconds, phrase), newest last.
    pub answered: Vec<(f64, Phrase)>,
    pub key: Option<(KeySignature, f32)>,
    /// Short description of the model in use.
    pub model_info: String,
    /// Notes the short-term model has learnt this session.
    pub session_notes: usize,
    pub learning: bool,
    /// The last error or notice in plain words, with its time.
    pub message: Option<String>,
    /// Time the last generation took, in ms.
    pub generate_ms: f64,
    /// The style whose model answers ("" when a model file is in use).
    pub style: String,
    /// Whether the neural network is mixed with it (*Neural network* on and its weights usable).
    pub neural: bool,
    /// Every loaded style's fit to the player's recent notes, best first.
    pub styles: Vec<crate::model::styles::StyleScore>,
    /// The user's own styles found so far (names).
    pub user_styles: Vec<String>,
    /// Time the last scoring of the styles took, in ms.
    pub score_ms: f64,
    /// The style job running (learning from MIDI files, keeping the session, renaming), with
    /// its progress; `None` when none runs.
    pub style_job: Option<crate::worker::learn::StyleJob>,
    /// The chords the player held recently (keyboard chords), oldest first; the last one is
    /// still held when its `end_s` is `None`.
    pub chords: Vec<crate::harmony::hearing::ChordSpan>,
    /// Harmony (*Show chords* and the modes that play): chord symbols for the player's recent
    /// phrase (or the chords played under them, live), in stream seconds, oldest first.
    pub player_harmony: Vec<crate::harmony::hearing::ChordSpan>,
    /// Chord symbols of each candidate (beats from its start), in the order of `candidates`.
    pub candidate_harmony: Vec<Vec<crate::harmony::output::Segment>>,
    /// Chord symbols of each recent answer (beats from its start), in the order of `answered`.
    pub answered_harmony: Vec<Vec<crate::harmony::output::Segment>>,
}

/// Editor → model thread requests (bounded std channel: both sides may block briefly).
#[derive(Debug, Clone)]
pub enum Command {
    Regenerate,
    Next,
    Previous,
    Select(usize),
    Forget,
    /// Write the armed phrase as a standard MIDI file to this path.
    ExportPhrase(std::path::PathBuf),
    /// Load a model file; on failure the current model stays.
    LoadModel(std::path::PathBuf),
    /// Go back to the built-in model.
    BuiltInModel,
    /// The user's own styles: learn, keep the session, rename, delete, cancel, list.
    Style(crate::worker::learn::StyleRequest),
    /// Makes the model thread panic (tests of its recovery).
    #[cfg(test)]
    Crash,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Phrases sent while the audio thread is not running: when it resumes it arms the newest,
    /// the one the editor shows, however many came meanwhile.
    #[test]
    fn the_audio_thread_arms_the_newest_phrase() {
        let (mut audio, mut model) = rings();
        let counters = Counters::default();
        assert!(audio.new_phrase().is_none(), "nothing sent yet");
        for generation in 1..=20 {
            let phrase = PhraseBuf {
                generation,
                ..Default::default()
            };
            model.publish_phrase(phrase, &counters);
        }
        assert_eq!(audio.new_phrase().map(|p| p.generation), Some(20));
        assert!(audio.new_phrase().is_none(), "each phrase is armed once");
        assert_eq!(counters.phrases_replaced.load(Ordering::Relaxed), 19);
    }
}
