//! Model files: the long-term model's counts plus the training metadata and evaluation figures,
//! as JSON, optionally gzip-compressed (detected from the first bytes). Versioned; every way a
//! file can be wrong gives a [`ModelError`] saying which.

use super::eval::Scores;
use super::ppm::Ppm;
use super::predictor::{LongTermModel, ModelConfig};
use super::viewpoints::Viewpoint;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

/// The `format` field every model file carries.
pub const FORMAT: &str = "continuo-model";
/// The version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Model files (as stored, compressed or not) larger than this are refused.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;
/// Decompressed model JSON larger than this is refused (guards against gzip bombs).
pub const MAX_JSON_BYTES: usize = 512 * 1024 * 1024;

/// Why a model file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the model file is empty")]
    Empty,
    #[error("the model file is too large ({size} bytes; the limit is {limit})")]
    TooLarge { size: usize, limit: usize },
    #[error("the model file is not valid gzip: {0}")]
    Gzip(std::io::Error),
    #[error("the model file is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("this is not a Continuo model file (format {0:?})")]
    WrongFormat(String),
    #[error("the model file has format version {found}; this build reads version {supported} (a newer Continuo wrote it?)")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("the model file is inconsistent: {0}")]
    Invalid(String),
    #[error("cannot read or write the model file: {0}")]
    Io(#[from] std::io::Error),
}

/// How the model was trained (stored in the file). Fields added after version 1 was first written
/// default when a file lacks them, so older files load.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TrainingMeta {
    /// The style's name as the editor and the CLI show it ("Airs", "My style"; "" = unnamed).
    pub name: String,
    /// Where the melodies come from and their copyright status, in words.
    pub provenance: String,
    /// The corpus folder(s), as given to `continuo train` (joined by ", ").
    pub corpus: String,
    /// File-name patterns the corpus was filtered with (`--include`; empty = every file).
    pub include: Vec<String>,
    /// The command line that made the model.
    pub command: String,
    /// UTC time of training (ISO 8601).
    pub date: String,
    /// Files read / used for training / held out / skipped as broken.
    pub files: usize,
    pub train_files: usize,
    pub held_out_files: usize,
    pub broken_files: usize,
    pub train_melodies: usize,
    pub train_notes: usize,
    pub seed: u64,
    pub holdout: f64,
    /// Names (relative to the corpus folder) of the held-out files, for `eval --holdout-of-train`.
    pub held_out: Vec<String>,
    pub training_seconds: f64,
    pub notes_per_second: f64,
    /// Contexts of this order or longer seen fewer than `prune_min_count` times were dropped.
    pub prune_from_order: usize,
    pub prune_min_count: u32,
}

/// A trained model: the long-term model and what is known about it.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    pub meta: TrainingMeta,
    /// Figures measured on the held-out files at training time.
    pub evaluation: Vec<Scores>,
    pub ltm: Arc<LongTermModel>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    format: String,
    version: u32,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ViewpointCounts {
    viewpoint: Viewpoint,
    max_order: usize,
    /// [`Ppm::export`] layout.
    counts: Vec<u32>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ModelFile {
    format: String,
    version: u32,
    meta: TrainingMeta,
    evaluation: Vec<Scores>,
    config: ModelConfig,
    viewpoints: Vec<ViewpointCounts>,
}

impl TrainedModel {
    /// The default model shipped with the plugin: the Blend style (trained on the project corpus
    /// by `continuo train`; see its metadata).
    pub fn embedded() -> anyhow::Result<Self> {
        Ok(super::styles::BUNDLED[0].load()?)
    }

    /// A model with no corpus counts (predictions come from the short-term model alone).
    pub fn untrained(config: ModelConfig) -> Self {
        Self {
            meta: TrainingMeta::default(),
            evaluation: Vec::new(),
            ltm: Arc::new(LongTermModel::new(config)),
        }
    }

    /// The file's JSON (decompressed when gzip), its format and version checked.
    fn checked_json(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, ModelError> {
        if bytes.is_empty() {
            return Err(ModelError::Empty);
        }
        if bytes.len() > MAX_FILE_BYTES {
            return Err(ModelError::TooLarge {
                size: bytes.len(),
                limit: MAX_FILE_BYTES,
            });
        }
        let json: std::borrow::Cow<[u8]> = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            GzDecoder::new(bytes)
                .take(MAX_JSON_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(ModelError::Gzip)?;
            if out.len() > MAX_JSON_BYTES {
                return Err(ModelError::TooLarge {
                    size: out.len(),
                    limit: MAX_JSON_BYTES,
                });
            }
            if out.is_empty() {
                return Err(ModelError::Empty);
            }
            out.into()
        } else {
            bytes.into()
        };
        let header: Header = serde_json::from_slice(&json)?;
        if header.format != FORMAT {
            return Err(ModelError::WrongFormat(header.format));
        }
        if header.version != FORMAT_VERSION {
            return Err(ModelError::UnsupportedVersion {
                found: header.version,
                supported: FORMAT_VERSION,
            });
        }
        Ok(json)
    }

    /// Only the training metadata of a model file (its name, for listings), the format and
    /// version checked; the counts are skipped, not validated.
    pub fn meta_from_bytes(bytes: &[u8]) -> Result<TrainingMeta, ModelError> {
        #[derive(serde::Deserialize)]
        struct MetaOnly {
            meta: TrainingMeta,
        }
        let json = Self::checked_json(bytes)?;
        Ok(serde_json::from_slice::<MetaOnly>(&json)?.meta)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let json = Self::checked_json(bytes)?;
        let file: ModelFile = serde_json::from_slice(&json)?;
        file.config.validate().map_err(ModelError::Invalid)?;
        let wanted: Vec<Viewpoint> = file.config.viewpoints().collect();
        let found: Vec<Viewpoint> = file.viewpoints.iter().map(|v| v.viewpoint).collect();
        if wanted != found {
            return Err(ModelError::Invalid(format!(
                "counts for {found:?}, configuration lists {wanted:?}"
            )));
        }
        let mut ppms = Vec::with_capacity(file.viewpoints.len());
        for vc in &file.viewpoints {
            if vc.max_order != file.config.max_order {
                return Err(ModelError::Invalid(format!(
                    "{} has order {}",
                    vc.viewpoint.name(),
                    vc.max_order
                )));
            }
            let ppm = Ppm::import(vc.max_order, vc.viewpoint.alphabet(), &vc.counts)
                .map_err(|e| ModelError::Invalid(format!("{}: {e}", vc.viewpoint.name())))?;
            ppms.push(Arc::new(ppm));
        }
        Ok(Self {
            meta: file.meta,
            evaluation: file.evaluation,
            ltm: Arc::new(LongTermModel {
                config: file.config,
                ppms,
            }),
        })
    }

    /// The file contents: gzip-compressed JSON when `compress`, plain JSON otherwise.
    pub fn to_bytes(&self, compress: bool) -> Result<Vec<u8>, ModelError> {
        let (from, min) = (self.meta.prune_from_order, self.meta.prune_min_count);
        let file = ModelFile {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            meta: self.meta.clone(),
            evaluation: self.evaluation.clone(),
            config: self.ltm.config.clone(),
            viewpoints: self
                .ltm
                .config
                .viewpoints()
                .zip(self.ltm.ppms.iter())
                .map(|(viewpoint, ppm)| ViewpointCounts {
                    viewpoint,
                    max_order: ppm.max_order(),
                    counts: ppm.export(from, min),
                })
                .collect(),
        };
        let json = serde_json::to_vec(&file)?;
        if !compress {
            return Ok(json);
        }
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&json)?;
        Ok(enc.finish()?)
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let size = std::fs::metadata(path)?.len();
        if size > MAX_FILE_BYTES as u64 {
            return Err(ModelError::TooLarge {
                size: size as usize,
                limit: MAX_FILE_BYTES,
            });
        }
        Self::from_bytes(&std::fs::read(path)?)
    }

    /// Saves as gzip-compressed JSON when the name ends in `.gz`, plain JSON otherwise.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        let gz = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
        std::fs::write(path, self.to_bytes(gz)?)?;
        Ok(())
    }
}

/// Now as an ISO 8601 UTC timestamp (no time-zone crate needed).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::note::Event;
    use crate::model::train::{train, Sequence};
    use crate::music::KeySignature;

    fn small_model() -> TrainedModel {
        let ev = |pitch| Event {
            pitch,
            rhythm: 8,
            phase: 0,
        };
        let seq = Sequence {
            events: [60, 62, 64, 62, 60, 67].map(ev).to_vec(),
            key: KeySignature::default(),
        };
        let cfg = ModelConfig {
            max_order: 3,
            ..ModelConfig::default()
        };
        let mut m = TrainedModel::untrained(cfg.clone());
        m.ltm = Arc::new(train(cfg, [&seq]));
        m.meta.corpus = "tiny".into();
        m
    }

    #[test]
    fn round_trips() {
        let m = small_model();
        for compress in [false, true] {
            let bytes = m.to_bytes(compress).unwrap();
            let back = TrainedModel::from_bytes(&bytes).unwrap();
            assert_eq!(back.meta, m.meta);
            assert_eq!(back.to_bytes(compress).unwrap(), bytes);
        }
        let dir = std::env::temp_dir().join(format!("continuo-model-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.json.gz");
        m.save(&path).unwrap();
        assert_eq!(TrainedModel::load(&path).unwrap().meta, m.meta);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_files_give_clear_errors() {
        let good = String::from_utf8(small_model().to_bytes(false).unwrap()).unwrap();
        assert!(matches!(
            TrainedModel::from_bytes(b""),
            Err(ModelError::Empty)
        ));
        assert!(matches!(
            TrainedModel::from_bytes(b"{\"format\": "),
            Err(ModelError::Json(_))
        ));
        assert!(matches!(
            TrainedModel::from_bytes(&[0x1f, 0x8b, 8, 0, 1, 2, 3]),
            Err(ModelError::Gzip(_))
        ));
        let future = good.replacen(
            &format!("\"version\":{FORMAT_VERSION}"),
            "\"version\":99",
            1,
        );
        let e = TrainedModel::from_bytes(future.as_bytes()).unwrap_err();
        assert!(
            matches!(e, ModelError::UnsupportedVersion { found: 99, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("99"));
        let other = good.replacen(FORMAT, "something-else", 1);
        assert!(matches!(
            TrainedModel::from_bytes(other.as_bytes()),
            Err(ModelError::WrongFormat(_))
        ));
        let huge = vec![b' '; MAX_FILE_BYTES + 1];
        assert!(matches!(
            TrainedModel::from_bytes(&huge),
            Err(ModelError::TooLarge { .. })
        ));
        // Counts that do not fit the alphabet.
        let bad = good.replacen("\"counts\":[0,", "\"counts\":[0,1,99999,", 1);
        assert!(
            matches!(
                TrainedModel::from_bytes(bad.as_bytes()),
                Err(ModelError::Invalid(_))
            ),
            "{bad:.200}"
        );
        assert!(TrainedModel::from_bytes(&good.as_bytes()[..good.len() / 2]).is_err());
        assert!(matches!(
            TrainedModel::load("/nonexistent/model.json"),
            Err(ModelError::Io(_))
        ));
    }

    #[test]
    fn dates() {
        let d = utc_now();
        assert_eq!(d.len(), 20);
        assert!(d.starts_with("20"));
    }
}
