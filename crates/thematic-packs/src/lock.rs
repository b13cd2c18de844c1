//! `thematic.lock`: which version of each pack a study uses, the SHA-256 of
//! its installed files, where it is installed and whether its native
//! plugins may run. A run checks the installed packs against it;
//! `thematic pack install` and `thematic pack update` change it on purpose.
//! It also pins each sentence-embedding model the study's stages name, by
//! the SHA-256 of its files: the first run that finds a model pins it, a
//! later run refuses another model under that name, and a run lets go of
//! the pins of models no stage names any more.

use serde::{Deserialize, Serialize};

use crate::{line_of, PackError};

pub const LOCK_FILE: &str = "thematic.lock";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    #[serde(default, rename = "pack")]
    pub packs: Vec<LockedPack>,
    #[serde(default, rename = "model", skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<LockedModel>,
}

/// A model a stage names (`model = "NAME"`), pinned by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedModel {
    pub name: String,
    /// The hash of the model's files, as a stage's fingerprint holds it.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPack {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub scope: Scope,
    /// The user allowed its native plugins to run (`--allow-native`).
    #[serde(default)]
    pub native: bool,
}

/// Where a pack is installed: in the study (`.thematic/packs/`) or for the
/// user, shared by studies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Study,
    User,
}

impl Lock {
    pub fn parse(text: &str) -> Result<Lock, PackError> {
        toml::from_str(text).map_err(|e| PackError::Lock {
            line: line_of(text, e.span().map_or(0, |s| s.start)),
            message: e.message().to_string(),
        })
    }

    /// The lockfile's text, packs in name order.
    pub fn to_text(&self) -> String {
        let mut sorted = self.clone();
        sorted.packs.sort_by(|a, b| a.name.cmp(&b.name));
        sorted.models.sort_by(|a, b| a.name.cmp(&b.name));
        let body = toml::to_string(&sorted).unwrap_or_default();
        format!("# Written by thematic: the packs and models this study uses, pinned. `thematic pack update NAME` changes a pack on purpose; to use another model under a pinned name, delete its model entry.\n\n{body}")
    }

    pub fn get(&self, name: &str) -> Option<&LockedPack> {
        self.packs.iter().find(|p| p.name == name)
    }

    /// Pins `pack`, in place of any earlier pin of the same name.
    pub fn pin(&mut self, pack: LockedPack) {
        self.packs.retain(|p| p.name != pack.name);
        self.packs.push(pack);
    }

    pub fn model(&self, name: &str) -> Option<&LockedModel> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn unpin(&mut self, name: &str) -> bool {
        let before = self.packs.len();
        self.packs.retain(|p| p.name != name);
        self.packs.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_reads_back_as_written() {
        let mut lock = Lock::default();
        lock.pin(LockedPack {
            name: "b".into(),
            version: "1.0.0".into(),
            sha256: "00".into(),
            scope: Scope::User,
            native: true,
        });
        lock.pin(LockedPack {
            name: "a".into(),
            version: "2.1.0".into(),
            sha256: "11".into(),
            scope: Scope::Study,
            native: false,
        });
        let text = lock.to_text();
        assert!(text.find("name = \"a\"") < text.find("name = \"b\""), "{text}");
        assert_eq!(Lock::parse(&text).unwrap().get("b"), lock.get("b"));
        assert!(!text.contains("[[model]]"), "a study without models pins none: {text}");
        lock.models.push(LockedModel {
            name: "all-MiniLM-L6-v2".into(),
            sha256: "22".into(),
        });
        let text = lock.to_text();
        assert_eq!(
            Lock::parse(&text).unwrap().model("all-MiniLM-L6-v2"),
            lock.model("all-MiniLM-L6-v2")
        );
        assert!(lock.unpin("a") && !lock.unpin("a"));
        match Lock::parse("[[pack]]\nname = \"a\"\nversion = 1\n") {
            Err(PackError::Lock { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
