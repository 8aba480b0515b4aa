//! The [`Predictor`] trait and its first implementation: a multiple-viewpoint variable-order
//! Markov model ([`MultiViewpoint`]) with a long-term model learnt from a corpus and a short-term
//! model learnt online, mixed by entropy-weighted combination (after Pearce's IDyOM).
//!
//! Baselines (unigram, bigram, single-viewpoint PPM) are the same machinery with a smaller
//! [`ModelConfig`], so evaluation compares like with like.

use super::note::{Event, N_PITCH, N_RHYTHM};
use super::ppm::{Escape, Ppm, Walk, MAX_ORDER_LIMIT};
use super::viewpoints::UNDEFINED;
use super::viewpoints::{History, Target, Viewpoint};
use std::sync::Arc;

/// A distribution over the next note: pitch (over a window of MIDI pitches) and rhythm class.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Lowest pitch of the window; `pitch[i]` is the probability of `pitch_lo + i`.
    pub pitch_lo: u8,
    pub pitch: Vec<f64>,
    pub rhythm: [f64; N_RHYTHM],
}

impl Prediction {
    /// A prediction over the pitches `lo..=hi` (the whole MIDI range for evaluation).
    pub fn new(lo: u8, hi: u8) -> Self {
        let (lo, hi) = (lo.min(127), hi.min(127));
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        Self {
            pitch_lo: lo,
            pitch: vec![0.0; (hi - lo) as usize + 1],
            rhythm: [0.0; N_RHYTHM],
        }
    }

    pub fn full_range() -> Self {
        Self::new(0, (N_PITCH - 1) as u8)
    }

    pub fn pitch_hi(&self) -> u8 {
        self.pitch_lo + (self.pitch.len() - 1) as u8
    }

    /// Probability of `pitch` (0 outside the window).
    pub fn p_pitch(&self, pitch: u8) -> f64 {
        pitch
            .checked_sub(self.pitch_lo)
            .and_then(|i| self.pitch.get(i as usize))
            .copied()
            .unwrap_or(0.0)
    }
}

/// Anything that predicts the next note of a melody.
pub trait Predictor {
    fn name(&self) -> String;
    /// The distribution of the event following `history` (using `history.next_phase` for its onset
    /// phase), written into `out` (both distributions normalised over their windows).
    fn predict(&mut self, history: &History, out: &mut Prediction);
    /// Learns that `event` followed `history` (short-term, online learning). Static models ignore it.
    fn learn(&mut self, _history: &History, _event: &Event) {}
    /// Forgets what was learnt online (a new piece, a new session).
    fn reset_session(&mut self) {}
}

/// How several distributions over the same targets are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Combination {
    /// Weighted arithmetic mean.
    Arithmetic,
    /// Weighted geometric mean, renormalised.
    Geometric,
}

/// The hyper-parameters of a [`MultiViewpoint`] model. Stored in model files.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelConfig {
    /// Viewpoints predicting pitch.
    pub pitch_viewpoints: Vec<Viewpoint>,
    /// Viewpoints predicting the rhythm class.
    pub rhythm_viewpoints: Vec<Viewpoint>,
    /// Longest context of the long-term model.
    pub max_order: usize,
    /// Longest context of the short-term model.
    pub stm_max_order: usize,
    pub ltm_escape: Escape,
    pub stm_escape: Escape,
    /// Entropy-weighting exponent between viewpoints (0 = equal weights).
    pub viewpoint_bias: f64,
    pub viewpoint_combination: Combination,
    /// Entropy-weighting exponent between the long- and short-term models.
    pub stm_bias: f64,
    pub stm_combination: Combination,
}

/// Defaults chosen on a validation split of the training files (see `continuo eval --baselines
/// --validation --config`): arithmetic mixing beat geometric for both levels, low entropy biases
/// beat high ones, order 6 beat 3, 5 and 7 once the short-term model is added.
impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            pitch_viewpoints: vec![
                Viewpoint::Pitch,
                Viewpoint::Interval,
                Viewpoint::IntervalDegree,
                Viewpoint::TonicPitch,
            ],
            rhythm_viewpoints: vec![Viewpoint::Rhythm, Viewpoint::RhythmPhase],
            max_order: 6,
            stm_max_order: 7,
            ltm_escape: Escape::C,
            stm_escape: Escape::X,
            viewpoint_bias: 0.5,
            viewpoint_combination: Combination::Arithmetic,
            stm_bias: 0.75,
            stm_combination: Combination::Arithmetic,
        }
    }
}

impl ModelConfig {
    /// A single-viewpoint baseline: `order` 0 is a (smoothed) unigram, 1 a bigram.
    pub fn baseline(order: usize) -> Self {
        Self {
            pitch_viewpoints: vec![Viewpoint::Pitch],
            rhythm_viewpoints: vec![Viewpoint::Rhythm],
            max_order: order,
            stm_max_order: order,
            ..Self::default()
        }
    }

    /// All viewpoints, pitch ones first.
    pub fn viewpoints(&self) -> impl Iterator<Item = Viewpoint> + '_ {
        self.pitch_viewpoints
            .iter()
            .chain(self.rhythm_viewpoints.iter())
            .copied()
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.pitch_viewpoints.is_empty() || self.rhythm_viewpoints.is_empty() {
            return Err("a model needs at least one pitch and one rhythm viewpoint".into());
        }
        if self
            .pitch_viewpoints
            .iter()
            .any(|v| v.target() != Target::Pitch)
            || self
                .rhythm_viewpoints
                .iter()
                .any(|v| v.target() != Target::Rhythm)
        {
            return Err("a viewpoint is listed under the wrong target".into());
        }
        if self.max_order > MAX_ORDER_LIMIT || self.stm_max_order > MAX_ORDER_LIMIT {
            return Err(format!("context orders are limited to {MAX_ORDER_LIMIT}"));
        }
        for b in [self.viewpoint_bias, self.stm_bias] {
            if !(0.0..=16.0).contains(&b) {
                return Err(format!("bias {b} outside 0..=16"));
            }
        }
        Ok(())
    }
}

/// The long-term model: one PPM per viewpoint, learnt from a corpus; read-only once trained.
#[derive(Debug, Clone)]
pub struct LongTermModel {
    pub config: ModelConfig,
    /// One per viewpoint of `config.viewpoints()`, in that order. Shared (`Arc`), so a model of
    /// some of the viewpoints (the styles' recommendation score) costs no copy of the counts.
    pub ppms: Vec<Arc<Ppm>>,
}

impl LongTermModel {
    pub fn new(config: ModelConfig) -> Self {
        let ppms = config
            .viewpoints()
            .map(|_| Arc::new(Ppm::new(config.max_order)))
            .collect();
        Self { config, ppms }
    }

    /// Counts every event of a melody.
    pub fn learn_melody(&mut self, history: &History) {
        for (v, ppm) in self.config.viewpoints().zip(self.ppms.iter_mut()) {
            let ppm = Arc::make_mut(ppm);
            let syms = &history.symbols[v.index()];
            for i in 0..syms.len() {
                ppm.add(&syms[..i], syms[i]);
            }
        }
    }

    /// Total number of contexts over all viewpoints.
    pub fn contexts(&self) -> usize {
        self.ppms.iter().map(|p| p.contexts()).sum()
    }
}

/// The multiple-viewpoint predictor: long-term model (optional) + short-term model (optional).
#[derive(Debug, Clone)]
pub struct MultiViewpoint {
    name: String,
    ltm: Arc<LongTermModel>,
    use_ltm: bool,
    /// Short-term model, one PPM per viewpoint, or `None` when disabled.
    stm: Option<Vec<Ppm>>,
    /// Scratch distributions, one per viewpoint and model (reused, no allocation per call once
    /// warmed up).
    rows: Vec<Vec<f64>>,
    logs: Vec<Vec<f64>>,
    ltm_mix: Vec<f64>,
    stm_mix: Vec<f64>,
    /// The contexts of the history being predicted, one walk per (model, viewpoint) slot.
    walks: Vec<Walk>,
    /// Walks by history length, to step from the previous length instead of hashing every
    /// context again (the sampler extends a history one note at a time).
    levels: Vec<Level>,
    tail: Vec<u16>,
    /// Bumped whenever the short-term model changes (its walks are then stale).
    stm_gen: u64,
}

/// The walks made for one history length, valid for histories ending in `tail`.
#[derive(Debug, Clone, Default)]
struct Level {
    /// The last [`MultiViewpoint::window`] symbols of every viewpoint (padded with `UNDEFINED`).
    tail: Vec<u16>,
    /// Whether the long-term walks are set.
    ltm: bool,
    /// The short-term model generation the short-term walks were made for (`u64::MAX`: none).
    stm_gen: u64,
    walks: Vec<Walk>,
    /// The last pitch prediction made at this length, what it was made for, and the tail it was
    /// made for (only the pitch viewpoints' part matters).
    pitch_tag: Option<PitchTag>,
    pitch_tail: Vec<u16>,
    pitch: Vec<f64>,
    /// The same for rhythm.
    rhythm_tag: Option<RhythmTag>,
    rhythm_tail: Vec<u16>,
    rhythm: [f64; N_RHYTHM],
}

/// Everything besides the pitch viewpoints' contexts that a pitch prediction depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PitchTag {
    prev_pitch: Option<u8>,
    key: crate::music::KeySignature,
    lo: usize,
    n: usize,
    stm_gen: u64,
}

/// Everything besides the rhythm viewpoints' contexts that a rhythm prediction depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RhythmTag {
    next_phase: u8,
    stm_gen: u64,
}

impl MultiViewpoint {
    /// `use_stm` adds a short-term model learnt with [`Predictor::learn`].
    pub fn new(name: impl Into<String>, ltm: Arc<LongTermModel>, use_stm: bool) -> Self {
        let stm = use_stm.then(|| {
            ltm.config
                .viewpoints()
                .map(|_| Ppm::new(ltm.config.stm_max_order))
                .collect()
        });
        let n = ltm.ppms.len() * 2;
        Self {
            name: name.into(),
            ltm,
            use_ltm: true,
            stm,
            rows: vec![Vec::new(); n],
            logs: vec![Vec::new(); n],
            ltm_mix: Vec::new(),
            stm_mix: Vec::new(),
            walks: vec![Walk::default(); n],
            levels: Vec::new(),
            tail: Vec::new(),
            stm_gen: 0,
        }
    }

    /// A short-term-only model (nothing learnt from a corpus).
    pub fn short_term_only(config: ModelConfig) -> Self {
        let mut m = Self::new(
            "short-term only",
            Arc::new(LongTermModel::new(config)),
            true,
        );
        m.use_ltm = false;
        m
    }

    pub fn long_term(&self) -> &Arc<LongTermModel> {
        &self.ltm
    }

    /// Swaps the long-term model and keeps the short-term one, when both models see the notes
    /// through the same viewpoints and short-term order (the short-term counts are kept per
    /// viewpoint). Returns `false`, changing nothing, when they do not.
    pub fn set_long_term(&mut self, ltm: Arc<LongTermModel>) -> bool {
        let (old, new) = (&self.ltm.config, &ltm.config);
        if old.pitch_viewpoints != new.pitch_viewpoints
            || old.rhythm_viewpoints != new.rhythm_viewpoints
            || old.stm_max_order != new.stm_max_order
        {
            return false;
        }
        self.ltm = ltm;
        // The stored walks and distributions were made with the old counts.
        self.levels.clear();
        true
    }

    pub fn has_stm(&self) -> bool {
        self.stm.is_some()
    }

    /// Whether the short-term model has learnt anything yet.
    pub fn stm_is_empty(&self) -> bool {
        self.stm
            .as_ref()
            .is_none_or(|s| s.iter().all(Ppm::is_empty))
    }

    /// How many trailing symbols of each viewpoint decide the walks: the longest context order.
    fn window(&self) -> usize {
        self.ltm
            .ppms
            .iter()
            .map(|p| &**p)
            .chain(self.stm.iter().flatten())
            .map(Ppm::max_order)
            .max()
            .unwrap_or(0)
    }

    /// Writes the last `window` symbols of every viewpoint of `history.symbols[..len]` to `out`.
    fn fill_tail(&self, history: &History, len: usize, out: &mut Vec<u16>) {
        let w = self.window();
        out.clear();
        for v in self.ltm.config.viewpoints() {
            let syms = &history.symbols[v.index()][..len];
            let k = w.min(len);
            out.extend(std::iter::repeat_n(UNDEFINED, w - k));
            out.extend_from_slice(&syms[len - k..]);
        }
    }

    /// Sets `self.walks` to the contexts of `history` that each model has counts for: copied
    /// when this history's ending was walked before, stepped from the walks one note shorter when
    /// those are known, hashed from scratch otherwise. All three give the same walks.
    fn update_walks(&mut self, history: &History) {
        let len = history.len();
        let n_vp = self.ltm.ppms.len();
        if self.levels.len() <= len {
            self.levels.resize_with(len + 1, || Level {
                stm_gen: u64::MAX,
                ..Default::default()
            });
        }
        let mut tail = std::mem::take(&mut self.tail);
        let mut ltm_done = false;
        let mut stm_done = self.stm.is_none();
        self.fill_tail(history, len, &mut tail);
        let level = &self.levels[len];
        if level.tail == tail {
            if level.ltm {
                self.walks[..n_vp].copy_from_slice(&level.walks[..n_vp]);
                ltm_done = true;
            }
            if !stm_done && level.stm_gen == self.stm_gen {
                self.walks[n_vp..].copy_from_slice(&level.walks[n_vp..]);
                stm_done = true;
            }
        }
        if !(ltm_done && stm_done) && len > 0 {
            let mut prev_tail = std::mem::take(&mut self.levels[len].tail);
            self.fill_tail(history, len - 1, &mut prev_tail);
            let prev = &self.levels[len - 1];
            if prev.tail == prev_tail {
                let ltm_prev = prev.ltm && !ltm_done;
                let stm_prev = !stm_done && prev.stm_gen == self.stm_gen;
                for (vi, v) in self.ltm.config.viewpoints().enumerate() {
                    let sym = history.symbols[v.index()][len - 1];
                    if ltm_prev {
                        let (from, to) = (&prev.walks[vi], &mut self.walks[vi]);
                        if !self.ltm.ppms[vi].step(from, sym, to) {
                            self.ltm.ppms[vi].walk(&history.symbols[v.index()], to);
                        }
                    }
                    if let (true, Some(stm)) = (stm_prev, &self.stm) {
                        let slot = n_vp + vi;
                        let (from, to) = (&prev.walks[slot], &mut self.walks[slot]);
                        if !stm[vi].step(from, sym, to) {
                            stm[vi].walk(&history.symbols[v.index()], to);
                        }
                    }
                }
                ltm_done |= ltm_prev;
                stm_done |= stm_prev;
            }
            self.levels[len].tail = prev_tail;
        }
        for (vi, v) in self.ltm.config.viewpoints().enumerate() {
            let ctx = &history.symbols[v.index()];
            if !ltm_done {
                self.ltm.ppms[vi].walk(ctx, &mut self.walks[vi]);
            }
            if let (false, Some(stm)) = (stm_done, &self.stm) {
                stm[vi].walk(ctx, &mut self.walks[n_vp + vi]);
            }
        }
        let level = &mut self.levels[len];
        level.tail.clone_from(&tail);
        level.ltm = true;
        level.stm_gen = if self.stm.is_some() {
            self.stm_gen
        } else {
            u64::MAX
        };
        level.walks.clone_from(&self.walks);
        self.tail = tail;
    }

    /// Predicts one target (pitch or rhythm) into `out` (length = window size, starting at `lo`).
    /// `self.walks` must be up to date for `history`.
    fn predict_target(&mut self, history: &History, target: Target, lo: usize, out: &mut [f64]) {
        let config = &self.ltm.config;
        let n_vp = self.ltm.ppms.len();
        let n = out.len();
        let prev = history.last().copied();
        let (key, phase) = (history.key, history.next_phase);
        let mut mixes_done = [false; 2];
        for (model, done) in mixes_done.iter_mut().enumerate() {
            let (ltm_ppms, stm_ppms, escape): (&[Arc<Ppm>], &[Ppm], _) = match model {
                0 if self.use_ltm => (&self.ltm.ppms, &[], config.ltm_escape),
                1 => match &self.stm {
                    Some(s) => (&[], s, config.stm_escape),
                    None => continue,
                },
                _ => continue,
            };
            let mut used = 0;
            let mut weights = [0.0f64; 8];
            let mut which = [0usize; 8];
            for (vi, v) in config.viewpoints().enumerate() {
                if v.target() != target || used == weights.len() {
                    continue;
                }
                let needs_prev = matches!(v, Viewpoint::Interval | Viewpoint::IntervalDegree);
                if needs_prev && prev.is_none() {
                    continue;
                }
                let slot = model * n_vp + vi;
                let row = &mut self.rows[slot];
                row.resize(n, 0.0);
                let logs = &mut self.logs[slot];
                logs.resize(n, 0.0);
                let map = |s: u16| {
                    v.target_of(s, prev.as_ref(), phase, key)
                        .and_then(|t| (t as usize).checked_sub(lo))
                        .filter(|&i| i < n)
                };
                let inverse = |i: usize| {
                    let e = match target {
                        Target::Pitch => Event {
                            pitch: (lo + i).min(127) as u8,
                            rhythm: 0,
                            phase,
                        },
                        Target::Rhythm => Event {
                            pitch: 0,
                            rhythm: i as u8,
                            phase,
                        },
                    };
                    v.symbol(prev.as_ref(), &e, key)
                };
                let ppm: &Ppm = match (ltm_ppms.get(vi), stm_ppms.get(vi)) {
                    (Some(p), _) => p,
                    (None, Some(p)) => p,
                    (None, None) => continue,
                };
                ppm.predict_walk(&self.walks[slot], escape, map, inverse, row);
                let h = if config.viewpoint_combination == Combination::Geometric {
                    let mut h = 0.0;
                    for (p, l) in row.iter().zip(logs.iter_mut()) {
                        *l = fast_log2(*p);
                        h -= *p * *l;
                    }
                    h
                } else {
                    entropy_grouped(row)
                };
                weights[used] = entropy_weight(h, n, config.viewpoint_bias);
                which[used] = slot;
                used += 1;
            }
            if used == 0 {
                continue;
            }
            let mix = if model == 0 {
                &mut self.ltm_mix
            } else {
                &mut self.stm_mix
            };
            mix.resize(n, 0.0);
            combine(
                &self.rows,
                &self.logs,
                &which[..used],
                &weights[..used],
                config.viewpoint_combination,
                mix,
            );
            *done = true;
        }
        match mixes_done {
            [true, true] => {
                // Long- and short-term models, weighted by their entropies.
                let mut w = [0.0; 2];
                for (wi, mix) in w.iter_mut().zip([&self.ltm_mix, &self.stm_mix]) {
                    *wi = entropy_weight(entropy(mix), n, config.stm_bias);
                }
                let (a, b) = (&self.ltm_mix, &self.stm_mix);
                match config.stm_combination {
                    Combination::Arithmetic => {
                        let s = w[0] + w[1];
                        for (o, (&pa, &pb)) in out.iter_mut().zip(a.iter().zip(b.iter())) {
                            *o = (w[0] * pa + w[1] * pb) / s;
                        }
                    }
                    Combination::Geometric => {
                        let s = w[0] + w[1];
                        let mut sum = 0.0;
                        for (o, (&pa, &pb)) in out.iter_mut().zip(a.iter().zip(b.iter())) {
                            *o = fast_exp2((w[0] * fast_log2(pa) + w[1] * fast_log2(pb)) / s);
                            sum += *o;
                        }
                        normalise(out, sum);
                    }
                }
            }
            [true, false] => out.copy_from_slice(&self.ltm_mix),
            [false, true] => out.copy_from_slice(&self.stm_mix),
            [false, false] => out.iter_mut().for_each(|p| *p = 1.0 / n as f64),
        }
    }
}

impl Predictor for MultiViewpoint {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn predict(&mut self, history: &History, out: &mut Prediction) {
        self.update_walks(history);
        // The pitch distribution depends only on the pitch viewpoints' contexts (and the previous
        // pitch, the key, the window), the rhythm one only on the rhythm viewpoints' contexts and
        // the next onset phase: when those match what this length was last predicted for (the
        // sampler's candidates often share their rhythm, sometimes their first notes), the
        // stored distribution is the one computing it again would give.
        let len = history.len();
        let split = self.ltm.config.pitch_viewpoints.len() * self.window();
        let lo = out.pitch_lo as usize;
        let pitch_tag = PitchTag {
            prev_pitch: history.last().map(|e| e.pitch),
            key: history.key,
            lo,
            n: out.pitch.len(),
            stm_gen: self.stm_gen,
        };
        let level = &self.levels[len];
        if level.pitch_tag == Some(pitch_tag) && level.pitch_tail[..split] == self.tail[..split] {
            out.pitch.copy_from_slice(&level.pitch);
        } else {
            let mut pitch = std::mem::take(&mut out.pitch);
            self.predict_target(history, Target::Pitch, lo, &mut pitch);
            out.pitch = pitch;
            let level = &mut self.levels[len];
            level.pitch_tag = Some(pitch_tag);
            level.pitch_tail.clone_from(&self.tail);
            level.pitch.clone_from(&out.pitch);
        }
        let rhythm_tag = RhythmTag {
            next_phase: history.next_phase,
            stm_gen: self.stm_gen,
        };
        let level = &self.levels[len];
        if level.rhythm_tag == Some(rhythm_tag) && level.rhythm_tail[split..] == self.tail[split..]
        {
            out.rhythm = level.rhythm;
        } else {
            self.predict_target(history, Target::Rhythm, 0, &mut out.rhythm);
            let level = &mut self.levels[len];
            level.rhythm_tag = Some(rhythm_tag);
            level.rhythm_tail.clone_from(&self.tail);
            level.rhythm = out.rhythm;
        }
    }

    fn learn(&mut self, history: &History, event: &Event) {
        let Some(stm) = &mut self.stm else { return };
        self.stm_gen += 1;
        for (v, ppm) in self.ltm.config.viewpoints().zip(stm.iter_mut()) {
            let sym = history.symbol_of_next(v, event);
            ppm.add(&history.symbols[v.index()], sym);
        }
    }

    fn reset_session(&mut self) {
        if let Some(stm) = &mut self.stm {
            stm.iter_mut().for_each(Ppm::clear);
            self.stm_gen += 1;
        }
    }
}

/// Pearce's entropy weight of a whole distribution over `n` targets (`(H / H_max)^-bias`), for
/// mixing whole predictors ([`super::neural::mix::Mixture`]).
pub fn entropy_weight_of(p: &[f64], n: usize, bias: f64) -> f64 {
    entropy_weight(entropy(p), n, bias)
}

/// The entropy of a whole distribution over `n` targets relative to the most it can be
/// (`H / H_max`, clamped to 1e-3..=1 as in the entropy weight): the learnt mix's feature
/// ([`super::neural::gate`]).
pub fn relative_entropy_of(p: &[f64], n: usize) -> f64 {
    let hmax = (n.max(2) as f64).log2();
    (entropy(p) / hmax).clamp(1e-3, 1.0)
}

/// Pearce's entropy weight: `(H / H_max)^-bias`.
#[inline]
fn entropy_weight(h: f64, n: usize, bias: f64) -> f64 {
    let hmax = (n.max(2) as f64).log2();
    let rel = (h / hmax).clamp(1e-3, 1.0);
    if bias == 1.0 {
        1.0 / rel
    } else if bias == 0.5 {
        1.0 / rel.sqrt()
    } else {
        fast_exp2(-bias * fast_log2(rel))
    }
}

/// [`entropy`] for distributions where many entries share the smallest value (a smoothed
/// model's row: every target no context has seen gets the same escape share), which it counts
/// once instead of taking its logarithm again for every entry.
#[inline]
fn entropy_grouped(p: &[f64]) -> f64 {
    let floor = p.iter().copied().fold(f64::INFINITY, f64::min);
    let mut h = 0.0;
    let mut at_floor = 0usize;
    for &x in p {
        if x == floor {
            at_floor += 1;
        } else {
            h -= x * fast_log2(x);
        }
    }
    if at_floor > 0 {
        h -= at_floor as f64 * floor * fast_log2(floor);
    }
    h
}

/// Entropy in bits of a distribution.
#[inline]
fn entropy(p: &[f64]) -> f64 {
    // Two running sums let consecutive iterations overlap.
    let mut h = [0.0f64; 2];
    let mut pairs = p.chunks_exact(2);
    for c in &mut pairs {
        h[0] -= c[0] * fast_log2(c[0]);
        h[1] -= c[1] * fast_log2(c[1]);
    }
    for &x in pairs.remainder() {
        h[0] -= x * fast_log2(x);
    }
    h[0] + h[1]
}

fn normalise(out: &mut [f64], sum: f64) {
    if sum > 0.0 && sum.is_finite() {
        let inv = 1.0 / sum;
        out.iter_mut().for_each(|p| *p *= inv);
    } else {
        let u = 1.0 / out.len().max(1) as f64;
        out.iter_mut().for_each(|p| *p = u);
    }
}

/// Weighted combination of the distributions `rows[which[i]]` (with their log2 in `logs`).
fn combine(
    rows: &[Vec<f64>],
    logs: &[Vec<f64>],
    which: &[usize],
    weights: &[f64],
    how: Combination,
    out: &mut [f64],
) {
    let wsum: f64 = weights.iter().sum();
    if which.len() == 1 {
        out.copy_from_slice(&rows[which[0]]);
        return;
    }
    out.iter_mut().for_each(|p| *p = 0.0);
    match how {
        Combination::Arithmetic => {
            for (&slot, &w) in which.iter().zip(weights) {
                let w = w / wsum;
                for (o, &p) in out.iter_mut().zip(rows[slot].iter()) {
                    *o += w * p;
                }
            }
        }
        Combination::Geometric => {
            for (&slot, &w) in which.iter().zip(weights) {
                let w = w / wsum;
                for (o, &l) in out.iter_mut().zip(logs[slot].iter()) {
                    *o += w * l;
                }
            }
            let mut sum = 0.0;
            for o in out.iter_mut() {
                *o = fast_exp2(*o);
                sum += *o;
            }
            normalise(out, sum);
        }
    }
}

/// Mantissa bits that index [`LOG2_TABLE`].
const LOG2_BITS: u32 = 7;
const LOG2_N: usize = 1 << LOG2_BITS;

/// ln(x) for x in [0.5, 2] at compile time: 2 atanh((x-1)/(x+1)), |t| <= 1/3, 40 terms.
const fn ln_const(x: f64) -> f64 {
    let t = (x - 1.0) / (x + 1.0);
    let t2 = t * t;
    let mut term = t;
    let mut sum = 0.0;
    let mut k = 0;
    while k < 40 {
        sum += term / (2 * k + 1) as f64;
        term *= t2;
        k += 1;
    }
    2.0 * sum
}

/// For each interval of the mantissa [1, 2) split in `LOG2_N`: `c` = 1 / (its centre), rounded,
/// and -log2(c), so that log2(m) = -log2(c) + log2(m c) with m c within 2^-8 of 1.
const fn log2_table() -> [(f64, f64); LOG2_N] {
    let mut table = [(0.0, 0.0); LOG2_N];
    let mut i = 0;
    while i < LOG2_N {
        let c = 1.0 / (1.0 + (i as f64 + 0.5) / LOG2_N as f64);
        table[i] = (c, -ln_const(c) * std::f64::consts::LOG2_E);
        i += 1;
    }
    table
}

static LOG2_TABLE: [(f64, f64); LOG2_N] = log2_table();

/// log2 for positive numbers, accurate to about 1e-15 absolute, without division or branches
/// (a table for the top mantissa bits, a short series for the rest). Non-positive inputs give a
/// large negative number.
#[inline]
pub fn fast_log2(x: f64) -> f64 {
    let x = if x > 1e-300 { x } else { 1e-300 };
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let (c, log2_inv_c) = LOG2_TABLE[((bits >> (52 - LOG2_BITS)) as usize) & (LOG2_N - 1)];
    // ln(1 + r), |r| < 2^-8: the series to r^5 is off by less than 1e-15.
    let r = m * c - 1.0;
    let ln = r * (1.0 + r * (-0.5 + r * (1.0 / 3.0 + r * (-0.25 + r * 0.2))));
    e as f64 + log2_inv_c + ln * std::f64::consts::LOG2_E
}

/// 1/k! for the series of [`fast_exp2`].
const INV_FACTORIAL: [f64; 10] = {
    let mut t = [1.0; 10];
    let mut k = 1;
    while k < 10 {
        t[k] = t[k - 1] / k as f64;
        k += 1;
    }
    t
};

/// 2^x, accurate to about 1e-9 relative; underflows to 0 below -1000.
#[inline]
pub fn fast_exp2(x: f64) -> f64 {
    if x < -1000.0 {
        return 0.0;
    }
    let x = x.min(1000.0);
    let i = x.floor();
    let f = x - i;
    // 2^f = e^(f ln2), f in [0, 1): Taylor series to degree 9 (error < 1e-9), Horner form.
    let y = f * std::f64::consts::LN_2;
    let mut sum = INV_FACTORIAL[9];
    for k in (0..9).rev() {
        sum = sum * y + INV_FACTORIAL[k];
    }
    let e = i as i64;
    if e < -1022 {
        sum * f64::from_bits(1u64 << 52) * 2f64.powi((e + 1022) as i32)
    } else {
        sum * f64::from_bits(((e + 1023) as u64) << 52)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::{KeySignature, Mode};

    #[test]
    fn fast_math() {
        for &x in &[1e-12, 1e-5, 0.001, 0.3, 0.5, 0.999, 1.0, 1.5, 7.0, 1e6] {
            assert!((fast_log2(x) - x.log2()).abs() < 1e-12, "{x}");
        }
        // Every table interval, both ends and the middle.
        for i in 0..=3 * LOG2_N {
            let x = 1.0 + i as f64 / (3 * LOG2_N) as f64;
            for x in [x, x * 0.75e-3, x * 3e5] {
                assert!((fast_log2(x) - x.log2()).abs() < 1e-12, "{x}");
            }
        }
        for &x in &[-900.5, -40.3, -1.0, -0.25, 0.0, 0.7, 3.2] {
            assert!((fast_exp2(x) / x.exp2() - 1.0).abs() < 1e-8, "{x}");
        }
        assert_eq!(fast_exp2(-2000.0), 0.0);
        assert!(fast_log2(0.0) < -900.0);
    }

    fn melody(pitches: &[u8], key: KeySignature) -> History {
        let mut h = History::new(key);
        for (i, &p) in pitches.iter().enumerate() {
            h.push(Event {
                pitch: p,
                rhythm: 5 + (i % 3) as u8,
                phase: 0,
            });
        }
        h
    }

    /// A long-term model (default settings) trained on `tunes` in `key`.
    fn trained(tunes: &[&[u8]], key: KeySignature) -> LongTermModel {
        let mut ltm = LongTermModel::new(ModelConfig::default());
        for tune in tunes {
            ltm.learn_melody(&melody(tune, key));
        }
        ltm
    }

    #[test]
    fn distributions_sum_to_one() {
        let key = KeySignature {
            tonic: 0,
            mode: Mode::Major,
        };
        let ltm = Arc::new(trained(&[&[60, 62, 64, 65, 67, 65, 64, 62, 60]], key));
        for combination in [Combination::Arithmetic, Combination::Geometric] {
            let cfg = ModelConfig {
                viewpoint_combination: combination,
                stm_combination: combination,
                ..ModelConfig::default()
            };
            let mut ltm2 = (*ltm).clone();
            ltm2.config = cfg;
            let mut m = MultiViewpoint::new("t", Arc::new(ltm2), true);
            let mut h = History::new(key);
            for (i, &p) in [60u8, 64, 67, 72, 71, 69, 1, 127].iter().enumerate() {
                for (lo, hi) in [(0, 127), (48, 84), (60, 60)] {
                    let mut out = Prediction::new(lo, hi);
                    m.predict(&h, &mut out);
                    assert!((out.pitch.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                    assert!((out.rhythm.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                    assert!(out
                        .pitch
                        .iter()
                        .chain(out.rhythm.iter())
                        .all(|p| *p > 0.0 && p.is_finite()));
                }
                let e = Event {
                    pitch: p,
                    rhythm: (i % 16) as u8,
                    phase: 0,
                };
                m.learn(&h, &e);
                h.push(e);
            }
        }
    }

    #[test]
    fn remembered_walks_and_predictions_change_nothing() {
        // One predictor follows histories the way the sampler and the evaluator do (extending,
        // backing up, sharing beginnings, learning in between, changing key); a fresh copy with
        // nothing remembered must predict exactly the same every time.
        let key = KeySignature {
            tonic: 2,
            mode: Mode::Major,
        };
        let ltm = trained(
            &[
                &[62, 64, 66, 67, 69, 67, 66, 64, 62, 69, 74],
                &[74, 73, 71, 69, 67, 66, 64, 62, 64, 66],
            ],
            key,
        );
        let mut m = MultiViewpoint::new("t", Arc::new(ltm), true);
        let fresh = m.clone();
        let mut h = melody(&[62, 66, 69, 74, 73], key);
        let mut checked = 0;
        let mut check = |m: &mut MultiViewpoint, h: &History, lo: u8, hi: u8| {
            let (mut a, mut b) = (Prediction::new(lo, hi), Prediction::new(lo, hi));
            m.predict(h, &mut a);
            let mut f = fresh.clone();
            if let Some(stm) = &m.stm {
                f.stm = Some(stm.clone());
            }
            f.predict(h, &mut b);
            assert_eq!(a.pitch, b.pitch, "pitch after {:?}", h.events);
            assert_eq!(a.rhythm, b.rhythm, "rhythm after {:?}", h.events);
            checked += 1;
        };
        let base = h.len();
        for (c, branch) in [[71u8, 69, 66], [71, 69, 67], [71, 72, 74], [60, 62, 64]]
            .iter()
            .enumerate()
        {
            check(&mut m, &h, 36, 96);
            for (i, &p) in branch.iter().enumerate() {
                h.push(Event {
                    pitch: p,
                    rhythm: 5 + (i % 2) as u8 * (c % 2) as u8,
                    phase: 0,
                });
                check(&mut m, &h, 36, 96);
                check(&mut m, &h, 48, 84);
            }
            h.truncate(base);
            // Learning online makes every remembered short-term walk and prediction stale.
            if c == 1 {
                let e = Event {
                    pitch: 71,
                    rhythm: 5,
                    phase: 0,
                };
                let before = h.clone();
                m.learn(&before, &e);
            }
        }
        // The evaluator overrides the next phase; a new key changes the key-relative symbols.
        h.next_phase = 6;
        check(&mut m, &h, 36, 96);
        let mut other = melody(&[62, 66, 69, 74, 73], KeySignature::default());
        check(&mut m, &other, 36, 96);
        other.push(Event {
            pitch: 71,
            rhythm: 5,
            phase: 0,
        });
        check(&mut m, &other, 36, 96);
        m.reset_session();
        check(&mut m, &other, 36, 96);
        assert_eq!(checked, 32);
    }

    #[test]
    fn learns_what_it_saw() {
        let key = KeySignature {
            tonic: 0,
            mode: Mode::Major,
        };
        let tune = [60u8, 62, 64, 60, 62, 64, 60, 62, 64];
        let mut m = MultiViewpoint::new("t", Arc::new(trained(&[&tune], key)), false);
        let h = melody(&[60, 62], key);
        let mut out = Prediction::full_range();
        m.predict(&h, &mut out);
        let best = (0..128u8)
            .max_by(|&a, &b| out.p_pitch(a).total_cmp(&out.p_pitch(b)))
            .unwrap();
        assert_eq!(best, 64);
        // Short-term model alone learns online.
        let mut s = MultiViewpoint::short_term_only(ModelConfig::default());
        let mut h = History::new(key);
        for &p in &tune[..8] {
            let e = Event {
                pitch: p,
                rhythm: 5,
                phase: 0,
            };
            s.learn(&h, &e);
            h.push(e);
        }
        s.predict(&h, &mut out);
        assert!(out.p_pitch(64) > 0.5, "{}", out.p_pitch(64));
        s.reset_session();
        assert!(s.stm_is_empty());
    }
}
