//! MODEL THREAD, stage 3c: the neural network (issue 17), mixed with the style's statistical
//! model while the *Neural network* parameter is on.
//!
//! - Which weights: the file the user loaded (`neural-path`, saved with the project), else the
//!   network that ships with Continuo ([`crate::model::neural::SHIPPED`]).
//! - Loaded once: parsed on first use (a few milliseconds, here, never on the audio thread) and
//!   kept for the session, so switching the parameter off and on again costs nothing.
//! - A file that cannot be used (missing, truncated, corrupt, made for another network) leaves
//!   the statistical model answering alone and says why in the status line; it is not tried
//!   again until the path changes.
//! - The network is static: the session is learnt by the PPM's short-term model it is mixed
//!   with, which keeps learning whether the network is on or off.

use super::Brain;
use crate::model::neural::net::Net;
use crate::model::neural::{NeuralModel, NeuralPredictor};
use crate::params::ContinuoParams;
use std::sync::Arc;

/// The network's state on the model thread (part of [`Brain`]: it outlives the thread).
#[derive(Default)]
pub struct NeuralState {
    /// The parsed network and the path it came from ("" = the shipped one); parsed on first
    /// use, kept for the session (about 620 kB of weights).
    net: Option<(String, Arc<Net>)>,
    /// The path whose network the continuator mixes in now (`None`: none is mixed in).
    active: Option<String>,
    /// A path whose weights could not be used, and why (not retried until the path changes).
    failed: Option<(String, String)>,
    /// What the parameter and the path asked for when last followed (`None` before the first
    /// time): the status line speaks when that changes, and of a file that cannot be used. The
    /// network mixed in at the start, or put back into a continuator made anew after a panic's
    /// recovery, is silent (the message that says what happened stays).
    asked: Option<Option<String>>,
}

impl NeuralState {
    /// Whether a network is mixed into the answers now.
    pub fn in_use(&self) -> bool {
        self.active.is_some()
    }

    /// Takes `net`, just read from `path` (a file loaded anew), as that path's network: the
    /// continuator mixes it in at the next poll if the parameter asks for it.
    pub(super) fn loaded(&mut self, path: &str, net: Net) {
        if self.failed.as_ref().is_some_and(|(p, _)| p == path) {
            self.failed = None;
        }
        self.net = Some((path.to_string(), Arc::new(net)));
        if self.active.as_deref() == Some(path) {
            self.active = None;
        }
    }
}

/// The network of `path` ("" = the shipped one), parsed.
fn load(path: &str) -> Result<Arc<Net>, String> {
    let model = if path.is_empty() {
        crate::model::neural::shipped()
    } else {
        NeuralModel::load(std::path::Path::new(path))
    };
    model.map(|m| Arc::new(m.net)).map_err(|e| e.to_string())
}

/// Puts the network in or takes it out of the continuator as the parameter and the path ask.
/// Returns whether anything changed (the candidates are then drawn again).
pub(super) fn follow(b: &mut Brain, params: &ContinuoParams) -> bool {
    let want = params
        .model
        .neural
        .value()
        .then(|| params.neural_path.read().clone());
    let Some(c) = b.continuator.as_mut() else {
        return false;
    };
    // A new continuator (a panic's recovery, a model file) starts without the network.
    if !c.has_neural() {
        b.neural.active = None;
    }
    if want == b.neural.active {
        b.neural.asked = Some(want);
        return false;
    }
    let s = &mut b.neural;
    let announce = s.asked.as_ref().is_some_and(|asked| *asked != want);
    s.asked = Some(want.clone());
    let message = match &want {
        None => {
            c.set_neural(None);
            s.active = None;
            "neural network off: the statistical model answers alone".to_string()
        }
        Some(path) => {
            if let Some((failed, _)) = &s.failed {
                if failed == path {
                    // Said once already; the statistical model goes on alone.
                    if c.has_neural() {
                        c.set_neural(None);
                        s.active = None;
                        b.dirty = !b.context.is_empty();
                        return true;
                    }
                    return false;
                }
            }
            let cached = s
                .net
                .as_ref()
                .filter(|(p, _)| p == path)
                .map(|(_, n)| n.clone());
            let net = match cached {
                Some(n) => Ok(n),
                None => load(path),
            };
            let name = if path.is_empty() {
                "the built-in neural network".to_string()
            } else {
                format!("neural network {path}")
            };
            match net {
                Ok(net) => {
                    s.net = Some((path.clone(), net.clone()));
                    c.set_neural(Some(NeuralPredictor::from_net("neural", net)));
                    s.active = Some(path.clone());
                    format!("{name} mixed in with the statistical model")
                }
                Err(e) => {
                    c.set_neural(None);
                    s.active = None;
                    s.failed = Some((path.clone(), e.clone()));
                    b.message = Some(format!(
                        "{name} not used, the statistical model answers alone: {e}"
                    ));
                    b.dirty = !b.context.is_empty();
                    return true;
                }
            }
        }
    };
    if announce {
        b.message = Some(message);
    }
    b.dirty = !b.context.is_empty();
    true
}
