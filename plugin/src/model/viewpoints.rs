//! Viewpoints: the ways of looking at a melody that the model learns from (after Conklin & Witten's
//! multiple-viewpoint systems and Pearce's IDyOM). Each viewpoint turns an event, given the event
//! before it and the key, into a small integer symbol; each one has its own context model, and its
//! predictions are mapped back onto the predicted attribute (pitch or rhythm class).

use super::note::{Event, N_PHASE, N_RHYTHM};
use crate::music::{KeySignature, Mode};

/// Marks a position where a viewpoint is undefined (e.g. the interval of a melody's first note).
pub const UNDEFINED: u16 = u16::MAX;

/// Largest interval (semitones) the interval viewpoints have a symbol for.
pub const MAX_INTERVAL: i32 = 24;
const N_INTERVAL: usize = (2 * MAX_INTERVAL + 1) as usize;
/// Offset of pitch-above-tonic symbols (pitch - tonic can be as low as -11).
const TONIC_OFFSET: i32 = 12;
const N_TONIC_PITCH: usize = 140;

/// What a viewpoint predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Pitch,
    Rhythm,
}

/// The viewpoints the model knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Viewpoint {
    /// Absolute MIDI pitch ("cpitch").
    Pitch,
    /// Melodic interval from the previous note ("cpint").
    Interval,
    /// Interval linked with the scale degree of the new note ("cpint ⊗ cpintfref").
    IntervalDegree,
    /// Pitch relative to the tonic, with the mode: absolute pitch transposed to C ("cpintfref ⊗
    /// octave"); lets melodies in every key share counts while keeping the register.
    TonicPitch,
    /// Rhythm class (inter-onset interval).
    Rhythm,
    /// Rhythm class linked with the onset phase within the beat.
    RhythmPhase,
}

impl Viewpoint {
    /// Every viewpoint, in the order `History` stores their symbols.
    pub const ALL: [Viewpoint; 6] = [
        Viewpoint::Pitch,
        Viewpoint::Interval,
        Viewpoint::IntervalDegree,
        Viewpoint::TonicPitch,
        Viewpoint::Rhythm,
        Viewpoint::RhythmPhase,
    ];

    /// Position in [`Viewpoint::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn target(self) -> Target {
        match self {
            Viewpoint::Rhythm | Viewpoint::RhythmPhase => Target::Rhythm,
            _ => Target::Pitch,
        }
    }

    /// Number of symbols (all < 4096, which the context keys rely on).
    pub fn alphabet(self) -> usize {
        match self {
            Viewpoint::Pitch => 128,
            Viewpoint::Interval => N_INTERVAL,
            Viewpoint::IntervalDegree => N_INTERVAL * 12,
            Viewpoint::TonicPitch => N_TONIC_PITCH * 2,
            Viewpoint::Rhythm => N_RHYTHM,
            Viewpoint::RhythmPhase => N_RHYTHM * N_PHASE,
        }
    }

    /// The symbol of `e` following `prev` in `key`, or [`UNDEFINED`].
    pub fn symbol(self, prev: Option<&Event>, e: &Event, key: KeySignature) -> u16 {
        match self {
            Viewpoint::Pitch => e.pitch as u16,
            Viewpoint::Interval => match prev.and_then(|p| interval(p.pitch, e.pitch)) {
                Some(i) => i,
                None => UNDEFINED,
            },
            Viewpoint::IntervalDegree => match prev.and_then(|p| interval(p.pitch, e.pitch)) {
                Some(i) => i * 12 + key.degree(e.pitch) as u16,
                None => UNDEFINED,
            },
            Viewpoint::TonicPitch => {
                let rel = e.pitch as i32 - (key.tonic % 12) as i32 + TONIC_OFFSET;
                rel as u16
                    + if key.mode == Mode::Minor {
                        N_TONIC_PITCH as u16
                    } else {
                        0
                    }
            }
            Viewpoint::Rhythm => e.rhythm as u16,
            Viewpoint::RhythmPhase => {
                e.rhythm as u16 * N_PHASE as u16 + (e.phase as u16 % N_PHASE as u16)
            }
        }
    }

    /// The target value (pitch or rhythm class) that symbol `sym` stands for as the next event,
    /// given the previous event, the next onset phase and the key; `None` when the symbol cannot
    /// occur there (e.g. a degree that does not match the interval).
    #[inline]
    pub fn target_of(
        self,
        sym: u16,
        prev: Option<&Event>,
        next_phase: u8,
        key: KeySignature,
    ) -> Option<u8> {
        match self {
            Viewpoint::Pitch => (sym < 128).then_some(sym as u8),
            Viewpoint::Interval => {
                let p = prev?.pitch as i32 + sym as i32 - MAX_INTERVAL;
                (0..128).contains(&p).then_some(p as u8)
            }
            Viewpoint::IntervalDegree => {
                let (i, d) = (sym / 12, sym % 12);
                let p = prev?.pitch as i32 + i as i32 - MAX_INTERVAL;
                if (0..128).contains(&p) && key.degree(p as u8) as u16 == d {
                    Some(p as u8)
                } else {
                    None
                }
            }
            Viewpoint::TonicPitch => {
                let minor = sym as usize >= N_TONIC_PITCH;
                if minor != (key.mode == Mode::Minor) {
                    return None;
                }
                let p =
                    (sym as usize % N_TONIC_PITCH) as i32 - TONIC_OFFSET + (key.tonic % 12) as i32;
                (0..128).contains(&p).then_some(p as u8)
            }
            Viewpoint::Rhythm => ((sym as usize) < N_RHYTHM).then_some(sym as u8),
            Viewpoint::RhythmPhase => {
                let (r, ph) = (sym / N_PHASE as u16, sym % N_PHASE as u16);
                ((r as usize) < N_RHYTHM && ph == next_phase as u16).then_some(r as u8)
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Viewpoint::Pitch => "pitch",
            Viewpoint::Interval => "interval",
            Viewpoint::IntervalDegree => "interval x degree",
            Viewpoint::TonicPitch => "pitch above tonic",
            Viewpoint::Rhythm => "rhythm",
            Viewpoint::RhythmPhase => "rhythm x phase",
        }
    }
}

fn interval(from: u8, to: u8) -> Option<u16> {
    let i = to as i32 - from as i32;
    (i.abs() <= MAX_INTERVAL).then_some((i + MAX_INTERVAL) as u16)
}

/// A melody seen through every viewpoint at once, extended one event at a time.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub key: KeySignature,
    pub events: Vec<Event>,
    /// `symbols[v.index()][i]`: viewpoint `v`'s symbol for event `i`.
    pub symbols: [Vec<u16>; 6],
    /// Onset phase of the event to be predicted next (set by `push`, overridable by evaluators who
    /// know the true onset).
    pub next_phase: u8,
}

impl History {
    pub fn new(key: KeySignature) -> Self {
        Self {
            key,
            ..Default::default()
        }
    }

    pub fn with_capacity(key: KeySignature, n: usize) -> Self {
        let mut h = Self::new(key);
        h.events.reserve(n);
        for s in &mut h.symbols {
            s.reserve(n);
        }
        h
    }

    pub fn clear(&mut self, key: KeySignature) {
        self.key = key;
        self.events.clear();
        for s in &mut self.symbols {
            s.clear();
        }
        self.next_phase = 0;
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn last(&self) -> Option<&Event> {
        self.events.last()
    }

    /// The symbol `event` would have under `v` if it came next.
    pub fn symbol_of_next(&self, v: Viewpoint, event: &Event) -> u16 {
        v.symbol(self.events.last(), event, self.key)
    }

    pub fn push(&mut self, event: Event) {
        for v in Viewpoint::ALL {
            let s = v.symbol(self.events.last(), &event, self.key);
            self.symbols[v.index()].push(s);
        }
        self.events.push(event);
        self.next_phase = super::note::next_phase(event.phase, event.rhythm);
    }

    /// Removes the newest event (used by the sampler to back up).
    pub fn pop(&mut self) {
        if self.events.pop().is_some() {
            for s in &mut self.symbols {
                s.pop();
            }
        }
    }

    pub fn truncate(&mut self, n: usize) {
        self.events.truncate(n);
        for s in &mut self.symbols {
            s.truncate(n);
        }
        if let Some(e) = self.events.last() {
            self.next_phase = super::note::next_phase(e.phase, e.rhythm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_round_trip_to_targets() {
        let keys = [
            KeySignature {
                tonic: 0,
                mode: Mode::Major,
            },
            KeySignature {
                tonic: 9,
                mode: Mode::Minor,
            },
            KeySignature {
                tonic: 11,
                mode: Mode::Major,
            },
        ];
        let prev = Event {
            pitch: 62,
            rhythm: 5,
            phase: 0,
        };
        for key in keys {
            for pitch in 38..=86u8 {
                let e = Event {
                    pitch,
                    rhythm: 3,
                    phase: 6,
                };
                for v in Viewpoint::ALL {
                    let s = v.symbol(Some(&prev), &e, key);
                    assert!((s as usize) < v.alphabet(), "{v:?}");
                    let want = match v.target() {
                        Target::Pitch => pitch,
                        Target::Rhythm => 3,
                    };
                    assert_eq!(
                        v.target_of(s, Some(&prev), 6, key),
                        Some(want),
                        "{v:?} {key:?} {pitch}"
                    );
                }
            }
        }
        assert_eq!(Viewpoint::Interval.symbol(None, &prev, keys[0]), UNDEFINED);
        assert_eq!(
            Viewpoint::RhythmPhase.target_of(5 * 12 + 3, None, 0, keys[0]),
            None
        );
    }
}
