//! Call and response from audio: the demo recording (a piano phrase, 48 kHz) through the
//! analysis with MIDI thru on. What was heard is scored against the written notes (reported:
//! the analysis is tuned elsewhere), the answer is checked like the MIDI one, and the detected
//! notes must not depend on the host's block size.

use continuo_host_tests::*;
use std::time::Duration;

const TEMPO: f64 = 120.0;

struct Run {
    sr: f64,
    input_len: u64,
    heard: Vec<Played>,
    answer: Vec<Played>,
    first_answer: Option<u64>,
}

/// What the host sets besides the audio: parameters (as text) and its transport.
struct Host<'a> {
    settings: &'a [(&'a str, &'a str)],
    transport: Transport,
}

impl Default for Host<'_> {
    /// No parameter set; the transport playing at [`TEMPO`].
    fn default() -> Self {
        Self {
            settings: &[],
            transport: Transport::playing(TEMPO),
        }
    }
}

/// `answer`: wait for the model to load first (only needed when the answer is checked).
fn run(entry: &'static PluginEntry, audio: &[f32], sr: f64, block: usize, answer: bool) -> Run {
    let played = audio.len() as u64;
    run_over(entry, audio, played, sr, block, answer, Host::default())
}

/// As `run`, but only the first `played` samples of `audio` are the musician's call: the rest
/// (a hum going on) is fed after it, into the pause the answer comes in.
fn run_over(
    entry: &'static PluginEntry,
    audio: &[f32],
    played: u64,
    sr: f64,
    block: usize,
    answer: bool,
    host: Host,
) -> Run {
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("source", "Audio").unwrap();
    p.set_text("midi-thru", "On").unwrap();
    for (id, text) in host.settings {
        p.set_text(id, text).unwrap();
    }
    // Without the answer (only the detected notes are compared), no answer may start late in
    // the feed and still sound at its end: the model loads while the stream runs.
    let mode = if answer {
        "Call & response"
    } else {
        "Suggest only"
    };
    p.set_text("mode", mode).unwrap();
    p.activate(sr, block as u32).unwrap();
    if answer {
        std::thread::sleep(model_load_wait());
    }
    let input_len = played;
    // The answer spans as many bars as the call's last phrase (up to the whole call), after
    // the gap: room for it to end before the feed does.
    let total = (2 * input_len + (6.0 * sr) as u64).max(audio.len() as u64);
    let audio = audio.to_vec();
    let transport = host.transport;
    let fed = p
        .run(move |s| {
            std::thread::sleep(START_PAUSE);
            s.set_transport(Some(transport));
            s.feed(Feed {
                audio: vec![audio],
                // Let the model thread keep up with a stream faster than real time.
                pause_every_block: Some(Duration::from_micros(
                    (block as f64 / sr * 1e6 / 8.0) as u64,
                )),
                ..Feed::silence(total, block)
            })
        })
        .unwrap()
        .unwrap();
    assert_eq!(fed.errors, 0);
    assert!(fed.violations.is_empty(), "{:?}", fed.violations);
    let pairs = pair_notes(&fed.notes, false).unwrap_or_else(|e| panic!("block {block}: {e}"));
    let (heard, answer): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|n| n.0 < input_len);
    let first_answer = answer.first().map(|n| n.0);
    Run {
        sr,
        input_len,
        heard,
        answer,
        first_answer,
    }
}

/// The demo recording, its samples and rate; `None` (and a SKIPPED line) when it is absent.
fn demo_audio() -> Option<(std::path::PathBuf, Vec<f32>, f64)> {
    let wav = demo_wav();
    if !wav.exists() {
        eprintln!("SKIPPED: {} not found", wav.display());
        return None;
    }
    let (audio, sr) = read_wav_mono(&wav).unwrap();
    Some((wav, audio, sr))
}

fn audio_call_and_response(entry: &'static PluginEntry) {
    let Some((wav, audio, sr)) = demo_audio() else {
        return;
    };
    let r = run(entry, &audio, sr, 512, true);
    let secs = |t: u64| t as f64 / r.sr;
    for n in &r.heard {
        eprintln!(
            "heard  {:7.3}–{:7.3} {:<4}",
            secs(n.0),
            secs(n.1),
            note_name(n.3)
        );
    }
    for n in &r.answer {
        eprintln!(
            "answer {:7.3}–{:7.3} {:<4} ch{}",
            secs(n.0),
            secs(n.1),
            note_name(n.3),
            n.2 + 1
        );
    }
    if r.heard.is_empty() {
        eprintln!("RESULT the analysis detected no notes in the demo recording");
    }
    if let Some(written) = reference_notes(&wav) {
        let detected: Vec<(f64, u8)> = r.heard.iter().map(|n| (secs(n.0), n.3)).collect();
        let (m, p, rc, f, mut delays) = note_scores(&written, &detected, 0.05);
        delays.sort_by(f64::total_cmp);
        let median = delays.get(delays.len() / 2).map(|d| d * 1000.0);
        eprintln!(
            "RESULT heard {} notes, {m} of {} written matched (onset ±50 ms, pitch): precision {p:.2} recall {rc:.2} F1 {f:.2}; written onset -> thru NoteOn median {:?} ms",
            r.heard.len(),
            written.len(),
            median
        );
    }
    assert!(!r.heard.is_empty(), "the analysis hears the demo phrase");
    let first = r.first_answer.expect("an answer after the phrase");
    let last_off = r.heard.iter().map(|n| n.1).max().unwrap();
    let spb = r.sr * 60.0 / TEMPO;
    let due = last_off + spb.round() as u64;
    assert!(
        first >= due,
        "answer {first} after the last heard note {last_off} + gap"
    );
    let beat = first as f64 / spb;
    assert!(
        ((beat * 4.0).round() - beat * 4.0).abs() * spb / 4.0 <= 1.0,
        "answer on the 1/16 grid: beat {beat}"
    );
    // The answer to this phrase opened with a note of 8 beats before a run of sixteenths: the
    // rhythm, drawn hot, took a value the model gave 0.3 %.
    let mut onsets: Vec<u64> = r.answer.iter().map(|n| n.0).collect();
    onsets.sort_unstable();
    for w in onsets.windows(2) {
        assert!(
            ((w[1] - w[0]) as f64) < 4.0 * spb,
            "a note of {:.2} beats amid the answer",
            (w[1] - w[0]) as f64 / spb
        );
    }
    eprintln!(
        "RESULT answer: {} notes, end of gap -> first NoteOn {:.1} ms (input {:.2} s)",
        r.answer.len(),
        (first - due) as f64 / r.sr * 1000.0,
        r.input_len as f64 / r.sr
    );
}

/// The analysis works in hops of its own: the detected notes (thru) come at the same samples
/// whatever the block size.
fn detection_independent_of_block_size(entry: &'static PluginEntry) {
    let Some((_, audio, sr)) = demo_audio() else {
        return;
    };
    let reference = run(entry, &audio, sr, 512, false);
    let key =
        |r: &Run| -> Vec<(u64, u64, u8)> { r.heard.iter().map(|n| (n.0, n.1, n.3)).collect() };
    let mut failures = vec![];
    for block in [64, 4096] {
        let r = run(entry, &audio, sr, block, false);
        if key(&r) == key(&reference) {
            eprintln!(
                "block {block}: the same {} heard notes as block 512",
                r.heard.len()
            );
        } else {
            let diff: Vec<String> = key(&r)
                .iter()
                .zip(key(&reference).iter())
                .filter(|(a, b)| a != b)
                .take(5)
                .map(|(a, b)| format!("{a:?} vs {b:?}"))
                .collect();
            failures.push(format!(
                "block {block}: {} heard notes vs {} with block 512; first differences (on, off, key): {}",
                r.heard.len(),
                reference.heard.len(),
                diff.join(", ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A quiet track (the interface's gain 30 dB lower: the demo phrase peaks near −34 dBFS) is
/// heard as the loud one is: the analysis raises its own copy of the input
/// (`analysis/input_level.rs`), and the first note teaches it how much.
fn quiet_track_is_heard(entry: &'static PluginEntry) {
    let Some((_, audio, sr)) = demo_audio() else {
        return;
    };
    let keys = |r: &Run| -> Vec<u8> { r.heard.iter().map(|n| n.3).collect() };
    let loud = keys(&run(entry, &audio, sr, 512, false));
    let quiet_audio: Vec<f32> = audio.iter().map(|x| x * 10f32.powf(-30.0 / 20.0)).collect();
    let quiet = keys(&run(entry, &quiet_audio, sr, 512, false));
    // The notes both heard, in order (a longest common subsequence).
    let mut common = vec![vec![0usize; quiet.len() + 1]; loud.len() + 1];
    for (i, a) in loud.iter().enumerate() {
        for (j, b) in quiet.iter().enumerate() {
            common[i + 1][j + 1] = if a == b {
                common[i][j] + 1
            } else {
                common[i][j + 1].max(common[i + 1][j])
            };
        }
    }
    let shared = common[loud.len()][quiet.len()];
    eprintln!(
        "RESULT quiet track: {} notes heard (loud: {}), {shared} of them the loud track's, in order",
        quiet.len(),
        loud.len()
    );
    assert!(loud.len() >= 10, "the loud phrase is heard: {loud:?}");
    assert!(
        shared * 10 >= loud.len() * 9 && quiet.len() <= loud.len() + 2,
        "quiet {quiet:?} against loud {loud:?}"
    );
}

/// A track that hums (a 50 Hz mains hum and its harmonics 40 dB under the phrase's peak, from
/// two seconds before the musician plays to the end of the feed, as an amplifier's does) is
/// heard as a clean one and answered in the pause: no note at the hum's pitch, and the last
/// note ends though the hum goes on (`analysis/hum.rs`).
fn humming_track_is_answered(entry: &'static PluginEntry) {
    let Some((_, audio, sr)) = demo_audio() else {
        return;
    };
    let keys = |r: &Run| -> Vec<u8> { r.heard.iter().map(|n| n.3).collect() };
    let clean = keys(&run(entry, &audio, sr, 512, false));
    let lead = (2.0 * sr) as usize;
    let played = (lead + audio.len()) as u64;
    let total = 2 * played as usize + (6.0 * sr) as usize;
    let peak = audio.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let hum_peak = peak * 10f32.powf(-40.0 / 20.0);
    let mut hummed: Vec<f32> = (0..total)
        .map(|i| {
            let t = i as f64 / sr;
            let v: f64 = (1..=8u32)
                .map(|h| {
                    let a = if h % 2 == 1 { 1.0 } else { 0.5 } / f64::from(h);
                    a * (std::f64::consts::TAU * 50.0 * f64::from(h) * t + f64::from(h)).sin()
                })
                .sum();
            (v / 1.7) as f32 * hum_peak
        })
        .collect();
    for (x, a) in hummed[lead..].iter_mut().zip(&audio) {
        *x += a;
    }
    let r = run_over(entry, &hummed, played, sr, 512, true, Host::default());
    let heard = keys(&r);
    // G1 (49 Hz) and G2 are where a 50 Hz hum is heard.
    let at_hum: Vec<&Played> = r
        .heard
        .iter()
        .chain(&r.answer)
        .filter(|n| n.3 == 31 || n.3 == 43)
        .collect();
    eprintln!(
        "RESULT humming track: {} notes heard (clean: {}), {} at the hum's pitch, answer {} notes from {:?} s",
        heard.len(),
        clean.len(),
        at_hum.len(),
        r.answer.len(),
        r.first_answer.map(|t| t as f64 / sr)
    );
    assert!(clean.len() >= 10, "the clean phrase is heard: {clean:?}");
    assert!(at_hum.is_empty(), "notes at the hum's pitch: {at_hum:?}");
    assert_eq!(
        heard, clean,
        "the humming track's notes against the clean one's"
    );
    // The last note ends with the call (within the analysis's release), not when the feed
    // does: the pause is heard though the hum goes on.
    let first = r
        .first_answer
        .expect("an answer in the pause, over the hum");
    let last_off = r.heard.iter().map(|n| n.1).max().unwrap();
    assert!(
        last_off < played + (0.5 * sr) as u64 && first >= last_off,
        "the last note heard ends at {last_off} (the call ends at {played}), the answer at {first}"
    );
}

/// A tune played on an instrument tuned 40 cents flat (A4 = 430 Hz) with a wide vibrato:
/// its notes lie a third of a semitone under 440's grid and the vibrato crosses into the
/// semitone below. 48 notes of 0.3 s (a harmonic tone, 44.1 kHz); returns the audio and the
/// written pitches.
fn flat_tune(sr: f64, notes: usize) -> (Vec<f32>, Vec<u8>) {
    let written = [62u8, 64, 66, 67, 69, 71, 73, 74, 73, 71, 69, 67, 66, 64];
    let (note, gap) = ((0.3 * sr) as usize, (0.05 * sr) as usize);
    let mut audio = vec![0.0f32; (0.1 * sr) as usize];
    let mut keys = Vec::new();
    for &m in written.iter().cycle().take(notes) {
        keys.push(m);
        let mut phase = 0.0f64;
        for i in 0..note {
            let t = i as f64 / sr;
            let midi = f64::from(m) - 0.4 + 0.4 * (std::f64::consts::TAU * 5.5 * t).sin();
            phase += 440.0 * 2f64.powf((midi - 69.0) / 12.0) / sr;
            let p = std::f64::consts::TAU * phase.fract();
            let v: f64 = (1..=8u32)
                .map(|h| (p * f64::from(h)).sin() / f64::from(h))
                .sum();
            let env = (t / 0.005).min(1.0) * ((0.3 - t) / 0.02).clamp(0.0, 1.0);
            audio.push((0.25 * v * env) as f32);
        }
        audio.extend(std::iter::repeat_n(0.0, gap));
    }
    (audio, keys)
}

/// An instrument tuned flat is heard in its own tuning (`analysis/concert_pitch.rs`): with
/// *Follow tuning* on (the default) every note after the first five seconds is the written
/// one; with *Concert pitch* set to 430 Hz by hand (following off) every note is, from the
/// first. In 440's grid (the plugin before) notes came out a semitone low or split in two.
fn flat_instrument_is_heard_in_its_tuning(entry: &'static PluginEntry) {
    let sr = 44_100.0;
    let (audio, written) = flat_tune(sr, 42);
    // The notes from the 15th written one on (5.0 s): the tuning has been heard by then.
    let from = (0.1 + 14.0 * 0.35) * sr - 0.03 * sr;
    let late = |r: &Run| -> Vec<u8> {
        r.heard
            .iter()
            .filter(|n| n.0 as f64 >= from)
            .map(|n| n.3)
            .collect()
    };
    let r = run(entry, &audio, sr, 512, false);
    eprintln!(
        "RESULT flat instrument: {} notes heard of {}, the last 28: {:?}",
        r.heard.len(),
        written.len(),
        late(&r)
    );
    assert_eq!(late(&r), written[14..].to_vec(), "following the tuning");
    // Set by hand.
    let host = Host {
        settings: &[("concert-pitch", "430"), ("follow-tuning", "Off")],
        ..Host::default()
    };
    let by_hand = run_over(entry, &audio, audio.len() as u64, sr, 512, false, host);
    let keys: Vec<u8> = by_hand.heard.iter().map(|n| n.3).collect();
    assert_eq!(keys, written, "Concert pitch 430 Hz, following off");
}

/// A musician jamming with the host's transport stopped: the answer follows the tempo heard in
/// the playing (*Tempo when stopped*: *Follow me*, the default), not the host's 120 bpm. The
/// demo recording is a tune at 103 bpm.
fn free_time_answers_in_the_players_tempo(entry: &'static PluginEntry) {
    let Some((_, audio, sr)) = demo_audio() else {
        return;
    };
    let host = Host {
        transport: Transport {
            playing: false,
            ..Transport::playing(TEMPO)
        },
        ..Host::default()
    };
    let r = run_over(entry, &audio, audio.len() as u64, sr, 512, true, host);
    let onsets: Vec<f64> = r.answer.iter().map(|n| n.0 as f64 / r.sr).collect();
    eprintln!("RESULT free time: answer onsets {onsets:.3?}");
    assert!(onsets.len() >= 3, "an answer: {onsets:?}");
    // Sixteenths of the player's beat, and of the host's.
    let (player, host) = (60.0 / 103.0 / 4.0, 60.0 / TEMPO / 4.0);
    let on_grid = |ioi: f64, step: f64| {
        let k = (ioi / step).round();
        k >= 1.0 && (ioi - k * step).abs() <= 0.02 * ioi + 0.003
    };
    let iois: Vec<f64> = onsets.windows(2).map(|w| w[1] - w[0]).collect();
    for ioi in &iois {
        assert!(
            on_grid(*ioi, player),
            "{ioi:.3} s is off the player's grid: {iois:.3?}"
        );
    }
    assert!(
        iois.iter().any(|ioi| !on_grid(*ioi, host)),
        "every step fits the host's 120 bpm too: {iois:.3?}"
    );
}

#[test]
fn audio_call() {
    run_cases(&[
        ("call & response from audio", audio_call_and_response),
        (
            "detection independent of block size",
            detection_independent_of_block_size,
        ),
        ("a quiet track is heard", quiet_track_is_heard),
        ("a humming track is answered", humming_track_is_answered),
        (
            "a flat instrument is heard in its tuning",
            flat_instrument_is_heard_in_its_tuning,
        ),
        (
            "free time answers in the player's tempo",
            free_time_answers_in_the_players_tempo,
        ),
    ]);
}
