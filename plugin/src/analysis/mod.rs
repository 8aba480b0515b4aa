//! AUDIO THREAD ONLY: the streaming analyser that turns the input into features and notes.
//!
//! CONTRACT (relied on by `lib.rs`, `bridge.rs` and the CLI; keep these signatures):
//! - `Analyzer::new(sample_rate)` allocates everything (FFT plans, windows, scratch) for that rate.
//! - `Analyzer::process(&mut self, mono, out)` accepts any block length (0 … 16384 and more),
//!   never allocates, locks or panics, and reports through `out` every feature frame (one per hop)
//!   and every note start/end, each stamped with its position inside the given block.
//! - `Analyzer::reset()` forgets the signal (no allocation); the stream clock restarts at 0.
//!
//! Pipeline, once per hop (≈ 2.7 ms), over the last ≈ 43 ms of input (one file per stage, each
//! with `new(config)`, `process(..) -> output`, `reset()`):
//! ```text
//! input ─ sanitise (NaN/Inf → 0, clamp) ─ DC blocker ─ ring ─┬─ loudness (frame + recent RMS)
//!   ├─ stft long (rect, 2× padded) ─┬─ Hann bins ─┬─ chroma
//!   │                               │             ├─ salience (harmonic energy per semitone, history)
//!   │                               │             ├─ polyphony (a second note beside the first? chord judge: is the input chords?)
//!   │                               │             │   ├─ release tails (is that second note the previous one dying away?)
//!   │                               │             │   └─ onset rise (one note rose at the onset: it names an unvoiced hop at its subharmonic)
//!   │                               │             ├─ subharmonic guards (octave stops; quint rank: no fundamental, an 8' + 5⅓' key)
//!   │                               │             └─ mixture pull (a weak estimate between semitones, or one with no partial of its own → its peak)
//!   │                               └─ pitch NSDF (only when the shorter windows are not sure)
//!   │                               │             ├─ newcomer (a new partial set rising under the sounding note,
//!   │                               │             │   confirmed by the half frame with the old note cancelled, or by the frame model)
//!   ├─ cancellation: for a frame after an onset, the ¼ frame with the previous note combed out
//!   │    (an answer at ½ or ⅓ of the plain ¼ frame's is that note's subharmonic: raised to it)
//!   ├─ pitch NSDF on the last ½ frame (≥ 150 Hz) and ¼ frame (≥ 200 Hz, ≈ 2.1 periods; ≥ 250 Hz for 20 ms after an onset): faster after attacks
//!   │    ├─ fundamental check: an inharmonic window (struck bar) is named by its fundamental's peak
//!   │    └─ deep check: a weak answer at a harmonic of a confident long-window answer gives way to it
//!   ├─ onset gate: 13–43 ms after an onset, NSDF on the samples since it alone (low notes)
//!   └─ stft short (Hann, last ≈ 10 ms) ─ onset (max-filtered flux + level jump)
//! salience + short frame, on the twelve hops after an onset ─ attack reader (learned: names the new note)
//! Hann bins ─ frame model (semitone bands every ≈ 5.3 ms; a learned network says which note sounds, when the judge or the newcomer check asks)
//! pitch + level + onset + salience + attack reader + frame model ─ tracker (runs, rise dating, named share per semitone, judge,
//!   steadiness: how much the stream's held notes swing) ─ NoteEvent
//! tracker's notes + their estimates ─ concert pitch (the player's tuning, from note centres;
//!   every frequency ↔ note conversion and every stage's candidate bins follow it)
//! while the chord gate holds: Hann bins ─ top voice (candidate measures, network, softmax; one hop
//!   in four) ─ top follower (confirmed winner, dated from its salience rise) ─ NoteEvent
//! ```
//! Cost at 48 kHz (`benches/analysis.rs`): 147–149 ns per input sample on the machine of
//! 2026-12-05 (README, *Measured*), 196–211 ns on the slower one of 2026-12-03 (the history:
//! `docs/transcription-journal.md`, *Analysis cost and CI time*); bar 200. `Tuning`
//! `hops_per_frame=8` costs less but loses 5 points of F1 (settings tuned for 16). Processing is sample-by-sample into a ring and hops fall
//! on fixed stream positions, so the notes do not depend on how the host cuts the stream into
//! blocks.

pub mod attack_habit;
pub mod attack_reader;
pub mod attack_reader_weights;
pub mod chord_judge;
pub mod chroma;
pub mod concert_pitch;
pub mod frame_net;
pub mod fundamental;
pub mod hum;
pub mod input_level;
pub mod judge;
pub mod loudness;
pub mod mixture_pull;
pub mod named_share;
pub mod newcomer;
pub mod octave_stops;
pub mod onset;
pub mod onset_rise;
pub mod parabola;
pub mod partial_series;
pub mod pitch;
pub mod polyphony;
pub mod quint_rank;
pub mod real_fft;
pub mod release_tails;
pub mod rounding;
pub mod salience;
pub mod steadiness;
pub mod stft;
pub mod top_voice;
pub mod top_voice_weights;
pub mod tracker;

use attack_reader::{AttackReader, AttackReaderConfig};
use chroma::{Chroma, ChromaConfig};
use concert_pitch::{ConcertPitch, ConcertPitchConfig};
use fundamental::FundamentalConfig;
use hum::{HumConfig, HumRemover};
use input_level::{InputLevel, InputLevelConfig};
use loudness::{FrameEnergies, Loudness, LoudnessConfig, FLOOR_DB};
use mixture_pull::{MixturePull, MixturePullConfig};
use newcomer::{Newcomer, NewcomerConfig};
use octave_stops::{OctaveStops, OctaveStopsConfig};
use onset::{OnsetConfig, OnsetDetector};
use onset_rise::{OnsetRise, OnsetRiseConfig};
use partial_series::PartialSeriesConfig;
use pitch::{PitchConfig, PitchDetector, PitchEstimate};
use polyphony::{Polyphony, PolyphonyConfig};
use quint_rank::QuintRankConfig;
use release_tails::{ReleaseTails, ReleaseTailsConfig};
use salience::{Salience, SalienceConfig};
use stft::{Stft, StftConfig, WindowShape};
use top_voice::{FollowerConfig, FollowerOutput, TopFollower, TopPick, TopVoice};
use tracker::{NoteTracker, TrackerConfig, TrackerInput};

/// One analysis hop's features. Small and `Copy` so it travels through a ring without allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeatureFrame {
    /// Stream time of the end of the analysed window, in samples since the last reset.
    pub time_samples: u64,
    /// Fundamental frequency in Hz, 0 when unvoiced.
    pub f0_hz: f32,
    /// Pitch confidence 0..1 (periodicity).
    pub confidence: f32,
    /// Level of the window in dBFS (RMS), floored at -120.
    pub level_db: f32,
    /// Onset strength (spectral flux, normalised).
    pub flux: f32,
    /// Chroma (12 pitch classes, C first), normalised to sum 1 or all 0 in silence.
    pub chroma: [f32; 12],
    /// The input is polyphonic (chords, an ensemble; the chord judge's recent mean, see
    /// `polyphony.rs`): the tracker starts no note while this is set; the top-voice follower
    /// does (`top_voice.rs`).
    pub polyphonic: bool,
}

/// A note start or end decided by the tracker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoteEvent {
    On {
        /// MIDI pitch.
        pitch: u8,
        /// 0..1, from the level at the attack.
        velocity: f32,
        /// Best estimate of when the note really began (stream samples), may be before `at`.
        onset_samples: u64,
        /// Sample offset inside the current block at which the decision was made (the emit time).
        at: u32,
    },
    Off {
        pitch: u8,
        /// Best estimate of when the note really ended (stream samples).
        offset_samples: u64,
        /// Sample offset inside the current block.
        at: u32,
    },
}

/// Where the analyser reports to. Implementations must not allocate (they run on the audio thread).
pub trait AnalysisOutput {
    fn frame(&mut self, frame: &FeatureFrame);
    fn note(&mut self, event: NoteEvent);
}

/// Named overrides of the analysis settings, for evaluation and tuning (`--set name=value`).
/// The plugin uses the defaults ([`Analyzer::new`]).
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    /// (name, value) pairs; later entries win.
    values: Vec<(String, f32)>,
}

impl Tuning {
    /// Parses `name=value[,name=value…]`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut values = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}' is not name=value"))?;
            let v: f32 = v
                .trim()
                .parse()
                .map_err(|_| format!("'{item}': not a number"))?;
            values.push((k.trim().to_string(), v));
        }
        Ok(Self { values })
    }

    /// These settings with `name` set to `value` (it wins over an earlier setting).
    pub fn with(mut self, name: &str, value: f32) -> Self {
        self.values.push((name.to_string(), value));
        self
    }

    /// The value of `name`, or `default`.
    pub fn get(&self, name: &str, default: f32) -> f32 {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
            .unwrap_or(default)
    }
}

/// The cancelled frame's answer must be at least this far (semitones) from the cancelled note:
/// nearer is the old note's residue (vibrato, a glide), not a new one.
const CANCEL_MIN_SEMITONES: f32 = 0.6;
/// The cancelled frame's answer is a subharmonic of the plain quarter window's when their
/// frequency ratio lies within this fraction of 2 or 3 (`Analyzer::cancelled_subharmonic`).
const CANCEL_SUBHARMONIC_TOLERANCE: f32 = 0.03;
/// How fast the newcomer stage's memory of what has sounded fades (dB per search hop, two hops:
/// 0.25 dB is about 43 dB a second at 44.1 kHz). At 0.5 dB a let-ring instrument's notes
/// outlived their memory: a celesta's partials, ringing on under the next notes and swinging a
/// few dB as they beat, rose above it again and were started as newcomers (a FluidR3 celesta
/// render of a dev melody: 23 wrong notes, 18 at 0.25 dB, 8 with the path off). Dev 0.9097 →
/// 0.9113 (0.15 / 0.2 / 0.35 dB: 0.9109 / 0.9110 / 0.9106; the path off: 0.9100).
const NEWCOMER_DECAY_DB: f32 = 0.25;
/// Default of `Analyzer::deep_below` (0 = off).
const DEEP_BELOW: f32 = 0.85;
/// Default of `Analyzer::deep_tolerance`.
const DEEP_TOLERANCE: f32 = 0.06;
/// Estimates of the sounding note at least this confident set the cancellation frequency.
const PREVIOUS_MIN_CONFIDENCE: f32 = 0.9;

/// Lowest sample rate the analyser listens at (Hz). Below it the windows that make the
/// analysis work cannot be had together: the 10 ms onset frame falls under 64 samples, the
/// spectrum stops below 4 kHz (the top octave of a piano, the partials chroma and the subharmonic
/// guards read), and the tracker's millisecond timings shrink to a hop or two. 8 kHz is also the
/// lowest rate audio interfaces and hosts offer.
pub const MIN_SAMPLE_RATE: f32 = 8_000.0;
/// Highest sample rate the analyser listens at (Hz): the top rate hosts and interfaces offer;
/// beyond it the long frame would outgrow its 64 k-sample bound.
pub const MAX_SAMPLE_RATE: f32 = 768_000.0;

/// The farthest concert pitch the analyser names notes in (cents from A4 = 440 Hz): a
/// semitone either way (A4 = 415.3 to 466.2 Hz).
pub const MAX_REFERENCE_CENTS: f32 = 100.0;
/// The concert pitch heard moves the analyser's when this far (cents) from it ...
const RETUNE_CENTS: f32 = 8.0;
/// ... unless, against the owner's reference, it would name more than this share of the notes
/// heard another semitone while they lie within `SETTLED_CENTS` of the reference's grid
/// (`ConcertPitch::renamed_share`): then the grid is the reference's.
const MAX_RENAMED_SHARE: f32 = 0.05;
const SETTLED_CENTS: f32 = 40.0;

/// Whether the analyser can listen at `sample_rate` (the plugin runs at any finite positive
/// rate; outside this range the audio passes through and only MIDI input is heard).
pub fn listens_at(sample_rate: f32) -> bool {
    sample_rate.is_finite() && (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate)
}

/// The length of the analysis window (samples) at `sample_rate`: what
/// [`Analyzer::window_samples`] returns for an analyser made with [`Analyzer::new`] (for the
/// model thread, which times the frames it receives without owning the analyser).
pub fn window_len(sample_rate: f32) -> usize {
    let rate = if listens_at(sample_rate) {
        sample_rate
    } else {
        MIN_SAMPLE_RATE
    };
    Sizes::for_rate(rate, 16).frame_len
}

/// Time constant (s) of the leaky mean of the chord judge's probability (`polyphony.rs`).
/// Chords must be heard within a second or two: a four-part chorale's per-hop probabilities
/// have a median of 0.69 (the held-out tune renders), and with 2 s and 0.7 the *chords*
/// decision first rose 4–6 s into the music (medians: organ 4.1 s, strings 4.4, piano 4.4,
/// guitar 5.8; one render in 24 never), while the tracker sprayed the mixture's notes and the
/// top voice went unplayed. With 1.2 s and 0.6: organ 1.7 s, strings 1.9, piano 2.4, guitar
/// 2.4; soprano notes 3107 → 3480 of 5964, wrong notes 23.6 → 22.8 a minute; melodies: dev F1
/// 0.8950 → 0.8943, 300 more dev-melody renders 0.8920 → 0.8907. (1 s gained 15 more soprano
/// notes but took a chorused ensemble line over long releases for chords,
/// `a_chorused_ensemble_line_over_long_releases_is_found`.)
const CHORD_S: f32 = 1.2;
/// The input counts as polyphonic from this mean up ...
const CHORD_ON: f32 = 0.6;
/// ... until it falls below this.
const CHORD_OFF: f32 = 0.2;
/// The newcomer stage starts no note while the chord judge's mean is this high (half the old
/// 0.7 *chords* level, kept when that level moved).
const NEWCOMER_MAX_CHORD_SHARE: f32 = 0.35;
/// A newcomer the cancelled half frame does not confirm starts when the frame model gives its
/// pitch this probability (`Analyzer::newcomer_frame_p`). Chosen on dev (F1 0.9171 without,
/// 0.9173 / 0.9172 / 0.9171 / 0.9168 at 0.4 / 0.5 / 0.6 / 0.8); at 0.5 `/tmp/jy` 0.8960 →
/// 0.8969 (chromatic percussion 0.877 → 0.885: TimGM6mb's celesta), `/tmp/jq` 0.9040 → 0.9049,
/// `../shared/audio` 0.9464 → 0.9461 (one extra violin note).
const NEWCOMER_FRAME_P: f32 = 0.5;

/// Chord onsets (`polyphony.rs`): the spectrum before an onset is taken this many hops before
/// the onset hop (0 turns chord onsets off) ...
const RISE_BACK_HOPS: f32 = 4.0;
/// ... and what rose since is measured this long after it (ms; the long frame then holds the
/// attack).
const RISE_DELAY_MS: f32 = 40.0;
/// An onset is a chord's when the second voice of what rose holds this share of the first's.
const RISE_RATIO: f32 = 0.25;
/// ... or the third voice this share.
const RISE_THIRD_RATIO: f32 = 0.06;
/// An onset counts only when what rose holds this share of the frame's energy.
const RISE_MIN_SHARE: f32 = 0.3;
/// What rose below this (Hz) is ignored (a hammer's thump).
const RISE_MIN_HZ: f32 = 200.0;
/// A second voice in what rose at an onset must also rise above the spectrum before it spread
/// over this many cents (0: off): a glide or pitch-bend vibrato moves the ringing notes'
/// partials, by less than a semitone (see `PolyphonyConfig::rise_spread_cents`). On dev:
/// steel guitar F1 0.908 → 0.925 at 100 cents, 0.924–0.925 from 50 to 200.
const RISE_SPREAD_CENTS: f32 = 100.0;
/// An onset whose frame is this periodic (pitch confidence) counts as one note (a low note's
/// upper partials look like a chord).
const RISE_MAX_CONFIDENCE: f32 = 0.7;
/// Weight of one onset in the leaky mean of chord onsets.
const ONSET_RATE: f32 = 0.34;
/// The onsets' decision rises at this mean ...
const ONSET_ON: f32 = 0.7;
/// ... and clears below this.
const ONSET_OFF: f32 = 0.3;
/// Unvoiced this long (s), the onsets' mean is forgotten.
const ONSET_FORGET_S: f32 = 1.0;
/// Weight of one onset in the slow mean of chord onsets (`PolyphonyConfig::voices_rate`) ...
const VOICES_RATE: f32 = 0.1;
/// ... below which the per-hop chord judge no longer gates (a melody on ringing strings).
const VOICES_BELOW: f32 = 0.2;
/// Melody steps (`PolyphonyConfig::step_back_hops`): a note the tracker started without an
/// onset is measured against the spectrum from before its dated onset, at most this long (ms)
/// back (0: off). Legato starts are decided 50–150 ms after their onset on slow swells.
const STEP_BACK_MS: f32 = 130.0;
/// Longest look-back of a melody step (hops): the ring of past spectra holds this many.
const STEP_BACK_MAX_HOPS: u32 = 256;
/// Weight of a melody step where one voice rose in the slow mean of chord onsets: three onsets'
/// worth, so a slow melody frees itself in a few notes (from 0.5 under 0.2 in three) before the
/// per-hop judge's 2 s mean gates it. A step where several voices rose weighs as an onset does
/// (`VOICES_RATE`): pad chords played after a melody are chords again within a few changes.
/// Chosen on `/tmp/jy` (dev melodies, never tuned on before) and the chorale tune split.
const STEP_RATE: f32 = 0.3;
/// A step where one voice rose counts only when the rest of the spectrum fell at least this
/// much (dB) since before its onset: a melody's previous notes fade, a chord's held voices do
/// not. On the chorale renders of `cargo xtask render-chorales --seed 2` (tune split) the steps
/// without it cost 46 of 2,934 top-voice notes, with it 13 (and 6 fewer wrong notes); on
/// `/tmp/jy` it keeps 0.0026 of the 0.0030 the steps gain.
const STEP_FALL_DB: f32 = 2.0;
/// One voice by its periodicity (`PolyphonyConfig::clear_above`): time constant (s) of the
/// leaky mean of strongly periodic voiced hops ...
const CLEAR_S: f32 = 3.0;
/// ... a hop counts when its pitch confidence is at least this ...
const CLEAR_CONFIDENCE: f32 = 0.9;
/// ... and at this share or above the stage does not say *chords* (0: off). On the chorale
/// tune split 7–41 % of a guitar's or piano's voiced hops are that periodic, 0–1 % of an
/// organ's or strings'; on the dev renders the chord gate's false holds were 73–92 % (a viola,
/// bass lines).
const CLEAR_ABOVE: f32 = 0.55;
/// A search hop whose second voice lies at most this many semitones from the first counts as
/// one voice in the chord judge's mean (`PolyphonyConfig::near_semitones`; 0: off): the note
/// before fading under a choir's, a pad's or a reverberant line's next one. 3 (a minor third)
/// cost the chorale tune split 4 % of its top-voice notes ...
const NEAR_SEMITONES: f32 = 2.0;
/// ... from this first voice up (`PolyphonyConfig::near_min_midi`): below it the search takes a
/// low note's partials for neighbour candidates (in `chords_are_heard_within_two_seconds` the
/// three moving voices were heard as chords after 3.7 s instead of 1.7 s with the rule at every
/// pitch).
const NEAR_MIN_MIDI: f32 = 60.0;

/// Onset rise (`onset_rise.rs`; `onset_rise=0` turns it off): the note that rose at an onset
/// is held this long (ms) after its rise was measured, or until the next onset ...
const ONSET_RISE_HOLD_MS: f32 = 80.0;
/// ... when what rose holds this share of the frame's energy ...
const ONSET_RISE_MIN_SHARE: f32 = 0.3;
/// ... and its second voice at most this share of the first's energy.
const ONSET_RISE_MAX_SECOND: f32 = 0.25;
/// Confidence of an estimate the stage replaced.
const ONSET_RISE_CONFIDENCE: f32 = 0.85;
/// An unvoiced estimate is replaced only when it names a subharmonic of the risen note, its
/// frequency 1/2 to 1/this of the note's (0: any unvoiced estimate) ...
const ONSET_RISE_DIVISOR: f32 = 8.0;
/// ... within this many cents.
const ONSET_RISE_DIVISOR_CENTS: f32 = 40.0;

/// Release tails (`release_tails.rs`; `tails=0` turns the stage off): the fall of the
/// polyphony stage's two voices is measured over this span (ms) ...
const TAILS_SPAN_MS: f32 = 170.0;
/// ... the second voice fades when it lost this much (dB), and this much more than the first.
const TAILS_FALL_DB: f32 = 6.0;
/// Weight of each chord-probable search hop in the leaky mean of "the second voice fades" ...
const TAILS_RATE: f32 = 0.005;
/// ... from which the input is a melody with release tails ...
const TAILS_ON: f32 = 0.06;
/// ... until it falls below this.
const TAILS_OFF: f32 = 0.04;
/// Melody steps (`release_tails.rs`; `tails_step=0` turns them off): the rise of the two
/// voices is measured over this span (ms) ...
const TAILS_STEP_SPAN_MS: f32 = 100.0;
/// ... one rose this much (dB) and this much more than the other: not polyphonic (and, on a
/// chord-probable search hop, a fading second voice for the release tails' mean;
/// `tails_step_share=0` leaves that mean as before) ...
const TAILS_STEP_RISE_DB: f32 = 4.0;
/// ... there when the other voice fell at least this much (dB): a release, not a held tone.
const TAILS_STEP_FALL_DB: f32 = 1.0;

/// Mixture pull (`mixture_pull.rs`): estimates below this confidence may be pulled (0: off) ...
const PULL_MAX_CONFIDENCE: f32 = 0.9;
/// ... when at least this far (semitones) from every semitone ...
const PULL_MIN_OFFSET: f32 = 0.2;
/// ... onto a Hann peak within a semitone that lies within this of a semitone ...
const PULL_MAX_PEAK_OFFSET: f32 = 0.25;
/// ... and holds at least this fraction of the strongest peak's amplitude.
const PULL_PEAK_FLOOR: f32 = 0.1;
/// ... and only where a semitone spans at least this many Hann bins (at 48 kHz, from G3 up).
const PULL_MIN_SEMITONE_BINS: f32 = 0.5;
/// Phantom estimates (`mixture_pull.rs`): a peak this loud (fraction of the strongest) at the
/// estimate or its octave is a partial of its own (0: the rule is off).
const PULL_PHANTOM_FLOOR: f32 = 0.06;
/// ... and, this long after an onset (ms), also one with a loud peak on one side only.
const PULL_PHANTOM_FRESH_MS: f32 = 25.0;

/// Partial series (`partial_series.rs`): estimates below this (Hz) are checked (0: off) ...
const SERIES_MAX_HZ: f32 = 160.0;
/// ... for this long after an onset (ms) ...
const SERIES_WINDOW_MS: f32 = 150.0;
/// ... against candidates up to this many semitones above ...
const SERIES_MAX_SEMITONES: f32 = 7.0;
/// ... whose harmonics (Hann peaks within `SERIES_TOLERANCE` of `h · g`, h = 2..8) hold this
/// many times the power of the estimate's ...
const SERIES_MIN_GAIN: f32 = 2.0;
/// ... and peak at this fraction of the strongest partial.
const SERIES_MIN_SHARE: f32 = 0.15;
/// Relative distance of a peak from `h · g` within which it counts as that harmonic.
const SERIES_TOLERANCE: f32 = 0.03;
/// While the previous note may ring, only estimates from this (Hz, just under F1) up are checked.
const SERIES_RINGING_MIN_HZ: f32 = 45.0;
/// ... and then only candidates at least this many semitones above the estimate are taken.
const SERIES_RINGING_MIN_STEP: f32 = 3.0;
/// Lowest note the quarter window names (Hz; `Analyzer::tiny_pitch_min_hz`).
const TINY_PITCH_MIN_HZ: f32 = 200.0;
/// Its floor right after an attack (Hz; `Analyzer::tiny_attack_min_hz`).
const TINY_ATTACK_MIN_HZ: f32 = 250.0;
/// How long that higher floor holds after an onset (ms; `Analyzer::tiny_attack_samples`).
const TINY_ATTACK_MS: f32 = 20.0;

/// The attack reader reports a candidate this likely (`attack_reader.rs`). 0.92 since the
/// refit of 2026-12-05: the refitted network is surer of itself later than the one before, and
/// at 0.95 its NoteOns came 0.7–1.2 ms later (dev 26.9 ms struck median, `/tmp/jy` 26.4) for
/// more right notes; at 0.92 it is as quick as the old network at 0.95 or quicker (0.90: 0.4–0.8
/// ms quicker still, F1 lower on dev, `/tmp/jq` and new melodies).
pub(crate) const ATTACK_THRESHOLD: f32 = 0.92;
/// Input samples are clamped to ±this (clipping is fine; huge values would overflow sums).
const INPUT_LIMIT: f32 = 8.0;
/// DC blocker corner frequency (Hz): far below the lowest pitch searched.
const DC_CORNER_HZ: f32 = 10.0;
/// Frames quieter than this (dBFS) skip the pitch search.
const PITCH_FLOOR_DB: f32 = -80.0;
/// Chroma counts partials between these frequencies (Hz).
const CHROMA_RANGE_HZ: (f32, f32) = (55.0, 5000.0);
/// Hann magnitudes of the long frame are computed up to this frequency (chroma, salience).
const HANN_MAX_HZ: f32 = 6000.0;
/// A top-voice re-attack is measured against the sounding note's salience this many hops
/// before the onset fired (the long frame then still holds only the old attack's ring).
const REATTACK_BEFORE_HOPS: usize = 2;
/// Spectral flux looks at partials below this frequency (Hz).
const FLUX_MAX_HZ: f32 = 12_000.0;

/// Sizes derived from the sample rate.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Long frame (pitch, chroma): the power of two ≥ 40 ms (2048 at 44.1/48 kHz).
    frame_len: usize,
    /// Hop: frame / 16 (128 at 48 kHz, 2.7 ms).
    hop: usize,
    /// Short frame for onsets: frame / 4 (512 at 48 kHz, 10.7 ms).
    short_len: usize,
}

impl Sizes {
    fn for_rate(sample_rate: f32, hops_per_frame: usize) -> Self {
        let target = (0.04 * sample_rate.max(1000.0)) as usize;
        let frame_len = target.next_power_of_two().clamp(256, 1 << 16);
        Self {
            frame_len,
            hop: frame_len / hops_per_frame.clamp(4, 64),
            short_len: frame_len / 4,
        }
    }
}

/// The streaming analyser.
pub struct Analyzer {
    /// Sample rate given to `new`; a different rate needs a new analyser.
    sample_rate: f32,
    /// The concert pitch notes are named in (semitones from A4 = 440 Hz): every conversion
    /// between a frequency and a note goes through it (`to_midi`, `to_hz`, the stages'
    /// `retune`). Set by [`Analyzer::set_reference`] and, when following, by the concert pitch
    /// heard.
    grid: f32,
    /// The owner's concert pitch (cents from A4 = 440 Hz) and whether to follow the player's
    /// ([`Analyzer::set_reference`]).
    reference_cents: f32,
    follow: bool,
    /// The player's concert pitch as heard (`concert_pitch.rs`). Kept through `reset` (it
    /// belongs to the instrument).
    concert_pitch: ConcertPitch,
    /// An estimate counts for the concert pitch from this pitch confidence up.
    concert_confidence: f32,
    /// The concert pitch heard moves `grid` when this far from it (cents).
    retune_cents: f32,
    /// Notes the concert pitch stage had counted when the grid was last decided.
    concert_notes: u64,
    /// False when `sample_rate` is outside [`listens_at`]: then `process` only advances the
    /// stream clock (no frames, no notes) and the stages below are the smallest ones, made for
    /// [`MIN_SAMPLE_RATE`] so that the type stays whole; they never run.
    listening: bool,
    /// Frame, hop and short-frame lengths for this rate.
    sizes: Sizes,
    /// Samples since the last reset (the stream clock).
    clock: u64,
    /// Samples still to come before the next hop is analysed (1..=hop).
    countdown: usize,
    /// DC blocker pole (from `DC_CORNER_HZ`).
    dc_pole: f32,
    /// DC blocker state: previous input.
    dc_x1: f32,
    /// DC blocker state: previous output.
    dc_y1: f32,
    /// The analysis's input gain, learned from the loudness of the notes heard
    /// (`input_level.rs`): every level threshold downstream is in dBFS. Kept through `reset`
    /// and `restart_at` (it belongs to the musician's input chain, not to the signal); a new
    /// analyser starts at 0 dB.
    input_level: InputLevel,
    /// Mains hum found in the input and taken out of the analysis's copy of it (`hum.rs`),
    /// before the input gain. Its tables are fixed arrays made in `new`; `reset` loses the
    /// mains' phase, so it is found again.
    hum: HumRemover,
    /// Whether it removed a hum at the last hop (a hum found is news to `input_level`).
    hum_was_removed: bool,
    /// Hops in a row the pitch has been at a mains frequency (`hold_mains_pitch`), and how
    /// many of them are not heard while the hum stage decides.
    mains_pitch_hops: u32,
    hum_wait_hops: u32,
    /// Circular buffer of the last `frame_len` sanitised samples, allocated in `new`.
    ring: Vec<f32>,
    /// Next write position in `ring` (also the oldest sample).
    ring_pos: usize,
    /// The last frame in time order, assembled from `ring` each hop (`frame_len`).
    frame: Vec<f32>,
    /// Long transform: rectangular window zero-padded to 2× (pitch + chroma).
    long: Stft,
    /// A second long transform for the onset gate (the long spectrum is still needed after).
    long_gated_stft: Stft,
    /// Short transform: Hann window over the last `short_len` samples (onsets).
    short: Stft,
    /// Hann magnitudes of the long frame up to `HANN_MAX_HZ` (chroma, salience, guards, the
    /// pitch stage's deep check), made each hop right after the long transform.
    hann_mags: Vec<f32>,
    /// Salience stage (harmonic energy per semitone, with history).
    salience: Salience,
    /// Polyphony stage (does a second note sound? is the input polyphonic?).
    polyphony: Polyphony,
    /// Its last answer (for `last_polyphony`: fitting the chord judge, diagnostics).
    last_polyphony: polyphony::PolyphonyOutput,
    /// Release-tail stage (is the polyphony stage's second voice the previous note's release?).
    release_tails: ReleaseTails,
    /// New-partial-set stage (a new note rising under the sounding one).
    newcomer: Newcomer,
    /// Its last answer (for `last_newcomer`: traces).
    last_newcomer: newcomer::NewcomerOutput,
    /// Frame model (`frame_net.rs`): the semitone bands every net hop, and what note sounds
    /// when the tracker's judge asks.
    frame_net: frame_net::FrameNet,
    /// The last hop was a net hop.
    frame_net_fresh: bool,
    /// Onset-rise stage (the note that rose at an onset, for hops the estimator leaves
    /// unvoiced under ringing notes).
    onset_rise: OnsetRise,
    /// Bin width of `hann_mags` in Hz.
    hann_bin_hz: f32,
    /// Top-voice stage (the highest note of a chord; its measures' scratch is made in `new`).
    top_voice: TopVoice,
    /// Notes from the top voice while the input is chords (`top_voice.rs`).
    top_follower: TopFollower,
    /// Follow the top voice while the chord gate holds (`top_voice=0`: stay silent, as before).
    top_follow: bool,
    /// Search the top voice on every search hop even without chords (for fitting it).
    top_voice_always: bool,
    /// The top voice is searched on one hop in this many (as the polyphony stage's search).
    top_every: u32,
    /// Hops since the last top-voice search.
    top_count: u32,
    /// The chord gate held on the previous hop (its searches' mean is forgotten when it opens).
    top_was_gated: bool,
    /// The last search's answer, and whether this hop searched (for fitting and traces).
    last_top: TopPick,
    top_searched: bool,
    /// Subharmonic guard: a pitch whose fundamental is this far (as an amplitude ratio) below the
    /// strongest partial is treated as a mixture's common subharmonic (unvoiced).
    fundamental_floor: f32,
    /// Subharmonic guard: energy ratio (off-multiple / multiple partials) below which the pitch
    /// is lifted by 2 or 3.
    subharmonic_ratio: f32,
    /// Octave-stop guard: a 16' + 8' organ registration is named by its 8' key, not by the
    /// 16' period every detector finds (`octave_stops.rs`).
    octave_stops: OctaveStops,
    /// Quint-rank guard: an estimate with no fundamental whose spectrum is an 8' + 5⅓'
    /// registration (the common period is half the key) is named by its key (`quint_rank.rs`).
    quint_rank: QuintRankConfig,
    /// Mixture pull: a weakly periodic estimate between two semitones moves onto its
    /// fundamental's Hann peak (`mixture_pull.rs`; a pad's release under the next note).
    mixture_pull: MixturePull,
    /// Partial series: right after a low note's attack, an estimate at a loud component without
    /// overtones (a bass body's resonance under the key) moves to the key its upper partials
    /// name (`partial_series.rs`).
    partial_series: PartialSeriesConfig,
    /// The partial series is checked this many hops after an onset (0: never).
    series_window_hops: u32,
    /// While the previous note may still ring under the new one, only estimates at or above
    /// this (Hz) are checked (0: none are, as before 2026-12-02). A bass line played legato
    /// or let ring has the previous note under every pluck; TimGM6mb's Acoustic Bass then lost
    /// nearly every note to its body resonance (focused renders of dev melodies, `cargo xtask
    /// render-dataset --count 24 --seed 111 --programs 32 --soundfont TimGM6mb`: F1 0.366 with
    /// no check while ringing, 0.527 with this floor, 0.530 with none). Under it (the keys
    /// below F1, whose partials lie under two bins apart) the ringing note's unresolved
    /// partials fake a series: a G1 after an A1, and a D1, started as G#1 first (dev
    /// `airds-book6-125-1-p33`).
    series_ringing_min_hz: f32,
    /// ... and only candidates at least this many semitones above the estimate are taken then:
    /// a bass line let ring (each note 12 dB down when the next is struck) read a G2 after an
    /// A2 as G#2 first, from the two notes' merged partials, with the check on while ringing
    /// (the Acoustic Bass set: 0.525 with both rules).
    series_ringing_min_step: u32,
    /// Hops since the last onset (saturating; `u32::MAX` before the first).
    hops_since_onset: u32,
    /// For this many hops after an onset the long frame still holds mostly the note before:
    /// mixture pull then takes an estimate for a phantom only between two notes.
    phantom_fresh_hops: u32,
    /// Pitch stage.
    pitch: PitchDetector,
    /// Short-window pitch transform: the last half frame, rectangular, zero-padded to 2×.
    /// A new note dominates half a window twice as fast, so high notes are confirmed sooner.
    short_pitch_stft: Stft,
    /// Pitch stage on the half frame.
    short_pitch: PitchDetector,
    /// Use the half-frame pitch when it is confident and at least this high (Hz); 0 = never.
    short_pitch_min_hz: f32,
    /// Quarter-frame pitch transform (the last ≈ 10 ms), for high notes right after an attack.
    tiny_pitch_stft: Stft,
    /// Pitch stage on the quarter frame.
    tiny_pitch: PitchDetector,
    /// Use the quarter-frame pitch when it is confident and at least this high (Hz); 0 = never.
    /// 200 Hz: 2.1 periods in the 10.7 ms window (2.3 at 44.1 kHz), enough for the NSDF of a
    /// sustained note. A voice or a string section moving to a note between 200 and 250 Hz is
    /// read from these 10 ms instead of a half window still full of the previous note (the
    /// limit was 250 Hz, 2.7 periods). With the two guards below: dev 0.894 → 0.896 (voices
    /// +0.014, string ensembles +0.008), voices +0.017 on 300 renders of every program (all
    /// 0.890 both), +0.008 on 30 fresh voice renders; neutral on the test split (0.881 both,
    /// voice −0.002); see `docs/transcription-journal.md`.
    tiny_pitch_min_hz: f32,
    /// Right after an attack, and for a semitone next to the sounding note, the quarter window
    /// answers only from this frequency up (Hz; see `tiny_attack_samples` and
    /// `tiny_neighbour_guard`): the floor it had before it read lower notes.
    tiny_attack_min_hz: f32,
    /// How long after an onset (samples, from the onset gate's start) the quarter window keeps
    /// the higher floor `tiny_attack_min_hz`: a guitar's pluck sounds a component at half the
    /// new note's frequency for its first 10–15 ms, and with the lower floor the quarter window
    /// named a nylon guitar's A4 as A3 (`../shared/audio` 0.944 → 0.942). 20 ms.
    tiny_attack_samples: u64,
    /// Under `tiny_attack_min_hz`, a quarter-window answer that names a semitone next to the
    /// sounding note is not taken (the longer windows answer): two notes sounding together
    /// (a pad's or a choir's release under the next note) beat within 10 ms, and the quarter
    /// window's NSDF names the semitone beside the louder one, hop after hop, at confidence
    /// 0.9 (a B3 over a G3 at −6 dB read 57.9–60.5). A real step of a semitone is found by
    /// the half window as before. Higher up the same holds once the onset gate has closed
    /// (`gate_start` is `None`, one long frame after the onset): a celesta's or music box's
    /// notes ring on under the next ones a tone or two apart, their beats (70 Hz for C♯5 under
    /// D♯5) are slower than the quarter window is long, and its answer swung between the played
    /// note and the semitone above it hop after hop (C♯5 read 73.0, 73.8, 73.0 …), so no run
    /// held and each note started only at the next onset (a TimGM6mb celesta render, F1 0.545
    /// → 0.659). Right after an onset the quarter window still answers at any step: it names a
    /// new note a semitone away before the longer windows can. `tiny_neighbour_guard=0` turns
    /// both off.
    tiny_neighbour_guard: bool,
    /// The half and quarter windows' NSDF answers checked against their fundamental's spectral
    /// peak (`fundamental.rs`: a struck bar's inharmonic mode pulls the NSDF a semitone).
    fundamental: FundamentalConfig,
    /// Whether the cancelled quarter window's answer is checked too (`fundamental_cancelled`).
    fundamental_cancelled: bool,
    /// Onset stage.
    onset: OnsetDetector,
    /// Names the new note in the first hops after an onset (`attack_reader.rs`); its buffers
    /// are allocated in `new`.
    attack_reader: AttackReader,
    /// Number of short-transform bins the onset stage reads.
    flux_bins: usize,
    /// Level stage.
    loudness: Loudness,
    /// This hop's sums of squares of `frame` (the level's, and the quarter and half windows'
    /// pitch energies), taken in one pass at the start of the hop.
    energies: FrameEnergies,
    /// Chroma stage.
    chroma: Chroma,
    /// Note tracker.
    tracker: NoteTracker,
    /// The last feature frame (for meters and `current_pitch`).
    last: FeatureFrame,
    /// Minimum confidence the tracker uses, for `current_pitch`.
    min_confidence: f32,
    /// Minimum confidence for the half and quarter windows' answers to win over the long one.
    /// Lower than the tracker's: right after an attack the long window still holds the old
    /// note, so a fairly periodic short window is the better witness (the tracker still wants
    /// its own confidence and a stable run before it starts a note). 0.5 raised F1 and cut the
    /// struck median latency by 2.5 ms on both halves of the evaluation files.
    short_min_confidence: f32,
    /// A half- or quarter-window answer less confident than this is checked against the long
    /// window (`deep_below`, 0 = never): a bassoon's low note (D2, transposed fiddle tunes)
    /// has a weak fundamental and a formant near 500 Hz, and the short windows, which cannot
    /// hold its period, read its fifth or sixth partial at 0.5–0.8 for hundreds of ms while the
    /// long window names the note at 0.99. The long answer wins when it is at least
    /// `deep_min_confidence`, has energy at its fundamental (a mixture's common subharmonic
    /// has none) and the short answer lies at one of its harmonics (2nd–8th). Costs the long
    /// window's NSDF on such hops only.
    deep_below: f32,
    /// See `deep_below`.
    deep_min_confidence: f32,
    /// See `deep_below`: the short answer lies at a harmonic of the long one when their ratio
    /// is within this fraction of a whole number.
    deep_tolerance: f32,
    /// Onset gate: stream time at which the last onset began, while the frame still holds
    /// samples from before it. Until then the pitch is first sought on the samples since the
    /// onset only (the rest zeroed): the previous note, still ringing in the older part of the
    /// windows, no longer outvotes the new one.
    gate_start: Option<u64>,
    /// The gated frame (`frame_len`), allocated in `new`.
    gated: Vec<f32>,
    /// Cancellation: the quarter frame (after an onset; the half frame for a newcomer) minus
    /// itself one period of the previous note earlier (`frame_len / 2`, allocated in `new`). Right after an attack the short windows hold the
    /// end of the previous note and the start of the new one, and their NSDF often answers with
    /// neither (a common subharmonic, a mixture). A comb at the previous note's period removes
    /// it whatever its level, so the new note's period stands out as soon as it sounds.
    cancelled: Vec<f32>,
    /// A newcomer (`newcomer.rs`) is passed to the tracker only when the half frame with the
    /// old note cancelled is at least this periodic at its pitch (0: not asked).
    newcomer_confidence: f32,
    /// ... or when the frame model (`frame_net.rs`) gives its pitch at least this probability
    /// now (above 1: never). The comb leaves the old note's residue when the two ring together
    /// at one level (a celesta's or a bell's soft attack under the last note's ring), and the
    /// half frame is then not periodic enough, though the new note sounds.
    newcomer_frame_p: f32,
    /// Frequency (Hz) of the note sounding before the last onset, from its last confident
    /// estimate away from any onset; 0 when no note sounds.
    previous_hz: f32,
    /// Minimum confidence for the cancelled frame's answer to win over the other windows. High:
    /// a comb leaves a residue of the old note when it glides, and only a clearly periodic
    /// remainder is a new note.
    cancel_min_confidence: f32,
    /// Whether a cancelled answer at a subharmonic (½, ⅓) of the plain quarter window's answer
    /// is raised to it (`cancel_subharmonic`, 0: off; see `Analyzer::cancelled_subharmonic`):
    /// the comb at the old period weakens the fundamental of a new note a semitone or a tone
    /// away, and the remainder's NSDF then named the note an octave low for several hops (a
    /// steel guitar's D4 after E♭4 read D3 for 23 ms, on a dev render of GM 25). On the hops
    /// the cancelled answer wins, the plain quarter window is now searched as well (one more
    /// quarter-frame transform and NSDF; on every other hop it was searched already).
    cancel_subharmonic_check: bool,
    /// The onset is put this many samples before the hop where flux fired; 0 disables the gate
    /// (and cancellation, which runs while `gate_start` is set).
    gate_backdate: u64,
    /// The gate needs at least this many samples since the onset (≈ 13 ms).
    gate_min_samples: u64,
    /// Lags searched in the gated frame: up to this fraction of the samples since the onset.
    gate_lag_fraction: f32,
    /// Minimum confidence for the gated estimate to win.
    gate_min_confidence: f32,
}

impl Analyzer {
    /// Allocates everything for `sample_rate`: FFT plans, windows, rings and scratch.
    pub fn new(sample_rate: f32) -> Self {
        Self::with_tuning(sample_rate, &Tuning::default())
    }

    /// Like [`Analyzer::new`] with some settings overridden (evaluation and tuning).
    /// At a rate where it cannot listen (see [`listens_at`]) the analyser stays silent: it
    /// counts samples and reports nothing (check [`Analyzer::is_listening`]).
    pub fn with_tuning(sample_rate: f32, tuning: &Tuning) -> Self {
        let listening = listens_at(sample_rate);
        let true_rate = sample_rate;
        // The stages are only built for a rate they can work at; a silent analyser gets the
        // smallest ones and never runs them.
        let sample_rate = if listening {
            sample_rate
        } else {
            MIN_SAMPLE_RATE
        };
        let sizes = Sizes::for_rate(sample_rate, tuning.get("hops_per_frame", 16.0) as usize);
        let long = Stft::new(StftConfig {
            frame_len: sizes.frame_len,
            fft_len: 2 * sizes.frame_len,
            window: WindowShape::Rectangular,
        });
        let short = Stft::new(StftConfig {
            frame_len: sizes.short_len,
            fft_len: sizes.short_len,
            window: WindowShape::Hann,
        });
        let flux_bins =
            ((FLUX_MAX_HZ * sizes.short_len as f32 / sample_rate) as usize).clamp(1, short.bins());
        let chroma = Chroma::new(ChromaConfig {
            sample_rate,
            fft_len: sizes.frame_len,
            min_hz: CHROMA_RANGE_HZ.0,
            max_hz: CHROMA_RANGE_HZ.1.min(sample_rate * 0.45),
        });
        let hop_s = sizes.hop as f32 / sample_rate;
        let tracker_config = TrackerConfig::new(
            sample_rate,
            sizes.hop,
            sizes.frame_len,
            sizes.short_len,
            tuning,
        );
        let salience = Salience::new(SalienceConfig {
            sample_rate,
            frame_len: sizes.frame_len,
            min_midi: 21,
            max_midi: 108,
            harmonics: 6,
            history_hops: (0.25 / hop_s).ceil() as usize,
        });
        let polyphony = Polyphony::new(PolyphonyConfig {
            sample_rate,
            frame_len: sizes.frame_len,
            min_midi: 28,
            max_midi: 100,
            harmonics: 6,
            ratio: tuning.get("poly_ratio", 0.35),
            fundamental_floor: tuning.get("poly_fundamental_floor", 0.1),
            hold_hops: ((tuning.get("poly_hold_ms", 150.0) / 1000.0 / hop_s).round() as u32).max(1),
            every_hops: tuning.get("poly_every_hops", 4.0).max(1.0) as u32,
            chord_rate: (tuning.get("poly_every_hops", 4.0).max(1.0) * hop_s
                / tuning.get("chord_s", CHORD_S).max(hop_s))
            .min(1.0),
            chord_on: tuning.get("chord_on", CHORD_ON),
            chord_off: tuning.get("chord_off", CHORD_OFF),
            rise_back_hops: tuning.get("rise_back_hops", RISE_BACK_HOPS).max(0.0) as u32,
            rise_delay_hops: ((tuning.get("rise_delay_ms", RISE_DELAY_MS) / 1000.0 / hop_s).round()
                as u32)
                .max(1),
            rise_ratio: tuning.get("rise_ratio", RISE_RATIO),
            rise_third_ratio: tuning.get("rise_third_ratio", RISE_THIRD_RATIO),
            rise_min_share: tuning.get("rise_min_share", RISE_MIN_SHARE),
            rise_min_hz: tuning.get("rise_min_hz", RISE_MIN_HZ),
            rise_spread_cents: tuning.get("rise_spread_cents", RISE_SPREAD_CENTS),
            rise_max_confidence: tuning.get("rise_max_confidence", RISE_MAX_CONFIDENCE),
            onset_rate: tuning.get("onset_rate", ONSET_RATE),
            onset_on: tuning.get("onset_on", ONSET_ON),
            onset_off: tuning.get("onset_off", ONSET_OFF),
            onset_forget_hops: ((tuning.get("onset_forget_s", ONSET_FORGET_S) / hop_s).round()
                as u32)
                .max(1),
            voices_rate: tuning.get("voices_rate", VOICES_RATE),
            voices_below: tuning.get("voices_below", VOICES_BELOW),
            clear_rate: (hop_s / tuning.get("clear_s", CLEAR_S).max(hop_s)).min(1.0),
            clear_confidence: tuning.get("clear_confidence", CLEAR_CONFIDENCE),
            clear_above: tuning.get("clear_above", CLEAR_ABOVE),
            near_semitones: tuning.get("near_semitones", NEAR_SEMITONES).max(0.0) as u32,
            near_min_midi: tuning.get("near_min_midi", NEAR_MIN_MIDI).clamp(0.0, 127.0) as u8,
            step_back_hops: ((tuning.get("step_back_ms", STEP_BACK_MS).max(0.0) / 1000.0 / hop_s)
                .round() as u32)
                .min(STEP_BACK_MAX_HOPS),
            step_rate: tuning.get("step_rate", STEP_RATE),
            step_chord_rate: tuning.get("step_chord_rate", VOICES_RATE),
            step_fall_db: tuning.get("step_fall_db", STEP_FALL_DB),
        });
        let release_tails = ReleaseTails::new(ReleaseTailsConfig {
            span_hops: if tuning.get("tails", 1.0) > 0.5 {
                ((tuning.get("tails_span_ms", TAILS_SPAN_MS) / 1000.0 / hop_s).round() as usize)
                    .clamp(1, salience.history_hops().saturating_sub(1).max(1))
            } else {
                0
            },
            fall_db: tuning.get("tails_fall_db", TAILS_FALL_DB),
            rate: tuning.get("tails_rate", TAILS_RATE),
            share_on: tuning.get("tails_on", TAILS_ON),
            share_off: tuning.get("tails_off", TAILS_OFF),
            step_span_hops: if tuning.get("tails_step", 1.0) > 0.5 {
                ((tuning.get("tails_step_ms", TAILS_STEP_SPAN_MS) / 1000.0 / hop_s).round()
                    as usize)
                    .clamp(1, salience.history_hops().saturating_sub(1).max(1))
            } else {
                0
            },
            step_rise_db: tuning.get("tails_step_db", TAILS_STEP_RISE_DB),
            step_counts: tuning.get("tails_step_share", 1.0) > 0.5,
            step_fall_db: tuning.get("tails_step_fall_db", TAILS_STEP_FALL_DB),
        });
        let newcomer = Newcomer::new(NewcomerConfig {
            sample_rate,
            frame_len: sizes.frame_len,
            min_midi: 36,
            max_midi: 96,
            harmonics: 6,
            every_hops: tuning.get("newcomer_every_hops", 2.0).max(1.0) as u32,
            lag_hops: ((tuning.get("newcomer_lag_ms", 40.0)
                / 1000.0
                / (hop_s * tuning.get("newcomer_every_hops", 2.0).max(1.0)))
            .round()
            .max(0.0) as usize)
                * usize::from(tuning.get("newcomer", 1.0) > 0.5),
            decay: tuning
                .get("newcomer_decay_db", NEWCOMER_DECAY_DB)
                .mul_add(-0.05 * std::f32::consts::LN_10, 0.0)
                .exp(),
            vibrato_share: tuning.get("newcomer_vibrato", 0.03),
            min_new_share: tuning.get("newcomer_new_share", 0.6),
            min_coherence: tuning.get("newcomer_coherence", 0.5),
            min_level: tuning.get("newcomer_level", 0.1),
            fundamental_floor: tuning.get("newcomer_fundamental_floor", 0.1),
            hold: tuning.get("newcomer_hold", 4.0).max(1.0) as u32,
        });
        let hann_bin_hz = sample_rate / sizes.frame_len as f32;
        let hann_bins = ((HANN_MAX_HZ.min(sample_rate * 0.45) / hann_bin_hz) as usize)
            .max(chroma.bins_needed())
            .max(salience.bins_needed())
            .max(polyphony.bins_needed())
            .max(newcomer.bins_needed())
            .min(sizes.frame_len / 2 + 1);
        let top_every = tuning.get("poly_every_hops", 4.0).max(1.0) as u32;
        let hop_samples = sizes.hop as u64;
        let top_follower = TopFollower::new(FollowerConfig {
            sure: tuning.get("top_sure", 0.65),
            confirm: tuning.get("top_confirm", 4.0).max(1.0) as u32,
            lose: tuning.get("top_lose", 0.0).max(0.0) as u32,
            gate_db: tuning.get("top_gate_db", -50.0),
            backdate: (tuning.get("top_backdate_frames", 0.5).max(0.0) * sizes.frame_len as f32)
                as u64,
            onset_window: (tuning.get("top_onset_window_hops", 384.0).max(0.0) as u64)
                * hop_samples,
            takeover_drop_db: tuning.get("top_drop_db", 0.0),
            rise_min_db: tuning.get("top_rise_db", 2.0),
            rise_backdate: (tuning.get("top_rise_backdate_ms", 30.0).max(0.0) / 1000.0
                * sample_rate) as u64,
            reattack_db: tuning.get("top_reattack_db", 10.0),
            reattack_share: tuning.get("top_reattack_share", 0.8),
            reattack_wait: (tuning.get("top_reattack_ms", 80.0).max(0.0) / 1000.0 * sample_rate)
                as u64,
            reattack_min_age: (tuning.get("top_reattack_age_ms", 100.0).max(0.0) / 1000.0
                * sample_rate) as u64,
        });
        let mut analyzer = Self {
            top_voice: TopVoice::new(
                hann_bins,
                hann_bin_hz,
                top_voice::Network::shipped(),
                tuning.get("top_smoothing", 0.35),
            ),
            top_follower,
            top_follow: tuning.get("top_voice", 1.0) > 0.5,
            top_voice_always: tuning.get("top_voice_always", 0.0) > 0.5,
            top_every,
            top_count: 0,
            top_was_gated: false,
            last_top: TopPick::default(),
            top_searched: false,
            sample_rate: true_rate,
            grid: 0.0,
            reference_cents: 0.0,
            follow: tuning.get("concert", 1.0) > 0.5,
            concert_pitch: ConcertPitch::new(ConcertPitchConfig::new(hop_s, tuning)),
            concert_confidence: tuning.get("concert_confidence", 0.8),
            retune_cents: tuning.get("concert_retune_cents", RETUNE_CENTS).max(0.1),
            concert_notes: 0,
            listening,
            sizes,
            clock: 0,
            countdown: sizes.hop,
            dc_pole: 1.0 - std::f32::consts::TAU * DC_CORNER_HZ / sample_rate,
            dc_x1: 0.0,
            dc_y1: 0.0,
            input_level: InputLevel::new(InputLevelConfig::new(hop_s, tuning)),
            hum: HumRemover::new(HumConfig::new(sample_rate, tuning)),
            hum_was_removed: false,
            mains_pitch_hops: 0,
            hum_wait_hops: (tuning.get("hum_wait_s", 3.0) / hop_s.max(1e-6)).round() as u32,
            ring: vec![0.0; sizes.frame_len],
            ring_pos: 0,
            frame: vec![0.0; sizes.frame_len],
            long_gated_stft: Stft::new(StftConfig {
                frame_len: sizes.frame_len,
                fft_len: 2 * sizes.frame_len,
                window: WindowShape::Rectangular,
            }),
            long,
            short,
            hann_mags: vec![0.0; hann_bins],
            salience,
            polyphony,
            last_polyphony: polyphony::PolyphonyOutput::default(),
            release_tails,
            newcomer,
            last_newcomer: newcomer::NewcomerOutput::default(),
            frame_net: frame_net::FrameNet::new(
                hann_bin_hz,
                hann_bins,
                sizes.hop,
                sample_rate,
                (tuning.get("frame_net", 1.0) > 0.5)
                    .then(frame_net::shipped_weights)
                    .flatten(),
            ),
            frame_net_fresh: false,
            onset_rise: OnsetRise::new(OnsetRiseConfig {
                hold_hops: if tuning.get("onset_rise", 1.0) > 0.5 {
                    ((tuning.get("onset_rise_hold_ms", ONSET_RISE_HOLD_MS) / 1000.0 / hop_s).round()
                        as u32)
                        .max(1)
                } else {
                    0
                },
                min_share: tuning.get("onset_rise_min_share", ONSET_RISE_MIN_SHARE),
                max_second: tuning.get("onset_rise_max_second", ONSET_RISE_MAX_SECOND),
                confidence: tuning.get("onset_rise_confidence", ONSET_RISE_CONFIDENCE),
                replace_old: tuning.get("onset_rise_old", 0.0) > 0.5,
                max_divisor: tuning
                    .get("onset_rise_divisor", ONSET_RISE_DIVISOR)
                    .max(0.0) as u32,
                divisor_cents: tuning.get("onset_rise_divisor_cents", ONSET_RISE_DIVISOR_CENTS),
            }),
            hann_bin_hz,
            fundamental_floor: tuning.get("fundamental_floor", 0.03),
            subharmonic_ratio: tuning.get("subharmonic_ratio", 0.05),
            octave_stops: OctaveStops::new(OctaveStopsConfig::new(
                sample_rate,
                sizes.frame_len,
                sizes.hop,
                tuning,
            )),
            quint_rank: QuintRankConfig::new(hann_bin_hz, tuning),
            mixture_pull: MixturePull::new(MixturePullConfig {
                bin_hz: hann_bin_hz,
                max_confidence: tuning.get("pull_max_confidence", PULL_MAX_CONFIDENCE),
                min_offset: tuning.get("pull_min_offset", PULL_MIN_OFFSET),
                max_peak_offset: tuning.get("pull_max_peak_offset", PULL_MAX_PEAK_OFFSET),
                peak_floor: tuning.get("pull_peak_floor", PULL_PEAK_FLOOR),
                min_semitone_bins: tuning.get("pull_min_semitone_bins", PULL_MIN_SEMITONE_BINS),
                phantom_floor: tuning.get("pull_phantom_floor", PULL_PHANTOM_FLOOR),
            }),
            partial_series: PartialSeriesConfig {
                bin_hz: hann_bin_hz,
                max_hz: tuning.get("series_max_hz", SERIES_MAX_HZ),
                max_semitones: tuning
                    .get("series_max_semitones", SERIES_MAX_SEMITONES)
                    .max(0.0) as u32,
                min_gain: tuning.get("series_min_gain", SERIES_MIN_GAIN),
                min_share: tuning.get("series_min_share", SERIES_MIN_SHARE),
                tolerance: tuning.get("series_tolerance", SERIES_TOLERANCE),
            },
            series_ringing_min_hz: tuning.get("series_ringing_min_hz", SERIES_RINGING_MIN_HZ),
            series_ringing_min_step: tuning
                .get("series_ringing_min_step", SERIES_RINGING_MIN_STEP)
                .max(1.0) as u32,
            series_window_hops: (tuning.get("series_window_ms", SERIES_WINDOW_MS) / 1000.0 / hop_s)
                .round()
                .max(0.0) as u32,
            hops_since_onset: u32::MAX,
            phantom_fresh_hops: (tuning.get("pull_phantom_fresh_ms", PULL_PHANTOM_FRESH_MS)
                / 1000.0
                / hop_s)
                .round()
                .max(0.0) as u32,
            pitch: PitchDetector::new(PitchConfig::new(sample_rate, sizes.frame_len, tuning)),
            short_pitch_stft: Stft::new(StftConfig {
                frame_len: sizes.frame_len / 2,
                fft_len: sizes.frame_len,
                window: WindowShape::Rectangular,
            }),
            short_pitch: PitchDetector::new(PitchConfig::new(
                sample_rate,
                sizes.frame_len / 2,
                tuning,
            )),
            short_pitch_min_hz: tuning.get("short_pitch_min_hz", 150.0),
            tiny_pitch_stft: Stft::new(StftConfig {
                frame_len: sizes.frame_len / 4,
                fft_len: sizes.frame_len / 2,
                window: WindowShape::Rectangular,
            }),
            tiny_pitch: PitchDetector::new(PitchConfig::new(
                sample_rate,
                sizes.frame_len / 4,
                tuning,
            )),
            tiny_pitch_min_hz: tuning.get("tiny_pitch_min_hz", TINY_PITCH_MIN_HZ),
            tiny_attack_min_hz: tuning.get("tiny_attack_min_hz", TINY_ATTACK_MIN_HZ),
            tiny_neighbour_guard: tuning.get("tiny_neighbour_guard", 1.0) > 0.5,
            tiny_attack_samples: (tuning.get("tiny_attack_ms", TINY_ATTACK_MS).max(0.0)
                * 0.001
                * sample_rate) as u64,
            fundamental: FundamentalConfig::new(sample_rate, tuning),
            fundamental_cancelled: tuning.get("fundamental_cancelled", 1.0) > 0.5,
            onset: OnsetDetector::new(OnsetConfig::new(flux_bins, hop_s, tuning)),
            attack_reader: AttackReader::new(AttackReaderConfig {
                sample_rate,
                short_len: sizes.short_len,
                short_bins: flux_bins,
                threshold: tuning.get("attack_threshold", ATTACK_THRESHOLD),
            }),
            flux_bins,
            loudness: Loudness::new(LoudnessConfig {
                recent_len: sizes.short_len,
            }),
            energies: FrameEnergies::default(),
            chroma,
            tracker: {
                let mut t = NoteTracker::with_judge(tracker_config, judge::StartJudge::new(tuning));
                t.set_fast(tuning.get("fast_tracking", 1.0) > 0.5);
                t
            },
            last: FeatureFrame {
                level_db: FLOOR_DB,
                ..FeatureFrame::default()
            },
            min_confidence: tracker_config.min_confidence,
            short_min_confidence: tuning.get("short_min_confidence", 0.5),
            deep_below: tuning.get("deep_below", DEEP_BELOW),
            deep_min_confidence: tuning.get("deep_min_confidence", 0.95),
            deep_tolerance: tuning.get("deep_tolerance", DEEP_TOLERANCE),
            gate_start: None,
            gated: vec![0.0; sizes.frame_len],
            cancelled: vec![0.0; sizes.frame_len / 2],
            newcomer_confidence: tuning.get("newcomer_confidence", 0.8),
            newcomer_frame_p: tuning.get("newcomer_frame_p", NEWCOMER_FRAME_P),
            previous_hz: 0.0,
            cancel_min_confidence: tuning.get("cancel_min_confidence", 0.9),
            cancel_subharmonic_check: tuning.get("cancel_subharmonic", 1.0) > 0.5,
            gate_backdate: (tuning.get("gate_backdate", 0.5) * sizes.short_len as f32).max(0.0)
                as u64,
            // Two periods of the highest note the half window leaves to the long one: shorter
            // gated frames only find notes the short windows already cover.
            gate_min_samples: (tuning.get(
                "gate_min_ms",
                2000.0 / tuning.get("short_pitch_min_hz", 150.0).max(1.0),
            ) * 0.001
                * sample_rate) as u64,
            gate_lag_fraction: tuning.get("gate_lag_fraction", 0.5),
            gate_min_confidence: tuning.get("gate_min_confidence", 0.6),
        };
        analyzer.set_reference(tuning.get("reference_cents", 0.0), analyzer.follow);
        analyzer
    }

    /// The rate given to `new` (also when the analyser cannot listen at it).
    pub fn sample_rate(&self) -> f32 {
        self.sample_rate
    }

    /// False when the rate is outside [`listens_at`]: `process` then reports nothing.
    pub fn is_listening(&self) -> bool {
        self.listening
    }

    /// Samples per analysis hop.
    pub fn hop_samples(&self) -> usize {
        self.sizes.hop
    }

    /// Length of the analysis window in samples.
    pub fn window_samples(&self) -> usize {
        self.sizes.frame_len
    }

    /// Typical delay between a note's real onset and its NoteOn for a clear attack: half the
    /// onset frame plus the hops the pitch must stay stable (≈ 12 ms at 48 kHz). Slow attacks
    /// and legato changes take longer.
    pub fn latency_hint_samples(&self) -> u32 {
        (self.sizes.short_len / 2 + 3 * self.sizes.hop) as u32
    }

    /// Names notes in the concert pitch `cents` from A4 = 440 Hz (clamped to
    /// ±[`MAX_REFERENCE_CENTS`]; non-finite: 0), or, with `follow`, in the player's as soon as
    /// it is heard (`concert_pitch.rs`), taken within half a semitone of `cents`. Cheap when
    /// nothing changes (the plugin calls it every block); no allocation.
    pub fn set_reference(&mut self, cents: f32, follow: bool) {
        let cents = if cents.is_finite() {
            cents.clamp(-MAX_REFERENCE_CENTS, MAX_REFERENCE_CENTS)
        } else {
            0.0
        };
        if cents == self.reference_cents && follow == self.follow {
            return;
        }
        self.reference_cents = cents;
        self.follow = follow;
        self.retune(self.wanted_cents().unwrap_or(cents));
    }

    /// The concert pitch notes are named in now (cents from A4 = 440 Hz).
    pub fn concert_cents(&self) -> f32 {
        100.0 * self.grid
    }

    /// The player's concert pitch as heard (cents from A4 = 440 Hz, in (−50, 50]), once the
    /// notes agree on one.
    pub fn heard_concert_cents(&self) -> Option<f32> {
        self.concert_pitch.cents()
    }

    /// The tuning heard (cents, within a semitone) taken within half a semitone of the
    /// owner's reference: a player at A4 = 415 Hz with the reference there is a semitone down,
    /// not in tune.
    fn near_reference(&self, heard: f32) -> f32 {
        self.reference_cents + concert_pitch::fold_cents(heard - self.reference_cents)
    }

    /// Counts this hop's estimate for the concert pitch (when `clear`: voiced, one voice) and,
    /// when following, moves the grid to the one heard once it lies `retune_cents` away.
    fn follow_concert_pitch(&mut self, clear: bool, estimate: &PitchEstimate, midi: f32) {
        let counted =
            (clear && estimate.hz > 0.0 && estimate.confidence >= self.concert_confidence)
                .then_some(midi);
        self.concert_pitch
            .hop(self.tracker.active_pitch(), counted, 100.0 * self.grid);
        // Decided again only when a note has counted.
        let notes = self.concert_pitch.notes();
        if !self.follow || notes == self.concert_notes {
            return;
        }
        self.concert_notes = notes;
        let Some(target) = self.wanted_cents() else {
            return;
        };
        let now = 100.0 * self.grid;
        if (target - now).abs() >= self.retune_cents
            || (target == self.reference_cents && now != target)
        {
            self.retune(target);
        }
    }

    /// The concert pitch to name notes in (cents): the owner's reference, or, when following,
    /// the tuning heard, unless it would name another semitone more than a few of the notes the
    /// reference names without doubt, or the notes no longer agree on one. `None` while
    /// following and nothing is heard yet.
    fn wanted_cents(&self) -> Option<f32> {
        let reference = self.reference_cents;
        if !self.follow {
            return Some(reference);
        }
        match self.concert_pitch.cents() {
            Some(heard) => {
                let wanted = self.near_reference(heard);
                let renamed = self
                    .concert_pitch
                    .renamed_share(reference, wanted, SETTLED_CENTS);
                Some(if renamed <= MAX_RENAMED_SHARE {
                    wanted
                } else {
                    reference
                })
            }
            None if self.concert_pitch.is_heard() => Some(reference),
            None => None,
        }
    }

    /// Names notes in the concert pitch `cents` from A4 = 440 Hz from now on: the grid and
    /// every stage's table of candidate bins (no allocation).
    fn retune(&mut self, cents: f32) {
        let grid = cents.clamp(-MAX_REFERENCE_CENTS, MAX_REFERENCE_CENTS) / 100.0;
        if grid == self.grid {
            return;
        }
        self.grid = grid;
        self.salience.retune(grid);
        self.polyphony.retune(grid);
        self.newcomer.retune(grid);
        self.top_voice.features.retune(grid);
        self.attack_reader.retune(grid);
        self.chroma.retune(grid);
        self.mixture_pull.retune(grid);
    }

    /// Fractional MIDI of `hz` in the concert pitch in use.
    fn to_midi(&self, hz: f32) -> f32 {
        crate::music::hz_to_midi(hz) - self.grid
    }

    /// Frequency of fractional MIDI `midi` in the concert pitch in use.
    fn to_hz(&self, midi: f32) -> f32 {
        crate::music::midi_to_hz(midi + self.grid)
    }

    /// The mains hum (Hz) taken out of the analysis's copy of the input (`hum.rs`); 0 for none.
    pub fn hum_hz(&self) -> f32 {
        self.hum.removing_hz().unwrap_or(0.0)
    }

    /// The gain (dB) the analysis applies to a quiet input (`input_level.rs`); 0 for a loud one.
    pub fn input_gain_db(&self) -> f32 {
        self.input_level.gain_db()
    }

    /// The pitch heard in the last hop as fractional MIDI and confidence, if it is voiced.
    pub fn current_pitch(&self) -> Option<(f32, f32)> {
        if self.last.f0_hz > 0.0 && self.last.confidence >= self.min_confidence {
            Some((self.to_midi(self.last.f0_hz), self.last.confidence))
        } else {
            None
        }
    }

    /// Level of the last analysed window (dBFS, floored at -120).
    pub fn level_db(&self) -> f32 {
        self.last.level_db
    }

    /// Several notes sound now (a chord; see [`FeatureFrame::polyphonic`]), or the input has
    /// been polyphonic lately and the tracker starts no note
    /// ([`tracker::TrackerConfig::poly_input_share`]).
    pub fn polyphonic(&self) -> bool {
        self.last.polyphonic || self.tracker.in_polyphonic_input()
    }

    /// The polyphony stage's last answer (the chord judge's measures and decision).
    pub fn last_polyphony(&self) -> &polyphony::PolyphonyOutput {
        &self.last_polyphony
    }

    /// The top-voice stage's measures and answer, when this hop searched a voiced frame
    /// (fitting, traces).
    pub fn last_top_voice(&self) -> Option<(&top_voice::TopVoiceFeatures, TopPick)> {
        // A search of an unvoiced or silent frame measures nothing: its features are the last
        // frame's, so it is not reported (the fitter would label them with this hop's note).
        (self.top_searched && self.last_top.midi > 0)
            .then_some((&self.top_voice.features, self.last_top))
    }

    /// The new-partial-set stage's last answer (traces).
    pub fn last_newcomer(&self) -> &newcomer::NewcomerOutput {
        &self.last_newcomer
    }

    /// The last feature frame.
    pub fn last_frame(&self) -> &FeatureFrame {
        &self.last
    }

    /// Fast tracking: after a sharp attack a new pitch is committed after 5 ms instead of 10,
    /// about 4 ms less latency on struck, plucked and synth notes for a few more wrong notes.
    /// No allocation; takes effect on the next hop.
    pub fn set_fast_tracking(&mut self, fast: bool) {
        self.tracker.set_fast(fast);
    }

    /// The last note start the tracker wanted, what the judge saw and whether it let it start
    /// (evaluation and fitting).
    pub fn last_note_start(&self) -> &tracker::NoteStart {
        self.tracker.last_start()
    }

    /// The frame model's stage (`continuo eval-transcription --dump-frames` reads its
    /// features after each hop).
    pub fn frame_net(&self) -> &frame_net::FrameNet {
        &self.frame_net
    }

    /// Whether the last hop was one of the frame model's (its features are new).
    pub fn frame_net_fresh(&self) -> bool {
        self.frame_net_fresh
    }

    /// The attack reader's training data (`continuo eval-transcription --probe-attacks`, never
    /// the audio thread: it allocates): hops since the onset fired, and per candidate MIDI
    /// 28..=100 and harmonic 1..=6 the long frame's partial energy (dB) and the short frame's
    /// magnitude (dB) at that harmonic's frequency, then the tracker's two attack habits.
    pub fn attack_probe(&mut self) -> (u32, Vec<f32>) {
        let mut v = Vec::with_capacity(73 * 12);
        for m in 28u8..=100 {
            for h in 0..6u32 {
                v.push(self.salience.partial_value(m, 1 << h, 0).unwrap_or(-120.0));
            }
        }
        let mags = self.short.magnitudes(self.flux_bins);
        let at = v.len();
        v.resize(
            at + attack_reader::CANDIDATES * attack_reader::HARMONICS,
            0.0,
        );
        self.attack_reader.short_partials_of(mags, &mut v[at..]);
        v.extend(self.tracker.attack_habits());
        (self.hops_since_onset, v)
    }

    /// The pitch of the note the tracker considers sounding.
    pub fn sounding_note(&self) -> Option<u8> {
        self.tracker.active_pitch()
    }

    /// Forgets the signal; the stream clock restarts at 0. Does not report an Off for a sounding
    /// note (call [`Analyzer::finish`] first for that). The input gain learned so far is kept
    /// (`input_level.rs`: it belongs to the musician's input chain). No allocation.
    pub fn reset(&mut self) {
        self.clock = 0;
        self.countdown = self.sizes.hop;
        self.dc_x1 = 0.0;
        self.dc_y1 = 0.0;
        self.hum.reset();
        self.hum_was_removed = false;
        self.mains_pitch_hops = 0;
        self.concert_pitch.restart();
        self.ring.iter_mut().for_each(|v| *v = 0.0);
        self.ring_pos = 0;
        self.frame.iter_mut().for_each(|v| *v = 0.0);
        self.long.reset();
        self.long_gated_stft.reset();
        self.short.reset();
        self.pitch.reset();
        self.short_pitch.reset();
        self.short_pitch_stft.reset();
        self.tiny_pitch.reset();
        self.tiny_pitch_stft.reset();
        self.onset.reset();
        self.attack_reader.reset();
        self.loudness.reset();
        self.energies = FrameEnergies::default();
        self.chroma.reset();
        self.salience.reset();
        self.octave_stops.reset();
        self.polyphony.reset();
        self.top_follower.reset();
        self.top_voice.reset();
        self.top_count = 0;
        self.top_was_gated = false;
        self.last_top = TopPick::default();
        self.top_searched = false;
        self.last_polyphony = polyphony::PolyphonyOutput::default();
        self.release_tails.reset();
        self.newcomer.reset();
        self.frame_net.reset();
        self.last_newcomer = newcomer::NewcomerOutput::default();
        self.onset_rise.reset();
        self.tracker.reset();
        self.gate_start = None;
        self.gated.iter_mut().for_each(|v| *v = 0.0);
        self.cancelled.iter_mut().for_each(|v| *v = 0.0);
        self.previous_hz = 0.0;
        self.hops_since_onset = u32::MAX;
        self.last = FeatureFrame {
            level_db: FLOOR_DB,
            ..FeatureFrame::default()
        };
    }

    /// Forgets the signal and starts again at stream time `clock` (after a stretch of stream the
    /// analyser did not hear, such as a bypass), so its notes keep the caller's clock. No
    /// allocation.
    pub fn restart_at(&mut self, clock: u64) {
        self.reset();
        self.clock = clock;
    }

    /// Ends the sounding note, if any, at the current stream time (end of input, transport stop).
    pub fn finish(&mut self, out: &mut impl AnalysisOutput) {
        let top = self.top_follower.stop(self.clock).off;
        for (pitch, offset) in top.into_iter().chain(self.tracker.flush(self.clock)) {
            out.note(NoteEvent::Off {
                pitch,
                offset_samples: offset,
                at: 0,
            });
        }
    }

    /// Analyses one block of mono input. Any length; no allocation, lock or panic path.
    pub fn process(&mut self, mono: &[f32], out: &mut impl AnalysisOutput) {
        if !self.listening {
            self.clock += mono.len() as u64;
            return;
        }
        // Up to the next hop boundary at a time: the per-sample filter keeps its state in
        // locals (with `analyse_hop` inside the loop, it went through memory on every sample).
        let mut done = 0;
        while let Some(rest) = mono.get(done..).filter(|r| !r.is_empty()) {
            // `countdown` is 1..=hop; the `max` keeps the loop moving whatever happens.
            let n = rest.len().min(self.countdown.max(1));
            self.filter_into_ring(rest.get(..n).unwrap_or(rest));
            done += n;
            self.clock += n as u64;
            self.countdown = self.countdown.saturating_sub(n);
            if self.countdown == 0 {
                self.countdown = self.sizes.hop;
                self.analyse_hop(u32::try_from(done - 1).unwrap_or(u32::MAX), out);
            }
        }
    }

    /// Sanitises `samples` (non-finite to 0, clamped to ±`INPUT_LIMIT`), runs them through
    /// the DC blocker and appends them to the ring.
    fn filter_into_ring(&mut self, samples: &[f32]) {
        let (mut x1, mut y1, pole) = (self.dc_x1, self.dc_y1, self.dc_pole);
        let gain = self.input_level.gain();
        let mut pos = self.ring_pos;
        for &x in samples {
            let x = if x.is_finite() {
                (self.hum.process(x.clamp(-INPUT_LIMIT, INPUT_LIMIT)) * gain)
                    .clamp(-INPUT_LIMIT, INPUT_LIMIT)
            } else {
                // Silence, as before the hum stage; its clock goes on.
                self.hum.process(0.0);
                0.0
            };
            let mut y = x - x1 + pole * y1;
            if y.abs() < 1e-20 {
                y = 0.0; // no denormals
            }
            x1 = x;
            y1 = y;
            if let Some(slot) = self.ring.get_mut(pos) {
                *slot = y;
            }
            pos += 1;
            if pos >= self.ring.len() {
                pos = 0;
            }
        }
        (self.dc_x1, self.dc_y1, self.ring_pos) = (x1, y1, pos);
    }

    /// Energy (dB) of the odd partials (1, 3, 5) of `midi` minus that of its even ones (2, 4,
    /// 6), each read at its nearest bin of the Hann spectrum (not the largest of three bins:
    /// on the lowest keys a partial's neighbours lie in the main lobe of the note an octave
    /// up). 0 when the even partials are silent too.
    fn odd_partials_db(&self, midi: u8) -> f32 {
        let (even, odd) = self.split_partials(self.to_hz(f32::from(midi)), 2, true);
        if even <= 0.0 {
            return 0.0;
        }
        loudness::power_to_db(odd) - loudness::power_to_db(even)
    }

    /// The energy of the first `3 · k` partials of `hz` in the Hann spectrum, split into those
    /// at multiples of `k` and the others: (on, off). Each partial is read at its nearest bin
    /// (`exact`) or as the largest of the three around it.
    fn split_partials(&self, hz: f32, k: usize, exact: bool) -> (f32, f32) {
        let (mut on, mut off) = (0.0f32, 0.0f32);
        for h in 1..=(3 * k) {
            let bin = (hz * h as f32 / self.hann_bin_hz).round() as usize;
            let m = if exact {
                self.hann_mags.get(bin).copied()
            } else {
                stft::peak_near(&self.hann_mags, bin)
            };
            let e = m.unwrap_or(0.0).powi(2);
            if h % k == 0 {
                on += e;
            } else {
                off += e;
            }
        }
        (on, off)
    }

    /// Subharmonic guard: does the Hann spectrum have energy at `hz` (the fundamental)?
    fn has_fundamental(&self, hz: f32) -> bool {
        self.fundamental_at(hz, stft::peak(&self.hann_mags))
    }

    /// [`Analyzer::has_fundamental`] with the spectrum's `strongest` magnitude already known.
    fn fundamental_at(&self, hz: f32, strongest: f32) -> bool {
        let b = (hz / self.hann_bin_hz).round() as usize;
        let at = stft::peak_near(&self.hann_mags, b).unwrap_or(strongest);
        at >= self.fundamental_floor * strongest
    }

    /// Subharmonic guard for mixtures and attacks: when the partials that are *not* multiples of
    /// 2 (or 3) of `hz` carry almost no energy, the sound's pitch is 2 (or 3) × `hz`.
    fn lift_subharmonic(&self, hz: f32) -> f32 {
        let mut hz = hz;
        for k in [2usize, 3] {
            let (on, off) = self.split_partials(hz, k, false);
            if on > 0.0 && off < self.subharmonic_ratio * on {
                hz *= k as f32;
                break;
            }
        }
        hz
    }

    /// The pitch of the quarter frame with the previous note (at `previous_hz`) cancelled: each
    /// sample minus the sample one period earlier (linear interpolation for the fraction). The
    /// quarter transform's spectrum is overwritten (the quarter stage recomputes it).
    fn cancelled_estimate(&mut self) -> PitchEstimate {
        let len = self.frame.len() / 4;
        if !self.cancel(self.previous_hz, len) {
            return PitchEstimate::default();
        }
        let Some(cancelled) = self.cancelled.get(..len) else {
            return PitchEstimate::default();
        };
        let spectrum = self.tiny_pitch_stft.process(cancelled);
        let energy = pitch::energy(cancelled);
        let mut estimate =
            self.tiny_pitch
                .process_with_energy(cancelled, spectrum, usize::MAX, energy);
        // The comb removes the old note's harmonics, not a struck bar's inharmonic modes: the
        // remainder's NSDF then names a pitch near the old one that only its own fundamental
        // (the old note's, left over) tells apart (`cancelled_answer` drops it when it is).
        if estimate.hz > 0.0 && self.fundamental_cancelled {
            estimate.hz = fundamental::checked_hz(
                &self.fundamental,
                spectrum,
                cancelled.len(),
                energy,
                estimate.hz,
            );
        }
        estimate
    }

    /// Fills `cancelled[..len]` with the last `len` samples of the frame minus themselves one
    /// period of `hz` earlier. False when that cannot be done (no such period, too long).
    fn cancel(&mut self, hz: f32, len: usize) -> bool {
        let n = self.frame.len();
        let period = self.sample_rate / hz;
        if !(period.is_finite() && period >= 1.0) || len == 0 || len > n {
            return false;
        }
        let whole = period as usize;
        let frac = period - whole as f32;
        // The oldest sample read is `n - len - whole - 1`.
        if whole + 1 > n - len {
            return false;
        }
        let (Some(out), Some(now), Some(earlier), Some(earlier_still)) = (
            self.cancelled.get_mut(..len),
            self.frame.get(n - len..),
            self.frame.get(n - len - whole..n - whole),
            self.frame.get(n - len - whole - 1..n - whole - 1),
        ) else {
            return false;
        };
        for (((y, &x), &a), &b) in out.iter_mut().zip(now).zip(earlier).zip(earlier_still) {
            *y = x - (a + frac * (b - a));
        }
        true
    }

    /// Whether the half frame, with the louder old note cancelled (the one the estimate names,
    /// else the sounding note), is clearly periodic at the newcomer `pitch`: the spectral rise
    /// said which comb is new; the remainder's own period confirms it is a note. The half
    /// transform's spectrum is overwritten (its stage recomputes it on the next hop).
    fn newcomer_heard(&mut self, pitch: u8, estimate: &PitchEstimate) -> bool {
        if self.newcomer_confidence <= 0.0 {
            return true;
        }
        let old_hz = if estimate.hz > 0.0
            && estimate.confidence >= self.min_confidence
            && (self.to_midi(estimate.hz) - f32::from(pitch)).abs() > 0.6
        {
            estimate.hz
        } else if let Some(p) = self.tracker.active_pitch() {
            if self.previous_hz > 0.0 {
                self.previous_hz
            } else {
                self.to_hz(f32::from(p))
            }
        } else {
            return false;
        };
        let len = self.frame.len() / 2;
        if !self.cancel(old_hz, len) {
            return false;
        }
        let Some(cancelled) = self.cancelled.get(..len) else {
            return false;
        };
        let spectrum = self.short_pitch_stft.process(cancelled);
        let heard = self.short_pitch.process(cancelled, spectrum);
        heard.hz > 0.0
            && heard.confidence >= self.newcomer_confidence
            && (self.to_midi(heard.hz) - f32::from(pitch)).abs() <= 0.5
    }

    /// The pitch of the last `since` samples alone (the onset gate): the smallest window that
    /// holds them, with everything before them zeroed and the lags limited to a fraction of
    /// them. The long transform's spectrum is left untouched.
    fn gated_estimate(&mut self, since: usize) -> PitchEstimate {
        let n = self.frame.len();
        let (len, stft, detector) = if since <= n / 4 {
            (n / 4, &mut self.tiny_pitch_stft, &mut self.tiny_pitch)
        } else if since <= n / 2 {
            (n / 2, &mut self.short_pitch_stft, &mut self.short_pitch)
        } else {
            (n, &mut self.long_gated_stft, &mut self.pitch)
        };
        let Some(gated) = self.gated.get_mut(..len) else {
            return PitchEstimate::default();
        };
        let Some(recent) = self.frame.get(n - len..) else {
            return PitchEstimate::default();
        };
        let keep = since.min(len);
        for (i, (g, &x)) in gated.iter_mut().zip(recent).enumerate() {
            *g = if i >= len - keep { x } else { 0.0 };
        }
        let spectrum = stft.process(gated);
        let max_lag = (keep as f32 * self.gate_lag_fraction) as usize;
        detector.process_up_to(gated, spectrum, max_lag)
    }

    /// One hop: all stages over the last frame, then the tracker.
    fn analyse_hop(&mut self, at: u32, out: &mut impl AnalysisOutput) {
        self.assemble_frame();
        self.energies = FrameEnergies::of(&self.frame, self.sizes.short_len);
        let level = self.loudness.levels(&self.energies, self.frame.len());
        let onset = self.onset_stage(level.recent_db);
        self.long.process(&self.frame);
        // Before the pitch stage: its check of weak short answers asks whether the long
        // answer has a fundamental (`deeper`).
        Stft::hann_magnitudes_from_padded(
            self.long.spectrum(),
            self.sizes.frame_len,
            &mut self.hann_mags,
        );
        self.frame_net_fresh = self.frame_net.process(&self.hann_mags);
        let voiced = level.frame_db > PITCH_FLOOR_DB;
        let mut estimate = if voiced {
            self.pitch_stage()
        } else {
            self.expire_gate();
            PitchEstimate::default()
        };
        let chroma = self.chroma.process(&self.hann_mags);
        self.salience.process(&self.hann_mags);
        self.guard_subharmonics(&mut estimate);
        self.hold_mains_pitch(&mut estimate);
        if estimate.hz > 0.0 && estimate.confidence > 0.0 {
            let strongest = stft::peak(&self.hann_mags);
            let fresh = self.hops_since_onset < self.phantom_fresh_hops;
            self.mixture_pull
                .apply(&self.hann_mags, strongest, &mut estimate, fresh);
        }
        let chroma_peak = chroma.iter().fold(0.0f32, |a, &b| a.max(b));
        let polyphony = self.polyphony.process(
            &self.hann_mags,
            voiced,
            estimate.confidence,
            chroma_peak,
            onset.onset,
        );
        self.last_polyphony = polyphony;
        let tails = self.release_tails.process(&polyphony, &self.salience);
        self.polyphony.set_tails(tails);
        // A melody step (one voice rose, the other held or faded) is not a second voice for
        // the tracker (`release_tails.rs`).
        let step = self.release_tails.step();
        let second_voice = polyphony.polyphonic && !step;
        self.onset_rise
            .process(onset.onset, &polyphony, self.tracker.active_pitch());
        if voiced {
            self.apply_onset_rise(&mut estimate);
        }
        let heard = (estimate.hz > 0.0 && estimate.confidence >= self.min_confidence)
            .then(|| self.to_midi(estimate.hz).round().clamp(0.0, 127.0) as u8);
        let sounding = if voiced {
            self.tracker.active_pitch()
        } else {
            None
        };
        let newcomer = self
            .newcomer
            .process(&self.hann_mags, sounding, heard, self.clock);
        self.last_newcomer = newcomer;
        let newcomer = match newcomer.pitch {
            // Not while the chord judge leans towards chords: in a chord every voice that
            // moves is a newcomer.
            Some(p)
                if newcomer.fresh
                    && polyphony.chord_share < NEWCOMER_MAX_CHORD_SHARE
                    && (self.newcomer_heard(p, &estimate)
                        || self.frame_net.probability_of(p, self.clock, self.clock)
                            >= self.newcomer_frame_p) =>
            {
                Some((p, newcomer.first_named))
            }
            _ => None,
        };
        let midi = if estimate.hz > 0.0 {
            self.to_midi(estimate.hz)
        } else {
            0.0
        };
        self.remember_previous_note(&estimate, midi);
        let attack = self.attack_reader.process(
            onset.onset,
            self.tracker.active_pitch(),
            midi,
            estimate.confidence,
            self.tracker.attack_habits(),
            &self.salience,
        );
        // The detector's flux (all bins, quiet bins) in units of its threshold.
        let over_threshold = |flux: f32| {
            if onset.threshold > 0.0 {
                flux / onset.threshold
            } else {
                0.0
            }
        };
        let decision = self.tracker.process(
            &TrackerInput {
                time: self.clock,
                midi,
                confidence: estimate.confidence,
                level_db: level.frame_db,
                recent_db: level.recent_db,
                onset: onset.onset,
                flux_ratio: over_threshold(onset.flux),
                quiet_flux_ratio: over_threshold(onset.quiet_flux),
                polyphonic: second_voice,
                chords: polyphony.chords,
                newcomer,
                attack: attack.map(|a| a.pitch),
                // Read only while the estimate names the octave above the sounding note, the
                // one case the tracker asks about.
                sounding_odd_db: match self.tracker.active_pitch() {
                    Some(p) if (midi - f32::from(p) - 12.0).abs() <= 0.5 => self.odd_partials_db(p),
                    _ => 0.0,
                },
            },
            &self.salience,
            Some(&self.frame_net),
        );
        self.attack_reader
            .after_tracker(self.tracker.active_pitch());
        // A note started without an onset is a melody step for the polyphony stage.
        if let Some((_, _, onset_samples)) = decision.on {
            if matches!(
                self.tracker.last_start().path,
                judge::StartPath::LegatoFromNote
                    | judge::StartPath::Newcomer
                    | judge::StartPath::Swell
                    | judge::StartPath::FromSilence
            ) {
                let hops =
                    self.clock.saturating_sub(onset_samples) / (self.sizes.hop as u64).max(1);
                self.polyphony.step(u32::try_from(hops).unwrap_or(u32::MAX));
            }
        }
        let top = self.top_voice_stage(voiced, onset.onset, level.recent_db);
        for (pitch, offset_samples) in [top.off, decision.off].into_iter().flatten() {
            out.note(NoteEvent::Off {
                pitch,
                offset_samples,
                at,
            });
        }
        for (pitch, velocity, onset_samples) in [decision.on, top.on].into_iter().flatten() {
            out.note(NoteEvent::On {
                pitch,
                velocity,
                onset_samples,
                at,
            });
        }
        // A hum just found: the note or attack it was heard as is no note to learn the
        // input's loudness from (at a stream's start, it is the only one).
        let hum_now = self.hum.removing_hz().is_some();
        if hum_now && !self.hum_was_removed {
            self.input_level.forget_current();
        }
        self.hum_was_removed = hum_now;
        self.input_level.hop(
            level.recent_db,
            estimate.confidence,
            self.tracker.active_pitch().is_some() || self.top_follower.active().is_some(),
            decision.on.is_some()
                || decision.off.is_some()
                || top.on.is_some()
                || top.off.is_some(),
        );
        self.follow_concert_pitch(voiced && !second_voice, &estimate, midi);
        self.last = FeatureFrame {
            time_samples: self.clock,
            f0_hz: estimate.hz,
            confidence: estimate.confidence,
            level_db: level.frame_db,
            flux: onset.flux,
            chroma,
            polyphonic: polyphony.chords,
        };
        out.frame(&self.last);
    }

    /// Top voice: while the tracker's chord gate holds, the top-voice stage searches one hop in
    /// `top_every` and its follower starts and ends notes; when the gate opens, its note ends.
    fn top_voice_stage(&mut self, voiced: bool, onset: bool, recent_db: f32) -> FollowerOutput {
        let gated = self.top_follow && self.tracker.chord_gated();
        if onset {
            self.top_follower.onset(self.clock);
        }
        self.top_searched = false;
        if gated || self.top_voice_always {
            self.top_count = self.top_count.saturating_add(1);
            if self.top_count >= self.top_every {
                self.top_count = 0;
                self.last_top = if voiced {
                    self.top_voice.process(&self.hann_mags)
                } else {
                    TopPick::default()
                };
                self.top_searched = true;
            }
        }
        if !gated {
            if self.top_was_gated {
                self.top_was_gated = false;
                self.top_voice.reset();
                self.top_count = 0;
            }
            return self.top_follower.stop(self.clock);
        }
        self.top_was_gated = true;
        if self.top_searched {
            let (salience, clock, hop) = (&self.salience, self.clock, self.sizes.hop as u64);
            let (min_db, backdate) = (
                self.top_follower.config().rise_min_db,
                self.top_follower.config().rise_backdate,
            );
            let max_hops = salience.history_hops().saturating_sub(1);
            let min_db_reattack = self.top_follower.config().reattack_db;
            self.top_follower.follow(
                self.last_top,
                clock,
                recent_db,
                |pitch| {
                    salience.rise(pitch, max_hops, min_db).map(|r| {
                        clock
                            .saturating_sub(r.quarter_ago as u64 * hop)
                            .saturating_sub(backdate)
                    })
                },
                |pitch| salience.value(pitch, 0),
                |pitch, onset| {
                    let ago = clock.saturating_sub(onset) / hop.max(1);
                    salience.rise_share(pitch, ago as usize + REATTACK_BEFORE_HOPS, min_db_reattack)
                },
            )
        } else {
            FollowerOutput::default()
        }
    }

    /// The last frame in time order: oldest sample (at `ring_pos`) first.
    fn assemble_frame(&mut self) {
        let split = self.ring_pos.min(self.ring.len());
        let (newer, older) = self.ring.split_at(split);
        if let Some((a, b)) = self.frame.split_at_mut_checked(older.len()) {
            a.copy_from_slice(older);
            if b.len() == newer.len() {
                b.copy_from_slice(newer);
            }
        }
    }

    /// Onsets from the short transform's spectral flux; an onset opens the onset gate.
    fn onset_stage(&mut self, recent_db: f32) -> onset::OnsetOutput {
        let short_start = self.frame.len().saturating_sub(self.sizes.short_len);
        self.short
            .process(self.frame.get(short_start..).unwrap_or(&[]));
        let mags = self.short.magnitudes(self.flux_bins);
        let onset = self.onset.process(mags, recent_db);
        self.attack_reader.push_short(mags);
        self.hops_since_onset = if onset.onset {
            0
        } else {
            self.hops_since_onset.saturating_add(1)
        };
        if onset.onset && self.gate_backdate > 0 {
            self.gate_start = Some(self.clock.saturating_sub(self.gate_backdate));
        }
        onset
    }

    /// Pitch of a voiced frame: the shortest window that gives a confident answer in its range
    /// wins (a new note fills a short window sooner). Lower notes need the long window, which
    /// after an attack still holds the previous note: for one window length after an onset the
    /// samples since the onset alone are tried first (the onset gate), and the previous note is
    /// cancelled from the quarter window. The long window is searched only when nothing else
    /// answered.
    fn pitch_stage(&mut self) -> PitchEstimate {
        let cancelled = self.cancelled_answer();
        let tiny = self.window_answer(4);
        if let Some(mut cancelled) = cancelled {
            if let Some(k) = self.cancelled_subharmonic(&cancelled, tiny.as_ref()) {
                cancelled.hz *= k;
            }
            self.expire_gate();
            return cancelled;
        }
        if let Some(tiny) = tiny {
            self.expire_gate();
            return self.deeper(tiny);
        }
        if let Some(short) = self.window_answer(2) {
            self.expire_gate();
            return self.deeper(short);
        }
        if let Some(gated) = self.gated_answer() {
            return gated;
        }
        let spectrum = self.long.spectrum();
        self.pitch.process(&self.frame, spectrum)
    }

    /// A weak short-window answer `short` checked against the long window (see
    /// `deep_below`): the long answer when it is confident, has energy at its fundamental and
    /// `short` lies at one of its harmonics, else `short`.
    fn deeper(&mut self, short: PitchEstimate) -> PitchEstimate {
        if short.confidence >= self.deep_below {
            return short;
        }
        let spectrum = self.long.spectrum();
        let long = self.pitch.process(&self.frame, spectrum);
        // A mixture's common subharmonic (two notes a fourth apart in a slur read at a third
        // of the lower one) is periodic too, but has no fundamental of its own.
        if long.hz <= 0.0
            || long.confidence < self.deep_min_confidence
            || !self.has_fundamental(long.hz)
        {
            return short;
        }
        let ratio = short.hz / long.hz;
        let k = ratio.round();
        if (2.0..=8.0).contains(&k) && (ratio / k - 1.0).abs() < self.deep_tolerance {
            long
        } else {
            short
        }
    }

    /// The cancelled quarter window's answer while an onset is recent and a note was sounding,
    /// when it is clearly periodic and away from the old note.
    fn cancelled_answer(&mut self) -> Option<PitchEstimate> {
        if self.gate_start.is_none() || self.previous_hz <= 0.0 {
            return None;
        }
        let cancelled = self.cancelled_estimate();
        let away = (crate::music::hz_to_midi(cancelled.hz)
            - crate::music::hz_to_midi(self.previous_hz))
        .abs()
            > CANCEL_MIN_SEMITONES;
        (cancelled.hz > 0.0 && cancelled.confidence >= self.cancel_min_confidence && away)
            .then_some(cancelled)
    }

    /// The factor `k` (2 or 3) when the cancelled quarter window's answer is the `k`th
    /// subharmonic of the new note: the quarter window without the comb answers (confidently,
    /// within its range) `k` times its frequency, away from the cancelled note. The comb
    /// `1 − z^−T` at the old period passes a new note near the old one at its fundamental with
    /// the gain `2·sin(π·|1 − f_new / f_old|)` (0.35 a semitone away, 0.68 a tone away) but
    /// a component near half the old frequency with a gain near 2: a pluck that also sounds a
    /// component at half the new frequency (on a steel guitar render, one as loud as the
    /// fundamental) leaves a remainder periodic only at twice the new period, and its NSDF names
    /// the note an octave low. The remainder's period divided by `k` is the new note's, free of
    /// the old note's pull that the window without the comb still has.
    fn cancelled_subharmonic(
        &self,
        cancelled: &PitchEstimate,
        tiny: Option<&PitchEstimate>,
    ) -> Option<f32> {
        let tiny = tiny?;
        if !self.cancel_subharmonic_check || cancelled.hz <= 0.0 || self.previous_hz <= 0.0 {
            return None;
        }
        let away = (crate::music::hz_to_midi(tiny.hz) - crate::music::hz_to_midi(self.previous_hz))
            .abs()
            > CANCEL_MIN_SEMITONES;
        let ratio = tiny.hz / cancelled.hz;
        [2.0f32, 3.0]
            .into_iter()
            .find(|&k| away && (ratio / k - 1.0).abs() < CANCEL_SUBHARMONIC_TOLERANCE)
    }

    /// The answer of the last `1 / fraction` of the frame (4: the quarter window, 2: the half),
    /// when it is confident and within that window's range.
    fn window_answer(&mut self, fraction: usize) -> Option<PitchEstimate> {
        let (min_hz, stft, detector, energy) = match fraction {
            4 => (
                self.tiny_pitch_min_hz,
                &mut self.tiny_pitch_stft,
                &mut self.tiny_pitch,
                self.energies.quarter,
            ),
            _ => (
                self.short_pitch_min_hz,
                &mut self.short_pitch_stft,
                &mut self.short_pitch,
                self.energies.half,
            ),
        };
        if min_hz <= 0.0 {
            return None;
        }
        let from = self.frame.len() - self.frame.len() / fraction;
        let recent = self.frame.get(from..).unwrap_or(&[]);
        let spectrum = stft.process(recent);
        // `energies` holds the last quarter's and half's sums of this very frame.
        let mut estimate = detector.process_with_energy(recent, spectrum, usize::MAX, energy);
        if estimate.hz > 0.0 {
            estimate.hz = fundamental::checked_hz(
                &self.fundamental,
                spectrum,
                recent.len(),
                energy,
                estimate.hz,
            );
        }
        // Right after an attack the quarter window keeps its higher floor, and a semitone from
        // the sounding note it does not answer low down or away from an onset (see
        // `tiny_attack_samples` and `tiny_neighbour_guard`).
        let attack = fraction == 4
            && self
                .gate_start
                .is_some_and(|g| self.clock.saturating_sub(g) < self.tiny_attack_samples);
        let neighbour = fraction == 4
            && self.tiny_neighbour_guard
            && (estimate.hz < self.tiny_attack_min_hz || self.gate_start.is_none())
            && self.tracker.active_pitch().is_some_and(|p| {
                let step = (self.to_midi(estimate.hz).round() - f32::from(p)).abs();
                (0.5..=1.5).contains(&step)
            });
        let min_hz = if attack {
            min_hz.max(self.tiny_attack_min_hz)
        } else {
            min_hz
        };
        (!neighbour && estimate.hz >= min_hz && estimate.confidence >= self.short_min_confidence)
            .then_some(estimate)
    }

    /// The onset gate's answer (the samples since the onset alone), once enough of them are
    /// there; the gate closes one window length after the onset.
    fn gated_answer(&mut self) -> Option<PitchEstimate> {
        let since = self.clock.saturating_sub(self.gate_start?);
        if since >= self.sizes.frame_len as u64 {
            self.gate_start = None;
            return None;
        }
        if since < self.gate_min_samples {
            return None;
        }
        let gated = self.gated_estimate(since as usize);
        (gated.hz > 0.0 && gated.confidence >= self.gate_min_confidence).then_some(gated)
    }

    /// Closes the onset gate once the frame holds only samples since the onset.
    fn expire_gate(&mut self) {
        if let Some(start) = self.gate_start {
            if self.clock.saturating_sub(start) >= self.sizes.frame_len as u64 {
                self.gate_start = None;
            }
        }
    }

    /// Subharmonic guards on the Hann spectrum: a mixture's common subharmonic is lifted to
    /// the pitch, an octave-stop registration's lowest stop to its played key, and a pitch with
    /// no energy at its fundamental is not trusted unless it is half a quint registration's key
    /// (`quint_rank.rs`).
    /// A pitch at a mains frequency is not heard while the hum stage removes that hum (it is
    /// what is left of it), nor, for at most `hum_wait_hops`, while that hum builds up
    /// (`hum::HumRemover::may_be_hum`): an in-tune note lies 35 cents or more from every mains
    /// frequency, and without the wait a hum heard from the stream's start, or first in a
    /// pause, started a note before it was known.
    fn hold_mains_pitch(&mut self, estimate: &mut PitchEstimate) {
        let Some(hz) = self.hum.may_be_hum(estimate.hz) else {
            self.mains_pitch_hops = 0;
            return;
        };
        self.mains_pitch_hops = self.mains_pitch_hops.saturating_add(1);
        if self.hum.removing_hz() == Some(hz) || self.mains_pitch_hops <= self.hum_wait_hops {
            *estimate = PitchEstimate::default();
        }
    }

    fn guard_subharmonics(&mut self, estimate: &mut PitchEstimate) {
        if estimate.hz > 0.0 {
            // Not an estimate at the sounding note: the resonance of a new pluck lies a few
            // semitones under *its* key, while on the lowest keys (E1–D2, harmonics under two
            // bins apart) a sounding note's unresolved partials can fake a series above it
            // and make it chatter at every onset of a beating tone.
            let sounding = |hz: f32| {
                self.tracker
                    .active_pitch()
                    .is_some_and(|p| (self.to_midi(hz) - f32::from(p)).abs() < 0.5)
            };
            // Nor, on the lowest keys, while the previous note may still ring under the new
            // one: there its unresolved partials fake a series (see `series_ringing_min_hz`).
            let may_ring = self.previous_hz > 0.0;
            let ringing = may_ring
                && !(self.series_ringing_min_hz > 0.0 && estimate.hz >= self.series_ringing_min_hz);
            // Above it, a step of one or two semitones is then a reading between the two
            // notes (their partials merge), not the resonance (3–7 semitones under the key).
            let min_step = if may_ring {
                self.series_ringing_min_step
            } else {
                1
            };
            // (The cheap tests first: the pitch conversion and the strongest-bin scan are not
            // free, and most hops fail the range or the window.)
            if estimate.hz < self.partial_series.max_hz
                && self.hops_since_onset < self.series_window_hops
                && !ringing
                && !self.last_polyphony.polyphonic
                && !self.last_polyphony.chords
                && !sounding(estimate.hz)
            {
                let strongest = stft::peak(&self.hann_mags);
                estimate.hz = partial_series::series_hz(
                    &self.partial_series,
                    &self.hann_mags,
                    strongest,
                    estimate.hz,
                    self.tracker
                        .active_pitch()
                        .map_or(0.0, |p| self.to_hz(f32::from(p))),
                    min_step,
                );
            }
            estimate.hz = self.lift_subharmonic(estimate.hz);
            estimate.hz =
                self.octave_stops
                    .played_hz(&self.hann_mags, estimate.hz, estimate.confidence);
            // One scan for the strongest bin serves all three questions.
            let strongest = stft::peak(&self.hann_mags);
            if !self.fundamental_at(estimate.hz, strongest) {
                let key =
                    quint_rank::key_hz(&self.quint_rank, &self.hann_mags, strongest, estimate.hz);
                match key {
                    Some(key) if self.fundamental_at(key, strongest) => estimate.hz = key,
                    _ => estimate.confidence = 0.0,
                }
            }
        }
    }

    /// The onset-rise stage's note (`onset_rise.rs`) in place of an unvoiced estimate or one
    /// naming the note sounding before the onset, while that note's fundamental is in the
    /// spectrum.
    fn apply_onset_rise(&self, estimate: &mut PitchEstimate) {
        let midi = if estimate.hz > 0.0 {
            self.to_midi(estimate.hz)
        } else {
            0.0
        };
        if let Some(p) = self.onset_rise.replacement(
            midi,
            estimate.confidence,
            self.min_confidence,
            self.tracker.active_pitch(),
        ) {
            let hz = self.to_hz(f32::from(p));
            if self.has_fundamental(hz) {
                *estimate = PitchEstimate {
                    hz,
                    confidence: self.onset_rise.confidence(),
                };
            }
        }
    }

    /// Remembers the sounding note's frequency for cancellation, from clear estimates away from
    /// attacks.
    fn remember_previous_note(&mut self, estimate: &PitchEstimate, midi: f32) {
        match self.tracker.active_pitch() {
            Some(p)
                if self.gate_start.is_none()
                    && estimate.confidence >= PREVIOUS_MIN_CONFIDENCE
                    && (midi - f32::from(p)).abs() < 0.5 =>
            {
                self.previous_hz = estimate.hz;
            }
            Some(_) => {}
            None => self.previous_hz = 0.0,
        }
    }
}

#[cfg(test)]
mod tests;
