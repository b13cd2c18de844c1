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
        let archive = ZipArchive::new(Cursor::new(bytes)).map_err(|_| format!("not a zip archive ({what} is one)"))?;
        if archive.len() > max_entries {
            return Err(format!(
                "{} entries in the archive, more than the {max_entries} {what} may have",
                archive.len()
            ));
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
        let mut entry = self
            .archive
            .by_name(name)
            .map_err(|_| format!("no `{name}` in the archive"))?;
        let compressed = entry.compressed_size().max(1);
        let left = MAX_TOTAL_BYTES - self.inflated;
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
        self.inflated += bytes.len() as u64;
        Ok(bytes)
    }
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
