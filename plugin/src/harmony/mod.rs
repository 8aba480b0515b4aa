//! MODEL THREAD: harmony — the chord vocabulary and its Harte labels ([`chord`]), chord
//! recognition from notes ([`recognise`]), beat labelling of four-part music ([`label`]), the
//! chorales it is trained and scored on ([`chorale`]) and voicing ([`voicing`]).
//!
//! Nothing here runs on the audio thread.

pub mod chord;
pub mod chorale;
pub mod label;
pub mod recognise;
pub mod voicing;

pub use chord::{Chord, ChordError, HeardChord, Quality};
