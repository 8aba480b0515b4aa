//! The egui editor: what Continuo hears and proposes, and every control, grouped.
//!
//! It reads the audio thread's atomics and the model thread's snapshot (a mutex the audio thread
//! never takes), and talks back through parameters (host-visible, automatable), the bounded
//! command channel (model thread) and two request flags (audio thread). It never blocks the audio
//! thread.

mod chords;
mod roll;
mod styles;
#[cfg(test)]
mod ui_tests;

use crate::bridge::{Command, Shared, Snapshot};
use crate::music::note_name;
use crate::params::ContinuoParams;
use egui::{Color32, RichText};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::SizeConstraints;
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
};
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

/// Editor colours (shared with the roll).
pub(crate) mod colours {
    use egui::Color32;
    pub const PLAYED: Color32 = Color32::from_rgb(90, 170, 255);
    pub const PROPOSED: Color32 = Color32::from_rgb(255, 170, 60);
    pub const PLAYHEAD: Color32 = Color32::from_rgb(240, 240, 240);
    pub const BAR: Color32 = Color32::from_gray(90);
    pub const BEAT: Color32 = Color32::from_gray(55);
    pub const IN_KEY: Color32 = Color32::from_rgb(60, 80, 60);
}

/// The editor's own state (lives while the plugin lives; the window may open and close).
pub struct ContinuoEditor {
    params: Arc<ContinuoParams>,
    shared: Arc<Shared>,
    snapshot: Arc<Mutex<Snapshot>>,
    commands: SyncSender<Command>,
    gui: Option<GuiContext>,
    /// A copy of the snapshot taken once per frame, so the lock is held only for the copy.
    view: Snapshot,
    /// Onset counter at the last frame, and when the last onset flashed.
    last_onsets: u64,
    flash: f32,
    /// Folder for exported phrases.
    export_dir: std::path::PathBuf,
    /// A message from the editor itself (e.g. a full command queue, a preset error).
    local_message: Option<String>,
    /// The preset library (factory + user folder) and its last listing.
    presets: crate::preset::Library,
    /// The folder VST3 hosts list presets from (*To host menu*; `None` when the platform has
    /// none). Looked up once, when the editor is made.
    vst3_presets_dir: Option<std::path::PathBuf>,
    preset_list: Vec<crate::preset::Entry>,
    /// Text typed for "Save as" / "Rename".
    preset_text: String,
    /// Path typed for "Load model".
    model_text: String,
    /// The user pressed Delete once; the second press deletes.
    confirm_delete: bool,
    /// The style panel's typed names and folder (editor/styles.rs).
    style_panel: styles::StylePanel,
    /// The model thread's message last seen: a newer one replaces the editor's own ...
    seen_message: Option<String>,
    /// ... once that was shown for [`LOCAL_MESSAGE_SECONDS`] (the editor's message, since when).
    local_shown: Option<(String, std::time::Instant)>,
}

/// The editor's own message (a preset's notice, say) stays at least this long before a newer
/// message of the model thread replaces it.
const LOCAL_MESSAGE_SECONDS: f32 = 8.0;

/// What the editor says when the analyser cannot listen at the host's sample rate (`None` when
/// it listens). The audio still passes through and MIDI input is still heard.
pub fn analysis_notice(listening: bool, sample_rate: f32) -> Option<String> {
    use crate::analysis::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};
    if listening {
        return None;
    }
    let needs = if sample_rate > MAX_SAMPLE_RATE {
        format!("≤ {MAX_SAMPLE_RATE:.0} Hz")
    } else {
        format!("≥ {MIN_SAMPLE_RATE:.0} Hz")
    };
    Some(format!(
        "analysis off at {sample_rate:.1} Hz: Continuo needs {needs} to listen; audio passes \
         through (MIDI input still works)"
    ))
}

/// Where exported phrases go unless the user picks another folder.
pub fn default_export_dir() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"));
    match home {
        Some(h) => std::path::PathBuf::from(h).join("Continuo").join("Phrases"),
        None => std::env::temp_dir().join("Continuo").join("Phrases"),
    }
}

pub fn create(
    params: Arc<ContinuoParams>,
    shared: Arc<Shared>,
    snapshot: Arc<Mutex<Snapshot>>,
    commands: SyncSender<Command>,
) -> Option<EguiEditor<ContinuoEditor>> {
    let state = params.editor_state.clone();
    let settings = EguiNiceSettings::new()
        .with_tile("Continuo")
        .with_resize_hint(ResizeHint {
            can_resize: true,
            can_resize_horizontally: true,
            can_resize_vertically: true,
            size_constraints: SizeConstraints::min_logical_size(
                nice_plug::editor::dpi::LogicalSize::new(720.0, 480.0),
            ),
            ..ResizeHint::NON_RESIZABLE
        });
    let app = ContinuoEditor::new(
        params,
        shared,
        snapshot,
        commands,
        crate::preset::Library::new(crate::preset::user_dir()),
        crate::preset::vst3_user_dir(),
    );
    create_egui_editor(state, RepaintNotifier::new(), settings, app)
}

impl ContinuoEditor {
    /// The editor's state over `presets` (the user's preset folder in use) and
    /// `vst3_presets_dir` (where *To host menu* writes); the window is opened later.
    fn new(
        params: Arc<ContinuoParams>,
        shared: Arc<Shared>,
        snapshot: Arc<Mutex<Snapshot>>,
        commands: SyncSender<Command>,
        presets: crate::preset::Library,
        vst3_presets_dir: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            params,
            shared,
            snapshot,
            commands,
            gui: None,
            view: Snapshot::default(),
            last_onsets: 0,
            flash: 0.0,
            export_dir: default_export_dir(),
            local_message: None,
            presets,
            vst3_presets_dir,
            preset_list: Vec::new(),
            preset_text: String::new(),
            model_text: String::new(),
            confirm_delete: false,
            style_panel: Default::default(),
            seen_message: None,
            local_shown: None,
        }
    }

    fn send(&mut self, c: Command) {
        if self.commands.try_send(c).is_err() {
            self.local_message = Some("the model thread is busy; try again".into());
        }
    }
}

impl NiceEguiApp for ContinuoEditor {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        egui_ctx.set_visuals(egui::Visuals::dark());
        self.open(nice_gui_ctx);
        Ok(())
    }

    fn editor_closed(&mut self) {}

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        self.draw(ui);
    }
}

impl ContinuoEditor {
    /// The window opened in a host that talks to the plugin through `gui`.
    fn open(&mut self, gui: GuiContext) {
        self.gui = Some(gui);
        self.refresh_presets();
        self.model_text = self.params.model_path.read().clone();
    }

    /// One frame of the whole editor.
    fn draw(&mut self, ui: &mut egui::Ui) {
        // Keep animating (meters, roll) while open.
        ui.ctx().request_repaint();
        {
            let s = self.snapshot.lock();
            self.view.clone_from(&s);
        }
        if self.local_message.as_ref() != self.local_shown.as_ref().map(|(m, _)| m) {
            self.local_shown = self
                .local_message
                .clone()
                .map(|m| (m, std::time::Instant::now()));
        }
        if self.view.message != self.seen_message
            && self
                .local_shown
                .as_ref()
                .is_none_or(|(_, since)| since.elapsed().as_secs_f32() > LOCAL_MESSAGE_SECONDS)
        {
            // The newest message wins (a style learnt after a preset was loaded, say).
            self.seen_message.clone_from(&self.view.message);
            self.local_message = None;
        }
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        let onsets = self.shared.onsets.load(Ordering::Relaxed);
        if onsets != self.last_onsets {
            self.last_onsets = onsets;
            self.flash = 1.0;
        }
        self.flash = (self.flash - 0.06).max(0.0);

        egui::Panel::top("header").show(ui, |ui| {
            self.header(ui);
            if let Some(notice) = analysis_notice(
                self.shared.analysis_listening.load(Ordering::Relaxed),
                self.shared.sample_rate.load(Ordering::Relaxed),
            ) {
                ui.colored_label(Color32::YELLOW, notice);
            }
            self.preset_bar(ui, &gui);
        });
        egui::Panel::bottom("status").show(ui, |ui| self.status(ui));
        egui::Panel::right("controls")
            .resizable(false)
            .exact_size(400.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| self.controls(ui, &setter));
            });
        egui::CentralPanel::default().show(ui, |ui| {
            self.actions(ui, &setter);
            self.model_row(ui);
            self.style_row(ui, &setter);
            ui.separator();
            roll::draw(ui, &self.view, &self.shared);
        });
    }
}

impl ContinuoEditor {
    fn refresh_presets(&mut self) {
        let (list, problems) = self.presets.list();
        self.preset_list = list;
        if let Some(p) = problems.first() {
            self.local_message = Some(format!("unreadable preset file {p}"));
        }
    }

    /// Validates a preset completely, then sets every parameter through the host.
    fn apply_preset(&mut self, gui: &GuiContext, preset: &crate::preset::Preset) {
        match preset.resolve(&self.params) {
            Ok(r) => {
                for (ptr, value) in &r.changes {
                    // SAFETY: the pointers come from our own parameters, alive as long as the editor.
                    unsafe {
                        gui.raw_begin_set_parameter(*ptr);
                        gui.raw_set_parameter_normalized(*ptr, *value);
                        gui.raw_end_set_parameter(*ptr);
                    }
                }
                r.set_fields(&self.params);
                *self.params.preset_name.write() = preset.name.clone();
                // A preset change releases whatever the answer was playing.
                self.shared.stop_request.store(true, Ordering::Relaxed);
                self.local_message = Some(match r.notices.first() {
                    Some(n) => format!("preset \"{}\" loaded ({n})", preset.name),
                    None => format!("preset \"{}\" loaded", preset.name),
                });
            }
            Err(e) => {
                self.local_message = Some(format!("preset \"{}\" not loaded: {e}", preset.name))
            }
        }
    }

    fn preset_bar(&mut self, ui: &mut egui::Ui, gui: &GuiContext) {
        use crate::preset::{Origin, Preset};
        let current = self.params.preset_name.read().clone();
        let is_user = self
            .preset_list
            .iter()
            .any(|e| e.name == current && matches!(e.origin, Origin::User(_)));
        ui.horizontal(|ui| {
            // The combo box and the name field are announced as the preset's (screen readers,
            // and the editor's tests, find them by that name).
            let label = ui.label("Preset").id;
            let shown = if current.is_empty() {
                "(none)".to_string()
            } else {
                current.clone()
            };
            let mut chosen = None;
            egui::ComboBox::from_id_salt("preset")
                .selected_text(shown)
                .width(220.0)
                .show_ui(ui, |ui| {
                    for e in &self.preset_list {
                        let tag = if matches!(e.origin, Origin::Factory) {
                            ""
                        } else {
                            "  (user)"
                        };
                        if ui
                            .selectable_label(e.name == current, format!("{}{tag}", e.name))
                            .on_hover_text(&e.description)
                            .clicked()
                        {
                            chosen = Some(e.name.clone());
                        }
                    }
                })
                .response
                .labelled_by(label);
            if let Some(name) = chosen {
                match self.presets.load(&name) {
                    Ok(p) => self.apply_preset(gui, &p),
                    Err(e) => self.local_message = Some(format!("preset not loaded: {e}")),
                }
            }
            if ui
                .add_enabled(is_user, egui::Button::new("Save"))
                .on_hover_text("Overwrite the current user preset with the current settings")
                .clicked()
            {
                let p = Preset::capture(&current, "", &self.params);
                self.local_message = Some(match self.presets.save(&p, true) {
                    Ok(path) => format!("saved to {}", path.display()),
                    Err(e) => format!("not saved: {e}"),
                });
                self.refresh_presets();
            }
            ui.add(
                egui::TextEdit::singleline(&mut self.preset_text)
                    .hint_text("new name")
                    .desired_width(120.0),
            )
            .labelled_by(label);
            let name = self.preset_text.trim().to_string();
            if ui
                .add_enabled(!name.is_empty(), egui::Button::new("Save as"))
                .on_hover_text(format!(
                    "Save the current settings as a new preset in {}",
                    self.presets.dir.display()
                ))
                .clicked()
            {
                let p = Preset::capture(&name, "", &self.params);
                match self.presets.save(&p, false) {
                    Ok(path) => {
                        *self.params.preset_name.write() = name.clone();
                        self.local_message = Some(format!("saved to {}", path.display()));
                        self.preset_text.clear();
                    }
                    Err(e) => self.local_message = Some(format!("not saved: {e}")),
                }
                self.refresh_presets();
            }
            if ui
                .add_enabled(is_user && !name.is_empty(), egui::Button::new("Rename"))
                .on_hover_text("Rename the current user preset to the name typed")
                .clicked()
            {
                match self.presets.rename(&current, &name) {
                    Ok(_) => {
                        *self.params.preset_name.write() = name.clone();
                        self.local_message = Some(format!("renamed to \"{name}\""));
                        self.preset_text.clear();
                    }
                    Err(e) => self.local_message = Some(format!("not renamed: {e}")),
                }
                self.refresh_presets();
            }
            if ui
                .add_enabled(
                    is_user,
                    egui::Button::new(if self.confirm_delete {
                        "Really delete?"
                    } else {
                        "Delete"
                    }),
                )
                .on_hover_text("Delete the current user preset file")
                .clicked()
            {
                if !self.confirm_delete {
                    self.confirm_delete = true;
                    return;
                }
                self.confirm_delete = false;
                match self.presets.delete(&current) {
                    Ok(()) => {
                        self.local_message = Some(format!("deleted \"{current}\""));
                        self.params.preset_name.write().clear();
                    }
                    Err(e) => self.local_message = Some(format!("not deleted: {e}")),
                }
                self.refresh_presets();
            }
            if ui
                .button("Reload")
                .on_hover_text("Re-read the presets folder")
                .clicked()
            {
                self.refresh_presets();
            }
            // Only a VST3 host reads the files (a CLAP host's preset menu cannot list them).
            let vst3_dir = self
                .vst3_presets_dir
                .as_deref()
                .filter(|_| gui.plugin_api() == nice_plug::context::PluginApi::Vst3);
            if let Some(dir) = vst3_dir {
                if ui
                    .button("To host menu")
                    .on_hover_text(format!(
                        "Write your presets as VST3 preset files into {}: the host lists them \
                         in Continuo's preset menu beside the factory presets (reopen the plugin \
                         or rescan presets there)",
                        dir.display()
                    ))
                    .clicked()
                {
                    // The factory presets are the host's program list already.
                    self.local_message = Some(match self.presets.export_vst3(dir, false, true) {
                        Ok((files, problems)) => format!(
                            "{} presets written to {} for VST3 hosts' preset menus{}",
                            files.len(),
                            dir.display(),
                            if problems.is_empty() {
                                String::new()
                            } else {
                                format!("; unreadable, left out: {}", problems.join(", "))
                            }
                        ),
                        Err(e) => format!("presets not written: {e}"),
                    });
                }
            }
        });
    }

    fn header(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading(RichText::new("Continuo").strong());
            ui.separator();
            // Tuner.
            let pitch = self.shared.pitch.load(Ordering::Relaxed);
            let tuner = if pitch >= 0.0 {
                let nearest = pitch.round().clamp(0.0, 127.0) as u8;
                let cents = ((pitch - nearest as f32) * 100.0).round() as i32;
                let (name, octave) = note_name(nearest);
                format!("{name}{octave} {cents:+} ct")
            } else {
                "—".to_string()
            };
            ui.label(RichText::new(tuner).monospace().size(18.0))
                .on_hover_text("The pitch Continuo hears now, with its deviation in cents");
            if self.shared.polyphonic.load(Ordering::Relaxed) {
                ui.label(RichText::new("chords").strong()).on_hover_text(
                    "Several notes sound at once: Continuo names the chords it hears above the \
                     roll and follows the top voice (the highest note of the chords) while the \
                     input stays polyphonic; it follows single notes again once one voice plays",
                );
            }
            // Level meter.
            let rms = self.shared.input_rms.load(Ordering::Relaxed);
            let peak = self.shared.input_peak.load(Ordering::Relaxed);
            let db = 20.0 * rms.max(1e-6).log10();
            let peak_db = 20.0 * peak.max(1e-6).log10();
            let frac = ((db + 60.0) / 60.0).clamp(0.0, 1.0);
            let gain = self.shared.input_gain_db.load(Ordering::Relaxed);
            let raised = if gain >= 0.5 {
                format!("  heard +{gain:.0}")
            } else {
                String::new()
            };
            ui.add(
                egui::ProgressBar::new(frac)
                    .desired_width(170.0)
                    .text(if peak_db <= -90.0 {
                        "silence".to_string()
                    } else {
                        format!("{db:.0} dB  peak {peak_db:.0}{raised}")
                    }),
            )
            .on_hover_text(
                "Input level (RMS and peak, dBFS). \"heard +N\": the input is quiet, and \
                 Continuo raises its own copy of it by N dB to listen (learned from the notes \
                 you play); the audio passes through untouched",
            );
            let hum = self.shared.hum_hz.load(Ordering::Relaxed);
            if hum > 0.0 {
                ui.label(format!("{hum:.0} Hz hum")).on_hover_text(
                    "Continuo hears a steady mains hum (this frequency and its harmonics, from \
                     an amplifier, a pickup or a ground loop) in the input and takes it out of \
                     what it listens to, so that it starts no note in your pauses; the audio \
                     passes through untouched",
                );
            }
            let cents = self.shared.concert_cents.load(Ordering::Relaxed);
            if cents.abs() >= 0.5 {
                ui.label(format!(
                    "A4 = {:.1} Hz",
                    crate::music::a4_hz_of_cents(cents)
                ))
                .on_hover_text(format!(
                    "Continuo hears notes in this tuning ({cents:+.0} cents from 440 Hz): \
                         set by Concert pitch, or your instrument's own when Follow tuning \
                         heard it from the notes you play"
                ));
            }
            // Onset flash.
            let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::hover());
            let c = Color32::from_rgb(255, (200.0 * self.flash) as u8 + 40, 60)
                .gamma_multiply(0.25 + 0.75 * self.flash);
            ui.painter().circle_filled(rect.center(), 6.0, c);
            ui.separator();
            let key = match self.view.key {
                Some((k, conf)) => format!("Key: {} ({:.0}%)", k.name(), conf * 100.0),
                None => "Key: listening…".into(),
            };
            ui.label(key)
                .on_hover_text("The key Continuo estimates from what you play");
            let chord = chords::now_label(&self.view);
            if !chord.is_empty() {
                ui.label(RichText::new(chord).strong().size(16.0))
                    .on_hover_text("The chord of the keys you hold");
            }
            ui.separator();
            let tempo = self.shared.tempo.load(Ordering::Relaxed);
            if self.shared.free_time_in_use.load(Ordering::Relaxed) {
                let confidence = self.shared.free_time_confidence.load(Ordering::Relaxed);
                ui.label(format!("free time: {tempo:.0} bpm (estimated)"))
                    .on_hover_text(format!(
                        "The transport is stopped: Continuo follows the tempo and beat it hears \
                         in your notes ({:.0} % of the recent ones on its grid). Set *Tempo when \
                         stopped* to *Host or Tempo* to keep a fixed tempo.",
                        confidence * 100.0
                    ));
            } else {
                let host = if self.shared.host_playing.load(Ordering::Relaxed) {
                    "host"
                } else {
                    "internal"
                };
                ui.label(format!("{tempo:.1} bpm ({host})"));
            }
            let meter = crate::meter::Meter::unpack(self.shared.meter.load(Ordering::Relaxed));
            ui.label(meter.label()).on_hover_text(
                "The host's time signature: answers span its bars and close on its strong beats, \
                 accents and chord changes follow it (4/4 when the host gives none)",
            );
        });
    }

    fn controls(&mut self, ui: &mut egui::Ui, setter: &ParamSetter) {
        let p = self.params.clone();
        /// One labelled parameter row of a two-column grid, with the same tooltip on both.
        fn row<P: Param>(ui: &mut egui::Ui, setter: &ParamSetter, param: &P, tip: &str) {
            ui.label(param.name()).on_hover_text(tip);
            ui.add(ParamSlider::for_param(param, setter).with_width(110.0))
                .on_hover_text(tip);
            ui.end_row();
        }
        fn group(ui: &mut egui::Ui, title: &str, rows: impl FnOnce(&mut egui::Ui)) {
            egui::CollapsingHeader::new(title)
                .default_open(true)
                .show(ui, |ui| {
                    egui::Grid::new(title)
                        .num_columns(2)
                        .spacing([8.0, 4.0])
                        .show(ui, rows);
                });
        }
        group(ui, "Input", |ui| {
            row(
                ui,
                setter,
                &p.input.source,
                "Where your notes come from: the audio you play, the plugin's MIDI input, or both",
            );
            row(ui, setter, &p.input.midi_thru, "Also send the notes Continuo hears as MIDI (audio to MIDI), so you can record what you played");
            row(
                ui,
                setter,
                &p.input.tracking,
                "Fast (default) sends plucked, struck and synth notes about 4 ms sooner; Accurate waits a little longer for a sure pitch and names a few less of them wrong",
            );
            row(
                ui,
                setter,
                &p.input.concert_pitch,
                "The tuning of your instrument: the frequency of its A4 (440 Hz by default). With \
                 Follow tuning on, this is where Continuo starts, and it then follows the tuning \
                 it hears in your notes (within half a semitone)",
            );
            row(
                ui,
                setter,
                &p.input.follow_tuning,
                "On (default): Continuo hears your instrument's own tuning from the notes you \
                 play (a guitar tuned by ear, A4 = 432 Hz, an old piano) and names notes in it. \
                 Off: notes are named in Concert pitch exactly",
            );
        });
        group(ui, "Model", |ui| {
            row(
                ui,
                setter,
                &p.model.style,
                "Which style answers. Auto (default) follows the style that fits your playing best, \
                 changing only between answers; My style: the one of yours chosen beside the roll",
            );
            row(
                ui,
                setter,
                &p.model.temperature,
                "Lower: safe, predictable phrases. Higher: adventurous ones",
            );
            row(
                ui,
                setter,
                &p.model.top_p,
                "Only draw from the most likely notes that together make up this probability",
            );
            row(
                ui,
                setter,
                &p.model.learn,
                "Learn your style during the session (short-term memory)",
            );
            row(
                ui,
                setter,
                &p.model.neural,
                "Mix a neural network (trained on the same melodies) with the style's model (on by \
                 default): surer guesses on melodies it never saw, about 2 ms more per answer",
            );
            row(
                ui,
                setter,
                &p.model.scale_lock,
                "Keep the answer in a scale: off, the key Continuo hears, or the one set below",
            );
            row(ui, setter, &p.model.tonic, "Tonic of the fixed scale");
            row(ui, setter, &p.model.scale, "The fixed scale");
            row(
                ui,
                setter,
                &p.model.phrase_length,
                "How long the answer is: as long as your last phrase, in bars, or in notes",
            );
            row(
                ui,
                setter,
                &p.model.phrase_bars,
                "Bars of the answer (Phrase: bars)",
            );
            row(
                ui,
                setter,
                &p.model.length,
                "Notes of the answer (Phrase: notes)",
            );
            row(
                ui,
                setter,
                &p.model.echo,
                "How freely the answer may repeat your figures (100 %: as often as the model likes)",
            );
            row(
                ui,
                setter,
                &p.model.density,
                "Low: longer notes and space. High: busier phrases",
            );
            row(ui, setter, &p.model.low, "Lowest note the answer may use");
            row(ui, setter, &p.model.high, "Highest note the answer may use");
            row(
                ui,
                setter,
                &p.model.candidates,
                "How many alternatives are drawn and ranked",
            );
        });
        group(ui, "Response", |ui| {
            row(ui, setter, &p.response.mode, "Call & response: answer after you pause. Suggest only: show, play on Play. Continuous: keep playing");
            row(
                ui,
                setter,
                &p.response.gap,
                "How long you must pause before Continuo answers",
            );
            row(
                ui,
                setter,
                &p.response.stop_on_return,
                "Stop the answer as soon as you play again",
            );
            row(
                ui,
                setter,
                &p.response.play,
                "Play the current suggestion (automate or MIDI-learn this)",
            );
            row(
                ui,
                setter,
                &p.response.grid,
                "Quantise the answer and start it on this grid",
            );
            row(
                ui,
                setter,
                &p.response.swing,
                "Delay every other grid step by this share of a step",
            );
            row(
                ui,
                setter,
                &p.response.tempo,
                "Tempo used when the host does not send one",
            );
            row(
                ui,
                setter,
                &p.response.tempo_source,
                "With the transport stopped: follow the tempo and beat of your playing, or keep \
                 the host's tempo (or the Tempo above)",
            );
        });
        group(ui, "Output", |ui| {
            row(
                ui,
                setter,
                &p.output.channel,
                "MIDI channel of the notes Continuo sends",
            );
            row(
                ui,
                setter,
                &p.output.velocity,
                "Level of the answer: your recent dynamics, the call's average (Model) or fixed",
            );
            row(
                ui,
                setter,
                &p.output.transpose,
                "Transpose the answer (12 = one octave)",
            );
            row(
                ui,
                setter,
                &p.output.length_scale,
                "Note length: scales the articulation's lengths (never past the next note \
                 unless the articulation is legato)",
            );
            row(
                ui,
                setter,
                &p.output.articulation,
                "How long the answer's notes sound: like your recent notes, staccato, normal or \
                 legato (only legato overlaps the next note)",
            );
            row(
                ui,
                setter,
                &p.output.fixed_velocity,
                "The level of every note when Velocity is Fixed (before the contour)",
            );
            row(
                ui,
                setter,
                &p.output.dynamics,
                "Dynamic contour: accents on strong beats and an arch over the phrase (0 = flat)",
            );
        });
        // ---- Harmony (issue 16 part 4) ----
        group(ui, "Harmony", |ui| {
            row(
                ui,
                setter,
                &p.harmony.mode,
                "Show chords: symbols above the roll. Chords under the answer: the answer is \
                 harmonised and its chords play with it. Chords under me: chords follow you live",
            );
            row(
                ui,
                setter,
                &p.harmony.channel,
                "MIDI channel of the chord notes (keep it apart from the melody's)",
            );
            row(
                ui,
                setter,
                &p.harmony.voicing,
                "Close: one octave. Open: spread over two. Four-part: bass and three voices \
                 moving as little as they can",
            );
            row(
                ui,
                setter,
                &p.harmony.complexity,
                "Triads only, or sevenths (the model's, and the dominant seventh)",
            );
            row(
                ui,
                setter,
                &p.harmony.rhythm,
                "How often the chord may change",
            );
            row(
                ui,
                setter,
                &p.harmony.level,
                "Chord velocity as a share of the melody's",
            );
        });
        // ---- end Harmony ----
    }

    fn actions(&mut self, ui: &mut egui::Ui, setter: &ParamSetter) {
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Regenerate")
                .on_hover_text("Draw new candidates from the same context")
                .clicked()
            {
                self.send(Command::Regenerate);
            }
            if ui
                .button("Play now")
                .on_hover_text("Play the selected candidate at the next grid line")
                .clicked()
            {
                self.shared.play_request.store(true, Ordering::Relaxed);
            }
            if ui
                .button("Stop")
                .on_hover_text("Stop the answer now")
                .clicked()
            {
                self.shared.stop_request.store(true, Ordering::Relaxed);
            }
            ui.separator();
            if ui.button("<").on_hover_text("Previous candidate").clicked() {
                self.send(Command::Previous);
            }
            let n = self.view.candidates.len();
            let label = match self.view.candidates.get(self.view.selected) {
                Some(c) => format!(
                    "Candidate {}/{}  ·  {:.0}%  ·  {:.2} bits/note",
                    self.view.selected + 1,
                    n,
                    c.share * 100.0,
                    c.bits_per_note
                ),
                None => "No candidate yet: play a phrase".into(),
            };
            ui.label(label)
                .on_hover_text("Candidates are ranked by how likely the model finds them");
            if ui.button(">").on_hover_text("Next candidate").clicked() {
                self.send(Command::Next);
            }
            ui.separator();
            let learn = self.params.model.learn.value();
            if ui
                .selectable_label(learn, "Learn")
                .on_hover_text("Learn from your playing this session")
                .clicked()
            {
                setter.begin_set_parameter(&self.params.model.learn);
                setter.set_parameter(&self.params.model.learn, !learn);
                setter.end_set_parameter(&self.params.model.learn);
            }
            let neural = self.params.model.neural.value();
            if ui
                .selectable_label(neural, "Neural")
                .on_hover_text(if neural && !self.view.neural {
                    "Neural network on, but not in use: see the status line"
                } else {
                    "Mix the neural network with the style's model"
                })
                .clicked()
            {
                setter.begin_set_parameter(&self.params.model.neural);
                setter.set_parameter(&self.params.model.neural, !neural);
                setter.end_set_parameter(&self.params.model.neural);
            }
            if ui
                .button("Forget")
                .on_hover_text("Clear what Continuo learnt this session")
                .clicked()
            {
                self.send(Command::Forget);
            }
            if ui
                .button("Export .mid")
                .on_hover_text(format!(
                    "Save the selected candidate as a MIDI file in {}",
                    self.export_dir.display()
                ))
                .clicked()
            {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let path = self.export_dir.join(format!("continuo-phrase-{stamp}.mid"));
                self.send(Command::ExportPhrase(path));
            }
        });
    }

    fn model_row(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = ui.label("Model file").on_hover_text(
                "A model you trained with `continuo train --midi FOLDER --out model.json.gz`, or a \
                 neural network trained with `continuo train --neural … --out melody.cnn` (used \
                 while Neural network is on); the project remembers it. Empty: the built-in ones.",
            );
            ui.add(
                egui::TextEdit::singleline(&mut self.model_text)
                    .hint_text("built-in")
                    .desired_width(260.0),
            )
            .labelled_by(label.id);
            let path = self.model_text.trim().to_string();
            if ui
                .add_enabled(!path.is_empty(), egui::Button::new("Load"))
                .clicked()
            {
                self.send(Command::LoadModel(path.into()));
            }
            if ui
                .button("Built-in")
                .on_hover_text("Use the model that ships with Continuo")
                .clicked()
            {
                self.model_text.clear();
                self.send(Command::BuiltInModel);
            }
        });
    }

    fn status(&mut self, ui: &mut egui::Ui) {
        let c = &self.shared.counters;
        let dropped = c.frames_dropped.load(Ordering::Relaxed)
            + c.notes_dropped.load(Ordering::Relaxed)
            + c.events_dropped.load(Ordering::Relaxed);
        ui.horizontal(|ui| {
            let running = self.shared.model_running.load(Ordering::Relaxed);
            ui.label(if running {
                "model running"
            } else {
                "model stopped (plugin inactive)"
            });
            ui.separator();
            ui.label(&self.view.model_info);
            ui.separator();
            ui.label(format!(
                "learnt {} notes{}",
                self.view.session_notes,
                if self.view.learning {
                    ""
                } else {
                    " (learning off)"
                }
            ));
            ui.separator();
            ui.label(format!("last draw {:.2} ms", self.view.generate_ms));
            ui.separator();
            let txt = format!("dropped: {dropped}");
            if dropped > 0 {
                ui.colored_label(Color32::YELLOW, txt)
                    .on_hover_text(format!(
                        "feature frames {}, player notes and playback news {}, MIDI out {}",
                        c.frames_dropped.load(Ordering::Relaxed),
                        c.notes_dropped.load(Ordering::Relaxed),
                        c.events_dropped.load(Ordering::Relaxed)
                    ));
            } else {
                ui.label(txt);
            }
            // A VST3 host's restore of the MIDI-controller parameters (the engine's restore
            // filter): said, so a musician who sees a controller not move knows why.
            let ignored = c.controllers_ignored.load(Ordering::Relaxed);
            if ignored > 0 {
                ui.separator();
                ui.label(format!("controllers ignored: {ignored}"))
                    .on_hover_text(
                        "Controller values the host sent back all at once when it restored a \
                         session or a state (not played): Continuo did not act on them",
                    );
            }
            if let Some(m) = self.local_message.as_ref().or(self.view.message.as_ref()) {
                ui.separator();
                ui.label(RichText::new(m).italics());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::analysis_notice;

    #[test]
    fn analysis_notice_names_the_rate_and_the_limit() {
        assert_eq!(analysis_notice(true, 48_000.0), None);
        let low = analysis_notice(false, 1234.5678).expect("a notice below the range");
        assert!(low.contains("1234.6 Hz"), "{low}");
        assert!(low.contains("≥ 8000 Hz"), "{low}");
        assert!(low.contains("audio passes through"), "{low}");
        let high = analysis_notice(false, 1_000_000.0).expect("a notice above the range");
        assert!(high.contains("≤ 768000 Hz"), "{high}");
    }
}
