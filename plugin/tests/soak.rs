//! An hour of input through the engine and the model step: processing time and memory must stay
//! flat. Slow in debug, so it is ignored by default; run it with
//! `cargo test --release -p continuo --test soak -- --ignored --nocapture` (on a quiet machine:
//! the time check allows 2x for noise from other processes).

use continuo::params::ContinuoParams;
use continuo::session::Session;
use std::sync::Arc;
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4)
        .unwrap_or(0)
}

#[test]
#[ignore]
fn an_hour_of_silence_with_a_phrase_every_five_minutes() {
    let sr = 48_000u64;
    let mut s = Session::new(48_000.0, 512, Arc::new(ContinuoParams::default()));
    // A short melody, played every five minutes, in otherwise silent input.
    let melody: Vec<f32> = (0..sr * 2)
        .map(|i| {
            let f = [262.0, 294.0, 330.0, 392.0][(i / (sr / 2)) as usize % 4];
            0.3 * (2.0 * std::f32::consts::PI * f * i as f32 / sr as f32).sin()
        })
        .collect();
    let minute = sr * 60;
    let mut audio = vec![0.0f32; minute as usize];
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for m in 0..60u64 {
        audio.fill(0.0);
        if m % 5 == 0 {
            audio[..melody.len()].copy_from_slice(&melody);
        }
        let t0 = Instant::now();
        s.run(&audio, &[], Some(120.0), minute);
        times.push(t0.elapsed().as_secs_f64());
        rss.push(rss_kib());
    }
    let first: f64 = times[1..6].iter().sum::<f64>() / 5.0;
    let last: f64 = times[55..60].iter().sum::<f64>() / 5.0;
    println!("seconds of CPU per minute of audio: minutes 2-6 {first:.3}, minutes 56-60 {last:.3}");
    println!(
        "RSS KiB: after minute 1 {}, after minute 60 {}",
        rss[0], rss[59]
    );
    assert!(
        last < first * 1.5 + 0.05,
        "processing time grows: {first} → {last}"
    );
    assert!(
        rss[59] < rss[0] + 16 * 1024,
        "memory grows: {} → {} KiB",
        rss[0],
        rss[59]
    );
}
