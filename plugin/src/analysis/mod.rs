//! AUDIO THREAD ONLY: the streaming analyser that turns the input into features and notes.
//!
//! CONTRACT (relied on by `lib.rs`, `bridge.rs` and the CLI; keep these signatures):
//! - `Analyzer::new(sample_rate)` allocates everything (FFT plans, windows, scratch) for that rate.
//! - `Analyzer::process(&mut self, mono, out)` accepts any block length (0 … 16384 and more),
//!   never allocates, locks or panics, and reports through `out` every feature frame (one per hop)
//!   and every note start/end, each stamped with its position inside the given block.
//! - `Analyzer::reset()` forgets the signal (no allocation); the stream clock restarts at 0.
//!
//! PLACEHOLDER: the real implementation lands with the analysis issue.

/// One analysis hop's features. Small and `Copy` so it travels through a ring without allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeatureFrame {
    /// Stream time of the end of the analysed window, in samples since the last reset.
    pub time_samples: u64,
    /// Fundamental frequency in Hz, 0 when unvoiced.
    pub f0_hz: f32,
    /// Pitch confidence 0..1 (periodicity).
    pub confidence: f32,
    /// Level of the window in dBFS (RMS), floored at -120.
    pub level_db: f32,
    /// Onset strength (spectral flux, normalised).
    pub flux: f32,
    /// Chroma (12 pitch classes, C first), normalised to sum 1 or all 0 in silence.
    pub chroma: [f32; 12],
}

/// A note start or end decided by the tracker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoteEvent {
    On {
        /// MIDI pitch.
        pitch: u8,
        /// 0..1, from the level at the attack.
        velocity: f32,
        /// Best estimate of when the note really began (stream samples), may be before `at`.
        onset_samples: u64,
        /// Sample offset inside the current block at which the decision was made (the emit time).
        at: u32,
    },
    Off {
        pitch: u8,
        /// Best estimate of when the note really ended (stream samples).
        offset_samples: u64,
        /// Sample offset inside the current block.
        at: u32,
    },
}

/// Where the analyser reports to. Implementations must not allocate (they run on the audio thread).
pub trait AnalysisOutput {
    fn frame(&mut self, frame: &FeatureFrame);
    fn note(&mut self, event: NoteEvent);
}

/// The streaming analyser (placeholder: computes only the level).
pub struct Analyzer {
    sample_rate: f32,
    clock: u64,
}

impl Analyzer {
    pub fn new(sample_rate: f32) -> Self {
        Self { sample_rate, clock: 0 }
    }

    pub fn sample_rate(&self) -> f32 {
        self.sample_rate
    }

    pub fn reset(&mut self) {
        self.clock = 0;
    }

    pub fn process(&mut self, mono: &[f32], _out: &mut impl AnalysisOutput) {
        self.clock += mono.len() as u64;
    }
}
