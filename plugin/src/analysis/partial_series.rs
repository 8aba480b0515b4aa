//! Partial series (AUDIO THREAD): right after the attack of a low note, an estimate that names a
//! loud component without overtones is moved up to the key whose harmonic series the upper
//! partials form.
//!
//! TimGM6mb's Acoustic Bass (GM 32) sounds, for the first 100–400 ms of a note, a strong
//! component at 0.80 × f0 (and a weaker one at 0.53 × f0) with no overtones of its own: in a
//! 2¹⁸-point scan of notes 28–52 rendered alone it lies 7–12 dB above the 2nd harmonic and the
//! true fundamental is absent or 8 dB down, while the 2nd, 3rd, 4th, 6th and 8th harmonics sit
//! at their exact multiples of f0. Both components keep their ratio to f0 across the keyboard
//! (they are in the sample and are transposed with it: a body resonance of the recorded
//! instrument), and they decay in about 100 ms at the sample's own pitch, longer on low keys
//! played back slower. The NSDF names the loud component (about 4 semitones flat, wandering
//! between 3 and 7 semitones flat as the partials beat against it) until it has decayed, by
//! which time the onset path has given up: on two dev renders 146 written notes gave 2 right.
//!
//! Evidence: a note's partials above the first are harmonics of its key. The Hann peaks of the
//! long frame (up to the 8th harmonic of the highest candidate, parabola-refined) are matched to
//! the 2nd–8th harmonics of the detected pitch `f` and of each candidate `g = f · 2^(k/12)`,
//! `k` in `1..=max_semitones` (a peak within `tolerance` of `h · g` counts). The resonance has
//! no overtones, so few peaks match `f` (an `f` whose own 2nd and 3rd harmonics are both
//! there is a note and stays), while the note's series matches its key. A candidate
//! needs both its 2nd and its 3rd harmonic among the peaks: for a harmonic tone detected at its
//! own pitch, a candidate a fifth, fourth or third above finds one of them among the tone's
//! partials (3f = 2 · 1.5f, 4f = 3 · 4/3 f), never both (that needs `g` a multiple of `f`).
//! The estimate moves to the candidate whose matched peaks hold the most power, when that is at
//! least `min_gain` times the power matched at `f` and its strongest matched peak at least
//! `min_share` of the spectrum's strongest (in amplitude), and it is refined to the power-weighted
//! mean of the matched peaks' `hz / h`.
//!
//! Only for estimates below `max_hz` (a bass's range), for a while after an onset (later the
//! resonance has decayed and the NSDF is right), not at the sounding note's own pitch, not on
//! the lowest keys (under F1) while the previous note may still ring under the new one (its
//! unresolved partials fake a series there), no candidate at the sounding note, and while the
//! polyphony stage hears one voice (in a mixture the strongest series may be another voice);
//! these conditions are checked by the caller (`mod.rs`).
//!
//! On a 40-file focused set of dev melodies (GM 32–35, TimGM6mb, seed 5) the 10 Acoustic Bass
//! files went from mean F1 0.10 to 0.34 with the stage kept off while any previous note might
//! ring; the set's mean from 0.746 to 0.804. Since 2026-12-02 a ringing note keeps it off only
//! under 45 Hz, and while it rings only candidates three or more semitones up are taken (a step
//! of one or two is a reading between the two notes; `mod.rs`, `series_ringing_min_hz` and
//! `series_ringing_min_step`): 24 Acoustic Bass renders (seed 111) 0.366 → 0.525, 30 renders
//! of GM 32–35 from all three soundfonts (seed 121) 0.853 → 0.878, dev bass 0.861 → 0.874 and
//! no family lower. At 23 Hz bins the partials of the
//! lowest keys (E1–D2) are under two bins apart and their peaks are unreliable: there the stage
//! can still misname a low note's attack.

use super::parabola;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct PartialSeriesConfig {
    /// Bin width of the Hann magnitudes (Hz).
    pub bin_hz: f32,
    /// Only estimates below this (Hz) are checked; 0 turns the stage off.
    pub max_hz: f32,
    /// Candidates are 1 to this many semitones above the estimate.
    pub max_semitones: u32,
    /// The candidate's matched harmonics must hold at least this many times the power of the
    /// estimate's own.
    pub min_gain: f32,
    /// ... and their strongest peak at least this fraction (amplitude) of the spectrum's
    /// strongest (a series at the noise floor names nothing).
    pub min_share: f32,
    /// A peak is a candidate's `h`th harmonic when it lies within this fraction of `h · g`.
    pub tolerance: f32,
}

/// Harmonics matched: the 2nd to this one (the 1st is weak or missing in the attack, and the
/// loud component sits within a few semitones of it).
const TOP_HARMONIC: f32 = 8.0;
/// Peaks kept: the first this many local maxima from the bottom of the spectrum (up to the
/// highest harmonic matched; any above them are ignored).
const MAX_PEAKS: usize = 32;
/// Peaks below this fraction (amplitude) of the strongest are ignored (−40 dB).
const PEAK_FLOOR: f32 = 0.01;

/// The local maxima of `mags` below `max_hz` above the floor, each at the vertex of the parabola
/// through its log magnitudes (Hz, magnitude); the number found.
fn peaks(
    mags: &[f32],
    bin_hz: f32,
    max_hz: f32,
    strongest: f32,
    out: &mut [(f32, f32); MAX_PEAKS],
) -> usize {
    let last = ((max_hz / bin_hz) as usize).min(mags.len().saturating_sub(1));
    let floor = PEAK_FLOOR * strongest;
    let mut n = 0;
    for b in 2..last {
        let (Some(&a), Some(&m), Some(&c)) = (mags.get(b - 1), mags.get(b), mags.get(b + 1)) else {
            break;
        };
        if m > a && m >= c && m > floor && a > 0.0 && c > 0.0 {
            let (delta, _) = parabola::vertex(a.ln(), m.ln(), c.ln());
            if let Some(slot) = out.get_mut(n) {
                *slot = ((b as f32 + delta) * bin_hz, m);
                n += 1;
            } else {
                break;
            }
        }
    }
    n
}

/// What the peaks say about a candidate fundamental.
#[derive(Clone, Copy)]
struct Matched {
    /// Power of the peaks that are its 2nd to `TOP_HARMONIC`th harmonics.
    power: f32,
    /// The strongest of them.
    top: f32,
    /// The fundamental they say (power-weighted mean of `hz / h`).
    said: f32,
    /// Whether both its 2nd and its 3rd harmonic are among them.
    second_and_third: bool,
}

fn matched(peaks: &[(f32, f32)], g: f32, tolerance: f32) -> Matched {
    let (mut power, mut top, mut sum) = (0.0f32, 0.0f32, 0.0f32);
    let (mut second, mut third) = (false, false);
    for &(hz, m) in peaks {
        let h = (hz / g).round();
        if (2.0..=TOP_HARMONIC).contains(&h) && (hz / (h * g) - 1.0).abs() < tolerance {
            power += m * m;
            top = top.max(m);
            sum += m * m * hz / h;
            second |= h == 2.0;
            third |= h == 3.0;
        }
    }
    Matched {
        power,
        top,
        said: if power > 0.0 { sum / power } else { g },
        second_and_third: second && third,
    }
}

/// The key named by the upper partials when the rules above say the estimate `hz` is a
/// component without overtones; else `hz`. `mags` are the long frame's Hann magnitudes and
/// `strongest` their maximum. Bounded loops, no allocation.
/// `avoid_hz` (0: none) is the sounding note's frequency: a candidate within half a semitone of
/// it is not taken (its partials may be the old note ringing on, not the new note's).
/// Candidates are `min_step` to `max_semitones` semitones above `hz` (see `mod.rs`: while the
/// previous note rings, a step of one or two is a reading between two notes whose unresolved
/// partials merge into a series between them, not a resonance).
pub fn series_hz(
    config: &PartialSeriesConfig,
    mags: &[f32],
    strongest: f32,
    hz: f32,
    avoid_hz: f32,
    min_step: u32,
) -> f32 {
    let c = config;
    if c.max_hz <= 0.0 || !(hz > 0.0 && hz < c.max_hz) || c.bin_hz <= 0.0 || strongest <= 0.0 {
        return hz;
    }
    let semitones = c.max_semitones.min(12);
    let highest = hz * 2f32.powf(semitones as f32 / 12.0) * (TOP_HARMONIC + 0.5);
    let mut found = [(0.0f32, 0.0f32); MAX_PEAKS];
    let n = peaks(mags, c.bin_hz, highest, strongest, &mut found);
    let list = found.get(..n).unwrap_or(&[]);
    let own = matched(list, hz, c.tolerance);
    // A component without overtones: a tone with its own 2nd and 3rd harmonic is a note.
    if own.second_and_third {
        return hz;
    }
    let own = own.power;
    let mut best: Option<Matched> = None;
    for k in min_step.max(1)..=semitones {
        let g = hz * 2f32.powf(k as f32 / 12.0);
        if avoid_hz > 0.0 && (g / avoid_hz).log2().abs() < 0.5 / 12.0 {
            continue;
        }
        let mut m = matched(list, g, c.tolerance);
        m.said = m.said.clamp(g * 0.9715, g * 1.0293);
        // Both the 2nd and the 3rd harmonic: a candidate a fifth (or a fourth, a third) above a
        // harmonic tone finds one of them among the tone's partials, never both.
        if m.second_and_third && best.is_none_or(|b| m.power > b.power) {
            best = Some(m);
        }
    }
    match best {
        Some(m) if m.power >= c.min_gain * own && m.top >= c.min_share * strongest => m.said,
        _ => hz,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f32 = 48_000.0;
    const N: usize = 2048;

    fn config() -> PartialSeriesConfig {
        PartialSeriesConfig {
            bin_hz: SR / N as f32,
            max_hz: 200.0,
            max_semitones: 7,
            min_gain: 2.0,
            min_share: 0.15,
            tolerance: 0.03,
        }
    }

    /// A Hann-like magnitude spectrum with a peak of `db` at each `(hz, db)` partial.
    fn spectrum(partials: &[(f32, f32)]) -> Vec<f32> {
        let bin_hz = SR / N as f32;
        let mut mags = vec![1e-6f32; N / 2 + 1];
        for &(hz, db) in partials {
            let a = 10f32.powf(db / 20.0);
            let x = hz / bin_hz;
            for (i, m) in mags.iter_mut().enumerate() {
                let d = (i as f32 - x).abs();
                if d < 2.0 {
                    *m += a * (0.5 + 0.5 * (std::f32::consts::PI * d / 2.0).cos());
                }
            }
        }
        mags
    }

    fn strongest(mags: &[f32]) -> f32 {
        mags.iter().fold(0.0f32, |a, &b| a.max(b))
    }

    #[test]
    fn a_resonance_under_the_key_moves_to_the_key() {
        // E2 (82.4 Hz): a loud component at 0.78 × f0, no fundamental, harmonics 2–8.
        let f0 = 82.4;
        let mags = spectrum(&[
            (0.78 * f0, 0.0),
            (2.0 * f0, -13.0),
            (3.0 * f0, -15.0),
            (4.0 * f0, -20.0),
            (6.0 * f0, -20.0),
            (8.0 * f0, -22.0),
        ]);
        let got = series_hz(&config(), &mags, strongest(&mags), 0.78 * f0, 0.0, 1);
        assert!((got / f0 - 1.0).abs() < 0.02, "{got}");
    }

    #[test]
    fn a_harmonic_tone_stays() {
        for f0 in [41.2f32, 61.7, 82.4, 110.0, 146.8] {
            let mags = spectrum(&[
                (f0, 0.0),
                (2.0 * f0, -3.0),
                (3.0 * f0, -10.0),
                (4.0 * f0, -8.0),
                (5.0 * f0, -14.0),
                (6.0 * f0, -16.0),
            ]);
            let got = series_hz(&config(), &mags, strongest(&mags), f0, 0.0, 1);
            assert_eq!(got, f0, "{f0}");
        }
    }

    #[test]
    fn off_or_out_of_range_leaves_the_estimate() {
        let f0 = 82.4;
        let mags = spectrum(&[(0.8 * f0, 0.0), (2.0 * f0, -12.0), (3.0 * f0, -14.0)]);
        let off = PartialSeriesConfig {
            max_hz: 0.0,
            ..config()
        };
        assert_eq!(
            series_hz(&off, &mags, strongest(&mags), 0.8 * f0, 0.0, 1),
            0.8 * f0
        );
        let low = PartialSeriesConfig {
            max_hz: 60.0,
            ..config()
        };
        assert_eq!(
            series_hz(&low, &mags, strongest(&mags), 0.8 * f0, 0.0, 1),
            0.8 * f0
        );
    }
}
