//! `cargo xtask render-dataset [--out DIR] [--count N] [--seed S] [--corpus DIR] [--jobs N]
//! [--programs P,Q] [--soundfont NAME]`: a development set of rendered melodies, too big and too
//! varied to overfit.
//!
//! Melodies are drawn from every folder of `../shared/corpus` (train: Bach chorale sopranos,
//! O'Neill, Ryan; airs; renaissance voices; one voice of a four-part chorale), each rendered
//! twice by FluidSynth with instruments of two different families, and written with its ground
//! truth to `DIR/dev/` or `DIR/test/`:
//!
//! - `NAME.wav`: 16-bit mono PCM at 44.1 or 48 kHz (what `continuo eval-transcription` reads);
//! - `NAME.notes.tsv`: onset_s, offset_s, midi_pitch of every note that was rendered;
//! - `NAME.mid`: the MIDI file FluidSynth rendered (program, tempo, dynamics, bends, reverb);
//! - `NAME.json`: the render's settings and the melody's key; `DIR/manifest.tsv` lists them all.
//!
//! NAME is `SOURCE[-VOICE]-K-pPROGRAM`, so the CLI finds the General MIDI program in the name.
//! The split is a hash of the source melody alone (never of the seed): every render of a melody,
//! and every voice of a chorale, lands in the same split, and the melodies of `../shared/audio`
//! (tuned on) always go to `dev`. Everything is drawn from one seeded generator per render, so
//! the same arguments give the same files, whatever the number of jobs; renders already present
//! are skipped.
//!
//! `--programs` and `--soundfont` make a *focused* tuning set for one sound instead: every
//! render uses one of the given General MIDI programs (cycled) and/or the given soundfont, one
//! render per melody, and only melodies of the `dev` split are drawn (the split stays the hash
//! of the melody, so nothing of the `test` split is ever rendered). Without them the plan, and
//! so every file, is byte for byte what it was before the option existed.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{
    Format, Header, MetaMessage, MidiMessage, PitchBend, Smf, Timing, TrackEvent, TrackEventKind,
};

/// The Debian/Ubuntu packages the renderer needs.
const APT_LINE: &str =
    "apt-get install -y fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont";

/// Silence before the first note (as in ../shared/audio), seconds.
const LEAD_IN_S: f64 = 0.5;
/// Silence after the last note for the release and the reverb tail, seconds.
const TAIL_S: f64 = 1.5;
/// Ticks per beat of the written MIDI files; the tempo is fixed at 120 bpm, so a tick is
/// 1/960 s and the ground truth is exactly what FluidSynth plays.
const PPQ: u16 = 480;
const TICKS_PER_S: f64 = 960.0;
/// Renders per source melody (each with another instrument family).
const RENDERS_PER_MELODY: usize = 2;

/// One instrument: General MIDI program (0-based) and the pitch range it sounds natural in.
#[derive(Debug, Clone, Copy)]
struct Instrument {
    program: u8,
    low: u8,
    high: u8,
}

const fn ins(program: u8, low: u8, high: u8) -> Instrument {
    Instrument { program, low, high }
}

/// Instrument families; the names are those `continuo eval-transcription` prints per family.
const FAMILIES: &[(&str, &[Instrument])] = &[
    (
        "piano",
        &[
            ins(0, 48, 84),
            ins(1, 48, 84),
            ins(4, 48, 84),
            ins(5, 48, 84),
        ],
    ),
    (
        "chromatic-percussion",
        &[
            ins(8, 60, 96),
            ins(10, 60, 96),
            ins(11, 53, 89),
            ins(12, 45, 84),
            ins(13, 65, 96),
        ],
    ),
    (
        "organ",
        &[
            ins(16, 48, 84),
            ins(19, 48, 84),
            ins(21, 53, 89),
            ins(22, 60, 84),
        ],
    ),
    ("guitar-nylon", &[ins(24, 45, 76)]),
    ("guitar-steel", &[ins(25, 45, 76)]),
    ("guitar-electric", &[ins(26, 45, 79), ins(27, 45, 79)]),
    (
        "bass",
        &[
            ins(32, 28, 55),
            ins(33, 28, 55),
            ins(34, 28, 55),
            ins(35, 28, 55),
        ],
    ),
    (
        "strings-solo",
        &[ins(40, 55, 91), ins(41, 48, 81), ins(42, 36, 69)],
    ),
    ("strings-ensemble", &[ins(48, 48, 84), ins(49, 48, 84)]),
    (
        "brass",
        &[ins(56, 55, 82), ins(57, 40, 72), ins(60, 41, 77)],
    ),
    (
        "reed",
        &[
            ins(64, 56, 87),
            ins(65, 49, 81),
            ins(66, 44, 76),
            ins(68, 58, 91),
            ins(70, 34, 70),
            ins(71, 50, 89),
        ],
    ),
    (
        "pipe",
        &[
            ins(72, 74, 100),
            ins(73, 60, 96),
            ins(74, 60, 86),
            ins(75, 60, 91),
        ],
    ),
    (
        "synth-lead",
        &[ins(80, 48, 84), ins(81, 48, 84), ins(87, 40, 72)],
    ),
    (
        "synth-pad",
        &[ins(88, 48, 84), ins(89, 48, 84), ins(90, 48, 84)],
    ),
    (
        "voice",
        &[ins(52, 48, 79), ins(53, 48, 79), ins(54, 48, 79)],
    ),
    (
        "ethnic-plucked",
        &[
            ins(46, 40, 91),
            ins(104, 48, 79),
            ins(105, 48, 79),
            ins(107, 55, 84),
            ins(108, 60, 84),
        ],
    ),
];

/// Sources and the share of melodies drawn from each: (name, folder, file-name prefix, share).
const SOURCES: &[(&str, &str, &str, f64)] = &[
    ("oneills", "train", "oneills1850-", 0.25),
    ("ryans", "train", "ryansMammoth-", 0.15),
    ("bach-soprano", "train", "bach-", 0.10),
    ("airs", "airs", "", 0.20),
    ("renaissance", "renaissance", "", 0.15),
    ("chorale-voice", "chorales", "", 0.15),
];

/// SplitMix64: small, fast, and the same on every platform and crate version.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-300);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// FNV-1a, for the split (independent of the seed) and per-render seeds.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A note of a source melody, in seconds of the source's own tempo map.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SrcNote {
    onset: f64,
    offset: f64,
    pitch: u8,
}

/// A key: tonic pitch class and minor or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    tonic: u8,
    minor: bool,
}

const PC_NAMES: [&str; 12] = [
    "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

impl Key {
    /// Harte-like label: `G:maj`, `E:min`.
    fn label(&self) -> String {
        format!(
            "{}:{}",
            PC_NAMES[self.tonic as usize % 12],
            if self.minor { "min" } else { "maj" }
        )
    }
    fn transposed(self, semitones: i32) -> Self {
        Self {
            tonic: ((self.tonic as i32 + semitones).rem_euclid(12)) as u8,
            ..self
        }
    }
}

/// The melody's key, from the only evidence the corpus keeps (its MIDI files carry no
/// key-signature events): the diatonic collection holding most of the notes' duration gives the
/// signature (fewest accidentals on ties), and the final note (of the bass for a chorale) names
/// the tonic: the signature's major tonic or its major mediant → major, its relative minor's
/// tonic → minor; anything else (a modal or half-cadence ending) → `None`.
fn heuristic_key(notes: &[SrcNote], final_pitch: u8) -> Option<Key> {
    let mut hist = [0.0f64; 12];
    for n in notes {
        hist[(n.pitch % 12) as usize] += (n.offset - n.onset).max(0.0);
    }
    const MAJOR: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
    let mut best: Option<(f64, i32, u8)> = None;
    for sharps in -6i32..=6 {
        let tonic = (sharps * 7).rem_euclid(12) as u8;
        let inside: f64 = MAJOR
            .iter()
            .map(|d| hist[((tonic + d) % 12) as usize])
            .sum();
        let better = match best {
            None => true,
            Some((b, s, _)) => inside > b + 1e-9 || (inside > b - 1e-9 && sharps.abs() < s.abs()),
        };
        if better {
            best = Some((inside, sharps, tonic));
        }
    }
    let (_, _, major) = best?;
    let last = final_pitch % 12;
    if last == major || last == (major + 4) % 12 {
        Some(Key {
            tonic: major,
            minor: false,
        })
    } else if last == (major + 9) % 12 {
        Some(Key {
            tonic: (major + 9) % 12,
            minor: true,
        })
    } else {
        None
    }
}

/// What is known of a melody's key.
#[derive(Debug, Clone)]
struct KeyTruth {
    heuristic: Option<Key>,
    abc: Option<Key>,
    abc_mode: Option<String>,
}

/// The key of a source melody from the `K:` field of its music21 ABC source, with the mode as
/// written (`dor` counts as minor, `mix` as major): `oneills1850-0051-0100-008` is the ninth tune
/// of `oneills1850/0051-0100.abc`, `airds-book1-000` the first of `airdsAirs/book1.abc`,
/// `ryansMammoth-NAME-000` the first of `ryansMammoth/NAME.abc`.
fn abc_key(corpus: &Path, stem: &str) -> Option<(Key, String)> {
    let (file, index) = stem.rsplit_once('-')?;
    let index: usize = index.parse().ok()?;
    let path = if let Some(f) = file.strip_prefix("oneills1850-") {
        corpus.join("oneills1850").join(format!("{f}.abc"))
    } else if let Some(f) = file.strip_prefix("airds-") {
        corpus.join("airdsAirs").join(format!("{f}.abc"))
    } else if let Some(f) = file.strip_prefix("ryansMammoth-") {
        corpus.join("ryansMammoth").join(format!("{f}.abc"))
    } else {
        return None;
    };
    let text = std::fs::read_to_string(path).ok()?;
    let tune = text
        .split("\nX:")
        .skip(usize::from(!text.starts_with("X:")))
        .nth(index)?;
    let field = tune
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("K:"))?
        .trim();
    parse_abc_key(field)
}

fn parse_abc_key(field: &str) -> Option<(Key, String)> {
    let mut chars = field.chars().peekable();
    let mut tonic: i32 = match chars.next()?.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    match chars.peek() {
        Some('#') => {
            tonic += 1;
            chars.next();
        }
        Some('b') => {
            tonic -= 1;
            chars.next();
        }
        _ => {}
    }
    let rest: String = chars
        .collect::<String>()
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_lowercase();
    let mode = match rest.get(..3).unwrap_or(&rest) {
        "" | "maj" | "ion" => "maj",
        "m" | "min" | "aeo" => "min",
        "dor" => "dor",
        "phr" => "phr",
        "mix" => "mix",
        "lyd" => "lyd",
        "loc" => "loc",
        _ => return None,
    };
    let minor = matches!(mode, "min" | "dor" | "phr" | "loc");
    Some((
        Key {
            tonic: tonic.rem_euclid(12) as u8,
            minor,
        },
        mode.to_string(),
    ))
}

/// A parsed source file: its melody (monophonic) and, for chorales, the chosen voice and the
/// bass's last pitch.
struct Source {
    notes: Vec<SrcNote>,
    voice: Option<String>,
    final_pitch: u8,
}

/// Reads the notes of a MIDI file, per track (track name, notes), in seconds.
fn read_midi(path: &Path) -> Result<Vec<(String, Vec<SrcNote>)>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let smf = Smf::parse(&bytes).with_context(|| format!("{}: not a MIDI file", path.display()))?;
    let ppq = match smf.header.timing {
        Timing::Metrical(t) => t.as_int().max(1) as f64,
        Timing::Timecode(..) => bail!("{}: SMPTE timing is not supported", path.display()),
    };
    // Tempo map over all tracks: (tick, microseconds per beat).
    let mut tempos: Vec<(u64, u32)> = Vec::new();
    for track in &smf.tracks {
        let mut tick = 0u64;
        for ev in track {
            tick += ev.delta.as_int() as u64;
            if let TrackEventKind::Meta(MetaMessage::Tempo(t)) = ev.kind {
                tempos.push((tick, t.as_int()));
            }
        }
    }
    tempos.sort_by_key(|t| t.0);
    let seconds = |tick: u64| -> f64 {
        let (mut s, mut last_tick, mut us) = (0.0, 0u64, 500_000u32);
        for &(t, u) in &tempos {
            if t >= tick {
                break;
            }
            s += (t - last_tick) as f64 / ppq * us as f64 * 1e-6;
            last_tick = t;
            us = u;
        }
        s + (tick - last_tick) as f64 / ppq * us as f64 * 1e-6
    };
    let mut out = Vec::new();
    for track in &smf.tracks {
        let mut tick = 0u64;
        let mut name = String::new();
        let mut open: [Option<u64>; 128] = [None; 128];
        let mut notes = Vec::new();
        for ev in track {
            tick += ev.delta.as_int() as u64;
            match ev.kind {
                TrackEventKind::Meta(MetaMessage::TrackName(n)) => {
                    name = String::from_utf8_lossy(n).trim().to_lowercase();
                }
                TrackEventKind::Midi { message, .. } => {
                    let (key, on) = match message {
                        MidiMessage::NoteOn { key, vel } => (key.as_int(), vel.as_int() > 0),
                        MidiMessage::NoteOff { key, .. } => (key.as_int(), false),
                        _ => continue,
                    };
                    let k = key as usize;
                    if let Some(start) = open[k].take() {
                        notes.push(SrcNote {
                            onset: seconds(start),
                            offset: seconds(tick),
                            pitch: key,
                        });
                    }
                    if on {
                        open[k] = Some(tick);
                    }
                }
                _ => {}
            }
        }
        if !notes.is_empty() {
            notes.sort_by(|a, b| a.onset.total_cmp(&b.onset).then(b.pitch.cmp(&a.pitch)));
            out.push((name, notes));
        }
    }
    Ok(out)
}

/// Makes a note list monophonic: of notes starting together the highest stays, and a note is cut
/// where the next one starts.
fn monophonic(mut notes: Vec<SrcNote>) -> Vec<SrcNote> {
    notes.sort_by(|a, b| a.onset.total_cmp(&b.onset).then(b.pitch.cmp(&a.pitch)));
    let mut out: Vec<SrcNote> = Vec::with_capacity(notes.len());
    for n in notes {
        if let Some(prev) = out.last_mut() {
            if (n.onset - prev.onset).abs() < 1e-6 {
                continue;
            }
            if prev.offset > n.onset {
                prev.offset = n.onset;
            }
        }
        if n.offset - n.onset > 1e-3 {
            out.push(n);
        }
    }
    out
}

fn load_source(path: &Path, chorale: bool, rng: &mut Rng) -> Result<Source> {
    let tracks = read_midi(path)?;
    if chorale {
        let voices = ["soprano", "alto", "tenor", "bass"];
        let present: Vec<&(String, Vec<SrcNote>)> = tracks
            .iter()
            .filter(|(n, _)| voices.contains(&n.as_str()))
            .collect();
        anyhow::ensure!(!present.is_empty(), "no soprano/alto/tenor/bass track");
        let (voice, notes) = present[rng.below(present.len())];
        let bass = tracks
            .iter()
            .find(|(n, _)| n == "bass")
            .map(|(_, n)| n)
            .unwrap_or(notes);
        let final_pitch = bass
            .iter()
            .max_by(|a, b| a.onset.total_cmp(&b.onset))
            .map(|n| n.pitch)
            .unwrap_or(60);
        return Ok(Source {
            notes: monophonic(notes.clone()),
            voice: Some(voice.clone()),
            final_pitch,
        });
    }
    let all: Vec<SrcNote> = tracks.into_iter().flat_map(|(_, n)| n).collect();
    let notes = monophonic(all);
    let final_pitch = notes.last().map(|n| n.pitch).unwrap_or(60);
    Ok(Source {
        notes,
        voice: None,
        final_pitch,
    })
}

/// Everything about one render, decided before rendering.
#[derive(Debug, Clone)]
struct Plan {
    name: String,
    split: &'static str,
    source: String,
    source_group: &'static str,
    voice: Option<String>,
    family: &'static str,
    program: u8,
    soundfont: usize,
    rate: u32,
    tempo_factor: f64,
    articulation: f64,
    transpose: i32,
    velocity_curve: &'static str,
    velocity_base: f64,
    vibrato: &'static str,
    vibrato_rate_hz: f64,
    vibrato_cents: f64,
    glide_share: f64,
    reverb_cc91: u8,
    room_size: f64,
    damping: f64,
    reverb_level: f64,
    peak_dbfs: f64,
    noise: &'static str,
    snr_db: f64,
    /// The key as written in the ABC source (if any), else the heuristic's (both transposed).
    key: Option<Key>,
    key_source: &'static str,
    key_heuristic: Option<Key>,
    /// The mode the ABC source writes (`maj`, `min`, `dor`, `mix`, …).
    key_abc_mode: Option<String>,
    /// The notes as rendered (seconds, after the lead-in) and their velocities.
    notes: Vec<(SrcNote, u8)>,
    /// Glide start (cents below, negative = from above) per note, 0 = none; and its length (s).
    glides: Vec<(f64, f64)>,
    vibrato_delay_s: f64,
    /// Sustain pedal (`--pedal S`): held down from the first note and changed (lifted at a
    /// note's onset, pressed again 60 ms later) at the first onset at least this long (s) after
    /// the last press, as a pianist changes it; 0 = no pedal (the default plan).
    pedal_s: f64,
    seed: u64,
}

pub(crate) struct Soundfont {
    pub name: &'static str,
    pub path: PathBuf,
}

/// Finds FluidSynth and the three soundfonts, or says which package line installs them.
pub(crate) fn check_tools() -> Result<Vec<Soundfont>> {
    let fluidsynth_ok = Command::new("fluidsynth")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let candidates: [(&str, &[&str]); 3] = [
        ("FluidR3_GM", &["/usr/share/sounds/sf2/FluidR3_GM.sf2"]),
        ("TimGM6mb", &["/usr/share/sounds/sf2/TimGM6mb.sf2"]),
        (
            "MuseScore_General",
            &[
                "/usr/share/sounds/sf3/MuseScore_General.sf3",
                "/usr/share/sounds/sf3/MuseScore_General_Full.sf3",
                "/usr/share/sounds/sf2/MuseScore_General.sf2",
            ],
        ),
    ];
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for (name, paths) in candidates {
        match paths.iter().map(Path::new).find(|p| p.is_file()) {
            Some(p) => found.push(Soundfont {
                name,
                path: p.to_path_buf(),
            }),
            None => missing.push(name),
        }
    }
    if !fluidsynth_ok || !missing.is_empty() {
        let mut what = missing.join(", ");
        if !fluidsynth_ok {
            what = if what.is_empty() {
                "fluidsynth".into()
            } else {
                format!("fluidsynth, {what}")
            };
        }
        bail!("missing {what}; install them (as root) with:\n    {APT_LINE}");
    }
    Ok(found)
}

/// A focused render (`--programs`, `--soundfont`): one sound, dev-split melodies only.
#[derive(Debug, Clone, Default)]
struct Focus {
    /// General MIDI programs every render cycles through (empty: drawn as usual).
    programs: Vec<u8>,
    /// Index into `check_tools()`'s soundfonts (None: drawn as usual).
    soundfont: Option<usize>,
    /// The name given with `--soundfont`, resolved to `soundfont` once the tools are found.
    soundfont_name: Option<String>,
}

impl Focus {
    /// Whether any focus option was given (else the default, unchanged plan).
    fn is_set(&self) -> bool {
        !self.programs.is_empty() || self.soundfont_name.is_some()
    }
}

/// The family index and instrument (with its natural range) of a General MIDI program.
fn instrument_of(program: u8) -> Option<(usize, Instrument)> {
    FAMILIES
        .iter()
        .enumerate()
        .find_map(|(f, (_, list))| list.iter().find(|i| i.program == program).map(|&i| (f, i)))
}

struct Options {
    out: PathBuf,
    count: usize,
    seed: u64,
    corpus: PathBuf,
    jobs: usize,
    /// music21's `corpus` folder: the ABC sources whose `K:` fields give the true keys.
    abc: Option<PathBuf>,
    /// `--programs` / `--soundfont`: render one sound only, from dev-split melodies.
    focus: Focus,
    /// `--pedal S`: every render with the sustain pedal, changed about every S seconds (see
    /// `Plan::pedal_s`; draws nothing from the seed, so the rest of each plan is unchanged).
    pedal_s: f64,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut o = Options {
        out: PathBuf::from("target/dataset"),
        count: 400,
        seed: 1,
        corpus: PathBuf::from("../shared/corpus"),
        jobs: 2,
        abc: None,
        focus: Focus::default(),
        pedal_s: 0.0,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{flag} wants a value"))
        };
        match a.as_str() {
            "--out" => o.out = value("--out")?.into(),
            "--count" => o.count = value("--count")?.parse().context("--count")?,
            "--seed" => o.seed = value("--seed")?.parse().context("--seed")?,
            "--corpus" => o.corpus = value("--corpus")?.into(),
            "--jobs" => o.jobs = value("--jobs")?.parse().context("--jobs")?,
            "--abc" => o.abc = Some(value("--abc")?.into()),
            "--programs" => {
                for p in value("--programs")?.split(',') {
                    let program: u8 = p
                        .trim()
                        .parse()
                        .with_context(|| format!("--programs: {p:?} is not a program number"))?;
                    anyhow::ensure!(
                        instrument_of(program).is_some(),
                        "--programs: program {program} is in no family of the renderer"
                    );
                    o.focus.programs.push(program);
                }
            }
            "--soundfont" => o.focus.soundfont_name = Some(value("--soundfont")?),
            "--pedal" => {
                o.pedal_s = value("--pedal")?.parse().context("--pedal")?;
                anyhow::ensure!(
                    o.pedal_s.is_finite() && o.pedal_s > 0.0,
                    "--pedal wants a change interval in seconds above 0"
                );
            }
            "-h" | "--help" => {
                println!(
                    "cargo xtask render-dataset [--out DIR (target/dataset)] [--count N (400)] \
                     [--seed S (1)] [--corpus DIR (../shared/corpus)] [--jobs 1|2 (2)] \
                     [--abc MUSIC21_CORPUS_DIR (keys from the ABC sources' K: fields)] \
                     [--programs P,Q (only these GM programs, dev-split melodies only)] \
                     [--soundfont FluidR3_GM|TimGM6mb|MuseScore_General (only this one)] \
                     [--pedal S (sustain pedal down, changed about every S seconds)]"
                );
                std::process::exit(0);
            }
            other => bail!("render-dataset: unknown argument {other}"),
        }
    }
    anyhow::ensure!(o.count > 0, "--count must be at least 1");
    o.jobs = o.jobs.clamp(1, 2);
    Ok(o)
}

/// The split of a source melody: a hash of its name, not of the seed; melodies of
/// `../shared/audio` (tuned on) always go to `dev`.
fn split_of(stem: &str, tuned_on: &HashSet<String>) -> &'static str {
    if tuned_on.contains(stem) {
        return "dev";
    }
    if fnv1a(format!("continuo-split/{stem}").as_bytes()) % 100 < 50 {
        "dev"
    } else {
        "test"
    }
}

/// Source melody stems of ../shared/audio (`NAME-pNN.wav` → `NAME`).
fn tuned_on_stems(corpus: &Path) -> HashSet<String> {
    let dir = corpus.parent().map(|p| p.join("audio")).unwrap_or_default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashSet::new();
    };
    entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().to_string();
            let stem = name.strip_suffix(".wav")?;
            Some(stem.rsplit_once("-p")?.0.to_string())
        })
        .collect()
}

fn list_mid(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().and_then(|e| e.to_str()) == Some("mid")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// How many melodies each source gives (largest remainder).
fn allocate(total: usize) -> Vec<usize> {
    let raw: Vec<f64> = SOURCES.iter().map(|s| s.3 * total as f64).collect();
    let mut n: Vec<usize> = raw.iter().map(|r| r.floor() as usize).collect();
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by(|&a, &b| (raw[b] - raw[b].floor()).total_cmp(&(raw[a] - raw[a].floor())));
    let mut left = total - n.iter().sum::<usize>();
    for i in order.into_iter().cycle() {
        if left == 0 {
            break;
        }
        n[i] += 1;
        left -= 1;
    }
    n
}

/// Decides every render: melodies, instruments, tempo, dynamics, effects, noise.
fn plan(o: &Options) -> Result<Vec<Plan>> {
    let tuned_on = tuned_on_stems(&o.corpus);
    let focused = o.focus.is_set();
    let renders_per_melody = if focused { 1 } else { RENDERS_PER_MELODY };
    let melodies = o.count.div_ceil(renders_per_melody);
    let per_source = allocate(melodies);
    let mut rng = Rng::new(o.seed ^ 0x0005_EED0_FDA7_A5E7);
    // Families in a seeded order, cycled: consecutive renders (one melody) differ in family.
    let mut family_order: Vec<usize> = (0..FAMILIES.len()).collect();
    rng.shuffle(&mut family_order);
    let mut picked: Vec<(&'static str, PathBuf, Source, String)> = Vec::new();
    let mut stems_taken: HashSet<String> = HashSet::new();
    for (s, &(group, folder, prefix, _)) in SOURCES.iter().enumerate() {
        let mut files = list_mid(&o.corpus.join(folder), prefix)?;
        rng.shuffle(&mut files);
        let mut got = 0;
        for path in files {
            if got == per_source[s] {
                break;
            }
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            // One chorale appears as a soprano in train/ and whole in chorales/: take it once.
            if stems_taken.contains(&stem) {
                continue;
            }
            // A focused set tunes: it never draws a melody of the test split.
            if focused && split_of(&stem, &tuned_on) != "dev" {
                continue;
            }
            let mut file_rng = Rng::new(o.seed ^ fnv1a(stem.as_bytes()));
            let Ok(source) = load_source(&path, group == "chorale-voice", &mut file_rng) else {
                continue;
            };
            if source.notes.len() < 12 {
                continue;
            }
            stems_taken.insert(stem.clone());
            picked.push((group, path, source, stem));
            got += 1;
        }
        if got < per_source[s] {
            eprintln!(
                "note: {group} has only {got} usable melodies of {} wanted",
                per_source[s]
            );
        }
    }
    let mut plans = Vec::new();
    let mut index = 0usize;
    'melodies: for (group, _path, source, stem) in &picked {
        let split = split_of(stem, &tuned_on);
        let heuristic = heuristic_key(&source.notes, source.final_pitch);
        let abc = o.abc.as_deref().and_then(|dir| abc_key(dir, stem));
        let key = KeyTruth {
            heuristic,
            abc: abc.as_ref().map(|a| a.0),
            abc_mode: abc.map(|a| a.1),
        };
        for k in 0..renders_per_melody {
            if plans.len() == o.count {
                break 'melodies;
            }
            let family = family_order[index % FAMILIES.len()];
            // The focused program of this render (cycled), which overrides the family's draw.
            let program = (!o.focus.programs.is_empty())
                .then(|| o.focus.programs[plans.len() % o.focus.programs.len()]);
            index += 1;
            let seed = o.seed ^ fnv1a(format!("{stem}/{k}").as_bytes());
            let mut plan = plan_one(
                source,
                group,
                stem,
                k,
                family,
                split,
                key.clone(),
                seed,
                program,
                o.focus.soundfont,
            );
            plan.pedal_s = o.pedal_s;
            plans.push(plan);
        }
    }
    Ok(plans)
}

#[allow(clippy::too_many_arguments)]
fn plan_one(
    source: &Source,
    group: &'static str,
    stem: &str,
    k: usize,
    family: usize,
    split: &'static str,
    key: KeyTruth,
    seed: u64,
    program: Option<u8>,
    soundfont: Option<usize>,
) -> Plan {
    let mut rng = Rng::new(seed);
    let (family_name, instruments) = FAMILIES[family];
    let instrument = instruments[rng.below(instruments.len())];
    let drawn_soundfont = rng.below(3);
    // A focused render overrides the draws (made all the same, so the generator's later values,
    // hence tempo, dynamics and room, are those of the default plan).
    let soundfont = soundfont.unwrap_or(drawn_soundfont);
    let (family_name, instrument) = match program.and_then(instrument_of) {
        Some((f, i)) => (FAMILIES[f].0, i),
        None => (family_name, instrument),
    };
    let rate = if rng.chance(0.5) { 44_100 } else { 48_000 };

    // Tempo: a speed factor from slow to fast, kept so the median gap between notes stays
    // playable (0.11–0.9 s).
    let notes = &source.notes;
    let mut iois: Vec<f64> = notes
        .windows(2)
        .map(|w| w[1].onset - w[0].onset)
        .filter(|d| *d > 1e-3)
        .collect();
    iois.sort_by(f64::total_cmp);
    let median_ioi = iois.get(iois.len() / 2).copied().unwrap_or(0.3);
    let mut speed = (rng.range(0.65f64.ln(), 1.6f64.ln())).exp();
    speed = speed.clamp(median_ioi / 0.9, (median_ioi / 0.11).max(median_ioi / 0.9));
    let articulation = rng.range(0.6, 0.98);
    // Phrase length 20–40 s, cut at a note boundary.
    let target_s = rng.range(20.0, 40.0);
    let t0 = notes[0].onset;
    let mut phrase: Vec<SrcNote> = Vec::new();
    for (i, n) in notes.iter().enumerate() {
        let onset = (n.onset - t0) / speed;
        let written = (n.offset - n.onset) / speed;
        let next = notes.get(i + 1).map(|m| (m.onset - t0) / speed);
        let mut dur = (written * articulation / 0.95).max(0.04);
        if let Some(next) = next {
            dur = dur.min(next - onset - 0.005).max(0.02);
        }
        if onset + dur > target_s && !phrase.is_empty() {
            break;
        }
        phrase.push(SrcNote {
            onset: LEAD_IN_S + onset,
            offset: LEAD_IN_S + onset + dur,
            pitch: n.pitch,
        });
    }
    // Transposition into the instrument's range: to its centre, by octaves half of the time.
    let lo = phrase.iter().map(|n| n.pitch).min().unwrap() as i32;
    let hi = phrase.iter().map(|n| n.pitch).max().unwrap() as i32;
    let centre = (instrument.low as i32 + instrument.high as i32) as f64 / 2.0;
    let mut shift = (centre - (lo + hi) as f64 / 2.0).round() as i32;
    if rng.chance(0.5) {
        shift = 12 * (shift as f64 / 12.0).round() as i32;
        if lo + shift < instrument.low as i32 && hi + shift + 12 <= instrument.high as i32 {
            shift += 12;
        }
        if hi + shift > instrument.high as i32 && lo + shift - 12 >= instrument.low as i32 {
            shift -= 12;
        }
    }
    shift = shift.clamp(21 - lo, 108 - hi);
    for n in &mut phrase {
        n.pitch = (n.pitch as i32 + shift) as u8;
    }

    // Dynamics.
    let curves = ["flat", "crescendo", "diminuendo", "swell", "accents"];
    let velocity_curve = curves[rng.below(curves.len())];
    let velocity_base = rng.range(55.0, 110.0);
    let jitter = rng.range(0.0, 12.0);
    let accent_every = 2 + rng.below(3);
    let len = phrase.len().max(2) as f64;
    let with_velocity: Vec<(SrcNote, u8)> = phrase
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let x = i as f64 / (len - 1.0);
            let v = velocity_base
                + match velocity_curve {
                    "crescendo" => -25.0 + 40.0 * x,
                    "diminuendo" => 15.0 - 40.0 * x,
                    "swell" => 20.0 * (std::f64::consts::PI * x).sin() - 10.0,
                    "accents" if i % accent_every == 0 => 15.0,
                    "accents" => -5.0,
                    _ => 0.0,
                }
                + jitter * rng.normal() * 0.5;
            (*n, v.round().clamp(20.0, 127.0) as u8)
        })
        .collect();

    // Vibrato (pitch-bend LFO or the mod wheel) and glides into notes.
    let vibrato = if rng.chance(0.35) {
        if rng.chance(0.6) {
            "pitch-bend"
        } else {
            "mod-wheel"
        }
    } else {
        "none"
    };
    let vibrato_rate_hz = rng.range(4.5, 6.5);
    let vibrato_cents = match vibrato {
        "pitch-bend" => rng.range(10.0, 35.0),
        // The default SF2 modulator maps CC1 to up to 50 cents of vibrato-LFO depth.
        "mod-wheel" => rng.range(15.0, 40.0),
        _ => 0.0,
    };
    let vibrato_delay_s = rng.range(0.1, 0.3);
    let glide_share = if rng.chance(0.35) {
        rng.range(0.2, 0.7)
    } else {
        0.0
    };
    let glides = with_velocity
        .iter()
        .map(|_| {
            if glide_share > 0.0 && rng.chance(glide_share) {
                let cents = rng.range(20.0, 90.0);
                let cents = if rng.chance(0.15) { -cents } else { cents };
                (cents, rng.range(0.03, 0.09))
            } else {
                (0.0, 0.0)
            }
        })
        .collect();

    // Room.
    let reverb_cc91 = if rng.chance(0.2) {
        0
    } else {
        rng.range(10.0, 100.0) as u8
    };
    let room_size = rng.range(0.1, 0.9);
    let damping = rng.range(0.0, 0.6);
    let reverb_level = rng.range(0.3, 0.9);
    let peak_dbfs = rng.range(-18.0, -1.0);
    let (noise, snr_db) = if rng.chance(0.35) {
        (
            if rng.chance(0.5) { "white" } else { "pink" },
            rng.range(12.0, 35.0),
        )
    } else {
        ("none", f64::INFINITY)
    };

    let voice_part = source
        .voice
        .as_ref()
        .map(|v| format!("-{v}"))
        .unwrap_or_default();
    Plan {
        name: format!("{stem}{voice_part}-{k}-p{}", instrument.program),
        split,
        source: stem.to_string(),
        source_group: group,
        voice: source.voice.clone(),
        family: family_name,
        program: instrument.program,
        soundfont,
        rate,
        tempo_factor: speed,
        articulation,
        transpose: shift,
        velocity_curve,
        velocity_base,
        vibrato,
        vibrato_rate_hz,
        vibrato_cents,
        glide_share,
        reverb_cc91,
        room_size,
        damping,
        reverb_level,
        peak_dbfs,
        noise,
        snr_db,
        key: key.abc.or(key.heuristic).map(|k| k.transposed(shift)),
        key_source: match (key.abc, key.heuristic, group) {
            (Some(_), _, _) => "abc",
            (None, None, _) => "none",
            (None, Some(_), "chorale-voice") => "collection+bass-final",
            _ => "collection+final",
        },
        key_heuristic: key.heuristic.map(|k| k.transposed(shift)),
        key_abc_mode: key.abc_mode,
        notes: with_velocity,
        glides,
        vibrato_delay_s,
        pedal_s: 0.0,
        seed,
    }
}

/// The sustain pedal's moves (time s, CC64 value) for `Plan::pedal_s`: down at the first note,
/// then lifted at the onset of the first note at least `pedal_s` after the last press and
/// pressed again 60 ms later (the new note sounds alone, the old ones are damped), and lifted
/// at the end.
fn pedal_changes(notes: &[(SrcNote, u8)], pedal_s: f64) -> Vec<(f64, u8)> {
    let mut moves = Vec::new();
    let Some((first, _)) = notes.first() else {
        return moves;
    };
    if pedal_s <= 0.0 {
        return moves;
    }
    moves.push((first.onset, 127));
    let mut pressed = first.onset;
    for (n, _) in &notes[1..] {
        if n.onset - pressed >= pedal_s {
            moves.push((n.onset, 0));
            pressed = n.onset + 0.06;
            moves.push((pressed, 127));
        }
    }
    let last = notes.iter().map(|n| n.0.offset).fold(first.onset, f64::max);
    moves.push((last, 0));
    moves
}

fn ticks(s: f64) -> u64 {
    (s * TICKS_PER_S).round() as u64
}

/// The MIDI file of a plan: one track, 120 bpm, program, reverb, vibrato, bends, notes.
fn write_midi(p: &Plan, path: &Path) -> Result<()> {
    let ch = u4::new(0);
    // (tick, order, kind): order puts note-offs before bends before note-ons at one tick.
    let mut events: Vec<(u64, u8, TrackEventKind<'static>)> = Vec::new();
    let midi = |message| TrackEventKind::Midi {
        channel: ch,
        message,
    };
    let cc = |controller: u8, value: u8| {
        midi(MidiMessage::Controller {
            controller: u7::new(controller),
            value: u7::new(value.min(127)),
        })
    };
    events.push((
        0,
        0,
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(500_000))),
    ));
    events.push((
        0,
        1,
        midi(MidiMessage::ProgramChange {
            program: u7::new(p.program),
        }),
    ));
    events.push((0, 2, cc(7, 100)));
    events.push((0, 2, cc(11, 127)));
    events.push((0, 2, cc(91, p.reverb_cc91)));
    events.push((0, 2, cc(93, 0)));
    let mod_wheel = if p.vibrato == "mod-wheel" {
        (p.vibrato_cents / 50.0 * 127.0).round() as u8
    } else {
        0
    };
    events.push((0, 2, cc(1, mod_wheel)));
    let bend = |cents: f64| {
        // Default bend range ±2 semitones: 4096 per semitone.
        let v = (cents / 100.0 * 4096.0).round().clamp(-8192.0, 8191.0) as i16;
        midi(MidiMessage::PitchBend {
            bend: PitchBend::from_int(v),
        })
    };
    events.push((0, 2, bend(0.0)));
    for (t, value) in pedal_changes(&p.notes, p.pedal_s) {
        events.push((ticks(t), 1, cc(64, value)));
    }
    let step = 0.01;
    for (i, (n, vel)) in p.notes.iter().enumerate() {
        let (glide_cents, glide_s) = p.glides[i];
        let pb_vibrato = p.vibrato == "pitch-bend";
        let bends = glide_cents != 0.0 || pb_vibrato;
        let prev_bent = i > 0 && (p.glides[i - 1].0 != 0.0 || pb_vibrato);
        if bends || prev_bent {
            let end = p
                .notes
                .get(i + 1)
                .map(|m| m.0.onset - 0.002)
                .unwrap_or(n.offset + TAIL_S);
            let mut t = n.onset;
            let mut last = i16::MIN;
            while t < end {
                let dt = t - n.onset;
                let mut cents = 0.0;
                if glide_cents != 0.0 && dt < glide_s {
                    // Exponential-ish approach from below (or above) to the note.
                    let x = dt / glide_s;
                    cents -= glide_cents * (1.0 - x) * (1.0 - x);
                }
                if pb_vibrato && dt > p.vibrato_delay_s {
                    let fade = ((dt - p.vibrato_delay_s) / 0.15).min(1.0);
                    cents += fade
                        * p.vibrato_cents
                        * (std::f64::consts::TAU * p.vibrato_rate_hz * (dt - p.vibrato_delay_s))
                            .sin();
                }
                let v = (cents / 100.0 * 4096.0).round() as i16;
                if v != last {
                    events.push((ticks(t), 1, bend(cents)));
                    last = v;
                }
                if !bends {
                    break; // one reset to 0 is enough
                }
                t += step;
                if t > n.offset + 0.3 {
                    break;
                }
            }
        }
        events.push((
            ticks(n.onset),
            2,
            midi(MidiMessage::NoteOn {
                key: u7::new(n.pitch),
                vel: u7::new(*vel),
            }),
        ));
        events.push((
            ticks(n.offset),
            0,
            midi(MidiMessage::NoteOff {
                key: u7::new(n.pitch),
                vel: u7::new(64),
            }),
        ));
    }
    // A last controller keeps FluidSynth rendering through the release and reverb tail.
    let last = p.notes.last().map(|n| n.0.offset).unwrap_or(0.0) + TAIL_S;
    events.push((ticks(last), 3, cc(91, p.reverb_cc91)));
    events.sort_by_key(|e| (e.0, e.1));
    let mut track: Vec<TrackEvent> = Vec::with_capacity(events.len() + 1);
    let mut now = 0u64;
    for (t, _, kind) in events {
        track.push(TrackEvent {
            delta: u28::new((t - now) as u32),
            kind,
        });
        now = t;
    }
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(PPQ))),
        tracks: vec![track],
    };
    smf.save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The ground truth, in the format of ../shared/audio: onset_s, offset_s, midi_pitch. Times are
/// those of the MIDI ticks FluidSynth plays.
fn notes_tsv(p: &Plan) -> String {
    let mut s = String::new();
    for (n, _) in &p.notes {
        let on = ticks(n.onset) as f64 / TICKS_PER_S;
        let off = ticks(n.offset) as f64 / TICKS_PER_S;
        let _ = writeln!(s, "{on:.4}\t{off:.4}\t{}", n.pitch);
    }
    s
}

fn json_of(p: &Plan, sf: &[Soundfont]) -> serde_json::Value {
    let mut json = serde_json::json!({
        "name": p.name,
        "split": p.split,
        "source": p.source,
        "source_group": p.source_group,
        "voice": p.voice,
        "family": p.family,
        "program": p.program,
        "soundfont": sf[p.soundfont].name,
        "sample_rate": p.rate,
        "tempo_factor": round3(p.tempo_factor),
        "articulation": round3(p.articulation),
        "transpose": p.transpose,
        "velocity_curve": p.velocity_curve,
        "velocity_base": round3(p.velocity_base),
        "vibrato": p.vibrato,
        "vibrato_rate_hz": round3(p.vibrato_rate_hz),
        "vibrato_cents": round3(p.vibrato_cents),
        "glide_share": round3(p.glide_share),
        "reverb_cc91": p.reverb_cc91,
        "reverb_room_size": round3(p.room_size),
        "reverb_damping": round3(p.damping),
        "reverb_level": round3(p.reverb_level),
        "peak_dbfs": round3(p.peak_dbfs),
        "noise": p.noise,
        "snr_db": if p.snr_db.is_finite() { serde_json::json!(round3(p.snr_db)) } else { serde_json::Value::Null },
        "key": p.key.map(|k| k.label()),
        "key_source": p.key_source,
        "key_heuristic": p.key_heuristic.map(|k| k.label()),
        "key_abc_mode": p.key_abc_mode,
        "notes": p.notes.len(),
        "duration_s": round3(p.notes.last().map(|n| n.0.offset).unwrap_or(0.0) + TAIL_S),
        "seed": p.seed,
    });
    // Only a pedalled render says so: the default renders' files stay byte for byte as before.
    if p.pedal_s > 0.0 {
        json["pedal_s"] = serde_json::json!(round3(p.pedal_s));
    }
    json
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

const MANIFEST_COLUMNS: &str = "name\tsplit\tsource\tsource_group\tvoice\tfamily\tprogram\tsoundfont\tsample_rate\ttempo_factor\ttranspose\tvelocity_curve\tvibrato\tglide_share\treverb_cc91\tnoise\tsnr_db\tkey\tkey_source\tnotes\tduration_s";

fn manifest_line(p: &Plan, sf: &[Soundfont]) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.3}\t{}\t{}\t{}\t{:.2}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.2}",
        p.name,
        p.split,
        p.source,
        p.source_group,
        p.voice.as_deref().unwrap_or("-"),
        p.family,
        p.program,
        sf[p.soundfont].name,
        p.rate,
        p.tempo_factor,
        p.transpose,
        p.velocity_curve,
        p.vibrato,
        p.glide_share,
        p.reverb_cc91,
        p.noise,
        if p.snr_db.is_finite() {
            format!("{:.1}", p.snr_db)
        } else {
            "-".into()
        },
        p.key.map(|k| k.label()).unwrap_or_else(|| "-".into()),
        p.key_source,
        p.notes.len(),
        p.notes.last().map(|n| n.0.offset).unwrap_or(0.0) + TAIL_S,
    )
}

/// Renders one plan into `dir` (skipped when its WAV is there: the WAV is written last).
fn render_one(p: &Plan, dir: &Path, sf: &[Soundfont]) -> Result<bool> {
    let wav = dir.join(format!("{}.wav", p.name));
    if wav.is_file() {
        return Ok(false);
    }
    let mid = dir.join(format!("{}.mid", p.name));
    write_midi(p, &mid)?;
    std::fs::write(dir.join(format!("{}.notes.tsv", p.name)), notes_tsv(p))?;
    std::fs::write(
        dir.join(format!("{}.json", p.name)),
        serde_json::to_string_pretty(&json_of(p, sf))? + "\n",
    )?;
    let raw = dir.join(format!(".{}.float.wav", p.name));
    let reverb = Reverb {
        room_size: p.room_size,
        damping: p.damping,
        level: p.reverb_level,
    };
    let mut mono = fluidsynth_mono(&mid, &raw, p.rate, &sf[p.soundfont].path, reverb)
        .with_context(|| format!("rendering {}", p.name))?;
    let peak = mono.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    anyhow::ensure!(peak > 1e-6, "{}: FluidSynth rendered silence", p.name);
    let gain = 10f64.powf(p.peak_dbfs / 20.0) / peak;
    for v in &mut mono {
        *v *= gain;
    }
    if p.noise != "none" {
        // Noise power relative to the signal's power while the melody plays.
        let sr = p.rate as f64;
        let from = ((p.notes[0].0.onset * sr) as usize).min(mono.len());
        let to = ((p.notes.last().unwrap().0.offset * sr) as usize).clamp(from, mono.len());
        let power = mono[from..to].iter().map(|v| v * v).sum::<f64>() / (to - from).max(1) as f64;
        let noise_rms = (power / 10f64.powf(p.snr_db / 10.0)).sqrt();
        let mut rng = Rng::new(p.seed ^ 0x0153_0153);
        let mut noise: Vec<f64> = Vec::with_capacity(mono.len());
        // Pink: Paul Kellett's refined filter on white noise.
        let mut b = [0.0f64; 7];
        for _ in 0..mono.len() {
            let w = rng.normal();
            let v = if p.noise == "pink" {
                b[0] = 0.99886 * b[0] + w * 0.0555179;
                b[1] = 0.99332 * b[1] + w * 0.0750759;
                b[2] = 0.96900 * b[2] + w * 0.1538520;
                b[3] = 0.86650 * b[3] + w * 0.3104856;
                b[4] = 0.55000 * b[4] + w * 0.5329522;
                b[5] = -0.7616 * b[5] - w * 0.0168980;
                let v = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
                b[6] = w * 0.115926;
                v
            } else {
                w
            };
            noise.push(v);
        }
        let rms = (noise.iter().map(|v| v * v).sum::<f64>() / noise.len().max(1) as f64).sqrt();
        let scale = if rms > 0.0 { noise_rms / rms } else { 0.0 };
        for (m, n) in mono.iter_mut().zip(&noise) {
            *m += n * scale;
        }
        let peak = mono.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if peak > 0.99 {
            for v in &mut mono {
                *v *= 0.99 / peak;
            }
        }
    }
    write_wav16(&wav, p.rate, &mono)?;
    Ok(true)
}

/// FluidSynth's reverb settings for one render.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reverb {
    pub room_size: f64,
    pub damping: f64,
    pub level: f64,
}

/// Renders `mid` with FluidSynth (no chorus, `reverb`) at `rate` through a temporary float WAV
/// `raw` (removed after) and returns the mix as mono samples.
pub(crate) fn fluidsynth_mono(
    mid: &Path,
    raw: &Path,
    rate: u32,
    soundfont: &Path,
    reverb: Reverb,
) -> Result<Vec<f64>> {
    let out = Command::new("fluidsynth")
        .args(["-ni", "-q", "-C", "0", "-R", "1"])
        .args(["-o", "synth.dynamic-sample-loading=1"])
        .args(["-o", "synth.chorus.active=0"])
        .args([
            "-o",
            &format!("synth.reverb.room-size={:.3}", reverb.room_size),
        ])
        .args(["-o", &format!("synth.reverb.damp={:.3}", reverb.damping)])
        .args(["-o", "synth.reverb.width=0.8"])
        .args(["-o", &format!("synth.reverb.level={:.3}", reverb.level)])
        .args(["-T", "wav", "-O", "float"])
        .args(["-r", &rate.to_string(), "-g", "0.5", "-F"])
        .arg(raw)
        .arg(soundfont)
        .arg(mid)
        .output()
        .context("could not start fluidsynth")?;
    if !out.status.success() || !raw.is_file() {
        bail!(
            "fluidsynth failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut reader = hound::WavReader::open(raw)
        .with_context(|| format!("cannot read FluidSynth's {}", raw.display()))?;
    let spec = reader.spec();
    let channels = spec.channels.max(1) as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    drop(reader);
    let _ = std::fs::remove_file(raw);
    Ok(interleaved
        .chunks(channels)
        .map(|c| c.iter().map(|&v| v as f64).sum::<f64>() / channels as f64)
        .collect())
}

/// Writes mono samples (±1) as a 16-bit PCM WAV, through a temporary file renamed at the end
/// (a WAV that exists is whole).
pub(crate) fn write_wav16(wav: &Path, rate: u32, mono: &[f64]) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let name = wav
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = wav.with_file_name(format!(".{name}.part"));
    {
        let mut w = hound::WavWriter::create(&tmp, spec)?;
        for v in mono {
            w.write_sample((v * 32767.0).round().clamp(-32768.0, 32767.0) as i16)?;
        }
        w.finalize()?;
    }
    std::fs::rename(&tmp, wav)?;
    Ok(())
}

pub fn render_dataset(args: &[String]) -> Result<()> {
    let mut o = parse_args(args)?;
    super::root()?;
    let soundfonts = check_tools()?;
    if let Some(name) = &o.focus.soundfont_name {
        let index = soundfonts
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
            .with_context(|| {
                let names: Vec<&str> = soundfonts.iter().map(|s| s.name).collect();
                format!("--soundfont {name}: not one of {}", names.join(", "))
            })?;
        o.focus.soundfont = Some(index);
    }
    anyhow::ensure!(
        o.corpus.is_dir(),
        "{} is absent (the corpus of ../shared)",
        o.corpus.display()
    );
    println!(
        "planning {} renders from {} (seed {})",
        o.count,
        o.corpus.display(),
        o.seed
    );
    let plans = plan(&o)?;
    for split in ["dev", "test"] {
        std::fs::create_dir_all(o.out.join(split))?;
    }
    let mut manifest = String::from(MANIFEST_COLUMNS);
    manifest.push('\n');
    for p in &plans {
        manifest.push_str(&manifest_line(p, &soundfonts));
        manifest.push('\n');
    }
    std::fs::write(o.out.join("manifest.tsv"), manifest)?;
    let melodies: HashSet<&str> = plans.iter().map(|p| p.source.as_str()).collect();
    let test = plans.iter().filter(|p| p.split == "test").count();
    println!(
        "{} renders of {} melodies: {} dev, {} test; {} jobs",
        plans.len(),
        melodies.len(),
        plans.len() - test,
        test,
        o.jobs
    );
    render_all(
        &plans,
        o.jobs,
        |p| (p.split, p.name.as_str()),
        |p| render_one(p, &o.out.join(p.split), &soundfonts),
        &o.out.join("manifest.tsv"),
    )
}

/// Renders `plans` on `jobs` threads (`render` says whether it wrote a file or found it there),
/// printing each render as `split/name` (from `label`) and a summary naming `manifest`; an
/// error if any render failed. Shared by the melody and the chorale datasets.
pub fn render_all<P: Sync>(
    plans: &[P],
    jobs: usize,
    label: impl Fn(&P) -> (&str, &str) + Sync,
    render: impl Fn(&P) -> Result<bool> + Sync,
    manifest: &Path,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let rendered = AtomicUsize::new(0);
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = plans.get(i) else { break };
                let (split, name) = label(p);
                let result = render(p);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                match result {
                    Ok(true) => {
                        rendered.fetch_add(1, Ordering::Relaxed);
                        println!(
                            "[{n:>4}/{}] {:>6.1} s  {split}/{name}",
                            plans.len(),
                            start.elapsed().as_secs_f64(),
                        );
                    }
                    Ok(false) => {}
                    Err(e) => {
                        eprintln!("[{n:>4}/{}] FAILED {name}: {e:#}", plans.len());
                        errors.lock().unwrap().push(name.to_string());
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap();
    println!(
        "{} rendered, {} already present, {} failed, in {:.0} s; manifest: {}",
        rendered.load(Ordering::Relaxed),
        plans.len() - rendered.load(Ordering::Relaxed) - errors.len(),
        errors.len(),
        start.elapsed().as_secs_f64(),
        manifest.display()
    );
    anyhow::ensure!(errors.is_empty(), "{} renders failed", errors.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(onset: f64, offset: f64, pitch: u8) -> SrcNote {
        SrcNote {
            onset,
            offset,
            pitch,
        }
    }

    #[test]
    fn keys_from_collection_and_final() {
        // G major scale ending on G.
        let g: Vec<SrcNote> = [67, 69, 71, 72, 74, 76, 78, 79]
            .iter()
            .enumerate()
            .map(|(i, &p)| n(i as f64, i as f64 + 1.0, p))
            .collect();
        assert_eq!(heuristic_key(&g, 67).unwrap().label(), "G:maj");
        assert_eq!(heuristic_key(&g, 64).unwrap().label(), "E:min");
        assert_eq!(heuristic_key(&g, 71).unwrap().label(), "G:maj");
        assert_eq!(heuristic_key(&g, 69), None);
    }

    #[test]
    fn abc_key_fields() {
        let k = |f: &str| parse_abc_key(f).map(|(k, m)| (k.label(), m));
        assert_eq!(k("Dm"), Some(("D:min".into(), "min".into())));
        assert_eq!(k("G"), Some(("G:maj".into(), "maj".into())));
        assert_eq!(k("ADor"), Some(("A:min".into(), "dor".into())));
        assert_eq!(k("G Mix"), Some(("G:maj".into(), "mix".into())));
        assert_eq!(k("Bb"), Some(("Bb:maj".into(), "maj".into())));
        assert_eq!(k("F#m"), Some(("F#:min".into(), "min".into())));
        assert_eq!(k("HP"), None);
    }

    #[test]
    fn monophony_and_allocation() {
        let m = monophonic(vec![n(0.0, 1.0, 60), n(0.0, 1.0, 64), n(0.5, 1.5, 62)]);
        assert_eq!(m, vec![n(0.0, 0.5, 64), n(0.5, 1.5, 62)]);
        assert_eq!(allocate(200).iter().sum::<usize>(), 200);
        assert_eq!(allocate(7).iter().sum::<usize>(), 7);
    }

    #[test]
    fn the_pedal_changes_at_a_note_at_most_so_often() {
        // Notes every 0.3 s: down at the first, changed at the first onset 1 s after a press
        // (lifted as that note starts, pressed 60 ms later), up after the last note.
        let notes: Vec<(SrcNote, u8)> = (0..8)
            .map(|i| (n(0.5 + 0.3 * i as f64, 0.75 + 0.3 * i as f64, 60), 80))
            .collect();
        let moves = pedal_changes(&notes, 1.0);
        let at = |t: f64, v: u8| {
            moves
                .iter()
                .any(|&(mt, mv)| (mt - t).abs() < 1e-9 && mv == v)
        };
        assert!(at(0.5, 127), "{moves:?}");
        assert!(at(1.7, 0) && at(1.76, 127), "{moves:?}");
        assert!(at(2.85, 0), "{moves:?}");
        assert_eq!(moves.len(), 4, "{moves:?}");
        assert!(pedal_changes(&notes, 0.0).is_empty());
        assert!(pedal_changes(&[], 1.0).is_empty());
    }

    #[test]
    fn split_is_by_melody_and_stable() {
        let none = HashSet::new();
        assert_eq!(split_of("a", &none), split_of("a", &none));
        let dev = (0..1000)
            .filter(|i| split_of(&format!("tune-{i}"), &none) == "dev")
            .count();
        assert!((400..600).contains(&dev), "{dev}");
        let tuned: HashSet<String> = ["x".to_string()].into();
        assert_eq!(split_of("x", &tuned), "dev");
    }

    #[test]
    fn a_focused_plan_has_one_sound_and_dev_melodies_only() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
        if !corpus.is_dir() {
            eprintln!("skipped: {} is absent", corpus.display());
            return;
        }
        let options = |args: &[&str]| {
            let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            args.extend(["--corpus".into(), corpus.display().to_string()]);
            parse_args(&args).unwrap()
        };
        let mut focused = options(&["--count", "12", "--programs", "48,49"]);
        focused.focus.soundfont = Some(0);
        let plans = plan(&focused).unwrap();
        assert_eq!(plans.len(), 12);
        assert!(plans.iter().all(|p| p.split == "dev"));
        assert!(plans.iter().all(|p| p.family == "strings-ensemble"));
        assert!(plans.iter().all(|p| p.soundfont == 0));
        assert_eq!(plans.iter().filter(|p| p.program == 48).count(), 6);
        let melodies: HashSet<&str> = plans.iter().map(|p| p.source.as_str()).collect();
        assert_eq!(melodies.len(), 12, "one render per melody");
        // The default plan draws test melodies too, two renders each, any family.
        let default = plan(&options(&["--count", "40"])).unwrap();
        assert!(default.iter().any(|p| p.split == "test"));
        assert!(default.windows(2).any(|w| w[0].source == w[1].source));
        assert!(parse_args(&["--programs".into(), "200".into()]).is_err());
    }
}
