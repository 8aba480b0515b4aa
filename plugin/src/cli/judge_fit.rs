//! Fitting the note-start judge of `analysis/judge.rs` (`continuo eval-transcription DIR
//! --fit-judge`). Runs the analyser over every render in DIR (use the development split only)
//! with the judge accepting everything, labels every note start the tracker wanted — good when
//! a written note of its pitch, not yet claimed by an earlier start, begins within 50 ms of its
//! onset — and fits a logistic regression (Newton's method with a small L2 penalty;
//! deterministic). Prints the table to paste into `WEIGHTS` and, per threshold, how many good
//! and bad starts it would veto.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::analysis::judge::{Features, FEATURES};
use crate::analysis::Tuning;
use crate::files::transcribe;

use super::transcription::{
    family_of, find_pairs, program_of, read_reference, ONSET_TOLERANCE_S, PITCH_TOLERANCE,
};

/// One labelled note start.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// The judge's inputs.
    pub features: Features,
    /// A written note of that pitch began within the tolerance (and no earlier start took it).
    pub good: bool,
}

/// Collects the labelled starts of every render in `dir`; `dump` gets one TSV line per start.
pub fn collect(
    dir: &Path,
    tuning: &Tuning,
    mut dump: Option<&mut dyn Write>,
) -> Result<Vec<Example>> {
    let mut examples = Vec::new();
    // The judge must not veto while its data is gathered.
    let all = tuning.clone().with("judge_threshold", 0.0);
    for (wav, tsv) in find_pairs(dir)? {
        let name = wav
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_string();
        let family = program_of(&name).map(family_of).unwrap_or("-");
        let reference = read_reference(&tsv)?;
        let mut claimed = vec![false; reference.len()];
        let (samples, sample_rate) = transcribe::read_wav(&wav)?;
        let (_, starts) = transcribe::transcribe_with_starts(&samples, sample_rate, &all);
        for start in &starts {
            let onset_s = start.onset as f64 / f64::from(sample_rate);
            let hit = reference
                .iter()
                .enumerate()
                .filter(|(i, r)| {
                    !claimed[*i]
                        && (r.pitch - f64::from(start.pitch)).abs() <= PITCH_TOLERANCE
                        && (r.onset_s - onset_s).abs() <= ONSET_TOLERANCE_S
                })
                .min_by(|a, b| {
                    (a.1.onset_s - onset_s)
                        .abs()
                        .total_cmp(&(b.1.onset_s - onset_s).abs())
                })
                .map(|(i, _)| i);
            if let Some(i) = hit {
                claimed[i] = true;
            }
            if let Some(out) = dump.as_deref_mut() {
                let f: Vec<String> = start.features.0.iter().map(|v| format!("{v:.3}")).collect();
                writeln!(
                    out,
                    "{name}\t{family}\t{}\t{}\t{onset_s:.4}\t{}\t{}",
                    start.path.name(),
                    start.pitch,
                    u8::from(hit.is_some()),
                    f.join("\t")
                )?;
            }
            examples.push(Example {
                features: start.features,
                good: hit.is_some(),
            });
        }
    }
    Ok(examples)
}

/// Solves `a · x = b` (n × n, row-major) by Gaussian elimination with partial pivoting;
/// `None` when singular.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[pivot * n + col].abs() < 1e-12 {
            return None;
        }
        for k in 0..n {
            a.swap(col * n + k, pivot * n + k);
        }
        b.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row * n + col] / a[col * n + col];
            for k in col..n {
                a[row * n + k] -= f * a[col * n + k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row * n + k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row * n + row];
    }
    Some(x)
}

fn probability(w: &[f64], f: &Features) -> f64 {
    let z: f64 = w
        .iter()
        .zip(f.0.iter())
        .map(|(w, x)| w * f64::from(*x))
        .sum();
    1.0 / (1.0 + (-z.clamp(-30.0, 30.0)).exp())
}

/// Logistic regression by Newton's method, L2 penalty `l2` on all weights but the bias.
pub fn fit(examples: &[Example], l2: f64) -> Option<[f32; FEATURES]> {
    let n = FEATURES;
    let mut w = vec![0.0f64; n];
    for _ in 0..25 {
        let mut hessian = vec![0.0f64; n * n];
        let mut gradient = vec![0.0f64; n];
        for e in examples {
            let p = probability(&w, &e.features);
            let y = f64::from(u8::from(e.good));
            let s = (p * (1.0 - p)).max(1e-9);
            for i in 0..n {
                let xi = f64::from(e.features.0[i]);
                gradient[i] += (p - y) * xi;
                for j in 0..n {
                    hessian[i * n + j] += s * xi * f64::from(e.features.0[j]);
                }
            }
        }
        for i in 1..n {
            gradient[i] += l2 * w[i];
            hessian[i * n + i] += l2;
        }
        let step = solve(hessian, gradient, n)?;
        let mut biggest = 0.0f64;
        for (wi, si) in w.iter_mut().zip(&step) {
            *wi -= si;
            biggest = biggest.max(si.abs());
        }
        if biggest < 1e-7 {
            break;
        }
    }
    let mut out = [0.0f32; FEATURES];
    for (o, v) in out.iter_mut().zip(&w) {
        *o = *v as f32;
    }
    Some(out)
}

/// `--fit-judge`: collect, fit, report.
pub fn run(dir: &Path, tuning: &Tuning, dump: Option<&Path>) -> Result<()> {
    let mut file = match dump {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    let examples = collect(dir, tuning, file.as_mut().map(|f| f as &mut dyn Write))?;
    let Some(weights) = fit(&examples, 1.0) else {
        anyhow::bail!("the fit is singular ({} examples)", examples.len());
    };
    let w: Vec<f64> = weights.iter().map(|&v| f64::from(v)).collect();
    let good = examples.iter().filter(|e| e.good).count();
    println!(
        "{} note starts ({} good, {} bad)",
        examples.len(),
        good,
        examples.len() - good
    );
    for threshold in [0.2, 0.3, 0.4, 0.5, 0.6] {
        let vetoed = |want: bool| {
            examples
                .iter()
                .filter(|e| e.good == want && probability(&w, &e.features) < threshold)
                .count()
        };
        println!(
            "threshold {threshold:.1}: vetoes {} good and {} bad starts",
            vetoed(true),
            vetoed(false)
        );
    }
    let items: Vec<String> = weights.iter().map(|v| format!("{v:.4}")).collect();
    println!(
        "pub const WEIGHTS: [f32; FEATURES] = [{}];",
        items.join(", ")
    );
    Ok(())
}
