//! Audio passes through unchanged, bit for bit, at every sample rate and block size; non-finite
//! and subnormal input samples come out as 0.

use continuo_host_tests::*;

/// What the plugin must output for an input sample.
fn expected(x: f32) -> f32 {
    if x.is_finite() && !x.is_subnormal() {
        x
    } else {
        0.0
    }
}

fn check_equal(input: &[Vec<f32>], output: &[Vec<f32>], what: &str) {
    assert_eq!(input.len(), output.len(), "{what}: channel count");
    for (c, (i, o)) in input.iter().zip(output).enumerate() {
        assert_eq!(i.len(), o.len(), "{what}: length of channel {c}");
        for (k, (&x, &y)) in i.iter().zip(o).enumerate() {
            assert!(
                expected(x).to_bits() == y.to_bits(),
                "{what}: channel {c} sample {k}: in {x:e} out {y:e}"
            );
        }
    }
}

fn passthrough(entry: &'static PluginEntry) {
    for sr in [44_100.0, 48_000.0, 96_000.0] {
        for max in [1u32, 64, 512, 4096] {
            let mut p = Plugin::new(entry).unwrap();
            p.activate(sr, max).unwrap();
            let len = sr as usize; // 1 s
            let audio = test_audio(sr, len, 2, 7 + max as u64);
            // First half in blocks of exactly `max`, then odd sizes up to `max`.
            let half = (len / 2) as u64;
            let odd: Vec<usize> = [
                max as usize,
                1,
                (max as usize / 3).max(1),
                7,
                (max as usize).saturating_sub(1).max(1),
                13,
                2,
            ]
            .iter()
            .map(|&n| n.min(max as usize))
            .collect();
            let a = p
                .feed(Feed {
                    audio: audio.iter().map(|c| c[..half as usize].to_vec()).collect(),
                    keep_audio: true,
                    ..Feed::silence(half, max as usize)
                })
                .unwrap();
            let b = p
                .feed(Feed {
                    audio: audio.iter().map(|c| c[half as usize..].to_vec()).collect(),
                    keep_audio: true,
                    blocks: Blocks::Cycle(odd),
                    ..Feed::silence(len as u64 - half, max as usize)
                })
                .unwrap();
            assert_eq!(a.errors + b.errors, 0, "process errors");
            assert!(
                a.violations.is_empty() && b.violations.is_empty(),
                "{:?} {:?}",
                a.violations,
                b.violations
            );
            let out: Vec<Vec<f32>> = a
                .audio
                .iter()
                .zip(&b.audio)
                .map(|(x, y)| x.iter().chain(y).copied().collect())
                .collect();
            check_equal(&audio, &out, &format!("{sr} Hz, max block {max}"));
            // Whatever the analysis makes of the test audio, the note stream stays consistent.
            pair_notes(&[a.notes, b.notes].concat(), true).unwrap();
            eprintln!(
                "{sr} Hz, max block {max}: {} + {} blocks bit-exact",
                a.blocks, b.blocks
            );
        }
    }
}

fn non_finite(entry: &'static PluginEntry) {
    let sr = 48_000.0;
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("midi-thru", "On").unwrap();
    p.activate(sr, 512).unwrap();
    let len = 48_000;
    let mut audio = test_audio(sr, len, 2, 99);
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e-40,
        -1e-42,
        f32::MIN_POSITIVE / 2.0,
        -f32::NAN,
    ];
    for (k, i) in (0..len).step_by(977).enumerate() {
        audio[k % 2][i] = specials[k % specials.len()];
    }
    // A whole block of NaN on one channel, too.
    for x in &mut audio[0][20_000..20_512] {
        *x = f32::NAN;
    }
    let fed = p
        .feed(Feed {
            audio: audio.clone(),
            keep_audio: true,
            ..Feed::silence(len as u64, 512)
        })
        .unwrap();
    assert_eq!(fed.errors, 0);
    for ch in &fed.audio {
        assert!(ch.iter().all(|x| x.is_finite()), "no NaN/Inf out");
        assert!(ch.iter().all(|x| !x.is_subnormal()), "no subnormal out");
    }
    check_equal(&audio, &fed.audio, "non-finite input");
    // Afterwards the plugin still passes clean audio unchanged.
    let clean = test_audio(sr, 4096, 2, 5);
    let fed2 = p
        .feed(Feed {
            audio: clean.clone(),
            keep_audio: true,
            ..Feed::silence(4096, 512)
        })
        .unwrap();
    check_equal(&clean, &fed2.audio, "clean audio after NaN");
    let all: Vec<OutNote> = fed.notes.iter().chain(&fed2.notes).copied().collect();
    pair_notes(&all, true).unwrap();
    for n in &all {
        assert!(
            n.velocity.is_finite() && (0.0..=1.0).contains(&n.velocity),
            "sane velocity: {n}"
        );
    }
}

fn mono(entry: &'static PluginEntry) {
    let mut p = Plugin::new(entry).unwrap();
    let configs = p.audio_configs();
    eprintln!("audio configurations: {configs:?}");
    p.select_channels(1).unwrap();
    let (ain, aout) = p.audio_ports();
    assert_eq!(
        (ain[0].channels, aout[0].channels),
        (1, 1),
        "mono ports after selecting"
    );
    for max in [1u32, 512] {
        p.activate_with(Config::new(48_000.0, max, 1)).unwrap();
        let mut audio = test_audio(48_000.0, 24_000, 1, 3);
        audio[0][100] = f32::NAN;
        audio[0][200] = f32::INFINITY;
        let fed = p
            .feed(Feed {
                audio: audio.clone(),
                keep_audio: true,
                ..Feed::silence(24_000, max as usize)
            })
            .unwrap();
        assert_eq!(fed.errors, 0);
        check_equal(&audio, &fed.audio, &format!("mono, max block {max}"));
        p.deactivate();
    }
    p.select_channels(2).unwrap();
    assert_eq!(p.audio_ports().0[0].channels, 2, "back to stereo");
}

#[test]
fn audio_passthrough() {
    run_cases(&[
        ("passthrough", passthrough),
        ("non-finite", non_finite),
        ("mono", mono),
    ]);
}
