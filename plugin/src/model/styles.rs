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
use super::predictor::MultiViewpoint;
use super::train::Sequence;
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
    pub name: String,
    pub path: PathBuf,
    pub model: TrainedModel,
}

/// The name a user style file goes by: its stored name, else the file name without extensions.
/// A name that is a bundled style's gets " (mine)" added, so both can be chosen.
fn user_style_name(model: &TrainedModel, path: &Path) -> String {
    let stored = model.meta.name.trim();
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

/// Whether a path looks like a model file (`*.json` or `*.json.gz`).
fn is_style_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    path.is_file() && (name.ends_with(".json.gz") || name.ends_with(".json"))
}

/// Every style file in `dir`, loaded, sorted by name; the files that could not be loaded are
/// listed with the reason ("newer version", "not valid gzip"…). A missing folder is no style
/// and no problem. `stop` is checked between files (cancel).
pub fn load_user_styles(
    dir: &Path,
    stop: &dyn Fn() -> bool,
) -> (Vec<UserStyle>, Vec<(PathBuf, String)>) {
    let (mut styles, mut problems) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (styles, problems);
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_style_file(p))
        .collect();
    paths.sort();
    for path in paths {
        if stop() {
            break;
        }
        match TrainedModel::load(&path) {
            Ok(model) => {
                let mut name = user_style_name(&model, &path);
                while styles.iter().any(|s: &UserStyle| s.name == name) {
                    name.push('\'');
                }
                styles.push(UserStyle { name, path, model });
            }
            Err(e) => problems.push((path, e.to_string())),
        }
    }
    styles.sort_by_key(|s| s.name.to_lowercase());
    (styles, problems)
}

/// Loads the user style called `name` from `dir`.
pub fn load_user_style(dir: &Path, name: &str) -> Result<UserStyle, String> {
    if !dir.is_dir() {
        return Err(format!(
            "no style \"{name}\": the styles folder {} does not exist",
            dir.display()
        ));
    }
    let (styles, problems) = load_user_styles(dir, &|| false);
    if let Some(s) = styles
        .into_iter()
        .find(|s| s.name.eq_ignore_ascii_case(name.trim()))
    {
        return Ok(s);
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

/// One style's fit to some notes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StyleScore {
    pub style: String,
    /// Mean -log2 p(pitch) - log2 p(rhythm) per note under the style's long-term model.
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

/// Bits per note of `seq` under `model`'s long-term part alone (the short-term part would learn
/// the same notes under every style and blur the difference). `None` for an empty sequence.
pub fn score(model: &TrainedModel, seq: &Sequence) -> Option<f64> {
    score_weighted(model, seq, 1.0)
}

/// [`score`] with the rhythm's bits weighted by `rhythm_weight` (1: pitch + rhythm; 0: pitch
/// only), for `continuo eval-styles --rhythm-weight`.
pub fn score_weighted(model: &TrainedModel, seq: &Sequence, rhythm_weight: f64) -> Option<f64> {
    if seq.events.is_empty() {
        return None;
    }
    let mut p = MultiViewpoint::new("style", model.ltm.clone(), false);
    let s = evaluate(&mut p, [seq]);
    Some(s.pitch_bits + rhythm_weight * s.rhythm_bits)
}

/// Every style's score of `seq`, best (fewest bits) first; ties keep the given order.
pub fn rank(styles: &[(String, Arc<TrainedModel>)], seq: &Sequence) -> Vec<StyleScore> {
    rank_weighted(styles, seq, 1.0)
}

/// [`rank`] by [`score_weighted`].
pub fn rank_weighted(
    styles: &[(String, Arc<TrainedModel>)],
    seq: &Sequence,
    rhythm_weight: f64,
) -> Vec<StyleScore> {
    let mut out: Vec<StyleScore> = styles
        .iter()
        .filter_map(|(name, m)| {
            score_weighted(m, seq, rhythm_weight).map(|bits| StyleScore {
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
    /// 10 other files of each apart from their first 32 notes far better than chance.
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
            corpus.files.truncate(50);
            assert_eq!(corpus.files.len(), 50, "{pattern}");
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
        assert!(right >= 16, "{right} of {} recognised", tests.len());
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
}
