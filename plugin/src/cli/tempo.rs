//! `continuo eval-tempo [--corpus DIR]… [--split dev|test|all]`: how well free time hears the
//! player's tempo and beat, on corpus melodies played at known tempi with human timing.
//!
//! Each melody's first `--notes` onsets (its first track; the written quarter note is the beat)
//! are played at a tempo drawn per file (log-uniform in `--slowest`..`--fastest` bpm), every
//! onset moved by Gaussian jitter (`--jitter-ms`), and fed one by one to the model thread's
//! [`TempoFollower`], as the plugin hears them. At the end the estimate in force is classed:
//! - **exact**: within `--tolerance` (4 %) of the written tempo;
//! - **octave**: of twice or half of it (the beat heard at another level of the same meter);
//! - **3:2**: of 3/2, 2/3, 3 or 1/3 of it (a dotted beat: 6/8 heard in dotted quarters);
//! - **other**, or **none** (never sure enough to lock).
//!
//! For the exact ones, the **beat** is right when the estimated beat lies within a tenth of a
//! beat of a written beat (the file's quarter-note grid), and **half** when it is on the
//! off-beat. The split is a hash of the file name (seed 15): tune on `dev`, report `test`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::model::midi_in::read_midi;
use crate::model::train::{find_midi_files, is_held_out};
use crate::worker::tempo::{TempoFollower, Tuning};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Folders of MIDI melodies (default: ../shared/corpus/train, airs and renaissance).
    #[arg(long)]
    pub corpus: Vec<PathBuf>,
    /// Which half of the files: dev (tune on it), test (report it), all.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Onsets heard per melody.
    #[arg(long, default_value_t = 16)]
    pub notes: usize,
    /// Standard deviation of the timing jitter, ms.
    #[arg(long, default_value_t = 15.0)]
    pub jitter_ms: f64,
    /// Range of the tempi drawn (bpm).
    #[arg(long, default_value_t = 60.0)]
    pub slowest: f64,
    #[arg(long, default_value_t = 160.0)]
    pub fastest: f64,
    /// At most this many files per folder (evenly spread through the sorted list).
    #[arg(long, default_value_t = 400)]
    pub max_files: usize,
    /// Relative tolerance of a right tempo.
    #[arg(long, default_value_t = 0.04)]
    pub tolerance: f64,
    /// Seed of the tempi and the jitter.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Estimator settings: preferred_bpm=…, preference_octaves=…, lag_decay=…, agogic=….
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The evaluation's figures.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub melodies: usize,
    pub exact: usize,
    pub octave: usize,
    pub dotted: usize,
    pub other: usize,
    pub none: usize,
    /// Of the exact ones: beat within a tenth of a written beat / on the off-beat.
    pub beat_right: usize,
    pub beat_half: usize,
    /// Median relative tempo error of the exact ones.
    pub median_error: f64,
    /// Mean time of one update of the follower (one onset), ms.
    pub update_ms: f64,
}

/// FNV-1a of a file name: each file gets its own tempo and jitter, whatever else is present.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn tuning(set: &[String]) -> Result<Tuning> {
    let mut t = Tuning::default();
    for kv in set {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--set wants name=value, got {kv}");
        };
        let v: f64 = v.trim().parse()?;
        match k.trim() {
            "preferred_bpm" => t.preferred_bpm = v,
            "preference_octaves" => t.preference_octaves = v,
            "lag_decay" => t.lag_decay = v,
            "agogic" => t.agogic = v,
            other => bail!("unknown setting {other}"),
        }
    }
    Ok(t)
}

pub fn run(args: Args) -> Result<()> {
    let dirs = if args.corpus.is_empty() {
        ["train", "airs", "renaissance"]
            .iter()
            .map(|d| PathBuf::from("../shared/corpus").join(d))
            .collect()
    } else {
        args.corpus.clone()
    };
    let tuning = tuning(&args.set)?;
    let mut report = Report::default();
    let mut errors = vec![];
    let mut update_s = 0.0;
    let mut updates = 0usize;
    for dir in &dirs {
        let files = find_midi_files(dir)?;
        let files: Vec<&PathBuf> = files
            .iter()
            .filter(|f| {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                match args.split.as_str() {
                    "dev" => !is_held_out(name, 15, 0.5),
                    "test" => is_held_out(name, 15, 0.5),
                    _ => true,
                }
            })
            .collect();
        let step = (files.len() as f64 / args.max_files.max(1) as f64).max(1.0);
        let mut i = 0.0;
        while (i as usize) < files.len() {
            let path = files[i as usize];
            i += step;
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let Ok(melodies) = read_midi(&bytes) else {
                continue;
            };
            let Some(m) = melodies.first() else { continue };
            if m.notes.len() < args.notes {
                continue;
            }
            let name = path.to_string_lossy();
            let mut rng = rand::rngs::SmallRng::seed_from_u64(args.seed ^ name_hash(&name));
            let ln = (args.fastest / args.slowest).ln();
            let bpm = args.slowest * (rng.random::<f64>() * ln).exp();
            let spb = 60.0 / bpm;
            let first = m.notes[0].onset;
            let mut follower = TempoFollower::with_tuning(tuning);
            for n in &m.notes[..args.notes] {
                let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
                let jitter = args.jitter_ms / 1000.0
                    * (-2.0 * u.ln()).sqrt()
                    * (std::f64::consts::TAU * v).cos();
                let t = 1.0 + (n.onset - first) * spb + jitter;
                let t0 = std::time::Instant::now();
                follower.onset(t, n.velocity as f32 / 127.0);
                update_s += t0.elapsed().as_secs_f64();
                updates += 1;
            }
            report.melodies += 1;
            let Some(e) = follower.locked else {
                report.none += 1;
                continue;
            };
            let ratio = e.bpm / bpm;
            let near = |r: f64| (ratio / r - 1.0).abs() < args.tolerance;
            if near(1.0) {
                report.exact += 1;
                errors.push((ratio - 1.0).abs());
                // The written beats: quarter notes of the file (beat 0 at its start).
                let written = (e.beat_s - 1.0) / spb + first;
                let off = (written - written.round()).abs();
                if off < 0.1 {
                    report.beat_right += 1;
                } else if (off - 0.5).abs() < 0.1 {
                    report.beat_half += 1;
                }
            } else if near(2.0) || near(0.5) {
                report.octave += 1;
            } else if [1.5, 2.0 / 3.0, 3.0, 1.0 / 3.0].into_iter().any(near) {
                report.dotted += 1;
            } else {
                report.other += 1;
            }
        }
    }
    errors.sort_by(f64::total_cmp);
    report.median_error = errors.get(errors.len() / 2).copied().unwrap_or(f64::NAN);
    report.update_ms = update_s * 1000.0 / updates.max(1) as f64;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let share = |n: usize| 100.0 * n as f64 / report.melodies.max(1) as f64;
    println!(
        "{} melodies ({} split), {} onsets each, {:.0}–{:.0} bpm, jitter {} ms",
        report.melodies, args.split, args.notes, args.slowest, args.fastest, args.jitter_ms
    );
    println!(
        "tempo: exact {:.1} %, octave {:.1} %, 3:2 {:.1} %, other {:.1} %, not locked {:.1} %",
        share(report.exact),
        share(report.octave),
        share(report.dotted),
        share(report.other),
        share(report.none)
    );
    println!(
        "beat (of the exact): right {:.1} %, off-beat {:.1} %; median tempo error {:.2} %",
        100.0 * report.beat_right as f64 / report.exact.max(1) as f64,
        100.0 * report.beat_half as f64 / report.exact.max(1) as f64,
        100.0 * report.median_error
    );
    println!("one update: {:.3} ms", report.update_ms);
    Ok(())
}
