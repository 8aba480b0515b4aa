//! Model-thread cost: one 16-note phrase with 8 candidates (bar: ≤ 1 ms; ≤ 5 ms with the neural
//! network mixed in), one prediction step, and learning one note online.

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
    // The same with *Neural network* on: the shipped network mixed with the PPM (bar: ≤ 5 ms).
    let mut mixed = Continuator::new(model.clone());
    for n in &ctx {
        mixed.observe(*n);
    }
    let net = continuo::model::neural::shipped().expect("shipped network");
    mixed.set_neural(Some(continuo::model::neural::NeuralPredictor::new(
        "neural", &net,
    )));
    c.bench_function("answer 2 bars x 8 candidates, neural network on", |b| {
        b.iter(|| black_box(mixed.continue_phrase(black_box(&ctx), None, &plugin_way)))
    });
    c.bench_function(
        "continue_phrase 16 notes x 8 candidates, neural network on",
        |b| b.iter(|| black_box(mixed.continue_phrase(black_box(&ctx), None, &settings))),
    );
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

criterion_group!(benches, bench);
criterion_main!(benches);
