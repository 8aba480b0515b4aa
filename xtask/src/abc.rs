//! `cargo xtask extract-abc --music21 PATH [--against DIR] [--out DIR]`: the out-of-corpus
//! evaluation set. Takes the ABC files of music21's `corpus/essenFolksong` (Essen folk songs)
//! and `corpus/miscFolk` (American fife tunes, Northumbrian minstrelsy) — none of which are in
//! `../shared` — groups them by collection, and writes them to DIR (default `target/dataset/abc`)
//! through `continuo filter-abc --intervals-only`, which drops every tune whose first 12 pitch
//! intervals (whatever the rhythm) start a melody of `../shared/corpus`. music21's `test*.abc` samples are left out (copies of tunes
//! of the other files).
//!
//! PATH is a music21 checkout (`git clone https://github.com/cuthbertLab/music21`) or a bare git
//! mirror of it (read with `git archive`). Nothing in CI depends on this set.

use std::path::{Path, PathBuf};
use std::process::Command;

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
    let mut out = root.join("target/dataset/abc");
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
            "--out" => out = value()?,
            _ => anyhow::bail!(
                "usage: cargo xtask extract-abc --music21 CHECKOUT_OR_GIT_DIR [--against ../shared/corpus] [--out DIR]"
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
    let raw = std::env::temp_dir().join(format!("continuo-abc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&raw);
    std::fs::create_dir_all(&raw)?;
    let corpus = if music21.join("music21/corpus/essenFolksong").is_dir() {
        music21.join("music21/corpus")
    } else {
        // A bare mirror: the two folders of HEAD through git archive.
        let tar = raw.join("abc.tar");
        crate::run(
            Command::new("git")
                .arg("--git-dir")
                .arg(&music21)
                .args(["archive", "--format=tar", "-o"])
                .arg(&tar)
                .args([
                    "HEAD",
                    "music21/corpus/essenFolksong",
                    "music21/corpus/miscFolk",
                ]),
        )?;
        crate::run(Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&raw))?;
        raw.join("music21/corpus")
    };
    let grouped = raw.join("grouped");
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
    anyhow::ensure!(files > 0, "no ABC file found in {}", corpus.display());
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

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}
