//! The model thread's continuation engine: the trained long-term model plus a short-term model
//! learnt from what the player plays in this session.

use super::key::{estimate_key, histogram};
use super::neural::mix::{MixedPair, MIX};
use super::neural::NeuralPredictor;
use super::note::{events_from_notes, rhythm_class, Event};
use super::predictor::{MultiViewpoint, Predictor};
use super::sampler::Sampler;
use super::viewpoints::History;
use super::{Note, Phrase, SamplerSettings, TrainedModel};
use crate::music::KeySignature;
use std::sync::Arc;

/// The short-term model remembers at most this many of the player's notes.
pub const MAX_OBSERVED: usize = 2048;
/// At most this many context notes are used for a continuation.
pub const MAX_CONTEXT: usize = 64;

/// Continues the player's phrases with the trained model and what it learns from the player.
pub struct Continuator {
    model: Arc<TrainedModel>,
    predictor: MultiViewpoint,
    /// The neural network mixed with `predictor` when the *Neural network* setting is on (set by
    /// the model thread; `None`: the PPM answers alone). Static: the session is learnt by the
    /// PPM's short-term model only.
    neural: Option<NeuralPredictor>,
    /// The two parts' predictions while the mix draws (allocated on the first mixed draw).
    mix_outs: Vec<super::predictor::Prediction>,
    learning: bool,
    /// The player's notes this session, oldest first (bounded by [`MAX_OBSERVED`]).
    observed: Vec<Note>,
    /// How many of `observed` the short-term model has learnt (the newest note waits for the next
    /// one: its rhythm class is only known then).
    learnt: usize,
    /// The key the short-term model's key-relative viewpoints were computed in.
    stm_key: KeySignature,
    stm_history: History,
    context: History,
    sampler: Sampler,
    /// Beats after a grid line within which the call's end counts as on it, for the answer's bar
    /// plan (the model thread sets one and a half samples at the tempo; see
    /// [`super::phrase::LINE_TOLERANCE_BEATS`]).
    line_tolerance: f64,
}

impl Continuator {
    pub fn new(model: Arc<TrainedModel>) -> Self {
        let predictor = MultiViewpoint::new("continuo", model.ltm.clone(), true);
        Self {
            model,
            predictor,
            neural: None,
            mix_outs: Vec::new(),
            learning: true,
            observed: Vec::new(),
            learnt: 0,
            stm_key: KeySignature::default(),
            stm_history: History::new(KeySignature::default()),
            context: History::new(KeySignature::default()),
            sampler: Sampler::default(),
            line_tolerance: super::phrase::LINE_TOLERANCE_BEATS,
        }
    }

    /// Sets how far (beats) after a grid line the call's end still counts as on it: the
    /// playback counts a sample, so the model thread passes one and a half samples at the tempo
    /// (the gap is rounded to whole samples too).
    pub fn set_line_tolerance(&mut self, beats: f64) {
        if beats.is_finite() && beats >= 0.0 {
            self.line_tolerance = beats.min(0.01);
        }
    }

    pub fn model(&self) -> &Arc<TrainedModel> {
        &self.model
    }

    /// Changes the long-term model (a new style) and keeps what was learnt from the player: the
    /// short-term model stays as it is when the two models share their viewpoints, else it is
    /// learnt again from the session's notes.
    pub fn set_model(&mut self, model: Arc<TrainedModel>) {
        if !self.predictor.set_long_term(model.ltm.clone()) {
            self.predictor = MultiViewpoint::new("continuo", model.ltm.clone(), true);
            self.relearn(self.stm_key);
        }
        self.model = model;
    }

    /// Mixes `neural` with the PPM from the next draw on (`None`: the PPM alone). What was
    /// learnt from the player is kept either way.
    pub fn set_neural(&mut self, neural: Option<NeuralPredictor>) {
        self.neural = neural;
    }

    /// Whether a neural network is mixed in.
    pub fn has_neural(&self) -> bool {
        self.neural.is_some()
    }

    pub fn set_learning(&mut self, on: bool) {
        self.learning = on;
    }

    pub fn learning(&self) -> bool {
        self.learning
    }

    /// Notes learnt from the player so far.
    pub fn observed_notes(&self) -> usize {
        self.learnt
    }

    /// The player's notes the short-term model learnt from (oldest first, at most
    /// [`MAX_OBSERVED`]): what *Keep what it learnt from me* saves as a style.
    pub fn session_notes(&self) -> &[Note] {
        &self.observed
    }

    /// Learns a note the player played (when learning is on). Notes should come in onset order.
    pub fn observe(&mut self, note: Note) {
        if !self.learning || !note.onset.is_finite() || !note.duration.is_finite() {
            return;
        }
        if self.observed.len() >= MAX_OBSERVED {
            // Keep the newest half and relearn from it.
            let drop = MAX_OBSERVED / 2;
            self.observed.drain(..drop);
            self.relearn(self.stm_key);
        }
        self.observed.push(note);
        self.learn_pending();
    }

    /// Forgets the session: the short-term model starts empty again.
    pub fn forget(&mut self) {
        self.observed.clear();
        self.learnt = 0;
        self.predictor.reset_session();
        self.stm_history.clear(self.stm_key);
    }

    fn learn_pending(&mut self) {
        while self.learnt + 1 < self.observed.len() {
            let (n, next) = (self.observed[self.learnt], self.observed[self.learnt + 1]);
            let e = Event {
                pitch: n.pitch.min(127),
                rhythm: rhythm_class(next.onset - n.onset),
                phase: super::note::phase_class(n.onset),
            };
            self.predictor.learn(&self.stm_history, &e);
            self.stm_history.push(e);
            self.learnt += 1;
        }
    }

    fn relearn(&mut self, key: KeySignature) {
        self.stm_key = key;
        self.learnt = 0;
        self.predictor.reset_session();
        self.stm_history.clear(key);
        self.learn_pending();
    }

    /// Candidate continuations of `context` (the player's recent notes, onsets in beats), best
    /// first. The phrase is meant to start where the context's last note ends (its length
    /// snapped to a rhythm class): its first note is at onset 0, or, for a phrase planned in bars
    /// (`settings.phrase`), at its pickup, the plan reckoning the bars from the context's beats
    /// (4-beat bars from beat 0) and the start from `gap_beats` and `grid_beats`. `key` `None`
    /// means "estimate it from what was played".
    pub fn continue_phrase(
        &mut self,
        context: &[Note],
        key: Option<KeySignature>,
        settings: &SamplerSettings,
    ) -> Vec<Phrase> {
        let start = context.len().saturating_sub(MAX_CONTEXT);
        let context = &context[start..];
        let key = key.unwrap_or_else(|| {
            let h = histogram(
                context
                    .iter()
                    .chain(self.observed.iter())
                    .map(|n| (n.pitch, n.duration)),
            );
            estimate_key(&h).unwrap_or_default()
        });
        if key != self.stm_key {
            self.relearn(key);
        }
        let events = events_from_notes(context);
        // Notes the session model learnt before this context window (the gate counts them).
        let heard_before = self.learnt.saturating_sub(events.len());
        self.context.clear(key);
        for e in events {
            self.context.push(e);
        }
        let velocity = if context.is_empty() {
            90
        } else {
            (context.iter().map(|n| n.velocity as u32).sum::<u32>() / context.len() as u32)
                .clamp(1, 127) as u8
        };
        // A phrase in bars is laid out from where the context's bars fall.
        let mut settings = *settings;
        if settings.plan.is_none() {
            settings.plan = super::phrase::plan(context, &settings, self.line_tolerance);
        }
        match self.neural.as_mut() {
            Some(neural) => {
                let mut mix = MixedPair {
                    first: neural,
                    second: &mut self.predictor,
                    outs: &mut self.mix_outs,
                    rule: MIX,
                    heard_before,
                };
                self.sampler
                    .sample_phrases(&mut mix, &mut self.context, &settings, velocity)
            }
            None => self.sampler.sample_phrases(
                &mut self.predictor,
                &mut self.context,
                &settings,
                velocity,
            ),
        }
    }
}
