//! Parameters (automatable, host-visible) and the persisted non-parameter state.
//!
//! Grouped the way the editor shows them: Input · Model · Response · Output. Ids are stable
//! strings: renaming one breaks saved projects and automation, so never do it.

use crate::music::{Scale, ScaleKind};
use nice_plug::prelude::*;
use nice_plug_egui::EguiEditorState;
use parking_lot::RwLock;
use std::sync::Arc;

/// Where the player's notes come from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSource {
    /// Notes detected in the audio input.
    #[id = "audio"]
    Audio,
    /// Notes arriving at the plugin's note input (keyboard players).
    #[id = "midi"]
    #[name = "MIDI"]
    Midi,
    /// Both, merged.
    #[id = "both"]
    Both,
}

/// How quickly detected notes are committed.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracking {
    /// Wait for 10 ms of stable pitch after every attack: a few less wrong notes, about 4 ms
    /// later on plucked, struck and synth notes.
    #[id = "accurate"]
    Accurate,
    /// The default. After a sharp attack (plucked, struck, synth), 5 ms of stable pitch. Soft
    /// attacks (voice, bowed, blown) wait as long as Accurate.
    #[id = "fast"]
    Fast,
}

/// When Continuo plays its continuation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// After the player pauses for the gap, answer with the best phrase.
    #[id = "call-response"]
    #[name = "Call & response"]
    CallAndResponse,
    /// Compute and show phrases; play only on Play.
    #[id = "suggest"]
    #[name = "Suggest only"]
    SuggestOnly,
    /// Keep a phrase running ahead of the player.
    #[id = "continuous"]
    Continuous,
}

/// Quantisation grid for the answer's notes and its start.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    #[id = "off"]
    Off,
    #[id = "1/4"]
    #[name = "1/4"]
    Quarter,
    #[id = "1/8"]
    #[name = "1/8"]
    Eighth,
    #[id = "1/16"]
    #[name = "1/16"]
    Sixteenth,
    #[id = "1/8t"]
    #[name = "1/8 triplet"]
    EighthTriplet,
    #[id = "1/16t"]
    #[name = "1/16 triplet"]
    SixteenthTriplet,
}

impl Grid {
    /// Grid step in beats (quarter notes), `None` when off.
    pub fn beats(self) -> Option<f64> {
        match self {
            Grid::Off => None,
            Grid::Quarter => Some(1.0),
            Grid::Eighth => Some(0.5),
            Grid::Sixteenth => Some(0.25),
            Grid::EighthTriplet => Some(1.0 / 3.0),
            Grid::SixteenthTriplet => Some(1.0 / 6.0),
        }
    }
}

/// How the answer's length is chosen.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhraseLengthMode {
    /// As many bars as the call's last phrase, closing on a strong beat (the default).
    #[id = "follow-call"]
    #[name = "Follow the call"]
    FollowCall,
    /// The bars set by *Phrase bars*, closing on a strong beat.
    #[id = "bars"]
    Bars,
    /// The notes set by *Phrase length* (what presets before the setting existed did).
    #[id = "notes"]
    Notes,
}

/// Which scale the answer is locked to.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleLock {
    /// Any pitch the model likes.
    #[id = "off"]
    Off,
    /// The key Continuo hears (analysis or MIDI input).
    #[id = "detected"]
    #[name = "Detected key"]
    Detected,
    /// The tonic and scale set below.
    #[id = "fixed"]
    #[name = "Fixed scale"]
    Fixed,
}

/// Mirror of [`ScaleKind`] as a parameter enum.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleParam {
    #[id = "major"]
    Major,
    #[id = "minor"]
    #[name = "Natural minor"]
    NaturalMinor,
    #[id = "harmonic-minor"]
    #[name = "Harmonic minor"]
    HarmonicMinor,
    #[id = "dorian"]
    Dorian,
    #[id = "mixolydian"]
    Mixolydian,
    #[id = "major-pentatonic"]
    #[name = "Major pentatonic"]
    MajorPentatonic,
    #[id = "minor-pentatonic"]
    #[name = "Minor pentatonic"]
    MinorPentatonic,
    #[id = "blues"]
    Blues,
}

impl From<ScaleParam> for ScaleKind {
    fn from(s: ScaleParam) -> Self {
        match s {
            ScaleParam::Major => ScaleKind::Major,
            ScaleParam::NaturalMinor => ScaleKind::NaturalMinor,
            ScaleParam::HarmonicMinor => ScaleKind::HarmonicMinor,
            ScaleParam::Dorian => ScaleKind::Dorian,
            ScaleParam::Mixolydian => ScaleKind::Mixolydian,
            ScaleParam::MajorPentatonic => ScaleKind::MajorPentatonic,
            ScaleParam::MinorPentatonic => ScaleKind::MinorPentatonic,
            ScaleParam::Blues => ScaleKind::Blues,
        }
    }
}

/// The base level of the answer's velocities (the *Dynamics* contour shapes every one of them:
/// see `worker/perform.rs`).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VelocitySource {
    /// The call's average level (every note of the context counts alike), as the model has
    /// always proposed it (the name is kept for presets that stored it).
    #[id = "model"]
    Model,
    /// The default: the player's recent dynamics (the last few notes count most).
    #[id = "player"]
    #[name = "Follow player"]
    Player,
    /// The *Fixed velocity* parameter.
    #[id = "fixed"]
    Fixed,
}

/// How long the answer's notes sound against the time to the next note.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Articulation {
    /// The default: as detached or as connected as the player's recent notes (their sounding
    /// length over the time to the next note), never overlapping the next note.
    #[id = "auto"]
    #[name = "Follow player"]
    Auto,
    /// Short, detached notes (half the time to the next note).
    #[id = "staccato"]
    Staccato,
    /// Slightly detached (85 %).
    #[id = "normal"]
    Normal,
    /// Each note overlaps the next a little (a mono synth glides, a piano connects).
    #[id = "legato"]
    Legato,
}

/// Where the tempo and the beat come from while the host's transport is stopped (while it runs,
/// the host's tempo and grid always count).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TempoSource {
    /// The default: with the transport stopped (or no host tempo), Continuo follows the tempo and
    /// beat it hears in the player's notes, once it is confident; until then, as *Fixed*.
    #[id = "follow"]
    #[name = "Follow me"]
    FollowPlayer,
    /// The host's tempo when it sends one, else the *Tempo* parameter; the beat counts from when
    /// the plugin started.
    #[id = "fixed"]
    #[name = "Host or Tempo"]
    Fixed,
}

/// Which style model answers.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleParam {
    /// The default: the bundled or user style that fits the player's recent notes best, changed
    /// with hysteresis between answers (Blend until there is something to score).
    #[id = "auto"]
    Auto,
    #[id = "blend"]
    Blend,
    #[id = "chorale"]
    Chorale,
    #[id = "fiddle"]
    Fiddle,
    #[id = "airs"]
    Airs,
    #[id = "renaissance"]
    Renaissance,
    /// The user style named by the persisted `user-style` field.
    #[id = "user"]
    #[name = "My style"]
    User,
}

impl StyleParam {
    /// The bundled style's name, `None` for Auto and User.
    pub fn bundled_name(self) -> Option<&'static str> {
        match self {
            StyleParam::Auto | StyleParam::User => None,
            StyleParam::Blend => Some("Blend"),
            StyleParam::Chorale => Some("Chorale"),
            StyleParam::Fiddle => Some("Fiddle"),
            StyleParam::Airs => Some("Airs"),
            StyleParam::Renaissance => Some("Renaissance"),
        }
    }
}

/// The default of *Neural network*: whether the network is mixed in unless the user says.
pub const NEURAL_DEFAULT: bool = true;

/// The default of *Echo*: the factor on a pitch that would repeat a 4-interval pattern of the
/// call (chosen with `continuo eval-answers --split tune`; see the README).
pub const ECHO_DEFAULT: f32 = 0.2;

#[derive(Params)]
pub struct ContinuoParams {
    /// Editor window size (nice-plug-egui 0.6 cannot persist it, so it lasts for the session).
    pub editor_state: Arc<EguiEditorState>,

    /// Name of the preset the current settings came from ("" = none). Saved with the project.
    #[persist = "preset-name"]
    pub preset_name: Arc<RwLock<String>>,

    /// A model file the user trained and loaded ("" = the built-in model). Saved with the
    /// project, so the project reopens with the same model.
    #[persist = "model-path"]
    pub model_path: Arc<RwLock<String>>,

    /// A neural weights file the user trained (`continuo train --neural`) and loaded ("" = the
    /// network that ships with Continuo). Used while *Neural network* is on. Saved with the
    /// project.
    #[persist = "neural-path"]
    pub neural_path: Arc<RwLock<String>>,

    /// The user style the *Style* parameter's "My style" means (its name). Saved with the project.
    #[persist = "user-style"]
    pub user_style: Arc<RwLock<String>>,

    /// The host's bypass: audio passes, no notes are sent, sounding notes are released.
    #[id = "bypass"]
    pub bypass: BoolParam,

    #[nested(group = "Input")]
    pub input: InputParams,
    #[nested(group = "Model")]
    pub model: ModelParams,
    #[nested(group = "Response")]
    pub response: ResponseParams,
    #[nested(group = "Output")]
    pub output: OutputParams,
    /// Chords: shown, under the answer, or under the player (issue 16).
    #[nested(group = "Harmony")]
    pub harmony: HarmonyParams,
}

#[derive(Params)]
pub struct InputParams {
    #[id = "source"]
    pub source: EnumParam<InputSource>,
    /// Send the detected (or received) notes themselves out as MIDI.
    #[id = "midi-thru"]
    pub midi_thru: BoolParam,
    /// Note detection speed against accuracy.
    #[id = "tracking"]
    pub tracking: EnumParam<Tracking>,
    /// The concert pitch notes are heard in (A4, Hz): an instrument tuned to A4 = 432 Hz plays
    /// its A4 there, not a third of a semitone under 440's (`analysis/concert_pitch.rs`).
    #[id = "concert-pitch"]
    pub concert_pitch: FloatParam,
    /// Follow the player's own tuning, heard from the notes played, within half a semitone of
    /// *Concert pitch*.
    #[id = "follow-tuning"]
    pub follow_tuning: BoolParam,
}

impl InputParams {
    /// *Concert pitch* in cents from A4 = 440 Hz.
    pub fn concert_cents(&self) -> f32 {
        crate::music::hz_to_cents_from_a440(self.concert_pitch.value())
    }
}

#[derive(Params)]
pub struct ModelParams {
    /// Which style model answers (Auto: the one that fits the player best).
    #[id = "style"]
    pub style: EnumParam<StyleParam>,
    #[id = "temperature"]
    pub temperature: FloatParam,
    #[id = "top-p"]
    pub top_p: FloatParam,
    /// Learn from the player during the session (short-term model).
    #[id = "learn"]
    pub learn: BoolParam,
    /// Mix the neural network with the style's statistical model (see `worker::neural`). On by
    /// default: the mix beats the statistical model on every style's held-out melodies, in bits
    /// per note and top-1 (issue 17's rule; the README's *Neural model*).
    #[id = "neural"]
    pub neural: BoolParam,
    #[id = "scale-lock"]
    pub scale_lock: EnumParam<ScaleLock>,
    #[id = "tonic"]
    pub tonic: IntParam,
    #[id = "scale"]
    pub scale: EnumParam<ScaleParam>,
    /// Phrase length in notes (used when *Phrase* is set to notes).
    #[id = "length"]
    pub length: IntParam,
    /// How the answer's length is chosen: following the call, in bars or in notes.
    #[id = "phrase-length"]
    pub phrase_length: EnumParam<PhraseLengthMode>,
    /// Phrase length in bars (used when *Phrase* is set to bars).
    #[id = "phrase-bars"]
    pub phrase_bars: IntParam,
    /// How freely the answer may repeat the call's figures (4-interval patterns): 100 % as the
    /// model likes, 0 % never.
    #[id = "echo"]
    pub echo: FloatParam,
    #[id = "density"]
    pub density: FloatParam,
    #[id = "low"]
    pub low: IntParam,
    #[id = "high"]
    pub high: IntParam,
    #[id = "candidates"]
    pub candidates: IntParam,
}

#[derive(Params)]
pub struct ResponseParams {
    #[id = "mode"]
    pub mode: EnumParam<ResponseMode>,
    /// Pause before the answer, in beats.
    #[id = "gap"]
    pub gap: FloatParam,
    /// Stop the answer as soon as the player plays again.
    #[id = "yield"]
    pub stop_on_return: BoolParam,
    /// Play the current suggestion; every off → on change starts it (automatable, MIDI-learnable).
    #[id = "play"]
    pub play: BoolParam,
    #[id = "grid"]
    pub grid: EnumParam<Grid>,
    #[id = "swing"]
    pub swing: FloatParam,
    /// Tempo used when the host does not report one.
    #[id = "tempo"]
    pub tempo: FloatParam,
    /// With the transport stopped: follow the player's tempo, or keep the host's / this one.
    #[id = "tempo-source"]
    pub tempo_source: EnumParam<TempoSource>,
}

#[derive(Params)]
pub struct OutputParams {
    #[id = "channel"]
    pub channel: IntParam,
    #[id = "velocity"]
    pub velocity: EnumParam<VelocitySource>,
    #[id = "transpose"]
    pub transpose: IntParam,
    /// Note length scale: < 1 shorter, 1 as the articulation says, > 1 longer (never past the
    /// next note unless the articulation is legato).
    #[id = "length-scale"]
    pub length_scale: FloatParam,
    /// Sounding length of the answer's notes (follow the player, staccato, normal, legato).
    #[id = "articulation"]
    pub articulation: EnumParam<Articulation>,
    /// Velocity of every note when *Velocity* is *Fixed* (before the contour).
    #[id = "fixed-velocity"]
    pub fixed_velocity: IntParam,
    /// Depth of the dynamic contour: accents on strong beats and an arch over the phrase
    /// (0 = every note at the base level).
    #[id = "dynamics"]
    pub dynamics: FloatParam,
}

impl Default for ContinuoParams {
    fn default() -> Self {
        Self {
            editor_state: EguiEditorState::from_size(
                nice_plug::editor::dpi::LogicalSize::new(980.0, 640.0),
                1.0,
            ),
            preset_name: Arc::new(RwLock::new(String::new())),
            model_path: Arc::new(RwLock::new(String::new())),
            neural_path: Arc::new(RwLock::new(String::new())),
            user_style: Arc::new(RwLock::new(String::new())),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            input: InputParams {
                source: EnumParam::new("Input source", InputSource::Both),
                midi_thru: BoolParam::new("MIDI thru", false),
                tracking: EnumParam::new("Tracking", Tracking::Fast),
                concert_pitch: FloatParam::new(
                    "Concert pitch",
                    440.0,
                    FloatRange::Linear {
                        min: CONCERT_PITCH_HZ.0,
                        max: CONCERT_PITCH_HZ.1,
                    },
                )
                .with_step_size(0.1)
                .with_unit(" Hz"),
                follow_tuning: BoolParam::new("Follow tuning", true),
            },
            model: ModelParams {
                style: EnumParam::new("Style", StyleParam::Auto),
                temperature: FloatParam::new(
                    "Temperature",
                    0.75,
                    FloatRange::Skewed {
                        min: 0.1,
                        max: 2.0,
                        factor: FloatRange::skew_factor(-1.0),
                    },
                )
                .with_step_size(0.01)
                .with_value_to_string(formatters::v2s_f32_rounded(2)),
                top_p: FloatParam::new("Top-p", 0.9, FloatRange::Linear { min: 0.3, max: 1.0 })
                    .with_step_size(0.01)
                    .with_value_to_string(formatters::v2s_f32_rounded(2)),
                learn: BoolParam::new("Learn from player", true),
                neural: BoolParam::new("Neural network", NEURAL_DEFAULT),
                scale_lock: EnumParam::new("Scale lock", ScaleLock::Detected),
                tonic: IntParam::new("Tonic", 0, IntRange::Linear { min: 0, max: 11 })
                    .with_value_to_string(Arc::new(|v| {
                        crate::music::PITCH_CLASS_NAMES[v.clamp(0, 11) as usize].to_string()
                    }))
                    .with_string_to_value(Arc::new(|s| {
                        let s = s.trim();
                        crate::music::PITCH_CLASS_NAMES
                            .iter()
                            .position(|n| n.eq_ignore_ascii_case(s))
                            .map(|i| i as i32)
                            .or_else(|| s.parse().ok())
                    })),
                scale: EnumParam::new("Scale", ScaleParam::Major),
                length: IntParam::new("Phrase length", 8, IntRange::Linear { min: 2, max: 32 })
                    .with_unit(" notes"),
                phrase_length: EnumParam::new("Phrase", PhraseLengthMode::FollowCall),
                phrase_bars: IntParam::new("Phrase bars", 2, IntRange::Linear { min: 1, max: 8 })
                    .with_unit(" bars"),
                echo: FloatParam::new(
                    "Echo",
                    ECHO_DEFAULT,
                    FloatRange::Linear { min: 0.0, max: 1.0 },
                )
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage())
                .with_unit("%"),
                density: FloatParam::new("Density", 0.5, FloatRange::Linear { min: 0.0, max: 1.0 })
                    .with_value_to_string(formatters::v2s_f32_percentage(0))
                    .with_string_to_value(formatters::s2v_f32_percentage())
                    .with_unit("%"),
                low: IntParam::new("Lowest note", 36, IntRange::Linear { min: 0, max: 127 })
                    .with_value_to_string(formatters::v2s_i32_key_formatter())
                    .with_string_to_value(formatters::s2v_i32_key_formatter()),
                high: IntParam::new("Highest note", 96, IntRange::Linear { min: 0, max: 127 })
                    .with_value_to_string(formatters::v2s_i32_key_formatter())
                    .with_string_to_value(formatters::s2v_i32_key_formatter()),
                candidates: IntParam::new("Candidates", 8, IntRange::Linear { min: 1, max: 16 }),
            },
            response: ResponseParams {
                mode: EnumParam::new("Mode", ResponseMode::CallAndResponse),
                gap: FloatParam::new(
                    "Gap",
                    1.0,
                    FloatRange::Linear {
                        min: 0.25,
                        max: 8.0,
                    },
                )
                .with_step_size(0.25)
                .with_unit(" beats"),
                stop_on_return: BoolParam::new("Stop when I play", true),
                play: BoolParam::new("Play", false),
                grid: EnumParam::new("Grid", Grid::Sixteenth),
                swing: FloatParam::new(
                    "Swing",
                    0.0,
                    FloatRange::Linear {
                        min: 0.0,
                        max: 0.75,
                    },
                )
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage())
                .with_unit("%"),
                tempo: FloatParam::new(
                    "Tempo (no host)",
                    120.0,
                    FloatRange::Linear {
                        min: 30.0,
                        max: 300.0,
                    },
                )
                .with_step_size(0.1)
                .with_unit(" bpm"),
                tempo_source: EnumParam::new("Tempo when stopped", TempoSource::FollowPlayer),
            },
            output: OutputParams {
                channel: IntParam::new("MIDI channel", 1, IntRange::Linear { min: 1, max: 16 }),
                velocity: EnumParam::new("Velocity", VelocitySource::Player),
                transpose: IntParam::new("Transpose", 0, IntRange::Linear { min: -36, max: 36 })
                    .with_unit(" st"),
                length_scale: FloatParam::new(
                    "Note length",
                    1.0,
                    FloatRange::Skewed {
                        min: 0.1,
                        max: 2.0,
                        factor: FloatRange::skew_factor(-1.0),
                    },
                )
                .with_step_size(0.01)
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage())
                .with_unit("%"),
                articulation: EnumParam::new("Articulation", Articulation::Auto),
                fixed_velocity: IntParam::new(
                    "Fixed velocity",
                    96,
                    IntRange::Linear { min: 1, max: 127 },
                ),
                dynamics: FloatParam::new(
                    "Dynamics contour",
                    0.5,
                    FloatRange::Linear { min: 0.0, max: 1.0 },
                )
                .with_value_to_string(formatters::v2s_f32_percentage(0))
                .with_string_to_value(formatters::s2v_f32_percentage())
                .with_unit("%"),
            },
            harmony: HarmonyParams::default(),
        }
    }
}

/// The range of *Concert pitch* (A4, Hz): a semitone either way of 440 Hz, as far as the
/// analyser names notes (`analysis::MAX_REFERENCE_CENTS`).
pub const CONCERT_PITCH_HZ: (f32, f32) = (415.3, 466.2);

/// The stable ids of a choice parameter's values (the `#[id]`s of its enum), in order.
fn ids_of<T: Enum + PartialEq + 'static>(_: &EnumParam<T>) -> &'static [&'static str] {
    T::ids().unwrap_or(&[])
}

impl ContinuoParams {
    /// Every choice parameter's id with the stable ids of its values, in order. Presets store a
    /// choice by these ids, which never change when a label is renamed.
    pub fn choice_ids(&self) -> [(&'static str, &'static [&'static str]); 11] {
        [
            ("style", ids_of(&self.model.style)),
            ("source", ids_of(&self.input.source)),
            ("tracking", ids_of(&self.input.tracking)),
            ("scale-lock", ids_of(&self.model.scale_lock)),
            ("scale", ids_of(&self.model.scale)),
            ("mode", ids_of(&self.response.mode)),
            ("grid", ids_of(&self.response.grid)),
            ("velocity", ids_of(&self.output.velocity)),
            ("articulation", ids_of(&self.output.articulation)),
            ("tempo-source", ids_of(&self.response.tempo_source)),
            ("phrase-length", ids_of(&self.model.phrase_length)),
        ]
    }

    /// The fixed scale the parameters describe (used when the lock is `Fixed`).
    pub fn fixed_scale(&self) -> Scale {
        Scale {
            tonic: self.model.tonic.value().clamp(0, 11) as u8,
            kind: self.model.scale.value().into(),
        }
    }

    /// The pitch range, ordered even when the user set low above high.
    pub fn pitch_range(&self) -> (u8, u8) {
        let a = self.model.low.value().clamp(0, 127) as u8;
        let b = self.model.high.value().clamp(0, 127) as u8;
        (a.min(b), a.max(b))
    }
}

// ---- Harmony (issue 16 part 4) ------------------------------------------------------------

/// What Continuo does with harmony.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HarmonyMode {
    /// No chords (the default).
    #[id = "off"]
    Off,
    /// Chord symbols above the piano roll for the player's phrase and the answer; no chord notes.
    #[id = "show"]
    #[name = "Show chords"]
    Show,
    /// The answer is harmonised with lookahead and its chords play under it on the chord channel.
    #[id = "answer"]
    #[name = "Chords under the answer"]
    UnderAnswer,
    /// A causal harmoniser follows the player and plays chords under them, live.
    #[id = "me"]
    #[name = "Chords under me"]
    UnderMe,
}

/// How the chord notes are spaced.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoicingParam {
    /// Root position, every chord tone in the octave from the root (C3 E3 G3).
    #[id = "close"]
    Close,
    /// The root low, the other tones spread over more than an octave above it.
    #[id = "open"]
    Open,
    /// Bass and three upper voices moving as little as they can from chord to chord.
    #[id = "four-part"]
    #[name = "Four-part"]
    FourPart,
}

/// Which chords are played.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChordComplexity {
    /// Sevenths are played as their triads.
    #[id = "triads"]
    Triads,
    /// The model's sevenths, and the dominant always with its seventh.
    #[id = "sevenths"]
    Sevenths,
}

/// How often the chord may change, in the host's bars (`Meter::harmonic_beats` gives the beats).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HarmonicRhythm {
    /// Once a bar (4 beats in 4/4, 3 in 3/4).
    #[id = "bar"]
    #[name = "Per bar"]
    Bar,
    /// Every half bar (2 beats in 4/4; a bar where the bar has no middle on a whole beat).
    #[id = "half-bar"]
    #[name = "Half bar"]
    HalfBar,
    /// Every beat.
    #[id = "beat"]
    Beat,
}

/// The *Harmony* group: what the musician gets from the chord model.
#[derive(Params)]
pub struct HarmonyParams {
    /// Off, show chords, chords under the answer, chords under me.
    #[id = "harmony-mode"]
    pub mode: EnumParam<HarmonyMode>,
    /// MIDI channel of the chord notes (1..16), separate from the melody's.
    #[id = "chord-channel"]
    pub channel: IntParam,
    /// Close, open or four-part voicing.
    #[id = "voicing"]
    pub voicing: EnumParam<VoicingParam>,
    /// Triads or sevenths.
    #[id = "chord-complexity"]
    pub complexity: EnumParam<ChordComplexity>,
    /// Per bar, half bar or beat.
    #[id = "harmonic-rhythm"]
    pub rhythm: EnumParam<HarmonicRhythm>,
    /// Chord velocity as a share of the melody's (the answer's, or the player's).
    #[id = "chord-level"]
    pub level: FloatParam,
}

impl Default for HarmonyParams {
    fn default() -> Self {
        HarmonyParams {
            mode: EnumParam::new("Harmony", HarmonyMode::Off),
            channel: IntParam::new("Chord channel", 2, IntRange::Linear { min: 1, max: 16 }),
            voicing: EnumParam::new("Voicing", VoicingParam::FourPart),
            complexity: EnumParam::new("Chords", ChordComplexity::Triads),
            rhythm: EnumParam::new("Harmonic rhythm", HarmonicRhythm::HalfBar),
            level: FloatParam::new(
                "Chord level",
                0.7,
                FloatRange::Linear { min: 0.0, max: 1.5 },
            )
            .with_value_to_string(formatters::v2s_f32_percentage(0))
            .with_string_to_value(formatters::s2v_f32_percentage())
            .with_unit("%"),
        }
    }
}

impl ContinuoParams {
    /// The Harmony group's choice parameters with the stable ids of their values (presets store
    /// them by these ids, like [`ContinuoParams::choice_ids`]).
    pub fn harmony_choice_ids(&self) -> [(&'static str, &'static [&'static str]); 4] {
        [
            ("harmony-mode", ids_of(&self.harmony.mode)),
            ("voicing", ids_of(&self.harmony.voicing)),
            ("chord-complexity", ids_of(&self.harmony.complexity)),
            ("harmonic-rhythm", ids_of(&self.harmony.rhythm)),
        ]
    }
}

// ---- end Harmony ---------------------------------------------------------------------------
