//! Release tails (AUDIO THREAD): is the "second voice" the polyphony stage hears only the
//! previous note dying away under the new one?
//!
//! A melody on a pad, a solo string or a steel string overlaps each note with the release
//! and reverberation of the ones before it. On such hops the chord judge (`chord_judge.rs`)
//! hears two or three voices and, over a few seconds, its leaky mean can reach the *chords*
//! level: the tracker then ends the sounding note and starts none (FluidR3's program 88 was
//! gated on half its hops). What tells the two apart is how the voices move in time: in a
//! chord the other voices are held (organ, strings: steady) or were struck with the first
//! (piano, guitar: they decay alike), while a melody's second voice is the previous note,
//! whose salience falls while the new note's does not.
//!
//! Measured on chord-probable search hops (probability at least one half, two voices found),
//! "the second voice lost at least 6 dB over the last 170 ms, and 6 dB more than the first":
//! 8-13 % of such hops on the dev split's pads, 5-30 % on its string ensembles, at most 1 % on
//! the four-part chorales of the tune split (organ, piano, strings, guitar alike). One fade
//! lasts several search hops and one hop says little (a vibrato, a beat), so the stage keeps a
//! slow leaky mean of that test over chord-probable hops (a faster one, 0.02 a hop, also rose
//! on the chorales: 83 -> 100 wrong notes on the tune split); from `share_on` up the input is
//! a melody with release tails, and the polyphony stage says *chords* neither from its per-hop
//! judge nor from its chord onsets (on FluidR3's pads most of the gate came from the onsets:
//! a pad's swelling attack rises with its bright upper layer, which the rise search takes for
//! further voices).
//!
//! Melody steps (per search hop): the same question for the per-hop *second voice* flag
//! (`PolyphonyOutput::polyphonic`), which keeps the tracker's newcomer path, its steady runs
//! and its quiet-in-chords rule shut. A pad note that attacks in a few milliseconds while the
//! previous notes still ring at nearly its level (FluidR3's New Age pad rings for about a
//! second) raises the level by only ~2 dB, so no flux onset fires, and the polyphony stage
//! hears two voices on most hops: the new note is itself that second voice. What tells a
//! melody step from a chord is again how the voices move: one of the two voices rose by
//! `step_rise_db` or more over the last `step_span_hops`, while the other rose less than that
//! and at least `step_rise_db` less than the first (it held or faded: the previous note's
//! release). A chord's voices are struck together (both rise) or held (neither rises). Each
//! voice's rise is that of its partial that rose most (`step_rise`). Such a search hop, and
//! the hops up to the next search, are not polyphonic for the tracker; on a chord-probable
//! search hop it also counts as a fading second voice in the leaky mean above (`step_counts`)
//! when the voice that did not rise fell by `step_fall_db` over the span and by half as much
//! over each of its halves (a release keeps falling; a held chord tone that dropped once as the
//! new voice came in does not).
//! Not told apart: a chord whose new voices join a tone still ringing from the chord before
//! (a common tone) reads as a step while they rise.

use super::polyphony::PolyphonyOutput;
use super::salience::Salience;

/// Fixed settings.
#[derive(Debug, Clone, Copy)]
pub struct ReleaseTailsConfig {
    /// How far back (hops) the fall of each voice's salience is measured (0: the stage is off).
    pub span_hops: usize,
    /// The second voice fades when it lost at least this much (dB) over the span, and this
    /// much more than the first voice.
    pub fall_db: f32,
    /// Weight of each chord-probable search hop in the leaky mean of "the second voice fades".
    pub rate: f32,
    /// The input is a melody with release tails from this mean up ...
    pub share_on: f32,
    /// ... until it falls below this.
    pub share_off: f32,
    /// Melody steps: the rise of each voice is measured over this many hops (0: off) ...
    pub step_span_hops: usize,
    /// ... one voice rose at least this much (dB), and this much more than the other.
    pub step_rise_db: f32,
    /// A melody step on a chord-probable search hop also counts in the leaky mean of "the
    /// second voice fades" (it is the same evidence: the other voice is a release) ...
    pub step_counts: bool,
    /// ... when the voice that did not rise lost at least this much (dB) over the span, and
    /// half of it over each half of the span: a release, which keeps falling, not a held
    /// chord tone (an organ's or an ensemble's stays level while a new voice joins it, or
    /// drops once as it comes in and then holds).
    pub step_fall_db: f32,
}

/// Partials (from the fundamental) whose rise a melody step looks at.
const STEP_PARTIALS: u32 = 3;
/// Only partials within this many dB of the voice's strongest one now count (a faint partial
/// rises out of the noise floor by any amount).
const STEP_PARTIAL_RANGE_DB: f32 = 12.0;

/// How far (dB) the partial of `pitch` that rose most (among its first [`STEP_PARTIALS`]
/// within [`STEP_PARTIAL_RANGE_DB`] of its strongest now) rose over the last `span` hops. By
/// partial, not over the whole comb: a voice's comb shares partials with other notes (C4's
/// third is G4's second), and a struck voice's comb summed with a ringing note's partial rises
/// less than its own fundamental does. `None` when the history is too short.
fn step_rise(salience: &Salience, pitch: u8, span: usize) -> Option<f32> {
    let mut now = [0.0f32; STEP_PARTIALS as usize];
    let mut strongest = f32::NEG_INFINITY;
    for (k, slot) in now.iter_mut().enumerate() {
        *slot = salience.partial_value(pitch, 1 << k, 0)?;
        strongest = strongest.max(*slot);
    }
    let mut best: Option<f32> = None;
    for (k, &e) in now.iter().enumerate() {
        if e >= strongest - STEP_PARTIAL_RANGE_DB {
            let rise = e - salience.partial_value(pitch, 1 << k, span)?;
            best = Some(best.map_or(rise, |b: f32| b.max(rise)));
        }
    }
    best
}

/// Release-tail stage.
pub struct ReleaseTails {
    config: ReleaseTailsConfig,
    /// Leaky mean over chord-probable search hops of "the second voice fades".
    share: f32,
    /// The held decision.
    tails: bool,
    /// The last search hop was a melody step (held between search hops).
    step: bool,
    /// ... and on it the voice that did not rise faded (see `step_fall_db`).
    step_fades: bool,
}

impl ReleaseTails {
    pub fn new(config: ReleaseTailsConfig) -> Self {
        Self {
            config,
            share: 0.0,
            tails: false,
            step: false,
            step_fades: false,
        }
    }

    /// Whether the second voice the polyphony stage heard on its last search hop is a melody
    /// step (one voice rose, the other did not; see the module doc), as of the last
    /// [`ReleaseTails::process`].
    pub fn step(&self) -> bool {
        self.step
    }

    /// Measures the melody step on a search hop (held between search hops): six partial
    /// lookups per voice on a search hop with two voices (three more for a step's other voice),
    /// nothing on the others.
    fn measure_step(&mut self, out: &PolyphonyOutput, salience: &Salience) {
        let c = &self.config;
        if c.step_span_hops == 0 {
            self.step = false;
            self.step_fades = false;
            return;
        }
        if out.searched {
            let rise = |p: u8| step_rise(salience, p, c.step_span_hops);
            (self.step, self.step_fades) = match (out.first, out.second) {
                (f, s) if f > 0 && s > 0 => match (rise(f), rise(s)) {
                    (Some(r1), Some(r2)) => {
                        let (hi, lo, other) = if r1 >= r2 { (r1, r2, s) } else { (r2, r1, f) };
                        // The other voice did not itself rise by the mark: a struck voice
                        // rising from silence beside one that rose even more is a chord's.
                        let step = hi >= c.step_rise_db
                            && lo < c.step_rise_db
                            && hi - lo >= c.step_rise_db;
                        // A release keeps falling: over the span, and by half as much over
                        // each of its halves (a held chord tone that dropped once, as the new
                        // voice came in, and then held, is no release).
                        let half = (c.step_span_hops / 2).max(1);
                        let fades = step
                            && -lo >= c.step_fall_db
                            && step_rise(salience, other, half).is_some_and(|recent| {
                                -recent >= c.step_fall_db / 2.0
                                    && recent - lo >= c.step_fall_db / 2.0
                            });
                        (step, fades)
                    }
                    _ => (false, false),
                },
                _ => (false, false),
            };
        }
    }

    /// One hop, after the polyphony stage (`out`) and the salience stage: returns whether the
    /// input is a melody whose previous notes' releases ring under the new ones. Four salience
    /// lookups on a chord-probable search hop, nothing on the others.
    pub fn process(&mut self, out: &PolyphonyOutput, salience: &Salience) -> bool {
        self.measure_step(out, salience);
        let c = &self.config;
        if c.span_hops == 0 {
            return false;
        }
        if out.searched && out.probability >= 0.5 && out.first > 0 && out.second > 0 {
            let fall = |p: u8| Some(salience.value(p, c.span_hops)? - salience.value(p, 0)?);
            if let (Some(f1), Some(f2)) = (fall(out.first), fall(out.second)) {
                let fades =
                    (f2 >= c.fall_db && f2 - f1 >= c.fall_db) || (c.step_counts && self.step_fades);
                let rate = c.rate.clamp(0.0, 1.0);
                self.share += (f32::from(u8::from(fades)) - self.share) * rate;
                if self.share >= c.share_on {
                    self.tails = true;
                } else if self.share < c.share_off {
                    self.tails = false;
                }
            }
        }
        self.tails
    }

    /// The leaky mean (diagnostics).
    pub fn share(&self) -> f32 {
        self.share
    }

    pub fn reset(&mut self) {
        self.share = 0.0;
        self.tails = false;
        self.step = false;
        self.step_fades = false;
    }
}
