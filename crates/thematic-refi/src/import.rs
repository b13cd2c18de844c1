//! A REFI-QDA project (`.qdpx`) as another tool wrote it: its text
//! sources, codes, cases and variables, its text codings by coder, and its
//! notes (memos) with what each is on.
//!
//! Exporters differ, so reading is lenient: `sources/` in any case, a `.qde`
//! of any name, a byte-order mark and `\r\n` in sources, GUIDs with braces,
//! namespaces spelt `1:0`. Where positions can be counted more than one way
//! (end inclusive or exclusive, `\r\n` as one character or two, the mark
//! counted or not), each source is read the way that makes its selections
//! fit whole words, and a reading other than the standard's is reported.
//! What cannot be read is reported with its place and skipped.

use std::collections::{BTreeMap, HashMap, HashSet};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use thematic_formats::{decode_as_written, decode_text, has_byte_order_mark, unix_line_ends, Zipped};

use crate::positions::{Counted, Reading};
use crate::read::{attribute, guid_of, push_text, read_codes, Lines};
use crate::MEMO_LINE;
use thematic_model::Code;

/// What a project brought, ready for a study.
#[derive(Debug, Default)]
pub struct ImportedProject {
    pub name: Option<String>,
    pub origin: Option<String>,
    pub codes: Vec<Code>,
    /// The people (users) whose codings were read, by name.
    pub coders: Vec<String>,
    /// Variables in the order the project lists them.
    pub variables: Vec<String>,
    pub cases: Vec<ImportedCase>,
    pub sources: Vec<ImportedSource>,
    /// Notes (memos) whose text was read, in the project's order.
    pub notes: Vec<ImportedNote>,
    /// How many sets of codes the project has (not imported).
    pub sets: usize,
    /// Readings other than the standard's, and other things to know.
    pub warnings: Vec<String>,
    /// Parts that could not be read, each with its place; they were skipped.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedCase {
    pub name: String,
    /// (variable, value) in the project's order of variables.
    pub values: Vec<(String, String)>,
    /// Indexes into the project's sources.
    pub sources: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedSource {
    pub name: String,
    /// The text without a byte-order mark, line ends `\n`, as thematic reads it.
    pub text: String,
    pub codings: Vec<ImportedCoding>,
}

/// A note (a memo) of the project, with what it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedNote {
    pub name: String,
    /// Its plain text, without a byte-order mark, line ends `\n`.
    pub text: String,
    pub about: NoteAbout,
    /// The memo file thematic exported it from, as its description says
    /// (`thematic memo: FILE`); `None` for another tool's notes.
    pub file: Option<String>,
}

/// What a note is on, as what refers to it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteAbout {
    /// Index into the project's codes: a `NoteRef` in that `Code`.
    Code(usize),
    /// Index into the project's sources: a `NoteRef` in that `TextSource`
    /// (or in one of its selections).
    Source(usize),
    /// A `MemberNote` of the set of this name (sets are not imported).
    Set(String),
    /// A `NoteRef` of the project as a whole or anything else the import
    /// does not bring (a case, a PDF), or nothing refers to it.
    Study,
}

impl NoteAbout {
    /// How closely it says what a note is on: a note referred to from
    /// several places is taken as on the closest (a code before a source,
    /// either before a set, anything before the project).
    fn closeness(&self) -> u8 {
        match self {
            NoteAbout::Code(_) => 0,
            NoteAbout::Source(_) => 1,
            NoteAbout::Set(_) => 2,
            NoteAbout::Study => 3,
        }
    }
}

/// A code put on a stretch of a source by a coder: half-open code-point
/// offsets into the source's `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImportedCoding {
    pub start: usize,
    pub end: usize,
    /// Index into the project's coders.
    pub coder: usize,
    /// Index into the project's codes.
    pub code: usize,
}

/// More entries than a project of the largest study has sources.
const MAX_ENTRIES: usize = 100_000;

/// The `.qde` of a `.qdpx`, with the archive's entries it points at.
pub fn read_qdpx(bytes: &[u8]) -> Result<ImportedProject, String> {
    let mut archive = Zipped::open(bytes, "a .qdpx project", MAX_ENTRIES)?;
    let names = archive.names();
    let (qde, project_files) = chosen_project_file(&names)?;
    let qde_bytes = archive.read(qde)?;
    let xml = decode_as_written(&qde_bytes).map_err(|e| format!("`{qde}` is {e}"))?;
    let xml = xml.as_str();
    let raw = RawProject::read(xml).map_err(|e| format!("`{qde}`: {e}"))?;
    let mut project = ImportedProject {
        name: raw.name.clone(),
        origin: raw.origin.clone(),
        sets: raw.sets,
        warnings: project_warnings(qde, project_files, &raw),
        ..ImportedProject::default()
    };
    let codes = read_codes(xml).map_err(|e| format!("`{qde}`: {e}"))?;
    let mut sources = SourceReader {
        qde,
        archive: &mut archive,
        entries: Entries::new(&names),
        read_entries: HashSet::new(),
        code_of_guid: codes
            .iter()
            .enumerate()
            .filter_map(|(at, (_, guid))| guid.clone().map(|g| (g, at)))
            .collect(),
        coder_of_user: HashMap::new(),
        // thematic writes the standard's positions, whatever words its strategies cut.
        written_by_thematic: raw.origin.as_deref().is_some_and(|o| o.starts_with("thematic ")),
    };
    project.codes = codes.into_iter().map(|(code, _)| code).collect();
    let mut source_of_guid: HashMap<String, usize> = HashMap::new();
    for source in &raw.sources {
        let Some(read) = sources.read(source, &raw.users, &mut project) else {
            continue;
        };
        source_of_guid.insert(source.guid.clone(), project.sources.len());
        project.sources.push(read);
    }
    read_cases(qde, &raw, &source_of_guid, &mut project);
    read_notes(&raw, &mut sources, &source_of_guid, &mut project);
    Ok(project)
}

/// The project file of an archive (`project.qde` at the top first), and how
/// many the archive holds.
fn chosen_project_file(names: &[String]) -> Result<(&String, usize), String> {
    // macOS leaves `__MACOSX/…/._name` files of resource data beside zipped ones.
    let mut projects: Vec<&String> = names
        .iter()
        .filter(|n| n.to_ascii_lowercase().ends_with(".qde"))
        .filter(|n| !n.starts_with("__MACOSX/") && !n.rsplit('/').next().is_some_and(|f| f.starts_with("._")))
        .collect();
    projects.sort_by_key(|n| (n.contains('/'), !n.eq_ignore_ascii_case("project.qde"), n.as_str()));
    match projects.first() {
        Some(&qde) => Ok((qde, projects.len())),
        None => Err("no `.qde` project file in the archive".into()),
    }
}

/// What to know about the project as a whole: other project files, another
/// namespace, what thematic does not import.
fn project_warnings(qde: &str, project_files: usize, raw: &RawProject) -> Vec<String> {
    let mut warnings = Vec::new();
    if project_files > 1 {
        warnings.push(format!(
            "the archive holds {project_files} `.qde` files; `{qde}` was read"
        ));
    }
    if let Some(namespace) = raw
        .namespace
        .as_deref()
        .filter(|n| !n.starts_with("urn:QDA-XML:project:1"))
    {
        warnings.push(format!(
            "`{qde}`: namespace `{namespace}` is not REFI-QDA 1.0's; read as if it were"
        ));
    }
    for (kind, count) in &raw.other_sources {
        warnings.push(format!(
            "{count} {kind} element(s) not imported: thematic analyses text sources"
        ));
    }
    warnings
}

/// Reads the project's text sources one by one, with what they share: the
/// archive, the codes by GUID and the coders met so far.
struct SourceReader<'r, 'n, 'z> {
    qde: &'n str,
    archive: &'r mut Zipped<'z>,
    entries: Entries<'n>,
    /// Entries already read as a source's text.
    read_entries: HashSet<&'n String>,
    code_of_guid: HashMap<String, usize>,
    /// A user's GUID (or none) to their index in the project's coders.
    coder_of_user: HashMap<Option<String>, usize>,
    written_by_thematic: bool,
}

impl SourceReader<'_, '_, '_> {
    /// A source with its codings, or `None` when it was skipped (and said so).
    fn read(
        &mut self,
        source: &RawSource,
        users: &HashMap<String, String>,
        project: &mut ImportedProject,
    ) -> Option<ImportedSource> {
        let place = format!("`{}` line {}: source `{}`", self.qde, source.line, source.name);
        let bytes = match self.bytes_of(&source.text) {
            Ok(bytes) => bytes,
            Err(why) => {
                project
                    .skipped
                    .push(format!("{place}: {why}; skipped with its codings"));
                return None;
            }
        };
        let written = match decode_as_written(&bytes) {
            Ok(text) => text,
            Err(e) => {
                project
                    .skipped
                    .push(format!("{place}: its text is {e}; skipped with its codings"));
                return None;
            }
        };
        // A second mark after the first (a file saved twice with one) is a mark too.
        let has_mark = has_byte_order_mark(&bytes) || written.starts_with('\u{feff}');
        let written = written.trim_start_matches('\u{feff}');
        let text = unix_line_ends(written.to_string());
        let counted = Counted::new(written, &text, has_mark);

        let selections = self.positions_of(source, &mut project.skipped);
        let positions: Vec<(usize, usize)> = selections.iter().map(|&(_, s, e)| (s, e)).collect();
        let reading = match self.written_by_thematic {
            true => Reading::STANDARD,
            false => counted.best_reading(&positions),
        };
        if let Some(described) = reading.described() {
            let (fit, edges) = counted.fit(reading, &positions);
            let (standard_fit, standard_edges) = counted.fit(Reading::STANDARD, &positions);
            project.warnings.push(format!(
                "{place}: positions read with {described}: so {fit} of its {} selections lie in the text and {edges} of their ends fall between words, against {standard_fit} and {standard_edges} the standard way",
                positions.len()
            ));
        }
        let mut codings = Vec::new();
        for (selection, start, end) in selections {
            let at = format!(
                "`{}` line {}: a selection in `{}`",
                self.qde, selection.line, source.name
            );
            match selected_range(reading, &counted, start, end) {
                Ok((start, end)) => {
                    for coding in &selection.codings {
                        match self.coding(selection, coding, (start, end), users, project) {
                            Ok(coding) => codings.push(coding),
                            Err(why) => project.skipped.push(format!("{at}: {why}; skipped")),
                        }
                    }
                }
                Err(why) => project.skipped.push(format!("{at}: {why}; skipped")),
            }
        }
        codings.sort();
        codings.dedup();
        Some(ImportedSource {
            name: source.name.clone(),
            text,
            codings,
        })
    }

    /// A source's or a note's text as stored: inline, or the archive entry
    /// it names (each entry one source's or note's only).
    fn bytes_of(&mut self, stored: &StoredText) -> Result<Vec<u8>, String> {
        match (&stored.inline, &stored.path) {
            (Some(text), _) => Ok(text.clone().into_bytes()),
            (None, Some(path)) => match self.entries.of(path) {
                Some(entry) if !self.read_entries.insert(entry) => {
                    Err(format!("its text `{path}` is another source's or note's too"))
                }
                Some(entry) => self.archive.read(entry),
                None => Err(format!("its text `{path}` is not in the archive")),
            },
            (None, None) => Err("no plain text (no `plainTextPath` or `PlainTextContent`)".into()),
        }
    }

    /// A note's text as thematic reads text: decoded, without a byte-order
    /// mark, line ends `\n` (a note has no positions to count as written).
    fn note_text(&mut self, note: &RawNote) -> Result<String, String> {
        let bytes = self.bytes_of(&note.text)?;
        let text = decode_text(&bytes).map_err(|e| format!("its text is {e}"))?;
        // A second mark after the first (a file saved twice with one) is a mark too.
        Ok(text.trim_start_matches('\u{feff}').to_string())
    }

    /// The source's selections with their positions as whole numbers; the
    /// others are skipped, each named.
    fn positions_of<'s>(
        &self,
        source: &'s RawSource,
        skipped: &mut Vec<String>,
    ) -> Vec<(&'s RawSelection, usize, usize)> {
        let mut selections = Vec::new();
        for selection in &source.selections {
            let at = format!(
                "`{}` line {}: a selection in `{}`",
                self.qde, selection.line, source.name
            );
            let position = |value: &Option<String>, which: &str| -> Result<usize, String> {
                let value = value.as_deref().ok_or_else(|| format!("{at}: no {which}; skipped"))?;
                value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{at}: {which} `{value}` is not a whole number; skipped"))
            };
            match (
                position(&selection.start, "startPosition"),
                position(&selection.end, "endPosition"),
            ) {
                (Ok(start), Ok(end)) => selections.push((selection, start, end)),
                (Err(e), _) | (_, Err(e)) => skipped.push(e),
            }
        }
        selections
    }

    /// One coding of a selection whose range is read, by a coder named on
    /// first sight.
    fn coding(
        &mut self,
        selection: &RawSelection,
        coding: &RawCoding,
        (start, end): (usize, usize),
        users: &HashMap<String, String>,
        project: &mut ImportedProject,
    ) -> Result<ImportedCoding, String> {
        let Some(&code) = coding.code.as_ref().and_then(|g| self.code_of_guid.get(g)) else {
            return Err(format!(
                "a coding refers to code `{}`, which the project's codebook does not hold",
                coding.code.as_deref().unwrap_or("(none)")
            ));
        };
        let user = coding.user.clone().or_else(|| selection.user.clone());
        let next = self.coder_of_user.len();
        let coder = *self.coder_of_user.entry(user.clone()).or_insert_with(|| {
            let name = user.as_ref().and_then(|guid| users.get(guid).cloned());
            let name = name.unwrap_or_else(|| {
                let name = match &user {
                    Some(guid) => format!("user {guid}"),
                    None => "unattributed".to_string(),
                };
                project.warnings.push(format!(
                    "codings whose user the project does not name are the coder `{name}`"
                ));
                name
            });
            project.coders.push(name);
            next
        });
        Ok(ImportedCoding {
            coder,
            code,
            start,
            end,
        })
    }
}

/// A selection's positions, read the source's way, as offsets into its text.
fn selected_range(reading: Reading, counted: &Counted, start: usize, end: usize) -> Result<(usize, usize), String> {
    let last = match reading.inclusive_end {
        true => end.saturating_add(1),
        false => end,
    };
    if start >= last {
        return Err(format!(
            "positions {start}–{end} make no stretch of text (the start is not before the end)"
        ));
    }
    counted.range(reading, start, end).ok_or_else(|| {
        format!(
            "positions {start}–{end} do not lie within the source's {} characters",
            counted.length()
        )
    })
}

/// The project's cases with their values and their sources that were read.
fn read_cases(qde: &str, raw: &RawProject, source_of_guid: &HashMap<String, usize>, project: &mut ImportedProject) {
    let variable_names: HashMap<&String, &String> = raw.variables.iter().map(|(g, n)| (g, n)).collect();
    project.variables = raw.variables.iter().map(|(_, name)| name.clone()).collect();
    for case in &raw.cases {
        let mut values = Vec::new();
        for (variable, value) in &case.values {
            match variable.as_ref().and_then(|g| variable_names.get(g)) {
                Some(name) => values.push(((*name).clone(), value.clone())),
                None => project.skipped.push(format!(
                    "`{qde}` line {}: case `{}` has a value of a variable the project does not list; skipped",
                    case.line, case.name
                )),
            }
        }
        values.sort_by_key(|(name, _)| project.variables.iter().position(|v| v == name));
        // A source skipped above was reported there; one the project lacks is reported here.
        let mut sources = Vec::new();
        for guid in &case.sources {
            match source_of_guid.get(guid) {
                Some(&source) => sources.push(source),
                None if !raw.sources.iter().any(|s| s.guid == *guid) && !raw.other_source_guids.contains(guid) => {
                    project.skipped.push(format!(
                        "`{qde}` line {}: case `{}` refers to source `{guid}`, which the project does not hold; skipped",
                        case.line, case.name
                    ))
                }
                None => {}
            }
        }
        project.cases.push(ImportedCase {
            name: case.name.clone(),
            values,
            sources,
        });
    }
}

/// The project's notes whose text can be read, each on the closest thing
/// referring to it that was imported (see [`NoteAbout`]), or on the study. A
/// note whose text cannot be read, and a reference to a note the project
/// does not hold, are reported and skipped.
fn read_notes(
    raw: &RawProject,
    reader: &mut SourceReader,
    source_of_guid: &HashMap<String, usize>,
    project: &mut ImportedProject,
) {
    let qde = reader.qde;
    let mut note_of_guid: HashMap<&str, usize> = HashMap::new();
    for (at, note) in raw.notes.iter().enumerate() {
        note_of_guid.entry(note.guid.as_str()).or_insert(at);
    }
    let mut abouts: Vec<Vec<NoteAbout>> = vec![Vec::new(); raw.notes.len()];
    for reference in &raw.note_refs {
        let Some(&note) = note_of_guid.get(reference.target.as_str()) else {
            project.skipped.push(format!(
                "`{qde}` line {}: {} refers to note `{}`, which the project does not hold; skipped",
                reference.line,
                reference.on.described(),
                reference.target
            ));
            continue;
        };
        // A code or source that could not be read was reported with its
        // place; a note on it stays, on whatever else refers to it or the study.
        let about = match &reference.on {
            NoteHolder::Code { guid, .. } => reader.code_of_guid.get(guid).map(|&code| NoteAbout::Code(code)),
            NoteHolder::Source { guid, .. } => source_of_guid.get(guid).map(|&source| NoteAbout::Source(source)),
            NoteHolder::Set { name } => Some(NoteAbout::Set(name.clone())),
            NoteHolder::Project => Some(NoteAbout::Study),
        };
        if let Some(about) = about.filter(|about| !abouts[note].contains(about)) {
            abouts[note].push(about);
        }
    }
    for (note, mut about) in raw.notes.iter().zip(abouts) {
        let place = format!("`{qde}` line {}: note `{}`", note.line, note.name);
        let text = match reader.note_text(note) {
            Ok(text) => text,
            Err(why) => {
                project.skipped.push(format!("{place}: {why}; skipped"));
                continue;
            }
        };
        // Stable: of equally close references, the first in the project.
        about.sort_by_key(NoteAbout::closeness);
        let closest = about.first().cloned().unwrap_or(NoteAbout::Study);
        let things = about.iter().filter(|a| **a != NoteAbout::Study).count();
        if things > 1 {
            project.warnings.push(format!(
                "{place}: on {things} things; imported once, as a memo on the first (a code before a source, a source before a set)"
            ));
        }
        let file = note.description.as_deref().and_then(|description| {
            description
                .lines()
                .find_map(|line| line.trim().strip_prefix(MEMO_LINE))
                .map(str::to_string)
        });
        project.notes.push(ImportedNote {
            name: note.name.clone(),
            text,
            about: closest,
            file,
        });
    }
}

/// The archive's entries by lower-case name, and by lower-case file name
/// (the first of each), to find a source's text in one look.
struct Entries<'n> {
    by_name: HashMap<String, &'n String>,
    by_file: HashMap<String, &'n String>,
}

impl<'n> Entries<'n> {
    fn new(names: &'n [String]) -> Entries<'n> {
        let mut entries = Entries {
            by_name: HashMap::new(),
            by_file: HashMap::new(),
        };
        for name in names {
            let lower = name.to_lowercase();
            let file = lower.rsplit('/').next().unwrap_or(&lower).to_string();
            entries.by_file.entry(file).or_insert(name);
            entries.by_name.entry(lower).or_insert(name);
        }
        entries
    }

    /// The entry a source's `plainTextPath` names: `internal://NAME` is
    /// `sources/NAME` in any case; failing that, any entry of that file name.
    fn of(&self, path: &str) -> Option<&'n String> {
        let file = path
            .split_once("://")
            .map_or(path, |(_, rest)| rest)
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(path)
            .to_lowercase();
        self.by_name
            .get(&format!("sources/{file}"))
            .or_else(|| self.by_file.get(&file))
            .copied()
    }
}

/// What `project.qde` says, before its references are resolved.
#[derive(Default)]
struct RawProject {
    name: Option<String>,
    origin: Option<String>,
    namespace: Option<String>,
    /// User GUID to name.
    users: HashMap<String, String>,
    /// (GUID, name) in order.
    variables: Vec<(String, String)>,
    cases: Vec<RawCase>,
    sources: Vec<RawSource>,
    notes: Vec<RawNote>,
    /// Every reference to a note, in the project's order.
    note_refs: Vec<RawNoteRef>,
    other_sources: BTreeMap<String, usize>,
    /// GUIDs of the sources that are not text.
    other_source_guids: HashSet<String>,
    sets: usize,
}

struct RawCase {
    line: usize,
    name: String,
    /// (variable GUID, value).
    values: Vec<(Option<String>, String)>,
    sources: Vec<String>,
}

struct RawSource {
    line: usize,
    guid: String,
    name: String,
    text: StoredText,
    selections: Vec<RawSelection>,
}

/// Where a source's or note's text is: the archive entry `plainTextPath`
/// names, or inside the project (`PlainTextContent`).
struct StoredText {
    path: Option<String>,
    inline: Option<String>,
}

struct RawNote {
    line: usize,
    guid: String,
    name: String,
    text: StoredText,
    description: Option<String>,
}

/// A `NoteRef` or `MemberNote`, with the element it is in.
struct RawNoteRef {
    line: usize,
    /// The note's GUID.
    target: String,
    on: NoteHolder,
}

/// The element a reference to a note is in, the innermost that says what a
/// note is on.
#[derive(Clone)]
enum NoteHolder {
    Code {
        guid: String,
        name: String,
    },
    Source {
        guid: String,
        name: String,
    },
    Set {
        name: String,
    },
    /// The project, or an element of it that the import does not bring.
    Project,
}

impl NoteHolder {
    /// What an element that opens (not an empty one: it holds nothing)
    /// holds notes about, if it is one that does.
    fn opened(name: &str, tag: &BytesStart) -> Option<NoteHolder> {
        let guid = || attribute(tag, "guid").map(|g| guid_of(&g)).unwrap_or_default();
        let name_of = |kind: &str| attribute(tag, "name").unwrap_or_else(|| format!("unnamed {kind}"));
        match name {
            "Code" => Some(NoteHolder::Code {
                guid: guid(),
                name: name_of("code"),
            }),
            "TextSource" => Some(NoteHolder::Source {
                guid: guid(),
                name: name_of("source"),
            }),
            "Set" => Some(NoteHolder::Set { name: name_of("set") }),
            _ => None,
        }
    }

    fn described(&self) -> String {
        match self {
            NoteHolder::Code { name, .. } => format!("a note reference in code `{name}`"),
            NoteHolder::Source { name, .. } => format!("a note reference in source `{name}`"),
            NoteHolder::Set { name } => format!("a note member of set `{name}`"),
            NoteHolder::Project => "a note reference".to_string(),
        }
    }
}

struct RawSelection {
    line: usize,
    start: Option<String>,
    end: Option<String>,
    user: Option<String>,
    codings: Vec<RawCoding>,
}

struct RawCoding {
    user: Option<String>,
    code: Option<String>,
}

/// Elements whose text is wanted: a case's variable values, a source's
/// text, a note's text and description.
#[derive(Clone, Copy)]
enum Capture {
    Value,
    SourceText,
    NoteText,
    NoteDescription,
}

impl RawProject {
    fn read(xml: &str) -> Result<RawProject, String> {
        let mut reader = Reader::from_str(xml);
        let mut project = RawProject::default();
        let mut path: Vec<String> = Vec::new();
        // What is being captured, the depth of its element, and the text so far.
        let mut capture: Option<(Capture, usize, String)> = None;
        let mut value_variable: Option<String> = None;
        // The elements open that hold notes, each with its depth.
        let mut holders: Vec<(usize, NoteHolder)> = Vec::new();
        let mut lines = Lines::new(xml);
        loop {
            let at = reader.buffer_position();
            let event = reader
                .read_event()
                .map_err(|e| format!("not well-formed XML at line {}: {e}", lines.at(at)))?;
            match &event {
                Event::Start(tag) | Event::Empty(tag) => {
                    let name = tag.local_name().as_ref().to_string();
                    let parent = path.last().map(String::as_str);
                    let holder = holders.last().map(|(_, holder)| holder);
                    project.open(&name, parent, tag, lines.at(at), &mut value_variable, holder);
                    if matches!(event, Event::Start(_)) {
                        let in_case = path.iter().any(|p| p == "Case");
                        let kind = match name.as_str() {
                            "TextValue" | "BooleanValue" | "IntegerValue" | "FloatValue" | "DateValue"
                            | "DateTimeValue"
                                if in_case =>
                            {
                                Some(Capture::Value)
                            }
                            // A source's text; a PDF's representation is not one.
                            "PlainTextContent" if parent == Some("TextSource") => Some(Capture::SourceText),
                            "PlainTextContent" if parent == Some("Note") => Some(Capture::NoteText),
                            "Description" if parent == Some("Note") => Some(Capture::NoteDescription),
                            _ => None,
                        };
                        let holder = NoteHolder::opened(&name, tag);
                        path.push(name);
                        if let Some(holder) = holder {
                            holders.push((path.len(), holder));
                        }
                        if let (Some(kind), None) = (kind, &capture) {
                            capture = Some((kind, path.len(), String::new()));
                        }
                    }
                }
                Event::End(_) => {
                    if let Some((kind, depth, text)) = capture.take() {
                        if depth != path.len() {
                            capture = Some((kind, depth, text));
                        } else {
                            match kind {
                                Capture::SourceText => {
                                    if let Some(source) = project.sources.last_mut() {
                                        source.text.inline = Some(text);
                                    }
                                }
                                Capture::NoteText => {
                                    if let Some(note) = project.notes.last_mut() {
                                        note.text.inline = Some(text);
                                    }
                                }
                                Capture::NoteDescription => {
                                    if let Some(note) = project.notes.last_mut() {
                                        note.description = Some(text);
                                    }
                                }
                                Capture::Value => {
                                    if let Some(case) = project.cases.last_mut() {
                                        case.values.push((value_variable.clone(), text));
                                    }
                                }
                            }
                        }
                    }
                    if holders.last().is_some_and(|(depth, _)| *depth == path.len()) {
                        holders.pop();
                    }
                    if path.pop().as_deref() == Some("VariableValue") {
                        value_variable = None;
                    }
                }
                Event::Eof => break,
                other => {
                    if let Some((_, _, text)) = &mut capture {
                        push_text(other, text);
                    }
                }
            }
        }
        Ok(project)
    }

    /// Takes in an element that opens (or is empty) inside `parent`, and
    /// inside `holder`, the innermost element open that holds notes.
    fn open(
        &mut self,
        name: &str,
        parent: Option<&str>,
        tag: &BytesStart,
        line: usize,
        value_variable: &mut Option<String>,
        holder: Option<&NoteHolder>,
    ) {
        let guid = || attribute(tag, "guid").map(|g| guid_of(&g));
        match (name, parent) {
            ("Project", None) => {
                self.name = attribute(tag, "name");
                self.origin = attribute(tag, "origin");
                self.namespace = attribute(tag, "xmlns");
            }
            ("User", _) => {
                if let Some(guid) = guid() {
                    self.users
                        .insert(guid, attribute(tag, "name").unwrap_or_else(|| "unnamed user".into()));
                }
            }
            ("Variable", Some("Variables")) => {
                if let Some(guid) = guid() {
                    let name =
                        attribute(tag, "name").unwrap_or_else(|| format!("variable {}", self.variables.len() + 1));
                    self.variables.push((guid, name));
                }
            }
            ("Case", _) => self.cases.push(RawCase {
                line,
                name: attribute(tag, "name")
                    .map(|n| n.trim().to_string())
                    .or_else(guid)
                    .unwrap_or_else(|| format!("case {}", self.cases.len() + 1)),
                values: Vec::new(),
                sources: Vec::new(),
            }),
            ("VariableRef", Some("VariableValue")) => {
                *value_variable = attribute(tag, "targetGUID").map(|g| guid_of(&g));
            }
            ("SourceRef", Some("Case")) => {
                if let (Some(case), Some(target)) = (self.cases.last_mut(), attribute(tag, "targetGUID")) {
                    case.sources.push(guid_of(&target));
                }
            }
            ("TextSource", _) => self.sources.push(RawSource {
                line,
                guid: guid().unwrap_or_default(),
                name: attribute(tag, "name").unwrap_or_else(|| format!("source {}", self.sources.len() + 1)),
                text: StoredText {
                    path: attribute(tag, "plainTextPath"),
                    inline: None,
                },
                selections: Vec::new(),
            }),
            ("PDFSource" | "PictureSource" | "AudioSource" | "VideoSource", Some("Sources")) => {
                *self.other_sources.entry(name.to_string()).or_default() += 1;
                self.other_source_guids.extend(guid());
            }
            ("Note", Some("Notes")) => self.notes.push(RawNote {
                line,
                guid: guid().unwrap_or_default(),
                name: attribute(tag, "name").unwrap_or_else(|| format!("note {}", self.notes.len() + 1)),
                text: StoredText {
                    path: attribute(tag, "plainTextPath"),
                    inline: None,
                },
                description: None,
            }),
            ("NoteRef" | "MemberNote", _) => {
                if let Some(target) = attribute(tag, "targetGUID") {
                    self.note_refs.push(RawNoteRef {
                        line,
                        target: guid_of(&target),
                        on: holder.cloned().unwrap_or(NoteHolder::Project),
                    });
                }
            }
            ("PlainTextSelection", Some("TextSource")) => {
                if let Some(source) = self.sources.last_mut() {
                    source.selections.push(RawSelection {
                        line,
                        start: attribute(tag, "startPosition"),
                        end: attribute(tag, "endPosition"),
                        user: attribute(tag, "creatingUser").map(|g| guid_of(&g)),
                        codings: Vec::new(),
                    });
                }
            }
            ("Coding", Some("PlainTextSelection")) => {
                if let Some(selection) = self.sources.last_mut().and_then(|s| s.selections.last_mut()) {
                    selection.codings.push(RawCoding {
                        user: attribute(tag, "creatingUser").map(|g| guid_of(&g)),
                        code: None,
                    });
                }
            }
            ("CodeRef", Some("Coding")) => {
                let coding = self
                    .sources
                    .last_mut()
                    .and_then(|s| s.selections.last_mut())
                    .and_then(|s| s.codings.last_mut());
                if let Some(coding) = coding {
                    coding.code = attribute(tag, "targetGUID").map(|g| guid_of(&g));
                }
            }
            ("Set", Some("Sets")) => self.sets += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use thematic_model::{Code, Participant};

    use super::*;
    use crate::{qdpx, CodedSource, Project, Selection, Source};

    #[test]
    fn the_project_file_at_the_top_named_project_is_chosen_and_resource_forks_are_not() {
        let names: Vec<String> = [
            "__MACOSX/._project.qde",
            "old/project.qde",
            "other.qde",
            "project.qde",
            "sources/a.txt",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(chosen_project_file(&names), Ok((&names[3], 3)));
        let names = vec!["sources/a.txt".to_string(), "dir/._x.qde".to_string()];
        assert!(chosen_project_file(&names).unwrap_err().contains("no `.qde`"));
    }

    #[test]
    fn a_selection_is_read_as_a_range_of_the_text_or_refused_with_why() {
        let counted = Counted::new("one two", "one two", false);
        assert_eq!(selected_range(Reading::STANDARD, &counted, 0, 3), Ok((0, 3)));
        let inclusive = Reading {
            inclusive_end: true,
            ..Reading::STANDARD
        };
        assert_eq!(selected_range(inclusive, &counted, 4, 6), Ok((4, 7)));
        assert!(selected_range(Reading::STANDARD, &counted, 3, 3)
            .unwrap_err()
            .contains("no stretch of text"));
        assert!(selected_range(Reading::STANDARD, &counted, 2, 9)
            .unwrap_err()
            .contains("within the source's 7 characters"));
    }

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// (source, coder, code id, start, end) of every coding.
    fn codings(project: &ImportedProject) -> Vec<(String, String, String, usize, usize)> {
        let mut all = Vec::new();
        for source in &project.sources {
            for c in &source.codings {
                all.push((
                    source.name.clone(),
                    project.coders[c.coder].clone(),
                    project.codes[c.code].id.clone(),
                    c.start,
                    c.end,
                ));
            }
        }
        all
    }

    fn excerpt(project: &ImportedProject, source: usize, coding: usize) -> String {
        let source = &project.sources[source];
        let c = source.codings[coding];
        source.text.chars().skip(c.start).take(c.end - c.start).collect()
    }

    #[test]
    fn a_project_thematic_wrote_comes_back_whole_with_code_point_offsets() {
        let text = "Interviewer: Ça va?\nP1: Ich übernehme 責任 for it 👍 — on my watch.\n";
        let codes = [Code {
            id: "taking-ownership".into(),
            name: Some("Taking ownership".into()),
            ..Code::default()
        }];
        let participants = [Participant {
            id: "P1".into(),
            attributes: vec![("tier".into(), "senior".into())],
        }];
        let start = text.chars().position(|c| c == '責').unwrap();
        let project = Project {
            name: "étude",
            origin: "test",
            codes: &codes,
            themes: &[],
            areas: &[],
            participants: &participants,
            sources: vec![Source {
                id: "transcripts/P1.txt",
                participant: Some("P1"),
            }],
            coders: vec!["dictionary", "Coder Ö"],
            coded: vec!["taking-ownership"],
            memos: &[],
        };
        let source = CodedSource {
            id: "transcripts/P1.txt",
            text,
            selections: vec![
                Selection {
                    coder: "dictionary",
                    code: "taking-ownership",
                    start,
                    end: start + 2,
                },
                Selection {
                    coder: "Coder Ö",
                    code: "taking-ownership",
                    start: start + 10,
                    end: start + 23,
                },
            ],
            notes: Vec::new(),
        };
        let read = read_qdpx(&qdpx(&project, vec![source]).unwrap()).unwrap();
        assert!(read.skipped.is_empty() && read.warnings.is_empty(), "{read:?}");
        assert_eq!(read.name.as_deref(), Some("étude"));
        assert_eq!(read.sources[0].text, text);
        assert_eq!(
            codings(&read),
            [
                (
                    "transcripts/P1.txt".into(),
                    "dictionary".into(),
                    "taking-ownership".into(),
                    start,
                    start + 2
                ),
                (
                    "transcripts/P1.txt".into(),
                    "Coder Ö".into(),
                    "taking-ownership".into(),
                    start + 10,
                    start + 23
                )
            ]
        );
        assert_eq!(excerpt(&read, 0, 0), "責任");
        assert_eq!(
            excerpt(&read, 0, 1),
            "👍 — on my wat",
            "a span ending inside a word stays as written"
        );
        assert_eq!(
            read.cases,
            [ImportedCase {
                name: "P1".into(),
                values: vec![("tier".into(), "senior".into())],
                sources: vec![0],
            }]
        );
    }

    /// A project as other tools write one: its own `.qde` name, `Sources/`,
    /// braced upper-case GUIDs, a `1:0` namespace on the codebook.
    fn other_tools_project(sources: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
        other_tools_archive(&other_tools_qde(sources), files)
    }

    /// The `.qde` of [`other_tools_project`], one element a line from line 14 (`Sources`) on.
    fn other_tools_qde(sources: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Leadership" origin="Another QDA tool 3.1">
  <Users><User guid="{{AAAAAAAA-0000-4000-8000-000000000001}}" name="Coder A"/></Users>
  <CodeBook xmlns="urn:QDA-XML:codebook:1:0"><Codes>
    <Code guid="{{CCCCCCCC-0000-4000-8000-000000000001}}" name="Trust" isCodable="true">
      <Code guid="{{CCCCCCCC-0000-4000-8000-000000000002}}" name="Trust in staff" isCodable="true"/>
    </Code>
  </Codes></CodeBook>
  <Variables><Variable guid="{{DDDDDDDD-0000-4000-8000-000000000001}}" name="Tier" typeOfVariable="Text"/></Variables>
  <Cases><Case guid="{{EEEEEEEE-0000-4000-8000-000000000001}}" name="P07">
    <VariableValue><VariableRef targetGUID="{{DDDDDDDD-0000-4000-8000-000000000001}}"/><TextValue>middle &amp; senior</TextValue></VariableValue>
    <SourceRef targetGUID="{{BBBBBBBB-0000-4000-8000-000000000001}}"/>
  </Case></Cases>
  <Sources>{sources}<PDFSource guid="{{BBBBBBBB-0000-4000-8000-0000000000FF}}" name="Consent form"/></Sources>
  <Notes><Note guid="{{AB000000-0000-4000-8000-000000000001}}" name="Memo"><PlainTextContent>A memo, not a source.</PlainTextContent></Note></Notes>
</Project>
"#
        )
    }

    /// An archive of `qde` as another tool names it, and `files`.
    fn other_tools_archive(qde: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut entries: Vec<(&str, &[u8])> = vec![("Leadership.qde", qde.as_bytes())];
        entries.extend_from_slice(files);
        zip_of(&entries)
    }

    #[test]
    fn notes_are_read_with_what_refers_to_them_and_what_cannot_be_read_is_named() {
        let sources = r#"<TextSource guid="{BBBBBBBB-0000-4000-8000-000000000001}" name="Interview 7"><PlainTextContent>P07: I trust my staff.</PlainTextContent><NoteRef targetGUID="{AB000000-0000-4000-8000-000000000002}"/><NoteRef targetGUID="{AB000000-0000-4000-8000-000000000003}"/></TextSource>"#;
        let notes = r#"  <Notes>
    <Note guid="{AB000000-0000-4000-8000-000000000001}" name="Memo"><PlainTextContent>A memo, not a source.</PlainTextContent></Note>
    <Note guid="{AB000000-0000-4000-8000-000000000002}" name="Interview memo" plainTextPath="internal://{AB000000-0000-4000-8000-000000000002}.txt"/>
    <Note guid="ab000000-0000-4000-8000-000000000003" name="Staff memo"><PlainTextContent>Staff &amp; trust.</PlainTextContent></Note>
    <Note guid="{AB000000-0000-4000-8000-000000000004}" name="Set memo"><PlainTextContent>Two codes, one idea.</PlainTextContent></Note>
    <Note guid="{AB000000-0000-4000-8000-000000000005}" name="Lost memo" plainTextPath="internal://missing.txt"/>
  </Notes>
  <Sets><Set guid="{5E000000-0000-4000-8000-000000000001}" name="Relationships"><MemberCode targetGUID="{CCCCCCCC-0000-4000-8000-000000000001}"/><MemberNote targetGUID="{AB000000-0000-4000-8000-000000000004}"/></Set></Sets>
  <NoteRef targetGUID="{AB000000-0000-4000-8000-000000000001}"/>"#;
        let qde = other_tools_qde(sources)
            .replace(
                r#"name="Trust" isCodable="true">"#,
                r#"name="Trust" isCodable="true"><NoteRef targetGUID="{AB000000-0000-4000-8000-000000000099}"/>"#,
            )
            .replace(
                r#"name="Trust in staff" isCodable="true"/>"#,
                r#"name="Trust in staff" isCodable="true"><NoteRef targetGUID="{AB000000-0000-4000-8000-000000000003}"/></Code>"#,
            );
        let old_notes = qde.lines().nth(14).unwrap();
        assert!(old_notes.starts_with("  <Notes>"), "{old_notes}");
        let qde = qde.replace(old_notes, notes);
        let memo = [b"\xEF\xBB\xBF".as_slice(), b"First line.\r\nSecond."].concat();
        let read = read_qdpx(&other_tools_archive(
            &qde,
            &[("Sources/{AB000000-0000-4000-8000-000000000002}.txt", &memo)],
        ))
        .unwrap();
        let note = |name: &str, text: &str, about: NoteAbout| ImportedNote {
            name: name.into(),
            text: text.into(),
            about,
            file: None,
        };
        assert_eq!(
            read.notes,
            [
                note("Memo", "A memo, not a source.", NoteAbout::Study),
                note("Interview memo", "First line.\nSecond.", NoteAbout::Source(0)),
                note("Staff memo", "Staff & trust.", NoteAbout::Code(1)),
                note(
                    "Set memo",
                    "Two codes, one idea.",
                    NoteAbout::Set("Relationships".into())
                ),
            ]
        );
        assert_eq!(read.codes[1].id, "trust-in-staff");
        let skipped = read.skipped.join("\n");
        for expected in [
            "`Leadership.qde` line 5: a note reference in code `Trust` refers to note `ab000000-0000-4000-8000-000000000099`, which the project does not hold; skipped",
            "`Leadership.qde` line 20: note `Lost memo`: its text `internal://missing.txt` is not in the archive; skipped",
        ] {
            assert!(skipped.contains(expected), "{expected}\n in\n{skipped}");
        }
        assert_eq!(read.skipped.len(), 2, "{skipped}");
        assert!(
            read.warnings
                .iter()
                .any(|w| w.starts_with("`Leadership.qde` line 18: note `Staff memo`: on 2 things")),
            "a note on a code and a source is the code's, with a warning: {:?}",
            read.warnings
        );
        assert_eq!(read.sources.len(), 1, "the rest of the project is read");
        assert_eq!(read.sets, 1);
    }

    fn selection(start: usize, end: usize, code: u8) -> String {
        format!(
            r#"<PlainTextSelection guid="{{F0000000-0000-4000-8000-0000000000{start:02}}}" startPosition="{start}" endPosition="{end}" creatingUser="{{AAAAAAAA-0000-4000-8000-000000000001}}"><Coding guid="{{F1000000-0000-4000-8000-0000000000{start:02}}}" creatingUser="{{AAAAAAAA-0000-4000-8000-000000000001}}"><CodeRef targetGUID="{{CCCCCCCC-0000-4000-8000-00000000000{code}}}"/></Coding></PlainTextSelection>"#
        )
    }

    #[test]
    fn other_tools_spellings_are_read_and_crlf_counted_as_written() {
        // With a byte-order mark and `\r\n`, positions count the `\r`s (the standard's way).
        let text = "Interviewer: Do you trust them?\r\nP07: I trust my staff, yes.\r\nInterviewer: Always?\r\nP07: Mostly.\r\n";
        let written: Vec<char> = text.chars().collect();
        let find = |word: &str| {
            let at = text.find(word).unwrap();
            let start = text[..at].chars().count();
            (start, start + word.chars().count())
        };
        let (a, b) = find("trust my staff");
        let (c, d) = find("Mostly");
        assert_eq!(written[c..d].iter().collect::<String>(), "Mostly");
        let sources = format!(
            r#"<TextSource guid="{{BBBBBBBB-0000-4000-8000-000000000001}}" name="Interview 7" plainTextPath="internal://{{BBBBBBBB-0000-4000-8000-000000000001}}.txt">{}{}</TextSource>"#,
            selection(a, b, 2),
            selection(c, d, 1)
        );
        let file = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        let read = read_qdpx(&other_tools_project(
            &sources,
            &[("Sources/{BBBBBBBB-0000-4000-8000-000000000001}.txt", &file)],
        ))
        .unwrap();
        assert!(read.skipped.is_empty(), "{:?}", read.skipped);
        assert_eq!(
            read.warnings,
            ["1 PDFSource element(s) not imported: thematic analyses text sources"]
        );
        assert_eq!(
            read.notes,
            [ImportedNote {
                name: "Memo".into(),
                text: "A memo, not a source.".into(),
                about: NoteAbout::Study,
                file: None,
            }],
            "a note nothing refers to is on the study"
        );
        assert_eq!(read.sources[0].text, text.replace("\r\n", "\n"));
        assert_eq!(excerpt(&read, 0, 0), "trust my staff");
        assert_eq!(excerpt(&read, 0, 1), "Mostly");
        assert_eq!(read.coders, ["Coder A"]);
        assert_eq!(
            read.codes
                .iter()
                .map(|c| (c.id.as_str(), c.parent.as_deref()))
                .collect::<Vec<_>>(),
            [("trust", None), ("trust-in-staff", Some("trust"))]
        );
        assert_eq!(read.variables, ["Tier"]);
        assert_eq!(
            read.cases[0].values,
            [("Tier".to_string(), "middle & senior".to_string())]
        );
        assert_eq!(read.cases[0].sources, [0]);
    }

    #[test]
    fn inclusive_ends_and_line_ends_counted_once_are_detected_and_reported() {
        let text = "P07: I trust my staff.\r\nP07: Trust is earned, by staff and by me.\r\n";
        let read_text = text.replace("\r\n", "\n");
        let find = |word: &str| {
            let at = read_text.find(word).unwrap();
            let start = read_text[..at].chars().count();
            (start, start + word.chars().count() - 1)
        };
        // Counted in the text as read (`\r\n` one character), the end the last character coded.
        let spans = [
            find("trust my staff"),
            find("Trust is earned"),
            find("by staff"),
            find("by me"),
        ];
        let sources = format!(
            r#"<TextSource guid="{{BBBBBBBB-0000-4000-8000-000000000001}}" name="Interview 7" plainTextPath="internal://x.txt">{}</TextSource>"#,
            spans.iter().map(|&(s, e)| selection(s, e, 1)).collect::<String>()
        );
        let read = read_qdpx(&other_tools_project(&sources, &[("sources/x.txt", text.as_bytes())])).unwrap();
        assert!(
            read.warnings.iter().any(|w| w.contains("end positions inclusive")
                && w.contains("`\\r\\n` counted as one character")
                && w.contains("line 14: source `Interview 7`")),
            "{:?}",
            read.warnings
        );
        let excerpts: Vec<String> = (0..4).map(|i| excerpt(&read, 0, i)).collect();
        assert_eq!(excerpts, ["trust my staff", "Trust is earned", "by staff", "by me"]);
    }

    #[test]
    fn unreadable_parts_are_skipped_and_named() {
        let sources = format!(
            r#"<TextSource guid="{{BBBBBBBB-0000-4000-8000-000000000001}}" name="Interview 7"><PlainTextContent>P07: Trust &amp; more.</PlainTextContent>{}{}
<PlainTextSelection guid="{{F0000000-0000-4000-8000-000000000099}}" startPosition="five" endPosition="9"/>{}</TextSource>
<TextSource guid="{{BBBBBBBB-0000-4000-8000-000000000002}}" name="Interview 8" plainTextPath="internal://missing.txt"/>"#,
            selection(5, 10, 1),
            selection(5, 10, 9),
            selection(5, 500, 1)
        );
        let read = read_qdpx(&other_tools_project(&sources, &[])).unwrap();
        assert_eq!(read.sources.len(), 1);
        assert_eq!(read.sources[0].text, "P07: Trust & more.");
        assert_eq!(excerpt(&read, 0, 0), "Trust");
        let skipped = read.skipped.join("\n");
        for expected in [
            "line 14: a selection in `Interview 7`: a coding refers to code `cccccccc-0000-4000-8000-000000000009`",
            "line 15: a selection in `Interview 7`: startPosition `five` is not a whole number",
            "positions 5–500 do not lie within the source's 18 characters",
            "line 16: source `Interview 8`: its text `internal://missing.txt` is not in the archive",
        ] {
            assert!(skipped.contains(expected), "{expected}\n in\n{skipped}");
        }
        assert!(read_qdpx(b"not a zip").unwrap_err().contains("not a zip archive"));
        assert!(read_qdpx(&zip_of(&[("sources/a.txt", b"x")]))
            .unwrap_err()
            .contains("no `.qde`"));
        let broken = read_qdpx(&zip_of(&[("project.qde", b"<Project>\n<Sources>\n</Project>")])).unwrap_err();
        assert!(
            broken.contains("`project.qde`: not well-formed XML at line 3"),
            "{broken}"
        );
    }

    #[test]
    fn crafted_and_odd_projects_are_read_without_a_hang_or_a_panic() {
        // A description never closed: the file ends, the reading ends.
        let open = zip_of(&[(
            "project.qde",
            b"<Project><CodeBook><Codes><Code name=\"a\"><Description>x".as_slice(),
        )]);
        assert!(read_qdpx(&open).is_ok());
        // A user the project does not name, whose id is not ASCII.
        let sources = r#"<TextSource guid="s1" name="One"><PlainTextContent>P1: trust me</PlainTextContent><PlainTextSelection startPosition="4" endPosition="9"><Coding creatingUser="用户用户用户"><CodeRef targetGUID="{CCCCCCCC-0000-4000-8000-000000000001}"/></Coding></PlainTextSelection></TextSource>"#;
        let read = read_qdpx(&other_tools_project(sources, &[])).unwrap();
        assert_eq!(read.coders, ["user 用户用户用户"]);
        // Two sources naming one entry: the second is refused (a small archive cannot grow by repetition).
        let sources = r#"<TextSource guid="s1" name="One" plainTextPath="internal://a.txt"/><TextSource guid="s2" name="Two" plainTextPath="internal://a.txt"/>"#;
        let read = read_qdpx(&other_tools_project(sources, &[("sources/a.txt", b"P1: text")])).unwrap();
        assert_eq!(read.sources.len(), 1);
        assert!(
            read.skipped[0].contains("source `Two`: its text `internal://a.txt` is another source's or note's too"),
            "{:?}",
            read.skipped
        );
        // A case of a source the project lacks is named; one of a PDF is not.
        let cases = zip_of(&[(
            "project.qde",
            br#"<Project><Cases><Case name="P9"><SourceRef targetGUID="{99}"/><SourceRef targetGUID="{98}"/></Case></Cases><Sources><PDFSource guid="{98}" name="Consent"/></Sources></Project>"#.as_slice(),
        )]);
        let read = read_qdpx(&cases).unwrap();
        assert_eq!(read.skipped.len(), 1, "{:?}", read.skipped);
        assert!(read.skipped[0].contains("case `P9` refers to source `99`, which the project does not hold"));
        // One selection past the end does not turn a file's reading: counting the
        // mark would take it in and shift every other one.
        let text = "P1: trust me, trust them, trust us all";
        let mut spans: Vec<(usize, usize)> = ["trust me", "trust them", "trust us"]
            .iter()
            .map(|w| (text.find(w).unwrap(), text.find(w).unwrap() + w.len()))
            .collect();
        spans.push((text.find("all").unwrap(), text.len() + 1));
        let sources = format!(
            r#"<TextSource guid="s1" name="One" plainTextPath="internal://a.txt">{}</TextSource>"#,
            spans.iter().map(|&(s, e)| selection(s, e, 1)).collect::<String>()
        );
        let file = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        let read = read_qdpx(&other_tools_project(&sources, &[("sources/a.txt", &file)])).unwrap();
        assert!(
            !read.warnings.iter().any(|w| w.contains("positions read with")),
            "{:?}",
            read.warnings
        );
        assert_eq!(excerpt(&read, 0, 0), "trust me");
        assert!(
            read.skipped[0].contains("do not lie within the source's"),
            "{:?}",
            read.skipped
        );
        // A reversed selection is named as such.
        let sources = r#"<TextSource guid="s1" name="One"><PlainTextContent>P1: trust me</PlainTextContent><PlainTextSelection startPosition="9" endPosition="4"><Coding><CodeRef targetGUID="{CCCCCCCC-0000-4000-8000-000000000001}"/></Coding></PlainTextSelection></TextSource>"#;
        let read = read_qdpx(&other_tools_project(sources, &[])).unwrap();
        assert!(
            read.skipped[0].contains("positions 9–4 make no stretch of text"),
            "{:?}",
            read.skipped
        );
    }

    #[test]
    fn inline_text_keeps_its_line_ends_and_utf16_positions_are_detected() {
        // Inside the project, `\r\n` counts as written (an XML parser would make it `\n`).
        let text = "P1: one\r\nP1: trust me\r\n";
        let at = text.find("trust").unwrap();
        let sources = format!(
            r#"<TextSource guid="s1" name="One"><PlainTextContent>{text}</PlainTextContent>{}</TextSource>"#,
            selection(at, at + 5, 1)
        );
        let read = read_qdpx(&other_tools_project(&sources, &[])).unwrap();
        assert!(read.warnings.len() == 1, "only the PDF source: {:?}", read.warnings);
        assert_eq!(excerpt(&read, 0, 0), "trust");

        // A tool counting UTF-16 units: every emoji before a selection shifts it by one.
        let text = "P1: 👍 trust 👍👍 me, 👍 and staff 👍 alike 👍 and more 👍.";
        let units = |word: &str| {
            let at = text.find(word).unwrap();
            let start = text[..at].encode_utf16().count();
            (start, start + word.encode_utf16().count())
        };
        let spans = ["trust", "me", "and staff", "alike", "and more"].map(units);
        let sources = format!(
            r#"<TextSource guid="s1" name="One" plainTextPath="internal://a.txt">{}</TextSource>"#,
            spans.iter().map(|&(s, e)| selection(s, e, 1)).collect::<String>()
        );
        let read = read_qdpx(&other_tools_project(&sources, &[("sources/a.txt", text.as_bytes())])).unwrap();
        assert!(
            read.warnings.iter().any(|w| w.contains("UTF-16 code units")),
            "{:?}",
            read.warnings
        );
        let excerpts: Vec<String> = (0..5).map(|i| excerpt(&read, 0, i)).collect();
        assert_eq!(excerpts, ["trust", "me", "and staff", "alike", "and more"]);
    }
}
