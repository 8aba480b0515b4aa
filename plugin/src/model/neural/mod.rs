//! MODEL THREAD: the neural next-note model (issue 17): a small GRU over the same note events as
//! the PPM (pitch above the tonic, scale degree, rhythm class, onset phase, interval), trained
//! by `continuo train --neural`, run on the model thread only, mixed with the PPM's long- and
//! short-term models (entropy weighting for pitch, a learnt gate for rhythm).
//!
//! - [`net`]: inputs, weights, one GRU step and the output heads in plain Rust.
//! - [`file`]: the versioned, checksummed weights file.
//! - [`predictor`]: the [`crate::model::predictor::Predictor`] with its recurrent-state cache.
//! - [`mix`]: predictors mixed by entropy weighting or a learnt gate.
//! - [`gate`]: the learnt gate, the predictions it is fitted on and its fitting.
//! - [`train`]: training (back-propagation through time, written out for this network).

pub mod file;
pub mod gate;
pub mod mix;
pub mod net;
pub mod predictor;
pub mod train;

pub use file::{NeuralError, NeuralMeta, NeuralModel};

/// The network that ships with Continuo (`assets/model/neural/melody.cnn`, trained by the
/// command in the README's *Neural model*), embedded in the plugin and the command line.
pub static SHIPPED: &[u8] = include_bytes!("../../../../assets/model/neural/melody.cnn");

/// Parses [`SHIPPED`] (a few milliseconds; the model thread does it once, when first asked).
pub fn shipped() -> Result<NeuralModel, NeuralError> {
    NeuralModel::from_bytes(SHIPPED)
}

/// Whether `bytes` start like a neural weights file (to tell one from a PPM model file).
pub fn looks_like_weights(bytes: &[u8]) -> bool {
    bytes.starts_with(file::MAGIC)
}
pub use predictor::NeuralPredictor;
