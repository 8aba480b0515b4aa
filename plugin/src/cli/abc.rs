//! `continuo filter-abc SRC --against DIR --out OUT [--intervals-only]`: copies the `.abc` files
//! under SRC to OUT without the tunes that are already in the MIDI corpus DIR, so an evaluation
//! on OUT measures melodies the models never saw. A tune is dropped when its first
//! [`FINGERPRINT_NOTES`] notes have the same pitch intervals and the same rhythm (inter-onset
//! intervals relative to the first one, so a tune written in other note values still matches)
//! as the start of a melody of DIR; with `--intervals-only` also when only the intervals match
//! (the same tune in another rhythm). Tunes the reader cannot read are kept as they are (the loader skips them). The
//! files keep their bytes and their place under SRC.

use crate::files::abc::read_abc;
use crate::model::midi_in::read_midi;
use crate::model::train::{find_melody_files, find_midi_files};
use crate::model::Note;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::PathBuf;

/// Notes compared: 13 notes give 12 intervals and 12 onset gaps.
pub const FINGERPRINT_NOTES: usize = 13;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of .abc files (searched recursively).
    pub src: PathBuf,
    /// Folder of MIDI files whose melodies must not be in the output (e.g. ../shared/corpus).
    #[arg(long)]
    pub against: PathBuf,
    /// Output folder (created; files of the same name are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Compare the pitch intervals only (looser: also drops the same tune in another rhythm).
    #[arg(long)]
    pub intervals_only: bool,
}

/// The start of a melody as (pitch intervals, onset gaps in 24ths of the first gap); `None` when
/// it has fewer than [`FINGERPRINT_NOTES`] notes.
pub fn fingerprint(notes: &[Note]) -> Option<Vec<i64>> {
    fingerprint_with(notes, true)
}

/// [`fingerprint`], without the rhythm when `rhythm` is false.
fn fingerprint_with(notes: &[Note], rhythm: bool) -> Option<Vec<i64>> {
    let head = notes.get(..FINGERPRINT_NOTES)?;
    let first_gap = head[1].onset - head[0].onset;
    if first_gap <= 0.0 || !first_gap.is_finite() {
        return None;
    }
    let mut out = Vec::with_capacity(2 * (FINGERPRINT_NOTES - 1));
    for w in head.windows(2) {
        out.push(w[1].pitch as i64 - w[0].pitch as i64);
        if rhythm {
            out.push(((w[1].onset - w[0].onset) / first_gap * 24.0).round() as i64);
        }
    }
    Some(out)
}

pub fn run(args: Args) -> Result<()> {
    // Fingerprints (with and without the rhythm) of every melody of the MIDI corpus, with a file
    // that has it.
    let mut with_rhythm: HashMap<Vec<i64>, String> = HashMap::new();
    let mut intervals: HashMap<Vec<i64>, String> = HashMap::new();
    for path in find_midi_files(&args.against)? {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for m in read_midi(&bytes).unwrap_or_default() {
            for (map, rhythm) in [(&mut with_rhythm, true), (&mut intervals, false)] {
                if let Some(f) = fingerprint_with(&m.notes, rhythm) {
                    map.entry(f).or_insert_with(|| path.display().to_string());
                }
            }
        }
    }
    anyhow::ensure!(
        !with_rhythm.is_empty(),
        "{} holds no MIDI melody to compare with",
        args.against.display()
    );
    let (mut kept, mut same, mut other_rhythm, mut unread) = (0usize, 0usize, 0usize, 0usize);
    for path in find_melody_files(&args.src)? {
        if !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("abc"))
        {
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let rel = path.strip_prefix(&args.src).unwrap_or(&path);
        let tunes = match read_abc(&bytes) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("skipped {}: {e:#}", rel.display());
                continue;
            }
        };
        // Copy everything but the dropped tunes' byte ranges.
        let mut out = Vec::with_capacity(bytes.len());
        let mut from = 0;
        for t in &tunes {
            let Ok(m) = &t.melody else {
                unread += 1;
                continue;
            };
            let exact = fingerprint_with(&m.notes, true).and_then(|f| with_rhythm.get(&f));
            let loose = fingerprint_with(&m.notes, false)
                .and_then(|f| intervals.get(&f))
                .filter(|_| args.intervals_only);
            let (like, how) = match (exact, loose) {
                (Some(o), _) => (o, "same intervals and rhythm"),
                (None, Some(o)) => (o, "same intervals, other rhythm"),
                (None, None) => {
                    kept += 1;
                    continue;
                }
            };
            if exact.is_some() {
                same += 1;
            } else {
                other_rhythm += 1;
            }
            println!(
                "dropped {} X:{} ({}): starts like {like} ({how})",
                rel.display(),
                t.number,
                t.title
            );
            out.extend_from_slice(&bytes[from..t.bytes.start]);
            from = t.bytes.end;
        }
        out.extend_from_slice(&bytes[from..]);
        let target = args.out.join(rel);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&target, out).with_context(|| format!("writing {}", target.display()))?;
    }
    println!(
        "{kept} tunes kept; dropped, as their first {FINGERPRINT_NOTES} notes start a melody of {}: {same} with the same intervals and rhythm, {other_rhythm} with the same intervals in another rhythm{}; {unread} not readable (kept, skipped by the loader)",
        args.against.display(),
        if args.intervals_only { "" } else { " (not looked for: --intervals-only)" },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_transposition_and_note_values() {
        let notes = |pitches: &[u8], step: f64| -> Vec<Note> {
            pitches
                .iter()
                .enumerate()
                .map(|(i, &p)| Note {
                    pitch: p,
                    onset: i as f64 * step,
                    duration: step,
                    velocity: 90,
                })
                .collect()
        };
        let a: Vec<u8> = (0..14).map(|i| 60 + (i * 5 % 7) as u8).collect();
        let up: Vec<u8> = a.iter().map(|p| p + 3).collect();
        let fa = fingerprint(&notes(&a, 0.5)).unwrap();
        assert_eq!(fa, fingerprint(&notes(&up, 0.25)).unwrap());
        let mut b = a.clone();
        b[12] += 1;
        assert_ne!(fa, fingerprint(&notes(&b, 0.5)).unwrap());
        // Another rhythm: one gap longer.
        let mut n = notes(&a, 0.5);
        for x in n.iter_mut().skip(5) {
            x.onset += 0.25;
        }
        assert_ne!(fa, fingerprint(&n).unwrap());
        assert_eq!(fingerprint(&notes(&a[..12], 0.5)), None);
    }
}
