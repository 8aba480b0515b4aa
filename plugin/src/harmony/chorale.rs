//! Four-part chorales as training and test data for the harmony model: the voices (read with
//! the project's MIDI reader), the key, one chord label per beat, and a fixed split.
//!
//! The split is a hash of the chorale's name (FNV-1a of `continuo-harmony/<stem>`, the stem
//! without `-000` and without the `-sc` of an alternative setting, so two settings of one
//! chorale land on the same side): [`HELD_OUT_PERCENT`] % of the chorales are *held out* (scored
//! by `eval-harmony`, never tuned on), [`DEV_PERCENT`] % are *dev* (for choosing the model's
//! settings), the rest *train*. The shipped model is trained on train + dev.

use super::chord::HeardChord;
use super::label::{beat_count, label_beats, legato};
use crate::model::key::{estimate_key, histogram};
use crate::model::midi_in::read_midi;
use crate::model::Note;
use crate::music::KeySignature;
use std::path::Path;

/// Share of the chorales held out for evaluation.
pub const HELD_OUT_PERCENT: u64 = 20;
/// Share used for choosing settings (the rest of the first 100 − held-out is train).
pub const DEV_PERCENT: u64 = 15;

/// Which side of the split a chorale is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Trained on.
    Train,
    /// Trained on by the shipped model; the held-in half used to choose the model's settings.
    Dev,
    /// Never trained or tuned on: the evaluation's chorales.
    HeldOut,
}

/// The split of a chorale file (see the module doc).
pub fn split_of(file_name: &str) -> Split {
    let stem = file_name
        .trim_end_matches(".mid")
        .trim_end_matches(".midi")
        .trim_end_matches("-000")
        .trim_end_matches("-sc");
    let h = fnv1a(format!("continuo-harmony/{stem}").as_bytes()) % 100;
    if h < HELD_OUT_PERCENT {
        Split::HeldOut
    } else if h < HELD_OUT_PERCENT + DEV_PERCENT {
        Split::Dev
    } else {
        Split::Train
    }
}

/// FNV-1a (64 bits): a hash that never changes between builds and platforms.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A chorale read from a file.
#[derive(Debug, Clone)]
pub struct Chorale {
    /// The file's name (for reports and the split).
    pub name: String,
    /// Voices from the highest (soprano) to the lowest (bass), legato (see
    /// [`super::label::legato`]); times in beats from the file start.
    pub voices: Vec<Vec<Note>>,
    /// The key of the whole chorale (see [`chorale_key`]).
    pub key: KeySignature,
    /// One chord per beat from all the voices (see [`super::label`]).
    pub chords: Vec<HeardChord>,
    /// Seconds per beat (from the file's first tempo; 0.5 when it has none): only for the TSV
    /// and durations in seconds.
    pub seconds_per_beat: f64,
}

impl Chorale {
    /// The top voice: the melody the model harmonises.
    pub fn soprano(&self) -> &[Note] {
        &self.voices[0]
    }
}

/// The key of a chorale: the project's key finder on the duration-weighted pitch classes of all
/// voices; when the last bass note is the tonic of the relative key instead (relative keys share
/// their notes, the profiles separate them weakly), that key.
pub fn chorale_key(voices: &[Vec<Note>]) -> Option<KeySignature> {
    let h = histogram(voices.iter().flatten().map(|n| (n.pitch, n.duration)));
    let key = estimate_key(&h)?;
    let last_bass = voices
        .last()
        .and_then(|v| v.iter().max_by(|a, b| a.onset.total_cmp(&b.onset)))
        .map(|n| n.pitch % 12);
    let relative = key.relative();
    Some(match last_bass {
        Some(b) if b != key.tonic && b == relative.tonic => relative,
        _ => key,
    })
}

/// The first tempo of a MIDI file in seconds per beat, if it has one.
fn seconds_per_beat(bytes: &[u8]) -> Option<f64> {
    let smf = midly::Smf::parse(bytes).ok()?;
    smf.tracks.iter().flatten().find_map(|ev| match ev.kind {
        midly::TrackEventKind::Meta(midly::MetaMessage::Tempo(t)) => {
            Some(t.as_int() as f64 / 1e6).filter(|s| *s > 0.0)
        }
        _ => None,
    })
}

/// Reads a chorale: every melodic track is a voice, ordered by mean pitch from the top. An
/// error for files with fewer than two voices or no key.
pub fn read_chorale(name: &str, bytes: &[u8]) -> anyhow::Result<Chorale> {
    let melodies = read_midi(bytes)?;
    let mut voices: Vec<Vec<Note>> = melodies.into_iter().map(|m| legato(&m.notes)).collect();
    voices.retain(|v| !v.is_empty());
    if voices.len() < 2 {
        anyhow::bail!(
            "{name}: {} voice(s), a chorale needs at least two",
            voices.len()
        );
    }
    let mean = |v: &Vec<Note>| v.iter().map(|n| n.pitch as f64).sum::<f64>() / v.len() as f64;
    voices.sort_by(|a, b| mean(b).total_cmp(&mean(a)));
    let key = chorale_key(&voices).ok_or_else(|| anyhow::anyhow!("{name}: no key"))?;
    let chords = label_beats(&voices, beat_count(&voices));
    Ok(Chorale {
        name: name.to_string(),
        voices,
        key,
        chords,
        seconds_per_beat: seconds_per_beat(bytes).unwrap_or(0.5),
    })
}

/// Files that could not be read: (name, why).
pub type Unreadable = Vec<(String, String)>;

/// Every `.mid` chorale in a folder, sorted by name, with the files that could not be read.
pub fn read_folder(dir: &Path) -> anyhow::Result<(Vec<Chorale>, Unreadable)> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("mid") || x.eq_ignore_ascii_case("midi"))
        })
        .collect();
    names.sort();
    let mut chorales = Vec::new();
    let mut broken = Vec::new();
    for path in names {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match std::fs::read(&path)
            .map_err(anyhow::Error::from)
            .and_then(|b| read_chorale(&name, &b))
        {
            Ok(c) => chorales.push(c),
            Err(e) => broken.push((name, format!("{e:#}"))),
        }
    }
    Ok((chorales, broken))
}

/// The shared corpus' chorale folder, if present (tests skip without it).
pub fn shared_chorales() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/chorales");
    dir.is_dir().then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::{Chord, Quality};
    use crate::music::Mode;

    #[test]
    fn split_is_stable_and_keeps_settings_together() {
        assert_eq!(
            split_of("bach-bwv112.5-000.mid"),
            split_of("bach-bwv112.5-sc-000.mid")
        );
        let names: Vec<String> = (0..1000)
            .map(|i| format!("bach-bwv{i}.1-000.mid"))
            .collect();
        let held = names
            .iter()
            .filter(|n| split_of(n) == Split::HeldOut)
            .count();
        let dev = names.iter().filter(|n| split_of(n) == Split::Dev).count();
        assert!((150..250).contains(&held), "{held}");
        assert!((100..200).contains(&dev), "{dev}");
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// A four-track file (soprano, alto, tenor, bass; 96 ticks a beat) of block chords.
    fn four_part_file(chords: &[[u8; 4]]) -> Vec<u8> {
        let mut out = b"MThd\0\0\0\x06\0\x01\0\x04\0\x60".to_vec();
        for v in 0..4 {
            let mut track = Vec::new();
            for c in chords {
                track.extend_from_slice(&[0, 0x90, c[v], 80, 0x5a, 0x80, c[v], 0]);
            }
            // delta 6 closes the beat (90 + 6 = 96 ticks).
            let mut fixed = Vec::new();
            for (i, chunk) in track.chunks(8).enumerate() {
                let mut c = chunk.to_vec();
                if i > 0 {
                    c[0] = 6;
                }
                fixed.extend_from_slice(&c);
            }
            fixed.extend_from_slice(&[0, 0xff, 0x2f, 0]);
            out.extend_from_slice(b"MTrk");
            out.extend_from_slice(&(fixed.len() as u32).to_be_bytes());
            out.extend_from_slice(&fixed);
        }
        out
    }

    #[test]
    fn reads_and_labels_a_small_chorale() {
        // In G major: G, C/E, D7, G, G.
        let bytes = four_part_file(&[
            [71, 67, 62, 43],
            [72, 67, 64, 52],
            [72, 66, 62, 50],
            [71, 67, 62, 55],
            [67, 62, 59, 43],
        ]);
        let c = read_chorale("t.mid", &bytes).unwrap();
        assert_eq!(c.voices.len(), 4);
        assert_eq!(c.soprano()[0].pitch, 71);
        assert_eq!(
            c.key,
            KeySignature {
                tonic: 7,
                mode: Mode::Major
            }
        );
        let names: Vec<String> = c.chords.iter().map(|h| h.name()).collect();
        assert_eq!(names, ["G", "C/E", "D7", "G", "G"]);
        assert_eq!(c.chords[2].chord, Chord::new(2, Quality::Dominant7));
        assert!(read_chorale("x", b"not midi").is_err());
    }

    #[test]
    fn the_shared_chorales_read_and_mostly_label() {
        let Some(dir) = shared_chorales() else {
            eprintln!("skipped: ../shared/corpus/chorales is absent");
            return;
        };
        let (chorales, broken) = read_folder(&dir).unwrap();
        assert!(
            chorales.len() > 300 && broken.len() < 5,
            "{} {broken:?}",
            chorales.len()
        );
        let beats: usize = chorales.iter().map(|c| c.chords.len()).sum();
        let none = chorales
            .iter()
            .flat_map(|c| &c.chords)
            .filter(|h| h.chord == Chord::None)
            .count();
        assert!(none * 20 < beats, "{none} of {beats} beats unlabelled");
        assert!(chorales.iter().all(|c| c.voices.len() == 4));
    }
}
