//! A chord per beat as the files the command line writes: chord segments (equal chords on
//! consecutive beats joined), a TSV of `start_s end_s label` (Harte), and chord notes for a
//! MIDI file on their own channel.

use super::chord::Chord;
use super::voicing::close_voicing;
use crate::files::midi::FileNote;

/// One chord held from `start` to `end` (beats).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// First beat.
    pub start: f64,
    /// Beat after the last.
    pub end: f64,
    /// The chord.
    pub chord: Chord,
}

/// Joins equal chords on consecutive beats (beat `b` lasts `[b, b + 1)`).
pub fn segments(chords: &[Chord]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for (b, &chord) in chords.iter().enumerate() {
        match out.last_mut() {
            Some(last) if last.chord == chord => last.end = b as f64 + 1.0,
            _ => out.push(Segment {
                start: b as f64,
                end: b as f64 + 1.0,
                chord,
            }),
        }
    }
    out
}

/// The TSV text: a header line, then `start_s end_s label` per segment (times in seconds,
/// millisecond precision; labels in Harte syntax).
pub fn tsv(segments: &[Segment], seconds_per_beat: f64) -> String {
    let mut s = String::from("start_s\tend_s\tlabel\n");
    for seg in segments {
        s.push_str(&format!(
            "{:.3}\t{:.3}\t{}\n",
            seg.start * seconds_per_beat,
            seg.end * seconds_per_beat,
            seg.chord.harte()
        ));
    }
    s
}

/// The notes of the segments' chords in close voicing on `channel` (N segments are silent).
pub fn chord_notes(segments: &[Segment], channel: u8, velocity: u8) -> Vec<FileNote> {
    segments
        .iter()
        .flat_map(|seg| {
            close_voicing(seg.chord)
                .into_iter()
                .map(move |pitch| FileNote {
                    start_beats: seg.start,
                    length_beats: seg.end - seg.start,
                    pitch,
                    velocity,
                    channel,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::Quality;

    #[test]
    fn segments_tsv_and_notes() {
        let c = Chord::new(0, Quality::Major);
        let g = Chord::new(7, Quality::Dominant7);
        let segs = segments(&[c, c, g, Chord::None, c]);
        assert_eq!(segs.len(), 4);
        assert_eq!((segs[0].start, segs[0].end), (0.0, 2.0));
        let text = tsv(&segs, 0.5);
        assert_eq!(
            text,
            "start_s\tend_s\tlabel\n0.000\t1.000\tC:maj\n1.000\t1.500\tG:7\n1.500\t2.000\tN\n2.000\t2.500\tC:maj\n"
        );
        // Every label reads back.
        for line in text.lines().skip(1) {
            let label = line.split('\t').nth(2).unwrap();
            assert!(Chord::parse_harte(label).is_ok());
        }
        let notes = chord_notes(&segs, 1, 70);
        assert_eq!(notes.len(), 3 + 4 + 3);
        assert!(notes.iter().all(|n| n.channel == 1));
        assert_eq!(notes[3].start_beats, 2.0);
        assert_eq!(notes[3].length_beats, 1.0);
        assert!(segments(&[]).is_empty());
    }
}
