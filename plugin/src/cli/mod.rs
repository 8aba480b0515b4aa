//! Command-line subcommands of the `continuo` binary, one file each.
pub mod eval;
pub mod presets;
pub mod render;
pub mod train;
pub mod transcription;
