//! MODEL THREAD (and the CLI): the style registry — the bundled style models, the user's own
//! style files — and the recommendation score: how well a style's long-term model predicts the
//! player's notes, in bits per note (pitch + rhythm; lower fits better).
//!
//! Bundled styles are compressed model files embedded in the binary and parsed only when asked
//! for (on the model thread or a background loader, never the audio thread). User styles are
//! model files made by `continuo train --name …` in [`user_dir`].

use super::eval::evaluate;
use super::key::{estimate_key, histogram};
use super::note::events_from_notes;
use super::predictor::{LongTermModel, MultiViewpoint};
use super::train::Sequence;
use super::viewpoints::Viewpoint;
use super::{ModelError, Note, TrainedModel};
use crate::music::KeySignature;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default style: every bundled style's melodies together.
pub const BLEND: &str = "Blend";

/// A style model shipped inside the plugin.
pub struct Bundled {
    /// Stable id (presets, parameter values).
    pub id: &'static str,
    /// The name the editor shows.
    pub name: &'static str,
    bytes: &'static [u8],
}

impl Bundled {
    /// Parses the embedded file (0.1–0.5 s: call it off the audio thread).
    pub fn load(&self) -> Result<TrainedModel, ModelError> {
        TrainedModel::from_bytes(self.bytes)
    }

    /// Compressed size of the embedded file.
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// The bundled styles, Blend (the default) first. Rebuilt by `cargo xtask train-styles`.
pub static BUNDLED: [Bundled; 5] = [
    Bundled {
        id: "blend",
        name: BLEND,
        bytes: include_bytes!("../../../assets/model/styles/blend.json.gz"),
    },
    Bundled {
        id: "chorale",
        name: "Chorale",
        bytes: include_bytes!("../../../assets/model/styles/chorale.json.gz"),
    },
    Bundled {
        id: "fiddle",
        name: "Fiddle",
        bytes: include_bytes!("../../../assets/model/styles/fiddle.json.gz"),
    },
    Bundled {
        id: "airs",
        name: "Airs",
        bytes: include_bytes!("../../../assets/model/styles/airs.json.gz"),
    },
    Bundled {
        id: "renaissance",
        name: "Renaissance",
        bytes: include_bytes!("../../../assets/model/styles/renaissance.json.gz"),
    },
];

/// The bundled style with this name or id (case-insensitive).
pub fn bundled(name: &str) -> Option<&'static Bundled> {
    let name = name.trim();
    BUNDLED
        .iter()
        .find(|b| b.name.eq_ignore_ascii_case(name) || b.id.eq_ignore_ascii_case(name))
}

/// Where the user's own style files live: `CONTINUO_STYLE_DIR` when set; else a `styles` folder
/// inside `CONTINUO_PRESET_DIR` when that is set; else beside the user presets folder
/// (`~/.config/continuo/styles` on Linux, `~/Library/Application Support/Continuo/Styles` on
/// macOS, `%APPDATA%\Continuo\Styles` on Windows).
pub fn user_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CONTINUO_STYLE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("CONTINUO_PRESET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("styles");
    }
    let presets = crate::preset::user_dir();
    let styles = if cfg!(target_os = "linux") {
        "styles"
    } else {
        "Styles"
    };
    match presets.parent() {
        Some(parent) => parent.join(styles),
        None => presets.join(styles),
    }
}

/// A user style found on disk, loaded.
pub struct UserStyle {
    /// The name it is listed and chosen by (see [`list_user_styles`] for the rules).
    pub name: String,
    /// Its file in the user style folder.
    pub path: PathBuf,
    /// The model, parsed (counts validated).
    pub model: TrainedModel,
}

/// The name a user style file goes by: its stored name, else the file name without extensions.
/// A name that is a bundled style's gets " (mine)" added, so both can be chosen.
fn user_style_name(stored: &str, path: &Path) -> String {
    let stored = stored.trim();
    let name = if stored.is_empty() {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        file.trim_end_matches(".gz")
            .trim_end_matches(".json")
            .to_string()
    } else {
        stored.to_string()
    };
    if bundled(&name).is_some() {
        format!("{name} (mine)")
    } else {
        name
    }
}

/// Whether a path looks like a model file (`*.json` or `*.json.gz`; the hidden temporary files
/// of an unfinished save end otherwise and are never listed).
fn is_style_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    path.is_file() && (name.ends_with(".json.gz") || name.ends_with(".json"))
}

/// The style files in `dir`, sorted by path (none when the folder is missing).
fn style_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_style_file(p))
        .collect();
    paths.sort();
    paths
}

/// `name`, with `'` added until no earlier style has it (hand-copied files may share a name).
fn unique(mut name: String, taken: &[String]) -> String {
    while taken.contains(&name) {
        name.push('\'');
    }
    name
}

/// Every style file in `dir`, loaded, sorted by name; the files that could not be loaded are
/// listed with the reason ("newer version", "not valid gzip"…). A missing folder is no style
/// and no problem. `stop` is checked between files (cancel).
pub fn load_user_styles(
    dir: &Path,
    stop: &dyn Fn() -> bool,
) -> (Vec<UserStyle>, Vec<(PathBuf, String)>) {
    let (mut styles, mut problems) = (Vec::new(), Vec::new());
    let mut names: Vec<String> = Vec::new();
    for path in style_files(dir) {
        if stop() {
            break;
        }
        match TrainedModel::load(&path) {
            Ok(model) => {
                let name = unique(user_style_name(&model.meta.name, &path), &names);
                names.push(name.clone());
                styles.push(UserStyle { name, path, model });
            }
            Err(e) => problems.push((path, e.to_string())),
        }
    }
    styles.sort_by_key(|s| s.name.to_lowercase());
    (styles, problems)
}

/// The user styles in `dir` by name and file, without parsing their counts (for listings and
/// for finding a style's file), sorted by name; unreadable files with the reason. The names
/// are the ones [`load_user_styles`] gives.
pub fn list_user_styles(dir: &Path) -> (Vec<(String, PathBuf)>, Problems) {
    let (mut styles, mut problems) = (Vec::new(), Vec::new());
    let mut names: Vec<String> = Vec::new();
    for path in style_files(dir) {
        let meta = std::fs::read(&path)
            .map_err(ModelError::from)
            .and_then(|bytes| TrainedModel::meta_from_bytes(&bytes));
        match meta {
            Ok(meta) => {
                let name = unique(user_style_name(&meta.name, &path), &names);
                names.push(name.clone());
                styles.push((name, path));
            }
            Err(e) => problems.push((path, e.to_string())),
        }
    }
    styles.sort_by_key(|(n, _)| n.to_lowercase());
    (styles, problems)
}

/// Files that could not be read, with the reason.
pub type Problems = Vec<(PathBuf, String)>;

/// Loads the user style called `name` from `dir`. Only its own file is parsed: the others are
/// found by their names alone ([`list_user_styles`]), so choosing a style costs the same with
/// two styles in the folder or fifty.
pub fn load_user_style(dir: &Path, name: &str) -> Result<UserStyle, String> {
    if !dir.is_dir() {
        return Err(format!(
            "no style \"{name}\": the styles folder {} does not exist",
            dir.display()
        ));
    }
    let (listed, problems) = list_user_styles(dir);
    if let Some((found, path)) = listed
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
    {
        return match TrainedModel::load(&path) {
            Ok(model) => Ok(UserStyle {
                name: found,
                path,
                model,
            }),
            Err(e) => Err(format!(
                "style \"{found}\" is unreadable ({}): {e}",
                path.display()
            )),
        };
    }
    let mut why = format!("no style \"{name}\" in {}", dir.display());
    if let Some((path, e)) = problems.first() {
        why.push_str(&format!(
            " ({} unreadable file(s), e.g. {}: {e})",
            problems.len(),
            path.display()
        ));
    }
    Err(why)
}

/// Longest name a user style may be given (characters).
pub const MAX_NAME_CHARS: usize = 60;

/// Why a user style could not be saved, renamed or deleted. Whatever the reason, no file was
/// changed.
#[derive(Debug, thiserror::Error)]
pub enum StyleFileError {
    #[error("a style needs a name")]
    NoName,
    #[error("a style's name has at most {MAX_NAME_CHARS} characters")]
    NameTooLong,
    #[error("\"{0}\" is the name of a bundled style; choose another")]
    BundledName(String),
    #[error("you already have a style called \"{0}\"; choose another name")]
    NameTaken(String),
    #[error("no style of yours is called \"{0}\"")]
    NotFound(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StyleFileError {
    let path = path.to_path_buf();
    move |source| StyleFileError::Io { what, path, source }
}

/// A name the user typed, made fit for a new style: trimmed, control characters removed; not
/// empty, not too long, not a bundled style's.
pub fn check_name(name: &str) -> Result<String, StyleFileError> {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(StyleFileError::NoName);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(StyleFileError::NameTooLong);
    }
    if bundled(&name).is_some() {
        return Err(StyleFileError::BundledName(name));
    }
    Ok(name)
}

/// [`check_name`], and no other user style in `dir` (than the one at `except`) has the name.
fn check_new_name(dir: &Path, name: &str, except: Option<&Path>) -> Result<String, StyleFileError> {
    let name = check_name(name)?;
    let (styles, _) = list_user_styles(dir);
    if styles
        .iter()
        .any(|(n, p)| n.eq_ignore_ascii_case(&name) && Some(p.as_path()) != except)
    {
        return Err(StyleFileError::NameTaken(name));
    }
    Ok(name)
}

/// The file name stem for a style name: lower-case letters and digits, other characters
/// turned into single dashes ("My Reels!" → "my-reels"); "style" when nothing is left.
fn file_stem(name: &str) -> String {
    let mut stem = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            stem.extend(c.to_lowercase());
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
        if stem.chars().count() >= 40 {
            break;
        }
    }
    let stem = stem.trim_end_matches('-').to_string();
    if stem.is_empty() {
        "style".into()
    } else {
        stem
    }
}

/// A temporary file beside `path` (hidden, never listed as a style).
fn temp_beside(dir: &Path, stem: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!(".{stem}.{}-{n}.tmp", std::process::id()))
}

/// Writes `bytes` to a temporary file in `dir`, flushed to disk.
fn write_temp(dir: &Path, stem: &str, bytes: &[u8]) -> Result<PathBuf, StyleFileError> {
    use std::io::Write;
    let tmp = temp_beside(dir, stem);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error("write", &tmp)(e));
    }
    Ok(tmp)
}

/// Writes `model` as a new file in `dir` named after `stem` (`stem.json.gz`, else
/// `stem-2.json.gz`, …): written in full to a temporary file first, then linked to a name no
/// file has, so an existing file is never replaced and a crash leaves no half-written style.
fn write_new(dir: &Path, stem: &str, model: &TrainedModel) -> Result<PathBuf, StyleFileError> {
    std::fs::create_dir_all(dir).map_err(io_error("create the styles folder", dir))?;
    let tmp = write_temp(dir, stem, &model.to_bytes(true)?)?;
    let mut result = Err(StyleFileError::NameTaken(format!(
        "{stem} (999 files of that name)"
    )));
    for i in 1..1000 {
        let path = if i == 1 {
            dir.join(format!("{stem}.json.gz"))
        } else {
            dir.join(format!("{stem}-{i}.json.gz"))
        };
        if path.exists() {
            continue;
        }
        // A hard link fails when the name exists (never replaces); where the file system has
        // no hard links, a rename to the name just seen free.
        match std::fs::hard_link(&tmp, &path) {
            Ok(()) => {
                result = Ok(path);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => {
                result = std::fs::rename(&tmp, &path)
                    .map(|()| path.clone())
                    .map_err(io_error("save the style as", &path));
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Replaces the file at `path` (the same style, changed) with `model`, atomically: a temporary
/// file, then a rename over it.
fn replace(path: &Path, model: &TrainedModel) -> Result<(), StyleFileError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = write_temp(dir, "replace", &model.to_bytes(true)?)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error("replace", path)(e)
    })
}

/// The file of the user style called `name` in `dir`.
fn find(dir: &Path, name: &str) -> Result<PathBuf, StyleFileError> {
    list_user_styles(dir)
        .0
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, p)| p)
        .ok_or_else(|| StyleFileError::NotFound(name.trim().into()))
}

/// Saves `model` as a new user style called `name` in `dir` (created when missing). Refused when
/// the name is empty, a bundled style's, or one of the user's styles has it already; never
/// replaces a file (a new file name is chosen). Returns the file and the model as saved.
pub fn save_new_user_style(
    dir: &Path,
    name: &str,
    mut model: TrainedModel,
) -> Result<(PathBuf, TrainedModel), StyleFileError> {
    let name = check_new_name(dir, name, None)?;
    model.meta.name = name.clone();
    let path = write_new(dir, &file_stem(&name), &model)?;
    Ok((path, model))
}

/// Renames the user style `from` to `to`: saved under the new name to a new file, then the old
/// file removed. Refused (nothing changed) when `to` is taken or not a fit name.
pub fn rename_user_style(
    dir: &Path,
    from: &str,
    to: &str,
) -> Result<(PathBuf, TrainedModel), StyleFileError> {
    let old = find(dir, from)?;
    let to = check_new_name(dir, to, Some(&old))?;
    let mut model = TrainedModel::load(&old)?;
    model.meta.name = to.clone();
    let stem = file_stem(&to);
    if old.file_name() == Some(std::ffi::OsStr::new(&format!("{stem}.json.gz"))) {
        // Only the name's case or punctuation changed: same file.
        replace(&old, &model)?;
        return Ok((old, model));
    }
    let new = write_new(dir, &stem, &model)?;
    if let Err(e) = std::fs::remove_file(&old) {
        // Undo: keep the style once, under its old name.
        let _ = std::fs::remove_file(&new);
        return Err(io_error("remove the old file", &old)(e));
    }
    Ok((new, model))
}

/// Deletes the file of the user style `name`. Returns the file deleted.
pub fn delete_user_style(dir: &Path, name: &str) -> Result<PathBuf, StyleFileError> {
    let path = find(dir, name)?;
    std::fs::remove_file(&path).map_err(io_error("delete", &path))?;
    Ok(path)
}

/// Adds `melody` (the notes of a session) to the counts of the user style `name` and saves it
/// in place (atomically). Returns the file and the merged model.
pub fn merge_into_user_style(
    dir: &Path,
    name: &str,
    melody: &Sequence,
) -> Result<(PathBuf, TrainedModel), StyleFileError> {
    let path = find(dir, name)?;
    let mut model = TrainedModel::load(&path)?;
    let mut ltm = (*model.ltm).clone();
    ltm.learn_melody(&melody.history());
    model.ltm = Arc::new(ltm);
    model.meta.train_melodies += 1;
    model.meta.train_notes += melody.events.len();
    model.meta.date = super::file::utc_now();
    let note = format!(
        "{}+ {} notes of a session, {}",
        if model.meta.provenance.is_empty() {
            ""
        } else {
            "; "
        },
        melody.events.len(),
        model.meta.date
    );
    if model.meta.provenance.len() < 4000 {
        model.meta.provenance.push_str(&note);
    }
    replace(&path, &model)?;
    Ok((path, model))
}

/// A style model of the player's own notes (a session): one melody, every context kept (a
/// session is small), with `config`'s viewpoints and orders.
pub fn style_from_notes(config: super::predictor::ModelConfig, melody: &Sequence) -> TrainedModel {
    let mut model = TrainedModel::untrained(config.clone());
    model.ltm = Arc::new(super::train::train(config, [melody]));
    model.meta.provenance = "learnt from your playing in a Continuo session".into();
    model.meta.date = super::file::utc_now();
    model.meta.train_melodies = 1;
    model.meta.train_notes = melody.events.len();
    model
}

/// One style's fit to some notes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StyleScore {
    pub style: String,
    /// Bits per note of the player's notes under the style's long-term model, as [`rank`]
    /// scores them (lower fits better).
    pub bits_per_note: f64,
}

/// The player's notes as the scorer sees them: events, in `key` or the key their pitches suggest.
pub fn sequence_of(notes: &[Note], key: Option<KeySignature>) -> Sequence {
    let key = key.unwrap_or_else(|| {
        estimate_key(&histogram(notes.iter().map(|n| (n.pitch, n.duration)))).unwrap_or_default()
    });
    Sequence {
        events: events_from_notes(notes),
        key,
    }
}

/// How a style's fit to some notes is scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scoring {
    /// The recommendation's score (the default): the style's pitch viewpoint (absolute pitch:
    /// register and key, which the interval viewpoints leave out) and each of its rhythm
    /// viewpoints (rhythm; rhythm × position in the beat) predicting on their own, their bits
    /// per note summed. Chosen on the tuning half of the held-out melodies (see the README).
    Viewpoints,
    /// The long-term model as it answers (every viewpoint, entropy-weighted), pitch bits plus
    /// `rhythm_weight` × rhythm bits: the score before.
    Mixture { rhythm_weight: f64 },
}

/// A style's long-term model cut for the recommendation score ([`Scoring::Viewpoints`]): one
/// model per rhythm viewpoint, each with the pitch viewpoint, sharing the style's counts (no
/// copy: made per scoring).
pub struct Recogniser {
    /// (model of two viewpoints, whether its pitch bits count: only the first's do).
    parts: Vec<(Arc<LongTermModel>, bool)>,
}

impl Recogniser {
    pub fn new(model: &TrainedModel) -> Self {
        let cfg = &model.ltm.config;
        let Some(pitch) = cfg
            .pitch_viewpoints
            .iter()
            .position(|v| *v == Viewpoint::Pitch)
        else {
            // A model without the pitch viewpoint is scored whole.
            return Self {
                parts: vec![(model.ltm.clone(), true)],
            };
        };
        let n_pitch = cfg.pitch_viewpoints.len();
        let parts = cfg
            .rhythm_viewpoints
            .iter()
            .enumerate()
            .map(|(i, &rhythm)| {
                let mut config = cfg.clone();
                config.pitch_viewpoints = vec![Viewpoint::Pitch];
                config.rhythm_viewpoints = vec![rhythm];
                let ltm = LongTermModel {
                    config,
                    ppms: vec![
                        model.ltm.ppms[pitch].clone(),
                        model.ltm.ppms[n_pitch + i].clone(),
                    ],
                };
                (Arc::new(ltm), i == 0)
            })
            .collect();
        Self { parts }
    }

    /// Bits per note of `seq` (`None` for no notes).
    pub fn score(&self, seq: &Sequence) -> Option<f64> {
        if seq.events.is_empty() {
            return None;
        }
        let mut bits = 0.0;
        for (ltm, count_pitch) in &self.parts {
            let mut p = MultiViewpoint::new("style", ltm.clone(), false);
            let s = evaluate(&mut p, [seq]);
            bits += s.rhythm_bits + if *count_pitch { s.pitch_bits } else { 0.0 };
        }
        Some(bits)
    }
}

/// Bits per note of `seq` under `model`'s long-term part alone (the short-term part would learn
/// the same notes under every style and blur the difference), scored as `scoring` says. `None`
/// for an empty sequence.
pub fn score(model: &TrainedModel, seq: &Sequence, scoring: Scoring) -> Option<f64> {
    if seq.events.is_empty() {
        return None;
    }
    match scoring {
        Scoring::Viewpoints => Recogniser::new(model).score(seq),
        Scoring::Mixture { rhythm_weight } => {
            let mut p = MultiViewpoint::new("style", model.ltm.clone(), false);
            let s = evaluate(&mut p, [seq]);
            Some(s.pitch_bits + rhythm_weight * s.rhythm_bits)
        }
    }
}

/// Every style's score of `seq` (the recommendation's: [`Scoring::Viewpoints`]), best (fewest
/// bits) first; ties keep the given order.
pub fn rank(styles: &[(String, Arc<TrainedModel>)], seq: &Sequence) -> Vec<StyleScore> {
    rank_by(styles, seq, Scoring::Viewpoints)
}

/// [`rank`] by another [`Scoring`] (`continuo eval-styles --scoring`).
pub fn rank_by(
    styles: &[(String, Arc<TrainedModel>)],
    seq: &Sequence,
    scoring: Scoring,
) -> Vec<StyleScore> {
    let mut out: Vec<StyleScore> = styles
        .iter()
        .filter_map(|(name, m)| {
            score(m, seq, scoring).map(|bits| StyleScore {
                style: name.clone(),
                bits_per_note: bits,
            })
        })
        .collect();
    out.sort_by(|a, b| a.bits_per_note.total_cmp(&b.bits_per_note));
    out
}

/// "fits best: Airs 2.1 bits/note · Fiddle 2.4 · …" (empty when nothing was scored).
pub fn ranking_line(ranking: &[StyleScore]) -> String {
    let mut s = String::new();
    for (i, r) in ranking.iter().enumerate() {
        if i == 0 {
            s.push_str(&format!(
                "fits best: {} {:.1} bits/note",
                r.style, r.bits_per_note
            ));
        } else {
            s.push_str(&format!(" · {} {:.1}", r.style, r.bits_per_note));
        }
    }
    s
}

/// A tiny style model learnt from one repeated tune (fast in debug builds), for tests.
#[cfg(test)]
pub(crate) fn tiny_style(name: &str, tune: &[u8], rhythm: u8) -> Arc<TrainedModel> {
    use crate::model::note::Event;
    use crate::model::predictor::ModelConfig;
    use crate::model::train::{train, Sequence};
    let seq = Sequence {
        events: tune
            .iter()
            .cycle()
            .take(96)
            .map(|&pitch| Event {
                pitch,
                rhythm,
                phase: 0,
            })
            .collect(),
        key: crate::music::KeySignature::default(),
    };
    let cfg = ModelConfig {
        max_order: 3,
        ..ModelConfig::default()
    };
    let mut m = TrainedModel::untrained(cfg.clone());
    m.ltm = Arc::new(train(cfg, [&seq]));
    m.meta.name = name.into();
    m.meta.train_notes = 96;
    Arc::new(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::predictor::ModelConfig;
    use crate::model::train::train;

    fn tiny(name: &str, tune: &[u8], rhythm: u8) -> (String, Arc<TrainedModel>) {
        (name.into(), tiny_style(name, tune, rhythm))
    }

    #[test]
    fn a_tune_ranks_the_style_it_was_learnt_from_first() {
        let styles = [
            tiny("Up", &[60, 62, 64, 65, 67], 8),
            tiny("Down", &[72, 71, 69, 67, 65, 64], 8),
        ];
        let up = sequence_of(&Note::eighths(&[60, 62, 64, 65, 67, 60, 62, 64], 90), None);
        let down = sequence_of(&Note::eighths(&[72, 71, 69, 67, 65, 64, 72, 71], 90), None);
        let r = rank(&styles, &up);
        assert_eq!(r[0].style, "Up", "{r:?}");
        assert!(r[0].bits_per_note < r[1].bits_per_note);
        assert_eq!(rank(&styles, &down)[0].style, "Down");
        assert!(rank(&styles, &sequence_of(&[], None)).is_empty());
        let line = ranking_line(&r);
        assert!(line.starts_with("fits best: Up "), "{line}");
        assert!(line.contains(" · Down "), "{line}");
    }

    /// On real melodies (../shared): tiny models of two styles, trained on 40 files each, tell
    /// 20 other files of each apart from their first 32 notes far better than chance.
    #[test]
    fn tiny_style_models_recognise_their_own_melodies() {
        use crate::model::train::load_corpus_matching;
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/train");
        if !dir.is_dir() {
            eprintln!("skipped: {} is absent", dir.display());
            return;
        }
        let mut styles = Vec::new();
        let mut tests = Vec::new();
        for (name, pattern) in [("Chorale", "bach-*"), ("Fiddle", "oneills1850-*")] {
            let mut corpus = load_corpus_matching(&dir, &[pattern.to_string()], |_, _| {}).unwrap();
            corpus.files.truncate(60);
            assert_eq!(corpus.files.len(), 60, "{pattern}");
            let (train_files, test_files) = corpus.files.split_at(40);
            let cfg = ModelConfig::default();
            let mut m = TrainedModel::untrained(cfg.clone());
            m.ltm = Arc::new(train(
                cfg,
                train_files.iter().flat_map(|f| f.sequences.iter()),
            ));
            styles.push((name.to_string(), Arc::new(m)));
            for f in test_files {
                let mut seq = f.sequences[0].clone();
                seq.events.truncate(32);
                tests.push((name, seq));
            }
        }
        let right = tests
            .iter()
            .filter(|(name, seq)| rank(&styles, seq)[0].style == *name)
            .count();
        assert!(right >= 32, "{right} of {} recognised", tests.len());
    }

    #[test]
    fn bundled_styles_are_found_by_name_or_id() {
        assert_eq!(bundled("airs").map(|b| b.name), Some("Airs"));
        assert_eq!(bundled(" Fiddle ").map(|b| b.id), Some("fiddle"));
        assert!(bundled("My style").is_none());
        assert_eq!(BUNDLED[0].name, BLEND);
    }

    #[test]
    fn user_styles_load_by_name_and_broken_files_are_reported() {
        let dir = std::env::temp_dir().join(format!("continuo-user-styles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(load_user_styles(&dir, &|| false).0.is_empty(), "no folder");
        assert!(load_user_style(&dir, "Mine").is_err());
        std::fs::create_dir_all(&dir).unwrap();
        let (_, mine) = tiny("Mine", &[60, 64, 67], 8);
        mine.save(dir.join("mine.json.gz")).unwrap();
        let (_, airs) = tiny("Airs", &[60, 64, 67], 8);
        airs.save(dir.join("clash.json")).unwrap();
        std::fs::write(dir.join("broken.json.gz"), b"\x1f\x8b garbage").unwrap();
        let newer = String::from_utf8(mine.to_bytes(false).unwrap())
            .unwrap()
            .replacen("\"version\":1", "\"version\":99", 1);
        std::fs::write(dir.join("newer.json"), newer).unwrap();
        std::fs::write(dir.join("notes.txt"), b"not a style").unwrap();
        let (styles, problems) = load_user_styles(&dir, &|| false);
        let names: Vec<&str> = styles.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Airs (mine)", "Mine"]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems.iter().any(|(_, e)| e.contains("newer")),
            "{problems:?}"
        );
        assert_eq!(load_user_style(&dir, "mine").unwrap().name, "Mine");
        let e = load_user_style(&dir, "Other").err().unwrap();
        assert!(e.contains("no style \"Other\""), "{e}");
        assert!(e.contains("unreadable"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Choosing a style reads its own file only: one whose name reads but whose counts are
    /// broken is named as unreadable (not "no such style"), and the other styles still load.
    #[test]
    fn a_style_is_loaded_from_its_own_file_and_a_broken_one_is_named() {
        let dir = temp_dir("own-file");
        std::fs::create_dir_all(&dir).unwrap();
        let (_, mine) = tiny("Mine", &[60, 64, 67], 8);
        mine.save(dir.join("mine.json.gz")).unwrap();
        let (_, big) = tiny("Big", &[62, 65, 69], 8);
        let json = String::from_utf8(big.to_bytes(false).unwrap()).unwrap();
        let at = json.rfind("\"max_order\":").unwrap() + "\"max_order\":".len();
        let broken = format!(
            "{}99{}",
            &json[..at],
            &json[at..].trim_start_matches(char::is_numeric)
        );
        std::fs::write(dir.join("big.json"), broken).unwrap();
        assert_eq!(list_user_styles(&dir).0.len(), 2, "both names read");
        let e = load_user_style(&dir, "big").err().unwrap();
        assert!(e.contains("style \"Big\" is unreadable"), "{e}");
        assert_eq!(load_user_style(&dir, "MINE").unwrap().name, "Mine");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn temp_dir(what: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "continuo-style-files-{what}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|e| {
                e.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn model_of(tune: &[u8]) -> TrainedModel {
        (*tiny_style("", tune, 8)).clone()
    }

    #[test]
    fn file_stems_are_plain() {
        assert_eq!(file_stem("My Reels!"), "my-reels");
        assert_eq!(file_stem("  --  "), "style");
        assert_eq!(file_stem("Été à Paris"), "été-à-paris");
        assert!(file_stem(&"x".repeat(200)).len() <= 40);
        assert!(matches!(check_name("  "), Err(StyleFileError::NoName)));
        assert!(matches!(
            check_name("airs"),
            Err(StyleFileError::BundledName(_))
        ));
        assert!(matches!(
            check_name(&"x".repeat(61)),
            Err(StyleFileError::NameTooLong)
        ));
        assert_eq!(check_name(" Mine\n").unwrap(), "Mine");
    }

    /// A new style never replaces a file: a name taken by another style is refused, and a file
    /// of the same file name (even a broken one the user may want back) gets a new file name.
    #[test]
    fn saving_a_new_style_never_overwrites_a_file() {
        let dir = temp_dir("save");
        let (path, saved) = save_new_user_style(&dir, "My Reels", model_of(&[60, 62, 64])).unwrap();
        assert_eq!(path, dir.join("my-reels.json.gz"));
        assert_eq!(saved.meta.name, "My Reels");
        let before = std::fs::read(&path).unwrap();
        let e = save_new_user_style(&dir, "my reels", model_of(&[70, 72])).unwrap_err();
        assert!(matches!(e, StyleFileError::NameTaken(_)), "{e}");
        assert!(e.to_string().contains("already have"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "untouched");
        // A corrupt file whose file name the next style would take.
        std::fs::write(dir.join("jigs.json.gz"), b"\x1f\x8b truncated").unwrap();
        let (jigs, _) = save_new_user_style(&dir, "Jigs", model_of(&[67, 69])).unwrap();
        assert_eq!(jigs, dir.join("jigs-2.json.gz"));
        assert_eq!(
            std::fs::read(dir.join("jigs.json.gz")).unwrap(),
            b"\x1f\x8b truncated"
        );
        assert!(matches!(
            save_new_user_style(&dir, "Fiddle", model_of(&[60])),
            Err(StyleFileError::BundledName(_))
        ));
        assert_eq!(
            files_in(&dir),
            ["jigs-2.json.gz", "jigs.json.gz", "my-reels.json.gz"],
            "no temporary file left"
        );
        let (listed, problems) = list_user_styles(&dir);
        let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Jigs", "My Reels"]);
        assert_eq!(problems.len(), 1, "the corrupt file is reported");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn styles_are_renamed_and_deleted_by_name() {
        let dir = temp_dir("rename");
        let (old, saved) = save_new_user_style(&dir, "Reels", model_of(&[60, 62, 64])).unwrap();
        save_new_user_style(&dir, "Jigs", model_of(&[67, 69])).unwrap();
        let e = rename_user_style(&dir, "Reels", "jigs").unwrap_err();
        assert!(matches!(e, StyleFileError::NameTaken(_)), "{e}");
        assert!(old.exists(), "a refused rename changes nothing");
        assert!(matches!(
            rename_user_style(&dir, "Nothing", "Else"),
            Err(StyleFileError::NotFound(_))
        ));
        let (new, renamed) = rename_user_style(&dir, "reels", "Night Reels").unwrap();
        assert_eq!(new, dir.join("night-reels.json.gz"));
        assert!(!old.exists());
        assert_eq!(renamed.meta.name, "Night Reels");
        let back = load_user_style(&dir, "Night Reels").unwrap();
        assert_eq!(
            back.model.to_bytes(false).unwrap().len(),
            saved.to_bytes(false).unwrap().len() + "Night ".len(),
            "the same counts under the new name"
        );
        // Only the case changes: the same file.
        let (same, _) = rename_user_style(&dir, "Night Reels", "night reels").unwrap();
        assert_eq!(same, new);
        assert_eq!(delete_user_style(&dir, "Night reels").unwrap(), new);
        assert!(matches!(
            delete_user_style(&dir, "Night reels"),
            Err(StyleFileError::NotFound(_))
        ));
        assert_eq!(files_in(&dir), ["jigs.json.gz"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// "Keep what it learnt from me": the session's notes become a style, or are added to one.
    #[test]
    fn a_session_is_kept_as_a_style_or_merged_into_one() {
        let dir = temp_dir("session");
        let notes = Note::eighths(&[60, 62, 64, 65, 67, 65, 64, 62, 60, 62, 64, 62], 90);
        let melody = sequence_of(&notes, None);
        let model = style_from_notes(ModelConfig::default(), &melody);
        assert_eq!(model.meta.train_notes, 12);
        let (path, _) = save_new_user_style(&dir, "Mine", model).unwrap();
        let up = sequence_of(&Note::eighths(&[60, 62, 64, 65, 67, 69, 71, 72], 90), None);
        let before = score(
            &load_user_style(&dir, "Mine").unwrap().model,
            &up,
            Scoring::Viewpoints,
        )
        .unwrap();
        let more = sequence_of(&Note::eighths(&[60, 62, 64, 65, 67, 69, 71, 72], 90), None);
        let (merged_path, merged) = merge_into_user_style(&dir, "mine", &more).unwrap();
        assert_eq!(merged_path, path, "merged in place");
        assert_eq!(merged.meta.train_notes, 20);
        assert!(merged.meta.provenance.contains("8 notes of a session"));
        let back = load_user_style(&dir, "Mine").unwrap().model;
        assert_eq!(back.meta.train_melodies, 2);
        let after = score(&back, &up, Scoring::Viewpoints).unwrap();
        assert!(
            after < before,
            "the merged notes are known now: {after} < {before}"
        );
        assert!(matches!(
            merge_into_user_style(&dir, "Other", &more),
            Err(StyleFileError::NotFound(_))
        ));
        assert_eq!(files_in(&dir), ["mine.json.gz"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
