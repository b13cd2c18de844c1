//! Plugin packs on disk: reading a pack from a folder or an archive,
//! installing it (in the study's `.thematic/packs/` or for the user, shared
//! by studies), the study's `thematic.lock`, and the check that an
//! installed pack is still the one the lock pins.
//!
//! Installing writes the whole pack into a temporary folder beside its
//! place and renames it into place: a failed install leaves nothing behind.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use thematic_packs::{
    content_hash, is_hidden, unpack, ArchiveKind, Lock, LockedPack, Manifest, Scope, UnpackedFile, LOCK_FILE,
    MANIFEST_FILE,
};

use crate::files::write_atomic;
pub use crate::layout::study_packs_dir;

/// Where thematic keeps what is the user's rather than a study's:
/// `$THEMATIC_DATA_DIR`, else the platform's data folder
/// (`~/.local/share/thematic` on Linux).
pub fn user_data_dir() -> Result<PathBuf> {
    Ok(match std::env::var_os("THEMATIC_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => dirs::data_dir()
            .context("this platform names no data folder for what thematic keeps for the user; set THEMATIC_DATA_DIR")?
            .join("thematic"),
    })
}

/// Where packs are installed for the user: `packs` in [`user_data_dir`].
pub fn user_packs_dir() -> Result<PathBuf> {
    Ok(user_data_dir()?.join("packs"))
}

/// The folder a pack of this scope, name and version is installed in.
pub fn installed_dir(root: &Path, scope: Scope, name: &str, version: &str) -> Result<PathBuf> {
    let base = match scope {
        Scope::Study => study_packs_dir(root),
        Scope::User => user_packs_dir()?,
    };
    Ok(base.join(format!("{name}-{version}")))
}

/// A pack's files, from a folder or a `.zip`/`.tar.gz` archive.
pub fn read_source(source: &Path) -> Result<Vec<UnpackedFile>> {
    if source.is_dir() {
        return read_folder(source);
    }
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(kind) = ArchiveKind::of(&name) else {
        bail!("{}: not a pack folder, `.zip` or `.tar.gz`", source.display());
    };
    let bytes = fs::read(source).with_context(|| format!("reading {}", source.display()))?;
    unpack(kind, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))
}

/// Every file below `folder` but hidden ones (`.git`, as in archives), with
/// paths relative to it. A link is followed only if it stays inside the
/// folder, and each real folder is read once (a link to a parent is no loop).
pub fn read_folder(folder: &Path) -> Result<Vec<UnpackedFile>> {
    let root = folder
        .canonicalize()
        .with_context(|| format!("reading {}", folder.display()))?;
    let mut files = Vec::new();
    let mut seen = std::collections::BTreeSet::from([root.clone()]);
    let mut pending = vec![(root.clone(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                bail!(
                    "{}: a file name that is not UTF-8 (archives refuse them too)",
                    path.display()
                );
            };
            let relative = format!("{prefix}{name}");
            if is_hidden(&relative) {
                continue;
            }
            let real = path
                .canonicalize()
                .with_context(|| format!("reading {}", path.display()))?;
            if !real.starts_with(&root) {
                bail!("{}: a link leading outside the pack", path.display());
            }
            if real.is_dir() {
                if seen.insert(real.clone()) {
                    pending.push((real, format!("{relative}/")));
                }
            } else {
                let bytes = fs::read(&real).with_context(|| format!("reading {}", path.display()))?;
                files.push(UnpackedFile { path: relative, bytes });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The pack's manifest, from its files.
pub fn manifest_of(files: &[UnpackedFile], shown: &str) -> Result<Manifest> {
    let Some(manifest) = files.iter().find(|f| f.path == MANIFEST_FILE) else {
        bail!("{shown}: no {MANIFEST_FILE} at the top of the pack");
    };
    let text = std::str::from_utf8(&manifest.bytes).with_context(|| format!("{shown}/{MANIFEST_FILE}: not UTF-8"))?;
    Ok(Manifest::parse(&format!("{shown}/{MANIFEST_FILE}"), text)?)
}

pub fn hash_of(files: &[UnpackedFile]) -> String {
    content_hash(files.iter().map(|f| (f.path.as_str(), f.bytes.as_slice())))
}

/// Writes a pack's (or a stored model's) files into `destination`, whole or
/// not at all: into a temporary folder beside it first, then renamed into
/// place (replacing an earlier copy of the same version).
pub fn install_files(files: &[UnpackedFile], destination: &Path) -> Result<()> {
    let parent = destination.parent().context("an installed folder has a parent")?;
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".installing-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary folder in {}", parent.display()))?;
    for file in files {
        let path = staging.path().join(&file.path);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
        }
        fs::write(&path, &file.bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    // An earlier copy is set aside, not deleted, until the new one is in place.
    let set_aside = match destination.exists() {
        true => {
            let old = tempfile::Builder::new().prefix(".replaced-").tempdir_in(parent)?;
            fs::rename(destination, old.path().join("pack"))
                .with_context(|| format!("replacing {}", destination.display()))?;
            Some(old)
        }
        false => None,
    };
    if let Err(e) = fs::rename(staging.path(), destination) {
        if let Some(old) = &set_aside {
            let _ = fs::rename(old.path().join("pack"), destination);
        }
        return Err(e).with_context(|| format!("moving the pack into {}", destination.display()));
    }
    // Renamed away: the temporary folder is the pack now, and must not be cleaned up.
    let _ = staging.keep();
    Ok(())
}

pub fn read_lock(root: &Path) -> Result<Lock> {
    let path = root.join(LOCK_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => Lock::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", root.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

pub fn write_lock(root: &Path, lock: &Lock) -> Result<()> {
    write_atomic(&root.join(LOCK_FILE), lock.to_text().as_bytes())
}

/// The folder of a locked pack, once its files are checked against the lock.
pub fn verified(root: &Path, locked: &LockedPack) -> Result<PathBuf, String> {
    let dir = installed_dir(root, locked.scope, &locked.name, &locked.version).map_err(|e| e.to_string())?;
    if !dir.is_dir() {
        return Err(format!(
            "pack `{}` {} is locked in {LOCK_FILE} but not installed ({}); install it with `thematic pack install`",
            locked.name,
            locked.version,
            dir.display()
        ));
    }
    let files = read_folder(&dir).map_err(|e| format!("{e:#}"))?;
    if hash_of(&files) != locked.sha256 {
        return Err(format!(
            "pack `{}` {} in {} is not what {LOCK_FILE} pins (a file was changed, added or removed); install it again, or accept it with `thematic pack update {}`",
            locked.name,
            locked.version,
            dir.display(),
            locked.name
        ));
    }
    dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))
}
