//! MODEL THREAD, the user's own styles: *Learn a style…* (a folder of MIDI and ABC files),
//! *Keep what it learnt from me* (the session's notes as a style, or merged into one), rename,
//! delete.
//!
//! The editor asks through [`StyleRequest`]s (the command channel); the model thread answers
//! them in [`serve`]. Every file operation — reading and training on a folder, compressing and
//! writing a model, listing the folder (each file is decompressed to read its name), deleting —
//! runs on one background thread ([`Learner`]), never the audio thread and never the model
//! thread, so answers keep coming; its progress (files done / total) and its end
//! reach the editor through the snapshot, and it can be cancelled between two files or two
//! melodies. File rules (names, atomic writes, nothing overwritten) are `model::styles`'.
//!
//! Whatever goes wrong — a missing or empty folder, files that are not MIDI, a cancel, a name
//! that is taken — the status line says so, nothing is written, and the style in use stays.

use super::Brain;
use crate::model::predictor::ModelConfig;
use crate::model::styles::{self, StyleFileError};
use crate::model::train::{find_melody_files, read_melody_file, train, Corpus, Sequence};
use crate::model::{Note, TrainedModel};
use crate::params::ContinuoParams;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Fewer session notes than this are not worth keeping as a style.
pub const MIN_KEEP_NOTES: usize = 8;

/// What the editor asks about the user's own styles.
#[derive(Debug, Clone, PartialEq)]
pub enum StyleRequest {
    /// Train a new style called `name` on the MIDI and ABC files under `folder` (recursively).
    LearnFolder { folder: PathBuf, name: String },
    /// Save what the short-term model learnt this session as a new style called `name`, or
    /// (`merge`) add it to the user style `name`.
    KeepSession { name: String, merge: bool },
    /// Give the user style `from` the name `to`.
    Rename { from: String, to: String },
    /// Delete the user style's file.
    Delete(String),
    /// Stop the running job (nothing it made is saved).
    Cancel,
    /// Read the user style folder's listing again (the editor opened or asked).
    List,
}

/// A background job.
enum Job {
    Folder {
        folder: PathBuf,
        name: String,
    },
    Session {
        notes: Vec<Note>,
        config: ModelConfig,
        name: String,
        merge: bool,
    },
    Rename {
        from: String,
        to: String,
    },
    Delete(String),
    /// Read the names of the styles in the folder (every file is decompressed: not on the model
    /// thread).
    List,
}

/// What a finished job did.
pub struct Outcome {
    /// For the status line.
    pub message: String,
    /// The style written (new, merged or renamed), by name, with its model.
    pub added: Option<(String, Arc<TrainedModel>)>,
    /// The name a renamed or deleted style had.
    pub removed: Option<String>,
    /// Every user style in the folder (a listing).
    pub listed: Option<Vec<String>>,
}

/// Why a job made nothing.
#[derive(Debug, PartialEq)]
pub enum JobError {
    Cancelled,
    Failed(String),
}

impl From<StyleFileError> for JobError {
    fn from(e: StyleFileError) -> Self {
        JobError::Failed(e.to_string())
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Reading = 0,
    Training = 1,
    Saving = 2,
}

/// A job's progress, written by the job, read by the model thread (atomics: no lock).
#[derive(Default)]
pub struct Progress {
    /// Files read (reading), melodies counted (training).
    done: AtomicUsize,
    /// Files to read, melodies to count.
    total: AtomicUsize,
    /// A [`Stage`] as a number.
    stage: AtomicU8,
}

impl Progress {
    fn set(&self, stage: Stage, done: usize, total: usize) {
        self.stage.store(stage as u8, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        self.done.store(done, Ordering::Relaxed);
    }

    /// (stage, done, total).
    pub fn get(&self) -> (Stage, usize, usize) {
        let stage = match self.stage.load(Ordering::Relaxed) {
            0 => Stage::Reading,
            1 => Stage::Training,
            _ => Stage::Saving,
        };
        (
            stage,
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

/// The running job as the editor shows it (in the snapshot).
#[derive(Debug, Clone, PartialEq)]
pub struct StyleJob {
    /// "Learning “Reels” from /home/me/reels".
    pub what: String,
    pub stage: Stage,
    /// Files read of `total` (reading), melodies counted (training).
    pub done: usize,
    pub total: usize,
    /// Cancel was asked; the job stops at its next file or melody.
    pub cancelling: bool,
}

impl StyleJob {
    /// "reading files 12/40", "training 30/52 melodies", "saving".
    pub fn progress_text(&self) -> String {
        match self.stage {
            Stage::Reading => format!("reading files {}/{}", self.done, self.total),
            Stage::Training => format!("training {}/{} melodies", self.done, self.total),
            Stage::Saving => "saving".into(),
        }
    }

    /// 0..1 for a progress bar (reading counts as the first 90 %).
    pub fn fraction(&self) -> f32 {
        let part = self.done as f32 / self.total.max(1) as f32;
        match self.stage {
            Stage::Reading => 0.9 * part,
            Stage::Training => 0.9 + 0.08 * part,
            Stage::Saving => 0.98,
        }
        .clamp(0.0, 1.0)
    }
}

/// The one job that may run, with its thread.
struct Running {
    what: String,
    progress: Arc<Progress>,
    cancel: Arc<AtomicBool>,
    rx: Receiver<Result<Outcome, JobError>>,
    handle: Option<JoinHandle<()>>,
}

/// Runs one style job at a time on its own thread (part of the model thread's state).
#[derive(Default)]
pub struct Learner {
    /// The job running (or finished and not yet collected); `None` when idle.
    running: Option<Running>,
}

impl Drop for Learner {
    fn drop(&mut self) {
        if let Some(r) = self.running.as_mut() {
            r.cancel.store(true, Ordering::Release);
            if let Some(h) = r.handle.take() {
                let _ = h.join();
            }
        }
    }
}

impl Learner {
    /// Whether a job runs.
    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// Starts `job` writing into `dir`, unless one runs (then says which).
    fn start(&mut self, what: String, job: Job, dir: PathBuf) -> Result<(), String> {
        if let Some(r) = &self.running {
            return Err(format!(
                "{} is still running: wait for it or cancel it",
                r.what
            ));
        }
        let progress = Arc::new(Progress::default());
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let (p, c) = (progress.clone(), cancel.clone());
        let handle = std::thread::Builder::new()
            .name("continuo-learn".into())
            .spawn(move || {
                // A panic in the job is a failed job, not a dead model thread.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run(job, &dir, &p, &c)
                }))
                .unwrap_or_else(|_| Err(JobError::Failed("internal error".into())));
                let _ = tx.send(result);
            })
            .map_err(|e| format!("could not start the job: {e}"))?;
        self.running = Some(Running {
            what,
            progress,
            cancel,
            rx,
            handle: Some(handle),
        });
        Ok(())
    }

    /// Asks the running job to stop. Returns whether one ran.
    pub fn cancel(&self) -> bool {
        match &self.running {
            Some(r) => {
                r.cancel.store(true, Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// The finished job's result, once (never waits).
    pub fn poll(&mut self) -> Option<Result<Outcome, JobError>> {
        let r = self.running.as_mut()?;
        let result = match r.rx.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err(JobError::Failed("the job ended".into())),
        };
        if let Some(h) = r.handle.take() {
            let _ = h.join();
        }
        self.running = None;
        Some(result)
    }

    /// The running job for the editor.
    pub fn view(&self) -> Option<StyleJob> {
        self.running.as_ref().map(|r| {
            let (stage, done, total) = r.progress.get();
            StyleJob {
                what: r.what.clone(),
                stage,
                done,
                total,
                cancelling: r.cancel.load(Ordering::Relaxed),
            }
        })
    }
}

/// Does a job (on the learner's thread).
fn run(
    job: Job,
    dir: &Path,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<Outcome, JobError> {
    match job {
        Job::Folder { folder, name } => learn_from_folder(&folder, &name, dir, progress, cancel),
        Job::Session {
            notes,
            config,
            name,
            merge,
        } => {
            progress.set(Stage::Saving, 0, 1);
            let melody = styles::sequence_of(&notes, None);
            let (path, model) = if merge {
                styles::merge_into_user_style(dir, &name, &melody)?
            } else {
                let model = styles::style_from_notes(config, &melody);
                if cancel.load(Ordering::Acquire) {
                    return Err(JobError::Cancelled);
                }
                styles::save_new_user_style(dir, &name, model)?
            };
            Ok(Outcome {
                message: format!(
                    "{} notes of this session {} \"{}\" ({})",
                    melody.events.len(),
                    if merge { "added to" } else { "kept as" },
                    model.meta.name,
                    path.display()
                ),
                added: Some((model.meta.name.clone(), Arc::new(model))),
                removed: None,
                listed: None,
            })
        }
        Job::Rename { from, to } => {
            progress.set(Stage::Saving, 0, 1);
            let (path, model) = styles::rename_user_style(dir, &from, &to)?;
            Ok(Outcome {
                message: format!(
                    "style \"{from}\" renamed to \"{}\" ({})",
                    model.meta.name,
                    path.display()
                ),
                added: Some((model.meta.name.clone(), Arc::new(model))),
                removed: Some(from),
                listed: None,
            })
        }
        Job::Delete(name) => {
            progress.set(Stage::Saving, 0, 1);
            let path = styles::delete_user_style(dir, &name)?;
            Ok(Outcome {
                message: format!("deleted style \"{name}\" ({})", path.display()),
                added: None,
                removed: Some(name),
                listed: None,
            })
        }
        Job::List => {
            let (found, problems) = styles::list_user_styles(dir);
            Ok(Outcome {
                message: match problems.first() {
                    Some((path, e)) => format!(
                        "{} style file(s) not readable, e.g. {}: {e}",
                        problems.len(),
                        path.display()
                    ),
                    None => String::new(),
                },
                added: None,
                removed: None,
                listed: Some(found.into_iter().map(|(n, _)| n).collect()),
            })
        }
    }
}

/// Trains a new style called `name` on every MIDI file under `folder` and saves it in `dir`.
/// Checks `cancel` before every file and every melody; a cancelled job writes nothing. Files
/// that cannot be read are skipped and counted; a folder with no readable melody is an error.
pub fn learn_from_folder(
    folder: &Path,
    name: &str,
    dir: &Path,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<Outcome, JobError> {
    // A name that cannot be used fails now, not after the training.
    let name = styles::check_name(name)?;
    if let Some((taken, _)) = styles::list_user_styles(dir)
        .0
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&name))
    {
        return Err(StyleFileError::NameTaken(taken).into());
    }
    let files = find_melody_files(folder).map_err(|e| JobError::Failed(format!("{e:#}")))?;
    if files.is_empty() {
        return Err(JobError::Failed(format!(
            "no MIDI or ABC files (.mid, .midi, .abc) in {}",
            folder.display()
        )));
    }
    let mut melodies: Vec<Sequence> = Vec::new();
    let mut broken: Vec<(String, String)> = Vec::new();
    let (mut used_files, mut notes) = (0usize, 0usize);
    for (i, path) in files.iter().enumerate() {
        progress.set(Stage::Reading, i, files.len());
        if cancel.load(Ordering::Acquire) {
            return Err(JobError::Cancelled);
        }
        let file_name = path
            .strip_prefix(folder)
            .unwrap_or(path)
            .display()
            .to_string();
        // One reader for the command line's corpus and this job: MIDI files whole, ABC files
        // tune by tune (a tune the reader refuses is skipped and named, its file's other tunes
        // are kept).
        let mut read = Corpus::default();
        match std::fs::read(path) {
            Ok(bytes) => read_melody_file(path, file_name.clone(), &bytes, &mut read),
            Err(e) => read.broken.push((file_name.clone(), e.to_string())),
        }
        let found: Vec<Sequence> = read
            .files
            .into_iter()
            .flat_map(|f| f.sequences)
            .filter(|seq| !seq.events.is_empty())
            .collect();
        if found.is_empty() && read.broken.is_empty() {
            broken.push((file_name, "no notes".into()));
        }
        broken.extend(read.broken);
        if !found.is_empty() {
            used_files += 1;
            notes += found.iter().map(|seq| seq.events.len()).sum::<usize>();
            melodies.extend(found);
        }
    }
    progress.set(Stage::Reading, files.len(), files.len());
    if melodies.is_empty() {
        let (file, why) = &broken[0];
        return Err(JobError::Failed(format!(
            "none of the {} MIDI/ABC files in {} has notes Continuo can read (e.g. {file}: {why})",
            files.len(),
            folder.display()
        )));
    }
    let config = ModelConfig::default();
    let started = std::time::Instant::now();
    let total = melodies.len();
    let mut counted = 0usize;
    let mut stopped = false;
    let ltm = train(
        config.clone(),
        melodies.iter().take_while(|_| {
            stopped = cancel.load(Ordering::Acquire);
            if !stopped {
                progress.set(Stage::Training, counted, total);
                counted += 1;
            }
            !stopped
        }),
    );
    if stopped || cancel.load(Ordering::Acquire) {
        return Err(JobError::Cancelled);
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.set(Stage::Saving, 0, 1);
    let mut model = TrainedModel::untrained(config);
    model.ltm = Arc::new(ltm);
    let meta = &mut model.meta;
    meta.provenance = format!(
        "learnt in the editor from the MIDI and ABC files in {}",
        folder.display()
    );
    meta.corpus = folder.display().to_string();
    meta.command = "editor: Learn a style…".into();
    meta.date = crate::model::file::utc_now();
    meta.files = files.len();
    meta.train_files = used_files;
    meta.broken_files = broken.len();
    meta.train_melodies = total;
    meta.train_notes = notes;
    meta.training_seconds = seconds;
    meta.notes_per_second = notes as f64 / seconds.max(1e-9);
    // As `continuo train` prunes by default.
    meta.prune_from_order = 3;
    meta.prune_min_count = 2;
    let (path, model) = styles::save_new_user_style(dir, &name, model)?;
    let skipped = match broken.first() {
        Some((file, why)) => format!(
            "; {} file(s) or tune(s) skipped, e.g. {file}: {}",
            broken.len(),
            why.chars().take(80).collect::<String>()
        ),
        None => String::new(),
    };
    Ok(Outcome {
        message: format!(
            "learnt \"{name}\" from {used_files} files ({total} melodies, {notes} notes{skipped}); \
             saved to {}",
            path.display()
        ),
        added: Some((name, Arc::new(model))),
        removed: None,
        listed: None,
    })
}

/// Answers one request on the model thread.
pub(super) fn serve(b: &mut Brain, request: StyleRequest) {
    let dir = b.styles.dir();
    let started = match request {
        StyleRequest::LearnFolder { folder, name } => {
            let what = format!("learning \"{}\" from {}", name.trim(), folder.display());
            b.styles
                .learner
                .start(what, Job::Folder { folder, name }, dir)
        }
        StyleRequest::KeepSession { name, merge } => {
            let notes: Vec<Note> = b
                .continuator
                .as_ref()
                .map(|c| c.session_notes().to_vec())
                .unwrap_or_default();
            if notes.len() < MIN_KEEP_NOTES {
                Err(format!(
                    "nothing to keep yet: Continuo has learnt {} notes from you this session \
                     (play a phrase or two)",
                    notes.len()
                ))
            } else {
                let config = b
                    .model
                    .as_ref()
                    .map_or_else(ModelConfig::default, |m| m.ltm.config.clone());
                let what = format!("keeping this session as \"{}\"", name.trim());
                b.styles.learner.start(
                    what,
                    Job::Session {
                        notes,
                        config,
                        name,
                        merge,
                    },
                    dir,
                )
            }
        }
        StyleRequest::Rename { from, to } => {
            let what = format!("renaming \"{from}\"");
            b.styles.learner.start(what, Job::Rename { from, to }, dir)
        }
        StyleRequest::Delete(name) => {
            let what = format!("deleting \"{name}\"");
            b.styles.learner.start(what, Job::Delete(name), dir)
        }
        StyleRequest::Cancel => {
            if b.styles.learner.cancel() {
                b.message = Some("cancelling…".into());
            }
            Ok(())
        }
        // While another job runs, its end brings the list up to date anyway.
        StyleRequest::List if b.styles.learner.busy() => Ok(()),
        StyleRequest::List => b
            .styles
            .learner
            .start("listing your styles".into(), Job::List, dir),
    };
    if let Err(e) = started {
        b.message = Some(e);
    }
}

/// Takes a finished job's result: the new, merged or renamed style joins the list (and answers
/// on, under its new name, when it was in use). Returns whether anything finished.
pub(super) fn poll(b: &mut Brain, params: &ContinuoParams) -> bool {
    let Some(result) = b.styles.learner.poll() else {
        return false;
    };
    match result {
        Err(JobError::Cancelled) => b.message = Some("cancelled: nothing was saved".into()),
        Err(JobError::Failed(why)) => b.message = Some(format!("style not saved: {why}")),
        Ok(outcome) => {
            if let Some(names) = outcome.listed {
                b.styles.on_disk = names;
            }
            if let Some(old) = &outcome.removed {
                b.styles.forget_user_style(old);
            }
            let deleted = outcome.removed.clone().filter(|_| outcome.added.is_none());
            if let Some((name, model)) = outcome.added {
                b.styles.forget_user_style(&name);
                b.styles.insert(name.clone(), model.clone());
                b.styles.on_disk.push(name.clone());
                if let Some(old) = &outcome.removed {
                    if b.styles.in_use.eq_ignore_ascii_case(old) {
                        b.styles.in_use = name.clone();
                    }
                    if params.user_style.read().eq_ignore_ascii_case(old) {
                        *params.user_style.write() = name.clone();
                    }
                }
                if b.styles.in_use.eq_ignore_ascii_case(&name)
                    && b.model_source == super::ModelSource::BuiltIn
                {
                    // Merged into the style that answers: the new counts answer from now on.
                    super::use_model(b, model, false);
                }
                b.styles.rescore();
            }
            let mut message = outcome.message;
            if let Some(old) = deleted {
                if b.styles.in_use.eq_ignore_ascii_case(&old) {
                    message.push_str(" (it answers until you choose another style)");
                }
            }
            if !message.is_empty() {
                b.message = Some(message);
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Phrase;

    fn temp_dir(what: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("continuo-learn-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A folder of `good` small MIDI tunes and `broken` files that only look like MIDI.
    fn midi_folder(what: &str, good: usize, broken: usize) -> PathBuf {
        let dir = temp_dir(what);
        for i in 0..good {
            let pitches: Vec<u8> = (0..24).map(|k| 60 + ((k * (i + 2)) % 12) as u8).collect();
            let phrase = Phrase {
                notes: Note::eighths(&pitches, 90),
                log2_prob: 0.0,
            };
            crate::files::midi::write_phrase(&dir.join(format!("tune-{i}.mid")), &phrase, 120.0)
                .unwrap();
        }
        for i in 0..broken {
            std::fs::write(
                dir.join(format!("broken-{i}.mid")),
                b"MThd\0\0\0\x06garbage",
            )
            .unwrap();
        }
        std::fs::write(dir.join("readme.txt"), b"not music").unwrap();
        dir
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|e| {
                e.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn a_folder_of_midi_files_becomes_a_style_and_broken_files_are_skipped() {
        let folder = midi_folder("good", 3, 1);
        let styles_dir = temp_dir("good-styles");
        let progress = Progress::default();
        let outcome = learn_from_folder(
            &folder,
            " My Tunes ",
            &styles_dir,
            &progress,
            &AtomicBool::new(false),
        )
        .map_err(|e| format!("{e:?}"))
        .unwrap();
        assert!(
            outcome.message.contains("from 3 files"),
            "{}",
            outcome.message
        );
        assert!(
            outcome.message.contains("1 file(s) or tune(s) skipped"),
            "{}",
            outcome.message
        );
        let (name, model) = outcome.added.unwrap();
        assert_eq!(name, "My Tunes");
        assert_eq!(model.meta.train_notes, 72);
        assert_eq!(model.meta.broken_files, 1);
        assert_eq!(files_in(&styles_dir), ["my-tunes.json.gz"]);
        let back = styles::load_user_style(&styles_dir, "my tunes").unwrap();
        assert_eq!(back.model.meta.train_melodies, 3);
        assert_eq!(progress.get(), (Stage::Saving, 0, 1));
        // The same name again is refused before any work, and nothing is replaced.
        let before = std::fs::read(styles_dir.join("my-tunes.json.gz")).unwrap();
        let again = learn_from_folder(
            &folder,
            "my tunes",
            &styles_dir,
            &Progress::default(),
            &AtomicBool::new(false),
        );
        assert!(
            matches!(&again, Err(JobError::Failed(m)) if m.contains("already have")),
            "{:?}",
            again.err()
        );
        assert_eq!(
            std::fs::read(styles_dir.join("my-tunes.json.gz")).unwrap(),
            before
        );
        let _ = std::fs::remove_dir_all(&folder);
        let _ = std::fs::remove_dir_all(&styles_dir);
    }

    /// ABC files are read tune by tune, beside MIDI files: a tune the reader refuses is skipped
    /// and named, its file's other tunes are learnt.
    #[test]
    fn abc_tunes_are_learnt_beside_midi_files_and_a_broken_tune_is_skipped() {
        let folder = midi_folder("abc", 1, 0);
        std::fs::create_dir_all(folder.join("reels")).unwrap();
        std::fs::write(
            folder.join("reels").join("book.ABC"),
            "X:1\nT:First\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dBGB|]\n\n\
             X:2\nT:Broken\nK:C\nCDE*F|\n\n\
             X:3\nT:Second\nM:6/8\nL:1/8\nK:D\nAFA dAF|GBG FAF|]\n",
        )
        .unwrap();
        let styles_dir = temp_dir("abc-styles");
        let outcome = learn_from_folder(
            &folder,
            "Reels",
            &styles_dir,
            &Progress::default(),
            &AtomicBool::new(false),
        )
        .map_err(|e| format!("{e:?}"))
        .unwrap();
        let (_, model) = outcome.added.unwrap();
        // One MIDI tune of 24 notes, two ABC tunes of 16 and 12.
        assert_eq!(model.meta.train_files, 2, "{}", outcome.message);
        assert_eq!(model.meta.train_melodies, 3, "{}", outcome.message);
        assert_eq!(model.meta.train_notes, 24 + 16 + 12, "{}", outcome.message);
        assert_eq!(model.meta.broken_files, 1, "{}", outcome.message);
        assert!(
            outcome.message.contains("reels/book-2"),
            "{}",
            outcome.message
        );
        let _ = std::fs::remove_dir_all(&folder);
        let _ = std::fs::remove_dir_all(&styles_dir);
    }

    /// Missing, empty and broken folders, a bundled style's name and a cancel: a clear message
    /// and no file written.
    #[test]
    fn bad_folders_and_a_cancel_write_nothing() {
        let styles_dir = temp_dir("bad-styles");
        let empty = temp_dir("empty");
        let broken = midi_folder("broken", 0, 2);
        let good = midi_folder("cancel", 2, 0);
        let go = AtomicBool::new(false);
        let learn = |folder: &Path, name: &str, cancel: &AtomicBool| {
            learn_from_folder(folder, name, &styles_dir, &Progress::default(), cancel)
                .map(|o| o.message)
        };
        let missing = empty.join("nothing-here");
        for (folder, name, expect) in [
            (missing.as_path(), "A", "is not a folder"),
            (empty.as_path(), "A", "no MIDI or ABC files"),
            (broken.as_path(), "A", "none of the 2 MIDI/ABC files"),
            (good.as_path(), "Airs", "bundled style"),
            (good.as_path(), "  ", "needs a name"),
        ] {
            match learn(folder, name, &go) {
                Err(JobError::Failed(m)) => assert!(m.contains(expect), "{m} ≠ {expect}"),
                other => panic!("{}: {other:?}", folder.display()),
            }
        }
        assert_eq!(
            learn(&good, "Mine", &AtomicBool::new(true)),
            Err(JobError::Cancelled)
        );
        assert!(
            files_in(&styles_dir).is_empty(),
            "{:?}",
            files_in(&styles_dir)
        );
        for d in [&styles_dir, &empty, &broken, &good] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    /// The job runs on its own thread: one at a time, its progress visible, its end collected
    /// once.
    #[test]
    fn the_learner_runs_one_job_at_a_time_in_the_background() {
        let folder = midi_folder("thread", 4, 0);
        let styles_dir = temp_dir("thread-styles");
        let mut learner = Learner::default();
        assert!(learner.view().is_none() && !learner.cancel());
        let job = |name: &str| Job::Folder {
            folder: folder.clone(),
            name: name.into(),
        };
        learner
            .start("learning".into(), job("Four"), styles_dir.clone())
            .unwrap();
        let view = learner.view().expect("a job runs");
        assert_eq!(view.what, "learning");
        let busy = learner.start("again".into(), job("Five"), styles_dir.clone());
        assert!(busy.unwrap_err().contains("still running"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let result = loop {
            if let Some(r) = learner.poll() {
                break r;
            }
            assert!(std::time::Instant::now() < deadline, "the job never ended");
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(result.ok().and_then(|o| o.added).unwrap().0, "Four");
        assert!(learner.poll().is_none() && !learner.busy());
        let _ = std::fs::remove_dir_all(&folder);
        let _ = std::fs::remove_dir_all(&styles_dir);
    }

    /// A folder holding a link to itself is read once, not forever.
    #[cfg(unix)]
    #[test]
    fn a_folder_linking_to_itself_is_read_once() {
        let folder = midi_folder("loop", 2, 0);
        std::os::unix::fs::symlink(&folder, folder.join("again")).unwrap();
        let styles_dir = temp_dir("loop-styles");
        let outcome = learn_from_folder(
            &folder,
            "Loop",
            &styles_dir,
            &Progress::default(),
            &AtomicBool::new(false),
        )
        .map_err(|e| format!("{e:?}"))
        .unwrap();
        assert!(
            outcome.message.contains("from 2 files"),
            "{}",
            outcome.message
        );
        let _ = std::fs::remove_dir_all(&folder);
        let _ = std::fs::remove_dir_all(&styles_dir);
    }

    #[test]
    fn progress_reads_as_words() {
        let job = StyleJob {
            what: String::new(),
            stage: Stage::Reading,
            done: 3,
            total: 12,
            cancelling: false,
        };
        assert_eq!(job.progress_text(), "reading files 3/12");
        assert!((job.fraction() - 0.225).abs() < 1e-6);
    }
}
