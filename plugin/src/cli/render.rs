//! `continuo render IN.wav --out OUT.mid [--tsv FILE] [--block N]`: transcribe a WAV file with
//! the plugin's own analyser, run in host-sized blocks, and write the notes as MIDI (and TSV).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::analysis::offline;

/// Options of `continuo render`. New options (e.g. the continuation output) are added as fields.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The WAV file to transcribe (16/24/32-bit integer or 32-bit float, any rate, any channels).
    pub input: PathBuf,
    /// Where to write the transcription as a standard MIDI file (120 bpm, 480 PPQ).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the notes as TSV: onset_s, offset_s, midi_pitch, emitted_s.
    #[arg(long)]
    pub tsv: Option<PathBuf>,
    /// Block size handed to the analyser, like a host buffer.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub block: u32,
}

/// What `render` produced, for callers that continue from it.
pub struct Rendered {
    pub notes: Vec<offline::TranscribedNote>,
    pub sample_rate: f32,
    pub duration_s: f64,
}

/// Reads and transcribes the input of `args` (no output written).
pub fn transcribe_input(args: &Args) -> Result<Rendered> {
    let (samples, sample_rate) = offline::read_wav(&args.input)?;
    let notes = offline::transcribe(&samples, sample_rate, args.block as usize);
    Ok(Rendered {
        duration_s: samples.len() as f64 / sample_rate as f64,
        notes,
        sample_rate,
    })
}

pub fn run(args: Args) -> Result<()> {
    let rendered = transcribe_input(&args)?;
    offline::write_midi(&args.out, &rendered.notes)?;
    if let Some(tsv) = &args.tsv {
        std::fs::write(tsv, offline::tsv_text(&rendered.notes))
            .with_context(|| format!("cannot write {}", tsv.display()))?;
    }
    eprintln!(
        "{}: {:.1} s at {} Hz → {} notes → {}",
        args.input.display(),
        rendered.duration_s,
        rendered.sample_rate,
        rendered.notes.len(),
        args.out.display()
    );
    Ok(())
}
