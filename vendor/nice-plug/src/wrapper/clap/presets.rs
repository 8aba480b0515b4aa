//! CLAP preset discovery: a plugin's presets listed in the host's own preset browser.
//!
//! Continuo's addition to the framework (see `CONTINUO.md` at the crate's root). A plugin that
//! sets [`ClapPlugin::CLAP_PRESET_DISCOVERY`] gets a preset-discovery factory next to its plugin
//! factory (one provider per plugin type, made without a plugin instance) and the `preset-load`
//! extension on its instances. The provider declares the plugin's locations (presets inside the
//! plugin, or a folder of preset files) and describes the presets found there; loading one asks
//! the plugin for a [`PluginState`] and restores it exactly as a host's state load does.
//!
//! <https://github.com/free-audio/clap/blob/main/include/clap/factory/preset-discovery.h>

use clap_sys::factory::preset_discovery::{
    CLAP_PRESET_DISCOVERY_IS_FACTORY_CONTENT, CLAP_PRESET_DISCOVERY_IS_USER_CONTENT,
    CLAP_PRESET_DISCOVERY_LOCATION_FILE, CLAP_PRESET_DISCOVERY_LOCATION_PLUGIN,
    clap_preset_discovery_filetype, clap_preset_discovery_indexer,
    clap_preset_discovery_location, clap_preset_discovery_location_kind,
    clap_preset_discovery_metadata_receiver, clap_preset_discovery_provider,
    clap_preset_discovery_provider_descriptor,
};
use clap_sys::universal_plugin_id::clap_universal_plugin_id;
use clap_sys::version::CLAP_VERSION;
use std::ffi::{CStr, CString, c_char, c_void};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use crate::wrapper::clap::ClapPlugin;
pub use nice_plug_core::plugin::PluginState;

/// Where a preset lives, as the host names it when it asks about presets or loads one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresetLocation<'a> {
    /// Inside the plugin (its factory presets); the load key says which one.
    Plugin,
    /// A preset file (or a folder the plugin declared; the host asks about the files in it).
    File(&'a Path),
}

/// A place the host should index, declared when the provider starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClapPresetLocation {
    /// Shown by the host, e.g. "Factory presets".
    pub name: String,
    /// `None`: the presets are inside the plugin. `Some(path)`: a preset file or a folder the host
    /// walks for files of the declared file types.
    pub path: Option<PathBuf>,
    /// Factory content (shipped with the plugin) rather than the user's own.
    pub factory: bool,
}

/// A preset file type the host should look for in the declared folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClapPresetFileType {
    pub name: String,
    pub description: Option<String>,
    /// Without the dot: "json".
    pub extension: String,
}

/// One preset as the host's browser lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClapPresetInfo {
    pub name: String,
    /// Which preset of a location that holds several (the plugin's own presets); `None` for a
    /// file that holds one.
    pub load_key: Option<String>,
    pub description: Option<String>,
    pub creators: Vec<String>,
    /// Free-form keywords (CLAP's preset features), e.g. "lead", "sparse".
    pub features: Vec<String>,
    pub factory: bool,
}

/// A preset provider's descriptor, kept for the library's lifetime (the factory hands out
/// pointers to it). Made once per plugin type that offers preset discovery.
pub struct PresetProviderDescriptor {
    id: CString,
    _name: CString,
    _vendor: CString,
    raw: clap_preset_discovery_provider_descriptor,
    create: unsafe fn(
        &'static clap_preset_discovery_provider_descriptor,
        *const clap_preset_discovery_indexer,
    ) -> *const clap_preset_discovery_provider,
}

unsafe impl Send for PresetProviderDescriptor {}
unsafe impl Sync for PresetProviderDescriptor {}

impl PresetProviderDescriptor {
    /// The descriptor of `P`'s provider, or `None` when `P` offers no preset discovery.
    pub fn for_plugin<P: ClapPlugin>() -> Option<Self> {
        if !P::CLAP_PRESET_DISCOVERY {
            return None;
        }
        let id = CString::new(format!("{}.presets", P::CLAP_ID))
            .expect("`CLAP_ID` contained null bytes");
        let name = CString::new(format!("{} presets", P::NAME)).expect("`NAME` contained null bytes");
        let vendor = CString::new(P::VENDOR).expect("`VENDOR` contained null bytes");
        // The CStrings' buffers stay where they are when `Self` moves.
        let raw = clap_preset_discovery_provider_descriptor {
            clap_version: CLAP_VERSION,
            id: id.as_ptr(),
            name: name.as_ptr(),
            vendor: vendor.as_ptr(),
        };
        Some(Self {
            id,
            _name: name,
            _vendor: vendor,
            raw,
            create: Provider::<P>::create,
        })
    }

    pub fn id(&self) -> &CStr {
        self.id.as_c_str()
    }

    pub fn raw(&self) -> &clap_preset_discovery_provider_descriptor {
        &self.raw
    }

    /// Creates the provider for the host's `indexer`.
    ///
    /// # Safety
    ///
    /// `indexer` must stay valid until the provider is destroyed, as the CLAP spec requires.
    pub unsafe fn create(
        &'static self,
        indexer: *const clap_preset_discovery_indexer,
    ) -> *const clap_preset_discovery_provider {
        unsafe { (self.create)(&self.raw, indexer) }
    }
}

/// A provider instance: the CLAP struct first, so the host's pointer is a pointer to `Self`.
#[repr(C)]
struct Provider<P: ClapPlugin> {
    clap: clap_preset_discovery_provider,
    indexer: *const clap_preset_discovery_indexer,
    _plugin: PhantomData<P>,
}

impl<P: ClapPlugin> Provider<P> {
    unsafe fn create(
        descriptor: &'static clap_preset_discovery_provider_descriptor,
        indexer: *const clap_preset_discovery_indexer,
    ) -> *const clap_preset_discovery_provider {
        if indexer.is_null() {
            return std::ptr::null();
        }
        let provider = Box::new(Self {
            clap: clap_preset_discovery_provider {
                desc: descriptor,
                provider_data: std::ptr::null_mut(),
                init: Some(Self::init),
                destroy: Some(Self::destroy),
                get_metadata: Some(Self::get_metadata),
                get_extension: Some(Self::get_extension),
            },
            indexer,
            _plugin: PhantomData,
        });
        Box::into_raw(provider) as *const clap_preset_discovery_provider
    }

    unsafe fn this<'a>(provider: *const clap_preset_discovery_provider) -> Option<&'a Self> {
        if provider.is_null() {
            None
        } else {
            Some(unsafe { &*(provider as *const Self) })
        }
    }

    unsafe extern "C" fn init(provider: *const clap_preset_discovery_provider) -> bool {
        let Some(this) = (unsafe { Self::this(provider) }) else {
            return false;
        };
        let indexer = unsafe { &*this.indexer };
        for file_type in P::clap_preset_file_types() {
            let (Ok(name), Ok(extension)) = (
                CString::new(file_type.name),
                CString::new(file_type.extension),
            ) else {
                continue;
            };
            let description = file_type.description.and_then(|d| CString::new(d).ok());
            let raw = clap_preset_discovery_filetype {
                name: name.as_ptr(),
                description: description.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
                file_extension: extension.as_ptr(),
            };
            if let Some(declare) = indexer.declare_filetype {
                unsafe { declare(indexer, &raw) };
            }
        }
        for location in P::clap_preset_locations() {
            let Ok(name) = CString::new(location.name) else {
                continue;
            };
            let path = match &location.path {
                Some(path) => match path.to_str().and_then(|p| CString::new(p).ok()) {
                    Some(p) => Some(p),
                    // A path the host could not be given back to us: left out.
                    None => continue,
                },
                None => None,
            };
            let raw = clap_preset_discovery_location {
                flags: content_flags(location.factory),
                name: name.as_ptr(),
                kind: match path {
                    Some(_) => CLAP_PRESET_DISCOVERY_LOCATION_FILE,
                    None => CLAP_PRESET_DISCOVERY_LOCATION_PLUGIN,
                },
                location: path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
            };
            if let Some(declare) = indexer.declare_location {
                unsafe { declare(indexer, &raw) };
            }
        }
        true
    }

    unsafe extern "C" fn destroy(provider: *const clap_preset_discovery_provider) {
        if !provider.is_null() {
            drop(unsafe { Box::from_raw(provider as *mut Self) });
        }
    }

    unsafe extern "C" fn get_metadata(
        provider: *const clap_preset_discovery_provider,
        location_kind: clap_preset_discovery_location_kind,
        location: *const c_char,
        receiver: *const clap_preset_discovery_metadata_receiver,
    ) -> bool {
        if unsafe { Self::this(provider) }.is_none() || receiver.is_null() {
            return false;
        }
        let receiver = unsafe { &*receiver };
        let location = match unsafe { location_from_raw(location_kind, location) } {
            Ok(location) => location,
            Err(message) => {
                report_error(receiver, &message);
                return false;
            }
        };
        let presets = match P::clap_presets_at(location.as_location()) {
            Ok(presets) => presets,
            Err(message) => {
                report_error(receiver, &message);
                return false;
            }
        };
        let plugin_abi = c"clap";
        let Ok(plugin_id) = CString::new(P::CLAP_ID) else {
            return false;
        };
        let universal_id = clap_universal_plugin_id {
            abi: plugin_abi.as_ptr(),
            id: plugin_id.as_ptr(),
        };
        for preset in presets {
            let Ok(name) = CString::new(preset.name) else {
                continue;
            };
            let load_key = match preset.load_key.map(CString::new) {
                Some(Ok(key)) => Some(key),
                Some(Err(_)) => continue,
                None => None,
            };
            let Some(begin) = receiver.begin_preset else {
                return false;
            };
            let key_ptr = load_key.as_ref().map_or(std::ptr::null(), |k| k.as_ptr());
            if !unsafe { begin(receiver, name.as_ptr(), key_ptr) } {
                // The host wants no more presets from this location.
                break;
            }
            if let Some(add) = receiver.add_plugin_id {
                unsafe { add(receiver, &universal_id) };
            }
            if let Some(set) = receiver.set_flags {
                unsafe { set(receiver, content_flags(preset.factory)) };
            }
            if let (Some(set), Some(Ok(text))) = (
                receiver.set_description,
                preset.description.map(CString::new),
            ) {
                unsafe { set(receiver, text.as_ptr()) };
            }
            for creator in preset.creators {
                if let (Some(add), Ok(text)) = (receiver.add_creator, CString::new(creator)) {
                    unsafe { add(receiver, text.as_ptr()) };
                }
            }
            for feature in preset.features {
                if let (Some(add), Ok(text)) = (receiver.add_feature, CString::new(feature)) {
                    unsafe { add(receiver, text.as_ptr()) };
                }
            }
        }
        true
    }

    unsafe extern "C" fn get_extension(
        _provider: *const clap_preset_discovery_provider,
        _extension_id: *const c_char,
    ) -> *const c_void {
        std::ptr::null()
    }
}

fn content_flags(factory: bool) -> u32 {
    if factory {
        CLAP_PRESET_DISCOVERY_IS_FACTORY_CONTENT
    } else {
        CLAP_PRESET_DISCOVERY_IS_USER_CONTENT
    }
}

fn report_error(receiver: &clap_preset_discovery_metadata_receiver, message: &str) {
    if let Some(on_error) = receiver.on_error {
        let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
        unsafe { on_error(receiver, 0, text.as_ptr()) };
    }
}

/// A location as the host passed it, owned.
pub(crate) enum RawLocation {
    Plugin,
    File(PathBuf),
}

impl RawLocation {
    /// The location as the plugin's functions take it.
    pub(crate) fn as_location(&self) -> PresetLocation<'_> {
        match self {
            Self::Plugin => PresetLocation::Plugin,
            Self::File(path) => PresetLocation::File(path),
        }
    }
}

/// Reads the host's (kind, location) pair; an unknown kind or a missing path is an error.
///
/// # Safety
///
/// `location` is null or a valid C string.
pub(crate) unsafe fn location_from_raw(
    kind: clap_preset_discovery_location_kind,
    location: *const c_char,
) -> Result<RawLocation, String> {
    match kind {
        CLAP_PRESET_DISCOVERY_LOCATION_PLUGIN => Ok(RawLocation::Plugin),
        CLAP_PRESET_DISCOVERY_LOCATION_FILE => {
            if location.is_null() {
                return Err("a file location without a path".to_string());
            }
            let text = unsafe { CStr::from_ptr(location) };
            match text.to_str() {
                Ok(path) => Ok(RawLocation::File(PathBuf::from(path))),
                Err(_) => Err("a file location whose path is not UTF-8".to_string()),
            }
        }
        other => Err(format!("unknown preset location kind {other}")),
    }
}
