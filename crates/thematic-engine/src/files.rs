//! Reading inputs and writing outputs. Every output goes through [`write_atomic`].

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use thematic_codebook::Codebook;
use thematic_formats::{Document, Format};

/// Decodes a transcript: UTF-8, with a leading byte-order mark dropped.
/// The error names the file and the byte offset of the first bad byte.
pub fn decode_transcript<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, String> {
    let (body, skipped) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, 3),
        None => (bytes, 0),
    };
    std::str::from_utf8(body).map_err(|e| {
        format!(
            "{}: not valid UTF-8 at byte {}",
            path.display(),
            e.valid_up_to() + skipped
        )
    })
}

/// Reads a file into `buffer`, replacing what it held (so a worker can reuse one allocation).
pub fn read_into(path: &Path, buffer: &mut Vec<u8>) -> Result<(), String> {
    use std::io::Read;
    buffer.clear();
    fs::File::open(path)
        .and_then(|mut file| file.read_to_end(buffer))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

/// Larger than any interview's transcript: a file past it is refused
/// before it is read, so a stray export or log cannot fill memory.
const MAX_TRANSCRIPT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a transcript file in the format its extension names (text for
/// any other): see [`thematic_formats`]. The error names the file and the
/// place in it.
pub fn read_document(path: &Path) -> Result<Document, String> {
    let size = fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if size > MAX_TRANSCRIPT_BYTES {
        return Err(format!(
            "{}: {} MiB, more than the {} MiB a transcript may be (a three-hour interview is well under 1 MiB); split it, or check that it is a transcript",
            path.display(),
            size / (1024 * 1024),
            MAX_TRANSCRIPT_BYTES / (1024 * 1024)
        ));
    }
    let mut bytes = Vec::new();
    read_into(path, &mut bytes)?;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let format = Format::of(&name).unwrap_or(Format::Text);
    thematic_formats::read(format, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// A transcript file's text, as it is analysed (turns a file marks itself
/// written out as `Speaker: text`).
pub fn read_transcript(path: &Path) -> Result<String, String> {
    read_document(path).map(Document::into_text)
}

/// Writes `contents` so that a reader sees the old file or the new one, never
/// half of it: see [`write_atomic_with`].
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(contents))
}

/// Writes a file with `write` so that a reader sees the old file or the new
/// one, never half of it: a temporary file in the same folder, written
/// (and synced as it grows), synced, renamed over the target, and the folder
/// synced. When `write` fails the target is untouched and the temporary file
/// removed.
pub fn write_atomic_with<T>(path: &Path, write: impl FnOnce(&mut SyncedAsItGrows) -> std::io::Result<T>) -> Result<T> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".thematic-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut file = SyncedAsItGrows {
        file: temp.as_file_mut(),
        unsynced: 0,
    };
    let written = write(&mut file).with_context(|| format!("writing {}", path.display()))?;
    // A file written again keeps who may read it; a new one is its owner's
    // alone until they say otherwise (a redaction key among them).
    if let Ok(old) = fs::metadata(path) {
        temp.as_file()
            .set_permissions(old.permissions())
            .with_context(|| format!("keeping the permissions of {}", path.display()))?;
    }
    temp.as_file()
        .sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    if let Ok(folder) = fs::File::open(dir) {
        // Makes the rename itself durable; not every platform can sync a folder.
        let _ = folder.sync_all();
    }
    Ok(written)
}

/// A file being written that is synced to disk each time another
/// [`SYNC_EVERY`] bytes are written: a large export's last sync, before it
/// replaces the old file, then waits for only the last of it, and the rest
/// went to disk while the export was still being made.
pub struct SyncedAsItGrows<'f> {
    file: &'f mut fs::File,
    unsynced: usize,
}

/// How many bytes are written between syncs.
const SYNC_EVERY: usize = 32 << 20;

impl Write for SyncedAsItGrows<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(bytes)?;
        self.unsynced += written;
        if self.unsynced >= SYNC_EVERY {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Seek for SyncedAsItGrows<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.file.seek(to)
    }
}

/// The `.txt` and `.md` files directly inside `dir`, sorted by name.
pub fn transcript_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = visible_entries(dir)?
        .into_iter()
        .map(|entry| entry.path)
        .filter(|p| p.is_file() && is_transcript_extension(p))
        .collect();
    files.sort();
    Ok(files)
}

/// An entry of a folder.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub path: PathBuf,
    /// A folder, or a link to one.
    pub is_dir: bool,
}

/// The entries of a folder, leaving out hidden ones (`.name`): editors'
/// swap files, version control, thematic's own `.thematic/`, Word's lock files. What kind each
/// is comes with the listing, so a study of thousands of files is not
/// looked at file by file.
pub fn visible_entries(dir: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading the folder {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading the folder {}", dir.display()))?;
        let path = entry.path();
        // Word's lock files (`~$name.docx`) sit beside a document while it is open.
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n.starts_with("~$"));
        if !hidden {
            let is_dir = match entry.file_type() {
                Ok(kind) if !kind.is_symlink() => kind.is_dir(),
                _ => path.is_dir(),
            };
            entries.push(Entry { path, is_dir });
        }
    }
    Ok(entries)
}

pub fn is_transcript_extension(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("txt" | "md")
    )
}

/// Loads a codebook, CSV or TOML by its extension, with the SHA-256 of the
/// bytes it was parsed from.
pub fn load_codebook(path: &Path) -> Result<(Codebook, String)> {
    let bytes = fs::read(path).with_context(|| format!("reading the codebook {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not valid UTF-8 at byte {}",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let source = path.display().to_string();
    let book = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("toml") => Codebook::from_toml(&source, &text),
        _ => Codebook::from_csv(&source, &text),
    };
    Ok((book?, sha256_hex(text.as_bytes())))
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// How deep below the scripts folder modules are looked for, and how many are taken.
const MODULE_DEPTH: usize = 4;
const MAX_MODULES: usize = 1000;

/// The Lua modules under `dir` (not following links out of it), by module
/// name: `helpers.lua` is `helpers`, `lexicons/emotion.lua` is `lexicons.emotion`.
/// `shown` is how messages name `dir`. A module that cannot be used (not
/// UTF-8, or two files with one module name) becomes one that raises the
/// reason when required, so that it troubles only a script that needs it.
pub fn lua_modules(dir: &Path, shown: &str) -> Result<std::collections::BTreeMap<String, thematic_lua::Module>> {
    let mut modules = std::collections::BTreeMap::new();
    if !dir.is_dir() {
        return Ok(modules);
    }
    let failing = |path: &str, reason: String| thematic_lua::Module {
        path: path.to_string(),
        source: format!("error({:?}, 0)", format!("{path}: {reason}")),
    };
    let mut pending = vec![(dir.to_path_buf(), Vec::<String>::new())];
    while let Some((folder, prefix)) = pending.pop() {
        let mut entries = visible_entries(&folder)?;
        entries.sort();
        for Entry { path, .. } in entries {
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                continue;
            };
            if path.is_symlink() || modules.len() >= MAX_MODULES {
                continue;
            }
            if path.is_dir() {
                if prefix.len() < MODULE_DEPTH {
                    let mut inner = prefix.clone();
                    inner.push(file_name);
                    pending.push((path, inner));
                }
            } else if let Some(stem) = file_name.strip_suffix(".lua") {
                let mut parts = prefix.clone();
                parts.push(stem.to_string());
                let shown_path = format!("{shown}/{}.lua", parts.join("/"));
                let name = parts.join(".");
                let module = match fs::read(&path).map(String::from_utf8) {
                    Ok(Ok(source)) => thematic_lua::Module {
                        path: shown_path.clone(),
                        source,
                    },
                    Ok(Err(e)) => failing(
                        &shown_path,
                        format!("not valid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
                    ),
                    Err(e) => failing(&shown_path, e.to_string()),
                };
                let module = match modules.get(&name) {
                    Some(other) => {
                        let other: &thematic_lua::Module = other;
                        failing(
                            &shown_path,
                            format!("{} is module `{name}` too; rename one", other.path),
                        )
                    }
                    None => module,
                };
                modules.insert(name, module);
            }
        }
    }
    Ok(modules)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_file_written_again_keeps_its_permissions_and_a_new_one_is_its_owners() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("thematic.toml");
        fs::write(&shared, "old").unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&shared, b"new").unwrap();
        assert_eq!(fs::read_to_string(&shared).unwrap(), "new");
        assert_eq!(fs::metadata(&shared).unwrap().permissions().mode() & 0o777, 0o644);
        let new = dir.path().join("redaction-key.csv");
        write_atomic(&new, b"secret").unwrap();
        assert_eq!(fs::metadata(&new).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
