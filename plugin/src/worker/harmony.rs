//! MODEL THREAD: what the musician gets from harmony (the *Harmony* parameters).
//!
//! - *Show chords*: the player's recent phrase is harmonised with lookahead and the answers'
//!   chords are worked out, for the chord symbols above the roll; no chord notes.
//! - *Chords under the answer*: the answer sent to the audio thread is harmonised with lookahead
//!   ([`crate::harmony::accompany::answer_chords`]), its strong beats bent toward the chords
//!   ([`crate::harmony::accompany::fit_melody`]), and its chord notes go along with it. The
//!   melody never waits: it is published first, and the same phrase again with its chords once
//!   they are made (the audio thread adds them even when the answer has already started); if the
//!   harmony model is still loading, the answer goes without chords.
//! - *Chords under me*: the causal harmoniser's options for the coming beat go to the audio
//!   thread ([`crate::bridge::LiveChords`]), which plays one at the beat; it reports what it
//!   heard and played ([`BeatNews`]).
//!
//! The built-in harmony model is parsed once, on a background thread, the first time harmony
//! is switched on: nothing here blocks on it.

use super::Brain;
use crate::bridge::{
    BeatNews, ChordVoicing, LiveChords, ModelEnds, PhraseBuf, PhraseNote, PlayerNote, Shared,
};
use crate::harmony::accompany::{self, Complexity};
use crate::harmony::hearing::ChordSpan;
use crate::harmony::model::{melody_beats, HarmonyModel};
use crate::harmony::output::Segment;
use crate::harmony::place::Places;
use crate::harmony::voicing::{self, FourPart, Spacing};
use crate::harmony::{Chord, HeardChord};
use crate::model::{Note, Phrase};
use crate::music::KeySignature;
use crate::params::{ChordComplexity, ContinuoParams, HarmonyMode, VoicingParam};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

/// Player notes kept for harmonising (audio-thread beats).
const NOTES_KEPT: usize = 128;
/// Beats of the player's melody the live harmoniser reads before the coming beat.
const LIVE_WINDOW: i64 = 6;
/// Beats of the player's recent phrase harmonised for *Show chords*.
const SHOW_BEATS: f64 = 16.0;
/// Chords kept for the roll.
const SPANS_KEPT: usize = 32;

/// Set once the built-in harmony model has been parsed (or failed to).
static MODEL_READY: AtomicBool = AtomicBool::new(false);
/// Starts the background parse once.
static MODEL_LOAD: Once = Once::new();

/// The built-in harmony model if it is ready; otherwise starts loading it (once, on a
/// background thread) and returns `None` at once.
pub fn model_if_ready() -> Option<&'static HarmonyModel> {
    if MODEL_READY.load(Ordering::Acquire) {
        return crate::harmony::model::embedded().ok();
    }
    MODEL_LOAD.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("continuo-harmony-load".into())
            .spawn(|| {
                let _ = crate::harmony::model::embedded();
                MODEL_READY.store(true, Ordering::Release);
            });
        if spawned.is_err() {
            // No thread: nothing to wait for, harmony stays silent.
            MODEL_READY.store(true, Ordering::Release);
        }
    });
    None
}

/// Starts loading the harmony model as soon as harmony is switched on, so the first answer
/// finds it ready.
pub(super) fn warm_up(params: &ContinuoParams) {
    if params.harmony.mode.value() != HarmonyMode::Off {
        let _ = model_if_ready();
    }
}

/// Loads the model now (tests and the command line).
pub fn preload() -> Option<&'static HarmonyModel> {
    let model = crate::harmony::model::embedded().ok();
    MODEL_READY.store(true, Ordering::Release);
    model
}

/// A player note as the harmoniser keeps it: audio-thread beats and stream seconds.
#[derive(Debug, Clone, Copy)]
struct HeardNote {
    pitch: u8,
    on_beat: f64,
    on_s: f64,
    /// `None` while it sounds.
    off_beat: Option<f64>,
}

/// The model thread's harmony state (in [`Brain`]).
#[derive(Default)]
pub struct HarmonyState {
    /// The player's recent notes (at most [`NOTES_KEPT`], allocated as they come).
    notes: VecDeque<HeardNote>,
    /// The latest whole beat of the audio thread's clock known (a report, or a note's stamp).
    latest_beat: Option<i64>,
    /// The live table needs making again (a note or a beat came).
    live_dirty: bool,
    /// The beat the last table was made for.
    table_beat: Option<i64>,
    /// The four-part voice leading of the live chords (leads on from the last chord played).
    live_voicer: FourPart,
    /// Chords played under the player, or (*Show chords*) the player's phrase harmonised, for
    /// the roll (stream seconds).
    pub player_spans: VecDeque<ChordSpan>,
    /// The player's phrase needs harmonising again (*Show chords*).
    show_dirty: bool,
    /// Chords of the phrases sent, by generation (the newest few).
    pub by_generation: VecDeque<(u32, Vec<Segment>)>,
    /// Chords of the recent answers, parallel to `Brain::answered`.
    pub answered: VecDeque<Vec<Segment>>,
    /// The chords the selected candidate's melody was just fitted to ([`fit_selected`]), for
    /// [`after_send`].
    fitted: Option<Vec<Segment>>,
}

/// The parameters' complexity and spacing.
fn complexity(params: &ContinuoParams) -> Complexity {
    match params.harmony.complexity.value() {
        ChordComplexity::Triads => Complexity::Triads,
        ChordComplexity::Sevenths => Complexity::Sevenths,
    }
}

fn spacing(params: &ContinuoParams) -> Spacing {
    match params.harmony.voicing.value() {
        VoicingParam::Close => Spacing::Close,
        VoicingParam::Open => Spacing::Open,
        VoicingParam::FourPart => Spacing::FourPart,
    }
}

/// The key to harmonise in: the one heard, else the melody's own.
fn key_for(b: &Brain, melody: &[Note]) -> Option<KeySignature> {
    b.key
        .map(|k| k.0)
        .or_else(|| crate::harmony::key::melody_key(melody))
}

/// A player note (from `ingest`): kept for the harmonisers.
pub(super) fn player_note(b: &mut Brain, note: PlayerNote, seconds: f64) {
    let h = &mut b.harmony;
    match note {
        PlayerNote::On { pitch, at, .. } => {
            h.notes.push_back(HeardNote {
                pitch,
                on_beat: at.beat,
                on_s: seconds,
                off_beat: None,
            });
            while h.notes.len() > NOTES_KEPT {
                h.notes.pop_front();
            }
            if at.beat.is_finite() {
                let beat = at.beat.floor() as i64;
                h.latest_beat = Some(h.latest_beat.map_or(beat, |l| l.max(beat)));
            }
            h.live_dirty = true;
        }
        PlayerNote::Off { pitch, at, .. } => {
            if let Some(n) = h
                .notes
                .iter_mut()
                .rev()
                .find(|n| n.pitch == pitch && n.off_beat.is_none())
            {
                n.off_beat = Some(at.beat.max(n.on_beat));
            }
            h.live_dirty = true;
            h.show_dirty = true;
        }
    }
}

/// A beat of the live harmoniser (from `ingest`).
pub(super) fn beat_news(b: &mut Brain, news: BeatNews, seconds: f64) {
    let h = &mut b.harmony;
    h.latest_beat = Some(news.beat);
    h.live_dirty = true;
    if let Some(started) = news.started {
        let notes = started.notes();
        h.live_voicer
            .continue_from((notes.len() == 4).then(|| [notes[0], notes[1], notes[2], notes[3]]));
        end_span(h, seconds);
        let chord = Chord::from_index(started.chord as usize);
        if chord != Chord::None {
            h.player_spans.push_back(ChordSpan {
                start_s: seconds,
                end_s: None,
                chord: HeardChord::root_position(chord),
            });
            while h.player_spans.len() > SPANS_KEPT {
                h.player_spans.pop_front();
            }
        }
    }
    if news.silenced {
        end_span(h, seconds);
        h.live_voicer.continue_from(None);
    }
}

fn end_span(h: &mut HarmonyState, seconds: f64) {
    if let Some(last) = h.player_spans.back_mut() {
        if last.end_s.is_none() {
            last.end_s = Some(seconds.max(last.start_s));
        }
    }
}

/// The stream restarted: forget the player and the beats.
pub(super) fn reset(b: &mut Brain) {
    let h = &mut b.harmony;
    h.notes.clear();
    h.latest_beat = None;
    h.table_beat = None;
    h.player_spans.clear();
    h.answered.clear();
    h.live_voicer.reset();
}

/// The player's melody over `beats` beats from beat `from` (audio-thread beats; a note still
/// sounding lasts to the window's end).
fn melody_from(h: &HarmonyState, from: f64, beats: usize) -> Vec<Note> {
    let end = from + beats as f64;
    h.notes
        .iter()
        .filter(|n| n.off_beat.unwrap_or(end) > from && n.on_beat < end)
        .map(|n| Note {
            pitch: n.pitch,
            onset: n.on_beat - from,
            duration: (n.off_beat.unwrap_or(end) - n.on_beat).max(1.0 / 64.0),
            velocity: 80,
        })
        .collect()
}

/// *Chords under me*: a new table of options for the beat after the latest one, when something
/// changed. Returns whether one was published.
pub(super) fn live(b: &mut Brain, ends: &mut ModelEnds, params: &ContinuoParams) -> bool {
    if params.harmony.mode.value() != HarmonyMode::UnderMe || !b.harmony.live_dirty {
        return false;
    }
    let Some(latest) = b.harmony.latest_beat else {
        return false;
    };
    let Some(model) = model_if_ready() else {
        return false;
    };
    let from = latest + 1 - LIVE_WINDOW;
    let melody = melody_from(&b.harmony, from as f64, LIVE_WINDOW as usize);
    let Some(key) = key_for(b, &melody) else {
        return false;
    };
    b.harmony.live_dirty = false;
    let recent = melody_beats(&melody, LIVE_WINDOW as usize);
    let meter = b.meter();
    let places = Places::new(meter, meter.in_bar(from as f64));
    let options = accompany::next_beat_options(model, key, &recent, places);
    let (cx, sp) = (complexity(params), spacing(params));
    let mut table = LiveChords {
        beat: latest + 1,
        ..Default::default()
    };
    for (i, (slot, chord)) in table.options.iter_mut().zip(options).enumerate() {
        // Option `i` is for a beat whose melody starts on pitch class `i` (12: none).
        let chord = cx.apply_under(chord, key, (i < 12).then_some(i as u8));
        let mut voicer = b.harmony.live_voicer.clone();
        let notes = voicing::voice(chord, sp, &mut voicer);
        let mut v = ChordVoicing {
            chord: chord.index() as u8,
            ..Default::default()
        };
        for (dst, p) in v.notes.iter_mut().zip(&notes) {
            *dst = *p;
            v.len += 1;
        }
        *slot = v;
    }
    b.harmony.table_beat = Some(table.beat);
    ends.publish_live_chords(table);
    true
}

/// *Show chords* (and the modes that play): the player's recent phrase harmonised with
/// lookahead for the roll, after a note ends. Not in *Chords under me* (the roll shows the
/// chords played). Returns whether the spans changed.
pub(super) fn show(b: &mut Brain, params: &ContinuoParams, shared: &Shared) -> bool {
    let mode = params.harmony.mode.value();
    if matches!(mode, HarmonyMode::Off | HarmonyMode::UnderMe) || !b.harmony.show_dirty {
        return false;
    }
    let Some(model) = model_if_ready() else {
        return false;
    };
    b.harmony.show_dirty = false;
    let Some(last) = b.harmony.notes.back().copied() else {
        return false;
    };
    // From a bar line, so the spans of the harmonic rhythm fall on the bar.
    let meter = b.meter();
    let from = match meter.next_bar_line((last.on_beat - SHOW_BEATS).max(0.0) - meter.bar()) {
        f if f < 0.0 => f + meter.bar(),
        f => f,
    };
    let end = b
        .harmony
        .notes
        .iter()
        .map(|n| n.off_beat.unwrap_or(n.on_beat + 1.0))
        .fold(last.on_beat + 1.0, f64::max);
    let beats = ((end - from).ceil().max(1.0) as usize).min(accompany::MAX_BEATS);
    let melody = melody_from(&b.harmony, from, beats);
    if melody.is_empty() {
        return false;
    }
    let Some(key) = key_for(b, &melody) else {
        return false;
    };
    let mel = melody_beats(&melody, beats);
    let per_beat = model.harmonise(&mel, key, Places::new(meter, 0.0));
    let rhythm = meter.harmonic_beats(params.harmony.rhythm.value()) as usize;
    let chords: Vec<Chord> = accompany::at_rhythm(&per_beat, &mel, rhythm)
        .into_iter()
        .map(|c| complexity(params).apply(c, key))
        .collect();
    // Beats to stream seconds through the first note heard in the window, at the tempo now.
    let Some(anchor) = b.harmony.notes.iter().find(|n| n.on_beat >= from) else {
        return false;
    };
    let spb_s = 60.0 / (shared.tempo.load(Ordering::Relaxed) as f64).clamp(1.0, 1000.0);
    let seconds = |beat: f64| anchor.on_s + (beat - anchor.on_beat) * spb_s;
    b.harmony.player_spans.clear();
    for seg in crate::harmony::output::segments(&chords) {
        if seg.chord == Chord::None {
            continue;
        }
        b.harmony.player_spans.push_back(ChordSpan {
            start_s: seconds(from + seg.start),
            end_s: Some(seconds(from + seg.end)),
            chord: HeardChord::root_position(seg.chord),
        });
    }
    true
}

/// The chords under `phrase` (beats from its start), or none when harmony is off or the model
/// is not ready.
fn phrase_chords(b: &Brain, params: &ContinuoParams, phrase: &Phrase) -> Option<Vec<Segment>> {
    if params.harmony.mode.value() == HarmonyMode::Off || phrase.notes.is_empty() {
        return None;
    }
    let model = model_if_ready()?;
    let mut melody: Vec<Note> = b.context.iter().copied().collect();
    melody.extend(phrase.notes.iter().copied());
    let key = key_for(b, &melody)?;
    let meter = b.meter();
    let rhythm = meter.harmonic_beats(params.harmony.rhythm.value()) as usize;
    Some(accompany::answer_chords(
        model,
        &phrase.notes,
        key,
        rhythm,
        meter,
        answer_start_in_bar(b, params),
        complexity(params),
    ))
}

/// Where the answer to the context starts in its bar, as the playback will start it (what the
/// performance's accents use too).
fn answer_start_in_bar(b: &Brain, params: &ContinuoParams) -> f64 {
    let context: Vec<Note> = b.context.iter().copied().collect();
    super::perform::expected_start_in_bar(
        &context,
        params.response.gap.value() as f64,
        params.response.grid.value().beats(),
        b.line_tolerance,
        &b.meter(),
    )
}

/// *Chords under the answer*, before the selected candidate is sent: harmonises it, bends its
/// melody toward the chords ([`accompany::fit_melody`]: strong-beat notes to chord tones, within
/// the range and the scale lock) and keeps the chords for [`after_send`]. Nothing when the
/// harmony model is not ready (the melody goes as drawn). About a millisecond.
pub(super) fn fit_selected(b: &mut Brain, params: &ContinuoParams) {
    b.harmony.fitted = None;
    if params.harmony.mode.value() != HarmonyMode::UnderAnswer {
        return;
    }
    let Some(phrase) = b.candidates.get(b.selected) else {
        return;
    };
    let Some(segments) = phrase_chords(b, params, phrase) else {
        return;
    };
    let settings = super::draw::sampler_settings(params, b.key.map(|k| k.0), b.meter());
    let (low, high) = (settings.low, settings.high);
    let allowed =
        |p: u8| (low..=high).contains(&p) && settings.scale_lock.is_none_or(|s| s.contains(p));
    let (meter, start) = (b.meter(), answer_start_in_bar(b, params));
    let bars = crate::meter::Meter {
        origin: 0.0,
        ..meter
    };
    let strong = |beat: f64| bars.weight(start + beat) >= 0.6;
    if let Some(phrase) = b.candidates.get_mut(b.selected) {
        accompany::fit_melody(&mut phrase.notes, &segments, &allowed, &strong);
    }
    b.harmony.fitted = Some(segments);
}

/// Adds the chord notes of `segments` to `buf` (voiced from scratch for each answer).
fn add_chord_notes(buf: &mut PhraseBuf, segments: &[Segment], params: &ContinuoParams) {
    let notes = buf.notes();
    let velocity = if notes.is_empty() {
        0.6
    } else {
        notes.iter().map(|n| n.velocity).sum::<f32>() / notes.len() as f32
    };
    let sp = spacing(params);
    let mut voicer = FourPart::default();
    for seg in segments {
        for pitch in voicing::voice(seg.chord, sp, &mut voicer) {
            buf.push_chord_note(PhraseNote {
                pitch,
                velocity,
                onset_beats: seg.start,
                length_beats: seg.end - seg.start,
            });
        }
    }
}

/// After the melody of the selected candidate went out (`send`): its chords, for the roll and
/// (*Chords under the answer*) as the same phrase again with its chord notes.
pub(super) fn after_send(
    b: &mut Brain,
    ends: &mut ModelEnds,
    shared: &Shared,
    params: &ContinuoParams,
    melody: PhraseBuf,
) {
    let Some(phrase) = b.candidates.get(b.selected).cloned() else {
        return;
    };
    // The chords the melody was fitted to, else worked out now (for the roll).
    let Some(segments) = b
        .harmony
        .fitted
        .take()
        .or_else(|| phrase_chords(b, params, &phrase))
    else {
        return;
    };
    if params.harmony.mode.value() == HarmonyMode::UnderAnswer {
        let mut buf = melody;
        add_chord_notes(&mut buf, &segments, params);
        ends.publish_phrase(buf, &shared.counters);
    }
    b.harmony
        .by_generation
        .push_back((melody.generation, segments));
    while b.harmony.by_generation.len() > 16 {
        b.harmony.by_generation.pop_front();
    }
}

/// An answer started (from `ingest`): its chords go with it on the roll.
pub(super) fn answer_started(b: &mut Brain, generation: u32) {
    let segments = b
        .harmony
        .by_generation
        .iter()
        .find(|(g, _)| *g == generation)
        .map(|(_, s)| s.clone())
        .unwrap_or_default();
    b.harmony.answered.push_back(segments);
    while b.harmony.answered.len() > b.answered.len().max(1) {
        b.harmony.answered.pop_front();
    }
}

/// An answer was cut `end_beats` after its start: its chords stop there on the roll.
pub(super) fn answer_cut(b: &mut Brain, end_beats: f64) {
    if let Some(segments) = b.harmony.answered.back_mut() {
        segments.retain(|s| s.start < end_beats);
        for s in segments.iter_mut() {
            s.end = s.end.min(end_beats);
        }
    }
}

/// The selected candidate's chords for the roll (the others are not worked out).
pub(super) fn candidate_chords(b: &Brain) -> Vec<Vec<Segment>> {
    let mut out = vec![Vec::new(); b.candidates.len()];
    if let (Some(slot), Some((_, segments))) =
        (out.get_mut(b.selected), b.harmony.by_generation.back())
    {
        if b.harmony
            .by_generation
            .back()
            .is_some_and(|(g, _)| *g == b.generation)
        {
            slot.clone_from(segments);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::params::ContinuoParams;
    use crate::preset::Preset;
    use crate::session::{MidiIn, SentEvent, Session};
    use std::sync::Arc;

    fn params(json: &str) -> Arc<ContinuoParams> {
        let p = Arc::new(ContinuoParams::default());
        let preset =
            Preset::parse(format!("{{\"version\": 1, \"params\": {json}}}").as_bytes()).unwrap();
        preset.apply_offline(&p).unwrap();
        p
    }

    /// Sixteen quarter notes at 120 bpm (48 kHz) from beat 1: a scale up and down in C.
    fn call() -> Vec<MidiIn> {
        let pitches = [
            60u8, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 60,
        ];
        pitches
            .iter()
            .enumerate()
            .flat_map(|(i, &p)| {
                let t = 24_000 + i as u64 * 24_000;
                [(t, true, p, 0.8), (t + 22_000, false, p, 0.0)]
            })
            .collect()
    }

    fn balanced(events: &[SentEvent]) -> bool {
        let mut on = std::collections::HashSet::new();
        for e in events {
            if e.on && !on.insert((e.channel, e.pitch)) {
                return false;
            }
            if !e.on && e.kind == crate::playback::OutKind::Off {
                on.remove(&(e.channel, e.pitch));
            }
        }
        on.is_empty()
    }

    fn run(json: &str) -> (Session, Vec<SentEvent>) {
        assert!(
            super::preload().is_some(),
            "the built-in harmony model loads"
        );
        let mut s = Session::new(48_000.0, 256, params(json));
        let out = s.run(&[], &call(), Some(120.0), 48_000 * 20);
        (s, out)
    }

    /// The melody's timing is the same with chords under it (its strong beats may move to
    /// chord tones, by two semitones at most).
    #[test]
    fn chords_under_the_answer_leave_the_melodys_timing_as_it_was() {
        let (_, off) = run(r#"{"source": "midi", "channel": 1}"#);
        let (s, on) = run(
            r#"{"source": "midi", "channel": 1, "harmony-mode": "answer", "chord-channel": 3}"#,
        );
        let melody = |e: &[SentEvent]| -> Vec<(u64, bool, u8)> {
            e.iter()
                .filter(|e| e.channel == 0)
                .map(|e| (e.time, e.on, e.pitch))
                .collect()
        };
        assert!(!melody(&off).is_empty(), "an answer");
        assert!(off.iter().all(|e| e.channel == 0));
        let timing = |m: Vec<(u64, bool, u8)>| -> Vec<(u64, bool)> {
            m.into_iter().map(|(t, on, _)| (t, on)).collect()
        };
        assert_eq!(timing(melody(&on)), timing(melody(&off)));
        for (a, b) in melody(&on).iter().zip(melody(&off)) {
            assert!((a.2 as i32 - b.2 as i32).abs() <= 2, "{a:?} {b:?}");
        }
        let chords: Vec<&SentEvent> = on.iter().filter(|e| e.channel == 2).collect();
        assert!(chords.len() >= 6, "{chords:?}");
        assert_eq!(
            chords.iter().find(|e| e.on).map(|e| e.time),
            melody(&on).first().map(|e| e.0),
            "the chords start with the answer"
        );
        assert!(balanced(&on));
        assert!(
            !s.brain().harmony.answered.is_empty(),
            "the roll gets the answer's chords"
        );
        assert!(s
            .brain()
            .harmony
            .answered
            .back()
            .is_some_and(|a| !a.is_empty()));
    }

    #[test]
    fn chords_under_me_follow_the_player_on_the_beat() {
        let (s, out) = run(
            r#"{"source": "midi", "mode": "suggest", "harmony-mode": "me", "chord-channel": 2,
                "harmonic-rhythm": "half-bar", "voicing": "four-part"}"#,
        );
        let ons: Vec<&SentEvent> = out.iter().filter(|e| e.on).collect();
        assert!(ons.iter().all(|e| e.channel == 1), "only chords: {ons:?}");
        // Chords start on beats (the player's notes are on the beat and held over it).
        let starts: std::collections::BTreeSet<u64> = ons.iter().map(|e| e.time).collect();
        assert!(starts.len() >= 4, "{starts:?}");
        for t in &starts {
            assert_eq!(t % 24_000, 0, "a chord starts on a beat: {t}");
        }
        // Four-part: four notes a chord.
        assert_eq!(ons.len(), 4 * starts.len(), "{ons:?}");
        assert!(balanced(&out), "the chord ends after the player stops");
        // The chords played are the roll's.
        assert!(s.brain().harmony.player_spans.len() >= 2);
        // Chords fit the melody: the note held over each change is a chord tone.
        for span in &s.brain().harmony.player_spans {
            let beat = (span.start_s * 2.0).round() as usize; // 120 bpm
            if (1..=16).contains(&beat) {
                let pitch = call()[2 * (beat - 1)].2;
                assert!(
                    span.chord.chord.contains(pitch),
                    "beat {beat}: {pitch} under {span:?}"
                );
            }
        }
    }

    #[test]
    fn show_chords_plays_no_chord_and_names_the_players_phrase() {
        let (s, out) = run(r#"{"source": "midi", "channel": 1, "harmony-mode": "show"}"#);
        assert!(out.iter().all(|e| e.channel == 0), "no chord notes");
        let spans = &s.brain().harmony.player_spans;
        assert!(spans.len() >= 2, "{spans:?}");
        // Half-bar rhythm (the default): changes two beats (one second) apart at least.
        for w in spans.iter().collect::<Vec<_>>().windows(2) {
            assert!(w[1].start_s - w[0].start_s >= 0.99, "{w:?}");
        }
        assert!(!s.brain().harmony.by_generation.is_empty());
    }

    /// How well the answers' melodies fit the chords played under them (`cargo test -p
    /// continuo --lib -- --ignored answer_fit --nocapture`): the first two bars of every 40th of
    /// Aird's airs (`../shared/corpus/airs`) as the call, at 120 bpm, *Chords under the answer*
    /// (half-bar rhythm, triads); share of the answers' notes starting on a chord change (and on
    /// any beat) that are tones of the chord under them.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn answer_fit() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/airs");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("skipped: {} is absent", dir.display());
            return;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        let (mut change, mut change_fit, mut beat, mut beat_fit, mut answers) = (0, 0, 0, 0, 0);
        for path in files.iter().step_by(40) {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let Ok(melodies) = crate::model::midi_in::read_midi(&bytes) else {
                continue;
            };
            let Some(m) = melodies.first() else { continue };
            let call: Vec<MidiIn> = m
                .notes
                .iter()
                .filter(|n| n.onset < 8.0)
                .flat_map(|n| {
                    let on = ((n.onset + 1.0) * 24_000.0) as u64;
                    let off = on + (n.duration * 24_000.0 * 0.9).max(100.0) as u64;
                    [(on, true, n.pitch, 0.8), (off, false, n.pitch, 0.0)]
                })
                .collect();
            let mut s = Session::new(
                48_000.0,
                256,
                params(r#"{"source": "midi", "harmony-mode": "answer", "grid": "1/4"}"#),
            );
            assert!(super::preload().is_some());
            s.run(&[], &call, Some(120.0), 48_000 * 14);
            let b = s.brain();
            for ((_, phrase), chords) in b.answered.iter().zip(&b.harmony.answered) {
                answers += 1;
                for n in &phrase.notes {
                    let Some(seg) = chords
                        .iter()
                        .find(|c| c.start <= n.onset && n.onset < c.end)
                    else {
                        continue;
                    };
                    let on_beat = (n.onset - n.onset.round()).abs() < 1e-6;
                    if on_beat {
                        beat += 1;
                        beat_fit += seg.chord.contains(n.pitch) as usize;
                    }
                    if (n.onset - seg.start).abs() < 1e-6 {
                        change += 1;
                        change_fit += seg.chord.contains(n.pitch) as usize;
                    }
                }
            }
        }
        println!(
            "{answers} answers: notes on a chord change that are chord tones {change_fit}/{change} \
             ({:.1} %), on any beat {beat_fit}/{beat} ({:.1} %)",
            100.0 * change_fit as f64 / change.max(1) as f64,
            100.0 * beat_fit as f64 / beat.max(1) as f64
        );
    }
}
