//! Sentence-embedding models on disk: a model folder read and loaded, and
//! the user's model store (`thematic model add`, `list`, `fetch`), where a
//! stage's `model = "NAME"` is found when the study's own `models/` folder
//! does not hold it. Each stored model carries a manifest of its files'
//! SHA-256 sums and the model's hash, which `thematic.lock` pins.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use thematic_embed::{
    Embedder, ModelFiles, CONFIG_FILE, POOLING_FILE, SENTENCE_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE,
};
use thematic_packs::UnpackedFile;

use crate::files::sha256_hex;
use crate::packs::{install_files, user_data_dir};

/// A model's hash: each of its files' SHA-256, in [`MODEL_FILES`] order, hashed together.
pub fn model_hash<'b>(files: impl IntoIterator<Item = (&'b str, &'b [u8])>) -> String {
    let lines: String = files
        .into_iter()
        .map(|(file, bytes)| format!("{file} {}\n", sha256_hex(bytes)))
        .collect();
    sha256_hex(lines.as_bytes())
}

/// The files of a model folder thematic reads, and whether each must be there.
pub const MODEL_FILES: [(&str, bool); 5] = [
    (thematic_embed::CONFIG_FILE, true),
    (thematic_embed::POOLING_FILE, true),
    (thematic_embed::TOKENIZER_FILE, true),
    (thematic_embed::WEIGHTS_FILE, true),
    (thematic_embed::SENTENCE_CONFIG_FILE, false),
];

/// The study's folder of models, by name.
pub const MODELS_DIR: &str = "models";

/// The manifest a stored model carries beside its files.
pub const MODEL_MANIFEST: &str = "thematic-model.toml";

/// What the store knows of a model: its name, its hash (as fingerprints and
/// `thematic.lock` hold it) and each file's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    pub name: String,
    pub sha256: String,
    pub files: BTreeMap<String, String>,
}

/// A model folder's files, read: every one of [`MODEL_FILES`] it has, in that order.
pub struct ModelFolder {
    files: Vec<(&'static str, Vec<u8>)>,
}

impl ModelFolder {
    /// Reads `folder`; a file the model needs that is missing or unreadable is named.
    pub fn read(folder: &Path) -> Result<ModelFolder, String> {
        let mut files = Vec::with_capacity(MODEL_FILES.len());
        for (file, required) in MODEL_FILES {
            match fs::read(folder.join(file)) {
                Ok(bytes) => files.push((file, bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(format!("{file} is missing")),
                Err(e) => return Err(format!("{file}: {e}")),
            }
        }
        Ok(ModelFolder { files })
    }

    /// The model's hash, as [`model_hash`] makes it.
    pub fn hash(&self) -> String {
        model_hash(self.files.iter().map(|(file, bytes)| (*file, bytes.as_slice())))
    }

    fn file(&self, name: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, bytes)| bytes.as_slice())
    }

    /// The model loaded; an error names the file at fault.
    pub fn load(&self) -> Result<Embedder, String> {
        let required = |name: &str| self.file(name).ok_or_else(|| format!("{name} is missing"));
        Embedder::load(ModelFiles {
            config: required(CONFIG_FILE)?,
            pooling: required(POOLING_FILE)?,
            tokenizer: required(TOKENIZER_FILE)?,
            sentence_config: self.file(SENTENCE_CONFIG_FILE),
            weights: required(WEIGHTS_FILE)?.to_vec(),
        })
        .map_err(|e| e.to_string())
    }
}

/// Where models are stored for the user: `$THEMATIC_DATA_DIR/models`, else
/// the platform's data folder (`~/.local/share/thematic/models` on Linux).
pub fn user_models_dir() -> Result<PathBuf> {
    Ok(user_data_dir()?.join("models"))
}

/// A model in the store.
pub struct StoredModel {
    pub manifest: ModelManifest,
    pub folder: PathBuf,
    /// Whether this call put it there (not there already, the same).
    pub added: bool,
}

/// Checks the model folder `source` (every file there, the network loads)
/// and puts it in the store as `name` (else the folder's own name), whole or
/// not at all, with its manifest. The same model again is left as it is; a
/// different one under a stored name is refused.
pub fn add(source: &Path, name: Option<&str>) -> Result<StoredModel> {
    let name = match name {
        Some(name) => name.to_string(),
        None => source
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .with_context(|| format!("{}: name the model with --name", source.display()))?,
    };
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
        bail!("model name `{name}`: a model's name is a folder name (no `/` or `\\`, not starting with `.`)");
    }
    let folder = ModelFolder::read(source).map_err(|e| anyhow::anyhow!("model {}: {e}", source.display()))?;
    folder
        .load()
        .map_err(|e| anyhow::anyhow!("model {}: {e}", source.display()))?;
    let manifest = ModelManifest {
        name: name.clone(),
        sha256: folder.hash(),
        files: folder
            .files
            .iter()
            .map(|(file, bytes)| (file.to_string(), sha256_hex(bytes)))
            .collect(),
    };
    let destination = user_models_dir()?.join(&name);
    if destination.exists() && read_manifest(&destination).is_err() {
        bail!(
            "{} is in the model store but holds no readable {MODEL_MANIFEST}; move it away, or add this model under another name with --name",
            destination.display()
        );
    }
    if let Ok(stored) = read_manifest(&destination) {
        if stored.sha256 != manifest.sha256 {
            bail!(
                "a different model is stored as `{name}` ({}, sha256 {}); add this one under another name with --name",
                destination.display(),
                stored.sha256
            );
        }
        return Ok(StoredModel {
            manifest,
            folder: destination,
            added: false,
        });
    }
    let manifest_text = toml::to_string(&manifest).context("writing the model's manifest")?;
    let mut files: Vec<UnpackedFile> = folder
        .files
        .into_iter()
        .map(|(file, bytes)| UnpackedFile {
            path: file.to_string(),
            bytes,
        })
        .collect();
    files.push(UnpackedFile {
        path: MODEL_MANIFEST.to_string(),
        bytes: manifest_text.into_bytes(),
    });
    install_files(&files, &destination)?;
    Ok(StoredModel {
        manifest,
        folder: destination,
        added: true,
    })
}

fn read_manifest(folder: &Path) -> Result<ModelManifest> {
    let path = folder.join(MODEL_MANIFEST);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))
}

/// Every model in the store, by name; a folder without a readable manifest is named as such.
pub fn list() -> Result<Vec<Result<StoredModel, String>>> {
    let store = user_models_dir()?;
    let entries = match fs::read_dir(&store) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", store.display())),
    };
    let mut folders: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    folders.sort();
    Ok(folders
        .into_iter()
        .map(|folder| match read_manifest(&folder) {
            Ok(manifest) => Ok(StoredModel {
                manifest,
                folder,
                added: false,
            }),
            Err(e) => Err(format!("{e:#}")),
        })
        .collect())
}

/// Downloads the model `name` (`owner/name`, or a sentence-transformers
/// model by its bare name) from the Hugging Face hub and adds it to the
/// store under its bare name, checked as `add` checks any folder.
pub fn fetch(name: &str) -> Result<StoredModel> {
    let folder = thematic_hub::download(name, &MODEL_FILES)?;
    let stored_as = name.rsplit('/').next().unwrap_or(name);
    add(&folder, Some(stored_as))
}
