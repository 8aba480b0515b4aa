//! `continuo eval-chords DIR`: how well the chords heard in audio agree with the chords of the
//! music played, per instrument, and how many wrong notes the note tracker emits on
//! polyphonic input.
//!
//! DIR holds `NAME.wav` + `NAME.mid` pairs (`cargo xtask render-chorales` writes them): the MIDI
//! file is the four-part chorale the WAV was rendered from. The reference is its chord per beat
//! from all four voices (`harmony/label.rs`, the labels the harmony model is scored on), each
//! beat lasting the file's seconds per beat; the estimate is what `continuo render --chords-tsv`
//! writes (the analyser's frames through the plugin's chord recogniser,
//! [`crate::files::transcribe::listen`]). Scores are duration-weighted over the reference's
//! beats ([`crate::harmony::eval::score_timed`]): root, and MIREX maj/min (beats whose chord is
//! neither major nor minor left out). The instrument is the last `-` field of NAME.
//!
//! Notes: every note the tracker emits is matched (same pitch, onset within 50 ms, each written
//! note once) first against the top voice (soprano), then against the other voices; a note that
//! matches none is *wrong*.

use crate::analysis::Tuning;
use crate::files::transcribe::{listen, read_wav, TranscribedNote};
use crate::harmony::audio::{spans_tsv, ListenerSettings};
use crate::harmony::chorale::read_chorale;
use crate::harmony::eval::{score_timed, ChordScores, TimedChord};
use crate::harmony::output::{segments, tsv};
use crate::harmony::Chord;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Options of `continuo eval-chords`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Folder of NAME.wav + NAME.mid pairs (e.g. target/dataset/chorales/test).
    pub dir: PathBuf,
    /// Change a recogniser setting (NAME=VALUE; repeatable): step_s, lag_steps, compression,
    /// harmonics, harmonic_decay, root_weight, sharpness, stay, no_chord, floor_db,
    /// other_triad_prior, seventh_prior.
    #[arg(long = "set")]
    pub set: Vec<String>,
    /// Analysis settings (name=value,…), e.g. `quiet_in_chords=1`.
    #[arg(long, default_value = "")]
    pub tuning: String,
    /// Block size handed to the analyser, like a host buffer.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub block: u32,
    /// Files analysed at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Only files whose name contains this.
    #[arg(long)]
    pub only: Option<String>,
    /// Write NAME.heard.tsv and NAME.reference.tsv (start_s, end_s, label) into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// One line per file.
    #[arg(long)]
    pub verbose: bool,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How the tracker's notes fall against the written voices.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NoteCounts {
    /// Notes emitted.
    pub emitted: usize,
    /// Of those, on a note of the top voice.
    pub top: usize,
    /// On a note of another voice.
    pub other: usize,
    /// On no written note.
    pub wrong: usize,
    /// Notes of the top voice.
    pub top_written: usize,
}

impl NoteCounts {
    fn add(&mut self, o: NoteCounts) {
        self.emitted += o.emitted;
        self.top += o.top;
        self.other += o.other;
        self.wrong += o.wrong;
        self.top_written += o.top_written;
    }
}

/// One file's result.
#[derive(Debug, Clone)]
struct FileResult {
    name: String,
    instrument: String,
    scores: ChordScores,
    notes: NoteCounts,
    seconds: f64,
    polyphonic_share: f64,
}

/// A written note in seconds: (onset, pitch).
type Written = (f64, u8);

/// Where one emitted note fell (see [`classify_notes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteClass {
    /// On a soprano note.
    Top,
    /// On another voice's note.
    Other,
    /// On none.
    Wrong,
}

impl NoteClass {
    /// Short name (the notes TSV of `--out`).
    fn name(self) -> &'static str {
        match self {
            NoteClass::Top => "top",
            NoteClass::Other => "other",
            NoteClass::Wrong => "wrong",
        }
    }
}

/// Each emitted note's class: on a written top-voice note (same pitch, onset within 50 ms, each
/// written note used once), else on another voice's, else wrong.
pub fn classify_notes(
    emitted: &[TranscribedNote],
    top: &[Written],
    others: &[Written],
) -> Vec<NoteClass> {
    const TOLERANCE_S: f64 = 0.05;
    let mut used_top = vec![false; top.len()];
    let mut used_other = vec![false; others.len()];
    let find = |written: &[Written], used: &[bool], n: &TranscribedNote| {
        written
            .iter()
            .enumerate()
            .filter(|(i, w)| !used[*i] && w.1 == n.pitch && (w.0 - n.onset_s).abs() <= TOLERANCE_S)
            .min_by(|a, b| {
                (a.1 .0 - n.onset_s)
                    .abs()
                    .total_cmp(&(b.1 .0 - n.onset_s).abs())
            })
            .map(|(i, _)| i)
    };
    emitted
        .iter()
        .map(|n| {
            if let Some(i) = find(top, &used_top, n) {
                used_top[i] = true;
                NoteClass::Top
            } else if let Some(i) = find(others, &used_other, n) {
                used_other[i] = true;
                NoteClass::Other
            } else {
                NoteClass::Wrong
            }
        })
        .collect()
}

/// Counts emitted notes by their [`classify_notes`] class.
pub fn count_notes(emitted: &[TranscribedNote], top: &[Written], others: &[Written]) -> NoteCounts {
    let mut c = NoteCounts {
        emitted: emitted.len(),
        top_written: top.len(),
        ..Default::default()
    };
    for class in classify_notes(emitted, top, others) {
        match class {
            NoteClass::Top => c.top += 1,
            NoteClass::Other => c.other += 1,
            NoteClass::Wrong => c.wrong += 1,
        }
    }
    c
}

/// The notes TSV of `--out`: per emitted note its onset, emit time, pitch, class, the time since
/// the last written onset of any voice (up to 50 ms after the note's), the polyphonic decision
/// at its emit time and the time since that decision last changed (or since the start).
fn notes_tsv(
    emitted: &[TranscribedNote],
    top: &[Written],
    others: &[Written],
    changes: &[(f64, bool)],
) -> String {
    let mut onsets: Vec<f64> = top.iter().chain(others).map(|w| w.0).collect();
    onsets.sort_by(f64::total_cmp);
    let mut s =
        String::from("onset_s\temitted_s\tpitch\tclass\tsince_written_s\tgate\tsince_change_s\n");
    for (n, class) in emitted.iter().zip(classify_notes(emitted, top, others)) {
        let since = onsets
            .iter()
            .rev()
            .find(|&&o| o <= n.onset_s + 0.05)
            .map_or(f64::NAN, |&o| n.onset_s - o);
        let (changed, gate) = changes
            .iter()
            .rev()
            .find(|c| c.0 <= n.emitted_s)
            .copied()
            .unwrap_or((0.0, false));
        s.push_str(&format!(
            "{:.3}\t{:.3}\t{}\t{}\t{:.3}\t{}\t{:.3}\n",
            n.onset_s,
            n.emitted_s,
            n.pitch,
            class.name(),
            since,
            u8::from(gate),
            n.emitted_s - changed
        ));
    }
    s
}

fn eval_file(
    wav: &Path,
    mid: &Path,
    args: &Args,
    tuning: &Tuning,
    settings: ListenerSettings,
) -> Result<FileResult> {
    let name = wav
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(mid).with_context(|| format!("cannot read {}", mid.display()))?;
    let chorale = read_chorale(&name, &bytes)?;
    let spb = chorale.seconds_per_beat;
    let reference: Vec<TimedChord> = chorale
        .chords
        .iter()
        .enumerate()
        .map(|(b, c)| TimedChord {
            start: b as f64 * spb,
            end: (b + 1) as f64 * spb,
            chord: c.chord,
        })
        .collect();
    let (samples, sample_rate) = read_wav(wav)?;
    let heard = listen(&samples, sample_rate, args.block as usize, tuning, settings);
    let estimate: Vec<TimedChord> = heard
        .chords
        .iter()
        .map(|s| TimedChord {
            start: s.start_s,
            end: s.end_s.unwrap_or(s.start_s),
            chord: s.chord.chord,
        })
        .collect();
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out)?;
        std::fs::write(
            out.join(format!("{name}.heard.tsv")),
            spans_tsv(&heard.chords),
        )?;
        let chords: Vec<Chord> = chorale.chords.iter().map(|c| c.chord).collect();
        std::fs::write(
            out.join(format!("{name}.reference.tsv")),
            tsv(&segments(&chords), spb),
        )?;
    }
    let seconds = |v: &[crate::model::Note]| -> Vec<Written> {
        v.iter().map(|n| (n.onset * spb, n.pitch)).collect()
    };
    let top = seconds(chorale.soprano());
    let others: Vec<Written> = chorale.voices[1..]
        .iter()
        .flat_map(|v| seconds(v))
        .collect();
    if let Some(out) = &args.out {
        std::fs::write(
            out.join(format!("{name}.notes.tsv")),
            notes_tsv(&heard.notes, &top, &others, &heard.polyphonic_changes),
        )?;
        let mut written = String::from("onset_s\tpitch\tvoice\n");
        for (v, voice) in chorale.voices.iter().enumerate() {
            for (t, p) in seconds(voice) {
                written.push_str(&format!("{t:.3}\t{p}\t{v}\n"));
            }
        }
        std::fs::write(out.join(format!("{name}.written.tsv")), written)?;
    }
    Ok(FileResult {
        instrument: name.rsplit('-').next().unwrap_or("").to_string(),
        name,
        scores: score_timed(&reference, &estimate),
        notes: count_notes(&heard.notes, &top, &others),
        seconds: samples.len() as f64 / sample_rate as f64,
        polyphonic_share: heard.polyphonic_share,
    })
}

/// The WAV files of `dir` that have a MIDI file beside them, sorted.
fn pairs(dir: &Path, only: Option<&str>) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut v: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("wav"))
        .filter(|p| {
            only.is_none_or(|o| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(o))
            })
        })
        .filter_map(|w| {
            let m = w.with_extension("mid");
            m.is_file().then_some((w, m))
        })
        .collect();
    v.sort();
    anyhow::ensure!(
        !v.is_empty(),
        "{} holds no NAME.wav with its NAME.mid (make them with `cargo xtask render-chorales`)",
        dir.display()
    );
    Ok(v)
}

pub fn run(args: Args) -> Result<()> {
    let settings = ListenerSettings::parse(&args.set).map_err(|e| anyhow::anyhow!(e))?;
    let tuning = Tuning::parse(&args.tuning).map_err(|e| anyhow::anyhow!(e))?;
    let files = pairs(&args.dir, args.only.as_deref())?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let outcomes = std::sync::Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.clamp(1, 16) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((wav, mid)) = files.get(i) else {
                    break;
                };
                let r = eval_file(wav, mid, &args, &tuning, settings);
                if let Ok(mut all) = outcomes.lock() {
                    all.push(r.with_context(|| format!("{}", wav.display())));
                }
            });
        }
    });
    let mut results: Vec<FileResult> = Vec::new();
    for r in outcomes.into_inner().unwrap_or_default() {
        match r {
            Ok(r) => results.push(r),
            Err(e) => eprintln!("skipped: {e:#}"),
        }
    }
    anyhow::ensure!(!results.is_empty(), "no file could be scored");
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let mut by: BTreeMap<String, (usize, ChordScores, NoteCounts, f64, f64)> = BTreeMap::new();
    let mut all = (
        0usize,
        ChordScores::default(),
        NoteCounts::default(),
        0.0,
        0.0,
    );
    for r in &results {
        if args.verbose && !args.json {
            println!(
                "{:<40} root {:.3}  maj/min {:.3}  notes {} (top {}, other {}, wrong {})  poly {:.2}",
                r.name,
                r.scores.root.accuracy(),
                r.scores.major_minor.accuracy(),
                r.notes.emitted,
                r.notes.top,
                r.notes.other,
                r.notes.wrong,
                r.polyphonic_share
            );
        }
        for e in [by.entry(r.instrument.clone()).or_default(), &mut all] {
            e.0 += 1;
            e.1.add(r.scores);
            e.2.add(r.notes);
            e.3 += r.seconds;
            e.4 += r.polyphonic_share * r.seconds;
        }
    }
    let row = |e: &(usize, ChordScores, NoteCounts, f64, f64)| {
        serde_json::json!({
            "files": e.0,
            "root": e.1.root.accuracy(),
            "major_minor": e.1.major_minor.accuracy(),
            "notes_emitted": e.2.emitted,
            "notes_on_top_voice": e.2.top,
            "notes_on_other_voice": e.2.other,
            "notes_wrong": e.2.wrong,
            "top_voice_notes_written": e.2.top_written,
            "minutes": e.3 / 60.0,
            "polyphonic_share": e.4 / e.3.max(1e-9),
        })
    };
    if args.json {
        let mut m = serde_json::Map::new();
        for (k, e) in &by {
            m.insert(k.clone(), row(e));
        }
        m.insert("all".into(), row(&all));
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(());
    }
    println!(
        "{:<10} {:>5} {:>6} {:>8} | {:>7} {:>7} {:>7} {:>7} {:>8} {:>6}",
        "instrument",
        "files",
        "root",
        "maj/min",
        "notes",
        "top",
        "other",
        "wrong",
        "wrong/min",
        "poly"
    );
    let print = |k: &str, e: &(usize, ChordScores, NoteCounts, f64, f64)| {
        println!(
            "{:<10} {:>5} {:>6.3} {:>8.3} | {:>7} {:>7} {:>7} {:>7} {:>8.1} {:>6.2}",
            k,
            e.0,
            e.1.root.accuracy(),
            e.1.major_minor.accuracy(),
            e.2.emitted,
            e.2.top,
            e.2.other,
            e.2.wrong,
            e.2.wrong as f64 / (e.3 / 60.0).max(1e-9),
            e.4 / e.3.max(1e-9)
        );
    };
    for (k, e) in &by {
        print(k, e);
    }
    print("all", &all);
    println!(
        "({} files, {:.1} min of audio, {:.0} s; top = notes on the soprano's notes, of {} written)",
        all.0,
        all.3 / 60.0,
        started.elapsed().as_secs_f64(),
        all.2.top_written
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(onset_s: f64, pitch: u8) -> TranscribedNote {
        TranscribedNote {
            onset_s,
            offset_s: onset_s + 0.3,
            pitch,
            velocity: 0.5,
            emitted_s: onset_s + 0.02,
        }
    }

    #[test]
    fn notes_fall_on_the_top_voice_another_or_none() {
        let top = [(0.0, 72), (1.0, 74)];
        let others = [(0.0, 60), (1.0, 59)];
        let emitted = [
            note(0.01, 72), // top
            note(0.03, 72), // top's note already taken, no other 72: wrong
            note(0.02, 60), // alto
            note(1.2, 74),  // too late: wrong
            note(0.98, 59), // other
        ];
        let c = count_notes(&emitted, &top, &others);
        assert_eq!(
            (c.emitted, c.top, c.other, c.wrong, c.top_written),
            (5, 1, 2, 2, 2)
        );
    }
}
