//! `thematic audit`: the anonymity promise checked. Every file in the
//! output folder and the store's files are read the way thematic reads
//! transcripts (each encoding it decodes, the entries of zip-based files
//! such as Word documents, workbooks and REFI-QDA projects, with their
//! names and comments) and searched for the entries of the study's
//! redaction list (whole words, without regard to case or accents, as
//! redaction matches them), both as written and as a reader sees them once
//! markup and escapes are taken out. A file it cannot read is named as not
//! audited, and fails the audit: a search that passed what it could not
//! read would promise what it has not checked. Findings name the file and
//! the place (line and column in text, byte offset in the store) and the
//! pseudonym; every place is shown redacted, never with the entry itself.

use std::borrow::Cow;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use thematic_formats::{each_held, Held, Unmarked};
use thematic_pipeline::Redactor;
use thematic_store::Store;

use crate::outcome::{count, say, Diagnostics, Outcome};
use crate::packs::study_packs_dir;
use crate::study::{self, STATE_DIR};

/// Long texts and the store are searched a piece at a time, so that the
/// search's own copies stay small; pieces overlap by more than any entry
/// is long, so nothing is missed between two.
const PIECE: usize = 4 * 1024 * 1024;

pub fn run(dir: &Path) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let study = study::load(dir, &mut diagnostics)?;
    let Some(redaction) = &study.redaction else {
        bail!(
            "{}: no [redaction] list in thematic.toml, so nothing to audit against",
            study.root.display()
        );
    };
    let mut audit = Audit {
        redactor: &redaction.redactor,
        diagnostics,
        findings: 0,
        not_audited: 0,
    };
    // Installed packs are a colleague's files, pinned by the lock, not what the study made.
    let skipped = [study_packs_dir(&study.root)];
    let mut files = Vec::new();
    for folder in [study.output_dir(), study.root.join(STATE_DIR)] {
        files_below(&folder, &skipped, &mut files);
    }
    files.sort();
    let shown = |path: &Path| path.strip_prefix(&study.root).unwrap_or(path).display().to_string();
    let store_file = study.store_path();
    if store_file.is_file() {
        // Value by value first; then the file's bytes below, for what no table shows any more.
        let store = Store::open(&store_file)?;
        let store_shown = shown(&store_file);
        store.each_value(&mut |place, text| audit.store_value(&format!("{store_shown}: {place}"), text))?;
    }
    for (file, listed) in &files {
        let shown = shown(file);
        audit.name(&shown);
        match listed
            .as_ref()
            .map_or_else(|| fs::read(file).map_err(|e| e.to_string()), |e| Err(e.clone()))
        {
            Ok(bytes) => audit.file(&shown, &bytes),
            Err(e) => audit.unreadable_file(&shown, &format!("cannot be read: {e}")),
        }
    }
    let Audit {
        findings,
        not_audited,
        diagnostics,
        ..
    } = audit;
    let mut summary = format!(
        "audited {}: {}",
        count(files.len() - not_audited, "file"),
        match findings {
            0 => "no entry of the redaction list found".to_string(),
            n => format!("{}, shown above", count(n, "finding")),
        }
    );
    if not_audited > 0 {
        summary += &format!("; {} not audited, shown above", count(not_audited, "file"));
    }
    say(summary);
    Ok(diagnostics.outcome())
}

/// The audit's findings so far, shown as they come.
struct Audit<'a> {
    redactor: &'a Redactor,
    diagnostics: Diagnostics,
    findings: usize,
    not_audited: usize,
}

impl Audit<'_> {
    /// Searches what one file holds.
    fn file(&mut self, shown: &str, bytes: &[u8]) {
        let mut unreadable = false;
        each_held(bytes, &mut |within, held| {
            let found = match held {
                Held::Text(text) => text_findings(self.redactor, text),
                Held::Listing(text) => text_findings(self.redactor, text),
                Held::Bytes(bytes) => byte_findings(self.redactor, bytes),
                Held::Unreadable(reason) => {
                    unreadable = true;
                    let place = self.place(shown, within, None);
                    self.diagnostics.fail(format!("{place}: not audited: {reason}"));
                    return;
                }
            };
            let what = matches!(held, Held::Listing(_)).then_some("the names and comments of its entries");
            let place = self.place(shown, within, what);
            for (at, entry) in found {
                self.finding(&format!("{place}:{at}"), entry);
            }
        });
        // A file counts once among those not audited, however many of its parts could not be read.
        if unreadable {
            self.not_audited += 1;
        }
    }

    fn unreadable_file(&mut self, shown: &str, reason: &str) {
        self.not_audited += 1;
        let place = self.place(shown, &[], None);
        self.diagnostics.fail(format!("{place}: not audited: {reason}"));
    }

    /// Searches a file's name and folders.
    fn name(&mut self, shown: &str) {
        for (_, entry) in self.redactor.find(shown) {
            let place = format!("{}: the file's name", self.redactor.redact(shown));
            self.finding(&place, entry);
        }
    }

    /// Searches a value of the store, named by its table, column and row.
    fn store_value(&mut self, place: &str, text: &str) {
        for (_, entry) in self.redactor.find(text) {
            self.finding(place, entry);
        }
    }

    fn finding(&mut self, place: &str, entry: usize) {
        self.findings += 1;
        self.diagnostics.fail(format!(
            "{place}: an entry of the redaction list ({}) is in the output",
            self.redactor.entries()[entry].pseudonym
        ));
    }

    /// A file, the archive entries a text is inside and what the text is,
    /// redacted: `reports/all.zip [copy.qdpx] [sources/P2.txt]`.
    fn place(&self, shown: &str, within: &[String], what: Option<&str>) -> String {
        let mut place = shown.to_string();
        for part in within.iter().map(String::as_str).chain(what) {
            place += &format!(" [{part}]");
        }
        self.redactor.redact(&place)
    }
}

/// Every file below `folder` but those in `skipped`, each with why it could
/// not be listed where a folder could not be read.
fn files_below(folder: &Path, skipped: &[PathBuf], files: &mut Vec<(PathBuf, Option<String>)>) {
    if skipped.iter().any(|skip| skip == folder) {
        return;
    }
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => return files.push((folder.to_path_buf(), Some(format!("a folder that {e}")))),
    };
    for entry in entries {
        match entry {
            Ok(entry) if entry.file_type().is_ok_and(|kind| kind.is_dir()) => {
                files_below(&entry.path(), skipped, files)
            }
            Ok(entry) => files.push((entry.path(), None)),
            Err(e) => files.push((
                folder.to_path_buf(),
                Some(format!("a folder whose listing failed: {e}")),
            )),
        }
    }
}

/// Where entries occur in a text, as `line:column`, each with the entry's
/// index: in the text as written and as a reader sees it (`O&#39;Brien` is
/// `O'Brien`, `<w:t>An</w:t><w:t>a</w:t>` is `Ana`), each place once.
fn text_findings(redactor: &Redactor, text: &str) -> Vec<(String, usize)> {
    let mut found = find_in_pieces(redactor, text.len(), &|range| text_piece(text, range));
    if let Some(unmarked) = Unmarked::of(text) {
        let view = &unmarked.text;
        let seen = find_in_pieces(redactor, view.len(), &|range| text_piece(view, range));
        found.extend(
            seen.into_iter()
                .map(|(at, entry)| (unmarked.original_offset(at), entry)),
        );
    }
    found.sort_unstable();
    found.dedup();
    line_columns(text, found)
}

/// Where entries occur in bytes kept as written (the store), as `byte N`.
fn byte_findings(redactor: &Redactor, bytes: &[u8]) -> Vec<(String, usize)> {
    find_in_pieces(redactor, bytes.len(), &|range| (range.start, readable(&bytes[range])))
        .into_iter()
        .map(|(at, entry)| (format!("byte {at}"), entry))
        .collect()
}

/// Where entries occur, by offset, in something `length` long whose
/// `piece` of a range is text from an offset at or before the range's start.
/// Each piece is searched with a margin either side, so that words cut at
/// its edges are seen whole; a finding belongs to the piece it starts in.
fn find_in_pieces<'a>(
    redactor: &Redactor,
    length: usize,
    piece: &dyn Fn(Range<usize>) -> (usize, Cow<'a, str>),
) -> Vec<(usize, usize)> {
    let margin = redactor.entries().iter().map(|e| e.entry.len()).max().unwrap_or(0) * 8 + 64;
    let mut found = Vec::new();
    let mut start = 0;
    while start < length {
        let end = (start + PIECE).min(length);
        let (from, text) = piece(start.saturating_sub(margin)..(end + margin).min(length));
        for (range, entry) in redactor.find(&text) {
            let at = from + range.start;
            if (start..end).contains(&at) {
                found.push((at, entry));
            }
        }
        start = end;
    }
    found
}

/// The part of `text` over `range`, widened to whole characters, and where it starts.
fn text_piece(text: &str, range: Range<usize>) -> (usize, Cow<'_, str>) {
    let (mut from, mut to) = (range.start, range.end);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    while !text.is_char_boundary(to) {
        to += 1;
    }
    (from, Cow::Borrowed(&text[from..to]))
}

/// Byte offsets (in order) as `line:column` in `text`, in one pass.
fn line_columns(text: &str, offsets: Vec<(usize, usize)>) -> Vec<(String, usize)> {
    let (mut line, mut line_start, mut scanned) = (1, 0, 0);
    offsets
        .into_iter()
        .map(|(offset, entry)| {
            for (i, _) in text[scanned..offset].match_indices('\n') {
                line += 1;
                line_start = scanned + i + 1;
            }
            scanned = offset;
            let column = text[line_start..offset].chars().count() + 1;
            (format!("{line}:{column}"), entry)
        })
        .collect()
}

/// Bytes as text, each byte that is not part of valid UTF-8 made a space, so
/// that offsets into the text are offsets into the bytes.
fn readable(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => {
            let mut text = String::with_capacity(bytes.len());
            let mut rest = bytes;
            while !rest.is_empty() {
                match std::str::from_utf8(rest) {
                    Ok(valid) => {
                        text.push_str(valid);
                        break;
                    }
                    Err(e) => {
                        let (valid, after) = rest.split_at(e.valid_up_to());
                        text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                        let bad = e.error_len().unwrap_or(after.len());
                        text.extend(std::iter::repeat_n(' ', bad));
                        rest = &after[bad..];
                    }
                }
            }
            Cow::Owned(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use thematic_packs::{archive, ArchiveKind, UnpackedFile};

    use super::*;

    #[test]
    fn a_name_cut_by_a_piece_boundary_is_found_once_and_a_longer_word_not_at_all() {
        let redactor = Redactor::from_csv("list.csv", "Ana\nAna María\n").unwrap();
        let mut bytes = vec![b'.'; PIECE - 2];
        bytes.extend_from_slice("Ana María, Anabel\u{0}".as_bytes());
        bytes.extend(vec![b'.'; 100]);
        let found = byte_findings(&redactor, &bytes);
        assert_eq!(
            found,
            vec![(format!("byte {}", PIECE - 2), 1)],
            "`Ana María` whole, `Anabel` not"
        );
    }

    fn redactor() -> Redactor {
        Redactor::from_csv("list.csv", "Ana María,person\nO'Brien,person\nZoë,person\n").unwrap()
    }

    #[test]
    fn text_places_are_lines_and_columns_and_references_are_read_as_meant() {
        let text = "<p>Hello</p>\n<p>ana maria &amp; O&#39;Brien, Zo&#xEB;</p>\n";
        assert_eq!(
            text_findings(&redactor(), text),
            [("2:4".to_string(), 0), ("2:20".to_string(), 1), ("2:33".to_string(), 2)]
        );
    }

    /// The failures an audit of one file reports.
    fn audit_of(bytes: &[u8]) -> (Vec<String>, usize) {
        let redactor = redactor();
        let mut audit = Audit {
            redactor: &redactor,
            diagnostics: Diagnostics::quiet(),
            findings: 0,
            not_audited: 0,
        };
        audit.file("copy.docx", bytes);
        (audit.diagnostics.failures, audit.not_audited)
    }

    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let files: Vec<UnpackedFile> = entries
            .iter()
            .map(|(path, text)| UnpackedFile {
                path: path.to_string(),
                bytes: text.as_bytes().to_vec(),
            })
            .collect();
        archive(ArchiveKind::Zip, &files).unwrap()
    }

    #[test]
    fn a_word_document_is_searched_as_written_and_as_read_each_name_once() {
        let xml = "<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>P1: Zoë helped, and An</w:t></w:r><w:r><w:t>a María too.</w:t></w:r></w:p></w:body></w:document>";
        let (failures, not_audited) = audit_of(&zip_of(&[("word/document.xml", xml)]));
        assert_eq!(
            failures,
            [
                "copy.docx [word/document.xml]:1:52: an entry of the redaction list (PERSON-3) is in the output",
                "copy.docx [word/document.xml]:1:68: an entry of the redaction list (PERSON-1) is in the output",
            ]
        );
        assert_eq!(not_audited, 0);
    }

    #[test]
    fn entry_names_are_searched_and_every_place_is_shown_redacted() {
        let (failures, not_audited) = audit_of(&zip_of(&[("Zoë/notes.gz", "\u{1f}\u{8b}\u{8}\0")]));
        assert_eq!(
            failures,
            [
                "copy.docx [the names and comments of its entries]:1:1: an entry of the redaction list (PERSON-3) is in the output",
                "copy.docx [PERSON-3/notes.gz]: not audited: neither text nor a format thematic reads (not a text file: a NUL byte at byte 4 (UTF-16 text needs a byte-order mark))",
            ]
        );
        assert_eq!(not_audited, 1);
    }

    #[test]
    fn a_long_text_is_searched_in_pieces_cut_between_characters() {
        let mut text = "é".repeat(PIECE / 2 - 1);
        text.push_str(" Zoë\n");
        text.push_str(&"x".repeat(PIECE));
        let found = text_findings(&redactor(), &text);
        assert_eq!(found, [(format!("1:{}", PIECE / 2 + 1), 2)]);
    }

    #[test]
    fn bytes_that_are_not_text_keep_their_offsets() {
        assert_eq!(readable(b"ab\xFFcd\xC3"), "ab cd ");
    }
}
