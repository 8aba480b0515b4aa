//! `continuo fit-top-voice DIR`: fits the top-voice network (`analysis/top_voice.rs`) on
//! four-part chorale renders (`cargo xtask render-chorales`; use the tune split only, never the
//! test split) and writes its weights file.
//!
//! Every render is run through the analyser with the top-voice search on every search hop
//! (`top_voice_always=1`); a hop is an example when the soprano holds one note over the whole
//! long frame and that note is a candidate. Its label is the soprano's semitone. The network
//! scores each candidate with the same weights, and a softmax over the candidates is fitted to
//! the label (cross-entropy, mini-batch Adam, a fixed seed: the same weights every run). Every
//! fourth chorale (sorted by name) is held out; the report gives, per instrument, how often
//! the held-out hops' winner is the soprano and, per threshold, how many hops are that sure
//! and how many of those are right.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::analysis::top_voice::{squash, Network, CANDIDATES, FEATURES, HIDDEN, LOWEST};
use crate::analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent, Tuning};
use crate::files::transcribe::read_wav;
use crate::harmony::chorale::read_chorale;

/// Options of `continuo fit-top-voice`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Folder of NAME.wav + NAME.mid chorale renders (the tune split of `cargo xtask
    /// render-chorales`; never its test split).
    pub dir: PathBuf,
    /// Keep one search hop in this many (the hops of a held chord are much alike).
    #[arg(long, default_value_t = 4)]
    pub every: usize,
    /// Passes over the training hops.
    #[arg(long, default_value_t = 12)]
    pub epochs: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub rate: f32,
    /// Write the weights file here (plugin/src/analysis/top_voice_weights.rs) instead of
    /// printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Discards the analyser's output.
struct Nothing;
impl AnalysisOutput for Nothing {
    fn frame(&mut self, _: &FeatureFrame) {}
    fn note(&mut self, _: NoteEvent) {}
}

/// Labelled hops: `CANDIDATES × FEATURES` measures each, the soprano's candidate index, the
/// chorale (for the held-out split) and the instrument.
#[derive(Default)]
pub struct Hops {
    pub rows: Vec<f32>,
    pub labels: Vec<u8>,
    pub chorale: Vec<usize>,
    pub instrument: Vec<String>,
}

impl Hops {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn example(&self, i: usize) -> &[f32] {
        let n = CANDIDATES * FEATURES;
        &self.rows[i * n..(i + 1) * n]
    }
}

/// The soprano's note sounding at `t` seconds (voices are legato: each note lasts to the next).
fn soprano_at(notes: &[(f64, f64, u8)], t: f64) -> Option<u8> {
    notes
        .iter()
        .find(|&&(on, off, _)| on <= t && t < off)
        .map(|n| n.2)
}

/// Collects the labelled hops of every render in `dir`.
pub fn collect(dir: &Path, every: usize) -> Result<Hops> {
    let mut wavs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("wav"))
        .filter(|p| p.with_extension("mid").exists())
        .collect();
    wavs.sort();
    anyhow::ensure!(
        !wavs.is_empty(),
        "no NAME.wav + NAME.mid pairs in {}",
        dir.display()
    );
    let chorale_of = |p: &Path| -> (String, String) {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match stem.rsplit_once('-') {
            Some((c, i)) => (c.to_string(), i.to_string()),
            None => (stem, String::new()),
        }
    };
    let names: Vec<String> = {
        let mut v: Vec<String> = wavs.iter().map(|p| chorale_of(p).0).collect();
        v.sort();
        v.dedup();
        v
    };
    let tuning = Tuning::default().with("top_voice_always", 1.0);
    // Two workers over alternate files; their hops are joined in file order.
    let one = |wav: &PathBuf| -> Result<Hops> {
        let mut hops = Hops::default();
        let (chorale, instrument) = chorale_of(wav);
        let index = names.iter().position(|n| *n == chorale).unwrap_or(0);
        let bytes = std::fs::read(wav.with_extension("mid"))?;
        let score = read_chorale(&chorale, &bytes)?;
        let spb = score.seconds_per_beat;
        let soprano: Vec<(f64, f64, u8)> = score
            .soprano()
            .iter()
            .map(|n| (n.onset * spb, (n.onset + n.duration) * spb, n.pitch))
            .collect();
        let (samples, rate) = read_wav(wav)?;
        let mut a = Analyzer::with_tuning(rate, &tuning);
        let hop = a.hop_samples().max(1);
        let frame_s = a.window_samples() as f64 / f64::from(rate);
        let mut searched = 0usize;
        for (i, block) in samples.chunks(hop).enumerate() {
            a.process(block, &mut Nothing);
            let Some((features, _)) = a.last_top_voice() else {
                continue;
            };
            searched += 1;
            if !searched.is_multiple_of(every.max(1)) {
                continue;
            }
            let t = ((i + 1) * hop) as f64 / f64::from(rate);
            let (Some(now), Some(then)) = (
                soprano_at(&soprano, t - 0.01),
                soprano_at(&soprano, t - frame_s + 0.01),
            ) else {
                continue;
            };
            let label = i32::from(now) - i32::from(LOWEST);
            if now != then || !(0..CANDIDATES as i32).contains(&label) {
                continue;
            }
            if !features.measured[label as usize] {
                continue;
            }
            for (row, &measured) in features.rows.iter().zip(&features.measured) {
                if measured {
                    hops.rows.extend_from_slice(row);
                } else {
                    // Not a candidate on this hop (see `top_voice::MIN_SHARE`).
                    hops.rows.extend(std::iter::repeat_n(f32::NAN, FEATURES));
                }
            }
            hops.labels.push(label as u8);
            hops.chorale.push(index);
            hops.instrument.push(instrument.clone());
        }
        Ok(hops)
    };
    let results: Vec<Result<Hops>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let (wavs, one) = (&wavs, &one);
                scope.spawn(move || {
                    wavs.iter()
                        .skip(w)
                        .step_by(2)
                        .map(|p| (p.clone(), one(p)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(PathBuf, Result<Hops>)> = Vec::new();
        for h in workers {
            match h.join() {
                Ok(v) => all.extend(v),
                Err(_) => all.push((PathBuf::new(), Err(anyhow::anyhow!("a worker panicked")))),
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.into_iter().map(|(_, r)| r).collect()
    });
    let mut hops = Hops::default();
    for r in results {
        let h = r?;
        hops.rows.extend(h.rows);
        hops.labels.extend(h.labels);
        hops.chorale.extend(h.chorale);
        hops.instrument.extend(h.instrument);
    }
    Ok(hops)
}

/// Fixed pseudo-random numbers (a linear congruential generator) in [-0.5, 0.5).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as f64 / (1u64 << 31) as f64 - 0.5) as f32
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() + 0.5) * n as f32) as usize % n.max(1)
    }
}

/// Softmax probabilities of every candidate of one example under `net`.
pub fn probabilities(net: &Network, example: &[f32]) -> [f32; CANDIDATES] {
    let mut s = [0.0f32; CANDIDATES];
    for (c, x) in example.chunks_exact(FEATURES).enumerate().take(CANDIDATES) {
        let mut row = [0.0f32; FEATURES];
        row.copy_from_slice(x);
        s[c] = if x[0].is_nan() {
            f32::MIN
        } else {
            net.score(&row)
        };
    }
    let max = s.iter().fold(f32::MIN, |a, &b| a.max(b));
    let total: f32 = s.iter().map(|&v| (v - max).exp()).sum();
    s.map(|v| (v - max).exp() / total)
}

/// Fits the network on the examples `train` of `hops`.
pub fn fit(hops: &Hops, train: &[usize], epochs: usize, rate: f32) -> Network {
    // Normalisation from the training rows.
    let mut mean = [0.0f64; FEATURES];
    let mut square = [0.0f64; FEATURES];
    let mut count = 0.0f64;
    for &i in train {
        for x in hops.example(i).chunks_exact(FEATURES) {
            if x[0].is_nan() {
                continue;
            }
            for k in 0..FEATURES {
                mean[k] += f64::from(x[k]);
                square[k] += f64::from(x[k]) * f64::from(x[k]);
            }
            count += 1.0;
        }
    }
    let count = count.max(1.0);
    let mut net = Network {
        mean: [0.0; FEATURES],
        scale: [1.0; FEATURES],
        hidden: [[0.0; FEATURES + 1]; HIDDEN],
        output: [0.0; HIDDEN + 1],
    };
    for k in 0..FEATURES {
        let m = mean[k] / count;
        net.mean[k] = m as f32;
        net.scale[k] = ((square[k] / count - m * m).max(0.0).sqrt() as f32).max(1e-3);
    }
    let mut lcg = Lcg(0x7095_a1ce_0000_0001);
    // Parameters in one vector: hidden rows (FEATURES weights + bias each), then the output.
    let size = HIDDEN * (FEATURES + 1) + HIDDEN + 1;
    let mut w: Vec<f32> = (0..size).map(|_| 0.5 * lcg.next()).collect();
    let (mut m, mut v) = (vec![0.0f32; size], vec![0.0f32; size]);
    let mut order: Vec<usize> = train.to_vec();
    let batch = 256usize;
    let mut step = 0i32;
    let out0 = HIDDEN * (FEATURES + 1);
    let mut xn = [[0.0f32; FEATURES]; CANDIDATES];
    let mut h = [[0.0f32; HIDDEN]; CANDIDATES];
    for _ in 0..epochs {
        // Fisher–Yates with the fixed generator.
        for i in (1..order.len()).rev() {
            let j = lcg.below(i + 1);
            order.swap(i, j);
        }
        for chunk in order.chunks(batch) {
            let mut grad = vec![0.0f32; size];
            for &e in chunk {
                let ex = hops.example(e);
                let mut s = [0.0f32; CANDIDATES];
                for c in 0..CANDIDATES {
                    if ex[c * FEATURES].is_nan() {
                        s[c] = f32::MIN;
                        continue;
                    }
                    for k in 0..FEATURES {
                        xn[c][k] = (ex[c * FEATURES + k] - net.mean[k]) / net.scale[k];
                    }
                    let mut z = w[out0];
                    for j in 0..HIDDEN {
                        let row = &w[j * (FEATURES + 1)..(j + 1) * (FEATURES + 1)];
                        let mut a = row[FEATURES];
                        for k in 0..FEATURES {
                            a += row[k] * xn[c][k];
                        }
                        h[c][j] = squash(a);
                        z += w[out0 + 1 + j] * h[c][j];
                    }
                    s[c] = z;
                }
                let max = s.iter().fold(f32::MIN, |a, &b| a.max(b));
                let total: f32 = s.iter().map(|&v| (v - max).exp()).sum();
                let label = usize::from(hops.labels[e]);
                for c in 0..CANDIDATES {
                    if s[c] == f32::MIN {
                        continue;
                    }
                    let d = (s[c] - max).exp() / total - f32::from(u8::from(c == label));
                    if d.abs() < 1e-6 {
                        continue;
                    }
                    grad[out0] += d;
                    for j in 0..HIDDEN {
                        grad[out0 + 1 + j] += d * h[c][j];
                        let dh = d * w[out0 + 1 + j] * (1.0 - h[c][j] * h[c][j]);
                        let base = j * (FEATURES + 1);
                        for k in 0..FEATURES {
                            grad[base + k] += dh * xn[c][k];
                        }
                        grad[base + FEATURES] += dh;
                    }
                }
            }
            step += 1;
            let n = chunk.len() as f32;
            let (b1, b2) = (0.9f32, 0.999f32);
            for i in 0..size {
                let g = grad[i] / n + 1e-4 * w[i];
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                let mh = m[i] / (1.0 - b1.powi(step));
                let vh = v[i] / (1.0 - b2.powi(step));
                w[i] -= rate * mh / (vh.sqrt() + 1e-8);
            }
        }
    }
    for j in 0..HIDDEN {
        net.hidden[j].copy_from_slice(&w[j * (FEATURES + 1)..(j + 1) * (FEATURES + 1)]);
    }
    net.output.copy_from_slice(&w[out0..]);
    net
}

/// The weights file's text.
pub fn weights_file(net: &Network, provenance: &str) -> String {
    let list = |v: &[f32]| -> String {
        v.iter()
            .map(|x| format!("{x:.5}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "//! Weights of the top-voice network (`top_voice.rs`): written by `continuo fit-top-voice`\n\
         //! (`cli/top_voice_fit.rs`); do not edit by hand.\n//!\n//! {provenance}\n\n\
         use super::top_voice::{{Network, FEATURES, HIDDEN}};\n\n\
         /// The shipped network.\n\
         pub fn network() -> Network {{\n    Network {{\n        mean: MEAN,\n        scale: SCALE,\n        \
         hidden: HIDDEN_ROWS,\n        output: OUTPUT,\n    }}\n}}\n"
    );
    let _ = writeln!(
        s,
        "#[rustfmt::skip]\nconst MEAN: [f32; FEATURES] = [{}];\n",
        list(&net.mean)
    );
    let _ = writeln!(
        s,
        "#[rustfmt::skip]\nconst SCALE: [f32; FEATURES] = [{}];\n",
        list(&net.scale)
    );
    let _ = writeln!(
        s,
        "#[rustfmt::skip]\nconst HIDDEN_ROWS: [[f32; FEATURES + 1]; HIDDEN] = ["
    );
    for row in &net.hidden {
        let _ = writeln!(s, "    [{}],", list(row));
    }
    let _ = writeln!(s, "];\n");
    let _ = writeln!(
        s,
        "#[rustfmt::skip]\nconst OUTPUT: [f32; HIDDEN + 1] = [{}];",
        list(&net.output)
    );
    s
}

/// Per instrument: held-out hops, how many the winner gets right, and per threshold the sure
/// ones and the right sure ones.
fn report(hops: &Hops, held: &[usize], net: &Network) {
    const THRESHOLDS: [f32; 3] = [0.3, 0.5, 0.7];
    /// Hops, winner right, sure per threshold, right among those.
    type Tally = (usize, usize, [usize; 3], [usize; 3]);
    let mut by: BTreeMap<&str, Tally> = BTreeMap::new();
    for &i in held {
        let p = probabilities(net, hops.example(i));
        let (best, &share) = p
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((0, &0.0));
        let right = best == usize::from(hops.labels[i]);
        let e = by.entry(hops.instrument[i].as_str()).or_default();
        e.0 += 1;
        e.1 += usize::from(right);
        for (t, &th) in THRESHOLDS.iter().enumerate() {
            if share >= th {
                e.2[t] += 1;
                e.3[t] += usize::from(right);
            }
        }
    }
    println!("held-out hops: instrument, hops, winner right, then per threshold: share of hops that sure, right among them");
    for (name, (n, right, sure, sure_right)) in by {
        let n = n.max(1);
        let mut line = format!("{name:<10} {n:>6}  right {:.3}", right as f64 / n as f64);
        for t in 0..THRESHOLDS.len() {
            line += &format!(
                "  ≥{:.1}: {:.2} / {:.3}",
                THRESHOLDS[t],
                sure[t] as f64 / n as f64,
                sure_right[t] as f64 / sure[t].max(1) as f64
            );
        }
        println!("{line}");
    }
}

pub fn run(args: Args) -> Result<()> {
    let hops = collect(&args.dir, args.every)?;
    let (held, train): (Vec<usize>, Vec<usize>) =
        (0..hops.len()).partition(|&i| hops.chorale[i] % 4 == 3);
    println!(
        "{} labelled hops ({} for fitting, {} held out)",
        hops.len(),
        train.len(),
        held.len()
    );
    let net = fit(&hops, &train, args.epochs, args.rate);
    report(&hops, &held, &net);
    let provenance = format!(
        "`continuo fit-top-voice {} --every {} --epochs {} --rate {}`: {} hops, {} fitted on.",
        args.dir.display(),
        args.every,
        args.epochs,
        args.rate,
        hops.len(),
        train.len()
    );
    let text = weights_file(&net, &provenance);
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
