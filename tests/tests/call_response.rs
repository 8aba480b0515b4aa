//! Call and response with MIDI input: the answer comes after the gap, on the grid, on the
//! configured channel, balanced, within the pitch range — and at the same samples whatever the
//! block size.

use continuo_host_tests::*;
use std::time::Duration;

const SR: f64 = 48_000.0;

fn setup(entry: &'static PluginEntry, block: usize) -> Plugin {
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("source", "MIDI").unwrap();
    p.set_text("mode", "Call & response").unwrap();
    p.set_text("channel", "3").unwrap();
    p.set_text("gap", "1").unwrap();
    p.set_text("grid", "1/16").unwrap();
    p.set_text("low", "48").unwrap();
    p.set_text("high", "84").unwrap();
    p.activate(SR, block.max(1) as u32).unwrap();
    // The model thread loads its model as soon as it starts; let it.
    std::thread::sleep(Duration::from_millis(50));
    p
}

fn answer(entry: &'static PluginEntry, tempo: f64, block: usize) -> Answer {
    let mut p = setup(entry, block);
    p.run(move |s| call_and_answer(s, tempo, block, StopWhen::AnswerDone, 40.0))
        .unwrap()
        .unwrap()
}

fn call_response(entry: &'static PluginEntry) {
    let tempo = 120.0;
    let a = answer(entry, tempo, 512);
    for n in &a.notes {
        eprintln!("{n}");
    }
    let pairs = pair_notes(&a.answer, false).unwrap_or_else(|e| panic!("balanced answer: {e}"));
    assert!(!pairs.is_empty(), "an answer arrives after the call");
    let first = a.first_on().unwrap();
    let gap = a.spb.round() as u64; // 1 beat
    let due = a.call_end + gap;
    assert!(
        first >= due,
        "first NoteOn {first} after the call's end {} + gap {gap}",
        a.call_end
    );
    // On a 1/16 line of the host's beat grid (transport at beat 0 on sample 0).
    let line = a.spb / 4.0;
    let k = (first as f64 / line).round();
    assert!(
        (first as f64 - k * line).abs() <= 1.0,
        "first NoteOn {first} on a 1/16 line (nearest {})",
        k * line
    );
    assert!(
        first as f64 <= due as f64 + line + 1.0,
        "on the first line after the gap"
    );
    for (on, off, ch, key, vel) in &pairs {
        assert_eq!(*ch, 2, "channel 3 (index 2)");
        assert!((48..=84).contains(key), "key {key} in the range 48..84");
        assert!(off > on, "positive length");
        assert!(*vel > 0.0 && *vel <= 1.0, "velocity {vel}");
    }
    assert!(pairs.len() <= 8, "at most the phrase length (8 notes)");
    let ms = (first - due) as f64 / SR * 1000.0;
    eprintln!(
        "RESULT call end {} | gap ends {} | first answer NoteOn {} | end of gap -> NoteOn {} samples = {:.2} ms | {} answer notes",
        a.call_end,
        due,
        first,
        first - due,
        ms,
        pairs.len()
    );
}

/// Answer notes as (time, on, channel, key), and their times in beats from the call's end.
fn signature(a: &Answer) -> Vec<(u64, bool, u8, u8)> {
    a.answer
        .iter()
        .map(|n| (n.time, n.on, n.channel, n.key))
        .collect()
}

fn determinism(entry: &'static PluginEntry) {
    let mut runs: Vec<(f64, usize, Answer)> = vec![];
    let plan: &[(f64, &[usize])] = &[
        (120.0, &[512, 1, 64, 4096]),
        (60.0, &[512, 4096]),
        (174.0, &[512, 64, 4096]),
    ];
    let mut failures = vec![];
    for &(tempo, blocks) in plan {
        let mut reference: Option<(usize, Answer)> = None;
        for &block in blocks {
            let t0 = std::time::Instant::now();
            let a = answer(entry, tempo, block);
            let on = a.answer.iter().filter(|n| n.on).count();
            eprintln!(
                "{tempo} bpm, block {block}: {on} answer notes, first at {:?} ({:.1} s)",
                a.first_on(),
                t0.elapsed().as_secs_f64()
            );
            if let Err(e) = pair_notes(&a.answer, false) {
                failures.push(format!("{tempo} bpm block {block}: {e}"));
            }
            match &reference {
                None => reference = Some((block, a.clone())),
                Some((rb, r)) => {
                    let times = |a: &Answer| -> Vec<(u64, bool)> {
                        a.answer.iter().map(|n| (n.time, n.on)).collect()
                    };
                    if times(r) != times(&a) {
                        failures.push(format!(
                            "{tempo} bpm: note times with block {block} differ from block {rb}:\n    {:?}\n vs {:?}",
                            times(&a),
                            times(r)
                        ));
                    } else if signature(r) != signature(&a) {
                        eprintln!("{tempo} bpm block {block}: same times, different pitches");
                    } else {
                        eprintln!("{tempo} bpm block {block}: identical to block {rb} (times and pitches)");
                    }
                }
            }
            runs.push((tempo, block, a));
        }
    }
    // Across tempi the answer has the same shape in beats (±1 sample).
    let in_beats = |a: &Answer| -> Vec<(f64, bool, u8)> {
        a.answer
            .iter()
            .map(|n| ((n.time - a.call_end) as f64 / a.spb, n.on, n.key))
            .collect()
    };
    let r = &runs[0].2;
    for (tempo, block, a) in &runs {
        let (x, y) = (in_beats(r), in_beats(a));
        let same_len = x.len() == y.len();
        let close = same_len
            && x.iter().zip(&y).all(|(p, q)| {
                p.1 == q.1 && ((p.0 - q.0).abs() * a.spb.min(r.spb)) <= 1.0 + 1e-9 * a.spb
            });
        let pitches = same_len && x.iter().zip(&y).all(|(p, q)| p.2 == q.2);
        eprintln!(
            "{tempo} bpm block {block} vs 120 bpm block 512: times in beats {}, pitches {}",
            if close {
                "match (±1 sample)"
            } else {
                "DIFFER"
            },
            if pitches { "match" } else { "differ" }
        );
        if !close {
            failures.push(format!(
                "{tempo} bpm block {block}: answer rhythm in beats differs from 120 bpm: {y:?} vs {x:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn call_and_response() {
    run_cases(&[
        ("call & response", call_response),
        ("determinism", determinism),
    ]);
}
