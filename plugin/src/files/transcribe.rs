//! Offline use of the analyser (CLI and tests; NOT for the audio thread): read a WAV file, run
//! the very same [`Analyzer`] over it in host-sized blocks, collect the notes, write MIDI and TSV.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::analysis::{AnalysisOutput, Analyzer, FeatureFrame, NoteEvent, Tuning};
use crate::harmony::audio::{join_steps, ChordListener, ListenerSettings};
use crate::harmony::hearing::ChordSpan;

/// One transcribed note, in seconds from the start of the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TranscribedNote {
    /// Best estimate of the real onset (the analyser's `onset_samples`).
    pub onset_s: f64,
    /// Best estimate of the end.
    pub offset_s: f64,
    /// MIDI pitch.
    pub pitch: u8,
    /// 0..1.
    pub velocity: f32,
    /// When the NoteOn was emitted (decision time): what a live listener would hear.
    pub emitted_s: f64,
}

/// Reads a WAV file into mono `f32` samples (the mean of all channels) and its sample rate.
/// Accepts 16/24/32-bit integer and 32-bit float PCM at any channel count and any rate the
/// analyser listens at ([`crate::analysis::listens_at`]); other rates are an error.
pub fn read_wav(path: &Path) -> Result<(Vec<f32>, f32)> {
    let reader = hound::WavReader::open(path)
        .with_context(|| format!("cannot read {} as a WAV file", path.display()))?;
    let spec = reader.spec();
    let channels = spec.channels as usize;
    if channels == 0 {
        bail!("{}: the WAV header declares no channels", path.display());
    }
    if spec.sample_rate == 0 {
        bail!(
            "{}: the WAV header declares a sample rate of 0",
            path.display()
        );
    }
    if !crate::analysis::listens_at(spec.sample_rate as f32) {
        bail!(
            "{}: sample rate {} Hz; the analyser listens at {}–{} Hz",
            path.display(),
            spec.sample_rate,
            crate::analysis::MIN_SAMPLE_RATE,
            crate::analysis::MAX_SAMPLE_RATE
        );
    }
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, bits @ (16 | 24 | 32)) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<std::result::Result<_, _>>()
                .with_context(|| format!("{}: corrupt sample data", path.display()))?
        }
        (hound::SampleFormat::Float, 32) => reader
            .into_samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .with_context(|| format!("{}: corrupt sample data", path.display()))?,
        (format, bits) => bail!(
            "{}: unsupported WAV sample format ({bits}-bit {}); use 16/24/32-bit integer or \
             32-bit float PCM",
            path.display(),
            match format {
                hound::SampleFormat::Int => "integer",
                hound::SampleFormat::Float => "float",
            }
        ),
    };
    if interleaved.len() < channels {
        bail!("{}: the file contains no audio", path.display());
    }
    let mono: Vec<f32> = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok((mono, spec.sample_rate as f32))
}

/// Collects note events (and nothing else) with their absolute emit times.
struct Collector {
    sample_rate: f64,
    /// Stream position of the current block's first sample.
    block_start: u64,
    notes: Vec<TranscribedNote>,
    /// Index in `notes` of the note that is sounding.
    open: Option<usize>,
    /// Feature frames seen, and how many of them were polyphonic.
    frames: u64,
    polyphonic_frames: u64,
    /// Stream times (s) at which the frames' polyphonic decision changed, with its new value
    /// (grows only on a change: a handful per file; for `eval-chords --out`).
    polyphonic_changes: Vec<(f64, bool)>,
    /// The last frame's polyphonic decision.
    was_polyphonic: bool,
    /// The chord recogniser the frames are fed to (only when chords are wanted: [`listen`]).
    chords: Option<ChordListener>,
}

impl AnalysisOutput for Collector {
    fn frame(&mut self, frame: &FeatureFrame) {
        self.frames += 1;
        self.polyphonic_frames += u64::from(frame.polyphonic);
        if frame.polyphonic != self.was_polyphonic {
            self.was_polyphonic = frame.polyphonic;
            self.polyphonic_changes.push((
                frame.time_samples as f64 / self.sample_rate,
                frame.polyphonic,
            ));
        }
        if let Some(l) = self.chords.as_mut() {
            l.push(frame);
        }
    }

    fn note(&mut self, event: NoteEvent) {
        let sr = self.sample_rate;
        match event {
            NoteEvent::On {
                pitch,
                velocity,
                onset_samples,
                at,
            } => {
                self.close((self.block_start + at as u64) as f64 / sr);
                let emitted_s = (self.block_start + at as u64) as f64 / sr;
                self.notes.push(TranscribedNote {
                    onset_s: onset_samples as f64 / sr,
                    offset_s: emitted_s,
                    pitch,
                    velocity,
                    emitted_s,
                });
                self.open = Some(self.notes.len() - 1);
            }
            NoteEvent::Off { offset_samples, .. } => self.close(offset_samples as f64 / sr),
        }
    }
}

impl Collector {
    fn new(sample_rate: f64) -> Self {
        Self {
            sample_rate,
            block_start: 0,
            notes: Vec::new(),
            open: None,
            frames: 0,
            polyphonic_frames: 0,
            polyphonic_changes: Vec::new(),
            was_polyphonic: false,
            chords: None,
        }
    }

    fn close(&mut self, at_s: f64) {
        if let Some(i) = self.open.take() {
            if let Some(n) = self.notes.get_mut(i) {
                n.offset_s = at_s.max(n.onset_s);
            }
        }
    }
}

/// Runs a fresh [`Analyzer`] over `samples` in blocks of `block` samples (like a host would)
/// and returns the notes in emission order.
pub fn transcribe(samples: &[f32], sample_rate: f32, block: usize) -> Vec<TranscribedNote> {
    transcribe_with(samples, sample_rate, block, &Tuning::default())
}

/// [`transcribe`] with overridden analysis settings.
pub fn transcribe_with(
    samples: &[f32],
    sample_rate: f32,
    block: usize,
    tuning: &Tuning,
) -> Vec<TranscribedNote> {
    transcribe_stats(samples, sample_rate, block, tuning).0
}

/// [`transcribe_with`], also returning the share of analysis hops flagged polyphonic.
pub fn transcribe_stats(
    samples: &[f32],
    sample_rate: f32,
    block: usize,
    tuning: &Tuning,
) -> (Vec<TranscribedNote>, f64) {
    let mut analyzer = Analyzer::with_tuning(sample_rate, tuning);
    let mut collector = Collector::new(analyzer.sample_rate() as f64);
    run_through(&mut analyzer, &mut collector, samples, block, None);
    let share = collector.polyphonic_frames as f64 / collector.frames.max(1) as f64;
    (collector.notes, share)
}

/// What the plugin hears in a recording: the notes and the chords.
#[derive(Debug, Clone, Default)]
pub struct Heard {
    /// The notes, in emission order.
    pub notes: Vec<TranscribedNote>,
    /// The chords, in time order, covering the whole file (N where nothing fits or all is
    /// silent); every span has an end.
    pub chords: Vec<ChordSpan>,
    /// Share of analysis hops flagged polyphonic.
    pub polyphonic_share: f64,
    /// Times (s) at which the polyphonic decision changed, with its new value.
    pub polyphonic_changes: Vec<(f64, bool)>,
}

/// Runs a fresh [`Analyzer`] over `samples` in blocks of `block` samples and feeds its frames
/// to a [`ChordListener`] with `settings` — the recogniser the plugin runs on its model
/// thread, here on the same frames in the same order — and returns the notes and the chords.
pub fn listen(
    samples: &[f32],
    sample_rate: f32,
    block: usize,
    tuning: &Tuning,
    settings: ListenerSettings,
) -> Heard {
    let mut analyzer = Analyzer::with_tuning(sample_rate, tuning);
    let mut collector = Collector::new(analyzer.sample_rate() as f64);
    collector.chords = Some(ChordListener::new(
        sample_rate,
        analyzer.window_samples(),
        settings,
    ));
    let end_s = run_through(&mut analyzer, &mut collector, samples, block, None);
    let mut chords = std::collections::VecDeque::new();
    if let Some(mut l) = collector.chords.take() {
        l.finish(samples.len() as u64);
        let sr = l.sample_rate();
        join_steps(&mut chords, l.drain(), sr, usize::MAX, true);
    }
    let mut chords: Vec<ChordSpan> = chords.into();
    // The last step may reach past the end of the file.
    chords.retain(|c| c.start_s < end_s);
    if let Some(last) = chords.last_mut() {
        last.end_s = Some(last.end_s.unwrap_or(end_s).min(end_s));
    }
    Heard {
        notes: collector.notes,
        chords,
        polyphonic_share: collector.polyphonic_frames as f64 / collector.frames.max(1) as f64,
        polyphonic_changes: collector.polyphonic_changes,
    }
}

/// [`transcribe_stats`] in blocks of one hop, also returning every note start the tracker
/// wanted (path, pitch, the judge's features, whether it was accepted), in time order. For the
/// evaluation's diagnostics (`eval-transcription --verbose`) and for fitting the judge
/// (`--fit-judge`); the notes are the same as with any block size.
pub fn transcribe_with_starts(
    samples: &[f32],
    sample_rate: f32,
    tuning: &Tuning,
) -> (
    Vec<TranscribedNote>,
    f64,
    Vec<crate::analysis::tracker::NoteStart>,
) {
    let mut analyzer = Analyzer::with_tuning(sample_rate, tuning);
    let mut collector = Collector::new(analyzer.sample_rate() as f64);
    let mut starts = Vec::new();
    let hop = analyzer.hop_samples();
    run_through(
        &mut analyzer,
        &mut collector,
        samples,
        hop,
        Some(&mut starts),
    );
    let share = collector.polyphonic_frames as f64 / collector.frames.max(1) as f64;
    (collector.notes, share, starts)
}

/// A per-hop dump of the features and note events between `from_s` and `to_s` (tuning aid).
pub fn trace(samples: &[f32], sample_rate: f32, from_s: f64, to_s: f64, tuning: &Tuning) -> String {
    struct Tracer {
        sr: f64,
        from: f64,
        to: f64,
        block_start: u64,
        text: String,
        /// The last `frame` fell inside the traced span (its polyphony figures follow it).
        framed: bool,
    }
    impl AnalysisOutput for Tracer {
        fn frame(&mut self, f: &FeatureFrame) {
            let t = f.time_samples as f64 / self.sr;
            self.framed = t >= self.from && t <= self.to;
            if self.framed {
                let midi = if f.f0_hz > 0.0 {
                    crate::music::hz_to_midi(f.f0_hz)
                } else {
                    0.0
                };
                self.text.push_str(&format!(
                    "{t:8.4} midi {midi:6.2} conf {:.2} lvl {:6.1} flux {:6.3}{}\n",
                    f.confidence,
                    f.level_db,
                    f.flux,
                    if f.polyphonic { " chord" } else { "" }
                ));
            }
        }
        fn note(&mut self, e: NoteEvent) {
            let t = self.block_start as f64 / self.sr;
            if t >= self.from - 0.05 && t <= self.to {
                self.text.push_str(&format!("    {e:?}\n"));
            }
        }
    }
    let mut analyzer = Analyzer::with_tuning(sample_rate, tuning);
    let mut tracer = Tracer {
        sr: sample_rate as f64,
        from: from_s,
        to: to_s,
        block_start: 0,
        text: String::new(),
        framed: false,
    };
    let mut last_start = *analyzer.last_note_start();
    for chunk in samples.chunks(1) {
        analyzer.process(chunk, &mut tracer);
        tracer.block_start += 1;
        // Every start a path wanted: its path, pitch, onset and the judge's answer.
        let start = *analyzer.last_note_start();
        if start != last_start {
            last_start = start;
            let t = start.decided as f64 / tracer.sr;
            if t >= tracer.from && t <= tracer.to {
                let (run_ms, confidence, frame) = start.features.described();
                tracer.text.push_str(&format!(
                    "    start {} pitch {} onset {:.4} {} (p {:.2}; run {:.0} ms, conf {:.2}, \
                     frame now/before/onset {:.2}/{:.2}/{:.2})\n",
                    start.path.name(),
                    start.pitch,
                    start.onset as f64 / tracer.sr,
                    if start.accepted { "accepted" } else { "VETOED" },
                    crate::analysis::judge::shipped_probability(&start.features),
                    run_ms,
                    confidence,
                    frame[0],
                    frame[1],
                    frame[2],
                ));
            }
        }
        if std::mem::take(&mut tracer.framed) {
            // The newcomer stage's best comb of the rise on this hop (when it searched).
            let n = analyzer.last_newcomer();
            if n.fresh && n.best > 0 {
                tracer.text.push_str(&format!(
                    "          newcomer best {} new {:.2} coh {:.2} level {:.2}{}\n",
                    n.best,
                    n.new_share,
                    n.coherence,
                    n.level,
                    n.pitch.map_or(String::new(), |p| format!(" NAMED {p}")),
                ));
            }
            // The top-voice stage's answer, when it searched on that hop.
            if let Some((_, top)) = analyzer.last_top_voice() {
                tracer.text.push_str(&format!(
                    "          top {} p {:.2}\n",
                    top.midi, top.probability
                ));
            }
            // The polyphony stage's figures for that hop (chord judge and chord onsets).
            let p = analyzer.last_polyphony();
            let m = &p.measures;
            tracer.text.push_str(&format!(
                "          poly{} {}/{}/{} 2nd {:.2} 3rd {:.2} left {:.2} p {:.2} share {:.2} | rise{} first {} 2nd {:.2} 3rd {:.2} share {:.2} onsets {:.2} voices {:.2} clear {:.2}{}\n",
                if p.searched { "*" } else { " " },
                p.first,
                p.second,
                p.third,
                m.second,
                m.third,
                m.left,
                p.probability,
                p.chord_share,
                if p.rise_measured { "*" } else { " " },
                p.rise_first,
                p.rise_second,
                p.rise_third,
                p.rise_share,
                p.onset_share,
                p.voices_share,
                p.clear_share,
                if p.chords { " CHORDS" } else { "" },
            ));
        }
    }
    tracer.text
}

/// Writes `notes` as a type-0 standard MIDI file: 120 bpm, 480 ticks per quarter note.
pub fn write_midi(path: &Path, notes: &[TranscribedNote]) -> Result<()> {
    let bytes = midi_bytes(notes)?;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The SMF bytes for `notes` (see [`write_midi`]), through the shared encoder.
pub fn midi_bytes(notes: &[TranscribedNote]) -> Result<Vec<u8>> {
    // At 120 bpm a beat is half a second.
    let file_notes: Vec<crate::files::midi::FileNote> = notes
        .iter()
        .map(|n| crate::files::midi::FileNote {
            start_beats: n.onset_s.max(0.0) * 2.0,
            length_beats: (n.offset_s - n.onset_s).max(0.0) * 2.0,
            pitch: n.pitch.min(127),
            velocity: ((n.velocity.clamp(0.0, 1.0) * 126.0).round() as u8 + 1).min(127),
            channel: 0,
        })
        .collect();
    Ok(crate::files::midi::encode(
        &file_notes,
        120.0,
        "Continuo transcription",
    ))
}

/// The TSV text: header line, then `onset_s offset_s midi_pitch emitted_s` per note.
pub fn tsv_text(notes: &[TranscribedNote]) -> String {
    let mut s = String::from("onset_s\toffset_s\tmidi_pitch\temitted_s\n");
    for n in notes {
        s.push_str(&format!(
            "{:.4}\t{:.4}\t{}\t{:.4}\n",
            n.onset_s, n.offset_s, n.pitch, n.emitted_s
        ));
    }
    s
}

/// Runs `samples` through the analyser in blocks of `block`, lets the window drain so notes near
/// the end are decided, and ends the last note at the end of the file. Returns that end (s).
/// With `starts`, also records every note start the tracker wanted (one check per block: use blocks of at
/// most one hop to see them all).
fn run_through(
    analyzer: &mut Analyzer,
    collector: &mut Collector,
    samples: &[f32],
    block: usize,
    mut starts: Option<&mut Vec<crate::analysis::tracker::NoteStart>>,
) -> f64 {
    let tail = vec![0.0f32; analyzer.window_samples()];
    let mut last = *analyzer.last_note_start();
    let block = block.max(1);
    for chunk in samples.chunks(block).chain(tail.chunks(block)) {
        analyzer.process(chunk, collector);
        collector.block_start += chunk.len() as u64;
        if let Some(starts) = starts.as_deref_mut() {
            let now = *analyzer.last_note_start();
            if now != last {
                starts.push(now);
                last = now;
            }
        }
    }
    analyzer.finish(collector);
    let end_s = samples.len() as f64 / collector.sample_rate;
    if let Some(i) = collector.open.take() {
        if let Some(n) = collector.notes.get_mut(i) {
            n.offset_s = end_s.max(n.onset_s);
        }
    }
    end_s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(onset_s: f64, offset_s: f64, pitch: u8) -> TranscribedNote {
        TranscribedNote {
            onset_s,
            offset_s,
            pitch,
            velocity: 0.8,
            emitted_s: onset_s + 0.01,
        }
    }

    #[test]
    fn midi_round_trip() {
        let notes = [note(0.5, 1.0, 60), note(1.0, 1.25, 64)];
        let bytes = midi_bytes(&notes).unwrap();
        let smf = midly::Smf::parse(&bytes).unwrap();
        assert_eq!(smf.header.timing, midly::Timing::Metrical(480.into()));
        let mut t = 0u32;
        let mut ons = Vec::new();
        for ev in &smf.tracks[0] {
            t += ev.delta.as_int();
            if let midly::TrackEventKind::Midi {
                message: midly::MidiMessage::NoteOn { key, .. },
                ..
            } = ev.kind
            {
                ons.push((t, key.as_int()));
            }
        }
        assert_eq!(ons, vec![(480, 60), (960, 64)]);
    }

    #[test]
    fn wav_formats() {
        let dir = std::env::temp_dir().join(format!("continuo-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, bits: u16, format: hound::SampleFormat, channels: u16| {
            let path = dir.join(name);
            let spec = hound::WavSpec {
                channels,
                sample_rate: 44_100,
                bits_per_sample: bits,
                sample_format: format,
            };
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            for i in 0..100 {
                for _ in 0..channels {
                    let v = if i % 2 == 0 { 0.5f64 } else { -0.5 };
                    match (format, bits) {
                        (hound::SampleFormat::Float, _) => w.write_sample(v as f32).unwrap(),
                        (_, 8) => w.write_sample((v * 127.0) as i8).unwrap(),
                        (_, 16) => w.write_sample((v * 32767.0) as i16).unwrap(),
                        (_, b) => w
                            .write_sample((v * ((1i64 << (b - 1)) - 1) as f64) as i32)
                            .unwrap(),
                    }
                }
            }
            w.finalize().unwrap();
            path
        };
        for (bits, fmt, ch) in [
            (16, hound::SampleFormat::Int, 1),
            (24, hound::SampleFormat::Int, 2),
            (32, hound::SampleFormat::Int, 1),
            (32, hound::SampleFormat::Float, 3),
        ] {
            let p = write(&format!("t{bits}{ch}.wav"), bits, fmt, ch);
            let (samples, sr) = read_wav(&p).unwrap();
            assert_eq!(sr, 44_100.0);
            assert_eq!(samples.len(), 100);
            assert!((samples[0] - 0.5).abs() < 1e-3, "{bits}: {}", samples[0]);
        }
        let p8 = write("t8.wav", 8, hound::SampleFormat::Int, 1);
        assert!(read_wav(&p8).unwrap_err().to_string().contains("8-bit"));
        let empty = dir.join("empty.wav");
        hound::WavWriter::create(
            &empty,
            hound::WavSpec {
                channels: 1,
                sample_rate: 48_000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            },
        )
        .unwrap()
        .finalize()
        .unwrap();
        assert!(read_wav(&empty)
            .unwrap_err()
            .to_string()
            .contains("no audio"));
        let junk = dir.join("junk.wav");
        std::fs::write(&junk, b"not a wav").unwrap();
        assert!(read_wav(&junk).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
