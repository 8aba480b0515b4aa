//! `continuo train --neural`: trains the neural melody model on the training part of the corpus
//! (the same held-out split as the PPM's), with early stopping on a validation part of the
//! training files (seed + 1, like `continuo eval --baselines --validation`), and writes the
//! weights file.

use crate::model::neural::NeuralMeta;
use crate::model::train::{is_held_out, Corpus, Sequence};

/// The neural options of `continuo train`.
#[derive(clap::Args, Debug, Clone)]
pub struct NeuralArgs {
    /// GRU hidden units.
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// Most epochs (early stopping usually ends sooner).
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
    /// Parallel melody streams per batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Notes per back-propagation chunk.
    #[arg(long, default_value_t = 64)]
    pub chunk: usize,
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Share of the training files used for early stopping (split with seed + 1).
    #[arg(long, default_value_t = 0.1)]
    pub validation: f64,
    /// Epochs without a better validation score before stopping.
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// No epoch starts after this many minutes (the best weights so far are kept).
    #[arg(long, default_value_t = 25.0)]
    pub max_minutes: f64,
    /// Only the first N training files (quick runs while developing; 0 = all).
    #[arg(long, default_value_t = 0)]
    pub limit_files: usize,
}

/// Trains and writes the weights; `held_out` are the files of the split never trained on.
pub fn train(
    corpus: &Corpus,
    seed: u64,
    holdout: f64,
    args: &NeuralArgs,
    out: &std::path::Path,
    quiet: bool,
) -> anyhow::Result<()> {
    use crate::model::neural::net::Net;
    use crate::model::neural::train::{train_neural, TrainSettings};
    use crate::model::neural::NeuralModel;
    use indicatif::{ProgressBar, ProgressStyle};

    let (train_files, held_out) = corpus.split(seed, holdout);
    let (mut fit, val): (Vec<_>, Vec<_>) = train_files
        .into_iter()
        .partition(|f| !is_held_out(&f.name, seed + 1, args.validation));
    if args.limit_files > 0 {
        fit.truncate(args.limit_files);
    }
    let fit_set: Vec<&Sequence> = fit.iter().flat_map(|f| f.sequences.iter()).collect();
    let val_set: Vec<&Sequence> = val.iter().flat_map(|f| f.sequences.iter()).collect();
    if fit_set.is_empty() || val_set.is_empty() {
        anyhow::bail!("the split leaves no training or no validation melodies");
    }
    let notes: usize = fit_set.iter().map(|s| s.events.len()).sum();
    println!(
        "neural: {} training files ({} melodies, {notes} notes), {} validation files, {} held out (never read)",
        fit.len(),
        fit_set.len(),
        val.len(),
        held_out.len()
    );
    let settings = TrainSettings {
        hidden: args.hidden,
        batch: args.batch,
        chunk: args.chunk,
        learning_rate: args.lr,
        max_epochs: args.epochs,
        patience: args.patience,
        max_seconds: args.max_minutes * 60.0,
        seed,
        ..Default::default()
    };
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("epoch {msg} [{bar:40}] {pos}/{len} batches ({eta})")?
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let (net, report): (Net, _) = train_neural(
        &fit_set,
        &val_set,
        &settings,
        |epoch, done, total, bits| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(format!("{epoch}, {bits:.3} bits/note"));
        },
        |epoch, train_bits, vp, vr| {
            bar.suspend(|| {
                println!(
                    "epoch {epoch}: training {train_bits:.3} bits/note; validation pitch {vp:.3} + rhythm {vr:.3} = {:.3} ({:.0} s)",
                    vp + vr,
                    started.elapsed().as_secs_f64()
                )
            });
            bar.set_position(0);
        },
    )?;
    bar.finish_and_clear();
    let model = NeuralModel {
        meta: NeuralMeta {
            shape: Some(net.shape()),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            date: crate::model::file::utc_now(),
            corpus: String::new(),
            seed,
            holdout,
            validation: args.validation,
            held_out: held_out.iter().map(|f| f.name.clone()).collect(),
            train_melodies: fit_set.len(),
            train_notes: notes,
            epochs: report.epochs,
            best_epoch: report.best_epoch,
            validation_pitch_bits: report.val_pitch_bits,
            validation_rhythm_bits: report.val_rhythm_bits,
            training_seconds: report.seconds,
            learning_rate: args.lr,
            batch: args.batch,
            chunk: args.chunk,
        },
        net,
    };
    model.save(out)?;
    println!(
        "trained {} epochs in {:.0} s (kept epoch {}: validation {:.3} + {:.3} bits/note); {} weights; wrote {} ({} bytes)",
        report.epochs,
        report.seconds,
        report.best_epoch,
        report.val_pitch_bits,
        report.val_rhythm_bits,
        model.net.shape().parameters(),
        out.display(),
        std::fs::metadata(out).map(|m| m.len()).unwrap_or(0)
    );
    Ok(())
}
