//! MODEL THREAD, stage 3: the editor's requests (candidate choice, forget, export, models).

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
                params.model_path.write().clear();
                params.neural_path.write().clear();
                ensure_model(b, params);
                b.message = Some("using the built-in model".into());
            }
            Command::LoadModel(path) => load_model(b, params, &path),
        }
    }
    changed
}

/// "Load" in the model row: a PPM model file (`continuo train`) becomes the model that answers;
/// a neural weights file (`continuo train --neural`) becomes the network mixed in while *Neural
/// network* is on. A broken file changes nothing, not even the path the project saves.
fn load_model(b: &mut Brain, params: &ContinuoParams, path: &std::path::Path) {
    let neural = std::fs::File::open(path).ok().is_some_and(|mut f| {
        use std::io::Read;
        let mut head = [0u8; 16];
        f.read_exact(&mut head).is_ok() && crate::model::neural::looks_like_weights(&head)
    });
    let shown = path.display().to_string();
    if neural {
        b.message = Some(match crate::model::neural::NeuralModel::load(path) {
            Ok(m) => {
                *params.neural_path.write() = shown.clone();
                b.neural.loaded(&shown, m.net);
                format!(
                    "neural network loaded from {shown}{}",
                    if params.model.neural.value() {
                        ""
                    } else {
                        "; it answers with the style's model while Neural network is on"
                    }
                )
            }
            Err(e) => format!("neural network not loaded (keeping the current one): {e}"),
        });
        return;
    }
    match crate::model::TrainedModel::load(path) {
        Ok(m) => {
            *params.model_path.write() = shown.clone();
            b.model_path = Some(shown.clone());
            super::use_model(b, std::sync::Arc::new(m), true);
            b.model_source = ModelSource::File(shown.clone());
            ensure_model(b, params);
            b.message = Some(format!("model loaded from {shown}"));
        }
        Err(e) => b.message = Some(format!("model not loaded (keeping the current one): {e:#}")),
    }
}
