//! Continuo as a stand-alone application (JACK, ALSA or a dummy backend), for trying it without
//! a DAW. `continuo-standalone --help` lists the audio/MIDI options; `--backend dummy` opens the
//! editor without a sound card.

fn main() {
    nice_plug::prelude::nice_export_standalone::<continuo::Continuo>();
}
