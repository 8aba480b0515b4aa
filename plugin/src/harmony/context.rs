//! The melody-context classifier: P(chord | the melody around a beat), a log-linear
//! (multinomial logistic) model over the key-relative chords, trained on the same labelled
//! chorales as the HMM and used as its observation model (the posterior divided by the chord's
//! prior is a scaled likelihood, the "hybrid" HMM of speech recognition).
//!
//! Why: the HMM's own observations treat the beat's melody notes as independent given the chord,
//! so adding the neighbouring notes counts the same evidence twice (measured: it lowered the
//! score). A discriminative model weighs correlated features against each other: the on-beat
//! degree, with the place in the bar, the pair it forms with the note before and the note after
//! (passing and neighbour tones), the notes two beats away, the off-beat notes, a note held or
//! repeated across the beat, and the last two beats of the melody (the final cadence).
//!
//! Two classifiers per mode: *offline* (the whole window) and *causal* (what a live harmoniser
//! knows at a beat's start: the melody before the beat and the note sounding at its start).

use super::model::{BeatMelody, PLACES, STATES};
use serde::{Deserialize, Serialize};

/// The 12 degrees plus "no note sounding" (a rest or the melody's edge).
const SYMBOLS: usize = 13;
/// Index of "no note" among the symbols.
const REST: usize = 12;

/// The constant feature (each chord's bias).
const BIAS: usize = 0;
/// The on-beat degree.
const ON: usize = BIAS + 1;
/// The on-beat degree × the place in the bar.
const ON_PLACE: usize = ON + SYMBOLS;
/// (previous beat's on-beat degree, this one's).
const PREVIOUS_ON: usize = ON_PLACE + SYMBOLS * PLACES;
/// The on-beat degree two beats before.
const PREVIOUS_2: usize = PREVIOUS_ON + SYMBOLS * SYMBOLS;
/// The previous beat's off-beat degrees (weighted by their share of the beat).
const PREVIOUS_OFF: usize = PREVIOUS_2 + SYMBOLS;
/// The on-beat degree when the previous beat had the same one and no off-beat notes (a note
/// held or repeated across the beat line).
const REPEATED: usize = PREVIOUS_OFF + 12;
/// Features a causal classifier sees end here.
const CAUSAL_FEATURES: usize = REPEATED + SYMBOLS;
/// (this beat's on-beat degree, the next beat's).
const ON_NEXT: usize = CAUSAL_FEATURES;
/// The on-beat degree two beats after.
const NEXT_2: usize = ON_NEXT + SYMBOLS * SYMBOLS;
/// This beat's off-beat degrees (weighted by their share of the beat).
const OFF: usize = NEXT_2 + SYMBOLS;
/// The on-beat degree of the melody's last beat.
const LAST: usize = OFF + 12;
/// The on-beat degree of the melody's last but one beat.
const PENULTIMATE: usize = LAST + SYMBOLS;
/// The on-beat degree when the next beat has the same one and this beat no off-beat notes.
const HELD_ON: usize = PENULTIMATE + SYMBOLS;
/// [`FeatureSet::WINDOW`]: the degrees heard within [`REACH`] beats (the local key).
const WINDOW: usize = HELD_ON + SYMBOLS;
/// [`FeatureSet::ON_OFF`]: (on-beat degree, off-beat degree of the same beat) pairs.
const ON_OFF: usize = WINDOW + 12;
/// [`FeatureSet::NEXT_PLACE`]: the next beat's on-beat degree × the place in the bar.
const NEXT_PLACE: usize = ON_OFF + SYMBOLS * 12;
/// Number of features.
pub const FEATURES: usize = NEXT_PLACE + SYMBOLS * PLACES;
/// How many beats before (and, offline, after) a beat the window features look.
pub const REACH: usize = 4;

/// Which features the classifiers use (beyond the always-present ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeatureSet {
    /// The last-beat features (offline only).
    pub use_end: bool,
    /// A bit mask of [`Self::WINDOW`], [`Self::ON_OFF`], [`Self::NEXT_PLACE`].
    pub extra: u32,
}

impl FeatureSet {
    /// The degrees heard in the beats around (the local key).
    pub const WINDOW: u32 = 1;
    /// On-beat × off-beat degree pairs (passing tones against the chord).
    pub const ON_OFF: u32 = 2;
    /// The next note × the place in the bar (offline only).
    pub const NEXT_PLACE: u32 = 4;

    /// Whether a block is on.
    fn has(&self, bit: u32) -> bool {
        self.extra & bit != 0
    }
}

/// The symbol of a beat's on-beat note (a beat outside the melody is a rest).
fn symbol(beat: Option<&BeatMelody>) -> usize {
    beat.and_then(|b| b.on_beat)
        .map(|d| d as usize % 12)
        .unwrap_or(REST)
}

/// Whether a beat has off-beat notes.
fn has_off_beat(beat: &BeatMelody) -> bool {
    beat.off_beat.iter().any(|w| *w > 0.0)
}

/// The active features of beat `t` of the key-relative melody `rel` at `place` in the bar:
/// (feature, value) pairs into `out` (cleared first). `causal`: only what is known at the beat's
/// start (beats after `t` and beat `t`'s off-beat notes are not read); `set`: which optional
/// features.
pub fn features(
    rel: &[BeatMelody],
    t: usize,
    place: usize,
    causal: bool,
    set: FeatureSet,
    out: &mut Vec<(u16, f32)>,
) {
    out.clear();
    let at = |k: isize| -> Option<&BeatMelody> {
        let i = t as isize + k;
        if i < 0 {
            None
        } else {
            rel.get(i as usize)
        }
    };
    let d0 = symbol(at(0));
    let d_1 = symbol(at(-1));
    let f = |i: usize| i as u16;
    out.push((f(BIAS), 1.0));
    out.push((f(ON + d0), 1.0));
    out.push((f(ON_PLACE + d0 * PLACES + place % PLACES), 1.0));
    out.push((f(PREVIOUS_ON + d_1 * SYMBOLS + d0), 1.0));
    out.push((f(PREVIOUS_2 + symbol(at(-2))), 1.0));
    if let Some(p) = at(-1) {
        for (d, w) in p.off_beat.iter().enumerate() {
            if *w > 0.0 {
                out.push((f(PREVIOUS_OFF + d), *w));
            }
        }
        if d0 != REST && d_1 == d0 && !has_off_beat(p) {
            out.push((f(REPEATED + d0), 1.0));
        }
    }
    if set.has(FeatureSet::WINDOW) {
        let mut heard = [0f32; 12];
        let ahead = if causal { 0 } else { REACH };
        let (first, last) = (t.saturating_sub(REACH), t + ahead);
        for (b, beat) in rel.iter().enumerate().take(last + 1).skip(first) {
            if let Some(d) = beat.on_beat {
                heard[d as usize % 12] += 1.0;
            }
            if !(causal && b == t) {
                for (d, w) in beat.off_beat.iter().enumerate() {
                    heard[d] += w;
                }
            }
        }
        for (d, w) in heard.iter().enumerate() {
            if *w >= 0.25 {
                out.push((f(WINDOW + d), 1.0));
            }
        }
    }
    if causal {
        return;
    }
    if set.has(FeatureSet::NEXT_PLACE) {
        out.push((f(NEXT_PLACE + symbol(at(1)) * PLACES + place % PLACES), 1.0));
    }
    if set.has(FeatureSet::ON_OFF) {
        if let Some(b) = at(0) {
            for (d, w) in b.off_beat.iter().enumerate() {
                if *w > 0.0 {
                    out.push((f(ON_OFF + d0 * 12 + d), *w));
                }
            }
        }
    }
    let d1 = symbol(at(1));
    out.push((f(ON_NEXT + d0 * SYMBOLS + d1), 1.0));
    out.push((f(NEXT_2 + symbol(at(2))), 1.0));
    if let Some(b) = at(0) {
        for (d, w) in b.off_beat.iter().enumerate() {
            if *w > 0.0 {
                out.push((f(OFF + d), *w));
            }
        }
        if d0 != REST && d1 == d0 && !has_off_beat(b) {
            out.push((f(HELD_ON + d0), 1.0));
        }
    }
    if set.use_end && !rel.is_empty() {
        // The last beat with a note ends the melody (trailing rests do not count).
        let last = rel.iter().rposition(|b| b.on_beat.is_some());
        if last == Some(t) {
            out.push((f(LAST + d0), 1.0));
        } else if last == Some(t + 1) {
            out.push((f(PENULTIMATE + d0), 1.0));
        }
    }
}

/// How the classifiers are trained.
#[derive(Debug, Clone, Copy)]
pub struct Training {
    /// L2 penalty per example on the weights of the active features.
    pub l2: f32,
    /// L1 penalty per example on the weights of the active features (drives weights to exactly
    /// zero: what keeps the file small).
    pub l1: f32,
    /// Passes over the data.
    pub epochs: usize,
    /// The optional features.
    pub set: FeatureSet,
    /// Weights smaller than this are left out of the file (keeps it small).
    pub prune: f32,
    /// Chords seen fewer times than this in a mode's training data are not classes of its
    /// classifiers (their probability is left at [`OUTSIDE`]'s).
    pub min_count: u32,
}

/// The score (before normalising) of a chord that is no class of the classifier.
const OUTSIDE: f32 = -12.0;

/// The classifiers' weights as stored: (mode, 0 offline / 1 causal, state, feature, weight in
/// hundredths); weights under [`Training::prune`] are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContextFile {
    /// The non-zero weights.
    pub weights: Vec<(u8, u8, u8, u16, i16)>,
    /// The classes (states) of each mode's classifiers; empty = every state.
    pub classes: [Vec<u8>; 2],
}

/// The classifiers, dense: `[mode][offline 0 / causal 1][feature * STATES + state]` (allocated at
/// load, 4 × [`FEATURES`] × [`STATES`] floats, about 1 MB).
#[derive(Debug, Clone)]
pub struct Context {
    /// The weights.
    weights: [[Vec<f32>; 2]; 2],
    /// Per mode, whether each state is a class (else its score is [`OUTSIDE`]).
    is_class: [Vec<bool>; 2],
}

/// One training example: mode index, the key-relative melody and each beat's key-relative state.
pub struct Sequence {
    /// 0 major, 1 minor.
    pub mode: usize,
    /// The melody in degrees above the tonic.
    pub melody: Vec<BeatMelody>,
    /// The state of each beat.
    pub states: Vec<usize>,
}

/// A small deterministic generator for the training order.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

impl Context {
    /// Trains both classifiers of both modes (Adagrad on the log-loss, L2 on the active
    /// features' weights), deterministic.
    pub fn train(data: &[Sequence], how: Training) -> ContextFile {
        let mut file = ContextFile::default();
        for m in 0..2 {
            let mut seen = vec![0u32; STATES];
            for seq in data.iter().filter(|s| s.mode == m) {
                for &s in &seq.states {
                    seen[s.min(STATES - 1)] += 1;
                }
            }
            let is_class: Vec<bool> = seen.iter().map(|n| *n >= how.min_count.max(1)).collect();
            file.classes[m] = (0..STATES)
                .filter(|s| is_class[*s])
                .map(|s| s as u8)
                .collect();
            for causal in [false, true] {
                let mut items: Vec<(Vec<(u16, f32)>, usize)> = Vec::new();
                let mut feats = Vec::new();
                for seq in data.iter().filter(|s| s.mode == m) {
                    for t in 0..seq.melody.len().min(seq.states.len()) {
                        if causal {
                            // What is known at the beat's start: the beats before (as far as
                            // the features reach) and the note sounding at its start.
                            let from = t.saturating_sub(REACH);
                            let mut known = seq.melody[from..=t].to_vec();
                            known[t - from].off_beat = [0.0; 12];
                            known[t - from].next = None;
                            features(&known, t - from, t % PLACES, true, how.set, &mut feats);
                        } else {
                            features(&seq.melody, t, t % PLACES, false, how.set, &mut feats);
                        }
                        items.push((feats.clone(), seq.states[t]));
                    }
                }
                let w = fit(&items, &is_class, how);
                for fi in 0..FEATURES {
                    for s in 0..STATES {
                        let x = w[fi * STATES + s];
                        let v = (x * 100.0).round();
                        if x.abs() >= how.prune && v != 0.0 {
                            file.weights.push((
                                m as u8,
                                causal as u8,
                                s as u8,
                                fi as u16,
                                v.clamp(i16::MIN as f32, i16::MAX as f32) as i16,
                            ));
                        }
                    }
                }
            }
        }
        file
    }

    /// The dense classifiers of a file; an error for out-of-range entries.
    pub fn from_file(file: &ContextFile) -> Result<Context, String> {
        let mut weights: [[Vec<f32>; 2]; 2] =
            std::array::from_fn(|_| std::array::from_fn(|_| vec![0f32; FEATURES * STATES]));
        for &(m, c, s, f, w) in &file.weights {
            if m > 1 || c > 1 || s as usize >= STATES || f as usize >= FEATURES {
                return Err(format!(
                    "context weight out of range (mode {m}, causal {c}, state {s}, feature {f})"
                ));
            }
            weights[m as usize][c as usize][f as usize * STATES + s as usize] = w as f32 / 100.0;
        }
        let mut is_class = [vec![true; STATES], vec![true; STATES]];
        for (m, classes) in file.classes.iter().enumerate() {
            if classes.is_empty() {
                continue;
            }
            is_class[m].fill(false);
            for &s in classes {
                if s as usize >= STATES {
                    return Err(format!("context class {s} out of range"));
                }
                is_class[m][s as usize] = true;
            }
        }
        Ok(Context { weights, is_class })
    }

    /// log P(state | features) for every state into `out` (length [`STATES`]).
    pub fn log_posterior(&self, mode: usize, causal: bool, feats: &[(u16, f32)], out: &mut [f32]) {
        let w = &self.weights[mode.min(1)][causal as usize];
        scores(w, feats, &self.is_class[mode.min(1)], out);
        log_softmax(out);
    }
}

/// The classifier's scores of every state for `feats` into `out` ([`OUTSIDE`] for non-classes).
fn scores(w: &[f32], feats: &[(u16, f32)], is_class: &[bool], out: &mut [f32]) {
    out.fill(0.0);
    for &(f, v) in feats {
        let row = &w[f as usize * STATES..(f as usize + 1) * STATES];
        for (o, x) in out.iter_mut().zip(row) {
            *o += v * x;
        }
    }
    for (o, c) in out.iter_mut().zip(is_class) {
        if !c {
            *o = OUTSIDE;
        }
    }
}

/// Turns scores into log-probabilities in place.
fn log_softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        let u = -(x.len().max(1) as f32).ln();
        x.iter_mut().for_each(|v| *v = u);
        return;
    }
    let sum: f32 = x.iter().map(|v| (v - max).exp()).sum();
    let norm = max + sum.ln();
    x.iter_mut().for_each(|v| *v -= norm);
}

/// Multinomial logistic regression by Adagrad: weights `[feature * STATES + state]`.
fn fit(items: &[(Vec<(u16, f32)>, usize)], is_class: &[bool], how: Training) -> Vec<f32> {
    let mut w = vec![0f32; FEATURES * STATES];
    let mut g2 = vec![1e-6f32; FEATURES * STATES];
    const RATE: f32 = 0.3;
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut p = vec![0f32; STATES];
    for _ in 0..how.epochs {
        for i in (1..order.len()).rev() {
            let j = (xorshift(&mut rng) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for &i in &order {
            let (feats, y) = &items[i];
            if !is_class[*y] {
                continue;
            }
            scores(&w, feats, is_class, &mut p);
            log_softmax(&mut p);
            p.iter_mut().for_each(|x| *x = x.exp());
            p[*y] -= 1.0;
            for &(f, v) in feats {
                let base = f as usize * STATES;
                for s in (0..STATES).filter(|s| is_class[*s]) {
                    let k = base + s;
                    let g = p[s] * v + how.l2 * w[k];
                    g2[k] += g * g;
                    let step = RATE / g2[k].sqrt();
                    let x = w[k] - step * g;
                    // The L1 step (Adagrad's composite update): shrink toward 0, stop there.
                    w[k] = x.signum() * (x.abs() - step * how.l1).max(0.0);
                }
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(d: Option<u8>) -> BeatMelody {
        BeatMelody {
            on_beat: d,
            ..BeatMelody::default()
        }
    }

    #[test]
    fn causal_features_ignore_the_future() {
        let mut a = vec![beat(Some(0)), beat(Some(2)), beat(Some(4)), beat(Some(5))];
        let mut f1 = Vec::new();
        let mut f2 = Vec::new();
        let end = FeatureSet {
            use_end: true,
            extra: FeatureSet::WINDOW | FeatureSet::ON_OFF | FeatureSet::NEXT_PLACE,
        };
        features(&a, 1, 1, true, end, &mut f1);
        a[2].on_beat = Some(7);
        a[1].off_beat[9] = 0.5;
        features(&a, 1, 1, true, end, &mut f2);
        assert_eq!(f1, f2);
        features(&a, 1, 1, false, end, &mut f2);
        assert!(f2.len() > f1.len());
        assert!(f2.iter().all(|(f, _)| (*f as usize) < FEATURES));
        // The last beat is marked only offline with use_end.
        features(&a, 3, 3, false, end, &mut f1);
        assert!(f1.iter().any(|(f, _)| *f as usize == LAST + 5));
        features(&a, 3, 3, false, FeatureSet::default(), &mut f1);
        assert!(!f1
            .iter()
            .any(|(f, _)| (LAST..PENULTIMATE + SYMBOLS).contains(&(*f as usize))));
    }

    #[test]
    fn learns_a_separable_rule_and_round_trips() {
        // Major: degree 0 → state 1, degree 7 → state 2 (whatever the neighbours).
        let mut seqs = Vec::new();
        for k in 0..20 {
            let degs = [0u8, 7, 7, 0, (k % 12) as u8];
            let melody: Vec<BeatMelody> = degs.iter().map(|d| beat(Some(*d))).collect();
            let states = degs
                .iter()
                .map(|d| match d {
                    0 => 1,
                    7 => 2,
                    _ => 3,
                })
                .collect();
            seqs.push(Sequence {
                mode: 0,
                melody,
                states,
            });
        }
        let how = Training {
            l2: 1e-4,
            epochs: 10,
            set: FeatureSet::default(),
            l1: 0.0,
            prune: 0.0,
            min_count: 1,
        };
        let file = Context::train(&seqs, how);
        let c = Context::from_file(&file).unwrap();
        let mel = [beat(Some(3)), beat(Some(7)), beat(Some(0))];
        let mut f = Vec::new();
        let mut out = vec![0f32; STATES];
        for causal in [false, true] {
            features(&mel, 1, 1, causal, FeatureSet::default(), &mut f);
            c.log_posterior(0, causal, &f, &mut out);
            let total: f32 = out.iter().map(|x| x.exp()).sum();
            assert!((total - 1.0).abs() < 1e-3);
            let best = (0..STATES)
                .max_by(|a, b| out[*a].total_cmp(&out[*b]))
                .unwrap();
            assert_eq!(best, 2, "causal {causal}");
        }
        // Only seen chords are classes; the rest score far below.
        assert_eq!(file.classes[0], vec![1, 2, 3]);
        assert!(file.classes[1].is_empty());
        assert!(out[50] < out[2] - 5.0);
        let mut bad = file.clone();
        bad.weights.push((0, 0, 200, 0, 1));
        assert!(Context::from_file(&bad).is_err());
    }
}
