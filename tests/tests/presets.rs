//! The host's own preset browser: a CLAP host finds Continuo's presets through its
//! preset-discovery factory (the factory presets inside the plugin, the user's preset files in
//! their folder) and loads one through the preset-load extension. Loading sets what Continuo's
//! own browser sets and leaves the instrument's tuning and the bypass alone; a broken user file
//! is reported, not listed, and loading it changes nothing.

use clack_extensions::preset_discovery::prelude::*;
use continuo_host_tests::*;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};

/// The indexer a host gives the provider: records what the provider declares.
#[derive(Default)]
struct Indexer {
    /// (name, extension)
    file_types: Vec<(String, Option<String>)>,
    /// (name, flags, path: `None` = inside the plugin)
    locations: Vec<(String, Flags, Option<PathBuf>)>,
}

impl IndexerImpl for Indexer {
    fn declare_filetype(&mut self, file_type: FileType) -> std::result::Result<(), HostError> {
        self.file_types.push((
            file_type.name.to_string_lossy().into_owned(),
            file_type
                .file_extension
                .map(|e| e.to_string_lossy().into_owned()),
        ));
        Ok(())
    }

    fn declare_location(&mut self, location: LocationInfo) -> std::result::Result<(), HostError> {
        let path = match location.location {
            Location::Plugin => None,
            Location::File { path } => Some(PathBuf::from(path.to_str().unwrap())),
        };
        self.locations.push((
            location.name.to_string_lossy().into_owned(),
            location.flags,
            path,
        ));
        Ok(())
    }

    fn declare_soundpack(&mut self, _soundpack: Soundpack) -> std::result::Result<(), HostError> {
        Ok(())
    }
}

#[derive(Debug, Default, Clone)]
struct Found {
    name: String,
    load_key: Option<CString>,
    plugin_ids: Vec<(String, String)>,
    flags: Option<Flags>,
    description: Option<String>,
}

/// The metadata receiver a host gives for one location.
#[derive(Default)]
struct Receiver {
    presets: Vec<Found>,
    errors: Vec<String>,
}

impl Receiver {
    fn current(&mut self) -> &mut Found {
        self.presets
            .last_mut()
            .expect("metadata before begin_preset")
    }
}

impl MetadataReceiverImpl for Receiver {
    fn on_error(&mut self, _error_code: i32, error_message: Option<&CStr>) {
        self.errors.push(
            error_message
                .map(|m| m.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }

    fn begin_preset(
        &mut self,
        name: Option<&CStr>,
        load_key: Option<&CStr>,
    ) -> std::result::Result<(), HostError> {
        self.presets.push(Found {
            name: name
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            load_key: load_key.map(CStr::to_owned),
            ..Found::default()
        });
        Ok(())
    }

    fn add_plugin_id(&mut self, plugin_id: UniversalPluginId) {
        let id = (
            plugin_id.abi.to_string_lossy().into_owned(),
            plugin_id.id.to_string_lossy().into_owned(),
        );
        self.current().plugin_ids.push(id);
    }

    fn set_soundpack_id(&mut self, _soundpack_id: &CStr) {}

    fn set_flags(&mut self, flags: Flags) {
        self.current().flags = Some(flags);
    }

    fn add_creator(&mut self, _creator: &CStr) {}

    fn set_description(&mut self, description: &CStr) {
        self.current().description = Some(description.to_string_lossy().into_owned());
    }

    fn set_timestamps(&mut self, _creation: Option<Timestamp>, _modification: Option<Timestamp>) {}

    fn add_feature(&mut self, _feature: &CStr) {}

    fn add_extra_info(&mut self, _key: &CStr, _value: &CStr) {}
}

fn host_info() -> HostInfo {
    HostInfo::new(
        "continuo-host-tests",
        "Continuo developers",
        "https://example.invalid/continuo",
        "1",
    )
    .unwrap()
}

/// The provider of the bundle's preset-discovery factory, started with a fresh indexer.
fn provider(entry: &'static PluginEntry) -> Provider<Indexer> {
    let factory = entry
        .get_factory::<PresetDiscoveryFactory>()
        .expect("no preset-discovery factory");
    assert_eq!(factory.provider_count(), 1, "one provider, Continuo's");
    let descriptor = factory.get_provider_descriptor(0).unwrap();
    let id = descriptor.id().expect("a provider id").to_owned();
    assert_eq!(id.to_str().unwrap(), format!("{PLUGIN_ID}.presets"));
    assert!(
        descriptor.name().is_some_and(|n| !n.to_bytes().is_empty()),
        "the provider has a name"
    );
    Provider::instantiate(Indexer::default(), entry, &id, &host_info())
        .unwrap_or_else(|e| panic!("provider: {e}"))
}

/// A user's preset folder: one preset of theirs, one broken file, one file of another kind.
fn user_folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("continuo-host-presets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("my-lead.json"),
        r#"{"version": 1, "name": "My Lead", "description": "mine",
            "params": {"mode": "suggest", "gap": 3.0, "temperature": 0.4}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("broken.json"), "{\"name\": \"Half").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a preset").unwrap();
    dir
}

/// Where the provider writes the factory presets as files, for this process.
fn factory_folder() -> PathBuf {
    std::env::temp_dir().join(format!("continuo-host-factory-{}", std::process::id()))
}

/// Asks for the metadata of every file of the declared type in `dir`, as a host walks a
/// folder location: (presets found, errors reported).
fn crawl(provider: &mut Provider<Indexer>, dir: &Path) -> (Vec<Found>, Vec<String>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for file in std::fs::read_dir(dir).unwrap().flatten() {
        let path = file.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let c = CString::new(path.to_str().unwrap()).unwrap();
        let mut receiver = Receiver::default();
        provider.get_metadata(Location::File { path: &c }, &mut receiver);
        found.extend(receiver.presets);
        errors.extend(receiver.errors);
    }
    (found, errors)
}

/// The factory presets the repository ships (`presets/*.json`), by file stem.
fn shipped_factory_keys() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../presets");
    let mut keys: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == "json")
                .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    keys.sort();
    keys
}

fn discovery(entry: &'static PluginEntry) {
    let user = user_folder();
    let mut provider = provider(entry);
    let indexer = provider.indexer();
    assert!(
        indexer
            .file_types
            .iter()
            .any(|(_, ext)| ext.as_deref() == Some("json")),
        "declares its preset files: {:?}",
        indexer.file_types
    );
    let factory_dir = factory_folder();
    assert_eq!(indexer.locations.len(), 2, "{:?}", indexer.locations);
    let (_, flags, path) = &indexer.locations[0];
    assert!(flags.contains(Flags::IS_FACTORY_CONTENT));
    assert_eq!(
        path.as_deref(),
        Some(factory_dir.as_path()),
        "the factory presets as files"
    );
    let (_, flags, path) = &indexer.locations[1];
    assert!(flags.contains(Flags::IS_USER_CONTENT));
    assert_eq!(path.as_deref(), Some(user.as_path()));

    // The factory folder, walked as a host walks it: every factory preset, one per file,
    // named, described, for Continuo.
    let (factory, errors) = crawl(&mut provider, &factory_dir);
    assert!(errors.is_empty(), "{errors:?}");
    let mut files: Vec<String> = std::fs::read_dir(&factory_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, shipped_factory_keys());
    assert_eq!(factory.len(), files.len());
    for p in &factory {
        assert!(!p.name.is_empty());
        assert_eq!(p.load_key, None);
        assert!(
            p.description.as_ref().is_some_and(|d| !d.is_empty()),
            "{p:?}"
        );
        assert_eq!(
            p.plugin_ids,
            vec![("clap".to_string(), PLUGIN_ID.to_string())]
        );
        assert_eq!(p.flags, Some(Flags::IS_FACTORY_CONTENT));
    }
    assert!(factory.iter().any(|p| p.name == "Wild"));

    // The same presets inside the plugin, under load keys (the location offered when the
    // factory folder cannot be written).
    let mut receiver = Receiver::default();
    provider.get_metadata(Location::Plugin, &mut receiver);
    assert!(receiver.errors.is_empty(), "{:?}", receiver.errors);
    let mut keys: Vec<String> = receiver
        .presets
        .iter()
        .map(|p| {
            p.load_key
                .as_ref()
                .expect("a load key")
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, shipped_factory_keys());
    let mut names: Vec<_> = receiver.presets.iter().map(|p| p.name.clone()).collect();
    let mut file_names: Vec<_> = factory.iter().map(|p| p.name.clone()).collect();
    names.sort();
    file_names.sort();
    assert_eq!(names, file_names);

    // The user's folder.
    let (found, errors) = crawl(&mut provider, &user);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].name, "My Lead");
    assert_eq!(found[0].load_key, None);
    assert_eq!(found[0].flags, Some(Flags::IS_USER_CONTENT));
    assert_eq!(errors.len(), 1, "the broken file is reported: {errors:?}");
    assert!(errors[0].contains("broken.json"), "{errors:?}");
}

/// Loads a preset file as a host's browser does, then answers the plugin's main-thread request.
fn load_file(p: &mut Plugin, path: &Path) -> Result<()> {
    let c = CString::new(path.to_str().unwrap()).unwrap();
    let r = p.load_preset(Location::File { path: &c }, None);
    p.poll_main_thread();
    r
}

fn loading(entry: &'static PluginEntry) {
    let user = user_folder();
    // A host indexes before it loads (that writes the factory files).
    drop(provider(entry));
    let mut p = Plugin::new(entry).unwrap();
    // The instrument's tuning and the bypass belong to the track, not to a preset.
    p.set_text("concert-pitch", "442").unwrap();
    p.set("bypass", 1.0).unwrap();
    p.set_text("mode", "Suggest only").unwrap();
    let tuning = p.get("concert-pitch").unwrap();

    load_file(&mut p, &factory_folder().join("wild.json")).unwrap();
    assert_eq!(p.get_text("mode").unwrap(), "Call & response");
    assert!(
        p.get_text("temperature").unwrap().starts_with("1.6"),
        "{:?}",
        p.get_text("temperature")
    );
    assert_eq!(p.get("concert-pitch").unwrap(), tuning, "the tuning stays");
    assert_eq!(p.get("bypass").unwrap(), 1.0, "the bypass stays");
    let blob = p.save_state().unwrap();
    let text = String::from_utf8_lossy(&blob);
    assert!(
        text.contains(r#""preset-name":"\"Wild\"""#),
        "the editor's browser shows the preset loaded: {text}"
    );

    // The user's file.
    load_file(&mut p, &user.join("my-lead.json")).unwrap();
    assert_eq!(p.get_text("mode").unwrap(), "Suggest only");
    assert!(
        p.get_text("gap").unwrap().starts_with('3'),
        "{:?}",
        p.get_text("gap")
    );
    // What the user's file leaves out takes its default, as in Continuo's browser.
    assert_ne!(p.get_text("temperature").unwrap(), "1.6");

    // A broken file, a factory key that does not exist, a missing file: refused, nothing moves.
    let before: Vec<_> = p.params().iter().map(|d| d.hash).collect();
    let values: Vec<_> = before.iter().map(|h| p.get_hash(*h)).collect();
    assert!(load_file(&mut p, &user.join("broken.json")).is_err());
    assert!(load_file(&mut p, &user.join("gone.json")).is_err());
    assert!(p
        .load_preset(Location::Plugin, Some(c"no-such-preset"))
        .is_err());
    assert!(p.load_preset(Location::Plugin, None).is_err());
    p.poll_main_thread();
    let after: Vec<_> = before.iter().map(|h| p.get_hash(*h)).collect();
    assert_eq!(values, after, "a refused preset changes nothing");

    // Active, between blocks: the next block runs with the preset's values.
    p.activate(48_000.0, 512).unwrap();
    p.load_preset(Location::Plugin, Some(c"wild")).unwrap();
    p.poll_main_thread();
    p.feed(Feed::silence(4 * 512, 512)).unwrap();
    assert_eq!(p.get_text("mode").unwrap(), "Call & response");
}

#[test]
fn host_preset_browser() {
    // Continuo's user presets folder, for the provider and the loads of this process.
    std::env::set_var("CONTINUO_PRESET_DIR", user_folder());
    let factory = factory_folder();
    let _ = std::fs::remove_dir_all(&factory);
    std::env::set_var("CONTINUO_FACTORY_PRESET_DIR", &factory);
    run_cases(&[("discovery", discovery), ("loading", loading)]);
}
