//! How often, lately, the pitch estimate named each semitone: a leaky share per semitone.
//!
//! A choir, string ensemble or pad is several detuned voices. When such a note follows another
//! without a new attack, the new voices rise under the old ones' release, and for a while the
//! estimate of each hop names whichever partial set wins it: the old note, the new one, or a
//! value in between. The new semitone then comes back again and again but never for long (runs
//! of 2–8 hops), so no run of agreeing estimates forms. Counted over a few tens of
//! milliseconds, the new semitone is named on a large share of the hops all the same: that
//! share is what this stage keeps. No allocation: one fixed array, updated once per hop.

/// Number of semitones followed (MIDI 0–127).
const SEMITONES: usize = 128;

/// Leaky share of the hops whose estimate named each semitone.
#[derive(Debug, Clone, Copy)]
pub struct NamedShare {
    shares: [f32; SEMITONES],
}

impl Default for NamedShare {
    fn default() -> Self {
        Self {
            shares: [0.0; SEMITONES],
        }
    }
}

impl NamedShare {
    /// Follows one hop: every share leaks by `rate`, and the semitone named this hop (if any)
    /// gains `rate`. Each share stays within 0–1, and all of them sum to at most 1.
    pub fn follow(&mut self, named: Option<u8>, rate: f32) {
        let rate = rate.clamp(0.0, 1.0);
        let keep = 1.0 - rate;
        for s in self.shares.iter_mut() {
            *s *= keep;
        }
        if let Some(s) = named.and_then(|p| self.shares.get_mut(usize::from(p))) {
            *s += rate;
        }
    }

    /// The share of recent hops that named `semitone` (0 for one out of range).
    pub fn share(&self, semitone: u8) -> f32 {
        self.shares
            .get(usize::from(semitone))
            .copied()
            .unwrap_or(0.0)
    }

    /// Forgets everything heard.
    pub fn reset(&mut self) {
        self.shares = [0.0; SEMITONES];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intermittent_naming_builds_a_share() {
        let mut s = NamedShare::default();
        // Two hops of 60, one of 61, one in between (nothing), repeated.
        for _ in 0..40 {
            for named in [Some(60), Some(60), Some(61), None] {
                s.follow(named, 0.07);
            }
        }
        assert!(s.share(60) > 0.4 && s.share(60) < 0.6, "{}", s.share(60));
        assert!(s.share(61) > 0.15 && s.share(61) < 0.35, "{}", s.share(61));
        assert_eq!(s.share(62), 0.0);
        s.reset();
        assert_eq!(s.share(60), 0.0);
    }
}
