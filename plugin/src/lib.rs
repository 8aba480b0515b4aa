//! Continuo: listens to a live instrument and answers with MIDI.
pub mod analysis;
pub mod cli;
pub mod model;
pub mod music;
