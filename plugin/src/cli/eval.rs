//! `continuo eval`: scores a model (or the baselines) on a folder of MIDI and ABC files.

use crate::model::eval::{baselines, evaluate_model, Scores};
use crate::model::predictor::ModelConfig;
use crate::model::train::{is_held_out, Sequence};
use crate::model::TrainedModel;
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model file (default: the model built into the plugin, Blend).
    #[arg(long, conflicts_with = "style")]
    pub model: Option<PathBuf>,
    /// Score a style: a bundled one (Blend, Chorale, Fiddle, Airs, Renaissance) or one of yours
    /// (by name, from the user styles folder).
    #[arg(long)]
    pub style: Option<String>,
    /// Folder of .mid/.midi and .abc files (searched recursively; one melody per ABC tune).
    #[arg(long)]
    pub midi: PathBuf,
    /// Only the files the model held out at training time (names from its metadata).
    #[arg(long)]
    pub holdout_of_train: bool,
    /// Train and score the baselines (unigram, bigram, single-viewpoint PPM, the model with and
    /// without its short-term part) on a split of --midi instead of scoring --model.
    #[arg(long)]
    pub baselines: bool,
    /// Held-out share for --baselines (same split as `continuo train` with the same seed).
    #[arg(long, default_value_t = 0.1)]
    pub holdout: f64,
    /// Split seed for --baselines.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Longest long-term context for --baselines.
    #[arg(long, default_value_t = ModelConfig::default().max_order)]
    pub max_order: usize,
    /// Model configuration for --baselines as JSON (a `ModelConfig`; inline or a file path).
    #[arg(long)]
    pub config: Option<String>,
    /// With --baselines: leave the held-out files alone and score on a validation part of the
    /// training files instead (split with seed + 1), for tuning without touching the test set.
    #[arg(long)]
    pub validation: bool,
    /// With --baselines: only the model rows (skip unigram, bigram and the reference).
    #[arg(long)]
    pub model_only: bool,
    /// Also score the neural model of this weights file (`continuo train --neural`) alone and
    /// mixed with the PPM; it must not have trained on any file scored.
    #[arg(long)]
    pub neural: Option<PathBuf>,
    /// The --midi folder holds no melody the neural model trained on (melodies from outside its
    /// corpus, e.g. ABC tunes not in ../shared): skip the check of the scored names against the
    /// neural model's held-out list, which only knows its own corpus. Scored names that are in
    /// that list are still refused (then the folder is from its corpus).
    #[arg(long)]
    pub unseen: bool,
    /// Without --baselines: also train the IDyOM-style reference (single-viewpoint pitch PPM,
    /// without and with its session model) on the files of this folder that the scored model
    /// trained on (those not in its held-out list) and score it beside the model; repeatable
    /// (Blend, the default: ../shared/corpus/train, airs and renaissance).
    #[arg(long, conflicts_with = "baselines")]
    pub reference: Vec<PathBuf>,
    /// Entropy-weighting exponent of the neural mixes with --neural-mix arithmetic|geometric
    /// (and of the mixes a gate does not cover).
    #[arg(long, default_value_t = crate::model::neural::mix::MIX_BIAS)]
    pub neural_bias: f64,
    /// How the network and the PPM (with its session model) are mixed: default (the
    /// plugin's), arithmetic or geometric (entropy weights with --neural-bias), gated (the
    /// learnt gate).
    #[arg(long, default_value = "default")]
    pub neural_mix: String,
    /// With --neural: also write the network's and the PPM's (with session) predictions of
    /// every scored note to this file, for `continuo fit-mix` (needs a fixed --neural-style).
    #[arg(long, requires = "neural")]
    pub dump_mix: Option<PathBuf>,
    /// With --dump-mix: write three parts, the network and the PPM's long- and short-term
    /// models apart, instead of two.
    #[arg(long, requires = "dump_mix")]
    pub dump_three: bool,
    /// The style a style-conditioned network is told: `none` (as for Blend), `auto` (each
    /// file's own, from --midi's folder and the file name, as `eval-styles` takes them) or a
    /// style's name (Chorale, Fiddle, Airs, Renaissance). A network without style inputs
    /// ignores it.
    #[arg(long, default_value = "none")]
    pub neural_style: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let corpus = super::read_corpus(&args.midi, args.json)?;
    let rule = crate::model::neural::mix::MixRule::from_arg(&args.neural_mix, args.neural_bias)
        .map_err(anyhow::Error::msg)?;

    let neural = match &args.neural {
        Some(p) => Some(
            crate::model::neural::NeuralModel::load(p)
                .with_context(|| format!("loading {}", p.display()))?,
        ),
        None => None,
    };
    // Files the neural model trained on must not be scored: it trained on the files outside its
    // held-out list (and its validation files are inside the training part of the split).
    let check_neural = |scored: &[&crate::model::train::CorpusFile]| -> anyhow::Result<()> {
        if let Some(n) = &neural {
            let trained_on = scored
                .iter()
                .filter(|f| !n.meta.held_out.contains(&f.name))
                .count();
            if args.validation
                && (n.meta.seed != args.seed || (n.meta.validation - args.holdout).abs() > 1e-12)
            {
                anyhow::bail!(
                    "the neural model's validation split (seed {} + 1, {}) is not this one",
                    n.meta.seed,
                    n.meta.validation
                );
            }
            let in_list = scored
                .iter()
                .filter(|f| n.meta.held_out.contains(&f.name))
                .count();
            if args.unseen && in_list > 0 {
                anyhow::bail!(
                    "--unseen, but {in_list} scored files are named in the neural model's held-out list: the folder is from its corpus"
                );
            }
            if trained_on > 0 && !args.validation && !args.unseen {
                anyhow::bail!(
                    "the neural model trained on {trained_on} of the files to score (it holds out {} files, seed {})",
                    n.meta.held_out.len(),
                    n.meta.seed
                );
            }
        }
        Ok(())
    };
    // `None`: each file's own style; `Some(s)`: style `s` for every file.
    let fixed_style: Option<Option<u8>> = match args.neural_style.trim() {
        s if s.eq_ignore_ascii_case("auto") => None,
        s if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("blend") => Some(None),
        s => Some(Some(crate::model::neural::net::style_index(s).ok_or_else(
            || {
                anyhow::anyhow!(
                    "--neural-style {s}: not none, auto, Chorale, Fiddle, Airs or Renaissance"
                )
            },
        )?)),
    };
    let style_of = |name: &str| match fixed_style {
        Some(s) => s,
        None => super::neural::file_style(&args.midi, name),
    };
    // The sequences' styles (one per sequence, in the order the test set takes them).
    let neural_rows = |ltm: &std::sync::Arc<crate::model::predictor::LongTermModel>,
                       test_set: &[&Sequence],
                       styles: &[Option<u8>]| {
        neural.as_ref().map_or_else(Vec::new, |n| {
            let net = std::sync::Arc::new(n.net.clone());
            let mut groups: Vec<Option<u8>> = styles.to_vec();
            groups.sort_unstable();
            groups.dedup();
            let parts: Vec<Vec<Scores>> = groups
                .iter()
                .map(|&g| {
                    let seqs: Vec<&Sequence> = test_set
                        .iter()
                        .zip(styles)
                        .filter(|(_, &s)| s == g)
                        .map(|(q, _)| *q)
                        .collect();
                    crate::model::eval::neural_rows_styled(ltm, &net, g, rule, &seqs)
                })
                .collect();
            crate::model::eval::combine(&parts).unwrap_or_default()
        })
    };
    // `--dump-mix`: the two parts of the plugin's mix, note by note.
    let dump = |ltm: &std::sync::Arc<crate::model::predictor::LongTermModel>,
                test_set: &[&Sequence]|
     -> anyhow::Result<()> {
        let (Some(path), Some(n)) = (&args.dump_mix, &neural) else {
            return Ok(());
        };
        let Some(style) = fixed_style else {
            anyhow::bail!("--dump-mix needs a fixed --neural-style (none or a style's name)");
        };
        let mut parts: Vec<Box<dyn crate::model::predictor::Predictor + Send>> = vec![Box::new(
            crate::model::neural::NeuralPredictor::from_net(
                "neural",
                std::sync::Arc::new(n.net.clone()),
            )
            .with_style(style),
        )];
        if args.dump_three {
            parts.push(Box::new(crate::model::predictor::MultiViewpoint::new(
                "ltm",
                ltm.clone(),
                false,
            )));
            parts.push(Box::new(
                crate::model::predictor::MultiViewpoint::short_term_only(ltm.config.clone()),
            ));
        } else {
            parts.push(Box::new(crate::model::predictor::MultiViewpoint::new(
                "ppm",
                ltm.clone(),
                true,
            )));
        }
        let samples =
            crate::model::neural::gate::Samples::collect(&mut parts, test_set.iter().copied());
        let mut w = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        samples.write(&mut w)?;
        std::io::Write::flush(&mut w)?;
        if !args.json {
            println!(
                "wrote {} notes' predictions to {}",
                samples.notes.len(),
                path.display()
            );
        }
        Ok(())
    };
    let styles_of = |files: &[&crate::model::train::CorpusFile]| -> Vec<Option<u8>> {
        files
            .iter()
            .flat_map(|f| f.sequences.iter().map(|_| style_of(&f.name)))
            .collect()
    };
    let rows: Vec<Scores> = if args.baselines {
        let config = match &args.config {
            Some(c) => {
                let text = if c.trim_start().starts_with('{') {
                    c.clone()
                } else {
                    std::fs::read_to_string(c)?
                };
                serde_json::from_str::<ModelConfig>(&text).context("parsing --config")?
            }
            None => ModelConfig {
                max_order: args.max_order,
                ..ModelConfig::default()
            },
        };
        config.validate().map_err(anyhow::Error::msg)?;
        let (mut train_files, mut test_files) = corpus.split(args.seed, args.holdout);
        if args.validation {
            let (t, v): (Vec<_>, Vec<_>) = train_files
                .into_iter()
                .partition(|f| !is_held_out(&f.name, args.seed + 1, args.holdout));
            (train_files, test_files) = (t, v);
        }
        let train_set: Vec<&Sequence> = train_files
            .iter()
            .flat_map(|f| f.sequences.iter())
            .collect();
        let test_set: Vec<&Sequence> = test_files.iter().flat_map(|f| f.sequences.iter()).collect();
        if train_set.is_empty() || test_set.is_empty() {
            anyhow::bail!("the split leaves no training or no test melodies");
        }
        if !args.json {
            println!(
                "baselines: trained on {} files, scored on {} held-out files (seed {}, holdout {})",
                train_files.len(),
                test_files.len(),
                args.seed,
                args.holdout
            );
        }
        check_neural(&test_files)?;
        let mut rows = if args.model_only {
            Vec::new()
        } else {
            baselines(&config, &train_set, &test_set)
        };
        if args.model_only || neural.is_some() {
            let ltm = std::sync::Arc::new(crate::model::train::train(
                config,
                train_set.iter().copied(),
            ));
            if args.model_only {
                rows.extend(evaluate_model(&ltm, &test_set));
            }
            rows.extend(neural_rows(&ltm, &test_set, &styles_of(&test_files)));
            dump(&ltm, &test_set)?;
        }
        rows
    } else {
        let model = match (&args.model, &args.style) {
            (Some(p), _) => {
                TrainedModel::load(p).with_context(|| format!("loading {}", p.display()))?
            }
            (None, Some(name)) => match crate::model::styles::bundled(name) {
                Some(b) => b.load()?,
                None => {
                    crate::model::styles::load_user_style(&crate::model::styles::user_dir(), name)
                        .map_err(anyhow::Error::msg)?
                        .model
                }
            },
            (None, None) => TrainedModel::embedded()?,
        };
        let files: Vec<_> = if args.holdout_of_train {
            if model.meta.held_out.is_empty() {
                // Older files or models trained without a list: recompute the split.
                corpus
                    .files
                    .iter()
                    .filter(|f| is_held_out(&f.name, model.meta.seed, model.meta.holdout))
                    .collect()
            } else {
                corpus
                    .files
                    .iter()
                    .filter(|f| model.meta.held_out.contains(&f.name))
                    .collect()
            }
        } else {
            corpus.files.iter().collect()
        };
        let test_set: Vec<&Sequence> = files.iter().flat_map(|f| f.sequences.iter()).collect();
        if test_set.is_empty() {
            anyhow::bail!("no melodies to score");
        }
        if !args.json {
            println!(
                "scoring on {} files, {} melodies",
                files.len(),
                test_set.len()
            );
        }
        check_neural(&files)?;
        let mut rows = if args.reference.is_empty() {
            Vec::new()
        } else {
            reference_rows(&args, &model, &files, &test_set)?
        };
        rows.extend(evaluate_model(&model.ltm, &test_set));
        rows.extend(neural_rows(&model.ltm, &test_set, &styles_of(&files)));
        dump(&model.ltm, &test_set)?;
        rows
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("{}", Scores::header());
        for r in &rows {
            println!("{}", r.row());
        }
    }
    Ok(())
}

/// The IDyOM-style reference (single-viewpoint pitch PPM, long-term and with its session model)
/// trained on the files of `--reference` folders that `model` trained on, scored on `test_set`.
fn reference_rows(
    args: &Args,
    model: &TrainedModel,
    scored: &[&crate::model::train::CorpusFile],
    test_set: &[&Sequence],
) -> anyhow::Result<Vec<Scores>> {
    let mut corpus = crate::model::train::Corpus::default();
    for dir in &args.reference {
        corpus.extend(super::read_corpus_matching(dir, &model.meta.include, true)?);
    }
    let trained: Vec<&crate::model::train::CorpusFile> = corpus
        .files
        .iter()
        .filter(|f| {
            if model.meta.held_out.is_empty() {
                !is_held_out(&f.name, model.meta.seed, model.meta.holdout)
            } else {
                !model.meta.held_out.contains(&f.name)
            }
        })
        .collect();
    let scored_names: std::collections::HashSet<&str> =
        scored.iter().map(|f| f.name.as_str()).collect();
    let overlap = trained
        .iter()
        .filter(|f| scored_names.contains(f.name.as_str()))
        .count();
    if overlap > 0 {
        anyhow::bail!("--reference: {overlap} of its training files are among the files scored");
    }
    let train_set: Vec<&Sequence> = trained.iter().flat_map(|f| f.sequences.iter()).collect();
    if train_set.is_empty() {
        anyhow::bail!("--reference: no training melodies in the folders given");
    }
    if !args.json {
        println!(
            "reference: trained on {} files, {} melodies of the model's training part",
            trained.len(),
            train_set.len()
        );
    }
    let config = ModelConfig {
        max_order: args.max_order,
        ..ModelConfig::baseline(args.max_order)
    };
    let ltm = std::sync::Arc::new(crate::model::train::train(
        config,
        train_set.iter().copied(),
    ));
    let mut rows = Vec::new();
    for (name, stm) in [
        ("1-viewpoint PPM, long-term", false),
        ("1-viewpoint PPM, long+short-term", true),
    ] {
        let mut m = crate::model::predictor::MultiViewpoint::new(name, ltm.clone(), stm);
        rows.push(crate::model::eval::evaluate(
            &mut m,
            test_set.iter().copied(),
        ));
    }
    Ok(rows)
}
