//! `continuo presets list | show NAME | validate FILE… | export-vst3 [DIR]`
use crate::params::ContinuoParams;
use crate::preset::{user_dir, vst3_user_dir, Library, Origin, Preset};
use anyhow::Context;

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
    /// on Linux; `/usr/share/vst3/presets/Continuo/Continuo` for every user). Hosts that read
    /// VST3 program lists (Ardour) list the factory presets without the files; `--user --no-factory`
    /// writes only yours.
    ExportVst3 {
        /// The folder to write them to.
        dir: Option<std::path::PathBuf>,
        /// Your own presets too (from the user presets folder).
        #[arg(long)]
        user: bool,
        /// Leave the factory presets out.
        #[arg(long)]
        no_factory: bool,
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
        Action::ExportVst3 {
            dir,
            user,
            no_factory,
        } => {
            let dir = match dir {
                Some(d) => d,
                None => vst3_user_dir()
                    .context("no home folder (HOME) to find the VST3 preset folder in; give DIR")?,
            };
            let (written, problems) = lib.export_vst3(&dir, !no_factory, user)?;
            for p in problems {
                eprintln!("unreadable, left out: {p}");
            }
            for file in written {
                println!("{}", file.display());
            }
            Ok(())
        }
    }
}
