//! Reading QDA-XML leniently: elements by local name whatever namespace
//! prefix or spelling (`codebook:1:0`) a tool wrote, GUIDs with or without
//! braces, in any case.

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use thematic_model::{Code, Term};

use crate::{ID_LINE, TERMS_LINE};

/// The codes of a `.qdc` codebook (or of a project's `CodeBook`): ids made
/// from names (lower case, `-` for the rest), made unique, or the ids
/// thematic wrote into the descriptions; the hierarchy from the nesting;
/// terms back from descriptions.
pub fn read_codebook(xml: &str) -> Result<Vec<Code>, String> {
    Ok(read_codes(xml)?.into_iter().map(|(code, _)| code).collect())
}

/// The codes of a codebook, each with its GUID (normalised, see [`guid_of`]).
pub(crate) fn read_codes(xml: &str) -> Result<Vec<(Code, Option<String>)>, String> {
    let mut reader = Reader::from_str(xml);
    let mut codes: Vec<(Code, Option<String>)> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut in_description = false;
    let mut taken: BTreeSet<String> = BTreeSet::new();
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "not well-formed XML at line {}: {e}",
                line_at(xml, reader.buffer_position())
            )
        })?;
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) if tag.local_name().as_ref() == "Code" => {
                let name = attribute(tag, "name")
                    .ok_or_else(|| format!("line {}: a Code without a name", line_at(xml, reader.buffer_position())))?;
                let id = unique_id(&name, &mut taken);
                let parent = open.last().map(|&at| codes[at].0.id.clone());
                let code = Code {
                    id,
                    name: Some(name),
                    parent,
                    ..Code::default()
                };
                codes.push((code, attribute(tag, "guid").map(|g| guid_of(&g))));
                if matches!(event, Event::Start(_)) {
                    open.push(codes.len() - 1);
                }
            }
            Event::End(ref tag) if tag.local_name().as_ref() == "Code" => {
                open.pop();
            }
            Event::Start(ref tag) if tag.local_name().as_ref() == "Description" => in_description = true,
            Event::End(ref tag) if tag.local_name().as_ref() == "Description" => in_description = false,
            Event::Eof => break,
            ref text @ (Event::Text(_) | Event::CData(_) | Event::GeneralRef(_)) if in_description => {
                if let Some(&at) = open.last() {
                    push_text(text, codes[at].0.description.get_or_insert_with(String::new));
                }
            }
            _ => {}
        }
    }
    // Ids written by thematic come back, where they are still unique.
    let mut renamed: BTreeMap<String, String> = BTreeMap::new();
    let mut ids: BTreeSet<String> = codes.iter().map(|(c, _)| c.id.clone()).collect();
    for (code, _) in &mut codes {
        let Some(description) = code.description.take() else {
            continue;
        };
        let description = description.replace("\r\n", "\n");
        let mut kept = Vec::new();
        for part in description.split("\n\n") {
            if let Some(terms) = part.strip_prefix(TERMS_LINE) {
                code.terms = terms.split("; ").map(|term| Term::from(term.to_string())).collect();
            } else if let Some(id) = part.strip_prefix(ID_LINE) {
                if id != code.id && !id.is_empty() && ids.insert(id.to_string()) {
                    renamed.insert(code.id.clone(), id.to_string());
                    code.id = id.to_string();
                }
            } else {
                kept.push(part);
            }
        }
        code.description = (!kept.is_empty()).then(|| kept.join("\n\n"));
    }
    for (code, _) in &mut codes {
        if let Some(parent) = code.parent.as_ref().and_then(|p| renamed.get(p)) {
            code.parent = Some(parent.clone());
        }
    }
    Ok(codes)
}

/// `Taking ownership` → `taking-ownership`, unique among `taken`.
pub(crate) fn unique_id(name: &str, taken: &mut BTreeSet<String>) -> String {
    let slug = slug(name).unwrap_or_else(|| "code".to_string());
    let mut id = slug.clone();
    let mut n = 1;
    while !taken.insert(id.clone()) {
        n += 1;
        id = format!("{slug}-{n}");
    }
    id
}

/// `Coder A` → `coder-a`: lower case, `-` for what is not a letter or
/// digit; `None` if nothing is left.
pub fn slug(name: &str) -> Option<String> {
    let mut slug = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    (!slug.is_empty()).then(|| slug.to_string())
}

/// An attribute's value by its local name, entities resolved.
pub(crate) fn attribute(tag: &BytesStart, name: &str) -> Option<String> {
    tag.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// A GUID as written (`{0A0B…}` or `0a0b…`) in one spelling.
pub(crate) fn guid_of(written: &str) -> String {
    written
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase()
}

/// Adds what `event` says as character data (text, CDATA, an entity) to
/// `into`, line ends as written: a source's text inside the project counts
/// positions over its `\r\n`s as a file's would.
pub(crate) fn push_text(event: &Event, into: &mut String) {
    match event {
        Event::Text(text) => into.push_str(text.as_ref()),
        Event::CData(data) => into.push_str(data.as_ref()),
        Event::GeneralRef(reference) => match reference.resolve_char_ref() {
            Ok(Some(c)) => into.push(c),
            _ => into
                .push_str(quick_xml::escape::resolve_predefined_entity(&reference.xml10_content()).unwrap_or_default()),
        },
        _ => {}
    }
}

/// The line (from 1) that byte `position` of `xml` is on.
pub(crate) fn line_at(xml: &str, position: u64) -> usize {
    Lines::new(xml).at(position)
}

/// Lines counted as a reader moves forward through a document: each byte
/// is looked at once however many elements ask for their line.
pub(crate) struct Lines<'a> {
    xml: &'a str,
    counted_to: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(xml: &'a str) -> Lines<'a> {
        Lines {
            xml,
            counted_to: 0,
            line: 1,
        }
    }

    /// The line byte `position` is on; positions asked for only grow.
    pub(crate) fn at(&mut self, position: u64) -> usize {
        let end = (position as usize).min(self.xml.len()).max(self.counted_to);
        self.line += self.xml.as_bytes()[self.counted_to..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.counted_to = end;
        self.line
    }
}
