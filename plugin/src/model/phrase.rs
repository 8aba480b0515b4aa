//! Phrasing an answer: how long the call's last phrase was, whether it began with a pickup, and
//! the bar layout of an answer that spans whole bars and closes on a strong beat.
//!
//! The rule for the call's last phrase: walking back from the newest note, a phrase boundary is a
//! long note or a rest — an inter-onset interval of at least one beat and at least twice the
//! call's median one. The last phrase starts after the newest boundary that leaves it at least
//! [`MIN_PHRASE_BEATS`] long (else at the oldest note of the context). Its span, first onset to
//! last note's end, rounded to whole bars (at least 1 — 2 in a meter whose bar has no middle,
//! where the close takes the whole last bar — at most [`MAX_BARS`]), is the answer's length. It
//! began with a pickup when its first note falls at most [`MAX_PICKUP_BEATS`] before a bar line,
//! off the bar line.
//!
//! The answer's layout, in units of 1/24 beat (every rhythm class is a whole number of them):
//! it starts where the playback will start it (the call's end plus the gap, on the grid); it
//! waits for the upbeat when the call had a pickup; its body runs from the next bar line for the
//! planned bars (from its own bar line when it starts within a bar's first beat), and its last
//! note starts on the last strong beat (the bar's middle where its meter has one — beat 3 of 4/4,
//! the fourth eighth of 6/8 — the bar line otherwise, as in 3/4) and lasts to the end of the last
//! bar. Bars are the host's ([`Meter`]; 4/4 when it gives no time signature).

use super::note::{N_RHYTHM, RHYTHM_BEATS};
use super::{Note, PhraseLength, SamplerSettings};
use crate::meter::Meter;

/// Units of time the layout counts in, per beat.
pub const UNITS_PER_BEAT: u32 = 24;
/// An answer spans at most this many bars.
pub const MAX_BARS: u8 = 16;
/// An answer in a meter whose bar has no middle spans at least this many bars (see [`plan`]).
pub const MIN_BARS_WITHOUT_MIDDLE: u8 = 2;
/// A call phrase shorter than this (beats) is joined with the one before it.
pub const MIN_PHRASE_BEATS: f64 = 2.0;
/// An upbeat longer than this (beats) is not a pickup.
pub const MAX_PICKUP_BEATS: f64 = 1.5;
/// A time this little (beats) after a grid line counts as on it, when the caller knows no
/// sample clock (the model thread passes one and a half samples at the tempo: the call's times
/// are whole samples, and the playback counts a sample after a line as on it). 1e-4 beat is
/// 0.6 samples at 174 bpm and 48 kHz.
pub const LINE_TOLERANCE_BEATS: f64 = 1e-4;

/// The first line of a `grid` (beats; 0 = none) at or after `beat`, a time within `tolerance`
/// beats after a line counting as on it — as the playback places an answer.
pub fn next_line(beat: f64, grid: f64, tolerance: f64) -> f64 {
    if grid > 0.0 && grid.is_finite() {
        ((beat - tolerance.max(0.0)) / grid).ceil() * grid
    } else {
        beat
    }
}

/// The rhythm classes (bit `c` for class `c`) an answer on a `grid` (beats; 0 = none) may draw:
/// those a whole number of grid steps long, so every onset stays on a line and no two notes are
/// quantised onto one. Every class when there is no grid (or no class fits it).
pub fn grid_classes(grid: f64) -> u64 {
    let all = (1u64 << N_RHYTHM) - 1;
    if !(grid > 0.0 && grid.is_finite()) {
        return all;
    }
    let mut mask = 0;
    for (c, &beats) in RHYTHM_BEATS.iter().enumerate() {
        let steps = beats / grid;
        if steps >= 1.0 - 1e-9 && (steps - steps.round()).abs() < 1e-9 {
            mask |= 1 << c;
        }
    }
    if mask == 0 {
        all
    } else {
        mask
    }
}

/// Where a planned answer falls in the bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarPlan {
    /// Where the answer's first possible onset falls in its bar, beats after the bar line.
    pub start_in_bar: f64,
    /// Beats in a bar.
    pub beats_per_bar: f64,
    /// The bar's second strong position (beats after its line), where its meter has one
    /// ([`Meter::middle`]): the answer closes there in its last bar, else on the bar line.
    pub middle: Option<f64>,
    /// Bars from the first bar line of the answer to its end.
    pub bars: u8,
    /// The call's pickup (beats before the bar line; 0 = none): the answer starts with one too.
    pub pickup: f64,
}

/// A planned answer in units ([`UNITS_PER_BEAT`]) from the moment it may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The first note's onset (a rest before it, to start with a pickup).
    pub lead: u32,
    /// The closing note's onset: the last strong beat.
    pub close: u32,
    /// The end of the last bar.
    pub end: u32,
}

fn units(beats: f64) -> u32 {
    if beats.is_finite() && beats > 0.0 {
        (beats * UNITS_PER_BEAT as f64).round().min(1e6) as u32
    } else {
        0
    }
}

impl BarPlan {
    /// The layout of the answer (see the module's notes).
    pub fn layout(&self) -> Layout {
        let bar = units(self.beats_per_bar).max(UNITS_PER_BEAT);
        let to_bar_line = (bar - units(self.start_in_bar) % bar) % bar;
        let pickup = units(self.pickup).min(bar - 1);
        let bars = self.bars.clamp(1, MAX_BARS) as u32;
        let (lead, first_bar_line, body_bars) = if pickup > 0 {
            // Wait so that exactly the pickup comes before the bar line.
            let line = if to_bar_line >= pickup {
                to_bar_line
            } else {
                to_bar_line + bar
            };
            (line - pickup, line, bars)
        } else if to_bar_line * 4 > bar * 3 {
            // Started within the first beat of a bar: that bar counts as the first one.
            (0, to_bar_line, bars - 1)
        } else {
            (0, to_bar_line, bars)
        };
        let end = first_bar_line + body_bars * bar;
        let strong = match self.middle.map(units) {
            Some(m) if m > 0 && m < bar => bar - m,
            _ => bar,
        };
        let close = end.saturating_sub(strong).max(lead);
        Layout { lead, close, end }
    }
}

/// For each rhythm class, the class of `classes` (a mask as [`grid_classes`] gives) nearest to it
/// on a log scale: an answer on a grid plays a value off the grid as the nearest one on it (a
/// triplet eighth as a sixteenth on the 1/16 grid, an eighth as a quarter on the 1/4 grid), so
/// the grid changes the rhythm's values, not how busy it is.
pub fn nearest_classes(classes: u64) -> [u8; N_RHYTHM] {
    let mut map = [0u8; N_RHYTHM];
    for (c, m) in map.iter_mut().enumerate() {
        let l = RHYTHM_BEATS[c].log2();
        let mut best = (f64::INFINITY, c);
        for (k, &b) in RHYTHM_BEATS.iter().enumerate() {
            let d = (b.log2() - l).abs();
            if classes & (1 << k) != 0 && d < best.0 - 1e-12 {
                best = (d, k);
            }
        }
        *m = best.1 as u8;
    }
    map
}

/// `fillable[u]`: whether `u` units can be filled exactly with the rhythm classes of `classes`
/// (a mask as [`grid_classes`] gives; 0 units always can).
pub fn fillable_table(len: usize, classes: u64) -> Vec<bool> {
    let classes: Vec<usize> = RHYTHM_BEATS
        .iter()
        .enumerate()
        .filter(|&(c, _)| classes & (1 << c) != 0)
        .map(|(_, &b)| units(b) as usize)
        .filter(|&u| u > 0)
        .collect();
    let mut t = vec![false; len];
    if let Some(z) = t.first_mut() {
        *z = true;
    }
    for u in 1..len {
        t[u] = classes.iter().any(|&c| c <= u && t[u - c]);
    }
    t
}

/// The notes of the call's last phrase (see the module's notes for the rule).
pub fn last_phrase(call: &[Note]) -> &[Note] {
    if call.len() < 2 {
        return call;
    }
    let mut iois: Vec<f64> = call.windows(2).map(|w| w[1].onset - w[0].onset).collect();
    let long = {
        iois.sort_by(f64::total_cmp);
        (2.0 * iois[iois.len() / 2]).max(1.0)
    };
    let last = call[call.len() - 1];
    for i in (1..call.len()).rev() {
        let ioi = call[i].onset - call[i - 1].onset;
        if ioi >= long - 1e-9 && last.onset + last.duration - call[i].onset >= MIN_PHRASE_BEATS {
            return &call[i..];
        }
    }
    call
}

/// The whole bars a phrase spans, first onset to last end (1..=[`MAX_BARS`]).
pub fn bars_of(phrase: &[Note], beats_per_bar: f64) -> u8 {
    let beats_per_bar = beats_per_bar.max(0.25);
    let (Some(first), Some(last)) = (phrase.first(), phrase.last()) else {
        return 1;
    };
    let span = last.onset + last.duration.max(0.0) - first.onset;
    let bars = (span / beats_per_bar).round();
    if bars.is_finite() {
        bars.clamp(1.0, MAX_BARS as f64) as u8
    } else {
        1
    }
}

/// The pickup (beats before the bar line of `meter`) a phrase starts with, 0 when it starts on
/// or well before a bar line, or when nothing of it falls after that bar line.
pub fn pickup_of(phrase: &[Note], meter: &Meter) -> f64 {
    let Some(first) = phrase.first() else {
        return 0.0;
    };
    let in_bar = meter.in_bar(first.onset);
    let before = meter.bar() - in_bar;
    let crosses = phrase
        .iter()
        .any(|n| n.onset >= first.onset + before - 1e-6);
    if in_bar > 1e-6 && before <= MAX_PICKUP_BEATS + 1e-9 && crosses {
        before
    } else {
        0.0
    }
}

/// The bar plan of an answer to `call` (onsets in beats, in the bars of `settings.meter`), or
/// `None` when the settings ask for a length in notes or there is no call. The answer starts on
/// the first grid line after the call's end and the gap, a time within `tolerance` beats after a
/// line counting as on it (see [`LINE_TOLERANCE_BEATS`]); a pickup is a whole number of grid
/// steps.
pub fn plan(call: &[Note], settings: &SamplerSettings, tolerance: f64) -> Option<BarPlan> {
    let last = call.last()?;
    let meter = settings.meter;
    let bar = meter.bar();
    let phrase = last_phrase(call);
    let bars = match settings.phrase {
        PhraseLength::Notes => return None,
        PhraseLength::Bars(n) => n.clamp(1, MAX_BARS),
        PhraseLength::FollowCall => bars_of(phrase, bar),
    };
    // Where the bar has no middle (3/4, 2/4, 6/8's cousins 9/8 and 7/8) the close takes the
    // whole last bar: an answer of one such bar would be its close alone.
    let bars = if meter.middle().is_none() {
        bars.max(MIN_BARS_WITHOUT_MIDDLE)
    } else {
        bars
    };
    let start = next_line(
        last.onset + last.duration.max(0.0) + settings.gap_beats.max(0.0),
        settings.grid_beats,
        tolerance,
    );
    if !start.is_finite() {
        return None;
    }
    let g = settings.grid_beats;
    let mut pickup = pickup_of(phrase, &meter);
    if g > 0.0 && g.is_finite() {
        pickup = (pickup / g).round() * g;
    }
    Some(BarPlan {
        start_in_bar: meter.in_bar(start),
        beats_per_bar: bar,
        middle: meter.middle(),
        bars,
        pickup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(onset: f64, duration: f64) -> Note {
        Note {
            pitch: 60,
            onset,
            duration,
            velocity: 90,
        }
    }

    #[test]
    fn the_last_phrase_starts_after_a_long_note_or_a_rest() {
        // Two bars of quarters, a half note (a long note), then a bar and a half of eighths.
        let mut call: Vec<Note> = (0..6).map(|i| note(i as f64, 0.9)).collect();
        call.push(note(6.0, 1.9));
        call.extend((0..12).map(|i| note(8.0 + 0.5 * i as f64, 0.45)));
        let phrase = last_phrase(&call);
        assert_eq!(phrase.len(), 12);
        assert_eq!(phrase[0].onset, 8.0);
        assert_eq!(bars_of(phrase, 4.0), 1, "5.95 beats round to 1 bar");
        assert_eq!(pickup_of(phrase, &Meter::COMMON), 0.0);
        // Without the long note: one phrase of 4 bars.
        let even: Vec<Note> = (0..16).map(|i| note(i as f64, 0.9)).collect();
        assert_eq!(last_phrase(&even).len(), 16);
        assert_eq!(bars_of(&even, 4.0), 4);
    }

    #[test]
    fn a_pickup_is_an_upbeat_just_before_the_bar_line() {
        let upbeat: Vec<Note> = [3.0, 3.5, 4.0, 5.0, 6.0].map(|o| note(o, 0.4)).to_vec();
        assert_eq!(pickup_of(&upbeat, &Meter::COMMON), 1.0);
        let downbeat: Vec<Note> = [4.0, 5.0, 6.0].map(|o| note(o, 0.9)).to_vec();
        assert_eq!(pickup_of(&downbeat, &Meter::COMMON), 0.0);
        let mid_bar: Vec<Note> = [2.0, 3.0, 4.0].map(|o| note(o, 0.9)).to_vec();
        assert_eq!(
            pickup_of(&mid_bar, &Meter::COMMON),
            0.0,
            "two beats before is no pickup"
        );
    }

    #[test]
    fn layouts_close_on_the_last_strong_beat_of_the_last_bar() {
        let plan = |start_in_bar, bars, pickup| BarPlan {
            start_in_bar,
            beats_per_bar: 4.0,
            middle: Some(2.0),
            bars,
            pickup,
        };
        let u = UNITS_PER_BEAT;
        // From a bar line, two bars: the close is on beat 3 of bar 2.
        assert_eq!(
            plan(0.0, 2, 0.0).layout(),
            Layout {
                lead: 0,
                close: 6 * u,
                end: 8 * u
            }
        );
        // Within beat 1: that bar counts as the first.
        assert_eq!(plan(0.5, 2, 0.0).layout().end, 7 * u + u / 2);
        // From beat 2: an upbeat bar, then two whole bars.
        assert_eq!(plan(1.0, 2, 0.0).layout().end, 11 * u);
        // From beat 4: an upbeat, then two whole bars.
        assert_eq!(plan(3.0, 2, 0.0).layout().end, 9 * u);
        // A one-beat pickup wanted, starting on beat 2: wait two beats.
        let l = plan(1.0, 2, 1.0).layout();
        assert_eq!((l.lead, l.end), (2 * u, 11 * u));
        // A pickup wanted, starting on a bar line: wait three beats.
        assert_eq!(plan(0.0, 1, 1.0).layout().lead, 3 * u);
    }

    /// Bars follow the host's meter: in 3/4 an answer spans whole 3-beat bars and closes on the
    /// last bar's downbeat; in 6/8 on its fourth eighth; a bar line off beat 0 moves the layout.
    #[test]
    fn plans_follow_the_meter() {
        let meter = |text: &str, origin: f64| Meter {
            origin,
            ..Meter::parse(text).unwrap()
        };
        let settings = |m: Meter| SamplerSettings {
            phrase: PhraseLength::FollowCall,
            meter: m,
            gap_beats: 0.1,
            ..Default::default()
        };
        let u = UNITS_PER_BEAT;
        // Two bars of 3/4 in quarters, from a bar line at beat 0: the answer starts on beat 6
        // (a bar line, after a tenth of a beat's gap), spans 2 bars and closes on the downbeat
        // of its second bar.
        let waltz: Vec<Note> = (0..6).map(|i| note(i as f64, 0.9)).collect();
        let p = plan(&waltz, &settings(meter("3/4", 0.0)), 1e-4).unwrap();
        assert_eq!((p.beats_per_bar, p.bars, p.start_in_bar), (3.0, 2, 0.0));
        assert_eq!(
            p.layout(),
            Layout {
                lead: 0,
                close: 3 * u,
                end: 6 * u
            }
        );
        // The same six quarters in 4/4 round to one bar, closing on beat 3.
        let p44 = plan(&waltz, &settings(Meter::COMMON), 1e-4).unwrap();
        assert_eq!(p44.bars, 1);
        assert_eq!(p44.layout().end - p44.layout().close, 2 * u);
        // 6/8: two bars of dotted quarters close on the last bar's fourth eighth.
        let jig: Vec<Note> = (0..4).map(|i| note(1.5 * i as f64, 1.4)).collect();
        let p68 = plan(&jig, &settings(meter("6/8", 0.0)), 1e-4).unwrap();
        assert_eq!((p68.bars, p68.middle), (2, Some(1.5)));
        let l = p68.layout();
        assert_eq!((l.close, l.end), (4 * u + u / 2, 6 * u));
        // A 3/4 bar line at beat 1: the call from beat 1 ends on beat 7, a bar line.
        let shifted: Vec<Note> = (1..7).map(|i| note(i as f64, 0.9)).collect();
        let ps = plan(&shifted, &settings(meter("3/4", 1.0)), 1e-4).unwrap();
        assert_eq!((ps.start_in_bar, ps.bars), (0.0, 2));
        // A one-bar call in 3/4 gets two bars: one bar would hold the close alone.
        let one_bar: Vec<Note> = (0..3).map(|i| note(i as f64, 0.9)).collect();
        assert_eq!(
            plan(&one_bar, &settings(meter("3/4", 0.0)), 1e-4)
                .unwrap()
                .bars,
            2
        );
        assert_eq!(
            plan(&one_bar, &settings(Meter::COMMON), 1e-4).unwrap().bars,
            1
        );
        // And an upbeat before that bar line is a pickup.
        assert_eq!(pickup_of(&shifted[..], &meter("3/4", 2.0)), 1.0);
    }

    #[test]
    fn every_layout_span_can_be_filled_with_rhythm_classes() {
        let t = fillable_table(200, grid_classes(0.0));
        assert!(t[0] && t[3] && t[4] && t[6] && t[7]);
        assert!(
            !t[1] && !t[2] && !t[5],
            "1/24, 1/12 and 5/24 beat cannot be played"
        );
        assert!(
            t[8..].iter().all(|&f| f),
            "from 1/3 beat on, every length can"
        );
        // On the 1/16 grid only whole sixteenths (6 units) can.
        let t = fillable_table(200, grid_classes(0.25));
        assert!((0..200).all(|u| t[u] == u.is_multiple_of(6)));
    }

    /// Host test `call_response` at 174 bpm: the call's stamps are whole samples, a fraction of
    /// a sample off the beats, and the plan moved the answer a grid line later than the playback
    /// starts it, so its bars were laid out a sixteenth off. Within the tolerance, a call end a
    /// hair after a line plans the same answer as one exactly on it; a real sixteenth later does
    /// not.
    #[test]
    fn a_call_a_fraction_of_a_sample_off_the_beat_plans_the_same_answer() {
        let s = SamplerSettings {
            phrase: PhraseLength::FollowCall,
            ..Default::default()
        };
        let exact: Vec<Note> = (0..8).map(|i| note(1.0 + 0.5 * i as f64, 0.25)).collect();
        // 174 bpm at 48 kHz: a sample is 6.0e-5 beat; stamps are off by up to half of one.
        let stamped: Vec<Note> = exact
            .iter()
            .map(|n| note(n.onset + 2.5e-5, n.duration + 4e-6))
            .collect();
        let tolerance = 1.5 * 174.0 / 60.0 / 48_000.0;
        assert_eq!(plan(&stamped, &s, tolerance), plan(&exact, &s, tolerance));
        assert_eq!(
            plan(&stamped, &s, LINE_TOLERANCE_BEATS),
            plan(&exact, &s, tolerance)
        );
        let late: Vec<Note> = exact.iter().map(|n| note(n.onset + 0.25, 0.25)).collect();
        assert_ne!(plan(&late, &s, tolerance), plan(&exact, &s, tolerance));
        assert_eq!(next_line(5.75 + 9e-5, 0.25, tolerance), 5.75);
        assert_eq!(next_line(5.75 + 2e-4, 0.25, tolerance), 6.0);
        assert_eq!(next_line(5.7, 0.0, tolerance), 5.7);
    }

    #[test]
    fn on_a_grid_only_whole_steps_are_drawn() {
        let g16 = grid_classes(0.25);
        for (c, &b) in RHYTHM_BEATS.iter().enumerate() {
            let whole = (b * 4.0 - (b * 4.0).round()).abs() < 1e-9 && b >= 0.25;
            assert_eq!(g16 & (1 << c) != 0, whole, "{b} beats on the 1/16 grid");
        }
        assert_eq!(grid_classes(0.0).count_ones() as usize, N_RHYTHM);
        assert!(
            grid_classes(1.0 / 3.0) & (1 << 3) != 0,
            "a triplet eighth on 1/8T"
        );
        assert_eq!(
            grid_classes(100.0).count_ones() as usize,
            N_RHYTHM,
            "none fits: all"
        );
        let on_16 = nearest_classes(g16);
        let class = |b: f64| RHYTHM_BEATS.iter().position(|&x| x == b).unwrap();
        assert_eq!(on_16[class(1.0 / 6.0)] as usize, class(0.25));
        assert_eq!(on_16[class(0.125)] as usize, class(0.25));
        assert_eq!(on_16[class(0.375)] as usize, class(0.5));
        assert_eq!(on_16[class(0.5)] as usize, class(0.5));
        let on_4 = nearest_classes(grid_classes(1.0));
        assert_eq!(on_4[class(0.5)] as usize, class(1.0), "eighths as quarters");
        assert_eq!(on_4[class(1.5)] as usize, class(2.0));
    }

    #[test]
    fn plan_follows_the_call_or_the_bars_asked_for() {
        let call: Vec<Note> = (0..16).map(|i| note(0.5 * i as f64, 0.45)).collect();
        let mut s = SamplerSettings {
            phrase: PhraseLength::FollowCall,
            ..Default::default()
        };
        let p = plan(&call, &s, LINE_TOLERANCE_BEATS).expect("a plan");
        assert_eq!(p.bars, 2);
        // The call ends at 7.95; a one-beat gap and the 1/16 grid start the answer at beat 9.
        assert!((p.start_in_bar - 1.0).abs() < 1e-9, "{p:?}");
        s.phrase = PhraseLength::Bars(3);
        assert_eq!(
            plan(&call, &s, LINE_TOLERANCE_BEATS).map(|p| p.bars),
            Some(3)
        );
        s.phrase = PhraseLength::Notes;
        assert_eq!(plan(&call, &s, LINE_TOLERANCE_BEATS), None);
        assert_eq!(
            plan(&[], &SamplerSettings::default(), LINE_TOLERANCE_BEATS),
            None
        );
    }
}
