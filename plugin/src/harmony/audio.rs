//! MODEL THREAD: chords heard in audio — the analyser's chroma frames become one chord per step.
//!
//! The audio thread already computes a chroma per analysis hop (≈ 2.7 ms) and sends it to the
//! model thread in every [`FeatureFrame`] (the frame ring; dropped and counted when full). Here,
//! on the model thread (and in `continuo render --chords-tsv`, which feeds the same frames to the
//! same [`ChordListener`]):
//! 1. *Steps*: the frames of each [`ListenerSettings::step_s`] (0.1 s) are summed, each frame's
//!    chroma compressed (raised to [`ListenerSettings::compression`]) and weighted by its
//!    amplitude; frames under [`ListenerSettings::floor_db`] are silence. A step with no audible
//!    frame is silent.
//! 2. *Templates*: every chord of the vocabulary is a 12-bin template — each chord tone with its
//!    first [`ListenerSettings::harmonics`] partials folded onto pitch classes (the 3rd partial
//!    is a fifth up), the root weighted by [`ListenerSettings::root_weight`] (the bass, usually
//!    the root, is the loudest and lowest note) — and the step's score for a chord is the cosine
//!    between the step's chroma and its template, times [`ListenerSettings::sharpness`], plus a
//!    log prior per quality (triads are commoner than sevenths). N scores a fixed cosine
//!    ([`ListenerSettings::no_chord`]); a silent step is N.
//! 3. *Smoothing*: an HMM over the 121 chords whose only parameter is the chance of staying
//!    ([`ListenerSettings::stay`]; a change goes to any other chord alike), decoded by a
//!    fixed-lag Viterbi: the chord of a step is decided [`ListenerSettings::lag_steps`] steps
//!    later (0.6 s), from the best path to the newest step. [`ChordListener::finish`] decides the
//!    last steps (end of a file).
//!
//! The cost per step is linear in the vocabulary (the uniform change lets the best predecessor
//! be found once per step): about 121 × 12 multiply-adds for the scores and a few hundred
//! operations for the path, every 0.1 s.

use super::chord::{Chord, HeardChord, Quality, VOCABULARY_SIZE};
use super::hearing::ChordSpan;
use crate::analysis::FeatureFrame;
use std::collections::VecDeque;

/// The recogniser's settings (the defaults were chosen on the *tune* split of the rendered
/// chorales, one setting at a time from a first guess — compression 0.5, root weight 1.3,
/// sharpness 20 — then the three that helped together; `continuo eval-chords --set name=value`
/// overrides them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListenerSettings {
    /// Length of a step (s): the time resolution of the chords.
    pub step_s: f64,
    /// Steps between a step and the decision of its chord (the smoothing's look-ahead).
    pub lag_steps: usize,
    /// Each frame's chroma (energy, sum 1) is raised to this power before summing (0.5 =
    /// amplitude; less: loud partials dominate less).
    pub compression: f32,
    /// Partials per chord tone in the templates.
    pub harmonics: usize,
    /// Amplitude of partial `h + 1` relative to partial `h`.
    pub harmonic_decay: f32,
    /// Weight of the root in the templates (the other chord tones weigh 1).
    pub root_weight: f32,
    /// Scale of the cosine scores (the inverse of a temperature).
    pub sharpness: f32,
    /// Chance per step that the chord stays.
    pub stay: f32,
    /// The cosine score of N when something sounds.
    pub no_chord: f32,
    /// Frames quieter than this (dBFS) are silence.
    pub floor_db: f32,
    /// Log prior of a triad that is neither major nor minor (dim, aug, sus4).
    pub other_triad_prior: f32,
    /// Log prior of a seventh chord.
    pub seventh_prior: f32,
}

impl Default for ListenerSettings {
    fn default() -> Self {
        Self {
            step_s: 0.1,
            lag_steps: 6,
            compression: 0.3,
            harmonics: 4,
            harmonic_decay: 0.6,
            root_weight: 1.0,
            sharpness: 10.0,
            stay: 0.9,
            no_chord: 0.6,
            floor_db: -60.0,
            other_triad_prior: -0.5,
            seventh_prior: -0.5,
        }
    }
}

impl ListenerSettings {
    /// Sets one setting by name (`--set`); an error names the unknown setting or bad value.
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!("{name}: not a finite number"));
        }
        let v = value as f32;
        match name {
            "step_s" if (0.01..=2.0).contains(&value) => self.step_s = value,
            "lag_steps" if (0.0..=100.0).contains(&value) => self.lag_steps = value as usize,
            "compression" if (0.05..=2.0).contains(&value) => self.compression = v,
            "harmonics" if (1.0..=8.0).contains(&value) => self.harmonics = value as usize,
            "harmonic_decay" if (0.0..=1.0).contains(&value) => self.harmonic_decay = v,
            "root_weight" if (0.0..=4.0).contains(&value) => self.root_weight = v,
            "sharpness" if (0.1..=1000.0).contains(&value) => self.sharpness = v,
            "stay" if (0.0..1.0).contains(&value) => self.stay = v,
            "no_chord" if (-1.0..=1.0).contains(&value) => self.no_chord = v,
            "floor_db" if (-120.0..=0.0).contains(&value) => self.floor_db = v,
            "other_triad_prior" if value <= 0.0 => self.other_triad_prior = v,
            "seventh_prior" if value <= 0.0 => self.seventh_prior = v,
            "step_s" | "lag_steps" | "compression" | "harmonics" | "harmonic_decay"
            | "root_weight" | "sharpness" | "stay" | "no_chord" | "floor_db"
            | "other_triad_prior" | "seventh_prior" => {
                return Err(format!("{name}={value} is out of range"))
            }
            _ => return Err(format!("unknown setting {name}")),
        }
        Ok(())
    }

    /// Parses `name=value` pairs into settings (on top of the defaults).
    pub fn parse(pairs: &[String]) -> Result<Self, String> {
        let mut s = Self::default();
        for p in pairs {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| format!("'{p}' is not name=value"))?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| format!("'{p}': not a number"))?;
            s.set(k.trim(), v)?;
        }
        Ok(s)
    }
}

/// One step's decided chord (stream samples, end exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepChord {
    /// First sample of the step.
    pub start: u64,
    /// First sample after it.
    pub end: u64,
    /// The chord decided for it (N for silence or nothing that fits).
    pub chord: Chord,
}

/// A frame this much (s) before the step being summed is a restart of the stream clock.
pub const RESTART_S: f64 = 1.0;
/// A gap of this many steps without frames restarts the path (see [`ChordListener::push`]).
pub const GAP_STEPS: u64 = 64;

/// The unit-length template of every chord (index as [`Chord::index`]; N's is all zero).
fn templates(s: &ListenerSettings) -> Vec<[f32; 12]> {
    Chord::vocabulary()
        .map(|chord| {
            let mut t = [0f32; 12];
            let (Some(root), Some(quality)) = (chord.root(), chord.quality()) else {
                return t;
            };
            for (i, &iv) in quality.intervals().iter().enumerate() {
                let pc = (root + iv) % 12;
                let weight = if i == 0 { s.root_weight } else { 1.0 };
                let mut amp = 1.0f32;
                for h in 1..=s.harmonics.max(1) {
                    let above = (12.0 * (h as f32).log2()).round() as u8;
                    t[((pc + above) % 12) as usize] += weight * amp;
                    amp *= s.harmonic_decay;
                }
            }
            let norm = t.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                t.iter_mut().for_each(|x| *x /= norm);
            }
            t
        })
        .collect()
}

/// The log prior of a chord quality.
fn prior(s: &ListenerSettings, quality: Quality) -> f32 {
    match quality {
        Quality::Major | Quality::Minor => 0.0,
        Quality::Diminished | Quality::Augmented | Quality::Sus4 => s.other_triad_prior,
        _ => s.seventh_prior,
    }
}

/// The streaming chord recogniser (see the module doc). All its buffers are made in `new`.
pub struct ChordListener {
    /// Settings, fixed at construction.
    settings: ListenerSettings,
    /// Sample rate of the frames' stream clock.
    sample_rate: f64,
    /// A frame describes the window that ends at its time stamp; its middle, this many samples
    /// earlier, is where it is counted.
    half_window: u64,
    /// Step length in samples.
    step: u64,
    /// Unit templates per chord index (made in `new`).
    templates: Vec<[f32; 12]>,
    /// Log prior per chord index (N: 0).
    priors: Vec<f32>,
    /// First sample of the step being summed.
    step_start: u64,
    /// The step's compressed, amplitude-weighted chroma sum.
    sum: [f32; 12],
    /// The step's total weight (0: silent so far).
    weight: f32,
    /// Viterbi scores of the newest step per chord (log, normalised to a best of 0).
    delta: Vec<f32>,
    /// Scratch for the next step's scores (made in `new`).
    next: Vec<f32>,
    /// Back-pointers of the steps not yet decided (at most `lag_steps + 1`), oldest first, with
    /// each step's start.
    back: VecDeque<(u64, Vec<u8>)>,
    /// Back-pointer buffers of decided steps, for reuse (no allocation once warm).
    spare: Vec<Vec<u8>>,
    /// Steps summed since the start (the first has no predecessor).
    steps: u64,
    /// Decided steps not yet taken by [`ChordListener::drain`].
    decided: Vec<StepChord>,
}

impl ChordListener {
    /// A recogniser for frames at `sample_rate` from windows of `window_samples`.
    pub fn new(sample_rate: f32, window_samples: usize, settings: ListenerSettings) -> Self {
        let sample_rate = if sample_rate.is_finite() && sample_rate > 0.0 {
            sample_rate as f64
        } else {
            48_000.0
        };
        let priors = Chord::vocabulary()
            .map(|c| c.quality().map_or(0.0, |q| prior(&settings, q)))
            .collect();
        Self {
            templates: templates(&settings),
            priors,
            sample_rate,
            half_window: window_samples as u64 / 2,
            step: ((settings.step_s * sample_rate).round() as u64).max(1),
            step_start: 0,
            sum: [0.0; 12],
            weight: 0.0,
            delta: vec![0.0; VOCABULARY_SIZE],
            next: vec![0.0; VOCABULARY_SIZE],
            back: VecDeque::with_capacity(settings.lag_steps + 2),
            spare: Vec::with_capacity(settings.lag_steps + 2),
            steps: 0,
            decided: Vec::with_capacity(64),
            settings,
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &ListenerSettings {
        &self.settings
    }

    /// The sample rate of the stream clock.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// Takes one analysis frame. Frames come in time order; a frame more than [`RESTART_S`]
    /// before the step being summed means the stream clock restarted (a reset of the plugin):
    /// the steps so far are decided and the recogniser starts again from that frame. A gap of
    /// more than [`GAP_STEPS`] steps without frames (a host that stopped processing) is handled
    /// the same way, so no gap costs more than that many steps.
    pub fn push(&mut self, frame: &FeatureFrame) {
        let at = frame.time_samples.saturating_sub(self.half_window);
        let restart = (RESTART_S * self.sample_rate) as u64;
        if at + restart < self.step_start || at >= self.step_start + GAP_STEPS * self.step {
            self.finish(self.step_start + self.step);
            self.restart_at(at - at % self.step);
        }
        if at < self.step_start {
            return;
        }
        // Close the steps that ended before this frame (missing frames are silence).
        while at >= self.step_start + self.step {
            self.close_step();
        }
        if !frame.level_db.is_finite() || frame.level_db <= self.settings.floor_db {
            return;
        }
        let total: f32 = frame.chroma.iter().filter(|c| c.is_finite()).sum();
        if total <= 0.0 {
            return;
        }
        let w = 10f32.powf(frame.level_db / 20.0);
        for (s, &c) in self.sum.iter_mut().zip(&frame.chroma) {
            if c.is_finite() && c > 0.0 {
                *s += w * (c / total).powf(self.settings.compression);
            }
        }
        self.weight += w;
    }

    /// The chords decided since the last call, in time order.
    pub fn drain(&mut self) -> std::vec::Drain<'_, StepChord> {
        self.decided.drain(..)
    }

    /// The end of the stream at sample `end`: closes the steps up to it and decides every step
    /// still undecided.
    pub fn finish(&mut self, end: u64) {
        while self.step_start < end {
            self.close_step();
        }
        let Some(best) = argmax(&self.delta) else {
            return;
        };
        let mut state = best;
        let mut path: Vec<(u64, usize)> = Vec::with_capacity(self.back.len());
        for (start, back) in self.back.iter().rev() {
            path.push((*start, state));
            state = back[state] as usize;
        }
        path.reverse();
        for (start, state) in path {
            self.decided.push(StepChord {
                start,
                end: start + self.step,
                chord: Chord::from_index(state),
            });
        }
        while let Some((_, back)) = self.back.pop_front() {
            self.spare.push(back);
        }
    }

    /// Forgets everything (a reset of the stream clock to 0).
    pub fn reset(&mut self) {
        self.restart_at(0);
        self.decided.clear();
    }

    /// The step's scores per chord (log): cosine × sharpness + prior; N's fixed cosine.
    fn scores(&self, out: &mut [f32]) {
        let s = &self.settings;
        let norm = self.sum.iter().map(|x| x * x).sum::<f32>().sqrt();
        if self.weight <= 0.0 || norm <= 0.0 || !norm.is_finite() {
            for (i, o) in out.iter_mut().enumerate() {
                *o = if i == 0 { 0.0 } else { -s.sharpness };
            }
            return;
        }
        for (i, o) in out.iter_mut().enumerate() {
            *o = if i == 0 {
                s.sharpness * s.no_chord
            } else {
                let t = &self.templates[i];
                let cos: f32 = t.iter().zip(&self.sum).map(|(a, b)| a * b).sum::<f32>() / norm;
                s.sharpness * cos + self.priors[i]
            };
        }
    }

    /// Ends the step being summed: one Viterbi step, and the decision `lag_steps` back.
    fn close_step(&mut self) {
        let mut scores = std::mem::take(&mut self.next);
        self.scores(&mut scores);
        let n = VOCABULARY_SIZE;
        let mut back = self.spare.pop().unwrap_or_default();
        back.clear();
        back.resize(n, 0);
        if self.steps == 0 {
            for (i, d) in self.delta.iter_mut().enumerate() {
                *d = scores[i];
                back[i] = i as u8;
            }
        } else {
            let stay = self.settings.stay.clamp(1e-6, 1.0 - 1e-6);
            let log_stay = stay.ln();
            let log_move = ((1.0 - stay) / (n - 1) as f32).ln();
            // The best and second-best predecessors (a change never comes from the chord itself).
            let (mut b1, mut b2) = (0usize, usize::MAX);
            for i in 1..n {
                if self.delta[i] > self.delta[b1] {
                    b2 = b1;
                    b1 = i;
                } else if b2 == usize::MAX || self.delta[i] > self.delta[b2] {
                    b2 = i;
                }
            }
            for i in 0..n {
                let from = if i == b1 { b2 } else { b1 };
                let stay_score = self.delta[i] + log_stay;
                let move_score = self.delta[from] + log_move;
                let (best, prev) = if stay_score >= move_score {
                    (stay_score, i)
                } else {
                    (move_score, from)
                };
                scores[i] += best;
                back[i] = prev as u8;
            }
            let top = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            if top.is_finite() {
                scores.iter_mut().for_each(|x| *x -= top);
            }
            std::mem::swap(&mut self.delta, &mut scores);
        }
        if self.steps == 0 {
            let top = self.delta.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            if top.is_finite() {
                self.delta.iter_mut().for_each(|x| *x -= top);
            }
        }
        self.next = scores;
        self.back.push_back((self.step_start, back));
        self.steps += 1;
        self.step_start += self.step;
        self.sum = [0.0; 12];
        self.weight = 0.0;
        if self.back.len() > self.settings.lag_steps {
            self.decide_oldest();
        }
    }

    /// Decides the oldest step kept: the state on the best path to the newest step.
    fn decide_oldest(&mut self) {
        let Some(mut state) = argmax(&self.delta) else {
            return;
        };
        // Walk back from the newest step to the oldest one kept.
        for (_, back) in self.back.iter().skip(1).rev() {
            state = back[state] as usize;
        }
        if let Some((start, back)) = self.back.pop_front() {
            self.decided.push(StepChord {
                start,
                end: start + self.step,
                chord: Chord::from_index(state),
            });
            self.spare.push(back);
        }
    }

    /// Starts a new path at `start` (decisions already made stay to be drained).
    fn restart_at(&mut self, start: u64) {
        self.step_start = start;
        self.sum = [0.0; 12];
        self.weight = 0.0;
        self.delta.iter_mut().for_each(|d| *d = 0.0);
        while let Some((_, back)) = self.back.pop_front() {
            self.spare.push(back);
        }
        self.steps = 0;
    }
}

/// The index of the largest value (the first on ties), `None` when empty.
fn argmax(v: &[f32]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &x) in v.iter().enumerate() {
        if best.is_none_or(|b| x > v[b]) {
            best = Some(i);
        }
    }
    best
}

/// Joins decided steps into chord spans (equal chords on touching steps joined), in seconds.
/// `recent` keeps at most `keep` spans (the oldest go); N steps end the span before them and
/// are kept only when `keep_none` (files want them, the editor does not).
pub fn join_steps(
    recent: &mut VecDeque<ChordSpan>,
    steps: impl IntoIterator<Item = StepChord>,
    sample_rate: f64,
    keep: usize,
    keep_none: bool,
) {
    let sr = sample_rate.max(1.0);
    for step in steps {
        let (start_s, end_s) = (step.start as f64 / sr, step.end as f64 / sr);
        if let Some(last) = recent.back_mut() {
            let touching = last
                .end_s
                .is_none_or(|e| (e - start_s).abs() < 0.5 / sr + 1e-9);
            if last.chord.chord == step.chord && touching {
                last.end_s = Some(end_s);
                continue;
            }
        }
        if step.chord == Chord::None && !keep_none {
            continue;
        }
        recent.push_back(ChordSpan {
            start_s,
            end_s: Some(end_s),
            chord: HeardChord {
                chord: step.chord,
                bass: None,
            },
        });
        while recent.len() > keep {
            recent.pop_front();
        }
    }
}

/// The TSV of chord spans: a header line, then `start_s end_s label` (Harte), ms precision.
pub fn spans_tsv(spans: &[ChordSpan]) -> String {
    let mut s = String::from("start_s\tend_s\tlabel\n");
    for span in spans {
        s.push_str(&format!(
            "{:.3}\t{:.3}\t{}\n",
            span.start_s,
            span.end_s.unwrap_or(span.start_s),
            span.chord.chord.harte()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f32 = 48_000.0;
    const HOP: u64 = 128;

    /// The chroma of a chord's tones sounding with `partials` harmonics each (amplitudes
    /// decaying by 0.7), as energy summing to 1 (what the analyser's chroma gives).
    fn chord_chroma(chord: Chord, partials: usize) -> [f32; 12] {
        chord_chroma_bass(chord, partials, 1.0)
    }

    /// [`chord_chroma`] with the root `root_amp` times as loud as the other tones (a bass).
    fn chord_chroma_bass(chord: Chord, partials: usize, root_amp: f32) -> [f32; 12] {
        let mut c = [0f32; 12];
        let root = chord.root().unwrap();
        for (i, &iv) in chord.quality().unwrap().intervals().iter().enumerate() {
            let pc = (root + iv) % 12;
            let mut amp = if i == 0 { root_amp } else { 1.0 };
            for h in 1..=partials {
                let above = (12.0 * (h as f32).log2()).round() as u8;
                c[((pc + above) % 12) as usize] += amp * amp;
                amp *= 0.7;
            }
        }
        let total: f32 = c.iter().sum();
        c.iter_mut().for_each(|x| *x /= total);
        c
    }

    fn frames(listener: &mut ChordListener, chroma: [f32; 12], from: u64, to: u64, db: f32) {
        let mut t = from;
        while t < to {
            listener.push(&FeatureFrame {
                time_samples: t + 1024,
                level_db: db,
                chroma,
                ..Default::default()
            });
            t += HOP;
        }
    }

    fn heard(listener: &mut ChordListener, end: u64) -> Vec<ChordSpan> {
        listener.finish(end);
        let mut spans = VecDeque::new();
        join_steps(&mut spans, listener.drain(), SR as f64, usize::MAX, true);
        spans.into()
    }

    /// Every chord of the vocabulary, as pure chord tones and with harmonics, is recognised
    /// from a second of its chroma (sevenths included: their fourth tone must win over the
    /// triad's prior), with all tones alike or the root louder (a bass). The symmetric chords
    /// (aug, dim7) may take any of their tones as the root: their notes are the same, and the
    /// templates weigh the root like the other tones (root weight 1, chosen on the tune split).
    #[test]
    fn every_vocabulary_chord_from_synthetic_chroma() {
        let second = SR as u64;
        let mut wrong = Vec::new();
        for chord in Chord::vocabulary().skip(1) {
            for (partials, root_amp) in [(1, 1.0), (4, 1.0), (1, 1.6), (4, 1.6)] {
                let mut l = ChordListener::new(SR, 2048, ListenerSettings::default());
                let chroma = chord_chroma_bass(chord, partials, root_amp);
                frames(&mut l, chroma, 0, second, -20.0);
                let spans = heard(&mut l, second);
                let labels: Vec<Chord> = spans.iter().map(|s| s.chord.chord).collect();
                // The middle of the second must be the chord (the edges may be N).
                let mid = spans
                    .iter()
                    .find(|s| s.start_s <= 0.5 && s.end_s.unwrap() > 0.5)
                    .map(|s| s.chord.chord);
                let symmetric = matches!(
                    chord.quality(),
                    Some(Quality::Augmented | Quality::Diminished7)
                );
                let right = match mid {
                    Some(m) if symmetric => m.pitch_classes() == chord.pitch_classes(),
                    Some(m) => m == chord,
                    None => false,
                };
                if !right {
                    wrong.push(format!(
                        "{} ({partials} partials, root ×{root_amp}): heard {:?}",
                        chord.harte(),
                        labels.iter().map(|c| c.harte()).collect::<Vec<_>>()
                    ));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{} wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }

    /// Silence and a lone note are N; chords change where the chroma changes (within a step),
    /// a short blip is smoothed away, and the decisions come `lag_steps` behind.
    #[test]
    fn silence_changes_smoothing_and_lag() {
        let c = Chord::new(0, Quality::Major);
        let g7 = Chord::new(7, Quality::Dominant7);
        let a_min = Chord::new(9, Quality::Minor);
        let mut l = ChordListener::new(SR, 2048, ListenerSettings::default());
        let s = SR as u64;
        frames(&mut l, chord_chroma(c, 4), 0, s, -20.0);
        // A 30 ms blip of A minor inside C: smoothed away.
        frames(&mut l, chord_chroma(a_min, 4), s, s + s * 3 / 100, -20.0);
        frames(&mut l, chord_chroma(c, 4), s + s * 3 / 100, 2 * s, -20.0);
        frames(&mut l, chord_chroma(g7, 4), 2 * s, 3 * s, -20.0);
        // Silence (quiet frames), then a lone E.
        frames(&mut l, chord_chroma(c, 4), 3 * s, 4 * s, -90.0);
        let mut e = [0f32; 12];
        e[4] = 1.0;
        frames(&mut l, e, 4 * s, 5 * s, -20.0);
        // Before `finish`, the last lag_steps steps are undecided.
        let decided: Vec<StepChord> = l.drain().collect();
        let lag = ListenerSettings::default().lag_steps as u64;
        let step = (0.1 * SR as f64) as u64;
        // The step being summed is still open, and the lag_steps before it undecided.
        assert_eq!(decided.last().unwrap().end, 5 * s - (lag + 1) * step);
        l.finish(5 * s);
        let mut spans = VecDeque::new();
        join_steps(&mut spans, decided, SR as f64, usize::MAX, true);
        join_steps(&mut spans, l.drain(), SR as f64, usize::MAX, true);
        let spans: Vec<ChordSpan> = spans.into();
        let labels: Vec<String> = spans.iter().map(|s| s.chord.chord.harte()).collect();
        assert_eq!(labels, ["C:maj", "G:7", "N"], "{spans:?}");
        assert!((spans[1].start_s - 2.0).abs() <= 0.1, "{spans:?}");
        assert!((spans[2].start_s - 3.0).abs() <= 0.1, "{spans:?}");
        assert!((spans[2].end_s.unwrap() - 5.0).abs() <= 0.1);
        // Reset: a new stream from 0.
        l.reset();
        frames(&mut l, chord_chroma(g7, 4), 0, s, -20.0);
        let spans = heard(&mut l, s);
        assert_eq!(spans.len(), 1, "{spans:?}");
        assert_eq!(spans[0].chord.chord, g7);
    }

    /// A clock that jumps back (a reset whose frames arrive before the reset news) or far
    /// forward (a host that stopped calling) restarts the path at once, in bounded work.
    #[test]
    fn clock_jumps_restart_the_path() {
        let c = Chord::new(0, Quality::Major);
        let f = Chord::new(5, Quality::Major);
        let mut l = ChordListener::new(SR, 2048, ListenerSettings::default());
        let s = SR as u64;
        frames(&mut l, chord_chroma(c, 4), 0, 2 * s, -20.0);
        // Back to 0.
        frames(&mut l, chord_chroma(f, 4), 0, 2 * s, -20.0);
        let mut spans = VecDeque::new();
        join_steps(&mut spans, l.drain(), SR as f64, usize::MAX, true);
        let started = std::time::Instant::now();
        // A day later.
        let day = 86_400 * s;
        frames(&mut l, chord_chroma(c, 4), day, day + s, -20.0);
        assert!(
            started.elapsed().as_secs_f64() < 0.5,
            "a gap must be skipped"
        );
        l.finish(day + s);
        join_steps(&mut spans, l.drain(), SR as f64, usize::MAX, true);
        let labels: Vec<(String, u64)> = spans
            .iter()
            .map(|x| (x.chord.chord.harte(), x.start_s as u64))
            .collect();
        assert_eq!(
            labels,
            [
                ("C:maj".to_string(), 0),
                ("F:maj".to_string(), 0),
                ("C:maj".to_string(), 86_400)
            ]
        );
    }

    #[test]
    fn settings_parse_and_reject() {
        let s = ListenerSettings::parse(&["stay=0.8".into(), "lag_steps=3".into()]).unwrap();
        assert_eq!((s.stay, s.lag_steps), (0.8, 3));
        assert!(ListenerSettings::parse(&["stay=1.5".into()]).is_err());
        assert!(ListenerSettings::parse(&["bogus=1".into()]).is_err());
        assert!(ListenerSettings::parse(&["stay".into()]).is_err());
        assert!(ListenerSettings::parse(&["stay=NaN".into()]).is_err());
    }

    #[test]
    fn tsv_of_spans_reads_back() {
        let mut spans = VecDeque::new();
        let c = Chord::new(0, Quality::Major);
        let step = |start: u64, chord| StepChord {
            start,
            end: start + 4800,
            chord,
        };
        join_steps(
            &mut spans,
            [step(0, c), step(4800, c), step(9600, Chord::None)],
            48_000.0,
            8,
            true,
        );
        let spans: Vec<ChordSpan> = spans.into();
        assert_eq!(
            spans_tsv(&spans),
            "start_s\tend_s\tlabel\n0.000\t0.200\tC:maj\n0.200\t0.300\tN\n"
        );
        let mut editor = VecDeque::new();
        join_steps(
            &mut editor,
            [step(0, c), step(4800, Chord::None), step(9600, c)],
            48_000.0,
            8,
            false,
        );
        assert_eq!(editor.len(), 2, "N ends a span, and is not shown");
    }
}
