//! `cargo xtask …`: bundling (nice-plug-xtask) plus the project's own chores.
//!
//! - `cargo xtask demo`  — check/install system packages, build the bundles, run the headless demo
//! - `cargo xtask test`  — the whole suite: unit tests, then host-level tests on a fresh bundle
//! - `cargo xtask deps`  — only the system package check (installs as root on Debian/Ubuntu)
//! - `cargo xtask validate [ARGS…]` — release bundle, then `clap-validator validate` on it
//! - `cargo xtask ardour [--bundle PATH.vst3 [--cli PATH]]` — the VST3 bundle (release unless given) on a mono
//!   and a stereo track in Ardour, headless (see `ardour.rs`)
//! - `cargo xtask train-styles [CORPUS]` — rebuild the bundled style models in `assets/model/styles`
//!   with `continuo train` from the public-domain corpus (default `../shared/corpus`)
//! - `cargo xtask extract-abc --music21 PATH [--out DIR]` — the ABC evaluation set of tunes not
//!   in `../shared` (Essen folk songs, miscFolk) from a music21 checkout or git mirror
//! - `cargo xtask bundle continuo [--release] [--features …]` — nice-plug-xtask's bundler

mod abc;
mod ardour;
mod chorales;
mod dataset;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// System packages the build needs: (pkg-config name, Debian package, what needs it).
const SYSTEM_LIBS: &[(&str, &str, &str)] = &[
    (
        "alsa",
        "libasound2-dev",
        "the standalone app's ALSA backend",
    ),
    (
        "jack",
        "libjack-jackd2-dev",
        "the standalone app's JACK backend",
    ),
    ("x11", "libx11-dev", "the editor window (X11)"),
    ("xcursor", "libxcursor-dev", "the editor window's cursors"),
    ("x11-xcb", "libx11-xcb-dev", "the editor window (XCB)"),
    ("gl", "libgl1-mesa-dev", "the editor's OpenGL renderer"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(&args[1..]),
        Some("deps") => deps(),
        Some("render-dataset") => dataset::render_dataset(&args[1..]),
        Some("extract-abc") => abc::extract_abc(&args[1..]),
        Some("render-chorales") => chorales::render_chorales(&args[1..]),
        Some("validate") => validate(&args[1..]),
        Some("ardour") => ardour_check(&args[1..]),
        Some("train-styles") => train_styles(args.get(1).map(PathBuf::from)),
        _ => nice_plug_xtask::main(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> anyhow::Result<PathBuf> {
    nice_plug_xtask::chdir_workspace_root()?;
    Ok(std::env::current_dir()?)
}

/// Cargo's target directory as cargo itself resolves it (`CARGO_TARGET_DIR`, `build.target-dir`
/// in a config file, or `target/` of the workspace): nice-plug-xtask writes `bundled/` there.
fn target_dir() -> anyhow::Result<PathBuf> {
    let meta = cargo_metadata::MetadataCommand::new()
        .manifest_path("./Cargo.toml")
        .no_deps()
        .exec()
        .map_err(|e| anyhow::anyhow!("`cargo metadata` failed: {e}"))?;
    Ok(meta.target_directory.into_std_path_buf())
}

fn step(title: &str) {
    println!("\n==> {title}");
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    println!("$ {}", format_cmd(cmd));
    let status = cmd
        .status()
        .map_err(|e| anyhow::anyhow!("could not start {}: {e}", format_cmd(cmd)))?;
    anyhow::ensure!(status.success(), "`{}` failed ({status})", format_cmd(cmd));
    Ok(())
}

fn format_cmd(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().to_string();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// A bundled style: (output file, name, folders under the corpus, file patterns, provenance).
/// The held-out split (seed 1, 10 % of the files, voices of a piece kept together) is the same in
/// every model, so Blend never trains on another style's held-out files.
type Style = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

/// The bundled styles (see [`Style`]).
const STYLES: &[Style] = &[
    (
        "chorale.json.gz",
        "Chorale",
        &["train"],
        &["bach-*"],
        "Soprano lines of J. S. Bach's four-part chorales (music21 corpus); public domain.",
    ),
    (
        "fiddle.json.gz",
        "Fiddle",
        &["train"],
        &["oneills1850-*", "ryansMammoth-*"],
        "Fiddle tunes of O'Neill's Music of Ireland (1850) and Ryan's Mammoth Collection (1883) \
         (music21 corpus); public domain.",
    ),
    (
        "airs.json.gz",
        "Airs",
        &["airs"],
        &[],
        "Aird's Selection of Scotch, English, Irish and Foreign Airs, 6 volumes, 1782-1803 \
         (music21 corpus); public domain.",
    ),
    (
        "renaissance.json.gz",
        "Renaissance",
        &["renaissance"],
        &[],
        "Single voices of Palestrina masses, Josquin, Monteverdi madrigals and trecento pieces \
         (music21 corpus); public domain.",
    ),
    (
        "blend.json.gz",
        "Blend",
        &["train", "airs", "renaissance"],
        &[],
        "All the bundled styles' melodies: Bach chorale sopranos, O'Neill 1850 and Ryan 1883 \
         fiddle tunes, Aird's Airs (1782-1803), Renaissance voices (music21 corpus); public domain.",
    ),
];

/// Pruning of the bundled styles (`continuo train --prune-from-order/--prune-min-count`).
const STYLE_PRUNE: (&str, &str) = ("3", "3");

/// Rebuilds `assets/model/styles/*.json.gz` with the project's own trainer.
fn train_styles(corpus: Option<PathBuf>) -> anyhow::Result<()> {
    let root = root()?;
    // Relative, so the command stored in each model file names no machine-specific path.
    let corpus = corpus.unwrap_or_else(|| PathBuf::from("../shared/corpus"));
    anyhow::ensure!(
        corpus.is_dir(),
        "no corpus at {} (give its folder: cargo xtask train-styles DIR)",
        corpus.display()
    );
    step("Building the command-line tool");
    run(cargo().args(["build", "--release", "-p", "continuo", "--bin", "continuo"]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let exe = target.join("release/continuo");
    let out_dir = root.join("assets/model/styles");
    std::fs::create_dir_all(&out_dir)?;
    for (file, name, folders, patterns, provenance) in STYLES {
        step(&format!("Training {name}"));
        let mut cmd = Command::new(&exe);
        cmd.arg("train");
        for f in *folders {
            cmd.arg("--midi").arg(corpus.join(f));
        }
        for p in *patterns {
            cmd.args(["--include", p]);
        }
        cmd.args(["--name", name, "--provenance", provenance])
            .args(["--seed", "1", "--holdout", "0.1"])
            .args(["--prune-from-order", STYLE_PRUNE.0])
            .args(["--prune-min-count", STYLE_PRUNE.1])
            .arg("--quiet")
            .arg("--out")
            .arg(out_dir.join(file));
        run(&mut cmd)?;
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists() && Path::new("/usr/bin/apt-get").exists()
}

/// Checks the system libraries with pkg-config; installs missing ones as root on Debian/Ubuntu.
fn deps() -> anyhow::Result<()> {
    step("Checking system packages");
    if !cfg!(target_os = "linux") {
        println!("not Linux: no system packages needed");
        return Ok(());
    }
    let have_pkg_config = Command::new("pkg-config").arg("--version").output().is_ok();
    let mut missing: Vec<&str> = Vec::new();
    if !have_pkg_config {
        missing.push("pkg-config");
    }
    for (lib, pkg, why) in SYSTEM_LIBS {
        let ok = have_pkg_config
            && Command::new("pkg-config")
                .args(["--exists", lib])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
        println!(
            "  {:<10} {:<22} {}",
            lib,
            if ok { "ok" } else { "MISSING" },
            why
        );
        if !ok {
            missing.push(pkg);
        }
    }
    if missing.is_empty() {
        println!("all system packages present");
        return Ok(());
    }
    let line = format!("apt-get install -y {}", missing.join(" "));
    if is_root() && is_debian() {
        println!(
            "installing the missing packages (running as root on Debian/Ubuntu): {}",
            missing.join(" ")
        );
        apt_install(&missing)
    } else {
        anyhow::bail!(
            "missing system packages: {}\ninstall them with:\n    sudo {line}\n(or run `cargo xtask demo` as root on Debian/Ubuntu to have it done for you)",
            missing.join(" ")
        )
    }
}

/// Builds the release bundles and the tools, then runs the headless demo.
fn demo() -> anyhow::Result<()> {
    root()?;
    let target = target_dir()?;
    let t0 = Instant::now();
    deps()?;
    step("Building the CLAP and VST3 bundles (release)");
    run(cargo().args(["xtask", "bundle", "continuo", "--release"]))?;
    step("Building the command-line tool, the stand-alone app and the demo host (release)");
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "continuo",
        "--bin",
        "continuo",
        "--bin",
        "continuo-standalone",
        "--features",
        "standalone",
    ]))?;
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "continuo-host-tests",
        "--bin",
        "continuo-demo",
    ]))?;
    let clap = target.join("bundled/Continuo.clap");
    step("Running the demo: the built Continuo.clap in a headless CLAP host");
    run(Command::new(target.join("release/continuo-demo"))
        .arg("--plugin")
        .arg(&clap)
        .arg("--out-dir")
        .arg(target.join("demo")))?;
    println!(
        "\nbundles:    {}\n            {}",
        clap.display(),
        target.join("bundled/Continuo.vst3").display()
    );
    println!(
        "standalone: {} (try: --backend dummy, or jack/alsa)",
        target.join("release/continuo-standalone").display()
    );
    println!(
        "cli:        {} --help",
        target.join("release/continuo").display()
    );
    println!(
        "presets:    {} presets export-vst3  (the factory presets in VST3 hosts' preset menus)",
        target.join("release/continuo").display()
    );
    println!("demo done in {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// The whole suite: unit tests, then host-level tests on a freshly built debug bundle with
/// nice-plug's `assert_process_allocs` (an allocation on the audio thread aborts the run).
fn test(extra: &[String]) -> anyhow::Result<()> {
    let root = root()?;
    let target = target_dir()?;
    let t0 = Instant::now();
    deps()?;
    step("Formatting check");
    let fmt = cargo().args(["fmt", "--all", "--", "--check"]).status();
    match fmt {
        Ok(s) if s.success() => println!("formatted"),
        Ok(_) => anyhow::bail!("`cargo fmt --all` would change files: run it and commit"),
        Err(_) => println!("rustfmt not available: skipped"),
    }
    // The plugin crate's tests and the test bundle are built with the same features and
    // targets, so the bundle links what the tests compiled: with `cargo build`'s narrower
    // feature set (no dev-dependencies) every crate from nice-plug up compiled again, about
    // three minutes of a clean CI run. The feature only swaps in nice-plug's counting
    // allocator, which panics inside its wrappers' `process` (the crate's own tests do not go
    // through them).
    // The renderers' own tests (dataset plans, the pedal, ABC keys, chorales): quick, and
    // nothing else runs them.
    step("Unit tests of the build tools (xtask)");
    run(cargo().args(["test", "-p", "xtask"]).args(extra))?;
    step("Unit and integration tests of the plugin crate (debug, assert_process_allocs)");
    run(cargo()
        .args(["test", "-p", "continuo", "--all-targets"])
        .args(["--features", "assert_process_allocs"])
        .args(extra))?;
    step("Building the debug bundle with assert_process_allocs");
    run(cargo().args([
        "xtask",
        "bundle",
        "continuo",
        "--features",
        "assert_process_allocs",
        "--all-targets",
    ]))?;
    // Keep the test bundle apart from the release bundle `cargo xtask demo` makes.
    let test_dir = target.join("test-bundle");
    std::fs::create_dir_all(&test_dir)?;
    let test_clap = test_dir.join("Continuo.clap");
    std::fs::copy(target.join("bundled/Continuo.clap"), &test_clap)?;
    step("Host-level tests (clack-host loads the bundle like a DAW; the VST3 bundle's parameters)");
    run(cargo()
        .args(["test", "-p", "continuo-host-tests"])
        .env("CONTINUO_CLAP", &test_clap)
        .env("CONTINUO_VST3", target.join("bundled/Continuo.vst3"))
        .args(extra))?;
    step("Ardour (VST3, headless): a mono and a stereo track, re-activation, a saved session");
    ensure_ardour();
    if ardour::find_tool().is_some() {
        // The debug bundle built above (assert_process_allocs): an allocation on the audio
        // thread aborts Ardour too.
        // The command line the plugin crate's tests built (same sources) writes the presets.
        ardour::check(
            &root,
            &target,
            &target.join("bundled/Continuo.vst3"),
            &target.join("debug").join(exe("continuo")),
        )?;
    } else {
        println!(
            "SKIPPED: Ardour's Lua session tool is not installed (Debian/Ubuntu: apt-get install \
             ardour)"
        );
    }
    println!("\nall tests passed in {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// Installs Ardour (for its Lua session tool) when it is missing and this runs as root on
/// Debian/Ubuntu; says so when that fails. Elsewhere the caller reports the missing tool.
fn ensure_ardour() {
    if ardour::find_tool().is_some() || !(is_root() && is_debian()) {
        return;
    }
    println!("installing Ardour (running as root on Debian/Ubuntu) for the Ardour check");
    if let Err(e) = apt_install(&["ardour"]) {
        println!("could not install the `ardour` package: {e:#}");
    }
}

/// `apt-get update`, then installs `packages` without recommends (root on Debian/Ubuntu). A
/// failed update (one unreachable mirror) is reported and the install still tried.
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    if let Err(e) = run(Command::new("apt-get")
        .args(["update", "-q"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
    {
        println!("{e:#}; installing from the package lists there are");
    }
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// `cargo xtask ardour [--bundle PATH.vst3]`: the release VST3 bundle (built first) or the one
/// given, checked in Ardour (see `ardour.rs`).
fn ardour_check(args: &[String]) -> anyhow::Result<()> {
    let root = root()?;
    let target = target_dir()?;
    let usage = "usage: cargo xtask ardour [--bundle PATH/Continuo.vst3 [--cli PATH/continuo]]";
    let (bundle, cli) = match args {
        [] => {
            step("Building the CLAP and VST3 bundles and the command line (release)");
            run(cargo().args(["xtask", "bundle", "continuo", "--release"]))?;
            run(cargo().args(["build", "--release", "-p", "continuo", "--bin", "continuo"]))?;
            (
                target.join("bundled/Continuo.vst3"),
                target.join("release").join(exe("continuo")),
            )
        }
        [flag, path, rest @ ..] if flag == "--bundle" => {
            let cli = match rest {
                [] => ["release", "debug"]
                    .iter()
                    .map(|p| target.join(p).join(exe("continuo")))
                    .find(|p| p.is_file())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no built `continuo` to write the presets: build it or give --cli"
                        )
                    })?,
                [flag, cli] if flag == "--cli" => PathBuf::from(cli),
                _ => anyhow::bail!(usage),
            };
            (PathBuf::from(path), cli)
        }
        _ => anyhow::bail!(usage),
    };
    step("Continuo in Ardour (VST3, headless)");
    ensure_ardour();
    ardour::check(&root, &target, &bundle, &cli)
}

/// `clap-validator` from `$CLAP_VALIDATOR`, else from `PATH`.
fn find_validator() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CLAP_VALIDATOR").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let exe = format!("clap-validator{}", std::env::consts::EXE_SUFFIX);
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(&exe))
        .find(|p| p.is_file())
}

/// Builds the release bundle and runs the CLAP project's validator on it (`extra` goes to
/// `clap-validator validate`, e.g. `--only-failed`).
fn validate(extra: &[String]) -> anyhow::Result<()> {
    root()?;
    let target = target_dir()?;
    let Some(validator) = find_validator() else {
        anyhow::bail!(
            "clap-validator not found: neither $CLAP_VALIDATOR nor `clap-validator` on PATH.\n\
             It is the CLAP project's test suite for plugins: https://github.com/free-audio/clap-validator\n\
             Download a build for your system from its releases page\n\
             (https://github.com/free-audio/clap-validator/releases), then put it on PATH or run\n\
             \n    CLAP_VALIDATOR=/path/to/clap-validator cargo xtask validate"
        );
    };
    if std::env::var_os("CLAP_VALIDATOR").is_some() && !validator.is_file() {
        anyhow::bail!(
            "CLAP_VALIDATOR={} is not a file; see https://github.com/free-audio/clap-validator/releases",
            validator.display()
        );
    }
    step("Building the CLAP and VST3 bundles (release)");
    run(cargo().args(["xtask", "bundle", "continuo", "--release"]))?;
    let clap = target.join("bundled/Continuo.clap");
    step("clap-validator on the release bundle");
    run(Command::new(&validator)
        .arg("validate")
        .args(extra)
        .arg(&clap))?;
    println!("\nclap-validator: {} passed its checks", clap.display());
    Ok(())
}

/// A program's file name on this system (`continuo.exe` on Windows).
fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}
