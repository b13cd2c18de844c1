//! Where a study's files come from when it is planned: the study folder on
//! disk ([`Disk`]), or memory in tests. The plan asks for each file its
//! configuration names through [`StudySource`]; everything it does with what
//! it is given is pure, so it is tested without a file system.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use thematic_lua::Module;
use thematic_packs::LockedPack;

use crate::files::{lua_modules, visible_entries, Entry};
use crate::packs;

/// The files a plan reads. Paths are as the plan builds them (the study's
/// folder joined with what the configuration names); errors are sentences
/// naming the file.
pub trait StudySource {
    /// A text file's contents, which must be UTF-8.
    fn text(&self, path: &Path) -> Result<String, String>;
    /// Whether a file is there.
    fn is_file(&self, path: &Path) -> bool;
    /// A file's bytes (a plugin's library).
    fn bytes(&self, path: &Path) -> Result<Vec<u8>, String>;
    /// The path with links and `..` resolved, for telling what lies inside what.
    fn canonical(&self, path: &Path) -> Result<PathBuf, String>;
    /// The Lua modules below `folder` (see [`lua_modules`]); `shown` is how messages name it.
    fn lua_modules(&self, folder: &Path, shown: &str) -> Result<BTreeMap<String, Module>, String>;
    /// The folder of a locked pack, once its files are checked against the lock.
    fn verified_pack(&self, root: &Path, locked: &LockedPack) -> Result<PathBuf, String>;
    /// Every visible file below `root` outside `skipped` (the outputs), none
    /// where `root` is not there, as
    /// (id: its path below `root`, `/`-separated; path); linked folders
    /// followed, each real folder once.
    fn files_below(&self, root: &Path, skipped: &Path) -> Result<Vec<(String, PathBuf)>, String>;
}

/// The study folder as it is on disk. The only part of planning that does IO.
pub struct Disk;

impl StudySource for Disk {
    fn text(&self, path: &Path) -> Result<String, String> {
        let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        String::from_utf8(bytes).map_err(|e| {
            format!(
                "{}: not valid UTF-8 at byte {}",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        })
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn bytes(&self, path: &Path) -> Result<Vec<u8>, String> {
        fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn canonical(&self, path: &Path) -> Result<PathBuf, String> {
        path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))
    }

    fn lua_modules(&self, folder: &Path, shown: &str) -> Result<BTreeMap<String, Module>, String> {
        lua_modules(folder, shown).map_err(|e| format!("{e:#}"))
    }

    fn verified_pack(&self, root: &Path, locked: &LockedPack) -> Result<PathBuf, String> {
        packs::verified(root, locked)
    }

    fn files_below(&self, root: &Path, skipped: &Path) -> Result<Vec<(String, PathBuf)>, String> {
        let mut found = Vec::new();
        // A folder not made yet (no memos written) holds no files.
        if !root.exists() {
            return Ok(found);
        }
        let mut pending = vec![root.to_path_buf()];
        let mut searched: std::collections::BTreeSet<PathBuf> = root.canonicalize().into_iter().collect();
        while let Some(dir) = pending.pop() {
            for Entry { path, is_dir } in visible_entries(&dir).map_err(|e| format!("{e:#}"))? {
                if path == skipped {
                    continue;
                }
                if is_dir {
                    // Linked folders are followed, each real folder once, so a link
                    // back up the tree cannot loop.
                    if path.canonicalize().is_ok_and(|real| searched.insert(real)) {
                        pending.push(path);
                    }
                } else if let Ok(relative) = path.strip_prefix(root) {
                    found.push((transcript_id(relative), path));
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

/// A source that notes every file and folder the plan asks it for (beyond
/// the listing of transcripts): a change to any of them needs a new plan.
pub struct Noting<'s> {
    source: &'s dyn StudySource,
    asked: RefCell<Asked>,
}

/// The files (and folders, with everything below them) a plan was made from.
#[derive(Debug, Default)]
pub struct Asked {
    files: HashSet<PathBuf>,
    folders: Vec<PathBuf>,
}

impl Asked {
    /// Whether `path` is one of the files asked for, or lies below a folder asked for.
    pub fn covers(&self, path: &Path) -> bool {
        self.files.contains(path) || self.folders.iter().any(|folder| path.starts_with(folder))
    }
}

impl<'s> Noting<'s> {
    pub fn new(source: &'s dyn StudySource) -> Noting<'s> {
        Noting {
            source,
            asked: RefCell::new(Asked::default()),
        }
    }

    pub fn asked(self) -> Asked {
        self.asked.into_inner()
    }

    fn note(&self, file: &Path) {
        self.asked.borrow_mut().files.insert(file.to_path_buf());
    }

    fn note_folder(&self, folder: &Path) {
        self.asked.borrow_mut().folders.push(folder.to_path_buf());
    }
}

impl StudySource for Noting<'_> {
    fn text(&self, path: &Path) -> Result<String, String> {
        self.note(path);
        self.source.text(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.note(path);
        self.source.is_file(path)
    }

    fn bytes(&self, path: &Path) -> Result<Vec<u8>, String> {
        self.note(path);
        self.source.bytes(path)
    }

    fn canonical(&self, path: &Path) -> Result<PathBuf, String> {
        self.note(path);
        self.source.canonical(path)
    }

    fn lua_modules(&self, folder: &Path, shown: &str) -> Result<BTreeMap<String, Module>, String> {
        self.note_folder(folder);
        self.source.lua_modules(folder, shown)
    }

    fn verified_pack(&self, root: &Path, locked: &LockedPack) -> Result<PathBuf, String> {
        // The pack's own folder: the study's root is where the lock says it is installed.
        let folder = self.source.verified_pack(root, locked)?;
        self.note_folder(&folder);
        Ok(folder)
    }

    fn files_below(&self, root: &Path, skipped: &Path) -> Result<Vec<(String, PathBuf)>, String> {
        self.source.files_below(root, skipped)
    }
}

/// The id of the file at `relative` (to the study folder): its path with `/` between folders.
pub fn transcript_id(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// A study folder held in memory, for planning without a file system.
#[cfg(test)]
pub mod in_memory {
    use super::*;

    #[derive(Clone)]
    pub struct InMemory {
        root: PathBuf,
        files: BTreeMap<PathBuf, Vec<u8>>,
    }

    impl InMemory {
        pub fn new(root: &str) -> InMemory {
            InMemory {
                root: PathBuf::from(root),
                files: BTreeMap::new(),
            }
        }

        /// This source with the file at `path` (below the root, or absolute).
        pub fn with(self, path: &str, contents: &str) -> InMemory {
            self.with_bytes(path, contents.as_bytes())
        }

        /// This source with the file at `path` holding `bytes`, which need not be UTF-8.
        pub fn with_bytes(mut self, path: &str, bytes: &[u8]) -> InMemory {
            self.files.insert(normal(&self.root.join(path)), bytes.to_vec());
            self
        }

        fn file(&self, path: &Path) -> Result<&Vec<u8>, String> {
            self.files
                .get(&normal(path))
                .ok_or_else(|| format!("{}: No such file or directory", path.display()))
        }
    }

    /// `a/b/../c` as `a/c`: what resolving links would give where there are none.
    fn normal(path: &Path) -> PathBuf {
        let mut normal = PathBuf::new();
        for part in path.components() {
            match part {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    normal.pop();
                }
                other => normal.push(other),
            }
        }
        normal
    }

    impl StudySource for InMemory {
        fn text(&self, path: &Path) -> Result<String, String> {
            String::from_utf8(self.file(path)?.clone()).map_err(|e| e.to_string())
        }

        fn is_file(&self, path: &Path) -> bool {
            self.files.contains_key(&normal(path))
        }

        fn bytes(&self, path: &Path) -> Result<Vec<u8>, String> {
            self.file(path).cloned()
        }

        fn canonical(&self, path: &Path) -> Result<PathBuf, String> {
            Ok(normal(path))
        }

        fn lua_modules(&self, folder: &Path, shown: &str) -> Result<BTreeMap<String, Module>, String> {
            let folder = normal(folder);
            Ok(self
                .files
                .iter()
                .filter_map(|(path, bytes)| {
                    let name = path.strip_prefix(&folder).ok()?.to_str()?.strip_suffix(".lua")?;
                    let module = Module {
                        path: format!("{shown}/{name}.lua"),
                        source: String::from_utf8_lossy(bytes).into_owned(),
                    };
                    Some((name.replace('/', "."), module))
                })
                .collect())
        }

        fn verified_pack(&self, _: &Path, locked: &LockedPack) -> Result<PathBuf, String> {
            Err(format!("pack `{}` is not installed in memory", locked.name))
        }

        fn files_below(&self, root: &Path, skipped: &Path) -> Result<Vec<(String, PathBuf)>, String> {
            let (root, skipped) = (normal(root), normal(skipped));
            Ok(self
                .files
                .keys()
                .filter(|path| !path.starts_with(&skipped))
                .filter_map(|path| Some((transcript_id(path.strip_prefix(&root).ok()?), path.clone())))
                .collect())
        }
    }
}
