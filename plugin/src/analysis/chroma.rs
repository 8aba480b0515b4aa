//! Chroma (AUDIO THREAD): energy per pitch class from a magnitude spectrum, for the key estimate.

/// Fixed settings of the chroma stage.
#[derive(Debug, Clone, Copy)]
pub struct ChromaConfig {
    pub sample_rate: f32,
    /// FFT length the magnitude bins come from (bin `k` is at `k · rate / fft_len` Hz).
    pub fft_len: usize,
    /// Lowest frequency counted (Hz).
    pub min_hz: f32,
    /// Highest frequency counted (Hz).
    pub max_hz: f32,
}

/// Maps spectrum bins to pitch classes.
pub struct Chroma {
    /// Pitch class of each bin from `first_bin` on (0 = C), computed in `new`.
    classes: Vec<u8>,
    /// First bin counted.
    first_bin: usize,
}

impl Chroma {
    pub fn new(config: ChromaConfig) -> Self {
        let bin_hz = config.sample_rate / config.fft_len.max(1) as f32;
        let first_bin = ((config.min_hz / bin_hz).ceil() as usize).max(1);
        let last_bin = ((config.max_hz / bin_hz).floor() as usize).min(config.fft_len / 2);
        let classes = (first_bin..=last_bin.max(first_bin))
            .map(|k| {
                let midi = crate::music::hz_to_midi(k as f32 * bin_hz);
                (midi.round() as i32).rem_euclid(12) as u8
            })
            .collect();
        Self { classes, first_bin }
    }

    /// Number of magnitude bins `process` reads (from bin 0).
    pub fn bins_needed(&self) -> usize {
        self.first_bin + self.classes.len()
    }

    /// Chroma of `magnitudes` (bin 0 first), normalised to sum 1, or all zero when silent.
    pub fn process(&mut self, magnitudes: &[f32]) -> [f32; 12] {
        let mut chroma = [0.0f32; 12];
        if let Some(mags) = magnitudes.get(self.first_bin..) {
            for (&m, &c) in mags.iter().zip(&self.classes) {
                if let Some(slot) = chroma.get_mut(c as usize) {
                    *slot += m * m;
                }
            }
        }
        let total: f32 = chroma.iter().sum();
        if total > 1e-10 && total.is_finite() {
            chroma.iter_mut().for_each(|c| *c /= total);
        } else {
            chroma = [0.0; 12];
        }
        chroma
    }

    pub fn reset(&mut self) {}
}
