//! Chord symbols: the chords the player holds, drawn above the piano roll at the time they
//! started, and the chord held now for the header; with *Harmony* on, a second row of symbols:
//! the chords of the player's phrase (or those played under them) and of the answers.

use crate::bridge::Snapshot;
use egui::{pos2, Align2, Color32, FontId, Painter, Rect};

/// Colour of the chord symbols.
const CHORD_TEXT: Color32 = Color32::from_rgb(235, 215, 140);
/// Colour of the harmony row's symbols for the player's phrase.
const HARMONY_PLAYER: Color32 = Color32::from_rgb(150, 210, 240);
/// Colour of the harmony row's symbols for the answers.
const HARMONY_ANSWER: Color32 = Color32::from_rgb(240, 170, 210);
/// Height of the harmony row under the top edge.
const HARMONY_ROW_Y: f32 = 38.0;

/// The chord held now in a musician's name ("" when none).
pub fn now_label(view: &Snapshot) -> String {
    view.chords
        .last()
        .filter(|c| c.end_s.is_none())
        .map(|c| c.chord.name())
        .unwrap_or_default()
}

/// Draws each recent chord's name along the roll's top edge at its start, skipping those out of
/// view (`x_of` maps stream seconds to x; `from_s..to_s` is what the roll shows).
pub fn draw_on_roll(
    painter: &Painter,
    roll: Rect,
    view: &Snapshot,
    x_of: &dyn Fn(f64) -> f32,
    from_s: f64,
    to_s: f64,
    now_s: f64,
) {
    for span in &view.chords {
        let end = span.end_s.unwrap_or(now_s);
        if end < from_s || span.start_s > to_s {
            continue;
        }
        let x = x_of(span.start_s).max(roll.left() + 2.0);
        painter.text(
            pos2(x, roll.top() + 20.0),
            Align2::LEFT_TOP,
            span.chord.name(),
            FontId::proportional(14.0),
            CHORD_TEXT,
        );
    }
}

/// The harmony row (*Harmony* on): the chords of the player's phrase (or played under them) at
/// their times, each answer's chords from its start (`sec_per_beat` turns their beats into
/// seconds), and the coming proposal's from `proposal_start` when it is not playing yet.
#[allow(clippy::too_many_arguments)]
pub fn draw_harmony(
    painter: &Painter,
    roll: Rect,
    view: &Snapshot,
    x_of: &dyn Fn(f64) -> f32,
    from_s: f64,
    to_s: f64,
    sec_per_beat: f64,
    proposal_start: Option<f64>,
) {
    let y = roll.top() + HARMONY_ROW_Y;
    let label = |start_s: f64, end_s: f64, name: String, colour: Color32| {
        if end_s < from_s || start_s > to_s {
            return;
        }
        let x = x_of(start_s).max(roll.left() + 2.0);
        painter.text(
            pos2(x, y),
            Align2::LEFT_TOP,
            name,
            FontId::proportional(13.0),
            colour,
        );
    };
    for span in &view.player_harmony {
        let end = span.end_s.unwrap_or(to_s);
        label(span.start_s, end, span.chord.name(), HARMONY_PLAYER);
    }
    let answers = view
        .answered
        .iter()
        .rev()
        .zip(view.answered_harmony.iter().rev());
    let proposal = proposal_start.zip(view.candidate_harmony.get(view.selected));
    for (start_s, segments) in answers.map(|((s, _), segs)| (*s, segs)).chain(proposal) {
        for seg in segments {
            let a = start_s + seg.start * sec_per_beat;
            let b = start_s + seg.end * sec_per_beat;
            label(a, b, seg.chord.name(), HARMONY_ANSWER);
        }
    }
}
