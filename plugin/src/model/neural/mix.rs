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

impl Predictor for Mixture {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn predict(&mut self, history: &History, out: &mut Prediction) {
        let hi = out.pitch_hi();
        self.outs
            .resize_with(self.parts.len(), || Prediction::new(0, 0));
        for (part, o) in self.parts.iter_mut().zip(self.outs.iter_mut()) {
            if o.pitch_lo != out.pitch_lo || o.pitch_hi() != hi {
                *o = Prediction::new(out.pitch_lo, hi);
            }
            part.predict(history, o);
        }
        let n_p = out.pitch.len();
        let mut wp = [0.0f64; 8];
        let mut wr = [0.0f64; 8];
        for (k, o) in self.outs.iter().enumerate().take(8) {
            wp[k] = entropy_weight_of(&o.pitch, n_p, self.bias);
            wr[k] = entropy_weight_of(&o.rhythm, o.rhythm.len(), self.bias);
        }
        let parts = self.outs.len().min(8);
        let (sp, sr): (f64, f64) = (wp[..parts].iter().sum(), wr[..parts].iter().sum());
        out.pitch.iter_mut().for_each(|p| *p = 0.0);
        out.rhythm.iter_mut().for_each(|p| *p = 0.0);
        for (k, o) in self.outs.iter().enumerate().take(parts) {
            let (a, b) = (wp[k] / sp, wr[k] / sr);
            for (x, &p) in out.pitch.iter_mut().zip(&o.pitch) {
                *x += a * p;
            }
            for (x, &p) in out.rhythm.iter_mut().zip(&o.rhythm) {
                *x += b * p;
            }
        }
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
