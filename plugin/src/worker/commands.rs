//! MODEL THREAD, stage 3: the editor's requests (candidate choice, forget, export, models).
//!
//! A model or network file loaded from the editor, or a model path the host restored, is parsed
//! on a helper thread ([`FileLoad`]) while the model in use answers on; offline runs parse it in
//! place.

use super::parse::Parse;
use super::{ensure_model, send, Brain, ModelSource};
use crate::bridge::{Command, ModelEnds, Shared};
use crate::params::ContinuoParams;
use std::sync::atomic::Ordering;

/// Serves every waiting request. Returns whether any came.
pub(super) fn serve(
    b: &mut Brain,
    ends: &mut ModelEnds,
    shared: &Shared,
    params: &ContinuoParams,
) -> bool {
    let mut changed = false;
    while let Ok(cmd) = b.commands.try_recv() {
        changed = true;
        match cmd {
            Command::Regenerate => {
                b.dirty = true;
                b.seed = super::draw::next_seed(b.seed);
            }
            #[cfg(test)]
            Command::Crash => panic!("crash requested by a test"),
            Command::Next | Command::Previous | Command::Select(_) => {
                if !b.candidates.is_empty() {
                    let n = b.candidates.len();
                    b.selected = match cmd {
                        Command::Next => (b.selected + 1) % n,
                        Command::Previous => (b.selected + n - 1) % n,
                        Command::Select(i) => i.min(n - 1),
                        _ => b.selected,
                    };
                    send::selected(b, ends, shared, params);
                }
            }
            Command::Forget => {
                if let Some(c) = b.continuator.as_mut() {
                    c.forget();
                }
                b.context.clear();
                b.played.clear();
                b.candidates.clear();
                b.keys.reset();
                b.chroma_keys.reset();
                b.key = None;
                b.session_notes = 0;
                b.styles.ranking.clear();
                b.message = Some("session memory cleared".into());
            }
            Command::ExportPhrase(path) => {
                let msg = match b.candidates.get(b.selected) {
                    Some(p) => match crate::files::midi::write_phrase(
                        &path,
                        p,
                        shared.tempo.load(Ordering::Relaxed) as f64,
                    ) {
                        Ok(()) => format!("phrase saved to {}", path.display()),
                        Err(e) => format!("could not save the phrase: {e:#}"),
                    },
                    None => "no phrase to export yet: play something first".into(),
                };
                b.message = Some(msg);
            }
            Command::Style(request) => super::learn::serve(b, request),
            Command::BuiltInModel => {
                cancel_file(b);
                params.model_path.write().clear();
                params.neural_path.write().clear();
                ensure_model(b, params);
                b.message = Some("using the built-in model".into());
            }
            Command::LoadModel(path) => ask_file(b, params, path),
        }
    }
    changed
}

/// A file the editor's *Load* parses: a PPM model (`continuo train`) or a neural network's
/// weights (`continuo train --neural`).
pub(super) enum ModelFile {
    Model(crate::model::TrainedModel),
    Neural(crate::model::neural::net::Net),
}

/// The editor's *Load* while it parses (see [`super::parse`]).
#[derive(Default)]
pub(super) struct FileLoad {
    /// The file being parsed on a helper thread (at most one at a time).
    pub(super) running: Option<Parse<ModelFile>>,
    /// The file asked for while another was parsed: parsed next, and the running one's result
    /// is dropped (the newest request wins, as it would if the parses were instant).
    next: Option<std::path::PathBuf>,
    /// The running parse's result is dropped when it ends: the editor asked for the built-in
    /// model meanwhile.
    discard: bool,
}

/// Reads `path` as the kind of file its first bytes say it is.
fn parse_file(path: &std::path::Path) -> Result<ModelFile, String> {
    let neural = std::fs::File::open(path).ok().is_some_and(|mut f| {
        use std::io::Read;
        let mut head = [0u8; 16];
        f.read_exact(&mut head).is_ok() && crate::model::neural::looks_like_weights(&head)
    });
    if neural {
        crate::model::neural::NeuralModel::load(path)
            .map(|m| ModelFile::Neural(m.net))
            .map_err(|e| format!("neural network not loaded (keeping the current one): {e}"))
    } else {
        crate::model::TrainedModel::load(path)
            .map(ModelFile::Model)
            .map_err(|e| format!("model not loaded (keeping the current one): {e:#}"))
    }
}

/// The built-in model was asked for: a file still being parsed does not replace it later.
pub(super) fn cancel_file(b: &mut Brain) {
    b.file_load.next = None;
    b.file_load.discard = b.file_load.running.is_some();
}

/// "Load" in the model row, or a model path the host restored: parses in place offline, else
/// on a helper thread (a file asked for while another is parsed waits for it).
pub(super) fn ask_file(b: &mut Brain, params: &ContinuoParams, path: std::path::PathBuf) {
    if !b.background {
        let parsed = parse_file(&path);
        use_file(b, params, &path, parsed);
        return;
    }
    if b.file_load.running.is_some() {
        b.message = Some(format!("loading {} next", path.display()));
        b.file_load.next = Some(path);
        b.file_load.discard = false;
        return;
    }
    start_file(b, params, path);
}

/// Starts parsing `path` on a helper thread (in place if no thread can be started).
fn start_file(b: &mut Brain, params: &ContinuoParams, path: std::path::PathBuf) {
    let shown = path.display().to_string();
    let owned = path.clone();
    match Parse::start(&shown, "continuo-file", move || parse_file(&owned)) {
        Ok(p) => {
            b.file_load.running = Some(p);
            let answering = match &b.model_source {
                ModelSource::File(current) => format!("the model from {current}"),
                ModelSource::BuiltIn => b.style_in_use().to_string(),
            };
            b.message = Some(format!("loading {shown}; {answering} answers meanwhile"));
        }
        Err(_) => {
            let parsed = parse_file(&path);
            use_file(b, params, &path, parsed);
        }
    }
}

/// Takes the helper's parse when it has ended: the file answers (or the status line says why
/// not), unless another file was asked for meanwhile, which is then parsed. Returns whether
/// anything changed.
pub(super) fn poll_file(b: &mut Brain, params: &ContinuoParams) -> bool {
    let Some(running) = b.file_load.running.as_mut() else {
        return false;
    };
    let Some(parsed) = running.take() else {
        return false;
    };
    let path = std::path::PathBuf::from(running.label());
    b.file_load.running = None;
    let discard = std::mem::take(&mut b.file_load.discard);
    match b.file_load.next.take() {
        Some(next) => start_file(b, params, next),
        None if discard => {}
        None => use_file(b, params, &path, parsed),
    }
    true
}

/// Makes a parsed file the model that answers or the network mixed in while *Neural network*
/// is on. A broken file changes nothing, not even the path the project saves.
fn use_file(
    b: &mut Brain,
    params: &ContinuoParams,
    path: &std::path::Path,
    parsed: Result<ModelFile, String>,
) {
    let shown = path.display().to_string();
    match parsed {
        Ok(ModelFile::Neural(net)) => {
            *params.neural_path.write() = shown.clone();
            b.neural.loaded(&shown, net);
            b.message = Some(format!(
                "neural network loaded from {shown}{}",
                if params.model.neural.value() {
                    ""
                } else {
                    "; it answers with the style's model while Neural network is on"
                }
            ));
        }
        Ok(ModelFile::Model(m)) => {
            *params.model_path.write() = shown.clone();
            b.model_path = Some(shown.clone());
            super::use_model(b, std::sync::Arc::new(m), true);
            b.model_source = ModelSource::File(shown.clone());
            ensure_model(b, params);
            b.message = Some(format!("model loaded from {shown}"));
        }
        Err(e) => b.message = Some(e),
    }
}
