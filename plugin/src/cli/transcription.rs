//! `continuo eval-transcription DIR [--json] [--block N]`: score the analyser against every
//! `NAME.wav` in DIR that has a `NAME.notes.tsv` (onset_s, offset_s, midi_pitch).
//!
//! Note-level scoring as in mir_eval's onset-only transcription metric: a reference and an
//! estimated note match when their onsets are within 50 ms and their pitches within 50 cents;
//! offsets are ignored; matching is one-to-one and of maximum size (bipartite matching).
//! Latency is the estimated note's emit time minus the reference onset, over matched notes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::files::transcribe::{self, TranscribedNote};

/// Onset tolerance (seconds).
pub const ONSET_TOLERANCE_S: f64 = 0.05;
/// Pitch tolerance (semitones).
pub const PITCH_TOLERANCE: f64 = 0.5;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Folder with NAME.wav + NAME.notes.tsv pairs.
    pub dir: PathBuf,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Block size handed to the analyser, like a host buffer.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub block: u32,
    /// Print every unmatched note (for tuning).
    #[arg(long)]
    pub verbose: bool,
    /// Score the plugin's *Accurate* tracking setting instead of the default *Fast*.
    #[arg(long)]
    pub accurate: bool,
    /// Tuning aid: dump the features of one file, `NAME_SUBSTRING:FROM_S:TO_S`, and stop.
    #[arg(long, hide = true)]
    pub trace: Option<String>,
    /// Tuning aid: override analysis settings, `name=value[,name=value…]`.
    #[arg(long, hide = true)]
    pub set: Option<String>,
    /// Tuning aid (with `--verbose`): write one row per matched note to this TSV: the written
    /// onset, the NoteOn's emit time, the path that started it, the hop at which the onset it
    /// waited for fired (0 when none) and the first hop of the run of estimates that decided
    /// it, and the onset it was dated at: where a note's latency went (the sound's own attack,
    /// the pitch's arrival, the waits) and how far its dating missed.
    #[arg(long, hide = true, requires = "verbose")]
    pub dump_latency: Option<PathBuf>,
    /// Score only the held-out fifth of DIR's melodies: the renders of the fifth, tenth, …
    /// melody by name (a render's melody is its name without `-<render>-p<program>`). The
    /// journal's held-out figures (`docs/transcription-journal.md`) use it: the learned stages
    /// measured on the unmerged branches (`newest`, `dater`) were fitted on the other four fifths.
    #[arg(long)]
    pub held_out: bool,
    /// Fit the weights of the note-start judge (`analysis/judge.rs`) on DIR's renders and
    /// print them (use the development split only), instead of scoring.
    #[arg(long)]
    pub fit_judge: bool,
    /// With `--fit-judge`: also write every note start to this TSV (render, family, path,
    /// pitch, label, dated onset s, decision s, the judge's inputs).
    #[arg(long, requires = "fit_judge")]
    pub dump_judge: Option<PathBuf>,
    /// With `--fit-judge`: more folders of renders whose starts join DIR's (more renders of
    /// development-split melodies, e.g. a `render-dataset --programs …` set; never the test
    /// split). Every fifth file of all of them is held out.
    #[arg(long, requires = "fit_judge")]
    pub fit_also: Vec<PathBuf>,
    /// Tuning aid: dump the attack reader's training data (`tools/attack-reader/`) around every
    /// onset to this binary file (run it with `--set attack_threshold=2`, the reader off).
    #[arg(long, hide = true)]
    pub probe_attacks: Option<PathBuf>,
    /// Tuning aid: write the frame model's features (`analysis/frame_net.rs`) of every render
    /// into this folder, `NAME.npy` each (float32, one row per net hop: the hop's end in
    /// seconds, the level in dB, the semitone bands), for `tools/framenet/`.
    #[arg(long, hide = true)]
    pub dump_frames: Option<PathBuf>,
}

/// A note reduced to what the scoring looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredNote {
    pub onset_s: f64,
    /// MIDI pitch (fractional allowed).
    pub pitch: f64,
}

/// Maximum one-to-one matching of reference and estimated notes whose onsets are within
/// `onset_tol` seconds and pitches within `pitch_tol` semitones. Returns (reference, estimate)
/// index pairs sorted by reference. Among maximum matchings, nearer onsets are tried first.
pub fn match_notes(
    reference: &[ScoredNote],
    estimate: &[ScoredNote],
    onset_tol: f64,
    pitch_tol: f64,
) -> Vec<(usize, usize)> {
    // Candidate estimates for each reference, nearest onset first.
    let eps = 1e-9;
    let candidates: Vec<Vec<usize>> = reference
        .iter()
        .map(|r| {
            let mut c: Vec<usize> = estimate
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    (e.onset_s - r.onset_s).abs() <= onset_tol + eps
                        && (e.pitch - r.pitch).abs() <= pitch_tol + eps
                })
                .map(|(j, _)| j)
                .collect();
            c.sort_by(|&a, &b| {
                let da = (estimate[a].onset_s - r.onset_s).abs();
                let db = (estimate[b].onset_s - r.onset_s).abs();
                da.total_cmp(&db)
            });
            c
        })
        .collect();
    // Kuhn's augmenting paths; references in order of their fewest candidates first keeps the
    // greedy start close to optimal, augmenting makes it maximum.
    let mut owner: Vec<Option<usize>> = vec![None; estimate.len()];
    let mut order: Vec<usize> = (0..reference.len()).collect();
    order.sort_by_key(|&i| candidates[i].len());
    fn augment(
        r: usize,
        candidates: &[Vec<usize>],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for &e in &candidates[r] {
            if seen[e] {
                continue;
            }
            seen[e] = true;
            if owner[e].is_none_or(|other| augment(other, candidates, owner, seen)) {
                owner[e] = Some(r);
                return true;
            }
        }
        false
    }
    for r in order {
        let mut seen = vec![false; estimate.len()];
        augment(r, &candidates, &mut owner, &mut seen);
    }
    let mut pairs: Vec<(usize, usize)> = owner
        .iter()
        .enumerate()
        .filter_map(|(e, r)| r.map(|r| (r, e)))
        .collect();
    pairs.sort_unstable();
    pairs
}

/// Precision, recall, F1 from counts (all 0 when undefined; two empty lists score 1).
pub fn prf(matched: usize, n_ref: usize, n_est: usize) -> (f64, f64, f64) {
    if n_ref == 0 && n_est == 0 {
        return (1.0, 1.0, 1.0);
    }
    let p = if n_est > 0 {
        matched as f64 / n_est as f64
    } else {
        0.0
    };
    let r = if n_ref > 0 {
        matched as f64 / n_ref as f64
    } else {
        0.0
    };
    let f = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f)
}

/// The `q` quantile (0..1) of `values` by linear interpolation; `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// General MIDI program from a file name ending in `-pNN`.
pub fn program_of(stem: &str) -> Option<u8> {
    let (_, tail) = stem.rsplit_once("-p")?;
    tail.parse().ok()
}

/// Struck, plucked and synth instruments: GM programs 0–39 and 80–87.
pub fn is_struck_plucked_synth(program: u8) -> bool {
    program <= 39 || (80..=87).contains(&program)
}

/// Instrument family of a General MIDI program (0-based), in the names `cargo xtask
/// render-dataset` uses: the GM families, with guitars split into nylon, steel and electric,
/// solo strings apart from ensembles, voices apart from ensembles, and harp with the ethnic
/// plucked instruments.
pub fn family_of(program: u8) -> &'static str {
    match program {
        0..=7 => "piano",
        8..=15 => "chromatic-percussion",
        16..=23 => "organ",
        24 => "guitar-nylon",
        25 => "guitar-steel",
        26..=31 => "guitar-electric",
        32..=39 => "bass",
        40..=45 => "strings-solo",
        46 => "ethnic-plucked",
        47 => "percussive",
        48..=51 | 55 => "strings-ensemble",
        52..=54 => "voice",
        56..=63 => "brass",
        64..=71 => "reed",
        72..=79 => "pipe",
        80..=87 => "synth-lead",
        88..=95 => "synth-pad",
        96..=103 => "synth-effects",
        104..=111 => "ethnic-plucked",
        112..=119 => "percussive",
        _ => "sound-effects",
    }
}

/// Reads a `.notes.tsv` (onset_s, offset_s, midi_pitch; lines that do not parse are skipped).
pub fn read_reference(path: &Path) -> Result<Vec<ScoredNote>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let onset_s: f64 = cols.next()?.parse().ok()?;
            let _offset: f64 = cols.next()?.parse().ok()?;
            let pitch: f64 = cols.next()?.parse().ok()?;
            Some(ScoredNote { onset_s, pitch })
        })
        .collect())
}

/// The score of one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileScore {
    pub name: String,
    pub program: Option<u8>,
    /// Instrument family of the program ([`family_of`]).
    pub family: Option<&'static str>,
    pub struck_plucked_synth: bool,
    pub reference_notes: usize,
    pub estimated_notes: usize,
    pub matched: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Emit time − reference onset (seconds) of every matched note.
    pub latencies_s: Vec<f64>,
    /// Matched-note onset error: estimated onset − reference onset (seconds), median.
    pub onset_error_median_s: Option<f64>,
    /// Share of analysis hops flagged polyphonic (the renders are monophonic: false alarms).
    pub polyphonic_share: f64,
}

/// Scores `estimate` against `reference`.
pub fn score_file(
    name: &str,
    reference: &[ScoredNote],
    estimate: &[TranscribedNote],
) -> (FileScore, Vec<(usize, usize)>) {
    let est: Vec<ScoredNote> = estimate
        .iter()
        .map(|n| ScoredNote {
            onset_s: n.onset_s,
            pitch: n.pitch as f64,
        })
        .collect();
    let pairs = match_notes(reference, &est, ONSET_TOLERANCE_S, PITCH_TOLERANCE);
    let (precision, recall, f1) = prf(pairs.len(), reference.len(), est.len());
    let latencies_s: Vec<f64> = pairs
        .iter()
        .map(|&(r, e)| estimate[e].emitted_s - reference[r].onset_s)
        .collect();
    let onset_errors: Vec<f64> = pairs
        .iter()
        .map(|&(r, e)| estimate[e].onset_s - reference[r].onset_s)
        .collect();
    let program = program_of(name);
    (
        FileScore {
            name: name.to_string(),
            program,
            family: program.map(family_of),
            struck_plucked_synth: program.is_some_and(is_struck_plucked_synth),
            reference_notes: reference.len(),
            estimated_notes: est.len(),
            matched: pairs.len(),
            precision,
            recall,
            f1,
            latencies_s,
            onset_error_median_s: quantile(&onset_errors, 0.5),
            polyphonic_share: 0.0,
        },
        pairs,
    )
}

/// Latency figures of a group of files.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    pub notes: usize,
    pub median_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// Where the latency of one start path's notes goes (`--verbose`): seconds after the written
/// onset at which the onset it waited for fired (when it waited for one), its deciding run of
/// estimates began, and its NoteOn went out.
#[derive(Debug, Clone, Default)]
struct PathLatency {
    fired: Vec<f64>,
    run_start: Vec<f64>,
    emitted: Vec<f64>,
}

impl PathLatency {
    fn add(&mut self, written_s: f64, fired_s: Option<f64>, run_start_s: f64, emitted_s: f64) {
        if let Some(f) = fired_s {
            self.fired.push(f - written_s);
        }
        self.run_start.push(run_start_s - written_s);
        self.emitted.push(emitted_s - written_s);
    }

    /// Medians (ms) of the fire, run start and emit delays.
    fn medians_ms(&self) -> [Option<f64>; 3] {
        [&self.fired, &self.run_start, &self.emitted].map(|v| quantile(v, 0.5).map(|s| s * 1000.0))
    }
}

/// The accepted start that made `note` (same pitch, same onset), among a file's `starts`.
fn start_of<'a>(
    starts: &'a [crate::analysis::tracker::NoteStart],
    note: &TranscribedNote,
    sample_rate: f32,
) -> Option<&'a crate::analysis::tracker::NoteStart> {
    let sr = f64::from(sample_rate);
    starts.iter().find(|s| {
        s.accepted && s.pitch == note.pitch && (s.onset as f64 / sr - note.onset_s).abs() < 1e-6
    })
}

fn latency_summary<'a>(files: impl Iterator<Item = &'a FileScore>) -> LatencySummary {
    let all: Vec<f64> = files.flat_map(|f| f.latencies_s.iter().copied()).collect();
    LatencySummary {
        notes: all.len(),
        median_ms: quantile(&all, 0.5).map(|s| s * 1000.0),
        p95_ms: quantile(&all, 0.95).map(|s| s * 1000.0),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub files: usize,
    pub block: u32,
    pub mean_f1: f64,
    pub mean_precision: f64,
    pub mean_recall: f64,
    /// F1 of all notes pooled.
    pub pooled_f1: f64,
    pub mean_f1_struck_plucked_synth: Option<f64>,
    pub mean_f1_other: Option<f64>,
    pub latency_struck_plucked_synth: LatencySummary,
    pub latency_other: LatencySummary,
    pub latency_all: LatencySummary,
    /// Per instrument family (files whose name carries a program), by family name.
    pub families: Vec<FamilySummary>,
}

/// The figures of one instrument family.
#[derive(Debug, Clone, Serialize)]
pub struct FamilySummary {
    pub family: &'static str,
    pub files: usize,
    pub mean_f1: f64,
    pub mean_precision: f64,
    pub mean_recall: f64,
    pub latency: LatencySummary,
    /// Mean share of hops flagged polyphonic.
    pub polyphonic_share: f64,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

pub fn summarise(files: &[FileScore], block: u32) -> Summary {
    let matched: usize = files.iter().map(|f| f.matched).sum();
    let n_ref: usize = files.iter().map(|f| f.reference_notes).sum();
    let n_est: usize = files.iter().map(|f| f.estimated_notes).sum();
    Summary {
        files: files.len(),
        block,
        mean_f1: mean(files.iter().map(|f| f.f1)).unwrap_or(0.0),
        mean_precision: mean(files.iter().map(|f| f.precision)).unwrap_or(0.0),
        mean_recall: mean(files.iter().map(|f| f.recall)).unwrap_or(0.0),
        pooled_f1: prf(matched, n_ref, n_est).2,
        mean_f1_struck_plucked_synth: mean(
            files
                .iter()
                .filter(|f| f.struck_plucked_synth)
                .map(|f| f.f1),
        ),
        mean_f1_other: mean(
            files
                .iter()
                .filter(|f| !f.struck_plucked_synth)
                .map(|f| f.f1),
        ),
        latency_struck_plucked_synth: latency_summary(
            files.iter().filter(|f| f.struck_plucked_synth),
        ),
        latency_other: latency_summary(files.iter().filter(|f| !f.struck_plucked_synth)),
        latency_all: latency_summary(files.iter()),
        families: {
            let mut names: Vec<&'static str> = files.iter().filter_map(|f| f.family).collect();
            names.sort_unstable();
            names.dedup();
            names
                .into_iter()
                .map(|family| {
                    let of = || files.iter().filter(move |f| f.family == Some(family));
                    FamilySummary {
                        family,
                        files: of().count(),
                        mean_f1: mean(of().map(|f| f.f1)).unwrap_or(0.0),
                        mean_precision: mean(of().map(|f| f.precision)).unwrap_or(0.0),
                        mean_recall: mean(of().map(|f| f.recall)).unwrap_or(0.0),
                        latency: latency_summary(of()),
                        polyphonic_share: mean(of().map(|f| f.polyphonic_share)).unwrap_or(0.0),
                    }
                })
                .collect()
        },
    }
}

/// Every `NAME.wav` in `dir` with a `NAME.notes.tsv` next to it, sorted.
pub fn find_pairs(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut pairs = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wav") {
            continue;
        }
        let tsv = path.with_extension("notes.tsv");
        if tsv.is_file() {
            pairs.push((path, tsv));
        }
    }
    pairs.sort();
    Ok(pairs)
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into())
}

/// A render's melody: its name without `-<render>-p<program>`.
fn melody_of(wav: &Path) -> String {
    let stem = wav
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    stem.rsplitn(3, '-').nth(2).unwrap_or(&stem).to_string()
}

/// The renders of the fifth, tenth, … melody of `pairs` (see `Args::held_out`).
fn held_out(pairs: Vec<(PathBuf, PathBuf)>) -> Vec<(PathBuf, PathBuf)> {
    let mut melodies: Vec<String> = pairs.iter().map(|(w, _)| melody_of(w)).collect();
    melodies.sort();
    melodies.dedup();
    pairs
        .into_iter()
        .filter(|(w, _)| {
            melodies
                .binary_search(&melody_of(w))
                .is_ok_and(|i| i % 5 == 4)
        })
        .collect()
}

pub fn run(args: Args) -> Result<()> {
    let pairs = find_pairs(&args.dir)?;
    let pairs = if args.held_out {
        held_out(pairs)
    } else {
        pairs
    };
    if pairs.is_empty() {
        bail!(
            "{}: no NAME.wav with a NAME.notes.tsv next to it",
            args.dir.display()
        );
    }
    let spec = match (args.accurate, args.set.as_deref()) {
        (true, Some(set)) => format!("fast_tracking=0,{set}"),
        (true, None) => "fast_tracking=0".to_string(),
        (false, set) => set.unwrap_or("").to_string(),
    };
    let tuning =
        crate::analysis::Tuning::parse(&spec).map_err(|e| anyhow::anyhow!("--set: {e}"))?;
    if args.fit_judge {
        let mut dirs = vec![args.dir.clone()];
        dirs.extend(args.fit_also.iter().cloned());
        return super::judge_fit::run(&dirs, &tuning, args.dump_judge.as_deref());
    }
    if let Some(dir) = &args.dump_frames {
        return dump_frames(&pairs, &tuning, dir);
    }
    if let Some(path) = &args.probe_attacks {
        return probe_attacks(&pairs, &tuning, path);
    }
    if let Some(spec) = &args.trace {
        let mut parts = spec.split(':');
        let (Some(name), Some(from), Some(to)) = (parts.next(), parts.next(), parts.next()) else {
            bail!("--trace wants NAME:FROM_S:TO_S");
        };
        let (from, to): (f64, f64) = (from.parse()?, to.parse()?);
        for (wav, tsv) in pairs
            .iter()
            .filter(|(w, _)| w.to_string_lossy().contains(name))
        {
            let (samples, sample_rate) = transcribe::read_wav(wav)?;
            println!("{}", wav.display());
            for r in read_reference(tsv)?
                .iter()
                .filter(|r| r.onset_s >= from - 0.1 && r.onset_s <= to)
            {
                println!("  reference {:.3} {}", r.onset_s, r.pitch);
            }
            print!(
                "{}",
                transcribe::trace(&samples, sample_rate, from, to, &tuning)
            );
        }
        return Ok(());
    }
    let mut files = Vec::with_capacity(pairs.len());
    // `--dump-latency`: one row per matched note (see `Args::dump_latency`).
    let mut latency_dump = args.dump_latency.as_ref().map(|_| {
        String::from(
            "file\tfamily\tpitch\twritten_s\temitted_s\tpath\tfired_s\trun_start_s\tdated_s\n",
        )
    });
    // `--verbose`: where the struck/plucked/synth latency goes, per start path.
    let mut path_latency: std::collections::BTreeMap<&'static str, PathLatency> =
        std::collections::BTreeMap::new();
    // `--verbose`: error buckets per family (see `transcription_errors.rs`).
    let mut buckets: std::collections::BTreeMap<
        &'static str,
        super::transcription_errors::Buckets,
    > = std::collections::BTreeMap::new();
    for (wav, tsv) in &pairs {
        let name = wav
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_string();
        let reference = read_reference(tsv)?;
        let (samples, sample_rate) = transcribe::read_wav(wav)?;
        // With `--verbose`, one pass in blocks of one hop gives the same notes (the block size
        // changes nothing) and the path that started each.
        let (estimate, polyphonic_share, starts) = if args.verbose {
            transcribe::transcribe_with_starts(&samples, sample_rate, &tuning)
        } else {
            let (notes, share) =
                transcribe::transcribe_stats(&samples, sample_rate, args.block as usize, &tuning);
            (notes, share, Vec::new())
        };
        let (mut score, pairs) = score_file(&name, &reference, &estimate);
        score.polyphonic_share = polyphonic_share;
        if args.verbose {
            let est: Vec<ScoredNote> = estimate
                .iter()
                .map(|n| ScoredNote {
                    onset_s: n.onset_s,
                    pitch: f64::from(n.pitch),
                })
                .collect();
            let b = super::transcription_errors::bucket(&reference, &est, &pairs);
            buckets
                .entry(score.family.unwrap_or("-"))
                .or_default()
                .add(&b);
            let matched_ref: std::collections::HashSet<usize> = pairs.iter().map(|p| p.0).collect();
            let matched_est: std::collections::HashSet<usize> = pairs.iter().map(|p| p.1).collect();
            for (i, r) in reference.iter().enumerate() {
                if !matched_ref.contains(&i) {
                    eprintln!("  {name} MISS  {:.3} {}", r.onset_s, r.pitch);
                }
            }
            // One look-up of each matched note's start feeds the latency table and the dump.
            let sr = f64::from(sample_rate);
            for &(r, e) in &pairs {
                let (n, w) = (&estimate[e], &reference[r]);
                let start = start_of(&starts, n, sample_rate);
                if let (true, Some(s)) = (score.struck_plucked_synth, start) {
                    path_latency.entry(s.path.name()).or_default().add(
                        w.onset_s,
                        (s.fired > 0).then(|| s.fired as f64 / sr),
                        s.run_start as f64 / sr,
                        n.emitted_s,
                    );
                }
                if let Some(dump) = latency_dump.as_mut() {
                    let (path, fired, run_start) = start.map_or(("?", 0.0, 0.0), |s| {
                        (s.path.name(), s.fired as f64 / sr, s.run_start as f64 / sr)
                    });
                    dump.push_str(&format!(
                        "{name}\t{}\t{}\t{:.4}\t{:.4}\t{path}\t{fired:.4}\t{run_start:.4}\t{:.4}\n",
                        score.family.unwrap_or("-"),
                        n.pitch,
                        w.onset_s,
                        n.emitted_s,
                        n.onset_s,
                    ));
                }
            }
            for (i, e) in estimate.iter().enumerate() {
                if !matched_est.contains(&i) {
                    let path = start_of(&starts, e, sample_rate).map_or("?", |s| s.path.name());
                    eprintln!(
                        "  {name} EXTRA {:.3} {} (emitted {:.3}) {path}",
                        e.onset_s, e.pitch, e.emitted_s
                    );
                }
            }
        }
        files.push(score);
    }
    if let (Some(path), Some(dump)) = (&args.dump_latency, &latency_dump) {
        std::fs::write(path, dump).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let summary = summarise(&files, args.block);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "summary": summary,
                "files": files,
            }))?
        );
        return Ok(());
    }
    println!(
        "{:<52} {:>4} {:>4} {:>4} {:>6} {:>6} {:>6} {:>8} {:>8}",
        "file", "prog", "ref", "est", "P", "R", "F1", "lat_ms", "onset_ms"
    );
    for f in &files {
        println!(
            "{:<52} {:>4} {:>4} {:>4} {:>6.3} {:>6.3} {:>6.3} {:>8} {:>8}",
            f.name,
            f.program
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            f.reference_notes,
            f.estimated_notes,
            f.precision,
            f.recall,
            f.f1,
            ms(quantile(&f.latencies_s, 0.5).map(|s| s * 1000.0)),
            ms(f.onset_error_median_s.map(|s| s * 1000.0)),
        );
    }
    let s = &summary;
    println!(
        "\n{} files, block {}: mean F1 {:.3} (P {:.3}, R {:.3}), pooled F1 {:.3}",
        s.files, s.block, s.mean_f1, s.mean_precision, s.mean_recall, s.pooled_f1
    );
    println!(
        "mean F1 struck/plucked/synth {}, other {}",
        s.mean_f1_struck_plucked_synth
            .map(|v| format!("{v:.3}"))
            .unwrap_or_else(|| "-".into()),
        s.mean_f1_other
            .map(|v| format!("{v:.3}"))
            .unwrap_or_else(|| "-".into())
    );
    for (label, l) in [
        ("struck/plucked/synth", &s.latency_struck_plucked_synth),
        ("other", &s.latency_other),
        ("all", &s.latency_all),
    ] {
        println!(
            "latency {label:<21} median {:>6} ms, p95 {:>6} ms ({} notes)",
            ms(l.median_ms),
            ms(l.p95_ms),
            l.notes
        );
    }
    if !s.families.is_empty() {
        println!(
            "\n{:<22} {:>5} {:>6} {:>6} {:>6} {:>8} {:>8} {:>6} {:>6}",
            "family", "files", "F1", "P", "R", "lat_med", "lat_p95", "notes", "chord%"
        );
        for f in &s.families {
            println!(
                "{:<22} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>8} {:>8} {:>6} {:>6.1}",
                f.family,
                f.files,
                f.mean_f1,
                f.mean_precision,
                f.mean_recall,
                ms(f.latency.median_ms),
                ms(f.latency.p95_ms),
                f.latency.notes,
                100.0 * f.polyphonic_share
            );
        }
    }
    if args.verbose && !path_latency.is_empty() {
        println!("\nstruck/plucked/synth latency by start path: medians in ms after the written onset of the onset it waited for (fired), the first hop of the run of estimates that decided it (run), and the NoteOn (emitted)");
        println!(
            "{:<12} {:>6} {:>8} {:>8} {:>8}",
            "path", "notes", "fired", "run", "emitted"
        );
        for (path, l) in &path_latency {
            let [fired, run, emitted] = l.medians_ms();
            println!(
                "{path:<12} {:>6} {:>8} {:>8} {:>8}",
                l.emitted.len(),
                ms(fired),
                ms(run),
                ms(emitted)
            );
        }
    }
    if args.verbose && !buckets.is_empty() {
        use super::transcription_errors::{Buckets, Miss};
        println!("\nmissed written notes by bucket (late/early: found at the pitch 50-250 ms off; octave/semitone/other: another pitch within 50 ms; never: not found, after the same pitch / another note / a rest), and extras left over");
        print!("{:<22}", "family");
        for m in Miss::ALL {
            print!(" {:>10}", m.name());
        }
        println!(" {:>10}", "extras");
        let mut total = Buckets::default();
        for b in buckets.values() {
            total.add(b);
        }
        for (family, b) in buckets.iter().chain(std::iter::once((&"all", &total))) {
            print!("{family:<22}");
            for v in b.misses {
                print!(" {v:>10}");
            }
            println!(" {:>10}", b.extras);
        }
    }
    Ok(())
}

/// One hop of the attack probe: the probe vector, the estimate (MIDI, confidence), the sounding
/// note (−1 for none).
type ProbeRow = (Vec<f32>, f32, f32, i32);

/// Hops before an onset in each record of the attack reader's training dump.
const PROBE_BEFORE: usize = 3;
/// Hops from the onset on in each record: more than the reader reads
/// (`attack_reader::HOPS`), so that a fit may try a longer reading.
const PROBE_FROM: usize = 14;

/// The frame model's features (`--dump-frames`): per render, a NumPy `.npy` file of float32
/// rows (hop end s, level dB, the bands), as `tools/framenet/` reads them.
fn dump_frames(
    pairs: &[(PathBuf, PathBuf)],
    tuning: &crate::analysis::Tuning,
    dir: &Path,
) -> Result<()> {
    use crate::analysis::frame_net::BANDS;
    use crate::analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent};
    struct Nothing;
    impl AnalysisOutput for Nothing {
        fn frame(&mut self, _: &FeatureFrame) {}
        fn note(&mut self, _: NoteEvent) {}
    }
    std::fs::create_dir_all(dir)?;
    for (wav, _) in pairs {
        let (samples, sr) = crate::files::transcribe::read_wav(wav)?;
        let mut a = Analyzer::with_tuning(sr, tuning);
        let hop = a.hop_samples();
        let mut rows: Vec<f32> = Vec::new();
        let mut end = 0usize;
        for chunk in samples.chunks(hop) {
            a.process(chunk, &mut Nothing);
            end += chunk.len();
            if chunk.len() == hop && a.frame_net_fresh() {
                let (bands, level) = a.frame_net().features();
                rows.push(end as f32 / sr);
                rows.push(level);
                rows.extend_from_slice(bands);
            }
        }
        let cols = BANDS + 2;
        let mut header = format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {cols}), }}",
            rows.len() / cols
        );
        // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64
        // and ended by a newline.
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = Vec::with_capacity(10 + header.len() + rows.len() * 4);
        bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for v in &rows {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let name = wav.file_stem().and_then(|s| s.to_str()).unwrap_or("render");
        std::fs::write(dir.join(format!("{name}.npy")), bytes)?;
    }
    println!(
        "{} renders' frames written to {}",
        pairs.len(),
        dir.display()
    );
    Ok(())
}

/// The attack reader's training dump (`--probe-attacks`): for every onset the detector fires,
/// the probe vectors of the [`PROBE_BEFORE`] hops before it and the [`PROBE_FROM`] hops from it,
/// with the estimate and the sounding note; a TSV beside it lists the files, and one lists every
/// emitted note (file, emit s, onset s, pitch).
fn probe_attacks(
    pairs: &[(PathBuf, PathBuf)],
    tuning: &crate::analysis::Tuning,
    path: &Path,
) -> Result<()> {
    use crate::analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent};
    use std::io::Write;
    struct Out {
        notes: Vec<(u64, u64, u8)>,
        block_start: u64,
        frame: FeatureFrame,
    }
    impl AnalysisOutput for Out {
        fn frame(&mut self, f: &FeatureFrame) {
            self.frame = *f;
        }
        fn note(&mut self, e: NoteEvent) {
            if let NoteEvent::On {
                pitch,
                onset_samples,
                at,
                ..
            } = e
            {
                self.notes
                    .push((self.block_start + u64::from(at), onset_samples, pitch));
            }
        }
    }
    let mut bin = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut files =
        std::io::BufWriter::new(std::fs::File::create(path.with_extension("files.tsv"))?);
    let mut notes_out =
        std::io::BufWriter::new(std::fs::File::create(path.with_extension("notes.tsv"))?);
    for (fi, (wav, tsv)) in pairs.iter().enumerate() {
        writeln!(files, "{fi}\t{}\t{}", wav.display(), tsv.display())?;
        let (samples, sr) = crate::files::transcribe::read_wav(wav)?;
        let mut a = Analyzer::with_tuning(sr, tuning);
        let hop = a.hop_samples();
        let mut out = Out {
            notes: Vec::new(),
            block_start: 0,
            frame: FeatureFrame::default(),
        };
        let mut ring: std::collections::VecDeque<ProbeRow> = Default::default();
        // (fire clock, the note sounding before it, rows collected)
        let mut open: Vec<(u64, i32, Vec<ProbeRow>)> = Vec::new();
        for chunk in samples.chunks(hop) {
            a.process(chunk, &mut out);
            out.block_start += chunk.len() as u64;
            let (since, v) = a.attack_probe();
            let midi = if out.frame.f0_hz > 0.0 {
                crate::music::hz_to_midi(out.frame.f0_hz)
            } else {
                0.0
            };
            let sounding = a.sounding_note().map_or(-1, i32::from);
            let row = (v, midi, out.frame.confidence, sounding);
            if since == 0 {
                let mut rows: Vec<_> = ring.iter().cloned().collect();
                while rows.len() < PROBE_BEFORE {
                    rows.insert(0, (vec![-120.0; row.0.len()], 0.0, 0.0, -1));
                }
                let sounding_before = rows.last().map_or(-1, |r| r.3);
                open.push((out.frame.time_samples, sounding_before, rows));
            }
            for o in open.iter_mut() {
                if o.2.len() < PROBE_BEFORE + PROBE_FROM {
                    o.2.push(row.clone());
                }
            }
            for o in open
                .iter()
                .filter(|o| o.2.len() == PROBE_BEFORE + PROBE_FROM)
            {
                let head = [fi as f32, sr, o.0 as f32, o.1 as f32];
                for x in head {
                    bin.write_all(&x.to_le_bytes())?;
                }
                for r in &o.2 {
                    for x in [r.1, r.2, r.3 as f32] {
                        bin.write_all(&x.to_le_bytes())?;
                    }
                    for x in &r.0 {
                        bin.write_all(&x.to_le_bytes())?;
                    }
                }
            }
            open.retain(|o| o.2.len() < PROBE_BEFORE + PROBE_FROM);
            ring.push_back(row);
            if ring.len() > PROBE_BEFORE {
                ring.pop_front();
            }
        }
        for (emit, onset, pitch) in &out.notes {
            writeln!(
                notes_out,
                "{fi}\t{:.5}\t{:.5}\t{pitch}",
                *emit as f64 / f64::from(sr),
                *onset as f64 / f64::from(sr)
            )?;
        }
        eprint!("\r{fi}/{}", pairs.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The evaluation on ../shared/audio in the test profile (slow: run on demand with
    /// `cargo test -p continuo --lib eval_shared_audio -- --ignored --nocapture`;
    /// CONTINUO_TUNE=name=value,… overrides settings).
    #[test]
    #[ignore]
    fn eval_shared_audio() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/audio");
        if !dir.is_dir() {
            println!("skipped: {} is absent", dir.display());
            return;
        }
        run(Args {
            dir,
            json: false,
            block: 512,
            verbose: std::env::var("CONTINUO_VERBOSE").is_ok(),
            accurate: false,
            trace: std::env::var("CONTINUO_TRACE").ok(),
            set: std::env::var("CONTINUO_TUNE").ok(),
            dump_latency: None,
            held_out: false,
            fit_judge: false,
            probe_attacks: None,
            dump_frames: None,
            dump_judge: None,
            fit_also: Vec::new(),
        })
        .unwrap();
    }

    #[test]
    fn path_latency_medians_count_only_the_onsets_that_fired() {
        let mut l = PathLatency::default();
        l.add(1.0, Some(1.010), 1.020, 1.030);
        l.add(2.0, None, 2.040, 2.050);
        l.add(3.0, Some(3.004), 3.010, 3.020);
        let [fired, run, emitted] = l.medians_ms();
        // Two fired delays (10 and 4 ms); three runs (20, 40, 10) and emits (30, 50, 20).
        assert_eq!(l.fired.len(), 2);
        assert!((run.unwrap() - 20.0).abs() < 1e-6, "{run:?}");
        assert!((emitted.unwrap() - 30.0).abs() < 1e-6, "{emitted:?}");
        // The median of 4 and 10 ms (the start that waited for no onset is left out).
        assert!((fired.unwrap() - 7.0).abs() < 1e-6, "{fired:?}");
    }

    #[test]
    fn the_held_out_fifth_is_every_fifth_melody_with_all_its_renders() {
        let mut pairs = Vec::new();
        for m in 0..10 {
            for (render, program) in [(0, 5), (1, 52)] {
                let wav = PathBuf::from(format!("d/tune-{m:02}-{render}-p{program}.wav"));
                pairs.push((wav.clone(), wav.with_extension("notes.tsv")));
            }
        }
        let held: Vec<String> = held_out(pairs)
            .iter()
            .map(|(w, _)| w.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            held,
            [
                "tune-04-0-p5",
                "tune-04-1-p52",
                "tune-09-0-p5",
                "tune-09-1-p52"
            ]
        );
    }

    fn n(onset_s: f64, pitch: f64) -> ScoredNote {
        ScoredNote { onset_s, pitch }
    }

    #[test]
    fn matching_respects_tolerances() {
        let r = [n(1.0, 60.0)];
        assert_eq!(match_notes(&r, &[n(1.05, 60.0)], 0.05, 0.5).len(), 1);
        assert_eq!(match_notes(&r, &[n(1.051, 60.0)], 0.05, 0.5).len(), 0);
        assert_eq!(match_notes(&r, &[n(0.96, 60.5)], 0.05, 0.5).len(), 1);
        assert_eq!(match_notes(&r, &[n(1.0, 61.0)], 0.05, 0.5).len(), 0);
        assert!(match_notes(&[], &r, 0.05, 0.5).is_empty());
    }

    #[test]
    fn matching_is_one_to_one() {
        // Two estimates near one reference: only one matches.
        let pairs = match_notes(&[n(1.0, 60.0)], &[n(1.0, 60.0), n(1.01, 60.0)], 0.05, 0.5);
        assert_eq!(pairs, vec![(0, 0)]);
        // One estimate between two references: only one matches.
        let pairs = match_notes(&[n(1.0, 60.0), n(1.06, 60.0)], &[n(1.03, 60.0)], 0.05, 0.5);
        assert_eq!(pairs.len(), 1);
    }

    #[test]
    fn matching_is_maximum_not_greedy() {
        // Greedy-by-distance would give reference 0 the estimate at 1.04 (nearest) and leave
        // reference 1 unmatched; the maximum matching pairs both.
        let reference = [n(1.03, 60.0), n(1.08, 60.0)];
        let estimate = [n(0.99, 60.0), n(1.04, 60.0)];
        let pairs = match_notes(&reference, &estimate, 0.05, 0.5);
        assert_eq!(pairs, vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn scores_and_quantiles() {
        assert_eq!(prf(0, 0, 0), (1.0, 1.0, 1.0));
        let (p, r, f) = prf(3, 4, 6);
        assert!((p - 0.5).abs() < 1e-12 && (r - 0.75).abs() < 1e-12 && (f - 0.6).abs() < 1e-12);
        assert_eq!(prf(0, 5, 0).2, 0.0);
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0], 0.5), Some(1.5));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(program_of("ryans-Jig-000-p73"), Some(73));
        assert_eq!(program_of("nothing"), None);
        assert!(is_struck_plucked_synth(0) && is_struck_plucked_synth(81));
        assert!(!is_struck_plucked_synth(40) && !is_struck_plucked_synth(73));
        assert_eq!(family_of(24), "guitar-nylon");
        assert_eq!(family_of(42), "strings-solo");
        assert_eq!(family_of(53), "voice");
        assert_eq!(family_of(105), "ethnic-plucked");
    }

    #[test]
    fn file_score_latency() {
        let reference = [n(1.0, 60.0), n(2.0, 62.0)];
        let est = [TranscribedNote {
            onset_s: 1.01,
            offset_s: 1.5,
            pitch: 60,
            velocity: 0.5,
            emitted_s: 1.02,
        }];
        let (s, _) = score_file("x-p0", &reference, &est);
        assert_eq!(s.matched, 1);
        assert!((s.latencies_s[0] - 0.02).abs() < 1e-9);
        assert!(s.struck_plucked_synth);
        assert!((s.recall - 0.5).abs() < 1e-12 && (s.precision - 1.0).abs() < 1e-12);
    }
}
