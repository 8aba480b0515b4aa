//! MODEL THREAD, stage 3b: styles — which style model answers, and the recommendation.
//!
//! - [`follow`]: the model the *Style* parameter asks for (a bundled style, the user's own, or
//!   Auto's choice), swapped into the continuator with the session's short-term model kept.
//!   Auto never swaps while an answer plays. A style that cannot be loaded leaves the style in
//!   use and says why.
//! - [`score`]: when the context has new notes, the player's recent notes scored under every
//!   style loaded so far (bits per note, best first), before the candidates are drawn (it costs
//!   about a millisecond; see `Snapshot::score_ms`). Auto moves to a better style only when it
//!   beats the one in use by [`SWITCH_MARGIN`] on at least [`SWITCH_NOTES`] notes.
//!
//! The styles other than the one in use are parsed by a background loader thread (started once
//! the context has notes to score), so loading them never holds up an answer; they stay loaded
//! (about 245 MB for the five bundled ones). A style the player chooses before that loader has
//! brought it is parsed on its own helper thread ([`Parse`]) while the style in use goes on
//! answering (parsing Blend takes 0.4–0.9 s; see [`super::parse`]); offline runs parse it in
//! place.

use super::parse::Parse;
use super::Brain;
use crate::model::styles::{self, StyleScore, BLEND, BUNDLED};
use crate::model::TrainedModel;
use crate::params::{ContinuoParams, StyleParam};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// The player's newest notes scored for the recommendation.
pub const SCORE_NOTES: usize = 32;
/// Fewer notes than this are not scored.
pub const MIN_SCORE_NOTES: usize = 4;
/// Auto changes style only on at least this many notes ...
pub const SWITCH_NOTES: usize = 8;
/// ... when the best style beats the one in use by at least this many bits per note.
pub const SWITCH_MARGIN: f64 = 0.15;

/// What the loader thread sends.
enum Loaded {
    Style(String, Arc<TrainedModel>),
    Problem(String),
}

/// The background thread that parses every style for scoring.
struct Loader {
    rx: Receiver<Loaded>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// What [`Styles::fetch`] found for a style.
enum Fetch {
    /// The style, or why it cannot be loaded.
    Ready(Result<Arc<TrainedModel>, String>),
    /// Being parsed on a helper thread; `started`: just now, by this call.
    Loading { started: bool },
}

/// The styles' state on the model thread (part of [`Brain`]: it outlives the thread).
#[derive(Default)]
pub struct Styles {
    /// Every style parsed so far, by name (bundled in their order, then the user's).
    pub(super) loaded: Vec<(String, Arc<TrainedModel>)>,
    loader: Option<Loader>,
    /// Whether the loader has sent everything.
    loader_done: bool,
    /// The style whose model answers ("" before the first, or when a model file is used).
    pub(super) in_use: String,
    /// The style Auto follows ("" = Blend).
    pub(super) auto: String,
    /// A style that could not be loaded: not tried again until the choice changes.
    failed: Option<String>,
    /// The last ranking, best first.
    pub(super) ranking: Vec<StyleScore>,
    /// The context it was made for: (notes, newest onset).
    scored_for: Option<(usize, f64)>,
    /// Time the last scoring took.
    pub(super) score_ms: f64,
    /// User style files that could not be read (for the status line).
    pub(super) problems: Vec<String>,
    /// The user style folder; `None`: [`styles::user_dir`] (tests set their own).
    pub(super) dir: Option<std::path::PathBuf>,
    /// User styles known to be in the folder by name (listed for the editor, which must offer
    /// them for renaming and deleting before the loader has run); filled on request.
    pub(super) on_disk: Vec<String>,
    /// The background job learning, keeping, renaming a user style.
    pub(super) learner: super::learn::Learner,
    /// The chosen style being parsed on a helper thread (at most one at a time; only when
    /// [`super::Brain::background`] is on).
    pending: Option<Parse<TrainedModel>>,
}

impl Styles {
    /// The user styles found so far (names: loaded, or listed in the folder), sorted.
    pub fn user_styles(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .loaded
            .iter()
            .filter(|(n, _)| styles::bundled(n).is_none())
            .map(|(n, _)| n.clone())
            .collect();
        for n in &self.on_disk {
            if !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
                names.push(n.clone());
            }
        }
        names.sort_by_key(|n| n.to_lowercase());
        names
    }

    /// The user style folder.
    pub(super) fn dir(&self) -> std::path::PathBuf {
        self.dir.clone().unwrap_or_else(styles::user_dir)
    }

    /// Drops a user style (deleted, renamed or about to be replaced) from the lists; the model
    /// in use, if it is that style's, keeps answering.
    pub(super) fn forget_user_style(&mut self, name: &str) {
        if styles::bundled(name).is_some() {
            return;
        }
        self.loaded.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.on_disk.retain(|n| !n.eq_ignore_ascii_case(name));
        self.ranking.retain(|r| !r.style.eq_ignore_ascii_case(name));
        if self.auto.eq_ignore_ascii_case(name) {
            self.auto.clear();
        }
    }

    /// Scores the context again at the next step (the styles changed).
    pub(super) fn rescore(&mut self) {
        self.scored_for = None;
    }

    /// Whether every style has been loaded (or found unreadable).
    pub fn all_loaded(&self) -> bool {
        self.loader_done
    }

    fn model(&self, name: &str) -> Option<Arc<TrainedModel>> {
        self.loaded
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, m)| m.clone())
    }

    pub(super) fn insert(&mut self, name: String, model: Arc<TrainedModel>) {
        if self.model(&name).is_none() {
            self.loaded.push((name, model));
            // Bundled first, in their order; then the user's by name.
            let rank = |n: &str| {
                BUNDLED
                    .iter()
                    .position(|b| b.name == n)
                    .unwrap_or(BUNDLED.len())
            };
            self.loaded
                .sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
        }
    }

    /// Starts the loader (once): every bundled style not yet loaded, then the user's styles.
    fn start_loader(&mut self) {
        if self.loader.is_some() || self.loader_done {
            return;
        }
        let have: Vec<String> = self.loaded.iter().map(|(n, _)| n.clone()).collect();
        let dir = self.dir();
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("continuo-styles".into())
            .spawn(move || {
                for b in BUNDLED.iter() {
                    if stop_flag.load(Ordering::Acquire) {
                        return;
                    }
                    if have.iter().any(|h| h == b.name) {
                        continue;
                    }
                    let msg = match b.load() {
                        Ok(m) => Loaded::Style(b.name.to_string(), Arc::new(m)),
                        Err(e) => Loaded::Problem(format!("bundled style {}: {e}", b.name)),
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
                let (user, problems) =
                    styles::load_user_styles(&dir, &|| stop_flag.load(Ordering::Acquire));
                for s in user {
                    if tx.send(Loaded::Style(s.name, Arc::new(s.model))).is_err() {
                        return;
                    }
                }
                for (path, e) in problems {
                    let _ = tx.send(Loaded::Problem(format!(
                        "style file {} not loaded: {e}",
                        path.display()
                    )));
                }
            });
        match spawned {
            Ok(handle) => {
                self.loader = Some(Loader {
                    rx,
                    stop,
                    handle: Some(handle),
                })
            }
            Err(e) => {
                self.problems
                    .push(format!("could not start the style loader: {e}"));
                self.loader_done = true;
            }
        }
    }

    /// Takes what the loader has sent so far. Returns whether anything came.
    fn take_loaded(&mut self) -> bool {
        let mut came = false;
        loop {
            let Some(loader) = self.loader.as_ref() else {
                return came;
            };
            match loader.rx.try_recv() {
                Ok(Loaded::Style(name, model)) => {
                    self.insert(name, model);
                    came = true;
                }
                Ok(Loaded::Problem(p)) => {
                    self.problems.push(p);
                    came = true;
                }
                Err(TryRecvError::Empty) => return came,
                Err(TryRecvError::Disconnected) => {
                    self.loader = None;
                    self.loader_done = true;
                    return came;
                }
            }
        }
    }

    /// The style `name`: loaded already, parsed now (in place), or being parsed on a helper
    /// thread (`background`, see [`super::Brain::background`]). A helper's style that is no
    /// longer the one wanted is kept for later; a new helper starts only when the previous one
    /// is done.
    fn fetch(&mut self, name: &str, background: bool) -> Fetch {
        if let Some(m) = self.model(name) {
            return Fetch::Ready(Ok(m));
        }
        if !background {
            return Fetch::Ready(load(name, &self.dir()).map(Arc::new));
        }
        if let Some(p) = self.pending.as_mut() {
            let Some(result) = p.take() else {
                return Fetch::Loading { started: false };
            };
            let parsed = p.label().to_string();
            self.pending = None;
            if parsed.eq_ignore_ascii_case(name) {
                return Fetch::Ready(result.map(Arc::new));
            }
            if let Ok(m) = result {
                self.insert(parsed, Arc::new(m));
            }
        }
        let dir = self.dir();
        let owned = name.to_string();
        match Parse::start(name, "continuo-style", move || load(&owned, &dir)) {
            Ok(p) => {
                self.pending = Some(p);
                Fetch::Loading { started: true }
            }
            // No thread to spare: parse in place.
            Err(_) => Fetch::Ready(load(name, &self.dir()).map(Arc::new)),
        }
    }

    /// Waits (tests) until the chosen style's helper thread is done; true when none is running.
    #[cfg(test)]
    pub(super) fn wait_pending(&mut self, timeout: std::time::Duration) -> bool {
        self.pending.as_mut().is_none_or(|p| p.done(timeout))
    }

    /// Loads nothing more (tests that put their own styles in).
    #[cfg(test)]
    pub(super) fn mark_all_loaded(&mut self) {
        self.loader = None;
        self.loader_done = true;
    }

    /// Waits (tests, offline tools) until the loader has sent everything.
    pub fn wait_loaded(&mut self, timeout: std::time::Duration) -> bool {
        self.start_loader();
        let deadline = Instant::now() + timeout;
        while !self.loader_done && Instant::now() < deadline {
            self.take_loaded();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        self.loader_done
    }
}

/// The style the parameters ask for (Auto: the one it follows).
fn wanted(b: &Brain, params: &ContinuoParams) -> String {
    match params.model.style.value() {
        StyleParam::Auto if b.styles.auto.is_empty() => BLEND.to_string(),
        StyleParam::Auto => b.styles.auto.clone(),
        StyleParam::User => {
            let name = params.user_style.read().trim().to_string();
            if name.is_empty() {
                BLEND.to_string()
            } else {
                name
            }
        }
        named => named.bundled_name().unwrap_or(BLEND).to_string(),
    }
}

/// Loads a style by name: bundled (from the binary) or the user's (from `dir`).
fn load(name: &str, dir: &std::path::Path) -> Result<TrainedModel, String> {
    match styles::bundled(name) {
        Some(b) => b.load().map_err(|e| e.to_string()),
        None => styles::load_user_style(dir, name).map(|s| s.model),
    }
}

/// Makes the style the parameters ask for the one in use (see the module notes). Returns whether
/// the style changed.
pub(super) fn follow(b: &mut Brain, params: &ContinuoParams) -> bool {
    b.styles.take_loaded();
    let wanted = wanted(b, params);
    let auto = params.model.style.value() == StyleParam::Auto;
    if b.model.is_some() {
        if wanted.eq_ignore_ascii_case(&b.styles.in_use) {
            b.styles.failed = None;
            return false;
        }
        if b.styles.failed.as_deref() == Some(wanted.as_str()) {
            return false;
        }
        if auto && b.playing.is_some() {
            // Never in the middle of an answer: Auto's change waits for it to end.
            return false;
        }
    }
    // Before any model answers there is nothing to keep answering with: parse in place.
    let model = if b.model.is_none() {
        match b.styles.model(&wanted) {
            Some(m) => Ok(m),
            None => load(&wanted, &b.styles.dir()).map(Arc::new),
        }
    } else {
        match b.styles.fetch(&wanted, b.background) {
            Fetch::Ready(m) => m,
            Fetch::Loading { started } => {
                if started {
                    b.message = Some(format!(
                        "loading style \"{wanted}\"; {} answers meanwhile",
                        b.style_in_use()
                    ));
                }
                return started;
            }
        }
    };
    match model {
        Ok(m) => {
            b.styles.insert(wanted.clone(), m.clone());
            b.styles.failed = None;
            let first = b.styles.in_use.is_empty();
            b.styles.in_use = wanted.clone();
            // Auto's change applies from the next answer; a style the user chose redraws now.
            super::use_model(b, m, !auto);
            if !first {
                b.message = Some(if auto {
                    format!("style: {wanted} (Auto: it fits your playing best)")
                } else {
                    format!("style: {wanted}")
                });
            }
            true
        }
        Err(e) => {
            let keeping = if b.model.is_some() && !b.styles.in_use.is_empty() {
                b.styles.in_use.clone()
            } else {
                BLEND.to_string()
            };
            b.message = Some(format!(
                "style \"{wanted}\" not loaded, keeping {keeping}: {e}"
            ));
            b.styles.failed = Some(wanted);
            if b.model.is_none() {
                // Nothing in use yet: Blend, from the binary.
                if let Some(blend) = b.styles.model(BLEND).or_else(|| {
                    styles::bundled(BLEND)
                        .and_then(|s| s.load().ok())
                        .map(Arc::new)
                }) {
                    b.styles.insert(BLEND.into(), blend.clone());
                    b.styles.in_use = BLEND.into();
                    super::use_model(b, blend, false);
                }
            }
            false
        }
    }
}

/// Scores the context's newest notes under every loaded style when it has new notes, and moves
/// Auto's choice (with hysteresis). Returns whether the ranking changed.
pub(super) fn score(b: &mut Brain) -> bool {
    let came = b.styles.take_loaded();
    let n = b.context.len();
    if n < MIN_SCORE_NOTES {
        return came;
    }
    // The other styles are parsed once the player has played something to score (not while a
    // host merely scans or loads the plugin).
    b.styles.start_loader();
    let newest = b.context.back().map_or(0.0, |x| x.onset);
    let stamp = (n, newest);
    if b.styles.scored_for == Some(stamp) && !came {
        return false;
    }
    let t0 = Instant::now();
    let notes: Vec<_> = b
        .context
        .iter()
        .skip(n.saturating_sub(SCORE_NOTES))
        .copied()
        .collect();
    let seq = styles::sequence_of(&notes, b.key.map(|k| k.0));
    b.styles.ranking = styles::rank(&b.styles.loaded, &seq);
    b.styles.scored_for = Some(stamp);
    b.styles.score_ms = t0.elapsed().as_secs_f64() * 1000.0;
    // Auto chooses among every style, so only once all are loaded.
    if seq.events.len() >= SWITCH_NOTES && b.styles.loader_done {
        if let Some(best) = b.styles.ranking.first() {
            let current = if b.styles.auto.is_empty() {
                BLEND
            } else {
                b.styles.auto.as_str()
            };
            let current_bits = b
                .styles
                .ranking
                .iter()
                .find(|r| r.style == current)
                .map_or(f64::INFINITY, |r| r.bits_per_note);
            if best.style != current && current_bits - best.bits_per_note >= SWITCH_MARGIN {
                b.styles.auto = best.style.clone();
            }
        }
    }
    true
}
