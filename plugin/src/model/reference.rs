//! The independent judge of answers (`continuo eval-answers`): a plain PPM-C model of pitches and
//! one of inter-onset-interval classes, each a variable-order Markov model over its own symbols
//! only (no viewpoints, no key), with escape method C and exclusion (Cleary & Witten 1984,
//! Moffat 1990); a short-term model of the same kind learns the call and the continuation as it
//! is heard and is mixed in by entropy, as a listener who remembers the call.
//!
//! It is trained on the training split, separately from the style models, and the sampler never
//! sees it: a measure of how surprising an answer is must not come from the model that drew it.

use super::note::{rhythm_class, N_PITCH, N_RHYTHM};
use super::train::Sequence;
use super::Note;
use std::collections::HashMap;

/// Longest context of the pitch model (previous pitches).
pub const PITCH_ORDER: usize = 3;
/// Longest context of the rhythm model (previous inter-onset-interval classes).
pub const RHYTHM_ORDER: usize = 3;
/// Probabilities are floored here (a symbol never seen costs a finite number of bits).
const MIN_P: f64 = 1e-12;

/// One variable-order PPM-C model over a small alphabet.
#[derive(Debug, Clone)]
pub struct PpmC {
    /// Longest context used.
    max_order: usize,
    /// Number of symbols (the order −1 model is uniform over them).
    alphabet: usize,
    /// (order, context packed one byte per symbol, newest lowest) → (symbol, count) pairs.
    /// Filled by [`PpmC::learn`]; read only afterwards.
    counts: HashMap<(u8, u64), Vec<(u16, u32)>>,
}

impl PpmC {
    /// An empty model over `alphabet` (≤ 255) symbols with contexts up to `max_order` (≤ 7).
    pub fn new(max_order: usize, alphabet: usize) -> Self {
        Self {
            max_order: max_order.min(7),
            alphabet: alphabet.clamp(1, 255),
            counts: HashMap::new(),
        }
    }

    /// The `order` symbols before `at` (exclusive), packed; `None` when there are fewer.
    fn key(seq: &[u16], at: usize, order: usize) -> Option<(u8, u64)> {
        if order > at {
            return None;
        }
        let mut k = 0u64;
        for (i, &s) in seq[at - order..at].iter().rev().enumerate() {
            k |= ((s as u64 & 0xff) + 1) << (8 * i);
        }
        Some((order as u8, k))
    }

    /// Counts every symbol of `seq` in all its contexts (orders 0..=max).
    pub fn learn(&mut self, seq: &[u16]) {
        for at in 0..seq.len() {
            self.learn_at(seq, at);
        }
    }

    /// Counts `seq[at]` in its contexts `seq[..at]`.
    pub fn learn_at(&mut self, seq: &[u16], at: usize) {
        let sym = seq[at];
        if sym as usize >= self.alphabet {
            return;
        }
        for order in 0..=self.max_order {
            let Some(key) = Self::key(seq, at, order) else {
                break;
            };
            let node = self.counts.entry(key).or_default();
            match node.iter_mut().find(|(s, _)| *s == sym) {
                Some((_, c)) => *c += 1,
                None => node.push((sym, 1)),
            }
        }
    }

    /// The distribution of the symbol after `seq[..at]` into `out` (one entry per symbol): the
    /// longest seen context first, escaping to shorter ones with method C, symbols seen in a
    /// longer context excluded from shorter ones, the rest uniform.
    pub fn distribution(&self, seq: &[u16], at: usize, out: &mut [f64]) {
        let out = &mut out[..self.alphabet];
        out.fill(0.0);
        let mut excluded = [false; 256];
        let mut n_excluded = 0usize;
        let mut escape = 1.0;
        for order in (0..=self.max_order.min(at)).rev() {
            let Some(key) = Self::key(seq, at, order) else {
                continue;
            };
            let Some(node) = self.counts.get(&key) else {
                continue;
            };
            let (mut total, mut types) = (0u64, 0u64);
            for &(s, c) in node {
                if !excluded[s as usize] {
                    total += c as u64;
                    types += 1;
                }
            }
            if total == 0 {
                continue;
            }
            let denom = (total + types) as f64;
            for &(s, c) in node {
                if !excluded[s as usize] {
                    out[s as usize] += escape * c as f64 / denom;
                    excluded[s as usize] = true;
                    n_excluded += 1;
                }
            }
            escape *= types as f64 / denom;
        }
        let left = self.alphabet.saturating_sub(n_excluded);
        if left > 0 {
            let each = escape / left as f64;
            for (p, x) in out.iter_mut().zip(excluded) {
                if !x {
                    *p = each;
                }
            }
        }
    }

    /// Probability of `seq[at]` after `seq[..at]` (see [`PpmC::distribution`]).
    pub fn probability(&self, seq: &[u16], at: usize) -> f64 {
        let sym = seq[at] as usize;
        if sym >= self.alphabet {
            return MIN_P;
        }
        let mut out = [0.0; 256];
        self.distribution(seq, at, &mut out);
        out[sym].max(MIN_P)
    }
}

/// Entropy (bits) of a distribution.
fn entropy(p: &[f64]) -> f64 {
    p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.log2()).sum()
}

/// −log2 of `seq[at]` under the long-term model mixed with a short-term model that has learnt
/// `seq[..at]` (IDyOM's "both": each weighted by the inverse of its entropy, so the more certain
/// one leads), then the short-term model learns `seq[at]`.
fn mixed_bits(ltm: &PpmC, stm: &mut PpmC, seq: &[u16], at: usize) -> f64 {
    let (mut a, mut b) = ([0.0; 256], [0.0; 256]);
    let n = ltm.alphabet;
    ltm.distribution(seq, at, &mut a);
    stm.distribution(seq, at, &mut b);
    let (wa, wb) = (
        1.0 / entropy(&a[..n]).max(0.01),
        1.0 / entropy(&b[..n]).max(0.01),
    );
    let sym = (seq[at] as usize).min(n - 1);
    let p = (wa * a[sym] + wb * b[sym]) / (wa + wb);
    stm.learn_at(seq, at);
    -p.max(MIN_P).log2()
}

/// The reference judge: pitch and rhythm (inter-onset-interval class) models.
#[derive(Debug, Clone)]
pub struct ReferenceModel {
    /// Pitch after pitch: MIDI pitches, contexts of up to [`PITCH_ORDER`] previous pitches.
    pub pitch: PpmC,
    /// Inter-onset-interval class after class ([`rhythm_class`]), up to [`RHYTHM_ORDER`].
    pub rhythm: PpmC,
}

/// The bits a reference model gives a continuation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Surprise {
    /// Sum of −log2 p(pitch) over the continuation's notes.
    pub pitch_bits: f64,
    pub pitch_notes: usize,
    /// Sum of −log2 p(inter-onset interval) over the onsets inside the continuation.
    pub rhythm_bits: f64,
    pub rhythm_onsets: usize,
}

/// The inter-onset-interval classes between consecutive notes (one fewer than the notes).
pub fn ioi_classes(notes: &[Note]) -> Vec<u16> {
    notes
        .windows(2)
        .map(|w| rhythm_class(w[1].onset - w[0].onset) as u16)
        .collect()
}

impl ReferenceModel {
    /// Trains both models on `sequences` (every note's pitch; every inter-onset interval: the
    /// last note's class, which is its duration, is left out).
    pub fn train<'a>(sequences: impl IntoIterator<Item = &'a Sequence>) -> Self {
        let mut pitch = PpmC::new(PITCH_ORDER, N_PITCH);
        let mut rhythm = PpmC::new(RHYTHM_ORDER, N_RHYTHM);
        for s in sequences {
            let pitches: Vec<u16> = s.events.iter().map(|e| e.pitch as u16).collect();
            pitch.learn(&pitches);
            let n = s.events.len().saturating_sub(1);
            let iois: Vec<u16> = s.events[..n].iter().map(|e| e.rhythm as u16).collect();
            rhythm.learn(&iois);
        }
        Self { pitch, rhythm }
    }

    /// How surprising `continuation` is after `call`: each pitch given the pitches before it
    /// (the call's included), each inter-onset interval inside the continuation given the
    /// intervals before it (the call's own, then the continuation's; the step from the call into
    /// the continuation is not scored: an answer's start is set by the player's pause). A
    /// short-term model learns the call and then each scored note, and is mixed with the trained
    /// one, so an answer that repeats the call is judged predictable, as a listener hears it.
    pub fn surprise(&self, call: &[Note], continuation: &[Note]) -> Surprise {
        let mut out = Surprise::default();
        let pitches: Vec<u16> = call
            .iter()
            .chain(continuation)
            .map(|n| n.pitch.min(127) as u16)
            .collect();
        let mut stm = PpmC::new(PITCH_ORDER, N_PITCH);
        for at in 0..call.len() {
            stm.learn_at(&pitches, at);
        }
        for at in call.len()..pitches.len() {
            out.pitch_bits += mixed_bits(&self.pitch, &mut stm, &pitches, at);
            out.pitch_notes += 1;
        }
        let mut iois = ioi_classes(call);
        let from = iois.len();
        let mut stm = PpmC::new(RHYTHM_ORDER, N_RHYTHM);
        stm.learn(&iois);
        iois.extend(ioi_classes(continuation));
        for at in from..iois.len() {
            out.rhythm_bits += mixed_bits(&self.rhythm, &mut stm, &iois, at);
            out.rhythm_onsets += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::note::Event;
    use crate::music::KeySignature;

    #[test]
    fn ppm_c_probabilities_sum_to_one_and_follow_the_counts() {
        let mut m = PpmC::new(2, 6);
        m.learn(&[0, 1, 2, 0, 1, 2, 0, 1, 3]);
        for ctx in [vec![], vec![0], vec![0, 1], vec![5, 4]] {
            let total: f64 = (0..6u16)
                .map(|s| {
                    let mut seq = ctx.clone();
                    seq.push(s);
                    m.probability(&seq, ctx.len())
                })
                .sum();
            assert!((total - 1.0).abs() < 1e-9, "context {ctx:?}: {total}");
        }
        // After 0 1, the model has seen 2 twice and 3 once: 2 is likelier, 5 unlikely.
        let p = |s| m.probability(&[0, 1, s], 2);
        assert!(p(2) > p(3), "{} {}", p(2), p(3));
        assert!(p(3) > p(5), "{} {}", p(3), p(5));
    }

    #[test]
    fn a_tune_the_judge_was_taught_surprises_it_less_than_a_random_walk() {
        let scale = [60u8, 62, 64, 65, 67, 65, 64, 62];
        let seq = Sequence {
            events: scale
                .iter()
                .cycle()
                .take(64)
                .map(|&pitch| Event {
                    pitch,
                    rhythm: 5,
                    phase: 0,
                })
                .collect(),
            key: KeySignature::default(),
        };
        let judge = ReferenceModel::train([&seq]);
        let notes = |pitches: &[u8], step: f64| -> Vec<Note> {
            pitches
                .iter()
                .enumerate()
                .map(|(i, &pitch)| Note {
                    pitch,
                    onset: i as f64 * step,
                    duration: step,
                    velocity: 90,
                })
                .collect()
        };
        let call = notes(&scale, 0.5);
        let familiar = judge.surprise(&call, &notes(&scale, 0.5));
        let odd = judge.surprise(&call, &notes(&[61, 70, 55, 66, 73, 58, 63, 68], 0.75));
        assert_eq!(familiar.pitch_notes, 8);
        assert_eq!(familiar.rhythm_onsets, 7);
        assert!(familiar.pitch_bits / 8.0 < 0.5, "{familiar:?}");
        assert!(odd.pitch_bits > familiar.pitch_bits * 10.0, "{odd:?}");
        assert!(odd.rhythm_bits > familiar.rhythm_bits, "{odd:?}");
    }
}
