//! Preset files: factory presets embedded in the binary, user presets in a per-user folder.
//!
//! A preset is JSON: `{"version": 1, "name": …, "description": …, "params": {id: value}}`. Values
//! are keyed by the parameters' stable ids; numbers are plain values (e.g. `"gap": 2.0` beats),
//! booleans are booleans and choices are the names the host shows (`"mode": "Call & response"`).
//! Any parameter a file leaves out takes its default, so older files load; unknown ids (from a
//! newer version) are reported and ignored. A preset is validated completely before anything is
//! applied: a broken file changes nothing.

use crate::params::ContinuoParams;
use nice_plug::plugin::ParamValue;
use nice_plug::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The format version this build writes.
pub const PRESET_VERSION: u32 = 1;
/// Larger files are refused unread.
pub const MAX_PRESET_BYTES: u64 = 256 * 1024;
/// Parameters a preset never touches: the host's bypass, the Play trigger, and the tuning of
/// the player's instrument (*Concert pitch*, *Follow tuning*: it belongs to the instrument, not
/// to a way of answering; loading a preset must not retune the analysis).
const NOT_IN_PRESETS: &[&str] = &["bypass", "play", "concert-pitch", "follow-tuning"];

/// The factory presets, embedded so the bundles are self-contained.
pub const FACTORY: &[(&str, &str)] = &[
    ("chorale.json", include_str!("../../presets/chorale.json")),
    (
        "fiddle-reel.json",
        include_str!("../../presets/fiddle-reel.json"),
    ),
    (
        "sparse-call-response.json",
        include_str!("../../presets/sparse-call-response.json"),
    ),
    ("wild.json", include_str!("../../presets/wild.json")),
    (
        "minor-pentatonic-lock.json",
        include_str!("../../presets/minor-pentatonic-lock.json"),
    ),
    (
        "keyboard-duet.json",
        include_str!("../../presets/keyboard-duet.json"),
    ),
    (
        "suggest-only.json",
        include_str!("../../presets/suggest-only.json"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the file is {0} bytes; presets are at most {MAX_PRESET_BYTES} bytes")]
    TooLarge(u64),
    #[error("the file is empty")]
    Empty,
    #[error("not a valid preset (line {line}, column {column}): {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("a preset named \"{0}\" already exists")]
    Exists(String),
    #[error("\"{0}\" is a factory preset and cannot be changed; use Save as")]
    Factory(String),
    #[error("no preset named \"{0}\"")]
    NotFound(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preset {
    /// 0 when the file has none (then it is not ours).
    #[serde(default = "no_version")]
    pub version: u32,
    pub name: String,
    pub description: String,
    pub params: BTreeMap<String, serde_json::Value>,
}

impl Default for Preset {
    fn default() -> Self {
        Self {
            version: PRESET_VERSION,
            name: String::new(),
            description: String::new(),
            params: BTreeMap::new(),
        }
    }
}

/// A validated preset: what to set (parameter, normalised value) and notes for the user.
pub struct Resolved {
    pub changes: Vec<(ParamPtr, f32)>,
    pub notices: Vec<String>,
    /// The user style the preset names (set with the *Style* parameter's "My style").
    pub user_style: Option<String>,
}

impl Resolved {
    /// Sets every parameter and field straight on `params`, the parameters it was resolved
    /// against, with no host in between (offline use, the VST3 host state, tests).
    pub fn apply_offline(&self, params: &ContinuoParams) {
        for (ptr, value) in &self.changes {
            // SAFETY: the pointers come from `params`, borrowed for this call.
            unsafe { ptr._internal_set_normalized_value(*value) };
        }
        self.set_fields(params);
    }

    /// Sets the persisted fields the preset carries besides parameters (the user style's name).
    pub fn set_fields(&self, params: &ContinuoParams) {
        if let Some(name) = &self.user_style {
            *params.user_style.write() = name.clone();
        }
    }
}

/// The parameter that chooses the style: stored by name (a bundled style's id, or the name of
/// one of the user's own styles).
const STYLE: &str = "style";

/// A preset's style value that is not a bundled style: the user style of that name when it
/// exists (`Some(name)`), else `None` (then the preset loads with Blend and a notice).
fn user_style_named(name: &str) -> Option<String> {
    crate::model::styles::load_user_style(&crate::model::styles::user_dir(), name)
        .ok()
        .map(|s| s.name)
}

impl Preset {
    /// Parses a preset from bytes (the size is checked by the caller for files).
    pub fn parse(bytes: &[u8]) -> Result<Self, PresetError> {
        if bytes.len() as u64 > MAX_PRESET_BYTES {
            return Err(PresetError::TooLarge(bytes.len() as u64));
        }
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(PresetError::Empty);
        }
        let preset: Preset = serde_json::from_slice(bytes).map_err(|e| PresetError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if preset.version == 0 {
            return Err(PresetError::Invalid(
                "the file has no \"version\": is it a Continuo preset?".into(),
            ));
        }
        Ok(preset)
    }

    /// Reads a preset file, with a clear error for every way it can be broken.
    pub fn read(path: &Path) -> Result<Self, PresetError> {
        let io = |source| PresetError::Io {
            path: path.display().to_string(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_PRESET_BYTES {
            return Err(PresetError::TooLarge(len));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let mut preset = Self::parse(&bytes)?;
        if preset.name.trim().is_empty() {
            preset.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
        }
        Ok(preset)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The current parameter values as a preset.
    pub fn capture(name: &str, description: &str, params: &ContinuoParams) -> Self {
        let mut values = BTreeMap::new();
        for (id, ptr, _) in params.param_map() {
            if NOT_IN_PRESETS.contains(&id.as_str()) {
                continue;
            }
            // SAFETY: the pointers come from `params`, which outlives this call.
            let value = unsafe {
                match ptr {
                    ParamPtr::FloatParam(p) => serde_json::json!(round4((*p).value())),
                    ParamPtr::IntParam(p) => serde_json::json!((*p).value()),
                    ParamPtr::BoolParam(p) => serde_json::json!((*p).value()),
                    // A choice by its stable id (a renamed label keeps old presets valid).
                    ParamPtr::EnumParam(_)
                        if id == STYLE
                            && params.model.style.value() == crate::params::StyleParam::User =>
                    {
                        // A user style by its name (the id "user" alone would not say which).
                        serde_json::json!(params.user_style.read().clone())
                    }
                    ParamPtr::EnumParam(p) => match (*p).unmodulated_plain_id() {
                        Some(value_id) => serde_json::json!(value_id),
                        None => serde_json::json!(ptr
                            .normalized_value_to_string(ptr.unmodulated_normalized_value(), false)),
                    },
                }
            };
            values.insert(id, value);
        }
        Preset {
            version: PRESET_VERSION,
            name: name.to_string(),
            description: description.to_string(),
            params: values,
        }
    }

    /// Checks every value against the parameters; returns what to set, or why nothing can be.
    pub fn resolve(&self, params: &ContinuoParams) -> Result<Resolved, PresetError> {
        let mut notices = Vec::new();
        if self.version > PRESET_VERSION {
            notices.push(format!(
                "made by a newer Continuo (format {}); settings this version does not know are ignored",
                self.version
            ));
        }
        let map = params.param_map();
        let mut errors = Vec::new();
        let mut changes = Vec::new();
        let mut user_style = None;
        for (id, ptr, _) in &map {
            if NOT_IN_PRESETS.contains(&id.as_str()) {
                continue;
            }
            if id == STYLE {
                if let Some(text) = self.params.get(id).and_then(|v| v.as_str()) {
                    // SAFETY: as below.
                    let known = unsafe {
                        choice_by_id(params, id, *ptr, &serde_json::json!(text)).is_some()
                            || ptr.string_to_normalized_value(text).is_some()
                    };
                    if !known {
                        let style = match user_style_named(text) {
                            Some(name) => {
                                user_style = Some(name);
                                crate::params::StyleParam::User
                            }
                            None => {
                                notices.push(format!(
                                    "the style \"{text}\" is not installed; using Blend"
                                ));
                                crate::params::StyleParam::Blend
                            }
                        };
                        changes.push((*ptr, params.model.style.preview_normalized(style)));
                        continue;
                    }
                }
            }
            // SAFETY: as above.
            let normalized = unsafe {
                match self.params.get(id) {
                    // A file from before *Phrase* existed keeps its length in notes.
                    None if id == "phrase-length" && self.params.contains_key("length") => {
                        choice_by_id(params, id, *ptr, &serde_json::json!("notes"))
                            .unwrap_or_else(|| ptr.default_normalized_value())
                    }
                    None => ptr.default_normalized_value(),
                    Some(v) => match choice_by_id(params, id, *ptr, v)
                        .map(Ok)
                        .unwrap_or_else(|| normalized_for(*ptr, v))
                    {
                        Ok(n) => n,
                        Err(e) => {
                            errors.push(format!("\"{id}\": {e}"));
                            continue;
                        }
                    },
                }
            };
            changes.push((*ptr, normalized));
        }
        for id in self.params.keys() {
            if !map.iter().any(|(m, _, _)| m == id) {
                notices.push(format!("unknown setting \"{id}\" ignored"));
            }
        }
        if errors.is_empty() {
            Ok(Resolved {
                changes,
                notices,
                user_style,
            })
        } else {
            Err(PresetError::Invalid(format!(
                "invalid values, nothing was changed: {}",
                errors.join("; ")
            )))
        }
    }
}

impl Preset {
    /// Validates, then sets the parameters directly. Only for offline sessions and tests, where no
    /// host owns the parameters; in the plugin the editor goes through the host instead.
    pub fn apply_offline(&self, params: &ContinuoParams) -> Result<Vec<String>, PresetError> {
        let r = self.resolve(params)?;
        r.apply_offline(params);
        Ok(r.notices)
    }
}

impl Preset {
    /// The plugin state a host restores for this preset: what loading it in the preset browser
    /// leaves (every parameter a preset sets, the preset's name, its user style), as nice-plug
    /// saves it (`PluginState`, its JSON is a VST3 component state; `files::vstpreset`).
    /// Parameters presets never touch (bypass, the tuning of the instrument) and the other
    /// persisted fields (a loaded model) are left out, so loading it keeps them.
    pub fn host_state(&self) -> Result<PluginState, PresetError> {
        let params = ContinuoParams::default();
        let resolved = self.resolve(&params)?;
        resolved.apply_offline(&params);
        *params.preset_name.write() = self.name.clone();
        let mut values = BTreeMap::new();
        for (id, ptr, _) in params.param_map() {
            if !resolved.changes.iter().any(|(p, _)| *p == ptr) {
                continue;
            }
            // SAFETY: the pointers come from `params`, which outlives this loop.
            let value = unsafe {
                match ptr {
                    ParamPtr::FloatParam(p) => ParamValue::F32((*p).unmodulated_plain_value()),
                    ParamPtr::IntParam(p) => ParamValue::I32((*p).unmodulated_plain_value()),
                    ParamPtr::BoolParam(p) => ParamValue::Bool((*p).unmodulated_plain_value()),
                    ParamPtr::EnumParam(p) => match (*p).unmodulated_plain_id() {
                        Some(value_id) => ParamValue::String(value_id.to_owned()),
                        None => ParamValue::I32((*p).unmodulated_plain_value()),
                    },
                }
            };
            values.insert(id, value);
        }
        let mut fields = params.serialize_fields();
        let mut kept = vec!["preset-name"];
        if resolved.user_style.is_some() {
            kept.push("user-style");
        }
        fields.retain(|k, _| kept.contains(&k.as_str()));
        Ok(PluginState {
            version: <crate::Continuo as Plugin>::VERSION.to_string(),
            params: values,
            fields,
        })
    }
}

/// Sets one parameter from a preset-style value (`"mode": "suggest"`, `"gap": 2.0`), directly.
/// Only for offline sessions and tests, where no host owns the parameters.
pub fn set_offline(
    params: &ContinuoParams,
    id: &str,
    value: serde_json::Value,
) -> Result<(), String> {
    let map = params.param_map();
    let (_, ptr, _) = map
        .iter()
        .find(|(m, _, _)| m == id)
        .ok_or_else(|| format!("no parameter \"{id}\""))?;
    // SAFETY: the pointers come from `params`, borrowed for this call.
    unsafe {
        let normalized = match choice_by_id(params, id, *ptr, &value) {
            Some(n) => n,
            None => normalized_for(*ptr, &value)?,
        };
        ptr._internal_set_normalized_value(normalized);
    }
    Ok(())
}

fn no_version() -> u32 {
    0
}

fn round4(x: f32) -> f64 {
    (x as f64 * 10_000.0).round() / 10_000.0
}

/// A choice stored by its stable value id (what presets write), as a normalised value; `None`
/// when `id` is not a choice or the text is not one of its ids (it may be a display name, which
/// older presets stored).
unsafe fn choice_by_id(
    params: &ContinuoParams,
    id: &str,
    ptr: ParamPtr,
    v: &serde_json::Value,
) -> Option<f32> {
    let text = v.as_str()?.trim();
    let (_, ids) = params
        .choice_ids()
        .into_iter()
        .chain(params.harmony_choice_ids())
        .find(|(p, _)| *p == id)?;
    let index = ids.iter().position(|i| *i == text)?;
    Some(ptr.preview_normalized(index as f32))
}

/// The normalised value a JSON value means for one parameter.
unsafe fn normalized_for(ptr: ParamPtr, v: &serde_json::Value) -> Result<f32, String> {
    use serde_json::Value;
    let clamp_note = |plain: f64, lo: f32, hi: f32| -> Result<f32, String> {
        if !plain.is_finite() {
            return Err("not a finite number".into());
        }
        Ok((plain as f32).clamp(lo, hi))
    };
    match (ptr, v) {
        (ParamPtr::BoolParam(_), Value::Bool(b)) => Ok(if *b { 1.0 } else { 0.0 }),
        (ParamPtr::FloatParam(_) | ParamPtr::IntParam(_), Value::Number(n)) => {
            let plain = n.as_f64().ok_or("not a number")?;
            let lo = ptr.preview_plain(0.0);
            let hi = ptr.preview_plain(1.0);
            let plain = clamp_note(plain, lo.min(hi), lo.max(hi))?;
            Ok(ptr.preview_normalized(plain))
        }
        (_, Value::String(s)) => ptr
            .string_to_normalized_value(s)
            .ok_or_else(|| format!("\"{s}\" is not a valid value for {}", ptr.name())),
        (ParamPtr::BoolParam(_), _) => Err("expected true or false".into()),
        (ParamPtr::EnumParam(_), _) => Err("expected one of the choice names, as text".into()),
        _ => Err("expected a number".into()),
    }
}

/// Where this user's presets live (`CONTINUO_PRESET_DIR` overrides it).
pub fn user_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CONTINUO_PRESET_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if cfg!(target_os = "macos") {
        if let Some(h) = home {
            return h.join("Library/Application Support/Continuo/Presets");
        }
    } else if cfg!(target_os = "windows") {
        if let Some(a) = std::env::var_os("APPDATA") {
            return PathBuf::from(a).join("Continuo").join("Presets");
        }
    } else {
        if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("continuo").join("presets");
        }
        if let Some(h) = home {
            return h.join(".config/continuo/presets");
        }
    }
    std::env::temp_dir().join("continuo-presets")
}

/// The per-user VST3 preset folder of this plugin, where the VST3 specification places it and
/// hosts look (under the plugin's vendor and name); `None` without a home folder.
pub fn vst3_user_dir() -> Option<PathBuf> {
    let home = std::env::var_os(if cfg!(windows) { "USERPROFILE" } else { "HOME" })
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)?;
    let base = if cfg!(target_os = "macos") {
        home.join("Library/Audio/Presets")
    } else if cfg!(windows) {
        home.join("Documents").join("VST3 Presets")
    } else {
        home.join(".vst3").join("presets")
    };
    Some(
        base.join(crate::Continuo::VENDOR)
            .join(crate::Continuo::NAME),
    )
}

/// Where the factory presets are written as files for a CLAP host's preset browser
/// (`CONTINUO_FACTORY_PRESET_DIR` overrides it): the per-user data folder
/// (`~/.local/share/continuo/factory-presets` on Linux); `None` without a home folder.
pub fn factory_copy_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CONTINUO_FACTORY_PRESET_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    if cfg!(target_os = "macos") {
        home.map(|h| h.join("Library/Application Support/Continuo/Factory Presets"))
    } else if cfg!(target_os = "windows") {
        std::env::var_os("APPDATA")
            .filter(|a| !a.is_empty())
            .map(|a| PathBuf::from(a).join("Continuo").join("Factory Presets"))
    } else if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        Some(PathBuf::from(x).join("continuo").join("factory-presets"))
    } else {
        home.map(|h| h.join(".local/share/continuo/factory-presets"))
    }
}

/// A preset's name as a file name on every system (hosts show the file's name; they skip
/// hidden files, so no leading dot).
fn vst3_file_name(name: &str) -> String {
    let file: String = name
        .trim()
        .trim_start_matches('.')
        .chars()
        .map(|c| {
            if "/\\:*?\"<>|".contains(c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if file.is_empty() {
        "preset".into()
    } else {
        file
    }
}

/// Where a preset comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Factory,
    User(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub description: String,
    pub origin: Origin,
}

/// Factory presets plus the user's folder.
pub struct Library {
    pub dir: PathBuf,
}

impl Library {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn factory() -> Vec<Preset> {
        FACTORY
            .iter()
            .filter_map(|(_, json)| Preset::parse(json.as_bytes()).ok())
            .collect()
    }

    /// Writes the factory presets (with `factory`; VST3 hosts that read program lists list them
    /// already) and this user's (with `user`) as VST3 preset files into `dir` (see
    /// `files/vstpreset.rs`), where VST3 hosts list them in the plugin's preset menu. Returns
    /// the files written and the user files that could not be read (left out).
    pub fn export_vst3(
        &self,
        dir: &Path,
        factory: bool,
        user: bool,
    ) -> Result<(Vec<PathBuf>, Vec<String>), PresetError> {
        let mut presets = if factory { Self::factory() } else { Vec::new() };
        let mut problems = Vec::new();
        if user {
            let (entries, unreadable) = self.list();
            problems = unreadable;
            for e in entries {
                if matches!(e.origin, Origin::User(_)) {
                    match self.load(&e.name) {
                        Ok(p) => presets.push(p),
                        Err(err) => problems.push(format!("{}: {err}", e.name)),
                    }
                }
            }
        }
        let mut written = Vec::new();
        for p in &presets {
            // A user preset whose values no longer fit is left out, like an unreadable file.
            let state = p.host_state().and_then(|s| {
                serde_json::to_vec(&s).map_err(|e| PresetError::Invalid(e.to_string()))
            });
            let state = match state {
                Ok(state) => state,
                Err(e) => {
                    problems.push(format!("{}: {e}", p.name));
                    continue;
                }
            };
            let file = dir.join(format!("{}.vstpreset", vst3_file_name(&p.name)));
            let bytes = crate::files::vstpreset::encode(
                &<crate::Continuo as Vst3Plugin>::VST3_CLASS_ID,
                &state,
            );
            // As user presets are saved: a host scanning the folder never reads half a file.
            write_atomic(&file, &bytes)?;
            written.push(file);
        }
        Ok((written, problems))
    }

    /// All presets, factory first; unreadable user files are listed in the second value.
    pub fn list(&self) -> (Vec<Entry>, Vec<String>) {
        let mut entries: Vec<Entry> = Self::factory()
            .into_iter()
            .map(|p| Entry {
                name: p.name,
                description: p.description,
                origin: Origin::Factory,
            })
            .collect();
        let mut problems = Vec::new();
        let mut user = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let path = e.path();
                if path.extension().and_then(|x| x.to_str()) != Some("json") {
                    continue;
                }
                match Preset::read(&path) {
                    Ok(p) => user.push(Entry {
                        name: p.name,
                        description: p.description,
                        origin: Origin::User(path),
                    }),
                    Err(err) => problems.push(format!("{}: {err}", path.display())),
                }
            }
        }
        user.sort_by_key(|a| a.name.to_lowercase());
        entries.extend(user);
        (entries, problems)
    }

    pub fn find(&self, name: &str) -> Option<Entry> {
        self.list()
            .0
            .into_iter()
            .find(|e| e.name.eq_ignore_ascii_case(name.trim()))
    }

    pub fn load(&self, name: &str) -> Result<Preset, PresetError> {
        match self.find(name) {
            None => Err(PresetError::NotFound(name.to_string())),
            Some(Entry {
                origin: Origin::Factory,
                name,
                ..
            }) => Self::factory()
                .into_iter()
                .find(|p| p.name == name)
                .ok_or(PresetError::NotFound(name)),
            Some(Entry {
                origin: Origin::User(path),
                ..
            }) => Preset::read(&path),
        }
    }

    fn path_for(&self, name: &str) -> PathBuf {
        let mut file: String = name
            .trim()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        file = file.trim().replace(' ', "-").to_lowercase();
        if file.is_empty() {
            file = "preset".into();
        }
        self.dir.join(format!("{file}.json"))
    }

    fn check_name(name: &str) -> Result<(), PresetError> {
        if name.trim().is_empty() {
            return Err(PresetError::Invalid("a preset needs a name".into()));
        }
        if name.len() > 100 {
            return Err(PresetError::Invalid(
                "preset names are at most 100 characters".into(),
            ));
        }
        Ok(())
    }

    /// Saves a user preset. `overwrite`: replace a user preset of the same name ("Save"); without
    /// it an existing name is an error ("Save as"). Factory presets are never overwritten.
    pub fn save(&self, preset: &Preset, overwrite: bool) -> Result<PathBuf, PresetError> {
        Self::check_name(&preset.name)?;
        let existing = self.find(&preset.name);
        match &existing {
            Some(Entry {
                origin: Origin::Factory,
                ..
            }) => return Err(PresetError::Factory(preset.name.clone())),
            Some(_) if !overwrite => return Err(PresetError::Exists(preset.name.clone())),
            _ => {}
        }
        let path = match existing {
            Some(Entry {
                origin: Origin::User(p),
                ..
            }) => p,
            _ => self.path_for(&preset.name),
        };
        write_atomic(&path, preset.to_json().as_bytes())?;
        Ok(path)
    }

    pub fn rename(&self, from: &str, to: &str) -> Result<PathBuf, PresetError> {
        Self::check_name(to)?;
        let Some(entry) = self.find(from) else {
            return Err(PresetError::NotFound(from.into()));
        };
        let Origin::User(old_path) = entry.origin else {
            return Err(PresetError::Factory(from.into()));
        };
        if !from.eq_ignore_ascii_case(to) && self.find(to).is_some() {
            return Err(PresetError::Exists(to.into()));
        }
        let mut preset = Preset::read(&old_path)?;
        preset.name = to.trim().to_string();
        let new_path = self.path_for(to);
        write_atomic(&new_path, preset.to_json().as_bytes())?;
        if new_path != old_path {
            std::fs::remove_file(&old_path).map_err(|source| PresetError::Io {
                path: old_path.display().to_string(),
                source,
            })?;
        }
        Ok(new_path)
    }

    pub fn delete(&self, name: &str) -> Result<(), PresetError> {
        let Some(entry) = self.find(name) else {
            return Err(PresetError::NotFound(name.into()));
        };
        let Origin::User(path) = entry.origin else {
            return Err(PresetError::Factory(name.into()));
        };
        std::fs::remove_file(&path).map_err(|source| PresetError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

/// The presets a CLAP host's own preset browser lists (CLAP preset discovery, through the
/// framework's provider: `vendor/nice-plug/src/wrapper/clap/presets.rs`), and what loading one
/// restores: [`Preset::host_state`], what loading a `.vstpreset` restores in a VST3 host.
///
/// The factory presets are offered as files, one preset each, in [`factory_copy_dir`] (written
/// there, from the copies embedded in the plugin, when a host asks), like the user's folder. The
/// alternative, one location inside the plugin holding all seven under load keys, is what CLAP
/// designed for this, and it stays as the fallback when that folder cannot be written; but
/// clap-validator 0.4.1 deadlocks on any location declaring two presets (its metadata receiver
/// locks its result twice in `begin_preset`), and hosts list files just as well.
pub mod host_browser {
    use super::*;
    use nice_plug::wrapper::clap::presets::{
        ClapPresetFileType, ClapPresetInfo, ClapPresetLocation, PresetLocation,
    };

    /// The extension of preset files.
    const EXTENSION: &str = "json";

    /// The factory presets (their folder, or inside the plugin when it cannot be written), and
    /// the user's folder when it exists (a host walking a missing folder reports an error).
    pub fn locations(user_dir: &Path, factory_dir: Option<&Path>) -> Vec<ClapPresetLocation> {
        let factory_files = factory_dir.filter(|dir| write_factory_copies(dir).is_ok());
        let mut locations = vec![ClapPresetLocation {
            name: "Continuo factory presets".into(),
            path: factory_files.map(Path::to_path_buf),
            factory: true,
        }];
        if user_dir.is_dir() {
            locations.push(ClapPresetLocation {
                name: "Continuo user presets".into(),
                path: Some(user_dir.to_path_buf()),
                factory: false,
            });
        }
        locations
    }

    /// Writes each factory preset as `<dir>/<file>` unless it is there already, byte for byte
    /// (an edited or damaged copy is put back).
    pub fn write_factory_copies(dir: &Path) -> Result<(), PresetError> {
        for (file, json) in FACTORY {
            let path = dir.join(file);
            if std::fs::read(&path).ok().as_deref() != Some(json.as_bytes()) {
                write_atomic(&path, json.as_bytes())?;
            }
        }
        Ok(())
    }

    pub fn file_types() -> Vec<ClapPresetFileType> {
        vec![ClapPresetFileType {
            name: "Continuo preset".into(),
            description: Some("A Continuo preset (JSON), as its preset browser saves it".into()),
            extension: EXTENSION.into(),
        }]
    }

    /// A factory preset's load key: its file's stem.
    fn key_of(file: &str) -> &str {
        file.strip_suffix(EXTENSION)
            .and_then(|f| f.strip_suffix('.'))
            .unwrap_or(file)
    }

    fn parse_factory(json: &str) -> Result<Preset, String> {
        Preset::parse(json.as_bytes()).map_err(|e| e.to_string())
    }

    fn factory_by_key(key: &str) -> Result<Preset, String> {
        let (_, json) = FACTORY
            .iter()
            .find(|(file, _)| key_of(file) == key)
            .ok_or_else(|| format!("no factory preset \"{key}\""))?;
        parse_factory(json)
    }

    /// A preset file, its errors naming it.
    fn read_file(path: &Path) -> Result<Preset, String> {
        Preset::read(path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// What loading `preset` restores, its errors naming it.
    fn state_of(preset: Preset) -> Result<PluginState, String> {
        preset
            .host_state()
            .map_err(|e| format!("{}: {e}", preset.name))
    }

    fn info(preset: Preset, load_key: Option<String>, factory: bool) -> ClapPresetInfo {
        ClapPresetInfo {
            name: preset.name,
            load_key,
            description: Some(preset.description).filter(|d| !d.is_empty()),
            creators: if factory {
                vec!["Continuo".into()]
            } else {
                Vec::new()
            },
            features: Vec::new(),
            factory,
        }
    }

    /// The presets at a location: every factory preset inside the plugin, or the one a file
    /// holds (factory content when it lies in `factory_dir`). A broken file is an error,
    /// reported to the host.
    pub fn presets_at(
        location: PresetLocation<'_>,
        factory_dir: Option<&Path>,
    ) -> Result<Vec<ClapPresetInfo>, String> {
        match location {
            PresetLocation::Plugin => FACTORY
                .iter()
                .map(|(file, json)| {
                    parse_factory(json).map(|p| info(p, Some(key_of(file).to_string()), true))
                })
                .collect(),
            PresetLocation::File(path) => {
                let preset = read_file(path)?;
                // What loading it will do, checked now: the browser lists only what loads.
                preset
                    .resolve(&ContinuoParams::default())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                // The host may hand the path back resolved (symbolic links, `..`).
                let resolved =
                    |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
                let factory = factory_dir
                    .is_some_and(|dir| path.parent().map(resolved) == Some(resolved(dir)));
                Ok(vec![info(preset, None, factory)])
            }
        }
    }

    /// The factory presets' names, in order: a VST3 host's program list (its preset menu).
    pub fn programs() -> Vec<String> {
        Library::factory().into_iter().map(|p| p.name).collect()
    }

    /// The factory preset (program) a state was last set from, by the preset name it keeps
    /// (Continuo's browser and the hosts' loads set it; a user preset's name is not a program).
    pub fn program_of(state: &PluginState) -> Option<usize> {
        let name: String = serde_json::from_str(state.fields.get("preset-name")?).ok()?;
        Library::factory().iter().position(|p| p.name == name)
    }

    /// The state choosing program `index` restores.
    pub fn program_state(index: usize) -> Result<PluginState, String> {
        let preset = Library::factory()
            .into_iter()
            .nth(index)
            .ok_or_else(|| format!("no factory preset number {index}"))?;
        state_of(preset)
    }

    /// The state loading a preset restores.
    pub fn state(
        location: PresetLocation<'_>,
        load_key: Option<&str>,
    ) -> Result<PluginState, String> {
        let preset = match location {
            PresetLocation::Plugin => {
                factory_by_key(load_key.ok_or("a factory preset needs its load key")?)?
            }
            PresetLocation::File(path) => read_file(path)?,
        };
        state_of(preset)
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a preset.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PresetError> {
    let io = |source| PresetError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ResponseMode;

    fn tmpdir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("continuo-preset-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn every_factory_preset_is_valid_and_applies() {
        assert!(FACTORY.len() >= 5);
        for (file, json) in FACTORY {
            let p = Preset::parse(json.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
            let params = ContinuoParams::default();
            let r = p.resolve(&params).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(r.notices.is_empty(), "{file}: {:?}", r.notices);
            r.apply_offline(&params);
            // Every value the file names ends up in the parameters.
            let back = Preset::capture(&p.name, "", &params);
            for (id, v) in &p.params {
                let got = &back.params[id];
                match (v.as_f64(), got.as_f64()) {
                    (Some(a), Some(b)) => assert!((a - b).abs() < 0.011, "{file} {id}: {a} vs {b}"),
                    _ => assert_eq!(v, got, "{file} {id}"),
                }
            }
        }
    }

    /// Loads a state as nice-plug's `setState` does: every parameter it names from its plain
    /// value (a choice from its stable id), the others left alone.
    fn load_host_state(params: &ContinuoParams, state: &PluginState) {
        for (id, ptr, _) in params.param_map() {
            let Some(value) = state.params.get(&id) else {
                continue;
            };
            let normalized = unsafe {
                match value {
                    ParamValue::F32(v) => ptr.preview_normalized(*v),
                    ParamValue::I32(v) => ptr.preview_normalized(*v as f32),
                    ParamValue::Bool(v) => ptr.preview_normalized(f32::from(u8::from(*v))),
                    ParamValue::String(v) => {
                        choice_by_id(params, &id, ptr, &serde_json::json!(v)).expect("a choice id")
                    }
                }
            };
            unsafe { ptr._internal_set_normalized_value(normalized) };
        }
    }

    #[test]
    fn a_factory_preset_in_a_vst3_preset_file_sets_what_the_browser_sets() {
        let owned: Vec<String> = ContinuoParams::default()
            .param_map()
            .into_iter()
            .map(|(id, _, _)| id)
            .filter(|id| !NOT_IN_PRESETS.contains(&id.as_str()))
            .collect();
        for (file, json) in FACTORY {
            let preset = Preset::parse(json.as_bytes()).unwrap();
            let state = preset
                .host_state()
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            // Through the file format and back, as a host hands it to the plugin.
            let bytes = crate::files::vstpreset::encode(
                b"ContinuoMidiCont",
                &serde_json::to_vec(&state).unwrap(),
            );
            let comp = crate::files::vstpreset::decode(&bytes)
                .unwrap()
                .component_state;
            let state: PluginState = serde_json::from_slice(&comp).unwrap();
            let mut ids: Vec<&String> = state.params.keys().collect();
            ids.sort();
            let mut want: Vec<&String> = owned.iter().collect();
            want.sort();
            assert_eq!(
                ids, want,
                "{file}: the state must name every parameter a preset sets, no other"
            );
            assert_eq!(
                state.fields.keys().collect::<Vec<_>>(),
                vec!["preset-name"],
                "{file}: only the preset's name among the persisted fields"
            );
            assert_eq!(
                state.fields["preset-name"],
                serde_json::to_string(&preset.name).unwrap()
            );
            // A plugin whose every setting was moved away from the defaults ends up where the
            // browser puts a fresh one.
            let by_browser = ContinuoParams::default();
            preset.apply_offline(&by_browser).unwrap();
            let by_host = ContinuoParams::default();
            for (_, ptr, _) in by_host.param_map() {
                unsafe { ptr._internal_set_normalized_value(1.0 - ptr.default_normalized_value()) };
            }
            load_host_state(&by_host, &state);
            let (a, b) = (
                Preset::capture(&preset.name, "", &by_browser),
                Preset::capture(&preset.name, "", &by_host),
            );
            assert_eq!(a.params, b.params, "{file}");
        }
    }

    #[test]
    fn preset_names_become_file_names_hosts_list() {
        assert_eq!(
            vst3_file_name("Sparse Call & Response"),
            "Sparse Call & Response"
        );
        assert_eq!(vst3_file_name("a/b: c?"), "a_b_ c_");
        assert_eq!(vst3_file_name(" .hidden"), "hidden");
        assert_eq!(vst3_file_name("..."), "preset");
    }

    #[test]
    fn a_preset_leaves_the_instruments_tuning_alone() {
        let params = ContinuoParams::default();
        let tuned = params.input.concert_pitch.preview_normalized(432.0);
        let off = params.input.follow_tuning.preview_normalized(false);
        unsafe {
            params
                .input
                .concert_pitch
                .as_ptr()
                ._internal_set_normalized_value(tuned);
            params
                .input
                .follow_tuning
                .as_ptr()
                ._internal_set_normalized_value(off);
        }
        for (file, json) in FACTORY {
            let p = Preset::parse(json.as_bytes()).unwrap();
            p.resolve(&params).unwrap().apply_offline(&params);
            assert!(
                (params.input.concert_pitch.value() - 432.0).abs() < 0.05,
                "{file}"
            );
            assert!(!params.input.follow_tuning.value(), "{file}");
        }
        let saved = Preset::capture("Mine", "", &params);
        assert!(!saved.params.contains_key("concert-pitch"));
        assert!(!saved.params.contains_key("follow-tuning"));
    }

    #[test]
    fn round_trip_and_old_files_take_defaults() {
        let params = ContinuoParams::default();
        let p = Preset::parse(FACTORY[3].1.as_bytes()).unwrap();
        p.resolve(&params).unwrap().apply_offline(&params);
        let saved = Preset::capture("Mine", "d", &params);
        let reparsed = Preset::parse(saved.to_json().as_bytes()).unwrap();
        assert_eq!(saved, reparsed);
        let fresh = ContinuoParams::default();
        reparsed.resolve(&fresh).unwrap().apply_offline(&fresh);
        assert_eq!(Preset::capture("Mine", "d", &fresh), saved);
        // A file from an older version with one setting: everything else returns to default.
        let old =
            Preset::parse(br#"{"version": 1, "name": "Old", "params": {"gap": 3.0}}"#).unwrap();
        old.resolve(&fresh).unwrap().apply_offline(&fresh);
        assert_eq!(fresh.response.gap.value(), 3.0);
        assert_eq!(
            fresh.model.temperature.value(),
            ContinuoParams::default().model.temperature.value()
        );
    }

    /// A file from before *Phrase* existed keeps its answers `length` notes long; a file
    /// without either setting follows the call (the default).
    #[test]
    fn presets_from_before_phrase_keep_their_length_in_notes() {
        use crate::params::PhraseLengthMode;
        let params = ContinuoParams::default();
        let old =
            Preset::parse(br#"{"version": 1, "name": "Old", "params": {"length": 12}}"#).unwrap();
        old.resolve(&params).unwrap().apply_offline(&params);
        assert_eq!(params.model.phrase_length.value(), PhraseLengthMode::Notes);
        assert_eq!(params.model.length.value(), 12);
        let none = Preset::parse(br#"{"version": 1, "name": "New", "params": {}}"#).unwrap();
        none.resolve(&params).unwrap().apply_offline(&params);
        assert_eq!(
            params.model.phrase_length.value(),
            PhraseLengthMode::FollowCall
        );
        let bars = Preset::parse(
            br#"{"version": 1, "name": "B", "params": {"length": 8, "phrase-length": "bars"}}"#,
        )
        .unwrap();
        bars.resolve(&params).unwrap().apply_offline(&params);
        assert_eq!(params.model.phrase_length.value(), PhraseLengthMode::Bars);
    }

    /// Choices are saved by their stable ids, so renaming a label never breaks a preset; files
    /// that stored the display names (earlier versions, the README's example) still load.
    #[test]
    fn choices_are_saved_by_stable_id_and_read_by_id_or_name() {
        let params = ContinuoParams::default();
        set_offline(&params, "mode", serde_json::json!("Suggest only")).unwrap();
        set_offline(&params, "grid", serde_json::json!("1/8t")).unwrap();
        let saved = Preset::capture("Ids", "", &params);
        assert_eq!(saved.params["mode"], serde_json::json!("suggest"));
        assert_eq!(saved.params["grid"], serde_json::json!("1/8t"));
        assert_eq!(saved.params["scale-lock"], serde_json::json!("detected"));
        assert_eq!(saved.params["source"], serde_json::json!("both"));
        for (id, ids) in params
            .choice_ids()
            .into_iter()
            .chain(params.harmony_choice_ids())
        {
            let v = saved.params[id].as_str().unwrap();
            assert!(ids.contains(&v), "{id} saved as {v}, not one of {ids:?}");
        }
        let by_name = Preset::parse(
            br#"{"version": 1, "params": {"mode": "Continuous", "grid": "1/16 triplet",
                 "scale-lock": "Fixed scale", "scale": "Minor pentatonic", "velocity": "Follow player"}}"#,
        )
        .unwrap();
        let by_id = Preset::parse(
            br#"{"version": 1, "params": {"mode": "continuous", "grid": "1/16t",
                 "scale-lock": "fixed", "scale": "minor-pentatonic", "velocity": "player"}}"#,
        )
        .unwrap();
        let a = ContinuoParams::default();
        let b = ContinuoParams::default();
        by_name.resolve(&a).unwrap().apply_offline(&a);
        by_id.resolve(&b).unwrap().apply_offline(&b);
        assert_eq!(a.response.mode.value(), ResponseMode::Continuous);
        assert_eq!(Preset::capture("x", "", &a), Preset::capture("x", "", &b));
        assert!(set_offline(&a, "mode", serde_json::json!("nonsense")).is_err());
    }

    /// The style is stored by name: a bundled style by its id, a user style by its own name; a
    /// preset naming a user style that is not installed loads with Blend and says so.
    #[test]
    fn presets_store_the_style_by_name() {
        use crate::params::StyleParam;
        let dir = tmpdir("styles");
        std::fs::create_dir_all(&dir).unwrap();
        // Only this test sets it; the other tests never read user styles by name.
        std::env::set_var("CONTINUO_STYLE_DIR", &dir);
        let mut mine = crate::model::TrainedModel::untrained(Default::default());
        mine.meta.name = "Late Blues".into();
        mine.save(dir.join("blues.json.gz")).unwrap();

        let params = ContinuoParams::default();
        set_offline(&params, "style", serde_json::json!("airs")).unwrap();
        let saved = Preset::capture("x", "", &params);
        assert_eq!(saved.params["style"], serde_json::json!("airs"));

        set_offline(&params, "style", serde_json::json!("user")).unwrap();
        *params.user_style.write() = "Late Blues".into();
        let saved = Preset::capture("x", "", &params);
        assert_eq!(saved.params["style"], serde_json::json!("Late Blues"));

        let fresh = ContinuoParams::default();
        let notices = saved.apply_offline(&fresh).unwrap();
        assert_eq!(fresh.model.style.value(), StyleParam::User);
        assert_eq!(*fresh.user_style.read(), "Late Blues");
        assert!(notices.is_empty(), "{notices:?}");

        let missing =
            Preset::parse(br#"{"version": 1, "params": {"style": "Somebody Else's", "gap": 2.0}}"#)
                .unwrap();
        let fresh = ContinuoParams::default();
        let notices = missing.apply_offline(&fresh).unwrap();
        assert_eq!(fresh.model.style.value(), StyleParam::Blend);
        assert_eq!(fresh.response.gap.value(), 2.0);
        assert!(
            notices
                .iter()
                .any(|n| n.contains("Somebody Else's") && n.contains("Blend")),
            "{notices:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn broken_files_are_reported_and_change_nothing() {
        let params = ContinuoParams::default();
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"   \n", "empty"),
            (
                b"{\"version\": 1, \"name\": \"x\", \"params\": {\"gap\": 2",
                "line",
            ),
            (b"\xff\xfe\x00garbage", "not a valid preset"),
            (b"[1, 2, 3]", "not a valid preset"),
            (b"{\"name\": \"x\"}", "version"),
            (b"{\"version\": \"one\"}", "not a valid preset"),
        ];
        for (bytes, expect) in cases {
            let err = Preset::parse(bytes)
                .err()
                .unwrap_or_else(|| panic!("{:?} parsed", String::from_utf8_lossy(bytes)));
            assert!(
                err.to_string().contains(expect),
                "{err} should mention {expect}"
            );
        }
        // Wrong types: the whole preset is refused, nothing applied.
        let bad = Preset::parse(br#"{"version": 1, "params": {"gap": 3.0, "temperature": "hot", "mode": 3, "learn": 7}}"#).unwrap();
        let err = bad.resolve(&params).err().expect("invalid values");
        let msg = err.to_string();
        assert!(
            msg.contains("temperature") && msg.contains("mode") && msg.contains("learn"),
            "{msg}"
        );
        assert_eq!(params.response.gap.value(), 1.0);
        // Too large.
        let big = vec![b' '; MAX_PRESET_BYTES as usize + 1];
        assert!(matches!(Preset::parse(&big), Err(PresetError::TooLarge(_))));
        // From the future: loads, with a notice; unknown ids are ignored with a notice.
        let future =
            Preset::parse(br#"{"version": 9, "params": {"gap": 2.0, "warp-drive": 11}}"#).unwrap();
        let r = future.resolve(&params).unwrap();
        assert_eq!(r.notices.len(), 2, "{:?}", r.notices);
        // Out-of-range numbers are clamped to the parameter's range.
        let wide = Preset::parse(br#"{"version": 1, "params": {"gap": 1000.0}}"#).unwrap();
        wide.resolve(&params).unwrap().apply_offline(&params);
        assert_eq!(params.response.gap.value(), 8.0);
    }

    #[test]
    fn a_clap_hosts_browser_lists_what_loads_and_loads_what_the_browser_sets() {
        use nice_plug::wrapper::clap::presets::PresetLocation;
        let listed = host_browser::presets_at(PresetLocation::Plugin, None).unwrap();
        assert_eq!(listed.len(), FACTORY.len());
        for info in &listed {
            let key = info.load_key.as_deref().unwrap();
            let preset = Library::factory()
                .into_iter()
                .find(|p| p.name == info.name)
                .unwrap();
            let state = host_browser::state(PresetLocation::Plugin, Some(key)).unwrap();
            let json = |s: &PluginState| serde_json::to_string(s).unwrap();
            assert_eq!(json(&state), json(&preset.host_state().unwrap()), "{key}");
        }
        assert!(host_browser::state(PresetLocation::Plugin, Some("nope")).is_err());
        assert!(host_browser::state(PresetLocation::Plugin, None).is_err());

        // User files: one preset each; a file whose values do not fit is not listed.
        let dir = tmpdir("clap-browser");
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        let odd = dir.join("odd.json");
        std::fs::write(&good, r#"{"version":1,"name":"Good","params":{"gap":2.0}}"#).unwrap();
        std::fs::write(
            &odd,
            r#"{"version":1,"name":"Odd","params":{"mode":"shout"}}"#,
        )
        .unwrap();
        let found = host_browser::presets_at(PresetLocation::File(&good), None).unwrap();
        assert_eq!((found.len(), found[0].name.as_str()), (1, "Good"));
        assert!(!found[0].factory && found[0].load_key.is_none());
        let e = host_browser::presets_at(PresetLocation::File(&odd), None).unwrap_err();
        assert!(e.contains("odd.json"), "{e}");
        assert!(host_browser::state(PresetLocation::File(&odd), None).is_err());

        // The factory presets as files: written when asked, put back when edited, listed as
        // factory content, loading as the embedded ones do.
        let factory = dir.join("factory");
        let locations = host_browser::locations(&dir, Some(&factory));
        assert_eq!(locations.len(), 2, "factory files and the user's folder");
        assert_eq!(locations[0].path.as_deref(), Some(factory.as_path()));
        assert!(locations[0].factory && !locations[1].factory);
        let wild = factory.join("wild.json");
        std::fs::write(&wild, "edited").unwrap();
        host_browser::locations(&dir, Some(&factory));
        let found = host_browser::presets_at(PresetLocation::File(&wild), Some(&factory)).unwrap();
        assert_eq!((found[0].name.as_str(), found[0].factory), ("Wild", true));
        // The same file by another path is still factory content.
        let roundabout = factory.join("..").join("factory").join("wild.json");
        let found =
            host_browser::presets_at(PresetLocation::File(&roundabout), Some(&factory)).unwrap();
        assert!(found[0].factory, "{roundabout:?}");
        let json = |s: &PluginState| serde_json::to_string(s).unwrap();
        assert_eq!(
            json(&host_browser::state(PresetLocation::File(&wild), None).unwrap()),
            json(&host_browser::state(PresetLocation::Plugin, Some("wild")).unwrap())
        );
        assert_eq!(std::fs::read_dir(&factory).unwrap().count(), FACTORY.len());
        // A folder that cannot be written: the presets inside the plugin instead; no user
        // folder when there is none.
        let blocked = good.join("factory");
        let locations = host_browser::locations(&dir.join("missing"), Some(&blocked));
        assert_eq!(locations.len(), 1);
        assert_eq!(
            (locations[0].path.as_ref(), locations[0].factory),
            (None, true)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_presets_are_written_as_vst3_preset_files_a_host_can_read() {
        let dir = tmpdir("vst3-user");
        let lib = Library::new(dir.clone());
        let params = ContinuoParams::default();
        let mut mine = Preset::capture("Late Blues", "", &params);
        mine.params
            .insert("temperature".into(), serde_json::json!(1.3));
        lib.save(&mine, false).unwrap();
        std::fs::write(dir.join("broken.json"), b"{\"version\": 1, \"par").unwrap();
        std::fs::write(
            dir.join("bad-values.json"),
            br#"{"version": 1, "name": "Bad Values", "params": {"temperature": "hot"}}"#,
        )
        .unwrap();
        let out = tmpdir("vst3-out");
        let (factory_only, _) = lib.export_vst3(&out, true, false).unwrap();
        assert_eq!(factory_only.len(), FACTORY.len());
        let (user_only, _) = lib
            .export_vst3(&tmpdir("vst3-user-out"), false, true)
            .unwrap();
        assert_eq!(user_only.len(), 1, "{user_only:?}");
        let (files, problems) = lib.export_vst3(&out, true, true).unwrap();
        assert_eq!(files.len(), FACTORY.len() + 1, "{files:?}");
        assert_eq!(
            problems.len(),
            2,
            "the broken user file and the one with a wrong value are reported: {problems:?}"
        );
        let blues = out.join("Late Blues.vstpreset");
        assert!(files.contains(&blues));
        let file = crate::files::vstpreset::decode(&std::fs::read(&blues).unwrap()).unwrap();
        assert_eq!(
            file.class_id,
            <crate::Continuo as Vst3Plugin>::VST3_CLASS_ID
        );
        let state: PluginState = serde_json::from_slice(&file.component_state).unwrap();
        assert_eq!(state.fields["preset-name"], "\"Late Blues\"");
        match &state.params["temperature"] {
            ParamValue::F32(t) => assert!((t - 1.3).abs() < 1e-4, "{t}"),
            other => panic!("temperature stored as {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&out);
    }

    #[test]
    fn library_save_rename_delete() {
        let dir = tmpdir("lib");
        let lib = Library::new(dir.clone());
        let params = ContinuoParams::default();
        let mine = Preset::capture("My Blues", "", &params);
        let path = lib.save(&mine, false).unwrap();
        assert!(path.exists());
        assert!(matches!(
            lib.save(&mine, false),
            Err(PresetError::Exists(_))
        ));
        lib.save(&mine, true).unwrap();
        assert!(matches!(
            lib.save(
                &Preset {
                    name: "Wild".into(),
                    ..mine.clone()
                },
                true
            ),
            Err(PresetError::Factory(_))
        ));
        lib.rename("my blues", "Late Blues").unwrap();
        assert!(lib.find("My Blues").is_none());
        assert_eq!(lib.load("Late Blues").unwrap().name, "Late Blues");
        assert!(matches!(
            lib.delete("Chorale"),
            Err(PresetError::Factory(_))
        ));
        // A broken user file is listed as a problem, the rest still loads.
        std::fs::write(dir.join("broken.json"), b"{\"version\": 1, \"par").unwrap();
        let (entries, problems) = lib.list();
        assert_eq!(problems.len(), 1);
        assert!(entries.iter().any(|e| e.name == "Late Blues"));
        lib.delete("Late Blues").unwrap();
        assert!(lib.find("Late Blues").is_none());
        let _ = std::fs::remove_dir_all(dir);
    }
}
