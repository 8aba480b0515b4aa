//! The response parameters, through the host: suggest only + Play, grid off, the gap, transpose,
//! note length, swing, velocity source, continuous mode.
//!
//! The model thread is seeded per instance and the host pauses after every player note (see
//! `DETERMINISTIC_PAUSE`), so the same call draws the same phrase in every fresh instance: a parameter's
//! effect shows as a difference against the reference answer.

use continuo_host_tests::*;
use std::time::Duration;

const SR: f64 = 48_000.0;
const TEMPO: f64 = 120.0;
const SPB: f64 = SR * 60.0 / TEMPO;

fn plugin(entry: &'static PluginEntry, settings: &[(&str, &str)]) -> Plugin {
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("source", "MIDI").unwrap();
    for (id, text) in settings {
        p.set_text(id, text)
            .unwrap_or_else(|e| panic!("{id} = {text}: {e}"));
    }
    p.activate(SR, 512).unwrap();
    std::thread::sleep(model_load_wait());
    p
}

fn answer(entry: &'static PluginEntry, settings: &[(&str, &str)]) -> Answer {
    let mut p = plugin(entry, settings);
    let a = p
        .run(|s| call_and_answer(s, TEMPO, 512, StopWhen::AnswerDone, 40.0))
        .unwrap()
        .unwrap();
    assert!(a.violations.is_empty(), "{:?}", a.violations);
    pair_notes(&a.answer, false).unwrap_or_else(|e| panic!("{settings:?}: {e}"));
    a
}

fn pairs(a: &Answer) -> Vec<Played> {
    pair_notes(&a.answer, false).unwrap()
}

/// The pitches of an answer relative to its first note (the phrase's identity, whatever the
/// transpose).
fn contour(p: &[Played]) -> Vec<i32> {
    p.iter().map(|n| n.3 as i32 - p[0].3 as i32).collect()
}

/// Answers with settings `a` and `b`; when they are not the same phrase (the model thread
/// missed a pause on a busy machine), runs both once more.
fn answer_pair(
    entry: &'static PluginEntry,
    a: &[(&str, &str)],
    b: &[(&str, &str)],
) -> (Vec<Played>, Vec<Played>) {
    let mut x = pairs(&answer(entry, a));
    let mut y = pairs(&answer(entry, b));
    if x.is_empty() || y.is_empty() || x.len() != y.len() || contour(&x) != contour(&y) {
        eprintln!("{a:?} vs {b:?}: different phrases drawn, running both again");
        x = pairs(&answer(entry, a));
        y = pairs(&answer(entry, b));
    }
    (x, y)
}

fn gap_end(a: &Answer, beats: f64) -> u64 {
    a.call_end + (beats * SPB).round() as u64
}

fn grid_off_and_gap(entry: &'static PluginEntry) {
    // The call starts 0.1 beat off the grid; with the grid off the answer starts right at the
    // end of the gap.
    for gap in ["0.25", "2"] {
        let mut p = plugin(entry, &[("grid", "Off"), ("gap", gap)]);
        let a = p
            .run(|s| call_and_answer_from(s, TEMPO, 0.1, 512, StopWhen::AnswerDone, 40.0))
            .unwrap()
            .unwrap();
        let g: f64 = gap.parse().unwrap();
        let first = a.first_on().expect("an answer");
        eprintln!(
            "grid off, gap {gap}: gap ends {}, first NoteOn {first}",
            gap_end(&a, g)
        );
        assert_eq!(
            first,
            gap_end(&a, g),
            "grid off: the answer starts when the {gap}-beat gap ends"
        );
    }
}

fn transpose_and_length(entry: &'static PluginEntry) {
    set_deterministic(true);
    let (r, t) = answer_pair(entry, &[], &[("transpose", "5")]);
    let (r2, l) = answer_pair(entry, &[], &[("length-scale", "50")]);
    set_deterministic(false);
    assert_eq!(r, r2, "the reference answer is the same in both pairs");
    eprintln!("reference {r:?}\ntransposed {t:?}\nhalf length {l:?}");
    assert_eq!(r.len(), t.len(), "same phrase length");
    for (x, y) in r.iter().zip(&t) {
        assert_eq!((x.0, x.1), (y.0, y.1), "transpose keeps the times");
        assert_eq!(x.3 + 5, y.3, "transpose +5");
    }
    assert_eq!(r.len(), l.len());
    for (x, y) in r.iter().zip(&l) {
        assert_eq!(x.0, y.0, "note length keeps the onsets");
        assert_eq!(x.3, y.3, "note length keeps the pitches");
        let (lx, ly) = ((x.1 - x.0) as f64, (y.1 - y.0) as f64);
        assert!(
            (ly - lx * 0.5).abs() <= 2.0 || ly < lx,
            "50% note length: {ly} vs {lx} samples"
        );
    }
}

fn swing(entry: &'static PluginEntry) {
    let (r, s) = answer_pair(
        entry,
        &[("grid", "1/8")],
        &[("grid", "1/8"), ("swing", "50")],
    );
    eprintln!("straight {r:?}\nswung {s:?}");
    assert_eq!(r.len(), s.len());
    let eighth = SPB / 2.0;
    let mut swung = 0;
    for (x, y) in r.iter().zip(&s) {
        let off_beat = ((x.0 as f64 / eighth).round() as i64).rem_euclid(2) == 1;
        if off_beat {
            let d = y.0 as f64 - x.0 as f64;
            assert!(
                (d - 0.5 * eighth).abs() <= 1.0,
                "off-beat delayed by half an eighth: {d}"
            );
            swung += 1;
        } else {
            assert_eq!(x.0, y.0, "on-beat notes stay");
        }
    }
    eprintln!("{swung} off-beat notes swung");
}

fn velocity_source(entry: &'static PluginEntry) {
    // The call is played at velocity 0.8; "Follow player" answers around it, with a contour
    // (accents, an arch over the phrase); with the contour at 0, every note at the player's level.
    let follow = pairs(&answer(entry, &[("velocity", "Follow player")]));
    let mean = follow.iter().map(|n| n.4).sum::<f64>() / follow.len().max(1) as f64;
    assert!(
        (mean - 0.8).abs() < 0.08,
        "follows the player's 0.8: {mean}"
    );
    for n in &follow {
        assert!((n.4 - 0.8).abs() < 0.2, "near the player's 0.8: {}", n.4);
    }
    let flat = pairs(&answer(
        entry,
        &[("velocity", "Follow player"), ("dynamics", "0")],
    ));
    for n in &flat {
        assert!(
            (n.4 - 0.8).abs() < 0.02,
            "no contour: the player's 0.8: {}",
            n.4
        );
    }
    let model = pairs(&answer(entry, &[("velocity", "Model")]));
    eprintln!(
        "velocities: follow {:?}, model {:?}",
        follow.iter().map(|n| n.4).collect::<Vec<_>>(),
        model.iter().map(|n| n.4).collect::<Vec<_>>()
    );
    assert!(model.iter().all(|n| n.4 > 0.0 && n.4 <= 1.0));
}

fn suggest_only_and_play(entry: &'static PluginEntry) {
    let mut p = plugin(entry, &[("mode", "Suggest only")]);
    let play = param_hash("play");
    let (a, played) = p
        .run(move |s| {
            let a = call_and_answer(s, TEMPO, 512, StopWhen::AnswerDone, 12.0).unwrap();
            // Nothing was played; now press Play (the parameter's off -> on edge).
            let pressed = s.pos;
            let mut notes = vec![];
            notes.extend(
                s.process(
                    512,
                    &[],
                    &[(
                        0,
                        InEvent::Param {
                            id: play,
                            value: 1.0,
                        },
                    )],
                )
                .notes,
            );
            for _ in 0..400 {
                notes.extend(s.process(512, &[], &[]).notes);
            }
            (a, (pressed, notes))
        })
        .unwrap();
    assert!(
        a.answer.is_empty(),
        "suggest only: no answer by itself: {:?}",
        a.answer
    );
    let (pressed, notes) = played;
    let ps = pair_notes(&notes, false).unwrap();
    assert!(!ps.is_empty(), "Play plays the suggestion");
    let first = ps[0].0;
    let line = SPB / 4.0;
    let expected = ((pressed as f64 / line) - 1e-6).ceil() * line;
    eprintln!("Play pressed at {pressed}, first NoteOn {first} (next 1/16 line {expected})");
    assert!(
        (first as f64 - expected).abs() <= 1.0,
        "starts on the next 1/16 line after Play"
    );
}

fn continuous(entry: &'static PluginEntry) {
    let mut p = plugin(entry, &[("mode", "Continuous")]);
    let notes = p
        .run(|s| {
            let a = call_and_answer(s, TEMPO, 512, StopWhen::AnswerSounding, 40.0).unwrap();
            let mut notes = a.notes.clone();
            // Keep going for 24 beats, then stop the transport.
            for _ in 0..(24.0 * SPB / 512.0) as usize {
                notes.extend(s.process(512, &[], &[]).notes);
                std::thread::sleep(Duration::from_micros(500));
            }
            s.stop_transport();
            let stopped_at = s.pos;
            notes.extend(s.process(512, &[], &[]).notes);
            // One second with the transport stopped: nothing may start.
            for _ in 0..94 {
                let b = s.process(512, &[], &[]);
                assert!(
                    b.notes.iter().all(|n| !n.on),
                    "continuous mode: transport stopped at sample {stopped_at}, yet a new phrase \
                     starts: {:?}",
                    b.notes
                );
                notes.extend(b.notes);
            }
            notes
        })
        .unwrap();
    let ps = pair_notes(&notes, false).unwrap_or_else(|e| panic!("continuous: {e}"));
    let after_call = ps.iter().filter(|n| n.0 > 120_000).count();
    eprintln!("continuous: {after_call} notes after the call");
    assert!(
        after_call > 8,
        "continuous mode keeps playing past one phrase: {after_call} notes"
    );
}

#[test]
fn response_parameters() {
    run_cases(&[
        ("grid off and gap", grid_off_and_gap),
        ("transpose and note length", transpose_and_length),
        ("swing", swing),
        ("velocity source", velocity_source),
        ("suggest only and Play", suggest_only_and_play),
        ("continuous", continuous),
    ]);
}
