//! Plugin packs: what a team shares between studies — codebooks, Lua
//! strategies, native plugins and presets of stages — under a manifest
//! (`pack.toml`), pinned in a study by `thematic.lock`.
//!
//! This crate is pure: manifests and lockfiles are parsed from text,
//! archives unpacked from bytes in memory (with caps, refusing anything
//! that would land outside the pack), and a pack's identity is the SHA-256
//! of its files' names and contents. Installing, finding and reading packs
//! on disk is the shell's.

mod archive;
mod lock;
mod manifest;

pub use archive::{archive, is_hidden, unpack, ArchiveKind, UnpackedFile};
pub use lock::{Lock, LockedModel, LockedPack, Scope, LOCK_FILE};
pub use manifest::{valid_name, Manifest, PackInfo, PackUse, Preset, Provides, MANIFEST_FILE};

use sha2::{Digest, Sha256};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PackError {
    #[error("{file}:{line}: {message}")]
    Manifest { file: String, line: usize, message: String },
    #[error("pack `{name}` {version} needs thematic {needs}; this is thematic {engine}")]
    Engine {
        name: String,
        version: String,
        needs: String,
        engine: String,
    },
    #[error("pack `{name}` {version} holds plugins for plugin ABI {needs}; this thematic loads ABI {abi}")]
    PluginAbi {
        name: String,
        version: String,
        needs: u32,
        abi: u32,
    },
    #[error("{0}")]
    Archive(String),
    #[error("thematic.lock:{line}: {message}")]
    Lock { line: usize, message: String },
}

/// A pack's identity: the SHA-256 of each file's path (relative, `/`
/// separated) and contents, in path order. Any file added, removed, renamed
/// or changed gives another.
pub fn content_hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut files: Vec<(&str, &[u8])> = files.into_iter().collect();
    files.sort_by_key(|(path, _)| *path);
    let mut hasher = Sha256::new();
    for (path, bytes) in files {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(Sha256::digest(bytes));
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The line of byte `offset` in `text`, from 1.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_names_and_contents_not_order() {
        let a = content_hash([("pack.toml", b"x".as_slice()), ("codebooks/a.csv", b"y".as_slice())]);
        assert_eq!(
            a,
            content_hash([("codebooks/a.csv", b"y".as_slice()), ("pack.toml", b"x".as_slice())])
        );
        assert_ne!(
            a,
            content_hash([("pack.toml", b"x".as_slice()), ("codebooks/b.csv", b"y".as_slice())])
        );
        assert_ne!(
            a,
            content_hash([("pack.toml", b"x".as_slice()), ("codebooks/a.csv", b"z".as_slice())])
        );
        assert_eq!(a.len(), 64);
    }
}
