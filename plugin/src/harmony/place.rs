//! Where each beat of a harmonised melody falls in its bar, as the chord model knows places.
//!
//! The model's chord transitions were learnt on chorales in 4/4, so they know four places: the
//! downbeat (0), the weak beat after it (1), the bar's middle (2) and the beat that leads into the
//! next bar (3). A melody in another meter is read through the same four: in 3/4 the beats are
//! downbeat, weak, leading (0, 1, 3); in 2/2 and 6/4 the bar's half is a middle; in 6/8 (a bar of
//! three quarter-note beats) they are 0, 1, 3 as in 3/4. Counting beats modulo four instead would
//! put a 3/4 downbeat on a weak place two bars in three.

use super::model::PLACES;
use crate::meter::Meter;

/// The places of the beats of a melody whose first beat falls `first` quarter-note beats after a
/// bar line of `meter`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Places {
    /// The bar (its origin is not used: `first` says where beat 0 falls).
    meter: Meter,
    /// Quarter-note beats from a bar line to the melody's beat 0, within `0..meter.bar()`.
    first: f64,
}

/// The place of the bar line itself.
const DOWNBEAT: usize = 0;
/// A beat that is neither the downbeat, the middle nor the last beat before the bar line.
const WEAK: usize = 1;
/// The middle of a bar that splits into two equal halves of pulses.
const MIDDLE: usize = 2;
/// The beat leading into the next bar line.
const LEADING: usize = 3;

impl Places {
    /// Beat 0 falls `first` beats after a bar line of `meter` (any finite value; wrapped into
    /// the bar).
    pub fn new(meter: Meter, first: f64) -> Self {
        let bar = meter.bar();
        let first = if first.is_finite() {
            first.rem_euclid(bar)
        } else {
            0.0
        };
        Self { meter, first }
    }

    /// 4/4 with beat 0 on place `first_place` (0 = the downbeat): the chorales' own count.
    pub fn common(first_place: usize) -> Self {
        Self::new(Meter::COMMON, (first_place % PLACES) as f64)
    }

    /// The place (`0..PLACES`) of beat `t`.
    pub fn at(&self, t: usize) -> usize {
        let bar = self.meter.bar();
        let x = (self.first + t as f64).rem_euclid(bar);
        // Within half a beat of a position counts as on it (beats of 7/8 drift by halves).
        let halves = self.meter.pulses().is_multiple_of(2) && bar >= 3.0;
        if x < 0.5 || bar - x < 1e-9 {
            DOWNBEAT
        } else if halves && (x - bar / 2.0).abs() < 0.5 {
            MIDDLE
        } else if x >= bar - 1.0 {
            LEADING
        } else {
            WEAK
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meter(numerator: u8, denominator: u8) -> Meter {
        Meter {
            numerator,
            denominator,
            origin: 0.0,
        }
    }

    fn first_bars(p: Places, beats: usize) -> Vec<usize> {
        (0..beats).map(|t| p.at(t)).collect()
    }

    #[test]
    fn common_time_counts_the_chorales_way() {
        assert_eq!(first_bars(Places::common(0), 8), [0, 1, 2, 3, 0, 1, 2, 3]);
        assert_eq!(first_bars(Places::common(3), 5), [3, 0, 1, 2, 3]);
        assert_eq!(
            first_bars(Places::new(meter(4, 4), 1.0), 4),
            first_bars(Places::common(1), 4)
        );
    }

    #[test]
    fn every_downbeat_of_three_four_is_a_downbeat() {
        // Beat 3, 6, 9… are bar lines; counting modulo four put them on places 3, 2, 1.
        assert_eq!(
            first_bars(Places::new(meter(3, 4), 0.0), 9),
            [0, 1, 3, 0, 1, 3, 0, 1, 3]
        );
        // A melody starting on the third beat (a pickup).
        assert_eq!(first_bars(Places::new(meter(3, 4), 2.0), 4), [3, 0, 1, 3]);
    }

    #[test]
    fn other_meters() {
        // 2/2 and 6/4 have a middle; 2/4 leads straight into the next bar.
        assert_eq!(first_bars(Places::new(meter(2, 2), 0.0), 4), [0, 1, 2, 3]);
        assert_eq!(
            first_bars(Places::new(meter(6, 4), 0.0), 6),
            [0, 1, 1, 2, 1, 3]
        );
        assert_eq!(first_bars(Places::new(meter(2, 4), 0.0), 4), [0, 3, 0, 3]);
        // 6/8: three quarter beats, no quarter on the dotted-quarter middle.
        assert_eq!(
            first_bars(Places::new(meter(6, 8), 0.0), 6),
            [0, 1, 3, 0, 1, 3]
        );
        // 7/8 (3.5 beats): the second bar starts half a beat into beat 3.
        assert_eq!(
            first_bars(Places::new(meter(7, 8), 0.0), 8),
            [0, 1, 1, 3, 1, 1, 3, 0]
        );
        // Nonsense in, a place out.
        assert!(Places::new(meter(3, 4), f64::NAN).at(usize::MAX) < PLACES);
    }
}
