//! What a DAW's track asks of the plugin: every sample rate a host may run at (the analysis
//! listens from 8 kHz; below it the audio still passes and MIDI input is still heard) and every
//! audio layout (stereo, mono in → stereo out, mono), each passing the audio through bit for bit
//! and hearing a played phrase.

use continuo_host_tests::*;

/// The phrase played into the plugin: C4, E4, G4 (MIDI 60, 64, 67).
const PHRASE: [u8; 3] = [60, 64, 67];
/// MIDI notes sent on the note input where the test checks MIDI is still heard.
const MIDI_KEYS: [u8; 2] = [72, 74];

/// C4, E4, G4 as harmonic tones (0.3 s each, 80 ms apart) after 0.1 s of silence, then 0.5 s of
/// silence; amplitude 0.3.
fn phrase_audio(sr: f64) -> Vec<f32> {
    let mut s = vec![0.0f32; (0.1 * sr) as usize];
    for key in PHRASE {
        let f = 440.0 * 2f64.powf((key as f64 - 69.0) / 12.0);
        let len = (0.3 * sr) as usize;
        for i in 0..len {
            let t = i as f64 / sr;
            let env = (t / 0.005).min(1.0) * ((len - i) as f64 / (0.01 * sr)).min(1.0);
            let mut x = 0.0;
            for h in 1..=4 {
                if f * (h as f64) < sr * 0.45 {
                    x += (2.0 * std::f64::consts::PI * f * h as f64 * t).sin() / h as f64;
                }
            }
            s.push((0.3 * env * x / 2.0) as f32);
        }
        s.extend(std::iter::repeat_n(0.0, (0.08 * sr) as usize));
    }
    s.extend(std::iter::repeat_n(0.0, (0.5 * sr) as usize));
    s
}

/// What the plugin must output for an input sample.
fn expected(x: f32) -> f32 {
    if x.is_finite() && !x.is_subnormal() {
        x
    } else {
        0.0
    }
}

/// Output channel `c` equals input channel `from[c]`, bit for bit (after sanitising).
fn check_passthrough(input: &[Vec<f32>], output: &[Vec<f32>], from: &[usize], what: &str) {
    assert_eq!(output.len(), from.len(), "{what}: output channel count");
    for (c, (o, &src)) in output.iter().zip(from).enumerate() {
        let i = &input[src];
        assert_eq!(i.len(), o.len(), "{what}: length of output channel {c}");
        for (k, (&x, &y)) in i.iter().zip(o).enumerate() {
            assert!(
                expected(x).to_bits() == y.to_bits(),
                "{what}: output {c} (input {src}) sample {k}: in {x:e} out {y:e}"
            );
        }
    }
}

/// The keys of the NoteOns before `until` (stream samples), in order.
fn keys_before(notes: &[OutNote], until: u64) -> Vec<u8> {
    notes
        .iter()
        .filter(|n| n.on && n.time < until)
        .map(|n| n.key)
        .collect()
}

/// A plugin that sends what it hears (MIDI thru) and never answers on its own.
fn listening_plugin(entry: &'static PluginEntry, source: &str) -> Plugin {
    let mut p = Plugin::new(entry).unwrap();
    p.set_text("source", source).unwrap();
    p.set_text("midi-thru", "On").unwrap();
    p.set_text("mode", "Suggest only").unwrap();
    p
}

/// Activation at every rate the CLAP validator and hosts use, odd ones included; the audio
/// passes through bit-exact; the phrase is heard where the analysis listens, and nothing is
/// made up where it does not; MIDI input is heard at every rate.
fn sample_rates(entry: &'static PluginEntry) {
    for sr in [
        1234.5678, 12345.678, 22_050.0, 44_100.0, 96_000.0, 192_000.0,
    ] {
        let listens = sr >= 8_000.0;
        let mut p = listening_plugin(entry, "Both");
        p.activate(sr, 512)
            .unwrap_or_else(|e| panic!("activate at {sr} Hz: {e}"));
        let left = phrase_audio(sr);
        let len = left.len();
        let mut noise = Noise::new(sr as u64);
        // Different sides (bit-exactness per channel), same notes.
        let right: Vec<f32> = left
            .iter()
            .map(|x| x * 0.5 + 1e-3 * noise.next_f32())
            .collect();
        let audio = vec![left, right];
        // MIDI notes after the phrase, 0.1 s each.
        let midi_at = len as u64 - (0.4 * sr) as u64;
        let events: Vec<(u64, InEvent)> = MIDI_KEYS
            .iter()
            .enumerate()
            .flat_map(|(i, &key)| {
                let on = midi_at + (i as f64 * 0.15 * sr) as u64;
                [
                    (
                        on,
                        InEvent::NoteOn {
                            channel: 0,
                            key,
                            velocity: 0.8,
                        },
                    ),
                    (on + (0.1 * sr) as u64, InEvent::NoteOff { channel: 0, key }),
                ]
            })
            .collect();
        let fed = p
            .feed(Feed {
                audio: audio.clone(),
                events,
                keep_audio: true,
                ..Feed::silence(len as u64, 512)
            })
            .unwrap();
        assert_eq!(fed.errors, 0, "{sr} Hz: process errors");
        assert!(fed.violations.is_empty(), "{sr} Hz: {:?}", fed.violations);
        check_passthrough(&audio, &fed.audio, &[0, 1], &format!("{sr} Hz"));
        pair_notes(&fed.notes, true).unwrap_or_else(|e| panic!("{sr} Hz: {e}"));
        let heard = keys_before(&fed.notes, midi_at);
        let midi = keys_before(&fed.notes, u64::MAX)[heard.len()..].to_vec();
        eprintln!("{sr} Hz: heard {heard:?} from audio, {midi:?} from MIDI");
        if listens {
            assert_eq!(heard, PHRASE, "{sr} Hz: the phrase is heard");
        } else {
            assert!(heard.is_empty(), "{sr} Hz: analysis off, nothing heard");
        }
        assert_eq!(midi, MIDI_KEYS, "{sr} Hz: MIDI input is heard");
    }
}

/// The layouts on offer, stereo first (the default of hosts that take the first).
fn layouts_on_offer(entry: &'static PluginEntry) {
    let mut p = Plugin::new(entry).unwrap();
    let configs = p.audio_configs();
    eprintln!("audio configurations: {configs:?}");
    let shapes: Vec<(u32, u32)> = configs.iter().map(|c| (c.2, c.3)).collect();
    assert_eq!(shapes, [(2, 2), (1, 2), (1, 1)]);
    let mut names: Vec<&str> = configs.iter().map(|c| c.1.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), 3, "distinct names: {names:?}");
    let (ain, aout) = p.audio_ports();
    assert_eq!(
        (ain[0].channels, aout[0].channels),
        (2, 2),
        "stereo by default"
    );
}

/// Each layout: the ports say so, the audio passes through bit-exact on every output channel
/// (mono → stereo: both sides carry the input; NaN, Inf and subnormals become 0), and a played
/// phrase is heard.
fn every_layout(entry: &'static PluginEntry) {
    let sr = 48_000.0;
    for (ins, outs, from) in [(2u32, 2u32, &[0, 1][..]), (1, 2, &[0, 0]), (1, 1, &[0])] {
        let what = format!("{ins} in, {outs} out");
        let mut p = listening_plugin(entry, "Audio");
        p.select_layout(ins, outs).unwrap();
        let (ain, aout) = p.audio_ports();
        assert_eq!((ain[0].channels, aout[0].channels), (ins, outs), "{what}");
        for max in [1u32, 512] {
            p.activate_with(Config {
                sample_rate: sr,
                max_block: max,
                in_channels: ins as usize,
                out_channels: outs as usize,
            })
            .unwrap();
            let phrase = phrase_audio(sr);
            let mut noise = Noise::new(max as u64);
            let mut audio: Vec<Vec<f32>> = (0..ins)
                .map(|c| {
                    phrase
                        .iter()
                        .map(|x| x * (1.0 - 0.25 * c as f32) + 1e-3 * noise.next_f32())
                        .collect()
                })
                .collect();
            let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e-40, -1e-42];
            for (k, i) in (0..phrase.len()).step_by(4999).enumerate() {
                let c = k % audio.len();
                audio[c][i] = specials[k % specials.len()];
            }
            let fed = p
                .feed(Feed {
                    audio: audio.clone(),
                    keep_audio: true,
                    ..Feed::silence(phrase.len() as u64, max as usize)
                })
                .unwrap();
            assert_eq!(fed.errors, 0, "{what}: process errors");
            assert!(fed.violations.is_empty(), "{what}: {:?}", fed.violations);
            check_passthrough(
                &audio,
                &fed.audio,
                from,
                &format!("{what}, max block {max}"),
            );
            pair_notes(&fed.notes, true).unwrap_or_else(|e| panic!("{what}: {e}"));
            let heard = keys_before(&fed.notes, u64::MAX);
            eprintln!("{what}, max block {max}: bit-exact, heard {heard:?}");
            assert_eq!(
                heard, PHRASE,
                "{what}, max block {max}: the phrase is heard"
            );
            p.deactivate();
        }
    }
}

#[test]
fn hosting() {
    run_cases(&[
        ("sample-rates", sample_rates),
        ("layouts-on-offer", layouts_on_offer),
        ("every-layout", every_layout),
    ]);
}
