//! The debug bundle is built with nice-plug's `assert_process_allocs`: an allocation on the
//! audio thread aborts the whole process (SIGABRT). The rest of the suite running to completion
//! is the main proof; this test additionally runs a busy session — MIDI thru, audio, the model
//! answering, parameter changes — in a child process and checks that it exits normally.

use continuo_host_tests::*;

const CHILD_ENV: &str = "CONTINUO_ALLOC_CHILD";

/// The child's work: everything the audio thread does in normal use.
fn busy_session() {
    let Some(entry) = entry() else { return };
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("source", "Both").unwrap();
    p.set_text("midi-thru", "On").unwrap();
    p.activate(48_000.0, 512).unwrap();
    std::thread::sleep(model_load_wait());
    let sr = 48_000.0;
    let audio = test_audio(sr, 4 * 48_000, 2, 21);
    let mut events = phrase_events(&CALL, 120.0, sr, 0, 0);
    events.push((
        60_000,
        InEvent::Param {
            id: param_hash("transpose"),
            value: 40.0,
        },
    ));
    events.push((
        61_000,
        InEvent::Param {
            id: param_hash("gap"),
            value: 0.1,
        },
    ));
    let fed = p
        .feed(Feed {
            audio,
            events,
            keep_audio: true,
            pause_after_events: model_pause(),
            ..Feed::silence(4 * 48_000, 512)
        })
        .unwrap();
    let answer = p
        .run(|s| {
            s.set_transport(Some(Transport::playing(120.0)));
            call_and_answer(s, 120.0, 256, StopWhen::AnswerDone, 40.0)
        })
        .unwrap()
        .unwrap();
    p.run(|s| {
        s.stop_transport();
        s.process(512, &[], &[]);
        s.reset();
        s.process(512, &[], &[]);
    })
    .unwrap();
    p.deactivate();
    println!(
        "CHILD DONE: {} thru/answer events while playing audio, {} in the MIDI call and response",
        fed.notes.len(),
        answer.notes.len()
    );
}

#[test]
fn audio_thread_never_allocates() {
    if std::env::var_os(CHILD_ENV).is_some() {
        busy_session();
        return;
    }
    run_in_child(
        "audio_thread_never_allocates",
        CHILD_ENV,
        "6 = SIGABRT: an allocation on the audio thread",
    );
}
