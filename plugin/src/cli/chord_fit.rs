//! `continuo fit-chords`: fits the chord judge of `analysis/chord_judge.rs`. Runs the analyser
//! over every render of a polyphonic folder (four-part chorales, `cargo xtask render-chorales`;
//! use the *tune* split) and of a monophonic one (melody renders; use *dev*), takes the chord
//! judge's measures on every voiced polyphony search hop — a positive in the chorales, a
//! negative in the melodies — and fits a logistic regression (Newton's method, L2 penalty 1 on
//! all weights but the bias, the two classes weighted alike; deterministic). Prints the table
//! to paste into `WEIGHTS` and, for the weights in force and the new ones, the share of hops
//! over 0.5 and the share of time the *chords* decision holds, per folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::analysis::chord_judge::{probability_with, Features, FEATURES, WEIGHTS};
use crate::analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent, Tuning};
use crate::files::transcribe::read_wav;

/// Options of `continuo fit-chords`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Folder of polyphonic renders (NAME.wav; e.g. target/dataset/chorales/tune).
    #[arg(long)]
    pub chords: PathBuf,
    /// Folder of monophonic renders (NAME.wav; e.g. target/dataset/dev).
    #[arg(long)]
    pub mono: PathBuf,
    /// Analysis settings (name=value,…).
    #[arg(long, default_value = "")]
    pub tuning: String,
    /// Write one TSV line per search hop (file, label, time, measures, decision) here.
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// Files analysed at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
}

/// One labelled search hop.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// The judge's inputs.
    pub features: Features,
    /// From the polyphonic folder.
    pub chord: bool,
}

/// What one render gave.
struct FileHops {
    name: String,
    chord: bool,
    examples: Vec<Example>,
    /// Dump lines.
    lines: Vec<String>,
    /// Dump lines of the onsets whose rise was measured (chord onsets).
    onsets: Vec<String>,
    /// Hops, and hops with the *chords* decision held.
    hops: u64,
    chords_hops: u64,
}

/// Discards the analyser's output.
struct Nothing;
impl AnalysisOutput for Nothing {
    fn frame(&mut self, _: &FeatureFrame) {}
    fn note(&mut self, _: NoteEvent) {}
}

/// Runs the analyser over one render, one hop per call, and keeps every fresh voiced search.
fn hops_of(wav: &Path, chord: bool, tuning: &Tuning, dump: bool) -> Result<FileHops> {
    let name = wav
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (samples, rate) = read_wav(wav)?;
    let mut a = Analyzer::with_tuning(rate, tuning);
    let hop = a.hop_samples().max(1);
    let mut out = FileHops {
        name,
        chord,
        examples: Vec::new(),
        lines: Vec::new(),
        onsets: Vec::new(),
        hops: 0,
        chords_hops: 0,
    };
    for (i, block) in samples.chunks(hop).enumerate() {
        a.process(block, &mut Nothing);
        let p = *a.last_polyphony();
        out.hops += 1;
        out.chords_hops += u64::from(p.chords);
        if dump && p.rise_measured {
            out.onsets.push(format!(
                "{}\t{}\t{:.3}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{}",
                out.name,
                u8::from(chord),
                ((i + 1) * hop) as f64 / f64::from(rate),
                p.rise_second,
                p.rise_third,
                p.rise_share,
                p.onset_share,
                u8::from(p.chords)
            ));
        }
        if !p.searched || p.first == 0 {
            continue;
        }
        let features = Features::of(&p.measures);
        out.examples.push(Example { features, chord });
        if dump {
            let m = p.measures;
            out.lines.push(format!(
                "{}\t{}\t{:.3}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{}",
                out.name,
                u8::from(chord),
                ((i + 1) * hop) as f64 / f64::from(rate),
                m.second,
                m.third,
                m.left,
                m.confidence,
                m.chroma_peak,
                p.probability,
                u8::from(p.chords)
            ));
        }
    }
    Ok(out)
}

/// Logistic regression by Newton's method (classes weighted alike, L2 `l2` on all weights but
/// the bias); `None` when the system is singular or a class is empty.
pub fn fit(examples: &[Example], l2: f64) -> Option<[f32; FEATURES]> {
    let n = FEATURES;
    let pos = examples.iter().filter(|e| e.chord).count();
    let neg = examples.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let total = examples.len() as f64;
    let (wp, wn) = (total / (2.0 * pos as f64), total / (2.0 * neg as f64));
    let mut w = vec![0.0f64; n];
    for _ in 0..30 {
        let mut grad = vec![0.0f64; n];
        let mut hess = vec![0.0f64; n * n];
        for e in examples {
            let x = e.features.0.map(f64::from);
            let z: f64 = w.iter().zip(&x).map(|(w, x)| w * x).sum();
            let p = 1.0 / (1.0 + (-z.clamp(-30.0, 30.0)).exp());
            let (y, weight) = if e.chord { (1.0, wp) } else { (0.0, wn) };
            let s = weight * p * (1.0 - p);
            for i in 0..n {
                grad[i] += weight * (p - y) * x[i];
                for j in 0..n {
                    hess[i * n + j] += s * x[i] * x[j];
                }
            }
        }
        for i in 1..n {
            grad[i] += l2 * w[i];
            hess[i * n + i] += l2;
        }
        let step = super::judge_fit::solve(hess, grad, n)?;
        let mut largest = 0.0f64;
        for (w, s) in w.iter_mut().zip(step) {
            *w -= s;
            largest = largest.max(s.abs());
        }
        if largest < 1e-7 {
            break;
        }
    }
    let mut out = [0.0f32; FEATURES];
    for (o, v) in out.iter_mut().zip(w) {
        *o = v as f32;
    }
    Some(out)
}

/// Share of each class's hops whose probability under `weights` is at least 0.5.
fn shares(examples: &[Example], weights: &[f32; FEATURES]) -> (f64, f64) {
    let (mut pos, mut pos_hit, mut neg, mut neg_hit) = (0u64, 0u64, 0u64, 0u64);
    for e in examples {
        let hit = probability_with(weights, &e.features) >= 0.5;
        if e.chord {
            pos += 1;
            pos_hit += u64::from(hit);
        } else {
            neg += 1;
            neg_hit += u64::from(hit);
        }
    }
    (
        pos_hit as f64 / pos.max(1) as f64,
        neg_hit as f64 / neg.max(1) as f64,
    )
}

/// The renders of `dir` (every NAME.wav), sorted.
fn wavs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("wav"))
        .collect();
    v.sort();
    anyhow::ensure!(!v.is_empty(), "{} holds no .wav file", dir.display());
    Ok(v)
}

pub fn run(args: Args) -> Result<()> {
    let tuning = Tuning::parse(&args.tuning).map_err(|e| anyhow::anyhow!(e))?;
    let mut jobs: Vec<(PathBuf, bool)> =
        wavs(&args.chords)?.into_iter().map(|w| (w, true)).collect();
    jobs.extend(wavs(&args.mono)?.into_iter().map(|w| (w, false)));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    let dump = args.dump.is_some();
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.clamp(1, 16) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((wav, chord)) = jobs.get(i) else {
                    break;
                };
                let r = hops_of(wav, *chord, &tuning, dump);
                if let Ok(mut all) = done.lock() {
                    all.push((i, r.with_context(|| format!("{}", wav.display()))));
                }
            });
        }
    });
    let mut files: Vec<(usize, FileHops)> = Vec::new();
    for (i, r) in done.into_inner().unwrap_or_default() {
        match r {
            Ok(f) => files.push((i, f)),
            Err(e) => eprintln!("skipped: {e:#}"),
        }
    }
    files.sort_by_key(|(i, _)| *i);
    if let Some(path) = &args.dump {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(
            w,
            "file\tchord\ttime_s\tsecond\tthird\tleft\tconfidence\tchroma_peak\tprobability\tchords"
        )?;
        for (_, f) in &files {
            for l in &f.lines {
                writeln!(w, "{l}")?;
            }
        }
        let path = path.with_extension("onsets.tsv");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(
            w,
            "file\tchord\ttime_s\trise_second\trise_third\trise_share\tonset_share\tchords"
        )?;
        for (_, f) in &files {
            for l in &f.onsets {
                writeln!(w, "{l}")?;
            }
        }
    }
    let examples: Vec<Example> = files
        .iter()
        .flat_map(|(_, f)| f.examples.iter().copied())
        .collect();
    for chord in [true, false] {
        let (hops, held): (u64, u64) = files
            .iter()
            .filter(|(_, f)| f.chord == chord)
            .fold((0, 0), |a, (_, f)| (a.0 + f.hops, a.1 + f.chords_hops));
        let flagged = files
            .iter()
            .filter(|(_, f)| f.chord == chord && f.chords_hops > 0)
            .count();
        println!(
            "{}: {} files, {} search hops; weights in force: chords held on {:.1} % of hops, in {} files",
            if chord { "polyphonic" } else { "monophonic" },
            files.iter().filter(|(_, f)| f.chord == chord).count(),
            examples.iter().filter(|e| e.chord == chord).count(),
            100.0 * held as f64 / hops.max(1) as f64,
            flagged
        );
        for (_, f) in files
            .iter()
            .filter(|(_, f)| !chord && f.chord == chord && f.chords_hops > 0)
        {
            println!(
                "  held in {}: {:.1} %",
                f.name,
                100.0 * f.chords_hops as f64 / f.hops.max(1) as f64
            );
        }
    }
    let (p, n) = shares(&examples, &WEIGHTS);
    println!(
        "weights in force: p >= 0.5 on {:.1} % of polyphonic, {:.1} % of monophonic hops",
        100.0 * p,
        100.0 * n
    );
    let weights = fit(&examples, 1.0).context("the fit failed (singular, or a class is empty)")?;
    let (p, n) = shares(&examples, &weights);
    println!(
        "fitted: p >= 0.5 on {:.1} % of polyphonic, {:.1} % of monophonic hops",
        100.0 * p,
        100.0 * n
    );
    let items: Vec<String> = weights.iter().map(|v| format!("{v:.4}")).collect();
    println!(
        "pub const WEIGHTS: [f32; FEATURES] = [{}];",
        items.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_separates_and_is_deterministic() {
        // Chords: a strong second candidate; melodies: a weak one.
        let mut examples = Vec::new();
        for i in 0..200 {
            let jitter = (i % 10) as f32 * 0.02;
            let m = |second: f32| crate::analysis::chord_judge::ChordMeasures {
                second,
                third: second * 0.5,
                left: second * 0.4,
                confidence: 0.9 - second * 0.3,
                chroma_peak: 0.3,
            };
            examples.push(Example {
                features: Features::of(&m(0.5 + jitter)),
                chord: true,
            });
            examples.push(Example {
                features: Features::of(&m(0.1 + jitter)),
                chord: false,
            });
        }
        let w = fit(&examples, 1.0).expect("fits");
        let (p, n) = shares(&examples, &w);
        assert!(p > 0.95 && n < 0.05, "{p} {n}");
        assert_eq!(fit(&examples, 1.0), Some(w));
        assert!(fit(&examples[..1], 1.0).is_none(), "one class only");
    }
}
