//! Command-line subcommands of the `continuo` binary, one file each.
pub mod abc;
pub mod answers;
pub mod chord_fit;
pub mod chords;
pub mod eval;
pub mod harmony;
pub mod judge_fit;
pub mod key;
pub mod mix_fit;
pub mod neural;
pub mod presets;
pub mod render;
pub mod styles;
pub mod tempo;
pub mod top_voice_fit;
pub mod train;
pub mod transcription;
pub mod transcription_errors;

/// Reads a MIDI folder with a progress bar (hidden when `quiet`) and reports broken files on
/// stderr; shared by `train` and `eval`.
pub(crate) fn read_corpus(
    dir: &std::path::Path,
    quiet: bool,
) -> anyhow::Result<crate::model::train::Corpus> {
    read_corpus_matching(dir, &[], quiet)
}

/// [`read_corpus`] of the files matching one of `patterns` (none: every file); an error when
/// the folder holds no MIDI file, or none that matches.
pub(crate) fn read_corpus_matching(
    dir: &std::path::Path,
    patterns: &[String],
    quiet: bool,
) -> anyhow::Result<crate::model::train::Corpus> {
    use anyhow::Context;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("reading    [{bar:40}] {pos}/{len} files ({eta})")?
            .progress_chars("=> "),
    );
    let corpus = crate::model::train::load_corpus_matching(dir, patterns, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .with_context(|| format!("reading {}", dir.display()))?;
    bar.finish_and_clear();
    for (name, why) in &corpus.broken {
        eprintln!("skipped {name}: {why}");
    }
    if corpus.files.is_empty() && corpus.broken.is_empty() {
        if patterns.is_empty() {
            anyhow::bail!("{} holds no .mid/.midi/.abc files", dir.display());
        }
        anyhow::bail!(
            "no file in {} matches {}",
            dir.display(),
            patterns.join(" or ")
        );
    }
    Ok(corpus)
}
