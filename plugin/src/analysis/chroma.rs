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
    /// This frame's peaks (indices into `pitch`), found by `process`; one slot per bin
    /// counted, allocated in `new`.
    peaks: Vec<u16>,
    /// The concert pitch `pitch` is in (semitones from A4 = 440 Hz; `retune`).
    grid: f32,
}

impl Chroma {
    pub fn new(config: ChromaConfig) -> Self {
        let bin_hz = config.sample_rate / config.fft_len.max(1) as f32;
        let first_bin = ((config.min_hz / bin_hz).ceil() as usize).max(1);
        let last_bin = ((config.max_hz / bin_hz).floor() as usize).min(config.fft_len / 2);
        let bins = first_bin..=last_bin.max(first_bin);
        let pitch: Vec<f32> = bins
            .clone()
            .map(|k| crate::music::hz_to_midi(k as f32 * bin_hz))
            .collect();
        let slope = bins
            .map(|k| 12.0 / (std::f32::consts::LN_2 * k as f32))
            .collect();
        Self {
            peaks: vec![0; pitch.len()],
            pitch,
            slope,
            first_bin,
            grid: 0.0,
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
        // First the peaks' offsets, without a branch: about a third of the bins of a noisy
        // spectrum are local maxima, at random, and a branch per bin was mispredicted so often
        // that this stage cost more than the long window's pitch search (perf).
        let first = self.first_bin;
        let counted = self
            .pitch
            .len()
            .min(magnitudes.len().saturating_sub(first + 1));
        let mut peaks = 0;
        if let Some(around) = magnitudes.get(first - 1..first + counted + 1) {
            for (i, w) in around.windows(3).enumerate() {
                let (a, b, c) = (w[0], w[1], w[2]);
                if let Some(slot) = self.peaks.get_mut(peaks) {
                    *slot = i as u16;
                }
                peaks += usize::from(b > floor && b >= a && b > c);
            }
        }
        // Then each peak's energy to the pitch class of its interpolated frequency.
        for &i in self.peaks.iter().take(peaks) {
            let (i, k) = (usize::from(i), first + usize::from(i));
            let (Some(&pitch), Some(&slope), Some(&a), Some(&b), Some(&c)) = (
                self.pitch.get(i),
                self.slope.get(i),
                magnitudes.get(k - 1),
                magnitudes.get(k),
                magnitudes.get(k + 1),
            ) else {
                break;
            };
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

    /// Names pitch classes in a concert pitch `grid` semitones from A4 = 440 Hz (each bin's
    /// pitch moved in place; no allocation).
    pub fn retune(&mut self, grid: f32) {
        let moved = grid - self.grid;
        self.pitch.iter_mut().for_each(|p| *p -= moved);
        self.grid = grid;
    }

    pub fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The peak search without branches gives the chroma of the search bin by bin, bit for bit,
    /// on noisy spectra (a third of their bins are local maxima) of every length around the
    /// counted range.
    #[test]
    fn the_branch_free_peak_search_gives_the_per_bin_chroma() {
        let mut chroma = Chroma::new(ChromaConfig {
            sample_rate: 48_000.0,
            fft_len: 2048,
            min_hz: 55.0,
            max_hz: 5000.0,
        });
        let mut seed = 0x9e37_79b9u32;
        for len in [0usize, 3, 50, 213, 214, 215, 216, 600] {
            let magnitudes: Vec<f32> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    (seed >> 8) as f32 / (1 << 24) as f32
                })
                .collect();
            let mut expected = [0.0f32; 12];
            let floor = crate::analysis::stft::peak(&magnitudes) * PEAK_FLOOR;
            for (i, (&pitch, &slope)) in chroma.pitch.iter().zip(&chroma.slope).enumerate() {
                let k = chroma.first_bin + i;
                let (Some(&a), Some(&b), Some(&c)) = (
                    magnitudes.get(k - 1),
                    magnitudes.get(k),
                    magnitudes.get(k + 1),
                ) else {
                    break;
                };
                if b > floor && b >= a && b > c {
                    let midi = pitch + crate::analysis::parabola::vertex(a, b, c).0 * slope;
                    expected[(midi.round() as i32).rem_euclid(12) as usize] += b * b;
                }
            }
            let total: f32 = expected.iter().sum();
            if total > 1e-10 {
                expected.iter_mut().for_each(|c| *c /= total);
            }
            let got = chroma.process(&magnitudes);
            assert_eq!(got.map(f32::to_bits), expected.map(f32::to_bits), "{len}");
            assert!(len < 100 || got.iter().sum::<f32>() > 0.99, "{len}");
        }
    }
}
