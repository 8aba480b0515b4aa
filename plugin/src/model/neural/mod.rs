//! MODEL THREAD: the neural next-note model (issue 17): a small GRU over the same note events as
//! the PPM (pitch above the tonic, scale degree, rhythm class, onset phase, interval), trained
//! by `continuo train --neural`, run on the model thread only, mixed with the PPM's long- and
//! short-term models by entropy weighting.
//!
//! - [`net`]: inputs, weights, one GRU step and the output heads in plain Rust.
//! - [`file`]: the versioned, checksummed weights file.
//! - [`predictor`]: the [`crate::model::predictor::Predictor`] with its recurrent-state cache.
//! - [`mix`]: predictors mixed by entropy weighting.
//! - [`train`]: training (back-propagation through time, written out for this network).

pub mod file;
pub mod mix;
pub mod net;
pub mod predictor;
pub mod train;

pub use file::{NeuralError, NeuralMeta, NeuralModel};
pub use predictor::NeuralPredictor;
