//! Judging a note start (AUDIO THREAD): a small learned classifier that vetoes unlikely notes.
//!
//! The tracker's paths (an onset then a stable pitch, a legato change, a rise out of silence)
//! each start a note as soon as their own conditions hold. Many of the wrong notes on the
//! development renders come from conditions that hold briefly for the wrong pitch: a kalimba's
//! or celesta's attack a semitone off before it settles, a voice gliding through the
//! neighbouring semitone, an organ's or guitar's octave partial, a slow string swell that
//! reaches the tracker after its written onset. At the moment a path wants to start a note,
//! this stage sees what the tracker knows (the path, how long and how steadily the pitch held,
//! the attack's sharpness, the interval and time from the previous note, the level against the
//! previous note's, the new pitch's salience rise, the estimate's distance from the semitone)
//! and a logistic regression says how likely the start is to be a written note at that pitch
//! and time. Below [`THRESHOLD`] the start is vetoed: the run of estimates is spent and the
//! sounding note goes on (a pending onset stays open for the next pitch).
//!
//! The weights ([`WEIGHTS`]) were fitted on the development split's renders only, by
//! `continuo eval-transcription /work/dataset/dev --fit-judge` (`cli/judge_fit.rs`; labels:
//! a start is good when a written note of its pitch begins within 50 ms of its onset).
//!
//! Cost: a dot product of [`FEATURES`] numbers and one `exp`, only when a note would start;
//! no allocation.

/// Number of features (the first is the constant 1).
pub const FEATURES: usize = 17;

/// How a note was started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartPath {
    /// A flux onset, then a stable pitch.
    #[default]
    Onset,
    /// A flux onset at the pitch already sounding (re-attack).
    Repeat,
    /// No onset: a new pitch took over from the sounding note.
    LegatoFromNote,
    /// No onset: a pitch rose out of silence.
    FromSilence,
    /// No onset: the sounding pitch dipped and swelled again.
    Swell,
}

impl StartPath {
    /// A short name for dumps.
    pub fn name(self) -> &'static str {
        match self {
            StartPath::Onset => "onset",
            StartPath::Repeat => "repeat",
            StartPath::LegatoFromNote => "legato",
            StartPath::FromSilence => "silence",
            StartPath::Swell => "swell",
        }
    }
}

/// What the tracker knows when a path wants to start a note.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartContext {
    /// The path that wants to start it.
    pub path: StartPath,
    /// Hops in the run of estimates on the new pitch, in seconds.
    pub run_s: f32,
    /// Highest minus lowest fractional pitch of the run (semitones).
    pub spread: f32,
    /// Pitch confidence of this hop.
    pub confidence: f32,
    /// Highest spectral flux over the onset threshold since the onset (onset paths), else 0.
    pub flux_ratio: f32,
    /// New pitch minus the previous note's (semitones), 0 when there was none.
    pub interval: i32,
    /// There was a previous note (sounding or just ended).
    pub after_note: bool,
    /// Seconds since the previous note began.
    pub since_previous_s: f32,
    /// Short-term level now minus the previous note's peak (dB).
    pub level_vs_previous_db: f32,
    /// How far the new pitch's salience rose in the recent past (dB, 0 when it did not).
    pub salience_rise_db: f32,
    /// Several notes sound.
    pub polyphonic: bool,
    /// Distance of this hop's estimate from the note's semitone (0 … 0.5).
    pub off_centre: f32,
}

/// The features of one start (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Features(pub [f32; FEATURES]);

impl Features {
    /// Scales and bounds the context into the classifier's inputs.
    pub fn of(c: &StartContext) -> Self {
        let flag = |b: bool| f32::from(u8::from(b));
        let step = c.interval.unsigned_abs();
        let finite = |v: f32| if v.is_finite() { v } else { 0.0 };
        Self([
            1.0,
            flag(c.path == StartPath::Onset),
            flag(c.path == StartPath::LegatoFromNote),
            flag(c.path == StartPath::FromSilence),
            flag(matches!(c.path, StartPath::Repeat | StartPath::Swell)),
            (finite(c.run_s) / 0.01).min(10.0) / 10.0,
            finite(c.spread).min(1.0),
            finite(c.confidence).clamp(0.0, 1.0),
            finite(c.flux_ratio).clamp(0.0, 10.0) / 10.0,
            (step.min(24) as f32) / 12.0,
            flag(c.after_note && (step == 1 || step == 2)),
            flag(c.after_note && (step == 12 || step == 19 || step == 24)),
            if c.after_note {
                (finite(c.since_previous_s) / 0.5).min(1.0)
            } else {
                1.0
            },
            if c.after_note {
                finite(c.level_vs_previous_db).clamp(-40.0, 20.0) / 10.0
            } else {
                0.0
            },
            finite(c.salience_rise_db).clamp(0.0, 40.0) / 10.0,
            flag(c.polyphonic),
            finite(c.off_centre).clamp(0.0, 0.5) * 2.0,
        ])
    }
}

/// Logistic-regression weights, fitted by `continuo eval-transcription /work/dataset/dev
/// --fit-judge` (dev split only, 15,605 starts of which 4,210 bad).
pub const WEIGHTS: [f32; FEATURES] = [
    -0.5385, 0.3728, -0.0118, -0.6673, 0.3062, -0.0069, -2.0151, 2.2594, -0.3106, -1.2654, -0.0216,
    -0.2706, 0.2001, 0.6296, 0.3909, -0.2785, -1.2252,
];

/// Starts less likely than this to be a written note are vetoed. On dev: 0.4 mean F1 0.770,
/// 0.5 0.765 (no judge 0.765).
pub const THRESHOLD: f32 = 0.4;

/// The classifier.
#[derive(Debug, Clone, Copy)]
pub struct StartJudge {
    /// The weights ([`WEIGHTS`], or overridden for trials).
    weights: [f32; FEATURES],
    /// Veto below this probability; 0 accepts everything.
    threshold: f32,
}

impl StartJudge {
    /// The fitted judge; `tuning` may override the threshold (`judge_threshold`, 0 switches it
    /// off) and, for trials, each weight (`judge_w0` … `judge_w16`). Made in `Analyzer::new`,
    /// off the audio thread (the lookup formats names).
    pub fn new(tuning: &super::Tuning) -> Self {
        let mut weights = WEIGHTS;
        for (i, w) in weights.iter_mut().enumerate() {
            *w = tuning.get(&format!("judge_w{i}"), *w);
        }
        Self {
            weights,
            threshold: tuning.get("judge_threshold", THRESHOLD),
        }
    }

    /// Probability that the start is a written note at that pitch and time.
    pub fn probability(&self, features: &Features) -> f32 {
        let z: f32 = self
            .weights
            .iter()
            .zip(features.0.iter())
            .map(|(w, x)| w * x)
            .sum();
        if z.is_finite() {
            1.0 / (1.0 + (-z.clamp(-30.0, 30.0)).exp())
        } else {
            1.0
        }
    }

    /// Whether the start may go ahead.
    pub fn accepts(&self, features: &Features) -> bool {
        self.threshold <= 0.0 || self.probability(features) >= self.threshold
    }
}
