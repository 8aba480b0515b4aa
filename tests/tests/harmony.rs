//! Harmony on the built bundle (issue 16 part 4): chord notes go out on their own channel, the
//! melody's answer is the same with chords under it, and no chord note is ever left on —
//! transport stop, bypass, a harmony mode change and a chord channel change in the middle of a
//! chord, under the answer and under the player. The bundle is built with
//! `assert_process_allocs`: an allocation on the audio thread aborts the run.

use continuo_host_tests::*;

const SR: f64 = 48_000.0;
const BLOCK: usize = 512;
/// The melody's channel (the *MIDI channel* parameter 5, index 4).
const MELODY: u8 = 4;
/// The chords' channel (the *Chord channel* parameter 2, index 1).
const CHORDS: u8 = 1;

fn setup(entry: &'static PluginEntry, harmony: &str) -> Plugin {
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("source", "MIDI").unwrap();
    p.set_text("channel", "5").unwrap();
    p.set_text("chord-channel", "2").unwrap();
    p.set_text("harmony-mode", harmony).unwrap();
    // Long notes, so one is surely sounding when we cut.
    p.set_text("length-scale", "200").ok();
    p.activate(SR, BLOCK as u32).unwrap();
    std::thread::sleep(model_load_wait());
    p
}

/// Follows NoteOn/NoteOff pairs; fails on a doubled NoteOn.
fn follow(sounding: &mut Vec<(u8, u8)>, notes: &[OutNote], what: &str) {
    for n in notes {
        let k = (n.channel, n.key);
        if n.on {
            assert!(!sounding.contains(&k), "{what}: {n} while it sounds");
            sounding.push(k);
        } else {
            sounding.retain(|&x| x != k);
        }
    }
}

/// Plays the call and stops right after a block that leaves a chord note of the answer
/// sounding; returns what sounds then.
fn chord_sounding(s: &mut Session) -> (Answer, Vec<(u8, u8)>) {
    let a = call_and_answer(s, 120.0, BLOCK, StopWhen::AnswerSounding, 40.0).unwrap();
    let mut sounding = Vec::new();
    follow(&mut sounding, &a.notes, "call and answer");
    assert!(
        sounding.iter().any(|n| n.0 == CHORDS),
        "a chord note sounds with the answer's first note: {:?}",
        a.answer
    );
    (a, sounding)
}

/// Runs `blocks` silent blocks, following the notes; returns what sounds at the end and the
/// notes seen.
fn run_on(
    s: &mut Session,
    blocks: usize,
    sounding: &mut Vec<(u8, u8)>,
    what: &str,
) -> Vec<OutNote> {
    let mut seen = Vec::new();
    for _ in 0..blocks {
        let b = s.process(BLOCK, &[], &[]);
        follow(sounding, &b.notes, what);
        seen.extend(b.notes);
    }
    seen
}

/// With *Chords under the answer*, the melody of the answer keeps the timing it has with harmony
/// off (the same draws: deterministic pauses; only strong-beat pitches may move to a chord
/// tone), and the chords go out on their own channel, starting with the answer, changing on the
/// host's half-bar lines and ending by its end.
fn answer_chords_and_unchanged_melody(entry: &'static PluginEntry) {
    set_deterministic(true);
    let run = |harmony: &str| {
        let mut p = setup(entry, harmony);
        let a = p
            .run(|s| call_and_answer(s, 120.0, BLOCK, StopWhen::AnswerDone, 40.0).unwrap())
            .unwrap();
        p.deactivate();
        a
    };
    let off = run("Off");
    let on = run("Chords under the answer");
    set_deterministic(false);
    let melody = |a: &Answer| -> Vec<(u64, bool, u8, u8)> {
        a.answer
            .iter()
            .filter(|n| n.channel == MELODY)
            .map(|n| (n.time - a.origin, n.on, n.channel, n.key))
            .collect()
    };
    assert!(!melody(&off).is_empty(), "an answer");
    assert!(
        off.answer.iter().all(|n| n.channel == MELODY),
        "no chord with harmony off"
    );
    let timing = |m: Vec<(u64, bool, u8, u8)>| -> Vec<(u64, bool)> {
        m.into_iter().map(|(t, on, _, _)| (t, on)).collect()
    };
    assert_eq!(
        timing(melody(&on)),
        timing(melody(&off)),
        "the melody's timing is the same with chords under it"
    );
    // Strong beats may move to a chord tone, two semitones at most.
    for (a, b) in melody(&on).iter().zip(melody(&off)) {
        assert!((a.3 as i32 - b.3 as i32).abs() <= 2, "{a:?} {b:?}");
    }
    let chords: Vec<&OutNote> = on.answer.iter().filter(|n| n.channel == CHORDS).collect();
    assert!(
        on.answer
            .iter()
            .all(|n| n.channel == MELODY || n.channel == CHORDS),
        "{:?}",
        on.answer
    );
    assert!(chords.len() >= 6, "chords under the answer: {chords:?}");
    let first_melody = on.first_on().unwrap();
    let first_chord = chords.iter().find(|n| n.on).unwrap().time;
    assert_eq!(
        first_chord, first_melody,
        "the first chord starts with the answer"
    );
    let melody_end = on
        .answer
        .iter()
        .filter(|n| n.channel == MELODY && !n.on)
        .map(|n| n.time)
        .max()
        .unwrap();
    assert!(
        chords.iter().all(|n| n.time <= melody_end),
        "chords end by the answer's end"
    );
    // After the first (with the answer's first note, a pickup here: the answer starts at beat
    // 5.75), chord changes fall on the host's half-bar lines (the default harmonic rhythm: every
    // 2 beats of the 4/4 transport), not on the answer's own beats.
    for n in chords.iter().filter(|n| n.on && n.time != first_melody) {
        let beat = on.beat_at(n.time) / 2.0;
        assert!(
            (beat - beat.round()).abs() < 1e-3,
            "chord at transport beat {}, off the half-bar lines",
            beat * 2.0
        );
    }
    pair_notes(&on.answer, false).unwrap();
}

/// A cut in the middle of an answer's chord: everything that sounds ends in that block, and
/// nothing starts afterwards.
fn cut_mid_chord(entry: &'static PluginEntry, what: &str, event: impl Fn(&mut Plugin) -> InEvent) {
    let mut p = setup(entry, "Chords under the answer");
    let ev = event(&mut p);
    let what = what.to_string();
    p.run(move |s| {
        let (_, mut sounding) = chord_sounding(s);
        let chord_notes: Vec<(u8, u8)> =
            sounding.iter().copied().filter(|n| n.0 == CHORDS).collect();
        let b = match ev {
            InEvent::Param { .. } => s.process(BLOCK, &[], &[(0, ev)]),
            _ => {
                s.stop_transport();
                s.process(BLOCK, &[], &[])
            }
        };
        follow(&mut sounding, &b.notes, &what);
        for n in &chord_notes {
            assert!(
                b.notes.iter().any(|o| !o.on && (o.channel, o.key) == *n),
                "{what}: chord note {n:?} released in that block: {:?}",
                b.notes
            );
        }
        assert!(
            b.notes.iter().all(|n| !n.on),
            "{what}: nothing starts: {:?}",
            b.notes
        );
        let later = run_on(s, (10.0 * SR / BLOCK as f64) as usize, &mut sounding, &what);
        assert!(
            later.iter().all(|n| !(n.on && n.channel == CHORDS)),
            "{what}: no chord starts again: {later:?}"
        );
        assert!(sounding.is_empty(), "{what}: left sounding: {sounding:?}");
    })
    .unwrap();
}

fn transport_stop(entry: &'static PluginEntry) {
    cut_mid_chord(entry, "transport stop", |_| InEvent::NoteOn {
        channel: 0,
        key: 0,
        velocity: 0.0,
    });
}

fn bypass(entry: &'static PluginEntry) {
    cut_mid_chord(entry, "bypass", |_| InEvent::Param {
        id: param_hash("bypass"),
        value: 1.0,
    });
}

fn mode_change(entry: &'static PluginEntry) {
    cut_mid_chord(entry, "harmony off", |p| InEvent::Param {
        id: param_hash("harmony-mode"),
        value: p.value_from_text("harmony-mode", "Show chords").unwrap(),
    });
}

fn channel_change(entry: &'static PluginEntry) {
    cut_mid_chord(entry, "chord channel change", |p| InEvent::Param {
        id: param_hash("chord-channel"),
        value: p.value_from_text("chord-channel", "9").unwrap(),
    });
}

/// *Chords under me*: chords follow the call live on the chord channel; a mode change and a
/// transport stop mid-chord end them, and a bar of silence ends them anyway.
fn chords_under_me(entry: &'static PluginEntry) {
    let mut p = setup(entry, "Chords under me");
    p.set_text("mode", "Suggest only").unwrap();
    let off = p.value_from_text("harmony-mode", "Off").unwrap();
    p.run(move |s| {
        // The call, twice: the second time the harmoniser knows the key and the beat.
        let mut sounding = Vec::new();
        let mut chords = 0;
        for round in 0..2 {
            let a = call_and_answer(s, 120.0, BLOCK, StopWhen::AnswerDone, 12.0).unwrap();
            follow(&mut sounding, &a.notes, "under me");
            chords += a
                .notes
                .iter()
                .filter(|n| n.on && n.channel == CHORDS)
                .count();
            assert!(
                a.notes.iter().all(|n| n.channel == CHORDS),
                "round {round}: only chords (Suggest only): {:?}",
                a.notes
            );
            // Silence for two bars: the chord ends.
            run_on(
                s,
                (4.0 * SR / BLOCK as f64) as usize,
                &mut sounding,
                "silence",
            );
            assert!(
                sounding.is_empty(),
                "a bar of silence ends the chord: {sounding:?}"
            );
        }
        assert!(chords >= 3, "chords under the call: {chords}");
        // Mid-chord (right after the call): a mode change ends it in that block.
        let a = call_and_answer(s, 120.0, BLOCK, StopWhen::AnswerDone, 1.0).unwrap();
        let mut sounding = Vec::new();
        follow(&mut sounding, &a.notes, "third");
        assert!(
            sounding.iter().any(|n| n.0 == CHORDS),
            "a chord sounds at the call's end: {:?}",
            a.notes
        );
        let b = s.process(
            BLOCK,
            &[],
            &[(
                0,
                InEvent::Param {
                    id: param_hash("harmony-mode"),
                    value: off,
                },
            )],
        );
        follow(&mut sounding, &b.notes, "harmony off");
        assert!(b.notes.iter().all(|n| !n.on), "{:?}", b.notes);
        assert!(
            sounding.is_empty(),
            "harmony off ends the chord: {sounding:?}"
        );
        let later = run_on(s, 200, &mut Vec::new(), "after off");
        assert!(later.iter().all(|n| !n.on), "nothing starts: {later:?}");
    })
    .unwrap();
}

/// *Chords under me* with the transport stopping in the middle of a chord.
fn under_me_transport_stop(entry: &'static PluginEntry) {
    let mut p = setup(entry, "Chords under me");
    p.set_text("mode", "Suggest only").unwrap();
    p.run(|s| {
        let mut sounding = Vec::new();
        // Twice the call, stopping inside the second while a chord sounds.
        let a = call_and_answer(s, 120.0, BLOCK, StopWhen::AnswerDone, 12.0).unwrap();
        follow(&mut sounding, &a.notes, "first");
        // (The call is always fed whole: this returns right after it.)
        let a = call_and_answer(s, 120.0, BLOCK, StopWhen::AnswerDone, 1.0).unwrap();
        follow(&mut sounding, &a.notes, "second");
        assert!(
            sounding.iter().any(|n| n.0 == CHORDS),
            "a chord sounds inside the call: {:?}",
            a.notes
        );
        s.stop_transport();
        let b = s.process(BLOCK, &[], &[]);
        follow(&mut sounding, &b.notes, "stop");
        assert!(
            sounding.is_empty(),
            "transport stop ends the chord: {sounding:?}"
        );
        let later = run_on(s, 200, &mut sounding, "stopped");
        assert!(later.iter().all(|n| !n.on), "{later:?}");
    })
    .unwrap();
}

/// The Harmony group as a host sees it: its parameters, in their group, choices by name.
fn parameters(entry: &'static PluginEntry) {
    let mut p = Plugin::new(entry).unwrap();
    let params = p.params();
    for (id, default) in [
        ("harmony-mode", "Off"),
        ("chord-channel", "2"),
        ("voicing", "Four-part"),
        ("chord-complexity", "Triads"),
        ("harmonic-rhythm", "Half bar"),
        ("chord-level", "70%"),
    ] {
        let d = params
            .iter()
            .find(|d| d.hash == param_hash(id))
            .unwrap_or_else(|| panic!("{id} is a parameter"));
        assert!(
            d.module.contains("Harmony"),
            "{id} in the Harmony group: {:?}",
            d.module
        );
        assert_eq!(p.get_text(id).as_deref(), Some(default), "{id}");
    }
    for (id, names) in [
        (
            "harmony-mode",
            &[
                "Off",
                "Show chords",
                "Chords under the answer",
                "Chords under me",
            ][..],
        ),
        ("voicing", &["Close", "Open", "Four-part"][..]),
        ("chord-complexity", &["Triads", "Sevenths"][..]),
        ("harmonic-rhythm", &["Per bar", "Half bar", "Beat"][..]),
    ] {
        for name in names {
            p.set_text(id, name).unwrap();
            assert_eq!(
                p.get_text(id).as_deref(),
                Some(*name),
                "{id} shows its names"
            );
        }
    }
}

#[test]
fn harmony() {
    run_cases(&[
        ("parameters", parameters),
        (
            "answer chords, melody timing unchanged",
            answer_chords_and_unchanged_melody,
        ),
        ("transport stop mid-chord", transport_stop),
        ("bypass mid-chord", bypass),
        ("harmony mode change mid-chord", mode_change),
        ("chord channel change mid-chord", channel_change),
        ("chords under me", chords_under_me),
        ("chords under me, transport stop", under_me_transport_stop),
    ]);
}
