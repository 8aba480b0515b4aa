//! MODEL THREAD, stage 5: how the drawn phrases are *played* — each note's sounding length
//! (articulation) and velocity (dynamics) — before [`super::send`] hands one to the audio thread,
//! so the editor draws what will be heard.
//!
//! The sampler gives every note its notated value (the time to the next onset) and one level. Here:
//! - **Articulation.** A note sounds a share of the time to the next note: *Staccato* 50 %,
//!   *Normal* 85 %, *Follow player* (the default) the median share of the player's recent notes
//!   (their sounding length over the time to their next note, rests left out), kept between 30 %
//!   and 95 %, so no note reaches the next; *Legato* lets each note overlap the next a little.
//! - **Dynamics.** A base level — the player's recent velocities (MIDI input velocities, or the
//!   level the audio analysis measured at each attack), the call's average, or a fixed velocity —
//!   shaped by a contour whose depth is the *Dynamics contour* parameter: accents by metrical
//!   position in the host's meter (the bar's downbeat most, then its middle, then the other
//!   pulses; off-beats softer: [`Meter::weight`]),
//!   and an arch over the phrase rising to its highest note (the climax) and falling to the close.

use super::Brain;
use crate::meter::Meter;
use crate::model::{Note, Phrase};
use crate::params::{Articulation, ContinuoParams, VelocitySource};

/// Share of the time to the next note a staccato note sounds.
const STACCATO: f64 = 0.5;
/// Share a normal (slightly detached) note sounds.
const NORMAL: f64 = 0.85;
/// The player's measured share is kept within these (the upper bound keeps a gap to the next
/// note: only *Legato* overlaps).
const FOLLOW_MIN: f64 = 0.3;
const FOLLOW_MAX: f64 = 0.95;
/// A legato note overlaps the next by this share of the time to it, at most [`LEGATO_MAX_BEATS`].
const LEGATO_OVERLAP: f64 = 0.1;
const LEGATO_MAX_BEATS: f64 = 1.0 / 16.0;
/// Player notes further apart than this (beats) are a rest, not an articulation.
const REST_BEATS: f64 = 2.0;
/// Player notes the articulation and the dynamics are measured on (newest).
pub const PLAYER_NOTES: usize = 16;
/// Notes measured before *Follow player* follows (until then: *Normal*, and the level 0.7).
const MIN_MEASURED: usize = 3;
/// Weight of the older note at each step of the player's recent level (the newest counts most).
const LEVEL_MEMORY: f64 = 0.7;
/// Velocity units (of 127) a full-depth contour adds at a downbeat accent and at the climax.
const ACCENT_UNITS: f64 = 12.0;
const ARCH_UNITS: f64 = 16.0;

/// How the phrases of one draw are played (measured once, applied to every candidate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Performance {
    /// Share of the time to the next note that a note sounds (non-legato).
    pub share: f64,
    /// Notes overlap the next a little (the audio thread then keeps the overlaps).
    pub legato: bool,
    /// Base velocity, 1..127.
    pub level: f64,
    /// Contour depth, 0..1.
    pub depth: f64,
    /// Where in the bar the answer is expected to start (beats, 0 = downbeat).
    pub start_in_bar: f64,
    /// The bar the accents follow (its bar line taken as `start_in_bar`'s zero).
    pub meter: Meter,
}

impl Default for Performance {
    fn default() -> Self {
        Self {
            share: NORMAL,
            legato: false,
            level: 90.0,
            depth: 0.5,
            start_in_bar: 0.0,
            meter: Meter::COMMON,
        }
    }
}

/// The median share of the time to the next note the player's `notes` sound (oldest first),
/// over pairs closer than a rest; `None` with fewer than [`MIN_MEASURED`] pairs.
pub fn player_articulation(notes: &[Note]) -> Option<f64> {
    let mut shares: Vec<f64> = notes
        .windows(2)
        .filter_map(|w| {
            let ioi = w[1].onset - w[0].onset;
            (ioi > 1e-6 && ioi <= REST_BEATS).then(|| (w[0].duration / ioi).clamp(0.0, 2.0))
        })
        .collect();
    if shares.len() < MIN_MEASURED {
        return None;
    }
    shares.sort_by(f64::total_cmp);
    let m = shares.len() / 2;
    Some(if shares.len() % 2 == 1 {
        shares[m]
    } else {
        0.5 * (shares[m - 1] + shares[m])
    })
}

/// The player's recent level (velocity 1..127): newest notes count most; `None` without notes.
pub fn player_level(notes: &[Note]) -> Option<f64> {
    let (mut sum, mut weight, mut w) = (0.0, 0.0, 1.0);
    for n in notes.iter().rev().take(PLAYER_NOTES) {
        sum += w * n.velocity as f64;
        weight += w;
        w *= LEVEL_MEMORY;
    }
    (weight > 0.0).then(|| sum / weight)
}

/// The performance the parameters ask for, measured on the player's recent notes (oldest first)
/// and the context (for the call's average level).
pub fn performance(
    params: &ContinuoParams,
    player: &[Note],
    context: &[Note],
    start_in_bar: f64,
    meter: Meter,
) -> Performance {
    let articulation = params.output.articulation.value();
    let share = match articulation {
        Articulation::Staccato => STACCATO,
        Articulation::Normal | Articulation::Legato => NORMAL,
        Articulation::Auto => {
            player_articulation(player).map_or(NORMAL, |s| s.clamp(FOLLOW_MIN, FOLLOW_MAX))
        }
    };
    let average = || {
        (!context.is_empty())
            .then(|| context.iter().map(|n| n.velocity as f64).sum::<f64>() / context.len() as f64)
    };
    let level = match params.output.velocity.value() {
        VelocitySource::Player => player_level(player).or_else(average),
        VelocitySource::Model => average(),
        VelocitySource::Fixed => Some(params.output.fixed_velocity.value() as f64),
    }
    .unwrap_or(90.0);
    Performance {
        share,
        legato: articulation == Articulation::Legato,
        level: level.clamp(1.0, 127.0),
        depth: (params.output.dynamics.value() as f64).clamp(0.0, 1.0),
        start_in_bar,
        meter: Meter {
            origin: 0.0,
            ..meter
        },
    }
}

/// Where in the bar an answer to `context` is expected to start: after the last note's end and
/// the gap, on the next grid line (as playback starts it), in the bars of `meter` (in the
/// context's beats). A time within `tolerance` beats after a grid line counts as on it (see
/// [`crate::model::phrase::LINE_TOLERANCE_BEATS`]).
pub fn expected_start_in_bar(
    context: &[Note],
    gap: f64,
    grid: Option<f64>,
    tolerance: f64,
    meter: &Meter,
) -> f64 {
    let Some(end) = context
        .iter()
        .map(|n| n.onset + n.duration)
        .max_by(f64::total_cmp)
    else {
        return 0.0;
    };
    let start = crate::model::phrase::next_line(end + gap.max(0.0), grid.unwrap_or(0.0), tolerance);
    if start.is_finite() {
        meter.in_bar(start)
    } else {
        0.0
    }
}

/// The arch at `x` (0..1 through the phrase) with the climax at `c`: −0.4 at the start, 1 at the
/// climax, −1 at the close (a phrase ends softer than it began, even on a downbeat).
fn arch(x: f64, c: f64) -> f64 {
    let c = c.clamp(0.15, 0.85);
    if x <= c {
        -0.4 + 1.4 * x / c
    } else {
        1.0 - 2.0 * (x - c) / (1.0 - c)
    }
}

/// Sets every note's sounding length and velocity. The notes' durations come in as notated
/// values (the sampler's); onsets and pitches are left alone.
pub fn perform(phrase: &mut Phrase, p: &Performance) {
    let notes = &mut phrase.notes;
    let n = notes.len();
    if n == 0 {
        return;
    }
    let end = notes
        .iter()
        .map(|n| n.onset + n.duration)
        .fold(0.0f64, f64::max)
        .max(1e-6);
    let climax = (0..n)
        .max_by(|&a, &b| notes[a].pitch.cmp(&notes[b].pitch).then(b.cmp(&a)))
        .map_or(0.5, |i| notes[i].onset / end);
    for i in 0..n {
        let next = notes[i + 1..]
            .iter()
            .map(|m| m.onset)
            .find(|&o| o > notes[i].onset + 1e-9);
        let note = &mut notes[i];
        let written = note.duration.max(1.0 / 64.0);
        note.duration = match next {
            Some(next) => {
                let ioi = next - note.onset;
                if p.legato && written >= ioi - 1e-9 {
                    ioi + (LEGATO_OVERLAP * ioi).min(LEGATO_MAX_BEATS)
                } else {
                    (written.min(ioi) * p.share).min(ioi)
                }
            }
            None if p.legato => written,
            None => written * p.share,
        }
        .max(1.0 / 64.0);
        let accent = p.meter.weight(p.start_in_bar + note.onset) - 0.3;
        let shape = arch(note.onset / end, climax);
        let v = p.level + p.depth * (ACCENT_UNITS * accent + ARCH_UNITS * shape);
        note.velocity = v.round().clamp(1.0, 127.0) as u8;
    }
}

/// Performs every candidate of the latest draw with what the parameters and the player's
/// recent notes ask for.
pub(super) fn candidates(b: &mut Brain, params: &ContinuoParams) {
    let player: Vec<Note> = b.player_notes.iter().copied().collect();
    let context: Vec<Note> = b.context.iter().copied().collect();
    let meter = b.meter();
    let start = expected_start_in_bar(
        &context,
        params.response.gap.value() as f64,
        params.response.grid.value().beats(),
        b.line_tolerance,
        &meter,
    );
    let p = performance(params, &player, &context, start, meter);
    b.legato = p.legato;
    for phrase in &mut b.candidates {
        perform(phrase, &p);
    }
}
