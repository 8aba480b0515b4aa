//! Reading melodies from Standard MIDI Files for training and evaluation.
//!
//! Every melodic track (per channel; channel 10 drums skipped) becomes one melody; a polyphonic
//! track is reduced to its top voice (skyline). Broken files give an error, never a panic.

use super::key::key_from_signature;
use super::note::skyline;
use super::Note;
use crate::music::KeySignature;
use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
use std::collections::BTreeMap;

/// Files larger than this are refused (a melody corpus file is a few kB).
pub const MAX_MIDI_BYTES: usize = 16 * 1024 * 1024;
/// Tracks with fewer notes than this are not melodies.
pub const MIN_MELODY_NOTES: usize = 4;

/// One melody read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Melody {
    /// Monophonic, sorted by onset; times in beats (quarter notes) from the file start.
    pub notes: Vec<Note>,
    /// From the first key-signature meta event, if the file has one.
    pub key: Option<KeySignature>,
    /// From the first time-signature meta event, if the file has a valid one (bar lines from
    /// beat 0).
    pub meter: Option<crate::meter::Meter>,
}

/// A header whose timing word is SMPTE with a frame rate byte of 0x80: midly 0.5 negates that
/// byte as an `i8`, which overflows (a panic in builds with overflow checks). Every `MThd` in the
/// file is checked, so a RIFF-wrapped (RMID) file is covered too.
fn has_overflowing_timecode(bytes: &[u8]) -> bool {
    bytes
        .windows(13)
        .any(|w| w.starts_with(b"MThd") && w.get(12) == Some(&0x80))
}

/// Reads the melodies of a MIDI file.
pub fn read_midi(bytes: &[u8]) -> anyhow::Result<Vec<Melody>> {
    if bytes.is_empty() {
        anyhow::bail!("empty file");
    }
    if bytes.len() > MAX_MIDI_BYTES {
        anyhow::bail!(
            "{} bytes is larger than the {} byte limit",
            bytes.len(),
            MAX_MIDI_BYTES
        );
    }
    if has_overflowing_timecode(bytes) {
        anyhow::bail!("not a readable MIDI file: invalid SMPTE timing (-128 frames per second)");
    }
    let smf = Smf::parse(bytes).map_err(|e| anyhow::anyhow!("not a readable MIDI file: {e}"))?;
    // Ticks per beat; timecode files are read as if at 120 beats per minute.
    let ticks_per_beat = match smf.header.timing {
        Timing::Metrical(t) => t.as_int() as f64,
        Timing::Timecode(fps, sub) => fps.as_f32() as f64 * sub as f64 / 2.0,
    };
    if ticks_per_beat.is_nan() || ticks_per_beat <= 0.0 {
        anyhow::bail!("the file has zero ticks per beat");
    }
    let mut key = None;
    let mut meter = None;
    let mut melodies = Vec::new();
    for track in &smf.tracks {
        let mut tick: u64 = 0;
        // (channel) -> notes; (channel, pitch) -> (start tick, velocity) of the sounding note.
        let mut per_channel: BTreeMap<u8, Vec<Note>> = BTreeMap::new();
        let mut sounding: BTreeMap<(u8, u8), (u64, u8)> = BTreeMap::new();
        for ev in track {
            tick += ev.delta.as_int() as u64;
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::KeySignature(sharps, minor))
                    if key.is_none() && (-7..=7).contains(&sharps) =>
                {
                    key = Some(key_from_signature(sharps, minor));
                }
                TrackEventKind::Meta(MetaMessage::TimeSignature(numerator, power, _, _))
                    if meter.is_none() && power <= 5 =>
                {
                    meter = crate::meter::Meter::parse(&format!("{numerator}/{}", 1u32 << power));
                }
                TrackEventKind::Midi { channel, message } => {
                    let ch = channel.as_int();
                    if ch == 9 {
                        continue; // General MIDI drums.
                    }
                    let (pitch, on_vel) = match message {
                        MidiMessage::NoteOn { key, vel } => (key.as_int(), vel.as_int()),
                        MidiMessage::NoteOff { key, .. } => (key.as_int(), 0),
                        _ => continue,
                    };
                    // Any note-on or note-off ends a sounding note of the same pitch.
                    if let Some((start, vel)) = sounding.remove(&(ch, pitch)) {
                        if tick > start {
                            per_channel.entry(ch).or_default().push(Note {
                                pitch,
                                onset: start as f64 / ticks_per_beat,
                                duration: (tick - start) as f64 / ticks_per_beat,
                                velocity: vel,
                            });
                        }
                    }
                    if on_vel > 0 {
                        sounding.insert((ch, pitch), (tick, on_vel));
                    }
                }
                _ => {}
            }
        }
        // Notes never switched off end with the track.
        for ((ch, pitch), (start, vel)) in sounding {
            if tick > start {
                per_channel.entry(ch).or_default().push(Note {
                    pitch,
                    onset: start as f64 / ticks_per_beat,
                    duration: (tick - start) as f64 / ticks_per_beat,
                    velocity: vel,
                });
            }
        }
        for (_, notes) in per_channel {
            let notes = skyline(&notes);
            if notes.len() >= MIN_MELODY_NOTES {
                melodies.push(Melody {
                    notes,
                    key: None,
                    meter: None,
                });
            }
        }
    }
    for m in &mut melodies {
        m.key = key;
        m.meter = meter;
    }
    Ok(melodies)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A format-0 file with the given (delta, status, data1, data2) events.
    pub fn smf(events: &[(u8, u8, u8, u8)], meta: &[u8]) -> Vec<u8> {
        let mut track = Vec::new();
        track.extend_from_slice(meta);
        for &(d, s, a, b) in events {
            track.extend_from_slice(&[d, s, a, b]);
        }
        track.extend_from_slice(&[0, 0xff, 0x2f, 0]);
        let mut out = b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk".to_vec();
        out.extend_from_slice(&(track.len() as u32).to_be_bytes());
        out.extend_from_slice(&track);
        out
    }

    /// A tune: C D E F G, a quarter note (96 ticks) each, in D major per its key signature.
    pub fn tune() -> Vec<u8> {
        let mut ev = Vec::new();
        for p in [60u8, 62, 64, 65, 67] {
            ev.push((0, 0x90, p, 80));
            ev.push((96, 0x80, p, 0));
        }
        smf(&ev, &[0, 0xff, 0x59, 2, 2, 0])
    }

    #[test]
    fn reads_a_tune() {
        let m = read_midi(&tune()).unwrap();
        assert_eq!(m.len(), 1);
        let pitches: Vec<u8> = m[0].notes.iter().map(|n| n.pitch).collect();
        assert_eq!(pitches, vec![60, 62, 64, 65, 67]);
        assert_eq!(m[0].notes[1].onset, 1.0);
        assert_eq!(m[0].notes[1].duration, 1.0);
        assert_eq!(
            m[0].key,
            Some(KeySignature {
                tonic: 2,
                mode: crate::music::Mode::Major
            })
        );
    }

    #[test]
    fn skips_drums_and_takes_the_top_voice() {
        let mut ev = Vec::new();
        for p in [60u8, 62, 64, 65, 67] {
            ev.push((0, 0x90, p, 80));
            ev.push((0, 0x90, p - 12, 80)); // a lower voice
            ev.push((0, 0x99, 36, 100)); // drums
            ev.push((96, 0x80, p, 0));
            ev.push((0, 0x80, p - 12, 0));
            ev.push((0, 0x89, 36, 0));
        }
        let m = read_midi(&smf(&ev, &[])).unwrap();
        assert_eq!(m.len(), 1);
        assert!(m[0].notes.iter().all(|n| n.pitch >= 60));
        assert_eq!(m[0].key, None);
    }

    #[test]
    fn survives_broken_files() {
        let good = tune();
        let mut broken: Vec<Vec<u8>> = vec![
            vec![],
            b"MThd".to_vec(),
            b"not a midi file at all".to_vec(),
            good[..good.len() / 2].to_vec(),
            b"MThd\0\0\0\x06\0\0\0\x01\0\0MTrk\0\0\0\0".to_vec(),
            vec![0xff; 300],
        ];
        let mut corrupted = good.clone();
        for i in (22..corrupted.len()).step_by(3) {
            corrupted[i] = 0xf7;
        }
        broken.push(corrupted);
        for (i, b) in broken.iter().enumerate() {
            // Either an error or some melodies; never a panic.
            let _ = read_midi(b).map_err(|e| assert!(!e.to_string().is_empty(), "{i}"));
        }
        assert!(read_midi(&[]).is_err());
        assert!(read_midi(b"not a midi file").is_err());
    }

    #[test]
    fn smpte_minus_128_fps_is_an_error_not_a_panic() {
        // Found by `never_panics_on_mutations`: timing word 0x80xx.
        let mut b = tune();
        assert_eq!(&b[..4], b"MThd");
        b[12] = 0x80;
        let e = read_midi(&b).unwrap_err().to_string();
        assert!(e.contains("SMPTE"), "{e}");
        // Other SMPTE rates still read.
        b[12] = 0xE7; // -25 fps
        b[13] = 40;
        assert_eq!(read_midi(&b).unwrap().len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_mutations(pos in 0usize..200, byte in proptest::num::u8::ANY, cut in 0usize..200) {
            let mut b = tune();
            let n = b.len();
            b[pos % n] = byte;
            b.truncate(n - cut % n);
            let _ = read_midi(&b);
        }
    }
}
