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
//! and, because what is a wrong note differs from one instrument to the next, running means of
//! some of these over the stream's recent starts (does this sound have sharp attacks, does its
//! pitch wobble, does it often land a semitone off first?). A tiny neural network
//! ([`HIDDEN`] tanh units) says how likely the start is to be a written note at that pitch and
//! time. Below [`THRESHOLD`] the start is vetoed: the sounding note goes on (a pending onset
//! stays open for the next pitch), and the run of estimates is asked about again once it is
//! twice as long (`TrackerConfig::judge_retry`; a pitch that keeps sounding gets a second
//! hearing, without counting twice in the running means).
//!
//! The weights ([`HIDDEN_WEIGHTS`], [`OUTPUT_WEIGHTS`]) were fitted on the development split's
//! renders only, by `continuo eval-transcription /work/dataset/dev --fit-judge`
//! (`cli/judge_fit.rs`; labels: a start is good when a written note of its pitch, not yet
//! claimed by an earlier start, begins within 50 ms of its onset).
//!
//! Cost: [`HIDDEN`] dot products of [`FEATURES`] numbers and as many `tanh`, only when a note
//! would start; no allocation.

/// Features of the start itself (the first is the constant 1).
pub const OWN: usize = 17;
/// Running means over the stream's recent starts (the instrument's habits).
pub const CONTEXT: usize = 6;
/// Number of inputs of the network.
pub const FEATURES: usize = OWN + CONTEXT;
/// Hidden units.
pub const HIDDEN: usize = 8;
/// Weight of the newest start in the running means (about the last seven starts count).
const CONTEXT_RATE: f32 = 0.15;
/// The running means before any start (typical values on the development renders).
const CONTEXT_START: [f32; CONTEXT] = [0.5, 0.2, 0.1, 0.2, 0.1, 0.5];

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
    /// No onset: a new partial set rose under the sounding note (`newcomer.rs`); not judged.
    Newcomer,
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
            StartPath::Newcomer => "newcomer",
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
    /// Scales and bounds the start's context into the classifier's inputs, followed by the
    /// stream's running means `habits`.
    pub fn of(c: &StartContext, habits: &[f32; CONTEXT]) -> Self {
        let flag = |b: bool| f32::from(u8::from(b));
        let step = c.interval.unsigned_abs();
        let finite = |v: f32| if v.is_finite() { v } else { 0.0 };
        Self([
            1.0,
            flag(c.path == StartPath::Onset),
            flag(matches!(
                c.path,
                StartPath::LegatoFromNote | StartPath::Newcomer
            )),
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
            habits[0],
            habits[1],
            habits[2],
            habits[3],
            habits[4],
            habits[5],
        ])
    }

    /// The values the running means follow: attack (onset path), attack sharpness, spread,
    /// distance from the semitone, a step of one or two semitones, run length.
    fn habit_values(&self) -> [f32; CONTEXT] {
        let f = &self.0;
        [f[1], f[8], f[6], f[16], f[10], f[5]]
    }
}

/// Hidden-layer weights (one row per unit, over the [`FEATURES`]; the first feature is 1).
/// Fitted by `continuo eval-transcription /work/dataset/dev --fit-judge` (dev split only).
pub const HIDDEN_WEIGHTS: [[f32; FEATURES]; HIDDEN] = [
    [
        0.8375, 0.3664, -0.3252, 0.9457, 1.4267, 0.3317, 0.5746, -0.9379, 0.8012, 0.5849, 0.1115,
        -1.7244, -1.6641, 0.5375, -0.2333, -0.3430, -0.0056, 1.2065, -1.0236, 2.0248, -1.1935,
        0.3445, -0.2984,
    ],
    [
        0.3488, 0.6826, -0.0017, 0.7192, -1.3206, 0.5789, 0.8867, -1.0691, -0.9413, -0.0231,
        0.2452, 1.0690, -0.5169, 0.0859, 0.2775, 0.1452, 0.0029, 2.2165, 1.0975, -0.8276, 1.9755,
        -0.3988, 0.3765,
    ],
    [
        -0.0664, -0.3223, 0.4926, -0.0316, -0.6035, -0.9028, 0.7572, 0.0058, 0.0496, -0.6181,
        -0.1500, 1.2916, -0.2203, -0.4427, 0.0464, 0.0407, 0.6980, -1.6587, 2.5320, 1.6699, 3.7680,
        -0.2284, 0.0350,
    ],
    [
        -0.0280, -0.1276, 0.2814, -0.1017, 0.5148, -0.0735, -0.1677, -1.3840, -0.3872, 0.3951,
        0.2264, -1.1251, -0.0214, 0.7462, -0.3826, 0.8559, -0.4189, 0.9460, 0.4905, -2.0559,
        1.9561, 0.0738, 0.8614,
    ],
    [
        0.0288, 0.2030, 0.3822, 0.9556, -0.3128, 0.5625, 1.5845, 0.5199, -0.3287, -0.3344, -0.0743,
        -0.9675, -1.4707, -0.0956, -0.1276, -0.6751, -0.6666, 1.1024, -0.3478, 0.7524, 2.1037,
        -0.9118, 0.1112,
    ],
    [
        -0.3941, -0.1461, -0.0557, 0.5526, -0.5256, -1.0663, 0.0913, 2.0883, 1.0076, 0.5579,
        -0.0447, 0.2267, 0.3925, -0.6324, 0.0104, -0.0500, 0.2549, -2.3627, 4.5400, -0.2674,
        0.1848, 0.4290, -2.2188,
    ],
    [
        -0.3707, 0.1539, -0.5386, -0.5112, 0.0848, 0.6613, 0.2163, -0.1222, 1.8462, 0.4658, 0.1534,
        -0.1630, -0.2868, 0.1369, 0.7067, -0.6712, 0.4795, 0.9856, -1.0531, -0.4027, -1.2361,
        0.0365, 0.4983,
    ],
    [
        0.9291, 0.4038, 1.1981, 0.3254, 0.1010, -0.8457, 0.6562, 0.5459, 1.2010, -1.9811, -0.1968,
        2.2140, -1.0508, 0.0403, 0.1670, 0.2338, 1.4501, -1.7800, 1.4865, -0.2932, 1.7918, 0.3666,
        -0.5312,
    ],
];

/// Output weights: bias, then one per hidden unit.
pub const OUTPUT_WEIGHTS: [f32; HIDDEN + 1] = [
    -1.4168, -3.4038, -3.0804, -4.1517, 2.7921, 2.8933, 3.4647, 3.3069, 3.3433,
];

/// Starts less likely than this to be a written note are vetoed (chosen on the held-out fifth
/// of the dev files: 0.3 kept the most good starts for the bad ones it vetoed).
pub const THRESHOLD: f32 = 0.3;

/// The network's probability that a start with `features` is a written note.
pub fn network(
    hidden: &[[f32; FEATURES]; HIDDEN],
    output: &[f32; HIDDEN + 1],
    features: &Features,
) -> f32 {
    let mut z = output[0];
    for (row, w) in hidden.iter().zip(output.iter().skip(1)) {
        let a: f32 = row.iter().zip(features.0.iter()).map(|(r, x)| r * x).sum();
        z += w * a.tanh();
    }
    if z.is_finite() {
        1.0 / (1.0 + (-z.clamp(-30.0, 30.0)).exp())
    } else {
        1.0
    }
}

/// The classifier, with the stream's running means.
#[derive(Debug, Clone, Copy)]
pub struct StartJudge {
    /// Veto below this probability; 0 accepts everything.
    threshold: f32,
    /// Running means of some features over the recent starts (see [`CONTEXT`]).
    habits: [f32; CONTEXT],
}

impl StartJudge {
    /// The fitted judge; `tuning` may override the threshold (`judge_threshold`; 0 switches the
    /// veto off).
    pub fn new(tuning: &super::Tuning) -> Self {
        Self {
            threshold: tuning.get("judge_threshold", THRESHOLD),
            habits: CONTEXT_START,
        }
    }

    /// Forgets the stream's habits.
    pub fn reset(&mut self) {
        self.habits = CONTEXT_START;
    }

    /// The inputs for a start in `context`.
    pub fn features(&self, context: &StartContext) -> Features {
        Features::of(context, &self.habits)
    }

    /// Probability that the start is a written note at that pitch and time.
    pub fn probability(&self, features: &Features) -> f32 {
        network(&HIDDEN_WEIGHTS, &OUTPUT_WEIGHTS, features)
    }

    /// Whether the start may go ahead, without counting it in the running means (a start
    /// asked about again).
    pub fn accepts(&self, features: &Features) -> bool {
        self.threshold <= 0.0 || self.probability(features) >= self.threshold
    }

    /// Whether the start may go ahead; every start judged updates the running means.
    pub fn judge(&mut self, features: &Features) -> bool {
        let accepted = self.threshold <= 0.0 || self.probability(features) >= self.threshold;
        for (h, v) in self.habits.iter_mut().zip(features.habit_values()) {
            *h += CONTEXT_RATE * (v - *h);
        }
        accepted
    }
}
