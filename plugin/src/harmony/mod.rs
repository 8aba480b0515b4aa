//! MODEL THREAD: harmony — the chord vocabulary and its Harte labels ([`chord`]), chord
//! recognition from notes ([`recognise`]), beat labelling of four-part music ([`label`]), the
//! chorales it is trained and scored on ([`chorale`]), the chord model ([`model`]), scoring
//! ([`eval`]), the key of a melody ([`key`]), the files the CLI writes ([`output`]), chords
//! held on a keyboard ([`hearing`]), the chords Continuo plays ([`accompany`]), where beats fall
//! in the bar ([`place`])
//! and voicing ([`voicing`]).
//!
//! Nothing here runs on the audio thread.

pub mod accompany;
pub mod audio;
pub mod chorale;
pub mod chord;
pub mod context;
pub mod eval;
pub mod hearing;
pub mod key;
pub mod label;
pub mod model;
pub mod output;
pub mod place;
pub mod recognise;
pub mod voicing;

pub use chord::{Chord, ChordError, HeardChord, Quality};
