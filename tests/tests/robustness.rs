//! Hosts do odd things (issue 7): many activation cycles, sample-rate changes, empty and tiny
//! blocks, huge blocks, a parameter automated at every sample, unsupported sample rates.

use continuo_host_tests::*;

fn assert_passthrough(input: &[Vec<f32>], output: &[Vec<f32>], what: &str) {
    for (c, (i, o)) in input.iter().zip(output).enumerate() {
        assert_eq!(i.len(), o.len(), "{what}: channel {c} length");
        for (k, (x, y)) in i.iter().zip(o).enumerate() {
            assert_eq!(x.to_bits(), y.to_bits(), "{what}: channel {c} sample {k}");
        }
    }
}

/// Processes a little audio plus a MIDI-thru note and checks the audio and the notes.
fn exercise(p: &mut Plugin, sr: f64, block: usize, what: &str) {
    let audio = test_audio(sr, 6000, 2, 3);
    let events = vec![
        (
            10,
            InEvent::NoteOn {
                channel: 0,
                key: 64,
                velocity: 0.7,
            },
        ),
        (
            3000,
            InEvent::NoteOff {
                channel: 0,
                key: 64,
            },
        ),
    ];
    let fed = p
        .feed(Feed {
            audio: audio.clone(),
            events,
            keep_audio: true,
            ..Feed::silence(6000, block)
        })
        .unwrap();
    assert_eq!(fed.errors, 0, "{what}: process errors");
    assert!(fed.violations.is_empty(), "{what}: {:?}", fed.violations);
    assert_passthrough(&audio, &fed.audio, what);
    assert!(
        fed.notes.iter().any(|n| n.on && n.key == 64),
        "{what}: MIDI thru passes the note: {:?}",
        fed.notes
    );
    pair_notes(&fed.notes, true).unwrap_or_else(|e| panic!("{what}: {e}"));
}

fn thru_plugin(entry: &'static PluginEntry) -> Plugin {
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("source", "MIDI").unwrap();
    p.set_text("midi-thru", "On").unwrap();
    p
}

fn activation_cycles(entry: &'static PluginEntry) {
    let mut p = thru_plugin(entry);
    for i in 0..20 {
        p.activate(48_000.0, 512).unwrap();
        exercise(&mut p, 48_000.0, 512, &format!("cycle {i}"));
        p.deactivate();
    }
}

fn sample_rate_changes(entry: &'static PluginEntry) {
    let mut p = thru_plugin(entry);
    for (sr, max) in [
        (44_100.0, 512),
        (96_000.0, 128),
        (22_050.0, 1024),
        (192_000.0, 4096),
        (8_000.0, 64),
        (48_000.0, 333),
    ] {
        p.activate(sr, max)
            .unwrap_or_else(|e| panic!("{sr} Hz: {e}"));
        exercise(&mut p, sr, max as usize, &format!("{sr} Hz, max {max}"));
        p.deactivate();
    }
    // Rates the plugin does not support are refused cleanly, and it still works afterwards.
    for sr in [0.5, 1000.0, 10_000_000.0] {
        let r = p.activate(sr, 512);
        eprintln!("activate at {sr} Hz: {r:?}");
        if r.is_ok() {
            exercise(&mut p, sr, 512, &format!("{sr} Hz"));
            p.deactivate();
        }
    }
    p.activate(48_000.0, 512).unwrap();
    exercise(&mut p, 48_000.0, 512, "48 kHz after refused rates");
}

fn tiny_and_empty_blocks(entry: &'static PluginEntry) {
    let mut p = thru_plugin(entry);
    p.activate(48_000.0, 64).unwrap();
    let audio = test_audio(48_000.0, 3000, 2, 11);
    let events = vec![
        (
            0,
            InEvent::NoteOn {
                channel: 0,
                key: 60,
                velocity: 0.5,
            },
        ),
        (
            1,
            InEvent::NoteOff {
                channel: 0,
                key: 60,
            },
        ),
        (
            1500,
            InEvent::NoteOn {
                channel: 0,
                key: 61,
                velocity: 0.5,
            },
        ),
        (
            2999,
            InEvent::NoteOff {
                channel: 0,
                key: 61,
            },
        ),
    ];
    let fed = p
        .feed(Feed {
            audio: audio.clone(),
            events,
            keep_audio: true,
            blocks: Blocks::Cycle(vec![0, 1, 0, 0, 1, 2, 0, 1, 64, 0, 3]),
            ..Feed::silence(3000, 1)
        })
        .unwrap();
    assert_eq!(fed.errors, 0);
    assert!(fed.violations.is_empty(), "{:?}", fed.violations);
    assert_passthrough(&audio, &fed.audio, "0/1-sample blocks");
    let pairs = pair_notes(&fed.notes, false).unwrap();
    let keys: Vec<(u64, u8)> = pairs.iter().map(|p| (p.0, p.3)).collect();
    assert_eq!(
        keys,
        vec![(0, 60), (1500, 61)],
        "thru notes at their samples"
    );
    // Only empty blocks for a while, then normal ones.
    p.run(|s| {
        for _ in 0..1000 {
            let b = s.process(0, &[], &[]);
            assert!(b.notes.is_empty());
        }
    })
    .unwrap();
    exercise(&mut p, 48_000.0, 64, "after 1000 empty blocks");
}

fn huge_blocks(entry: &'static PluginEntry) {
    let mut p = thru_plugin(entry);
    p.activate(48_000.0, 16_384).unwrap();
    let audio = test_audio(48_000.0, 16_384 * 6, 2, 13);
    let events = vec![
        (
            16_383,
            InEvent::NoteOn {
                channel: 1,
                key: 70,
                velocity: 0.9,
            },
        ),
        (
            40_000,
            InEvent::NoteOff {
                channel: 1,
                key: 70,
            },
        ),
    ];
    let fed = p
        .feed(Feed {
            audio: audio.clone(),
            events,
            keep_audio: true,
            ..Feed::silence(16_384 * 6, 16_384)
        })
        .unwrap();
    assert_eq!(fed.errors, 0);
    assert!(fed.violations.is_empty(), "{:?}", fed.violations);
    assert_passthrough(&audio, &fed.audio, "16384-sample blocks");
    let pairs = pair_notes(&fed.notes, true).unwrap();
    assert!(
        pairs
            .iter()
            .any(|p| p.0 == 16_383 && p.1 == 40_000 && p.3 == 70),
        "{pairs:?}"
    );
}

fn automation_every_sample(entry: &'static PluginEntry) {
    let mut p = thru_plugin(entry);
    p.activate(48_000.0, 512).unwrap();
    let mut noise = Noise::new(5);
    // (id, number of steps: 0 = continuous) — every parameter, automated at every sample.
    let params = p.params();
    for d in params {
        let name = d.name.clone();
        let n = 512usize;
        let events: Vec<(u64, InEvent)> = (0..n as u64)
            .map(|i| {
                let r = (noise.next_f32() as f64 + 1.0) / 2.0;
                let v = if d.stepped {
                    (r * d.max).round()
                } else {
                    r * d.max
                };
                (
                    i,
                    InEvent::Param {
                        id: d.hash,
                        value: v.clamp(d.min, d.max),
                    },
                )
            })
            .chain([
                (
                    3,
                    InEvent::NoteOn {
                        channel: 0,
                        key: 62,
                        velocity: 0.6,
                    },
                ),
                (
                    400,
                    InEvent::NoteOff {
                        channel: 0,
                        key: 62,
                    },
                ),
            ])
            .collect();
        let audio = test_audio(48_000.0, 2048, 2, 17);
        let fed = p
            .feed(Feed {
                audio: audio.clone(),
                events,
                keep_audio: true,
                ..Feed::silence(2048, 512)
            })
            .unwrap();
        assert_eq!(fed.errors, 0, "{name}");
        assert!(fed.violations.is_empty(), "{name}: {:?}", fed.violations);
        assert_passthrough(
            &audio,
            &fed.audio,
            &format!("{name} automated at every sample"),
        );
        pair_notes(&fed.notes, true).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Back to the defaults for the next parameter (bypass off, thru on, MIDI in).
        p.run(|s| s.process(1, &[], &[])).unwrap();
        let restore: Vec<(u32, InEvent)> = p
            .params()
            .iter()
            .map(|d| {
                (
                    0,
                    InEvent::Param {
                        id: d.hash,
                        value: d.default,
                    },
                )
            })
            .collect();
        let thru = p.value_from_text("midi-thru", "On").unwrap();
        let midi = p.value_from_text("source", "MIDI").unwrap();
        p.run(move |s| {
            let mut ev = restore;
            ev.push((
                0,
                InEvent::Param {
                    id: param_hash("midi-thru"),
                    value: thru,
                },
            ));
            ev.push((
                0,
                InEvent::Param {
                    id: param_hash("source"),
                    value: midi,
                },
            ));
            let b = s.process(64, &[], &ev);
            assert!(b.ok);
        })
        .unwrap();
        eprintln!("{name}: automated at each of 512 samples, ok");
    }
    exercise(&mut p, 48_000.0, 512, "after the automation");
}

/// A flood of player notes in one block (a MIDI dump, a host catching up after a stall): with
/// MIDI thru on, whatever is let through must also be released — no stuck notes.
fn note_flood(entry: &'static PluginEntry) {
    let mut p = thru_plugin(entry);
    // No answer: every output note is a thru note.
    p.set_text("mode", "Suggest only").unwrap();
    p.activate(48_000.0, 4096).unwrap();
    // A held note around the flood: its NoteOff comes last.
    let mut events = vec![
        (
            0,
            InEvent::NoteOn {
                channel: 0,
                key: 100,
                velocity: 0.5,
            },
        ),
        (
            4000,
            InEvent::NoteOff {
                channel: 0,
                key: 100,
            },
        ),
    ];
    for i in 1..400u64 {
        let key = (36 + i % 48) as u8;
        events.push((
            2 * i,
            InEvent::NoteOn {
                channel: 0,
                key,
                velocity: 0.5,
            },
        ));
        events.push((2 * i + 1, InEvent::NoteOff { channel: 0, key }));
    }
    let fed = p
        .feed(Feed {
            events,
            ..Feed::silence(4096 * 4, 4096)
        })
        .unwrap();
    assert_eq!(fed.errors, 0);
    let ons = fed.notes.iter().filter(|n| n.on && n.time < 4096).count();
    let offs = fed.notes.iter().filter(|n| !n.on && n.time < 4096).count();
    eprintln!("800 input events in one block: {ons} thru NoteOns, {offs} NoteOffs in that block");
    pair_notes(&fed.notes, false).unwrap_or_else(|e| {
        panic!(
            "a held note and a flood of 399 short notes in one 4096-sample block leave thru notes \
             stuck for good (4 blocks later): {e} ({ons} NoteOns, {offs} NoteOffs sent in the block)"
        )
    });
}

#[test]
fn robustness() {
    run_cases(&[
        ("activation cycles", activation_cycles),
        ("sample-rate changes", sample_rate_changes),
        ("0- and 1-sample blocks", tiny_and_empty_blocks),
        ("16384-sample blocks", huge_blocks),
        ("automation at every sample", automation_every_sample),
        ("a flood of notes in one block", note_flood),
    ]);
}
