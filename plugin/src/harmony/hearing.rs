//! MODEL THREAD: chords heard from the player's held notes (a keyboard's chords).
//!
//! Every note start or end updates the set of held keys and the chord they make is recognised
//! at once ([`super::recognise::recognise_notes`]: any inversion or doubling; three distinct
//! pitch classes at least). A chord is *named when keys go down*: pressing a key that changes
//! the chord starts a new one; lifting keys keeps the chord's name (C E G B lifted to C E G is
//! still the Cmaj7 that was played) until fewer than three pitch classes remain, which ends it.
//! The recent chords are kept, with their times, for the piano roll.

use super::chord::{Chord, HeardChord};
use super::recognise::recognise_notes;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many recent chords are kept for the roll.
pub const RECENT_CHORDS: usize = 32;

/// A chord the player held, and when (stream seconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChordSpan {
    /// When it started sounding.
    pub start_s: f64,
    /// When it ended; `None` while it is held.
    pub end_s: Option<f64>,
    /// What chord, with its bass.
    pub chord: HeardChord,
}

/// The player's held keys and the chords they made.
#[derive(Debug, Clone)]
pub struct ChordHearing {
    /// How many sources (audio, MIDI channels) hold each MIDI key; fixed size, made once.
    held: [u8; 128],
    /// The recent chords, newest last, at most [`RECENT_CHORDS`] (allocated once).
    recent: VecDeque<ChordSpan>,
}

impl Default for ChordHearing {
    fn default() -> Self {
        ChordHearing {
            held: [0; 128],
            recent: VecDeque::with_capacity(RECENT_CHORDS + 1),
        }
    }
}

impl ChordHearing {
    /// A key went down at `at_s`.
    pub fn note_on(&mut self, pitch: u8, at_s: f64) {
        let p = (pitch & 127) as usize;
        self.held[p] = self.held[p].saturating_add(1);
        let heard = self.recognise();
        if heard.chord == Chord::None {
            return;
        }
        match self.recent.back() {
            Some(now) if now.end_s.is_none() && now.chord == heard => {}
            _ => {
                self.end_current(at_s);
                self.recent.push_back(ChordSpan {
                    start_s: at_s,
                    end_s: None,
                    chord: heard,
                });
                while self.recent.len() > RECENT_CHORDS {
                    self.recent.pop_front();
                }
            }
        }
    }

    /// A key came up at `at_s` (a key never pressed is ignored).
    pub fn note_off(&mut self, pitch: u8, at_s: f64) {
        let p = (pitch & 127) as usize;
        self.held[p] = self.held[p].saturating_sub(1);
        if self.recognise().chord == Chord::None {
            self.end_current(at_s);
        }
    }

    /// Nothing sounds any more (a reset of the stream clock): forget the keys and the chords.
    pub fn reset(&mut self) {
        self.held = [0; 128];
        self.recent.clear();
    }

    /// The chord held now, if any.
    pub fn now(&self) -> Option<HeardChord> {
        self.recent
            .back()
            .filter(|c| c.end_s.is_none())
            .map(|c| c.chord)
    }

    /// The recent chords, oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &ChordSpan> {
        self.recent.iter()
    }

    /// The pitches held now, lowest first (at most 128; no allocation beyond the array).
    fn held_pitches(&self) -> ([u8; 128], usize) {
        let mut out = [0u8; 128];
        let mut n = 0;
        for (p, &count) in self.held.iter().enumerate() {
            if count > 0 {
                out[n] = p as u8;
                n += 1;
            }
        }
        (out, n)
    }

    fn recognise(&self) -> HeardChord {
        let (pitches, n) = self.held_pitches();
        recognise_notes(&pitches[..n])
    }

    fn end_current(&mut self, at_s: f64) {
        if let Some(last) = self.recent.back_mut() {
            if last.end_s.is_none() {
                last.end_s = Some(at_s.max(last.start_s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chords_are_named_as_keys_go_down_and_end_when_too_few_remain() {
        let mut h = ChordHearing::default();
        // C E G rolled in.
        h.note_on(48, 0.00);
        h.note_on(52, 0.01);
        assert_eq!(h.now(), None);
        h.note_on(55, 0.02);
        assert_eq!(h.now().unwrap().name(), "C");
        // Add B: Cmaj7; lift B again: still Cmaj7 (named when keys go down).
        h.note_on(59, 0.5);
        assert_eq!(h.now().unwrap().name(), "Cmaj7");
        h.note_off(59, 0.8);
        assert_eq!(h.now().unwrap().name(), "Cmaj7");
        // Lift E: two pitch classes left, the chord ends.
        h.note_off(52, 1.0);
        assert_eq!(h.now(), None);
        // First inversion of F with a doubled F: F/A.
        h.note_off(48, 1.1);
        h.note_off(55, 1.1);
        for p in [57, 60, 65, 77] {
            h.note_on(p, 2.0);
        }
        assert_eq!(h.now().unwrap().name(), "F/A");
        let spans: Vec<(f64, Option<f64>, String)> = h
            .recent()
            .map(|s| (s.start_s, s.end_s, s.chord.name()))
            .collect();
        assert_eq!(
            spans,
            [
                (0.02, Some(0.5), "C".to_string()),
                (0.5, Some(1.0), "Cmaj7".to_string()),
                (2.0, None, "F/A".to_string())
            ]
        );
    }

    #[test]
    fn stray_note_offs_resets_and_a_bounded_history() {
        let mut h = ChordHearing::default();
        h.note_off(60, 0.0); // never pressed
        assert_eq!(h.now(), None);
        for i in 0..100 {
            let t = i as f64;
            let root = 48 + (i % 2) as u8 * 5; // C, F, C, F …
            for p in [root, root + 4, root + 7] {
                h.note_on(p, t);
            }
            for p in [root, root + 4, root + 7] {
                h.note_off(p, t + 0.5);
            }
        }
        assert_eq!(h.recent().count(), RECENT_CHORDS);
        assert!(h.recent().all(|s| s.end_s.is_some()));
        // The same key from two sources: lifting one keeps it held.
        for p in [60, 64, 67] {
            h.note_on(p, 200.0);
        }
        h.note_on(64, 200.0);
        h.note_off(64, 200.1);
        assert_eq!(h.now().unwrap().name(), "C");
        h.reset();
        assert_eq!(h.now(), None);
        assert_eq!(h.recent().count(), 0);
    }
}
