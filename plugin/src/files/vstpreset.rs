//! VST3 preset files (`.vstpreset`): the factory presets where VST3 hosts look for presets.
//!
//! nice-plug offers no VST3 program list, so a host's preset menu cannot ask the plugin for its
//! presets. VST3 hosts (Ardour, REAPER, Cubase, Bitwig) also list the `.vstpreset` files of the
//! standard folders (`~/.vst3/presets/VENDOR/PLUGIN/` on Linux, `/usr/share/vst3/presets/…`,
//! `~/Library/Audio/Presets/…` on macOS, `Documents/VST3 Presets/…` on Windows) and load one by
//! handing its component-state chunk to the plugin's `IComponent::setState`: the very bytes a
//! project saves. [`encode`] writes such a file around a state; [`decode`] reads one back (tests
//! and checks). Offline only, never on the audio thread.
//!
//! The format (Steinberg's `vstpresetfile.h`, little-endian): the header `VST3`, the format
//! version (1, `i32`), the class id as 32 upper-case hex characters, the offset of the chunk
//! list (`i64`); the chunks' data; then the list: `List`, the chunk count (`i32`) and per chunk
//! its id (`Comp` = component state), offset and size (`i64` each).

/// The header's magic, format version and the chunk ids this module writes or reads.
const HEADER: &[u8; 4] = b"VST3";
const FORMAT_VERSION: i32 = 1;
const COMPONENT: &[u8; 4] = b"Comp";
const LIST: &[u8; 4] = b"List";
/// Magic, version, 32-character class id, list offset.
const HEADER_LEN: usize = 4 + 4 + 32 + 8;

/// What [`decode`] found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VstPreset {
    /// The class id of the plugin the preset is for.
    pub class_id: [u8; 16],
    /// The component state (for Continuo: nice-plug's JSON state).
    pub component_state: Vec<u8>,
}

/// The class id as the file stores it: 32 upper-case hex digits of the id's bytes in order (the
/// canonical FUID text on every platform; nice-plug reorders the bytes for COM on Windows, and
/// the host's COM-compatible formatting undoes it).
pub fn class_id_text(class_id: &[u8; 16]) -> String {
    class_id.iter().map(|b| format!("{b:02X}")).collect()
}

/// A `.vstpreset` file holding `component_state` for the plugin class `class_id`.
pub fn encode(class_id: &[u8; 16], component_state: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + component_state.len() + 32);
    out.extend_from_slice(HEADER);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(class_id_text(class_id).as_bytes());
    let list_offset = (HEADER_LEN + component_state.len()) as i64;
    out.extend_from_slice(&list_offset.to_le_bytes());
    out.extend_from_slice(component_state);
    out.extend_from_slice(LIST);
    out.extend_from_slice(&1i32.to_le_bytes());
    out.extend_from_slice(COMPONENT);
    out.extend_from_slice(&(HEADER_LEN as i64).to_le_bytes());
    out.extend_from_slice(&(component_state.len() as i64).to_le_bytes());
    out
}

/// Reads a `.vstpreset` file: its class id and its component state. Every way a file can be
/// broken (short, another magic, a list or chunk outside the file, no component state) is an
/// error that says so.
pub fn decode(bytes: &[u8]) -> Result<VstPreset, String> {
    let at = |offset: usize, len: usize| -> Result<&[u8], String> {
        offset
            .checked_add(len)
            .and_then(|end| bytes.get(offset..end))
            .ok_or_else(|| {
                format!(
                    "the file ends at byte {} (needs {})",
                    bytes.len(),
                    offset + len
                )
            })
    };
    let i64_at = |offset: usize| -> Result<i64, String> {
        Ok(i64::from_le_bytes(
            at(offset, 8)?.try_into().expect("8 bytes"),
        ))
    };
    if at(0, 4)? != HEADER {
        return Err("not a VST3 preset (no \"VST3\" header)".into());
    }
    let text = std::str::from_utf8(at(8, 32)?).map_err(|_| "the class id is not text")?;
    let mut class_id = [0u8; 16];
    for (i, byte) in class_id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2).unwrap_or("?"), 16)
            .map_err(|_| format!("the class id \"{text}\" is not 32 hex digits"))?;
    }
    let list = usize::try_from(i64_at(40)?).map_err(|_| "a negative chunk-list offset")?;
    if at(list, 4)? != LIST {
        return Err(format!("no chunk list at byte {list}"));
    }
    let count = i32::from_le_bytes(at(list + 4, 4)?.try_into().expect("4 bytes"));
    for entry in 0..usize::try_from(count).map_err(|_| "a negative chunk count")? {
        let base = list + 8 + entry * 20;
        if at(base, 4)? != COMPONENT {
            continue;
        }
        let offset = usize::try_from(i64_at(base + 4)?).map_err(|_| "a negative chunk offset")?;
        let size = usize::try_from(i64_at(base + 12)?).map_err(|_| "a negative chunk size")?;
        return Ok(VstPreset {
            class_id,
            component_state: at(offset, size)?.to_vec(),
        });
    }
    Err("the file holds no component state".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_comes_back_from_its_file() {
        let id = *b"ContinuoMidiCont";
        let state = br#"{"version":"0.1.0","params":{},"fields":{}}"#;
        let file = encode(&id, state);
        assert_eq!(&file[8..40], b"436F6E74696E756F4D696469436F6E74");
        let back = decode(&file).unwrap();
        assert_eq!(back.class_id, id);
        assert_eq!(back.component_state, state.to_vec());
    }

    #[test]
    fn broken_files_are_refused_with_a_reason() {
        let file = encode(b"ContinuoMidiCont", b"{}");
        for cut in [0, 3, 20, 47, file.len() - 1] {
            assert!(decode(&file[..cut]).is_err(), "cut at {cut}");
        }
        let mut other = file.clone();
        other[0] = b'X';
        assert!(decode(&other).unwrap_err().contains("header"));
        let mut far = file.clone();
        far[40..48].copy_from_slice(&(1i64 << 40).to_le_bytes());
        assert!(decode(&far).is_err());
        let mut no_state = file.clone();
        let list = no_state.len() - 20;
        no_state[list..list + 4].copy_from_slice(b"Cont");
        assert!(decode(&no_state)
            .unwrap_err()
            .contains("no component state"));
    }
}
