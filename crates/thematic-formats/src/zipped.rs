//! Entries of a zip archive a person brought (a Word document, a REFI-QDA
//! project), read within caps: an archive's announced sizes can lie, so what
//! counts is what inflates, and inflating stops where the caps say.

use std::io::{Cursor, Read};

use zip::ZipArchive;

/// The text of a long interview is a few megabytes; its XML some times more.
const MAX_ENTRY_BYTES: u64 = 256 * 1024 * 1024;
/// What all entries read from one archive may inflate to together: a
/// project of a thousand long interviews is some hundred megabytes.
const MAX_TOTAL_BYTES: u64 = 1024 * 1024 * 1024;
/// How many times its compressed size an entry may inflate to (Apache
/// POI's limit); tested only past [`RATIO_CHECKED_FROM`], as tiny entries
/// can have any ratio.
const MAX_INFLATION_RATIO: u64 = 100;
const RATIO_CHECKED_FROM: u64 = 1024 * 1024;

/// An open archive whose entries are read one at a time.
pub struct Zipped<'a> {
    archive: ZipArchive<Cursor<&'a [u8]>>,
    /// Bytes inflated so far, against [`MAX_TOTAL_BYTES`].
    inflated: u64,
}

impl<'a> Zipped<'a> {
    /// `what` names the kind of file in the refusal (`a .docx file`); an
    /// archive of more than `max_entries` is refused.
    pub fn open(bytes: &'a [u8], what: &str, max_entries: usize) -> Result<Zipped<'a>, String> {
        let mut archive =
            ZipArchive::new(Cursor::new(bytes)).map_err(|_| format!("not a zip archive ({what} is one)"))?;
        if archive.len() > max_entries {
            return Err(format!(
                "{} entries in the archive, more than the {max_entries} {what} may have",
                archive.len()
            ));
        }
        // Entries sharing their bytes make a small file inflate many times over.
        if archive.has_overlapping_files().unwrap_or(true) {
            return Err("entries that share their bytes; refused as a possible zip bomb".into());
        }
        // Entries are kept one per name: which of two a reader sees would depend on the reader.
        if archive.has_duplicate_names() {
            return Err(
                "two entries of one name in the archive; refused, as which is read would depend on who reads it".into(),
            );
        }
        Ok(Zipped { archive, inflated: 0 })
    }

    /// The names of the entries that are files, as the archive writes them.
    pub fn names(&self) -> Vec<String> {
        self.archive
            .file_names()
            .filter_map(Result::ok)
            .filter(|name| !name.ends_with('/'))
            .map(|name| name.into_owned())
            .collect()
    }

    /// The inflated bytes of entry `name`, within the caps.
    pub fn read(&mut self, name: &str) -> Result<Vec<u8>, String> {
        let entry = self
            .archive
            .by_name(name)
            .map_err(|_| format!("no `{name}` in the archive"))?;
        inflate(entry, name, &mut self.inflated)
    }

    /// How many entries the archive has, folders included.
    pub fn len(&self) -> usize {
        self.archive.len()
    }

    pub fn is_empty(&self) -> bool {
        self.archive.is_empty()
    }

    /// The name of entry `index` and its inflated bytes, within the caps (a
    /// folder's entry holds none, or what was put in it all the same).
    pub fn read_at(&mut self, index: usize) -> (String, Result<Vec<u8>, String>) {
        match self.archive.by_index(index) {
            Ok(entry) => {
                let name = entry
                    .name()
                    .map_or_else(|_| format!("entry {index}"), |n| n.into_owned());
                let bytes = inflate(entry, &name, &mut self.inflated);
                (name, bytes)
            }
            Err(e) => (format!("entry {index}"), Err(format!("cannot be read: {e}"))),
        }
    }

    /// What the archive says of its entries rather than in them: their
    /// names and comments, and its own comment, a line each.
    pub fn listing(&mut self) -> String {
        let mut lines: Vec<String> = Vec::new();
        for index in 0..self.archive.len() {
            if let Ok(entry) = self.archive.by_index_raw(index) {
                // Decoded as the archive says (UTF-8, or the old DOS code page), as tools show it.
                let name = entry.name().map(|name| name.into_owned());
                lines.push(name.unwrap_or_else(|_| String::from_utf8_lossy(entry.name_raw()).into_owned()));
                lines.push(String::from_utf8_lossy(entry.comment_raw()).into_owned());
            }
        }
        lines.push(String::from_utf8_lossy(self.archive.comment()).into_owned());
        lines.retain(|line| !line.is_empty());
        lines.join("\n")
    }
}

/// The inflated bytes of `entry`, within the caps, counted into `inflated`.
fn inflate(
    mut entry: zip::read::ZipFile<'_, Cursor<&[u8]>>,
    name: &str,
    inflated: &mut u64,
) -> Result<Vec<u8>, String> {
    let compressed = entry.compressed_size().max(1);
    let left = MAX_TOTAL_BYTES - *inflated;
    let allowed = MAX_ENTRY_BYTES
        .min(RATIO_CHECKED_FROM.max(compressed.saturating_mul(MAX_INFLATION_RATIO)))
        .min(left);
    let mut bytes = Vec::new();
    (&mut entry)
        .take(allowed + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("`{name}` cannot be inflated: {e}"))?;
    if bytes.len() as u64 > allowed {
        return Err(if allowed == left {
            format!(
                "`{name}` inflates past the {} MiB all entries may take together; refused as a possible zip bomb",
                MAX_TOTAL_BYTES / (1024 * 1024)
            )
        } else if allowed == MAX_ENTRY_BYTES {
            format!(
                "`{name}` inflates past {} MiB; refused as a possible zip bomb",
                MAX_ENTRY_BYTES / (1024 * 1024)
            )
        } else {
            format!(
                "`{name}` inflates more than {MAX_INFLATION_RATIO} times its compressed size; refused as a possible zip bomb"
            )
        });
    }
    *inflated += bytes.len() as u64;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn an_archive_with_two_entries_of_one_name_is_refused() {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in [("word/document.xml", "<a/>"), ("word/document.xmm", "<b/>")] {
            zip.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        let mut bytes = zip.finish().unwrap().into_inner();
        // The writer refuses a name twice: the second is renamed in its local header and the directory.
        while let Some(at) = bytes.windows(17).position(|w| w == b"word/document.xmm") {
            bytes[at + 16] = b'l';
        }
        match Zipped::open(&bytes, "a .docx file", 10) {
            Err(reason) => assert!(reason.contains("two entries of one name"), "{reason}"),
            Ok(_) => panic!("opened"),
        }
    }
}
