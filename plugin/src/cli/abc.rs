//! `continuo filter-abc SRC --against DIR --out OUT`: copies the `.abc` files under SRC to OUT
//! without the tunes that are already in the MIDI corpus DIR, so an evaluation on OUT measures
//! melodies the models never saw. A tune is dropped when its first [`FINGERPRINT_NOTES`] notes
//! have the same pitch intervals and the same rhythm (inter-onset intervals relative to the
//! first one, so a tune written in other note values still matches) as the start of a melody
//! of DIR. Tunes the reader cannot read are kept as they are (the loader skips them). The
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
}

/// The start of a melody as (pitch intervals, onset gaps in 24ths of the first gap); `None` when
/// it has fewer than [`FINGERPRINT_NOTES`] notes.
pub fn fingerprint(notes: &[Note]) -> Option<Vec<i64>> {
    let head = notes.get(..FINGERPRINT_NOTES)?;
    let first_gap = head[1].onset - head[0].onset;
    if first_gap <= 0.0 || !first_gap.is_finite() {
        return None;
    }
    let mut out = Vec::with_capacity(2 * (FINGERPRINT_NOTES - 1));
    for w in head.windows(2) {
        out.push(w[1].pitch as i64 - w[0].pitch as i64);
        out.push(((w[1].onset - w[0].onset) / first_gap * 24.0).round() as i64);
    }
    Some(out)
}

pub fn run(args: Args) -> Result<()> {
    // Fingerprints of every melody of the MIDI corpus, with a file that has it.
    let mut known: HashMap<Vec<i64>, String> = HashMap::new();
    for path in find_midi_files(&args.against)? {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for m in read_midi(&bytes).unwrap_or_default() {
            if let Some(f) = fingerprint(&m.notes) {
                known.entry(f).or_insert_with(|| path.display().to_string());
            }
        }
    }
    anyhow::ensure!(
        !known.is_empty(),
        "{} holds no MIDI melody to compare with",
        args.against.display()
    );
    let (mut kept, mut dropped, mut unread) = (0usize, 0usize, 0usize);
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
        let mut file_dropped = 0;
        for t in &tunes {
            let Ok(m) = &t.melody else {
                unread += 1;
                continue;
            };
            let Some(f) = fingerprint(&m.notes) else {
                kept += 1;
                continue;
            };
            if let Some(other) = known.get(&f) {
                println!(
                    "dropped {} X:{} ({}): starts like {other}",
                    rel.display(),
                    t.number,
                    t.title
                );
                out.extend_from_slice(&bytes[from..t.bytes.start]);
                from = t.bytes.end;
                file_dropped += 1;
            } else {
                kept += 1;
            }
        }
        out.extend_from_slice(&bytes[from..]);
        dropped += file_dropped;
        let target = args.out.join(rel);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&target, out).with_context(|| format!("writing {}", target.display()))?;
    }
    println!(
        "{kept} tunes kept, {dropped} dropped (their first {} notes' intervals and rhythm are a melody's of {}), {unread} not readable (kept, skipped by the loader)",
        FINGERPRINT_NOTES,
        args.against.display()
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
