//! The scrolling piano roll: the last seconds the player played, the coming (or playing) phrase,
//! the playhead, pulse and bar lines from the tempo and the host's meter, and the detected key shaded on the keyboard.

use super::colours;
use crate::bridge::{Shared, Snapshot};
use crate::meter::Meter;
use crate::music::{note_name, Scale};
use egui::{pos2, vec2, Align2, Color32, FontId, Rect, Sense, Stroke};
use std::sync::atomic::Ordering;

/// Seconds of history shown left of the playhead.
const PAST_S: f64 = 8.0;
/// Seconds shown right of the playhead (the coming phrase).
const FUTURE_S: f64 = 4.0;
/// Width of the keyboard strip.
const KEYS_W: f32 = 34.0;

pub fn draw(ui: &mut egui::Ui, view: &Snapshot, shared: &Shared) {
    let size = ui.available_size().max(vec2(200.0, 120.0));
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, Color32::from_gray(22));

    let sr = shared.sample_rate.load(Ordering::Relaxed).max(1.0) as f64;
    let now = shared.stream_pos.load(Ordering::Relaxed) as f64 / sr;
    // The engine stores checked tempi only; the roll does not count on it (not a number: 120).
    let tempo = shared.tempo.load(Ordering::Relaxed);
    let tempo = if tempo.is_finite() {
        tempo.clamp(1.0, 1000.0) as f64
    } else {
        120.0
    };
    let sec_per_beat = 60.0 / tempo;

    // The phrase to show: the playing one at its start, otherwise the armed candidate "from now".
    let (proposal, proposal_start, proposal_alpha) =
        match (&view.playing, view.candidates.get(view.selected)) {
            (Some((_, start, phrase)), _) => (Some(phrase.clone()), *start, 1.0),
            (None, Some(c)) => (
                Some(c.phrase.clone()),
                now + 0.25,
                (0.35 + 0.65 * c.share as f32).min(1.0),
            ),
            _ => (None, now, 0.0),
        };

    // Pitch range: everything visible, at least an octave and a half.
    let mut lo = 127u8;
    let mut hi = 0u8;
    for n in view
        .played
        .iter()
        .filter(|n| n.end_s.unwrap_or(now) >= now - PAST_S)
    {
        lo = lo.min(n.pitch);
        hi = hi.max(n.pitch);
    }
    let recent_answers = view
        .answered
        .iter()
        .filter(|(s, _)| *s > now - PAST_S - 8.0)
        .map(|(_, p)| p);
    for p in proposal.iter().chain(recent_answers) {
        for n in &p.notes {
            lo = lo.min(n.pitch);
            hi = hi.max(n.pitch);
        }
    }
    if lo > hi {
        lo = 55;
        hi = 79;
    }
    let mid = (lo as i32 + hi as i32) / 2;
    let span = ((hi as i32 - lo as i32) + 4).max(18);
    let lo = (mid - span / 2).clamp(0, 127 - span.min(127)) as f32;
    let hi = lo + span as f32;

    let roll = Rect::from_min_max(pos2(rect.left() + KEYS_W, rect.top()), rect.right_bottom());
    let row_h = roll.height() / (hi - lo + 1.0);
    let y_of = |pitch: f32| roll.bottom() - (pitch - lo + 1.0) * row_h;
    let x_of =
        |t: f64| roll.left() + ((t - (now - PAST_S)) / (PAST_S + FUTURE_S)) as f32 * roll.width();

    // Keyboard strip with the key's scale shaded, and row backgrounds.
    let scale = view.key.map(|(k, _)| Scale::of_key(k));
    let mut p = lo.ceil() as i32;
    while p as f32 <= hi {
        let pitch = p.clamp(0, 127) as u8;
        let y = y_of(pitch as f32);
        let black = matches!(pitch % 12, 1 | 3 | 6 | 8 | 10);
        let key_rect = Rect::from_min_size(pos2(rect.left(), y), vec2(KEYS_W - 2.0, row_h - 1.0));
        let in_key = scale.is_some_and(|s| s.contains(pitch));
        let key_col = match (black, in_key) {
            (false, true) => Color32::from_rgb(200, 235, 200),
            (false, false) => Color32::from_gray(210),
            (true, true) => Color32::from_rgb(40, 90, 40),
            (true, false) => Color32::from_gray(40),
        };
        painter.rect_filled(key_rect, 1.0, key_col);
        if in_key {
            painter.rect_filled(
                Rect::from_min_size(pos2(roll.left(), y), vec2(roll.width(), row_h)),
                0.0,
                colours::IN_KEY.gamma_multiply(0.25),
            );
        }
        if pitch.is_multiple_of(12) && row_h > 6.0 {
            let (name, octave) = note_name(pitch);
            painter.text(
                key_rect.left_center(),
                Align2::LEFT_CENTER,
                format!("{name}{octave}"),
                FontId::monospace((row_h * 0.8).min(11.0)),
                Color32::BLACK,
            );
        }
        p += 1;
    }

    // Pulse and bar lines in the host's meter, from the host's beat position when it plays.
    let meter = Meter::unpack(shared.meter.load(Ordering::Relaxed));
    let host_beats = shared.host_beats.load(Ordering::Relaxed) as f64;
    let beat_now = if shared.host_playing.load(Ordering::Relaxed) && host_beats.is_finite() {
        host_beats
    } else {
        now / sec_per_beat
    };
    let pulse = meter.pulse();
    let phase = meter.origin.rem_euclid(pulse);
    let first = ((beat_now - PAST_S / sec_per_beat - phase) / pulse).floor() as i64;
    let last = ((beat_now + FUTURE_S / sec_per_beat - phase) / pulse).ceil() as i64;
    if last - first < 400 {
        for k in first..=last {
            let beat = phase + k as f64 * pulse;
            let t = now + (beat - beat_now) * sec_per_beat;
            let x = x_of(t);
            let in_bar = meter.in_bar(beat);
            let bar = in_bar < 1e-6 || meter.bar() - in_bar < 1e-6;
            painter.line_segment(
                [pos2(x, roll.top()), pos2(x, roll.bottom())],
                Stroke::new(
                    if bar { 1.5 } else { 1.0 },
                    if bar { colours::BAR } else { colours::BEAT },
                ),
            );
        }
    }

    // The player's notes: brightness is velocity.
    for n in &view.played {
        let end = n.end_s.unwrap_or(now);
        if end < now - PAST_S || n.start_s > now + FUTURE_S {
            continue;
        }
        let y = y_of(n.pitch as f32);
        let r = Rect::from_min_max(
            pos2(x_of(n.start_s).max(roll.left()), y + 1.0),
            pos2(x_of(end).max(x_of(n.start_s) + 3.0), y + row_h - 1.0),
        );
        // Velocities come checked; one that is not a number would panic egui (drawn full).
        let velocity = if n.velocity.is_finite() {
            n.velocity.clamp(0.0, 1.0)
        } else {
            1.0
        };
        painter.rect_filled(
            r,
            2.0,
            colours::PLAYED.gamma_multiply(0.35 + 0.65 * velocity),
        );
    }

    // Answers played (or playing), at their real time.
    for (start_s, phrase) in &view.answered {
        for n in &phrase.notes {
            let start = start_s + n.onset * sec_per_beat;
            let end = start + n.duration * sec_per_beat;
            if end < now - PAST_S || start > now + FUTURE_S {
                continue;
            }
            let y = y_of(n.pitch as f32);
            let r = Rect::from_min_max(
                pos2(x_of(start).max(roll.left()), y + 1.0),
                pos2(x_of(end).max(x_of(start) + 3.0), y + row_h - 1.0),
            );
            painter.rect_filled(r, 2.0, colours::PROPOSED);
            painter.rect_stroke(
                r,
                2.0,
                Stroke::new(1.0, Color32::WHITE),
                egui::StrokeKind::Inside,
            );
        }
    }

    // The proposal: opacity is its probability share.
    if let Some(phrase) = &proposal {
        for n in &phrase.notes {
            let start = proposal_start + n.onset * sec_per_beat;
            let end = start + n.duration * sec_per_beat;
            let y = y_of(n.pitch as f32);
            let r = Rect::from_min_max(
                pos2(x_of(start), y + 1.0),
                pos2(x_of(end).max(x_of(start) + 3.0), y + row_h - 1.0),
            );
            painter.rect_filled(r, 2.0, colours::PROPOSED.gamma_multiply(proposal_alpha));
        }
    }

    super::chords::draw_on_roll(
        &painter,
        roll,
        view,
        &x_of,
        now - PAST_S,
        now + FUTURE_S,
        now,
    );
    super::chords::draw_harmony(
        &painter,
        roll,
        view,
        &x_of,
        now - PAST_S,
        now + FUTURE_S,
        sec_per_beat,
        view.playing.is_none().then_some(proposal_start),
    );

    // Playhead.
    let x = x_of(now);
    painter.line_segment(
        [pos2(x, roll.top()), pos2(x, roll.bottom())],
        Stroke::new(2.0, colours::PLAYHEAD),
    );
    painter.text(
        pos2(roll.left() + 6.0, roll.top() + 4.0),
        Align2::LEFT_TOP,
        "played",
        FontId::proportional(12.0),
        colours::PLAYED,
    );
    painter.text(
        pos2(roll.left() + 60.0, roll.top() + 4.0),
        Align2::LEFT_TOP,
        "proposed",
        FontId::proportional(12.0),
        colours::PROPOSED,
    );
}
