//! The audit of a redaction list (`thematic audit`): the anonymity promise checked. Every file in the
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
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use thematic_formats::{each_held, Held, Unmarked};
use thematic_pipeline::Redactor;
use thematic_store::Store;

use crate::diagnostics::Diagnostics;
use crate::layout::{study_packs_dir, STATE_DIR};
use crate::plan::plan_folder;

/// Long texts and the store are searched a piece at a time, so that the
/// search's own copies stay small; pieces overlap by more than any entry
/// is long, and never end inside white space, so nothing is missed between two.
const PIECE: usize = 4 * 1024 * 1024;

/// The largest file read (a REFI-QDA project of thousands of interviews is
/// some hundred megabytes); a larger one is not audited.
const MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;

/// What an audit looked at and found; each finding and each file not
/// audited went to the diagnostics as a failure, as it was met.
pub struct Audited {
    /// Files audited (those that could be read).
    pub files: usize,
    pub findings: usize,
    pub not_audited: usize,
}

/// Audits the study in `dir` against its redaction list: an error if it has none.
pub fn audit(dir: &Path, diagnostics: &mut Diagnostics) -> Result<Audited> {
    let plan = plan_folder(dir, diagnostics)?;
    let Some(redaction) = &plan.redaction else {
        bail!(
            "{}: no [redaction] list in thematic.toml, so nothing to audit against",
            plan.root.display()
        );
    };
    let mut audit = Audit {
        redactor: &redaction.redactor,
        diagnostics,
        files: 0,
        findings: 0,
        not_audited: 0,
    };
    // Installed packs are a colleague's files, pinned by the lock, not what the study made.
    let skipped = [study_packs_dir(&plan.root)];
    let mut listed = Vec::new();
    for folder in [plan.output_dir(), plan.root.join(STATE_DIR)] {
        walk(&folder, &folder, &skipped, &mut listed);
    }
    listed.sort_by(|a, b| a.path().cmp(b.path()));
    let shown = |path: &Path| path.strip_prefix(&plan.root).unwrap_or(path).display().to_string();
    // Files before the store is opened: its log and index are read as they are.
    for item in &listed {
        match item {
            Listed::File { path, below } => {
                audit.name(&shown(path), below);
                audit.files += 1;
                match read_capped(path) {
                    Ok(Some(bytes)) => audit.file(&shown(path), &bytes),
                    // Gone since it was listed (a temporary file of a run): nothing of it is left to leak.
                    Ok(None) => audit.files -= 1,
                    Err(reason) => audit.unreadable_file(&shown(path), &reason),
                }
            }
            Listed::Folder { path, below } => audit.name(&shown(path), below),
            Listed::NotAudited { path, reason } => {
                audit.files += 1;
                audit.unreadable_file(&shown(path), reason);
            }
        }
    }
    let store_file = plan.store_path();
    if store_file.is_file() {
        // Value by value, for columns SQLite packs side by side in a page; its bytes were searched above.
        let store_shown = shown(&store_file);
        let values = Store::open_to_read(&store_file).and_then(|store| {
            store.each_value(&mut |place, text| audit.store_value(&format!("{store_shown}: {place}"), text))
        });
        if let Err(e) = values {
            audit.unreadable_file(&format!("{store_shown} (its tables)"), &e.to_string());
        }
    }
    Ok(Audited {
        files: audit.files.saturating_sub(audit.not_audited),
        findings: audit.findings,
        not_audited: audit.not_audited,
    })
}

/// The audit's findings so far, shown as they come.
struct Audit<'a> {
    redactor: &'a Redactor,
    diagnostics: &'a mut Diagnostics,
    /// Files listed, read or not.
    files: usize,
    findings: usize,
    not_audited: usize,
}

impl Audit<'_> {
    /// Searches what one file holds.
    fn file(&mut self, shown: &str, bytes: &[u8]) {
        let mut unreadable = false;
        each_held(bytes, &mut |within, held| {
            let found = match held {
                Held::Text(text) | Held::Listing(text) => text_findings(self.redactor, text),
                Held::Bytes(bytes) => byte_findings(self.redactor, bytes),
                Held::Unreadable(reason) => {
                    unreadable = true;
                    let place = self.place(shown, within, None);
                    // A reason may name an entry, and an entry's name may be a name.
                    let reason = self.redactor.redact(reason);
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
        let reason = self.redactor.redact(reason);
        self.diagnostics.fail(format!("{place}: not audited: {reason}"));
    }

    /// Searches the names of a file or folder and the folders it is in,
    /// below the folder searched (`below`), which the study made.
    fn name(&mut self, shown: &str, below: &str) {
        for (_, entry) in self.redactor.find(below) {
            let place = format!("{}: the name", self.redactor.redact(shown));
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

/// What the walk of a searched folder finds.
enum Listed {
    /// A file, with its path below the searched folder.
    File { path: PathBuf, below: String },
    /// A folder, which may be empty: its name is searched.
    Folder { path: PathBuf, below: String },
    /// What cannot be listed or named, and why.
    NotAudited { path: PathBuf, reason: String },
}

impl Listed {
    fn path(&self) -> &Path {
        match self {
            Listed::File { path, .. } | Listed::Folder { path, .. } | Listed::NotAudited { path, .. } => path,
        }
    }
}

/// Everything below `folder` (itself below `root`, the searched folder) but
/// what is in `skipped`.
fn walk(root: &Path, folder: &Path, skipped: &[PathBuf], listed: &mut Vec<Listed>) {
    if skipped.iter().any(|skip| skip == folder) {
        return;
    }
    let not_audited = |path: &Path, reason: String| Listed::NotAudited {
        path: path.to_path_buf(),
        reason,
    };
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => return listed.push(not_audited(folder, format!("a folder that cannot be listed: {e}"))),
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => return listed.push(not_audited(folder, format!("a folder whose listing failed: {e}"))),
        };
        let path = entry.path();
        let Some(below) = path.strip_prefix(root).ok().and_then(Path::to_str).map(str::to_string) else {
            listed.push(not_audited(
                &path,
                "a name that is not UTF-8, which is not searched".into(),
            ));
            continue;
        };
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            walk(root, &path, skipped, listed);
            listed.push(Listed::Folder { path, below });
        } else {
            listed.push(Listed::File { path, below });
        }
    }
}

/// A file's bytes, if it is still there; a device, a pipe or a file over
/// [`MAX_FILE_BYTES`] is not read.
fn read_capped(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    if !metadata.is_file() {
        return Err("not a regular file (a device, a pipe or a socket)".into());
    }
    let too_large = || format!("over {} MiB, more than is read", MAX_FILE_BYTES / (1024 * 1024));
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    match fs::File::open(path).and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)) {
        Ok(_) if bytes.len() as u64 > MAX_FILE_BYTES => Err(too_large()),
        Ok(_) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot be read: {e}")),
    }
}

/// Where entries occur in a text, as `line:column`, each with the entry's
/// index: in the text as written, with its references and escapes decoded
/// (`<Code name="O&apos;Brien">`), and as a reader sees it
/// (`<w:t>An</w:t><w:t>a</w:t>` is `Ana`), each place once.
fn text_findings(redactor: &Redactor, text: &str) -> Vec<(String, usize)> {
    let mut found = find_in_pieces(redactor, text.as_bytes(), &|range| text_piece(text, range));
    for view in [Unmarked::references_decoded(text), Unmarked::of(text)]
        .into_iter()
        .flatten()
    {
        let seen = find_in_pieces(redactor, view.text.as_bytes(), &|range| text_piece(&view.text, range));
        found.extend(seen.into_iter().map(|(at, entry)| (view.original_offset(at), entry)));
    }
    found.sort_unstable();
    found.dedup();
    line_columns(text, found)
}

/// Where entries occur in bytes kept as written (the store), as `byte N`.
fn byte_findings(redactor: &Redactor, bytes: &[u8]) -> Vec<(String, usize)> {
    find_in_pieces(redactor, bytes, &|range| (range.start, readable(&bytes[range])))
        .into_iter()
        .map(|(at, entry)| (format!("byte {at}"), entry))
        .collect()
}

/// Where entries occur, by offset, in `bytes`, searched a piece at a time:
/// `piece` gives the text of a range of them, from an offset at or before
/// its start. Each piece is searched with a margin either side, so that
/// words cut at its edges are seen whole; a finding belongs to the piece it
/// starts in.
fn find_in_pieces<'a>(
    redactor: &Redactor,
    bytes: &[u8],
    piece: &dyn Fn(Range<usize>) -> (usize, Cow<'a, str>),
) -> Vec<(usize, usize)> {
    let margin = redactor.entries().iter().map(|e| e.entry.len()).max().unwrap_or(0) * 8 + 64;
    let mut found = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + PIECE).min(bytes.len());
        let (from, text) = piece(start.saturating_sub(margin)..piece_end(bytes, end + margin, margin));
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

/// Where a piece reaching `to` ends: later, past white space there (an
/// entry matches across white space of any length) and a margin after it.
fn piece_end(bytes: &[u8], to: usize, margin: usize) -> usize {
    let mut to = to.min(bytes.len());
    loop {
        let before = to;
        while let Some(length) = space_at(bytes, to) {
            to += length;
        }
        if to == before {
            return to;
        }
        to = (to + margin).min(bytes.len());
    }
}

/// The length of the white space character at byte `at`, if one is there.
fn space_at(bytes: &[u8], at: usize) -> Option<usize> {
    let c = (1..=4)
        .find_map(|n| std::str::from_utf8(bytes.get(at..at + n)?).ok())?
        .chars()
        .next()?;
    c.is_whitespace().then_some(c.len_utf8())
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
    let (mut line, mut column, mut scanned) = (1, 1, 0);
    offsets
        .into_iter()
        .map(|(offset, entry)| {
            for c in text[scanned..offset].chars() {
                if c == '\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += 1;
                }
            }
            scanned = offset;
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
        let mut diagnostics = Diagnostics::quiet();
        let mut audit = Audit {
            redactor: &redactor,
            diagnostics: &mut diagnostics,
            files: 0,
            findings: 0,
            not_audited: 0,
        };
        audit.file("copy.docx", bytes);
        let not_audited = audit.not_audited;
        (diagnostics.failures, not_audited)
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
    fn a_name_across_white_space_longer_than_the_margin_is_found_at_a_piece_edge() {
        let mut text = ".".repeat(PIECE - 10);
        text.push_str(" Ana");
        text.push_str(&" ".repeat(300));
        text.push_str("María\n");
        assert_eq!(text_findings(&redactor(), &text), [(format!("1:{}", PIECE - 8), 0)]);
    }

    #[test]
    fn many_findings_on_one_line_are_placed_in_one_pass() {
        let text = "Zoë ".repeat(3);
        let places: Vec<String> = text_findings(&redactor(), &text)
            .into_iter()
            .map(|(at, _)| at)
            .collect();
        assert_eq!(places, ["1:1", "1:5", "1:9"]);
    }

    #[test]
    fn bytes_that_are_not_text_keep_their_offsets() {
        assert_eq!(readable(b"ab\xFFcd\xC3"), "ab cd ");
    }
}
