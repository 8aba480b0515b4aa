//! Standard MIDI files for phrases (the editor's "Export phrase" and the CLI's continuation).

use crate::meter::Meter;
use crate::model::Phrase;
use anyhow::Context;
use midly::num::{u15, u24, u28, u4, u7};
use midly::{
    Format, Header, MetaMessage, MidiMessage, Smf, Timing, Track, TrackEvent, TrackEventKind,
};
use std::path::Path;

/// Ticks per quarter note in the files we write.
pub const PPQ: u16 = 480;

/// A note to write: start and length in beats, MIDI pitch, velocity 1..127, channel 0..15.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileNote {
    pub start_beats: f64,
    pub length_beats: f64,
    pub pitch: u8,
    pub velocity: u8,
    pub channel: u8,
}

impl FileNote {
    /// A model note (onset and length in beats) on `channel`.
    pub fn of_note(n: &crate::model::Note, channel: u8) -> Self {
        Self {
            start_beats: n.onset,
            length_beats: n.duration,
            pitch: n.pitch,
            velocity: n.velocity,
            channel,
        }
    }
}

/// Encodes notes as a one-track SMF (format 0) at `tempo_bpm`.
pub fn encode(notes: &[FileNote], tempo_bpm: f64, track_name: &str) -> Vec<u8> {
    encode_in_meter(notes, tempo_bpm, None, track_name)
}

/// [`encode`] with a time-signature event for `meter` (bar lines from beat 0) when given.
pub fn encode_in_meter(
    notes: &[FileNote],
    tempo_bpm: f64,
    meter: Option<Meter>,
    track_name: &str,
) -> Vec<u8> {
    let tempo = tempo_bpm.clamp(1.0, 1000.0);
    let mut timed: Vec<(u64, bool, FileNote)> = Vec::with_capacity(notes.len() * 2);
    for n in notes {
        let on = (n.start_beats.max(0.0) * PPQ as f64).round() as u64;
        let off = on + ((n.length_beats.max(0.0) * PPQ as f64).round() as u64).max(1);
        timed.push((on, true, *n));
        timed.push((off, false, *n));
    }
    // Offs before ons at the same tick, so repeated keys re-trigger.
    timed.sort_by_key(|(t, on, _)| (*t, *on));
    let name = track_name.as_bytes().to_vec();
    let mut track: Track = Vec::with_capacity(timed.len() + 3);
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::TrackName(&name)),
    });
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new(
            (60_000_000.0 / tempo).round() as u32
        ))),
    });
    if let Some(m) = meter {
        track.push(TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::TimeSignature(
                m.numerator,
                m.denominator.max(1).trailing_zeros() as u8,
                24,
                8,
            )),
        });
    }
    let mut last = 0u64;
    for (t, on, n) in &timed {
        let delta = (t - last).min(0x0fff_ffff) as u32;
        last = *t;
        let key = u7::new(n.pitch.min(127));
        let message = if *on {
            MidiMessage::NoteOn {
                key,
                vel: u7::new(n.velocity.clamp(1, 127)),
            }
        } else {
            MidiMessage::NoteOff {
                key,
                vel: u7::new(0),
            }
        };
        track.push(TrackEvent {
            delta: u28::new(delta),
            kind: TrackEventKind::Midi {
                channel: u4::new(n.channel & 15),
                message,
            },
        });
    }
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(PPQ))),
        tracks: vec![track],
    };
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = smf.write_std(&mut bytes);
    bytes
}

/// Writes a model phrase (onsets relative to its start) as a MIDI file.
pub fn write_phrase(path: &Path, phrase: &Phrase, tempo_bpm: f64) -> anyhow::Result<()> {
    let notes: Vec<FileNote> = phrase
        .notes
        .iter()
        .map(|n| FileNote::of_note(n, 0))
        .collect();
    write(path, &notes, tempo_bpm, "Continuo phrase")
}

/// Writes notes to `path`, creating its folder.
pub fn write(
    path: &Path,
    notes: &[FileNote],
    tempo_bpm: f64,
    track_name: &str,
) -> anyhow::Result<()> {
    write_in_meter(path, notes, tempo_bpm, None, track_name)
}

/// [`write`] with a time-signature event for `meter` when given.
pub fn write_in_meter(
    path: &Path,
    notes: &[FileNote],
    tempo_bpm: f64,
    meter: Option<Meter>,
    track_name: &str,
) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, encode_in_meter(notes, tempo_bpm, meter, track_name))
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_midly() {
        let notes = [
            FileNote {
                start_beats: 0.0,
                length_beats: 0.5,
                pitch: 60,
                velocity: 100,
                channel: 0,
            },
            FileNote {
                start_beats: 0.5,
                length_beats: 0.5,
                pitch: 60,
                velocity: 90,
                channel: 0,
            },
            FileNote {
                start_beats: 1.0,
                length_beats: 1.0,
                pitch: 67,
                velocity: 80,
                channel: 0,
            },
        ];
        let bytes = encode(&notes, 100.0, "t");
        let smf = Smf::parse(&bytes).expect("our own file parses");
        let mut ons = vec![];
        let mut tick = 0u64;
        for ev in &smf.tracks[0] {
            tick += ev.delta.as_int() as u64;
            if let TrackEventKind::Midi {
                message: MidiMessage::NoteOn { key, .. },
                ..
            } = ev.kind
            {
                ons.push((tick, key.as_int()));
            }
        }
        assert_eq!(ons, vec![(0, 60), (240, 60), (480, 67)]);
    }

    /// A time signature written is read back as the melody's meter; none written, none read.
    #[test]
    fn the_meter_round_trips() {
        let notes: Vec<FileNote> = (0..8)
            .map(|i| FileNote {
                start_beats: i as f64 * 0.5,
                length_beats: 0.5,
                pitch: 60 + i as u8,
                velocity: 90,
                channel: 0,
            })
            .collect();
        for m in ["6/8", "3/4", "5/4", "2/2"] {
            let meter = Meter::parse(m);
            let bytes = encode_in_meter(&notes, 100.0, meter, "t");
            let read = crate::model::midi_in::read_midi(&bytes).unwrap();
            assert_eq!(read[0].meter, meter, "{m}");
        }
        let plain = crate::model::midi_in::read_midi(&encode(&notes, 100.0, "t")).unwrap();
        assert_eq!(plain[0].meter, None);
    }
}
