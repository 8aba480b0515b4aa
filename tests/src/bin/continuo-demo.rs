//! `continuo-demo`: the built Continuo.clap in a headless CLAP host.
//!
//! ```text
//! continuo-demo --plugin target/bundled/Continuo.clap [--out-dir target/demo]
//!               [--wav assets/demo/phrase-piano.wav | --midi-in phrase.mid]
//!               [--tempo BPM] [--downbeat SECONDS]
//! ```
//! Feeds the recording (source = Audio) or the MIDI file (source = MIDI) with MIDI thru on, in
//! Call & response mode, in 512-sample blocks with the host transport playing, then about 8 s of
//! silence; prints what Continuo heard (its thru output) and how it answered, and writes
//! `heard.mid` and `answer.mid` (in the host's bars).
//!
//! The host plays at the input's tempo with a bar line where the input has one, as a musician
//! plays to the host's click: for the demo recording 103 bpm, bars of 4/4 from its D5 at 1.083 s
//! (the tune opens with a pickup of four sixteenths); a MIDI file's own tempo with bar lines from
//! its start; another recording 120 bpm from its start; `--tempo` and `--downbeat` say otherwise.

use continuo_host_tests::*;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const BLOCK: usize = 512;

type R<T> = std::result::Result<T, String>;

struct Args {
    plugin: Option<PathBuf>,
    out_dir: PathBuf,
    wav: Option<PathBuf>,
    midi_in: Option<PathBuf>,
    /// The host's tempo (bpm) and where in the input a bar begins (seconds); `None`: the demo
    /// recording's, or 120 bpm from the start for another input.
    tempo: Option<f64>,
    downbeat: Option<f64>,
}

/// The demo recording's tempo (its sixteenths are 0.1456 s apart) and first bar line (its D5).
const DEMO_TEMPO: f64 = 103.0;
const DEMO_DOWNBEAT_S: f64 = 1.0825;
/// Host tempi the demo accepts (bpm), given or read from a MIDI file.
const TEMPI: std::ops::RangeInclusive<f64> = 20.0..=400.0;

fn usage() -> &'static str {
    "usage: continuo-demo [--plugin PATH/Continuo.clap] [--out-dir DIR] \
     [--wav FILE.wav | --midi-in FILE.mid] [--tempo BPM] [--downbeat SECONDS]"
}

fn parse_args() -> R<Args> {
    let mut a = Args {
        plugin: None,
        out_dir: PathBuf::from("target/demo"),
        wav: None,
        midi_in: None,
        tempo: None,
        downbeat: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--plugin" => a.plugin = Some(value("--plugin")?.into()),
            "--out-dir" => a.out_dir = value("--out-dir")?.into(),
            "--wav" => a.wav = Some(value("--wav")?.into()),
            "--midi-in" => a.midi_in = Some(value("--midi-in")?.into()),
            "--tempo" => {
                let t: f64 = value("--tempo")?
                    .parse()
                    .map_err(|e| format!("--tempo: {e}"))?;
                if !(t.is_finite() && TEMPI.contains(&t)) {
                    return Err(format!("--tempo {t}: give 20 to 400 bpm"));
                }
                a.tempo = Some(t);
            }
            "--downbeat" => {
                let d: f64 = value("--downbeat")?
                    .parse()
                    .map_err(|e| format!("--downbeat: {e}"))?;
                if !(d.is_finite() && d >= 0.0) {
                    return Err(format!(
                        "--downbeat {d}: give seconds from the input's start"
                    ));
                }
                a.downbeat = Some(d);
            }
            "-h" | "--help" => return Err(usage().into()),
            other => return Err(format!("unknown argument {other:?}\n{}", usage())),
        }
    }
    if a.wav.is_some() && a.midi_in.is_some() {
        return Err("give --wav or --midi-in, not both".into());
    }
    Ok(a)
}

/// Finds a file given relative to the current directory or to the workspace root.
fn find(p: &Path) -> PathBuf {
    if p.exists() || p.is_absolute() {
        return p.to_path_buf();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p);
    if root.exists() {
        root
    } else {
        p.to_path_buf()
    }
}

/// The notes of a MIDI file as `(on s, off s, key, velocity)` and its first tempo (bpm).
type MidiInput = (Vec<(f64, f64, u8, f64)>, Option<f64>);

/// Reads the notes of a standard MIDI file as `(on s, off s, key, velocity)`, with its tempo map,
/// and its first tempo.
fn read_midi(path: &Path) -> R<MidiInput> {
    use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let smf = Smf::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    // All events on one time line (ticks), then ticks -> seconds through the tempo map.
    let mut events: Vec<(u64, TrackEventKind)> = vec![];
    for track in &smf.tracks {
        let mut t = 0u64;
        for e in track {
            t += e.delta.as_int() as u64;
            events.push((t, e.kind));
        }
    }
    events.sort_by_key(|e| e.0);
    let seconds_per_tick = |tempo_us: f64| -> f64 {
        match smf.header.timing {
            Timing::Metrical(tpq) => tempo_us / 1e6 / tpq.as_int().max(1) as f64,
            Timing::Timecode(fps, sub) => 1.0 / (fps.as_f32() as f64 * sub.max(1) as f64),
        }
    };
    let mut tempo_us = 500_000.0;
    let mut first_tempo = None;
    let (mut last_tick, mut now) = (0u64, 0.0f64);
    let mut open: std::collections::HashMap<u8, (f64, f64)> = Default::default();
    let mut notes = vec![];
    for (tick, kind) in events {
        now += (tick - last_tick) as f64 * seconds_per_tick(tempo_us);
        last_tick = tick;
        match kind {
            TrackEventKind::Meta(MetaMessage::Tempo(t)) => {
                tempo_us = t.as_int() as f64;
                if first_tempo.is_none() && tempo_us > 0.0 {
                    first_tempo = Some((60e6 / tempo_us * 100.0).round() / 100.0);
                }
            }
            TrackEventKind::Midi { message, .. } => match message {
                MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                    if let Some((on, v)) = open.remove(&key.as_int()) {
                        notes.push((on, now, key.as_int(), v));
                    }
                    open.insert(key.as_int(), (now, vel.as_int() as f64 / 127.0));
                }
                MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                    if let Some((on, v)) = open.remove(&key.as_int()) {
                        notes.push((on, now, key.as_int(), v));
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    for (key, (on, v)) in open {
        notes.push((on, now, key, v));
    }
    notes.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok((notes, first_tempo))
}

/// Writes notes `(on, off, key, velocity 0..1)` in samples as a one-track MIDI file at `tempo`,
/// sample 0 at beat `start_beat` (the host's bars are the file's).
fn write_midi(
    path: &Path,
    notes: &[(u64, u64, u8, f64)],
    sr: f64,
    tempo: f64,
    start_beat: f64,
    channel: u8,
) -> R<()> {
    use midly::num::{u15, u24, u28, u4, u7};
    use midly::{
        Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind,
    };
    const TPQ: u16 = 480;
    let ticks = |s: u64| ((s as f64 / sr * tempo / 60.0 + start_beat) * TPQ as f64).round() as u64;
    let mut ev: Vec<(u64, bool, u8, u8)> = vec![];
    for &(on, off, key, vel) in notes {
        let v = (vel * 127.0).round().clamp(1.0, 127.0) as u8;
        ev.push((ticks(on), true, key, v));
        ev.push((ticks(off).max(ticks(on) + 1), false, key, 0));
    }
    // Offs before ons at the same tick.
    ev.sort_by_key(|e| (e.0, e.1));
    let mut track = vec![TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new((60e6 / tempo) as u32))),
    }];
    let mut last = 0u64;
    for (t, on, key, vel) in ev {
        let message = if on {
            MidiMessage::NoteOn {
                key: u7::new(key & 127),
                vel: u7::new(vel),
            }
        } else {
            MidiMessage::NoteOff {
                key: u7::new(key & 127),
                vel: u7::new(0),
            }
        };
        track.push(TrackEvent {
            delta: u28::new((t - last) as u32),
            kind: TrackEventKind::Midi {
                channel: u4::new(channel & 15),
                message,
            },
        });
        last = t;
    }
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(TPQ))),
        tracks: vec![track],
    };
    smf.save(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn run() -> R<()> {
    let args = parse_args()?;
    let t0 = Instant::now();
    let plugin_path = match &args.plugin {
        Some(p) => find(p),
        None => bundle_path().ok_or("no Continuo.clap found: give --plugin PATH")?,
    };
    let entry = load_entry(&plugin_path).map_err(|e| e.to_string())?;
    println!(
        "Continuo demo: a headless CLAP host (clack-host) driving {}",
        plugin_path.display()
    );
    for d in descriptors(entry) {
        println!(
            "  plugin {} \"{}\" by {}, version {}\n  {}\n  features: {}",
            d.id,
            d.name,
            d.vendor,
            d.version,
            d.description,
            d.features.join(", ")
        );
    }

    // The input: a recording or a MIDI file.
    let use_midi = args.midi_in.is_some();
    let wav_path = find(
        args.wav
            .as_deref()
            .unwrap_or(Path::new("assets/demo/phrase-piano.wav")),
    );
    let (audio, sr, midi_notes, file_tempo, input_name) = if let Some(m) = &args.midi_in {
        let m = find(m);
        let (notes, tempo) = read_midi(&m)?;
        (vec![], 48_000.0, notes, tempo, m.display().to_string())
    } else {
        let (mono, sr) = read_wav_mono(&wav_path).map_err(|e| e.to_string())?;
        (mono, sr, vec![], None, wav_path.display().to_string())
    };
    let input_len = if use_midi {
        midi_notes
            .iter()
            .map(|n| (n.1 * sr).ceil() as u64)
            .max()
            .unwrap_or(0)
            + (0.1 * sr) as u64
    } else {
        audio.len() as u64
    };
    println!(
        "\ninput: {input_name} ({:.2} s at {sr} Hz{})",
        input_len as f64 / sr,
        if use_midi {
            format!(", {} notes", midi_notes.len())
        } else {
            String::new()
        }
    );

    let mut p = Plugin::new(entry).map_err(|e| e.to_string())?;
    let settings = [
        ("source", if use_midi { "MIDI" } else { "Audio" }),
        ("midi-thru", "On"),
        ("mode", "Call & response"),
    ];
    for (id, text) in settings {
        p.set_text(id, text).map_err(|e| e.to_string())?;
    }
    p.activate(sr, BLOCK as u32).map_err(|e| e.to_string())?;
    let shown: Vec<String> = [
        "source",
        "midi-thru",
        "mode",
        "gap",
        "grid",
        "channel",
        "length",
        "temperature",
    ]
    .iter()
    .map(|id| format!("{id}={}", p.get_text(id).unwrap_or_default()))
    .collect();
    let bundled = args.wav.is_none() && !use_midi;
    let tempo = args.tempo.unwrap_or(if bundled {
        DEMO_TEMPO
    } else {
        file_tempo.filter(|t| TEMPI.contains(t)).unwrap_or(120.0)
    });
    let downbeat = args
        .downbeat
        .unwrap_or(if bundled { DEMO_DOWNBEAT_S } else { 0.0 });
    // The host's beat at the input's start: a bar line (every 4 beats) falls on the downbeat.
    let start_beat = (-downbeat * tempo / 60.0).rem_euclid(4.0);
    println!(
        "settings: {}, tempo {tempo} bpm, 4/4 bars from {downbeat:.3} s of the input (host \
         transport playing)",
        shown.join(" "),
    );
    let gap_beats: f64 = p
        .get_text("gap")
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(1.0);
    let grid = p.get_text("grid").unwrap_or_default();
    std::thread::sleep(model_load_wait());

    let events: Vec<(u64, InEvent)> = midi_notes
        .iter()
        .flat_map(|&(on, off, key, vel)| {
            [
                (
                    (on * sr).round() as u64,
                    InEvent::NoteOn {
                        channel: 0,
                        key,
                        velocity: vel,
                    },
                ),
                (
                    (off * sr).round() as u64,
                    InEvent::NoteOff { channel: 0, key },
                ),
            ]
        })
        .collect();
    let silence = (8.0 * sr) as u64;
    let fed = p
        .run(move |s| {
            // Let the model thread take the reset of start_processing before the first note.
            std::thread::sleep(START_PAUSE);
            s.set_transport(Some(Transport {
                beat: start_beat,
                ..Transport::playing(tempo)
            }));
            s.feed(Feed {
                audio: vec![audio],
                events,
                // In real time, as a DAW plays: faster, the model thread's last drawing (after
                // the call's last note ended) raced the gap, and the answer differed from run to
                // run (11 or 12 notes).
                pause_after_events: Duration::from_millis(5),
                pause_every_block: Some(Duration::from_secs_f64(BLOCK as f64 / sr)),
                ..Feed::silence(input_len + silence, BLOCK)
            })
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    p.deactivate();

    // Heard = the thru notes that start while the input plays; the answer starts afterwards.
    let pairs = pair_notes(&fed.notes, true).map_err(|e| format!("output notes: {e}"))?;
    let (heard, answer): (Vec<&Played>, Vec<_>) = pairs.iter().partition(|n| n.0 < input_len);
    let secs = |t: u64| t as f64 / sr;
    println!(
        "\nheard ({} notes, MIDI thru of the detected notes):",
        heard.len()
    );
    if heard.is_empty() {
        println!(
            "  nothing detected{}",
            if use_midi {
                ""
            } else {
                " (the audio analysis found no notes: it may not be finished in this build)"
            }
        );
    }
    for n in &heard {
        println!(
            "  {:7.3} s – {:7.3} s  {:<4} ({:>3}) vel {:.2}",
            secs(n.0),
            secs(n.1),
            note_name(n.3),
            n.3,
            n.4
        );
    }
    if !use_midi {
        if let Some(reference) = reference_notes(&wav_path) {
            let detected: Vec<(f64, u8)> = heard.iter().map(|h| (secs(h.0), h.3)).collect();
            let (matched, p, r, f, mut delays) = note_scores(&reference, &detected, 0.05);
            delays.sort_by(f64::total_cmp);
            println!(
                "  against the written notes: {matched} of {} matched (onset ±50 ms, same pitch): \
                 precision {p:.2}, recall {r:.2}, F1 {f:.2}{}",
                reference.len(),
                delays
                    .get(delays.len() / 2)
                    .map(|d| format!("; written onset -> NoteOn median {:.1} ms", d * 1000.0))
                    .unwrap_or_default()
            );
        }
    }

    println!("\nanswer ({} notes):", answer.len());
    for n in &answer {
        println!(
            "  {:7.3} s – {:7.3} s  {:<4} ({:>3}) vel {:.2} ch {}",
            secs(n.0),
            secs(n.1),
            note_name(n.3),
            n.3,
            n.4,
            n.2 + 1
        );
    }
    let spb = sr * 60.0 / tempo;
    let last_heard_off = heard.iter().map(|n| n.1).max();
    match (last_heard_off, answer.first()) {
        (Some(off), Some(first)) => {
            let gap_end = off + (gap_beats * spb).round() as u64;
            let late_ms = (first.0 as f64 - gap_end as f64) / sr * 1000.0;
            // The host's bar and beat of the first NoteOn (4/4 bars from beat 0).
            // To a thousandth of a beat (a sample is a few hundred-thousandths): a NoteOn on a bar
            // line is not shown as beat 5 of the bar before.
            let beat = ((start_beat + first.0 as f64 / spb) * 1e3).round() / 1e3;
            let (bar, in_bar) = ((beat / 4.0).floor() + 1.0, beat.rem_euclid(4.0) + 1.0);
            // The grid's step in beats ("1/16": a quarter of a beat; "Off": none).
            let step = grid
                .strip_prefix("1/")
                .and_then(|d| d.parse::<f64>().ok())
                .map_or(0.0, |d| 4.0 / d);
            let why = if late_ms <= step * 60_000.0 / tempo + 1.0 {
                format!("grid {grid}: the answer starts on the first grid line after the gap")
            } else {
                "the call began with a pickup, so the answer waits to start with one too".into()
            };
            println!(
                "\nlast heard note ends at {:.3} s; the gap ({gap_beats} beat) ends at {:.3} s; \
                 first answer NoteOn at {:.3} s (bar {bar}, beat {in_bar:.2}): {late_ms:.1} ms \
                 after the end of the gap ({why})",
                secs(off),
                secs(gap_end),
                secs(first.0),
            );
        }
        (_, None) => println!(
            "\nno answer{}",
            if heard.is_empty() {
                " (nothing was heard)"
            } else {
                ""
            }
        ),
        (None, Some(_)) => println!("\nan answer came without heard notes"),
    }

    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| format!("{}: {e}", args.out_dir.display()))?;
    let to_midi = |ns: &[&Played]| -> Vec<(u64, u64, u8, f64)> {
        ns.iter().map(|n| (n.0, n.1, n.3, n.4)).collect()
    };
    let channel = answer.first().or(heard.first()).map(|n| n.2).unwrap_or(0);
    let heard_mid = args.out_dir.join("heard.mid");
    let answer_mid = args.out_dir.join("answer.mid");
    write_midi(&heard_mid, &to_midi(&heard), sr, tempo, start_beat, channel)?;
    write_midi(
        &answer_mid,
        &to_midi(&answer),
        sr,
        tempo,
        start_beat,
        channel,
    )?;
    println!(
        "\nwrote {} ({} notes) and {} ({} notes)",
        heard_mid.display(),
        heard.len(),
        answer_mid.display(),
        answer.len()
    );
    println!(
        "{} blocks of {BLOCK} samples, {} output events, {} process errors, {:.1} s",
        fed.blocks,
        fed.notes.len(),
        fed.errors,
        t0.elapsed().as_secs_f64()
    );
    if fed.errors > 0 {
        return Err(format!("{} process calls failed", fed.errors));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("continuo-demo: {e}");
            ExitCode::FAILURE
        }
    }
}
