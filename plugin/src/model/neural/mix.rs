//! [`Mixture`]: several predictors (the neural model, the PPM's long-term model and the
//! session's short-term model) mixed note by note, pitch and rhythm separately, by a
//! [`MixRule`]: Pearce's entropy weighting (each weight `(H / H_max)^-bias`, as the PPM mixes
//! its long- and short-term models) with a weighted arithmetic or geometric mean, or a learnt
//! gate ([`super::gate`]). The plugin ([`MixedPair`]) and `continuo eval` ([`Mixture`]) both mix
//! through [`mix_into`] with the rule [`MIX`].

use super::gate::{features, Gate, FLOOR, GATE};
use crate::model::note::{Event, N_RHYTHM};
use crate::model::predictor::{entropy_weight_of, fast_exp2, fast_log2, Prediction, Predictor};
use crate::model::viewpoints::History;

/// Predictors mixed by a [`MixRule`]. Every part learns the session (the static ones
/// ignore it), so a [`crate::model::predictor::MultiViewpoint`] part keeps learning the player.
pub struct Mixture {
    name: String,
    parts: Vec<Box<dyn Predictor + Send>>,
    /// How the parts are weighed and combined.
    pub rule: MixRule,
    /// One prediction per part (allocated on the first call, resized with the window).
    outs: Vec<Prediction>,
}

impl Mixture {
    pub fn new(
        name: impl Into<String>,
        parts: Vec<Box<dyn Predictor + Send>>,
        rule: MixRule,
    ) -> Self {
        Self {
            name: name.into(),
            parts,
            rule,
            outs: Vec::new(),
        }
    }
}

/// The entropy-weighting exponent of the entropy-weighted mixes (the default of `continuo
/// eval --neural-bias`).
pub const MIX_BIAS: f64 = 1.0;

/// Most parts a mix weighs (their weights live on the stack).
pub const MAX_PARTS: usize = 8;

/// How [`mix_into`] weighs and combines its parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MixRule {
    /// Pearce's entropy weights `(H / H_max)^-bias`, normalised to sum 1, combined by a
    /// weighted arithmetic mean (`geometric` false) or a weighted geometric mean renormalised
    /// (log-linear, as IDyOM combines viewpoints).
    Entropy { bias: f64, geometric: bool },
    /// Weights from a learnt gate (for a mix of the gate's number of parts; others fall back
    /// to entropy weights with bias 1, combined the gate's way).
    Gated(Gate),
}

/// The mix the plugin and `continuo eval` use: the learnt gate [`GATE`] (chosen on the
/// validation part of the training files; see the README's *Neural model*). Before it:
/// `MixRule::Entropy { bias: 1.0, geometric: false }`.
pub const MIX: MixRule = MixRule::Gated(GATE);

impl MixRule {
    /// The rule `continuo eval --neural-mix KIND --neural-bias BIAS` names: `arithmetic` or
    /// `geometric` (entropy weights with `bias`), `gated` (the shipped gate, [`GATE`]) or
    /// `default` ([`MIX`]).
    pub fn from_arg(kind: &str, bias: f64) -> Result<Self, String> {
        match kind.trim().to_ascii_lowercase().as_str() {
            "arithmetic" => Ok(MixRule::Entropy {
                bias,
                geometric: false,
            }),
            "geometric" => Ok(MixRule::Entropy {
                bias,
                geometric: true,
            }),
            "gated" => Ok(MixRule::Gated(GATE)),
            "default" => Ok(MIX),
            other => Err(format!(
                "mix {other}: not arithmetic, geometric, gated or default"
            )),
        }
    }

    /// The rule for mixes other than the network with the PPM: a gate's fallback (entropy
    /// weights with bias 1, combined the gate's way), or `self`.
    pub fn without_gate(&self) -> Self {
        match self {
            MixRule::Gated(g) => MixRule::Entropy {
                bias: 1.0,
                geometric: g.geometric,
            },
            r => *r,
        }
    }

    /// Whether the parts' distributions are multiplied (log-linear) rather than averaged.
    pub fn geometric(&self) -> bool {
        match self {
            MixRule::Entropy { geometric, .. } => *geometric,
            MixRule::Gated(g) => g.geometric,
        }
    }
}

/// Mixes the predictions of `n` parts into `out` by `rule`: `predict_part(k, o)` writes part
/// `k`'s prediction into `o`; `len` is how many notes of the melody come before the one
/// predicted (a feature of a learnt gate). `outs` holds one prediction per part (allocated on
/// the first call and when the pitch window changes, reused after). At most [`MAX_PARTS`]
/// parts are mixed. With every part a proper distribution, so is `out`: a geometric mix is
/// renormalised, and its weights are bounded so that no target underflows to 0.
pub(crate) fn mix_into(
    outs: &mut Vec<Prediction>,
    n: usize,
    rule: &MixRule,
    len: usize,
    out: &mut Prediction,
    mut predict_part: impl FnMut(usize, &mut Prediction),
) {
    let hi = out.pitch_hi();
    outs.resize_with(n, || Prediction::new(0, 0));
    for (k, o) in outs.iter_mut().enumerate() {
        if o.pitch_lo != out.pitch_lo || o.pitch_hi() != hi {
            *o = Prediction::new(out.pitch_lo, hi);
        }
        predict_part(k, o);
    }
    let n_p = out.pitch.len();
    let parts = outs.len().min(MAX_PARTS);
    let mut wp = [0.0f64; MAX_PARTS];
    let mut wr = [0.0f64; MAX_PARTS];
    let (bias, gate) = match rule {
        MixRule::Gated(g) if parts == g.parts => (1.0, Some(g)),
        MixRule::Gated(_) => (1.0, None),
        MixRule::Entropy { bias, .. } => (*bias, None),
    };
    for (k, o) in outs.iter().enumerate().take(parts) {
        match gate {
            Some(g) => {
                wp[k] = Gate::weight(&g.pitch[k], &features(&o.pitch, n_p, len));
                wr[k] = Gate::weight(&g.rhythm[k], &features(&o.rhythm, N_RHYTHM, len));
            }
            None => {
                wp[k] = entropy_weight_of(&o.pitch, n_p, bias);
                wr[k] = entropy_weight_of(&o.rhythm, N_RHYTHM, bias);
            }
        }
    }
    // Weights sum to 1, except a learnt geometric gate's, whose sum is a temperature.
    if gate.is_none_or(|g| !g.geometric) {
        for w in [&mut wp, &mut wr] {
            let s: f64 = w[..parts].iter().sum();
            w[..parts].iter_mut().for_each(|x| *x /= s);
        }
    }
    let geometric = rule.geometric();
    combine(outs, &wp[..parts], geometric, &mut out.pitch, |o| &o.pitch);
    combine(outs, &wr[..parts], geometric, &mut out.rhythm, |o| {
        &o.rhythm
    });
}

/// `out` = the parts' distributions (`dist` of each) combined with weights `w`: a weighted
/// arithmetic mean, or a weighted geometric mean renormalised (each probability floored at
/// [`FLOOR`]; the largest product scaled to 1 before the exponential, so nothing overflows).
fn combine(
    outs: &[Prediction],
    w: &[f64],
    geometric: bool,
    out: &mut [f64],
    dist: impl Fn(&Prediction) -> &[f64],
) {
    out.iter_mut().for_each(|p| *p = 0.0);
    if geometric {
        for (o, &w) in outs.iter().zip(w) {
            for (x, &p) in out.iter_mut().zip(dist(o)) {
                *x += w * fast_log2(p.max(FLOOR));
            }
        }
        let m = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for x in out.iter_mut() {
            // Floored so that no target underflows to 0 (2^-1000 is still a normal f64).
            *x = fast_exp2((*x - m).max(-1000.0));
            sum += *x;
        }
        out.iter_mut().for_each(|x| *x /= sum);
    } else {
        for (o, &w) in outs.iter().zip(w) {
            for (x, &p) in out.iter_mut().zip(dist(o)) {
                *x += w * p;
            }
        }
    }
}

impl Predictor for Mixture {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn predict(&mut self, history: &History, out: &mut Prediction) {
        let Self {
            parts, outs, rule, ..
        } = self;
        mix_into(outs, parts.len(), rule, history.len(), out, |k, o| {
            parts[k].predict(history, o)
        });
    }

    fn learn(&mut self, history: &History, event: &Event) {
        for p in &mut self.parts {
            p.learn(history, event);
        }
    }

    fn reset_session(&mut self) {
        for p in &mut self.parts {
            p.reset_session();
        }
    }
}

/// Two predictors the caller owns (the continuator's network and its PPM with the session),
/// mixed like a [`Mixture`] for one draw without moving them: the PPM stays where it learns the
/// session, the network where its state cache lives.
pub struct MixedPair<'a> {
    pub first: &'a mut dyn Predictor,
    pub second: &'a mut dyn Predictor,
    /// The parts' predictions (the caller keeps it between draws, so it is allocated once).
    pub outs: &'a mut Vec<Prediction>,
    /// How the two are weighed and combined ([`MIX`] in the plugin).
    pub rule: MixRule,
    /// Notes the session model learnt before `history` begins (the plugin draws from its
    /// newest notes only). A learnt gate's "notes before" feature was fitted on whole melodies,
    /// where it counts every note the session model had heard, so it is added to the history's
    /// length.
    pub heard_before: usize,
}

impl Predictor for MixedPair<'_> {
    fn name(&self) -> String {
        format!("{} + {}", self.first.name(), self.second.name())
    }

    fn predict(&mut self, history: &History, out: &mut Prediction) {
        let Self {
            first,
            second,
            outs,
            rule,
            heard_before,
        } = self;
        let len = history.len().saturating_add(*heard_before);
        mix_into(outs, 2, rule, len, out, |k, o| {
            if k == 0 {
                first.predict(history, o)
            } else {
                second.predict(history, o)
            }
        });
    }

    fn learn(&mut self, history: &History, event: &Event) {
        self.first.learn(history, event);
        self.second.learn(history, event);
    }

    fn reset_session(&mut self) {
        self.first.reset_session();
        self.second.reset_session();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::KeySignature;

    /// A predictor that always gives the same distributions (over the whole MIDI range).
    struct Fixed {
        pitch: Vec<f64>,
        rhythm: [f64; N_RHYTHM],
    }

    impl Predictor for Fixed {
        fn name(&self) -> String {
            "fixed".into()
        }
        fn predict(&mut self, _history: &History, out: &mut Prediction) {
            let lo = out.pitch_lo as usize;
            let n = out.pitch.len();
            out.pitch.copy_from_slice(&self.pitch[lo..lo + n]);
            let s: f64 = out.pitch.iter().sum();
            if s > 0.0 {
                out.pitch.iter_mut().for_each(|p| *p /= s);
            }
            out.rhythm = self.rhythm;
        }
    }

    /// A distribution over `n` with `peak` at `at` and the rest spread (`zeros`: every other
    /// target gets exactly 0, as a network's window or a hand-made part might).
    fn peaked(n: usize, at: usize, peak: f64, zeros: bool) -> Vec<f64> {
        let mut v = vec![
            if zeros {
                0.0
            } else {
                (1.0 - peak) / (n - 1) as f64
            };
            n
        ];
        v[at] = if zeros { 1.0 } else { peak };
        if zeros {
            // Keep a proper distribution with some holes: half the targets at 0.
            for (i, x) in v.iter_mut().enumerate() {
                if i != at && i % 2 == 0 {
                    *x = (1.0 - peak) / (n / 2) as f64;
                }
            }
            v[at] = peak;
            let s: f64 = v.iter().sum();
            v.iter_mut().for_each(|x| *x /= s);
        }
        v
    }

    fn fixed(pitch: Vec<f64>, rhythm: Vec<f64>) -> Box<dyn Predictor + Send> {
        let mut r = [0.0; N_RHYTHM];
        r.copy_from_slice(&rhythm);
        Box::new(Fixed { pitch, rhythm: r })
    }

    fn history(len: usize) -> History {
        let mut h = History::new(KeySignature::default());
        for i in 0..len {
            h.push(Event {
                pitch: 60 + (i % 5) as u8,
                rhythm: 8,
                phase: 0,
            });
        }
        h
    }

    #[test]
    fn every_mix_is_a_proper_distribution() {
        let sharp = Gate {
            version: super::super::gate::GATE_VERSION,
            geometric: true,
            parts: 2,
            pitch: [[3.0, -5.0, 2.0]; 3],
            rhythm: [[-30.0, 4.0, -1.0]; 3],
        };
        let rules = [
            MIX,
            MixRule::Entropy {
                bias: 1.0,
                geometric: false,
            },
            MixRule::Entropy {
                bias: 0.5,
                geometric: true,
            },
            MixRule::Entropy {
                bias: 4.0,
                geometric: true,
            },
            MixRule::Gated(sharp),
            MixRule::Gated(Gate {
                geometric: false,
                ..sharp
            }),
        ];
        for rule in rules {
            for (lo, hi) in [(0u8, 127u8), (55, 79)] {
                for len in [0usize, 3, 400] {
                    for with_holes in [false, true] {
                        let mut mix = Mixture::new(
                            "m",
                            vec![
                                fixed(
                                    peaked(128, 62, 0.999, with_holes),
                                    peaked(N_RHYTHM, 3, 0.9999, with_holes),
                                ),
                                fixed(peaked(128, 64, 0.3, false), peaked(N_RHYTHM, 5, 0.4, false)),
                            ],
                            rule,
                        );
                        let mut out = Prediction::new(lo, hi);
                        mix.predict(&history(len), &mut out);
                        for d in [&out.pitch[..], &out.rhythm[..]] {
                            let s: f64 = d.iter().sum();
                            assert!((s - 1.0).abs() < 1e-9, "{rule:?} {len}: sums to {s}");
                            // Part 0 rules targets out: geometric mixes floor it, so they keep
                            // a little; arithmetic ones keep what part 1 gives them.
                            assert!(
                                d.iter().all(|p| p.is_finite() && *p > 0.0),
                                "{rule:?} {len} {with_holes}: {d:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The learnt gate trusts the PPM (with the session model, part 1) more for rhythm the
    /// further into the melody it is; the entropy weighting before it did not look at where the
    /// note is (this fails with `MIX = MixRule::Entropy { bias: 1.0, geometric: false }`).
    #[test]
    fn default_mix_trusts_the_session_ppm_more_later_in_the_melody() {
        let rhythm_of = |len: usize| {
            let mut mix = Mixture::new(
                "m",
                vec![
                    fixed(peaked(128, 62, 0.5, false), peaked(N_RHYTHM, 3, 0.6, false)),
                    fixed(peaked(128, 64, 0.5, false), peaked(N_RHYTHM, 5, 0.6, false)),
                ],
                MIX,
            );
            let mut out = Prediction::full_range();
            mix.predict(&history(len), &mut out);
            out
        };
        let (early, late) = (rhythm_of(0), rhythm_of(200));
        assert!(
            late.rhythm[5] > early.rhythm[5] + 0.05,
            "PPM's rhythm class: {} at the start, {} 200 notes in",
            early.rhythm[5],
            late.rhythm[5]
        );
        assert!(late.rhythm[3] < early.rhythm[3]);
        // Pitch keeps the entropy weighting: two parts as sure as each other weigh the same.
        assert!((early.pitch[62] - early.pitch[64]).abs() < 1e-12);
        assert!((late.pitch[62] - early.pitch[62]).abs() < 1e-12);
    }

    /// The plugin draws from the player's newest notes only; the pair counts the notes the
    /// session model heard before them, as the gate was fitted (a pair with 8 notes of history
    /// that heard 192 before mixes like one with 200 notes of history).
    #[test]
    fn the_pair_counts_the_notes_heard_before_its_history() {
        let mix_of = |len: usize, heard_before: usize| {
            let mut a = fixed(peaked(128, 62, 0.5, false), peaked(N_RHYTHM, 3, 0.6, false));
            let mut b = fixed(peaked(128, 64, 0.5, false), peaked(N_RHYTHM, 5, 0.6, false));
            let mut outs = Vec::new();
            let mut pair = MixedPair {
                first: a.as_mut(),
                second: b.as_mut(),
                outs: &mut outs,
                rule: MIX,
                heard_before,
            };
            let mut out = Prediction::full_range();
            pair.predict(&history(len), &mut out);
            out.rhythm
        };
        let (short, long, told) = (mix_of(8, 0), mix_of(200, 0), mix_of(8, 192));
        assert!(long[5] > short[5] + 0.05, "{} vs {}", long[5], short[5]);
        for (t, l) in told.iter().zip(long.iter()) {
            assert!((t - l).abs() < 1e-12, "{told:?} vs {long:?}");
        }
    }
}
