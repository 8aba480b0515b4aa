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
                ensure_model(b, params);
                b.message = Some("using the built-in model".into());
            }
            Command::LoadModel(path) => match crate::model::TrainedModel::load(&path) {
                // A broken file changes nothing, not even the path the project saves.
                Ok(m) => {
                    let path = path.display().to_string();
                    *params.model_path.write() = path.clone();
                    b.model_path = Some(path.clone());
                    super::use_model(b, std::sync::Arc::new(m), true);
                    b.model_source = ModelSource::File(path.clone());
                    ensure_model(b, params);
                    b.message = Some(format!("model loaded from {path}"));
                }
                Err(e) => {
                    b.message = Some(format!("model not loaded (keeping the current one): {e:#}"))
                }
            },
        }
    }
    changed
}
