//! Pack archives (`.zip`, `.tar.gz`) unpacked in memory, with caps: on the
//! number of entries, on the bytes they inflate to in all and on how many
//! times their compressed size they grow. An entry with an absolute path,
//! one that climbs out with `..`, or a link is refused: nothing lands
//! outside the pack, and the shell writes nothing until all is read.

use std::io::{Cursor, Read, Write};
use std::path::{Component, Path};

use crate::{manifest::is_inside, PackError, MANIFEST_FILE};

const MAX_ENTRIES: usize = 10_000;
const MAX_TOTAL_BYTES: u64 = 512 * 1024 * 1024;
const MAX_INFLATION_RATIO: u64 = 100;
/// Below this, any ratio is harmless (a small, very repetitive codebook).
const RATIO_CHECKED_FROM: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Zip,
    TarGz,
}

impl ArchiveKind {
    /// The kind of archive a file of this name is, if any.
    pub fn of(name: &str) -> Option<ArchiveKind> {
        let name = name.to_ascii_lowercase();
        if name.ends_with(".zip") {
            Some(ArchiveKind::Zip)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(ArchiveKind::TarGz)
        } else {
            None
        }
    }
}

/// A file of a pack: its path inside the pack (`/` separated) and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Every file of an archive. A pack archived inside one folder
/// (`mypack/pack.toml`) comes out as if it had been archived from within it.
pub fn unpack(kind: ArchiveKind, bytes: &[u8]) -> Result<Vec<UnpackedFile>, PackError> {
    let mut files = match kind {
        ArchiveKind::Zip => unzip(bytes)?,
        ArchiveKind::TarGz => untar(bytes)?,
    };
    // Hidden files (`.DS_Store`, `.git/`) and macOS's `__MACOSX/` are not part of a pack.
    files.retain(|f| !is_hidden(&f.path));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    // Two entries of one name: which one is the pack would depend on who reads it.
    if let Some(pair) = files.windows(2).find(|pair| pair[0].path == pair[1].path) {
        return Err(refuse(twice(&pair[0].path)));
    }
    Ok(without_top_folder(files))
}

/// Whether a pack's file is hidden, and so not part of the pack.
pub fn is_hidden(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with('.') || part == "__MACOSX")
}

/// An archive of a pack's files, the same bytes for the same files: entries
/// in path order, with no timestamps or owners of the machine that built it.
pub fn archive(kind: ArchiveKind, files: &[UnpackedFile]) -> Result<Vec<u8>, PackError> {
    let mut sorted: Vec<&UnpackedFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let failed = |e: std::io::Error| refuse(format!("writing the archive: {e}"));
    match kind {
        ArchiveKind::Zip => {
            let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .last_modified_time(zip::DateTime::default())
                .unix_permissions(0o644);
            for file in sorted {
                zip.start_file(file.path.as_str(), options)
                    .map_err(|e| refuse(format!("writing the archive: {e}")))?;
                zip.write_all(&file.bytes).map_err(failed)?;
            }
            let written = zip.finish().map_err(|e| refuse(format!("writing the archive: {e}")))?;
            Ok(written.into_inner())
        }
        ArchiveKind::TarGz => {
            let gz = flate2::GzBuilder::new()
                .mtime(0)
                .write(Vec::new(), flate2::Compression::default());
            let mut tar = tar::Builder::new(gz);
            tar.mode(tar::HeaderMode::Deterministic);
            for file in sorted {
                let mut header = tar::Header::new_gnu();
                header.set_size(file.bytes.len() as u64);
                header.set_mode(0o644);
                tar.append_data(&mut header, &file.path, file.bytes.as_slice())
                    .map_err(failed)?;
            }
            tar.into_inner().and_then(|gz| gz.finish()).map_err(failed)
        }
    }
}

fn refuse(message: String) -> PackError {
    PackError::Archive(message)
}

fn unzip(bytes: &[u8]) -> Result<Vec<UnpackedFile>, PackError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| refuse(format!("not a zip archive: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(refuse(format!(
            "{} entries, more than the {MAX_ENTRIES} a pack may have",
            archive.len()
        )));
    }
    // The archive keeps one entry per name (the last); the others are seen only here.
    if archive.has_duplicate_names() {
        return Err(refuse(match repeated_zip_name(bytes) {
            Some(name) => twice(&name),
            None => "two entries of one name are in the archive".to_string(),
        }));
    }
    let mut files = Vec::new();
    let mut total = 0u64;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| refuse(format!("entry {index}: {e}")))?;
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("entry {index}"));
        if entry.is_symlink() {
            return Err(refuse(format!("`{name}` is a link; packs hold files only")));
        }
        // The name as written decides: an absolute one is refused, not made relative.
        let Some(path) = entry
            .enclosed_name()
            .and_then(|p| relative(&p))
            .filter(|_| is_inside(&name))
        else {
            return Err(refuse(format!("`{name}` would land outside the pack")));
        };
        if entry.is_dir() {
            continue;
        }
        let compressed = entry.compressed_size().max(1);
        let allowed =
            (MAX_TOTAL_BYTES - total).min(RATIO_CHECKED_FROM.max(compressed.saturating_mul(MAX_INFLATION_RATIO)));
        let contents = inflate(&mut entry, allowed, &name)?;
        total += contents.len() as u64;
        files.push(UnpackedFile { path, bytes: contents });
    }
    Ok(files)
}

fn twice(name: &str) -> String {
    format!("`{name}` is in the archive twice")
}

/// The first name a second entry of a zip has, its entries read in order
/// (a second entry's contents are skipped, never inflated).
fn repeated_zip_name(bytes: &[u8]) -> Option<String> {
    let mut reader = Cursor::new(bytes);
    let mut seen = std::collections::HashSet::new();
    while let Ok(Some(entry)) = zip::read::read_zipfile_from_stream(&mut reader) {
        if !seen.insert(entry.name_raw().to_vec()) {
            return Some(String::from_utf8_lossy(entry.name_raw()).into_owned());
        }
    }
    None
}

fn untar(bytes: &[u8]) -> Result<Vec<UnpackedFile>, PackError> {
    let allowed = MAX_TOTAL_BYTES.min(RATIO_CHECKED_FROM.max((bytes.len() as u64).saturating_mul(MAX_INFLATION_RATIO)));
    // The whole stream is capped: a bomb stops inflating where the caps say.
    let inflated = flate2::read::GzDecoder::new(bytes).take(allowed + 1);
    let mut archive = tar::Archive::new(inflated);
    let entries = archive
        .entries()
        .map_err(|e| refuse(format!("not a .tar.gz archive: {e}")))?;
    let mut files = Vec::new();
    let mut total = 0u64;
    for (index, entry) in entries.enumerate() {
        if index >= MAX_ENTRIES {
            return Err(refuse(format!("more than the {MAX_ENTRIES} entries a pack may have")));
        }
        let mut entry =
            entry.map_err(|e| refuse(format!("entry {index}: {e} (a damaged archive, or past the caps)")))?;
        let name = entry
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| format!("entry {index}"));
        let kind = entry.header().entry_type();
        // Extended headers (`git archive` writes one) describe entries; they are none.
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(refuse(format!("`{name}` is a link; packs hold files only")));
        }
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(refuse(format!("`{name}` is not a file")));
        }
        let Some(path) = entry.path().ok().and_then(|p| relative(&p)) else {
            return Err(refuse(format!("`{name}` would land outside the pack")));
        };
        let contents = inflate(&mut entry, allowed - total, &name)?;
        total += contents.len() as u64;
        files.push(UnpackedFile { path, bytes: contents });
    }
    Ok(files)
}

/// At most `allowed` bytes of `entry`; more is a refusal.
fn inflate(entry: &mut impl Read, allowed: u64, name: &str) -> Result<Vec<u8>, PackError> {
    let mut contents = Vec::new();
    entry
        .take(allowed + 1)
        .read_to_end(&mut contents)
        .map_err(|e| refuse(format!("`{name}` cannot be read: {e}")))?;
    if contents.len() as u64 > allowed {
        return Err(refuse(format!(
            "`{name}` inflates past the caps ({} MiB in all, {MAX_INFLATION_RATIO} times its compressed size); refused as a possible zip bomb",
            MAX_TOTAL_BYTES / (1024 * 1024)
        )));
    }
    Ok(contents)
}

/// A path of normal parts only, `/` separated; `None` for anything else.
fn relative(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    let joined = parts.join("/");
    is_inside(&joined).then_some(joined)
}

fn without_top_folder(mut files: Vec<UnpackedFile>) -> Vec<UnpackedFile> {
    if files.iter().any(|f| f.path == MANIFEST_FILE) {
        return files;
    }
    let Some(top) = files
        .first()
        .and_then(|f| f.path.split_once('/'))
        .map(|(top, _)| format!("{top}/"))
    else {
        return files;
    };
    if files.iter().all(|f| f.path.starts_with(&top)) && files.iter().any(|f| f.path == format!("{top}{MANIFEST_FILE}"))
    {
        for file in &mut files {
            file.path = file.path[top.len()..].to_string();
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn tar_gz_of(entries: &[(&str, &[u8])], link: Option<(&str, &str)>) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            // Set by hand, so that a name climbing out can be written at all.
            header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            builder.append(&header, *bytes).unwrap();
        }
        if let Some((name, target)) = link {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, name, target).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn archives_are_the_same_bytes_for_the_same_files_and_unpack_to_them() {
        let files = vec![
            UnpackedFile {
                path: "pack.toml".into(),
                bytes: b"[pack]".to_vec(),
            },
            UnpackedFile {
                path: "codebooks/a.csv".into(),
                bytes: b"code,term\n".to_vec(),
            },
        ];
        for kind in [ArchiveKind::Zip, ArchiveKind::TarGz] {
            let built = archive(kind, &files).unwrap();
            assert_eq!(built, archive(kind, &files).unwrap(), "{kind:?}");
            let mut back = unpack(kind, &built).unwrap();
            back.sort_by(|a, b| a.path.cmp(&b.path));
            let mut expected = files.clone();
            expected.sort_by(|a, b| a.path.cmp(&b.path));
            assert_eq!(back, expected, "{kind:?}");
        }
    }

    #[test]
    fn both_kinds_unpack_and_a_top_folder_is_taken_off() {
        let files = [
            ("mypack/pack.toml", b"[pack]".as_slice()),
            ("mypack/codebooks/a.csv", b"code,term".as_slice()),
        ];
        for (kind, bytes) in [
            (ArchiveKind::Zip, zip_of(&files)),
            (ArchiveKind::TarGz, tar_gz_of(&files, None)),
        ] {
            let unpacked = unpack(kind, &bytes).unwrap();
            let paths: Vec<&str> = unpacked.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(paths, ["codebooks/a.csv", "pack.toml"], "{kind:?}");
        }
    }

    #[test]
    fn entries_that_would_land_outside_or_link_out_are_refused() {
        let reason = |kind, bytes: Vec<u8>| match unpack(kind, &bytes) {
            Err(PackError::Archive(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(ArchiveKind::Zip, zip_of(&[("../evil.sh", b"x")])).contains("would land outside the pack"));
        assert!(reason(ArchiveKind::Zip, zip_of(&[("/etc/evil", b"x")])).contains("would land outside the pack"));
        assert!(reason(ArchiveKind::TarGz, tar_gz_of(&[("../evil.sh", b"x")], None)).contains("would land outside"));
        assert!(reason(
            ArchiveKind::TarGz,
            tar_gz_of(&[("pack.toml", b"x")], Some(("escape", "/etc/passwd")))
        )
        .contains("is a link"));
        assert!(reason(ArchiveKind::Zip, b"not an archive".to_vec()).contains("not a zip archive"));
    }

    #[test]
    fn a_second_entry_of_one_name_is_refused_and_macos_leftovers_ignored() {
        let twice = zip_of(&[
            ("pack.toml", b"[pack]".as_slice()),
            ("./pack.toml", b"[other]".as_slice()),
        ]);
        match unpack(ArchiveKind::Zip, &twice) {
            Err(PackError::Archive(reason)) => {
                assert!(reason.contains("`pack.toml` is in the archive twice"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let finder = zip_of(&[
            ("mypack/pack.toml", b"[pack]".as_slice()),
            ("__MACOSX/mypack/._pack.toml", b"x".as_slice()),
            (".DS_Store", b"x".as_slice()),
        ]);
        let paths: Vec<String> = unpack(ArchiveKind::Zip, &finder)
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(paths, ["pack.toml"]);
    }

    /// A zip of `entries` in which the name `from` is then written `to`
    /// (of the same length): the zip writer refuses to write one name twice.
    fn zip_renaming(entries: &[(&str, &[u8])], from: &str, to: &str) -> Vec<u8> {
        assert_eq!(from.len(), to.len());
        let mut bytes = zip_of(entries);
        let mut renamed = 0;
        while let Some(at) = bytes.windows(from.len()).position(|w| w == from.as_bytes()) {
            bytes[at..at + to.len()].copy_from_slice(to.as_bytes());
            renamed += 1;
        }
        assert_eq!(renamed, 2, "the local header and the central directory");
        bytes
    }

    #[test]
    fn two_entries_of_exactly_one_name_are_refused_in_both_kinds() {
        let entries = [
            ("pack.toml", b"[pack]".as_slice()),
            ("book.csv", b"code,term\n".as_slice()),
            ("book.csx", b"code,other\n".as_slice()),
        ];
        let zip = zip_renaming(&entries, "book.csx", "book.csv");
        let tar = tar_gz_of(&[entries[0], entries[1], ("book.csv", entries[2].1)], None);
        for (kind, bytes) in [(ArchiveKind::Zip, zip), (ArchiveKind::TarGz, tar)] {
            match unpack(kind, &bytes) {
                Err(PackError::Archive(reason)) => {
                    assert!(
                        reason.contains("`book.csv` is in the archive twice"),
                        "{kind:?}: {reason}"
                    )
                }
                other => panic!("{kind:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_bomb_is_refused_as_it_inflates() {
        let zeros = vec![0u8; 200 * 1024 * 1024];
        let bomb = zip_of(&[("pack.toml", b"x"), ("big.bin", &zeros)]);
        assert!(bomb.len() < 1024 * 1024);
        match unpack(ArchiveKind::Zip, &bomb) {
            Err(PackError::Archive(reason)) => assert!(reason.contains("zip bomb"), "{reason}"),
            other => panic!("{other:?}"),
        }
        let bomb = tar_gz_of(&[("pack.toml", b"x"), ("big.bin", &zeros)], None);
        assert!(matches!(unpack(ArchiveKind::TarGz, &bomb), Err(PackError::Archive(_))));
    }
}
