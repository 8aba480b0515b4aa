//! The chord model: a hidden Markov model of one chord per beat under a melody, in key-relative
//! terms, trained from labelled four-part chorales.
//!
//! *States* are the 121 chords of the vocabulary transposed to the key's tonic (so "V7 in a
//! major key" is one state whatever the key). *Transitions* depend on the key's mode and the
//! beat's place in a 4-beat bar: the chord stays with probability σ(mode, place); otherwise it
//! moves to another chord by the mode's change counts, smoothed toward how common each chord
//! is. *Observations* are the melody: the scale degree sounding at the beat's start, and the
//! degrees that start later in the beat weighted by the share of the beat they take; each
//! chord's degree distribution is smoothed toward its quality's distribution of intervals above
//! the root (pooled over roots and modes), which lets a rare chord borrow what common chords of
//! its kind teach. Those observations are weighted ([`Settings::generative_weight`]) and joined by
//! the context classifier's ([`super::context`]: P(chord | the melody around the beat), weighted
//! by [`Settings::context_weight`]), which carries most of the accuracy.
//!
//! Two ways to read a melody:
//! - [`HarmonyModel::harmonise`] (*offline*): forward–backward over the whole melody, each beat's
//!   most probable chord (Viterbi: [`HarmonyModel::harmonise_viterbi`]); every chord is chosen
//!   knowing the melody after it.
//! - [`HarmonyModel::harmonise_causal`] (*causal*, the live harmoniser): forward filtering; the
//!   chord of a beat is the most probable one given everything before the beat and the melody
//!   note sounding at its start (a live harmoniser hears that note as it starts), the beat's later
//!   notes only counting for the beats after.
//!
//! The model is small: sparse counts in a serde file (JSON, gzip), the probabilities made at load.

use super::chord::{Chord, Quality, VOCABULARY_SIZE};
use super::context::{features, Context, ContextFile, FeatureSet, Sequence, Training, REACH};
use super::place::Places;
use crate::model::Note;
use crate::music::{KeySignature, Mode};
use serde::{Deserialize, Serialize};

/// Number of hidden states (key-relative chords, N included).
pub const STATES: usize = VOCABULARY_SIZE;
/// Places in the bar the transitions distinguish (beats of a 4/4 bar).
pub const PLACES: usize = 4;
/// The `format` field of a harmony model file.
pub const FORMAT: &str = "continuo-harmony-model";
/// The version this build writes (it reads 1, without the context classifier, too).
pub const FORMAT_VERSION: u32 = 2;

/// What the melody does in one beat, in absolute pitch classes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BeatMelody {
    /// The pitch class sounding at the beat's start (a note starting then or held into it).
    pub on_beat: Option<u8>,
    /// Pitch classes starting inside the beat, each weighted by the share of the beat it covers.
    pub off_beat: [f32; 12],
    /// The pitch class sounding at the previous beat's start.
    pub previous: Option<u8>,
    /// The pitch class sounding at the next beat's start (known offline only).
    pub next: Option<u8>,
}

impl BeatMelody {
    /// The same beat in scale degrees above `tonic`.
    fn relative(&self, tonic: u8) -> BeatMelody {
        let mut off = [0f32; 12];
        for (pc, w) in self.off_beat.iter().enumerate() {
            off[(pc + 12 - tonic as usize % 12) % 12] = *w;
        }
        let rel = |p: u8| (p % 12 + 12 - tonic % 12) % 12;
        BeatMelody {
            on_beat: self.on_beat.map(rel),
            off_beat: off,
            previous: self.previous.map(rel),
            next: self.next.map(rel),
        }
    }
}

/// The melody of each of `beats` beats (beat `b` is `[b, b + 1)`): a monophonic line (if notes
/// overlap, the one that started last counts as sounding).
pub fn melody_beats(melody: &[Note], beats: usize) -> Vec<BeatMelody> {
    let mut out = vec![BeatMelody::default(); beats];
    const TOLERANCE: f64 = 1.0 / 48.0;
    for n in melody {
        if !(n.onset.is_finite() && n.duration.is_finite()) || n.duration <= 0.0 {
            continue;
        }
        let (on, off) = (n.onset.max(0.0), n.onset + n.duration);
        let first = (on + TOLERANCE).floor().max(0.0) as usize;
        let pc = n.pitch % 12;
        // The beat it starts in (on the beat or inside it), then the beats it is held into.
        for (b, beat) in out.iter_mut().enumerate().skip(first.saturating_sub(1)) {
            let (start, end) = (b as f64, b as f64 + 1.0);
            if start >= off - TOLERANCE {
                break;
            }
            if on <= start + TOLERANCE {
                beat.on_beat = Some(pc);
            } else if on < end {
                beat.off_beat[pc as usize] += (off.min(end) - on) as f32;
            }
        }
    }
    for b in 0..out.len() {
        out[b].previous = b.checked_sub(1).and_then(|p| out[p].on_beat);
        out[b].next = out.get(b + 1).and_then(|n| n.on_beat);
    }
    out
}

/// The model's settings: smoothing strengths and observation weights. Chosen on the dev split
/// (`continuo eval-harmony --split dev --set NAME=VALUE`), never on the held-out one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Pseudo-counts pulling each chord's change distribution toward the chords' overall frequency.
    pub transition_smoothing: f32,
    /// Pseudo-counts pulling each chord's melody distribution toward its quality's.
    pub emission_smoothing: f32,
    /// Weight of the off-beat melody notes' log-likelihood (the on-beat note's is 1).
    pub off_beat_weight: f32,
    /// Weight of the transition log-probabilities (1 = the plain HMM).
    pub transition_weight: f32,
    /// Whether the stay probability depends on the place in the bar (else one per mode).
    pub use_bar_place: bool,
    /// Weight of the neighbouring beats' melody notes' log-likelihood (previous and next).
    pub neighbour_weight: f32,
    /// Weight of the HMM's own melody observations (on-beat, off-beat, neighbours).
    pub generative_weight: f32,
    /// Weight of the context classifier's scaled likelihood ([`super::context`]); 0 = off.
    pub context_weight: f32,
    /// How much of the chord's prior the classifier's posterior is divided by (1 = the scaled
    /// likelihood P(chord | melody) / P(chord), 0 = the posterior itself).
    pub context_prior: f32,
    /// Training: the classifier's L2 penalty.
    pub context_l2: f32,
    /// Training: the classifier's passes over the data.
    pub context_epochs: f32,
    /// Training: whether the offline classifier knows the melody's last two beats (the cadence).
    pub use_end: bool,
    /// Training: the classifier's L1 penalty (sparsity: the file's size).
    pub context_l1: f32,
    /// Training: context weights smaller than this are left out of the file.
    pub context_prune: f32,
    /// Training: chords seen fewer times than this in a mode are no classes of the classifier.
    pub context_min_count: f32,
    /// Training: more context features, a bit mask ([`super::context::FeatureSet`]).
    pub extra_features: f32,
    /// Decoding: choose the beat's major/minor triad by the summed probability of the chords
    /// that reduce to it (C, C7, Cmaj7 count together), then the likeliest chord of that triad.
    pub pool_major_minor: bool,
    /// Training: the key the examples are read in: 0 the chorale's (all voices), 1 the
    /// soprano's (as at inference), 2 both (each chorale twice).
    pub train_key: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            transition_smoothing: 2.0,
            emission_smoothing: 4.0,
            off_beat_weight: 0.5,
            transition_weight: 1.0,
            use_bar_place: true,
            neighbour_weight: 0.0,
            generative_weight: 0.3,
            context_weight: 1.5,
            context_prior: 0.0,
            context_l2: 1e-4,
            context_epochs: 8.0,
            use_end: false,
            context_l1: 0.03,
            context_prune: 0.1,
            context_min_count: 20.0,
            extra_features: 7.0,
            pool_major_minor: true,
            train_key: 1.0,
        }
    }
}

impl Settings {
    /// The context classifier's optional features.
    pub fn feature_set(&self) -> FeatureSet {
        FeatureSet {
            use_end: self.use_end,
            extra: self.extra_features.round().clamp(0.0, 255.0) as u32,
        }
    }

    /// Sets one setting by name (for `--set NAME=VALUE`).
    pub fn set(&mut self, name: &str, value: &str) -> anyhow::Result<()> {
        let v: f32 = value
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}: {value:?} is not a number"))?;
        if !v.is_finite() || v < 0.0 {
            anyhow::bail!("{name}: {value} must be a finite number ≥ 0");
        }
        match name {
            "transition_smoothing" => self.transition_smoothing = v,
            "emission_smoothing" => self.emission_smoothing = v,
            "off_beat_weight" => self.off_beat_weight = v,
            "transition_weight" => self.transition_weight = v,
            "use_bar_place" => self.use_bar_place = v != 0.0,
            "neighbour_weight" => self.neighbour_weight = v,
            "generative_weight" => self.generative_weight = v,
            "context_weight" => self.context_weight = v,
            "context_prior" => self.context_prior = v,
            "context_l2" => self.context_l2 = v,
            "context_epochs" => self.context_epochs = v,
            "use_end" => self.use_end = v != 0.0,
            "extra_features" => self.extra_features = v,
            "context_prune" => self.context_prune = v,
            "context_l1" => self.context_l1 = v,
            "context_min_count" => self.context_min_count = v,
            "pool_major_minor" => self.pool_major_minor = v != 0.0,
            "train_key" => self.train_key = v,
            _ => anyhow::bail!(
                "unknown setting {name:?} (transition_smoothing, emission_smoothing, \
                 off_beat_weight, transition_weight, use_bar_place, neighbour_weight, \
                 generative_weight, context_weight, context_prior, context_l2, context_l1, context_epochs, \
                 use_end, context_prune, context_min_count, extra_features, pool_major_minor, train_key)"
            ),
        }
        Ok(())
    }
}

/// One training example: a key, its melody and its chord labels, beat by beat.
pub struct Example<'a> {
    /// The key the chords and melody are made relative to.
    pub key: KeySignature,
    /// The melody per beat ([`melody_beats`]).
    pub melody: &'a [BeatMelody],
    /// The chord of each beat (as long as `melody`).
    pub chords: &'a [Chord],
}

/// The counts a model is made from, per mode (0 = major, 1 = minor); what the file stores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// First chord of a piece: (mode, state, count).
    pub starts: Vec<(u8, u16, u32)>,
    /// How often each state occurs: (mode, state, count).
    pub states: Vec<(u8, u16, u32)>,
    /// Stays (same chord as the beat before) and changes, per mode and place in the bar:
    /// `[mode][place] = (stays, changes)`.
    pub stays: [[(u32, u32); PLACES]; 2],
    /// Chord changes: (mode, from, to, count), from ≠ to.
    pub changes: Vec<(u8, u16, u16, u32)>,
    /// On-beat melody degrees: (mode, state, degree, count).
    pub on_beat: Vec<(u8, u16, u8, u32)>,
    /// Off-beat melody degrees, weighted by beat share: (mode, state, degree, weight).
    pub off_beat: Vec<(u8, u16, u8, f32)>,
    /// The previous beat's on-beat degree: (mode, state, degree, count).
    pub previous_beat: Vec<(u8, u16, u8, u32)>,
    /// The next beat's on-beat degree: (mode, state, degree, count).
    pub next_beat: Vec<(u8, u16, u8, u32)>,
}

/// A harmony model file: counts, settings and where they come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written.
    pub version: u32,
    /// What it was trained on and how (the command, the corpus, the split).
    pub provenance: String,
    /// Names of the training files.
    pub trained_on: Vec<String>,
    /// Beats trained on.
    pub beats: usize,
    /// The settings the model runs with.
    pub settings: Settings,
    /// The counts.
    pub counts: Counts,
    /// The context classifier's weights (empty in version 1 files: the classifier is off).
    #[serde(default)]
    pub context: ContextFile,
}

/// A trained model, probabilities ready (allocated at load, about 0.5 MB).
#[derive(Debug, Clone)]
pub struct HarmonyModel {
    /// The file it was made from (for saving and reporting).
    pub file: ModelFile,
    /// log P(first state) per mode.
    log_start: [Vec<f32>; 2],
    /// log transition [mode][place][from * STATES + to].
    log_transition: [[Vec<f32>; PLACES]; 2],
    /// The same as probabilities (for forward–backward without logarithms in the inner loop).
    transition: [[Vec<f32>; PLACES]; 2],
    /// log P(on-beat degree | state) [mode][state * 12 + degree].
    log_on_beat: [Vec<f32>; 2],
    /// log P(off-beat degree | state) [mode][state * 12 + degree].
    log_off_beat: [Vec<f32>; 2],
    /// log P(previous beat's on-beat degree | state) [mode][state * 12 + degree].
    log_previous: [Vec<f32>; 2],
    /// log P(next beat's on-beat degree | state) [mode][state * 12 + degree].
    log_next: [Vec<f32>; 2],
    /// log P(state) per mode (the chord's prior the classifier's posterior is divided by).
    log_prior: [Vec<f32>; 2],
    /// The context classifier (`None` when the file has none).
    context: Option<Context>,
    /// Each state's major/minor triad (its own index for chords without one, and N).
    triad_of: Vec<usize>,
}

fn mode_index(mode: Mode) -> usize {
    match mode {
        Mode::Major => 0,
        Mode::Minor => 1,
    }
}

/// The key-relative state of an absolute chord.
pub fn relative_state(chord: Chord, tonic: u8) -> usize {
    chord.transposed(-(tonic as i32)).index()
}

/// The absolute chord of a key-relative state.
pub fn absolute_chord(state: usize, tonic: u8) -> Chord {
    Chord::from_index(state).transposed(tonic as i32)
}

impl Counts {
    /// Counts from labelled examples.
    pub fn from_examples<'a>(examples: impl IntoIterator<Item = Example<'a>>) -> (Counts, usize) {
        let mut starts = vec![[0u32; STATES]; 2];
        let mut states = vec![[0u32; STATES]; 2];
        let mut stays = [[(0u32, 0u32); PLACES]; 2];
        let mut changes = vec![vec![0u32; STATES * STATES]; 2];
        let mut on = vec![vec![0u32; STATES * 12]; 2];
        let mut off = vec![vec![0f32; STATES * 12]; 2];
        let mut previous = vec![vec![0u32; STATES * 12]; 2];
        let mut next = vec![vec![0u32; STATES * 12]; 2];
        let mut beats = 0;
        for ex in examples {
            let m = mode_index(ex.key.mode);
            let mut prev: Option<usize> = None;
            for (b, (mel, chord)) in ex.melody.iter().zip(ex.chords).enumerate() {
                let s = relative_state(*chord, ex.key.tonic);
                let mel = mel.relative(ex.key.tonic);
                beats += 1;
                states[m][s] += 1;
                match prev {
                    None => starts[m][s] += 1,
                    Some(p) if p == s => stays[m][b % PLACES].0 += 1,
                    Some(p) => {
                        stays[m][b % PLACES].1 += 1;
                        changes[m][p * STATES + s] += 1;
                    }
                }
                if let Some(d) = mel.on_beat {
                    on[m][s * 12 + d as usize] += 1;
                }
                for (d, w) in mel.off_beat.iter().enumerate() {
                    off[m][s * 12 + d] += w;
                }
                if let Some(d) = mel.previous {
                    previous[m][s * 12 + d as usize] += 1;
                }
                if let Some(d) = mel.next {
                    next[m][s * 12 + d as usize] += 1;
                }
                prev = Some(s);
            }
        }
        let mut c = Counts {
            stays,
            ..Counts::default()
        };
        for m in 0..2 {
            let mu = m as u8;
            for s in 0..STATES {
                if starts[m][s] > 0 {
                    c.starts.push((mu, s as u16, starts[m][s]));
                }
                if states[m][s] > 0 {
                    c.states.push((mu, s as u16, states[m][s]));
                }
                for t in 0..STATES {
                    let n = changes[m][s * STATES + t];
                    if n > 0 {
                        c.changes.push((mu, s as u16, t as u16, n));
                    }
                }
                for d in 0..12 {
                    if on[m][s * 12 + d] > 0 {
                        c.on_beat.push((mu, s as u16, d as u8, on[m][s * 12 + d]));
                    }
                    if off[m][s * 12 + d] > 0.0 {
                        c.off_beat.push((mu, s as u16, d as u8, off[m][s * 12 + d]));
                    }
                    if previous[m][s * 12 + d] > 0 {
                        c.previous_beat
                            .push((mu, s as u16, d as u8, previous[m][s * 12 + d]));
                    }
                    if next[m][s * 12 + d] > 0 {
                        c.next_beat
                            .push((mu, s as u16, d as u8, next[m][s * 12 + d]));
                    }
                }
            }
        }
        (c, beats)
    }
}

/// Checks an index read from a file.
fn check(mode: u8, state: u16, degree: u8) -> Result<(usize, usize, usize), String> {
    if mode > 1 || state as usize >= STATES || degree >= 12 {
        return Err(format!(
            "entry out of range (mode {mode}, state {state}, degree {degree})"
        ));
    }
    Ok((mode as usize, state as usize, degree as usize))
}

impl HarmonyModel {
    /// Trains a model on labelled examples.
    pub fn train<'a>(
        examples: impl IntoIterator<Item = Example<'a>>,
        settings: Settings,
        provenance: String,
        trained_on: Vec<String>,
    ) -> HarmonyModel {
        let examples: Vec<Example<'a>> = examples.into_iter().collect();
        let sequences: Vec<Sequence> = examples
            .iter()
            .map(|ex| Sequence {
                mode: mode_index(ex.key.mode),
                melody: ex.melody.iter().map(|b| b.relative(ex.key.tonic)).collect(),
                states: ex
                    .chords
                    .iter()
                    .map(|c| relative_state(*c, ex.key.tonic))
                    .collect(),
            })
            .collect();
        let context = if settings.context_weight > 0.0 {
            Context::train(
                &sequences,
                Training {
                    l2: settings.context_l2,
                    epochs: settings.context_epochs.round().clamp(1.0, 100.0) as usize,
                    set: settings.feature_set(),
                    prune: settings.context_prune,
                    l1: settings.context_l1,
                    min_count: settings.context_min_count.round().clamp(1.0, 1e6) as u32,
                },
            )
        } else {
            ContextFile::default()
        };
        let (counts, beats) = Counts::from_examples(examples);
        let file = ModelFile {
            context,
            format: FORMAT.to_string(),
            version: FORMAT_VERSION,
            provenance,
            trained_on,
            beats,
            settings,
            counts,
        };
        HarmonyModel::from_file(file).expect("counts made here are in range")
    }

    /// The same counts with other settings.
    pub fn with_settings(&self, settings: Settings) -> HarmonyModel {
        let mut file = self.file.clone();
        file.settings = settings;
        HarmonyModel::from_file(file).expect("checked when first made")
    }

    /// Makes the probabilities from a file's counts; an error for out-of-range entries.
    pub fn from_file(file: ModelFile) -> Result<HarmonyModel, String> {
        if file.format != FORMAT {
            return Err(format!("not a harmony model (format {:?})", file.format));
        }
        if !(1..=FORMAT_VERSION).contains(&file.version) {
            return Err(format!(
                "harmony model version {}; this build reads {FORMAT_VERSION}",
                file.version
            ));
        }
        let set = file.settings;
        let c = &file.counts;
        // Chord frequency per mode (add-0.5), the change distributions' back-off.
        let mut freq = [[0.5f64; STATES]; 2];
        for &(m, s, n) in &c.states {
            let (m, s, _) = check(m, s, 0)?;
            freq[m][s] += n as f64;
        }
        for f in &mut freq {
            let total: f64 = f.iter().sum();
            f.iter_mut().for_each(|x| *x /= total);
        }
        let mut log_start = [vec![0f32; STATES], vec![0f32; STATES]];
        let mut start = [[0f64; STATES]; 2];
        for &(m, s, n) in &c.starts {
            let (m, s, _) = check(m, s, 0)?;
            start[m][s] += n as f64;
        }
        for m in 0..2 {
            let total: f64 = start[m].iter().sum();
            for s in 0..STATES {
                log_start[m][s] = ((start[m][s] + 1.0 * freq[m][s]) / (total + 1.0)).ln() as f32;
            }
        }
        // Changes.
        let mut change = [vec![0f64; STATES * STATES], vec![0f64; STATES * STATES]];
        for &(m, from, to, n) in &c.changes {
            let (m, from, _) = check(m, from, 0)?;
            let (_, to, _) = check(0, to, 0)?;
            if from != to {
                change[m][from * STATES + to] += n as f64;
            }
        }
        let beta = set.transition_smoothing.max(1e-3) as f64;
        let mut log_transition: [[Vec<f32>; PLACES]; 2] = Default::default();
        for m in 0..2 {
            // Stay probability per place (or pooled), add-one.
            let pooled = c.stays[m]
                .iter()
                .fold((0u32, 0u32), |a, s| (a.0 + s.0, a.1 + s.1));
            for (place, slot) in log_transition[m].iter_mut().enumerate() {
                let (st, ch) = if set.use_bar_place {
                    c.stays[m][place]
                } else {
                    pooled
                };
                let stay = (st as f64 + 1.0) / (st as f64 + ch as f64 + 2.0);
                let mut t = vec![0f32; STATES * STATES];
                for from in 0..STATES {
                    let row = &change[m][from * STATES..(from + 1) * STATES];
                    let row_total: f64 = row.iter().sum();
                    let back_total = 1.0 - freq[m][from];
                    for to in 0..STATES {
                        let p = if to == from {
                            stay
                        } else {
                            let back = freq[m][to] / back_total;
                            (1.0 - stay) * (row[to] + beta * back) / (row_total + beta)
                        };
                        t[from * STATES + to] = (set.transition_weight as f64 * p.ln()) as f32;
                    }
                }
                *slot = t;
            }
        }
        // Emissions, backed off to the quality's interval distribution.
        let gamma = set.emission_smoothing.max(1e-3) as f64;
        // [on-beat, off-beat, previous beat, next beat][mode][state * 12 + degree]
        let mut emissions: [[Vec<f64>; 2]; 4] =
            std::array::from_fn(|_| std::array::from_fn(|_| vec![0f64; STATES * 12]));
        for &(m, s, d, n) in &c.on_beat {
            let (m, s, d) = check(m, s, d)?;
            emissions[0][m][s * 12 + d] += n as f64;
        }
        for &(m, s, d, w) in &c.off_beat {
            let (m, s, d) = check(m, s, d)?;
            if w.is_finite() && w > 0.0 {
                emissions[1][m][s * 12 + d] += w as f64;
            }
        }
        for (kind, list) in [(2, &c.previous_beat), (3, &c.next_beat)] {
            for &(m, s, d, n) in list {
                let (m, s, d) = check(m, s, d)?;
                emissions[kind][m][s * 12 + d] += n as f64;
            }
        }
        let mut logs: [[Vec<f32>; 2]; 4] = Default::default();
        for (kind, e) in emissions.iter().enumerate() {
            // Interval above the root per quality (index 10 = N: degree above the tonic).
            let mut by_quality = [[0.2f64; 12]; 11];
            for per_mode in e {
                for s in 0..STATES {
                    let chord = Chord::from_index(s);
                    for d in 0..12 {
                        let n = per_mode[s * 12 + d];
                        match chord {
                            Chord::None => by_quality[10][d] += n,
                            Chord::Some { root, quality } => {
                                by_quality[quality.index()][(d + 12 - root as usize) % 12] += n
                            }
                        }
                    }
                }
            }
            for q in &mut by_quality {
                let total: f64 = q.iter().sum();
                q.iter_mut().for_each(|x| *x /= total);
            }
            for m in 0..2 {
                let mut out = vec![0f32; STATES * 12];
                for s in 0..STATES {
                    let chord = Chord::from_index(s);
                    let row = &e[m][s * 12..(s + 1) * 12];
                    let total: f64 = row.iter().sum();
                    for d in 0..12 {
                        let back = match chord {
                            Chord::None => by_quality[10][d],
                            Chord::Some { root, quality } => {
                                by_quality[quality.index()][(d + 12 - root as usize) % 12]
                            }
                        };
                        out[s * 12 + d] = ((row[d] + gamma * back) / (total + gamma)).ln() as f32;
                    }
                }
                logs[kind][m] = out;
            }
        }
        let [log_on_beat, log_off_beat, log_previous, log_next] = logs;
        let log_prior = freq.map(|f| f.iter().map(|p| p.ln() as f32).collect());
        let context = if file.context.weights.is_empty() {
            None
        } else {
            Some(Context::from_file(&file.context)?)
        };
        let transition = log_transition
            .clone()
            .map(|per_place| per_place.map(|t| t.into_iter().map(f32::exp).collect()));
        Ok(HarmonyModel {
            file,
            log_start,
            log_transition,
            transition,
            log_on_beat,
            log_off_beat,
            log_previous,
            log_next,
            log_prior,
            context,
            triad_of: (0..STATES)
                .map(|s| match Chord::from_index(s) {
                    Chord::Some { root, quality } => quality
                        .major_minor()
                        .map_or(s, |q| Chord::new(root, q).index()),
                    Chord::None => s,
                })
                .collect(),
        })
    }

    /// The model as a gzip-compressed JSON file.
    pub fn to_bytes(&self) -> Vec<u8> {
        use std::io::Write;
        let json = serde_json::to_vec(&self.file).expect("a model file serialises");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(&json);
        gz.finish().unwrap_or_default()
    }

    /// Reads a model file (JSON, gzip-compressed or not); every way it can be wrong is an error.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<HarmonyModel> {
        use std::io::Read;
        const MAX_JSON_BYTES: u64 = 64 * 1024 * 1024;
        if bytes.is_empty() {
            anyhow::bail!("the harmony model file is empty");
        }
        let json = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .take(MAX_JSON_BYTES)
                .read_to_end(&mut out)
                .map_err(|e| anyhow::anyhow!("the harmony model file is not valid gzip: {e}"))?;
            out
        } else {
            bytes.to_vec()
        };
        let file: ModelFile = serde_json::from_slice(&json)
            .map_err(|e| anyhow::anyhow!("the harmony model file is not valid: {e}"))?;
        HarmonyModel::from_file(file).map_err(|e| anyhow::anyhow!("the harmony model file: {e}"))
    }

    /// The settings in use.
    pub fn settings(&self) -> Settings {
        self.file.settings
    }

    /// log P(melody of a beat | state): on-beat degree and the neighbours' (those given), and
    /// the off-beat degrees when `whole`.
    fn log_emission(&self, m: usize, s: usize, mel: &BeatMelody, whole: bool) -> f32 {
        let mut l = 0.0;
        if let Some(d) = mel.on_beat {
            l += self.log_on_beat[m][s * 12 + d as usize];
        }
        let nw = self.file.settings.neighbour_weight;
        if let Some(d) = mel.previous {
            l += nw * self.log_previous[m][s * 12 + d as usize];
        }
        if let Some(d) = mel.next {
            l += nw * self.log_next[m][s * 12 + d as usize];
        }
        if whole {
            let w = self.file.settings.off_beat_weight;
            for (d, share) in mel.off_beat.iter().enumerate() {
                if *share > 0.0 {
                    l += w * share * self.log_off_beat[m][s * 12 + d];
                }
            }
        }
        l * self.file.settings.generative_weight
    }

    /// The state to output from the beat's state probabilities (not necessarily normalised):
    /// the likeliest, or with [`Settings::pool_major_minor`] the likeliest of the likeliest
    /// major/minor triad's chords.
    fn choose(&self, probs: &[f32]) -> usize {
        if !self.file.settings.pool_major_minor {
            return argmax(probs);
        }
        let mut pooled = [0f32; STATES];
        for (s, p) in probs.iter().enumerate() {
            pooled[self.triad_of[s]] += p;
        }
        let group = argmax(&pooled);
        let mut best = (group, f32::NEG_INFINITY);
        for (s, p) in probs.iter().enumerate() {
            if self.triad_of[s] == group && *p > best.1 {
                best = (s, *p);
            }
        }
        best.0
    }

    /// Whether the context classifier is in use.
    fn context_in_use(&self) -> Option<&Context> {
        self.context
            .as_ref()
            .filter(|_| self.file.settings.context_weight > 0.0)
    }

    /// Adds the context classifier's scaled log-likelihood (posterior `post` over prior) to a
    /// beat's log-observations.
    fn add_context(&self, m: usize, post: &[f32], row: &mut [f32]) {
        let set = self.file.settings;
        for ((e, p), prior) in row.iter_mut().zip(post).zip(&self.log_prior[m]) {
            *e += set.context_weight * (p - set.context_prior * prior);
        }
    }

    /// log P(melody | state) of every beat offline, `[t * STATES + state]`: the HMM's own
    /// observations and the offline context classifier's.
    fn offline_emissions(
        &self,
        melody: &[BeatMelody],
        key: KeySignature,
        places: Places,
    ) -> Vec<f32> {
        let m = mode_index(key.mode);
        let rel: Vec<BeatMelody> = melody.iter().map(|b| b.relative(key.tonic)).collect();
        let mut out = vec![0f32; rel.len() * STATES];
        let mut feats = Vec::new();
        let mut post = vec![0f32; STATES];
        for (t, b) in rel.iter().enumerate() {
            let row = &mut out[t * STATES..(t + 1) * STATES];
            for (s, e) in row.iter_mut().enumerate() {
                *e = self.log_emission(m, s, b, true);
            }
            if let Some(ctx) = self.context_in_use() {
                let place = places.at(t);
                let set = self.file.settings.feature_set();
                features(&rel, t, place, false, set, &mut feats);
                ctx.log_posterior(m, false, &feats, &mut post);
                self.add_context(m, &post, row);
            }
        }
        out
    }

    /// The chord of each beat of `melody` in `key`, knowing the whole melody: on each beat the
    /// chord most probable given all of the melody (forward–backward posterior decoding, which
    /// maximises the expected number of right beats). `places` says where each beat falls in
    /// its bar.
    pub fn harmonise(
        &self,
        melody: &[BeatMelody],
        key: KeySignature,
        places: Places,
    ) -> Vec<Chord> {
        let n = melody.len();
        if n == 0 {
            return Vec::new();
        }
        let m = mode_index(key.mode);
        // Emission probabilities, scaled per beat (the scale cancels in the posterior).
        let mut emission = self.offline_emissions(melody, key, places);
        for t in 0..n {
            let row = &mut emission[t * STATES..(t + 1) * STATES];
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            row.iter_mut().for_each(|e| *e = (*e - max).exp());
        }
        let normalise = |v: &mut [f32]| {
            let total: f32 = v.iter().sum();
            if total > 0.0 && total.is_finite() {
                v.iter_mut().for_each(|x| *x /= total);
            } else {
                v.iter_mut().for_each(|x| *x = 1.0 / STATES as f32);
            }
        };
        // Forward.
        let mut alpha = vec![0f32; n * STATES];
        for s in 0..STATES {
            alpha[s] = self.log_start[m][s].exp() * emission[s];
        }
        normalise(&mut alpha[..STATES]);
        for t in 1..n {
            let trans = &self.transition[m][places.at(t)];
            let (done, rest) = alpha.split_at_mut(t * STATES);
            let prev = &done[(t - 1) * STATES..];
            let cur = &mut rest[..STATES];
            cur.fill(0.0);
            for (from, &a) in prev.iter().enumerate() {
                if a == 0.0 {
                    continue;
                }
                let row = &trans[from * STATES..(from + 1) * STATES];
                for (c, &p) in cur.iter_mut().zip(row) {
                    *c += a * p;
                }
            }
            for (c, e) in cur.iter_mut().zip(&emission[t * STATES..(t + 1) * STATES]) {
                *c *= e;
            }
            normalise(cur);
        }
        // Backward, and the most probable chord of each beat.
        let mut beta = vec![1f32; STATES];
        let mut next_beta = vec![0f32; STATES];
        let mut weighted = vec![0f32; STATES];
        let mut post = vec![0f32; STATES];
        let mut states = vec![0usize; n];
        for t in (0..n).rev() {
            for (s, p) in post.iter_mut().enumerate() {
                *p = alpha[t * STATES + s] * beta[s];
            }
            states[t] = self.choose(&post);
            if t == 0 {
                break;
            }
            let trans = &self.transition[m][places.at(t)];
            for (w, (b, e)) in weighted
                .iter_mut()
                .zip(beta.iter().zip(&emission[t * STATES..(t + 1) * STATES]))
            {
                *w = b * e;
            }
            for (from, nb) in next_beta.iter_mut().enumerate() {
                let row = &trans[from * STATES..(from + 1) * STATES];
                *nb = row.iter().zip(&weighted).map(|(p, w)| p * w).sum();
            }
            normalise(&mut next_beta);
            std::mem::swap(&mut beta, &mut next_beta);
        }
        states
            .into_iter()
            .map(|s| absolute_chord(s, key.tonic))
            .collect()
    }

    /// The single most probable chord sequence for the whole melody (Viterbi); see
    /// [`Self::harmonise`] for the arguments.
    pub fn harmonise_viterbi(
        &self,
        melody: &[BeatMelody],
        key: KeySignature,
        places: Places,
    ) -> Vec<Chord> {
        let n = melody.len();
        if n == 0 {
            return Vec::new();
        }
        let m = mode_index(key.mode);
        let emission = self.offline_emissions(melody, key, places);
        let mut score: Vec<f32> = (0..STATES)
            .map(|s| self.log_start[m][s] + emission[s])
            .collect();
        let mut back = vec![0u8; n * STATES];
        let mut next = vec![0f32; STATES];
        for t in 1..n {
            let trans = &self.log_transition[m][places.at(t)];
            for to in 0..STATES {
                let mut best = (f32::NEG_INFINITY, 0usize);
                for (from, s) in score.iter().enumerate() {
                    let v = s + trans[from * STATES + to];
                    if v > best.0 {
                        best = (v, from);
                    }
                }
                next[to] = best.0 + emission[t * STATES + to];
                back[t * STATES + to] = best.1 as u8;
            }
            std::mem::swap(&mut score, &mut next);
        }
        let mut state = argmax(&score);
        let mut states = vec![0usize; n];
        for t in (0..n).rev() {
            states[t] = state;
            if t > 0 {
                state = back[t * STATES + state] as usize;
            }
        }
        states
            .into_iter()
            .map(|s| absolute_chord(s, key.tonic))
            .collect()
    }

    /// The chord of each beat as a live harmoniser would choose it (see the module doc).
    pub fn harmonise_causal(
        &self,
        melody: &[BeatMelody],
        key: KeySignature,
        places: Places,
    ) -> Vec<Chord> {
        let mut live = LiveHarmoniser::new(self, key);
        melody
            .iter()
            .enumerate()
            .map(|(t, b)| {
                // The future is unknown live.
                let known = BeatMelody { next: None, ..*b };
                let chord = live.chord_at_beat(&known, places.at(t));
                live.beat_done(&known);
                chord
            })
            .collect()
    }
}

/// The model built into the plugin (`assets/model/harmony/chorales.json.gz`, made by
/// `continuo train-harmony`), parsed on first use (on the model thread or the CLI, never on the
/// audio thread) and kept.
pub fn embedded() -> anyhow::Result<&'static HarmonyModel> {
    static BYTES: &[u8] = include_bytes!("../../../assets/model/harmony/chorales.json.gz");
    static MODEL: std::sync::OnceLock<Result<HarmonyModel, String>> = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| HarmonyModel::from_bytes(BYTES).map_err(|e| format!("built-in: {e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The causal harmoniser's state between beats: the probability of each chord given the melody
/// so far (forward filtering). Allocated once; each beat costs 121 × 121 multiply-adds and the
/// context classifier's few hundred.
pub struct LiveHarmoniser<'a> {
    /// The model.
    model: &'a HarmonyModel,
    /// The key everything is relative to.
    key: KeySignature,
    /// log P(state of the last finished beat | melody so far); `None` before the first beat.
    belief: Option<Vec<f32>>,
    /// log P(state of the coming beat | melody before it), filled by [`Self::chord_at_beat`].
    predicted: Vec<f32>,
    /// The last [`REACH`] finished beats, key-relative, oldest first, then the coming beat as
    /// known at its start (the context classifier's window).
    window: [BeatMelody; REACH + 1],
    /// How many of `window`'s first [`REACH`] slots hold finished beats.
    known: usize,
    /// The coming beat's context log-posterior (from [`Self::chord_at_beat`], reused by
    /// [`Self::beat_done`]); empty while the classifier is off.
    context: Vec<f32>,
    /// Scratch: the classifier's active features.
    features: Vec<(u16, f32)>,
    /// Scratch: the scores of the states.
    scores: Vec<f32>,
}

impl<'a> LiveHarmoniser<'a> {
    /// A harmoniser at the start of a piece in `key`.
    pub fn new(model: &'a HarmonyModel, key: KeySignature) -> Self {
        LiveHarmoniser {
            model,
            key,
            belief: None,
            predicted: vec![0.0; STATES],
            window: [BeatMelody::default(); REACH + 1],
            known: 0,
            context: Vec::with_capacity(STATES),
            features: Vec::with_capacity(64),
            scores: vec![0.0; STATES],
        }
    }

    /// The chord to play at the start of a beat, given the melody sounding then: `beat`'s
    /// `on_beat` and `previous` pitch classes (its off-beat notes and `next` are not used).
    pub fn chord_at_beat(&mut self, beat: &BeatMelody, place: usize) -> Chord {
        let m = mode_index(self.key.mode);
        let model = self.model;
        match &self.belief {
            None => self.predicted.copy_from_slice(&model.log_start[m]),
            Some(belief) => {
                let trans = &model.log_transition[m][place % PLACES];
                for to in 0..STATES {
                    self.predicted[to] = log_sum_exp(
                        (0..STATES).map(|from| belief[from] + trans[from * STATES + to]),
                    );
                }
            }
        }
        let mel = BeatMelody {
            off_beat: [0.0; 12],
            next: None,
            ..beat.relative(self.key.tonic)
        };
        self.context.clear();
        if let Some(ctx) = model.context_in_use() {
            self.window[self.known] = mel;
            let rel = &self.window[..=self.known];
            let set = model.file.settings.feature_set();
            features(rel, self.known, place, true, set, &mut self.features);
            self.context.resize(STATES, 0.0);
            ctx.log_posterior(m, true, &self.features, &mut self.context);
        }
        for (s, score) in self.scores.iter_mut().enumerate() {
            *score = self.predicted[s] + model.log_emission(m, s, &mel, false);
        }
        if !self.context.is_empty() {
            model.add_context(m, &self.context, &mut self.scores);
        }
        if model.file.settings.pool_major_minor {
            let max = self
                .scores
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
            self.scores.iter_mut().for_each(|x| *x = (*x - max).exp());
        }
        absolute_chord(model.choose(&self.scores), self.key.tonic)
    }

    /// Takes in the whole beat's melody once it is over (after [`Self::chord_at_beat`]).
    pub fn beat_done(&mut self, beat: &BeatMelody) {
        let m = mode_index(self.key.mode);
        let mel = beat.relative(self.key.tonic);
        let mut belief = self.belief.take().unwrap_or_else(|| vec![0.0; STATES]);
        for (s, b) in belief.iter_mut().enumerate() {
            *b = self.predicted[s] + self.model.log_emission(m, s, &mel, true);
        }
        if self.context.len() == STATES {
            self.model.add_context(m, &self.context, &mut belief);
        }
        let norm = log_sum_exp(belief.iter().copied());
        belief.iter_mut().for_each(|x| *x -= norm);
        self.belief = Some(belief);
        // Slide the window: the finished beat, whole.
        if self.known == REACH {
            self.window.copy_within(1..REACH, 0);
            self.window[REACH - 1] = mel;
        } else {
            self.window[self.known] = mel;
            self.known += 1;
        }
    }
}

/// log Σ exp(x), stable.
fn log_sum_exp(xs: impl Iterator<Item = f32> + Clone) -> f32 {
    let max = xs.clone().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return max;
    }
    max + xs.map(|x| (x - max).exp()).sum::<f32>().ln()
}

/// Index of the largest value (the first of equals; 0 for an empty or all-NaN slice).
fn argmax(xs: &[f32]) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &x) in xs.iter().enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best.0
}

/// The diatonic triads of a key in the order the "first diatonic triad" baseline tries them:
/// I V IV vi ii iii vii° (major); i V iv VI ii° III vii° (minor, harmonic-minor dominant).
pub fn diatonic_triads(key: KeySignature) -> [Chord; 7] {
    use Quality::*;
    let rel: [(u8, Quality); 7] = match key.mode {
        Mode::Major => [
            (0, Major),
            (7, Major),
            (5, Major),
            (9, Minor),
            (2, Minor),
            (4, Minor),
            (11, Diminished),
        ],
        Mode::Minor => [
            (0, Minor),
            (7, Major),
            (5, Minor),
            (8, Major),
            (2, Diminished),
            (3, Major),
            (11, Diminished),
        ],
    };
    rel.map(|(d, q)| Chord::new(key.tonic + d, q))
}

/// Baseline: the tonic triad on every beat.
pub fn tonic_baseline(beats: usize, key: KeySignature) -> Vec<Chord> {
    vec![diatonic_triads(key)[0]; beats]
}

/// Baseline: on each beat the first diatonic triad ([`diatonic_triads`]) that holds the melody
/// note sounding at the beat's start (the last one heard during a rest; the tonic if none holds it).
pub fn diatonic_baseline(melody: &[BeatMelody], key: KeySignature) -> Vec<Chord> {
    let triads = diatonic_triads(key);
    let mut last = None;
    melody
        .iter()
        .map(|b| {
            last = b.on_beat.or(last);
            match last {
                Some(pc) => *triads.iter().find(|c| c.contains(pc)).unwrap_or(&triads[0]),
                None => triads[0],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(pitch: u8, onset: f64, duration: f64) -> Note {
        Note {
            pitch,
            onset,
            duration,
            velocity: 80,
        }
    }

    const C_MAJOR: KeySignature = KeySignature {
        tonic: 0,
        mode: Mode::Major,
    };

    #[test]
    fn melody_beats_split_on_and_off_beat_notes() {
        // C (1 beat), E (half) G (half), A held over two beats.
        let mel = melody_beats(
            &[
                note(60, 0.0, 1.0),
                note(64, 1.0, 0.5),
                note(67, 1.5, 0.5),
                note(69, 2.0, 2.0),
            ],
            5,
        );
        assert_eq!(mel[0].on_beat, Some(0));
        assert_eq!(mel[0].off_beat, [0.0; 12]);
        assert_eq!(mel[1].on_beat, Some(4));
        assert_eq!(mel[1].off_beat[7], 0.5);
        assert_eq!(mel[2].on_beat, Some(9));
        assert_eq!(mel[3].on_beat, Some(9));
        assert_eq!(mel[4].on_beat, None);
        assert_eq!(mel[4].off_beat, [0.0; 12]);
        // Neighbours: the on-beat notes of the beats around.
        assert_eq!((mel[0].previous, mel[0].next), (None, Some(4)));
        assert_eq!((mel[4].previous, mel[4].next), (Some(9), None));
    }

    /// A toy corpus in C major and in D major (the same music a tone up): melody C → chord C,
    /// melody B or D → G, melody F or A → F, in bars of I IV V I.
    fn toy_examples() -> Vec<(KeySignature, Vec<BeatMelody>, Vec<Chord>)> {
        let mut out = Vec::new();
        for tonic in [0u8, 2] {
            let key = KeySignature {
                tonic,
                mode: Mode::Major,
            };
            let mut notes = Vec::new();
            let mut chords = Vec::new();
            for bar in 0..8 {
                for (i, (pc, chord)) in [(0u8, 0u8), (9, 5), (11, 7), (0, 0)].iter().enumerate() {
                    let mut pc = *pc;
                    if bar % 2 == 1 && pc == 11 {
                        pc = 2;
                    }
                    notes.push(note(60 + (pc + tonic) % 12, (bar * 4 + i) as f64, 1.0));
                    chords.push(Chord::new(chord + tonic, Quality::Major));
                }
            }
            out.push((key, melody_beats(&notes, chords.len()), chords));
        }
        out
    }

    fn toy_model() -> HarmonyModel {
        toy_model_with(Settings::default())
    }

    fn toy_model_with(settings: Settings) -> HarmonyModel {
        let ex = toy_examples();
        HarmonyModel::train(
            ex.iter().map(|(key, m, c)| Example {
                key: *key,
                melody: m,
                chords: c,
            }),
            settings,
            "toy".into(),
            vec![],
        )
    }

    #[test]
    fn learns_key_relative_harmony_and_transposes_it() {
        let model = toy_model();
        // A new melody in E major: E C# D# E (I IV V I).
        let key = KeySignature {
            tonic: 4,
            mode: Mode::Major,
        };
        let notes = [
            note(64, 0.0, 1.0),
            note(61, 1.0, 1.0),
            note(63, 2.0, 1.0),
            note(64, 3.0, 1.0),
        ];
        let mel = melody_beats(&notes, 4);
        let want: Vec<Chord> = [4u8, 9, 11, 4]
            .iter()
            .map(|r| Chord::new(*r, Quality::Major))
            .collect();
        assert_eq!(model.harmonise(&mel, key, Places::common(0)), want);
        assert_eq!(model.harmonise_viterbi(&mel, key, Places::common(0)), want);
        assert_eq!(model.harmonise_causal(&mel, key, Places::common(0)), want);
        assert!(model.harmonise(&[], key, Places::common(0)).is_empty());
    }

    #[test]
    fn file_round_trip_and_bad_files() {
        // Every chord a class and no L1, so the toy classifier keeps weights.
        let model = toy_model_with(Settings {
            context_l1: 0.0,
            context_min_count: 1.0,
            ..Settings::default()
        });
        let json = serde_json::to_string(&model.file).unwrap();
        let back: ModelFile = serde_json::from_str(&json).unwrap();
        let again = HarmonyModel::from_file(back).unwrap();
        assert_eq!(again.file.counts, model.file.counts);
        let mut bad = model.file.clone();
        bad.counts.on_beat.push((0, 500, 0, 1));
        assert!(HarmonyModel::from_file(bad)
            .unwrap_err()
            .contains("out of range"));
        // A version-1 file (no context classifier) still loads, the classifier off.
        let mut old = model.file.clone();
        old.version = 1;
        old.context = ContextFile::default();
        let old = HarmonyModel::from_file(old).unwrap();
        assert!(old.context.is_none() && model.context.is_some());
        let mut bad = model.file.clone();
        bad.context.weights.push((0, 0, 0, u16::MAX, 1));
        assert!(HarmonyModel::from_file(bad).is_err());
        let mut bad = model.file.clone();
        bad.version = 99;
        assert!(HarmonyModel::from_file(bad).is_err());
        let mut bad = model.file.clone();
        bad.format = "x".into();
        assert!(HarmonyModel::from_file(bad).is_err());
        let bytes = model.to_bytes();
        assert_eq!(
            HarmonyModel::from_bytes(&bytes).unwrap().file.counts,
            model.file.counts
        );
        assert!(HarmonyModel::from_bytes(&bytes[..bytes.len() / 2]).is_err());
        assert!(HarmonyModel::from_bytes(b"").is_err());
        assert!(HarmonyModel::from_bytes(b"{}").is_err());
    }

    #[test]
    fn transitions_are_distributions() {
        let model = toy_model();
        for m in 0..2 {
            for place in 0..PLACES {
                for from in [0, 1, 50, 120] {
                    let row = &model.log_transition[m][place][from * STATES..(from + 1) * STATES];
                    let total: f64 = row.iter().map(|l| (*l as f64).exp()).sum();
                    assert!((total - 1.0).abs() < 1e-3, "{m} {place} {from}: {total}");
                }
            }
            for s in [0, 1, 77] {
                let total: f64 = model.log_on_beat[m][s * 12..(s + 1) * 12]
                    .iter()
                    .map(|l| (*l as f64).exp())
                    .sum();
                assert!((total - 1.0).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn baselines() {
        let mel = melody_beats(
            &[note(62, 0.0, 1.0), note(69, 1.0, 1.0), note(61, 2.0, 1.0)],
            4,
        );
        let got: Vec<String> = diatonic_baseline(&mel, C_MAJOR)
            .iter()
            .map(|c| c.harte())
            .collect();
        // D is in V; A in IV; C# in nothing (tonic); a rest keeps the last note (C#).
        assert_eq!(got, ["G:maj", "F:maj", "C:maj", "C:maj"]);
        let a_minor = KeySignature {
            tonic: 9,
            mode: Mode::Minor,
        };
        assert_eq!(
            tonic_baseline(2, a_minor),
            vec![Chord::new(9, Quality::Minor); 2]
        );
        let mel = melody_beats(&[note(68, 0.0, 1.0)], 1); // G#: V in A minor
        assert_eq!(
            diatonic_baseline(&mel, a_minor),
            vec![Chord::new(4, Quality::Major)]
        );
    }
}

#[cfg(test)]
mod built_in_tests {
    use super::*;

    #[test]
    fn the_built_in_model_loads_and_ends_a_tune_on_its_tonic() {
        let model = embedded().expect("assets/model/harmony/chorales.json.gz loads");
        assert!(model.file.beats > 10_000, "{}", model.file.beats);
        // The context classifier is in, and sparse (the file stays tens of kB).
        let weights = model.file.context.weights.len();
        assert!(
            model.context.is_some() && (100..30_000).contains(&weights),
            "{weights}"
        );
        // "Twinkle, twinkle" in C, a quarter note a beat, the last note held.
        let pitches = [
            60u8, 60, 67, 67, 69, 69, 67, 67, 65, 65, 64, 64, 62, 62, 60, 60,
        ];
        let notes: Vec<Note> = pitches
            .iter()
            .enumerate()
            .map(|(i, &p)| Note {
                pitch: p,
                onset: i as f64,
                duration: 1.0,
                velocity: 80,
            })
            .collect();
        let mel = melody_beats(&notes, notes.len());
        let c_major = KeySignature {
            tonic: 0,
            mode: Mode::Major,
        };
        for chords in [
            model.harmonise(&mel, c_major, Places::common(0)),
            model.harmonise_causal(&mel, c_major, Places::common(0)),
        ] {
            assert_eq!(chords.len(), 16);
            assert_eq!(chords[15], Chord::new(0, Quality::Major), "{chords:?}");
            // Every on-beat melody note of a strong beat is a chord tone.
            for b in (0..16).step_by(2) {
                assert!(chords[b].contains(pitches[b]), "beat {b}: {}", chords[b]);
            }
        }
    }
}
