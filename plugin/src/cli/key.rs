//! `continuo eval-key DIR [--json] [--block N] [--verbose]`: how often the key the plugin would
//! show matches the music's key, on every `NAME.wav` in DIR with a `NAME.json` giving
//! `"key": "G:min"` (what `cargo xtask render-dataset` writes) and a `NAME.notes.tsv`, or, for
//! the four-part chorale renders of `cargo xtask render-chorales`, a `NAME.json` and the
//! chorale's `NAME.mid` (the key of its four voices, `harmony::chorale::chorale_key`).
//!
//! Three estimates per file:
//! - **audio**: the whole plugin (engine → model thread) run over the file by an offline
//!   [`Session`] with default parameters; the key the editor would show at the end of the file,
//!   and the share of the time (sampled every 0.5 s from 5 s on) it showed the right key;
//! - **notes**: the model's `estimate_key` on the duration-weighted pitch classes of the
//!   ground-truth notes (what the key finder gives when the transcription is perfect).
//!
//! Each estimate is classed against the true key: exact, relative (C major ↔ A minor), parallel
//! (same tonic, other mode), fifth (same mode, tonic a fifth up or down) or other; the MIREX
//! key score weighs them 1, 0.3, 0.2, 0.5, 0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::files::transcribe as offline;
use crate::music::{KeySignature, Mode};
use crate::params::ContinuoParams;
use crate::session::Session;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Folder with NAME.wav + NAME.json (`"key": "G:min"`) + NAME.notes.tsv.
    pub dir: PathBuf,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Block size handed to the plugin, like a host buffer.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub block: u32,
    /// Print one line per file.
    #[arg(long)]
    pub verbose: bool,
    /// Only the notes-alone estimate (fast: no audio is analysed).
    #[arg(long)]
    pub notes_only: bool,
}

const NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

/// Parses `G:maj`, `F#:min`, `Bb:min` (Harte-like key labels).
pub fn parse_key(label: &str) -> Option<KeySignature> {
    let (tonic, mode) = label.split_once(':')?;
    let mut chars = tonic.chars();
    let first = chars.next()?.to_ascii_uppercase();
    let pc = crate::music::pitch_class_from_name(&format!("{first}{}", chars.as_str()))?;
    let mode = match mode {
        "maj" => Mode::Major,
        "min" => Mode::Minor,
        _ => return None,
    };
    Some(KeySignature { tonic: pc, mode })
}

pub fn key_label(k: KeySignature) -> String {
    format!(
        "{}:{}",
        NAMES[(k.tonic % 12) as usize],
        match k.mode {
            Mode::Major => "maj",
            Mode::Minor => "min",
        }
    )
}

/// How an estimate relates to the true key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    Exact,
    Fifth,
    Relative,
    Parallel,
    Other,
    None,
}

impl Relation {
    /// MIREX key-detection weight.
    pub fn score(self) -> f64 {
        match self {
            Relation::Exact => 1.0,
            Relation::Fifth => 0.5,
            Relation::Relative => 0.3,
            Relation::Parallel => 0.2,
            Relation::Other | Relation::None => 0.0,
        }
    }
}

pub fn relation(truth: KeySignature, estimate: Option<KeySignature>) -> Relation {
    let Some(e) = estimate else {
        return Relation::None;
    };
    let up = (e.tonic as i32 - truth.tonic as i32).rem_euclid(12);
    match (truth.mode, e.mode, up) {
        (a, b, 0) if a == b => Relation::Exact,
        (a, b, 5 | 7) if a == b => Relation::Fifth,
        (Mode::Major, Mode::Minor, 9) | (Mode::Minor, Mode::Major, 3) => Relation::Relative,
        (_, _, 0) => Relation::Parallel,
        _ => Relation::Other,
    }
}

/// A confusion named from the true key's side: `min→maj +3 (relative)`, `min→min +7`.
pub fn confusion(truth: KeySignature, estimate: Option<KeySignature>) -> String {
    let Some(e) = estimate else {
        return "no key".into();
    };
    let m = |m: Mode| match m {
        Mode::Major => "maj",
        Mode::Minor => "min",
    };
    let up = (e.tonic as i32 - truth.tonic as i32).rem_euclid(12);
    let what = match relation(truth, estimate) {
        Relation::Exact => "exact",
        Relation::Fifth if up == 7 => "dominant",
        Relation::Fifth => "subdominant",
        Relation::Relative => "relative",
        Relation::Parallel => "parallel",
        _ => "other",
    };
    format!("{}→{} +{up} ({what})", m(truth.mode), m(e.mode))
}

#[derive(Debug, Clone, Serialize)]
pub struct FileKey {
    pub name: String,
    pub group: String,
    pub truth: String,
    pub audio_end: Option<String>,
    pub audio_relation: Option<Relation>,
    /// Share of the samples (every 0.5 s from 5 s on) the plugin showed the true key.
    pub audio_time_share: Option<f64>,
    pub notes: Option<String>,
    pub notes_relation: Relation,
    /// The heuristic key's relation to the ABC key, when the key came from the ABC source.
    pub heuristic_relation: Option<Relation>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Tally {
    pub files: usize,
    pub exact: usize,
    pub fifth: usize,
    pub relative: usize,
    pub parallel: usize,
    pub other: usize,
    pub none: usize,
    /// exact / files.
    pub accuracy: f64,
    /// (exact + parallel) / files.
    pub same_tonic: f64,
    /// Mean MIREX score.
    pub mirex: f64,
}

impl Tally {
    fn of(relations: impl Iterator<Item = Relation>) -> Self {
        let mut t = Tally::default();
        let mut score = 0.0;
        for r in relations {
            t.files += 1;
            score += r.score();
            match r {
                Relation::Exact => t.exact += 1,
                Relation::Fifth => t.fifth += 1,
                Relation::Relative => t.relative += 1,
                Relation::Parallel => t.parallel += 1,
                Relation::Other => t.other += 1,
                Relation::None => t.none += 1,
            }
        }
        if t.files > 0 {
            let n = t.files as f64;
            t.accuracy = t.exact as f64 / n;
            t.same_tonic = (t.exact + t.parallel) as f64 / n;
            t.mirex = score / n;
        }
        t
    }
}

/// The key and source group of a render, and (when the key comes from the ABC source) how the
/// collection + final-note heuristic relates to it.
fn read_truth(json: &Path) -> Result<Option<(KeySignature, String, Option<Relation>)>> {
    let text =
        std::fs::read_to_string(json).with_context(|| format!("cannot read {}", json.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", json.display()))?;
    let group = v
        .get("source_group")
        .and_then(|g| g.as_str())
        .unwrap_or("-")
        .to_string();
    let heuristic = (v.get("key_source").and_then(|s| s.as_str()) == Some("abc")).then(|| {
        v.get("key_heuristic")
            .and_then(|k| k.as_str())
            .and_then(parse_key)
    });
    Ok(v.get("key")
        .and_then(|k| k.as_str())
        .and_then(parse_key)
        .map(|k| (k, group, heuristic.map(|h| relation(k, h)))))
}

/// What a render's side files say about its key.
struct Truth {
    /// The true key.
    key: KeySignature,
    /// Source group (melody renders) or instrument (chorale renders), for the per-group table.
    group: String,
    /// See [`read_truth`].
    heuristic_relation: Option<Relation>,
    /// The key finder on the duration-weighted pitch classes of the written notes.
    notes_key: Option<KeySignature>,
}

/// The truth for `NAME.wav`: a melody render (`NAME.json` with `"key"` and `NAME.notes.tsv`,
/// from `cargo xtask render-dataset`), or a four-part chorale render (`NAME.json` with
/// `"instrument"` and the chorale's `NAME.mid`, from `cargo xtask render-chorales`; its key is
/// [`crate::harmony::chorale::chorale_key`] of the four voices, the written notes all four
/// voices). `None` when neither applies.
fn read_render(wav: &Path) -> Result<Option<Truth>> {
    let json = wav.with_extension("json");
    if !json.is_file() {
        return Ok(None);
    }
    let tsv = wav.with_extension("notes.tsv");
    if tsv.is_file() {
        let Some((key, group, heuristic_relation)) = read_truth(&json)? else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&tsv)?;
        let hist = crate::model::key::histogram(text.lines().filter_map(|l| {
            let mut c = l.split_whitespace();
            let on: f64 = c.next()?.parse().ok()?;
            let off: f64 = c.next()?.parse().ok()?;
            let pitch: f64 = c.next()?.parse().ok()?;
            Some((pitch.round().clamp(0.0, 127.0) as u8, off - on))
        }));
        return Ok(Some(Truth {
            key,
            group,
            heuristic_relation,
            notes_key: crate::model::key::estimate_key(&hist),
        }));
    }
    let mid = wav.with_extension("mid");
    let text = std::fs::read_to_string(&json)
        .with_context(|| format!("cannot read {}", json.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", json.display()))?;
    let Some(instrument) = v.get("instrument").and_then(|i| i.as_str()) else {
        return Ok(None);
    };
    if !mid.is_file() {
        return Ok(None);
    }
    let name = wav.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
    let bytes = std::fs::read(&mid).with_context(|| format!("cannot read {}", mid.display()))?;
    let chorale = crate::harmony::chorale::read_chorale(name, &bytes)?;
    let hist = crate::model::key::histogram(
        chorale
            .voices
            .iter()
            .flatten()
            .map(|n| (n.pitch, n.duration)),
    );
    Ok(Some(Truth {
        key: chorale.key,
        group: format!("chorale {instrument}"),
        heuristic_relation: None,
        notes_key: crate::model::key::estimate_key(&hist),
    }))
}

/// The key the plugin shows while `samples` play, sampled every `every_s` seconds, and at the end.
fn plugin_keys(
    samples: &[f32],
    sample_rate: f32,
    block: usize,
    every_s: f64,
) -> (Vec<(f64, Option<KeySignature>)>, Option<KeySignature>) {
    let params = Arc::new(ContinuoParams::default());
    let mut session = Session::new(sample_rate, block, params);
    let step = ((every_s * sample_rate as f64) as usize).max(block);
    let mut shown = Vec::new();
    let mut at = 0usize;
    while at < samples.len() {
        let end = (at + step).min(samples.len());
        session.run(&samples[at..end], &[], None, (end - at) as u64);
        at = end;
        shown.push((at as f64 / sample_rate as f64, session.key().map(|k| k.0)));
    }
    let last = session.key().map(|k| k.0);
    (shown, last)
}

pub fn run(args: Args) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&args.dir)
        .with_context(|| format!("cannot list {}", args.dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("wav"))
        .collect();
    entries.sort();
    let mut files = Vec::new();
    let mut without_key = 0usize;
    let bar = if args.json || args.verbose {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(entries.len() as u64)
    };
    for wav in &entries {
        bar.inc(1);
        let Some(Truth {
            key: truth,
            group,
            heuristic_relation,
            notes_key,
        }) = read_render(wav)?
        else {
            without_key += 1;
            continue;
        };
        let name = wav
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_string();
        let (audio_end, audio_share) = if args.notes_only {
            (None, None)
        } else {
            let (samples, sample_rate) = offline::read_wav(wav)?;
            let (shown, last) = plugin_keys(&samples, sample_rate, args.block as usize, 0.5);
            let later: Vec<bool> = shown
                .iter()
                .filter(|(t, _)| *t >= 5.0)
                .map(|(_, k)| *k == Some(truth))
                .collect();
            let share = (!later.is_empty())
                .then(|| later.iter().filter(|&&b| b).count() as f64 / later.len() as f64);
            (Some(last), share)
        };
        let f = FileKey {
            name,
            group,
            truth: key_label(truth),
            audio_end: audio_end.flatten().map(key_label),
            audio_relation: audio_end.map(|k| relation(truth, k)),
            audio_time_share: audio_share,
            notes: notes_key.map(key_label),
            notes_relation: relation(truth, notes_key),
            heuristic_relation,
        };
        if args.verbose {
            println!(
                "{:<56} {:>7} audio {:>7} ({:<8}) shown {:>5} notes {:>7} ({:?})",
                f.name,
                f.truth,
                f.audio_end.as_deref().unwrap_or("-"),
                f.audio_relation
                    .map(|r| format!("{r:?}").to_lowercase())
                    .unwrap_or_else(|| "-".into()),
                f.audio_time_share
                    .map(|s| format!("{:.0}%", s * 100.0))
                    .unwrap_or_else(|| "-".into()),
                f.notes.as_deref().unwrap_or("-"),
                f.notes_relation
            );
        }
        files.push(f);
    }
    bar.finish_and_clear();
    if files.is_empty() {
        bail!(
            "{}: no NAME.wav with NAME.json (\"key\") and NAME.notes.tsv, or a chorale render's NAME.json and NAME.mid",
            args.dir.display()
        );
    }
    // Tallies: all, per source group, per true mode.
    let truth_of = |f: &FileKey| parse_key(&f.truth).unwrap();
    let mut groups: BTreeMap<String, Vec<&FileKey>> = BTreeMap::new();
    for f in &files {
        groups.entry(f.group.clone()).or_default().push(f);
        let mode = match truth_of(f).mode {
            Mode::Major => "mode: major",
            Mode::Minor => "mode: minor",
        };
        groups.entry(mode.to_string()).or_default().push(f);
    }
    let audio_all = Tally::of(files.iter().filter_map(|f| f.audio_relation));
    let notes_all = Tally::of(files.iter().map(|f| f.notes_relation));
    let heuristic_all = Tally::of(files.iter().filter_map(|f| f.heuristic_relation));
    let shares: Vec<f64> = files.iter().filter_map(|f| f.audio_time_share).collect();
    let mean_share = (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64);
    let mut confusions_audio: BTreeMap<String, usize> = BTreeMap::new();
    let mut confusions_notes: BTreeMap<String, usize> = BTreeMap::new();
    for f in &files {
        let t = truth_of(f);
        if f.audio_relation.is_some() {
            let e = f.audio_end.as_deref().and_then(parse_key);
            *confusions_audio.entry(confusion(t, e)).or_default() += 1;
        }
        let e = f.notes.as_deref().and_then(parse_key);
        *confusions_notes.entry(confusion(t, e)).or_default() += 1;
    }
    let sorted = |m: BTreeMap<String, usize>| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    let confusions_audio = sorted(confusions_audio);
    let confusions_notes = sorted(confusions_notes);
    let per_group: BTreeMap<String, (Tally, Tally)> = groups
        .iter()
        .map(|(g, fs)| {
            (
                g.clone(),
                (
                    Tally::of(fs.iter().filter_map(|f| f.audio_relation)),
                    Tally::of(fs.iter().map(|f| f.notes_relation)),
                ),
            )
        })
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "files_scored": files.len(),
                "files_without_key": without_key,
                "audio": audio_all,
                "audio_mean_time_share": mean_share,
                "notes": notes_all,
                "heuristic_vs_abc": heuristic_all,
                "per_group": per_group.iter().map(|(g, (a, n))| (g.clone(), serde_json::json!({"audio": a, "notes": n}))).collect::<BTreeMap<_, _>>(),
                "confusions_audio": confusions_audio,
                "confusions_notes": confusions_notes,
                "files": files,
            }))?
        );
        return Ok(());
    }
    println!(
        "{} files with a key ({} without one skipped)\n",
        files.len(),
        without_key
    );
    println!(
        "{:<22} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "estimate / group",
        "files",
        "exact",
        "tonic",
        "fifth",
        "relat.",
        "parall.",
        "other",
        "MIREX"
    );
    let row = |label: &str, t: &Tally| {
        if t.files == 0 {
            return;
        }
        let pct = |n: usize| format!("{:.1}%", 100.0 * n as f64 / t.files as f64);
        println!(
            "{:<22} {:>5} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7.3}",
            label,
            t.files,
            pct(t.exact),
            format!("{:.1}%", 100.0 * t.same_tonic),
            pct(t.fifth),
            pct(t.relative),
            pct(t.parallel),
            pct(t.other + t.none),
            t.mirex
        );
    };
    row("audio (plugin), all", &audio_all);
    for (g, (a, _)) in &per_group {
        row(&format!("  {g}"), a);
    }
    row("notes alone, all", &notes_all);
    for (g, (_, n)) in &per_group {
        row(&format!("  {g}"), n);
    }
    row("heuristic vs ABC key", &heuristic_all);
    if let Some(s) = mean_share {
        println!(
            "\naudio: the plugin showed the true key {:.1}% of the time from 5 s on (mean over files)",
            s * 100.0
        );
    }
    for (label, list) in [
        ("audio", &confusions_audio),
        ("notes alone", &confusions_notes),
    ] {
        if list.is_empty() {
            continue;
        }
        println!("\nconfusions, {label} (true mode → estimated mode +semitones of the tonic):");
        for (c, n) in list.iter().take(10) {
            println!("  {n:>4}  {c}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(label: &str) -> KeySignature {
        parse_key(label).unwrap()
    }

    /// The whole plugin, run offline on the demo's recording (`assets/demo/phrase-piano.wav`, a
    /// G-minor phrase), shows G minor at the end (issue 13: it showed D minor).
    #[test]
    fn the_plugin_shows_the_demo_phrase_in_g_minor() {
        let wav = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets/demo/phrase-piano.wav");
        let (samples, sample_rate) = offline::read_wav(&wav).unwrap();
        let (_, last) = plugin_keys(&samples, sample_rate, 512, 1.0);
        assert_eq!(last, Some(k("G:min")));
    }

    #[test]
    fn labels_round_trip() {
        assert_eq!(k("G:min").tonic, 7);
        assert_eq!(k("Bb:maj").tonic, 10);
        assert_eq!(k("F#:min").tonic, 6);
        assert_eq!(key_label(k("A#:maj")), "Bb:maj");
        assert!(parse_key("H:maj").is_none() && parse_key("C:dor").is_none());
    }

    #[test]
    fn relations() {
        assert_eq!(relation(k("G:min"), Some(k("G:min"))), Relation::Exact);
        assert_eq!(relation(k("G:min"), Some(k("D:min"))), Relation::Fifth);
        assert_eq!(relation(k("G:min"), Some(k("C:min"))), Relation::Fifth);
        assert_eq!(relation(k("G:min"), Some(k("Bb:maj"))), Relation::Relative);
        assert_eq!(relation(k("C:maj"), Some(k("A:min"))), Relation::Relative);
        assert_eq!(relation(k("G:min"), Some(k("G:maj"))), Relation::Parallel);
        assert_eq!(relation(k("G:min"), Some(k("D:maj"))), Relation::Other);
        assert_eq!(relation(k("G:min"), None), Relation::None);
        assert_eq!(
            confusion(k("G:min"), Some(k("D:min"))),
            "min→min +7 (dominant)"
        );
    }
}
