//! [`Mixture`]: several predictors (the neural model, the PPM's long-term model and the
//! session's short-term model) mixed note by note by the entropy weighting the PPM already uses
//! between its long- and short-term models (Pearce: each weight `(H / H_max)^-bias`, a
//! weighted arithmetic mean), pitch and rhythm separately.

use crate::model::note::Event;
use crate::model::predictor::{entropy_weight_of, Prediction, Predictor};
use crate::model::viewpoints::History;

/// Predictors mixed by entropy weighting. Every part learns the session (the static ones
/// ignore it), so a [`crate::model::predictor::MultiViewpoint`] part keeps learning the player.
pub struct Mixture {
    name: String,
    parts: Vec<Box<dyn Predictor + Send>>,
    /// Entropy-weighting exponent (0 = plain average).
    pub bias: f64,
    /// One prediction per part (allocated on the first call, resized with the window).
    outs: Vec<Prediction>,
}

impl Mixture {
    pub fn new(name: impl Into<String>, parts: Vec<Box<dyn Predictor + Send>>, bias: f64) -> Self {
        Self {
            name: name.into(),
            parts,
            bias,
            outs: Vec::new(),
        }
    }
}

/// The entropy-weighting exponent of the mix the plugin and `continuo eval` use (chosen on the
/// validation part of the training files; see the README's *Neural model*).
pub const MIX_BIAS: f64 = 1.0;

/// Mixes the predictions of `n` parts into `out`: `predict_part(k, o)` writes part `k`'s
/// prediction into `o`. `outs` holds one prediction per part (allocated on the first call and
/// when the pitch window changes, reused after).
fn mix_into(
    outs: &mut Vec<Prediction>,
    n: usize,
    bias: f64,
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
    let mut wp = [0.0f64; 8];
    let mut wr = [0.0f64; 8];
    for (k, o) in outs.iter().enumerate().take(8) {
        wp[k] = entropy_weight_of(&o.pitch, n_p, bias);
        wr[k] = entropy_weight_of(&o.rhythm, o.rhythm.len(), bias);
    }
    let parts = outs.len().min(8);
    let (sp, sr): (f64, f64) = (wp[..parts].iter().sum(), wr[..parts].iter().sum());
    out.pitch.iter_mut().for_each(|p| *p = 0.0);
    out.rhythm.iter_mut().for_each(|p| *p = 0.0);
    for (k, o) in outs.iter().enumerate().take(parts) {
        let (a, b) = (wp[k] / sp, wr[k] / sr);
        for (x, &p) in out.pitch.iter_mut().zip(&o.pitch) {
            *x += a * p;
        }
        for (x, &p) in out.rhythm.iter_mut().zip(&o.rhythm) {
            *x += b * p;
        }
    }
}

impl Predictor for Mixture {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn predict(&mut self, history: &History, out: &mut Prediction) {
        let Self {
            parts, outs, bias, ..
        } = self;
        mix_into(outs, parts.len(), *bias, out, |k, o| {
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
    pub bias: f64,
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
            bias,
        } = self;
        mix_into(outs, 2, *bias, out, |k, o| {
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
