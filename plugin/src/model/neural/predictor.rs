//! [`NeuralPredictor`]: the network behind the [`Predictor`] trait, with a cache of recurrent
//! states so that predicting the note after a history it has seen one note shorter costs one
//! GRU step (the sampler extends its candidates one note at a time, and backs up).

use super::file::NeuralModel;
use super::net::{inputs, rel_class, Net, Scratch, N_REL};
use crate::model::note::{Event, N_RHYTHM};
use crate::model::predictor::{Prediction, Predictor};
use crate::model::viewpoints::History;
use crate::music::KeySignature;
use std::sync::Arc;

/// Probabilities below this are raised to it in a pitch window (so that a note the network all
/// but rules out still costs a finite number of bits), then renormalised.
const FLOOR: f64 = 1e-9;

/// One cached recurrent state.
#[derive(Debug, Clone, Default)]
struct State {
    /// The hidden vector (allocated once per slot, reused).
    h: Vec<f32>,
    /// The onset phase of the note this state predicts (part of its last input).
    phase: u8,
    /// The output distributions of this state, when computed (`ready`).
    pitch: Vec<f32>,
    rhythm: [f32; N_RHYTHM],
    ready: bool,
}

/// The neural model as a [`Predictor`] (model thread only). Static: `learn` does nothing (the
/// session is learnt by the short-term model it is mixed with).
#[derive(Debug, Clone)]
pub struct NeuralPredictor {
    name: String,
    net: Arc<Net>,
    /// The events the states were computed for, and the key (a new key clears the cache).
    events: Vec<Event>,
    key: KeySignature,
    /// The style input of a style-conditioned network ([`super::net::style_index`]; `None` =
    /// "no style", as for Blend). Ignored by a network without style inputs; changing it clears
    /// the cache.
    style: Option<u8>,
    /// `states[t + 1]` predicts event `t` from `events[..t]` (its last input: event `t-1` and
    /// the phase of event `t`); `states[0]` is the zero state before any input. Only
    /// `states[..len]` are valid; slots beyond keep their allocation for reuse.
    states: Vec<State>,
    len: usize,
    scratch: Scratch,
    /// Pitch-class probabilities as f32 → f64 staging (avoids an allocation per call).
    heads: ([f32; N_REL], [f32; N_RHYTHM]),
    /// GRU steps run since creation (for tests and benches).
    pub steps_run: u64,
}

impl NeuralPredictor {
    pub fn new(name: impl Into<String>, model: &NeuralModel) -> Self {
        Self::from_net(name, Arc::new(model.net.clone()))
    }

    pub fn from_net(name: impl Into<String>, net: Arc<Net>) -> Self {
        Self {
            name: name.into(),
            net,
            events: Vec::new(),
            key: KeySignature::default(),
            style: None,
            states: Vec::new(),
            len: 0,
            scratch: Scratch::default(),
            heads: ([0.0; N_REL], [0.0; N_RHYTHM]),
            steps_run: 0,
        }
    }

    /// The predictor with style input `style` (see [`NeuralPredictor::set_style`]).
    pub fn with_style(mut self, style: Option<u8>) -> Self {
        self.set_style(style);
        self
    }

    /// Sets the style the network is told ([`super::net::style_index`] of the style chosen;
    /// `None` for Blend, Auto or a user style). A network without style inputs ignores it.
    pub fn set_style(&mut self, style: Option<u8>) {
        if style != self.style {
            self.style = style;
            self.len = 0;
        }
    }

    /// The style input in use.
    pub fn style(&self) -> Option<u8> {
        self.style
    }

    /// Makes sure `states[t]` exists with the right size.
    fn slot(&mut self, t: usize) {
        let h = self.net.hidden();
        while self.states.len() <= t {
            self.states.push(State {
                h: vec![0.0; h],
                pitch: vec![0.0; N_REL],
                ..Default::default()
            });
        }
    }

    /// Brings the cache up to `history` with the next note's phase, and returns the index of
    /// the state that predicts it.
    fn advance(&mut self, history: &History) -> usize {
        let events = &history.events;
        if history.key != self.key {
            self.key = history.key;
            self.len = 0;
        }
        if self.len == 0 {
            self.slot(0);
            self.states[0].h.iter_mut().for_each(|x| *x = 0.0);
            self.states[0].ready = false;
            self.len = 1;
            self.events.clear();
        }
        // States up to `common + 1` were made from events both histories share (state t+1 also
        // needs the phase of event t, checked below).
        let common = self
            .events
            .iter()
            .zip(events.iter())
            .take_while(|(a, b)| a == b)
            .count();
        self.len = self.len.min(common + 2);
        self.events.truncate(common);
        // Predicting event L (after L events) takes state L + 1.
        let target = events.len() + 1;
        let mut t = 1;
        while t <= target {
            let phase = events.get(t - 1).map_or(history.next_phase, |e| e.phase);
            let fresh = t < self.len && self.states[t].phase == phase && t - 1 <= common;
            if !fresh {
                self.slot(t);
                let active = inputs(&events[..t - 1], phase, self.key);
                let (before, after) = self.states.split_at_mut(t);
                self.net.step_styled(
                    &before[t - 1].h,
                    &active,
                    self.style,
                    &mut self.scratch,
                    &mut after[0].h,
                );
                after[0].phase = phase;
                after[0].ready = false;
                self.steps_run += 1;
                self.len = t + 1;
            }
            t += 1;
        }
        self.len = target + 1;
        self.events.extend_from_slice(&events[self.events.len()..]);
        target
    }
}

impl Predictor for NeuralPredictor {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn predict(&mut self, history: &History, out: &mut Prediction) {
        let at = self.advance(history);
        if !self.states[at].ready {
            let (pitch, rhythm) = &mut self.heads;
            self.net.heads(&self.states[at].h, pitch, rhythm);
            let s = &mut self.states[at];
            s.pitch.copy_from_slice(pitch);
            s.rhythm = *rhythm;
            s.ready = true;
        }
        let s = &self.states[at];
        let key = self.key;
        let mut sum = 0.0;
        for (i, o) in out.pitch.iter_mut().enumerate() {
            let pitch = out.pitch_lo as usize + i;
            let rel = rel_class(pitch.min(127) as u8, key);
            let p = s.pitch.get(rel).copied().unwrap_or(0.0) as f64;
            *o = p.max(FLOOR);
            sum += *o;
        }
        let inv = 1.0 / sum.max(f64::MIN_POSITIVE);
        out.pitch.iter_mut().for_each(|p| *p *= inv);
        let mut sum = 0.0;
        for (o, &p) in out.rhythm.iter_mut().zip(&s.rhythm) {
            *o = (p as f64).max(FLOOR);
            sum += *o;
        }
        out.rhythm.iter_mut().for_each(|p| *p /= sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::neural::file::tests::{tiny, tiny_styled};
    use crate::model::neural::net::{style_index, STYLE_NAMES};

    fn ev(pitch: u8, rhythm: u8, phase: u8) -> Event {
        Event {
            pitch,
            rhythm,
            phase,
        }
    }

    /// The cached predictor gives exactly what a fresh one computing every step gives, while
    /// the sampler's pattern (extend, back up, extend differently) costs one step per note.
    #[test]
    fn cache_matches_fresh_computation_and_steps_once_per_note() {
        let model = tiny();
        let mut cached = NeuralPredictor::new("n", &model);
        let key = KeySignature::default();
        let context = [ev(60, 5, 0), ev(62, 5, 6), ev(64, 8, 0), ev(65, 5, 0)];
        let mut h = History::new(key);
        let mut out = Prediction::full_range();
        let mut want = Prediction::full_range();
        let check = |cached: &mut NeuralPredictor,
                     h: &History,
                     out: &mut Prediction,
                     want: &mut Prediction| {
            cached.predict(h, out);
            NeuralPredictor::new("fresh", &model).predict(h, want);
            assert_eq!(out.pitch, want.pitch);
            assert_eq!(out.rhythm, want.rhythm);
        };
        for e in context {
            check(&mut cached, &h, &mut out, &mut want);
            h.push(e);
        }
        check(&mut cached, &h, &mut out, &mut want);
        let base = cached.steps_run;
        assert_eq!(base, 5);
        // Eight candidates of four notes from the same context.
        for c in 0..8u8 {
            h.truncate(context.len());
            for k in 0..4u8 {
                h.push(ev(60 + c + k, 5, 6 * ((k + 1) % 2)));
                check(&mut cached, &h, &mut out, &mut want);
            }
        }
        assert_eq!(cached.steps_run - base, 8 * 4, "one step per drawn note");
        // Another phase for the next note: one new step.
        let before = cached.steps_run;
        h.next_phase = (h.next_phase + 3) % 12;
        check(&mut cached, &h, &mut out, &mut want);
        assert_eq!(cached.steps_run - before, 1);
        // A new key recomputes.
        let mut other = h.clone();
        other.key = KeySignature {
            tonic: 2,
            mode: crate::music::Mode::Minor,
        };
        check(&mut cached, &other, &mut out, &mut want);
        assert!((out.pitch.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((out.rhythm.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // A narrow window is renormalised.
        let mut window = Prediction::new(55, 70);
        cached.predict(&h, &mut window);
        assert!((window.pitch.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    /// A styled network's prediction depends on the style it is told (each style and "no
    /// style" give different distributions), the cache follows a change of style, and a network
    /// without style inputs ignores the style.
    #[test]
    fn style_input_changes_the_prediction() {
        let key = KeySignature::default();
        let mut h = History::new(key);
        for e in [ev(60, 5, 0), ev(62, 5, 6), ev(64, 8, 0)] {
            h.push(e);
        }
        let styled = tiny_styled();
        let predict = |p: &mut NeuralPredictor| {
            let mut out = Prediction::full_range();
            p.predict(&h, &mut out);
            out
        };
        let mut outs = Vec::new();
        let mut cached = NeuralPredictor::new("n", &styled);
        for style in (0..STYLE_NAMES.len() as u8).map(Some).chain([None]) {
            let fresh = predict(&mut NeuralPredictor::new("f", &styled).with_style(style));
            cached.set_style(style);
            let out = predict(&mut cached);
            assert_eq!(out.pitch, fresh.pitch, "the cache follows the style");
            assert_eq!(out.rhythm, fresh.rhythm);
            outs.push(out);
        }
        for (i, a) in outs.iter().enumerate() {
            for b in &outs[i + 1..] {
                let d: f64 = a
                    .pitch
                    .iter()
                    .zip(&b.pitch)
                    .map(|(x, y)| (x - y).abs())
                    .sum();
                assert!(d > 1e-4, "two styles give the same pitches ({d})");
            }
        }
        // An unknown index is "no style".
        let none = predict(&mut NeuralPredictor::new("f", &styled).with_style(Some(200)));
        assert_eq!(none.pitch, outs[STYLE_NAMES.len()].pitch);
        assert_eq!(style_index("airs"), Some(2));
        assert_eq!(style_index("Blend"), None);
        // Without style inputs, the style changes nothing.
        let plain = tiny();
        let a = predict(&mut NeuralPredictor::new("a", &plain));
        let b = predict(&mut NeuralPredictor::new("b", &plain).with_style(Some(1)));
        assert_eq!(a.pitch, b.pitch);
    }

    /// The cost on the model thread: 16 notes x 8 candidates drawn by the sampler from the
    /// shipped network alone and mixed with the embedded PPM (with its session model). Bar:
    /// <= 5 ms. Run in release: `cargo test --release -p continuo --lib neural_draw_cost --
    /// --ignored --nocapture`.
    #[test]
    #[ignore]
    fn neural_draw_cost() {
        use crate::model::neural::mix::Mixture;
        use crate::model::neural::net::NetShape;
        use crate::model::predictor::MultiViewpoint;
        use crate::model::sampler::Sampler;
        use crate::model::SamplerSettings;
        // The shipped network (its size sets the cost); made-up 128-unit weights without it.
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets/model/neural/melody.cnn");
        let net = match crate::model::neural::NeuralModel::load(&shipped) {
            Ok(m) => Arc::new(m.net),
            Err(e) => {
                println!(
                    "{}: {e}; a made-up 128-unit network instead",
                    shipped.display()
                );
                let shape = NetShape::new(128);
                let tensors = shape
                    .tensors()
                    .iter()
                    .map(|(_, r, c)| (0..r * c).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect())
                    .collect();
                Arc::new(Net::from_tensors(shape, tensors).unwrap())
            }
        };
        println!("{} hidden units", net.hidden());
        let key = KeySignature {
            tonic: 2,
            ..Default::default()
        };
        let mut history = History::new(key);
        for (i, p) in [
            62u8, 66, 69, 74, 73, 71, 69, 66, 67, 69, 71, 67, 66, 64, 62, 64,
        ]
        .iter()
        .enumerate()
        {
            history.push(ev(*p, 5, 6 * (i % 2) as u8));
        }
        let settings = SamplerSettings {
            length_notes: 16,
            candidates: 8,
            ..Default::default()
        };
        let model = crate::model::TrainedModel::embedded().unwrap();
        let mut ppm = MultiViewpoint::new("ppm", model.ltm.clone(), true);
        let mut h = History::new(key);
        for e in history.events.clone() {
            ppm.learn(&h, &e);
            h.push(e);
        }
        let mut sampler = Sampler::default();
        let mut parts: Vec<(&str, Box<dyn Predictor>)> = vec![
            (
                "neural",
                Box::new(NeuralPredictor::from_net("n", net.clone())),
            ),
            (
                "neural + PPM, the plugin's mix",
                Box::new(Mixture::new(
                    "mix",
                    vec![
                        Box::new(NeuralPredictor::from_net("n", net.clone())),
                        Box::new(ppm.clone()),
                    ],
                    crate::model::neural::mix::MIX,
                )),
            ),
            (
                "neural + PPM, entropy weighting (the mix before the gate)",
                Box::new(Mixture::new(
                    "mix",
                    vec![Box::new(NeuralPredictor::from_net("n", net)), Box::new(ppm)],
                    crate::model::neural::mix::MixRule::Entropy {
                        bias: 1.0,
                        geometric: false,
                    },
                )),
            ),
        ];
        // Runs interleaved, so that the machine's load weighs on every predictor alike.
        let mut all_times = vec![Vec::new(); parts.len()];
        for run in 0..60u64 {
            for ((_, p), times) in parts.iter_mut().zip(all_times.iter_mut()) {
                let s = SamplerSettings {
                    seed: run,
                    ..settings
                };
                let t0 = std::time::Instant::now();
                let out = sampler.sample_phrases(p.as_mut(), &mut history, &s, 90);
                times.push(t0.elapsed().as_secs_f64() * 1000.0);
                assert_eq!(out.len(), 8);
            }
        }
        let mut medians = Vec::new();
        for ((name, _), mut times) in parts.iter().zip(all_times) {
            times.sort_by(f64::total_cmp);
            println!(
                "{name}: 16 notes x 8 candidates median {:.2} ms, max {:.2} ms",
                times[times.len() / 2],
                times[times.len() - 1]
            );
            medians.push((name, times[times.len() / 2]));
        }
        if !cfg!(debug_assertions) {
            for (name, m) in medians {
                assert!(m <= 5.0, "{name}: median {m} ms");
            }
        }
    }
}
