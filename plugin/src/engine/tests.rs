//! The engine and the model thread together, through an offline session: time through bypass
//! and tempo changes, the note input of a real keyboard, MIDI thru, and keeping the host awake.

use crate::engine::{Engine, HostTime, MidiIn};
use crate::params::ContinuoParams;
use crate::playback::{EventQueue, OutKind};
use crate::preset::{set_offline, Preset};
use crate::session::{MidiEvent, SentEvent, Session};
use crate::worker::{self, Brain};
use serde_json::json;
use std::sync::Arc;

const SR: f32 = 48_000.0;
const BLOCK: usize = 256;

fn params(json: &str) -> Arc<ContinuoParams> {
    let p = Arc::new(ContinuoParams::default());
    let preset =
        Preset::parse(format!("{{\"version\": 1, \"params\": {json}}}").as_bytes()).unwrap();
    preset.apply_offline(&p).unwrap();
    p
}

fn secs(s: f64) -> u64 {
    (s * SR as f64).round() as u64
}

/// A plucked-string-like tone (three partials, quick attack, slow decay) at MIDI `pitch`.
fn tone(pitch: f32, seconds: f64) -> Vec<f32> {
    let hz = 440.0 * 2f32.powf((pitch - 69.0) / 12.0);
    (0..secs(seconds))
        .map(|i| {
            let t = i as f32 / SR;
            let env = (t / 0.003).min(1.0) * (-t * 1.5).exp();
            let ph = std::f32::consts::TAU * hz * t;
            0.4 * env * (ph.sin() + 0.5 * (2.0 * ph).sin() + 0.25 * (3.0 * ph).sin())
        })
        .collect()
}

fn on(channel: u8, key: u8) -> MidiIn {
    MidiIn::NoteOn {
        channel,
        key,
        velocity: 0.8,
    }
}

fn off(channel: u8, key: u8) -> MidiIn {
    MidiIn::NoteOff {
        channel: Some(channel),
        key: Some(key),
    }
}

fn pedal(channel: u8, down: bool) -> MidiIn {
    MidiIn::Cc {
        channel,
        cc: 64,
        value: if down { 1.0 } else { 0.0 },
    }
}

/// Runs `seconds` of silence with `events` (times in seconds from now), no host transport.
fn run(s: &mut Session, events: &[(f64, MidiIn)], seconds: f64) -> Vec<SentEvent> {
    let events: Vec<MidiEvent> = events.iter().map(|&(t, m)| (secs(t), m)).collect();
    s.run_events(&[], &events, None, secs(seconds), |_, _| {})
}

fn answer_ons(out: &[SentEvent]) -> usize {
    out.iter().filter(|e| e.on).count()
}

/// Bypass for 10 s, then a note: it reaches the model with its own length, at its own time
/// (the analyser's clock used to stay behind by the bypass, making it a 10.4 s note placed 10 s
/// in the past).
#[test]
fn a_note_after_a_bypass_keeps_its_time_and_length() {
    let p = params(r#"{"source": "audio"}"#);
    let mut s = Session::new(SR, BLOCK, p.clone());
    s.run(&[], &[], None, secs(1.0));
    set_offline(&p, "bypass", json!(true)).unwrap();
    s.run(&[], &[], None, secs(10.0));
    set_offline(&p, "bypass", json!(false)).unwrap();
    s.run(&[], &[], None, secs(0.5));
    let mut audio = tone(69.0, 0.4);
    audio.extend(std::iter::repeat_n(0.0, secs(1.0) as usize));
    s.run(&audio, &[], None, secs(1.4));
    let last = *s.brain().context().last().expect("the note was heard");
    // 120 bpm (no host transport): 0.4 s is 0.8 beats; it started 11.5 s (23 beats) in.
    assert_eq!(last.pitch, 69);
    assert!(
        (last.duration - 0.8).abs() < 0.25,
        "length {} beats",
        last.duration
    );
    assert!(
        (last.onset - 23.0).abs() < 0.3,
        "onset {} beats",
        last.onset
    );
}

/// A key held while MIDI thru is switched off, or the input source changes, is released at once.
#[test]
fn thru_notes_end_when_thru_goes_off_or_the_source_changes() {
    for (id, value) in [("midi-thru", json!(false)), ("source", json!("audio"))] {
        let p = params(r#"{"source": "midi", "midi-thru": true, "mode": "suggest"}"#);
        let mut s = Session::new(SR, BLOCK, p.clone());
        let out = run(&mut s, &[(0.0, on(0, 60))], 0.1);
        assert!(
            out.iter().any(|e| e.on && e.pitch == 60),
            "thru plays the key"
        );
        set_offline(&p, id, value).unwrap();
        let out = run(&mut s, &[], 0.1);
        let released = out.iter().any(|e| e.kind == OutKind::Off && e.pitch == 60);
        assert!(
            released,
            "{id} changed: the thru note must end, got {out:?}"
        );
    }
}

/// A NoteOff (or Choke) with a wildcard key releases every held key: call and response answers.
#[test]
fn a_wildcard_note_off_releases_every_held_key() {
    let p = params(r#"{"source": "midi", "gap": 1.0, "grid": "off"}"#);
    let mut s = Session::new(SR, BLOCK, p);
    let wildcard = MidiIn::NoteOff {
        channel: None,
        key: None,
    };
    let out = run(
        &mut s,
        &[(0.0, on(0, 60)), (0.0, on(1, 64)), (0.5, wildcard)],
        4.0,
    );
    let first = out.iter().find(|e| e.on).map(|e| e.time);
    assert!(
        first.is_some_and(|t| t >= secs(1.0)),
        "an answer after the gap: {first:?}"
    );
    // Both keys ended (the answer came); struck together, 60 is the chord's inner voice and
    // the melody model hears the top one.
    let heard: Vec<u8> = s.brain().context().map(|n| n.pitch).collect();
    assert_eq!(heard, [64], "the model heard the top voice end");
}

/// Channels are kept apart: a NoteOff on one channel does not release the same key held on
/// another, so the player is still playing and no answer starts.
#[test]
fn a_note_off_on_one_channel_leaves_the_same_key_on_another() {
    let p = params(r#"{"source": "midi", "gap": 0.5, "grid": "off"}"#);
    let mut s = Session::new(SR, BLOCK, p);
    let out = run(
        &mut s,
        &[(0.0, on(0, 60)), (0.0, on(1, 60)), (0.3, off(0, 60))],
        3.0,
    );
    assert_eq!(answer_ons(&out), 0, "the key is still held on channel 2");
    let out = run(&mut s, &[(0.0, off(1, 60))], 3.0);
    assert!(answer_ons(&out) > 0, "released on both channels: an answer");
}

/// The sustain pedal lengthens the notes the model hears (until the pedal comes up, or the key
/// is struck again), and MIDI thru passes the pedal and pitch bend on.
#[test]
fn sustain_lengthens_notes_and_thru_passes_pedal_and_bend() {
    let p = params(r#"{"source": "midi", "midi-thru": true, "mode": "suggest"}"#);
    let mut s = Session::new(SR, BLOCK, p.clone());
    let bend = MidiIn::PitchBend {
        channel: 0,
        value: 0.75,
    };
    let out = run(
        &mut s,
        &[
            (0.0, pedal(0, true)),
            (0.0, on(0, 60)),
            (0.1, off(0, 60)),
            (0.25, on(0, 62)),
            (0.3, bend),
            (0.35, off(0, 62)),
            (1.0, pedal(0, false)),
        ],
        1.5,
    );
    let notes: Vec<_> = s.brain().context().copied().collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    // 120 bpm: the pedal holds 60 for 1.0 s (2 beats) and 62 for 0.75 s (1.5 beats).
    assert!((notes[0].duration - 2.0).abs() < 0.05, "{notes:?}");
    assert!((notes[1].duration - 1.5).abs() < 0.05, "{notes:?}");
    let ccs: Vec<_> = out
        .iter()
        .filter_map(|e| match e.kind {
            OutKind::Cc { cc: 64, value } => Some(value),
            _ => None,
        })
        .collect();
    assert_eq!(ccs, vec![1.0, 0.0], "the pedal goes through");
    assert!(out.iter().any(|e| e.kind == OutKind::PitchBend(0.75)));
    // Thru off while bent and pedalled: the bend returns to the centre, the pedal comes up.
    run(&mut s, &[(0.0, pedal(0, true))], 0.1);
    set_offline(&p, "midi-thru", json!(false)).unwrap();
    let out = run(&mut s, &[], 0.1);
    assert!(out.iter().any(|e| e.kind == OutKind::PitchBend(0.5)));
    assert!(out
        .iter()
        .any(|e| e.kind == OutKind::Cc { cc: 64, value: 0.0 }));
}

/// A VST3 host restoring a session sends nice-plug's 2,080 MIDI-controller parameters (16
/// channels × 128 controllers, pressure and bend) back at 0.5 in one block, as Ardour 7 does.
/// That is not MIDI played: the sustain pedal stays up for the model and nothing goes out with
/// MIDI thru. A controller at 0.5 on its own (a host's automation) still passes.
#[test]
fn a_hosts_restore_of_the_midi_controller_parameters_is_not_played() {
    let p = params(r#"{"source": "midi", "midi-thru": true, "mode": "suggest"}"#);
    let mut s = Session::new(SR, BLOCK, p.clone());
    let mut events = vec![];
    for channel in 0..16 {
        for cc in 0..128 {
            let value = 0.5;
            events.push((0.0, MidiIn::Cc { channel, cc, value }));
        }
        events.push((
            0.0,
            MidiIn::ChannelPressure {
                channel,
                value: 0.5,
            },
        ));
        events.push((
            0.0,
            MidiIn::PitchBend {
                channel,
                value: 0.5,
            },
        ));
    }
    events.push((0.1, on(0, 60)));
    events.push((0.2, off(0, 60)));
    let out = run(&mut s, &events, 1.0);
    let controllers: Vec<_> = out
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                OutKind::Cc { .. } | OutKind::ChannelPressure(_) | OutKind::PitchBend(_)
            )
        })
        .collect();
    assert!(controllers.is_empty(), "sent on: {controllers:?}");
    assert!(
        out.iter().any(|e| e.on && e.pitch == 60),
        "the note goes through"
    );
    let notes: Vec<_> = s.brain().context().copied().collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    // 120 bpm: 0.1 s is 0.2 beats; a pedal held down would have made it last to the end.
    assert!((notes[0].duration - 0.2).abs() < 0.05, "{notes:?}");

    let knob = MidiIn::Cc {
        channel: 0,
        cc: 1,
        value: 0.5,
    };
    let out = run(&mut s, &[(0.0, knob)], 0.1);
    assert!(
        out.iter()
            .any(|e| e.kind == OutKind::Cc { cc: 1, value: 0.5 }),
        "{out:?}"
    );
}

/// The host may put a quiet plugin to sleep; Continuo answers when the input goes quiet, so it
/// asks to be kept awake while an answer is due or playing, and lets the host sleep after.
#[test]
fn the_host_is_kept_awake_while_an_answer_is_due_or_playing() {
    let p = params(r#"{"source": "midi", "gap": 2.0, "grid": "1/4", "length": 4}"#);
    let mut s = Session::new(SR, BLOCK, p);
    let call: Vec<(f64, MidiIn)> = (0..4)
        .flat_map(|i| {
            let t = i as f64 * 0.25;
            [(t, on(0, 60 + i)), (t + 0.2, off(0, 60 + i))]
        })
        .collect();
    run(&mut s, &call, 1.0);
    assert!(
        s.needs_processing(),
        "the call was heard: its answer is due"
    );
    // Until the answer has played out, the plugin stays awake.
    let mut ons = 0;
    let mut awake_until = 0.0;
    for i in 0..200 {
        ons += answer_ons(&run(&mut s, &[], 0.05));
        if s.needs_processing() {
            awake_until = 1.0 + (i + 1) as f64 * 0.05;
        }
    }
    assert!(ons > 0, "the answer played");
    assert!(
        awake_until > 2.0 && awake_until < 8.0,
        "awake until the answer ended: {awake_until} s"
    );
    assert!(!s.needs_processing(), "then the host may sleep");
}

/// A reset that follows notes in the same poll is handled after them: the notes sent before it
/// do not leave a stale "heard until" (which defeated the "has heard the whole call" check).
#[test]
fn a_reset_is_handled_after_the_notes_sent_before_it() {
    let p = Arc::new(ContinuoParams::default());
    crate::preset::set_offline(&p, "source", json!("midi")).unwrap();
    let shared = crate::bridge::Shared::default();
    let (mut engine, mut ends) = Engine::new(SR, BLOCK);
    let (_tx, rx) = std::sync::mpsc::sync_channel(1);
    let mut brain = Brain::new(rx);
    let mut q = EventQueue::default();
    let silence = [0.0f32; BLOCK];
    // Ten blocks with a note, then a reset, then a block: the model thread polls only now.
    engine.receive(10, on(0, 60), &shared.counters);
    for i in 0..10 {
        if i == 5 {
            engine.receive(10, off(0, 60), &shared.counters);
        }
        engine.process(
            &[&silence[..]],
            BLOCK,
            HostTime::default(),
            &p,
            &shared,
            &mut q,
        );
    }
    engine.reset(&shared);
    engine.process(
        &[&silence[..]],
        BLOCK,
        HostTime::default(),
        &p,
        &shared,
        &mut q,
    );
    worker::step(
        &mut brain,
        &mut ends,
        &shared,
        &p,
        std::time::Instant::now(),
    );
    assert_eq!(brain.context().count(), 1, "the note was heard");
    assert_eq!(brain.heard_until(), 0, "the reset came after it");
}

/// With no host transport, beats accumulate at each block's tempo: a tempo change does not move
/// the notes before it (stream time × the new tempo did, by many beats).
#[test]
fn a_tempo_change_does_not_move_earlier_beats() {
    let p = params(r#"{"source": "midi", "mode": "suggest", "tempo": 120.0}"#);
    let mut s = Session::new(SR, BLOCK, p.clone());
    run(&mut s, &[(1.0, on(0, 60)), (1.25, off(0, 60))], 10.0);
    set_offline(&p, "tempo", json!(60.0)).unwrap();
    run(&mut s, &[(1.0, on(0, 62)), (1.5, off(0, 62))], 2.0);
    let notes: Vec<_> = s.brain().context().copied().collect();
    // 10 s at 120 bpm is 20 beats, then 1 s at 60 bpm is one more.
    assert!((notes[0].onset - 2.0).abs() < 0.02, "{notes:?}");
    assert!((notes[1].onset - 21.0).abs() < 0.02, "{notes:?}");
    assert!((notes[1].duration - 0.5).abs() < 0.02, "{notes:?}");
}

/// With the host's transport running, notes are placed on the host's beats, through a tempo
/// ramp.
#[test]
fn notes_follow_the_hosts_beats_through_a_tempo_ramp() {
    let p = params(r#"{"source": "midi", "mode": "suggest"}"#);
    let mut s = Session::new(SR, BLOCK, p);
    // The tempo ramps from 90 to 150 bpm over 8 s; a note starts on every beat. The session
    // moves the host's beat on by each block's tempo; the test finds the beats the same way.
    let ramp = |pos: u64| 90.0 + 60.0 * (pos as f64 / secs(8.0) as f64).min(1.0);
    let mut beat = 0.0;
    let mut events: Vec<MidiEvent> = Vec::new();
    let mut next = 0.5;
    let mut pos = 0u64;
    while pos < secs(8.0) {
        let tempo = ramp(pos);
        let per_sample = tempo / 60.0 / SR as f64;
        for k in 0..BLOCK as u64 {
            let b = beat + k as f64 * per_sample;
            if b >= next {
                events.push((pos + k, on(0, 60 + (next as u8 % 12))));
                events.push((pos + k + 2000, off(0, 60 + (next as u8 % 12))));
                next += 1.0;
            }
        }
        beat += BLOCK as f64 * per_sample;
        pos += BLOCK as u64;
    }
    events.sort_by_key(|e| e.0);
    s.run_events(&[], &events, Some((90.0, 0.0)), secs(8.5), |tempo, pos| {
        if let Some((t, _)) = tempo {
            *t = ramp(pos);
        }
    });
    let onsets: Vec<f64> = s.brain().context().map(|n| n.onset).collect();
    assert!(onsets.len() >= 8, "{onsets:?}");
    for (i, w) in onsets.windows(2).enumerate() {
        assert!(
            (w[1] - w[0] - 1.0).abs() < 0.01,
            "note {i}: {} beats after the previous one ({onsets:?})",
            w[1] - w[0]
        );
    }
}

/// Which keys the player holds is tracked per source: audio and each MIDI channel apart.
#[test]
fn held_keys_are_tracked_per_channel() {
    let p = params(r#"{"source": "both", "mode": "suggest"}"#);
    let mut s = Session::new(SR, BLOCK, p);
    run(
        &mut s,
        &[(0.0, on(3, 60)), (0.0, on(4, 60)), (0.1, off(3, 60))],
        0.2,
    );
    assert!(s.needs_processing(), "channel 5 still holds its key");
    run(&mut s, &[(0.0, off(4, 60))], 0.2);
    assert!(
        !s.needs_processing(),
        "suggest only, nothing held: the host may sleep"
    );
}

/// Legato notes from the audio: each start is dated back to its attack, a little before the
/// previous note's end; the context keeps their spacing (no jump of whole bars).
#[test]
fn legato_notes_keep_their_spacing_in_beats() {
    let p = params(r#"{"source": "audio", "mode": "suggest"}"#);
    let mut s = Session::new(SR, BLOCK, p);
    let mut audio = vec![0.0f32; secs(0.2) as usize];
    for pitch in [60.0, 64.0, 67.0, 72.0, 67.0] {
        audio.extend(tone(pitch, 0.3));
    }
    audio.extend(std::iter::repeat_n(0.0, secs(1.0) as usize));
    s.run(&audio, &[], Some(120.0), audio.len() as u64);
    let onsets: Vec<f64> = s.brain().context().map(|n| n.onset).collect();
    assert!(onsets.len() >= 4, "{onsets:?}");
    for w in onsets.windows(2) {
        // 0.3 s apart at 120 bpm: 0.6 beats.
        assert!((w[1] - w[0] - 0.6).abs() < 0.1, "{onsets:?}");
    }
}

/// A bypassed plugin is a wire for MIDI too: notes, pedal and bend played into it reach the
/// next device unchanged (they were swallowed), whatever MIDI thru says; and a key still held
/// when the bypass ends is released then, so nothing is left sounding downstream.
#[test]
fn a_bypassed_plugin_passes_midi_through_and_releases_it_after() {
    for thru in [false, true] {
        let p = params(&format!(
            r#"{{"source": "midi", "midi-thru": {thru}, "mode": "suggest", "channel": 3}}"#
        ));
        let mut s = Session::new(SR, BLOCK, p.clone());
        set_offline(&p, "bypass", json!(true)).unwrap();
        let out = run(
            &mut s,
            &[
                (0.0, on(4, 60)),
                (0.1, pedal(4, true)),
                (0.2, off(4, 60)),
                (0.3, on(5, 64)),
            ],
            0.5,
        );
        let has = |out: &[SentEvent], kind: OutKind, channel: u8, pitch: u8| {
            out.iter()
                .any(|e| e.kind == kind && e.channel == channel && e.pitch == pitch)
        };
        assert!(has(&out, OutKind::On, 4, 60), "thru {thru}: {out:?}");
        assert!(has(&out, OutKind::Off, 4, 60), "thru {thru}: {out:?}");
        assert!(has(&out, OutKind::On, 5, 64), "thru {thru}: {out:?}");
        assert!(
            out.iter().any(|e| e.channel == 4
                && matches!(e.kind, OutKind::Cc { cc: 64, value } if value >= 0.5)),
            "thru {thru}: the pedal passes: {out:?}"
        );
        assert!(
            !out.iter().any(|e| e.channel == 2),
            "thru {thru}: nothing on the answer channel while bypassed: {out:?}"
        );
        // The bypass ends with key 64 held and the pedal down: both are let go.
        set_offline(&p, "bypass", json!(false)).unwrap();
        let out = run(&mut s, &[], 0.1);
        assert!(
            has(&out, OutKind::Off, 5, 64),
            "thru {thru}: the held key is released: {out:?}"
        );
        assert!(
            out.iter().any(|e| e.channel == 4
                && matches!(e.kind, OutKind::Cc { cc: 64, value } if value < 0.5)),
            "thru {thru}: the pedal is let up: {out:?}"
        );
        // Its real NoteOff, later, sends nothing more (nothing is stuck, nothing doubled).
        let out = run(&mut s, &[(0.0, off(5, 64))], 0.1);
        assert!(
            !out.iter()
                .any(|e| e.kind == OutKind::Off && e.pitch == 64 && e.channel == 5),
            "thru {thru}: {out:?}"
        );
    }
}

/// The host's time signature and bar start reach the model thread and the editor (published
/// each block); a stopped transport keeps the bars, and a broken signature keeps the last good
/// one.
#[test]
fn the_hosts_meter_is_published_and_kept() {
    let p = Arc::new(ContinuoParams::default());
    let shared = crate::bridge::Shared::default();
    let (mut engine, _ends) = Engine::new(SR, BLOCK);
    let mut q = EventQueue::default();
    let silence = [0.0f32; BLOCK];
    let mut block = |host: HostTime| {
        engine.process(&[&silence[..]], BLOCK, host, &p, &shared, &mut q);
        crate::meter::Meter::unpack(shared.meter.load(std::sync::atomic::Ordering::Relaxed))
    };
    assert_eq!(block(HostTime::default()), crate::meter::Meter::COMMON);
    let waltz = HostTime {
        tempo: Some(120.0),
        playing: true,
        pos_beats: Some(8.5),
        time_signature: Some((3, 4)),
        bar_start: Some(7.0),
    };
    let m = block(waltz);
    assert_eq!((m.numerator, m.denominator, m.origin), (3, 4, 1.0));
    let stopped = HostTime {
        playing: false,
        bar_start: Some(0.0),
        ..waltz
    };
    assert_eq!(
        block(stopped),
        m,
        "stopped: the bar start is not the clock's"
    );
    let broken = HostTime {
        time_signature: Some((0, 3)),
        bar_start: Some(f64::NAN),
        ..waltz
    };
    assert_eq!(block(broken), m);
}
