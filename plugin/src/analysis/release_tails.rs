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
}

/// Release-tail stage.
pub struct ReleaseTails {
    config: ReleaseTailsConfig,
    /// Leaky mean over chord-probable search hops of "the second voice fades".
    share: f32,
    /// The held decision.
    tails: bool,
}

impl ReleaseTails {
    pub fn new(config: ReleaseTailsConfig) -> Self {
        Self {
            config,
            share: 0.0,
            tails: false,
        }
    }

    /// One hop, after the polyphony stage (`out`) and the salience stage: returns whether the
    /// input is a melody whose previous notes' releases ring under the new ones. Four salience
    /// lookups on a chord-probable search hop, nothing on the others.
    pub fn process(&mut self, out: &PolyphonyOutput, salience: &Salience) -> bool {
        let c = &self.config;
        if c.span_hops == 0 {
            return false;
        }
        if out.searched && out.probability >= 0.5 && out.first > 0 && out.second > 0 {
            let fall = |p: u8| Some(salience.value(p, c.span_hops)? - salience.value(p, 0)?);
            if let (Some(f1), Some(f2)) = (fall(out.first), fall(out.second)) {
                let fades = f2 >= c.fall_db && f2 - f1 >= c.fall_db;
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
    }
}
