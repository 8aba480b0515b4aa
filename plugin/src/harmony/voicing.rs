//! Voicing: the MIDI notes a chord is played with.
//!
//! Three ways: [`close_voicing`] (root position in one octave), [`open_voicing`] (root, fifth,
//! tenth: spread over two octaves) and [`FourPart`] (a bass on the root and three upper voices
//! that move as little as they can from the previous chord, avoiding parallel fifths and
//! octaves).

use super::chord::Chord;

/// How a chord is spaced (the *Voicing* parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    /// [`close_voicing`].
    Close,
    /// [`open_voicing`].
    Open,
    /// [`FourPart`] voice leading.
    FourPart,
}

/// Lowest note a close voicing's root may take (C3).
pub const CLOSE_ROOT_FROM: u8 = 48;

/// A close voicing: the root in the octave from C3, every other chord tone the next one above
/// (C:maj → C3 E3 G3; B:hdim7 → B3 D4 F4 A4). N gives no notes.
pub fn close_voicing(chord: Chord) -> Vec<u8> {
    let Chord::Some { root, quality } = chord else {
        return Vec::new();
    };
    let base = CLOSE_ROOT_FROM + root % 12;
    quality.intervals().iter().map(|iv| base + iv).collect()
}

/// Lowest note an open voicing's root may take (E2).
pub const OPEN_ROOT_FROM: u8 = 40;

/// An open voicing: the root in the octave from E2, the fifth above it, the third an octave up
/// (a tenth), and the seventh two octaves up for a seventh chord or the root two octaves up
/// for a triad (C:maj → C3 G3 E4 C5; G:7 → G2 D3 B3 F4). N gives no notes.
pub fn open_voicing(chord: Chord) -> Vec<u8> {
    let Chord::Some { root, quality } = chord else {
        return Vec::new();
    };
    let base = OPEN_ROOT_FROM + (root % 12 + 12 - OPEN_ROOT_FROM % 12) % 12;
    let iv = quality.intervals();
    let top = if iv.len() == 4 { iv[3] + 12 } else { 24 };
    vec![base, base + iv[2], base + iv[1] + 12, base + top]
}

/// Range of the four-part bass (E2..F#3).
const BASS: (u8, u8) = (40, 54);
/// Ranges of the upper voices: tenor, alto, soprano.
const UPPER: [(u8, u8); 3] = [(48, 67), (55, 74), (60, 79)];
/// Where the voices sit when there is no previous chord to lead from.
const CENTRE: [u8; 4] = [48, 57, 64, 69];
/// Cost of a pair of voices moving in parallel fifths or octaves (in semitones of movement).
const PARALLEL_COST: i32 = 12;
/// Cost of doubling the third of a triad.
const DOUBLED_THIRD_COST: i32 = 4;
/// Cost of doubling the fifth of a triad (the root is the note to double).
const DOUBLED_FIFTH_COST: i32 = 2;

/// Four-part voicing with voice leading: a bass on the root and three upper voices (tenor, alto,
/// soprano), each chord voiced as close as it can be to the previous one (the least total
/// movement, the bass counting half), with every chord tone of a triad present (the root doubled
/// rather than the third) and a seventh chord's third and seventh present, upper voices at most
/// an octave apart, no voice crossing, and parallel fifths or octaves between any two voices
/// avoided unless every other voicing moves far more. Allocated once; [`FourPart::voice`]
/// allocates only the returned notes.
#[derive(Debug, Clone, Default)]
pub struct FourPart {
    /// The last chord's voices (bass, tenor, alto, soprano); `None` at the start or after
    /// [`FourPart::reset`] (and after N).
    previous: Option<[u8; 4]>,
}

impl FourPart {
    /// Forgets the previous chord (the next is voiced around the middle of each range).
    pub fn reset(&mut self) {
        self.previous = None;
    }

    /// Leads on from `voices` (bass first; a chord played from elsewhere), or from nothing.
    pub fn continue_from(&mut self, voices: Option<[u8; 4]>) {
        self.previous = voices;
    }

    /// The voices of `chord` (bass first); N gives none and forgets the previous chord.
    pub fn voice(&mut self, chord: Chord) -> Vec<u8> {
        match self.best(chord) {
            Some(v) => {
                self.previous = Some(v);
                v.to_vec()
            }
            None => {
                self.previous = None;
                Vec::new()
            }
        }
    }

    /// The cheapest voicing of `chord` after [`Self::previous`] (exhaustive: a few hundred
    /// candidates).
    fn best(&self, chord: Chord) -> Option<[u8; 4]> {
        let Chord::Some { root, quality } = chord else {
            return None;
        };
        let pcs = chord.pitch_classes();
        let third = (root + quality.intervals()[1]) % 12;
        let seventh = quality.intervals().get(3).map(|iv| (root + iv) % 12);
        let tones = |(lo, hi): (u8, u8)| (lo..=hi).filter(move |p| pcs & (1 << (p % 12)) != 0);
        let mut best: Option<(i32, [u8; 4])> = None;
        for bass in tones(BASS).filter(|p| p % 12 == root) {
            for t in tones(UPPER[0]).filter(|&t| t >= bass + 3) {
                for a in tones(UPPER[1]).filter(|&a| a > t && a - t <= 12) {
                    for s in tones(UPPER[2]).filter(|&s| s > a && s - a <= 12) {
                        let v = [bass, t, a, s];
                        let mut mask = 0u16;
                        v.iter().for_each(|p| mask |= 1 << (p % 12));
                        let complete = match seventh {
                            // A seventh chord: third and seventh (the fifth may go).
                            Some(sv) => mask & (1 << third) != 0 && mask & (1 << sv) != 0,
                            None => mask == pcs,
                        };
                        if !complete {
                            continue;
                        }
                        let cost = self.cost(&v, root, third, seventh.is_none());
                        if best.is_none_or(|(c, _)| cost < c) {
                            best = Some((cost, v));
                        }
                    }
                }
            }
        }
        best.map(|(_, v)| v)
    }

    /// Movement from the previous chord (or from the centre of the ranges), parallels and a
    /// doubled third.
    fn cost(&self, v: &[u8; 4], root: u8, third: u8, triad: bool) -> i32 {
        let from = self.previous.unwrap_or(CENTRE);
        let moved = |i: usize| (v[i] as i32 - from[i] as i32).abs();
        let mut cost = moved(0) / 2 + moved(1) + moved(2) + moved(3);
        if let Some(prev) = self.previous {
            for i in 0..4 {
                for j in i + 1..4 {
                    let before = (prev[j] as i32 - prev[i] as i32).rem_euclid(12);
                    let now = (v[j] as i32 - v[i] as i32).rem_euclid(12);
                    let both_move = prev[i] != v[i] && prev[j] != v[j];
                    if both_move && before == now && (now == 0 || now == 7) {
                        cost += PARALLEL_COST;
                    }
                }
            }
        }
        if triad && v.iter().filter(|p| *p % 12 == third).count() > 1 {
            cost += DOUBLED_THIRD_COST;
        }
        if triad && v.iter().filter(|p| *p % 12 == root).count() < 2 && v[0] % 12 == root {
            cost += DOUBLED_FIFTH_COST;
        }
        cost
    }
}

/// The notes of `chord` in one of the spacings (`four_part` keeps the voice leading's state).
pub fn voice(chord: Chord, spacing: Spacing, four_part: &mut FourPart) -> Vec<u8> {
    match spacing {
        Spacing::Close => close_voicing(chord),
        Spacing::Open => open_voicing(chord),
        Spacing::FourPart => four_part.voice(chord),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harmony::Quality;

    #[test]
    fn close_voicings() {
        assert_eq!(
            close_voicing(Chord::new(0, Quality::Major)),
            vec![48, 52, 55]
        );
        assert_eq!(
            close_voicing(Chord::new(11, Quality::HalfDiminished7)),
            vec![59, 62, 65, 69]
        );
        assert!(close_voicing(Chord::None).is_empty());
        for chord in Chord::vocabulary().skip(1) {
            let v = close_voicing(chord);
            assert!(
                v.windows(2).all(|w| w[0] < w[1] && w[1] - w[0] <= 5),
                "{chord}"
            );
            assert_eq!(
                crate::harmony::recognise::pitch_class_mask(&v),
                chord.pitch_classes()
            );
        }
    }

    #[test]
    fn open_voicings_hold_the_chord_spread_over_more_than_an_octave() {
        assert_eq!(
            open_voicing(Chord::new(0, Quality::Major)),
            vec![48, 55, 64, 72]
        );
        assert_eq!(
            open_voicing(Chord::new(7, Quality::Dominant7)),
            vec![43, 50, 59, 65]
        );
        assert!(open_voicing(Chord::None).is_empty());
        for chord in Chord::vocabulary().skip(1) {
            let v = open_voicing(chord);
            assert!(v.windows(2).all(|w| w[0] < w[1]), "{chord}: {v:?}");
            assert!(v[3] - v[0] > 12, "{chord}: {v:?}");
            assert!((40..52).contains(&v[0]) && v[0] % 12 == chord.root().unwrap());
            assert_eq!(
                crate::harmony::recognise::pitch_class_mask(&v),
                chord.pitch_classes()
            );
        }
    }

    /// Whether two consecutive voicings move any two voices in parallel fifths or octaves.
    fn parallels(a: &[u8], b: &[u8]) -> bool {
        (0..4).any(|i| {
            (i + 1..4).any(|j| {
                let before = (a[j] as i32 - a[i] as i32).rem_euclid(12);
                let now = (b[j] as i32 - b[i] as i32).rem_euclid(12);
                a[i] != b[i] && a[j] != b[j] && before == now && (now == 0 || now == 7)
            })
        })
    }

    #[test]
    fn four_part_moves_little_and_avoids_parallels() {
        let c = Chord::new(0, Quality::Major);
        let f = Chord::new(5, Quality::Major);
        let g = Chord::new(7, Quality::Major);
        let g7 = Chord::new(7, Quality::Dominant7);
        let am = Chord::new(9, Quality::Minor);
        let dm = Chord::new(2, Quality::Minor);
        let mut fp = FourPart::default();
        let progression = [c, f, g, c, am, dm, g7, c, g, am, f, c];
        let mut prev: Option<Vec<u8>> = None;
        let mut upper_moves = 0;
        for chord in progression {
            let v = fp.voice(chord);
            assert_eq!(v.len(), 4, "{chord}");
            assert_eq!(
                v[0] % 12,
                chord.root().unwrap(),
                "root in the bass: {chord} {v:?}"
            );
            assert!(v.windows(2).all(|w| w[0] < w[1]), "{chord}: {v:?}");
            assert!(
                v[1..].windows(2).all(|w| w[1] - w[0] <= 12),
                "{chord}: {v:?}"
            );
            assert!(v.iter().all(|p| chord.contains(*p)));
            if let Some(p) = &prev {
                assert!(!parallels(p, &v), "{p:?} -> {v:?}");
                let moved: i32 = (1..4).map(|i| (v[i] as i32 - p[i] as i32).abs()).sum();
                upper_moves += moved;
                // Common tones held: C → F keeps C; G → C keeps G.
                assert!(moved <= 8, "{p:?} -> {v:?} ({chord})");
            }
            prev = Some(v);
        }
        // Eleven changes, the upper voices moving about a step each on average.
        assert!(upper_moves <= 11 * 5, "{upper_moves}");
        // A triad has all three tones, a seventh chord its third and seventh.
        let v = fp.voice(g7);
        let mask = crate::harmony::recognise::pitch_class_mask(&v);
        assert!(mask & (1 << 11) != 0 && mask & (1 << 5) != 0, "{v:?}");
        // N: nothing, and the next chord starts afresh.
        assert!(fp.voice(Chord::None).is_empty());
        assert_eq!(fp.voice(c).len(), 4);
    }

    /// Naive voice leading (each chord in root position, parallel motion) would move every voice
    /// in parallel from C to D minor; the voice leader does not.
    #[test]
    fn four_part_avoids_the_parallels_of_root_position_steps() {
        for (a, b) in [(0u8, 2u8), (5, 7), (7, 9), (2, 4)] {
            let mut fp = FourPart::default();
            let x = fp.voice(Chord::new(a, Quality::Major));
            let y = fp.voice(Chord::new(b, Quality::Minor));
            assert!(!parallels(&x, &y), "{x:?} -> {y:?}");
        }
    }
}
