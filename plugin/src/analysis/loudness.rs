//! Level measurement (AUDIO THREAD): RMS in dBFS of the whole analysis frame and of its most
//! recent part, and the mapping from level to MIDI velocity.

/// Lowest level reported (dBFS); silence reads exactly this.
pub const FLOOR_DB: f32 = -120.0;

/// Fixed settings of the level meter.
#[derive(Debug, Clone, Copy)]
pub struct LoudnessConfig {
    /// Samples at the end of the frame measured for the short-term ("recent") level.
    pub recent_len: usize,
}

/// Levels of one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoudnessOutput {
    /// RMS of the whole frame, dBFS.
    pub frame_db: f32,
    /// RMS of the last `recent_len` samples, dBFS: reacts within a few ms to attacks and releases.
    pub recent_db: f32,
}

impl Default for LoudnessOutput {
    fn default() -> Self {
        Self {
            frame_db: FLOOR_DB,
            recent_db: FLOOR_DB,
        }
    }
}

/// RMS level meter. Holds no buffers: it reads the frame the analyser assembled.
pub struct Loudness {
    /// Settings, fixed at construction.
    config: LoudnessConfig,
}

/// Power → dBFS, floored.
#[inline]
pub fn power_to_db(power: f32) -> f32 {
    if power > 1e-12 {
        (10.0 * power.log10()).max(FLOOR_DB)
    } else {
        FLOOR_DB
    }
}

/// [`power_to_db`] through [`quick_db`] (within about 1e-5 dB of it): for the loops that
/// convert a value per pitch every hop (salience: 88 a hop, where `log10` was its largest cost).
#[inline]
pub fn power_to_db_quick(power: f32) -> f32 {
    if power > 1e-12 {
        quick_db(power).max(FLOOR_DB)
    } else {
        FLOOR_DB
    }
}

/// 10·log10 of a positive normal, finite `power`, to about 1e-6 dB (see [`quick_log2`]).
#[inline]
pub fn quick_db(power: f32) -> f32 {
    10.0 * std::f32::consts::LOG10_2 * quick_log2(power)
}

/// log2 of a positive normal `x`: its exponent, plus the logarithm of its mantissa (moved to
/// √½ … √2) by the series of atanh, to about 1e-7. No call and no branch (the library's
/// `log10f` is both), so loops over it vectorise.
#[inline]
fn quick_log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    if m > std::f32::consts::SQRT_2 {
        m *= 0.5;
        exponent += 1;
    }
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let ln = 2.0 * t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0 + t2 / 9.0))));
    exponent as f32 + ln * std::f32::consts::LOG2_E
}

/// Level at the attack (dBFS) → MIDI velocity 0..1 (−60 dBFS → ~0.05, −6 dBFS → 1).
#[inline]
pub fn velocity_from_db(db: f32) -> f32 {
    ((db + 62.0) / 56.0).clamp(0.05, 1.0)
}

impl Loudness {
    pub fn new(config: LoudnessConfig) -> Self {
        Self { config }
    }

    pub fn process(&mut self, frame: &[f32]) -> LoudnessOutput {
        self.levels(
            &FrameEnergies::of(frame, self.config.recent_len),
            frame.len(),
        )
    }

    /// The levels of a `frame_len`-sample frame from its sums of squares
    /// ([`FrameEnergies::of`] with this meter's `recent_len`).
    pub fn levels(&self, energies: &FrameEnergies, frame_len: usize) -> LoudnessOutput {
        if frame_len == 0 {
            return LoudnessOutput::default();
        }
        let recent = self.config.recent_len.clamp(1, frame_len);
        LoudnessOutput {
            frame_db: power_to_db((energies.recent + energies.older) / frame_len as f32),
            recent_db: power_to_db(energies.recent / recent as f32),
        }
    }

    pub fn reset(&mut self) {}
}

/// The sums of squares one hop needs from its frame: the meter's two and the pitch detector's
/// two. Each is kept in several running sums that the loop fills side by side ([`sum_sq`],
/// [`sum_sq_f64`]); added in time order they were ≈ 1 500 dependent additions per hop at
/// 48 kHz, about 5 % of the analysis.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FrameEnergies {
    /// Σ x² (f32) over the last `recent_len` samples (the meter's recent level).
    pub recent: f32,
    /// Σ x² (f32) over the samples before them.
    pub older: f32,
    /// Σ x² (f64) over the last quarter of the frame (`frame.len() / 4` samples): the quarter
    /// window's pitch energy ([`super::pitch::energy`]).
    pub quarter: f64,
    /// Σ x² (f64) over the last half (`frame.len() / 2` samples): the half window's.
    pub half: f64,
}

impl FrameEnergies {
    /// The sums of `frame` with the recent part `recent_len` long (clamped to 1..=len).
    pub fn of(frame: &[f32], recent_len: usize) -> Self {
        let n = frame.len();
        if n == 0 {
            return Self::default();
        }
        let recent_len = recent_len.clamp(1, n);
        let (Some((older, recent)), Some(quarter), Some(half)) = (
            frame.split_at_checked(n - recent_len),
            frame.get(n - n / 4..),
            frame.get(n - n / 2..),
        ) else {
            return Self::default();
        };
        Self {
            recent: sum_sq(recent),
            older: sum_sq(older),
            quarter: sum_sq_f64(quarter),
            half: sum_sq_f64(half),
        }
    }
}

/// Σ x² in f32, kept in eight running sums (one per lane) added up at the end, so that the
/// loop vectorises instead of waiting on one chain of dependent additions.
pub fn sum_sq(x: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v * v;
        }
    }
    for (l, &v) in lanes.iter_mut().zip(rest) {
        *l += v * v;
    }
    lanes.iter().sum()
}

/// Σ x² in f64, four running sums ([`sum_sq`] in double precision).
pub fn sum_sq_f64(x: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let chunks = x.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += f64::from(v) * f64::from(v);
        }
    }
    for (l, &v) in lanes.iter_mut().zip(rest) {
        *l += f64::from(v) * f64::from(v);
    }
    lanes.iter().sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_quick_decibels_match_the_library() {
        // Powers across the range the stages see (below the −120 dB floor to far above full
        // scale).
        let mut p = 1e-14f32;
        while p < 1e6 {
            let exact = 10.0 * p.log10();
            assert!(
                (super::quick_db(p) - exact).abs() < 1e-4,
                "{p}: {} vs {exact}",
                super::quick_db(p)
            );
            let floored = super::power_to_db_quick(p);
            assert!((floored - super::power_to_db(p)).abs() < 1e-4, "{p}");
            p *= 1.37;
        }
        assert_eq!(super::power_to_db_quick(0.0), super::FLOOR_DB);
        assert_eq!(super::power_to_db_quick(f32::NAN), super::FLOOR_DB);
    }

    use super::*;

    #[test]
    fn levels() {
        let mut l = Loudness::new(LoudnessConfig { recent_len: 64 });
        let sine: Vec<f32> = (0..1024).map(|i| (i as f32 * 0.1).sin()).collect();
        let out = l.process(&sine);
        assert!((out.frame_db + 3.0).abs() < 0.2, "{}", out.frame_db);
        assert_eq!(l.process(&[0.0; 100]).frame_db, FLOOR_DB);
        assert!(velocity_from_db(-6.0) > 0.99 && velocity_from_db(-100.0) > 0.0);
    }

    #[test]
    fn lane_energies_are_the_sums() {
        let mut seed = 0x9e37_79b9u32;
        for (n, recent_len) in [
            (2048usize, 512usize),
            (256, 64),
            (2048, 100),
            (10, 3),
            (1, 5),
        ] {
            let frame: Vec<f32> = (0..n)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    (seed as f32 / u32::MAX as f32 - 0.5) * (1.0 + (i % 37) as f32 * 0.3)
                })
                .collect();
            let e = FrameEnergies::of(&frame, recent_len);
            let r = recent_len.clamp(1, n);
            let (older, recent) = frame.split_at(n - r);
            let sq = |x: &f32| f64::from(*x) * f64::from(*x);
            let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs().max(1e-30);
            let recent_seq: f64 = recent.iter().map(sq).sum();
            let older_seq: f64 = older.iter().map(sq).sum();
            assert!(close(f64::from(e.recent), recent_seq, 1e-5), "{n}");
            assert!(close(f64::from(e.older), older_seq, 1e-5), "{n}");
            let quarter: f64 = frame[n - n / 4..].iter().map(sq).sum();
            let half: f64 = frame[n - n / 2..].iter().map(sq).sum();
            assert!(close(e.quarter, quarter, 1e-12), "{n}");
            assert!(close(e.half, half, 1e-12), "{n}");
            assert_eq!(
                e.quarter.to_bits(),
                crate::analysis::pitch::energy(&frame[n - n / 4..]).to_bits()
            );
        }
    }
}
