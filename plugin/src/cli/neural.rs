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
    /// Train a style-conditioned network: each melody's style (Chorale, Fiddle, Airs,
    /// Renaissance: from its folder and file name, as `continuo eval-styles` and `cargo xtask
    /// train-styles` take them) is an input; "no style" is Blend's.
    #[arg(long)]
    pub style_input: bool,
    /// With --style-input: share of training melodies shown with "no style" instead of their
    /// own (drawn anew every epoch).
    #[arg(long, default_value_t = 0.25)]
    pub style_dropout: f64,
}

/// The bundled style (its [`crate::model::neural::net::style_index`]) of corpus file `name`
/// read from folder `dir`: the folder's last component and the file patterns of
/// [`super::styles::STYLE_SOURCES`]. `None` when no style takes it.
pub fn file_style(dir: &std::path::Path, name: &str) -> Option<u8> {
    use crate::model::train::matches_pattern;
    let folder = dir.components().next_back()?.as_os_str().to_string_lossy();
    super::styles::STYLE_SOURCES
        .iter()
        .find(|(_, f, patterns)| {
            *f == folder
                && (patterns.is_empty() || patterns.iter().any(|p| matches_pattern(name, p)))
        })
        .and_then(|(style, _, _)| crate::model::neural::net::style_index(style))
}

/// Trains and writes the weights; `held_out` are the files of the split never trained on.
/// `style_of` gives a corpus file's style (by name; used with `--style-input`).
pub fn train(
    corpus: &Corpus,
    style_of: &dyn Fn(&str) -> Option<u8>,
    seed: u64,
    holdout: f64,
    args: &NeuralArgs,
    out: &std::path::Path,
    quiet: bool,
) -> anyhow::Result<()> {
    use crate::model::neural::net::{Net, STYLE_NAMES};
    use crate::model::neural::train::{train_neural_styled, TrainSettings};
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
    let styles_of = |files: &[&crate::model::train::CorpusFile]| -> Vec<Option<u8>> {
        files
            .iter()
            .flat_map(|f| f.sequences.iter().map(|_| style_of(&f.name)))
            .collect()
    };
    let (fit_styles, val_styles) = (styles_of(&fit), styles_of(&val));
    if args.style_input {
        let mut counts = [0usize; STYLE_NAMES.len() + 1];
        for s in &fit_styles {
            counts[s.map_or(STYLE_NAMES.len(), |s| s as usize)] += 1;
        }
        println!(
            "neural: style inputs; training melodies per style {}, none {} (style dropout {})",
            STYLE_NAMES
                .iter()
                .zip(counts)
                .map(|(n, c)| format!("{n} {c}"))
                .collect::<Vec<_>>()
                .join(", "),
            counts[STYLE_NAMES.len()],
            args.style_dropout
        );
    }
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
        styled: args.style_input,
        style_dropout: args.style_dropout,
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
    let (net, report): (Net, _) = train_neural_styled(
        &fit_set,
        &fit_styles,
        &val_set,
        &val_styles,
        &settings,
        |epoch, done, total, bits| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(format!("{epoch}, {bits:.3} bits/note"));
        },
        |epoch, train_bits, vp, vr, no_style| {
            bar.suspend(|| {
                println!(
                    "epoch {epoch}: training {train_bits:.3} bits/note; validation pitch {vp:.3} + rhythm {vr:.3} = {:.3}{} ({:.0} s)",
                    vp + vr,
                    no_style.map_or(String::new(), |b| format!("; with no style {b:.3}")),
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
            styles: if args.style_input {
                STYLE_NAMES.iter().map(|s| s.to_string()).collect()
            } else {
                Vec::new()
            },
            style_dropout: if args.style_input {
                args.style_dropout
            } else {
                0.0
            },
        },
        net,
    };
    model.save(out)?;
    println!(
        "trained {} epochs in {:.0} s (kept epoch {}: validation {:.3} + {:.3} bits/note{}); {} weights; wrote {} ({} bytes)",
        report.epochs,
        report.seconds,
        report.best_epoch,
        report.val_pitch_bits,
        report.val_rhythm_bits,
        report
            .val_no_style_bits
            .map_or(String::new(), |b| format!(", with no style {b:.3}")),
        model.net.shape().parameters(),
        out.display(),
        std::fs::metadata(out).map(|m| m.len()).unwrap_or(0)
    );
    Ok(())
}
