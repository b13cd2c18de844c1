//! `thematic audit`: the anonymity promise checked. Every file in the
//! output folder and in the store's folder is searched for the entries of
//! the study's redaction list (whole words, without regard to case or
//! accents, as redaction matches them). Findings name the file and the
//! place (line and column in text, byte offset in the store) and the
//! pseudonym, never the entry itself.

use std::borrow::Cow;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use thematic_pipeline::Redactor;
use thematic_store::Store;
use thematic_text::line_column;

use crate::outcome::{count, say, Diagnostics, Outcome};
use crate::study::{self, STATE_DIR};

/// Large files (the store) are searched a piece at a time; pieces overlap
/// by more than any entry is long, so nothing is missed between two.
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
    let mut found = 0;
    let mut report = |place: String, entry: usize| {
        found += 1;
        diagnostics.fail(format!(
            "{place}: an entry of the redaction list ({}) is in the output",
            redaction.redactor.entries()[entry].pseudonym
        ));
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
        store.each_value(&mut |place, text| {
            for (_, entry) in redaction.redactor.find(text) {
                report(format!("{shown}: {place}"), entry);
            }
        })?;
    }
    for file in &files {
        let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let shown = file.strip_prefix(&study.root).unwrap_or(file).display().to_string();
        for (place, entry) in findings(&redaction.redactor, &bytes) {
            report(format!("{shown}:{place}"), entry);
        }
    }
    say(format!(
        "audited {}: {}",
        count(files.len(), "file"),
        match found {
            0 => "no entry of the redaction list found".to_string(),
            n => format!("{}, shown above", count(n, "finding")),
        }
    ));
    Ok(diagnostics.outcome())
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

/// Where entries occur in a file's bytes: `line:column` in a text file,
/// `byte N` in any other; each with the entry's index.
fn findings(redactor: &Redactor, bytes: &[u8]) -> Vec<(String, usize)> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if bytes.len() <= PIECE {
            return redactor
                .find(text)
                .into_iter()
                .map(|(range, entry)| {
                    let (line, column) = line_column(text, range.start);
                    (format!("{line}:{column}"), entry)
                })
                .collect();
        }
    }
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
    use super::*;

    #[test]
    fn a_name_cut_by_a_piece_boundary_is_found_once_and_a_longer_word_not_at_all() {
        let redactor = Redactor::from_csv("list.csv", "Ana\nAna María\n").unwrap();
        let mut bytes = vec![b'.'; PIECE - 2];
        bytes.extend_from_slice("Ana María, Anabel\u{0}".as_bytes());
        bytes.extend(vec![b'.'; 100]);
        let found = findings(&redactor, &bytes);
        assert_eq!(
            found,
            vec![(format!("byte {}", PIECE - 2), 1)],
            "`Ana María` whole, `Anabel` not"
        );
    }

    #[test]
    fn bytes_that_are_not_text_keep_their_offsets() {
        assert_eq!(readable(b"ab\xFFcd\xC3"), "ab cd ");
    }
}
