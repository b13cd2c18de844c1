//! Redaction: the names, places and organisations of a study's redaction
//! list replaced, in every transcript and before anything else sees it, by
//! consistent and visibly marked pseudonyms (`PERSON-1`, `PLACE-2`).
//!
//! Entries match whole words, without regard to case or accents
//! ("Zoë", "zoe" and "ZOE" are one entry), and the longest entries go first,
//! so that "Ana María Ruiz" is replaced whole before "Ana" could leave "María
//! Ruiz" behind. Pseudonyms are numbered per kind in the order of the list,
//! so a transcript redacts the same way in every run; entries sharing a
//! `group` (one person's full name, first name and nickname) share one.
//!
//! The same matcher finds entries without replacing them, for the audit of
//! outputs: whatever it finds there is a leak.

use std::collections::BTreeMap;
use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use thematic_text::is_word;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// One entry of the redaction list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionEntry {
    pub entry: String,
    pub pseudonym: String,
}

#[derive(Debug, Clone)]
pub struct Redactor {
    entries: Vec<RedactionEntry>,
    matcher: Option<AhoCorasick>,
    /// The kinds pseudonyms are made of (`PERSON`), for telling them in text.
    kinds: Vec<String>,
}

impl Redactor {
    /// Reads a redaction list: CSV rows `entry,kind,group`, kind and group
    /// optional (kind `person`, `place`, `organisation` or any word; group
    /// any label shared by entries that are one name). A first row
    /// `entry,...` is a header. Errors name the file and the line.
    pub fn from_csv(file: &str, text: &str) -> Result<Redactor, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for (index, record) in reader.records().enumerate() {
            let record = record.map_err(|e| format!("{file}:{}: {e}", e.position().map_or(0, |p| p.line())))?;
            let line = record.position().map_or(index + 1, |p| p.line() as usize);
            let field = |i: usize| record.get(i).unwrap_or("").to_string();
            let entry = field(0);
            if index == 0 && entry.eq_ignore_ascii_case("entry") {
                continue;
            }
            if entry.is_empty() {
                if record.iter().all(str::is_empty) {
                    continue;
                }
                return Err(format!("{file}:{line}: an empty entry"));
            }
            if !entry.chars().any(is_word) {
                return Err(format!("{file}:{line}: an entry without a letter or digit"));
            }
            let group = match field(2) {
                group if group.is_empty() => fold(&entry).0,
                group => group,
            };
            rows.push((entry, kind_of(&field(1)), group));
        }
        Redactor::new(rows).map_err(|e| format!("{file}: {e}"))
    }

    /// Entries as (entry, kind, group).
    fn new(rows: Vec<(String, String, String)>) -> Result<Redactor, aho_corasick::BuildError> {
        let mut pseudonyms: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut entries = Vec::new();
        for (entry, kind, group) in rows {
            let pseudonym = pseudonyms
                .entry((kind.clone(), group))
                .or_insert_with(|| {
                    let n = counts.entry(kind.clone()).or_default();
                    *n += 1;
                    format!("{kind}-{n}")
                })
                .clone();
            entries.push(RedactionEntry { entry, pseudonym });
        }
        let folded: Vec<String> = entries.iter().map(|e| fold(&e.entry).0).collect();
        let matcher = match entries.is_empty() {
            true => None,
            false => Some(AhoCorasick::builder().match_kind(MatchKind::Standard).build(&folded)?),
        };
        let kinds = counts.into_keys().collect();
        Ok(Redactor {
            entries,
            matcher,
            kinds,
        })
    }

    pub fn entries(&self) -> &[RedactionEntry] {
        &self.entries
    }

    /// A regular expression matching the pseudonyms this list makes, so that
    /// coding strategies do not code them.
    pub fn pseudonym_pattern(&self) -> Option<String> {
        (!self.kinds.is_empty()).then(|| format!(r"\b(?:{})-[0-9]+\b", self.kinds.join("|")))
    }

    /// Where entries occur in `text`: byte ranges, longest entries first,
    /// none overlapping, in text order; each with the entry's index.
    pub fn find(&self, text: &str) -> Vec<(Range<usize>, usize)> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        let (folded, origin) = fold(text);
        let mut found: Vec<(Range<usize>, usize)> = matcher
            .find_overlapping_iter(&folded)
            .filter(|m| whole_word(&folded, m.start(), m.end()))
            .map(|m| (m.start()..m.end(), m.pattern().as_usize()))
            .collect();
        // The longest first; of equal length, the earliest.
        found.sort_by_key(|(range, _)| (std::cmp::Reverse(range.len()), range.start));
        // Taken ranges by start: a new one must end before the next and start after the last.
        let mut taken: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        for (range, entry) in found {
            let clear_before = taken
                .range(..=range.start)
                .next_back()
                .is_none_or(|(_, &(end, _))| end <= range.start);
            let clear_after = taken
                .range(range.start..)
                .next()
                .is_none_or(|(&start, _)| range.end <= start);
            if clear_before && clear_after {
                taken.insert(range.start, (range.end, entry));
            }
        }
        taken
            .into_iter()
            .map(|(start, (end, entry))| (origin[start].0..origin[end - 1].1, entry))
            .collect()
    }

    /// `text` with every entry replaced by its pseudonym.
    pub fn redact(&self, text: &str) -> String {
        let found = self.find(text);
        if found.is_empty() {
            return text.to_string();
        }
        let mut redacted = String::with_capacity(text.len());
        let mut at = 0;
        for (range, entry) in found {
            redacted.push_str(&text[at..range.start]);
            redacted.push_str(&self.entries[entry].pseudonym);
            at = range.end;
        }
        redacted.push_str(&text[at..]);
        redacted
    }

    /// The key from pseudonyms to what they replace, as CSV, for the file
    /// the researcher keeps apart from the data.
    pub fn key_csv(&self) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let written = writer
            .write_record(["pseudonym", "entry"])
            .and_then(|()| {
                self.entries
                    .iter()
                    .try_for_each(|e| writer.write_record([e.pseudonym.as_str(), e.entry.as_str()]))
            })
            .map_err(|e| e.to_string())
            .and_then(|()| writer.into_inner().map_err(|e| e.to_string()));
        String::from_utf8(written.unwrap_or_default()).unwrap_or_default()
    }
}

/// `person`, `Place`, `organization`... as the word a pseudonym starts with.
fn kind_of(kind: &str) -> String {
    match kind.to_lowercase().as_str() {
        "" | "name" => "NAME".into(),
        "person" | "people" => "PERSON".into(),
        "place" | "location" => "PLACE".into(),
        "organisation" | "organization" | "org" => "ORGANISATION".into(),
        other => {
            let letters: String = other.chars().filter(char::is_ascii_alphabetic).collect();
            if letters.is_empty() {
                "NAME".into()
            } else {
                letters.to_uppercase()
            }
        }
    }
}

/// Whether the folded match `start..end` stands as whole words.
fn whole_word(folded: &str, start: usize, end: usize) -> bool {
    let before = folded[..start].chars().next_back();
    let after = folded[end..].chars().next();
    !before.is_some_and(is_word) && !after.is_some_and(is_word)
}

/// `text` without accents, in lower case and with each run of white space
/// (line breaks, no-break spaces) one space, with, for each of its bytes, the
/// byte range of the characters of `text` it came from.
pub fn fold(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut folded = String::with_capacity(text.len());
    let mut origin: Vec<(usize, usize)> = Vec::with_capacity(text.len());
    let mut in_space = false;
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        if c.is_whitespace() {
            match (in_space, origin.last_mut()) {
                (true, Some(last)) => last.1 = end,
                _ => {
                    folded.push(' ');
                    origin.push((at, end));
                }
            }
            in_space = true;
            continue;
        }
        in_space = false;
        let before = folded.len();
        if c.is_ascii() {
            folded.push(c.to_ascii_lowercase());
        } else {
            decompose_canonical(c, |part| {
                if !is_combining_mark(part) {
                    folded.extend(part.to_lowercase().filter(|l| !is_combining_mark(*l)));
                }
            });
        }
        origin.resize(folded.len(), (at, end));
        // A character that folds to nothing (a lone combining mark) joins the one before.
        if folded.len() == before {
            if let Some(last) = origin.last_mut() {
                last.1 = end;
            }
        }
    }
    (folded, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(csv: &str) -> Redactor {
        Redactor::from_csv("redaction.csv", csv).unwrap()
    }

    #[test]
    fn whole_words_without_regard_to_case_or_accents_longest_first() {
        let r = redactor("entry,kind,group\nAna María Ruiz,person,ana\nAna,person,ana\nZoë,person\nRiverside,place\nNorth Trust,organisation\n");
        assert_eq!(
            r.redact("ANA MARIA RUIZ met ana and zoe at Riverside's North Trust; Anabel and Zoëy stayed."),
            "PERSON-1 met PERSON-1 and PERSON-2 at PLACE-1's ORGANISATION-1; Anabel and Zoëy stayed."
        );
        assert_eq!(r.redact("Ana María Ruiz"), "PERSON-1", "not `PERSON-1 María Ruiz`");
    }

    #[test]
    fn a_name_broken_across_lines_or_spaces_is_one_name() {
        let r = redactor("Ana María Ruiz\n");
        assert_eq!(
            r.redact("Ana  María\nRuiz and Ana\u{a0}María Ruiz."),
            "NAME-1 and NAME-1."
        );
        assert_eq!(
            Redactor::from_csv("list.csv", "entry\n\n\nAna\n,x\n").unwrap_err(),
            "list.csv:5: an empty entry",
            "lines as in the file, blank ones counted"
        );
    }

    #[test]
    fn decomposed_accents_and_non_ascii_case_are_the_same_name() {
        let r = redactor("Zoë\nÉlodie\n");
        assert_eq!(
            r.redact("Zoe\u{308} and ÉLODIE and élodie."),
            "NAME-1 and NAME-2 and NAME-2."
        );
    }

    #[test]
    fn pseudonyms_are_told_by_a_pattern_and_the_key_pairs_them() {
        let r = redactor("Ana,person\nRiverside,place\n");
        assert_eq!(r.pseudonym_pattern().as_deref(), Some(r"\b(?:PERSON|PLACE)-[0-9]+\b"));
        assert_eq!(r.key_csv(), "pseudonym,entry\nPERSON-1,Ana\nPLACE-1,Riverside\n");
    }

    #[test]
    fn bad_rows_are_named_by_line() {
        assert_eq!(
            Redactor::from_csv("list.csv", "entry,kind\nAna,person\n,place\n").unwrap_err(),
            "list.csv:3: an empty entry"
        );
        assert_eq!(
            Redactor::from_csv("list.csv", "--\n").unwrap_err(),
            "list.csv:1: an entry without a letter or digit"
        );
    }
}
