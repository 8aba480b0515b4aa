//! `continuo harmonize`, `continuo eval-harmony` and `continuo train-harmony`: the chord model
//! on the command line.

use crate::files::midi::{write, FileNote};
use crate::harmony::chorale::{read_folder, split_of, Chorale, Split};
use crate::harmony::eval::{score, ChordScores};
use crate::harmony::key::{key_with_chords, melody_key};
use crate::harmony::model::{
    diatonic_baseline, melody_beats, tonic_baseline, Example, HarmonyModel, Settings,
};
use crate::harmony::output::{chord_notes, segments, tsv};
use crate::harmony::place::Places;
use crate::harmony::Chord;
use crate::model::midi_in::read_midi;
use crate::model::note::skyline;
use crate::music::{KeySignature, Mode};
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct HarmonizeArgs {
    /// The melody (a MIDI file; with several tracks or voices, the top voice is harmonised).
    #[arg(long)]
    pub midi_in: PathBuf,
    /// Tempo for the times in the TSV and the MIDI file (default: the file's first tempo, else 120).
    #[arg(long)]
    pub tempo: Option<f64>,
    /// Write the melody (channel 1) and the chords in close voicing (channel 2) as a MIDI file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the chords as a TSV: start_s, end_s, label (Harte).
    #[arg(long)]
    pub tsv: Option<PathBuf>,
    /// The key (C, F#, Bbm, Am…); default: estimated from the melody.
    #[arg(long)]
    pub key: Option<String>,
    /// Choose each chord as the live harmoniser does, from the melody up to the beat's start.
    #[arg(long)]
    pub causal: bool,
    /// Harmony model file (default: the one built into the plugin).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Folder of four-part chorales (tracks soprano, alto, tenor, bass), e.g.
    /// ../shared/corpus/chorales.
    #[arg(long)]
    pub midi: PathBuf,
    /// Which chorales to score: `held-out` (the model trains on train + dev) or `dev` (the
    /// model trains on train only; for choosing settings).
    #[arg(long, default_value = "held-out")]
    pub split: String,
    /// Score this model file instead of training one from --midi.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Change a model setting (NAME=VALUE; repeatable; the names are those of
    /// `harmony::model::Settings`, e.g. context_weight, generative_weight, context_l1).
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Print each chorale's scores.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Folder of four-part chorales; the train and dev splits are trained on.
    #[arg(long)]
    pub midi: PathBuf,
    /// Where to write the model (.json.gz).
    #[arg(long)]
    pub out: PathBuf,
    /// Change a model setting (NAME=VALUE; repeatable).
    #[arg(long = "set")]
    pub set: Vec<String>,
}

/// Parses a key such as `C`, `F#`, `Bb`, `Am`, `C#m`, `Eb minor`.
pub fn parse_key(text: &str) -> anyhow::Result<KeySignature> {
    let t = text.trim();
    let (root, minor) = if let Some(r) = t.strip_suffix(" minor") {
        (r, true)
    } else if let Some(r) = t.strip_suffix(" major") {
        (r, false)
    } else if let Some(r) = t.strip_suffix('m') {
        (r, true)
    } else {
        (t, false)
    };
    let tonic = crate::harmony::chord::parse_root(root.trim()).ok_or_else(|| {
        anyhow::anyhow!("key {text:?}: write it as C, F#, Bb, Am, C#m or Eb minor")
    })?;
    Ok(KeySignature {
        tonic,
        mode: if minor { Mode::Minor } else { Mode::Major },
    })
}

fn settings_from(set: &[String], mut s: Settings) -> anyhow::Result<Settings> {
    for item in set {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--set {item:?}: write NAME=VALUE"))?;
        s.set(name.trim(), value.trim())?;
    }
    Ok(s)
}

fn load_model(path: Option<&Path>) -> anyhow::Result<HarmonyModel> {
    match path {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            HarmonyModel::from_bytes(&bytes).with_context(|| format!("reading {}", p.display()))
        }
        None => Ok(crate::harmony::model::embedded()?.clone()),
    }
}

/// The first tempo of a MIDI file in beats per minute.
fn file_tempo(bytes: &[u8]) -> Option<f64> {
    let smf = midly::Smf::parse(bytes).ok()?;
    smf.tracks.iter().flatten().find_map(|ev| match ev.kind {
        midly::TrackEventKind::Meta(midly::MetaMessage::Tempo(t)) if t.as_int() > 0 => {
            Some(60e6 / t.as_int() as f64)
        }
        _ => None,
    })
}

pub fn harmonize(args: HarmonizeArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.midi_in)
        .with_context(|| format!("reading {}", args.midi_in.display()))?;
    let melodies =
        read_midi(&bytes).with_context(|| format!("reading {}", args.midi_in.display()))?;
    let all: Vec<_> = melodies
        .iter()
        .flat_map(|m| m.notes.iter().copied())
        .collect();
    let melody = skyline(&all);
    if melody.is_empty() {
        anyhow::bail!("{} holds no melody", args.midi_in.display());
    }
    let tempo = match args.tempo {
        Some(t) if t.is_finite() && (1.0..=1000.0).contains(&t) => t,
        Some(t) => anyhow::bail!("--tempo {t}: give a tempo from 1 to 1000 beats per minute"),
        None => file_tempo(&bytes).unwrap_or(120.0),
    };
    let key = match &args.key {
        Some(k) => parse_key(k)?,
        None => melody_key(&melody)
            .ok_or_else(|| anyhow::anyhow!("no key could be estimated; give --key"))?,
    };
    let model = load_model(args.model.as_deref())?;
    let beats = crate::harmony::label::beat_count(std::slice::from_ref(&melody));
    let mel = melody_beats(&melody, beats);
    let chords = if args.causal {
        model.harmonise_causal(&mel, key, Places::common(0))
    } else {
        model.harmonise(&mel, key, Places::common(0))
    };
    let segs = segments(&chords);
    let seconds_per_beat = 60.0 / tempo;
    println!(
        "{}: {} notes, {beats} beats, key {} ({}), {} chords ({} mode)",
        args.midi_in.display(),
        melody.len(),
        key.name(),
        if args.key.is_some() {
            "given"
        } else {
            "estimated"
        },
        segs.len(),
        if args.causal { "causal" } else { "offline" }
    );
    let bars: Vec<String> = chords
        .chunks(4)
        .map(|bar| bar.iter().map(|c| c.name()).collect::<Vec<_>>().join(" "))
        .collect();
    println!("| {} |", bars.join(" | "));
    if let Some(path) = &args.tsv {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, tsv(&segs, seconds_per_beat))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.out {
        let mut notes: Vec<FileNote> = melody
            .iter()
            .map(|n| FileNote {
                start_beats: n.onset,
                length_beats: n.duration,
                pitch: n.pitch,
                velocity: n.velocity.max(1),
                channel: 0,
            })
            .collect();
        notes.extend(chord_notes(&segs, 1, 70));
        write(path, &notes, tempo, "Continuo harmony")?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The key the model is given for a chorale: from the soprano alone
/// ([`crate::harmony::key::melody_key`]), as `harmonize` finds it for a melody.
fn soprano_key(c: &Chorale) -> KeySignature {
    melody_key(c.soprano()).unwrap_or(c.key)
}

/// Training examples: each chorale in the key [`Settings::train_key`] asks for (the chorale's,
/// the soprano's, or both, one example each).
fn examples(
    chorales: &[&Chorale],
    train_key: f32,
) -> Vec<(
    KeySignature,
    Vec<crate::harmony::model::BeatMelody>,
    Vec<Chord>,
)> {
    let mut out = Vec::new();
    for c in chorales {
        let chords: Vec<Chord> = c.chords.iter().map(|h| h.chord).collect();
        let melody = melody_beats(c.soprano(), chords.len());
        let keys = match train_key.round() as i32 {
            1 => vec![soprano_key(c)],
            2 => vec![c.key, soprano_key(c)],
            _ => vec![c.key],
        };
        for key in keys {
            out.push((key, melody.clone(), chords.clone()));
        }
    }
    out
}

/// Trains a model on chorales.
fn train_on(chorales: &[&Chorale], settings: Settings, provenance: String) -> HarmonyModel {
    let ex = examples(chorales, settings.train_key);
    HarmonyModel::train(
        ex.iter().map(|(key, melody, chords)| Example {
            key: *key,
            melody,
            chords,
        }),
        settings,
        provenance,
        chorales.iter().map(|c| c.name.clone()).collect(),
    )
}

pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let (chorales, broken) = read_folder(&args.midi)?;
    for (name, why) in &broken {
        eprintln!("skipped {name}: {why}");
    }
    let chosen: Vec<&Chorale> = chorales
        .iter()
        .filter(|c| split_of(&c.name) != Split::HeldOut)
        .collect();
    if chosen.is_empty() {
        anyhow::bail!("{} holds no chorale to train on", args.midi.display());
    }
    let settings = settings_from(&args.set, Settings::default())?;
    let command: Vec<String> = std::env::args().collect();
    let provenance = format!(
        "Bach four-part chorales (public domain, music21 corpus): the train and dev splits of {} \
         ({} chorales), chords labelled per beat from all four voices; made {} by `{}`",
        args.midi.display(),
        chosen.len(),
        crate::model::file::utc_now(),
        command.join(" ")
    );
    let model = train_on(&chosen, settings, provenance);
    let bytes = model.to_bytes();
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "trained on {} chorales ({} beats); wrote {} ({} bytes)",
        chosen.len(),
        model.file.beats,
        args.out.display(),
        bytes.len()
    );
    Ok(())
}

/// Scores of one way of choosing chords, under both keys.
#[derive(Default)]
struct Row {
    /// With the key estimated from the soprano.
    soprano_key: ChordScores,
    /// With the chorale's key (all voices).
    chorale_key: ChordScores,
}

pub fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let target = match args.split.as_str() {
        "held-out" => Split::HeldOut,
        "dev" => Split::Dev,
        s => anyhow::bail!("--split {s:?}: held-out or dev"),
    };
    let (chorales, broken) = read_folder(&args.midi)?;
    for (name, why) in &broken {
        eprintln!("skipped {name}: {why}");
    }
    let scored: Vec<&Chorale> = chorales
        .iter()
        .filter(|c| split_of(&c.name) == target)
        .collect();
    if scored.is_empty() {
        anyhow::bail!("no {} chorale in {}", args.split, args.midi.display());
    }
    let model = match &args.model {
        Some(p) => {
            let m = load_model(Some(p))?;
            if let Some(name) = scored.iter().find(|c| m.file.trained_on.contains(&c.name)) {
                eprintln!(
                    "warning: the model was trained on {}, which is scored",
                    name.name
                );
            }
            let s = settings_from(&args.set, m.settings())?;
            m.with_settings(s)
        }
        None => {
            let train: Vec<&Chorale> = chorales
                .iter()
                .filter(|c| match target {
                    Split::HeldOut => split_of(&c.name) != Split::HeldOut,
                    _ => split_of(&c.name) == Split::Train,
                })
                .collect();
            let settings = settings_from(&args.set, Settings::default())?;
            train_on(&train, settings, "eval-harmony".into())
        }
    };
    let names = [
        "model, offline (posterior)",
        "model, offline (Viterbi)",
        "model, causal (live)",
        "model, offline, key again w/ chords",
        "baseline: tonic triad",
        "baseline: first diatonic triad",
    ];
    let mut rows: Vec<Row> = (0..names.len()).map(|_| Row::default()).collect();
    let mut beats = 0;
    let mut key_agrees = 0;
    let mut rekey_agrees = 0;
    // Time spent harmonising offline and causally (soprano key), for the cost per beat.
    let (mut offline_s, mut causal_s) = (0f64, 0f64);
    for c in &scored {
        let reference: Vec<Chord> = c.chords.iter().map(|h| h.chord).collect();
        let mel = melody_beats(c.soprano(), reference.len());
        beats += reference.len();
        let sk = soprano_key(c);
        key_agrees += (sk == c.key) as usize;
        for (use_chorale_key, key) in [(false, sk), (true, c.key)] {
            let clock = std::time::Instant::now();
            let offline = model.harmonise(&mel, key, Places::common(0));
            let offline_took = clock.elapsed().as_secs_f64();
            let clock = std::time::Instant::now();
            let causal = model.harmonise_causal(&mel, key, Places::common(0));
            let causal_took = clock.elapsed().as_secs_f64();
            // The key found again from the soprano and the chords just chosen.
            let rekey = key_with_chords(c.soprano(), &offline).unwrap_or(key);
            if !use_chorale_key {
                offline_s += offline_took;
                causal_s += causal_took;
                rekey_agrees += (rekey == c.key) as usize;
            }
            let estimates = [
                offline,
                model.harmonise_viterbi(&mel, key, Places::common(0)),
                causal,
                model.harmonise(&mel, rekey, Places::common(0)),
                tonic_baseline(mel.len(), key),
                diatonic_baseline(&mel, key),
            ];
            for (row, est) in rows.iter_mut().zip(&estimates) {
                let s = score(&reference, est, c.seconds_per_beat);
                if use_chorale_key {
                    row.chorale_key.add(s);
                } else {
                    row.soprano_key.add(s);
                }
            }
            if args.verbose && !use_chorale_key {
                let s = score(&reference, &estimates[0], c.seconds_per_beat);
                println!(
                    "{:32} {:11} root {:.3} maj/min {:.3}",
                    c.name,
                    sk.name(),
                    s.root.accuracy(),
                    s.major_minor.accuracy()
                );
            }
        }
    }
    println!(
        "{} chorales of the {} split ({beats} beats; the soprano's key is the chorale's on {}); \
         model trained on {} chorales ({} beats)",
        scored.len(),
        args.split,
        key_agrees,
        model.file.trained_on.len(),
        model.file.beats
    );
    println!(
        "the key found again with the offline chords is the chorale's on {rekey_agrees}; \
         time: offline {:.3} ms per 16 beats, causal {:.4} ms per beat",
        offline_s * 1e3 * 16.0 / beats.max(1) as f64,
        causal_s * 1e3 / beats.max(1) as f64
    );
    println!("settings: {:?}", model.settings());
    println!();
    println!(
        "{:32} {:>22} {:>22}",
        "", "key from the soprano", "the chorale's key"
    );
    println!(
        "{:32} {:>10} {:>11} {:>10} {:>11}",
        "", "root", "maj/min", "root", "maj/min"
    );
    for (name, row) in names.iter().zip(&rows) {
        println!(
            "{:32} {:>10.3} {:>11.3} {:>10.3} {:>11.3}",
            name,
            row.soprano_key.root.accuracy(),
            row.soprano_key.major_minor.accuracy(),
            row.chorale_key.root.accuracy(),
            row.chorale_key.major_minor.accuracy()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harmonize_writes_a_tsv_and_a_midi_file() {
        let dir = std::env::temp_dir().join(format!("continuo-harmonize-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let melody: Vec<FileNote> = [67u8, 67, 69, 71, 72, 71, 69, 67]
            .iter()
            .enumerate()
            .map(|(i, &p)| FileNote {
                start_beats: i as f64,
                length_beats: 0.9,
                pitch: p,
                velocity: 90,
                channel: 0,
            })
            .collect();
        let input = dir.join("tune.mid");
        write(&input, &melody, 100.0, "tune").unwrap();
        let args = HarmonizeArgs {
            midi_in: input,
            tempo: None,
            out: Some(dir.join("chords.mid")),
            tsv: Some(dir.join("chords.tsv")),
            key: Some("G".into()),
            causal: false,
            model: None,
        };
        harmonize(args).unwrap();
        let tsv = std::fs::read_to_string(dir.join("chords.tsv")).unwrap();
        let mut lines = tsv.lines();
        assert_eq!(lines.next(), Some("start_s\tend_s\tlabel"));
        let mut last_end = 0.0;
        for line in lines {
            let cols: Vec<&str> = line.split('\t').collect();
            let (start, end): (f64, f64) = (cols[0].parse().unwrap(), cols[1].parse().unwrap());
            assert!((start - last_end).abs() < 1e-9 && end > start, "{line}");
            last_end = end;
            assert!(Chord::parse_harte(cols[2]).is_ok(), "{line}");
        }
        // Eight beats at the file's 100 bpm.
        assert!((last_end - 8.0 * 0.6).abs() < 1e-6, "{last_end}");
        let chords = read_midi(&std::fs::read(dir.join("chords.mid")).unwrap()).unwrap();
        assert_eq!(chords.len(), 2, "melody and chords on their own channels");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_parse() {
        assert_eq!(
            parse_key("Am").unwrap(),
            KeySignature {
                tonic: 9,
                mode: Mode::Minor
            }
        );
        assert_eq!(
            parse_key("F#").unwrap(),
            KeySignature {
                tonic: 6,
                mode: Mode::Major
            }
        );
        assert_eq!(
            parse_key("Eb minor").unwrap(),
            KeySignature {
                tonic: 3,
                mode: Mode::Minor
            }
        );
        assert_eq!(
            parse_key("Bb major").unwrap(),
            KeySignature {
                tonic: 10,
                mode: Mode::Major
            }
        );
        assert!(parse_key("H").is_err());
        assert!(parse_key("").is_err());
    }
}
