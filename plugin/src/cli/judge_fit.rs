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

use crate::analysis::judge::{network, shipped_probability, Features, FEATURES, HIDDEN};
use crate::analysis::Tuning;
use crate::files::transcribe;

use super::transcription::{
    family_of, find_pairs, program_of, read_reference, ONSET_TOLERANCE_S, PITCH_TOLERANCE,
};

/// One labelled note start.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    /// Index of the render it comes from (for the held-out files).
    pub file: usize,
    /// The judge's inputs.
    pub features: Features,
    /// A written note of that pitch began within the tolerance (and no earlier start took it).
    pub good: bool,
}

/// Collects the labelled starts of every render in `dirs`; `dump` gets one TSV line per start.
/// Without `judging` the judge accepts every start while they are gathered; with it the
/// shipped judge vetoes as in use (`judge_threshold`), and the starts the tracker then meets
/// are gathered, the vetoed ones too: a veto changes what the tracker wants next (a retry, the
/// next pitch), and those starts are the ones a refitted judge will be asked about.
pub fn collect(
    dirs: &[std::path::PathBuf],
    tuning: &Tuning,
    judging: bool,
    mut dump: Option<&mut dyn Write>,
) -> Result<Vec<Example>> {
    let mut examples = Vec::new();
    let all = if judging {
        tuning.clone()
    } else {
        tuning.clone().with("judge_threshold", 0.0)
    };
    let mut pairs = Vec::new();
    for dir in dirs {
        pairs.extend(find_pairs(dir)?);
    }
    for (file, (wav, tsv)) in pairs.into_iter().enumerate() {
        let name = wav
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_string();
        let family = program_of(&name).map(family_of).unwrap_or("-");
        let reference = read_reference(&tsv)?;
        let mut claimed = vec![false; reference.len()];
        let (samples, sample_rate) = transcribe::read_wav(&wav)?;
        let (_, _, starts) = transcribe::transcribe_with_starts(&samples, sample_rate, &all);
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
            // Only a start that went ahead takes the written note: a vetoed good start leaves
            // it to the retry or the next path.
            if let (Some(i), true) = (hit, start.accepted) {
                claimed[i] = true;
            }
            if let Some(out) = dump.as_deref_mut() {
                let f: Vec<String> = start.features.0.iter().map(|v| format!("{v:.3}")).collect();
                let decided_s = start.decided as f64 / f64::from(sample_rate);
                writeln!(
                    out,
                    "{name}\t{family}\t{}\t{}\t{onset_s:.4}\t{decided_s:.4}\t{}\t{}",
                    start.path.name(),
                    start.pitch,
                    u8::from(hit.is_some()),
                    f.join("\t")
                )?;
            }
            examples.push(Example {
                file,
                features: start.features,
                good: hit.is_some(),
            });
        }
    }
    Ok(examples)
}

/// Solves `a · x = b` (n × n, row-major) by Gaussian elimination with partial pivoting;
/// `None` when singular.
pub(crate) fn solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Option<Vec<f64>> {
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

/// The network's weights while fitting: hidden rows, then the output (bias first).
#[derive(Debug, Clone)]
pub struct Network {
    pub hidden: [[f32; FEATURES]; HIDDEN],
    pub output: [f32; HIDDEN + 1],
}

impl Network {
    fn probability(&self, f: &Features) -> f64 {
        f64::from(network(&self.hidden, &self.output, &f.0))
    }

    fn from_vec(v: &[f64]) -> Self {
        let mut n = Self {
            hidden: [[0.0; FEATURES]; HIDDEN],
            output: [0.0; HIDDEN + 1],
        };
        for (i, x) in n
            .hidden
            .iter_mut()
            .flatten()
            .chain(n.output.iter_mut())
            .enumerate()
        {
            *x = v.get(i).copied().unwrap_or(0.0) as f32;
        }
        n
    }
}

/// Fits the network by full-batch Adam (`steps` steps, learning rate `rate`, L2 `l2`).
pub fn fit_network(examples: &[&Example], steps: usize, rate: f64, l2: f64) -> Network {
    // Fixed pseudo-random start (a linear congruential generator): the same weights every run.
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    let size = HIDDEN * FEATURES + HIDDEN + 1;
    let mut w: Vec<f64> = (0..size).map(|_| 0.6 * next()).collect();
    w[HIDDEN * FEATURES] = 1.0; // output bias: most starts are good
    let (mut m, mut v) = (vec![0.0f64; size], vec![0.0f64; size]);
    let count = examples.len().max(1) as f64;
    for step in 1..=steps {
        let mut grad = vec![0.0f64; size];
        let mut hidden = [0.0f64; HIDDEN];
        for e in examples {
            let x = &e.features.0;
            let mut z = w[HIDDEN * FEATURES];
            for (j, h) in hidden.iter_mut().enumerate() {
                let a: f64 = (0..FEATURES)
                    .map(|k| w[j * FEATURES + k] * f64::from(x[k]))
                    .sum();
                *h = a.tanh();
                z += w[HIDDEN * FEATURES + 1 + j] * *h;
            }
            let p = 1.0 / (1.0 + (-z.clamp(-30.0, 30.0)).exp());
            let d = p - f64::from(u8::from(e.good));
            grad[HIDDEN * FEATURES] += d;
            for (j, &h) in hidden.iter().enumerate() {
                let out_w = w[HIDDEN * FEATURES + 1 + j];
                grad[HIDDEN * FEATURES + 1 + j] += d * h;
                let dh = d * out_w * (1.0 - h * h);
                for k in 0..FEATURES {
                    grad[j * FEATURES + k] += dh * f64::from(x[k]);
                }
            }
        }
        let (b1, b2) = (0.9f64, 0.999f64);
        for i in 0..size {
            let g = grad[i] / count + l2 * w[i];
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let mh = m[i] / (1.0 - b1.powi(step as i32));
            let vh = v[i] / (1.0 - b2.powi(step as i32));
            w[i] -= rate * mh / (vh.sqrt() + 1e-8);
        }
    }
    Network::from_vec(&w)
}

/// Prints, per threshold, the good and bad starts vetoed and the F1 the held-out starts would
/// reach if each vetoed start simply disappeared.
fn report(label: &str, examples: &[&Example], probability: impl Fn(&Features) -> f64) {
    let good = examples.iter().filter(|e| e.good).count();
    let bad = examples.len() - good;
    println!(
        "{label}: {} starts ({good} good, {bad} bad)",
        examples.len()
    );
    for threshold in [0.0, 0.2, 0.3, 0.4, 0.5, 0.6] {
        let vetoed = |want: bool| {
            examples
                .iter()
                .filter(|e| e.good == want && probability(&e.features) < threshold)
                .count()
        };
        let (vg, vb) = (vetoed(true), vetoed(false));
        // F1 of the starts against the good ones (the written notes found), after the veto.
        let kept_good = (good - vg) as f64;
        let kept = (examples.len() - vg - vb) as f64;
        let f1 = 2.0 * kept_good / (kept + good as f64);
        println!(
            "  threshold {threshold:.1}: vetoes {vg} good and {vb} bad starts; F1 of the starts against the good ones {f1:.4}"
        );
    }
}

/// `--fit-judge`: collect from `dirs`, fit, report (beside the shipped weights on the same
/// held-out starts).
pub fn run(dirs: &[std::path::PathBuf], tuning: &Tuning, dump: Option<&Path>) -> Result<()> {
    let mut file = match dump {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    let mut examples = collect(
        dirs,
        tuning,
        false,
        file.as_mut().map(|f| f as &mut dyn Write),
    )?;
    // `--set fit_judging=1`: the starts met with the shipped judge vetoing join them.
    if tuning.get("fit_judging", 0.0) > 0.5 {
        examples.extend(collect(
            dirs,
            tuning,
            true,
            file.as_mut().map(|f| f as &mut dyn Write),
        )?);
    }
    // Starts at the sounding pitch (repeat and swell paths) have their own judge, which is not
    // refitted here (`judge::PLAIN_HIDDEN`).
    examples.retain(|e| !e.features.at_sounding_pitch());
    let train: Vec<&Example> = examples.iter().filter(|e| e.file % 5 != 0).collect();
    let held: Vec<&Example> = examples.iter().filter(|e| e.file % 5 == 0).collect();
    let owned: Vec<Example> = train.iter().map(|e| **e).collect();
    if let Some(weights) = fit(&owned, 1.0) {
        let w: Vec<f64> = weights.iter().map(|&v| f64::from(v)).collect();
        report("logistic regression, held-out files", &held, |f| {
            probability(&w, f)
        });
    }
    let net = fit_network(
        &train,
        tuning.get("fit_steps", 1500.0).max(1.0) as usize,
        f64::from(tuning.get("fit_rate", 0.02)),
        f64::from(tuning.get("fit_l2", 1e-4)),
    );
    report("network, training files", &train, |f| net.probability(f));
    report("network, held-out files", &held, |f| net.probability(f));
    report("shipped judge, held-out files", &held, |f| {
        f64::from(shipped_probability(f))
    });
    println!("pub const HIDDEN_WEIGHTS: [[f32; FEATURES]; HIDDEN] = [");
    for row in &net.hidden {
        let items: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
        println!("    [{}],", items.join(", "));
    }
    println!("];");
    let items: Vec<String> = net.output.iter().map(|v| format!("{v:.4}")).collect();
    println!(
        "pub const OUTPUT_WEIGHTS: [f32; HIDDEN + 1] = [{}];",
        items.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts whose goodness depends on two inputs together (not linearly separable).
    fn examples() -> Vec<Example> {
        let mut out = Vec::new();
        for i in 0..200 {
            let a = (i % 10) as f32 / 10.0;
            let b = (i / 10 % 10) as f32 / 10.0;
            let mut f = [0.0f32; FEATURES];
            f[0] = 1.0;
            f[5] = a;
            f[6] = b;
            out.push(Example {
                file: i,
                features: Features(f),
                good: (a > 0.45) != (b > 0.45),
            });
        }
        out
    }

    #[test]
    fn the_network_learns_and_is_deterministic() {
        let data = examples();
        let refs: Vec<&Example> = data.iter().collect();
        let net = fit_network(&refs, 800, 0.05, 0.0);
        let right = refs
            .iter()
            .filter(|e| (net.probability(&e.features) >= 0.5) == e.good)
            .count();
        assert!(right >= 180, "{right} of 200 right");
        let again = fit_network(&refs, 800, 0.05, 0.0);
        assert_eq!(net.hidden, again.hidden);
        assert_eq!(net.output, again.output);
    }

    #[test]
    fn a_vetoed_start_leaves_its_written_note_to_the_next_start() {
        let dir = std::env::temp_dir().join(format!("continuo-judge-fit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        crate::cli::render::tests::write_plucks(&dir.join("plucks.wav"));
        let tsv: String = crate::cli::render::tests::PLUCKS
            .iter()
            .map(|(on, m)| format!("{on:.3}\t{:.3}\t{m}\n", on + 0.2))
            .collect();
        std::fs::write(dir.join("plucks.notes.tsv"), tsv).unwrap();
        let dirs = [dir.clone()];
        // A judge that vetoes every start: each note is asked about again and again.
        let tuning = Tuning::parse("judge_threshold=0.9999").unwrap();
        let good = |judging: bool| {
            collect(&dirs, &tuning, judging, None)
                .unwrap()
                .iter()
                .filter(|e| e.good)
                .count()
        };
        let (free, judged) = (good(false), good(true));
        std::fs::remove_dir_all(&dir).ok();
        let notes = crate::cli::render::tests::PLUCKS.len();
        // Accepting every start, each written note is found once.
        assert!(
            free > 0 && free <= notes,
            "{free} good starts without the judge"
        );
        // Vetoed, the same notes are wanted again at their onsets, and each time rightly.
        assert!(
            judged > free,
            "{judged} good starts with every start vetoed, {free} without"
        );
    }
}
