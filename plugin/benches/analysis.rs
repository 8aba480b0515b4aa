//! Audio-thread cost of the analyser: `cargo bench -p continuo --bench analysis`.
//!
//! Feeds 2 s of a noisy harmonic melody at 48 kHz in host blocks of 64 and 512 samples. The
//! throughput line gives samples per second; the bar is ≤ 200 ns per input sample (≥ 5 M/s),
//! i.e. ≤ 1 % of one core at 48 kHz. `analyzer_48k/top_voice/512` runs the top-voice search
//! on every search hop, as while chords are heard (`top_voice_always=1`): the worst case.

use continuo::analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent, Tuning};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

struct Sink(u64);

impl AnalysisOutput for Sink {
    fn frame(&mut self, frame: &FeatureFrame) {
        self.0 = self.0.wrapping_add(frame.time_samples);
    }
    fn note(&mut self, _event: NoteEvent) {
        self.0 = self.0.wrapping_add(1);
    }
}

fn melody(sr: f32, seconds: f32) -> Vec<f32> {
    let n = (sr * seconds) as usize;
    let notes = [60.0f32, 64.0, 67.0, 72.0, 69.0, 65.0, 62.0, 55.0];
    let note_len = (0.25 * sr) as usize;
    let mut seed = 0x9e37_79b9u32;
    let mut phase = 0.0f32;
    (0..n)
        .map(|i| {
            let midi = notes[(i / note_len) % notes.len()];
            let f0 = 440.0 * ((midi - 69.0) / 12.0).exp2();
            phase = (phase + f0 / sr).fract();
            let p = phase * std::f32::consts::TAU;
            let t = (i % note_len) as f32 / sr;
            let tone: f32 = (1..=6).map(|h| (p * h as f32).sin() / h as f32).sum();
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = seed as f32 / u32::MAX as f32 - 0.5;
            0.3 * tone * (-3.0 * t).exp() + 0.01 * noise
        })
        .collect()
}

fn bench_process(c: &mut Criterion) {
    let sr = 48_000.0;
    let signal = melody(sr, 2.0);
    let mut group = c.benchmark_group("analyzer_48k");
    group.throughput(Throughput::Elements(signal.len() as u64));
    group.sample_size(10);
    for block in [64usize, 512] {
        group.bench_with_input(BenchmarkId::new("block", block), &block, |b, &block| {
            let mut analyzer = Analyzer::new(sr);
            let mut sink = Sink(0);
            b.iter(|| {
                for chunk in signal.chunks(block) {
                    analyzer.process(black_box(chunk), &mut sink);
                }
                black_box(sink.0)
            });
        });
    }
    group.bench_function(BenchmarkId::new("top_voice", 512), |b| {
        let tuning = Tuning::default().with("top_voice_always", 1.0);
        let mut analyzer = Analyzer::with_tuning(sr, &tuning);
        let mut sink = Sink(0);
        b.iter(|| {
            for chunk in signal.chunks(512) {
                analyzer.process(black_box(chunk), &mut sink);
            }
            black_box(sink.0)
        });
    });
    group.finish();
}

criterion_group!(benches, bench_process);
criterion_main!(benches);
