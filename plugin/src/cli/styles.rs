//! `continuo recommend FILE.mid|FILE.wav [--notes N] [--json]`: ranks every style (bundled and
//! the user's own) on the first notes of a melody, the way the plugin ranks the player's notes.
//! `continuo eval-styles --corpus DIR`: the style × model table and the recommendation's accuracy
//! on every bundled style's held-out files.

use crate::files::transcribe as offline;
use crate::model::midi_in::read_midi;
use crate::model::note::RHYTHM_BEATS;
use crate::model::predictor::MultiViewpoint;
use crate::model::styles::{self, rank, sequence_of, StyleScore, BLEND, BUNDLED};
use crate::model::train::{Corpus, Sequence};
use crate::model::{Note, TrainedModel};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct RecommendArgs {
    /// A MIDI file (its first melody) or a WAV file (transcribed by the plugin's analyser).
    pub input: PathBuf,
    /// Score the first N notes.
    #[arg(long, default_value_t = 32)]
    pub notes: usize,
    /// Tempo used to turn a WAV file's seconds into beats.
    #[arg(long, default_value_t = 120.0)]
    pub tempo: f64,
    /// Print JSON: a list, best first: [{"style": …, "bits_per_note": …}, …].
    #[arg(long)]
    pub json: bool,
}

/// Every bundled style and every readable user style, loaded (problems reported on stderr).
pub fn all_styles() -> Result<Vec<(String, Arc<TrainedModel>)>> {
    let mut out = Vec::new();
    for b in BUNDLED.iter() {
        let m = b
            .load()
            .with_context(|| format!("bundled style {}", b.name))?;
        out.push((b.name.to_string(), Arc::new(m)));
    }
    let (user, problems) = styles::load_user_styles(&styles::user_dir(), &|| false);
    for (path, e) in problems {
        eprintln!("style file {} not loaded: {e}", path.display());
    }
    out.extend(user.into_iter().map(|s| (s.name, Arc::new(s.model))));
    Ok(out)
}

/// The first melody of a MIDI file, or the notes the analyser hears in a WAV file.
fn notes_of(path: &Path, tempo: f64) -> Result<Vec<Note>> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if ext == "wav" || ext == "wave" {
        anyhow::ensure!(
            tempo.is_finite() && (20.0..=400.0).contains(&tempo),
            "--tempo must be 20..400 bpm"
        );
        let (samples, rate) = offline::read_wav(path)?;
        let heard = offline::transcribe(&samples, rate, 512);
        let beats = tempo / 60.0;
        Ok(heard
            .iter()
            .map(|n| Note {
                pitch: n.pitch,
                onset: n.onset_s * beats,
                duration: ((n.offset_s - n.onset_s) * beats).max(1.0 / 64.0),
                velocity: (n.velocity * 127.0).round().clamp(1.0, 127.0) as u8,
            })
            .collect())
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let melodies = read_midi(&bytes).with_context(|| format!("reading {}", path.display()))?;
        Ok(melodies
            .into_iter()
            .next()
            .map(|m| m.notes)
            .unwrap_or_default())
    }
}

pub fn recommend(args: RecommendArgs) -> Result<()> {
    anyhow::ensure!(args.notes >= 1, "--notes must be at least 1");
    let mut notes = notes_of(&args.input, args.tempo)?;
    anyhow::ensure!(!notes.is_empty(), "no notes in {}", args.input.display());
    notes.truncate(args.notes);
    let styles = all_styles()?;
    let seq = sequence_of(&notes, None);
    let ranking = rank(&styles, &seq);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&ranking)?);
    } else {
        println!(
            "{} notes of {} (key {}):",
            seq.events.len(),
            args.input.display(),
            seq.key.name()
        );
        for (i, r) in ranking.iter().enumerate() {
            println!(
                "{:>2}. {:<24} {:.3} bits/note",
                i + 1,
                r.style,
                r.bits_per_note
            );
        }
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct EvalStylesArgs {
    /// The corpus folder with `train/`, `airs/` and `renaissance/`.
    #[arg(long, default_value = "../shared/corpus")]
    pub corpus: PathBuf,
    /// Recommendation after these numbers of notes (melodies with fewer are left out).
    #[arg(long, value_delimiter = ',', default_value = "8,16,32")]
    pub notes: Vec<usize>,
    /// Weight of the rhythm's bits in the recommendation score (the plugin uses 1: pitch +
    /// rhythm; 0: pitch only).
    #[arg(long, default_value_t = 1.0)]
    pub rhythm_weight: f64,
    /// How the recommendation scores: `viewpoints` (the plugin's: pitch viewpoint + each rhythm
    /// viewpoint on its own, summed) or `mixture` (the whole long-term model, pitch +
    /// rhythm-weight × rhythm: the score before).
    #[arg(long, default_value = "viewpoints")]
    pub scoring: ScoringArg,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Which half of the held-out melodies: `tune` (for choosing the scoring's settings),
    /// `report` (never tuned on) or `all`. The halves are a hash of the file name.
    #[arg(long, default_value = "all")]
    pub half: Half,
    /// Skip the style × model tables (the recommendation only).
    #[arg(long)]
    pub no_table: bool,
    /// Write every opening's bits under every model (JSON lines) to this file, for studying
    /// other ways to score.
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// Score the neural model of this weights file on every style's held-out files, alone and
    /// mixed with Blend's and the style's own PPM (with the session model), instead of the
    /// tables and the recommendation.
    #[arg(long)]
    pub neural: Option<PathBuf>,
    /// Entropy-weighting exponent of the neural mixes with --neural-mix arithmetic|geometric.
    #[arg(long, default_value_t = crate::model::neural::mix::MIX_BIAS)]
    pub neural_bias: f64,
    /// How the network and the PPM are mixed: default (the plugin's), arithmetic or geometric
    /// (entropy weights with --neural-bias), gated (the learnt gate).
    #[arg(long, default_value = "default")]
    pub neural_mix: String,
}

/// `--scoring`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq)]
pub enum ScoringArg {
    Viewpoints,
    Mixture,
}

/// The halves of the held-out melodies the recommendation is tuned and reported on.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq)]
pub enum Half {
    Tune,
    Report,
    All,
}

impl Half {
    /// Which half a held-out file is in (a hash of its name with its own seed, independent of
    /// the seed that chose the held-out files).
    pub fn of(name: &str) -> Half {
        if crate::model::train::is_held_out(name, 0x7e57, 0.5) {
            Half::Tune
        } else {
            Half::Report
        }
    }

    fn keeps(self, name: &str) -> bool {
        self == Half::All || Half::of(name) == self
    }
}

/// Where each bundled style's melodies are: (style, folder under the corpus, file patterns). The
/// same as `cargo xtask train-styles` (Blend is every folder).
pub const STYLE_SOURCES: &[(&str, &str, &[&str])] = &[
    ("Chorale", "train", &["bach-*"]),
    ("Fiddle", "train", &["oneills1850-*", "ryansMammoth-*"]),
    ("Airs", "airs", &[]),
    ("Renaissance", "renaissance", &[]),
];

/// Mean bits per note (pitch + rhythm) of `model` on `seqs`, long-term part only or with the
/// short-term model (as the plugin answers).
fn bits(model: &TrainedModel, seqs: &[&Sequence], stm: bool) -> f64 {
    let mut p = MultiViewpoint::new("m", model.ltm.clone(), stm);
    let s = crate::model::eval::evaluate(&mut p, seqs.iter().copied());
    s.pitch_bits + s.rhythm_bits
}

/// The first `n` events of a melody, in the key those notes suggest (as the plugin would hear
/// them: it does not know the rest of the tune).
fn opening(seq: &Sequence, n: usize) -> Sequence {
    let mut onset = 0.0;
    let notes: Vec<Note> = seq.events[..n.min(seq.events.len())]
        .iter()
        .map(|e| {
            let beats = RHYTHM_BEATS[e.rhythm as usize % RHYTHM_BEATS.len()];
            let n = Note {
                pitch: e.pitch,
                onset,
                duration: beats,
                velocity: 90,
            };
            onset += beats;
            n
        })
        .collect();
    let key = sequence_of(&notes, None).key;
    Sequence {
        events: seq.events[..notes.len()].to_vec(),
        key,
    }
}

#[derive(serde::Serialize)]
struct Recommendation {
    notes: usize,
    melodies: usize,
    /// Share of melodies whose own style ranked first among the four styles.
    top1: f64,
    /// Mean over styles of each style's share (every style counts the same).
    top1_balanced: f64,
    /// rows: the melody's style; columns: the style ranked first (counts), in `styles` order.
    confusion: Vec<Vec<usize>>,
    /// Share of melodies for which Blend would rank first if it were ranked too.
    blend_first: f64,
    /// Mean time to rank one opening under the five bundled styles, in ms.
    ms_per_ranking: f64,
}

#[derive(serde::Serialize)]
struct Report {
    styles: Vec<String>,
    models: Vec<String>,
    held_out_melodies: Vec<usize>,
    held_out_notes: Vec<usize>,
    /// [style's held-out files][model] bits per note, long-term model only.
    long_term: Vec<Vec<f64>>,
    /// The same with the short-term model (as the plugin answers).
    long_and_short_term: Vec<Vec<f64>>,
    recommendation: Vec<Recommendation>,
}

/// `eval-styles --neural`: per style, the PPMs and the neural model alone and mixed, on the
/// style's held-out files (none of which the neural model trained on).
fn neural_by_style(
    path: &std::path::Path,
    rule: crate::model::neural::mix::MixRule,
    held: &[(String, Corpus)],
    models: &[(String, Arc<TrainedModel>)],
    json: bool,
) -> Result<()> {
    use crate::model::eval::{evaluate_model, neural_rows_styled, Scores};
    let n = crate::model::neural::NeuralModel::load(path)
        .with_context(|| format!("loading {}", path.display()))?;
    let net = Arc::new(n.net.clone());
    let blend = models
        .iter()
        .find(|(m, _)| m == BLEND)
        .map(|(_, m)| m.clone())
        .context("Blend is missing")?;
    let mut all = Vec::new();
    for (style, corpus) in held {
        let trained_on = corpus
            .files
            .iter()
            .filter(|f| !n.meta.held_out.contains(&f.name))
            .count();
        anyhow::ensure!(
            trained_on == 0,
            "the neural model trained on {trained_on} of {style}'s held-out files"
        );
        let own = models
            .iter()
            .find(|(m, _)| m == style)
            .map(|(_, m)| m.clone())
            .context("a style is missing")?;
        let seqs: Vec<&Sequence> = corpus
            .files
            .iter()
            .flat_map(|f| f.sequences.iter())
            .collect();
        let mut rows: Vec<Scores> = Vec::new();
        for (label, m) in [("Blend", &blend), (style.as_str(), &own)] {
            for mut r in evaluate_model(&m.ltm, &seqs) {
                r.name = format!("{label} PPM, {}", r.name.trim_start_matches("model, "));
                rows.push(r);
            }
        }
        // A style-conditioned network is told no style beside Blend's PPM (Blend chosen) and
        // the style beside the style's own PPM (the style chosen); then its rows without a
        // PPM differ too, and are shown for both.
        let styled = net.has_style();
        for (label, m) in [("Blend", &blend), (style.as_str(), &own)] {
            let told = if label == "Blend" {
                None
            } else {
                crate::model::neural::net::style_index(style)
            };
            for mut r in neural_rows_styled(&m.ltm, &net, told, rule, &seqs)
                .into_iter()
                .skip(if label == "Blend" || styled { 0 } else { 2 })
            {
                r.name = if r.name.contains("PPM") {
                    r.name.replace("PPM", &format!("{label} PPM"))
                } else if styled {
                    format!("{}, told {}", r.name, told.map_or("no style", |_| label))
                } else {
                    r.name
                };
                rows.push(r);
            }
        }
        if !json {
            println!(
                "\n{style} held-out ({} melodies, {} notes)",
                seqs.len(),
                rows[0].notes
            );
            println!("{}  {:>9}", Scores::header(), "total");
            for r in &rows {
                println!("{}  {:>9.3}", r.row(), r.pitch_bits + r.rhythm_bits);
            }
        }
        all.push((style.clone(), rows));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(())
}

pub fn eval_styles(args: EvalStylesArgs) -> Result<()> {
    anyhow::ensure!(
        args.corpus.is_dir(),
        "no corpus folder {}",
        args.corpus.display()
    );
    let models: Vec<(String, Arc<TrainedModel>)> = BUNDLED
        .iter()
        .map(|b| Ok((b.name.to_string(), Arc::new(b.load()?))))
        .collect::<Result<_>>()?;
    let model = |name: &str| models.iter().find(|(n, _)| n == name).map(|(_, m)| m);
    // Each style's held-out files: the names its model's metadata lists.
    let mut held: Vec<(String, Corpus)> = Vec::new();
    for (style, folder, patterns) in STYLE_SOURCES {
        let m = model(style).context("a bundled style is missing")?;
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        let mut corpus =
            super::read_corpus_matching(&args.corpus.join(folder), &patterns, args.json)?;
        corpus
            .files
            .retain(|f| m.meta.held_out.contains(&f.name) && args.half.keeps(&f.name));
        anyhow::ensure!(
            !corpus.files.is_empty(),
            "none of {style}'s held-out files found in {}",
            args.corpus.join(folder).display()
        );
        held.push((style.to_string(), corpus));
    }
    if let Some(path) = &args.neural {
        let rule = crate::model::neural::mix::MixRule::from_arg(&args.neural_mix, args.neural_bias)
            .map_err(anyhow::Error::msg)?;
        return neural_by_style(path, rule, &held, &models, args.json);
    }
    let names: Vec<String> = held.iter().map(|(s, _)| s.clone()).collect();
    let model_names: Vec<String> = models.iter().map(|(n, _)| n.clone()).collect();
    let seqs: Vec<Vec<&Sequence>> = held
        .iter()
        .map(|(_, c)| c.files.iter().flat_map(|f| f.sequences.iter()).collect())
        .collect();
    let file_names: Vec<Vec<&str>> = held
        .iter()
        .map(|(_, c)| {
            c.files
                .iter()
                .flat_map(|f| f.sequences.iter().map(|_| f.name.as_str()))
                .collect()
        })
        .collect();
    let table = |stm: bool| -> Vec<Vec<f64>> {
        if args.no_table {
            return Vec::new();
        }
        seqs.iter()
            .map(|s| models.iter().map(|(_, m)| bits(m, s, stm)).collect())
            .collect()
    };
    let long_term = table(false);
    let long_and_short_term = table(true);
    // For the dump: each style's model cut into single-viewpoint models (one pitch and one
    // rhythm viewpoint each), to study scoring by viewpoint.
    let single_views: Vec<Vec<Arc<crate::model::predictor::LongTermModel>>> = if args.dump.is_some()
    {
        models
            .iter()
            .map(|(_, m)| {
                let cfg = &m.ltm.config;
                let np = cfg.pitch_viewpoints.len();
                (0..np.max(cfg.rhythm_viewpoints.len()))
                    .map(|i| {
                        let (ip, ir) = (i % np, i % cfg.rhythm_viewpoints.len());
                        let mut c = cfg.clone();
                        c.pitch_viewpoints = vec![cfg.pitch_viewpoints[ip]];
                        c.rhythm_viewpoints = vec![cfg.rhythm_viewpoints[ir]];
                        Arc::new(crate::model::predictor::LongTermModel {
                            config: c,
                            ppms: vec![m.ltm.ppms[ip].clone(), m.ltm.ppms[np + ir].clone()],
                        })
                    })
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut dump = match &args.dump {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };

    let scoring = match args.scoring {
        ScoringArg::Viewpoints => styles::Scoring::Viewpoints,
        ScoringArg::Mixture => styles::Scoring::Mixture {
            rhythm_weight: args.rhythm_weight,
        },
    };
    let four: Vec<(String, Arc<TrainedModel>)> =
        models.iter().filter(|(n, _)| n != BLEND).cloned().collect();
    let mut recommendation = Vec::new();
    for &n in &args.notes {
        let mut confusion = vec![vec![0usize; names.len()]; names.len()];
        let (mut blend_first, mut total) = (0usize, 0usize);
        let mut spent = std::time::Duration::ZERO;
        for (row, style_seqs) in seqs.iter().enumerate() {
            for (seq, file) in style_seqs
                .iter()
                .zip(&file_names[row])
                .filter(|(s, _)| s.events.len() >= n)
            {
                let open = opening(seq, n);
                if let Some(out) = dump.as_mut() {
                    use std::io::Write;
                    let scores: serde_json::Map<String, serde_json::Value> = models
                        .iter()
                        .map(|(name, m)| {
                            let mut figures = Vec::new();
                            for stm in [false, true] {
                                let mut p = MultiViewpoint::new("m", m.ltm.clone(), stm);
                                let s = crate::model::eval::evaluate(&mut p, [&open]);
                                figures.extend([s.pitch_bits, s.rhythm_bits]);
                            }
                            (name.clone(), serde_json::json!(figures))
                        })
                        .collect();
                    let views: serde_json::Map<String, serde_json::Value> = models
                        .iter()
                        .zip(&single_views)
                        .map(|((name, _), parts)| {
                            let figures: Vec<(f64, f64)> = parts
                                .iter()
                                .map(|ltm| {
                                    let mut p = MultiViewpoint::new("v", ltm.clone(), false);
                                    let s = crate::model::eval::evaluate(&mut p, [&open]);
                                    (s.pitch_bits, s.rhythm_bits)
                                })
                                .collect();
                            (name.clone(), serde_json::json!(figures))
                        })
                        .collect();
                    let line = serde_json::json!({
                        "views": views,
                        "style": names[row], "file": file, "notes": n,
                        "half": format!("{:?}", Half::of(file)).to_lowercase(),
                        "bits": scores,
                    });
                    writeln!(out, "{line}")?;
                }
                let t0 = std::time::Instant::now();
                let all: Vec<StyleScore> = styles::rank_by(&models, &open, scoring);
                spent += t0.elapsed();
                let best4 = all
                    .iter()
                    .find(|r| four.iter().any(|(f, _)| *f == r.style))
                    .context("no style scored")?;
                let col = names.iter().position(|s| *s == best4.style).unwrap_or(0);
                confusion[row][col] += 1;
                blend_first += (all[0].style == BLEND) as usize;
                total += 1;
            }
        }
        let correct: usize = (0..names.len()).map(|i| confusion[i][i]).sum();
        let balanced = (0..names.len())
            .map(|i| confusion[i][i] as f64 / confusion[i].iter().sum::<usize>().max(1) as f64)
            .sum::<f64>()
            / names.len() as f64;
        recommendation.push(Recommendation {
            notes: n,
            melodies: total,
            top1: correct as f64 / total.max(1) as f64,
            top1_balanced: balanced,
            confusion,
            blend_first: blend_first as f64 / total.max(1) as f64,
            ms_per_ranking: spent.as_secs_f64() * 1000.0 / total.max(1) as f64,
        });
    }
    let report = Report {
        styles: names,
        models: model_names,
        held_out_melodies: seqs.iter().map(Vec::len).collect(),
        held_out_notes: seqs
            .iter()
            .map(|s| s.iter().map(|q| q.events.len()).sum())
            .collect(),
        long_term,
        long_and_short_term,
        recommendation,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    for (title, t) in [
        (
            "bits per note (pitch + rhythm), long-term model only",
            &report.long_term,
        ),
        (
            "bits per note (pitch + rhythm), long- + short-term (as the plugin answers)",
            &report.long_and_short_term,
        ),
    ] {
        if t.is_empty() {
            continue;
        }
        println!("\n{title}: held-out files of (rows) under model (columns)");
        print!("{:<26}", "held-out files");
        for m in &report.models {
            print!(" {m:>11}");
        }
        println!();
        for (i, row) in t.iter().enumerate() {
            let label = format!(
                "{} ({} mel., {} notes)",
                report.styles[i], report.held_out_melodies[i], report.held_out_notes[i]
            );
            print!("{label:<26}");
            for v in row {
                print!(" {v:>11.3}");
            }
            println!();
        }
    }
    for r in &report.recommendation {
        println!(
            "\nrecommendation after {} notes ({} melodies): top-1 {:.3} (per style mean {:.3}); \
             Blend would rank first on {:.1} %; {:.2} ms per ranking of 5 styles",
            r.notes,
            r.melodies,
            r.top1,
            r.top1_balanced,
            100.0 * r.blend_first,
            r.ms_per_ranking
        );
        print!("{:<14}", "melody \\ first");
        for s in &report.styles {
            print!(" {s:>11}");
        }
        println!();
        for (i, row) in r.confusion.iter().enumerate() {
            print!("{:<14}", report.styles[i]);
            for c in row {
                print!(" {c:>11}");
            }
            println!();
        }
    }
    Ok(())
}

/// `continuo styles list | rename FROM TO | delete NAME`: your own styles, as the editor
/// manages them (same folder, same rules: no file replaced, a taken name refused).
#[derive(clap::Args, Debug)]
pub struct StylesArgs {
    #[command(subcommand)]
    action: StylesAction,
}

#[derive(clap::Subcommand, Debug)]
enum StylesAction {
    /// The bundled styles and yours (folder: CONTINUO_STYLE_DIR or the per-user default), with
    /// the files that cannot be read.
    List,
    /// Give one of your styles another name.
    Rename { from: String, to: String },
    /// Delete one of your styles' file.
    Delete { name: String },
}

pub fn styles(args: StylesArgs) -> Result<()> {
    let dir = styles::user_dir();
    match args.action {
        StylesAction::List => {
            for b in BUNDLED.iter() {
                println!("{:<26} bundled ({} kB)", b.name, b.bytes() / 1000);
            }
            let (mine, problems) = styles::list_user_styles(&dir);
            println!("your styles folder: {}", dir.display());
            for (name, path) in mine {
                println!("{name:<26} yours   ({})", path.display());
            }
            for (path, e) in &problems {
                eprintln!("not readable: {}: {e}", path.display());
            }
        }
        StylesAction::Rename { from, to } => {
            let (path, model) = styles::rename_user_style(&dir, &from, &to)?;
            println!(
                "\"{from}\" is now \"{}\" ({})",
                model.meta.name,
                path.display()
            );
        }
        StylesAction::Delete { name } => {
            let path = styles::delete_user_style(&dir, &name)?;
            println!("deleted \"{name}\" ({})", path.display());
        }
    }
    Ok(())
}
