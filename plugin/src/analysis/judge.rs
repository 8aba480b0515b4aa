//! Judging a note start (AUDIO THREAD): a small learned classifier that vetoes unlikely notes.
//!
//! The tracker's paths (an onset then a stable pitch, a legato change, a rise out of silence)
//! each start a note as soon as their own conditions hold. Many of the wrong notes on the
//! development renders come from conditions that hold briefly for the wrong pitch: a kalimba's
//! or celesta's attack a semitone off before it settles, a voice gliding through the
//! neighbouring semitone, an organ's or guitar's octave partial, a slow string swell that
//! reaches the tracker after its written onset. At the moment a path wants to start a note,
//! this stage sees what the tracker knows (the path, how long and how steadily the pitch held,
//! the attack's sharpness, the register, the interval and time from the previous note, the level against the
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
//! Since 2026-12-06 the judge also reads the frame model (`frame_net.rs`): its probability
//! of the new note now, 25 ms before and at the start's dated onset. The tracker's estimates
//! reach a slow swell's or an overlapped note's pitch late; the frame model names it 30–70 ms
//! into the note two to three times as often, and with it the judge tells those starts from
//! wrong ones far better (journal, *The note-start judge hears the frame model*).
//!
//! The weights ([`HIDDEN_WEIGHTS`], [`OUTPUT_WEIGHTS`]) were fitted on renders of
//! development-split melodies only, none the frame model was trained on: 300 renders of dev
//! melodies, every instrument of the renderer in turn (`cargo xtask render-dataset --out
//! /tmp/jw --count 300 --seed 2033 --programs <the 49 of the README>`), by `continuo
//! eval-transcription /tmp/jw/dev --fit-judge --set fit_judging=1` (`cli/judge_fit.rs`: the
//! starts the tracker meets with the previous judge vetoing; labels: a start is good when a
//! written note of its pitch, not yet claimed by an earlier start that went ahead, begins
//! within 50 ms of its onset). Refit whenever the tracker's paths or the frame model change: a
//! judge fitted on the starts of an older tracker vetoes good starts of the new one (fitted on
//! 2026-11-29, it vetoed 240 good starts for 482 bad ones on the held-out fifth two days
//! later; refitted, 231 for 637 at the higher threshold).
//!
//! Cost: [`HIDDEN`] dot products of [`FEATURES`] numbers and as many `tanh`, only when a note
//! would start; no allocation.

/// Features of the start itself (the first is the constant 1).
pub const OWN: usize = 21;
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
    /// A flux onset whose note the attack reader named (`attack_reader.rs`); not judged.
    Attack,
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
            StartPath::Attack => "attack",
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
    /// The new note (MIDI): what a wrong start looks like depends on the register (a bass
    /// note's pitch needs two of its long periods and comes late after a soft pluck; a high
    /// note's first hops are often a struck bar's or a string's upper partials).
    pub midi: f32,
    /// The frame model's probability (`frame_net.rs`) of the new note now, 25 ms before and at
    /// the start's dated onset (0 without the model): it names the sounding note of slow swells
    /// and overlapping notes long before the estimates settle on it.
    pub frame_now: f32,
    pub frame_before: f32,
    pub frame_onset: f32,
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
            (finite(c.midi).clamp(24.0, 108.0) - 60.0) / 24.0,
            finite(c.frame_now).clamp(0.0, 1.0),
            finite(c.frame_before).clamp(0.0, 1.0),
            finite(c.frame_onset).clamp(0.0, 1.0),
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
/// Fitted by `continuo eval-transcription /work/dataset/dev --fit-judge --fit-also …` (see the
/// module documentation; development-split melodies only).
pub const HIDDEN_WEIGHTS: [[f32; FEATURES]; HIDDEN] = [
    [
        -0.4796, 1.5408, -0.9402, -1.8194, 0.7690, -0.3584, -0.5602, 0.7970, 1.0105, 0.3054,
        -0.3866, 0.4696, 1.2625, -0.2553, -0.3100, 0.2031, 0.0412, -0.4575, 0.2998, -0.0529,
        1.4951, 0.1142, -0.3811, 0.1059, 0.5076, -0.8404, -0.0018,
    ],
    [
        1.0765, 0.4463, 0.4919, 0.1716, -0.0986, 1.0509, -0.1383, -0.2971, -0.5046, 0.0598,
        -0.2804, -1.3338, 0.3220, -0.2174, -0.1622, -0.3421, 0.4472, 0.3982, -0.3338, 0.2121,
        0.1910, -0.7277, -1.7418, 1.5747, -1.2242, 0.3985, 0.7587,
    ],
    [
        0.4028, 0.7981, -0.5032, -0.1447, 0.2944, 0.0175, 0.1420, 0.8390, -0.1041, 0.1996, 0.3589,
        0.1908, -0.1716, 0.5559, -0.0101, -0.5904, -0.4396, 1.4842, -1.4811, -0.2956, 0.3911,
        0.7411, 0.9560, -0.2544, -0.4593, 0.8855, 0.1677,
    ],
    [
        0.1305, 1.4505, -1.3930, -0.4860, 0.8240, -0.3407, -0.6201, -0.2324, 2.0254, -1.6633,
        0.3940, -0.5183, -0.2924, 0.3432, 0.0145, -0.0811, 0.1933, 0.8895, 0.0076, -0.4272, 0.1047,
        0.3809, -1.7223, 0.3981, 0.7259, 0.2134, 0.1550,
    ],
    [
        0.0554, -0.2118, 0.1696, 0.2075, -0.2139, -0.3684, 0.9956, -0.6258, 0.5421, -0.0829,
        -0.0575, 0.2859, -0.4306, -0.2317, -0.1687, 0.1676, -0.0997, 0.7332, -1.3208, -0.8346,
        -0.1721, 0.3704, -0.1877, 1.6321, 0.4005, -0.0659, -0.7400,
    ],
    [
        -0.3091, 1.2554, -0.1928, -0.2810, -0.8927, 0.7295, -0.8527, -0.8596, 0.1624, 1.2850,
        -0.1615, -1.0834, 2.0100, 0.2192, 0.4318, -0.3315, 0.2923, 0.5964, -0.3754, -0.1277,
        -0.6422, -0.8622, -0.4450, 0.9327, 0.4388, -0.2794, -0.3562,
    ],
    [
        0.9792, 0.7322, -0.5388, 0.8763, 0.0936, -0.5672, -1.9431, -0.5792, 0.0711, 1.2855, 0.0142,
        0.1245, 0.2297, -0.3084, 0.2884, -0.1968, 0.5035, 0.1811, 0.2031, 0.3590, -0.0989, -1.3845,
        -0.9081, -1.7344, 0.5426, -0.1489, -0.6546,
    ],
    [
        0.9652, -0.4675, -0.2714, 1.8102, -0.3843, 1.0907, 0.3749, -0.8858, 0.4952, -0.3059,
        0.3837, -0.1520, 0.1874, 0.4647, 0.2862, 0.5407, 0.2788, -0.8680, -0.4176, -0.6036, 0.2425,
        -0.5031, 2.1008, -0.9439, -0.1524, -0.1794, -0.0224,
    ],
];

/// Output weights: bias, then one per hidden unit.
pub const OUTPUT_WEIGHTS: [f32; HIDDEN + 1] = [
    3.2928, -2.9557, -2.7934, -2.5572, 2.8844, -3.5981, 2.7536, -3.0149, -2.5507,
];

/// Starts less likely than this to be a written note are vetoed (chosen on the held-out fifth
/// of the fitting files, 0.4–0.5 vetoing the most bad starts for the good ones, and on the
/// whole dev split, where 0.5 and 0.6 scored best).
pub const THRESHOLD: f32 = 0.5;

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

    /// The stream's running means (see [`Features::of`]; the second is the attacks' flux peak
    /// over the threshold, a tenth).
    pub fn habits(&self) -> &[f32; CONTEXT] {
        &self.habits
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
