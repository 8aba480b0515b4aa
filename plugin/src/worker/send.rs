//! MODEL THREAD, stage 5: hands the selected candidate to the audio thread as a [`PhraseBuf`]
//! through the latest-value handoff (a newer phrase replaces one not yet armed).

use super::Brain;
use crate::bridge::{ModelEnds, PhraseBuf, Shared};
use crate::params::ContinuoParams;

/// Sends the selected candidate under a new generation (then its chords: `harmony`).
pub(super) fn selected(
    b: &mut Brain,
    ends: &mut ModelEnds,
    shared: &Shared,
    params: &ContinuoParams,
) {
    // Chords under the answer: its strong beats bent toward its chords first (~1 ms).
    super::harmony::fit_selected(b, params);
    let Some(phrase) = b.candidates.get(b.selected) else {
        return;
    };
    b.generation = b.generation.wrapping_add(1).max(1);
    let mut buf = PhraseBuf::from_phrase(b.generation, b.heard_until, phrase);
    buf.legato = b.legato;
    b.sent.push_back((b.generation, phrase.clone()));
    while b.sent.len() > 16 {
        b.sent.pop_front();
    }
    ends.publish_phrase(buf, &shared.counters);
    // The melody is out; its chords follow (never the other way round).
    super::harmony::after_send(b, ends, shared, params, buf);
}
