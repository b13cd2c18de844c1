//! REFI-QDA exchange (the `.qdpx` project format of NVivo, ATLAS.ti,
//! MAXQDA and QualCoder, schema `urn:QDA-XML:project:1.0`).
//!
//! A study goes out as a zip of `project.qde` and `sources/`, one UTF-8 text
//! per transcript: codes and their hierarchy as `Code`s; themes, sub-themes
//! and discussion areas as `Set`s of codes (the standard's way to group codes
//! without making the groups codable); participants as `Case`s with their
//! attributes as `Variable` values; every coding as a `PlainTextSelection`
//! with half-open code-point offsets and a `Coding` of its code, made by the
//! `User` that is the stage (a strategy counts as a coder). GUIDs are UUIDv5
//! of stable names, so exporting an unchanged study gives the same bytes.
//!
//! Pure: the shell gathers what goes out and writes the archive.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Cursor, Write};
use std::sync::LazyLock;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use thematic_model::{Area, Code, Participant, ReviewedTheme};
use uuid::Uuid;

mod import;
mod positions;
mod read;

pub use import::{read_qdpx, ImportedCase, ImportedCoding, ImportedProject, ImportedSource};
pub use read::{read_codebook, slug};

pub const PROJECT_NAMESPACE: &str = "urn:QDA-XML:project:1.0";
pub const CODEBOOK_NAMESPACE: &str = "urn:QDA-XML:codebook:1.0";

/// What a code's description carries of its id and dictionary terms, so
/// that a codebook comes back from a `.qdc` as it went (other tools show
/// these lines as text).
const ID_LINE: &str = "thematic code: ";
const TERMS_LINE: &str = "thematic terms: ";

/// One transcript as it goes out: its id, its text (what offsets count in)
/// and the participant it is with, if one.
pub struct Source<'a> {
    pub id: &'a str,
    pub text: &'a str,
    pub participant: Option<&'a str>,
}

/// One coded stretch: transcript, the coder (stage), the code, and its
/// half-open code-point range in the transcript's text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selection<'a> {
    pub transcript: &'a str,
    pub coder: &'a str,
    pub code: &'a str,
    pub start: usize,
    pub end: usize,
}

pub struct Project<'a> {
    pub name: &'a str,
    pub origin: &'a str,
    pub codes: &'a [Code],
    pub themes: &'a [ReviewedTheme],
    pub areas: &'a [Area],
    pub participants: &'a [Participant],
    pub sources: Vec<Source<'a>>,
    pub selections: Vec<Selection<'a>>,
}

/// thematic's namespace of GUIDs.
static NAMESPACE: LazyLock<Uuid> =
    LazyLock::new(|| Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://thematic.invalid/refi-qda"));

/// The UUIDv5 of `kind:name` under thematic's namespace.
fn guid(kind: &str, name: &str) -> String {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{name}").as_bytes()).to_string()
}

/// The `.qdpx` archive of `project`: `project.qde` and `sources/GUID.txt`.
pub fn qdpx(project: &Project) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        // The fastest level: a project's XML is large and repetitive, and
        // compresses well at any level (the default took half the export).
        .compression_level(Some(1))
        .last_modified_time(zip::DateTime::default());
    let mut entries: Vec<(String, Vec<u8>)> = vec![("project.qde".into(), project_xml(project).into_bytes())];
    for source in &project.sources {
        entries.push((
            format!("sources/{}.txt", guid("source", source.id)),
            source.text.as_bytes().to_vec(),
        ));
    }
    for (name, bytes) in entries {
        // Writing to memory cannot fail.
        let _ = zip.start_file(name, options);
        let _ = zip.write_all(&bytes);
    }
    zip.finish().map(|c| c.into_inner()).unwrap_or_default()
}

/// `project.qde`.
pub fn project_xml(project: &Project) -> String {
    let mut x = Xml::new();
    x.start(
        "Project",
        &[
            ("xmlns", PROJECT_NAMESPACE),
            ("name", project.name),
            ("origin", project.origin),
        ],
    );

    let coders: BTreeSet<&str> = project.selections.iter().map(|s| s.coder).collect();
    if !coders.is_empty() {
        x.start("Users", &[]);
        for coder in &coders {
            x.empty("User", &[("guid", &guid("user", coder)), ("name", coder)]);
        }
        x.end("Users");
    }

    let coded: BTreeSet<&str> = project.selections.iter().map(|s| s.code).collect();
    let mut known: Vec<&Code> = project.codes.iter().collect();
    let listed: BTreeSet<&str> = known.iter().map(|c| c.id.as_str()).collect();
    // Codes a strategy applied that no codebook lists still go out, at the top.
    let extra: Vec<Code> = coded
        .iter()
        .filter(|c| !listed.contains(*c))
        .map(|c| Code {
            id: c.to_string(),
            ..Code::default()
        })
        .collect();
    known.extend(extra.iter());
    if !known.is_empty() {
        // A project's codes go out without their terms: those travel in `.qdc` codebooks.
        let book: Vec<Code> = known
            .iter()
            .map(|c| Code {
                terms: Vec::new(),
                ..(*c).clone()
            })
            .collect();
        x.start("CodeBook", &[]);
        write_codes(&mut x, &book);
        x.end("CodeBook");
    }

    let mut variables: Vec<&str> = Vec::new();
    for participant in project.participants {
        for (name, _) in &participant.attributes {
            if !variables.contains(&name.as_str()) {
                variables.push(name);
            }
        }
    }
    if !variables.is_empty() {
        x.start("Variables", &[]);
        for variable in &variables {
            x.empty(
                "Variable",
                &[
                    ("guid", &guid("variable", variable)),
                    ("name", variable),
                    ("typeOfVariable", "Text"),
                ],
            );
        }
        x.end("Variables");
    }

    let mut cases: BTreeMap<&str, Option<&Participant>> =
        project.participants.iter().map(|p| (p.id.as_str(), Some(p))).collect();
    for source in &project.sources {
        if let Some(participant) = source.participant {
            cases.entry(participant).or_insert(None);
        }
    }
    if !cases.is_empty() {
        x.start("Cases", &[]);
        for (id, participant) in &cases {
            x.start("Case", &[("guid", &guid("case", id)), ("name", id)]);
            for (name, value) in participant.iter().flat_map(|p| &p.attributes) {
                x.start("VariableValue", &[]);
                x.empty("VariableRef", &[("targetGUID", &guid("variable", name))]);
                x.text_element("TextValue", value);
                x.end("VariableValue");
            }
            for source in project.sources.iter().filter(|s| s.participant == Some(*id)) {
                x.empty("SourceRef", &[("targetGUID", &guid("source", source.id))]);
            }
            x.end("Case");
        }
        x.end("Cases");
    }

    let mut by_source: BTreeMap<&str, Vec<&Selection>> = BTreeMap::new();
    for selection in &project.selections {
        by_source.entry(selection.transcript).or_default().push(selection);
    }
    // Every selection names its coder's and its code's GUIDs: each is made once.
    let mut user_guids: HashMap<&str, String> = HashMap::new();
    let mut code_guids: HashMap<&str, String> = HashMap::new();
    if !project.sources.is_empty() {
        x.start("Sources", &[]);
        for source in &project.sources {
            let source_guid = guid("source", source.id);
            x.start(
                "TextSource",
                &[
                    ("guid", &source_guid),
                    ("name", source.id),
                    ("plainTextPath", &format!("internal://{source_guid}.txt")),
                ],
            );
            let mut selections = by_source.remove(source.id).unwrap_or_default();
            selections.sort();
            for selection in selections {
                let name = format!(
                    "{}:{}:{}:{}:{}",
                    selection.transcript, selection.coder, selection.code, selection.start, selection.end
                );
                let user = user_guids
                    .entry(selection.coder)
                    .or_insert_with(|| guid("user", selection.coder));
                x.start(
                    "PlainTextSelection",
                    &[
                        ("guid", &guid("selection", &name)),
                        ("name", selection.code),
                        ("startPosition", &selection.start.to_string()),
                        ("endPosition", &selection.end.to_string()),
                        ("creatingUser", user),
                    ],
                );
                x.start("Coding", &[("guid", &guid("coding", &name)), ("creatingUser", user)]);
                let code = code_guids
                    .entry(selection.code)
                    .or_insert_with(|| guid("code", selection.code));
                x.empty("CodeRef", &[("targetGUID", code)]);
                x.end("Coding");
                x.end("PlainTextSelection");
            }
            x.end("TextSource");
        }
        x.end("Sources");
    }

    let groups = theme_sets(project.themes, project.areas);
    if !groups.is_empty() {
        x.start("Sets", &[]);
        for (key, name, description, codes) in groups {
            x.start("Set", &[("guid", &guid("set", &key)), ("name", &name)]);
            x.text_element("Description", &description);
            for code in codes {
                x.empty("MemberCode", &[("targetGUID", &guid("code", &code))]);
            }
            x.end("Set");
        }
        x.end("Sets");
    }
    x.end("Project");
    x.finish()
}

/// `Codes`: the codes without a parent among them, each with its children inside.
fn write_codes(x: &mut Xml, codes: &[Code]) {
    x.start("Codes", &[]);
    let ids: BTreeSet<&str> = codes.iter().map(|c| c.id.as_str()).collect();
    for root in codes
        .iter()
        .filter(|c| c.parent.as_deref().is_none_or(|p| !ids.contains(p)))
    {
        write_book_code(x, root, codes);
    }
    x.end("Codes");
}

/// A code and, inside it, its children.
fn write_book_code(x: &mut Xml, code: &Code, all: &[Code]) {
    let name = code.name.as_deref().unwrap_or(&code.id);
    x.start(
        "Code",
        &[("guid", &guid("code", &code.id)), ("name", name), ("isCodable", "true")],
    );
    let terms = (!code.terms.is_empty()).then(|| {
        let terms: Vec<&str> = code.terms.iter().map(|t| t.text.as_str()).collect();
        format!("{TERMS_LINE}{}", terms.join("; "))
    });
    let id = format!("{ID_LINE}{}", code.id);
    let description: Vec<&str> = code
        .description
        .as_deref()
        .into_iter()
        .chain([id.as_str()])
        .chain(terms.as_deref())
        .collect();
    if !description.is_empty() {
        x.text_element("Description", &description.join("\n\n"));
    }
    for child in all.iter().filter(|c| c.parent.as_deref() == Some(code.id.as_str())) {
        write_book_code(x, child, all);
    }
    x.end("Code");
}

/// A codebook on its own, as a `.qdc` (`urn:QDA-XML:codebook:1.0`); the
/// codes' GUIDs are those a project export gives them.
pub fn codebook_xml(codes: &[Code], origin: &str) -> String {
    let mut x = Xml::new();
    x.start("CodeBook", &[("xmlns", CODEBOOK_NAMESPACE), ("origin", origin)]);
    write_codes(&mut x, codes);
    x.end("CodeBook");
    x.finish()
}

/// Kept themes, their sub-themes and the discussion areas as sets of codes:
/// (stable key, name, description, codes).
fn theme_sets(themes: &[ReviewedTheme], areas: &[Area]) -> Vec<(String, String, String, Vec<String>)> {
    let mut sets = Vec::new();
    let kept: Vec<&ReviewedTheme> = themes.iter().filter(|t| t.discarded.is_none()).collect();
    for theme in &kept {
        sets.push((
            format!("theme:{}", theme.id),
            format!("Theme {}: {}", theme.id, theme.name),
            format!("A theme of the study, covering {} participants.", theme.covered.len()),
            theme.codes.clone(),
        ));
        for sub in &theme.subthemes {
            sets.push((
                format!("theme:{}", sub.id),
                format!("Sub-theme {}: {}", sub.id, sub.name),
                format!("A sub-theme of theme {}.", theme.id),
                sub.codes.clone(),
            ));
        }
    }
    for area in areas {
        let codes: BTreeSet<String> = kept
            .iter()
            .filter(|t| area.themes.contains(&t.id))
            .flat_map(|t| t.codes.iter().chain(t.subthemes.iter().flat_map(|s| &s.codes)).cloned())
            .collect();
        sets.push((
            format!("area:{}", area.id),
            format!("Discussion area {}: {}", area.id, area.name),
            format!("The codes of themes {}.", area.themes.join(", ")),
            codes.into_iter().collect(),
        ));
    }
    sets
}

/// An XML document written element by element.
struct Xml {
    writer: Writer<Vec<u8>>,
}

impl Xml {
    fn new() -> Xml {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
        Xml { writer }
    }

    fn tag<'b>(name: &'b str, attributes: &[(&str, &str)]) -> BytesStart<'b> {
        let mut tag = BytesStart::new(name);
        for (key, value) in attributes {
            tag.push_attribute((*key, *value));
        }
        tag
    }

    fn start(&mut self, name: &str, attributes: &[(&str, &str)]) {
        let _ = self.writer.write_event(Event::Start(Xml::tag(name, attributes)));
    }

    fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        let _ = self.writer.write_event(Event::Empty(Xml::tag(name, attributes)));
    }

    fn end(&mut self, name: &str) {
        let _ = self.writer.write_event(Event::End(BytesEnd::new(name)));
    }

    fn text_element(&mut self, name: &str, text: &str) {
        self.start(name, &[]);
        let _ = self.writer.write_event(Event::Text(BytesText::new(text)));
        self.end(name);
    }

    fn finish(self) -> String {
        String::from_utf8(self.writer.into_inner()).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_codebook_goes_out_and_comes_back_with_its_hierarchy_and_terms() {
        let codes = vec![
            Code {
                id: "senior-role".into(),
                name: Some("Being a senior leader".into()),
                description: Some("Senior posts & what it is to hold them.".into()),
                parent: None,
                terms: vec!["senior leader*".into(), "director*".into()],
                questions: Vec::new(),
            },
            Code {
                id: "taking-ownership".into(),
                name: Some("Taking ownership".into()),
                description: None,
                parent: Some("senior-role".into()),
                terms: vec!["on my watch".into()],
                questions: Vec::new(),
            },
        ];
        let xml = codebook_xml(&codes, "test");
        assert!(xml.contains("xmlns=\"urn:QDA-XML:codebook:1.0\""), "{xml}");
        assert_eq!(
            read_codebook(&xml).unwrap(),
            codes,
            "ids, names, descriptions, hierarchy and terms"
        );
        // Another tool's spelling of the namespace, braced GUIDs, no descriptions.
        let other = "<CodeBook xmlns=\"urn:QDA-XML:codebook:1:0\"><Codes><Code guid=\"{0A0B0C0D-0000-0000-0000-000000000001}\" name=\"Trust\" isCodable=\"true\"><Code guid=\"{0A0B0C0D-0000-0000-0000-000000000002}\" name=\"Trust\" isCodable=\"true\"/></Code></Codes></CodeBook>";
        let read = read_codebook(other).unwrap();
        assert_eq!(
            read.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["trust", "trust-2"]
        );
        assert_eq!(read[1].parent.as_deref(), Some("trust"));
    }

    #[test]
    fn guids_are_stable_and_well_formed() {
        assert_eq!(guid("code", "trust"), guid("code", "trust"));
        assert_ne!(guid("code", "trust"), guid("case", "trust"));
        let g = guid("source", "transcripts/P1.txt");
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
    }
}
