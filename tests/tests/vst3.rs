//! The VST3 bundle as a VST3 host sees its parameters (Linux): every choice is a list whose
//! values have names, so hosts that build menus from VST3's `kIsList` flag show them by name.
//!
//! nice-plug 0.4.2 does not set the flag; the workspace uses it patched
//! (`vendor/nice-plug/CONTINUO.md`). Ardour 7.3 is not such a host (it builds menus from
//! scale points, which its VST3 host never fills; `cargo xtask ardour` checks Continuo there).
//! The bundle is `$CONTINUO_VST3`, else `target/test-bundle/Continuo.vst3`, else
//! `target/bundled/Continuo.vst3`; without one the test skips.
#![cfg(target_os = "linux")]

use std::ffi::c_void;
use std::path::Path;
use vst3::Steinberg::Vst::IComponentTrait;
use vst3::Steinberg::Vst::ParameterInfo_::ParameterFlags_;
use vst3::Steinberg::Vst::{
    kNoProgramListId, IComponent, IEditController, IEditControllerTrait, IUnitInfo, IUnitInfoTrait,
    ParameterInfo, ProgramListInfo, String128, UnitInfo,
};
use vst3::Steinberg::{
    kResultOk, IPluginBaseTrait, IPluginFactory, IPluginFactoryTrait, PClassInfo,
};
use vst3::Steinberg::{IBStream, IBStreamTrait};
use vst3::{Class, ComPtr, ComWrapper, Interface};

/// A host's memory stream, for a component's state.
#[derive(Default)]
struct Memory {
    bytes: std::cell::RefCell<Vec<u8>>,
    at: std::cell::Cell<usize>,
}

impl Class for Memory {
    type Interfaces = (IBStream,);
}

impl IBStreamTrait for Memory {
    unsafe fn read(&self, buffer: *mut c_void, n: i32, read: *mut i32) -> i32 {
        let bytes = self.bytes.borrow();
        let at = self.at.get().min(bytes.len());
        let n = (n.max(0) as usize).min(bytes.len() - at);
        // SAFETY: the caller gives a buffer of at least `n` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes[at..].as_ptr(), buffer as *mut u8, n);
            if !read.is_null() {
                *read = n as i32;
            }
        }
        self.at.set(at + n);
        kResultOk
    }

    unsafe fn write(&self, buffer: *mut c_void, n: i32, written: *mut i32) -> i32 {
        let n = n.max(0) as usize;
        let at = self.at.get();
        let mut bytes = self.bytes.borrow_mut();
        if bytes.len() < at + n {
            bytes.resize(at + n, 0);
        }
        // SAFETY: the caller gives a buffer of `n` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(buffer as *const u8, bytes[at..].as_mut_ptr(), n);
            if !written.is_null() {
                *written = n as i32;
            }
        }
        self.at.set(at + n);
        kResultOk
    }

    unsafe fn seek(&self, pos: i64, mode: i32, result: *mut i64) -> i32 {
        let base = match mode {
            0 => 0,                                // kIBSeekSet
            1 => self.at.get() as i64,             // kIBSeekCur
            _ => self.bytes.borrow().len() as i64, // kIBSeekEnd
        };
        let at = (base + pos).max(0) as usize;
        self.at.set(at);
        if !result.is_null() {
            // SAFETY: a valid out-pointer when not null.
            unsafe { *result = at as i64 };
        }
        kResultOk
    }

    unsafe fn tell(&self, pos: *mut i64) -> i32 {
        if !pos.is_null() {
            // SAFETY: a valid out-pointer when not null.
            unsafe { *pos = self.at.get() as i64 };
        }
        kResultOk
    }
}

/// Choice parameters (nice-plug `EnumParam`s) and a name each must list.
const CHOICES: &[(&str, &str)] = &[
    ("Mode", "Call & response"),
    ("Grid", "1/16"),
    ("Scale", "Major"),
    ("Scale lock", "Detected key"),
    ("Input source", "MIDI"),
    ("Tracking", "Fast"),
];
/// Stepped parameters that are numbers, not lists.
const NUMBERS: &[&str] = &["Transpose", "MIDI channel", "Lowest note"];

fn text(chars: &[u16]) -> String {
    String::from_utf16_lossy(&chars[..chars.iter().position(|&c| c == 0).unwrap_or(chars.len())])
}

/// One stepped parameter as the controller describes it: title, step count, flags, and the
/// text of each step.
struct Stepped {
    title: String,
    steps: i32,
    flags: i32,
    names: Vec<String>,
}

/// Loads the module (once per process: it stays loaded, as a host keeps a module it made objects
/// from), makes the audio module's component, initialises it and gives it and its controller to
/// `f`, then terminates it.
fn with_component<R>(
    path: &Path,
    f: impl FnOnce(&ComPtr<IComponent>, &ComPtr<IEditController>) -> R,
) -> R {
    let so = path.join("Contents/x86_64-linux/Continuo.so");
    // SAFETY: the module is ours; it stays loaded (leaked) for the rest of the process, and
    // every pointer used below comes from its factory.
    unsafe {
        static LIB: std::sync::OnceLock<&'static libloading::Library> = std::sync::OnceLock::new();
        let lib = *LIB.get_or_init(|| {
            let lib: &'static libloading::Library = Box::leak(Box::new(
                libloading::Library::new(&so).expect("load the module"),
            ));
            let entry: libloading::Symbol<unsafe extern "C" fn(*mut c_void) -> bool> =
                lib.get(b"ModuleEntry").expect("ModuleEntry");
            assert!(entry(std::ptr::null_mut()), "ModuleEntry failed");
            lib
        });
        let get: libloading::Symbol<unsafe extern "system" fn() -> *mut IPluginFactory> =
            lib.get(b"GetPluginFactory").expect("GetPluginFactory");
        let factory = ComPtr::from_raw(get()).expect("a plugin factory");
        for i in 0..factory.countClasses() {
            let mut info: PClassInfo = std::mem::zeroed();
            assert_eq!(factory.getClassInfo(i, &mut info), kResultOk);
            let category: Vec<u8> = info.category.iter().map(|&c| c as u8).collect();
            if !category.starts_with(b"Audio Module Class") {
                continue;
            }
            let mut obj: *mut c_void = std::ptr::null_mut();
            let made = factory.createInstance(
                info.cid.as_ptr(),
                IComponent::IID.as_ptr() as *const _,
                &mut obj,
            );
            assert_eq!(made, kResultOk, "createInstance");
            let component = ComPtr::from_raw(obj as *mut IComponent).expect("a component");
            assert_eq!(component.initialize(std::ptr::null_mut()), kResultOk);
            let controller: ComPtr<IEditController> = component
                .cast()
                .expect("the component is its own controller");
            let r = f(&component, &controller);
            component.terminate();
            return r;
        }
        panic!("no audio module class");
    }
}

/// The text of a parameter's value.
fn value_text(controller: &ComPtr<IEditController>, id: u32, value: f64) -> String {
    let mut out: String128 = [0; 128];
    // SAFETY: `out` is a String128 the call writes into.
    let r = unsafe { controller.getParamStringByValue(id, value, &mut out) };
    assert_eq!(r, kResultOk);
    text(&out)
}

/// The text of a parameter's current value.
fn current_text(controller: &ComPtr<IEditController>, id: u32) -> String {
    // SAFETY: a plain call on a live controller.
    let value = unsafe { controller.getParamNormalized(id) };
    value_text(controller, id, value)
}

/// Every parameter's info.
fn parameter_infos(controller: &ComPtr<IEditController>) -> Vec<ParameterInfo> {
    // SAFETY: plain calls on a live controller; `pi` is written by it.
    unsafe {
        (0..controller.getParameterCount())
            .map(|p| {
                let mut pi: ParameterInfo = std::mem::zeroed();
                assert_eq!(controller.getParameterInfo(p, &mut pi), kResultOk);
                pi
            })
            .collect()
    }
}

/// Reads the stepped parameters: title, step count, flags and the text of each step.
fn stepped_parameters(path: &Path) -> Vec<Stepped> {
    with_component(path, |_, controller| {
        parameter_infos(controller)
            .into_iter()
            .filter(|pi| pi.stepCount >= 1)
            .map(|pi| Stepped {
                title: text(&pi.title),
                steps: pi.stepCount,
                flags: pi.flags,
                names: (0..=pi.stepCount)
                    .map(|s| value_text(controller, pi.id, f64::from(s) / f64::from(pi.stepCount)))
                    .collect(),
            })
            .collect()
    })
}

/// The factory presets' names as the repository ships them (`presets/*.json`).
fn shipped_factory_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../presets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            let json = std::fs::read_to_string(e.path()).unwrap();
            let at = json.find("\"name\"").expect("a name") + 6;
            let rest = &json[at..];
            let open = rest.find('"').unwrap() + 1;
            let close = open + rest[open..].find('"').unwrap();
            rest[open..close].to_string()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn the_factory_presets_are_a_program_list_a_host_loads() {
    let Some(path) = continuo_host_tests::bundle_file("CONTINUO_VST3", "Continuo.vst3") else {
        eprintln!("SKIPPED: no Continuo.vst3 found (set CONTINUO_VST3, or run `cargo xtask test`)");
        return;
    };
    with_component(&path, |component, controller| {
        let infos = parameter_infos(controller);
        let programs: Vec<_> = infos
            .iter()
            .filter(|pi| pi.flags & ParameterFlags_::kIsProgramChange != 0)
            .collect();
        assert_eq!(programs.len(), 1, "one program-change parameter");
        let program = programs[0];
        assert_eq!(program.flags & ParameterFlags_::kCanAutomate, 0);
        let unit_info: ComPtr<IUnitInfo> = component.cast().expect("IUnitInfo");
        // As Ardour reads it: the program parameter's unit, its program list, the names.
        // SAFETY: plain calls on a live object; the out-structs are written by them.
        let names = unsafe {
            let mut list_id = kNoProgramListId;
            for u in 0..unit_info.getUnitCount() {
                let mut ui: UnitInfo = std::mem::zeroed();
                assert_eq!(unit_info.getUnitInfo(u, &mut ui), kResultOk);
                if ui.id == program.unitId {
                    list_id = ui.programListId;
                }
            }
            assert_ne!(
                list_id, kNoProgramListId,
                "the program's unit has a program list"
            );
            assert_eq!(unit_info.getProgramListCount(), 1);
            let mut pli: ProgramListInfo = std::mem::zeroed();
            assert_eq!(unit_info.getProgramListInfo(0, &mut pli), kResultOk);
            assert_eq!(pli.id, list_id);
            assert_eq!(pli.programCount, program.stepCount + 1);
            (0..pli.programCount)
                .map(|i| {
                    let mut out: String128 = [0; 128];
                    assert_eq!(unit_info.getProgramName(list_id, i, &mut out), kResultOk);
                    text(&out)
                })
                .collect::<Vec<_>>()
        };
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, shipped_factory_names());
        let wild = names.iter().position(|n| n == "Wild").expect("Wild");
        let value = wild as f64 / program.stepCount as f64;
        assert_eq!(value_text(controller, program.id, value), "Wild");

        // Choosing it (as Ardour does: the controller's value, the host then re-reads all).
        let id_of = |title: &str| {
            infos
                .iter()
                .find(|pi| text(&pi.title) == title)
                .unwrap_or_else(|| panic!("no parameter {title}"))
                .id
        };
        let current = |id: u32| current_text(controller, id);
        let (temperature, mode, pitch) =
            (id_of("Temperature"), id_of("Mode"), id_of("Concert pitch"));
        // SAFETY: plain calls on a live controller.
        unsafe {
            let pitch_before = controller.getParamNormalized(pitch);
            assert_ne!(current(temperature), "1.60");
            assert_eq!(controller.setParamNormalized(program.id, value), kResultOk);
            let shown = current(temperature);
            assert!(shown.starts_with("1.6"), "temperature after Wild: {shown}");
            assert_eq!(current(mode), "Call & response");
            assert_eq!(
                controller.getParamNormalized(pitch),
                pitch_before,
                "the tuning stays"
            );
            assert_eq!(controller.getParamNormalized(program.id), value);
            // Not a number: refused, nothing changes.
            assert_eq!(
                controller.setParamNormalized(program.id, f64::NAN),
                vst3::Steinberg::kInvalidArgument
            );
            assert_eq!(controller.getParamNormalized(program.id), value);

            // A project reopened: the host restores the state the user left (Wild with the
            // temperature turned down), then sets the program it remembers again, as some hosts
            // do. That must not throw the user's change away; a program chosen later loads.
            let cooler = controller.plainParamToNormalized(temperature, 0.5);
            assert_eq!(
                controller.setParamNormalized(temperature, cooler),
                kResultOk
            );
            let saved = ComWrapper::new(Memory::default());
            let stream = saved.to_com_ptr::<IBStream>().unwrap();
            assert_eq!(component.getState(stream.as_ptr()), kResultOk);
            stream.seek(0, 0, std::ptr::null_mut());
            assert_eq!(controller.setParamNormalized(temperature, 0.0), kResultOk);
            assert_eq!(component.setState(stream.as_ptr()), kResultOk);
            assert_eq!(controller.setParamNormalized(program.id, value), kResultOk);
            let shown = current(temperature);
            assert!(
                shown.starts_with("0.5"),
                "the user's temperature after the restore: {shown}"
            );
            std::thread::sleep(std::time::Duration::from_millis(1100));
            assert_eq!(controller.setParamNormalized(program.id, value), kResultOk);
            let shown = current(temperature);
            assert!(shown.starts_with("1.6"), "Wild chosen again: {shown}");

            // Another program chosen, then the saved state restored: the program parameter
            // names the program that state came from (Wild, the preset it keeps the name of).
            assert_eq!(controller.setParamNormalized(program.id, 0.0), kResultOk);
            assert_eq!(controller.getParamNormalized(program.id), 0.0);
            stream.seek(0, 0, std::ptr::null_mut());
            assert_eq!(component.setState(stream.as_ptr()), kResultOk);
            assert_eq!(controller.getParamNormalized(program.id), value);
        }
    });
}

#[test]
fn choices_are_lists_of_named_values() {
    let Some(path) = continuo_host_tests::bundle_file("CONTINUO_VST3", "Continuo.vst3") else {
        eprintln!("SKIPPED: no Continuo.vst3 found (set CONTINUO_VST3, or run `cargo xtask test`)");
        return;
    };
    let params = stepped_parameters(&path);
    let find = |title: &str| {
        params
            .iter()
            .find(|p| p.title == title)
            .unwrap_or_else(|| panic!("no stepped parameter {title}"))
    };
    let list = ParameterFlags_::kIsList;
    for (title, named) in CHOICES {
        let p = find(title);
        assert!(
            p.flags & list != 0,
            "{title}: flags {:#x} lack kIsList",
            p.flags
        );
        assert_eq!(p.names.len() as i32, p.steps + 1);
        assert!(p.names.iter().any(|n| n == named), "{title}: {:?}", p.names);
        let mut distinct = p.names.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), p.names.len(), "{title}: {:?}", p.names);
        assert!(
            p.names
                .iter()
                .all(|n| !n.is_empty() && n.parse::<f64>().is_err()),
            "{title}: {:?}",
            p.names
        );
    }
    for title in NUMBERS {
        let p = find(title);
        assert!(
            p.flags & list == 0,
            "{title} is a number, not a list: {:#x}",
            p.flags
        );
    }
    // Every list is a choice the plugin names (no number parameter flagged by mistake).
    let lists = params.iter().filter(|p| p.flags & list != 0).count();
    assert!(lists >= CHOICES.len(), "{lists} lists");
}
