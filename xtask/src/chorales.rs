//! `cargo xtask render-chorales [--out DIR] [--count N] [--seed S] [--corpus DIR] [--jobs N]`:
//! four-part Bach chorales rendered as audio, to score the chords Continuo hears
//! (`continuo eval-chords DIR/test`).
//!
//! N chorales of `../shared/corpus/chorales` (drawn with the seed; default 40) are each rendered
//! by FluidSynth (FluidR3 GM) with four instruments — church organ, acoustic grand piano, string
//! ensemble, nylon guitar — all four voices on the one instrument, and written to
//! `DIR/tune/` or `DIR/test/`:
//!
//! - `NAME.wav`: 16-bit mono PCM at 44.1 kHz;
//! - `NAME.mid`: the MIDI file FluidSynth rendered: one track per voice (named soprano, alto,
//!   tenor, bass), the chorale's notes on its beats after one beat of silence, one tempo.
//!   `continuo eval-chords` labels it beat by beat from the four voices (`harmony/label.rs`):
//!   that is the reference;
//! - `NAME.json`: the render's settings; `DIR/manifest.tsv` lists them all.
//!
//! NAME is `CHORALE-INSTRUMENT`. The split is a hash of the chorale (without `-000` and the
//! `-sc` of an alternative setting), independent of the seed: every render of a chorale lands on
//! the same side, so settings tuned on `tune/` are scored on chorales never heard. Renders
//! already present are skipped; the same arguments give the same files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use crate::dataset::{check_tools, fluidsynth_mono, fnv1a, write_wav16, Reverb, Rng};

/// The instruments: (name in file names and reports, General MIDI program, 0-based).
const INSTRUMENTS: [(&str, u8); 4] = [("organ", 19), ("piano", 0), ("strings", 48), ("guitar", 24)];
/// Ticks per beat of the written files.
const PPQ: u16 = 480;
/// Beats of silence before the first note.
const LEAD_IN_BEATS: u64 = 1;
/// Sample rate of the renders.
const RATE: u32 = 44_100;
/// Voice names, from the top.
const VOICES: [&str; 4] = ["soprano", "alto", "tenor", "bass"];

/// A note of a chorale voice, in beats.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BeatNote {
    onset: f64,
    offset: f64,
    pitch: u8,
}

/// Everything about one render, decided before rendering.
#[derive(Debug, Clone)]
struct Plan {
    name: String,
    split: &'static str,
    source: String,
    instrument: &'static str,
    program: u8,
    /// Beats per minute.
    tempo: f64,
    /// The voices from the top (name, notes), before the lead-in.
    voices: Vec<(String, Vec<BeatNote>)>,
    /// Velocity of each voice (the melody a little louder).
    velocities: Vec<u8>,
    reverb: Reverb,
    seed: u64,
}

/// The side of the split a chorale file falls on (see the module doc).
fn split_of(file_name: &str) -> &'static str {
    let stem = file_name
        .trim_end_matches(".mid")
        .trim_end_matches("-000")
        .trim_end_matches("-sc");
    if fnv1a(format!("continuo-chords/{stem}").as_bytes()).is_multiple_of(2) {
        "tune"
    } else {
        "test"
    }
}

/// The voices of a four-part chorale file in beats (tracks named soprano/alto/tenor/bass, in
/// that order); an error when one is missing.
fn read_voices(path: &Path) -> Result<Vec<(String, Vec<BeatNote>)>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let smf = Smf::parse(&bytes).with_context(|| format!("{}: not a MIDI file", path.display()))?;
    let ppq = match smf.header.timing {
        Timing::Metrical(t) => t.as_int().max(1) as f64,
        Timing::Timecode(..) => bail!("{}: SMPTE timing is not supported", path.display()),
    };
    let mut found: Vec<(String, Vec<BeatNote>)> = Vec::new();
    for track in &smf.tracks {
        let mut tick = 0u64;
        let mut name = String::new();
        let mut open: [Option<u64>; 128] = [None; 128];
        let mut notes = Vec::new();
        for ev in track {
            tick += ev.delta.as_int() as u64;
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::TrackName(n)) => {
                    name = String::from_utf8_lossy(n).trim().to_lowercase();
                }
                TrackEventKind::Midi { message, .. } => {
                    let (key, on) = match message {
                        MidiMessage::NoteOn { key, vel } => (key.as_int(), vel.as_int() > 0),
                        MidiMessage::NoteOff { key, .. } => (key.as_int(), false),
                        _ => continue,
                    };
                    if let Some(start) = open[key as usize].take() {
                        if tick > start {
                            notes.push(BeatNote {
                                onset: start as f64 / ppq,
                                offset: tick as f64 / ppq,
                                pitch: key,
                            });
                        }
                    }
                    if on {
                        open[key as usize] = Some(tick);
                    }
                }
                _ => {}
            }
        }
        if !notes.is_empty() {
            notes.sort_by(|a, b| a.onset.total_cmp(&b.onset));
            found.push((name, notes));
        }
    }
    VOICES
        .iter()
        .map(|v| {
            found
                .iter()
                .find(|(n, _)| n == v)
                .cloned()
                .with_context(|| format!("{}: no {v} track", path.display()))
        })
        .collect()
}

struct Options {
    out: PathBuf,
    count: usize,
    seed: u64,
    corpus: PathBuf,
    jobs: usize,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut o = Options {
        out: PathBuf::from("target/dataset/chorales"),
        count: 40,
        seed: 1,
        corpus: PathBuf::from("../shared/corpus"),
        jobs: 2,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{flag} wants a value"))
        };
        match a.as_str() {
            "--out" => o.out = value("--out")?.into(),
            "--count" => o.count = value("--count")?.parse().context("--count")?,
            "--seed" => o.seed = value("--seed")?.parse().context("--seed")?,
            "--corpus" => o.corpus = value("--corpus")?.into(),
            "--jobs" => o.jobs = value("--jobs")?.parse().context("--jobs")?,
            "-h" | "--help" => {
                println!(
                    "cargo xtask render-chorales [--out DIR (target/dataset/chorales)] \
                     [--count CHORALES (40)] [--seed S (1)] [--corpus DIR (../shared/corpus)] \
                     [--jobs 1|2 (2)]"
                );
                std::process::exit(0);
            }
            other => bail!("render-chorales: unknown argument {other}"),
        }
    }
    anyhow::ensure!(o.count > 0, "--count must be at least 1");
    o.jobs = o.jobs.clamp(1, 2);
    Ok(o)
}

/// Draws the chorales and decides every render.
fn plan(o: &Options) -> Result<Vec<Plan>> {
    let dir = o.corpus.join("chorales");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("mid"))
        .collect();
    files.sort();
    let mut rng = Rng::new(o.seed);
    rng.shuffle(&mut files);
    let mut plans = Vec::new();
    let mut taken = 0;
    for path in files {
        if taken == o.count {
            break;
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let voices = match read_voices(&path) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("skipped {file_name}: {e:#}");
                continue;
            }
        };
        taken += 1;
        let stem = file_name.trim_end_matches(".mid").to_string();
        for (instrument, program) in INSTRUMENTS {
            let seed = fnv1a(format!("{}/{stem}/{instrument}", o.seed).as_bytes());
            let mut r = Rng::new(seed);
            let melody = r.range(78.0, 92.0).round() as u8;
            let velocities = (0..voices.len())
                .map(|i| {
                    if i == 0 {
                        melody
                    } else {
                        (melody as f64 - r.range(4.0, 14.0)).round() as u8
                    }
                })
                .collect();
            plans.push(Plan {
                name: format!("{stem}-{instrument}"),
                split: split_of(&file_name),
                source: file_name.clone(),
                instrument,
                program,
                tempo: r.range(60.0, 90.0).round(),
                voices: voices.clone(),
                velocities,
                reverb: Reverb {
                    room_size: r.range(0.2, 0.6),
                    damping: r.range(0.2, 0.6),
                    level: r.range(0.1, 0.5),
                },
                seed,
            });
        }
    }
    Ok(plans)
}

/// The MIDI file of a plan: a tempo track, then one track per voice on its own channel.
fn write_midi(p: &Plan, path: &Path) -> Result<()> {
    let mut tracks: Vec<Vec<TrackEvent<'static>>> = vec![vec![
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new(
                (60e6 / p.tempo).round() as u32
            ))),
        },
        TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        },
    ]];
    let mut rng = Rng::new(p.seed ^ 0x00c0_4a1e);
    let lead = LEAD_IN_BEATS * PPQ as u64;
    let tick = |beats: f64| lead + (beats * PPQ as f64).round() as u64;
    for (v, (_, notes)) in p.voices.iter().enumerate() {
        let ch = u4::new(v as u8);
        let midi = |message| TrackEventKind::Midi {
            channel: ch,
            message,
        };
        let cc = |controller: u8, value: u8| {
            midi(MidiMessage::Controller {
                controller: u7::new(controller),
                value: u7::new(value.min(127)),
            })
        };
        // (tick, order, event): note-offs before note-ons at one tick.
        let mut events: Vec<(u64, u8, TrackEventKind<'static>)> = vec![
            (
                0,
                0,
                TrackEventKind::Meta(MetaMessage::TrackName(VOICES[v].as_bytes())),
            ),
            (
                0,
                1,
                midi(MidiMessage::ProgramChange {
                    program: u7::new(p.program),
                }),
            ),
            (0, 1, cc(7, 100)),
            (0, 1, cc(91, 40)),
            (0, 1, cc(93, 0)),
        ];
        let base = p.velocities.get(v).copied().unwrap_or(80) as f64;
        for n in notes {
            let vel = (base + rng.normal() * 4.0).round().clamp(30.0, 120.0) as u8;
            let (on, off) = (tick(n.onset), tick(n.offset));
            events.push((
                on,
                2,
                midi(MidiMessage::NoteOn {
                    key: u7::new(n.pitch),
                    vel: u7::new(vel),
                }),
            ));
            events.push((
                off.max(on + 1),
                1,
                midi(MidiMessage::NoteOff {
                    key: u7::new(n.pitch),
                    vel: u7::new(64),
                }),
            ));
        }
        // A last controller two beats after the end keeps FluidSynth rendering the release.
        let end = notes.iter().map(|n| tick(n.offset)).max().unwrap_or(0) + 2 * PPQ as u64;
        events.push((end, 3, cc(91, 40)));
        events.sort_by_key(|e| (e.0, e.1));
        let mut track = Vec::with_capacity(events.len() + 1);
        let mut now = 0u64;
        for (t, _, kind) in events {
            track.push(TrackEvent {
                delta: u28::new((t - now) as u32),
                kind,
            });
            now = t;
        }
        track.push(TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        tracks.push(track);
    }
    let smf = Smf {
        header: Header::new(Format::Parallel, Timing::Metrical(u15::new(PPQ))),
        tracks,
    };
    smf.save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

const MANIFEST_COLUMNS: &str = "name\tsplit\tsource\tinstrument\tprogram\ttempo_bpm\tseed";

fn json_of(p: &Plan) -> serde_json::Value {
    serde_json::json!({
        "name": p.name,
        "split": p.split,
        "source": p.source,
        "instrument": p.instrument,
        "program": p.program,
        "soundfont": "FluidR3_GM",
        "sample_rate": RATE,
        "tempo_bpm": p.tempo,
        "lead_in_beats": LEAD_IN_BEATS,
        "velocities": p.velocities,
        "reverb_room_size": p.reverb.room_size,
        "reverb_damping": p.reverb.damping,
        "reverb_level": p.reverb.level,
        "seed": p.seed,
    })
}

/// Renders one plan into `dir` (skipped when its WAV is there: the WAV is written last).
fn render_one(p: &Plan, dir: &Path, soundfont: &Path) -> Result<bool> {
    let wav = dir.join(format!("{}.wav", p.name));
    if wav.is_file() {
        return Ok(false);
    }
    let mid = dir.join(format!("{}.mid", p.name));
    write_midi(p, &mid)?;
    std::fs::write(
        dir.join(format!("{}.json", p.name)),
        serde_json::to_string_pretty(&json_of(p))? + "\n",
    )?;
    let raw = dir.join(format!(".{}.float.wav", p.name));
    let mut mono = fluidsynth_mono(&mid, &raw, RATE, soundfont, p.reverb)
        .with_context(|| format!("rendering {}", p.name))?;
    let peak = mono.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    anyhow::ensure!(peak > 1e-6, "{}: FluidSynth rendered silence", p.name);
    let gain = 10f64.powf(-3.0 / 20.0) / peak;
    mono.iter_mut().for_each(|v| *v *= gain);
    write_wav16(&wav, RATE, &mono)?;
    Ok(true)
}

pub fn render_chorales(args: &[String]) -> Result<()> {
    let o = parse_args(args)?;
    super::root()?;
    let soundfonts = check_tools()?;
    let soundfont = soundfonts
        .iter()
        .find(|s| s.name == "FluidR3_GM")
        .map(|s| s.path.clone())
        .context("FluidR3_GM soundfont missing")?;
    anyhow::ensure!(
        o.corpus.join("chorales").is_dir(),
        "{} is absent (the corpus of ../shared)",
        o.corpus.join("chorales").display()
    );
    let plans = plan(&o)?;
    for split in ["tune", "test"] {
        std::fs::create_dir_all(o.out.join(split))?;
    }
    let mut manifest = String::from(MANIFEST_COLUMNS);
    manifest.push('\n');
    for p in &plans {
        manifest.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            p.name, p.split, p.source, p.instrument, p.program, p.tempo, p.seed
        ));
    }
    std::fs::write(o.out.join("manifest.tsv"), manifest)?;
    let test = plans.iter().filter(|p| p.split == "test").count();
    println!(
        "{} renders of {} chorales: {} tune, {} test; {} jobs",
        plans.len(),
        plans.len() / INSTRUMENTS.len(),
        plans.len() - test,
        test,
        o.jobs
    );
    crate::dataset::render_all(
        &plans,
        o.jobs,
        |p| (p.split, p.name.as_str()),
        |p| render_one(p, &o.out.join(p.split), &soundfont),
        &o.out.join("manifest.tsv"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_by_chorale_not_by_setting() {
        assert_eq!(
            split_of("bach-bwv112.5-000.mid"),
            split_of("bach-bwv112.5-sc-000.mid")
        );
        let tune = (0..1000)
            .filter(|i| split_of(&format!("bach-bwv{i}.6-000.mid")) == "tune")
            .count();
        assert!((400..600).contains(&tune), "{tune}");
    }
}
