//! `continuo presets list | show NAME | validate FILE… | export-vst3 [DIR]`
use crate::files::vstpreset;
use crate::params::ContinuoParams;
use crate::preset::{user_dir, Library, Origin, Preset};
use crate::Continuo;
use anyhow::Context;
use nice_plug::prelude::*;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// List the factory presets and the user's (folder: CONTINUO_PRESET_DIR or the per-user default).
    List,
    /// Print a preset as JSON.
    Show { name: String },
    /// Check preset files; exits non-zero when one is broken.
    Validate {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Write the factory presets as VST3 preset files (`.vstpreset`) where VST3 hosts list
    /// presets in their preset menu (default: the per-user folder, `~/.vst3/presets/Continuo/Continuo`
    /// on Linux; `/usr/share/vst3/presets/Continuo/Continuo` for every user).
    ExportVst3 {
        /// The folder to write them to.
        dir: Option<std::path::PathBuf>,
        /// Your own presets too (from the user presets folder).
        #[arg(long)]
        user: bool,
    },
}

pub fn run(args: Args) -> anyhow::Result<()> {
    run_action(args.action).context("presets")
}

fn run_action(action: Action) -> anyhow::Result<()> {
    let lib = Library::new(user_dir());
    match action {
        Action::List => {
            let (entries, problems) = lib.list();
            println!("user presets folder: {}", lib.dir.display());
            for e in entries {
                let origin = match e.origin {
                    Origin::Factory => "factory".to_string(),
                    Origin::User(p) => format!("user  ({})", p.display()),
                };
                println!("{:<26} {:<8} {}", e.name, origin, e.description);
            }
            for p in problems {
                eprintln!("unreadable: {p}");
            }
            Ok(())
        }
        Action::Show { name } => {
            let p = lib.load(&name)?;
            println!("{}", p.to_json());
            Ok(())
        }
        Action::Validate { files } => {
            let params = ContinuoParams::default();
            let mut bad = 0;
            for f in &files {
                let result = Preset::read(f).and_then(|p| p.resolve(&params).map(|r| (p, r)));
                match result {
                    Ok((p, r)) => {
                        println!(
                            "ok       {} (\"{}\", {} settings)",
                            f.display(),
                            p.name,
                            p.params.len()
                        );
                        for n in r.notices {
                            println!("         note: {n}");
                        }
                    }
                    Err(e) => {
                        bad += 1;
                        println!("BROKEN   {}: {e}", f.display());
                    }
                }
            }
            anyhow::ensure!(bad == 0, "{bad} of {} preset files are broken", files.len());
            Ok(())
        }
        Action::ExportVst3 { dir, user } => {
            let dir = match dir {
                Some(d) => d,
                None => vst3_user_dir()?,
            };
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let mut presets = Library::factory();
            if user {
                let (entries, problems) = lib.list();
                for e in entries {
                    if matches!(e.origin, Origin::User(_)) {
                        presets.push(lib.load(&e.name)?);
                    }
                }
                for p in problems {
                    eprintln!("unreadable, left out: {p}");
                }
            }
            for p in &presets {
                let state = serde_json::to_vec(&p.host_state()?)?;
                let file = dir.join(format!("{}.vstpreset", file_name(&p.name)));
                let bytes = vstpreset::encode(&<Continuo as Vst3Plugin>::VST3_CLASS_ID, &state);
                std::fs::write(&file, bytes)
                    .with_context(|| format!("cannot write {}", file.display()))?;
                println!("{}", file.display());
            }
            Ok(())
        }
    }
}

/// A preset's name as a file name on every system (hosts show the file's name; they skip
/// hidden files, so no leading dot).
fn file_name(name: &str) -> String {
    let file: String = name
        .trim()
        .trim_start_matches('.')
        .chars()
        .map(|c| {
            if "/\\:*?\"<>|".contains(c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if file.is_empty() {
        "preset".into()
    } else {
        file
    }
}

/// The per-user VST3 preset folder of this plugin, as the VST3 specification places it (hosts
/// look under the plugin's vendor and name).
fn vst3_user_dir() -> anyhow::Result<std::path::PathBuf> {
    let home = std::env::var_os(if cfg!(windows) { "USERPROFILE" } else { "HOME" })
        .map(std::path::PathBuf::from)
        .context("no home folder (HOME) to find the VST3 preset folder in; give DIR")?;
    let base = if cfg!(target_os = "macos") {
        home.join("Library/Audio/Presets")
    } else if cfg!(windows) {
        home.join("Documents").join("VST3 Presets")
    } else {
        home.join(".vst3").join("presets")
    };
    Ok(base.join(Continuo::VENDOR).join(Continuo::NAME))
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn preset_names_become_file_names_hosts_list() {
        assert_eq!(
            file_name("Sparse Call & Response"),
            "Sparse Call & Response"
        );
        assert_eq!(file_name("a/b: c?"), "a_b_ c_");
        assert_eq!(file_name(" .hidden"), "hidden");
        assert_eq!(file_name("..."), "preset");
    }
}
