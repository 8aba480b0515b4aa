//! Training: reading a folder of MIDI files, the deterministic held-out split, counting.

use super::key::{estimate_key, histogram};
use super::midi_in::{read_midi, Melody};
use super::note::{events_from_notes, Event};
use super::predictor::{LongTermModel, ModelConfig};
use super::viewpoints::History;
use crate::music::KeySignature;
use std::path::{Path, PathBuf};

/// A melody ready for the predictors: its events and its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    pub events: Vec<Event>,
    pub key: KeySignature,
}

impl Sequence {
    /// From a melody: its key-signature event when present, else a Krumhansl–Schmuckler estimate
    /// on its duration-weighted pitch histogram (C major for a silent melody).
    pub fn from_melody(m: &Melody) -> Self {
        let key = m
            .key
            .or_else(|| estimate_key(&histogram(m.notes.iter().map(|n| (n.pitch, n.duration)))))
            .unwrap_or_default();
        Self {
            events: events_from_notes(&m.notes),
            key,
        }
    }

    pub fn history(&self) -> History {
        let mut h = History::with_capacity(self.key, self.events.len());
        for e in &self.events {
            h.push(*e);
        }
        h
    }
}

/// The melodies of one file.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    /// Path relative to the corpus folder, with `/` separators (what the split hashes).
    pub name: String,
    pub sequences: Vec<Sequence>,
}

impl CorpusFile {
    pub fn notes(&self) -> usize {
        self.sequences.iter().map(|s| s.events.len()).sum()
    }
}

/// A corpus read from a folder, with the files that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    pub files: Vec<CorpusFile>,
    /// (file name, reason) for every file skipped.
    pub broken: Vec<(String, String)>,
}

impl Corpus {
    /// Adds another folder's files (their names stay relative to their own folder).
    pub fn extend(&mut self, other: Corpus) {
        self.files.extend(other.files);
        self.broken.extend(other.broken);
    }

    pub fn notes(&self) -> usize {
        self.files.iter().map(CorpusFile::notes).sum()
    }

    pub fn melodies(&self) -> usize {
        self.files.iter().map(|f| f.sequences.len()).sum()
    }

    /// Splits by file into (training, held out).
    pub fn split(&self, seed: u64, holdout: f64) -> (Vec<&CorpusFile>, Vec<&CorpusFile>) {
        self.files
            .iter()
            .partition(|f| !is_held_out(&f.name, seed, holdout))
    }
}

/// Every `.mid`/`.midi` file under `dir` (recursively), sorted by path.
pub fn find_midi_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    find_files_with(dir, &["mid", "midi"])
}

/// Every melody file the corpus loader reads under `dir` (recursively, sorted by path): MIDI
/// (`.mid`, `.midi`) and ABC (`.abc`, one melody per tune).
pub fn find_melody_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    find_files_with(dir, &["mid", "midi", "abc"])
}

/// Every file under `dir` (recursively, sorted by path) whose extension is one of `extensions`
/// (any case).
fn find_files_with(dir: &Path, extensions: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    if !dir.is_dir() {
        anyhow::bail!("{} is not a folder", dir.display());
    }
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("warning: cannot read {}: {e}", d.display());
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Sub-folders, but not through symbolic links (a link to a parent would loop).
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads every MIDI and ABC file under `dir`; unreadable files (and ABC tunes) are listed in
/// `broken`, never fatal. Each tune of an ABC file is one entry named `<path without .abc>-<X
/// number>` (`essen/han1-23`), so splits by file keep whole tunes apart. `progress` is called
/// after each file with (done, total).
pub fn load_corpus(dir: &Path, progress: impl FnMut(usize, usize)) -> anyhow::Result<Corpus> {
    load_corpus_matching(dir, &[], progress)
}

/// [`load_corpus`] of the files whose base name matches one of `patterns` (see
/// [`matches_pattern`]; no patterns: every file). Only matching files are read.
pub fn load_corpus_matching(
    dir: &Path,
    patterns: &[String],
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<Corpus> {
    let mut paths = find_melody_files(dir)?;
    if !patterns.is_empty() {
        paths.retain(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            patterns.iter().any(|pat| matches_pattern(&name, pat))
        });
    }
    let mut corpus = Corpus::default();
    for (i, path) in paths.iter().enumerate() {
        let name = path
            .strip_prefix(dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                corpus.broken.push((name, e.to_string()));
                progress(i + 1, paths.len());
                continue;
            }
        };
        read_melody_file(path, name, &bytes, &mut corpus);
        progress(i + 1, paths.len());
    }
    Ok(corpus)
}

/// Adds the melodies of one file, read as ABC when `path` ends in `.abc` (any case) and as MIDI
/// otherwise, to `corpus` under `name` (its path relative to the corpus folder): one entry per
/// MIDI file (all its melodies) or per ABC tune; what cannot be read (a broken file, an ABC tune
/// the reader refuses, a file without notes) goes to `broken` with the reason. Shared by the
/// command line's corpus loader and the editor's *Learn a style…*, so both read the same files
/// the same way.
pub fn read_melody_file(path: &Path, name: String, bytes: &[u8], corpus: &mut Corpus) {
    let is_abc = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("abc"));
    if is_abc {
        read_abc_file(&name, bytes, corpus);
        return;
    }
    match read_midi(bytes) {
        Ok(melodies) if !melodies.is_empty() => {
            let sequences = melodies.iter().map(Sequence::from_melody).collect();
            corpus.files.push(CorpusFile { name, sequences });
        }
        Ok(_) => corpus.broken.push((name, "no melody found".into())),
        Err(e) => corpus.broken.push((name, format!("{e:#}"))),
    }
}

/// Adds the tunes of the ABC file `name` (path relative to the corpus folder) to `corpus`: one
/// entry per readable tune, named `<name without .abc>-<X number>` (a repeated number gets
/// `.2`, `.3` …), and one `broken` entry per tune that could not be read.
fn read_abc_file(name: &str, bytes: &[u8], corpus: &mut Corpus) {
    let tunes = match crate::files::abc::read_abc(bytes) {
        Ok(t) => t,
        Err(e) => {
            corpus.broken.push((name.to_string(), format!("{e:#}")));
            return;
        }
    };
    let stem = name
        .len()
        .checked_sub(4)
        .and_then(|end| name.get(..end))
        .filter(|_| name.to_ascii_lowercase().ends_with(".abc"))
        .unwrap_or(name);
    let mut seen: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for tune in tunes {
        let count = seen.entry(tune.number).or_insert(0);
        *count += 1;
        let tune_name = if *count == 1 {
            format!("{stem}-{}", tune.number)
        } else {
            format!("{stem}-{}.{count}", tune.number)
        };
        match tune.melody {
            Ok(m) => corpus.files.push(CorpusFile {
                name: tune_name,
                sequences: vec![Sequence::from_melody(&m)],
            }),
            Err(e) => corpus.broken.push((tune_name, format!("{e:#}"))),
        }
    }
}

/// The part of a file name the split hashes: the name without a trailing voice number
/// (`ren-josquin-adieuMesAmours-001-v2.mid` → `ren-josquin-adieuMesAmours-001`), so every voice
/// of one piece falls on the same side of the split (a held-out voice never has its piece's
/// other voices in training). Names without a voice suffix are hashed whole.
pub fn split_key(name: &str) -> &str {
    let stem = name
        .strip_suffix(".mid")
        .or_else(|| name.strip_suffix(".midi"))
        .unwrap_or(name);
    if let Some(at) = stem.rfind("-v") {
        let digits = &stem[at + 2..];
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return &stem[..at];
        }
    }
    name
}

/// Whether a file name matches a shell-style pattern (`*` any run of characters, `?` one),
/// compared with the file's base name (case-sensitive): `continuo train --include 'bach-*'`.
pub fn matches_pattern(name: &str, pattern: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    fn go(s: &[u8], p: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| go(&s[i..], &p[1..])),
            Some(b'?') => !s.is_empty() && go(&s[1..], &p[1..]),
            Some(&c) => s.first() == Some(&c) && go(&s[1..], &p[1..]),
        }
    }
    go(base.as_bytes(), pattern.as_bytes())
}

/// Whether a file belongs to the held-out part: a hash of its [`split_key`] and the seed, so the
/// split is the same on every machine and does not depend on which other files are present.
pub fn is_held_out(name: &str, seed: u64, fraction: f64) -> bool {
    if fraction.is_nan() || fraction <= 0.0 {
        return false;
    }
    // FNV-1a, then a final mix.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in split_key(name).bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    ((h >> 11) as f64 / (1u64 << 53) as f64) < fraction
}

/// Counts every melody of `files` into a new long-term model.
pub fn train<'a>(
    config: ModelConfig,
    sequences: impl IntoIterator<Item = &'a Sequence>,
) -> LongTermModel {
    let mut ltm = LongTermModel::new(config);
    for s in sequences {
        ltm.learn_melody(&s.history());
    }
    ltm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::viewpoints::Viewpoint;
    use crate::music::Mode;

    #[test]
    fn tiny_corpus_gives_expected_counts() {
        let key = KeySignature {
            tonic: 0,
            mode: Mode::Major,
        };
        let ev = |pitch| Event {
            pitch,
            rhythm: 8,
            phase: 0,
        };
        let seqs = [
            Sequence {
                events: [60, 62, 64, 62, 60].map(ev).to_vec(),
                key,
            },
            Sequence {
                events: [60, 62, 60].map(ev).to_vec(),
                key,
            },
        ];
        let cfg = ModelConfig {
            max_order: 2,
            ..ModelConfig::default()
        };
        let ltm = train(cfg.clone(), &seqs);
        let pitch = &ltm.ppms[cfg
            .viewpoints()
            .position(|v| v == Viewpoint::Pitch)
            .unwrap()];
        assert_eq!(pitch.count(&[], 0, 60), 4);
        assert_eq!(pitch.count(&[], 0, 62), 3);
        assert_eq!(pitch.count(&[60], 1, 62), 2);
        assert_eq!(pitch.count(&[62], 1, 60), 2);
        assert_eq!(pitch.count(&[62], 1, 64), 1);
        assert_eq!(pitch.count(&[60, 62], 2, 64), 1);
        assert_eq!(pitch.count(&[60, 62], 2, 60), 1);
        let interval = &ltm.ppms[cfg
            .viewpoints()
            .position(|v| v == Viewpoint::Interval)
            .unwrap()];
        // +2 occurs three times (60→62 twice, 62→64), -2 three times; undefined first notes skipped.
        assert_eq!(interval.count(&[], 0, 26), 3);
        assert_eq!(interval.count(&[], 0, 22), 3);
        assert_eq!(interval.count(&[26], 1, 26), 1);
        let rhythm = &ltm.ppms[cfg
            .viewpoints()
            .position(|v| v == Viewpoint::Rhythm)
            .unwrap()];
        assert_eq!(rhythm.count(&[8, 8], 2, 8), 4);
    }

    #[test]
    fn split_is_deterministic_and_about_right() {
        let names: Vec<String> = (0..2000).map(|i| format!("tune-{i}.mid")).collect();
        let held: Vec<bool> = names.iter().map(|n| is_held_out(n, 1, 0.1)).collect();
        let again: Vec<bool> = names.iter().map(|n| is_held_out(n, 1, 0.1)).collect();
        assert_eq!(held, again);
        let n = held.iter().filter(|&&h| h).count();
        assert!((150..250).contains(&n), "{n}");
        assert!(!is_held_out("x", 1, 0.0));
        assert!(is_held_out("x", 1, 1.0));
    }

    #[test]
    fn voices_of_one_piece_fall_on_the_same_side() {
        assert_eq!(split_key("ren-a-001-v2.mid"), "ren-a-001");
        assert_eq!(split_key("bach-bwv1.6.mid"), "bach-bwv1.6.mid");
        assert_eq!(split_key("tune-v.mid"), "tune-v.mid");
        let mut sides = std::collections::HashSet::new();
        for piece in 0..200 {
            let held: Vec<bool> = (0..4)
                .map(|v| is_held_out(&format!("ren-p{piece}-v{v}.mid"), 1, 0.3))
                .collect();
            assert!(
                held.iter().all(|&h| h == held[0]),
                "piece {piece}: {held:?}"
            );
            sides.insert(held[0]);
        }
        assert_eq!(sides.len(), 2, "some pieces held out, some not");
    }

    #[test]
    fn patterns_match_base_names() {
        assert!(matches_pattern("bach-bwv1.6.mid", "bach-*"));
        assert!(matches_pattern("sub/bach-x.mid", "bach-*"));
        assert!(!matches_pattern("oneills1850-1.mid", "bach-*"));
        assert!(matches_pattern("ryansMammoth-12.mid", "ryans*-1?.mid"));
        assert!(!matches_pattern("ryansMammoth-123.mid", "ryans*-1?.mid"));
        assert!(matches_pattern("x", "*"));
    }

    #[test]
    fn abc_tunes_load_beside_midi_files() {
        let dir = std::env::temp_dir().join(format!("continuo-abc-corpus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("folk")).unwrap();
        std::fs::write(dir.join("a.mid"), crate::model::midi_in::tests::tune()).unwrap();
        let abc = "X:1\nT:Good\nL:1/4\nK:G\nGABc|d4|]\n\n\
                   X:2\nT:Bad\nK:C\nC*DEF\n\n\
                   X:5\nT:Also good\nL:1/8\nK:Dm\nDEFG|A4|]\n";
        std::fs::write(dir.join("folk/songs.abc"), abc).unwrap();
        std::fs::write(dir.join("folk/empty.abc"), "").unwrap();
        let corpus = load_corpus(&dir, |_, _| {}).unwrap();
        let names: Vec<&str> = corpus.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["a.mid", "folk/songs-1", "folk/songs-5"]);
        // G major from K:G, D minor from K:Dm; the tune's pitches become events.
        let g = &corpus.files[1].sequences[0];
        assert_eq!((g.key.tonic, g.key.mode), (7, crate::music::Mode::Major));
        let pitches: Vec<u8> = g.events.iter().map(|e| e.pitch).collect();
        assert_eq!(pitches, vec![67, 69, 71, 72, 74]);
        assert_eq!(corpus.files[2].sequences[0].key.tonic, 2);
        let broken: Vec<&str> = corpus.broken.iter().map(|b| b.0.as_str()).collect();
        assert_eq!(broken, vec!["folk/empty.abc", "folk/songs-2"]);
        assert!(corpus.broken[1].1.contains("'*'"), "{:?}", corpus.broken);
        // Patterns match the ABC file's name.
        let only = load_corpus_matching(&dir, &["songs*".into()], |_, _| {}).unwrap();
        assert_eq!(only.files.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
