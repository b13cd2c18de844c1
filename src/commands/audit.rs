//! `thematic audit`: the anonymity promise checked. Every file in the
//! output folder and in the store's folder is read the way thematic reads
//! transcripts (each encoding it decodes, the entries of zip-based files
//! such as Word documents, workbooks and REFI-QDA projects, a Word
//! document's text) and searched for the entries of the study's redaction
//! list (whole words, without regard to case or accents, as redaction
//! matches them; in markup, with character references decoded too). A
//! file it cannot read is named as not audited, and fails the audit: a
//! search that passed what it could not read would promise what it has not
//! checked. Findings name the file and the place (line and column in text,
//! byte offset in the store) and the pseudonym, never the entry itself.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use thematic_formats::{each_held, Held, ReferencesDecoded, WORD_DOCUMENT};
use thematic_pipeline::Redactor;
use thematic_store::Store;

use crate::outcome::{count, say, Diagnostics, Outcome};
use crate::study::{self, STATE_DIR};

/// Large binary files (the store) are searched a piece at a time; pieces
/// overlap by more than any entry is long, so nothing is missed between two.
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
    let mut files = Vec::new();
    for folder in [study.output_dir(), study.root.join(STATE_DIR)] {
        files_below(&folder, &mut files)?;
    }
    files.sort();
    let mut audit = Audit {
        redactor: &redaction.redactor,
        diagnostics,
        findings: 0,
        not_audited: 0,
    };
    let store_file = study.store_path();
    if store_file.is_file() {
        // Value by value first; then the file's bytes below, for what no table shows any more.
        let store = Store::open(&store_file)?;
        let shown = store_file
            .strip_prefix(&study.root)
            .unwrap_or(&store_file)
            .display()
            .to_string();
        store.each_value(&mut |place, text| audit.store_value(&format!("{shown}: {place}"), text))?;
    }
    for file in &files {
        let shown = file.strip_prefix(&study.root).unwrap_or(file).display().to_string();
        match fs::read(file) {
            Ok(bytes) => audit.file(&shown, &bytes),
            Err(e) => {
                audit.not_audited += 1;
                audit.unreadable(&shown, &[], &format!("cannot be read: {e}"));
            }
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
        // How often each entry is in the XML of each Word document (by the
        // entries it is inside): its text, read after, adds only what the
        // XML hides, a name cut by runs of formatting (`<w:t>An</w:t><w:t>a</w:t>`).
        let mut in_word_xml: BTreeMap<(Vec<String>, usize), usize> = BTreeMap::new();
        each_held(bytes, &mut |within, held| match held {
            Held::Text(text) => {
                let found = text_findings(self.redactor, text);
                if let Some((WORD_DOCUMENT, document)) = within.split_last().map(|(last, rest)| (last.as_str(), rest)) {
                    for (_, entry) in &found {
                        *in_word_xml.entry((document.to_vec(), *entry)).or_default() += 1;
                    }
                }
                self.found(&place(shown, within, None), found);
            }
            Held::WordText(text) => {
                let mut found = text_findings(self.redactor, text);
                let mut per_entry: BTreeMap<usize, usize> = BTreeMap::new();
                for (_, entry) in &found {
                    *per_entry.entry(*entry).or_default() += 1;
                }
                found.retain(|(_, entry)| {
                    per_entry[entry] > in_word_xml.get(&(within.to_vec(), *entry)).copied().unwrap_or(0)
                });
                self.found(&place(shown, within, Some("the document's text")), found);
            }
            Held::Bytes(bytes) => self.found(&place(shown, within, None), byte_findings(self.redactor, bytes)),
            Held::Unreadable(reason) => {
                unreadable = true;
                self.unreadable(shown, within, reason);
            }
        });
        // A file counts once among those not audited, however many of its parts could not be read.
        if unreadable {
            self.not_audited += 1;
        }
    }

    /// Searches a value of the store, named by its table, column and row.
    fn store_value(&mut self, place: &str, text: &str) {
        let found = self
            .redactor
            .find(text)
            .into_iter()
            .map(|(_, entry)| (String::new(), entry))
            .collect();
        self.found(place, found);
    }

    fn found(&mut self, place: &str, found: Vec<(String, usize)>) {
        for (at, entry) in found {
            self.findings += 1;
            let separator = if at.is_empty() { "" } else { ":" };
            self.diagnostics.fail(format!(
                "{place}{separator}{at}: an entry of the redaction list ({}) is in the output",
                self.redactor.entries()[entry].pseudonym
            ));
        }
    }

    fn unreadable(&mut self, shown: &str, within: &[String], reason: &str) {
        self.diagnostics
            .fail(format!("{}: not audited: {reason}", place(shown, within, None)));
    }
}

/// A file, the archive entries a text is inside and what the text is:
/// `reports/all.zip [copy.qdpx] [sources/P2.txt]`.
fn place(shown: &str, within: &[String], what: Option<&str>) -> String {
    let mut place = shown.to_string();
    for part in within.iter().map(String::as_str).chain(what) {
        place += &format!(" [{part}]");
    }
    place
}

fn files_below(folder: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("reading the folder {}", folder.display()))?;
        let path = entry.path();
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            files_below(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Where entries occur in a text, as `line:column`, each with the entry's
/// index: in the text as written and, where it has character references,
/// in the text they stand for (`O&#39;Brien` is `O'Brien` to a reader).
fn text_findings(redactor: &Redactor, text: &str) -> Vec<(String, usize)> {
    let mut found: Vec<(usize, usize)> = redactor
        .find(text)
        .into_iter()
        .map(|(range, entry)| (range.start, entry))
        .collect();
    if let Some(decoded) = ReferencesDecoded::of(text) {
        for (range, entry) in redactor.find(&decoded.text) {
            found.push((decoded.original_offset(range.start), entry));
        }
    }
    found.sort_unstable();
    found.dedup();
    line_columns(text, found)
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

/// Where entries occur in bytes kept as written (the store), as `byte N`.
fn byte_findings(redactor: &Redactor, bytes: &[u8]) -> Vec<(String, usize)> {
    // Each piece is searched with a margin either side, so that words cut at
    // its edges are seen whole; a finding belongs to the piece it starts in.
    let margin = redactor.entries().iter().map(|e| e.entry.len()).max().unwrap_or(0) * 8 + 64;
    let mut found = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + PIECE).min(bytes.len());
        let from = start.saturating_sub(margin);
        let to = (end + margin).min(bytes.len());
        let text = readable(&bytes[from..to]);
        for (range, entry) in redactor.find(&text) {
            let at = from + range.start;
            if (start..end).contains(&at) {
                found.push((format!("byte {at}"), entry));
            }
        }
        start = end;
    }
    found
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

    #[test]
    fn a_word_document_is_searched_in_its_xml_and_its_text_without_a_name_twice() {
        let xml = "<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>P1: Zoë helped, and An</w:t></w:r><w:r><w:t>a María too.</w:t></w:r></w:p></w:body></w:document>";
        let document = UnpackedFile {
            path: WORD_DOCUMENT.to_string(),
            bytes: xml.as_bytes().to_vec(),
        };
        let docx = archive(ArchiveKind::Zip, &[document]).unwrap();
        let (failures, not_audited) = audit_of(&docx);
        assert_eq!(
            failures,
            [
                "copy.docx [word/document.xml]:1:52: an entry of the redaction list (PERSON-3) is in the output",
                "copy.docx [the document's text]:1:21: an entry of the redaction list (PERSON-1) is in the output",
            ]
        );
        assert_eq!(not_audited, 0);
    }

    #[test]
    fn what_cannot_be_read_is_named_and_not_audited() {
        let (failures, not_audited) = audit_of(b"\x1f\x8b\x08\0\0\0");
        assert_eq!(not_audited, 1);
        assert!(
            failures[0].starts_with("copy.docx: not audited: neither text nor"),
            "{failures:?}"
        );
    }

    #[test]
    fn bytes_that_are_not_text_keep_their_offsets() {
        assert_eq!(readable(b"ab\xFFcd\xC3"), "ab cd ");
    }
}
