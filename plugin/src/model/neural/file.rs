//! The neural model's weights file: versioned, checksummed, every way it can be wrong a
//! [`NeuralError`] saying which.
//!
//! Layout (little-endian): the 16-byte magic `CONTINUO-NEURAL\0`, the format version (u32), the
//! header length (u32) and the header (JSON: [`NeuralMeta`], the network's shape included), the
//! weights as `f32` in [`super::net::NetShape::tensors`] order, then an FNV-1a 64-bit checksum of
//! every byte before it. The project's own format rather than safetensors: safetensors has no
//! checksum (a flipped byte in the weights would load silently), and the plugin reads the file
//! without any tensor crate.

use super::net::{Net, NetShape, N_INPUT, N_STYLE};
use std::path::Path;

/// First bytes of every weights file.
pub const MAGIC: &[u8; 16] = b"CONTINUO-NEURAL\0";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;
/// Files larger than this are refused (the shipped model is well under 1 MB).
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
/// Largest hidden size accepted (guards the allocation a corrupt header could ask for).
pub const MAX_HIDDEN: usize = 2048;

/// Why a weights file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum NeuralError {
    #[error("the neural weights file is empty")]
    Empty,
    #[error("this is not a Continuo neural weights file (its first bytes differ)")]
    WrongMagic,
    #[error("the neural weights file has format version {found}; this build reads version {supported} (a newer Continuo wrote it?)")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("the neural weights file is truncated: {0}")]
    Truncated(String),
    #[error("the neural weights file is corrupt (checksum mismatch: stored {stored:016x}, computed {computed:016x})")]
    Checksum { stored: u64, computed: u64 },
    #[error("the neural weights file's header is not valid JSON: {0}")]
    Header(#[from] serde_json::Error),
    #[error("the neural weights file does not match this build's network: {0}")]
    Mismatch(String),
    #[error("the neural weights file is too large ({0} bytes)")]
    TooLarge(usize),
    #[error("cannot read or write the neural weights file: {0}")]
    Io(#[from] std::io::Error),
}

/// What is known about a trained network (the file's header).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NeuralMeta {
    /// The network's size; `None` only in a default value (a file without one is refused).
    pub shape: Option<NetShape>,
    /// The command line that trained it, the date (UTC), the corpus folders.
    pub command: String,
    pub date: String,
    pub corpus: String,
    /// Seed of the held-out split and of the training (initial weights, melody order).
    pub seed: u64,
    /// Held-out share of the split (files never trained on) and the validation share of the
    /// training files (early stopping).
    pub holdout: f64,
    pub validation: f64,
    /// Names of the held-out files (so `continuo eval` can check it never trained on them).
    pub held_out: Vec<String>,
    pub train_melodies: usize,
    pub train_notes: usize,
    /// Epochs run, and the one whose weights were kept (best validation bits).
    pub epochs: usize,
    pub best_epoch: usize,
    /// Validation bits per note (pitch, rhythm) of the kept weights.
    pub validation_pitch_bits: f64,
    pub validation_rhythm_bits: f64,
    pub training_seconds: f64,
    /// Learning rate, batch streams and chunk length used.
    pub learning_rate: f64,
    pub batch: usize,
    pub chunk: usize,
    /// A style-conditioned network's style inputs, in order (then "no style"); empty for a
    /// network without them (and in files written before they existed).
    pub styles: Vec<String>,
    /// Share of training melodies shown with "no style" instead of their own (so that "no
    /// style", Blend's, is trained too).
    pub style_dropout: f64,
}

/// A loaded network and its header.
#[derive(Debug, Clone)]
pub struct NeuralModel {
    pub meta: NeuralMeta,
    pub net: Net,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

impl NeuralModel {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, NeuralError> {
        let mut meta = self.meta.clone();
        meta.shape = Some(self.net.shape());
        let header = serde_json::to_vec(&meta)?;
        let mut out = Vec::with_capacity(header.len() + 4 * self.net.shape().parameters() + 40);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for t in self.net.to_tensors() {
            for x in t {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        Ok(out)
    }

    /// Parses a weights file; never panics on bad input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NeuralError> {
        if bytes.is_empty() {
            return Err(NeuralError::Empty);
        }
        if bytes.len() > MAX_BYTES {
            return Err(NeuralError::TooLarge(bytes.len()));
        }
        let magic_len = MAGIC.len().min(bytes.len());
        if bytes[..magic_len] != MAGIC[..magic_len] {
            return Err(NeuralError::WrongMagic);
        }
        if bytes.len() < MAGIC.len() + 8 {
            return Err(NeuralError::Truncated(format!(
                "{} bytes, shorter than its fixed header",
                bytes.len()
            )));
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let version = word(16);
        if version != VERSION {
            return Err(NeuralError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        let header_len = word(20) as usize;
        let header_end = 24usize.saturating_add(header_len);
        if header_end + 8 > bytes.len() {
            return Err(NeuralError::Truncated(format!(
                "its header says {header_len} bytes, the file has {}",
                bytes.len()
            )));
        }
        // The checksum covers everything; check it before trusting the header's sizes.
        let body = &bytes[..bytes.len() - 8];
        let mut stored = [0u8; 8];
        stored.copy_from_slice(&bytes[bytes.len() - 8..]);
        let stored = u64::from_le_bytes(stored);
        let meta: Result<NeuralMeta, _> = serde_json::from_slice(&bytes[24..header_end]);
        // A file cut short fails the checksum too; say "truncated" when the header parses and
        // asks for more weights than the file holds.
        if let Ok(meta) = &meta {
            if let Some(shape) = meta.shape {
                let want = header_end as u128 + 4 * shape.parameters() as u128 + 8;
                if (bytes.len() as u128) < want && shape.hidden <= MAX_HIDDEN {
                    return Err(NeuralError::Truncated(format!(
                        "{} bytes, the network needs {want}",
                        bytes.len()
                    )));
                }
            }
        }
        let computed = fnv1a(body);
        if stored != computed {
            return Err(NeuralError::Checksum { stored, computed });
        }
        let meta = meta?;
        let Some(shape) = meta.shape else {
            return Err(NeuralError::Mismatch(
                "the header gives no network shape".into(),
            ));
        };
        if shape.inputs != N_INPUT && shape.inputs != N_INPUT + N_STYLE {
            return Err(NeuralError::Mismatch(format!(
                "it was trained on {} inputs, this build makes {N_INPUT} (or {} with the style inputs)",
                shape.inputs,
                N_INPUT + N_STYLE
            )));
        }
        if shape.hidden == 0 || shape.hidden > MAX_HIDDEN {
            return Err(NeuralError::Mismatch(format!(
                "hidden size {} outside 1..={MAX_HIDDEN}",
                shape.hidden
            )));
        }
        let data = &body[header_end..];
        if data.len() != 4 * shape.parameters() {
            return Err(NeuralError::Mismatch(format!(
                "{} bytes of weights, the network needs {}",
                data.len(),
                4 * shape.parameters()
            )));
        }
        let mut floats = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let tensors = shape
            .tensors()
            .iter()
            .map(|(_, r, c)| floats.by_ref().take(r * c).collect())
            .collect();
        let net = Net::from_tensors(shape, tensors).map_err(NeuralError::Mismatch)?;
        Ok(Self { meta, net })
    }

    pub fn load(path: &Path) -> Result<Self, NeuralError> {
        let len = std::fs::metadata(path)?.len() as usize;
        if len > MAX_BYTES {
            return Err(NeuralError::TooLarge(len));
        }
        Self::from_bytes(&std::fs::read(path)?)
    }

    /// Writes the file whole to a temporary file beside `path`, then renames it over `path`.
    pub fn save(&self, path: &Path) -> Result<(), NeuralError> {
        let bytes = self.to_bytes()?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small network with every weight different.
    pub(crate) fn tiny() -> NeuralModel {
        tiny_of(NetShape::new(6))
    }

    /// [`tiny`] with style inputs.
    pub(crate) fn tiny_styled() -> NeuralModel {
        tiny_of(NetShape::styled(6))
    }

    fn tiny_of(shape: NetShape) -> NeuralModel {
        let tensors = shape
            .tensors()
            .iter()
            .enumerate()
            .map(|(k, (_, r, c))| {
                (0..r * c)
                    .map(|i| ((i * 7 + k * 13) % 17) as f32 / 17.0 - 0.5)
                    .collect()
            })
            .collect();
        NeuralModel {
            meta: NeuralMeta {
                seed: 3,
                ..Default::default()
            },
            net: Net::from_tensors(shape, tensors).unwrap(),
        }
    }

    #[test]
    fn round_trip() {
        let m = tiny();
        let bytes = m.to_bytes().unwrap();
        let back = NeuralModel::from_bytes(&bytes).unwrap();
        assert_eq!(back.net, m.net);
        assert_eq!(back.meta.seed, 3);
        assert_eq!(back.meta.shape, Some(m.net.shape()));
    }

    /// A file as the first builds wrote it (no style inputs, a header without the style
    /// fields) still loads, and a styled network round-trips with its style inputs.
    #[test]
    fn old_files_load_and_styled_files_round_trip() {
        let m = tiny();
        let mut header = serde_json::to_value(NeuralMeta {
            shape: Some(m.net.shape()),
            seed: 3,
            ..Default::default()
        })
        .unwrap();
        let fields = header.as_object_mut().unwrap();
        assert!(fields.remove("styles").is_some() && fields.remove("style_dropout").is_some());
        let header = serde_json::to_vec(&header).unwrap();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        for x in m.net.to_tensors().into_iter().flatten() {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        let sum = fnv1a(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        let old = NeuralModel::from_bytes(&bytes).unwrap();
        assert_eq!(old.net, m.net);
        assert!(!old.net.has_style() && old.meta.styles.is_empty());
        assert_eq!(old.meta.seed, 3);

        let styled = tiny_styled();
        assert!(styled.net.has_style());
        let mut with_names = styled.clone();
        with_names.meta.styles = vec!["Chorale".into()];
        let back = NeuralModel::from_bytes(&with_names.to_bytes().unwrap()).unwrap();
        assert_eq!(back.net, styled.net);
        assert_eq!(back.meta.styles, vec!["Chorale".to_string()]);
        assert_eq!(back.net.shape(), NetShape::styled(6));
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let bytes = tiny().to_bytes().unwrap();
        assert!(matches!(
            NeuralModel::from_bytes(&[]),
            Err(NeuralError::Empty)
        ));
        assert!(matches!(
            NeuralModel::from_bytes(b"{\"format\":\"continuo-model\"}"),
            Err(NeuralError::WrongMagic)
        ));
        // Truncated anywhere: in the fixed header, in the JSON header, in the weights.
        for cut in [
            10,
            20,
            30,
            bytes.len() / 2,
            bytes.len() - 9,
            bytes.len() - 1,
        ] {
            let e = NeuralModel::from_bytes(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(
                    e,
                    NeuralError::Truncated(_)
                        | NeuralError::Checksum { .. }
                        | NeuralError::WrongMagic
                ),
                "cut at {cut}: {e}"
            );
            if cut > 30 {
                assert!(matches!(e, NeuralError::Truncated(_)), "cut at {cut}: {e}");
            }
        }
        // One flipped bit in the weights: the checksum catches it.
        let mut corrupt = bytes.clone();
        let at = corrupt.len() - 100;
        corrupt[at] ^= 0x10;
        assert!(matches!(
            NeuralModel::from_bytes(&corrupt),
            Err(NeuralError::Checksum { .. })
        ));
        // A newer version.
        let mut newer = bytes.clone();
        newer[16] = 2;
        assert!(matches!(
            NeuralModel::from_bytes(&newer),
            Err(NeuralError::UnsupportedVersion { found: 2, .. })
        ));
        // A network made for other inputs (a valid file of another build).
        let shape = NetShape {
            hidden: 6,
            inputs: N_INPUT + 1,
        };
        let t: Vec<Vec<f32>> = shape
            .tensors()
            .iter()
            .map(|(_, r, c)| vec![0.0; r * c])
            .collect();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        let header = serde_json::to_vec(&NeuralMeta {
            shape: Some(shape),
            ..Default::default()
        })
        .unwrap();
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        for x in t.into_iter().flatten() {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        let sum = fnv1a(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        let e = NeuralModel::from_bytes(&bytes).unwrap_err();
        assert!(matches!(e, NeuralError::Mismatch(_)), "{e}");
        assert!(e.to_string().contains("inputs"), "{e}");
    }
}
