//! The study's embedding cache (`.thematic/embeddings.db`) as a stage of
//! one model sees it: texts in, vectors out, keyed by the model's hash and
//! each text's SHA-256. Opened only when there is something to find or keep,
//! so that a study that never embeds has no such file; a cache that fails is
//! logged and the stage embeds as it would without it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};
use thematic_embed::KeptEmbeddings;
use thematic_store::{EmbeddingCache, SentenceKey};

use crate::layout::embeddings_path;

pub struct StudyEmbeddings {
    path: PathBuf,
    model: String,
    cache: Mutex<Option<EmbeddingCache>>,
    /// The first thing that went wrong since the last look; later ones are
    /// most often the same.
    problem: Mutex<Option<String>>,
}

impl StudyEmbeddings {
    /// The cache of the study in `root`, for the model with hash `model`.
    pub fn new(root: &Path, model: &str) -> StudyEmbeddings {
        StudyEmbeddings {
            path: embeddings_path(root),
            // The engine's version and the forward pass's too: either may embed the same text otherwise.
            model: format!(
                "{model} {} {}",
                env!("CARGO_PKG_VERSION"),
                thematic_embed::forward_pass()
            ),
            cache: Mutex::new(None),
            problem: Mutex::new(None),
        }
    }

    /// Notes `what` went wrong, for the run summary and the log.
    fn failed(&self, what: String) {
        tracing::warn!("{what}");
        let mut problem = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        problem.get_or_insert(format!(
            "{what} ({}); sentences are embedded anew where it fails",
            self.path.display()
        ));
    }

    /// Runs `work` on the cache, opened (and, when `create`, made) first if need be.
    fn with_cache<T>(&self, create: bool, work: impl FnOnce(&mut EmbeddingCache) -> Option<T>) -> Option<T> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.is_none() {
            if !create && !self.path.is_file() {
                return None;
            }
            if let Some(folder) = self.path.parent() {
                if let Err(e) = fs::create_dir_all(folder) {
                    self.failed(format!("the embedding cache is not used: {e}"));
                    return None;
                }
            }
            match EmbeddingCache::open(&self.path) {
                Ok(opened) => *cache = Some(opened),
                Err(e) => {
                    self.failed(format!("the embedding cache is not used: {e}"));
                    return None;
                }
            }
        }
        work(cache.as_mut()?)
    }
}

/// Empties the study's embedding cache, if it has one, leaving no trace in
/// its files; a cache that cannot be emptied is deleted, files and log.
pub fn forget_all(root: &Path) -> anyhow::Result<()> {
    let path = embeddings_path(root);
    if !path.is_file() {
        return Ok(());
    }
    let cleared = EmbeddingCache::open(&path).and_then(|cache| cache.clear());
    if cleared.is_err() {
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            match fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(anyhow::anyhow!("deleting the embedding cache {}: {e}", file.display()))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn key_of(text: &str) -> SentenceKey {
    Sha256::digest(text.as_bytes()).into()
}

impl KeptEmbeddings for StudyEmbeddings {
    fn find(&self, texts: &[&str]) -> Vec<Option<Vec<f32>>> {
        let keys: Vec<SentenceKey> = texts.iter().map(|t| key_of(t)).collect();
        let found = self.with_cache(false, |cache| {
            cache
                .find(&self.model, &keys)
                .map_err(|e| self.failed(format!("the embedding cache could not be read: {e}")))
                .ok()
        });
        found.unwrap_or_else(|| vec![None; texts.len()])
    }

    fn take_problems(&self) -> Vec<String> {
        let mut problem = self.problem.lock().unwrap_or_else(PoisonError::into_inner);
        problem.take().into_iter().collect()
    }

    fn keep(&self, made: &[(&str, &[f32])]) {
        let keyed: Vec<(SentenceKey, &[f32])> = made.iter().map(|(t, v)| (key_of(t), *v)).collect();
        self.with_cache(true, |cache| {
            cache
                .keep(&self.model, &keyed)
                .map_err(|e| self.failed(format!("the embedding cache could not be written: {e}")))
                .ok()
        });
    }
}
