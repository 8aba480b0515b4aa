//! The editor's style panel: the style in use and the recommendation ("fits best: …"), the
//! choice of one of your own styles, and managing them — *Learn a style…* (a folder of MIDI or ABC files),
//! *Keep what it learnt from me* (the session, as a new style or added to yours), rename,
//! delete — with the running job's progress and a Cancel button.
//!
//! Every request goes to the model thread as a [`StyleRequest`]; the work runs on a background
//! thread there (see `worker::learn`), so the window never waits. The folder is typed (or
//! pasted): a native folder dialog (`rfd`) was left out — its blocking dialog would stall the
//! host's UI thread the editor runs on, its asynchronous one needs an XDG desktop portal (often
//! absent where plugins run on Linux) or GTK development packages to build, and it would bring a
//! second event loop into the host's process.

use super::ContinuoEditor;
use crate::bridge::Command;
use crate::worker::learn::StyleRequest;
use egui::Color32;
use nice_plug::prelude::*;

/// What the style panel remembers between frames (while the plugin lives).
#[derive(Default)]
pub(super) struct StylePanel {
    /// The folder typed for *Learn a style…*.
    folder: String,
    /// The name typed for a new style (learnt from the folder, or kept from the session).
    new_name: String,
    /// The new name typed for *Rename*.
    rename_to: String,
    /// *Delete* was pressed once for this style; a second press deletes it.
    confirm_delete: Option<String>,
    /// Whether the style folder was listed since the editor was made (done on the first frame:
    /// the model thread lists it, so your styles can be managed before any is loaded).
    listed: bool,
}

impl ContinuoEditor {
    /// The recommendation ("fits best: Airs 2.1 bits/note · Fiddle 2.4 · …"), the style in use,
    /// the choice of the user's own style and the panel that manages them.
    pub(super) fn style_row(&mut self, ui: &mut egui::Ui, setter: &ParamSetter) {
        if !self.style_panel.listed {
            self.style_panel.listed = true;
            self.send(Command::Style(StyleRequest::List));
        }
        ui.horizontal(|ui| {
            let in_use = if self.view.style.is_empty() {
                "a model file".to_string()
            } else {
                self.view.style.clone()
            };
            let neural = if self.view.neural { " + neural" } else { "" };
            ui.label(format!("Style: {in_use}{neural}")).on_hover_text(
                "The style whose model answers (with the neural network when Neural network is \
                 on); the Style parameter (Model group) chooses it",
            );
            let line = crate::model::styles::ranking_line(&self.view.styles);
            ui.separator();
            if line.is_empty() {
                ui.label("fits best: play a few notes");
            } else {
                ui.label(line).on_hover_text(format!(
                    "Your recent notes (up to {}) scored under every style, fewest bits per note \
                     first (scored in {:.2} ms)",
                    crate::worker::styles::SCORE_NOTES,
                    self.view.score_ms
                ));
            }
        });
        self.my_style_row(ui, setter);
        egui::CollapsingHeader::new("Your own styles: learn, keep, rename, delete")
            .id_salt("own-styles")
            .default_open(false)
            .show(ui, |ui| self.own_styles(ui));
    }

    /// "My style [list] · Rename to [ ] · Delete · Reload".
    fn my_style_row(&mut self, ui: &mut egui::Ui, setter: &ParamSetter) {
        let busy = self.view.style_job.is_some();
        ui.horizontal(|ui| {
            let current = self.params.user_style.read().clone();
            let label = ui.label("My style").on_hover_text(format!(
                "Your own styles (learnt in this window, or made by `continuo train --midi FOLDER \
                 --name \"My style\" --install`), in {}",
                crate::model::styles::user_dir().display()
            ));
            let label = label.id;
            let shown = if current.is_empty() {
                "(none)".to_string()
            } else {
                current.clone()
            };
            egui::ComboBox::from_id_salt("user-style")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    if self.view.user_styles.is_empty() {
                        ui.label("none yet: learn one below");
                    }
                    for name in &self.view.user_styles {
                        if ui.selectable_label(*name == current, name).clicked() {
                            *self.params.user_style.write() = name.clone();
                            setter.begin_set_parameter(&self.params.model.style);
                            setter.set_parameter(
                                &self.params.model.style,
                                crate::params::StyleParam::User,
                            );
                            setter.end_set_parameter(&self.params.model.style);
                        }
                    }
                })
                .response
                .labelled_by(label);
            let is_mine = !current.is_empty()
                && self
                    .view
                    .user_styles
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(&current));
            ui.add(
                egui::TextEdit::singleline(&mut self.style_panel.rename_to)
                    .hint_text("new name")
                    .desired_width(110.0),
            )
            .labelled_by(label);
            let to = self.style_panel.rename_to.trim().to_string();
            if ui
                .add_enabled(
                    is_mine && !busy && !to.is_empty(),
                    egui::Button::new("Rename"),
                )
                .on_hover_text("Give the chosen style of yours the name typed")
                .clicked()
            {
                self.send(Command::Style(StyleRequest::Rename {
                    from: current.clone(),
                    to,
                }));
                self.style_panel.rename_to.clear();
            }
            let confirming = self.style_panel.confirm_delete.as_deref() == Some(current.as_str());
            if ui
                .add_enabled(
                    is_mine && !busy,
                    egui::Button::new(if confirming {
                        "Really delete?"
                    } else {
                        "Delete"
                    }),
                )
                .on_hover_text("Delete the chosen style's file (asks once more)")
                .clicked()
            {
                if confirming {
                    self.style_panel.confirm_delete = None;
                    self.send(Command::Style(StyleRequest::Delete(current.clone())));
                } else {
                    self.style_panel.confirm_delete = Some(current.clone());
                }
            }
            if ui
                .button("Reload")
                .on_hover_text("List the styles folder again")
                .clicked()
            {
                self.send(Command::Style(StyleRequest::List));
            }
        });
    }

    /// Learning from a folder, keeping the session, and the running job's progress.
    fn own_styles(&mut self, ui: &mut egui::Ui) {
        let job = self.view.style_job.clone();
        let name = self.style_panel.new_name.trim().to_string();
        ui.horizontal(|ui| {
            let label = ui.label("Name").id;
            ui.add(
                egui::TextEdit::singleline(&mut self.style_panel.new_name)
                    .hint_text("e.g. My reels")
                    .desired_width(140.0),
            )
            .labelled_by(label)
            .on_hover_text("The name of the new style (not a bundled style's, not one of yours)");
        });
        ui.horizontal(|ui| {
            let label = ui.label("Learn a style…").on_hover_text(
                "Trains a new style on every .mid/.midi file and every tune of every .abc file in \
                 the folder (and its sub-folders), in the background; the window and the \
                 answers go on meanwhile",
            );
            ui.add(
                egui::TextEdit::singleline(&mut self.style_panel.folder)
                    .hint_text("folder of MIDI or ABC files (type or paste its path)")
                    .desired_width(240.0),
            )
            .labelled_by(label.id);
            let folder = self.style_panel.folder.trim().to_string();
            if ui
                .add_enabled(
                    job.is_none() && !folder.is_empty() && !name.is_empty(),
                    egui::Button::new("Learn"),
                )
                .clicked()
            {
                self.send(Command::Style(StyleRequest::LearnFolder {
                    folder: folder.into(),
                    name: name.clone(),
                }));
            }
        });
        ui.label(
            egui::RichText::new("Browse is not available: type or paste the folder's path.")
                .small()
                .color(Color32::GRAY),
        );
        ui.horizontal(|ui| {
            ui.label("Keep what it learnt from me")
                .on_hover_text(format!(
                    "Saves the notes Continuo learnt from you this session ({} so far) as a style",
                    self.view.session_notes
                ));
            if ui
                .add_enabled(
                    job.is_none() && !name.is_empty(),
                    egui::Button::new("as a new style"),
                )
                .on_hover_text("A new style with the name above")
                .clicked()
            {
                self.send(Command::Style(StyleRequest::KeepSession {
                    name: name.clone(),
                    merge: false,
                }));
            }
            let current = self.params.user_style.read().clone();
            let is_mine = self
                .view
                .user_styles
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&current));
            if ui
                .add_enabled(
                    job.is_none() && is_mine,
                    egui::Button::new(if is_mine {
                        format!("add to \"{current}\"")
                    } else {
                        "add to My style".to_string()
                    }),
                )
                .on_hover_text("Adds this session's notes to the style of yours chosen above")
                .clicked()
            {
                self.send(Command::Style(StyleRequest::KeepSession {
                    name: current,
                    merge: true,
                }));
            }
        });
        if let Some(job) = job {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(job.fraction())
                        .desired_width(220.0)
                        .text(job.progress_text()),
                )
                .on_hover_text(&job.what);
                if ui
                    .add_enabled(!job.cancelling, egui::Button::new("Cancel"))
                    .on_hover_text("Stop; nothing is saved")
                    .clicked()
                {
                    self.send(Command::Style(StyleRequest::Cancel));
                }
            });
        }
    }
}
