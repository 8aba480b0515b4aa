//! Evaluation: cross-entropy (bits per note) of pitch and rhythm, and next-pitch accuracy, of any
//! [`Predictor`] on held-out melodies. Short-term models start empty on every melody and learn each
//! note after it has been predicted (IDyOM's "both" configuration).

use super::neural::mix::MixRule;
use super::predictor::{LongTermModel, ModelConfig, MultiViewpoint, Prediction, Predictor};
use super::train::{train, Sequence};
use std::sync::Arc;

/// Probabilities are floored here so that an impossible note costs a finite (large) number of bits.
const MIN_P: f64 = 1e-12;

/// The figures of one predictor on one set of melodies.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    pub name: String,
    pub melodies: usize,
    pub notes: usize,
    /// Mean -log2 p(pitch) over all notes.
    pub pitch_bits: f64,
    /// Mean -log2 p(rhythm class) over all notes.
    pub rhythm_bits: f64,
    /// Share of notes whose pitch was the most likely one.
    pub top1: f64,
    /// Share of notes whose pitch was among the three most likely.
    pub top3: f64,
}

impl Scores {
    pub fn header() -> String {
        format!(
            "{:<34} {:>8} {:>10} {:>11} {:>7} {:>7}",
            "predictor", "notes", "pitch b/n", "rhythm b/n", "top-1", "top-3"
        )
    }

    pub fn row(&self) -> String {
        format!(
            "{:<34} {:>8} {:>10.3} {:>11.3} {:>6.1}% {:>6.1}%",
            self.name,
            self.notes,
            self.pitch_bits,
            self.rhythm_bits,
            100.0 * self.top1,
            100.0 * self.top3
        )
    }
}

/// Scores `predictor` on `sequences` (every note of every melody, the first included).
pub fn evaluate<'a>(
    predictor: &mut dyn Predictor,
    sequences: impl IntoIterator<Item = &'a Sequence>,
) -> Scores {
    let mut out = Prediction::full_range();
    let (mut notes, mut melodies) = (0usize, 0usize);
    let (mut pitch_bits, mut rhythm_bits, mut top1, mut top3) = (0.0, 0.0, 0usize, 0usize);
    for seq in sequences {
        melodies += 1;
        predictor.reset_session();
        let mut h = super::viewpoints::History::with_capacity(seq.key, seq.events.len());
        for e in &seq.events {
            // The onset phase of the next note is known from the previous onsets.
            h.next_phase = e.phase;
            predictor.predict(&h, &mut out);
            let p = out.p_pitch(e.pitch);
            pitch_bits -= p.max(MIN_P).log2();
            rhythm_bits -= out.rhythm[e.rhythm as usize].max(MIN_P).log2();
            let better = out.pitch.iter().filter(|&&q| q > p).count();
            top1 += (better == 0) as usize;
            top3 += (better < 3) as usize;
            predictor.learn(&h, e);
            h.push(*e);
            notes += 1;
        }
    }
    let n = notes.max(1) as f64;
    Scores {
        name: predictor.name(),
        melodies,
        notes,
        pitch_bits: pitch_bits / n,
        rhythm_bits: rhythm_bits / n,
        top1: top1 as f64 / n,
        top3: top3 as f64 / n,
    }
}

/// Trains the baselines and the model on `train_set` and scores them on `test_set`: unigram,
/// bigram, a single-viewpoint pitch PPM (the IDyOM-style reference, without and with its
/// short-term model), the model's long-term part,
/// its short-term part alone and both together.
pub fn baselines(
    config: &ModelConfig,
    train_set: &[&Sequence],
    test_set: &[&Sequence],
) -> Vec<Scores> {
    let mut rows = Vec::new();
    let mut run = |name: &str, cfg: ModelConfig, stm: bool| {
        let ltm = Arc::new(train(cfg, train_set.iter().copied()));
        let mut m = MultiViewpoint::new(name, ltm, stm);
        rows.push(evaluate(&mut m, test_set.iter().copied()));
    };
    run("unigram", ModelConfig::baseline(0), false);
    run("bigram", ModelConfig::baseline(1), false);
    let reference = ModelConfig {
        max_order: config.max_order,
        ..ModelConfig::baseline(config.max_order)
    };
    run("1-viewpoint PPM, long-term", reference.clone(), false);
    run("1-viewpoint PPM, long+short-term", reference, true);
    let ltm = Arc::new(train(config.clone(), train_set.iter().copied()));
    rows.push(evaluate(
        &mut MultiViewpoint::new("model, long-term only", ltm.clone(), false),
        test_set.iter().copied(),
    ));
    rows.push(evaluate(
        &mut MultiViewpoint::short_term_only(config.clone()),
        test_set.iter().copied(),
    ));
    rows.push(evaluate(
        &mut MultiViewpoint::new("model, long+short-term", ltm, true),
        test_set.iter().copied(),
    ));
    rows
}

/// Scores of a trained long-term model, without and with the short-term model.
pub fn evaluate_model(ltm: &Arc<LongTermModel>, test_set: &[&Sequence]) -> Vec<Scores> {
    vec![
        evaluate(
            &mut MultiViewpoint::new("model, long-term only", ltm.clone(), false),
            test_set.iter().copied(),
        ),
        evaluate(
            &mut MultiViewpoint::new("model, long+short-term", ltm.clone(), true),
            test_set.iter().copied(),
        ),
    ]
}

/// The neural model's rows: alone, mixed with the session's short-term model, and mixed with
/// the PPM (`ltm` with its short-term model, or as two separate parts): the mixes with the PPM
/// by `rule` (a gate weighs the mix of its number of parts), the one with the session alone by
/// [`MixRule::without_gate`].
pub fn neural_rows(
    ltm: &Arc<LongTermModel>,
    net: &Arc<super::neural::net::Net>,
    rule: MixRule,
    test_set: &[&Sequence],
) -> Vec<Scores> {
    neural_rows_styled(ltm, net, None, rule, test_set)
}

/// [`neural_rows`] with the network told style `style` (a style-conditioned network; `None` is
/// "no style", as for Blend; a network without style inputs ignores it).
pub fn neural_rows_styled(
    ltm: &Arc<LongTermModel>,
    net: &Arc<super::neural::net::Net>,
    style: Option<u8>,
    rule: MixRule,
    test_set: &[&Sequence],
) -> Vec<Scores> {
    use super::neural::mix::Mixture;
    use super::neural::NeuralPredictor;
    let neural = || Box::new(NeuralPredictor::from_net("neural", net.clone()).with_style(style));
    let stm = || Box::new(MultiViewpoint::short_term_only(ltm.config.clone()));
    let mut rows = vec![evaluate(
        &mut NeuralPredictor::from_net("neural alone", net.clone()).with_style(style),
        test_set.iter().copied(),
    )];
    let other = rule.without_gate();
    let mut with_session = Mixture::new("neural + session", vec![neural(), stm()], other);
    rows.push(evaluate(&mut with_session, test_set.iter().copied()));
    let mut three = Mixture::new(
        "neural + PPM long-term + session",
        vec![
            neural(),
            Box::new(MultiViewpoint::new("ltm", ltm.clone(), false)),
            stm(),
        ],
        rule,
    );
    rows.push(evaluate(&mut three, test_set.iter().copied()));
    let mut mix = Mixture::new(
        "neural + (PPM with session)",
        vec![
            neural(),
            Box::new(MultiViewpoint::new("ppm", ltm.clone(), true)),
        ],
        rule,
    );
    rows.push(evaluate(&mut mix, test_set.iter().copied()));
    rows
}

/// Scores of one predictor on several sets, as one: note-weighted means (rows in the same
/// order in every part). `None` when there is no part.
pub fn combine(parts: &[Vec<Scores>]) -> Option<Vec<Scores>> {
    let first = parts.first()?;
    Some(
        (0..first.len())
            .map(|i| {
                let rows: Vec<&Scores> = parts.iter().filter_map(|p| p.get(i)).collect();
                let notes: usize = rows.iter().map(|r| r.notes).sum();
                let n = notes.max(1) as f64;
                let mean = |f: fn(&Scores) -> f64| {
                    rows.iter().map(|r| f(r) * r.notes as f64).sum::<f64>() / n
                };
                Scores {
                    name: first[i].name.clone(),
                    melodies: rows.iter().map(|r| r.melodies).sum(),
                    notes,
                    pitch_bits: mean(|r| r.pitch_bits),
                    rhythm_bits: mean(|r| r.rhythm_bits),
                    top1: mean(|r| r.top1),
                    top3: mean(|r| r.top3),
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::note::Event;
    use crate::music::KeySignature;

    #[test]
    fn model_beats_unigram_on_a_repetitive_tune() {
        let ev = |pitch| Event {
            pitch,
            rhythm: 8,
            phase: 0,
        };
        let key = KeySignature::default();
        let tune: Vec<Event> = [60, 62, 64, 65, 67, 65, 64, 62]
            .iter()
            .cycle()
            .take(64)
            .map(|&p| ev(p))
            .collect();
        let seqs = [
            Sequence {
                events: tune.clone(),
                key,
            },
            Sequence { events: tune, key },
        ];
        let train_set = [&seqs[0]];
        let test_set = [&seqs[1]];
        let rows = baselines(&ModelConfig::default(), &train_set, &test_set);
        assert_eq!(rows.len(), 7);
        let (uni, both) = (&rows[0], &rows[6]);
        assert!(both.pitch_bits < uni.pitch_bits, "{rows:?}");
        assert!(both.top1 > 0.8, "{rows:?}");
        assert!(rows
            .iter()
            .all(|r| r.notes == 64 && r.pitch_bits.is_finite()));
    }
}
