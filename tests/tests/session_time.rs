//! A session that keeps its time and its notes (issue 18), as a DAW drives it: a long bypass
//! then playing, a tempo ramp, a real keyboard (sustain pedal, pitch bend, a wildcard NoteOff on
//! two channels), and a host that puts quiet plugins to sleep.

use continuo_host_tests::*;
use std::time::Duration;

const SR: f64 = 48_000.0;
const BLOCK: usize = 512;

fn plugin(entry: &'static PluginEntry, settings: &[(&str, &str)]) -> Plugin {
    let mut p = Plugin::new(entry).unwrap();
    for (id, v) in settings {
        p.set_text(id, v)
            .unwrap_or_else(|e| panic!("{id} = {v}: {e}"));
    }
    p.activate(SR, BLOCK as u32).unwrap();
    std::thread::sleep(model_load_wait());
    p
}

fn secs(s: f64) -> u64 {
    (s * SR).round() as u64
}

/// A plucked tone (three partials, quick attack, decay) at MIDI `key`, `len` seconds.
fn pluck(key: u8, len: f64) -> Vec<f32> {
    let hz = 440.0 * 2f64.powf((key as f64 - 69.0) / 12.0);
    (0..secs(len))
        .map(|i| {
            let t = i as f64 / SR;
            let env = (t / 0.003).min(1.0) * (-t * 2.0).exp();
            let ph = std::f64::consts::TAU * hz * t;
            (0.4 * env * (ph.sin() + 0.5 * (2.0 * ph).sin() + 0.25 * (3.0 * ph).sin())) as f32
        })
        .collect()
}

/// Ten seconds of bypass, then a played phrase: the notes Continuo hears (MIDI thru) come at
/// their place, an answer follows after the gap, and nothing is left sounding.
fn bypass_then_play(entry: &'static PluginEntry) {
    let mut p = plugin(
        entry,
        &[
            ("source", "Audio"),
            ("midi-thru", "On"),
            ("gap", "1"),
            ("grid", "Off"),
        ],
    );
    let bypass = param_hash("bypass");
    p.run(|s| {
        s.set_transport(Some(Transport::playing(120.0)));
        let fed = s
            .feed(Feed {
                events: vec![(
                    0,
                    InEvent::Param {
                        id: bypass,
                        value: 1.0,
                    },
                )],
                ..Feed::silence(secs(10.0), BLOCK)
            })
            .unwrap();
        assert!(fed.notes.is_empty(), "nothing while bypassed");
        let start = s.pos;
        let keys = [69u8, 72, 76, 72];
        let mut audio = vec![0.0f32; secs(0.5) as usize];
        for &k in &keys {
            audio.extend(pluck(k, 0.4));
        }
        let fed = s
            .feed(Feed {
                audio: vec![audio],
                events: vec![(
                    0,
                    InEvent::Param {
                        id: bypass,
                        value: 0.0,
                    },
                )],
                pause_every_block: Some(Duration::from_millis(1)),
                ..Feed::silence(secs(10.0), BLOCK)
            })
            .unwrap();
        let heard: Vec<&OutNote> = fed
            .notes
            .iter()
            .filter(|n| n.on && n.time < start + secs(2.1))
            .collect();
        let heard_keys: Vec<u8> = heard.iter().map(|n| n.key).collect();
        assert_eq!(heard_keys, keys, "thru: the played notes");
        for (i, n) in heard.iter().enumerate() {
            let written = start + secs(0.5 + 0.4 * i as f64);
            assert!(
                n.time >= written && n.time < written + secs(0.06),
                "note {i} heard at {} s, written at {} s",
                (n.time - start) as f64 / SR,
                (written - start) as f64 / SR
            );
        }
        let answer: Vec<&OutNote> = fed
            .notes
            .iter()
            .filter(|n| n.on && n.time >= start + secs(2.1))
            .collect();
        assert!(!answer.is_empty(), "an answer after the gap");
        pair_notes(&fed.notes, false).unwrap();
    })
    .unwrap();
}

/// The host's tempo ramps from 100 to 160 bpm while the player plays and Continuo answers: the
/// answer starts on the host's grid, at least the gap after the call, and ends cleanly.
fn tempo_ramp(entry: &'static PluginEntry) {
    let mut p = plugin(
        entry,
        &[
            ("source", "MIDI"),
            ("gap", "1"),
            ("grid", "1/4"),
            ("length", "8"),
        ],
    );
    p.run(|s| {
        // Advance the transport block by block at a rising tempo.
        let mut beat = 0.0;
        let mut tempo = 100.0;
        let mut events = CALL.iter().peekable();
        let mut notes = Vec::new();
        let mut call_end_beat: f64 = 0.0;
        let mut pending_off: Vec<(f64, u8)> = Vec::new();
        while beat < 24.0 {
            s.set_transport(Some(Transport {
                beat,
                ..Transport::playing(tempo)
            }));
            let per_sample = tempo / 60.0 / SR;
            let block_beats = BLOCK as f64 * per_sample;
            let mut block_events = Vec::new();
            while let Some(&&(key, on, len)) = events.peek() {
                if on >= beat + block_beats {
                    break;
                }
                let at = ((on - beat).max(0.0) / per_sample) as u32;
                block_events.push((
                    at,
                    InEvent::NoteOn {
                        channel: 0,
                        key,
                        velocity: 0.8,
                    },
                ));
                pending_off.push((on + len, key));
                call_end_beat = call_end_beat.max(on + len);
                events.next();
            }
            pending_off.retain(|&(off, key)| {
                if off < beat + block_beats {
                    let at = ((off - beat).max(0.0) / per_sample) as u32;
                    block_events.push((at, InEvent::NoteOff { channel: 0, key }));
                    false
                } else {
                    true
                }
            });
            block_events.sort_by_key(|e| e.0);
            let b = s.process(BLOCK, &[], &block_events);
            for n in &b.notes {
                let nb = beat + (n.time - (s.pos - BLOCK as u64)) as f64 * per_sample;
                notes.push((nb, *n));
            }
            if !block_events.is_empty() {
                std::thread::sleep(model_pause());
            }
            beat += block_beats;
            tempo = (tempo + 0.15).min(160.0);
        }
        let first = notes.iter().find(|(_, n)| n.on).map(|(b, _)| *b);
        let first = first.expect("an answer");
        assert!(
            first >= call_end_beat + 1.0 - 0.01,
            "the answer starts at beat {first}, the call ended at {call_end_beat}"
        );
        let off_grid = (first / 0.25 - (first / 0.25).round()).abs() * 0.25;
        assert!(
            off_grid < 0.02,
            "the answer starts on a 1/4 line: beat {first}"
        );
        let all: Vec<OutNote> = notes.iter().map(|(_, n)| *n).collect();
        pair_notes(&all, false).unwrap();
    })
    .unwrap();
}

/// A keyboard on two channels with the sustain pedal and pitch bend, then a wildcard NoteOff
/// (all notes off, as some keyboards and hosts send on a panic or a transport jump): MIDI thru
/// passes the pedal and the bend, every key is released, and call and response answers.
fn keyboard(entry: &'static PluginEntry) {
    let mut p = plugin(
        entry,
        &[
            ("source", "MIDI"),
            ("midi-thru", "On"),
            ("gap", "1"),
            ("grid", "Off"),
            ("channel", "3"),
        ],
    );
    p.run(|s| {
        s.set_transport(Some(Transport::playing(120.0)));
        let start = s.pos;
        let on = |channel, key| InEvent::NoteOn {
            channel,
            key,
            velocity: 0.8,
        };
        let events = vec![
            (0, InEvent::Midi([0xB0, 64, 127])), // pedal down, channel 1
            (100, on(0, 60)),
            (100, on(1, 64)),
            (secs(0.2), InEvent::Midi([0xE1, 0, 80])), // bend up, channel 2
            (
                secs(0.3),
                InEvent::NoteOff {
                    channel: 0,
                    key: 60,
                },
            ),
            (secs(0.5), on(0, 62)),
            (secs(0.8), InEvent::NoteOffAll { channel: None }),
            (secs(0.9), InEvent::Midi([0xB0, 64, 0])), // pedal up
            (secs(0.9), InEvent::Midi([0xE1, 0, 64])), // bend back
        ];
        let fed = s
            .feed(Feed {
                events,
                pause_after_events: model_pause(),
                ..Feed::silence(secs(5.0), BLOCK)
            })
            .unwrap();
        let thru: Vec<&OutNote> = fed
            .notes
            .iter()
            .filter(|n| n.time < start + secs(1.0))
            .collect();
        for (ch, key) in [(0u8, 60u8), (1, 64), (0, 62)] {
            assert!(
                thru.iter().any(|n| n.on && n.channel == ch && n.key == key),
                "thru plays {key} on channel {}: {thru:?}",
                ch + 1
            );
            assert!(
                thru.iter()
                    .any(|n| !n.on && n.channel == ch && n.key == key),
                "{key} on channel {} is released: {thru:?}",
                ch + 1
            );
        }
        let midi: Vec<[u8; 3]> = fed.midi.iter().map(|m| m.1).collect();
        for m in [[0xB0, 64, 127], [0xE1, 0, 80], [0xB0, 64, 0], [0xE1, 0, 64]] {
            assert!(midi.contains(&m), "thru passes {m:02X?}: {midi:02X?}");
        }
        let answer: Vec<&OutNote> = fed
            .notes
            .iter()
            .filter(|n| n.on && n.channel == 2)
            .collect();
        assert!(!answer.is_empty(), "call and response answers on channel 3");
        assert!(
            answer[0].time >= start + secs(1.29),
            "after the gap from the last release"
        );
        pair_notes(&fed.notes, false).unwrap();
    })
    .unwrap();
}

/// A host that suspends quiet plugins: after the call the input is silent for 30 s. Continuo
/// keeps the host processing while its answer is due and playing, so the answer is heard whole;
/// then it lets the host sleep.
fn sleeping_host(entry: &'static PluginEntry) {
    let mut p = plugin(
        entry,
        &[
            ("source", "MIDI"),
            ("gap", "2"),
            ("grid", "1/4"),
            ("length", "6"),
        ],
    );
    p.run(|s| {
        s.set_transport(Some(Transport::playing(120.0)));
        let start = s.pos;
        let events = phrase_events(&CALL, 120.0, SR, 0, 0);
        let call_end = events.iter().map(|e| e.0).max().unwrap();
        let fed = s
            .feed(Feed {
                events,
                pause_after_events: model_pause(),
                sleep_when_quiet: true,
                ..Feed::silence(call_end + secs(30.0), BLOCK)
            })
            .unwrap();
        let answer: Vec<&OutNote> = fed
            .notes
            .iter()
            .filter(|n| n.time > start + call_end)
            .collect();
        assert!(
            answer.iter().filter(|n| n.on).count() >= 3,
            "the answer plays although the input is silent: {answer:?} (slept from {:?})",
            fed.slept.first().map(|t| (t - start) as f64 / SR)
        );
        pair_notes(&fed.notes, false).unwrap();
        let last = answer.iter().map(|n| n.time).max().unwrap();
        let slept_after = fed.slept.iter().filter(|&&t| t > last).count();
        assert!(
            slept_after as u64 * BLOCK as u64 > secs(20.0),
            "once the answer has ended the host may sleep ({slept_after} blocks slept)"
        );
        assert!(
            fed.slept.iter().all(|&t| t > last || t < start + call_end),
            "never asleep while the answer was due or playing"
        );
    })
    .unwrap();
}

#[test]
fn session_keeps_its_time_and_notes() {
    run_cases(&[
        ("bypass 10 s then play", bypass_then_play),
        ("tempo ramp", tempo_ramp),
        ("keyboard: sustain, bend, wildcard NoteOff", keyboard),
        ("host that sleeps when quiet", sleeping_host),
    ]);
}
