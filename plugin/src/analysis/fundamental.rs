//! Spectral fundamental (AUDIO THREAD): the NSDF pitch checked against the frequency of the
//! fundamental's own spectral peak.
//!
//! The NSDF (`pitch.rs`) measures a period from every partial at once. For a harmonic sound that
//! is its strength; for a struck bar (celesta, glockenspiel, music box: a free bar's modes lie
//! at 1, 2.76 and 5.40 × the fundamental) a strong inharmonic partial is out of phase with the
//! fundamental at its period, and the NSDF's peak slides towards a lag where that partial agrees.
//! Right after the stroke, while the high mode is as loud as the fundamental, the short windows
//! read the note a semitone off (a celesta's 79 as 80.3), and the reading glides back as the
//! mode decays: the tracker starts the wrong note, then the right one (two notes, one wrong).
//! The fundamental's own spectral peak is where the note is, whatever its upper modes do.
//!
//! So when the window's Hann spectrum has a clear peak within [`FundamentalConfig::span`]
//! semitones of the NSDF answer, carrying at least [`FundamentalConfig::min_share`] of the
//! window's energy, and that peak lies more than [`FundamentalConfig::tolerance`] semitones
//! from it, the peak's frequency is the answer — but only in an *inharmonic* window, where at
//! least [`FundamentalConfig::min_inharmonic`] of the energy, and no less than the harmonics
//! 2 … 8 carry, lies outside the fundamental's and its harmonics' lobes. A harmonic sound's
//! NSDF is right, and there a short window's peak is the coarser reading (vibrato, breath,
//! chorused layers, a previous note ringing a step away): checked on every window, string
//! ensembles lost 0.07 of F1 on the development renders, steel guitars 0.04. Only where the
//! window resolves the fundamental from its neighbours (at least
//! [`FundamentalConfig::min_bins`] unpadded bins up) is it asked.
//!
//! Works on the padded rectangular spectrum the pitch stage already has (the Hann spectrum
//! at every padded bin is `0.5·X[k] − 0.25·(X[k−2] + X[k+2])`): a few dozen bins per hop, no
//! allocation.

use rustfft::num_complex::Complex;

/// Fixed settings of the check.
#[derive(Debug, Clone, Copy)]
pub struct FundamentalConfig {
    /// Sample rate (Hz).
    pub sample_rate: f32,
    /// Semitones either side of the NSDF answer searched for the fundamental's peak (0: the
    /// check is off). A struck bar's attack pulls the NSDF about a semitone.
    pub span: f32,
    /// The peak replaces the NSDF answer only when further than this (semitones): nearer, the
    /// NSDF's reading from all partials is the finer one.
    pub tolerance: f32,
    /// Lowest fundamental asked, in unpadded bins of the window (`sample_rate / frame_len`;
    /// 8: the quarter window from 750 Hz, the half from 375 Hz at 48 kHz). Lower, a semitone
    /// is a small part of a bin and the peak's reading is too coarse: at 6 bins the kalimbas
    /// of the development renders (tines, inharmonic too, 370–780 Hz) lost 0.03 of F1, and
    /// organs and pipes 0.005. The Hann main lobe is 2 bins either side.
    pub min_bins: f32,
    /// Share of the window's energy the peak's sinusoid must carry: less, and it is not the
    /// note's fundamental (a missing fundamental, noise, leakage).
    pub min_share: f32,
    /// Only an inharmonic window is corrected: the energy neither in the fundamental's lobe
    /// nor in those of its harmonics 2 … [`HARMONICS`] must be at least this share of the
    /// window's (0: not asked) and at least the harmonics' own share. A harmonic sound's NSDF
    /// is right, and there a short window's peak is the less precise reading (vibrato,
    /// breath, chorused layers, a low note a few bins up).
    pub min_inharmonic: f32,
}

/// Harmonics looked for when judging whether a window is harmonic (see `min_inharmonic`).
const HARMONICS: usize = 8;

/// A harmonic is searched this far (a share of its frequency) either side of `k` × the
/// fundamental: a piano's or a string's stretched partials still count.
const HARMONIC_SLACK: f32 = 0.02;

impl FundamentalConfig {
    /// Defaults at a sample rate (any may be overridden through `tuning`).
    pub fn new(sample_rate: f32, tuning: &super::Tuning) -> Self {
        Self {
            sample_rate,
            span: tuning.get("fundamental_span", 1.5).max(0.0),
            tolerance: tuning.get("fundamental_tolerance", 0.3).max(0.0),
            min_bins: tuning.get("fundamental_min_bins", 8.0).max(2.5),
            min_share: tuning.get("fundamental_min_share", 0.1).max(0.0),
            min_inharmonic: tuning.get("fundamental_min_inharmonic", 0.05).max(0.0),
        }
    }
}

/// The pitch (Hz) of a window whose NSDF answered `hz`: the frequency of the fundamental's
/// spectral peak when it is clear and disagrees (see the module documentation), else `hz`.
/// `spectrum` is the window's rectangular transform zero-padded to twice `frame_len`
/// (`frame_len + 1` bins) and `energy` its Σ x². No allocation, no panic path.
pub fn checked_hz(
    config: &FundamentalConfig,
    spectrum: &[Complex<f32>],
    frame_len: usize,
    energy: f64,
    hz: f32,
) -> f32 {
    match spectral_peak(config, spectrum, frame_len, energy, hz) {
        Some(peak)
            if (crate::music::hz_to_midi(peak) - crate::music::hz_to_midi(hz)).abs()
                > config.tolerance =>
        {
            peak
        }
        _ => hz,
    }
}

/// The frequency (Hz) of the clear spectral peak within `span` semitones of `hz`, if any.
fn spectral_peak(
    config: &FundamentalConfig,
    spectrum: &[Complex<f32>],
    frame_len: usize,
    energy: f64,
    hz: f32,
) -> Option<f32> {
    // NaN answers and energies fail these too.
    let positive = hz > 0.0 && energy > 0.0;
    if config.span <= 0.0 || frame_len == 0 || !positive {
        return None;
    }
    // Padded bins: fft length 2·frame_len.
    let bin_hz = config.sample_rate / (2 * frame_len) as f32;
    if hz < config.min_bins * 2.0 * bin_hz {
        return None;
    }
    let ratio = (config.span / 12.0).exp2();
    let lo = ((hz / ratio) / bin_hz).floor() as usize;
    let hi = ((hz * ratio) / bin_hz).ceil() as usize;
    // Bins lo-1 ..= hi+1 are read, each with its neighbours two bins away.
    if lo < 3 || hi.saturating_add(3) >= spectrum.len() {
        return None;
    }
    let hann = |k: usize| -> f32 {
        let before = k.checked_sub(2).and_then(|i| spectrum.get(i));
        match (before, spectrum.get(k), spectrum.get(k + 2)) {
            (Some(&a), Some(&b), Some(&c)) => (b * 0.5 - (a + c) * 0.25).norm_sqr(),
            _ => 0.0,
        }
    };
    let (mut best, mut best_power) = (lo, -1.0f32);
    for k in lo..=hi {
        let p = hann(k);
        if p > best_power {
            best = k;
            best_power = p;
        }
    }
    // A peak on the edge of the span is the slope of something outside it.
    if best == lo || best == hi || best_power <= 0.0 {
        return None;
    }
    // Energy of the sinusoid under the peak: |H| ≈ A·N/4 and its energy A²·N/2.
    let share = 8.0 * f64::from(best_power) / (frame_len as f64 * energy);
    if share < f64::from(config.min_share) {
        return None;
    }
    // Parabolic interpolation on log power (a Hann lobe is close to a Gaussian there).
    let (a, b, c) = (
        hann(best - 1).max(1e-30).ln(),
        best_power.ln(),
        hann(best + 1).max(1e-30).ln(),
    );
    let (delta, _) = super::parabola::vertex(a, b, c);
    let peak = (best as f32 + delta) * bin_hz;
    let finite = peak.is_finite() && peak > 0.0;
    if !finite {
        return None;
    }
    if config.min_inharmonic > 0.0 {
        // Energy in the harmonics' lobes, as shares of the window's like the fundamental's.
        let mut harmonics = 0.0f64;
        for k in 2..=HARMONICS {
            let centre = k as f32 * peak / bin_hz;
            let slack = (centre * HARMONIC_SLACK).max(1.0);
            let from = (centre - slack).floor().max(2.0) as usize;
            let to = (centre + slack).ceil() as usize;
            if to.saturating_add(2) >= spectrum.len() {
                break;
            }
            let strongest = (from..=to).map(hann).fold(0.0f32, f32::max);
            harmonics += 8.0 * f64::from(strongest) / (frame_len as f64 * energy);
        }
        let rest = 1.0 - share - harmonics;
        if rest < f64::from(config.min_inharmonic) || rest < harmonics {
            return None;
        }
    }
    Some(peak)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stft::{Stft, StftConfig, WindowShape};
    use crate::music::hz_to_midi;

    const RATE: f32 = 48_000.0;

    fn spectrum_of(frame: &[f32]) -> Vec<Complex<f32>> {
        let mut stft = Stft::new(StftConfig {
            frame_len: frame.len(),
            fft_len: 2 * frame.len(),
            window: WindowShape::Rectangular,
        });
        stft.process(frame).to_vec()
    }

    fn config() -> FundamentalConfig {
        FundamentalConfig::new(RATE, &crate::analysis::Tuning::default())
    }

    /// `n` samples of partials (frequency ratio, amplitude) over `f0`.
    fn frame(n: usize, f0: f32, partials: &[(f32, f32)]) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / RATE;
                partials
                    .iter()
                    .map(|&(r, a)| a * (std::f32::consts::TAU * f0 * r * t).sin())
                    .sum()
            })
            .collect()
    }

    fn checked(frame: &[f32], hz: f32) -> f32 {
        let spectrum = spectrum_of(frame);
        let energy = crate::analysis::pitch::energy(frame);
        checked_hz(&config(), &spectrum, frame.len(), energy, hz)
    }

    #[test]
    fn a_struck_bars_fundamental_overrules_a_wrong_reading() {
        // A free bar's modes: 1, 2.756, 5.404.
        let f0 = 784.0;
        let bar = frame(512, f0, &[(1.0, 1.0), (2.756, 0.3), (5.404, 0.9)]);
        let sharp = f0 * (1.0f32 / 12.0).exp2();
        let got = checked(&bar, sharp);
        assert!((hz_to_midi(got) - hz_to_midi(f0)).abs() < 0.15, "{got}");
        // A close answer is kept as it is.
        let close = f0 * (0.1f32 / 12.0).exp2();
        assert_eq!(checked(&bar, close), close);
    }

    #[test]
    fn harmonic_sounds_keep_the_nsdf_reading() {
        // The same wrong reading of a harmonic tone stands: only inharmonic windows are
        // corrected (there the NSDF is biased; here it is not, and the peak is the coarser).
        let f0 = 784.0;
        let harmonic = frame(512, f0, &[(1.0, 1.0), (2.0, 0.6), (3.0, 0.4), (4.0, 0.3)]);
        let sharp = f0 * (1.0f32 / 12.0).exp2();
        assert_eq!(checked(&harmonic, sharp), sharp);
    }

    #[test]
    fn no_fundamental_no_change() {
        // Partials 2..6 of 400 Hz, no fundamental: the answer 400 Hz stands.
        let partials: Vec<(f32, f32)> = (2..=6).map(|h| (h as f32, 1.0)).collect();
        let missing = frame(1024, 400.0, &partials);
        assert_eq!(checked(&missing, 400.0), 400.0);
        // Silence and nonsense leave the answer alone.
        let spectrum = spectrum_of(&missing);
        assert_eq!(checked_hz(&config(), &spectrum, 1024, 0.0, 400.0), 400.0);
        assert_eq!(checked_hz(&config(), &[], 1024, 1.0, 400.0), 400.0);
        assert!(checked_hz(&config(), &spectrum, 1024, 1.0, f32::NAN).is_nan());
    }
}
