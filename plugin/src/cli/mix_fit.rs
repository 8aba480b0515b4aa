//! `continuo fit-mix`: fits the learnt mix ([`crate::model::neural::gate`]) on the parts'
//! predictions that `continuo eval --dump-mix` wrote (the validation part of the training
//! files), and scores every way of mixing on them, per file and together.

use crate::model::eval::{combine, Scores};
use crate::model::neural::gate::{fit, Gate, Samples, GATE};
use crate::model::neural::mix::{MixRule, MIX};
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files written by `continuo eval --dump-mix` (fitted on together).
    #[arg(required = true)]
    pub samples: Vec<PathBuf>,
    /// Files only scored, not fitted on (to see how the fitted gates do on melodies they did
    /// not see, e.g. one folder's validation files with the gate fitted on the others').
    #[arg(long)]
    pub test: Vec<PathBuf>,
    /// Gradient steps per gate.
    #[arg(long, default_value_t = 150)]
    pub iters: usize,
    /// Entropy biases to score besides the gates.
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,2")]
    pub biases: Vec<f64>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let read = |p: &PathBuf| -> anyhow::Result<Samples> {
        let mut r = std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        );
        Samples::read(&mut r).with_context(|| format!("reading {}", p.display()))
    };
    let all = args
        .samples
        .iter()
        .map(read)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tests = args
        .test
        .iter()
        .map(read)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let refs: Vec<&Samples> = all.iter().collect();
    let mut rules: Vec<(String, MixRule)> = vec![
        ("default".into(), MIX),
        ("shipped gate".into(), MixRule::Gated(GATE)),
    ];
    for &bias in &args.biases {
        for geometric in [false, true] {
            let kind = if geometric { "geometric" } else { "arithmetic" };
            rules.push((
                format!("{kind}, bias {bias}"),
                MixRule::Entropy { bias, geometric },
            ));
        }
    }
    for geometric in [false, true] {
        let t0 = std::time::Instant::now();
        let (gate, bits) = fit(&refs, geometric, args.iters);
        println!(
            "fitted {} gate in {:.1} s: pitch {:.4} -> {:.4}, rhythm {:.4} -> {:.4} bits\n{}",
            if geometric { "geometric" } else { "arithmetic" },
            t0.elapsed().as_secs_f64(),
            bits[0],
            bits[2],
            bits[1],
            bits[3],
            rust_literal(&gate)
        );
        let kind = if geometric { "geometric" } else { "arithmetic" };
        rules.push((format!("{kind} gate (fitted)"), MixRule::Gated(gate)));
    }
    for (label, files, set) in [
        ("fitted on", &args.samples, &all),
        ("not fitted on (--test)", &args.test, &tests),
    ] {
        if set.is_empty() {
            continue;
        }
        println!("\n{label}:\n{:<12} {}", "file", Scores::header());
        for (name, rule) in &rules {
            let t0 = std::time::Instant::now();
            let parts: Vec<Vec<Scores>> = set.iter().map(|s| vec![s.score(name, rule)]).collect();
            let notes: usize = set.iter().map(|s| s.notes.len()).sum();
            // The mix's own cost (copying the stored predictions in included), 128 pitches.
            println!(
                "{name}: {:.2} µs per note scored",
                t0.elapsed().as_secs_f64() * 1e6 / notes.max(1) as f64
            );
            for (p, s) in files.iter().zip(&parts) {
                let stem = p.file_stem().map_or("?".into(), |s| s.to_string_lossy());
                println!("{:<12} {}", stem, s[0].row());
            }
            if let Some(c) = combine(&parts) {
                println!("{:<12} {}", "all", c[0].row());
            }
        }
    }
    Ok(())
}

/// The gate as Rust source, to paste into `gate.rs`'s `GATE`.
fn rust_literal(g: &Gate) -> String {
    let rows = |r: &[[f64; 3]; 3]| {
        let row = |x: &[f64; 3]| format!("[{:.4}, {:.4}, {:.4}]", x[0], x[1], x[2]);
        format!("[{}, {}, {}]", row(&r[0]), row(&r[1]), row(&r[2]))
    };
    format!(
        "Gate {{ version: GATE_VERSION, geometric: {}, parts: {}, pitch: {}, rhythm: {} }}",
        g.geometric,
        g.parts,
        rows(&g.pitch),
        rows(&g.rhythm)
    )
}
