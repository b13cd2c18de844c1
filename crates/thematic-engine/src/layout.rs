//! Where a study keeps what thematic writes for itself.

use std::path::{Path, PathBuf};

/// The folder, inside a study, where thematic keeps its own data.
pub const STATE_DIR: &str = ".thematic";

/// The store of the study in `root`.
pub fn store_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("store.db")
}

/// The sentence embeddings the study's stages keep between runs (a cache).
pub fn embeddings_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("embeddings.db")
}

/// Where packs installed for the study in `root` live.
pub fn study_packs_dir(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("packs")
}
