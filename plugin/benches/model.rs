//! Model-thread cost: one 16-note phrase with 8 candidates (bar: ≤ 1 ms), one prediction step,
//! and learning one note online.

use continuo::model::{Continuator, Note, SamplerSettings, TrainedModel};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::sync::Arc;

fn context() -> Vec<Note> {
    // A fiddle-tune-like phrase in D major, eighth notes.
    Note::eighths(
        &[
            62, 66, 69, 74, 73, 71, 69, 66, 67, 69, 71, 67, 66, 64, 62, 64,
        ],
        96,
    )
}

fn bench(c: &mut Criterion) {
    let model = Arc::new(TrainedModel::embedded().expect("embedded model"));
    let ctx = context();
    let mut cont = Continuator::new(model.clone());
    for n in &ctx {
        cont.observe(*n);
    }
    let settings = SamplerSettings {
        length_notes: 16,
        candidates: 8,
        ..Default::default()
    };
    c.bench_function("continue_phrase 16 notes x 8 candidates", |b| {
        b.iter(|| black_box(cont.continue_phrase(black_box(&ctx), None, &settings)))
    });
    // The plugin's way: 16 notes (2 bars of eighths, as the call), typical ranking, anti-copy,
    // hotter rhythm, closing on a strong beat.
    let plugin_way = SamplerSettings {
        phrase: continuo::model::PhraseLength::Bars(2),
        typical: true,
        copy_penalty: 0.2,
        rhythm_temperature: 3.0,
        temperature: 0.75,
        top_p: 0.9,
        candidates: 8,
        ..Default::default()
    };
    c.bench_function("answer 2 bars x 8 candidates, plugin defaults", |b| {
        b.iter(|| black_box(cont.continue_phrase(black_box(&ctx), None, &plugin_way)))
    });
    let one = SamplerSettings {
        length_notes: 1,
        candidates: 1,
        ..Default::default()
    };
    c.bench_function("continue_phrase 1 note x 1 candidate", |b| {
        b.iter(|| black_box(cont.continue_phrase(black_box(&ctx), None, &one)))
    });
    c.bench_function("observe one note", |b| {
        let mut cont = Continuator::new(model.clone());
        let mut t = 0.0;
        b.iter(|| {
            t += 0.5;
            cont.observe(Note {
                pitch: 60 + (t as u8 % 12),
                onset: t,
                duration: 0.4,
                velocity: 90,
            });
        })
    });
}

/// The neural model on the model thread: the same 16-note phrase x 8 candidates drawn with the
/// neural predictor alone and mixed with the PPM (long-term + session), weights of the
/// `continuo train --neural` default size (128 hidden units; the cost does not depend on their
/// values). Bar (issue 17): <= 5 ms.
fn bench_neural(c: &mut Criterion) {
    use continuo::model::neural::mix::Mixture;
    use continuo::model::neural::net::{Net, NetShape};
    use continuo::model::neural::NeuralPredictor;
    use continuo::model::note::events_from_notes;
    use continuo::model::predictor::{MultiViewpoint, Predictor};
    use continuo::model::sampler::Sampler;
    use continuo::model::viewpoints::History;
    let shape = NetShape::new(128);
    let tensors = shape
        .tensors()
        .iter()
        .map(|(_, r, c)| (0..r * c).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect())
        .collect();
    let net = Arc::new(Net::from_tensors(shape, tensors).expect("net"));
    let model = Arc::new(TrainedModel::embedded().expect("embedded model"));
    let ctx = context();
    let key = continuo::music::KeySignature {
        tonic: 2,
        ..Default::default()
    };
    let mut history = History::new(key);
    for e in events_from_notes(&ctx) {
        history.push(e);
    }
    let settings = SamplerSettings {
        length_notes: 16,
        candidates: 8,
        ..Default::default()
    };
    let mut sampler = Sampler::default();
    let mut neural = NeuralPredictor::from_net("neural", net.clone());
    c.bench_function("neural 16 notes x 8 candidates", |b| {
        b.iter(|| {
            black_box(sampler.sample_phrases(&mut neural, &mut history, &settings, 90));
        })
    });
    let mut ppm = MultiViewpoint::new("ppm", model.ltm.clone(), true);
    let mut h = History::new(key);
    for e in events_from_notes(&ctx) {
        ppm.learn(&h, &e);
        h.push(e);
    }
    let mut mix = Mixture::new(
        "mix",
        vec![
            Box::new(NeuralPredictor::from_net("neural", net)),
            Box::new(ppm),
        ],
        1.0,
    );
    c.bench_function("neural + PPM 16 notes x 8 candidates", |b| {
        b.iter(|| {
            black_box(sampler.sample_phrases(&mut mix, &mut history, &settings, 90));
        })
    });
}

criterion_group!(benches, bench, bench_neural);
criterion_main!(benches);
