//! The editor driven as a user drives it: frames drawn by egui's test harness (`egui_kittest`,
//! no window, no GPU), widgets found by their labels through the accessibility tree, clicked
//! and typed into; the host behind the editor is a fake that sets the plugin's parameters as a
//! host does and counts what it was asked.

use super::ContinuoEditor;
use crate::bridge::{Shared, Snapshot};
use crate::params::ContinuoParams;
use crate::preset::Library;
use crate::worker::learn::StyleRequest;
use egui::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use nice_plug::context::gui::{GuiContext, GuiContextInner};
use nice_plug::context::PluginApi;
use nice_plug::params::internals::ParamPtr;
use nice_plug::prelude::*;
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A host as the editor sees it: its plugin API, and parameter changes applied at once.
struct FakeHost {
    api: PluginApi,
    /// Parameter values set through the host.
    sets: AtomicUsize,
}

impl GuiContextInner for FakeHost {
    fn plugin_api(&self) -> PluginApi {
        self.api
    }
    unsafe fn raw_begin_set_parameter(&self, _param: ParamPtr) {}
    unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
        self.sets.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the editor hands over pointers to the test's own parameters, alive throughout.
        unsafe { param._internal_set_normalized_value(normalized) };
    }
    unsafe fn raw_end_set_parameter(&self, _param: ParamPtr) {}
    fn get_state(&self) -> PluginState {
        unreachable!("the editor does not ask for the plugin's state")
    }
    fn set_state(&self, _state: PluginState) {
        unreachable!("the editor does not restore a plugin state")
    }
    fn request_restart(&self) {}
}

/// A scratch folder of its own for each test, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("continuo-editor-test-{tag}-{}", std::process::id()));
        // A run that crashed may have left it behind.
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Setup {
    params: Arc<ContinuoParams>,
    shared: Arc<Shared>,
    /// What the model thread shows the editor (its styles, the running job).
    snapshot: Arc<Mutex<Snapshot>>,
    host: Arc<FakeHost>,
    /// The model thread's end of the command queue: what the editor sent.
    commands: std::sync::mpsc::Receiver<crate::bridge::Command>,
}

impl Setup {
    /// The commands the editor sent to the model thread since the last call, but for the style
    /// row's request for the user's styles when it first shows.
    fn sent(&self) -> Vec<crate::bridge::Command> {
        self.commands
            .try_iter()
            .filter(|c| !matches!(c, crate::bridge::Command::Style(_)))
            .collect()
    }

    /// The requests about the user's styles the editor sent since the last call, but for the
    /// listing the style row asks for when it first shows.
    fn style_requests(&self) -> Vec<StyleRequest> {
        self.commands
            .try_iter()
            .filter_map(|c| match c {
                crate::bridge::Command::Style(StyleRequest::List) => None,
                crate::bridge::Command::Style(r) => Some(r),
                _ => None,
            })
            .collect()
    }
}

/// A user preset `name` of the default settings in `dir`'s `user` folder: that library and
/// the preset's file.
fn user_preset(dir: &Scratch, name: &str) -> (Library, PathBuf) {
    let library = Library::new(dir.join("user"));
    let preset = crate::preset::Preset::capture(name, "", &ContinuoParams::default());
    let file = library
        .save(&preset, false)
        .expect("a user preset is saved");
    (library, file)
}

/// The editor opened in a host of `api`, its first frames drawn; the user's presets are in
/// `dir`'s `user` folder, VST3 preset files go to its `vst3` folder.
fn editor(api: PluginApi, dir: &Scratch) -> (Harness<'static, ContinuoEditor>, Setup) {
    let params = Arc::new(ContinuoParams::default());
    let shared = Arc::new(Shared::default());
    let host = Arc::new(FakeHost {
        api,
        sets: AtomicUsize::new(0),
    });
    let snapshot = Arc::new(Mutex::new(Snapshot::default()));
    let (commands, receiver) = std::sync::mpsc::sync_channel(16);
    let mut app = ContinuoEditor::new(
        params.clone(),
        shared.clone(),
        snapshot.clone(),
        commands,
        Library::new(dir.join("user")),
        Some(dir.join("vst3")),
    );
    app.open(GuiContext::new(host.clone()));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1100.0, 720.0))
        .build_ui_state(|ui, app: &mut ContinuoEditor| app.draw(ui), app);
    frames(&mut harness);
    (
        harness,
        Setup {
            params,
            shared,
            snapshot,
            host,
            commands: receiver,
        },
    )
}

/// A few frames (the editor asks for a repaint every frame, so the harness cannot wait for it
/// to settle).
fn frames(harness: &mut Harness<'_, ContinuoEditor>) {
    harness.run_steps(3);
}

/// Clicks the widget named `label`, then lets the editor draw.
fn click(harness: &mut Harness<'_, ContinuoEditor>, label: &str) {
    harness.get_by_label(label).click();
    frames(harness);
}

/// Opens the preset menu.
fn open_preset_menu(harness: &mut Harness<'_, ContinuoEditor>) {
    harness
        .get_by_role_and_label(Role::ComboBox, "Preset")
        .click();
    frames(harness);
}

/// Types `text` into the text field named `label` ("Preset": the preset bar's name field).
fn type_into(harness: &mut Harness<'_, ContinuoEditor>, label: &str, text: &str) {
    harness
        .get_by_role_and_label(Role::TextInput, label)
        .click();
    frames(harness);
    harness
        .get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    frames(harness);
}

/// Clicks the preset bar's button `label` where the style row below has one of that name
/// too (the preset bar's comes first).
fn click_in_preset_bar(harness: &mut Harness<'_, ContinuoEditor>, label: &str) {
    let first = harness.get_all_by_label(label).next();
    first.unwrap_or_else(|| panic!("no button {label}")).click();
    frames(harness);
}

/// Clicks the style panel's button `label` where the preset bar or the answer's row has one of
/// that name too (the style panel's comes last).
fn click_in_style_panel(harness: &mut Harness<'_, ContinuoEditor>, label: &str) {
    let last = harness.get_all_by_label(label).last();
    last.unwrap_or_else(|| panic!("no button {label}")).click();
    frames(harness);
}

/// Chooses `entry` from the preset menu.
fn choose_preset(harness: &mut Harness<'_, ContinuoEditor>, entry: &str) {
    open_preset_menu(harness);
    click(harness, entry);
}

#[test]
fn a_factory_preset_chosen_in_the_editor_sets_its_parameters_through_the_host() {
    let dir = Scratch::new("choose");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    assert!((setup.params.model.temperature.value() - 1.6).abs() > 0.1);
    choose_preset(&mut harness, "Wild");
    assert!(
        (setup.params.model.temperature.value() - 1.6).abs() < 1e-4,
        "temperature {}",
        setup.params.model.temperature.value()
    );
    assert_eq!(*setup.params.preset_name.read(), "Wild");
    assert!(setup.host.sets.load(Ordering::Relaxed) >= 10);
    // The answer that was playing is released, and the preset bar names the preset.
    assert!(setup.shared.stop_request.load(Ordering::Relaxed));
    let combo = harness.get_by_role_and_label(Role::ComboBox, "Preset");
    assert_eq!(combo.value().as_deref(), Some("Wild"));
}

#[test]
fn save_as_writes_a_user_preset_the_menu_then_lists() {
    let dir = Scratch::new("save-as");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    GuiContext::new(setup.host.clone())
        .param_setter()
        .set_parameter(&setup.params.model.temperature, 1.25);
    type_into(&mut harness, "Preset", "Evening set");
    click(&mut harness, "Save as");
    let saved = Library::new(dir.join("user"))
        .load("Evening set")
        .expect("the preset was written to the user folder");
    assert_eq!(saved.name, "Evening set");
    assert_eq!(*setup.params.preset_name.read(), "Evening set");
    let temperature = saved.params["temperature"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (temperature - 1.25).abs() < 1e-3,
        "saved {:?}",
        saved.params
    );
    // The menu lists it as the user's.
    open_preset_menu(&mut harness);
    harness.get_by_label("Evening set  (user)");
}

#[test]
fn the_host_menu_export_is_offered_in_a_vst3_host_only_and_writes_the_users_presets() {
    let dir = Scratch::new("host-menu");
    let vst3 = dir.join("vst3");
    let (clap, _) = editor(PluginApi::Clap, &dir);
    assert!(
        clap.query_by_label("To host menu").is_none(),
        "a CLAP host's preset menu cannot list preset files"
    );
    let (mut harness, setup) = editor(PluginApi::Vst3, &dir);
    let mine = crate::preset::Preset::capture("Evening set", "", &setup.params);
    Library::new(dir.join("user")).save(&mine, false).unwrap();
    click(&mut harness, "To host menu");
    let files: Vec<_> = std::fs::read_dir(&vst3)
        .expect("the folder was made")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "vstpreset"))
        .collect();
    // Only the user's: the factory presets are the VST3 host's program list.
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].path().ends_with("Evening set.vstpreset"),
        "{files:?}"
    );
    assert!(
        harness
            .query_by_label_contains(&format!("{} presets written", files.len()))
            .is_some(),
        "the editor says what it wrote"
    );
}

#[test]
fn the_editor_says_when_the_analysis_cannot_listen_at_the_hosts_rate() {
    let dir = Scratch::new("rate");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    assert!(harness.query_by_label_contains("analysis off").is_none());
    setup.shared.sample_rate.store(1234.5678, Ordering::Relaxed);
    setup
        .shared
        .analysis_listening
        .store(false, Ordering::Relaxed);
    frames(&mut harness);
    harness.get_by_label_contains("analysis off at 1234.6 Hz");
}

#[test]
fn deleting_a_user_preset_asks_once_more_and_a_factory_preset_cannot_be_deleted() {
    let dir = Scratch::new("delete");
    let (library, file) = user_preset(&dir, "Keep me");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    // A factory preset: its Delete is greyed out.
    choose_preset(&mut harness, "Chorale");
    click_in_preset_bar(&mut harness, "Delete");
    assert!(harness.query_by_label("Really delete?").is_none());
    assert!(library.load("Chorale").is_ok());
    // The user's preset: the first press only asks.
    choose_preset(&mut harness, "Keep me  (user)");
    assert_eq!(*setup.params.preset_name.read(), "Keep me");
    click_in_preset_bar(&mut harness, "Delete");
    assert!(file.exists(), "one press deleted the file");
    click(&mut harness, "Really delete?");
    assert!(!file.exists(), "the second press did not delete it");
    assert_eq!(*setup.params.preset_name.read(), "");
    harness.get_by_label_contains("deleted \"Keep me\"");
}

#[test]
fn the_answer_buttons_reach_the_model_and_the_audio_thread() {
    use crate::bridge::Command;
    let dir = Scratch::new("buttons");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    for label in ["Regenerate", "<", ">", "Forget", "Export .mid"] {
        click(&mut harness, label);
    }
    let sent = setup.sent();
    assert!(
        matches!(
            sent.as_slice(),
            [
                Command::Regenerate,
                Command::Previous,
                Command::Next,
                Command::Forget,
                Command::ExportPhrase(path),
            ] if path.extension().is_some_and(|e| e == "mid")
                && path.parent() == Some(super::default_export_dir().as_path())
        ),
        "{} commands",
        sent.len()
    );
    assert!(!setup.shared.play_request.load(Ordering::Relaxed));
    click(&mut harness, "Play now");
    assert!(setup.shared.play_request.load(Ordering::Relaxed));
    click(&mut harness, "Stop");
    assert!(setup.shared.stop_request.load(Ordering::Relaxed));
    // Learn is a parameter: the host hears it.
    let learn = setup.params.model.learn.value();
    click(&mut harness, "Learn");
    assert_eq!(setup.params.model.learn.value(), !learn);
}

#[test]
fn a_model_file_typed_is_loaded_and_built_in_goes_back() {
    use crate::bridge::Command;
    let dir = Scratch::new("model");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    type_into(&mut harness, "Model file", "  /music/my-reels.json.gz ");
    click(&mut harness, "Load");
    click(&mut harness, "Built-in");
    let sent = setup.sent();
    assert!(
        matches!(
            sent.as_slice(),
            [Command::LoadModel(path), Command::BuiltInModel]
                if path.as_path() == std::path::Path::new("/music/my-reels.json.gz")
        ),
        "{} commands",
        sent.len()
    );
    assert_eq!(harness.state().model_text, "", "Built-in empties the field");
}

#[test]
fn a_user_preset_is_saved_over_and_renamed_with_its_settings() {
    let dir = Scratch::new("rename");
    let (library, _) = user_preset(&dir, "Keep me");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    choose_preset(&mut harness, "Keep me  (user)");
    // Save writes the current settings over it.
    GuiContext::new(setup.host.clone())
        .param_setter()
        .set_parameter(&setup.params.model.temperature, 0.4);
    click(&mut harness, "Save");
    let temperature = |name: &str| {
        library.load(name).expect("the preset loads").params["temperature"]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    assert!((temperature("Keep me") - 0.4).abs() < 1e-3);
    type_into(&mut harness, "Preset", "Kept");
    click_in_preset_bar(&mut harness, "Rename");
    assert!(library.load("Keep me").is_err(), "the old name is gone");
    assert!(
        (temperature("Kept") - 0.4).abs() < 1e-3,
        "the settings moved with it"
    );
    assert_eq!(*setup.params.preset_name.read(), "Kept");
}

#[test]
fn a_style_of_yours_is_chosen_renamed_and_deleted_from_the_style_row() {
    use crate::params::StyleParam;
    let dir = Scratch::new("my-style");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    setup.snapshot.lock().user_styles = vec!["Jigs".into(), "Reels".into()];
    frames(&mut harness);
    // Nothing of yours chosen: nothing to rename or delete.
    type_into(&mut harness, "My style", "Hornpipes");
    click_in_style_panel(&mut harness, "Rename");
    click_in_style_panel(&mut harness, "Delete");
    assert_eq!(setup.style_requests(), vec![]);
    // Chosen from the menu: the Style parameter goes to the host as "yours".
    let sets = setup.host.sets.load(Ordering::Relaxed);
    harness
        .get_by_role_and_label(Role::ComboBox, "My style")
        .click();
    frames(&mut harness);
    click(&mut harness, "Reels");
    assert_eq!(*setup.params.user_style.read(), "Reels");
    assert_eq!(setup.params.model.style.value(), StyleParam::User);
    assert!(setup.host.sets.load(Ordering::Relaxed) > sets);
    // Renamed to the name typed (which the field then forgets).
    click_in_style_panel(&mut harness, "Rename");
    assert_eq!(
        setup.style_requests(),
        vec![StyleRequest::Rename {
            from: "Reels".into(),
            to: "Hornpipes".into()
        }]
    );
    let field = harness.get_by_role_and_label(Role::TextInput, "My style");
    assert_eq!(field.value().as_deref(), Some(""));
    // Deleted on the second press only; Reload lists the folder again.
    assert!(harness.query_by_label("Really delete?").is_none());
    click_in_style_panel(&mut harness, "Delete");
    assert_eq!(setup.style_requests(), vec![]);
    click(&mut harness, "Really delete?");
    click_in_style_panel(&mut harness, "Reload");
    let sent: Vec<_> = setup.commands.try_iter().collect();
    assert!(
        matches!(
            sent.as_slice(),
            [
                crate::bridge::Command::Style(StyleRequest::Delete(name)),
                crate::bridge::Command::Style(StyleRequest::List),
            ] if name == "Reels"
        ),
        "{} commands",
        sent.len()
    );
}

#[test]
fn a_style_is_learnt_from_a_folder_or_kept_from_the_session_and_a_running_job_cancelled() {
    use crate::worker::learn::{Stage, StyleJob};
    let dir = Scratch::new("learn-style");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    click(&mut harness, "Your own styles: learn, keep, rename, delete");
    // No name yet: neither Learn nor Keep asks anything.
    type_into(&mut harness, "Learn a style…", " /music/reels ");
    click_in_style_panel(&mut harness, "Learn");
    click(&mut harness, "as a new style");
    assert_eq!(setup.style_requests(), vec![]);
    type_into(&mut harness, "Name", "My reels");
    click_in_style_panel(&mut harness, "Learn");
    click(&mut harness, "as a new style");
    assert_eq!(
        setup.style_requests(),
        vec![
            StyleRequest::LearnFolder {
                folder: "/music/reels".into(),
                name: "My reels".into()
            },
            StyleRequest::KeepSession {
                name: "My reels".into(),
                merge: false
            }
        ]
    );
    // Adding the session to a style of yours: only once one is chosen.
    click(&mut harness, "add to My style");
    assert_eq!(setup.style_requests(), vec![]);
    setup.snapshot.lock().user_styles = vec!["Reels".into()];
    *setup.params.user_style.write() = "Reels".into();
    frames(&mut harness);
    click(&mut harness, "add to \"Reels\"");
    assert_eq!(
        setup.style_requests(),
        vec![StyleRequest::KeepSession {
            name: "Reels".into(),
            merge: true
        }]
    );
    // While a job runs: its progress, no second job, and Cancel.
    setup.snapshot.lock().style_job = Some(StyleJob {
        what: "Learning “My reels” from /music/reels".into(),
        stage: Stage::Reading,
        done: 3,
        total: 10,
        cancelling: false,
    });
    frames(&mut harness);
    harness.get_by_label_contains("reading files 3/10");
    click_in_style_panel(&mut harness, "Learn");
    click(&mut harness, "as a new style");
    click(&mut harness, "Cancel");
    assert_eq!(setup.style_requests(), vec![StyleRequest::Cancel]);
}

#[test]
fn the_header_names_the_key_the_chord_held_and_the_tempo_heard_in_free_time() {
    use crate::harmony::chord::HeardChord;
    use crate::harmony::hearing::ChordSpan;
    use crate::music::{KeySignature, Mode};
    let dir = Scratch::new("header");
    let (mut harness, setup) = editor(PluginApi::Clap, &dir);
    harness.get_by_label("Key: listening…");
    let g_minor = KeySignature {
        tonic: 7,
        mode: Mode::Minor,
    };
    let chord = HeardChord::parse_harte("G:min/b3").expect("a Harte label");
    {
        let mut s = setup.snapshot.lock();
        s.key = Some((g_minor, 0.8));
        s.chords = vec![ChordSpan {
            start_s: 1.0,
            end_s: None,
            chord,
        }];
    }
    setup.shared.free_time_in_use.store(true, Ordering::Relaxed);
    setup.shared.tempo.store(96.0, Ordering::Relaxed);
    frames(&mut harness);
    harness.get_by_label(&format!("Key: {} (80%)", g_minor.name()));
    // The chord held, in a musician's name (its inversion's bass after the slash).
    let name = chord.name();
    assert!(name.starts_with('G') && name.contains('/'), "{name}");
    harness.get_by_label(&name);
    harness.get_by_label("free time: 96 bpm (estimated)");
    // Released: no chord is named any more.
    setup.snapshot.lock().chords[0].end_s = Some(2.0);
    frames(&mut harness);
    assert!(harness.query_by_label(&name).is_none());
}

/// The roll drawn alone for one frame: the filled rectangles (with their colours) and the line
/// segments it painted.
fn paint_roll(
    view: Snapshot,
    shared: Arc<Shared>,
) -> (
    Vec<(egui::Rect, egui::Color32)>,
    Vec<([egui::Pos2; 2], egui::Color32)>,
) {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(800.0, 300.0))
        .build_ui_state(
            |ui, (view, shared): &mut (Snapshot, Arc<Shared>)| super::roll::draw(ui, view, shared),
            (view, shared),
        );
    harness.run_steps(2);
    let mut rects = Vec::new();
    let mut lines = Vec::new();
    for clipped in &harness.output().shapes {
        match &clipped.shape {
            egui::Shape::Rect(r) => rects.push((r.rect, r.fill)),
            egui::Shape::LineSegment { points, stroke } => lines.push((*points, stroke.color)),
            _ => {}
        }
    }
    (rects, lines)
}

fn roll_shared(seconds: f64, tempo: f32) -> Arc<Shared> {
    let shared = Arc::new(Shared::default());
    shared.sample_rate.store(48_000.0, Ordering::Relaxed);
    shared
        .stream_pos
        .store((seconds * 48_000.0) as u64, Ordering::Relaxed);
    shared.tempo.store(tempo, Ordering::Relaxed);
    shared
}

fn roll_note(pitch: u8, start_s: f64, end_s: f64) -> crate::bridge::RollNote {
    crate::bridge::RollNote {
        pitch,
        velocity: 1.0,
        start_s,
        end_s: Some(end_s),
    }
}

#[test]
fn the_roll_draws_the_players_notes_and_the_coming_phrase_where_they_belong() {
    use super::colours;
    let view = Snapshot {
        played: vec![roll_note(60, 7.0, 7.5), roll_note(67, 8.0, 9.0)],
        candidates: vec![crate::bridge::Candidate {
            phrase: crate::model::Phrase {
                notes: vec![crate::model::Note {
                    pitch: 64,
                    onset: 0.0,
                    duration: 1.0,
                    velocity: 90,
                }],
                log2_prob: -3.0,
            },
            bits_per_note: 3.0,
            share: 1.0,
        }],
        ..Snapshot::default()
    };
    let (rects, lines) = paint_roll(view, roll_shared(10.0, 120.0));
    let playhead = lines
        .iter()
        .find(|(_, c)| *c == colours::PLAYHEAD)
        .expect("a playhead")
        .0[0]
        .x;
    let played: Vec<_> = rects
        .iter()
        .filter(|(_, c)| *c == colours::PLAYED)
        .collect();
    assert_eq!(played.len(), 2, "the two notes played: {rects:?}");
    let (c4, g4) = (played[0].0, played[1].0);
    // Time runs left to right, up to the playhead; pitch runs up.
    assert!(
        c4.right() < g4.left() && g4.right() < playhead,
        "{c4:?} {g4:?} {playhead}"
    );
    assert!(g4.bottom() <= c4.top(), "G4 above C4: {g4:?} {c4:?}");
    // A second is a second: G4 lasts twice as long as C4.
    assert!(
        (g4.width() / c4.width() - 2.0).abs() < 0.05,
        "{c4:?} {g4:?}"
    );
    // The coming phrase: after the playhead (a quarter second), one beat (0.5 s at 120 bpm)
    // long, between the two notes' rows.
    let coming: Vec<_> = rects
        .iter()
        .filter(|(_, c)| *c == colours::PROPOSED)
        .collect();
    assert_eq!(coming.len(), 1, "{rects:?}");
    let e4 = coming[0].0;
    let per_s = c4.width() / 0.5;
    assert!(
        (e4.left() - playhead - 0.25 * per_s).abs() < 2.0,
        "{e4:?} {playhead}"
    );
    assert!((e4.width() - 0.5 * per_s).abs() < 2.0, "{e4:?}");
    assert!(e4.top() >= g4.bottom() && e4.bottom() <= c4.top(), "{e4:?}");
}

#[test]
fn the_roll_survives_what_a_host_or_the_model_can_hand_it() {
    let extreme = Snapshot {
        played: vec![
            roll_note(0, 9.0, 9.5),
            roll_note(127, 9.2, 9.4),
            // Long gone and still sounding.
            roll_note(60, -100.0, -99.0),
            crate::bridge::RollNote {
                pitch: 64,
                velocity: f32::NAN,
                start_s: 9.9,
                end_s: None,
            },
        ],
        ..Snapshot::default()
    };
    for (seconds, tempo, rate) in [
        (10.0, 120.0, 48_000.0),
        (0.0, f32::NAN, 48_000.0),
        (10.0, 0.0, 0.0),
        (1e9, 1e9, 1.0),
    ] {
        for view in [Snapshot::default(), extreme.clone()] {
            let shared = roll_shared(seconds, tempo);
            shared.sample_rate.store(rate, Ordering::Relaxed);
            let (rects, lines) = paint_roll(view, shared);
            assert!(
                rects
                    .iter()
                    .all(|(r, _)| r.min.is_finite() && r.max.is_finite())
                    && lines.iter().all(|(p, _)| p.iter().all(|p| p.is_finite())),
                "at {seconds} s, {tempo} bpm, {rate} Hz: {rects:?} {lines:?}"
            );
        }
    }
}

#[test]
fn the_status_line_says_when_a_hosts_restore_of_controllers_was_ignored() {
    let dir = Scratch::new("controllers");
    let (mut harness, setup) = editor(PluginApi::Vst3, &dir);
    assert!(harness
        .query_by_label_contains("controllers ignored")
        .is_none());
    setup
        .shared
        .counters
        .controllers_ignored
        .store(2080, Ordering::Relaxed);
    frames(&mut harness);
    harness.get_by_label("controllers ignored: 2080");
}
