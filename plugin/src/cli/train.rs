//! `continuo train`: trains a model on a folder of MIDI and ABC files with the plugin's own model code.

use crate::model::eval::evaluate_model;
use crate::model::file::utc_now;
use crate::model::predictor::ModelConfig;
use crate::model::train::{train, Sequence};
use crate::model::{TrainedModel, TrainingMeta};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of .mid/.midi and .abc files (searched recursively); give it more than once to train on
    /// several folders (file names must differ between them).
    #[arg(long, required = true)]
    pub midi: Vec<PathBuf>,
    /// Only files whose name matches this pattern (`*`, `?`; e.g. 'bach-*'); repeatable: a file
    /// matching any pattern is used. Without it, every file.
    #[arg(long)]
    pub include: Vec<String>,
    /// The style's name, stored in the file (shown by the editor and `continuo recommend`).
    #[arg(long)]
    pub name: Option<String>,
    /// Where the melodies come from and their copyright status, stored in the file.
    #[arg(long)]
    pub provenance: Option<String>,
    /// Where to write the model (.json, or .json.gz for a compressed file).
    #[arg(long, required_unless_present = "install")]
    pub out: Option<PathBuf>,
    /// Also save it as one of your styles, in your styles folder (`--name` required; a name
    /// you already use or a bundled style's is refused; no file is replaced).
    #[arg(long, requires = "name")]
    pub install: bool,
    /// Seed of the held-out split.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of files held out for evaluation (split by file name).
    #[arg(long, default_value_t = 0.1)]
    pub holdout: f64,
    /// Longest context of the long-term model (notes).
    #[arg(long, default_value_t = ModelConfig::default().max_order)]
    pub max_order: usize,
    /// Drop contexts of at least this order ...
    #[arg(long, default_value_t = 3)]
    pub prune_from_order: usize,
    /// ... seen fewer than this many times (1 keeps everything).
    #[arg(long, default_value_t = 2)]
    pub prune_min_count: u32,
    /// Do not evaluate on the held-out files after training.
    #[arg(long)]
    pub no_eval: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Train the neural melody model instead (a GRU); --out is then its
    /// weights file.
    #[arg(long, conflicts_with = "install")]
    pub neural: bool,
    #[command(flatten)]
    pub neural_args: super::neural::NeuralArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !(0.0..1.0).contains(&args.holdout) {
        anyhow::bail!("--holdout must be in 0..1");
    }
    let config = ModelConfig {
        max_order: args.max_order,
        ..ModelConfig::default()
    };
    config.validate().map_err(anyhow::Error::msg)?;

    let name = args.name.clone().unwrap_or_else(|| {
        args.out
            .as_deref()
            .and_then(|o| o.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
            .trim_end_matches(".gz")
            .trim_end_matches(".json")
            .to_string()
    });
    if args.install {
        // Refused names fail now, before the training.
        let dir = crate::model::styles::user_dir();
        let name = crate::model::styles::check_name(&name)?;
        if let Some((taken, _)) = crate::model::styles::list_user_styles(&dir)
            .0
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            anyhow::bail!(
                "you already have a style called \"{taken}\" in {}; choose another --name",
                dir.display()
            );
        }
    }

    let mut corpus = crate::model::train::Corpus::default();
    // Each file's bundled style (from its folder and name), for the neural model's style input.
    let mut file_styles = std::collections::HashMap::new();
    for dir in &args.midi {
        let part = super::read_corpus_matching(dir, &args.include, args.quiet)?;
        for f in &part.files {
            if let Some(s) = super::neural::file_style(dir, &f.name) {
                file_styles.insert(f.name.clone(), s);
            }
        }
        corpus.extend(part);
    }
    let mut names: Vec<&str> = corpus.files.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        anyhow::bail!(
            "two folders hold a file named {}: the held-out split goes by file name",
            w[0]
        );
    }
    if args.neural {
        let out = args
            .out
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("--neural needs --out"))?;
        return super::neural::train(
            &corpus,
            &|name: &str| file_styles.get(name).copied(),
            args.seed,
            args.holdout,
            &args.neural_args,
            out,
            args.quiet,
        );
    }
    let (train_files, held_out) = corpus.split(args.seed, args.holdout);
    if train_files.is_empty() {
        anyhow::bail!(
            "no readable MIDI melodies in {}",
            args.midi
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let train_set: Vec<&Sequence> = train_files
        .iter()
        .flat_map(|f| f.sequences.iter())
        .collect();
    let test_set: Vec<&Sequence> = held_out.iter().flat_map(|f| f.sequences.iter()).collect();
    let train_notes: usize = train_set.iter().map(|s| s.events.len()).sum();

    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(train_set.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg:10} [{bar:40}] {pos}/{len} melodies")?
            .progress_chars("=> "),
    );
    bar.set_message("training");
    let started = Instant::now();
    let ltm = train(config, train_set.iter().copied().inspect(|_| bar.inc(1)));
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    println!(
        "trained on {} files, {} melodies, {} notes in {:.2} s ({:.0} notes/s); {} contexts",
        train_files.len(),
        train_set.len(),
        train_notes,
        seconds,
        train_notes as f64 / seconds.max(1e-9),
        ltm.contexts()
    );

    let meta = TrainingMeta {
        name,
        provenance: args.provenance.clone().unwrap_or_default(),
        corpus: args
            .midi
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        include: args.include.clone(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        date: utc_now(),
        files: corpus.files.len() + corpus.broken.len(),
        train_files: train_files.len(),
        held_out_files: held_out.len(),
        broken_files: corpus.broken.len(),
        train_melodies: train_set.len(),
        train_notes,
        seed: args.seed,
        holdout: args.holdout,
        held_out: held_out.iter().map(|f| f.name.clone()).collect(),
        training_seconds: seconds,
        notes_per_second: train_notes as f64 / seconds.max(1e-9),
        prune_from_order: args.prune_from_order,
        prune_min_count: args.prune_min_count,
    };
    let mut model = TrainedModel {
        meta,
        evaluation: Vec::new(),
        ltm: Arc::new(ltm),
    };
    // Evaluate what will be stored: round-trip through the file format so pruning is accounted for.
    let bytes = model.to_bytes(false)?;
    model = TrainedModel::from_bytes(&bytes)?;
    println!(
        "stored model: {} contexts after pruning",
        model.ltm.contexts()
    );
    if !args.no_eval && !test_set.is_empty() {
        println!(
            "held-out evaluation ({} files, {} melodies):",
            held_out.len(),
            test_set.len()
        );
        let scores = evaluate_model(&model.ltm, &test_set);
        println!("{}", crate::model::eval::Scores::header());
        for s in &scores {
            println!("{}", s.row());
        }
        model.evaluation = scores;
    }
    if let Some(out) = &args.out {
        model
            .save(out)
            .with_context(|| format!("writing {}", out.display()))?;
        let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
        println!("wrote {} ({} bytes)", out.display(), size);
    }
    if args.install {
        let name = model.meta.name.clone();
        let (path, _) = crate::model::styles::save_new_user_style(
            &crate::model::styles::user_dir(),
            &name,
            model,
        )?;
        println!("installed as your style \"{name}\": {}", path.display());
    }
    Ok(())
}
