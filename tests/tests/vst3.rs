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
use vst3::Steinberg::Vst::ParameterInfo_::ParameterFlags_;
use vst3::Steinberg::Vst::{
    IComponent, IEditController, IEditControllerTrait, ParameterInfo, String128,
};
use vst3::Steinberg::{
    kResultOk, IPluginBaseTrait, IPluginFactory, IPluginFactoryTrait, PClassInfo,
};
use vst3::{ComPtr, Interface};

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

/// Loads the module, makes the audio module's component and reads its stepped parameters.
fn stepped_parameters(path: &Path) -> Vec<Stepped> {
    let so = path.join("Contents/x86_64-linux/Continuo.so");
    // SAFETY: the module is ours; it stays loaded (leaked) for the rest of the process, as a
    // host keeps a module it made objects from, and every pointer used below comes from its
    // factory.
    unsafe {
        let lib = Box::leak(Box::new(
            libloading::Library::new(&so).expect("load the module"),
        ));
        let entry: libloading::Symbol<unsafe extern "C" fn(*mut c_void) -> bool> =
            lib.get(b"ModuleEntry").expect("ModuleEntry");
        assert!(entry(std::ptr::null_mut()), "ModuleEntry failed");
        let get: libloading::Symbol<unsafe extern "system" fn() -> *mut IPluginFactory> =
            lib.get(b"GetPluginFactory").expect("GetPluginFactory");
        let factory = ComPtr::from_raw(get()).expect("a plugin factory");
        let mut found = Vec::new();
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
            for p in 0..controller.getParameterCount() {
                let mut pi: ParameterInfo = std::mem::zeroed();
                assert_eq!(controller.getParameterInfo(p, &mut pi), kResultOk);
                if pi.stepCount < 1 {
                    continue;
                }
                let names = (0..=pi.stepCount)
                    .map(|s| {
                        let mut out: String128 = [0; 128];
                        let value = f64::from(s) / f64::from(pi.stepCount);
                        assert_eq!(
                            controller.getParamStringByValue(pi.id, value, &mut out),
                            kResultOk
                        );
                        text(&out)
                    })
                    .collect();
                found.push(Stepped {
                    title: text(&pi.title),
                    steps: pi.stepCount,
                    flags: pi.flags,
                    names,
                });
            }
            component.terminate();
        }
        found
    }
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
