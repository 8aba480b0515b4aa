//! Property tests for every entry point that reads outside input: preset files, model files,
//! MIDI files, ABC files, WAV files, audio samples and note floods. None may panic; outputs stay well-formed.
//!
//! The default case counts keep `cargo xtask test` quick; for a longer run:
//! `PROPTEST_CASES=20000 cargo test --release -p continuo --test robustness`.
//! (cargo-fuzz needs a nightly toolchain, which this project's machines do not have.)

use continuo::analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent};
use continuo::model::midi_in::read_midi;
use continuo::model::TrainedModel;
use continuo::params::ContinuoParams;
use continuo::preset::Preset;
use continuo::session::Session;
use proptest::prelude::*;
use std::sync::Arc;

/// A small valid SMF: one track, a few notes.
fn valid_midi() -> Vec<u8> {
    let notes: Vec<continuo::files::midi::FileNote> = (0..8)
        .map(|i| continuo::files::midi::FileNote {
            start_beats: i as f64 * 0.5,
            length_beats: 0.5,
            pitch: 60 + (i * 2 % 12) as u8,
            velocity: 90,
            channel: 0,
        })
        .collect();
    continuo::files::midi::encode(&notes, 120.0, "t")
}

/// Two small valid ABC tunes using most of what the reader knows.
const VALID_ABC: &str = "X:1\nT:One\nM:6/8\nL:1/8\nK:D\n\"D\"A>B (3cde [df]2- [df] |: {g}f2 ^g a/b/ z :|1 d3 :|2 D3 |]\n\n\
                         X:2\nT:Two\nM:C|\nK:Am exp ^g\nV:1\nA,B,C [K:G] F!trill!G [M:3/4] (3:2:2 _B=B c'2 & e|\\\nV:2\nCDEF|\n";

/// A small valid 16-bit mono WAV.
fn valid_wav() -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for i in 0..4800 {
            w.write_sample(((i as f32 * 0.06).sin() * 8000.0) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
    }
    cursor.into_inner()
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    if !bytes.is_empty() {
        let n = bytes.len();
        for &(i, b) in edits {
            bytes[i % n] = b;
        }
    }
    if let Some(c) = cut {
        bytes.truncate(c % (bytes.len() + 1));
    }
    bytes
}

struct Collect {
    on: Vec<u8>,
    frames: usize,
    bad_frames: usize,
}

impl AnalysisOutput for Collect {
    fn frame(&mut self, f: &FeatureFrame) {
        self.frames += 1;
        let finite = f.f0_hz.is_finite()
            && f.confidence.is_finite()
            && f.level_db.is_finite()
            && f.flux.is_finite()
            && f.chroma.iter().all(|c| c.is_finite());
        if !finite {
            self.bad_frames += 1;
        }
    }
    fn note(&mut self, e: NoteEvent) {
        if let NoteEvent::On { pitch, .. } = e {
            self.on.push(pitch);
        }
    }
}

/// The tunes the ABC property test mutates are valid to begin with.
#[test]
fn valid_abc_reads() {
    let tunes = continuo::files::abc::read_abc(VALID_ABC.as_bytes()).unwrap();
    assert_eq!(tunes.len(), 2);
    for t in &tunes {
        assert!(
            t.melody.as_ref().is_ok_and(|m| m.notes.len() >= 8),
            "{:?}",
            t.melody
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn preset_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let params = ContinuoParams::default();
        if let Ok(p) = Preset::parse(&bytes) {
            let _ = p.resolve(&params);
        }
    }

    #[test]
    fn preset_reader_survives_mutated_presets(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in proptest::option::of(any::<usize>())) {
        let base = continuo::preset::FACTORY[0].1.as_bytes().to_vec();
        let bytes = mutate(base, &edits, cut);
        let params = ContinuoParams::default();
        if let Ok(p) = Preset::parse(&bytes) {
            let _ = p.resolve(&params);
        }
    }

    #[test]
    fn model_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = TrainedModel::from_bytes(&bytes);
    }

    #[test]
    fn midi_reader_survives_mutated_files(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..12), cut in proptest::option::of(any::<usize>())) {
        let bytes = mutate(valid_midi(), &edits, cut);
        if let Ok(melodies) = read_midi(&bytes) {
            for m in melodies {
                for n in m.notes {
                    prop_assert!(n.pitch < 128 && n.duration.is_finite() && n.onset.is_finite());
                }
            }
        }
    }

    #[test]
    fn abc_reader_survives_mutated_files(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..12), cut in proptest::option::of(any::<usize>())) {
        let bytes = mutate(VALID_ABC.as_bytes().to_vec(), &edits, cut);
        if let Ok(tunes) = continuo::files::abc::read_abc(&bytes) {
            for t in tunes {
                if let Ok(m) = t.melody {
                    for n in m.notes {
                        prop_assert!(n.pitch < 128 && n.duration > 0.0 && n.onset.is_finite());
                    }
                }
            }
        }
    }

    #[test]
    fn wav_reader_survives_mutated_files(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..12), cut in proptest::option::of(any::<usize>())) {
        let bytes = mutate(valid_wav(), &edits, cut);
        let path = std::env::temp_dir().join(format!("continuo-prop-{}.wav", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        if let Ok((samples, rate)) = continuo::files::transcribe::read_wav(&path) {
            prop_assert!(rate > 0.0);
            let _ = samples.len();
        }
        let _ = std::fs::remove_file(&path);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Garbage samples (NaN, ±Inf, subnormals, huge values) in any block sizes: no panic, finite
    /// features, and a clean tone afterwards is still heard.
    #[test]
    fn analyser_recovers_from_garbage(
        garbage in proptest::collection::vec(prop_oneof![
            Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), Just(1e-42f32), Just(1e30f32), -1.0f32..1.0
        ], 1..4000),
        block in 1usize..2048,
    ) {
        let mut a = Analyzer::new(48_000.0);
        let mut out = Collect { on: vec![], frames: 0, bad_frames: 0 };
        for chunk in garbage.chunks(block) {
            a.process(chunk, &mut out);
        }
        let silence = vec![0.0f32; 9600];
        a.process(&silence, &mut out);
        out.on.clear();
        let tone: Vec<f32> = (0..48_000).map(|i| 0.4 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 48_000.0).sin()).collect();
        for chunk in tone.chunks(block) {
            a.process(chunk, &mut out);
        }
        prop_assert_eq!(out.bad_frames, 0);
        prop_assert!(out.on.contains(&69), "A4 heard after the garbage: {:?}", out.on);
    }

    /// A flood of random player notes: the output is always well-formed MIDI.
    #[test]
    fn note_flood_gives_well_formed_output(
        notes in proptest::collection::vec((0u64..96_000, any::<bool>(), 0u8..128, 0.0f32..1.0), 0..400),
        block in prop_oneof![Just(1usize), Just(64), Just(333), Just(4096)],
    ) {
        let params = Arc::new(ContinuoParams::default());
        Preset::parse(br#"{"version": 1, "params": {"source": "MIDI", "midi-thru": true, "gap": 0.25, "grid": "Off"}}"#)
            .unwrap()
            .apply_offline(&params)
            .unwrap();
        let mut s = Session::new(48_000.0, block, params);
        let out = s.run(&[], &notes, Some(140.0), 48_000 * 4);
        let mut sounding = std::collections::HashSet::new();
        let mut last = 0;
        for e in &out {
            prop_assert!(e.time >= last, "time order");
            last = e.time;
            prop_assert!(e.pitch < 128 && e.channel < 16);
            if e.on {
                prop_assert!(sounding.insert((e.channel, e.pitch)), "double NoteOn {:?}", e);
                prop_assert!(e.velocity > 0.0 && e.velocity <= 1.0);
            } else {
                prop_assert!(sounding.remove(&(e.channel, e.pitch)), "NoteOff without NoteOn {:?}", e);
            }
        }
    }
}
