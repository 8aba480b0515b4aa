//! Never a stuck note: transport stop, bypass, and deactivation in the middle of an answer
//! release every sounding note — in that very block, or in the first block after re-activation.

use continuo_host_tests::*;

const SR: f64 = 48_000.0;
const BLOCK: usize = 512;

fn setup(entry: &'static PluginEntry) -> Plugin {
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("source", "MIDI").unwrap();
    p.set_text("channel", "5").unwrap();
    // Long notes, so one is surely sounding when we cut.
    p.set_text("length-scale", "200").ok();
    p.activate(SR, BLOCK as u32).unwrap();
    std::thread::sleep(model_load_wait());
    p
}

/// Plays the call and stops right after a block that leaves an answer note sounding.
fn sounding_answer(s: &mut Session) -> Answer {
    let a = call_and_answer(s, 120.0, BLOCK, StopWhen::AnswerSounding, 40.0).unwrap();
    assert!(
        !a.sounding.is_empty(),
        "an answer note is sounding (answer so far: {:?})",
        a.answer
    );
    a
}

/// Checks that `block` releases exactly the `sounding` notes, and nothing starts.
fn releases_all(block: &BlockOut, start: u64, sounding: &[(u8, u8)], what: &str, at: u64) {
    for n in &block.notes {
        eprintln!("{what}: {n}");
    }
    let mut offs: Vec<(u8, u8)> = block
        .notes
        .iter()
        .filter(|n| !n.on)
        .map(|n| (n.channel, n.key))
        .collect();
    offs.sort();
    assert_eq!(
        offs, sounding,
        "{what}: NoteOffs for all sounding notes in that block"
    );
    assert!(
        block.notes.iter().all(|n| !n.on),
        "{what}: no NoteOn in that block"
    );
    for n in &block.notes {
        assert!(
            n.time >= start + at && n.time < start + BLOCK as u64,
            "{what}: NoteOff at {} inside the block [{start}+{at}, {})",
            n.time,
            start + BLOCK as u64
        );
    }
}

fn nothing_starts(s: &mut Session, blocks: usize, what: &str) {
    for _ in 0..blocks {
        let b = s.process(BLOCK, &[], &[]);
        assert!(
            b.notes.iter().all(|n| !n.on),
            "{what}: no NoteOn afterwards: {:?}",
            b.notes
        );
        assert!(
            b.notes.is_empty(),
            "{what}: no stray events afterwards: {:?}",
            b.notes
        );
    }
}

fn transport_stop(entry: &'static PluginEntry) {
    let mut p = setup(entry);
    p.run(|s| {
        let a = sounding_answer(s);
        s.stop_transport();
        let start = s.pos;
        let b = s.process(BLOCK, &[], &[]);
        releases_all(&b, start, &a.sounding, "transport stop", 0);
        nothing_starts(s, 200, "transport stopped");
    })
    .unwrap();
}

fn bypass_at(entry: &'static PluginEntry, at: u32) {
    let mut p = setup(entry);
    let bypass = param_hash("bypass");
    p.run(move |s| {
        let a = sounding_answer(s);
        let start = s.pos;
        let b = s.process(
            BLOCK,
            &[],
            &[(
                at,
                InEvent::Param {
                    id: bypass,
                    value: 1.0,
                },
            )],
        );
        releases_all(
            &b,
            start,
            &a.sounding,
            &format!("bypass at offset {at}"),
            at as u64,
        );
        nothing_starts(s, 200, "bypassed");
    })
    .unwrap();
}

fn bypass(entry: &'static PluginEntry) {
    bypass_at(entry, 0);
}

fn bypass_mid_block(entry: &'static PluginEntry) {
    bypass_at(entry, 100);
}

/// A parameter change at offset 0 of the next block (a CLAP value).
fn param_cut(entry: &'static PluginEntry, id: &'static str, text: &'static str) {
    let mut p = setup(entry);
    let value = p.value_from_text(id, text).unwrap();
    let hash = param_hash(id);
    p.run(move |s| {
        let a = sounding_answer(s);
        let start = s.pos;
        let b = s.process(BLOCK, &[], &[(0, InEvent::Param { id: hash, value })]);
        releases_all(&b, start, &a.sounding, &format!("{id} -> {text}"), 0);
    })
    .unwrap();
}

fn mode_change(entry: &'static PluginEntry) {
    param_cut(entry, "mode", "Suggest only");
}

fn channel_change(entry: &'static PluginEntry) {
    param_cut(entry, "channel", "9");
}

/// The player comes back during the answer ("Stop when I play" is on by default): the answer's
/// sounding notes end at the sample of the player's NoteOn.
fn player_returns(entry: &'static PluginEntry) {
    let mut p = setup(entry);
    p.run(|s| {
        let a = sounding_answer(s);
        let start = s.pos;
        let at = 200u32;
        let b = s.process(
            BLOCK,
            &[],
            &[(
                at,
                InEvent::NoteOn {
                    channel: 0,
                    key: 72,
                    velocity: 0.9,
                },
            )],
        );
        releases_all(&b, start, &a.sounding, "player returns", at as u64);
        for n in &b.notes {
            assert_eq!(
                n.time,
                start + at as u64,
                "cut exactly at the player's NoteOn"
            );
        }
    })
    .unwrap();
}

fn deactivate(entry: &'static PluginEntry) {
    let mut p = setup(entry);
    let a = p.run(sounding_answer).unwrap();
    p.deactivate();
    p.activate(SR, BLOCK as u32).unwrap();
    p.run(move |s| {
        let start = s.pos;
        let b = s.process(BLOCK, &[], &[]);
        releases_all(&b, start, &a.sounding, "first block after re-activation", 0);
        nothing_starts(s, 100, "after re-activation");
    })
    .unwrap();
}

fn reset(entry: &'static PluginEntry) {
    // The host's reset (clap_plugin.reset) also releases what sounds.
    let mut p = setup(entry);
    p.run(|s| {
        let a = sounding_answer(s);
        s.reset();
        let start = s.pos;
        let b = s.process(BLOCK, &[], &[]);
        releases_all(&b, start, &a.sounding, "first block after reset", 0);
    })
    .unwrap();
}

/// Tracks output notes: fails on a NoteOn for a note already sounding (a doubled note); returns
/// what still sounds.
fn follow_notes(sounding: &mut Vec<(u8, u8)>, notes: &[OutNote], what: &str) {
    for n in notes {
        let k = (n.channel, n.key);
        if n.on {
            assert!(
                !sounding.contains(&k),
                "{what}: NoteOn {n} while that note already sounds"
            );
            sounding.push(k);
        } else {
            sounding.retain(|&x| x != k);
        }
    }
}

/// The *Style* parameter changes while an answer sounds (a named style, then back to Auto, at
/// two moments): no note is doubled, every note ends, and the next call is still answered.
fn style_change(entry: &'static PluginEntry) {
    let mut p = setup(entry);
    let hash = param_hash("style");
    let styles = [
        p.value_from_text("style", "Renaissance").unwrap(),
        p.value_from_text("style", "Auto").unwrap(),
    ];
    p.run(move |s| {
        for (round, value) in styles.into_iter().enumerate() {
            let what = format!("style change {round}");
            let a = sounding_answer(s);
            let mut sounding = Vec::new();
            follow_notes(&mut sounding, &a.notes, &what);
            assert_eq!(
                sounding.len(),
                a.sounding.len(),
                "{what}: the harness agrees"
            );
            let b = s.process(BLOCK, &[], &[(7, InEvent::Param { id: hash, value })]);
            follow_notes(&mut sounding, &b.notes, &what);
            // Eight seconds: the rest of the answer, and any redrawn phrase.
            for _ in 0..(8.0 * SR / BLOCK as f64) as usize {
                let b = s.process(BLOCK, &[], &[]);
                follow_notes(&mut sounding, &b.notes, &what);
            }
            assert!(
                sounding.is_empty(),
                "{what}: notes left sounding: {sounding:?}"
            );
        }
        // The session goes on: another call gets an answer.
        let a = call_and_answer(s, 120.0, BLOCK, StopWhen::AnswerDone, 40.0).unwrap();
        assert!(!a.answer.is_empty(), "an answer after the style changes");
        assert!(
            a.sounding.is_empty(),
            "the last answer ended: {:?}",
            a.sounding
        );
    })
    .unwrap();
}

#[test]
fn no_stuck_notes() {
    run_cases(&[
        ("transport stop", transport_stop),
        ("bypass", bypass),
        ("bypass mid-block", bypass_mid_block),
        ("mode change", mode_change),
        ("channel change", channel_change),
        ("player returns", player_returns),
        ("deactivate", deactivate),
        ("reset", reset),
        ("style change mid-answer", style_change),
    ]);
}
