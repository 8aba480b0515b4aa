//! `cargo xtask ardour [--bundle PATH.vst3]`: Continuo's VST3 bundle in a real DAW, headless.
//!
//! Ardour's Lua session tool (`ardour8-lua` or `ardour7-lua`; Debian's `ardour` package) runs
//! `tools/ardour/tracks.lua` on Ardour's dummy audio backend, whose inputs play sine waves: a mono
//! track and a stereo track, each measured on the master bus without and with Continuo; the
//! plugin deactivated and activated again while the engine runs (Ardour then activates it on its
//! process thread); a melody heard and recorded on a MIDI track; a phrase played once and
//! answered; the session saved and opened again; the factory presets found in Continuo's VST3
//! program list and one loaded through it, and a user preset, written as a VST3 preset file
//! (`continuo presets export-vst3 --user --no-factory`) into the private home's VST3 preset
//! folder, found. The script runs twice, at 48 kHz with 256-sample blocks and at 44.1 kHz with
//! 1,024 ([`ENGINES`]). This module checks what it prints: a mono track keeps its sound on both
//! sides, a stereo track is unchanged, Continuo answers, a parameter survives the reload, the
//! factory presets load, and nothing crashes.
//!
//! Ardour keeps its settings and plugin cache in a private home under the target directory, so
//! the check never touches the user's own Ardour setup.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// The Lua session tools to look for on PATH, newest first, with their library folders.
const TOOLS: &[(&str, &str)] = &[
    ("ardour8-lua", "/usr/lib/ardour8"),
    ("ardour7-lua", "/usr/lib/ardour7"),
];

/// The user preset the check writes as a VST3 preset file.
const USER_PRESET: &str = "Ardour Check";

/// Largest difference between a mono track's two sides with Continuo (dB).
const MONO_BALANCE_DB: f64 = 0.5;
/// Largest change Continuo may make to a stereo track's peaks (dB): it passes audio untouched.
const STEREO_SAME_DB: f64 = 0.1;
/// Quieter than this (dBFS) a side counts as silent.
const SILENT_DBFS: f64 = -60.0;
/// An audio engine setting the session runs at.
struct Engine {
    rate: u32,
    block: u32,
}

/// The settings the check runs at: Ardour's usual 48 kHz with 256-sample blocks, and CD rate
/// with long blocks (1,024 samples, 23 ms: fewer, larger calls, as a host set for low CPU load).
const ENGINES: &[Engine] = &[
    Engine {
        rate: 48_000,
        block: 256,
    },
    Engine {
        rate: 44_100,
        block: 1024,
    },
];

/// Fewest notes of an answer to a four-note phrase (the defaults answer with eight).
const MIN_ANSWER_NOTES: f64 = 3.0;

/// The Lua tool and Ardour's library folder (where its VST3 scanner is), if Ardour is installed.
pub fn find_tool() -> Option<(PathBuf, PathBuf)> {
    let path = std::env::var_os("PATH")?;
    for (exe, lib) in TOOLS {
        if let Some(tool) = std::env::split_paths(&path)
            .map(|dir| dir.join(exe))
            .find(|p| p.is_file())
        {
            return Some((tool, PathBuf::from(lib)));
        }
    }
    None
}

/// Copies the folder `from` to `to`, every file and folder dated `when`.
fn copy_dated(from: &Path, to: &Path, when: SystemTime) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dated(&entry.path(), &dest, when)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
            std::fs::File::open(&dest)?.set_modified(when)?;
        }
    }
    // After its contents, which would otherwise date it again.
    std::fs::File::open(to)?.set_modified(when)?;
    Ok(())
}

/// Runs the script on `bundle` (a `Continuo.vst3` folder) and checks its results; `cli` is the
/// `continuo` command line of the same build (it writes the VST3 preset files).
pub fn check(root: &Path, target: &Path, bundle: &Path, cli: &Path) -> anyhow::Result<()> {
    let Some((tool, lib)) = find_tool() else {
        anyhow::bail!(
            "Ardour's Lua session tool (ardour8-lua or ardour7-lua) is not installed \
             (Debian/Ubuntu: apt-get install ardour)"
        );
    };
    anyhow::ensure!(
        bundle.join("Contents").is_dir(),
        "{} is not a VST3 bundle",
        bundle.display()
    );
    let work = target.join("ardour-check");
    let _ = std::fs::remove_dir_all(&work);
    let home = work.join("home");
    // Lua DSP scripts are looked up in `~/.config/ardourN/scripts`.
    let config = lib
        .file_name()
        .map(|n| home.join(".config").join(n))
        .unwrap_or_else(|| home.join(".config/ardour7"));
    std::fs::create_dir_all(config.join("scripts"))?;
    for script in ["midi_count.lua", "melody.lua", "keys.lua"] {
        std::fs::copy(
            root.join("tools/ardour").join(script),
            config.join("scripts").join(format!("continuo_{script}")),
        )?;
    }
    let installed = home.join(".vst3/Continuo.vst3");
    // Ardour trusts a plugin's cache entry only when it is newer than the plugin's files.
    copy_dated(
        bundle,
        &installed,
        SystemTime::now() - Duration::from_secs(120),
    )?;
    let env = |cmd: &mut Command| private_home(cmd, &home);
    // A user preset of the private home's, written where VST3 hosts look for a user's presets
    // (the command's default folder under the private home); the factory presets come from
    // Continuo's program list, so they are not written.
    let user_presets = home.join(".config/continuo/presets");
    std::fs::create_dir_all(&user_presets)?;
    std::fs::write(
        user_presets.join("ardour-check.json"),
        format!(r#"{{"version": 1, "name": "{USER_PRESET}", "params": {{"temperature": 0.5}}}}"#),
    )?;
    let mut export = Command::new(cli);
    env(&mut export);
    let out = export
        .args(["presets", "export-vst3", "--user", "--no-factory"])
        .output()
        .map_err(|e| anyhow::anyhow!("{}: {e}", cli.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "`continuo presets export-vst3` failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The Lua tool reads Ardour's plugin cache but does not scan: the scanner fills the cache.
    let scanner = lib.join("ardour-vst3-scanner");
    let mut scan = Command::new(&scanner);
    env(&mut scan);
    scan.env("LD_LIBRARY_PATH", &lib).arg(&installed);
    let out = scan
        .output()
        .map_err(|e| anyhow::anyhow!("{}: {e}", scanner.display()))?;
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "Ardour's VST3 scanner failed on Continuo:\n{log}"
    );
    // The cache entry (`~/.cache/ardourN/vst/*.v3i`, XML) names the plugin's unique id.
    let mut cached = String::new();
    for dir in std::fs::read_dir(home.join(".cache"))?.flatten() {
        for file in std::fs::read_dir(dir.path().join("vst"))?.flatten() {
            cached += &std::fs::read_to_string(file.path()).unwrap_or_default();
        }
    }
    let uid = cached
        .split("uid=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| anyhow::anyhow!("the scanner cached no plugin:\n{log}"))?
        .to_string();

    // The factory presets' names, and what Wild sets (step 8 of the script).
    let mut factory = Vec::new();
    let mut wild_temperature = None;
    for entry in std::fs::read_dir(root.join("presets"))?.flatten() {
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(entry.path())?)?;
        let name = json["name"].as_str().unwrap_or_default().to_string();
        if name == "Wild" {
            wild_temperature = json["params"]["temperature"].as_f64();
        }
        factory.push(name);
    }
    factory.sort();

    let setup = Setup {
        tool,
        script: root.join("tools/ardour/tracks.lua"),
        home,
        work,
        uid,
        factory,
        wild_temperature,
    };
    for engine in ENGINES {
        run_session(&setup, engine)?;
    }
    Ok(())
}

/// What every run of the session script shares.
struct Setup {
    /// Ardour's Lua session tool and the script it runs.
    tool: PathBuf,
    script: PathBuf,
    /// The private home (Ardour's settings, plugin cache, scripts, VST3 presets) and the folder
    /// the sessions are made in.
    home: PathBuf,
    work: PathBuf,
    /// Continuo's VST3 unique id in Ardour's cache.
    uid: String,
    /// The factory presets' names, and the temperature Wild sets.
    factory: Vec<String>,
    wild_temperature: Option<f64>,
}

/// Sets a command's home and XDG folders to the check's private home.
fn private_home(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"));
}

/// Runs the session script once at `engine`'s rate and block size and checks what it prints.
fn run_session(setup: &Setup, engine: &Engine) -> anyhow::Result<()> {
    let Setup {
        tool,
        script,
        home,
        work,
        uid,
        factory,
        wild_temperature,
    } = setup;
    let session = work.join(format!("session-{}-{}", engine.rate, engine.block));
    println!(
        "{} {} (Continuo {uid}; {} Hz, {}-sample blocks)",
        tool.display(),
        script.display(),
        engine.rate,
        engine.block
    );
    let mut lua = Command::new(tool);
    private_home(&mut lua, home);
    lua.arg(script)
        .arg(&session)
        .arg(uid)
        .arg(format!("{}|{USER_PRESET}", factory.join("|")))
        .arg(engine.rate.to_string())
        .arg(engine.block.to_string());
    let out = lua
        .output()
        .map_err(|e| anyhow::anyhow!("{}: {e}", tool.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let results: HashMap<&str, Vec<f64>> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            Some((name, words.filter_map(|w| w.parse().ok()).collect()))
        })
        .collect();
    for line in stdout.lines().filter(|l| l.starts_with("RESULT ")) {
        println!("  {}", &line[7..]);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = out.status.signal() {
            anyhow::bail!(
                "Ardour was killed by signal {signal} with Continuo loaded\n--- stderr\n{stderr}"
            );
        }
    }
    anyhow::ensure!(
        out.status.success() && results.contains_key("done"),
        "the Ardour session did not run to its end ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // nice-plug warns when the host's events overflow its preallocated queue, which then
    // allocates on the audio thread.
    let overflows = stderr
        .lines()
        .filter(|l| l.contains("This will cause an allocation"))
        .count();
    anyhow::ensure!(
        overflows == 0,
        "nice-plug's event queue overflowed {overflows} times (an allocation on the audio \
         thread):\n{stderr}"
    );
    let get = |name: &str| -> anyhow::Result<&Vec<f64>> {
        results
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| anyhow::anyhow!("no result {name}"))
    };

    let ran = get("engine")?;
    anyhow::ensure!(
        ran.len() == 2 && ran[0] == f64::from(engine.rate) && ran[1] == f64::from(engine.block),
        "Ardour ran at {ran:?} (rate, block), not at {} Hz with {}-sample blocks",
        engine.rate,
        engine.block
    );
    let mono = get("mono-with")?;
    anyhow::ensure!(
        mono.len() == 2 && mono.iter().all(|&db| db > SILENT_DBFS),
        "a mono track through Continuo must sound on both sides: L {} R {} dBFS",
        mono[0],
        mono.get(1).copied().unwrap_or(f64::NEG_INFINITY)
    );
    anyhow::ensure!(
        (mono[0] - mono[1]).abs() <= MONO_BALANCE_DB,
        "a mono track through Continuo must stay centred: L {} R {} dBFS",
        mono[0],
        mono[1]
    );
    let without = get("stereo-without")?;
    for name in ["stereo-with", "stereo-reactivated", "stereo-reloaded"] {
        let with = get(name)?;
        anyhow::ensure!(
            with.len() == 2
                && with
                    .iter()
                    .zip(without)
                    .all(|(a, b)| (a - b).abs() <= STEREO_SAME_DB),
            "{name}: a stereo track must sound as without Continuo: {with:?} against {without:?} dBFS"
        );
    }
    let (set, reloaded) = (get("transpose-set")?[0], get("transpose-reloaded")?[0]);
    anyhow::ensure!(
        (set - reloaded).abs() < 1e-6,
        "Transpose was {set} when the session was saved, {reloaded} after it was opened again"
    );
    // Every factory preset (the repository's `presets/*.json`) in Ardour's presets, from the
    // program list (Wild's is a program: Ardour's `VST3-P` record, not a file's `VST3-S`), and
    // the user's file; Wild loaded sets its temperature, and Transpose (7 before) to its default,
    // as Wild leaves it out.
    let listed: Vec<&str> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PRESETS "))
        .map(|l| l.split('|').collect())
        .unwrap_or_default();
    let missing: Vec<&str> = factory
        .iter()
        .map(String::as_str)
        .chain([USER_PRESET])
        .filter(|n| !listed.contains(n))
        .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "Ardour finds the presets {listed:?}, not {missing:?}"
    );
    let uri = stdout
        .lines()
        .find_map(|l| l.strip_prefix("WILD "))
        .unwrap_or_default();
    anyhow::ensure!(
        uri.starts_with("VST3-P:"),
        "Wild is not one of Continuo's programs in Ardour (its record: {uri:?})"
    );
    anyhow::ensure!(
        get("preset-loaded")?[0] == 1.0,
        "Ardour could not load the preset Wild"
    );
    let wild =
        wild_temperature.ok_or_else(|| anyhow::anyhow!("presets/wild.json sets no temperature"))?;
    let (temperature, transpose) = (get("preset-temperature")?[0], get("preset-transpose")?[0]);
    anyhow::ensure!(
        (temperature - wild).abs() < 0.01 && transpose == 0.0,
        "the preset Wild loaded in Ardour left Temperature {temperature} (Wild: {wild}) and \
         Transpose {transpose} (Wild leaves it at its default, 0)"
    );
    // The melody's keys, heard and sent on with MIDI thru, recorded on a MIDI track.
    let melody = [60.0, 64.0, 67.0, 72.0];
    let recorded = results.get("recorded-keys").cloned().unwrap_or_default();
    anyhow::ensure!(
        recorded.len() >= melody.len()
            && recorded.iter().all(|k| melody.contains(k))
            && melody.iter().all(|k| recorded.contains(k)),
        "the MIDI track recorded {recorded:?} from a melody of {melody:?} played into Continuo"
    );
    // Continuo answers a phrase in Ardour (step 5): nothing while the call plays, then notes.
    let (during, answered) = (get("answer-during-call")?[0], get("answer-notes")?[0]);
    anyhow::ensure!(
        during == 0.0 && answered >= MIN_ANSWER_NOTES,
        "Continuo (call and response, MIDI thru off) sent {during} notes while the melody \
         played and {answered} in the 6 s after it (wanted none, then at least {MIN_ANSWER_NOTES})"
    );
    // A keyboard player's MIDI track (step 6): the four notes through while played, then the
    // answer.
    let (through, keys) = (get("keys-during-call")?[0], get("keys-notes")?[0]);
    anyhow::ensure!(
        through == 4.0 && keys >= 4.0 + MIN_ANSWER_NOTES,
        "on a MIDI track (Input source MIDI, MIDI thru on) Continuo sent {through} notes while \
         four were played and {keys} in all 6 s later (wanted the four, then at least \
         {MIN_ANSWER_NOTES} more)"
    );
    // [controller changes, pedal downs, note-ons, other events] after Continuo.
    for name in ["midi-before-reload", "midi-after-reload"] {
        let counts = get(name)?;
        anyhow::ensure!(
            counts.iter().all(|&n| n == 0.0),
            "{name}: Continuo (MIDI thru on, nothing played) sent MIDI: {} controller changes \
             ({} sustain pedal downs), {} notes, {} other events",
            counts[0],
            counts.get(1).copied().unwrap_or(0.0),
            counts.get(2).copied().unwrap_or(0.0),
            counts.get(3).copied().unwrap_or(0.0)
        );
    }
    println!(
        "Ardour at {} Hz, {}-sample blocks: a mono track sounds on both sides (L {:.1}, R {:.1} dBFS), a stereo track is \
         unchanged, a MIDI track recorded {} notes Continuo heard, Transpose {reloaded} survives \
         the reload, which sends no MIDI; a four-note phrase answered with {answered} notes \
         (played on a MIDI track: {} notes after the four); the {} factory presets found as \
         programs and Wild loaded from them, the user's preset file found; no crash",
        engine.rate,
        engine.block,
        mono[0],
        mono[1],
        recorded.len(),
        keys - 4.0,
        factory.len()
    );
    Ok(())
}
