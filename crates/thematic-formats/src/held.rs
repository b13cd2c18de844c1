//! Every text a file holds, read the way thematic reads transcripts, for a
//! search that must miss nothing (the audit of a redaction list): text in
//! each encoding thematic decodes; the entries of zip-based files (Word
//! documents, workbooks, REFI-QDA projects, and archives inside them) and
//! the text of a Word document, whose runs of formatting can cut a word in
//! its XML; and the bytes of the binary kinds that keep their text as
//! written (SQLite databases and journals, compiled libraries). Anything
//! else is [`Held::Unreadable`]: a search that cannot read a file must say
//! so, never pass it.

use crate::decode_text;
use crate::docx::{read_docx, WORD_DOCUMENT};
use crate::zipped::Zipped;

/// How deep archives inside archives are opened (a Word document inside a
/// REFI-QDA project inside a zip of reports).
const MAX_DEPTH: usize = 4;
/// More entries than an export of thousands of transcripts has.
const MAX_ENTRIES: usize = 100_000;

/// What a file holds, as the search is handed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held<'a> {
    /// Text, decoded as thematic decodes transcripts: places in it are lines and columns.
    Text(&'a str),
    /// The text of a Word document as thematic reads it (a paragraph a line,
    /// runs of formatting joined), given after the entries of its archive.
    WordText(&'a str),
    /// The bytes of a kind that keeps its text as written: places are byte offsets.
    Bytes(&'a [u8]),
    /// What cannot be read, and why.
    Unreadable(&'a str),
}

/// Hands `found` everything `bytes` holds, with where it is: the names of
/// the archive entries it is inside, outermost first (none for the file's
/// own text).
pub fn each_held(bytes: &[u8], found: &mut dyn FnMut(&[String], Held<'_>)) {
    visit(bytes, &mut Vec::new(), found);
}

fn visit(bytes: &[u8], within: &mut Vec<String>, found: &mut dyn FnMut(&[String], Held<'_>)) {
    if is_zip(bytes) {
        visit_zip(bytes, within, found);
        return;
    }
    match decode_text(bytes) {
        Ok(text) => found(within, Held::Text(&text)),
        Err(_) if keeps_text_as_written(bytes) => found(within, Held::Bytes(bytes)),
        Err(e) => found(
            within,
            Held::Unreadable(&format!("neither text nor a format thematic reads ({e})")),
        ),
    }
}

fn visit_zip(bytes: &[u8], within: &mut Vec<String>, found: &mut dyn FnMut(&[String], Held<'_>)) {
    if within.len() >= MAX_DEPTH {
        found(
            within,
            Held::Unreadable(&format!("an archive inside {MAX_DEPTH} others, deeper than is opened")),
        );
        return;
    }
    let mut archive = match Zipped::open(bytes, "a zip-based file", MAX_ENTRIES) {
        Ok(archive) => archive,
        Err(reason) => return found(within, Held::Unreadable(&reason)),
    };
    let names = archive.names();
    for name in &names {
        within.push(name.clone());
        match archive.read(name) {
            Ok(entry) => visit(&entry, within, found),
            Err(reason) => found(within, Held::Unreadable(&reason)),
        }
        within.pop();
    }
    if names.iter().any(|name| name == WORD_DOCUMENT) {
        match read_docx(bytes) {
            Ok(document) => found(within, Held::WordText(&document.into_text())),
            Err(e) => found(within, Held::Unreadable(&e.to_string())),
        }
    }
}

/// A zip archive, empty or not, by its first signature.
fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Binary kinds whose text is kept as written, so that searching their
/// bytes finds it: SQLite's database, write-ahead log, shared-memory index
/// and rollback journal (the store), and compiled libraries (native
/// plugins of installed packs).
fn keeps_text_as_written(bytes: &[u8]) -> bool {
    const SIGNATURES: [&[u8]; 8] = [
        b"SQLite format 3\0",
        b"\x37\x7f\x06\x82",
        b"\x37\x7f\x06\x83",
        b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7",
        b"\x7fELF",
        b"\xcf\xfa\xed\xfe",
        b"\xce\xfa\xed\xfe",
        b"MZ",
    ];
    // The shared-memory index opens with its version, 3007000, in the machine's byte order.
    let index_version = 3_007_000u32;
    SIGNATURES.iter().any(|signature| bytes.starts_with(signature))
        || bytes.starts_with(&index_version.to_le_bytes())
        || bytes.starts_with(&index_version.to_be_bytes())
}

/// Text with its character references (`&amp;`, `&#39;`, `&#x2019;`)
/// decoded, as markup (HTML, XML) means it, and the way back to offsets in
/// the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencesDecoded {
    pub text: String,
    /// At each decoded reference: its offset in `text` and in the original.
    marks: Vec<(usize, usize)>,
}

impl ReferencesDecoded {
    /// `text` decoded; `None` when it has no reference to decode.
    pub fn of(text: &str) -> Option<ReferencesDecoded> {
        let mut decoded = String::with_capacity(text.len());
        let mut marks = Vec::new();
        let mut written = 0;
        for (at, _) in text.match_indices('&') {
            if at < written {
                continue;
            }
            let Some((c, length)) = reference_at(&text[at..]) else {
                continue;
            };
            decoded.push_str(&text[written..at]);
            marks.push((decoded.len(), at));
            decoded.push(c);
            written = at + length;
            marks.push((decoded.len(), written));
        }
        if marks.is_empty() {
            return None;
        }
        decoded.push_str(&text[written..]);
        Some(ReferencesDecoded { text: decoded, marks })
    }

    /// The offset in the original text of offset `at` of the decoded one
    /// (inside a decoded reference: where the reference starts).
    pub fn original_offset(&self, at: usize) -> usize {
        let index = self.marks.partition_point(|&(decoded, _)| decoded <= at);
        match index.checked_sub(1).map(|i| self.marks[i]) {
            Some((decoded, original)) => original + (at - decoded),
            None => at,
        }
    }
}

/// The character a reference at the start of `text` stands for, and the
/// reference's length.
fn reference_at(text: &str) -> Option<(char, usize)> {
    // The longest reference decoded, `&#x10FFFF;`, is ten bytes.
    let end = text.bytes().take(12).position(|b| b == b';')?;
    let name = &text[1..end];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// What `bytes` holds, as (entries within, kind, text) rows.
    fn held(bytes: &[u8]) -> Vec<(String, &'static str, String)> {
        let mut rows = Vec::new();
        each_held(bytes, &mut |within, held| {
            let (kind, text) = match held {
                Held::Text(text) => ("text", text.to_string()),
                Held::WordText(text) => ("word", text.to_string()),
                Held::Bytes(bytes) => (
                    "bytes",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(16)]).into_owned(),
                ),
                Held::Unreadable(reason) => ("unreadable", reason.to_string()),
            };
            rows.push((within.join(" > "), kind, text));
        });
        rows
    }

    #[test]
    fn text_in_any_encoding_thematic_decodes_is_text() {
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("P1: Zoë\r\n".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(held(&utf16), [(String::new(), "text", "P1: Zoë\n".to_string())]);
        assert_eq!(
            held("\u{feff}Zoë".as_bytes()),
            [(String::new(), "text", "Zoë".to_string())]
        );
    }

    #[test]
    fn binary_files_are_bytes_only_where_their_text_is_kept_as_written() {
        assert_eq!(held(b"SQLite format 3\0\x01\x02Zoe")[0].1, "bytes");
        assert_eq!(held(b"\x7fELF\x02\x01\0Zoe")[0].1, "bytes");
        let unreadable = held(b"\x1f\x8b\x08\0compressed");
        assert_eq!(unreadable[0].1, "unreadable");
        assert!(unreadable[0].2.contains("NUL byte at byte 3"), "{unreadable:?}");
        assert_eq!(
            held(b"Zo\xEB")[0].1,
            "unreadable",
            "Latin-1 is not decoded, so not searched"
        );
    }

    #[test]
    fn archives_are_opened_entry_by_entry_inside_each_other() {
        let inner = zip_of(&[("sources/a.txt", b"P1: Zo\xC3\xAB".as_slice())]);
        let outer = zip_of(&[("project.qde", b"<Project/>".as_slice()), ("copy.qdpx", &inner)]);
        assert_eq!(
            held(&outer),
            [
                ("project.qde".to_string(), "text", "<Project/>".to_string()),
                ("copy.qdpx > sources/a.txt".to_string(), "text", "P1: Zoë".to_string()),
            ]
        );
        let mut nested = b"Zoe".to_vec();
        for level in 0..=MAX_DEPTH {
            nested = zip_of(&[(&format!("level{level}.zip"), &nested)]);
        }
        let rows = held(&nested);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1, "unreadable", "{rows:?}");
        assert_eq!(held(b"PK\x03\x04broken")[0].1, "unreadable");
    }

    #[test]
    fn a_word_document_gives_its_text_with_runs_joined_after_its_entries() {
        let xml = r#"<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>P1: An</w:t></w:r><w:r><w:t>a helped</w:t></w:r></w:p></w:body></w:document>"#;
        let docx = zip_of(&[(WORD_DOCUMENT, xml.as_bytes())]);
        let rows = held(&docx);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].0.as_str(), rows[0].1), (WORD_DOCUMENT, "text"));
        assert_eq!(rows[1], (String::new(), "word", "P1: Ana helped".to_string()));
    }

    #[test]
    fn references_are_decoded_and_offsets_lead_back_to_the_original() {
        let original = "<td>O&#39;Brien &amp; Zo&#xEB;</td> &bogus; & end";
        let decoded = ReferencesDecoded::of(original).unwrap();
        assert_eq!(decoded.text, "<td>O'Brien & Zoë</td> &bogus; & end");
        let at = |needle: &str| decoded.original_offset(decoded.text.find(needle).unwrap());
        assert_eq!(at("O'Brien"), original.find("O&#39;").unwrap());
        assert_eq!(at("Brien"), original.find("Brien").unwrap());
        assert_eq!(at("Zoë"), original.find("Zo&").unwrap());
        assert_eq!(at("</td>"), original.find("</td>").unwrap());
        assert_eq!(at("end"), original.find("end").unwrap());
        assert_eq!(ReferencesDecoded::of("no references & none"), None);
    }
}
