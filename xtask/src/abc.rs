//! `cargo xtask extract-abc --music21 PATH [--against DIR] [--out DIR]`: the out-of-corpus
//! evaluation set. Takes the ABC files of music21's `corpus/essenFolksong` (Essen folk songs)
//! and `corpus/miscFolk` (American fife tunes, Northumbrian minstrelsy) — none of which are in
//! `../shared` — groups them by collection, and writes them to DIR (default `target/dataset/abc`)
//! through `continuo filter-abc --intervals-only`, which drops every tune whose first 12 pitch
//! intervals (whatever the rhythm) start a melody of `../shared/corpus`. music21's `test*.abc` samples are left out (copies of tunes
//! of the other files).
//!
//! With `--left-out` it writes the other out-of-corpus set instead (default DIR
//! `target/dataset/abc-left-out`): the tunes of the collections `../shared` was exported from —
//! music21's `oneills1850`, `ryansMammoth` and `airdsAirs` — that are not in `../shared`. A tune
//! is in `../shared` when the name music21's export gives it (`oneills1850-0051-0100-008` is the
//! ninth tune of `oneills1850/0051-0100.abc`, `ryansMammoth-NAME-000` the first of
//! `ryansMammoth/NAME.abc`, `airds-book1-000` the first of `airdsAirs/book1.abc`) is a file of
//! `../shared/corpus`; about a tenth of each collection is not. Each such tune is written alone
//! (with its file's header) and then goes through the same interval filter, which also drops the
//! copies among them (a tune printed twice, or where the export's numbering skipped a tune).
//!
//! PATH is a music21 checkout (`git clone https://github.com/cuthbertLab/music21`) or a bare git
//! mirror of it (read with `git archive`). Nothing in CI depends on these sets.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The collections `../shared/corpus` was exported from: (music21 folder, the prefix of its
/// tunes' names in `../shared/corpus`, folder in the `--left-out` output).
const EXPORTED: &[(&str, &str, &str)] = &[
    ("oneills1850", "oneills1850-", "oneills"),
    ("ryansMammoth", "ryansMammoth-", "ryans"),
    ("airdsAirs", "airds-", "airs"),
];

/// (folder in the output, music21 file stems starting with one of these).
const GROUPS: &[(&str, &[&str])] = &[
    (
        "essen/german",
        &[
            "altdeu", "ballad", "boehme", "dva", "erk", "fink", "kinder", "zuccal",
        ],
    ),
    ("essen/lorraine-luxembourg", &["lot", "lux"]),
    ("essen/han", &["han"]),
    ("essen/irl", &["irl"]),
    ("essen/other", &["folkHaydn", "variant"]),
    ("misc", &["americanfife", "northumbrian"]),
];

pub fn extract_abc(args: &[String]) -> anyhow::Result<()> {
    let root = crate::root()?;
    let mut music21: Option<PathBuf> = None;
    let mut against = PathBuf::from("../shared/corpus");
    let mut out: Option<PathBuf> = None;
    let mut left_out = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
        };
        match a.as_str() {
            "--music21" => music21 = Some(value()?),
            "--against" => against = value()?,
            "--out" => out = Some(value()?),
            "--left-out" => left_out = true,
            _ => anyhow::bail!(
                "usage: cargo xtask extract-abc --music21 CHECKOUT_OR_GIT_DIR [--left-out] [--against ../shared/corpus] [--out DIR]"
            ),
        }
    }
    let music21 = music21
        .ok_or_else(|| anyhow::anyhow!("give --music21: a music21 checkout or bare git mirror"))?;
    anyhow::ensure!(
        against.is_dir(),
        "no corpus at {} to compare with",
        against.display()
    );
    let out = out.unwrap_or_else(|| {
        root.join(if left_out {
            "target/dataset/abc-left-out"
        } else {
            "target/dataset/abc"
        })
    });
    let raw = std::env::temp_dir().join(format!("continuo-abc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&raw);
    std::fs::create_dir_all(&raw)?;
    let folders: Vec<&str> = if left_out {
        EXPORTED.iter().map(|(folder, _, _)| *folder).collect()
    } else {
        vec!["essenFolksong", "miscFolk"]
    };
    let corpus = if folders
        .iter()
        .all(|f| music21.join("music21/corpus").join(f).is_dir())
    {
        music21.join("music21/corpus")
    } else {
        // A bare mirror: the folders of HEAD through git archive.
        let tar = raw.join("abc.tar");
        crate::run(
            Command::new("git")
                .arg("--git-dir")
                .arg(&music21)
                .args(["archive", "--format=tar", "-o"])
                .arg(&tar)
                .arg("HEAD")
                .args(folders.iter().map(|f| format!("music21/corpus/{f}"))),
        )?;
        crate::run(Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&raw))?;
        raw.join("music21/corpus")
    };
    let grouped = raw.join("grouped");
    let files = if left_out {
        split_left_out(&corpus, &against, &grouped)?
    } else {
        group_folk(&corpus, &grouped)?
    };
    anyhow::ensure!(files > 0, "no ABC tune found in {}", corpus.display());
    crate::step("Building the command-line tool");
    crate::run(crate::cargo().args(["build", "--release", "-p", "continuo", "--bin", "continuo"]))?;
    let exe = target_dir(&root).join("release/continuo");
    crate::step(&format!("Filtering {files} files into {}", out.display()));
    crate::run(
        Command::new(exe)
            .arg("filter-abc")
            .arg(&grouped)
            .arg("--against")
            .arg(&against)
            .arg("--out")
            .arg(&out)
            .arg("--intervals-only"),
    )?;
    let _ = std::fs::remove_dir_all(&raw);
    Ok(())
}

/// Copies the Essen and miscFolk files into `grouped/GROUP/` (see `GROUPS`); returns how many.
fn group_folk(corpus: &Path, grouped: &Path) -> anyhow::Result<usize> {
    let mut files = 0;
    for sub in ["essenFolksong", "miscFolk"] {
        for entry in std::fs::read_dir(corpus.join(sub))? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if !name.ends_with(".abc") {
                continue;
            }
            let Some((group, _)) = GROUPS
                .iter()
                .find(|(_, stems)| stems.iter().any(|s| name.starts_with(s)))
            else {
                continue; // test*.abc
            };
            let dir = grouped.join(group);
            std::fs::create_dir_all(&dir)?;
            std::fs::copy(&path, dir.join(&name))?;
            files += 1;
        }
    }
    Ok(files)
}

/// Writes every tune of the `EXPORTED` collections whose export name is not a file of `against`
/// (searched recursively) to `grouped/FOLDER/STEM-NNN.abc`, with its file's header (the lines
/// before the first `X:`); returns how many.
fn split_left_out(corpus: &Path, against: &Path, grouped: &Path) -> anyhow::Result<usize> {
    let mut shared = std::collections::HashSet::new();
    let mut dirs = vec![against.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Some(stem) = path.file_stem() {
                shared.insert(stem.to_string_lossy().to_string());
            }
        }
    }
    let mut files = 0;
    for (folder, prefix, group) in EXPORTED {
        let mut names: Vec<PathBuf> = std::fs::read_dir(corpus.join(folder))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "abc"))
            .collect();
        names.sort();
        let (mut tunes, mut left) = (0, 0);
        for path in names {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            // music21's ABC files are Latin-1 or UTF-8; the tune boundaries are ASCII either way.
            let bytes = std::fs::read(&path)?;
            let text: String = bytes.iter().map(|&b| b as char).collect();
            let (header, body) = match text.find("\nX:") {
                _ if text.starts_with("X:") => ("", text.as_str()),
                Some(at) => text.split_at(at + 1),
                None => continue,
            };
            let mut starts: Vec<usize> = body.match_indices("\nX:").map(|(at, _)| at + 1).collect();
            starts.insert(0, 0);
            starts.push(body.len());
            for (index, pair) in starts.windows(2).enumerate() {
                tunes += 1;
                if shared.contains(&format!("{prefix}{stem}-{index:03}")) {
                    continue;
                }
                let dir = grouped.join(group);
                std::fs::create_dir_all(&dir)?;
                let tune = &body[pair[0]..pair[1]];
                let latin1: Vec<u8> = header
                    .chars()
                    .chain(tune.chars())
                    .map(|c| c as u8)
                    .collect();
                std::fs::write(dir.join(format!("{stem}-{index:03}.abc")), latin1)?;
                left += 1;
            }
        }
        println!(
            "{folder}: {left} of {tunes} tunes are not in {}",
            against.display()
        );
        files += left;
    }
    Ok(files)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}
