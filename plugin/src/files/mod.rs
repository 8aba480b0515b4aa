//! Offline file formats and I/O, never on the audio thread: reading WAV files and running the
//! analyser over them ([`transcribe`]), writing standard MIDI files ([`midi`]) and TSV note lists,
//! reading ABC melodies ([`abc`]), writing VST3 preset files ([`vstpreset`]).
//! Used by the command line, the editor's export (through the model thread) and the tests.

pub mod abc;
pub mod midi;
pub mod transcribe;
pub mod vstpreset;
