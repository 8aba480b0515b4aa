//! Quint ranks (AUDIO THREAD): the played key of an organ registration with a 5⅓' quint and no
//! stop under the key.
//!
//! A registration of 8' + 5⅓' (+ 4' + 2⅔' + 2') stops sounds, for the key of pitch `k`, partials
//! at `k`, `3k/2` (the quint), `2k`, `3k`, `4k`, … Every one of them is a harmonic of `k/2`, so
//! the waveform repeats at `2/k` and the period detectors name `k/2`, where nothing sounds. The
//! subharmonic guard (`Analyzer::has_fundamental`) then leaves the hop unvoiced, and
//! `lift_subharmonic` does not raise it: the quint is an odd harmonic (the 3rd) of `k/2`. On
//! FluidR3_GM's and MuseScore_General's Church Organ (GM 19) the upper samples carry such a
//! quint (5⅓' 1–7 dB under or over the 8' key, its own overtones at `9k/2` and `15k/2`),
//! and notes on them read unvoiced for most of their hops (held notes at Bb4–Eb5 read `k/2`
//! unvoiced on about half of the hops, the rest `k` or `2k`), so most of them never start.
//!
//! Evidence at a detected pitch `f` with no energy at `f` (= `k/2`): the key `2f` and the quint
//! `3f` both sound (each at least `floor` of the strongest partial: the quint is what moved the
//! period to `f`), and the harmonics of `f` that are neither even (the key's own series) nor
//! multiples of 3 (the quint's series: 3, 9, 15) — the 1st, 5th and 7th — together carry under
//! `ratio` of the energy of the even harmonics 2, 4 and 6 (the key's 1st to 3rd partials). A
//! natural tone at `f` with a weak fundamental still has its 5th and 7th harmonics; a sub-octave
//! stop under the key (16') is a fundamental at `f`, which this stage does not see (the caller
//! asks only about a missing one). The same spectrum is made by two notes a fifth apart (the
//! earlier note ringing into the next one): it then names the lower of them, where the guard
//! named nothing. Without the `floor` test a faint component at `2f` under two louder notes a
//! fourth or fifth apart (a string ensemble's or an accordion's release under the next note)
//! was named as a key an octave under both (dev: 3 such extras).

/// Settings.
#[derive(Debug, Clone, Copy)]
pub struct QuintRankConfig {
    /// Width of a Hann spectrum bin (Hz).
    pub bin_hz: f32,
    /// Energy of the 1st, 5th and 7th harmonics of `f` over that of its 2nd, 4th and 6th under
    /// which `f` is read as half a quint registration's key. `0` turns the stage off.
    pub ratio: f32,
    /// The key (`2f`) and the quint (`3f`) must each be at least this share (amplitude) of the
    /// strongest partial: both are loud stops of the registration, not a faint remainder.
    pub floor: f32,
}

impl QuintRankConfig {
    /// Defaults, overridable through `tuning`: `quint_rank` (energy ratio, 0 = off),
    /// `quint_rank_floor`.
    pub fn new(bin_hz: f32, tuning: &super::Tuning) -> Self {
        Self {
            bin_hz,
            ratio: tuning.get("quint_rank", 0.05),
            floor: tuning.get("quint_rank_floor", 0.1),
        }
    }
}

/// The key of a quint registration whose common period names `hz`: `Some(2·hz)` when the
/// harmonics of `hz` outside the key's and the quint's series are (nearly) empty, else `None`.
/// `mags` are the Hann magnitudes (bin 0 first), `strongest` their largest value; a harmonic
/// beyond them counts as empty. The caller has found no energy at `hz` itself. No allocation;
/// at most 6 short bin scans.
pub fn key_hz(config: &QuintRankConfig, mags: &[f32], strongest: f32, hz: f32) -> Option<f32> {
    if config.ratio <= 0.0 || !hz.is_finite() || hz <= 0.0 || config.bin_hz <= 0.0 {
        return None;
    }
    let peak = |f: f32| -> f32 {
        super::stft::peak_near(mags, (f / config.bin_hz).round() as usize).unwrap_or(0.0)
    };
    let loud = config.floor * strongest;
    if !(peak(2.0 * hz) >= loud && peak(3.0 * hz) >= loud) {
        return None;
    }
    let power = |f: f32| peak(f).powi(2);
    let on: f32 = [2.0f32, 4.0, 6.0].iter().map(|&h| power(h * hz)).sum();
    let off: f32 = [1.0f32, 5.0, 7.0].iter().map(|&h| power(h * hz)).sum();
    (on > 0.0 && off < config.ratio * on).then_some(2.0 * hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Magnitudes with a peak of `amp` at each of `partials` (Hz), bins of 10 Hz.
    fn spectrum(partials: &[(f32, f32)]) -> Vec<f32> {
        let mut mags = vec![0.0f32; 2048];
        for &(hz, amp) in partials {
            if let Some(m) = mags.get_mut((hz / 10.0).round() as usize) {
                *m = amp;
            }
        }
        mags
    }

    fn config() -> QuintRankConfig {
        QuintRankConfig {
            bin_hz: 10.0,
            ratio: 0.05,
            floor: 0.1,
        }
    }

    #[test]
    fn quint_registration_is_named_by_its_key() {
        // 8' at 470 Hz, 5⅓' at 705, 4' at 940, 2⅔' at 1410, 2' at 1880; detected 235 Hz.
        let mags = spectrum(&[
            (470.0, 0.4),
            (705.0, 1.0),
            (940.0, 0.3),
            (1410.0, 0.4),
            (1880.0, 0.35),
        ]);
        assert_eq!(key_hz(&config(), &mags, 1.0, 235.0), Some(470.0));
    }

    #[test]
    fn natural_tone_with_weak_fundamental_is_not_lifted() {
        // A tone at 235 Hz whose 1st harmonic is weak but whose 5th and 7th sound.
        let partials: Vec<(f32, f32)> = (1..=8)
            .map(|h| (235.0 * h as f32, if h == 1 { 0.01 } else { 1.0 / h as f32 }))
            .collect();
        assert_eq!(key_hz(&config(), &spectrum(&partials), 1.0, 235.0), None);
    }

    #[test]
    fn off_or_bad_input_gives_none() {
        let mags = spectrum(&[(470.0, 1.0), (705.0, 1.0)]);
        let off = QuintRankConfig {
            ratio: 0.0,
            ..config()
        };
        assert_eq!(key_hz(&off, &mags, 1.0, 235.0), None);
        assert_eq!(key_hz(&config(), &mags, 1.0, f32::NAN), None);
        assert_eq!(key_hz(&config(), &mags, 1.0, 0.0), None);
        assert_eq!(key_hz(&config(), &[], 1.0, 235.0), None);
    }

    #[test]
    fn faint_key_under_two_notes_a_fifth_apart_is_not_named() {
        // C4 (261.6 Hz) and G4 (392.4 Hz) with a faint component at C3 (−34 dB): read at C2,
        // the C3 "key" and the G2 "quint" are not loud stops, so nothing is named.
        let mags = spectrum(&[(130.8, 0.02), (261.6, 1.0), (392.4, 0.8), (523.2, 0.5)]);
        assert_eq!(key_hz(&config(), &mags, 1.0, 65.4), None);
    }
}
