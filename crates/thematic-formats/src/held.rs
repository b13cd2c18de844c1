//! Every text a file holds, read the way thematic reads transcripts, for a
//! search that must miss nothing (the audit of a redaction list): text in
//! each encoding thematic decodes; the entries of zip-based files (Word
//! documents, workbooks, REFI-QDA projects, and archives inside them), with
//! what an archive says of its entries (names, comments); the bytes of the
//! store's SQLite files. Anything else is [`Held::Unreadable`]: a search
//! that cannot read a file must say so, never pass it. [`Unmarked`] gives a
//! text as a reader sees it once markup and escapes are taken out, where a
//! name can be cut by runs of formatting (`<w:t>An</w:t><w:t>a</w:t>`) or
//! written as references (`Zo&euml;`, `Zo\u00eb`).

use crate::decode_text;
use crate::references::push_reference;
use crate::zipped::Zipped;

/// How deep archives inside archives are opened (a Word document inside a
/// REFI-QDA project inside a zip of reports).
const MAX_DEPTH: usize = 4;
/// More entries than an export of thousands of transcripts has.
const MAX_ENTRIES: usize = 100_000;
/// What the entries of one file, at every depth, may inflate to together.
const MAX_INFLATED_BYTES: u64 = 1024 * 1024 * 1024;

/// What a file holds, as the search is handed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held<'a> {
    /// Text, decoded as thematic decodes transcripts: places in it are lines and columns.
    Text(&'a str),
    /// What an archive says of its entries: their names and comments, and its own comment, a line each.
    Listing(&'a str),
    /// The bytes of a kind that keeps its text as written: places are byte offsets.
    Bytes(&'a [u8]),
    /// What cannot be read, and why.
    Unreadable(&'a str),
}

/// Hands `found` everything `bytes` holds, with where it is: the names of
/// the archive entries it is inside, outermost first (none for the file's
/// own text).
pub fn each_held(bytes: &[u8], found: &mut dyn FnMut(&[String], Held<'_>)) {
    let mut left = MAX_INFLATED_BYTES;
    visit(bytes, &mut Vec::new(), &mut left, found);
}

/// Hands `found` what `bytes` holds; `left` is what archives may still inflate to.
fn visit(bytes: &[u8], within: &mut Vec<String>, left: &mut u64, found: &mut dyn FnMut(&[String], Held<'_>)) {
    if is_zip(bytes) {
        return visit_zip(bytes, within, left, found);
    }
    // Formats that are text on the surface but keep theirs encoded or compressed.
    for (signature, what) in [(&b"%PDF-"[..], "a PDF"), (b"{\\rtf", "an RTF document")] {
        if bytes.starts_with(signature) {
            return found(
                within,
                Held::Unreadable(&format!("{what}, whose text thematic does not read")),
            );
        }
    }
    match decode_text(bytes) {
        Ok(text) if text.len() > MAX_TEXT_BYTES => found(
            within,
            Held::Unreadable(&format!("a text over {} MiB", MAX_TEXT_BYTES / (1024 * 1024))),
        ),
        Ok(text) => found(within, Held::Text(&text)),
        Err(_) if is_sqlite(bytes) => found(within, Held::Bytes(bytes)),
        Err(e) => found(
            within,
            Held::Unreadable(&format!("neither text nor a format thematic reads ({e})")),
        ),
    }
}

fn visit_zip(bytes: &[u8], within: &mut Vec<String>, left: &mut u64, found: &mut dyn FnMut(&[String], Held<'_>)) {
    if within.len() >= MAX_DEPTH {
        let deep = format!("an archive inside {MAX_DEPTH} others, deeper than is opened");
        return found(within, Held::Unreadable(&deep));
    }
    let mut archive = match Zipped::open(bytes, "a zip-based file", MAX_ENTRIES) {
        Ok(archive) => archive,
        Err(reason) => return found(within, Held::Unreadable(&reason)),
    };
    found(within, Held::Listing(&archive.listing()));
    for index in 0..archive.len() {
        let (name, entry) = archive.read_at(index);
        within.push(name);
        match entry {
            Ok(entry) if entry.len() as u64 > *left => {
                let past = format!(
                    "inflates past the {} MiB the entries of one file may take together, archives inside it included; refused as a possible zip bomb",
                    MAX_INFLATED_BYTES / (1024 * 1024)
                );
                found(within, Held::Unreadable(&past));
                within.pop();
                return;
            }
            Ok(entry) => {
                *left -= entry.len() as u64;
                visit(&entry, within, left, found);
            }
            Err(reason) => found(within, Held::Unreadable(&reason)),
        }
        within.pop();
    }
}

/// A zip archive, empty or not, by its first signature.
fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// The store's files: SQLite keeps text in them as written, so searching
/// their bytes finds it.
fn is_sqlite(bytes: &[u8]) -> bool {
    const DATABASE: &[u8] = b"SQLite format 3\0";
    const WRITE_AHEAD_LOG: [&[u8]; 2] = [b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83"];
    const ROLLBACK_JOURNAL: &[u8] = b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7";
    // The shared-memory index opens with its version, 3007000, in the machine's byte order.
    let index_version = 3_007_000u32;
    [DATABASE, WRITE_AHEAD_LOG[0], WRITE_AHEAD_LOG[1], ROLLBACK_JOURNAL]
        .iter()
        .any(|signature| bytes.starts_with(signature))
        || bytes.starts_with(&index_version.to_le_bytes())
        || bytes.starts_with(&index_version.to_be_bytes())
}

/// A text as a reader sees it once its markup and escapes are taken out,
/// with the way back to offsets in the text as written: character
/// references decoded (`O&#39;Brien`, `Zo&euml;`) and the `\uXXXX` escapes
/// of JSON; and, in [`Unmarked::of`], tags removed — a block's tag (`<p>`,
/// `<w:p>`, `<si>`, `<br/>`) leaves a line end, a run's (`<w:r>`, `<b>`) or a
/// comment nothing, so that a word cut into runs of formatting is whole
/// again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmarked {
    pub text: String,
    /// Where each thing taken out ended: its offset in `text` and in the
    /// original (`u32`: texts searched are at most [`MAX_TEXT_BYTES`]).
    marks: Vec<(u32, u32)>,
}

/// The longest text unmarked, so that offsets fit the marks.
pub const MAX_TEXT_BYTES: usize = 256 * 1024 * 1024;

/// The longest tag read as one; past it, a `<` is text (and a file of
/// unclosed tags costs a bounded look at each).
const MAX_TAG_BYTES: usize = 16 * 1024;

impl Unmarked {
    /// `text` with tags removed and references and escapes decoded; `None`
    /// when it has nothing to take out or is longer than [`MAX_TEXT_BYTES`]
    /// (which [`each_held`] hands over as unreadable).
    pub fn of(text: &str) -> Option<Unmarked> {
        Unmarked::taking(text, true)
    }

    /// `text` with references and escapes decoded and its tags as written,
    /// for what tags themselves hold (`<Code name="O&apos;Brien">`).
    pub fn references_decoded(text: &str) -> Option<Unmarked> {
        Unmarked::taking(text, false)
    }

    fn taking(text: &str, tags: bool) -> Option<Unmarked> {
        if text.len() > MAX_TEXT_BYTES {
            return None;
        }
        let mut unmarked = Unmarked {
            text: String::with_capacity(text.len()),
            marks: Vec::new(),
        };
        let openers: &[char] = if tags { &['<', '&', '\\'] } else { &['&', '\\'] };
        let mut copied = 0;
        let mut from = 0;
        while let Some(found) = text[from..].find(openers) {
            let at = from + found;
            unmarked.text.push_str(&text[copied..at]);
            copied = at;
            let length = match text.as_bytes()[at] {
                b'<' => tag_at(&text[at..]).map(|(length, block)| {
                    if block {
                        unmarked.text.push('\n');
                    }
                    length
                }),
                b'&' => push_reference(&text[at..], &mut unmarked.text),
                _ => push_escape(&text[at..], &mut unmarked.text),
            };
            match length {
                Some(length) => {
                    copied = at + length;
                    unmarked.marks.push((unmarked.text.len() as u32, copied as u32));
                    from = copied;
                }
                None => from = at + 1,
            }
        }
        if unmarked.marks.is_empty() {
            return None;
        }
        unmarked.text.push_str(&text[copied..]);
        Some(unmarked)
    }

    /// The offset in the original text of offset `at` of the unmarked one
    /// (inside what replaced a reference: within the reference).
    pub fn original_offset(&self, at: usize) -> usize {
        let index = self.marks.partition_point(|&(unmarked, _)| unmarked as usize <= at);
        match index.checked_sub(1).map(|i| self.marks[i]) {
            Some((unmarked, original)) => original as usize + (at - unmarked as usize),
            None => at,
        }
    }
}

/// Elements that stand apart from the text beside them (paragraphs, cells,
/// line breaks of HTML, WordprocessingML, SpreadsheetML, DrawingML and
/// REFI-QDA), by local name; any other element's tag joins the text either
/// side, as runs of formatting do. (The text as written, where every tag
/// parts words, is searched too.)
const BLOCKS: [&str; 38] = [
    "p",
    "br",
    "cr",
    "tab",
    "tc",
    "tr",
    "td",
    "th",
    "si",
    "c",
    "row",
    "div",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "caption",
    "title",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "pre",
    "blockquote",
    "section",
    "header",
    "footer",
    "footnote",
    "endnote",
    "comment",
    "desc",
    "description",
];

/// The length of a tag, comment or declaration at the start of `text`, and
/// whether it stands apart from the text beside it; `None` where a `<` opens
/// none (`I <3 it`).
fn tag_at(text: &str) -> Option<(usize, bool)> {
    if let Some(comment) = text.strip_prefix("<!--") {
        // Unclosed, it runs to the end, as browsers read it (and a search
        // for each later `<!--` would cross the rest again).
        return Some((comment.find("-->").map_or(text.len(), |end| 4 + end + 3), false));
    }
    // Character data is text: only its opening is taken out (its `]]>` parts words).
    if text.starts_with("<![CDATA[") {
        return Some((9, false));
    }
    let inner = &text[1..];
    if !inner.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '/' | '?' | '!')) {
        return None;
    }
    let end = tag_end(inner)?;
    let name = inner[..end]
        .trim_start_matches(['/', '?', '!'])
        .split(|c: char| c.is_whitespace() || c == '/')
        .next()
        .unwrap_or("");
    let local = name.rsplit(':').next().unwrap_or(name).to_ascii_lowercase();
    let block = inner.starts_with(['?', '!']) || BLOCKS.contains(&local.as_str());
    Some((end + 2, block))
}

/// Where the tag whose inside starts `inner` closes: the first `>` outside
/// quoted attribute values, within [`MAX_TAG_BYTES`] and before any other `<`.
fn tag_end(inner: &str) -> Option<usize> {
    let mut quote = None;
    for (at, byte) in inner.bytes().take(MAX_TAG_BYTES).enumerate() {
        match (quote, byte) {
            (None, b'>') => return Some(at),
            (None, b'<') => return None,
            (None, b'"' | b'\'') => quote = Some(byte),
            (Some(open), _) if byte == open => quote = None,
            _ => {}
        }
    }
    None
}

/// If `text` opens with a JSON escape (`\u00eb`, a surrogate pair, `\n`),
/// pushes what it stands for onto `unmarked` and returns its length.
fn push_escape(text: &str, unmarked: &mut String) -> Option<usize> {
    let unit = |at: usize| {
        text.get(at..at + 6)
            .and_then(|escape| escape.strip_prefix("\\u"))
            .and_then(|hex| u16::from_str_radix(hex, 16).ok())
    };
    match text.as_bytes().get(1)? {
        b'n' | b'r' | b't' => {
            unmarked.push('\n');
            Some(2)
        }
        b'u' => {
            let first = unit(0)?;
            let (c, length) = match char::from_u32(first.into()) {
                Some(c) => (c, 6),
                None => (char::decode_utf16([first, unit(6)?]).next()?.ok()?, 12),
            };
            unmarked.push(c);
            Some(length)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])], comment: &str) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.set_comment(comment).unwrap();
        zip.finish().unwrap().into_inner()
    }

    /// What `bytes` holds, as (entries within, kind, text) rows.
    fn held(bytes: &[u8]) -> Vec<(String, &'static str, String)> {
        let mut rows = Vec::new();
        each_held(bytes, &mut |within, held| {
            let (kind, text) = match held {
                Held::Text(text) => ("text", text.to_string()),
                Held::Listing(text) => ("listing", text.to_string()),
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
    fn only_the_stores_binary_files_are_searched_as_bytes_and_the_rest_is_unreadable() {
        assert_eq!(held(b"SQLite format 3\0\x01\x02Zoe")[0].1, "bytes");
        let unreadable = held(b"\x1f\x8b\x08\0compressed");
        assert_eq!(unreadable[0].1, "unreadable");
        assert!(unreadable[0].2.contains("NUL byte at byte 3"), "{unreadable:?}");
        for other in [
            &b"Zo\xEB"[..],
            b"\x7fELF\x02\x01\0Zoe",
            b"%PDF-1.7\n<< >>",
            b"{\\rtf1\\ansi Zo\\'eb}",
        ] {
            assert_eq!(held(other)[0].1, "unreadable", "{other:?}");
        }
    }

    #[test]
    fn archives_are_opened_entry_by_entry_inside_each_other_with_their_listings() {
        let inner = zip_of(&[("sources/a.txt", b"P1: Zo\xC3\xAB".as_slice())], "");
        let outer = zip_of(
            &[
                ("project.qde", b"<Project/>".as_slice()),
                ("notes/", b"kept".as_slice()),
                ("copy.qdpx", &inner),
            ],
            "made by hand",
        );
        assert_eq!(
            held(&outer),
            [
                (
                    String::new(),
                    "listing",
                    "project.qde\nnotes/\ncopy.qdpx\nmade by hand".to_string()
                ),
                ("project.qde".to_string(), "text", "<Project/>".to_string()),
                ("notes/".to_string(), "text", "kept".to_string()),
                ("copy.qdpx".to_string(), "listing", "sources/a.txt".to_string()),
                ("copy.qdpx > sources/a.txt".to_string(), "text", "P1: Zoë".to_string()),
            ]
        );
        let mut nested = b"Zoe".to_vec();
        for level in 0..=MAX_DEPTH {
            nested = zip_of(&[(&format!("level{level}.zip"), &nested)], "");
        }
        let rows = held(&nested);
        assert_eq!(rows.last().unwrap().1, "unreadable", "{rows:?}");
        assert!(!rows.iter().any(|row| row.1 == "text"), "{rows:?}");
        assert_eq!(held(b"PK\x03\x04broken")[0].1, "unreadable");
    }

    #[test]
    fn markup_is_unmarked_as_a_reader_sees_it_and_offsets_lead_back() {
        let original = "<w:p><w:r><w:t>P1: An</w:t></w:r><w:r><w:t>a</w:t></w:r></w:p><w:p><w:t>helped</w:t></w:p> \
                        O&#39;Brien, Zo&euml;, \"Zo\\u00eb\", \\ud83d\\ude00 I <3 it";
        let unmarked = Unmarked::of(original).unwrap();
        assert_eq!(
            unmarked.text,
            "\nP1: Ana\n\nhelped\n O'Brien, Zoë, \"Zoë\", \u{1f600} I <3 it"
        );
        let at = |needle: &str| unmarked.original_offset(unmarked.text.find(needle).unwrap());
        assert_eq!(at("Ana"), original.find("An<").unwrap());
        assert_eq!(at("helped"), original.find("helped").unwrap());
        assert_eq!(at("O'Brien"), original.find("O&#39;").unwrap());
        assert_eq!(at("Brien"), original.find("Brien").unwrap());
        assert_eq!(at("Zoë,"), original.find("Zo&").unwrap());
        assert_eq!(at("Zoë\""), original.find("Zo\\").unwrap());
        assert_eq!(at("<3"), original.find("<3").unwrap());
        assert_eq!(Unmarked::of("no markup & none, I <3 it"), None);
        let joined = "<p>An<!-- a note -->a <span title=\"a>b\">Mar</span>ía</p> <![CDATA[Zo]]>ë <!-- <!-- unclosed";
        assert_eq!(Unmarked::of(joined).unwrap().text, "\nAna María\n Zo]]>ë ");
        let attribute = "<Code name=\"What O&apos;Brien said\"/>";
        assert_eq!(
            Unmarked::references_decoded(attribute).unwrap().text,
            "<Code name=\"What O'Brien said\"/>"
        );
        assert_eq!(Unmarked::of(attribute).unwrap().text, "");
    }
}
