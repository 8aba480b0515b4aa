//! AUDIO THREAD: the live chord voice (*Harmony* = *Chords under me*).
//!
//! The model thread's causal harmoniser sends, before each beat, a table of chords for it: one
//! per pitch class the player may be sounding when it starts, and one for silence
//! ([`LiveChords`]). On every beat of the audio thread's clock the accompanist settles what the
//! player sounds: the highest key held at the beat, or, when none is held, the first note that
//! starts within [`LATE_NOTE_S`] after it (a note played a little late, or detected with the
//! analyser's latency), or silence when none does. On a change of the harmonic rhythm (every
//! bar, half bar or beat) it plays that option's chord on the chord channel at once — the same
//! chord keeps sounding, a new one replaces it, "no chord" over a rest holds it — and tells the model thread what it heard and
//! played ([`BeatNews`]). A bar without a note from the player ends the chord.
//!
//! Nothing here allocates: tables arrive as `Copy` values; events go into the [`EventQueue`].

use crate::bridge::{BeatNews, ChordVoicing, LiveChords, LIVE_TABLE_SLACK};
use crate::playback::{Clock, EventQueue, Voice};

/// How long after a beat a note starting still counts as sounding on it (seconds; at most a
/// quarter of a beat).
pub const LATE_NOTE_S: f64 = 0.05;
/// Beats without a player note after which the chord ends.
pub const SILENT_BEATS: f64 = 4.0;
/// Most beats one call handles (a block at 1000 bpm is far shorter); the rest are skipped.
const MAX_BEATS_PER_CALL: usize = 64;

/// The accompanist's settings for a block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveSettings {
    /// Chords under me is on (and the plugin not bypassed).
    pub on: bool,
    /// Beats between chord changes (1 to a bar's whole beats).
    pub rhythm: u32,
    /// A whole beat of the clock on which a bar starts: changes fall on `bar_beat + k × rhythm`,
    /// so a bar's chord starts on its bar line in any meter.
    pub bar_beat: i64,
    /// Chord channel, 0..15.
    pub channel: u8,
    /// Chord velocity (the player's recent velocity times the chord level), 0..1.
    pub velocity: f32,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            on: false,
            rhythm: 2,
            bar_beat: 0,
            channel: 1,
            velocity: 0.5,
        }
    }
}

/// A beat waiting for the player's note.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pending {
    beat: i64,
    /// Stream sample after which it is settled as silent.
    deadline: u64,
}

/// The live chord voice's state.
#[derive(Debug, Clone, Default)]
pub struct Accompanist {
    /// The newest table from the model thread.
    table: Option<LiveChords>,
    /// The next beat of the clock to settle; `None` until the first call (or after a reset or a
    /// jump of the clock).
    next_beat: Option<i64>,
    /// A beat that came with no key held, waiting for a late note.
    pending: Option<Pending>,
    /// The chord sounding now and its channel.
    sounding: Option<(ChordVoicing, u8)>,
    /// Stream sample of the player's last note start.
    last_player_on: Option<u64>,
    /// Where the accompanist has got to (stream samples).
    now: u64,
}

impl Accompanist {
    /// A new table from the model thread replaces the old one.
    pub fn set_table(&mut self, table: LiveChords) {
        self.table = Some(table);
    }

    /// Forgets the clock and the player (the stream restarts). Sounding notes are the caller's
    /// to release ([`Accompanist::silence`] first).
    pub fn reset(&mut self) {
        let table = self.table.take();
        *self = Self::default();
        self.table = table;
    }

    /// Whether a chord sounds.
    pub fn is_sounding(&self) -> bool {
        self.sounding.is_some()
    }

    /// Ends the sounding chord at block offset `at` (mode or channel change, transport stop,
    /// bypass) and forgets the pending beat and the player's last note: no chord starts again
    /// until the player plays.
    pub fn silence(&mut self, at: u32, out: &mut EventQueue) {
        if let Some((chord, channel)) = self.sounding.take() {
            for &p in chord.notes() {
                out.note_off(at, channel, p, Voice::Chord);
            }
        }
        self.pending = None;
        self.next_beat = None;
        self.last_player_on = None;
    }

    /// Settles every beat before stream sample `t`; `held_top` is the highest key the player
    /// holds over `[now, t)` (it only changes at player notes, which come through
    /// [`Accompanist::player_note_on`] and a call here first).
    pub fn advance_to(
        &mut self,
        t: u64,
        held_top: Option<u8>,
        clock: &Clock,
        s: &LiveSettings,
        out: &mut EventQueue,
        news: &mut impl FnMut(BeatNews),
    ) {
        let t = t.max(self.now);
        if !s.on {
            self.now = t;
            return;
        }
        let spb = clock.samples_per_beat();
        let beat_now = clock.beat_at(self.now.max(clock.start));
        // First call, or the clock jumped (transport relocated or looped): start from the next
        // beat without settling the ones skipped.
        let next = match self.next_beat {
            Some(n) if (n as f64) > beat_now - 1.0 && (n as f64) <= beat_now + 2.0 => n,
            _ => {
                self.pending = None;
                beat_now.floor() as i64 + 1
            }
        };
        self.next_beat = Some(next);
        for _ in 0..MAX_BEATS_PER_CALL {
            let next = self.next_beat.unwrap_or(next);
            let crossing = sample_at_beat(clock, next as f64);
            let deadline = self.pending.map(|p| p.deadline);
            match deadline {
                Some(d) if d < t && d <= crossing => {
                    let p = self.pending.take().expect("checked");
                    self.settle(p.beat, None, d, clock, s, out, news);
                }
                _ if crossing < t => {
                    if let Some(p) = self.pending.take() {
                        self.settle(p.beat, None, crossing, clock, s, out, news);
                    }
                    match held_top {
                        Some(key) => {
                            self.settle(next, Some(key % 12), crossing, clock, s, out, news)
                        }
                        None => {
                            let late = (LATE_NOTE_S * clock.sample_rate).min(spb / 4.0);
                            self.pending = Some(Pending {
                                beat: next,
                                deadline: crossing + late.max(1.0) as u64,
                            });
                        }
                    }
                    self.next_beat = Some(next + 1);
                }
                _ => break,
            }
        }
        self.now = t;
    }

    /// A player note starts at `t` (after [`Accompanist::advance_to`]`(t)`): a beat waiting
    /// for a note is settled with it.
    pub fn player_note_on(
        &mut self,
        t: u64,
        pitch: u8,
        clock: &Clock,
        s: &LiveSettings,
        out: &mut EventQueue,
        news: &mut impl FnMut(BeatNews),
    ) {
        self.last_player_on = Some(t);
        if !s.on {
            return;
        }
        if let Some(p) = self.pending.take() {
            self.settle(p.beat, Some(pitch % 12), t, clock, s, out, news);
        }
    }

    /// Settles beat `beat` at stream sample `at` with the pitch class the player sounds.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        beat: i64,
        on_beat: Option<u8>,
        at: u64,
        clock: &Clock,
        s: &LiveSettings,
        out: &mut EventQueue,
        news: &mut impl FnMut(BeatNews),
    ) {
        let time = offset(at, clock);
        let silent_for = (SILENT_BEATS * clock.samples_per_beat()) as u64;
        let active = on_beat.is_some()
            || self
                .last_player_on
                .is_some_and(|p| at.saturating_sub(p) < silent_for);
        let mut report = BeatNews {
            beat,
            on_beat,
            started: None,
            silenced: false,
            at: clock.stamp(at),
        };
        if !active {
            if self.sounding.is_some() {
                self.silence(time, out);
                self.next_beat = Some(beat + 1);
                report.silenced = true;
                news(report);
            }
            return;
        }
        let change =
            (beat - s.bar_beat).rem_euclid(s.rhythm.max(1) as i64) == 0 || self.sounding.is_none();
        let table = self
            .table
            .filter(|tb| (0..=LIVE_TABLE_SLACK).contains(&(beat - tb.beat)));
        if let (true, Some(table)) = (change, table) {
            let chord = table.options[on_beat.map_or(12, |pc| (pc % 12) as usize)];
            // "No chord" over a rest holds the chord that sounds (the player only breathed);
            // over a note it ends it (no chord fits).
            let hold = chord.len == 0 && on_beat.is_none() && self.sounding.is_some();
            let same = hold
                || self
                    .sounding
                    .is_some_and(|(c, ch)| ch == s.channel & 15 && c.notes() == chord.notes());
            if !same {
                if let Some((old, ch)) = self.sounding.take() {
                    for &p in old.notes() {
                        out.note_off(time, ch, p, Voice::Chord);
                    }
                }
                if chord.len > 0 {
                    for &p in chord.notes() {
                        out.note_on(time, s.channel & 15, p, s.velocity, Voice::Chord);
                    }
                    self.sounding = Some((chord, s.channel & 15));
                }
                report.started = Some(chord);
            }
        }
        news(report);
    }
}

/// The stream sample where the clock reaches `beat` (rounded; never before the block).
fn sample_at_beat(clock: &Clock, beat: f64) -> u64 {
    let s = clock.start as f64 + (beat - clock.beat_at_start) * clock.samples_per_beat();
    if s.is_finite() && s > clock.start as f64 {
        s.round() as u64
    } else {
        clock.start
    }
}

/// Position of stream sample `t` inside the block, clamped to it.
fn offset(t: u64, clock: &Clock) -> u32 {
    let max = clock.len.saturating_sub(1) as u64;
    t.saturating_sub(clock.start).min(max) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playback::OutKind;

    const SR: f64 = 48_000.0;
    /// 120 bpm: a beat is 24 000 samples.
    const BEAT: u64 = 24_000;

    fn voicing(chord: u8, notes: &[u8]) -> ChordVoicing {
        let mut v = ChordVoicing {
            chord,
            len: notes.len() as u8,
            ..Default::default()
        };
        v.notes[..notes.len()].copy_from_slice(notes);
        v
    }

    /// A table for `beat`: C major (C E G) for C, E, G and silence; F (F A C) for F and A.
    fn table(beat: i64) -> LiveChords {
        let c = voicing(1, &[48, 52, 55]);
        let f = voicing(51, &[53, 57, 60]);
        let mut options = [c; 13];
        options[5] = f;
        options[9] = f;
        LiveChords { beat, options }
    }

    /// Output events as `(absolute time, kind, channel, pitch)`.
    type Events = Vec<(u64, OutKind, u8, u8)>;

    /// Runs the accompanist over `total` samples in blocks of `block`, with player notes
    /// `(time, on, pitch)` and a table for every beat, and returns the output and the news.
    fn run(
        block: u64,
        player: &[(u64, bool, u8)],
        total: u64,
        s: LiveSettings,
    ) -> (Events, Vec<BeatNews>) {
        let mut a = Accompanist::default();
        let mut q = EventQueue::default();
        let mut out = vec![];
        let mut news = vec![];
        let mut held: Option<u8> = None;
        let mut start = 0;
        while start < total {
            let clock = Clock {
                start,
                len: block.min(total - start) as u32,
                sample_rate: SR,
                tempo: 120.0,
                beat_at_start: start as f64 / BEAT as f64,
            };
            q.clear();
            // The model thread's table, made during the beat before (for the beat under way).
            a.set_table(table((start / BEAT) as i64));
            let mut sink = |n: BeatNews| news.push(n);
            for &(t, on, pitch) in player.iter().filter(|p| p.0 >= start && p.0 < clock.end()) {
                a.advance_to(t, held, &clock, &s, &mut q, &mut sink);
                if on {
                    held = Some(pitch);
                    a.player_note_on(t, pitch, &clock, &s, &mut q, &mut sink);
                } else {
                    held = None;
                }
            }
            a.advance_to(clock.end(), held, &clock, &s, &mut q, &mut sink);
            for e in q.sorted() {
                out.push((start + e.time as u64, e.kind, e.channel, e.pitch));
            }
            start = clock.end();
        }
        (out, news)
    }

    fn settings() -> LiveSettings {
        LiveSettings {
            on: true,
            rhythm: 2,
            bar_beat: 0,
            channel: 1,
            velocity: 0.5,
        }
    }

    #[test]
    fn chords_change_on_the_rhythm_with_the_note_on_the_beat() {
        // C held from beat 0.5 to 2.5, then A from 2.5 to 5.
        let player = [
            (BEAT / 2, true, 60),
            (5 * BEAT / 2, false, 60),
            (5 * BEAT / 2, true, 69),
            (5 * BEAT, false, 69),
        ];
        let (reference, news) = run(64, &player, 6 * BEAT + 100, settings());
        let ons: Vec<(u64, u8, u8)> = reference
            .iter()
            .filter(|e| e.1 == OutKind::On)
            .map(|e| (e.0, e.2, e.3))
            .collect();
        // Beat 1: C held → C major (the first chord starts at once, off the rhythm); beat 2 (a
        // change): C held → C major again, kept; beat 4: A held → F.
        assert_eq!(
            ons,
            vec![
                (BEAT, 1, 48),
                (BEAT, 1, 52),
                (BEAT, 1, 55),
                (4 * BEAT, 1, 53),
                (4 * BEAT, 1, 57),
                (4 * BEAT, 1, 60),
            ]
        );
        assert!(news.iter().any(|n| n.beat == 4 && n.on_beat == Some(9)));
        for block in [1, 100, 4096, 20_000] {
            assert_eq!(
                run(block, &player, 6 * BEAT + 100, settings()).0,
                reference,
                "{block}"
            );
        }
    }

    /// The harmonic rhythm counts from the host's bar lines: in 3/4 with bars at beats 1, 4, 7
    /// the chord under A (from beat 2.5) changes on beat 4, with bars at 0, 3, 6 on beat 3.
    #[test]
    fn chord_changes_fall_on_the_bars_of_the_meter() {
        let player = [
            (BEAT / 2, true, 60),
            (5 * BEAT / 2, false, 60),
            (5 * BEAT / 2, true, 69),
            (6 * BEAT, false, 69),
        ];
        let f_at = |bar_beat: i64| {
            let s = LiveSettings {
                rhythm: 3,
                bar_beat,
                ..settings()
            };
            run(64, &player, 7 * BEAT, s)
                .0
                .iter()
                .find(|e| e.1 == OutKind::On && e.3 == 53)
                .map(|e| e.0)
        };
        assert_eq!(f_at(0), Some(3 * BEAT));
        assert_eq!(f_at(1), Some(4 * BEAT));
        assert_eq!(
            f_at(-2),
            Some(4 * BEAT),
            "a bar line before the stream's start"
        );
    }

    #[test]
    fn a_late_note_settles_the_beat_and_silence_ends_the_chord() {
        // F starts 20 ms after beat 2 (nothing held at the beat): the chord is F's, at the note.
        let late = 2 * BEAT + 960;
        let player = [(late, true, 65), (late + 1000, false, 65)];
        let (out, news) = run(256, &player, 12 * BEAT, settings());
        assert_eq!(out[0], (late, OutKind::On, 1, 53), "{out:?}");
        assert_eq!(news[0].on_beat, Some(5));
        // Beat 4 (a change) comes in a rest: the rest's chord (C) replaces F once the late
        // window has passed; beat 6 is more than four beats after the note: the chord ends.
        let window = (LATE_NOTE_S * SR) as u64;
        let offs: Vec<u64> = out
            .iter()
            .filter(|e| e.1 == OutKind::Off)
            .map(|e| e.0)
            .collect();
        assert_eq!(
            offs,
            [[4 * BEAT + window; 3], [6 * BEAT + window; 3]].concat(),
            "{out:?}"
        );
        assert_eq!(out.iter().filter(|e| e.1 == OutKind::On).count(), 6);
        assert!(news.iter().any(|n| n.silenced && n.beat == 6));
        // A note 100 ms late is too late: the beat is settled as silent (C's chord), and the note
        // comes into the next beat.
        let player = [(2 * BEAT + 4800, true, 65)];
        let (out, _) = run(256, &player, 4 * BEAT, settings());
        assert_eq!(out[0].0, 3 * BEAT, "{out:?}");
    }

    /// "No chord" for a rest holds the chord that sounds; "no chord" for a note ends it.
    #[test]
    fn no_chord_over_a_rest_holds_over_a_note_ends() {
        let mut a = Accompanist::default();
        let mut q = EventQueue::default();
        let mut t = table(1);
        t.options[12] = ChordVoicing::default();
        t.options[2] = ChordVoicing::default(); // D: no chord
        let clock = Clock {
            start: 0,
            len: 6 * BEAT as u32,
            sample_rate: SR,
            tempo: 120.0,
            beat_at_start: 0.0,
        };
        let mut sink = |_n: BeatNews| {};
        let s = settings();
        a.set_table(t);
        a.advance_to(100, None, &clock, &s, &mut q, &mut sink);
        a.player_note_on(100, 60, &clock, &s, &mut q, &mut sink);
        // Beat 1: C held → C major.
        a.advance_to(BEAT + 10, Some(60), &clock, &s, &mut q, &mut sink);
        assert!(a.is_sounding());
        // Beat 2 (a change) in a rest: held.
        let mut t2 = t;
        t2.beat = 2;
        a.set_table(t2);
        a.advance_to(2 * BEAT + 4000, None, &clock, &s, &mut q, &mut sink);
        assert!(a.is_sounding(), "a rest holds the chord");
        // Beat 4 (a change) over a D: no chord fits, it ends.
        let mut t4 = t;
        t4.beat = 4;
        a.set_table(t4);
        a.advance_to(3 * BEAT + 100, None, &clock, &s, &mut q, &mut sink);
        a.player_note_on(3 * BEAT + 100, 62, &clock, &s, &mut q, &mut sink);
        a.advance_to(4 * BEAT + 10, Some(62), &clock, &s, &mut q, &mut sink);
        assert!(!a.is_sounding() && !q.voice_sounding(Voice::Chord));
    }

    #[test]
    fn silence_releases_and_off_plays_nothing() {
        let player = [(100, true, 60)];
        let mut s = settings();
        s.on = false;
        assert!(run(64, &player, 4 * BEAT, s).0.is_empty());
        let mut a = Accompanist::default();
        let mut q = EventQueue::default();
        let clock = Clock {
            start: 0,
            len: 2 * BEAT as u32,
            sample_rate: SR,
            tempo: 120.0,
            beat_at_start: 0.0,
        };
        a.set_table(table(1));
        let mut sink = |_n: BeatNews| {};
        a.advance_to(100, None, &clock, &settings(), &mut q, &mut sink);
        a.player_note_on(100, 60, &clock, &settings(), &mut q, &mut sink);
        a.advance_to(BEAT + 10, Some(60), &clock, &settings(), &mut q, &mut sink);
        assert!(a.is_sounding() && q.voice_sounding(Voice::Chord));
        a.silence(20, &mut q);
        assert!(!a.is_sounding() && !q.voice_sounding(Voice::Chord));
        // Silenced (a transport stop, say): no chord until the player plays again, even on the
        // next change of the harmonic rhythm with a recent note.
        let later = Clock {
            start: 2 * BEAT,
            len: 4 * BEAT as u32,
            beat_at_start: 2.0,
            ..clock
        };
        a.set_table(table(2));
        a.advance_to(6 * BEAT, None, &later, &settings(), &mut q, &mut sink);
        assert!(!a.is_sounding());
        // A stale table (older than the slack) plays nothing.
        let mut a = Accompanist::default();
        a.set_table(table(-10));
        a.advance_to(BEAT + 10, Some(60), &clock, &settings(), &mut q, &mut sink);
        assert!(!a.is_sounding());
    }
}
