//! `continuo render IN.wav --out OUT.mid [--tsv FILE] [--block N] [--out-continuation ANSWER.mid]`
//! and `continuo render --midi-in IN.mid --out-continuation ANSWER.mid`: transcribe a WAV file
//! with the plugin's own analyser, run in host-sized blocks, and write the notes as MIDI (and
//! TSV); optionally also run the whole plugin (analysis or MIDI input → model → playback) over
//! the file followed by silence and write what it would have answered.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::files::midi::FileNote;
use crate::files::transcribe;
use crate::harmony::audio::{spans_tsv, ListenerSettings};
use crate::harmony::hearing::ChordSpan;
use crate::meter::Meter;
use crate::music::note_name;
use crate::params::ContinuoParams;
use crate::preset::{user_dir, Library};
use crate::session::{MidiIn, Session};

/// Options of `continuo render`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The WAV file to transcribe (16/24/32-bit integer or 32-bit float, any rate, any channels).
    pub input: Option<PathBuf>,
    /// Where to write the transcription as a standard MIDI file (120 bpm, 480 PPQ).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the notes as TSV: onset_s, offset_s, midi_pitch, emitted_s.
    #[arg(long)]
    pub tsv: Option<PathBuf>,
    /// Also write the chords heard (the plugin's chord recogniser on the same analysis) as TSV:
    /// start_s, end_s, label (Harte), one header line.
    #[arg(long)]
    pub chords_tsv: Option<PathBuf>,
    /// Block size handed to the analyser, like a host buffer.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub block: u32,
    /// Transcribe with *Tracking: Accurate* (a few less wrong notes, NoteOns about 4 ms later)
    /// instead of the plugin's default *Fast*. Offline, latency rarely matters.
    #[arg(long)]
    pub accurate: bool,
    /// Write what the plugin answers (call and response, after the input and a pause) as MIDI.
    #[arg(long)]
    pub out_continuation: Option<PathBuf>,
    /// Use the first melody of this MIDI file as the player's notes instead of a WAV file.
    #[arg(long)]
    pub midi_in: Option<PathBuf>,
    /// A factory or user preset for the answer (default: the plugin's defaults).
    #[arg(long)]
    pub preset: Option<String>,
    /// Host tempo in beats per minute.
    #[arg(long, default_value_t = 120.0)]
    pub tempo: f64,
    /// The host's time signature, e.g. 3/4 or 6/8, bar lines from beat 0 (default: the MIDI
    /// input's own, else none, which the plugin counts as 4/4).
    #[arg(long)]
    pub meter: Option<String>,
    /// Seconds of silence after the input, for the answer.
    #[arg(long, default_value_t = 8.0)]
    pub tail: f64,
}

/// What `render` produced, for callers that continue from it.
pub struct Rendered {
    pub notes: Vec<transcribe::TranscribedNote>,
    pub sample_rate: f32,
    pub duration_s: f64,
}

/// Reads and transcribes the WAV input of `args` (no output written).
pub fn transcribe_input(args: &Args) -> Result<Rendered> {
    Ok(listen_input(args)?.0)
}

/// Reads the WAV input of `args` and runs the plugin's analysis and chord recogniser over it:
/// the notes, and the chords heard (no output written).
pub fn listen_input(args: &Args) -> Result<(Rendered, Vec<ChordSpan>)> {
    let input = args.input.as_ref().context("no input WAV file given")?;
    let (samples, sample_rate) = transcribe::read_wav(input)?;
    let tuning = crate::analysis::Tuning::parse(if args.accurate { "fast_tracking=0" } else { "" })
        .map_err(|e| anyhow::anyhow!(e))?;
    let heard = transcribe::listen(
        &samples,
        sample_rate,
        args.block as usize,
        &tuning,
        ListenerSettings::default(),
    );
    Ok((
        Rendered {
            duration_s: samples.len() as f64 / sample_rate as f64,
            notes: heard.notes,
            sample_rate,
        },
        heard.chords,
    ))
}

pub fn run(args: Args) -> Result<()> {
    anyhow::ensure!(
        args.input.is_some() || args.midi_in.is_some(),
        "give a WAV file to transcribe, or --midi-in FILE.mid"
    );
    anyhow::ensure!(
        args.out.is_some()
            || args.tsv.is_some()
            || args.chords_tsv.is_some()
            || args.out_continuation.is_some(),
        "nothing to write: give --out, --tsv, --chords-tsv or --out-continuation"
    );
    anyhow::ensure!(
        args.chords_tsv.is_none() || args.input.is_some(),
        "--chords-tsv needs a WAV file (chords are heard in audio)"
    );
    anyhow::ensure!(
        args.tempo.is_finite() && (20.0..=400.0).contains(&args.tempo),
        "--tempo must be 20..400 bpm"
    );
    anyhow::ensure!(
        args.tail.is_finite() && (0.0..=600.0).contains(&args.tail),
        "--tail must be 0..600 s"
    );
    meter_arg(&args)?;
    if args.input.is_some()
        && (args.out.is_some() || args.tsv.is_some() || args.chords_tsv.is_some())
    {
        let (rendered, chords) = listen_input(&args)?;
        if let Some(path) = &args.chords_tsv {
            std::fs::write(path, spans_tsv(&chords))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        if let Some(out) = &args.out {
            transcribe::write_midi(out, &rendered.notes)?;
        }
        if let Some(tsv) = &args.tsv {
            std::fs::write(tsv, transcribe::tsv_text(&rendered.notes))
                .with_context(|| format!("cannot write {}", tsv.display()))?;
        }
        eprintln!(
            "{}: {:.1} s at {} Hz → {} notes, {} chord changes{}",
            args.input
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            rendered.duration_s,
            rendered.sample_rate,
            rendered.notes.len(),
            chords.len(),
            args.out
                .as_ref()
                .map(|o| format!(" → {}", o.display()))
                .unwrap_or_default()
        );
    }
    if let Some(out) = &args.out_continuation {
        continuation(&args, out)?;
    }
    Ok(())
}

/// The time signature `--meter` asks for; an error for one that is not like 3/4 (a numerator
/// 1..32 over 1, 2, 4, 8, 16 or 32).
fn meter_arg(args: &Args) -> Result<Option<Meter>> {
    args.meter
        .as_deref()
        .map(|m| {
            Meter::parse(m).with_context(|| {
                format!("--meter {m:?}: give a time signature like 3/4 or 6/8 (1..32 over 1..32)")
            })
        })
        .transpose()
}

/// Runs the whole plugin over the input and writes its answer.
fn continuation(args: &Args, out: &std::path::Path) -> Result<()> {
    let params = Arc::new(ContinuoParams::default());
    if let Some(name) = &args.preset {
        let preset = Library::new(user_dir()).load(name)?;
        preset.apply_offline(&params)?;
    }
    let source = if args.midi_in.is_some() {
        "MIDI"
    } else {
        "Audio"
    };
    set(&params, "source", serde_json::json!(source))?;
    set(&params, "midi-thru", serde_json::json!(false))?;
    set(&params, "mode", serde_json::json!("Call & response"))?;

    let mut file_meter = None;
    let (audio, sample_rate, midi): (Vec<f32>, f32, Vec<MidiIn>) = match &args.midi_in {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let melodies = crate::model::midi_in::read_midi(&bytes)?;
            let melody = melodies
                .into_iter()
                .find(|m| !m.notes.is_empty())
                .context("the MIDI file has no notes")?;
            file_meter = melody.meter;
            (Vec::new(), MIDI_RATE, midi_call(&melody.notes, args.tempo))
        }
        None => {
            let input = args.input.as_ref().context("no input")?;
            let (samples, sr) = transcribe::read_wav(input)?;
            (samples, sr, Vec::new())
        }
    };
    let meter = meter_arg(args)?.or(file_meter);
    let answer = run_plugin(params, &audio, sample_rate, &midi, meter, args);
    let spb = sample_rate as f64 * 60.0 / args.tempo;
    let first = answer.first().map(|a| a.0);
    let file_notes: Vec<FileNote> = answer
        .iter()
        .map(|&(on, off, pitch, v)| FileNote {
            start_beats: (on - first.unwrap_or(0)) as f64 / spb,
            length_beats: (off - on) as f64 / spb,
            pitch,
            velocity: (v * 127.0).round().clamp(1.0, 127.0) as u8,
            channel: 0,
        })
        .collect();
    crate::files::midi::write_in_meter(out, &file_notes, args.tempo, meter, "Continuo answer")?;

    let name = |p: u8| {
        let (n, o) = note_name(p);
        format!("{n}{o}")
    };
    let heard: Vec<String> = if midi.is_empty() {
        transcribe_input(args)?
            .notes
            .iter()
            .map(|n| name(n.pitch))
            .collect()
    } else {
        midi.iter().filter(|m| m.1).map(|m| name(m.2)).collect()
    };
    println!("heard   ({} notes): {}", heard.len(), heard.join(" "));
    match first {
        Some(t) => {
            println!(
                "answer  ({} notes, from {:.2} s): {}",
                answer.len(),
                t as f64 / sample_rate as f64,
                answer
                    .iter()
                    .map(|a| name(a.2))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            println!("written to {}", out.display());
        }
        None => println!("no answer: the plugin heard no phrase to continue"),
    }
    Ok(())
}

/// Runs the whole plugin (the engine and the model step, as [`Session`] drives them) over the
/// input followed by `args.tail` seconds of silence, the transport playing at `args.tempo` from
/// beat 0 in `meter` (none: the host gives no time signature). Returns the notes it sent: (NoteOn sample, NoteOff sample, pitch, velocity 0..1), in
/// start order.
fn run_plugin(
    params: Arc<ContinuoParams>,
    audio: &[f32],
    sample_rate: f32,
    midi: &[MidiIn],
    meter: Option<Meter>,
    args: &Args,
) -> Vec<(u64, u64, u8, f32)> {
    let input_len = audio
        .len()
        .max(midi.iter().map(|m| m.0 as usize).max().unwrap_or(0));
    let total = input_len as u64 + (args.tail * sample_rate as f64) as u64;
    let mut session = Session::new(sample_rate, args.block as usize, params);
    session.meter = meter;
    let events = session.run(audio, midi, Some(args.tempo), total);
    let mut open: [Option<(u64, f32)>; 128] = [None; 128];
    let mut answer: Vec<(u64, u64, u8, f32)> = Vec::new();
    for e in &events {
        let k = (e.pitch & 127) as usize;
        if e.on {
            open[k] = Some((e.time, e.velocity));
        } else if let Some((t0, v)) = open[k].take() {
            answer.push((t0, e.time, e.pitch, v));
        }
    }
    answer.sort_by_key(|a| a.0);
    answer
}

/// The MIDI input events of a melody (onsets in beats from the transport's beat 0) played at
/// `tempo` on the note input at 48 kHz: (sample, on, pitch, velocity 0..1).
fn midi_call(notes: &[crate::model::Note], tempo: f64) -> Vec<MidiIn> {
    let spb = MIDI_RATE as f64 * 60.0 / tempo;
    let mut events = Vec::with_capacity(notes.len() * 2);
    for n in notes {
        let on = (n.onset * spb).round().max(0.0) as u64;
        let off = on + ((n.duration * spb).round() as u64).max(1);
        events.push((on, true, n.pitch, n.velocity as f32 / 127.0));
        events.push((off, false, n.pitch, 0.0));
    }
    events
}

/// The sample rate a MIDI-only render runs at.
const MIDI_RATE: f32 = 48_000.0;

/// What the plugin answers to `call` played as MIDI (the path of `render --midi-in`), with
/// `params` (the caller sets presets or settings; the input source, thru and mode are set here as
/// `render` sets them), the host's transport in `meter` from beat 0. The answer's notes are in
/// transport beats (the call's beat 0 is the transport's), velocities 1..127.
pub fn answer_to_midi_call(
    params: Arc<ContinuoParams>,
    call: &[crate::model::Note],
    tempo: f64,
    meter: Meter,
    tail_s: f64,
) -> Result<Vec<crate::model::Note>> {
    set(&params, "source", serde_json::json!("MIDI"))?;
    set(&params, "midi-thru", serde_json::json!(false))?;
    set(&params, "mode", serde_json::json!("Call & response"))?;
    let args = Args {
        input: None,
        out: None,
        tsv: None,
        chords_tsv: None,
        block: 512,
        accurate: false,
        out_continuation: None,
        midi_in: None,
        preset: None,
        tempo,
        meter: None,
        tail: tail_s,
    };
    let spb = MIDI_RATE as f64 * 60.0 / tempo;
    Ok(run_plugin(
        params,
        &[],
        MIDI_RATE,
        &midi_call(call, tempo),
        Some(meter),
        &args,
    )
    .into_iter()
    .map(|(on, off, pitch, v)| crate::model::Note {
        pitch,
        onset: on as f64 / spb,
        duration: (off - on) as f64 / spb,
        velocity: (v * 127.0).round().clamp(1.0, 127.0) as u8,
    })
    .collect())
}

/// Sets one parameter by id through the preset validator (offline: no host).
fn set(params: &ContinuoParams, id: &str, value: serde_json::Value) -> Result<()> {
    crate::preset::set_offline(params, id, value).map_err(|e| anyhow::anyhow!("{id}: {e}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// The notes [`write_plucks`] writes: onset (s) and MIDI pitch.
    pub(crate) const PLUCKS: [(f32, u8); 5] =
        [(0.05, 64), (0.30, 67), (0.55, 71), (0.80, 69), (1.05, 64)];

    /// Plucked-like notes (sharp attack, fast decay) a third or a second apart ([`PLUCKS`]).
    pub(crate) fn write_plucks(path: &std::path::Path) {
        let sr = 48_000u32;
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: sr,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("create wav");
        let note_len = (0.25 * sr as f32) as usize;
        for _ in 0..(0.05 * sr as f32) as usize {
            w.write_sample(0i16).expect("write");
        }
        for &(_, m) in &PLUCKS {
            let f0 = 440.0 * 2f32.powf((f32::from(m) - 69.0) / 12.0);
            for i in 0..note_len {
                let t = i as f32 / sr as f32;
                let v: f32 = (1..=6)
                    .map(|h| (std::f32::consts::TAU * f0 * h as f32 * t).sin() * 0.6f32.powi(h))
                    .sum();
                let env = (t / 0.003).min(1.0) * (-6.0 * t).exp() * ((0.25 - t) / 0.02).min(1.0);
                w.write_sample((v * env * 0.3 * 32767.0) as i16)
                    .expect("write");
            }
        }
        for _ in 0..(0.2 * sr as f32) as usize {
            w.write_sample(0i16).expect("write");
        }
        w.finalize().expect("finalize");
    }

    /// Writes `chords` (MIDI pitches, one second each) as sums of sines with three partials.
    fn write_sine_chords(path: &std::path::Path, chords: &[&[u8]]) {
        let sr = 48_000u32;
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: sr,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("create wav");
        for pitches in chords {
            for i in 0..sr as usize {
                let t = i as f32 / sr as f32;
                let mut v = 0.0f32;
                for &m in pitches.iter() {
                    let f0 = 440.0 * 2f32.powf((m as f32 - 69.0) / 12.0);
                    for h in 1..=3 {
                        v += (std::f32::consts::TAU * f0 * h as f32 * t).sin() * 0.5f32.powi(h);
                    }
                }
                let env = (t / 0.01).min(1.0) * ((1.0 - t) / 0.01).min(1.0);
                w.write_sample((v * env * 0.15 * 32767.0) as i16)
                    .expect("write");
            }
        }
        w.finalize().expect("finalize");
    }

    /// `render --chords-tsv` on three sine chords (C, G7 in first inversion, A minor) writes a
    /// header and the three chords at their times.
    #[test]
    fn chords_tsv_of_sine_chords() {
        let dir = std::env::temp_dir().join(format!("continuo-chords-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let wav = dir.join("chords.wav");
        let tsv = dir.join("chords.tsv");
        write_sine_chords(
            &wav,
            &[&[48, 60, 64, 67], &[47, 55, 62, 65], &[45, 57, 60, 64]],
        );
        let args = Cli::try_parse_from([
            "render",
            wav.to_str().expect("utf-8 path"),
            "--chords-tsv",
            tsv.to_str().expect("utf-8 path"),
        ])
        .expect("valid arguments")
        .args;
        run(args).expect("render");
        let text = std::fs::read_to_string(&tsv).expect("tsv written");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("start_s\tend_s\tlabel"));
        let rows: Vec<(f64, f64, String)> = lines
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f.len(), 3, "{l}");
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].to_string(),
                )
            })
            .collect();
        let at = |s: f64| {
            rows.iter()
                .find(|r| r.0 <= s && s < r.1)
                .map(|r| r.2.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            [at(0.5), at(1.5), at(2.5)],
            ["C:maj", "G:7", "A:min"],
            "{text}"
        );
        // Spans touch and cover the file.
        for pair in rows.windows(2) {
            assert!((pair[0].1 - pair[1].0).abs() < 1e-3, "{text}");
        }
        assert!(rows.last().unwrap().1 <= 3.0 + 1e-9);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn accurate_flag_waits_longer_for_the_same_notes() {
        let dir = std::env::temp_dir().join(format!("continuo-render-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let wav = dir.join("plucks.wav");
        write_plucks(&wav);
        let parse = |extra: &[&str]| {
            let mut argv = vec!["render", wav.to_str().expect("utf-8 path")];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).expect("valid arguments").args
        };
        let fast = transcribe_input(&parse(&[])).expect("fast render");
        let accurate = transcribe_input(&parse(&["--accurate"])).expect("accurate render");
        let pitches = |r: &Rendered| r.notes.iter().map(|n| n.pitch).collect::<Vec<_>>();
        assert_eq!(pitches(&fast), vec![64, 67, 71, 69, 64]);
        assert_eq!(pitches(&accurate), pitches(&fast));
        let mut later = 0;
        for (a, f) in accurate.notes.iter().zip(&fast.notes) {
            assert!(
                a.emitted_s >= f.emitted_s,
                "{} < {}",
                a.emitted_s,
                f.emitted_s
            );
            later += usize::from(a.emitted_s > f.emitted_s);
        }
        assert!(
            later >= 3,
            "--accurate was later for only {later} of 5 notes"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
