//! Call and response with MIDI input: the answer comes after the gap, on the grid, on the
//! configured channel, balanced, within the pitch range — and at the same samples whatever the
//! block size.

use continuo_host_tests::*;
use std::sync::Mutex;
use std::time::Duration;

const SR: f64 = 48_000.0;

fn setup(entry: &'static PluginEntry, block: usize) -> Plugin {
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("source", "MIDI").unwrap();
    p.set_text("mode", "Call & response").unwrap();
    p.set_text("channel", "3").unwrap();
    p.set_text("gap", "1").unwrap();
    p.set_text("grid", "1/16").unwrap();
    // Key parameters: the CLAP value is the MIDI key (0..127, one step per key).
    p.set("low", 48.0).unwrap();
    p.set("high", 84.0).unwrap();
    p.activate(SR, block.max(1) as u32).unwrap();
    // The model thread loads its model as soon as it starts; let it.
    std::thread::sleep(model_load_wait());
    p
}

fn answer(entry: &'static PluginEntry, tempo: f64, block: usize) -> Answer {
    answer_from(entry, tempo, 0.0, block)
}

fn answer_from(entry: &'static PluginEntry, tempo: f64, start_beat: f64, block: usize) -> Answer {
    answer_with(entry, tempo, start_beat, block, &[])
}

/// [`answer_from`] with parameters set (id, text) before the call.
fn answer_with(
    entry: &'static PluginEntry,
    tempo: f64,
    start_beat: f64,
    block: usize,
    set: &[(&str, &str)],
) -> Answer {
    let mut p = setup(entry, block);
    for (id, text) in set {
        p.set_text(id, text).unwrap();
    }
    p.run(move |s| call_and_answer_from(s, tempo, start_beat, block, StopWhen::AnswerDone, 40.0))
        .unwrap()
        .unwrap()
}

/// The call starts on the beat: the gap ends on a grid line.
fn call_response(entry: &'static PluginEntry) {
    check_answer(entry, 0.0);
}

/// The call starts 0.1 beat late: the gap ends between grid lines, the answer waits for the
/// next one.
fn call_response_off_grid(entry: &'static PluginEntry) {
    check_answer(entry, 0.1);
}

fn check_answer(entry: &'static PluginEntry, start_beat: f64) {
    let tempo = 120.0;
    // A phrase of 8 notes (the default follows the call: see `default_answer_in_whole_bars`).
    let a = answer_with(
        entry,
        tempo,
        start_beat,
        512,
        &[("phrase-length", "Notes"), ("length", "8")],
    );
    for n in &a.notes {
        eprintln!("{n}");
    }
    assert!(a.violations.is_empty(), "output events: {:?}", a.violations);
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
    // On a 1/16 line of the host's beat grid, the first one at or after the end of the gap.
    let beat = a.beat_at(first);
    let line = 0.25;
    let k = (beat / line).round();
    assert!(
        (beat - k * line).abs() * a.spb <= 1.0,
        "first NoteOn {first} (beat {beat}) on a 1/16 line (nearest beat {})",
        k * line
    );
    let due_beat = a.beat_at(due);
    let expected = (due_beat / line - 1e-6).ceil() * line;
    assert!(
        (beat - expected).abs() * a.spb <= 1.0,
        "on the first 1/16 line after the gap: beat {beat}, expected {expected} (gap ends at beat {due_beat})"
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
        "RESULT transport starts at beat {start_beat}: call end {} | gap ends {} (beat {:.3}) | first answer NoteOn {} (beat {:.3}) | end of gap -> NoteOn {} samples = {:.2} ms | {} answer notes",
        a.call_end,
        due,
        a.beat_at(due),
        first,
        a.beat_at(first),
        first - due,
        ms,
        pairs.len()
    );
}

/// By default (*Phrase: Follow the call*) the answer spans as many whole bars as the call's last
/// phrase: [`CALL`] runs from beat 1 to 4.75 (one bar, rounded); its answer starts after the
/// gap at beat 5.75, counts its bar from the bar line at beat 8 and closes on beat 3 of that bar
/// (beat 10), its last note ending by the bar line at beat 12. Every note on the 1/16 grid, no
/// two at once.
fn default_answer_in_whole_bars(entry: &'static PluginEntry) {
    let a = answer_from(entry, 120.0, 0.0, 512);
    assert!(a.violations.is_empty(), "output events: {:?}", a.violations);
    let mut pairs = pair_notes(&a.answer, false).unwrap_or_else(|e| panic!("balanced answer: {e}"));
    pairs.sort_by_key(|p| p.0);
    assert!(pairs.len() >= 2, "an answer of a few notes: {pairs:?}");
    let beat = |t: u64| a.beat_at(t);
    let tol = 1.0 / a.spb + 1e-9;
    for w in pairs.windows(2) {
        assert!(w[1].0 > w[0].0, "two notes at once: {pairs:?}");
    }
    for p in &pairs {
        let b = beat(p.0) * 4.0;
        assert!(
            (b - b.round()).abs() <= 4.0 * tol,
            "NoteOn at beat {} off the 1/16 grid",
            b / 4.0
        );
    }
    let first = beat(pairs[0].0);
    let last = pairs.last().unwrap();
    let (last_on, last_off) = (beat(last.0), beat(last.1));
    eprintln!(
        "RESULT default phrase: {} notes, first at beat {first:.3}, last at beat {last_on:.3}          until {last_off:.3}",
        pairs.len()
    );
    assert!(first >= 5.75 - tol, "after the gap: {first}");
    assert!(
        (last_on - 10.0).abs() <= tol,
        "closes on beat 3 of the bar from beat 8: {last_on}"
    );
    assert!(
        last_off <= 12.0 + tol,
        "the close ends by the bar line at 12: {last_off}"
    );
}

/// The host's time signature counts: the same call in 3/4 (bar lines at 0, 3, 6, 9 …) gets an
/// answer that starts after the gap at beat 5.75, counts its bars from the bar line at 6, spans
/// the call's two bars and closes on the downbeat at 9, ending by the bar line at 12 (in 4/4 it
/// closes on beat 10).
fn default_answer_in_three_four(entry: &'static PluginEntry) {
    let mut p = setup(entry, 512);
    let a = p
        .run(|s| {
            s.set_transport(Some(Transport {
                meter: (3, 4),
                ..Transport::playing(120.0)
            }));
            call_and_answer_from(s, 120.0, 0.0, 512, StopWhen::AnswerDone, 40.0)
        })
        .unwrap()
        .unwrap();
    assert!(a.violations.is_empty(), "output events: {:?}", a.violations);
    let mut pairs = pair_notes(&a.answer, false).unwrap_or_else(|e| panic!("balanced answer: {e}"));
    pairs.sort_by_key(|p| p.0);
    assert!(pairs.len() >= 2, "an answer of a few notes: {pairs:?}");
    let tol = 1.0 / a.spb + 1e-9;
    let last = pairs.last().unwrap();
    let (last_on, last_off) = (a.beat_at(last.0), a.beat_at(last.1));
    eprintln!(
        "RESULT 3/4 phrase: {} notes, first at beat {:.3}, last at beat {last_on:.3} until \
         {last_off:.3}",
        pairs.len(),
        a.beat_at(pairs[0].0)
    );
    assert!(
        (last_on - 9.0).abs() <= tol,
        "closes on the downbeat of the bar from beat 9: {last_on}"
    );
    assert!(
        last_off <= 12.0 + tol,
        "ends by the bar line at 12: {last_off}"
    );
}

/// Without a host transport the plugin counts beats from the start of the stream at its own
/// `tempo` parameter: the gap and the grid follow it.
fn internal_tempo(entry: &'static PluginEntry) {
    let tempo = 90.0;
    let mut p = setup(entry, 512);
    p.set_text("tempo", "90").unwrap();
    // The Tempo parameter itself (not free time, which would follow the player's tempo).
    p.set_text("tempo-source", "Host or Tempo").unwrap();
    let sr = SR;
    let spb = sr * 60.0 / tempo;
    let events = phrase_events(&CALL, tempo, sr, 0, 0);
    let call_end = events.last().unwrap().0;
    let fed = p
        .run(move |s| {
            std::thread::sleep(START_PAUSE);
            s.set_transport(None);
            s.feed(Feed {
                events,
                pause_after_events: model_pause(),
                ..Feed::silence(call_end + 1, 512)
            })
            .unwrap();
            // As in `call_and_answer`: the answer to the whole call is ready before the gap.
            std::thread::sleep(ANSWER_WAIT);
            s.feed(Feed::silence((14.0 * spb) as u64, 512)).unwrap()
        })
        .unwrap();
    let pairs = pair_notes(&fed.notes, false).unwrap();
    assert!(!pairs.is_empty(), "an answer without a transport");
    let first = pairs[0].0;
    let due = call_end + spb.round() as u64;
    let beat = first as f64 / spb;
    let expected = ((due as f64 / spb) * 4.0 - 1e-6).ceil() / 4.0;
    eprintln!(
        "RESULT no transport, tempo parameter 90 bpm: call end {call_end}, gap ends {due}, first NoteOn {first} (beat {beat:.4}, expected beat {expected})"
    );
    assert!(
        (beat - expected).abs() * spb <= 1.0,
        "answer on the first 1/16 line (at 90 bpm) after a 1-beat gap: beat {beat}, expected {expected}"
    );
}

/// The host loops: the transport jumps back while the answer plays. Nothing sticks, and every
/// note stays balanced.
fn transport_loop(entry: &'static PluginEntry) {
    let mut p = setup(entry, 256);
    let notes = p
        .run(|s| {
            let a = call_and_answer(s, 120.0, 256, StopWhen::AnswerSounding, 40.0).unwrap();
            let mut notes = a.notes.clone();
            for jump in 0..3 {
                s.set_transport(Some(Transport {
                    beat: 1.0 + jump as f64,
                    ..Transport::playing(120.0)
                }));
                for _ in 0..200 {
                    notes.extend(s.process(256, &[], &[]).notes);
                }
            }
            s.stop_transport();
            notes.extend(s.process(256, &[], &[]).notes);
            notes
        })
        .unwrap();
    pair_notes(&notes, false).unwrap_or_else(|e| panic!("after loop jumps: {e}"));
}

/// Plays `before` (absolute times from the stream start, 512-sample blocks, transport playing
/// at 120 bpm), then the usual call, and returns the answer.
fn answer_after(entry: &'static PluginEntry, before: Vec<(u64, InEvent)>, len: u64) -> Answer {
    let mut p = setup(entry, 512);
    p.run(move |s| {
        s.set_transport(Some(Transport::playing(120.0)));
        s.feed(Feed {
            events: before,
            pause_after_events: model_pause(),
            ..Feed::silence(len, 512)
        })
        .unwrap();
        call_and_answer_from(
            s,
            120.0,
            len as f64 / 24_000.0,
            512,
            StopWhen::AnswerDone,
            40.0,
        )
        .unwrap()
    })
    .unwrap()
}

/// A note played in the very first block after the host starts processing is part of the call.
///
/// nice-plug calls `reset()` from `start_processing`; the plugin then sends `Reset` to the model
/// thread, which handles a poll's player notes *before* its status messages — so when the first
/// NoteOn reaches the same poll as the Reset, the Reset wipes that note (and `heard_until`). A
/// call of a single note then gets no answer at all. (The model thread polls every 3 ms, so the
/// race is likely, not certain: the case plays it 3 times on fresh instances.)
fn note_right_after_start(entry: &'static PluginEntry) {
    let mut lost = 0;
    for attempt in 0..3 {
        let mut p = setup(entry, 512);
        let notes = p
            .run(|s| {
                s.set_transport(Some(Transport::playing(120.0)));
                let mut notes = vec![];
                // No pause: the first block carries the NoteOn.
                let on = (
                    0,
                    InEvent::NoteOn {
                        channel: 0,
                        key: 64,
                        velocity: 0.8,
                    },
                );
                notes.extend(s.process(512, &[], &[on]).notes);
                std::thread::sleep(model_pause());
                for _ in 0..22 {
                    notes.extend(s.process(512, &[], &[]).notes);
                }
                let off = (
                    0,
                    InEvent::NoteOff {
                        channel: 0,
                        key: 64,
                    },
                );
                notes.extend(s.process(512, &[], &[off]).notes);
                std::thread::sleep(model_pause());
                // Four beats of silence, no faster than 4× real time.
                for _ in 0..188 {
                    notes.extend(s.process(512, &[], &[]).notes);
                    std::thread::sleep(Duration::from_micros(2_700));
                }
                notes
            })
            .unwrap();
        let answered = notes.iter().any(|n| n.on);
        eprintln!("attempt {attempt}: {} output notes", notes.len());
        if !answered {
            lost += 1;
        }
    }
    assert_eq!(
        lost, 0,
        "{lost} of 3 one-note calls played in the first block after start_processing got no \
         answer: the model thread applied the Reset sent by start_processing after the NoteOn of \
         the same poll and forgot the note"
    );
}

/// A one-note call a little after the start gets its answer (control for the case above).
fn one_note_call(entry: &'static PluginEntry) {
    let mut p = setup(entry, 512);
    let notes = p
        .run(|s| {
            std::thread::sleep(START_PAUSE);
            s.set_transport(Some(Transport::playing(120.0)));
            let mut notes = vec![];
            let on = (
                0,
                InEvent::NoteOn {
                    channel: 0,
                    key: 64,
                    velocity: 0.8,
                },
            );
            notes.extend(s.process(512, &[], &[on]).notes);
            std::thread::sleep(model_pause());
            for _ in 0..22 {
                notes.extend(s.process(512, &[], &[]).notes);
            }
            let off = (
                0,
                InEvent::NoteOff {
                    channel: 0,
                    key: 64,
                },
            );
            notes.extend(s.process(512, &[], &[off]).notes);
            std::thread::sleep(model_pause());
            for _ in 0..188 {
                notes.extend(s.process(512, &[], &[]).notes);
                std::thread::sleep(Duration::from_micros(2_700));
            }
            notes
        })
        .unwrap();
    assert!(notes.iter().any(|n| n.on), "a one-note call gets an answer");
}

/// Control for the next cases: a key pressed and released normally before the call.
fn key_before_call(entry: &'static PluginEntry) {
    let before = vec![
        (
            1000,
            InEvent::NoteOn {
                channel: 0,
                key: 55,
                velocity: 0.8,
            },
        ),
        (
            20_000,
            InEvent::NoteOff {
                channel: 0,
                key: 55,
            },
        ),
    ];
    let a = answer_after(entry, before, 48_000);
    assert!(a.answer.iter().any(|n| n.on), "an answer to the call");
}

/// A key held while the host bypasses the plugin and released during the bypass must not
/// leave Continuo believing the player still holds it (it would never answer again).
fn bypass_while_key_held(entry: &'static PluginEntry) {
    let bypass = param_hash("bypass");
    let before = vec![
        (
            1000,
            InEvent::NoteOn {
                channel: 0,
                key: 55,
                velocity: 0.8,
            },
        ),
        (
            10_000,
            InEvent::Param {
                id: bypass,
                value: 1.0,
            },
        ),
        (
            20_000,
            InEvent::NoteOff {
                channel: 0,
                key: 55,
            },
        ),
        (
            30_000,
            InEvent::Param {
                id: bypass,
                value: 0.0,
            },
        ),
    ];
    let a = answer_after(entry, before, 48_000);
    let ons = a.answer.iter().filter(|n| n.on).count();
    assert!(
        ons > 0,
        "after a key was released during bypass, the next call gets no answer ({} output notes \
         in all): the player's NoteOff never reached playback, so it still counts the key as held",
        a.notes.len()
    );
}

/// The same, when the input source changes from MIDI to audio and back while a key is held.
fn source_change_while_key_held(entry: &'static PluginEntry) {
    let source = param_hash("source");
    let mut p = Plugin::new(entry).unwrap();
    let audio_v = p.value_from_text("source", "Audio").unwrap();
    let midi_v = p.value_from_text("source", "MIDI").unwrap();
    drop(p);
    let before = vec![
        (
            1000,
            InEvent::NoteOn {
                channel: 0,
                key: 55,
                velocity: 0.8,
            },
        ),
        (
            10_000,
            InEvent::Param {
                id: source,
                value: audio_v,
            },
        ),
        (
            20_000,
            InEvent::NoteOff {
                channel: 0,
                key: 55,
            },
        ),
        (
            30_000,
            InEvent::Param {
                id: source,
                value: midi_v,
            },
        ),
    ];
    let a = answer_after(entry, before, 48_000);
    assert!(
        a.answer.iter().any(|n| n.on),
        "after a key was released while the source was Audio, the next MIDI call gets no answer"
    );
}

/// A doubled NoteOn (two controllers, or a host merging tracks) followed by one NoteOff
/// releases the key in MIDI terms; Continuo must still answer the next call.
fn doubled_note_on(entry: &'static PluginEntry) {
    let before = vec![
        (
            1000,
            InEvent::NoteOn {
                channel: 0,
                key: 55,
                velocity: 0.8,
            },
        ),
        (
            6000,
            InEvent::NoteOn {
                channel: 0,
                key: 55,
                velocity: 0.8,
            },
        ),
        (
            20_000,
            InEvent::NoteOff {
                channel: 0,
                key: 55,
            },
        ),
    ];
    let a = answer_after(entry, before, 48_000);
    assert!(
        a.answer.iter().any(|n| n.on),
        "after NoteOn, NoteOn, NoteOff on one key, the next call gets no answer"
    );
}

/// Answer notes as (time, on, channel, key).
fn signature(a: &Answer) -> Vec<(u64, bool, u8, u8)> {
    a.answer
        .iter()
        .map(|n| (n.time, n.on, n.channel, n.key))
        .collect()
}

fn keys(a: &Answer) -> Vec<u8> {
    a.answer.iter().filter(|n| n.on).map(|n| n.key).collect()
}

fn times(a: &Answer) -> Vec<(u64, bool)> {
    a.answer.iter().map(|n| (n.time, n.on)).collect()
}

/// The runs of the determinism case, for the tempo comparison.
static RUNS: Mutex<Vec<(f64, usize, Answer)>> = Mutex::new(Vec::new());

/// The same call, block sizes 1…4096, at 60/120/174 bpm: per tempo, the answer's note times are
/// identical to the sample (pitches are compared too and reported).
///
/// The model thread runs asynchronously and its sampler is seeded per instance, advancing with
/// every phrase it draws; the host therefore pauses [`DETERMINISTIC_PAUSE`] after each block carrying a
/// player note, so the model sees every note on its own in every run. On a heavily loaded machine
/// the model thread may still miss a pause; a mismatch is therefore re-run once (reference and
/// candidate) before it counts — a block-size bug would show again.
fn determinism(entry: &'static PluginEntry) {
    set_deterministic(true);
    let plan: &[(f64, &[usize])] = &[
        (120.0, &[512, 1, 64, 4096]),
        (60.0, &[512, 4096]),
        (174.0, &[512, 64, 4096]),
    ];
    let mut failures = vec![];
    let mut inconclusive = 0;
    let mut runs = vec![];
    for &(tempo, blocks) in plan {
        let mut reference: Option<(usize, Answer)> = None;
        let reference_index = runs.len();
        for &block in blocks {
            let t0 = std::time::Instant::now();
            let mut a = answer(entry, tempo, block);
            let on = a.answer.iter().filter(|n| n.on).count();
            eprintln!(
                "{tempo} bpm, block {block}: {on} answer notes, first at {:?} ({:.1} s)",
                a.first_on(),
                t0.elapsed().as_secs_f64()
            );
            if let Err(e) = pair_notes(&a.answer, false) {
                failures.push(format!("{tempo} bpm block {block}: {e}"));
            }
            if on == 0 {
                failures.push(format!("{tempo} bpm block {block}: no answer"));
            }
            match &mut reference {
                None => reference = Some((block, a.clone())),
                Some((rb, r)) => {
                    if times(r) != times(&a) {
                        eprintln!(
                            "{tempo} bpm block {block}: differs from block {rb}; running both again"
                        );
                        let r2 = answer(entry, tempo, *rb);
                        let a2 = answer(entry, tempo, block);
                        if times(&r2) == times(&a2) {
                            eprintln!(
                                "{tempo} bpm block {block}: identical to block {rb} on the second try \
                                 (the model thread missed a pause the first time)"
                            );
                            runs[reference_index] = (tempo, *rb, r2.clone());
                            *r = r2;
                            a = a2;
                        } else if keys(&a2) != keys(&r2) {
                            // Different pitches too: the model drew another phrase (its thread
                            // was starved past the pauses on a very busy machine) — that says
                            // nothing about block sizes. Same pitches at other times would.
                            eprintln!(
                                "WARNING {tempo} bpm block {block}: the model drew a different \
                                 phrase than for block {rb} twice (scheduling on a busy machine); \
                                 inconclusive, not counted:\n    {:?}\n vs {:?}",
                                signature(&a2),
                                signature(&r2)
                            );
                            inconclusive += 1;
                            continue;
                        } else {
                            failures.push(format!(
                                "{tempo} bpm: the same phrase at other times with block {block} than with block {rb} (twice):\n    {:?}\n vs {:?}",
                                times(&a2),
                                times(&r2)
                            ));
                            continue;
                        }
                    }
                    if signature(r) != signature(&a) {
                        eprintln!("{tempo} bpm block {block}: same times as block {rb}, different pitches");
                    } else {
                        eprintln!(
                            "{tempo} bpm block {block}: identical to block {rb} (times and pitches)"
                        );
                    }
                }
            }
            runs.push((tempo, block, a));
        }
    }
    *RUNS.lock().unwrap() = runs;
    set_deterministic(false);
    assert!(
        inconclusive <= 2,
        "{inconclusive} comparisons inconclusive: the machine is too busy"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Across tempi the same quantised call gets an answer at the same musical time: measured from
/// the call's end, in beats, within one sample.
fn same_answer_in_beats_across_tempi(entry: &'static PluginEntry) {
    if RUNS.lock().unwrap().is_empty() {
        determinism(entry);
    }
    let runs = RUNS.lock().unwrap().clone();
    let in_beats = |a: &Answer| -> Vec<(f64, bool, u8)> {
        a.answer
            .iter()
            .map(|n| ((n.time - a.call_end) as f64 / a.spb, n.on, n.key))
            .collect()
    };
    let mut failures = vec![];
    let (rt, rb, r) = &runs[0];
    for (tempo, block, a) in &runs {
        let (x, y) = (in_beats(r), in_beats(a));
        let same_len = x.len() == y.len();
        let close = same_len
            && x.iter().zip(&y).all(|(p, q)| {
                p.1 == q.1 && ((p.0 - q.0).abs() * a.spb.min(r.spb)) <= 1.0 + 1e-9 * a.spb
            });
        let pitches = same_len && x.iter().zip(&y).all(|(p, q)| p.2 == q.2);
        eprintln!(
            "{tempo} bpm block {block} vs {rt} bpm block {rb}: times in beats {}, pitches {}",
            if close {
                "match (±1 sample)"
            } else {
                "DIFFER"
            },
            if pitches { "match" } else { "differ" }
        );
        if !close {
            let first = |v: &[(f64, bool, u8)]| v.first().map(|n| n.0).unwrap_or(f64::NAN);
            let (fy, fx) = (first(&y), first(&x));
            let gap_end = |a: &Answer| a.beat_at(a.call_end + a.spb.round() as u64);
            failures.push(format!(
                "{tempo} bpm block {block}: the answer starts {fy:.5} beat after the call's end \
                 vs {fx:.5} at {rt} bpm (the gap ends at beat {:.6} vs {:.6}; the call's last \
                 NoteOff and the gap are whole samples, so at {tempo} bpm the gap's end falls a \
                 fraction of a sample after the 1/16 line and the answer moves a whole grid step \
                 later).\n    answer in beats: {y:?}\n    at {rt} bpm:     {x:?}",
                gap_end(a),
                gap_end(r),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn call_and_response() {
    run_cases(&[
        ("call & response", call_response),
        ("call & response off the grid", call_response_off_grid),
        ("default answer in whole bars", default_answer_in_whole_bars),
        ("default answer in 3/4", default_answer_in_three_four),
        ("no transport: internal tempo", internal_tempo),
        ("transport loop jumps", transport_loop),
        ("one-note call (control)", one_note_call),
        ("note right after start_processing", note_right_after_start),
        ("a key before the call (control)", key_before_call),
        ("bypass while a key is held", bypass_while_key_held),
        (
            "source change while a key is held",
            source_change_while_key_held,
        ),
        ("doubled NoteOn", doubled_note_on),
        ("determinism across block sizes", determinism),
        (
            "same answer in beats across tempi",
            same_answer_in_beats_across_tempi,
        ),
    ]);
}
