//! Chord symbols: the chords the player holds, drawn above the piano roll at the time they
//! started, and the chord held now for the header.

use crate::bridge::Snapshot;
use egui::{pos2, Align2, Color32, FontId, Painter, Rect};

/// Colour of the chord symbols.
const CHORD_TEXT: Color32 = Color32::from_rgb(235, 215, 140);

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
