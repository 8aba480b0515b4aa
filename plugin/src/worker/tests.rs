//! Tests of the model thread's stages, driven with the engine through an offline session.
