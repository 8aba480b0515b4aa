//! `continuo`: the plugin's analysis and model, on the command line.
//!
//! Every subcommand runs the very same library code as the plugin.

use clap::{Parser, Subcommand};
use continuo::cli;

#[derive(Parser)]
#[command(
    name = "continuo",
    version,
    about = "Continuo: real-time MIDI continuation, offline tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transcribe a WAV file to MIDI with the plugin's analyser (and optionally its answer).
    Render(cli::render::Args),
    /// Score the transcription against ground-truth `.notes.tsv` files in a folder.
    EvalTranscription(cli::transcription::Args),
    /// Score the key the plugin shows against the melodies' keys (NAME.json) in a folder.
    EvalKey(cli::key::Args),
    /// Train a model on a folder of MIDI and ABC files.
    Train(cli::train::Args),
    /// Evaluate a model on a folder of MIDI and ABC files (bits per note, top-k accuracy).
    Eval(cli::eval::Args),
    /// Copy ABC files without the tunes that are already in a MIDI corpus (an evaluation set of
    /// unseen melodies).
    FilterAbc(cli::abc::Args),
    /// List, show and validate presets.
    Presets(cli::presets::Args),
    /// Rank every style (bundled and your own) on the first notes of a MIDI or WAV file.
    Recommend(cli::styles::RecommendArgs),
    /// Every bundled style's model on every style's held-out files, and the recommendation's
    /// accuracy (the README's tables).
    EvalStyles(cli::styles::EvalStylesArgs),
    /// List, rename and delete your own styles.
    Styles(cli::styles::StylesArgs),
    /// How well free time hears the tempo and beat of corpus melodies played at known tempi.
    EvalTempo(cli::tempo::Args),
    /// Harmonise a melody offline: a chord per beat, as TSV (Harte labels) and/or MIDI.
    Harmonize(cli::harmony::HarmonizeArgs),
    /// Score the harmony model and two baselines on held-out four-part chorales.
    EvalHarmony(cli::harmony::EvalArgs),
    /// Train the harmony model on four-part chorales (their train and dev splits).
    TrainHarmony(cli::harmony::TrainArgs),
    /// Answer held-out phrase openings through the render path and judge the answers beside the
    /// composer's own continuations (surprise, copying, key, rhythm, phrase ends).
    EvalAnswers(cli::answers::Args),
    /// Score the chords heard in rendered chorales (WAV + MIDI pairs) against their four
    /// voices, per instrument, and count the tracker's wrong notes on that polyphonic audio.
    EvalChords(cli::chords::Args),
    /// Fit the learnt mix of the neural network and the PPM on predictions written by `eval
    /// --dump-mix`, and score every way of mixing on them.
    FitMix(cli::mix_fit::Args),
    /// Fit the chord judge (`analysis/chord_judge.rs`) on polyphonic (chorale tune split) and
    /// monophonic (dev split) renders and print its weights.
    FitChords(cli::chord_fit::Args),
    /// Fit the top-voice network (`analysis/top_voice.rs`) on four-part chorale renders (the
    /// tune split) and write its weights file.
    FitTopVoice(cli::top_voice_fit::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(a) => cli::render::run(a),
        Command::EvalTranscription(a) => cli::transcription::run(a),
        Command::EvalKey(a) => cli::key::run(a),
        Command::Train(a) => cli::train::run(a),
        Command::Eval(a) => cli::eval::run(a),
        Command::FilterAbc(a) => cli::abc::run(a),
        Command::Presets(a) => cli::presets::run(a),
        Command::Recommend(a) => cli::styles::recommend(a),
        Command::EvalStyles(a) => cli::styles::eval_styles(a),
        Command::Styles(a) => cli::styles::styles(a),
        Command::EvalTempo(a) => cli::tempo::run(a),
        Command::Harmonize(a) => cli::harmony::harmonize(a),
        Command::EvalHarmony(a) => cli::harmony::eval(a),
        Command::TrainHarmony(a) => cli::harmony::train(a),
        Command::EvalAnswers(a) => cli::answers::run(a),
        Command::EvalChords(a) => cli::chords::run(a),
        Command::FitMix(a) => cli::mix_fit::run(a),
        Command::FitChords(a) => cli::chord_fit::run(a),
        Command::FitTopVoice(a) => cli::top_voice_fit::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
