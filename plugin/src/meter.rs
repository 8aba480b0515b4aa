//! The bar: the host's time signature and where its bar lines fall, shared by every thread.
//!
//! Beats are quarter notes everywhere in the plugin (as CLAP and VST3 count them), so a bar of
//! 3/4 is 3 beats, of 6/8 3 beats, of 7/8 3.5 beats. The audio thread reads the meter from the
//! host's transport each block and publishes it as one atomic word ([`Meter::pack`]); the model
//! thread lays out answers, accents and the harmonic rhythm in it; the editor draws its bar
//! lines. With no time signature from the host (or an invalid one) the bar is 4/4 from beat 0.
//!
//! Everything here is `Copy`, allocation-free and usable on the audio thread.

/// A time signature and the position of one bar line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Meter {
    /// Beats (of the denominator's value) per bar, 1..=[`Meter::MAX_NUMERATOR`].
    pub numerator: u8,
    /// The note value of the signature's beat: 1, 2, 4, 8, 16 or 32.
    pub denominator: u8,
    /// A bar line, in quarter-note beats, within `0..bar()`: every bar line is at
    /// `origin + k × bar()`. The host's bar start fixes it while its transport runs.
    pub origin: f64,
}

impl Default for Meter {
    fn default() -> Self {
        Self::COMMON
    }
}

/// How strong a metrical position is (see [`Meter::weight`]).
const DOWNBEAT: f64 = 1.0;
const MIDDLE: f64 = 0.6;
const PULSE: f64 = 0.3;
const HALF_PULSE: f64 = 0.0;
const FINER: f64 = -0.2;
/// A time this close (beats) to a metrical position counts as on it (half a 1/24-beat unit).
const ON: f64 = 1.0 / 48.0;

impl Meter {
    /// 4/4 with a bar line on beat 0: what the plugin assumes when the host says nothing.
    pub const COMMON: Meter = Meter {
        numerator: 4,
        denominator: 4,
        origin: 0.0,
    };
    /// The largest numerator taken from a host (a bar of 32/4 is already 32 beats).
    pub const MAX_NUMERATOR: u8 = 32;

    /// The meter from a host's time signature and bar start (quarter-note beats), with the last
    /// known meter `previous` kept for whatever the host does not say or says wrongly (a zero or
    /// negative numerator, a denominator that is not a power of two up to 32, a bar start that is
    /// not finite).
    pub fn from_host(
        numerator: Option<i32>,
        denominator: Option<i32>,
        bar_start: Option<f64>,
        previous: Meter,
    ) -> Meter {
        let mut m = previous;
        if let (Some(n), Some(d)) = (numerator, denominator) {
            let n_ok = (1..=Self::MAX_NUMERATOR as i32).contains(&n);
            let d_ok = matches!(d, 1 | 2 | 4 | 8 | 16 | 32);
            if n_ok && d_ok && (n as u8, d as u8) != (m.numerator, m.denominator) {
                m.numerator = n as u8;
                m.denominator = d as u8;
                m.origin = m.origin.rem_euclid(m.bar());
            }
        }
        if let Some(b) = bar_start.filter(|b| b.is_finite() && b.abs() < 1e9) {
            m.origin = b.rem_euclid(m.bar());
        }
        if !(m.origin.is_finite() && (0.0..m.bar()).contains(&m.origin)) {
            m.origin = 0.0;
        }
        m
    }

    /// Quarter-note beats in a bar.
    pub fn bar(&self) -> f64 {
        self.numerator.max(1) as f64 * 4.0 / self.denominator.max(1) as f64
    }

    /// Whether the signature is compound (6/8, 9/8, 12/8, 6/16…): its pulse is three of the
    /// denominator's notes.
    pub fn compound(&self) -> bool {
        self.denominator >= 8 && self.numerator > 3 && self.numerator.is_multiple_of(3)
    }

    /// The felt beat, in quarter-note beats: a dotted quarter in 6/8, a quarter in 3/4, a half in
    /// 2/2.
    pub fn pulse(&self) -> f64 {
        let note = 4.0 / self.denominator.max(1) as f64;
        if self.compound() {
            3.0 * note
        } else {
            note
        }
    }

    /// Pulses in a bar (2 in 6/8, 3 in 3/4, 4 in 4/4, 7 in 7/8).
    pub fn pulses(&self) -> u32 {
        (self.bar() / self.pulse()).round().max(1.0) as u32
    }

    /// The bar's second strong position (beats after the bar line) when it has one: the middle
    /// of a bar of an even number of pulses, four or more, or of two in a compound meter (beat 3
    /// of 4/4, the fourth eighth of 6/8, beat 4 of 6/4). 2/4, 2/2, 3/4 and odd meters have none.
    pub fn middle(&self) -> Option<f64> {
        let p = self.pulses();
        (p.is_multiple_of(2) && (p >= 4 || (p == 2 && self.compound()))).then(|| self.bar() / 2.0)
    }

    /// Where `beat` falls in its bar, `0..bar()` beats after the bar line.
    pub fn in_bar(&self, beat: f64) -> f64 {
        let x = (beat - self.origin).rem_euclid(self.bar());
        if x.is_finite() {
            x
        } else {
            0.0
        }
    }

    /// The first bar line at or after `beat`.
    pub fn next_bar_line(&self, beat: f64) -> f64 {
        let x = self.in_bar(beat);
        if x < 1e-9 {
            beat - x
        } else {
            beat - x + self.bar()
        }
    }

    /// Metrical weight of `beat`: the downbeat 1, the bar's middle ([`Meter::middle`]) 0.6, the
    /// other pulses 0.3, half-pulses 0 (thirds of a compound pulse too), anything finer −0.2.
    pub fn weight(&self, beat: f64) -> f64 {
        let bar = self.bar();
        let mut x = self.in_bar(beat);
        if bar - x < ON {
            x = 0.0;
        }
        let near = |step: f64| {
            let r = x / step;
            (r - r.round()).abs() * step < ON
        };
        let sub = if self.compound() {
            self.pulse() / 3.0
        } else {
            self.pulse() / 2.0
        };
        if x < ON {
            DOWNBEAT
        } else if self.middle().is_some_and(|m| (x - m).abs() < ON) {
            MIDDLE
        } else if near(self.pulse()) {
            PULSE
        } else if near(sub) {
            HALF_PULSE
        } else {
            FINER
        }
    }

    /// Whole beats per chord at a harmonic rhythm of `per` chords: a bar (rounded to whole
    /// beats), half a bar where the bar has a middle on a whole beat (else the bar), or a beat.
    pub fn harmonic_beats(&self, per: crate::params::HarmonicRhythm) -> u32 {
        use crate::params::HarmonicRhythm;
        let bar = self.bar().round().max(1.0) as u32;
        match per {
            HarmonicRhythm::Bar => bar,
            HarmonicRhythm::HalfBar => match self.middle() {
                Some(m) if (m - m.round()).abs() < 1e-9 && m >= 1.0 => m.round() as u32,
                _ => bar,
            },
            HarmonicRhythm::Beat => 1,
        }
    }

    /// The meter in one word for an atomic: numerator, denominator and the origin as `f32` bits.
    pub fn pack(&self) -> u64 {
        ((self.numerator as u64) << 56)
            | ((self.denominator as u64) << 48)
            | (self.origin as f32).to_bits() as u64
    }

    /// The meter of [`Meter::pack`]'s word; 4/4 for a word no valid meter packs to (0 included).
    pub fn unpack(word: u64) -> Meter {
        let n = (word >> 56) as u8;
        let d = ((word >> 48) & 0xff) as u8;
        let origin = f32::from_bits(word as u32) as f64;
        let valid = (1..=Self::MAX_NUMERATOR).contains(&n) && matches!(d, 1 | 2 | 4 | 8 | 16 | 32);
        if !valid {
            return Self::COMMON;
        }
        let m = Meter {
            numerator: n,
            denominator: d,
            origin: 0.0,
        };
        let origin = if origin.is_finite() && (0.0..m.bar()).contains(&origin) {
            origin
        } else {
            0.0
        };
        Meter { origin, ..m }
    }

    /// "3/4", for the editor and the command line.
    pub fn label(&self) -> String {
        format!("{}/{}", self.numerator, self.denominator)
    }

    /// A time signature from text like "3/4" or "6/8" (bar line on beat 0); `None` for anything
    /// else.
    pub fn parse(text: &str) -> Option<Meter> {
        let (n, d) = text.trim().split_once('/')?;
        let (n, d): (i32, i32) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
        let m = Meter::from_host(
            Some(n),
            Some(d),
            Some(0.0),
            Meter {
                numerator: 0,
                denominator: 0,
                origin: 0.0,
            },
        );
        (m.numerator as i32 == n && m.denominator as i32 == d).then_some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::HarmonicRhythm;

    fn m(n: u8, d: u8) -> Meter {
        Meter {
            numerator: n,
            denominator: d,
            origin: 0.0,
        }
    }

    #[test]
    fn bars_pulses_and_middles() {
        let cases = [
            // (n, d, bar, pulse, pulses, middle)
            (4, 4, 4.0, 1.0, 4, Some(2.0)),
            (3, 4, 3.0, 1.0, 3, None),
            (2, 4, 2.0, 1.0, 2, None),
            (6, 8, 3.0, 1.5, 2, Some(1.5)),
            (9, 8, 4.5, 1.5, 3, None),
            (12, 8, 6.0, 1.5, 4, Some(3.0)),
            (2, 2, 4.0, 2.0, 2, None),
            (7, 8, 3.5, 0.5, 7, None),
            (5, 4, 5.0, 1.0, 5, None),
        ];
        for (n, d, bar, pulse, pulses, middle) in cases {
            let x = m(n, d);
            assert_eq!(x.bar(), bar, "{n}/{d} bar");
            assert_eq!(x.pulse(), pulse, "{n}/{d} pulse");
            assert_eq!(x.pulses(), pulses, "{n}/{d} pulses");
            assert_eq!(x.middle(), middle, "{n}/{d} middle");
        }
    }

    #[test]
    fn weights_follow_the_meter() {
        let w44 = |b| m(4, 4).weight(b);
        assert_eq!(
            [w44(0.0), w44(2.0), w44(1.0), w44(0.5), w44(0.25), w44(4.0)],
            [1.0, 0.6, 0.3, 0.0, -0.2, 1.0]
        );
        // 3/4: no middle, beats 2 and 3 are plain pulses.
        let w34 = |b| m(3, 4).weight(b);
        assert_eq!(
            [w34(0.0), w34(1.0), w34(2.0), w34(3.0)],
            [1.0, 0.3, 0.3, 1.0]
        );
        // 6/8: the fourth eighth is the middle, the other eighths are thirds of a pulse.
        let w68 = |b| m(6, 8).weight(b);
        assert_eq!(
            [w68(0.0), w68(1.5), w68(0.5), w68(1.0), w68(0.25)],
            [1.0, 0.6, 0.0, 0.0, -0.2]
        );
        // The origin moves the bar lines.
        let shifted = Meter {
            origin: 1.0,
            ..m(3, 4)
        };
        assert_eq!(shifted.weight(4.0), 1.0);
        assert_eq!(shifted.weight(3.0), 0.3);
        assert_eq!(shifted.next_bar_line(4.5), 7.0);
        assert_eq!(shifted.next_bar_line(4.0), 4.0);
    }

    #[test]
    fn the_host_fixes_the_meter_and_bad_values_keep_the_last_one() {
        let waltz = Meter::from_host(Some(3), Some(4), Some(7.0), Meter::COMMON);
        assert_eq!((waltz.numerator, waltz.denominator), (3, 4));
        assert_eq!(
            waltz.origin, 1.0,
            "bar lines at 7, 10… → origin 1 in a 3-beat bar"
        );
        for (n, d, b) in [
            (Some(0), Some(4), None),
            (Some(3), Some(5), None),
            (Some(-3), Some(4), None),
            (Some(99), Some(4), None),
            (None, None, Some(f64::NAN)),
            (None, None, Some(f64::INFINITY)),
        ] {
            assert_eq!(
                Meter::from_host(n, d, b, waltz),
                waltz,
                "{n:?}/{d:?} at {b:?}"
            );
        }
        assert_eq!(Meter::parse("6/8").map(|x| x.bar()), Some(3.0));
        assert_eq!(Meter::parse("3/5"), None);
        assert_eq!(Meter::parse("x"), None);
        assert_eq!(Meter::parse("0/4"), None);
    }

    #[test]
    fn packing_round_trips_and_garbage_is_common_time() {
        for x in [
            m(4, 4),
            m(3, 4),
            Meter {
                origin: 2.5,
                ..m(6, 8)
            },
            m(32, 32),
        ] {
            assert_eq!(Meter::unpack(x.pack()), x);
        }
        assert_eq!(Meter::unpack(0), Meter::COMMON);
        assert_eq!(Meter::unpack(u64::MAX), Meter::COMMON);
        let bad_origin = (3u64 << 56) | (4u64 << 48) | f32::NAN.to_bits() as u64;
        assert_eq!(Meter::unpack(bad_origin), m(3, 4));
    }

    #[test]
    fn harmonic_rhythm_in_whole_beats() {
        let h = |x: Meter| {
            [
                x.harmonic_beats(HarmonicRhythm::Bar),
                x.harmonic_beats(HarmonicRhythm::HalfBar),
                x.harmonic_beats(HarmonicRhythm::Beat),
            ]
        };
        assert_eq!(h(m(4, 4)), [4, 2, 1]);
        assert_eq!(h(m(3, 4)), [3, 3, 1]);
        assert_eq!(
            h(m(6, 8)),
            [3, 3, 1],
            "the middle of 6/8 is not a whole beat"
        );
        assert_eq!(h(m(12, 8)), [6, 3, 1]);
    }
}
