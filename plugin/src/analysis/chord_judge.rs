//! Chord judge (AUDIO THREAD): a small logistic classifier that says, for one polyphony search
//! hop, how likely it is that several notes sound. Its inputs are cheap measures the polyphony
//! stage takes anyway (`polyphony.rs`): how strong a second and a third candidate note are
//! once the stronger ones' harmonic combs are masked, how much of the spectrum the first
//! voice's comb leaves unexplained, how periodic the frame is and how peaked its chroma.
//!
//! The single ratio of the second candidate to the first (the old flag) rose on 27–46 % of a
//! four-part chorale's hops but also on up to 13 % of a monophonic render's (ringing previous
//! notes, reverberation, a piano's stretched partials): no threshold separated the two. The
//! weights below are fitted offline by `continuo fit-chords` (`cli/chord_fit.rs`: logistic
//! regression, Newton's method, small L2 penalty, deterministic) on the chorale *tune* renders
//! (`cargo xtask render-chorales`, every voiced search hop a positive) against the monophonic
//! *dev* renders (every voiced search hop a negative), classes weighted alike.

/// Number of inputs, the bias first.
pub const FEATURES: usize = 8;

/// Logistic weights, from `continuo fit-chords --chords target/dataset/chorales/tune --mono
/// target/dataset/dev` (see the module doc).
pub const WEIGHTS: [f32; FEATURES] = [
    2.6061, 1.2462, 8.1142, -4.6283, 4.3898, -14.4456, -2.8614, -2.7379,
];

/// What the polyphony stage measured on one search hop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChordMeasures {
    /// Second candidate's harmonic energy over the first's (first voice masked).
    pub second: f32,
    /// Third candidate's over the first's (first and second voices masked).
    pub third: f32,
    /// Share of the spectrum's energy (over the candidates' range) outside the first voice's
    /// comb.
    pub left: f32,
    /// Pitch confidence of the hop (periodicity, 0..1).
    pub confidence: f32,
    /// Largest chroma value (the chroma sums to 1).
    pub chroma_peak: f32,
}

/// The classifier's inputs (scaled to about 0..1, bounded, finite).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Features(pub [f32; FEATURES]);

impl Features {
    pub fn of(m: &ChordMeasures) -> Self {
        let finite = |v: f32| if v.is_finite() { v } else { 0.0 };
        let second = finite(m.second).clamp(0.0, 2.0);
        let third = finite(m.third).clamp(0.0, 2.0);
        Self([
            1.0,
            second,
            second.sqrt(),
            third,
            third.sqrt(),
            finite(m.left).clamp(0.0, 1.0),
            finite(m.confidence).clamp(0.0, 1.0),
            finite(m.chroma_peak).clamp(0.0, 1.0),
        ])
    }
}

/// Probability (0..1) that several notes sound, under `weights`.
pub fn probability_with(weights: &[f32; FEATURES], f: &Features) -> f32 {
    let z: f32 = weights.iter().zip(f.0.iter()).map(|(w, x)| w * x).sum();
    1.0 / (1.0 + (-z.clamp(-30.0, 30.0)).exp())
}

/// Probability (0..1) that several notes sound, under the fitted [`WEIGHTS`].
pub fn probability(m: &ChordMeasures) -> f32 {
    probability_with(&WEIGHTS, &Features::of(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_measures_give_a_probability() {
        for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1.0, 1e30] {
            let m = ChordMeasures {
                second: v,
                third: v,
                left: v,
                confidence: v,
                chroma_peak: v,
            };
            let f = Features::of(&m);
            assert!(f.0.iter().all(|x| x.is_finite() && x.abs() <= 2.0), "{f:?}");
            let p = probability(&m);
            assert!((0.0..=1.0).contains(&p), "{p}");
        }
    }
}
