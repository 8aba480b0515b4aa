//! Chroma (AUDIO THREAD): energy per pitch class from a magnitude spectrum, for the key estimate
//! and the chords heard in audio (`harmony::audio`, on the model thread).
//!
//! The energy of every spectral *peak* (a local maximum of the Hann magnitudes, at least
//! [`PEAK_FLOOR`] of the strongest) goes to the pitch class of the peak's interpolated frequency
//! (a parabola through the peak and its neighbours). Giving each bin's energy to the pitch class
//! of the bin's centre instead, as this stage first did, scatters low notes over their
//! neighbours: at 48 kHz a bin is 23 Hz, more than a semitone below 400 Hz, and a partial between
//! two bins went half to each of two wrong pitch classes (a C major chord of sines read as C7).

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

/// Peaks weaker than this share of the strongest magnitude are left out (noise, leakage).
const PEAK_FLOOR: f32 = 1e-3;

/// Maps spectral peaks to pitch classes.
pub struct Chroma {
    /// Fractional MIDI pitch of each bin's centre from `first_bin` on, computed in `new`.
    pitch: Vec<f32>,
    /// Semitones per bin at each bin (the slope of the pitch), for interpolated peaks.
    slope: Vec<f32>,
    /// First bin counted.
    first_bin: usize,
}

impl Chroma {
    pub fn new(config: ChromaConfig) -> Self {
        let bin_hz = config.sample_rate / config.fft_len.max(1) as f32;
        let first_bin = ((config.min_hz / bin_hz).ceil() as usize).max(1);
        let last_bin = ((config.max_hz / bin_hz).floor() as usize).min(config.fft_len / 2);
        let bins = first_bin..=last_bin.max(first_bin);
        let pitch = bins
            .clone()
            .map(|k| crate::music::hz_to_midi(k as f32 * bin_hz))
            .collect();
        let slope = bins
            .map(|k| 12.0 / (std::f32::consts::LN_2 * k as f32))
            .collect();
        Self {
            pitch,
            slope,
            first_bin,
        }
    }

    /// Number of magnitude bins `process` reads (from bin 0): one past the last counted, for
    /// the last peak's neighbour.
    pub fn bins_needed(&self) -> usize {
        self.first_bin + self.pitch.len() + 1
    }

    /// Chroma of `magnitudes` (bin 0 first), normalised to sum 1, or all zero when silent.
    pub fn process(&mut self, magnitudes: &[f32]) -> [f32; 12] {
        let mut chroma = [0.0f32; 12];
        let strongest = super::stft::peak(magnitudes);
        let floor = strongest * PEAK_FLOOR;
        for (i, (&pitch, &slope)) in self.pitch.iter().zip(&self.slope).enumerate() {
            let k = self.first_bin + i;
            let (Some(&a), Some(&b), Some(&c)) = (
                magnitudes.get(k - 1),
                magnitudes.get(k),
                magnitudes.get(k + 1),
            ) else {
                break;
            };
            if !(b > floor && b >= a && b > c) {
                continue;
            }
            let (delta, _) = super::parabola::vertex(a, b, c);
            let midi = pitch + delta * slope;
            if let Some(slot) =
                chroma.get_mut((super::rounding::round(midi) as i32).rem_euclid(12) as usize)
            {
                *slot += b * b;
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
