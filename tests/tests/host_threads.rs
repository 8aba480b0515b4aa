//! Hosts call the plugin from threads whose stacks are much smaller than a test's: Ardour 7
//! activates a VST3 plugin on its process thread (512 KiB of stack) whenever it connects the
//! plugin's inputs, and macOS gives every thread but the main one 512 KiB. Continuo once needed
//! more than that to activate (the analyser's state was built on the stack) and took Ardour down
//! with a stack overflow the moment a track played.
//!
//! A stack overflow kills the whole process, so the session runs in a child process and the
//! test checks that the child exits normally.

use continuo_host_tests::*;

const CHILD_ENV: &str = "CONTINUO_SMALL_STACK_CHILD";

/// The child's work, all on one thread with a host's stack: instantiate, activate, play, and
/// activate again the way Ardour does when it rewires a plugin (deactivate, activate).
fn small_stack_session() {
    let Some(entry) = entry() else { return };
    let worker = std::thread::Builder::new()
        .name("host-with-small-stack".into())
        .stack_size(AUDIO_THREAD_STACK)
        .spawn(move || {
            let mut p = Plugin::new(entry).unwrap();
            p.set_text("source", "Both").unwrap();
            p.set_text("midi-thru", "On").unwrap();
            let sr = 48_000.0;
            let mut played = 0;
            for round in 0..2 {
                p.activate(sr, 512).unwrap();
                let audio = test_audio(sr, 48_000, 2, 7 + round);
                let fed = p
                    .feed(Feed {
                        audio,
                        keep_audio: true,
                        ..Feed::silence(48_000, 512)
                    })
                    .unwrap();
                assert_eq!(fed.errors, 0, "process errors");
                played += fed.audio[0].len();
                p.deactivate();
            }
            played
        })
        .expect("spawn the host thread");
    let played = worker.join().expect("the host thread finished");
    println!("CHILD DONE: {played} samples played over two activations");
}

#[test]
fn activates_and_plays_on_a_host_thread_with_512_kib_of_stack() {
    if std::env::var_os(CHILD_ENV).is_some() {
        small_stack_session();
        return;
    }
    run_in_child(
        "activates_and_plays_on_a_host_thread_with_512_kib_of_stack",
        CHILD_ENV,
        "a stack overflow aborts with SIGABRT or SIGSEGV",
    );
}

/// The scheduling policy of this process's thread named `name` (`/proc/self/task/*/stat`,
/// field 41), if there is one.
#[cfg(target_os = "linux")]
fn policy_of_thread(name: &str) -> Option<i32> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // Fields after the command's closing parenthesis start at field 3 (state).
        let rest = &stat[stat.rfind(')')? + 1..];
        return rest.split_whitespace().nth(41 - 3)?.parse().ok();
    }
    None
}

/// Ardour activates plugins on its process thread, which runs in the realtime class
/// (SCHED_FIFO) under JACK or ALSA; a thread started there inherits that class. The model thread
/// (minutes of CPU over a session, not bounded like the audio thread's work) must not run above
/// every ordinary thread of the machine: it moves itself back to the normal class.
#[cfg(target_os = "linux")]
#[test]
fn the_model_thread_leaves_the_realtime_class_of_the_thread_that_activated_it() {
    let Some(entry) = entry() else { return };
    let host = std::thread::Builder::new()
        .name("host-rt-process".into())
        .spawn(move || {
            // SAFETY: plain libc calls on this thread's own handle with a valid parameter.
            let param = libc::sched_param { sched_priority: 10 };
            let rc = unsafe {
                libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param)
            };
            if rc != 0 {
                eprintln!(
                    "SKIPPED: this process may not use SCHED_FIFO (error {rc}; run as root or \
                     with an rtprio limit)"
                );
                return None;
            }
            let mut p = Plugin::new(entry).unwrap();
            p.activate(48_000.0, 512).unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            let mut policy = None;
            while std::time::Instant::now() < deadline {
                policy = policy_of_thread("continuo-model");
                if policy == Some(libc::SCHED_OTHER) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            p.deactivate();
            Some(policy)
        })
        .expect("spawn the host thread");
    let Some(policy) = host.join().expect("the host thread finished") else {
        return;
    };
    eprintln!("the model thread's scheduling policy: {policy:?} (SCHED_OTHER = 0, SCHED_FIFO = 1)");
    assert_eq!(
        policy,
        Some(libc::SCHED_OTHER),
        "the model thread runs in the normal class"
    );
}
