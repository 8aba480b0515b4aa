//! The note that rose at an onset (AUDIO THREAD). A struck bar or tine (celesta, music box,
//! vibraphone) rings on after the next note is struck, at nearly the new note's level on some
//! instruments. Two or three such notes a third or a fifth apart share a common subharmonic
//! (F5, A5 and C6 all are partials of F3): the pitch estimator names it, the subharmonic guard
//! finds no energy at that fundamental and the hop is unvoiced, for whole stretches of a fast
//! arpeggiated tune; or it keeps naming the louder old note. Yet at each onset only the new
//! note rose: the polyphony stage's onset rise search (`polyphony.rs`) finds the strongest
//! harmonic comb in what rose since just before the onset (`PolyphonyOutput::rise_first`).
//!
//! This stage holds that comb from the hop its rise is measured until the next onset (at most
//! `hold_hops`), when the rise was one note's (what rose holds at least `min_share` of the
//! frame's energy, its second voice at most `max_second` of the first's). While held, a hop
//! whose estimate is unvoiced (under the tracker's confidence) or names the note that sounded
//! before the onset is given the held note as its pitch, at `confidence`, as long as the
//! note's fundamental is still in the spectrum (checked by the caller). The tracker then starts
//! it through its ordinary onset path (pending onset, stable run, the start judge): the
//! substituted estimates look like a clean, stable reading of the new pitch, which is what the
//! onset path's features describe.
//!
//! Cost: a few comparisons per hop; the rise search itself is the polyphony stage's.

use super::polyphony::PolyphonyOutput;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct OnsetRiseConfig {
    /// Hops the risen note is held after its rise was measured (0 turns the stage off); an
    /// onset ends it sooner.
    pub hold_hops: u32,
    /// What rose holds at least this share of the frame's energy (a vibrato or a noise burst
    /// leaves a scatter of small rises, not a note).
    pub min_share: f32,
    /// The rise's second voice holds at most this share of the first's energy (one note rose,
    /// not a chord: a chord's onset raises several combs and the first is any of them).
    pub max_second: f32,
    /// Confidence given to a substituted estimate (at least the tracker's `min_confidence`, so
    /// that the hop counts in its runs).
    pub confidence: f32,
    /// Also replace estimates that name the note sounding before the onset (the louder old
    /// note ringing on), not only unvoiced ones.
    pub replace_old: bool,
    /// An unvoiced estimate is replaced only when it named a subharmonic of the held note
    /// (its frequency a whole fraction, 1/2 to 1/`max_divisor`, of the note's, within
    /// `divisor_cents`): the common period of the new note and the ringing ones. 0: any
    /// unvoiced estimate is replaced.
    pub max_divisor: u32,
    /// Tolerance of that ratio (cents).
    pub divisor_cents: f32,
}

/// Onset-rise stage.
pub struct OnsetRise {
    /// Settings, fixed at construction.
    config: OnsetRiseConfig,
    /// The held note (MIDI) and the hops left to hold it.
    held: Option<(u8, u32)>,
    /// The tracker's sounding note at the last onset.
    before: Option<u8>,
}

impl OnsetRise {
    pub fn new(config: OnsetRiseConfig) -> Self {
        Self {
            config,
            held: None,
            before: None,
        }
    }

    /// One hop: `onset` says whether an onset fired on it, `polyphony` is the polyphony
    /// stage's answer for it, `sounding` the tracker's note before this hop.
    pub fn process(&mut self, onset: bool, polyphony: &PolyphonyOutput, sounding: Option<u8>) {
        let c = &self.config;
        if c.hold_hops == 0 {
            self.held = None;
            return;
        }
        if onset {
            self.held = None;
            self.before = sounding;
        }
        // Held on `hold_hops` hops, the one its rise was measured on first.
        self.held = match self.held {
            Some((p, left)) if left > 1 => Some((p, left - 1)),
            _ => None,
        };
        if polyphony.rise_measured {
            let one_note = polyphony.rise_first > 0
                && polyphony.rise_share >= c.min_share
                && polyphony.rise_second <= c.max_second;
            self.held = one_note.then_some((polyphony.rise_first, c.hold_hops));
        }
    }

    /// The held note, when an estimate at `midi` with `confidence` (0 when unvoiced) should be
    /// replaced by it: the estimate is under `min_confidence`, or names the note that sounded
    /// before the onset (`replace_old`) while the held note is another. Never while the held
    /// note is the tracker's `sounding` note: the stage lets a new note start, it does not
    /// sustain one (replaced hops of a decaying note moved the dating of the next onset).
    pub fn replacement(
        &self,
        midi: f32,
        confidence: f32,
        min_confidence: f32,
        sounding: Option<u8>,
    ) -> Option<u8> {
        let (p, _) = self.held?;
        if sounding == Some(p) {
            return None;
        }
        let c = &self.config;
        let unvoiced = (confidence < min_confidence || midi <= 0.0)
            && (c.max_divisor == 0 || (midi > 0.0 && self.subharmonic(f32::from(p) - midi)));
        let named = midi.round().clamp(0.0, 127.0) as u8;
        let old = self.config.replace_old && self.before.is_some_and(|b| b == named && b != p);
        (unvoiced || old).then_some(p)
    }

    /// Whether `semitones` (held note over the estimate) is a whole ratio from 2 to
    /// `max_divisor`, within `divisor_cents`.
    fn subharmonic(&self, semitones: f32) -> bool {
        let c = &self.config;
        (2..=c.max_divisor.min(16)).any(|k| {
            let interval = 12.0 * (k as f32).log2();
            (semitones - interval).abs() * 100.0 <= c.divisor_cents
        })
    }

    /// Confidence to give a replaced estimate.
    pub fn confidence(&self) -> f32 {
        self.config.confidence
    }

    pub fn reset(&mut self) {
        self.held = None;
        self.before = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage() -> OnsetRise {
        OnsetRise::new(OnsetRiseConfig {
            hold_hops: 10,
            min_share: 0.3,
            max_second: 0.25,
            confidence: 0.85,
            replace_old: false,
            max_divisor: 8,
            divisor_cents: 40.0,
        })
    }

    fn rise(first: u8, second: f32, share: f32) -> PolyphonyOutput {
        PolyphonyOutput {
            rise_measured: true,
            rise_first: first,
            rise_second: second,
            rise_share: share,
            ..PolyphonyOutput::default()
        }
    }

    #[test]
    fn one_risen_note_replaces_an_unvoiced_subharmonic_until_the_next_onset() {
        let mut s = stage();
        let quiet = PolyphonyOutput::default();
        s.process(true, &quiet, Some(72));
        // Not before its rise is measured.
        assert_eq!(s.replacement(53.0, 0.0, 0.8, Some(72)), None);
        s.process(false, &rise(77, 0.05, 0.6), Some(72));
        // F3 under F5 (two octaves), unvoiced: replaced.
        assert_eq!(s.replacement(53.05, 0.0, 0.8, Some(72)), Some(77));
        // A voiced estimate, or an unvoiced one that is no subharmonic of it: kept.
        assert_eq!(s.replacement(53.0, 0.9, 0.8, Some(72)), None);
        assert_eq!(s.replacement(55.0, 0.0, 0.8, Some(72)), None);
        // Not once the note sounds.
        assert_eq!(s.replacement(53.0, 0.0, 0.8, Some(77)), None);
        // A new onset ends it.
        s.process(true, &quiet, Some(77));
        assert_eq!(s.replacement(53.0, 0.0, 0.8, Some(72)), None);
    }

    #[test]
    fn a_chord_or_a_small_rise_is_not_held_and_the_hold_ends() {
        let mut s = stage();
        s.process(false, &rise(77, 0.5, 0.6), None);
        assert_eq!(s.replacement(53.0, 0.0, 0.8, None), None);
        s.process(false, &rise(77, 0.05, 0.1), None);
        assert_eq!(s.replacement(53.0, 0.0, 0.8, None), None);
        s.process(false, &rise(77, 0.05, 0.6), None);
        for _ in 0..10 {
            assert_eq!(s.replacement(53.0, 0.0, 0.8, None), Some(77));
            s.process(false, &PolyphonyOutput::default(), None);
        }
        assert_eq!(s.replacement(53.0, 0.0, 0.8, None), None);
    }
}
