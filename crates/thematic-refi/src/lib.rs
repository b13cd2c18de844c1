//! REFI-QDA exchange (the `.qdpx` project format of NVivo, ATLAS.ti,
//! MAXQDA and QualCoder, schema `urn:QDA-XML:project:1.0`).
//!
//! A study goes out as a zip of `project.qde` and `sources/`, one UTF-8 text
//! per transcript: codes and their hierarchy as `Code`s; themes, sub-themes
//! and discussion areas as `Set`s of codes (the standard's way to group codes
//! without making the groups codable); participants as `Case`s with their
//! attributes as `Variable` values; every coding as a `PlainTextSelection`
//! with half-open code-point offsets and a `Coding` of its code, made by the
//! `User` that is the stage (a strategy counts as a coder); the study's memos
//! as `Note`s, each referred to from what it is about (a code, a transcript,
//! a theme's set, or the project). GUIDs are UUIDv5 of stable names (a
//! coding's is made from its selection's hash), so exporting an unchanged
//! study gives the same bytes.
//!
//! Pure: the shell gathers what goes out and writes the archive.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, Cursor, Seek, Write};

use deflated::{deflate, Deflated, Joined};
use rustc_hash::FxHashMap;
use std::sync::LazyLock;
use zip::write::PreparedZipFile;

use quick_xml::escape::escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use sha1::{Digest, Sha1};
use thematic_model::{Area, Code, Memo, MemoAbout, Participant, ReviewedTheme, JOURNAL_FILE, MEMOS_FOLDER};
use uuid::Uuid;

mod deflated;
mod import;
mod positions;
mod read;

pub use import::{read_qdpx, ImportedCase, ImportedCoding, ImportedNote, ImportedProject, ImportedSource, NoteAbout};
pub use read::{read_codebook, slug};

pub const PROJECT_NAMESPACE: &str = "urn:QDA-XML:project:1.0";
pub const CODEBOOK_NAMESPACE: &str = "urn:QDA-XML:codebook:1.0";

/// What a code's description carries of its id and dictionary terms, so
/// that a codebook comes back from a `.qdc` as it went (other tools show
/// these lines as text).
const ID_LINE: &str = "thematic code: ";
const TERMS_LINE: &str = "thematic terms: ";

/// What a note's description carries of the memo file it was exported
/// from, so that an import of the project puts a memo on the study back
/// where it was (its place alone says what any other memo is about).
const MEMO_LINE: &str = "thematic memo: ";

/// One source as the project's head names it: its id and the participant
/// it is with, if one.
pub struct Source<'a> {
    pub id: &'a str,
    pub participant: Option<&'a str>,
}

/// One source with its text (what offsets count in) and its codings, as a
/// part of the project carries it.
pub struct CodedSource<'a> {
    pub id: &'a str,
    pub text: &'a str,
    pub selections: Vec<Selection<'a>>,
    /// The files of the memos on this source, each referred to as a note
    /// (see [`memos_on_sources`]).
    pub notes: Vec<&'a str>,
}

/// One coded stretch of a source: the coder (stage), the code, and its
/// half-open code-point range in the source's text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selection<'a> {
    pub coder: &'a str,
    pub code: &'a str,
    pub start: usize,
    pub end: usize,
}

/// What goes out around the sources' contents: the project's name, codes,
/// cases, sets and memos, the sources in the order their parts will come,
/// every coder and every code applied (repeats allowed). The sources'
/// contents come in parts ([`sources_part`]), made on any thread.
pub struct Project<'a> {
    pub name: &'a str,
    pub origin: &'a str,
    pub codes: &'a [Code],
    pub themes: &'a [ReviewedTheme],
    pub areas: &'a [Area],
    pub participants: &'a [Participant],
    pub sources: Vec<Source<'a>>,
    pub coders: Vec<&'a str>,
    pub coded: Vec<&'a str>,
    /// The study's memos, each a `Note`.
    pub memos: &'a [Memo],
}

/// thematic's namespace of GUIDs.
static NAMESPACE: LazyLock<Uuid> =
    LazyLock::new(|| Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://thematic.invalid/refi-qda"));

/// The UUIDv5 of `kind:name` under thematic's namespace.
fn guid(kind: &str, name: &str) -> String {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{name}").as_bytes()).to_string()
}

/// The GUIDs of a selection and of its one coding, made without an
/// allocation for the millions of a large study's selections: the
/// selection's is the UUIDv5 of `selection:name`, the coding's is made from
/// the last 16 bytes of the same SHA-1 (one hash for both), by a hasher
/// that uses the processor's SHA instructions.
struct Guid([u8; uuid::fmt::Hyphenated::LENGTH]);

impl Guid {
    fn selection_and_coding(name: &[u8]) -> [Guid; 2] {
        let hash = Sha1::new()
            .chain_update(NAMESPACE.as_bytes())
            .chain_update(b"selection:")
            .chain_update(name)
            .finalize();
        [Guid::from_hash(&hash[..16]), Guid::from_hash(&hash[4..20])]
    }

    fn from_hash(hash: &[u8]) -> Guid {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(hash);
        let uuid = uuid::Builder::from_sha1_bytes(bytes).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid.hyphenated().encode_lower(&mut text);
        Guid(text)
    }
}

/// A `.qdpx` archive (`project.qde` and `sources/GUID.txt`) as it is
/// written: the head of the project, then its sources' parts in order,
/// then its end. The parts are made on any thread ([`sources_part`]): a
/// large study's XML is made and compressed on every core and never held
/// whole.
pub struct ProjectWriter<W: Write + Seek> {
    zip: zip::ZipWriter<W>,
    project_xml: Joined,
    texts: Vec<PreparedZipFile>,
}

impl<W: Write + Seek> ProjectWriter<W> {
    /// Starts the archive in `to` with the head of `project.qde`: users,
    /// codes, variables and cases.
    pub fn start(project: &Project, to: W) -> io::Result<ProjectWriter<W>> {
        let mut zip = zip::ZipWriter::new(to);
        zip.start_file("project.qde", entry_options())?;
        let mut writer = ProjectWriter {
            zip,
            project_xml: Joined::default(),
            texts: Vec::new(),
        };
        writer.put(&deflate(&head_xml(project))?)?;
        Ok(writer)
    }

    /// Adds the next sources' part.
    pub fn add(&mut self, part: SourcesPart) -> io::Result<()> {
        self.put(&part.xml)?;
        self.texts.extend(part.texts);
        Ok(())
    }

    /// Ends `project.qde` with the project's sets, adds the sources' texts
    /// and closes the archive.
    pub fn finish(mut self, project: &Project) -> io::Result<W> {
        self.put(&deflate(&tail_xml(project))?)?;
        let checksum = self.project_xml.checksum.clone().finalize();
        // SAFETY (of the archive, not of memory): the length and checksum
        // are those of the data `put` wrote, every byte of it.
        unsafe { self.zip.set_file_metadata(self.project_xml.len, checksum) }?;
        for text in self.texts {
            self.zip.add_prepared_file(text)?;
        }
        Ok(self.zip.finish()?)
    }

    /// Writes a compressed stretch of `project.qde` straight to the archive,
    /// past the zip writer's own compressor: it counts the entry's size from
    /// where the stream stands when the entry ends, and ends the deflate
    /// stream with its empty last block.
    fn put(&mut self, stretch: &Deflated) -> io::Result<()> {
        // SAFETY (of the archive, not of memory): bytes are only appended
        // to the entry being written, whose length and checksum `finish` sets.
        let out = unsafe { self.zip.get_mut() }.ok_or_else(|| io::Error::other("the archive was closed"))?;
        self.project_xml.put(stretch, out)?;
        // Past this the entry's header would need zip64, which the zip writer
        // sets only for data written through it.
        if self.project_xml.len > u64::from(u32::MAX) {
            return Err(io::Error::other(
                "project.qde would be larger than 4 GiB, more than a zip entry holds without zip64",
            ));
        }
        Ok(())
    }
}

/// Each entry compressed at the fastest level: a project's XML is large and
/// repetitive, and compresses well at any level.
fn entry_options() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .last_modified_time(zip::DateTime::default())
}

/// Some of a project's sources, ready to go into the archive: their
/// `TextSource`s compressed, and their texts.
pub struct SourcesPart {
    xml: Deflated,
    texts: Vec<PreparedZipFile>,
    selections: usize,
}

impl SourcesPart {
    /// How many coded selections the part carries.
    pub fn selections(&self) -> usize {
        self.selections
    }
}

/// The part of a project that `sources` are, in their order; each source's
/// selections go out in the order of its text.
pub fn sources_part(sources: Vec<CodedSource>) -> io::Result<SourcesPart> {
    // About what a source's and a selection's XML take (five GUIDs and a code), so the part is written without regrowing.
    let sizes = sources.iter().map(|source| 200 + 400 * source.selections.len());
    let mut xml = Vec::with_capacity(sizes.sum());
    let mut texts = Vec::with_capacity(sources.len());
    let mut selections = 0;
    let mut guids = GuidsOf::default();
    for mut source in sources {
        selections += source.selections.len();
        let source_guid = guid("source", source.id);
        write_text_source(&mut xml, &source_guid, &mut source, &mut guids);
        let name = format!("sources/{source_guid}.txt");
        texts.push(PreparedZipFile::from_data(
            name,
            entry_options(),
            source.text.as_bytes(),
        )?);
    }
    Ok(SourcesPart {
        xml: deflate(&xml)?,
        texts,
        selections,
    })
}

/// The `.qdpx` archive of `project` with `sources` (in one part).
pub fn qdpx(project: &Project, sources: Vec<CodedSource>) -> io::Result<Vec<u8>> {
    let mut writer = ProjectWriter::start(project, Cursor::new(Vec::new()))?;
    writer.add(sources_part(sources)?)?;
    Ok(writer.finish(project)?.into_inner())
}

/// `project.qde` up to its sources' contents.
fn head_xml(project: &Project) -> Vec<u8> {
    let mut x = Xml::declared();
    x.start(
        "Project",
        &[
            ("xmlns", PROJECT_NAMESPACE),
            ("name", project.name),
            ("origin", project.origin),
        ],
    );
    write_users(&mut x, project);
    write_project_codes(&mut x, project, &NotePlaces::of(project));
    let variables = write_variables(&mut x, project.participants);
    write_cases(&mut x, project, &variables);
    if !project.sources.is_empty() {
        x.start("Sources", &[]);
    }
    x.into_bytes()
}

/// `project.qde` after its sources' contents.
fn tail_xml(project: &Project) -> Vec<u8> {
    let mut x = Xml::bare();
    // Opened (and forgotten) so that what follows is indented as inside them.
    x.start("Project", &[]);
    let in_sources = !project.sources.is_empty();
    if in_sources {
        x.start("Sources", &[]);
    }
    x.forget_written();
    if in_sources {
        x.end("Sources");
    }
    // In the schema's order: notes, sets, then the notes on the project as a whole.
    let notes = NotePlaces::of(project);
    write_notes(&mut x, project);
    write_sets(&mut x, project, &notes.sets);
    for file in &notes.project {
        x.empty("NoteRef", &[("targetGUID", &guid("note", file))]);
    }
    x.end("Project");
    let mut bytes = x.into_bytes();
    bytes.push(b'\n');
    bytes
}

/// The distinct names among many, in order (a set made straight from
/// them would sort them all first).
fn distinct<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect::<HashSet<&str>>().into_iter().collect()
}

/// `Users`: one per coder (stage).
fn write_users(x: &mut Xml, project: &Project) {
    let coders = distinct(&project.coders);
    if !coders.is_empty() {
        x.start("Users", &[]);
        for coder in &coders {
            x.empty("User", &[("guid", &guid("user", coder)), ("name", coder)]);
        }
        x.end("Users");
    }
}

/// `CodeBook`: the project's codes, and any code a strategy applied that no
/// codebook lists, at the top; each code with its notes.
fn write_project_codes(x: &mut Xml, project: &Project, notes: &NotePlaces) {
    let coded = distinct(&project.coded);
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
        write_codes(x, &book, &notes.codes);
        x.end("CodeBook");
    }
}

/// Whether the project's codebook holds code `id`: a code of the project,
/// or one a strategy applied (see [`write_project_codes`]).
fn in_codebook(project: &Project, id: &str) -> bool {
    project.codes.iter().any(|c| c.id == id) || project.coded.contains(&id)
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

/// A `TextSource` with its selections, each with the coding of its code by
/// its coder, then its notes, written byte by byte for the millions of a
/// large study's selections, indented as inside `Project` and `Sources`; a
/// selection takes one line.
fn write_text_source(out: &mut Vec<u8>, source_guid: &str, source: &mut CodedSource, guids: &mut GuidsOf) {
    let put = |out: &mut Vec<u8>, parts: &[&[u8]]| parts.iter().for_each(|part| out.extend_from_slice(part));
    let guid = source_guid.as_bytes();
    put(out, &[b"\n    <TextSource guid=\"", guid, b"\" name=\""]);
    put(
        out,
        &[
            escape(source.id).as_bytes(),
            b"\" plainTextPath=\"internal://",
            guid,
            b".txt\">",
        ],
    );
    // In the order of the text; positions first, as they seldom tie.
    source
        .selections
        .sort_unstable_by(|a, b| (a.start, a.end, a.coder, a.code).cmp(&(b.start, b.end, b.coder, b.code)));
    let mut name = Vec::new();
    let mut numbers = [itoa::Buffer::new(), itoa::Buffer::new()];
    for selection in &source.selections {
        name.clear();
        put(
            &mut name,
            &[source.id.as_bytes(), b":", selection.coder.as_bytes(), b":"],
        );
        put(&mut name, &[selection.code.as_bytes(), b":"]);
        let [start, end] = &mut numbers;
        let (start, end) = (
            start.format(selection.start).as_bytes(),
            end.format(selection.end).as_bytes(),
        );
        put(&mut name, &[start, b":", end]);
        let [selection_guid, coding_guid] = Guid::selection_and_coding(&name);
        let (user, code) = guids.of(selection.coder, selection.code);
        put(
            out,
            &[b"\n      <PlainTextSelection guid=\"", &selection_guid.0, b"\" name=\""],
        );
        put(out, &[escape(selection.code).as_bytes(), b"\" startPosition=\"", start]);
        put(out, &[b"\" endPosition=\"", end, b"\" creatingUser=\"", user, b"\">"]);
        put(
            out,
            &[b"<Coding guid=\"", &coding_guid.0, b"\" creatingUser=\"", user, b"\">"],
        );
        put(
            out,
            &[b"<CodeRef targetGUID=\"", code, b"\"/></Coding></PlainTextSelection>"],
        );
    }
    // After the selections, as the schema orders a text source's parts
    // (`crate::guid`: `guid` here is the source's).
    for file in &source.notes {
        put(
            out,
            &[
                b"\n      <NoteRef targetGUID=\"",
                crate::guid("note", file).as_bytes(),
                b"\"/>",
            ],
        );
    }
    put(out, &[b"\n    </TextSource>"]);
}

/// The GUIDs of coders and codes, each made once however many selections name it.
#[derive(Default)]
struct GuidsOf {
    users: FxHashMap<String, String>,
    codes: FxHashMap<String, String>,
}

impl GuidsOf {
    /// The GUIDs of `coder` and of `code`.
    fn of(&mut self, coder: &str, code: &str) -> (&[u8], &[u8]) {
        (
            Self::made(&mut self.users, "user", coder),
            Self::made(&mut self.codes, "code", code),
        )
    }

    fn made<'m>(made: &'m mut FxHashMap<String, String>, kind: &str, name: &str) -> &'m [u8] {
        if !made.contains_key(name) {
            made.insert(name.to_string(), guid(kind, name));
        }
        made[name].as_bytes()
    }
}

/// `Sets`: themes, sub-themes and areas as sets of codes, a theme's with
/// its notes (`notes`, by the set's key).
fn write_sets(x: &mut Xml, project: &Project, notes: &HashMap<String, Vec<&str>>) {
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
        for file in notes.get(&key).into_iter().flatten() {
            x.empty("MemberNote", &[("targetGUID", &guid("note", file))]);
        }
        x.end("Set");
    }
    x.end("Sets");
}

/// `Notes`: each memo with its text, its description naming its file.
fn write_notes(x: &mut Xml, project: &Project) {
    if project.memos.is_empty() {
        return;
    }
    x.start("Notes", &[]);
    for memo in project.memos {
        x.start(
            "Note",
            &[("guid", &guid("note", &memo.file)), ("name", &note_name(memo, project))],
        );
        x.text_element("Description", &format!("{MEMO_LINE}{}", memo.file));
        x.text_element("PlainTextContent", &memo.text);
        x.end("Note");
    }
    x.end("Notes");
}

/// What a person sees a memo's note called in another tool: what it is
/// about, by the name that tool shows it under.
fn note_name(memo: &Memo, project: &Project) -> String {
    match &memo.about {
        MemoAbout::Code(id) => {
            let code = project.codes.iter().find(|c| c.id == *id);
            format!("Memo on code {}", code.and_then(|c| c.name.as_deref()).unwrap_or(id))
        }
        MemoAbout::Theme(id) => {
            let kept = project.themes.iter().filter(|t| t.discarded.is_none());
            let named = kept
                .flat_map(|t| std::iter::once((&t.id, &t.name)).chain(t.subthemes.iter().map(|s| (&s.id, &s.name))))
                .find(|(theme, _)| *theme == id);
            match named {
                Some((_, name)) => format!("Memo on theme {id}: {name}"),
                None => format!("Memo on theme {id}"),
            }
        }
        MemoAbout::Transcript(id) => format!("Memo on {id}"),
        MemoAbout::Study if memo.file == JOURNAL_FILE => "Journal".to_string(),
        MemoAbout::Study => {
            let below = memo.file.strip_prefix(MEMOS_FOLDER).and_then(|f| f.strip_prefix('/'));
            below.unwrap_or(&memo.file).to_string()
        }
    }
}

/// The files of the memos on each transcript, by its id: the notes its
/// source refers to.
pub fn memos_on_sources(memos: &[Memo]) -> HashMap<&str, Vec<&str>> {
    let mut on_sources: HashMap<&str, Vec<&str>> = HashMap::new();
    for memo in memos {
        if let MemoAbout::Transcript(id) = &memo.about {
            on_sources.entry(id).or_default().push(&memo.file);
        }
    }
    on_sources
}

/// Where each memo's note is referred to from (by the memo's file): the
/// `Code`, the theme's `Set` or (see [`memos_on_sources`]) the `TextSource`
/// of what it is about; the project for a memo on the study, and for one
/// about something that does not go out (a discarded theme, a transcript
/// that could not be read), so that every note is referred to.
struct NotePlaces<'a> {
    /// By code id.
    codes: HashMap<&'a str, Vec<&'a str>>,
    /// By the key of the theme's set.
    sets: HashMap<String, Vec<&'a str>>,
    project: Vec<&'a str>,
}

impl<'a> NotePlaces<'a> {
    fn of(project: &Project<'a>) -> NotePlaces<'a> {
        let set_keys: HashSet<String> = theme_sets(project.themes, project.areas)
            .into_iter()
            .map(|(key, ..)| key)
            .collect();
        let mut places = NotePlaces {
            codes: HashMap::new(),
            sets: HashMap::new(),
            project: Vec::new(),
        };
        for memo in project.memos {
            let file = memo.file.as_str();
            match &memo.about {
                MemoAbout::Code(id) if in_codebook(project, id) => {
                    places.codes.entry(id.as_str()).or_default().push(file);
                }
                MemoAbout::Theme(id) if set_keys.contains(&theme_set_key(id)) => {
                    places.sets.entry(theme_set_key(id)).or_default().push(file);
                }
                MemoAbout::Transcript(id) if project.sources.iter().any(|s| s.id == id.as_str()) => {}
                _ => places.project.push(file),
            }
        }
        places
    }
}

/// `Codes`: the codes without a parent among them, each with its children
/// inside and its notes (`notes`, by code id).
fn write_codes(x: &mut Xml, codes: &[Code], notes: &HashMap<&str, Vec<&str>>) {
    x.start("Codes", &[]);
    let ids: BTreeSet<&str> = codes.iter().map(|c| c.id.as_str()).collect();
    for root in codes
        .iter()
        .filter(|c| c.parent.as_deref().is_none_or(|p| !ids.contains(p)))
    {
        write_book_code(x, root, codes, notes);
    }
    x.end("Codes");
}

/// A code, its notes and, inside it, its children.
fn write_book_code(x: &mut Xml, code: &Code, all: &[Code], notes: &HashMap<&str, Vec<&str>>) {
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
    // Between the description and the children, as the schema orders a code's parts.
    for file in notes.get(code.id.as_str()).into_iter().flatten() {
        x.empty("NoteRef", &[("targetGUID", &guid("note", file))]);
    }
    for child in all.iter().filter(|c| c.parent.as_deref() == Some(code.id.as_str())) {
        write_book_code(x, child, all, notes);
    }
    x.end("Code");
}

/// A codebook on its own, as a `.qdc` (`urn:QDA-XML:codebook:1.0`); the
/// codes' GUIDs are those a project export gives them. Memos stay with the
/// study: a codebook has no notes to refer to.
pub fn codebook_xml(codes: &[Code], origin: &str) -> String {
    let mut x = Xml::declared();
    x.start("CodeBook", &[("xmlns", CODEBOOK_NAMESPACE), ("origin", origin)]);
    write_codes(&mut x, codes, &HashMap::new());
    x.end("CodeBook");
    String::from_utf8(x.into_bytes()).unwrap_or_default() + "\n"
}

/// Kept themes, their sub-themes and the discussion areas as sets of codes:
/// (stable key, name, description, codes).
fn theme_sets(themes: &[ReviewedTheme], areas: &[Area]) -> Vec<(String, String, String, Vec<String>)> {
    let mut sets = Vec::new();
    let kept: Vec<&ReviewedTheme> = themes.iter().filter(|t| t.discarded.is_none()).collect();
    for theme in &kept {
        sets.push((
            theme_set_key(&theme.id),
            format!("Theme {}: {}", theme.id, theme.name),
            format!("A theme of the study, covering {} participants.", theme.covered.len()),
            theme.codes.clone(),
        ));
        for sub in &theme.subthemes {
            sets.push((
                theme_set_key(&sub.id),
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

/// The stable key of a theme's or sub-theme's set (its GUID's name).
fn theme_set_key(id: &str) -> String {
    format!("theme:{id}")
}

/// An XML document written element by element.
struct Xml {
    writer: Writer<Vec<u8>>,
}

impl Xml {
    /// A document that starts with its XML declaration.
    fn declared() -> Xml {
        let mut x = Xml::bare();
        let _ = x
            .writer
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
        x
    }

    /// A stretch of a document, without a declaration.
    fn bare() -> Xml {
        Xml {
            writer: Writer::new_with_indent(Vec::new(), b' ', 2),
        }
    }

    fn tag<'b>(name: &'b str, attributes: &[(&str, &str)]) -> BytesStart<'b> {
        let mut tag = BytesStart::new(name);
        for (key, value) in attributes {
            tag.push_attribute((*key, *value));
        }
        tag
    }

    // Writing to memory cannot fail.
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

    /// Drops what is written so far, keeping the depth of indentation.
    fn forget_written(&mut self) {
        self.writer.get_mut().clear();
    }

    fn into_bytes(self) -> Vec<u8> {
        self.writer.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_and_its_coding_get_distinct_guids_from_one_hash() {
        for name in ["t1:code:c:0:5", "", &"é".repeat(300)] {
            let [selection, coding] = Guid::selection_and_coding(name.as_bytes());
            let (selection, coding) = (
                std::str::from_utf8(&selection.0).unwrap(),
                std::str::from_utf8(&coding.0).unwrap(),
            );
            assert_eq!(
                selection,
                guid("selection", name),
                "the selection's is the UUIDv5 of its name"
            );
            assert_ne!(coding, selection);
            let coding = Uuid::parse_str(coding).unwrap();
            assert_eq!(coding.get_version_num(), 5);
        }
    }

    fn participant(id: &str) -> Participant {
        Participant {
            id: id.into(),
            attributes: vec![("tier".into(), "senior".into())],
        }
    }

    /// Sources in as many parts as `split` makes of them, read back.
    fn written_and_read(split: usize) -> (Vec<u8>, ImportedProject) {
        let texts = [
            "Ana said: I trust them. 🙂",
            "",
            "Bo said: too much work & no time <now>.",
        ];
        let ids = ["P1", "P2", "P3 & co"];
        let selections = |index: usize| -> Vec<Selection<'static>> {
            match index {
                0 => vec![
                    Selection {
                        coder: "rules",
                        code: "trust",
                        start: 10,
                        end: 23,
                    },
                    Selection {
                        coder: "model",
                        code: "trust",
                        start: 0,
                        end: 3,
                    },
                ],
                2 => vec![Selection {
                    coder: "rules",
                    code: "work <load>",
                    start: 9,
                    end: 22,
                }],
                _ => Vec::new(),
            }
        };
        let participants = [participant("P1")];
        let codes = [Code {
            id: "trust".into(),
            ..Code::default()
        }];
        let project = Project {
            name: "a study",
            origin: "test",
            codes: &codes,
            themes: &[],
            areas: &[],
            participants: &participants,
            sources: ids
                .iter()
                .map(|id| Source {
                    id,
                    participant: (*id == "P1").then_some("P1"),
                })
                .collect(),
            coders: vec!["rules", "model", "rules"],
            coded: vec!["trust", "work <load>", "trust"],
            memos: &[],
        };
        let mut writer = ProjectWriter::start(&project, Cursor::new(Vec::new())).unwrap();
        let indexes: Vec<usize> = (0..ids.len()).collect();
        for chunk in indexes.chunks(split) {
            let sources = chunk
                .iter()
                .map(|&i| CodedSource {
                    id: ids[i],
                    text: texts[i],
                    selections: selections(i),
                    notes: Vec::new(),
                })
                .collect();
            writer.add(sources_part(sources).unwrap()).unwrap();
        }
        let bytes = writer.finish(&project).unwrap().into_inner();
        let read = read_qdpx(&bytes).unwrap();
        (bytes, read)
    }

    /// `project.qde` of the archive in `bytes`, read as a reader reads it.
    fn project_xml(bytes: &[u8]) -> String {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut qde = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("project.qde").unwrap(), &mut qde).unwrap();
        qde
    }

    #[test]
    fn a_project_written_in_parts_reads_back_whole_and_says_the_same_however_split() {
        let (bytes, read) = written_and_read(1);
        assert!(read.skipped.is_empty() && read.warnings.is_empty(), "{read:?}");
        assert_eq!(read.coders, ["model", "rules"]);
        assert_eq!(
            read.codes
                .iter()
                .map(|c| c.name.as_deref().unwrap_or(&c.id))
                .collect::<Vec<_>>(),
            ["trust", "work <load>"]
        );
        assert_eq!(
            read.sources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["P1", "P2", "P3 & co"]
        );
        assert_eq!(read.sources[0].text, "Ana said: I trust them. 🙂");
        let coded: Vec<(usize, usize, &str, &str)> = read
            .sources
            .iter()
            .flat_map(|s| &s.codings)
            .map(|c| {
                (
                    c.start,
                    c.end,
                    read.coders[c.coder].as_str(),
                    read.codes[c.code].id.as_str(),
                )
            })
            .collect();
        assert_eq!(coded.len(), 3);
        assert!(coded.contains(&(0, 3, "model", "trust")) && coded.contains(&(10, 23, "rules", "trust")));
        assert_eq!(read.cases.len(), 1);
        assert_eq!(read.cases[0].sources, [0]);
        // Each entry's checksum and length hold, as a reader checks them.
        let qde = project_xml(&bytes);
        assert!(qde.starts_with("<?xml") && qde.ends_with("</Project>\n"), "{qde}");
        for split in [2, 3] {
            assert_eq!(project_xml(&written_and_read(split).0), qde, "in parts of {split}");
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
                ..Code::default()
            },
            Code {
                id: "taking-ownership".into(),
                name: Some("Taking ownership".into()),
                description: None,
                parent: Some("senior-role".into()),
                terms: vec!["on my watch".into()],
                ..Code::default()
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

    fn memo(file: &str, about: MemoAbout, text: &str) -> Memo {
        Memo {
            file: file.into(),
            about,
            text: text.into(),
        }
    }

    fn theme(id: &str, name: &str, discarded: Option<&str>) -> ReviewedTheme {
        ReviewedTheme {
            id: id.into(),
            name: name.into(),
            codes: vec!["trust".into()],
            covered: BTreeSet::new(),
            segments_per_participant: BTreeMap::new(),
            discarded: discarded.map(str::to_string),
            extracts: Vec::new(),
            subthemes: Vec::new(),
        }
    }

    #[test]
    fn memos_go_out_as_notes_referred_to_from_what_they_are_about_and_come_back() {
        let codes = [Code {
            id: "trust".into(),
            name: Some("Trust".into()),
            ..Code::default()
        }];
        let themes = [
            theme("T1", "Trust at work", None),
            theme("T2", "Doubt", Some("too few participants")),
        ];
        let memos = [
            memo(
                "memos/codes/trust.md",
                MemoAbout::Code("trust".into()),
                "Trust & <doubt>.\n",
            ),
            memo("memos/journal.md", MemoAbout::Study, "Week 1: first reading.\n"),
            memo("memos/themes/T1.md", MemoAbout::Theme("T1".into()), "Holds up.\n"),
            memo("memos/themes/T2.md", MemoAbout::Theme("T2".into()), "Gone.\n"),
            memo(
                "memos/transcripts/P1.md",
                MemoAbout::Transcript("P1".into()),
                "Short.\n",
            ),
            memo(
                "memos/transcripts/P9.md",
                MemoAbout::Transcript("P9".into()),
                "Not read.\n",
            ),
        ];
        let project = Project {
            name: "memos",
            origin: "test",
            codes: &codes,
            themes: &themes,
            areas: &[],
            participants: &[],
            sources: vec![Source {
                id: "P1",
                participant: None,
            }],
            coders: vec!["rules"],
            coded: vec!["trust"],
            memos: &memos,
        };
        let notes_on_sources = memos_on_sources(&memos);
        let source = CodedSource {
            id: "P1",
            text: "P1: I trust them.",
            selections: vec![Selection {
                coder: "rules",
                code: "trust",
                start: 6,
                end: 11,
            }],
            notes: notes_on_sources["P1"].clone(),
        };
        let bytes = qdpx(&project, vec![source]).unwrap();
        let qde = project_xml(&bytes);
        let note_ref = |file: &str| format!("<NoteRef targetGUID=\"{}\"/>", guid("note", file));
        let at = |part: &str| qde.find(part).unwrap_or_else(|| panic!("no {part} in {qde}"));
        // Where the schema puts each: a code's after its description, a
        // source's after its selections, notes between sources and sets,
        // the project's last.
        assert!(at("thematic code: trust</Description>") < at(&note_ref("memos/codes/trust.md")));
        assert!(at("</PlainTextSelection>") < at(&note_ref("memos/transcripts/P1.md")));
        assert!(at(&note_ref("memos/transcripts/P1.md")) < at("</TextSource>"));
        assert!(at("</Sources>") < at("<Notes>") && at("</Notes>") < at("<Sets>"));
        assert!(qde.contains(&format!(
            "<MemberNote targetGUID=\"{}\"/>",
            guid("note", "memos/themes/T1.md")
        )));
        let after_sets = &qde[at("</Sets>")..];
        for file in ["memos/journal.md", "memos/themes/T2.md", "memos/transcripts/P9.md"] {
            assert!(after_sets.contains(&note_ref(file)), "{file} on the project: {qde}");
        }
        assert!(qde.contains("name=\"Memo on code Trust\"") && qde.contains("name=\"Journal\""));
        assert!(qde.contains("<PlainTextContent>Trust &amp; &lt;doubt&gt;.\n</PlainTextContent>"));

        let read = read_qdpx(&bytes).unwrap();
        assert!(read.skipped.is_empty() && read.warnings.is_empty(), "{read:?}");
        let notes: Vec<(&str, &NoteAbout, &str, Option<&str>)> = read
            .notes
            .iter()
            .map(|n| (n.name.as_str(), &n.about, n.text.as_str(), n.file.as_deref()))
            .collect();
        assert_eq!(
            notes,
            [
                (
                    "Memo on code Trust",
                    &NoteAbout::Code(0),
                    "Trust & <doubt>.\n",
                    Some("memos/codes/trust.md")
                ),
                (
                    "Journal",
                    &NoteAbout::Study,
                    "Week 1: first reading.\n",
                    Some("memos/journal.md")
                ),
                (
                    "Memo on theme T1: Trust at work",
                    &NoteAbout::Set("Theme T1: Trust at work".into()),
                    "Holds up.\n",
                    Some("memos/themes/T1.md")
                ),
                (
                    "Memo on theme T2",
                    &NoteAbout::Study,
                    "Gone.\n",
                    Some("memos/themes/T2.md")
                ),
                (
                    "Memo on P1",
                    &NoteAbout::Source(0),
                    "Short.\n",
                    Some("memos/transcripts/P1.md")
                ),
                (
                    "Memo on P9",
                    &NoteAbout::Study,
                    "Not read.\n",
                    Some("memos/transcripts/P9.md")
                ),
            ]
        );
        // A codebook alone refers to no notes.
        assert!(!codebook_xml(&codes, "test").contains("NoteRef"));
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
