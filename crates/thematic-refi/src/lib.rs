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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, Cursor, Seek, Write};
use std::sync::LazyLock;

use quick_xml::escape::escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use sha1::{Digest, Sha1};
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

/// [`guid`] made without an allocation, for the millions of a large
/// study's selections: `kind` ends with its colon. The same UUIDv5, its
/// SHA-1 by a hasher that uses the processor's SHA instructions.
struct Guid([u8; uuid::fmt::Hyphenated::LENGTH]);

impl Guid {
    fn of(kind: &[u8], name: &[u8]) -> Guid {
        let hash = Sha1::new()
            .chain_update(NAMESPACE.as_bytes())
            .chain_update(kind)
            .chain_update(name)
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&hash[..16]);
        let uuid = uuid::Builder::from_sha1_bytes(bytes).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid.hyphenated().encode_lower(&mut text);
        Guid(text)
    }

    fn as_str(&self) -> &str {
        // Hyphenated hexadecimal is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The `.qdpx` archive of `project`: `project.qde` and `sources/GUID.txt`.
pub fn qdpx(project: &Project) -> Vec<u8> {
    // Writing to memory cannot fail.
    write_qdpx(project, Cursor::new(Vec::new()))
        .map(Cursor::into_inner)
        .unwrap_or_default()
}

/// Writes the `.qdpx` archive of `project` to `to` as it is made: the
/// project's XML is made on a thread of its own while this one compresses
/// and writes it, a chunk at a time (a large study's XML is a gigabyte it
/// need never hold).
pub fn write_qdpx<W: Write + Seek>(project: &Project, to: W) -> io::Result<W> {
    let mut zip = zip::ZipWriter::new(to);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        // The fastest level: a project's XML is large and repetitive, and
        // compresses well at any level (the default took half the export).
        .compression_level(Some(1))
        .last_modified_time(zip::DateTime::default());
    zip.start_file("project.qde", options)?;
    std::thread::scope(|scope| {
        let (send, chunks) = std::sync::mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        scope.spawn(move || write_project_xml(project, &mut |chunk| send.send(chunk).is_ok()));
        // Returning early drops the receiver, and the maker stops.
        chunks.into_iter().try_for_each(|chunk| zip.write_all(&chunk))
    })?;
    for source in &project.sources {
        zip.start_file(format!("sources/{}.txt", guid("source", source.id)), options)?;
        zip.write_all(source.text.as_bytes())?;
    }
    Ok(zip.finish()?)
}

/// How many chunks of XML may wait to be compressed.
const CHUNKS_IN_FLIGHT: usize = 4;

/// `project.qde`, handed to `sink` in chunks until it takes no more.
fn write_project_xml(project: &Project, sink: &mut dyn FnMut(Vec<u8>) -> bool) {
    let mut x = Xml::streaming(sink);
    x.start(
        "Project",
        &[
            ("xmlns", PROJECT_NAMESPACE),
            ("name", project.name),
            ("origin", project.origin),
        ],
    );
    write_users(&mut x, project);
    write_project_codes(&mut x, project);
    let variables = write_variables(&mut x, project.participants);
    write_cases(&mut x, project, &variables);
    write_sources(&mut x, project);
    write_sets(&mut x, project);
    x.end("Project");
    x.finish_stream();
}

/// The distinct names among millions, in order (a set made straight from
/// them would sort them all first).
fn distinct<'a>(names: impl Iterator<Item = &'a str>) -> BTreeSet<&'a str> {
    names.collect::<HashSet<&str>>().into_iter().collect()
}

/// `Users`: one per coder (stage).
fn write_users(x: &mut Xml, project: &Project) {
    let coders = distinct(project.selections.iter().map(|s| s.coder));
    if !coders.is_empty() {
        x.start("Users", &[]);
        for coder in &coders {
            x.empty("User", &[("guid", &guid("user", coder)), ("name", coder)]);
        }
        x.end("Users");
    }
}

/// `CodeBook`: the project's codes, and any code a strategy applied that no
/// codebook lists, at the top.
fn write_project_codes(x: &mut Xml, project: &Project) {
    let coded = distinct(project.selections.iter().map(|s| s.code));
    let listed: BTreeSet<&str> = project.codes.iter().map(|c| c.id.as_str()).collect();
    let extra = coded.iter().filter(|c| !listed.contains(*c)).map(|c| Code {
        id: c.to_string(),
        ..Code::default()
    });
    // A project's codes go out without their terms: those travel in `.qdc` codebooks.
    let book: Vec<Code> = project
        .codes
        .iter()
        .map(|c| Code {
            terms: Vec::new(),
            ..c.clone()
        })
        .chain(extra)
        .collect();
    if !book.is_empty() {
        x.start("CodeBook", &[]);
        write_codes(x, &book);
        x.end("CodeBook");
    }
}

/// `Variables`: the participants' attributes, in the order first met.
fn write_variables<'p>(x: &mut Xml, participants: &'p [Participant]) -> Vec<&'p str> {
    let mut variables: Vec<&str> = Vec::new();
    for participant in participants {
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
    variables
}

/// `Cases`: each participant with their values and their sources, and any
/// participant a source names that the participants file lacks.
fn write_cases(x: &mut Xml, project: &Project, variables: &[&str]) {
    let mut cases: BTreeMap<&str, Option<&Participant>> =
        project.participants.iter().map(|p| (p.id.as_str(), Some(p))).collect();
    for source in &project.sources {
        if let Some(participant) = source.participant {
            cases.entry(participant).or_insert(None);
        }
    }
    if cases.is_empty() {
        return;
    }
    let variable_guids: HashMap<&str, String> = variables.iter().map(|v| (*v, guid("variable", v))).collect();
    x.start("Cases", &[]);
    for (id, participant) in &cases {
        x.start("Case", &[("guid", &guid("case", id)), ("name", id)]);
        for (name, value) in participant.iter().flat_map(|p| &p.attributes) {
            x.start("VariableValue", &[]);
            x.empty("VariableRef", &[("targetGUID", &variable_guids[name.as_str()])]);
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

/// `Sources`: each text source with its selections, each selection with
/// the coding of its code by its coder.
fn write_sources(x: &mut Xml, project: &Project) {
    if project.sources.is_empty() {
        return;
    }
    let mut by_source: HashMap<&str, Vec<&Selection>> = HashMap::new();
    for selection in &project.selections {
        by_source.entry(selection.transcript).or_default().push(selection);
    }
    // Every selection names its coder's and its code's GUIDs: each is made once.
    let mut user_guids: HashMap<&str, String> = HashMap::new();
    let mut code_guids: HashMap<&str, String> = HashMap::new();
    let mut name = Vec::new();
    x.start("Sources", &[]);
    for source in &project.sources {
        if x.stopped() {
            return;
        }
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
        // In the order of the text; positions first, as they seldom tie.
        selections.sort_unstable_by(|a, b| (a.start, a.end, a.coder, a.code).cmp(&(b.start, b.end, b.coder, b.code)));
        for selection in selections {
            name.clear();
            // Writing to memory cannot fail.
            let _ = write!(
                name,
                "{}:{}:{}:{}:{}",
                selection.transcript, selection.coder, selection.code, selection.start, selection.end
            );
            let user = user_guids
                .entry(selection.coder)
                .or_insert_with(|| guid("user", selection.coder));
            let code = code_guids
                .entry(selection.code)
                .or_insert_with(|| guid("code", selection.code));
            x.selection(&SelectionXml {
                guid: &Guid::of(b"selection:", &name),
                code_name: selection.code,
                start: selection.start,
                end: selection.end,
                user,
                coding_guid: &Guid::of(b"coding:", &name),
                code_guid: code,
            });
        }
        x.end("TextSource");
    }
    x.end("Sources");
}

/// `Sets`: themes, sub-themes and areas as sets of codes.
fn write_sets(x: &mut Xml, project: &Project) {
    let groups = theme_sets(project.themes, project.areas);
    if groups.is_empty() {
        return;
    }
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

/// An XML document written element by element, kept whole or handed on
/// in chunks as it grows.
struct Xml<'s> {
    writer: Writer<Vec<u8>>,
    /// Where full chunks go; without one, the document is kept whole.
    sink: Option<&'s mut dyn FnMut(Vec<u8>) -> bool>,
    /// The sink takes no more: the rest need not be made.
    stopped: bool,
}

/// A chunk handed on once it is this large.
const CHUNK_BYTES: usize = 1 << 20;

/// A selection with its one coding, as [`Xml::selection`] writes it.
struct SelectionXml<'a> {
    guid: &'a Guid,
    code_name: &'a str,
    start: usize,
    end: usize,
    user: &'a str,
    coding_guid: &'a Guid,
    code_guid: &'a str,
}

impl<'s> Xml<'s> {
    fn new() -> Xml<'s> {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
        Xml {
            writer,
            sink: None,
            stopped: false,
        }
    }

    fn streaming(sink: &'s mut dyn FnMut(Vec<u8>) -> bool) -> Xml<'s> {
        Xml {
            sink: Some(sink),
            ..Xml::new()
        }
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
        self.hand_on(CHUNK_BYTES);
    }

    fn text_element(&mut self, name: &str, text: &str) {
        self.start(name, &[]);
        let _ = self.writer.write_event(Event::Text(BytesText::new(text)));
        self.end(name);
    }

    /// A `PlainTextSelection` inside a `TextSource`, written as `start`,
    /// `empty` and `end` would write it, without their per-element work.
    fn selection(&mut self, s: &SelectionXml) {
        let out = self.writer.get_mut();
        // Writing to memory cannot fail.
        let _ = write!(
            out,
            "\n      <PlainTextSelection guid=\"{}\" name=\"{}\" startPosition=\"{}\" endPosition=\"{}\" creatingUser=\"{}\">\
             \n        <Coding guid=\"{}\" creatingUser=\"{}\">\
             \n          <CodeRef targetGUID=\"{}\"/>\
             \n        </Coding>\
             \n      </PlainTextSelection>",
            s.guid.as_str(),
            escape(s.code_name),
            s.start,
            s.end,
            s.user,
            s.coding_guid.as_str(),
            s.user,
            s.code_guid
        );
    }

    fn stopped(&self) -> bool {
        self.stopped
    }

    /// Hands the document so far to the sink once it holds `at_least` bytes.
    fn hand_on(&mut self, at_least: usize) {
        let Some(sink) = self.sink.as_mut() else {
            return;
        };
        if self.writer.get_ref().len() >= at_least && !self.stopped {
            let chunk = std::mem::replace(self.writer.get_mut(), Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 4));
            self.stopped = !sink(chunk);
        }
    }

    /// Ends the document and hands on what is left of it.
    fn finish_stream(mut self) {
        self.writer.get_mut().push(b'\n');
        self.hand_on(0);
    }

    fn finish(self) -> String {
        String::from_utf8(self.writer.into_inner()).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guid_made_without_allocating_is_the_uuid_v5_of_its_name() {
        for (kind, name) in [("selection", "t1:code:c:0:5"), ("coding", ""), ("x", &"é".repeat(300))] {
            let made = Guid::of(format!("{kind}:").as_bytes(), name.as_bytes());
            assert_eq!(made.as_str(), guid(kind, name));
        }
    }

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
