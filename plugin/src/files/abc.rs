//! Reading melodies from ABC notation (ABC 2.1), for training and evaluation on folk-song
//! collections such as the Essen folk songs: one [`Melody`] per tune (`X:`), times in beats
//! (quarter notes) from the start of the tune's music.
//!
//! Why our own reader: the only Rust crate, `abc-parser`, is a work-in-progress parse tree
//! ("not fully compliant") that gives no pitches or durations, which is all this needs.
//!
//! What is read: multi-tune files; the header fields `K:` (tonic, mode, extra accidentals such as
//! `K:D ^c`, `exp`; clef words ignored), `L:` (absent: 1/16 when the meter is below 3/4, else
//! 1/8, as ABC 2.1 says), `M:` (`C`, `C|`, `none`, `6/8` …) and `Q:` (ignored: beats are quarter
//! notes whatever the tempo); the same fields inline (`[K:..]`, `[M:..]`, `[L:..]`) and on body
//! lines; notes with accidentals `^ ^^ _ __ =` (which hold for the same note to the end of the
//! bar, ABC 2.1), octave marks `,` `'`, lengths (`2`, `/`, `//`, `3/2`); rests `z`/`x` and whole
//! bar rests `Z`/`X`; ties `-` (merged into one note; a tie carries its note's accidental over a
//! bar line); broken rhythm `>` `<` (`>>` too); tuplets `(3` and `(p:q:r`; chords `[CEG]` (the
//! top note, lasting as long as the chord's first note, ABC 2.1); comments `%`, line
//! continuation `\`. Skipped: chord symbols and annotations in quotes, decorations (`!..!`,
//! `+..+`, `.~` and the letters `H`–`W`, `h`–`w`), grace notes `{..}`, slurs, voice overlay
//! (`&` to the bar line) and every voice but the first (`V:`).
//!
//! Repeats are **not expanded**: a tune is played once as written, first and second endings
//! one after the other (`|:`, `:|`, `::`, `[1`, `[2` are bar lines here). Expanding repeats would
//! count the repeated notes twice in an evaluation and would lean on the often loose repeat
//! marks of old collections.
//!
//! Anything else (an unknown symbol, a note out of the MIDI range, an unclosed chord, a meter or
//! key that cannot be read) makes that tune an error saying what and on which line; the other
//! tunes of the file still load. Never a panic, whatever the bytes (property test below).

use crate::meter::Meter;
use crate::model::midi_in::{Melody, MIN_MELODY_NOTES};
use crate::model::Note;
use crate::music::{KeySignature, Mode};
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use std::ops::Range;

/// Files larger than this are refused (the largest Essen file is about 200 kB).
pub const MAX_ABC_BYTES: usize = 16 * 1024 * 1024;
/// Velocity of every note (ABC has no dynamics the reader follows; the corpus MIDI files use 90).
const VELOCITY: u8 = 90;
/// Largest number in a length, tuplet or bar-rest count: more is a broken file, not music.
const MAX_NUMBER: u32 = 4096;

/// One tune of an ABC file.
#[derive(Debug)]
pub struct AbcTune {
    /// The `X:` reference number; the tune's position in the file (from 1) when `X:` is not a
    /// number. Names the tune in corpora (`<file stem>-<number>`).
    pub number: u32,
    /// The first `T:` line (empty when there is none), for messages.
    pub title: String,
    /// Byte range of the tune's lines in the file (from its `X:` line to the blank line or the
    /// next `X:`), so a tool can copy or drop a tune without rewriting the others.
    pub bytes: Range<usize>,
    /// The melody, or why this tune could not be read.
    pub melody: Result<Melody>,
}

/// Reads every tune of an ABC file. An error only for a file that is empty, too large or holds
/// no tune; each tune's own problems are in its [`AbcTune::melody`].
pub fn read_abc(bytes: &[u8]) -> Result<Vec<AbcTune>> {
    if bytes.is_empty() {
        bail!("empty file");
    }
    if bytes.len() > MAX_ABC_BYTES {
        bail!(
            "{} bytes is larger than the {} byte limit",
            bytes.len(),
            MAX_ABC_BYTES
        );
    }
    let blocks = tune_blocks(bytes);
    if blocks.is_empty() {
        bail!("no tune (no line starting with X:)");
    }
    Ok(blocks
        .into_iter()
        .enumerate()
        .map(|(i, range)| {
            // The music is ASCII; titles and notes in Latin-1 become replacement characters.
            let text = String::from_utf8_lossy(&bytes[range.clone()]);
            let number = text
                .lines()
                .next()
                .and_then(|l| l.get(2..))
                .and_then(|n| n.trim().parse::<u32>().ok())
                .unwrap_or(i as u32 + 1);
            let title = text
                .lines()
                .find_map(|l| l.strip_prefix("T:"))
                .unwrap_or("")
                .trim()
                .to_string();
            let melody = read_tune(&text).map_err(|e| {
                if title.is_empty() {
                    anyhow!("tune X:{number}: {e:#}")
                } else {
                    anyhow!("tune X:{number} ({title}): {e:#}")
                }
            });
            AbcTune {
                number,
                title,
                bytes: range,
                melody,
            }
        })
        .collect())
}

/// The byte ranges of the tunes: from each line starting with `X:` to the next blank line, the
/// next `X:` line or the end of the file.
fn tune_blocks(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut blocks = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let blank = line.iter().all(|b| b.is_ascii_whitespace());
        if line.starts_with(b"X:") {
            if let Some(s) = start.take() {
                blocks.push(s..pos);
            }
            start = Some(pos);
        } else if blank {
            if let Some(s) = start.take() {
                blocks.push(s..pos);
            }
        }
        pos += line.len();
    }
    if let Some(s) = start {
        blocks.push(s..pos);
    }
    blocks
}

/// What a `K:` field says.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyField {
    /// Tonic and mode (modes with a minor third — dorian, phrygian, aeolian, locrian — count as
    /// minor, the others as major); `None` for `K:none` or an empty field.
    pub key: Option<KeySignature>,
    /// The mode as written, in three lower-case letters (`maj`, `min`, `dor`, `mix` …).
    pub mode: String,
    /// Semitones added to each letter C, D, E, F, G, A, B by the signature.
    pub accidentals: [i8; 7],
}

/// Index of a note letter in C D E F G A B, and its semitone above C.
fn letter_index(c: char) -> Option<(usize, i32)> {
    Some(match c.to_ascii_uppercase() {
        'C' => (0, 0),
        'D' => (1, 2),
        'E' => (2, 4),
        'F' => (3, 5),
        'G' => (4, 7),
        'A' => (5, 9),
        'B' => (6, 11),
        _ => return None,
    })
}

/// Parses a `K:` field's value: `G`, `Dm`, `F#min`, `Bb Mixolydian`, `A Dorian`, `D exp ^f ^c`,
/// `C ^f`, `none`; clef words (`treble`, `clef=bass`, …) are ignored.
pub fn parse_key_field(field: &str) -> Result<KeyField> {
    let field = field.trim();
    let mut out = KeyField {
        key: None,
        mode: "maj".into(),
        accidentals: [0; 7],
    };
    let mut rest;
    if let Some(tonic_char) = field.chars().next().filter(|c| "ABCDEFG".contains(*c)) {
        let (_, mut tonic) = letter_index(tonic_char).unwrap_or((0, 0));
        // Fifths of the major key on this letter: C 0, G 1, D 2, A 3, E 4, B 5, F -1.
        let mut sharps: i32 = match tonic_char {
            'C' => 0,
            'G' => 1,
            'D' => 2,
            'A' => 3,
            'E' => 4,
            'B' => 5,
            _ => -1,
        };
        rest = &field[1..];
        if let Some(r) = rest.strip_prefix('#') {
            sharps += 7;
            tonic += 1;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('b') {
            sharps -= 7;
            tonic -= 1;
            rest = r;
        }
        rest = rest.trim_start();
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let lower = word.to_ascii_lowercase();
        let mode = if lower.is_empty() || lower == "exp" {
            "maj"
        } else if lower == "m" {
            "min"
        } else {
            match lower.get(..3) {
                Some("maj") | Some("ion") => "maj",
                Some("min") | Some("aeo") => "min",
                Some("dor") => "dor",
                Some("phr") => "phr",
                Some("lyd") => "lyd",
                Some("mix") => "mix",
                Some("loc") => "loc",
                // Not a mode: a clef word or an accidental list follows.
                _ => "",
            }
        };
        let mode = if mode.is_empty() {
            "maj"
        } else {
            if lower != "exp" {
                rest = &rest[word.len()..];
            }
            mode
        };
        sharps += match mode {
            "dor" => -2,
            "phr" => -4,
            "lyd" => 1,
            "mix" => -1,
            "min" => -3,
            "loc" => -5,
            _ => 0,
        };
        if !(-7..=7).contains(&sharps) {
            bail!("key {field:?} has more than seven sharps or flats");
        }
        // Sharps fall on F C G D A E B, flats on B E A D G C F.
        const SHARP_ORDER: [usize; 7] = [3, 0, 4, 1, 5, 2, 6];
        for i in 0..sharps.unsigned_abs() as usize {
            if sharps > 0 {
                out.accidentals[SHARP_ORDER[i]] = 1;
            } else {
                out.accidentals[SHARP_ORDER[6 - i]] = -1;
            }
        }
        out.key = Some(KeySignature {
            tonic: tonic.rem_euclid(12) as u8,
            mode: if matches!(mode, "min" | "dor" | "phr" | "loc") {
                Mode::Minor
            } else {
                Mode::Major
            },
        });
        out.mode = mode.into();
    } else if field.is_empty() || field.to_ascii_lowercase().starts_with("none") {
        rest = field.get(4..).unwrap_or("");
        out.mode = "none".into();
    } else {
        bail!("key {field:?} not read (expected a tonic A–G, or none)");
    }
    for token in rest.split_whitespace() {
        let lower = token.to_ascii_lowercase();
        if lower == "exp" {
            out.accidentals = [0; 7];
            continue;
        }
        let accidental = match token.as_bytes() {
            [b'^', b'^', l] => Some((2, *l)),
            [b'^', l] => Some((1, *l)),
            [b'_', b'_', l] => Some((-2, *l)),
            [b'_', l] => Some((-1, *l)),
            [b'=', l] => Some((0, *l)),
            _ => None,
        };
        if let Some((alter, l)) = accidental {
            let (i, _) = letter_index(l as char)
                .ok_or_else(|| anyhow!("accidental {token:?} in key {field:?} not read"))?;
            out.accidentals[i] = alter;
        } else if token.contains('=')
            || matches!(
                lower.as_str(),
                "treble"
                    | "bass"
                    | "bass3"
                    | "alto"
                    | "alto1"
                    | "alto2"
                    | "tenor"
                    | "perc"
                    | "none"
                    | "treble-8"
                    | "treble+8"
            )
        {
            // Clef, transposition and staff settings: no effect on the pitches read here
            // (octave= and transpose= change playback only).
        } else {
            bail!("key {field:?}: {token:?} not read");
        }
    }
    Ok(out)
}

/// A meter field's value: `Ok(None)` for `none` (free meter), `C` is 4/4, `C|` 2/2.
pub fn parse_meter_field(field: &str) -> Result<Option<Meter>> {
    let f = field.trim();
    if f.eq_ignore_ascii_case("none") || f.is_empty() {
        return Ok(None);
    }
    let text = match f {
        "C" => "4/4",
        "C|" => "2/2",
        other => other,
    };
    Meter::parse(text)
        .map(Some)
        .ok_or_else(|| anyhow!("meter {f:?} not read"))
}

/// A length field's value (`1/8`) in beats (quarter notes).
fn parse_length_field(field: &str) -> Result<f64> {
    let f = field.trim();
    let (n, d) = f.split_once('/').unwrap_or((f, "1"));
    match (n.trim().parse::<u32>(), d.trim().parse::<u32>()) {
        (Ok(n), Ok(d)) if (1..=MAX_NUMBER).contains(&n) && (1..=MAX_NUMBER).contains(&d) => {
            Ok(4.0 * n as f64 / d as f64)
        }
        _ => bail!("unit note length {f:?} not read"),
    }
}

/// A written note, rest or chord before onsets are laid out.
#[derive(Debug, Clone, Copy)]
struct Item {
    /// MIDI pitch; `None` for a rest.
    pitch: Option<u8>,
    /// Length in beats, with tuplet and broken-rhythm factors applied.
    beats: f64,
    /// Tied to the next item (`-`).
    tie: bool,
    /// Diatonic step (7 per octave) of the note as written, so a tied continuation without its
    /// own accidental keeps the tied note's pitch.
    step: i32,
}

/// The reader's state inside one tune's music.
struct Body {
    /// Unit note length in beats (`L:`).
    unit: f64,
    /// Current meter (`M:`), for whole-bar rests.
    meter: Option<Meter>,
    /// Signature accidentals per letter (from the current `K:`).
    signature: [i8; 7],
    /// Accidentals written in the current bar, per diatonic step (reset at bar lines).
    bar_accidentals: HashMap<i32, i8>,
    /// Notes, rests and chords so far.
    items: Vec<Item>,
    /// Tuplet in force: (factor, notes left).
    tuplet: Option<(f64, u32)>,
    /// Factor for the next item's length from a broken-rhythm sign before it.
    broken_next: Option<f64>,
    /// The first voice named (`V:`); music of every other voice is skipped.
    first_voice: Option<String>,
    /// Whether the current voice is the first one.
    in_first_voice: bool,
    /// Beat of the first bar line, for the meter's origin.
    first_bar: Option<f64>,
}

/// Reads one tune's text (its `X:` line first).
fn read_tune(text: &str) -> Result<Melody> {
    let mut lines = text.lines().enumerate();
    let mut unit: Option<f64> = None;
    let mut meter: Option<Meter> = None;
    let mut key: Option<KeyField> = None;
    // Header: fields up to K:.
    for (_, raw) in lines.by_ref() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = field_of(line) else {
            bail!("music before the K: field ({line:?})");
        };
        match name {
            'L' => unit = Some(parse_length_field(value)?),
            'M' => meter = parse_meter_field(value)?,
            'K' => {
                key = Some(parse_key_field(value)?);
                break;
            }
            _ => {}
        }
    }
    let key = key.ok_or_else(|| anyhow!("no K: field"))?;
    // ABC 2.1: without L:, 1/16 when the meter is below 3/4, else 1/8.
    let unit = unit.unwrap_or(match meter {
        Some(m) if (m.numerator as f64) / (m.denominator as f64) < 0.75 => 0.25,
        _ => 0.5,
    });
    let mut body = Body {
        unit,
        meter,
        signature: key.accidentals,
        bar_accidentals: HashMap::new(),
        items: Vec::new(),
        tuplet: None,
        broken_next: None,
        first_voice: None,
        in_first_voice: true,
        first_bar: None,
    };
    for (i, raw) in lines {
        let line = strip_comment(raw);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let result = match field_of(trimmed) {
            Some((name, value)) => body.field(name, value),
            None => body.music(line),
        };
        result.map_err(|e| anyhow!("line {}: {e:#}", i + 1))?;
    }
    body.finish(key.key, meter)
}

/// The text of a line before its comment (`%`, not `\%`).
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'%' && (i == 0 || b[i - 1] != b'\\') {
            return &line[..i];
        }
    }
    line
}

/// `(letter, value)` when the line is a field line like `M:3/4` (not music such as `A:|`).
fn field_of(line: &str) -> Option<(char, &str)> {
    let b = line.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        if matches!(b.get(2), Some(b'|') | Some(b':')) {
            return None;
        }
        return Some((b[0] as char, &line[2..]));
    }
    None
}

impl Body {
    /// A field on its own line or inline (`[K:D]`).
    fn field(&mut self, name: char, value: &str) -> Result<()> {
        if name == 'V' {
            let id = value.split_whitespace().next().unwrap_or("").to_string();
            match &self.first_voice {
                None => {
                    self.first_voice = Some(id);
                    self.in_first_voice = true;
                }
                Some(first) => self.in_first_voice = *first == id,
            }
            return Ok(());
        }
        if !self.in_first_voice {
            return Ok(());
        }
        match name {
            'K' => {
                self.signature = parse_key_field(value)?.accidentals;
                self.bar_accidentals.clear();
            }
            'M' => self.meter = parse_meter_field(value)?,
            'L' => self.unit = parse_length_field(value)?,
            _ => {}
        }
        Ok(())
    }

    /// One line of music.
    fn music(&mut self, line: &str) -> Result<()> {
        let c: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < c.len() {
            let ch = c[i];
            match ch {
                ' ' | '\t' | '\r' | '`' | '$' | '\\' | ')' | '.' | '~' | 'y' => i += 1,
                '"' => i = skip_past(&c, i + 1, '"').ok_or_else(|| anyhow!("unclosed \""))?,
                '!' | '+' => {
                    // A decoration !trill! / +trill+; a lone ! (an old line-break mark) is skipped.
                    i = skip_past(&c, i + 1, ch).unwrap_or(i + 1);
                }
                '{' => i = skip_past(&c, i + 1, '}').ok_or_else(|| anyhow!("unclosed {{"))?,
                'H'..='W' | 'h'..='w' => i += 1,
                '(' => {
                    if c.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                        i = self.tuplet(&c, i + 1)?;
                    } else {
                        i += 1; // Slur.
                    }
                }
                '-' => {
                    if self.in_first_voice {
                        let last = self
                            .items
                            .last_mut()
                            .ok_or_else(|| anyhow!("tie before any note"))?;
                        last.tie = true;
                    }
                    i += 1;
                }
                '>' | '<' => {
                    let mut n = 0;
                    while c.get(i) == Some(&ch) {
                        n += 1;
                        i += 1;
                    }
                    if n > 3 {
                        bail!("broken rhythm of more than three {ch}");
                    }
                    if self.in_first_voice {
                        let short = 0.5f64.powi(n);
                        let (before, after) = if ch == '>' {
                            (2.0 - short, short)
                        } else {
                            (short, 2.0 - short)
                        };
                        let last = self
                            .items
                            .last_mut()
                            .ok_or_else(|| anyhow!("broken rhythm before any note"))?;
                        // Scaled: in a chain (`A>B<c`) the note was already shortened by
                        // the sign before it (extending it by its written length made it 0).
                        last.beats *= before;
                        self.broken_next = Some(after);
                    }
                }
                '|' | ':' => i = self.bar(&c, i),
                ']' => i += 1, // End of a thick bar line `|]` already read, or stray.
                '&' => {
                    // Voice overlay: the rest of the bar belongs to another voice.
                    while i < c.len() && c[i] != '|' {
                        i += 1;
                    }
                }
                '[' => match (c.get(i + 1), c.get(i + 2)) {
                    (Some(l), Some(':')) if l.is_ascii_alphabetic() => {
                        let end = skip_past(&c, i + 1, ']')
                            .ok_or_else(|| anyhow!("unclosed inline field"))?;
                        let value: String = c[i + 3..end - 1].iter().collect();
                        self.field(*l, &value)?;
                        i = end;
                    }
                    (Some(d), _) if d.is_ascii_digit() => i = skip_ending(&c, i + 1),
                    (Some('|'), _) => i = self.bar(&c, i + 1),
                    _ => i = self.chord(&c, i + 1)?,
                },
                '^' | '_' | '=' | 'A'..='G' | 'a'..='g' => {
                    let (note, next) = self.note(&c, i)?;
                    let (len, next) = length(&c, next)?;
                    self.push(Some(note), len)?;
                    i = next;
                }
                'z' | 'x' => {
                    let (len, next) = length(&c, i + 1)?;
                    self.push(None, len)?;
                    i = next;
                }
                'Z' | 'X' => {
                    let (bars, next) = number(&c, i + 1)?;
                    let bars = bars.unwrap_or(1);
                    let bar = self
                        .meter
                        .map(|m| m.bar())
                        .ok_or_else(|| anyhow!("whole-bar rest {ch} without a meter"))?;
                    if self.in_first_voice {
                        self.apply_broken_and_tuplet(bars as f64 * bar, None, 0);
                    }
                    i = next;
                }
                other => bail!("symbol {other:?} not read"),
            }
        }
        Ok(())
    }

    /// A bar line or repeat sign starting at `i` (`|`, `||`, `|]`, `|:`, `:|`, `::`, `|1`, `:|2`).
    fn bar(&mut self, c: &[char], mut i: usize) -> usize {
        while i < c.len() && matches!(c[i], '|' | ':' | ']') {
            i += 1;
        }
        if c.get(i).is_some_and(|d| d.is_ascii_digit()) {
            i = skip_ending(c, i);
        }
        if self.in_first_voice {
            self.bar_accidentals.clear();
            if self.first_bar.is_none() {
                self.first_bar = Some(self.items.iter().map(|it| it.beats).sum());
            }
        }
        i
    }

    /// A tuplet `(p`, `(p:q`, `(p:q:r`, `(p::r` whose digits start at `i`.
    fn tuplet(&mut self, c: &[char], i: usize) -> Result<usize> {
        let (p, mut i) = number(c, i)?;
        let p = p.unwrap_or(3);
        let mut q = None;
        let mut r = None;
        if c.get(i) == Some(&':') {
            let (n, next) = number(c, i + 1)?;
            q = n;
            i = next;
            if c.get(i) == Some(&':') {
                let (n, next) = number(c, i + 1)?;
                r = n;
                i = next;
            }
        }
        let compound = self
            .meter
            .is_some_and(|m| m.denominator == 8 && m.numerator % 3 == 0 && m.numerator > 3);
        let q = match q {
            Some(q) => q,
            None => match p {
                2 | 4 | 8 => 3,
                3 | 6 => 2,
                _ if compound => 3,
                _ => 2,
            },
        };
        if p == 0 || q == 0 {
            bail!("tuplet ({p}:{q} not read");
        }
        if r == Some(0) {
            bail!("tuplet ({p}:{q}:0 spans no notes");
        }
        if self.in_first_voice {
            self.tuplet = Some((q as f64 / p as f64, r.unwrap_or(p)));
        }
        Ok(i)
    }

    /// A note's pitch (accidentals, letter, octave marks) at `i`: (MIDI pitch, diatonic step,
    /// whether it had its own accidental) and the index after it.
    fn note(&mut self, c: &[char], mut i: usize) -> Result<((i32, i32, bool), usize)> {
        let mut alter: Option<i8> = None;
        loop {
            let a = match c.get(i) {
                Some('^') => 1,
                Some('_') => -1,
                Some('=') => 0,
                _ => break,
            };
            let prev = alter.unwrap_or(0);
            if alter.is_some() && (a == 0 || prev.signum() != a || prev.abs() >= 2) {
                bail!("accidental not read");
            }
            alter = Some(prev + a);
            i += 1;
        }
        let letter = c
            .get(i)
            .copied()
            .filter(|l| "ABCDEFGabcdefg".contains(*l))
            .ok_or_else(|| anyhow!("accidental without a note"))?;
        let (index, semitone) = letter_index(letter).unwrap_or((0, 0));
        let mut octave: i32 = if letter.is_ascii_lowercase() { 1 } else { 0 };
        i += 1;
        while let Some(&m) = c.get(i) {
            match m {
                '\'' => octave += 1,
                ',' => octave -= 1,
                _ => break,
            }
            if octave.abs() > 12 {
                bail!("note out of range");
            }
            i += 1;
        }
        let step = octave * 7 + index as i32;
        let own = alter.is_some();
        let alter = match alter {
            Some(a) => {
                if self.in_first_voice {
                    self.bar_accidentals.insert(step, a);
                }
                a
            }
            None => self
                .bar_accidentals
                .get(&step)
                .copied()
                .unwrap_or(self.signature[index]),
        };
        let pitch = 60 + 12 * octave + semitone + alter as i32;
        Ok(((pitch, step, own), i))
    }

    /// A chord `[CEG]2` whose inside starts at `i`: its top note, as long as its first note.
    fn chord(&mut self, c: &[char], mut i: usize) -> Result<usize> {
        let mut top: Option<(i32, i32, bool)> = None;
        let mut first_len: Option<(u32, u32)> = None;
        let mut tie = false;
        loop {
            match c.get(i) {
                None => bail!("unclosed chord"),
                Some(']') => {
                    i += 1;
                    break;
                }
                Some('"') => i = skip_past(c, i + 1, '"').ok_or_else(|| anyhow!("unclosed \""))?,
                Some('!') | Some('+') => {
                    i = skip_past(c, i + 1, c[i]).ok_or_else(|| anyhow!("unclosed decoration"))?
                }
                Some('-') => {
                    tie = true;
                    i += 1;
                }
                Some(' ') | Some('.') | Some('~') | Some(')') | Some('(') => i += 1,
                Some('^') | Some('_') | Some('=') | Some('A'..='G') | Some('a'..='g') => {
                    let (note, next) = self.note(c, i)?;
                    let (len, next) = length(c, next)?;
                    first_len.get_or_insert(len);
                    if top.is_none_or(|t| note.0 > t.0) {
                        top = Some(note);
                    }
                    i = next;
                }
                Some(other) => bail!("{other:?} in a chord not read"),
            }
        }
        let (num, den) = first_len.ok_or_else(|| anyhow!("empty chord"))?;
        let ((m, d), next) = length(c, i)?;
        let top = top.ok_or_else(|| anyhow!("empty chord"))?;
        self.push(Some(top), (0, 0))?;
        // Length: the first note's times the chord's own (pushed as 1, set here).
        if self.in_first_voice {
            if let Some(last) = self.items.last_mut() {
                let scale = (num as f64 / den as f64) * (m as f64 / d as f64);
                last.beats *= scale;
                last.tie |= tie;
            }
        }
        Ok(next)
    }

    /// Appends a note (pitch, step, own accidental) or rest (`None`) of `len` = (numerator,
    /// denominator) units; (0, 0) means one unit (set by the caller).
    fn push(&mut self, note: Option<(i32, i32, bool)>, len: (u32, u32)) -> Result<()> {
        if !self.in_first_voice {
            return Ok(());
        }
        let units = match len {
            (0, _) | (_, 0) => 1.0,
            (n, d) => n as f64 / d as f64,
        };
        let written = units * self.unit;
        let (pitch, step) = match note {
            Some((mut p, step, own)) => {
                // A tie carries the tied note's accidental to a continuation written without one.
                if let Some(last) = self.items.last() {
                    if last.tie && !own && last.step == step {
                        if let Some(lp) = last.pitch {
                            p = lp as i32;
                        }
                    }
                }
                if !(0..=127).contains(&p) {
                    bail!("note out of the MIDI range");
                }
                (Some(p as u8), step)
            }
            None => (None, 0),
        };
        self.apply_broken_and_tuplet(written, pitch, step);
        Ok(())
    }

    /// Pushes an item of `written` beats with the pending broken-rhythm and tuplet factors.
    fn apply_broken_and_tuplet(&mut self, written: f64, pitch: Option<u8>, step: i32) {
        let mut written = written;
        if let Some((factor, left)) = self.tuplet {
            written *= factor;
            self.tuplet = (left > 1).then(|| (factor, left - 1));
        }
        let beats = written * self.broken_next.take().unwrap_or(1.0);
        self.items.push(Item {
            pitch,
            beats,
            tie: false,
            step,
        });
    }

    /// Lays the items out in time and merges ties.
    fn finish(self, key: Option<KeySignature>, meter: Option<Meter>) -> Result<Melody> {
        let mut notes: Vec<Note> = Vec::new();
        let mut t = 0.0;
        let mut tied = false;
        for it in &self.items {
            if let Some(p) = it.pitch {
                match notes.last_mut() {
                    Some(last) if tied && last.pitch == p => last.duration += it.beats,
                    _ => notes.push(Note {
                        pitch: p,
                        onset: t,
                        duration: it.beats,
                        velocity: VELOCITY,
                    }),
                }
            }
            tied = it.tie && it.pitch.is_some();
            t += it.beats;
        }
        if notes.len() < MIN_MELODY_NOTES {
            bail!(
                "{} notes, fewer than the {MIN_MELODY_NOTES} a melody needs",
                notes.len()
            );
        }
        let meter = meter.map(|m| Meter {
            origin: self.first_bar.unwrap_or(0.0).rem_euclid(m.bar()),
            ..m
        });
        Ok(Melody { notes, key, meter })
    }
}

/// The index after the next `end` from `i` (on this line), if any.
fn skip_past(c: &[char], i: usize, end: char) -> Option<usize> {
    c.get(i..)?
        .iter()
        .position(|&x| x == end)
        .map(|p| i + p + 1)
}

/// Skips a repeat ending's numbers (`1`, `1,3`, `1-2`) from `i`.
fn skip_ending(c: &[char], mut i: usize) -> usize {
    while c
        .get(i)
        .is_some_and(|d| d.is_ascii_digit() || *d == ',' || *d == '-')
    {
        // A '-' not followed by a digit is a tie, not part of the ending.
        if c[i] == '-' && !c.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
            break;
        }
        i += 1;
    }
    i
}

/// A decimal number at `i` (`None` when there is no digit) and the index after it.
fn number(c: &[char], mut i: usize) -> Result<(Option<u32>, usize)> {
    let mut n: Option<u32> = None;
    while let Some(d) = c.get(i).and_then(|d| d.to_digit(10)) {
        let v = n.unwrap_or(0) * 10 + d;
        if v > MAX_NUMBER {
            bail!("number larger than {MAX_NUMBER}");
        }
        n = Some(v);
        i += 1;
    }
    Ok((n, i))
}

/// A note length at `i` (`2`, `3/2`, `/`, `//`, `/4`, `3/`; nothing = 1) as (numerator,
/// denominator) units, and the index after it.
fn length(c: &[char], i: usize) -> Result<((u32, u32), usize)> {
    let (num, mut i) = number(c, i)?;
    let num = num.unwrap_or(1);
    let mut den: u32 = 1;
    while c.get(i) == Some(&'/') {
        let (d, next) = number(c, i + 1)?;
        den = den.saturating_mul(d.unwrap_or(2));
        i = next;
        if den > MAX_NUMBER {
            bail!("length shorter than 1/{MAX_NUMBER}");
        }
    }
    if num == 0 || den == 0 {
        bail!("zero length");
    }
    Ok(((num, den), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one tune of `body` under a header with `fields` (`X:1`, `T:t` added).
    fn tune(fields: &str, body: &str) -> Result<Melody> {
        let text = format!("X:1\nT:t\n{fields}\n{body}\n");
        let mut tunes = read_abc(text.as_bytes()).unwrap();
        assert_eq!(tunes.len(), 1);
        tunes.remove(0).melody
    }

    /// (pitch, onset, duration) of every note.
    fn pod(m: &Melody) -> Vec<(u8, f64, f64)> {
        m.notes
            .iter()
            .map(|n| (n.pitch, n.onset, n.duration))
            .collect()
    }

    fn pitches(m: &Melody) -> Vec<u8> {
        m.notes.iter().map(|n| n.pitch).collect()
    }

    #[test]
    fn pitches_octaves_and_lengths() {
        let m = tune("M:4/4\nL:1/8\nK:C", "C, C c c' B,2 d/ e// f3/2 g/2 a3/ |").unwrap();
        assert_eq!(
            pod(&m),
            vec![
                (48, 0.0, 0.5),
                (60, 0.5, 0.5),
                (72, 1.0, 0.5),
                (84, 1.5, 0.5),
                (59, 2.0, 1.0),
                (74, 3.0, 0.25),
                (76, 3.25, 0.125),
                (77, 3.375, 0.75),
                (79, 4.125, 0.25),
                (81, 4.375, 0.75),
            ]
        );
        assert_eq!(m.key, Some(KeySignature::default()));
        assert_eq!(m.meter.map(|m| m.label()), Some("4/4".into()));
    }

    #[test]
    fn default_unit_length_follows_the_meter() {
        // 2/4 < 3/4: sixteenths; 3/4: eighths; no meter: eighths.
        let m = tune("M:2/4\nK:C", "CDEF").unwrap();
        assert_eq!(m.notes[1].onset, 0.25);
        let m = tune("M:3/4\nK:C", "CDEF").unwrap();
        assert_eq!(m.notes[1].onset, 0.5);
        let m = tune("M:none\nK:C", "CDEF").unwrap();
        assert_eq!(m.notes[1].onset, 0.5);
        assert_eq!(m.meter, None);
        let m = tune("M:C\nK:C", "CDEF").unwrap();
        assert_eq!(m.meter.map(|m| m.label()), Some("4/4".into()));
        let m = tune("M:C|\nK:C", "CDEF").unwrap();
        assert_eq!(m.meter.map(|m| m.label()), Some("2/2".into()));
        // L: given after M: wins.
        let m = tune("M:2/4\nL:1/4\nQ:1/4=120\nK:C", "CDEF").unwrap();
        assert_eq!(m.notes[1].onset, 1.0);
    }

    #[test]
    fn key_signatures_and_modes() {
        let k = |f: &str| parse_key_field(f).unwrap();
        assert_eq!(k("G").accidentals, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(k("F").accidentals, [0, 0, 0, 0, 0, 0, -1]);
        assert_eq!(k("Bb").accidentals, [0, 0, -1, 0, 0, 0, -1]);
        let dor = k("A Dorian");
        assert_eq!(dor.accidentals, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(
            dor.key,
            Some(KeySignature {
                tonic: 9,
                mode: Mode::Minor
            })
        );
        assert_eq!(dor.mode, "dor");
        let mix = k("G Mix");
        assert_eq!(mix.accidentals, [0; 7]);
        assert_eq!(mix.key.unwrap().mode, Mode::Major);
        assert_eq!(k("Gm").accidentals, [0, 0, -1, 0, 0, 0, -1]);
        assert_eq!(k("G Minor").key.unwrap().tonic, 7);
        assert_eq!(k("F#min").key.unwrap().tonic, 6);
        assert_eq!(k("F#min").accidentals, [1, 0, 0, 1, 1, 0, 0]);
        assert_eq!(k("D exp ^f").accidentals, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(k("C ^f _b").accidentals, [0, 0, 0, 1, 0, 0, -1]);
        assert_eq!(k("G clef=bass").accidentals, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(k("none").key, None);
        assert!(parse_key_field("H").is_err());
        assert!(parse_key_field("G flurble").is_err());
        // In a tune: K:G makes every F sharp, K:Dm every B flat.
        let m = tune("L:1/4\nK:G", "F f G B").unwrap();
        assert_eq!(pitches(&m), vec![66, 78, 67, 71]);
        let m = tune("L:1/4\nK:Dm", "B b A =B").unwrap();
        assert_eq!(pitches(&m), vec![70, 82, 69, 71]);
        assert_eq!(
            m.key,
            Some(KeySignature {
                tonic: 2,
                mode: Mode::Minor
            })
        );
    }

    #[test]
    fn accidentals_last_to_the_end_of_the_bar_on_their_own_octave() {
        // K:G (F sharp) with explicit flats/naturals: _B holds for B in the bar, not for b;
        // =F holds to the bar line, then the signature is back.
        let m = tune("L:1/4\nK:G", "_B B b =F F | F B ^^C __D").unwrap();
        assert_eq!(pitches(&m), vec![70, 70, 83, 65, 65, 66, 71, 62, 60]);
    }

    #[test]
    fn rests_ties_and_whole_bar_rests() {
        let m = tune("M:3/4\nL:1/4\nK:C", "C z D2- | D E x/ F | Z2 | G").unwrap();
        assert_eq!(
            pod(&m),
            vec![
                (60, 0.0, 1.0),
                (62, 2.0, 3.0),
                (64, 5.0, 1.0),
                (65, 6.5, 1.0),
                (67, 13.5, 1.0)
            ]
        );
        // A tie carries the accidental over the bar line; a tie between different notes is
        // two notes.
        let m = tune("L:1/4\nK:C", "^F2- | F G- A B").unwrap();
        assert_eq!(
            pod(&m),
            vec![
                (66, 0.0, 3.0),
                (67, 3.0, 1.0),
                (69, 4.0, 1.0),
                (71, 5.0, 1.0)
            ]
        );
    }

    /// A tuplet over no notes (`(3:2:0`, found by the robustness proptest as a mutated digit):
    /// the note after it counted the tuplet's notes left down from 0, an overflow panic in a
    /// debug build. It is an error of that tune now, like a tuplet of 0 in the time of 2.
    #[test]
    fn a_tuplet_over_no_notes_is_an_error_not_a_panic() {
        let m = tune("L:1/8\nK:C", "(3:2:0 C D E F");
        let err = m.expect_err("a tuplet over 0 notes");
        assert!(format!("{err:#}").contains("(3:2:0"), "{err:#}");
        // (3:2:1 still applies to one note.
        let m = tune("L:1/8\nK:C", "(3:2:1 C D E F").unwrap();
        assert!((m.notes[1].onset - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn broken_rhythm_and_tuplets() {
        let m = tune("M:4/4\nL:1/8\nK:C", "A>B c<d e>>f (3gab c'2").unwrap();
        let on: Vec<f64> = m.notes.iter().map(|n| n.onset).collect();
        let du: Vec<f64> = m.notes.iter().map(|n| n.duration).collect();
        let third = 1.0 / 3.0;
        let want_du = [
            0.75, 0.25, 0.25, 0.75, 0.875, 0.125, third, third, third, 1.0,
        ];
        for (a, b) in du.iter().zip(want_du) {
            assert!((a - b).abs() < 1e-9, "{du:?}");
        }
        assert!((on[9] - 4.0).abs() < 1e-9, "{on:?}");
        // (p:q:r: five notes in the time of four, over the next five; then plain again.
        let m = tune("M:4/4\nL:1/8\nK:C", "(5:4:5 CDEFG A").unwrap();
        assert!((m.notes[5].onset - 2.0).abs() < 1e-9);
        assert!((m.notes[5].duration - 0.5).abs() < 1e-9);
        // (3:2:2: three in the time of two, over two notes only.
        let m = tune("L:1/8\nK:C", "(3:2:2 C D E F").unwrap();
        assert!((m.notes[2].onset - 2.0 / 3.0).abs() < 1e-9);
        assert!((m.notes[2].duration - 0.5).abs() < 1e-9);
        // In compound meter (5 = five in the time of three.
        let m = tune("M:6/8\nL:1/8\nK:C", "(5CDEFG A").unwrap();
        assert!((m.notes[5].onset - 1.5).abs() < 1e-9);
    }

    /// A chain of broken rhythms (`A>B<C`): the middle note, already shortened by the first
    /// sign, is scaled again by the second rather than losing a written length it no longer
    /// has (it came out 0 beats long; proptest found `A>A&|""<AA&`).
    #[test]
    fn chained_broken_rhythms_keep_every_note_positive() {
        let m = tune("L:1/8\nK:C", "A>B<c d A>A&|\"\"<AA&").unwrap();
        let du: Vec<f64> = m.notes.iter().map(|n| n.duration).collect();
        assert!(du.iter().all(|&d| d > 0.0), "{du:?}");
        // B: halved by `>`, then halved again by `<`; c lengthened by half.
        for (a, b) in du.iter().zip([0.75, 0.125, 0.75, 0.5]) {
            assert!((a - b).abs() < 1e-9, "{du:?}");
        }
    }

    #[test]
    fn chords_take_the_top_note_and_the_first_notes_length() {
        let m = tune("L:1/8\nK:C", "[CEG]2 [G2c2] [^FA]/ [ce]4- [ce] d").unwrap();
        assert_eq!(
            pod(&m),
            vec![
                (67, 0.0, 1.0),
                (72, 1.0, 1.0),
                (69, 2.0, 0.25),
                (76, 2.25, 2.5),
                (74, 4.75, 0.5)
            ]
        );
    }

    #[test]
    fn skipped_symbols_bars_and_inline_fields() {
        let body = "\"Am\"A !trill!B +fermata+c {ga}d .e ~f Hg (ab) |: A :: B |1 c :|2 d |] \\\n\
                    [K:F] B [M:3/4] [L:1/4] c [1 d [2 e || f [|g|] % comment\n\
                    w: some words\n\
                    M:2/4\n\
                    A";
        let m = tune("M:4/4\nL:1/8\nK:C", body).unwrap();
        assert_eq!(
            pitches(&m),
            vec![69, 71, 72, 74, 76, 77, 79, 81, 83, 69, 71, 72, 74, 70, 72, 74, 76, 77, 79, 69]
        );
        // Eighths up to B♭, quarters after [L:1/4].
        assert_eq!(m.notes[13].onset, 6.5);
        assert_eq!(m.notes[14].onset, 7.0);
        assert_eq!(m.notes[15].onset, 8.0);
        // The header meter is the melody's; its origin is the first bar line (beat 4.5 → 0.5).
        assert_eq!(
            m.meter.map(|m| (m.label(), m.origin)),
            Some(("4/4".into(), 0.5))
        );
        // A pickup: the first bar line at beat 0.5 gives the bars' origin.
        let m = tune("M:3/4\nL:1/8\nK:D", "A | d2 f2 a2 | d'6 |]").unwrap();
        assert_eq!(m.meter.map(|m| m.origin), Some(0.5));
        assert_eq!(m.key.unwrap().tonic, 2);
    }

    #[test]
    fn only_the_first_voice_and_no_overlay() {
        let body = "V:1\nCDEF|\nV:2\nc'c'c'c'|\nV:1\nGA & Bc|B";
        let m = tune("L:1/4\nK:C", body).unwrap();
        assert_eq!(pitches(&m), vec![60, 62, 64, 65, 67, 69, 71]);
        assert_eq!(m.notes[6].onset, 6.0);
    }

    #[test]
    fn many_tunes_and_a_broken_one_among_them() {
        let text = "% file header\nT:collection\n\n\
                    X:3\nT:First\nM:2/4\nL:1/8\nK:G\nGABc|d4|]\n\n\
                    X:7\nT:Broken\nK:C\nCDE*F|\n\n\
                    X:9\nT:No key\nL:1/8\nCDEF\n\
                    X:12\nT:Third\nK:Am\nABcd|e4|\n";
        let tunes = read_abc(text.as_bytes()).unwrap();
        let numbers: Vec<u32> = tunes.iter().map(|t| t.number).collect();
        assert_eq!(numbers, vec![3, 7, 9, 12]);
        assert_eq!(
            pitches(tunes[0].melody.as_ref().unwrap()),
            vec![67, 69, 71, 72, 74]
        );
        let e = format!("{:#}", tunes[1].melody.as_ref().unwrap_err());
        assert!(
            e.contains("X:7") && e.contains("Broken") && e.contains("'*'"),
            "{e}"
        );
        assert!(e.contains("line 4"), "{e}");
        let e = format!("{:#}", tunes[2].melody.as_ref().unwrap_err());
        assert!(e.contains("K:"), "{e}");
        assert_eq!(tunes[3].title, "Third");
        assert_eq!(
            pitches(tunes[3].melody.as_ref().unwrap()),
            vec![69, 71, 72, 74, 76]
        );
        // The byte ranges cut the file into the tunes.
        assert!(text[tunes[1].bytes.clone()].starts_with("X:7\nT:Broken"));
        assert!(text[tunes[2].bytes.clone()].ends_with("CDEF\n"));
        // Errors of the tunes themselves.
        for (body, what) in [
            ("[CEG", "unclosed chord"),
            ("C D \"Am E", "unclosed"),
            ("C,,,,,,,,,,, D E F", "range"),
            ("C/0 D E F", "zero"),
            ("C D", "fewer"),
            ("Z C D E F", "meter"),
        ] {
            let e = format!("{:#}", tune("K:C", body).unwrap_err());
            assert!(e.contains(what), "{body}: {e}");
        }
        assert!(read_abc(b"").is_err());
        assert!(read_abc(b"no tunes here\n").is_err());
    }

    /// The reader against music21's own reading: `../shared/corpus/airs` holds music21's MIDI
    /// exports of its `airdsAirs/bookN.abc` (`airds-bookN-007` = the eighth tune of book N).
    /// Needs the ABC sources: `CONTINUO_MUSIC21_CORPUS=…/music21/corpus` (a checkout's corpus
    /// folder); skipped with a message otherwise. Prints the first differences. On 2026-11-30:
    /// 862 of 1,042 tunes identical; the differences seen are music21's, not ours: music21 does
    /// not carry an accidental to later notes of the bar (`=f2 (gfed)`: its second f is F♯ in
    /// K:G, against ABC 2.1), and it drops a note after the fermata `H` (`Hg3`).
    #[test]
    #[ignore = "needs a music21 checkout (CONTINUO_MUSIC21_CORPUS)"]
    fn agrees_with_music21_midi_exports() {
        let Some(corpus) = std::env::var_os("CONTINUO_MUSIC21_CORPUS") else {
            eprintln!("skipped: set CONTINUO_MUSIC21_CORPUS to music21's corpus folder");
            return;
        };
        let airs =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/airs");
        if !airs.is_dir() {
            eprintln!("skipped: no ../shared/corpus/airs");
            return;
        }
        let (mut same, mut compared, mut shown) = (0, 0, 0);
        for book in 1..=6 {
            let path = std::path::Path::new(&corpus).join(format!("airdsAirs/book{book}.abc"));
            let tunes = read_abc(&std::fs::read(path).unwrap()).unwrap();
            for (i, t) in tunes.iter().enumerate() {
                let midi = airs.join(format!("airds-book{book}-{i:03}.mid"));
                let (Ok(bytes), Ok(m)) = (std::fs::read(&midi), t.melody.as_ref()) else {
                    continue;
                };
                let theirs = &crate::model::midi_in::read_midi(&bytes).unwrap()[0];
                compared += 1;
                let key = |n: &[Note]| -> Vec<(u8, i64)> {
                    n.iter()
                        .map(|x| (x.pitch, (x.onset * 48.0).round() as i64))
                        .collect()
                };
                let (a, b) = (key(&m.notes), key(&theirs.notes));
                if a == b {
                    same += 1;
                } else if shown < 8 {
                    shown += 1;
                    let at = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
                    eprintln!(
                        "book{book} #{i} X:{} ({}): {} vs {} notes, first difference at note {at}: ours {:?} music21 {:?}",
                        t.number,
                        t.title,
                        a.len(),
                        b.len(),
                        a.get(at..(at + 3).min(a.len())),
                        b.get(at..(at + 3).min(b.len()))
                    );
                }
            }
        }
        eprintln!("{same} of {compared} tunes identical (pitches and onsets)");
        assert!(compared > 900, "{compared}");
        assert!(same * 10 >= compared * 8, "{same} of {compared}");
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut text = b"X:1\nK:C\n".to_vec();
            text.extend_from_slice(&bytes);
            let _ = read_abc(&bytes);
            let _ = read_abc(&text);
        }

        #[test]
        fn random_abc_symbols_never_panic(body in "[A-Ga-gzxZX^_=,'/0-9<>()\\[\\]|:!+{}\"\\- &.~K:LM]{0,200}") {
            let text = format!("X:1\nM:6/8\nK:D\n{body}\n");
            if let Ok(tunes) = read_abc(text.as_bytes()) {
                for t in tunes {
                    if let Ok(m) = t.melody {
                        for n in &m.notes {
                            proptest::prop_assert!(n.onset.is_finite() && n.duration > 0.0);
                        }
                    }
                }
            }
        }
    }
}
