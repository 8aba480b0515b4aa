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
        if frame.is_empty() {
            return LoudnessOutput::default();
        }
        let recent = self.config.recent_len.clamp(1, frame.len());
        let split = frame.len() - recent;
        let (old, new) = frame.split_at(split);
        let e_new: f32 = new.iter().map(|x| x * x).sum();
        let e_old: f32 = old.iter().map(|x| x * x).sum();
        LoudnessOutput {
            frame_db: power_to_db((e_new + e_old) / frame.len() as f32),
            recent_db: power_to_db(e_new / recent as f32),
        }
    }

    pub fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
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
}
