//! An offline session: the plugin's engine and model driven from a file, block by block.
//!
//! The very code the plugin runs (`engine::Engine` on the "audio thread", `worker::step` for the
//! model) is called in turn on one thread, so the model answers within the block after each note
//! (the live plugin answers a few milliseconds later). Used by `continuo render` and by the tests
//! of the whole chain.

use crate::bridge::{Command, ModelEnds, Shared};
use crate::engine::{self, Engine, HostTime};
use crate::params::ContinuoParams;
use crate::playback::{EventQueue, OutKind};
use crate::worker::{self, Brain};
use std::sync::Arc;

/// A note event the session sent, at its absolute sample time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentEvent {
    pub time: u64,
    /// A NoteOn (a shorthand for `kind == OutKind::On`).
    pub on: bool,
    pub kind: OutKind,
    pub channel: u8,
    pub pitch: u8,
    pub velocity: f32,
}

/// A note given to the note input on channel 1: (sample time, on, pitch, velocity 0..1).
pub type MidiIn = (u64, bool, u8, f32);

/// Any event given to the note input, at a sample time.
pub type MidiEvent = (u64, engine::MidiIn);

pub struct Session {
    engine: Box<Engine>,
    ends: ModelEnds,
    brain: Brain,
    pub params: Arc<ContinuoParams>,
    pub shared: Arc<Shared>,
    queue: Box<EventQueue>,
    block: usize,
    /// Keeps the command channel open for the brain (and lets tests send editor commands).
    pub commands: std::sync::mpsc::SyncSender<Command>,
    /// The model thread's clock: stream time from this instant (offline, no wall clock).
    t0: std::time::Instant,
    /// The time signature the host transport reports while it plays (bar lines from beat 0);
    /// `None`: the host gives none (the plugin counts 4/4).
    pub meter: Option<crate::meter::Meter>,
}

impl Session {
    pub fn new(sample_rate: f32, block: usize, params: Arc<ContinuoParams>) -> Self {
        let block = block.clamp(1, 1 << 16);
        let (engine, ends) = Engine::new(sample_rate, block);
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let shared = Arc::new(Shared::default());
        shared
            .sample_rate
            .store(sample_rate, std::sync::atomic::Ordering::Relaxed);
        Self {
            engine,
            ends,
            brain: Brain::new(rx),
            params,
            shared,
            queue: Box::default(),
            block,
            commands: tx,
            t0: std::time::Instant::now(),
            meter: None,
        }
    }

    /// Runs `samples` more samples of the stream: `audio` (mono, starting now, silence after its
    /// end) and `midi` notes (times relative to now), with the host transport playing at `tempo`
    /// from beat 0 of the stream (or no transport when `None`). Returns every note event sent, in
    /// time order, with stream times.
    pub fn run(
        &mut self,
        audio: &[f32],
        midi: &[MidiIn],
        tempo: Option<f64>,
        samples: u64,
    ) -> Vec<SentEvent> {
        let mut notes: Vec<MidiIn> = midi.to_vec();
        // At one sample, a release before a new start.
        notes.sort_by_key(|m| (m.0, m.1));
        let events: Vec<MidiEvent> = notes
            .iter()
            .map(|&(t, on, key, velocity)| {
                let m = if on {
                    engine::MidiIn::NoteOn {
                        channel: 0,
                        key,
                        velocity,
                    }
                } else {
                    engine::MidiIn::NoteOff {
                        channel: Some(0),
                        key: Some(key),
                    }
                };
                (t, m)
            })
            .collect();
        let tempo = tempo.map(|t| (t, 0.0));
        self.run_events(audio, &events, tempo, samples, |_, _| {})
    }

    /// Like [`Session::run`] with any note-input events (in time order), the transport playing
    /// at `tempo` from the beat given at the run's start, and `each_block(session, stream
    /// position)` called before every block (to change parameters or the tempo mid-run).
    pub fn run_events(
        &mut self,
        audio: &[f32],
        midi: &[MidiEvent],
        mut tempo: Option<(f64, f64)>,
        samples: u64,
        mut each_block: impl FnMut(&mut Option<(f64, f64)>, u64),
    ) -> Vec<SentEvent> {
        let base = self.engine.stream_pos();
        let total = base + samples;
        let mut sent = Vec::new();
        let mut silence = vec![0.0f32; self.block];
        let mut next_midi = 0;
        let sr = self
            .shared
            .sample_rate
            .load(std::sync::atomic::Ordering::Relaxed) as f64;
        while self.engine.stream_pos() < total {
            let start = self.engine.stream_pos();
            let n = (self.block as u64).min(total - start) as usize;
            while next_midi < midi.len() && base + midi[next_midi].0 < start + n as u64 {
                let (t, event) = midi[next_midi];
                let at = (base + t).saturating_sub(start) as u32;
                self.engine.receive(at, event, &self.shared.counters);
                next_midi += 1;
            }
            let chunk: &[f32] = match audio.get((start - base) as usize..) {
                Some(rest) if rest.len() >= n => &rest[..n],
                Some(rest) => {
                    silence[..rest.len()].copy_from_slice(rest);
                    silence[rest.len()..].fill(0.0);
                    &silence[..n]
                }
                None => {
                    silence.fill(0.0);
                    &silence[..n]
                }
            };
            each_block(&mut tempo, start);
            let host = match &mut tempo {
                Some((t, beat)) => {
                    let host = HostTime {
                        tempo: Some(*t),
                        playing: true,
                        pos_beats: Some(*beat),
                        time_signature: self
                            .meter
                            .map(|m| (m.numerator as i32, m.denominator as i32)),
                        bar_start: self.meter.map(|m| *beat - m.in_bar(*beat)),
                    };
                    *beat += n as f64 / sr * *t / 60.0;
                    host
                }
                None => HostTime::default(),
            };
            self.engine.process(
                &[chunk],
                n,
                host,
                &self.params,
                &self.shared,
                &mut self.queue,
            );
            for e in self.queue.sorted() {
                sent.push(SentEvent {
                    time: start + e.time as u64,
                    on: e.kind == OutKind::On,
                    kind: e.kind,
                    channel: e.channel,
                    pitch: e.pitch,
                    velocity: e.velocity,
                });
            }
            self.model_step(start + n as u64);
        }
        sent
    }

    /// One step of the model thread, at stream position `pos` (its clock).
    fn model_step(&mut self, pos: u64) {
        let sr = self
            .shared
            .sample_rate
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(1.0) as f64;
        let now = self.t0 + std::time::Duration::from_secs_f64(pos as f64 / sr);
        worker::step(
            &mut self.brain,
            &mut self.ends,
            &self.shared,
            &self.params,
            now,
        );
    }

    /// Whether the plugin would ask the host to keep calling it (see
    /// [`Engine::needs_processing`]).
    pub fn needs_processing(&self) -> bool {
        self.engine.needs_processing(&self.queue, &self.params)
    }

    /// The model thread's state.
    pub fn brain(&self) -> &Brain {
        &self.brain
    }

    pub fn brain_mut(&mut self) -> &mut Brain {
        &mut self.brain
    }

    /// The candidates the model holds now (best first).
    pub fn candidates(&self) -> Vec<crate::model::Phrase> {
        self.brain.candidates().to_vec()
    }

    /// The key the session has estimated.
    pub fn key(&self) -> Option<(crate::music::KeySignature, f32)> {
        self.brain.key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Preset;

    fn params(json: &str) -> Arc<ContinuoParams> {
        let p = Arc::new(ContinuoParams::default());
        let preset =
            Preset::parse(format!("{{\"version\": 1, \"params\": {json}}}").as_bytes()).unwrap();
        preset.apply_offline(&p).unwrap();
        p
    }

    /// A MIDI phrase at 120 bpm (a beat = 24 000 samples at 48 kHz): C D E F G, eighth notes.
    fn phrase() -> Vec<MidiIn> {
        let mut v = vec![];
        for (i, p) in [60u8, 62, 64, 65, 67, 65, 64, 62].iter().enumerate() {
            let t = i as u64 * 12_000;
            v.push((t, true, *p, 0.8));
            v.push((t + 11_000, false, *p, 0.0));
        }
        v
    }

    #[test]
    fn midi_call_gets_an_answer_after_the_gap_on_the_grid() {
        let p = params(
            r#"{"source": "MIDI", "mode": "Call & response", "gap": 1.0, "grid": "1/8", "channel": 3, "length": 6}"#,
        );
        let mut s = Session::new(48_000.0, 256, p);
        let out = s.run(&[], &phrase(), Some(120.0), 48_000 * 8);
        let ons: Vec<&SentEvent> = out.iter().filter(|e| e.on).collect();
        assert!(!ons.is_empty(), "an answer arrives");
        let last_off = 7 * 12_000 + 11_000;
        let first = ons[0].time;
        assert!(first >= last_off + 24_000, "after the gap: {first}");
        assert_eq!(first % 12_000, 0, "on the 1/8 grid: {first}");
        assert!(out.iter().all(|e| e.channel == 2), "channel 3 (0-based 2)");
        // Every NoteOn has a later NoteOff of the same key.
        let mut open = std::collections::HashMap::new();
        for e in &out {
            if e.on {
                assert!(open.insert(e.pitch, e.time).is_none());
            } else {
                assert!(open.remove(&e.pitch).is_some_and(|t| t <= e.time));
            }
        }
        assert!(open.is_empty(), "nothing left sounding: {open:?}");
    }

    #[test]
    fn block_size_does_not_change_the_answer() {
        let run = |block| {
            let p = params(r#"{"source": "MIDI", "grid": "1/16"}"#);
            Session::new(48_000.0, block, p).run(&[], &phrase(), Some(120.0), 48_000 * 6)
        };
        let reference = run(64);
        assert!(!reference.is_empty());
        for block in [1usize, 511, 4096] {
            let other = run(block);
            let times = |v: &[SentEvent]| v.iter().map(|e| (e.time, e.on)).collect::<Vec<_>>();
            assert_eq!(times(&other), times(&reference), "block {block}");
        }
    }

    #[test]
    fn a_flood_of_notes_leaves_nothing_stuck() {
        // One held note plus 399 short ones inside a single 4096-sample block, MIDI thru on.
        let p = params(r#"{"source": "MIDI", "midi-thru": true}"#);
        let mut s = Session::new(48_000.0, 4096, p);
        let mut notes = vec![(0u64, true, 100u8, 0.8f32)];
        for i in 0..399u64 {
            let pitch = 30 + (i % 60) as u8;
            notes.push((1 + i * 10, true, pitch, 0.5));
            notes.push((5 + i * 10, false, pitch, 0.0));
        }
        notes.push((4090, false, 100, 0.0));
        let mut out = s.run(&[], &notes, None, 48_000);
        // The answer to the flood may still be playing after a second: let it end.
        out.extend(s.run(&[], &[], None, 48_000 * 10));
        let mut sounding = std::collections::HashSet::new();
        for e in &out {
            if e.on {
                sounding.insert(e.pitch);
            } else {
                sounding.remove(&e.pitch);
            }
        }
        let hundred: Vec<_> = out
            .iter()
            .filter(|e| e.pitch == 100 || e.pitch == 45)
            .collect();
        assert!(sounding.is_empty(), "stuck: {sounding:?} {hundred:?}");
        assert!(
            s.shared
                .counters
                .notes_dropped
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
        );
    }

    #[test]
    fn continuous_mode_stops_with_the_transport() {
        let p = params(r#"{"source": "MIDI", "mode": "Continuous", "grid": "1/16"}"#);
        let mut s = Session::new(48_000.0, 256, p);
        let out = s.run(&[], &phrase(), Some(120.0), 48_000 * 6);
        assert!(out.iter().any(|e| e.on), "continuous mode plays");
        // The transport stops: everything is released and nothing new starts.
        let after = s.run(&[], &[], None, 48_000 * 6);
        let ons = after.iter().filter(|e| e.on).count();
        assert_eq!(ons, 0, "{after:?}");
    }
}
