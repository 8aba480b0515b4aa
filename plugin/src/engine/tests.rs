//! Tests of the audio-thread engine.
