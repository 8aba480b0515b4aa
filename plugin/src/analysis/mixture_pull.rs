//! Mixture pull (AUDIO THREAD): an estimate stuck between two semitones is moved onto the
//! spectral peak of the fundamental it stands for.
//!
//! The NSDF of two notes sounding together (a pad's long release under the next note, a
//! crossfade) has its first peak at a lag *between* their periods: on the FluidR3 *New Age* pad
//! a B3 (247 Hz, near-sinusoidal) over the release of the G3 before it (−6 dB) reads 58.0–58.4
//! at confidence 0.5–0.8 for its whole 200 ms, and no tracker path ever starts it. The long
//! frame's Hann spectrum still shows the new note's fundamental as a peak of its own at 58.8.
//! So when a hop's estimate is weakly periodic and lies far from every semitone, the strongest
//! Hann peak within a semitone of it is taken instead, provided that peak is loud enough to be
//! a fundamental and itself lies near a semitone. Clean tones (confidence ≥ `max_confidence`)
//! and estimates near a semitone (vibrato, bends, detuned samples) are never touched.

use super::pitch::PitchEstimate;
use crate::music::hz_to_midi;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct MixturePullConfig {
    /// Bin width of the Hann magnitudes (Hz).
    pub bin_hz: f32,
    /// Only estimates below this confidence are pulled (0 turns the stage off): a single
    /// note's frame is strongly periodic, a mixture's is not.
    pub max_confidence: f32,
    /// Only estimates at least this far (semitones) from the nearest semitone are pulled.
    pub min_offset: f32,
    /// The peak taken must lie within this (semitones) of a semitone.
    pub max_peak_offset: f32,
    /// The peak must hold at least this fraction (amplitude) of the spectrum's strongest one.
    pub peak_floor: f32,
    /// Only where a semitone spans at least this many bins: lower down (a bass line) the
    /// long frame's peaks do not say which semitone sounds.
    pub min_semitone_bins: f32,
}

/// The stage: settings only (it keeps no state between hops).
pub struct MixturePull {
    /// Settings, fixed at construction.
    config: MixturePullConfig,
}

impl MixturePull {
    pub fn new(config: MixturePullConfig) -> Self {
        Self { config }
    }

    /// Moves `estimate` onto its fundamental's Hann peak when the rules above say so; `mags`
    /// are the long frame's Hann magnitudes and `strongest` their maximum. Bounded loop (the
    /// bins of two semitones), no allocation.
    pub fn apply(&self, mags: &[f32], strongest: f32, estimate: &mut PitchEstimate) {
        let c = &self.config;
        if c.max_confidence <= 0.0
            || !(estimate.hz > 0.0 && estimate.hz.is_finite())
            || estimate.confidence >= c.max_confidence
            || c.bin_hz <= 0.0
        {
            return;
        }
        let midi = hz_to_midi(estimate.hz);
        if (midi - midi.round()).abs() < c.min_offset {
            return;
        }
        let semitone = 2.0f32.powf(1.0 / 12.0);
        if estimate.hz * (semitone - 1.0) < c.min_semitone_bins * c.bin_hz {
            return;
        }
        let lo = ((estimate.hz / semitone / c.bin_hz).floor() as usize).max(1);
        let hi = (estimate.hz * semitone / c.bin_hz).ceil() as usize;
        let mut best: Option<(usize, f32)> = None;
        for k in lo..=hi {
            let (Some(&before), Some(&at), Some(&after)) =
                (mags.get(k - 1), mags.get(k), mags.get(k + 1))
            else {
                break;
            };
            if at > before && at >= after && best.is_none_or(|(_, m)| at > m) {
                best = Some((k, at));
            }
        }
        let Some((k, at)) = best else {
            return;
        };
        if at < c.peak_floor * strongest {
            return;
        }
        // Parabolic interpolation of the log magnitudes around the peak.
        let (Some(&a), Some(&b)) = (mags.get(k - 1), mags.get(k + 1)) else {
            return;
        };
        let (la, lb, lc) = (a.max(1e-12).ln(), at.max(1e-12).ln(), b.max(1e-12).ln());
        let (shift, _) = super::parabola::vertex(la, lb, lc);
        let hz = (k as f32 + shift) * c.bin_hz;
        let peak_midi = hz_to_midi(hz);
        if (peak_midi - peak_midi.round()).abs() > c.max_peak_offset
            || (peak_midi - midi).abs() > 1.0
        {
            return;
        }
        estimate.hz = hz;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> MixturePull {
        MixturePull::new(MixturePullConfig {
            bin_hz: 10.0,
            max_confidence: 0.9,
            min_offset: 0.2,
            max_peak_offset: 0.25,
            peak_floor: 0.1,
            min_semitone_bins: 0.5,
        })
    }

    /// A spectrum with one peak at `hz` (three bins of a Hann main lobe).
    fn peak_at(hz: f32) -> Vec<f32> {
        let mut mags = vec![0.001; 200];
        let k = (hz / 10.0).round() as usize;
        mags[k - 1] = 0.5;
        mags[k] = 1.0;
        mags[k + 1] = 0.5;
        mags
    }

    #[test]
    fn a_weak_estimate_between_semitones_moves_to_the_peak() {
        // B3 is 246.9 Hz; the estimate reads 58.3 (237 Hz).
        let mags = peak_at(250.0);
        let mut e = PitchEstimate {
            hz: 237.0,
            confidence: 0.7,
        };
        stage().apply(&mags, 1.0, &mut e);
        assert!((hz_to_midi(e.hz) - 59.0).abs() < 0.3, "{e:?}");
    }

    #[test]
    fn a_confident_or_centred_estimate_is_left_alone() {
        let mags = peak_at(250.0);
        // Strongly periodic: a single note, whatever the spectrum says.
        let mut e = PitchEstimate {
            hz: 237.0,
            confidence: 0.95,
        };
        stage().apply(&mags, 1.0, &mut e);
        assert_eq!(e.hz, 237.0);
        // 233.1 Hz is 58.0: near a semitone, not pulled.
        let mut e = PitchEstimate {
            hz: 233.1,
            confidence: 0.6,
        };
        stage().apply(&mags, 1.0, &mut e);
        assert_eq!(e.hz, 233.1);
        // A peak too weak to be a fundamental.
        let mut e = PitchEstimate {
            hz: 237.0,
            confidence: 0.6,
        };
        stage().apply(&mags, 20.0, &mut e);
        assert_eq!(e.hz, 237.0);
        // Too low for the bins to tell semitones apart (a semitone at 58 Hz is 3.4 Hz).
        let mags = peak_at(60.0);
        let mut e = PitchEstimate {
            hz: 57.0,
            confidence: 0.6,
        };
        stage().apply(&mags, 1.0, &mut e);
        assert_eq!(e.hz, 57.0);
    }
}
