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
//! and estimates near a semitone (vibrato, bends, detuned samples) are never touched by that rule.
//!
//! A second rule catches the same NSDF fault where it looks clean: an estimate near a semitone,
//! at high confidence, with no partial of its own in the spectrum (a *phantom*, see
//! [`MixturePull::phantom`]). Two struck notes a tone apart, the first still ringing, read as
//! the semitone between them. Its own partials are looked for in the bins nearest a half
//! semitone around it: at the long frame's 21.5 Hz bins the notes a semitone away already lie
//! in the bins such a range touches. Focused renders of dev-split melodies (`cargo xtask
//! render-dataset --count 20 --seed 31 --programs 8,10,11,12,13 --soundfont NAME`, chromatic
//! percussion), on the main of 2026-12-01 11:06: TimGM6mb 0.745 → 0.810, FluidR3 0.882 → 0.893,
//! MuseScore 0.865 → 0.877; organ sets (seed 32, programs 16,19,21,22) within 0.001; the dev
//! split 0.861 → 0.863 with the bin fix (chromatic percussion +0.011, voice +0.009, organ
//! +0.005), no family lower, latency medians +0.1 ms. Without the wait after an onset
//! (`pull_phantom_fresh_ms=0`) a new note whose partials the long frame does not show yet is
//! pulled back to the note before: on `../shared/audio` the struck median rose 24.8 → 25.7 ms.

use super::pitch::PitchEstimate;
use crate::music::hz_to_midi;

/// A semitone, half a semitone and a semitone and a half, as frequency ratios.
const SEMITONE: f32 = 1.059_463_1;
const HALF: f32 = 1.029_302_2;
const WIDE: f32 = SEMITONE * HALF;

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
    /// Phantom estimates: a peak counts as a partial of the estimate when it holds at least
    /// this fraction (amplitude) of the strongest peak (0 turns the rule off; see
    /// [`MixturePull::apply`]).
    pub phantom_floor: f32,
}

/// The stage: settings only (it keeps no state between hops).
pub struct MixturePull {
    /// Settings, fixed at construction.
    config: MixturePullConfig,
    /// The concert pitch "between semitones" is judged in (semitones from A4 = 440 Hz).
    grid: f32,
}

impl MixturePull {
    pub fn new(config: MixturePullConfig) -> Self {
        Self { config, grid: 0.0 }
    }

    /// Judges estimates in a concert pitch `grid` semitones from A4 = 440 Hz.
    pub fn retune(&mut self, grid: f32) {
        self.grid = grid;
    }

    /// Moves `estimate` onto its fundamental's Hann peak when the rules above say so; `mags`
    /// are the long frame's Hann magnitudes and `strongest` their maximum; `fresh`: an onset
    /// came so recently that the long frame holds mostly the note before. Bounded loops (the
    /// bins of a few semitones), no allocation.
    pub fn apply(&self, mags: &[f32], strongest: f32, estimate: &mut PitchEstimate, fresh: bool) {
        let c = &self.config;
        if !(estimate.hz > 0.0 && estimate.hz.is_finite()) || c.bin_hz <= 0.0 {
            return;
        }
        if self.phantom(mags, strongest, estimate, fresh) {
            return;
        }
        if c.max_confidence <= 0.0 || estimate.confidence >= c.max_confidence {
            return;
        }
        let midi = hz_to_midi(estimate.hz) - self.grid;
        if (midi - midi.round()).abs() < c.min_offset {
            return;
        }
        if estimate.hz * (SEMITONE - 1.0) < c.min_semitone_bins * c.bin_hz {
            return;
        }
        let Some((k, at)) = self.peak_between(
            mags,
            (estimate.hz / SEMITONE, estimate.hz * SEMITONE),
            false,
            0.0,
        ) else {
            return;
        };
        if at < c.peak_floor * strongest {
            return;
        }
        let Some(hz) = self.interpolated_hz(mags, k) else {
            return;
        };
        let peak_midi = hz_to_midi(hz) - self.grid;
        if (peak_midi - peak_midi.round()).abs() > c.max_peak_offset
            || (peak_midi - midi).abs() > 1.0
        {
            return;
        }
        estimate.hz = hz;
    }

    /// The frequency of the peak at bin `k`: parabolic interpolation of the log magnitudes.
    fn interpolated_hz(&self, mags: &[f32], k: usize) -> Option<f32> {
        let (Some(&a), Some(&at), Some(&b)) =
            (mags.get(k.checked_sub(1)?), mags.get(k), mags.get(k + 1))
        else {
            return None;
        };
        let (la, lb, lc) = (a.max(1e-12).ln(), at.max(1e-12).ln(), b.max(1e-12).ln());
        let (shift, _) = super::parabola::vertex(la, lb, lc);
        Some((k as f32 + shift) * self.config.bin_hz)
    }

    /// The strongest local maximum of `mags` in the bins that hold `lo_hz`…`hi_hz` (`tight`:
    /// the bins nearest its ends and those between, at least one; else every bin the range
    /// touches), holding at least `floor` (amplitude): its bin and magnitude. Bounded loop.
    fn peak_between(
        &self,
        mags: &[f32],
        (lo_hz, hi_hz): (f32, f32),
        tight: bool,
        floor: f32,
    ) -> Option<(usize, f32)> {
        let c = &self.config;
        let (lo, hi) = if tight {
            ((lo_hz / c.bin_hz).round(), (hi_hz / c.bin_hz).round())
        } else {
            ((lo_hz / c.bin_hz).floor(), (hi_hz / c.bin_hz).ceil())
        };
        let (lo, hi) = ((lo as usize).max(1), hi as usize);
        let mut best: Option<(usize, f32)> = None;
        for k in lo..=hi {
            let (Some(&before), Some(&at), Some(&after)) =
                (mags.get(k - 1), mags.get(k), mags.get(k + 1))
            else {
                break;
            };
            if at > before && at >= after && at >= floor && best.is_none_or(|(_, m)| at > m) {
                best = Some((k, at));
            }
        }
        best
    }

    /// An estimate with no partial of its own, between two notes: neither its fundamental nor
    /// its octave shows a peak in the long frame, and loud peaks lie on both sides of it within
    /// a semitone and a half. The NSDF of two struck notes a tone apart, the earlier one still
    /// ringing (TimGM6mb's celesta: F5 over the E♭5 before it at −3 to −8 dB), has its first
    /// peak at a lag between their periods and reads E5 at confidence 0.9, a note nobody
    /// played. The estimate moves to the louder of the two, provided it lies near a semitone.
    /// A new note's estimate whose partials the long frame does not show yet (its first
    /// milliseconds) has the previous note on one side only, and is left alone. Returns
    /// whether the estimate was a phantom (moved or not).
    fn phantom(
        &self,
        mags: &[f32],
        strongest: f32,
        estimate: &mut PitchEstimate,
        fresh: bool,
    ) -> bool {
        let c = &self.config;
        let hz = estimate.hz;
        if c.phantom_floor <= 0.0 || hz * (SEMITONE - 1.0) < c.min_semitone_bins * c.bin_hz {
            return false;
        }
        let floor = c.phantom_floor * strongest;
        if self
            .peak_between(mags, (hz / HALF, hz * HALF), true, floor)
            .is_some()
            || self
                .peak_between(mags, (2.0 * hz / HALF, 2.0 * hz * HALF), true, floor)
                .is_some()
        {
            return false;
        }
        let loud = c.peak_floor * strongest;
        let below = self.peak_between(mags, (hz / WIDE, hz / HALF), false, loud);
        let above = self.peak_between(mags, (hz * HALF, hz * WIDE), false, loud);
        let (k, _) = match (below, above) {
            (Some(b), Some(a)) => {
                if a.1 >= b.1 {
                    a
                } else {
                    b
                }
            }
            (Some(one), None) | (None, Some(one)) if !fresh => one,
            _ => return false,
        };
        let Some(peak_hz) = self.interpolated_hz(mags, k) else {
            return false;
        };
        let peak_midi = hz_to_midi(peak_hz) - self.grid;
        if (peak_midi - peak_midi.round()).abs() <= c.max_peak_offset {
            estimate.hz = peak_hz;
        }
        true
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
            phantom_floor: 0.0,
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
        stage().apply(&mags, 1.0, &mut e, false);
        assert!((hz_to_midi(e.hz) - 59.0).abs() < 0.3, "{e:?}");
    }

    /// A spectrum with a peak (three bins of a Hann main lobe) at each `(hz, amplitude)`.
    fn peaks(list: &[(f32, f32)]) -> Vec<f32> {
        let mut mags = vec![0.001f32; 400];
        for &(hz, a) in list {
            let k = (hz / 10.0).round() as usize;
            mags[k - 1] = mags[k - 1].max(0.5 * a);
            mags[k] = mags[k].max(a);
            mags[k + 1] = mags[k + 1].max(0.5 * a);
        }
        mags
    }

    fn with_phantoms(floor: f32) -> MixturePull {
        MixturePull::new(MixturePullConfig {
            phantom_floor: floor,
            ..stage().config
        })
    }

    /// F5 (698.5 Hz) struck over a ringing E♭5 (622.3 Hz, −7 dB): the NSDF reads E5 (659.3 Hz)
    /// at confidence 0.9, where the spectrum has no peak, nor at its octave. The estimate goes
    /// to the louder note. With the rule off (as before it existed) E5 stays.
    #[test]
    fn a_phantom_between_two_ringing_notes_moves_to_the_louder_one() {
        let mags = peaks(&[(622.3, 0.45), (698.5, 1.0), (1886.0, 0.6)]);
        let phantom = PitchEstimate {
            hz: 659.3,
            confidence: 0.9,
        };
        for fresh in [false, true] {
            let mut e = phantom;
            with_phantoms(0.06).apply(&mags, 1.0, &mut e, fresh);
            assert!((hz_to_midi(e.hz) - 77.0).abs() < 0.3, "{e:?}");
        }
        let mut e = phantom;
        with_phantoms(0.0).apply(&mags, 1.0, &mut e, false);
        assert_eq!(e.hz, 659.3, "the rule switched off leaves the phantom");
    }

    /// The same at the bins of the real long frame (2048 points at 44.1 kHz, 21.5 Hz): E♭5 and
    /// F5 lie under two bins from E5, in the bins a half-semitone range around E5 touches, yet
    /// they are not E5's partials. (Counting every touched bin, E5 kept E♭5 as its own and the
    /// celesta's phantom E5 stayed.)
    #[test]
    fn a_phantom_is_found_at_the_long_frames_bin_width() {
        let bin = 44_100.0 / 2048.0;
        let stage = MixturePull::new(MixturePullConfig {
            bin_hz: bin,
            phantom_floor: 0.06,
            ..stage().config
        });
        let mut mags = vec![0.001f32; 200];
        for (hz, a) in [(622.3f32, 0.45f32), (698.5, 1.0), (1886.0, 0.6)] {
            let x = hz / bin;
            // A triangular main lobe two bins wide on each side.
            for (j, m) in mags.iter_mut().enumerate() {
                let d = (j as f32 - x).abs();
                *m = m.max(a * (1.0 - d / 2.0).max(0.0));
            }
        }
        let mut e = PitchEstimate {
            hz: 655.0,
            confidence: 0.88,
        };
        stage.apply(&mags, 1.0, &mut e, false);
        assert!((hz_to_midi(e.hz) - 77.0).abs() < 0.3, "{e:?}");
    }

    /// Just after an onset the long frame still holds mostly the note before: a new note's
    /// estimate (C♯5 after C5) with no peak of its own yet and the old note on one side only is
    /// left alone; later, the same picture is a phantom of the ringing note.
    #[test]
    fn a_fresh_estimate_beside_the_note_before_is_left_alone() {
        let mags = peaks(&[(523.3, 1.0), (1046.5, 0.5)]);
        let new_note = PitchEstimate {
            hz: 554.4,
            confidence: 0.9,
        };
        let mut e = new_note;
        with_phantoms(0.06).apply(&mags, 1.0, &mut e, true);
        assert_eq!(e.hz, 554.4);
        let mut e = new_note;
        with_phantoms(0.06).apply(&mags, 1.0, &mut e, false);
        assert!((hz_to_midi(e.hz) - 72.0).abs() < 0.3, "{e:?}");
    }

    /// A note with a partial of its own stays: its fundamental shows, or (a missing
    /// fundamental) its octave does, even with loud neighbours a tone away.
    #[test]
    fn an_estimate_with_a_partial_of_its_own_is_not_a_phantom() {
        let stage = with_phantoms(0.06);
        for mags in [
            peaks(&[(622.3, 0.8), (659.3, 0.3), (698.5, 1.0)]),
            peaks(&[(622.3, 0.8), (1318.5, 0.3), (698.5, 1.0)]),
        ] {
            let mut e = PitchEstimate {
                hz: 659.3,
                confidence: 0.9,
            };
            stage.apply(&mags, 1.0, &mut e, false);
            assert_eq!(e.hz, 659.3);
        }
    }

    #[test]
    fn a_confident_or_centred_estimate_is_left_alone() {
        let mags = peak_at(250.0);
        // Strongly periodic: a single note, whatever the spectrum says.
        let mut e = PitchEstimate {
            hz: 237.0,
            confidence: 0.95,
        };
        stage().apply(&mags, 1.0, &mut e, false);
        assert_eq!(e.hz, 237.0);
        // 233.1 Hz is 58.0: near a semitone, not pulled.
        let mut e = PitchEstimate {
            hz: 233.1,
            confidence: 0.6,
        };
        stage().apply(&mags, 1.0, &mut e, false);
        assert_eq!(e.hz, 233.1);
        // A peak too weak to be a fundamental.
        let mut e = PitchEstimate {
            hz: 237.0,
            confidence: 0.6,
        };
        stage().apply(&mags, 20.0, &mut e, false);
        assert_eq!(e.hz, 237.0);
        // Too low for the bins to tell semitones apart (a semitone at 58 Hz is 3.4 Hz).
        let mags = peak_at(60.0);
        let mut e = PitchEstimate {
            hz: 57.0,
            confidence: 0.6,
        };
        stage().apply(&mags, 1.0, &mut e, false);
        assert_eq!(e.hz, 57.0);
    }
}
