//! `continuo eval-answers`: how composed the plugin's answers sound, side by side with the
//! composer's own continuation of the same phrase openings.
//!
//! Prompts are the first notes of held-out melodies of a corpus folder: the files `continuo
//! train` and `continuo eval --holdout-of-train` hold out (seed 1, 10 %, by file), halved once
//! more into a *tune* half (for choosing defaults) and a *report* half (for the README, never
//! tuned on). Each prompt is played to the whole plugin as MIDI at its file's tempo, through the
//! path of `continuo render --midi-in P.mid --tempo T --out-continuation A.mid`, and what the
//! plugin sends is the answer. An independent judge ([`ReferenceModel`], trained here on the
//! folder's training files, never used by the sampler) scores answers and composer alike.

use crate::meter::Meter;
use crate::model::midi_in::{read_midi, Melody};
use crate::model::reference::{ioi_classes, ReferenceModel};
use crate::model::train::{find_midi_files, is_held_out, Sequence};
use crate::model::Note;
use crate::music::{KeySignature, Mode, Scale};
use crate::params::ContinuoParams;
use anyhow::Context;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The split `continuo train` holds out: seed and share (by file).
const HOLDOUT_SEED: u64 = 1;
const HOLDOUT: f64 = 0.1;
/// The seed that halves the held-out files into the tune and report halves.
const HALF_SEED: u64 = 15;

/// Which half of the held-out files the prompts come from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    /// For choosing defaults.
    Tune,
    /// For reporting; never tune on it.
    Report,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Corpus folder of melodies (the prompts come from its held-out files, the judge is trained
    /// on the rest).
    #[arg(long, default_value = "../shared/corpus/train")]
    pub corpus: PathBuf,
    /// Which half of the held-out files to take the prompts from.
    #[arg(long, value_enum, default_value_t = Half::Report)]
    pub split: Half,
    /// How many prompts (0: every held-out melody long enough).
    #[arg(long, default_value_t = 57)]
    pub prompts: usize,
    /// Notes in a prompt (the call).
    #[arg(long, default_value_t = 16)]
    pub prompt_notes: usize,
    /// Notes of the composer's continuation compared with the answer.
    #[arg(long, default_value_t = 16)]
    pub composer_notes: usize,
    /// A factory or user preset to answer with (default: the plugin's defaults).
    #[arg(long)]
    pub preset: Option<String>,
    /// Set a parameter for the answers, `id=value` (value as in a preset file; repeatable).
    #[arg(long = "set")]
    pub settings: Vec<String>,
    /// Also write each prompt as PROMPT_DIR/NN-name.mid with its tempo, for `continuo render`.
    #[arg(long)]
    pub write_prompts: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print every prompt's call, answer and composer's continuation (pitch@onset-in-beats).
    #[arg(long)]
    pub verbose: bool,
    /// Play every call in 4/4 (a host with no time signature), not in its file's meter, and
    /// measure bars and strong beats in 4/4 (how this was measured before the host's meter was
    /// read).
    #[arg(long)]
    pub common_time: bool,
    /// Play every call this many times as long as written, in the host's beats: a player off
    /// the host's tempo (the demo's player, at 103 bpm to the host's 120, is 1.17). The answer
    /// is judged after the call as it was played.
    #[arg(long, default_value_t = 1.0)]
    pub call_stretch: f64,
}

/// One phrase opening of a held-out melody.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// The file it comes from (relative to the corpus folder).
    pub name: String,
    /// The call: the melody's first notes, moved by whole bars to start in the first bar.
    pub call: Vec<Note>,
    /// What the composer wrote next.
    pub composer: Vec<Note>,
    /// The file's tempo (its first tempo event; 120 bpm without one), bpm.
    pub tempo: f64,
    /// The melody's key (its key signature, else estimated from the whole melody).
    pub key: KeySignature,
    /// The melody's time signature (its file's, else 4/4): the host plays the call in it.
    pub meter: Meter,
}

/// The measures of a set of continuations, pooled over prompts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Measures {
    pub name: String,
    /// Prompts given, and prompts that got a continuation.
    pub prompts: usize,
    pub answered: usize,
    /// Mean −log2 p(pitch) per note under the judge.
    pub pitch_bits: f64,
    /// Mean −log2 p(inter-onset interval) per onset under the judge.
    pub rhythm_bits: f64,
    /// Share of the continuation's 4-interval patterns (5 notes) that occur in the call.
    pub copied: f64,
    /// Share of notes in the scale of the melody's key (natural minor, or harmonic minor's
    /// raised seventh, for a minor key).
    pub in_key: f64,
    /// Distinct inter-onset-interval classes per continuation (mean).
    pub rhythm_values: f64,
    /// Share of notes still sounding when the next one starts.
    pub overlapping: f64,
    /// Notes per continuation (mean), and its span in bars of the prompt's meter, first onset to
    /// last end.
    pub notes: f64,
    pub bars: f64,
    /// Share of continuations whose last note starts on a strong beat of the prompt's meter (the
    /// downbeat or the bar's middle: beat 1 or 3 of 4/4, beat 1 of 3/4, eighth 1 or 4 of 6/8).
    pub ends_on_strong_beat: f64,
    /// Share of continuations whose last note is the tonic, third or fifth of the key.
    pub ends_on_stable_degree: f64,
    /// Share of continuations holding a note of 4 beats or more (to the next onset) before
    /// their last: a long note amid the line.
    pub holds_inner: f64,
    #[serde(skip)]
    acc: Accumulator,
}

/// Running sums behind [`Measures`].
#[derive(Debug, Clone, Copy, Default)]
struct Accumulator {
    pitch_bits: f64,
    pitch_notes: usize,
    rhythm_bits: f64,
    rhythm_onsets: usize,
    copied: usize,
    patterns: usize,
    in_key: usize,
    notes: usize,
    rhythm_values: usize,
    overlapping: usize,
    bars: f64,
    strong_end: usize,
    stable_end: usize,
    holds_inner: usize,
}

/// The 4-interval patterns (as 4 semitone steps) of a line.
fn patterns(notes: &[Note]) -> Vec<[i16; 4]> {
    let steps: Vec<i16> = notes
        .windows(2)
        .map(|w| w[1].pitch as i16 - w[0].pitch as i16)
        .collect();
    steps.windows(4).map(|w| [w[0], w[1], w[2], w[3]]).collect()
}

/// Whether a pitch belongs to the key (a minor key also takes its raised seventh).
fn in_key(key: KeySignature, pitch: u8) -> bool {
    Scale::of_key(key).contains(pitch) || (key.mode == Mode::Minor && key.degree(pitch) == 11)
}

/// Whether a pitch is the tonic, third or fifth of the key.
pub fn stable_degree(key: KeySignature, pitch: u8) -> bool {
    let third = if key.mode == Mode::Minor { 3 } else { 4 };
    matches!(key.degree(pitch), d if d == 0 || d == third || d == 7)
}

impl Measures {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Adds one prompt's continuation (notes in beats on the call's time line; empty: no answer).
    fn add(&mut self, judge: &ReferenceModel, prompt: &Prompt, continuation: &[Note]) {
        self.prompts += 1;
        if continuation.is_empty() {
            return;
        }
        self.answered += 1;
        let a = &mut self.acc;
        let s = judge.surprise(&prompt.call, continuation);
        a.pitch_bits += s.pitch_bits;
        a.pitch_notes += s.pitch_notes;
        a.rhythm_bits += s.rhythm_bits;
        a.rhythm_onsets += s.rhythm_onsets;
        let call: HashSet<[i16; 4]> = patterns(&prompt.call).into_iter().collect();
        for p in patterns(continuation) {
            a.patterns += 1;
            a.copied += call.contains(&p) as usize;
        }
        a.in_key += continuation
            .iter()
            .filter(|n| in_key(prompt.key, n.pitch))
            .count();
        a.notes += continuation.len();
        a.rhythm_values += ioi_classes(continuation)
            .into_iter()
            .collect::<HashSet<_>>()
            .len();
        a.overlapping += continuation
            .windows(2)
            .filter(|w| w[0].onset + w[0].duration > w[1].onset + 1e-3)
            .count();
        let (first, last) = (continuation[0], continuation[continuation.len() - 1]);
        a.bars += (last.onset + last.duration - first.onset) / prompt.meter.bar();
        a.strong_end += (prompt.meter.weight(last.onset) >= 0.6) as usize;
        a.stable_end += stable_degree(prompt.key, last.pitch) as usize;
        a.holds_inner += continuation
            .windows(2)
            .any(|w| w[1].onset - w[0].onset >= 4.0 - 1e-6) as usize;
    }

    fn finish(mut self) -> Self {
        let a = self.acc;
        let share = |x: usize, n: usize| x as f64 / n.max(1) as f64;
        let per = |x: f64, n: usize| x / n.max(1) as f64;
        self.pitch_bits = per(a.pitch_bits, a.pitch_notes);
        self.rhythm_bits = per(a.rhythm_bits, a.rhythm_onsets);
        self.copied = share(a.copied, a.patterns);
        self.in_key = share(a.in_key, a.notes);
        self.rhythm_values = share(a.rhythm_values, self.answered);
        self.overlapping = share(a.overlapping, a.notes);
        self.notes = share(a.notes, self.answered);
        self.bars = per(a.bars, self.answered);
        self.ends_on_strong_beat = share(a.strong_end, self.answered);
        self.ends_on_stable_degree = share(a.stable_end, self.answered);
        self.holds_inner = share(a.holds_inner, self.answered);
        self
    }
}

/// The first tempo event of a MIDI file, bpm (120 without one or when unreadable).
fn file_tempo(bytes: &[u8]) -> f64 {
    let Ok(smf) = midly::Smf::parse(bytes) else {
        return 120.0;
    };
    for track in &smf.tracks {
        for ev in track {
            if let midly::TrackEventKind::Meta(midly::MetaMessage::Tempo(us)) = ev.kind {
                let us = us.as_int() as f64;
                if us > 0.0 {
                    return (60e6 / us).clamp(30.0, 300.0);
                }
            }
        }
    }
    120.0
}

/// A stable pseudo-random order of file names (so a limited number of prompts mixes the
/// corpus' collections instead of taking the alphabetically first).
fn shuffle_key(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h ^ (h >> 29)
}

/// The prompts of one half of the held-out files, and the judge trained on the training files.
pub fn prompts_and_judge(
    corpus: &Path,
    half: Half,
    prompt_notes: usize,
    composer_notes: usize,
    limit: usize,
) -> anyhow::Result<(Vec<Prompt>, ReferenceModel)> {
    let paths = find_midi_files(corpus)?;
    let mut training: Vec<Sequence> = Vec::new();
    let mut prompts: Vec<Prompt> = Vec::new();
    for path in &paths {
        let name = path
            .strip_prefix(corpus)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Ok(melodies) = read_midi(&bytes) else {
            continue;
        };
        if !is_held_out(&name, HOLDOUT_SEED, HOLDOUT) {
            training.extend(melodies.iter().map(Sequence::from_melody));
            continue;
        }
        let wanted = match half {
            Half::Report => is_held_out(&name, HALF_SEED, 0.5),
            Half::Tune => !is_held_out(&name, HALF_SEED, 0.5),
        };
        if !wanted {
            continue;
        }
        let Some(m) = melodies
            .iter()
            .find(|m| m.notes.len() >= prompt_notes + composer_notes)
        else {
            continue;
        };
        prompts.push(prompt_of(
            &name,
            m,
            file_tempo(&bytes),
            prompt_notes,
            composer_notes,
        ));
    }
    anyhow::ensure!(
        !training.is_empty(),
        "{} holds no training melodies",
        corpus.display()
    );
    prompts.sort_by_key(|p| shuffle_key(&p.name));
    if limit > 0 {
        prompts.truncate(limit);
    }
    Ok((prompts, ReferenceModel::train(&training)))
}

fn prompt_of(name: &str, m: &Melody, tempo: f64, n_call: usize, n_cont: usize) -> Prompt {
    let key = Sequence::from_melody(m).key;
    let meter = m.meter.unwrap_or_default();
    let bar = meter.bar();
    let shift = (m.notes[0].onset / bar).floor() * bar;
    let moved: Vec<Note> = m.notes[..n_call + n_cont]
        .iter()
        .map(|n| Note {
            onset: n.onset - shift,
            ..*n
        })
        .collect();
    Prompt {
        name: name.into(),
        call: moved[..n_call].to_vec(),
        composer: moved[n_call..].to_vec(),
        tempo,
        key,
        meter,
    }
}

/// The plugin's answer to one prompt, through the render path, with `params` prepared by `setup`.
pub fn answer(prompt: &Prompt, setup: &dyn Fn(&ContinuoParams) -> anyhow::Result<()>) -> Vec<Note> {
    let params = Arc::new(ContinuoParams::default());
    if setup(&params).is_err() {
        return Vec::new();
    }
    // Room for the gap and the longest phrase the plugin sends (64 notes of up to a bar).
    let tail_s = 48.0 * 60.0 / prompt.tempo;
    let call_end = prompt
        .call
        .iter()
        .map(|n| n.onset + n.duration)
        .fold(0.0, f64::max);
    super::render::answer_to_midi_call(params, &prompt.call, prompt.tempo, prompt.meter, tail_s)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.onset >= call_end - 1e-6)
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.prompt_notes >= 5 && args.composer_notes >= 2,
        "--prompt-notes must be at least 5 and --composer-notes at least 2"
    );
    let mut settings = Vec::new();
    for s in &args.settings {
        let (id, value) = s
            .split_once('=')
            .with_context(|| format!("--set {s}: expected id=value"))?;
        let value = serde_json::from_str(value).unwrap_or(serde_json::json!(value));
        settings.push((id.to_string(), value));
    }
    let preset = match &args.preset {
        Some(name) => Some(crate::preset::Library::new(crate::preset::user_dir()).load(name)?),
        None => None,
    };
    let setup = |params: &ContinuoParams| -> anyhow::Result<()> {
        if let Some(p) = &preset {
            p.apply_offline(params)?;
        }
        for (id, value) in &settings {
            crate::preset::set_offline(params, id, value.clone())
                .map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
        }
        Ok(())
    };
    // Fail early on a bad --set.
    setup(&ContinuoParams::default())?;
    let t0 = std::time::Instant::now();
    let (mut prompts, judge) = prompts_and_judge(
        &args.corpus,
        args.split,
        args.prompt_notes,
        args.composer_notes,
        args.prompts,
    )
    .with_context(|| format!("reading {}", args.corpus.display()))?;
    anyhow::ensure!(!prompts.is_empty(), "no held-out melody is long enough");
    if args.common_time {
        for p in &mut prompts {
            p.meter = Meter::COMMON;
        }
    }
    if let Some(dir) = &args.write_prompts {
        std::fs::create_dir_all(dir)?;
        for (i, p) in prompts.iter().enumerate() {
            let notes: Vec<crate::files::midi::FileNote> = p
                .call
                .iter()
                .map(|n| crate::files::midi::FileNote {
                    start_beats: n.onset,
                    length_beats: n.duration,
                    pitch: n.pitch,
                    velocity: n.velocity,
                    channel: 0,
                })
                .collect();
            let stem = p.name.trim_end_matches(".mid").replace('/', "_");
            let file = dir.join(format!("{i:02}-{stem}.mid"));
            crate::files::midi::write_in_meter(&file, &notes, p.tempo, Some(p.meter), "prompt")?;
        }
    }
    let mut composer = Measures::new("composer's continuation");
    let mut continuo = Measures::new("Continuo");
    anyhow::ensure!(
        args.call_stretch.is_finite() && (0.25..=4.0).contains(&args.call_stretch),
        "--call-stretch must be between 0.25 and 4"
    );
    for p in &prompts {
        let mut heard = p.clone();
        for n in &mut heard.call {
            n.onset *= args.call_stretch;
            n.duration *= args.call_stretch;
        }
        let a = answer(&heard, &setup);
        if args.verbose {
            let show = |notes: &[Note]| {
                notes
                    .iter()
                    .map(|n| format!("{}@{:.2}", n.pitch, n.onset))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            eprintln!(
                "{} ({:.0} bpm, {})\n  call     {}\n  answer   {}\n  composer {}",
                p.name,
                p.tempo,
                p.key.name(),
                show(&heard.call),
                show(&a),
                show(&p.composer)
            );
        }
        composer.add(&judge, p, &p.composer);
        continuo.add(&judge, &heard, &a);
    }
    let rows = [composer.finish(), continuo.finish()];
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{} prompts of {} notes from the {:?} half of the held-out files of {} ({:.1} s)",
        prompts.len(),
        args.prompt_notes,
        args.split,
        args.corpus.display(),
        t0.elapsed().as_secs_f64()
    );
    let line = |label: &str, f: &dyn Fn(&Measures) -> String| {
        println!("{label:<44} {:>14} {:>14}", f(&rows[0]), f(&rows[1]));
    };
    line("measure", &|m| {
        if m.name.starts_with("composer") {
            "composer".into()
        } else {
            m.name.clone()
        }
    });
    line("answers / prompts", &|m| {
        format!("{}/{}", m.answered, m.prompts)
    });
    line("pitch bits/note (judge)", &|m| {
        format!("{:.2}", m.pitch_bits)
    });
    line("rhythm bits/onset (judge)", &|m| {
        format!("{:.2}", m.rhythm_bits)
    });
    line("4-interval patterns copied from the call", &|m| {
        format!("{:.2}", m.copied)
    });
    line("in key", &|m| format!("{:.3}", m.in_key));
    line("distinct rhythm values", &|m| {
        format!("{:.1}", m.rhythm_values)
    });
    line("overlapping notes", &|m| {
        format!("{:.1} %", 100.0 * m.overlapping)
    });
    line("notes per answer", &|m| format!("{:.1}", m.notes));
    line("bars per answer", &|m| format!("{:.2}", m.bars));
    line("ends on a strong beat", &|m| {
        format!("{:.2}", m.ends_on_strong_beat)
    });
    line("ends on tonic/third/fifth", &|m| {
        format!("{:.2}", m.ends_on_stable_degree)
    });
    line("holds a note of 4+ beats before its last", &|m| {
        format!("{:.2}", m.holds_inner)
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pitches: &[u8]) -> Vec<Note> {
        Note::eighths(pitches, 90)
    }

    #[test]
    fn copying_counts_the_calls_four_interval_patterns() {
        let call = line(&[60, 62, 64, 65, 67, 65, 64, 62]);
        let prompt = Prompt {
            name: "t".into(),
            call: call.clone(),
            composer: Vec::new(),
            tempo: 120.0,
            key: KeySignature::default(),
            meter: Meter::COMMON,
        };
        let seq = Sequence {
            events: crate::model::note::events_from_notes(&call),
            key: KeySignature::default(),
        };
        let judge = ReferenceModel::train([&seq]);
        // The answer repeats the call's first five notes (one copied pattern), then leaps.
        let mut answer = line(&[60, 62, 64, 65, 67, 72, 71, 61]);
        for n in &mut answer {
            n.onset += 4.0;
        }
        answer[7].duration = 2.0; // overlaps nothing (last note), but ends off the grid.
        answer[5].duration = 0.9; // overlaps the next note.
        let mut m = Measures::new("x");
        m.add(&judge, &prompt, &answer);
        m.add(&judge, &prompt, &[]);
        let m = m.finish();
        assert_eq!((m.prompts, m.answered), (2, 1));
        // 8 notes → 4 patterns; only [2, 2, 1, 2] is the call's.
        assert!((m.copied - 0.25).abs() < 1e-9, "{m:?}");
        // C# (61) is the only note outside C major.
        assert!((m.in_key - 7.0 / 8.0).abs() < 1e-9, "{m:?}");
        assert!((m.overlapping - 1.0 / 8.0).abs() < 1e-9, "{m:?}");
        assert_eq!(m.rhythm_values, 1.0);
        assert_eq!(m.ends_on_strong_beat, 0.0, "last onset 7.5 is off the beat");
        assert_eq!(
            m.ends_on_stable_degree, 0.0,
            "C# is no stable degree of C major"
        );
        assert!(m.pitch_bits > 0.0 && m.rhythm_bits >= 0.0);
        assert_eq!(m.holds_inner, 0.0, "eighths throughout");
        // The last note 4.5 beats after the one before: a held note amid the line.
        let mut held = answer.clone();
        held[7].onset += 4.0;
        let mut m = Measures::new("held");
        m.add(&judge, &prompt, &held);
        assert_eq!(m.finish().holds_inner, 1.0);
    }
}
